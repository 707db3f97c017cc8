/*
 * Unit tests for the elementwise operators (lib/ops/elementwise.c) and
 * Cast (lib/ops/cast.c), through the one-node harness (optest.h).  Every
 * expected value is computed here from the inputs: libm in double for the
 * unary maths, numpy broadcasting by index arithmetic for the binary and
 * variadic ops, a brute-force nearest search for float16 rounding.  Edge
 * shapes (scalars, size-1 and odd dims, empty tensors, three-way
 * broadcasts), integer wrap-around and division by zero, NaN handling, the
 * opset-6 broadcast attributes and the errors (status plus a message naming
 * the node 'n0') are covered.
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

#include "optest.h"

/* Shared harness helpers (tests/unit/optest.c). */
#define must_run optest_must_run

/* ------------------------------------------------------------ helpers */


/* The run must fail with `want`, and the message must name the node and
 * contain `part`. */
static void must_fail(optest *t, ember_status want, const char *part) {
  ember_status st = optest_run(t);
  const char *msg = optest_errmsg(t);
  if (st != want)
    fail_msg("status %d, expected %d (message: %s)", (int)st, (int)want, msg);
  if (!strstr(msg, "'n0'")) fail_msg("message '%s' does not name the node", msg);
  if (part && !strstr(msg, part))
    fail_msg("message '%s' lacks '%s'", msg, part);
}

/* Output i, checked for dtype and shape. */
static const emb_tensor *out_t(optest *t, int i, int32_t dtype, int rank,
                               const int64_t *dims) {
  const emb_value *v = optest_output(t, i);
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  if (v->t.dtype != dtype)
    fail_msg("output %d has type %s, expected %s", i,
             ember_dtype_name(v->t.dtype), ember_dtype_name(dtype));
  assert_int_equal(v->t.rank, rank);
  for (int k = 0; k < rank; k++)
    if (v->t.dims[k] != dims[k])
      fail_msg("output %d dimension %d is %lld, expected %lld", i, k,
               (long long)v->t.dims[k], (long long)dims[k]);
  return &v->t;
}

static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int k = 0; k < rank; k++) n *= (size_t)dims[k];
  return n;
}

/* Element of an input (rank r, dims d) that numpy broadcasting reads for
 * flat output index `flat` of an output of rank orank, dims od. */
static size_t bidx(int orank, const int64_t *od, size_t flat, int r,
                   const int64_t *d) {
  size_t idx = 0, stride = 1;
  for (int k = orank - 1; k >= 0; k--) {
    size_t ik = flat % (size_t)od[k];
    flat /= (size_t)od[k];
    int j = k - (orank - r);
    if (j < 0) continue;
    if (d[j] != 1) idx += ik * stride;
    stride *= (size_t)d[j];
  }
  return idx;
}

static void expect_close(double got, double want, double rtol, double atol,
                         size_t i) {
  if (isnan(want) && isnan(got)) return;
  if (got == want) return;
  if (!(fabs(got - want) <= atol + rtol * fabs(want)))
    fail_msg("element %zu: got %.9g, expected %.9g", i, got, want);
}

static void expect_ints(const emb_tensor *t, const int64_t *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (emb_tensor_get_i64(t, i) != want[i])
      fail_msg("element %zu: got %lld, expected %lld", i,
               (long long)emb_tensor_get_i64(t, i), (long long)want[i]);
}

/* Nearest float16 to v, ties to even, by search: an independent
 * reference for the library's conversions. */
static uint16_t ref_f16(double v) {
  if (isnan(v)) return 0x7e00;
  uint16_t best = 0;
  double bd = INFINITY;
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN */
    double f = emb_f16_to_f32((uint16_t)h);
    double d = fabs(f - v);
    if ((h & 0x7fff) == 0x7c00) { /* inf: nearest past 65520 */
      if (fabs(v) >= 65520.0 && (v > 0) == !(h & 0x8000)) return (uint16_t)h;
      continue;
    }
    if (d < bd || (d == bd && !(h & 1))) {
      if (d == bd && f == 0 && signbit(f) != signbit(v)) continue;
      bd = d;
      best = (uint16_t)h;
    }
  }
  return best;
}

/* --------------------------------------------------------- unary maths */

typedef struct unary_case {
  const char *op;
  double (*ref)(double x);
  const char *attr1;
  float v1;
  const char *attr2;
  float v2;
} unary_case;

static double r_relu(double x) { return x < 0 ? 0 : x; }
static double r_leaky(double x) { return x < 0 ? 0.1 * x : x; }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_tanh(double x) { return tanh(x); }
static double r_erf(double x) { return erf(x); }
static double r_sqrt(double x) { return sqrt(x); }
static double r_exp(double x) { return exp(x); }
static double r_log(double x) { return log(x); }
static double r_neg(double x) { return -x; }
static double r_abs(double x) { return fabs(x); }
static double r_recip(double x) { return 1 / x; }
static double r_elu(double x) { return x < 0 ? 0.5 * (exp(x) - 1) : x; }
static double r_selu(double x) {
  double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
  return x <= 0 ? g * (a * exp(x) - a) : g * x;
}
static double r_softplus(double x) { return log(exp(x) + 1); }
static double r_shrink(double x) {
  return x < -1.5 ? x + 0.5 : x > 1.5 ? x - 0.5 : 0;
}
static double r_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

static const unary_case unary_cases[] = {
    {"Relu", r_relu, NULL, 0, NULL, 0},
    {"LeakyRelu", r_leaky, "alpha", 0.1f, NULL, 0},
    {"Sigmoid", r_sigmoid, NULL, 0, NULL, 0},
    {"Tanh", r_tanh, NULL, 0, NULL, 0},
    {"Erf", r_erf, NULL, 0, NULL, 0},
    {"Sqrt", r_sqrt, NULL, 0, NULL, 0},
    {"Exp", r_exp, NULL, 0, NULL, 0},
    {"Log", r_log, NULL, 0, NULL, 0},
    {"Neg", r_neg, NULL, 0, NULL, 0},
    {"Abs", r_abs, NULL, 0, NULL, 0},
    {"Reciprocal", r_recip, NULL, 0, NULL, 0},
    {"Elu", r_elu, "alpha", 0.5f, NULL, 0},
    {"Selu", r_selu, NULL, 0, NULL, 0},
    {"Softplus", r_softplus, NULL, 0, NULL, 0},
    {"Shrink", r_shrink, "lambd", 1.5f, "bias", 0.5f},
    {"Sign", r_sign, NULL, 0, NULL, 0},
};

static const float unary_x[] = {-100.0f, -3.5f, -1.5f, -1.0f, -0.25f,
                                0.0f,    0.25f, 1.0f,  1.75f, 2.5f,
                                7.0f,    30.0f, 100.0f, 1e-3f, -2e-3f};

static void test_unary_float32(void **state) {
  (void)state;
  int64_t dims[2] = {3, 5};
  size_t n = 15;
  for (size_t c = 0; c < sizeof unary_cases / sizeof unary_cases[0]; c++) {
    const unary_case *u = &unary_cases[c];
    optest *t = optest_new(u->op, 13);
    if (u->attr1) optest_attr_float(t, u->attr1, u->v1);
    if (u->attr2) optest_attr_float(t, u->attr2, u->v2);
    optest_input(t, EMBER_FLOAT, 2, dims, unary_x);
    must_run(t);
    const emb_tensor *y = out_t(t, 0, EMBER_FLOAT, 2, dims);
    for (size_t i = 0; i < n; i++) {
      double want = (float)u->ref(unary_x[i]);
      double got = ((const float *)y->data)[i];
      if (isnan(want) != isnan(got) ||
          (!isnan(want) && got != want &&
           !(fabs(got - want) <= 1e-7 + 1e-5 * fabs(want))))
        fail_msg("%s(%g): got %.9g, expected %.9g", u->op,
                 (double)unary_x[i], got, want);
    }
    optest_free(t);
  }
}

static void test_unary_double_and_half(void **state) {
  (void)state;
  int64_t dims[1] = {15};
  for (size_t c = 0; c < sizeof unary_cases / sizeof unary_cases[0]; c++) {
    const unary_case *u = &unary_cases[c];
    double xd[15];
    uint16_t xh[15];
    for (int i = 0; i < 15; i++) {
      xd[i] = unary_x[i] / 4.0; /* keeps exp() inside float16 range */
      xh[i] = emb_f32_to_f16((float)xd[i]);
    }
    optest *t = optest_new(u->op, 13);
    if (u->attr1) optest_attr_float(t, u->attr1, u->v1);
    if (u->attr2) optest_attr_float(t, u->attr2, u->v2);
    optest_input(t, EMBER_DOUBLE, 1, dims, xd);
    must_run(t);
    const emb_tensor *y = out_t(t, 0, EMBER_DOUBLE, 1, dims);
    for (size_t i = 0; i < 15; i++)
      expect_close(((const double *)y->data)[i], u->ref(xd[i]), 1e-6, 1e-7,
                   i);
    optest_free(t);

    t = optest_new(u->op, 13);
    if (u->attr1) optest_attr_float(t, u->attr1, u->v1);
    if (u->attr2) optest_attr_float(t, u->attr2, u->v2);
    optest_input(t, EMBER_FLOAT16, 1, dims, xh);
    must_run(t);
    y = out_t(t, 0, EMBER_FLOAT16, 1, dims);
    for (size_t i = 0; i < 15; i++) {
      /* the exact result rounded to float16 (beyond 65504: inf) */
      double want = emb_f16_to_f32(
          emb_f32_to_f16((float)u->ref(emb_f16_to_f32(xh[i]))));
      expect_close(emb_f16_to_f32(((const uint16_t *)y->data)[i]), want,
                   2e-3, 1e-4, i);
    }
    optest_free(t);
  }
}

static void test_unary_integers(void **state) {
  (void)state;
  int32_t x[6] = {INT32_MIN, -7, -1, 0, 5, INT32_MAX};
  int64_t dims[1] = {6};
  struct {
    const char *op;
    int64_t want[6];
  } cases[] = {
      {"Relu", {0, 0, 0, 0, 5, INT32_MAX}},
      /* -INT32_MIN wraps to itself, as in two's complement */
      {"Neg", {INT32_MIN, 7, 1, 0, -5, -INT32_MAX}},
      {"Abs", {INT32_MIN, 7, 1, 0, 5, INT32_MAX}},
      {"Sign", {-1, -1, -1, 0, 1, 1}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    optest *t = optest_new(cases[c].op, 14);
    optest_input(t, EMBER_INT32, 1, dims, x);
    must_run(t);
    expect_ints(out_t(t, 0, EMBER_INT32, 1, dims), cases[c].want, 6);
    optest_free(t);
  }
  uint8_t u[4] = {0, 1, 128, 255};
  int64_t ud[1] = {4}, uabs[4] = {0, 1, 128, 255}, usign[4] = {0, 1, 1, 1};
  optest *t = optest_new("Abs", 13);
  optest_input(t, EMBER_UINT8, 1, ud, u);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_UINT8, 1, ud), uabs, 4);
  optest_free(t);
  t = optest_new("Sign", 13);
  optest_input(t, EMBER_UINT8, 1, ud, u);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_UINT8, 1, ud), usign, 4);
  optest_free(t);
  /* Shrink on integers: float lambd/bias */
  int16_t s[5] = {-9, -2, 0, 2, 9};
  int64_t sd[1] = {5}, swant[5] = {-6, 0, 0, 0, 6};
  t = optest_new("Shrink", 9);
  optest_attr_float(t, "lambd", 2.5f);
  optest_attr_float(t, "bias", 3.0f);
  optest_input(t, EMBER_INT16, 1, sd, s);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT16, 1, sd), swant, 5);
  optest_free(t);
}

static void test_unary_edge_shapes(void **state) {
  (void)state;
  /* scalar */
  float x = -2.0f, want = 0.0f;
  optest *t = optest_new("Relu", 14);
  optest_input(t, EMBER_FLOAT, 0, NULL, &x);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 0, NULL, &want, 0, 0);
  optest_free(t);
  /* empty */
  int64_t ed[3] = {2, 0, 3};
  t = optest_new("Sigmoid", 13);
  optest_input(t, EMBER_FLOAT, 3, ed, &x);
  must_run(t);
  out_t(t, 0, EMBER_FLOAT, 3, ed);
  optest_free(t);
  /* a constant input is folded at load: same answer */
  int64_t d1[1] = {3};
  float xs[3] = {1, 0, 4}, ys[3] = {1, 0, 2};
  t = optest_new("Sqrt", 13);
  optest_input_const(t, EMBER_FLOAT, 1, d1, xs);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 1, d1, ys, 0, 0);
  optest_free(t);
}

static void test_unary_errors(void **state) {
  (void)state;
  int64_t d[1] = {2};
  int32_t xi[2] = {1, 2};
  optest *t = optest_new("Sigmoid", 13);
  optest_input(t, EMBER_INT32, 1, d, xi);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
  t = optest_new("Not", 1);
  optest_input(t, EMBER_FLOAT, 1, d, (float[]){1, 2});
  must_fail(t, EMBER_ERR_UNSUPPORTED, "float32");
  optest_free(t);
  t = optest_new("LeakyRelu", 16);
  optest_attr_string(t, "alpha", "big");
  optest_input(t, EMBER_FLOAT, 1, d, (float[]){1, 2});
  must_fail(t, EMBER_ERR_INVALID_MODEL, "alpha");
  optest_free(t);
  t = optest_new("Shrink", 9);
  optest_attr_float(t, "lambd", -1.0f);
  optest_input(t, EMBER_FLOAT, 1, d, (float[]){1, 2});
  must_fail(t, EMBER_ERR_INVALID_MODEL, "lambd");
  optest_free(t);
}

static void test_not(void **state) {
  (void)state;
  uint8_t x[5] = {0, 1, 1, 0, 1};
  int64_t d[2] = {1, 5}, want[5] = {1, 0, 0, 1, 0};
  optest *t = optest_new("Not", 1);
  optest_input(t, EMBER_BOOL, 2, d, x);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_BOOL, 2, d), want, 5);
  optest_free(t);
}

/* ----------------------------------------------------------------- Clip */

static void clip_ref(const float *x, size_t n, float lo, float hi,
                     float *y) {
  for (size_t i = 0; i < n; i++) {
    float v = x[i] < lo ? lo : x[i];
    y[i] = v > hi ? hi : v;
    if (isnan(x[i])) y[i] = x[i];
  }
}

static void test_clip(void **state) {
  (void)state;
  float x[7] = {-5, -1, -0.5f, 0, 0.5f, 3, NAN}, y[7];
  int64_t d[1] = {7};
  float lo = -1.0f, hi = 0.75f;
  /* opset 6: attributes */
  optest *t = optest_new("Clip", 6);
  optest_attr_float(t, "min", lo);
  optest_attr_float(t, "max", hi);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_run(t);
  clip_ref(x, 7, lo, hi, y);
  optest_expect_f32(optest_output(t, 0), 1, d, y, 0, 0);
  optest_free(t);
  /* opset 6 with only max */
  t = optest_new("Clip", 6);
  optest_attr_float(t, "max", hi);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_run(t);
  clip_ref(x, 7, -INFINITY, hi, y);
  optest_expect_f32(optest_output(t, 0), 1, d, y, 0, 0);
  optest_free(t);
  /* opset 13: inputs, min only, max only, none, min > max */
  struct {
    bool has_lo, has_hi;
    float lo, hi;
  } cases[] = {{true, true, -1, 0.75f}, {true, false, 0, 0},
               {false, true, 0, 1},     {false, false, 0, 0},
               {true, true, 2, 1}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    t = optest_new("Clip", 13);
    optest_input(t, EMBER_FLOAT, 1, d, x);
    if (cases[c].has_lo)
      optest_input(t, EMBER_FLOAT, 0, NULL, &cases[c].lo);
    else
      optest_input_none(t);
    if (cases[c].has_hi)
      optest_input_const(t, EMBER_FLOAT, 0, NULL, &cases[c].hi);
    must_run(t);
    clip_ref(x, 7, cases[c].has_lo ? cases[c].lo : -INFINITY,
             cases[c].has_hi ? cases[c].hi : INFINITY, y);
    optest_expect_f32(optest_output(t, 0), 1, d, y, 0, 0);
    optest_free(t);
  }
  /* int8 with only min: max defaults to 127 */
  int8_t xi[5] = {-128, -3, 0, 100, 127};
  int8_t mn = -2;
  int64_t d5[1] = {5}, want[5] = {-2, -2, 0, 100, 127};
  t = optest_new("Clip", 13);
  optest_input(t, EMBER_INT8, 1, d5, xi);
  optest_input(t, EMBER_INT8, 0, NULL, &mn);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT8, 1, d5), want, 5);
  optest_free(t);
  /* a bound that is not a scalar */
  int64_t d2[1] = {2};
  t = optest_new("Clip", 13);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  optest_input_const(t, EMBER_FLOAT, 1, d2, (float[]){0, 1});
  must_fail(t, EMBER_ERR_SHAPE, "min");
  optest_free(t);
}

/* ---------------------------------------------------- binary broadcast */

typedef struct shape {
  int rank;
  int64_t dims[4];
} shape;

/* A deterministic float in [-4, 4) that is never 0 for division. */
static float fval(size_t i, int salt) {
  float v = (float)((i * 7 + (size_t)salt * 13) % 17) / 2.0f - 4.0f;
  return v == 0 ? 0.5f : v;
}

static double bref(const char *op, double a, double b) {
  if (!strcmp(op, "Add")) return a + b;
  if (!strcmp(op, "Sub")) return a - b;
  if (!strcmp(op, "Mul")) return a * b;
  if (!strcmp(op, "Div")) return a / b;
  if (!strcmp(op, "Pow")) return pow(fabs(a), b);
  if (!strcmp(op, "Max")) return a > b ? a : b;
  if (!strcmp(op, "Min")) return a < b ? a : b;
  if (!strcmp(op, "Sum")) return a + b;
  if (!strcmp(op, "Equal")) return a == b;
  if (!strcmp(op, "Less")) return a < b;
  if (!strcmp(op, "Greater")) return a > b;
  return NAN;
}

/* Run op on two float inputs of the given shapes, compare with the
 * reference broadcast. */
static void check_binary(const char *op, int opset, shape sa, shape sb,
                         shape so) {
  size_t na = numel(sa.rank, sa.dims), nb = numel(sb.rank, sb.dims);
  size_t no = numel(so.rank, so.dims);
  float *a = calloc(na + 1, sizeof *a), *b = calloc(nb + 1, sizeof *b);
  for (size_t i = 0; i < na; i++)
    a[i] = !strcmp(op, "Pow") ? fabsf(fval(i, 1)) : fval(i, 1);
  for (size_t i = 0; i < nb; i++) b[i] = fval(i, 2);
  optest *t = optest_new(op, opset);
  optest_input(t, EMBER_FLOAT, sa.rank, sa.dims, a);
  optest_input(t, EMBER_FLOAT, sb.rank, sb.dims, b);
  must_run(t);
  bool cmp = !strcmp(op, "Equal") || !strcmp(op, "Less") ||
             !strcmp(op, "Greater");
  const emb_tensor *y =
      out_t(t, 0, cmp ? EMBER_BOOL : EMBER_FLOAT, so.rank, so.dims);
  for (size_t i = 0; i < no; i++) {
    double av = a[bidx(so.rank, so.dims, i, sa.rank, sa.dims)];
    double bv = b[bidx(so.rank, so.dims, i, sb.rank, sb.dims)];
    double want = bref(op, av, bv);
    if (!cmp) want = (float)want;
    expect_close(emb_tensor_get_f64(y, i), want, 1e-6, 1e-7, i);
  }
  optest_free(t);
  free(a);
  free(b);
}

static void test_binary_broadcast(void **state) {
  (void)state;
  static const struct {
    shape a, b, o;
  } shapes[] = {
      {{3, {2, 3, 4}}, {3, {2, 3, 4}}, {3, {2, 3, 4}}}, /* same shape */
      {{3, {2, 3, 5}}, {0, {0}}, {3, {2, 3, 5}}},       /* scalar right */
      {{0, {0}}, {2, {3, 7}}, {2, {3, 7}}},             /* scalar left */
      {{3, {2, 3, 4}}, {2, {3, 1}}, {3, {2, 3, 4}}},    /* middle axis */
      {{3, {2, 1, 5}}, {2, {3, 1}}, {3, {2, 3, 5}}},    /* both broadcast */
      {{1, {5}}, {2, {3, 1}}, {2, {3, 5}}},             /* outer product */
      {{4, {2, 1, 3, 1}}, {3, {4, 1, 5}}, {4, {2, 4, 3, 5}}},
      {{2, {1, 1}}, {1, {9}}, {2, {1, 9}}},
      {{2, {7, 1}}, {2, {7, 1}}, {2, {7, 1}}},
      {{3, {2, 0, 3}}, {1, {3}}, {3, {2, 0, 3}}},       /* empty */
      {{2, {4, 6}}, {1, {1}}, {2, {4, 6}}},             /* one element */
  };
  const char *ops[] = {"Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less",
                       "Greater"};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
      check_binary(ops[o], 14, shapes[s].a, shapes[s].b, shapes[s].o);
}

static void test_binary_shape_errors(void **state) {
  (void)state;
  int64_t da[2] = {2, 3}, db[1] = {4};
  float a[6] = {0}, b[4] = {0};
  optest *t = optest_new("Add", 14);
  optest_input(t, EMBER_FLOAT, 2, da, a);
  optest_input(t, EMBER_FLOAT, 1, db, b);
  must_fail(t, EMBER_ERR_SHAPE, "broadcast");
  optest_free(t);
  /* mixed element types */
  t = optest_new("Mul", 14);
  optest_input(t, EMBER_FLOAT, 2, da, a);
  optest_input(t, EMBER_DOUBLE, 0, NULL, (double[]){1});
  must_fail(t, EMBER_ERR_TYPE, "float64");
  optest_free(t);
  /* And on non-bool */
  t = optest_new("And", 7);
  optest_input(t, EMBER_FLOAT, 2, da, a);
  optest_input(t, EMBER_FLOAT, 2, da, a);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "float32");
  optest_free(t);
}

/* Integers: wrap-around, truncating division, division by zero. */
static void test_binary_integers(void **state) {
  (void)state;
  int64_t d[1] = {6};
  int8_t a8[6] = {127, -128, 100, -100, 5, 0}, b8[6] = {1, -1, 100, -100, 3,
                                                        0};
  int64_t add8[6], mul8[6];
  for (int i = 0; i < 6; i++) {
    add8[i] = (int8_t)(uint8_t)((unsigned)a8[i] + (unsigned)b8[i]);
    mul8[i] = (int8_t)(uint8_t)((unsigned)a8[i] * (unsigned)b8[i]);
  }
  optest *t = optest_new("Add", 14);
  optest_input(t, EMBER_INT8, 1, d, a8);
  optest_input(t, EMBER_INT8, 1, d, b8);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT8, 1, d), add8, 6);
  optest_free(t);
  t = optest_new("Mul", 14);
  optest_input(t, EMBER_INT8, 1, d, a8);
  optest_input(t, EMBER_INT8, 1, d, b8);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT8, 1, d), mul8, 6);
  optest_free(t);

  int32_t a[6] = {7, -7, 7, -7, INT32_MIN, 9};
  int32_t b[6] = {2, 2, -2, -2, -1, 0};
  /* C truncation; INT32_MIN / -1 wraps; x / 0 gives 0 */
  int64_t q[6] = {3, -3, -3, 3, INT32_MIN, 0};
  t = optest_new("Div", 14);
  optest_input(t, EMBER_INT32, 1, d, a);
  optest_input(t, EMBER_INT32, 1, d, b);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT32, 1, d), q, 6);
  optest_free(t);

  uint16_t ua[3] = {65535, 3, 40000}, ub[3] = {65535, 0, 2};
  int64_t d3[1] = {3};
  int64_t um[3] = {(uint16_t)(65535u * 65535u), 0, (uint16_t)80000u};
  int64_t ud[3] = {1, 0, 20000};
  t = optest_new("Mul", 14);
  optest_input(t, EMBER_UINT16, 1, d3, ua);
  optest_input(t, EMBER_UINT16, 1, d3, ub);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_UINT16, 1, d3), um, 3);
  optest_free(t);
  t = optest_new("Div", 14);
  optest_input(t, EMBER_UINT16, 1, d3, ua);
  optest_input(t, EMBER_UINT16, 1, d3, ub);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_UINT16, 1, d3), ud, 3);
  optest_free(t);

  int64_t la[2] = {INT64_MAX, INT64_MIN}, lb[1] = {1};
  int64_t l2[1] = {2}, lsum[2] = {INT64_MIN, INT64_MIN + 1};
  t = optest_new("Add", 14);
  optest_input(t, EMBER_INT64, 1, l2, la);
  optest_input(t, EMBER_INT64, 0, NULL, lb);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT64, 1, l2), lsum, 2);
  optest_free(t);
}

/* Opset < 7: B broadcast onto A with the broadcast/axis attributes. */
static void test_legacy_broadcast(void **state) {
  (void)state;
  int64_t da[3] = {2, 3, 4};
  float a[24], y[24];
  for (int i = 0; i < 24; i++) a[i] = (float)i;
  struct {
    int rb;
    int64_t db[3];
    int axis; /* -1: attribute absent */
  } cases[] = {{1, {3}, 1}, {1, {4}, -1}, {2, {2, 3}, 0},
               {2, {2, 1}, 0}, {2, {3, 4}, -1}, {0, {0}, -1}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    size_t nb = numel(cases[c].rb, cases[c].db);
    float b[12];
    for (size_t i = 0; i < nb; i++) b[i] = 100.0f * (float)(i + 1);
    int64_t eff[3] = {1, 1, 1};
    int s = cases[c].axis >= 0 ? cases[c].axis : 3 - cases[c].rb;
    for (int k = 0; k < cases[c].rb; k++) eff[s + k] = cases[c].db[k];
    for (size_t i = 0; i < 24; i++)
      y[i] = a[i] - b[bidx(3, da, i, 3, eff)];
    optest *t = optest_new("Sub", 6);
    optest_attr_int(t, "broadcast", 1);
    if (cases[c].axis >= 0) optest_attr_int(t, "axis", cases[c].axis);
    optest_input(t, EMBER_FLOAT, 3, da, a);
    optest_input(t, EMBER_FLOAT, cases[c].rb, cases[c].db, b);
    must_run(t);
    optest_expect_f32(optest_output(t, 0), 3, da, y, 0, 0);
    optest_free(t);
  }
  /* B that does not fit at the axis */
  int64_t db[1] = {4};
  optest *t = optest_new("Add", 6);
  optest_attr_int(t, "broadcast", 1);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 3, da, a);
  optest_input(t, EMBER_FLOAT, 1, db, (float[]){1, 2, 3, 4});
  must_fail(t, EMBER_ERR_SHAPE, "B");
  optest_free(t);
}

/* -------------------------------------------------------------- Pow */

static void test_pow_types(void **state) {
  (void)state;
  int64_t d[1] = {5};
  float xf[5] = {2, 3, 0.5f, 10, 1.5f};
  int64_t e64[5] = {3, 0, -2, 2, 1};
  float want[5];
  for (int i = 0; i < 5; i++) want[i] = (float)pow(xf[i], (double)e64[i]);
  optest *t = optest_new("Pow", 15);
  optest_input(t, EMBER_FLOAT, 1, d, xf);
  optest_input(t, EMBER_INT64, 1, d, e64);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 1, d, want, 1e-6f, 0);
  optest_free(t);

  int32_t xi[5] = {2, -3, 5, 7, 1};
  float ef[5] = {10, 3, 0.5f, 2, 100};
  int64_t wi[5];
  for (int i = 0; i < 5; i++) wi[i] = (int32_t)pow(xi[i], ef[i]);
  t = optest_new("Pow", 15);
  optest_input(t, EMBER_INT32, 1, d, xi);
  optest_input(t, EMBER_FLOAT, 1, d, ef);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT32, 1, d), wi, 5);
  optest_free(t);

  /* exact 64-bit integer powers (beyond double's 53 bits), negative
   * exponents truncate */
  int64_t xl[5] = {3, -2, 2, -1, 7}, el[5] = {39, 63, -1, -3, 0};
  int64_t wl[5] = {4052555153018976267LL, INT64_MIN, 0, -1, 1};
  t = optest_new("Pow", 15);
  optest_input(t, EMBER_INT64, 1, d, xl);
  optest_input(t, EMBER_INT64, 1, d, el);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT64, 1, d), wl, 5);
  optest_free(t);

  /* opset 7: same types only */
  t = optest_new("Pow", 7);
  optest_input(t, EMBER_FLOAT, 1, d, xf);
  optest_input(t, EMBER_INT64, 1, d, e64);
  must_fail(t, EMBER_ERR_TYPE, NULL);
  optest_free(t);
}

/* ------------------------------------------------------------ PRelu */

static void test_prelu(void **state) {
  (void)state;
  int64_t dx[4] = {2, 3, 2, 2}, ds[3] = {3, 1, 1};
  float x[24], s[3] = {0.1f, 0.2f, 0.3f}, y[24];
  for (int i = 0; i < 24; i++) x[i] = (float)(i % 5) - 2.5f;
  for (size_t i = 0; i < 24; i++) {
    float sl = s[bidx(4, dx, i, 3, ds)];
    y[i] = x[i] < 0 ? x[i] * sl : x[i];
  }
  optest *t = optest_new("PRelu", 16);
  optest_input(t, EMBER_FLOAT, 4, dx, x);
  optest_input_const(t, EMBER_FLOAT, 3, ds, s);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 4, dx, y, 1e-6f, 0);
  optest_free(t);
  /* opset 6: a slope of C values is per channel (axis 1) */
  int64_t d3[3] = {2, 3, 4}, dc[1] = {3};
  for (size_t i = 0; i < 24; i++) {
    float sl = s[(i / 4) % 3];
    y[i] = x[i] < 0 ? x[i] * sl : x[i];
  }
  t = optest_new("PRelu", 6);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input_const(t, EMBER_FLOAT, 1, dc, s);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 3, d3, y, 1e-6f, 0);
  optest_free(t);
  /* a slope that does not broadcast to X */
  int64_t bad[1] = {5};
  t = optest_new("PRelu", 16);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input(t, EMBER_FLOAT, 1, bad, (float[]){1, 2, 3, 4, 5});
  must_fail(t, EMBER_ERR_SHAPE, "slope");
  optest_free(t);
}

/* ------------------------------------------------ comparisons, logic */

static void test_compare_special(void **state) {
  (void)state;
  int64_t d[1] = {4};
  float a[4] = {NAN, 1, -0.0f, INFINITY}, b[4] = {NAN, NAN, 0.0f, INFINITY};
  int64_t eq[4] = {0, 0, 1, 1}, lt[4] = {0, 0, 0, 0};
  optest *t = optest_new("Equal", 13);
  optest_input(t, EMBER_FLOAT, 1, d, a);
  optest_input(t, EMBER_FLOAT, 1, d, b);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_BOOL, 1, d), eq, 4);
  optest_free(t);
  t = optest_new("Less", 13);
  optest_input(t, EMBER_FLOAT, 1, d, a);
  optest_input(t, EMBER_FLOAT, 1, d, b);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_BOOL, 1, d), lt, 4);
  optest_free(t);
  /* strings, broadcast against a scalar */
  const char *s[4] = {"a", "", "abc", "ab"};
  const char *k[1] = {"ab"};
  int64_t seq[4] = {0, 0, 0, 1};
  t = optest_new("Equal", 19);
  optest_input(t, EMBER_STRING, 1, d, s);
  optest_input(t, EMBER_STRING, 0, NULL, k);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_BOOL, 1, d), seq, 4);
  optest_free(t);
  /* unsigned 64-bit compare above INT64_MAX */
  uint64_t ua[2] = {UINT64_MAX, 1}, ub[2] = {1, UINT64_MAX};
  int64_t d2[1] = {2}, gt[2] = {1, 0};
  t = optest_new("Greater", 13);
  optest_input(t, EMBER_UINT64, 1, d2, ua);
  optest_input(t, EMBER_UINT64, 1, d2, ub);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_BOOL, 1, d2), gt, 2);
  optest_free(t);
}

static void test_logical(void **state) {
  (void)state;
  int64_t da[3] = {2, 3, 2}, db[1] = {2};
  uint8_t a[12], b[2] = {1, 0};
  int64_t wand[12], wor[12];
  for (int i = 0; i < 12; i++) {
    a[i] = (uint8_t)(i % 3 == 0);
    wand[i] = a[i] && b[i % 2];
    wor[i] = a[i] || b[i % 2];
  }
  optest *t = optest_new("And", 7);
  optest_input(t, EMBER_BOOL, 3, da, a);
  optest_input(t, EMBER_BOOL, 1, db, b);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_BOOL, 3, da), wand, 12);
  optest_free(t);
  t = optest_new("Or", 7);
  optest_input(t, EMBER_BOOL, 3, da, a);
  optest_input(t, EMBER_BOOL, 1, db, b);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_BOOL, 3, da), wor, 12);
  optest_free(t);
}

/* ------------------------------------------------------------ Where */

static void test_where(void **state) {
  (void)state;
  int64_t dc[3] = {2, 1, 3}, dx[2] = {4, 1}, dy[1] = {3}, dout[3] = {2, 4, 3};
  uint8_t cd[6] = {1, 0, 1, 0, 0, 1};
  float x[4] = {1, 2, 3, 4}, y[3] = {-1, -2, -3}, want[24];
  for (size_t i = 0; i < 24; i++)
    want[i] = cd[bidx(3, dout, i, 3, dc)] ? x[bidx(3, dout, i, 2, dx)]
                                          : y[bidx(3, dout, i, 1, dy)];
  optest *t = optest_new("Where", 16);
  optest_input(t, EMBER_BOOL, 3, dc, cd);
  optest_input(t, EMBER_FLOAT, 2, dx, x);
  optest_input(t, EMBER_FLOAT, 1, dy, y);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 3, dout, want, 0, 0);
  optest_free(t);
  /* int64 and strings */
  int64_t d[1] = {3};
  uint8_t c3[3] = {1, 0, 1};
  int64_t xi[3] = {INT64_MAX, 2, 3}, yi[1] = {-9}, wi[3] = {INT64_MAX, -9, 3};
  t = optest_new("Where", 16);
  optest_input(t, EMBER_BOOL, 1, d, c3);
  optest_input(t, EMBER_INT64, 1, d, xi);
  optest_input(t, EMBER_INT64, 0, NULL, yi);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT64, 1, d), wi, 3);
  optest_free(t);
  const char *xs[3] = {"x0", "x1", "x2"}, *ys[3] = {"y0", "y1", "y2"};
  t = optest_new("Where", 16);
  optest_input(t, EMBER_BOOL, 1, d, c3);
  optest_input(t, EMBER_STRING, 1, d, xs);
  optest_input(t, EMBER_STRING, 1, d, ys);
  must_run(t);
  const emb_tensor *o = out_t(t, 0, EMBER_STRING, 1, d);
  const char *const *os = o->data;
  assert_string_equal(os[0], "x0");
  assert_string_equal(os[1], "y1");
  assert_string_equal(os[2], "x2");
  optest_free(t);
  /* condition must be bool */
  t = optest_new("Where", 16);
  optest_input(t, EMBER_FLOAT, 1, d, (float[]){1, 0, 1});
  optest_input(t, EMBER_INT64, 1, d, xi);
  optest_input(t, EMBER_INT64, 1, d, xi);
  must_fail(t, EMBER_ERR_TYPE, "bool");
  optest_free(t);
}

/* -------------------------------------------------- Max, Min, Sum, ... */

static void test_variadic(void **state) {
  (void)state;
  int64_t d0[1] = {3}, d1[2] = {2, 1}, d2[3] = {2, 1, 1}, dout[3] = {2, 2, 3};
  float a[3] = {1, NAN, -2}, b[2] = {0, 5}, c[2] = {-1, 2};
  const char *ops[] = {"Max", "Min", "Sum"};
  for (size_t o = 0; o < 3; o++) {
    float want[12];
    for (size_t i = 0; i < 12; i++) {
      double av = a[bidx(3, dout, i, 1, d0)], bv = b[bidx(3, dout, i, 2, d1)],
             cv = c[bidx(3, dout, i, 3, d2)];
      double r = bref(ops[o], bref(ops[o], av, bv), cv);
      if (isnan(av)) r = NAN; /* Max/Min propagate NaN */
      want[i] = (float)r;
    }
    optest *t = optest_new(ops[o], 13);
    optest_input(t, EMBER_FLOAT, 1, d0, a);
    optest_input(t, EMBER_FLOAT, 2, d1, b);
    optest_input(t, EMBER_FLOAT, 3, d2, c);
    must_run(t);
    optest_expect_f32(optest_output(t, 0), 3, dout, want, 1e-6f, 0);
    optest_free(t);
  }
  /* NaN in the second operand propagates too */
  float p[2] = {1, 2}, q[2] = {NAN, 0}, wmax[2] = {NAN, 2};
  int64_t dp[1] = {2};
  optest *t = optest_new("Max", 13);
  optest_input(t, EMBER_FLOAT, 1, dp, p);
  optest_input(t, EMBER_FLOAT, 1, dp, q);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 1, dp, wmax, 0, 0);
  optest_free(t);
  /* one input: a copy */
  t = optest_new("Sum", 13);
  optest_input(t, EMBER_FLOAT, 1, d0, a);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 1, d0, a, 0, 0);
  optest_free(t);
  /* integers */
  uint8_t u1[3] = {0, 200, 7}, u2[1] = {100};
  int64_t wu[3] = {100, 200, 100};
  t = optest_new("Max", 13);
  optest_input(t, EMBER_UINT8, 1, d0, u1);
  optest_input(t, EMBER_UINT8, 0, NULL, u2);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_UINT8, 1, d0), wu, 3);
  optest_free(t);
  /* Sum has no integer form before... ever: float types only */
  t = optest_new("Sum", 13);
  optest_input(t, EMBER_UINT8, 1, d0, u1);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "uint8");
  optest_free(t);
}

/* ------------------------------------------------- Identity, Dropout */

static void test_identity(void **state) {
  (void)state;
  int64_t d[2] = {2, 2};
  float x[4] = {1, 2, 3, 4};
  optest *t = optest_new("Identity", 16);
  optest_input(t, EMBER_FLOAT, 2, d, x);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 2, d, x, 0, 0);
  optest_free(t);
  const char *s[2] = {"hello", ""};
  int64_t d1[1] = {2};
  t = optest_new("Identity", 16);
  optest_input(t, EMBER_STRING, 1, d1, s);
  must_run(t);
  const char *const *o = out_t(t, 0, EMBER_STRING, 1, d1)->data;
  assert_string_equal(o[0], "hello");
  assert_string_equal(o[1], "");
  optest_free(t);
}

static void test_dropout(void **state) {
  (void)state;
  int64_t d[2] = {3, 2};
  float x[6] = {1, -2, 3, -4, 5, 6}, ratio = 0.3f, zero = 0.0f;
  int64_t ones[6] = {1, 1, 1, 1, 1, 1};
  uint8_t yes = 1, no = 0;
  /* opset 13 with ratio and mask: inference copies */
  optest *t = optest_new("Dropout", 13);
  optest_input(t, EMBER_FLOAT, 2, d, x);
  optest_input(t, EMBER_FLOAT, 0, NULL, &ratio);
  optest_input_const(t, EMBER_BOOL, 0, NULL, &no);
  optest_outputs(t, 2);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 2, d, x, 0, 0);
  expect_ints(out_t(t, 1, EMBER_BOOL, 2, d), ones, 6);
  optest_free(t);
  /* opset 7: the mask has the data's type */
  t = optest_new("Dropout", 7);
  optest_attr_float(t, "ratio", 0.5f);
  optest_input(t, EMBER_FLOAT, 2, d, x);
  optest_outputs(t, 2);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 2, d, x, 0, 0);
  optest_expect_f32(optest_output(t, 1), 2, d,
                    (float[]){1, 1, 1, 1, 1, 1}, 0, 0);
  optest_free(t);
  /* training mode with ratio 0 is still a copy */
  t = optest_new("Dropout", 13);
  optest_input(t, EMBER_FLOAT, 2, d, x);
  optest_input(t, EMBER_FLOAT, 0, NULL, &zero);
  optest_input(t, EMBER_BOOL, 0, NULL, &yes);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 2, d, x, 0, 0);
  optest_free(t);
  /* training mode proper drops at random (test_ops_random.c checks the
   * statistics): each value 0 or x / (1 - ratio), the mask agreeing;
   * the ratio defaults to 0.5, and a constant training_mode is fine */
  for (int k = 0; k < 2; k++) {
    double scale = k ? 1.0 / (1.0 - ratio) : 2.0;
    t = optest_new("Dropout", 13);
    optest_input(t, EMBER_FLOAT, 2, d, x);
    if (k)
      optest_input(t, EMBER_FLOAT, 0, NULL, &ratio);
    else
      optest_input_none(t);
    optest_input_const(t, EMBER_BOOL, 0, NULL, &yes);
    optest_outputs(t, 2);
    must_run(t);
    const emb_tensor *y = out_t(t, 0, EMBER_FLOAT, 2, d);
    const emb_tensor *mask = out_t(t, 1, EMBER_BOOL, 2, d);
    for (int i = 0; i < 6; i++) {
      float got = ((const float *)y->data)[i];
      bool kept = ((const uint8_t *)mask->data)[i];
      float want = kept ? (float)(x[i] * scale) : 0.0f;
      if (fabsf(got - want) > 1e-6f * fabsf(want))
        fail_msg("training element %d: %g with mask %d, expected %g", i,
                 got, (int)kept, want);
    }
    optest_free(t);
  }
}

/* ------------------------------------------------------------- Cast */

static void test_cast_numeric(void **state) {
  (void)state;
  int64_t d[1] = {8};
  float x[8] = {-2.75f, -0.0f, 0.0f, 1.5f, 2.99f, 255.0f, 300.0f, NAN};
  /* float -> int32 truncates; -> bool: zero false, NaN true */
  int64_t wi[7] = {-2, 0, 0, 1, 2, 255, 300}, wb[8] = {1, 0, 0, 1, 1, 1, 1, 1};
  optest *t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_INT32);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){7}, x);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT32, 1, (int64_t[]){7}), wi, 7);
  optest_free(t);
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_BOOL);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_BOOL, 1, d), wb, 8);
  optest_free(t);
  /* fixed point out of range keeps the low bits: 200 (int16) -> -56 */
  int16_t s[4] = {200, -1, 32767, -32768};
  int64_t d4[1] = {4}, w8[4] = {-56, -1, -1, 0}, wu[4] = {200, 65535, 32767,
                                                         32768};
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_INT8);
  optest_input(t, EMBER_INT16, 1, d4, s);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT8, 1, d4), w8, 4);
  optest_free(t);
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_UINT16);
  optest_input(t, EMBER_INT16, 1, d4, s);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_UINT16, 1, d4), wu, 4);
  optest_free(t);
  /* int64 -> double and back is exact below 2^53; uint64 above 2^63 */
  uint64_t big[2] = {UINT64_MAX, 1ull << 63};
  int64_t d2[1] = {2};
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_DOUBLE);
  optest_input(t, EMBER_UINT64, 1, d2, big);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_DOUBLE, 1, d2);
  expect_close(((const double *)y->data)[0], 18446744073709551615.0, 0, 0, 0);
  expect_close(((const double *)y->data)[1], 9223372036854775808.0, 0, 0, 1);
  optest_free(t);
  /* bool -> float */
  uint8_t b[3] = {1, 0, 1};
  int64_t d3[1] = {3};
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_FLOAT);
  optest_input(t, EMBER_BOOL, 1, d3, b);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 1, d3, (float[]){1, 0, 1}, 0, 0);
  optest_free(t);
}

static void test_cast_half(void **state) {
  (void)state;
  /* Doubles next to float16 rounding ties: rounding through float first
   * would land on the tie and round to even, the wrong way. */
  double x[8] = {1.0 + 1.0 / 2048 + 1e-12, 1.0 + 1.0 / 2048 - 1e-12,
                 65519.99, 65520.0, 6e-8, -3e-8, 0.1, -1234.5678};
  int64_t d[1] = {8};
  optest *t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_FLOAT16);
  optest_input(t, EMBER_DOUBLE, 1, d, x);
  must_run(t);
  const uint16_t *h = out_t(t, 0, EMBER_FLOAT16, 1, d)->data;
  for (int i = 0; i < 8; i++)
    if (h[i] != ref_f16(x[i]))
      fail_msg("element %d (%.17g): got 0x%04x, expected 0x%04x", i, x[i],
               h[i], ref_f16(x[i]));
  optest_free(t);
  /* float16 -> int64 and bfloat16 round trip of exactly representable
   * values */
  uint16_t hx[3] = {emb_f32_to_f16(-3.75f), emb_f32_to_f16(1000.0f),
                    emb_f32_to_f16(0.5f)};
  int64_t d3[1] = {3}, wi[3] = {-3, 1000, 0};
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_INT64);
  optest_input(t, EMBER_FLOAT16, 1, d3, hx);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT64, 1, d3), wi, 3);
  optest_free(t);
  float fx[3] = {1.0f + 1.0f / 256, 3.0f, -0.15625f};
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_BFLOAT16);
  optest_input(t, EMBER_FLOAT, 1, d3, fx);
  must_run(t);
  const uint16_t *bf = out_t(t, 0, EMBER_BFLOAT16, 1, d3)->data;
  for (int i = 0; i < 3; i++)
    if (bf[i] != emb_f32_to_bf16(fx[i]))
      fail_msg("bfloat16 element %d: got 0x%04x", i, bf[i]);
  optest_free(t);
}

static void test_cast_strings(void **state) {
  (void)state;
  const char *s[6] = {"3.14", "1e-5", "-INF", "+inf", "NaN", " 100.5"};
  int64_t d[1] = {6};
  double want[6] = {3.14, 1e-5, -INFINITY, INFINITY, NAN, 100.5};
  optest *t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_DOUBLE);
  optest_input(t, EMBER_STRING, 1, d, s);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_DOUBLE, 1, d);
  for (size_t i = 0; i < 6; i++)
    expect_close(((const double *)y->data)[i], want[i], 0, 0, i);
  optest_free(t);
  const char *si[3] = {"1000", "-9223372036854775808", "7.9"};
  int64_t d3[1] = {3}, wi[3] = {1000, INT64_MIN, 7};
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_INT64);
  optest_input(t, EMBER_STRING, 1, d3, si);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT64, 1, d3), wi, 3);
  optest_free(t);
  /* numbers -> strings read back to the same value */
  float fx[5] = {0.1f, -314.15926f, 1e-20f, INFINITY, 3.0f};
  int64_t d5[1] = {5};
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_STRING);
  optest_input(t, EMBER_FLOAT, 1, d5, fx);
  must_run(t);
  const char *const *o = out_t(t, 0, EMBER_STRING, 1, d5)->data;
  for (int i = 0; i < 5; i++)
    if (strtof(o[i], NULL) != fx[i])
      fail_msg("element %d: '%s' does not read back as %.9g", i, o[i],
               (double)fx[i]);
  assert_string_equal(o[3], "INF");
  assert_string_equal(o[4], "3");
  optest_free(t);
  int32_t ix[2] = {-42, 7};
  int64_t d2[1] = {2};
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_STRING);
  optest_input(t, EMBER_INT32, 1, d2, ix);
  must_run(t);
  o = out_t(t, 0, EMBER_STRING, 1, d2)->data;
  assert_string_equal(o[0], "-42");
  assert_string_equal(o[1], "7");
  optest_free(t);
  /* not a number */
  const char *bad[1] = {"Hello World!"};
  int64_t d1[1] = {1};
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", EMBER_FLOAT);
  optest_input(t, EMBER_STRING, 1, d1, bad);
  must_fail(t, EMBER_ERR_RUNTIME, "Hello");
  optest_free(t);
}

static void test_cast_attributes(void **state) {
  (void)state;
  int64_t d[1] = {2};
  float x[2] = {1.5f, -2.5f};
  /* Cast-1 names the type */
  optest *t = optest_new("Cast", 1);
  optest_attr_string(t, "to", "DOUBLE");
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_DOUBLE, 1, d);
  expect_close(((const double *)y->data)[1], -2.5, 0, 0, 1);
  optest_free(t);
  t = optest_new("Cast", 13);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "'to'");
  optest_free(t);
  t = optest_new("Cast", 13);
  optest_attr_int(t, "to", 999);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "999");
  optest_free(t);
  /* A target type Ember may not convert to yet: either it works or the
   * error is UNSUPPORTED and names the type, never a wrong answer. */
  t = optest_new("Cast", 19);
  optest_attr_int(t, "to", EMBER_FLOAT8E4M3FN);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  ember_status st = optest_run(t);
  if (st) {
    must_fail(t, EMBER_ERR_UNSUPPORTED, "float8e4m3fn");
  } else {
    /* 1.5 and -2.5 are exact in float8e4m3fn: 0x3c and 0xc2 */
    const uint8_t *b = out_t(t, 0, EMBER_FLOAT8E4M3FN, 1, d)->data;
    if (b[0] != 0x3c || b[1] != 0xc2)
      fail_msg("Cast to float8e4m3fn gave %02x %02x, expected 3c c2", b[0],
               b[1]);
  }
  optest_free(t);
}

/* Operators defined here that the registry may not list yet: skip when
 * the loader does not know them. */
static void test_extra_ops(void **state) {
  (void)state;
  int64_t d[1] = {3};
  float a[3] = {1, 2, 3}, b[3] = {3, 2, 1};
  struct {
    const char *op;
    int opset;
    int64_t want[3];
  } cmp[] = {{"LessOrEqual", 16, {1, 1, 0}}, {"GreaterOrEqual", 16, {0, 1, 1}}};
  for (int c = 0; c < 2; c++) {
    optest *t = optest_new(cmp[c].op, cmp[c].opset);
    optest_input(t, EMBER_FLOAT, 1, d, a);
    optest_input(t, EMBER_FLOAT, 1, d, b);
    ember_status st = optest_run(t);
    if (st == EMBER_ERR_UNSUPPORTED && strstr(optest_errmsg(t), "operator")) {
      optest_free(t);
      continue;
    }
    if (st) fail_msg("%s", optest_errmsg(t));
    expect_ints(out_t(t, 0, EMBER_BOOL, 1, d), cmp[c].want, 3);
    optest_free(t);
  }
  optest *t = optest_new("Mean", 13);
  optest_input(t, EMBER_FLOAT, 1, d, a);
  optest_input(t, EMBER_FLOAT, 1, d, b);
  optest_input(t, EMBER_FLOAT, 0, NULL, (float[]){4});
  ember_status st = optest_run(t);
  if (!st)
    optest_expect_f32(optest_output(t, 0), 1, d,
                      (float[]){8.0f / 3, 8.0f / 3, 8.0f / 3}, 1e-6f, 0);
  optest_free(t);
  t = optest_new("CastLike", 15);
  optest_input(t, EMBER_FLOAT, 1, d, a);
  optest_input(t, EMBER_INT64, 0, NULL, (int64_t[]){0});
  st = optest_run(t);
  if (!st) {
    int64_t w[3] = {1, 2, 3};
    expect_ints(out_t(t, 0, EMBER_INT64, 1, d), w, 3);
  }
  optest_free(t);
}

/* ------------------------------------------ more unary maths (issue 3) */

typedef struct math_case {
  const char *op;
  double (*ref)(double x, double a, double b);
  double lo, hi; /* input range (inside the function's domain) */
  const char *attr1;
  float v1;
  const char *attr2;
  float v2;
  const char *sattr, *sval; /* a string attribute */
} math_case;

/* A one-argument libm function as a reference. */
#define M_LIBM(f)                                                          \
  static double m_##f(double x, double a, double b) {                      \
    (void)a, (void)b;                                                      \
    return f(x);                                                           \
  }
M_LIBM(acos)
M_LIBM(acosh)
M_LIBM(asin)
M_LIBM(asinh)
M_LIBM(atan)
M_LIBM(atanh)
M_LIBM(cos)
M_LIBM(cosh)
M_LIBM(sin)
M_LIBM(sinh)
M_LIBM(tan)
M_LIBM(ceil)
M_LIBM(floor)
/* rint in the default rounding mode: ties to even */
M_LIBM(rint)
static double m_hsig(double x, double a, double b) {
  return fmax(0, fmin(1, a * x + b));
}
static double m_hswish(double x, double a, double b) {
  (void)a, (void)b;
  return x * fmax(0, fmin(1, x / 6 + 0.5));
}
static double m_thrrelu(double x, double a, double b) {
  (void)b;
  return x > a ? x : 0;
}
static double m_celu(double x, double a, double b) {
  (void)b;
  return fmax(0, x) + fmin(0, a * (exp(x / a) - 1));
}
static double m_softsign(double x, double a, double b) {
  (void)a, (void)b;
  return x / (1 + fabs(x));
}
static double m_mish(double x, double a, double b) {
  (void)a, (void)b;
  return x * tanh(log(1 + exp(x)));
}
static double m_swish(double x, double a, double b) {
  (void)b;
  return x / (1 + exp(-a * x));
}
static double m_gelu(double x, double a, double b) {
  (void)a, (void)b;
  return 0.5 * x * (1 + erf(x / sqrt(2.0)));
}
static double m_gelu_tanh(double x, double a, double b) {
  (void)a, (void)b;
  const double pi = 3.14159265358979323846;
  return 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x * x * x)));
}

static const math_case math_cases[] = {
    {"Acos", m_acos, -0.99, 0.99, NULL, 0, NULL, 0, NULL, NULL},
    {"Acosh", m_acosh, 1.0, 9.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Asin", m_asin, -0.99, 0.99, NULL, 0, NULL, 0, NULL, NULL},
    {"Asinh", m_asinh, -9.0, 9.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Atan", m_atan, -9.0, 9.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Atanh", m_atanh, -0.95, 0.95, NULL, 0, NULL, 0, NULL, NULL},
    {"Cos", m_cos, -6.0, 6.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Cosh", m_cosh, -5.0, 5.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Sin", m_sin, -6.0, 6.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Sinh", m_sinh, -5.0, 5.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Tan", m_tan, -1.4, 1.4, NULL, 0, NULL, 0, NULL, NULL},
    {"Ceil", m_ceil, -3.7, 3.3, NULL, 0, NULL, 0, NULL, NULL},
    {"Floor", m_floor, -3.7, 3.3, NULL, 0, NULL, 0, NULL, NULL},
    {"Round", m_rint, -3.0, 3.0, NULL, 0, NULL, 0, NULL, NULL},
    {"HardSigmoid", m_hsig, -6.0, 6.0, "alpha", 0.3f, "beta", 0.4f, NULL,
     NULL},
    {"HardSwish", m_hswish, -5.0, 5.0, NULL, 0, NULL, 0, NULL, NULL},
    {"ThresholdedRelu", m_thrrelu, -3.0, 3.0, "alpha", 0.75f, NULL, 0, NULL,
     NULL},
    {"Celu", m_celu, -4.0, 4.0, "alpha", 2.0f, NULL, 0, NULL, NULL},
    {"Softsign", m_softsign, -9.0, 9.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Mish", m_mish, -8.0, 8.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Swish", m_swish, -8.0, 8.0, "alpha", 1.5f, NULL, 0, NULL, NULL},
    {"Gelu", m_gelu, -5.0, 5.0, NULL, 0, NULL, 0, NULL, NULL},
    {"Gelu", m_gelu_tanh, -5.0, 5.0, NULL, 0, NULL, 0, "approximate",
     "tanh"},
};

/* Defaults of the attributes the cases leave out. */
static void math_prm(const math_case *m, double *a, double *b) {
  *a = m->attr1 ? m->v1 : !strcmp(m->op, "HardSigmoid") ? 0.2 : 1.0;
  *b = m->attr2 ? m->v2 : 0.5;
}

static optest *math_new(const math_case *m, int opset) {
  optest *t = optest_new(m->op, opset);
  if (m->attr1) optest_attr_float(t, m->attr1, m->v1);
  if (m->attr2) optest_attr_float(t, m->attr2, m->v2);
  if (m->sattr) optest_attr_string(t, m->sattr, m->sval);
  return t;
}

/* 17 points from lo to hi (an odd count: the row has no vector-width
 * multiple), as float32, float64, float16 and bfloat16, at the newest
 * opset each op has. */
static void test_math_unary(void **state) {
  (void)state;
  enum { N = 17 };
  int64_t d1[1] = {N}, d2[2] = {1, N};
  for (size_t c = 0; c < sizeof math_cases / sizeof math_cases[0]; c++) {
    const math_case *m = &math_cases[c];
    double a, b;
    math_prm(m, &a, &b);
    float xf[N];
    double xd[N];
    uint16_t xh[N], xb[N];
    for (int i = 0; i < N; i++) {
      xd[i] = m->lo + (m->hi - m->lo) * i / (N - 1);
      xf[i] = (float)xd[i];
      xh[i] = emb_f32_to_f16(xf[i]);
      xb[i] = emb_f32_to_bf16(xf[i]);
    }
    int opset = !strcmp(m->op, "Swish") ? 24 : 22;
    optest *t = math_new(m, opset);
    optest_input(t, EMBER_FLOAT, 2, d2, xf);
    must_run(t);
    const emb_tensor *y = out_t(t, 0, EMBER_FLOAT, 2, d2);
    for (int i = 0; i < N; i++) {
      double want = (float)m->ref(xf[i], a, b);
      double got = ((const float *)y->data)[i];
      if (!(got == want || fabs(got - want) <= 1e-6 + 1e-5 * fabs(want)))
        fail_msg("%s(%g) float32: got %.9g, expected %.9g", m->op,
                 (double)xf[i], got, want);
    }
    optest_free(t);

    t = math_new(m, opset);
    optest_input(t, EMBER_DOUBLE, 1, d1, xd);
    must_run(t);
    y = out_t(t, 0, EMBER_DOUBLE, 1, d1);
    for (int i = 0; i < N; i++)
      expect_close(((const double *)y->data)[i], m->ref(xd[i], a, b), 1e-12,
                   1e-15, (size_t)i);
    optest_free(t);

    for (int half = 0; half < 2; half++) {
      t = math_new(m, opset);
      optest_input(t, half ? EMBER_BFLOAT16 : EMBER_FLOAT16, 1, d1,
                   half ? xb : xh);
      must_run(t);
      y = out_t(t, 0, half ? EMBER_BFLOAT16 : EMBER_FLOAT16, 1, d1);
      for (int i = 0; i < N; i++) {
        const uint16_t *ys = y->data;
        double x = half ? emb_bf16_to_f32(xb[i]) : emb_f16_to_f32(xh[i]);
        double got = half ? emb_bf16_to_f32(ys[i]) : emb_f16_to_f32(ys[i]);
        /* one unit in the last place of the narrow type */
        expect_close(got, m->ref(x, a, b), half ? 8e-3 : 1e-3, 1e-3,
                     (size_t)i);
      }
      optest_free(t);
    }
  }
}

/* Round: ties to even, special values unchanged, at the edges of float
 * precision; compared with rint (default rounding mode). */
static void test_round(void **state) {
  (void)state;
  float x[] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.5f, 0.49999997f,
               -0.49999997f, 0.50000006f, -0.0f, 0.0f, 8388607.5f,
               8388608.0f, 16777215.0f, 1e30f, -1e30f, INFINITY, -INFINITY,
               NAN, -0.2f, 2.4999998f, -7.5f};
  enum { N = sizeof x / sizeof x[0] };
  int64_t d[1] = {N};
  optest *t = optest_new("Round", 11);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_run(t);
  const float *y = out_t(t, 0, EMBER_FLOAT, 1, d)->data;
  for (int i = 0; i < N; i++) {
    float want = rintf(x[i]);
    bool same = (isnan(want) && isnan(y[i])) ||
                (want == y[i] && signbit(want) == signbit(y[i]));
    if (!same)
      fail_msg("Round(%.9g): got %.9g, expected %.9g", (double)x[i],
               (double)y[i], (double)want);
  }
  optest_free(t);
  double xd[] = {2.5, -3.5, 4503599627370495.5, 0.49999999999999994, -0.0};
  int64_t dd[1] = {5};
  t = optest_new("Round", 22);
  optest_input(t, EMBER_DOUBLE, 1, dd, xd);
  must_run(t);
  const double *yd = out_t(t, 0, EMBER_DOUBLE, 1, dd)->data;
  for (int i = 0; i < 5; i++)
    if (yd[i] != rint(xd[i]) || signbit(yd[i]) != signbit(rint(xd[i])))
      fail_msg("Round(%.17g): got %.17g, expected %.17g", xd[i], yd[i],
               rint(xd[i]));
  optest_free(t);
}

/* NaN passes through the activations whose clamps could hide it. */
static void test_activation_nan(void **state) {
  (void)state;
  const char *ops[] = {"HardSigmoid", "HardSwish", "Celu", "Softsign",
                       "Mish", "Swish", "Gelu", "Ceil", "Floor", "Round",
                       "Cos"};
  float x[2] = {NAN, 1.0f};
  int64_t d[1] = {2};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    optest *t = optest_new(ops[o], 24);
    optest_input(t, EMBER_FLOAT, 1, d, x);
    must_run(t);
    const float *y = out_t(t, 0, EMBER_FLOAT, 1, d)->data;
    if (!isnan(y[0])) fail_msg("%s(NaN) = %g, expected NaN", ops[o], y[0]);
    optest_free(t);
  }
}

static void test_math_unary_errors(void **state) {
  (void)state;
  int64_t d[1] = {2};
  float x[2] = {1, 2};
  optest *t = optest_new("Acos", 7);
  optest_input(t, EMBER_INT32, 1, d, (int32_t[]){1, 0});
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
  t = optest_new("Gelu", 20);
  optest_attr_string(t, "approximate", "sigmoid");
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "approximate");
  optest_free(t);
  t = optest_new("Celu", 12);
  optest_attr_float(t, "alpha", 0.0f);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "alpha");
  optest_free(t);
  t = optest_new("HardSigmoid", 6);
  optest_attr_string(t, "beta", "x");
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "beta");
  optest_free(t);
  t = optest_new("BitwiseNot", 18);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "float32");
  optest_free(t);
}

/* ---------------------------------------------------- IsNaN and IsInf */

static void test_isnan_isinf(void **state) {
  (void)state;
  float x[7] = {1.0f, NAN, INFINITY, -INFINITY, 0.0f, -NAN, 3e38f};
  int64_t d[2] = {7, 1};
  /* IsInf with each detect_negative/detect_positive pair */
  for (int neg = 0; neg < 2; neg++)
    for (int pos = 0; pos < 2; pos++) {
      optest *t = optest_new("IsInf", 20);
      optest_attr_int(t, "detect_negative", neg);
      optest_attr_int(t, "detect_positive", pos);
      optest_input(t, EMBER_FLOAT, 2, d, x);
      must_run(t);
      int64_t want[7];
      for (int i = 0; i < 7; i++)
        want[i] = isinf(x[i]) && (x[i] < 0 ? neg : pos);
      expect_ints(out_t(t, 0, EMBER_BOOL, 2, d), want, 7);
      optest_free(t);
    }
  /* defaults, IsNaN; float16 and double */
  double xd[7];
  uint16_t xh[7];
  for (int i = 0; i < 7; i++) {
    xd[i] = x[i];
    /* 3e38 would overflow to inf in float16: use its largest finite */
    xh[i] = emb_f32_to_f16(isfinite(x[i]) && x[i] > 1e5f ? 65504.0f : x[i]);
  }
  int64_t inf[7], nan[7];
  for (int i = 0; i < 7; i++) {
    inf[i] = isinf(x[i]) != 0; /* glibc's isinf(-inf) is -1 */
    nan[i] = isnan(x[i]) != 0;
  }
  struct {
    const char *op;
    int32_t dt;
    const void *data;
    const int64_t *want;
  } cases[] = {{"IsInf", EMBER_DOUBLE, xd, inf},
               {"IsInf", EMBER_FLOAT16, xh, inf},
               {"IsNaN", EMBER_FLOAT, x, nan},
               {"IsNaN", EMBER_DOUBLE, xd, nan},
               {"IsNaN", EMBER_FLOAT16, xh, nan}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    optest *t = optest_new(cases[c].op, 13);
    optest_input(t, cases[c].dt, 2, d, cases[c].data);
    must_run(t);
    expect_ints(out_t(t, 0, EMBER_BOOL, 2, d), cases[c].want, 7);
    optest_free(t);
  }
  /* float8 by bit pattern: e5m2 has +-inf (0x7c, 0xfc) and NaNs above;
   * e4m3fn has NaN 0x7f/0xff and no inf; the FNUZ types NaN 0x80. */
  uint8_t b[6] = {0x7c, 0xfc, 0x7d, 0x7f, 0x80, 0x01};
  int64_t d6[1] = {6};
  struct {
    int32_t dt;
    int64_t nan[6], inf[6];
  } f8[] = {{EMBER_FLOAT8E5M2, {0, 0, 1, 1, 0, 0}, {1, 1, 0, 0, 0, 0}},
            {EMBER_FLOAT8E4M3FN, {0, 0, 0, 1, 0, 0}, {0, 0, 0, 0, 0, 0}},
            {EMBER_FLOAT8E4M3FNUZ, {0, 0, 0, 0, 1, 0}, {0, 0, 0, 0, 0, 0}},
            {EMBER_FLOAT8E5M2FNUZ, {0, 0, 0, 0, 1, 0}, {0, 0, 0, 0, 0, 0}}};
  for (size_t c = 0; c < 4; c++)
    for (int op = 0; op < 2; op++) {
      optest *t = optest_new(op ? "IsInf" : "IsNaN", 20);
      optest_input(t, f8[c].dt, 1, d6, b);
      must_run(t);

      expect_ints(out_t(t, 0, EMBER_BOOL, 1, d6), op ? f8[c].inf : f8[c].nan,
                  6);
      optest_free(t);
    }
  /* IsInf on e5m2 with detect_negative = 0 */
  optest *t = optest_new("IsInf", 20);
  optest_attr_int(t, "detect_negative", 0);
  optest_input(t, EMBER_FLOAT8E5M2, 1, d6, b);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_BOOL, 1, d6),
              (int64_t[]){1, 0, 0, 0, 0, 0}, 6);
  optest_free(t);
  /* empty input; an integer input is refused */
  int64_t de[2] = {0, 4};
  t = optest_new("IsNaN", 13);
  optest_input(t, EMBER_FLOAT, 2, de, x);
  must_run(t);
  out_t(t, 0, EMBER_BOOL, 2, de);
  optest_free(t);
  t = optest_new("IsNaN", 13);
  optest_input(t, EMBER_INT64, 1, d6, (int64_t[]){1, 2, 3, 4, 5, 6});
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int64");
  optest_free(t);
}

/* -------------------------------------------------------------- Mod */

/* Python's % on integers: the remainder has the divisor's sign. */
static int64_t py_mod(int64_t a, int64_t b) {
  if (b == 0) return 0;
  int64_t q = (int64_t)floor((double)a / (double)b);
  return a - q * b;
}

static void test_mod(void **state) {
  (void)state;
  /* every sign combination, broadcast [2,1,4] x [3,1]; divisor 0 gives 0 */
  int32_t a[8] = {7, -7, 7, -7, 0, 13, -13, 5};
  int32_t b[3] = {3, -3, 0};
  int64_t da[3] = {2, 1, 4}, db[2] = {3, 1}, dout[3] = {2, 3, 4};
  int64_t want[24], cwant[24];
  for (size_t i = 0; i < 24; i++) {
    int64_t x = a[bidx(3, dout, i, 3, da)], y = b[bidx(3, dout, i, 2, db)];
    want[i] = py_mod(x, y);
    cwant[i] = y ? x - (int64_t)trunc((double)x / (double)y) * y : 0;
  }
  for (int fm = 0; fm < 2; fm++) {
    optest *t = optest_new("Mod", 13);
    if (fm) optest_attr_int(t, "fmod", 1);
    optest_input(t, EMBER_INT32, 3, da, a);
    optest_input(t, EMBER_INT32, 2, db, b);
    must_run(t);
    expect_ints(out_t(t, 0, EMBER_INT32, 3, dout), fm ? cwant : want, 24);
    optest_free(t);
  }
  /* int8 extremes: INT8_MIN % -1 = 0 without trapping */
  int8_t a8[4] = {-128, -128, 127, -1}, b8[4] = {-1, 127, -128, -128};
  int64_t d4[1] = {4}, w8[4];
  for (int i = 0; i < 4; i++) w8[i] = py_mod(a8[i], b8[i]);
  optest *t = optest_new("Mod", 10);
  optest_input(t, EMBER_INT8, 1, d4, a8);
  optest_input(t, EMBER_INT8, 1, d4, b8);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT8, 1, d4), w8, 4);
  optest_free(t);
  /* int64 and uint64 large values */
  int64_t a64[3] = {INT64_MIN, INT64_MAX, -5}, b64[3] = {7, -7, INT64_MAX};
  int64_t w64[3];
  for (int i = 0; i < 3; i++) {
    int64_t r = a64[i] % b64[i];
    w64[i] = (r && ((r < 0) != (b64[i] < 0))) ? r + b64[i] : r;
  }
  int64_t d3[1] = {3};
  t = optest_new("Mod", 13);
  optest_input(t, EMBER_INT64, 1, d3, a64);
  optest_input(t, EMBER_INT64, 1, d3, b64);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT64, 1, d3), w64, 3);
  optest_free(t);
  uint8_t u[3] = {250, 7, 9}, v = 4;
  t = optest_new("Mod", 13);
  optest_input(t, EMBER_UINT8, 1, d3, u);
  optest_input(t, EMBER_UINT8, 0, NULL, &v);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_UINT8, 1, d3), (int64_t[]){2, 3, 1}, 3);
  optest_free(t);
  /* float: C fmod, the dividend's sign; float16 via float */
  float fa[6] = {5.5f, -5.5f, 5.5f, -5.5f, INFINITY, 1.0f};
  float fb[6] = {2.0f, 2.0f, -2.0f, -2.0f, 1.0f, 0.0f};
  int64_t d6[1] = {6};
  float fw[6];
  for (int i = 0; i < 6; i++) fw[i] = (float)fmod(fa[i], fb[i]);
  t = optest_new("Mod", 13);
  optest_attr_int(t, "fmod", 1);
  optest_input(t, EMBER_FLOAT, 1, d6, fa);
  optest_input(t, EMBER_FLOAT, 1, d6, fb);
  must_run(t);
  const float *fy = out_t(t, 0, EMBER_FLOAT, 1, d6)->data;
  for (int i = 0; i < 6; i++)
    expect_close(fy[i], fw[i], 0, 0, (size_t)i);
  optest_free(t);
  uint16_t ha[2] = {emb_f32_to_f16(-7.25f), emb_f32_to_f16(7.25f)};
  uint16_t hb = emb_f32_to_f16(2.0f);
  int64_t d2[1] = {2};
  t = optest_new("Mod", 13);
  optest_attr_int(t, "fmod", 1);
  optest_input(t, EMBER_FLOAT16, 1, d2, ha);
  optest_input(t, EMBER_FLOAT16, 0, NULL, &hb);
  must_run(t);
  const uint16_t *hy = out_t(t, 0, EMBER_FLOAT16, 1, d2)->data;
  expect_close(emb_f16_to_f32(hy[0]), -1.25, 0, 0, 0);
  expect_close(emb_f16_to_f32(hy[1]), 1.25, 0, 0, 1);
  optest_free(t);
  /* errors: float with fmod=0, fmod out of range, mixed types */
  t = optest_new("Mod", 13);
  optest_input(t, EMBER_FLOAT, 1, d6, fa);
  optest_input(t, EMBER_FLOAT, 1, d6, fb);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "fmod=1");
  optest_free(t);
  t = optest_new("Mod", 13);
  optest_attr_int(t, "fmod", 2);
  optest_input(t, EMBER_INT32, 1, d3, (int32_t[]){1, 2, 3});
  optest_input(t, EMBER_INT32, 1, d3, (int32_t[]){1, 2, 3});
  must_fail(t, EMBER_ERR_INVALID_MODEL, "fmod");
  optest_free(t);
  t = optest_new("Mod", 13);
  optest_input(t, EMBER_INT32, 1, d3, (int32_t[]){1, 2, 3});
  optest_input(t, EMBER_INT64, 1, d3, (int64_t[]){1, 2, 3});
  must_fail(t, EMBER_ERR_TYPE, "int64");
  optest_free(t);
}

/* ---------------------------------------------------- bitwise family */

static uint64_t shift_ref(uint64_t x, uint64_t s, int bits, bool left) {
  if (s >= (uint64_t)bits) return 0;
  uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
  return (left ? x << s : x >> s) & mask;
}

static void test_bitshift(void **state) {
  (void)state;
  static const int32_t types[4] = {EMBER_UINT8, EMBER_UINT16, EMBER_UINT32,
                                   EMBER_UINT64};
  static const uint64_t xs[5] = {1, 0xff, 0x81, 0xdeadbeefcafef00dull, 0};
  static const uint64_t ss[5] = {0, 1, 7, 8, 63};
  int64_t dx[2] = {5, 1}, ds[1] = {5}, dout[2] = {5, 5};
  for (int ti = 0; ti < 4; ti++)
    for (int left = 0; left < 2; left++) {
      int32_t dt = types[ti];
      int bits = 8 << ti;
      uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
      emb_tensor x = {0}, s = {0};
      assert_int_equal(emb_tensor_alloc(&x, dt, 2, dx, NULL), EMBER_OK);
      assert_int_equal(emb_tensor_alloc(&s, dt, 1, ds, NULL), EMBER_OK);
      for (int i = 0; i < 5; i++) {
        emb_tensor_set_i64(&x, (size_t)i, (int64_t)(xs[i] & mask));
        emb_tensor_set_i64(&s, (size_t)i,
                           (int64_t)(ss[i] + (ss[i] == 63 ? 0 : ti)));
      }
      optest *t = optest_new("BitShift", 11);
      optest_attr_string(t, "direction", left ? "LEFT" : "RIGHT");
      optest_input(t, dt, 2, dx, x.data);
      optest_input(t, dt, 1, ds, s.data);
      must_run(t);
      const emb_tensor *y = out_t(t, 0, dt, 2, dout);
      for (size_t i = 0; i < 25; i++) {
        uint64_t xv = (uint64_t)emb_tensor_get_i64(&x, i / 5);
        uint64_t sv = (uint64_t)emb_tensor_get_i64(&s, i % 5);
        uint64_t want = shift_ref(xv, sv, bits, left);
        uint64_t got = (uint64_t)emb_tensor_get_i64(y, i) & mask;
        if (got != want)
          fail_msg("%s %llx %s %llu: got %llx, expected %llx",
                   ember_dtype_name(dt), (unsigned long long)xv,
                   left ? "<<" : ">>", (unsigned long long)sv,
                   (unsigned long long)got, (unsigned long long)want);
      }
      optest_free(t);
      emb_tensor_clear(&x);
      emb_tensor_clear(&s);
    }
  int64_t d[1] = {2};
  uint8_t u[2] = {1, 2};
  optest *t = optest_new("BitShift", 11);
  optest_attr_string(t, "direction", "UP");
  optest_input(t, EMBER_UINT8, 1, d, u);
  optest_input(t, EMBER_UINT8, 1, d, u);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "direction");
  optest_free(t);
  t = optest_new("BitShift", 11);
  optest_input(t, EMBER_UINT8, 1, d, u);
  optest_input(t, EMBER_UINT8, 1, d, u);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "direction");
  optest_free(t);
  t = optest_new("BitShift", 11);
  optest_attr_string(t, "direction", "LEFT");
  optest_input(t, EMBER_INT32, 1, d, (int32_t[]){1, 2});
  optest_input(t, EMBER_INT32, 1, d, (int32_t[]){1, 2});
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
}

static void test_bitwise(void **state) {
  (void)state;
  /* [2,3] op [3] and [1] op [2,3], signed and unsigned */
  int8_t a8[6] = {-128, -1, 0, 0x55, 0x0f, 127}, b8[3] = {-86, 0x33, -1};
  int64_t da[2] = {2, 3}, db[1] = {3};
  const char *ops[3] = {"BitwiseAnd", "BitwiseOr", "BitwiseXor"};
  for (int o = 0; o < 3; o++) {
    int64_t want[6];
    for (int i = 0; i < 6; i++) {
      int x = a8[i], y = b8[i % 3];
      want[i] = (int8_t)(o == 0 ? x & y : o == 1 ? x | y : x ^ y);
    }
    optest *t = optest_new(ops[o], 18);
    optest_input(t, EMBER_INT8, 2, da, a8);
    optest_input(t, EMBER_INT8, 1, db, b8);
    must_run(t);
    expect_ints(out_t(t, 0, EMBER_INT8, 2, da), want, 6);
    optest_free(t);

    uint64_t ua[1] = {0xf0f0f0f0f0f0f0f0ull};
    uint64_t ub[6] = {0, ~0ull, 0x123456789abcdef0ull, 1, 0xffull << 56, 42};
    optest *u = optest_new(ops[o], 18);
    optest_input(u, EMBER_UINT64, 1, (int64_t[]){1}, ua);
    optest_input(u, EMBER_UINT64, 2, da, ub);
    must_run(u);
    const uint64_t *y = out_t(u, 0, EMBER_UINT64, 2, da)->data;
    for (int i = 0; i < 6; i++) {
      uint64_t w = o == 0 ? ua[0] & ub[i] : o == 1 ? ua[0] | ub[i]
                                                   : ua[0] ^ ub[i];
      if (y[i] != w)
        fail_msg("%s element %d: got %llx, expected %llx", ops[o], i,
                 (unsigned long long)y[i], (unsigned long long)w);
    }
    optest_free(u);
  }
  /* Not */
  int16_t x16[5] = {0, -1, 1, INT16_MIN, 0x1234};
  int64_t d5[1] = {5}, wn[5];
  for (int i = 0; i < 5; i++) wn[i] = (int16_t)~x16[i];
  optest *t = optest_new("BitwiseNot", 18);
  optest_input(t, EMBER_INT16, 1, d5, x16);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT16, 1, d5), wn, 5);
  optest_free(t);
  uint8_t xu[5] = {0, 255, 1, 0x80, 0x5a};
  for (int i = 0; i < 5; i++) wn[i] = (uint8_t)~xu[i];
  t = optest_new("BitwiseNot", 18);
  optest_input(t, EMBER_UINT8, 1, d5, xu);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_UINT8, 1, d5), wn, 5);
  optest_free(t);
  /* errors: float operands, shapes that do not broadcast */
  t = optest_new("BitwiseAnd", 18);
  optest_input(t, EMBER_FLOAT, 1, db, (float[]){1, 2, 3});
  optest_input(t, EMBER_FLOAT, 1, db, (float[]){1, 2, 3});
  must_fail(t, EMBER_ERR_UNSUPPORTED, "float32");
  optest_free(t);
  t = optest_new("BitwiseOr", 18);
  optest_input(t, EMBER_INT8, 2, da, a8);
  optest_input(t, EMBER_INT8, 1, (int64_t[]){2}, b8);
  must_fail(t, EMBER_ERR_SHAPE, "broadcast");
  optest_free(t);
}

/* ---------------------------------------------------------- BitCast */

static void test_bitcast(void **state) {
  (void)state;
  float f[6] = {1.0f, -2.5f, 0.0f, -0.0f, INFINITY, 3.14159f};
  int64_t d[2] = {2, 3};
  optest *t = optest_new("BitCast", 26);
  optest_attr_int(t, "to", EMBER_INT32);
  optest_input(t, EMBER_FLOAT, 2, d, f);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_INT32, 2, d);
  if (memcmp(y->data, f, sizeof f)) fail_msg("float32 -> int32 bits differ");
  optest_free(t);
  /* int64 -> double, scalar, constant (folded at load) */
  int64_t i64 = 0x400921fb54442d18ll; /* pi */
  t = optest_new("BitCast", 26);
  optest_attr_int(t, "to", EMBER_DOUBLE);
  optest_input_const(t, EMBER_INT64, 0, NULL, &i64);
  must_run(t);
  y = out_t(t, 0, EMBER_DOUBLE, 0, NULL);
  if (memcmp(y->data, &i64, 8)) fail_msg("int64 -> double bits differ");
  optest_free(t);
  /* bool -> uint8, float16 -> int16, empty */
  uint8_t bl[3] = {1, 0, 1};
  int64_t d3[1] = {3};
  t = optest_new("BitCast", 26);
  optest_attr_int(t, "to", EMBER_UINT8);
  optest_input(t, EMBER_BOOL, 1, d3, bl);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_UINT8, 1, d3), (int64_t[]){1, 0, 1}, 3);
  optest_free(t);
  uint16_t h[3] = {0x3c00, 0xc000, 0x8000};
  t = optest_new("BitCast", 26);
  optest_attr_int(t, "to", EMBER_INT16);
  optest_input(t, EMBER_FLOAT16, 1, d3, h);
  must_run(t);
  expect_ints(out_t(t, 0, EMBER_INT16, 1, d3),
              (int64_t[]){0x3c00, (int16_t)0xc000, (int16_t)0x8000}, 3);
  optest_free(t);
  int64_t de[2] = {0, 3};
  t = optest_new("BitCast", 26);
  optest_attr_int(t, "to", EMBER_UINT32);
  optest_input(t, EMBER_INT32, 2, de, f);
  must_run(t);
  out_t(t, 0, EMBER_UINT32, 2, de);
  optest_free(t);
  /* errors: widths differ, string target, missing 'to' */
  t = optest_new("BitCast", 26);
  optest_attr_int(t, "to", EMBER_INT64);
  optest_input(t, EMBER_FLOAT, 2, d, f);
  must_fail(t, EMBER_ERR_TYPE, "width");
  optest_free(t);
  t = optest_new("BitCast", 26);
  optest_attr_int(t, "to", EMBER_STRING);
  optest_input(t, EMBER_FLOAT, 2, d, f);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "'to'");
  optest_free(t);
  t = optest_new("BitCast", 26);
  optest_input(t, EMBER_FLOAT, 2, d, f);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "'to'");
  optest_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unary_float32),
      cmocka_unit_test(test_unary_double_and_half),
      cmocka_unit_test(test_unary_integers),
      cmocka_unit_test(test_unary_edge_shapes),
      cmocka_unit_test(test_unary_errors),
      cmocka_unit_test(test_not),
      cmocka_unit_test(test_clip),
      cmocka_unit_test(test_binary_broadcast),
      cmocka_unit_test(test_binary_shape_errors),
      cmocka_unit_test(test_binary_integers),
      cmocka_unit_test(test_legacy_broadcast),
      cmocka_unit_test(test_pow_types),
      cmocka_unit_test(test_prelu),
      cmocka_unit_test(test_compare_special),
      cmocka_unit_test(test_logical),
      cmocka_unit_test(test_where),
      cmocka_unit_test(test_variadic),
      cmocka_unit_test(test_identity),
      cmocka_unit_test(test_dropout),
      cmocka_unit_test(test_cast_numeric),
      cmocka_unit_test(test_cast_half),
      cmocka_unit_test(test_cast_strings),
      cmocka_unit_test(test_cast_attributes),
      cmocka_unit_test(test_extra_ops),
      cmocka_unit_test(test_math_unary),
      cmocka_unit_test(test_round),
      cmocka_unit_test(test_activation_nan),
      cmocka_unit_test(test_math_unary_errors),
      cmocka_unit_test(test_isnan_isinf),
      cmocka_unit_test(test_mod),
      cmocka_unit_test(test_bitshift),
      cmocka_unit_test(test_bitwise),
      cmocka_unit_test(test_bitcast),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
