/*
 * Single-precision matrix multiplication kernels: C = alpha * A * B +
 * beta * C over plain pointers and strides.  A and B are addressed by a
 * row stride and a column stride each, so transposed operands cost
 * nothing extra: the kernels pack them into cache-sized panels anyway.
 * The caller supplies the packing workspace (see
 * ember_f32_gemm_work_floats), which keeps the kernels free of allocation.
 * Used by Gemm, MatMul, Conv (after im2col) and ConvTranspose.
 *
 * ember_f32_gemm is the entry point: it runs the blocked driver
 * (f32-gemm-driver.c) with the micro-kernel of the ISA chosen at run time
 * (kernels/isa.h), or the portable reference ember_f32_gemm__scalar when
 * that ISA is "scalar".  Every entry point is a pure function of its
 * arguments, safe to call from any number of threads at once on disjoint
 * C tiles with separate workspaces.
 */
#ifndef EMBER_KERNELS_F32_GEMM_H
#define EMBER_KERNELS_F32_GEMM_H

#include <stddef.h>

/* The portable reference's register tile (MR rows x NR columns of C) and
 * cache blocks: an MC x KC panel of A stays in L2, a KC x NR sliver of B in
 * L1, a KC x NC panel of B in L2/L3.  The ISA kernels have their own
 * (ember_f32_gemm_tile below); these stay for the reference and its
 * tests. */
#define EMBER_F32_GEMM_MR 4
#define EMBER_F32_GEMM_NR 8
#define EMBER_F32_GEMM_MC 128
#define EMBER_F32_GEMM_KC 256
#define EMBER_F32_GEMM_NC 1024

/* Floats of workspace any of the GEMM entry points below needs for an
 * m x n x k product, whichever ISA runs it (the largest over all ISAs
 * compiled in; about (MC + NC) * KC at most, plus alignment slack). */
size_t ember_f32_gemm_work_floats(size_t m, size_t n, size_t k);

/* C[i*ldc + j] = alpha * sum_p A(i,p) * B(p,j) + beta * C[i*ldc + j]
 * for i < m, j < n, where A(i,p) = a[i*a_rs + p*a_cs] and
 * B(p,j) = b[p*b_rs + j*b_cs].  beta == 0 means C is not read (it may
 * hold garbage or NaN).  `work` holds ember_f32_gemm_work_floats(m, n, k)
 * floats (64-byte alignment helps, it is not required) and must not
 * overlap A, B or C; C must not overlap A or B.  k == 0 gives
 * C = beta * C.  Dispatches on ember_kernels_isa(). */
void ember_f32_gemm(size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t a_rs, size_t a_cs, const float *b, size_t b_rs,
                    size_t b_cs, float beta, float *c, size_t ldc, float *work);

/* The portable reference, same contract; it needs only
 * ember_f32_gemm_work_floats__scalar(m, n, k) floats of workspace. */
void ember_f32_gemm__scalar(size_t m, size_t n, size_t k, float alpha,
                            const float *a, size_t a_rs, size_t a_cs,
                            const float *b, size_t b_rs, size_t b_cs,
                            float beta, float *c, size_t ldc, float *work);
size_t ember_f32_gemm_work_floats__scalar(size_t m, size_t n, size_t k);

/* --- Pre-packed operands ---------------------------------------------
 * A constant operand (weights) can be packed once, at load, into the
 * layout the micro-kernel reads, and reused by every later product:
 * B (k x n: Gemm/MatMul weights) or A (m x k: Conv weights).  A packed
 * buffer records the ISA that packed it and is always used with that ISA's
 * kernels, whatever ember_kernels_force_isa says later.  Packed buffers are
 * read-only after packing and may be shared by threads. */

/* Floats a packed B of k x n (resp. A of m x k) occupies, for the ISA
 * chosen now (the packing must happen under the same choice). */
size_t ember_f32_gemm_packed_b_floats(size_t n, size_t k);
size_t ember_f32_gemm_packed_a_floats(size_t m, size_t k);

/* Pack B(p,j) = b[p*b_rs + j*b_cs], p < k, j < n (resp. A(i,p) =
 * a[i*a_rs + p*a_cs], i < m, p < k) into `packed`, which holds
 * ember_f32_gemm_packed_b_floats(n, k) (resp. _a_floats(m, k)) floats and
 * should be 64-byte aligned. */
void ember_f32_gemm_pack_b(size_t n, size_t k, const float *b, size_t b_rs,
                           size_t b_cs, float *packed);
void ember_f32_gemm_pack_a(size_t m, size_t k, const float *a, size_t a_rs,
                           size_t a_cs, float *packed);

/* Column (resp. row) granularity of a packed B (resp. A): a product may
 * start at any multiple of it (see col0 / row0 below), which is how a
 * caller splits the output into tiles for threads. */
size_t ember_f32_gemm_packed_b_align(const float *packed_b);
size_t ember_f32_gemm_packed_a_align(const float *packed_a);

/* As ember_f32_gemm, with B(p,j) taken from columns col0 .. col0 + n - 1
 * of the packed B (col0 a multiple of ember_f32_gemm_packed_b_align,
 * col0 + n within the packed width, k its depth). */
void ember_f32_gemm_prepacked(size_t m, size_t n, size_t k, float alpha,
                              const float *a, size_t a_rs, size_t a_cs,
                              const float *packed_b, size_t col0, float beta,
                              float *c, size_t ldc, float *work);

/* As ember_f32_gemm, with A(i,p) taken from rows row0 .. row0 + m - 1 of
 * the packed A (row0 a multiple of ember_f32_gemm_packed_a_align). */
void ember_f32_gemm_prepacked_a(size_t m, size_t n, size_t k, float alpha,
                                const float *packed_a, size_t row0,
                                const float *b, size_t b_rs, size_t b_cs,
                                float beta, float *c, size_t ldc, float *work);

/* --- Micro-kernels (for the driver and the kernel tests) --------------
 * C tile (mr x nr of an MR x NR register tile, 1 <= mr <= MR,
 * 1 <= nr <= NR) = alpha * Ap * Bp + beta * C, where Ap is a packed A
 * strip (kc columns of MR floats each; rows past mr are not used) and Bp a
 * packed B strip (kc rows of NR floats).  beta == 0: C is not read.  kc
 * may be 0.  The narrower variants of an ISA (6x8 next to 6x16, 8x32 and
 * 8x16 next to 8x48) read strips of their own width and serve the last
 * strip of a packed B. */
typedef void (*ember_f32_gemm_ukernel_fn)(size_t mr, size_t nr, size_t kc,
                                          const float *ap, const float *bp,
                                          float alpha, float beta, float *c,
                                          size_t ldc);

void ember_f32_gemm_ukernel_4x8__scalar(size_t mr, size_t nr, size_t kc,
                                        const float *ap, const float *bp,
                                        float alpha, float beta, float *c,
                                        size_t ldc);
void ember_f32_gemm_ukernel_6x16__avx2(size_t mr, size_t nr, size_t kc,
                                       const float *ap, const float *bp,
                                       float alpha, float beta, float *c,
                                       size_t ldc);
void ember_f32_gemm_ukernel_6x8__avx2(size_t mr, size_t nr, size_t kc,
                                      const float *ap, const float *bp,
                                      float alpha, float beta, float *c,
                                      size_t ldc);
void ember_f32_gemm_ukernel_8x48__avx512f(size_t mr, size_t nr, size_t kc,
                                          const float *ap, const float *bp,
                                          float alpha, float beta, float *c,
                                          size_t ldc);
void ember_f32_gemm_ukernel_8x32__avx512f(size_t mr, size_t nr, size_t kc,
                                          const float *ap, const float *bp,
                                          float alpha, float beta, float *c,
                                          size_t ldc);
void ember_f32_gemm_ukernel_8x16__avx512f(size_t mr, size_t nr, size_t kc,
                                          const float *ap, const float *bp,
                                          float alpha, float beta, float *c,
                                          size_t ldc);

/* Packing of B with contiguous rows (b_cs == 1) into NR-wide strips
 * (layout in f32-gemm-driver.c): rows [0, kc) x columns [0, nc) of
 * B(p,j) = b[p*b_rs + j]; the last strip is only as wide as the ISA's
 * narrowest micro-kernel step requires, zero-filled past nc. */
typedef void (*ember_f32_gemm_pack_b_fn)(size_t kc, size_t nc, const float *b,
                                         size_t b_rs, float *bp);
void ember_f32_gemm_pack_b_nr16__avx2(size_t kc, size_t nc, const float *b,
                                      size_t b_rs, float *bp);
void ember_f32_gemm_pack_b_nr48__avx512f(size_t kc, size_t nc, const float *b,
                                         size_t b_rs, float *bp);

/* Packing of B stored transposed (b_rs == 1): B(p,j) = b[j*b_cs + p],
 * otherwise as above. */
void ember_f32_gemm_pack_bt_nr16__avx2(size_t kc, size_t nc, const float *b,
                                       size_t b_cs, float *bp);
void ember_f32_gemm_pack_bt_nr48__avx512f(size_t kc, size_t nc,
                                          const float *b, size_t b_cs,
                                          float *bp);

/* Packing of A with contiguous rows (a_cs == 1) into MR-tall strips:
 * rows [0, mc) x columns [0, kc) of A(i,p) = a[i*a_rs + p], rows past mc
 * zero-filled. */
typedef void (*ember_f32_gemm_pack_a_fn)(size_t mc, size_t kc, const float *a,
                                         size_t a_rs, float *ap);
void ember_f32_gemm_pack_a_mr6__avx2(size_t mc, size_t kc, const float *a,
                                     size_t a_rs, float *ap);
void ember_f32_gemm_pack_a_mr8__avx512f(size_t mc, size_t kc, const float *a,
                                        size_t a_rs, float *ap);

/* Matrix-vector products for the GEMM shapes with one row or one column
 * of C, reading the matrix in place (f32-gemv-*.c):
 *   dot:  y[j*incy] = alpha * sum_p x[p] * mat[j*ldm + p] + beta * y[j*incy]
 *   axpy: y[j] = alpha * sum_p x[p*incx] * mat[p*ldm + j] + beta * y[j]
 * for j < n, p < k; beta == 0: y is not read. */
typedef void (*ember_f32_gemv_dot_fn)(size_t n, size_t k, float alpha,
                                      const float *x, const float *mat,
                                      size_t ldm, float beta, float *y,
                                      size_t incy);
typedef void (*ember_f32_gemv_axpy_fn)(size_t n, size_t k, float alpha,
                                       const float *x, size_t incx,
                                       const float *mat, size_t ldm,
                                       float beta, float *y);
void ember_f32_gemv_dot__avx2(size_t n, size_t k, float alpha, const float *x,
                              const float *mat, size_t ldm, float beta,
                              float *y, size_t incy);
void ember_f32_gemv_axpy__avx2(size_t n, size_t k, float alpha,
                               const float *x, size_t incx, const float *mat,
                               size_t ldm, float beta, float *y);
void ember_f32_gemv_dot__avx512f(size_t n, size_t k, float alpha,
                                 const float *x, const float *mat, size_t ldm,
                                 float beta, float *y, size_t incy);
void ember_f32_gemv_axpy__avx512f(size_t n, size_t k, float alpha,
                                  const float *x, size_t incx,
                                  const float *mat, size_t ldm, float beta,
                                  float *y);

/* The tile and blocking of an ISA's GEMM (as the driver uses it), for
 * tests that want to probe its edges; zero sizes when `isa` is not
 * compiled in. */
typedef struct ember_f32_gemm_tile {
  size_t mr, nr, mc, kc, nc;
} ember_f32_gemm_tile;
ember_f32_gemm_tile ember_f32_gemm_tile_of(int isa);

#endif
