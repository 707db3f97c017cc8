/*
 * Unit tests for the sorting, scan, arg-reduction, normalisation and
 * linear-algebra operators (lib/ops/linalg.c) through the one-node harness
 * (optest.h).  Every expected value is computed here, independently of the
 * library: TopK by repeated selection of the best remaining element,
 * scans and arg-reductions by plain loops, the normalisations in double,
 * Einsum by brute force over the whole index space, Det by cofactor
 * expansion.  Data with many ties (small integers) and NaN check the
 * ordering rules; odd and size-1 dims, empty tensors, every dtype family
 * and the opset-version forms are covered, parameters given both as
 * constants and as run-time inputs.  Errors must carry the right status
 * and name the node.
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
#define out_t optest_out
#define must_fail optest_must_fail
#define must_run optest_must_run

extern const emb_opdef emb_op_topk;

/* ------------------------------------------------------------ helpers */




static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int k = 0; k < rank; k++) n *= (size_t)dims[k];
  return n;
}

/* Deterministic test data. */
static uint32_t rng_state = 2024;
static uint32_t urand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}
static float frand(void) { return (float)(urand() & 0xffff) / 4096.0f - 8.0f; }
/* Small integers: many ties. */
static float trand(void) { return (float)(urand() % 5) - 2.0f; }

/* Compare any numeric output (read as double) with want. */
static void expect_near(const emb_tensor *y, const double *want, size_t n,
                        double rtol, double atol) {
  for (size_t i = 0; i < n; i++) {
    double g = emb_tensor_get_f64(y, i), w = want[i];
    if (isnan(g) && isnan(w)) continue;
    if (g == w) continue;
    if (!(fabs(g - w) <= atol + rtol * fabs(w)))
      fail_msg("element %zu: got %.9g, expected %.9g", i, g, w);
  }
}

static void expect_i64(const emb_tensor *y, const int64_t *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (emb_tensor_get_i64(y, i) != want[i])
      fail_msg("element %zu: got %lld, expected %lld", i,
               (long long)emb_tensor_get_i64(y, i), (long long)want[i]);
}

/* ---------------------------------------------------------------- TopK */

/* Compare elements i and j of x exactly: -1, 0 or 1; NaN above every
 * number (and equal to NaN). */
static int elem_cmp(const emb_tensor *x, size_t i, size_t j) {
  if (x->dtype == EMBER_UINT64) {
    uint64_t a = (uint64_t)emb_tensor_get_i64(x, i),
             b = (uint64_t)emb_tensor_get_i64(x, j);
    return a < b ? -1 : a > b;
  }
  if (emb_dtype_is_int(x->dtype)) {
    int64_t a = emb_tensor_get_i64(x, i), b = emb_tensor_get_i64(x, j);
    return a < b ? -1 : a > b;
  }
  double a = emb_tensor_get_f64(x, i), b = emb_tensor_get_f64(x, j);
  if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
  return a < b ? -1 : a > b;
}

/* Reference TopK of x (read as double through get) along axis. */
static void ref_topk(const emb_tensor *x, int axis, size_t k, bool largest,
                     int64_t *idx) {
  size_t outer = 1, len = (size_t)x->dims[axis], inner = 1;
  for (int i = 0; i < axis; i++) outer *= (size_t)x->dims[i];
  for (int i = axis + 1; i < x->rank; i++) inner *= (size_t)x->dims[i];
  bool used[64];
  assert_true(len <= 64);
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      memset(used, 0, sizeof used);
      for (size_t j = 0; j < k; j++) {
        size_t best = len;
        for (size_t l = 0; l < len; l++) {
          if (used[l]) continue;
          if (best == len) {
            best = l;
            continue;
          }
          /* A strictly better value wins; on ties the lower index, which
           * the scan order already gives. */
          int cmp = elem_cmp(x, (o * len + l) * inner + i,
                             (o * len + best) * inner + i);
          if (largest ? cmp > 0 : cmp < 0) best = l;
        }
        used[best] = true;
        idx[(o * k + j) * inner + i] = (int64_t)best;
      }
    }
}

/* Run TopK and check both outputs against the reference. */
static void check_topk(int opset, int32_t dtype, int rank, const int64_t *dims,
                       const void *data, int axis_attr, int64_t k,
                       int largest, bool k_const) {
  optest *t = optest_new("TopK", opset);
  optest_attr_int(t, "axis", axis_attr);
  if (largest >= 0) optest_attr_int(t, "largest", largest);
  optest_input(t, dtype, rank, dims, data);
  int64_t kd[1] = {1};
  if (opset < 10)
    optest_attr_int(t, "k", k);
  else if (k_const)
    optest_input_const(t, EMBER_INT64, 1, kd, &k);
  else
    optest_input(t, EMBER_INT64, 1, kd, &k);
  optest_outputs(t, 2);
  must_run(t);
  int axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
  int64_t od[EMB_MAX_RANK];
  memcpy(od, dims, (size_t)rank * sizeof *od);
  od[axis] = k;
  const emb_tensor *vals = out_t(t, 0, dtype, rank, od);
  const emb_tensor *inds = out_t(t, 1, EMBER_INT64, rank, od);
  emb_tensor x = {.dtype = dtype, .rank = rank, .data = (void *)data};
  memcpy(x.dims, dims, (size_t)rank * sizeof *dims);
  size_t n = numel(rank, od);
  int64_t *want = calloc(n ? n : 1, sizeof *want);
  ref_topk(&x, axis, (size_t)k, largest != 0, want);
  expect_i64(inds, want, n);
  /* Values: the input element at each chosen index, bit for bit. */
  size_t inner = 1, len = (size_t)dims[axis];
  for (int i = axis + 1; i < rank; i++) inner *= (size_t)dims[i];
  size_t es = (size_t)emb_dtype_bits(dtype) / 8;
  for (size_t f = 0; f < n; f++) {
    size_t i = f % inner, o = f / inner / (size_t)k;
    size_t from = (o * len + (size_t)want[f]) * inner + i;
    if (memcmp((const char *)vals->data + f * es,
               (const char *)data + from * es, es))
      fail_msg("value %zu differs from input element %zu", f, from);
  }
  free(want);
  optest_free(t);
}

static void test_topk(void **state) {
  (void)state;
  int64_t d3[3] = {3, 7, 4};
  float x[84];
  for (int i = 0; i < 84; i++) x[i] = trand();
  /* Every opset form; k from 0 to the full axis; both directions. */
  for (int64_t k = 0; k <= 7; k += 1) {
    check_topk(1, EMBER_FLOAT, 3, d3, x, 1, k, -1, false);
    check_topk(10, EMBER_FLOAT, 3, d3, x, -2, k, -1, k & 1);
    check_topk(11, EMBER_FLOAT, 3, d3, x, 1, k, 0, false);
    check_topk(24, EMBER_FLOAT, 3, d3, x, 1, k, 1, true);
  }
  check_topk(24, EMBER_FLOAT, 3, d3, x, 0, 2, 0, false);
  check_topk(24, EMBER_FLOAT, 3, d3, x, -1, 4, 1, false);

  /* NaN ranks above +inf: first among the largest, last among the
   * smallest. */
  float xn[12] = {1, NAN, INFINITY, -INFINITY, 0, NAN, 2, 2, -1, 3, NAN, 0};
  int64_t dn[2] = {2, 6};
  for (int64_t k = 1; k <= 6; k++) {
    check_topk(11, EMBER_FLOAT, 2, dn, xn, 1, k, 1, false);
    check_topk(11, EMBER_FLOAT, 2, dn, xn, 1, k, 0, false);
  }

  /* Other element types. */
  double xd[84];
  int32_t xi[84];
  uint64_t xu[84];
  uint16_t xh[84];
  int8_t xb[84];
  for (int i = 0; i < 84; i++) {
    xd[i] = frand();
    xi[i] = (int32_t)(urand() % 7) - 3;
    xu[i] = (uint64_t)(urand() % 4) << 62 | (urand() % 3);
    xh[i] = emb_f32_to_f16(trand() * 0.5f);
    xb[i] = (int8_t)((int)(urand() % 256) - 128);
  }
  check_topk(24, EMBER_DOUBLE, 3, d3, xd, 1, 3, 1, false);
  check_topk(24, EMBER_INT32, 3, d3, xi, 2, 3, 0, false);
  check_topk(24, EMBER_UINT64, 3, d3, xu, 1, 5, 1, false);
  check_topk(24, EMBER_FLOAT16, 3, d3, xh, 1, 4, 1, true);
  check_topk(24, EMBER_INT8, 3, d3, xb, 0, 3, 0, false);

  /* Size-1 axis and an empty outer dim. */
  int64_t d1[2] = {5, 1}, de[2] = {0, 4};
  check_topk(24, EMBER_FLOAT, 2, d1, x, 1, 1, 1, false);
  check_topk(24, EMBER_FLOAT, 2, de, x, 1, 2, 1, false);

  /* Errors: K larger than the axis (at run, and as a constant), missing
   * k attribute, axis out of range. */
  int64_t kd[1] = {1}, big = 8;
  optest *t = optest_new("TopK", 11);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input(t, EMBER_INT64, 1, kd, &big);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_RUNTIME, "exceeds");
  optest_free(t);

  t = optest_new("TopK", 11);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input_const(t, EMBER_INT64, 1, kd, &big);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_RUNTIME, "exceeds"); /* x's shape known at run */
  optest_free(t);

  t = optest_new("TopK", 1);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "'k'");
  optest_free(t);

  t = optest_new("TopK", 1);
  optest_attr_int(t, "k", 1);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input(t, EMBER_INT64, 1, kd, kd);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "one input");
  optest_free(t);

  t = optest_new("TopK", 10);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "input K");
  optest_free(t);

  int64_t two[2] = {1, 2}, d2[1] = {2};
  t = optest_new("TopK", 11);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input(t, EMBER_INT64, 1, d2, two);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_RUNTIME, "K");
  optest_free(t);

  t = optest_new("TopK", 11);
  optest_attr_int(t, "axis", 3);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input_const(t, EMBER_INT64, 1, kd, kd);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);

  const char *strs[2] = {"a", "b"};
  t = optest_new("TopK", 11);
  optest_input(t, EMBER_STRING, 1, d2, strs);
  optest_input_const(t, EMBER_INT64, 1, kd, kd);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "string");
  optest_free(t);
}

/* ------------------------------------------------------- CumSum/CumProd */

static void check_scan(const char *op, int32_t dtype, int rank,
                       const int64_t *dims, const void *data, int64_t axis,
                       int32_t axis_type, bool axis_const, int excl, int rev) {
  optest *t = optest_new(op, strcmp(op, "CumProd") ? 14 : 26);
  optest_attr_int(t, "exclusive", excl);
  optest_attr_int(t, "reverse", rev);
  optest_input(t, dtype, rank, dims, data);
  int32_t a32 = (int32_t)axis;
  const void *ap = axis_type == EMBER_INT32 ? (const void *)&a32 : &axis;
  if (axis_const)
    optest_input_const(t, axis_type, 0, dims, ap);
  else
    optest_input(t, axis_type, 0, dims, ap);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, dtype, rank, dims);
  emb_tensor x = {.dtype = dtype, .rank = rank, .data = (void *)data};
  memcpy(x.dims, dims, (size_t)rank * sizeof *dims);
  int ax = (int)(axis < 0 ? axis + rank : axis);
  size_t n = numel(rank, dims), len = (size_t)dims[ax], inner = 1;
  for (int i = ax + 1; i < rank; i++) inner *= (size_t)dims[i];
  bool prod = !strcmp(op, "CumProd");
  bool is_int = emb_dtype_is_int(dtype);
  for (size_t f = 0; f < n; f++) {
    size_t l = f / inner % len, base = f - l * inner;
    double acc = prod ? 1.0 : 0.0;
    int64_t iacc = prod ? 1 : 0;
    for (size_t j = 0; j < len; j++) {
      bool take = rev ? (excl ? j > l : j >= l) : (excl ? j < l : j <= l);
      if (!take) continue;
      double v = emb_tensor_get_f64(&x, base + j * inner);
      int64_t iv = emb_tensor_get_i64(&x, base + j * inner);
      acc = prod ? acc * v : acc + v;
      iacc = prod ? iacc * iv : iacc + iv;
    }
    if (is_int) {
      if (emb_tensor_get_i64(y, f) != iacc)
        fail_msg("%s element %zu: got %lld, expected %lld", op, f,
                 (long long)emb_tensor_get_i64(y, f), (long long)iacc);
    } else {
      double tol = dtype == EMBER_FLOAT16 ? 1e-2 : 1e-5;
      double g = emb_tensor_get_f64(y, f);
      if (!(fabs(g - acc) <= tol + tol * fabs(acc)))
        fail_msg("%s element %zu: got %.9g, expected %.9g", op, f, g, acc);
    }
  }
  optest_free(t);
}

static void test_scan(void **state) {
  (void)state;
  int64_t d[3] = {2, 5, 3};
  float xf[30];
  double xd[30];
  int32_t xi[30];
  int64_t xl[30];
  uint32_t xu[30];
  uint16_t xh[30];
  for (int i = 0; i < 30; i++) {
    xf[i] = frand() / 4.0f;
    xd[i] = frand() / 4.0;
    xi[i] = (int32_t)(urand() % 9) - 4;
    xl[i] = (int64_t)(urand() % 9) - 4;
    xu[i] = urand() % 5;
    xh[i] = emb_f32_to_f16(trand());
  }
  const char *ops[2] = {"CumSum", "CumProd"};
  for (int o = 0; o < 2; o++)
    for (int axis = -3; axis < 3; axis++)
      for (int mode = 0; mode < 4; mode++) {
        int ex = mode & 1, rev = mode >> 1;
        check_scan(ops[o], EMBER_FLOAT, 3, d, xf, axis, EMBER_INT64,
                   axis & 1, ex, rev);
        check_scan(ops[o], EMBER_INT32, 3, d, xi, axis, EMBER_INT32, false,
                   ex, rev);
      }
  for (int o = 0; o < 2; o++) {
    check_scan(ops[o], EMBER_DOUBLE, 3, d, xd, 1, EMBER_INT64, true, 0, 1);
    check_scan(ops[o], EMBER_INT64, 3, d, xl, 2, EMBER_INT64, false, 1, 0);
    check_scan(ops[o], EMBER_UINT32, 3, d, xu, 0, EMBER_INT32, false, 1, 1);
    check_scan(ops[o], EMBER_FLOAT16, 3, d, xh, 1, EMBER_INT64, false, 0, 0);
  }
  /* A 1-D input and an empty one. */
  int64_t d1[1] = {7}, de[2] = {0, 3};
  check_scan("CumSum", EMBER_FLOAT, 1, d1, xf, 0, EMBER_INT64, false, 0, 0);
  check_scan("CumProd", EMBER_FLOAT, 2, de, xf, 1, EMBER_INT64, false, 1, 1);

  /* Errors: axis out of range (constant and at run), a 2-element axis,
   * a float axis, CumProd before opset 26. */
  int64_t bad = 3, ad[1] = {2}, two[2] = {0, 1};
  optest *t = optest_new("CumSum", 14);
  optest_input(t, EMBER_FLOAT, 3, d, xf);
  optest_input_const(t, EMBER_INT64, 0, d, &bad);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);

  t = optest_new("CumSum", 14);
  optest_input(t, EMBER_FLOAT, 3, d, xf);
  optest_input(t, EMBER_INT64, 0, d, &bad);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);

  t = optest_new("CumSum", 14);
  optest_input(t, EMBER_FLOAT, 3, d, xf);
  optest_input(t, EMBER_INT64, 1, ad, two);
  must_fail(t, EMBER_ERR_RUNTIME, "axis");
  optest_free(t);

  float fa = 0;
  t = optest_new("CumSum", 14);
  optest_input(t, EMBER_FLOAT, 3, d, xf);
  optest_input(t, EMBER_FLOAT, 0, d, &fa);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "input 1");
  optest_free(t);

  int64_t zero = 0;
  t = optest_new("CumProd", 25);
  optest_input(t, EMBER_FLOAT, 3, d, xf);
  optest_input(t, EMBER_INT64, 0, d, &zero);
  assert_int_not_equal(optest_run(t), EMBER_OK);
  optest_free(t);
}

/* ---------------------------------------------- ArgMax, ArgMin, Hardmax */

/* Reference arg-reduction: NaN wins (first, or last with `last`), else
 * the extreme value, ties to the first (or last). */
static int64_t ref_arg(const emb_tensor *x, size_t base, size_t len,
                       size_t inner, bool is_max, bool last) {
  int64_t best = -1;
  bool best_nan = false;
  double bv = 0;
  for (size_t l = 0; l < len; l++) {
    double v = emb_tensor_get_f64(x, base + l * inner);
    bool nan = isnan(v);
    bool take;
    if (best < 0)
      take = true;
    else if (best_nan)
      take = nan && last;
    else if (nan)
      take = true;
    else
      take = (is_max ? v > bv : v < bv) || (last && v == bv);
    if (take) {
      best = (int64_t)l;
      bv = v;
      best_nan = nan;
    }
  }
  return best;
}

static void check_arg(const char *op, int opset, int32_t dtype, int rank,
                      const int64_t *dims, const void *data, int axis,
                      int keepdims, int last) {
  optest *t = optest_new(op, opset);
  optest_attr_int(t, "axis", axis);
  if (keepdims >= 0) optest_attr_int(t, "keepdims", keepdims);
  if (last >= 0) optest_attr_int(t, "select_last_index", last);
  optest_input(t, dtype, rank, dims, data);
  must_run(t);
  int ax = axis < 0 ? axis + rank : axis;
  int64_t od[EMB_MAX_RANK];
  int orank = 0;
  for (int i = 0; i < rank; i++) {
    if (i == ax && keepdims == 0) continue;
    od[orank++] = i == ax ? 1 : dims[i];
  }
  const emb_tensor *y = out_t(t, 0, EMBER_INT64, orank, od);
  emb_tensor x = {.dtype = dtype, .rank = rank, .data = (void *)data};
  memcpy(x.dims, dims, (size_t)rank * sizeof *dims);
  size_t len = (size_t)dims[ax], inner = 1, outer = 1;
  for (int i = ax + 1; i < rank; i++) inner *= (size_t)dims[i];
  for (int i = 0; i < ax; i++) outer *= (size_t)dims[i];
  int64_t want[256];
  assert_true(outer * inner <= 256);
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++)
      want[o * inner + i] = ref_arg(&x, o * len * inner + i, len, inner,
                                    !strcmp(op, "ArgMax"), last > 0);
  expect_i64(y, want, outer * inner);
  optest_free(t);
}

static void test_arg(void **state) {
  (void)state;
  int64_t d[3] = {3, 4, 5};
  float x[60];
  uint8_t xu[60];
  int8_t xi[60];
  uint16_t xb[60];
  double xd[60];
  for (int i = 0; i < 60; i++) {
    x[i] = trand();
    xu[i] = (uint8_t)(urand() % 3 + 250);
    xi[i] = (int8_t)((int)(urand() % 3) - 128);
    xb[i] = emb_f32_to_bf16(trand());
    xd[i] = trand();
  }
  const char *ops[2] = {"ArgMax", "ArgMin"};
  for (int o = 0; o < 2; o++)
    for (int axis = -3; axis < 3; axis++) {
      check_arg(ops[o], 1, EMBER_FLOAT, 3, d, x, axis, -1, -1);
      check_arg(ops[o], 11, EMBER_FLOAT, 3, d, x, axis, 0, -1);
      check_arg(ops[o], 12, EMBER_FLOAT, 3, d, x, axis, 1, 1);
      check_arg(ops[o], 13, EMBER_FLOAT, 3, d, x, axis, 0, 0);
      check_arg(ops[o], 13, EMBER_FLOAT, 3, d, x, axis, 0, 1);
    }
  for (int o = 0; o < 2; o++) {
    check_arg(ops[o], 13, EMBER_UINT8, 3, d, xu, 1, 1, 1);
    check_arg(ops[o], 13, EMBER_INT8, 3, d, xi, 2, 0, 0);
    check_arg(ops[o], 13, EMBER_BFLOAT16, 3, d, xb, 0, 1, 1);
    check_arg(ops[o], 13, EMBER_DOUBLE, 3, d, xd, 1, 0, 1);
  }
  /* NaN is selected by both. */
  float xn[8] = {1, NAN, 3, NAN, -1, -2, -3, 7};
  int64_t dn[2] = {2, 4};
  for (int o = 0; o < 2; o++) {
    check_arg(ops[o], 13, EMBER_FLOAT, 2, dn, xn, 1, 1, 0);
    check_arg(ops[o], 13, EMBER_FLOAT, 2, dn, xn, 1, 1, 1);
    check_arg(ops[o], 13, EMBER_FLOAT, 2, dn, xn, 0, 0, 0);
  }
  /* Empty non-reduced dim: empty result; empty reduced dim: an error. */
  int64_t de[2] = {0, 4};
  check_arg("ArgMax", 13, EMBER_FLOAT, 2, de, x, 1, 1, 0);
  optest *t = optest_new("ArgMax", 13);
  optest_attr_int(t, "axis", 0);
  optest_input(t, EMBER_FLOAT, 2, de, x);
  must_fail(t, EMBER_ERR_RUNTIME, "empty");
  optest_free(t);

  t = optest_new("ArgMin", 13);
  optest_attr_int(t, "axis", -4);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);
}

static void check_hardmax(int opset, int32_t dtype, int rank,
                          const int64_t *dims, const void *data, int axis) {
  optest *t = optest_new("Hardmax", opset);
  if (axis != 99) optest_attr_int(t, "axis", axis);
  optest_input(t, dtype, rank, dims, data);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, dtype, rank, dims);
  bool coerce = opset < 13;
  if (axis == 99) axis = coerce ? 1 : -1;
  int ax = axis < 0 ? axis + rank : axis;
  size_t outer = 1, len = 1, inner = 1;
  for (int i = 0; i < rank; i++) {
    if (i < ax)
      outer *= (size_t)dims[i];
    else if (i == ax || coerce)
      len *= (size_t)dims[i];
    else
      inner *= (size_t)dims[i];
  }
  emb_tensor x = {.dtype = dtype, .rank = rank, .data = (void *)data};
  memcpy(x.dims, dims, (size_t)rank * sizeof *dims);
  size_t n = numel(rank, dims);
  double *want = calloc(n ? n : 1, sizeof *want);
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      size_t base = o * len * inner + i;
      int64_t l = ref_arg(&x, base, len, inner, true, false);
      if (l >= 0) want[base + (size_t)l * inner] = 1.0;
    }
  expect_near(y, want, n, 0, 0);
  free(want);
  optest_free(t);
}

static void test_hardmax(void **state) {
  (void)state;
  int64_t d[3] = {2, 3, 4};
  float x[24];
  uint16_t xh[24];
  double xd[24];
  for (int i = 0; i < 24; i++) {
    x[i] = trand();
    xh[i] = emb_f32_to_f16(trand());
    xd[i] = trand();
  }
  for (int axis = -3; axis < 3; axis++) {
    check_hardmax(1, EMBER_FLOAT, 3, d, x, axis);
    check_hardmax(11, EMBER_FLOAT, 3, d, x, axis);
    check_hardmax(13, EMBER_FLOAT, 3, d, x, axis);
  }
  check_hardmax(11, EMBER_FLOAT, 3, d, x, 3); /* the split after the end */
  check_hardmax(11, EMBER_FLOAT, 3, d, x, 99);
  check_hardmax(13, EMBER_FLOAT, 3, d, x, 99);
  check_hardmax(13, EMBER_FLOAT16, 3, d, xh, 1);
  check_hardmax(13, EMBER_BFLOAT16, 3, d, xh, 2);
  check_hardmax(11, EMBER_DOUBLE, 3, d, xd, 1);
  int64_t de[2] = {3, 0};
  check_hardmax(13, EMBER_FLOAT, 2, de, x, 0);

  optest *t = optest_new("Hardmax", 13);
  optest_attr_int(t, "axis", 3);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);

  int32_t xi[24] = {0};
  t = optest_new("Hardmax", 13);
  optest_input(t, EMBER_INT32, 3, d, xi);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
}

/* ------------------------------------------- LpNormalization, MVN */

static void check_lpnorm(int opset, int32_t dtype, int rank,
                         const int64_t *dims, const void *data, int axis,
                         int p) {
  optest *t = optest_new("LpNormalization", opset);
  optest_attr_int(t, "axis", axis);
  if (p) optest_attr_int(t, "p", p);
  optest_input(t, dtype, rank, dims, data);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, dtype, rank, dims);
  emb_tensor x = {.dtype = dtype, .rank = rank, .data = (void *)data};
  memcpy(x.dims, dims, (size_t)rank * sizeof *dims);
  int ax = axis < 0 ? axis + rank : axis;
  size_t n = numel(rank, dims), len = (size_t)dims[ax], inner = 1;
  for (int i = ax + 1; i < rank; i++) inner *= (size_t)dims[i];
  double *want = malloc((n ? n : 1) * sizeof *want);
  for (size_t f = 0; f < n; f++) {
    size_t l = f / inner % len, base = f - l * inner;
    double norm = 0;
    for (size_t j = 0; j < len; j++) {
      double v = emb_tensor_get_f64(&x, base + j * inner);
      norm += p == 1 ? fabs(v) : v * v;
    }
    if (p != 1) norm = sqrt(norm);
    want[f] = norm == 0 ? 0 : emb_tensor_get_f64(&x, f) / norm;
  }
  double tol = dtype == EMBER_FLOAT16 ? 2e-3 : 1e-6;
  expect_near(y, want, n, tol, tol);
  free(want);
  optest_free(t);
}

static void test_lpnorm(void **state) {
  (void)state;
  int64_t d[3] = {3, 4, 5};
  float x[60];
  double xd[60];
  uint16_t xh[60];
  for (int i = 0; i < 60; i++) {
    x[i] = frand();
    xd[i] = frand();
    xh[i] = emb_f32_to_f16(frand());
  }
  /* An all-zero line along the last axis: stays zero. */
  for (int i = 0; i < 5; i++) x[i] = 0;
  for (int axis = -3; axis < 3; axis++) {
    check_lpnorm(1, EMBER_FLOAT, 3, d, x, axis, 1);
    check_lpnorm(22, EMBER_FLOAT, 3, d, x, axis, 2);
  }
  check_lpnorm(22, EMBER_FLOAT, 3, d, x, -1, 0);
  check_lpnorm(22, EMBER_DOUBLE, 3, d, xd, 1, 1);
  check_lpnorm(22, EMBER_FLOAT16, 3, d, xh, 0, 2);
  int64_t d1[1] = {1};
  check_lpnorm(22, EMBER_FLOAT, 1, d1, x + 7, 0, 2);

  optest *t = optest_new("LpNormalization", 22);
  optest_attr_int(t, "p", 3);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "p must be 1 or 2");
  optest_free(t);
}

static void check_mvn(int opset, int32_t dtype, int rank, const int64_t *dims,
                      const void *data, size_t n_axes, const int64_t *axes) {
  optest *t = optest_new("MeanVarianceNormalization", opset);
  if (axes) optest_attr_ints(t, "axes", n_axes, axes);
  optest_input(t, dtype, rank, dims, data);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, dtype, rank, dims);
  static const int64_t def[3] = {0, 2, 3};
  if (!axes) {
    axes = def;
    n_axes = 3;
  }
  bool red[EMB_MAX_RANK] = {false};
  for (size_t i = 0; i < n_axes; i++)
    red[axes[i] < 0 ? axes[i] + rank : axes[i]] = true;
  for (int k = 0; k < rank && n_axes == 0; k++) red[k] = true;
  emb_tensor x = {.dtype = dtype, .rank = rank, .data = (void *)data};
  memcpy(x.dims, dims, (size_t)rank * sizeof *dims);
  size_t n = numel(rank, dims);
  double *want = malloc(n * sizeof *want);
  /* For each element, the mean and variance of the elements that agree
   * with it on every kept axis. */
  for (size_t f = 0; f < n; f++) {
    int64_t fi[EMB_MAX_RANK], gi[EMB_MAX_RANK];
    size_t r = f;
    for (int k = rank - 1; k >= 0; k--) {
      fi[k] = (int64_t)(r % (size_t)dims[k]);
      r /= (size_t)dims[k];
    }
    double s = 0, s2 = 0, cnt = 0;
    for (size_t g = 0; g < n; g++) {
      r = g;
      for (int k = rank - 1; k >= 0; k--) {
        gi[k] = (int64_t)(r % (size_t)dims[k]);
        r /= (size_t)dims[k];
      }
      bool same = true;
      for (int k = 0; k < rank; k++) same &= red[k] || gi[k] == fi[k];
      if (!same) continue;
      double v = emb_tensor_get_f64(&x, g);
      s += v;
      s2 += v * v;
      cnt++;
    }
    double mean = s / cnt, var = s2 / cnt - mean * mean;
    want[f] = (emb_tensor_get_f64(&x, f) - mean) / (sqrt(var) + 1e-9);
  }
  double tol = dtype == EMBER_FLOAT16 ? 1e-2 : 1e-4;
  expect_near(y, want, n, tol, tol);
  free(want);
  optest_free(t);
}

static void test_mvn(void **state) {
  (void)state;
  int64_t d[4] = {2, 3, 4, 5};
  float x[120];
  double xd[120];
  uint16_t xh[120];
  for (int i = 0; i < 120; i++) {
    x[i] = frand();
    xd[i] = frand();
    xh[i] = emb_f32_to_f16(frand());
  }
  check_mvn(9, EMBER_FLOAT, 4, d, x, 0, NULL);
  check_mvn(13, EMBER_FLOAT, 4, d, x, 0, NULL);
  int64_t a1[1] = {1}, a2[2] = {-1, 0}, a4[4] = {0, 1, 2, 3};
  check_mvn(13, EMBER_FLOAT, 4, d, x, 1, a1);
  check_mvn(13, EMBER_FLOAT, 4, d, x, 2, a2);
  check_mvn(13, EMBER_FLOAT, 4, d, x, 4, a4);
  check_mvn(13, EMBER_FLOAT, 4, d, x, 0, a4); /* empty list: all axes */
  check_mvn(13, EMBER_DOUBLE, 4, d, xd, 2, a2);
  check_mvn(13, EMBER_FLOAT16, 4, d, xh, 1, a1);
  int64_t d2[2] = {6, 7};
  check_mvn(13, EMBER_FLOAT, 2, d2, x, 1, a1);

  /* Default axes need rank 4; repeated axes are refused. */
  optest *t = optest_new("MeanVarianceNormalization", 13);
  optest_input(t, EMBER_FLOAT, 2, d2, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);

  int64_t rep[2] = {1, -3};
  t = optest_new("MeanVarianceNormalization", 13);
  optest_attr_ints(t, "axes", 2, rep);
  optest_input(t, EMBER_FLOAT, 4, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "twice");
  optest_free(t);
}

/* -------------------------------------------------------------- Einsum */

/* Brute-force einsum: `labs[i]` gives one letter per axis of input i
 * (ellipses already written out as letters), `olabs` the output's.  A
 * size-1 axis broadcasts against its label's size.  Every assignment of
 * all labels is visited; the product of the inputs is added to the
 * output element the assignment selects. */
static void ref_einsum(int n_in, const char *const *labs,
                       const emb_tensor *const *xs, const char *olabs,
                       const int64_t *odims, double *out) {
  char all[64];
  int64_t size[64];
  int nl = 0;
  for (int i = 0; i < n_in; i++)
    for (int a = 0; labs[i][a]; a++) {
      int j = 0;
      while (j < nl && all[j] != labs[i][a]) j++;
      if (j == nl) {
        all[nl] = labs[i][a];
        size[nl++] = 1;
      }
      if (xs[i]->dims[a] != 1) size[j] = xs[i]->dims[a];
    }
  size_t on = 1;
  int orank = (int)strlen(olabs);
  for (int k = 0; k < orank; k++) on *= (size_t)odims[k];
  for (size_t f = 0; f < on; f++) out[f] = 0;
  int64_t idx[64] = {0};
  size_t total = 1;
  for (int j = 0; j < nl; j++) total *= (size_t)size[j];
  for (size_t it = 0; it < total; it++) {
    double prod = 1;
    for (int i = 0; i < n_in; i++) {
      size_t off = 0;
      for (int a = 0; labs[i][a]; a++) {
        int j = (int)(strchr(all, labs[i][a]) - all);
        off = off * (size_t)xs[i]->dims[a] +
              (size_t)(xs[i]->dims[a] == 1 ? 0 : idx[j]);
      }
      prod *= emb_tensor_get_f64(xs[i], off);
    }
    size_t of = 0;
    for (int k = 0; k < orank; k++) {
      int j = (int)(memchr(all, olabs[k], (size_t)nl) - (void *)all);
      of = of * (size_t)odims[k] + (size_t)idx[j];
    }
    out[of] += prod;
    for (int j = nl - 1; j >= 0; j--) {
      if (++idx[j] < size[j]) break;
      idx[j] = 0;
    }
  }
}

typedef struct ein_case {
  const char *eq;
  int n_in;
  int rank[3];
  int64_t dims[3][5];
  const char *labs[3]; /* expanded per-axis labels for the reference */
  const char *olabs;
  int orank;
  int64_t odims[6];
} ein_case;

static void check_einsum(const ein_case *ec, int32_t dtype, bool consts) {
  void *bufs[3];
  emb_tensor xs[3];
  const emb_tensor *xp[3];
  optest *t = optest_new("Einsum", 12);
  optest_attr_string(t, "equation", ec->eq);
  size_t es = (size_t)emb_dtype_bits(dtype) / 8;
  for (int i = 0; i < ec->n_in; i++) {
    size_t n = numel(ec->rank[i], ec->dims[i]);
    bufs[i] = malloc((n ? n : 1) * es);
    xs[i] = (emb_tensor){.dtype = dtype, .rank = ec->rank[i],
                         .data = bufs[i], .nbytes = n * es};
    memcpy(xs[i].dims, ec->dims[i], (size_t)ec->rank[i] * sizeof(int64_t));
    for (size_t e = 0; e < n; e++)
      emb_tensor_set_f64(&xs[i], e,
                         emb_dtype_is_int(dtype) ? (double)trand()
                                                 : (double)frand() / 4);
    xp[i] = &xs[i];
    if (consts && i == 0)
      optest_input_const(t, dtype, ec->rank[i], ec->dims[i], bufs[i]);
    else
      optest_input(t, dtype, ec->rank[i], ec->dims[i], bufs[i]);
  }
  must_run(t);
  const emb_tensor *y = out_t(t, 0, dtype, ec->orank, ec->odims);
  size_t on = numel(ec->orank, ec->odims);
  double *want = malloc((on ? on : 1) * sizeof *want);
  ref_einsum(ec->n_in, ec->labs, xp, ec->olabs, ec->odims, want);
  double tol = dtype == EMBER_FLOAT16 ? 2e-2 : 1e-4;
  expect_near(y, want, on, tol, tol);
  free(want);
  for (int i = 0; i < ec->n_in; i++) free(bufs[i]);
  optest_free(t);
}

static void test_einsum(void **state) {
  (void)state;
  static const ein_case cases[] = {
      {"ij,jk->ik", 2, {2, 2}, {{3, 4}, {4, 5}}, {"ij", "jk"}, "ik", 2,
       {3, 5}},
      {"bij, bjk -> bik", 2, {3, 3}, {{2, 3, 4}, {2, 4, 5}}, {"bij", "bjk"},
       "bik", 3, {2, 3, 5}},
      {"ij->ji", 1, {2}, {{3, 4}}, {"ij"}, "ji", 2, {4, 3}},
      {"ii->", 1, {2}, {{4, 4}}, {"ii"}, "", 0, {0}},
      {"ii", 1, {2}, {{4, 4}}, {"ii"}, "", 0, {0}},
      {"ii->i", 1, {2}, {{4, 4}}, {"ii"}, "i", 1, {4}},
      {"...ii->...i", 1, {3}, {{3, 5, 5}}, {"Xii"}, "Xi", 2, {3, 5}},
      {"ij,jk", 2, {2, 2}, {{3, 4}, {4, 2}}, {"ij", "jk"}, "ik", 2, {3, 2}},
      {"i,i", 2, {1, 1}, {{5}, {5}}, {"i", "i"}, "", 0, {0}},
      {"i,j->ij", 2, {1, 1}, {{3}, {4}}, {"i", "j"}, "ij", 2, {3, 4}},
      {"ij,jk,kl->il", 3, {2, 2, 2}, {{2, 3}, {3, 4}, {4, 5}},
       {"ij", "jk", "kl"}, "il", 2, {2, 5}},
      {"ij,ik,il->jkl", 3, {2, 2, 2}, {{3, 2}, {3, 3}, {3, 4}},
       {"ij", "ik", "il"}, "jkl", 3, {2, 3, 4}},
      {"...ij,...jk->...ik", 2, {4, 3}, {{2, 1, 3, 4}, {5, 4, 2}},
       {"XYij", "Yjk"}, "XYik", 4, {2, 5, 3, 2}},
      {"bhqd,bhkd->bhqk", 2, {4, 4}, {{2, 3, 4, 5}, {2, 3, 6, 5}},
       {"bhqd", "bhkd"}, "bhqk", 4, {2, 3, 4, 6}},
      {"ijk->i", 1, {3}, {{3, 4, 5}}, {"ijk"}, "i", 1, {3}},
      {"ijk->kj", 1, {3}, {{3, 4, 5}}, {"ijk"}, "kj", 2, {5, 4}},
      {"Ab,bC->CA", 2, {2, 2}, {{3, 4}, {4, 2}}, {"Ab", "bC"}, "CA", 2,
       {2, 3}},
      {"->", 1, {0}, {{0}}, {""}, "", 0, {0}},
      {"ij,ij->ij", 2, {2, 2}, {{3, 4}, {3, 4}}, {"ij", "ij"}, "ij", 2,
       {3, 4}},
      {"ij,kj->ik", 2, {2, 2}, {{3, 4}, {5, 4}}, {"ij", "kj"}, "ik", 2,
       {3, 5}},
      {"ji,jk->ik", 2, {2, 2}, {{4, 3}, {4, 5}}, {"ji", "jk"}, "ik", 2,
       {3, 5}},
      {"iij,jk->ik", 2, {3, 2}, {{3, 3, 4}, {4, 2}}, {"iij", "jk"}, "ik", 2,
       {3, 2}},
      {"ij,jk->", 2, {2, 2}, {{3, 4}, {4, 5}}, {"ij", "jk"}, "", 0, {0}},
      {"bi,bi->b", 2, {2, 2}, {{1, 4}, {3, 4}}, {"bi", "bi"}, "b", 1, {3}},
      {"...,...->...", 2, {2, 1}, {{3, 4}, {4}}, {"XY", "Y"}, "XY", 2,
       {3, 4}},
      {"i...->i", 1, {1}, {{3}}, {"i"}, "i", 1, {3}},
      {"ij,jk->ik", 2, {2, 2}, {{0, 4}, {4, 5}}, {"ij", "jk"}, "ik", 2,
       {0, 5}},
      {"ij,jk->ik", 2, {2, 2}, {{3, 0}, {0, 5}}, {"ij", "jk"}, "ik", 2,
       {3, 5}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    check_einsum(&cases[i], EMBER_FLOAT, false);
    check_einsum(&cases[i], EMBER_DOUBLE, i & 1);
    check_einsum(&cases[i], EMBER_INT32, false);
  }
  check_einsum(&cases[1], EMBER_FLOAT16, false);
  check_einsum(&cases[10], EMBER_INT64, true);
  check_einsum(&cases[12], EMBER_INT8, false);

  /* Errors: term count, rank, characters, sizes, output subscripts. */
  static const struct {
    const char *eq;
    int n_in;
    int rank[2];
    int64_t dims[2][3];
    ember_status st;
    const char *part;
  } bad[] = {
      {"ij,jk->ik", 1, {2, 0}, {{2, 3}}, EMBER_ERR_INVALID_MODEL, "terms"},
      {"ij->ij", 1, {3, 0}, {{2, 3, 4}}, EMBER_ERR_SHAPE, "rank"},
      {"i1->i", 1, {2, 0}, {{2, 3}}, EMBER_ERR_INVALID_MODEL, "'1'"},
      {"ij,jk->ik", 2, {2, 2}, {{2, 3}, {4, 5}}, EMBER_ERR_SHAPE, "size"},
      {"ij->k", 1, {2, 0}, {{2, 3}}, EMBER_ERR_INVALID_MODEL, "'k'"},
      {"ij->ii", 1, {2, 0}, {{2, 3}}, EMBER_ERR_INVALID_MODEL, "twice"},
      {"i.j->ij", 1, {2, 0}, {{2, 3}}, EMBER_ERR_INVALID_MODEL, "'.'"},
      {"......->", 1, {2, 0}, {{2, 3}}, EMBER_ERR_INVALID_MODEL, "ellips"},
      {"ij->i->j", 1, {2, 0}, {{2, 3}}, EMBER_ERR_INVALID_MODEL, "->"},
      {"...i->i", 1, {2, 0}, {{2, 3}}, EMBER_ERR_SHAPE, "'...'"},
  };
  float data[24] = {0};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    optest *t = optest_new("Einsum", 12);
    optest_attr_string(t, "equation", bad[i].eq);
    for (int k = 0; k < bad[i].n_in; k++)
      optest_input(t, EMBER_FLOAT, bad[i].rank[k], bad[i].dims[k], data);
    must_fail(t, bad[i].st, bad[i].part);
    optest_free(t);
  }
  int64_t d2[2] = {2, 2};
  optest *t = optest_new("Einsum", 12);
  optest_input(t, EMBER_FLOAT, 2, d2, data);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "equation");
  optest_free(t);

  int32_t id[4] = {0};
  t = optest_new("Einsum", 12);
  optest_attr_string(t, "equation", "ij,jk");
  optest_input(t, EMBER_FLOAT, 2, d2, data);
  optest_input(t, EMBER_INT32, 2, d2, id);
  must_fail(t, EMBER_ERR_TYPE, "element type");
  optest_free(t);
}

/* ----------------------------------------------------------------- Det */

/* Determinant by cofactor expansion along the first row. */
static double ref_det(const double *a, int n) {
  if (n == 0) return 1;
  if (n == 1) return a[0];
  double sub[36], det = 0;
  for (int c = 0; c < n; c++) {
    int k = 0;
    for (int r = 1; r < n; r++)
      for (int j = 0; j < n; j++)
        if (j != c) sub[k++] = a[r * n + j];
    det += (c & 1 ? -1 : 1) * a[c] * ref_det(sub, n - 1);
  }
  return det;
}

static void check_det(int32_t dtype, int rank, const int64_t *dims,
                      const void *data) {
  optest *t = optest_new("Det", 22);
  optest_input(t, dtype, rank, dims, data);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, dtype, rank - 2, dims);
  emb_tensor x = {.dtype = dtype, .rank = rank, .data = (void *)data};
  memcpy(x.dims, dims, (size_t)rank * sizeof *dims);
  int n = (int)dims[rank - 1];
  size_t batch = numel(rank - 2, dims), nn = (size_t)(n * n);
  double want[16], a[36];
  for (size_t b = 0; b < batch; b++) {
    for (size_t i = 0; i < nn; i++) a[i] = emb_tensor_get_f64(&x, b * nn + i);
    want[b] = ref_det(a, n);
  }
  double tol = emb_dtype_bits(dtype) == 16 ? 1e-2 : 1e-4;
  expect_near(y, want, batch, tol, tol);
  optest_free(t);
}

static void test_det(void **state) {
  (void)state;
  float x[6 * 36];
  double xd[6 * 36];
  uint16_t xh[6 * 36];
  for (int i = 0; i < 6 * 36; i++) {
    x[i] = frand() / 4;
    xd[i] = frand() / 4;
    xh[i] = emb_f32_to_f16(trand());
  }
  for (int64_t n = 0; n <= 6; n++) {
    int64_t d2[2] = {n, n}, d4[4] = {2, 3, n, n};
    check_det(EMBER_FLOAT, 2, d2, x);
    check_det(EMBER_FLOAT, 4, d4, x);
    check_det(EMBER_DOUBLE, 4, d4, xd);
  }
  int64_t d3[3] = {4, 3, 3};
  check_det(EMBER_FLOAT16, 3, d3, xh);
  check_det(EMBER_BFLOAT16, 3, d3, xh);
  /* Singular (two equal rows) and a zero leading pivot. */
  float s[9] = {1, 2, 3, 4, 5, 6, 1, 2, 3};
  float z[9] = {0, 2, 3, 4, 0, 6, 7, 8, 0};
  int64_t d33[2] = {3, 3};
  check_det(EMBER_FLOAT, 2, d33, s);
  check_det(EMBER_FLOAT, 2, d33, z);
  int64_t de[3] = {0, 2, 2};
  check_det(EMBER_FLOAT, 3, de, x);

  int64_t ns[2] = {2, 3}, r1[1] = {4};
  optest *t = optest_new("Det", 22);
  optest_input(t, EMBER_FLOAT, 2, ns, x);
  must_fail(t, EMBER_ERR_SHAPE, "square");
  optest_free(t);

  t = optest_new("Det", 11);
  optest_input(t, EMBER_FLOAT, 1, r1, x);
  must_fail(t, EMBER_ERR_SHAPE, "rank");
  optest_free(t);
}

int main(void) {
  /* Name one definition so that a static link keeps the object (the
   * registry refers to it weakly). */
  volatile const void *keep[] = {&emb_op_topk};
  (void)keep;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_topk),    cmocka_unit_test(test_scan),
      cmocka_unit_test(test_arg),     cmocka_unit_test(test_hardmax),
      cmocka_unit_test(test_lpnorm),  cmocka_unit_test(test_mvn),
      cmocka_unit_test(test_einsum),  cmocka_unit_test(test_det),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
