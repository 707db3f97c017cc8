/*
 * Detection operators: RoiAlign (opsets 10, 16 and 22) and
 * NonMaxSuppression (10 and 11).  RoiAlign pools each region of interest
 * into a fixed (output_height, output_width) grid, every bin averaging
 * (or taking the maximum of) bilinearly interpolated sample points, as
 * in Mask R-CNN: the sample weights and positions depend only on the
 * region, so they are tabulated once per region and reused for every
 * channel.  The max mode keeps, per sample, the largest of the four
 * weighted corner values, the convention of the ONNX reference and
 * ONNX Runtime.  NonMaxSuppression greedily keeps the highest-scoring
 * boxes of each batch and class whose IoU with every box kept before is
 * at most iou_threshold; its output length depends on the data, so it
 * allocates its own output.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h> /* qsort */
#include <string.h>

#include "ops/f32cvt.h"
#include "ops/op.h"

static const int32_t float_types[] = {EMBER_FLOAT, EMBER_DOUBLE,
                                      EMBER_FLOAT16, EMBER_BFLOAT16, 0};
static const int32_t i64_types[] = {EMBER_INT64, 0};

static double get_f64(const emb_tensor *t, size_t i) {
  switch (t->dtype) {
    case EMBER_FLOAT: return ((const float *)t->data)[i];
    case EMBER_DOUBLE: return ((const double *)t->data)[i];
    default: return emb_tensor_get_f64(t, i);
  }
}

/* ============================================================ RoiAlign */

typedef struct roi_state {
  bool is_max, half_pixel;
  int64_t oh, ow, ratio;
  float scale;
} roi_state;

static ember_status roi_init(emb_init_ctx *c) {
  emb_node *n = c->node;
  roi_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const char *mode, *ctm;
  ember_status st;
  /* coordinate_transformation_mode arrived in opset 16 with half_pixel as
   * default; RoiAlign-10 behaves as output_half_pixel. */
  if ((st = emb_attr_string(n, "mode", "avg", &mode, c->diag)) ||
      (st = emb_attr_string(n, "coordinate_transformation_mode",
                            n->opset < 16 ? "output_half_pixel"
                                          : "half_pixel",
                            &ctm, c->diag)) ||
      (st = emb_attr_int(n, "output_height", 1, &s->oh, c->diag)) ||
      (st = emb_attr_int(n, "output_width", 1, &s->ow, c->diag)) ||
      (st = emb_attr_int(n, "sampling_ratio", 0, &s->ratio, c->diag)) ||
      (st = emb_attr_float(n, "spatial_scale", 1.0f, &s->scale, c->diag)))
    return st;
  if (strcmp(mode, "avg") && strcmp(mode, "max"))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "mode '%s' is not avg or max", mode);
  s->is_max = strcmp(mode, "max") == 0;
  if (strcmp(ctm, "half_pixel") && strcmp(ctm, "output_half_pixel"))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "coordinate_transformation_mode '%s' is not "
                       "half_pixel or output_half_pixel",
                       ctm);
  s->half_pixel = strcmp(ctm, "half_pixel") == 0;
  if (s->oh < 1 || s->ow < 1 || s->oh > (1 << 24) || s->ow > (1 << 24))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "output size %lld x %lld is invalid",
                       (long long)s->oh, (long long)s->ow);
  if (s->ratio < 0)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "sampling_ratio %lld is negative",
                       (long long)s->ratio);
  n->state = s;
  return EMBER_OK;
}

static ember_status roi_infer(emb_infer_ctx *c) {
  const roi_state *s = c->node->state;
  const emb_type *x = c->in[0], *r = c->in[1], *b = c->in[2];
  ember_status st = emb_infer_check_dtype(c, 0, float_types);
  if (!st) st = emb_infer_check_dtype(c, 1, float_types);
  if (!st) st = emb_infer_check_dtype(c, 2, i64_types);
  if (!st) st = emb_infer_same_dtype(c, 0, 1);
  if (st) return st;
  emb_type *o = &c->out[0];
  emb_type_unknown(o);
  o->kind = EMBER_KIND_TENSOR;
  o->dtype = x && x->kind ? x->dtype : 0;
  if (x && x->kind && x->rank >= 0 && x->rank != 4)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "X must have rank 4 (N, C, H, W), not %d", x->rank);
  if (r && r->kind && r->rank >= 0 &&
      (r->rank != 2 || (r->dims[1].v >= 0 && r->dims[1].v != 4)))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "rois must have shape (num_rois, 4)");
  if (b && b->kind && b->rank >= 0 && b->rank != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "batch_indices must be 1-D, not of rank %d", b->rank);
  emb_dim nr = {-1, 0};
  if (r && r->kind && r->rank == 2) nr = r->dims[0];
  if (b && b->kind && b->rank == 1) {
    emb_dim nb = b->dims[0];
    if (nr.v >= 0 && nb.v >= 0 && nr.v != nb.v)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "%lld rois but %lld batch indices", (long long)nr.v,
                         (long long)nb.v);
    if (nr.v < 0 && !nr.sym) nr = nb;
  }
  emb_type_tensor(o, o->dtype, 4, NULL);
  o->dims[0] = nr;
  o->dims[1] = (x && x->kind && x->rank == 4) ? x->dims[1]
                                             : (emb_dim){-1, 0};
  o->dims[2].v = s->oh;
  o->dims[3].v = s->ow;
  return EMBER_OK;
}

/* One bilinear sample: four input offsets and weights (all zero when the
 * point lies more than a pixel outside). */
typedef struct roi_tap {
  size_t pos[4];
  double w[4];
} roi_tap;

static void roi_tap_at(double y, double x, int64_t h, int64_t w,
                       roi_tap *t) {
  memset(t, 0, sizeof *t);
  if (y < -1.0 || y > (double)h || x < -1.0 || x > (double)w) return;
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
  if (yl >= h - 1) {
    yh = yl = h - 1;
    y = (double)yl;
  } else {
    yh = yl + 1;
  }
  if (xl >= w - 1) {
    xh = xl = w - 1;
    x = (double)xl;
  } else {
    xh = xl + 1;
  }
  double ly = y - (double)yl, lx = x - (double)xl, hy = 1 - ly, hx = 1 - lx;
  t->pos[0] = (size_t)(yl * w + xl);
  t->pos[1] = (size_t)(yl * w + xh);
  t->pos[2] = (size_t)(yh * w + xl);
  t->pos[3] = (size_t)(yh * w + xh);
  t->w[0] = hy * hx;
  t->w[1] = hy * lx;
  t->w[2] = ly * hx;
  t->w[3] = ly * lx;
}

#define ROI_POOL(NAME, T)                                                     \
  static void NAME(const roi_state *s, size_t ch, size_t plane,              \
                   const roi_tap *taps, const size_t *first,                 \
                   const size_t *count, const T *x, T *y) {                  \
    size_t bins = (size_t)(s->oh * s->ow);                                   \
    for (size_t c = 0; c < ch; c++) {                                        \
      const T *xp = x + c * plane;                                           \
      for (size_t b = 0; b < bins; b++) {                                    \
        const roi_tap *t = taps + first[b];                                  \
        size_t n = count[b];                                                 \
        double acc = 0;                                                      \
        for (size_t i = 0; i < n; i++) {                                     \
          const roi_tap *p = &t[i];                                          \
          if (s->is_max) {                                                   \
            double v = p->w[0] * (double)xp[p->pos[0]];                      \
            for (int k = 1; k < 4; k++) {                                    \
              double u = p->w[k] * (double)xp[p->pos[k]];                    \
              if (u > v) v = u;                                              \
            }                                                                \
            acc = i == 0 || v > acc ? v : acc;                               \
          } else {                                                           \
            for (int k = 0; k < 4; k++)                                      \
              acc += p->w[k] * (double)xp[p->pos[k]];                        \
          }                                                                  \
        }                                                                    \
        if (!s->is_max) acc /= (double)(n ? n : 1);                          \
        y[c * bins + b] = (T)acc;                                            \
      }                                                                      \
    }                                                                        \
  }
ROI_POOL(roi_pool_f32, float)
ROI_POOL(roi_pool_f64, double)

static ember_status roi_run(emb_run_ctx *c) {
  const roi_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *rois = emb_in_t(c, 1),
                   *bi = emb_in_t(c, 2);
  emb_tensor *y = emb_out_t(c, 0);
  int64_t nb = x->dims[0], h = x->dims[2], w = x->dims[3];
  size_t ch = (size_t)x->dims[1], plane = (size_t)(h * w);
  size_t nr = (size_t)rois->dims[0], bins = (size_t)(s->oh * s->ow);
  if (emb_tensor_numel(bi) != nr)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "%zu rois but %zu batch indices", nr,
                       emb_tensor_numel(bi));
  if (!emb_tensor_numel(y)) return EMBER_OK;
  const int64_t *bp = bi->data;
  double off = s->half_pixel ? 0.5 : 0.0;
  /* The most samples one bin can have, to size the tap table. */
  size_t max_taps = 0;
  for (size_t r = 0; r < nr; r++) {
    if (bp[r] < 0 || bp[r] >= nb)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "batch index %lld of roi %zu is outside [0, %lld)",
                         (long long)bp[r], r, (long long)nb);
    double rw = (get_f64(rois, r * 4 + 2) - get_f64(rois, r * 4)) * s->scale;
    double rh =
        (get_f64(rois, r * 4 + 3) - get_f64(rois, r * 4 + 1)) * s->scale;
    if (!s->half_pixel) {
      rw = fmax(rw, 1.0);
      rh = fmax(rh, 1.0);
    }
    double gh = s->ratio > 0 ? (double)s->ratio : ceil(rh / (double)s->oh);
    double gw = s->ratio > 0 ? (double)s->ratio : ceil(rw / (double)s->ow);
    if (!(gh >= 0)) gh = 0; /* negative extents (half_pixel) or NaN */
    if (!(gw >= 0)) gw = 0;
    if (gh * gw > 1e8)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                         "roi %zu needs %g samples per bin", r, gh * gw);
    if ((size_t)(gh * gw) > max_taps) max_taps = (size_t)(gh * gw);
  }
  bool half = emb_is_half(x->dtype);
  size_t xn = emb_tensor_numel(x), yn = emb_tensor_numel(y);
  size_t tb = emb_align64(bins * max_taps * sizeof(roi_tap));
  size_t ib = emb_align64(2 * bins * sizeof(size_t));
  size_t hb = half ? emb_align64(xn * 4) + emb_align64(yn * 4) : 0;
  char *mem = emb_scratch(c, tb + ib + hb);
  if (!mem) return c->diag->status ? c->diag->status : EMBER_ERR_OUT_OF_MEMORY;
  roi_tap *taps = (roi_tap *)mem;
  size_t *first = (size_t *)(mem + tb), *count = first + bins;
  const void *xd = x->data;
  void *yd = y->data;
  if (half) {
    float *xf = (float *)(mem + tb + ib);
    emb_cvt_to_f32(x->dtype, x->data, xn, xf);
    xd = xf;
    yd = (char *)xf + emb_align64(xn * 4);
  }
  for (size_t r = 0; r < nr; r++) {
    double x1 = get_f64(rois, r * 4) * s->scale - off;
    double y1 = get_f64(rois, r * 4 + 1) * s->scale - off;
    double x2 = get_f64(rois, r * 4 + 2) * s->scale - off;
    double y2 = get_f64(rois, r * 4 + 3) * s->scale - off;
    double rw = x2 - x1, rh = y2 - y1;
    if (!s->half_pixel) {
      rw = fmax(rw, 1.0);
      rh = fmax(rh, 1.0);
    }
    double bh = rh / (double)s->oh, bw = rw / (double)s->ow;
    double gh = s->ratio > 0 ? (double)s->ratio : ceil(bh);
    double gw = s->ratio > 0 ? (double)s->ratio : ceil(bw);
    size_t ngh = gh > 0 ? (size_t)gh : 0, ngw = gw > 0 ? (size_t)gw : 0;
    size_t at = 0;
    for (int64_t ph = 0; ph < s->oh; ph++)
      for (int64_t pw = 0; pw < s->ow; pw++) {
        size_t b = (size_t)(ph * s->ow + pw);
        first[b] = at;
        for (size_t iy = 0; iy < ngh; iy++) {
          double yy = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / gh;
          for (size_t ix = 0; ix < ngw; ix++) {
            double xx = x1 + (double)pw * bw + ((double)ix + 0.5) * bw / gw;
            roi_tap_at(yy, xx, h, w, &taps[at++]);
          }
        }
        count[b] = at - first[b];
      }
    size_t xo = (size_t)bp[r] * ch * plane, yo = r * ch * bins;
    if (x->dtype == EMBER_DOUBLE)
      roi_pool_f64(s, ch, plane, taps, first, count,
                   (const double *)xd + xo, (double *)yd + yo);
    else
      roi_pool_f32(s, ch, plane, taps, first, count, (const float *)xd + xo,
                   (float *)yd + yo);
  }
  if (half) emb_cvt_from_f32(y->dtype, yd, yn, y->data);
  return EMBER_OK;
}

const emb_opdef emb_op_roialign = {3, 3, 1, 1, 0, roi_init, roi_infer,
                                   roi_run};

/* =================================================== NonMaxSuppression */

typedef struct nms_state {
  bool center;
} nms_state;

static ember_status nms_init(emb_init_ctx *c) {
  nms_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t v;
  ember_status st = emb_attr_int(c->node, "center_point_box", 0, &v, c->diag);
  if (st) return st;
  if (v != 0 && v != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "center_point_box must be 0 or 1, not %lld",
                       (long long)v);
  s->center = v == 1;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status nms_infer(emb_infer_ctx *c) {
  static const int32_t f32[] = {EMBER_FLOAT, EMBER_FLOAT16, EMBER_DOUBLE, 0};
  const emb_type *b = c->in[0], *sc = c->in[1];
  ember_status st = emb_infer_check_dtype(c, 0, f32);
  if (!st) st = emb_infer_check_dtype(c, 1, f32);
  if (!st) st = emb_infer_check_dtype(c, 2, i64_types);
  if (!st) st = emb_infer_check_dtype(c, 3, f32);
  if (!st) st = emb_infer_check_dtype(c, 4, f32);
  if (st) return st;
  if (b && b->kind && b->rank >= 0 &&
      (b->rank != 3 || (b->dims[2].v >= 0 && b->dims[2].v != 4)))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "boxes must have shape (batches, boxes, 4)");
  if (sc && sc->kind && sc->rank >= 0 && sc->rank != 3)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "scores must have shape (batches, classes, boxes)");
  if (b && b->kind && b->rank == 3 && sc && sc->kind && sc->rank == 3)
    for (int k = 0; k < 2; k++) {
      int64_t u = b->dims[k ? 1 : 0].v, v = sc->dims[k ? 2 : 0].v;
      if (u >= 0 && v >= 0 && u != v)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "boxes and scores disagree on the number of %s "
                           "(%lld and %lld)",
                           k ? "boxes" : "batches", (long long)u,
                           (long long)v);
    }
  int64_t dims[2] = {-1, 3};
  emb_type_tensor(&c->out[0], EMBER_INT64, 2, dims);
  return EMBER_OK;
}

typedef struct nms_cand {
  double score;
  int64_t index;
} nms_cand;

static int nms_cmp(const void *a, const void *b) {
  const nms_cand *p = a, *q = b;
  if (p->score != q->score) return p->score > q->score ? -1 : 1;
  return (p->index > q->index) - (p->index < q->index);
}

/* Corners (y1, x1, y2, x2) with y1 <= y2, x1 <= x2 of box i. */
static void nms_box(const emb_tensor *t, size_t i, bool center, double *b) {
  double v[4];
  for (int k = 0; k < 4; k++) v[k] = get_f64(t, i * 4 + (size_t)k);
  if (center) { /* x_center, y_center, width, height */
    b[0] = v[1] - v[3] / 2;
    b[2] = v[1] + v[3] / 2;
    b[1] = v[0] - v[2] / 2;
    b[3] = v[0] + v[2] / 2;
  } else {
    b[0] = fmin(v[0], v[2]);
    b[2] = fmax(v[0], v[2]);
    b[1] = fmin(v[1], v[3]);
    b[3] = fmax(v[1], v[3]);
  }
}

/* Whether b (already kept) suppresses a: IoU above the threshold. */
static bool nms_suppresses(const double *a, const double *b, double thr) {
  double aa = (a[2] - a[0]) * (a[3] - a[1]);
  double ab = (b[2] - b[0]) * (b[3] - b[1]);
  if (aa <= 0 || ab <= 0) return false;
  double ih = fmin(a[2], b[2]) - fmax(a[0], b[0]);
  double iw = fmin(a[3], b[3]) - fmax(a[1], b[1]);
  if (ih <= 0 || iw <= 0) return false;
  double inter = ih * iw;
  return inter / (aa + ab - inter) > thr;
}

static ember_status nms_run(emb_run_ctx *c) {
  const nms_state *s = c->node->state;
  const emb_tensor *boxes = emb_in_t(c, 0), *scores = emb_in_t(c, 1);
  const emb_tensor *tmax = emb_in_t(c, 2), *tiou = emb_in_t(c, 3),
                   *tsc = emb_in_t(c, 4);
  emb_value *out = c->out[0];
  int64_t max_out = 0;
  double iou = 0, sthr = 0;
  bool use_sthr = false;
  if (tmax && emb_tensor_numel(tmax)) max_out = emb_tensor_get_i64(tmax, 0);
  if (tiou && emb_tensor_numel(tiou)) iou = get_f64(tiou, 0);
  if (tsc && emb_tensor_numel(tsc)) {
    sthr = get_f64(tsc, 0);
    use_sthr = true;
  }
  if (boxes->rank != 3 || scores->rank != 3 || boxes->dims[2] != 4 ||
      boxes->dims[0] != scores->dims[0] || boxes->dims[1] != scores->dims[2])
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "boxes must be (batches, boxes, 4) and scores "
                       "(batches, classes, boxes)");
  if (!(iou >= 0 && iou <= 1))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "iou_threshold %g is outside [0, 1]", iou);
  size_t nb = (size_t)boxes->dims[0], nbox = (size_t)boxes->dims[1];
  size_t ncls = (size_t)scores->dims[1];
  if (max_out < 0) max_out = 0;
  size_t keep_max = (size_t)max_out < nbox ? (size_t)max_out : nbox;
  /* Scratch: candidates, corner boxes of one batch, kept indices and the
   * result rows (at most batches * classes * keep_max). */
  size_t cap = nb * ncls * keep_max, rows = 0;
  size_t cb = emb_align64(nbox * sizeof(nms_cand));
  size_t bb = emb_align64(nbox * 4 * sizeof(double));
  size_t kb = emb_align64(nbox * sizeof(int64_t));
  char *mem = emb_scratch(c, cb + bb + kb + cap * 3 * sizeof(int64_t) + 64);
  if (!mem) return c->diag->status ? c->diag->status : EMBER_ERR_OUT_OF_MEMORY;
  nms_cand *cand = (nms_cand *)mem;
  double *corner = (double *)(mem + cb);
  int64_t *kept = (int64_t *)(mem + cb + bb);
  int64_t *res = (int64_t *)(mem + cb + bb + kb);
  for (size_t b = 0; cap && b < nb; b++) {
    for (size_t i = 0; i < nbox; i++)
      nms_box(boxes, b * nbox + i, s->center, corner + 4 * i);
    for (size_t k = 0; k < ncls; k++) {
      size_t nc = 0;
      for (size_t i = 0; i < nbox; i++) {
        double v = get_f64(scores, (b * ncls + k) * nbox + i);
        if (use_sthr && !(v > sthr)) continue;
        cand[nc].score = v;
        cand[nc++].index = (int64_t)i;
      }
      qsort(cand, nc, sizeof *cand, nms_cmp);
      size_t nk = 0;
      for (size_t i = 0; i < nc && nk < keep_max; i++) {
        const double *a = corner + 4 * cand[i].index;
        bool ok = true;
        for (size_t j = 0; j < nk && ok; j++)
          if (nms_suppresses(a, corner + 4 * kept[j], iou)) ok = false;
        if (!ok) continue;
        kept[nk++] = cand[i].index;
        res[rows * 3] = (int64_t)b;
        res[rows * 3 + 1] = (int64_t)k;
        res[rows * 3 + 2] = cand[i].index;
        rows++;
      }
    }
  }
  int64_t dims[2] = {(int64_t)rows, 3};
  ember_status st = emb_tensor_alloc(&out->t, EMBER_INT64, 2, dims, c->diag);
  if (st) return st;
  if (rows) memcpy(out->t.data, res, rows * 3 * sizeof *res);
  out->kind = EMB_VK_TENSOR;
  return EMBER_OK;
}

const emb_opdef emb_op_nonmaxsuppression = {
    2, 5, 1, 1, EMB_OP_OWN_OUTPUTS, nms_init, nms_infer, nms_run};
