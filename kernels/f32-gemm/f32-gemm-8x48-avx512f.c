/*
 * AVX-512 SGEMM micro-kernels.  The main one holds an 8 x 48 tile of C in
 * 24 zmm accumulators (8 rows x 3 vectors of 16 floats), fed per k step by
 * three 16-float loads of the packed B row and eight broadcasts from the
 * packed A column: 24 FMAs for 11 loads, which keeps both FMA pipes busy
 * with 27 of the 32 zmm registers live.  8 rows divide the usual channel
 * counts (64, 128, 256, ...).
 *
 * The 8 x 32 and 8 x 16 variants serve the last, narrower strip of a
 * packed B (f32-gemm-driver.c packs the final strip only as wide as
 * needed, in steps of 16), so a product with n = 49 costs 64 columns of
 * work, not 96.  Each entry point also computes only the rows it stores
 * (mr < 8 at the bottom edge is dispatched to a copy of the loop with
 * that many rows), and partial columns use masked loads and stores, so no
 * C element outside the tile is touched.  C's rows are prefetched before
 * the k loop, since they are needed only after it.
 *
 * Built with -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma
 * (kernels/meson.build); called only when kernels/isa.c found AVX-512
 * usable.
 */
#include <assert.h>
#include <immintrin.h>

#include "f32-gemm/f32-gemm.h"

#define MR 8 /* packed A strip height */

#define INLINE static inline __attribute__((always_inline))

/* Loops over registers must be unrolled completely, or the accumulators
 * end up in memory (gcc and clang spell the request differently). */
#ifdef __clang__
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

/* ROWS x (16 * NV) tile; bp rows are 16 * NV floats apart. */
INLINE void tile(const int ROWS, const int NV, size_t nr, size_t kc,
                 const float *ap, const float *bp, float alpha, float beta,
                 float *c, size_t ldc) {
  if (beta != 0.0f) {
    UNROLL
    for (int i = 0; i < ROWS; i++) {
      const char *ci = (const char *)(c + i * ldc);
      UNROLL
      for (int v = 0; v < NV; v++) _mm_prefetch(ci + 64 * v, _MM_HINT_T0);
      _mm_prefetch(ci + 64 * NV - 1, _MM_HINT_T0);
    }
  }
  __m512 acc[8][3];
  UNROLL
  for (int i = 0; i < ROWS; i++)
    UNROLL
    for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();

  for (size_t p = 0; p < kc; p++) {
    /* Named registers rather than an array: clang keeps an array of
     * vectors live across iterations in memory. */
    __m512 b0 = _mm512_loadu_ps(bp);
    __m512 b1 = NV > 1 ? _mm512_loadu_ps(bp + 16) : b0;
    __m512 b2 = NV > 2 ? _mm512_loadu_ps(bp + 32) : b0;
    UNROLL
    for (int i = 0; i < ROWS; i++) {
      __m512 a = _mm512_set1_ps(ap[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      if (NV > 1) acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
      if (NV > 2) acc[i][2] = _mm512_fmadd_ps(a, b2, acc[i][2]);
    }
    ap += MR;
    bp += 16 * NV;
  }

  if (alpha != 1.0f) {
    __m512 va = _mm512_set1_ps(alpha);
    UNROLL
    for (int i = 0; i < ROWS; i++)
      UNROLL
      for (int v = 0; v < NV; v++) acc[i][v] = _mm512_mul_ps(va, acc[i][v]);
  }

  __m512 vb = _mm512_set1_ps(beta);
  if (nr == 16u * NV) {
    UNROLL
    for (int i = 0; i < ROWS; i++) {
      float *ci = c + i * ldc;
      UNROLL
      for (int v = 0; v < NV; v++) {
        __m512 r = acc[i][v];
        if (beta == 1.0f)
          r = _mm512_add_ps(r, _mm512_loadu_ps(ci + 16 * v));
        else if (beta != 0.0f)
          r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16 * v), r);
        _mm512_storeu_ps(ci + 16 * v, r);
      }
    }
    return;
  }
  __mmask16 mask[3];
  UNROLL
  for (int v = 0; v < NV; v++) {
    size_t left = nr > 16u * v ? nr - 16u * v : 0;
    mask[v] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
  }
  UNROLL
  for (int i = 0; i < ROWS; i++) {
    float *ci = c + i * ldc;
    UNROLL
    for (int v = 0; v < NV; v++) {
      __m512 r = acc[i][v];
      if (beta != 0.0f)
        r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], ci + 16 * v),
                            r);
      _mm512_mask_storeu_ps(ci + 16 * v, mask[v], r);
    }
  }
}

/* One entry point per strip width; the row count picks the loop copy. */
#define ENTRY(NV, NAME)                                                       \
  void NAME(size_t mr, size_t nr, size_t kc, const float *ap,                 \
            const float *bp, float alpha, float beta, float *c, size_t ldc) { \
    assert(mr >= 1 && mr <= MR && nr >= 1 && nr <= 16u * NV);                 \
    switch (mr) {                                                             \
    case 1: tile(1, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 2: tile(2, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 3: tile(3, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 4: tile(4, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 5: tile(5, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 6: tile(6, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    case 7: tile(7, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;          \
    default: tile(8, NV, nr, kc, ap, bp, alpha, beta, c, ldc); break;         \
    }                                                                         \
  }

ENTRY(3, ember_f32_gemm_ukernel_8x48__avx512f)
ENTRY(2, ember_f32_gemm_ukernel_8x32__avx512f)
ENTRY(1, ember_f32_gemm_ukernel_8x16__avx512f)
