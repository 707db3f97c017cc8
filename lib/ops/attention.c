/*
 * Transformer building blocks: Attention (opsets 23-25: 3-D and 4-D
 * inputs, grouped-query heads, boolean or additive masks, causal and
 * sliding-window masking, past/present key-value caches, nonpad_kv_seqlen,
 * softcap and the optional QK output), ai.onnx.preview FlexAttention (with
 * score_mod / prob_mod subgraphs), LinearAttention, RotaryEmbedding,
 * RMSNormalization, GroupNormalization (opset 18: one scale and bias per
 * group; opset 21: per channel), SwiGLU and CausalConvWithState.
 *
 * Attention computes in float32 (float64 when Q is double): one query row
 * at a time it forms the scores against every key, adds the combined bias
 * (mask, causal frontier, window, padding), takes a softmax and the
 * weighted sum of the values.  A row whose bias is -inf everywhere gives a
 * zero row, as the spec requires.  The other operators are memory bound;
 * they widen one row (or block) at a time to float64, compute, and round
 * once on store, so float16 and bfloat16 cost one conversion each way.
 * The loops are plain C for now; when tuned they move to kernels/.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

static const int32_t at_float_types[] = {EMBER_FLOAT, EMBER_FLOAT16,
                                         EMBER_BFLOAT16, EMBER_DOUBLE, 0};
static const int32_t at_f32_half_types[] = {EMBER_FLOAT, EMBER_FLOAT16,
                                            EMBER_BFLOAT16, 0};

/* ------------------------------------------------------ shared helpers */

static size_t at_al64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

static size_t at_esize(int32_t dt) { return (size_t)emb_dtype_bits(dt) / 8; }

static const void *at_ptr(int32_t dt, const void *base, size_t i) {
  return (const char *)base + i * at_esize(dt);
}

/* dst[i] = src[i] widened, for the floating types. */
static void at_to_f32(int32_t dt, const void *src, size_t n, float *dst) {
  switch (dt) {
    case EMBER_FLOAT:
      memcpy(dst, src, n * sizeof *dst);
      break;
    case EMBER_DOUBLE:
      for (size_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i];
      break;
    case EMBER_FLOAT16:
      for (size_t i = 0; i < n; i++)
        dst[i] = emb_f16_to_f32(((const uint16_t *)src)[i]);
      break;
    case EMBER_BFLOAT16:
      for (size_t i = 0; i < n; i++)
        dst[i] = emb_bf16_to_f32(((const uint16_t *)src)[i]);
      break;
    default:
      break;
  }
}

static void at_to_f64(int32_t dt, const void *src, size_t n, double *dst) {
  switch (dt) {
    case EMBER_DOUBLE:
      memcpy(dst, src, n * sizeof *dst);
      break;
    case EMBER_FLOAT:
      for (size_t i = 0; i < n; i++) dst[i] = ((const float *)src)[i];
      break;
    case EMBER_FLOAT16:
      for (size_t i = 0; i < n; i++)
        dst[i] = emb_f16_to_f32(((const uint16_t *)src)[i]);
      break;
    case EMBER_BFLOAT16:
      for (size_t i = 0; i < n; i++)
        dst[i] = emb_bf16_to_f32(((const uint16_t *)src)[i]);
      break;
    default:
      break;
  }
}

static void at_from_f32(int32_t dt, const float *src, size_t n, void *dst) {
  switch (dt) {
    case EMBER_FLOAT:
      memcpy(dst, src, n * sizeof *src);
      break;
    case EMBER_DOUBLE:
      for (size_t i = 0; i < n; i++) ((double *)dst)[i] = src[i];
      break;
    case EMBER_FLOAT16:
      for (size_t i = 0; i < n; i++)
        ((uint16_t *)dst)[i] = emb_f32_to_f16(src[i]);
      break;
    case EMBER_BFLOAT16:
      for (size_t i = 0; i < n; i++)
        ((uint16_t *)dst)[i] = emb_f32_to_bf16(src[i]);
      break;
    default:
      break;
  }
}

static void at_from_f64(int32_t dt, const double *src, size_t n, void *dst) {
  switch (dt) {
    case EMBER_DOUBLE:
      memcpy(dst, src, n * sizeof *src);
      break;
    case EMBER_FLOAT:
      for (size_t i = 0; i < n; i++) ((float *)dst)[i] = (float)src[i];
      break;
    case EMBER_FLOAT16:
      for (size_t i = 0; i < n; i++)
        ((uint16_t *)dst)[i] = emb_f32_to_f16((float)src[i]);
      break;
    case EMBER_BFLOAT16:
      for (size_t i = 0; i < n; i++)
        ((uint16_t *)dst)[i] = emb_f32_to_bf16((float)src[i]);
      break;
    default:
      break;
  }
}

/* x rounded to the precision of dt: where the spec casts an intermediate
 * result back to the input type (stash_type, conv output), half inputs
 * must see that rounding too. */
static double at_round(int32_t dt, double x) {
  switch (dt) {
    case EMBER_FLOAT:
      return (float)x;
    case EMBER_FLOAT16:
      return emb_f16_to_f32(emb_f32_to_f16((float)x));
    case EMBER_BFLOAT16:
      return emb_bf16_to_f32(emb_f32_to_bf16((float)x));
    default:
      return x;
  }
}

static bool at_known(const emb_type *t) {
  return t && t->kind == EMBER_KIND_TENSOR && t->rank >= 0;
}

static emb_dim at_dim(int64_t v) {
  emb_dim d = {v >= 0 ? v : -1, 0};
  return d;
}

static bool at_differ(emb_dim a, emb_dim b) {
  return a.v >= 0 && b.v >= 0 && a.v != b.v;
}

static emb_dim at_dim_add(emb_dim a, emb_dim b) {
  if (a.v == 0) return b;
  if (b.v == 0) return a;
  return at_dim(a.v >= 0 && b.v >= 0 ? a.v + b.v : -1);
}

/* Output i: a tensor of dtype (when known) and, if rank >= 0, dims. */
static void at_set_out(emb_infer_ctx *c, int i, int32_t dtype, int rank,
                       const emb_dim *dims) {
  if (i >= c->n_out) return;
  emb_type *t = &c->out[i];
  emb_type_unknown(t);
  t->kind = EMBER_KIND_TENSOR;
  t->dtype = dtype;
  t->rank = rank;
  for (int k = 0; k < rank; k++) t->dims[k] = dims[k];
}

static const emb_type *at_in(emb_infer_ctx *c, int i) {
  return i < c->n_in ? c->in[i] : NULL;
}

/* Input j must have input i's element type (both known). */
static ember_status at_same_dtype(emb_infer_ctx *c, int i, int j) {
  const emb_type *a = at_in(c, i), *b = at_in(c, j);
  if (!a || !b || !a->kind || !b->kind || !a->dtype || !b->dtype ||
      a->dtype == b->dtype)
    return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                     "input %d has element type %s but input %d has %s", j,
                     ember_dtype_name(b->dtype), i, ember_dtype_name(a->dtype));
}

static ember_status at_check_rank(emb_infer_ctx *c, int i, int rank,
                                  const char *name) {
  const emb_type *t = at_in(c, i);
  if (!at_known(t) || t->rank == rank) return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                     "%s must have rank %d, not %d", name, rank, t->rank);
}

/* Input i's dim k must equal want (where both are known). */
static ember_status at_check_dim(emb_infer_ctx *c, int i, int k, emb_dim want,
                                 const char *name, const char *what) {
  const emb_type *t = at_in(c, i);
  if (!at_known(t) || k >= t->rank || !at_differ(t->dims[k], want))
    return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                     "%s has %s %lld, expected %lld", name, what,
                     (long long)t->dims[k].v, (long long)want.v);
}

/* Validate an optional softmax_precision attribute (0 = absent). */
static ember_status at_precision_attr(emb_init_ctx *c, int64_t *out) {
  ember_status st = emb_attr_int(c->node, "softmax_precision", 0, out, c->diag);
  if (st) return st;
  if (*out != 0 && *out != EMBER_FLOAT && *out != EMBER_FLOAT16 &&
      *out != EMBER_DOUBLE && *out != EMBER_BFLOAT16)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "softmax_precision %lld is not one of 1 (float), 10 "
                       "(float16), 11 (double), 16 (bfloat16)",
                       (long long)*out);
  return EMBER_OK;
}

/* =========================================================== Attention */

typedef struct at_state {
  int64_t causal, q_heads, kv_heads, mode, left, right, precision;
  float scale, softcap;
  bool has_scale;
} at_state;

static ember_status attention_init(emb_init_ctx *c) {
  emb_node *n = c->node;
  at_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st;
  if ((st = emb_attr_int(n, "is_causal", 0, &s->causal, c->diag)) ||
      (st = emb_attr_int(n, "q_num_heads", 0, &s->q_heads, c->diag)) ||
      (st = emb_attr_int(n, "kv_num_heads", 0, &s->kv_heads, c->diag)) ||
      (st = emb_attr_int(n, "qk_matmul_output_mode", 0, &s->mode, c->diag)) ||
      (st = emb_attr_float(n, "softcap", 0.0f, &s->softcap, c->diag)) ||
      (st = emb_attr_float(n, "scale", 0.0f, &s->scale, c->diag)) ||
      (st = at_precision_attr(c, &s->precision)))
    return st;
  s->has_scale = emb_node_attr(n, "scale") != NULL;
  s->left = s->right = -1;
  if (n->opset >= 25 &&
      ((st = emb_attr_int(n, "left_window_size", -1, &s->left, c->diag)) ||
       (st = emb_attr_int(n, "right_window_size", -1, &s->right, c->diag))))
    return st;
  if (s->causal != 0 && s->causal != 1)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "is_causal must be 0 or 1, not %lld",
                       (long long)s->causal);
  if (s->mode < 0 || s->mode > 3)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "qk_matmul_output_mode must be 0, 1, 2 or 3, not %lld",
                       (long long)s->mode);
  if (s->q_heads < 0 || s->kv_heads < 0)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "q_num_heads and kv_num_heads must be positive");
  if (s->left < -1 || s->right < -1)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "left_window_size and right_window_size must be -1 "
                       "or nonnegative");
  if (n->opset < 24 && n->n_in > 6)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "input nonpad_kv_seqlen needs opset 24 or later");
  n->state = s;
  return EMBER_OK;
}

static ember_status attention_infer(emb_infer_ctx *c) {
  static const int32_t mask_types[] = {EMBER_BOOL,    EMBER_FLOAT,
                                       EMBER_FLOAT16, EMBER_BFLOAT16,
                                       EMBER_DOUBLE,  EMBER_INT8,
                                       EMBER_INT16,   EMBER_INT32,
                                       EMBER_INT64,   EMBER_UINT8,
                                       EMBER_UINT16,  EMBER_UINT32,
                                       EMBER_UINT64,  0};
  static const int32_t i64[] = {EMBER_INT64, 0};
  const emb_node *n = c->node;
  const at_state *s = n->state;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, at_float_types)) ||
      (st = emb_infer_check_dtype(c, 1, at_float_types)) ||
      (st = emb_infer_check_dtype(c, 2, at_float_types)) ||
      (st = emb_infer_check_dtype(c, 3, mask_types)) ||
      (st = emb_infer_check_dtype(c, 6, i64)) ||
      (st = at_same_dtype(c, 0, 1)) || (st = at_same_dtype(c, 0, 4)) ||
      (st = at_same_dtype(c, 2, 5)))
    return st;
  const emb_type *q = at_in(c, 0), *k = at_in(c, 1), *v = at_in(c, 2);
  const emb_type *mask = at_in(c, 3), *pk = at_in(c, 4), *pv = at_in(c, 5);
  if (!pk != !pv)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "past_key and past_value must be given together");
  if (pk && at_in(c, 6))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "nonpad_kv_seqlen cannot be combined with past_key "
                       "and past_value");
  int32_t qt = q ? q->dtype : 0, vt = v ? v->dtype : 0;
  for (int i = 0; i < c->n_out; i++)
    at_set_out(c, i, i == 2 ? vt : qt, -1, NULL);
  if (!at_known(q) || !at_known(k) || !at_known(v)) return EMBER_OK;
  int r = q->rank;
  if (r != 3 && r != 4)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "Q must have rank 3 or 4, not %d", r);
  if (k->rank != r || v->rank != r)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "Q, K and V must have the same rank (%d, %d, %d)", r,
                       k->rank, v->rank);
  emb_dim B = q->dims[0], Sq, Skv, Hqd, Hkvd;
  int64_t Hq, Hkv, Dk, Dv;
  if ((st = at_check_dim(c, 1, 0, B, "K", "batch size")) ||
      (st = at_check_dim(c, 2, 0, B, "V", "batch size")))
    return st;
  if (r == 4) {
    Hqd = q->dims[1];
    Hkvd = k->dims[1];
    Hq = Hqd.v;
    Hkv = Hkvd.v;
    if ((s->q_heads && Hq >= 0 && s->q_heads != Hq) ||
        (s->kv_heads && Hkv >= 0 && s->kv_heads != Hkv))
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "q_num_heads/kv_num_heads disagree with the head "
                         "dimension of 4-D Q and K");
    Sq = q->dims[2];
    Skv = k->dims[2];
    Dk = q->dims[3].v;
    Dv = v->dims[3].v;
    if ((st = at_check_dim(c, 1, 3, q->dims[3], "K", "head size")) ||
        (st = at_check_dim(c, 2, 1, Hkvd, "V", "head count")) ||
        (st = at_check_dim(c, 2, 2, Skv, "V", "sequence length")))
      return st;
  } else {
    if (!s->q_heads || !s->kv_heads)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "3-D inputs need the q_num_heads and kv_num_heads "
                         "attributes");
    Hq = s->q_heads;
    Hkv = s->kv_heads;
    Hqd = at_dim(Hq);
    Hkvd = at_dim(Hkv);
    Sq = q->dims[1];
    Skv = k->dims[1];
    if ((st = at_check_dim(c, 2, 1, Skv, "V", "sequence length"))) return st;
    int64_t hq = q->dims[2].v, hk = k->dims[2].v, hv = v->dims[2].v;
    if ((hq >= 0 && hq % Hq) || (hk >= 0 && hk % Hkv) || (hv >= 0 && hv % Hkv))
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "hidden sizes of Q, K, V (%lld, %lld, %lld) must be "
                         "multiples of q_num_heads %lld and kv_num_heads "
                         "%lld",
                         (long long)hq, (long long)hk, (long long)hv,
                         (long long)Hq, (long long)Hkv);
    Dk = hq >= 0 ? hq / Hq : -1;
    int64_t dkk = hk >= 0 ? hk / Hkv : -1;
    if (Dk >= 0 && dkk >= 0 && Dk != dkk)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "Q head size %lld differs from K head size %lld",
                         (long long)Dk, (long long)dkk);
    if (Dk < 0) Dk = dkk;
    Dv = hv >= 0 ? hv / Hkv : -1;
  }
  if (Hq == 0 || Hkv == 0 || (Hq > 0 && Hkv > 0 && Hq % Hkv))
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "q_num_heads %lld must be a positive multiple of "
                       "kv_num_heads %lld",
                       (long long)Hq, (long long)Hkv);
  emb_dim T = Skv;
  if (pk) {
    if ((st = at_check_rank(c, 4, 4, "past_key")) ||
        (st = at_check_rank(c, 5, 4, "past_value")))
      return st;
    if (at_known(pk) && at_known(pv)) {
      emb_dim P = pk->dims[2];
      if ((st = at_check_dim(c, 4, 0, B, "past_key", "batch size")) ||
          (st = at_check_dim(c, 4, 1, Hkvd, "past_key", "head count")) ||
          (st = at_check_dim(c, 4, 3, at_dim(Dk), "past_key", "head size")) ||
          (st = at_check_dim(c, 5, 0, B, "past_value", "batch size")) ||
          (st = at_check_dim(c, 5, 1, Hkvd, "past_value", "head count")) ||
          (st = at_check_dim(c, 5, 2, P, "past_value", "sequence length")) ||
          (st = at_check_dim(c, 5, 3, at_dim(Dv), "past_value", "head size")))
        return st;
      T = at_dim_add(P, Skv);
    } else {
      T = at_dim(-1);
    }
  }
  if (at_known(mask)) {
    if (mask->rank > 4)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "attn_mask has rank %d, more than 4", mask->rank);
    emb_dim want[4] = {B, Hqd, Sq, T};
    for (int i = 0; i < mask->rank; i++) {
      emb_dim d = mask->dims[i], w = want[4 - mask->rank + i];
      bool last = i == mask->rank - 1;
      if (d.v < 0 || w.v < 0) continue;
      if (last ? d.v > w.v : (d.v != 1 && d.v != w.v))
        return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                           "attn_mask dimension %d is %lld, which does not "
                           "fit %lld",
                           i, (long long)d.v, (long long)w.v);
    }
  }
  emb_dim yd[4];
  if (r == 4) {
    yd[0] = B, yd[1] = Hqd, yd[2] = Sq, yd[3] = at_dim(Dv);
  } else {
    yd[0] = B, yd[1] = Sq, yd[2] = at_dim(Dv >= 0 ? Hq * Dv : -1);
  }
  at_set_out(c, 0, qt, r, yd);
  emb_dim kd[4] = {B, Hkvd, T, at_dim(Dk)};
  at_set_out(c, 1, k->dtype, 4, kd);
  emb_dim vd[4] = {B, Hkvd, T, at_dim(Dv)};
  at_set_out(c, 2, vt, 4, vd);
  emb_dim qkd[4] = {B, Hqd, Sq, T};
  at_set_out(c, 3, qt, 4, qkd);
  return EMBER_OK;
}

/* Everything one attention evaluation needs, in elements of the compute
 * type.  Q, K, V and Y are addressed by (batch, head, position) strides
 * with the head dimension contiguous, which covers both the 4-D layout
 * and the 3-D (batch, sequence, heads * size) layout without copies. */
typedef struct at_args {
  int64_t B, Hq, Hkv, Sq, T, Dk, Dv;
  int64_t qs[3], ks[3], vs[3], ys[3];
  double scale, softcap;
  int mode;          /* what qk receives                              */
  const void *mask;  /* additive bias (compute type) or NULL          */
  int64_t ms[3];     /* its batch, head, query strides (0: broadcast) */
  int64_t mjs, mlen; /* key stride; keys >= mlen are masked           */
  bool causal;
  const int64_t *offset; /* per batch: cached keys before the query block */
  const int64_t *valid;  /* per batch: keys at or past it are padding     */
  int64_t left, right;   /* window bounds, -1 unbounded                   */
} at_args;

#define AT_CORE(NAME, FT, EXP, TANH)                                           \
  static void NAME(const at_args *a, const FT *q, const FT *k, const FT *v,    \
                   FT *y, FT *qk, FT *row, FT *acc) {                          \
    const int64_t grp = a->Hq / a->Hkv;                                        \
    const FT *mask = a->mask;                                                  \
    const FT scale = (FT)a->scale, cap = (FT)a->softcap;                       \
    for (int64_t b = 0; b < a->B; b++)                                         \
      for (int64_t h = 0; h < a->Hq; h++) {                                    \
        const FT *kb = k + b * a->ks[0] + (h / grp) * a->ks[1];                \
        const FT *vb = v + b * a->vs[0] + (h / grp) * a->vs[1];                \
        for (int64_t i = 0; i < a->Sq; i++) {                                  \
          const FT *qi = q + b * a->qs[0] + h * a->qs[1] + i * a->qs[2];       \
          FT *yi = y + b * a->ys[0] + h * a->ys[1] + i * a->ys[2];             \
          FT *qki = qk ? qk + ((b * a->Hq + h) * a->Sq + i) * a->T : NULL;     \
          const FT *mi =                                                       \
              mask ? mask + b * a->ms[0] + h * a->ms[1] + i * a->ms[2] : NULL; \
          const int64_t p = a->offset[b] + i; /* absolute position */          \
          const int64_t lim = a->valid ? a->valid[b] : a->T;                   \
          bool any = false;                                                    \
          FT mx = (FT)-INFINITY;                                               \
          for (int64_t j = 0; j < a->T; j++) {                                 \
            const FT *kj = kb + j * a->ks[2];                                  \
            FT sc = 0;                                                         \
            for (int64_t d = 0; d < a->Dk; d++) sc += qi[d] * kj[d];           \
            sc *= scale;                                                       \
            if (qki && a->mode == 0) qki[j] = sc;                              \
            if (cap > 0) sc = cap * TANH(sc / cap);                            \
            if (qki && a->mode == 1) qki[j] = sc;                              \
            FT bias = 0;                                                       \
            if (mi) bias = j < a->mlen ? mi[j * a->mjs] : (FT)-INFINITY;       \
            if ((a->causal && j > p) || (a->left >= 0 && j < p - a->left) ||   \
                (a->right >= 0 && j > p + a->right) || j >= lim)               \
              bias = (FT)-INFINITY;                                            \
            if (bias != (FT)-INFINITY) any = true;                             \
            sc += bias;                                                        \
            if (qki && a->mode == 2) qki[j] = sc;                              \
            row[j] = sc;                                                       \
            if (sc > mx) mx = sc;                                              \
          }                                                                    \
          if (!any) { /* every key disallowed: a zero row, not NaN */          \
            for (int64_t d = 0; d < a->Dv; d++) yi[d] = 0;                     \
            if (qki && a->mode == 3)                                           \
              for (int64_t j = 0; j < a->T; j++) qki[j] = 0;                   \
            continue;                                                          \
          }                                                                    \
          double sum = 0;                                                      \
          for (int64_t j = 0; j < a->T; j++) {                                 \
            FT e = EXP(row[j] - mx);                                           \
            row[j] = e;                                                        \
            sum += e;                                                          \
          }                                                                    \
          const FT inv = (FT)(1.0 / sum);                                      \
          for (int64_t d = 0; d < a->Dv; d++) acc[d] = 0;                      \
          for (int64_t j = 0; j < a->T; j++) {                                 \
            const FT pj = row[j] * inv;                                        \
            if (qki && a->mode == 3) qki[j] = pj;                              \
            if (pj == 0) continue; /* masked keys never touch V */             \
            const FT *vj = vb + j * a->vs[2];                                  \
            for (int64_t d = 0; d < a->Dv; d++) acc[d] += pj * vj[d];          \
          }                                                                    \
          for (int64_t d = 0; d < a->Dv; d++) yi[d] = acc[d];                  \
        }                                                                      \
      }                                                                        \
  }
AT_CORE(at_core_f32, float, expf, tanhf)
AT_CORE(at_core_f64, double, exp, tanh)

/* Copy a (batch, heads, seq, size) cache: past rows (4-D, may be NULL)
 * then the new rows of src at the given element strides.  Bytes only, so
 * it serves every element type. */
static void at_concat(void *dst, const void *past, int64_t P, const void *src,
                      const int64_t *ss, int64_t S, int64_t B, int64_t H,
                      int64_t D, size_t es) {
  char *o = dst;
  const size_t row = (size_t)D * es;
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++) {
      if (P) {
        memcpy(o, (const char *)past + (size_t)((b * H + h) * P) * row,
               (size_t)P * row);
        o += (size_t)P * row;
      }
      for (int64_t t = 0; t < S; t++) {
        size_t off = (size_t)(b * ss[0] + h * ss[1] + t * ss[2]) * es;
        memcpy(o, (const char *)src + off, row);
        o += row;
      }
    }
}

/* The mask as an additive bias in the compute type: booleans become 0 or
 * -inf (select, never multiply, so no 0 * inf), numbers pass through. */
static void at_mask_bias(const emb_tensor *m, size_t n, bool f64, void *dst) {
  if (m->dtype == EMBER_BOOL) {
    const uint8_t *b = m->data;
    for (size_t i = 0; i < n; i++) {
      if (f64)
        ((double *)dst)[i] = b[i] ? 0.0 : -INFINITY;
      else
        ((float *)dst)[i] = b[i] ? 0.0f : -INFINITY;
    }
  } else if (emb_dtype_is_float(m->dtype)) {
    if (f64)
      at_to_f64(m->dtype, m->data, n, dst);
    else
      at_to_f32(m->dtype, m->data, n, dst);
  } else {
    for (size_t i = 0; i < n; i++) {
      double x = emb_tensor_get_f64(m, i);
      if (f64)
        ((double *)dst)[i] = x;
      else
        ((float *)dst)[i] = (float)x;
    }
  }
}

static ember_status attention_run(emb_run_ctx *c) {
  const at_state *s = c->node->state;
  const emb_tensor *q = emb_in_t(c, 0), *k = emb_in_t(c, 1),
                   *v = emb_in_t(c, 2), *mask = emb_in_t(c, 3),
                   *pk = emb_in_t(c, 4), *pv = emb_in_t(c, 5),
                   *nonpad = emb_in_t(c, 6);
  emb_tensor *y = emb_out_t(c, 0), *ok = emb_out_t(c, 1), *ov = emb_out_t(c, 2),
             *oqk = emb_out_t(c, 3);
  at_args a;
  memset(&a, 0, sizeof a);
  const bool r3 = q->rank == 3;
  a.B = q->dims[0];
  int64_t Skv;
  if (r3) {
    a.Hq = s->q_heads, a.Hkv = s->kv_heads;
    a.Sq = q->dims[1], Skv = k->dims[1];
    a.Dk = q->dims[2] / a.Hq, a.Dv = v->dims[2] / a.Hkv;
  } else {
    a.Hq = q->dims[1], a.Hkv = k->dims[1];
    a.Sq = q->dims[2], Skv = k->dims[2];
    a.Dk = q->dims[3], a.Dv = v->dims[3];
  }
  const int64_t P = pk ? pk->dims[2] : 0;
  a.T = P + Skv;
  /* Strides of the inputs as given, and of a 4-D cache. */
  int64_t qs[3], ks[3], vs[3], ys[3];
  if (r3) {
    int64_t q3[3] = {a.Sq * a.Hq * a.Dk, a.Dk, a.Hq * a.Dk};
    int64_t k3[3] = {Skv * a.Hkv * a.Dk, a.Dk, a.Hkv * a.Dk};
    int64_t v3[3] = {Skv * a.Hkv * a.Dv, a.Dv, a.Hkv * a.Dv};
    int64_t y3[3] = {a.Sq * a.Hq * a.Dv, a.Dv, a.Hq * a.Dv};
    memcpy(qs, q3, sizeof qs), memcpy(ks, k3, sizeof ks);
    memcpy(vs, v3, sizeof vs), memcpy(ys, y3, sizeof ys);
  } else {
    int64_t q4[3] = {a.Hq * a.Sq * a.Dk, a.Sq * a.Dk, a.Dk};
    int64_t k4[3] = {a.Hkv * Skv * a.Dk, Skv * a.Dk, a.Dk};
    int64_t v4[3] = {a.Hkv * Skv * a.Dv, Skv * a.Dv, a.Dv};
    int64_t y4[3] = {a.Hq * a.Sq * a.Dv, a.Sq * a.Dv, a.Dv};
    memcpy(qs, q4, sizeof qs), memcpy(ks, k4, sizeof ks);
    memcpy(vs, v4, sizeof vs), memcpy(ys, y4, sizeof ys);
  }
  int64_t kc[3] = {a.Hkv * a.T * a.Dk, a.T * a.Dk, a.Dk};
  int64_t vc[3] = {a.Hkv * a.T * a.Dv, a.T * a.Dv, a.Dv};
  if (nonpad && (int64_t)emb_tensor_numel(nonpad) != a.B)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "nonpad_kv_seqlen has %zu elements, expected the batch "
                       "size %lld",
                       emb_tensor_numel(nonpad), (long long)a.B);
  /* The mask, right-aligned to (batch, q heads, q length, keys). */
  if (mask) {
    int mr = mask->rank;
    int64_t st = 1;
    a.mlen = a.T, a.mjs = 0;
    if (mr >= 1) {
      a.mlen = mask->dims[mr - 1];
      a.mjs = 1;
      st = a.mlen;
      if (a.mlen > a.T)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "attn_mask has %lld keys, more than the %lld "
                           "keys attended",
                           (long long)a.mlen, (long long)a.T);
    }
    const int64_t want[3] = {a.B, a.Hq, a.Sq};
    for (int i = 2; i >= 0; i--) {
      int md = mr - 1 - (3 - i); /* mask dim aligned with want[i] */
      int64_t d = md >= 0 ? mask->dims[md] : 1;
      if (d != 1 && d != want[i])
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "attn_mask dimension %d is %lld, which does not "
                           "broadcast to %lld",
                           md, (long long)d, (long long)want[i]);
      a.ms[i] = d == 1 ? 0 : st;
      st *= d;
    }
  }
  const bool f64 = q->dtype == EMBER_DOUBLE;
  const int32_t ct = f64 ? EMBER_DOUBLE : EMBER_FLOAT;
  const size_t ce = f64 ? 8 : 4;
  const size_t nq = emb_tensor_numel(q), ny = emb_tensor_numel(y);
  const size_t nkc = (size_t)(a.B * a.Hkv * a.T * a.Dk);
  const size_t nvc = (size_t)(a.B * a.Hkv * a.T * a.Dv);
  const size_t nk = pk ? nkc : emb_tensor_numel(k);
  const size_t nv = pv ? nvc : emb_tensor_numel(v);
  const size_t nm = mask ? emb_tensor_numel(mask) : 0;
  const size_t nqk = oqk ? emb_tensor_numel(oqk) : 0;
  /* Scratch: caches (raw) when a past is given without the present
   * outputs, compute-type copies of what is not already in it, the mask
   * bias, the offsets, one score row and one output row. */
  const bool k_raw = pk && !ok, v_raw = pv && !ov;
  const bool q_cvt = q->dtype != ct, k_cvt = k->dtype != ct,
             v_cvt = v->dtype != ct, y_cvt = y->dtype != ct,
             qk_cvt = oqk && oqk->dtype != ct;
  size_t sz[11] = {k_raw ? nkc * at_esize(k->dtype) : 0,
                   v_raw ? nvc * at_esize(v->dtype) : 0,
                   q_cvt ? nq * ce : 0,
                   k_cvt ? nk * ce : 0,
                   v_cvt ? nv * ce : 0,
                   y_cvt ? ny * ce : 0,
                   qk_cvt ? nqk * ce : 0,
                   nm * ce,
                   (size_t)a.B * sizeof(int64_t),
                   (size_t)(a.T > 0 ? a.T : 1) * ce,
                   (size_t)(a.Dv > 0 ? a.Dv : 1) * ce};
  size_t total = 64;
  for (int i = 0; i < 11; i++) total += at_al64(sz[i]);
  char *mem = emb_scratch(c, total);
  if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
  void *part[11];
  for (int i = 0; i < 11; i++) {
    part[i] = mem;
    mem += at_al64(sz[i]);
  }
  /* Keys and values: concatenated caches when a past is given (written
   * straight into the present outputs when asked for), else the inputs. */
  const void *kraw = k->data, *vraw = v->data;
  const int64_t *kst = ks, *vst = vs;
  if (pk) {
    void *dst = ok ? ok->data : part[0];
    at_concat(dst, pk->data, P, k->data, ks, Skv, a.B, a.Hkv, a.Dk,
              at_esize(k->dtype));
    kraw = dst, kst = kc;
  } else if (ok) {
    at_concat(ok->data, NULL, 0, k->data, ks, Skv, a.B, a.Hkv, a.Dk,
              at_esize(k->dtype));
  }
  if (pv) {
    void *dst = ov ? ov->data : part[1];
    at_concat(dst, pv->data, P, v->data, vs, Skv, a.B, a.Hkv, a.Dv,
              at_esize(v->dtype));
    vraw = dst, vst = vc;
  } else if (ov) {
    at_concat(ov->data, NULL, 0, v->data, vs, Skv, a.B, a.Hkv, a.Dv,
              at_esize(v->dtype));
  }
  memcpy(a.qs, qs, sizeof qs), memcpy(a.ks, kst, sizeof ks);
  memcpy(a.vs, vst, sizeof vs), memcpy(a.ys, ys, sizeof ys);
  const void *qd = q->data, *kd = kraw, *vd = vraw;
  if (q_cvt) {
    f64 ? at_to_f64(q->dtype, q->data, nq, part[2])
        : at_to_f32(q->dtype, q->data, nq, part[2]);
    qd = part[2];
  }
  if (k_cvt) {
    f64 ? at_to_f64(k->dtype, kraw, nk, part[3])
        : at_to_f32(k->dtype, kraw, nk, part[3]);
    kd = part[3];
  }
  if (v_cvt) {
    f64 ? at_to_f64(v->dtype, vraw, nv, part[4])
        : at_to_f32(v->dtype, vraw, nv, part[4]);
    vd = part[4];
  }
  void *yd = y_cvt ? part[5] : y->data;
  void *qkd = oqk ? (qk_cvt ? part[6] : oqk->data) : NULL;
  if (mask) {
    at_mask_bias(mask, nm, f64, part[7]);
    a.mask = part[7];
  }
  int64_t *offset = part[8];
  const int64_t *np = nonpad ? nonpad->data : NULL;
  for (int64_t b = 0; b < a.B; b++) offset[b] = pk ? P : np ? np[b] - a.Sq : 0;
  a.offset = offset;
  a.valid = np;
  a.causal = s->causal != 0;
  a.left = s->left, a.right = s->right;
  a.mode = (int)s->mode;
  a.softcap = s->softcap;
  a.scale =
      s->has_scale ? s->scale : (a.Dk > 0 ? 1.0 / sqrt((double)a.Dk) : 1.0);
  if (f64)
    at_core_f64(&a, qd, kd, vd, yd, qkd, part[9], part[10]);
  else
    at_core_f32(&a, qd, kd, vd, yd, qkd, part[9], part[10]);
  if (y_cvt) {
    f64 ? at_from_f64(y->dtype, yd, ny, y->data)
        : at_from_f32(y->dtype, yd, ny, y->data);
  }
  if (qk_cvt) {
    f64 ? at_from_f64(oqk->dtype, qkd, nqk, oqk->data)
        : at_from_f32(oqk->dtype, qkd, nqk, oqk->data);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_attention = {
    3, 7, 1, 4, 0, attention_init, attention_infer, attention_run};

/* ======================================================= FlexAttention */

typedef struct fa_state {
  float scale;
  bool has_scale;
  int64_t precision;
  const emb_graph *score_mod, *prob_mod;
} fa_state;

static ember_status fa_graph(emb_init_ctx *c, const char *name,
                             const emb_graph **out) {
  const emb_attr *a = emb_node_attr(c->node, name);
  *out = NULL;
  if (!a) return EMBER_OK;
  if (a->type != EMB_ATTR_GRAPH || !a->g)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute '%s' must be a graph", name);
  if (a->g->n_inputs != 1 || a->g->n_outputs != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "%s must have one input and one output, not %d and "
                       "%d",
                       name, a->g->n_inputs, a->g->n_outputs);
  *out = a->g;
  return EMBER_OK;
}

static ember_status flexattention_init(emb_init_ctx *c) {
  fa_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st;
  if ((st = emb_attr_float(c->node, "scale", 0.0f, &s->scale, c->diag)) ||
      (st = at_precision_attr(c, &s->precision)) ||
      (st = fa_graph(c, "score_mod", &s->score_mod)) ||
      (st = fa_graph(c, "prob_mod", &s->prob_mod)))
    return st;
  s->has_scale = emb_node_attr(c->node, "scale") != NULL;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status flexattention_infer(emb_infer_ctx *c) {
  const emb_node *n = c->node;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, at_float_types)) ||
      (st = emb_infer_same_dtype(c, 0, 2)) ||
      (st = at_check_rank(c, 0, 4, "Q")) ||
      (st = at_check_rank(c, 1, 4, "K")) || (st = at_check_rank(c, 2, 4, "V")))
    return st;
  const emb_type *q = c->in[0], *k = c->in[1], *v = c->in[2];
  at_set_out(c, 0, q ? q->dtype : 0, -1, NULL);
  if (!at_known(q) || !at_known(k) || !at_known(v)) return EMBER_OK;
  if ((st = at_check_dim(c, 1, 0, q->dims[0], "K", "batch size")) ||
      (st = at_check_dim(c, 2, 0, q->dims[0], "V", "batch size")) ||
      (st = at_check_dim(c, 1, 3, q->dims[3], "K", "head size")) ||
      (st = at_check_dim(c, 2, 1, k->dims[1], "V", "head count")) ||
      (st = at_check_dim(c, 2, 2, k->dims[2], "V", "sequence length")))
    return st;
  int64_t hq = q->dims[1].v, hkv = k->dims[1].v;
  if (hkv == 0 || (hq >= 0 && hkv > 0 && hq % hkv))
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "Q heads %lld must be a multiple of K/V heads %lld",
                       (long long)hq, (long long)hkv);
  emb_dim yd[4] = {q->dims[0], q->dims[1], q->dims[2], v->dims[3]};
  at_set_out(c, 0, q->dtype, 4, yd);
  return EMBER_OK;
}

/* Run a modifier subgraph on the (B, Hq, L, S) tensor in w (doubles),
 * passed as element type dt; its result replaces w.  Scratch is not
 * valid across the call, so the caller hands in the numbers and takes
 * them back from the value it gets. */
static ember_status fa_modify(emb_run_ctx *c, const emb_graph *g,
                              const char *name, int32_t dt, const int64_t *dims,
                              emb_value *io) {
  emb_value out;
  memset(&out, 0, sizeof out);
  const emb_value *in[1] = {io};
  ember_status st = emb_run_subgraph(c, g, 1, in, 1, &out);
  if (st) {
    emb_value_clear(&out);
    return st;
  }
  if (out.kind != EMB_VK_TENSOR || out.t.rank != 4 ||
      memcmp(out.t.dims, dims, 4 * sizeof *dims) || out.t.dtype != dt) {
    emb_value_clear(&out);
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "%s must return a %s tensor of the shape it was given",
                       name, ember_dtype_name(dt));
  }
  emb_value_clear(io);
  *io = out;
  return EMBER_OK;
}

static ember_status flexattention_run(emb_run_ctx *c) {
  const fa_state *s = c->node->state;
  const emb_tensor *q = emb_in_t(c, 0), *k = emb_in_t(c, 1),
                   *v = emb_in_t(c, 2);
  emb_tensor *y = emb_out_t(c, 0);
  const int64_t B = q->dims[0], Hq = q->dims[1], L = q->dims[2], E = q->dims[3],
                Hkv = k->dims[1], S = k->dims[2], Ev = v->dims[3];
  const int64_t grp = Hq / Hkv;
  const int32_t pt = s->precision               ? (int32_t)s->precision
                     : q->dtype == EMBER_DOUBLE ? EMBER_DOUBLE
                                                : EMBER_FLOAT;
  const size_t nq = emb_tensor_numel(q), nk = emb_tensor_numel(k),
               nv = emb_tensor_numel(v), ns = (size_t)(B * Hq * L * S);
  const double scale = s->has_scale ? s->scale
                       : E > 0      ? 1.0 / sqrt((double)E)
                                    : 1.0;
  const int64_t sdims[4] = {B, Hq, L, S};
  emb_value carrier;
  memset(&carrier, 0, sizeof carrier);
  ember_status st = EMBER_OK;

  /* Scores, rounded to the softmax precision as the spec's cast does. */
  double *w =
      emb_scratch(c, 64 + at_al64(ns * 8) + at_al64(nq * 8) + at_al64(nk * 8));
  if (!w) return EMBER_ERR_OUT_OF_MEMORY;
  double *qd = w + at_al64(ns * 8) / 8, *kd = qd + at_al64(nq * 8) / 8;
  at_to_f64(q->dtype, q->data, nq, qd);
  at_to_f64(k->dtype, k->data, nk, kd);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < Hq; h++)
      for (int64_t i = 0; i < L; i++) {
        const double *qi = qd + ((b * Hq + h) * L + i) * E;
        double *wi = w + ((b * Hq + h) * L + i) * S;
        for (int64_t j = 0; j < S; j++) {
          const double *kj = kd + ((b * Hkv + h / grp) * S + j) * E;
          double sc = 0;
          for (int64_t e = 0; e < E; e++) sc += qi[e] * kj[e];
          wi[j] = at_round(pt, sc * scale);
        }
      }
  for (int pass = 0; pass < 2; pass++) {
    const emb_graph *g = pass ? s->prob_mod : s->score_mod;
    if (g) {
      if (!carrier.kind) {
        st = emb_tensor_alloc(&carrier.t, pt, 4, sdims, c->diag);
        if (st) return st;
        carrier.kind = EMB_VK_TENSOR;
      }
      at_from_f64(pt, w, ns, carrier.t.data);
      st =
          fa_modify(c, g, pass ? "prob_mod" : "score_mod", pt, sdims, &carrier);
      if (st) goto done;
      w = emb_scratch(c, 64 + at_al64(ns * 8) + at_al64(nv * 8));
      if (!w) {
        st = EMBER_ERR_OUT_OF_MEMORY;
        goto done;
      }
      at_to_f64(carrier.t.dtype, carrier.t.data, ns, w);
      for (size_t i = 0; i < ns; i++) w[i] = at_round(pt, w[i]);
    }
    if (pass) break;
    /* Softmax over the keys of each row.  A row of -inf stays NaN, as
     * the spec's plain Softmax gives: masking is score_mod's business. */
    for (size_t r = 0; S && r < (size_t)(B * Hq * L); r++) {
      double *wr = w + r * (size_t)S, mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < S; j++)
        if (wr[j] > mx) mx = wr[j];
      for (int64_t j = 0; j < S; j++) sum += wr[j] = exp(wr[j] - mx);
      for (int64_t j = 0; j < S; j++) wr[j] = at_round(pt, wr[j] / sum);
    }
  }
  /* Y = P V, accumulated in double, rounded once. */
  w = emb_scratch(c, 64 + at_al64(ns * 8) + at_al64(nv * 8) +
                         at_al64((size_t)(Ev > 0 ? Ev : 1) * 8));
  if (!w) {
    st = EMBER_ERR_OUT_OF_MEMORY;
    goto done;
  }
  double *vd = w + at_al64(ns * 8) / 8, *acc = vd + at_al64(nv * 8) / 8;
  at_to_f64(v->dtype, v->data, nv, vd);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < Hq; h++)
      for (int64_t i = 0; i < L; i++) {
        const double *wi = w + ((b * Hq + h) * L + i) * S;
        for (int64_t e = 0; e < Ev; e++) acc[e] = 0;
        for (int64_t j = 0; j < S; j++) {
          const double *vj = vd + ((b * Hkv + h / grp) * S + j) * Ev;
          for (int64_t e = 0; e < Ev; e++) acc[e] += wi[j] * vj[e];
        }
        at_from_f64(y->dtype, acc, (size_t)Ev,
                    (char *)y->data + (size_t)(((b * Hq + h) * L + i) * Ev) *
                                          at_esize(y->dtype));
      }
done:
  emb_value_clear(&carrier);
  return st;
}

const emb_opdef emb_op_flexattention = {
    3, 3, 1, 1, 0, flexattention_init, flexattention_infer, flexattention_run};

/* ===================================================== LinearAttention */

enum { LA_LINEAR, LA_GATED, LA_DELTA, LA_GATED_DELTA };

typedef struct la_state {
  int64_t q_heads, kv_heads;
  float scale;
  int rule;
} la_state;

static ember_status linearattention_init(emb_init_ctx *c) {
  emb_node *n = c->node;
  la_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const char *rule;
  int64_t chunk;
  ember_status st;
  if ((st = emb_attr_int(n, "q_num_heads", 0, &s->q_heads, c->diag)) ||
      (st = emb_attr_int(n, "kv_num_heads", 0, &s->kv_heads, c->diag)) ||
      (st = emb_attr_float(n, "scale", 0.0f, &s->scale, c->diag)) ||
      (st = emb_attr_int(n, "chunk_size", 64, &chunk, c->diag)) ||
      (st = emb_attr_string(n, "update_rule", "gated_delta", &rule, c->diag)))
    return st;
  if (!strcmp(rule, "linear"))
    s->rule = LA_LINEAR;
  else if (!strcmp(rule, "gated"))
    s->rule = LA_GATED;
  else if (!strcmp(rule, "delta"))
    s->rule = LA_DELTA;
  else if (!strcmp(rule, "gated_delta"))
    s->rule = LA_GATED_DELTA;
  else
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "update_rule '%s' is not one of linear, gated, delta, "
                       "gated_delta",
                       rule);
  if (s->q_heads <= 0 || s->kv_heads <= 0 || s->q_heads % s->kv_heads)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "q_num_heads (%lld) must be a positive multiple of "
                       "kv_num_heads (%lld); both are required",
                       (long long)s->q_heads, (long long)s->kv_heads);
  bool gated = s->rule == LA_GATED || s->rule == LA_GATED_DELTA;
  bool delta = s->rule == LA_DELTA || s->rule == LA_GATED_DELTA;
  bool has_decay = n->n_in > 4 && n->in[4] >= 0;
  bool has_beta = n->n_in > 5 && n->in[5] >= 0;
  if (gated != has_decay)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "update_rule '%s' %s the decay input", rule,
                       gated ? "requires" : "does not take");
  if (delta != has_beta)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "update_rule '%s' %s the beta input", rule,
                       delta ? "requires" : "does not take");
  n->state = s;
  return EMBER_OK;
}

static ember_status linearattention_infer(emb_infer_ctx *c) {
  const emb_node *n = c->node;
  const la_state *s = n->state;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, at_f32_half_types)) ||
      (st = emb_infer_check_dtype(c, 3, at_f32_half_types)) ||
      (st = emb_infer_same_dtype(c, 0, 2)) || (st = at_same_dtype(c, 0, 4)) ||
      (st = at_same_dtype(c, 0, 5)))
    return st;
  const char *names[6] = {"query",      "key",   "value",
                          "past_state", "decay", "beta"};
  for (int i = 0; i < 6; i++)
    if ((st = at_check_rank(c, i, i == 3 ? 4 : 3, names[i]))) return st;
  const emb_type *q = at_in(c, 0), *k = at_in(c, 1), *v = at_in(c, 2),
                 *ps = at_in(c, 3);
  int32_t qt = q ? q->dtype : 0;
  int32_t stt = ps && ps->kind ? ps->dtype : qt;
  at_set_out(c, 0, qt, -1, NULL);
  at_set_out(c, 1, stt, -1, NULL);
  if (!at_known(q) || !at_known(k) || !at_known(v)) return EMBER_OK;
  const int64_t Hq = s->q_heads, Hkv = s->kv_heads;
  emb_dim B = q->dims[0], T = q->dims[1];
  for (int i = 1; i < 6; i++)
    if (i != 3 && ((st = at_check_dim(c, i, 0, B, names[i], "batch size")) ||
                   (st = at_check_dim(c, i, 1, T, names[i], "length"))))
      return st;
  int64_t hq = q->dims[2].v, hk = k->dims[2].v, hv = v->dims[2].v;
  if ((hq >= 0 && hq % Hq) || (hk >= 0 && hk % Hkv) || (hv >= 0 && hv % Hkv))
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "last dimensions of query, key, value (%lld, %lld, "
                       "%lld) must be multiples of the head counts",
                       (long long)hq, (long long)hk, (long long)hv);
  int64_t dk = hq >= 0 ? hq / Hq : -1, dv = hv >= 0 ? hv / Hkv : -1;
  if (dk >= 0 && hk >= 0 && hk / Hkv != dk)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "key head size %lld differs from query head size %lld",
                       (long long)(hk / Hkv), (long long)dk);
  const emb_type *decay = at_in(c, 4), *beta = at_in(c, 5);
  if (at_known(decay) && decay->dims[2].v >= 0 && dk >= 0 &&
      decay->dims[2].v != Hkv && decay->dims[2].v != Hkv * dk)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "decay last dimension %lld must be kv_num_heads "
                       "(%lld) or kv_num_heads * d_k (%lld)",
                       (long long)decay->dims[2].v, (long long)Hkv,
                       (long long)(Hkv * dk));
  if (at_known(beta) && beta->dims[2].v >= 0 && beta->dims[2].v != Hkv &&
      beta->dims[2].v != 1)
    return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                       "beta last dimension %lld must be kv_num_heads (%lld) "
                       "or 1",
                       (long long)beta->dims[2].v, (long long)Hkv);
  emb_dim sd[4] = {B, at_dim(Hkv), at_dim(dk), at_dim(dv)};
  if (at_known(ps))
    for (int i = 0; i < 4; i++)
      if ((st = at_check_dim(c, 3, i, sd[i], "past_state", "a dimension")))
        return st;
  emb_dim od[3] = {B, T, at_dim(dv >= 0 ? Hq * dv : -1)};
  at_set_out(c, 0, qt, 3, od);
  at_set_out(c, 1, stt, 4, sd);
  return EMBER_OK;
}

static ember_status linearattention_run(emb_run_ctx *c) {
  const la_state *s = c->node->state;
  const emb_tensor *q = emb_in_t(c, 0), *k = emb_in_t(c, 1),
                   *v = emb_in_t(c, 2), *ps = emb_in_t(c, 3),
                   *decay = emb_in_t(c, 4), *beta = emb_in_t(c, 5);
  emb_tensor *o = emb_out_t(c, 0), *pres = emb_out_t(c, 1);
  const int64_t B = q->dims[0], T = q->dims[1], Hq = s->q_heads,
                Hkv = s->kv_heads, dk = q->dims[2] / Hq, dv = v->dims[2] / Hkv,
                grp = Hq / Hkv;
  const int64_t gl = decay ? decay->dims[2] : 0, bl = beta ? beta->dims[2] : 0;
  const double scale = s->scale != 0.0f ? s->scale
                       : dk > 0         ? 1.0 / sqrt((double)dk)
                                        : 1.0;
  const size_t nst = (size_t)(dk * dv);
  double *st = emb_scratch(
      c, 64 + at_al64(nst * 8) + at_al64((size_t)(3 * dk + 2 * dv + 1) * 8));
  if (!st) return EMBER_ERR_OUT_OF_MEMORY;
  double *kt = st + at_al64(nst * 8) / 8, *qt = kt + dk, *gt = qt + dk,
         *vt = gt + dk, *out = vt + dv;
  for (int64_t b = 0; b < B; b++)
    for (int64_t hk = 0; hk < Hkv; hk++) {
      size_t soff = (size_t)((b * Hkv + hk) * dk * dv);
      if (ps)
        at_to_f64(ps->dtype, at_ptr(ps->dtype, ps->data, soff), nst, st);
      else
        for (size_t i = 0; i < nst; i++) st[i] = 0;
      for (int64_t t = 0; t < T; t++) {
        const size_t bt = (size_t)(b * T + t);
        at_to_f64(k->dtype,
                  at_ptr(k->dtype, k->data,
                         bt * (size_t)(Hkv * dk) + (size_t)(hk * dk)),
                  (size_t)dk, kt);
        at_to_f64(v->dtype,
                  at_ptr(v->dtype, v->data,
                         bt * (size_t)(Hkv * dv) + (size_t)(hk * dv)),
                  (size_t)dv, vt);
        if (decay) { /* S *= exp(g) along the key dimension */
          const bool per_key = gl == Hkv * dk;
          size_t off = bt * (size_t)gl + (size_t)(per_key ? hk * dk : hk);
          at_to_f64(decay->dtype, at_ptr(decay->dtype, decay->data, off),
                    per_key ? (size_t)dk : 1, gt);
          for (int64_t i = 0; i < dk; i++) {
            double f = exp(per_key ? gt[i] : gt[0]);
            for (int64_t m = 0; m < dv; m++) st[i * dv + m] *= f;
          }
        }
        if (beta) { /* v <- beta * (v - S^T k) */
          double bb;
          at_to_f64(beta->dtype,
                    at_ptr(beta->dtype, beta->data,
                           bt * (size_t)bl + (size_t)(bl == 1 ? 0 : hk)),
                    1, &bb);
          for (int64_t m = 0; m < dv; m++) {
            double r = 0;
            for (int64_t i = 0; i < dk; i++) r += st[i * dv + m] * kt[i];
            vt[m] = bb * (vt[m] - r);
          }
        }
        for (int64_t i = 0; i < dk; i++)
          for (int64_t m = 0; m < dv; m++) st[i * dv + m] += kt[i] * vt[m];
        for (int64_t g = 0; g < grp; g++) {
          const int64_t h = hk * grp + g;
          at_to_f64(q->dtype,
                    at_ptr(q->dtype, q->data,
                           bt * (size_t)(Hq * dk) + (size_t)(h * dk)),
                    (size_t)dk, qt);
          for (int64_t m = 0; m < dv; m++) out[m] = 0;
          for (int64_t i = 0; i < dk; i++)
            for (int64_t m = 0; m < dv; m++) out[m] += qt[i] * st[i * dv + m];
          for (int64_t m = 0; m < dv; m++) out[m] *= scale;
          at_from_f64(
              o->dtype, out, (size_t)dv,
              (char *)o->data + (bt * (size_t)(Hq * dv) + (size_t)(h * dv)) *
                                    at_esize(o->dtype));
        }
      }
      if (pres)
        at_from_f64(pres->dtype, st, nst,
                    (char *)pres->data + soff * at_esize(pres->dtype));
    }
  return EMBER_OK;
}

const emb_opdef emb_op_linearattention = {3,
                                          6,
                                          1,
                                          2,
                                          0,
                                          linearattention_init,
                                          linearattention_infer,
                                          linearattention_run};

/* ===================================================== RotaryEmbedding */

typedef struct re_state {
  int64_t interleaved, num_heads, rotary_dim;
} re_state;

static ember_status rotaryembedding_init(emb_init_ctx *c) {
  emb_node *n = c->node;
  re_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st;
  if ((st = emb_attr_int(n, "interleaved", 0, &s->interleaved, c->diag)) ||
      (st = emb_attr_int(n, "num_heads", 0, &s->num_heads, c->diag)) ||
      (st =
           emb_attr_int(n, "rotary_embedding_dim", 0, &s->rotary_dim, c->diag)))
    return st;
  if (s->num_heads < 0 || s->rotary_dim < 0 || (s->rotary_dim & 1))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "num_heads must be positive and rotary_embedding_dim "
                       "even and nonnegative");
  n->state = s;
  return EMBER_OK;
}

/* Head count and head size of X, -1 where unknown. */
static ember_status re_geometry(emb_infer_ctx *c, const re_state *s,
                                const emb_type *x, int64_t *H, int64_t *D) {
  if (x->rank == 4) {
    *H = x->dims[1].v;
    *D = x->dims[3].v;
  } else if (x->rank == 3) {
    if (!s->num_heads)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "a 3-D input needs the num_heads attribute");
    *H = s->num_heads;
    int64_t hid = x->dims[2].v;
    if (hid >= 0 && hid % s->num_heads)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "hidden size %lld is not a multiple of num_heads "
                         "%lld",
                         (long long)hid, (long long)s->num_heads);
    *D = hid >= 0 ? hid / s->num_heads : -1;
  } else {
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input must have rank 3 or 4, not %d", x->rank);
  }
  return EMBER_OK;
}

static ember_status rotaryembedding_infer(emb_infer_ctx *c) {
  static const int32_t i64[] = {EMBER_INT64, 0};
  const re_state *s = c->node->state;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, at_float_types)) ||
      (st = emb_infer_same_dtype(c, 0, 2)) ||
      (st = emb_infer_check_dtype(c, 3, i64)))
    return st;
  const emb_type *x = c->in[0], *cs = c->in[1], *pos = at_in(c, 3);
  if (!at_known(x)) return emb_infer_same(c);
  int64_t H = -1, D = -1;
  if ((st = re_geometry(c, s, x, &H, &D))) return st;
  int64_t rd = s->rotary_dim ? s->rotary_dim : D;
  if (D >= 0 && (rd > D || (rd & 1)))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "rotary dimension %lld must be even and at most the "
                       "head size %lld",
                       (long long)rd, (long long)D);
  int crank = pos ? 2 : 3;
  if ((st = at_check_rank(c, 1, crank, "cos_cache")) ||
      (st = at_check_rank(c, 2, crank, "sin_cache")) ||
      (st = at_check_rank(c, 3, 2, "position_ids")))
    return st;
  emb_dim B = x->dims[0], S = x->dims[x->rank == 4 ? 2 : 1];
  if (at_known(cs)) {
    if (rd >= 0 && ((st = at_check_dim(c, 1, crank - 1, at_dim(rd / 2),
                                       "cos_cache", "last dimension")) ||
                    (st = at_check_dim(c, 2, crank - 1, at_dim(rd / 2),
                                       "sin_cache", "last dimension"))))
      return st;
    if (!pos && ((st = at_check_dim(c, 1, 0, B, "cos_cache", "batch size")) ||
                 (st = at_check_dim(c, 1, 1, S, "cos_cache", "length"))))
      return st;
  }
  if (pos && ((st = at_check_dim(c, 3, 0, B, "position_ids", "batch size")) ||
              (st = at_check_dim(c, 3, 1, S, "position_ids", "length"))))
    return st;
  return emb_infer_same(c);
}

static ember_status rotaryembedding_run(emb_run_ctx *c) {
  const re_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *cosc = emb_in_t(c, 1),
                   *sinc = emb_in_t(c, 2), *pos = emb_in_t(c, 3);
  emb_tensor *y = emb_out_t(c, 0);
  const bool r4 = x->rank == 4;
  const int64_t B = x->dims[0], S = x->dims[r4 ? 2 : 1],
                H = r4 ? x->dims[1] : s->num_heads,
                D = r4 ? x->dims[3] : x->dims[2] / s->num_heads;
  const int64_t rd = s->rotary_dim ? s->rotary_dim : D, half = rd / 2;
  if (cosc->dims[cosc->rank - 1] != half || sinc->dims[sinc->rank - 1] != half)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "cos_cache and sin_cache must have %lld columns",
                       (long long)half);
  const int64_t npos = pos ? cosc->dims[0] : 0;
  if (pos && sinc->dims[0] != npos)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "cos_cache and sin_cache differ in length");
  double *w = emb_scratch(c, 64 + at_al64((size_t)(D + 2 * half + 1) * 8));
  if (!w) return EMBER_ERR_OUT_OF_MEMORY;
  double *cs = w + D, *sn = cs + half;
  const size_t es = at_esize(x->dtype);
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < S; t++) {
      size_t crow = (size_t)(b * S + t);
      if (pos) {
        int64_t p = ((const int64_t *)pos->data)[b * S + t];
        if (p < 0 || p >= npos)
          return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                             "position id %lld out of range [0, %lld)",
                             (long long)p, (long long)npos);
        crow = (size_t)p;
      }
      at_to_f64(cosc->dtype, at_ptr(cosc->dtype, cosc->data, crow * half),
                (size_t)half, cs);
      at_to_f64(sinc->dtype, at_ptr(sinc->dtype, sinc->data, crow * half),
                (size_t)half, sn);
      for (int64_t h = 0; h < H; h++) {
        size_t off = (size_t)(r4 ? ((b * H + h) * S + t) * D
                                 : ((b * S + t) * H + h) * D);
        const char *src = (const char *)x->data + off * es;
        at_to_f64(x->dtype, src, (size_t)D, w);
        for (int64_t i = 0; i < half; i++) {
          int64_t i1 = s->interleaved ? 2 * i : i;
          int64_t i2 = s->interleaved ? 2 * i + 1 : i + half;
          double x1 = w[i1], x2 = w[i2];
          w[i1] = cs[i] * x1 - sn[i] * x2;
          w[i2] = sn[i] * x1 + cs[i] * x2;
        }
        at_from_f64(y->dtype, w, (size_t)D, (char *)y->data + off * es);
      }
    }
  return EMBER_OK;
}

const emb_opdef emb_op_rotaryembedding = {3,
                                          4,
                                          1,
                                          1,
                                          0,
                                          rotaryembedding_init,
                                          rotaryembedding_infer,
                                          rotaryembedding_run};

/* ==================================================== RMSNormalization */

typedef struct rms_state {
  int64_t axis, stash;
  float eps;
} rms_state;

static ember_status rmsnormalization_init(emb_init_ctx *c) {
  rms_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st;
  if ((st = emb_attr_int(c->node, "axis", -1, &s->axis, c->diag)) ||
      (st = emb_attr_float(c->node, "epsilon", 1e-5f, &s->eps, c->diag)) ||
      (st = emb_attr_int(c->node, "stash_type", 1, &s->stash, c->diag)))
    return st;
  if (s->stash != EMBER_FLOAT && s->stash != EMBER_DOUBLE &&
      s->stash != EMBER_FLOAT16 && s->stash != EMBER_BFLOAT16)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "stash_type %lld is not a floating type",
                       (long long)s->stash);
  c->node->state = s;
  return EMBER_OK;
}

/* Whether scale (rank sr) broadcasts one-way to X (rank xr). */
static ember_status at_unidir(emb_infer_ctx *c, const emb_type *x,
                              const emb_type *sc, const char *name) {
  if (!at_known(x) || !at_known(sc)) return EMBER_OK;
  if (sc->rank > x->rank)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "%s has rank %d, more than the input's %d", name,
                       sc->rank, x->rank);
  for (int i = 0; i < sc->rank; i++) {
    emb_dim d = sc->dims[i], w = x->dims[x->rank - sc->rank + i];
    if (d.v >= 0 && w.v >= 0 && d.v != 1 && d.v != w.v)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "%s dimension %d is %lld, which does not broadcast "
                         "to %lld",
                         name, i, (long long)d.v, (long long)w.v);
  }
  return EMBER_OK;
}

static ember_status rmsnormalization_infer(emb_infer_ctx *c) {
  const rms_state *s = c->node->state;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, at_float_types)) ||
      (st = emb_infer_check_dtype(c, 1, at_float_types)))
    return st;
  const emb_type *x = c->in[0], *sc = c->in[1];
  if (at_known(x)) {
    int axis;
    if ((st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag)) ||
        (st = at_unidir(c, x, sc, "scale")))
      return st;
  }
  if ((st = emb_infer_same(c))) return st;
  if (sc && sc->kind && sc->dtype) c->out[0].dtype = sc->dtype;
  return EMBER_OK;
}

/* Offset into a broadcast operand for X's element at linear index i. */
static size_t at_bcast_off(int rank, const int64_t *dims,
                           const int64_t *strides, size_t i) {
  size_t off = 0;
  for (int k = rank - 1; k >= 0; k--) {
    size_t d = (size_t)dims[k];
    off += (i % d) * (size_t)strides[k];
    i /= d;
  }
  return off;
}

static ember_status rmsnormalization_run(emb_run_ctx *c) {
  const rms_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *sc = emb_in_t(c, 1);
  emb_tensor *y = emb_out_t(c, 0);
  int axis;
  ember_status st = emb_axis(c->node, s->axis, x->rank, &axis, c->diag);
  if (st) return st;
  size_t outer = 1, inner = 1;
  for (int i = 0; i < x->rank; i++)
    *(i < axis ? &outer : &inner) *= (size_t)x->dims[i];
  if (!outer || !inner) return EMBER_OK;
  int64_t sst[EMB_MAX_RANK];
  emb_broadcast_strides(x->rank, x->dims, sc->rank, sc->dims, sst);
  bool inner_only = true; /* the usual case: scale spans the normalized dims */
  for (int i = 0; i < axis; i++)
    if (sst[i]) inner_only = false;
  double *w = emb_scratch(c, 64 + at_al64(inner * 8) * 2);
  if (!w) return EMBER_ERR_OUT_OF_MEMORY;
  double *scl = w + at_al64(inner * 8) / 8, one;
  if (inner_only) {
    const int64_t *idims = x->dims + axis;
    for (size_t i = 0; i < inner; i++) {
      size_t off = at_bcast_off(x->rank - axis, idims, sst + axis, i);
      at_to_f64(sc->dtype, at_ptr(sc->dtype, sc->data, off), 1, &scl[i]);
    }
  }
  const size_t xe = at_esize(x->dtype), ye = at_esize(y->dtype);
  for (size_t o = 0; o < outer; o++) {
    at_to_f64(x->dtype, (const char *)x->data + o * inner * xe, inner, w);
    double ss = 0;
    for (size_t i = 0; i < inner; i++) ss += w[i] * w[i];
    /* Stage one in the stash precision, cast back to X's type. */
    double inv = at_round(s->stash == EMBER_DOUBLE ? EMBER_DOUBLE : EMBER_FLOAT,
                          1.0 / sqrt(ss / (double)inner + (double)s->eps));
    for (size_t i = 0; i < inner; i++) {
      double sv;
      if (inner_only) {
        sv = scl[i];
      } else {
        size_t off = at_bcast_off(x->rank, x->dims, sst, o * inner + i);
        at_to_f64(sc->dtype, at_ptr(sc->dtype, sc->data, off), 1, &one);
        sv = one;
      }
      w[i] = at_round(x->dtype, w[i] * inv) * sv;
    }
    at_from_f64(y->dtype, w, inner, (char *)y->data + o * inner * ye);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_rmsnormalization = {2,
                                           2,
                                           1,
                                           1,
                                           0,
                                           rmsnormalization_init,
                                           rmsnormalization_infer,
                                           rmsnormalization_run};

/* ================================================== GroupNormalization */

typedef struct gn_state {
  int64_t groups, stash;
  float eps;
  bool per_group; /* opset 18: scale and bias have one entry per group */
} gn_state;

static ember_status groupnormalization_init(emb_init_ctx *c) {
  gn_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st;
  if ((st = emb_attr_int(c->node, "num_groups", 0, &s->groups, c->diag)) ||
      (st = emb_attr_float(c->node, "epsilon", 1e-5f, &s->eps, c->diag)) ||
      (st = emb_attr_int(c->node, "stash_type", 1, &s->stash, c->diag)))
    return st;
  if (!emb_node_attr(c->node, "num_groups") || s->groups <= 0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "num_groups is required and must be positive");
  s->per_group = c->node->opset < 21;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status groupnormalization_infer(emb_infer_ctx *c) {
  const gn_state *s = c->node->state;
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, at_float_types)) ||
      (st = emb_infer_same_dtype(c, 0, 2)) ||
      (st = at_check_rank(c, 1, 1, "scale")) ||
      (st = at_check_rank(c, 2, 1, "bias")))
    return st;
  const emb_type *x = c->in[0];
  if (at_known(x)) {
    if (x->rank < 2)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "input must have rank 2 or more, not %d", x->rank);
    int64_t C = x->dims[1].v;
    if (C >= 0 && C % s->groups)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "%lld channels do not split into %lld groups",
                         (long long)C, (long long)s->groups);
    for (int i = 1; i <= 2; i++) {
      const emb_type *p = c->in[i];
      int64_t n = at_known(p) ? p->dims[0].v : -1;
      bool ok =
          n < 0 || (s->per_group ? n == s->groups || n == C : C < 0 || n == C);
      if (!ok)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "%s has %lld entries, expected %lld (one per %s)",
                           i == 1 ? "scale" : "bias", (long long)n,
                           (long long)(s->per_group ? s->groups : C),
                           s->per_group ? "group" : "channel");
    }
  }
  return emb_infer_same(c);
}

static ember_status groupnormalization_run(emb_run_ctx *c) {
  const gn_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *sc = emb_in_t(c, 1),
                   *bi = emb_in_t(c, 2);
  emb_tensor *y = emb_out_t(c, 0);
  const int64_t N = x->dims[0], C = x->dims[1], G = s->groups, cpg = C / G;
  size_t sp = 1;
  for (int i = 2; i < x->rank; i++) sp *= (size_t)x->dims[i];
  const int64_t ns = sc->dims[0], nb = bi->dims[0];
  if ((ns != C && ns != G) || (nb != C && nb != G))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "scale and bias need %lld entries", (long long)C);
  const size_t blk = (size_t)cpg * sp;
  double *w = emb_scratch(c, 64 + at_al64(blk * 8) + at_al64((size_t)C * 16));
  if (!w) return EMBER_ERR_OUT_OF_MEMORY;
  double *scl = w + at_al64(blk * 8) / 8, *bia = scl + C;
  /* Per-channel parameters; opset 18's per-group ones are spread out. */
  for (int64_t ch = 0; ch < C; ch++) {
    int64_t is = ns == C ? ch : ch / cpg, ib = nb == C ? ch : ch / cpg;
    at_to_f64(sc->dtype, at_ptr(sc->dtype, sc->data, (size_t)is), 1, &scl[ch]);
    at_to_f64(bi->dtype, at_ptr(bi->dtype, bi->data, (size_t)ib), 1, &bia[ch]);
  }
  const size_t es = at_esize(x->dtype);
  if (!blk) return EMBER_OK;
  for (int64_t n = 0; n < N; n++)
    for (int64_t g = 0; g < G; g++) {
      size_t off = (size_t)(n * C + g * cpg) * sp;
      at_to_f64(x->dtype, (const char *)x->data + off * es, blk, w);
      double mean = 0, var = 0;
      for (size_t i = 0; i < blk; i++) mean += w[i];
      mean /= (double)blk;
      for (size_t i = 0; i < blk; i++) var += (w[i] - mean) * (w[i] - mean);
      var /= (double)blk;
      double inv = 1.0 / sqrt(var + (double)s->eps);
      for (int64_t ch = 0; ch < cpg; ch++) {
        double a = scl[g * cpg + ch], b = bia[g * cpg + ch];
        double *r = w + (size_t)ch * sp;
        for (size_t i = 0; i < sp; i++)
          r[i] = at_round(x->dtype, (r[i] - mean) * inv) * a + b;
      }
      at_from_f64(y->dtype, w, blk, (char *)y->data + off * es);
    }
  return EMBER_OK;
}

const emb_opdef emb_op_groupnormalization = {3,
                                             3,
                                             1,
                                             1,
                                             0,
                                             groupnormalization_init,
                                             groupnormalization_infer,
                                             groupnormalization_run};

/* ============================================================== SwiGLU */

typedef struct sw_state {
  float alpha;
} sw_state;

static ember_status swiglu_init(emb_init_ctx *c) {
  sw_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  ember_status st = emb_attr_float(c->node, "alpha", 1.0f, &s->alpha, c->diag);
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status swiglu_infer(emb_infer_ctx *c) {
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, at_float_types)) ||
      (st = emb_infer_same_dtype(c, 0, 1)))
    return st;
  const emb_type *a = c->in[0], *b = c->in[1];
  if (at_known(a) && at_known(b)) {
    bool same = a->rank == b->rank;
    for (int i = 0; same && i < a->rank; i++)
      if (at_differ(a->dims[i], b->dims[i])) same = false;
    if (!same)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "A and B must have the same shape (no "
                         "broadcasting)");
  }
  st = emb_infer_same(c);
  /* Where A's dim is unknown B's may be known. */
  if (!st && at_known(a) && at_known(b))
    for (int i = 0; i < a->rank; i++)
      if (a->dims[i].v < 0 && b->dims[i].v >= 0) c->out[0].dims[i] = b->dims[i];
  return st;
}

static ember_status swiglu_run(emb_run_ctx *c) {
  const sw_state *s = c->node->state;
  const emb_tensor *a = emb_in_t(c, 0), *b = emb_in_t(c, 1);
  emb_tensor *y = emb_out_t(c, 0);
  const size_t n = emb_tensor_numel(a), es = at_esize(a->dtype);
  enum { BLK = 512 };
  double *w = emb_scratch(c, 2 * BLK * sizeof(double));
  if (!w) return EMBER_ERR_OUT_OF_MEMORY;
  const double alpha = s->alpha;
  for (size_t i = 0; i < n; i += BLK) {
    size_t m = n - i < BLK ? n - i : BLK;
    at_to_f64(a->dtype, (const char *)a->data + i * es, m, w);
    at_to_f64(b->dtype, (const char *)b->data + i * es, m, w + BLK);
    for (size_t j = 0; j < m; j++)
      w[j] = w[j] / (1.0 + exp(-alpha * w[j])) * w[BLK + j];
    at_from_f64(y->dtype, w, m, (char *)y->data + i * es);
  }
  return EMBER_OK;
}

const emb_opdef emb_op_swiglu = {
    2, 2, 1, 1, 0, swiglu_init, swiglu_infer, swiglu_run};

/* ================================================= CausalConvWithState */

typedef struct cc_state {
  bool silu;
} cc_state;

static ember_status causalconvwithstate_init(emb_init_ctx *c) {
  cc_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  const char *act;
  ember_status st =
      emb_attr_string(c->node, "activation", "none", &act, c->diag);
  if (st) return st;
  if (!strcmp(act, "silu") || !strcmp(act, "swish"))
    s->silu = true;
  else if (strcmp(act, "none"))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "activation '%s' is not one of none, silu, swish", act);
  c->node->state = s;
  return EMBER_OK;
}

static ember_status causalconvwithstate_infer(emb_infer_ctx *c) {
  ember_status st;
  if ((st = emb_infer_check_dtype(c, 0, at_float_types)) ||
      (st = emb_infer_same_dtype(c, 0, 3)) ||
      (st = at_check_rank(c, 0, 3, "input")) ||
      (st = at_check_rank(c, 1, 3, "weight")) ||
      (st = at_check_rank(c, 2, 1, "bias")) ||
      (st = at_check_rank(c, 3, 3, "past_state")))
    return st;
  const emb_type *x = c->in[0], *w = c->in[1];
  int32_t dt = x ? x->dtype : 0;
  at_set_out(c, 0, dt, -1, NULL);
  at_set_out(c, 1, dt, -1, NULL);
  if (!at_known(x)) return EMBER_OK;
  emb_dim C = x->dims[1];
  emb_dim kd = at_dim(-1);
  if (at_known(w)) {
    if ((st = at_check_dim(c, 1, 0, C, "weight", "channel count")) ||
        (st = at_check_dim(c, 1, 1, at_dim(1), "weight", "dimension 1")))
      return st;
    if (w->dims[2].v == 0)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "kernel size must be at least 1");
    kd = at_dim(w->dims[2].v >= 0 ? w->dims[2].v - 1 : -1);
  }
  if ((st = at_check_dim(c, 2, 0, C, "bias", "length")) ||
      (st = at_check_dim(c, 3, 0, x->dims[0], "past_state", "batch size")) ||
      (st = at_check_dim(c, 3, 1, C, "past_state", "channel count")) ||
      (st = at_check_dim(c, 3, 2, kd, "past_state", "length")))
    return st;
  emb_dim sd[3] = {x->dims[0], C, kd};
  if (kd.v < 0 && at_known(at_in(c, 3))) sd[2] = c->in[3]->dims[2];
  at_set_out(c, 0, dt, 3, x->dims);
  at_set_out(c, 1, dt, 3, sd);
  return EMBER_OK;
}

static ember_status causalconvwithstate_run(emb_run_ctx *c) {
  const cc_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, 0), *wt = emb_in_t(c, 1),
                   *bias = emb_in_t(c, 2), *past = emb_in_t(c, 3);
  emb_tensor *y = emb_out_t(c, 0), *pres = emb_out_t(c, 1);
  const int64_t B = x->dims[0], C = x->dims[1], L = x->dims[2], K = wt->dims[2];
  if (K < 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "kernel size must be at least 1");
  const size_t pl = (size_t)(K - 1 + L); /* padded length */
  double *w = emb_scratch(c, 64 + at_al64(pl * 8) + at_al64((size_t)K * 8) +
                                 at_al64((size_t)L * 8));
  if (!w) return EMBER_ERR_OUT_OF_MEMORY;
  double *ker = w + at_al64(pl * 8) / 8,
         *out = ker + at_al64((size_t)K * 8) / 8;
  const size_t es = at_esize(x->dtype);
  for (int64_t b = 0; b < B; b++)
    for (int64_t ch = 0; ch < C; ch++) {
      const size_t row = (size_t)(b * C + ch);
      if (past)
        at_to_f64(past->dtype,
                  at_ptr(past->dtype, past->data, row * (size_t)(K - 1)),
                  (size_t)(K - 1), w);
      else
        for (int64_t i = 0; i < K - 1; i++) w[i] = 0;
      at_to_f64(x->dtype, at_ptr(x->dtype, x->data, row * (size_t)L), (size_t)L,
                w + K - 1);
      at_to_f64(wt->dtype, at_ptr(wt->dtype, wt->data, (size_t)(ch * K)),
                (size_t)K, ker);
      double bv = 0;
      if (bias)
        at_to_f64(bias->dtype, at_ptr(bias->dtype, bias->data, (size_t)ch), 1,
                  &bv);
      for (int64_t t = 0; t < L; t++) {
        double acc = bv;
        for (int64_t m = 0; m < K; m++) acc += ker[m] * w[t + m];
        /* The convolution result is in the input type before the
         * activation, which itself computes in float. */
        acc = at_round(x->dtype, acc);
        if (s->silu) acc = acc / (1.0 + exp(-acc));
        out[t] = acc;
      }
      at_from_f64(y->dtype, out, (size_t)L,
                  (char *)y->data + row * (size_t)L * es);
      if (pres && K > 1)
        at_from_f64(pres->dtype, w + L, (size_t)(K - 1),
                    (char *)pres->data + row * (size_t)(K - 1) * es);
    }
  return EMBER_OK;
}

const emb_opdef emb_op_causalconvwithstate = {2,
                                              4,
                                              1,
                                              2,
                                              0,
                                              causalconvwithstate_init,
                                              causalconvwithstate_infer,
                                              causalconvwithstate_run};
