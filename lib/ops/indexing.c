/*
 * Index-driven data movement: GatherElements, GatherND, ScatterElements
 * (and its deprecated alias Scatter), ScatterND, TensorScatter, Compress,
 * NonZero, Unique, ReverseSequence, OneHot, EyeLike and Trilu.  Most of
 * them only move elements, so they serve every element type through the
 * emb_mv bracket of movement.h (strings as borrowed pointers duplicated at
 * the end, packed sub-byte types unpacked to one byte each); the scatter
 * reductions, Unique's ordering and NonZero's test are the only places
 * that look at values, by a switch on the element type.  Index values
 * (int32 or int64, negative counting from the end) are all checked before
 * anything is written, so a bad index is a run-time error naming the node
 * and never a stray access.  Outputs whose size depends on values (NonZero,
 * Compress) get it from infer, which sees every value at run time and
 * constant ones at load; Unique builds its outputs itself because finding
 * their size is the whole work.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/movement.h"
#include "ops/op.h"
#include "xx-copy/xx-copy.h"

/* ====================================================== local helpers */

static int32_t in_dtype(const emb_infer_ctx *c, int i) {
  return (i < c->n_in && c->in[i] && c->in[i]->kind) ? c->in[i]->dtype : 0;
}

static int in_rank(const emb_infer_ctx *c, int i) {
  return (i < c->n_in && c->in[i] && c->in[i]->kind) ? c->in[i]->rank : -1;
}

static const emb_tensor *in_value(const emb_infer_ctx *c, int i) {
  return (i < c->n_in && c->in[i] && c->values) ? c->values[i] : NULL;
}

/* A bad value in an input that decides a shape: a model error when the
 * value is a constant seen at load, a run-time error otherwise. */
static ember_status value_status(const emb_infer_ctx *c) {
  return c->at_run ? EMBER_ERR_RUNTIME : EMBER_ERR_INVALID_MODEL;
}

/* Inputs [0, n) are required and every present input must be a tensor. */
static ember_status need_tensors(emb_infer_ctx *c, int n) {
  for (int i = 0; i < c->n_in; i++) {
    if (!c->in[i]) {
      if (i < n)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                           "input %d is required", i);
      continue;
    }
    if (c->in[i]->kind && c->in[i]->kind != EMBER_KIND_TENSOR)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d must be a tensor", i);
  }
  if (c->n_in < n)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input %d is required", c->n_in);
  return EMBER_OK;
}

/* Input i, when present and typed, must be int32 or int64 (or only int64
 * where the schema says so and nothing is gained by accepting int32). */
static ember_status need_index_type(emb_infer_ctx *c, int i) {
  int32_t dt = in_dtype(c, i);
  if (!dt || dt == EMBER_INT32 || dt == EMBER_INT64) return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                     "input %d must be int32 or int64, not %s", i,
                     ember_dtype_name(dt));
}

/* Input i must hold elements the movers know (packed types only where
 * the operator handles them). */
static ember_status need_movable(emb_infer_ctx *c, int i, bool packed_ok) {
  int32_t dt = in_dtype(c, i);
  if (!dt) return EMBER_OK;
  if (!emb_dtype_valid(dt) || !emb_mv_esize(dt) ||
      (!packed_ok && emb_mv_packed(dt)))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "input %d has element type %s, which is not "
                       "supported",
                       i, ember_dtype_name(dt));
  return EMBER_OK;
}

/* Two present, typed inputs must share their element type. */
static ember_status need_same_dtype(emb_infer_ctx *c, int a, int b) {
  int32_t da = in_dtype(c, a), db = in_dtype(c, b);
  if (da && db && da != db)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d has element type %s but input %d has %s", b,
                       ember_dtype_name(db), a, ember_dtype_name(da));
  return EMBER_OK;
}

static ember_status check_rank_limit(emb_infer_ctx *c, int rank) {
  if (rank > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "result rank %d exceeds the limit %d", rank,
                       EMB_MAX_RANK);
  return EMBER_OK;
}

static const emb_dim unknown_dim = {-1, 0};

/* Index element i of an int32 or int64 tensor. */
static inline int64_t idx_get(const emb_tensor *t, size_t i) {
  return t->dtype == EMBER_INT32 ? ((const int32_t *)t->data)[i]
                                 : ((const int64_t *)t->data)[i];
}

static size_t prod(const int64_t *dims, int lo, int hi) {
  size_t p = 1;
  for (int k = lo; k < hi; k++) p *= (size_t)dims[k];
  return p;
}

/* Row-major element strides. */
static void elem_strides(int rank, const int64_t *dims, size_t *st) {
  size_t s = 1;
  for (int k = rank - 1; k >= 0; k--) {
    st[k] = s;
    s *= (size_t)dims[k];
  }
}

/* Copy one element of `es` bytes; the common sizes become plain moves. */
static inline void copy_elem(char *d, const char *s, size_t es) {
  switch (es) {
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    default: memcpy(d, s, es); break;
  }
}

/* The elements of t in mover form (unpacked for packed types) at dst,
 * for inputs the emb_mv bracket does not unpack itself. */
static void unpack_all(const emb_tensor *t, char *dst) {
  size_t n = emb_tensor_numel(t);
  if (!emb_mv_packed(t->dtype)) {
    if (n) memcpy(dst, t->data, n * emb_mv_esize(t->dtype));
    return;
  }
  for (size_t i = 0; i < n; i++) emb_mv_elem(t, i, dst + i);
}

static ember_status index_error(emb_run_ctx *c, int64_t v, int axis,
                                int64_t dim) {
  return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                     "index %lld is out of range for axis %d of size %lld",
                     (long long)v, axis, (long long)dim);
}

/* ================================================= scatter reductions */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static const char *const red_names[] = {"none", "add", "mul", "max", "min"};

/* Parse `reduction`: add/mul exist since opset 16, max/min since 18. */
static ember_status parse_reduction(emb_init_ctx *c, int *red) {
  const char *s;
  ember_status st = emb_attr_string(c->node, "reduction", "none", &s,
                                    c->diag);
  if (st) return st;
  *red = -1;
  for (int i = 0; i < 5; i++)
    if (!strcmp(s, red_names[i])) *red = i;
  if (*red < 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "unknown reduction '%s' (none, add, mul, max or min)",
                       s);
  int need = *red == RED_NONE ? 0 : *red <= RED_MUL ? 16 : 18;
  if (c->node->opset < need)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "reduction '%s' needs opset %d; the model has %d", s,
                       need, c->node->opset);
  return EMBER_OK;
}

/* Whether `red` is defined on elements of dt. */
static ember_status check_reduction_type(emb_infer_ctx *c, int red,
                                         int32_t dt) {
  if (red == RED_NONE || !dt) return EMBER_OK;
  bool ok;
  switch (dt) {
    case EMBER_FLOAT: case EMBER_DOUBLE: case EMBER_FLOAT16:
    case EMBER_BFLOAT16: case EMBER_INT8: case EMBER_UINT8:
    case EMBER_INT16: case EMBER_UINT16: case EMBER_INT32:
    case EMBER_UINT32: case EMBER_INT64: case EMBER_UINT64: case EMBER_BOOL:
      ok = true;
      break;
    case EMBER_COMPLEX64: case EMBER_COMPLEX128:
      ok = red == RED_ADD || red == RED_MUL; /* no order on complex */
      break;
    default: ok = false; break;
  }
  if (ok) return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                     "reduction '%s' is not supported for element type %s",
                     red_names[red], ember_dtype_name(dt));
}

/* Integer arithmetic wraps like the two's-complement hardware does, with
 * no signed overflow in C. */
#define RI_ADD(T, a, b) ((T)((uint64_t)(a) + (uint64_t)(b)))
#define RI_MUL(T, a, b) ((T)((uint64_t)(a) * (uint64_t)(b)))
#define R_MAX(T, a, b) ((a) < (b) ? (b) : (a))
#define R_MIN(T, a, b) ((b) < (a) ? (b) : (a))
#define RF_ADD(T, a, b) ((T)((a) + (b)))
#define RF_MUL(T, a, b) ((T)((a) * (b)))
/* NaN wins, as in numpy's maximum/minimum. */
#define RF_MAX(T, a, b) (((a) != (a) || (a) >= (b)) ? (a) : (b))
#define RF_MIN(T, a, b) (((a) != (a) || (a) <= (b)) ? (a) : (b))
#define RB_OR(T, a, b) ((T)((a) | (b)))
#define RB_AND(T, a, b) ((T)((a) & (b)))

#define RED_LOOP(T, F)                                                 \
  for (size_t i = 0; i < n; i++) {                                     \
    T *d = (T *)(void *)dst + off[i];                                  \
    const T *u = (const T *)(const void *)upd + i * block;             \
    for (size_t j = 0; j < block; j++) d[j] = F(T, d[j], u[j]);        \
  }

#define RED_CASE(DT, T, ADD, MUL, MAX, MIN)                            \
  case DT:                                                             \
    switch (red) {                                                     \
      case RED_ADD: RED_LOOP(T, ADD) break;                            \
      case RED_MUL: RED_LOOP(T, MUL) break;                            \
      case RED_MAX: RED_LOOP(T, MAX) break;                            \
      default: RED_LOOP(T, MIN) break;                                 \
    }                                                                  \
    break;

static float red_f32(int red, float a, float b) {
  switch (red) {
    case RED_ADD: return a + b;
    case RED_MUL: return a * b;
    case RED_MAX: return RF_MAX(float, a, b);
    default: return RF_MIN(float, a, b);
  }
}

/* Combine n slices of `block` elements of updates (contiguous at upd)
 * into dst at element offsets off[i]; RED_NONE replaces.  Pointers of
 * strings are copied as they are (the bracket duplicates them). */
static void scatter_apply(int32_t dt, int red, size_t es, char *dst,
                          const char *upd, const size_t *off, size_t n,
                          size_t block) {
  if (red == RED_NONE) {
    for (size_t i = 0; i < n; i++)
      memcpy(dst + off[i] * es, upd + i * block * es, block * es);
    return;
  }
  switch (dt) {
    RED_CASE(EMBER_FLOAT, float, RF_ADD, RF_MUL, RF_MAX, RF_MIN)
    RED_CASE(EMBER_DOUBLE, double, RF_ADD, RF_MUL, RF_MAX, RF_MIN)
    RED_CASE(EMBER_INT8, int8_t, RI_ADD, RI_MUL, R_MAX, R_MIN)
    RED_CASE(EMBER_UINT8, uint8_t, RI_ADD, RI_MUL, R_MAX, R_MIN)
    RED_CASE(EMBER_INT16, int16_t, RI_ADD, RI_MUL, R_MAX, R_MIN)
    RED_CASE(EMBER_UINT16, uint16_t, RI_ADD, RI_MUL, R_MAX, R_MIN)
    RED_CASE(EMBER_INT32, int32_t, RI_ADD, RI_MUL, R_MAX, R_MIN)
    RED_CASE(EMBER_UINT32, uint32_t, RI_ADD, RI_MUL, R_MAX, R_MIN)
    RED_CASE(EMBER_INT64, int64_t, RI_ADD, RI_MUL, R_MAX, R_MIN)
    RED_CASE(EMBER_UINT64, uint64_t, RI_ADD, RI_MUL, R_MAX, R_MIN)
    /* bool as numpy: + is or, * is and, max is or, min is and. */
    RED_CASE(EMBER_BOOL, uint8_t, RB_OR, RB_AND, RB_OR, RB_AND)
    case EMBER_FLOAT16:
    case EMBER_BFLOAT16: {
      bool h = dt == EMBER_FLOAT16;
      for (size_t i = 0; i < n; i++) {
        uint16_t *d = (uint16_t *)(void *)dst + off[i];
        const uint16_t *u = (const uint16_t *)(const void *)upd + i * block;
        for (size_t j = 0; j < block; j++) {
          float a = h ? emb_f16_to_f32(d[j]) : emb_bf16_to_f32(d[j]);
          float b = h ? emb_f16_to_f32(u[j]) : emb_bf16_to_f32(u[j]);
          float r = red_f32(red, a, b);
          d[j] = h ? emb_f32_to_f16(r) : emb_f32_to_bf16(r);
        }
      }
      break;
    }
    case EMBER_COMPLEX64:
    case EMBER_COMPLEX128: {
      bool dbl = dt == EMBER_COMPLEX128;
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < block; j++) {
          double a[2], b[2], r[2];
          char *pd = dst + (off[i] + j) * es;
          const char *pu = upd + (i * block + j) * es;
          for (int p = 0; p < 2; p++) {
            if (dbl) {
              memcpy(&a[p], pd + 8 * p, 8);
              memcpy(&b[p], pu + 8 * p, 8);
            } else {
              float fa, fb;
              memcpy(&fa, pd + 4 * p, 4);
              memcpy(&fb, pu + 4 * p, 4);
              a[p] = fa;
              b[p] = fb;
            }
          }
          if (red == RED_ADD) {
            r[0] = a[0] + b[0];
            r[1] = a[1] + b[1];
          } else {
            r[0] = a[0] * b[0] - a[1] * b[1];
            r[1] = a[0] * b[1] + a[1] * b[0];
          }
          for (int p = 0; p < 2; p++) {
            if (dbl) {
              memcpy(pd + 8 * p, &r[p], 8);
            } else {
              float f = (float)r[p];
              memcpy(pd + 4 * p, &f, 4);
            }
          }
        }
      break;
    }
    default: break; /* refused at infer */
  }
}

/* Output 0 of a scatter: data's type, or a tensor of the updates' element
 * type when nothing is known of data. */
static ember_status out_like_data(emb_infer_ctx *c) {
  if (c->in[0]->kind)
    c->out[0] = *c->in[0];
  else
    emb_type_tensor(&c->out[0], in_dtype(c, 2), -1, NULL);
  if (!c->out[0].dtype) c->out[0].dtype = in_dtype(c, 2);
  return EMBER_OK;
}

/* ================================================ element-wise indexing */

/* GatherElements and ScatterElements pair every element of `indices`
 * with one element of `data`: its own position on every axis but `ax`,
 * the index value on `ax`.  off[j] receives that element's offset in
 * data for indices element j; all values are checked first. */
static ember_status element_offsets(emb_run_ctx *c, const emb_tensor *data,
                                    const emb_tensor *idx, int ax,
                                    size_t *off) {
  int r = data->rank;
  size_t n = emb_tensor_numel(idx);
  int64_t dim = data->dims[ax];
  for (size_t j = 0; j < n; j++) {
    int64_t v = idx_get(idx, j);
    if (v < -dim || v >= dim) return index_error(c, v, ax, dim);
  }
  if (!n) return EMBER_OK;
  size_t st[EMB_MAX_RANK];
  int64_t pos[EMB_MAX_RANK] = {0};
  elem_strides(r, data->dims, st);
  size_t base = 0; /* offset of the position without the axis term */
  for (size_t j = 0; j < n; j++) {
    int64_t v = idx_get(idx, j);
    if (v < 0) v += dim;
    off[j] = base + (size_t)v * st[ax];
    for (int k = r - 1; k >= 0; k--) {
      if (k != ax) base += st[k];
      if (++pos[k] < idx->dims[k]) break;
      if (k != ax) base -= (size_t)pos[k] * st[k];
      pos[k] = 0;
    }
  }
  return EMBER_OK;
}

/* Shared shape checks of the element-wise pair: same rank r >= 1, and an
 * index tensor no larger than data on the axes it does not index. */
static ember_status check_elements_shapes(emb_infer_ctx *c, int64_t axis,
                                          int *ax_out) {
  const emb_type *data = c->in[0], *idx = c->in[1];
  int r = in_rank(c, 0), q = in_rank(c, 1);
  *ax_out = -1;
  if (r == 0 || q == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'%s' must have rank 1 or more",
                       r == 0 ? "data" : "indices");
  if (r > 0 && q > 0 && r != q)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'data' has rank %d but 'indices' has rank %d", r, q);
  if (r < 0) return EMBER_OK;
  ember_status st = emb_axis(c->node, axis, r, ax_out, c->diag);
  if (st) return st;
  if (q < 0) return EMBER_OK;
  for (int k = 0; k < r; k++) {
    if (k == *ax_out) continue;
    int64_t dv = data->dims[k].v, iv = idx->dims[k].v;
    if (dv >= 0 && iv >= 0 && iv > dv)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "'indices' dimension %d is %lld, larger than "
                         "'data' dimension %lld",
                         k, (long long)iv, (long long)dv);
  }
  return EMBER_OK;
}

/* ===================================================== GatherElements */

typedef struct axis_state {
  int64_t axis;
  int red;
} axis_state;

static ember_status gatherelements_init(emb_init_ctx *c) {
  axis_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_attr_int(c->node, "axis", 0, &s->axis, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status gatherelements_infer(emb_infer_ctx *c) {
  const axis_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 2)) || (st = need_index_type(c, 1)) ||
      (st = need_movable(c, 0, true)))
    return st;
  int ax;
  if ((st = check_elements_shapes(c, s->axis, &ax))) return st;
  int32_t dt = in_dtype(c, 0);
  int q = in_rank(c, 1), r = in_rank(c, 0);
  emb_type *o = &c->out[0];
  if (q >= 0) {
    *o = *c->in[1];
    o->dtype = dt;
  } else {
    emb_type_tensor(o, dt, r, NULL);
  }
  return EMBER_OK;
}

static ember_status gatherelements_run(emb_run_ctx *c) {
  const axis_state *s = c->node->state;
  const emb_tensor *data = emb_in_t(c, 0), *idx = emb_in_t(c, 1);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int ax = (int)(s->axis < 0 ? s->axis + data->rank : s->axis);
  size_t n = emb_tensor_numel(idx);
  emb_mv m;
  ember_status st = emb_mv_begin(c, data, out, n * sizeof(size_t), &m);
  if (st) return st;
  size_t *off = m.extra;
  if ((st = element_offsets(c, data, idx, ax, off))) {
    emb_mv_abort(out, &m);
    return st;
  }
  for (size_t j = 0; j < n; j++)
    copy_elem(m.dst + j * m.esize, m.src + off[j] * m.esize, m.esize);
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_gatherelements = {2, 2, 1, 1, 0, gatherelements_init,
                                         gatherelements_infer,
                                         gatherelements_run};

/* ============================================ ScatterElements, Scatter */

static ember_status scatterelements_init(emb_init_ctx *c) {
  axis_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_attr_int(c->node, "axis", 0, &s->axis, c->diag);
  if (st) return st;
  s->red = RED_NONE;
  /* Scatter (opsets 9-10) has no reduction. */
  if (strcmp(c->node->op_type, "Scatter") &&
      (st = parse_reduction(c, &s->red)))
    return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status scatterelements_infer(emb_infer_ctx *c) {
  const axis_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 3)) || (st = need_index_type(c, 1)) ||
      (st = need_movable(c, 0, s->red == RED_NONE)) ||
      (st = need_same_dtype(c, 0, 2)) ||
      (st = check_reduction_type(c, s->red, in_dtype(c, 0))))
    return st;
  int ax;
  if ((st = check_elements_shapes(c, s->axis, &ax))) return st;
  const emb_type *idx = c->in[1], *upd = c->in[2];
  int q = in_rank(c, 1), u = in_rank(c, 2);
  if (q >= 0 && u >= 0) {
    bool same = q == u;
    for (int k = 0; same && k < q; k++)
      if (idx->dims[k].v >= 0 && upd->dims[k].v >= 0 &&
          idx->dims[k].v != upd->dims[k].v)
        same = false;
    if (!same)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "'updates' must have the shape of 'indices'");
  }
  return out_like_data(c);
}

static ember_status scatterelements_run(emb_run_ctx *c) {
  const axis_state *s = c->node->state;
  const emb_tensor *data = emb_in_t(c, 0), *idx = emb_in_t(c, 1),
                   *upd = emb_in_t(c, 2);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int ax = (int)(s->axis < 0 ? s->axis + data->rank : s->axis);
  size_t n = emb_tensor_numel(idx);
  bool packed = emb_mv_packed(out->dtype);
  size_t offb = (n * sizeof(size_t) + 15) & ~(size_t)15;
  emb_mv m;
  ember_status st =
      emb_mv_begin(c, data, out, offb + (packed ? n : 0), &m);
  if (st) return st;
  size_t *off = m.extra;
  if ((st = element_offsets(c, data, idx, ax, off))) {
    emb_mv_abort(out, &m);
    return st;
  }
  const char *u = upd->data;
  if (packed) {
    unpack_all(upd, (char *)m.extra + offb);
    u = (const char *)m.extra + offb;
  }
  size_t total = emb_tensor_numel(data);
  if (total) memcpy(m.dst, m.src, total * m.esize);
  scatter_apply(out->dtype, s->red, m.esize, m.dst, u, off, n, 1);
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_scatterelements = {
    3, 3, 1, 1, 0, scatterelements_init, scatterelements_infer,
    scatterelements_run};
const emb_opdef emb_op_scatter = {3, 3, 1, 1, 0, scatterelements_init,
                                  scatterelements_infer,
                                  scatterelements_run};

/* ============================================== tuple indexing (ND) */

/* Offsets for n k-tuples of indices starting at tuple t0: the sum of
 * index * stride over data axes [a0, a0 + k), each value checked against
 * its axis.  Offsets are relative to the start of those axes' block. */
static ember_status tuple_offsets(emb_run_ctx *c, const emb_tensor *idx,
                                  size_t t0, size_t n, size_t k,
                                  const emb_tensor *data, int a0,
                                  const size_t *st, size_t base,
                                  size_t *off) {
  for (size_t t = 0; t < n; t++) {
    size_t o = base;
    for (size_t j = 0; j < k; j++) {
      int64_t v = idx_get(idx, (t0 + t) * k + j);
      int64_t dim = data->dims[a0 + (int)j];
      if (v < -dim || v >= dim) return index_error(c, v, a0 + (int)j, dim);
      if (v < 0) v += dim;
      o += (size_t)v * st[a0 + (int)j];
    }
    off[t] = o;
  }
  return EMBER_OK;
}

/* ============================================================ GatherND */

typedef struct gathernd_state {
  int64_t batch_dims;
} gathernd_state;

static ember_status gathernd_init(emb_init_ctx *c) {
  gathernd_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->batch_dims = 0;
  if (c->node->opset >= 12) { /* GatherND-11 had no batch_dims */
    ember_status st = emb_attr_int(c->node, "batch_dims", 0, &s->batch_dims,
                                   c->diag);
    if (st) return st;
  }
  if (s->batch_dims < 0 || s->batch_dims >= EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "batch_dims %lld is out of range",
                       (long long)s->batch_dims);
  c->node->state = s;
  return EMBER_OK;
}

static ember_status gathernd_infer(emb_infer_ctx *c) {
  const gathernd_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 2)) || (st = need_index_type(c, 1)) ||
      (st = need_movable(c, 0, true)))
    return st;
  int32_t dt = in_dtype(c, 0);
  int r = in_rank(c, 0), q = in_rank(c, 1), b = (int)s->batch_dims;
  emb_type *o = &c->out[0];
  emb_type_tensor(o, dt, -1, NULL);
  if (r == 0 || q == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'%s' must have rank 1 or more",
                       r == 0 ? "data" : "indices");
  if ((r > 0 && b >= r) || (q > 0 && b >= q))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "batch_dims %d must be below the ranks of 'data' "
                       "and 'indices'",
                       b);
  if (r < 0 || q < 0) return EMBER_OK;
  const emb_type *data = c->in[0], *idx = c->in[1];
  for (int k = 0; k < b; k++)
    if (data->dims[k].v >= 0 && idx->dims[k].v >= 0 &&
        data->dims[k].v != idx->dims[k].v)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "batch dimension %d is %lld in 'data' but %lld in "
                         "'indices'",
                         k, (long long)data->dims[k].v,
                         (long long)idx->dims[k].v);
  int64_t kk = idx->dims[q - 1].v;
  if (kk < 0) return EMBER_OK;
  if (kk > r - b)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "index tuples of length %lld exceed the %d indexable "
                       "axes of 'data'",
                       (long long)kk, r - b);
  int orank = q - 1 + r - b - (int)kk;
  if ((st = check_rank_limit(c, orank))) return st;
  emb_type_tensor(o, dt, orank, NULL);
  int j = 0;
  for (int k = 0; k < q - 1; k++) {
    o->dims[j] = idx->dims[k];
    if (k < b && o->dims[j].v < 0 && data->dims[k].v >= 0)
      o->dims[j] = data->dims[k];
    j++;
  }
  for (int k = b + (int)kk; k < r; k++) o->dims[j++] = data->dims[k];
  return EMBER_OK;
}

static ember_status gathernd_run(emb_run_ctx *c) {
  const gathernd_state *s = c->node->state;
  const emb_tensor *data = emb_in_t(c, 0), *idx = emb_in_t(c, 1);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int r = data->rank, q = idx->rank, b = (int)s->batch_dims;
  size_t k = (size_t)idx->dims[q - 1];
  size_t nb = prod(data->dims, 0, b);        /* batches */
  size_t nt = prod(idx->dims, b, q - 1);      /* tuples per batch */
  size_t slice = prod(data->dims, b + (int)k, r);
  size_t bstride = prod(data->dims, b, r);
  size_t st_[EMB_MAX_RANK];
  elem_strides(r, data->dims, st_);
  emb_mv m;
  ember_status st = emb_mv_begin(c, data, out, nb * nt * sizeof(size_t), &m);
  if (st) return st;
  size_t *off = m.extra;
  for (size_t bi = 0; bi < nb; bi++)
    if ((st = tuple_offsets(c, idx, bi * nt, nt, k, data, b, st_,
                            bi * bstride, off + bi * nt))) {
      emb_mv_abort(out, &m);
      return st;
    }
  size_t blk = slice * m.esize;
  for (size_t t = 0; t < nb * nt; t++)
    memcpy(m.dst + t * blk, m.src + off[t] * m.esize, blk);
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_gathernd = {2, 2, 1, 1, 0, gathernd_init,
                                   gathernd_infer, gathernd_run};

/* =========================================================== ScatterND */

static ember_status scatternd_init(emb_init_ctx *c) {
  axis_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = parse_reduction(c, &s->red);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status scatternd_infer(emb_infer_ctx *c) {
  const axis_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 3)) || (st = need_index_type(c, 1)) ||
      (st = need_movable(c, 0, s->red == RED_NONE)) ||
      (st = need_same_dtype(c, 0, 2)) ||
      (st = check_reduction_type(c, s->red, in_dtype(c, 0))))
    return st;
  int r = in_rank(c, 0), q = in_rank(c, 1), u = in_rank(c, 2);
  if (r == 0 || q == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'%s' must have rank 1 or more",
                       r == 0 ? "data" : "indices");
  if (r > 0 && q > 0) {
    const emb_type *data = c->in[0], *idx = c->in[1], *upd = c->in[2];
    int64_t k = idx->dims[q - 1].v;
    if (k > r)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "index tuples of length %lld exceed the rank %d of "
                         "'data'",
                         (long long)k, r);
    if (k >= 0 && u >= 0) {
      /* updates.shape == indices.shape[:-1] ++ data.shape[k:] */
      bool ok = u == q - 1 + r - (int)k;
      for (int j = 0; ok && j < u; j++) {
        emb_dim want = j < q - 1 ? idx->dims[j] : data->dims[(int)k + j -
                                                             (q - 1)];
        if (want.v >= 0 && upd->dims[j].v >= 0 && want.v != upd->dims[j].v)
          ok = false;
      }
      if (!ok)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "'updates' must have the shape indices.shape[:-1] "
                           "+ data.shape[%lld:]",
                           (long long)k);
    }
  }
  return out_like_data(c);
}

static ember_status scatternd_run(emb_run_ctx *c) {
  const axis_state *s = c->node->state;
  const emb_tensor *data = emb_in_t(c, 0), *idx = emb_in_t(c, 1),
                   *upd = emb_in_t(c, 2);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int r = data->rank, q = idx->rank;
  size_t k = (size_t)idx->dims[q - 1];
  size_t nt = prod(idx->dims, 0, q - 1);
  size_t slice = prod(data->dims, (int)k, r);
  if (emb_tensor_numel(upd) != nt * slice)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'updates' has %zu elements, expected %zu",
                       emb_tensor_numel(upd), nt * slice);
  bool packed = emb_mv_packed(out->dtype);
  size_t offb = (nt * sizeof(size_t) + 15) & ~(size_t)15;
  size_t st_[EMB_MAX_RANK];
  elem_strides(r, data->dims, st_);
  emb_mv m;
  ember_status st = emb_mv_begin(
      c, data, out, offb + (packed ? emb_tensor_numel(upd) : 0), &m);
  if (st) return st;
  size_t *off = m.extra;
  if ((st = tuple_offsets(c, idx, 0, nt, k, data, 0, st_, 0, off))) {
    emb_mv_abort(out, &m);
    return st;
  }
  const char *u = upd->data;
  if (packed) {
    unpack_all(upd, (char *)m.extra + offb);
    u = (const char *)m.extra + offb;
  }
  size_t total = emb_tensor_numel(data);
  if (total) memcpy(m.dst, m.src, total * m.esize);
  scatter_apply(out->dtype, s->red, m.esize, m.dst, u, off, nt, slice);
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_scatternd = {3, 3, 1, 1, 0, scatternd_init,
                                    scatternd_infer, scatternd_run};

/* ======================================================= TensorScatter */

typedef struct tensorscatter_state {
  int64_t axis;
  bool circular;
} tensorscatter_state;

static ember_status tensorscatter_init(emb_init_ctx *c) {
  tensorscatter_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const char *mode;
  ember_status st = emb_attr_int(c->node, "axis", -2, &s->axis, c->diag);
  if (st) return st;
  if ((st = emb_attr_string(c->node, "mode", "linear", &mode, c->diag)))
    return st;
  if (!strcmp(mode, "circular"))
    s->circular = true;
  else if (strcmp(mode, "linear"))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "mode '%s' is neither 'linear' nor 'circular'", mode);
  c->node->state = s;
  return EMBER_OK;
}

static ember_status tensorscatter_infer(emb_infer_ctx *c) {
  const tensorscatter_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 2)) || (st = need_movable(c, 0, true)) ||
      (st = need_same_dtype(c, 0, 1)) || (st = need_index_type(c, 2)))
    return st;
  int r = in_rank(c, 0), u = in_rank(c, 1), w = in_rank(c, 2);
  if (r >= 0 && u >= 0 && r != u)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'past_cache' has rank %d but 'update' has rank %d", r,
                       u);
  if (w >= 0 && w != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'write_indices' must be 1-D, not of rank %d", w);
  if (r < 0) r = u;
  if (r >= 0) {
    int ax;
    if (r < 2)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "the caches must have rank 2 or more, not %d", r);
    if ((st = emb_axis(c->node, s->axis, r, &ax, c->diag))) return st;
    if (ax == 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "axis must not be the batch axis 0");
    const emb_type *p = c->in[0], *up = c->in[1];
    if (in_rank(c, 0) >= 0 && u >= 0)
      for (int k = 0; k < r; k++) {
        int64_t pv = p->dims[k].v, uv = up->dims[k].v;
        if (pv < 0 || uv < 0) continue;
        if (k == ax ? uv > pv : uv != pv)
          return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                             "'update' dimension %d is %lld, but "
                             "'past_cache' has %lld",
                             k, (long long)uv, (long long)pv);
      }
    const emb_type *wt = w == 1 ? c->in[2] : NULL;
    const emb_type *bt = in_rank(c, 0) >= 0 ? p : up;
    if (wt && wt->dims[0].v >= 0 && bt->dims[0].v >= 0 &&
        wt->dims[0].v != bt->dims[0].v)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "'write_indices' has %lld entries for a batch of "
                         "%lld",
                         (long long)wt->dims[0].v, (long long)bt->dims[0].v);
  }
  if (in_rank(c, 0) >= 0) {
    c->out[0] = *c->in[0];
  } else {
    emb_type_tensor(&c->out[0], in_dtype(c, 1), u, NULL);
    if (u >= 0) c->out[0].dims[0] = c->in[1]->dims[0];
  }
  if (!c->out[0].dtype) c->out[0].dtype = in_dtype(c, 1);
  return EMBER_OK;
}

static ember_status tensorscatter_run(emb_run_ctx *c) {
  const tensorscatter_state *s = c->node->state;
  const emb_tensor *past = emb_in_t(c, 0), *upd = emb_in_t(c, 1),
                   *wi = emb_in_t(c, 2);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int r = past->rank;
  int ax = (int)(s->axis < 0 ? s->axis + r : s->axis);
  int64_t maxlen = past->dims[ax], len = upd->dims[ax], batch = past->dims[0];
  if (wi && (int64_t)emb_tensor_numel(wi) != batch)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'write_indices' has %zu entries for a batch of %lld",
                       emb_tensor_numel(wi), (long long)batch);
  for (int64_t b = 0; wi && !s->circular && b < batch; b++) {
    int64_t w = idx_get(wi, (size_t)b);
    if (w < 0 || w > maxlen - len)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "write index %lld of batch %lld does not leave room "
                         "for %lld entries in a cache of %lld",
                         (long long)w, (long long)b, (long long)len,
                         (long long)maxlen);
  }
  size_t pre = prod(past->dims, 0, ax), post = prod(past->dims, ax + 1, r);
  size_t per_batch = batch ? pre / (size_t)batch : 0;
  bool packed = emb_mv_packed(out->dtype);
  emb_mv m;
  ember_status st =
      emb_mv_begin(c, past, out, packed ? emb_tensor_numel(upd) : 0, &m);
  if (st) return st;
  const char *u = upd->data;
  if (packed) {
    unpack_all(upd, m.extra);
    u = m.extra;
  }
  size_t total = emb_tensor_numel(past), es = m.esize, blk = post * es;
  if (total) memcpy(m.dst, m.src, total * es);
  for (size_t p = 0; p < pre && len > 0; p++) {
    int64_t w = wi ? idx_get(wi, p / per_batch) : 0;
    for (int64_t j = 0; j < len; j++) {
      int64_t at = w + j;
      if (s->circular) {
        at %= maxlen;
        if (at < 0) at += maxlen;
      }
      memcpy(m.dst + (p * (size_t)maxlen + (size_t)at) * blk,
             u + (p * (size_t)len + (size_t)j) * blk, blk);
    }
  }
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_tensorscatter = {2, 3, 1, 1, 0, tensorscatter_init,
                                        tensorscatter_infer,
                                        tensorscatter_run};

/* ============================================================ Compress */

typedef struct compress_state {
  int64_t axis;
  bool has_axis;
} compress_state;

static ember_status compress_init(emb_init_ctx *c) {
  compress_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->has_axis = emb_node_attr(c->node, "axis") != NULL;
  ember_status st = emb_attr_int(c->node, "axis", 0, &s->axis, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

/* Selected count among the first `limit` entries of the condition; a
 * true entry past the limit selects nothing that exists (numpy refuses
 * it too).  limit < 0: unknown, count them all. */
static ember_status compress_count(const emb_node *node, emb_diag *d,
                                   ember_status bad, const emb_tensor *cond,
                                   int64_t limit, int64_t *count) {
  size_t n = emb_tensor_numel(cond);
  const uint8_t *p = cond->data;
  int64_t cnt = 0;
  for (size_t i = 0; i < n; i++) {
    if (!p[i]) continue;
    if (limit >= 0 && (int64_t)i >= limit)
      return emb_op_fail(d, node, bad,
                         "'condition' selects index %zu, past the %lld "
                         "entries it applies to",
                         i, (long long)limit);
    cnt++;
  }
  *count = cnt;
  return EMBER_OK;
}

static ember_status compress_infer(emb_infer_ctx *c) {
  static const int32_t bool_only[] = {EMBER_BOOL, 0};
  const compress_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 2)) || (st = need_movable(c, 0, true)) ||
      (st = emb_infer_check_dtype(c, 1, bool_only)))
    return st;
  int32_t dt = in_dtype(c, 0);
  int r = in_rank(c, 0), cr = in_rank(c, 1);
  if (cr >= 0 && cr != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'condition' must be 1-D, not of rank %d", cr);
  const emb_tensor *cond = in_value(c, 1);
  emb_type *o = &c->out[0];
  int64_t limit = -1;
  int ax = -1;
  if (s->has_axis) {
    if (r == 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "'input' must have rank 1 or more to use an axis");
    if (r < 0) {
      emb_type_tensor(o, dt, -1, NULL);
      return EMBER_OK;
    }
    if ((st = emb_axis(c->node, s->axis, r, &ax, c->diag))) return st;
    *o = *c->in[0];
    o->dtype = dt;
    o->dims[ax] = unknown_dim;
    limit = c->in[0]->dims[ax].v;
  } else {
    emb_type_tensor(o, dt, 1, NULL);
    if (r >= 0) {
      limit = 1;
      for (int k = 0; k < r && limit >= 0; k++) {
        int64_t v = c->in[0]->dims[k].v;
        if (v < 0 || !emb_mul_i64(limit, v, &limit)) limit = -1;
      }
    }
  }
  if (cond) {
    int64_t cnt = 0;
    if ((st = compress_count(c->node, c->diag, value_status(c), cond, limit,
                             &cnt)))
      return st;
    o->dims[s->has_axis ? ax : 0].v = cnt;
    o->dims[s->has_axis ? ax : 0].sym = 0;
  }
  return EMBER_OK;
}

static ember_status compress_run(emb_run_ctx *c) {
  const compress_state *s = c->node->state;
  const emb_tensor *in = emb_in_t(c, 0), *cond = emb_in_t(c, 1);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int r = in->rank;
  int ax = s->has_axis ? (int)(s->axis < 0 ? s->axis + r : s->axis) : 0;
  size_t outer = 1, dim = emb_tensor_numel(in), inner = 1;
  if (s->has_axis) {
    outer = prod(in->dims, 0, ax);
    dim = (size_t)in->dims[ax];
    inner = prod(in->dims, ax + 1, r);
  }
  size_t n = emb_tensor_numel(cond), lim = n < dim ? n : dim;
  const uint8_t *p = cond->data;
  emb_mv m;
  ember_status st = emb_mv_begin(c, in, out, 0, &m);
  if (st) return st;
  size_t blk = inner * m.esize, written = 0, cap = emb_tensor_numel(out);
  for (size_t o = 0; o < outer; o++) {
    const char *base = m.src + o * dim * blk;
    for (size_t i = 0; i < lim; i++) {
      if (!p[i]) continue;
      if ((written + 1) * inner > cap) { /* infer and run disagree */
        emb_mv_abort(out, &m);
        return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                           "'condition' selects more than the output holds");
      }
      memcpy(m.dst + written * blk, base + i * blk, blk);
      written++;
    }
  }
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_compress = {2, 2, 1, 1, 0, compress_init,
                                   compress_infer, compress_run};

/* ============================================================= NonZero */

/* Whether the element at p is not zero: -0.0 is zero, NaN is not; a
 * string is non-zero when not empty; complex when either part is. */
static bool elem_nonzero(int32_t dt, const char *p) {
  switch (dt) {
    case EMBER_FLOAT: {
      uint32_t b;
      memcpy(&b, p, 4);
      return (b & 0x7fffffffu) != 0;
    }
    case EMBER_DOUBLE: {
      uint64_t b;
      memcpy(&b, p, 8);
      return (b & 0x7fffffffffffffffull) != 0;
    }
    case EMBER_FLOAT16:
    case EMBER_BFLOAT16: {
      uint16_t b;
      memcpy(&b, p, 2);
      return (b & 0x7fffu) != 0;
    }
    case EMBER_FLOAT8E4M3FN:
    case EMBER_FLOAT8E5M2: return ((uint8_t)*p & 0x7fu) != 0;
    case EMBER_FLOAT8E8M0: return true; /* no zero in this format */
    case EMBER_COMPLEX64:
      return elem_nonzero(EMBER_FLOAT, p) || elem_nonzero(EMBER_FLOAT, p + 4);
    case EMBER_COMPLEX128:
      return elem_nonzero(EMBER_DOUBLE, p) ||
             elem_nonzero(EMBER_DOUBLE, p + 8);
    case EMBER_STRING: {
      const char *s;
      memcpy(&s, p, sizeof s);
      return s && *s;
    }
    default: { /* integers, bool, the fnuz float8 types (0x80 is NaN) */
      size_t es = emb_mv_esize(dt);
      for (size_t i = 0; i < es; i++)
        if (p[i]) return true;
      return false;
    }
  }
}

static size_t count_nonzero(const emb_tensor *t) {
  size_t n = emb_tensor_numel(t), es = emb_mv_esize(t->dtype), cnt = 0;
  const char *p = t->data;
  for (size_t i = 0; i < n; i++) cnt += elem_nonzero(t->dtype, p + i * es);
  return cnt;
}

static ember_status nonzero_infer(emb_infer_ctx *c) {
  ember_status st;
  if ((st = need_tensors(c, 1)) || (st = need_movable(c, 0, false)))
    return st;
  int r = in_rank(c, 0);
  emb_type *o = &c->out[0];
  emb_type_tensor(o, EMBER_INT64, 2, NULL);
  if (r >= 0) o->dims[0].v = r;
  const emb_tensor *v = in_value(c, 0);
  if (v) o->dims[1].v = (int64_t)count_nonzero(v);
  return EMBER_OK;
}

static ember_status nonzero_run(emb_run_ctx *c) {
  const emb_tensor *in = emb_in_t(c, 0);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  size_t n = emb_tensor_numel(in), es = emb_mv_esize(in->dtype);
  size_t nnz = (size_t)out->dims[1], j = 0;
  int r = in->rank;
  int64_t pos[EMB_MAX_RANK] = {0};
  int64_t *y = out->data;
  const char *p = in->data;
  for (size_t i = 0; i < n; i++) {
    if (elem_nonzero(in->dtype, p + i * es)) {
      if (j >= nnz)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                           "more non-zero elements than the output holds");
      for (int k = 0; k < r; k++) y[(size_t)k * nnz + j] = pos[k];
      j++;
    }
    for (int k = r - 1; k >= 0; k--) {
      if (++pos[k] < in->dims[k]) break;
      pos[k] = 0;
    }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_nonzero = {1, 1, 1, 1, 0, NULL, nonzero_infer,
                                  nonzero_run};

/* ============================================================== Unique */

typedef struct unique_state {
  int64_t axis;
  bool has_axis, sorted;
} unique_state;

static ember_status unique_init(emb_init_ctx *c) {
  unique_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t sorted;
  s->has_axis = emb_node_attr(c->node, "axis") != NULL;
  ember_status st = emb_attr_int(c->node, "axis", 0, &s->axis, c->diag);
  if (st) return st;
  if ((st = emb_attr_int(c->node, "sorted", 1, &sorted, c->diag))) return st;
  if (sorted != 0 && sorted != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "sorted must be 0 or 1, not %lld", (long long)sorted);
  s->sorted = sorted;
  c->node->state = s;
  return EMBER_OK;
}

/* Element types Unique can order. */
static bool unique_dtype_ok(int32_t dt) {
  switch (dt) {
    case EMBER_FLOAT: case EMBER_DOUBLE: case EMBER_FLOAT16:
    case EMBER_BFLOAT16: case EMBER_INT8: case EMBER_UINT8:
    case EMBER_INT16: case EMBER_UINT16: case EMBER_INT32:
    case EMBER_UINT32: case EMBER_INT64: case EMBER_UINT64: case EMBER_BOOL:
    case EMBER_STRING: case EMBER_COMPLEX64: case EMBER_COMPLEX128:
      return true;
    default: return false;
  }
}

static ember_status unique_infer(emb_infer_ctx *c) {
  const unique_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 1))) return st;
  int32_t dt = in_dtype(c, 0);
  if (dt && !unique_dtype_ok(dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(dt));
  int r = in_rank(c, 0);
  emb_type *y = &c->out[0];
  emb_dim inv = unknown_dim;
  if (s->has_axis) {
    emb_type_tensor(y, dt, r, NULL);
    if (r == 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "'X' must have rank 1 or more to use an axis");
    if (r > 0) {
      int ax;
      if ((st = emb_axis(c->node, s->axis, r, &ax, c->diag))) return st;
      *y = *c->in[0];
      inv = y->dims[ax];
      y->dims[ax] = unknown_dim;
    }
  } else {
    emb_type_tensor(y, dt, 1, NULL);
    if (r >= 0) {
      int64_t n = 1;
      for (int k = 0; k < r && n >= 0; k++) {
        int64_t v = c->in[0]->dims[k].v;
        if (v < 0 || !emb_mul_i64(n, v, &n)) n = -1;
      }
      inv.v = n;
      if (r == 1) inv = c->in[0]->dims[0];
    }
  }
  for (int i = 1; i < c->n_out; i++) emb_type_tensor(&c->out[i], EMBER_INT64,
                                                     1, NULL);
  if (c->n_out > 2) c->out[2].dims[0] = inv;
  return EMBER_OK;
}

/* Three-way compare of two floats with NaN above everything and equal
 * to itself, so that NaNs gather at the end in one group. */
static int cmp_f64(double a, double b) {
  bool na = a != a, nb = b != b;
  if (na || nb) return na - nb;
  return (a > b) - (a < b);
}

static int cmp_elem(int32_t dt, const char *a, const char *b) {
  switch (dt) {
#define CMP_AS(T)                                                      \
  {                                                                    \
    T x, y;                                                            \
    memcpy(&x, a, sizeof x);                                           \
    memcpy(&y, b, sizeof y);                                           \
    return (x > y) - (x < y);                                          \
  }
    case EMBER_INT8: CMP_AS(int8_t)
    case EMBER_UINT8: case EMBER_BOOL: CMP_AS(uint8_t)
    case EMBER_INT16: CMP_AS(int16_t)
    case EMBER_UINT16: CMP_AS(uint16_t)
    case EMBER_INT32: CMP_AS(int32_t)
    case EMBER_UINT32: CMP_AS(uint32_t)
    case EMBER_INT64: CMP_AS(int64_t)
    case EMBER_UINT64: CMP_AS(uint64_t)
#undef CMP_AS
    case EMBER_FLOAT: {
      float x, y;
      memcpy(&x, a, 4);
      memcpy(&y, b, 4);
      return cmp_f64(x, y);
    }
    case EMBER_DOUBLE: {
      double x, y;
      memcpy(&x, a, 8);
      memcpy(&y, b, 8);
      return cmp_f64(x, y);
    }
    case EMBER_FLOAT16:
    case EMBER_BFLOAT16: {
      uint16_t x, y;
      memcpy(&x, a, 2);
      memcpy(&y, b, 2);
      return dt == EMBER_FLOAT16
                 ? cmp_f64(emb_f16_to_f32(x), emb_f16_to_f32(y))
                 : cmp_f64(emb_bf16_to_f32(x), emb_bf16_to_f32(y));
    }
    case EMBER_COMPLEX64: { /* by real part, then imaginary (numpy) */
      int r = cmp_elem(EMBER_FLOAT, a, b);
      return r ? r : cmp_elem(EMBER_FLOAT, a + 4, b + 4);
    }
    case EMBER_COMPLEX128: {
      int r = cmp_elem(EMBER_DOUBLE, a, b);
      return r ? r : cmp_elem(EMBER_DOUBLE, a + 8, b + 8);
    }
    case EMBER_STRING: {
      /* Byte order of UTF-8 is code point order, as numpy sorts. */
      const char *x, *y;
      memcpy(&x, a, sizeof x);
      memcpy(&y, b, sizeof y);
      int r = strcmp(x ? x : "", y ? y : "");
      return (r > 0) - (r < 0);
    }
    default: return 0;
  }
}

/* The items Unique compares: item i is the sub-tensor at position i of
 * the axis (elements ((p * n_items) + i) * post + j), or one element. */
typedef struct unique_items {
  const char *data;
  int32_t dtype;
  size_t es, pre, n_items, post;
} unique_items;

static int cmp_items(const unique_items *u, size_t a, size_t b) {
  for (size_t p = 0; p < u->pre; p++) {
    const char *x = u->data + (p * u->n_items + a) * u->post * u->es;
    const char *y = u->data + (p * u->n_items + b) * u->post * u->es;
    for (size_t j = 0; j < u->post; j++) {
      int r = cmp_elem(u->dtype, x + j * u->es, y + j * u->es);
      if (r) return r;
    }
  }
  return 0;
}

/* Stable bottom-up merge sort of the item numbers in perm (tmp is as
 * long): equal items keep their input order, so each run of equals starts
 * with its first occurrence. */
static void sort_items(const unique_items *u, size_t *perm, size_t *tmp,
                       size_t n) {
  size_t *a = perm, *b = tmp;
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n;
      size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        b[k++] = cmp_items(u, a[j], a[i]) < 0 ? a[j++] : a[i++];
      while (i < mid) b[k++] = a[i++];
      while (j < hi) b[k++] = a[j++];
    }
    size_t *t = a;
    a = b;
    b = t;
  }
  if (a != perm) memcpy(perm, a, n * sizeof *perm);
}

/* Allocate output k (a tensor built by this operator) unless omitted. */
static ember_status unique_out(emb_run_ctx *c, int k, int32_t dtype, int rank,
                               const int64_t *dims, emb_tensor **t) {
  *t = NULL;
  if (k >= c->n_out || !c->out[k]) return EMBER_OK;
  emb_value_clear(c->out[k]);
  ember_status st = emb_tensor_alloc(&c->out[k]->t, dtype, rank, dims,
                                     c->diag);
  if (st) return st;
  c->out[k]->kind = EMB_VK_TENSOR;
  *t = &c->out[k]->t;
  return EMBER_OK;
}

static ember_status unique_run(emb_run_ctx *c) {
  const unique_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  unique_items u = {x->data, x->dtype, emb_mv_esize(x->dtype), 1,
                    emb_tensor_numel(x), 1};
  int r = x->rank, ax = 0;
  if (s->has_axis) {
    ax = (int)(s->axis < 0 ? s->axis + r : s->axis);
    u.pre = prod(x->dims, 0, ax);
    u.n_items = (size_t)x->dims[ax];
    u.post = prod(x->dims, ax + 1, r);
  }
  size_t m = u.n_items;
  /* perm, tmp, group of item, first item of group, count, new order */
  size_t *w = emb_scratch(c, 6 * (m ? m : 1) * sizeof(size_t));
  if (!w) return c->diag->status ? c->diag->status : EMBER_ERR_OUT_OF_MEMORY;
  size_t *perm = w, *tmp = w + m, *group = w + 2 * m, *first = w + 3 * m,
         *count = w + 4 * m, *order = w + 5 * m;
  for (size_t i = 0; i < m; i++) perm[i] = i;
  sort_items(&u, perm, tmp, m);
  size_t g = 0;
  for (size_t t = 0; t < m; t++) {
    if (t == 0 || cmp_items(&u, perm[t - 1], perm[t])) {
      first[g] = perm[t];
      count[g] = 0;
      g++;
    }
    group[perm[t]] = g - 1;
    count[g - 1]++;
  }
  /* order[k]: the group placed k-th; sorted keeps the sorted groups,
   * otherwise groups go by their first occurrence. */
  if (s->sorted) {
    for (size_t k = 0; k < g; k++) order[k] = k;
  } else {
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
      if (first[group[i]] == i) order[k++] = group[i];
  }
  /* tmp[group] = its output position (tmp is free after sorting). */
  for (size_t k = 0; k < g; k++) tmp[order[k]] = k;

  int64_t ydims[EMB_MAX_RANK], gd = (int64_t)g, md = (int64_t)m;
  emb_tensor *y, *ti, *tinv, *tc;
  ember_status st;
  if (s->has_axis) {
    memcpy(ydims, x->dims, (size_t)r * sizeof *ydims);
    ydims[ax] = gd;
  } else {
    ydims[0] = gd;
  }
  if ((st = unique_out(c, 0, x->dtype, s->has_axis ? r : 1, ydims, &y)) ||
      (st = unique_out(c, 1, EMBER_INT64, 1, &gd, &ti)) ||
      (st = unique_out(c, 2, EMBER_INT64, 1, &md, &tinv)) ||
      (st = unique_out(c, 3, EMBER_INT64, 1, &gd, &tc)))
    return st;
  if (y) {
    size_t blk = u.post * u.es;
    char *dst = y->data;
    for (size_t p = 0; p < u.pre; p++)
      for (size_t k = 0; k < g; k++) {
        const char *src = u.data + (p * m + first[order[k]]) * blk;
        if (x->dtype != EMBER_STRING) {
          memcpy(dst, src, blk);
        } else {
          char **to = (char **)(void *)dst;
          char *const *from = (char *const *)(const void *)src;
          for (size_t j = 0; j < u.post; j++) {
            char *dup = strdup(from[j] ? from[j] : "");
            if (!dup)
              return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                                 "out of memory copying strings");
            free(to[j]);
            to[j] = dup;
          }
        }
        dst += blk;
      }
  }
  for (size_t k = 0; k < g; k++) {
    if (ti) ((int64_t *)ti->data)[k] = (int64_t)first[order[k]];
    if (tc) ((int64_t *)tc->data)[k] = (int64_t)count[order[k]];
  }
  for (size_t i = 0; tinv && i < m; i++)
    ((int64_t *)tinv->data)[i] = (int64_t)tmp[group[i]];
  return EMBER_OK;
}

const emb_opdef emb_op_unique = {1, 1, 1, 4, EMB_OP_OWN_OUTPUTS, unique_init,
                                 unique_infer, unique_run};

/* ===================================================== ReverseSequence */

typedef struct revseq_state {
  int batch_axis, time_axis;
} revseq_state;

static ember_status reversesequence_init(emb_init_ctx *c) {
  revseq_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t b, t;
  ember_status st = emb_attr_int(c->node, "batch_axis", 1, &b, c->diag);
  if (st) return st;
  if ((st = emb_attr_int(c->node, "time_axis", 0, &t, c->diag))) return st;
  if ((b != 0 && b != 1) || (t != 0 && t != 1) || b == t)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "batch_axis (%lld) and time_axis (%lld) must be 0 and "
                       "1 in some order",
                       (long long)b, (long long)t);
  s->batch_axis = (int)b;
  s->time_axis = (int)t;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status reversesequence_infer(emb_infer_ctx *c) {
  const revseq_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 2)) || (st = need_movable(c, 0, true)) ||
      (st = need_index_type(c, 1)))
    return st;
  int r = in_rank(c, 0), lr = in_rank(c, 1);
  if (r >= 0 && r < 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'input' must have rank 2 or more, not %d", r);
  if (lr >= 0 && lr != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'sequence_lens' must be 1-D, not of rank %d", lr);
  if (r >= 0 && lr == 1) {
    int64_t bv = c->in[0]->dims[s->batch_axis].v, lv = c->in[1]->dims[0].v;
    if (bv >= 0 && lv >= 0 && bv != lv)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "'sequence_lens' has %lld entries for a batch of "
                         "%lld",
                         (long long)lv, (long long)bv);
  }
  c->out[0] = *c->in[0];
  return EMBER_OK;
}

static ember_status reversesequence_run(emb_run_ctx *c) {
  const revseq_state *s = c->node->state;
  const emb_tensor *in = emb_in_t(c, 0), *lens = emb_in_t(c, 1);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  size_t nb = (size_t)in->dims[s->batch_axis];
  int64_t nt = in->dims[s->time_axis];
  if (emb_tensor_numel(lens) != nb)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'sequence_lens' has %zu entries for a batch of %zu",
                       emb_tensor_numel(lens), nb);
  for (size_t b = 0; b < nb; b++) {
    int64_t l = idx_get(lens, b);
    if (l < 0 || l > nt)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "sequence length %lld of batch %zu is outside [0, "
                         "%lld]",
                         (long long)l, b, (long long)nt);
  }
  emb_mv m;
  ember_status st = emb_mv_begin(c, in, out, 0, &m);
  if (st) return st;
  size_t blk = prod(in->dims, 2, in->rank) * m.esize;
  /* Element (time t, batch b) starts at (t * nb + b) blocks when time is
   * axis 0, at (b * nt + t) otherwise. */
  bool time0 = s->time_axis == 0;
  for (size_t b = 0; b < nb; b++) {
    int64_t l = idx_get(lens, b);
    for (int64_t t = 0; t < nt; t++) {
      int64_t from = t < l ? l - 1 - t : t;
      size_t di = time0 ? (size_t)t * nb + b : b * (size_t)nt + (size_t)t;
      size_t si = time0 ? (size_t)from * nb + b
                        : b * (size_t)nt + (size_t)from;
      memcpy(m.dst + di * blk, m.src + si * blk, blk);
    }
  }
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_reversesequence = {
    2, 2, 1, 1, 0, reversesequence_init, reversesequence_infer,
    reversesequence_run};

/* ============================================================== OneHot */

typedef struct onehot_state {
  int64_t axis;
} onehot_state;

static ember_status onehot_init(emb_init_ctx *c) {
  onehot_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_attr_int(c->node, "axis", -1, &s->axis, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static bool is_numeric(int32_t dt) {
  return emb_dtype_is_int(dt) || dt == EMBER_FLOAT || dt == EMBER_DOUBLE ||
         dt == EMBER_FLOAT16 || dt == EMBER_BFLOAT16;
}

/* The depth, from a scalar or one-element numeric tensor (floats are
 * truncated, as a cast to int64 does). */
static ember_status onehot_depth(const emb_node *node, emb_diag *d,
                                 ember_status bad, const emb_tensor *t,
                                 int64_t *depth) {
  if (emb_tensor_numel(t) != 1 || t->rank > 1)
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "'depth' must hold exactly one value");
  if (!is_numeric(t->dtype))
    return emb_op_fail(d, node, EMBER_ERR_TYPE,
                       "'depth' must be numeric, not %s",
                       ember_dtype_name(t->dtype));
  *depth = emb_tensor_get_i64(t, 0);
  if (*depth < 0)
    return emb_op_fail(d, node, bad, "'depth' is negative (%lld)",
                       (long long)*depth);
  return EMBER_OK;
}

static ember_status onehot_infer(emb_infer_ctx *c) {
  const onehot_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 3)) || (st = need_movable(c, 2, false)))
    return st;
  for (int i = 0; i < 2; i++) {
    int32_t dt = in_dtype(c, i);
    if (dt && !is_numeric(dt))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d must be numeric, not %s", i,
                         ember_dtype_name(dt));
  }
  int vr = in_rank(c, 2);
  if (vr >= 0) {
    int64_t n = vr == 1 ? c->in[2]->dims[0].v : 1;
    if (vr != 1 || (n >= 0 && n != 2))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "'values' must be 1-D with two elements");
  }
  const emb_tensor *dv = in_value(c, 1);
  int64_t depth = -1;
  if (dv && (st = onehot_depth(c->node, c->diag, value_status(c), dv,
                               &depth)))
    return st;
  int r = in_rank(c, 0);
  emb_type *o = &c->out[0];
  emb_type_tensor(o, in_dtype(c, 2), -1, NULL);
  if (r < 0) return EMBER_OK;
  if ((st = check_rank_limit(c, r + 1))) return st;
  int ax;
  if ((st = emb_axis(c->node, s->axis, r + 1, &ax, c->diag))) return st;
  emb_type_tensor(o, in_dtype(c, 2), r + 1, NULL);
  for (int k = 0, j = 0; k <= r; k++)
    if (k != ax) o->dims[k] = c->in[0]->dims[j++];
  o->dims[ax].v = depth;
  return EMBER_OK;
}

static ember_status onehot_run(emb_run_ctx *c) {
  const onehot_state *s = c->node->state;
  const emb_tensor *idx = emb_in_t(c, 0), *values = emb_in_t(c, 2);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  if (emb_tensor_numel(values) != 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'values' must hold two elements");
  int r = idx->rank;
  int ax = (int)(s->axis < 0 ? s->axis + r + 1 : s->axis);
  int64_t depth = out->dims[ax];
  size_t outer = prod(idx->dims, 0, ax), inner = prod(idx->dims, ax, r);
  bool negative_ok = c->node->opset >= 11; /* OneHot-9: [0, depth) only */
  emb_mv m;
  ember_status st = emb_mv_begin(c, values, out, 0, &m);
  if (st) return st;
  char off[16], on[16];
  emb_mv_elem(values, 0, off);
  emb_mv_elem(values, 1, on);
  size_t total = emb_tensor_numel(out);
  if (total) ember_xx_fill__scalar(m.esize, total, off, m.dst);
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      int64_t v = emb_tensor_get_i64(idx, o * inner + i);
      if (v < 0 && negative_ok) v += depth;
      if (v < 0 || v >= depth) continue;
      size_t at = (o * (size_t)depth + (size_t)v) * inner + i;
      memcpy(m.dst + at * m.esize, on, m.esize);
    }
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_onehot = {3, 3, 1, 1, 0, onehot_init, onehot_infer,
                                 onehot_run};

/* ============================================================= EyeLike */

typedef struct eyelike_state {
  int64_t k;
  int32_t dtype; /* 0: the input's */
} eyelike_state;

/* Element types EyeLike may read and write (numbers and bool). */
static bool eyelike_dtype_ok(int32_t dt) {
  return is_numeric(dt) || dt == EMBER_BOOL;
}

static ember_status eyelike_init(emb_init_ctx *c) {
  eyelike_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t dt;
  ember_status st = emb_attr_int(c->node, "k", 0, &s->k, c->diag);
  if (st) return st;
  if ((st = emb_attr_int(c->node, "dtype", 0, &dt, c->diag))) return st;
  if (dt && !eyelike_dtype_ok((int32_t)dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "dtype %lld is not a numeric or bool element type",
                       (long long)dt);
  s->dtype = (int32_t)dt;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status eyelike_infer(emb_infer_ctx *c) {
  const eyelike_state *s = c->node->state;
  ember_status st;
  if ((st = need_tensors(c, 1))) return st;
  int32_t dt = in_dtype(c, 0);
  if (dt && !eyelike_dtype_ok(dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "input 0 has element type %s, which is not "
                       "supported",
                       ember_dtype_name(dt));
  int r = in_rank(c, 0);
  if (r >= 0 && r != 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'input' must be 2-D, not of rank %d", r);
  emb_type *o = &c->out[0];
  if (r == 2)
    *o = *c->in[0];
  else
    emb_type_tensor(o, dt, 2, NULL);
  o->dtype = s->dtype ? s->dtype : dt;
  return EMBER_OK;
}

static ember_status eyelike_run(emb_run_ctx *c) {
  const eyelike_state *s = c->node->state;
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  size_t es = emb_mv_esize(out->dtype);
  int64_t rows = out->dims[0], cols = out->dims[1];
  char one[16] = {0};
  emb_tensor t1 = {0};
  t1.dtype = out->dtype;
  t1.data = one;
  emb_tensor_set_f64(&t1, 0, 1.0);
  if (out->nbytes) memset(out->data, 0, out->nbytes);
  for (int64_t i = 0; i < rows; i++) {
    int64_t j = i + s->k;
    if (j < 0 || j >= cols) continue;
    memcpy((char *)out->data + ((size_t)i * (size_t)cols + (size_t)j) * es,
           one, es);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_eyelike = {1, 1, 1, 1, 0, eyelike_init, eyelike_infer,
                                  eyelike_run};

/* =============================================================== Trilu */

typedef struct trilu_state {
  bool upper;
} trilu_state;

static ember_status trilu_init(emb_init_ctx *c) {
  trilu_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  int64_t up;
  ember_status st = emb_attr_int(c->node, "upper", 1, &up, c->diag);
  if (st) return st;
  s->upper = up != 0;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status trilu_k(const emb_node *node, emb_diag *d,
                            const emb_tensor *t, int64_t *k) {
  if (emb_tensor_numel(t) != 1 || t->rank > 1)
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "'k' must hold exactly one value");
  *k = idx_get(t, 0);
  return EMBER_OK;
}

static ember_status trilu_infer(emb_infer_ctx *c) {
  ember_status st;
  if ((st = need_tensors(c, 1)) || (st = need_movable(c, 0, true)) ||
      (st = need_index_type(c, 1)))
    return st;
  int r = in_rank(c, 0), kr = in_rank(c, 1);
  if (r >= 0 && r < 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'input' must have rank 2 or more, not %d", r);
  if (kr > 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "'k' must be a scalar, not of rank %d", kr);
  const emb_tensor *kv = in_value(c, 1);
  int64_t k = 0;
  if (kv && (st = trilu_k(c->node, c->diag, kv, &k))) return st;
  c->out[0] = *c->in[0];
  return EMBER_OK;
}

static ember_status trilu_run(emb_run_ctx *c) {
  const trilu_state *s = c->node->state;
  const emb_tensor *in = emb_in_t(c, 0), *kt = emb_in_t(c, 1);
  emb_tensor *out = emb_out_t(c, 0);
  if (!out) return EMBER_OK;
  int64_t k = 0;
  ember_status st;
  if (kt && (st = trilu_k(c->node, c->diag, kt, &k))) return st;
  int r = in->rank;
  int64_t rows = in->dims[r - 2], cols = in->dims[r - 1];
  size_t nmat = prod(in->dims, 0, r - 2);
  emb_mv m;
  if ((st = emb_mv_begin(c, in, out, 0, &m))) return st;
  size_t es = m.esize, row = (size_t)cols * es;
  /* Zero bytes are 0 for every number and NULL ("" once duplicated) for
   * strings. */
  size_t bytes = nmat * (size_t)rows * row;
  if (bytes) memset(m.dst, 0, bytes);
  for (size_t b = 0; b < nmat; b++)
    for (int64_t i = 0; i < rows; i++) {
      /* Kept columns: j >= i + k (upper) or j <= i + k (lower); k is
       * clamped so that the sums stay within int64. */
      int64_t kk = k < -cols - rows ? -cols - rows
                                    : k > cols + rows ? cols + rows : k;
      int64_t lo = s->upper ? i + kk : 0, hi = s->upper ? cols : i + kk + 1;
      if (lo < 0) lo = 0;
      if (hi > cols) hi = cols;
      if (lo >= hi) continue;
      size_t at = (b * (size_t)rows + (size_t)i) * row + (size_t)lo * es;
      memcpy(m.dst + at, m.src + at, (size_t)(hi - lo) * es);
    }
  return emb_mv_end(c, out, &m);
}

const emb_opdef emb_op_trilu = {1, 2, 1, 1, 0, trilu_init, trilu_infer,
                                trilu_run};
