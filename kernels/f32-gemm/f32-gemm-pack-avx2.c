/*
 * AVX2 packing for the 6 x 16 SGEMM micro-kernel (f32-gemm-driver.c
 * describes the strip layout): B with contiguous rows is copied eight rows
 * at a time, keeping eight sequential read streams and writing each strip
 * in contiguous 512-byte runs, with vector copies instead of a library
 * call per row.  Other layouts use the driver's portable packing.
 */
#include <immintrin.h>

#include "f32-gemm/f32-gemm.h"

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
