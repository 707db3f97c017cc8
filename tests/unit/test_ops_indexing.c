/*
 * Unit tests for the index-driven operators of lib/ops/indexing.c
 * (GatherElements, GatherND, ScatterElements, Scatter, ScatterND,
 * TensorScatter, Compress, NonZero, Unique, ReverseSequence, OneHot,
 * EyeLike, Trilu) through the one-node harness (optest.h).  Expected
 * values are computed here from the inputs by the definitions in the ONNX
 * spec restated as plain index loops (multi-index arithmetic, quadratic
 * first-occurrence search for Unique), on odd and size-1 dims, empty
 * tensors, negative and int32 indices, strings, bool and packed types,
 * with inputs both as run-time values and as constants (folded at load).
 * Bad indices, shapes and attributes must give the right status and name
 * the node.
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

/* ------------------------------------------------------------ helpers */




static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int k = 0; k < rank; k++) n *= (size_t)dims[k];
  return n;
}

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

static uint32_t rng_state = 777;
static uint32_t urand(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}
static float frand(void) {
  return (float)(urand() & 0xffff) / 4096.0f - 8.0f;
}
/* A random index in [-dim, dim). */
static int64_t irand(int64_t dim) {
  return (int64_t)(urand() % (uint32_t)(2 * dim)) - dim;
}

static void expect_same_f32(const emb_tensor *y, const float *want,
                            size_t n) {
  const float *got = y->data;
  for (size_t i = 0; i < n; i++) {
    if (isnan(got[i]) && isnan(want[i])) continue;
    if (got[i] != want[i])
      fail_msg("element %zu: got %.9g, expected %.9g", i, (double)got[i],
               (double)want[i]);
  }
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

static const char *const words[] = {"a",  "bb", "ccc", "",  "e",  "ff",
                                    "g",  "hh", "i",   "jj", "k", "ll"};

/* ------------------------------------------------------ GatherElements */

static void test_gather_elements(void **state) {
  (void)state;
  int64_t dd[3] = {3, 4, 5};
  float data[60];
  for (int i = 0; i < 60; i++) data[i] = frand();
  for (int axis = -3; axis < 3; axis++) {
    int ax = axis < 0 ? axis + 3 : axis;
    /* indices: size 2 on the axis (or 7, larger than data), smaller or
     * equal elsewhere. */
    int64_t id[3] = {3, 2, 5};
    id[ax] = 7;
    if (ax != 1) id[1] = 3;
    size_t n = numel(3, id);
    int64_t idx64[105];
    int32_t idx32[105];
    float want[105];
    for (size_t j = 0; j < n; j++) {
      idx64[j] = irand(dd[ax]);
      idx32[j] = (int32_t)idx64[j];
      int64_t p[3];
      unravel(j, 3, id, p);
      p[ax] = idx64[j] < 0 ? idx64[j] + dd[ax] : idx64[j];
      want[j] = data[ravel(p, 3, dd)];
    }
    for (int w = 0; w < 2; w++) {
      optest *t = optest_new("GatherElements", w ? 11 : 13);
      optest_attr_int(t, "axis", axis);
      optest_input(t, EMBER_FLOAT, 3, dd, data);
      if (w)
        optest_input_const(t, EMBER_INT32, 3, id, idx32);
      else
        optest_input(t, EMBER_INT64, 3, id, idx64);
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, id), want, n);
      optest_free(t);
    }
  }

  /* Strings, 1-D; all-constant (folded at load). */
  int64_t sd[1] = {4}, si[1] = {6};
  int64_t sidx[6] = {3, -1, 0, 0, 2, -4};
  const char *sw[6] = {"", "", "a", "a", "ccc", "a"};
  optest *t = optest_new("GatherElements", 13);
  optest_input_const(t, EMBER_STRING, 1, sd, words);
  optest_input_const(t, EMBER_INT64, 1, si, sidx);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 1, si), sw, 6);
  optest_free(t);

  /* Empty indices give an empty output. */
  t = optest_new("GatherElements", 13);
  optest_input(t, EMBER_FLOAT, 3, dd, data);
  int64_t ed3[3] = {0, 4, 5};
  optest_input(t, EMBER_INT64, 3, ed3, sidx);
  must_run(t);
  out_t(t, 0, EMBER_FLOAT, 3, ed3);
  optest_free(t);

  /* Errors: out of range, rank mismatch, indices larger than data. */
  int64_t bad[1] = {4};
  t = optest_new("GatherElements", 13);
  optest_input(t, EMBER_STRING, 1, sd, words);
  optest_input(t, EMBER_INT64, 1, sd, bad);
  must_fail(t, EMBER_ERR_RUNTIME, "index 4");
  optest_free(t);

  t = optest_new("GatherElements", 13);
  optest_input(t, EMBER_STRING, 1, sd, words);
  optest_input(t, EMBER_INT32, 1, bad, (int32_t[]){-5});
  must_fail(t, EMBER_ERR_RUNTIME, "index -5");
  optest_free(t);

  t = optest_new("GatherElements", 13);
  optest_input(t, EMBER_FLOAT, 3, dd, data);
  optest_input(t, EMBER_INT64, 1, sd, sidx);
  must_fail(t, EMBER_ERR_SHAPE, "rank");
  optest_free(t);

  int64_t big[3] = {1, 5, 5};
  int64_t zeros[25] = {0};
  t = optest_new("GatherElements", 13);
  optest_attr_int(t, "axis", 2);
  optest_input(t, EMBER_FLOAT, 3, dd, data);
  optest_input(t, EMBER_INT64, 3, big, zeros);
  must_fail(t, EMBER_ERR_SHAPE, "dimension 1");
  optest_free(t);

  t = optest_new("GatherElements", 13);
  optest_attr_int(t, "axis", 3);
  optest_input(t, EMBER_FLOAT, 3, dd, data);
  optest_input(t, EMBER_INT64, 3, big, zeros);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);

  t = optest_new("GatherElements", 13);
  optest_input(t, EMBER_FLOAT, 3, dd, data);
  optest_input(t, EMBER_FLOAT, 3, dd, data);
  must_fail(t, EMBER_ERR_TYPE, "int32 or int64");
  optest_free(t);
}

/* ------------------------------------------------------------ GatherND */

/* Reference GatherND: data (rank r), indices (rank q, last dim k), b
 * batch dims. */
static void ref_gathernd(const float *data, int r, const int64_t *dd,
                         const int64_t *idx, int q, const int64_t *id, int b,
                         float *out, size_t *n_out) {
  int k = (int)id[q - 1];
  size_t nb = numel(b, dd), nt = numel(q - 1 - b, id + b);
  size_t slice = numel(r - b - k, dd + b + k);
  size_t o = 0;
  for (size_t bi = 0; bi < nb; bi++)
    for (size_t t = 0; t < nt; t++) {
      int64_t pos[8] = {0};
      unravel(bi, b, dd, pos);
      for (int j = 0; j < k; j++) {
        int64_t v = idx[(bi * nt + t) * (size_t)k + (size_t)j];
        pos[b + j] = v < 0 ? v + dd[b + j] : v;
      }
      for (size_t s = 0; s < slice; s++) {
        unravel(s, r - b - k, dd + b + k, pos + b + k);
        out[o++] = data[ravel(pos, r, dd)];
      }
    }
  *n_out = o;
}

static void test_gathernd(void **state) {
  (void)state;
  int64_t dd[4] = {2, 3, 4, 5};
  float data[120], want[400];
  for (int i = 0; i < 120; i++) data[i] = frand();
  struct {
    int b, q;
    int64_t id[4];
  } cases[] = {
      {0, 2, {3, 4}},       /* full tuples: elements */
      {0, 3, {2, 3, 2}},    /* slices of 4x5 */
      {0, 1, {1}},          /* one index: a 3x4x5 slice */
      {1, 3, {2, 2, 3}},    /* batch 1, elements */
      {1, 2, {2, 1}},       /* batch 1, slices */
      {2, 4, {2, 3, 2, 1}}, /* batch 2 */
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    int b = cases[ci].b, q = cases[ci].q, k = (int)cases[ci].id[q - 1];
    const int64_t *id = cases[ci].id;
    size_t ni = numel(q, id);
    int64_t idx[64];
    int32_t idx32[64];
    for (size_t j = 0; j < ni; j++) {
      idx[j] = irand(dd[b + (int)(j % (size_t)k)]);
      idx32[j] = (int32_t)idx[j];
    }
    size_t n;
    ref_gathernd(data, 4, dd, idx, q, id, b, want, &n);
    int orank = q - 1 + 4 - b - k;
    int64_t od[8];
    int j = 0;
    for (int a = 0; a < q - 1; a++) od[j++] = id[a];
    for (int a = b + k; a < 4; a++) od[j++] = dd[a];
    for (int w = 0; w < 2; w++) {
      optest *t = optest_new("GatherND", b || w ? 13 : 11);
      if (b) optest_attr_int(t, "batch_dims", b);
      optest_input(t, EMBER_FLOAT, 4, dd, data);
      if (w)
        optest_input_const(t, EMBER_INT32, q, id, idx32);
      else
        optest_input(t, EMBER_INT64, q, id, idx);
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, orank, od), want, n);
      optest_free(t);
    }
  }

  /* Strings: pick rows of a 3x2 matrix. */
  int64_t sd[2] = {3, 2}, si[2] = {2, 1}, sidx[2] = {2, -3};
  int64_t so[2] = {2, 2};
  const char *sw[4] = {"e", "ff", "a", "bb"};
  optest *t = optest_new("GatherND", 13);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, si, sidx);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 2, so), sw, 4);
  optest_free(t);

  /* Errors. */
  int64_t oob[2] = {0, 3};
  int64_t i12[2] = {1, 2};
  t = optest_new("GatherND", 13);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, i12, oob);
  must_fail(t, EMBER_ERR_RUNTIME, "index 3");
  optest_free(t);

  int64_t i13[2] = {1, 3}, three[3] = {0, 0, 0};
  t = optest_new("GatherND", 13);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, i13, three);
  must_fail(t, EMBER_ERR_SHAPE, "exceed");
  optest_free(t);

  t = optest_new("GatherND", 13);
  optest_attr_int(t, "batch_dims", 2);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, i12, oob);
  must_fail(t, EMBER_ERR_SHAPE, "batch_dims");
  optest_free(t);

  int64_t bi[2] = {2, 1}, bz[2] = {0, 0};
  t = optest_new("GatherND", 13);
  optest_attr_int(t, "batch_dims", 1);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, bi, bz);
  must_fail(t, EMBER_ERR_SHAPE, "batch dimension 0");
  optest_free(t);
}

/* ------------------------------------------------- ScatterElements etc. */

static float red_apply(const char *red, float a, float b) {
  if (!strcmp(red, "add")) return a + b;
  if (!strcmp(red, "mul")) return a * b;
  if (!strcmp(red, "max")) return a > b ? a : b;
  if (!strcmp(red, "min")) return a < b ? a : b;
  return b;
}

static void test_scatter_elements(void **state) {
  (void)state;
  int64_t dd[3] = {3, 4, 5};
  float data[60];
  for (int i = 0; i < 60; i++) data[i] = frand();
  const char *reds[] = {"none", "add", "mul", "max", "min"};
  for (int axis = -1; axis < 3; axis++) {
    int ax = axis < 0 ? axis + 3 : axis;
    int64_t id[3] = {2, 3, 4};
    id[ax] = ax == 1 ? 4 : 3;
    size_t n = numel(3, id);
    for (int ri = 0; ri < 5; ri++) {
      int64_t idx[48];
      float upd[48], want[60];
      memcpy(want, data, sizeof want);
      /* For 'none' a permutation along the axis keeps indices distinct;
       * the reductions get random (duplicated) indices. */
      for (size_t j = 0; j < n; j++) {
        int64_t p[3];
        unravel(j, 3, id, p);
        idx[j] = ri ? irand(dd[ax])
                    : (p[ax] + 1) % dd[ax] - (j & 1 ? dd[ax] : 0);
        upd[j] = frand();
      }
      for (size_t j = 0; j < n; j++) {
        int64_t p[3];
        unravel(j, 3, id, p);
        p[ax] = idx[j] < 0 ? idx[j] + dd[ax] : idx[j];
        size_t at = ravel(p, 3, dd);
        want[at] = red_apply(reds[ri], want[at], upd[j]);
      }
      optest *t = optest_new("ScatterElements", 18);
      optest_attr_int(t, "axis", axis);
      if (ri) optest_attr_string(t, "reduction", reds[ri]);
      optest_input(t, EMBER_FLOAT, 3, dd, data);
      optest_input(t, EMBER_INT64, 3, id, idx);
      optest_input(t, EMBER_FLOAT, 3, id, upd);
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, dd), want, 60);
      optest_free(t);
    }
  }

  /* int32 data with add at opset 16, int32 indices, constants. */
  int64_t d1[1] = {5}, i1[1] = {6};
  int32_t x32[5] = {1, 2, 3, 4, 5}, u32[6] = {10, 20, 30, 40, 50, 60};
  int32_t ix32[6] = {0, -1, 0, 4, 2, 2};
  int64_t w32[5] = {1 + 10 + 30, 2, 3 + 50 + 60, 4, 5 + 20 + 40};
  optest *t = optest_new("ScatterElements", 16);
  optest_attr_string(t, "reduction", "add");
  optest_input_const(t, EMBER_INT32, 1, d1, x32);
  optest_input_const(t, EMBER_INT32, 1, i1, ix32);
  optest_input_const(t, EMBER_INT32, 1, i1, u32);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT32, 1, d1), w32, 5);
  optest_free(t);

  /* bool: add is or, mul is and. */
  uint8_t b5[5] = {0, 1, 0, 1, 1}, bu[2] = {1, 0};
  int64_t bi[2] = {0, 1}, b2[1] = {2};
  int64_t bw_add[5] = {1, 1, 0, 1, 1}, bw_mul[5] = {0, 0, 0, 1, 1};
  for (int m = 0; m < 2; m++) {
    t = optest_new("ScatterElements", 18);
    optest_attr_string(t, "reduction", m ? "mul" : "add");
    optest_input(t, EMBER_BOOL, 1, d1, b5);
    optest_input(t, EMBER_INT64, 1, b2, bi);
    optest_input(t, EMBER_BOOL, 1, b2, bu);
    must_run(t);
    expect_i64(out_t(t, 0, EMBER_BOOL, 1, d1), m ? bw_mul : bw_add, 5);
    optest_free(t);
  }

  /* Strings, and the deprecated Scatter (opset 9 and 10). */
  int64_t sd[2] = {2, 3}, si[2] = {1, 3}, sidx[3] = {1, 0, -1};
  const char *su[3] = {"x", "yy", "zzz"};
  const char *sw[6] = {"a", "yy", "ccc", "x", "e", "zzz"};
  for (int v = 0; v < 3; v++) {
    t = optest_new(v ? "Scatter" : "ScatterElements", v ? 8 + v : 13);
    optest_input(t, EMBER_STRING, 2, sd, words);
    optest_input(t, EMBER_INT64, 2, si, sidx);
    optest_input(t, EMBER_STRING, 2, si, su);
    must_run(t);
    expect_strings(out_t(t, 0, EMBER_STRING, 2, sd), sw, 6);
    optest_free(t);
  }

  /* Errors: range, reduction versions and types, shapes. */
  int64_t oob[3] = {0, 2, 1};
  t = optest_new("ScatterElements", 13);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, si, oob);
  optest_input(t, EMBER_STRING, 2, si, su);
  must_fail(t, EMBER_ERR_RUNTIME, "index 2");
  optest_free(t);

  t = optest_new("ScatterElements", 16);
  optest_attr_string(t, "reduction", "max");
  optest_input(t, EMBER_INT32, 1, d1, x32);
  optest_input(t, EMBER_INT32, 1, i1, ix32);
  optest_input(t, EMBER_INT32, 1, i1, u32);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "opset 18");
  optest_free(t);

  t = optest_new("ScatterElements", 13);
  optest_attr_string(t, "reduction", "add");
  optest_input(t, EMBER_INT32, 1, d1, x32);
  optest_input(t, EMBER_INT32, 1, i1, ix32);
  optest_input(t, EMBER_INT32, 1, i1, u32);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "opset 16");
  optest_free(t);

  t = optest_new("ScatterElements", 18);
  optest_attr_string(t, "reduction", "sum");
  optest_input(t, EMBER_INT32, 1, d1, x32);
  optest_input(t, EMBER_INT32, 1, i1, ix32);
  optest_input(t, EMBER_INT32, 1, i1, u32);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "sum");
  optest_free(t);

  t = optest_new("ScatterElements", 18);
  optest_attr_string(t, "reduction", "add");
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, si, sidx);
  optest_input(t, EMBER_STRING, 2, si, su);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "string");
  optest_free(t);

  int64_t i2[1] = {2};
  t = optest_new("ScatterElements", 18);
  optest_input(t, EMBER_INT32, 1, d1, x32);
  optest_input(t, EMBER_INT32, 1, i1, ix32);
  optest_input(t, EMBER_INT32, 1, i2, u32);
  must_fail(t, EMBER_ERR_SHAPE, "updates");
  optest_free(t);

  t = optest_new("ScatterElements", 18);
  optest_input(t, EMBER_INT32, 1, d1, x32);
  optest_input(t, EMBER_INT32, 1, i1, ix32);
  optest_input(t, EMBER_INT64, 1, i1, w32);
  must_fail(t, EMBER_ERR_TYPE, "element type");
  optest_free(t);
}

/* ----------------------------------------------------------- ScatterND */

static void test_scatternd(void **state) {
  (void)state;
  int64_t dd[3] = {4, 3, 2};
  float data[24];
  for (int i = 0; i < 24; i++) data[i] = frand();
  const char *reds[] = {"none", "add", "mul", "max", "min"};
  /* k = 1 (rows of 3x2), 2 (pairs), 3 (elements). */
  for (int k = 1; k <= 3; k++)
    for (int ri = 0; ri < 5; ri++) {
      int64_t id[3] = {2, 2, k};
      size_t nt = 4, slice = numel(3 - k, dd + k);
      int64_t idx[12];
      float upd[48], want[24];
      memcpy(want, data, sizeof want);
      for (size_t t = 0; t < nt; t++)
        for (int j = 0; j < k; j++)
          /* distinct tuples for 'none': tuple t has first index t */
          idx[t * (size_t)k + (size_t)j] =
              ri || j ? irand(dd[j]) : (int64_t)t - (t & 1 ? 4 : 0);
      for (size_t i = 0; i < nt * slice; i++) upd[i] = frand();
      for (size_t t = 0; t < nt; t++) {
        int64_t pos[3] = {0, 0, 0};
        for (int j = 0; j < k; j++) {
          int64_t v = idx[t * (size_t)k + (size_t)j];
          pos[j] = v < 0 ? v + dd[j] : v;
        }
        for (size_t s = 0; s < slice; s++) {
          unravel(s, 3 - k, dd + k, pos + k);
          size_t at = ravel(pos, 3, dd);
          want[at] = red_apply(reds[ri], want[at], upd[t * slice + s]);
        }
      }
      int64_t ud[4] = {2, 2};
      int ur = 2;
      for (int a = k; a < 3; a++) ud[ur++] = dd[a];
      optest *t = optest_new("ScatterND", ri ? 18 : 11);
      if (ri) optest_attr_string(t, "reduction", reds[ri]);
      optest_input(t, EMBER_FLOAT, 3, dd, data);
      optest_input(t, EMBER_INT64, 3, id, idx);
      optest_input(t, EMBER_FLOAT, ur, ud, upd);
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, dd), want, 24);
      optest_free(t);
    }

  /* Strings with whole-row updates. */
  int64_t sd[2] = {3, 2}, si[2] = {1, 1}, sidx[1] = {-2}, su_d[2] = {1, 2};
  const char *su[2] = {"x", "yy"};
  const char *sw[6] = {"a", "bb", "x", "yy", "e", "ff"};
  optest *t = optest_new("ScatterND", 13);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, si, sidx);
  optest_input(t, EMBER_STRING, 2, su_d, su);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 2, sd), sw, 6);
  optest_free(t);

  /* Errors. */
  int64_t oob[1] = {3};
  t = optest_new("ScatterND", 13);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, si, oob);
  optest_input(t, EMBER_STRING, 2, su_d, su);
  must_fail(t, EMBER_ERR_RUNTIME, "index 3");
  optest_free(t);

  int64_t bad_u[2] = {1, 3};
  t = optest_new("ScatterND", 13);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, si, sidx);
  optest_input(t, EMBER_STRING, 2, bad_u, words);
  must_fail(t, EMBER_ERR_SHAPE, "updates");
  optest_free(t);

  t = optest_new("ScatterND", 13);
  optest_attr_string(t, "reduction", "add");
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 2, si, sidx);
  optest_input(t, EMBER_STRING, 2, su_d, su);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "opset 16");
  optest_free(t);
}

/* ------------------------------------------------------- TensorScatter */

static void test_tensor_scatter(void **state) {
  (void)state;
  /* past (B=2, H=3, S=5, D=2), update (2, 3, L, 2), axis -2. */
  int64_t pd[4] = {2, 3, 5, 2}, nb = 2;
  float past[60], upd[60], want[60];
  for (int i = 0; i < 60; i++) past[i] = frand(), upd[i] = frand();
  for (int circ = 0; circ < 2; circ++)
    for (int64_t len = 0; len <= 5; len += 2) {
      int64_t ud[4] = {2, 3, len, 2};
      int64_t wi[2] = {circ ? 4 : 5 - len, circ ? -1 : 0};
      for (int with_wi = 0; with_wi < 2; with_wi++) {
        memcpy(want, past, sizeof want);
        for (int64_t b = 0; b < 2; b++)
          for (int64_t h = 0; h < 3; h++)
            for (int64_t s = 0; s < len; s++) {
              int64_t at = (with_wi ? wi[b] : 0) + s;
              at = ((at % 5) + 5) % 5;
              for (int64_t d = 0; d < 2; d++)
                want[((b * 3 + h) * 5 + at) * 2 + d] =
                    upd[((b * 3 + h) * len + s) * 2 + d];
            }
        optest *t = optest_new("TensorScatter", 24);
        if (circ) optest_attr_string(t, "mode", "circular");
        optest_input(t, EMBER_FLOAT, 4, pd, past);
        optest_input(t, EMBER_FLOAT, 4, ud, upd);
        if (with_wi) optest_input(t, EMBER_INT64, 1, &nb, wi);
        must_run(t);
        expect_same_f32(out_t(t, 0, EMBER_FLOAT, 4, pd), want, 60);
        optest_free(t);
      }
    }

  /* Packed uint4 on axis 1 of a 2x4 cache, and strings. */
  int64_t qd[2] = {2, 4}, qu[2] = {2, 1}, qw[2] = {3, 1};
  uint8_t pq[4] = {0x21, 0x43, 0x65, 0x87}, uq[1] = {0xba};
  int codes[8] = {1, 2, 3, 0xa, 5, 0xb, 7, 8};
  optest *t = optest_new("TensorScatter", 24);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_UINT4, 2, qd, pq);
  optest_input(t, EMBER_UINT4, 2, qu, uq);
  optest_input(t, EMBER_INT64, 1, (int64_t[]){2}, qw);
  must_run(t);
  const emb_tensor *y = out_t(t, 0, EMBER_UINT4, 2, qd);
  for (int i = 0; i < 8; i++) {
    int got = (((const uint8_t *)y->data)[i / 2] >> (4 * (i % 2))) & 15;
    if (got != codes[i])
      fail_msg("uint4 element %d: got %d, expected %d", i, got, codes[i]);
  }
  optest_free(t);

  const char *su[2] = {"x", "y"};
  const char *sw[8] = {"a", "bb", "ccc", "x", "e", "y", "g", "hh"};
  t = optest_new("TensorScatter", 24);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_STRING, 2, qd, words);
  optest_input(t, EMBER_STRING, 2, qu, su);
  optest_input(t, EMBER_INT64, 1, (int64_t[]){2}, qw);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 2, qd), sw, 8);
  optest_free(t);

  /* Errors: no room in linear mode, batch axis, bad mode, shapes. */
  int64_t far[2] = {4, 0};
  t = optest_new("TensorScatter", 24);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_STRING, 2, qd, words);
  optest_input(t, EMBER_STRING, 2, qu, su);
  optest_input(t, EMBER_INT64, 1, (int64_t[]){2}, far);
  must_fail(t, EMBER_ERR_RUNTIME, "write index 4");
  optest_free(t);

  t = optest_new("TensorScatter", 24);
  optest_attr_int(t, "axis", -2);
  optest_input(t, EMBER_STRING, 2, qd, words);
  optest_input(t, EMBER_STRING, 2, qu, su);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "batch axis");
  optest_free(t);

  t = optest_new("TensorScatter", 24);
  optest_attr_int(t, "axis", 1);
  optest_attr_string(t, "mode", "ring");
  optest_input(t, EMBER_STRING, 2, qd, words);
  optest_input(t, EMBER_STRING, 2, qu, su);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "ring");
  optest_free(t);

  int64_t big[2] = {2, 5};
  t = optest_new("TensorScatter", 24);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_STRING, 2, qd, words);
  optest_input(t, EMBER_STRING, 2, big, words);
  must_fail(t, EMBER_ERR_SHAPE, "dimension 1");
  optest_free(t);
}

/* ------------------------------------------------------------ Compress */

static void test_compress(void **state) {
  (void)state;
  int64_t dd[3] = {3, 4, 2};
  float data[24];
  for (int i = 0; i < 24; i++) data[i] = frand();
  uint8_t cond[6] = {1, 0, 1, 1, 0, 0};
  /* Each axis with condition lengths 2 .. 4 (shorter, equal, longer
   * with false beyond), as input and as constant. */
  for (int axis = -3; axis < 3; axis++) {
    int ax = axis < 0 ? axis + 3 : axis;
    for (int64_t len = 2; len <= dd[ax] + 1 && len <= 5; len++)
      for (int cst = 0; cst < 2; cst++) {
        int64_t lim = len < dd[ax] ? len : dd[ax], cnt = 0;
        int64_t sel[6];
        for (int64_t i = 0; i < lim; i++)
          if (cond[i]) sel[cnt++] = i;
        if (len > lim && cond[lim]) continue; /* true beyond: error case */
        int64_t od[3] = {dd[0], dd[1], dd[2]};
        od[ax] = cnt;
        float want[24];
        size_t n = numel(3, od);
        for (size_t f = 0; f < n; f++) {
          int64_t p[3];
          unravel(f, 3, od, p);
          p[ax] = sel[p[ax]];
          want[f] = data[ravel(p, 3, dd)];
        }
        optest *t = optest_new("Compress", axis < 0 ? 11 : 9);
        optest_attr_int(t, "axis", axis);
        optest_input(t, EMBER_FLOAT, 3, dd, data);
        if (cst)
          optest_input_const(t, EMBER_BOOL, 1, &len, cond);
        else
          optest_input(t, EMBER_BOOL, 1, &len, cond);
        must_run(t);
        expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, od), want, n);
        optest_free(t);
      }
  }

  /* No axis: flattened strings; an all-false condition gives []. */
  int64_t sd[2] = {2, 3}, cl[1] = {5}, o3[1] = {3}, o0[1] = {0};
  uint8_t sc[5] = {0, 1, 1, 0, 1}, none[5] = {0};
  const char *sw[3] = {"bb", "ccc", "e"};
  optest *t = optest_new("Compress", 11);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_BOOL, 1, cl, sc);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 1, o3), sw, 3);
  optest_free(t);

  t = optest_new("Compress", 11);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input_const(t, EMBER_BOOL, 1, cl, none);
  must_run(t);
  out_t(t, 0, EMBER_STRING, 1, o0);
  optest_free(t);

  /* Errors: a true entry past the axis, a non-bool condition, a bad
   * axis. */
  int64_t l7[1] = {7};
  uint8_t c7[7] = {0, 0, 0, 0, 0, 0, 1};
  t = optest_new("Compress", 11);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_BOOL, 1, l7, c7);
  must_fail(t, EMBER_ERR_RUNTIME, "index 6");
  optest_free(t);

  t = optest_new("Compress", 11);
  optest_input_const(t, EMBER_STRING, 2, sd, words);
  optest_input_const(t, EMBER_BOOL, 1, l7, c7);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "index 6");
  optest_free(t);

  t = optest_new("Compress", 11);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 1, cl, sd);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int64");
  optest_free(t);

  t = optest_new("Compress", 11);
  optest_attr_int(t, "axis", 2);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_BOOL, 1, cl, sc);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);
}

/* ------------------------------------------------------------- NonZero */

static void test_nonzero(void **state) {
  (void)state;
  int64_t dd[3] = {2, 3, 4};
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = (i % 3 == 0) ? 0.0f : frand();
  x[3] = -0.0f;
  x[6] = NAN;
  int64_t want[72], nnz = 0;
  for (int i = 0; i < 24; i++)
    if (x[i] != 0.0f || isnan(x[i])) nnz++;
  int64_t j = 0;
  for (size_t i = 0; i < 24; i++) {
    if (!(x[i] != 0.0f || isnan(x[i]))) continue;
    int64_t p[3];
    unravel(i, 3, dd, p);
    for (int k = 0; k < 3; k++) want[k * nnz + j] = p[k];
    j++;
  }
  for (int cst = 0; cst < 2; cst++) {
    optest *t = optest_new("NonZero", cst ? 9 : 13);
    if (cst)
      optest_input_const(t, EMBER_FLOAT, 3, dd, x);
    else
      optest_input(t, EMBER_FLOAT, 3, dd, x);
    must_run(t);
    int64_t od[2] = {3, nnz};
    expect_i64(out_t(t, 0, EMBER_INT64, 2, od), want, (size_t)(3 * nnz));
    optest_free(t);
  }

  /* Strings (empty is zero), bool, int8 all zero, scalars. */
  int64_t sd[1] = {6}, so[2] = {1, 5}, sw[5] = {0, 1, 2, 4, 5};
  optest *t = optest_new("NonZero", 13);
  optest_input(t, EMBER_STRING, 1, sd, words);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT64, 2, so), sw, 5);
  optest_free(t);

  uint8_t bz[6] = {0, 0, 1, 0, 0, 1};
  int64_t bd[2] = {2, 3}, bo[2] = {2, 2}, bw[4] = {0, 1, 2, 2};
  t = optest_new("NonZero", 13);
  optest_input(t, EMBER_BOOL, 2, bd, bz);
  must_run(t);
  expect_i64(out_t(t, 0, EMBER_INT64, 2, bo), bw, 4);
  optest_free(t);

  int8_t z8[6] = {0};
  int64_t zo[2] = {2, 0};
  t = optest_new("NonZero", 13);
  optest_input(t, EMBER_INT8, 2, bd, z8);
  must_run(t);
  out_t(t, 0, EMBER_INT64, 2, zo);
  optest_free(t);

  float one = 1.0f;
  int64_t scal[2] = {0, 1};
  t = optest_new("NonZero", 13);
  optest_input(t, EMBER_FLOAT, 0, NULL, &one);
  must_run(t);
  out_t(t, 0, EMBER_INT64, 2, scal);
  optest_free(t);

  uint8_t p4[1] = {0x10};
  int64_t d2[1] = {2};
  t = optest_new("NonZero", 13);
  optest_input(t, EMBER_UINT4, 1, d2, p4);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "uint4");
  optest_free(t);
}

/* -------------------------------------------------------------- Unique */

/* Reference Unique over items (rows of the moved-to-front axis, each
 * `len` floats): first occurrences in input order, then sorted by
 * lexicographic comparison when asked (insertion sort, stable). */
static int cmp_rows(const float *a, const float *b, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

static void test_unique(void **state) {
  (void)state;
  /* X 3x4x2 with repeated values and repeated slices along each axis. */
  int64_t dd[3] = {3, 4, 2};
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = (float)(int)(urand() % 4) - 1.0f;
  for (int k = 0; k < 2; k++) { /* repeat slices: axis1 item 3 = item 1 */
    for (int a = 0; a < 3; a++) x[(a * 4 + 3) * 2 + k] = x[(a * 4 + 1) * 2 + k];
  }
  for (int k = 0; k < 8; k++) x[2 * 8 + k] = x[k]; /* axis0 item 2 = 0 */
  for (int mode = -1; mode < 3; mode++)
    for (int sorted = 0; sorted < 2; sorted++) {
      int ax = mode;
      /* items as rows of `len` values in the moved-axis order */
      size_t m = mode < 0 ? 24 : (size_t)dd[ax];
      size_t len = mode < 0 ? 1 : 24 / m;
      float rows[24][24];
      for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < len; j++) {
          if (mode < 0) {
            rows[i][j] = x[i];
            continue;
          }
          int64_t p[3] = {0, 0, 0}, od[2] = {0, 0};
          int o = 0;
          for (int a = 0; a < 3; a++)
            if (a != ax) od[o++] = dd[a];
          unravel(j, 2, od, p + 0);
          int64_t full[3];
          for (int a = 0, q = 0; a < 3; a++)
            full[a] = a == ax ? (int64_t)i : p[q++];
          rows[i][j] = x[ravel(full, 3, dd)];
        }
      size_t first[24], g = 0, order[24];
      int64_t inv[24], cnt[24];
      for (size_t i = 0; i < m; i++) {
        size_t u = 0;
        while (u < g && cmp_rows(rows[first[u]], rows[i], len)) u++;
        if (u == g) {
          first[g] = i;
          cnt[g] = 0;
          g++;
        }
        cnt[u]++;
        inv[i] = (int64_t)u;
      }
      for (size_t u = 0; u < g; u++) order[u] = u;
      if (sorted)
        for (size_t a = 1; a < g; a++)
          for (size_t b = a; b > 0 && cmp_rows(rows[first[order[b]]],
                                               rows[first[order[b - 1]]],
                                               len) < 0;
               b--) {
            size_t tmp = order[b];
            order[b] = order[b - 1];
            order[b - 1] = tmp;
          }
      size_t pos[24];
      for (size_t u = 0; u < g; u++) pos[order[u]] = u;
      int64_t wi[24], wc[24], winv[24];
      for (size_t u = 0; u < g; u++) {
        wi[u] = (int64_t)first[order[u]];
        wc[u] = cnt[order[u]];
      }
      for (size_t i = 0; i < m; i++) winv[i] = (int64_t)pos[inv[i]];
      int64_t yd[3] = {dd[0], dd[1], dd[2]};
      int yr = 3;
      float yw[24];
      if (mode < 0) {
        yr = 1;
        yd[0] = (int64_t)g;
        for (size_t u = 0; u < g; u++) yw[u] = rows[first[order[u]]][0];
      } else {
        yd[ax] = (int64_t)g;
        for (size_t f = 0; f < numel(3, yd); f++) {
          int64_t p[3];
          unravel(f, 3, yd, p);
          p[ax] = (int64_t)first[order[p[ax]]];
          yw[f] = x[ravel(p, 3, dd)];
        }
      }
      optest *t = optest_new("Unique", 11);
      if (mode >= 0) optest_attr_int(t, "axis", mode - (mode == 2 ? 3 : 0));
      if (!sorted) optest_attr_int(t, "sorted", 0);
      optest_input(t, EMBER_FLOAT, 3, dd, x);
      optest_outputs(t, 4);
      must_run(t);
      int64_t gd[1] = {(int64_t)g}, md[1] = {(int64_t)m};
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, yr, yd), yw, numel(yr, yd));
      expect_i64(out_t(t, 1, EMBER_INT64, 1, gd), wi, g);
      expect_i64(out_t(t, 2, EMBER_INT64, 1, md), winv, m);
      expect_i64(out_t(t, 3, EMBER_INT64, 1, gd), wc, g);
      optest_free(t);
    }

  /* Strings, only Y, sorted; as a constant (folded). */
  const char *sx[6] = {"b", "a", "b", "", "c", "a"};
  const char *sy[4] = {"", "a", "b", "c"};
  int64_t sd[1] = {6}, so[1] = {4};
  optest *t = optest_new("Unique", 11);
  optest_input_const(t, EMBER_STRING, 1, sd, sx);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 1, so), sy, 4);
  optest_free(t);

  /* NaNs form one group at the end; empty input. */
  float nx[4] = {NAN, 1.0f, NAN, -2.0f}, ny[3] = {-2.0f, 1.0f, NAN};
  int64_t nd[1] = {4}, no[1] = {3}, nc[3] = {1, 1, 2};
  t = optest_new("Unique", 11);
  optest_input(t, EMBER_FLOAT, 1, nd, nx);
  optest_outputs(t, 4);
  must_run(t);
  expect_same_f32(out_t(t, 0, EMBER_FLOAT, 1, no), ny, 3);
  expect_i64(out_t(t, 3, EMBER_INT64, 1, no), nc, 3);
  optest_free(t);

  int64_t ed[2] = {0, 3}, e0[1] = {0};
  t = optest_new("Unique", 11);
  optest_input(t, EMBER_FLOAT, 2, ed, nx);
  optest_outputs(t, 3);
  must_run(t);
  out_t(t, 0, EMBER_FLOAT, 1, e0);
  out_t(t, 2, EMBER_INT64, 1, e0);
  optest_free(t);

  t = optest_new("Unique", 11);
  optest_attr_int(t, "sorted", 2);
  optest_input(t, EMBER_FLOAT, 1, nd, nx);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "sorted");
  optest_free(t);

  t = optest_new("Unique", 11);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 1, nd, nx);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);
}

/* ----------------------------------------------------- ReverseSequence */

static void test_reverse_sequence(void **state) {
  (void)state;
  float x[60];
  for (int i = 0; i < 60; i++) x[i] = frand();
  for (int time_axis = 0; time_axis < 2; time_axis++) {
    /* (T=5, B=4, 3) or (B=4, T=5, 3) */
    int64_t T = 5, B = 4;
    int64_t dd[3] = {time_axis ? B : T, time_axis ? T : B, 3};
    int64_t lens[4] = {5, 0, 1, 3};
    int32_t lens32[4] = {5, 0, 1, 3};
    float want[60];
    for (size_t f = 0; f < 60; f++) {
      int64_t p[3];
      unravel(f, 3, dd, p);
      int64_t b = p[1 - time_axis], t = p[time_axis];
      if (t < lens[b]) p[time_axis] = lens[b] - 1 - t;
      want[f] = x[ravel(p, 3, dd)];
    }
    for (int w = 0; w < 2; w++) {
      optest *t = optest_new("ReverseSequence", 10);
      optest_attr_int(t, "time_axis", time_axis);
      optest_attr_int(t, "batch_axis", 1 - time_axis);
      optest_input(t, EMBER_FLOAT, 3, dd, x);
      if (w)
        optest_input_const(t, EMBER_INT32, 1, &B, lens32);
      else
        optest_input(t, EMBER_INT64, 1, &B, lens);
      must_run(t);
      expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, dd), want, 60);
      optest_free(t);
    }
  }

  /* Strings, 2x3 with batch on axis 1. */
  int64_t sd[2] = {2, 3}, b3 = 3, sl[3] = {2, 1, 0};
  /* Column 0 reversed over 2 steps swaps "a" and ""; the others keep
   * their order. */
  const char *want_s[6] = {"", "bb", "ccc", "a", "e", "ff"};
  optest *t = optest_new("ReverseSequence", 10);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 1, &b3, sl);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 2, sd), want_s, 6);
  optest_free(t);

  /* Errors. */
  int64_t too_long[3] = {3, 0, 0};
  t = optest_new("ReverseSequence", 10);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 1, &b3, too_long);
  must_fail(t, EMBER_ERR_RUNTIME, "sequence length 3");
  optest_free(t);

  t = optest_new("ReverseSequence", 10);
  optest_attr_int(t, "batch_axis", 0);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 1, &b3, sl);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "batch_axis");
  optest_free(t);

  int64_t b2 = 2;
  t = optest_new("ReverseSequence", 10);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 1, &b2, sl);
  must_fail(t, EMBER_ERR_SHAPE, "batch");
  optest_free(t);

  t = optest_new("ReverseSequence", 10);
  optest_input(t, EMBER_STRING, 1, &b3, words);
  optest_input(t, EMBER_INT64, 1, &b3, sl);
  must_fail(t, EMBER_ERR_SHAPE, "rank 2");
  optest_free(t);
}

/* -------------------------------------------------------------- OneHot */

static void test_onehot(void **state) {
  (void)state;
  int64_t id[2] = {2, 3};
  int64_t idx[6] = {0, 4, -1, -5, 5, 2};
  float fidx[6] = {0.0f, 4.9f, -1.0f, -5.0f, 5.0f, 2.0f};
  float vals[2] = {-1.5f, 7.0f};
  int64_t two = 2, depth = 5, one_d = 1;
  float fdepth = 5.0f;
  for (int opset = 9; opset <= 11; opset += 2)
    for (int axis = -3; axis <= 2; axis++) {
      int ax = axis < 0 ? axis + 3 : axis;
      int64_t od[3];
      for (int k = 0, j = 0; k < 3; k++) od[k] = k == ax ? depth : id[j++];
      float want[30];
      for (size_t f = 0; f < 30; f++) {
        int64_t p[3], q[2];
        unravel(f, 3, od, p);
        for (int k = 0, j = 0; k < 3; k++)
          if (k != ax) q[j++] = p[k];
        int64_t v = idx[ravel(q, 2, id)];
        if (v < 0 && opset >= 11) v += depth;
        want[f] = v == p[ax] ? vals[1] : vals[0];
      }
      for (int w = 0; w < 3; w++) {
        optest *t = optest_new("OneHot", opset);
        if (axis != -1 || w) optest_attr_int(t, "axis", axis);
        if (w == 2)
          optest_input(t, EMBER_FLOAT, 2, id, fidx);
        else
          optest_input(t, EMBER_INT64, 2, id, idx);
        if (w == 1)
          optest_input(t, EMBER_INT64, 0, NULL, &depth);
        else
          optest_input_const(t, EMBER_FLOAT, 1, &one_d, &fdepth);
        optest_input(t, EMBER_FLOAT, 1, &two, vals);
        must_run(t);
        expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, od), want, 30);
        optest_free(t);
      }
    }

  /* String values on a scalar index; depth 0 gives an empty output. */
  const char *sv[2] = {"off", "on"};
  const char *sw[3] = {"off", "on", "off"};
  int64_t one = 1, three = 3, od1[1] = {3}, od0[1] = {0}, zero = 0;
  optest *t = optest_new("OneHot", 11);
  optest_input(t, EMBER_INT32, 0, NULL, (int32_t[]){1});
  optest_input(t, EMBER_INT64, 0, NULL, &three);
  optest_input(t, EMBER_STRING, 1, &two, sv);
  must_run(t);
  expect_strings(out_t(t, 0, EMBER_STRING, 1, od1), sw, 3);
  optest_free(t);

  t = optest_new("OneHot", 11);
  optest_input(t, EMBER_INT64, 0, NULL, &one);
  optest_input(t, EMBER_INT64, 0, NULL, &zero);
  optest_input(t, EMBER_STRING, 1, &two, sv);
  must_run(t);
  out_t(t, 0, EMBER_STRING, 1, od0);
  optest_free(t);

  /* Errors. */
  int64_t neg = -2;
  t = optest_new("OneHot", 11);
  optest_input(t, EMBER_INT64, 0, NULL, &one);
  optest_input_const(t, EMBER_INT64, 0, NULL, &neg);
  optest_input(t, EMBER_STRING, 1, &two, sv);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "negative");
  optest_free(t);

  t = optest_new("OneHot", 11);
  optest_input(t, EMBER_INT64, 0, NULL, &one);
  optest_input(t, EMBER_INT64, 0, NULL, &neg);
  optest_input(t, EMBER_STRING, 1, &two, sv);
  must_fail(t, EMBER_ERR_RUNTIME, "negative");
  optest_free(t);

  t = optest_new("OneHot", 11);
  optest_input(t, EMBER_INT64, 0, NULL, &one);
  optest_input(t, EMBER_INT64, 0, NULL, &three);
  optest_input(t, EMBER_STRING, 1, &three, words);
  must_fail(t, EMBER_ERR_SHAPE, "two");
  optest_free(t);

  t = optest_new("OneHot", 11);
  optest_attr_int(t, "axis", 2);
  optest_input(t, EMBER_INT64, 0, NULL, &one);
  optest_input(t, EMBER_INT64, 0, NULL, &three);
  optest_input(t, EMBER_STRING, 1, &two, sv);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);

  t = optest_new("OneHot", 11);
  optest_input(t, EMBER_STRING, 1, &one, sv);
  optest_input(t, EMBER_INT64, 0, NULL, &three);
  optest_input(t, EMBER_STRING, 1, &two, sv);
  must_fail(t, EMBER_ERR_TYPE, "numeric");
  optest_free(t);
}

/* ------------------------------------------------------------- EyeLike */

static void test_eyelike(void **state) {
  (void)state;
  int64_t shapes[3][2] = {{3, 5}, {4, 2}, {1, 1}};
  float x[20] = {0};
  for (int s = 0; s < 3; s++)
    for (int64_t k = -4; k <= 5; k += 3) {
      int64_t *d = shapes[s];
      int64_t want[20];
      for (int64_t i = 0; i < d[0]; i++)
        for (int64_t j = 0; j < d[1]; j++) want[i * d[1] + j] = j == i + k;
      int32_t types[4] = {0, EMBER_INT32, EMBER_BOOL, EMBER_DOUBLE};
      for (int ti = 0; ti < 4; ti++) {
        optest *t = optest_new("EyeLike", ti == 3 ? 22 : 9);
        if (k) optest_attr_int(t, "k", k);
        if (types[ti]) optest_attr_int(t, "dtype", types[ti]);
        optest_input(t, EMBER_FLOAT, 2, d, x);
        must_run(t);
        const emb_tensor *y =
            out_t(t, 0, types[ti] ? types[ti] : EMBER_FLOAT, 2, d);
        expect_i64(y, want, numel(2, d));
        optest_free(t);
      }
    }

  int64_t d3[3] = {1, 2, 2};
  optest *t = optest_new("EyeLike", 22);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  must_fail(t, EMBER_ERR_SHAPE, "2-D");
  optest_free(t);

  t = optest_new("EyeLike", 22);
  optest_attr_int(t, "dtype", EMBER_STRING);
  optest_input(t, EMBER_FLOAT, 2, shapes[0], x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "dtype");
  optest_free(t);

  t = optest_new("EyeLike", 22);
  optest_input(t, EMBER_STRING, 2, shapes[2], words);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "string");
  optest_free(t);
}

/* --------------------------------------------------------------- Trilu */

static void test_trilu(void **state) {
  (void)state;
  int64_t shapes[3][3] = {{2, 3, 5}, {1, 4, 2}, {3, 1, 1}};
  float x[30];
  for (int i = 0; i < 30; i++) x[i] = frand();
  for (int s = 0; s < 3; s++)
    for (int upper = 0; upper < 2; upper++)
      for (int64_t k = -6; k <= 6; k += 2) {
        const int64_t *d = shapes[s];
        size_t n = numel(3, d);
        float want[30];
        for (size_t f = 0; f < n; f++) {
          int64_t p[3];
          unravel(f, 3, d, p);
          bool keep = upper ? p[2] >= p[1] + k : p[2] <= p[1] + k;
          want[f] = keep ? x[f] : 0.0f;
        }
        for (int w = 0; w < 2; w++) {
          optest *t = optest_new("Trilu", 14);
          if (!upper) optest_attr_int(t, "upper", 0);
          optest_input(t, EMBER_FLOAT, 3, d, x);
          if (k || w) {
            if (w)
              optest_input_const(t, EMBER_INT64, 0, NULL, &k);
            else
              optest_input(t, EMBER_INT64, 0, NULL, &k);
          }
          must_run(t);
          expect_same_f32(out_t(t, 0, EMBER_FLOAT, 3, d), want, n);
          optest_free(t);
        }
      }

  /* Strings: zeros are empty strings. */
  int64_t sd[2] = {3, 4};
  int64_t km1 = -1;
  optest *t = optest_new("Trilu", 14);
  optest_attr_int(t, "upper", 0);
  optest_input(t, EMBER_STRING, 2, sd, words);
  optest_input(t, EMBER_INT64, 0, NULL, &km1);
  /* lower with k = -1: keep j <= i - 1 */
  must_run(t);
  {
    const char *w2[12];
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 4; j++)
        w2[i * 4 + j] = j <= i - 1 ? words[i * 4 + j] : "";
    expect_strings(out_t(t, 0, EMBER_STRING, 2, sd), w2, 12);
  }
  optest_free(t);

  /* Errors: rank 1, k not a scalar. */
  int64_t d1[1] = {4}, two = 2, kk[2] = {0, 1};
  t = optest_new("Trilu", 14);
  optest_input(t, EMBER_FLOAT, 1, d1, x);
  must_fail(t, EMBER_ERR_SHAPE, "rank 2");
  optest_free(t);

  t = optest_new("Trilu", 14);
  optest_input(t, EMBER_FLOAT, 2, sd, x);
  optest_input(t, EMBER_INT64, 1, &two, kk);
  must_fail(t, EMBER_ERR_SHAPE, "'k'");
  optest_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gather_elements),
      cmocka_unit_test(test_gathernd),
      cmocka_unit_test(test_scatter_elements),
      cmocka_unit_test(test_scatternd),
      cmocka_unit_test(test_tensor_scatter),
      cmocka_unit_test(test_compress),
      cmocka_unit_test(test_nonzero),
      cmocka_unit_test(test_unique),
      cmocka_unit_test(test_reverse_sequence),
      cmocka_unit_test(test_onehot),
      cmocka_unit_test(test_eyelike),
      cmocka_unit_test(test_trilu),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
