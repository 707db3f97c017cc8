/*
 * Unit tests for the signal operators (lib/ops/signal.c): DFT (opset 17
 * axis attribute and opset 20 axis input; real / complex input, forward /
 * inverse, one-sided RFFT and IRFFT, dft_length padding and truncation),
 * STFT, the Hann / Hamming / Blackman windows and MelWeightMatrix, and the
 * f64-fft kernel under DFT and STFT.  Expected values come from textbook
 * references written here in double: the DFT as its defining sum (angles
 * reduced exactly in integers), windows and the mel matrix from the
 * formulas of the ONNX specification.  Transform lengths cover each
 * kernel path: powers of two (radix-2), short other lengths (direct sum)
 * and long ones (Bluestein).  Errors are checked for status and a message
 * naming node 'n0'.
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

#include "f64-fft/f64-fft.h"
#include "optest.h"

/* Shared harness helpers (tests/unit/optest.c). */
#define must_fail optest_must_fail
#define must_run optest_must_run

static const double PI = 3.14159265358979323846;

/* ------------------------------------------------------------ helpers */

static uint32_t rng_state = 2024u;

/* Deterministic values in [-1, 1). */
static float rnd(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int k = 0; k < rank; k++) n *= (size_t)dims[k];
  return n;
}



/* sum_j x[j] e^{sign 2 pi i jk/n} for the n complex values at x (stride 2
 * doubles), into y. */
static void ref_dft(const double *x, size_t n, int sign, double *y) {
  for (size_t k = 0; k < n; k++) {
    double sr = 0, si = 0;
    for (size_t j = 0; j < n; j++) {
      double a = sign * 2.0 * PI * (double)((j * k) % n) / (double)n;
      sr += x[2 * j] * cos(a) - x[2 * j + 1] * sin(a);
      si += x[2 * j] * sin(a) + x[2 * j + 1] * cos(a);
    }
    y[2 * k] = sr;
    y[2 * k + 1] = si;
  }
}

/* ------------------------------------------------------------ kernel */

static void test_fft_kernel_all_paths(void **state) {
  (void)state;
  size_t lens[] = {1,  2,  3,  4,  5,   7,   8,   9,   16,  31,   60,  63,
                   64, 65, 66, 97, 100, 127, 128, 129, 400, 1000, 1024};
  for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
    size_t n = lens[li];
    double *x = malloc(2 * n * sizeof *x), *y = malloc(2 * n * sizeof *y);
    double *tab = malloc((ember_f64_fft_plan_doubles(n) + 1) * sizeof *tab);
    double *work = malloc((ember_f64_fft_work_doubles(n) + 1) * sizeof *work);
    for (size_t i = 0; i < 2 * n; i++) x[i] = rnd();
    ref_dft(x, n, -1, y);
    ember_f64_fft_plan p;
    ember_f64_fft_plan_init__scalar(&p, n, tab);
    ember_f64_fft_ukernel__scalar(&p, x, work);
    double tol = 1e-11 * (double)n;
    for (size_t i = 0; i < 2 * n; i++)
      if (fabs(x[i] - y[i]) > tol)
        fail_msg("n=%zu (kind %d) element %zu: got %.17g, expected %.17g", n,
                 p.kind, i, x[i], y[i]);
    free(x);
    free(y);
    free(tab);
    free(work);
  }
}

/* -------------------------------------------------------------- DFT */

typedef struct dft_case {
  int rank;
  int64_t dims[4]; /* last: 1 or 2 */
  int64_t axis;    /* as written (may be negative) */
  int inverse, onesided;
  int64_t dft_length; /* 0: not given */
} dft_case;

/* The DFT of x per the spec, by direct sums; writes dims to od. */
static float *dft_reference(const dft_case *c, const float *x, int64_t *od) {
  int r = c->rank, ax = (int)(c->axis < 0 ? c->axis + r : c->axis);
  int64_t len = c->dims[ax], cin = c->dims[r - 1];
  bool irfft = c->onesided && c->inverse;
  int64_t n = c->dft_length ? c->dft_length : irfft ? 2 * (len - 1) : len;
  int64_t lout = c->onesided && !c->inverse ? n / 2 + 1 : n;
  int64_t cout = irfft ? 1 : 2;
  for (int i = 0; i < r; i++) od[i] = c->dims[i];
  od[ax] = lout;
  od[r - 1] = cout;
  size_t outer = 1, inner = 1;
  for (int i = 0; i < ax; i++) outer *= (size_t)c->dims[i];
  for (int i = ax + 1; i < r - 1; i++) inner *= (size_t)c->dims[i];
  float *y = calloc(numel(r, od) + 1, sizeof *y);
  double *line = calloc(2 * (size_t)n, sizeof *line);
  double *res = calloc(2 * (size_t)n, sizeof *res);
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < inner; i++) {
      memset(line, 0, 2 * (size_t)n * sizeof *line);
      for (int64_t j = 0; j < n; j++) {
        int64_t src = j;
        bool conj = false;
        if (irfft && j > n / 2) { /* Hermitian completion */
          src = n - j;
          conj = true;
        }
        if (src >= len) continue;
        size_t at = ((o * (size_t)len + (size_t)src) * inner + i) * (size_t)cin;
        line[2 * j] = x[at];
        line[2 * j + 1] = cin == 2 ? (conj ? -x[at + 1] : x[at + 1]) : 0;
      }
      ref_dft(line, (size_t)n, c->inverse ? 1 : -1, res);
      for (int64_t k = 0; k < lout; k++) {
        size_t at = ((o * (size_t)lout + (size_t)k) * inner + i) * (size_t)cout;
        double s = c->inverse ? 1.0 / (double)n : 1.0;
        y[at] = (float)(res[2 * k] * s);
        if (cout == 2) y[at + 1] = (float)(res[2 * k + 1] * s);
      }
    }
  free(line);
  free(res);
  return y;
}

static void run_dft_case(const dft_case *c, int opset, bool const_inputs) {
  size_t nx = numel(c->rank, c->dims);
  float *x = malloc((nx + 1) * sizeof *x);
  for (size_t i = 0; i < nx; i++) x[i] = rnd();
  int64_t od[4];
  float *want = dft_reference(c, x, od);
  optest *t = optest_new("DFT", opset);
  if (c->inverse) optest_attr_int(t, "inverse", 1);
  if (c->onesided) optest_attr_int(t, "onesided", 1);
  if (opset < 20) optest_attr_int(t, "axis", c->axis);
  if (const_inputs)
    optest_input_const(t, EMBER_FLOAT, c->rank, c->dims, x);
  else
    optest_input(t, EMBER_FLOAT, c->rank, c->dims, x);
  int64_t len = c->dft_length, axis = c->axis;
  if (c->dft_length)
    optest_input_const(t, EMBER_INT64, 0, NULL, &len);
  else if (opset >= 20)
    optest_input_none(t);
  if (opset >= 20) {
    if (const_inputs)
      optest_input_const(t, EMBER_INT64, 0, NULL, &axis);
    else
      optest_input(t, EMBER_INT64, 0, NULL, &axis);
  }
  must_run(t);
  size_t n = (size_t)(c->dft_length
                          ? c->dft_length
                          : c->dims[c->axis < 0 ? c->axis + c->rank : c->axis]);
  optest_expect_f32(optest_output(t, 0), c->rank, od, want, 1e-4f,
                    1e-5f * (float)(n + 1));
  optest_free(t);
  free(x);
  free(want);
}

static void test_dft_forward_inverse(void **state) {
  (void)state;
  static const dft_case cases[] = {
      {4, {1, 10, 10, 1}, 1, 0, 0, 0}, /* the conformance layout */
      {4, {1, 10, 10, 1}, 2, 0, 0, 0},
      {4, {1, 10, 10, 2}, 1, 1, 0, 0},
      {3, {2, 1, 2}, 1, 0, 0, 0},   /* length 1 */
      {3, {3, 16, 2}, -2, 0, 0, 0}, /* radix-2, negative axis */
      {3, {2, 16, 2}, 1, 1, 0, 0},
      {3, {2, 63, 1}, 1, 0, 0, 0},  /* direct */
      {3, {1, 100, 2}, 1, 1, 0, 0}, /* Bluestein */
      {3, {1, 129, 1}, 1, 0, 0, 0},
      {4, {2, 5, 3, 2}, 0, 0, 0, 0}, /* axis 0, inner stride */
      {4, {2, 5, 3, 2}, -3, 1, 0, 0},
      {3, {2, 12, 2}, 1, 0, 0, 16},  /* zero padding */
      {3, {2, 12, 1}, 1, 0, 0, 5},   /* truncation */
      {3, {2, 12, 2}, 1, 1, 0, 100}, /* padding to Bluestein */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    run_dft_case(&cases[i], 20, false);
    run_dft_case(&cases[i], 20, true); /* folded at load */
    run_dft_case(&cases[i], 17, false);
  }
}

static void test_dft_onesided(void **state) {
  (void)state;
  static const dft_case cases[] = {
      {4, {1, 10, 10, 1}, 1, 0, 1, 0}, /* RFFT */
      {4, {1, 6, 10, 2}, 1, 1, 1, 0},  /* IRFFT, default n = 10 */
      {3, {2, 9, 1}, 1, 0, 1, 0},      /* odd length */
      {3, {2, 9, 2}, 1, 1, 1, 17},     /* odd IRFFT length */
      {3, {1, 5, 2}, 1, 1, 1, 16},     /* fewer bins than n/2 + 1 */
      {3, {1, 40, 2}, 1, 1, 1, 20},    /* more bins than needed */
      {3, {2, 1, 1}, 1, 0, 1, 0},      /* one sample */
      {3, {1, 2, 2}, 1, 1, 1, 0},      /* two bins: n = 2 */
      {3, {3, 200, 1}, -2, 0, 1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    run_dft_case(&cases[i], 20, false);
    run_dft_case(&cases[i], 19, false);
  }
}

static void test_dft_types_and_empty(void **state) {
  (void)state;
  /* float64 in, float64 out, compared in double */
  int64_t d[3] = {2, 7, 2};
  double x[28], ref[28], line[14], res[14];
  for (int i = 0; i < 28; i++) x[i] = rnd();
  for (int b = 0; b < 2; b++) {
    memcpy(line, x + 14 * b, sizeof line);
    ref_dft(line, 7, -1, res);
    memcpy(ref + 14 * b, res, sizeof res);
  }
  optest *t = optest_new("DFT", 20);
  optest_input(t, EMBER_DOUBLE, 3, d, x);
  must_run(t);
  const emb_value *v = optest_output(t, 0);
  assert_int_equal(v->t.dtype, EMBER_DOUBLE);
  for (int i = 0; i < 28; i++)
    if (fabs(((const double *)v->t.data)[i] - ref[i]) > 1e-12)
      fail_msg("float64 element %d: got %.17g, expected %.17g", i,
               ((const double *)v->t.data)[i], ref[i]);
  optest_free(t);
  /* float16: values exactly representable, result rounded to float16 */
  uint16_t h[8];
  float hf[8] = {1, 2, 0, -1, 0.5f, 0.25f, 3, 4};
  for (int i = 0; i < 8; i++) h[i] = emb_f32_to_f16(hf[i]);
  int64_t hd[3] = {1, 8, 1};
  t = optest_new("DFT", 20);
  optest_input(t, EMBER_FLOAT16, 3, hd, h);
  must_run(t);
  v = optest_output(t, 0);
  assert_int_equal(v->t.dtype, EMBER_FLOAT16);
  double hl[16] = {0}, hr[16];
  for (int i = 0; i < 8; i++) hl[2 * i] = hf[i];
  ref_dft(hl, 8, -1, hr);
  for (int i = 0; i < 16; i++) {
    float g = emb_f16_to_f32(((const uint16_t *)v->t.data)[i]);
    if (fabs(g - hr[i]) > 1e-2 + 1e-3 * fabs(hr[i]))
      fail_msg("float16 element %d: got %g, expected %g", i, g, hr[i]);
  }
  optest_free(t);
  /* an empty batch gives an empty result of the right shape */
  int64_t ed[3] = {0, 8, 1}, eo[3] = {0, 8, 2};
  float dummy = 0;
  t = optest_new("DFT", 20);
  optest_input(t, EMBER_FLOAT, 3, ed, &dummy);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 3, eo, &dummy, 0, 0);
  optest_free(t);
}

static void test_dft_errors(void **state) {
  (void)state;
  float x[40] = {0};
  int64_t d3[3] = {2, 10, 2}, dbad[3] = {2, 10, 3}, d1[3] = {2, 10, 1};
  int64_t ax;
  /* axis -1 is the real/imaginary axis (seen at load when the input's
   * rank is known, else at run) */
  optest *t = optest_new("DFT", 20);
  optest_input_const(t, EMBER_FLOAT, 3, d3, x);
  optest_input_none(t);
  ax = -1;
  optest_input_const(t, EMBER_INT64, 0, NULL, &ax);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);
  t = optest_new("DFT", 20);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input_none(t);
  optest_input_const(t, EMBER_INT64, 0, NULL, &ax);
  must_fail(t, EMBER_ERR_RUNTIME, "axis");
  optest_free(t);
  /* axis rank - 1 as the attribute before opset 20 */
  t = optest_new("DFT", 17);
  optest_attr_int(t, "axis", 2);
  optest_input_const(t, EMBER_FLOAT, 3, d3, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);
  /* axis out of range, known only at run */
  t = optest_new("DFT", 20);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input_none(t);
  ax = 3;
  optest_input(t, EMBER_INT64, 0, NULL, &ax);
  must_fail(t, EMBER_ERR_RUNTIME, "axis");
  optest_free(t);
  /* a last dimension that is neither 1 nor 2 */
  t = optest_new("DFT", 20);
  optest_input(t, EMBER_FLOAT, 3, dbad, x);
  must_fail(t, EMBER_ERR_SHAPE, "last");
  optest_free(t);
  /* RFFT of complex input, IRFFT of real input */
  t = optest_new("DFT", 20);
  optest_attr_int(t, "onesided", 1);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  must_fail(t, EMBER_ERR_SHAPE, "real");
  optest_free(t);
  t = optest_new("DFT", 20);
  optest_attr_int(t, "onesided", 1);
  optest_attr_int(t, "inverse", 1);
  optest_input(t, EMBER_FLOAT, 3, d1, x);
  must_fail(t, EMBER_ERR_SHAPE, "complex");
  optest_free(t);
  /* dft_length 0 */
  int64_t zero = 0;
  t = optest_new("DFT", 20);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input(t, EMBER_INT64, 0, NULL, &zero);
  must_fail(t, EMBER_ERR_RUNTIME, "length");
  optest_free(t);
  /* bad attribute value */
  t = optest_new("DFT", 20);
  optest_attr_int(t, "inverse", 2);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "inverse");
  optest_free(t);
  /* three inputs before opset 20 */
  t = optest_new("DFT", 17);
  optest_input(t, EMBER_FLOAT, 3, d3, x);
  optest_input_none(t);
  ax = 1;
  optest_input(t, EMBER_INT64, 0, NULL, &ax);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "opset 20");
  optest_free(t);
  /* integer input */
  int32_t xi[40] = {0};
  t = optest_new("DFT", 20);
  optest_input(t, EMBER_INT32, 3, d3, xi);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
  /* rank 1 */
  t = optest_new("DFT", 20);
  optest_input(t, EMBER_FLOAT, 1, d3 + 1, x);
  must_fail(t, EMBER_ERR_SHAPE, "rank");
  optest_free(t);
}

/* ------------------------------------------------------------- STFT */

typedef struct stft_case {
  int64_t batch, len, cin;
  int64_t step;
  int64_t window;       /* window length, 0: none */
  int64_t frame_length; /* 0: not given */
  int onesided;         /* -1: attribute absent (default 1) */
} stft_case;

static void run_stft_case(const stft_case *c) {
  int64_t xd[3] = {c->batch, c->len, c->cin};
  size_t nx = numel(3, xd);
  float *x = malloc((nx + 1) * sizeof *x);
  for (size_t i = 0; i < nx; i++) x[i] = rnd();
  float w[512];
  for (int64_t i = 0; i < c->window; i++) w[i] = 0.5f + 0.5f * rnd();
  int64_t n = c->frame_length ? c->frame_length : c->window;
  int one = c->onesided < 0 ? 1 : c->onesided;
  int64_t frames = (c->len - n) / c->step + 1, bins = one ? n / 2 + 1 : n;
  int64_t od[4] = {c->batch, frames, bins, 2};
  float *want = malloc((numel(4, od) + 1) * sizeof *want);
  double *line = malloc(2 * (size_t)n * sizeof *line);
  double *res = malloc(2 * (size_t)n * sizeof *res);
  for (int64_t b = 0; b < c->batch; b++)
    for (int64_t f = 0; f < frames; f++) {
      for (int64_t j = 0; j < n; j++) {
        size_t at = (size_t)((b * c->len + f * c->step + j) * c->cin);
        double wj = c->window ? w[j] : 1.0;
        line[2 * j] = wj * x[at];
        line[2 * j + 1] = c->cin == 2 ? wj * x[at + 1] : 0;
      }
      ref_dft(line, (size_t)n, -1, res);
      for (int64_t k = 0; k < 2 * bins; k++)
        want[(size_t)(((b * frames + f) * bins) * 2 + k)] = (float)res[k];
    }
  optest *t = optest_new("STFT", 17);
  if (c->onesided >= 0) optest_attr_int(t, "onesided", c->onesided);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  int64_t step = c->step, fl = c->frame_length;
  optest_input(t, EMBER_INT64, 0, NULL, &step);
  if (c->window)
    optest_input(t, EMBER_FLOAT, 1, &c->window, w);
  else if (c->frame_length)
    optest_input_none(t);
  if (c->frame_length) optest_input_const(t, EMBER_INT64, 0, NULL, &fl);
  must_run(t);
  optest_expect_f32(optest_output(t, 0), 4, od, want, 1e-4f,
                    1e-5f * (float)(n + 1));
  optest_free(t);
  free(x);
  free(want);
  free(line);
  free(res);
}

static void test_stft(void **state) {
  (void)state;
  static const stft_case cases[] = {
      {1, 128, 1, 8, 0, 16, -1},   /* the conformance layout */
      {1, 128, 1, 8, 16, 0, -1},   /* window gives the length */
      {2, 50, 1, 3, 12, 12, 1},    /* direct-sum length, both inputs */
      {2, 50, 1, 5, 0, 12, 0},     /* two-sided */
      {1, 40, 2, 7, 9, 0, 0},      /* complex signal, odd length */
      {1, 300, 1, 100, 100, 0, 1}, /* Bluestein */
      {1, 16, 1, 4, 16, 0, 1},     /* exactly one frame */
      {3, 10, 1, 1, 1, 0, 0},      /* frames of one sample */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    run_stft_case(&cases[i]);
}

static void test_stft_errors(void **state) {
  (void)state;
  float x[64] = {0}, w[8] = {0};
  int64_t xd[3] = {1, 32, 1}, xc[3] = {1, 32, 2}, step = 4, fl = 16, wd = 8;
  /* neither window nor frame_length */
  optest *t = optest_new("STFT", 17);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_INT64, 0, NULL, &step);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "frame_length");
  optest_free(t);
  /* window and frame_length disagree */
  t = optest_new("STFT", 17);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_INT64, 0, NULL, &step);
  optest_input(t, EMBER_FLOAT, 1, &wd, w);
  optest_input(t, EMBER_INT64, 0, NULL, &fl);
  must_fail(t, EMBER_ERR_SHAPE, "window");
  optest_free(t);
  /* frame_step 0 */
  int64_t zero = 0;
  t = optest_new("STFT", 17);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_INT64, 0, NULL, &zero);
  optest_input(t, EMBER_FLOAT, 1, &wd, w);
  must_fail(t, EMBER_ERR_RUNTIME, "frame_step");
  optest_free(t);
  /* a signal shorter than a frame */
  int64_t big = 64;
  t = optest_new("STFT", 17);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_INT64, 0, NULL, &step);
  optest_input_none(t);
  optest_input(t, EMBER_INT64, 0, NULL, &big);
  must_fail(t, EMBER_ERR_RUNTIME, "fewer");
  optest_free(t);
  /* onesided with a complex signal */
  t = optest_new("STFT", 17);
  optest_input(t, EMBER_FLOAT, 3, xc, x);
  optest_input(t, EMBER_INT64, 0, NULL, &step);
  optest_input(t, EMBER_FLOAT, 1, &wd, w);
  must_fail(t, EMBER_ERR_SHAPE, "onesided");
  optest_free(t);
  /* rank-2 signal */
  t = optest_new("STFT", 17);
  optest_input(t, EMBER_FLOAT, 2, xd, x);
  optest_input(t, EMBER_INT64, 0, NULL, &step);
  optest_input(t, EMBER_FLOAT, 1, &wd, w);
  must_fail(t, EMBER_ERR_SHAPE, "rank");
  optest_free(t);
}

/* ----------------------------------------------------------- windows */

static double window_ref(const char *op, int periodic, int64_t size,
                         int64_t k) {
  if (!periodic && size == 1) return 1.0;
  double n = (double)(periodic ? size : size - 1);
  double t = 2.0 * PI * (double)k / n;
  if (!strcmp(op, "HannWindow")) return 0.5 - 0.5 * cos(t);
  if (!strcmp(op, "HammingWindow"))
    return 25.0 / 46.0 - (1.0 - 25.0 / 46.0) * cos(t);
  return 0.42 - 0.5 * cos(t) + 0.08 * cos(2.0 * t);
}

static void test_windows(void **state) {
  (void)state;
  const char *ops[] = {"HannWindow", "HammingWindow", "BlackmanWindow"};
  int64_t sizes[] = {0, 1, 2, 7, 10, 33};
  for (int o = 0; o < 3; o++)
    for (int per = -1; per <= 1; per++) /* -1: attribute absent */
      for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (int i32 = 0; i32 <= 1; i32++) {
          int64_t size = sizes[si];
          int32_t size32 = (int32_t)size;
          optest *t = optest_new(ops[o], 17);
          if (per >= 0) optest_attr_int(t, "periodic", per);
          if (i32)
            optest_input(t, EMBER_INT32, 0, NULL, &size32);
          else
            optest_input_const(t, EMBER_INT64, 0, NULL, &size);
          must_run(t);
          float want[64];
          for (int64_t k = 0; k < size; k++)
            want[k] = (float)window_ref(ops[o], per != 0, size, k);
          optest_expect_f32(optest_output(t, 0), 1, &size, want, 1e-6f, 1e-7f);
          optest_free(t);
        }
}

static void test_window_output_types(void **state) {
  (void)state;
  int64_t size = 9;
  /* float64 */
  optest *t = optest_new("HannWindow", 17);
  optest_attr_int(t, "output_datatype", EMBER_DOUBLE);
  optest_input(t, EMBER_INT64, 0, NULL, &size);
  must_run(t);
  const emb_value *v = optest_output(t, 0);
  assert_int_equal(v->t.dtype, EMBER_DOUBLE);
  for (int k = 0; k < 9; k++) {
    double want = window_ref("HannWindow", 1, 9, k);
    double got = ((const double *)v->t.data)[k];
    if (fabs(got - want) > 1e-14)
      fail_msg("element %d: got %.17g, expected %.17g", k, got, want);
  }
  optest_free(t);
  /* int32: truncated like a C cast; the peak of a symmetric window is 1 */
  t = optest_new("BlackmanWindow", 17);
  optest_attr_int(t, "output_datatype", EMBER_INT32);
  optest_attr_int(t, "periodic", 0);
  optest_input(t, EMBER_INT64, 0, NULL, &size);
  must_run(t);
  v = optest_output(t, 0);
  assert_int_equal(v->t.dtype, EMBER_INT32);
  for (int k = 0; k < 9; k++) {
    int32_t want = (int32_t)window_ref("BlackmanWindow", 0, 9, k);
    if (((const int32_t *)v->t.data)[k] != want)
      fail_msg("element %d: got %d, expected %d", k,
               ((const int32_t *)v->t.data)[k], want);
  }
  optest_free(t);
  /* float16 */
  t = optest_new("HammingWindow", 17);
  optest_attr_int(t, "output_datatype", EMBER_FLOAT16);
  optest_input(t, EMBER_INT64, 0, NULL, &size);
  must_run(t);
  v = optest_output(t, 0);
  assert_int_equal(v->t.dtype, EMBER_FLOAT16);
  for (int k = 0; k < 9; k++) {
    float got = emb_f16_to_f32(((const uint16_t *)v->t.data)[k]);
    double want = window_ref("HammingWindow", 1, 9, k);
    if (fabs(got - want) > 1e-3)
      fail_msg("element %d: got %g, expected %g", k, got, want);
  }
  optest_free(t);
}

static void test_window_errors(void **state) {
  (void)state;
  int64_t size = 4, neg = -3;
  optest *t = optest_new("HannWindow", 17);
  optest_attr_int(t, "output_datatype", EMBER_BOOL);
  optest_input(t, EMBER_INT64, 0, NULL, &size);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "output_datatype");
  optest_free(t);
  t = optest_new("HammingWindow", 17);
  optest_attr_int(t, "periodic", 3);
  optest_input(t, EMBER_INT64, 0, NULL, &size);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "periodic");
  optest_free(t);
  t = optest_new("BlackmanWindow", 17);
  optest_input(t, EMBER_INT64, 0, NULL, &neg);
  must_fail(t, EMBER_ERR_RUNTIME, "size");
  optest_free(t);
  t = optest_new("BlackmanWindow", 17);
  optest_input_const(t, EMBER_INT64, 0, NULL, &neg);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "size");
  optest_free(t);
  float fsize = 4;
  t = optest_new("HannWindow", 17);
  optest_input(t, EMBER_FLOAT, 0, NULL, &fsize);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "float32");
  optest_free(t);
}

/* --------------------------------------------------- MelWeightMatrix */

/* The matrix as the specification's formula builds it. */
static void mel_reference(int64_t mels, int64_t n, int64_t rate, double lo_hz,
                          double hi_hz, double *out) {
  int64_t bins = n / 2 + 1;
  memset(out, 0, (size_t)(bins * mels) * sizeof *out);
  double lo = 2595.0 * log10(1.0 + lo_hz / 700.0);
  double hi = 2595.0 * log10(1.0 + hi_hz / 700.0);
  double step = (hi - lo) / (double)(mels + 2);
  int64_t fb[300];
  for (int64_t i = 0; i < mels + 2; i++) {
    double hz = 700.0 * (pow(10.0, ((double)i * step + lo) / 2595.0) - 1.0);
    fb[i] = (int64_t)floor((double)(n + 1) * hz / (double)rate);
  }
  for (int64_t i = 0; i < mels; i++) {
    int64_t l = fb[i], c = fb[i + 1], h = fb[i + 2];
    if (c == l) {
      if (c < bins) out[c * mels + i] = 1;
    } else {
      for (int64_t j = l; j <= c; j++)
        if (j < bins) out[j * mels + i] = (double)(j - l) / (double)(c - l);
    }
    if (h > c)
      for (int64_t j = c; j < h; j++)
        if (j < bins) out[j * mels + i] = (double)(h - j) / (double)(h - c);
  }
}

static void test_melweightmatrix(void **state) {
  (void)state;
  static const struct {
    int64_t mels, n, rate;
    float lo, hi;
  } cases[] = {
      {8, 16, 8192, 0, 4096}, /* the conformance case */
      {10, 64, 16000, 20, 8000},  {5, 31, 8000, 100, 3000}, /* odd dft_length */
      {40, 512, 22050, 0, 11025}, {1, 8, 100, 0, 50},
      {0, 8, 100, 0, 50},      /* no bands: [5, 0] */
      {3, 16, 1000, 200, 200}, /* a zero-width band */
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
    int64_t bins = cases[ci].n / 2 + 1, mels = cases[ci].mels;
    double *ref = malloc((size_t)(bins * mels + 1) * sizeof *ref);
    float *want = malloc((size_t)(bins * mels + 1) * sizeof *want);
    mel_reference(mels, cases[ci].n, cases[ci].rate, cases[ci].lo, cases[ci].hi,
                  ref);
    for (int64_t i = 0; i < bins * mels; i++) want[i] = (float)ref[i];
    for (int konst = 0; konst <= 1; konst++) {
      optest *t = optest_new("MelWeightMatrix", 17);
      int32_t iv[3] = {(int32_t)mels, (int32_t)cases[ci].n,
                       (int32_t)cases[ci].rate};
      for (int i = 0; i < 3; i++)
        (konst ? optest_input_const : optest_input)(t, EMBER_INT32, 0, NULL,
                                                    &iv[i]);
      (konst ? optest_input_const : optest_input)(t, EMBER_FLOAT, 0, NULL,
                                                  &cases[ci].lo);
      (konst ? optest_input_const : optest_input)(t, EMBER_FLOAT, 0, NULL,
                                                  &cases[ci].hi);
      must_run(t);
      int64_t od[2] = {bins, mels};
      optest_expect_f32(optest_output(t, 0), 2, od, want, 1e-6f, 1e-7f);
      optest_free(t);
    }
    free(ref);
    free(want);
  }
  /* output_datatype float64 */
  optest *t = optest_new("MelWeightMatrix", 17);
  optest_attr_int(t, "output_datatype", EMBER_DOUBLE);
  int64_t iv[3] = {4, 20, 1000};
  double edges[2] = {0, 500};
  for (int i = 0; i < 3; i++) optest_input(t, EMBER_INT64, 0, NULL, &iv[i]);
  for (int i = 0; i < 2; i++) optest_input(t, EMBER_DOUBLE, 0, NULL, &edges[i]);
  must_run(t);
  double ref[44];
  mel_reference(4, 20, 1000, 0, 500, ref);
  const emb_value *v = optest_output(t, 0);
  assert_int_equal(v->t.dtype, EMBER_DOUBLE);
  assert_int_equal(v->t.dims[0], 11);
  assert_int_equal(v->t.dims[1], 4);
  for (int i = 0; i < 44; i++)
    if (fabs(((const double *)v->t.data)[i] - ref[i]) > 1e-12)
      fail_msg("element %d: got %g, expected %g", i,
               ((const double *)v->t.data)[i], ref[i]);
  optest_free(t);
}

static void test_melweightmatrix_errors(void **state) {
  (void)state;
  struct {
    int64_t mels, n, rate;
    float lo, hi;
    const char *part;
  } bad[] = {
      {4, 0, 1000, 0, 500, "dft_length"},     {4, 16, 0, 0, 500, "sample_rate"},
      {-1, 16, 1000, 0, 500, "num_mel_bins"}, {4, 16, 1000, 600, 500, "band"},
      {4, 16, 1000, -5, 500, "band"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    optest *t = optest_new("MelWeightMatrix", 17);
    int64_t iv[3] = {bad[i].mels, bad[i].n, bad[i].rate};
    for (int k = 0; k < 3; k++) optest_input(t, EMBER_INT64, 0, NULL, &iv[k]);
    optest_input(t, EMBER_FLOAT, 0, NULL, &bad[i].lo);
    optest_input(t, EMBER_FLOAT, 0, NULL, &bad[i].hi);
    must_fail(t, EMBER_ERR_RUNTIME, bad[i].part);
    optest_free(t);
  }
  optest *t = optest_new("MelWeightMatrix", 17);
  optest_attr_int(t, "output_datatype", EMBER_STRING);
  int64_t iv[3] = {4, 16, 1000};
  float e[2] = {0, 500};
  for (int k = 0; k < 3; k++) optest_input(t, EMBER_INT64, 0, NULL, &iv[k]);
  for (int k = 0; k < 2; k++) optest_input(t, EMBER_FLOAT, 0, NULL, &e[k]);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "output_datatype");
  optest_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fft_kernel_all_paths),
      cmocka_unit_test(test_dft_forward_inverse),
      cmocka_unit_test(test_dft_onesided),
      cmocka_unit_test(test_dft_types_and_empty),
      cmocka_unit_test(test_dft_errors),
      cmocka_unit_test(test_stft),
      cmocka_unit_test(test_stft_errors),
      cmocka_unit_test(test_windows),
      cmocka_unit_test(test_window_output_types),
      cmocka_unit_test(test_window_errors),
      cmocka_unit_test(test_melweightmatrix),
      cmocka_unit_test(test_melweightmatrix_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
