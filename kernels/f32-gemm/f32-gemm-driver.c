/*
 * The blocked SGEMM driver shared by every ISA, and the run-time dispatch
 * behind ember_f32_gemm (see f32-gemm.h).  Portable C: the ISA-specific
 * part is the micro-kernel, reached through a const table indexed by
 * ember_kernels_isa(); one indirect call per MR x NR x KC tile costs
 * nothing next to the tile's work.
 *
 * Blocking (the usual three levels): for each NC-wide panel of columns of
 * B, for each KC-deep slice of k, B's KC x NC panel is packed into NR-wide
 * strips (kc rows of NR floats each) and stays in L2/L3; for each MC-tall
 * block of A, the block is packed into MR-tall strips (kc columns of MR
 * floats each) and stays in L2; the micro-kernel then sweeps the block,
 * one B strip against every A strip.  Strips are zero-padded so the
 * micro-kernel's inner loop has no bounds, and edge tiles store only their
 * valid mr x nr part; the last B strip of a packed panel is only as wide
 * as needed, in steps of the ISA's `step` (16 floats for AVX-512), and
 * goes to the narrower micro-kernel of that width, so a product with
 * n = 49 does not pay for 96 columns.  Later k slices accumulate onto C
 * with beta = 1.  Row-major A and B (the common layouts) are packed by the
 * ISA's own vector routines; the rest by the portable ones below.
 *
 * Pre-packed operands use exactly the strip layout the driver packs into
 * its workspace, over the whole matrix: for k slice pc (depth kc) the
 * strip holding columns j .. j + NR - 1 of B starts at
 * pc * round_up(n, NR) + j * kc (its width is NR, or less for the last),
 * and the same for A with rows and MR.  So
 * the driver indexes a pre-packed operand and its own packing the same
 * way, and a product over columns col0 .. of a packed B is the same loop
 * started at col0.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "f32-gemm/f32-gemm.h"
#include "isa.h"

typedef struct gemm_isa {
  /* ukernel[w - 1]: the micro-kernel for B strips w * step wide
   * (w * step <= nr); ukernel[0] NULL: ISA not compiled in. */
  ember_f32_gemm_ukernel_fn ukernel[3];
  size_t mr, nr, step;
  size_t mc, kc, nc; /* cache blocks: multiples of mr, -, nr */
  ember_f32_gemm_pack_b_fn pack_b_rows; /* B with b_cs == 1; may be NULL */
  ember_f32_gemm_pack_b_fn pack_b_cols; /* B with b_rs == 1 (its b_rs
                                           argument is then b_cs) */
  ember_f32_gemm_pack_a_fn pack_a_rows; /* A with a_cs == 1; may be NULL */
  ember_f32_gemv_dot_fn gemv_dot;       /* NULL: the reference's path */
  ember_f32_gemv_axpy_fn gemv_axpy;
} gemm_isa;

/* Per-ISA tiles and blocks.  Measured on AMD Zen 4 (32 KiB L1d, 1 MiB
 * L2) with benchmarks/gemm_bench.c: MC, KC and NC anywhere near these
 * (MC 96-384, KC 128-384, NC 480-3840) gave the same speed within the
 * noise, so the smaller NC is kept, for a smaller workspace.  MC must be
 * a multiple of MR and NC of NR (a pre-packed operand's strips are then
 * found at the same offsets in every block). */
#define AVX2_MC 144
#define AVX2_KC 256
#define AVX2_NC 960
#define AVX512_MC 192
#define AVX512_KC 256
#define AVX512_NC 960
_Static_assert(AVX2_MC % 6 == 0 && AVX2_NC % 16 == 0, "AVX2 blocks");
_Static_assert(AVX512_MC % 8 == 0 && AVX512_NC % 48 == 0, "AVX-512 blocks");
_Static_assert(EMBER_F32_GEMM_MC % EMBER_F32_GEMM_MR == 0 &&
                   EMBER_F32_GEMM_NC % EMBER_F32_GEMM_NR == 0,
               "scalar blocks");

static const gemm_isa gemm_isas[EMBER_ISA_COUNT] = {
    [EMBER_ISA_SCALAR] = {{ember_f32_gemm_ukernel_4x8__scalar},
                          EMBER_F32_GEMM_MR, EMBER_F32_GEMM_NR,
                          EMBER_F32_GEMM_NR, EMBER_F32_GEMM_MC,
                          EMBER_F32_GEMM_KC, EMBER_F32_GEMM_NC, NULL, NULL,
                          NULL, NULL, NULL},
#ifdef EMBER_HAVE_AVX2
    [EMBER_ISA_AVX2] = {{ember_f32_gemm_ukernel_6x8__avx2,
                         ember_f32_gemm_ukernel_6x16__avx2},
                        6, 16, 8, AVX2_MC, AVX2_KC, AVX2_NC,
                        ember_f32_gemm_pack_b_nr16__avx2,
                        ember_f32_gemm_pack_bt_nr16__avx2,
                        ember_f32_gemm_pack_a_mr6__avx2,
                        ember_f32_gemv_dot__avx2, ember_f32_gemv_axpy__avx2},
#endif
#ifdef EMBER_HAVE_AVX512F
    [EMBER_ISA_AVX512F] = {{ember_f32_gemm_ukernel_8x16__avx512f,
                            ember_f32_gemm_ukernel_8x32__avx512f,
                            ember_f32_gemm_ukernel_8x48__avx512f},
                           8, 48, 16, AVX512_MC, AVX512_KC, AVX512_NC,
                           ember_f32_gemm_pack_b_nr48__avx512f,
                           ember_f32_gemm_pack_bt_nr48__avx512f,
                           ember_f32_gemm_pack_a_mr8__avx512f,
                           ember_f32_gemv_dot__avx512f,
                           ember_f32_gemv_axpy__avx512f},
#endif
};

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }
static size_t round_up(size_t a, size_t r) { return (a + r - 1) / r * r; }

/* 64-byte aligned pointer at or after p. */
static float *align64(float *p) {
  return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

static size_t isa_work_floats(const gemm_isa *g, size_t m, size_t n,
                              size_t k) {
  size_t kc = max_sz(min_sz(k, g->kc), 1);
  size_t mc = round_up(min_sz(max_sz(m, 1), g->mc), g->mr);
  size_t nc = round_up(min_sz(max_sz(n, 1), g->nc), g->nr);
  return (mc + nc) * kc + 32; /* 16 floats of slack to align each panel */
}

size_t ember_f32_gemm_work_floats(size_t m, size_t n, size_t k) {
  size_t w = ember_f32_gemm_work_floats__scalar(m, n, k);
  for (int i = 0; i < EMBER_ISA_COUNT; i++)
    if (gemm_isas[i].ukernel[0])
      w = max_sz(w, isa_work_floats(&gemm_isas[i], m, n, k));
  return w;
}

ember_f32_gemm_tile ember_f32_gemm_tile_of(int isa) {
  ember_f32_gemm_tile t = {0, 0, 0, 0, 0};
  if (isa < 0 || isa >= EMBER_ISA_COUNT || !gemm_isas[isa].ukernel[0]) return t;
  const gemm_isa *g = &gemm_isas[isa];
  t.mr = g->mr, t.nr = g->nr, t.mc = g->mc, t.kc = g->kc, t.nc = g->nc;
  return t;
}

/* --- Packing ------------------------------------------------------------
 * Written once with the strip width as a parameter and instantiated for
 * each width in use (always_inline + constant argument), so the inner
 * copies have fixed trip counts the compiler can unroll. */

#define INLINE static inline __attribute__((always_inline))

/* Rows [0, mc) x columns [0, kc) of A into MR-row strips, strip s at
 * ap + s * MR * kc, column p of a strip at + p * MR; rows past mc zero. */
INLINE void pack_a_w(size_t MR, size_t mc, size_t kc, const float *a,
                     size_t a_rs, size_t a_cs, float *restrict ap) {
  for (size_t ir = 0; ir < mc; ir += MR) {
    size_t mr = min_sz(MR, mc - ir);
    const float *as = a + ir * a_rs;
    if (mr == MR && a_cs == 1) {
      /* Row-major A: MR rows read side by side, each sequentially. */
      for (size_t p = 0; p < kc; p++)
        for (size_t i = 0; i < MR; i++) ap[p * MR + i] = as[i * a_rs + p];
    } else if (mr == MR && a_rs == 1) {
      /* Column-major A: each packed column is a contiguous copy. */
      for (size_t p = 0; p < kc; p++)
        for (size_t i = 0; i < MR; i++) ap[p * MR + i] = as[p * a_cs + i];
    } else {
      for (size_t p = 0; p < kc; p++) {
        size_t i = 0;
        for (; i < mr; i++) ap[p * MR + i] = as[i * a_rs + p * a_cs];
        for (; i < MR; i++) ap[p * MR + i] = 0.0f;
      }
    }
    ap += MR * kc;
  }
}

/* Rows [0, kc) x columns [0, nc) of B into NR-column strips, the strip
 * of columns j.. at bp + j * kc, row p of it at + p * width; the last
 * strip is only round_up(columns left, STEP) wide, zero-padded. */
INLINE void pack_b_w(size_t NR, size_t STEP, size_t kc, size_t nc,
                     const float *b, size_t b_rs, size_t b_cs,
                     float *restrict bp) {
  for (size_t jr = 0; jr < nc; jr += NR) {
    size_t nr = min_sz(NR, nc - jr), w = min_sz(NR, round_up(nr, STEP));
    const float *bs = b + jr * b_cs;
    float *dst = bp + jr * kc;
    if (nr == NR && b_cs == 1) {
      for (size_t p = 0; p < kc; p++)
        for (size_t j = 0; j < NR; j++) dst[p * NR + j] = bs[p * b_rs + j];
    } else if (nr == NR && b_rs == 1) {
      /* Transposed B: NR columns read side by side, each sequentially. */
      for (size_t p = 0; p < kc; p++)
        for (size_t j = 0; j < NR; j++) dst[p * NR + j] = bs[j * b_cs + p];
    } else {
      for (size_t p = 0; p < kc; p++) {
        size_t j = 0;
        for (; j < nr; j++) dst[p * w + j] = bs[p * b_rs + j * b_cs];
        for (; j < w; j++) dst[p * w + j] = 0.0f;
      }
    }
  }
}

static void pack_a(const gemm_isa *g, size_t mc, size_t kc, const float *a,
                   size_t a_rs, size_t a_cs, float *ap) {
  if (a_cs == 1 && g->pack_a_rows) {
    g->pack_a_rows(mc, kc, a, a_rs, ap);
    return;
  }
  switch (g->mr) {
  case 4: pack_a_w(4, mc, kc, a, a_rs, a_cs, ap); break;
  case 6: pack_a_w(6, mc, kc, a, a_rs, a_cs, ap); break;
  case 8: pack_a_w(8, mc, kc, a, a_rs, a_cs, ap); break;
  default: pack_a_w(g->mr, mc, kc, a, a_rs, a_cs, ap); break;
  }
}

static void pack_b(const gemm_isa *g, size_t kc, size_t nc, const float *b,
                   size_t b_rs, size_t b_cs, float *bp) {
  if (b_cs == 1 && g->pack_b_rows) {
    g->pack_b_rows(kc, nc, b, b_rs, bp);
    return;
  }
  if (b_rs == 1 && g->pack_b_cols) {
    g->pack_b_cols(kc, nc, b, b_cs, bp);
    return;
  }
  switch (g->nr) {
  case 8: pack_b_w(8, g->step, kc, nc, b, b_rs, b_cs, bp); break;
  case 16: pack_b_w(16, g->step, kc, nc, b, b_rs, b_cs, bp); break;
  case 48: pack_b_w(48, g->step, kc, nc, b, b_rs, b_cs, bp); break;
  default: pack_b_w(g->nr, g->step, kc, nc, b, b_rs, b_cs, bp); break;
  }
}

/* --- The driver --------------------------------------------------------- */

/* One operand: plain (p, rs, cs) or pre-packed (packed data, first
 * row/column `off`, `width` rows of A or columns of B, each k slice
 * `pad` floats per unit of depth). */
typedef struct operand {
  const float *p;
  size_t rs, cs;
  const float *packed;
  size_t off, width, pad;
} operand;

static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc) {
  for (size_t i = 0; i < m; i++) {
    float *ci = c + i * ldc;
    if (beta == 0.0f)
      memset(ci, 0, n * sizeof *ci);
    else
      for (size_t j = 0; j < n; j++) ci[j] *= beta;
  }
}

static void drive(const gemm_isa *g, size_t m, size_t n, size_t k,
                  float alpha, const operand *A, const operand *B, float beta,
                  float *c, size_t ldc, float *work) {
  const size_t MR = g->mr, NR = g->nr, MC = g->mc, KC = g->kc, NC = g->nc;
  size_t kc_max = min_sz(k, KC);
  float *wa = align64(work);
  float *wb = align64(wa + round_up(min_sz(m, MC), MR) * kc_max);
  for (size_t jc = 0; jc < n; jc += NC) {
    size_t nc = min_sz(NC, n - jc);
    for (size_t pc = 0; pc < k; pc += KC) {
      size_t kc = min_sz(KC, k - pc);
      float bt = pc == 0 ? beta : 1.0f;
      /* bp: the panel's strips; pw: the packed width they belong to, which
       * decides how wide the last strip is (see pack_b_w).  (Packing each
       * B strip just before its sweep, to keep it in L1, measured no
       * faster: the panel-wide packing streams B better.) */
      const float *bp = wb;
      size_t j0 = 0, pw = nc;
      if (B->packed) {
        bp = B->packed + pc * B->pad;
        j0 = B->off + jc;
        pw = B->width;
      } else {
        pack_b(g, kc, nc, B->p + pc * B->rs + jc * B->cs, B->rs, B->cs, wb);
      }
      for (size_t ic = 0; ic < m; ic += MC) {
        size_t mc = min_sz(MC, m - ic);
        const float *ap;
        if (A->packed) {
          ap = A->packed + pc * A->pad + (A->off + ic) * kc;
        } else {
          pack_a(g, mc, kc, A->p + ic * A->rs + pc * A->cs, A->rs, A->cs, wa);
          ap = wa;
        }
        for (size_t jr = 0; jr < nc; jr += NR) {
          size_t nr = min_sz(NR, nc - jr), j = j0 + jr;
          size_t w = min_sz(NR, round_up(pw - j, g->step));
          ember_f32_gemm_ukernel_fn uk = g->ukernel[w / g->step - 1];
          const float *bj = bp + j * kc;
          float *cj = c + ic * ldc + jc + jr;
          for (size_t ir = 0; ir < mc; ir += MR)
            uk(min_sz(MR, mc - ir), nr, kc, ap + ir * kc, bj, alpha, bt,
               cj + ir * ldc, ldc);
        }
      }
    }
  }
}

/* One row or one column of C: every element of the matrix is used once,
 * so it is read in place (the ISA's gemv routines) instead of packed.
 * Returns 0 when the layout does not suit. */
static int gemv(const gemm_isa *g, size_t m, size_t n, size_t k, float alpha,
                const float *a, size_t a_rs, size_t a_cs, const float *b,
                size_t b_rs, size_t b_cs, float beta, float *c, size_t ldc) {
  if (m == 1 && b_cs == 1) { /* c = a B, B's rows contiguous */
    g->gemv_axpy(n, k, alpha, a, a_cs, b, b_rs, beta, c);
    return 1;
  }
  if (m == 1 && b_rs == 1 && a_cs == 1) { /* c = B^T-stored rows . a */
    g->gemv_dot(n, k, alpha, a, b, b_cs, beta, c, 1);
    return 1;
  }
  if (n == 1 && a_cs == 1 && b_rs == 1) { /* c = A b, A's rows contiguous */
    g->gemv_dot(m, k, alpha, b, a, a_rs, beta, c, ldc);
    return 1;
  }
  return 0;
}

void ember_f32_gemm(size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t a_rs, size_t a_cs, const float *b, size_t b_rs,
                    size_t b_cs, float beta, float *c, size_t ldc,
                    float *work) {
  const gemm_isa *g = &gemm_isas[ember_kernels_isa()];
  if (!g->gemv_dot) { /* the scalar reference (or an ISA not built) */
    ember_f32_gemm__scalar(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta,
                           c, ldc, work);
    return;
  }
  assert(m == 0 || n == 0 || c);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  if ((m == 1 || n == 1) &&
      gemv(g, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, ldc))
    return;
  operand A = {a, a_rs, a_cs, NULL, 0, 0, 0};
  operand B = {b, b_rs, b_cs, NULL, 0, 0, 0};
  drive(g, m, n, k, alpha, &A, &B, beta, c, ldc, work);
}

/* --- Pre-packed operands ------------------------------------------------
 * A packed buffer starts with a 64-byte header naming the ISA, which side
 * it is, and its extent; the strips follow. */

#define PACK_HDR_FLOATS 16
#define PACK_MAGIC_A 0x454d4241u /* "EMBA" */
#define PACK_MAGIC_B 0x454d4242u /* "EMBB" */

typedef struct pack_hdr {
  uint32_t magic, isa;
  uint64_t k, width; /* depth; rows of A or columns of B */
} pack_hdr;

static pack_hdr read_hdr(const float *packed, uint32_t magic) {
  pack_hdr h;
  memcpy(&h, packed, sizeof h);
  assert(h.magic == magic && h.isa < EMBER_ISA_COUNT &&
         gemm_isas[h.isa].ukernel[0]);
  (void)magic;
  return h;
}

static void write_hdr(float *packed, uint32_t magic, int isa, size_t k,
                      size_t width) {
  pack_hdr h = {magic, (uint32_t)isa, k, width};
  memset(packed, 0, PACK_HDR_FLOATS * sizeof *packed);
  memcpy(packed, &h, sizeof h);
}

/* The ISA packing uses: the current one (the scalar reference has no
 * packed form of its own; its micro-kernel serves). */
static int pack_isa(void) {
  int isa = ember_kernels_isa();
  return gemm_isas[isa].ukernel[0] ? isa : EMBER_ISA_SCALAR;
}

size_t ember_f32_gemm_packed_b_floats(size_t n, size_t k) {
  const gemm_isa *g = &gemm_isas[pack_isa()];
  return PACK_HDR_FLOATS + round_up(n, g->nr) * k;
}

size_t ember_f32_gemm_packed_a_floats(size_t m, size_t k) {
  const gemm_isa *g = &gemm_isas[pack_isa()];
  return PACK_HDR_FLOATS + round_up(m, g->mr) * k;
}

void ember_f32_gemm_pack_b(size_t n, size_t k, const float *b, size_t b_rs,
                           size_t b_cs, float *packed) {
  int isa = pack_isa();
  const gemm_isa *g = &gemm_isas[isa];
  write_hdr(packed, PACK_MAGIC_B, isa, k, n);
  float *dst = packed + PACK_HDR_FLOATS;
  size_t pad = round_up(n, g->nr);
  for (size_t pc = 0; pc < k; pc += g->kc) {
    size_t kc = min_sz(g->kc, k - pc);
    pack_b(g, kc, n, b + pc * b_rs, b_rs, b_cs, dst + pc * pad);
  }
}

void ember_f32_gemm_pack_a(size_t m, size_t k, const float *a, size_t a_rs,
                           size_t a_cs, float *packed) {
  int isa = pack_isa();
  const gemm_isa *g = &gemm_isas[isa];
  write_hdr(packed, PACK_MAGIC_A, isa, k, m);
  float *dst = packed + PACK_HDR_FLOATS;
  size_t pad = round_up(m, g->mr);
  for (size_t pc = 0; pc < k; pc += g->kc) {
    size_t kc = min_sz(g->kc, k - pc);
    pack_a(g, m, kc, a + pc * a_cs, a_rs, a_cs, dst + pc * pad);
  }
}

size_t ember_f32_gemm_packed_b_align(const float *packed_b) {
  return gemm_isas[read_hdr(packed_b, PACK_MAGIC_B).isa].nr;
}

size_t ember_f32_gemm_packed_a_align(const float *packed_a) {
  return gemm_isas[read_hdr(packed_a, PACK_MAGIC_A).isa].mr;
}

void ember_f32_gemm_prepacked(size_t m, size_t n, size_t k, float alpha,
                              const float *a, size_t a_rs, size_t a_cs,
                              const float *packed_b, size_t col0, float beta,
                              float *c, size_t ldc, float *work) {
  pack_hdr h = read_hdr(packed_b, PACK_MAGIC_B);
  const gemm_isa *g = &gemm_isas[h.isa];
  assert(h.k == k && col0 % g->nr == 0 && col0 + n <= h.width);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  operand A = {a, a_rs, a_cs, NULL, 0, 0, 0};
  operand B = {NULL, 0, 0, packed_b + PACK_HDR_FLOATS, col0, (size_t)h.width,
               round_up((size_t)h.width, g->nr)};
  drive(g, m, n, k, alpha, &A, &B, beta, c, ldc, work);
}

void ember_f32_gemm_prepacked_a(size_t m, size_t n, size_t k, float alpha,
                                const float *packed_a, size_t row0,
                                const float *b, size_t b_rs, size_t b_cs,
                                float beta, float *c, size_t ldc,
                                float *work) {
  pack_hdr h = read_hdr(packed_a, PACK_MAGIC_A);
  const gemm_isa *g = &gemm_isas[h.isa];
  assert(h.k == k && row0 % g->mr == 0 && row0 + m <= h.width);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  operand A = {NULL, 0, 0, packed_a + PACK_HDR_FLOATS, row0, (size_t)h.width,
               round_up((size_t)h.width, g->mr)};
  operand B = {b, b_rs, b_cs, NULL, 0, 0, 0};
  drive(g, m, n, k, alpha, &A, &B, beta, c, ldc, work);
}
