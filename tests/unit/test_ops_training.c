/*
 * Unit tests for the optimizer update rules of ai.onnx.preview.training
 * (lib/ops/training.c): Adagrad, Adam and Momentum (standard and
 * Nesterov) through the one-node harness (optest.h).  Expected values are
 * the spec's pseudo code evaluated here element by element in long
 * double, for one and several optimized tensors of different shapes and
 * mixed float / double types, the first update (T = 0) and later ones,
 * every attribute away from its default, omitted trailing outputs, empty
 * tensors, and the errors (status plus a message naming node 'n0').
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops/op.h"
#include "optest.h"

/* Shared harness helpers (tests/unit/optest.c). */
#define must_fail optest_must_fail
#define must_run optest_must_run

extern const emb_opdef emb_op_adam;

#define DOMAIN "ai.onnx.preview.training"

/* ------------------------------------------------------------ helpers */



static optest *new_op(const char *op) {
  optest *t = optest_new(op, 18);
  optest_domain(t, DOMAIN, 1);
  return t;
}

static uint32_t rng_state = 777;
static double urand(double lo, double span) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return lo + span * (double)((rng_state >> 8) & 0xffff) / 65536.0;
}

/* A float or double tensor of test values: `vals` (double) holds what the
 * tensor holds, `data` the bytes to feed. */
typedef struct tens {
  int32_t dtype;
  int rank;
  int64_t dims[3];
  size_t n;
  double vals[64];
  union {
    float f[64];
    double d[64];
  } data;
} tens;

static void tens_fill(tens *t, int32_t dtype, int rank, const int64_t *dims,
                      double lo, double span) {
  t->dtype = dtype;
  t->rank = rank;
  t->n = 1;
  for (int k = 0; k < rank; k++) {
    t->dims[k] = dims[k];
    t->n *= (size_t)dims[k];
  }
  assert_true(t->n <= 64);
  for (size_t i = 0; i < t->n; i++) {
    double v = urand(lo, span);
    if (dtype == EMBER_FLOAT) {
      t->data.f[i] = (float)v;
      v = t->data.f[i];
    } else {
      t->data.d[i] = v;
    }
    t->vals[i] = v;
  }
}

static void feed(optest *o, const tens *t) {
  optest_input(o, t->dtype, t->rank, t->dims, &t->data);
}

/* Output i must have t's type and shape and the values want. */
static void expect_out(optest *o, int i, const tens *t,
                       const long double *want, const char *what) {
  const emb_value *v = optest_output(o, i);
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  if (v->t.dtype != t->dtype)
    fail_msg("%s: output %d has type %s, expected %s", what, i,
             ember_dtype_name(v->t.dtype), ember_dtype_name(t->dtype));
  assert_int_equal(v->t.rank, t->rank);
  for (int k = 0; k < t->rank; k++)
    assert_int_equal(v->t.dims[k], t->dims[k]);
  double tol = t->dtype == EMBER_FLOAT ? 2e-6 : 1e-13;
  for (size_t e = 0; e < t->n; e++) {
    double g = emb_tensor_get_f64(&v->t, e), w = (double)want[e];
    if (!(fabs(g - w) <= tol * (1 + fabs(w))))
      fail_msg("%s: output %d element %zu is %.12g, expected %.12g", what, i,
               e, g, w);
  }
}

/* R and T as scalars (R of shape [1] when r_vec).  The harness borrows
 * the data until the run: one node at a time uses these. */
static void feed_rt(optest *o, double R, int64_t T, bool r_double,
                    bool r_vec) {
  static float rf;
  static double rd;
  static int64_t tt;
  static const int64_t one[1] = {1};
  rf = (float)R;
  rd = R;
  tt = T;
  if (r_double)
    optest_input(o, EMBER_DOUBLE, r_vec ? 1 : 0, one, &rd);
  else
    optest_input(o, EMBER_FLOAT, r_vec ? 1 : 0, one, &rf);
  optest_input(o, EMBER_INT64, 0, NULL, &tt);
}

/* ------------------------------------------------------------ Adagrad */

static void test_adagrad(void **state) {
  (void)state;
  static const int64_t shapes[3][3] = {{1}, {3, 5}, {2, 1, 3}};
  static const int ranks[3] = {1, 2, 3};
  static const struct {
    int n;         /* tensors */
    int64_t T;
    double decay, eps, norm;
    bool mixed;    /* second tensor and its state in double */
  } cases[] = {
      {1, 0, 0, 0, 0, false},
      {1, 3, 0.1, 1e-5, 1e-3, false},
      {2, 7, 0.5, 0.1, 0.25, true},
      {3, 1, 0, 1e-6, 0, true},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int n = cases[c].n;
    double R = 0.3;
    tens X[3], G[3], H[3];
    for (int i = 0; i < n; i++) {
      int32_t dt = cases[c].mixed && i == 1 ? EMBER_DOUBLE : EMBER_FLOAT;
      tens_fill(&X[i], dt, ranks[i], shapes[i], -2, 4);
      tens_fill(&G[i], dt, ranks[i], shapes[i], -1, 2);
      tens_fill(&H[i], dt, ranks[i], shapes[i], 0, 3);
    }
    optest *o = new_op("Adagrad");
    if (cases[c].decay) optest_attr_float(o, "decay_factor", cases[c].decay);
    if (cases[c].eps) optest_attr_float(o, "epsilon", cases[c].eps);
    if (cases[c].norm)
      optest_attr_float(o, "norm_coefficient", cases[c].norm);
    feed_rt(o, R, cases[c].T, c == 2, c == 3);
    for (int i = 0; i < n; i++) feed(o, &X[i]);
    for (int i = 0; i < n; i++) feed(o, &G[i]);
    for (int i = 0; i < n; i++) feed(o, &H[i]);
    optest_outputs(o, 2 * n);
    must_run(o);
    /* attributes are float32 in the model */
    long double decay = (float)cases[c].decay, eps = (float)cases[c].eps;
    long double norm = (float)cases[c].norm;
    long double rr = c == 2 ? R : (float)R;
    rr = rr / (1 + cases[c].T * decay);
    for (int i = 0; i < n; i++) {
      long double xw[64], hw[64];
      for (size_t e = 0; e < X[i].n; e++) {
        long double gr = norm * X[i].vals[e] + G[i].vals[e];
        hw[e] = H[i].vals[e] + gr * gr;
        xw[e] = X[i].vals[e] - rr * gr / (sqrtl(hw[e]) + eps);
      }
      char what[48];
      snprintf(what, sizeof what, "adagrad case %zu tensor %d", c, i);
      expect_out(o, i, &X[i], xw, what);
      expect_out(o, n + i, &H[i], hw, what);
    }
    optest_free(o);
  }
}

/* --------------------------------------------------------------- Adam */

static void test_adam(void **state) {
  (void)state;
  static const int64_t shapes[3][3] = {{2}, {4, 3}, {1}};
  static const int ranks[3] = {1, 2, 1};
  static const struct {
    int n;
    int64_t T;
    double alpha, beta, eps, norm, post;
    bool defaults;
  } cases[] = {
      {1, 0, 0.9, 0.999, 0, 0, 0, true},    /* every default, T = 0 */
      {1, 1, 0.9, 0.999, 0, 0, 0, true},
      {1, 5, 0.95, 0.1, 1e-7, 1e-3, 0, false},
      {2, 10, 0.95, 0.85, 1e-2, 1e-3, 0.05, false},
      {3, 2, 0.5, 0.75, 1e-3, 0.5, 0.25, false},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int n = cases[c].n;
    double R = 0.1;
    tens X[3], G[3], V[3], H[3];
    for (int i = 0; i < n; i++) {
      int32_t dt = i == 2 ? EMBER_DOUBLE : EMBER_FLOAT;
      tens_fill(&X[i], dt, ranks[i], shapes[i], -2, 4);
      tens_fill(&G[i], dt, ranks[i], shapes[i], -1, 2);
      tens_fill(&V[i], dt, ranks[i], shapes[i], -1, 2);
      tens_fill(&H[i], dt, ranks[i], shapes[i], 0, 2);
    }
    optest *o = new_op("Adam");
    if (!cases[c].defaults) {
      optest_attr_float(o, "alpha", cases[c].alpha);
      optest_attr_float(o, "beta", cases[c].beta);
      optest_attr_float(o, "epsilon", cases[c].eps);
      optest_attr_float(o, "norm_coefficient", cases[c].norm);
      optest_attr_float(o, "norm_coefficient_post", cases[c].post);
    }
    feed_rt(o, R, cases[c].T, false, false);
    for (int i = 0; i < n; i++) feed(o, &X[i]);
    for (int i = 0; i < n; i++) feed(o, &G[i]);
    for (int i = 0; i < n; i++) feed(o, &V[i]);
    for (int i = 0; i < n; i++) feed(o, &H[i]);
    optest_outputs(o, 3 * n);
    must_run(o);
    long double a = (float)cases[c].alpha, b = (float)cases[c].beta;
    long double eps = (float)cases[c].eps, norm = (float)cases[c].norm;
    long double post = (float)cases[c].post, T = (long double)cases[c].T;
    long double ra = (float)R;
    if (cases[c].T > 0) ra = ra * sqrtl(1 - powl(b, T)) / (1 - powl(a, T));
    for (int i = 0; i < n; i++) {
      long double xw[64], vw[64], hw[64];
      for (size_t e = 0; e < X[i].n; e++) {
        long double gr = norm * X[i].vals[e] + G[i].vals[e];
        vw[e] = a * V[i].vals[e] + (1 - a) * gr;
        hw[e] = b * H[i].vals[e] + (1 - b) * gr * gr;
        long double xn = X[i].vals[e] - ra * vw[e] / (sqrtl(hw[e]) + eps);
        xw[e] = (1 - post) * xn;
      }
      char what[48];
      snprintf(what, sizeof what, "adam case %zu tensor %d", c, i);
      expect_out(o, i, &X[i], xw, what);
      expect_out(o, n + i, &V[i], vw, what);
      expect_out(o, 2 * n + i, &H[i], hw, what);
    }
    optest_free(o);
  }

  /* Trailing outputs may be left out: only the new X. */
  tens X, G, V, H;
  int64_t d[1] = {3};
  tens_fill(&X, EMBER_FLOAT, 1, d, -1, 2);
  tens_fill(&G, EMBER_FLOAT, 1, d, -1, 2);
  tens_fill(&V, EMBER_FLOAT, 1, d, -1, 2);
  tens_fill(&H, EMBER_FLOAT, 1, d, 0, 1);
  optest *o = new_op("Adam");
  feed_rt(o, 0.5, 0, false, false);
  feed(o, &X);
  feed(o, &G);
  feed(o, &V);
  feed(o, &H);
  must_run(o);
  long double xw[3];
  for (int e = 0; e < 3; e++) {
    long double gr = G.vals[e];
    long double v = 0.9L * V.vals[e] + 0.1L * gr;
    long double h = (long double)(float)0.999 * H.vals[e] +
                    (1 - (long double)(float)0.999) * gr * gr;
    xw[e] = X.vals[e] - 0.5L * v / sqrtl(h);
  }
  /* alpha's float32 value differs from 0.9 by 2e-8: inside the
   * tolerance */
  expect_out(o, 0, &X, xw, "adam X only");
  optest_free(o);
}

/* ----------------------------------------------------------- Momentum */

static void test_momentum(void **state) {
  (void)state;
  static const int64_t shapes[2][3] = {{2, 3}, {5}};
  static const int ranks[2] = {2, 1};
  for (int nesterov = 0; nesterov < 2; nesterov++)
    for (int64_t T = 0; T < 3; T += 2)
      for (int n = 1; n <= 2; n++) {
        double R = 0.05, alpha = 0.95, beta = 0.15, norm = 0.01;
        tens X[2], G[2], V[2];
        for (int i = 0; i < n; i++) {
          int32_t dt = i == 1 ? EMBER_DOUBLE : EMBER_FLOAT;
          tens_fill(&X[i], dt, ranks[i], shapes[i], -2, 4);
          tens_fill(&G[i], dt, ranks[i], shapes[i], -1, 2);
          tens_fill(&V[i], dt, ranks[i], shapes[i], -1, 2);
        }
        optest *o = new_op("Momentum");
        optest_attr_float(o, "alpha", alpha);
        optest_attr_float(o, "beta", beta);
        optest_attr_float(o, "norm_coefficient", norm);
        optest_attr_string(o, "mode", nesterov ? "nesterov" : "standard");
        feed_rt(o, R, T, true, false);
        for (int i = 0; i < n; i++) feed(o, &X[i]);
        for (int i = 0; i < n; i++) feed(o, &G[i]);
        for (int i = 0; i < n; i++) feed(o, &V[i]);
        optest_outputs(o, 2 * n);
        must_run(o);
        long double a = (float)alpha, nc = (float)norm;
        long double ba = T > 0 ? (long double)(float)beta : 1;
        for (int i = 0; i < n; i++) {
          long double xw[64], vw[64];
          for (size_t e = 0; e < X[i].n; e++) {
            long double gr = nc * X[i].vals[e] + G[i].vals[e];
            vw[e] = a * V[i].vals[e] + ba * gr;
            xw[e] = nesterov ? X[i].vals[e] - R * (gr + a * vw[e])
                             : X[i].vals[e] - R * vw[e];
          }
          char what[64];
          snprintf(what, sizeof what, "momentum %s T=%lld n=%d tensor %d",
                   nesterov ? "nesterov" : "standard", (long long)T, n, i);
          expect_out(o, i, &X[i], xw, what);
          expect_out(o, n + i, &V[i], vw, what);
        }
        optest_free(o);
      }
}

/* Empty tensors give empty outputs. */
static void test_training_empty(void **state) {
  (void)state;
  int64_t d[2] = {0, 3};
  float none[1] = {0};
  optest *o = new_op("Adagrad");
  feed_rt(o, 0.1, 1, false, false);
  for (int k = 0; k < 3; k++) optest_input(o, EMBER_FLOAT, 2, d, none);
  optest_outputs(o, 2);
  must_run(o);
  for (int k = 0; k < 2; k++) {
    const emb_value *v = optest_output(o, k);
    assert_int_equal(v->t.rank, 2);
    assert_int_equal(v->t.dims[0], 0);
    assert_int_equal(v->t.dims[1], 3);
  }
  optest_free(o);
}

static void test_training_errors(void **state) {
  (void)state;
  int64_t d3[1] = {3}, d4[1] = {4}, d2[1] = {2};
  float x[4] = {0};
  int32_t xi[3] = {0};
  /* input count not 2 + 4n */
  optest *o = new_op("Adam");
  feed_rt(o, 0.1, 1, false, false);
  for (int k = 0; k < 3; k++) optest_input(o, EMBER_FLOAT, 1, d3, x);
  must_fail(o, EMBER_ERR_INVALID_MODEL, "runs");
  optest_free(o);
  /* more outputs than the tensors have */
  o = new_op("Momentum");
  optest_attr_float(o, "alpha", 0.9f);
  optest_attr_float(o, "beta", 0.1f);
  optest_attr_float(o, "norm_coefficient", 0);
  optest_attr_string(o, "mode", "standard");
  feed_rt(o, 0.1, 1, false, false);
  for (int k = 0; k < 3; k++) optest_input(o, EMBER_FLOAT, 1, d3, x);
  optest_outputs(o, 3);
  must_fail(o, EMBER_ERR_INVALID_MODEL, "outputs");
  optest_free(o);
  /* required attribute missing; unknown mode */
  o = new_op("Momentum");
  optest_attr_float(o, "alpha", 0.9f);
  optest_attr_float(o, "norm_coefficient", 0);
  optest_attr_string(o, "mode", "standard");
  feed_rt(o, 0.1, 1, false, false);
  for (int k = 0; k < 3; k++) optest_input(o, EMBER_FLOAT, 1, d3, x);
  must_fail(o, EMBER_ERR_INVALID_MODEL, "beta");
  optest_free(o);
  o = new_op("Momentum");
  optest_attr_float(o, "alpha", 0.9f);
  optest_attr_float(o, "beta", 0.1f);
  optest_attr_float(o, "norm_coefficient", 0);
  optest_attr_string(o, "mode", "heavy-ball");
  feed_rt(o, 0.1, 1, false, false);
  for (int k = 0; k < 3; k++) optest_input(o, EMBER_FLOAT, 1, d3, x);
  must_fail(o, EMBER_ERR_INVALID_MODEL, "heavy-ball");
  optest_free(o);
  /* a gradient of another shape */
  o = new_op("Adagrad");
  feed_rt(o, 0.1, 1, false, false);
  optest_input(o, EMBER_FLOAT, 1, d3, x);
  optest_input(o, EMBER_FLOAT, 1, d4, x);
  optest_input(o, EMBER_FLOAT, 1, d3, x);
  must_fail(o, EMBER_ERR_SHAPE, "G of tensor 1");
  optest_free(o);
  /* R with two values */
  o = new_op("Adagrad");
  optest_input(o, EMBER_FLOAT, 1, d2, x);
  int64_t T = 0;
  optest_input(o, EMBER_INT64, 0, NULL, &T);
  for (int k = 0; k < 3; k++) optest_input(o, EMBER_FLOAT, 1, d3, x);
  must_fail(o, EMBER_ERR_SHAPE, "scalar");
  optest_free(o);
  /* integer X; float T */
  o = new_op("Adagrad");
  feed_rt(o, 0.1, 1, false, false);
  for (int k = 0; k < 3; k++) optest_input(o, EMBER_INT32, 1, d3, xi);
  must_fail(o, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(o);
  o = new_op("Adagrad");
  float r = 0.1f, tf = 1;
  optest_input(o, EMBER_FLOAT, 0, NULL, &r);
  optest_input(o, EMBER_FLOAT, 0, NULL, &tf);
  for (int k = 0; k < 3; k++) optest_input(o, EMBER_FLOAT, 1, d3, x);
  must_fail(o, EMBER_ERR_UNSUPPORTED, "float32");
  optest_free(o);
}

int main(void) {
  /* Name one definition so that a static link keeps training.c (the
   * registry refers to it weakly). */
  volatile const void *keep[] = {&emb_op_adam};
  (void)keep;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adagrad),
      cmocka_unit_test(test_adam),
      cmocka_unit_test(test_momentum),
      cmocka_unit_test(test_training_empty),
      cmocka_unit_test(test_training_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
