/*
 * Unit tests for the Reduce* family (lib/ops/reduce.c) through the
 * one-node harness (optest.h), and the float32 reduction kernels under it
 * (kernels/f32-reduce).  Expected values come from a reference written
 * here straight from the definitions: for each output element, gather the
 * input elements that fold into it by index arithmetic and apply the
 * formula in long double (LogSumExp as the plain log of the sum of exps,
 * which long double holds for the large values too).  Covered: all ten
 * ops, every subset of axes of an odd / size-1 shape with keepdims on and
 * off, the attribute form (before opset 18, 13 for ReduceSum) and the
 * input form, no axes (all axes, or the element-wise step only with
 * noop_with_empty_axes), empty reductions giving each op's identity,
 * integer wrapping, the 8-bit and bool orders of Min / Max, float16,
 * bfloat16 and double, NaN, and the errors (status plus a message naming
 * node 'n0').
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

#include "f32-reduce/f32-reduce.h"
#include "ops/op.h"
#include "optest.h"

/* Shared harness helpers (tests/unit/optest.c). */
#define out_t optest_out
#define must_fail optest_must_fail
#define must_run optest_must_run

extern const emb_opdef emb_op_reducemin;

/* ------------------------------------------------------------ helpers */




static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int k = 0; k < rank; k++) n *= (size_t)dims[k];
  return n;
}

/* Deterministic values in [lo, lo + span). */
static uint32_t rng_state = 2024;
static double urand(double lo, double span) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return lo + span * (double)((rng_state >> 8) & 0xffff) / 65536.0;
}

/* Compare any float-typed output element by element with `want`. */
static void expect_close(const emb_tensor *y, const double *want, size_t n,
                         double rtol, double atol, const char *what) {
  for (size_t i = 0; i < n; i++) {
    double g = emb_tensor_get_f64(y, i), w = want[i];
    if (isnan(g) && isnan(w)) continue;
    if (g == w) continue;
    if (!(fabs(g - w) <= atol + rtol * fabs(w)))
      fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, g, w);
  }
}

static void expect_i64(const emb_tensor *y, const int64_t *want, size_t n,
                       const char *what) {
  for (size_t i = 0; i < n; i++)
    if (emb_tensor_get_i64(y, i) != want[i])
      fail_msg("%s: element %zu is %lld, expected %lld", what, i,
               (long long)emb_tensor_get_i64(y, i), (long long)want[i]);
}

/* --------------------------------------------------------- reference */

enum {
  R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP,
  R_SUMSQ, R_COUNT
};

static const char *const op_names[R_COUNT] = {
    "ReduceSum", "ReduceMean", "ReduceMax",       "ReduceMin",
    "ReduceProd", "ReduceL1",  "ReduceL2",        "ReduceLogSum",
    "ReduceLogSumExp", "ReduceSumSquare"};

/* Opset from which the axes are an input. */
static int input_since(int op) { return op == R_SUM ? 13 : 18; }

/* The op over a list of values, as the definitions say (empty lists give
 * the identities: numpy's, with Mean 0 / 0). */
static long double ref_fold(int op, const long double *v, size_t n) {
  long double acc;
  switch (op) {
    case R_MAX:
      acc = -INFINITY;
      for (size_t i = 0; i < n; i++)
        if (isnan(v[i]) || v[i] > acc) acc = isnan(acc) ? acc : v[i];
      return acc;
    case R_MIN:
      acc = INFINITY;
      for (size_t i = 0; i < n; i++)
        if (isnan(v[i]) || v[i] < acc) acc = isnan(acc) ? acc : v[i];
      return acc;
    case R_PROD:
      acc = 1;
      for (size_t i = 0; i < n; i++) acc *= v[i];
      return acc;
    default:
      break;
  }
  acc = 0;
  for (size_t i = 0; i < n; i++) {
    long double x = v[i];
    switch (op) {
      case R_L1: x = fabsl(x); break;
      case R_L2: case R_SUMSQ: x = x * x; break;
      case R_LOGSUMEXP: x = expl(x); break;
      default: break;
    }
    acc += x;
  }
  switch (op) {
    case R_MEAN: return acc / (long double)n;
    case R_L2: return sqrtl(acc);
    case R_LOGSUM: case R_LOGSUMEXP: return logl(acc);
    default: return acc;
  }
}

/* Reduce x (rank, dims d) over mask: output dims (od, *orank) and
 * values. */
static void ref_reduce(int op, const double *x, int rank, const int64_t *d,
                       const bool *mask, bool keep, int *orank, int64_t *od,
                       double *want) {
  int64_t kd[EMB_MAX_RANK];
  int r = 0;
  for (int k = 0; k < rank; k++) {
    kd[k] = mask[k] ? 1 : d[k];
    if (!mask[k] || keep) od[r++] = kd[k];
  }
  *orank = r;
  size_t n_out = numel(rank, kd), n_in = numel(rank, d);
  long double *vals = malloc((n_in + 1) * sizeof *vals);
  for (size_t o = 0; o < n_out; o++) {
    /* Output coordinates, then every input element with the same kept
     * coordinates. */
    int64_t oc[EMB_MAX_RANK], ic[EMB_MAX_RANK];
    size_t f = o;
    for (int k = rank - 1; k >= 0; k--) {
      oc[k] = (int64_t)(f % (size_t)kd[k]);
      f /= (size_t)kd[k];
    }
    size_t n = 0;
    for (size_t i = 0; i < n_in; i++) {
      f = i;
      for (int k = rank - 1; k >= 0; k--) {
        ic[k] = (int64_t)(f % (size_t)d[k]);
        f /= (size_t)d[k];
      }
      bool same = true;
      for (int k = 0; k < rank; k++)
        if (!mask[k] && ic[k] != oc[k]) same = false;
      if (same) vals[n++] = x[i];
    }
    want[o] = (double)ref_fold(op, vals, n);
  }
  free(vals);
}

/* Run op on a float32 input with the given axes (n_axes < 0: none given),
 * in attribute form (opset input_since - 2) or input form. */
static optest *run_f32(int op, bool input_form, const float *x, int rank,
                       const int64_t *d, const int64_t *axes, int n_axes,
                       int keep, int noop) {
  optest *t = optest_new(op_names[op],
                         input_form ? input_since(op) : input_since(op) - 2);
  if (keep >= 0) optest_attr_int(t, "keepdims", keep);
  if (noop >= 0) optest_attr_int(t, "noop_with_empty_axes", noop);
  if (!input_form && n_axes >= 0)
    optest_attr_ints(t, "axes", (size_t)n_axes, axes);
  optest_input(t, EMBER_FLOAT, rank, d, x);
  if (input_form && n_axes >= 0) {
    int64_t ad[1] = {n_axes};
    optest_input(t, EMBER_INT64, 1, ad, axes);
  }
  must_run(t);
  return t;
}

/* ------------------------------------------------------------- tests */

/* Every op, every subset of the axes of a (3, 1, 4, 5) input, keepdims on
 * and off, both forms. */
static void test_reduce_all_axes_subsets(void **state) {
  (void)state;
  int64_t d[4] = {3, 1, 4, 5};
  float x[60];
  double xd[60], want[60];
  for (int op = 0; op < R_COUNT; op++) {
    /* positive values for LogSum; small ones so Prod stays in range */
    for (int i = 0; i < 60; i++) {
      x[i] = (float)(op == R_LOGSUM ? urand(0.05, 2) : urand(-1.5, 3));
      xd[i] = x[i];
    }
    for (int m = 1; m < 16; m++) {
      bool mask[4];
      int64_t axes[4];
      int n = 0;
      for (int k = 0; k < 4; k++) {
        mask[k] = (m >> k) & 1;
        if (mask[k]) axes[n++] = k % 2 ? k - 4 : k; /* some negative */
      }
      for (int keep = 0; keep < 2; keep++) {
        int orank;
        int64_t od[4];
        ref_reduce(op, xd, 4, d, mask, keep, &orank, od, want);
        for (int form = 0; form < 2; form++) {
          optest *t = run_f32(op, form, x, 4, d, axes, n, keep, -1);
          char what[96];
          snprintf(what, sizeof what, "%s axes mask %d keepdims %d form %d",
                   op_names[op], m, keep, form);
          expect_close(out_t(t, 0, EMBER_FLOAT, orank, od), want,
                       numel(orank, od), 1e-5, 1e-6, what);
          optest_free(t);
        }
      }
    }
  }
}

/* No axes: all axes (keepdims default 1); with noop_with_empty_axes only
 * the element-wise steps remain. */
static void test_reduce_no_axes(void **state) {
  (void)state;
  int64_t d[3] = {2, 3, 1}, one[3] = {1, 1, 1};
  bool all[3] = {true, true, true}, none[3] = {false, false, false};
  float x[6];
  double xd[6], want[6];
  for (int op = 0; op < R_COUNT; op++) {
    for (int i = 0; i < 6; i++) {
      x[i] = (float)(op == R_LOGSUM ? urand(0.1, 3) : urand(-3, 6));
      xd[i] = x[i];
    }
    int orank;
    int64_t od[3];
    ref_reduce(op, xd, 3, d, all, true, &orank, od, want);
    for (int form = 0; form < 2; form++) {
      optest *t = run_f32(op, form, x, 3, d, NULL, -1, -1, -1);
      expect_close(out_t(t, 0, EMBER_FLOAT, 3, one), want, 1, 1e-5, 1e-6,
                   op_names[op]);
      optest_free(t);
    }
    /* An empty axes input is "no axes" too. */
    int64_t nothing[1] = {0};
    optest *t = run_f32(op, true, x, 3, d, nothing, 0, 0, -1);
    expect_close(out_t(t, 0, EMBER_FLOAT, 0, NULL), want, 1, 1e-5, 1e-6,
                 op_names[op]);
    optest_free(t);

    ref_reduce(op, xd, 3, d, none, true, &orank, od, want);
    t = run_f32(op, true, x, 3, d, NULL, -1, 0, 1);
    char what[64];
    snprintf(what, sizeof what, "%s noop_with_empty_axes", op_names[op]);
    expect_close(out_t(t, 0, EMBER_FLOAT, 3, d), want, 6, 1e-6, 1e-7, what);
    optest_free(t);
  }
}

/* A reduced axis of size 0: the identities. */
static void test_reduce_empty_set(void **state) {
  (void)state;
  int64_t d[3] = {2, 0, 3}, od[3] = {2, 1, 3}, ax[1] = {1};
  bool mask[3] = {false, true, false};
  float x[1] = {0};
  double want[6];
  for (int op = 0; op < R_COUNT; op++) {
    int orank;
    int64_t rd[3];
    ref_reduce(op, NULL, 3, d, mask, true, &orank, rd, want);
    for (int form = 0; form < 2; form++) {
      optest *t = run_f32(op, form, x, 3, d, ax, 1, 1, -1);
      char what[64];
      snprintf(what, sizeof what, "%s of nothing", op_names[op]);
      expect_close(out_t(t, 0, EMBER_FLOAT, 3, od), want, 6, 0, 0, what);
      optest_free(t);
    }
  }
  /* A kept axis of size 0: an empty output. */
  int64_t d2[2] = {0, 4}, o2[1] = {0}, ax1[1] = {1};
  for (int op = 0; op < R_COUNT; op++) {
    optest *t = run_f32(op, true, x, 2, d2, ax1, 1, 0, -1);
    out_t(t, 0, EMBER_FLOAT, 1, o2);
    optest_free(t);
  }

  /* Integer identities: Min the type's highest, Max its lowest. */
  static const struct {
    int op;
    int32_t dt;
    int64_t want;
  } ints[] = {
      {R_MIN, EMBER_INT32, INT32_MAX},  {R_MAX, EMBER_INT32, INT32_MIN},
      {R_MIN, EMBER_INT8, INT8_MAX},    {R_MAX, EMBER_INT8, INT8_MIN},
      {R_MIN, EMBER_UINT8, UINT8_MAX},  {R_MAX, EMBER_UINT8, 0},
      {R_MIN, EMBER_UINT32, UINT32_MAX}, {R_MIN, EMBER_INT64, INT64_MAX},
      {R_MAX, EMBER_INT64, INT64_MIN},  {R_MIN, EMBER_BOOL, 1},
      {R_MAX, EMBER_BOOL, 0},           {R_PROD, EMBER_INT32, 1},
      {R_SUM, EMBER_INT64, 0},          {R_SUMSQ, EMBER_INT32, 0},
      {R_L1, EMBER_UINT64, 0},
  };
  int64_t dz[2] = {3, 0}, oz[1] = {3};
  uint64_t dummy = 0;
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    optest *t = optest_new(op_names[ints[i].op], 20);
    optest_attr_int(t, "keepdims", 0);
    optest_input(t, ints[i].dt, 2, dz, &dummy);
    optest_input(t, EMBER_INT64, 1, ax1, ax1);
    must_run(t);
    const emb_tensor *y = out_t(t, 0, ints[i].dt, 1, oz);
    for (int k = 0; k < 3; k++) {
      int64_t g = emb_tensor_get_i64(y, (size_t)k);
      if (ints[i].dt == EMBER_UINT32) g = (int64_t)(uint32_t)g;
      if (g != ints[i].want)
        fail_msg("%s of no %s: element %d is %lld, expected %lld",
                 op_names[ints[i].op], ember_dtype_name(ints[i].dt), k,
                 (long long)g, (long long)ints[i].want);
    }
    optest_free(t);
  }
  /* uint64 Min: all ones. */
  optest *t = optest_new("ReduceMin", 18);
  optest_attr_int(t, "keepdims", 0);
  optest_input(t, EMBER_UINT64, 2, dz, &dummy);
  optest_input(t, EMBER_INT64, 1, ax1, ax1);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_UINT64, 1, oz);
  for (int k = 0; k < 3; k++)
    assert_true(((const uint64_t *)y->data)[k] == UINT64_MAX);
  optest_free(t);
}

/* The op over n integers of a `bits`-wide signed type: Sum, Prod, L1 and
 * SumSquare wrap as that type's arithmetic does (numpy's result cast
 * back to the type), Mean is the exact mean truncated toward zero, and
 * L2, LogSum, LogSumExp the float result truncated, saturated to the
 * type. */
static int64_t ref_int(int op, const int32_t *v, int n, int bits) {
  uint64_t acc = op == R_PROD ? 1 : 0;
  int64_t exact = 0, m = v[0];
  long double f = 0;
  for (int k = 0; k < n; k++) {
    uint64_t u = (uint64_t)(int64_t)v[k];
    if (op == R_L1 && v[k] < 0) u = 0 - u;
    if (op == R_SUMSQ) u *= u;
    acc = op == R_PROD ? acc * u : acc + u;
    exact += v[k];
    if (op == R_MAX ? v[k] > m : v[k] < m) m = v[k];
    f += op == R_L2 ? (long double)v[k] * v[k]
         : op == R_LOGSUMEXP ? expl(v[k]) : (long double)v[k];
  }
  int64_t lo = bits == 32 ? INT32_MIN : INT64_MIN;
  int64_t hi = bits == 32 ? INT32_MAX : INT64_MAX;
  switch (op) {
    case R_MAX: case R_MIN: return m;
    case R_MEAN: return exact / n;
    case R_L2: case R_LOGSUM: case R_LOGSUMEXP: {
      f = op == R_L2 ? sqrtl(f) : logl(f);
      return f >= hi ? hi : f <= lo ? lo : (int64_t)f;
    }
    default:
      return bits == 32 ? (int64_t)(int32_t)(uint32_t)acc : (int64_t)acc;
  }
}

/* Integer types: exact results. */
static void test_reduce_integers(void **state) {
  (void)state;
  int64_t d[2] = {2, 3}, ax[1] = {1}, od[2] = {2, 1};
  /* values that wrap int32 (sum, product, squares) for the integer ops,
   * smaller positive sums for the float ones */
  const int32_t xw[6] = {INT32_MAX, -2, 3, -7, 0, 65536};
  const int32_t xf[6] = {3, 4, 12, -7, 0, 30};
  for (int op = 0; op < R_COUNT; op++) {
    bool fl = op == R_L2 || op == R_LOGSUM || op == R_LOGSUMEXP;
    const int32_t *x = fl ? xf : xw;
    int64_t x64[6];
    for (int i = 0; i < 6; i++) x64[i] = x[i];
    for (int wide = 0; wide < 2; wide++) {
      int bits = wide ? 64 : 32;
      int64_t want[2] = {ref_int(op, x, 3, bits), ref_int(op, x + 3, 3, bits)};
      optest *t = optest_new(op_names[op], 18);
      optest_input(t, wide ? EMBER_INT64 : EMBER_INT32, 2, d,
                   wide ? (const void *)x64 : (const void *)x);
      optest_input(t, EMBER_INT64, 1, ax, ax);
      must_run(t);
      char what[64];
      snprintf(what, sizeof what, "%s int%d", op_names[op], bits);
      expect_i64(out_t(t, 0, wide ? EMBER_INT64 : EMBER_INT32, 2, od), want,
                 2, what);
      optest_free(t);
    }
  }

  /* Beyond the type: LogSumExp of INT32_MAX saturates (exp overflowing
   * no float type on the way), LogSum of a negative sum (NaN) is 0. */
  const int32_t xs[6] = {INT32_MAX, INT32_MAX, 0, -5, 1, 1};
  int64_t ws[2][2] = {{INT32_MAX, (int64_t)log(exp(-5.0) + 2 * exp(1.0))},
                      {(int64_t)log(2.0 * INT32_MAX), 0}};
  static const int sat_ops[2] = {R_LOGSUMEXP, R_LOGSUM};
  for (int k = 0; k < 2; k++) {
    optest *t = optest_new(op_names[sat_ops[k]], 18);
    optest_input(t, EMBER_INT32, 2, d, xs);
    optest_input(t, EMBER_INT64, 1, ax, ax);
    must_run(t);
    expect_i64(out_t(t, 0, EMBER_INT32, 2, od), ws[k], 2, "saturation");
    optest_free(t);
  }

  /* Min and Max of int8, uint8 and bool (False < True). */
  int8_t i8[6] = {-128, 127, 5, -3, -3, 0};
  uint8_t u8[6] = {0, 255, 7, 200, 201, 199};
  uint8_t b[6] = {1, 1, 0, 1, 1, 1};
  int64_t w_i8[2][2] = {{-128, -3}, {127, 0}};
  int64_t w_u8[2][2] = {{0, 199}, {255, 201}};
  int64_t w_b[2][2] = {{0, 1}, {1, 1}};
  for (int mx = 0; mx < 2; mx++) {
    const void *data[3] = {i8, u8, b};
    const int32_t dts[3] = {EMBER_INT8, EMBER_UINT8, EMBER_BOOL};
    const int64_t *wants[3] = {w_i8[mx], w_u8[mx], w_b[mx]};
    for (int k = 0; k < 3; k++) {
      optest *t = optest_new(mx ? "ReduceMax" : "ReduceMin", 20);
      optest_input(t, dts[k], 2, d, data[k]);
      optest_input(t, EMBER_INT64, 1, ax, ax);
      must_run(t);
      expect_i64(out_t(t, 0, dts[k], 2, od), wants[k], 2,
                 ember_dtype_name(dts[k]));
      optest_free(t);
    }
  }

  /* uint64 beyond int64: Min, Sum and Prod stay unsigned. */
  uint64_t u64[3] = {UINT64_MAX, UINT64_MAX - 5, 2};
  int64_t d1[1] = {3};
  static const int ops64[3] = {R_MIN, R_SUM, R_PROD};
  uint64_t want64[3] = {2, UINT64_MAX - 5 + UINT64_MAX + 2,
                        UINT64_MAX * (UINT64_MAX - 5) * 2};
  for (int k = 0; k < 3; k++) {
    optest *t = optest_new(op_names[ops64[k]], 13);
    optest_attr_int(t, "keepdims", 0);
    optest_input(t, EMBER_UINT64, 1, d1, u64);
    must_run(t);
    const emb_tensor *y = out_t(t, 0, EMBER_UINT64, 0, NULL);
    if (((const uint64_t *)y->data)[0] != want64[k])
      fail_msg("%s uint64: got %llu, expected %llu", op_names[ops64[k]],
               (unsigned long long)((const uint64_t *)y->data)[0],
               (unsigned long long)want64[k]);
    optest_free(t);
  }
}

/* float16, bfloat16 and double, and LogSumExp on values whose exp
 * overflows float32 (and double). */
static void test_reduce_float_types(void **state) {
  (void)state;
  int64_t d[3] = {3, 4, 2}, ax[2] = {0, 2}, od[1] = {4};
  bool mask[3] = {true, false, true};
  uint16_t h[24], bf[24];
  double xh[24], xb[24], xd[24], want[4];
  for (int op = 0; op < R_COUNT; op++) {
    for (int i = 0; i < 24; i++) {
      double v = op == R_LOGSUM ? urand(0.1, 2) : urand(-2, 4);
      h[i] = emb_f32_to_f16((float)v);
      xh[i] = emb_f16_to_f32(h[i]);
      bf[i] = emb_f32_to_bf16((float)v);
      xb[i] = emb_bf16_to_f32(bf[i]);
      xd[i] = v;
    }
    const void *data[3] = {h, bf, xd};
    const double *ref_in[3] = {xh, xb, xd};
    const int32_t dts[3] = {EMBER_FLOAT16, EMBER_BFLOAT16, EMBER_DOUBLE};
    const double tol[3] = {2e-3, 1.6e-2, 1e-12};
    for (int k = 0; k < 3; k++) {
      int orank;
      int64_t rd[3];
      ref_reduce(op, ref_in[k], 3, d, mask, false, &orank, rd, want);
      /* results round to the type */
      optest *t = optest_new(op_names[op], 18);
      optest_attr_int(t, "keepdims", 0);
      optest_input(t, dts[k], 3, d, data[k]);
      int64_t ad[1] = {2};
      optest_input(t, EMBER_INT64, 1, ad, ax);
      must_run(t);
      char what[64];
      snprintf(what, sizeof what, "%s %s", op_names[op],
               ember_dtype_name(dts[k]));
      expect_close(out_t(t, 0, dts[k], 1, od), want, 4, tol[k], tol[k],
                   what);
      optest_free(t);
    }
  }

  /* LogSumExp stays finite where exp overflows: float32 around 100 and
   * 1000, double around 1000, and -inf / +inf elements. */
  int64_t d2[2] = {2, 3}, ax1[1] = {1}, o2[1] = {2};
  bool m2[2] = {false, true};
  double big[6] = {100, 101, 99.5, 1000, 999, 998.25}, w2[2];
  float bigf[6];
  for (int i = 0; i < 6; i++) bigf[i] = (float)big[i];
  ref_reduce(R_LOGSUMEXP, big, 2, d2, m2, false, (int[]){0}, (int64_t[2]){0},
             w2);
  for (int dbl = 0; dbl < 2; dbl++) {
    optest *t = optest_new("ReduceLogSumExp", 18);
    optest_attr_int(t, "keepdims", 0);
    optest_input(t, dbl ? EMBER_DOUBLE : EMBER_FLOAT, 2, d2,
                 dbl ? (const void *)big : (const void *)bigf);
    optest_input(t, EMBER_INT64, 1, ax1, ax1);
    must_run(t);
    expect_close(out_t(t, 0, dbl ? EMBER_DOUBLE : EMBER_FLOAT, 1, o2), w2,
                 2, 1e-6, 0, "LogSumExp of large values");
    optest_free(t);
  }
  float inf[6] = {-INFINITY, -INFINITY, -INFINITY, 1, INFINITY, 2};
  double winf[2] = {-INFINITY, INFINITY};
  optest *t = optest_new("ReduceLogSumExp", 13);
  optest_attr_int(t, "keepdims", 0);
  optest_attr_ints(t, "axes", 1, ax1);
  optest_input(t, EMBER_FLOAT, 2, d2, inf);
  must_run(t);
  expect_close(out_t(t, 0, EMBER_FLOAT, 1, o2), winf, 2, 0, 0,
               "LogSumExp of infinities");
  optest_free(t);

  /* NaN propagates through Min and Max. */
  float xn[6] = {1, NAN, -1, 3, 2, 1};
  double wn[2][2] = {{NAN, 1}, {NAN, 3}};
  for (int mx = 0; mx < 2; mx++) {
    t = optest_new(mx ? "ReduceMax" : "ReduceMin", 18);
    optest_attr_int(t, "keepdims", 0);
    optest_input(t, EMBER_FLOAT, 2, d2, xn);
    optest_input(t, EMBER_INT64, 1, ax1, ax1);
    must_run(t);
    expect_close(out_t(t, 0, EMBER_FLOAT, 1, o2), wn[mx], 2, 0, 0,
                 mx ? "Max with NaN" : "Min with NaN");
    optest_free(t);
  }
}

/* Axes known only at run time; constant inputs folded at load. */
static void test_reduce_const_and_old_opsets(void **state) {
  (void)state;
  int64_t d[2] = {3, 2}, ax[1] = {0}, od[2] = {1, 2};
  float x[6] = {1, -2, 3, 4, -5, 0.5f};
  double xd[6], want[2];
  for (int i = 0; i < 6; i++) xd[i] = x[i];
  bool mask[2] = {true, false};
  for (int op = 0; op < R_COUNT; op++) {
    if (op == R_LOGSUM) continue; /* negative input */
    int orank;
    int64_t rd[2];
    ref_reduce(op, xd, 2, d, mask, true, &orank, rd, want);
    optest *t = optest_new(op_names[op], 18);
    optest_input_const(t, EMBER_FLOAT, 2, d, x);
    optest_input_const(t, EMBER_INT64, 1, (int64_t[]){1}, ax);
    must_run(t);
    expect_close(out_t(t, 0, EMBER_FLOAT, 2, od), want, 2, 1e-6, 1e-7,
                 op_names[op]);
    optest_free(t);
    /* opset 1 and 11: attribute axes */
    for (int v = 1; v <= 11; v += 10) {
      t = optest_new(op_names[op], v);
      optest_attr_ints(t, "axes", 1, ax);
      optest_input(t, EMBER_FLOAT, 2, d, x);
      must_run(t);
      expect_close(out_t(t, 0, EMBER_FLOAT, 2, od), want, 2, 1e-6, 1e-7,
                   op_names[op]);
      optest_free(t);
    }
  }
}

static void test_reduce_errors(void **state) {
  (void)state;
  int64_t d[2] = {2, 3}, two[1] = {2}, rep[2] = {1, -1}, far[1] = {2};
  float x[6] = {0};
  optest *t = optest_new("ReduceL2", 18);
  optest_input(t, EMBER_FLOAT, 2, d, x);
  optest_input(t, EMBER_INT64, 1, two, rep);
  must_fail(t, EMBER_ERR_RUNTIME, "repeated");
  optest_free(t);

  t = optest_new("ReduceMin", 13);
  optest_attr_ints(t, "axes", 1, far);
  optest_input(t, EMBER_FLOAT, 2, d, x);
  must_fail(t, EMBER_ERR_RUNTIME, "out of range");
  optest_free(t);

  /* known at load: the model is invalid */
  t = optest_new("ReduceLogSumExp", 18);
  optest_input_const(t, EMBER_FLOAT, 2, d, x);
  optest_input_const(t, EMBER_INT64, 1, (int64_t[]){1}, far);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "out of range");
  optest_free(t);

  uint8_t b[6] = {0};
  t = optest_new("ReduceProd", 18);
  optest_input(t, EMBER_BOOL, 2, d, b);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "bool");
  optest_free(t);

  const char *s[1] = {"x"};
  int64_t one[1] = {1};
  t = optest_new("ReduceMin", 18);
  optest_input(t, EMBER_STRING, 1, one, s);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "string");
  optest_free(t);

  float ax_f[1] = {0};
  t = optest_new("ReduceSumSquare", 18);
  optest_input(t, EMBER_FLOAT, 2, d, x);
  optest_input(t, EMBER_FLOAT, 1, one, ax_f);
  must_fail(t, EMBER_ERR_UNSUPPORTED, NULL);
  optest_free(t);
}

/* The float32 Min and Prod kernels against plain loops, at the shapes
 * that take each path (rows, inner vectors, red == 0). */
static void test_kernel_reduce_min_prod(void **state) {
  (void)state;
  static const size_t shapes[][3] = {{1, 1, 1}, {3, 0, 2}, {2, 17, 1},
                                     {4, 5, 33}, {1, 300, 1}, {2, 3, 7}};
  float x[4096], y[512];
  for (int i = 0; i < 4096; i++) x[i] = (float)urand(0.5, 1.0);
  x[100] = NAN;
  for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
    size_t O = shapes[c][0], R = shapes[c][1], I = shapes[c][2];
    const float *in = c == 4 ? x + 50 : x; /* case 4 holds the NaN */
    ember_f32_rmin__scalar(O, R, I, in, y);
    for (size_t o = 0; o < O; o++)
      for (size_t i = 0; i < I; i++) {
        float m = INFINITY;
        bool nan = false;
        for (size_t r = 0; r < R; r++) {
          float v = in[(o * R + r) * I + i];
          nan |= isnan(v);
          if (v < m) m = v;
        }
        float g = y[o * I + i];
        if (nan ? !isnan(g) : g != m)
          fail_msg("min case %zu [%zu,%zu]: got %g, expected %g", c, o, i,
                   (double)g, nan ? NAN : (double)m);
      }
    ember_f32_rprod__scalar(O, R, I, in, y);
    for (size_t o = 0; o < O; o++)
      for (size_t i = 0; i < I; i++) {
        double p = 1;
        for (size_t r = 0; r < R; r++) p *= in[(o * R + r) * I + i];
        double g = y[o * I + i];
        if (!(isnan(p) && isnan(g)) && fabs(g - p) > 1e-5 * fabs(p))
          fail_msg("prod case %zu [%zu,%zu]: got %g, expected %g", c, o, i,
                   g, p);
      }
  }
}

int main(void) {
  /* Name one definition so that a static link keeps reduce.c (the
   * registry refers to it weakly). */
  volatile const void *keep[] = {&emb_op_reducemin};
  (void)keep;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reduce_all_axes_subsets),
      cmocka_unit_test(test_reduce_no_axes),
      cmocka_unit_test(test_reduce_empty_set),
      cmocka_unit_test(test_reduce_integers),
      cmocka_unit_test(test_reduce_float_types),
      cmocka_unit_test(test_reduce_const_and_old_opsets),
      cmocka_unit_test(test_reduce_errors),
      cmocka_unit_test(test_kernel_reduce_min_prod),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
