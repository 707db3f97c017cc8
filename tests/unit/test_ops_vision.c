/*
 * Unit tests for the vision family (lib/ops/resize.c, gridsample.c,
 * roialign.c, deformconv.c, vision.c) through the one-node harness
 * (optest.h).  Every expected value is computed here, straight from the
 * formulas of the ONNX spec, by brute force per output element: Resize
 * and Upsample by a direct tensor-product sum over all axes (the library
 * resizes one axis at a time), GridSample by per-point interpolation,
 * DeformConv by comparison with a plain convolution loop, Col2Im,
 * LpPool, RoiAlign and NonMaxSuppression by direct loops.  Edge shapes
 * (size-1 and odd dims, empty outputs), the older opset forms (Upsample-7
 * attribute scales, Resize-10/11 inputs, LpPool-1 float p) and the
 * errors (status plus a message naming the node 'n0') are covered.
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

/* Shared harness helpers (tests/unit/optest.c). */
#define must_run optest_must_run

/* ------------------------------------------------------------ helpers */


static void must_fail(optest *t, ember_status want, const char *part) {
  ember_status st = optest_run(t);
  const char *msg = optest_errmsg(t);
  if (st != want)
    fail_msg("status %d, expected %d (message: %s)", (int)st, (int)want, msg);
  if (!strstr(msg, "'n0'")) fail_msg("message '%s' does not name the node", msg);
  if (part && !strstr(msg, part))
    fail_msg("message '%s' lacks '%s'", msg, part);
}

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

static void expect_f32(const emb_tensor *t, const double *want, size_t n,
                       double rtol, double atol) {
  const float *g = t->data;
  for (size_t i = 0; i < n; i++)
    if (!(fabs(g[i] - want[i]) <= atol + rtol * fabs(want[i])))
      fail_msg("element %zu: got %.9g, expected %.9g", i, (double)g[i],
               want[i]);
}

/* Deterministic pseudo-random values in [lo, hi). */
static uint64_t rng_state = 88172645463325252ull;
static double urand(double lo, double hi) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}
static void fill(float *p, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++) p[i] = (float)urand(lo, hi);
}

/* Coordinates of flat index i in dims (row-major). */
static void unflat(size_t i, int rank, const int64_t *dims, int64_t *c) {
  for (int k = rank - 1; k >= 0; k--) {
    c[k] = (int64_t)(i % (size_t)dims[k]);
    i /= (size_t)dims[k];
  }
}

static size_t flat(int rank, const int64_t *dims, const int64_t *c) {
  size_t i = 0;
  for (int k = 0; k < rank; k++) i = i * (size_t)dims[k] + (size_t)c[k];
  return i;
}

/* ===================================================== Resize reference */

enum { M_NEAREST, M_LINEAR, M_CUBIC };

typedef struct rref {
  int mode;
  const char *ctm;
  const char *nearest;
  double a;           /* cubic coefficient */
  double extrap;
  const double *lo, *hi; /* roi per axis (tf_crop_and_resize) */
} rref;

static double cubic_w(double x, double a) {
  x = fabs(x);
  if (x <= 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
  if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
  return 0;
}

/* Source coordinate per the spec; *out set outside (tf_crop_and_resize). */
static double ref_coord(const rref *r, int k, double x, double in,
                        double outlen, double scale, bool *out) {
  const char *m = r->ctm;
  *out = false;
  if (!strcmp(m, "half_pixel")) return (x + 0.5) / scale - 0.5;
  if (!strcmp(m, "pytorch_half_pixel"))
    return outlen > 1 ? (x + 0.5) / scale - 0.5 : 0;
  if (!strcmp(m, "align_corners"))
    return outlen == 1 ? 0 : x * (in - 1) / (outlen - 1);
  if (!strcmp(m, "asymmetric")) return x / scale;
  /* tf_crop_and_resize */
  double v = outlen > 1 ? r->lo[k] * (in - 1) +
                              x * (r->hi[k] - r->lo[k]) * (in - 1) /
                                  (outlen - 1)
                        : 0.5 * (r->lo[k] + r->hi[k]) * (in - 1);
  if (v < 0 || v > in - 1) *out = true;
  return v;
}

/* Taps of one axis: up to 4 clamped indices and weights. */
static int ref_taps(const rref *r, double x, int64_t in, int64_t *idx,
                    double *w) {
  if (r->mode == M_NEAREST) {
    double i;
    const char *nm = r->nearest ? r->nearest : "round_prefer_floor";
    if (!strcmp(nm, "floor"))
      i = floor(x);
    else if (!strcmp(nm, "ceil"))
      i = ceil(x);
    else if (!strcmp(nm, "round_prefer_ceil"))
      i = (x - floor(x) >= 0.5) ? floor(x) + 1 : floor(x);
    else
      i = (x - floor(x) > 0.5) ? floor(x) + 1 : floor(x);
    idx[0] = i < 0 ? 0 : i > (double)(in - 1) ? in - 1 : (int64_t)i;
    w[0] = 1;
    return 1;
  }
  double f = floor(x), t = x - f;
  int n = r->mode == M_LINEAR ? 2 : 4, first = r->mode == M_LINEAR ? 0 : -1;
  for (int j = 0; j < n; j++) {
    int64_t i = (int64_t)f + first + j;
    double d = (double)(first + j) - t;
    w[j] = r->mode == M_LINEAR ? (fabs(d) < 1 ? 1 - fabs(d) : 0)
                               : cubic_w(d, r->a);
    idx[j] = i < 0 ? 0 : i >= in ? in - 1 : i;
  }
  return n;
}

/* y = resize(x) per element: sum over the product of every axis' taps. */
static void ref_resize(const rref *r, int rank, const int64_t *in,
                       const int64_t *out, const double *scale,
                       const double *outlen, const float *x, double *y) {
  size_t n = numel(rank, out);
  for (size_t e = 0; e < n; e++) {
    int64_t o[8], ti[8][4], k[8] = {0};
    double tw[8][4];
    int nt[8];
    bool outside = false;
    unflat(e, rank, out, o);
    for (int d = 0; d < rank; d++) {
      bool od;
      double c = ref_coord(r, d, (double)o[d], (double)in[d], outlen[d],
                           scale[d], &od);
      outside |= od;
      nt[d] = ref_taps(r, c, in[d], ti[d], tw[d]);
    }
    if (outside) {
      y[e] = r->extrap;
      continue;
    }
    double acc = 0;
    for (;;) {
      double w = 1;
      int64_t c[8];
      for (int d = 0; d < rank; d++) {
        w *= tw[d][k[d]];
        c[d] = ti[d][k[d]];
      }
      acc += w * x[flat(rank, in, c)];
      int d = rank - 1;
      for (; d >= 0; d--) {
        if (++k[d] < nt[d]) break;
        k[d] = 0;
      }
      if (d < 0) break;
    }
    y[e] = acc;
  }
}

/* Run a float32 Resize-19 with scales and compare with the reference. */
static void check_resize_scales(const rref *r, int rank, const int64_t *in,
                                const float *scales, bool as_const) {
  int64_t out[8], sd[1] = {rank};
  double sc[8], ol[8];
  for (int d = 0; d < rank; d++) {
    sc[d] = scales[d];
    ol[d] = (double)in[d] * sc[d];
    out[d] = (int64_t)floor(ol[d]);
  }
  size_t nx = numel(rank, in), ny = numel(rank, out);
  float *x = malloc(nx * sizeof *x);
  double *want = malloc(ny * sizeof *want);
  fill(x, nx, -5, 5);
  ref_resize(r, rank, in, out, sc, ol, x, want);
  optest *t = optest_new("Resize", 19);
  optest_attr_string(t, "mode", r->mode == M_NEAREST  ? "nearest"
                                : r->mode == M_LINEAR ? "linear"
                                                      : "cubic");
  optest_attr_string(t, "coordinate_transformation_mode", r->ctm);
  if (r->nearest) optest_attr_string(t, "nearest_mode", r->nearest);
  if (r->mode == M_CUBIC) optest_attr_float(t, "cubic_coeff_a", (float)r->a);
  optest_input(t, EMBER_FLOAT, rank, in, x);
  optest_input_none(t);
  if (as_const)
    optest_input_const(t, EMBER_FLOAT, 1, sd, scales);
  else
    optest_input(t, EMBER_FLOAT, 1, sd, scales);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, rank, out), want, ny, 1e-5, 1e-5);
  optest_free(t);
  free(x);
  free(want);
}

static void test_resize_modes(void **state) {
  (void)state;
  static const char *const ctms[] = {"half_pixel", "pytorch_half_pixel",
                                     "align_corners", "asymmetric"};
  int64_t in4[4] = {2, 3, 5, 4};
  float up[4] = {1, 1, 2.5f, 1.75f}, down[4] = {1, 1, 0.6f, 0.5f};
  float mixed[4] = {1, 1, 1.4f, 0.75f};
  for (int m = 0; m < 3; m++)
    for (size_t c = 0; c < 4; c++) {
      rref r = {m, ctms[c], NULL, -0.75, 0, NULL, NULL};
      check_resize_scales(&r, 4, in4, up, false);
      check_resize_scales(&r, 4, in4, down, true);
      check_resize_scales(&r, 4, in4, mixed, false);
    }
  /* nearest_mode variants and cubic_coeff_a, 1-D and 3-D */
  static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil",
                                    "floor", "ceil"};
  int64_t in1[1] = {7}, in3[3] = {3, 1, 4};
  float s1[1] = {2.0f}, s3[3] = {1.5f, 3.0f, 0.5f};
  for (int k = 0; k < 4; k++) {
    rref r = {M_NEAREST, "asymmetric", nms[k], -0.75, 0, NULL, NULL};
    check_resize_scales(&r, 1, in1, s1, false);
    r.ctm = "half_pixel";
    check_resize_scales(&r, 3, in3, s3, true);
  }
  rref rc = {M_CUBIC, "half_pixel", NULL, -0.5, 0, NULL, NULL};
  check_resize_scales(&rc, 3, in3, s3, false);
}

/* sizes, axes (negative too), keep_aspect_ratio_policy, roi. */
static void test_resize_sizes_axes(void **state) {
  (void)state;
  int64_t in[4] = {1, 2, 3, 5}, two[1] = {2};
  float x[30];
  fill(x, 30, 0, 10);
  /* sizes on axes (-1, 2): W -> 7, H -> 2, linear half_pixel */
  {
    int64_t sizes[2] = {7, 2}, out[4] = {1, 2, 2, 7};
    int64_t axes[2] = {-1, 2};
    double sc[4] = {1, 1, 2.0 / 3.0, 7.0 / 5.0}, ol[4] = {1, 2, 2, 7};
    double want[28];
    rref r = {M_LINEAR, "half_pixel", NULL, -0.75, 0, NULL, NULL};
    ref_resize(&r, 4, in, out, sc, ol, x, want);
    optest *t = optest_new("Resize", 18);
    optest_attr_string(t, "mode", "linear");
    optest_attr_ints(t, "axes", 2, axes);
    optest_input(t, EMBER_FLOAT, 4, in, x);
    optest_input_none(t);
    optest_input_none(t);
    optest_input_const(t, EMBER_INT64, 1, two, sizes);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 4, out), want, 28, 1e-5, 1e-5);
    optest_free(t);
  }
  /* keep_aspect_ratio_policy: H 3, W 5 with sizes (6, 6) */
  static const char *const pol[2] = {"not_larger", "not_smaller"};
  for (int p = 0; p < 2; p++) {
    int64_t sizes[2] = {6, 6}, axes[2] = {2, 3};
    double s = p == 0 ? 6.0 / 5.0 : 2.0;
    int64_t out[4] = {1, 2, (int64_t)floor(3 * s + 0.5),
                      (int64_t)floor(5 * s + 0.5)};
    double sc[4] = {1, 1, s, s}, ol[4] = {1, 2, 3 * s, 5 * s};
    double want[200];
    rref r = {M_NEAREST, "half_pixel", NULL, -0.75, 0, NULL, NULL};
    ref_resize(&r, 4, in, out, sc, ol, x, want);
    optest *t = optest_new("Resize", 19);
    optest_attr_ints(t, "axes", 2, axes);
    optest_attr_string(t, "keep_aspect_ratio_policy", pol[p]);
    optest_input(t, EMBER_FLOAT, 4, in, x);
    optest_input_none(t);
    optest_input_none(t);
    optest_input(t, EMBER_INT64, 1, two, sizes);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 4, out), want, numel(4, out), 0, 0);
    optest_free(t);
  }
  /* tf_crop_and_resize with extrapolation, cubic */
  {
    double lo[4] = {0, 0, -0.2, 0.3}, hi[4] = {1, 1, 0.9, 1.4};
    float roi[8] = {0, 0, -0.2f, 0.3f, 1, 1, 0.9f, 1.4f};
    int64_t sizes[4] = {1, 2, 4, 6}, out[4] = {1, 2, 4, 6}, n4[1] = {4},
            n8[1] = {8};
    double flo[4], fhi[4];
    for (int k = 0; k < 4; k++) {
      flo[k] = (float)lo[k];
      fhi[k] = (float)hi[k];
    }
    double sc[4] = {1, 1, 4.0 / 3, 6.0 / 5}, ol[4] = {1, 2, 4, 6};
    double want[48];
    rref r = {M_CUBIC, "tf_crop_and_resize", NULL, -0.75, 2.5, flo, fhi};
    ref_resize(&r, 4, in, out, sc, ol, x, want);
    optest *t = optest_new("Resize", 13);
    optest_attr_string(t, "mode", "cubic");
    optest_attr_string(t, "coordinate_transformation_mode",
                       "tf_crop_and_resize");
    optest_attr_float(t, "extrapolation_value", 2.5f);
    optest_input(t, EMBER_FLOAT, 4, in, x);
    optest_input(t, EMBER_FLOAT, 1, n8, roi);
    optest_input_none(t);
    optest_input(t, EMBER_INT64, 1, n4, sizes);
    must_run(t);
    const emb_tensor *y = out_t(t, 0, EMBER_FLOAT, 4, out);
    expect_f32(y, want, 48, 1e-5, 1e-5);
    bool saw_extrap = false;
    for (int i = 0; i < 48; i++) saw_extrap |= want[i] == 2.5;
    assert_true(saw_extrap);
    optest_free(t);
  }
}

/* antialias (triangle / cubic filter stretched by 1/scale, normalized)
 * and exclude_outside (weights outside dropped, renormalized), 1-D. */
static void test_resize_antialias_exclude(void **state) {
  (void)state;
  int64_t in[1] = {11}, one[1] = {1};
  float x[11];
  fill(x, 11, -3, 3);
  for (int mode = M_LINEAR; mode <= M_CUBIC; mode++)
    for (int ex = 0; ex < 2; ex++) {
      float sc[1] = {0.4f};
      int64_t out[1] = {4};
      double s = sc[0], y[4];
      for (int j = 0; j < 4; j++) {
        double c = (j + 0.5) / s - 0.5, num = 0, den = 0;
        double support = (mode == M_LINEAR ? 1.0 : 2.0) / s;
        for (int64_t i = (int64_t)floor(c - support) - 1;
             i <= (int64_t)ceil(c + support) + 1; i++) {
          double a = (double)(i - c) * s;
          double w = mode == M_LINEAR ? fmax(0, 1 - fabs(a))
                                      : cubic_w(a, -0.75);
          if (ex && (i < 0 || i > 10)) w = 0;
          int64_t ci = i < 0 ? 0 : i > 10 ? 10 : i;
          num += w * x[ci];
          den += w;
        }
        y[j] = num / den;
      }
      optest *t = optest_new("Resize", 18);
      optest_attr_string(t, "mode", mode == M_LINEAR ? "linear" : "cubic");
      optest_attr_int(t, "antialias", 1);
      if (ex) optest_attr_int(t, "exclude_outside", 1);
      optest_input(t, EMBER_FLOAT, 1, in, x);
      optest_input_none(t);
      optest_input(t, EMBER_FLOAT, 1, one, sc);
      must_run(t);
      expect_f32(out_t(t, 0, EMBER_FLOAT, 1, out), y, 4, 1e-5, 1e-5);
      optest_free(t);
    }
  /* exclude_outside on an upsampling cubic: edge weights renormalized */
  {
    float sc[1] = {2.0f};
    int64_t out[1] = {22};
    double y[22];
    for (int j = 0; j < 22; j++) {
      double c = (j + 0.5) / 2 - 0.5, f = floor(c), num = 0, den = 0;
      for (int k = -1; k <= 2; k++) {
        int64_t i = (int64_t)f + k;
        double w = cubic_w((double)k - (c - f), -0.5);
        if (i < 0 || i > 10) continue;
        num += w * x[i];
        den += w;
      }
      y[j] = num / den;
    }
    optest *t = optest_new("Resize", 19);
    optest_attr_string(t, "mode", "cubic");
    optest_attr_float(t, "cubic_coeff_a", -0.5f);
    optest_attr_int(t, "exclude_outside", 1);
    optest_input(t, EMBER_FLOAT, 1, in, x);
    optest_input_none(t);
    optest_input(t, EMBER_FLOAT, 1, one, sc);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 1, out), y, 22, 1e-5, 1e-5);
    optest_free(t);
  }
}

/* Other element types: uint8 rounds half to even and saturates, float16,
 * double, int64 nearest exactly, strings by nearest. */
static void test_resize_types(void **state) {
  (void)state;
  int64_t in[2] = {1, 4}, two[1] = {2};
  float sc[2] = {1, 2.5f};
  int64_t out[2] = {1, 10};
  /* uint8 cubic: overshoot saturates */
  {
    uint8_t x[4] = {0, 255, 255, 0};
    float xf[4] = {0, 255, 255, 0};
    double sd[2] = {1, 2.5}, ol[2] = {1, 10}, want[10];
    rref r = {M_CUBIC, "half_pixel", NULL, -0.75, 0, NULL, NULL};
    ref_resize(&r, 2, in, out, sd, ol, xf, want);
    optest *t = optest_new("Resize", 19);
    optest_attr_string(t, "mode", "cubic");
    optest_input(t, EMBER_UINT8, 2, in, x);
    optest_input_none(t);
    optest_input(t, EMBER_FLOAT, 1, two, sc);
    must_run(t);
    const uint8_t *y = out_t(t, 0, EMBER_UINT8, 2, out)->data;
    for (int i = 0; i < 10; i++) {
      double v = nearbyint(want[i]);
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      if (y[i] != (uint8_t)v)
        fail_msg("uint8 element %d: got %d, expected %g (from %.6f)", i, y[i],
                 v, want[i]);
    }
    optest_free(t);
  }
  /* float16 and double linear */
  {
    float xf[4] = {1, -2, 3.5f, 8};
    uint16_t xh[4];
    double xd[4];
    for (int i = 0; i < 4; i++) {
      xh[i] = emb_f32_to_f16(xf[i]);
      xd[i] = xf[i];
    }
    double sd[2] = {1, 2.5}, ol[2] = {1, 10}, want[10];
    rref r = {M_LINEAR, "half_pixel", NULL, -0.75, 0, NULL, NULL};
    ref_resize(&r, 2, in, out, sd, ol, xf, want);
    optest *t = optest_new("Resize", 19);
    optest_attr_string(t, "mode", "linear");
    optest_input(t, EMBER_FLOAT16, 2, in, xh);
    optest_input_none(t);
    optest_input(t, EMBER_FLOAT, 1, two, sc);
    must_run(t);
    const uint16_t *yh = out_t(t, 0, EMBER_FLOAT16, 2, out)->data;
    for (int i = 0; i < 10; i++)
      if (fabs(emb_f16_to_f32(yh[i]) - want[i]) > 4e-3 * fabs(want[i]) + 1e-3)
        fail_msg("float16 element %d: got %g, expected %g", i,
                 (double)emb_f16_to_f32(yh[i]), want[i]);
    optest_free(t);
    t = optest_new("Resize", 19);
    optest_attr_string(t, "mode", "linear");
    optest_input(t, EMBER_DOUBLE, 2, in, xd);
    optest_input_none(t);
    optest_input(t, EMBER_FLOAT, 1, two, sc);
    must_run(t);
    const double *yd = out_t(t, 0, EMBER_DOUBLE, 2, out)->data;
    for (int i = 0; i < 10; i++)
      if (fabs(yd[i] - want[i]) > 1e-12)
        fail_msg("double element %d: got %.17g, expected %.17g", i, yd[i],
                 want[i]);
    optest_free(t);
  }
  /* int64 nearest keeps values beyond float precision exactly */
  {
    int64_t x[4] = {INT64_MAX, -3, (1ll << 60) + 1, 7};
    int64_t want[10];
    for (int j = 0; j < 10; j++) {
      double c = (j + 0.5) / 2.5 - 0.5;
      double i = (c - floor(c) > 0.5) ? floor(c) + 1 : floor(c);
      want[j] = x[i < 0 ? 0 : i > 3 ? 3 : (int)i];
    }
    optest *t = optest_new("Resize", 19);
    optest_input(t, EMBER_INT64, 2, in, x);
    optest_input_none(t);
    optest_input(t, EMBER_FLOAT, 1, two, sc);
    must_run(t);
    optest_expect_i64(optest_output(t, 0), 2, out, want);
    optest_free(t);
  }
  /* strings by nearest */
  {
    const char *x[4] = {"a", "bb", "", "dddd"};
    optest *t = optest_new("Resize", 19);
    optest_attr_string(t, "coordinate_transformation_mode", "asymmetric");
    optest_attr_string(t, "nearest_mode", "floor");
    optest_input(t, EMBER_STRING, 2, in, x);
    optest_input_none(t);
    optest_input(t, EMBER_FLOAT, 1, two, sc);
    must_run(t);
    char *const *y = out_t(t, 0, EMBER_STRING, 2, out)->data;
    for (int j = 0; j < 10; j++)
      assert_string_equal(y[j], x[(int)floor(j / 2.5)]);
    optest_free(t);
  }
}

/* Upsample-7 (attribute), Upsample-9 and Resize-10 (input), Resize-11
 * (roi and empty scales before sizes); edge shapes. */
static void test_resize_old_and_edges(void **state) {
  (void)state;
  int64_t in[3] = {2, 3, 2}, three[1] = {3}, out[3] = {2, 6, 6};
  float x[12], sc[3] = {1, 2, 3};
  fill(x, 12, -1, 1);
  double want[72];
  for (int e = 0; e < 72; e++) {
    int64_t o[3];
    unflat((size_t)e, 3, out, o);
    int64_t c[3] = {o[0], o[1] / 2, o[2] / 3};
    want[e] = x[flat(3, in, c)];
  }
  for (int v = 0; v < 3; v++) {
    optest *t = optest_new(v == 2 ? "Resize" : "Upsample",
                           v == 0 ? 7 : v == 1 ? 9 : 10);
    if (v == 0) optest_attr_floats(t, "scales", 3, sc);
    optest_input(t, EMBER_FLOAT, 3, in, x);
    if (v) optest_input_const(t, EMBER_FLOAT, 1, three, sc);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 3, out), want, 72, 0, 0);
    optest_free(t);
  }
  /* Upsample linear is asymmetric: y[j] = lerp at j / scale */
  {
    int64_t i1[1] = {3}, o1[1] = {6}, one[1] = {1};
    float x1[3] = {1, 4, -2}, s1[1] = {2};
    double w1[6] = {1, 2.5, 4, 1, -2, -2};
    optest *t = optest_new("Upsample", 9);
    optest_attr_string(t, "mode", "linear");
    optest_input(t, EMBER_FLOAT, 1, i1, x1);
    optest_input(t, EMBER_FLOAT, 1, one, s1);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 1, o1), w1, 6, 1e-6, 1e-6);
    optest_free(t);
  }
  /* Resize-11: roi given but unused, empty scales, sizes */
  {
    int64_t zero[1] = {0}, sizes[3] = {2, 6, 6};
    float roi[1] = {0}, none[1] = {0};
    optest *t = optest_new("Resize", 11);
    optest_attr_string(t, "coordinate_transformation_mode", "asymmetric");
    optest_attr_string(t, "nearest_mode", "floor");
    optest_input(t, EMBER_FLOAT, 3, in, x);
    optest_input(t, EMBER_FLOAT, 1, zero, roi);
    optest_input(t, EMBER_FLOAT, 1, zero, none);
    optest_input(t, EMBER_INT64, 1, three, sizes);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 3, out), want, 72, 0, 0);
    optest_free(t);
  }
  /* size-1 input upsampled (every tap clamps to the one element), an
   * empty output, and scale 1 everywhere (a copy) */
  {
    int64_t i1[2] = {1, 1}, o1[2] = {3, 4}, two[1] = {2}, s0[2] = {0, 4};
    float v[1] = {2.5f}, s[2] = {3, 4}, s11[2] = {1, 1};
    double w[12];
    for (int i = 0; i < 12; i++) w[i] = 2.5;
    optest *t = optest_new("Resize", 19);
    optest_attr_string(t, "mode", "cubic");
    optest_input(t, EMBER_FLOAT, 2, i1, v);
    optest_input_none(t);
    optest_input(t, EMBER_FLOAT, 1, two, s);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 2, o1), w, 12, 1e-6, 0);
    optest_free(t);
    t = optest_new("Resize", 19);
    optest_attr_string(t, "mode", "linear");
    optest_input(t, EMBER_FLOAT, 2, i1, v);
    optest_input_none(t);
    optest_input_none(t);
    optest_input(t, EMBER_INT64, 1, two, s0);
    must_run(t);
    out_t(t, 0, EMBER_FLOAT, 2, s0);
    optest_free(t);
    int64_t i2[2] = {3, 4};
    t = optest_new("Resize", 19);
    optest_attr_string(t, "mode", "cubic");
    optest_input(t, EMBER_FLOAT, 2, i2, x);
    optest_input_none(t);
    optest_input(t, EMBER_FLOAT, 1, two, s11);
    must_run(t);
    double same[12];
    for (int i = 0; i < 12; i++) same[i] = x[i];
    expect_f32(out_t(t, 0, EMBER_FLOAT, 2, i2), same, 12, 0, 0);
    optest_free(t);
  }
}

static void test_resize_errors(void **state) {
  (void)state;
  int64_t in[2] = {2, 2}, two[1] = {2}, three[1] = {3};
  float x[4] = {1, 2, 3, 4}, sc[3] = {1, 2, 2};
  int64_t sizes[2] = {4, 4};
  optest *t = optest_new("Resize", 19);
  optest_attr_string(t, "mode", "bilinear");
  optest_input(t, EMBER_FLOAT, 2, in, x);
  optest_input_none(t);
  optest_input(t, EMBER_FLOAT, 1, two, sc);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "mode");
  optest_free(t);
  t = optest_new("Resize", 19);
  optest_input(t, EMBER_FLOAT, 2, in, x);
  optest_input_none(t);
  optest_input(t, EMBER_FLOAT, 1, two, sc);
  optest_input(t, EMBER_INT64, 1, two, sizes);
  must_fail(t, EMBER_ERR_RUNTIME, "both");
  optest_free(t);
  t = optest_new("Resize", 19);
  optest_input(t, EMBER_FLOAT, 2, in, x);
  optest_input_none(t);
  optest_input_const(t, EMBER_FLOAT, 1, three, sc);
  must_fail(t, EMBER_ERR_SHAPE, "scales");
  optest_free(t);
  float neg[2] = {1, -2};
  t = optest_new("Resize", 19);
  optest_input(t, EMBER_FLOAT, 2, in, x);
  optest_input_none(t);
  optest_input(t, EMBER_FLOAT, 1, two, neg);
  must_fail(t, EMBER_ERR_RUNTIME, "positive");
  optest_free(t);
  const char *s[4] = {"a", "b", "c", "d"};
  t = optest_new("Resize", 19);
  optest_attr_string(t, "mode", "linear");
  optest_input(t, EMBER_STRING, 2, in, s);
  optest_input_none(t);
  optest_input(t, EMBER_FLOAT, 1, two, sc + 1);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "string");
  optest_free(t);
  t = optest_new("Resize", 19);
  optest_input(t, EMBER_FLOAT, 2, in, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "required");
  optest_free(t);
  int64_t axes[2] = {1, 1};
  t = optest_new("Resize", 19);
  optest_attr_ints(t, "axes", 2, axes);
  optest_input(t, EMBER_FLOAT, 2, in, x);
  optest_input_none(t);
  optest_input(t, EMBER_FLOAT, 1, two, sc + 1);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "repeated");
  optest_free(t);
}

/* ========================================================== GridSample */

static double gs_unnorm(double g, int64_t n, bool ac) {
  return ac ? (g + 1) / 2 * (double)(n - 1) : ((g + 1) * (double)n - 1) / 2;
}

static double gs_pixel(const float *x, const int64_t *dims, int nsp,
                       const int64_t *c, const char *pad, bool ac) {
  int64_t cc[3];
  for (int d = 0; d < nsp; d++) {
    int64_t i = c[d], n = dims[d];
    if (!strcmp(pad, "border")) i = i < 0 ? 0 : i >= n ? n - 1 : i;
    if (!strcmp(pad, "reflection")) {
      /* integer taps mirror at -0.5 / n - 0.5 (or 0 / n - 1) */
      int64_t period = ac ? 2 * (n - 1) : 2 * n;
      if (period == 0) {
        i = 0;
      } else {
        int64_t m = ((i - (ac ? 0 : 0)) % period + period) % period;
        if (ac)
          i = m <= n - 1 ? m : period - m;
        else
          i = m < n ? m : period - 1 - m;
      }
    }
    if (i < 0 || i >= n) return 0;
    cc[d] = i;
  }
  return x[flat(nsp, dims, cc)];
}

/* Linear or nearest GridSample of one point with positions inside the
 * border range (so the coordinate step is the identity). */
static double gs_ref(const float *x, const int64_t *dims, int nsp,
                     const double *g, const char *mode, const char *pad,
                     bool ac) {
  double p[3];
  for (int d = 0; d < nsp; d++) p[d] = gs_unnorm(g[nsp - 1 - d], dims[d], ac);
  if (!strcmp(mode, "nearest")) {
    int64_t c[3];
    for (int d = 0; d < nsp; d++) c[d] = (int64_t)nearbyint(p[d]);
    return gs_pixel(x, dims, nsp, c, pad, ac);
  }
  double acc = 0;
  for (int m = 0; m < (1 << nsp); m++) {
    int64_t c[3];
    double w = 1;
    for (int d = 0; d < nsp; d++) {
      double f = floor(p[d]), t = p[d] - f;
      int bit = (m >> d) & 1;
      c[d] = (int64_t)f + bit;
      w *= bit ? t : 1 - t;
    }
    acc += w * gs_pixel(x, dims, nsp, c, pad, ac);
  }
  return acc;
}

static void test_gridsample(void **state) {
  (void)state;
  static const char *const modes[] = {"linear", "nearest"};
  static const char *const pads[] = {"zeros", "border", "reflection"};
  for (int nsp = 1; nsp <= 3; nsp++)
    for (int mi = 0; mi < 2; mi++)
      for (int pi = 0; pi < 3; pi++)
        for (int ac = 0; ac < 2; ac++) {
          int64_t xd[5] = {2, 3, 3, 4, 2}, gd[5] = {2, 5, 3, 2, 0};
          int64_t sp[3], od[5] = {2, 3, 0, 0, 0};
          for (int d = 0; d < nsp; d++) {
            sp[d] = xd[2 + d];
            od[2 + d] = gd[1 + d];
          }
          gd[1 + nsp] = nsp;
          size_t nx = numel(2 + nsp, xd), ng = numel(2 + nsp, gd);
          size_t pts = ng / (size_t)nsp, ny = numel(2 + nsp, od);
          float x[200], gv[200];
          double want[200];
          fill(x, nx, -2, 2);
          /* inside the border range: (-1, 1) for both align modes */
          fill(gv, ng, ac ? -0.999 : -1.3, ac ? 0.999 : 1.3);
          if (!ac)
            for (size_t i = 0; i < ng; i++) /* keep within [-1, 1] */
              gv[i] = gv[i] > 1 ? 1 : gv[i] < -1 ? -1 : gv[i];
          size_t plane = numel(nsp, sp);
          for (size_t b = 0; b < 2; b++)
            for (size_t c = 0; c < 3; c++)
              for (size_t p = 0; p < pts / 2; p++) {
                double g[3];
                for (int d = 0; d < nsp; d++)
                  g[d] = gv[(b * (pts / 2) + p) * (size_t)nsp + (size_t)d];
                want[(b * 3 + c) * (pts / 2) + p] =
                    gs_ref(x + (b * 3 + c) * plane, sp, nsp, g, modes[mi],
                           pads[pi], ac);
              }
          optest *t = optest_new("GridSample", nsp == 2 ? 16 : 22);
          optest_attr_string(t, "mode",
                             mi == 0 ? (nsp == 2 ? "bilinear" : "linear")
                                     : "nearest");
          optest_attr_string(t, "padding_mode", pads[pi]);
          optest_attr_int(t, "align_corners", ac);
          optest_input(t, EMBER_FLOAT, 2 + nsp, xd, x);
          optest_input(t, EMBER_FLOAT, 2 + nsp, gd, gv);
          must_run(t);
          expect_f32(out_t(t, 0, EMBER_FLOAT, 2 + nsp, od), want, ny, 1e-5,
                     1e-5);
          optest_free(t);
        }
}

/* Cubic at pixel centres reproduces the input; far outside with zeros
 * padding gives 0, with border the clamped edge. */
static void test_gridsample_cubic_and_outside(void **state) {
  (void)state;
  int64_t xd[4] = {1, 1, 3, 4}, gd[4] = {1, 3, 4, 2};
  float x[12], g[24];
  fill(x, 12, -1, 1);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) {
      g[(i * 4 + j) * 2] = (float)((2.0 * j + 1) / 4 - 1);
      g[(i * 4 + j) * 2 + 1] = (float)((2.0 * i + 1) / 3 - 1);
    }
  double want[12];
  for (int i = 0; i < 12; i++) want[i] = x[i];
  optest *t = optest_new("GridSample", 20);
  optest_attr_string(t, "mode", "cubic");
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, gd, g);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 4, xd), want, 12, 1e-5, 1e-6);
  optest_free(t);
  int64_t g1[4] = {1, 1, 2, 2}, o1[4] = {1, 1, 1, 2};
  float far[4] = {5, 5, -7, 0.2f};
  double wz[2] = {0, 0};
  t = optest_new("GridSample", 22);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, g1, far);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 4, o1), wz, 2, 0, 0);
  optest_free(t);
  /* border: (5, 5) -> bottom-right; (-7, 0.2): column 0, row 0.2 */
  double y02 = gs_unnorm(0.2, 3, false);
  double wb[2] = {x[11], x[4] * (2 - y02) + x[8] * (y02 - 1)};
  t = optest_new("GridSample", 22);
  optest_attr_string(t, "padding_mode", "border");
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, g1, far);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 4, o1), wb, 2, 1e-5, 1e-6);
  optest_free(t);
  /* errors */
  int64_t bad[4] = {1, 3, 4, 3};
  float gb[36] = {0};
  t = optest_new("GridSample", 22);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, bad, gb);
  must_fail(t, EMBER_ERR_SHAPE, "last grid dimension");
  optest_free(t);
  t = optest_new("GridSample", 22);
  optest_attr_string(t, "padding_mode", "mirror");
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, gd, g);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "padding_mode");
  optest_free(t);
}

static void test_affinegrid(void **state) {
  (void)state;
  for (int nsp = 2; nsp <= 3; nsp++)
    for (int ac = 0; ac < 2; ac++) {
      int64_t td[3] = {2, nsp, nsp + 1}, n1[1] = {nsp + 2};
      int64_t size[5] = {2, 3, 3, 1, 4};
      if (nsp == 2) {
        size[2] = 4;
        size[3] = 1;
      }
      float th[24];
      fill(th, numel(3, td), -1, 1);
      int64_t od[5] = {2, 0, 0, 0, 0};
      for (int d = 0; d < nsp; d++) od[1 + d] = size[2 + d];
      od[1 + nsp] = nsp;
      size_t ny = numel(2 + nsp, od);
      double want[200];
      size_t e = 0;
      for (int b = 0; b < 2; b++) {
        int64_t pos = numel(nsp, size + 2);
        for (int64_t p = 0; p < pos; p++) {
          int64_t c[3];
          unflat((size_t)p, nsp, size + 2, c);
          double v[4];
          for (int k = 0; k < nsp; k++) { /* x along the last axis */
            int64_t n = size[2 + nsp - 1 - k], i = c[nsp - 1 - k];
            v[k] = ac ? (n > 1 ? -1 + 2.0 * (double)i / (double)(n - 1) : -1)
                      : (2.0 * (double)i + 1) / (double)n - 1;
          }
          v[nsp] = 1;
          for (int r = 0; r < nsp; r++) {
            double a = 0;
            for (int k = 0; k <= nsp; k++)
              a += th[(b * nsp + r) * (nsp + 1) + k] * v[k];
            want[e++] = a;
          }
        }
      }
      assert_int_equal(e, ny);
      optest *t = optest_new("AffineGrid", 20);
      optest_attr_int(t, "align_corners", ac);
      optest_input(t, EMBER_FLOAT, 3, td, th);
      optest_input_const(t, EMBER_INT64, 1, n1, size);
      must_run(t);
      expect_f32(out_t(t, 0, EMBER_FLOAT, 2 + nsp, od), want, ny, 1e-5, 1e-6);
      optest_free(t);
    }
  int64_t td[3] = {1, 2, 3}, n1[1] = {5}, size[5] = {1, 1, 2, 2, 2};
  float th[6] = {1, 0, 0, 0, 1, 0};
  optest *t = optest_new("AffineGrid", 20);
  optest_input(t, EMBER_FLOAT, 3, td, th);
  optest_input_const(t, EMBER_INT64, 1, n1, size);
  must_fail(t, EMBER_ERR_SHAPE, "spatial");
  optest_free(t);
}

/* =========================================================== RoiAlign */

static double bilinear_at(const float *x, int64_t h, int64_t w, double y,
                          double xx) {
  if (y < -1 || y > (double)h || xx < -1 || xx > (double)w) return 0;
  y = y < 0 ? 0 : y;
  xx = xx < 0 ? 0 : xx;
  int64_t y0 = (int64_t)y, x0 = (int64_t)xx;
  int64_t y1 = y0 + 1 < h ? y0 + 1 : h - 1, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
  if (y0 >= h - 1) {
    y0 = h - 1;
    y = (double)y0;
  }
  if (x0 >= w - 1) {
    x0 = w - 1;
    xx = (double)x0;
  }
  double ly = y - (double)y0, lx = xx - (double)x0;
  return (1 - ly) * (1 - lx) * x[y0 * w + x0] + (1 - ly) * lx * x[y0 * w + x1] +
         ly * (1 - lx) * x[y1 * w + x0] + ly * lx * x[y1 * w + x1];
}

static void test_roialign(void **state) {
  (void)state;
  int64_t xd[4] = {2, 2, 6, 7}, rd[2] = {3, 4}, bd[1] = {3};
  float x[168], rois[12] = {0.5f, 1, 5, 4.5f, 2, 0, 6.5f, 5.5f, 0, 0, 3, 2};
  int64_t bi[3] = {1, 0, 1};
  fill(x, 168, -1, 3);
  for (int hp = 0; hp < 2; hp++) {
    int64_t od[4] = {3, 2, 2, 3};
    double want[36];
    for (int r = 0; r < 3; r++) {
      double off = hp ? 0.5 : 0, s = 0.5;
      double x1 = rois[r * 4] * s - off, y1 = rois[r * 4 + 1] * s - off;
      double x2 = rois[r * 4 + 2] * s - off, y2 = rois[r * 4 + 3] * s - off;
      double rw = x2 - x1, rh = y2 - y1;
      if (!hp) {
        rw = fmax(rw, 1);
        rh = fmax(rh, 1);
      }
      double bh = rh / 2, bw = rw / 3;
      for (int c = 0; c < 2; c++)
        for (int ph = 0; ph < 2; ph++)
          for (int pw = 0; pw < 3; pw++) {
            /* sampling_ratio 2: 2 x 2 samples per bin, averaged */
            double acc = 0;
            for (int iy = 0; iy < 2; iy++)
              for (int ix = 0; ix < 2; ix++)
                acc += bilinear_at(x + (bi[r] * 2 + c) * 42, 6, 7,
                                   y1 + ph * bh + (iy + 0.5) * bh / 2,
                                   x1 + pw * bw + (ix + 0.5) * bw / 2);
            want[((r * 2 + c) * 2 + ph) * 3 + pw] = acc / 4;
          }
    }
    optest *t = optest_new("RoiAlign", hp ? 16 : 10);
    optest_attr_int(t, "output_height", 2);
    optest_attr_int(t, "output_width", 3);
    optest_attr_int(t, "sampling_ratio", 2);
    optest_attr_float(t, "spatial_scale", 0.5f);
    optest_input(t, EMBER_FLOAT, 4, xd, x);
    optest_input(t, EMBER_FLOAT, 2, rd, rois);
    optest_input(t, EMBER_INT64, 1, bd, bi);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 4, od), want, 36, 1e-5, 1e-6);
    optest_free(t);
  }
  /* max mode: largest weighted corner value over the samples */
  {
    int64_t od[4] = {3, 2, 1, 1};
    double want[6];
    for (int r = 0; r < 3; r++)
      for (int c = 0; c < 2; c++) {
        double x1 = rois[r * 4], y1 = rois[r * 4 + 1];
        double rw = fmax(rois[r * 4 + 2] - x1, 1);
        double rh = fmax(rois[r * 4 + 3] - y1, 1);
        double best = 0;
        bool first = true;
        const float *p = x + (bi[r] * 2 + c) * 42;
        for (int iy = 0; iy < 1; iy++)
          for (int ix = 0; ix < 1; ix++) {
            double yy = y1 + 0.5 * rh, xx = x1 + 0.5 * rw;
            int64_t y0 = (int64_t)yy, x0 = (int64_t)xx;
            int64_t ya = y0 + 1 < 6 ? y0 + 1 : 5, xa = x0 + 1 < 7 ? x0 + 1 : 6;
            if (y0 >= 5) yy = (double)(y0 = 5);
            if (x0 >= 6) xx = (double)(x0 = 6);
            double ly = yy - (double)y0, lx = xx - (double)x0;
            double v[4] = {(1 - ly) * (1 - lx) * p[y0 * 7 + x0],
                           (1 - ly) * lx * p[y0 * 7 + xa],
                           ly * (1 - lx) * p[ya * 7 + x0], ly * lx * p[ya * 7 + xa]};
            double m = fmax(fmax(v[0], v[1]), fmax(v[2], v[3]));
            if (first || m > best) best = m;
            first = false;
          }
        want[r * 2 + c] = best;
      }
    optest *t = optest_new("RoiAlign", 22);
    optest_attr_string(t, "mode", "max");
    optest_attr_string(t, "coordinate_transformation_mode",
                       "output_half_pixel");
    optest_attr_int(t, "sampling_ratio", 1);
    optest_input(t, EMBER_FLOAT, 4, xd, x);
    optest_input(t, EMBER_FLOAT, 2, rd, rois);
    optest_input(t, EMBER_INT64, 1, bd, bi);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 4, od), want, 6, 1e-5, 1e-6);
    optest_free(t);
  }
  int64_t bad[3] = {0, 2, 0};
  optest *t = optest_new("RoiAlign", 22);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 2, rd, rois);
  optest_input(t, EMBER_INT64, 1, bd, bad);
  must_fail(t, EMBER_ERR_RUNTIME, "batch index");
  optest_free(t);
}

/* ================================================== NonMaxSuppression */

static void test_nms(void **state) {
  (void)state;
  /* Two batches, two classes, five boxes; corners in either order. */
  int64_t bd[3] = {2, 5, 4}, sd[3] = {2, 2, 5}, one[1] = {1};
  float boxes[40] = {0, 0, 1, 1,  0, 0.1f, 1, 1.1f,  1, 1, 0, 0,
                     0, 5, 1, 6,  3, 3, 4, 4,
                     0, 0, 2, 2,  0, 0, 1, 1,  1, 1, 3, 3,
                     5, 5, 6, 6,  0, 0, 2, 2.1f};
  float scores[20] = {0.9f, 0.8f, 0.7f, 0.6f, 0.1f,
                      0.1f, 0.2f, 0.3f, 0.95f, 0.5f,
                      0.5f, 0.6f, 0.7f, 0.8f, 0.9f,
                      0.3f, 0.3f, 0.3f, 0.3f, 0.3f};
  int64_t maxo[1] = {3};
  float iou[1] = {0.5f}, sth[1] = {0.25f};
  optest *t = optest_new("NonMaxSuppression", 11);
  optest_input(t, EMBER_FLOAT, 3, bd, boxes);
  optest_input(t, EMBER_FLOAT, 3, sd, scores);
  optest_input(t, EMBER_INT64, 1, one, maxo);
  optest_input(t, EMBER_FLOAT, 1, one, iou);
  optest_input(t, EMBER_FLOAT, 1, one, sth);
  must_run(t);
  /* batch 0 class 0: 0 (0.9), 1 overlaps 0 (IoU 0.82), 2 = 0 flipped,
   * 3 (0.6); class 1: 3 (0.95), 4 (0.5), 2 (0.3) overlaps nothing kept.
   * batch 1 class 0: 4 (0.9) = box 0 (IoU ~0.95), 3, 2 (0.7), 1 (0.6)
   * is inside 0 (IoU 0.25) -> kept but max 3 reached after 4, 3, 2;
   * class 1: all 0.3: index order 0, 1 (IoU 0.25 with 0: kept), 2. */
  int64_t want[] = {0, 0, 0, 0, 0, 3, 0, 1, 3, 0, 1, 4, 0, 1, 2,
                    1, 0, 4, 1, 0, 3, 1, 0, 2, 1, 1, 0, 1, 1, 1, 1, 1, 2};
  int64_t wd[2] = {11, 3};
  optest_expect_i64(optest_output(t, 0), 2, wd, want);
  optest_free(t);
  /* center_point_box and no max (default 0 = nothing selected) */
  int64_t b1[3] = {1, 2, 4}, s1[3] = {1, 1, 2};
  float cb[8] = {0.5f, 0.5f, 1, 1, 0.55f, 0.5f, 1, 1}, cs[2] = {0.4f, 0.9f};
  int64_t m5[1] = {5};
  t = optest_new("NonMaxSuppression", 10);
  optest_attr_int(t, "center_point_box", 1);
  optest_input(t, EMBER_FLOAT, 3, b1, cb);
  optest_input(t, EMBER_FLOAT, 3, s1, cs);
  optest_input(t, EMBER_INT64, 1, one, m5);
  optest_input(t, EMBER_FLOAT, 1, one, iou);
  must_run(t);
  int64_t w1[3] = {0, 0, 1}, d1[2] = {1, 3};
  optest_expect_i64(optest_output(t, 0), 2, d1, w1);
  optest_free(t);
  t = optest_new("NonMaxSuppression", 11);
  optest_input(t, EMBER_FLOAT, 3, b1, cb);
  optest_input(t, EMBER_FLOAT, 3, s1, cs);
  must_run(t);
  int64_t d0[2] = {0, 3};
  optest_expect_i64(optest_output(t, 0), 2, d0, NULL);
  optest_free(t);
  t = optest_new("NonMaxSuppression", 11);
  optest_input(t, EMBER_FLOAT, 3, b1, cb);
  optest_input(t, EMBER_FLOAT, 3, sd, scores);
  must_fail(t, EMBER_ERR_SHAPE, "boxes");
  optest_free(t);
}

/* ========================================================= DeformConv */

/* Plain convolution (group g) as the reference for zero offsets. */
static void ref_conv2d(const float *x, const float *w, const float *b,
                       int64_t n, int64_t c, int64_t h, int64_t wd,
                       int64_t oc, int64_t kh, int64_t kw, int64_t g,
                       int64_t s, int64_t p, int64_t dl, int64_t oh,
                       int64_t ow, const float *mask, double shift_y,
                       double shift_x, double *y) {
  int64_t cg = c / g, ocg = oc / g;
  for (int64_t bi = 0; bi < n; bi++)
    for (int64_t o = 0; o < oc; o++)
      for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
          double acc = b ? b[o] : 0;
          int64_t gi = o / ocg;
          for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t u = 0; u < kh; u++)
              for (int64_t v = 0; v < kw; v++) {
                double yy = (double)(i * s - p + u * dl) + shift_y;
                double xx = (double)(j * s - p + v * dl) + shift_x;
                int64_t y0 = (int64_t)floor(yy), x0 = (int64_t)floor(xx);
                double fy = yy - (double)y0, fx = xx - (double)x0, val = 0;
                for (int a = 0; a < 2; a++)
                  for (int e = 0; e < 2; e++) {
                    int64_t r = y0 + a, q = x0 + e;
                    if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                    val += (a ? fy : 1 - fy) * (e ? fx : 1 - fx) *
                           x[((bi * c + gi * cg + ci) * h + r) * wd + q];
                  }
                double m = mask ? mask[(((bi * kh + u) * kw + v) * oh + i) * ow + j]
                                : 1;
                acc += w[((o * cg + ci) * kh + u) * kw + v] * val * m;
              }
          y[((bi * oc + o) * oh + i) * ow + j] = acc;
        }
}

static void test_deformconv(void **state) {
  (void)state;
  int64_t N = 2, C = 4, H = 5, W = 6, OC = 4, KH = 2, KW = 3, G = 2;
  int64_t S = 2, P = 1, D = 1;
  int64_t OH = (H + 2 * P - (KH - 1) * D - 1) / S + 1;
  int64_t OW = (W + 2 * P - (KW - 1) * D - 1) / S + 1;
  int64_t xd[4] = {N, C, H, W}, wd[4] = {OC, C / G, KH, KW}, bd[1] = {OC};
  int64_t od[4] = {N, 2 * KH * KW, OH, OW}, yd[4] = {N, OC, OH, OW};
  int64_t md[4] = {N, KH * KW, OH, OW};
  int64_t ks[2] = {KH, KW}, st[2] = {S, S}, pads[4] = {P, P, P, P};
  float x[240], w[48], b[4], off[2 * 2 * 6 * 3 * 4], mask[2 * 6 * 3 * 4];
  size_t no = numel(4, od);
  fill(x, numel(4, xd), -1, 1);
  fill(w, numel(4, wd), -1, 1);
  fill(b, 4, -1, 1);
  fill(mask, numel(4, md), 0, 1);
  double want[2 * 4 * 3 * 4];
  size_t ny = numel(4, yd);
  /* A uniform fractional shift (0.25, -0.5) of every tap, masked. */
  for (size_t i = 0; i < no; i++) off[i] = (i / (size_t)(OH * OW)) % 2 ? -0.5f : 0.25f;
  ref_conv2d(x, w, b, N, C, H, W, OC, KH, KW, G, S, P, D, OH, OW, mask, 0.25,
             -0.5, want);
  optest *t = optest_new("DeformConv", 19);
  optest_attr_ints(t, "kernel_shape", 2, ks);
  optest_attr_ints(t, "strides", 2, st);
  optest_attr_ints(t, "pads", 4, pads);
  optest_attr_int(t, "group", G);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd, w);
  optest_input(t, EMBER_FLOAT, 4, od, off);
  optest_input(t, EMBER_FLOAT, 1, bd, b);
  optest_input(t, EMBER_FLOAT, 4, md, mask);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 4, yd), want, ny, 1e-4, 1e-5);
  optest_free(t);
  /* zero offsets, no bias or mask: a plain convolution */
  memset(off, 0, sizeof off);
  ref_conv2d(x, w, NULL, N, C, H, W, OC, KH, KW, G, S, P, D, OH, OW, NULL, 0,
             0, want);
  t = optest_new("DeformConv", 22);
  optest_attr_ints(t, "strides", 2, st);
  optest_attr_ints(t, "pads", 4, pads);
  optest_attr_int(t, "group", G);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd, w);
  optest_input(t, EMBER_FLOAT, 4, od, off);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 4, yd), want, ny, 1e-4, 1e-5);
  optest_free(t);
  /* wrong offset channel count */
  int64_t bad[4] = {N, 5, OH, OW};
  t = optest_new("DeformConv", 22);
  optest_attr_ints(t, "strides", 2, st);
  optest_attr_ints(t, "pads", 4, pads);
  optest_attr_int(t, "group", G);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_FLOAT, 4, wd, w);
  optest_input(t, EMBER_FLOAT, 4, bad, off);
  must_fail(t, EMBER_ERR_SHAPE, "offset");
  optest_free(t);
}

/* ====================================================== Col2Im, LpPool */

static void test_col2im(void **state) {
  (void)state;
  /* 2-D, strides 2, dilation (1, 2), pads */
  int64_t img[2] = {5, 7}, blk[2] = {2, 3}, st[2] = {2, 1}, dl[2] = {1, 2};
  int64_t pads[4] = {1, 0, 0, 1}, two[1] = {2};
  int64_t gh = (5 + 1 + 0 - 2) / 2 + 1, gw = (7 + 0 + 1 - 5) / 1 + 1;
  int64_t xd[3] = {2, 3 * 6, gh * gw}, yd[4] = {2, 3, 5, 7};
  float x[2 * 18 * 12];
  fill(x, numel(3, xd), -1, 1);
  double want[2 * 3 * 35] = {0};
  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 3; c++)
      for (int ki = 0; ki < 2; ki++)
        for (int kj = 0; kj < 3; kj++)
          for (int bi = 0; bi < gh; bi++)
            for (int bj = 0; bj < gw; bj++) {
              int64_t r = bi * 2 - 1 + ki, q = bj - 0 + kj * 2;
              if (r < 0 || r >= 5 || q < 0 || q >= 7) continue;
              want[((n * 3 + c) * 5 + r) * 7 + q] +=
                  x[((n * 18 + c * 6 + ki * 3 + kj) * gh + bi) * gw + bj];
            }
  optest *t = optest_new("Col2Im", 18);
  optest_attr_ints(t, "strides", 2, st);
  optest_attr_ints(t, "dilations", 2, dl);
  optest_attr_ints(t, "pads", 4, pads);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input_const(t, EMBER_INT64, 1, two, img);
  optest_input_const(t, EMBER_INT64, 1, two, blk);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 4, yd), want, numel(4, yd), 1e-5, 1e-6);
  optest_free(t);
  int64_t badx[3] = {2, 18, 11};
  t = optest_new("Col2Im", 18);
  optest_attr_ints(t, "strides", 2, st);
  optest_attr_ints(t, "dilations", 2, dl);
  optest_attr_ints(t, "pads", 4, pads);
  optest_input(t, EMBER_FLOAT, 3, badx, x);
  optest_input_const(t, EMBER_INT64, 1, two, img);
  optest_input_const(t, EMBER_INT64, 1, two, blk);
  must_fail(t, EMBER_ERR_SHAPE, "blocks");
  optest_free(t);
}

static void test_lppool(void **state) {
  (void)state;
  int64_t xd[4] = {1, 2, 5, 6}, ks[2] = {2, 3}, st[2] = {2, 1};
  int64_t pads[4] = {1, 1, 0, 1};
  int64_t oh = (5 + 1 - 2) / 2 + 1, ow = (6 + 2 - 3) / 1 + 1;
  int64_t yd[4] = {1, 2, oh, ow};
  float x[60];
  fill(x, 60, -2, 2);
  for (int pv = 1; pv <= 3; pv++) {
    double want[100];
    for (int c = 0; c < 2; c++)
      for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
          double acc = 0;
          for (int u = 0; u < 2; u++)
            for (int v = 0; v < 3; v++) {
              int r = i * 2 - 1 + u, q = j - 1 + v;
              if (r < 0 || r >= 5 || q < 0 || q >= 6) continue;
              acc += pow(fabs(x[(c * 5 + r) * 6 + q]), pv);
            }
          want[(c * oh + i) * ow + j] = pow(acc, 1.0 / pv);
        }
    optest *t = optest_new("LpPool", pv == 3 ? 1 : 18);
    optest_attr_ints(t, "kernel_shape", 2, ks);
    optest_attr_ints(t, "strides", 2, st);
    optest_attr_ints(t, "pads", 4, pads);
    if (pv == 3)
      optest_attr_float(t, "p", 3.0f); /* LpPool-1: float p */
    else
      optest_attr_int(t, "p", pv);
    optest_input(t, EMBER_FLOAT, 4, xd, x);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 4, yd), want, numel(4, yd), 1e-5,
               1e-6);
    optest_free(t);
  }
  optest *t = optest_new("LpPool", 18);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "kernel_shape");
  optest_free(t);
}

/* ================================== MaxUnpool, CenterCropPad, D2S / S2D */

static void test_maxunpool(void **state) {
  (void)state;
  int64_t xd[4] = {1, 2, 2, 2}, ks[2] = {2, 2}, st[2] = {2, 2};
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int64_t ind[8] = {0, 3, 9, 14, 16 + 5, 16 + 2, 16 + 8, 16 + 15};
  int64_t yd[4] = {1, 2, 4, 4};
  double want[32] = {0};
  for (int i = 0; i < 8; i++) want[ind[i]] = x[i];
  optest *t = optest_new("MaxUnpool", 11);
  optest_attr_ints(t, "kernel_shape", 2, ks);
  optest_attr_ints(t, "strides", 2, st);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_INT64, 4, xd, ind);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 4, yd), want, 32, 0, 0);
  optest_free(t);
  /* output_shape 5x6: the 4x4 block keeps its coordinates */
  int64_t four[1] = {4}, os[4] = {1, 2, 5, 6};
  double w2[60] = {0};
  for (int i = 0; i < 8; i++) {
    int64_t p = ind[i], pl = p / 16, r = (p % 16) / 4, q = p % 4;
    w2[(pl * 5 + r) * 6 + q] = x[i];
  }
  t = optest_new("MaxUnpool", 22);
  optest_attr_ints(t, "kernel_shape", 2, ks);
  optest_attr_ints(t, "strides", 2, st);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_INT64, 4, xd, ind);
  optest_input_const(t, EMBER_INT64, 1, four, os);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 4, os), w2, 60, 0, 0);
  optest_free(t);
  ind[3] = 32;
  t = optest_new("MaxUnpool", 22);
  optest_attr_ints(t, "kernel_shape", 2, ks);
  optest_attr_ints(t, "strides", 2, st);
  optest_input(t, EMBER_FLOAT, 4, xd, x);
  optest_input(t, EMBER_INT64, 4, xd, ind);
  must_fail(t, EMBER_ERR_RUNTIME, "index 32");
  optest_free(t);
}

static void test_centercroppad(void **state) {
  (void)state;
  int64_t xd[3] = {5, 4, 2}, three[1] = {3}, two[1] = {2};
  float x[40];
  fill(x, 40, 0, 1);
  /* axis 0: 5 -> 2 (crop from 1), axis 1: 4 -> 7 (pad 1 before, 2
   * after), axis 2 unchanged */
  int64_t shape[3] = {2, 7, 2}, yd[3] = {2, 7, 2};
  double want[28] = {0};
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 4; j++)
      for (int k = 0; k < 2; k++)
        want[(i * 7 + j + 1) * 2 + k] = x[((i + 1) * 4 + j) * 2 + k];
  optest *t = optest_new("CenterCropPad", 18);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_INT64, 1, three, shape);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 3, yd), want, 28, 0, 0);
  optest_free(t);
  int64_t axes[2] = {-3, 1};
  int32_t sh2[2] = {2, 7};
  t = optest_new("CenterCropPad", 18);
  optest_attr_ints(t, "axes", 2, axes);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input_const(t, EMBER_INT32, 1, two, sh2);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 3, yd), want, 28, 0, 0);
  optest_free(t);
  t = optest_new("CenterCropPad", 18);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_INT64, 1, two, shape);
  must_fail(t, EMBER_ERR_SHAPE, "shape");
  optest_free(t);
}

static void test_depth_space(void **state) {
  (void)state;
  int64_t N = 2, C = 2, H = 2, W = 3, B = 3;
  int64_t xd[4] = {N, C * B * B, H, W}, yd[4] = {N, C, H * B, W * B};
  float x[2 * 18 * 6];
  for (size_t i = 0; i < numel(4, xd); i++) x[i] = (float)i;
  for (int crd = 0; crd < 2; crd++) {
    double want[216];
    for (int64_t n = 0; n < N; n++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t h = 0; h < H * B; h++)
          for (int64_t w = 0; w < W * B; w++) {
            int64_t i = h % B, j = w % B;
            int64_t ic = crd ? c * B * B + i * B + j : (i * B + j) * C + c;
            want[((n * C + c) * H * B + h) * W * B + w] =
                x[((n * C * B * B + ic) * H + h / B) * W + w / B];
          }
    optest *t = optest_new("DepthToSpace", crd ? 13 : 1);
    optest_attr_int(t, "blocksize", B);
    if (crd) optest_attr_string(t, "mode", "CRD");
    optest_input(t, EMBER_FLOAT, 4, xd, x);
    must_run(t);
    expect_f32(out_t(t, 0, EMBER_FLOAT, 4, yd), want, 216, 0, 0);
    optest_free(t);
  }
  /* SpaceToDepth is the inverse of DCR DepthToSpace */
  double back[216];
  for (size_t i = 0; i < 216; i++) back[i] = x[i];
  float y[216];
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t h = 0; h < H * B; h++)
        for (int64_t w = 0; w < W * B; w++) {
          int64_t ic = ((h % B) * B + w % B) * C + c;
          y[((n * C + c) * H * B + h) * W * B + w] =
              x[((n * C * B * B + ic) * H + h / B) * W + w / B];
        }
  optest *t = optest_new("SpaceToDepth", 13);
  optest_attr_int(t, "blocksize", B);
  optest_input(t, EMBER_FLOAT, 4, yd, y);
  must_run(t);
  expect_f32(out_t(t, 0, EMBER_FLOAT, 4, xd), back, 216, 0, 0);
  optest_free(t);
  /* strings move too */
  int64_t sd[4] = {1, 4, 1, 1}, so[4] = {1, 1, 2, 2};
  const char *s[4] = {"a", "b", "c", "d"};
  t = optest_new("DepthToSpace", 13);
  optest_attr_int(t, "blocksize", 2);
  optest_input(t, EMBER_STRING, 4, sd, s);
  must_run(t);
  char *const *ys = out_t(t, 0, EMBER_STRING, 4, so)->data;
  assert_string_equal(ys[0], "a");
  assert_string_equal(ys[3], "d");
  optest_free(t);
  t = optest_new("SpaceToDepth", 13);
  optest_attr_int(t, "blocksize", 4);
  optest_input(t, EMBER_FLOAT, 4, yd, y);
  must_fail(t, EMBER_ERR_SHAPE, "divisible");
  optest_free(t);
  t = optest_new("DepthToSpace", 13);
  optest_attr_int(t, "blocksize", 2);
  optest_attr_string(t, "mode", "XYZ");
  optest_input(t, EMBER_FLOAT, 4, yd, y);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "mode");
  optest_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resize_modes),
      cmocka_unit_test(test_resize_sizes_axes),
      cmocka_unit_test(test_resize_antialias_exclude),
      cmocka_unit_test(test_resize_types),
      cmocka_unit_test(test_resize_old_and_edges),
      cmocka_unit_test(test_resize_errors),
      cmocka_unit_test(test_gridsample),
      cmocka_unit_test(test_gridsample_cubic_and_outside),
      cmocka_unit_test(test_affinegrid),
      cmocka_unit_test(test_roialign),
      cmocka_unit_test(test_nms),
      cmocka_unit_test(test_deformconv),
      cmocka_unit_test(test_col2im),
      cmocka_unit_test(test_lppool),
      cmocka_unit_test(test_maxunpool),
      cmocka_unit_test(test_centercroppad),
      cmocka_unit_test(test_depth_space),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
