/*
 * DeformConv (opsets 19 and 22): convolution whose kernel taps are moved
 * by learned per-position offsets (and optionally scaled by a mask), for
 * any number of spatial axes, with groups and offset groups.  Each tap
 * reads the input by N-linear interpolation, zero outside the input.  The
 * work is lowered like Conv: a "deformable im2col" gathers, for a slice
 * of output positions, the interpolated and masked input values of every
 * (channel, tap) row, and the blocked GEMM kernel multiplies each group's
 * weights with its rows.  The computation is float32; float16, bfloat16
 * and float64 tensors are converted on the way in and out.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "f32-gemm/f32-gemm.h"
#include "ops/f32cvt.h"
#include "ops/op.h"
#include "ops/window.h"

static const int32_t dc_types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                   EMBER_BFLOAT16, 0};

/* Up to this many floats of gathered columns per GEMM call. */
#define DC_COL_BUDGET ((size_t)1 << 20)

typedef struct dc_state {
  emb_window w;
  int64_t group, offset_group;
} dc_state;

static ember_status dc_init(emb_init_ctx *c) {
  const emb_node *n = c->node;
  dc_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st;
  if ((st = emb_window_parse(n, false, false, &s->w, c->diag)) ||
      (st = emb_attr_int(n, "group", 1, &s->group, c->diag)) ||
      (st = emb_attr_int(n, "offset_group", 1, &s->offset_group, c->diag)))
    return st;
  if (s->w.autopad != EMB_AUTOPAD_NOTSET)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "DeformConv has no auto_pad; use pads");
  if (s->group < 1 || s->offset_group < 1)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "group (%lld) and offset_group (%lld) must be at "
                       "least 1",
                       (long long)s->group, (long long)s->offset_group);
  c->node->state = s;
  return EMBER_OK;
}

/* Everything about one DeformConv once the shapes are known. */
typedef struct dc_geom {
  int nsp;
  int64_t n, c, oc, k[EMB_MAX_RANK], kprod;
  emb_window_axis ax[EMB_MAX_RANK];
  int64_t out_size;
} dc_geom;

/* Shapes as known (dims -1 when unknown, at load only). */
static ember_status dc_geometry(const emb_node *n, emb_diag *d,
                                const dc_state *s, const emb_type *x,
                                const emb_type *w, dc_geom *g) {
  memset(g, 0, sizeof *g);
  int rank = x->rank;
  ember_status st = emb_window_axes(n, &s->w, rank, d);
  if (st) return st;
  if (w->rank >= 0 && w->rank != rank)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "W has rank %d but X has rank %d", w->rank, rank);
  g->nsp = rank - 2;
  g->n = x->dims[0].v;
  g->c = x->dims[1].v;
  g->oc = w->rank >= 0 ? w->dims[0].v : -1;
  int64_t cg = w->rank >= 0 ? w->dims[1].v : -1;
  if (g->c >= 0 && cg >= 0 && g->c != cg * s->group)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "X has %lld channels but W expects %lld x group %lld",
                       (long long)g->c, (long long)cg, (long long)s->group);
  if (g->c >= 0 && g->c % s->offset_group)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "X has %lld channels, not a multiple of offset_group "
                       "%lld",
                       (long long)g->c, (long long)s->offset_group);
  if (g->oc >= 0 && g->oc % s->group)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "W has %lld output channels, not a multiple of group "
                       "%lld",
                       (long long)g->oc, (long long)s->group);
  g->kprod = 1;
  g->out_size = 1;
  for (int i = 0; i < g->nsp; i++) {
    int64_t k = s->w.has_kernel ? s->w.kernel[i]
                : w->rank >= 0  ? w->dims[2 + i].v
                                : -1;
    if (s->w.has_kernel && w->rank >= 0 && w->dims[2 + i].v >= 0 &&
        w->dims[2 + i].v != k)
      return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                         "kernel_shape says %lld but W has %lld on spatial "
                         "axis %d",
                         (long long)k, (long long)w->dims[2 + i].v, i);
    g->k[i] = k;
    g->kprod = (k < 0 || g->kprod < 0) ? -1 : g->kprod * k;
    int64_t in = x->dims[2 + i].v;
    if (in < 0 || k < 0) {
      g->ax[i].out = -1;
      g->out_size = -1;
      continue;
    }
    if ((st = emb_window_resolve(n, &s->w, i, g->nsp, in, k, &g->ax[i], d)))
      return st;
    if (g->out_size >= 0) g->out_size *= g->ax[i].out;
  }
  return EMBER_OK;
}

/* An optional per-position input (offset, mask) must be (N, ch, out...). */
static ember_status dc_check_aux(const emb_node *n, emb_diag *d,
                                 const dc_geom *g, const emb_type *t,
                                 int64_t ch, const char *what) {
  if (!t || !t->kind || t->rank < 0) return EMBER_OK;
  if (t->rank != g->nsp + 2)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "%s must have rank %d, not %d", what, g->nsp + 2,
                       t->rank);
  int64_t want[EMB_MAX_RANK];
  want[0] = g->n;
  want[1] = ch;
  for (int i = 0; i < g->nsp; i++) want[2 + i] = g->ax[i].out;
  for (int k = 0; k < t->rank; k++)
    if (want[k] >= 0 && t->dims[k].v >= 0 && want[k] != t->dims[k].v)
      return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                         "%s has %lld on axis %d; expected %lld", what,
                         (long long)t->dims[k].v, k, (long long)want[k]);
  return EMBER_OK;
}

static ember_status dc_infer(emb_infer_ctx *c) {
  const dc_state *s = c->node->state;
  const emb_type *x = c->in[0], *w = c->in[1];
  ember_status st = emb_infer_check_dtype(c, 0, dc_types);
  if (!st) st = emb_infer_same_dtype(c, 0, c->n_in - 1);
  if (st) return st;
  emb_type *o = &c->out[0];
  emb_type_unknown(o);
  o->kind = EMBER_KIND_TENSOR;
  o->dtype = x && x->kind ? x->dtype : 0;
  if (!x || !x->kind || x->rank < 0) return EMBER_OK;
  emb_type wt;
  if (w && w->kind)
    wt = *w;
  else
    emb_type_unknown(&wt);
  dc_geom g;
  if ((st = dc_geometry(c->node, c->diag, s, x, &wt, &g))) return st;
  int64_t kp = g.kprod;
  if ((st = dc_check_aux(c->node, c->diag, &g, c->in[2],
                         kp < 0 ? -1 : s->offset_group * kp * g.nsp,
                         "offset")))
    return st;
  if (c->n_in > 4 &&
      (st = dc_check_aux(c->node, c->diag, &g, c->in[4],
                         kp < 0 ? -1 : s->offset_group * kp, "mask")))
    return st;
  if (c->n_in > 3 && c->in[3] && c->in[3]->kind && c->in[3]->rank >= 0 &&
      (c->in[3]->rank != 1 ||
       (g.oc >= 0 && c->in[3]->dims[0].v >= 0 &&
        c->in[3]->dims[0].v != g.oc)))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "B must be 1-D with one value per output channel");
  emb_type_tensor(o, o->dtype, x->rank, NULL);
  o->dims[0] = x->dims[0];
  o->dims[1] = (w && w->kind && w->rank >= 1) ? w->dims[0]
                                              : (emb_dim){-1, 0};
  for (int i = 0; i < g.nsp; i++) o->dims[2 + i] = (emb_dim){g.ax[i].out, 0};
  return EMBER_OK;
}

/* Sample plane xp (dims in[], row-major) at fractional position p by
 * N-linear interpolation, reading zero outside. */
static float dc_sample(int nsp, const int64_t *in, const float *xp,
                       const double *p) {
  int64_t lo[EMB_MAX_RANK];
  double fr[EMB_MAX_RANK];
  for (int d = 0; d < nsp; d++) {
    if (!(p[d] > -1 && p[d] < (double)in[d])) return 0; /* NaN too */
    double f = floor(p[d]);
    lo[d] = (int64_t)f;
    fr[d] = p[d] - f;
  }
  double acc = 0;
  for (unsigned m = 0; m < (1u << nsp); m++) {
    double wt = 1;
    size_t off = 0;
    bool ok = true;
    for (int d = 0; d < nsp; d++) {
      int64_t i = lo[d] + ((m >> (nsp - 1 - d)) & 1);
      if (i < 0 || i >= in[d]) {
        ok = false;
        break;
      }
      wt *= (m >> (nsp - 1 - d)) & 1 ? fr[d] : 1 - fr[d];
      off = off * (size_t)in[d] + (size_t)i;
    }
    if (ok && wt != 0) acc += wt * (double)xp[off];
  }
  return (float)acc;
}

/* Copy a tensor's values into float32 (any float type). */
static void dc_to_f32(const emb_tensor *t, float *dst) {
  size_t n = emb_tensor_numel(t);
  if (t->dtype == EMBER_DOUBLE) {
    const double *p = t->data;
    for (size_t i = 0; i < n; i++) dst[i] = (float)p[i];
  } else if (emb_is_half(t->dtype) || t->dtype == EMBER_FLOAT) {
    emb_cvt_to_f32(t->dtype, t->data, n, dst);
  }
}

static ember_status dc_run(emb_run_ctx *c) {
  const dc_state *s = c->node->state;
  const emb_tensor *xt = emb_in_t(c, 0), *wt = emb_in_t(c, 1),
                   *ot = emb_in_t(c, 2), *bt = emb_in_t(c, 3),
                   *mt = emb_in_t(c, 4);
  emb_tensor *yt = emb_out_t(c, 0);
  emb_type tx, tw;
  emb_type_tensor(&tx, xt->dtype, xt->rank, xt->dims);
  emb_type_tensor(&tw, wt->dtype, wt->rank, wt->dims);
  dc_geom g;
  ember_status st = dc_geometry(c->node, c->diag, s, &tx, &tw, &g);
  if (st) return st;
  int nsp = g.nsp;
  size_t N = (size_t)g.n, C = (size_t)g.c, OC = (size_t)g.oc;
  size_t K = (size_t)g.kprod, P = (size_t)g.out_size;
  size_t G = (size_t)s->group, OG = (size_t)s->offset_group;
  size_t cg = C / G, ocg = OC / G, cog = C / OG;
  size_t plane = 1;
  int64_t in[EMB_MAX_RANK];
  for (int d = 0; d < nsp; d++) {
    in[d] = xt->dims[2 + d];
    plane *= (size_t)in[d];
  }
  size_t yn = emb_tensor_numel(yt);
  if (!yn) return EMBER_OK;
  if (emb_tensor_numel(ot) != N * OG * K * (size_t)nsp * P ||
      (mt && emb_tensor_numel(mt) != N * OG * K * P) ||
      (bt && emb_tensor_numel(bt) != OC))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "offset, mask or B do not match the convolution");
  /* Columns per slice so that C*K rows stay within the budget. */
  size_t rows = C * K, chunk = rows ? DC_COL_BUDGET / rows : P;
  if (chunk < 1) chunk = 1;
  if (chunk > P) chunk = P;
  size_t gemm_w = ember_f32_gemm_work_floats(ocg, chunk, cg * K);
  bool conv = xt->dtype != EMBER_FLOAT;
  size_t xn = emb_tensor_numel(xt), wn = emb_tensor_numel(wt),
         on = emb_tensor_numel(ot), mn = mt ? emb_tensor_numel(mt) : 0;
  size_t bytes = emb_align64(rows * chunk * 4) + emb_align64(gemm_w * 4) +
                 emb_align64(ocg * chunk * 4);
  if (conv)
    bytes += emb_align64(xn * 4) + emb_align64(wn * 4) + emb_align64(on * 4) +
             emb_align64(mn * 4) + emb_align64(OC * 4) + emb_align64(yn * 4);
  char *mem = emb_scratch(c, bytes);
  if (!mem) return c->diag->status ? c->diag->status : EMBER_ERR_OUT_OF_MEMORY;
  float *col = (float *)mem;
  mem += emb_align64(rows * chunk * 4);
  float *work = (float *)mem;
  mem += emb_align64(gemm_w * 4);
  float *tmp = (float *)mem;
  mem += emb_align64(ocg * chunk * 4);
  const float *x = xt->data, *w = wt->data, *off = ot->data;
  const float *mask = mt ? mt->data : NULL, *bias = bt ? bt->data : NULL;
  float *y = yt->data;
  if (conv) {
    float *p = (float *)mem;
    dc_to_f32(xt, p);
    x = p;
    p += emb_align64(xn * 4) / 4;
    dc_to_f32(wt, p);
    w = p;
    p += emb_align64(wn * 4) / 4;
    dc_to_f32(ot, p);
    off = p;
    p += emb_align64(on * 4) / 4;
    if (mt) {
      dc_to_f32(mt, p);
      mask = p;
    }
    p += emb_align64(mn * 4) / 4;
    if (bt) {
      dc_to_f32(bt, p);
      bias = p;
    }
    p += emb_align64(OC * 4) / 4;
    y = p;
  }
  for (size_t b = 0; b < N; b++) {
    const float *xb = x + b * C * plane;
    const float *ob = off + b * OG * K * (size_t)nsp * P;
    const float *mb = mask ? mask + b * OG * K * P : NULL;
    float *yb = y + b * OC * P;
    for (size_t p0 = 0; p0 < P; p0 += chunk) {
      size_t cnt = P - p0 < chunk ? P - p0 : chunk;
      /* Gather: col[(ch*K + k)][j] for output position p0 + j. */
      for (size_t j = 0; j < cnt; j++) {
        size_t pidx = p0 + j, q = pidx;
        int64_t o[EMB_MAX_RANK];
        for (int d = nsp - 1; d >= 0; d--) {
          o[d] = (int64_t)(q % (size_t)g.ax[d].out);
          q /= (size_t)g.ax[d].out;
        }
        for (size_t k = 0; k < K; k++) {
          int64_t kk[EMB_MAX_RANK];
          size_t r = k;
          for (int d = nsp - 1; d >= 0; d--) {
            kk[d] = (int64_t)(r % (size_t)g.k[d]);
            r /= (size_t)g.k[d];
          }
          for (size_t og = 0; og < OG; og++) {
            double pos[EMB_MAX_RANK];
            for (int d = 0; d < nsp; d++) {
              size_t oc = ((og * K + k) * (size_t)nsp + (size_t)d) * P + pidx;
              pos[d] = (double)(o[d] * g.ax[d].s - g.ax[d].pad_b +
                                kk[d] * g.ax[d].d) +
                       (double)ob[oc];
            }
            float mv = mb ? mb[(og * K + k) * P + pidx] : 1.0f;
            for (size_t ch = og * cog; ch < (og + 1) * cog; ch++) {
              float v = dc_sample(nsp, in, xb + ch * plane, pos);
              col[(ch * K + k) * cnt + j] = v * mv;
            }
          }
        }
      }
      for (size_t gi = 0; gi < G; gi++) {
        const float *wg = w + gi * ocg * cg * K;
        const float *cgp = col + gi * cg * K * cnt;
        ember_f32_gemm(ocg, cnt, cg * K, 1.0f, wg, cg * K, 1, cgp,
                               cnt, 1, 0.0f, tmp, cnt, work);
        for (size_t m = 0; m < ocg; m++) {
          float bv = bias ? bias[gi * ocg + m] : 0.0f;
          float *dst = yb + (gi * ocg + m) * P + p0;
          for (size_t j = 0; j < cnt; j++) dst[j] = tmp[m * cnt + j] + bv;
        }
      }
    }
  }
  if (conv) {
    if (yt->dtype == EMBER_DOUBLE) {
      double *d = yt->data;
      for (size_t i = 0; i < yn; i++) d[i] = y[i];
    } else {
      emb_cvt_from_f32(yt->dtype, y, yn, yt->data);
    }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_deformconv = {3, 5, 1, 1, 0, dc_init, dc_infer,
                                     dc_run};
