/*
 * The Reduce* family: Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp
 * and SumSquare.  The reduced axes come from the 'axes' attribute before
 * opset 13 (ReduceSum) or 18 (all others) and from an optional input
 * after; empty axes mean "all axes" unless noop_with_empty_axes is set,
 * when only the element-wise steps of the composite ops remain (LogSum is
 * then log x, SumSquare x * x).
 *
 * Any set of axes is done as a few passes of one (outer, red, inner)
 * reduction each: unit dims are dropped, neighbouring axes of the same
 * kind merged, and the innermost reduced group reduced first, which makes
 * its kept neighbours adjacent for the next pass.  Every op is one of four
 * passes (sum, max, min, product) with an element-wise step before it
 * (L1 |x|, L2 and SumSquare x * x, LogSumExp exp(x - max)) and after it
 * (Mean / count, L2 sqrt, LogSum log, LogSumExp log + max).  float32 uses
 * the f32-reduce kernels; float16/bfloat16 widen to float32; double, and
 * the integer types widened to 64 bits, use the small loops here.  Integer
 * L2, LogSum and LogSumExp work in double, their float steps needing it.
 * An empty reduction gives the pass's identity: 0, 1, or for Max and Min
 * the lowest / highest value of the type (infinities for floats).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "f32-reduce/f32-reduce.h"
#include "ops/op.h"

enum {
  RED_SUM, RED_MEAN, RED_MAX, RED_MIN, RED_PROD, RED_L1, RED_L2,
  RED_LOGSUM, RED_LOGSUMEXP, RED_SUMSQ
};

typedef struct reduce_state {
  int kind;
  int64_t keepdims, noop;
  bool axes_input;      /* axes come from input 1 */
  const int64_t *axes;  /* attribute form */
  size_t n_axes;
} reduce_state;

static ember_status reduce_init(emb_init_ctx *c, int kind, int input_since) {
  reduce_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const emb_node *n = c->node;
  s->kind = kind;
  s->axes_input = n->opset >= input_since;
  ember_status st = emb_attr_int(n, "keepdims", 1, &s->keepdims, c->diag);
  if (!st)
    st = emb_attr_int(n, "noop_with_empty_axes", 0, &s->noop, c->diag);
  if (!st && !s->axes_input)
    st = emb_attr_ints(n, "axes", &s->axes, &s->n_axes, c->diag);
  if (st) return st;
  if (s->n_axes > EMB_MAX_RANK)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "too many axes (%zu)", s->n_axes);
  c->node->state = s;
  return EMBER_OK;
}

static ember_status reducesum_init(emb_init_ctx *c) {
  return reduce_init(c, RED_SUM, 13);
}
static ember_status reducemean_init(emb_init_ctx *c) {
  return reduce_init(c, RED_MEAN, 18);
}
static ember_status reducemax_init(emb_init_ctx *c) {
  return reduce_init(c, RED_MAX, 18);
}
static ember_status reducemin_init(emb_init_ctx *c) {
  return reduce_init(c, RED_MIN, 18);
}
static ember_status reduceprod_init(emb_init_ctx *c) {
  return reduce_init(c, RED_PROD, 18);
}
static ember_status reducel1_init(emb_init_ctx *c) {
  return reduce_init(c, RED_L1, 18);
}
static ember_status reducel2_init(emb_init_ctx *c) {
  return reduce_init(c, RED_L2, 18);
}
static ember_status reducelogsum_init(emb_init_ctx *c) {
  return reduce_init(c, RED_LOGSUM, 18);
}
static ember_status reducelogsumexp_init(emb_init_ctx *c) {
  return reduce_init(c, RED_LOGSUMEXP, 18);
}
static ember_status reducesumsquare_init(emb_init_ctx *c) {
  return reduce_init(c, RED_SUMSQ, 18);
}

/* Which axes are reduced.  *noop: identity (empty axes with
 * noop_with_empty_axes). */
static ember_status reduce_mask(const emb_node *node, emb_diag *d,
                                ember_status bad, int rank,
                                const emb_tensor *axes_t, bool *mask,
                                bool *noop) {
  const reduce_state *s = node->state;
  int64_t axes[EMB_MAX_RANK];
  size_t n = 0;
  if (s->axes_input) {
    if (axes_t) {
      n = emb_tensor_numel(axes_t);
      if (axes_t->rank > 1 || n > (size_t)rank ||
          (n && !emb_dtype_is_int(axes_t->dtype)))
        return emb_op_fail(d, node, bad,
                           "'axes' must be a 1-D integer tensor of at most "
                           "%d values",
                           rank);
      for (size_t i = 0; i < n; i++) axes[i] = emb_tensor_get_i64(axes_t, i);
    }
  } else {
    n = s->n_axes;
    if (n) memcpy(axes, s->axes, n * sizeof *axes);
  }
  *noop = false;
  for (int k = 0; k < rank; k++) mask[k] = n == 0;
  if (n == 0) {
    *noop = s->noop != 0;
    if (*noop)
      for (int k = 0; k < rank; k++) mask[k] = false;
    return EMBER_OK;
  }
  for (size_t i = 0; i < n; i++) {
    int64_t a = axes[i];
    if (a < -(int64_t)rank || a >= rank)
      return emb_op_fail(d, node, bad, "axis %lld is out of range for rank %d",
                         (long long)a, rank);
    if (a < 0) a += rank;
    if (mask[a])
      return emb_op_fail(d, node, bad, "axis %lld is repeated",
                         (long long)axes[i]);
    mask[a] = true;
  }
  return EMBER_OK;
}

static const int32_t sum_types[] = {EMBER_FLOAT,  EMBER_DOUBLE, EMBER_FLOAT16,
                                    EMBER_BFLOAT16, EMBER_INT32, EMBER_INT64,
                                    EMBER_UINT32, EMBER_UINT64, 0};
/* Max and Min also order int8, uint8 (opset 12) and bool (opset 20). */
static const int32_t max_types[] = {
    EMBER_FLOAT,  EMBER_DOUBLE, EMBER_FLOAT16, EMBER_BFLOAT16, EMBER_INT32,
    EMBER_INT64,  EMBER_UINT32, EMBER_UINT64,  EMBER_INT8,     EMBER_UINT8,
    EMBER_BOOL,   0};

static ember_status reduce_infer(emb_infer_ctx *c) {
  const reduce_state *s = c->node->state;
  const emb_type *in = c->in[0];
  if (!in)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input 'data' is required");
  if (in->kind && in->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 0 must be a tensor");
  ember_status st = emb_infer_check_dtype(
      c, 0, s->kind == RED_MAX || s->kind == RED_MIN ? max_types : sum_types);
  if (st) return st;
  static const int32_t i64[] = {EMBER_INT64, 0};
  if (s->axes_input) st = emb_infer_check_dtype(c, 1, i64);
  if (st) return st;
  int32_t dt = in->kind ? in->dtype : 0;
  int rank = in->kind ? in->rank : -1;
  emb_type *o = &c->out[0];
  emb_type_tensor(o, dt, -1, NULL);
  if (rank < 0) return EMBER_OK;
  const emb_tensor *axes_t = NULL;
  if (s->axes_input && c->n_in > 1 && c->in[1]) {
    axes_t = c->values ? c->values[1] : NULL;
    if (!axes_t) {
      if (s->keepdims) emb_type_tensor(o, dt, rank, NULL);
      return EMBER_OK;
    }
  }
  bool mask[EMB_MAX_RANK], noop;
  st = reduce_mask(c->node, c->diag,
                   c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL,
                   rank, axes_t, mask, &noop);
  if (st) return st;
  emb_type_tensor(o, dt, 0, NULL);
  for (int k = 0; k < rank; k++) {
    if (!mask[k]) {
      o->dims[o->rank++] = in->dims[k];
    } else if (s->keepdims) {
      o->dims[o->rank].v = 1;
      o->dims[o->rank++].sym = 0;
    }
  }
  return EMBER_OK;
}

/* ------------------------------------------------ wide working types */

#define DEF_RSUM(NAME, T)                                                  \
  static void NAME(size_t outer, size_t red, size_t inner, const T *x,     \
                   T *y) {                                                 \
    for (size_t o = 0; o < outer; o++, y += inner) {                       \
      for (size_t i = 0; i < inner; i++) y[i] = 0;                         \
      for (size_t r = 0; r < red; r++, x += inner)                         \
        for (size_t i = 0; i < inner; i++) y[i] += x[i];                   \
    }                                                                      \
  }
#define DEF_RPROD(NAME, T)                                                 \
  static void NAME(size_t outer, size_t red, size_t inner, const T *x,     \
                   T *y) {                                                 \
    for (size_t o = 0; o < outer; o++, y += inner) {                       \
      for (size_t i = 0; i < inner; i++) y[i] = 1;                         \
      for (size_t r = 0; r < red; r++, x += inner)                         \
        for (size_t i = 0; i < inner; i++) y[i] *= x[i];                   \
    }                                                                      \
  }
/* y[i] = x[i] when x[i] is better than y[i] by BETTER (a strict order). */
#define DEF_RPICK(NAME, T, START, BETTER)                                  \
  static void NAME(size_t outer, size_t red, size_t inner, const T *x,     \
                   T *y) {                                                 \
    for (size_t o = 0; o < outer; o++, y += inner) {                       \
      for (size_t i = 0; i < inner; i++) y[i] = START;                     \
      for (size_t r = 0; r < red; r++, x += inner)                         \
        for (size_t i = 0; i < inner; i++)                                 \
          if (x[i] BETTER y[i]) y[i] = x[i];                               \
    }                                                                      \
  }
/* Signed sums and products are done unsigned: the same bits, wrapping
 * without UB. */
DEF_RSUM(rsum_u64, uint64_t)
DEF_RSUM(rsum_f64, double)
DEF_RPROD(rprod_u64, uint64_t)
DEF_RPROD(rprod_f64, double)
DEF_RPICK(rmax_u64, uint64_t, 0, >)
DEF_RPICK(rmax_i64, int64_t, INT64_MIN, >)
DEF_RPICK(rmin_u64, uint64_t, UINT64_MAX, <)
DEF_RPICK(rmin_i64, int64_t, INT64_MAX, <)

/* NaN propagates: once y is NaN it stays, and a NaN x replaces y. */
static void rpick_f64(size_t outer, size_t red, size_t inner, const double *x,
                      double *y, bool max) {
  for (size_t o = 0; o < outer; o++, y += inner) {
    for (size_t i = 0; i < inner; i++) y[i] = max ? -INFINITY : INFINITY;
    for (size_t r = 0; r < red; r++, x += inner)
      for (size_t i = 0; i < inner; i++) {
        if (isnan(y[i])) continue;
        if (isnan(x[i]) || (max ? x[i] > y[i] : x[i] < y[i])) y[i] = x[i];
      }
  }
}

enum { W_F32, W_F64, W_I64, W_U64 };
enum { P_SUM, P_MAX, P_MIN, P_PROD };

static int pass_op(int kind) {
  switch (kind) {
    case RED_MAX: return P_MAX;
    case RED_MIN: return P_MIN;
    case RED_PROD: return P_PROD;
    default: return P_SUM;
  }
}

static int work_type(int kind, int32_t dt) {
  switch (dt) {
    case EMBER_FLOAT: case EMBER_FLOAT16: case EMBER_BFLOAT16: return W_F32;
    case EMBER_DOUBLE: return W_F64;
    default: break;
  }
  if (kind == RED_L2 || kind == RED_LOGSUM || kind == RED_LOGSUMEXP)
    return W_F64;
  return dt == EMBER_UINT64 ? W_U64 : W_I64;
}

/* The element type the working type is stored as, for in-place use. */
static bool work_native(int w, int32_t dt) {
  switch (w) {
    case W_F32: return dt == EMBER_FLOAT;
    case W_F64: return dt == EMBER_DOUBLE;
    case W_I64: return dt == EMBER_INT64;
    default: return dt == EMBER_UINT64;
  }
}

/* One pass over `src` into `dst` in the working type. */
static void reduce_pass(int w, int op, size_t outer, size_t red,
                        size_t inner, const void *src, void *dst) {
  switch (w) {
    case W_F32:
      if (op == P_MAX)
        ember_f32_rmax__scalar(outer, red, inner, src, dst);
      else if (op == P_MIN)
        ember_f32_rmin__scalar(outer, red, inner, src, dst);
      else if (op == P_PROD)
        ember_f32_rprod__scalar(outer, red, inner, src, dst);
      else
        ember_f32_rsum__scalar(outer, red, inner, src, dst);
      break;
    case W_F64:
      if (op == P_MAX || op == P_MIN)
        rpick_f64(outer, red, inner, src, dst, op == P_MAX);
      else if (op == P_PROD)
        rprod_f64(outer, red, inner, src, dst);
      else
        rsum_f64(outer, red, inner, src, dst);
      break;
    case W_I64:
      if (op == P_MAX)
        rmax_i64(outer, red, inner, src, dst);
      else if (op == P_MIN)
        rmin_i64(outer, red, inner, src, dst);
      else if (op == P_PROD)
        rprod_u64(outer, red, inner, src, dst);
      else
        rsum_u64(outer, red, inner, src, dst);
      break;
    default:
      if (op == P_MAX)
        rmax_u64(outer, red, inner, src, dst);
      else if (op == P_MIN)
        rmin_u64(outer, red, inner, src, dst);
      else if (op == P_PROD)
        rprod_u64(outer, red, inner, src, dst);
      else
        rsum_u64(outer, red, inner, src, dst);
      break;
  }
}

/* The step before the passes, in place on n working elements: |x| for L1,
 * x * x for L2 and SumSquare.  (LogSumExp's step needs the maximum.) */
static void reduce_pre(int w, int kind, size_t n, void *buf) {
  bool sq = kind == RED_L2 || kind == RED_SUMSQ;
  if (!sq && kind != RED_L1) return;
  switch (w) {
    case W_F32: {
      float *f = buf;
      for (size_t i = 0; i < n; i++) f[i] = sq ? f[i] * f[i] : fabsf(f[i]);
      break;
    }
    case W_F64: {
      double *f = buf;
      for (size_t i = 0; i < n; i++) f[i] = sq ? f[i] * f[i] : fabs(f[i]);
      break;
    }
    default: {
      /* Unsigned arithmetic: int64 squares and |INT64_MIN| wrap as the
       * narrower types' arithmetic would. */
      uint64_t *v = buf;
      bool sgn = w == W_I64;
      for (size_t i = 0; i < n; i++) {
        if (sq)
          v[i] *= v[i];
        else if (sgn && (int64_t)v[i] < 0)
          v[i] = 0 - v[i];
      }
      break;
    }
  }
}

typedef struct reduce_plan {
  int n;
  size_t outer[EMB_MAX_RANK], red[EMB_MAX_RANK], inner[EMB_MAX_RANK];
} reduce_plan;

static void reduce_make_plan(int rank, const int64_t *dims, const bool *mask,
                             reduce_plan *p) {
  size_t gn[EMB_MAX_RANK];
  bool gr[EMB_MAX_RANK];
  int ng = 0;
  for (int k = 0; k < rank; k++) {
    if (dims[k] == 1) continue;
    if (ng && gr[ng - 1] == mask[k]) {
      gn[ng - 1] *= (size_t)dims[k];
    } else {
      gn[ng] = (size_t)dims[k];
      gr[ng++] = mask[k];
    }
  }
  p->n = 0;
  for (;;) {
    int j = ng - 1;
    while (j >= 0 && !gr[j]) j--;
    if (j < 0) break;
    size_t outer = 1, inner = 1;
    for (int g = 0; g < j; g++) outer *= gn[g];
    for (int g = j + 1; g < ng; g++) inner *= gn[g];
    p->outer[p->n] = outer;
    p->red[p->n] = gn[j];
    p->inner[p->n++] = inner;
    /* Drop group j; its kept neighbours become one group. */
    if (j > 0 && j + 1 < ng && !gr[j - 1] && !gr[j + 1]) {
      gn[j - 1] *= gn[j + 1];
      for (int g = j; g + 2 < ng; g++) {
        gn[g] = gn[g + 2];
        gr[g] = gr[g + 2];
      }
      ng -= 2;
    } else {
      for (int g = j; g + 1 < ng; g++) {
        gn[g] = gn[g + 1];
        gr[g] = gr[g + 1];
      }
      ng -= 1;
    }
  }
}

/* Run the plan's passes from src into dst (n_out elements of ws bytes),
 * ping-ponging through a and b. */
static void reduce_passes(const reduce_plan *p, int w, int op, size_t ws,
                          size_t n_out, const void *src, void *dst, void *a,
                          void *b) {
  for (int i = 0; i < p->n; i++) {
    void *to = i + 1 == p->n ? dst : (i % 2 == 0 ? a : b);
    reduce_pass(w, op, p->outer[i], p->red[i], p->inner[i], src, to);
    src = to;
  }
  if (p->n == 0 && src != dst) memcpy(dst, src, n_out * ws);
}

/* The shift LogSumExp takes out before exp: the maximum when finite (an
 * infinite maximum decides the result by itself). */
static double lse_shift(double m) { return isfinite(m) ? m : 0.0; }

/* x <- exp(x - shift(m[o])) in place, o being the output element each
 * input element reduces into (m has the kept dims of the input). */
static void lse_exp(int w, int rank, const int64_t *dims, const bool *mask,
                    size_t n_in, void *x, const void *m) {
  int64_t ostride[EMB_MAX_RANK], idx[EMB_MAX_RANK];
  size_t step = 1;
  for (int k = rank - 1; k >= 0; k--) {
    ostride[k] = mask[k] ? 0 : (int64_t)step;
    if (!mask[k]) step *= (size_t)dims[k];
    idx[k] = 0;
  }
  size_t o = 0;
  for (size_t f = 0; f < n_in; f++) {
    if (w == W_F32) {
      float *v = x;
      v[f] = (float)exp((double)v[f] - lse_shift(((const float *)m)[o]));
    } else {
      double *v = x;
      v[f] = exp(v[f] - lse_shift(((const double *)m)[o]));
    }
    for (int k = rank - 1; k >= 0; k--) {
      o += (size_t)ostride[k];
      if (++idx[k] < dims[k]) break;
      o -= (size_t)(ostride[k] * dims[k]);
      idx[k] = 0;
    }
  }
}

/* The step after the passes, in place on n working elements. */
static void reduce_post(int w, int kind, size_t n, size_t count, void *y,
                        const void *m) {
  if (kind == RED_MEAN) {
    if (count == 1) return;
    if (w == W_F32) {
      float *f = y;
      for (size_t i = 0; i < n; i++) f[i] = (float)((double)f[i] / count);
    } else if (w == W_F64) {
      double *f = y;
      for (size_t i = 0; i < n; i++) f[i] /= (double)count;
    } else if (w == W_I64) {
      int64_t *v = y;
      for (size_t i = 0; i < n; i++)
        v[i] = count ? v[i] / (int64_t)count : 0;
    } else {
      uint64_t *v = y;
      for (size_t i = 0; i < n; i++) v[i] = count ? v[i] / count : 0;
    }
    return;
  }
  if (kind != RED_L2 && kind != RED_LOGSUM && kind != RED_LOGSUMEXP) return;
  /* These three always work in a float type. */
  for (size_t i = 0; i < n; i++) {
    double v = w == W_F32 ? ((float *)y)[i] : ((double *)y)[i];
    if (kind == RED_L2) {
      v = sqrt(v);
    } else {
      v = log(v);
      if (kind == RED_LOGSUMEXP)
        v += lse_shift(w == W_F32 ? ((const float *)m)[i]
                                  : ((const double *)m)[i]);
    }
    if (w == W_F32)
      ((float *)y)[i] = (float)v;
    else
      ((double *)y)[i] = v;
  }
}

static void int_range(int32_t dt, int64_t *lo, uint64_t *hi) {
  switch (dt) {
    case EMBER_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case EMBER_UINT8: *lo = 0; *hi = UINT8_MAX; break;
    case EMBER_INT32: *lo = INT32_MIN; *hi = INT32_MAX; break;
    case EMBER_UINT32: *lo = 0; *hi = UINT32_MAX; break;
    case EMBER_INT64: *lo = INT64_MIN; *hi = INT64_MAX; break;
    case EMBER_UINT64: *lo = 0; *hi = UINT64_MAX; break;
    default: *lo = 0; *hi = 1; break; /* bool: false < true */
  }
}

/* Element i of an integer tensor from a double: truncated toward zero as
 * by a cast, NaN as 0, values outside the type saturated (casting those
 * would be undefined). */
static void set_int_sat(emb_tensor *t, size_t i, double v) {
  int64_t lo;
  uint64_t hi;
  int_range(t->dtype, &lo, &hi);
  if (isnan(v)) v = 0;
  if (t->dtype == EMBER_UINT64) {
    ((uint64_t *)t->data)[i] = v <= 0 ? 0
                               : v >= 18446744073709551616.0 ? UINT64_MAX
                                                              : (uint64_t)v;
    return;
  }
  /* (double)INT64_MAX rounds up to 2^63, hence >= */
  if (v >= (double)hi)
    emb_tensor_set_i64(t, i, (int64_t)hi);
  else if (v <= (double)lo)
    emb_tensor_set_i64(t, i, lo);
  else
    emb_tensor_set_i64(t, i, (int64_t)v);
}

static ember_status reduce_run(emb_run_ctx *c) {
  const reduce_state *s = c->node->state;
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int rank = in->rank;
  bool mask[EMB_MAX_RANK], noop;
  ember_status st =
      reduce_mask(c->node, c->diag, EMBER_ERR_RUNTIME, rank,
                  s->axes_input ? emb_in_t(c, 1) : NULL, mask, &noop);
  if (st) return st;
  size_t n_in = emb_tensor_numel(in), n_out = emb_tensor_numel(out);
  if (!n_out) return EMBER_OK;
  size_t count = 1;
  for (int k = 0; k < rank; k++)
    if (mask[k]) count *= (size_t)in->dims[k];
  reduce_plan p;
  reduce_make_plan(rank, in->dims, mask, &p);

  int kind = s->kind, w = work_type(kind, in->dtype), op = pass_op(kind);
  bool lse = kind == RED_LOGSUMEXP;
  size_t ws = w == W_F32 ? 4 : 8;
  /* The input is used in place unless it must be widened or is rewritten
   * by the step before the passes. */
  bool direct_in = work_native(w, in->dtype) && !lse && kind != RED_L1 &&
                   kind != RED_L2 && kind != RED_SUMSQ;
  bool direct_out = work_native(w, out->dtype);
  /* Scratch: working input, two ping-pong buffers, working result, and
   * LogSumExp's maxima. */
  size_t sz_in = direct_in ? 0 : n_in * ws;
  size_t sz_a = 0, sz_b = 0;
  for (int i = 0; i + 1 < p.n; i++) {
    size_t sz = p.outer[i] * p.inner[i] * ws;
    if (i % 2 == 0 && sz > sz_a) sz_a = sz;
    if (i % 2 == 1 && sz > sz_b) sz_b = sz;
  }
  size_t sz_out = direct_out ? 0 : n_out * ws;
  size_t sz_m = lse ? n_out * ws : 0;
  /* At least a byte, so that the offsets below are never taken from a
   * null pointer. */
  size_t total = sz_in + sz_a + sz_b + sz_out + sz_m;
  char *scr = emb_scratch(c, total ? total : 1);
  if (!scr)
    return c->diag->status ? c->diag->status : EMBER_ERR_OUT_OF_MEMORY;
  void *win = direct_in ? in->data : scr;
  char *buf_a = scr + sz_in, *buf_b = buf_a + sz_a;
  void *wout = direct_out ? out->data : buf_b + sz_b;
  void *wm = buf_b + sz_b + sz_out;
  if (!direct_in) {
    if (work_native(w, in->dtype)) {
      if (n_in) memcpy(win, in->data, n_in * ws);
    } else if (in->dtype == EMBER_FLOAT16) {
      const uint16_t *h = in->data;
      float *f = win;
      for (size_t i = 0; i < n_in; i++) f[i] = emb_f16_to_f32(h[i]);
    } else if (in->dtype == EMBER_BFLOAT16) {
      const uint16_t *h = in->data;
      float *f = win;
      for (size_t i = 0; i < n_in; i++) f[i] = emb_bf16_to_f32(h[i]);
    } else if (w == W_F64) {
      double *f = win;
      for (size_t i = 0; i < n_in; i++) f[i] = emb_tensor_get_f64(in, i);
    } else {
      int64_t *v = win;
      for (size_t i = 0; i < n_in; i++) v[i] = emb_tensor_get_i64(in, i);
    }
    reduce_pre(w, kind, n_in, win);
  }
  if (lse) {
    reduce_passes(&p, w, P_MAX, ws, n_out, win, wm, buf_a, buf_b);
    lse_exp(w, rank, in->dims, mask, n_in, win, wm);
  }
  reduce_passes(&p, w, op, ws, n_out, win, wout, buf_a, buf_b);
  reduce_post(w, kind, n_out, count, wout, wm);
  if (!direct_out) {
    if (out->dtype == EMBER_FLOAT16) {
      const float *f = wout;
      uint16_t *h = out->data;
      for (size_t i = 0; i < n_out; i++) h[i] = emb_f32_to_f16(f[i]);
    } else if (out->dtype == EMBER_BFLOAT16) {
      const float *f = wout;
      uint16_t *h = out->data;
      for (size_t i = 0; i < n_out; i++) h[i] = emb_f32_to_bf16(f[i]);
    } else if (w == W_F64) {
      const double *f = wout;
      for (size_t i = 0; i < n_out; i++) set_int_sat(out, i, f[i]);
    } else {
      const int64_t *v = wout;
      for (size_t i = 0; i < n_out; i++) emb_tensor_set_i64(out, i, v[i]);
    }
  }
  /* The maximum (minimum) of nothing is the lowest (highest) value of an
   * integer type; the 64-bit working identities do not narrow to it. */
  if ((kind == RED_MAX || kind == RED_MIN) && count == 0 &&
      !emb_dtype_is_float(out->dtype)) {
    int64_t lo;
    uint64_t hi;
    int_range(out->dtype, &lo, &hi);
    for (size_t i = 0; i < n_out; i++)
      emb_tensor_set_i64(out, i, kind == RED_MAX ? lo : (int64_t)hi);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_reducesum = {1, 2, 1, 1, 0, reducesum_init,
                                    reduce_infer, reduce_run};
const emb_opdef emb_op_reducemean = {1, 2, 1, 1, 0, reducemean_init,
                                     reduce_infer, reduce_run};
const emb_opdef emb_op_reducemax = {1, 2, 1, 1, 0, reducemax_init,
                                    reduce_infer, reduce_run};
const emb_opdef emb_op_reducemin = {1, 2, 1, 1, 0, reducemin_init,
                                    reduce_infer, reduce_run};
const emb_opdef emb_op_reduceprod = {1, 2, 1, 1, 0, reduceprod_init,
                                     reduce_infer, reduce_run};
const emb_opdef emb_op_reducel1 = {1, 2, 1, 1, 0, reducel1_init,
                                   reduce_infer, reduce_run};
const emb_opdef emb_op_reducel2 = {1, 2, 1, 1, 0, reducel2_init,
                                   reduce_infer, reduce_run};
const emb_opdef emb_op_reducelogsum = {1, 2, 1, 1, 0, reducelogsum_init,
                                       reduce_infer, reduce_run};
const emb_opdef emb_op_reducelogsumexp = {1, 2, 1, 1, 0, reducelogsumexp_init,
                                          reduce_infer, reduce_run};
const emb_opdef emb_op_reducesumsquare = {1, 2, 1, 1, 0, reducesumsquare_init,
                                          reduce_infer, reduce_run};
