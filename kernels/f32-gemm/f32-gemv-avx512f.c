/*
 * AVX-512 matrix-vector products, the GEMM shapes with one row or one
 * column of C (batch-1 fully connected layers, attention with one query).
 * There every matrix element is used once, so packing would only add a
 * second pass over memory: these read the matrix in place, as it lies,
 * and are limited by memory bandwidth rather than arithmetic.
 *
 *   dot:  y[j*incy] = alpha * sum_p x[p] * mat[j*ldm + p] + beta * y[..]
 *         (matrix rows contiguous: Gemm with transB = 1, A @ x)
 *   axpy: y[j] = alpha * sum_p x[p*incx] * mat[p*ldm + j] + beta * y[j]
 *         (matrix rows contiguous along j: x @ B)
 *
 * beta == 0: y is not read (it is cleared first, then accumulated into:
 * the axpy form sweeps the matrix rows in order, four at a time, with y in
 * L1).  Tails use masked loads and stores, which never touch memory
 * outside the operands.
 */
#include <immintrin.h>

#include "f32-gemm/f32-gemm.h"

static __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

static float finish(float s, float alpha, float beta, const float *y) {
  return beta == 0.0f ? alpha * s : alpha * s + beta * *y;
}

void ember_f32_gemv_dot__avx512f(size_t n, size_t k, float alpha,
                                 const float *x, const float *mat, size_t ldm,
                                 float beta, float *y, size_t incy) {
  size_t k32 = k / 32 * 32, k16 = k / 16 * 16;
  __mmask16 mt = tail_mask(k - k16);
  size_t j = 0;
  /* Four rows at a time, two accumulators each: eight independent
   * chains of FMAs, and x is loaded once for four rows. */
  for (; j + 4 <= n; j += 4) {
    const float *r0 = mat + j * ldm, *r1 = r0 + ldm, *r2 = r1 + ldm,
                *r3 = r2 + ldm;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t p = 0;
    for (; p < k32; p += 32) {
      __m512 x0 = _mm512_loadu_ps(x + p), x1 = _mm512_loadu_ps(x + p + 16);
      a0 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(r0 + p), a0);
      a1 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(r1 + p), a1);
      a2 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(r2 + p), a2);
      a3 = _mm512_fmadd_ps(x0, _mm512_loadu_ps(r3 + p), a3);
      b0 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(r0 + p + 16), b0);
      b1 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(r1 + p + 16), b1);
      b2 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(r2 + p + 16), b2);
      b3 = _mm512_fmadd_ps(x1, _mm512_loadu_ps(r3 + p + 16), b3);
    }
    for (; p < k; p += 16) {
      __mmask16 mk = p < k16 ? (__mmask16)0xffff : mt;
      __m512 x0 = _mm512_maskz_loadu_ps(mk, x + p);
      a0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mk, r0 + p), a0);
      a1 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mk, r1 + p), a1);
      a2 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mk, r2 + p), a2);
      a3 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mk, r3 + p), a3);
    }
    float s0 = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
    float s1 = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1));
    float s2 = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2));
    float s3 = _mm512_reduce_add_ps(_mm512_add_ps(a3, b3));
    y[j * incy] = finish(s0, alpha, beta, &y[j * incy]);
    y[(j + 1) * incy] = finish(s1, alpha, beta, &y[(j + 1) * incy]);
    y[(j + 2) * incy] = finish(s2, alpha, beta, &y[(j + 2) * incy]);
    y[(j + 3) * incy] = finish(s3, alpha, beta, &y[(j + 3) * incy]);
  }
  for (; j < n; j++) {
    const float *r0 = mat + j * ldm;
    __m512 a0 = _mm512_setzero_ps(), b0 = a0;
    size_t p = 0;
    for (; p < k32; p += 32) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p), _mm512_loadu_ps(r0 + p), a0);
      b0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p + 16),
                           _mm512_loadu_ps(r0 + p + 16), b0);
    }
    for (; p < k; p += 16) {
      __mmask16 mk = p < k16 ? (__mmask16)0xffff : mt;
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, x + p),
                           _mm512_maskz_loadu_ps(mk, r0 + p), a0);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
    y[j * incy] = finish(s, alpha, beta, &y[j * incy]);
  }
}

void ember_f32_gemv_axpy__avx512f(size_t n, size_t k, float alpha,
                                  const float *x, size_t incx,
                                  const float *mat, size_t ldm, float beta,
                                  float *y) {
  /* Row sweeps: y (a block of up to 2048 floats, 8 KiB, so it stays in
   * L1) gathers four matrix rows per pass, which reads the matrix as
   * four sequential streams. */
  const size_t JB = 2048;
  for (size_t j0 = 0; j0 < n; j0 += JB) {
    size_t jn = n - j0 < JB ? n - j0 : JB, jv = jn / 16 * 16;
    __mmask16 mt = tail_mask(jn - jv);
    float *yb = y + j0;
    __m512 vb = _mm512_set1_ps(beta);
    for (size_t j = 0; j < jn; j += 16) {
      __mmask16 mk = j < jv ? (__mmask16)0xffff : mt;
      __m512 v = beta == 0.0f
                     ? _mm512_setzero_ps()
                     : _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mk, yb + j));
      _mm512_mask_storeu_ps(yb + j, mk, v);
    }
    size_t p = 0;
    for (; p + 4 <= k; p += 4) {
      const float *r0 = mat + p * ldm + j0, *r1 = r0 + ldm, *r2 = r1 + ldm,
                  *r3 = r2 + ldm;
      __m512 x0 = _mm512_set1_ps(alpha * x[p * incx]);
      __m512 x1 = _mm512_set1_ps(alpha * x[(p + 1) * incx]);
      __m512 x2 = _mm512_set1_ps(alpha * x[(p + 2) * incx]);
      __m512 x3 = _mm512_set1_ps(alpha * x[(p + 3) * incx]);
      size_t j = 0;
      for (; j < jv; j += 16) {
        __m512 v = _mm512_loadu_ps(yb + j);
        v = _mm512_fmadd_ps(x0, _mm512_loadu_ps(r0 + j), v);
        v = _mm512_fmadd_ps(x1, _mm512_loadu_ps(r1 + j), v);
        v = _mm512_fmadd_ps(x2, _mm512_loadu_ps(r2 + j), v);
        v = _mm512_fmadd_ps(x3, _mm512_loadu_ps(r3 + j), v);
        _mm512_storeu_ps(yb + j, v);
      }
      if (j < jn) {
        __m512 v = _mm512_maskz_loadu_ps(mt, yb + j);
        v = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mt, r0 + j), v);
        v = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(mt, r1 + j), v);
        v = _mm512_fmadd_ps(x2, _mm512_maskz_loadu_ps(mt, r2 + j), v);
        v = _mm512_fmadd_ps(x3, _mm512_maskz_loadu_ps(mt, r3 + j), v);
        _mm512_mask_storeu_ps(yb + j, mt, v);
      }
    }
    for (; p < k; p++) {
      const float *r0 = mat + p * ldm + j0;
      __m512 x0 = _mm512_set1_ps(alpha * x[p * incx]);
      for (size_t j = 0; j < jn; j += 16) {
        __mmask16 mk = j < jv ? (__mmask16)0xffff : mt;
        __m512 v = _mm512_maskz_loadu_ps(mk, yb + j);
        v = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mk, r0 + j), v);
        _mm512_mask_storeu_ps(yb + j, mk, v);
      }
    }
  }
}
