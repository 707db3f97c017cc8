/*
 * GridSample (opsets 16, 20 and 22) and AffineGrid (20): the sampler and
 * grid generator of spatial transformer networks.  AffineGrid maps the
 * regular grid of normalized output positions through a batch of affine
 * matrices; GridSample reads the input at such normalized positions, for
 * any number of spatial axes, with nearest (round half to even), N-linear
 * or N-cubic (a = -0.75) interpolation and zeros / border / reflection
 * padding, following PyTorch's grid_sample as the ONNX reference does: a
 * position beyond the border range is first clamped (border) or
 * reflected (reflection) into it, then every tap is padded again.
 * For each output position the taps of all axes are combined once into
 * (offset, weight) pairs, which every channel then reuses.  float32 and
 * float64 run directly, float16 / bfloat16 through float32; the grid may
 * have any float type.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/f32cvt.h"
#include "ops/op.h"

static const int32_t float_types[] = {EMBER_FLOAT, EMBER_DOUBLE,
                                      EMBER_FLOAT16, EMBER_BFLOAT16, 0};

/* Tap combinations per output position above this are refused (N-cubic
 * over many axes). */
#define GS_MAX_COMBOS 4096

enum { GS_LINEAR, GS_NEAREST, GS_CUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

typedef struct gs_state {
  int mode, pad;
  bool align;
} gs_state;

static ember_status gs_init(emb_init_ctx *c) {
  emb_node *n = c->node;
  gs_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const char *mode, *pad;
  int64_t ac;
  ember_status st;
  /* Opset 16 names the modes bilinear/bicubic, 20 on linear/cubic; both
   * spellings are accepted everywhere. */
  if ((st = emb_attr_string(n, "mode", n->opset < 20 ? "bilinear" : "linear",
                            &mode, c->diag)) ||
      (st = emb_attr_string(n, "padding_mode", "zeros", &pad, c->diag)) ||
      (st = emb_attr_int(n, "align_corners", 0, &ac, c->diag)))
    return st;
  if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear"))
    s->mode = GS_LINEAR;
  else if (!strcmp(mode, "nearest"))
    s->mode = GS_NEAREST;
  else if (!strcmp(mode, "cubic") || !strcmp(mode, "bicubic"))
    s->mode = GS_CUBIC;
  else
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "mode '%s' is not linear, nearest or cubic", mode);
  if (!strcmp(pad, "zeros"))
    s->pad = GS_ZEROS;
  else if (!strcmp(pad, "border"))
    s->pad = GS_BORDER;
  else if (!strcmp(pad, "reflection"))
    s->pad = GS_REFLECTION;
  else
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "padding_mode '%s' is not zeros, border or "
                       "reflection",
                       pad);
  if (ac != 0 && ac != 1)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "align_corners must be 0 or 1, not %lld",
                       (long long)ac);
  s->align = ac == 1;
  n->state = s;
  return EMBER_OK;
}

static ember_status gs_infer(emb_infer_ctx *c) {
  const emb_type *x = c->in[0], *g = c->in[1];
  ember_status st = emb_infer_check_dtype(c, 0, float_types);
  if (!st) st = emb_infer_check_dtype(c, 1, float_types);
  if (st) return st;
  emb_type *o = &c->out[0];
  emb_type_unknown(o);
  o->kind = EMBER_KIND_TENSOR;
  o->dtype = x && x->kind ? x->dtype : 0;
  int xr = x && x->kind ? x->rank : -1, gr = g && g->kind ? g->rank : -1;
  if (xr >= 0 && xr < 3)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "X must have rank 3 or more (N, C, spatial...), not "
                       "%d",
                       xr);
  if (gr >= 0 && gr < 3)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "grid must have rank 3 or more, not %d", gr);
  if (xr >= 0 && gr >= 0 && xr != gr)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "X has rank %d but grid has rank %d", xr, gr);
  int rank = xr >= 0 ? xr : gr;
  if (rank < 0) return EMBER_OK;
  int nsp = rank - 2;
  if (gr >= 0 && g->dims[gr - 1].v >= 0 && g->dims[gr - 1].v != nsp)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "the last grid dimension is %lld but there are %d "
                       "spatial axes",
                       (long long)g->dims[gr - 1].v, nsp);
  if (xr >= 0 && gr >= 0 && x->dims[0].v >= 0 && g->dims[0].v >= 0 &&
      x->dims[0].v != g->dims[0].v)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "X has batch %lld but grid has %lld",
                       (long long)x->dims[0].v, (long long)g->dims[0].v);
  emb_type_tensor(o, o->dtype, rank, NULL);
  for (int k = 0; k < rank; k++) o->dims[k] = (emb_dim){-1, 0};
  if (xr >= 0) {
    o->dims[0] = x->dims[0];
    o->dims[1] = x->dims[1];
  } else {
    o->dims[0] = g->dims[0];
  }
  if (gr >= 0)
    for (int k = 0; k < nsp; k++) o->dims[2 + k] = g->dims[1 + k];
  return EMBER_OK;
}

/* Reflect x at the borders of [lo, hi] until it falls inside. */
static double gs_reflect(double x, double lo, double hi) {
  double span = hi - lo;
  if (!(span > 0)) return lo;
  if (x >= lo && x <= hi) return x;
  double dx = x < lo ? lo - x : x - hi;
  double r = fmod(dx, span);
  bool even = fmod(floor(dx / span), 2) == 0;
  if (x < lo) return even ? lo + r : hi - r;
  return even ? hi - r : lo + r;
}

/* Input index read for integer tap i (-1: reads zero). */
static int64_t gs_tap(const gs_state *s, double i, int64_t size, double lo,
                      double hi) {
  if (s->pad == GS_REFLECTION) i = trunc(gs_reflect(i, lo, hi));
  double last = (double)(size - 1);
  if (s->pad != GS_ZEROS) i = i < 0 ? 0 : i > last ? last : i;
  return i >= 0 && i <= last ? (int64_t)i : -1;
}

static double gs_cubic1(double x, double a) { /* |x| <= 1 */
  return ((a + 2) * x - (a + 3)) * x * x + 1;
}
static double gs_cubic2(double x, double a) { /* 1 < |x| < 2 */
  return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

/* Taps of one axis for normalized coordinate g: input indices (-1 for a
 * tap reading zero) and weights; returns their number.  The position is
 * unnormalized (to float precision, as the ONNX reference keeps it),
 * rounded for nearest, and, when it lies beyond the border range (the
 * outer pixel edges, or centres with align_corners), clamped into the
 * image or reflected back into the range; then each tap is padded. */
static int gs_axis_taps(const gs_state *s, double g, int64_t size,
                        int64_t *idx, double *w) {
  double n = (double)size;
  double lo = s->align ? 0 : -0.5, hi = s->align ? n - 1 : n - 0.5;
  double x = (float)(s->align ? (g + 1) / 2 * (n - 1)
                              : ((g + 1) * n - 1) / 2);
  int per = s->mode == GS_CUBIC ? 4 : s->mode == GS_LINEAR ? 2 : 1;
  if (!isfinite(x)) {
    for (int k = 0; k < per; k++) {
      idx[k] = -1;
      w[k] = 0;
    }
    return per;
  }
  if (x > 4e15) x = 4e15; /* keep floor() and the taps exact */
  if (x < -4e15) x = -4e15;
  if (s->mode == GS_NEAREST) x = nearbyint(x);
  if (x < lo || x > hi) {
    if (s->pad == GS_BORDER)
      x = x < 0 ? 0 : x > n - 1 ? n - 1 : x;
    else if (s->pad == GS_REFLECTION)
      x = gs_reflect(x, lo, hi);
  }
  if (s->mode == GS_NEAREST) {
    idx[0] = gs_tap(s, trunc(x), size, lo, hi);
    w[0] = 1;
    return 1;
  }
  double f = floor(x), t = x - f;
  if (s->mode == GS_LINEAR) {
    idx[0] = gs_tap(s, f, size, lo, hi);
    idx[1] = gs_tap(s, f + 1, size, lo, hi);
    w[0] = 1 - t;
    w[1] = t;
    return 2;
  }
  const double a = -0.75;
  w[0] = gs_cubic2(t + 1, a);
  w[1] = gs_cubic1(t, a);
  w[2] = gs_cubic1(1 - t, a);
  w[3] = gs_cubic2(2 - t, a);
  for (int k = 0; k < 4; k++) idx[k] = gs_tap(s, f - 1 + k, size, lo, hi);
  return 4;
}

static double gs_get(const emb_tensor *t, size_t i) {
  switch (t->dtype) {
    case EMBER_FLOAT: return ((const float *)t->data)[i];
    case EMBER_DOUBLE: return ((const double *)t->data)[i];
    default: return emb_tensor_get_f64(t, i);
  }
}

#define GS_SAMPLE(NAME, T)                                                    \
  static void NAME(size_t ch, size_t plane, size_t ncomb,                    \
                   const size_t *off, const double *w, const T *x, T *y,     \
                   size_t ystride) {                                         \
    for (size_t c = 0; c < ch; c++) {                                        \
      const T *xp = x + c * plane;                                           \
      double acc = 0;                                                        \
      for (size_t k = 0; k < ncomb; k++) acc += w[k] * (double)xp[off[k]];   \
      y[c * ystride] = (T)acc;                                               \
    }                                                                        \
  }
GS_SAMPLE(gs_sample_f32, float)
GS_SAMPLE(gs_sample_f64, double)

static ember_status gs_run(emb_run_ctx *c) {
  const gs_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *g = emb_in_t(c, 1);
  emb_tensor *y = emb_out_t(c, 0);
  int nsp = x->rank - 2;
  size_t n = (size_t)x->dims[0], ch = (size_t)x->dims[1], plane = 1;
  size_t opos = 1;
  for (int d = 0; d < nsp; d++) {
    plane *= (size_t)x->dims[2 + d];
    opos *= (size_t)y->dims[2 + d];
  }
  size_t yn = emb_tensor_numel(y);
  if (!yn) return EMBER_OK;
  int per = s->mode == GS_CUBIC ? 4 : s->mode == GS_LINEAR ? 2 : 1;
  size_t combos = 1;
  for (int d = 0; d < nsp; d++) {
    combos *= (size_t)per;
    if (combos > GS_MAX_COMBOS)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                         "%d spatial axes need too many taps per sample",
                         nsp);
  }
  if (plane == 0) { /* nothing to read: every sample is padding */
    memset(y->data, 0, y->nbytes);
    return EMBER_OK;
  }
  bool half = emb_is_half(x->dtype);
  size_t xn = emb_tensor_numel(x);
  size_t tab = emb_align64(combos * sizeof(size_t)) +
               emb_align64(combos * sizeof(double));
  size_t hb = half ? emb_align64(xn * 4) + emb_align64(yn * 4) : 0;
  char *mem = emb_scratch(c, tab + hb);
  if (!mem) return c->diag->status ? c->diag->status : EMBER_ERR_OUT_OF_MEMORY;
  size_t *off = (size_t *)mem;
  double *w = (double *)(mem + emb_align64(combos * sizeof(size_t)));
  const void *xd = x->data;
  void *yd = y->data;
  if (half) {
    float *xf = (float *)(mem + tab);
    emb_cvt_to_f32(x->dtype, x->data, xn, xf);
    xd = xf;
    yd = (char *)xf + emb_align64(xn * 4);
  }
  bool dbl = x->dtype == EMBER_DOUBLE;
  size_t xstride[EMB_MAX_RANK];
  size_t acc = 1;
  for (int d = nsp - 1; d >= 0; d--) {
    xstride[d] = acc;
    acc *= (size_t)x->dims[2 + d];
  }
  for (size_t b = 0; b < n; b++) {
    for (size_t p = 0; p < opos; p++) {
      const size_t gbase = (b * opos + p) * (size_t)nsp;
      int64_t ti[EMB_MAX_RANK][4];
      double tw[EMB_MAX_RANK][4];
      for (int d = 0; d < nsp; d++) /* grid lists the innermost axis first */
        gs_axis_taps(s, gs_get(g, gbase + (size_t)(nsp - 1 - d)),
                     x->dims[2 + d], ti[d], tw[d]);
      /* Combine the axes' taps, dropping those that read zero. */
      size_t nc = 0;
      int k[EMB_MAX_RANK] = {0};
      for (;;) {
        double wt = 1;
        size_t o = 0;
        bool ok = true;
        for (int d = 0; d < nsp; d++) {
          int64_t i = ti[d][k[d]];
          if (i < 0) {
            ok = false;
            break;
          }
          wt *= tw[d][k[d]];
          o += (size_t)i * xstride[d];
        }
        if (ok) {
          off[nc] = o;
          w[nc++] = wt;
        }
        int d = nsp - 1;
        for (; d >= 0; d--) {
          if (++k[d] < per) break;
          k[d] = 0;
        }
        if (d < 0) break;
      }
      size_t at = b * ch * opos + p;
      if (dbl)
        gs_sample_f64(ch, plane, nc, off, w,
                      (const double *)xd + b * ch * plane, (double *)yd + at,
                      opos);
      else
        gs_sample_f32(ch, plane, nc, off, w,
                      (const float *)xd + b * ch * plane, (float *)yd + at,
                      opos);
    }
  }
  if (half) emb_cvt_from_f32(y->dtype, yd, yn, y->data);
  return EMBER_OK;
}

const emb_opdef emb_op_gridsample = {2, 2, 1, 1, 0, gs_init, gs_infer, gs_run};

/* ========================================================= AffineGrid */

typedef struct ag_state {
  bool align;
} ag_state;

static ember_status ag_init(emb_init_ctx *c) {
  ag_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t ac;
  ember_status st = emb_attr_int(c->node, "align_corners", 0, &ac, c->diag);
  if (st) return st;
  if (ac != 0 && ac != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "align_corners must be 0 or 1, not %lld",
                       (long long)ac);
  s->align = ac == 1;
  c->node->state = s;
  return EMBER_OK;
}

/* The target size (N, C, [D,] H, W) as numbers. */
static ember_status ag_size(const emb_node *n, emb_diag *d, bool at_run,
                            const emb_tensor *t, int64_t *sz, int *cnt) {
  size_t k = emb_tensor_numel(t);
  if (t->rank != 1 || (k != 4 && k != 5))
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "'size' must hold 4 (N, C, H, W) or 5 (N, C, D, H, "
                       "W) values");
  for (size_t i = 0; i < k; i++) {
    sz[i] = emb_tensor_get_i64(t, i);
    if (sz[i] < 0)
      return emb_op_fail(d, n,
                         at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL,
                         "'size' has the negative entry %lld",
                         (long long)sz[i]);
  }
  *cnt = (int)k;
  return EMBER_OK;
}

static ember_status ag_infer(emb_infer_ctx *c) {
  static const int32_t i64[] = {EMBER_INT64, 0};
  const emb_type *th = c->in[0], *sz = c->in[1];
  ember_status st = emb_infer_check_dtype(c, 0, float_types);
  if (!st) st = emb_infer_check_dtype(c, 1, i64);
  if (st) return st;
  emb_type *o = &c->out[0];
  emb_type_unknown(o);
  o->kind = EMBER_KIND_TENSOR;
  o->dtype = th && th->kind ? th->dtype : 0;
  int nsp = -1;
  if (th && th->kind && th->rank >= 0) {
    if (th->rank != 3 ||
        (th->dims[1].v >= 0 && th->dims[1].v != 2 && th->dims[1].v != 3))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "theta must have shape (N, 2, 3) or (N, 3, 4)");
    if (th->dims[1].v >= 0) nsp = (int)th->dims[1].v;
    if (th->dims[1].v >= 0 && th->dims[2].v >= 0 &&
        th->dims[2].v != th->dims[1].v + 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "theta must have shape (N, 2, 3) or (N, 3, 4)");
  }
  if (nsp < 0 && sz && sz->kind && sz->rank == 1 && sz->dims[0].v >= 4)
    nsp = (int)sz->dims[0].v - 2;
  const emb_tensor *sv = c->values ? c->values[1] : NULL;
  if (!sv) {
    if (nsp < 0) return EMBER_OK;
    emb_type_tensor(o, o->dtype, nsp + 2, NULL);
    for (int k = 0; k < nsp + 2; k++) o->dims[k] = (emb_dim){-1, 0};
    o->dims[nsp + 1].v = nsp;
    if (th && th->kind && th->rank == 3) o->dims[0] = th->dims[0];
    return EMBER_OK;
  }
  int64_t size[5];
  int cnt = 0;
  if ((st = ag_size(c->node, c->diag, c->at_run, sv, size, &cnt))) return st;
  if (nsp >= 0 && nsp != cnt - 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "theta is for %d spatial axes but 'size' has %d "
                       "values",
                       nsp, cnt);
  nsp = cnt - 2;
  if (th && th->kind && th->rank == 3 && th->dims[0].v >= 0 &&
      th->dims[0].v != size[0])
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "theta has batch %lld but 'size' says %lld",
                       (long long)th->dims[0].v, (long long)size[0]);
  emb_type_tensor(o, o->dtype, nsp + 2, NULL);
  o->dims[0].v = size[0];
  for (int k = 0; k < nsp; k++) o->dims[1 + k].v = size[2 + k];
  o->dims[nsp + 1].v = nsp;
  return EMBER_OK;
}

/* Normalized position of index i of n. */
static double ag_base(bool align, int64_t i, int64_t n) {
  if (align) return n > 1 ? -1 + 2.0 * (double)i / (double)(n - 1) : -1;
  return (2.0 * (double)i + 1) / (double)n - 1;
}

static ember_status ag_run(emb_run_ctx *c) {
  const ag_state *s = c->node->state;
  const emb_tensor *th = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  int64_t size[5];
  int cnt = 0;
  ember_status st = ag_size(c->node, c->diag, true, emb_in_t(c, 1), size,
                            &cnt);
  if (st) return st;
  int nsp = cnt - 2;
  size_t n = (size_t)size[0], pos = 1;
  for (int k = 0; k < nsp; k++) pos *= (size_t)size[2 + k];
  size_t tsz = (size_t)nsp * (size_t)(nsp + 1), oi = 0;
  for (size_t b = 0; b < n; b++) {
    double m[12];
    for (size_t k = 0; k < tsz; k++) m[k] = gs_get(th, b * tsz + k);
    int64_t idx[3] = {0, 0, 0};
    for (size_t p = 0; p < pos; p++) {
      /* Homogeneous (x, y[, z], 1): x along the last (innermost) axis. */
      double v[4];
      for (int k = 0; k < nsp; k++)
        v[k] = ag_base(s->align, idx[nsp - 1 - k], size[2 + nsp - 1 - k]);
      v[nsp] = 1;
      for (int r = 0; r < nsp; r++) {
        double a = 0;
        for (int k = 0; k <= nsp; k++) a += m[r * (nsp + 1) + k] * v[k];
        if (y->dtype == EMBER_FLOAT)
          ((float *)y->data)[oi++] = (float)a;
        else if (y->dtype == EMBER_DOUBLE)
          ((double *)y->data)[oi++] = a;
        else
          emb_tensor_set_f64(y, oi++, a);
      }
      for (int k = nsp - 1; k >= 0; k--) {
        if (++idx[k] < size[2 + k]) break;
        idx[k] = 0;
      }
    }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_affinegrid = {2, 2, 1, 1, 0, ag_init, ag_infer, ag_run};
