/*
 * ReduceSum, ReduceMean and ReduceMax.  The reduced axes come from the
 * 'axes' attribute before opset 13 (ReduceSum) or 18 (ReduceMean,
 * ReduceMax) and from an optional input after; empty axes mean "all axes"
 * unless noop_with_empty_axes is set, when the op is the identity.
 *
 * Any set of axes is done as a few passes of one (outer, red, inner)
 * reduction each: unit dims are dropped, neighbouring axes of the same
 * kind merged, and the innermost reduced group reduced first, which makes
 * its kept neighbours adjacent for the next pass.  float32 uses the
 * f32-reduce kernels; float16/bfloat16 widen to float32; double, and the
 * integer types widened to 64 bits, use the small loops here.  Mean is
 * the sum divided by the count at the end.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "f32-reduce/f32-reduce.h"
#include "ops/op.h"

enum { RED_SUM, RED_MEAN, RED_MAX };

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
      c, 0, s->kind == RED_MAX ? max_types : sum_types);
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
#define DEF_RMAX(NAME, T, LOWEST)                                          \
  static void NAME(size_t outer, size_t red, size_t inner, const T *x,     \
                   T *y) {                                                 \
    for (size_t o = 0; o < outer; o++, y += inner) {                       \
      for (size_t i = 0; i < inner; i++) y[i] = LOWEST;                    \
      for (size_t r = 0; r < red; r++, x += inner)                         \
        for (size_t i = 0; i < inner; i++)                                 \
          if (!(y[i] >= x[i])) y[i] = x[i];                                \
    }                                                                      \
  }
/* Signed sums are done unsigned: the same bits, wrapping without UB. */
DEF_RSUM(rsum_u64, uint64_t)
DEF_RSUM(rsum_f64, double)
DEF_RMAX(rmax_u64, uint64_t, 0)
DEF_RMAX(rmax_i64, int64_t, INT64_MIN)

/* NaN propagates: once y is NaN, !(y >= x) keeps replacing it by x, so
 * double max is spelled out. */
static void rmax_f64(size_t outer, size_t red, size_t inner, const double *x,
                     double *y) {
  for (size_t o = 0; o < outer; o++, y += inner) {
    for (size_t i = 0; i < inner; i++) y[i] = -INFINITY;
    for (size_t r = 0; r < red; r++, x += inner)
      for (size_t i = 0; i < inner; i++)
        if (isnan(x[i]) || x[i] > y[i]) y[i] = isnan(y[i]) ? y[i] : x[i];
  }
}

enum { W_F32, W_F64, W_I64, W_U64 };

static int work_type(int32_t dt) {
  switch (dt) {
    case EMBER_FLOAT: case EMBER_FLOAT16: case EMBER_BFLOAT16: return W_F32;
    case EMBER_DOUBLE: return W_F64;
    case EMBER_UINT64: return W_U64;
    default: return W_I64;
  }
}

/* One pass over `src` into `dst` in the working type. */
static void reduce_pass(int w, int kind, size_t outer, size_t red,
                        size_t inner, const void *src, void *dst) {
  bool max = kind == RED_MAX;
  switch (w) {
    case W_F32:
      if (max)
        ember_f32_rmax__scalar(outer, red, inner, src, dst);
      else
        ember_f32_rsum__scalar(outer, red, inner, src, dst);
      break;
    case W_F64:
      if (max)
        rmax_f64(outer, red, inner, src, dst);
      else
        rsum_f64(outer, red, inner, src, dst);
      break;
    case W_I64:
      if (max)
        rmax_i64(outer, red, inner, src, dst);
      else
        rsum_u64(outer, red, inner, src, dst);
      break;
    default:
      if (max)
        rmax_u64(outer, red, inner, src, dst);
      else
        rsum_u64(outer, red, inner, src, dst);
      break;
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

  int w = work_type(in->dtype);
  size_t ws = w == W_F32 ? 4 : 8;
  bool direct_in = (w == W_F32 && in->dtype == EMBER_FLOAT) ||
                   (w == W_F64) || in->dtype == EMBER_INT64 ||
                   in->dtype == EMBER_UINT64;
  bool direct_out = direct_in;
  /* Scratch: widened input, two ping-pong buffers, widened result. */
  size_t sz_in = direct_in ? 0 : n_in * ws;
  size_t sz_a = 0, sz_b = 0;
  for (int i = 0; i + 1 < p.n; i++) {
    size_t sz = p.outer[i] * p.inner[i] * ws;
    if (i % 2 == 0 && sz > sz_a) sz_a = sz;
    if (i % 2 == 1 && sz > sz_b) sz_b = sz;
  }
  size_t sz_out = direct_out ? 0 : n_out * ws;
  char *scr = NULL;
  if (sz_in + sz_a + sz_b + sz_out) {
    scr = emb_scratch(c, sz_in + sz_a + sz_b + sz_out);
    if (!scr) return c->diag->status ? c->diag->status
                                     : EMBER_ERR_OUT_OF_MEMORY;
  }
  void *win = direct_in ? in->data : scr;
  char *buf_a = scr + sz_in, *buf_b = buf_a + sz_a;
  void *wout = direct_out ? out->data : buf_b + sz_b;
  if (!direct_in) {
    if (in->dtype == EMBER_FLOAT16) {
      const uint16_t *h = in->data;
      float *f = win;
      for (size_t i = 0; i < n_in; i++) f[i] = emb_f16_to_f32(h[i]);
    } else if (in->dtype == EMBER_BFLOAT16) {
      const uint16_t *h = in->data;
      float *f = win;
      for (size_t i = 0; i < n_in; i++) f[i] = emb_bf16_to_f32(h[i]);
    } else {
      int64_t *v = win;
      for (size_t i = 0; i < n_in; i++) v[i] = emb_tensor_get_i64(in, i);
    }
  }
  const void *src = win;
  for (int i = 0; i < p.n; i++) {
    void *dst = i + 1 == p.n ? wout : (i % 2 == 0 ? buf_a : buf_b);
    reduce_pass(w, s->kind, p.outer[i], p.red[i], p.inner[i], src, dst);
    src = dst;
  }
  if (p.n == 0 && src != wout) memcpy(wout, src, n_out * ws);
  if (s->kind == RED_MEAN && count != 1) {
    if (w == W_F32) {
      float *f = wout;
      for (size_t i = 0; i < n_out; i++) f[i] = (float)((double)f[i] / count);
    } else if (w == W_F64) {
      double *f = wout;
      for (size_t i = 0; i < n_out; i++) f[i] /= (double)count;
    } else if (w == W_I64) {
      int64_t *v = wout;
      for (size_t i = 0; i < n_out; i++)
        v[i] = count ? v[i] / (int64_t)count : 0;
    } else {
      uint64_t *v = wout;
      for (size_t i = 0; i < n_out; i++) v[i] = count ? v[i] / count : 0;
    }
  }
  if (!direct_out) {
    if (out->dtype == EMBER_FLOAT16) {
      const float *f = wout;
      uint16_t *h = out->data;
      for (size_t i = 0; i < n_out; i++) h[i] = emb_f32_to_f16(f[i]);
    } else if (out->dtype == EMBER_BFLOAT16) {
      const float *f = wout;
      uint16_t *h = out->data;
      for (size_t i = 0; i < n_out; i++) h[i] = emb_f32_to_bf16(f[i]);
    } else {
      const int64_t *v = wout;
      for (size_t i = 0; i < n_out; i++) emb_tensor_set_i64(out, i, v[i]);
    }
  }
  /* The maximum of nothing is the lowest value of the type. */
  if (s->kind == RED_MAX && count == 0 && emb_dtype_is_int(out->dtype)) {
    int64_t lo = 0;
    switch (out->dtype) {
      case EMBER_INT8: lo = INT8_MIN; break;
      case EMBER_INT32: lo = INT32_MIN; break;
      case EMBER_INT64: lo = INT64_MIN; break;
      default: lo = 0; break;
    }
    for (size_t i = 0; i < n_out; i++) emb_tensor_set_i64(out, i, lo);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_reducesum = {1, 2, 1, 1, 0, reducesum_init,
                                    reduce_infer, reduce_run};
const emb_opdef emb_op_reducemean = {1, 2, 1, 1, 0, reducemean_init,
                                     reduce_infer, reduce_run};
const emb_opdef emb_op_reducemax = {1, 2, 1, 1, 0, reducemax_init,
                                    reduce_infer, reduce_run};
