/*
 * Unit tests for the neural-network layer operators: Conv and
 * ConvTranspose (lib/ops/conv.c), the pools and LRN (pool.c), the
 * normalizations (norm.c), Gemm and MatMul (gemm.c), Softmax and
 * LogSoftmax (softmax.c), and the kernels under them (kernels/f32-gemm,
 * kernels/f32-conv).  Every expected value is computed here by a direct
 * textbook loop in double straight from the ONNX definitions (windows
 * enumerated tap by tap, padding by index tests, matrices by triple
 * loops), never from Ember's own output.  Shapes are chosen around the
 * kernels' tile and chunk edges (sizes 1, odd, one past a multiple of the
 * register tile, im2col chunks), with every spatial rank 1-3, groups and
 * depthwise, all auto_pad modes, float16 / float64 / integer types, the
 * old-opset forms, and the errors (status plus a message naming node
 * 'n0').
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

#include "f32-conv/f32-conv.h"
#include "f32-gemm/f32-gemm.h"
#include "ops/op.h"
#include "optest.h"

/* Shared harness helpers (tests/unit/optest.c). */
#define must_fail optest_must_fail
#define must_run optest_must_run

extern const emb_opdef emb_op_conv, emb_op_gemm, emb_op_maxpool,
    emb_op_batchnormalization, emb_op_softmax;

/* ------------------------------------------------------------ helpers */

static uint32_t rng_state = 12345u;

/* Deterministic values in [-1, 1). */
static float rnd(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rnd_array(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = rnd();
  return p;
}

static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int k = 0; k < rank; k++) n *= (size_t)dims[k];
  return n;
}


/* The run must fail with `want`, naming the node, mentioning `part`. */

/* Output i, checked for dtype and shape. */
static const emb_tensor *out_t(optest *t, int i, int32_t dtype, int rank,
                               const int64_t *dims) {
  const emb_value *v = optest_output(t, i);
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  if (v->t.dtype != dtype)
    fail_msg("output %d has type %s, expected %s", i,
             ember_dtype_name(v->t.dtype), ember_dtype_name(dtype));
  if (v->t.rank != rank)
    fail_msg("output %d has rank %d, expected %d", i, v->t.rank, rank);
  for (int k = 0; k < rank; k++)
    if (v->t.dims[k] != dims[k])
      fail_msg("output %d dimension %d is %lld, expected %lld", i, k,
               (long long)v->t.dims[k], (long long)dims[k]);
  return &v->t;
}

/* Compare a float32 output with a double reference. */
static void expect_close(optest *t, int i, int rank, const int64_t *dims,
                         const double *ref, double rtol, double atol,
                         const char *what) {
  const emb_tensor *o = out_t(t, i, EMBER_FLOAT, rank, dims);
  const float *y = o->data;
  size_t n = numel(rank, dims);
  for (size_t k = 0; k < n; k++) {
    double e = ref[k], a = y[k];
    if (isnan(e) && isnan(a)) continue;
    if (!(fabs(a - e) <= atol + rtol * fabs(e)))
      fail_msg("%s: output %d element %zu is %.9g, expected %.9g", what, i, k,
               a, e);
  }
}

/* Unravel a flat C-order index. */
static void unravel(size_t flat, int rank, const int64_t *dims, int64_t *idx) {
  for (int k = rank; k-- > 0;) {
    idx[k] = (int64_t)(flat % (size_t)dims[k]);
    flat /= (size_t)dims[k];
  }
}

static size_t ravel(int rank, const int64_t *dims, const int64_t *idx) {
  size_t f = 0;
  for (int k = 0; k < rank; k++) f = f * (size_t)dims[k] + (size_t)idx[k];
  return f;
}

/* ---------------------------------------------------------- Conv tests */

/* One convolution case: spatial rank, sizes, per-axis geometry. */
typedef struct conv_case {
  int nsp;
  int64_t n, c, m, group;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
  const char *auto_pad; /* NULL: explicit pads attribute */
  bool bias, kernel_attr;
} conv_case;

/* The output size of a Conv axis and the pads auto_pad implies. */
static int64_t conv_out(const conv_case *cc, int i, int64_t *pb, int64_t *pe) {
  int64_t dk = (cc->k[i] - 1) * cc->d[i] + 1, s = cc->s[i], in = cc->in[i];
  if (cc->auto_pad && strcmp(cc->auto_pad, "VALID") == 0) {
    *pb = *pe = 0;
    return (in - dk) / s + 1;
  }
  if (cc->auto_pad && strncmp(cc->auto_pad, "SAME", 4) == 0) {
    int64_t out = (in + s - 1) / s;
    int64_t total = (out - 1) * s + dk - in;
    if (total < 0) total = 0;
    bool upper = strcmp(cc->auto_pad, "SAME_UPPER") == 0;
    *pb = upper ? total / 2 : total - total / 2;
    *pe = total - *pb;
    return out;
  }
  *pb = cc->pb[i];
  *pe = cc->pe[i];
  return (in + *pb + *pe - dk) / s + 1;
}

/* Direct definition: y[n,m,o] = b[m] + sum over the group's channels and
 * the taps of w * x at o*s - pb + k*d (zero outside). */
static void ref_conv(const conv_case *cc, const float *x, const float *w,
                     const float *b, int64_t *ydims, double *y) {
  int nsp = cc->nsp;
  int64_t pb[3], pe[3], out[3];
  for (int i = 0; i < nsp; i++) out[i] = conv_out(cc, i, &pb[i], &pe[i]);
  ydims[0] = cc->n;
  ydims[1] = cc->m;
  for (int i = 0; i < nsp; i++) ydims[2 + i] = out[i];
  int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
  size_t osz = numel(nsp, out), ksz = numel(nsp, cc->k);
  size_t isz = numel(nsp, cc->in);
  for (int64_t n = 0; n < cc->n; n++)
    for (int64_t m = 0; m < cc->m; m++)
      for (size_t p = 0; p < osz; p++) {
        int64_t o[3], kk[3];
        unravel(p, nsp, out, o);
        double acc = cc->bias ? b[m] : 0.0;
        int64_t g = m / mg;
        for (int64_t ci = 0; ci < cg; ci++)
          for (size_t t = 0; t < ksz; t++) {
            unravel(t, nsp, cc->k, kk);
            int64_t pos[3];
            bool inside = true;
            for (int i = 0; i < nsp; i++) {
              pos[i] = o[i] * cc->s[i] - pb[i] + kk[i] * cc->d[i];
              if (pos[i] < 0 || pos[i] >= cc->in[i]) inside = false;
            }
            if (!inside) continue;
            double xv = x[((size_t)(n * cc->c + g * cg + ci)) * isz +
                          ravel(nsp, cc->in, pos)];
            double wv = w[((size_t)(m * cg + ci)) * ksz + t];
            acc += xv * wv;
          }
        y[((size_t)(n * cc->m + m)) * osz + p] = acc;
      }
}

static void run_conv_case(const conv_case *cc, const char *what) {
  int nsp = cc->nsp, rank = nsp + 2;
  int64_t xd[5] = {cc->n, cc->c}, wd[5] = {cc->m, cc->c / cc->group},
          bd[1] = {cc->m}, yd[5];
  for (int i = 0; i < nsp; i++) {
    xd[2 + i] = cc->in[i];
    wd[2 + i] = cc->k[i];
  }
  float *x = rnd_array(numel(rank, xd)), *w = rnd_array(numel(rank, wd));
  float *b = rnd_array((size_t)cc->m);
  int64_t pb[3], pe[3], out[3];
  for (int i = 0; i < nsp; i++) out[i] = conv_out(cc, i, &pb[i], &pe[i]);
  yd[0] = cc->n;
  yd[1] = cc->m;
  for (int i = 0; i < nsp; i++) yd[2 + i] = out[i];
  double *ref = malloc(numel(rank, yd) * sizeof *ref + 1);
  ref_conv(cc, x, w, b, yd, ref);
  optest *t = optest_new("Conv", 22);
  int64_t s[3], d[3], pads[6], k[3];
  for (int i = 0; i < nsp; i++) {
    s[i] = cc->s[i];
    d[i] = cc->d[i];
    k[i] = cc->k[i];
    pads[i] = cc->pb[i];
    pads[nsp + i] = cc->pe[i];
  }
  optest_attr_ints(t, "strides", (size_t)nsp, s);
  optest_attr_ints(t, "dilations", (size_t)nsp, d);
  if (cc->kernel_attr) optest_attr_ints(t, "kernel_shape", (size_t)nsp, k);
  if (cc->auto_pad)
    optest_attr_string(t, "auto_pad", cc->auto_pad);
  else
    optest_attr_ints(t, "pads", (size_t)(2 * nsp), pads);
  if (cc->group != 1) optest_attr_int(t, "group", cc->group);
  optest_input(t, EMBER_FLOAT, rank, xd, x);
  optest_input(t, EMBER_FLOAT, rank, wd, w);
  if (cc->bias) optest_input(t, EMBER_FLOAT, 1, bd, b);
  must_run(t);
  expect_close(t, 0, rank, yd, ref, 1e-4, 1e-5, what);
  optest_free(t);
  free(x);
  free(w);
  free(b);
  free(ref);
}

static void test_conv_2d(void **state) {
  (void)state;
  const conv_case cases[] = {
      /* plain 3x3, padding 1, bias */
      {2, 1, 3, 5, 1, {7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL,
       true, true},
      /* 1x1 stride 1: the direct GEMM path, no bias, M past the tile */
      {2, 2, 6, 9, 1, {5, 3}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL,
       false, false},
      /* 1x1 with stride 2 (not pointwise) */
      {2, 1, 4, 3, 1, {6, 7}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, NULL,
       true, false},
      /* 1x1 with padding (not pointwise) */
      {2, 1, 2, 2, 1, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 0}, {0, 2}, NULL,
       true, false},
      /* asymmetric pads, strides, dilation, rectangular kernel */
      {2, 1, 2, 4, 1, {11, 8}, {3, 2}, {2, 3}, {2, 1}, {1, 0}, {2, 1}, NULL,
       true, false},
      /* groups */
      {2, 2, 6, 4, 2, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL,
       true, false},
      /* depthwise, and depthwise with multiplier */
      {2, 1, 5, 5, 5, {8, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL,
       true, false},
      {2, 1, 3, 6, 3, {6, 6}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL,
       false, false},
      /* auto_pad variants with stride 2 and odd sizes */
      {2, 1, 2, 3, 1, {7, 6}, {3, 2}, {2, 2}, {1, 1}, {0}, {0}, "SAME_UPPER",
       true, false},
      {2, 1, 2, 3, 1, {7, 6}, {3, 2}, {2, 2}, {1, 1}, {0}, {0}, "SAME_LOWER",
       true, false},
      {2, 1, 2, 3, 1, {7, 6}, {3, 2}, {2, 2}, {1, 1}, {0}, {0}, "VALID", true,
       false},
      /* kernel as large as the padded input (one output) */
      {2, 1, 1, 1, 1, {2, 2}, {4, 4}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL,
       true, false},
      /* pads larger than the kernel: rows of pure padding */
      {2, 1, 1, 2, 1, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {3, 2}, {3, 2}, NULL,
       true, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char what[32];
    snprintf(what, sizeof what, "conv 2-D case %zu", i);
    run_conv_case(&cases[i], what);
  }
}

static void test_conv_1d_3d(void **state) {
  (void)state;
  const conv_case cases[] = {
      {1, 2, 3, 4, 1, {10}, {3}, {2}, {2}, {1}, {2}, NULL, true, true},
      {1, 1, 4, 4, 4, {9}, {5}, {1}, {1}, {2}, {2}, NULL, false, false},
      {1, 1, 2, 3, 1, {9}, {4}, {3}, {1}, {0}, {0}, "SAME_LOWER", true, false},
      {3, 1, 2, 3, 1, {4, 5, 6}, {2, 3, 2}, {1, 2, 1}, {1, 1, 2}, {0, 1, 1},
       {1, 1, 0}, NULL, true, true},
      {3, 2, 4, 2, 2, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0},
       {0, 0, 0}, NULL, true, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char what[32];
    snprintf(what, sizeof what, "conv 1-D/3-D case %zu", i);
    run_conv_case(&cases[i], what);
  }
}

/* Large enough that im2col runs in several column chunks, with a GEMM of
 * several cache blocks in every direction. */
static void test_conv_chunked(void **state) {
  (void)state;
  conv_case cc = {2,      1,      40,     33,     1,    {50, 47}, {3, 3},
                  {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true,     false};
  run_conv_case(&cc, "chunked conv");
  conv_case wide = {2,      1,      300,    5,      1,    {20, 21}, {3, 3},
                    {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true,     false};
  run_conv_case(&wide, "deep conv");
}

/* float16 and float64 Conv against the same reference. */
static void test_conv_types(void **state) {
  (void)state;
  conv_case cc = {2,      1,      3,      4,      1,    {5, 6}, {3, 3},
                  {2, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true,   false};
  int64_t xd[4] = {1, 3, 5, 6}, wd[4] = {4, 3, 3, 3}, bd[1] = {4}, yd[4];
  size_t xn = numel(4, xd), wn = numel(4, wd);
  float *x = rnd_array(xn), *w = rnd_array(wn), *b = rnd_array(4);
  /* Round the inputs to float16 first so both sides see equal values. */
  uint16_t *xh = malloc(xn * 2), *wh = malloc(wn * 2), bh[4];
  for (size_t i = 0; i < xn; i++)
    x[i] = emb_f16_to_f32(xh[i] = emb_f32_to_f16(x[i]));
  for (size_t i = 0; i < wn; i++)
    w[i] = emb_f16_to_f32(wh[i] = emb_f32_to_f16(w[i]));
  for (size_t i = 0; i < 4; i++)
    b[i] = emb_f16_to_f32(bh[i] = emb_f32_to_f16(b[i]));
  double ref[4 * 3 * 6];
  ref_conv(&cc, x, w, b, yd, ref);
  assert_int_equal(yd[2], 3);
  assert_int_equal(yd[3], 6);
  size_t yn = numel(4, yd);

  optest *t = optest_new("Conv", 11);
  optest_attr_ints(t, "strides", 2, (int64_t[]){2, 1});
  optest_attr_ints(t, "pads", 4, (int64_t[]){1, 1, 1, 1});
  optest_input(t, EMBER_FLOAT16, 4, xd, xh);
  optest_input(t, EMBER_FLOAT16, 4, wd, wh);
  optest_input(t, EMBER_FLOAT16, 1, bd, bh);
  must_run(t);
  const emb_tensor *o = out_t(t, 0, EMBER_FLOAT16, 4, yd);
  for (size_t i = 0; i < yn; i++) {
    double a = emb_f16_to_f32(((const uint16_t *)o->data)[i]);
    if (fabs(a - ref[i]) > 2e-3 + 2e-3 * fabs(ref[i]))
      fail_msg("float16 conv element %zu is %g, expected %g", i, a, ref[i]);
  }
  optest_free(t);

  double *xdd = malloc(xn * 8), *wdd = malloc(wn * 8), bdd[4];
  for (size_t i = 0; i < xn; i++) xdd[i] = x[i];
  for (size_t i = 0; i < wn; i++) wdd[i] = w[i];
  for (size_t i = 0; i < 4; i++) bdd[i] = b[i];
  t = optest_new("Conv", 1);
  optest_attr_ints(t, "strides", 2, (int64_t[]){2, 1});
  optest_attr_ints(t, "pads", 4, (int64_t[]){1, 1, 1, 1});
  optest_input(t, EMBER_DOUBLE, 4, xd, xdd);
  optest_input(t, EMBER_DOUBLE, 4, wd, wdd);
  optest_input(t, EMBER_DOUBLE, 1, bd, bdd);
  must_run(t);
  o = out_t(t, 0, EMBER_DOUBLE, 4, yd);
  for (size_t i = 0; i < yn; i++) {
    double a = ((const double *)o->data)[i];
    if (fabs(a - ref[i]) > 1e-12 + 1e-12 * fabs(ref[i]))
      fail_msg("float64 conv element %zu is %.17g, expected %.17g", i, a,
               ref[i]);
  }
  optest_free(t);
  free(x);
  free(w);
  free(b);
  free(xh);
  free(wh);
  free(xdd);
  free(wdd);
}

/* Weights and bias as initializers: the node is constant-folded or run
 * with constant inputs; an empty batch gives an empty output. */
static void test_conv_const_and_empty(void **state) {
  (void)state;
  int64_t xd[4] = {0, 2, 4, 4}, wd[4] = {3, 2, 3, 3}, bd[1] = {3};
  float w[54], b[3] = {1, 2, 3}, x[1] = {0};
  for (int i = 0; i < 54; i++) w[i] = rnd();
  optest *t = optest_new("Conv", 22);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input_const(t, EMBER_FLOAT, 4, wd, w);
  optest_input_const(t, EMBER_FLOAT, 1, bd, b);
  must_run(t);
  out_t(t, 0, EMBER_FLOAT, 4, (int64_t[]){0, 3, 2, 2});
  optest_free(t);

  /* Everything constant: folded at load. */
  int64_t xd1[4] = {1, 2, 4, 4};
  float x1[32];
  for (int i = 0; i < 32; i++) x1[i] = rnd();
  conv_case cc = {2,      1,      2,      3,      1,    {4, 4}, {3, 3},
                  {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, true,   false};
  int64_t yd[4];
  double ref[12];
  ref_conv(&cc, x1, w, b, yd, ref);
  t = optest_new("Conv", 22);
  optest_input_const(t, EMBER_FLOAT, 4, xd1, x1);
  optest_input_const(t, EMBER_FLOAT, 4, wd, w);
  optest_input_const(t, EMBER_FLOAT, 1, bd, b);
  must_run(t);
  expect_close(t, 0, 4, yd, ref, 1e-5, 1e-6, "folded conv");
  optest_free(t);
}

static void test_conv_errors(void **state) {
  (void)state;
  int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {2, 3, 3, 3}, bd[1] = {3};
  float x[100] = {0}, w[54] = {0}, b[3] = {0};
  /* channel mismatch: X has 4, W expects 3 */
  optest *t = optest_new("Conv", 22);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd, w);
  must_fail(t, EMBER_ERR_SHAPE, "channels");
  optest_free(t);
  /* bias of the wrong length */
  int64_t wd2[4] = {2, 4, 3, 3};
  t = optest_new("Conv", 22);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd2, w);
  optest_input(t, EMBER_FLOAT, 1, bd, b);
  must_fail(t, EMBER_ERR_SHAPE, "B");
  optest_free(t);
  /* unknown auto_pad */
  t = optest_new("Conv", 22);
  optest_attr_string(t, "auto_pad", "SAME");
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd2, w);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "auto_pad");
  optest_free(t);
  /* strides for the wrong number of axes */
  t = optest_new("Conv", 22);
  optest_attr_ints(t, "strides", 3, (int64_t[]){1, 1, 1});
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd2, w);
  must_fail(t, EMBER_ERR_SHAPE, "spatial");
  optest_free(t);
  /* absurd attribute values are refused before any arithmetic */
  t = optest_new("Conv", 22);
  optest_attr_ints(t, "dilations", 2, (int64_t[]){1, (int64_t)1 << 40});
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd2, w);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "dilations");
  optest_free(t);
  /* group that does not divide the output channels */
  int64_t wd3[4] = {3, 2, 3, 3};
  t = optest_new("Conv", 22);
  optest_attr_int(t, "group", 2);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd3, w);
  must_fail(t, EMBER_ERR_SHAPE, "group");
  optest_free(t);
  /* kernel longer than the input by a stride or more: the output size
   * floor((1 - 3) / 1) + 1 would be negative (by less it is 0, an empty
   * output: test_pool_empty_axis) */
  int64_t xs[4] = {1, 4, 1, 1};
  t = optest_new("Conv", 22);
  optest_input(t, EMBER_FLOAT, 4, xs, x);
  optest_input(t, EMBER_FLOAT, 4, wd2, w);
  must_fail(t, EMBER_ERR_SHAPE, "does not fit");
  optest_free(t);
  /* kernel_shape contradicting W */
  t = optest_new("Conv", 22);
  optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){2, 2});
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd2, w);
  must_fail(t, EMBER_ERR_SHAPE, "kernel_shape");
  optest_free(t);
  /* integer input */
  int32_t xi[100] = {0}, wi[72] = {0};
  t = optest_new("Conv", 22);
  optest_input(t, EMBER_INT32, 4, xd, xi);
  optest_input(t, EMBER_INT32, 4, wd2, wi);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
}

/* ------------------------------------------------- ConvTranspose tests */

typedef struct convt_case {
  int nsp;
  int64_t n, c, m, group;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], op[3];
  int64_t out_shape[3]; /* > 0: the output_shape attribute */
  const char *auto_pad;
  bool bias;
} convt_case;

/* Output size and begin pad of a ConvTranspose axis: the full result is
 * s*(in-1) + op + dk long; output index o is full position o + pb. */
static int64_t convt_out(const convt_case *cc, int i, int64_t *pb) {
  int64_t dk = (cc->k[i] - 1) * cc->d[i] + 1;
  int64_t full = cc->s[i] * (cc->in[i] - 1) + cc->op[i] + dk, out, total;
  bool upper = cc->auto_pad && strcmp(cc->auto_pad, "SAME_UPPER") == 0;
  if (cc->out_shape[0] > 0) {
    out = cc->out_shape[i];
  } else if (cc->auto_pad && strncmp(cc->auto_pad, "SAME", 4) == 0) {
    out = cc->in[i] * cc->s[i];
  } else {
    *pb = cc->auto_pad ? 0 : cc->pb[i];
    return full - *pb - (cc->auto_pad ? 0 : cc->pe[i]);
  }
  total = full - out;
  /* floor(total / 2), total may be negative */
  int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
  *pb = upper ? half : total - half;
  return out;
}

static void ref_convt(const convt_case *cc, const float *x, const float *w,
                      const float *b, int64_t *ydims, double *y) {
  int nsp = cc->nsp;
  int64_t pb[3], out[3];
  for (int i = 0; i < nsp; i++) out[i] = convt_out(cc, i, &pb[i]);
  ydims[0] = cc->n;
  ydims[1] = cc->m;
  for (int i = 0; i < nsp; i++) ydims[2 + i] = out[i];
  int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
  size_t osz = numel(nsp, out), ksz = numel(nsp, cc->k);
  size_t isz = numel(nsp, cc->in);
  for (size_t i = 0; i < (size_t)(cc->n * cc->m) * osz; i++)
    y[i] = cc->bias ? b[(i / osz) % (size_t)cc->m] : 0.0;
  for (int64_t n = 0; n < cc->n; n++)
    for (int64_t c = 0; c < cc->c; c++) {
      int64_t g = c / cg;
      for (size_t p = 0; p < isz; p++) {
        int64_t ip[3], kk[3], o[3];
        unravel(p, nsp, cc->in, ip);
        double xv = x[(size_t)(n * cc->c + c) * isz + p];
        for (int64_t mi = 0; mi < mg; mi++)
          for (size_t t = 0; t < ksz; t++) {
            unravel(t, nsp, cc->k, kk);
            bool inside = true;
            for (int i = 0; i < nsp; i++) {
              o[i] = ip[i] * cc->s[i] + kk[i] * cc->d[i] - pb[i];
              if (o[i] < 0 || o[i] >= out[i]) inside = false;
            }
            if (!inside) continue;
            double wv = w[(size_t)(c * mg + mi) * ksz + t];
            y[(size_t)(n * cc->m + g * mg + mi) * osz + ravel(nsp, out, o)] +=
                xv * wv;
          }
      }
    }
}

static void run_convt_case(const convt_case *cc, const char *what) {
  int nsp = cc->nsp, rank = nsp + 2;
  int64_t xd[5] = {cc->n, cc->c}, wd[5] = {cc->c, cc->m / cc->group},
          bd[1] = {cc->m}, yd[5];
  for (int i = 0; i < nsp; i++) {
    xd[2 + i] = cc->in[i];
    wd[2 + i] = cc->k[i];
  }
  float *x = rnd_array(numel(rank, xd)), *w = rnd_array(numel(rank, wd));
  float *b = rnd_array((size_t)cc->m);
  int64_t pb[3];
  yd[0] = cc->n;
  yd[1] = cc->m;
  for (int i = 0; i < nsp; i++) yd[2 + i] = convt_out(cc, i, &pb[i]);
  double *ref = malloc(numel(rank, yd) * sizeof *ref + 1);
  ref_convt(cc, x, w, b, yd, ref);
  optest *t = optest_new("ConvTranspose", 22);
  int64_t s[3], d[3], pads[6], op[3];
  for (int i = 0; i < nsp; i++) {
    s[i] = cc->s[i];
    d[i] = cc->d[i];
    op[i] = cc->op[i];
    pads[i] = cc->pb[i];
    pads[nsp + i] = cc->pe[i];
  }
  optest_attr_ints(t, "strides", (size_t)nsp, s);
  optest_attr_ints(t, "dilations", (size_t)nsp, d);
  optest_attr_ints(t, "output_padding", (size_t)nsp, op);
  if (cc->out_shape[0] > 0)
    optest_attr_ints(t, "output_shape", (size_t)nsp, cc->out_shape);
  if (cc->auto_pad)
    optest_attr_string(t, "auto_pad", cc->auto_pad);
  else if (cc->out_shape[0] <= 0)
    optest_attr_ints(t, "pads", (size_t)(2 * nsp), pads);
  if (cc->group != 1) optest_attr_int(t, "group", cc->group);
  optest_input(t, EMBER_FLOAT, rank, xd, x);
  optest_input(t, EMBER_FLOAT, rank, wd, w);
  if (cc->bias) optest_input(t, EMBER_FLOAT, 1, bd, b);
  must_run(t);
  expect_close(t, 0, rank, yd, ref, 1e-4, 1e-5, what);
  optest_free(t);
  free(x);
  free(w);
  free(b);
  free(ref);
}

static void test_convtranspose(void **state) {
  (void)state;
  const convt_case cases[] = {
      /* plain, stride 1 */
      {2, 1, 2, 3, 1, {3, 4}, {3, 3}, {1, 1}, {1, 1}, {0}, {0}, {0}, {0}, NULL,
       true},
      /* strides, pads, output_padding */
      {2, 2, 3, 2, 1, {4, 3}, {3, 2}, {3, 2}, {1, 1}, {1, 0}, {2, 1}, {1, 1},
       {0}, NULL, true},
      /* dilation and groups */
      {2, 1, 4, 6, 2, {3, 3}, {2, 2}, {2, 1}, {2, 2}, {0, 1}, {1, 0}, {0, 0},
       {0}, NULL, false},
      /* output_shape larger than the full result: negative end pad */
      {2, 1, 1, 2, 1, {3, 3}, {3, 3}, {3, 2}, {1, 1}, {0}, {0}, {0}, {10, 8},
       NULL, true},
      /* output_shape smaller: split padding */
      {2, 1, 1, 1, 1, {4, 4}, {3, 3}, {2, 2}, {1, 1}, {0}, {0}, {0}, {7, 6},
       NULL, true},
      /* auto_pad */
      {2, 1, 2, 2, 1, {3, 4}, {3, 3}, {2, 2}, {1, 1}, {0}, {0}, {0}, {0},
       "SAME_UPPER", true},
      {2, 1, 2, 2, 1, {3, 4}, {3, 2}, {2, 3}, {1, 1}, {0}, {0}, {0}, {0},
       "SAME_LOWER", true},
      {2, 1, 2, 2, 1, {3, 4}, {3, 2}, {2, 3}, {1, 1}, {0}, {0}, {0}, {0},
       "VALID", true},
      /* 1x1 stride 1: pointwise path */
      {2, 2, 5, 7, 1, {3, 5}, {1, 1}, {1, 1}, {1, 1}, {0}, {0}, {0}, {0}, NULL,
       true},
      /* 1-D and 3-D */
      {1, 1, 2, 3, 1, {5}, {4}, {3}, {1}, {1}, {2}, {2}, {0}, NULL, true},
      {3, 1, 2, 2, 2, {2, 3, 2}, {2, 2, 3}, {2, 1, 2}, {1, 2, 1}, {0, 1, 0},
       {1, 0, 1}, {1, 0, 0}, {0}, NULL, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char what[40];
    snprintf(what, sizeof what, "conv transpose case %zu", i);
    run_convt_case(&cases[i], what);
  }
}

static void test_convtranspose_errors(void **state) {
  (void)state;
  int64_t xd[4] = {1, 3, 4, 4}, wd[4] = {2, 2, 3, 3};
  float x[48] = {0}, w[36] = {0};
  optest *t = optest_new("ConvTranspose", 22);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd, w);
  must_fail(t, EMBER_ERR_SHAPE, "channels");
  optest_free(t);
  int64_t wd2[4] = {3, 2, 3, 3};
  t = optest_new("ConvTranspose", 22);
  optest_attr_ints(t, "output_shape", 3, (int64_t[]){4, 4, 4});
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd2, w);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "output_shape");
  optest_free(t);
}

/* ---------------------------------------------------------- pool tests */

typedef struct pool_case {
  int nsp;
  int64_t n, c;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
  const char *auto_pad;
  bool ceil, count_pad, col_major;
} pool_case;

static int64_t pool_out(const pool_case *pc, int i, int64_t *pb, int64_t *pe) {
  int64_t dk = (pc->k[i] - 1) * pc->d[i] + 1, s = pc->s[i], in = pc->in[i];
  if (pc->auto_pad && strcmp(pc->auto_pad, "VALID") == 0) {
    *pb = *pe = 0;
    return (in - dk) / s + 1;
  }
  if (pc->auto_pad && strncmp(pc->auto_pad, "SAME", 4) == 0) {
    int64_t out = (in + s - 1) / s, total = (out - 1) * s + dk - in;
    if (total < 0) total = 0;
    *pb =
        strcmp(pc->auto_pad, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
    *pe = total - *pb;
    return out;
  }
  *pb = pc->pb[i];
  *pe = pc->pe[i];
  int64_t span = in + *pb + *pe - dk;
  if (!pc->ceil) return span / s + 1;
  int64_t out = (span + s - 1) / s + 1;
  if ((out - 1) * s >= in + *pb) out--; /* window starting in end pad */
  return out;
}

/* Max (first maximum, its flat index) or average over each window. */
static void ref_pool(const pool_case *pc, bool is_max, const float *x,
                     int64_t *ydims, double *y, int64_t *ind) {
  int nsp = pc->nsp;
  int64_t pb[3], pe[3], out[3];
  for (int i = 0; i < nsp; i++) out[i] = pool_out(pc, i, &pb[i], &pe[i]);
  ydims[0] = pc->n;
  ydims[1] = pc->c;
  for (int i = 0; i < nsp; i++) ydims[2 + i] = out[i];
  size_t osz = numel(nsp, out), ksz = numel(nsp, pc->k);
  size_t isz = numel(nsp, pc->in);
  for (size_t pl = 0; pl < (size_t)(pc->n * pc->c); pl++)
    for (size_t p = 0; p < osz; p++) {
      int64_t o[3], kk[3], pos[3];
      unravel(p, nsp, out, o);
      double best = -INFINITY, sum = 0.0;
      int64_t at = -1, cnt = 0, cnt_pad = 0;
      for (size_t t = 0; t < ksz; t++) {
        unravel(t, nsp, pc->k, kk);
        bool inside = true, in_pad = true;
        for (int i = 0; i < nsp; i++) {
          pos[i] = o[i] * pc->s[i] - pb[i] + kk[i] * pc->d[i];
          if (pos[i] < 0 || pos[i] >= pc->in[i]) inside = false;
          if (pos[i] < -pb[i] || pos[i] >= pc->in[i] + pe[i]) in_pad = false;
        }
        if (in_pad) cnt_pad++;
        if (!inside) continue;
        size_t off = ravel(nsp, pc->in, pos);
        double v = x[pl * isz + off];
        cnt++;
        sum += v;
        if (at < 0 || v > best) {
          best = v;
          if (pc->col_major) {
            off = 0;
            for (int i = nsp; i-- > 0;)
              off = off * (size_t)pc->in[i] + (size_t)pos[i];
          }
          at = (int64_t)(pl * isz + off);
        }
      }
      y[pl * osz + p] =
          is_max ? best : sum / (double)(pc->count_pad ? cnt_pad : cnt);
      if (ind) ind[pl * osz + p] = at;
    }
}

static void run_pool_case(const pool_case *pc, bool is_max, bool indices,
                          const char *what) {
  int nsp = pc->nsp, rank = nsp + 2;
  int64_t xd[5] = {pc->n, pc->c}, yd[5], k[3], s[3], d[3], pads[6];
  for (int i = 0; i < nsp; i++) {
    xd[2 + i] = pc->in[i];
    k[i] = pc->k[i];
    s[i] = pc->s[i];
    d[i] = pc->d[i];
    pads[i] = pc->pb[i];
    pads[nsp + i] = pc->pe[i];
  }
  size_t xn = numel(rank, xd);
  float *x = rnd_array(xn);
  int64_t pb, pe;
  yd[0] = pc->n;
  yd[1] = pc->c;
  for (int i = 0; i < nsp; i++) yd[2 + i] = pool_out(pc, i, &pb, &pe);
  size_t yn = numel(rank, yd);
  double *ref = malloc(yn * sizeof *ref + 1);
  int64_t *ind = malloc(yn * sizeof *ind + 1);
  ref_pool(pc, is_max, x, yd, ref, ind);
  optest *t = optest_new(is_max ? "MaxPool" : "AveragePool", 22);
  optest_attr_ints(t, "kernel_shape", (size_t)nsp, k);
  optest_attr_ints(t, "strides", (size_t)nsp, s);
  optest_attr_ints(t, "dilations", (size_t)nsp, d);
  if (pc->auto_pad)
    optest_attr_string(t, "auto_pad", pc->auto_pad);
  else
    optest_attr_ints(t, "pads", (size_t)(2 * nsp), pads);
  if (pc->ceil) optest_attr_int(t, "ceil_mode", 1);
  if (pc->count_pad) optest_attr_int(t, "count_include_pad", 1);
  if (pc->col_major) optest_attr_int(t, "storage_order", 1);
  optest_input(t, EMBER_FLOAT, rank, xd, x);
  if (indices) optest_outputs(t, 2);
  must_run(t);
  expect_close(t, 0, rank, yd, ref, 1e-5, 1e-6, what);
  if (indices) {
    const emb_tensor *o = out_t(t, 1, EMBER_INT64, rank, yd);
    for (size_t i = 0; i < yn; i++)
      if (((const int64_t *)o->data)[i] != ind[i])
        fail_msg("%s: index %zu is %lld, expected %lld", what, i,
                 (long long)((const int64_t *)o->data)[i], (long long)ind[i]);
  }
  optest_free(t);
  free(x);
  free(ref);
  free(ind);
}

static const pool_case pool_cases[] = {
    {2, 1, 2, {5, 6}, {2, 2}, {2, 2}, {1, 1}, {0}, {0}, NULL, false, false,
     false},
    {2, 2, 3, {7, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, false,
     false, false},
    /* ceil_mode, including a last window that would start in the pad */
    {2, 1, 2, {6, 5}, {3, 2}, {2, 2}, {1, 1}, {1, 0}, {1, 1}, NULL, true, false,
     false},
    {2, 1, 1, {2, 2}, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, NULL, true, false,
     false},
    /* dilations and asymmetric pads */
    {2, 1, 2, {9, 8}, {3, 2}, {1, 2}, {2, 3}, {2, 1}, {0, 3}, NULL, false,
     false, false},
    /* auto_pad */
    {2, 1, 2, {7, 6}, {3, 2}, {2, 2}, {1, 1}, {0}, {0}, "SAME_UPPER", false,
     false, false},
    {2, 1, 2, {7, 6}, {3, 2}, {2, 2}, {1, 1}, {0}, {0}, "SAME_LOWER", false,
     false, false},
    {2, 1, 2, {7, 6}, {3, 2}, {2, 2}, {1, 1}, {0}, {0}, "VALID", true, false,
     false},
    /* 1-D and 3-D */
    {1, 2, 3, {11}, {4}, {3}, {2}, {2}, {1}, NULL, true, false, false},
    {3, 1, 2, {4, 5, 6}, {2, 3, 2}, {2, 1, 2}, {1, 1, 2}, {1, 1, 0}, {0, 1, 1},
     NULL, false, false, false},
    /* window covering the whole padded input */
    {2, 1, 1, {3, 3}, {5, 5}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, false,
     false, false},
};

static void test_maxpool(void **state) {
  (void)state;
  size_t n = sizeof pool_cases / sizeof pool_cases[0];
  for (size_t i = 0; i < n; i++) {
    char what[40];
    snprintf(what, sizeof what, "maxpool case %zu", i);
    run_pool_case(&pool_cases[i], true, i % 2 == 0, what);
    pool_case cm = pool_cases[i];
    cm.col_major = true;
    snprintf(what, sizeof what, "maxpool col-major case %zu", i);
    run_pool_case(&cm, true, true, what);
  }
}

static void test_averagepool(void **state) {
  (void)state;
  size_t n = sizeof pool_cases / sizeof pool_cases[0];
  for (size_t i = 0; i < n; i++) {
    char what[48];
    snprintf(what, sizeof what, "averagepool case %zu", i);
    run_pool_case(&pool_cases[i], false, false, what);
    pool_case cp = pool_cases[i];
    cp.count_pad = true;
    snprintf(what, sizeof what, "averagepool count_pad case %zu", i);
    run_pool_case(&cp, false, false, what);
  }
}

static void test_pool_types(void **state) {
  (void)state;
  /* MaxPool over int8 and uint8: exact, extremes included. */
  int64_t xd[4] = {1, 1, 3, 4}, yd[4] = {1, 1, 2, 3};
  int8_t xi[12] = {-128, 5, -3, 127, 0, -1, 9, 9, -128, -128, -7, 100};
  uint8_t xu[12] = {0, 255, 3, 4, 200, 201, 1, 0, 7, 7, 255, 9};
  int8_t ei[6];
  uint8_t eu[6];
  for (int r = 0; r < 2; r++)
    for (int c = 0; c < 3; c++) {
      int8_t mi = INT8_MIN;
      uint8_t mu = 0;
      for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
          int8_t vi = xi[(r + a) * 4 + c + b];
          uint8_t vu = xu[(r + a) * 4 + c + b];
          if (vi > mi) mi = vi;
          if (vu > mu) mu = vu;
        }
      ei[r * 3 + c] = mi;
      eu[r * 3 + c] = mu;
    }
  optest *t = optest_new("MaxPool", 12);
  optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){2, 2});
  optest_input(t, EMBER_INT8, 4, xd, xi);
  must_run(t);
  const emb_tensor *o = out_t(t, 0, EMBER_INT8, 4, yd);
  assert_memory_equal(o->data, ei, 6);
  optest_free(t);
  t = optest_new("MaxPool", 12);
  optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){2, 2});
  optest_input(t, EMBER_UINT8, 4, xd, xu);
  must_run(t);
  o = out_t(t, 0, EMBER_UINT8, 4, yd);
  assert_memory_equal(o->data, eu, 6);
  optest_free(t);

  /* AveragePool in float16 and float64. */
  pool_case pc = {2,      1,      2,    {5, 5}, {3, 3}, {2, 2}, {1, 1},
                  {1, 1}, {1, 1}, NULL, false,  false,  false};
  int64_t xd2[4] = {1, 2, 5, 5}, yd2[4];
  float x[50];
  uint16_t xh[50];
  double xdd[50];
  for (int i = 0; i < 50; i++) {
    xh[i] = emb_f32_to_f16(rnd());
    x[i] = emb_f16_to_f32(xh[i]);
    xdd[i] = x[i];
  }
  double ref[18];
  ref_pool(&pc, false, x, yd2, ref, NULL);
  for (int pass = 0; pass < 2; pass++) {
    t = optest_new("AveragePool", 11);
    optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){3, 3});
    optest_attr_ints(t, "strides", 2, (int64_t[]){2, 2});
    optest_attr_ints(t, "pads", 4, (int64_t[]){1, 1, 1, 1});
    optest_input(t, pass ? EMBER_DOUBLE : EMBER_FLOAT16, 4, xd2,
                 pass ? (const void *)xdd : (const void *)xh);
    must_run(t);
    o = out_t(t, 0, pass ? EMBER_DOUBLE : EMBER_FLOAT16, 4, yd2);
    for (int i = 0; i < 18; i++) {
      double a = pass ? ((const double *)o->data)[i]
                      : emb_f16_to_f32(((const uint16_t *)o->data)[i]);
      double tol = pass ? 1e-12 : 1e-3;
      if (fabs(a - ref[i]) > tol)
        fail_msg("averagepool %s element %d is %g, expected %g",
                 pass ? "float64" : "float16", i, a, ref[i]);
    }
    optest_free(t);
  }
}

static void test_global_pools(void **state) {
  (void)state;
  int64_t shapes[3][5] = {{2, 3, 4, 5, 0}, {1, 2, 7, 0, 0}, {3, 4, 0, 0, 0}};
  int ranks[3] = {4, 3, 2};
  for (int s = 0; s < 3; s++) {
    int rank = ranks[s];
    int64_t *xd = shapes[s], yd[5];
    size_t planes = (size_t)(xd[0] * xd[1]), len = numel(rank, xd) / planes;
    float *x = rnd_array(planes * len);
    double mx[12], av[12];
    for (size_t p = 0; p < planes; p++) {
      mx[p] = -INFINITY;
      av[p] = 0;
      for (size_t i = 0; i < len; i++) {
        double v = x[p * len + i];
        if (v > mx[p]) mx[p] = v;
        av[p] += v / (double)len;
      }
    }
    for (int k = 0; k < rank; k++) yd[k] = k < 2 ? xd[k] : 1;
    for (int m = 0; m < 2; m++) {
      optest *t = optest_new(m ? "GlobalMaxPool" : "GlobalAveragePool", 22);
      optest_input(t, EMBER_FLOAT, rank, xd, x);
      must_run(t);
      expect_close(t, 0, rank, yd, m ? mx : av, 1e-5, 1e-6, "global pool");
      optest_free(t);
    }
    free(x);
  }
}

/* An axis whose output size floor((in + pads - dk) / s) + 1 (or the ceil
 * form) comes out 0 gives an empty output, as the spec's formula says;
 * a negative size is an error.  MaxPool, AveragePool, LpPool and Conv
 * share that geometry (lib/ops/window.h). */
static const pool_case empty_pool_cases[] = {
    /* kernel one longer than the input: 2 + 0 - 3 = -1 -> 0 */
    {2, 1, 2, {2, 5}, {3, 2}, {1, 1}, {1, 1}, {0}, {0}, NULL, false, false,
     false},
    /* by less than the stride: floor((1 - 3) / 2) + 1 = 0 */
    {2, 2, 1, {4, 1}, {2, 3}, {2, 2}, {1, 1}, {0}, {0}, NULL, false, false,
     false},
    /* dilation makes the window too long, with padding */
    {2, 1, 1, {3, 4}, {2, 2}, {1, 1}, {4, 1}, {0, 0}, {1, 0}, NULL, false,
     false, false},
    /* VALID */
    {1, 1, 2, {2}, {3}, {1}, {1}, {0}, {0}, "VALID", false, false, false},
    /* ceil_mode at stride 1: ceil(-1 / 1 + 1) = 0 */
    {2, 1, 1, {2, 3}, {3, 1}, {1, 1}, {1, 1}, {0}, {0}, NULL, true, false,
     false},
};

static void test_pool_empty_axis(void **state) {
  (void)state;
  size_t n = sizeof empty_pool_cases / sizeof empty_pool_cases[0];
  for (size_t i = 0; i < n; i++) {
    const pool_case *pc = &empty_pool_cases[i];
    int64_t pb, pe, zero = 1;
    for (int k = 0; k < pc->nsp; k++) zero *= pool_out(pc, k, &pb, &pe);
    assert_int_equal(zero, 0); /* the case is what it says */
    char what[48];
    snprintf(what, sizeof what, "empty maxpool case %zu", i);
    run_pool_case(pc, true, true, what);
    snprintf(what, sizeof what, "empty averagepool case %zu", i);
    run_pool_case(pc, false, false, what);
  }

  /* ceil_mode with a stride: ceil((2 - 3) / 2 + 1) = 1, one window that
   * overhangs the input (not an empty axis, but the same neighbourhood) */
  pool_case over = {1,   1,     1,     {2},   {3},  {2}, {1},
                    {0}, {0},   NULL,  true,  false, false};
  run_pool_case(&over, true, true, "overhanging maxpool");
  run_pool_case(&over, false, false, "overhanging averagepool");

  /* LpPool and Conv. */
  int64_t xd[4] = {1, 2, 2, 5}, yd[4] = {1, 2, 0, 4};
  float x[20] = {0}, w[24] = {0};
  optest *t = optest_new("LpPool", 18);
  optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){3, 2});
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  must_run(t);
  out_t(t, 0, EMBER_FLOAT, 4, yd);
  optest_free(t);
  int64_t wd[4] = {2, 2, 3, 2};
  t = optest_new("Conv", 22);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd, w);
  must_run(t);
  out_t(t, 0, EMBER_FLOAT, 4, yd);
  optest_free(t);

  /* Negative sizes: floor((1 - 4) / 1) + 1 = -2. */
  int64_t xn[4] = {1, 1, 1, 4};
  static const char *const ops[] = {"MaxPool", "AveragePool", "LpPool"};
  for (int k = 0; k < 3; k++) {
    t = optest_new(ops[k], 18);
    optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){4, 1});
    optest_input(t, EMBER_FLOAT, 4, xn, x);
    must_fail(t, EMBER_ERR_SHAPE, "does not fit");
    optest_free(t);
  }
  /* ... also when the input size is known at load. */
  t = optest_new("MaxPool", 22);
  optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){4, 1});
  optest_input_const(t, EMBER_FLOAT, 4, xn, x);
  must_fail(t, EMBER_ERR_SHAPE, "does not fit");
  optest_free(t);
}

static void test_pool_errors(void **state) {
  (void)state;
  int64_t xd[4] = {1, 1, 4, 4};
  float x[16] = {0};
  optest *t = optest_new("MaxPool", 22);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "kernel_shape");
  optest_free(t);
  t = optest_new("AveragePool", 22);
  optest_attr_ints(t, "kernel_shape", 1, (int64_t[]){2});
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  must_fail(t, EMBER_ERR_SHAPE, "spatial");
  optest_free(t);
  t = optest_new("MaxPool", 22);
  optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){2, 2});
  optest_attr_ints(t, "pads", 4, (int64_t[]){0, -1, 0, 0});
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "pads");
  optest_free(t);
  t = optest_new("MaxPool", 22);
  optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){2, 2});
  optest_attr_int(t, "storage_order", 2);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "storage_order");
  optest_free(t);
  int32_t xi[16] = {0};
  t = optest_new("AveragePool", 22);
  optest_attr_ints(t, "kernel_shape", 2, (int64_t[]){2, 2});
  optest_input(t, EMBER_INT32, 4, xd, xi);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
}

static void test_lrn(void **state) {
  (void)state;
  const int64_t sizes[] = {1, 2, 3, 5, 8};
  int64_t xd[4] = {2, 6, 3, 2};
  size_t n = numel(4, xd), sp = 6;
  float *x = rnd_array(n);
  double *ref = malloc(n * sizeof *ref);
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    int64_t size = sizes[si];
    double alpha = 0.0003, beta = 0.6, bias = 1.5;
    for (int64_t b = 0; b < 2; b++)
      for (int64_t c = 0; c < 6; c++)
        for (size_t p = 0; p < sp; p++) {
          int64_t lo = c - (size - 1) / 2, hi = c + (size - 1 + 1) / 2;
          if (lo < 0) lo = 0;
          if (hi > 5) hi = 5;
          double sq = 0;
          for (int64_t k = lo; k <= hi; k++) {
            double v = x[(size_t)(b * 6 + k) * sp + p];
            sq += v * v;
          }
          size_t i = (size_t)(b * 6 + c) * sp + p;
          ref[i] = x[i] / pow(bias + alpha / (double)size * sq, beta);
        }
    optest *t = optest_new("LRN", 13);
    optest_attr_int(t, "size", size);
    optest_attr_float(t, "alpha", (float)alpha);
    optest_attr_float(t, "beta", (float)beta);
    optest_attr_float(t, "bias", (float)bias);
    optest_input(t, EMBER_FLOAT, 4, xd, x);
    must_run(t);
    expect_close(t, 0, 4, xd, ref, 1e-5, 1e-6, "LRN");
    optest_free(t);
  }
  optest *t = optest_new("LRN", 1);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "size");
  optest_free(t);
  free(x);
  free(ref);
}

/* ---------------------------------------------------------- Gemm tests */

static void ref_gemm(int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                     double alpha, double beta, const float *a, const float *b,
                     const float *c, int crank, const int64_t *cd, double *y) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++)
        s += (double)a[ta ? p * m + i : i * k + p] *
             (double)b[tb ? j * k + p : p * n + j];
      double cv = 0;
      if (c) {
        int64_t ci = crank == 2 && cd[0] != 1 ? i : 0;
        int64_t cj = crank >= 1 && cd[crank - 1] != 1 ? j : 0;
        int64_t cols = crank >= 1 ? cd[crank - 1] : 1;
        cv = c[ci * cols + cj];
      }
      y[i * n + j] = alpha * s + beta * cv;
    }
}

static void test_gemm(void **state) {
  (void)state;
  const int64_t sizes[][3] = {{1, 1, 1},  {1, 37, 19}, {5, 1, 7},
                              {4, 8, 16}, {5, 9, 17},  {33, 17, 300},
                              {7, 6, 0},  {130, 70, 3}};
  int64_t cshapes[][3] = {{0},         {0},        {1, 1},     {1, -1},
                          {2, -2, -1}, {2, 1, -1}, {2, -2, 1}, {2, 1, 1}};
  /* cshapes: rank, then dims with -1 = N, -2 = M */
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        for (size_t ci = 0; ci < 8; ci++) {
          int64_t m = sizes[si][0], n = sizes[si][1], k = sizes[si][2];
          int64_t ad[2] = {ta ? k : m, ta ? m : k};
          int64_t bd[2] = {tb ? n : k, tb ? k : n};
          int crank = (int)cshapes[ci][0];
          bool has_c = ci > 0;
          int64_t cd[2];
          for (int r = 0; r < crank; r++) {
            int64_t v = cshapes[ci][1 + r];
            cd[r] = v == -1 ? n : v == -2 ? m : v;
          }
          float *a = rnd_array((size_t)(m * k)),
                *b = rnd_array((size_t)(k * n));
          float *c = rnd_array(numel(crank, cd));
          double alpha = (ci % 3 == 0) ? 1.0 : 0.5, beta = ci == 4 ? 0.0 : -1.5;
          double *ref = malloc((size_t)(m * n) * sizeof *ref + 1);
          ref_gemm(m, n, k, ta, tb, alpha, beta, a, b, has_c ? c : NULL, crank,
                   cd, ref);
          optest *t = optest_new("Gemm", 13);
          if (ta) optest_attr_int(t, "transA", 1);
          if (tb) optest_attr_int(t, "transB", 1);
          optest_attr_float(t, "alpha", (float)alpha);
          optest_attr_float(t, "beta", (float)beta);
          optest_input(t, EMBER_FLOAT, 2, ad, a);
          optest_input(t, EMBER_FLOAT, 2, bd, b);
          if (has_c) optest_input(t, EMBER_FLOAT, crank, cd, c);
          must_run(t);
          char what[64];
          snprintf(what, sizeof what, "gemm %lldx%lldx%lld t%d%d c%zu",
                   (long long)m, (long long)n, (long long)k, ta, tb, ci);
          expect_close(t, 0, 2, (int64_t[]){m, n}, ref, 1e-4, 1e-5, what);
          optest_free(t);
          free(a);
          free(b);
          free(c);
          free(ref);
        }
}

static void test_gemm_legacy_and_types(void **state) {
  (void)state;
  /* Opset 6 with the broadcast attribute (the form PyTorch exported). */
  int64_t ad[2] = {3, 4}, bd[2] = {5, 4}, cd[1] = {5};
  float a[12], b[20], c[5];
  for (int i = 0; i < 12; i++) a[i] = rnd();
  for (int i = 0; i < 20; i++) b[i] = rnd();
  for (int i = 0; i < 5; i++) c[i] = rnd();
  double ref[15];
  ref_gemm(3, 5, 4, false, true, 1, 1, a, b, c, 1, cd, ref);
  optest *t = optest_new("Gemm", 6);
  optest_attr_int(t, "broadcast", 1);
  optest_attr_int(t, "transB", 1);
  optest_input(t, EMBER_FLOAT, 2, ad, a);
  optest_input_const(t, EMBER_FLOAT, 2, bd, b);
  optest_input_const(t, EMBER_FLOAT, 1, cd, c);
  must_run(t);
  expect_close(t, 0, 2, (int64_t[]){3, 5}, ref, 1e-5, 1e-6, "gemm opset 6");
  optest_free(t);

  /* int32, int64 (wrapping), float64 and float16. */
  int32_t ai[6] = {1, -2, 3, 4, 5, -6}, bi[6] = {7, 8, -9, 10, 11, 12};
  int32_t ci[2] = {100, -100}, ei[4];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) {
      int32_t s = 0;
      for (int p = 0; p < 3; p++) s += ai[i * 3 + p] * bi[p * 2 + j];
      ei[i * 2 + j] = s + ci[j];
    }
  t = optest_new("Gemm", 13);
  optest_input(t, EMBER_INT32, 2, (int64_t[]){2, 3}, ai);
  optest_input(t, EMBER_INT32, 2, (int64_t[]){3, 2}, bi);
  optest_input(t, EMBER_INT32, 1, (int64_t[]){2}, ci);
  must_run(t);
  const emb_tensor *o = out_t(t, 0, EMBER_INT32, 2, (int64_t[]){2, 2});
  assert_memory_equal(o->data, ei, sizeof ei);
  optest_free(t);

  int64_t al[2] = {INT64_MAX, 2}, bl[2] = {2, 1}, el[1];
  el[0] = (int64_t)((uint64_t)INT64_MAX * 2u + 2u);
  t = optest_new("MatMul", 13);
  optest_input(t, EMBER_INT64, 2, (int64_t[]){1, 2}, al);
  optest_input(t, EMBER_INT64, 2, (int64_t[]){2, 1}, bl);
  must_run(t);
  o = out_t(t, 0, EMBER_INT64, 2, (int64_t[]){1, 1});
  assert_int_equal(((const int64_t *)o->data)[0], el[0]);
  optest_free(t);

  double ad64[12], bd64[20], cd64[5];
  for (int i = 0; i < 12; i++) ad64[i] = a[i];
  for (int i = 0; i < 20; i++) bd64[i] = b[i];
  for (int i = 0; i < 5; i++) cd64[i] = c[i];
  ref_gemm(3, 5, 4, false, true, 2, 0.5, a, b, c, 1, cd, ref);
  t = optest_new("Gemm", 11);
  optest_attr_int(t, "transB", 1);
  optest_attr_float(t, "alpha", 2);
  optest_attr_float(t, "beta", 0.5);
  optest_input(t, EMBER_DOUBLE, 2, ad, ad64);
  optest_input(t, EMBER_DOUBLE, 2, bd, bd64);
  optest_input(t, EMBER_DOUBLE, 1, cd, cd64);
  must_run(t);
  o = out_t(t, 0, EMBER_DOUBLE, 2, (int64_t[]){3, 5});
  for (int i = 0; i < 15; i++)
    assert_true(fabs(((const double *)o->data)[i] - ref[i]) < 1e-12);
  optest_free(t);

  uint16_t ah[12], bh[20];
  for (int i = 0; i < 12; i++)
    a[i] = emb_f16_to_f32(ah[i] = emb_f32_to_f16(a[i]));
  for (int i = 0; i < 20; i++)
    b[i] = emb_f16_to_f32(bh[i] = emb_f32_to_f16(b[i]));
  ref_gemm(3, 5, 4, false, true, 1, 0, a, b, NULL, 0, NULL, ref);
  t = optest_new("Gemm", 13);
  optest_attr_int(t, "transB", 1);
  optest_input(t, EMBER_FLOAT16, 2, ad, ah);
  optest_input(t, EMBER_FLOAT16, 2, bd, bh);
  must_run(t);
  o = out_t(t, 0, EMBER_FLOAT16, 2, (int64_t[]){3, 5});
  for (int i = 0; i < 15; i++) {
    double v = emb_f16_to_f32(((const uint16_t *)o->data)[i]);
    if (fabs(v - ref[i]) > 1e-3 + 1e-3 * fabs(ref[i]))
      fail_msg("float16 gemm element %d is %g, expected %g", i, v, ref[i]);
  }
  optest_free(t);
}

static void test_gemm_errors(void **state) {
  (void)state;
  float a[12] = {0}, b[12] = {0}, c[6] = {0};
  optest *t = optest_new("Gemm", 13);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){3, 4}, a);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){3, 4}, b);
  must_fail(t, EMBER_ERR_SHAPE, "inner");
  optest_free(t);
  t = optest_new("Gemm", 13);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){3, 4}, a);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){4, 3}, b);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){2}, c);
  must_fail(t, EMBER_ERR_SHAPE, "broadcast");
  optest_free(t);
  t = optest_new("Gemm", 13);
  optest_input(t, EMBER_FLOAT, 3, (int64_t[]){1, 3, 4}, a);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){4, 3}, b);
  must_fail(t, EMBER_ERR_SHAPE, "rank");
  optest_free(t);
  bool bb[4] = {0};
  t = optest_new("Gemm", 13);
  optest_input(t, EMBER_BOOL, 2, (int64_t[]){2, 2}, bb);
  optest_input(t, EMBER_BOOL, 2, (int64_t[]){2, 2}, bb);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "bool");
  optest_free(t);
}

/* -------------------------------------------------------- MatMul tests */

/* numpy matmul by definition: promote 1-D, broadcast batch, multiply. */
static void run_matmul_case(int ar, const int64_t *ad, int br,
                            const int64_t *bd, const char *what) {
  int64_t a2[8], b2[8];
  int ar2 = ar, br2 = br;
  memcpy(a2, ad, (size_t)ar * 8);
  memcpy(b2, bd, (size_t)br * 8);
  if (ar == 1) {
    a2[1] = a2[0];
    a2[0] = 1;
    ar2 = 2;
  }
  if (br == 1) {
    b2[1] = 1;
    br2 = 2;
  }
  int64_t m = a2[ar2 - 2], k = a2[ar2 - 1], n = b2[br2 - 1];
  int nb = ar2 > br2 ? ar2 - 2 : br2 - 2;
  int64_t batch[8], yd[10];
  int yr = 0;
  for (int i = 0; i < nb; i++) {
    int ia = i - (nb - (ar2 - 2)), ib = i - (nb - (br2 - 2));
    int64_t da = ia >= 0 ? a2[ia] : 1, db = ib >= 0 ? b2[ib] : 1;
    batch[i] = da == 1 ? db : da;
    yd[yr++] = batch[i];
  }
  if (ar >= 2) yd[yr++] = m;
  if (br >= 2) yd[yr++] = n;
  float *a = rnd_array(numel(ar, ad)), *b = rnd_array(numel(br, bd));
  size_t nbt = numel(nb, batch);
  double *ref = malloc(nbt * (size_t)(m * n) * sizeof *ref + 1);
  for (size_t t = 0; t < nbt; t++) {
    int64_t bi[8];
    unravel(t, nb, batch, bi);
    size_t ao = 0, bo = 0;
    for (int i = 0; i < ar2 - 2; i++) {
      int64_t idx = a2[i] == 1 ? 0 : bi[i + nb - (ar2 - 2)];
      ao = ao * (size_t)a2[i] + (size_t)idx;
    }
    for (int i = 0; i < br2 - 2; i++) {
      int64_t idx = b2[i] == 1 ? 0 : bi[i + nb - (br2 - 2)];
      bo = bo * (size_t)b2[i] + (size_t)idx;
    }
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t p = 0; p < k; p++)
          s += (double)a[ao * (size_t)(m * k) + (size_t)(i * k + p)] *
               (double)b[bo * (size_t)(k * n) + (size_t)(p * n + j)];
        ref[t * (size_t)(m * n) + (size_t)(i * n + j)] = s;
      }
  }
  optest *t = optest_new("MatMul", 13);
  optest_input(t, EMBER_FLOAT, ar, ad, a);
  optest_input(t, EMBER_FLOAT, br, bd, b);
  must_run(t);
  expect_close(t, 0, yr, yd, ref, 1e-4, 1e-5, what);
  optest_free(t);
  free(a);
  free(b);
  free(ref);
}

static void test_matmul(void **state) {
  (void)state;
  run_matmul_case(1, (int64_t[]){5}, 1, (int64_t[]){5}, "1d x 1d");
  run_matmul_case(1, (int64_t[]){4}, 3, (int64_t[]){2, 4, 3}, "1d x 3d");
  run_matmul_case(3, (int64_t[]){2, 3, 4}, 1, (int64_t[]){4}, "3d x 1d");
  run_matmul_case(2, (int64_t[]){7, 9}, 2, (int64_t[]){9, 11}, "2d");
  run_matmul_case(3, (int64_t[]){3, 5, 4}, 2, (int64_t[]){4, 6},
                  "batch x matrix (folded)");
  run_matmul_case(2, (int64_t[]){5, 4}, 3, (int64_t[]){3, 4, 6},
                  "matrix x batch");
  run_matmul_case(4, (int64_t[]){2, 1, 3, 4}, 3, (int64_t[]){5, 4, 6},
                  "broadcast batch");
  run_matmul_case(3, (int64_t[]){1, 3, 4}, 3, (int64_t[]){2, 4, 2},
                  "size-1 batch of A");
  run_matmul_case(4, (int64_t[]){2, 3, 1, 8}, 4, (int64_t[]){2, 3, 8, 1},
                  "outer products of rows");
  run_matmul_case(2, (int64_t[]){3, 0}, 2, (int64_t[]){0, 4}, "empty K");
  run_matmul_case(3, (int64_t[]){0, 3, 4}, 2, (int64_t[]){4, 2}, "empty batch");
  run_matmul_case(2, (int64_t[]){67, 300}, 2, (int64_t[]){300, 45},
                  "multi-block");
}

static void test_matmul_errors(void **state) {
  (void)state;
  float a[12] = {0};
  optest *t = optest_new("MatMul", 13);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){3, 4}, a);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){3, 4}, a);
  must_fail(t, EMBER_ERR_SHAPE, "inner");
  optest_free(t);
  t = optest_new("MatMul", 13);
  optest_input(t, EMBER_FLOAT, 3, (int64_t[]){2, 2, 3}, a);
  optest_input(t, EMBER_FLOAT, 3, (int64_t[]){3, 3, 1}, a);
  must_fail(t, EMBER_ERR_SHAPE, "broadcast");
  optest_free(t);
  t = optest_new("MatMul", 13);
  optest_input(t, EMBER_FLOAT, 0, NULL, a);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){1}, a);
  must_fail(t, EMBER_ERR_SHAPE, "rank");
  optest_free(t);
}

/* ------------------------------------------------- normalization tests */

static void test_batchnorm(void **state) {
  (void)state;
  int64_t xd[4] = {2, 3, 2, 5}, pd[1] = {3};
  size_t n = numel(4, xd), sp = 10;
  float *x = rnd_array(n), sc[3], bi[3], mean[3], var[3];
  for (int c = 0; c < 3; c++) {
    sc[c] = rnd();
    bi[c] = rnd();
    mean[c] = rnd();
    var[c] = 0.5f + rnd() * 0.4f;
  }
  double *ref = malloc(n * sizeof *ref);
  const float eps = 1e-3f;
  for (size_t i = 0; i < n; i++) {
    size_t c = (i / sp) % 3;
    ref[i] =
        ((double)x[i] - mean[c]) / sqrt((double)var[c] + (double)eps) * sc[c] +
        bi[c];
  }
  /* opset 15, opset 9, and opset 6 with is_test (PyTorch's export) */
  const int opsets[] = {15, 9, 6};
  for (int o = 0; o < 3; o++) {
    optest *t = optest_new("BatchNormalization", opsets[o]);
    optest_attr_float(t, "epsilon", eps);
    if (opsets[o] == 6) optest_attr_int(t, "is_test", 1);
    optest_input(t, EMBER_FLOAT, 4, xd, x);
    optest_input_const(t, EMBER_FLOAT, 1, pd, sc);
    optest_input_const(t, EMBER_FLOAT, 1, pd, bi);
    optest_input_const(t, EMBER_FLOAT, 1, pd, mean);
    optest_input_const(t, EMBER_FLOAT, 1, pd, var);
    must_run(t);
    expect_close(t, 0, 4, xd, ref, 1e-5, 1e-6, "batchnorm");
    optest_free(t);
  }
  /* Old opset asking for the running statistics: passed through. */
  optest *t = optest_new("BatchNormalization", 7);
  optest_attr_float(t, "epsilon", eps);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  for (int i = 0; i < 4; i++)
    optest_input(t, EMBER_FLOAT, 1, pd,
                 i == 0   ? sc
                 : i == 1 ? bi
                 : i == 2 ? mean
                          : var);
  optest_outputs(t, 3);
  must_run(t);
  expect_close(t, 0, 4, xd, ref, 1e-5, 1e-6, "batchnorm opset 7");
  double dm[3] = {mean[0], mean[1], mean[2]}, dv[3] = {var[0], var[1], var[2]};
  expect_close(t, 1, 1, pd, dm, 0, 0, "batchnorm running mean");
  expect_close(t, 2, 1, pd, dv, 0, 0, "batchnorm running var");
  optest_free(t);

  /* Training mode: batch statistics and updated running averages. */
  double cm[3] = {0}, cv[3] = {0};
  for (size_t i = 0; i < n; i++) cm[(i / sp) % 3] += x[i] / 20.0;
  for (size_t i = 0; i < n; i++) {
    double d = x[i] - cm[(i / sp) % 3];
    cv[(i / sp) % 3] += d * d / 20.0;
  }
  for (size_t i = 0; i < n; i++) {
    size_t c = (i / sp) % 3;
    ref[i] = ((double)x[i] - cm[c]) / sqrt(cv[c] + (double)eps) * sc[c] + bi[c];
  }
  double rm[3], rv[3];
  for (int c = 0; c < 3; c++) {
    rm[c] = mean[c] * 0.8 + cm[c] * 0.2;
    rv[c] = var[c] * 0.8 + cv[c] * 0.2;
  }
  t = optest_new("BatchNormalization", 15);
  optest_attr_float(t, "epsilon", eps);
  optest_attr_float(t, "momentum", 0.8f);
  optest_attr_int(t, "training_mode", 1);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  for (int i = 0; i < 4; i++)
    optest_input(t, EMBER_FLOAT, 1, pd,
                 i == 0   ? sc
                 : i == 1 ? bi
                 : i == 2 ? mean
                          : var);
  optest_outputs(t, 3);
  must_run(t);
  expect_close(t, 0, 4, xd, ref, 1e-4, 1e-5, "batchnorm training");
  expect_close(t, 1, 1, pd, rm, 1e-5, 1e-6, "running mean");
  expect_close(t, 2, 1, pd, rv, 1e-5, 1e-6, "running var");
  optest_free(t);
  free(x);
  free(ref);
}

static void test_batchnorm_shapes(void **state) {
  (void)state;
  /* Rank 2 (N, C) and rank 1 (N, with C = 1). */
  float x[8], p[4] = {0.5f, -1.0f, 2.0f, 1.0f};
  for (int i = 0; i < 8; i++) x[i] = rnd();
  double ref[8];
  for (int i = 0; i < 8; i++) {
    int c = i % 4;
    ref[i] = (x[i] - p[c]) / sqrt(p[c] * p[c] + 1e-5) * p[c] + p[c];
  }
  float var[4];
  for (int c = 0; c < 4; c++) var[c] = p[c] * p[c];
  optest *t = optest_new("BatchNormalization", 15);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){2, 4}, x);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){4}, p);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){4}, p);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){4}, p);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){4}, var);
  must_run(t);
  expect_close(t, 0, 2, (int64_t[]){2, 4}, ref, 1e-5, 1e-6, "batchnorm 2-D");
  optest_free(t);
  for (int i = 0; i < 8; i++)
    ref[i] = (x[i] - p[0]) / sqrt(var[0] + 1e-5) * p[0] + p[0];
  t = optest_new("BatchNormalization", 15);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){8}, x);
  for (int i = 0; i < 3; i++)
    optest_input(t, EMBER_FLOAT, 1, (int64_t[]){1}, p);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){1}, var);
  must_run(t);
  expect_close(t, 0, 1, (int64_t[]){8}, ref, 1e-5, 1e-6, "batchnorm 1-D");
  optest_free(t);

  /* spatial = 0 (opset 7): parameters per channel and position. */
  float xs[12], ps[6], vs[6];
  for (int i = 0; i < 12; i++) xs[i] = rnd();
  for (int i = 0; i < 6; i++) {
    ps[i] = rnd();
    vs[i] = 0.3f + ps[i] * ps[i];
  }
  double rs[12];
  for (int i = 0; i < 12; i++) {
    int k = i % 6;
    rs[i] = (xs[i] - ps[k]) / sqrt(vs[k] + 1e-5) * ps[k] + ps[k];
  }
  t = optest_new("BatchNormalization", 7);
  optest_attr_int(t, "spatial", 0);
  optest_input(t, EMBER_FLOAT, 3, (int64_t[]){2, 2, 3}, xs);
  for (int i = 0; i < 3; i++)
    optest_input(t, EMBER_FLOAT, 2, (int64_t[]){2, 3}, ps);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){2, 3}, vs);
  must_run(t);
  expect_close(t, 0, 3, (int64_t[]){2, 2, 3}, rs, 1e-5, 1e-6,
               "batchnorm spatial=0");
  optest_free(t);

  /* Wrong parameter length. */
  t = optest_new("BatchNormalization", 15);
  optest_input(t, EMBER_FLOAT, 2, (int64_t[]){2, 4}, x);
  for (int i = 0; i < 4; i++)
    optest_input(t, EMBER_FLOAT, 1, (int64_t[]){3}, p);
  must_fail(t, EMBER_ERR_SHAPE, "channels");
  optest_free(t);
}

static void test_instancenorm(void **state) {
  (void)state;
  int64_t shapes[3][5] = {{2, 3, 4, 5}, {1, 2, 7}, {3, 2, 1, 1, 1}};
  int ranks[3] = {4, 3, 5};
  for (int s = 0; s < 3; s++) {
    int rank = ranks[s];
    int64_t *xd = shapes[s];
    size_t n = numel(rank, xd), ch = (size_t)xd[1];
    size_t sp = n / (size_t)(xd[0] * xd[1]);
    float *x = rnd_array(n), *sc = rnd_array(ch), *bi = rnd_array(ch);
    double *ref = malloc(n * sizeof *ref);
    for (size_t pl = 0; pl < n / sp; pl++) {
      double m = 0, v = 0;
      for (size_t i = 0; i < sp; i++) m += x[pl * sp + i] / (double)sp;
      for (size_t i = 0; i < sp; i++) {
        double d = x[pl * sp + i] - m;
        v += d * d / (double)sp;
      }
      size_t c = pl % ch;
      for (size_t i = 0; i < sp; i++)
        ref[pl * sp + i] =
            (x[pl * sp + i] - m) / sqrt(v + 0.01) * sc[c] + bi[c];
    }
    optest *t = optest_new("InstanceNormalization", 22);
    optest_attr_float(t, "epsilon", 0.01f);
    optest_input(t, EMBER_FLOAT, rank, xd, x);
    optest_input(t, EMBER_FLOAT, 1, (int64_t[]){(int64_t)ch}, sc);
    optest_input(t, EMBER_FLOAT, 1, (int64_t[]){(int64_t)ch}, bi);
    must_run(t);
    expect_close(t, 0, rank, xd, ref, 1e-4, 1e-5, "instancenorm");
    optest_free(t);
    free(x);
    free(sc);
    free(bi);
    free(ref);
  }
}

static void test_layernorm(void **state) {
  (void)state;
  int64_t xd[4] = {2, 3, 4, 5};
  size_t n = numel(4, xd);
  float *x = rnd_array(n);
  for (int axis = -4; axis < 4; axis++) {
    int ax = axis < 0 ? axis + 4 : axis;
    size_t outer = numel(ax, xd), inner = n / outer;
    for (int variant = 0; variant < 3; variant++) {
      /* 0: Scale and B of the normalized shape; 1: Scale only;
       * 2: Scale broadcast along all but the last axis, B as [1]. */
      int64_t sd[4];
      int sr = 4 - ax;
      for (int k = 0; k < sr; k++) sd[k] = xd[ax + k];
      if (variant == 2) {
        sr = 1;
        sd[0] = xd[3];
      }
      size_t sn = numel(sr, sd);
      float *sc = rnd_array(sn), bv[1] = {0.25f};
      float *bi = variant == 0 ? rnd_array(sn) : NULL;
      double *ref = malloc(n * sizeof *ref), *mref = malloc(outer * 8),
             *iref = malloc(outer * 8);
      for (size_t r = 0; r < outer; r++) {
        double m = 0, v = 0;
        for (size_t j = 0; j < inner; j++) m += x[r * inner + j];
        m /= (double)inner;
        for (size_t j = 0; j < inner; j++) {
          double d = x[r * inner + j] - m;
          v += d * d;
        }
        v /= (double)inner;
        double inv = 1.0 / sqrt(v + 1e-3);
        mref[r] = m;
        iref[r] = inv;
        for (size_t j = 0; j < inner; j++) {
          size_t si = variant == 2 ? j % (size_t)xd[3] : j;
          double y = (x[r * inner + j] - m) * inv * sc[si];
          if (variant == 0) y += bi[j];
          if (variant == 2) y += bv[0];
          ref[r * inner + j] = y;
        }
      }
      optest *t = optest_new("LayerNormalization", 17);
      optest_attr_int(t, "axis", axis);
      optest_attr_float(t, "epsilon", 1e-3f);
      optest_input(t, EMBER_FLOAT, 4, xd, x);
      optest_input(t, EMBER_FLOAT, sr, sd, sc);
      if (variant == 0) optest_input(t, EMBER_FLOAT, sr, sd, bi);
      if (variant == 2) optest_input(t, EMBER_FLOAT, 1, (int64_t[]){1}, bv);
      optest_outputs(t, 3);
      must_run(t);
      char what[48];
      snprintf(what, sizeof what, "layernorm axis %d variant %d", axis,
               variant);
      expect_close(t, 0, 4, xd, ref, 1e-4, 1e-5, what);
      int64_t md[4];
      for (int k = 0; k < 4; k++) md[k] = k < ax ? xd[k] : 1;
      expect_close(t, 1, 4, md, mref, 1e-5, 1e-6, what);
      expect_close(t, 2, 4, md, iref, 1e-4, 1e-5, what);
      optest_free(t);
      free(sc);
      free(bi);
      free(ref);
      free(mref);
      free(iref);
    }
  }
  optest *t = optest_new("LayerNormalization", 17);
  optest_attr_int(t, "axis", 4);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){5}, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);
  t = optest_new("LayerNormalization", 17);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 1, (int64_t[]){4}, x);
  must_fail(t, EMBER_ERR_SHAPE, "broadcast");
  optest_free(t);
  free(x);
}

/* ------------------------------------------------------- softmax tests */

static void test_softmax(void **state) {
  (void)state;
  int64_t xd[3] = {3, 4, 5};
  size_t n = 60;
  float *x = rnd_array(n);
  x[7] = 80.0f; /* large values must not overflow */
  x[8] = 79.0f;
  double *ref = malloc(n * sizeof *ref);
  for (int log_form = 0; log_form < 2; log_form++)
    for (int opset = 11; opset <= 13; opset += 2)
      for (int axis = -3; axis <= 2; axis++) {
        int ax = axis < 0 ? axis + 3 : axis;
        /* opset 11: flatten to [prod(dims[:ax]), rest]; 13: one axis. */
        size_t outer = numel(ax, xd);
        size_t len = opset < 13 ? n / outer : (size_t)xd[ax];
        size_t inner = n / outer / len;
        for (size_t o = 0; o < outer; o++)
          for (size_t i = 0; i < inner; i++) {
            double mx = -INFINITY, s = 0;
            for (size_t l = 0; l < len; l++)
              mx = fmax(mx, x[(o * len + l) * inner + i]);
            for (size_t l = 0; l < len; l++)
              s += exp(x[(o * len + l) * inner + i] - mx);
            for (size_t l = 0; l < len; l++) {
              double v = x[(o * len + l) * inner + i] - mx;
              ref[(o * len + l) * inner + i] =
                  log_form ? v - log(s) : exp(v) / s;
            }
          }
        optest *t = optest_new(log_form ? "LogSoftmax" : "Softmax", opset);
        optest_attr_int(t, "axis", axis);
        optest_input(t, EMBER_FLOAT, 3, xd, x);
        must_run(t);
        char what[48];
        snprintf(what, sizeof what, "%s opset %d axis %d",
                 log_form ? "logsoftmax" : "softmax", opset, axis);
        expect_close(t, 0, 3, xd, ref, 1e-5, 1e-7, what);
        optest_free(t);
      }
  /* Defaults: axis 1 before opset 13, -1 after. */
  optest *t = optest_new("Softmax", 1);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  must_run(t);
  const float *a = out_t(t, 0, EMBER_FLOAT, 3, xd)->data;
  for (size_t o = 0; o < 3; o++) {
    double s = 0;
    for (size_t i = 0; i < 20; i++) s += a[o * 20 + i];
    assert_true(fabs(s - 1.0) < 1e-5);
  }
  optest_free(t);
  t = optest_new("Softmax", 13);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  must_run(t);
  a = out_t(t, 0, EMBER_FLOAT, 3, xd)->data;
  for (size_t o = 0; o < 12; o++) {
    double s = 0;
    for (size_t i = 0; i < 5; i++) s += a[o * 5 + i];
    assert_true(fabs(s - 1.0) < 1e-5);
  }
  optest_free(t);
  /* float64 and float16 */
  double xdd[60];
  uint16_t xh[60];
  for (size_t i = 0; i < 60; i++) {
    xh[i] = emb_f32_to_f16(x[i]);
    xdd[i] = emb_f16_to_f32(xh[i]);
  }
  for (int pass = 0; pass < 2; pass++) {
    t = optest_new("Softmax", 13);
    optest_attr_int(t, "axis", 1);
    optest_input(t, pass ? EMBER_DOUBLE : EMBER_FLOAT16, 3, xd,
                 pass ? (const void *)xdd : (const void *)xh);
    must_run(t);
    const emb_tensor *o =
        out_t(t, 0, pass ? EMBER_DOUBLE : EMBER_FLOAT16, 3, xd);
    for (size_t b = 0; b < 3; b++)
      for (size_t i = 0; i < 5; i++) {
        double mx = -INFINITY, s = 0;
        for (size_t l = 0; l < 4; l++) mx = fmax(mx, xdd[(b * 4 + l) * 5 + i]);
        for (size_t l = 0; l < 4; l++) s += exp(xdd[(b * 4 + l) * 5 + i] - mx);
        for (size_t l = 0; l < 4; l++) {
          size_t k = (b * 4 + l) * 5 + i;
          double e = exp(xdd[k] - mx) / s;
          double v = pass ? ((const double *)o->data)[k]
                          : emb_f16_to_f32(((const uint16_t *)o->data)[k]);
          if (fabs(v - e) > (pass ? 1e-12 : 1e-3))
            fail_msg("softmax %s element %zu is %g, expected %g",
                     pass ? "float64" : "float16", k, v, e);
        }
      }
    optest_free(t);
  }
  t = optest_new("Softmax", 13);
  optest_attr_int(t, "axis", 3);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);
  int32_t xi[60] = {0};
  t = optest_new("LogSoftmax", 13);
  optest_input(t, EMBER_INT32, 3, xd, xi);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
  free(x);
  free(ref);
}

/* ------------------------------------------------------- kernel tests */

/* The GEMM kernel against a triple loop, at and around the register tile
 * and cache block edges, for every operand layout, with beta 0 (C full
 * of NaN must not leak), 1 and another value. */
static void test_kernel_gemm(void **state) {
  (void)state;
  const size_t ms[] = {1, 3, 4, 5, 129, 131};
  const size_t ns[] = {1, 7, 8, 9, 1025};
  const size_t ks[] = {1, 2, 257, 513};
  const float betas[] = {0.0f, 1.0f, -0.5f};
  for (size_t mi = 0; mi < 6; mi++)
    for (size_t ni = 0; ni < 5; ni++)
      for (size_t ki = 0; ki < 4; ki++)
        for (int layout = 0; layout < 4; layout++) {
          size_t m = ms[mi], n = ns[ni], k = ks[ki];
          if (m * n * k > 40000000) continue;
          bool ta = layout & 1, tb = layout & 2;
          size_t ldc = n + 3;
          float *a = rnd_array(m * k), *b = rnd_array(k * n);
          float *c = malloc(m * ldc * sizeof *c), *c0 = rnd_array(m * ldc);
          float *work = malloc(ember_f32_gemm_work_floats(m, n, k) * 4);
          float beta = betas[(mi + ni + ki + (size_t)layout) % 3];
          float alpha = layout == 3 ? 0.75f : 1.0f;
          for (size_t i = 0; i < m * ldc; i++)
            c[i] = beta == 0.0f ? NAN : c0[i];
          ember_f32_gemm__scalar(m, n, k, alpha, a, ta ? 1 : k, ta ? m : 1, b,
                                 tb ? 1 : n, tb ? k : 1, beta, c, ldc, work);
          for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
              double s = 0;
              for (size_t p = 0; p < k; p++)
                s += (double)a[ta ? p * m + i : i * k + p] *
                     (double)b[tb ? j * k + p : p * n + j];
              double e =
                  alpha * s + (beta == 0.0f ? 0.0 : beta * c0[i * ldc + j]);
              double got = c[i * ldc + j];
              if (!(fabs(got - e) <= 1e-4 + 1e-4 * fabs(e)))
                fail_msg(
                    "gemm %zux%zux%zu layout %d beta %g: C[%zu,%zu] = "
                    "%g, expected %g",
                    m, n, k, layout, beta, i, j, got, e);
            }
          /* Columns past n are untouched. */
          for (size_t i = 0; i < m; i++)
            for (size_t j = n; j < ldc; j++) {
              float before = beta == 0.0f ? NAN : c0[i * ldc + j];
              float got = c[i * ldc + j];
              if (!(got == before || (isnan(got) && isnan(before))))
                fail_msg("gemm wrote past column %zu", n);
            }
          free(a);
          free(b);
          free(c);
          free(c0);
          free(work);
        }
}

/* im2col and col2im are adjoint: <col, im2col(x)> == <col2im(col), x>,
 * on every chunk split; and im2col matches the tap definition. */
static void test_kernel_im2col(void **state) {
  (void)state;
  const size_t img[3] = {5, 4, 6}, grid[3] = {3, 4, 3}, ker[3] = {2, 3, 2};
  const size_t str[3] = {2, 1, 2}, dil[3] = {1, 2, 2};
  const ptrdiff_t pad[3] = {1, 2, -1};
  for (size_t nsp = 1; nsp <= 3; nsp++) {
    const size_t *im = img + 3 - nsp, *gr = grid + 3 - nsp, *kr = ker + 3 - nsp,
                 *st = str + 3 - nsp, *dl = dil + 3 - nsp;
    const ptrdiff_t *pd = pad + 3 - nsp;
    ember_conv_geom g = {nsp, im, gr, kr, st, dl, pd};
    size_t ch = 2, isz = 1, gsz = 1, ksz = 1;
    for (size_t d = 0; d < nsp; d++) {
      isz *= im[d];
      gsz *= gr[d];
      ksz *= kr[d];
    }
    size_t rows = ch * ksz;
    float *x = rnd_array(ch * isz), *col = malloc(rows * gsz * 4);
    float *cr = rnd_array(rows * gsz), *y = calloc(ch * isz, 4);
    for (size_t first = 0; first < gsz;) {
      size_t cnt = (first * 7 + 5) % gsz + 1;
      if (cnt > gsz - first) cnt = gsz - first;
      float *part = malloc(rows * cnt * 4), *cpart = malloc(rows * cnt * 4);
      ember_f32_im2col__scalar(&g, ch, x, first, cnt, part);
      for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cnt; j++) {
          col[r * gsz + first + j] = part[r * cnt + j];
          cpart[r * cnt + j] = cr[r * gsz + first + j];
        }
      ember_f32_col2im__scalar(&g, ch, cpart, first, cnt, y);
      free(part);
      free(cpart);
      first += cnt;
    }
    /* Definition check for im2col. */
    for (size_t r = 0; r < rows; r++)
      for (size_t j = 0; j < gsz; j++) {
        size_t c = r / ksz, t = r % ksz, q = j;
        int64_t kk[3], o[3], pos[3];
        int64_t kd[3], gd[3], id[3];
        for (size_t d = 0; d < nsp; d++) {
          kd[d] = (int64_t)kr[d];
          gd[d] = (int64_t)gr[d];
          id[d] = (int64_t)im[d];
        }
        unravel(t, (int)nsp, kd, kk);
        unravel(q, (int)nsp, gd, o);
        bool inside = true;
        for (size_t d = 0; d < nsp; d++) {
          pos[d] = o[d] * (int64_t)st[d] - pd[d] + kk[d] * (int64_t)dl[d];
          if (pos[d] < 0 || pos[d] >= id[d]) inside = false;
        }
        float e = inside ? x[c * isz + ravel((int)nsp, id, pos)] : 0.0f;
        if (col[r * gsz + j] != e)
          fail_msg("im2col %zu-D row %zu col %zu is %g, expected %g", nsp, r, j,
                   col[r * gsz + j], e);
      }
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < rows * gsz; i++) lhs += (double)cr[i] * col[i];
    for (size_t i = 0; i < ch * isz; i++) rhs += (double)y[i] * x[i];
    if (fabs(lhs - rhs) > 1e-4 * (1 + fabs(lhs)))
      fail_msg("col2im is not the adjoint of im2col (%zu-D): %g vs %g", nsp,
               lhs, rhs);
    free(x);
    free(col);
    free(cr);
    free(y);
  }
}

int main(void) {
  /* Name the definitions so that a static link keeps their objects (the
   * registry refers to them weakly). */
  volatile const void *keep[] = {&emb_op_conv, &emb_op_gemm, &emb_op_maxpool,
                                 &emb_op_batchnormalization, &emb_op_softmax};
  (void)keep;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_2d),
      cmocka_unit_test(test_conv_1d_3d),
      cmocka_unit_test(test_conv_chunked),
      cmocka_unit_test(test_conv_types),
      cmocka_unit_test(test_conv_const_and_empty),
      cmocka_unit_test(test_conv_errors),
      cmocka_unit_test(test_convtranspose),
      cmocka_unit_test(test_convtranspose_errors),
      cmocka_unit_test(test_maxpool),
      cmocka_unit_test(test_averagepool),
      cmocka_unit_test(test_pool_types),
      cmocka_unit_test(test_global_pools),
      cmocka_unit_test(test_pool_empty_axis),
      cmocka_unit_test(test_pool_errors),
      cmocka_unit_test(test_lrn),
      cmocka_unit_test(test_gemm),
      cmocka_unit_test(test_gemm_legacy_and_types),
      cmocka_unit_test(test_gemm_errors),
      cmocka_unit_test(test_matmul),
      cmocka_unit_test(test_matmul_errors),
      cmocka_unit_test(test_batchnorm),
      cmocka_unit_test(test_batchnorm_shapes),
      cmocka_unit_test(test_instancenorm),
      cmocka_unit_test(test_layernorm),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_kernel_gemm),
      cmocka_unit_test(test_kernel_im2col),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
