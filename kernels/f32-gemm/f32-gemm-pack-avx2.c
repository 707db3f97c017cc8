/*
 * AVX2 packing for the 6 x 16 SGEMM micro-kernel (f32-gemm-driver.c
 * describes the strip layout): B with contiguous rows is copied eight rows
 * at a time, keeping eight sequential read streams and writing each strip
 * in contiguous 512-byte runs, with vector copies instead of a library
 * call per row.  Row-major A is transposed into its strips 8 columns at a
 * time.  Other layouts use the driver's portable packing.
 */
#include <immintrin.h>

#include "f32-gemm/f32-gemm.h"
#include "f32-gemm/transpose8x8-avx.h"

#define NR 16

void ember_f32_gemm_pack_b_nr16__avx2(size_t kc, size_t nc, const float *b,
                                      size_t b_rs, float *bp) {
  /* The last strip is only as wide as needed, in steps of 8. */
  size_t full = nc / NR * NR, left = nc - full, lw = left > 8 ? 16 : 8;
  __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)left), lane);
  __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)left - 8), lane);
  for (size_t p0 = 0; p0 < kc; p0 += 8) {
    size_t pn = kc - p0 < 8 ? kc - p0 : 8;
    for (size_t jr = 0; jr < full; jr += NR) {
      const float *src = b + p0 * b_rs + jr;
      float *dst = bp + jr * kc + p0 * NR;
      for (size_t p = 0; p < pn; p++) {
        __m256 x0 = _mm256_loadu_ps(src + p * b_rs);
        __m256 x1 = _mm256_loadu_ps(src + p * b_rs + 8);
        _mm256_storeu_ps(dst + p * NR, x0);
        _mm256_storeu_ps(dst + p * NR + 8, x1);
      }
    }
    if (left) {
      const float *src = b + p0 * b_rs + full;
      float *dst = bp + full * kc + p0 * lw;
      for (size_t p = 0; p < pn; p++) {
        _mm256_storeu_ps(dst + p * lw, _mm256_maskload_ps(src + p * b_rs, m0));
        if (lw == 16)
          _mm256_storeu_ps(dst + p * lw + 8,
                           _mm256_maskload_ps(src + p * b_rs + 8, m1));
      }
    }
  }
}

/* A with contiguous rows (a_cs == 1) into 6-row strips: 6 x 8 blocks are
 * loaded row-wise and transposed (two zero rows make it 8 x 8); each
 * column is then 6 floats of the strip, stored 8 wide in increasing order
 * so that the 2 extra floats are overwritten by the next column, the last
 * column exactly.  Rows past mc are zero; a partial strip and the last
 * k % 8 columns go element by element. */
void ember_f32_gemm_pack_a_mr6__avx2(size_t mc, size_t kc, const float *a,
                                     size_t a_rs, float *ap) {
  for (size_t ir = 0; ir < mc; ir += 6, ap += 6 * kc) {
    const float *as = a + ir * a_rs;
    size_t mr = mc - ir < 6 ? mc - ir : 6, p = 0;
    if (mr == 6) {
      for (; p + 8 <= kc; p += 8) {
        __m256 r[8];
        for (int i = 0; i < 6; i++) r[i] = _mm256_loadu_ps(as + i * a_rs + p);
        r[6] = r[7] = _mm256_setzero_ps();
        ember_transpose8x8_avx(r);
        float *d = ap + p * 6;
        for (int q = 0; q < 7; q++) _mm256_storeu_ps(d + q * 6, r[q]);
        _mm_storeu_ps(d + 42, _mm256_castps256_ps128(r[7]));
        _mm_storel_pi((__m64 *)(d + 46), _mm256_extractf128_ps(r[7], 1));
      }
    }
    for (; p < kc; p++)
      for (size_t i = 0; i < 6; i++)
        ap[p * 6 + i] = i < mr ? as[i * a_rs + p] : 0.0f;
  }
}

/* B stored n x k (b_rs == 1) into 16-column strips: see
 * ember_pack_bt_avx. */
void ember_f32_gemm_pack_bt_nr16__avx2(size_t kc, size_t nc, const float *b,
                                       size_t b_cs, float *bp) {
  ember_pack_bt_avx(16, 8, kc, nc, b, b_cs, bp);
}
