/*
 * AVX2 + FMA matrix-vector products: the same two forms as
 * f32-gemv-avx512f.c (read there for why they exist), with 8-float
 * vectors and vmaskmovps for the tails.
 *
 *   dot:  y[j*incy] = alpha * sum_p x[p] * mat[j*ldm + p] + beta * y[..]
 *   axpy: y[j] = alpha * sum_p x[p*incx] * mat[p*ldm + j] + beta * y[j]
 *
 * beta == 0: y is not read (the axpy form clears it, then sweeps the
 * matrix rows in order, four at a time, accumulating into y in L1).
 */
#include <immintrin.h>

#include "f32-gemm/f32-gemm.h"

static __m256i tail_mask(size_t left) {
  int l = left >= 8 ? 8 : (int)left;
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(l),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static float finish(float s, float alpha, float beta, const float *y) {
  return beta == 0.0f ? alpha * s : alpha * s + beta * *y;
}

void ember_f32_gemv_dot__avx2(size_t n, size_t k, float alpha, const float *x,
                              const float *mat, size_t ldm, float beta,
                              float *y, size_t incy) {
  size_t k16 = k / 16 * 16, k8 = k / 8 * 8;
  __m256i mt = tail_mask(k - k8);
  size_t j = 0;
  /* Four rows at a time, two accumulators each (eight FMA chains). */
  for (; j + 4 <= n; j += 4) {
    const float *r0 = mat + j * ldm, *r1 = r0 + ldm, *r2 = r1 + ldm,
                *r3 = r2 + ldm;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t p = 0;
    for (; p < k16; p += 16) {
      __m256 x0 = _mm256_loadu_ps(x + p), x1 = _mm256_loadu_ps(x + p + 8);
      a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0 + p), a0);
      a1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r1 + p), a1);
      a2 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r2 + p), a2);
      a3 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r3 + p), a3);
      b0 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r0 + p + 8), b0);
      b1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r1 + p + 8), b1);
      b2 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r2 + p + 8), b2);
      b3 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r3 + p + 8), b3);
    }
    for (; p < k; p += 8) {
      __m256i mk = p < k8 ? _mm256_set1_epi32(-1) : mt;
      __m256 x0 = _mm256_maskload_ps(x + p, mk);
      a0 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(r0 + p, mk), a0);
      a1 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(r1 + p, mk), a1);
      a2 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(r2 + p, mk), a2);
      a3 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(r3 + p, mk), a3);
    }
    float s0 = hsum(_mm256_add_ps(a0, b0)), s1 = hsum(_mm256_add_ps(a1, b1));
    float s2 = hsum(_mm256_add_ps(a2, b2)), s3 = hsum(_mm256_add_ps(a3, b3));
    y[j * incy] = finish(s0, alpha, beta, &y[j * incy]);
    y[(j + 1) * incy] = finish(s1, alpha, beta, &y[(j + 1) * incy]);
    y[(j + 2) * incy] = finish(s2, alpha, beta, &y[(j + 2) * incy]);
    y[(j + 3) * incy] = finish(s3, alpha, beta, &y[(j + 3) * incy]);
  }
  for (; j < n; j++) {
    const float *r0 = mat + j * ldm;
    __m256 a0 = _mm256_setzero_ps(), b0 = a0;
    size_t p = 0;
    for (; p < k16; p += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), _mm256_loadu_ps(r0 + p), a0);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p + 8),
                           _mm256_loadu_ps(r0 + p + 8), b0);
    }
    for (; p < k; p += 8) {
      __m256i mk = p < k8 ? _mm256_set1_epi32(-1) : mt;
      a0 = _mm256_fmadd_ps(_mm256_maskload_ps(x + p, mk),
                           _mm256_maskload_ps(r0 + p, mk), a0);
    }
    float s = hsum(_mm256_add_ps(a0, b0));
    y[j * incy] = finish(s, alpha, beta, &y[j * incy]);
  }
}

void ember_f32_gemv_axpy__avx2(size_t n, size_t k, float alpha,
                               const float *x, size_t incx, const float *mat,
                               size_t ldm, float beta, float *y) {
  /* Row sweeps: y (a block of up to 2048 floats, 8 KiB, so it stays in
   * L1) gathers four matrix rows per pass, which reads the matrix as
   * four sequential streams. */
  const size_t JB = 2048;
  for (size_t j0 = 0; j0 < n; j0 += JB) {
    size_t jn = n - j0 < JB ? n - j0 : JB, jv = jn / 8 * 8;
    __m256i mt = tail_mask(jn - jv), all = _mm256_set1_epi32(-1);
    float *yb = y + j0;
    __m256 vb = _mm256_set1_ps(beta);
    for (size_t j = 0; j < jn; j += 8) {
      __m256i mk = j < jv ? all : mt;
      __m256 v = beta == 0.0f
                     ? _mm256_setzero_ps()
                     : _mm256_mul_ps(vb, _mm256_maskload_ps(yb + j, mk));
      _mm256_maskstore_ps(yb + j, mk, v);
    }
    size_t p = 0;
    for (; p + 4 <= k; p += 4) {
      const float *r0 = mat + p * ldm + j0, *r1 = r0 + ldm, *r2 = r1 + ldm,
                  *r3 = r2 + ldm;
      __m256 x0 = _mm256_set1_ps(alpha * x[p * incx]);
      __m256 x1 = _mm256_set1_ps(alpha * x[(p + 1) * incx]);
      __m256 x2 = _mm256_set1_ps(alpha * x[(p + 2) * incx]);
      __m256 x3 = _mm256_set1_ps(alpha * x[(p + 3) * incx]);
      size_t j = 0;
      for (; j < jv; j += 8) {
        __m256 v = _mm256_loadu_ps(yb + j);
        v = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0 + j), v);
        v = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r1 + j), v);
        v = _mm256_fmadd_ps(x2, _mm256_loadu_ps(r2 + j), v);
        v = _mm256_fmadd_ps(x3, _mm256_loadu_ps(r3 + j), v);
        _mm256_storeu_ps(yb + j, v);
      }
      if (j < jn) {
        __m256 v = _mm256_maskload_ps(yb + j, mt);
        v = _mm256_fmadd_ps(x0, _mm256_maskload_ps(r0 + j, mt), v);
        v = _mm256_fmadd_ps(x1, _mm256_maskload_ps(r1 + j, mt), v);
        v = _mm256_fmadd_ps(x2, _mm256_maskload_ps(r2 + j, mt), v);
        v = _mm256_fmadd_ps(x3, _mm256_maskload_ps(r3 + j, mt), v);
        _mm256_maskstore_ps(yb + j, mt, v);
      }
    }
    for (; p < k; p++) {
      const float *r0 = mat + p * ldm + j0;
      __m256 x0 = _mm256_set1_ps(alpha * x[p * incx]);
      for (size_t j = 0; j < jn; j += 8) {
        __m256i mk = j < jv ? all : mt;
        __m256 v = _mm256_maskload_ps(yb + j, mk);
        v = _mm256_fmadd_ps(x0, _mm256_maskload_ps(r0 + j, mk), v);
        _mm256_maskstore_ps(yb + j, mk, v);
      }
    }
  }
}
