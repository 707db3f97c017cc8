/*
 * Softmax and LogSoftmax.  Before opset 13 the input is coerced to 2-D at
 * `axis` (default 1) and normalised over the flattened trailing block;
 * from opset 13 it is normalised along the single axis `axis` (default
 * -1).  Both become "outer x len x inner" loops: max, then the sum of
 * exp(x - max) (accumulated in double), then the result, so large inputs
 * do not overflow.  float32 and float64 directly; float16 and bfloat16
 * through float32 scratch.
 */
#include <math.h>

#include "ops/f32cvt.h"
#include "ops/op.h"

static const int32_t sm_types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                   EMBER_BFLOAT16, 0};

typedef struct sm_state {
  int64_t axis;
  bool coerce; /* opset < 13: 2-D view at axis */
  bool log;
} sm_state;

static ember_status sm_init_common(emb_init_ctx *c, bool take_log) {
  sm_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->coerce = c->node->opset < 13;
  s->log = take_log;
  ember_status st =
      emb_attr_int(c->node, "axis", s->coerce ? 1 : -1, &s->axis, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status softmax_init(emb_init_ctx *c) {
  return sm_init_common(c, false);
}
static ember_status logsoftmax_init(emb_init_ctx *c) {
  return sm_init_common(c, true);
}

/* The axis in [0, rank] (coerce) or [0, rank). */
static ember_status sm_axis(const emb_node *n, const sm_state *s, int rank,
                            int *axis, emb_diag *d) {
  if (s->coerce) {
    /* The 2-D view allows the split after the last axis too. */
    if (s->axis < -(int64_t)rank || s->axis > rank)
      return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                         "axis %lld out of range for rank %d",
                         (long long)s->axis, rank);
    *axis = (int)(s->axis < 0 ? s->axis + rank : s->axis);
    return EMBER_OK;
  }
  return emb_axis(n, s->axis, rank, axis, d);
}

static ember_status sm_infer(emb_infer_ctx *c) {
  const sm_state *s = c->node->state;
  ember_status st = emb_infer_check_dtype(c, 0, sm_types);
  if (st) return st;
  const emb_type *x = c->in[0];
  if (x && x->kind == EMBER_KIND_TENSOR && x->rank >= 0) {
    int axis;
    if ((st = sm_axis(c->node, s, x->rank, &axis, c->diag))) return st;
  }
  return emb_infer_same(c);
}

#define EMB_SOFTMAX(NAME, T, EXP, LOG)                                        \
  static void NAME(const T *x, T *y, size_t outer, size_t len, size_t inner,  \
                   bool take_log, T *mx, double *sum) {                       \
    for (size_t o = 0; o < outer; o++) {                                      \
      const T *xo = x + o * len * inner;                                      \
      T *yo = y + o * len * inner;                                            \
      for (size_t i = 0; i < inner; i++) {                                    \
        mx[i] = xo[i];                                                        \
        sum[i] = 0.0;                                                         \
      }                                                                       \
      for (size_t l = 1; l < len; l++)                                        \
        for (size_t i = 0; i < inner; i++)                                    \
          if (xo[l * inner + i] > mx[i]) mx[i] = xo[l * inner + i];           \
      for (size_t l = 0; l < len; l++)                                        \
        for (size_t i = 0; i < inner; i++) {                                  \
          T e = EXP(xo[l * inner + i] - mx[i]);                               \
          sum[i] += (double)e;                                                \
          if (!take_log) yo[l * inner + i] = e;                               \
        }                                                                     \
      if (take_log) {                                                         \
        for (size_t i = 0; i < inner; i++) sum[i] = (double)LOG((T)sum[i]);   \
        for (size_t l = 0; l < len; l++)                                      \
          for (size_t i = 0; i < inner; i++)                                  \
            yo[l * inner + i] = (T)((xo[l * inner + i] - mx[i]) - (T)sum[i]); \
      } else {                                                                \
        for (size_t i = 0; i < inner; i++) sum[i] = 1.0 / sum[i];             \
        for (size_t l = 0; l < len; l++)                                      \
          for (size_t i = 0; i < inner; i++)                                  \
            yo[l * inner + i] = (T)(yo[l * inner + i] * sum[i]);              \
      }                                                                       \
    }                                                                         \
  }
EMB_SOFTMAX(softmax_f32, float, expf, logf)
EMB_SOFTMAX(softmax_f64, double, exp, log)

static ember_status sm_run(emb_run_ctx *c) {
  const sm_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0);
  emb_tensor *y = emb_out_t(c, 0);
  int axis;
  ember_status st = sm_axis(c->node, s, x->rank, &axis, c->diag);
  if (st) return st;
  size_t outer = 1, len = 1, inner = 1;
  for (int i = 0; i < x->rank; i++) {
    size_t d = (size_t)x->dims[i];
    if (i < axis)
      outer *= d;
    else if (i == axis || s->coerce)
      len *= d;
    else
      inner *= d;
  }
  size_t num = outer * len * inner;
  if (num == 0) return EMBER_OK;
  bool half = emb_is_half(x->dtype);
  size_t es = x->dtype == EMBER_DOUBLE ? 8 : 4;
  size_t aux_b = emb_align64(inner * es) + emb_align64(inner * 8);
  size_t half_b = half ? emb_align64(num * 4) : 0;
  char *mem = emb_scratch(c, aux_b + half_b);
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  double *sum = (double *)(mem + emb_align64(inner * es));
  if (x->dtype == EMBER_DOUBLE) {
    softmax_f64(x->data, y->data, outer, len, inner, s->log, (double *)mem,
                sum);
  } else if (!half) {
    softmax_f32(x->data, y->data, outer, len, inner, s->log, (float *)mem, sum);
  } else {
    float *buf = (float *)(mem + aux_b);
    emb_cvt_to_f32(x->dtype, x->data, num, buf);
    softmax_f32(buf, buf, outer, len, inner, s->log, (float *)mem, sum);
    emb_cvt_from_f32(x->dtype, buf, num, y->data);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_softmax = {1,        1,     1, 1, 0, softmax_init,
                                  sm_infer, sm_run};
const emb_opdef emb_op_logsoftmax = {1,        1,     1, 1, 0, logsoftmax_init,
                                     sm_infer, sm_run};
