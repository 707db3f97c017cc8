/*
 * Portable C single-precision GEMM, blocked for caches in the usual
 * three-level way (an NC-wide panel of B, a KC-deep slice of both, an
 * MC-tall block of A), with operands packed into MR- and NR-wide strips so
 * the register tile reads both sequentially.  The MR x NR micro-kernel is
 * written as fixed-trip loops over a local accumulator array, which gcc
 * and clang turn into SIMD code at -O2/-O3 with the baseline ISA; no
 * intrinsics.  Matrix-vector shapes (one row of C, or one column) skip
 * packing, which would cost as much as the product itself there.  This is
 * the reference every optimized GEMM kernel is checked against.
 */
#include <assert.h>
#include <string.h>

#include "f32-gemm/f32-gemm.h"

#define MR EMBER_F32_GEMM_MR
#define NR EMBER_F32_GEMM_NR
#define MC EMBER_F32_GEMM_MC
#define KC EMBER_F32_GEMM_KC
#define NC EMBER_F32_GEMM_NC

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t round_up(size_t a, size_t r) { return (a + r - 1) / r * r; }

size_t ember_f32_gemm_work_floats__scalar(size_t m, size_t n, size_t k) {
  size_t kc = min_sz(k, KC), mc = round_up(min_sz(m, MC), MR),
         nc = round_up(min_sz(n, NC), NR);
  return (mc + nc) * (kc ? kc : 1);
}

/* Pack rows [0, mc) x columns [0, kc) of A (already offset) into strips
 * of MR rows, each stored column by column, scaled by alpha; rows past mc
 * are zero so the micro-kernel never needs a row bound. */
static void pack_a(size_t mc, size_t kc, float alpha, const float *a,
                   size_t a_rs, size_t a_cs, float *restrict ap) {
  for (size_t ir = 0; ir < mc; ir += MR) {
    size_t mr = min_sz(MR, mc - ir);
    for (size_t p = 0; p < kc; p++) {
      const float *col = a + ir * a_rs + p * a_cs;
      size_t i = 0;
      for (; i < mr; i++) ap[i] = alpha * col[i * a_rs];
      for (; i < MR; i++) ap[i] = 0.0f;
      ap += MR;
    }
  }
}

/* Pack rows [0, kc) x columns [0, nc) of B into strips of NR columns,
 * each stored row by row, zero-padded to NR. */
static void pack_b(size_t kc, size_t nc, const float *b, size_t b_rs,
                   size_t b_cs, float *restrict bp) {
  for (size_t jr = 0; jr < nc; jr += NR) {
    size_t nr = min_sz(NR, nc - jr);
    for (size_t p = 0; p < kc; p++) {
      const float *row = b + p * b_rs + jr * b_cs;
      size_t j = 0;
      if (b_cs == 1 && nr == NR) {
        memcpy(bp, row, NR * sizeof *bp);
      } else {
        for (; j < nr; j++) bp[j] = row[j * b_cs];
        for (; j < NR; j++) bp[j] = 0.0f;
      }
      bp += NR;
    }
  }
}

/* C tile (mr x nr valid of MR x NR) = alpha * packed A strip x packed B
 * strip (+ beta * C).  Also the "scalar" micro-kernel of the ISA driver
 * (f32-gemm-driver.c), used for pre-packed operands. */
void ember_f32_gemm_ukernel_4x8__scalar(size_t mr, size_t nr, size_t kc,
                                        const float *restrict ap,
                                        const float *restrict bp, float alpha,
                                        float beta, float *restrict c,
                                        size_t ldc) {
  float acc[MR][NR];
  for (size_t i = 0; i < MR; i++)
    for (size_t j = 0; j < NR; j++) acc[i][j] = 0.0f;
  for (size_t p = 0; p < kc; p++) {
    for (size_t i = 0; i < MR; i++) {
      float ai = ap[i];
      for (size_t j = 0; j < NR; j++) acc[i][j] += ai * bp[j];
    }
    ap += MR;
    bp += NR;
  }
  if (alpha != 1.0f)
    for (size_t i = 0; i < MR; i++)
      for (size_t j = 0; j < NR; j++) acc[i][j] *= alpha;
  if (mr == MR && nr == NR) {
    if (beta == 0.0f) {
      for (size_t i = 0; i < MR; i++)
        for (size_t j = 0; j < NR; j++) c[i * ldc + j] = acc[i][j];
    } else if (beta == 1.0f) {
      for (size_t i = 0; i < MR; i++)
        for (size_t j = 0; j < NR; j++) c[i * ldc + j] += acc[i][j];
    } else {
      for (size_t i = 0; i < MR; i++)
        for (size_t j = 0; j < NR; j++)
          c[i * ldc + j] = acc[i][j] + beta * c[i * ldc + j];
    }
    return;
  }
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nr; j++) {
      float *cij = &c[i * ldc + j];
      *cij = beta == 0.0f ? acc[i][j] : acc[i][j] + beta * *cij;
    }
}

/* Contiguous dot product with independent partial sums, so the compiler
 * may vectorize it without reassociating one running sum. */
static float dot(size_t k, const float *restrict x, const float *restrict y) {
  float part[8] = {0};
  size_t p = 0;
  for (; p + 8 <= k; p += 8)
    for (size_t l = 0; l < 8; l++) part[l] += x[p + l] * y[p + l];
  float s = 0.0f;
  for (size_t l = 0; l < 8; l++) s += part[l];
  for (; p < k; p++) s += x[p] * y[p];
  return s;
}

static void scale_row(float *c, size_t n, size_t inc, float beta) {
  for (size_t j = 0; j < n; j++)
    c[j * inc] = beta == 0.0f ? 0.0f : beta * c[j * inc];
}

/* The matrix-vector shapes; returns 0 when the layout does not suit. */
static int gemv(size_t m, size_t n, size_t k, float alpha, const float *a,
                size_t a_rs, size_t a_cs, const float *b, size_t b_rs,
                size_t b_cs, float beta, float *c, size_t ldc) {
  if (m == 1 && b_cs == 1) {
    /* One row of C: accumulate scaled rows of B; C stays in L1. */
    scale_row(c, n, 1, beta);
    for (size_t p = 0; p < k; p++) {
      float s = alpha * a[p * a_cs];
      const float *restrict row = b + p * b_rs;
      float *restrict cr = c;
      for (size_t j = 0; j < n; j++) cr[j] += s * row[j];
    }
    return 1;
  }
  if (m == 1 && b_rs == 1 && a_cs == 1) {
    /* One row of C against transposed B: a dot product per column. */
    for (size_t j = 0; j < n; j++) {
      float s = alpha * dot(k, a, b + j * b_cs);
      c[j] = beta == 0.0f ? s : s + beta * c[j];
    }
    return 1;
  }
  if (n == 1 && a_cs == 1 && b_rs == 1) {
    for (size_t i = 0; i < m; i++) {
      float s = alpha * dot(k, a + i * a_rs, b);
      float *ci = &c[i * ldc];
      *ci = beta == 0.0f ? s : s + beta * *ci;
    }
    return 1;
  }
  return 0;
}

void ember_f32_gemm__scalar(size_t m, size_t n, size_t k, float alpha,
                            const float *a, size_t a_rs, size_t a_cs,
                            const float *b, size_t b_rs, size_t b_cs,
                            float beta, float *c, size_t ldc, float *work) {
  assert(m == 0 || n == 0 || c);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    for (size_t i = 0; i < m; i++) scale_row(c + i * ldc, n, 1, beta);
    return;
  }
  if (gemv(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, ldc)) return;
  size_t kc_max = min_sz(k, KC);
  float *ap = work;
  float *bp = work + round_up(min_sz(m, MC), MR) * kc_max;
  for (size_t jc = 0; jc < n; jc += NC) {
    size_t nc = min_sz(NC, n - jc);
    for (size_t pc = 0; pc < k; pc += KC) {
      size_t kc = min_sz(KC, k - pc);
      /* Later K slices add onto what the first one wrote. */
      float bt = pc == 0 ? beta : 1.0f;
      pack_b(kc, nc, b + pc * b_rs + jc * b_cs, b_rs, b_cs, bp);
      for (size_t ic = 0; ic < m; ic += MC) {
        size_t mc = min_sz(MC, m - ic);
        pack_a(mc, kc, alpha, a + ic * a_rs + pc * a_cs, a_rs, a_cs, ap);
        for (size_t jr = 0; jr < nc; jr += NR) {
          size_t nr = min_sz(NR, nc - jr);
          for (size_t ir = 0; ir < mc; ir += MR) {
            size_t mr = min_sz(MR, mc - ir);
            ember_f32_gemm_ukernel_4x8__scalar(mr, nr, kc, ap + ir * kc,
                                               bp + jr * kc, 1.0f, bt,
                                               c + (ic + ir) * ldc + jc + jr,
                                               ldc);
          }
        }
      }
    }
  }
}
