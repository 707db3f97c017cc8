/*
 * An 8 x 8 float transpose in AVX registers, shared by the AVX2 and
 * AVX-512 packing files (each includes it under its own ISA flags).  Used
 * to pack row-major A into the column-major strips the micro-kernels
 * read.  r[i] holds row i on entry and column i on return.
 */
#ifndef EMBER_KERNELS_TRANSPOSE8X8_AVX_H
#define EMBER_KERNELS_TRANSPOSE8X8_AVX_H

#include <immintrin.h>

static inline __attribute__((always_inline)) void
ember_transpose8x8_avx(__m256 r[8]) {
  /* Interleave row pairs: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] ... */
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  /* Then pairs of pairs: u0 = r0..r3 [0] | r0..r3 [4], and so on. */
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
  /* Finally the 128-bit halves: rows 0-3 next to rows 4-7. */
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

#endif
