/*
 * Sorting, scans, arg-reductions, normalisations and linear algebra:
 * TopK, CumSum, CumProd, ArgMax, ArgMin, Hardmax, LpNormalization,
 * MeanVarianceNormalization, Einsum and Det.  Most of them view the input
 * as "outer x len x inner" around one axis and walk the len elements of
 * each (outer, inner) line with stride `inner`.  Ordering follows one rule
 * everywhere: ties go to the lower index (unless select_last_index asks
 * otherwise).  NaN: ArgMax, ArgMin and Hardmax let it win (the first NaN
 * of a line is selected, as a NaN-propagating max/min would), TopK orders
 * it above +inf, so it leads the largest and trails the smallest.
 * Einsum binds the equation's labels to sizes, takes diagonals and sums
 * away labels private to one operand, then contracts the operands left to
 * right as batched matrix products (float32 through the gemm kernel) and
 * finally permutes into the output order.  Det factors each matrix by LU
 * with partial pivoting in double.  float16 and bfloat16 go through
 * float32 scratch wherever arithmetic is involved.
 */
#include <math.h>
#include <string.h>

#include "f32-gemm/f32-gemm.h"
#include "ops/f32cvt.h"
#include "ops/op.h"
#include "xx-copy/xx-copy.h"

static const int32_t lin_float_types[] = {EMBER_FLOAT, EMBER_DOUBLE,
                                          EMBER_FLOAT16, EMBER_BFLOAT16, 0};
static const int32_t lin_numeric_types[] = {
    EMBER_FLOAT,  EMBER_DOUBLE, EMBER_FLOAT16, EMBER_BFLOAT16,
    EMBER_INT8,   EMBER_UINT8,  EMBER_INT16,   EMBER_UINT16,
    EMBER_INT32,  EMBER_UINT32, EMBER_INT64,   EMBER_UINT64, 0};
static const int32_t lin_scan_types[] = {
    EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16, EMBER_BFLOAT16,
    EMBER_INT32, EMBER_UINT32, EMBER_INT64,   EMBER_UINT64, 0};
static const int32_t lin_index_types[] = {EMBER_INT32, EMBER_INT64, 0};

/* The integer element types, for per-type instantiation: suffix, C type,
 * dtype. */
#define LIN_INT_TYPES(X)                                                      \
  X(i8, int8_t, EMBER_INT8)                                                   \
  X(u8, uint8_t, EMBER_UINT8)                                                 \
  X(i16, int16_t, EMBER_INT16)                                                \
  X(u16, uint16_t, EMBER_UINT16)                                              \
  X(i32, int32_t, EMBER_INT32)                                                \
  X(u32, uint32_t, EMBER_UINT32)                                              \
  X(i64, int64_t, EMBER_INT64)                                                \
  X(u64, uint64_t, EMBER_UINT64)

#define LIN_NAN_F(v) isnan(v)
#define LIN_NAN_I(v) false

/* Sizes around `axis`: outer = product before, len = the axis (or, with
 * coerce, everything from it on: the pre-13 2-D view), inner = after. */
static void lin_split(const emb_tensor *t, int axis, bool coerce,
                      size_t *outer, size_t *len, size_t *inner) {
  *outer = *len = *inner = 1;
  for (int i = 0; i < t->rank; i++) {
    size_t d = (size_t)t->dims[i];
    if (i < axis)
      *outer *= d;
    else if (i == axis || coerce)
      *len *= d;
    else
      *inner *= d;
  }
}

/* A present input's static type is a tensor of known rank. */
static bool lin_ranked(const emb_type *t) {
  return t && t->kind == EMBER_KIND_TENSOR && t->rank >= 0;
}

/* Output i: a tensor of unknown shape with the given element type. */
static void lin_unknown_tensor(emb_type *out, int32_t dtype) {
  emb_type_unknown(out);
  out->kind = EMBER_KIND_TENSOR;
  out->dtype = dtype;
}

/* A one-element integer tensor (scalar or 1-D) as int64. */
static ember_status lin_scalar_int(const emb_node *n, const emb_tensor *t,
                                   const char *what, int64_t *out,
                                   ember_status st, emb_diag *d) {
  if (t->rank > 1 || emb_tensor_numel(t) != 1)
    return emb_op_fail(d, n, st, "%s must hold exactly one value (a scalar "
                       "or a 1-element 1-D tensor)", what);
  *out = emb_tensor_get_i64(t, 0);
  return EMBER_OK;
}

/* =============================================================== TopK */

typedef struct topk_state {
  int64_t axis, k;
  bool k_attr; /* opset < 10: k is an attribute */
  bool largest;
} topk_state;

/* For every (outer, inner) line, the indices of its k best elements,
 * best first.  A heap of the k best so far keeps its worst element at the
 * root; `before` is a strict total order (value, then lower index), so
 * the selection is deterministic.  Finally the heap is sorted in place by
 * repeatedly moving its worst element to the end. */
#define TOPK_FN(SUF, T, ISNAN)                                                \
  static bool topk_before_##SUF(const T *x, size_t st, int64_t a, int64_t b, \
                                bool largest) {                              \
    T va = x[(size_t)a * st], vb = x[(size_t)b * st];                        \
    bool na = ISNAN(va), nb = ISNAN(vb);                                     \
    if (na || nb) {                                                          \
      if (na && nb) return a < b;                                            \
      return largest ? na : nb;                                              \
    }                                                                        \
    if (va != vb) return largest ? va > vb : va < vb;                        \
    return a < b;                                                            \
  }                                                                          \
  static void topk_down_##SUF(const T *x, size_t st, int64_t *h, size_t m,   \
                              bool largest) {                                \
    size_t j = 0;                                                            \
    for (;;) {                                                               \
      size_t l = 2 * j + 1, r = l + 1, w = j;                                \
      if (l < m && topk_before_##SUF(x, st, h[w], h[l], largest)) w = l;     \
      if (r < m && topk_before_##SUF(x, st, h[w], h[r], largest)) w = r;     \
      if (w == j) return;                                                    \
      int64_t tmp = h[j];                                                    \
      h[j] = h[w];                                                           \
      h[w] = tmp;                                                            \
      j = w;                                                                 \
    }                                                                        \
  }                                                                          \
  static void topk_##SUF(const T *x, size_t outer, size_t len, size_t inner, \
                         size_t k, bool largest, int64_t *h, int64_t *idx) { \
    for (size_t o = 0; o < outer; o++)                                       \
      for (size_t i = 0; i < inner; i++) {                                   \
        const T *line = x + o * len * inner + i;                             \
        size_t m = 0;                                                        \
        for (size_t e = 0; e < len; e++) {                                   \
          if (m < k) {                                                       \
            size_t j = m++;                                                  \
            h[j] = (int64_t)e;                                               \
            while (j > 0) {                                                  \
              size_t p = (j - 1) / 2;                                        \
              if (!topk_before_##SUF(line, inner, h[p], h[j], largest))      \
                break;                                                       \
              int64_t tmp = h[j];                                            \
              h[j] = h[p];                                                   \
              h[p] = tmp;                                                    \
              j = p;                                                         \
            }                                                                \
          } else if (topk_before_##SUF(line, inner, (int64_t)e, h[0],        \
                                       largest)) {                           \
            h[0] = (int64_t)e;                                               \
            topk_down_##SUF(line, inner, h, m, largest);                     \
          }                                                                  \
        }                                                                    \
        for (size_t e = m; e > 1; e--) {                                     \
          int64_t tmp = h[0];                                                \
          h[0] = h[e - 1];                                                   \
          h[e - 1] = tmp;                                                    \
          topk_down_##SUF(line, inner, h, e - 1, largest);                   \
        }                                                                    \
        for (size_t j = 0; j < k; j++) idx[(o * k + j) * inner + i] = h[j];  \
      }                                                                      \
  }
TOPK_FN(f32, float, LIN_NAN_F)
TOPK_FN(f64, double, LIN_NAN_F)
#define TOPK_INT(SUF, T, DT) TOPK_FN(SUF, T, LIN_NAN_I)
LIN_INT_TYPES(TOPK_INT)

static ember_status topk_init(emb_init_ctx *c) {
  topk_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const emb_node *n = c->node;
  ember_status st = emb_attr_int(n, "axis", -1, &s->axis, c->diag);
  if (st) return st;
  s->k_attr = n->opset < 10;
  if (s->k_attr) {
    if (n->n_in > 1)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "takes one input before opset 10 (k is an "
                         "attribute), got %d", n->n_in);
    if (!emb_node_attr(n, "k"))
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "attribute 'k' is required before opset 10");
    if ((st = emb_attr_int(n, "k", 0, &s->k, c->diag))) return st;
    if (s->k < 0)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "k must not be negative, got %lld", (long long)s->k);
  } else if (n->n_in < 2 || n->in[1] < 0) {
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "input K is required from opset 10");
  }
  int64_t largest = 1;
  if (n->opset >= 11 &&
      (st = emb_attr_int(n, "largest", 1, &largest, c->diag)))
    return st;
  s->largest = largest != 0;
  /* `sorted` = 0 leaves the order unspecified; sorted output is one. */
  c->node->state = s;
  return EMBER_OK;
}

static ember_status topk_infer(emb_infer_ctx *c) {
  const topk_state *s = c->node->state;
  ember_status st = emb_infer_check_dtype(c, 0, lin_numeric_types);
  if (st) return st;
  if (!s->k_attr && (st = emb_infer_check_dtype(c, 1, lin_index_types)))
    return st;
  ember_status bad = c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL;
  int64_t k = -1;
  if (s->k_attr) {
    k = s->k;
  } else if (c->values && c->values[1]) {
    if ((st = lin_scalar_int(c->node, c->values[1], "K", &k, bad, c->diag)))
      return st;
    if (k < 0)
      return emb_op_fail(c->diag, c->node, bad,
                         "K must not be negative, got %lld", (long long)k);
  }
  const emb_type *x = c->in[0];
  int32_t dt = x && x->kind ? x->dtype : 0;
  for (int i = 0; i < c->n_out && i < 2; i++)
    lin_unknown_tensor(&c->out[i], i ? EMBER_INT64 : dt);
  if (!lin_ranked(x)) return EMBER_OK;
  int axis;
  if ((st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag))) return st;
  if (k >= 0 && x->dims[axis].v >= 0 && k > x->dims[axis].v)
    return emb_op_fail(c->diag, c->node, bad,
                       "K = %lld exceeds the size %lld of axis %d",
                       (long long)k, (long long)x->dims[axis].v, axis);
  for (int i = 0; i < c->n_out && i < 2; i++) {
    c->out[i] = *x;
    c->out[i].dtype = i ? EMBER_INT64 : x->dtype;
    c->out[i].dims[axis] = (emb_dim){k, 0};
  }
  return EMBER_OK;
}

static ember_status topk_run(emb_run_ctx *c) {
  const topk_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *vals = emb_out_t(c, 0), *inds = emb_out_t(c, 1);
  int axis;
  ember_status st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag);
  if (st) return st;
  const emb_tensor *shape = vals ? vals : inds;
  if (!shape) return EMBER_OK;
  size_t k = (size_t)shape->dims[axis], outer, len, inner;
  lin_split(x, axis, false, &outer, &len, &inner);
  size_t nout = outer * k * inner;
  if (nout == 0) return EMBER_OK;
  bool half = emb_is_half(x->dtype);
  size_t numel = outer * len * inner;
  size_t heap_b = emb_align64(k * sizeof(int64_t));
  size_t idx_b = inds ? 0 : emb_align64(nout * sizeof(int64_t));
  char *mem = emb_scratch(c, heap_b + idx_b + (half ? numel * 4 : 0));
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t *heap = (int64_t *)mem;
  int64_t *idx = inds ? inds->data : (int64_t *)(mem + heap_b);
  const void *keys = x->data;
  int32_t kt = x->dtype;
  if (half) {
    float *f = (float *)(mem + heap_b + idx_b);
    emb_cvt_to_f32(x->dtype, x->data, numel, f);
    keys = f;
    kt = EMBER_FLOAT;
  }
  switch (kt) {
  case EMBER_FLOAT:
    topk_f32(keys, outer, len, inner, k, s->largest, heap, idx);
    break;
  case EMBER_DOUBLE:
    topk_f64(keys, outer, len, inner, k, s->largest, heap, idx);
    break;
#define TOPK_CASE(SUF, T, DT)                                                 \
  case DT:                                                                    \
    topk_##SUF(keys, outer, len, inner, k, s->largest, heap, idx);            \
    break;
    LIN_INT_TYPES(TOPK_CASE)
  default:
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(x->dtype));
  }
  if (vals) { /* values are copied, not recomputed: exact for every type */
    size_t es = (size_t)emb_dtype_bits(x->dtype) / 8;
    const char *src = x->data;
    char *dst = vals->data;
    for (size_t o = 0; o < outer; o++)
      for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < inner; i++) {
          size_t at = (o * k + j) * inner + i;
          size_t from = (o * len + (size_t)idx[at]) * inner + i;
          memcpy(dst + at * es, src + from * es, es);
        }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_topk = {1, 2, 2, 2, 0, topk_init, topk_infer, topk_run};

/* ====================================================== CumSum, CumProd */

typedef struct scan_state {
  bool exclusive, reverse, prod;
} scan_state;

/* acc[i] carries the running total of line (o, i) while the lines are
 * walked together, so the memory order stays sequential.  Integers run in
 * uint64 (wrap-around, no undefined overflow) and are truncated back;
 * floats accumulate in double. */
#define SCAN_FN(SUF, T, ACC)                                                  \
  static void scan_##SUF(const T *x, T *y, size_t outer, size_t len,         \
                         size_t inner, const scan_state *s, ACC *acc) {      \
    for (size_t o = 0; o < outer; o++) {                                     \
      for (size_t i = 0; i < inner; i++) acc[i] = s->prod ? 1 : 0;          \
      for (size_t q = 0; q < len; q++) {                                     \
        size_t l = s->reverse ? len - 1 - q : q;                             \
        const T *xl = x + (o * len + l) * inner;                             \
        T *yl = y + (o * len + l) * inner;                                   \
        for (size_t i = 0; i < inner; i++) {                                 \
          ACC v = (ACC)xl[i], prev = acc[i];                                 \
          acc[i] = s->prod ? prev * v : prev + v;                            \
          yl[i] = (T)(s->exclusive ? prev : acc[i]);                         \
        }                                                                    \
      }                                                                      \
    }                                                                        \
  }
SCAN_FN(f32, float, double)
SCAN_FN(f64, double, double)
SCAN_FN(i32, int32_t, uint64_t)
SCAN_FN(u32, uint32_t, uint64_t)
SCAN_FN(i64, int64_t, uint64_t)
SCAN_FN(u64, uint64_t, uint64_t)

static ember_status scan_init_common(emb_init_ctx *c, bool prod) {
  scan_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t ex, rev;
  ember_status st = emb_attr_int(c->node, "exclusive", 0, &ex, c->diag);
  if (!st) st = emb_attr_int(c->node, "reverse", 0, &rev, c->diag);
  if (st) return st;
  s->exclusive = ex != 0;
  s->reverse = rev != 0;
  s->prod = prod;
  c->node->state = s;
  return EMBER_OK;
}
static ember_status cumsum_init(emb_init_ctx *c) {
  return scan_init_common(c, false);
}
static ember_status cumprod_init(emb_init_ctx *c) {
  return scan_init_common(c, true);
}

static ember_status scan_infer(emb_infer_ctx *c) {
  ember_status st = emb_infer_check_dtype(c, 0, lin_scan_types);
  if (!st) st = emb_infer_check_dtype(c, 1, lin_index_types);
  if (st) return st;
  const emb_type *x = c->in[0];
  const emb_tensor *av = c->values ? c->values[1] : NULL;
  if (av && lin_ranked(x)) {
    ember_status bad = c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL;
    int64_t a = 0;
    int axis;
    if ((st = lin_scalar_int(c->node, av, "axis", &a, bad, c->diag)) ||
        (st = emb_axis(c->node, a, x->rank, &axis, c->diag)))
      return st;
  }
  return emb_infer_same(c);
}

static ember_status scan_run(emb_run_ctx *c) {
  const scan_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  int64_t a = 0;
  int axis;
  ember_status st = lin_scalar_int(c->node, emb_in_t(c, 1), "axis", &a,
                                   EMBER_ERR_RUNTIME, c->diag);
  if (!st) st = emb_axis(c->node, a, x->rank, &axis, c->diag);
  if (st) return st;
  size_t outer, len, inner;
  lin_split(x, axis, false, &outer, &len, &inner);
  size_t num = outer * len * inner;
  if (num == 0) return EMBER_OK;
  bool half = emb_is_half(x->dtype);
  size_t acc_b = emb_align64(inner * 8);
  char *mem = emb_scratch(c, acc_b + (half ? num * 4 : 0));
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  switch (x->dtype) {
  case EMBER_FLOAT:
    scan_f32(x->data, y->data, outer, len, inner, s, (double *)mem);
    break;
  case EMBER_DOUBLE:
    scan_f64(x->data, y->data, outer, len, inner, s, (double *)mem);
    break;
  case EMBER_FLOAT16:
  case EMBER_BFLOAT16: {
    float *buf = (float *)(mem + acc_b);
    emb_cvt_to_f32(x->dtype, x->data, num, buf);
    scan_f32(buf, buf, outer, len, inner, s, (double *)mem);
    emb_cvt_from_f32(x->dtype, buf, num, y->data);
    break;
  }
  case EMBER_INT32:
    scan_i32(x->data, y->data, outer, len, inner, s, (uint64_t *)mem);
    break;
  case EMBER_UINT32:
    scan_u32(x->data, y->data, outer, len, inner, s, (uint64_t *)mem);
    break;
  case EMBER_INT64:
    scan_i64(x->data, y->data, outer, len, inner, s, (uint64_t *)mem);
    break;
  case EMBER_UINT64:
    scan_u64(x->data, y->data, outer, len, inner, s, (uint64_t *)mem);
    break;
  default:
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(x->dtype));
  }
  return EMBER_OK;
}

const emb_opdef emb_op_cumsum = {2,          2,         1, 1, 0, cumsum_init,
                                 scan_infer, scan_run};
const emb_opdef emb_op_cumprod = {2,          2,         1, 1, 0, cumprod_init,
                                  scan_infer, scan_run};

/* ============================================= ArgMax, ArgMin, Hardmax */

/* The index of each line's maximum (or minimum).  A NaN wins over any
 * number; among equals the first (or, with `last`, the last) is taken. */
#define ARG_FN(SUF, T, ISNAN)                                                 \
  static void arg_##SUF(const T *x, size_t outer, size_t len, size_t inner,  \
                        bool is_max, bool last, int64_t *y) {                \
    for (size_t o = 0; o < outer; o++)                                       \
      for (size_t i = 0; i < inner; i++) {                                   \
        const T *p = x + o * len * inner + i;                                \
        int64_t bi = 0;                                                      \
        T bv = p[0];                                                         \
        bool bn = ISNAN(bv);                                                 \
        for (size_t l = 1; l < len; l++) {                                   \
          T v = p[l * inner];                                                \
          bool vn = ISNAN(v);                                                \
          if (bn) {                                                          \
            if (vn && last) bi = (int64_t)l;                                 \
          } else if (vn) {                                                   \
            bi = (int64_t)l;                                                 \
            bn = true;                                                       \
          } else if ((is_max ? v > bv : v < bv) || (last && v == bv)) {      \
            bi = (int64_t)l;                                                 \
            bv = v;                                                          \
          }                                                                  \
        }                                                                    \
        y[o * inner + i] = bi;                                               \
      }                                                                      \
  }
ARG_FN(f32, float, LIN_NAN_F)
ARG_FN(f64, double, LIN_NAN_F)
#define ARG_INT(SUF, T, DT) ARG_FN(SUF, T, LIN_NAN_I)
LIN_INT_TYPES(ARG_INT)

/* Dispatch arg_<type> on a tensor; float16/bfloat16 keys must already be
 * float32 (kt = EMBER_FLOAT). */
static bool arg_dispatch(int32_t kt, const void *x, size_t outer, size_t len,
                         size_t inner, bool is_max, bool last, int64_t *y) {
  switch (kt) {
  case EMBER_FLOAT:
    arg_f32(x, outer, len, inner, is_max, last, y);
    return true;
  case EMBER_DOUBLE:
    arg_f64(x, outer, len, inner, is_max, last, y);
    return true;
#define ARG_CASE(SUF, T, DT)                                                  \
  case DT:                                                                    \
    arg_##SUF(x, outer, len, inner, is_max, last, y);                         \
    return true;
    LIN_INT_TYPES(ARG_CASE)
  default:
    return false;
  }
}

typedef struct arg_state {
  int64_t axis;
  bool keepdims, last, is_max;
} arg_state;

static ember_status arg_init_common(emb_init_ctx *c, bool is_max) {
  arg_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t keep, last = 0;
  ember_status st = emb_attr_int(c->node, "axis", 0, &s->axis, c->diag);
  if (!st) st = emb_attr_int(c->node, "keepdims", 1, &keep, c->diag);
  if (!st && c->node->opset >= 12)
    st = emb_attr_int(c->node, "select_last_index", 0, &last, c->diag);
  if (st) return st;
  s->keepdims = keep != 0;
  s->last = last != 0;
  s->is_max = is_max;
  c->node->state = s;
  return EMBER_OK;
}
static ember_status argmax_init(emb_init_ctx *c) {
  return arg_init_common(c, true);
}
static ember_status argmin_init(emb_init_ctx *c) {
  return arg_init_common(c, false);
}

static ember_status arg_infer(emb_infer_ctx *c) {
  const arg_state *s = c->node->state;
  ember_status st = emb_infer_check_dtype(c, 0, lin_numeric_types);
  if (st) return st;
  const emb_type *x = c->in[0];
  lin_unknown_tensor(&c->out[0], EMBER_INT64);
  if (!lin_ranked(x)) return EMBER_OK;
  int axis;
  if ((st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag))) return st;
  if (x->dims[axis].v == 0)
    return emb_op_fail(c->diag, c->node,
                       c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_SHAPE,
                       "cannot reduce the empty axis %d", axis);
  emb_type *y = &c->out[0];
  *y = *x;
  y->dtype = EMBER_INT64;
  if (s->keepdims) {
    y->dims[axis] = (emb_dim){1, 0};
  } else {
    for (int i = axis; i + 1 < x->rank; i++) y->dims[i] = x->dims[i + 1];
    y->rank = x->rank - 1;
  }
  return EMBER_OK;
}

static ember_status arg_run(emb_run_ctx *c) {
  const arg_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  int axis;
  ember_status st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag);
  if (st) return st;
  size_t outer, len, inner;
  lin_split(x, axis, false, &outer, &len, &inner);
  if (outer * inner == 0) return EMBER_OK;
  if (len == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "cannot reduce the empty axis %d", axis);
  const void *keys = x->data;
  int32_t kt = x->dtype;
  if (emb_is_half(kt)) {
    size_t num = outer * len * inner;
    float *f = emb_scratch(c, num * 4);
    if (!f) return EMBER_ERR_OUT_OF_MEMORY;
    emb_cvt_to_f32(kt, x->data, num, f);
    keys = f;
    kt = EMBER_FLOAT;
  }
  if (!arg_dispatch(kt, keys, outer, len, inner, s->is_max, s->last, y->data))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(x->dtype));
  return EMBER_OK;
}

const emb_opdef emb_op_argmax = {1,         1,      1, 1, 0, argmax_init,
                                 arg_infer, arg_run};
const emb_opdef emb_op_argmin = {1,         1,      1, 1, 0, argmin_init,
                                 arg_infer, arg_run};

typedef struct hardmax_state {
  int64_t axis;
  bool coerce; /* opset < 13: 2-D view at axis */
} hardmax_state;

static ember_status hardmax_init(emb_init_ctx *c) {
  hardmax_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->coerce = c->node->opset < 13;
  ember_status st =
      emb_attr_int(c->node, "axis", s->coerce ? 1 : -1, &s->axis, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

/* The axis in [0, rank] (coerce: the 2-D split may fall after the last
 * axis) or [0, rank). */
static ember_status hardmax_axis(const emb_node *n, const hardmax_state *s,
                                 int rank, int *axis, emb_diag *d) {
  if (s->coerce) {
    if (s->axis < -(int64_t)rank || s->axis > rank)
      return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                         "axis %lld out of range for rank %d",
                         (long long)s->axis, rank);
    *axis = (int)(s->axis < 0 ? s->axis + rank : s->axis);
    return EMBER_OK;
  }
  return emb_axis(n, s->axis, rank, axis, d);
}

static ember_status hardmax_infer(emb_infer_ctx *c) {
  const hardmax_state *s = c->node->state;
  ember_status st = emb_infer_check_dtype(c, 0, lin_float_types);
  if (st) return st;
  const emb_type *x = c->in[0];
  int axis;
  if (lin_ranked(x) &&
      (st = hardmax_axis(c->node, s, x->rank, &axis, c->diag)))
    return st;
  return emb_infer_same(c);
}

static ember_status hardmax_run(emb_run_ctx *c) {
  const hardmax_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  int axis;
  ember_status st = hardmax_axis(c->node, s, x->rank, &axis, c->diag);
  if (st) return st;
  size_t outer, len, inner;
  lin_split(x, axis, s->coerce, &outer, &len, &inner);
  size_t num = outer * len * inner, lines = outer * inner;
  memset(y->data, 0, y->nbytes);
  if (num == 0) return EMBER_OK;
  bool half = emb_is_half(x->dtype);
  size_t idx_b = emb_align64(lines * sizeof(int64_t));
  char *mem = emb_scratch(c, idx_b + (half ? num * 4 : 0));
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t *idx = (int64_t *)mem;
  const void *keys = x->data;
  int32_t kt = x->dtype;
  if (half) {
    float *f = (float *)(mem + idx_b);
    emb_cvt_to_f32(kt, x->data, num, f);
    keys = f;
    kt = EMBER_FLOAT;
  }
  if (!arg_dispatch(kt, keys, outer, len, inner, true, false, idx))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(x->dtype));
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++)
      emb_tensor_set_f64(y, (o * len + (size_t)idx[o * inner + i]) * inner + i,
                         1.0);
  return EMBER_OK;
}

const emb_opdef emb_op_hardmax = {1,           1,           1, 1, 0,
                                  hardmax_init, hardmax_infer, hardmax_run};

/* ===================================================== LpNormalization */

typedef struct lpnorm_state {
  int64_t axis;
  bool l1;
} lpnorm_state;

/* y = x / ||line||_p with the norm accumulated in double; an all-zero line
 * stays zero. */
#define LPNORM_FN(SUF, T)                                                     \
  static void lpnorm_##SUF(const T *x, T *y, size_t outer, size_t len,       \
                           size_t inner, bool l1, double *acc) {             \
    for (size_t o = 0; o < outer; o++) {                                     \
      const T *xo = x + o * len * inner;                                     \
      T *yo = y + o * len * inner;                                           \
      for (size_t i = 0; i < inner; i++) acc[i] = 0.0;                       \
      for (size_t l = 0; l < len; l++)                                       \
        for (size_t i = 0; i < inner; i++) {                                 \
          double v = (double)xo[l * inner + i];                              \
          acc[i] += l1 ? fabs(v) : v * v;                                    \
        }                                                                    \
      if (!l1)                                                               \
        for (size_t i = 0; i < inner; i++) acc[i] = sqrt(acc[i]);            \
      for (size_t l = 0; l < len; l++)                                       \
        for (size_t i = 0; i < inner; i++)                                   \
          yo[l * inner + i] =                                                \
              acc[i] == 0.0 ? (T)0 : (T)((double)xo[l * inner + i] / acc[i]);\
    }                                                                        \
  }
LPNORM_FN(f32, float)
LPNORM_FN(f64, double)

static ember_status lpnorm_init(emb_init_ctx *c) {
  lpnorm_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t p;
  ember_status st = emb_attr_int(c->node, "axis", -1, &s->axis, c->diag);
  if (!st) st = emb_attr_int(c->node, "p", 2, &p, c->diag);
  if (st) return st;
  if (p != 1 && p != 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "p must be 1 or 2, got %lld", (long long)p);
  s->l1 = p == 1;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status lpnorm_infer(emb_infer_ctx *c) {
  const lpnorm_state *s = c->node->state;
  ember_status st = emb_infer_check_dtype(c, 0, lin_float_types);
  if (st) return st;
  int axis;
  if (lin_ranked(c->in[0]) &&
      (st = emb_axis(c->node, s->axis, c->in[0]->rank, &axis, c->diag)))
    return st;
  return emb_infer_same(c);
}

static ember_status lpnorm_run(emb_run_ctx *c) {
  const lpnorm_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  int axis;
  ember_status st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag);
  if (st) return st;
  size_t outer, len, inner;
  lin_split(x, axis, false, &outer, &len, &inner);
  size_t num = outer * len * inner;
  if (num == 0) return EMBER_OK;
  bool half = emb_is_half(x->dtype);
  size_t acc_b = emb_align64(inner * sizeof(double));
  char *mem = emb_scratch(c, acc_b + (half ? num * 4 : 0));
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  double *acc = (double *)mem;
  if (x->dtype == EMBER_DOUBLE) {
    lpnorm_f64(x->data, y->data, outer, len, inner, s->l1, acc);
  } else if (!half) {
    lpnorm_f32(x->data, y->data, outer, len, inner, s->l1, acc);
  } else {
    float *buf = (float *)(mem + acc_b);
    emb_cvt_to_f32(x->dtype, x->data, num, buf);
    lpnorm_f32(buf, buf, outer, len, inner, s->l1, acc);
    emb_cvt_from_f32(x->dtype, buf, num, y->data);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_lpnormalization = {
    1, 1, 1, 1, 0, lpnorm_init, lpnorm_infer, lpnorm_run};

/* =========================================== MeanVarianceNormalization */

/* The ONNX function body adds this to the standard deviation. */
#define MVN_EPSILON 1e-9

typedef struct mvn_state {
  size_t n_axes;
  const int64_t *axes; /* borrowed from the IR */
  int64_t def_axes[3];
} mvn_state;

/* Normalised axes as a bit mask; fails on out-of-range or repeated axes. */
static ember_status mvn_mask(const emb_node *n, const mvn_state *s, int rank,
                             uint32_t *mask, emb_diag *d) {
  /* An empty list reduces over everything, as ReduceMean in the
   * function body does. */
  *mask = s->n_axes ? 0 : (uint32_t)((1ull << rank) - 1);
  for (size_t i = 0; i < s->n_axes; i++) {
    int a;
    ember_status st = emb_axis(n, s->axes[i], rank, &a, d);
    if (st) return st;
    if (*mask & (1u << a))
      return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                         "axis %lld appears twice in 'axes'",
                         (long long)s->axes[i]);
    *mask |= 1u << a;
  }
  return EMBER_OK;
}

/* Step the row-major multi-index `idx` and keep g, the flat index of the
 * element's group (its coordinates on the kept axes), in step. */
static void mvn_next(int rank, const int64_t *dims, const int64_t *gs,
                     int64_t *idx, size_t *g) {
  for (int k = rank - 1; k >= 0; k--) {
    *g += (size_t)gs[k];
    if (++idx[k] < dims[k]) return;
    *g -= (size_t)(gs[k] * dims[k]);
    idx[k] = 0;
  }
}

/* Three passes in double: group means, group variances (centred, so no
 * cancellation), then (x - mean) / (std + epsilon). */
#define MVN_FN(SUF, T)                                                        \
  static void mvn_##SUF(const T *x, T *y, int rank, const int64_t *dims,     \
                        const int64_t *gs, size_t num, size_t ng,            \
                        double *mean, double *sd) {                          \
    double cnt = (double)(num / ng);                                         \
    int64_t idx[EMB_MAX_RANK];                                               \
    size_t g;                                                                \
    for (size_t j = 0; j < ng; j++) mean[j] = sd[j] = 0.0;                   \
    memset(idx, 0, sizeof idx);                                              \
    g = 0;                                                                   \
    for (size_t e = 0; e < num; e++) {                                       \
      mean[g] += (double)x[e];                                               \
      mvn_next(rank, dims, gs, idx, &g);                                     \
    }                                                                        \
    for (size_t j = 0; j < ng; j++) mean[j] /= cnt;                          \
    g = 0;                                                                   \
    for (size_t e = 0; e < num; e++) {                                       \
      double dv = (double)x[e] - mean[g];                                    \
      sd[g] += dv * dv;                                                      \
      mvn_next(rank, dims, gs, idx, &g);                                     \
    }                                                                        \
    for (size_t j = 0; j < ng; j++) sd[j] = sqrt(sd[j] / cnt) + MVN_EPSILON; \
    g = 0;                                                                   \
    for (size_t e = 0; e < num; e++) {                                       \
      y[e] = (T)(((double)x[e] - mean[g]) / sd[g]);                          \
      mvn_next(rank, dims, gs, idx, &g);                                     \
    }                                                                        \
  }
MVN_FN(f32, float)
MVN_FN(f64, double)

static ember_status mvn_init(emb_init_ctx *c) {
  mvn_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_attr_ints(c->node, "axes", &s->axes, &s->n_axes,
                                  c->diag);
  if (st) return st;
  if (!emb_node_attr(c->node, "axes")) {
    s->def_axes[0] = 0;
    s->def_axes[1] = 2;
    s->def_axes[2] = 3;
    s->axes = s->def_axes;
    s->n_axes = 3;
  }
  c->node->state = s;
  return EMBER_OK;
}

static ember_status mvn_infer(emb_infer_ctx *c) {
  const mvn_state *s = c->node->state;
  ember_status st = emb_infer_check_dtype(c, 0, lin_float_types);
  if (st) return st;
  uint32_t mask;
  if (lin_ranked(c->in[0]) &&
      (st = mvn_mask(c->node, s, c->in[0]->rank, &mask, c->diag)))
    return st;
  return emb_infer_same(c);
}

static ember_status mvn_run(emb_run_ctx *c) {
  const mvn_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  uint32_t mask;
  ember_status st = mvn_mask(c->node, s, x->rank, &mask, c->diag);
  if (st) return st;
  size_t num = emb_tensor_numel(x);
  if (num == 0) return EMBER_OK;
  int64_t gs[EMB_MAX_RANK];
  size_t ng = 1;
  for (int k = x->rank - 1; k >= 0; k--) {
    gs[k] = (mask >> k & 1u) ? 0 : (int64_t)ng;
    if (!(mask >> k & 1u)) ng *= (size_t)x->dims[k];
  }
  bool half = emb_is_half(x->dtype);
  size_t st_b = emb_align64(ng * sizeof(double));
  char *mem = emb_scratch(c, 2 * st_b + (half ? num * 4 : 0));
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  double *mean = (double *)mem, *sd = (double *)(mem + st_b);
  if (x->dtype == EMBER_DOUBLE) {
    mvn_f64(x->data, y->data, x->rank, x->dims, gs, num, ng, mean, sd);
  } else if (!half) {
    mvn_f32(x->data, y->data, x->rank, x->dims, gs, num, ng, mean, sd);
  } else {
    float *buf = (float *)(mem + 2 * st_b);
    emb_cvt_to_f32(x->dtype, x->data, num, buf);
    mvn_f32(buf, buf, x->rank, x->dims, gs, num, ng, mean, sd);
    emb_cvt_from_f32(x->dtype, buf, num, y->data);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_meanvariancenormalization = {
    1, 1, 1, 1, 0, mvn_init, mvn_infer, mvn_run};

/* ================================================================ Det */

/* Determinant of the n x n row-major matrix in a (destroyed): Gaussian
 * elimination choosing the largest pivot of each column; a zero column
 * means a singular matrix. */
static double det_lu(double *a, size_t n) {
  double det = 1.0;
  for (size_t col = 0; col < n; col++) {
    size_t piv = col;
    double best = fabs(a[col * n + col]);
    for (size_t r = col + 1; r < n; r++)
      if (fabs(a[r * n + col]) > best) {
        best = fabs(a[r * n + col]);
        piv = r;
      }
    if (best == 0.0) return 0.0;
    if (piv != col) {
      for (size_t j = 0; j < n; j++) {
        double t = a[col * n + j];
        a[col * n + j] = a[piv * n + j];
        a[piv * n + j] = t;
      }
      det = -det;
    }
    double p = a[col * n + col];
    det *= p;
    for (size_t r = col + 1; r < n; r++) {
      double f = a[r * n + col] / p;
      if (f == 0.0) continue;
      for (size_t j = col + 1; j < n; j++) a[r * n + j] -= f * a[col * n + j];
    }
  }
  return det;
}

static ember_status det_infer(emb_infer_ctx *c) {
  ember_status st = emb_infer_check_dtype(c, 0, lin_float_types);
  if (st) return st;
  const emb_type *x = c->in[0];
  lin_unknown_tensor(&c->out[0], x && x->kind ? x->dtype : 0);
  if (!lin_ranked(x)) return EMBER_OK;
  if (x->rank < 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input must have rank 2 or more, got rank %d",
                       (int)x->rank);
  emb_dim m = x->dims[x->rank - 2], n = x->dims[x->rank - 1];
  if (m.v >= 0 && n.v >= 0 && m.v != n.v)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "matrices must be square, got %lld x %lld",
                       (long long)m.v, (long long)n.v);
  c->out[0] = *x;
  c->out[0].rank = x->rank - 2;
  return EMBER_OK;
}

static ember_status det_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  size_t n = (size_t)x->dims[x->rank - 1];
  size_t batch = emb_tensor_numel(y), nn = n * n;
  if (batch == 0) return EMBER_OK;
  double *a = emb_scratch(c, (nn ? nn : 1) * sizeof(double));
  if (!a) return EMBER_ERR_OUT_OF_MEMORY;
  for (size_t b = 0; b < batch; b++) {
    const size_t base = b * nn;
    switch (x->dtype) {
    case EMBER_FLOAT: {
      const float *p = (const float *)x->data + base;
      for (size_t i = 0; i < nn; i++) a[i] = p[i];
      break;
    }
    case EMBER_DOUBLE:
      memcpy(a, (const double *)x->data + base, nn * sizeof(double));
      break;
    default:
      for (size_t i = 0; i < nn; i++) a[i] = emb_tensor_get_f64(x, base + i);
      break;
    }
    emb_tensor_set_f64(y, b, det_lu(a, n));
  }
  return EMBER_OK;
}

const emb_opdef emb_op_det = {1, 1, 1, 1, 0, NULL, det_infer, det_run};

/* ============================================================= Einsum */

/* Labels: 'A'..'Z' are 0..25 and 'a'..'z' 26..51 (so numeric order is
 * ASCII order, as the implicit output needs); the ellipsis dimensions are
 * 52 + j, right-aligned across operands like numpy broadcasting. */
#define EIN_LETTERS 52
#define EIN_NLAB (EIN_LETTERS + EMB_MAX_RANK)

typedef struct ein_term {
  int n;                   /* letters                                    */
  int ell;                 /* letters before the "...", or -1 for none   */
  int8_t ch[EIN_LETTERS];  /* label ids of the letters                   */
} ein_term;

typedef struct ein_state {
  bool explicit_out;
  ein_term out;
  int n_terms;
  ein_term terms[]; /* one per input */
} ein_state;

static int ein_letter(char ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return 26 + (ch - 'a');
  return -1;
}

static char ein_char(int lab) {
  return lab < 26 ? (char)('A' + lab) : (char)('a' + lab - 26);
}

/* Parse the term in s[0..len) (spaces allowed anywhere). */
static ember_status ein_parse_term(const emb_node *n, const char *s,
                                   size_t len, bool is_out, ein_term *t,
                                   emb_diag *d) {
  t->n = 0;
  t->ell = -1;
  for (size_t i = 0; i < len;) {
    char ch = s[i];
    if (ch == ' ') {
      i++;
      continue;
    }
    if (ch == '.') {
      if (i + 3 > len || s[i + 1] != '.' || s[i + 2] != '.')
        return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                           "equation has a '.' outside an ellipsis");
      if (t->ell >= 0)
        return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                           "equation has two ellipses in one term");
      t->ell = t->n;
      i += 3;
      continue;
    }
    int lab = ein_letter(ch);
    if (lab < 0)
      return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                         "equation has the invalid character '%c'", ch);
    if (is_out) {
      for (int j = 0; j < t->n; j++)
        if (t->ch[j] == lab)
          return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                             "subscript '%c' appears twice in the output",
                             ch);
    } else if (t->n >= EMB_MAX_RANK) {
      return emb_op_fail(d, n, EMBER_ERR_LIMIT,
                         "a term has more than %d subscripts", EMB_MAX_RANK);
    }
    t->ch[t->n++] = (int8_t)lab;
    i++;
  }
  return EMBER_OK;
}

static ember_status einsum_init(emb_init_ctx *c) {
  const emb_node *n = c->node;
  const char *eq;
  ember_status st = emb_attr_string(n, "equation", NULL, &eq, c->diag);
  if (st) return st;
  if (!eq)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "attribute 'equation' is required");
  const char *arrow = strstr(eq, "->");
  if (arrow && strstr(arrow + 2, "->"))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "equation has more than one '->'");
  size_t lhs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
  int n_terms = 1;
  for (size_t i = 0; i < lhs_len; i++) n_terms += eq[i] == ',';
  if (n_terms != n->n_in)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "equation '%s' has %d operand terms but the node has "
                       "%d inputs", eq, n_terms, n->n_in);
  for (int i = 0; i < n->n_in; i++)
    if (n->in[i] < 0)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "input %d is missing", i);
  ein_state *s = emb_op_state(
      c, sizeof *s + (size_t)n_terms * sizeof(ein_term));
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->n_terms = n_terms;
  const char *p = eq;
  for (int t = 0; t < n_terms; t++) {
    const char *end = p;
    while (end < eq + lhs_len && *end != ',') end++;
    if ((st = ein_parse_term(n, p, (size_t)(end - p), false, &s->terms[t],
                             c->diag)))
      return st;
    p = end + 1;
  }
  s->explicit_out = arrow != NULL;
  if (s->explicit_out) {
    if ((st = ein_parse_term(n, arrow + 2, strlen(arrow + 2), true, &s->out,
                             c->diag)))
      return st;
    for (int j = 0; j < s->out.n; j++) {
      bool found = false;
      for (int t = 0; t < n_terms && !found; t++)
        for (int i = 0; i < s->terms[t].n && !found; i++)
          found = s->terms[t].ch[i] == s->out.ch[j];
      if (!found)
        return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                           "output subscript '%c' is not in any input",
                           ein_char(s->out.ch[j]));
    }
  } else {
    /* Implicit: the letters used exactly once, in ASCII order, after the
     * ellipsis dimensions if any term has them. */
    int count[EIN_LETTERS] = {0};
    bool ell = false;
    for (int t = 0; t < n_terms; t++) {
      for (int i = 0; i < s->terms[t].n; i++) count[s->terms[t].ch[i]]++;
      ell |= s->terms[t].ell >= 0;
    }
    s->out.n = 0;
    s->out.ell = ell ? 0 : -1;
    for (int l = 0; l < EIN_LETTERS; l++)
      if (count[l] == 1) s->out.ch[s->out.n++] = (int8_t)l;
  }
  c->node->state = s;
  return EMBER_OK;
}

/* The number of ellipsis dimensions, E, from the input ranks; fails when
 * a rank does not fit its term. */
static ember_status ein_ellipsis(const emb_node *n, const ein_state *s,
                                 const int *ranks, int *E, emb_diag *d) {
  *E = 0;
  for (int t = 0; t < s->n_terms; t++) {
    const ein_term *tm = &s->terms[t];
    int e = ranks[t] - tm->n;
    if (tm->ell < 0 ? e != 0 : e < 0)
      return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                         "input %d has rank %d but its term has %d "
                         "subscripts%s", t, ranks[t], tm->n,
                         tm->ell >= 0 ? " and an ellipsis" : "");
    if (e > *E) *E = e;
  }
  /* numpy (the reference) refuses to drop the ellipsis dimensions
   * silently; so do we rather than guess a sum. */
  if (s->explicit_out && s->out.ell < 0 && *E > 0)
    return emb_op_fail(d, n, EMBER_ERR_SHAPE,
                       "the output has no '...' for the %d dimension%s the "
                       "ellipsis stands for", *E, *E > 1 ? "s" : "");
  return EMBER_OK;
}

/* The label of every axis of input t (rank `rank`). */
static void ein_input_labels(const ein_term *tm, int rank, int E,
                             int8_t *lab) {
  int e = rank - tm->n, a = 0;
  for (int i = 0; i <= tm->n; i++) {
    if (i == tm->ell)
      for (int j = 0; j < e; j++)
        lab[a++] = (int8_t)(EIN_LETTERS + (E - e) + j);
    if (i < tm->n) lab[a++] = tm->ch[i];
  }
}

/* The output labels in order. */
static int ein_output_labels(const ein_state *s, int E, int8_t *olab) {
  const ein_term *o = &s->out;
  int r = 0;
  for (int i = 0; i <= o->n; i++) {
    if (i == o->ell)
      for (int j = 0; j < E; j++) olab[r++] = (int8_t)(EIN_LETTERS + j);
    if (i < o->n) olab[r++] = o->ch[i];
  }
  return r;
}

/* Whether the output's rank depends on the inputs' ranks. */
static bool ein_out_needs_ellipsis(const ein_state *s) {
  if (s->out.ell < 0) return false;
  for (int t = 0; t < s->n_terms; t++)
    if (s->terms[t].ell >= 0) return true;
  return false;
}

/* Size of a label during inference: `have` 0 nothing seen, 1 only size-1
 * dims, 2 a definite size > 1 (or 0), 3 unknown. */
typedef struct ein_dimacc {
  emb_dim d;
  int have;
} ein_dimacc;

static bool ein_merge_dim(ein_dimacc *a, emb_dim d) {
  if (d.v == 1) {
    if (!a->have) {
      a->d = d;
      a->have = 1;
    }
  } else if (d.v >= 0) {
    if (a->have == 2 && a->d.v != d.v) return false;
    a->d = d;
    a->have = 2;
  } else if (a->have == 3) {
    if (a->d.sym != d.sym) a->d.sym = 0;
  } else if (a->have != 2) {
    a->d = d;
    a->have = 3;
  }
  return true;
}

static ember_status einsum_infer(emb_infer_ctx *c) {
  const ein_state *s = c->node->state;
  ember_status st = emb_infer_check_dtype(c, 0, lin_numeric_types);
  if (!st) st = emb_infer_same_dtype(c, 0, c->n_in - 1);
  if (st) return st;
  int32_t dt = c->in[0] && c->in[0]->kind ? c->in[0]->dtype : 0;
  lin_unknown_tensor(&c->out[0], dt);
  int ranks[c->n_in];
  bool all = true;
  for (int t = 0; t < c->n_in; t++) {
    all &= lin_ranked(c->in[t]);
    ranks[t] = lin_ranked(c->in[t]) ? c->in[t]->rank : -1;
  }
  if (!all) {
    if (!ein_out_needs_ellipsis(s)) {
      emb_type *y = &c->out[0];
      y->rank = s->out.n;
      for (int j = 0; j < s->out.n; j++) y->dims[j] = (emb_dim){-1, 0};
    }
    return EMBER_OK;
  }
  int E;
  if ((st = ein_ellipsis(c->node, s, ranks, &E, c->diag))) return st;
  ein_dimacc acc[EIN_NLAB];
  memset(acc, 0, sizeof acc);
  for (int t = 0; t < c->n_in; t++) {
    int8_t lab[EMB_MAX_RANK];
    ein_input_labels(&s->terms[t], ranks[t], E, lab);
    for (int a = 0; a < ranks[t]; a++)
      if (!ein_merge_dim(&acc[lab[a]], c->in[t]->dims[a]))
        return emb_op_fail(
            c->diag, c->node, EMBER_ERR_SHAPE,
            "dimension %d of input %d has size %lld where other operands "
            "have %lld for the same subscript", a, t,
            (long long)c->in[t]->dims[a].v, (long long)acc[lab[a]].d.v);
  }
  int8_t olab[EIN_NLAB];
  int r = ein_output_labels(s, E, olab);
  if (r > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "the output would have rank %d (more than %d)", r,
                       EMB_MAX_RANK);
  emb_type *y = &c->out[0];
  y->rank = r;
  for (int j = 0; j < r; j++) y->dims[j] = acc[olab[j]].d;
  return EMBER_OK;
}

/* Evaluation.  Every intermediate is a contiguous row-major array of the
 * compute type: float (float32/float16/bfloat16), double, or uint64 for
 * all integers (wrap-around arithmetic is the same for signed values). */
enum { EIN_F32, EIN_F64, EIN_U64 };

typedef struct ein_arr {
  int rank;
  int8_t lab[EIN_NLAB];
  int64_t dim[EIN_NLAB];
  void *data;
} ein_arr;

/* dst[kept index] = sum over the summed index of src[offset]; offsets
 * are sums of per-label element strides (a label repeated in the source
 * has the sum of its axes' strides, which walks the diagonal; a
 * broadcast label has stride 0). */
#define EIN_SUM(SUF, T, ACC)                                                  \
  static void ein_sum_##SUF(const T *src, T *dst, int nk, const int64_t *ks, \
                            const int64_t *kst, int ns, const int64_t *ss,   \
                            const int64_t *sst) {                            \
    size_t nkt = 1, nst = 1;                                                 \
    for (int j = 0; j < nk; j++) nkt *= (size_t)ks[j];                       \
    for (int j = 0; j < ns; j++) nst *= (size_t)ss[j];                       \
    int64_t kidx[EIN_NLAB], sidx[EIN_NLAB], koff = 0;                        \
    memset(kidx, 0, sizeof kidx);                                            \
    for (size_t e = 0; e < nkt; e++) {                                       \
      ACC acc = 0;                                                           \
      int64_t soff = 0;                                                      \
      memset(sidx, 0, (size_t)ns * sizeof *sidx);                            \
      for (size_t q = 0; q < nst; q++) {                                     \
        acc += (ACC)src[koff + soff];                                        \
        for (int d = ns - 1; d >= 0; d--) {                                  \
          soff += sst[d];                                                    \
          if (++sidx[d] < ss[d]) break;                                      \
          soff -= sst[d] * ss[d];                                            \
          sidx[d] = 0;                                                       \
        }                                                                    \
      }                                                                      \
      dst[e] = (T)acc;                                                       \
      for (int d = nk - 1; d >= 0; d--) {                                    \
        koff += kst[d];                                                      \
        if (++kidx[d] < ks[d]) break;                                        \
        koff -= kst[d] * ks[d];                                              \
        kidx[d] = 0;                                                         \
      }                                                                      \
    }                                                                        \
  }
EIN_SUM(f32, float, double)
EIN_SUM(f64, double, double)
EIN_SUM(u64, uint64_t, uint64_t)

/* c[b][i][j] = sum_p a(b, i, p) * b(b, p, j) for the types without a gemm
 * kernel. */
#define EIN_BMM(SUF, T)                                                       \
  static void ein_bmm_##SUF(size_t nb, size_t m, size_t n, size_t k,         \
                            const T *a, size_t a_bs, size_t a_rs,            \
                            size_t a_cs, const T *b, size_t b_bs,            \
                            size_t b_rs, size_t b_cs, T *c) {                \
    for (size_t bt = 0; bt < nb; bt++)                                       \
      for (size_t i = 0; i < m; i++)                                         \
        for (size_t j = 0; j < n; j++) {                                     \
          T acc = 0;                                                         \
          const T *ap = a + bt * a_bs + i * a_rs;                            \
          const T *bp = b + bt * b_bs + j * b_cs;                            \
          for (size_t p = 0; p < k; p++) acc += ap[p * a_cs] * bp[p * b_rs]; \
          c[(bt * m + i) * n + j] = acc;                                     \
        }                                                                    \
  }
EIN_BMM(f64, double)
EIN_BMM(u64, uint64_t)

/* Bump allocation from the scratch buffer.  A first pass runs with base
 * NULL to size it (no arithmetic happens then), a second computes. */
typedef struct ein_mem {
  char *base;
  size_t used;
  bool overflow;
} ein_mem;

static void *ein_take(ein_mem *m, size_t count, size_t esize) {
  if (count && esize > (SIZE_MAX - 64 - m->used) / count) {
    m->overflow = true;
    return NULL;
  }
  void *p = m->base ? m->base + m->used : NULL;
  m->used += emb_align64(count * esize);
  return p;
}

static size_t ein_numel(const ein_arr *a, bool *overflow) {
  size_t n = 1;
  for (int i = 0; i < a->rank; i++) {
    size_t d = (size_t)a->dim[i];
    if (d && n > SIZE_MAX / d) {
      *overflow = true;
      return 0;
    }
    n *= d;
  }
  return n;
}

typedef struct ein_plan {
  int ct;                  /* EIN_F32 / EIN_F64 / EIN_U64               */
  size_t es;               /* its element size                          */
  int E;
  int n_out;
  int8_t olab[EIN_NLAB];
  int64_t osize[EIN_NLAB]; /* output dims                               */
  bool in_out[EIN_NLAB];
  int n_with[EIN_NLAB];    /* inputs whose term holds the label          */
  int last_in[EIN_NLAB];   /* the last input holding it, -1 if none     */
} ein_plan;

/* Per-label size and element stride of a contiguous array. */
static void ein_label_geom(const ein_arr *a, int64_t *lsz, int64_t *lst,
                           bool *present) {
  int64_t stride = 1;
  for (int i = 0; i < EIN_NLAB; i++) {
    lsz[i] = 1;
    lst[i] = 0;
    present[i] = false;
  }
  for (int ax = a->rank - 1; ax >= 0; ax--) {
    int l = a->lab[ax];
    present[l] = true;
    if (a->dim[ax] != 1) {
      lst[l] += stride;
      if (lsz[l] == 1) lsz[l] = a->dim[ax];
    }
    stride *= a->dim[ax];
  }
}

/* dst = src reduced to the labels klab (sizes ksize, in that order),
 * summing over every other label of src. */
static void ein_reduce(int ct, const ein_arr *src, int nk, const int8_t *klab,
                       const int64_t *ksize, void *dst) {
  int64_t lsz[EIN_NLAB], lst[EIN_NLAB], kst[EIN_NLAB], ss[EIN_NLAB],
      sst[EIN_NLAB];
  bool present[EIN_NLAB], kept[EIN_NLAB] = {false};
  ein_label_geom(src, lsz, lst, present);
  for (int j = 0; j < nk; j++) {
    kst[j] = lst[klab[j]];
    kept[klab[j]] = true;
  }
  int ns = 0;
  for (int l = 0; l < EIN_NLAB; l++)
    if (present[l] && !kept[l]) {
      ss[ns] = lsz[l];
      sst[ns++] = lst[l];
    }
  if (ns == 0 && nk <= EMBER_XX_COPY_MAX_RANK) { /* a pure permutation */
    size_t es = ct == EIN_F32 ? sizeof(float) : 8, dims[EIN_NLAB];
    ptrdiff_t sstr[EIN_NLAB], dstr[EIN_NLAB], step = (ptrdiff_t)es;
    for (int j = nk - 1; j >= 0; j--) {
      dims[j] = (size_t)ksize[j];
      sstr[j] = (ptrdiff_t)kst[j] * (ptrdiff_t)es;
      dstr[j] = step;
      step *= (ptrdiff_t)ksize[j];
    }
    ember_xx_copy_nd__scalar(es, (size_t)nk, dims, src->data, sstr, dst,
                             dstr);
    return;
  }
  if (ct == EIN_F32)
    ein_sum_f32(src->data, dst, nk, ksize, kst, ns, ss, sst);
  else if (ct == EIN_F64)
    ein_sum_f64(src->data, dst, nk, ksize, kst, ns, ss, sst);
  else
    ein_sum_u64(src->data, dst, nk, ksize, kst, ns, ss, sst);
}

/* Input x as a compute-type array (x's own data when the storage
 * matches). */
static void ein_load(const ein_plan *p, const emb_tensor *x, ein_mem *m,
                     ein_arr *a, bool *overflow) {
  a->data = x->data;
  bool same = (p->ct == EIN_F32 && x->dtype == EMBER_FLOAT) ||
              (p->ct == EIN_F64 && x->dtype == EMBER_DOUBLE) ||
              (p->ct == EIN_U64 &&
               (x->dtype == EMBER_INT64 || x->dtype == EMBER_UINT64));
  if (same) return;
  size_t num = ein_numel(a, overflow);
  a->data = ein_take(m, num, p->es);
  if (!m->base) return;
  if (p->ct == EIN_F32) {
    emb_cvt_to_f32(x->dtype, x->data, num, a->data);
  } else {
    uint64_t *u = a->data;
    for (size_t i = 0; i < num; i++) u[i] = (uint64_t)emb_tensor_get_i64(x, i);
  }
}

/* The compute-type array src (the output's labels, in order) into y. */
static void ein_store(const ein_plan *p, const void *src, emb_tensor *y) {
  size_t num = emb_tensor_numel(y);
  if (src == y->data) return;
  if (p->ct == EIN_F32) {
    emb_cvt_from_f32(y->dtype, src, num, y->data);
  } else if (p->ct == EIN_F64) {
    memcpy(y->data, src, num * sizeof(double));
  } else {
    const uint64_t *u = src;
    for (size_t i = 0; i < num; i++) emb_tensor_set_i64(y, i, (int64_t)u[i]);
  }
}

static bool ein_direct_out(const ein_plan *p, const emb_tensor *y) {
  return (p->ct == EIN_F32 && y->dtype == EMBER_FLOAT) ||
         (p->ct == EIN_F64 && y->dtype == EMBER_DOUBLE) ||
         (p->ct == EIN_U64 &&
          (y->dtype == EMBER_INT64 || y->dtype == EMBER_UINT64));
}

static bool ein_same_labels(const ein_arr *a, int n, const int8_t *lab) {
  if (a->rank != n) return false;
  for (int i = 0; i < n; i++)
    if (a->lab[i] != lab[i]) return false;
  return true;
}

/* dst = g1 ++ g2 ++ g3 (label groups); returns the length. */
static int ein_cat(int8_t *dst, const int8_t *g1, int n1, const int8_t *g2,
                   int n2, const int8_t *g3, int n3) {
  memcpy(dst, g1, (size_t)n1);
  memcpy(dst + n1, g2, (size_t)n2);
  memcpy(dst + n1 + n2, g3, (size_t)n3);
  return n1 + n2 + n3;
}

/* Whether array a (unique labels) is laid out exactly as `want`, with
 * the merged sizes msize[label] (so no broadcasting is needed). */
static bool ein_is_layout(const ein_arr *a, int n, const int8_t *want,
                          const int64_t *msize) {
  if (!ein_same_labels(a, n, want)) return false;
  for (int i = 0; i < n; i++)
    if (a->dim[i] != msize[want[i]]) return false;
  return true;
}

/* Contract cur with b into out: batch labels (in both, still needed),
 * M (cur only), K (in both, not needed after step t) and N (b only);
 * out = [batch, M, N] = sum_K cur[batch, M, K] * b[batch, K, N]. */
static void ein_contract(const ein_plan *p, int t, bool last,
                         const ein_arr *cur, const ein_arr *b, ein_mem *m,
                         emb_tensor *y, ein_arr *out, bool *overflow) {
  bool in_b[EIN_NLAB] = {false}, in_a[EIN_NLAB] = {false};
  int64_t msize[EIN_NLAB];
  for (int i = 0; i < b->rank; i++) {
    in_b[b->lab[i]] = true;
    msize[b->lab[i]] = b->dim[i];
  }
  for (int i = 0; i < cur->rank; i++) {
    int l = cur->lab[i];
    in_a[l] = true;
    if (!in_b[l] || msize[l] == 1) msize[l] = cur->dim[i];
  }
  int8_t gb[EIN_NLAB], gm[EIN_NLAB], gk[EIN_NLAB], gn[EIN_NLAB];
  int nb = 0, nm = 0, nk = 0, nn = 0;
  for (int i = 0; i < cur->rank; i++) {
    int l = cur->lab[i];
    bool later = p->in_out[l] || p->last_in[l] > t;
    if (!in_b[l])
      gm[nm++] = (int8_t)l;
    else if (later)
      gb[nb++] = (int8_t)l;
    else
      gk[nk++] = (int8_t)l;
  }
  for (int i = 0; i < b->rank; i++)
    if (!in_a[b->lab[i]]) gn[nn++] = b->lab[i];
  size_t sb = 1, sm = 1, sk = 1, sn = 1;
  for (int i = 0; i < nb; i++) sb *= (size_t)msize[gb[i]];
  for (int i = 0; i < nm; i++) sm *= (size_t)msize[gm[i]];
  for (int i = 0; i < nk; i++) sk *= (size_t)msize[gk[i]];
  for (int i = 0; i < nn; i++) sn *= (size_t)msize[gn[i]];

  /* Operand A as [batch, M, K] or [batch, K, M]; copy when neither. */
  int8_t want[EIN_NLAB];
  int64_t wsize[EIN_NLAB];
  const void *a_data = cur->data, *b_data = b->data;
  size_t a_bs = sm * sk, a_rs = sk, a_cs = 1;
  int nw = ein_cat(want, gb, nb, gm, nm, gk, nk);
  if (!ein_is_layout(cur, nw, want, msize)) {
    ein_cat(want, gb, nb, gk, nk, gm, nm);
    if (ein_is_layout(cur, nw, want, msize)) {
      a_rs = 1;
      a_cs = sm;
    } else {
      ein_cat(want, gb, nb, gm, nm, gk, nk);
      ein_arr tmp = {.rank = nw};
      for (int i = 0; i < nw; i++) tmp.dim[i] = wsize[i] = msize[want[i]];
      void *dst = ein_take(m, ein_numel(&tmp, overflow), p->es);
      if (m->base) ein_reduce(p->ct, cur, nw, want, wsize, dst);
      a_data = dst;
    }
  }
  size_t b_bs = sk * sn, b_rs = sn, b_cs = 1;
  nw = ein_cat(want, gb, nb, gk, nk, gn, nn);
  if (!ein_is_layout(b, nw, want, msize)) {
    ein_cat(want, gb, nb, gn, nn, gk, nk);
    if (ein_is_layout(b, nw, want, msize)) {
      b_rs = 1;
      b_cs = sk;
    } else {
      ein_cat(want, gb, nb, gk, nk, gn, nn);
      ein_arr tmp = {.rank = nw};
      for (int i = 0; i < nw; i++) tmp.dim[i] = wsize[i] = msize[want[i]];
      void *dst = ein_take(m, ein_numel(&tmp, overflow), p->es);
      if (m->base) ein_reduce(p->ct, b, nw, want, wsize, dst);
      b_data = dst;
    }
  }

  out->rank = ein_cat(out->lab, gb, nb, gm, nm, gn, nn);
  for (int i = 0; i < out->rank; i++) out->dim[i] = msize[out->lab[i]];
  size_t num = ein_numel(out, overflow);
  if (last && ein_direct_out(p, y) &&
      ein_same_labels(out, p->n_out, p->olab))
    out->data = y->data;
  else
    out->data = ein_take(m, num, p->es);
  float *work = NULL;
  if (p->ct == EIN_F32)
    work = ein_take(m, ember_f32_gemm_work_floats(sm, sn, sk), sizeof(float));
  if (!m->base || *overflow) return;
  if (p->ct == EIN_F32) {
    for (size_t bt = 0; bt < sb; bt++)
      ember_f32_gemm(sm, sn, sk, 1.0f,
                             (const float *)a_data + bt * a_bs, a_rs, a_cs,
                             (const float *)b_data + bt * b_bs, b_rs, b_cs,
                             0.0f, (float *)out->data + bt * sm * sn, sn,
                             work);
  } else if (p->ct == EIN_F64) {
    ein_bmm_f64(sb, sm, sn, sk, a_data, a_bs, a_rs, a_cs, b_data, b_bs, b_rs,
                b_cs, out->data);
  } else {
    ein_bmm_u64(sb, sm, sn, sk, a_data, a_bs, a_rs, a_cs, b_data, b_bs, b_rs,
                b_cs, out->data);
  }
}

/* The whole evaluation; with m->base NULL it only sizes the scratch. */
static void ein_eval(emb_run_ctx *c, const ein_state *s, const ein_plan *p,
                     ein_mem *m, bool *overflow) {
  emb_tensor *y = emb_out_t(c, 0);
  bool direct = ein_direct_out(p, y);
  ein_arr cur, next;
  for (int t = 0; t < c->n_in; t++) {
    const emb_tensor *x = emb_in_t(c, t);
    ein_arr src = {.rank = x->rank};
    ein_input_labels(&s->terms[t], x->rank, p->E, src.lab);
    memcpy(src.dim, x->dims, (size_t)x->rank * sizeof *x->dims);
    ein_load(p, x, m, &src, overflow);
    if (c->n_in == 1) { /* diagonals, sums and the permutation in one go */
      void *dst = direct ? y->data : ein_take(m, emb_tensor_numel(y), p->es);
      if (m->base && !*overflow) {
        ein_reduce(p->ct, &src, p->n_out, p->olab, p->osize, dst);
        ein_store(p, dst, y);
      }
      return;
    }
    /* Keep the labels something else needs; sum the rest away now. */
    int8_t keep[EMB_MAX_RANK];
    int nk = 0;
    bool seen[EIN_NLAB] = {false};
    for (int a = 0; a < src.rank; a++) {
      int l = src.lab[a];
      if (seen[l]) continue;
      seen[l] = true;
      if (p->in_out[l] || p->n_with[l] > 1) keep[nk++] = (int8_t)l;
    }
    ein_arr *r = t == 0 ? &cur : &next;
    if (ein_same_labels(&src, nk, keep)) {
      *r = src;
    } else {
      int64_t lsz[EIN_NLAB], lst[EIN_NLAB];
      bool present[EIN_NLAB];
      ein_label_geom(&src, lsz, lst, present);
      r->rank = nk;
      memcpy(r->lab, keep, (size_t)nk);
      for (int j = 0; j < nk; j++) r->dim[j] = lsz[keep[j]];
      r->data = ein_take(m, ein_numel(r, overflow), p->es);
      if (m->base && !*overflow)
        ein_reduce(p->ct, &src, nk, keep, r->dim, r->data);
    }
    if (t == 0) continue;
    ein_arr prod;
    ein_contract(p, t, t == c->n_in - 1, &cur, &next, m, y, &prod, overflow);
    cur = prod;
  }
  if (cur.data == y->data) return;
  bool same = ein_same_labels(&cur, p->n_out, p->olab);
  for (int i = 0; same && i < cur.rank; i++) same = cur.dim[i] == p->osize[i];
  if (same) {
    if (m->base && !*overflow) {
      if (direct)
        memcpy(y->data, cur.data, emb_tensor_numel(y) * p->es);
      else
        ein_store(p, cur.data, y);
    }
    return;
  }
  void *dst = direct ? y->data : ein_take(m, emb_tensor_numel(y), p->es);
  if (m->base && !*overflow) {
    ein_reduce(p->ct, &cur, p->n_out, p->olab, p->osize, dst);
    ein_store(p, dst, y);
  }
}

static ember_status einsum_run(emb_run_ctx *c) {
  const ein_state *s = c->node->state;
  emb_tensor *y = emb_out_t(c, 0);
  int ranks[c->n_in];
  for (int t = 0; t < c->n_in; t++) ranks[t] = emb_in_t(c, t)->rank;
  ein_plan p;
  memset(&p, 0, sizeof p);
  ember_status st = ein_ellipsis(c->node, s, ranks, &p.E, c->diag);
  if (st) return st;
  switch (y->dtype) {
  case EMBER_FLOAT:
  case EMBER_FLOAT16:
  case EMBER_BFLOAT16:
    p.ct = EIN_F32;
    p.es = sizeof(float);
    break;
  case EMBER_DOUBLE:
    p.ct = EIN_F64;
    p.es = sizeof(double);
    break;
  default:
    if (!emb_dtype_is_int(y->dtype))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                         "element type %s is not supported",
                         ember_dtype_name(y->dtype));
    p.ct = EIN_U64;
    p.es = sizeof(uint64_t);
    break;
  }
  p.n_out = ein_output_labels(s, p.E, p.olab);
  if (p.n_out != y->rank)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "output rank %d does not match the equation (%d)",
                       (int)y->rank, p.n_out);
  for (int j = 0; j < p.n_out; j++) {
    p.osize[j] = y->dims[j];
    p.in_out[p.olab[j]] = true;
  }
  for (int l = 0; l < EIN_NLAB; l++) p.last_in[l] = -1;
  for (int t = 0; t < c->n_in; t++) {
    int8_t lab[EMB_MAX_RANK];
    bool seen[EIN_NLAB] = {false};
    ein_input_labels(&s->terms[t], ranks[t], p.E, lab);
    for (int a = 0; a < ranks[t]; a++) {
      if (seen[lab[a]]) continue;
      seen[lab[a]] = true;
      p.n_with[lab[a]]++;
      p.last_in[lab[a]] = t;
    }
  }
  if (emb_tensor_numel(y) == 0) return EMBER_OK;
  bool overflow = false;
  ein_mem m = {NULL, 0, false};
  ein_eval(c, s, &p, &m, &overflow);
  if (overflow || m.overflow)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "intermediate results are too large");
  char *base = emb_scratch(c, m.used);
  if (!base) return EMBER_ERR_OUT_OF_MEMORY;
  m = (ein_mem){base, 0, false};
  ein_eval(c, s, &p, &m, &overflow);
  return EMBER_OK;
}

const emb_opdef emb_op_einsum = {1,           -1,           1, 1, 0,
                                 einsum_init, einsum_infer, einsum_run};
