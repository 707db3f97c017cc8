/*
 * AVX-512 packing for the 8 x 48 SGEMM micro-kernel (f32-gemm-driver.c
 * describes the strip layout).  Packing B is the one pass over memory
 * whose cost grows with the product's size rather than with its work
 * (each element of B feeds only m / 8 micro-kernel calls), so it matters
 * for short, wide products such as early convolution layers: rows of B are
 * copied eight at a time, which keeps eight sequential read streams and
 * writes each strip in contiguous 1.5 KiB runs, with full-width vector
 * copies instead of a library call per row.  Row-major A (weights, or
 * MatMul's left operand) is transposed into its strips 8 x 8 at a time.
 * Other layouts use the driver's portable packing.
 */
#include <immintrin.h>

#include "f32-gemm/f32-gemm.h"
#include "f32-gemm/transpose8x8-avx.h"

#define NR 48

void ember_f32_gemm_pack_b_nr48__avx512f(size_t kc, size_t nc, const float *b,
                                         size_t b_rs, float *bp) {
  /* The last strip is only as wide as needed, in steps of 16. */
  size_t full = nc / NR * NR, left = nc - full, lw = (left + 15) / 16 * 16;
  int lv = (int)(lw / 16);
  __mmask16 mask[3];
  for (int v = 0; v < 3; v++) {
    size_t l = left > 16u * v ? left - 16u * v : 0;
    mask[v] = l >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << l) - 1u);
  }
  for (size_t p0 = 0; p0 < kc; p0 += 8) {
    size_t pn = kc - p0 < 8 ? kc - p0 : 8;
    for (size_t jr = 0; jr < full; jr += NR) {
      const float *src = b + p0 * b_rs + jr;
      float *dst = bp + jr * kc + p0 * NR;
      for (size_t p = 0; p < pn; p++) {
        __m512 x0 = _mm512_loadu_ps(src + p * b_rs);
        __m512 x1 = _mm512_loadu_ps(src + p * b_rs + 16);
        __m512 x2 = _mm512_loadu_ps(src + p * b_rs + 32);
        _mm512_storeu_ps(dst + p * NR, x0);
        _mm512_storeu_ps(dst + p * NR + 16, x1);
        _mm512_storeu_ps(dst + p * NR + 32, x2);
      }
    }
    if (left) {
      const float *src = b + p0 * b_rs + full;
      float *dst = bp + full * kc + p0 * lw;
      for (size_t p = 0; p < pn; p++)
        for (int v = 0; v < lv; v++)
          _mm512_storeu_ps(dst + p * lw + 16 * v,
                           _mm512_maskz_loadu_ps(mask[v],
                                                 src + p * b_rs + 16 * v));
    }
  }
}

/* A with contiguous rows (a_cs == 1) into 8-row strips: 8 x 8 blocks are
 * loaded row-wise and stored transposed, which is 64 contiguous floats of
 * the strip.  Rows past mc are zero; a partial strip and the last k % 8
 * columns go element by element. */
void ember_f32_gemm_pack_a_mr8__avx512f(size_t mc, size_t kc, const float *a,
                                        size_t a_rs, float *ap) {
  for (size_t ir = 0; ir < mc; ir += 8, ap += 8 * kc) {
    const float *as = a + ir * a_rs;
    size_t mr = mc - ir < 8 ? mc - ir : 8, p = 0;
    if (mr == 8) {
      for (; p + 8 <= kc; p += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(as + i * a_rs + p);
        ember_transpose8x8_avx(r);
        for (int q = 0; q < 8; q++) _mm256_storeu_ps(ap + (p + q) * 8, r[q]);
      }
    }
    for (; p < kc; p++)
      for (size_t i = 0; i < 8; i++)
        ap[p * 8 + i] = i < mr ? as[i * a_rs + p] : 0.0f;
  }
}

/* B stored n x k (b_rs == 1) into 48-column strips: see
 * ember_pack_bt_avx. */
void ember_f32_gemm_pack_bt_nr48__avx512f(size_t kc, size_t nc, const float *b,
                                          size_t b_cs, float *bp) {
  ember_pack_bt_avx(48, 16, kc, nc, b, b_cs, bp);
}
