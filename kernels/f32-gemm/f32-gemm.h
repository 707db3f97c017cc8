/*
 * Single-precision matrix multiplication kernels: C = alpha * A * B +
 * beta * C over plain pointers and strides.  A and B are addressed by a
 * row stride and a column stride each, so transposed operands cost
 * nothing extra: the kernel packs them into cache-sized panels anyway.
 * The caller supplies the packing workspace (see
 * ember_f32_gemm_work_floats), which keeps the kernel free of allocation.
 * Used by Gemm, MatMul, Conv (after im2col) and ConvTranspose.
 */
#ifndef EMBER_KERNELS_F32_GEMM_H
#define EMBER_KERNELS_F32_GEMM_H

#include <stddef.h>

/* Register tile (MR rows x NR columns of C) and cache blocks: an MC x KC
 * panel of A stays in L2, a KC x NR sliver of B in L1, a KC x NC panel
 * of B in L2/L3. */
#define EMBER_F32_GEMM_MR 4
#define EMBER_F32_GEMM_NR 8
#define EMBER_F32_GEMM_MC 128
#define EMBER_F32_GEMM_KC 256
#define EMBER_F32_GEMM_NC 1024

/* Floats of workspace ember_f32_gemm__scalar needs for an m x n x k
 * product (at most (MC + NC) * KC plus tile rounding). */
size_t ember_f32_gemm_work_floats(size_t m, size_t n, size_t k);

/* C[i*ldc + j] = alpha * sum_p A(i,p) * B(p,j) + beta * C[i*ldc + j]
 * for i < m, j < n, where A(i,p) = a[i*a_rs + p*a_cs] and
 * B(p,j) = b[p*b_rs + j*b_cs].  beta == 0 means C is not read (it may
 * hold garbage or NaN).  `work` holds ember_f32_gemm_work_floats(m, n, k)
 * floats and must not overlap A, B or C; C must not overlap A or B. */
void ember_f32_gemm__scalar(size_t m, size_t n, size_t k, float alpha,
                            const float *a, size_t a_rs, size_t a_cs,
                            const float *b, size_t b_rs, size_t b_cs,
                            float beta, float *c, size_t ldc, float *work);

#endif
