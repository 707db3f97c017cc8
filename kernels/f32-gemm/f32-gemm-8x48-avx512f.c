/*
 * AVX-512 SGEMM micro-kernel: an 8 x 48 tile of C held in 24 zmm
 * accumulators (8 rows x 3 vectors of 16 floats), fed per k step by three
 * 16-float loads of the packed B row and eight broadcasts from the packed A
 * column: 24 FMAs for 11 loads, so the two FMA pipes stay busy out of L1.
 * 8 rows divide the usual channel counts (64, 128, 256, ...); 48 columns
 * keep 27 of the 32 zmm registers live.  Partial tiles (edges) use masked
 * loads and stores on the columns and skip rows past mr, so no C element
 * outside the tile is ever touched.  Built with -mavx512f -mavx512vl
 * -mavx512bw -mavx512dq -mfma (kernels/meson.build) and only called when
 * kernels/isa.c found AVX-512 usable.
 */
#include <assert.h>
#include <immintrin.h>

#include "f32-gemm/f32-gemm.h"

#define MR 8
#define NV 3 /* zmm vectors per row */
#define NR (16 * NV)

void ember_f32_gemm_ukernel_8x48__avx512f(size_t mr, size_t nr, size_t kc,
                                          const float *ap, const float *bp,
                                          float alpha, float beta, float *c,
                                          size_t ldc) {
  assert(mr >= 1 && mr <= MR && nr >= 1 && nr <= NR);
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();

  for (size_t p = 0; p < kc; p++) {
    __m512 b[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) b[v] = _mm512_loadu_ps(bp + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      __m512 a = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++)
        acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
    }
    ap += MR;
    bp += NR;
  }

  if (alpha != 1.0f) {
    __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++) acc[i][v] = _mm512_mul_ps(va, acc[i][v]);
  }

  /* Column masks: all ones for a full tile. */
  __mmask16 mask[NV];
#pragma GCC unroll 3
  for (int v = 0; v < NV; v++) {
    size_t left = nr > 16u * v ? nr - 16u * v : 0;
    mask[v] = left >= 16 ? (__mmask16)0xffff
                         : (__mmask16)((1u << left) - 1u);
  }
  __m512 vb = _mm512_set1_ps(beta);
  if (nr == NR && mr == MR) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      float *ci = c + i * ldc;
#pragma GCC unroll 3
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
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) {
    if ((size_t)i >= mr) break;
    float *ci = c + i * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) {
      __m512 r = acc[i][v];
      if (beta != 0.0f)
        r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], ci + 16 * v), r);
      _mm512_mask_storeu_ps(ci + 16 * v, mask[v], r);
    }
  }
}
