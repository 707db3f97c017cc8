/*
 * Gemm (Y = alpha * A' * B' + beta * C, C unidirectionally broadcast,
 * every opset: the old `broadcast` attribute only allowed what later
 * opsets always allow) and MatMul (numpy matmul: 1-D operands promoted
 * and the added axis removed again, batch axes broadcast).  float32 goes
 * through the blocked GEMM kernel; a MatMul whose B has no batch axes
 * folds A's batch into the rows, one kernel call in all.  float16 and
 * bfloat16 are widened to float32 scratch; float64 and the integer types
 * use direct loops (integers wrap as in two's complement, like numpy).
 */
#include <string.h>

#include "f32-gemm/f32-gemm.h"
#include "ops/f32cvt.h"
#include "ops/op.h"
#include "ops/tiles.h"

static const int32_t mm_types[] = {EMBER_FLOAT,    EMBER_DOUBLE, EMBER_FLOAT16,
                                   EMBER_BFLOAT16, EMBER_INT32,  EMBER_INT64,
                                   EMBER_UINT32,   EMBER_UINT64, 0};

/* ------------------------------------------------- direct (non-f32) loops */

/* C(i,j) = sum_p A(i,p) B(p,j) over strided operands, accumulating in
 * ACC (unsigned for integers so overflow wraps instead of being UB). */
#define EMB_MM_DIRECT(NAME, T, ACC)                                         \
  static void NAME(size_t m, size_t n, size_t k, const T *a, size_t a_rs,   \
                   size_t a_cs, const T *b, size_t b_rs, size_t b_cs, T *c, \
                   size_t ldc) {                                            \
    for (size_t i = 0; i < m; i++)                                          \
      for (size_t j = 0; j < n; j++) {                                      \
        ACC s = 0;                                                          \
        for (size_t p = 0; p < k; p++)                                      \
          s += (ACC)a[i * a_rs + p * a_cs] * (ACC)b[p * b_rs + j * b_cs];   \
        c[i * ldc + j] = (T)s;                                              \
      }                                                                     \
  }
EMB_MM_DIRECT(mm_f64, double, double)
EMB_MM_DIRECT(mm_i32, int32_t, uint32_t)
EMB_MM_DIRECT(mm_u32, uint32_t, uint32_t)
EMB_MM_DIRECT(mm_i64, int64_t, uint64_t)
EMB_MM_DIRECT(mm_u64, uint64_t, uint64_t)

/* One (batch of a) product for a non-float32 type; element offsets in
 * elements of the tensor's type. */
static void mm_direct(int32_t dtype, size_t m, size_t n, size_t k,
                      const void *a, size_t a_rs, size_t a_cs, const void *b,
                      size_t b_rs, size_t b_cs, void *c, size_t ldc) {
  switch (dtype) {
    case EMBER_DOUBLE:
      mm_f64(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc);
      break;
    case EMBER_INT32:
      mm_i32(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc);
      break;
    case EMBER_UINT32:
      mm_u32(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc);
      break;
    case EMBER_INT64:
      mm_i64(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc);
      break;
    case EMBER_UINT64:
      mm_u64(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc);
      break;
    default:
      break;
  }
}

/* ------------------------------------------------- float32 in tasks */

/* Float32 products cut into tasks: `batches` products of m x n x k, each
 * cut into pm x pn blocks of C (never along k, so the result does not
 * depend on the cut).  Each task uses its thread's slice of scratch as
 * the GEMM workspace.  Gemm's C (beta * C broadcast) is written into the
 * task's block first and the product added onto it. */
typedef struct mm_job {
  size_t m, n, k;
  float alpha;
  const float *a, *b;
  size_t a_rs, a_cs, b_rs, b_cs;
  float *y;
  /* MatMul batches: the batch dims and the element strides of A and B
   * along them (brank 0: one product). */
  int brank;
  const int64_t *batch, *a_bs, *b_bs;
  /* Gemm's C: NULL when unused; cr, cc its rows and columns (1 when
   * broadcast). */
  const float *cf;
  size_t cr, cc;
  float cbeta;
  size_t pm, pn, am, an; /* blocks per product; their start alignment */
  char *mem;
  size_t slice;
} mm_job;

static void mm_task(void *arg, size_t t, int thread) {
  const mm_job *jb = arg;
  size_t per = jb->pm * jb->pn, bt = t / per, bm = t % per / jb->pn,
         bn = t % per % jb->pn;
  size_t m0 = emb_block_start(jb->m, jb->pm, jb->am, bm),
         m1 = emb_block_start(jb->m, jb->pm, jb->am, bm + 1);
  size_t n0 = emb_block_start(jb->n, jb->pn, jb->an, bn),
         n1 = emb_block_start(jb->n, jb->pn, jb->an, bn + 1);
  float *y = jb->y + bt * jb->m * jb->n + m0 * jb->n + n0;
  int64_t ao = 0, bo = 0; /* offsets of A and B: bt's batch index */
  for (int i = jb->brank; i-- > 0;) {
    size_t d = (size_t)jb->batch[i], q = bt % d;
    bt /= d;
    ao += (int64_t)q * jb->a_bs[i];
    bo += (int64_t)q * jb->b_bs[i];
  }
  if (jb->cf) {
    for (size_t i = m0; i < m1; i++) {
      const float *crow = jb->cf + (jb->cr == 1 ? 0 : i) * jb->cc;
      float *yrow = y + (i - m0) * jb->n;
      if (jb->cc == 1)
        for (size_t j = n0; j < n1; j++) yrow[j - n0] = jb->cbeta * crow[0];
      else
        for (size_t j = n0; j < n1; j++) yrow[j - n0] = jb->cbeta * crow[j];
    }
  }
  ember_f32_gemm(m1 - m0, n1 - n0, jb->k, jb->alpha, jb->a + ao + m0 * jb->a_rs,
                 jb->a_rs, jb->a_cs, jb->b + bo + n0 * jb->b_cs, jb->b_rs,
                 jb->b_cs, jb->cf ? 1.0f : 0.0f, y, jb->n,
                 (float *)(jb->mem + (size_t)thread * jb->slice));
}

/* Plan jb's cut for `threads` and return the scratch bytes it needs
 * (jb->slice per thread, for *par_threads threads). */
static size_t mm_plan(mm_job *jb, size_t batches, int threads,
                      int *par_threads) {
  emb_tile_problem tp = emb_tile_gemm(batches, jb->m, jb->n, jb->k, threads);
  bool par = emb_tile_plan(&tp, &jb->pm, &jb->pn);
  jb->am = tp.align_m;
  jb->an = tp.align_n;
  *par_threads = par ? threads : 1;
  size_t tm = emb_block_max(jb->m, jb->pm, jb->am),
         tn = emb_block_max(jb->n, jb->pn, jb->an);
  jb->slice = emb_align64(ember_f32_gemm_work_floats(tm, tn, jb->k) * 4);
  return (size_t)*par_threads * jb->slice;
}

static void mm_run_job(emb_run_ctx *c, mm_job *jb, size_t batches,
                       int par_threads) {
  emb_tile_for(c, par_threads > 1, batches * jb->pm * jb->pn, mm_task, jb);
}

/* ------------------------------------------------------------------ Gemm */

typedef struct gemm_state {
  float alpha, beta;
  bool trans_a, trans_b;
} gemm_state;

static ember_status gemm_init(emb_init_ctx *c) {
  const emb_node *n = c->node;
  ember_status st;
  int64_t ta, tb, bc;
  gemm_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  if ((st = emb_attr_float(n, "alpha", 1.0f, &s->alpha, c->diag)) ||
      (st = emb_attr_float(n, "beta", 1.0f, &s->beta, c->diag)) ||
      (st = emb_attr_int(n, "transA", 0, &ta, c->diag)) ||
      (st = emb_attr_int(n, "transB", 0, &tb, c->diag)) ||
      (st = emb_attr_int(n, "broadcast", 0, &bc, c->diag)))
    return st;
  s->trans_a = ta != 0;
  s->trans_b = tb != 0;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status gemm_infer(emb_infer_ctx *c) {
  const emb_node *n = c->node;
  const gemm_state *s = n->state;
  const emb_type *a = c->in[0], *b = c->in[1];
  const emb_type *cc = c->n_in > 2 ? c->in[2] : NULL;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, mm_types)) ||
      (st = emb_infer_same_dtype(c, 0, 2)))
    return st;
  emb_type *y = &c->out[0];
  emb_type_unknown(y);
  if (!a || a->kind != EMBER_KIND_TENSOR) return EMBER_OK;
  emb_type_tensor(y, a->dtype, 2, NULL);
  bool ak = a->rank >= 0,
       bk = b && b->kind == EMBER_KIND_TENSOR && b->rank >= 0;
  if (ak && a->rank != 2)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "A must have rank 2, not %d", a->rank);
  if (bk && b->rank != 2)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "B must have rank 2, not %d", b->rank);
  emb_dim ka = {-1, 0}, kb = {-1, 0};
  if (ak) {
    y->dims[0] = a->dims[s->trans_a ? 1 : 0];
    ka = a->dims[s->trans_a ? 0 : 1];
  }
  if (bk) {
    y->dims[1] = b->dims[s->trans_b ? 0 : 1];
    kb = b->dims[s->trans_b ? 1 : 0];
  }
  if (ka.v >= 0 && kb.v >= 0 && ka.v != kb.v)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "inner dimensions differ: A' is [%lld, %lld], B' is "
                       "[%lld, %lld]",
                       (long long)y->dims[0].v, (long long)ka.v,
                       (long long)kb.v, (long long)y->dims[1].v);
  if (cc && cc->kind == EMBER_KIND_TENSOR && cc->rank >= 0) {
    if (cc->rank > 2)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "C must have rank 2 or less, not %d", cc->rank);
    for (int i = 0; i < cc->rank; i++) {
      int64_t cd = cc->dims[i].v, yd = y->dims[2 - cc->rank + i].v;
      if (cd >= 0 && yd >= 0 && cd != 1 && cd != yd)
        return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                           "C of shape [%lld%s%lld] does not broadcast to "
                           "[%lld, %lld]",
                           (long long)cc->dims[0].v, cc->rank == 2 ? ", " : "",
                           cc->rank == 2 ? (long long)cc->dims[1].v : 0LL,
                           (long long)y->dims[0].v, (long long)y->dims[1].v);
    }
  }
  return EMBER_OK;
}

/* Y(i,j) = beta * C broadcast, as double (for the direct paths). */
static double gemm_c_at(const emb_tensor *ct, size_t i, size_t j) {
  size_t r = ct->rank == 2 && ct->dims[0] != 1 ? i : 0;
  size_t q = ct->rank >= 1 && ct->dims[ct->rank - 1] != 1 ? j : 0;
  size_t cols = ct->rank >= 1 ? (size_t)ct->dims[ct->rank - 1] : 1;
  return emb_tensor_get_f64(ct, r * cols + q);
}

static ember_status gemm_run(emb_run_ctx *c) {
  const gemm_state *s = c->node->state;
  const emb_tensor *a = emb_in_t(c, 0), *b = emb_in_t(c, 1);
  const emb_tensor *ct = emb_in_t(c, 2);
  emb_tensor *y = emb_out_t(c, 0);
  size_t m = (size_t)y->dims[0], n = (size_t)y->dims[1];
  size_t k = (size_t)a->dims[s->trans_a ? 0 : 1];
  size_t a_rs = s->trans_a ? 1 : k, a_cs = s->trans_a ? m : 1;
  /* A' (i,p) = a[i * a_rs + p * a_cs]; B' (p,j) = b[p * b_rs + j * b_cs]. */
  size_t b_rs = s->trans_b ? 1 : n, b_cs = s->trans_b ? k : 1;
  bool use_c = ct && s->beta != 0.0f && emb_tensor_numel(ct) > 0;
  if (m == 0 || n == 0) return EMBER_OK;
  int32_t dt = a->dtype;
  if (dt == EMBER_FLOAT || emb_is_half(dt)) {
    size_t an = emb_tensor_numel(a), bn = emb_tensor_numel(b);
    size_t cn = use_c ? emb_tensor_numel(ct) : 0;
    mm_job jb = {.m = m, .n = n, .k = k, .alpha = s->alpha, .a_rs = a_rs,
                 .a_cs = a_cs, .b_rs = b_rs, .b_cs = b_cs, .cbeta = s->beta};
    int par_threads;
    size_t work_b = mm_plan(&jb, 1, emb_run_threads(c), &par_threads);
    size_t half_b = 0;
    if (emb_is_half(dt))
      half_b = emb_align64(an * 4) + emb_align64(bn * 4) + emb_align64(cn * 4) +
               emb_align64(m * n * 4);
    char *mem = emb_scratch(c, work_b + half_b);
    if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
    const float *af = a->data, *bf = b->data, *cf = use_c ? ct->data : NULL;
    float *yf = y->data;
    if (half_b) {
      char *p = mem + work_b;
      emb_cvt_to_f32(dt, a->data, an, (float *)p);
      af = (const float *)p;
      p += emb_align64(an * 4);
      emb_cvt_to_f32(dt, b->data, bn, (float *)p);
      bf = (const float *)p;
      p += emb_align64(bn * 4);
      if (use_c) {
        emb_cvt_to_f32(dt, ct->data, cn, (float *)p);
        cf = (const float *)p;
      }
      p += emb_align64(cn * 4);
      yf = (float *)p;
    }
    jb.a = af;
    jb.b = bf;
    jb.y = yf;
    jb.mem = mem;
    if (use_c) {
      /* Y = beta * C first (per block), then the product added on. */
      jb.cf = cf;
      jb.cr = ct->rank == 2 ? (size_t)ct->dims[0] : 1;
      jb.cc = ct->rank >= 1 ? (size_t)ct->dims[ct->rank - 1] : 1;
    }
    mm_run_job(c, &jb, 1, par_threads);
    if (half_b) emb_cvt_from_f32(dt, yf, m * n, y->data);
    return EMBER_OK;
  }
  /* Direct types: the product, then alpha and beta * C in double. */
  mm_direct(dt, m, n, k, a->data, a_rs, a_cs, b->data, b_rs, b_cs, y->data, n);
  if (s->alpha != 1.0f || use_c) {
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++) {
        double v = emb_tensor_get_f64(y, i * n + j) * (double)s->alpha;
        if (use_c) v += (double)s->beta * gemm_c_at(ct, i, j);
        if (dt == EMBER_DOUBLE)
          emb_tensor_set_f64(y, i * n + j, v);
        else
          emb_tensor_set_i64(y, i * n + j, (int64_t)v);
      }
  }
  return EMBER_OK;
}

/* ---------------------------------------------------------------- MatMul */

/* Batch / matrix view of a MatMul: the operands after 1-D promotion. */
typedef struct mm_shape {
  int brank;                   /* rank of the broadcast batch       */
  int64_t batch[EMB_MAX_RANK]; /* output batch dims                 */
  int64_t a_bs[EMB_MAX_RANK];  /* element strides of A's batch (0 on
                                  broadcast axes)                   */
  int64_t b_bs[EMB_MAX_RANK];
  size_t m, n, k;
} mm_shape;

static ember_status matmul_infer(emb_infer_ctx *c) {
  const emb_node *n = c->node;
  const emb_type *a = c->in[0], *b = c->in[1];
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, mm_types)) ||
      (st = emb_infer_same_dtype(c, 0, 1)))
    return st;
  emb_type *y = &c->out[0];
  emb_type_unknown(y);
  if (!a || a->kind != EMBER_KIND_TENSOR) return EMBER_OK;
  y->kind = EMBER_KIND_TENSOR;
  y->dtype = a->dtype;
  if (a->rank < 0 || !b || b->kind != EMBER_KIND_TENSOR || b->rank < 0)
    return EMBER_OK;
  if (a->rank == 0 || b->rank == 0)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "MatMul operands must have rank 1 or more");
  /* Promote 1-D operands: A [K] -> [1, K], B [K] -> [K, 1]. */
  emb_type ap = *a, bp = *b;
  if (a->rank == 1) {
    ap.rank = 2;
    ap.dims[0] = (emb_dim){1, 0};
    ap.dims[1] = a->dims[0];
  }
  if (b->rank == 1) {
    bp.rank = 2;
    bp.dims[1] = (emb_dim){1, 0};
    bp.dims[0] = b->dims[0];
  }
  emb_dim ka = ap.dims[ap.rank - 1], kb = bp.dims[bp.rank - 2];
  if (ka.v >= 0 && kb.v >= 0 && ka.v != kb.v)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "inner dimensions differ: A has %lld columns, B has "
                       "%lld rows",
                       (long long)ka.v, (long long)kb.v);
  emb_type ab = ap, bb = bp, yb;
  ab.rank -= 2;
  bb.rank -= 2;
  const emb_type *bat[2] = {&ab, &bb};
  if ((st = emb_infer_broadcast(c, 2, bat, &yb))) return st;
  int r = yb.rank;
  if (r + 2 > EMB_MAX_RANK)
    return emb_op_fail(c->diag, n, EMBER_ERR_LIMIT, "rank too large");
  y->rank = 0;
  for (int i = 0; i < r; i++) y->dims[y->rank++] = yb.dims[i];
  if (a->rank >= 2) y->dims[y->rank++] = ap.dims[ap.rank - 2];
  if (b->rank >= 2) y->dims[y->rank++] = bp.dims[bp.rank - 1];
  return EMBER_OK;
}

static void matmul_shape(const emb_tensor *a, const emb_tensor *b,
                         mm_shape *sh) {
  int64_t ad[EMB_MAX_RANK + 1], bd[EMB_MAX_RANK + 1];
  int ar = a->rank, br = b->rank;
  memcpy(ad, a->dims, sizeof a->dims);
  memcpy(bd, b->dims, sizeof b->dims);
  if (ar == 1) {
    ad[1] = ad[0];
    ad[0] = 1;
    ar = 2;
  }
  if (br == 1) {
    bd[1] = 1;
    br = 2;
  }
  sh->m = (size_t)ad[ar - 2];
  sh->k = (size_t)ad[ar - 1];
  sh->n = (size_t)bd[br - 1];
  int abr = ar - 2, bbr = br - 2;
  sh->brank = abr > bbr ? abr : bbr;
  for (int i = 0; i < sh->brank; i++) {
    int ia = i - (sh->brank - abr), ib = i - (sh->brank - bbr);
    int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
    sh->batch[i] = da == 1 ? db : da;
  }
  emb_broadcast_strides(sh->brank, sh->batch, abr, ad, sh->a_bs);
  emb_broadcast_strides(sh->brank, sh->batch, bbr, bd, sh->b_bs);
  /* Batch strides count matrices; make them element strides. */
  for (int i = 0; i < sh->brank; i++) {
    sh->a_bs[i] *= (int64_t)(sh->m * sh->k);
    sh->b_bs[i] *= (int64_t)(sh->k * sh->n);
  }
}

static ember_status matmul_run(emb_run_ctx *c) {
  const emb_tensor *a = emb_in_t(c, 0), *b = emb_in_t(c, 1);
  emb_tensor *y = emb_out_t(c, 0);
  mm_shape sh;
  matmul_shape(a, b, &sh);
  size_t nb = 1;
  for (int i = 0; i < sh.brank; i++) nb *= (size_t)sh.batch[i];
  size_t ynum = emb_tensor_numel(y);
  if (ynum == 0) return EMBER_OK;
  int32_t dt = a->dtype;
  size_t mn = sh.m * sh.n;
  /* B shared by every batch, A's batches contiguous: one tall product. */
  bool b_shared = true, a_dense = true;
  for (int i = 0; i < sh.brank; i++) {
    if (sh.b_bs[i]) b_shared = false;
    if (sh.batch[i] != 1 && sh.a_bs[i] == 0) a_dense = false;
  }
  bool fold = b_shared && a_dense && nb > 1;
  size_t rows = fold ? nb * sh.m : sh.m, batches = fold ? 1 : nb;
  if (dt == EMBER_FLOAT || emb_is_half(dt)) {
    size_t an = emb_tensor_numel(a), bn = emb_tensor_numel(b);
    mm_job jb = {.m = rows, .n = sh.n, .k = sh.k, .alpha = 1.0f,
                 .a_rs = sh.k, .a_cs = 1, .b_rs = sh.n, .b_cs = 1,
                 .brank = fold ? 0 : sh.brank, .batch = sh.batch,
                 .a_bs = sh.a_bs, .b_bs = sh.b_bs};
    int par_threads;
    size_t work_b = mm_plan(&jb, batches, emb_run_threads(c), &par_threads);
    size_t half_b =
        emb_is_half(dt)
            ? emb_align64(an * 4) + emb_align64(bn * 4) + emb_align64(ynum * 4)
            : 0;
    char *mem = emb_scratch(c, work_b + half_b);
    if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
    const float *af = a->data, *bf = b->data;
    float *yf = y->data;
    if (half_b) {
      char *p = mem + work_b;
      emb_cvt_to_f32(dt, a->data, an, (float *)p);
      af = (const float *)p;
      p += emb_align64(an * 4);
      emb_cvt_to_f32(dt, b->data, bn, (float *)p);
      bf = (const float *)p;
      p += emb_align64(bn * 4);
      yf = (float *)p;
    }
    jb.a = af;
    jb.b = bf;
    jb.y = yf;
    jb.mem = mem;
    mm_run_job(c, &jb, batches, par_threads);
    if (half_b) emb_cvt_from_f32(dt, yf, ynum, y->data);
    return EMBER_OK;
  }
  size_t es = (size_t)emb_dtype_bits(dt) / 8;
  size_t idx[EMB_MAX_RANK] = {0};
  for (size_t t = 0; t < nb; t++) {
    int64_t ao = 0, bo = 0;
    for (int i = 0; i < sh.brank; i++) {
      ao += (int64_t)idx[i] * sh.a_bs[i];
      bo += (int64_t)idx[i] * sh.b_bs[i];
    }
    mm_direct(dt, sh.m, sh.n, sh.k, (const char *)a->data + (size_t)ao * es,
              sh.k, 1, (const char *)b->data + (size_t)bo * es, sh.n, 1,
              (char *)y->data + t * mn * es, sh.n);
    for (int i = sh.brank; i-- > 0;) {
      if (++idx[i] < (size_t)sh.batch[i]) break;
      idx[i] = 0;
    }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_gemm = {2, 3, 1, 1, 0, gemm_init, gemm_infer, gemm_run};
const emb_opdef emb_op_matmul = {2, 2, 1, 1, 0, NULL, matmul_infer, matmul_run};
