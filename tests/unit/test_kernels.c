/*
 * Kernel tests (kernels/): each kernel against a direct reference written
 * here, at and around its tile and block edges, with transposed strides,
 * alpha/beta combinations, empty and size-1 shapes.
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

#include "f32-gemm/f32-gemm.h"
#include "f32-reduce/f32-reduce.h"
#include "xx-copy/xx-copy.h"

static float frand(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void check_gemm(size_t m, size_t n, size_t k, int ta, int tb,
                       float alpha, float beta, uint32_t seed) {
  float *a = malloc((m * k + 1) * sizeof *a), *b = malloc((k * n + 1) * sizeof *b);
  float *c = malloc((m * n + 1) * sizeof *c), *r = malloc((m * n + 1) * sizeof *r);
  float *w = malloc((ember_f32_gemm_work_floats(m, n, k) + 1) * sizeof *w);
  for (size_t i = 0; i < m * k; i++) a[i] = frand(&seed);
  for (size_t i = 0; i < k * n; i++) b[i] = frand(&seed);
  for (size_t i = 0; i < m * n; i++) c[i] = r[i] = frand(&seed);
  if (beta == 0)
    for (size_t i = 0; i < m * n; i++) c[i] = NAN; /* must not be read */
  /* A is m x k stored row-major, or k x m when "transposed". */
  size_t a_rs = ta ? 1 : k, a_cs = ta ? m : 1;
  size_t b_rs = tb ? 1 : n, b_cs = tb ? k : 1;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double acc = 0;
      for (size_t p = 0; p < k; p++)
        acc += (double)a[i * a_rs + p * a_cs] * b[p * b_rs + j * b_cs];
      r[i * n + j] = (float)(alpha * acc + (beta == 0 ? 0 : beta * r[i * n + j]));
    }
  ember_f32_gemm__scalar(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c,
                         n, w);
  for (size_t i = 0; i < m * n; i++) {
    float tol = 1e-5f * (float)(k + 1) + 1e-5f * fabsf(r[i]);
    if (!(fabsf(c[i] - r[i]) <= tol))
      fail_msg("gemm m=%zu n=%zu k=%zu ta=%d tb=%d alpha=%g beta=%g: C[%zu] = "
               "%g, expected %g",
               m, n, k, ta, tb, (double)alpha, (double)beta, i, (double)c[i],
               (double)r[i]);
  }
  free(a);
  free(b);
  free(c);
  free(r);
  free(w);
}

static void test_gemm_tile_edges(void **state) {
  (void)state;
  const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17};
  uint32_t seed = 1;
  for (size_t i = 0; i < 11; i++)
    for (size_t j = 0; j < 11; j++)
      for (size_t kk = 0; kk < 11; kk += 3)
        check_gemm(sizes[i], sizes[j], sizes[kk], (int)((i + j) & 1),
                   (int)((j + kk) & 1), 1.0f, (i & 1) ? 1.0f : 0.0f, seed++);
}

static void test_gemm_block_edges(void **state) {
  (void)state;
  /* Around the cache blocks MC, KC and NC. */
  check_gemm(EMBER_F32_GEMM_MC + 1, 33, EMBER_F32_GEMM_KC + 3, 0, 0, 0.5f,
             2.0f, 7);
  check_gemm(5, EMBER_F32_GEMM_NC + 9, 17, 1, 1, -1.0f, 0.0f, 8);
  check_gemm(EMBER_F32_GEMM_MC - 1, EMBER_F32_GEMM_NR * 3 + 1,
             2 * EMBER_F32_GEMM_KC, 0, 1, 1.0f, 1.0f, 9);
}

static void test_gemm_empty_k(void **state) {
  (void)state;
  /* k == 0: C = beta * C (and 0 when beta is 0). */
  float c[6] = {1, 2, 3, 4, 5, 6}, w[64];
  ember_f32_gemm__scalar(2, 3, 0, 1.0f, NULL, 0, 0, NULL, 0, 0, 2.0f, c, 3, w);
  for (int i = 0; i < 6; i++) assert_float_equal(c[i], 2.0f * (i + 1), 0);
  ember_f32_gemm__scalar(2, 3, 0, 1.0f, NULL, 0, 0, NULL, 0, 0, 0.0f, c, 3, w);
  for (int i = 0; i < 6; i++) assert_float_equal(c[i], 0.0f, 0);
}

static void test_reduce(void **state) {
  (void)state;
  uint32_t seed = 3;
  const size_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {2, 1000, 1}, {1, 3, 17},
                              {4, 0, 3}};
  for (size_t s = 0; s < 5; s++) {
    size_t o = shapes[s][0], rr = shapes[s][1], in = shapes[s][2];
    float *x = malloc((o * rr * in + 1) * sizeof *x);
    float *y = malloc(o * in * sizeof *y), *z = malloc(o * in * sizeof *z);
    for (size_t i = 0; i < o * rr * in; i++) x[i] = frand(&seed);
    ember_f32_rsum__scalar(o, rr, in, x, y);
    ember_f32_rmax__scalar(o, rr, in, x, z);
    for (size_t a = 0; a < o; a++)
      for (size_t b = 0; b < in; b++) {
        double sum = 0, mx = -INFINITY;
        for (size_t r = 0; r < rr; r++) {
          float v = x[(a * rr + r) * in + b];
          sum += v;
          if (v > mx) mx = v;
        }
        assert_float_equal(y[a * in + b], sum, 1e-4);
        if (rr) assert_float_equal(z[a * in + b], mx, 0);
        else assert_true(isinf(z[a * in + b]) && z[a * in + b] < 0);
      }
    free(x);
    free(y);
    free(z);
  }
  float nan_in[3] = {1, NAN, 2}, out;
  ember_f32_rmax__scalar(1, 3, 1, nan_in, &out);
  assert_true(isnan(out));
}

static void test_copy_nd(void **state) {
  (void)state;
  /* A transpose of a 3x4 int32 matrix, then a reversed row, then a fill. */
  int32_t src[12], dst[12];
  for (int i = 0; i < 12; i++) src[i] = i;
  size_t dims[2] = {4, 3};
  ptrdiff_t ss[2] = {4, 16}, ds[2] = {12, 4};
  ember_xx_copy_nd__scalar(4, 2, dims, src, ss, dst, ds);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++) assert_int_equal(dst[i * 3 + j], src[j * 4 + i]);
  size_t d1[1] = {4};
  ptrdiff_t rs[1] = {-4}, rd[1] = {4};
  ember_xx_copy_nd__scalar(4, 1, d1, src + 3, rs, dst, rd);
  for (int i = 0; i < 4; i++) assert_int_equal(dst[i], 3 - i);
  ptrdiff_t bs[1] = {0};
  ember_xx_copy_nd__scalar(4, 1, d1, src + 5, bs, dst, rd); /* broadcast */
  for (int i = 0; i < 4; i++) assert_int_equal(dst[i], 5);
  int64_t v = -7, big[5];
  ember_xx_fill__scalar(8, 5, &v, big);
  for (int i = 0; i < 5; i++) assert_int_equal(big[i], -7);
  ember_xx_copy_nd__scalar(4, 0, NULL, src + 9, NULL, dst, NULL); /* scalar */
  assert_int_equal(dst[0], 9);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_tile_edges),
      cmocka_unit_test(test_gemm_block_edges),
      cmocka_unit_test(test_gemm_empty_k),
      cmocka_unit_test(test_reduce),
      cmocka_unit_test(test_copy_nd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
