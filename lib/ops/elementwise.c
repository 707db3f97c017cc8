/*
 * Elementwise operators: the unary maths and activations (Relu, Sigmoid,
 * Clip, Sqrt, the trigonometric and hyperbolic functions, rounding, Gelu,
 * ...), the predicates IsNaN and IsInf, the broadcasting binary and
 * variadic ones (Add, Pow, Equal, And, Mod, BitShift, the Bitwise family,
 * Max, Sum, ...), Where, PRelu, Identity, BitCast and Dropout (training
 * mode draws from the generator of rng.h).  Every operator with more than
 * one input goes through one broadcasting engine (ew_iterate): it
 * collapses the output index space to as few dimensions as the inputs'
 * strides allow and hands contiguous rows to a per-dtype row function, in
 * which each input either advances with the row or stays put (a broadcast
 * scalar along the row).  Row functions are generated per dtype by macros
 * from one expression; float16 and bfloat16 are computed in float.
 * Integer arithmetic wraps like two's complement (done in unsigned types
 * so that C never sees a signed overflow) and integer division by zero
 * gives 0, as numpy does, rather than trapping.
 * An element type that a later opset added to an operator is accepted at
 * every opset, since the computation does not change.  Cast lives in
 * cast.c.  LessOrEqual, GreaterOrEqual, Xor and Mean are defined here as
 * well, for ops.def to list.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "ops/tiles.h"
#include "ops/rng.h"

/* Dispatch tables are indexed by dtype; the float8 types (17 to 20) are
 * the largest element types Ember handles here (IsNaN and IsInf read their
 * bits; nothing computes with them). */
#define EW_NT 21
#define EW_MAXIN 3
#define EW_LOOKUP(tbl, dt) ((dt) > 0 && (dt) < EW_NT ? (tbl)[dt] : NULL)

/* ------------------------------------------------- broadcasting engine */

/* A row function: n outputs from inputs in[k], where adv[k] says whether
 * input k advances by one element per output (else it is read at [0]). */
typedef void (*ew_rowfn)(size_t n, const void *const *in,
                         const unsigned char *adv, void *out, void *ctx);

typedef struct ew_opnd {
  const void *data;
  size_t esize;        /* bytes per element */
  int rank;
  const int64_t *dims; /* broadcastable to the output's dims */
} ew_opnd;

static size_t ew_numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  return n;
}

static ew_opnd ew_opnd_of(const emb_tensor *t) {
  ew_opnd o = {t->data, (size_t)emb_dtype_bits(t->dtype) / 8, t->rank,
               t->dims};
  return o;
}

/* One broadcast walk after ew_iterate collapsed the axes: r axes of dims,
 * per-input element strides st (along the last axis 0 or 1, which adv
 * repeats), rows of `inner` elements. */
typedef struct ew_walk {
  int nin, r;
  const ew_opnd *in;
  int64_t dims[EMB_MAX_RANK], st[EW_MAXIN][EMB_MAX_RANK];
  unsigned char adv[EW_MAXIN];
  size_t inner, total, parts;
  char *out;
  size_t oesize;
  ew_rowfn fn;
  void *ctx;
} ew_walk;

/* Output elements [e0, e1), in row-major order: whole rows, and the
 * pieces of rows at either end. */
static void ew_walk_range(const ew_walk *w, size_t e0, size_t e1) {
  int64_t idx[EMB_MAX_RANK], off[EW_MAXIN];
  const void *ptr[EW_MAXIN];
  int r = w->r;
  size_t row = e0 / w->inner, col = e0 % w->inner;
  for (int i = 0; i < w->nin; i++) off[i] = 0;
  for (int k = r - 2; k >= 0; k--) {
    idx[k] = (int64_t)(row % (size_t)w->dims[k]);
    row /= (size_t)w->dims[k];
    for (int i = 0; i < w->nin; i++) off[i] += idx[k] * w->st[i][k];
  }
  char *o = w->out + e0 * w->oesize;
  while (e0 < e1) {
    size_t cnt = w->inner - col < e1 - e0 ? w->inner - col : e1 - e0;
    for (int i = 0; i < w->nin; i++)
      ptr[i] = (const char *)w->in[i].data +
               (size_t)(off[i] + (w->adv[i] ? (int64_t)col : 0)) *
                   w->in[i].esize;
    w->fn(cnt, ptr, w->adv, o, w->ctx);
    o += cnt * w->oesize;
    e0 += cnt;
    col = 0;
    for (int k = r - 2; k >= 0; k--) {
      for (int i = 0; i < w->nin; i++) off[i] += w->st[i][k];
      if (++idx[k] < w->dims[k]) break;
      for (int i = 0; i < w->nin; i++) off[i] -= w->st[i][k] * w->dims[k];
      idx[k] = 0;
    }
  }
}

static void ew_walk_task(void *arg, size_t t, int thread) {
  const ew_walk *w = arg;
  (void)thread;
  ew_walk_range(w, emb_block_start(w->total, w->parts, 16, t),
                emb_block_start(w->total, w->parts, 16, t + 1));
}

/* Outputs below this many elements are not worth waking threads for:
 * EW_PAR_MIN for the operators that call into libm (exp, tanh, erf, the
 * trigonometric functions, Pow), which cost tens of cycles per element;
 * EW_PAR_MIN_CHEAP for the rest, which move memory more than they
 * compute.  Measured on a shared 2-vCPU VM with per-run output
 * allocations: Sigmoid on 64K to 4M floats ran 1.4 to 1.8 times faster on
 * two threads, Relu and Add no faster below 1M floats (ResNet-50 lost 4%
 * splitting its Relus). */
#define EW_PAR_MIN ((size_t)1 << 16)
#define EW_PAR_MIN_CHEAP ((size_t)1 << 20)

/* Tasks for an elementwise loop over n elements (1: run inline). */
static size_t ew_parts(emb_run_ctx *c, size_t n, bool heavy) {
  if (!c || n < (heavy ? EW_PAR_MIN : EW_PAR_MIN_CHEAP)) return 1;
  return emb_tile_parts(n, EMB_TILE_MIN_ELEMS, emb_run_threads(c));
}

/* Fill out (row-major, dims od) from nin inputs.  Shapes were checked by
 * infer, so every input is broadcastable to od.  With c (NULL: inline, for
 * row functions that use ctx) large outputs are cut into ranges of
 * elements run in parallel (from a smaller size when the row function is
 * `heavy`, see EW_PAR_MIN); row functions compute each element on its
 * own, so the cut never changes a result. */
static void ew_iterate(emb_run_ctx *c, bool heavy, int nin, const ew_opnd *in,
                       int orank, const int64_t *od, void *out, size_t oesize,
                       ew_rowfn fn, void *ctx) {
  ew_walk w;
  size_t total = ew_numel(orank, od);
  bool flat = true;
  if (!total) return;
  w.nin = nin;
  w.in = in;
  w.total = total;
  w.out = out;
  w.oesize = oesize;
  w.fn = fn;
  w.ctx = ctx;
  /* An input with as many elements as the output has the output's layout
   * (broadcasting can only add size-1 axes then); a one-element input is a
   * scalar.  Both need no index arithmetic at all. */
  for (int i = 0; i < nin; i++) {
    size_t ni = ew_numel(in[i].rank, in[i].dims);
    if (ni == total)
      w.adv[i] = 1;
    else if (ni == 1)
      w.adv[i] = 0;
    else
      flat = false;
  }
  w.r = 0;
  if (!flat) {
    /* Drop size-1 output axes and merge neighbours whose strides are
     * contiguous in every input; the last remaining axis becomes the
     * row. */
    int64_t full[EW_MAXIN][EMB_MAX_RANK];
    for (int i = 0; i < nin; i++)
      emb_broadcast_strides(orank, od, in[i].rank, in[i].dims, full[i]);
    for (int k = 0; k < orank; k++) {
      if (od[k] == 1) continue;
      bool merge = w.r > 0;
      for (int i = 0; i < nin && merge; i++)
        merge = w.st[i][w.r - 1] == full[i][k] * od[k];
      if (merge) {
        w.dims[w.r - 1] *= od[k];
        for (int i = 0; i < nin; i++) w.st[i][w.r - 1] = full[i][k];
      } else {
        w.dims[w.r] = od[k];
        for (int i = 0; i < nin; i++) w.st[i][w.r] = full[i][k];
        w.r++;
      }
    }
    for (int i = 0; i < nin && w.r; i++) w.adv[i] = w.st[i][w.r - 1] != 0;
  }
  if (w.r == 0) { /* one row: flat, or (unreachable) no axis left */
    w.r = 1;
    w.dims[0] = (int64_t)total;
    for (int i = 0; i < nin; i++) w.st[i][0] = w.adv[i];
  }
  w.inner = (size_t)w.dims[w.r - 1];
  w.parts = ew_parts(c, total, heavy);
  if (w.parts > 1)
    emb_parallel_for(c, w.parts, ew_walk_task, &w);
  else
    ew_walk_range(&w, 0, total);
}

/* --------------------------------------------------- element helpers */

#define EW_ID(v) (v)
#define EW_F16_LD(v) emb_f16_to_f32(v)
#define EW_F16_ST(v) emb_f32_to_f16(v)
#define EW_BF16_LD(v) emb_bf16_to_f32(v)
#define EW_BF16_ST(v) emb_f32_to_bf16(v)
/* Two's complement negation without signed overflow. */
#define EW_INEG(x) ((ew_t)(0 - (uint64_t)(x)))

/* double -> int64 without undefined behaviour: NaN gives 0, out of range
 * saturates. */
static int64_t ew_d2i64(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}
#define EW_SAT(v) ((ew_t)ew_d2i64(v))

/* ------------------------------------------------------- unary driver */

/* Attributes of the parametrised unary ops (alpha, beta, gamma mean what
 * each op's spec calls them) and Clip's bounds, as pointers to one element
 * of the input's type. */
typedef struct ew_prm {
  float alpha, beta, gamma;
  bool has_min, has_max; /* Clip before opset 11: bounds from attributes */
  float min, max;
  const void *lo, *hi;
  bool gelu_tanh;             /* Gelu's approximate = "tanh"              */
  bool detect_neg, detect_pos; /* IsInf                                   */
} ew_prm;

typedef void (*ew_unfn)(size_t n, const void *x, void *y, const ew_prm *p);

/* Input of type T computed as CT, output of type TO (T but for the
 * predicates, which give bool). */
#define EW_UNARY_TO(name, sfx, T, CT, LD, TO, ST, EXPR)                    \
  static void ew_##name##_##sfx(size_t n, const void *xp, void *yp,        \
                                const ew_prm *p) {                         \
    typedef T ew_t;                                                        \
    typedef CT ew_ct;                                                      \
    const ew_t *xs = xp;                                                   \
    TO *ys = yp;                                                           \
    (void)p;                                                               \
    for (size_t i = 0; i < n; i++) {                                       \
      ew_ct x = LD(xs[i]);                                                 \
      ys[i] = ST(EXPR);                                                    \
    }                                                                      \
  }
#define EW_UNARY(name, sfx, T, CT, LD, ST, EXPR)                           \
  EW_UNARY_TO(name, sfx, T, CT, LD, T, ST, EXPR)

/* EF: the expression in float (float, float16, bfloat16), ED: in double. */
#define EW_UN_FLT(name, EF, ED)                                            \
  EW_UNARY(name, f32, float, float, EW_ID, EW_ID, EF)                      \
  EW_UNARY(name, f64, double, double, EW_ID, EW_ID, ED)                    \
  EW_UNARY(name, f16, uint16_t, float, EW_F16_LD, EW_F16_ST, EF)           \
  EW_UNARY(name, bf16, uint16_t, float, EW_BF16_LD, EW_BF16_ST, EF)
#define EW_UN_SINT(name, E)                                                \
  EW_UNARY(name, i8, int8_t, int8_t, EW_ID, EW_ID, E)                      \
  EW_UNARY(name, i16, int16_t, int16_t, EW_ID, EW_ID, E)                   \
  EW_UNARY(name, i32, int32_t, int32_t, EW_ID, EW_ID, E)                   \
  EW_UNARY(name, i64, int64_t, int64_t, EW_ID, EW_ID, E)
#define EW_UN_UINT(name, E)                                                \
  EW_UNARY(name, u8, uint8_t, uint8_t, EW_ID, EW_ID, E)                    \
  EW_UNARY(name, u16, uint16_t, uint16_t, EW_ID, EW_ID, E)                 \
  EW_UNARY(name, u32, uint32_t, uint32_t, EW_ID, EW_ID, E)                 \
  EW_UNARY(name, u64, uint64_t, uint64_t, EW_ID, EW_ID, E)
/* Integers computed in double (Shrink's float attributes). */
#define EW_UN_INT_D(name, E)                                               \
  EW_UNARY(name, i8, int8_t, double, (double), EW_SAT, E)                  \
  EW_UNARY(name, i16, int16_t, double, (double), EW_SAT, E)                \
  EW_UNARY(name, i32, int32_t, double, (double), EW_SAT, E)                \
  EW_UNARY(name, i64, int64_t, double, (double), EW_SAT, E)                \
  EW_UNARY(name, u8, uint8_t, double, (double), EW_SAT, E)                 \
  EW_UNARY(name, u16, uint16_t, double, (double), EW_SAT, E)               \
  EW_UNARY(name, u32, uint32_t, double, (double), EW_SAT, E)               \
  EW_UNARY(name, u64, uint64_t, double, (double), EW_SAT, E)

#define EW_TBL_FLT(name)                                                   \
  [EMBER_FLOAT] = ew_##name##_f32, [EMBER_DOUBLE] = ew_##name##_f64,       \
  [EMBER_FLOAT16] = ew_##name##_f16, [EMBER_BFLOAT16] = ew_##name##_bf16
#define EW_TBL_SINT(name)                                                  \
  [EMBER_INT8] = ew_##name##_i8, [EMBER_INT16] = ew_##name##_i16,          \
  [EMBER_INT32] = ew_##name##_i32, [EMBER_INT64] = ew_##name##_i64
#define EW_TBL_UINT(name)                                                  \
  [EMBER_UINT8] = ew_##name##_u8, [EMBER_UINT16] = ew_##name##_u16,        \
  [EMBER_UINT32] = ew_##name##_u32, [EMBER_UINT64] = ew_##name##_u64
#define EW_TBL_F8(name)                                                    \
  [EMBER_FLOAT8E4M3FN] = ew_##name##_e4m3fn,                               \
  [EMBER_FLOAT8E4M3FNUZ] = ew_##name##_e4m3fnuz,                           \
  [EMBER_FLOAT8E5M2] = ew_##name##_e5m2,                                   \
  [EMBER_FLOAT8E5M2FNUZ] = ew_##name##_e5m2fnuz

/* exp(-x) may overflow to inf for very negative x; the result is then 0,
 * within 1e-38 of the exact value, and the form has no branch. */
static float ew_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
static double ew_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static float ew_softplusf(float x) {
  return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
}
static double ew_softplus(double x) {
  return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

EW_UN_FLT(relu, x < 0 ? 0.0f : x, x < 0 ? 0.0 : x)
EW_UN_SINT(relu, x < 0 ? 0 : x)
EW_UN_FLT(leakyrelu, x < 0 ? p->alpha * x : x, x < 0 ? p->alpha * x : x)
EW_UN_FLT(sigmoid, ew_sigmoidf(x), ew_sigmoid(x))
EW_UN_FLT(tanh, tanhf(x), tanh(x))
EW_UN_FLT(erf, erff(x), erf(x))
EW_UN_FLT(sqrt, sqrtf(x), sqrt(x))
EW_UN_FLT(exp, expf(x), exp(x))
EW_UN_FLT(log, logf(x), log(x))
EW_UN_FLT(reciprocal, 1.0f / x, 1.0 / x)
EW_UN_FLT(softplus, ew_softplusf(x), ew_softplus(x))
EW_UN_FLT(elu, x < 0 ? p->alpha * expm1f(x) : x,
          x < 0 ? p->alpha * expm1(x) : x)
EW_UN_FLT(selu, x <= 0 ? p->gamma * (p->alpha * expm1f(x)) : p->gamma * x,
          x <= 0 ? p->gamma * (p->alpha * expm1(x)) : p->gamma * x)
EW_UN_FLT(neg, -x, -x)
EW_UN_SINT(neg, EW_INEG(x))
EW_UN_FLT(abs, fabsf(x), fabs(x))
EW_UN_SINT(abs, x < 0 ? EW_INEG(x) : x)
EW_UN_UINT(abs, x)
/* Sign keeps NaN (and the zero's sign), as numpy does. */
EW_UN_FLT(sign, x > 0 ? 1.0f : x < 0 ? -1.0f : x,
          x > 0 ? 1.0 : x < 0 ? -1.0 : x)
EW_UN_SINT(sign, (ew_t)(x > 0 ? 1 : x < 0 ? -1 : 0))
EW_UN_UINT(sign, (ew_t)(x > 0))
EW_UN_FLT(shrink,
          x < -p->alpha ? x + p->beta : x > p->alpha ? x - p->beta : 0.0f,
          x < -p->alpha ? x + p->beta : x > p->alpha ? x - p->beta : 0.0)
EW_UN_INT_D(shrink,
            x < -p->alpha ? x + p->beta : x > p->alpha ? x - p->beta : 0.0)
EW_UNARY(not, b, uint8_t, uint8_t, EW_ID, EW_ID, (uint8_t)!x)

/* Trigonometric and hyperbolic functions: libm in the computing type. */
EW_UN_FLT(acos, acosf(x), acos(x))
EW_UN_FLT(acosh, acoshf(x), acosh(x))
EW_UN_FLT(asin, asinf(x), asin(x))
EW_UN_FLT(asinh, asinhf(x), asinh(x))
EW_UN_FLT(atan, atanf(x), atan(x))
EW_UN_FLT(atanh, atanhf(x), atanh(x))
EW_UN_FLT(cos, cosf(x), cos(x))
EW_UN_FLT(cosh, coshf(x), cosh(x))
EW_UN_FLT(sin, sinf(x), sin(x))
EW_UN_FLT(sinh, sinhf(x), sinh(x))
EW_UN_FLT(tan, tanf(x), tan(x))
EW_UN_FLT(ceil, ceilf(x), ceil(x))
EW_UN_FLT(floor, floorf(x), floor(x))

/* Round half to even without relying on the floating-point environment's
 * rounding mode (rint would follow whatever the application set): round
 * half away from zero, then redo the ties.  r - x is exact (Sterbenz), so
 * the tie test is too; the sign of a zero result follows x, as with rint. */
static float ew_roundf(float x) {
  float r = roundf(x);
  if (fabsf(r - x) == 0.5f) r = 2.0f * roundf(0.5f * x);
  return r;
}
static double ew_round(double x) {
  double r = round(x);
  if (fabs(r - x) == 0.5) r = 2.0 * round(0.5 * x);
  return r;
}
EW_UN_FLT(round, ew_roundf(x), ew_round(x))

/* Activations.  The comparisons are written so that NaN propagates (a
 * clamp through fmax/fmin would turn NaN into a bound). */
static float ew_hardsigmoidf(float x, float a, float b) {
  float v = a * x + b;
  return v < 0 ? 0.0f : v > 1 ? 1.0f : v;
}
static double ew_hardsigmoid(double x, double a, double b) {
  double v = a * x + b;
  return v < 0 ? 0.0 : v > 1 ? 1.0 : v;
}
/* The spec's exact constants, in double; the float paths round them. */
#define EW_SQRT1_2 0.70710678118654752440   /* 1/sqrt(2)   */
#define EW_SQRT2_PI 0.79788456080286535588  /* sqrt(2/pi)  */
static float ew_geluf(float x, bool approx) {
  if (approx)
    return 0.5f * x *
           (1.0f + tanhf((float)EW_SQRT2_PI * (x + 0.044715f * x * x * x)));
  return 0.5f * x * (1.0f + erff(x * (float)EW_SQRT1_2));
}
static double ew_gelu(double x, bool approx) {
  if (approx)
    return 0.5 * x * (1.0 + tanh(EW_SQRT2_PI * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1.0 + erf(x * EW_SQRT1_2));
}

EW_UN_FLT(hardsigmoid, ew_hardsigmoidf(x, p->alpha, p->beta),
          ew_hardsigmoid(x, p->alpha, p->beta))
EW_UN_FLT(hardswish, x * ew_hardsigmoidf(x, 1.0f / 6, 0.5f),
          x * ew_hardsigmoid(x, 1.0 / 6, 0.5))
EW_UN_FLT(thresholdedrelu, x > p->alpha ? x : 0.0f, x > p->alpha ? x : 0.0)
/* Celu = max(0,x) + min(0, alpha*(exp(x/alpha)-1)): for either sign of
 * alpha the second term vanishes exactly when x > 0. */
EW_UN_FLT(celu, x > 0 ? x : p->alpha * expm1f(x / p->alpha),
          x > 0 ? x : p->alpha * expm1(x / p->alpha))
EW_UN_FLT(softsign, x / (1.0f + fabsf(x)), x / (1.0 + fabs(x)))
EW_UN_FLT(mish, x * tanhf(ew_softplusf(x)), x * tanh(ew_softplus(x)))
EW_UN_FLT(swish, x * ew_sigmoidf(p->alpha * x),
          x * ew_sigmoid((double)p->alpha * x))
EW_UN_FLT(gelu, ew_geluf(x, p->gelu_tanh), ew_gelu(x, p->gelu_tanh))
EW_UN_SINT(bitwisenot, (ew_t)~x)
EW_UN_UINT(bitwisenot, (ew_t)~x)

/* Predicates: bool out.  The float8 types are read by their bits; only
 * float8e5m2 has infinities, and the FNUZ types have one NaN, the
 * pattern of negative zero. */
#define EW_PRED(name, sfx, T, CT, LD, E)                                   \
  EW_UNARY_TO(name, sfx, T, CT, LD, uint8_t, (uint8_t), E)
#define EW_PRED_FLT(name, E)                                               \
  EW_PRED(name, f32, float, float, EW_ID, E)                               \
  EW_PRED(name, f64, double, double, EW_ID, E)                             \
  EW_PRED(name, f16, uint16_t, float, EW_F16_LD, E)                        \
  EW_PRED(name, bf16, uint16_t, float, EW_BF16_LD, E)
#define EW_ISINF(x) (isinf(x) && ((x) < 0 ? p->detect_neg : p->detect_pos))
EW_PRED_FLT(isnan, isnan(x))
EW_PRED(isnan, e4m3fn, uint8_t, uint8_t, EW_ID, (x & 0x7f) == 0x7f)
EW_PRED(isnan, e4m3fnuz, uint8_t, uint8_t, EW_ID, x == 0x80)
EW_PRED(isnan, e5m2, uint8_t, uint8_t, EW_ID, (x & 0x7f) > 0x7c)
EW_PRED(isnan, e5m2fnuz, uint8_t, uint8_t, EW_ID, x == 0x80)
EW_PRED_FLT(isinf, EW_ISINF(x))
EW_PRED(isinf, e4m3fn, uint8_t, uint8_t, EW_ID, ((void)x, 0))
EW_PRED(isinf, e4m3fnuz, uint8_t, uint8_t, EW_ID, ((void)x, 0))
EW_PRED(isinf, e5m2, uint8_t, uint8_t, EW_ID,
        (x & 0x7f) == 0x7c && ((x & 0x80) ? p->detect_neg : p->detect_pos))
EW_PRED(isinf, e5m2fnuz, uint8_t, uint8_t, EW_ID, ((void)x, 0))

/* Clip: numpy's min(max(x, lo), hi), so lo > hi gives hi everywhere and
 * NaN passes through.  Bounds are stored values of the input's type. */
#define EW_CLIP(sfx, T, CT, LD)                                            \
  static void ew_clip_##sfx(size_t n, const void *xp, void *yp,            \
                            const ew_prm *p) {                             \
    const T *xs = xp;                                                      \
    T *ys = yp;                                                            \
    const T lov = *(const T *)p->lo, hiv = *(const T *)p->hi;              \
    const CT lo = LD(lov), hi = LD(hiv);                                   \
    for (size_t i = 0; i < n; i++) {                                       \
      CT x = LD(xs[i]);                                                    \
      T v = x < lo ? lov : xs[i];                                          \
      CT t = x < lo ? lo : x;                                              \
      ys[i] = t > hi ? hiv : v;                                            \
    }                                                                      \
  }
EW_CLIP(f32, float, float, EW_ID)
EW_CLIP(f64, double, double, EW_ID)
EW_CLIP(f16, uint16_t, float, EW_F16_LD)
EW_CLIP(bf16, uint16_t, float, EW_BF16_LD)
EW_CLIP(i8, int8_t, int8_t, EW_ID)
EW_CLIP(i16, int16_t, int16_t, EW_ID)
EW_CLIP(i32, int32_t, int32_t, EW_ID)
EW_CLIP(i64, int64_t, int64_t, EW_ID)
EW_CLIP(u8, uint8_t, uint8_t, EW_ID)
EW_CLIP(u16, uint16_t, uint16_t, EW_ID)
EW_CLIP(u32, uint32_t, uint32_t, EW_ID)
EW_CLIP(u64, uint64_t, uint64_t, EW_ID)

static const ew_unfn ew_relu_tbl[EW_NT] = {EW_TBL_FLT(relu),
                                           EW_TBL_SINT(relu)};
static const ew_unfn ew_leakyrelu_tbl[EW_NT] = {EW_TBL_FLT(leakyrelu)};
static const ew_unfn ew_sigmoid_tbl[EW_NT] = {EW_TBL_FLT(sigmoid)};
static const ew_unfn ew_tanh_tbl[EW_NT] = {EW_TBL_FLT(tanh)};
static const ew_unfn ew_erf_tbl[EW_NT] = {EW_TBL_FLT(erf)};
static const ew_unfn ew_sqrt_tbl[EW_NT] = {EW_TBL_FLT(sqrt)};
static const ew_unfn ew_exp_tbl[EW_NT] = {EW_TBL_FLT(exp)};
static const ew_unfn ew_log_tbl[EW_NT] = {EW_TBL_FLT(log)};
static const ew_unfn ew_reciprocal_tbl[EW_NT] = {EW_TBL_FLT(reciprocal)};
static const ew_unfn ew_softplus_tbl[EW_NT] = {EW_TBL_FLT(softplus)};
static const ew_unfn ew_elu_tbl[EW_NT] = {EW_TBL_FLT(elu)};
static const ew_unfn ew_selu_tbl[EW_NT] = {EW_TBL_FLT(selu)};
static const ew_unfn ew_neg_tbl[EW_NT] = {EW_TBL_FLT(neg), EW_TBL_SINT(neg)};
static const ew_unfn ew_abs_tbl[EW_NT] = {EW_TBL_FLT(abs), EW_TBL_SINT(abs),
                                          EW_TBL_UINT(abs)};
static const ew_unfn ew_sign_tbl[EW_NT] = {
    EW_TBL_FLT(sign), EW_TBL_SINT(sign), EW_TBL_UINT(sign)};
static const ew_unfn ew_shrink_tbl[EW_NT] = {
    EW_TBL_FLT(shrink), EW_TBL_SINT(shrink), EW_TBL_UINT(shrink)};
static const ew_unfn ew_not_tbl[EW_NT] = {[EMBER_BOOL] = ew_not_b};
static const ew_unfn ew_clip_tbl[EW_NT] = {
    EW_TBL_FLT(clip), EW_TBL_SINT(clip), EW_TBL_UINT(clip)};
static const ew_unfn ew_acos_tbl[EW_NT] = {EW_TBL_FLT(acos)};
static const ew_unfn ew_acosh_tbl[EW_NT] = {EW_TBL_FLT(acosh)};
static const ew_unfn ew_asin_tbl[EW_NT] = {EW_TBL_FLT(asin)};
static const ew_unfn ew_asinh_tbl[EW_NT] = {EW_TBL_FLT(asinh)};
static const ew_unfn ew_atan_tbl[EW_NT] = {EW_TBL_FLT(atan)};
static const ew_unfn ew_atanh_tbl[EW_NT] = {EW_TBL_FLT(atanh)};
static const ew_unfn ew_cos_tbl[EW_NT] = {EW_TBL_FLT(cos)};
static const ew_unfn ew_cosh_tbl[EW_NT] = {EW_TBL_FLT(cosh)};
static const ew_unfn ew_sin_tbl[EW_NT] = {EW_TBL_FLT(sin)};
static const ew_unfn ew_sinh_tbl[EW_NT] = {EW_TBL_FLT(sinh)};
static const ew_unfn ew_tan_tbl[EW_NT] = {EW_TBL_FLT(tan)};
static const ew_unfn ew_ceil_tbl[EW_NT] = {EW_TBL_FLT(ceil)};
static const ew_unfn ew_floor_tbl[EW_NT] = {EW_TBL_FLT(floor)};
static const ew_unfn ew_round_tbl[EW_NT] = {EW_TBL_FLT(round)};
static const ew_unfn ew_hardsigmoid_tbl[EW_NT] = {EW_TBL_FLT(hardsigmoid)};
static const ew_unfn ew_hardswish_tbl[EW_NT] = {EW_TBL_FLT(hardswish)};
static const ew_unfn ew_thresholdedrelu_tbl[EW_NT] = {
    EW_TBL_FLT(thresholdedrelu)};
static const ew_unfn ew_celu_tbl[EW_NT] = {EW_TBL_FLT(celu)};
static const ew_unfn ew_softsign_tbl[EW_NT] = {EW_TBL_FLT(softsign)};
static const ew_unfn ew_mish_tbl[EW_NT] = {EW_TBL_FLT(mish)};
static const ew_unfn ew_swish_tbl[EW_NT] = {EW_TBL_FLT(swish)};
static const ew_unfn ew_gelu_tbl[EW_NT] = {EW_TBL_FLT(gelu)};
static const ew_unfn ew_bitwisenot_tbl[EW_NT] = {EW_TBL_SINT(bitwisenot),
                                                 EW_TBL_UINT(bitwisenot)};
static const ew_unfn ew_isnan_tbl[EW_NT] = {EW_TBL_FLT(isnan),
                                            EW_TBL_F8(isnan)};
static const ew_unfn ew_isinf_tbl[EW_NT] = {EW_TBL_FLT(isinf),
                                            EW_TBL_F8(isinf)};

/* ------------------------------------------------------ shared checks */

static ember_status ew_want_tensor(emb_infer_ctx *c, int i) {
  if (i >= c->n_in || !c->in[i]) return EMBER_OK;
  int k = c->in[i]->kind;
  if (k == 0 || k == EMBER_KIND_TENSOR) return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                     "input %d must be a tensor", i);
}

/* Input i must be present (a required input given as ""). */
static ember_status ew_want_input(emb_infer_ctx *c, int i) {
  if (i < c->n_in && c->in[i]) return ew_want_tensor(c, i);
  return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                     "required input %d is missing", i);
}

/* dtype of input i when known, else 0. */
static int32_t ew_dtype(const emb_infer_ctx *c, int i) {
  if (i >= c->n_in || !c->in[i] || !c->in[i]->kind) return 0;
  return c->in[i]->dtype;
}

static ember_status ew_unsupported(emb_infer_ctx *c, int i) {
  return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                     "input %d has element type %s, which this operator "
                     "does not support",
                     i, ember_dtype_name(ew_dtype(c, i)));
}

/* A required one-element input (Clip bounds, Dropout ratio). */
static ember_status ew_want_scalar(emb_infer_ctx *c, int i, const char *what) {
  const emb_type *t = i < c->n_in ? c->in[i] : NULL;
  if (!t || t->kind != EMBER_KIND_TENSOR || t->rank < 0) return EMBER_OK;
  for (int k = 0; k < t->rank; k++)
    if (t->dims[k].v != 1 && t->dims[k].v >= 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "%s (input %d) must be a scalar, not a tensor with "
                         "dimension %lld",
                         what, i, (long long)t->dims[k].v);
  return EMBER_OK;
}

/* ------------------------------------------------------- unary ops */

static const ew_prm ew_prm_none;

static ember_status ew_un_infer(emb_infer_ctx *c, const ew_unfn *tbl) {
  ember_status st = ew_want_input(c, 0);
  if (st) return st;
  int32_t dt = ew_dtype(c, 0);
  if (dt && !EW_LOOKUP(tbl, dt)) return ew_unsupported(c, 0);
  return emb_infer_same(c);
}

/* A unary function over n elements, cut into ranges run in parallel when
 * large (each element is computed on its own, so the cut never changes a
 * result). */
typedef struct ew_un_job {
  ew_unfn fn;
  const char *x;
  char *y;
  size_t xes, yes, n, parts;
  const ew_prm *p;
} ew_un_job;

static void ew_un_task(void *arg, size_t t, int thread) {
  const ew_un_job *j = arg;
  size_t e0 = emb_block_start(j->n, j->parts, 16, t),
         e1 = emb_block_start(j->n, j->parts, 16, t + 1);
  (void)thread;
  j->fn(e1 - e0, j->x + e0 * j->xes, j->y + e0 * j->yes, j->p);
}

static void ew_unary(emb_run_ctx *c, bool heavy, ew_unfn fn,
                     const emb_tensor *x, emb_tensor *y, const ew_prm *p) {
  size_t n = emb_tensor_numel(x);
  ew_un_job j = {fn,
                 x->data,
                 y->data,
                 (size_t)emb_dtype_bits(x->dtype) / 8,
                 (size_t)emb_dtype_bits(y->dtype) / 8,
                 n,
                 ew_parts(c, n, heavy),
                 p};
  if (j.parts > 1)
    emb_parallel_for(c, j.parts, ew_un_task, &j);
  else if (n)
    fn(n, x->data, y->data, p);
}

/* The unary operators whose functions call into libm (see EW_PAR_MIN). */
static bool ew_un_heavy(const ew_unfn *tbl) {
  static const ew_unfn *const heavy[] = {
      ew_sigmoid_tbl, ew_tanh_tbl,  ew_erf_tbl,   ew_exp_tbl,   ew_log_tbl,
      ew_softplus_tbl, ew_elu_tbl,  ew_selu_tbl,  ew_celu_tbl,  ew_mish_tbl,
      ew_swish_tbl,   ew_gelu_tbl,  ew_acos_tbl,  ew_acosh_tbl, ew_asin_tbl,
      ew_asinh_tbl,   ew_atan_tbl,  ew_atanh_tbl, ew_cos_tbl,   ew_cosh_tbl,
      ew_sin_tbl,     ew_sinh_tbl,  ew_tan_tbl};
  for (size_t i = 0; i < sizeof heavy / sizeof heavy[0]; i++)
    if (heavy[i] == tbl) return true;
  return false;
}

static ember_status ew_un_run(emb_run_ctx *c, const ew_unfn *tbl) {
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  ew_unfn fn = EW_LOOKUP(tbl, x->dtype);
  if (!fn)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(x->dtype));
  ew_unary(c, ew_un_heavy(tbl), fn, x, y,
           c->node->state ? c->node->state : &ew_prm_none);
  return EMBER_OK;
}

#define EW_UNARY_OP(sym, initfn)                                           \
  static ember_status ew_##sym##_infer(emb_infer_ctx *c) {                 \
    return ew_un_infer(c, ew_##sym##_tbl);                                 \
  }                                                                        \
  static ember_status ew_##sym##_run(emb_run_ctx *c) {                     \
    return ew_un_run(c, ew_##sym##_tbl);                                   \
  }                                                                        \
  const emb_opdef emb_op_##sym = {1, 1, 1, 1, 0, initfn,                   \
                                  ew_##sym##_infer, ew_##sym##_run};

/* Attribute parsing for the parametrised activations. */
static ember_status ew_prm_new(emb_init_ctx *c, ew_prm **out) {
  *out = emb_op_state(c, sizeof **out);
  if (!*out) return c->diag->status;
  c->node->state = *out;
  return EMBER_OK;
}

static ember_status ew_alpha_init(emb_init_ctx *c, float def) {
  ew_prm *p;
  ember_status st = ew_prm_new(c, &p);
  if (st) return st;
  return emb_attr_float(c->node, "alpha", def, &p->alpha, c->diag);
}

static ember_status ew_leakyrelu_init(emb_init_ctx *c) {
  return ew_alpha_init(c, 0.01f);
}
static ember_status ew_elu_init(emb_init_ctx *c) {
  return ew_alpha_init(c, 1.0f);
}

static ember_status ew_selu_init(emb_init_ctx *c) {
  ew_prm *p;
  ember_status st = ew_prm_new(c, &p);
  if (st) return st;
  /* Selu-1 documented rounder defaults than Selu-6. */
  bool old = c->node->opset < 6;
  st = emb_attr_float(c->node, "alpha",
                      old ? 1.6732f : 1.67326319217681884765625f, &p->alpha,
                      c->diag);
  if (!st)
    st = emb_attr_float(c->node, "gamma",
                        old ? 1.0507f : 1.05070102214813232421875f,
                        &p->gamma, c->diag);
  return st;
}

static ember_status ew_shrink_init(emb_init_ctx *c) {
  ew_prm *p;
  ember_status st = ew_prm_new(c, &p);
  if (st) return st;
  st = emb_attr_float(c->node, "lambd", 0.5f, &p->alpha, c->diag);
  if (!st) st = emb_attr_float(c->node, "bias", 0.0f, &p->beta, c->diag);
  if (!st && p->alpha < 0)
    st = emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                     "attribute 'lambd' must not be negative (got %g)",
                     (double)p->alpha);
  return st;
}

EW_UNARY_OP(relu, NULL)
EW_UNARY_OP(leakyrelu, ew_leakyrelu_init)
EW_UNARY_OP(sigmoid, NULL)
EW_UNARY_OP(tanh, NULL)
EW_UNARY_OP(erf, NULL)
EW_UNARY_OP(sqrt, NULL)
EW_UNARY_OP(exp, NULL)
EW_UNARY_OP(log, NULL)
EW_UNARY_OP(neg, NULL)
EW_UNARY_OP(abs, NULL)
EW_UNARY_OP(reciprocal, NULL)
EW_UNARY_OP(elu, ew_elu_init)
EW_UNARY_OP(selu, ew_selu_init)
EW_UNARY_OP(softplus, NULL)
EW_UNARY_OP(shrink, ew_shrink_init)
EW_UNARY_OP(sign, NULL)
EW_UNARY_OP(not, NULL)

static ember_status ew_hardsigmoid_init(emb_init_ctx *c) {
  ew_prm *p;
  ember_status st = ew_prm_new(c, &p);
  if (!st) st = emb_attr_float(c->node, "alpha", 0.2f, &p->alpha, c->diag);
  if (!st) st = emb_attr_float(c->node, "beta", 0.5f, &p->beta, c->diag);
  return st;
}
static ember_status ew_alpha1_init(emb_init_ctx *c) {
  return ew_alpha_init(c, 1.0f);
}

/* Celu divides by alpha. */
static ember_status ew_celu_init(emb_init_ctx *c) {
  ember_status st = ew_alpha_init(c, 1.0f);
  const ew_prm *p = c->node->state;
  if (!st && p->alpha == 0)
    st = emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                     "attribute 'alpha' must not be 0");
  return st;
}

static ember_status ew_gelu_init(emb_init_ctx *c) {
  ew_prm *p;
  const char *a;
  ember_status st = ew_prm_new(c, &p);
  if (!st) st = emb_attr_string(c->node, "approximate", "none", &a, c->diag);
  if (st) return st;
  if (!strcmp(a, "tanh"))
    p->gelu_tanh = true;
  else if (strcmp(a, "none"))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'approximate' must be \"none\" or "
                       "\"tanh\", not \"%s\"",
                       a);
  return EMBER_OK;
}

static ember_status ew_isinf_init(emb_init_ctx *c) {
  ew_prm *p;
  int64_t neg, pos;
  ember_status st = ew_prm_new(c, &p);
  if (!st) st = emb_attr_int(c->node, "detect_negative", 1, &neg, c->diag);
  if (!st) st = emb_attr_int(c->node, "detect_positive", 1, &pos, c->diag);
  if (st) return st;
  p->detect_neg = neg != 0;
  p->detect_pos = pos != 0;
  return EMBER_OK;
}

EW_UNARY_OP(acos, NULL)
EW_UNARY_OP(acosh, NULL)
EW_UNARY_OP(asin, NULL)
EW_UNARY_OP(asinh, NULL)
EW_UNARY_OP(atan, NULL)
EW_UNARY_OP(atanh, NULL)
EW_UNARY_OP(cos, NULL)
EW_UNARY_OP(cosh, NULL)
EW_UNARY_OP(sin, NULL)
EW_UNARY_OP(sinh, NULL)
EW_UNARY_OP(tan, NULL)
EW_UNARY_OP(ceil, NULL)
EW_UNARY_OP(floor, NULL)
EW_UNARY_OP(round, NULL)
EW_UNARY_OP(hardsigmoid, ew_hardsigmoid_init)
EW_UNARY_OP(hardswish, NULL)
EW_UNARY_OP(thresholdedrelu, ew_alpha1_init)
EW_UNARY_OP(celu, ew_celu_init)
EW_UNARY_OP(softsign, NULL)
EW_UNARY_OP(mish, NULL)
EW_UNARY_OP(swish, ew_alpha1_init)
EW_UNARY_OP(gelu, ew_gelu_init)
EW_UNARY_OP(bitwisenot, NULL)

/* Predicates: the unary driver with a bool output. */
#define EW_PRED_OP(sym, initfn)                                            \
  static ember_status ew_##sym##_infer(emb_infer_ctx *c) {                 \
    ember_status st = ew_un_infer(c, ew_##sym##_tbl);                      \
    if (!st) c->out[0].dtype = EMBER_BOOL;                                 \
    return st;                                                             \
  }                                                                        \
  static ember_status ew_##sym##_run(emb_run_ctx *c) {                     \
    return ew_un_run(c, ew_##sym##_tbl);                                   \
  }                                                                        \
  const emb_opdef emb_op_##sym = {1, 1, 1, 1, 0, initfn,                   \
                                  ew_##sym##_infer, ew_##sym##_run};

EW_PRED_OP(isnan, NULL)
EW_PRED_OP(isinf, ew_isinf_init)

/* ------------------------------------------------------------- Clip */

/* One element of any numeric type, for Clip's bounds. */
typedef union ew_scalar {
  float f32;
  double f64;
  uint16_t h;
  int8_t i8;
  int16_t i16;
  int32_t i32;
  int64_t i64;
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
} ew_scalar;

/* Set s to the lowest (lo) or highest value of dtype, or to v when
 * given (Clip-1/6 attributes, float types only). */
static void ew_bound(int32_t dt, bool lo, const float *v, ew_scalar *s) {
  float f = v ? *v : lo ? -INFINITY : INFINITY;
  memset(s, 0, sizeof *s);
  switch (dt) {
    case EMBER_FLOAT: s->f32 = f; break;
    case EMBER_DOUBLE: s->f64 = f; break;
    case EMBER_FLOAT16: s->h = emb_f32_to_f16(f); break;
    case EMBER_BFLOAT16: s->h = emb_f32_to_bf16(f); break;
    case EMBER_INT8: s->i8 = lo ? INT8_MIN : INT8_MAX; break;
    case EMBER_INT16: s->i16 = lo ? INT16_MIN : INT16_MAX; break;
    case EMBER_INT32: s->i32 = lo ? INT32_MIN : INT32_MAX; break;
    case EMBER_INT64: s->i64 = lo ? INT64_MIN : INT64_MAX; break;
    case EMBER_UINT8: s->u8 = lo ? 0 : UINT8_MAX; break;
    case EMBER_UINT16: s->u16 = lo ? 0 : UINT16_MAX; break;
    case EMBER_UINT32: s->u32 = lo ? 0 : UINT32_MAX; break;
    case EMBER_UINT64: s->u64 = lo ? 0 : UINT64_MAX; break;
    default: break;
  }
}

static ember_status ew_clip_init(emb_init_ctx *c) {
  if (c->node->opset >= 11) return EMBER_OK;
  ew_prm *p;
  ember_status st = ew_prm_new(c, &p);
  if (st) return st;
  p->has_min = emb_node_attr(c->node, "min") != NULL;
  p->has_max = emb_node_attr(c->node, "max") != NULL;
  st = emb_attr_float(c->node, "min", -INFINITY, &p->min, c->diag);
  if (!st) st = emb_attr_float(c->node, "max", INFINITY, &p->max, c->diag);
  return st;
}

static ember_status ew_clip_infer(emb_infer_ctx *c) {
  ember_status st = ew_un_infer(c, ew_clip_tbl);
  if (st) return st;
  /* Integer Clip came with the bounds as inputs (opset 12); float
   * attributes could not express integer bounds. */
  if (c->node->opset < 12 && ew_dtype(c, 0) &&
      !emb_dtype_is_float(ew_dtype(c, 0)))
    return ew_unsupported(c, 0);
  if (c->node->opset < 11) return EMBER_OK;
  for (int i = 1; i < 3 && !st; i++) {
    st = ew_want_tensor(c, i);
    if (!st) st = ew_want_scalar(c, i, i == 1 ? "min" : "max");
  }
  if (!st) st = emb_infer_same_dtype(c, 0, 2);
  return st;
}

static ember_status ew_clip_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  ew_unfn fn = EW_LOOKUP(ew_clip_tbl, x->dtype);
  if (!fn)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(x->dtype));
  ew_scalar lo, hi;
  ew_prm p = {0};
  const ew_prm *attrs = c->node->state;
  if (c->node->opset < 11) {
    ew_bound(x->dtype, true, attrs && attrs->has_min ? &attrs->min : NULL,
             &lo);
    ew_bound(x->dtype, false, attrs && attrs->has_max ? &attrs->max : NULL,
             &hi);
    p.lo = &lo;
    p.hi = &hi;
  } else {
    ew_bound(x->dtype, true, NULL, &lo);
    ew_bound(x->dtype, false, NULL, &hi);
    p.lo = &lo;
    p.hi = &hi;
    for (int i = 1; i < 3; i++) {
      const emb_tensor *b = emb_in_t(c, i);
      if (!b) continue;
      if (emb_tensor_numel(b) != 1 || b->dtype != x->dtype)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "%s (input %d) must be a single %s value",
                           i == 1 ? "min" : "max", i,
                           ember_dtype_name(x->dtype));
      if (i == 1)
        p.lo = b->data;
      else
        p.hi = b->data;
    }
  }
  ew_unary(c, false, fn, x, y, &p);
  return EMBER_OK;
}

const emb_opdef emb_op_clip = {1, 3, 1, 1, 0, ew_clip_init, ew_clip_infer,
                               ew_clip_run};

/* ------------------------------------------------------ binary rows */

#define EW_BINARY(name, sfx, TA, TB, TO, CT, LDA, LDB, ST, EXPR)          \
  static void ew_##name##_##sfx(size_t n, const void *const *in,          \
                                const unsigned char *adv, void *op,       \
                                void *ctx) {                              \
    typedef TO ew_t;                                                      \
    typedef CT ew_ct;                                                     \
    const TA *a = in[0];                                                  \
    const TB *b = in[1];                                                  \
    ew_t *o = op;                                                         \
    (void)ctx;                                                            \
    if (adv[0] && adv[1]) {                                               \
      for (size_t i = 0; i < n; i++) {                                    \
        ew_ct x = LDA(a[i]), y = LDB(b[i]);                               \
        o[i] = ST(EXPR);                                                  \
      }                                                                   \
    } else if (adv[0]) {                                                  \
      const ew_ct y = LDB(b[0]);                                          \
      for (size_t i = 0; i < n; i++) {                                    \
        ew_ct x = LDA(a[i]);                                              \
        o[i] = ST(EXPR);                                                  \
      }                                                                   \
    } else if (adv[1]) {                                                  \
      const ew_ct x = LDA(a[0]);                                          \
      for (size_t i = 0; i < n; i++) {                                    \
        ew_ct y = LDB(b[i]);                                              \
        o[i] = ST(EXPR);                                                  \
      }                                                                   \
    } else {                                                              \
      const ew_ct x = LDA(a[0]), y = LDB(b[0]);                           \
      const ew_t r = ST(EXPR);                                            \
      for (size_t i = 0; i < n; i++) o[i] = r;                            \
    }                                                                     \
  }

/* Same-type ops; the _WRAP family computes integers in an unsigned type
 * wide enough for the operation, so overflow wraps instead of being
 * undefined. */
#define EW_BIN(name, sfx, T, CT, LD, ST, E)                               \
  EW_BINARY(name, sfx, T, T, T, CT, LD, LD, ST, E)
#define EW_BIN_FLT(name, E)                                               \
  EW_BIN(name, f32, float, float, EW_ID, EW_ID, E)                        \
  EW_BIN(name, f64, double, double, EW_ID, EW_ID, E)                      \
  EW_BIN(name, f16, uint16_t, float, EW_F16_LD, EW_F16_ST, E)             \
  EW_BIN(name, bf16, uint16_t, float, EW_BF16_LD, EW_BF16_ST, E)
#define EW_BIN_WRAP(name, E)                                              \
  EW_BIN(name, i8, int8_t, uint32_t, (uint32_t), (int8_t), E)             \
  EW_BIN(name, i16, int16_t, uint32_t, (uint32_t), (int16_t), E)          \
  EW_BIN(name, i32, int32_t, uint32_t, (uint32_t), (int32_t), E)          \
  EW_BIN(name, i64, int64_t, uint64_t, (uint64_t), (int64_t), E)          \
  EW_BIN(name, u8, uint8_t, uint32_t, (uint32_t), (uint8_t), E)           \
  EW_BIN(name, u16, uint16_t, uint32_t, (uint32_t), (uint16_t), E)        \
  EW_BIN(name, u32, uint32_t, uint32_t, EW_ID, EW_ID, E)                  \
  EW_BIN(name, u64, uint64_t, uint64_t, EW_ID, EW_ID, E)
#define EW_BIN_SINT(name, E)                                              \
  EW_BIN(name, i8, int8_t, int8_t, EW_ID, (ew_t), E)                      \
  EW_BIN(name, i16, int16_t, int16_t, EW_ID, (ew_t), E)                   \
  EW_BIN(name, i32, int32_t, int32_t, EW_ID, (ew_t), E)                   \
  EW_BIN(name, i64, int64_t, int64_t, EW_ID, (ew_t), E)
#define EW_BIN_UINT(name, E)                                              \
  EW_BIN(name, u8, uint8_t, uint8_t, EW_ID, (ew_t), E)                    \
  EW_BIN(name, u16, uint16_t, uint16_t, EW_ID, (ew_t), E)                 \
  EW_BIN(name, u32, uint32_t, uint32_t, EW_ID, (ew_t), E)                 \
  EW_BIN(name, u64, uint64_t, uint64_t, EW_ID, (ew_t), E)
/* Comparisons: bool (one byte) out. */
#define EW_CMP(name, sfx, T, CT, LD, E)                                   \
  EW_BINARY(name, sfx, T, T, uint8_t, CT, LD, LD, (uint8_t), E)
#define EW_CMP_ALL(name, E)                                               \
  EW_CMP(name, f32, float, float, EW_ID, E)                               \
  EW_CMP(name, f64, double, double, EW_ID, E)                             \
  EW_CMP(name, f16, uint16_t, float, EW_F16_LD, E)                        \
  EW_CMP(name, bf16, uint16_t, float, EW_BF16_LD, E)                      \
  EW_CMP(name, i8, int8_t, int8_t, EW_ID, E)                              \
  EW_CMP(name, i16, int16_t, int16_t, EW_ID, E)                           \
  EW_CMP(name, i32, int32_t, int32_t, EW_ID, E)                           \
  EW_CMP(name, i64, int64_t, int64_t, EW_ID, E)                           \
  EW_CMP(name, u8, uint8_t, uint8_t, EW_ID, E)                            \
  EW_CMP(name, u16, uint16_t, uint16_t, EW_ID, E)                         \
  EW_CMP(name, u32, uint32_t, uint32_t, EW_ID, E)                         \
  EW_CMP(name, u64, uint64_t, uint64_t, EW_ID, E)

EW_BIN_FLT(add, x + y)
EW_BIN_WRAP(add, x + y)
EW_BIN_FLT(sub, x - y)
EW_BIN_WRAP(sub, x - y)
EW_BIN_FLT(mul, x * y)
EW_BIN_WRAP(mul, x * y)
EW_BIN_FLT(div, x / y)
/* Integer division truncates toward zero (C and the ONNX spec agree);
 * by zero it gives 0 and INT_MIN / -1 wraps to INT_MIN. */
EW_BIN_SINT(div, y == 0 ? 0 : y == -1 ? EW_INEG(x) : x / y)
EW_BIN_UINT(div, y == 0 ? 0 : x / y)
/* Max/Min propagate NaN from either side. */
EW_BIN_FLT(max, (x > y || isnan(x)) ? x : y)
EW_BIN_SINT(max, x > y ? x : y)
EW_BIN_UINT(max, x > y ? x : y)
EW_BIN_FLT(min, (x < y || isnan(x)) ? x : y)
EW_BIN_SINT(min, x < y ? x : y)
EW_BIN_UINT(min, x < y ? x : y)
EW_CMP_ALL(equal, x == y)
EW_CMP(equal, b, uint8_t, uint8_t, EW_ID, (x != 0) == (y != 0))
EW_CMP_ALL(less, x < y)
EW_CMP_ALL(lessorequal, x <= y)
EW_CMP_ALL(greater, x > y)
EW_CMP_ALL(greaterorequal, x >= y)
EW_CMP(and, b, uint8_t, uint8_t, EW_ID, (x != 0) & (y != 0))
EW_CMP(or, b, uint8_t, uint8_t, EW_ID, (x != 0) | (y != 0))
EW_CMP(xor, b, uint8_t, uint8_t, EW_ID, (x != 0) ^ (y != 0))
/* PRelu: y is the slope. */
EW_BIN_FLT(prelu, x < 0 ? x * y : x)
EW_BIN(prelu, i32, int32_t, int32_t, EW_ID, (ew_t),
       x < 0 ? (ew_t)((uint64_t)x * (uint64_t)y) : x)
EW_BIN(prelu, i64, int64_t, int64_t, EW_ID, (ew_t),
       x < 0 ? (ew_t)((uint64_t)x * (uint64_t)y) : x)
EW_BIN(prelu, u32, uint32_t, uint32_t, EW_ID, (ew_t), ((void)y, x))
EW_BIN(prelu, u64, uint64_t, uint64_t, EW_ID, (ew_t), ((void)y, x))

/* Mod with fmod = 0 is Python's %: the remainder takes the divisor's sign.
 * Every signed width goes through int64 (the values fit).  x % -1 is 0
 * but INT_MIN % -1 overflows in C, hence the test; by zero gives 0 like
 * the integer division above. */
static int64_t ew_imod(int64_t x, int64_t y) {
  if (y == 0 || y == -1) return 0;
  int64_t r = x % y;
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
EW_BIN(mod, i8, int8_t, int64_t, EW_ID, (ew_t), ew_imod(x, y))
EW_BIN(mod, i16, int16_t, int64_t, EW_ID, (ew_t), ew_imod(x, y))
EW_BIN(mod, i32, int32_t, int64_t, EW_ID, (ew_t), ew_imod(x, y))
EW_BIN(mod, i64, int64_t, int64_t, EW_ID, (ew_t), ew_imod(x, y))
EW_BIN_UINT(mod, y == 0 ? 0 : x % y)
/* fmod = 1 is C's fmod: the remainder takes the dividend's sign, which
 * for integers is C's %. */
EW_BIN(fmod, f32, float, float, EW_ID, EW_ID, fmodf(x, y))
EW_BIN(fmod, f64, double, double, EW_ID, EW_ID, fmod(x, y))
EW_BIN(fmod, f16, uint16_t, float, EW_F16_LD, EW_F16_ST, fmodf(x, y))
EW_BIN(fmod, bf16, uint16_t, float, EW_BF16_LD, EW_BF16_ST, fmodf(x, y))
EW_BIN_SINT(fmod, y == 0 || y == -1 ? 0 : x % y)
EW_BIN_UINT(fmod, y == 0 ? 0 : x % y)
/* Shifts by the type's width or more give 0 (C leaves them undefined);
 * the shift happens in 64 bits so that narrow types never reach int's
 * sign bit. */
EW_BIN_UINT(shl, y >= sizeof(ew_t) * 8 ? 0 : (uint64_t)x << y)
EW_BIN_UINT(shr, y >= sizeof(ew_t) * 8 ? 0 : x >> y)
EW_BIN_SINT(bitwiseand, x & y)
EW_BIN_UINT(bitwiseand, x & y)
EW_BIN_SINT(bitwiseor, x | y)
EW_BIN_UINT(bitwiseor, x | y)
EW_BIN_SINT(bitwisexor, x ^ y)
EW_BIN_UINT(bitwisexor, x ^ y)

static void ew_equal_str(size_t n, const void *const *in,
                         const unsigned char *adv, void *op, void *ctx) {
  char *const *a = in[0], *const *b = in[1];
  uint8_t *o = op;
  (void)ctx;
  for (size_t i = 0; i < n; i++) {
    const char *x = a[adv[0] ? i : 0], *y = b[adv[1] ? i : 0];
    o[i] = strcmp(x ? x : "", y ? y : "") == 0;
  }
}

#define EW_TBL_CMP(name) EW_TBL_FLT(name), EW_TBL_SINT(name), EW_TBL_UINT(name)

static const ew_rowfn ew_add_tbl[EW_NT] = {EW_TBL_CMP(add)};
static const ew_rowfn ew_sub_tbl[EW_NT] = {EW_TBL_CMP(sub)};
static const ew_rowfn ew_mul_tbl[EW_NT] = {EW_TBL_CMP(mul)};
static const ew_rowfn ew_div_tbl[EW_NT] = {EW_TBL_CMP(div)};
static const ew_rowfn ew_max_tbl[EW_NT] = {EW_TBL_CMP(max)};
static const ew_rowfn ew_min_tbl[EW_NT] = {EW_TBL_CMP(min)};
static const ew_rowfn ew_sum_tbl[EW_NT] = {EW_TBL_FLT(add)};
static const ew_rowfn ew_equal_tbl[EW_NT] = {
    EW_TBL_CMP(equal), [EMBER_BOOL] = ew_equal_b,
    [EMBER_STRING] = ew_equal_str};
static const ew_rowfn ew_less_tbl[EW_NT] = {EW_TBL_CMP(less)};
static const ew_rowfn ew_lessorequal_tbl[EW_NT] = {EW_TBL_CMP(lessorequal)};
static const ew_rowfn ew_greater_tbl[EW_NT] = {EW_TBL_CMP(greater)};
static const ew_rowfn ew_greaterorequal_tbl[EW_NT] = {
    EW_TBL_CMP(greaterorequal)};
static const ew_rowfn ew_and_tbl[EW_NT] = {[EMBER_BOOL] = ew_and_b};
static const ew_rowfn ew_or_tbl[EW_NT] = {[EMBER_BOOL] = ew_or_b};
static const ew_rowfn ew_xor_tbl[EW_NT] = {[EMBER_BOOL] = ew_xor_b};
static const ew_rowfn ew_mod_tbl[EW_NT] = {EW_TBL_SINT(mod),
                                           EW_TBL_UINT(mod)};
static const ew_rowfn ew_fmod_tbl[EW_NT] = {EW_TBL_CMP(fmod)};
static const ew_rowfn ew_shl_tbl[EW_NT] = {EW_TBL_UINT(shl)};
static const ew_rowfn ew_shr_tbl[EW_NT] = {EW_TBL_UINT(shr)};
static const ew_rowfn ew_bitwiseand_tbl[EW_NT] = {EW_TBL_SINT(bitwiseand),
                                                  EW_TBL_UINT(bitwiseand)};
static const ew_rowfn ew_bitwiseor_tbl[EW_NT] = {EW_TBL_SINT(bitwiseor),
                                                 EW_TBL_UINT(bitwiseor)};
static const ew_rowfn ew_bitwisexor_tbl[EW_NT] = {EW_TBL_SINT(bitwisexor),
                                                  EW_TBL_UINT(bitwisexor)};
static const ew_rowfn ew_prelu_tbl[EW_NT] = {
    EW_TBL_FLT(prelu), [EMBER_INT32] = ew_prelu_i32,
    [EMBER_INT64] = ew_prelu_i64, [EMBER_UINT32] = ew_prelu_u32,
    [EMBER_UINT64] = ew_prelu_u64};

/* ------------------------------------------- legacy (opset < 7) broadcast */

/* Before opset 7, Add/Sub/Mul/Div/Pow and the comparisons broadcast only B
 * onto A, and only with broadcast=1: B's dims line up with A's from `axis`
 * (or with A's trailing dims), and A's shape is the result. */
typedef struct ew_legacy {
  bool on;
  bool has_axis;
  int64_t axis;
} ew_legacy;

static ember_status ew_legacy_init(emb_init_ctx *c) {
  if (c->node->opset >= 7) return EMBER_OK;
  int64_t bc, axis;
  ember_status st = emb_attr_int(c->node, "broadcast", 0, &bc, c->diag);
  if (!st) st = emb_attr_int(c->node, "axis", 0, &axis, c->diag);
  if (st || !bc) return st;
  ew_legacy *l = emb_op_state(c, sizeof *l);
  if (!l) return c->diag->status;
  l->on = true;
  l->has_axis = emb_node_attr(c->node, "axis") != NULL;
  l->axis = axis;
  c->node->state = l;
  return EMBER_OK;
}

/* First axis of A that B's first axis lines up with, or -1 if B cannot be
 * placed in A. */
static int ew_legacy_start(const ew_legacy *l, int ra, int rb) {
  int64_t s = ra - rb;
  if (l->has_axis) s = l->axis < 0 ? l->axis + ra : l->axis;
  if (rb > ra || s < 0 || s + rb > ra) return -1;
  return (int)s;
}

static ember_status ew_legacy_infer(emb_infer_ctx *c, const ew_legacy *l) {
  const emb_type *a = c->in[0], *b = c->in[1];
  if (a->kind && a->rank >= 0 && b->kind && b->rank >= 0) {
    int s = ew_legacy_start(l, a->rank, b->rank);
    if (s < 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "cannot broadcast B of rank %d onto A of rank %d "
                         "at axis %lld",
                         b->rank, a->rank, (long long)l->axis);
    for (int k = 0; k < b->rank; k++) {
      int64_t db = b->dims[k].v, da = a->dims[s + k].v;
      if (db >= 0 && db != 1 && da >= 0 && da != db)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "cannot broadcast B dimension %d (%lld) onto A "
                           "dimension %d (%lld)",
                           k, (long long)db, s + k, (long long)da);
    }
  }
  c->out[0] = *a;
  c->out[0].kind = EMBER_KIND_TENSOR;
  return EMBER_OK;
}

/* B's dims as seen by the broadcasting engine: A's rank, ones outside the
 * aligned range. */
static void ew_legacy_dims(const ew_legacy *l, const emb_tensor *a,
                           const emb_tensor *b, int64_t *dims) {
  int s = ew_legacy_start(l, a->rank, b->rank);
  for (int k = 0; k < a->rank; k++) dims[k] = 1;
  for (int k = 0; k < b->rank && s >= 0; k++) dims[s + k] = b->dims[k];
}

/* -------------------------------------------------------- binary ops */

static ember_status ew_bin_infer(emb_infer_ctx *c, const ew_rowfn *tbl,
                                 bool bool_out) {
  ember_status st = ew_want_input(c, 0);
  if (!st) st = ew_want_input(c, 1);
  if (!st) st = emb_infer_same_dtype(c, 0, 1);
  if (st) return st;
  int32_t dt = ew_dtype(c, 0) ? ew_dtype(c, 0) : ew_dtype(c, 1);
  if (dt && !EW_LOOKUP(tbl, dt))
    return ew_unsupported(c, ew_dtype(c, 0) ? 0 : 1);
  const ew_legacy *l = c->node->state;
  if (l && l->on)
    st = ew_legacy_infer(c, l);
  else
    st = emb_infer_broadcast(c, 2, c->in, &c->out[0]);
  if (!st && bool_out) c->out[0].dtype = EMBER_BOOL;
  return st;
}

static ember_status ew_bin_run(emb_run_ctx *c, const ew_rowfn *tbl) {
  const emb_tensor *a = emb_in_t(c, 0), *b = emb_in_t(c, 1);
  emb_tensor *o = emb_out_t(c, 0);
  ew_rowfn fn = EW_LOOKUP(tbl, a->dtype);
  if (!fn || b->dtype != a->dtype)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "element types %s and %s are not supported",
                       ember_dtype_name(a->dtype), ember_dtype_name(b->dtype));
  ew_opnd in[2] = {ew_opnd_of(a), ew_opnd_of(b)};
  int64_t bdims[EMB_MAX_RANK];
  const ew_legacy *l = c->node->state;
  if (l && l->on) {
    ew_legacy_dims(l, a, b, bdims);
    in[1].rank = a->rank;
    in[1].dims = bdims;
  }
  ew_iterate(c, false, 2, in, o->rank, o->dims, o->data,
             (size_t)emb_dtype_bits(o->dtype) / 8, fn, NULL);
  return EMBER_OK;
}

#define EW_BINARY_OP(sym, bool_out)                                        \
  static ember_status ew_##sym##_infer(emb_infer_ctx *c) {                 \
    return ew_bin_infer(c, ew_##sym##_tbl, bool_out);                      \
  }                                                                        \
  static ember_status ew_##sym##_run(emb_run_ctx *c) {                     \
    return ew_bin_run(c, ew_##sym##_tbl);                                  \
  }                                                                        \
  const emb_opdef emb_op_##sym = {2, 2, 1, 1, 0, ew_legacy_init,           \
                                  ew_##sym##_infer, ew_##sym##_run};

EW_BINARY_OP(add, false)
EW_BINARY_OP(sub, false)
EW_BINARY_OP(mul, false)
EW_BINARY_OP(div, false)
EW_BINARY_OP(equal, true)
EW_BINARY_OP(less, true)
EW_BINARY_OP(lessorequal, true)
EW_BINARY_OP(greater, true)
EW_BINARY_OP(greaterorequal, true)
EW_BINARY_OP(and, true)
EW_BINARY_OP(or, true)
EW_BINARY_OP(xor, true)
EW_BINARY_OP(bitwiseand, false)
EW_BINARY_OP(bitwiseor, false)
EW_BINARY_OP(bitwisexor, false)

/* Binary ops whose attributes pick the row table (Mod's fmod, BitShift's
 * direction).  Their state starts with the ew_legacy that ew_bin_infer and
 * ew_bin_run read (left off: both ops postdate opset 7). */
typedef struct ew_binsel {
  ew_legacy legacy;
  const ew_rowfn *tbl;
} ew_binsel;

static ember_status ew_binsel_new(emb_init_ctx *c, const ew_rowfn *tbl) {
  ew_binsel *s = emb_op_state(c, sizeof *s);
  if (!s) return c->diag->status;
  s->tbl = tbl;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status ew_binsel_infer(emb_infer_ctx *c) {
  const ew_binsel *s = c->node->state;
  return ew_bin_infer(c, s->tbl, false);
}

static ember_status ew_binsel_run(emb_run_ctx *c) {
  const ew_binsel *s = c->node->state;
  return ew_bin_run(c, s->tbl);
}

/* -------------------------------------------------------------- Mod */

static ember_status ew_mod_init(emb_init_ctx *c) {
  int64_t fm;
  ember_status st = emb_attr_int(c->node, "fmod", 0, &fm, c->diag);
  if (st) return st;
  if (fm != 0 && fm != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'fmod' must be 0 or 1, not %lld",
                       (long long)fm);
  return ew_binsel_new(c, fm ? ew_fmod_tbl : ew_mod_tbl);
}

/* Integer modulo (fmod = 0) has no meaning for floats; the spec requires
 * fmod = 1 for them.  Say so rather than "unsupported type". */
static ember_status ew_mod_infer(emb_infer_ctx *c) {
  const ew_binsel *s = c->node->state;
  for (int i = 0; i < 2 && s->tbl == ew_mod_tbl; i++)
    if (emb_dtype_is_float(ew_dtype(c, i)))
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "input %d is %s: floating-point Mod needs "
                         "attribute fmod=1",
                         i, ember_dtype_name(ew_dtype(c, i)));
  return ew_binsel_infer(c);
}

const emb_opdef emb_op_mod = {2, 2, 1, 1, 0, ew_mod_init, ew_mod_infer,
                              ew_binsel_run};

/* --------------------------------------------------------- BitShift */

static ember_status ew_bitshift_init(emb_init_ctx *c) {
  const char *dir;
  ember_status st = emb_attr_string(c->node, "direction", NULL, &dir,
                                    c->diag);
  if (st) return st;
  if (!dir)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "required attribute 'direction' is missing");
  if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'direction' must be \"LEFT\" or "
                       "\"RIGHT\", not \"%s\"",
                       dir);
  return ew_binsel_new(c, strcmp(dir, "LEFT") ? ew_shr_tbl : ew_shl_tbl);
}

const emb_opdef emb_op_bitshift = {2, 2, 1, 1, 0, ew_bitshift_init,
                                   ew_binsel_infer, ew_binsel_run};

/* -------------------------------------------------------------- Pow */

/* Exponentiation by squaring, wrapping like the other integer ops.  A
 * negative exponent truncates 1/x^-e toward zero (0 for 1/0 as well). */
static int64_t ew_ipow(int64_t x, int64_t e) {
  if (e < 0) return x == 1 ? 1 : x == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint64_t r = 1, b = (uint64_t)x;
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return (int64_t)r;
}

/* Base type x exponent type: the exponent arrives as the type named. */
EW_BINARY(pow, f32, float, float, float, float, EW_ID, EW_ID, EW_ID,
          powf(x, y))
EW_BINARY(pow, f64, double, double, double, double, EW_ID, EW_ID, EW_ID,
          pow(x, y))
EW_BINARY(pow, f16, uint16_t, float, uint16_t, float, EW_F16_LD, EW_ID,
          EW_F16_ST, powf(x, y))
EW_BINARY(pow, bf16, uint16_t, float, uint16_t, float, EW_BF16_LD, EW_ID,
          EW_BF16_ST, powf(x, y))
EW_BINARY(pow, i32_i, int32_t, int64_t, int32_t, int64_t, EW_ID, EW_ID,
          (ew_t), ew_ipow(x, y))
EW_BINARY(pow, i64_i, int64_t, int64_t, int64_t, int64_t, EW_ID, EW_ID,
          (ew_t), ew_ipow(x, y))
EW_BINARY(pow, i32_d, int32_t, double, int32_t, double, (double), EW_ID,
          EW_SAT, pow(x, y))
EW_BINARY(pow, i64_d, int64_t, double, int64_t, double, (double), EW_ID,
          EW_SAT, pow(x, y))

static const ew_rowfn ew_pow_tbl[EW_NT] = {
    [EMBER_FLOAT] = ew_pow_f32, [EMBER_DOUBLE] = ew_pow_f64,
    [EMBER_FLOAT16] = ew_pow_f16, [EMBER_BFLOAT16] = ew_pow_bf16,
    [EMBER_INT32] = ew_pow_i32_i, [EMBER_INT64] = ew_pow_i64_i};

/* The exponent type the kernel for base type bt wants, given the
 * exponent's own type et. */
static int32_t ew_pow_exp_type(int32_t bt, int32_t et) {
  switch (bt) {
    case EMBER_FLOAT: case EMBER_FLOAT16: case EMBER_BFLOAT16:
      return EMBER_FLOAT;
    case EMBER_DOUBLE: return EMBER_DOUBLE;
    default: return emb_dtype_is_float(et) ? EMBER_DOUBLE : EMBER_INT64;
  }
}

static ember_status ew_pow_infer(emb_infer_ctx *c) {
  ember_status st = ew_want_input(c, 0);
  if (!st) st = ew_want_input(c, 1);
  if (st) return st;
  int32_t bt = ew_dtype(c, 0), et = ew_dtype(c, 1);
  if (bt && !EW_LOOKUP(ew_pow_tbl, bt)) return ew_unsupported(c, 0);
  if (et && !emb_dtype_is_float(et) && !emb_dtype_is_int(et))
    return ew_unsupported(c, 1);
  if (c->node->opset < 12) {
    st = emb_infer_same_dtype(c, 0, 1);
    if (st) return st;
  }
  const ew_legacy *l = c->node->state;
  if (l && l->on) return ew_legacy_infer(c, l);
  st = emb_infer_broadcast(c, 2, c->in, &c->out[0]);
  if (!st) c->out[0].dtype = bt;
  return st;
}

static ember_status ew_pow_run(emb_run_ctx *c) {
  const emb_tensor *a = emb_in_t(c, 0), *b = emb_in_t(c, 1);
  emb_tensor *o = emb_out_t(c, 0);
  int32_t want = ew_pow_exp_type(a->dtype, b->dtype);
  ew_rowfn fn = EW_LOOKUP(ew_pow_tbl, a->dtype);
  if (want == EMBER_DOUBLE && a->dtype == EMBER_INT32) fn = ew_pow_i32_d;
  if (want == EMBER_DOUBLE && a->dtype == EMBER_INT64) fn = ew_pow_i64_d;
  if (!fn)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "base of element type %s is not supported",
                       ember_dtype_name(a->dtype));
  ew_opnd in[2] = {ew_opnd_of(a), ew_opnd_of(b)};
  if (b->dtype != want) {
    /* Exponents are usually a scalar; convert them once. */
    size_t n = emb_tensor_numel(b);
    emb_tensor conv = {.dtype = want};
    conv.data = emb_scratch(c, n ? n * 8 : 8);
    if (!conv.data) return c->diag->status;
    for (size_t i = 0; i < n; i++) {
      if (want == EMBER_INT64)
        emb_tensor_set_i64(&conv, i, emb_tensor_get_i64(b, i));
      else
        emb_tensor_set_f64(&conv, i, emb_tensor_get_f64(b, i));
    }
    in[1].data = conv.data;
    in[1].esize = (size_t)emb_dtype_bits(want) / 8;
  }
  int64_t bdims[EMB_MAX_RANK];
  const ew_legacy *l = c->node->state;
  if (l && l->on) {
    ew_legacy_dims(l, a, b, bdims);
    in[1].rank = a->rank;
    in[1].dims = bdims;
  }
  ew_iterate(c, true, 2, in, o->rank, o->dims, o->data,
             (size_t)emb_dtype_bits(o->dtype) / 8, fn, NULL);
  return EMBER_OK;
}

const emb_opdef emb_op_pow = {2, 2, 1, 1, 0, ew_legacy_init, ew_pow_infer,
                              ew_pow_run};

/* ------------------------------------------------------------ PRelu */

/* Opset 7 made the slope broadcast unidirectionally to X.  Before that a
 * slope of C values applied per channel (axis 1), as Caffe2 and PyTorch
 * exporters assumed. */
static bool ew_prelu_channelwise(const emb_node *n, int xrank, int srank,
                                 int64_t xc, int64_t sc) {
  return n->opset < 7 && srank == 1 && xrank >= 2 && sc != 1 && sc == xc;
}

static ember_status ew_prelu_infer(emb_infer_ctx *c) {
  ember_status st = ew_want_input(c, 0);
  if (!st) st = ew_want_input(c, 1);
  if (!st) st = emb_infer_same_dtype(c, 0, 1);
  if (st) return st;
  int32_t dt = ew_dtype(c, 0);
  if (dt && !EW_LOOKUP(ew_prelu_tbl, dt)) return ew_unsupported(c, 0);
  const emb_type *x = c->in[0], *s = c->in[1];
  if (x->kind && x->rank >= 0 && s->kind && s->rank >= 0 &&
      !(x->rank >= 2 && s->rank == 1 &&
        ew_prelu_channelwise(c->node, x->rank, s->rank, x->dims[1].v,
                             s->dims[0].v))) {
    if (s->rank > x->rank)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "slope of rank %d does not broadcast to X of rank "
                         "%d",
                         s->rank, x->rank);
    for (int k = 0; k < s->rank; k++) {
      int64_t ds = s->dims[k].v, dx = x->dims[x->rank - s->rank + k].v;
      if (ds >= 0 && ds != 1 && dx >= 0 && ds != dx)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "slope dimension %d (%lld) does not broadcast to "
                           "X's %lld",
                           k, (long long)ds, (long long)dx);
    }
  }
  return emb_infer_same(c);
}

static ember_status ew_prelu_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0), *s = emb_in_t(c, 1);
  emb_tensor *o = emb_out_t(c, 0);
  ew_rowfn fn = EW_LOOKUP(ew_prelu_tbl, x->dtype);
  if (!fn || s->dtype != x->dtype)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "element types %s and %s are not supported",
                       ember_dtype_name(x->dtype), ember_dtype_name(s->dtype));
  ew_opnd in[2] = {ew_opnd_of(x), ew_opnd_of(s)};
  int64_t sdims[EMB_MAX_RANK];
  if (x->rank >= 2 && ew_prelu_channelwise(c->node, x->rank, s->rank,
                                           x->dims[1], s->dims[0])) {
    for (int k = 0; k < x->rank; k++) sdims[k] = 1;
    sdims[1] = s->dims[0];
    in[1].rank = x->rank;
    in[1].dims = sdims;
  }
  ew_iterate(c, false, 2, in, o->rank, o->dims, o->data,
             (size_t)emb_dtype_bits(o->dtype) / 8, fn, NULL);
  return EMBER_OK;
}

const emb_opdef emb_op_prelu = {2, 2, 1, 1, 0, NULL, ew_prelu_infer,
                                ew_prelu_run};

/* ------------------------------------------------- Max / Min / Sum */

/* Copy rows by element size (broadcast of a single input to the output,
 * Where's selections). */
#define EW_COPY(sz, T)                                                     \
  static void ew_copy_##sz(size_t n, const void *const *in,                \
                           const unsigned char *adv, void *op, void *ctx) { \
    const T *x = in[0];                                                    \
    T *o = op;                                                             \
    (void)ctx;                                                             \
    if (adv[0])                                                            \
      memmove(o, x, n * sizeof(T));                                        \
    else                                                                   \
      for (size_t i = 0; i < n; i++) o[i] = x[0];                          \
  }
typedef struct ew_b128 {
  uint64_t w[2];
} ew_b128;
EW_COPY(1, uint8_t)
EW_COPY(2, uint16_t)
EW_COPY(4, uint32_t)
EW_COPY(8, uint64_t)
EW_COPY(16, ew_b128)

static ew_rowfn ew_copy_fn(size_t esize) {
  switch (esize) {
    case 1: return ew_copy_1;
    case 2: return ew_copy_2;
    case 4: return ew_copy_4;
    case 8: return ew_copy_8;
    case 16: return ew_copy_16;
    default: return NULL;
  }
}

static ember_status ew_var_infer(emb_infer_ctx *c, const ew_rowfn *tbl) {
  ember_status st = EMBER_OK;
  for (int i = 0; i < c->n_in && !st; i++) st = ew_want_input(c, i);
  if (!st) st = emb_infer_same_dtype(c, 0, c->n_in - 1);
  if (st) return st;
  for (int i = 0; i < c->n_in; i++)
    if (ew_dtype(c, i) && !EW_LOOKUP(tbl, ew_dtype(c, i)))
      return ew_unsupported(c, i);
  return emb_infer_broadcast(c, c->n_in, c->in, &c->out[0]);
}

/* Fold the inputs pairwise into the output: o = in0 op in1, then
 * o = o op in_k.  The output has the full broadcast shape, so from the
 * second step on the first operand needs no broadcasting. */
static ember_status ew_var_run(emb_run_ctx *c, const ew_rowfn *tbl) {
  emb_tensor *o = emb_out_t(c, 0);
  const emb_tensor *a = emb_in_t(c, 0);
  size_t oes = (size_t)emb_dtype_bits(o->dtype) / 8;
  ew_rowfn fn = EW_LOOKUP(tbl, a->dtype);
  if (!fn)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(a->dtype));
  for (int i = 1; i < c->n_in; i++)
    if (!emb_in_t(c, i) || emb_in_t(c, i)->dtype != a->dtype)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d is missing or not of element type %s", i,
                         ember_dtype_name(a->dtype));
  if (c->n_in == 1) {
    ew_opnd in = ew_opnd_of(a);
    ew_iterate(c, false, 1, &in, o->rank, o->dims, o->data, oes,
               ew_copy_fn(oes), NULL);
    return EMBER_OK;
  }
  ew_opnd in[2] = {ew_opnd_of(a), ew_opnd_of(emb_in_t(c, 1))};
  ew_iterate(c, false, 2, in, o->rank, o->dims, o->data, oes, fn, NULL);
  for (int i = 2; i < c->n_in; i++) {
    in[0] = ew_opnd_of(o);
    in[1] = ew_opnd_of(emb_in_t(c, i));
    ew_iterate(c, false, 2, in, o->rank, o->dims, o->data, oes, fn, NULL);
  }
  return EMBER_OK;
}

#define EW_VARIADIC_OP(sym)                                                \
  static ember_status ew_##sym##_var_infer(emb_infer_ctx *c) {             \
    return ew_var_infer(c, ew_##sym##_tbl);                                \
  }                                                                        \
  static ember_status ew_##sym##_var_run(emb_run_ctx *c) {                 \
    return ew_var_run(c, ew_##sym##_tbl);                                  \
  }                                                                        \
  const emb_opdef emb_op_##sym = {1, -1, 1, 1, 0, NULL,                    \
                                  ew_##sym##_var_infer, ew_##sym##_var_run};

EW_VARIADIC_OP(max)
EW_VARIADIC_OP(min)
EW_VARIADIC_OP(sum)

/* Mean = Sum, then a division by the input count. */
EW_UN_FLT(scale, x * p->alpha, x * (double)p->alpha)
static const ew_unfn ew_scale_tbl[EW_NT] = {EW_TBL_FLT(scale)};

static ember_status ew_mean_infer(emb_infer_ctx *c) {
  return ew_var_infer(c, ew_sum_tbl);
}

static ember_status ew_mean_run(emb_run_ctx *c) {
  ember_status st = ew_var_run(c, ew_sum_tbl);
  if (st) return st;
  emb_tensor *o = emb_out_t(c, 0);
  ew_prm p = {.alpha = 1.0f / (float)c->n_in};
  size_t n = emb_tensor_numel(o);
  if (n) ew_scale_tbl[o->dtype](n, o->data, o->data, &p);
  return EMBER_OK;
}

const emb_opdef emb_op_mean = {1, -1, 1, 1, 0, NULL, ew_mean_infer,
                               ew_mean_run};

/* ------------------------------------------------------------ Where */

/* Row function for Where: in[0] is the bool condition. */
#define EW_WHERE(sz, T)                                                    \
  static void ew_where_##sz(size_t n, const void *const *in,               \
                            const unsigned char *adv, void *op,            \
                            void *ctx) {                                   \
    const uint8_t *cd = in[0];                                             \
    const T *x = in[1], *y = in[2];                                        \
    T *o = op;                                                             \
    const size_t sc = adv[0], sx = adv[1], sy = adv[2];                    \
    (void)ctx;                                                             \
    for (size_t i = 0; i < n; i++) o[i] = cd[i * sc] ? x[i * sx] : y[i * sy]; \
  }
EW_WHERE(1, uint8_t)
EW_WHERE(2, uint16_t)
EW_WHERE(4, uint32_t)
EW_WHERE(8, uint64_t)
EW_WHERE(16, ew_b128)

/* Strings are owned by the output tensor: copy them; ctx flags OOM. */
static void ew_where_str(size_t n, const void *const *in,
                         const unsigned char *adv, void *op, void *ctx) {
  const uint8_t *cd = in[0];
  char *const *x = in[1], *const *y = in[2];
  char **o = op;
  bool *oom = ctx;
  for (size_t i = 0; i < n; i++) {
    const char *s = cd[adv[0] ? i : 0] ? x[adv[1] ? i : 0] : y[adv[2] ? i : 0];
    char *d = strdup(s ? s : "");
    if (!d) {
      *oom = true;
      continue;
    }
    free(o[i]);
    o[i] = d;
  }
}

static ember_status ew_where_infer(emb_infer_ctx *c) {
  ember_status st = EMBER_OK;
  for (int i = 0; i < 3 && !st; i++) st = ew_want_input(c, i);
  if (!st) st = emb_infer_same_dtype(c, 1, 2);
  if (st) return st;
  int32_t ct = ew_dtype(c, 0);
  if (ct && ct != EMBER_BOOL)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "condition must be bool, not %s",
                       ember_dtype_name(ct));
  int32_t dt = ew_dtype(c, 1) ? ew_dtype(c, 1) : ew_dtype(c, 2);
  if (dt && dt != EMBER_STRING &&
      !ew_copy_fn((size_t)emb_dtype_bits(dt) / 8))
    return ew_unsupported(c, ew_dtype(c, 1) ? 1 : 2);
  st = emb_infer_broadcast(c, 3, c->in, &c->out[0]);
  if (!st) c->out[0].dtype = dt;
  return st;
}

static ember_status ew_where_run(emb_run_ctx *c) {
  const emb_tensor *cd = emb_in_t(c, 0), *x = emb_in_t(c, 1),
                   *y = emb_in_t(c, 2);
  emb_tensor *o = emb_out_t(c, 0);
  if (cd->dtype != EMBER_BOOL || x->dtype != y->dtype)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "condition must be bool and X, Y of one type");
  size_t es = (size_t)emb_dtype_bits(x->dtype) / 8;
  ew_rowfn fn = NULL;
  switch (es) {
    case 1: fn = ew_where_1; break;
    case 2: fn = ew_where_2; break;
    case 4: fn = ew_where_4; break;
    case 8: fn = ew_where_8; break;
    case 16: fn = ew_where_16; break;
    default: break;
  }
  if (x->dtype == EMBER_STRING) fn = ew_where_str;
  if (!fn || (emb_dtype_bits(x->dtype) % 8))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "element type %s is not supported",
                       ember_dtype_name(x->dtype));
  ew_opnd in[3] = {ew_opnd_of(cd), ew_opnd_of(x), ew_opnd_of(y)};
  bool oom = false;
  /* Strings allocate and report through ctx: those run inline. */
  ew_iterate(x->dtype == EMBER_STRING ? NULL : c, false, 3, in, o->rank,
             o->dims, o->data, es, fn, &oom);
  if (oom)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory copying strings");
  return EMBER_OK;
}

const emb_opdef emb_op_where = {3, 3, 1, 1, 0, NULL, ew_where_infer,
                                ew_where_run};

/* --------------------------------------------------------- Identity */

/* Identity passes any value through: tensors, sequences and optionals
 * (absent ones included), so it builds its output itself. */
static ember_status ew_identity_infer(emb_infer_ctx *c) {
  if (c->n_in < 1 || !c->in[0])
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "required input 0 is missing");
  c->out[0] = *c->in[0];
  return EMBER_OK;
}

static ember_status ew_identity_run(emb_run_ctx *c) {
  emb_value *dst = c->out[0];
  const emb_value *src = c->in[0];
  emb_value tmp;
  if (!dst) return EMBER_OK;
  if (!src)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "required input 0 is missing");
  ember_status st = emb_value_copy(&tmp, src, c->diag);
  if (st) return st;
  emb_value_clear(dst);
  *dst = tmp;
  return EMBER_OK;
}

const emb_opdef emb_op_identity = {1, 1, 1, 1, EMB_OP_OWN_OUTPUTS, NULL,
                                   ew_identity_infer, ew_identity_run};

/* ---------------------------------------------------------- BitCast */

/* The same bytes under another element type of the same width, so the
 * shape (and, for the packed sub-byte types, the byte count) is the
 * input's.  Tensors are stored little endian, as the spec requires. */
typedef struct ew_bitcast {
  int32_t to;
} ew_bitcast;

static ember_status ew_bitcast_init(emb_init_ctx *c) {
  if (!emb_node_attr(c->node, "to"))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "required attribute 'to' is missing");
  int64_t to;
  ember_status st = emb_attr_int(c->node, "to", 0, &to, c->diag);
  if (st) return st;
  if (to <= 0 || to > INT32_MAX || !emb_dtype_valid((int32_t)to) ||
      to == EMBER_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute 'to' (%lld) is not a non-string element "
                       "type",
                       (long long)to);
  ew_bitcast *b = emb_op_state(c, sizeof *b);
  if (!b) return c->diag->status;
  b->to = (int32_t)to;
  c->node->state = b;
  return EMBER_OK;
}

static ember_status ew_bitcast_infer(emb_infer_ctx *c) {
  const ew_bitcast *b = c->node->state;
  ember_status st = ew_want_input(c, 0);
  if (st) return st;
  int32_t dt = ew_dtype(c, 0);
  if (dt == EMBER_STRING)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "input 0 is a string tensor, which has no bit "
                       "pattern to reinterpret");
  if (dt && emb_dtype_bits(dt) != emb_dtype_bits(b->to))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "cannot reinterpret %s (%d bits) as %s (%d bits): "
                       "the widths must be equal",
                       ember_dtype_name(dt), emb_dtype_bits(dt),
                       ember_dtype_name(b->to), emb_dtype_bits(b->to));
  st = emb_infer_same(c);
  c->out[0].dtype = b->to;
  return st;
}

static ember_status ew_bitcast_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  if (!y) return EMBER_OK;
  if (y->nbytes != x->nbytes)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "output holds %zu bytes, input %zu", y->nbytes,
                       x->nbytes);
  if (y->data != x->data && x->nbytes) memmove(y->data, x->data, x->nbytes);
  return EMBER_OK;
}

const emb_opdef emb_op_bitcast = {1, 1, 1, 1, 0, ew_bitcast_init,
                                  ew_bitcast_infer, ew_bitcast_run};

/* ---------------------------------------------------------- Dropout */

/* Inference mode: output = input, mask all true.  Training mode (the
 * training_mode input, opset 12 on) with a nonzero ratio drops each
 * element with probability `ratio` and scales the kept ones by
 * 1 / (1 - ratio), drawing from Ember's generator (rng.h) keyed by the
 * `seed` attribute when given.  Ratio 1, outside the spec's [0, 1), is
 * taken as its limit: everything dropped, output 0 and mask false (rather
 * than 0 * inf = NaN).  Before opset 7 `is_test` = 0 nominally meant
 * training, but exported models are run for inference everywhere, so it
 * is ignored.  The node is never folded at load: an unseeded training
 * Dropout on constants must still draw anew at every run. */

/* Whether the node would really drop elements: training mode with a
 * nonzero ratio (0.5 when the ratio input is omitted). */
static bool ew_dropout_training(const emb_node *n, const emb_tensor *ratio,
                                const emb_tensor *tm) {
  if (n->opset < 12 || !tm || emb_tensor_numel(tm) != 1 ||
      !emb_tensor_get_i64(tm, 0))
    return false;
  return !ratio || emb_tensor_numel(ratio) != 1 ||
         emb_tensor_get_f64(ratio, 0) != 0.0;
}

static ember_status ew_dropout_infer(emb_infer_ctx *c) {
  ember_status st = ew_want_input(c, 0);
  if (st) return st;
  int32_t dt = ew_dtype(c, 0);
  if (dt && (dt == EMBER_STRING || emb_dtype_bits(dt) % 8))
    return ew_unsupported(c, 0);
  if (c->node->opset >= 12) {
    for (int i = 1; i < 3 && !st; i++) {
      st = ew_want_tensor(c, i);
      if (!st) st = ew_want_scalar(c, i, i == 1 ? "ratio" : "training_mode");
    }
    if (st) return st;
  }
  st = emb_infer_same(c);
  if (!st && c->n_out > 1 && c->in[0]) {
    c->out[1] = *c->in[0];
    c->out[1].kind = EMBER_KIND_TENSOR;
    /* The mask was of the data's type until opset 10. */
    if (c->node->opset >= 10) c->out[1].dtype = EMBER_BOOL;
  }
  return st;
}

typedef struct ew_drop_job {
  emb_rng rng;
  const emb_tensor *x;
  emb_tensor *y;       /* may be x's data: each element is read first */
  unsigned char *mask; /* bool, or NULL                               */
  double ratio;
  double scale;        /* 1 / (1 - ratio); unused when ratio is 1     */
  size_t n;
} ew_drop_job;

#define EW_DROP_TASK 8192
#define EW_DROP_BATCH 256

static void ew_dropout_task(void *arg, size_t task, int thread) {
  (void)thread;
  const ew_drop_job *j = arg;
  size_t lo = task * EW_DROP_TASK;
  size_t hi = lo + EW_DROP_TASK < j->n ? lo + EW_DROP_TASK : j->n;
  float scalef = (float)j->scale;
  double u[EW_DROP_BATCH];
  for (size_t off = lo; off < hi; off += EW_DROP_BATCH) {
    size_t m = hi - off < EW_DROP_BATCH ? hi - off : EW_DROP_BATCH;
    emb_rng_uniform(&j->rng, off, m, u);
    for (size_t k = 0; k < m; k++) {
      size_t i = off + k;
      bool keep = u[k] >= j->ratio; /* P(keep) = 1 - ratio */
      switch (j->x->dtype) {
        case EMBER_FLOAT:
          ((float *)j->y->data)[i] =
              keep ? ((const float *)j->x->data)[i] * scalef : 0.0f;
          break;
        case EMBER_DOUBLE:
          ((double *)j->y->data)[i] =
              keep ? ((const double *)j->x->data)[i] * j->scale : 0.0;
          break;
        default: /* float16, bfloat16: computed in float */
          emb_tensor_set_f64(
              j->y, i,
              keep ? (double)((float)emb_tensor_get_f64(j->x, i) * scalef)
                   : 0.0);
          break;
      }
      if (j->mask) j->mask[i] = keep;
    }
  }
}

static ember_status ew_dropout_train(emb_run_ctx *c, const emb_tensor *x,
                                     emb_tensor *y, emb_tensor *mask) {
  const emb_tensor *rt = emb_in_t(c, 1);
  if (rt && emb_tensor_numel(rt) != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "ratio (input 1) must hold one value");
  double ratio = rt ? emb_tensor_get_f64(rt, 0) : 0.5;
  if (!(ratio >= 0.0 && ratio <= 1.0))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "ratio %g is outside [0, 1]", ratio);
  if (!emb_dtype_is_float(x->dtype))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "training mode needs float16, bfloat16, float or "
                       "double data, not %s",
                       ember_dtype_name(x->dtype));
  if (mask && mask->dtype != EMBER_BOOL)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "the mask must be bool, not %s",
                       ember_dtype_name(mask->dtype));
  emb_tensor scratch_y;
  if (!y) { /* the mask alone was asked for: draw into a scratch copy */
    scratch_y = *x;
    scratch_y.owned = false;
    scratch_y.data = emb_scratch(c, x->nbytes ? x->nbytes : 1);
    if (!scratch_y.data) return EMBER_ERR_OUT_OF_MEMORY;
    y = &scratch_y;
  }
  ew_drop_job j;
  emb_rng_for_node(&j.rng, c->node, c->session);
  j.x = x;
  j.y = y;
  j.mask = mask ? mask->data : NULL;
  j.ratio = ratio;
  j.scale = ratio < 1.0 ? 1.0 / (1.0 - ratio) : 0.0;
  j.n = emb_tensor_numel(x);
  if (j.n)
    emb_parallel_for(c, (j.n + EW_DROP_TASK - 1) / EW_DROP_TASK,
                     ew_dropout_task, &j);
  return EMBER_OK;
}

static ember_status ew_dropout_run(emb_run_ctx *c) {
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0), *mask = emb_out_t(c, 1);
  if (ew_dropout_training(c->node, emb_in_t(c, 1), emb_in_t(c, 2)))
    return ew_dropout_train(c, x, y, mask);
  if (y && y->data != x->data && x->nbytes) {
    memmove(y->data, x->data, x->nbytes);
  }
  if (mask) {
    size_t n = emb_tensor_numel(mask);
    if (mask->dtype == EMBER_BOOL)
      memset(mask->data, 1, n);
    else
      for (size_t i = 0; i < n; i++) emb_tensor_set_f64(mask, i, 1.0);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_dropout = {1, 3, 1, 2, EMB_OP_NO_FOLD, NULL,
                                  ew_dropout_infer, ew_dropout_run};
