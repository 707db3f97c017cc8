/*
 * Unit tests for NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
 * (lib/ops/loss.c).  Expected values come from a direct reference here,
 * in double, written from the ONNX definitions: per sample the picked
 * class's (log-softmax of the) score times its weight, ignored samples
 * contributing nothing to the sum nor to the mean's denominator.  Cases
 * cover (N, C) and N-D inputs, every reduction, weights, ignore_index
 * inside and outside [0, C), int32 and int64 labels, the log_prob output,
 * float64 and float16, opsets 12 / 13 / 22, empty batches, the all-ignored
 * mean (NaN), and the errors (status plus a message naming node 'n0').
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops/op.h"
#include "optest.h"

extern const emb_opdef emb_op_negativeloglikelihoodloss,
    emb_op_softmaxcrossentropyloss;

static uint32_t rng_state = 4242u;

static uint32_t rnd_u(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}
/* Values in [-2, 2). */
static double rnd(void) { return (double)(rnd_u() & 0xffff) / 16384.0 - 2.0; }

typedef struct lcase {
  bool sce;
  int opset;
  int rank; /* of the scores, >= 2 */
  int64_t dims[6];
  const char *reduction; /* NULL: attribute absent (mean) */
  bool weights;
  bool has_ii;
  int64_t ii;
  int32_t label_type;
  int32_t dtype;
  bool log_prob;
  int ignore_every; /* > 0: every k-th label is ignore_index */
} lcase;

static double round_to(int32_t dtype, double v) {
  if (dtype == EMBER_FLOAT) return (double)(float)v;
  if (dtype == EMBER_FLOAT16) return emb_f16_to_f32(emb_f32_to_f16((float)v));
  return v;
}

static void *as_dtype(int32_t dtype, const double *v, size_t n) {
  size_t es = dtype == EMBER_DOUBLE ? 8 : dtype == EMBER_FLOAT ? 4 : 2;
  char *p = malloc((n ? n : 1) * es);
  for (size_t i = 0; i < n; i++) {
    if (dtype == EMBER_DOUBLE)
      ((double *)p)[i] = v[i];
    else if (dtype == EMBER_FLOAT)
      ((float *)p)[i] = (float)v[i];
    else
      ((uint16_t *)p)[i] = emb_f32_to_f16((float)v[i]);
  }
  return p;
}

static void check(const emb_value *v, int rank, const int64_t *dims,
                  const double *ref, int32_t dtype, const char *what) {
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  if (v->t.dtype != dtype)
    fail_msg("%s: type %s, expected %s", what, ember_dtype_name(v->t.dtype),
             ember_dtype_name(dtype));
  if (v->t.rank != rank)
    fail_msg("%s: rank %d, expected %d", what, v->t.rank, rank);
  size_t n = 1;
  for (int r = 0; r < rank; r++) {
    if (v->t.dims[r] != dims[r])
      fail_msg("%s: dimension %d is %lld, expected %lld", what, r,
               (long long)v->t.dims[r], (long long)dims[r]);
    n *= (size_t)dims[r];
  }
  double tol = dtype == EMBER_DOUBLE    ? 1e-12
               : dtype == EMBER_FLOAT16 ? 1e-2
                                        : 1e-5;
  for (size_t i = 0; i < n; i++) {
    double a = emb_tensor_get_f64(&v->t, i), e = ref[i];
    if (isnan(e) && isnan(a)) continue;
    if (!(fabs(a - e) <= tol + tol * fabs(e)))
      fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, a, e);
  }
}

static void run_case(const lcase *k, const char *what) {
  size_t N = (size_t)k->dims[0], C = (size_t)k->dims[1], D = 1;
  for (int r = 2; r < k->rank; r++) D *= (size_t)k->dims[r];
  size_t nx = N * C * D, ns = N * D;
  double *x = malloc((nx ? nx : 1) * sizeof *x);
  double *w = malloc((C ? C : 1) * sizeof *w);
  int64_t *lab = malloc((ns ? ns : 1) * sizeof *lab);
  for (size_t i = 0; i < nx; i++) x[i] = round_to(k->dtype, rnd());
  for (size_t i = 0; i < C; i++)
    w[i] = round_to(k->dtype, 0.1 + (rnd() + 2) / 2);
  for (size_t i = 0; i < ns; i++) {
    lab[i] = (int64_t)(rnd_u() % C);
    if (k->has_ii && k->ignore_every && i % (size_t)k->ignore_every == 1)
      lab[i] = k->ii;
  }
  /* The reference. */
  double *lp = malloc((nx ? nx : 1) * sizeof *lp);
  for (size_t n = 0; n < N; n++)
    for (size_t d = 0; d < D; d++) {
      double s = 0;
      for (size_t c = 0; c < C; c++) s += exp(x[(n * C + c) * D + d]);
      for (size_t c = 0; c < C; c++)
        lp[(n * C + c) * D + d] =
            k->sce ? x[(n * C + c) * D + d] - log(s) : x[(n * C + c) * D + d];
    }
  double *loss = malloc((ns ? ns : 1) * sizeof *loss), total = 0, wsum = 0;
  for (size_t n = 0; n < N; n++)
    for (size_t d = 0; d < D; d++) {
      size_t i = n * D + d;
      int64_t l = lab[i];
      if (k->has_ii && l == k->ii) {
        loss[i] = 0;
        continue;
      }
      double wt = k->weights ? w[l] : 1;
      loss[i] = -lp[(n * C + (size_t)l) * D + d] * wt;
      total += loss[i];
      wsum += wt;
    }
  const char *red = k->reduction ? k->reduction : "mean";
  double scalar = !strcmp(red, "sum") ? total : total / wsum;

  optest *t = optest_new(
      k->sce ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss",
      k->opset ? k->opset : 22);
  if (k->reduction) optest_attr_string(t, "reduction", k->reduction);
  if (k->has_ii) optest_attr_int(t, "ignore_index", k->ii);
  void *xb = as_dtype(k->dtype, x, nx), *wb = as_dtype(k->dtype, w, C);
  void *lb = malloc((ns ? ns : 1) * 8);
  for (size_t i = 0; i < ns; i++) {
    if (k->label_type == EMBER_INT32)
      ((int32_t *)lb)[i] = (int32_t)lab[i];
    else
      ((int64_t *)lb)[i] = lab[i];
  }
  int64_t ld[6];
  ld[0] = k->dims[0];
  for (int r = 2; r < k->rank; r++) ld[r - 1] = k->dims[r];
  optest_input(t, k->dtype, k->rank, k->dims, xb);
  optest_input(t, k->label_type ? k->label_type : EMBER_INT64, k->rank - 1, ld,
               lb);
  int64_t wd[1] = {(int64_t)C};
  if (k->weights) optest_input(t, k->dtype, 1, wd, wb);
  optest_outputs(t, k->log_prob ? 2 : 1);
  ember_status st = optest_run(t);
  if (st) fail_msg("%s: run failed (%d): %s", what, (int)st, optest_errmsg(t));
  char buf[160];
  snprintf(buf, sizeof buf, "%s (loss)", what);
  if (!strcmp(red, "none"))
    check(optest_output(t, 0), k->rank - 1, ld, loss, k->dtype, buf);
  else
    check(optest_output(t, 0), 0, NULL, &scalar, k->dtype, buf);
  if (k->log_prob) {
    snprintf(buf, sizeof buf, "%s (log_prob)", what);
    check(optest_output(t, 1), k->rank, k->dims, lp, k->dtype, buf);
  }
  optest_free(t);
  free(x);
  free(w);
  free(lab);
  free(lp);
  free(loss);
  free(xb);
  free(wb);
  free(lb);
}

static const char *const reds[] = {NULL, "none", "sum", "mean"};

/* Every reduction x weights x ignore_index over a few shapes. */
static void sweep(bool sce, bool log_prob, int32_t dtype) {
  static const int64_t shapes[][6] = {
      {3, 5}, {2, 3, 4}, {2, 4, 3, 2, 1, 2}, {1, 1}, {4, 1, 3}};
  static const int ranks[] = {2, 3, 6, 2, 3};
  for (int s = 0; s < 5; s++)
    for (int r = 0; r < 4; r++)
      for (int wt = 0; wt < 2; wt++)
        for (int ii = 0; ii < 3; ii++) {
          lcase k;
          memset(&k, 0, sizeof k);
          k.sce = sce;
          k.log_prob = log_prob;
          k.dtype = dtype;
          k.rank = ranks[s];
          memcpy(k.dims, shapes[s], sizeof k.dims);
          k.reduction = reds[r];
          k.weights = wt;
          k.has_ii = ii > 0;
          k.ii = ii == 1 ? 0 : -5; /* a class, or outside [0, C) */
          k.ignore_every = 3;
          k.label_type = (s + r) % 2 ? EMBER_INT32 : EMBER_INT64;
          char what[128];
          snprintf(what, sizeof what,
                   "%s %s shape %d reduction %s weights %d ii %d",
                   sce ? "SCE" : "NLL", ember_dtype_name(dtype), s,
                   reds[r] ? reds[r] : "(default)", wt, ii);
          run_case(&k, what);
        }
}

static void test_nll(void **state) {
  (void)state;
  sweep(false, false, EMBER_FLOAT);
}

static void test_sce(void **state) {
  (void)state;
  sweep(true, false, EMBER_FLOAT);
  sweep(true, true, EMBER_FLOAT);
}

static void test_types_opsets(void **state) {
  (void)state;
  sweep(false, false, EMBER_DOUBLE);
  sweep(true, true, EMBER_DOUBLE);
  sweep(false, false, EMBER_FLOAT16);
  sweep(true, true, EMBER_FLOAT16);
  for (int opset = 12; opset <= 13; opset++)
    for (int sce = 0; sce < 2; sce++) {
      lcase k;
      memset(&k, 0, sizeof k);
      k.sce = sce;
      k.opset = opset;
      k.rank = 3;
      k.dims[0] = 2, k.dims[1] = 3, k.dims[2] = 2;
      k.weights = true;
      k.dtype = EMBER_FLOAT;
      k.label_type = EMBER_INT64;
      k.log_prob = sce;
      run_case(&k, opset == 12 ? "opset 12" : "opset 13");
    }
}

static void test_edges(void **state) {
  (void)state;
  /* An empty batch: no rows, or a zero sum. */
  for (int sce = 0; sce < 2; sce++) {
    lcase k;
    memset(&k, 0, sizeof k);
    k.sce = sce;
    k.rank = 3;
    k.dims[0] = 0, k.dims[1] = 3, k.dims[2] = 2;
    k.dtype = EMBER_FLOAT;
    k.label_type = EMBER_INT64;
    k.reduction = "none";
    run_case(&k, "empty, none");
    k.reduction = "sum";
    run_case(&k, "empty, sum");
  }
  /* Every sample ignored: the mean of nothing is NaN (0 / 0). */
  {
    static const float x[6] = {1, 2, 3, 4, 5, 6};
    static const int64_t lab[2] = {-1, -1};
    int64_t xd[2] = {2, 3}, ld[1] = {2};
    optest *t = optest_new("SoftmaxCrossEntropyLoss", 13);
    optest_attr_int(t, "ignore_index", -1);
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_INT64, 1, ld, lab);
    assert_int_equal(optest_run(t), EMBER_OK);
    const emb_value *v = optest_output(t, 0);
    assert_int_equal(v->t.rank, 0);
    if (!isnan(((const float *)v->t.data)[0]))
      fail_msg("all-ignored mean is %g, expected NaN",
               (double)((const float *)v->t.data)[0]);
    optest_free(t);
  }
  /* Large scores: the log-softmax does not overflow. */
  {
    static const float x[4] = {1000.0f, 0.0f, -1000.0f, 990.0f};
    static const int64_t lab[2] = {1, 1};
    int64_t xd[2] = {2, 2}, ld[1] = {2};
    optest *t = optest_new("SoftmaxCrossEntropyLoss", 13);
    optest_attr_string(t, "reduction", "none");
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_INT64, 1, ld, lab);
    assert_int_equal(optest_run(t), EMBER_OK);
    double ref[2] = {1000.0, log1p(exp(-1990.0))};
    check(optest_output(t, 0), 1, ld, ref, EMBER_FLOAT, "large scores");
    optest_free(t);
  }
}

static void must_fail(optest *t, ember_status want, const char *part) {
  ember_status st = optest_run(t);
  const char *msg = optest_errmsg(t);
  if (st != want)
    fail_msg("status %d, expected %d (message: %s)", (int)st, (int)want, msg);
  if (!strstr(msg, "'n0'"))
    fail_msg("message '%s' does not name the node", msg);
  if (part && !strstr(msg, part))
    fail_msg("message '%s' lacks '%s'", msg, part);
  optest_free(t);
}

static void test_errors(void **state) {
  (void)state;
  static const float x[12] = {0};
  static const float w2[2] = {1, 1};
  static const int64_t lab[4] = {0, 2, 1, 0}, bad[4] = {0, 3, 1, 0};
  static const float flab[4] = {0};
  int64_t xd[2] = {4, 3}, ld[1] = {4}, ld2[2] = {4, 1}, wd2[1] = {2};
  for (int sce = 0; sce < 2; sce++) {
    const char *op =
        sce ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss";
    optest *t = optest_new(op, 22);
    optest_attr_string(t, "reduction", "average");
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_INT64, 1, ld, lab);
    must_fail(t, EMBER_ERR_INVALID_MODEL, "average");

    t = optest_new(op, 22);
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_INT64, 1, ld, bad);
    must_fail(t, EMBER_ERR_RUNTIME, "label 3");

    /* A label equal to ignore_index is fine, any other outside is not. */
    t = optest_new(op, 22);
    optest_attr_int(t, "ignore_index", 3);
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_INT64, 1, ld, bad);
    assert_int_equal(optest_run(t), EMBER_OK);
    optest_free(t);

    t = optest_new(op, 22);
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_INT64, 2, ld2, lab);
    must_fail(t, EMBER_ERR_SHAPE, "labels");

    t = optest_new(op, 22);
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_INT64, 1, ld, lab);
    optest_input(t, EMBER_FLOAT, 1, wd2, w2);
    must_fail(t, EMBER_ERR_SHAPE, "weights");

    t = optest_new(op, 22);
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_FLOAT, 1, ld, flab);
    must_fail(t, EMBER_ERR_UNSUPPORTED, "float32");

    t = optest_new(op, 22);
    optest_input(t, EMBER_FLOAT, 1, ld, x);
    optest_input(t, EMBER_INT64, 1, ld, lab);
    must_fail(t, EMBER_ERR_SHAPE, "rank");

    /* Labels of another batch size. */
    int64_t ld3[1] = {3};
    t = optest_new(op, 22);
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_INT64, 1, ld3, lab);
    must_fail(t, EMBER_ERR_SHAPE, "labels");
  }
}

int main(void) {
  /* Name the definitions so that a static link keeps their objects (the
   * registry refers to them weakly). */
  volatile const void *keep[] = {&emb_op_negativeloglikelihoodloss,
                                 &emb_op_softmaxcrossentropyloss};
  (void)keep;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nll),          cmocka_unit_test(test_sce),
      cmocka_unit_test(test_types_opsets), cmocka_unit_test(test_edges),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
