/*
 * Quantization operators: QuantizeLinear and DequantizeLinear in every
 * version (per-tensor, per-axis from 13, float8 and saturate from 19,
 * blocked with block_size and output_dtype from 21, precision from 23,
 * the E8M0 scale from 24, the 2-bit types from 25), DynamicQuantizeLinear,
 * and the integer / quantized linear algebra: MatMulInteger, QLinearMatMul,
 * ConvInteger and QLinearConv.  Integer products accumulate in 32 bits
 * with wrap-around (the spec: "accumulation may overflow if and only if in
 * 32 bits"); requantization multiplies the accumulator by the combined
 * scale in double, rounds half to even and saturates to the output type.
 * The convolutions are im2col over slices of output positions followed by
 * the same int32 GEMM as the matmuls, so every spatial rank, padding,
 * stride, dilation and group count goes through one path.  Element access
 * for the narrow types (float8, float4, int4, int2, E8M0) is in narrow.c.
 */
#include <math.h>
#include <string.h>

#include "ir/narrow.h"
#include "ops/op.h"
#include "ops/window.h"

/* ------------------------------------------------------------ helpers */

static bool q_is_f8(int32_t dt) {
  return dt == EMBER_FLOAT8E4M3FN || dt == EMBER_FLOAT8E4M3FNUZ ||
         dt == EMBER_FLOAT8E5M2 || dt == EMBER_FLOAT8E5M2FNUZ;
}

/* Saturation range of an integer quantized type; false for the others. */
static bool q_int_range(int32_t dt, double *lo, double *hi) {
  switch (dt) {
    case EMBER_UINT8: *lo = 0; *hi = 255; return true;
    case EMBER_INT8: *lo = -128; *hi = 127; return true;
    case EMBER_UINT16: *lo = 0; *hi = 65535; return true;
    case EMBER_INT16: *lo = -32768; *hi = 32767; return true;
    case EMBER_UINT4: *lo = 0; *hi = 15; return true;
    case EMBER_INT4: *lo = -8; *hi = 7; return true;
    case EMBER_UINT2: *lo = 0; *hi = 3; return true;
    case EMBER_INT2: *lo = -2; *hi = 1; return true;
    case EMBER_INT32: *lo = -2147483648.0; *hi = 2147483647.0; return true;
    default: return false;
  }
}

/* Element i of an integer output type (value already in range). */
static void q_store_int(emb_tensor *y, size_t i, int64_t v) {
  switch (y->dtype) {
    case EMBER_UINT8: ((uint8_t *)y->data)[i] = (uint8_t)v; break;
    case EMBER_INT8: ((int8_t *)y->data)[i] = (int8_t)v; break;
    case EMBER_UINT16: ((uint16_t *)y->data)[i] = (uint16_t)v; break;
    case EMBER_INT16: ((int16_t *)y->data)[i] = (int16_t)v; break;
    case EMBER_INT32: ((int32_t *)y->data)[i] = (int32_t)v; break;
    default:
      emb_packed_set(y->data, emb_dtype_bits(y->dtype), i,
                     (unsigned)((uint64_t)v & 0xffu));
      break;
  }
}

/* Element i of a float output type. */
static void q_store_float(emb_tensor *y, size_t i, double v) {
  switch (y->dtype) {
    case EMBER_FLOAT: ((float *)y->data)[i] = (float)v; break;
    case EMBER_DOUBLE: ((double *)y->data)[i] = v; break;
    case EMBER_FLOAT16:
      ((uint16_t *)y->data)[i] =
          emb_f32_to_f16((float)emb_round_to(EMBER_FLOAT16, v));
      break;
    case EMBER_BFLOAT16:
      ((uint16_t *)y->data)[i] =
          emb_f32_to_bf16((float)emb_round_to(EMBER_BFLOAT16, v));
      break;
    default: break;
  }
}

/* How values are quantized into an output type. */
typedef struct q_out {
  int32_t dtype;
  bool is_int;
  double lo, hi;  /* integer types: saturation range                 */
  unsigned flags; /* minifloat types: EMB_NARROW_*                    */
  int bits;
} q_out;

static void q_out_init(q_out *o, int32_t dtype, bool saturate) {
  o->dtype = dtype;
  o->lo = o->hi = 0;
  o->is_int = q_int_range(dtype, &o->lo, &o->hi);
  o->flags = saturate ? EMB_NARROW_SATURATE : 0;
  o->bits = emb_dtype_bits(dtype);
}

/* Quantize the real value v (already divided by the scale, zero point
 * not yet added) into element i of y: integers round half to even, add
 * the zero point and saturate; minifloats add the zero point and round
 * to the type (saturating as configured). */
static void q_put(emb_tensor *y, size_t i, double v, double zp,
                  const q_out *o) {
  if (o->is_int) {
    /* NaN has no integer; it quantizes to the zero point. */
    double r = isnan(v) ? 0 : emb_round_even(v);
    r += zp;
    if (r < o->lo) r = o->lo;
    if (r > o->hi) r = o->hi;
    q_store_int(y, i, (int64_t)r);
  } else {
    emb_packed_set(y->data, o->bits, i,
                   emb_minifloat_encode(o->dtype, v + zp, o->flags));
  }
}

/* x / s computed in floating type `prec` (correctly rounded there). */
static double q_div(int32_t prec, double x, double s) {
  switch (prec) {
    case EMBER_FLOAT: return (double)((float)x / (float)s);
    case EMBER_FLOAT16:
    case EMBER_BFLOAT16:
      return emb_round_to(prec,
                          emb_round_to(prec, x) / emb_round_to(prec, s));
    default: return x / s;
  }
}

static size_t q_numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  return n;
}

/* ------------------------------------------- quantization granularity */

enum { Q_TENSOR, Q_AXIS, Q_BLOCK };

/* x seen as [outer, n, inner] around the quantization axis; the scale's
 * index for element (o, a, i) is 0, a, or (o * nb + a / blk) * inner + i. */
typedef struct q_layout {
  int mode;
  size_t outer, n, inner;
  size_t blk, nb;
} q_layout;

/* Work out the granularity from the shapes of x, the scale and the zero
 * point (zrank < 0: no zero point).  The spec wants identical shapes for
 * scale and zero point; a scalar and a one-element vector (which the
 * conformance models mix) are both accepted as per-tensor. */
static ember_status q_layout_of(const emb_node *node, emb_diag *d,
                                int xrank, const int64_t *xd, int srank,
                                const int64_t *sd, int zrank,
                                const int64_t *zd, int64_t axis,
                                int64_t block, q_layout *L) {
  size_t sn = q_numel(srank, sd);
  if (zrank >= 0) {
    size_t zn = q_numel(zrank, zd);
    bool same = zn == sn && (sn == 1 || zrank == srank);
    for (int i = 0; same && sn != 1 && i < srank; i++)
      same = zd[i] == sd[i];
    if (!same)
      return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                         "the zero point's shape differs from the scale's");
  }
  memset(L, 0, sizeof *L);
  L->outer = 1;
  L->n = q_numel(xrank, xd);
  L->inner = 1;
  L->blk = 1;
  L->nb = 1;
  if (sn == 1) {
    L->mode = Q_TENSOR;
    return EMBER_OK;
  }
  if (node->opset < 13)
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "the scale must be a scalar before opset 13");
  int ax;
  ember_status st = emb_axis(node, axis, xrank, &ax, d);
  if (st) return st;
  L->outer = q_numel(ax, xd);
  L->n = (size_t)xd[ax];
  L->inner = q_numel(xrank - ax - 1, xd + ax + 1);
  if (block <= 0) {
    if (srank != 1 || sd[0] != xd[ax])
      return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                         "per-axis quantization needs a 1-D scale of %lld "
                         "values (axis %d), got rank %d with %zu values",
                         (long long)xd[ax], ax, srank, sn);
    L->mode = Q_AXIS;
    return EMBER_OK;
  }
  if (srank != xrank)
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "blocked quantization needs a scale of rank %d, "
                       "not %d", xrank, srank);
  for (int i = 0; i < xrank; i++) {
    if (i == ax) continue;
    if (sd[i] != xd[i])
      return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                         "blocked quantization: scale dimension %d is "
                         "%lld, the input's is %lld",
                         i, (long long)sd[i], (long long)xd[i]);
  }
  int64_t want = (xd[ax] + block - 1) / block;
  if (sd[ax] != want)
    return emb_op_fail(d, node, EMBER_ERR_SHAPE,
                       "blocked quantization: %lld blocks of %lld along "
                       "axis %d need a scale dimension of %lld, not %lld",
                       (long long)want, (long long)block, ax,
                       (long long)want, (long long)sd[ax]);
  L->mode = Q_BLOCK;
  L->blk = (size_t)block;
  L->nb = (size_t)sd[ax];
  return EMBER_OK;
}

static size_t q_pidx(const q_layout *L, size_t o, size_t a, size_t i) {
  switch (L->mode) {
    case Q_AXIS: return a;
    case Q_BLOCK: return (o * L->nb + a / L->blk) * L->inner + i;
    default: return 0;
  }
}

/* Check the layout at infer time when every shape is known. */
static ember_status q_infer_layout(emb_infer_ctx *c, int64_t axis,
                                   int64_t block) {
  const emb_type *x = c->in[0], *s = c->in[1];
  const emb_type *z = c->n_in > 2 ? c->in[2] : NULL;
  if (!x || !s || !emb_type_static(x) || !emb_type_static(s)) return EMBER_OK;
  if (z && z->kind && !emb_type_static(z)) return EMBER_OK;
  int64_t xd[EMB_MAX_RANK], sd[EMB_MAX_RANK], zd[EMB_MAX_RANK];
  for (int i = 0; i < x->rank; i++) xd[i] = x->dims[i].v;
  for (int i = 0; i < s->rank; i++) sd[i] = s->dims[i].v;
  int zrank = z && z->kind ? z->rank : -1;
  for (int i = 0; i < zrank; i++) zd[i] = z->dims[i].v;
  q_layout L;
  return q_layout_of(c->node, c->diag, x->rank, xd, s->rank, sd, zrank, zd,
                     axis, block, &L);
}

/* Type / shape check of an input that must be a tensor when present. */
static ember_status q_need_tensor(emb_infer_ctx *c, int i) {
  if (i >= c->n_in || !c->in[i]) return EMBER_OK;
  if (c->in[i]->kind && c->in[i]->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input %d must be a tensor", i);
  return EMBER_OK;
}

static ember_status q_need_inputs(emb_infer_ctx *c, int n) {
  for (int i = 0; i < n; i++)
    if (i >= c->n_in || !c->in[i])
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "required input %d is missing", i);
  for (int i = 0; i < c->n_in; i++) {
    ember_status st = q_need_tensor(c, i);
    if (st) return st;
  }
  return EMBER_OK;
}

/* Output 0 with input 0's shape and the given dtype. */
static void q_out_like(emb_infer_ctx *c, int32_t dtype) {
  c->out[0] = *c->in[0];
  c->out[0].kind = EMBER_KIND_TENSOR;
  c->out[0].dtype = dtype;
}

/* ------------------------------------------------------ QuantizeLinear */

typedef struct ql_state {
  int64_t axis, block;
  int32_t out_dtype; /* output_dtype, 0 when absent                   */
  int32_t precision; /* precision, 0 when absent                      */
  bool saturate;
} ql_state;

static const int32_t ql_x_types[] = {EMBER_FLOAT, EMBER_FLOAT16,
                                     EMBER_BFLOAT16, EMBER_INT32,
                                     EMBER_DOUBLE, 0};
static const int32_t ql_scale_types[] = {EMBER_FLOAT, EMBER_FLOAT16,
                                         EMBER_BFLOAT16, EMBER_INT32,
                                         EMBER_FLOAT8E8M0, EMBER_DOUBLE, 0};

static bool ql_out_ok(int32_t dt) {
  double lo, hi;
  return (q_int_range(dt, &lo, &hi) && dt != EMBER_INT32) || q_is_f8(dt) ||
         dt == EMBER_FLOAT4E2M1;
}

static ember_status ql_common_init(emb_init_ctx *c, ql_state *s) {
  const emb_node *n = c->node;
  ember_status st;
  int64_t v;
  if ((st = emb_attr_int(n, "axis", 1, &s->axis, c->diag)) ||
      (st = emb_attr_int(n, "block_size", 0, &s->block, c->diag)))
    return st;
  if (s->block < 0)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "block_size must not be negative (%lld)",
                       (long long)s->block);
  if ((st = emb_attr_int(n, "output_dtype", 0, &v, c->diag))) return st;
  if (v < 0 || v > INT32_MAX || (v && !emb_dtype_valid((int32_t)v)))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "output_dtype %lld is not an element type",
                       (long long)v);
  s->out_dtype = (int32_t)v;
  return EMBER_OK;
}

static ember_status ql_init(emb_init_ctx *c) {
  const emb_node *n = c->node;
  ql_state *s = emb_op_state(c, sizeof *s);
  if (!s) return c->diag->status;
  ember_status st = ql_common_init(c, s);
  if (st) return st;
  if (s->out_dtype && !ql_out_ok(s->out_dtype))
    return emb_op_fail(c->diag, n, EMBER_ERR_UNSUPPORTED,
                       "output_dtype %s is not a quantized type",
                       ember_dtype_name(s->out_dtype));
  int64_t v;
  if ((st = emb_attr_int(n, "saturate", 1, &v, c->diag))) return st;
  s->saturate = v != 0;
  if ((st = emb_attr_int(n, "precision", 0, &v, c->diag))) return st;
  if (v && v != EMBER_FLOAT && v != EMBER_FLOAT16 && v != EMBER_BFLOAT16 &&
      v != EMBER_DOUBLE)
    return emb_op_fail(c->diag, n, EMBER_ERR_UNSUPPORTED,
                       "precision %lld is not float, float16, bfloat16 or "
                       "double", (long long)v);
  s->precision = (int32_t)v;
  c->node->state = s;
  return EMBER_OK;
}

/* The output type: the zero point's, else output_dtype, else uint8. */
static ember_status ql_out_dtype(emb_infer_ctx *c, const ql_state *s,
                                 int32_t *dt) {
  const emb_type *z = c->n_in > 2 ? c->in[2] : NULL;
  *dt = s->out_dtype ? s->out_dtype : EMBER_UINT8;
  if (z) {
    if (!z->kind) {
      *dt = s->out_dtype;
      return EMBER_OK;
    }
    if (s->out_dtype && z->dtype != s->out_dtype)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "output_dtype is %s but the zero point is %s",
                         ember_dtype_name(s->out_dtype),
                         ember_dtype_name(z->dtype));
    *dt = z->dtype;
  }
  if (!ql_out_ok(*dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "quantizing to %s is not supported",
                       ember_dtype_name(*dt));
  return EMBER_OK;
}

static ember_status ql_infer(emb_infer_ctx *c) {
  const ql_state *s = c->node->state;
  ember_status st;
  int32_t dt;
  if ((st = q_need_inputs(c, 2)) ||
      (st = emb_infer_check_dtype(c, 0, ql_x_types)) ||
      (st = emb_infer_check_dtype(c, 1, ql_scale_types)) ||
      (st = ql_out_dtype(c, s, &dt)) ||
      (st = q_infer_layout(c, s->axis, s->block)))
    return st;
  q_out_like(c, dt);
  return EMBER_OK;
}

static ember_status ql_run(emb_run_ctx *c) {
  const ql_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *sc = emb_in_t(c, 1);
  const emb_tensor *zp = emb_in_t(c, 2);
  emb_tensor *y = emb_out_t(c, 0);
  q_layout L;
  ember_status st = q_layout_of(c->node, c->diag, x->rank, x->dims,
                                sc->rank, sc->dims, zp ? zp->rank : -1,
                                zp ? zp->dims : NULL, s->axis, s->block, &L);
  if (st) return st;
  int32_t prec = s->precision ? s->precision : sc->dtype;
  if (prec == EMBER_FLOAT8E8M0) prec = EMBER_FLOAT; /* powers of two */
  if (prec == EMBER_INT32) prec = EMBER_DOUBLE;
  q_out o;
  q_out_init(&o, y->dtype, s->saturate);
  if (o.bits < 8) memset(y->data, 0, y->nbytes);
  /* Per-tensor float32 into 8-bit integers: the common case, no
   * per-element type dispatch. */
  if (L.mode == Q_TENSOR && x->dtype == EMBER_FLOAT && prec == EMBER_FLOAT &&
      (y->dtype == EMBER_UINT8 || y->dtype == EMBER_INT8)) {
    float sv = (float)emb_elem_f64(sc->dtype, sc->data, 0);
    double zv = zp ? emb_elem_f64(zp->dtype, zp->data, 0) : 0;
    const float *xs = x->data;
    for (size_t e = 0; e < L.n; e++) {
      double r = xs[e] / sv;
      r = isnan(r) ? zv : emb_round_even(r) + zv;
      r = r < o.lo ? o.lo : r > o.hi ? o.hi : r;
      if (y->dtype == EMBER_UINT8)
        ((uint8_t *)y->data)[e] = (uint8_t)r;
      else
        ((int8_t *)y->data)[e] = (int8_t)r;
    }
    return EMBER_OK;
  }
  size_t e = 0;
  for (size_t ou = 0; ou < L.outer; ou++)
    for (size_t a = 0; a < L.n; a++)
      for (size_t i = 0; i < L.inner; i++, e++) {
        size_t p = q_pidx(&L, ou, a, i);
        double sv = emb_elem_f64(sc->dtype, sc->data, p);
        double zv = zp ? emb_elem_f64(zp->dtype, zp->data, p) : 0;
        double q = q_div(prec, emb_elem_f64(x->dtype, x->data, e), sv);
        q_put(y, e, q, zv, &o);
      }
  return EMBER_OK;
}

const emb_opdef emb_op_quantizelinear = {2, 3, 1, 1, 0, ql_init, ql_infer,
                                         ql_run};

/* ---------------------------------------------------- DequantizeLinear */

static const int32_t dql_x_types[] = {
    EMBER_INT8, EMBER_UINT8, EMBER_INT16, EMBER_UINT16, EMBER_INT32,
    EMBER_FLOAT8E4M3FN, EMBER_FLOAT8E4M3FNUZ, EMBER_FLOAT8E5M2,
    EMBER_FLOAT8E5M2FNUZ, EMBER_UINT4, EMBER_INT4, EMBER_FLOAT4E2M1,
    EMBER_UINT2, EMBER_INT2, 0};
static const int32_t dql_scale_types[] = {EMBER_FLOAT, EMBER_FLOAT16,
                                          EMBER_BFLOAT16, EMBER_FLOAT8E8M0,
                                          0};

static bool dql_out_ok(int32_t dt) {
  return dt == EMBER_FLOAT || dt == EMBER_FLOAT16 || dt == EMBER_BFLOAT16;
}

static ember_status dql_init(emb_init_ctx *c) {
  ql_state *s = emb_op_state(c, sizeof *s);
  if (!s) return c->diag->status;
  ember_status st = ql_common_init(c, s);
  if (st) return st;
  if (s->out_dtype && !dql_out_ok(s->out_dtype))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "output_dtype %s is not float, float16 or bfloat16",
                       ember_dtype_name(s->out_dtype));
  c->node->state = s;
  return EMBER_OK;
}

static ember_status dql_infer(emb_infer_ctx *c) {
  const ql_state *s = c->node->state;
  ember_status st;
  if ((st = q_need_inputs(c, 2)) ||
      (st = emb_infer_check_dtype(c, 0, dql_x_types)) ||
      (st = emb_infer_check_dtype(c, 1, dql_scale_types)))
    return st;
  const emb_type *x = c->in[0], *z = c->n_in > 2 ? c->in[2] : NULL;
  if (z && z->kind && x->kind && z->dtype != x->dtype)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "the zero point is %s but x is %s",
                       ember_dtype_name(z->dtype), ember_dtype_name(x->dtype));
  int32_t dt = s->out_dtype;
  if (!dt && c->in[1]->kind) {
    dt = c->in[1]->dtype;
    if (dt == EMBER_FLOAT8E8M0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "output_dtype is required when the scale is "
                         "float8e8m0");
  }
  if ((st = q_infer_layout(c, s->axis, s->block))) return st;
  q_out_like(c, dt);
  return EMBER_OK;
}

static ember_status dql_run(emb_run_ctx *c) {
  const ql_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *sc = emb_in_t(c, 1);
  const emb_tensor *zp = emb_in_t(c, 2);
  emb_tensor *y = emb_out_t(c, 0);
  q_layout L;
  ember_status st = q_layout_of(c->node, c->diag, x->rank, x->dims,
                                sc->rank, sc->dims, zp ? zp->rank : -1,
                                zp ? zp->dims : NULL, s->axis, s->block, &L);
  if (st) return st;
  /* (x - zero point) is exact in double for every input type; the
   * product is rounded once, to the output type. */
  if (L.mode == Q_TENSOR && y->dtype == EMBER_FLOAT &&
      (x->dtype == EMBER_UINT8 || x->dtype == EMBER_INT8)) {
    double sv = emb_elem_f64(sc->dtype, sc->data, 0);
    double zv = zp ? emb_elem_f64(zp->dtype, zp->data, 0) : 0;
    float *out = y->data;
    if (x->dtype == EMBER_UINT8) {
      const uint8_t *xs = x->data;
      for (size_t e = 0; e < L.n; e++) out[e] = (float)((xs[e] - zv) * sv);
    } else {
      const int8_t *xs = x->data;
      for (size_t e = 0; e < L.n; e++) out[e] = (float)((xs[e] - zv) * sv);
    }
    return EMBER_OK;
  }
  size_t e = 0;
  for (size_t ou = 0; ou < L.outer; ou++)
    for (size_t a = 0; a < L.n; a++)
      for (size_t i = 0; i < L.inner; i++, e++) {
        size_t p = q_pidx(&L, ou, a, i);
        double sv = emb_elem_f64(sc->dtype, sc->data, p);
        double zv = zp ? emb_elem_f64(zp->dtype, zp->data, p) : 0;
        q_store_float(y, e, (emb_elem_f64(x->dtype, x->data, e) - zv) * sv);
      }
  return EMBER_OK;
}

const emb_opdef emb_op_dequantizelinear = {2, 3, 1, 1, 0, dql_init,
                                           dql_infer, dql_run};

/* ----------------------------------------------- DynamicQuantizeLinear */

static ember_status dyn_infer(emb_infer_ctx *c) {
  static const int32_t types[] = {EMBER_FLOAT, 0};
  ember_status st;
  if ((st = q_need_inputs(c, 1)) || (st = emb_infer_check_dtype(c, 0, types)))
    return st;
  q_out_like(c, EMBER_UINT8);
  if (c->n_out > 1) emb_type_tensor(&c->out[1], EMBER_FLOAT, 0, NULL);
  if (c->n_out > 2) emb_type_tensor(&c->out[2], EMBER_UINT8, 0, NULL);
  return EMBER_OK;
}

static ember_status dyn_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  size_t n = emb_tensor_numel(x);
  const float *xs = x->data;
  /* The range always includes 0 (spec); NaNs are skipped.  The
   * arithmetic is float32's, as in the spec's function body. */
  float mx = 0, mn = 0;
  for (size_t i = 0; i < n; i++) {
    if (xs[i] > mx) mx = xs[i];
    if (xs[i] < mn) mn = xs[i];
  }
  float scale = (mx - mn) / 255.0f;
  float zp = 0;
  if (scale > 0 && isfinite(scale)) {
    zp = 0.0f - mn / scale;
    zp = zp < 0 ? 0 : zp > 255 ? 255 : zp;
    zp = (float)emb_round_even(zp);
  }
  uint8_t *out = y->data;
  for (size_t i = 0; i < n; i++) {
    /* An all-zero input gives scale 0 (the spec's formula); every value
     * is then 0 and quantizes to the zero point 0. */
    double r = scale > 0 ? emb_round_even((double)(xs[i] / scale)) + zp : 0;
    r = isnan(r) ? zp : r < 0 ? 0 : r > 255 ? 255 : r;
    out[i] = (uint8_t)r;
  }
  emb_tensor *ys = emb_out_t(c, 1), *yz = emb_out_t(c, 2);
  if (ys) *(float *)ys->data = scale;
  if (yz) *(uint8_t *)yz->data = (uint8_t)zp;
  return EMBER_OK;
}

const emb_opdef emb_op_dynamicquantizelinear = {1, 1, 1, 3, 0, NULL,
                                                dyn_infer, dyn_run};

/* ----------------------------------------------------- int32 GEMM core */

/* C[M x N] = A[M x K] * B[K x N] on int32 operands (each a difference of
 * 8-bit values, so |product| < 2^17) with 32-bit wrap-around
 * accumulation, done in uint32 where wrapping is defined.  Rows of A,
 * B and C are lda, ldb and ldc elements apart. */
static void q_gemm_s32(size_t M, size_t N, size_t K, const int32_t *A,
                       size_t lda, const int32_t *B, size_t ldb, int32_t *C,
                       size_t ldc) {
  for (size_t m = 0; m < M; m++) {
    uint32_t *c = (uint32_t *)(C + m * ldc);
    for (size_t j = 0; j < N; j++) c[j] = 0;
    for (size_t k = 0; k < K; k++) {
      int32_t a = A[m * lda + k];
      if (!a) continue;
      const int32_t *b = B + k * ldb;
      for (size_t j = 0; j < N; j++) c[j] += (uint32_t)(a * b[j]);
    }
  }
}

/* double GEMM for the float8 QLinearMatMul path. */
static void q_gemm_f64(size_t M, size_t N, size_t K, const double *A,
                       const double *B, double *C) {
  for (size_t m = 0; m < M; m++) {
    double *c = C + m * N;
    for (size_t j = 0; j < N; j++) c[j] = 0;
    for (size_t k = 0; k < K; k++) {
      double a = A[m * K + k];
      const double *b = B + k * N;
      for (size_t j = 0; j < N; j++) c[j] += a * b[j];
    }
  }
}

/* ------------------------------------------------------------ matmuls */

/* numpy.matmul shapes: A [..., M, K] (or [K]), B [..., K, N] (or [K]). */
static ember_status mm_infer_shape(emb_infer_ctx *c, int ia, int ib,
                                   int32_t dtype) {
  const emb_type *a = c->in[ia], *b = c->in[ib];
  emb_type *y = &c->out[0];
  emb_type_unknown(y);
  y->kind = EMBER_KIND_TENSOR;
  y->dtype = dtype;
  if (!a->kind || !b->kind || a->rank < 0 || b->rank < 0) return EMBER_OK;
  if (a->rank == 0 || b->rank == 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "matrix product of a scalar");
  emb_dim ka = a->dims[a->rank - 1];
  emb_dim kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (ka.v >= 0 && kb.v >= 0 && ka.v != kb.v)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "inner dimensions differ (%lld and %lld)",
                       (long long)ka.v, (long long)kb.v);
  /* Broadcast the batch dimensions. */
  emb_type ba, bb, bo;
  emb_type_unknown(&ba);
  emb_type_unknown(&bb);
  ba.kind = bb.kind = EMBER_KIND_TENSOR;
  ba.dtype = bb.dtype = dtype;
  ba.rank = a->rank > 2 ? a->rank - 2 : 0;
  bb.rank = b->rank > 2 ? b->rank - 2 : 0;
  for (int i = 0; i < ba.rank; i++) ba.dims[i] = a->dims[i];
  for (int i = 0; i < bb.rank; i++) bb.dims[i] = b->dims[i];
  const emb_type *pair[2] = {&ba, &bb};
  ember_status st = emb_infer_broadcast(c, 2, pair, &bo);
  if (st) return st;
  int r = bo.rank;
  for (int i = 0; i < r; i++) y->dims[i] = bo.dims[i];
  if (a->rank > 1) y->dims[r++] = a->dims[a->rank - 2];
  if (b->rank > 1) y->dims[r++] = b->dims[b->rank - 1];
  y->rank = r;
  return EMBER_OK;
}

/* Batch geometry of one matmul run. */
typedef struct mm_geom {
  size_t M, N, K;
  int brank;                      /* output batch rank               */
  int64_t bdims[EMB_MAX_RANK];
  int64_t sa[EMB_MAX_RANK], sb[EMB_MAX_RANK]; /* batch strides in matrices */
  size_t nbatch, na, nb;          /* output / A / B matrix counts     */
} mm_geom;

static ember_status mm_geom_of(emb_run_ctx *c, const emb_tensor *a,
                               const emb_tensor *b, mm_geom *g) {
  memset(g, 0, sizeof *g);
  if (a->rank < 1 || b->rank < 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "matrix product of a scalar");
  g->M = a->rank > 1 ? (size_t)a->dims[a->rank - 2] : 1;
  g->K = (size_t)a->dims[a->rank - 1];
  size_t kb = (size_t)(b->rank > 1 ? b->dims[b->rank - 2] : b->dims[0]);
  g->N = b->rank > 1 ? (size_t)b->dims[b->rank - 1] : 1;
  if (kb != g->K)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "inner dimensions differ (%zu and %zu)", g->K, kb);
  int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
  g->brank = ra > rb ? ra : rb;
  for (int i = 0; i < g->brank; i++) {
    int ja = i - (g->brank - ra), jb = i - (g->brank - rb);
    int64_t da = ja >= 0 ? a->dims[ja] : 1, db = jb >= 0 ? b->dims[jb] : 1;
    if (da != db && da != 1 && db != 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "batch dimensions %lld and %lld do not broadcast",
                         (long long)da, (long long)db);
    g->bdims[i] = da == 1 ? db : da;
  }
  emb_broadcast_strides(g->brank, g->bdims, ra, a->dims, g->sa);
  emb_broadcast_strides(g->brank, g->bdims, rb, b->dims, g->sb);
  g->nbatch = q_numel(g->brank, g->bdims);
  g->na = q_numel(ra, a->dims);
  g->nb = q_numel(rb, b->dims);
  return EMBER_OK;
}

/* Matrix indices of A and B for output batch t. */
static void mm_batch(const mm_geom *g, size_t t, size_t *ia, size_t *ib) {
  size_t oa = 0, ob = 0;
  for (int i = g->brank - 1; i >= 0; i--) {
    size_t d = (size_t)g->bdims[i], k = t % d;
    t /= d;
    oa += k * (size_t)g->sa[i];
    ob += k * (size_t)g->sb[i];
  }
  *ia = oa;
  *ib = ob;
}

/* Expand a per-row (rows = 1: along A's M) or per-column (B's N)
 * quantization parameter into vals[matrix * len + j], for `count`
 * matrices of operand shape (rank, dims).  Accepted: one value; a 1-D
 * tensor of the row / column count; or a tensor that broadcasts to the
 * operand's shape with size 1 along the reduced (K) axis. */
static ember_status mm_param(emb_run_ctx *c, const char *what,
                             const emb_tensor *p, int rank,
                             const int64_t *dims, bool rows, double *vals) {
  size_t len = rows ? (rank > 1 ? (size_t)dims[rank - 2] : 1)
                    : (rank > 1 ? (size_t)dims[rank - 1] : 1);
  size_t count = rank > 2 ? q_numel(rank - 2, dims) : 1;
  size_t pn = p ? emb_tensor_numel(p) : 1;
  if (!p || pn == 1) {
    double v = p ? emb_elem_f64(p->dtype, p->data, 0) : 0;
    for (size_t i = 0; i < count * len; i++) vals[i] = v;
    return EMBER_OK;
  }
  /* Matrix shape as [batch..., M, K] / [batch..., K, N] with 1-D operands
   * widened like numpy does. */
  int64_t od[EMB_MAX_RANK + 1], pd[EMB_MAX_RANK + 1];
  int orank = rank < 2 ? 2 : rank;
  if (rank >= 2) {
    memcpy(od, dims, (size_t)rank * sizeof *od);
  } else if (rows) {
    od[0] = 1, od[1] = dims[0];
  } else {
    od[0] = dims[0], od[1] = 1;
  }
  int prank = p->rank;
  memcpy(pd, p->dims, (size_t)prank * sizeof *pd);
  if (prank == 1) { /* [M] -> [M, 1]; [N] -> [1, N] */
    prank = 2;
    if (rows) pd[1] = 1; else pd[1] = pd[0], pd[0] = 1;
  }
  int kax = rows ? orank - 1 : orank - 2;
  bool ok = prank <= orank;
  for (int i = 0; ok && i < prank; i++) {
    int j = i + orank - prank;
    ok = pd[i] == 1 || (pd[i] == od[j] && j != kax);
  }
  if (!ok)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "%s has %zu values, which fit neither per-tensor nor "
                       "per-%s quantization", what, pn,
                       rows ? "row" : "column");
  int64_t st[EMB_MAX_RANK + 1];
  emb_broadcast_strides(orank, od, prank, pd, st);
  size_t lax = (size_t)(rows ? orank - 2 : orank - 1);
  for (size_t t = 0; t < count; t++) {
    size_t base = 0, r = t;
    for (int i = orank - 3; i >= 0; i--) {
      size_t d = (size_t)od[i];
      base += (r % d) * (size_t)st[i];
      r /= d;
    }
    for (size_t j = 0; j < len; j++)
      vals[t * len + j] = emb_elem_f64(
          p->dtype, p->data, base + j * (size_t)st[lax]);
  }
  return EMBER_OK;
}

/* Widen matrix `idx` of an 8-bit operand minus its zero points into an
 * int32 block of rows x cols; zero points per row (zr) or column (zc). */
static void mm_widen(const emb_tensor *t, size_t idx, size_t rows,
                     size_t cols, const double *zr, const double *zc,
                     int32_t *out) {
  size_t off = idx * rows * cols;
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < cols; j++) {
      int32_t z = (int32_t)(zr ? zr[r] : zc[j]);
      int32_t v = t->dtype == EMBER_UINT8
                      ? ((const uint8_t *)t->data)[off + r * cols + j]
                      : ((const int8_t *)t->data)[off + r * cols + j];
      out[r * cols + j] = v - z;
    }
}

static const int32_t q8_types[] = {EMBER_INT8, EMBER_UINT8, 0};

/* MatMulInteger: int32 Y = (A - a_zero_point) x (B - b_zero_point). */
static ember_status mmi_infer(emb_infer_ctx *c) {
  ember_status st;
  if ((st = q_need_inputs(c, 2)) ||
      (st = emb_infer_check_dtype(c, 0, q8_types)) ||
      (st = emb_infer_check_dtype(c, 1, q8_types)) ||
      (st = emb_infer_check_dtype(c, 2, q8_types)) ||
      (st = emb_infer_check_dtype(c, 3, q8_types)))
    return st;
  for (int i = 2; i < 4 && i < c->n_in; i++)
    if (c->in[i] && c->in[i]->kind && c->in[i - 2]->kind &&
        c->in[i]->dtype != c->in[i - 2]->dtype)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d (%s) must have input %d's type (%s)", i,
                         ember_dtype_name(c->in[i]->dtype), i - 2,
                         ember_dtype_name(c->in[i - 2]->dtype));
  return mm_infer_shape(c, 0, 1, EMBER_INT32);
}

/* Scratch for one int8 matmul batch: rows/cols params and int32 blocks. */
typedef struct mm_scratch {
  double *pa, *pb;   /* zero points per (matrix, row) / (matrix, col)   */
  double *sa, *sb;   /* scales, likewise (QLinearMatMul)                */
  double *fa, *fb, *fc; /* float8 operands and result (QLinearMatMul)   */
  int32_t *A, *B, *C;
} mm_scratch;

/* One scratch block for a whole run (emb_scratch hands out one buffer). */
static ember_status mm_alloc(emb_run_ctx *c, const mm_geom *g, bool scales,
                             bool floats, mm_scratch *s) {
  size_t npa = g->na * g->M, npb = g->nb * g->N;
  size_t mk = g->M * g->K, kn = g->K * g->N, mn = g->M * g->N;
  size_t nd = (npa + npb) * (scales ? 2 : 1) + (floats ? mk + kn + mn : 0);
  size_t ni = floats ? 0 : mk + kn + mn;
  size_t bytes = nd * sizeof(double) + ni * sizeof(int32_t);
  char *p = emb_scratch(c, bytes ? bytes : 1);
  if (!p) return c->diag->status;
  memset(s, 0, sizeof *s);
  double *d = (double *)p;
  s->pa = d, d += npa;
  s->pb = d, d += npb;
  if (scales) s->sa = d, d += npa, s->sb = d, d += npb;
  if (floats) {
    s->fa = d, d += mk;
    s->fb = d, d += kn;
    s->fc = d, d += mn;
  } else {
    s->A = (int32_t *)d;
    s->B = s->A + mk;
    s->C = s->B + kn;
  }
  return EMBER_OK;
}

static ember_status mmi_run(emb_run_ctx *c) {
  const emb_tensor *a = emb_in_t(c, 0), *b = emb_in_t(c, 1);
  emb_tensor *y = emb_out_t(c, 0);
  mm_geom g;
  mm_scratch s;
  ember_status st;
  if ((st = mm_geom_of(c, a, b, &g)) ||
      (st = mm_alloc(c, &g, false, false, &s)) ||
      (st = mm_param(c, "a_zero_point", emb_in_t(c, 2), a->rank, a->dims,
                     true, s.pa)) ||
      (st = mm_param(c, "b_zero_point", emb_in_t(c, 3), b->rank, b->dims,
                     false, s.pb)))
    return st;
  int32_t *out = y->data;
  for (size_t t = 0; t < g.nbatch; t++) {
    size_t ia, ib;
    mm_batch(&g, t, &ia, &ib);
    mm_widen(a, ia, g.M, g.K, s.pa + ia * g.M, NULL, s.A);
    mm_widen(b, ib, g.K, g.N, NULL, s.pb + ib * g.N, s.B);
    q_gemm_s32(g.M, g.N, g.K, s.A, g.K, s.B, g.N, out + t * g.M * g.N, g.N);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_matmulinteger = {2, 4, 1, 1, 0, NULL, mmi_infer,
                                        mmi_run};

/* QLinearMatMul: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp. */
static const int32_t qmm_types[] = {
    EMBER_INT8, EMBER_UINT8, EMBER_FLOAT8E4M3FN, EMBER_FLOAT8E4M3FNUZ,
    EMBER_FLOAT8E5M2, EMBER_FLOAT8E5M2FNUZ, 0};
static const int32_t qmm_scale_types[] = {EMBER_FLOAT, EMBER_FLOAT16,
                                          EMBER_BFLOAT16, 0};

static ember_status qmm_infer(emb_infer_ctx *c) {
  ember_status st;
  if ((st = q_need_inputs(c, 8))) return st;
  for (int i = 0; i < 8; i++) {
    bool scale = i == 1 || i == 4 || i == 6;
    if ((st = emb_infer_check_dtype(c, i, scale ? qmm_scale_types
                                                : qmm_types)))
      return st;
  }
  static const int pairs[3][2] = {{0, 2}, {3, 5}, {6, 7}};
  for (int k = 0; k < 3; k++) {
    const emb_type *v = c->in[pairs[k][0]], *z = c->in[pairs[k][1]];
    if (k < 2 && v->kind && z->kind && v->dtype != z->dtype)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d (%s) must have input %d's type (%s)",
                         pairs[k][1], ember_dtype_name(z->dtype),
                         pairs[k][0], ember_dtype_name(v->dtype));
  }
  if ((st = emb_infer_same_dtype(c, 1, 1))) return st;
  const emb_type *s1 = c->in[1], *s2 = c->in[4], *s3 = c->in[6];
  if ((s1->kind && s2->kind && s1->dtype != s2->dtype) ||
      (s1->kind && s3->kind && s1->dtype != s3->dtype))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "the three scales must have the same type");
  if (c->node->opset < 21) {
    static const int32_t f32[] = {EMBER_FLOAT, 0};
    static const int pos[] = {1, 4, 6};
    for (int k = 0; k < 3; k++)
      if ((st = emb_infer_check_dtype(c, pos[k], f32))) return st;
    for (int i = 0; i < 8; i++)
      if (i != 1 && i != 4 && i != 6 &&
          (st = emb_infer_check_dtype(c, i, q8_types)))
        return st;
  }
  return mm_infer_shape(c, 0, 3, c->in[7]->kind ? c->in[7]->dtype : 0);
}

static ember_status qmm_run(emb_run_ctx *c) {
  const emb_tensor *a = emb_in_t(c, 0), *b = emb_in_t(c, 3);
  const emb_tensor *ys = emb_in_t(c, 6), *yz = emb_in_t(c, 7);
  emb_tensor *y = emb_out_t(c, 0);
  mm_geom g;
  mm_scratch s;
  ember_status st;
  if (emb_tensor_numel(ys) != 1 || emb_tensor_numel(yz) != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "y_scale and y_zero_point must be single values");
  bool ints = (a->dtype == EMBER_INT8 || a->dtype == EMBER_UINT8) &&
              (b->dtype == EMBER_INT8 || b->dtype == EMBER_UINT8);
  if ((st = mm_geom_of(c, a, b, &g)) ||
      (st = mm_alloc(c, &g, true, !ints, &s)) ||
      (st = mm_param(c, "a_zero_point", emb_in_t(c, 2), a->rank, a->dims,
                     true, s.pa)) ||
      (st = mm_param(c, "a_scale", emb_in_t(c, 1), a->rank, a->dims, true,
                     s.sa)) ||
      (st = mm_param(c, "b_zero_point", emb_in_t(c, 5), b->rank, b->dims,
                     false, s.pb)) ||
      (st = mm_param(c, "b_scale", emb_in_t(c, 4), b->rank, b->dims, false,
                     s.sb)))
    return st;
  /* The combined scale is computed in the scales' own type. */
  int32_t ts = ys->dtype;
  double yscale = emb_elem_f64(ts, ys->data, 0);
  double yzero = emb_elem_f64(yz->dtype, yz->data, 0);
  q_out o;
  q_out_init(&o, y->dtype, true);
  size_t MN = g.M * g.N;
  double *fa = s.fa, *fb = s.fb, *fc = s.fc;
  for (size_t t = 0; t < g.nbatch; t++) {
    size_t ia, ib;
    mm_batch(&g, t, &ia, &ib);
    const double *za = s.pa + ia * g.M, *zb = s.pb + ib * g.N;
    const double *sca = s.sa + ia * g.M, *scb = s.sb + ib * g.N;
    if (ints) {
      mm_widen(a, ia, g.M, g.K, za, NULL, s.A);
      mm_widen(b, ib, g.K, g.N, NULL, zb, s.B);
      q_gemm_s32(g.M, g.N, g.K, s.A, g.K, s.B, g.N, s.C, g.N);
    } else {
      for (size_t m = 0; m < g.M; m++)
        for (size_t k = 0; k < g.K; k++)
          fa[m * g.K + k] =
              emb_elem_f64(a->dtype, a->data, (ia * g.M + m) * g.K + k) -
              za[m];
      for (size_t k = 0; k < g.K; k++)
        for (size_t j = 0; j < g.N; j++)
          fb[k * g.N + j] =
              emb_elem_f64(b->dtype, b->data, (ib * g.K + k) * g.N + j) -
              zb[j];
      q_gemm_f64(g.M, g.N, g.K, fa, fb, fc);
    }
    for (size_t m = 0; m < g.M; m++)
      for (size_t j = 0; j < g.N; j++) {
        double f = emb_round_to(ts, emb_round_to(ts, sca[m] * scb[j]) /
                                        yscale);
        double acc = ints ? (double)s.C[m * g.N + j] : fc[m * g.N + j];
        q_put(y, t * MN + m * g.N + j, acc * f, yzero, &o);
      }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_qlinearmatmul = {8, 8, 1, 1, 0, NULL, qmm_infer,
                                        qmm_run};

/* --------------------------------------------------------- convolutions */

typedef struct qc_state {
  emb_window w;
  int64_t group;
} qc_state;

static ember_status qc_init(emb_init_ctx *c) {
  qc_state *s = emb_op_state(c, sizeof *s);
  if (!s) return c->diag->status;
  ember_status st = emb_window_parse(c->node, false, false, &s->w, c->diag);
  if (st) return st;
  if ((st = emb_attr_int(c->node, "group", 1, &s->group, c->diag))) return st;
  if (s->group < 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "group must be at least 1, not %lld",
                       (long long)s->group);
  c->node->state = s;
  return EMBER_OK;
}

/* Output type of a convolution of x (input ix) by w (input iw). */
static ember_status qc_infer_shape(emb_infer_ctx *c, int ix, int iw,
                                   int32_t dtype) {
  const qc_state *s = c->node->state;
  const emb_type *x = c->in[ix], *w = c->in[iw];
  emb_type *y = &c->out[0];
  emb_type_unknown(y);
  y->kind = EMBER_KIND_TENSOR;
  y->dtype = dtype;
  bool wk = w->kind && w->rank >= 0;
  int rank = x->kind && x->rank >= 0 ? x->rank : wk ? w->rank : -1;
  if (rank < 0) return EMBER_OK;
  ember_status st = emb_window_axes(c->node, &s->w, rank, c->diag);
  if (st) return st;
  if (wk && w->rank != rank)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "w has rank %d but x has rank %d", w->rank, rank);
  bool xk = x->kind && x->rank >= 0;
  y->rank = rank;
  for (int i = 0; i < rank; i++) y->dims[i] = (emb_dim){-1, 0};
  if (xk) y->dims[0] = x->dims[0];
  if (wk) y->dims[1] = w->dims[0];
  int64_t xc = xk ? x->dims[1].v : -1, w0 = wk ? w->dims[0].v : -1;
  int64_t w1 = wk ? w->dims[1].v : -1;
  if (xc >= 0 && w1 >= 0 && xc != w1 * s->group)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "x has %lld channels but w expects %lld x group %lld",
                       (long long)xc, (long long)w1, (long long)s->group);
  if (w0 >= 0 && w0 % s->group)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "w has %lld output channels, not a multiple of group "
                       "%lld", (long long)w0, (long long)s->group);
  int nsp = rank - 2;
  for (int i = 0; i < nsp; i++) {
    int64_t kw = wk ? w->dims[2 + i].v : -1;
    if (s->w.has_kernel && kw >= 0 && kw != s->w.kernel[i])
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "kernel_shape[%d] is %lld but w has %lld", i,
                         (long long)s->w.kernel[i], (long long)kw);
    int64_t k = s->w.has_kernel ? s->w.kernel[i] : kw;
    int64_t in = xk ? x->dims[2 + i].v : -1;
    if (in < 0 || k < 0) continue;
    emb_window_axis ax = {0};
    if ((st = emb_window_resolve(c->node, &s->w, i, nsp, in, k, &ax,
                                 c->diag)))
      return st;
    y->dims[2 + i].v = ax.out;
  }
  return EMBER_OK;
}

/* Geometry of one convolution run. */
typedef struct qc_geom {
  int nsp;
  size_t n, c, m, g, cg, mg, ksize, xsp, ysp;
  int64_t in[EMB_MAX_RANK], out[EMB_MAX_RANK], k[EMB_MAX_RANK];
  int64_t st[EMB_MAX_RANK], dil[EMB_MAX_RANK], pad[EMB_MAX_RANK];
} qc_geom;

static ember_status qc_geom_of(emb_run_ctx *c, const emb_tensor *x,
                               const emb_tensor *w, const emb_tensor *y,
                               qc_geom *g) {
  const qc_state *s = c->node->state;
  memset(g, 0, sizeof *g);
  g->nsp = x->rank - 2;
  g->n = (size_t)x->dims[0];
  g->c = (size_t)x->dims[1];
  g->m = (size_t)w->dims[0];
  g->g = (size_t)s->group;
  g->cg = g->c / g->g;
  g->mg = g->m / g->g;
  g->ksize = 1;
  g->xsp = 1;
  g->ysp = 1;
  for (int i = 0; i < g->nsp; i++) {
    int64_t k = s->w.has_kernel ? s->w.kernel[i] : w->dims[2 + i];
    emb_window_axis ax = {0};
    ember_status st = emb_window_resolve(c->node, &s->w, i, g->nsp,
                                         x->dims[2 + i], k, &ax, c->diag);
    if (st) return st;
    g->in[i] = ax.in;
    g->out[i] = y->dims[2 + i];
    g->k[i] = k;
    g->st[i] = ax.s;
    g->dil[i] = ax.d;
    g->pad[i] = ax.pad_b;
    g->ksize *= (size_t)k;
    g->xsp *= (size_t)ax.in;
    g->ysp *= (size_t)y->dims[2 + i];
  }
  return EMBER_OK;
}

/* Output positions per im2col slice: keeps the column buffer near 4 MiB. */
#define QC_COL_BUDGET ((size_t)1 << 20)

/* im2col of one group of one image, output positions [p0, p0 + np):
 * col[(ci * ksize + kk) * np + j] = x - x_zero_point, or 0 in padding
 * (the padded input holds the zero point, i.e. real 0). */
static void qc_im2col(const qc_geom *g, const emb_tensor *x, size_t xoff,
                      int32_t xzp, size_t p0, size_t np, int32_t *col) {
  const uint8_t *xu = (const uint8_t *)x->data + xoff;
  const int8_t *xs = (const int8_t *)x->data + xoff;
  bool u8 = x->dtype == EMBER_UINT8;
  int nsp = g->nsp;
  int64_t kc[EMB_MAX_RANK], oc[EMB_MAX_RANK];
  for (size_t kk = 0; kk < g->ksize; kk++) {
    size_t r = kk;
    for (int i = nsp - 1; i >= 0; i--) {
      kc[i] = (int64_t)(r % (size_t)g->k[i]);
      r /= (size_t)g->k[i];
    }
    r = p0;
    for (int i = nsp - 1; i >= 0; i--) {
      oc[i] = (int64_t)(r % (size_t)g->out[i]);
      r /= (size_t)g->out[i];
    }
    for (size_t j = 0; j < np; j++) {
      ptrdiff_t idx = 0;
      bool inside = true;
      for (int i = 0; i < nsp; i++) {
        int64_t pos = oc[i] * g->st[i] - g->pad[i] + kc[i] * g->dil[i];
        if (pos < 0 || pos >= g->in[i]) inside = false;
        idx = idx * (ptrdiff_t)g->in[i] + (ptrdiff_t)pos;
      }
      for (size_t ci = 0; ci < g->cg; ci++) {
        int32_t v = 0;
        if (inside) {
          size_t e = ci * g->xsp + (size_t)idx;
          v = (u8 ? (int32_t)xu[e] : (int32_t)xs[e]) - xzp;
        }
        col[(ci * g->ksize + kk) * np + j] = v;
      }
      for (int i = nsp - 1; i >= 0; i--) { /* next output position */
        if (++oc[i] < g->out[i]) break;
        oc[i] = 0;
      }
    }
  }
}

/* A planned convolution: geometry and its scratch (weights minus zero
 * points, the im2col slice, the accumulators) plus `extra` bytes for the
 * caller at the front of the block. */
typedef struct qc_plan {
  qc_geom g;
  size_t kdim, chunk;
  int32_t xzp;
  int32_t *W, *col, *acc;
  void *extra;
} qc_plan;

static ember_status qc_prepare(emb_run_ctx *c, const emb_tensor *x,
                               const emb_tensor *w, const emb_tensor *y,
                               const emb_tensor *xzp_t,
                               const emb_tensor *wzp_t, size_t extra,
                               qc_plan *p) {
  qc_geom *g = &p->g;
  ember_status st = qc_geom_of(c, x, w, y, g);
  if (st) return st;
  if (xzp_t && emb_tensor_numel(xzp_t) != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "x_zero_point must be a single value");
  size_t wzn = wzp_t ? emb_tensor_numel(wzp_t) : 1;
  if (wzn != 1 && (wzp_t->rank != 1 || wzn != g->m))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "w_zero_point must be a single value or one per "
                       "output channel (%zu), not %zu values", g->m, wzn);
  p->xzp = xzp_t ? (int32_t)emb_elem_f64(xzp_t->dtype, xzp_t->data, 0) : 0;
  p->kdim = g->cg * g->ksize;
  p->chunk = g->ysp;
  if (p->kdim && p->chunk > QC_COL_BUDGET / p->kdim)
    p->chunk = QC_COL_BUDGET / p->kdim;
  if (!p->chunk) p->chunk = 1;
  extra = (extra + 15) / 16 * 16;
  size_t bytes = extra + (g->m * p->kdim + p->kdim * p->chunk +
                          g->mg * p->chunk) * sizeof(int32_t);
  char *buf = emb_scratch(c, bytes ? bytes : 1);
  if (!buf) return c->diag->status;
  p->extra = buf;
  p->W = (int32_t *)(buf + extra);
  p->col = p->W + g->m * p->kdim;
  p->acc = p->col + p->kdim * p->chunk;
  /* Weights minus their zero points, once. */
  bool wu8 = w->dtype == EMBER_UINT8;
  for (size_t m = 0; m < g->m; m++) {
    int32_t z = wzp_t ? (int32_t)emb_elem_f64(wzp_t->dtype, wzp_t->data,
                                              wzn == 1 ? 0 : m)
                      : 0;
    for (size_t k = 0; k < p->kdim; k++) {
      size_t e = m * p->kdim + k;
      p->W[e] = (wu8 ? (int32_t)((const uint8_t *)w->data)[e]
                     : (int32_t)((const int8_t *)w->data)[e]) - z;
    }
  }
  return EMBER_OK;
}

/* Run the plan; the int32 accumulator of output element i (channel m)
 * goes to emit(ctx, i, m, acc). */
typedef void (*qc_emit_fn)(void *ctx, size_t i, size_t m, int32_t acc);

static void qc_execute(const qc_plan *p, const emb_tensor *x,
                       qc_emit_fn emit, void *ctx) {
  const qc_geom *g = &p->g;
  for (size_t n = 0; n < g->n; n++)
    for (size_t gi = 0; gi < g->g; gi++) {
      size_t xoff = (n * g->c + gi * g->cg) * g->xsp;
      for (size_t p0 = 0; p0 < g->ysp; p0 += p->chunk) {
        size_t np = g->ysp - p0 < p->chunk ? g->ysp - p0 : p->chunk;
        qc_im2col(g, x, xoff, p->xzp, p0, np, p->col);
        q_gemm_s32(g->mg, np, p->kdim, p->W + gi * g->mg * p->kdim, p->kdim,
                   p->col, np, p->acc, np);
        for (size_t mi = 0; mi < g->mg; mi++) {
          size_t m = gi * g->mg + mi;
          size_t base = (n * g->m + m) * g->ysp + p0;
          for (size_t j = 0; j < np; j++)
            emit(ctx, base + j, m, p->acc[mi * np + j]);
        }
      }
    }
}

/* ConvInteger: x, w, x_zero_point, w_zero_point -> int32. */
static ember_status ci_infer(emb_infer_ctx *c) {
  ember_status st;
  if ((st = q_need_inputs(c, 2)) ||
      (st = emb_infer_check_dtype(c, 0, q8_types)) ||
      (st = emb_infer_check_dtype(c, 1, q8_types)) ||
      (st = emb_infer_check_dtype(c, 2, q8_types)) ||
      (st = emb_infer_check_dtype(c, 3, q8_types)))
    return st;
  for (int i = 2; i < 4 && i < c->n_in; i++)
    if (c->in[i] && c->in[i]->kind && c->in[i - 2]->kind &&
        c->in[i]->dtype != c->in[i - 2]->dtype)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d (%s) must have input %d's type (%s)", i,
                         ember_dtype_name(c->in[i]->dtype), i - 2,
                         ember_dtype_name(c->in[i - 2]->dtype));
  return qc_infer_shape(c, 0, 1, EMBER_INT32);
}

static void ci_emit(void *ctx, size_t i, size_t m, int32_t acc) {
  (void)m;
  ((int32_t *)ctx)[i] = acc;
}

static ember_status ci_run(emb_run_ctx *c) {
  emb_tensor *y = emb_out_t(c, 0);
  qc_plan p;
  ember_status st = qc_prepare(c, emb_in_t(c, 0), emb_in_t(c, 1), y,
                               emb_in_t(c, 2), emb_in_t(c, 3), 0, &p);
  if (st) return st;
  qc_execute(&p, emb_in_t(c, 0), ci_emit, y->data);
  return EMBER_OK;
}

const emb_opdef emb_op_convinteger = {2, 4, 1, 1, 0, qc_init, ci_infer,
                                      ci_run};

/* QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B]. */
static ember_status qlc_infer(emb_infer_ctx *c) {
  static const int32_t f32[] = {EMBER_FLOAT, 0};
  static const int32_t i32[] = {EMBER_INT32, 0};
  ember_status st;
  if ((st = q_need_inputs(c, 8))) return st;
  for (int i = 0; i < 8; i++) {
    bool scale = i == 1 || i == 4 || i == 6;
    if ((st = emb_infer_check_dtype(c, i, scale ? f32 : q8_types)))
      return st;
  }
  if ((st = emb_infer_check_dtype(c, 8, i32))) return st;
  static const int pairs[2][2] = {{0, 2}, {3, 5}};
  for (int k = 0; k < 2; k++) {
    const emb_type *v = c->in[pairs[k][0]], *z = c->in[pairs[k][1]];
    if (v->kind && z->kind && v->dtype != z->dtype)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d (%s) must have input %d's type (%s)",
                         pairs[k][1], ember_dtype_name(z->dtype),
                         pairs[k][0], ember_dtype_name(v->dtype));
  }
  return qc_infer_shape(c, 0, 3, c->in[7]->kind ? c->in[7]->dtype : 0);
}

typedef struct qlc_ctx {
  emb_tensor *y;
  const double *f;      /* combined scale per output channel           */
  const int32_t *bias;  /* per output channel or NULL                  */
  double yzp;
  q_out o;
} qlc_ctx;

static void qlc_emit(void *ctx, size_t i, size_t m, int32_t acc) {
  qlc_ctx *q = ctx;
  if (q->bias) acc = (int32_t)((uint32_t)acc + (uint32_t)q->bias[m]);
  q_put(q->y, i, (double)acc * q->f[m], q->yzp, &q->o);
}

static ember_status qlc_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0), *w = emb_in_t(c, 3);
  const emb_tensor *xs = emb_in_t(c, 1), *ws = emb_in_t(c, 4);
  const emb_tensor *ys = emb_in_t(c, 6), *yz = emb_in_t(c, 7);
  const emb_tensor *bias = emb_in_t(c, 8);
  emb_tensor *y = emb_out_t(c, 0);
  size_t m = (size_t)w->dims[0], wsn = emb_tensor_numel(ws);
  if (emb_tensor_numel(xs) != 1 || emb_tensor_numel(ys) != 1 ||
      emb_tensor_numel(yz) != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "x_scale, y_scale and y_zero_point must be single "
                       "values");
  if (wsn != 1 && (ws->rank != 1 || wsn != m))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "w_scale must be a single value or one per output "
                       "channel (%zu), not %zu values", m, wsn);
  if (bias && (bias->rank != 1 || (size_t)bias->dims[0] != m))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "B must be a 1-D tensor of %zu values", m);
  qc_plan p;
  ember_status st = qc_prepare(c, x, w, y, emb_in_t(c, 2), emb_in_t(c, 5),
                               m * sizeof(double), &p);
  if (st) return st;
  double *f = p.extra;
  float xsv = *(const float *)xs->data, ysv = *(const float *)ys->data;
  for (size_t i = 0; i < m; i++) {
    float wsv = ((const float *)ws->data)[wsn == 1 ? 0 : i];
    f[i] = (double)((xsv * wsv) / ysv); /* float32, like the scales */
  }
  qlc_ctx q = {y, f, bias ? bias->data : NULL,
               emb_elem_f64(yz->dtype, yz->data, 0), {0}};
  q_out_init(&q.o, y->dtype, true);
  qc_execute(&p, x, qlc_emit, &q);
  return EMBER_OK;
}

const emb_opdef emb_op_qlinearconv = {8, 9, 1, 1, 0, qc_init, qlc_infer,
                                      qlc_run};
