/*
 * AVX2 + FMA SGEMM micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators
 * (6 rows x 2 vectors of 8 floats), fed per k step by two 8-float loads of
 * the packed B row and six broadcasts from the packed A column; with the
 * two B vectors and one broadcast that is 15 of the 16 ymm registers, and
 * 12 independent FMAs cover the FMA latency on both pipes.  Partial tiles
 * use vmaskmovps on the columns (masked-off lanes are neither read nor
 * written, so no fault past the end of C) and skip rows past mr.  Built
 * with -mavx2 -mfma (kernels/meson.build) and only called when
 * kernels/isa.c found AVX2 and FMA usable.
 */
#include <assert.h>
#include <immintrin.h>

#include "f32-gemm/f32-gemm.h"

#define MR 6
#define NV 2 /* ymm vectors per row */
#define NR (8 * NV)

void ember_f32_gemm_ukernel_6x16__avx2(size_t mr, size_t nr, size_t kc,
                                       const float *ap, const float *bp,
                                       float alpha, float beta, float *c,
                                       size_t ldc) {
  assert(mr >= 1 && mr <= MR && nr >= 1 && nr <= NR);
  __m256 acc[MR][NV];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();

  for (size_t p = 0; p < kc; p++) {
    __m256 b[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) b[v] = _mm256_loadu_ps(bp + 8 * v);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      __m256 a = _mm256_broadcast_ss(ap + i);
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++)
        acc[i][v] = _mm256_fmadd_ps(a, b[v], acc[i][v]);
    }
    ap += MR;
    bp += NR;
  }

  if (alpha != 1.0f) {
    __m256 va = _mm256_set1_ps(alpha);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) acc[i][v] = _mm256_mul_ps(va, acc[i][v]);
  }

  __m256 vb = _mm256_set1_ps(beta);
  if (nr == NR && mr == MR) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      float *ci = c + i * ldc;
#pragma GCC unroll 2
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
  __m256i mask[NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; v++)
    mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nr - 8 * v), lane);
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    if ((size_t)i >= mr) break;
    float *ci = c + i * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
      __m256 r = acc[i][v];
      if (beta != 0.0f)
        r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci + 8 * v, mask[v]), r);
      _mm256_maskstore_ps(ci + 8 * v, mask[v], r);
    }
  }
}
