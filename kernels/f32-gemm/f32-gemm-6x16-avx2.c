/*
 * AVX2 + FMA SGEMM micro-kernels.  The main one holds a 6 x 16 tile of C
 * in 12 ymm accumulators (6 rows x 2 vectors of 8 floats), fed per k step
 * by two 8-float loads of the packed B row and six broadcasts from the
 * packed A column; with the two B vectors and one broadcast that is 15 of
 * the 16 ymm registers, and 12 independent FMAs cover the FMA latency on
 * both pipes.
 *
 * The 6 x 8 variant serves the last, narrower strip of a packed B
 * (f32-gemm-driver.c packs the final strip only as wide as needed, in
 * steps of 8).  Each entry point computes only the rows it stores (mr < 6
 * is dispatched to a copy of the loop with that many rows); partial
 * columns use vmaskmovps, whose masked-off lanes are neither read nor
 * written, so no C element outside the tile is touched.  C's rows are
 * prefetched before the k loop.
 *
 * Built with -mavx2 -mfma (kernels/meson.build); called only when
 * kernels/isa.c found AVX2 and FMA usable.
 */
#include <assert.h>
#include <immintrin.h>

#include "f32-gemm/f32-gemm.h"

#define MR 6 /* packed A strip height */

#define INLINE static inline __attribute__((always_inline))

/* Loops over registers must be unrolled completely, or the accumulators
 * end up in memory (gcc and clang spell the request differently). */
#ifdef __clang__
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

/* ROWS x (8 * NV) tile; bp rows are 8 * NV floats apart. */
INLINE void tile(const int ROWS, const int NV, size_t nr, size_t kc,
                 const float *ap, const float *bp, float alpha, float beta,
                 float *c, size_t ldc) {
  if (beta != 0.0f) {
    UNROLL
    for (int i = 0; i < ROWS; i++) {
      const char *ci = (const char *)(c + i * ldc);
      _mm_prefetch(ci, _MM_HINT_T0);
      _mm_prefetch(ci + 32 * NV - 1, _MM_HINT_T0);
    }
  }
  __m256 acc[6][2];
  UNROLL
  for (int i = 0; i < ROWS; i++)
    UNROLL
    for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();

  for (size_t p = 0; p < kc; p++) {
    /* Named registers rather than an array: clang keeps an array of
     * vectors live across iterations in memory. */
    __m256 b0 = _mm256_loadu_ps(bp);
    __m256 b1 = NV > 1 ? _mm256_loadu_ps(bp + 8) : b0;
    UNROLL
    for (int i = 0; i < ROWS; i++) {
      __m256 a = _mm256_broadcast_ss(ap + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      if (NV > 1) acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += MR;
    bp += 8 * NV;
  }

  if (alpha != 1.0f) {
    __m256 va = _mm256_set1_ps(alpha);
    UNROLL
    for (int i = 0; i < ROWS; i++)
      UNROLL
      for (int v = 0; v < NV; v++) acc[i][v] = _mm256_mul_ps(va, acc[i][v]);
  }

  __m256 vb = _mm256_set1_ps(beta);
  if (nr == 8u * NV) {
    UNROLL
    for (int i = 0; i < ROWS; i++) {
      float *ci = c + i * ldc;
      UNROLL
      for (int v = 0; v < NV; v++) {
        __m256 r = acc[i][v];
        if (beta == 1.0f)
          r = _mm256_add_ps(r, _mm256_loadu_ps(ci + 8 * v));
        else if (beta != 0.0f)
          r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8 * v), r);
        _mm256_storeu_ps(ci + 8 * v, r);
      }
    }
    return;
  }
  /* Lane j of vector v is live when 8 * v + j < nr. */
  __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i mask[2];
  UNROLL
  for (int v = 0; v < NV; v++)
    mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nr - 8 * v), lane);
  UNROLL
  for (int i = 0; i < ROWS; i++) {
    float *ci = c + i * ldc;
    UNROLL
    for (int v = 0; v < NV; v++) {
      __m256 r = acc[i][v];
      if (beta != 0.0f)
        r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci + 8 * v, mask[v]), r);
      _mm256_maskstore_ps(ci + 8 * v, mask[v], r);
    }
  }
}

/* One entry point per strip width; the row count picks the loop copy. */
#define ENTRY(NV, NAME)                                                       \
  void NAME(size_t mr, size_t nr, size_t kc, const float *ap,                 \
            const float *bp, float alpha, float beta, float *c, size_t ldc) { \
    assert(mr >= 1 && mr <= MR && nr >= 1 && nr <= 8u * NV);                  \
    switch (mr) {                                                             \
    case 1: tile(1, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 2: tile(2, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 3: tile(3, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 4: tile(4, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 5: tile(5, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    default: tile(6, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;         \
    }                                                                         \
  }

ENTRY(2, ember_f32_gemm_ukernel_6x16__avx2)
ENTRY(1, ember_f32_gemm_ukernel_6x8__avx2)
