/*
 * Kernel tests (kernels/): each kernel against a direct reference written
 * here (double precision for GEMM), at and around its tile and block
 * edges, with transposed and general strides, alpha/beta combinations
 * (beta = 0 over NaN), empty and size-1 shapes.  The GEMM runs with every
 * ISA forced in turn (kernels/isa.h; an ISA this machine lacks is skipped
 * with a message), through the dispatched entry point and both pre-packed
 * forms, and each micro-kernel is checked on its own.
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
#include "isa.h"
#include "f32-reduce/f32-reduce.h"
#include "xx-copy/xx-copy.h"

static float frand(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* How check_gemm runs the product: the reference, the dispatched entry
 * point (under whatever ISA is forced), or with B or A pre-packed; for the
 * pre-packed ways the operand is packed wider/taller than the product, which
 * then starts at column (row) `off` of it, so sub-range calls and the
 * packed buffer's narrow last strip are both exercised. */
enum gemm_way { WAY_SCALAR, WAY_DISPATCH, WAY_PACKED_B, WAY_PACKED_A };

static const char *const way_names[] = {"scalar", "dispatch", "packed-B",
                                        "packed-A"};

static void check_gemm_way(enum gemm_way way, size_t m, size_t n, size_t k,
                           int ta, int tb, float alpha, float beta,
                           uint32_t seed) {
  /* The packed operand is mt x k (A) or k x nt (B); the product uses rows
   * (columns) from0 .. of it, from0 a multiple of the packing alignment.
   * seed & 3 picks: window at the start or not, ending at the packed
   * edge (its narrow last strip) or inside a full strip. */
  size_t mt = m, nt = n, from0 = 0;
  float *packed = NULL;
  if (way == WAY_PACKED_B || way == WAY_PACKED_A) {
    ember_f32_gemm_tile t = ember_f32_gemm_tile_of(ember_kernels_isa());
    size_t align = way == WAY_PACKED_B ? t.nr : t.mr;
    from0 = (seed & 2) ? align : 0;
    size_t extra = from0 + ((seed & 1) ? 7 : 0);
    if (way == WAY_PACKED_B)
      nt += extra;
    else
      mt += extra;
  }
  /* The full operands (A is mt x k, B is k x nt when packed that way). */
  size_t am = way == WAY_PACKED_A ? mt : m, bn = way == WAY_PACKED_B ? nt : n;
  /* A is am x k stored row-major (ta 0), column-major (ta 1) or with
   * both strides > 1 (ta 2); B is k x bn likewise (tb 2: both > 1). */
  size_t a_rs = ta == 0 ? k : ta == 1 ? 1 : 2 * k + 3;
  size_t a_cs = ta == 0 ? 1 : ta == 1 ? am : 2;
  size_t b_rs = tb == 0 ? bn : tb == 1 ? 1 : 3;
  size_t b_cs = tb == 0 ? 1 : tb == 1 ? k : 3 * k + 1;
  size_t asz = am && k ? (am - 1) * a_rs + (k - 1) * a_cs + 1 : 0;
  size_t bsz = bn && k ? (k - 1) * b_rs + (bn - 1) * b_cs + 1 : 0;
  float *a = malloc((asz + 1) * sizeof *a);
  float *b = malloc((bsz + 1) * sizeof *b);
  float *c = malloc((m * n + 1) * sizeof *c), *r = malloc((m * n + 1) * sizeof *r);
  float *w = malloc((ember_f32_gemm_work_floats(m, n, k) + 1) * sizeof *w);
  for (size_t i = 0; i < asz; i++) a[i] = frand(&seed);
  for (size_t i = 0; i < bsz; i++) b[i] = frand(&seed);
  for (size_t i = 0; i < m * n; i++) c[i] = r[i] = frand(&seed);
  if (beta == 0)
    for (size_t i = 0; i < m * n; i++) c[i] = NAN; /* must not be read */
  size_t row0 = 0, col0 = 0;
  if (way == WAY_PACKED_B) {
    packed = malloc(ember_f32_gemm_packed_b_floats(nt, k) * sizeof *packed);
    ember_f32_gemm_pack_b(nt, k, b, b_rs, b_cs, packed);
    assert_int_equal(from0 % ember_f32_gemm_packed_b_align(packed), 0);
    col0 = from0;
  } else if (way == WAY_PACKED_A) {
    packed = malloc(ember_f32_gemm_packed_a_floats(mt, k) * sizeof *packed);
    ember_f32_gemm_pack_a(mt, k, a, a_rs, a_cs, packed);
    assert_int_equal(from0 % ember_f32_gemm_packed_a_align(packed), 0);
    row0 = from0;
  }
  const float *a0 = a + row0 * a_rs, *b0 = b + col0 * b_cs;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double acc = 0;
      for (size_t p = 0; p < k; p++)
        acc += (double)a0[i * a_rs + p * a_cs] * b0[p * b_rs + j * b_cs];
      r[i * n + j] = (float)(alpha * acc + (beta == 0 ? 0 : beta * r[i * n + j]));
    }
  switch (way) {
  case WAY_SCALAR:
    ember_f32_gemm__scalar(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta,
                           c, n, w);
    break;
  case WAY_DISPATCH:
    ember_f32_gemm(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, n,
                   w);
    break;
  case WAY_PACKED_B:
    ember_f32_gemm_prepacked(m, n, k, alpha, a, a_rs, a_cs, packed, col0, beta,
                             c, n, w);
    break;
  case WAY_PACKED_A:
    ember_f32_gemm_prepacked_a(m, n, k, alpha, packed, row0, b, b_rs, b_cs,
                               beta, c, n, w);
    break;
  }
  for (size_t i = 0; i < m * n; i++) {
    float tol = 1e-5f * (float)(k + 1) + 1e-5f * fabsf(r[i]);
    if (!(fabsf(c[i] - r[i]) <= tol))
      fail_msg("gemm (%s, isa %s) m=%zu n=%zu k=%zu ta=%d tb=%d alpha=%g "
               "beta=%g row0=%zu col0=%zu: C[%zu][%zu] = %g, expected %g",
               way_names[way], ember_kernels_isa_name(ember_kernels_isa()), m,
               n, k, ta, tb, (double)alpha, (double)beta, row0, col0, i / n,
               i % n, (double)c[i], (double)r[i]);
  }
  free(a);
  free(b);
  free(c);
  free(r);
  free(w);
  free(packed);
}

static void check_gemm(size_t m, size_t n, size_t k, int ta, int tb,
                       float alpha, float beta, uint32_t seed) {
  check_gemm_way(WAY_SCALAR, m, n, k, ta, tb, alpha, beta, seed);
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

/* Every ISA in turn (those the machine lacks are skipped, with a note):
 * the dispatched entry point and both pre-packed forms at and around that
 * ISA's register tile and cache blocks, with transposed operands,
 * alpha/beta combinations (beta = 0 over NaN), k = 0 and size-1 shapes. */
static void check_isa_gemm(int isa) {
  ember_f32_gemm_tile t = ember_f32_gemm_tile_of(isa);
  size_t mr = t.mr, nr = t.nr, mc = t.mc, kc = t.kc, nc = t.nc;
  assert_true(mr && nr && mc && kc && nc);
  const size_t ms[] = {1, 2, mr - 1, mr, mr + 1, 2 * mr + 3};
  const size_t ns[] = {1, 3, nr / 3 + 1, nr - 1, nr, nr + 1, 2 * nr + 5};
  const size_t ks[] = {0, 1, 7, 33};
  const float alphas[] = {1.0f, -0.5f};
  const float betas[] = {0.0f, 1.0f, 0.25f};
  uint32_t seed = 100;
  for (int way = WAY_DISPATCH; way <= WAY_PACKED_A; way++)
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
      for (size_t j = 0; j < sizeof ns / sizeof *ns; j++)
        for (size_t p = 0; p < sizeof ks / sizeof *ks; p++) {
          seed++;
          check_gemm_way((enum gemm_way)way, ms[i], ns[j], ks[p],
                         (int)(seed & 1), (int)((seed >> 1) & 1),
                         alphas[(i + p) % 2], betas[(j + p) % 3], seed);
        }
  /* Operands with no unit stride (the portable packing paths). */
  for (int way = WAY_DISPATCH; way <= WAY_PACKED_A; way++) {
    check_gemm_way((enum gemm_way)way, 2 * mr + 1, 2 * nr + 3, 37, 2, 2, 1.0f,
                   0.5f, 20);
    check_gemm_way((enum gemm_way)way, mr + 2, nr - 1, 9, 2, 0, -1.0f, 0.0f,
                   21);
    check_gemm_way((enum gemm_way)way, mr - 1, nr + 5, 18, 1, 2, 2.0f, 1.0f,
                   22);
  }
  /* Cache-block edges: one past MC rows, KC depth, NC columns, and
   * depths over two K slices (the later slices accumulate with beta 1). */
  for (int way = WAY_DISPATCH; way <= WAY_PACKED_A; way++) {
    check_gemm_way((enum gemm_way)way, mc + 1, nr + 3, kc + 3, 0, 0, 0.5f,
                   2.0f, 7);
    check_gemm_way((enum gemm_way)way, mc - 1, 2 * nr + 1, 2 * kc + 1, 1, 0,
                   1.0f, 0.0f, 8);
    check_gemm_way((enum gemm_way)way, 2 * mr + 1, nc + nr / 2 + 1, kc - 1, 0,
                   1, 1.0f, 1.0f, 9);
    check_gemm_way((enum gemm_way)way, 3, nc - 1, 5, 1, 1, -1.0f, 0.0f, 10);
  }
  /* The matrix-vector shapes (read in place, not packed): both layouts
   * of B for one row of C, one column of C, each with full vectors and
   * every kind of tail. */
  const size_t gn[] = {1, 5, 63, 77, 129, 200, 300};
  const size_t gk[] = {1, 6, 45, 70, 129};
  for (size_t i = 0; i < sizeof gn / sizeof *gn; i++)
    for (size_t p = 0; p < sizeof gk / sizeof *gk; p++) {
      float beta = betas[(i + p) % 3];
      check_gemm_way(WAY_DISPATCH, 1, gn[i], gk[p], 0, 0, 1.0f, beta, 11);
      check_gemm_way(WAY_DISPATCH, 1, gn[i], gk[p], 0, 1, -2.0f, beta, 12);
      check_gemm_way(WAY_DISPATCH, gn[i], 1, gk[p], 0, 0, 0.5f, beta, 13);
      check_gemm_way(WAY_DISPATCH, gn[i], 1, gk[p], 1, 1, 1.0f, beta, 13);
    }
  check_gemm_way(WAY_DISPATCH, 1, 2100, 9, 0, 0, 0.5f, 0.25f, 14);
  check_gemm_way(WAY_PACKED_B, 1, 300, 70, 0, 0, 1.0f, 0.0f, 14);
  /* k == 0 and alpha == 0: C = beta * C, NaN-free when beta is 0. */
  float c[6] = {1, 2, 3, 4, 5, NAN}, w[64];
  ember_f32_gemm(2, 3, 0, 1.0f, NULL, 0, 0, NULL, 0, 0, 2.0f, c, 3, w);
  for (int i = 0; i < 5; i++) assert_float_equal(c[i], 2.0f * (i + 1), 0);
  ember_f32_gemm(2, 3, 0, 1.0f, NULL, 0, 0, NULL, 0, 0, 0.0f, c, 3, w);
  for (int i = 0; i < 6; i++) assert_float_equal(c[i], 0.0f, 0);
}

static void test_gemm_each_isa(void **state) {
  (void)state;
  for (int isa = 0; isa < EMBER_ISA_COUNT; isa++) {
    const char *name = ember_kernels_isa_name(isa);
    if (ember_kernels_force_isa(name) != 0) {
      print_message("gemm: ISA %s not supported here, skipped\n", name);
      continue;
    }
    assert_int_equal(ember_kernels_isa(), isa);
    check_isa_gemm(isa);
  }
  assert_int_equal(ember_kernels_force_isa(NULL), 0);
}

/* The micro-kernels themselves, against the scalar one, with every
 * row and column count of their tile: this isolates a kernel bug from a
 * driver bug. */
static void test_gemm_ukernels(void **state) {
  (void)state;
  struct {
    int isa;
    ember_f32_gemm_ukernel_fn fn;
    size_t mr, nr;
  } uks[] = {
      {EMBER_ISA_SCALAR, ember_f32_gemm_ukernel_4x8__scalar, 4, 8},
#ifdef EMBER_HAVE_AVX2
      {EMBER_ISA_AVX2, ember_f32_gemm_ukernel_6x16__avx2, 6, 16},
      {EMBER_ISA_AVX2, ember_f32_gemm_ukernel_6x8__avx2, 6, 8},
#endif
#ifdef EMBER_HAVE_AVX512F
      {EMBER_ISA_AVX512F, ember_f32_gemm_ukernel_8x48__avx512f, 8, 48},
      {EMBER_ISA_AVX512F, ember_f32_gemm_ukernel_8x32__avx512f, 8, 32},
      {EMBER_ISA_AVX512F, ember_f32_gemm_ukernel_8x16__avx512f, 8, 16},
#endif
  };
  uint32_t seed = 5;
  for (size_t u = 0; u < sizeof uks / sizeof *uks; u++) {
    if (!ember_kernels_isa_supported(uks[u].isa)) continue;
    size_t MR = uks[u].mr, NR = uks[u].nr, kc = 19, ldc = NR + 3;
    float ap[8 * 19], bp[48 * 19], c[8 * 51], r[8 * 51];
    for (size_t i = 0; i < MR * kc; i++) ap[i] = frand(&seed);
    for (size_t i = 0; i < NR * kc; i++) bp[i] = frand(&seed);
    for (size_t mr = 1; mr <= MR; mr++)
      for (size_t nr = 1; nr <= NR; nr++) {
        float beta = (mr + nr) % 3 == 0 ? 0.0f : 0.5f;
        for (size_t i = 0; i < 8 * 51; i++) c[i] = r[i] = frand(&seed);
        for (size_t i = 0; i < MR; i++)
          for (size_t j = 0; j < NR; j++) {
            double acc = 0;
            for (size_t p = 0; p < kc; p++)
              acc += (double)ap[p * MR + i] * bp[p * NR + j];
            if (i < mr && j < nr)
              r[i * ldc + j] =
                  (float)(1.5 * acc + (beta == 0 ? 0 : beta * r[i * ldc + j]));
          }
        if (beta == 0)
          for (size_t i = 0; i < mr; i++)
            for (size_t j = 0; j < nr; j++) c[i * ldc + j] = NAN;
        uks[u].fn(mr, nr, kc, ap, bp, 1.5f, beta, c, ldc);
        for (size_t i = 0; i < 8 * 51; i++)
          if (!(fabsf(c[i] - r[i]) <= 1e-4f))
            fail_msg("ukernel %zux%zu (isa %s) mr=%zu nr=%zu: C[%zu][%zu] = "
                     "%g, expected %g",
                     MR, NR, ember_kernels_isa_name(uks[u].isa), mr, nr,
                     i / ldc, i % ldc, (double)c[i], (double)r[i]);
      }
  }
}

static void test_isa_force(void **state) {
  (void)state;
  assert_int_equal(ember_kernels_force_isa("no-such-isa"), -1);
  assert_int_equal(ember_kernels_force_isa("scalar"), 0);
  assert_int_equal(ember_kernels_isa(), EMBER_ISA_SCALAR);
  assert_int_equal(ember_kernels_force_isa("auto"), 0);
  assert_true(ember_kernels_isa_supported(ember_kernels_isa()));
  assert_true(ember_kernels_isa_supported(EMBER_ISA_SCALAR));
  assert_false(ember_kernels_isa_supported(EMBER_ISA_COUNT));
  assert_null(ember_kernels_isa_name(EMBER_ISA_COUNT));
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
      cmocka_unit_test(test_isa_force),
      cmocka_unit_test(test_gemm_ukernels),
      cmocka_unit_test(test_gemm_each_isa),
      cmocka_unit_test(test_reduce),
      cmocka_unit_test(test_copy_nd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
