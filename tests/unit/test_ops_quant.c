/*
 * Unit tests for the narrow-type casts (lib/ops/cast.c, lib/ops/narrow.c)
 * and the quantization operators (lib/ops/quant.c) through the one-node
 * harness.  Expected values come from references written here: float8 /
 * float4 rounding by brute-force search for the nearest code of a decoder
 * written from docs/technical/float8.md; quantization, integer matmuls and
 * convolutions by direct loops in double / int64.
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

/* ------------------------------------------------------------- helpers */

static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  return n;
}

static unsigned get_code(int32_t dt, const void *data, size_t i) {
  const uint8_t *p = data;
  switch (dt) {
    case EMBER_INT4: case EMBER_UINT4: case EMBER_FLOAT4E2M1:
      return (p[i / 2] >> (4 * (i % 2))) & 0xf;
    case EMBER_INT2: case EMBER_UINT2:
      return (p[i / 4] >> (2 * (i % 4))) & 0x3;
    default: return p[i];
  }
}

static void set_code(int32_t dt, void *data, size_t i, unsigned c) {
  uint8_t *p = data;
  if (dt == EMBER_INT4 || dt == EMBER_UINT4 || dt == EMBER_FLOAT4E2M1)
    p[i / 2] = (uint8_t)((p[i / 2] & ~(0xf << (4 * (i % 2)))) |
                         ((c & 0xf) << (4 * (i % 2))));
  else if (dt == EMBER_INT2 || dt == EMBER_UINT2)
    p[i / 4] = (uint8_t)((p[i / 4] & ~(0x3 << (2 * (i % 4)))) |
                         ((c & 0x3) << (2 * (i % 4))));
  else
    p[i] = (uint8_t)c;
}

/* The output must have this dtype and shape. */
static const emb_tensor *out_tensor(optest *t, int i, int32_t dtype,
                                    int rank, const int64_t *dims) {
  const emb_value *v = optest_output(t, i);
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  if (v->t.dtype != dtype)
    fail_msg("output %d is %s, expected %s", i, ember_dtype_name(v->t.dtype),
             ember_dtype_name(dtype));
  assert_int_equal(v->t.rank, rank);
  for (int r = 0; r < rank; r++) assert_int_equal(v->t.dims[r], dims[r]);
  return &v->t;
}

/* Float8 / float4 parameters from docs/technical/float8.md, float4.md. */
typedef struct f8p {
  int32_t dt;
  int ebits, mbits, bias;
  int fnuz, has_inf, fn;
} f8p;

static const f8p F8[] = {
    {EMBER_FLOAT8E4M3FN, 4, 3, 7, 0, 0, 1},
    {EMBER_FLOAT8E4M3FNUZ, 4, 3, 8, 1, 0, 0},
    {EMBER_FLOAT8E5M2, 5, 2, 15, 0, 1, 0},
    {EMBER_FLOAT8E5M2FNUZ, 5, 2, 16, 1, 0, 0},
    {EMBER_FLOAT4E2M1, 2, 1, 1, 0, 0, 0},
};

static unsigned f8_sign(const f8p *p) { return 1u << (p->ebits + p->mbits); }

/* Decoded value of a code; NaN for NaN codes, +-INFINITY for infinities. */
static double ref_decode(const f8p *p, unsigned code) {
  unsigned sign = f8_sign(p), mag = code & (sign - 1);
  unsigned e = mag >> p->mbits, m = mag & ((1u << p->mbits) - 1);
  unsigned emax = (1u << p->ebits) - 1;
  if (p->fnuz && code == sign) return NAN;
  if (p->fn && mag == (sign - 1)) return NAN;
  if (p->has_inf && e == emax) return m ? NAN : (code & sign ? -INFINITY
                                                             : INFINITY);
  double v = e ? (1.0 + m / (double)(1u << p->mbits)) * pow(2, (int)e - p->bias)
               : m / (double)(1u << p->mbits) * pow(2, 1 - p->bias);
  return code & sign ? -v : v;
}

static bool ref_finite_code(const f8p *p, unsigned c) {
  double v = ref_decode(p, c);
  return isfinite(v) && !(p->fnuz && c == f8_sign(p));
}

/* Largest finite magnitude code. */
static unsigned ref_max_code(const f8p *p) {
  unsigned best = 0;
  for (unsigned c = 0; c < f8_sign(p); c++)
    if (ref_finite_code(p, c) && ref_decode(p, c) > ref_decode(p, best))
      best = c;
  return best;
}

/* Nearest code, ties to the even code; overflow per the spec's tables.
 * Returns 0x100 for "any NaN". */
static unsigned ref_encode(const f8p *p, double v, bool saturate) {
  unsigned sign = f8_sign(p), mx = ref_max_code(p);
  if (isnan(v)) return 0x100;
  bool neg = signbit(v);
  unsigned s = neg && !p->fnuz ? sign : 0;
  double a = fabs(v), top = ref_decode(p, mx);
  double ulp = top - ref_decode(p, mx - 1);
  bool over = isinf(a) || a > top + ulp / 2 || (a == top + ulp / 2 && (mx & 1));
  if (over) {
    if (saturate || p->dt == EMBER_FLOAT4E2M1) return (neg ? sign : 0) | mx;
    if (p->has_inf) return (neg ? sign : 0) | (mx + 1);
    return 0x100;
  }
  unsigned best = 0;
  double bd = INFINITY;
  for (unsigned c = 0; c <= mx; c++) {
    double d = fabs(ref_decode(p, c) - a);
    if (d < bd || (d == bd && !(c & 1))) {
      best = c;
      bd = d;
    }
  }
  if (best == 0) return s;
  return (neg ? sign : 0) | best;
}

/* ---------------------------------------------------------------- Cast */

/* Inputs covering every code's value, the midpoints between neighbours
 * (ties), values just off them, out-of-range values and specials. */
static size_t f8_inputs(const f8p *p, float *x) {
  size_t n = 0;
  unsigned mx = ref_max_code(p);
  for (unsigned c = 0; c <= mx; c++) {
    double v = ref_decode(p, c), w = c < mx ? ref_decode(p, c + 1)
                                            : v + (v - ref_decode(p, c - 1));
    double mid = (v + w) / 2;
    float vals[] = {(float)v, (float)mid, nextafterf((float)mid, 0),
                    nextafterf((float)mid, INFINITY)};
    for (int k = 0; k < 4; k++) {
      x[n++] = vals[k];
      x[n++] = -vals[k];
    }
  }
  float special[] = {INFINITY, -INFINITY, NAN, 1e6f, -1e6f, 1e-9f, -1e-9f,
                     0.0f, -0.0f};
  for (size_t k = 0; k < sizeof special / sizeof *special; k++)
    x[n++] = special[k];
  return n;
}

static void check_cast_to_f8(const f8p *p, bool saturate, int opset) {
  float x[1200];
  int64_t d[1];
  size_t n = f8_inputs(p, x);
  d[0] = (int64_t)n;
  optest *t = optest_new("Cast", opset);
  optest_attr_int(t, "to", p->dt);
  if (!saturate) optest_attr_int(t, "saturate", 0);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, p->dt, 1, d);
  for (size_t i = 0; i < n; i++) {
    unsigned want = ref_encode(p, x[i], saturate);
    unsigned got = get_code(p->dt, y->data, i);
    /* float4 has no NaN: the reference implementation gives 0x8 (-0). */
    if (p->dt == EMBER_FLOAT4E2M1 && want == 0x100) want = 0x8;
    if (want == 0x100 ? !isnan(ref_decode(p, got)) : got != want)
      fail_msg("%s%s: %.9g gave code 0x%x, expected 0x%x",
               ember_dtype_name(p->dt), saturate ? "" : " (no saturate)",
               (double)x[i], got, want);
  }
  optest_free(t);
}

static void test_cast_float_to_minifloats_rne_saturate(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof F8 / sizeof *F8; k++) {
    check_cast_to_f8(&F8[k], true, 25);
    if (F8[k].dt != EMBER_FLOAT4E2M1) check_cast_to_f8(&F8[k], false, 25);
  }
}

static void test_cast_fnuz_inf_before_opset24_is_nan(void **state) {
  (void)state;
  float x[] = {INFINITY, -INFINITY, 1e9f};
  int64_t d[] = {3};
  optest *t = optest_new("Cast", 19);
  optest_attr_int(t, "to", EMBER_FLOAT8E4M3FNUZ);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, EMBER_FLOAT8E4M3FNUZ, 1, d);
  const uint8_t *c = y->data;
  assert_int_equal(c[0], 0x80);
  assert_int_equal(c[1], 0x80);
  assert_int_equal(c[2], 0x7f); /* finite overflow still saturates */
  optest_free(t);
}

static void test_cast_minifloats_to_float_exact(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof F8 / sizeof *F8; k++) {
    const f8p *p = &F8[k];
    size_t n = 2 * f8_sign(p);
    uint8_t codes[256];
    memset(codes, 0, sizeof codes);
    for (size_t i = 0; i < n; i++) set_code(p->dt, codes, i, (unsigned)i);
    int64_t d[] = {(int64_t)n};
    for (int dbl = 0; dbl <= 1; dbl++) {
      optest *t = optest_new("Cast", 25);
      optest_attr_int(t, "to", dbl ? EMBER_DOUBLE : EMBER_FLOAT);
      optest_input(t, p->dt, 1, d, codes);
      if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
      const emb_tensor *y =
          out_tensor(t, 0, dbl ? EMBER_DOUBLE : EMBER_FLOAT, 1, d);
      for (size_t i = 0; i < n; i++) {
        double want = ref_decode(p, (unsigned)i);
        double got = dbl ? ((double *)y->data)[i] : ((float *)y->data)[i];
        if (!(got == want || (isnan(got) && isnan(want))))
          fail_msg("%s code 0x%zx: got %.9g, expected %.9g",
                   ember_dtype_name(p->dt), i, got, want);
      }
      optest_free(t);
    }
  }
}

static void test_cast_between_float8_types(void **state) {
  (void)state;
  /* E5M2 -> E4M3FN: values exact in double, rounded once. */
  const f8p *from = &F8[2], *to = &F8[0];
  uint8_t codes[256];
  for (unsigned i = 0; i < 256; i++) codes[i] = (uint8_t)i;
  int64_t d[] = {256};
  optest *t = optest_new("Cast", 25);
  optest_attr_int(t, "to", to->dt);
  optest_input(t, from->dt, 1, d, codes);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, to->dt, 1, d);
  for (unsigned i = 0; i < 256; i++) {
    unsigned want = ref_encode(to, ref_decode(from, i), true);
    unsigned got = ((uint8_t *)y->data)[i];
    if (want == 0x100 ? !isnan(ref_decode(to, got)) : got != want)
      fail_msg("E5M2 0x%x -> E4M3FN 0x%x, expected 0x%x", i, got, want);
  }
  optest_free(t);
}

/* Float to the packed integers: round half to even, keep the low bits. */
static void test_cast_float_to_subbyte_ints(void **state) {
  (void)state;
  static const int32_t types[] = {EMBER_INT4, EMBER_UINT4, EMBER_INT2,
                                  EMBER_UINT2};
  float x[] = {-9, -8.5f, -2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.49f, 7.5f,
               8, 15.5f, 16, 17, -17, 1e10f, NAN};
  int64_t d[] = {17}; /* odd: the last byte is half used */
  for (int k = 0; k < 4; k++) {
    int32_t dt = types[k];
    int bits = dt == EMBER_INT4 || dt == EMBER_UINT4 ? 4 : 2;
    optest *t = optest_new("Cast", 25);
    optest_attr_int(t, "to", dt);
    optest_input(t, EMBER_FLOAT, 1, d, x);
    if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
    const emb_tensor *y = out_tensor(t, 0, dt, 1, d);
    for (size_t i = 0; i < 17; i++) {
      double r = isnan(x[i]) ? 0 : rint((double)x[i]);
      int64_t v = r >= 9.2e18 ? INT64_MAX : (int64_t)r;
      unsigned want = (unsigned)((uint64_t)v & ((1u << bits) - 1));
      unsigned got = get_code(dt, y->data, i);
      if (got != want)
        fail_msg("%s: %g gave %u, expected %u", ember_dtype_name(dt),
                 (double)x[i], got, want);
    }
    /* padding bits of the last byte are zero */
    const uint8_t *b = y->data;
    if (bits == 4) assert_int_equal(b[8] >> 4, 0);
    else assert_int_equal(b[4] >> 2, 0);
    optest_free(t);
  }
}

static void test_cast_subbyte_ints_to_others(void **state) {
  (void)state;
  uint8_t packed[4] = {0x98, 0xf7, 0x10, 0x0e}; /* int4: -8,-7,7,-1,0,1,-2 */
  int64_t d[] = {7};
  static const int64_t want_i4[] = {-8, -7, 7, -1, 0, 1, -2};
  static const int64_t want_u4[] = {8, 9, 7, 15, 0, 1, 14};
  for (int u = 0; u <= 1; u++) {
    optest *t = optest_new("Cast", 21);
    optest_attr_int(t, "to", EMBER_INT64);
    optest_input(t, u ? EMBER_UINT4 : EMBER_INT4, 1, d, packed);
    if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
    optest_expect_i64(optest_output(t, 0), 1, d, u ? want_u4 : want_i4);
    optest_free(t);
  }
  /* int2 -> string, and string -> int2 */
  uint8_t p2[1] = {0xe4}; /* 0,1,2,3 -> int2 0,1,-2,-1 */
  int64_t d4[] = {4};
  optest *t = optest_new("Cast", 25);
  optest_attr_int(t, "to", EMBER_STRING);
  optest_input(t, EMBER_INT2, 1, d4, p2);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, EMBER_STRING, 1, d4);
  const char *ws[] = {"0", "1", "-2", "-1"};
  for (int i = 0; i < 4; i++)
    assert_string_equal(((char **)y->data)[i], ws[i]);
  optest_free(t);
  const char *s[] = {"1", "-2", "3", "-1"};
  t = optest_new("Cast", 25);
  optest_attr_int(t, "to", EMBER_INT2);
  optest_input(t, EMBER_STRING, 1, d4, s);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  y = out_tensor(t, 0, EMBER_INT2, 1, d4);
  assert_int_equal(((uint8_t *)y->data)[0], 1 | 2 << 2 | 3 << 4 | 3 << 6);
  optest_free(t);
}

static void test_cast_string_float8_roundtrip(void **state) {
  (void)state;
  const char *s[] = {"0.5", "-448", "1e6", "NaN", "0.0703125"};
  int64_t d[] = {5};
  optest *t = optest_new("Cast", 25);
  optest_attr_int(t, "to", EMBER_FLOAT8E4M3FN);
  optest_input(t, EMBER_STRING, 1, d, s);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, EMBER_FLOAT8E4M3FN, 1, d);
  const uint8_t *c = y->data;
  assert_int_equal(c[0], ref_encode(&F8[0], 0.5, true));
  assert_int_equal(c[1], ref_encode(&F8[0], -448, true));
  assert_int_equal(c[2], 0x7e);
  assert_true(isnan(ref_decode(&F8[0], c[3])));
  assert_int_equal(c[4], ref_encode(&F8[0], 0.0703125, true));
  uint8_t codes[] = {c[0], c[1], c[4]};
  optest_free(t);
  t = optest_new("Cast", 25);
  optest_attr_int(t, "to", EMBER_STRING);
  int64_t d3[] = {3};
  optest_input(t, EMBER_FLOAT8E4M3FN, 1, d3, codes);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  y = out_tensor(t, 0, EMBER_STRING, 1, d3);
  assert_string_equal(((char **)y->data)[0], "0.5");
  assert_string_equal(((char **)y->data)[1], "-448");
  assert_string_equal(((char **)y->data)[2], "0.0703125");
  optest_free(t);
}

/* E8M0: round_mode up / down / nearest, saturate. */
static unsigned ref_e8m0(double v, const char *mode, bool sat) {
  if (isnan(v)) return 0xff;
  double a = fabs(v);
  if (isinf(a)) return sat ? 0xfe : 0xff;
  if (a == 0) return sat ? 0 : 0xff;
  double lo = floor(log2(a));
  /* log2 may be off by one near powers of two: fix up exactly. */
  while (ldexp(1.0, (int)lo) > a) lo--;
  while (ldexp(1.0, (int)lo + 1) <= a) lo++;
  double e = lo, p = ldexp(1.0, (int)lo);
  if (!strcmp(mode, "up") && a > p) e = lo + 1;
  if (!strcmp(mode, "nearest") && a >= 1.5 * p) e = lo + 1;
  double code = e + 127;
  if (code > 254) return sat ? 0xfe : 0xff;
  if (code < 0) return sat ? 0 : 0xff;
  return (unsigned)code;
}

static void test_cast_e8m0_round_modes(void **state) {
  (void)state;
  float x[] = {1, 1.25f, 1.5f, 1.75f, 2, 3, 0.125f, 0.124f, 0.1875f,
               1e38f, 3e38f, 0, 1e-39f, INFINITY, NAN, 6e-39f};
  int64_t d[] = {16};
  const char *modes[] = {"up", "down", "nearest"};
  for (int m = 0; m < 3; m++)
    for (int sat = 0; sat <= 1; sat++) {
      optest *t = optest_new("Cast", 25);
      optest_attr_int(t, "to", EMBER_FLOAT8E8M0);
      optest_attr_int(t, "saturate", sat);
      optest_attr_string(t, "round_mode", modes[m]);
      optest_input(t, EMBER_FLOAT, 1, d, x);
      if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
      const emb_tensor *y = out_tensor(t, 0, EMBER_FLOAT8E8M0, 1, d);
      for (int i = 0; i < 16; i++) {
        unsigned want = ref_e8m0(x[i], modes[m], sat);
        unsigned got = ((uint8_t *)y->data)[i];
        if (got != want)
          fail_msg("%s sat=%d: %g gave 0x%x, expected 0x%x", modes[m], sat,
                   (double)x[i], got, want);
      }
      optest_free(t);
    }
}

static void test_cast_bad_round_mode_fails(void **state) {
  (void)state;
  float x[] = {1};
  int64_t d[] = {1};
  optest *t = optest_new("Cast", 25);
  optest_attr_int(t, "to", EMBER_FLOAT8E8M0);
  optest_attr_string(t, "round_mode", "sideways");
  optest_input(t, EMBER_FLOAT, 1, d, x);
  assert_int_equal(optest_run(t), EMBER_ERR_INVALID_MODEL);
  assert_non_null(strstr(optest_errmsg(t), "n0"));
  assert_non_null(strstr(optest_errmsg(t), "round_mode"));
  optest_free(t);
}

static void test_castlike_to_int4_and_float8(void **state) {
  (void)state;
  float x[] = {1.5f, -3.5f, 100.0f};
  int64_t d[] = {3}, d1[] = {1};
  uint8_t like[1] = {0};
  optest *t = optest_new("CastLike", 21);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  optest_input(t, EMBER_INT4, 1, d1, like);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, EMBER_INT4, 1, d);
  assert_int_equal(get_code(EMBER_INT4, y->data, 0), 2);
  assert_int_equal(get_code(EMBER_INT4, y->data, 1), 0xc); /* -4 */
  assert_int_equal(get_code(EMBER_INT4, y->data, 2), 100 & 0xf);
  optest_free(t);
  t = optest_new("CastLike", 21);
  optest_attr_int(t, "saturate", 0);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  optest_input(t, EMBER_FLOAT8E5M2, 1, d1, like);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  y = out_tensor(t, 0, EMBER_FLOAT8E5M2, 1, d);
  for (int i = 0; i < 3; i++)
    assert_int_equal(((uint8_t *)y->data)[i],
                     ref_encode(&F8[2], x[i], false));
  optest_free(t);
}

/* ---------------------------------------------------- QuantizeLinear */

/* Scale index of element e for x dims, axis and block (0: per axis;
 * scale_n == 1: per tensor). */
static size_t ref_pidx(int rank, const int64_t *xd, int axis, int64_t block,
                       size_t scale_n, size_t e) {
  if (scale_n == 1) return 0;
  size_t inner = numel(rank - axis - 1, xd + axis + 1);
  size_t a = (e / inner) % (size_t)xd[axis];
  if (!block) return a;
  size_t o = e / (inner * (size_t)xd[axis]);
  size_t nb = ((size_t)xd[axis] + (size_t)block - 1) / (size_t)block;
  return (o * nb + a / (size_t)block) * inner + e % inner;
}

static void qrange(int32_t dt, double *lo, double *hi) {
  switch (dt) {
    case EMBER_UINT8: *lo = 0, *hi = 255; break;
    case EMBER_INT8: *lo = -128, *hi = 127; break;
    case EMBER_UINT16: *lo = 0, *hi = 65535; break;
    case EMBER_INT16: *lo = -32768, *hi = 32767; break;
    case EMBER_UINT4: *lo = 0, *hi = 15; break;
    case EMBER_INT4: *lo = -8, *hi = 7; break;
    case EMBER_UINT2: *lo = 0, *hi = 3; break;
    default: *lo = -2, *hi = 1; break;
  }
}

static int64_t int_value(int32_t dt, const void *data, size_t i) {
  unsigned c = get_code(dt, data, i);
  switch (dt) {
    case EMBER_INT8: return (int8_t)c;
    case EMBER_UINT16: return ((const uint16_t *)data)[i];
    case EMBER_INT16: return ((const int16_t *)data)[i];
    case EMBER_INT4: return c >= 8 ? (int64_t)c - 16 : c;
    case EMBER_INT2: return c >= 2 ? (int64_t)c - 4 : c;
    default: return c;
  }
}

/* Quantize float x (dims) with float scales and integer zero points of
 * type dt through the op and compare with the formula. */
static void check_quantize_int(int32_t dt, int rank, const int64_t *xd,
                               const float *x, int srank, const int64_t *sd,
                               const float *scale, const int64_t *zp,
                               int axis, int64_t block) {
  size_t n = numel(rank, xd), sn = numel(srank, sd);
  uint8_t zbuf[256];
  int64_t zval[64]; /* what the stored zero points mean in type dt */
  memset(zbuf, 0, sizeof zbuf);
  for (size_t i = 0; i < sn; i++) {
    if (dt == EMBER_INT16 || dt == EMBER_UINT16)
      ((int16_t *)zbuf)[i] = (int16_t)zp[i];
    else
      set_code(dt, zbuf, i, (unsigned)zp[i]);
    zval[i] = int_value(dt, zbuf, i);
  }
  zp = zval;
  optest *t = optest_new("QuantizeLinear", 25);
  optest_attr_int(t, "axis", axis);
  if (block) optest_attr_int(t, "block_size", block);
  optest_input(t, EMBER_FLOAT, rank, xd, x);
  optest_input(t, EMBER_FLOAT, srank, sd, scale);
  optest_input_const(t, dt, srank, sd, zbuf);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, dt, rank, xd);
  double lo, hi;
  qrange(dt, &lo, &hi);
  if (axis < 0) axis += rank;
  for (size_t e = 0; e < n; e++) {
    size_t p = ref_pidx(rank, xd, axis, block, sn, e);
    double r = rint((double)(x[e] / scale[p])) + (double)zp[p];
    r = r < lo ? lo : r > hi ? hi : r;
    int64_t got = int_value(dt, y->data, e);
    if (got != (int64_t)r)
      fail_msg("%s element %zu (x %g, scale %g, zp %lld): got %lld, "
               "expected %lld", ember_dtype_name(dt), e, (double)x[e],
               (double)scale[p], (long long)zp[p], (long long)got,
               (long long)r);
  }
  optest_free(t);
}

static void test_quantize_per_tensor_axis_block(void **state) {
  (void)state;
  float x[60];
  for (int i = 0; i < 60; i++) x[i] = (float)((i * 37) % 61 - 30) * 1.75f;
  x[3] = 2.5f, x[4] = 3.5f, x[5] = -2.5f; /* ties */
  int64_t xd[] = {3, 5, 4};
  /* per tensor */
  float s1[] = {0.5f};
  int64_t z1[] = {3};
  int64_t d1[] = {1};
  check_quantize_int(EMBER_UINT8, 3, xd, x, 0, d1, s1, z1, 1, 0);
  check_quantize_int(EMBER_INT8, 3, xd, x, 1, d1, s1, z1, 1, 0);
  check_quantize_int(EMBER_INT4, 3, xd, x, 1, d1, s1, z1, 1, 0);
  check_quantize_int(EMBER_UINT2, 3, xd, x, 1, d1, s1, z1, 1, 0);
  /* per axis (axis 1, negative axis -2 is the same) */
  float s5[] = {0.5f, 1, 2, 4, 8};
  int64_t z5[] = {0, 1, 2, 3, 7};
  int64_t d5[] = {5};
  check_quantize_int(EMBER_UINT8, 3, xd, x, 1, d5, s5, z5, 1, 0);
  check_quantize_int(EMBER_INT16, 3, xd, x, 1, d5, s5, z5, -2, 0);
  check_quantize_int(EMBER_UINT4, 3, xd, x, 1, d5, s5, z5, 1, 0);
  /* blocked along axis 1 with a remainder block: 5 = 2 + 2 + 1 */
  float sb[36];
  int64_t zb[36];
  for (int i = 0; i < 36; i++) {
    sb[i] = 0.25f * (float)(1 + i % 7);
    zb[i] = i % 5 - 2;
  }
  int64_t db[] = {3, 3, 4};
  check_quantize_int(EMBER_INT8, 3, xd, x, 3, db, sb, zb, 1, 2);
  check_quantize_int(EMBER_INT4, 3, xd, x, 3, db, sb, zb, 1, 2);
  /* blocked along the last axis: 4 = 3 + 1 */
  int64_t dl[] = {3, 5, 2};
  check_quantize_int(EMBER_INT2, 3, xd, x, 3, dl, sb, zb, -1, 3);
}

static void test_quantize_float8_saturate(void **state) {
  (void)state;
  float x[] = {0, 1, 2, 100000, 200, -1000, 0.01f, 33};
  int64_t d[] = {8}, d1[] = {1};
  float s[] = {2};
  for (int k = 0; k < 4; k++)
    for (int sat = 0; sat <= 1; sat++) {
      uint8_t zp[1] = {0};
      optest *t = optest_new("QuantizeLinear", 21);
      if (!sat) optest_attr_int(t, "saturate", 0);
      optest_input(t, EMBER_FLOAT, 1, d, x);
      optest_input(t, EMBER_FLOAT, 0, d1, s);
      optest_input(t, F8[k].dt, 1, d1, zp);
      if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
      const emb_tensor *y = out_tensor(t, 0, F8[k].dt, 1, d);
      for (int i = 0; i < 8; i++) {
        unsigned want = ref_encode(&F8[k], x[i] / s[0], sat);
        unsigned got = ((uint8_t *)y->data)[i];
        if (want == 0x100 ? !isnan(ref_decode(&F8[k], got)) : got != want)
          fail_msg("%s sat %d: %g gave 0x%x, expected 0x%x",
                   ember_dtype_name(F8[k].dt), sat, (double)x[i], got, want);
      }
      optest_free(t);
    }
}

static void test_quantize_output_dtype_and_precision(void **state) {
  (void)state;
  /* No zero point: output_dtype picks int16; without it uint8. */
  float x[] = {-70000, -3.5f, 2.5f, 70000};
  float s[] = {1};
  int64_t d[] = {4};
  optest *t = optest_new("QuantizeLinear", 21);
  optest_attr_int(t, "output_dtype", EMBER_INT16);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  optest_input(t, EMBER_FLOAT, 0, d, s);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, EMBER_INT16, 1, d);
  const int16_t *v = y->data;
  assert_int_equal(v[0], -32768);
  assert_int_equal(v[1], -4);
  assert_int_equal(v[2], 2);
  assert_int_equal(v[3], 32767);
  optest_free(t);
  t = optest_new("QuantizeLinear", 13);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  optest_input(t, EMBER_FLOAT, 0, d, s);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  y = out_tensor(t, 0, EMBER_UINT8, 1, d);
  assert_int_equal(((uint8_t *)y->data)[3], 255);
  optest_free(t);
  /* precision float16: x and the scale are rounded to float16 before the
   * division.  2049 -> 2048 in float16, so 2049 / 1 quantizes to 2048. */
  float x2[] = {2049, 2051};
  int64_t d2[] = {2};
  t = optest_new("QuantizeLinear", 23);
  optest_attr_int(t, "output_dtype", EMBER_INT16);
  optest_attr_int(t, "precision", EMBER_FLOAT16);
  optest_input(t, EMBER_FLOAT, 1, d2, x2);
  optest_input(t, EMBER_FLOAT, 0, d2, s);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  y = out_tensor(t, 0, EMBER_INT16, 1, d2);
  assert_int_equal(((int16_t *)y->data)[0], 2048);
  assert_int_equal(((int16_t *)y->data)[1], 2052);
  optest_free(t);
}

static void test_quantize_bad_shapes_fail(void **state) {
  (void)state;
  float x[12] = {0}, s[4] = {1, 1, 1, 1};
  uint8_t z[4] = {0};
  int64_t xd[] = {3, 4}, sd[] = {4}, zd[] = {3}, bd[] = {3, 3};
  struct {
    int opset;
    int64_t axis, block;
    int srank;
    const int64_t *sdims;
    const int64_t *zdims;
    ember_status want;
  } cases[] = {
      {25, 0, 0, 1, sd, sd, EMBER_ERR_SHAPE},   /* axis 0 has 3, not 4 */
      {25, 1, 0, 1, sd, zd, EMBER_ERR_SHAPE},   /* zp shape differs */
      {10, 1, 0, 1, sd, sd, EMBER_ERR_SHAPE},   /* opset 10: scalar only */
      {25, 1, 2, 2, bd, bd, EMBER_ERR_SHAPE},   /* 4 / 2 = 2 blocks, not 3 */
      {25, 5, 0, 1, sd, sd, EMBER_ERR_INVALID_MODEL}, /* axis range */
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    optest *t = optest_new("QuantizeLinear", cases[k].opset);
    optest_attr_int(t, "axis", cases[k].axis);
    if (cases[k].block) optest_attr_int(t, "block_size", cases[k].block);
    optest_input(t, EMBER_FLOAT, 2, xd, x);
    optest_input(t, EMBER_FLOAT, cases[k].srank, cases[k].sdims, s);
    optest_input(t, EMBER_UINT8, cases[k].zdims == zd ? 1 : cases[k].srank,
                 cases[k].zdims, z);
    ember_status st = optest_run(t);
    if (st == EMBER_OK) fail_msg("case %zu ran", k);
    assert_non_null(strstr(optest_errmsg(t), "n0"));
    optest_free(t);
  }
  /* output_dtype disagreeing with the zero point's type */
  int64_t d1[] = {1};
  optest *t = optest_new("QuantizeLinear", 21);
  optest_attr_int(t, "output_dtype", EMBER_INT8);
  optest_input(t, EMBER_FLOAT, 2, xd, x);
  optest_input(t, EMBER_FLOAT, 0, d1, s);
  optest_input(t, EMBER_UINT8, 0, d1, z);
  assert_int_equal(optest_run(t), EMBER_ERR_TYPE);
  assert_non_null(strstr(optest_errmsg(t), "output_dtype"));
  optest_free(t);
}

/* -------------------------------------------------- DequantizeLinear */

static void test_dequantize_types_and_blocks(void **state) {
  (void)state;
  static const int32_t types[] = {EMBER_UINT8, EMBER_INT8, EMBER_INT16,
                                  EMBER_INT4, EMBER_UINT2, EMBER_INT32};
  int64_t xd[] = {2, 5, 3}; /* 30 elements */
  for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
    int32_t dt = types[k];
    double lo, hi;
    qrange(dt, &lo, &hi);
    if (dt == EMBER_INT32) lo = -100000, hi = 100000;
    uint8_t xb[128], zb[128];
    memset(xb, 0, sizeof xb);
    memset(zb, 0, sizeof zb);
    int64_t xv[30];
    for (int i = 0; i < 30; i++) {
      xv[i] = (int64_t)lo + (i * 7) % (int64_t)(hi - lo + 1);
      if (dt == EMBER_INT16) ((int16_t *)xb)[i] = (int16_t)xv[i];
      else if (dt == EMBER_INT32) ((int32_t *)xb)[i] = (int32_t)xv[i];
      else set_code(dt, xb, (size_t)i, (unsigned)xv[i]);
    }
    /* blocks of 2 along axis 1: 5 -> 3 blocks; scale [2, 3, 3] */
    int64_t sd[] = {2, 3, 3};
    float s[18];
    for (int i = 0; i < 18; i++) s[i] = 0.125f * (float)(i + 1);
    int64_t zfull[18];
    for (int i = 0; i < 18; i++) {
      zfull[i] = (int64_t)lo + i % 3;
      if (dt == EMBER_INT16) ((int16_t *)zb)[i] = (int16_t)zfull[i];
      else if (dt == EMBER_INT32) ((int32_t *)zb)[i] = 0, zfull[i] = 0;
      else set_code(dt, zb, (size_t)i, (unsigned)zfull[i]);
    }
    optest *t = optest_new("DequantizeLinear", 25);
    optest_attr_int(t, "axis", 1);
    optest_attr_int(t, "block_size", 2);
    optest_input(t, dt, 3, xd, xb);
    optest_input(t, EMBER_FLOAT, 3, sd, s);
    optest_input(t, dt, 3, sd, zb);
    if (optest_run(t)) fail_msg("%s: run failed: %s", ember_dtype_name(dt),
                                optest_errmsg(t));
    float want[30];
    for (size_t e = 0; e < 30; e++) {
      size_t p = ref_pidx(3, xd, 1, 2, 18, e);
      want[e] = (float)((double)(xv[e] - zfull[p]) * s[p]);
    }
    optest_expect_f32(optest_output(t, 0), 3, xd, want, 0, 0);
    optest_free(t);
  }
}

static void test_dequantize_float8_and_output_dtype(void **state) {
  (void)state;
  uint8_t codes[16];
  for (int i = 0; i < 16; i++) codes[i] = (uint8_t)(i * 15);
  int64_t d[] = {16}, d1[] = {1};
  float s[] = {0.5f};
  uint8_t zp[] = {0x38}; /* E4M3FN 1.0 */
  optest *t = optest_new("DequantizeLinear", 25);
  optest_attr_int(t, "axis", 0);
  optest_input(t, EMBER_FLOAT8E4M3FN, 1, d, codes);
  optest_input(t, EMBER_FLOAT, 1, d1, s);
  optest_input(t, EMBER_FLOAT8E4M3FN, 1, d1, zp);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  float want[16];
  for (int i = 0; i < 16; i++)
    want[i] = (float)((ref_decode(&F8[0], codes[i]) - 1.0) * 0.5);
  optest_expect_f32(optest_output(t, 0), 1, d, want, 0, 0);
  optest_free(t);
  /* E8M0 scale needs output_dtype; with it, 2^(code - 127). */
  uint8_t x[] = {1, 2, 3};
  uint8_t e8[] = {130}; /* 8.0 */
  int64_t d3[] = {3};
  t = optest_new("DequantizeLinear", 24);
  optest_attr_int(t, "output_dtype", EMBER_FLOAT);
  optest_input(t, EMBER_UINT8, 1, d3, x);
  optest_input(t, EMBER_FLOAT8E8M0, 0, d1, e8);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  float w3[] = {8, 16, 24};
  optest_expect_f32(optest_output(t, 0), 1, d3, w3, 0, 0);
  optest_free(t);
  t = optest_new("DequantizeLinear", 24);
  optest_input(t, EMBER_UINT8, 1, d3, x);
  optest_input(t, EMBER_FLOAT8E8M0, 0, d1, e8);
  assert_int_equal(optest_run(t), EMBER_ERR_INVALID_MODEL);
  assert_non_null(strstr(optest_errmsg(t), "output_dtype"));
  optest_free(t);
  /* zero point of another type */
  int8_t z8[] = {0};
  t = optest_new("DequantizeLinear", 21);
  optest_input(t, EMBER_UINT8, 1, d3, x);
  optest_input(t, EMBER_FLOAT, 0, d1, s);
  optest_input(t, EMBER_INT8, 0, d1, z8);
  assert_int_equal(optest_run(t), EMBER_ERR_TYPE);
  optest_free(t);
}

/* ----------------------------------------- DynamicQuantizeLinear */

static void check_dynamic(const float *x, size_t n) {
  int64_t d[] = {(int64_t)n};
  optest *t = optest_new("DynamicQuantizeLinear", 11);
  optest_outputs(t, 3);
  optest_input(t, EMBER_FLOAT, 1, d, x);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  float mx = 0, mn = 0;
  for (size_t i = 0; i < n; i++) {
    if (x[i] > mx) mx = x[i];
    if (x[i] < mn) mn = x[i];
  }
  float scale = (mx - mn) / 255.0f;
  double zp = 0;
  if (scale > 0) {
    float z = 0.0f - mn / scale;
    zp = rint(z < 0 ? 0 : z > 255 ? 255 : z);
  }
  const emb_tensor *ys = out_tensor(t, 1, EMBER_FLOAT, 0, NULL);
  const emb_tensor *yz = out_tensor(t, 2, EMBER_UINT8, 0, NULL);
  const emb_tensor *y = out_tensor(t, 0, EMBER_UINT8, 1, d);
  assert_true(*(float *)ys->data == scale);
  assert_int_equal(*(uint8_t *)yz->data, (int)zp);
  for (size_t i = 0; i < n; i++) {
    double r = scale > 0 ? rint((double)(x[i] / scale)) + zp : 0;
    r = r < 0 ? 0 : r > 255 ? 255 : r;
    assert_int_equal(((uint8_t *)y->data)[i], (int)r);
  }
  optest_free(t);
}

static void test_dynamic_quantize(void **state) {
  (void)state;
  float a[] = {0, 2, -3, -2.5f, 1.34f, 0.5f};
  float b[] = {1, 2.1f, 1.3f, 2.5f, 3.34f, 10.0f}; /* min adjusted to 0 */
  float c[] = {-1, -2.1f, -1.3f, -2.5f, -3.34f, -4.0f};
  float z[] = {0, 0, 0};
  check_dynamic(a, 6);
  check_dynamic(b, 6);
  check_dynamic(c, 6);
  check_dynamic(z, 3);
}

/* ---------------------------------------------------- integer matmul */

/* Reference numpy-style matmul of 8-bit operands minus zero points given
 * per (batch, row) for A and per (batch, col) for B, 2-D only here. */
static void test_matmulinteger_broadcast_and_zero_points(void **state) {
  (void)state;
  /* A [2, 1, 3, 4] int8, B [3, 4, 5] uint8 -> Y [2, 3, 3, 5] */
  int64_t ad[] = {2, 1, 3, 4}, bd[] = {3, 4, 5}, yd[] = {2, 3, 3, 5};
  int8_t A[24];
  uint8_t B[60];
  for (int i = 0; i < 24; i++) A[i] = (int8_t)((i * 53) % 256 - 128);
  for (int i = 0; i < 60; i++) B[i] = (uint8_t)((i * 97 + 11) % 256);
  int8_t az[] = {3, -5, 7}; /* per row: [M] */
  uint8_t bz[] = {0, 128, 255, 1, 77}; /* per column: [N] */
  int64_t azd[] = {3}, bzd[] = {5};
  for (int variant = 0; variant < 2; variant++) {
    optest *t = optest_new("MatMulInteger", 10);
    optest_input(t, EMBER_INT8, 4, ad, A);
    optest_input(t, EMBER_UINT8, 3, bd, B);
    if (variant) {
      optest_input(t, EMBER_INT8, 1, azd, az);
      optest_input(t, EMBER_UINT8, 1, bzd, bz);
    }
    if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
    const emb_tensor *y = out_tensor(t, 0, EMBER_INT32, 4, yd);
    const int32_t *Y = y->data;
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        for (int m = 0; m < 3; m++)
          for (int n = 0; n < 5; n++) {
            int64_t acc = 0;
            for (int k = 0; k < 4; k++) {
              int64_t a = A[(i * 3 + m) * 4 + k] - (variant ? az[m] : 0);
              int64_t b = B[(j * 4 + k) * 5 + n] - (variant ? bz[n] : 0);
              acc += a * b;
            }
            int32_t got = Y[((i * 3 + j) * 3 + m) * 5 + n];
            if (got != acc)
              fail_msg("Y[%d,%d,%d,%d] = %d, expected %lld", i, j, m, n, got,
                       (long long)acc);
          }
    optest_free(t);
  }
}

static void test_matmulinteger_vectors(void **state) {
  (void)state;
  /* [K] x [K, N] -> [N]; [M, K] x [K] -> [M] */
  uint8_t a[] = {1, 2, 3}, b[] = {4, 5, 6, 7, 8, 9};
  int64_t ad[] = {3}, bd[] = {3, 2}, nd[] = {2};
  optest *t = optest_new("MatMulInteger", 10);
  optest_input(t, EMBER_UINT8, 1, ad, a);
  optest_input(t, EMBER_UINT8, 2, bd, b);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, EMBER_INT32, 1, nd);
  assert_int_equal(((int32_t *)y->data)[0], 1 * 4 + 2 * 6 + 3 * 8);
  assert_int_equal(((int32_t *)y->data)[1], 1 * 5 + 2 * 7 + 3 * 9);
  optest_free(t);
  int64_t md[] = {2, 3}, kd[] = {3};
  t = optest_new("MatMulInteger", 10);
  optest_input(t, EMBER_UINT8, 2, md, b);
  optest_input(t, EMBER_UINT8, 1, kd, a);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  y = out_tensor(t, 0, EMBER_INT32, 1, nd);
  assert_int_equal(((int32_t *)y->data)[0], 4 * 1 + 5 * 2 + 6 * 3);
  assert_int_equal(((int32_t *)y->data)[1], 7 * 1 + 8 * 2 + 9 * 3);
  optest_free(t);
  /* mismatched inner dimension */
  int64_t bad[] = {2, 2};
  t = optest_new("MatMulInteger", 10);
  optest_input(t, EMBER_UINT8, 1, ad, a);
  optest_input(t, EMBER_UINT8, 2, bad, b);
  assert_int_equal(optest_run(t), EMBER_ERR_SHAPE);
  assert_non_null(strstr(optest_errmsg(t), "n0"));
  optest_free(t);
}

static void test_qlinearmatmul_per_row_col(void **state) {
  (void)state;
  int64_t ad[] = {3, 4}, bd[] = {4, 2}, yd[] = {3, 2}, one[] = {1};
  int64_t rd[] = {3, 1}, cd[] = {1, 2};
  uint8_t A[12], B[8];
  for (int i = 0; i < 12; i++) A[i] = (uint8_t)(i * 19 % 256);
  for (int i = 0; i < 8; i++) B[i] = (uint8_t)(i * 41 % 256);
  float as[] = {0.01f, 0.02f, 0.05f}, bs[] = {0.1f, 0.03f}, ys[] = {0.7f};
  uint8_t az[] = {10, 20, 30}, bz[] = {128, 5}, yz[] = {100};
  optest *t = optest_new("QLinearMatMul", 21);
  optest_input(t, EMBER_UINT8, 2, ad, A);
  optest_input(t, EMBER_FLOAT, 2, rd, as);
  optest_input(t, EMBER_UINT8, 2, rd, az);
  optest_input(t, EMBER_UINT8, 2, bd, B);
  optest_input(t, EMBER_FLOAT, 2, cd, bs);
  optest_input(t, EMBER_UINT8, 2, cd, bz);
  optest_input(t, EMBER_FLOAT, 1, one, ys);
  optest_input(t, EMBER_UINT8, 1, one, yz);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, EMBER_UINT8, 2, yd);
  for (int m = 0; m < 3; m++)
    for (int n = 0; n < 2; n++) {
      int64_t acc = 0;
      for (int k = 0; k < 4; k++)
        acc += (A[m * 4 + k] - az[m]) * (B[k * 2 + n] - bz[n]);
      float f = as[m] * bs[n] / ys[0];
      double r = rint((double)acc * f) + yz[0];
      r = r < 0 ? 0 : r > 255 ? 255 : r;
      assert_int_equal(((uint8_t *)y->data)[m * 2 + n], (int)r);
    }
  optest_free(t);
}

/* ------------------------------------------------------ convolutions */

typedef struct convcase {
  int nsp;
  int64_t xd[5], wd[5];
  int64_t group;
  int64_t strides[3], dil[3], pads[6];
  const char *auto_pad;
} convcase;

/* Direct N-D (up to 3 spatial axes) reference convolution of
 * (x - xz) by (w - wz[m]), zero padding in the shifted domain.  Returns
 * the output dims in yd and the accumulators in acc. */
static void ref_conv(const convcase *cc, const uint8_t *x, int xz,
                     const int8_t *w, const int *wz, int64_t *yd,
                     int64_t *acc, int64_t *pb) {
  int nsp = cc->nsp;
  int64_t out[3] = {1, 1, 1}, in[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t s[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pbeg[3] = {0, 0, 0};
  for (int i = 0; i < nsp; i++) {
    in[i] = cc->xd[2 + i];
    k[i] = cc->wd[2 + i];
    s[i] = cc->strides[i];
    dl[i] = cc->dil[i];
    int64_t dk = (k[i] - 1) * dl[i] + 1;
    if (cc->auto_pad && !strcmp(cc->auto_pad, "SAME_UPPER")) {
      out[i] = (in[i] + s[i] - 1) / s[i];
      int64_t tot = (out[i] - 1) * s[i] + dk - in[i];
      if (tot < 0) tot = 0;
      pbeg[i] = tot / 2;
    } else {
      pbeg[i] = cc->pads[i];
      out[i] = (in[i] + cc->pads[i] + cc->pads[i + nsp] - dk) / s[i] + 1;
    }
    pb[i] = pbeg[i];
  }
  int64_t N = cc->xd[0], C = cc->xd[1], M = cc->wd[0], G = cc->group;
  int64_t cg = C / G, mg = M / G;
  yd[0] = N;
  yd[1] = M;
  for (int i = 0; i < nsp; i++) yd[2 + i] = out[i];
  size_t e = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t o0 = 0; o0 < out[0]; o0++)
        for (int64_t o1 = 0; o1 < out[1]; o1++)
          for (int64_t o2 = 0; o2 < out[2]; o2++, e++) {
            int64_t a = 0, g = m / mg;
            for (int64_t c = 0; c < cg; c++)
              for (int64_t k0 = 0; k0 < k[0]; k0++)
                for (int64_t k1 = 0; k1 < k[1]; k1++)
                  for (int64_t k2 = 0; k2 < k[2]; k2++) {
                    int64_t p0 = o0 * s[0] - pbeg[0] + k0 * dl[0];
                    int64_t p1 = o1 * s[1] - pbeg[1] + k1 * dl[1];
                    int64_t p2 = o2 * s[2] - pbeg[2] + k2 * dl[2];
                    if (p0 < 0 || p0 >= in[0] || p1 < 0 || p1 >= in[1] ||
                        p2 < 0 || p2 >= in[2])
                      continue;
                    int64_t xi =
                        (((n * C + g * cg + c) * in[0] + p0) * in[1] + p1) *
                            in[2] + p2;
                    int64_t wi = (((m * cg + c) * k[0] + k0) * k[1] + k1) *
                                     k[2] + k2;
                    a += (x[xi] - xz) * (int64_t)(w[wi] - wz[m]);
                  }
            acc[e] = a;
          }
}

static void run_conv_case(const convcase *cc, bool qlinear) {
  size_t xn = numel(2 + cc->nsp, cc->xd), wn = numel(2 + cc->nsp, cc->wd);
  uint8_t x[4096];
  int8_t w[4096];
  assert_true(xn <= sizeof x && wn <= sizeof w);
  for (size_t i = 0; i < xn; i++) x[i] = (uint8_t)((i * 31 + 7) % 256);
  for (size_t i = 0; i < wn; i++) w[i] = (int8_t)((i * 17) % 256 - 128);
  int64_t M = cc->wd[0];
  int wz[64];
  int8_t wz8[64];
  for (int64_t m = 0; m < M; m++) wz[m] = (int)(m % 5) - 2, wz8[m] = (int8_t)wz[m];
  uint8_t xz8[] = {9};
  int64_t yd[5], pb[3];
  static int64_t acc[65536];
  ref_conv(cc, x, 9, w, wz, yd, acc, pb);
  int rank = 2 + cc->nsp;
  int64_t md[] = {M}, one[] = {1};
  optest *t = optest_new(qlinear ? "QLinearConv" : "ConvInteger", 10);
  if (cc->group != 1) optest_attr_int(t, "group", cc->group);
  optest_attr_ints(t, "strides", (size_t)cc->nsp, cc->strides);
  optest_attr_ints(t, "dilations", (size_t)cc->nsp, cc->dil);
  if (cc->auto_pad)
    optest_attr_string(t, "auto_pad", cc->auto_pad);
  else
    optest_attr_ints(t, "pads", (size_t)(2 * cc->nsp), cc->pads);
  float xs[] = {0.02f}, ys[] = {0.9f}, ws[64];
  int32_t bias[64];
  uint8_t yz[] = {120};
  for (int64_t m = 0; m < M; m++) {
    ws[m] = 0.01f * (float)(m + 1);
    bias[m] = (int32_t)(m * 1000 - 3000);
  }
  if (qlinear) {
    optest_input(t, EMBER_UINT8, rank, cc->xd, x);
    optest_input(t, EMBER_FLOAT, 0, one, xs);
    optest_input(t, EMBER_UINT8, 0, one, xz8);
    optest_input_const(t, EMBER_INT8, rank, cc->wd, w);
    optest_input(t, EMBER_FLOAT, 1, md, ws);
    optest_input(t, EMBER_INT8, 1, md, wz8);
    optest_input(t, EMBER_FLOAT, 0, one, ys);
    optest_input(t, EMBER_UINT8, 0, one, yz);
    optest_input(t, EMBER_INT32, 1, md, bias);
  } else {
    optest_input(t, EMBER_UINT8, rank, cc->xd, x);
    optest_input(t, EMBER_INT8, rank, cc->wd, w);
    optest_input(t, EMBER_UINT8, 0, one, xz8);
    optest_input(t, EMBER_INT8, 1, md, wz8);
  }
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y =
      out_tensor(t, 0, qlinear ? EMBER_UINT8 : EMBER_INT32, rank, yd);
  size_t yn = numel(rank, yd), per = yn / (size_t)(yd[0] * M);
  for (size_t e = 0; e < yn; e++) {
    int64_t m = (int64_t)((e / per) % (size_t)M);
    if (qlinear) {
      float f = xs[0] * ws[m] / ys[0];
      double r = rint((double)(acc[e] + bias[m]) * f) + yz[0];
      r = r < 0 ? 0 : r > 255 ? 255 : r;
      if (((uint8_t *)y->data)[e] != (int)r)
        fail_msg("element %zu: got %d, expected %d", e,
                 ((uint8_t *)y->data)[e], (int)r);
    } else if (((int32_t *)y->data)[e] != acc[e]) {
      fail_msg("element %zu: got %d, expected %lld", e,
               ((int32_t *)y->data)[e], (long long)acc[e]);
    }
  }
  optest_free(t);
}

static void test_conv_integer_and_qlinear(void **state) {
  (void)state;
  const convcase cases[] = {
      /* 2-D, padding, stride 2, groups 2 */
      {2, {2, 4, 7, 6}, {6, 2, 3, 2}, 2, {2, 1}, {1, 1}, {1, 0, 2, 1},
       NULL},
      /* 2-D, dilation 2, SAME_UPPER */
      {2, {1, 3, 6, 5}, {4, 3, 3, 3}, 1, {1, 2}, {2, 1}, {0}, "SAME_UPPER"},
      /* 1-D, depthwise */
      {1, {1, 3, 9}, {3, 1, 4}, 3, {3}, {1}, {2, 1}, NULL},
      /* 3-D */
      {3, {1, 2, 4, 3, 5}, {2, 2, 2, 2, 3}, 1, {1, 2, 1}, {1, 1, 2},
       {1, 0, 1, 0, 1, 0}, NULL},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    run_conv_case(&cases[k], false);
    run_conv_case(&cases[k], true);
  }
}

static void test_conv_integer_bad_channels_fail(void **state) {
  (void)state;
  uint8_t x[18] = {0};
  int8_t w[8] = {0};
  int64_t xd[] = {1, 2, 3, 3}, wd[] = {2, 1, 2, 2};
  optest *t = optest_new("ConvInteger", 10);
  optest_input(t, EMBER_UINT8, 4, xd, x);
  optest_input(t, EMBER_INT8, 4, wd, w); /* needs group 2 */
  assert_int_equal(optest_run(t), EMBER_ERR_SHAPE);
  assert_non_null(strstr(optest_errmsg(t), "n0"));
  optest_free(t);
}

static void test_empty_tensors(void **state) {
  (void)state;
  float none[1] = {0}, s4[] = {1, 2, 3, 4};
  uint8_t z4[] = {1, 2, 3, 4};
  int64_t xd[] = {0, 4}, sd[] = {4};
  optest *t = optest_new("QuantizeLinear", 21);
  optest_attr_int(t, "axis", 1);
  optest_input(t, EMBER_FLOAT, 2, xd, none);
  optest_input(t, EMBER_FLOAT, 1, sd, s4);
  optest_input(t, EMBER_UINT8, 1, sd, z4);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  out_tensor(t, 0, EMBER_UINT8, 2, xd);
  optest_free(t);
  int64_t d0[] = {0};
  t = optest_new("Cast", 21);
  optest_attr_int(t, "to", EMBER_INT4);
  optest_input(t, EMBER_FLOAT, 1, d0, none);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  out_tensor(t, 0, EMBER_INT4, 1, d0);
  optest_free(t);
  /* K = 0: every output is 0 */
  uint8_t a[1] = {0}, b[1] = {0};
  int64_t ad[] = {2, 0}, bd[] = {0, 3}, yd[] = {2, 3};
  t = optest_new("MatMulInteger", 10);
  optest_input(t, EMBER_UINT8, 2, ad, a);
  optest_input(t, EMBER_UINT8, 2, bd, b);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  const emb_tensor *y = out_tensor(t, 0, EMBER_INT32, 2, yd);
  for (int i = 0; i < 6; i++) assert_int_equal(((int32_t *)y->data)[i], 0);
  optest_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cast_float_to_minifloats_rne_saturate),
      cmocka_unit_test(test_cast_fnuz_inf_before_opset24_is_nan),
      cmocka_unit_test(test_cast_minifloats_to_float_exact),
      cmocka_unit_test(test_cast_between_float8_types),
      cmocka_unit_test(test_cast_float_to_subbyte_ints),
      cmocka_unit_test(test_cast_subbyte_ints_to_others),
      cmocka_unit_test(test_cast_string_float8_roundtrip),
      cmocka_unit_test(test_cast_e8m0_round_modes),
      cmocka_unit_test(test_cast_bad_round_mode_fails),
      cmocka_unit_test(test_castlike_to_int4_and_float8),
      cmocka_unit_test(test_quantize_per_tensor_axis_block),
      cmocka_unit_test(test_quantize_float8_saturate),
      cmocka_unit_test(test_quantize_output_dtype_and_precision),
      cmocka_unit_test(test_quantize_bad_shapes_fail),
      cmocka_unit_test(test_dequantize_types_and_blocks),
      cmocka_unit_test(test_dequantize_float8_and_output_dtype),
      cmocka_unit_test(test_dynamic_quantize),
      cmocka_unit_test(test_matmulinteger_broadcast_and_zero_points),
      cmocka_unit_test(test_matmulinteger_vectors),
      cmocka_unit_test(test_qlinearmatmul_per_row_col),
      cmocka_unit_test(test_conv_integer_and_qlinear),
      cmocka_unit_test(test_conv_integer_bad_channels_fail),
      cmocka_unit_test(test_empty_tensors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
