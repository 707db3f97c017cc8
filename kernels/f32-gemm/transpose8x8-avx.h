/*
 * An 8 x 8 float transpose in AVX registers, and the packing of a
 * transposed B built on it, shared by the AVX2 and AVX-512 packing files
 * (each includes this under its own ISA flags).  Used wherever the
 * packed layout runs across the operand's contiguous direction: row-major
 * A into column-major strips, and B stored n x k (Gemm's transB, attention
 * against K) into row-major strips.
 */
#ifndef EMBER_KERNELS_TRANSPOSE8X8_AVX_H
#define EMBER_KERNELS_TRANSPOSE8X8_AVX_H

#include <immintrin.h>

static inline __attribute__((always_inline)) void
ember_transpose8x8_avx(__m256 r[8]) {
  /* Interleave row pairs: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] ... */
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]);
  __m256 t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]);
  __m256 t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]);
  __m256 t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]);
  __m256 t7 = _mm256_unpackhi_ps(r[6], r[7]);
  /* Then pairs of pairs: u0 = r0..r3 [0] | r0..r3 [4], and so on. */
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44);
  __m256 u1 = _mm256_shuffle_ps(t0, t2, 0xee);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44);
  __m256 u3 = _mm256_shuffle_ps(t1, t3, 0xee);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44);
  __m256 u5 = _mm256_shuffle_ps(t4, t6, 0xee);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44);
  __m256 u7 = _mm256_shuffle_ps(t5, t7, 0xee);
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


/* B(p, j) = b[j*b_cs + p], rows [0, kc) x columns [0, nc), into strips of
 * NR columns (layout in f32-gemm-driver.c: the strip of columns j.. at
 * bp + j * kc, row p at + p * width, the last strip round_up(left, STEP)
 * wide and zero-padded).  Full strips go 8 columns x 16 rows at a time:
 * each 64-byte line of b is consumed whole when first loaded, which
 * matters when b_cs is a large power of two and the 8+ rows being read
 * all fall in the same L1 set. */
static inline __attribute__((always_inline)) void
ember_pack_bt_avx(const size_t NR, const size_t STEP, size_t kc, size_t nc,
                  const float *b, size_t b_cs, float *bp) {
  for (size_t jr = 0; jr < nc; jr += NR) {
    size_t nr = nc - jr < NR ? nc - jr : NR;
    size_t w = nr == NR ? NR : (nr + STEP - 1) / STEP * STEP;
    const float *bs = b + jr * b_cs;
    float *dst = bp + jr * kc;
    size_t p = 0;
    if (nr == NR) {
      for (; p + 16 <= kc; p += 16)
        for (size_t j8 = 0; j8 < NR; j8 += 8) {
          __m256 lo[8], hi[8];
          for (int i = 0; i < 8; i++) {
            lo[i] = _mm256_loadu_ps(bs + (j8 + i) * b_cs + p);
            hi[i] = _mm256_loadu_ps(bs + (j8 + i) * b_cs + p + 8);
          }
          ember_transpose8x8_avx(lo);
          ember_transpose8x8_avx(hi);
          for (int q = 0; q < 8; q++) {
            _mm256_storeu_ps(dst + (p + q) * NR + j8, lo[q]);
            _mm256_storeu_ps(dst + (p + 8 + q) * NR + j8, hi[q]);
          }
        }
    }
    for (; p < kc; p++) {
      size_t j = 0;
      for (; j < nr; j++) dst[p * w + j] = bs[j * b_cs + p];
      for (; j < w; j++) dst[p * w + j] = 0.0f;
    }
  }
}

#endif
