/*
 * Unit tests for the data-movement and reduction operators (lib/ops/
 * shape.c, gather.c, pad.c, reduce.c) through the one-node harness
 * (optest.h).  Every expected value is computed here from the inputs by
 * index arithmetic written independently of the library (numpy's rules
 * restated: slicing by clamped start/stop/step, padding by per-mode source
 * positions, reductions in double), on odd and size-1 dims, empty tensors,
 * scalars, strings and bool, with parameters given both as constants
 * (folded at load) and as run-time inputs, for the opset versions whose
 * form differs.  Errors must carry the right status and name the node.
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
#include "xx-copy/xx-copy.h"

extern const emb_opdef emb_op_concat, emb_op_gather, emb_op_pad,
    emb_op_reducesum;

/* ------------------------------------------------------------ helpers */




static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int k = 0; k < rank; k++) n *= (size_t)dims[k];
  return n;
}

/* Flat index -> multi-index and back, row-major. */
static void unravel(size_t flat, int rank, const int64_t *dims,
                    int64_t *idx) {
  for (int k = rank - 1; k >= 0; k--) {
    idx[k] = (int64_t)(flat % (size_t)dims[k]);
    flat /= (size_t)dims[k];
  }
}

static size_t ravel(const int64_t *idx, int rank, const int64_t *dims) {
  size_t f = 0;
  for (int k = 0; k < rank; k++) f = f * (size_t)dims[k] + (size_t)idx[k];
  return f;
}

/* Deterministic test data. */
static uint32_t rng_state = 12345;
static float frand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xffff) / 4096.0f - 8.0f;
}

static void expect_f32(const emb_tensor *y, const float *want, size_t n,
                       double rtol, double atol) {
  const float *got = y->data;
  for (size_t i = 0; i < n; i++) {
    double g = got[i], w = want[i];
    if (isnan(g) && isnan(w)) continue;
    if (g == w) continue;
    if (!(fabs(g - w) <= atol + rtol * fabs(w)))
      fail_msg("element %zu: got %.9g, expected %.9g", i, g, w);
  }
}

static void expect_same_f32(const emb_tensor *y, const float *want,
                            size_t n) {
  expect_f32(y, want, n, 0, 0);
}

static void expect_i64(const emb_tensor *y, const int64_t *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (emb_tensor_get_i64(y, i) != want[i])
      fail_msg("element %zu: got %lld, expected %lld", i,
               (long long)emb_tensor_get_i64(y, i), (long long)want[i]);
}

static void expect_strings(const emb_tensor *y, const char *const *want,
                           size_t n) {
  char *const *got = y->data;
  for (size_t i = 0; i < n; i++)
    if (strcmp(got[i], want[i]))
      fail_msg("element %zu: got '%s', expected '%s'", i, got[i], want[i]);
}

static const char *const words[] = {"a", "bb", "ccc", "", "e", "ff", "g",
                                    "hh", "i", "jj", "k", "ll"};

/* ------------------------------------------------------------- Concat */

static void test_concat(void **state) {
  (void)state;
  /* Three inputs along axis 1 (given as -2): sizes 2, 0 and 3. */
  int64_t da[3] = {3, 2, 5}, db[3] = {3, 0, 5}, dc[3] = {3, 3, 5};
  float a[30], c[45], want[75];
  for (int i = 0; i < 30; i++) a[i] = frand();
  for (int i = 0; i < 45; i++) c[i] = frand();
  for (int opset = 11; opset <= 13; opset += 2) {
    optest *t = optest_new("Concat", opset);
    optest_attr_int(t, "axis", -2);
    optest_input(t, EMBER_FLOAT, 3, da, a);
    optest_input(t, EMBER_FLOAT, 3, db, a);
    optest_input_const(t, EMBER_FLOAT, 3, dc, c);
    must_run(t);
    int64_t od[3] = {3, 5, 5};
    const emb_tensor *y = out_t(t, 0, EMBER_FLOAT, 3, od);
    for (size_t f = 0; f < 75; f++) {
      int64_t idx[3];
      unravel(f, 3, od, idx);
      if (idx[1] < 2) {
        want[f] = a[ravel(idx, 3, da)];
      } else {
        idx[1] -= 2;
        want[f] = c[ravel(idx, 3, dc)];
      }
    }
    expect_same_f32(y, want, 75);
    optest_free(t);
  }

  /* Strings along the last axis; a single input. */
  int64_t s1[2] = {2, 1}, s2[2] = {2, 2};
  optest *t = optest_new("Concat", 13);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_STRING, 2, s1, words);
  optest_input(t, EMBER_STRING, 2, s2, words + 2);
  must_run(t);
  int64_t sd[2] = {2, 3};
  const char *sw[6] = {"a", "ccc", "", "bb", "e", "ff"};
  expect_strings(out_t(t, 0, EMBER_STRING, 2, sd), sw, 6);
  optest_free(t);

  t = optest_new("Concat", 13);
  optest_attr_int(t, "axis", 0);
  optest_input(t, EMBER_STRING, 2, s2, words);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 2, s2), words, 4);
  optest_free(t);

  /* Errors. */
  t = optest_new("Concat", 13);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 3, da, a);
  optest_input(t, EMBER_FLOAT, 2, s1, a);
  must_fail(t, EMBER_ERR_SHAPE, "rank");
  optest_free(t);

  int64_t bad[3] = {2, 2, 5};
  t = optest_new("Concat", 13);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 3, da, a);
  optest_input(t, EMBER_FLOAT, 3, bad, a);
  must_fail(t, EMBER_ERR_SHAPE, "dimension 0");
  optest_free(t);

  t = optest_new("Concat", 13);
  optest_input(t, EMBER_FLOAT, 3, da, a);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);

  t = optest_new("Concat", 13);
  optest_attr_int(t, "axis", 3);
  optest_input(t, EMBER_FLOAT, 3, da, a);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis 3");
  optest_free(t);
}

/* -------------------------------------------------------------- Split */

/* Check output j of a split of x (dims d, axis ax) starting at `off`. */
static void check_part(optest *t, int j, const float *x, int rank,
                       const int64_t *d, int ax, int64_t off, int64_t len) {
  int64_t od[EMB_MAX_RANK], idx[EMB_MAX_RANK];
  memcpy(od, d, sizeof(int64_t) * (size_t)rank);
  od[ax] = len;
  const emb_tensor *y = out_t(t, j, EMBER_FLOAT, rank, od);
  size_t n = numel(rank, od);
  float *want = malloc((n ? n : 1) * sizeof *want);
  for (size_t f = 0; f < n; f++) {
    unravel(f, rank, od, idx);
    idx[ax] += off;
    want[f] = x[ravel(idx, rank, d)];
  }
  expect_same_f32(y, want, n);
  free(want);
}

static void test_split(void **state) {
  (void)state;
  int64_t d[3] = {2, 7, 3};
  float x[42];
  for (int i = 0; i < 42; i++) x[i] = frand();

  /* opset 13: sizes from an input, with an empty part. */
  int64_t sizes[3] = {1, 0, 6}, sd[1] = {3};
  for (int konst = 0; konst < 2; konst++) {
    optest *t = optest_new("Split", 13);
    optest_attr_int(t, "axis", -2);
    optest_input(t, EMBER_FLOAT, 3, d, x);
    if (konst)
      optest_input_const(t, EMBER_INT64, 1, sd, sizes);
    else
      optest_input(t, EMBER_INT64, 1, sd, sizes);
    optest_outputs(t, 3);
    must_run(t);
    check_part(t, 0, x, 3, d, 1, 0, 1);
    check_part(t, 1, x, 3, d, 1, 1, 0);
    check_part(t, 2, x, 3, d, 1, 1, 6);
    optest_free(t);
  }

  /* opset 18: num_outputs, uneven: 7 = 2 + 2 + 2 + 1. */
  optest *t = optest_new("Split", 18);
  optest_attr_int(t, "axis", 1);
  optest_attr_int(t, "num_outputs", 4);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_outputs(t, 4);
  must_run(t);
  for (int j = 0; j < 4; j++)
    check_part(t, j, x, 3, d, 1, 2 * j, j < 3 ? 2 : 1);
  optest_free(t);

  /* opset 11: 'split' attribute; opset 2: equal parts by default. */
  int64_t sa[2] = {5, 2};
  t = optest_new("Split", 11);
  optest_attr_int(t, "axis", 1);
  optest_attr_ints(t, "split", 2, sa);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_outputs(t, 2);
  must_run(t);
  check_part(t, 0, x, 3, d, 1, 0, 5);
  check_part(t, 1, x, 3, d, 1, 5, 2);
  optest_free(t);

  t = optest_new("Split", 2);
  optest_attr_int(t, "axis", 2);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_outputs(t, 3);
  must_run(t);
  for (int j = 0; j < 3; j++) check_part(t, j, x, 3, d, 2, j, 1);
  optest_free(t);

  /* Strings. */
  int64_t wd[1] = {5};
  t = optest_new("Split", 13);
  optest_input(t, EMBER_STRING, 1, wd, words);
  int64_t ws[2] = {2, 3};
  int64_t wsd[1] = {2};
  optest_input_const(t, EMBER_INT64, 1, wsd, ws);
  optest_outputs(t, 2);
  must_run(t);
  int64_t o1[1] = {2}, o2[1] = {3};
  expect_strings(out_t(t, 0, EMBER_STRING, 1, o1), words, 2);
  expect_strings(out_t(t, 1, EMBER_STRING, 1, o2), words + 2, 3);
  optest_free(t);

  /* Errors: sizes that do not add up; uneven equal split. */
  int64_t badsz[3] = {1, 1, 1};
  t = optest_new("Split", 13);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, sd, badsz);
  optest_outputs(t, 3);
  must_fail(t, EMBER_ERR_SHAPE, "add up");
  optest_free(t);

  t = optest_new("Split", 13);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_SHAPE, "equal");
  optest_free(t);
}

/* -------------------------------------------------------------- Slice */

/* The indices the Slice specification selects along one axis. */
static int64_t slice_indices(int64_t dim, int64_t start, int64_t end,
                             int64_t step, int64_t *out) {
  int64_t n = 0;
  int64_t s = start < 0 ? start + dim : start;
  int64_t e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = s < 0 ? 0 : s > dim ? dim : s;
    e = e < 0 ? 0 : e > dim ? dim : e;
    for (int64_t i = s; i < e; i += step) out[n++] = i;
  } else {
    s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
    e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
    for (int64_t i = s; i > e; i += step) out[n++] = i;
  }
  return n;
}

typedef struct slice_case {
  int n;
  int64_t starts[3], ends[3], axes[3], steps[3];
  bool axes_given, steps_given;
} slice_case;

static void slice_reference(const float *x, const int64_t *d,
                            const slice_case *sc, int64_t *od, float *want) {
  int64_t sel[3][16], cnt[3];
  for (int k = 0; k < 3; k++) {
    cnt[k] = d[k];
    for (int64_t i = 0; i < d[k]; i++) sel[k][i] = i;
  }
  for (int i = 0; i < sc->n; i++) {
    int64_t ax = sc->axes_given ? sc->axes[i] : i;
    if (ax < 0) ax += 3;
    cnt[ax] = slice_indices(d[ax], sc->starts[i], sc->ends[i],
                            sc->steps_given ? sc->steps[i] : 1, sel[ax]);
  }
  for (int k = 0; k < 3; k++) od[k] = cnt[k];
  size_t n = numel(3, od);
  for (size_t f = 0; f < n; f++) {
    int64_t idx[3], src[3];
    unravel(f, 3, od, idx);
    for (int k = 0; k < 3; k++) src[k] = sel[k][idx[k]];
    want[f] = x[ravel(src, 3, d)];
  }
}

static void test_slice(void **state) {
  (void)state;
  int64_t d[3] = {4, 5, 6};
  float x[120], want[120];
  for (int i = 0; i < 120; i++) x[i] = frand();
  const slice_case cases[] = {
      {2, {1, -100}, {3, 100}, {0, 2}, {0}, true, false},
      {1, {-1}, {INT64_MIN}, {1}, {-2}, true, true},
      {1, {INT64_MAX}, {0}, {-1}, {-1}, true, true},
      {3, {0, 1, 2}, {4, 4, 4}, {0}, {2, 2, 3}, false, true},
      {1, {3}, {1}, {0}, {0}, true, false},
      {2, {-2, 5}, {-1, -7}, {-1, 1}, {1, -3}, true, true},
      {1, {-100}, {-3}, {2}, {-1}, true, true},
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const slice_case *sc = &cases[ci];
    int64_t od[3];
    slice_reference(x, d, sc, od, want);
    int64_t pd[1] = {sc->n};
    for (int mode = 0; mode < 3; mode++) {
      /* mode 0: run-time int64 params, 1: constants, 2: int32 */
      optest *t = optest_new("Slice", 13);
      optest_input(t, EMBER_FLOAT, 3, d, x);
      const int64_t *lists[4] = {sc->starts, sc->ends,
                                 sc->axes_given ? sc->axes : NULL,
                                 sc->steps_given ? sc->steps : NULL};
      int32_t l32[4][3];
      for (int i = 0; i < 4; i++) {
        if (!lists[i]) {
          if (i == 2 && lists[3]) optest_input_none(t);
          continue;
        }
        if (mode == 2) {
          for (int j = 0; j < sc->n; j++) {
            int64_t v = lists[i][j];
            l32[i][j] = v > INT32_MAX ? INT32_MAX
                        : v < INT32_MIN ? INT32_MIN : (int32_t)v;
          }
          optest_input(t, EMBER_INT32, 1, pd, l32[i]);
        } else if (mode == 1) {
          optest_input_const(t, EMBER_INT64, 1, pd, lists[i]);
        } else {
          optest_input(t, EMBER_INT64, 1, pd, lists[i]);
        }
      }
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, od), want, numel(3, od));
      optest_free(t);
    }
    if (sc->steps_given) continue;
    /* opset 1: the same as attributes. */
    optest *t = optest_new("Slice", 1);
    optest_attr_ints(t, "starts", (size_t)sc->n, sc->starts);
    optest_attr_ints(t, "ends", (size_t)sc->n, sc->ends);
    if (sc->axes_given) optest_attr_ints(t, "axes", (size_t)sc->n, sc->axes);
    optest_input(t, EMBER_FLOAT, 3, d, x);
    must_run(t);
    expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, od), want, numel(3, od));
    optest_free(t);
  }

  /* Strings, reversed. */
  int64_t wd[1] = {6}, one[1] = {1}, st[1] = {-1}, en[1] = {INT64_MIN},
          sp[1] = {-2};
  optest *t = optest_new("Slice", 13);
  optest_input(t, EMBER_STRING, 1, wd, words);
  optest_input(t, EMBER_INT64, 1, one, st);
  optest_input(t, EMBER_INT64, 1, one, en);
  optest_input_none(t);
  optest_input(t, EMBER_INT64, 1, one, sp);
  must_run(t);
  int64_t wo[1] = {3};
  const char *ww[3] = {"ff", "", "bb"};
  expect_strings(out_t(t, 0, EMBER_STRING, 1, wo), ww, 3);
  optest_free(t);

  /* Errors: step 0 at run and as a constant; repeated axes. */
  int64_t zero[1] = {0}, ax2[2] = {1, -2}, two[1] = {2}, s2[2] = {0, 0},
          e2[2] = {1, 1};
  t = optest_new("Slice", 13);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, one, zero);
  optest_input(t, EMBER_INT64, 1, one, one);
  optest_input(t, EMBER_INT64, 1, one, zero);
  optest_input(t, EMBER_INT64, 1, one, zero);
  must_fail(t, EMBER_ERR_RUNTIME, "step 0");
  optest_free(t);

  t = optest_new("Slice", 13);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input_const(t, EMBER_INT64, 1, one, zero);
  optest_input_const(t, EMBER_INT64, 1, one, one);
  optest_input_const(t, EMBER_INT64, 1, one, zero);
  optest_input_const(t, EMBER_INT64, 1, one, zero);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "step 0");
  optest_free(t);

  t = optest_new("Slice", 13);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, two, s2);
  optest_input(t, EMBER_INT64, 1, two, e2);
  optest_input(t, EMBER_INT64, 1, two, ax2);
  must_fail(t, EMBER_ERR_RUNTIME, "repeated");
  optest_free(t);
}

/* ------------------------------------- Reshape, Flatten, (Un)Squeeze */

static void test_reshape(void **state) {
  (void)state;
  int64_t d[3] = {2, 3, 4};
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = frand();
  struct {
    int n;
    int64_t shape[4];
    int orank;
    int64_t od[4];
  } cases[] = {
      {2, {0, -1}, 2, {2, 12}},
      {4, {-1, 1, 3, 2}, 4, {4, 1, 3, 2}},
      {3, {0, 0, -1}, 3, {2, 3, 4}},
      {1, {-1}, 1, {24}},
      {3, {4, 0, 2}, 3, {4, 3, 2}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t sd[1] = {cases[c].n};
    for (int konst = 0; konst < 2; konst++) {
      optest *t = optest_new("Reshape", 14);
      optest_input(t, EMBER_FLOAT, 3, d, x);
      if (konst)
        optest_input_const(t, EMBER_INT64, 1, sd, cases[c].shape);
      else
        optest_input(t, EMBER_INT64, 1, sd, cases[c].shape);
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, cases[c].orank, cases[c].od),
                      x, 24);
      optest_free(t);
    }
  }

  /* allowzero: a 0 is a real zero (empty tensor). */
  int64_t ed[2] = {0, 3}, es[3] = {3, 0, 1}, esd[1] = {3};
  optest *t = optest_new("Reshape", 14);
  optest_attr_int(t, "allowzero", 1);
  optest_input(t, EMBER_FLOAT, 2, ed, x);
  optest_input(t, EMBER_INT64, 1, esd, es);
  must_run(t);
  out_t(t, 0, EMBER_FLOAT, 3, es);
  optest_free(t);

  /* Strings, to a scalar. */
  int64_t one[1] = {1}, none[1] = {0};
  t = optest_new("Reshape", 14);
  optest_input(t, EMBER_STRING, 1, one, words + 2);
  optest_input(t, EMBER_INT64, 1, none, NULL);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 0, NULL), words + 2, 1);
  optest_free(t);

  /* Errors. */
  int64_t bad[2] = {5, -1}, two[1] = {2}, neg2[2] = {-1, -1};
  t = optest_new("Reshape", 14);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, two, bad);
  must_fail(t, EMBER_ERR_SHAPE, "reshape");
  optest_free(t);

  t = optest_new("Reshape", 14);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input_const(t, EMBER_INT64, 1, two, neg2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "-1");
  optest_free(t);
}

static void test_flatten(void **state) {
  (void)state;
  int64_t d[4] = {2, 3, 1, 5};
  float x[30];
  for (int i = 0; i < 30; i++) x[i] = frand();
  for (int64_t axis = -4; axis <= 4; axis++) {
    int64_t a = axis < 0 ? axis + 4 : axis;
    int64_t od[2] = {1, 1};
    for (int k = 0; k < 4; k++) od[k < a ? 0 : 1] *= d[k];
    optest *t = optest_new("Flatten", 13);
    optest_attr_int(t, "axis", axis);
    optest_input(t, EMBER_FLOAT, 4, d, x);
    must_run(t);
    expect_same_f32(out_t(t, 0, EMBER_FLOAT, 2, od), x, 30);
    optest_free(t);
  }
  /* Default axis 1, bool. */
  uint8_t b[30];
  for (int i = 0; i < 30; i++) b[i] = (uint8_t)(i % 3 == 0);
  optest *t = optest_new("Flatten", 9);
  optest_input(t, EMBER_BOOL, 4, d, b);
  must_run(t);
  int64_t od[2] = {2, 15};
  const emb_tensor *y = out_t(t, 0, EMBER_BOOL, 2, od);
  assert_memory_equal(y->data, b, 30);
  optest_free(t);

  t = optest_new("Flatten", 13);
  optest_attr_int(t, "axis", 5);
  optest_input(t, EMBER_FLOAT, 4, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis 5");
  optest_free(t);
}

static void test_squeeze_unsqueeze(void **state) {
  (void)state;
  int64_t d[4] = {1, 3, 1, 2};
  float x[6];
  for (int i = 0; i < 6; i++) x[i] = frand();

  /* Squeeze: all unit dims; given axes (attribute / input). */
  optest *t = optest_new("Squeeze", 13);
  optest_input(t, EMBER_FLOAT, 4, d, x);
  must_run(t);
  int64_t o1[2] = {3, 2};
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 2, o1), x, 6);
  optest_free(t);

  int64_t ax[1] = {-2}, ad[1] = {1};
  int64_t o2[3] = {1, 3, 2};
  t = optest_new("Squeeze", 11);
  optest_attr_ints(t, "axes", 1, ax);
  optest_input(t, EMBER_FLOAT, 4, d, x);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, o2), x, 6);
  optest_free(t);

  t = optest_new("Squeeze", 13);
  optest_input(t, EMBER_FLOAT, 4, d, x);
  optest_input(t, EMBER_INT64, 1, ad, ax);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, o2), x, 6);
  optest_free(t);

  int64_t badax[1] = {1};
  t = optest_new("Squeeze", 13);
  optest_input(t, EMBER_FLOAT, 4, d, x);
  optest_input(t, EMBER_INT64, 1, ad, badax);
  must_fail(t, EMBER_ERR_SHAPE, "squeeze axis 1");
  optest_free(t);

  /* Unsqueeze: unsorted and negative axes relative to the output. */
  int64_t uax[3] = {-1, 0, 3}, uad[1] = {3};
  int64_t uo[7] = {1, 1, 3, 1, 1, 2, 1};
  for (int opset = 11; opset <= 13; opset += 2) {
    t = optest_new("Unsqueeze", opset);
    if (opset < 13)
      optest_attr_ints(t, "axes", 3, uax);
    optest_input(t, EMBER_FLOAT, 4, d, x);
    if (opset >= 13) optest_input_const(t, EMBER_INT64, 1, uad, uax);
    must_run(t);
    expect_same_f32(out_t(t, 0, EMBER_FLOAT, 7, uo), x, 6);
    optest_free(t);
  }

  /* A scalar string to [1]. */
  int64_t z[1] = {0}, one[1] = {1};
  t = optest_new("Unsqueeze", 13);
  optest_input(t, EMBER_STRING, 0, NULL, words + 1);
  optest_input(t, EMBER_INT64, 1, one, z);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 1, one), words + 1, 1);
  optest_free(t);

  int64_t dup[2] = {0, -6}, two[1] = {2};
  t = optest_new("Unsqueeze", 13);
  optest_input(t, EMBER_FLOAT, 4, d, x);
  optest_input(t, EMBER_INT64, 1, two, dup);
  must_fail(t, EMBER_ERR_RUNTIME, "repeated");
  optest_free(t);

  t = optest_new("Unsqueeze", 11);
  optest_input(t, EMBER_FLOAT, 4, d, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axes");
  optest_free(t);
}

/* ------------------------------------------ Transpose, Expand, Tile */

static void test_transpose(void **state) {
  (void)state;
  int64_t d[4] = {2, 3, 1, 5};
  float x[30], want[30];
  for (int i = 0; i < 30; i++) x[i] = frand();
  /* Every permutation of 4 axes. */
  for (int p = 0; p < 24; p++) {
    int64_t perm[4], avail[4] = {0, 1, 2, 3};
    int rest = p, left = 4;
    for (int k = 0; k < 4; k++) {
      int f = 1;
      for (int j = 2; j < left; j++) f *= j;
      int pick = rest / f;
      rest %= f;
      perm[k] = avail[pick];
      for (int j = pick; j + 1 < left; j++) avail[j] = avail[j + 1];
      left--;
    }
    int64_t od[4];
    for (int k = 0; k < 4; k++) od[k] = d[perm[k]];
    for (size_t f = 0; f < 30; f++) {
      int64_t idx[4], src[4];
      unravel(f, 4, od, idx);
      for (int k = 0; k < 4; k++) src[perm[k]] = idx[k];
      want[f] = x[ravel(src, 4, d)];
    }
    optest *t = optest_new("Transpose", 13);
    optest_attr_ints(t, "perm", 4, perm);
    optest_input(t, EMBER_FLOAT, 4, d, x);
    must_run(t);
    expect_same_f32(out_t(t, 0, EMBER_FLOAT, 4, od), want, 30);
    optest_free(t);
  }

  /* Default: reversed axes; int64 and strings. */
  int64_t d2[2] = {3, 4}, o2[2] = {4, 3}, xi[12], wi[12];
  const char *ws[12];
  for (int i = 0; i < 12; i++) xi[i] = i * 7 - 20;
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 3; c++) {
      wi[r * 3 + c] = xi[c * 4 + r];
      ws[r * 3 + c] = words[c * 4 + r];
    }
  optest *t = optest_new("Transpose", 13);
  optest_input(t, EMBER_INT64, 2, d2, xi);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT64, 2, o2), wi, 12);
  optest_free(t);

  t = optest_new("Transpose", 13);
  optest_input(t, EMBER_STRING, 2, d2, words);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 2, o2), ws, 12);
  optest_free(t);

  /* Packed uint4: element i is nibble i, low first. */
  uint8_t p4[6], codes[12];
  memset(p4, 0, sizeof p4);
  for (int i = 0; i < 12; i++) {
    codes[i] = (uint8_t)((i * 5 + 3) & 15);
    p4[i / 2] |= (uint8_t)(codes[i] << (4 * (i % 2)));
  }
  t = optest_new("Transpose", 21);
  optest_input(t, EMBER_UINT4, 2, d2, p4);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_UINT4, 2, o2);
  const uint8_t *q = y->data;
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 3; c++) {
      int i = r * 3 + c;
      int got = (q[i / 2] >> (4 * (i % 2))) & 15;
      if (got != codes[c * 4 + r])
        fail_msg("uint4 element %d: got %d, expected %d", i, got,
                 codes[c * 4 + r]);
    }
  optest_free(t);

  int64_t badp[2] = {0, 0};
  t = optest_new("Transpose", 13);
  optest_attr_ints(t, "perm", 2, badp);
  optest_input(t, EMBER_FLOAT, 2, d2, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "perm");
  optest_free(t);

  int64_t p3[3] = {2, 0, 1};
  t = optest_new("Transpose", 13);
  optest_attr_ints(t, "perm", 3, p3);
  optest_input(t, EMBER_FLOAT, 2, d2, x);
  must_fail(t, EMBER_ERR_SHAPE, "perm");
  optest_free(t);
}

/* Numpy broadcasting: source flat index of output element f. */
static size_t bsrc(size_t f, int orank, const int64_t *od, int r,
                   const int64_t *d) {
  int64_t idx[EMB_MAX_RANK], src[EMB_MAX_RANK];
  unravel(f, orank, od, idx);
  for (int k = 0; k < r; k++) {
    int64_t i = idx[k + orank - r];
    src[k] = d[k] == 1 ? 0 : i;
  }
  return ravel(src, r, d);
}

static void test_expand(void **state) {
  (void)state;
  int64_t d[2] = {3, 1};
  float x[3] = {1.5f, -2, 7}, want[64];
  struct {
    int n;
    int64_t shape[4];
    int orank;
    int64_t od[4];
  } cases[] = {
      {3, {2, 1, 4}, 3, {2, 3, 4}},
      {1, {4}, 2, {3, 4}},
      {2, {1, 1}, 2, {3, 1}},
      {4, {1, 2, 3, 0}, 4, {1, 2, 3, 0}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t sd[1] = {cases[c].n};
    size_t n = numel(cases[c].orank, cases[c].od);
    for (size_t f = 0; f < n; f++)
      want[f] = x[bsrc(f, cases[c].orank, cases[c].od, 2, d)];
    for (int konst = 0; konst < 2; konst++) {
      optest *t = optest_new("Expand", 13);
      optest_input(t, EMBER_FLOAT, 2, d, x);
      if (konst)
        optest_input_const(t, EMBER_INT64, 1, sd, cases[c].shape);
      else
        optest_input(t, EMBER_INT64, 1, sd, cases[c].shape);
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, cases[c].orank, cases[c].od),
                      want, n);
      optest_free(t);
    }
  }

  /* Strings from a scalar. */
  int64_t s2[2] = {2, 2}, sd[1] = {2};
  const char *sw[4] = {"ccc", "ccc", "ccc", "ccc"};
  optest *t = optest_new("Expand", 13);
  optest_input(t, EMBER_STRING, 0, NULL, words + 2);
  optest_input(t, EMBER_INT64, 1, sd, s2);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 2, s2), sw, 4);
  optest_free(t);

  int64_t bad[2] = {2, 2};
  int64_t d3[2] = {3, 2};
  t = optest_new("Expand", 13);
  optest_input(t, EMBER_FLOAT, 2, d3, x);
  optest_input(t, EMBER_INT64, 1, sd, bad);
  must_fail(t, EMBER_ERR_SHAPE, "broadcast");
  optest_free(t);
}

static void test_tile(void **state) {
  (void)state;
  int64_t d[3] = {2, 1, 3};
  float x[6], want[96];
  for (int i = 0; i < 6; i++) x[i] = frand();
  int64_t reps[][3] = {{2, 4, 1}, {1, 1, 1}, {3, 0, 2}, {1, 5, 2}};
  for (size_t c = 0; c < 4; c++) {
    int64_t od[3];
    for (int k = 0; k < 3; k++) od[k] = d[k] * reps[c][k];
    size_t n = numel(3, od);
    for (size_t f = 0; f < n; f++) {
      int64_t idx[3];
      unravel(f, 3, od, idx);
      for (int k = 0; k < 3; k++) idx[k] %= d[k];
      want[f] = x[ravel(idx, 3, d)];
    }
    int64_t rd[1] = {3};
    for (int konst = 0; konst < 2; konst++) {
      optest *t = optest_new("Tile", 13);
      optest_input(t, EMBER_FLOAT, 3, d, x);
      if (konst)
        optest_input_const(t, EMBER_INT64, 1, rd, reps[c]);
      else
        optest_input(t, EMBER_INT64, 1, rd, reps[c]);
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, od), want, n);
      optest_free(t);
    }
  }

  /* Tile-1: (tiles, axis) scalars. */
  int64_t tiles = 3, axis = 2;
  optest *t = optest_new("Tile", 1);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 0, NULL, &tiles);
  optest_input(t, EMBER_INT64, 0, NULL, &axis);
  must_run(t);
  int64_t od1[3] = {2, 1, 9};
  for (size_t f = 0; f < 18; f++) {
    int64_t idx[3];
    unravel(f, 3, od1, idx);
    idx[2] %= 3;
    want[f] = x[ravel(idx, 3, d)];
  }
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, od1), want, 18);
  optest_free(t);

  /* Strings. */
  int64_t wd[1] = {2}, r1[1] = {3}, one[1] = {1}, wo[1] = {6};
  const char *ww[6] = {"a", "bb", "a", "bb", "a", "bb"};
  t = optest_new("Tile", 13);
  optest_input(t, EMBER_STRING, 1, wd, words);
  optest_input(t, EMBER_INT64, 1, one, r1);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 1, wo), ww, 6);
  optest_free(t);

  int64_t negr[3] = {1, -1, 1}, rd[1] = {3}, two[1] = {2};
  t = optest_new("Tile", 13);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, rd, negr);
  must_fail(t, EMBER_ERR_RUNTIME, "negative");
  optest_free(t);

  t = optest_new("Tile", 13);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, two, negr);
  must_fail(t, EMBER_ERR_SHAPE, "repeats");
  optest_free(t);
}

/* ------------------------------------------------------------- Gather */

static void test_gather(void **state) {
  (void)state;
  int64_t d[3] = {3, 4, 2};
  float x[24], want[128];
  for (int i = 0; i < 24; i++) x[i] = frand();
  int64_t idx[6] = {0, -1, 2, 3, -4, 1}, id[2] = {2, 3};
  for (int axis = -3; axis < 3; axis++) {
    int ax = axis < 0 ? axis + 3 : axis;
    /* indices must be valid for every axis: keep |i| < 3 on axis 0 and
     * the last axis. */
    int64_t use[6];
    for (int j = 0; j < 6; j++) {
      use[j] = idx[j];
      while (use[j] >= d[ax]) use[j] -= d[ax];
      while (use[j] < -d[ax]) use[j] += d[ax];
    }
    int64_t od[4];
    int k = 0;
    for (int i = 0; i < ax; i++) od[k++] = d[i];
    od[k++] = 2;
    od[k++] = 3;
    for (int i = ax + 1; i < 3; i++) od[k++] = d[i];
    size_t n = numel(4, od);
    for (size_t f = 0; f < n; f++) {
      int64_t oi[4], src[3];
      unravel(f, 4, od, oi);
      for (int i = 0; i < ax; i++) src[i] = oi[i];
      int64_t v = use[oi[ax] * 3 + oi[ax + 1]];
      src[ax] = v < 0 ? v + d[ax] : v;
      for (int i = ax + 1; i < 3; i++) src[i] = oi[i + 1];
      want[f] = x[ravel(src, 3, d)];
    }
    for (int as32 = 0; as32 < 2; as32++) {
      int32_t i32[6];
      for (int j = 0; j < 6; j++) i32[j] = (int32_t)use[j];
      optest *t = optest_new("Gather", 13);
      optest_attr_int(t, "axis", axis);
      optest_input(t, EMBER_FLOAT, 3, d, x);
      if (as32)
        optest_input(t, EMBER_INT32, 2, id, i32);
      else
        optest_input(t, EMBER_INT64, 2, id, use);
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, 4, od), want, n);
      optest_free(t);
    }
  }

  /* Scalar index on strings; empty indices. */
  int64_t wd[2] = {3, 2}, sc = -2, od[1] = {2};
  optest *t = optest_new("Gather", 13);
  optest_input(t, EMBER_STRING, 2, wd, words);
  optest_input_const(t, EMBER_INT64, 0, NULL, &sc);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 1, od), words + 2, 2);
  optest_free(t);

  int64_t ed[1] = {0}, eod[3] = {3, 0, 2};
  t = optest_new("Gather", 13);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, ed, idx);
  must_run(t);
  out_t(t, 0, EMBER_FLOAT, 3, eod);
  optest_free(t);

  /* Out of range, at run and while folding constants. */
  int64_t badi[2] = {1, 3}, bd[1] = {2};
  t = optest_new("Gather", 13);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, bd, badi);
  must_fail(t, EMBER_ERR_RUNTIME, "index 3 is out of range");
  optest_free(t);

  int64_t badn[2] = {1, -4};
  t = optest_new("Gather", 13);
  optest_input_const(t, EMBER_FLOAT, 3, d, x);
  optest_input_const(t, EMBER_INT64, 1, bd, badn);
  must_fail(t, EMBER_ERR_RUNTIME, "index -4 is out of range");
  optest_free(t);

  int64_t one[1] = {1};
  t = optest_new("Gather", 13);
  optest_input(t, EMBER_FLOAT, 0, NULL, x);
  optest_input(t, EMBER_INT64, 1, one, idx);
  must_fail(t, EMBER_ERR_SHAPE, "rank");
  optest_free(t);
}

/* ---------------------------------------- Shape, Size and constants */

static void test_shape_size(void **state) {
  (void)state;
  int64_t d[4] = {2, 3, 1, 5};
  float x[30] = {0};
  for (int64_t start = -6; start <= 6; start += 2) {
    for (int64_t end = -5; end <= 6; end += 3) {
      int64_t a = start < 0 ? start + 4 : start, b = end < 0 ? end + 4 : end;
      a = a < 0 ? 0 : a > 4 ? 4 : a;
      b = b < 0 ? 0 : b > 4 ? 4 : b;
      int64_t want[4], n = 0;
      for (int64_t k = a; k < b; k++) want[n++] = d[k];
      optest *t = optest_new("Shape", 15);
      optest_attr_int(t, "start", start);
      optest_attr_int(t, "end", end);
      optest_input(t, EMBER_FLOAT, 4, d, x);
      must_run(t);
      int64_t od[1] = {n};
      expect_i64(out_t(t, 0, EMBER_INT64, 1, od), want, (size_t)n);
      optest_free(t);
    }
  }
  /* No attributes, on strings; a scalar. */
  int64_t four[1] = {4};
  const char *s30[30];
  for (int i = 0; i < 30; i++) s30[i] = words[i % 12];
  optest *t = optest_new("Shape", 13);
  optest_input(t, EMBER_STRING, 4, d, s30);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT64, 1, four), d, 4);
  optest_free(t);

  int64_t zero[1] = {0};
  t = optest_new("Shape", 13);
  optest_input(t, EMBER_FLOAT, 0, NULL, x);
  must_run(t);
  out_t(t, 0, EMBER_INT64, 1, zero);
  optest_free(t);

  int64_t n30 = 30, n0 = 0, n1 = 1, ed[2] = {4, 0};
  t = optest_new("Size", 13);
  optest_input(t, EMBER_FLOAT, 4, d, x);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT64, 0, NULL), &n30, 1);
  optest_free(t);
  t = optest_new("Size", 13);
  optest_input(t, EMBER_FLOAT, 2, ed, x);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT64, 0, NULL), &n0, 1);
  optest_free(t);
  t = optest_new("Size", 13);
  optest_input(t, EMBER_FLOAT, 0, NULL, x);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT64, 0, NULL), &n1, 1);
  optest_free(t);
}

static void test_constant(void **state) {
  (void)state;
  float fv[3] = {1.5f, -2, 0.25f};
  int64_t iv[2] = {7, -9}, d3[1] = {3}, d2[1] = {2}, d1[1] = {1};
  optest *t = optest_new("Constant", 13);
  optest_attr_floats(t, "value_floats", 3, fv);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 1, d3), fv, 3);
  optest_free(t);

  t = optest_new("Constant", 13);
  optest_attr_ints(t, "value_ints", 2, iv);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT64, 1, d2), iv, 2);
  optest_free(t);

  t = optest_new("Constant", 13);
  optest_attr_int(t, "value_int", -9);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT64, 0, NULL), iv + 1, 1);
  optest_free(t);

  t = optest_new("Constant", 13);
  optest_attr_float(t, "value_float", 0.25f);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 0, NULL), fv + 2, 1);
  optest_free(t);

  t = optest_new("Constant", 13);
  optest_attr_string(t, "value_string", "hello");
  must_run(t);
  const char *hello = "hello";
  expect_strings(out_t(t, 0, EMBER_STRING, 0, NULL), &hello, 1);
  optest_free(t);

  t = optest_new("Constant", 13);
  optest_attr_strings(t, "value_strings", 3, words);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 1, d3), words, 3);
  optest_free(t);

  int64_t td[2] = {2, 1};
  int32_t tv[2] = {5, -6};
  t = optest_new("Constant", 13);
  optest_attr_tensor(t, "value", EMBER_INT32, 2, td, tv);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_INT32, 2, td);
  assert_memory_equal(y->data, tv, sizeof tv);
  optest_free(t);

  t = optest_new("Constant", 13);
  optest_attr_int(t, "value_int", 1);
  optest_attr_float(t, "value_float", 1);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "both");
  optest_free(t);

  t = optest_new("Constant", 13);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "value");
  optest_free(t);

  /* ConstantOfShape: default float zero; int32, bool; scalar; empty. */
  int64_t shape[3] = {2, 3, 1}, sd[1] = {3};
  float zeros[6] = {0};
  t = optest_new("ConstantOfShape", 9);
  optest_input(t, EMBER_INT64, 1, sd, shape);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, shape), zeros, 6);
  optest_free(t);

  int32_t v32 = -77;
  int64_t w6[6] = {-77, -77, -77, -77, -77, -77};
  t = optest_new("ConstantOfShape", 20);
  optest_attr_tensor(t, "value", EMBER_INT32, 1, d1, &v32);
  optest_input_const(t, EMBER_INT64, 1, sd, shape);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT32, 3, shape), w6, 6);
  optest_free(t);

  uint8_t yes = 1;
  int64_t ones[6] = {1, 1, 1, 1, 1, 1};
  t = optest_new("ConstantOfShape", 20);
  optest_attr_tensor(t, "value", EMBER_BOOL, 1, d1, &yes);
  optest_input(t, EMBER_INT64, 1, sd, shape);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_BOOL, 3, shape), ones, 6);
  optest_free(t);

  double dv = 2.5;
  int64_t none[1] = {0};
  t = optest_new("ConstantOfShape", 20);
  optest_attr_tensor(t, "value", EMBER_DOUBLE, 1, d1, &dv);
  optest_input(t, EMBER_INT64, 1, none, shape);
  must_run(t);
  y = out_t(t, 0, EMBER_DOUBLE, 0, NULL);
  assert_true(((const double *)y->data)[0] == 2.5);
  optest_free(t);

  int64_t zshape[2] = {3, 0};
  t = optest_new("ConstantOfShape", 20);
  optest_input(t, EMBER_INT64, 1, d2, zshape);
  must_run(t);
  out_t(t, 0, EMBER_FLOAT, 2, zshape);
  optest_free(t);

  int64_t negs[2] = {3, -1};
  t = optest_new("ConstantOfShape", 20);
  optest_input(t, EMBER_INT64, 1, d2, negs);
  must_fail(t, EMBER_ERR_RUNTIME, "negative");
  optest_free(t);

  float two[2] = {1, 2};
  t = optest_new("ConstantOfShape", 20);
  optest_attr_tensor(t, "value", EMBER_FLOAT, 1, d2, two);
  optest_input(t, EMBER_INT64, 1, d2, zshape);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "one element");
  optest_free(t);
}

static void test_range(void **state) {
  (void)state;
  struct {
    int32_t dtype;
    double start, limit, delta;
  } cases[] = {
      {EMBER_FLOAT, 1, 5.5, 0.5},    {EMBER_FLOAT, 3, 1, 1},
      {EMBER_DOUBLE, -1, 1, 0.3},    {EMBER_INT32, 10, -3, -4},
      {EMBER_INT64, -5, 5, 3},       {EMBER_INT16, 0, 7, 7},
      {EMBER_FLOAT16, 0, 2, 0.25},   {EMBER_FLOAT, 0, 0, 1},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    /* Count by stepping, as the definition reads. */
    double want[64];
    int64_t n = 0;
    for (double v = cases[c].start;
         cases[c].delta > 0 ? v < cases[c].limit : v > cases[c].limit;
         v = cases[c].start + (double)++n * cases[c].delta)
      want[n] = v;
    for (int konst = 0; konst < 2; konst++) {
      emb_tensor s[3];
      unsigned char buf[3][8];
      double vals[3] = {cases[c].start, cases[c].limit, cases[c].delta};
      optest *t = optest_new("Range", 11);
      for (int i = 0; i < 3; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].dtype = cases[c].dtype;
        s[i].data = buf[i];
        emb_tensor_set_f64(&s[i], 0, vals[i]);
        if (konst)
          optest_input_const(t, cases[c].dtype, 0, NULL, buf[i]);
        else
          optest_input(t, cases[c].dtype, 0, NULL, buf[i]);
      }
      must_run(t);
      int64_t od[1] = {n};
      const emb_tensor *y = out_t(t, 0, cases[c].dtype, 1, od);
      for (int64_t i = 0; i < n; i++) {
        double g = emb_tensor_get_f64(y, (size_t)i);
        double tol = cases[c].dtype == EMBER_FLOAT16 ? 1e-3 : 1e-6;
        if (fabs(g - want[i]) > tol)
          fail_msg("case %zu element %lld: got %g, expected %g", c,
                   (long long)i, g, want[i]);
      }
      optest_free(t);
    }
  }

  int32_t a = 1, b = 5, z = 0;
  optest *t = optest_new("Range", 11);
  optest_input(t, EMBER_INT32, 0, NULL, &a);
  optest_input(t, EMBER_INT32, 0, NULL, &b);
  optest_input(t, EMBER_INT32, 0, NULL, &z);
  must_fail(t, EMBER_ERR_RUNTIME, "delta is 0");
  optest_free(t);

  int64_t b64 = 5;
  t = optest_new("Range", 11);
  optest_input(t, EMBER_INT32, 0, NULL, &a);
  optest_input(t, EMBER_INT64, 0, NULL, &b64);
  optest_input(t, EMBER_INT32, 0, NULL, &z);
  must_fail(t, EMBER_ERR_TYPE, "input 1");
  optest_free(t);
}

/* ---------------------------------------------------------------- Pad */

enum { M_CONSTANT, M_REFLECT, M_EDGE, M_WRAP };

/* Source position for output position i of an axis of n kept elements
 * starting at `pad` (numpy.pad's rules, by walking rather than formula);
 * -1 for the constant. */
static int64_t pad_src(int mode, int64_t i, int64_t pad, int64_t n) {
  int64_t j = i - pad;
  if (j >= 0 && j < n) return j;
  switch (mode) {
    case M_CONSTANT:
      return -1;
    case M_EDGE:
      return j < 0 ? 0 : n - 1;
    case M_WRAP:
      while (j < 0) j += n;
      while (j >= n) j -= n;
      return j;
    default:
      if (n == 1) return 0;
      while (j < 0 || j >= n) {
        if (j < 0) j = -j;
        if (j >= n) j = 2 * (n - 1) - j;
      }
      return j;
  }
}

static void pad_reference(int mode, const float *x, int rank,
                          const int64_t *d, const int64_t *pads, float cval,
                          int64_t *od, float *want) {
  int64_t crop0[4], keep[4], at[4];
  for (int k = 0; k < rank; k++) {
    int64_t b = pads[k], e = pads[k + rank];
    crop0[k] = b < 0 ? -b : 0;
    keep[k] = d[k] - crop0[k] - (e < 0 ? -e : 0);
    at[k] = b > 0 ? b : 0;
    od[k] = d[k] + b + e;
  }
  size_t n = numel(rank, od);
  for (size_t f = 0; f < n; f++) {
    int64_t idx[4], src[4];
    bool outside = false;
    unravel(f, rank, od, idx);
    for (int k = 0; k < rank; k++) {
      int64_t s = pad_src(mode, idx[k], at[k], keep[k]);
      if (s < 0) outside = true;
      src[k] = s + crop0[k];
    }
    want[f] = outside ? cval : x[ravel(src, rank, d)];
  }
}

static void test_pad(void **state) {
  (void)state;
  static const char *const modes[] = {"constant", "reflect", "edge", "wrap"};
  int64_t d[3] = {3, 1, 4};
  float x[12], want[1024];
  for (int i = 0; i < 12; i++) x[i] = frand();
  int64_t padsets[][6] = {
      {1, 0, 2, 0, 3, 1},
      {0, 0, 0, 0, 0, 0},
      {2, 2, 7, 5, 1, 9}, /* pads longer than the axis */
      {-1, 0, 1, 0, 2, -2}, /* crop and pad */
  };
  for (int mode = 0; mode < 4; mode++) {
    for (size_t p = 0; p < sizeof padsets / sizeof padsets[0]; p++) {
      int64_t od[3];
      float cval = mode == M_CONSTANT ? 2.5f : 0;
      pad_reference(mode, x, 3, d, padsets[p], cval, od, want);
      size_t n = numel(3, od);
      int64_t pd[1] = {6};
      for (int form = 0; form < 3; form++) {
        /* 0: opset 11 inputs, 1: constants (opset 19), 2: opset 2 attrs */
        if (form == 2 && mode == M_WRAP) continue;
        optest *t = optest_new("Pad", form == 0 ? 11 : form == 1 ? 19 : 2);
        optest_attr_string(t, "mode", modes[mode]);
        if (form == 2) {
          optest_attr_ints(t, "pads", 6, padsets[p]);
          if (mode == M_CONSTANT) optest_attr_float(t, "value", cval);
        }
        optest_input(t, EMBER_FLOAT, 3, d, x);
        if (form == 0) {
          optest_input(t, EMBER_INT64, 1, pd, padsets[p]);
          if (mode == M_CONSTANT) optest_input(t, EMBER_FLOAT, 0, NULL, &cval);
        } else if (form == 1) {
          optest_input_const(t, EMBER_INT64, 1, pd, padsets[p]);
          if (mode == M_CONSTANT)
            optest_input_const(t, EMBER_FLOAT, 0, NULL, &cval);
        }
        must_run(t);
        expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, od), want, n);
        optest_free(t);
      }
    }
  }

  /* Opset 1 'paddings'; opset 18 'axes' (negative). */
  int64_t pads1[6] = {0, 0, 1, 0, 0, 2}, od[3];
  pad_reference(M_CONSTANT, x, 3, d, pads1, 0, od, want);
  optest *t = optest_new("Pad", 1);
  optest_attr_ints(t, "paddings", 6, pads1);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, od), want, numel(3, od));
  optest_free(t);

  int64_t axp[2] = {1, 2}, axes[1] = {-1}, ad[1] = {1}, pd2[1] = {2};
  int64_t full[6] = {0, 0, 1, 0, 0, 2};
  pad_reference(M_EDGE, x, 3, d, full, 0, od, want);
  t = optest_new("Pad", 18);
  optest_attr_string(t, "mode", "edge");
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, pd2, axp);
  optest_input_none(t);
  optest_input(t, EMBER_INT64, 1, ad, axes);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, od), want, numel(3, od));
  optest_free(t);

  /* int32 reflect; strings with a constant. */
  int64_t d2[2] = {2, 3}, p2[4] = {1, 2, 0, 1}, p2d[1] = {4};
  int32_t xi[6] = {1, 2, 3, 4, 5, 6};
  float xf[6], wf[64];
  for (int i = 0; i < 6; i++) xf[i] = (float)xi[i];
  pad_reference(M_REFLECT, xf, 2, d2, p2, 0, od, wf);
  t = optest_new("Pad", 13);
  optest_attr_string(t, "mode", "reflect");
  optest_input(t, EMBER_INT32, 2, d2, xi);
  optest_input(t, EMBER_INT64, 1, p2d, p2);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_INT32, 2, od);
  for (size_t i = 0; i < numel(2, od); i++)
    if (((const int32_t *)y->data)[i] != (int32_t)wf[i])
      fail_msg("element %zu: got %d, expected %d", i,
               ((const int32_t *)y->data)[i], (int)wf[i]);
  optest_free(t);

  int64_t sd[1] = {2}, sp[2] = {1, 2}, spd[1] = {2}, so[1] = {5};
  const char *fill = "pad";
  const char *sw[5] = {"pad", "a", "bb", "pad", "pad"};
  t = optest_new("Pad", 13);
  optest_input(t, EMBER_STRING, 1, sd, words);
  optest_input(t, EMBER_INT64, 1, spd, sp);
  optest_input(t, EMBER_STRING, 0, NULL, &fill);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 1, so), sw, 5);
  optest_free(t);

  /* Errors. */
  t = optest_new("Pad", 13);
  optest_attr_string(t, "mode", "mirror");
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, p2d, p2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "mirror");
  optest_free(t);

  t = optest_new("Pad", 13);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, p2d, p2);
  must_fail(t, EMBER_ERR_SHAPE, "pads");
  optest_free(t);

  int64_t crush[6] = {0, 0, -5, 0, 0, 0}, p6[1] = {6};
  t = optest_new("Pad", 13);
  optest_input(t, EMBER_FLOAT, 3, d, x);
  optest_input(t, EMBER_INT64, 1, p6, crush);
  must_fail(t, EMBER_ERR_SHAPE, "negative");
  optest_free(t);
}

/* ------------------------------------------------------------- Reduce */

enum { R_SUM, R_MEAN, R_MAX };

/* Reduce x (rank 4, dims d) over mask in double. */
static void reduce_reference(int kind, const float *x, const int64_t *d,
                             const bool *mask, bool keep, int *orank,
                             int64_t *od, double *want) {
  int64_t kd[4];
  int r = 0;
  for (int k = 0; k < 4; k++) {
    kd[k] = mask[k] ? 1 : d[k];
    if (!mask[k] || keep) od[r++] = kd[k];
  }
  *orank = r;
  size_t n_out = numel(4, kd), n_in = numel(4, d);
  for (size_t o = 0; o < n_out; o++)
    want[o] = kind == R_MAX ? -INFINITY : 0;
  size_t count = n_in / (n_out ? n_out : 1);
  for (size_t f = 0; f < n_in; f++) {
    int64_t idx[4];
    unravel(f, 4, d, idx);
    for (int k = 0; k < 4; k++)
      if (mask[k]) idx[k] = 0;
    size_t o = ravel(idx, 4, kd);
    if (kind == R_MAX)
      want[o] = x[f] > want[o] ? x[f] : want[o];
    else
      want[o] += x[f];
  }
  if (kind == R_MEAN)
    for (size_t o = 0; o < n_out; o++) want[o] /= (double)count;
}

static void test_reduce(void **state) {
  (void)state;
  static const char *const ops[] = {"ReduceSum", "ReduceMean", "ReduceMax"};
  int64_t d[4] = {3, 1, 4, 5};
  float x[60], wantf[60];
  double want[60];
  for (int i = 0; i < 60; i++) x[i] = frand();
  for (int kind = 0; kind < 3; kind++) {
    int input_since = kind == R_SUM ? 13 : 18;
    /* Every subset of the axes, as attribute and as input. */
    for (int m = 0; m < 16; m++) {
      bool mask[4];
      int64_t axes[4];
      int n = 0;
      for (int k = 0; k < 4; k++) {
        mask[k] = (m >> k) & 1;
        /* negative spelling for odd axes */
        if (mask[k]) axes[n++] = k % 2 ? k - 4 : k;
      }
      if (!n) continue;
      for (int keep = 0; keep < 2; keep++) {
        int orank;
        int64_t od[4];
        reduce_reference(kind, x, d, mask, keep, &orank, od, want);
        size_t no = numel(orank, od);
        for (size_t i = 0; i < no; i++) wantf[i] = (float)want[i];
        for (int form = 0; form < 2; form++) {
          optest *t =
              optest_new(ops[kind], form ? input_since : input_since - 2);
          optest_attr_int(t, "keepdims", keep);
          if (!form) optest_attr_ints(t, "axes", (size_t)n, axes);
          optest_input(t, EMBER_FLOAT, 4, d, x);
          int64_t ad[1] = {n};
          if (form) optest_input(t, EMBER_INT64, 1, ad, axes);
          must_run(t);
          expect_f32(out_t(t, 0, EMBER_FLOAT, orank, od), wantf, no, 1e-5,
                     1e-6);
          optest_free(t);
        }
      }
    }
    /* No axes: all of them, or the identity with noop_with_empty_axes. */
    bool all[4] = {true, true, true, true};
    int orank;
    int64_t od[4];
    reduce_reference(kind, x, d, all, false, &orank, od, want);
    wantf[0] = (float)want[0];
    optest *t = optest_new(ops[kind], input_since);
    optest_attr_int(t, "keepdims", 0);
    optest_input(t, EMBER_FLOAT, 4, d, x);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 0, NULL), wantf, 1, 1e-5, 1e-6);
    optest_free(t);

    int64_t none[1] = {0};
    t = optest_new(ops[kind], input_since);
    optest_attr_int(t, "noop_with_empty_axes", 1);
    optest_input(t, EMBER_FLOAT, 4, d, x);
    optest_input(t, EMBER_INT64, 1, none, none);
    must_run(t);
    expect_same_f32(out_t(t, 0, EMBER_FLOAT, 4, d), x, 60);
    optest_free(t);
  }

  /* Integers and halves. */
  int64_t d2[2] = {2, 3}, ax1[1] = {1}, o2[2] = {2, 1};
  int32_t xi[6] = {INT32_MAX, 1, 0, -7, 3, -5};
  /* Sum wraps like int32 arithmetic; Mean is the exact mean truncated
   * toward zero, as numpy's mean cast back to int32. */
  int64_t wi[3][2] = {{INT32_MIN, -9},
                      {((int64_t)INT32_MAX + 1) / 3, -3},
                      {INT32_MAX, 3}};
  for (int kind = 0; kind < 3; kind++) {
    optest *t = optest_new(ops[kind], 13);
    if (kind != R_SUM) optest_attr_ints(t, "axes", 1, ax1);
    optest_input(t, EMBER_INT32, 2, d2, xi);
    if (kind == R_SUM) optest_input(t, EMBER_INT64, 1, ax1, ax1);
    must_run(t);
    expect_i64(out_t(t, 0, EMBER_INT32, 2, o2), wi[kind], 2);
    optest_free(t);
  }

  uint16_t xh[6];
  for (int i = 0; i < 6; i++) xh[i] = emb_f32_to_f16((float)i * 0.5f - 1);
  optest *t = optest_new("ReduceMean", 18);
  optest_input(t, EMBER_FLOAT16, 2, d2, xh);
  optest_input(t, EMBER_INT64, 1, ax1, ax1);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_FLOAT16, 2, o2);
  assert_true(emb_f16_to_f32(((const uint16_t *)y->data)[0]) == -0.5f);
  assert_true(emb_f16_to_f32(((const uint16_t *)y->data)[1]) == 1.0f);
  optest_free(t);

  /* Max over bool is "any"; over an empty set it is -inf / the lowest. */
  uint8_t b[6] = {0, 0, 0, 0, 1, 0};
  int64_t bw[2] = {0, 1};
  t = optest_new("ReduceMax", 20);
  optest_input(t, EMBER_BOOL, 2, d2, b);
  optest_input(t, EMBER_INT64, 1, ax1, ax1);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_BOOL, 2, o2), bw, 2);
  optest_free(t);

  int64_t ed[2] = {2, 0}, eo[1] = {2};
  float ninf[2] = {-INFINITY, -INFINITY}, zero2[2] = {0, 0};
  t = optest_new("ReduceMax", 18);
  optest_attr_int(t, "keepdims", 0);
  optest_input(t, EMBER_FLOAT, 2, ed, x);
  optest_input(t, EMBER_INT64, 1, ax1, ax1);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 1, eo), ninf, 2);
  optest_free(t);

  t = optest_new("ReduceSum", 13);
  optest_attr_int(t, "keepdims", 0);
  optest_input(t, EMBER_FLOAT, 2, ed, x);
  optest_input(t, EMBER_INT64, 1, ax1, ax1);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 1, eo), zero2, 2);
  optest_free(t);

  /* Errors. */
  int64_t rep[2] = {1, -1}, two[1] = {2};
  t = optest_new("ReduceSum", 13);
  optest_input(t, EMBER_FLOAT, 2, d2, x);
  optest_input(t, EMBER_INT64, 1, two, rep);
  must_fail(t, EMBER_ERR_RUNTIME, "repeated");
  optest_free(t);

  int64_t far[1] = {2};
  t = optest_new("ReduceMean", 13);
  optest_attr_ints(t, "axes", 1, far);
  optest_input(t, EMBER_FLOAT, 2, d2, x);
  must_fail(t, EMBER_ERR_RUNTIME, "out of range");
  optest_free(t);

  const char *sx[1] = {"x"};
  int64_t one[1] = {1};
  t = optest_new("ReduceSum", 13);
  optest_input(t, EMBER_STRING, 1, one, sx);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "string");
  optest_free(t);
}

/* ---------------------------------------------------- packed sub-byte */

/* Nibble i of a packed 4-bit buffer, low nibble first. */
static int nibble(const void *p, size_t i) {
  return (((const uint8_t *)p)[i / 2] >> (4 * (i % 2))) & 15;
}

static void test_packed(void **state) {
  (void)state;
  /* Pad a uint4 vector with a constant; reshape it; fill with int4. */
  uint8_t x[2] = {0x21, 0x03}; /* codes 1, 2, 3 */
  uint8_t nine = 9;
  int64_t d[1] = {3}, pads[2] = {1, 2}, pd[1] = {2}, od[1] = {6};
  int want[6] = {9, 1, 2, 3, 9, 9};
  optest *t = optest_new("Pad", 21);
  optest_input(t, EMBER_UINT4, 1, d, x);
  optest_input(t, EMBER_INT64, 1, pd, pads);
  optest_input(t, EMBER_UINT4, 0, NULL, &nine);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_UINT4, 1, od);
  for (int i = 0; i < 6; i++)
    if (nibble(y->data, (size_t)i) != want[i])
      fail_msg("element %d: got %d, expected %d", i,
               nibble(y->data, (size_t)i), want[i]);
  optest_free(t);

  int64_t shape[2] = {3, 1}, sd[1] = {2};
  t = optest_new("Reshape", 21);
  optest_input(t, EMBER_UINT4, 1, d, x);
  optest_input(t, EMBER_INT64, 1, sd, shape);
  must_run(t);
  y = out_t(t, 0, EMBER_UINT4, 2, shape);
  for (int i = 0; i < 3; i++)
    assert_int_equal(nibble(y->data, (size_t)i), i + 1);
  optest_free(t);

  uint8_t minus3 = 0x0d; /* int4 -3 */
  int64_t one[1] = {1}, cs[1] = {3};
  t = optest_new("ConstantOfShape", 21);
  optest_attr_tensor(t, "value", EMBER_INT4, 1, one, &minus3);
  optest_input(t, EMBER_INT64, 1, one, cs);
  must_run(t);
  y = out_t(t, 0, EMBER_INT4, 1, cs);
  for (int i = 0; i < 3; i++) assert_int_equal(nibble(y->data, (size_t)i), 13);
  assert_int_equal(((const uint8_t *)y->data)[1] >> 4, 0); /* unused half */
  optest_free(t);
}

/* ------------------------------------------------------------ kernels */

/* The strided copy against an element-by-element walk: transposes around
 * the tile edge (31, 32, 33), odd element sizes, reversed and broadcast
 * sources. */
static void test_kernel_copy(void **state) {
  (void)state;
  static const size_t sizes[] = {1, 3, 31, 32, 33, 70};
  static const size_t esizes[] = {1, 2, 3, 4, 8, 16};
  const size_t cap = 70 * 70 * 3 * 16;
  unsigned char *src = malloc(cap), *dst = malloc(cap), *ref = malloc(cap);
  for (size_t i = 0; i < cap; i++) src[i] = (unsigned char)(i * 7 + i / 251);
  for (size_t e = 0; e < 6; e++) {
    size_t es = esizes[e];
    for (size_t a = 0; a < 6; a++)
      for (size_t b = 0; b < 6; b++)
        for (int pattern = 0; pattern < 4; pattern++) {
          /* Source [3][A][B]; destination [3][B][A] (transpose), [3][A][B]
           * reversed along A, or broadcast along B from [3][A][1]. */
          size_t A = sizes[a], B = sizes[b], dims[3];
          ptrdiff_t ss[3], ds[3];
          const unsigned char *base = src;
          if (pattern == 0 || pattern == 3) {
            dims[0] = 3, dims[1] = B, dims[2] = A;
            ss[0] = (ptrdiff_t)(A * B * es), ss[1] = (ptrdiff_t)es,
            ss[2] = (ptrdiff_t)(B * es);
            if (pattern == 3) { /* and reversed along A */
              base = src + (A - 1) * B * es;
              ss[2] = -ss[2];
            }
          } else if (pattern == 1) {
            dims[0] = 3, dims[1] = A, dims[2] = B;
            ss[0] = (ptrdiff_t)(A * B * es), ss[1] = -(ptrdiff_t)(B * es),
            ss[2] = (ptrdiff_t)es;
            base = src + (A - 1) * B * es;
          } else {
            dims[0] = 3, dims[1] = A, dims[2] = B;
            ss[0] = (ptrdiff_t)(A * es), ss[1] = (ptrdiff_t)es, ss[2] = 0;
          }
          ds[2] = (ptrdiff_t)es;
          ds[1] = (ptrdiff_t)(dims[2] * es);
          ds[0] = (ptrdiff_t)(dims[1] * dims[2] * es);
          size_t n = dims[0] * dims[1] * dims[2];
          for (size_t f = 0; f < n; f++) {
            size_t i2 = f % dims[2], i1 = (f / dims[2]) % dims[1],
                   i0 = f / dims[2] / dims[1];
            const unsigned char *p = base + (ptrdiff_t)i0 * ss[0] +
                                     (ptrdiff_t)i1 * ss[1] +
                                     (ptrdiff_t)i2 * ss[2];
            memcpy(ref + f * es, p, es);
          }
          memset(dst, 0xee, n * es);
          ember_xx_copy_nd__scalar(es, 3, dims, base, ss, dst, ds);
          if (memcmp(dst, ref, n * es))
            fail_msg("copy differs: esize %zu, A %zu, B %zu, pattern %d", es,
                     A, B, pattern);
        }
  }
  free(src);
  free(dst);
  free(ref);

  /* Fill with a non-uniform value, odd counts. */
  unsigned char v[3] = {1, 2, 3}, out[3 * 37];
  for (size_t cnt = 0; cnt <= 37; cnt++) {
    memset(out, 0, sizeof out);
    ember_xx_fill__scalar(3, cnt, v, out);
    for (size_t i = 0; i < 3 * 37; i++)
      assert_int_equal(out[i], i < 3 * cnt ? v[i % 3] : 0);
  }
}

/* The float32 reductions against double sums and a plain maximum. */
static void test_kernel_reduce(void **state) {
  (void)state;
  static const size_t shapes[][3] = {{1, 1, 1}, {3, 0, 2}, {2, 17, 1},
                                     {4, 5, 33}, {1, 1000, 1}, {2, 3, 7}};
  float x[4096], y[512];
  for (int i = 0; i < 4096; i++) x[i] = frand();
  x[100] = NAN;
  for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
    size_t O = shapes[c][0], R = shapes[c][1], I = shapes[c][2];
    const float *in = c == 4 ? x + 50 : x; /* case 4 holds the NaN */
    ember_f32_rsum__scalar(O, R, I, in, y);
    for (size_t o = 0; o < O; o++)
      for (size_t i = 0; i < I; i++) {
        double s = 0;
        for (size_t r = 0; r < R; r++) s += in[(o * R + r) * I + i];
        double g = y[o * I + i];
        if (!(isnan(s) && isnan(g)) && fabs(g - s) > 1e-4 * (1 + fabs(s)))
          fail_msg("sum case %zu [%zu,%zu]: got %g, expected %g", c, o, i, g,
                   s);
      }
    ember_f32_rmax__scalar(O, R, I, in, y);
    for (size_t o = 0; o < O; o++)
      for (size_t i = 0; i < I; i++) {
        float m = -INFINITY;
        bool nan = false;
        for (size_t r = 0; r < R; r++) {
          float v = in[(o * R + r) * I + i];
          nan |= isnan(v);
          if (v > m) m = v;
        }
        float g = y[o * I + i];
        if (nan ? !isnan(g) : g != m)
          fail_msg("max case %zu [%zu,%zu]: got %g, expected %g", c, o, i,
                   (double)g, nan ? NAN : (double)m);
      }
  }
}

int main(void) {
  /* Name one definition per file so that a static link keeps their
   * objects (the registry refers to them weakly). */
  volatile const void *keep[] = {&emb_op_concat, &emb_op_gather, &emb_op_pad,
                                 &emb_op_reducesum};
  (void)keep;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_concat),
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_slice),
      cmocka_unit_test(test_reshape),
      cmocka_unit_test(test_flatten),
      cmocka_unit_test(test_squeeze_unsqueeze),
      cmocka_unit_test(test_transpose),
      cmocka_unit_test(test_expand),
      cmocka_unit_test(test_tile),
      cmocka_unit_test(test_gather),
      cmocka_unit_test(test_shape_size),
      cmocka_unit_test(test_constant),
      cmocka_unit_test(test_range),
      cmocka_unit_test(test_pad),
      cmocka_unit_test(test_reduce),
      cmocka_unit_test(test_packed),
      cmocka_unit_test(test_kernel_copy),
      cmocka_unit_test(test_kernel_reduce),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
