/*
 * The classification losses: NegativeLogLikelihoodLoss (input already
 * holds log-probabilities) and SoftmaxCrossEntropyLoss (log-softmax of the
 * scores over the class axis first, optionally returned as `log_prob`).
 * Both take scores [N, C, d1..dk] and integer labels [N, d1..dk], an
 * optional per-class weight vector and an optional ignore_index, and
 * reduce with none / sum / mean, where mean divides by the summed weights
 * of the samples that count (their number when no weight is given), so
 * ignored samples leave numerator and denominator alike.  The class axis
 * is strided by D = d1 * .. * dk, so every sample is one strided walk.
 * Sums are accumulated in double.  float32 and float64 are computed
 * directly; float16 and bfloat16 through float32 scratch.  The opset 12,
 * 13 and 22 forms differ only in the types they admit.
 */
#include <math.h>
#include <string.h>

#include "ops/f32cvt.h"
#include "ops/op.h"

static const int32_t loss_types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                     EMBER_BFLOAT16, 0};
static const int32_t label_types[] = {EMBER_INT32, EMBER_INT64, 0};

enum { RED_NONE, RED_SUM, RED_MEAN };

typedef struct loss_state {
  int reduction;
  bool has_ii;
  int64_t ii;
  bool softmax; /* SoftmaxCrossEntropyLoss */
} loss_state;

static ember_status loss_init_common(emb_init_ctx *c, bool softmax) {
  loss_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->softmax = softmax;
  const char *red;
  ember_status st =
      emb_attr_string(c->node, "reduction", "mean", &red, c->diag);
  if (st) return st;
  if (!strcmp(red, "none"))
    s->reduction = RED_NONE;
  else if (!strcmp(red, "sum"))
    s->reduction = RED_SUM;
  else if (!strcmp(red, "mean"))
    s->reduction = RED_MEAN;
  else
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "reduction '%s' is not one of none, sum, mean", red);
  s->has_ii = emb_node_attr(c->node, "ignore_index") != NULL;
  if ((st = emb_attr_int(c->node, "ignore_index", 0, &s->ii, c->diag)))
    return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status nll_init(emb_init_ctx *c) {
  return loss_init_common(c, false);
}
static ember_status sce_init(emb_init_ctx *c) {
  return loss_init_common(c, true);
}

/* Two dims that must agree: fail when both are known and differ. */
static ember_status dim_agree(emb_infer_ctx *c, emb_dim a, emb_dim b,
                              const char *what) {
  if (a.v >= 0 && b.v >= 0 && a.v != b.v)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "%s: %lld does not match %lld", what, (long long)b.v,
                       (long long)a.v);
  return EMBER_OK;
}

static ember_status loss_infer(emb_infer_ctx *c) {
  const loss_state *s = c->node->state;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, loss_types)) ||
      (st = emb_infer_check_dtype(c, 1, label_types)) ||
      (st = emb_infer_check_dtype(c, 2, loss_types)))
    return st;
  if (c->n_in > 2 && c->in[0] && c->in[2] && c->in[0]->dtype &&
      c->in[2]->dtype && c->in[0]->dtype != c->in[2]->dtype)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "weights have element type %s but the scores have %s",
                       ember_dtype_name(c->in[2]->dtype),
                       ember_dtype_name(c->in[0]->dtype));
  const emb_type *x = c->in[0], *y = c->in[1];
  const emb_type *w = c->n_in > 2 ? c->in[2] : NULL;
  int32_t dtype = x ? x->dtype : 0;
  bool xr = x && x->kind == EMBER_KIND_TENSOR && x->rank >= 0;
  bool yr = y && y->kind == EMBER_KIND_TENSOR && y->rank >= 0;
  if (xr && x->rank < 2)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "scores must have rank >= 2 ([N, C, ...]), not %d",
                       x->rank);
  if (xr && yr) {
    if (y->rank != x->rank - 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "labels have rank %d, expected %d (the scores' rank "
                         "without the class axis)",
                         y->rank, x->rank - 1);
    if ((st = dim_agree(c, x->dims[0], y->dims[0], "labels dimension 0")))
      return st;
    for (int k = 1; k < y->rank; k++)
      if ((st = dim_agree(c, x->dims[k + 1], y->dims[k], "labels dimension")))
        return st;
  }
  if (w && w->kind == EMBER_KIND_TENSOR && w->rank >= 0) {
    if (w->rank != 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "weights must have rank 1, not %d", w->rank);
    if (xr && (st = dim_agree(c, x->dims[1], w->dims[0],
                              "weights length vs. the class count")))
      return st;
  }
  /* Output 0: the per-sample loss shape, or a scalar. */
  if (s->reduction != RED_NONE) {
    emb_type_tensor(&c->out[0], dtype, 0, NULL);
  } else if (yr) {
    c->out[0] = *y;
    c->out[0].dtype = dtype;
  } else if (xr) {
    emb_type_tensor(&c->out[0], dtype, x->rank - 1, NULL);
    c->out[0].dims[0] = x->dims[0];
    for (int k = 2; k < x->rank; k++) c->out[0].dims[k - 1] = x->dims[k];
  } else {
    emb_type_unknown(&c->out[0]);
    c->out[0].kind = EMBER_KIND_TENSOR;
    c->out[0].dtype = dtype;
  }
  if (c->n_out > 1) {
    if (x) {
      c->out[1] = *x;
    } else {
      emb_type_unknown(&c->out[1]);
      c->out[1].kind = EMBER_KIND_TENSOR;
    }
  }
  return EMBER_OK;
}

static int64_t label_at(const void *labels, bool l64, size_t i) {
  return l64 ? ((const int64_t *)labels)[i]
             : (int64_t)((const int32_t *)labels)[i];
}

/* The loss of N x D samples of C classes (class stride D).  lp receives
 * the log-softmax when `softmax` (else it is unused and x holds log
 * probabilities).  out gets N*D values (none) or one.  Returns false and
 * sets *bad to the offending label when one is out of [0, C). */
#define EMB_LOSS(NAME, T, EXP)                                               \
  static bool NAME(const T *x, const void *labels, bool l64, const T *w,     \
                   T *lp, T *out, size_t N, size_t C, size_t D,              \
                   const loss_state *s, int64_t *bad) {                      \
    if (s->softmax && C) {                                                   \
      for (size_t n = 0; n < N; n++)                                         \
        for (size_t d = 0; d < D; d++) {                                     \
          const T *xs = x + n * C * D + d;                                   \
          T *ls = lp + n * C * D + d;                                        \
          T mx = xs[0];                                                      \
          for (size_t k = 1; k < C; k++)                                     \
            if (xs[k * D] > mx) mx = xs[k * D];                              \
          double sum = 0.0;                                                  \
          for (size_t k = 0; k < C; k++) sum += (double)EXP(xs[k * D] - mx); \
          T lse = (T)log(sum);                                               \
          for (size_t k = 0; k < C; k++) ls[k * D] = (xs[k * D] - mx) - lse; \
        }                                                                    \
      x = lp;                                                                \
    }                                                                        \
    double total = 0.0, wsum = 0.0;                                          \
    for (size_t n = 0; n < N; n++)                                           \
      for (size_t d = 0; d < D; d++) {                                       \
        size_t i = n * D + d;                                                \
        int64_t l = label_at(labels, l64, i);                                \
        double li = 0.0, wi = 0.0;                                           \
        if (!(s->has_ii && l == s->ii)) {                                    \
          if (l < 0 || (uint64_t)l >= C) {                                   \
            *bad = l;                                                        \
            return false;                                                    \
          }                                                                  \
          wi = w ? (double)w[l] : 1.0;                                       \
          li = -(double)x[(n * C + (size_t)l) * D + d] * wi;                 \
        }                                                                    \
        if (s->reduction == RED_NONE) out[i] = (T)li;                        \
        total += li;                                                         \
        wsum += wi;                                                          \
      }                                                                      \
    if (s->reduction == RED_SUM) out[0] = (T)total;                          \
    /* All samples ignored gives 0 / 0 = NaN, as the mean of nothing. */     \
    if (s->reduction == RED_MEAN) out[0] = (T)(total / wsum);                \
    return true;                                                             \
  }
EMB_LOSS(loss_f32, float, expf)
EMB_LOSS(loss_f64, double, exp)

static ember_status loss_run(emb_run_ctx *c) {
  const loss_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *y = emb_in_t(c, 1);
  const emb_tensor *w = emb_in_t(c, 2);
  emb_tensor *out = emb_out_t(c, 0), *lpo = emb_out_t(c, 1);
  size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1], D = 1;
  for (int k = 2; k < x->rank; k++) D *= (size_t)x->dims[k];
  size_t nx = N * C * D;
  if (w && (w->rank != 1 || (size_t)w->dims[0] != C))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "weights must have shape [%zu]", C);
  bool half = emb_is_half(x->dtype);
  bool dbl = x->dtype == EMBER_DOUBLE;
  size_t es = dbl ? 8 : 4;
  size_t nout = s->reduction == RED_NONE ? N * D : 1;
  /* log_prob goes to its output when there is one (and it is not half),
   * else to scratch. */
  bool lp_direct = lpo && !half;
  size_t lp_b = s->softmax && !lp_direct ? emb_align64(nx * es) : 0;
  size_t xh_b = half ? emb_align64(nx * 4) : 0;
  size_t wh_b = half && w ? emb_align64(C * 4) : 0;
  size_t oh_b = half ? emb_align64(nout * 4) : 0;
  char *mem = NULL;
  if (lp_b + xh_b + wh_b + oh_b) {
    mem = emb_scratch(c, lp_b + xh_b + wh_b + oh_b);
    if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  }
  void *lp = lp_direct ? lpo->data : mem;
  bool l64 = y->dtype == EMBER_INT64;
  int64_t bad = 0;
  bool ok;
  if (dbl) {
    ok = loss_f64(x->data, y->data, l64, w ? w->data : NULL, lp, out->data, N,
                  C, D, s, &bad);
  } else if (!half) {
    ok = loss_f32(x->data, y->data, l64, w ? w->data : NULL, lp, out->data, N,
                  C, D, s, &bad);
  } else {
    float *xh = (float *)(mem + lp_b), *wh = (float *)(mem + lp_b + xh_b);
    float *oh = (float *)(mem + lp_b + xh_b + wh_b);
    emb_cvt_to_f32(x->dtype, x->data, nx, xh);
    if (w) emb_cvt_to_f32(w->dtype, w->data, C, wh);
    ok = loss_f32(xh, y->data, l64, w ? wh : NULL, lp, oh, N, C, D, s, &bad);
    if (ok) {
      emb_cvt_from_f32(out->dtype, oh, nout, out->data);
      if (lpo && s->softmax) emb_cvt_from_f32(lpo->dtype, lp, nx, lpo->data);
    }
  }
  if (!ok)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "label %lld is outside [0, %zu)%s", (long long)bad, C,
                       s->has_ii ? " and is not ignore_index" : "");
  /* NLL has no log_prob output; an SCE log_prob is written above. */
  return EMBER_OK;
}

const emb_opdef emb_op_negativeloglikelihoodloss = {
    2, 3, 1, 1, 0, nll_init, loss_infer, loss_run};
const emb_opdef emb_op_softmaxcrossentropyloss = {
    2, 3, 1, 2, 0, sce_init, loss_infer, loss_run};
