/*
 * Unit tests for the random operators (lib/ops/random.c), their generator
 * (lib/ops/rng.h) and training-mode Dropout (lib/ops/elementwise.c).  The
 * generator is checked against the Random123 known-answer vectors of
 * Philox4x32-10 and for independence from how a range is split (what
 * makes outputs independent of the thread count).  The operators run
 * through the one-node harness (optest.h): the same seed gives the same
 * output, different seeds and unseeded runs differ, and 100k-sample
 * statistics (means, variances, bin and class frequencies) fall within 5
 * standard errors of their expected values, so a correct generator fails
 * with negligible probability while a biased one cannot pass.  Nothing is
 * timed.  Errors are checked for status and a message naming node 'n0'.
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
#include "ops/rng.h"
#include "optest.h"

/* Shared harness helpers (tests/unit/optest.c). */
#define must_fail optest_must_fail
#define must_run optest_must_run

extern const emb_opdef emb_op_randomnormal, emb_op_randomuniform,
    emb_op_randomnormallike, emb_op_randomuniformlike, emb_op_bernoulli,
    emb_op_multinomial, emb_op_dropout;

#define NBIG 100000
#define OPSET 22

/* ------------------------------------------------------------ helpers */



/* Output 0 must be a tensor of this type and shape. */
static const emb_tensor *out_tensor(optest *t, int i, int32_t dtype,
                                    int rank, const int64_t *dims) {
  const emb_value *v = optest_output(t, i);
  if (v->kind != EMB_VK_TENSOR) fail_msg("output %d is not a tensor", i);
  const emb_tensor *y = &v->t;
  if (y->dtype != dtype)
    fail_msg("output %d has element type %s, expected %s", i,
             ember_dtype_name(y->dtype), ember_dtype_name(dtype));
  if (y->rank != rank) fail_msg("output %d has rank %d, expected %d", i,
                                (int)y->rank, rank);
  for (int k = 0; k < rank; k++)
    if (y->dims[k] != dims[k])
      fail_msg("output %d dim %d is %lld, expected %lld", i, k,
               (long long)y->dims[k], (long long)dims[k]);
  return y;
}

/* |got - want| within 5 standard errors, with a message naming `what`. */
static void within_5_sigma(const char *what, double got, double want,
                           double sigma) {
  if (!(fabs(got - want) <= 5.0 * sigma))
    fail_msg("%s = %.6g, expected %.6g +- %.3g (5 sigma)", what, got, want,
             5.0 * sigma);
}

/* A binomial count: n trials of probability p. */
static void count_ok(const char *what, size_t got, size_t n, double p) {
  within_5_sigma(what, (double)got, (double)n * p,
                 sqrt((double)n * p * (1.0 - p)) + 0.5);
}

static void mean_var(const emb_tensor *y, double *mean, double *var) {
  size_t n = emb_tensor_numel(y);
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) s += emb_tensor_get_f64(y, i);
  *mean = s / (double)n;
  for (size_t i = 0; i < n; i++) {
    double d = emb_tensor_get_f64(y, i) - *mean;
    s2 += d * d;
  }
  *var = s2 / (double)(n - 1);
}

static bool same_bytes(const emb_tensor *a, const emb_tensor *b) {
  return a->nbytes == b->nbytes && !memcmp(a->data, b->data, a->nbytes);
}

/* Elements that differ between two tensors of the same shape. */
static size_t n_differ(const emb_tensor *a, const emb_tensor *b) {
  size_t n = emb_tensor_numel(a), d = 0;
  for (size_t i = 0; i < n; i++)
    d += emb_tensor_get_f64(a, i) != emb_tensor_get_f64(b, i);
  return d;
}

/* A RandomNormal / RandomUniform node of one dimension n. */
static optest *fixed_op(const char *op, int64_t n, int32_t dtype,
                        const float *seed) {
  optest *t = optest_new(op, OPSET);
  int64_t shape[1] = {n};
  optest_attr_ints(t, "shape", 1, shape);
  if (dtype) optest_attr_int(t, "dtype", dtype);
  if (seed) optest_attr_float(t, "seed", *seed);
  return t;
}

/* ------------------------------------------------------------ generator */

static void test_philox_known_answers(void **state) {
  (void)state;
  /* Random123 tests/kat_vectors, the three "philox4x32 10" lines:
   * counter words, key words, expected result words. */
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
       0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822,
       0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
  };
  for (int v = 0; v < 3; v++) {
    uint32_t out[4];
    emb_philox4x32_10(kat[v], kat[v] + 4, out);
    for (int k = 0; k < 4; k++)
      if (out[k] != kat[v][6 + k])
        fail_msg("vector %d word %d: got %08x, expected %08x", v, k,
                 (unsigned)out[k], (unsigned)kat[v][6 + k]);
  }
}

/* Any split of a range gives the same elements: what lets threads fill
 * chunks independently, and makes a short output a prefix of a long. */
static void test_rng_split_invariant(void **state) {
  (void)state;
  enum { N = 1001 };
  static double whole[N], part[N];
  emb_rng r;
  emb_rng_from_seed(&r, 1234);
  for (int normal = 0; normal < 2; normal++) {
    if (normal)
      emb_rng_normal(&r, 0, N, whole);
    else
      emb_rng_uniform(&r, 0, N, whole);
    static const size_t cuts[] = {0, 1, 37, 38, 500, 999, N};
    for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; c++) {
      size_t lo = cuts[c], hi = cuts[c + 1];
      if (normal)
        emb_rng_normal(&r, lo, hi - lo, part + lo);
      else
        emb_rng_uniform(&r, lo, hi - lo, part + lo);
    }
    for (size_t i = 0; i < N; i++)
      if (memcmp(&whole[i], &part[i], sizeof(double)))
        fail_msg("%s element %zu: %.17g whole, %.17g split",
                 normal ? "normal" : "uniform", i, whole[i], part[i]);
  }
}

static void test_rng_seed_attr(void **state) {
  (void)state;
  emb_attr a[1];
  emb_node n;
  uint64_t s = 99;
  memset(&n, 0, sizeof n);
  memset(a, 0, sizeof a);
  n.name = "n0";
  n.op_type = "Bernoulli";
  n.attrs = a;
  assert_false(emb_rng_seed_attr(&n, &s)); /* no attributes */
  n.n_attr = 1;
  a[0].name = "seed";
  a[0].type = EMB_ATTR_FLOAT;
  a[0].f = 42.0f;
  assert_true(emb_rng_seed_attr(&n, &s));
  assert_int_equal(s, 42);
  a[0].type = EMB_ATTR_INT; /* Dropout's seed is an int: same stream */
  a[0].i = 42;
  assert_true(emb_rng_seed_attr(&n, &s));
  assert_int_equal(s, 42);
  a[0].type = EMB_ATTR_FLOAT;
  a[0].f = 0.5f;
  assert_true(emb_rng_seed_attr(&n, &s));
  assert_true(s != 0 && s != 1);
}

/* ------------------------------------------------------- determinism */

static void test_same_seed_same_output(void **state) {
  (void)state;
  static const char *const ops[] = {"RandomNormal", "RandomUniform"};
  for (int o = 0; o < 2; o++) {
    float seed = 7.0f;
    optest *a = fixed_op(ops[o], 1000, 0, &seed);
    optest *b = fixed_op(ops[o], 1000, 0, &seed);
    optest *p = fixed_op(ops[o], 11, 0, &seed); /* a prefix */
    must_run(a);
    must_run(b);
    must_run(p);
    int64_t d[1] = {1000}, dp[1] = {11};
    const emb_tensor *ya = out_tensor(a, 0, EMBER_FLOAT, 1, d);
    const emb_tensor *yb = out_tensor(b, 0, EMBER_FLOAT, 1, d);
    const emb_tensor *yp = out_tensor(p, 0, EMBER_FLOAT, 1, dp);
    if (!same_bytes(ya, yb)) fail_msg("%s: same seed, different output",
                                      ops[o]);
    if (memcmp(ya->data, yp->data, yp->nbytes))
      fail_msg("%s: a shorter output is not a prefix", ops[o]);
    optest_free(a);
    optest_free(b);
    optest_free(p);
  }
}

static void test_different_seeds_differ(void **state) {
  (void)state;
  float s1 = 1.0f, s2 = 2.0f;
  optest *a = fixed_op("RandomUniform", 1000, 0, &s1);
  optest *b = fixed_op("RandomUniform", 1000, 0, &s2);
  must_run(a);
  must_run(b);
  int64_t d[1] = {1000};
  size_t diff = n_differ(out_tensor(a, 0, EMBER_FLOAT, 1, d),
                         out_tensor(b, 0, EMBER_FLOAT, 1, d));
  if (diff < 990) fail_msg("seeds 1 and 2 agree on %zu of 1000", 1000 - diff);
  optest_free(a);
  optest_free(b);
}

static void test_unseeded_runs_differ(void **state) {
  (void)state;
  optest *a = fixed_op("RandomNormal", 1000, 0, NULL);
  optest *b = fixed_op("RandomNormal", 1000, 0, NULL);
  must_run(a);
  must_run(b);
  int64_t d[1] = {1000};
  size_t diff = n_differ(out_tensor(a, 0, EMBER_FLOAT, 1, d),
                         out_tensor(b, 0, EMBER_FLOAT, 1, d));
  if (diff < 990)
    fail_msg("two unseeded runs agree on %zu of 1000", 1000 - diff);
  optest_free(a);
  optest_free(b);
}

/* No random operator may be computed once at load. */
static void test_never_folded(void **state) {
  (void)state;
  const emb_opdef *defs[] = {
      &emb_op_randomnormal, &emb_op_randomuniform, &emb_op_randomnormallike,
      &emb_op_randomuniformlike, &emb_op_bernoulli, &emb_op_multinomial,
      &emb_op_dropout};
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
    if (!(defs[i]->flags & EMB_OP_NO_FOLD))
      fail_msg("definition %zu lacks EMB_OP_NO_FOLD", i);
  /* an unseeded RandomUniformLike of a constant still draws at run */
  int64_t d[1] = {500};
  static float zeros[500];
  optest *a = optest_new("RandomUniformLike", OPSET);
  optest_input_const(a, EMBER_FLOAT, 1, d, zeros);
  optest *b = optest_new("RandomUniformLike", OPSET);
  optest_input_const(b, EMBER_FLOAT, 1, d, zeros);
  must_run(a);
  must_run(b);
  if (n_differ(out_tensor(a, 0, EMBER_FLOAT, 1, d),
               out_tensor(b, 0, EMBER_FLOAT, 1, d)) < 490)
    fail_msg("unseeded RandomUniformLike of a constant repeats itself");
  optest_free(a);
  optest_free(b);
}

/* ------------------------------------------------------ distributions */

static void test_normal_statistics(void **state) {
  (void)state;
  static const int32_t types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                  EMBER_BFLOAT16};
  const double mu = 2.0, sd = 3.0;
  for (size_t k = 0; k < 4; k++) {
    float seed = (float)(11 + k);
    optest *t = fixed_op("RandomNormal", NBIG, types[k], &seed);
    optest_attr_float(t, "mean", (float)mu);
    optest_attr_float(t, "scale", (float)sd);
    must_run(t);
    int64_t d[1] = {NBIG};
    const emb_tensor *y = out_tensor(t, 0, types[k], 1, d);
    double m, v;
    mean_var(y, &m, &v);
    /* bfloat16 keeps 8 bits: its rounding adds variance ~ (x 2^-9)^2 / 3 */
    double slack = types[k] == EMBER_BFLOAT16 ? 0.01 * sd * sd : 0.0;
    within_5_sigma("mean", m, mu, sd / sqrt(NBIG));
    within_5_sigma("variance", v, sd * sd,
                   sd * sd * sqrt(2.0 / (NBIG - 1)) + slack);
    /* the shape of the bell: P(|z| < 1) and P(|z| < 2) */
    size_t in1 = 0, in2 = 0;
    for (size_t i = 0; i < NBIG; i++) {
      double z = fabs(emb_tensor_get_f64(y, i) - mu) / sd;
      in1 += z < 1.0;
      in2 += z < 2.0;
    }
    if (types[k] != EMBER_BFLOAT16) {
      count_ok("within 1 sigma", in1, NBIG, 0.682689492137);
      count_ok("within 2 sigma", in2, NBIG, 0.954499736104);
    }
    optest_free(t);
  }
}

static void test_uniform_statistics(void **state) {
  (void)state;
  static const int32_t types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                  EMBER_BFLOAT16};
  const double lo = -1.0, hi = 3.0, w = hi - lo;
  for (size_t k = 0; k < 4; k++) {
    float seed = (float)(21 + k);
    optest *t = fixed_op("RandomUniform", NBIG, types[k], &seed);
    optest_attr_float(t, "low", (float)lo);
    optest_attr_float(t, "high", (float)hi);
    must_run(t);
    int64_t d[1] = {NBIG};
    const emb_tensor *y = out_tensor(t, 0, types[k], 1, d);
    size_t bins[8] = {0};
    for (size_t i = 0; i < NBIG; i++) {
      double v = emb_tensor_get_f64(y, i);
      if (!(v >= lo && v < hi))
        fail_msg("%s element %zu = %.9g is outside [%g, %g)",
                 ember_dtype_name(types[k]), i, v, lo, hi);
      bins[(size_t)((v - lo) / w * 8)]++;
    }
    if (types[k] == EMBER_FLOAT || types[k] == EMBER_DOUBLE) {
      double m, v;
      mean_var(y, &m, &v);
      within_5_sigma("mean", m, (lo + hi) / 2, w / sqrt(12.0 * NBIG));
      within_5_sigma("variance", v, w * w / 12,
                     w * w * sqrt((1.0 / 80 - 1.0 / 144) / NBIG));
      for (int b = 0; b < 8; b++) count_ok("bin count", bins[b], NBIG, 0.125);
    }
    optest_free(t);
  }
}

/* Values that round up to `high` in a narrow type are kept below it. */
static void test_uniform_half_open_narrow(void **state) {
  (void)state;
  float seed = 5.0f;
  optest *t = fixed_op("RandomUniform", NBIG, EMBER_BFLOAT16, &seed);
  must_run(t);
  int64_t d[1] = {NBIG};
  const emb_tensor *y = out_tensor(t, 0, EMBER_BFLOAT16, 1, d);
  size_t top = 0;
  for (size_t i = 0; i < NBIG; i++) {
    double v = emb_tensor_get_f64(y, i);
    if (!(v >= 0.0 && v < 1.0)) fail_msg("element %zu = %g", i, v);
    top += v == 1.0 - 1.0 / 256; /* the largest bfloat16 below 1 */
  }
  /* [1 - 2^-9, 1) rounds up to 1 and is moved down: about 2^-9 of all */
  if (top == 0) fail_msg("no value at the top of the range");
  optest_free(t);
}

static void test_like_shapes_and_types(void **state) {
  (void)state;
  int64_t d[3] = {2, 3, 4};
  static int32_t ints[24];
  static uint16_t halves[24];
  /* dtype given: any input type, its shape */
  optest *t = optest_new("RandomUniformLike", OPSET);
  optest_attr_int(t, "dtype", EMBER_DOUBLE);
  optest_attr_float(t, "seed", 3.0f);
  optest_input(t, EMBER_INT32, 3, d, ints);
  must_run(t);
  const emb_tensor *y = out_tensor(t, 0, EMBER_DOUBLE, 3, d);
  for (size_t i = 0; i < 24; i++) {
    double v = emb_tensor_get_f64(y, i);
    if (!(v >= 0 && v < 1)) fail_msg("element %zu = %g", i, v);
  }
  optest_free(t);
  /* no dtype: the input's */
  t = optest_new("RandomNormalLike", OPSET);
  optest_input(t, EMBER_FLOAT16, 3, d, halves);
  must_run(t);
  out_tensor(t, 0, EMBER_FLOAT16, 3, d);
  optest_free(t);
  /* no dtype and an integer input: not a valid output type */
  t = optest_new("RandomNormalLike", OPSET);
  optest_input(t, EMBER_INT32, 3, d, ints);
  must_fail(t, EMBER_ERR_TYPE, "dtype");
  optest_free(t);
  /* empty and scalar shapes */
  int64_t e[2] = {0, 3};
  t = optest_new("RandomNormal", OPSET);
  optest_attr_ints(t, "shape", 2, e);
  must_run(t);
  out_tensor(t, 0, EMBER_FLOAT, 2, e);
  optest_free(t);
  t = optest_new("RandomUniform", OPSET);
  optest_attr_ints(t, "shape", 0, NULL);
  must_run(t);
  out_tensor(t, 0, EMBER_FLOAT, 0, NULL);
  optest_free(t);
}

static void test_bernoulli_frequencies(void **state) {
  (void)state;
  static const double ps[5] = {0.0, 0.1, 0.5, 0.9, 1.0};
  static float p[NBIG];
  for (size_t i = 0; i < NBIG; i++) p[i] = (float)ps[i % 5];
  static const int32_t outs[] = {0, EMBER_BOOL, EMBER_INT64, EMBER_DOUBLE};
  for (size_t o = 0; o < 4; o++) {
    int64_t d[1] = {NBIG};
    optest *t = optest_new("Bernoulli", OPSET);
    if (outs[o]) optest_attr_int(t, "dtype", outs[o]);
    optest_attr_float(t, "seed", (float)(31 + o));
    optest_input(t, EMBER_FLOAT, 1, d, p);
    must_run(t);
    const emb_tensor *y = out_tensor(t, 0, outs[o] ? outs[o] : EMBER_FLOAT,
                                     1, d);
    size_t ones[5] = {0};
    for (size_t i = 0; i < NBIG; i++) {
      double v = emb_tensor_get_f64(y, i);
      if (v != 0 && v != 1) fail_msg("element %zu = %g", i, v);
      ones[i % 5] += v == 1;
    }
    if (ones[0] != 0) fail_msg("p = 0 gave %zu ones", ones[0]);
    if (ones[4] != NBIG / 5) fail_msg("p = 1 gave %zu zeros",
                                      NBIG / 5 - ones[4]);
    for (int g = 1; g < 4; g++) count_ok("ones", ones[g], NBIG / 5, ps[g]);
    optest_free(t);
  }
  /* the same seed, the same draw; double probabilities */
  static double pd[1000];
  for (size_t i = 0; i < 1000; i++) pd[i] = 0.5;
  int64_t d[1] = {1000};
  optest *a = optest_new("Bernoulli", OPSET);
  optest *b = optest_new("Bernoulli", OPSET);
  optest_attr_float(a, "seed", 0.0f);
  optest_attr_float(b, "seed", 0.0f);
  optest_input(a, EMBER_DOUBLE, 1, d, pd);
  optest_input(b, EMBER_DOUBLE, 1, d, pd);
  must_run(a);
  must_run(b);
  if (!same_bytes(out_tensor(a, 0, EMBER_DOUBLE, 1, d),
                  out_tensor(b, 0, EMBER_DOUBLE, 1, d)))
    fail_msg("Bernoulli: same seed, different output");
  optest_free(a);
  optest_free(b);
}

static void test_multinomial_counts(void **state) {
  (void)state;
  /* row 0: probabilities 0.1 .. 0.4 as unnormalized logs (shifted by 5,
   * which must not matter); row 1: class 0 impossible, 1 and 2 even */
  const double pr[2][4] = {{0.1, 0.2, 0.3, 0.4}, {0.0, 0.5, 0.5, 0.0}};
  float x[8];
  for (int c = 0; c < 4; c++) {
    x[c] = (float)(log(pr[0][c]) + 5.0);
    x[4 + c] = pr[1][c] > 0 ? 0.0f : -INFINITY;
  }
  const int64_t samples = 50000;
  static const int32_t types[] = {0, EMBER_INT64};
  for (int o = 0; o < 2; o++) {
    int64_t d[2] = {2, 4}, od[2] = {2, samples};
    optest *t = optest_new("Multinomial", OPSET);
    optest_attr_int(t, "sample_size", samples);
    optest_attr_float(t, "seed", 8.0f);
    if (types[o]) optest_attr_int(t, "dtype", types[o]);
    optest_input(t, EMBER_FLOAT, 2, d, x);
    must_run(t);
    const emb_tensor *y =
        out_tensor(t, 0, types[o] ? types[o] : EMBER_INT32, 2, od);
    for (int r = 0; r < 2; r++) {
      size_t cnt[4] = {0};
      for (int64_t s = 0; s < samples; s++) {
        int64_t v = emb_tensor_get_i64(y, (size_t)(r * samples + s));
        if (v < 0 || v > 3) fail_msg("row %d sample %lld = %lld", r,
                                     (long long)s, (long long)v);
        cnt[v]++;
      }
      for (int c = 0; c < 4; c++) {
        if (pr[r][c] == 0.0) {
          if (cnt[c]) fail_msg("row %d: impossible class %d drawn %zu times",
                               r, c, cnt[c]);
          continue;
        }
        count_ok("class count", cnt[c], (size_t)samples, pr[r][c]);
      }
    }
    optest_free(t);
  }
}

/* --------------------------------------------------------- Dropout */

static void test_dropout_training(void **state) {
  (void)state;
  static float x[NBIG];
  for (size_t i = 0; i < NBIG; i++) x[i] = (float)(i % 97) - 48.5f;
  int64_t d[1] = {NBIG};
  float ratio = 0.3f;
  bool train = true;
  optest *t = optest_new("Dropout", 13);
  optest_attr_int(t, "seed", 4);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  optest_input(t, EMBER_FLOAT, 0, NULL, &ratio);
  optest_input(t, EMBER_BOOL, 0, NULL, &train);
  optest_outputs(t, 2);
  must_run(t);
  const emb_tensor *y = out_tensor(t, 0, EMBER_FLOAT, 1, d);
  const emb_tensor *m = out_tensor(t, 1, EMBER_BOOL, 1, d);
  float scale = 1.0f / (1.0f - ratio);
  size_t kept = 0;
  for (size_t i = 0; i < NBIG; i++) {
    float yv = ((const float *)y->data)[i];
    bool mv = ((const uint8_t *)m->data)[i];
    float want = mv ? x[i] * scale : 0.0f;
    if (fabsf(yv - want) > 1e-5f * fabsf(want))
      fail_msg("element %zu: y = %g with mask %d, expected %g", i, yv,
               (int)mv, want);
    kept += mv;
  }
  count_ok("kept", kept, NBIG, 1.0 - ratio);
  /* the same seed gives the same mask (only output 0 asked for) */
  optest *b = optest_new("Dropout", 13);
  optest_attr_int(b, "seed", 4);
  optest_input(b, EMBER_FLOAT, 1, d, x);
  optest_input(b, EMBER_FLOAT, 0, NULL, &ratio);
  optest_input(b, EMBER_BOOL, 0, NULL, &train);
  must_run(b);
  if (!same_bytes(y, out_tensor(b, 0, EMBER_FLOAT, 1, d)))
    fail_msg("Dropout: same seed, different output");
  optest_free(b);
  optest_free(t);
}

static void test_dropout_edges(void **state) {
  (void)state;
  float x[5] = {1, -2, 3, -4, 5};
  int64_t d[1] = {5};
  bool train = true, infer = false;
  /* ratio 1: everything dropped (0 and mask false, not NaN) */
  float one = 1.0f;
  optest *t = optest_new("Dropout", 22);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  optest_input(t, EMBER_FLOAT, 0, NULL, &one);
  optest_input(t, EMBER_BOOL, 0, NULL, &train);
  optest_outputs(t, 2);
  must_run(t);
  const emb_tensor *y = out_tensor(t, 0, EMBER_FLOAT, 1, d);
  const emb_tensor *m = out_tensor(t, 1, EMBER_BOOL, 1, d);
  for (int i = 0; i < 5; i++)
    if (((const float *)y->data)[i] != 0.0f || ((const uint8_t *)m->data)[i])
      fail_msg("ratio 1, element %d: %g, mask %d", i,
               ((const float *)y->data)[i], ((const uint8_t *)m->data)[i]);
  optest_free(t);
  /* ratio 0 in training, or inference with any ratio: a copy */
  float zero = 0.0f, half = 0.5f;
  for (int k = 0; k < 2; k++) {
    t = optest_new("Dropout", 22);
    optest_input(t, EMBER_FLOAT, 1, d, x);
    optest_input(t, EMBER_FLOAT, 0, NULL, k ? &half : &zero);
    optest_input(t, EMBER_BOOL, 0, NULL, k ? &infer : &train);
    optest_outputs(t, 2);
    must_run(t);
    y = out_tensor(t, 0, EMBER_FLOAT, 1, d);
    m = out_tensor(t, 1, EMBER_BOOL, 1, d);
    for (int i = 0; i < 5; i++)
      if (((const float *)y->data)[i] != x[i] || !((const uint8_t *)m->data)[i])
        fail_msg("case %d element %d changed", k, i);
    optest_free(t);
  }
  /* float16 data, default ratio 0.5 (omitted) */
  uint16_t h[5];
  for (int i = 0; i < 5; i++) h[i] = emb_f32_to_f16(x[i]);
  t = optest_new("Dropout", 22);
  optest_attr_int(t, "seed", 1);
  optest_input(t, EMBER_FLOAT16, 1, d, h);
  optest_input_none(t);
  optest_input(t, EMBER_BOOL, 0, NULL, &train);
  optest_outputs(t, 2);
  must_run(t);
  y = out_tensor(t, 0, EMBER_FLOAT16, 1, d);
  m = out_tensor(t, 1, EMBER_BOOL, 1, d);
  for (int i = 0; i < 5; i++) {
    double yv = emb_tensor_get_f64(y, i);
    double want = ((const uint8_t *)m->data)[i] ? 2.0 * x[i] : 0.0;
    if (yv != want) fail_msg("float16 element %d: %g, expected %g", i, yv,
                             want);
  }
  optest_free(t);
  /* a ratio above 1 is refused at run */
  float bad = 1.5f;
  t = optest_new("Dropout", 22);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  optest_input(t, EMBER_FLOAT, 0, NULL, &bad);
  optest_input(t, EMBER_BOOL, 0, NULL, &train);
  must_fail(t, EMBER_ERR_RUNTIME, "ratio");
  optest_free(t);
}

/* ------------------------------------------------------------- errors */

static void test_random_errors(void **state) {
  (void)state;
  int64_t neg[2] = {2, -1};
  optest *t = optest_new("RandomNormal", OPSET); /* no shape */
  must_fail(t, EMBER_ERR_INVALID_MODEL, "shape");
  optest_free(t);
  t = optest_new("RandomUniform", OPSET);
  optest_attr_ints(t, "shape", 2, neg);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "negative");
  optest_free(t);
  t = fixed_op("RandomNormal", 4, EMBER_INT32, NULL);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "dtype");
  optest_free(t);
  t = fixed_op("RandomNormal", 4, 0, NULL);
  optest_attr_string(t, "seed", "x");
  must_fail(t, EMBER_ERR_INVALID_MODEL, "seed");
  optest_free(t);

  float p[3] = {0.5f, 1.5f, 0.0f};
  int64_t d3[1] = {3};
  t = optest_new("Bernoulli", OPSET);
  optest_input(t, EMBER_FLOAT, 1, d3, p);
  must_fail(t, EMBER_ERR_RUNTIME, "outside [0, 1]");
  optest_free(t);
  t = optest_new("Bernoulli", OPSET);
  optest_attr_int(t, "dtype", EMBER_STRING);
  optest_input(t, EMBER_FLOAT, 1, d3, p);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "dtype");
  optest_free(t);

  float lp[4] = {0, 0, -INFINITY, -INFINITY};
  int64_t d22[2] = {2, 2};
  t = optest_new("Multinomial", OPSET);
  optest_input(t, EMBER_FLOAT, 1, d3, lp); /* rank 1 */
  must_fail(t, EMBER_ERR_SHAPE, "2-D");
  optest_free(t);
  t = optest_new("Multinomial", OPSET);
  optest_input(t, EMBER_FLOAT, 2, d22, lp); /* row 1 all -inf */
  must_fail(t, EMBER_ERR_RUNTIME, "row 1");
  optest_free(t);
  t = optest_new("Multinomial", OPSET);
  optest_attr_int(t, "dtype", EMBER_FLOAT);
  optest_input(t, EMBER_FLOAT, 2, d22, lp);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "dtype");
  optest_free(t);
  t = optest_new("Multinomial", OPSET);
  optest_attr_int(t, "sample_size", -2);
  optest_input(t, EMBER_FLOAT, 2, d22, lp);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "sample_size");
  optest_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_philox_known_answers),
      cmocka_unit_test(test_rng_split_invariant),
      cmocka_unit_test(test_rng_seed_attr),
      cmocka_unit_test(test_same_seed_same_output),
      cmocka_unit_test(test_different_seeds_differ),
      cmocka_unit_test(test_unseeded_runs_differ),
      cmocka_unit_test(test_never_folded),
      cmocka_unit_test(test_normal_statistics),
      cmocka_unit_test(test_uniform_statistics),
      cmocka_unit_test(test_uniform_half_open_narrow),
      cmocka_unit_test(test_like_shapes_and_types),
      cmocka_unit_test(test_bernoulli_frequencies),
      cmocka_unit_test(test_multinomial_counts),
      cmocka_unit_test(test_dropout_training),
      cmocka_unit_test(test_dropout_edges),
      cmocka_unit_test(test_random_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
