/*
 * Unit tests for the transformer operators (lib/ops/attention.c):
 * Attention, FlexAttention, LinearAttention, RotaryEmbedding,
 * RMSNormalization, GroupNormalization, SwiGLU and CausalConvWithState,
 * through the one-node harness (optest.h).  Every expected value is
 * computed here in double from the inputs by a direct transcription of
 * the spec's formulas (explicit loops over every index, the mask built
 * element by element), never copied from Ember's output.  Covered: 3-D
 * and 4-D layouts, grouped-query heads, past/present caches, boolean and
 * additive masks with broadcasting and short key dimensions, fully masked
 * rows, the four QK output modes, nonpad_kv_seqlen with a negative causal
 * offset, sliding windows, float16, odd and size-1 shapes, and the errors
 * (status plus a message naming the node 'n0').
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "optest.h"

/* Shared harness helpers (tests/unit/optest.c). */
#define must_fail optest_must_fail
#define must_run optest_must_run

/* ------------------------------------------------------------ helpers */



static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int k = 0; k < rank; k++) n *= (size_t)dims[k];
  return n;
}

/* Deterministic values in [-1, 1). */
static void fill(float *p, size_t n, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)((double)(s >> 8) / (double)(1u << 24) * 2.0 - 1.0);
  }
}

static double *widen(const float *p, size_t n) {
  double *d = malloc((n ? n : 1) * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = p[i];
  return d;
}

/* Output i must have this type and shape and match ref within
 * atol + rtol * |ref| (NaN matches NaN, -inf matches -inf). */
static void expect_close(optest *t, int i, int32_t dtype, int rank,
                         const int64_t *dims, const double *ref, double rtol,
                         double atol) {
  const emb_value *v = optest_output(t, i);
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  if (v->t.dtype != dtype)
    fail_msg("output %d has type %s, expected %s", i,
             ember_dtype_name(v->t.dtype), ember_dtype_name(dtype));
  assert_int_equal(v->t.rank, rank);
  for (int k = 0; k < rank; k++)
    if (v->t.dims[k] != dims[k])
      fail_msg("output %d dimension %d is %lld, expected %lld", i, k,
               (long long)v->t.dims[k], (long long)dims[k]);
  size_t n = numel(rank, dims);
  for (size_t j = 0; j < n; j++) {
    double g = emb_tensor_get_f64(&v->t, j), e = ref[j];
    if (isnan(e) && isnan(g)) continue;
    if (g == e) continue;
    if (!(fabs(g - e) <= atol + rtol * fabs(e)))
      fail_msg("output %d element %zu: got %.9g, expected %.9g", i, j, g, e);
  }
}

/* ---------------------------------------------------- Attention reference */

/* 4-D layout throughout: q [B][Hq][Sq][Dk], k [B][Hkv][T][Dk],
 * v [B][Hkv][T][Dv], bias [B][Hq][Sq][T] (NULL: none), y
 * [B][Hq][Sq][Dv], qk [B][Hq][Sq][T] (NULL: not wanted). */
typedef struct ref_attn {
  int B, Hq, Hkv, Sq, T, Dk, Dv, mode;
  double scale, softcap;
  const double *q, *k, *v, *bias;
  double *y, *qk;
} ref_attn;

static void ref_attention(const ref_attn *r) {
  double *p = malloc((size_t)(r->T + 1) * sizeof *p);
  for (int b = 0; b < r->B; b++)
    for (int h = 0; h < r->Hq; h++)
      for (int i = 0; i < r->Sq; i++) {
        int hk = h / (r->Hq / r->Hkv);
        size_t row = ((size_t)(b * r->Hq + h) * r->Sq + i);
        double mx = -INFINITY;
        int allowed = 0;
        for (int j = 0; j < r->T; j++) {
          double s = 0;
          for (int d = 0; d < r->Dk; d++)
            s += r->q[row * r->Dk + d] *
                 r->k[(((size_t)b * r->Hkv + hk) * r->T + j) * r->Dk + d];
          s *= r->scale;
          if (r->qk && r->mode == 0) r->qk[row * r->T + j] = s;
          if (r->softcap > 0) s = r->softcap * tanh(s / r->softcap);
          if (r->qk && r->mode == 1) r->qk[row * r->T + j] = s;
          double bias = r->bias ? r->bias[row * r->T + j] : 0;
          if (bias != -INFINITY) allowed = 1;
          s += bias;
          if (r->qk && r->mode == 2) r->qk[row * r->T + j] = s;
          p[j] = s;
          if (s > mx) mx = s;
        }
        double sum = 0;
        for (int j = 0; j < r->T; j++) sum += p[j] = exp(p[j] - mx);
        for (int j = 0; j < r->T; j++) {
          p[j] = allowed ? p[j] / sum : 0;
          if (r->qk && r->mode == 3) r->qk[row * r->T + j] = p[j];
        }
        for (int d = 0; d < r->Dv; d++) {
          double acc = 0;
          for (int j = 0; j < r->T; j++)
            if (p[j] != 0)
              acc += p[j] *
                     r->v[(((size_t)b * r->Hkv + hk) * r->T + j) * r->Dv + d];
          r->y[row * r->Dv + d] = acc;
        }
      }
  free(p);
}

/* (B, S, H*D) -> (B, H, S, D) */
static double *to4d(const float *x, int B, int S, int H, int D) {
  double *o = malloc((size_t)B * S * H * D * sizeof *o);
  for (int b = 0; b < B; b++)
    for (int s = 0; s < S; s++)
      for (int h = 0; h < H; h++)
        for (int d = 0; d < D; d++)
          o[(((size_t)b * H + h) * S + s) * D + d] =
              x[(((size_t)b * S + s) * H + h) * D + d];
  return o;
}

/* (B, H, S, D) -> (B, S, H*D) */
static double *to3d(const double *x, int B, int H, int S, int D) {
  double *o = malloc((size_t)B * S * H * D * sizeof *o);
  for (int b = 0; b < B; b++)
    for (int s = 0; s < S; s++)
      for (int h = 0; h < H; h++)
        for (int d = 0; d < D; d++)
          o[(((size_t)b * S + s) * H + h) * D + d] =
              x[(((size_t)b * H + h) * S + s) * D + d];
  return o;
}

/* Concatenate past (B, H, P, D) and new (B, H, S, D) along the sequence. */
static double *cat_seq(const double *past, int P, const double *cur, int S,
                       int B, int H, int D) {
  double *o = malloc((size_t)B * H * (P + S) * D * sizeof *o + 8);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      for (int t = 0; t < P + S; t++)
        for (int d = 0; d < D; d++)
          o[(((size_t)b * H + h) * (P + S) + t) * D + d] =
              t < P ? past[(((size_t)b * H + h) * P + t) * D + d]
                    : cur[(((size_t)b * H + h) * S + (t - P)) * D + d];
  return o;
}

static void test_attention_4d_mha_odd_sizes(void **state) {
  (void)state;
  enum { B = 1, H = 2, SQ = 3, T = 5, DK = 3, DV = 2 };
  float q[B * H * SQ * DK], k[B * H * T * DK], v[B * H * T * DV];
  fill(q, sizeof q / 4, 1), fill(k, sizeof k / 4, 2), fill(v, sizeof v / 4, 3);
  int64_t qd[4] = {B, H, SQ, DK}, kd[4] = {B, H, T, DK}, vd[4] = {B, H, T, DV};
  double *dq = widen(q, sizeof q / 4), *dk = widen(k, sizeof k / 4),
         *dv = widen(v, sizeof v / 4), y[B * H * SQ * DV];
  ref_attn r = {B, H,  H,  SQ, T,    DK, DV,  0, 1 / sqrt(DK),
                0, dq, dk, dv, NULL, y,  NULL};
  ref_attention(&r);
  optest *t = optest_new("Attention", 23);
  optest_input(t, EMBER_FLOAT, 4, qd, q);
  optest_input(t, EMBER_FLOAT, 4, kd, k);
  optest_input(t, EMBER_FLOAT, 4, vd, v);
  must_run(t);
  int64_t yd[4] = {B, H, SQ, DV};
  expect_close(t, 0, EMBER_FLOAT, 4, yd, y, 1e-5, 1e-6);
  optest_free(t);
  free(dq), free(dk), free(dv);
}

static void test_attention_3d_gqa_past_causal_scale(void **state) {
  (void)state;
  enum {
    B = 2,
    HQ = 4,
    HKV = 2,
    SQ = 2,
    S = 3,
    P = 2,
    T = P + S,
    DK = 2,
    DV = 3
  };
  float q[B * SQ * HQ * DK], k[B * S * HKV * DK], v[B * S * HKV * DV],
      pk[B * HKV * P * DK], pv[B * HKV * P * DV];
  fill(q, sizeof q / 4, 4), fill(k, sizeof k / 4, 5), fill(v, sizeof v / 4, 6);
  fill(pk, sizeof pk / 4, 7), fill(pv, sizeof pv / 4, 8);
  double *q4 = to4d(q, B, SQ, HQ, DK), *k4 = to4d(k, B, S, HKV, DK),
         *v4 = to4d(v, B, S, HKV, DV), *dpk = widen(pk, sizeof pk / 4),
         *dpv = widen(pv, sizeof pv / 4);
  double *kc = cat_seq(dpk, P, k4, S, B, HKV, DK),
         *vc = cat_seq(dpv, P, v4, S, B, HKV, DV);
  /* Causal, bottom-right: query i attends keys j <= i + P. */
  double bias[B * HQ * SQ * T];
  for (int b = 0; b < B; b++)
    for (int h = 0; h < HQ; h++)
      for (int i = 0; i < SQ; i++)
        for (int j = 0; j < T; j++)
          bias[((b * HQ + h) * SQ + i) * T + j] = j <= i + P ? 0 : -INFINITY;
  double y4[B * HQ * SQ * DV];
  ref_attn r = {B,   HQ, HKV, SQ, T,  DK,   DV, 0,
                0.7, 0,  q4,  kc, vc, bias, y4, NULL};
  ref_attention(&r);
  double *y3 = to3d(y4, B, HQ, SQ, DV);
  optest *t = optest_new("Attention", 23);
  optest_attr_int(t, "q_num_heads", HQ);
  optest_attr_int(t, "kv_num_heads", HKV);
  optest_attr_int(t, "is_causal", 1);
  optest_attr_float(t, "scale", 0.7f);
  int64_t qd[3] = {B, SQ, HQ * DK}, kd[3] = {B, S, HKV * DK},
          vd[3] = {B, S, HKV * DV}, pkd[4] = {B, HKV, P, DK},
          pvd[4] = {B, HKV, P, DV};
  optest_input(t, EMBER_FLOAT, 3, qd, q);
  optest_input(t, EMBER_FLOAT, 3, kd, k);
  optest_input(t, EMBER_FLOAT, 3, vd, v);
  optest_input_none(t);
  optest_input(t, EMBER_FLOAT, 4, pkd, pk);
  optest_input(t, EMBER_FLOAT, 4, pvd, pv);
  optest_outputs(t, 3);
  must_run(t);
  int64_t yd[3] = {B, SQ, HQ * DV}, okd[4] = {B, HKV, T, DK},
          ovd[4] = {B, HKV, T, DV};
  expect_close(t, 0, EMBER_FLOAT, 3, yd, y3, 1e-5, 1e-6);
  expect_close(t, 1, EMBER_FLOAT, 4, okd, kc, 0, 0);
  expect_close(t, 2, EMBER_FLOAT, 4, ovd, vc, 0, 0);
  optest_free(t);
  free(q4), free(k4), free(v4), free(dpk), free(dpv), free(kc), free(vc);
  free(y3);
}

/* A 2-D boolean mask shorter than the keys (padded with False), one query
 * row fully masked: its Y row and its mode-3 QK row are zero. */
static void test_attention_bool_mask_short_fully_masked(void **state) {
  (void)state;
  enum { B = 1, H = 2, SQ = 3, T = 4, D = 2, ML = 2 };
  float q[B * H * SQ * D], k[B * H * T * D], v[B * H * T * D];
  fill(q, sizeof q / 4, 9), fill(k, sizeof k / 4, 10),
      fill(v, sizeof v / 4, 11);
  const uint8_t mask[SQ * ML] = {1, 0, 0, 0, 1, 1};
  double bias[B * H * SQ * T];
  for (int h = 0; h < H; h++)
    for (int i = 0; i < SQ; i++)
      for (int j = 0; j < T; j++)
        bias[(h * SQ + i) * T + j] = j < ML && mask[i * ML + j] ? 0 : -INFINITY;
  double *dq = widen(q, sizeof q / 4), *dk = widen(k, sizeof k / 4),
         *dv = widen(v, sizeof v / 4), y[B * H * SQ * D], qk[B * H * SQ * T];
  ref_attn r = {B,           H, H,  SQ, T,  D,    D, 3,
                1 / sqrt(D), 0, dq, dk, dv, bias, y, qk};
  ref_attention(&r);
  for (int h = 0; h < H; h++)
    for (int d = 0; d < D; d++) assert_true(y[(h * SQ + 1) * D + d] == 0);
  optest *t = optest_new("Attention", 24);
  optest_attr_int(t, "qk_matmul_output_mode", 3);
  int64_t qd[4] = {B, H, SQ, D}, kd[4] = {B, H, T, D}, md[2] = {SQ, ML};
  optest_input(t, EMBER_FLOAT, 4, qd, q);
  optest_input(t, EMBER_FLOAT, 4, kd, k);
  optest_input(t, EMBER_FLOAT, 4, kd, v);
  optest_input(t, EMBER_BOOL, 2, md, mask);
  optest_outputs(t, 4);
  must_run(t);
  int64_t yd[4] = {B, H, SQ, D}, qkd[4] = {B, H, SQ, T};
  expect_close(t, 0, EMBER_FLOAT, 4, yd, y, 1e-5, 1e-6);
  expect_close(t, 3, EMBER_FLOAT, 4, qkd, qk, 1e-5, 1e-6);
  optest_free(t);
  free(dq), free(dk), free(dv);
}

/* An additive (heads, q, keys) mask with a -inf entry, softcap, and the QK
 * output in each of modes 0, 1 and 2. */
static void test_attention_float_mask_softcap_modes(void **state) {
  (void)state;
  enum { B = 2, H = 3, SQ = 2, T = 3, D = 4 };
  float q[B * H * SQ * D], k[B * H * T * D], v[B * H * T * D], m[H * SQ * T];
  fill(q, sizeof q / 4, 12), fill(k, sizeof k / 4, 13),
      fill(v, sizeof v / 4, 14), fill(m, sizeof m / 4, 15);
  for (size_t i = 0; i < sizeof q / 4; i++) q[i] *= 4; /* make softcap bite */
  m[4] = -INFINITY;
  double bias[B * H * SQ * T];
  for (int b = 0; b < B; b++)
    for (int x = 0; x < H * SQ * T; x++) bias[b * H * SQ * T + x] = m[x];
  double *dq = widen(q, sizeof q / 4), *dk = widen(k, sizeof k / 4),
         *dv = widen(v, sizeof v / 4);
  for (int mode = 0; mode <= 2; mode++) {
    double y[B * H * SQ * D], qk[B * H * SQ * T];
    ref_attn r = {B,           H,   H,  SQ, T,  D,    D, mode,
                  1 / sqrt(D), 1.5, dq, dk, dv, bias, y, qk};
    ref_attention(&r);
    optest *t = optest_new("Attention", 23);
    optest_attr_int(t, "qk_matmul_output_mode", mode);
    optest_attr_float(t, "softcap", 1.5f);
    int64_t qd[4] = {B, H, SQ, D}, kd[4] = {B, H, T, D}, md[3] = {H, SQ, T};
    optest_input(t, EMBER_FLOAT, 4, qd, q);
    optest_input(t, EMBER_FLOAT, 4, kd, k);
    optest_input(t, EMBER_FLOAT, 4, kd, v);
    optest_input(t, EMBER_FLOAT, 3, md, m);
    optest_outputs(t, 4);
    must_run(t);
    int64_t yd[4] = {B, H, SQ, D}, qkd[4] = {B, H, SQ, T};
    expect_close(t, 0, EMBER_FLOAT, 4, yd, y, 1e-5, 1e-6);
    expect_close(t, 3, EMBER_FLOAT, 4, qkd, qk, 1e-5, 1e-6);
    optest_free(t);
  }
  free(dq), free(dk), free(dv);
}

/* nonpad_kv_seqlen (opset 24) with is_causal: padding keys are masked and
 * the causal frontier sits at nonpad - Sq per batch; a negative offset
 * leaves the leading rows with no key (zero rows). */
static void test_attention_nonpad_causal_negative_offset(void **state) {
  (void)state;
  enum { B = 2, H = 1, SQ = 3, T = 5, D = 2 };
  float q[B * H * SQ * D], k[B * H * T * D], v[B * H * T * D];
  fill(q, sizeof q / 4, 16), fill(k, sizeof k / 4, 17),
      fill(v, sizeof v / 4, 18);
  const int64_t nonpad[B] = {4, 1};
  double bias[B * H * SQ * T];
  for (int b = 0; b < B; b++)
    for (int i = 0; i < SQ; i++)
      for (int j = 0; j < T; j++) {
        int64_t off = nonpad[b] - SQ;
        bias[(b * SQ + i) * T + j] =
            j < nonpad[b] && j <= i + off ? 0 : -INFINITY;
      }
  double *dq = widen(q, sizeof q / 4), *dk = widen(k, sizeof k / 4),
         *dv = widen(v, sizeof v / 4), y[B * H * SQ * D];
  ref_attn r = {B,           H, H,  SQ, T,  D,    D, 0,
                1 / sqrt(D), 0, dq, dk, dv, bias, y, NULL};
  ref_attention(&r);
  optest *t = optest_new("Attention", 24);
  optest_attr_int(t, "is_causal", 1);
  int64_t qd[4] = {B, H, SQ, D}, kd[4] = {B, H, T, D}, nd[1] = {B};
  optest_input(t, EMBER_FLOAT, 4, qd, q);
  optest_input(t, EMBER_FLOAT, 4, kd, k);
  optest_input(t, EMBER_FLOAT, 4, kd, v);
  optest_input_none(t);
  optest_input_none(t);
  optest_input_none(t);
  optest_input(t, EMBER_INT64, 1, nd, nonpad);
  must_run(t);
  int64_t yd[4] = {B, H, SQ, D};
  expect_close(t, 0, EMBER_FLOAT, 4, yd, y, 1e-5, 1e-6);
  optest_free(t);
  free(dq), free(dk), free(dv);
}

/* Opset-25 sliding window, both sides bounded, no causal mask. */
static void test_attention_window(void **state) {
  (void)state;
  enum { B = 1, H = 1, S = 5, D = 3 };
  float q[S * D], k[S * D], v[S * D];
  fill(q, S * D, 19), fill(k, S * D, 20), fill(v, S * D, 21);
  double bias[S * S];
  for (int i = 0; i < S; i++)
    for (int j = 0; j < S; j++)
      bias[i * S + j] = (j >= i - 2 && j <= i + 1) ? 0 : -INFINITY;
  double *dq = widen(q, S * D), *dk = widen(k, S * D), *dv = widen(v, S * D),
         y[S * D];
  ref_attn r = {B,           H, H,  S,  S,  D,    D, 0,
                1 / sqrt(D), 0, dq, dk, dv, bias, y, NULL};
  ref_attention(&r);
  optest *t = optest_new("Attention", 25);
  optest_attr_int(t, "left_window_size", 2);
  optest_attr_int(t, "right_window_size", 1);
  int64_t d4[4] = {B, H, S, D};
  optest_input(t, EMBER_FLOAT, 4, d4, q);
  optest_input(t, EMBER_FLOAT, 4, d4, k);
  optest_input(t, EMBER_FLOAT, 4, d4, v);
  must_run(t);
  expect_close(t, 0, EMBER_FLOAT, 4, d4, y, 1e-5, 1e-6);
  optest_free(t);
  free(dq), free(dk), free(dv);
}

/* float16 in and out; the reference works on the rounded inputs. */
static void test_attention_fp16_single_key(void **state) {
  (void)state;
  enum { B = 1, H = 2, SQ = 1, T = 1, D = 4 };
  float q[H * D], k[H * D], v[H * D];
  fill(q, H * D, 22), fill(k, H * D, 23), fill(v, H * D, 24);
  uint16_t hq[H * D], hk[H * D], hv[H * D];
  for (int i = 0; i < H * D; i++) {
    hq[i] = emb_f32_to_f16(q[i]), q[i] = emb_f16_to_f32(hq[i]);
    hk[i] = emb_f32_to_f16(k[i]), k[i] = emb_f16_to_f32(hk[i]);
    hv[i] = emb_f32_to_f16(v[i]), v[i] = emb_f16_to_f32(hv[i]);
  }
  double *dq = widen(q, H * D), *dk = widen(k, H * D), *dv = widen(v, H * D),
         y[H * D];
  ref_attn r = {B, H, H, SQ, T, D, D, 0, 0.5, 0, dq, dk, dv, NULL, y, NULL};
  ref_attention(&r);
  optest *t = optest_new("Attention", 23);
  int64_t d4[4] = {B, H, SQ, D};
  optest_input(t, EMBER_FLOAT16, 4, d4, hq);
  optest_input(t, EMBER_FLOAT16, 4, d4, hk);
  optest_input(t, EMBER_FLOAT16, 4, d4, hv);
  must_run(t);
  expect_close(t, 0, EMBER_FLOAT16, 4, d4, y, 1e-3, 1e-4);
  optest_free(t);
  free(dq), free(dk), free(dv);
}

static void test_attention_errors(void **state) {
  (void)state;
  float z[64] = {0};
  int64_t d3[3] = {1, 2, 4}, d4[4] = {1, 3, 2, 2}, k4[4] = {1, 2, 2, 2};
  /* 3-D inputs need the head counts. */
  optest *t = optest_new("Attention", 23);
  for (int i = 0; i < 3; i++) optest_input(t, EMBER_FLOAT, 3, d3, z);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "q_num_heads");
  optest_free(t);
  /* 3 query heads cannot share 2 key/value heads. */
  t = optest_new("Attention", 23);
  optest_input(t, EMBER_FLOAT, 4, d4, z);
  optest_input(t, EMBER_FLOAT, 4, k4, z);
  optest_input(t, EMBER_FLOAT, 4, k4, z);
  must_fail(t, EMBER_ERR_SHAPE, "multiple");
  optest_free(t);
  /* past_key without past_value. */
  t = optest_new("Attention", 23);
  for (int i = 0; i < 3; i++) optest_input(t, EMBER_FLOAT, 4, k4, z);
  optest_input_none(t);
  optest_input(t, EMBER_FLOAT, 4, k4, z);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "together");
  optest_free(t);
  /* Bad qk_matmul_output_mode. */
  t = optest_new("Attention", 23);
  optest_attr_int(t, "qk_matmul_output_mode", 5);
  for (int i = 0; i < 3; i++) optest_input(t, EMBER_FLOAT, 4, k4, z);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "qk_matmul_output_mode");
  optest_free(t);
  /* A mask with more keys than attended. */
  t = optest_new("Attention", 23);
  int64_t md[2] = {2, 3};
  for (int i = 0; i < 3; i++) optest_input(t, EMBER_FLOAT, 4, k4, z);
  optest_input(t, EMBER_FLOAT, 2, md, z);
  must_fail(t, EMBER_ERR_SHAPE, "attn_mask");
  optest_free(t);
  /* Integer Q. */
  t = optest_new("Attention", 23);
  for (int i = 0; i < 3; i++) optest_input(t, EMBER_INT32, 4, k4, z);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  optest_free(t);
}

/* --------------------------------------------------------- FlexAttention */

static void test_flexattention_gqa_and_double(void **state) {
  (void)state;
  enum { B = 2, HQ = 4, HKV = 2, L = 3, S = 5, E = 3, EV = 2 };
  float q[B * HQ * L * E], k[B * HKV * S * E], v[B * HKV * S * EV];
  fill(q, sizeof q / 4, 25), fill(k, sizeof k / 4, 26),
      fill(v, sizeof v / 4, 27);
  double *dq = widen(q, sizeof q / 4), *dk = widen(k, sizeof k / 4),
         *dv = widen(v, sizeof v / 4), y[B * HQ * L * EV];
  int64_t qd[4] = {B, HQ, L, E}, kd[4] = {B, HKV, S, E},
          vd[4] = {B, HKV, S, EV}, yd[4] = {B, HQ, L, EV};
  ref_attn r = {B,           HQ, HKV, L,  S,  E,    EV, 0,
                1 / sqrt(E), 0,  dq,  dk, dv, NULL, y,  NULL};
  ref_attention(&r);
  optest *t = optest_new("FlexAttention", 26);
  optest_domain(t, "ai.onnx.preview", 1);
  optest_input(t, EMBER_FLOAT, 4, qd, q);
  optest_input(t, EMBER_FLOAT, 4, kd, k);
  optest_input(t, EMBER_FLOAT, 4, vd, v);
  must_run(t);
  expect_close(t, 0, EMBER_FLOAT, 4, yd, y, 1e-5, 1e-6);
  optest_free(t);
  /* float64 with an explicit scale. */
  r.scale = 0.25;
  ref_attention(&r);
  t = optest_new("FlexAttention", 26);
  optest_domain(t, "ai.onnx.preview", 1);
  optest_attr_float(t, "scale", 0.25f);
  optest_input(t, EMBER_DOUBLE, 4, qd, dq);
  optest_input(t, EMBER_DOUBLE, 4, kd, dk);
  optest_input(t, EMBER_DOUBLE, 4, vd, dv);
  must_run(t);
  expect_close(t, 0, EMBER_DOUBLE, 4, yd, y, 1e-12, 1e-14);
  optest_free(t);
  free(dq), free(dk), free(dv);
}

/* ------------------------------------------------------- LinearAttention */

typedef struct ref_la {
  int B, T, Hq, Hkv, dk, dv, rule; /* 0 linear 1 gated 2 delta 3 gated_delta */
  int gl, bl;                      /* decay / beta last dims */
  double scale;
  const float *q, *k, *v, *past, *decay, *beta;
  double *out, *state;
} ref_la;

static void ref_linear_attention(const ref_la *r) {
  int grp = r->Hq / r->Hkv;
  for (int b = 0; b < r->B; b++)
    for (int hk = 0; hk < r->Hkv; hk++) {
      double *S = r->state + ((size_t)b * r->Hkv + hk) * r->dk * r->dv;
      for (int x = 0; x < r->dk * r->dv; x++)
        S[x] = r->past ? r->past[((size_t)b * r->Hkv + hk) * r->dk * r->dv + x]
                       : 0;
      for (int t = 0; t < r->T; t++) {
        size_t bt = (size_t)b * r->T + t;
        const float *kt = r->k + bt * r->Hkv * r->dk + hk * r->dk;
        double vt[16];
        for (int m = 0; m < r->dv; m++)
          vt[m] = r->v[bt * r->Hkv * r->dv + hk * r->dv + m];
        if (r->rule == 1 || r->rule == 3)
          for (int i = 0; i < r->dk; i++) {
            double g = r->gl == r->Hkv ? r->decay[bt * r->gl + hk]
                                       : r->decay[bt * r->gl + hk * r->dk + i];
            for (int m = 0; m < r->dv; m++) S[i * r->dv + m] *= exp(g);
          }
        if (r->rule >= 2) {
          double beta = r->beta[bt * r->bl + (r->bl == 1 ? 0 : hk)];
          double nv[16];
          for (int m = 0; m < r->dv; m++) {
            double ret = 0;
            for (int i = 0; i < r->dk; i++) ret += S[i * r->dv + m] * kt[i];
            nv[m] = beta * (vt[m] - ret);
          }
          memcpy(vt, nv, sizeof nv);
        }
        for (int i = 0; i < r->dk; i++)
          for (int m = 0; m < r->dv; m++) S[i * r->dv + m] += kt[i] * vt[m];
        for (int g = 0; g < grp; g++) {
          int h = hk * grp + g;
          const float *qt = r->q + bt * r->Hq * r->dk + h * r->dk;
          for (int m = 0; m < r->dv; m++) {
            double o = 0;
            for (int i = 0; i < r->dk; i++) o += qt[i] * S[i * r->dv + m];
            r->out[bt * r->Hq * r->dv + h * r->dv + m] = r->scale * o;
          }
        }
      }
    }
}

static void run_linear_attention(const char *rule, int rule_id, int Hq, int Hkv,
                                 int T, bool past, int gl, int bl, float scale,
                                 uint32_t seed) {
  enum { B = 2, DK = 3, DV = 2 };
  size_t nq = (size_t)B * T * Hq * DK, nk = (size_t)B * T * Hkv * DK,
         nv = (size_t)B * T * Hkv * DV, ns = (size_t)B * Hkv * DK * DV;
  float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nv * 4),
        *ps = malloc(ns * 4), *dec = malloc((size_t)B * T * 8 * 4 + 4),
        *beta = malloc((size_t)B * T * 8 * 4 + 4);
  fill(q, nq, seed), fill(k, nk, seed + 1), fill(v, nv, seed + 2);
  fill(ps, ns, seed + 3);
  fill(dec, (size_t)B * T * (gl ? gl : 1), seed + 4);
  for (int i = 0; i < B * T * (gl ? gl : 1); i++) dec[i] = -fabsf(dec[i]);
  fill(beta, (size_t)B * T * (bl ? bl : 1), seed + 5);
  for (int i = 0; i < B * T * (bl ? bl : 1); i++) beta[i] = fabsf(beta[i]);
  double *out = malloc(nq / DK * DV * 8), *st = malloc(ns * 8);
  ref_la r = {B,       T,
              Hq,      Hkv,
              DK,      DV,
              rule_id, gl,
              bl,      scale ? scale : 1 / sqrt(DK),
              q,       k,
              v,       past ? ps : NULL,
              dec,     beta,
              out,     st};
  ref_linear_attention(&r);
  optest *t = optest_new("LinearAttention", 27);
  optest_attr_string(t, "update_rule", rule);
  optest_attr_int(t, "q_num_heads", Hq);
  optest_attr_int(t, "kv_num_heads", Hkv);
  if (scale) optest_attr_float(t, "scale", scale);
  int64_t qd[3] = {B, T, Hq * DK}, kd[3] = {B, T, Hkv * DK},
          vd[3] = {B, T, Hkv * DV}, sd[4] = {B, Hkv, DK, DV},
          gd[3] = {B, T, gl}, bd[3] = {B, T, bl};
  optest_input(t, EMBER_FLOAT, 3, qd, q);
  optest_input(t, EMBER_FLOAT, 3, kd, k);
  optest_input(t, EMBER_FLOAT, 3, vd, v);
  if (past)
    optest_input(t, EMBER_FLOAT, 4, sd, ps);
  else
    optest_input_none(t);
  if (gl)
    optest_input(t, EMBER_FLOAT, 3, gd, dec);
  else if (bl)
    optest_input_none(t);
  if (bl) optest_input(t, EMBER_FLOAT, 3, bd, beta);
  optest_outputs(t, 2);
  must_run(t);
  int64_t od[3] = {B, T, Hq * DV};
  expect_close(t, 0, EMBER_FLOAT, 3, od, out, 1e-5, 1e-6);
  expect_close(t, 1, EMBER_FLOAT, 4, sd, st, 1e-5, 1e-6);
  optest_free(t);
  free(q), free(k), free(v), free(ps), free(dec), free(beta), free(out);
  free(st);
}

static void test_linear_attention_rules(void **state) {
  (void)state;
  run_linear_attention("linear", 0, 2, 2, 3, false, 0, 0, 0, 30);
  run_linear_attention("gated", 1, 2, 2, 3, true, 2 * 3, 0, 0, 31);
  run_linear_attention("gated", 1, 4, 2, 1, false, 2, 0, 0.5f, 32);
  run_linear_attention("delta", 2, 2, 2, 4, true, 0, 1, 0, 33);
  run_linear_attention("gated_delta", 3, 4, 2, 3, true, 2, 2, 0, 34);
  run_linear_attention("gated_delta", 3, 3, 1, 2, false, 3, 1, 0, 35);
}

static void test_linear_attention_errors(void **state) {
  (void)state;
  float z[64] = {0};
  int64_t d[3] = {1, 2, 4};
  optest *t = optest_new("LinearAttention", 27);
  optest_attr_string(t, "update_rule", "gated");
  optest_attr_int(t, "q_num_heads", 2);
  optest_attr_int(t, "kv_num_heads", 2);
  for (int i = 0; i < 3; i++) optest_input(t, EMBER_FLOAT, 3, d, z);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "decay");
  optest_free(t);
  t = optest_new("LinearAttention", 27);
  optest_attr_string(t, "update_rule", "fast");
  optest_attr_int(t, "q_num_heads", 2);
  optest_attr_int(t, "kv_num_heads", 2);
  for (int i = 0; i < 3; i++) optest_input(t, EMBER_FLOAT, 3, d, z);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "update_rule");
  optest_free(t);
  t = optest_new("LinearAttention", 27);
  optest_attr_string(t, "update_rule", "linear");
  optest_attr_int(t, "q_num_heads", 3);
  optest_attr_int(t, "kv_num_heads", 2);
  for (int i = 0; i < 3; i++) optest_input(t, EMBER_FLOAT, 3, d, z);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "multiple");
  optest_free(t);
}

/* ------------------------------------------------------- RotaryEmbedding */

/* x as (B, S, H, D) index function; cos/sin row per (b, s). */
static void ref_rope(const float *x, bool r4, int B, int H, int S, int D,
                     int rd, bool inter, const float *cs, const float *sn,
                     const int64_t *pos, double *y) {
  int half = rd / 2;
  for (int b = 0; b < B; b++)
    for (int s = 0; s < S; s++)
      for (int h = 0; h < H; h++) {
        size_t base = r4 ? (((size_t)b * H + h) * S + s) * D
                         : (((size_t)b * S + s) * H + h) * D;
        size_t crow = pos ? (size_t)pos[b * S + s] : (size_t)(b * S + s);
        for (int d = 0; d < D; d++) y[base + d] = x[base + d];
        for (int i = 0; i < half; i++) {
          int a = inter ? 2 * i : i, c = inter ? 2 * i + 1 : i + half;
          double x1 = x[base + a], x2 = x[base + c];
          double co = cs[crow * half + i], si = sn[crow * half + i];
          y[base + a] = co * x1 - si * x2;
          y[base + c] = si * x1 + co * x2;
        }
      }
}

static void test_rotary_embedding(void **state) {
  (void)state;
  /* 4-D with position ids, full rotation. */
  {
    enum { B = 2, H = 3, S = 2, D = 4, NP = 7 };
    float x[B * H * S * D], cs[NP * D / 2], sn[NP * D / 2];
    fill(x, sizeof x / 4, 40), fill(cs, sizeof cs / 4, 41),
        fill(sn, sizeof sn / 4, 42);
    int64_t pos[B * S] = {6, 0, 3, 3};
    double y[B * H * S * D];
    ref_rope(x, true, B, H, S, D, D, false, cs, sn, pos, y);
    optest *t = optest_new("RotaryEmbedding", 23);
    int64_t xd[4] = {B, H, S, D}, cd[2] = {NP, D / 2}, pd[2] = {B, S};
    optest_input(t, EMBER_FLOAT, 4, xd, x);
    optest_input(t, EMBER_FLOAT, 2, cd, cs);
    optest_input(t, EMBER_FLOAT, 2, cd, sn);
    optest_input(t, EMBER_INT64, 2, pd, pos);
    must_run(t);
    expect_close(t, 0, EMBER_FLOAT, 4, xd, y, 1e-6, 1e-7);
    optest_free(t);
    /* An out-of-range position is a run-time error. */
    pos[1] = NP;
    t = optest_new("RotaryEmbedding", 23);
    optest_input(t, EMBER_FLOAT, 4, xd, x);
    optest_input(t, EMBER_FLOAT, 2, cd, cs);
    optest_input(t, EMBER_FLOAT, 2, cd, sn);
    optest_input(t, EMBER_INT64, 2, pd, pos);
    must_fail(t, EMBER_ERR_RUNTIME, "position");
    optest_free(t);
  }
  /* 3-D, interleaved, partial rotation, caches per (batch, position). */
  {
    enum { B = 1, H = 2, S = 3, D = 6, RD = 4 };
    float x[B * S * H * D], cs[B * S * RD / 2], sn[B * S * RD / 2];
    fill(x, sizeof x / 4, 43), fill(cs, sizeof cs / 4, 44),
        fill(sn, sizeof sn / 4, 45);
    double y[B * S * H * D];
    ref_rope(x, false, B, H, S, D, RD, true, cs, sn, NULL, y);
    optest *t = optest_new("RotaryEmbedding", 23);
    optest_attr_int(t, "num_heads", H);
    optest_attr_int(t, "interleaved", 1);
    optest_attr_int(t, "rotary_embedding_dim", RD);
    int64_t xd[3] = {B, S, H * D}, cd[3] = {B, S, RD / 2};
    optest_input(t, EMBER_FLOAT, 3, xd, x);
    optest_input(t, EMBER_FLOAT, 3, cd, cs);
    optest_input(t, EMBER_FLOAT, 3, cd, sn);
    must_run(t);
    expect_close(t, 0, EMBER_FLOAT, 3, xd, y, 1e-6, 1e-7);
    optest_free(t);
    /* Without num_heads a 3-D input is refused. */
    t = optest_new("RotaryEmbedding", 23);
    optest_input(t, EMBER_FLOAT, 3, xd, x);
    optest_input(t, EMBER_FLOAT, 3, cd, cs);
    optest_input(t, EMBER_FLOAT, 3, cd, sn);
    must_fail(t, EMBER_ERR_INVALID_MODEL, "num_heads");
    optest_free(t);
  }
}

/* ----------------------------------------------------- RMSNormalization */

static void test_rms_normalization(void **state) {
  (void)state;
  enum { A = 2, Bd = 3, C = 5 };
  float x[A * Bd * C], sc[Bd * C];
  fill(x, sizeof x / 4, 50), fill(sc, sizeof sc / 4, 51);
  int64_t xd[3] = {A, Bd, C};
  /* axis 1 with a (3, 5) scale; axis -1 with (5); axis 1 with (1, 5). */
  const int axes[3] = {1, -1, 1};
  const int srank[3] = {2, 1, 2};
  const int64_t sdims[3][2] = {{Bd, C}, {C, 0}, {1, C}};
  for (int cse = 0; cse < 3; cse++) {
    int ax = axes[cse] < 0 ? axes[cse] + 3 : axes[cse];
    size_t inner = 1, outer = 1;
    for (int i = 0; i < 3; i++) *(i < ax ? &outer : &inner) *= (size_t)xd[i];
    double y[A * Bd * C];
    for (size_t o = 0; o < outer; o++) {
      double ss = 0;
      for (size_t i = 0; i < inner; i++)
        ss += (double)x[o * inner + i] * x[o * inner + i];
      double rms = sqrt(ss / (double)inner + 1e-3);
      for (size_t i = 0; i < inner; i++) {
        size_t flat = o * inner + i, si;
        if (cse == 0)
          si = flat % (Bd * C);
        else
          si = flat % C;
        y[flat] = x[flat] / rms * sc[si];
      }
    }
    optest *t = optest_new("RMSNormalization", 23);
    optest_attr_int(t, "axis", axes[cse]);
    optest_attr_float(t, "epsilon", 1e-3f);
    optest_input(t, EMBER_FLOAT, 3, xd, x);
    optest_input(t, EMBER_FLOAT, srank[cse], sdims[cse], sc);
    must_run(t);
    expect_close(t, 0, EMBER_FLOAT, 3, xd, y, 1e-5, 1e-6);
    optest_free(t);
  }
  optest *t = optest_new("RMSNormalization", 23);
  optest_attr_int(t, "axis", 3);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  int64_t s1[1] = {C};
  optest_input(t, EMBER_FLOAT, 1, s1, sc);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "axis");
  optest_free(t);
}

/* --------------------------------------------------- GroupNormalization */

static void test_group_normalization(void **state) {
  (void)state;
  enum { N = 2, C = 4, G = 2, SP = 3 };
  float x[N * C * SP], sc[C], bi[C];
  fill(x, sizeof x / 4, 60), fill(sc, C, 61), fill(bi, C, 62);
  int64_t xd[3] = {N, C, SP};
  for (int opset = 18; opset <= 21; opset += 3) {
    int np = opset == 18 ? G : C; /* opset 18: one scale per group */
    double y[N * C * SP];
    for (int n = 0; n < N; n++)
      for (int g = 0; g < G; g++) {
        const float *blk = x + (n * C + g * (C / G)) * SP;
        double mean = 0, var = 0;
        int m = (C / G) * SP;
        for (int i = 0; i < m; i++) mean += blk[i];
        mean /= m;
        for (int i = 0; i < m; i++) var += (blk[i] - mean) * (blk[i] - mean);
        var /= m;
        for (int i = 0; i < m; i++) {
          int ch = g * (C / G) + i / SP, p = np == G ? g : ch;
          y[(n * C + g * (C / G)) * SP + i] =
              (blk[i] - mean) / sqrt(var + 1e-5) * sc[p] + bi[p];
        }
      }
    optest *t = optest_new("GroupNormalization", opset);
    optest_attr_int(t, "num_groups", G);
    int64_t pd[1] = {np};
    optest_input(t, EMBER_FLOAT, 3, xd, x);
    optest_input(t, EMBER_FLOAT, 1, pd, sc);
    optest_input(t, EMBER_FLOAT, 1, pd, bi);
    must_run(t);
    expect_close(t, 0, EMBER_FLOAT, 3, xd, y, 1e-5, 1e-5);
    optest_free(t);
  }
  optest *t = optest_new("GroupNormalization", 21);
  optest_attr_int(t, "num_groups", 3);
  int64_t pd[1] = {C};
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_FLOAT, 1, pd, sc);
  optest_input(t, EMBER_FLOAT, 1, pd, bi);
  must_fail(t, EMBER_ERR_SHAPE, "groups");
  optest_free(t);
  t = optest_new("GroupNormalization", 21);
  int64_t pd2[1] = {G};
  optest_attr_int(t, "num_groups", G);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_FLOAT, 1, pd2, sc);
  optest_input(t, EMBER_FLOAT, 1, pd2, bi);
  must_fail(t, EMBER_ERR_SHAPE, "per channel");
  optest_free(t);
}

/* --------------------------------------------------------------- SwiGLU */

static void test_swiglu(void **state) {
  (void)state;
  enum { N = 3 * 1 * 5 };
  float a[N], b[N];
  fill(a, N, 70), fill(b, N, 71);
  for (int i = 0; i < N; i++) a[i] *= 6;
  double y[N];
  for (int i = 0; i < N; i++) y[i] = a[i] / (1 + exp(-0.5 * a[i])) * b[i];
  int64_t d[3] = {3, 1, 5};
  optest *t = optest_new("SwiGLU", 28);
  optest_attr_float(t, "alpha", 0.5f);
  optest_input(t, EMBER_FLOAT, 3, d, a);
  optest_input(t, EMBER_FLOAT, 3, d, b);
  must_run(t);
  expect_close(t, 0, EMBER_FLOAT, 3, d, y, 1e-6, 1e-7);
  optest_free(t);
  /* Empty tensors are fine. */
  int64_t e[2] = {0, 3};
  t = optest_new("SwiGLU", 28);
  optest_input(t, EMBER_FLOAT, 2, e, a);
  optest_input(t, EMBER_FLOAT, 2, e, b);
  must_run(t);
  expect_close(t, 0, EMBER_FLOAT, 2, e, y, 0, 0);
  optest_free(t);
  /* No broadcasting. */
  int64_t d2[3] = {3, 5, 1};
  t = optest_new("SwiGLU", 28);
  optest_input(t, EMBER_FLOAT, 3, d, a);
  optest_input(t, EMBER_FLOAT, 3, d2, b);
  must_fail(t, EMBER_ERR_SHAPE, "same shape");
  optest_free(t);
}

/* -------------------------------------------------- CausalConvWithState */

static void run_causal_conv(int B, int C, int L, int K, bool bias, bool past,
                            bool silu, uint32_t seed) {
  size_t nx = (size_t)B * C * L, ns = (size_t)B * C * (K - 1);
  float *x = malloc(nx * 4 + 4), *w = malloc((size_t)C * K * 4),
        *bs = malloc((size_t)C * 4), *ps = malloc(ns * 4 + 4);
  fill(x, nx, seed), fill(w, (size_t)C * K, seed + 1), fill(bs, C, seed + 2);
  fill(ps, ns, seed + 3);
  double *y = malloc(nx * 8 + 8), *st = malloc(ns * 8 + 8);
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++) {
      int pl = K - 1 + L;
      double *pad = malloc((size_t)pl * 8);
      for (int p = 0; p < pl; p++)
        pad[p] = p < K - 1 ? (past ? ps[((size_t)b * C + c) * (K - 1) + p] : 0)
                           : x[((size_t)b * C + c) * L + p - (K - 1)];
      for (int t = 0; t < L; t++) {
        double acc = bias ? bs[c] : 0;
        for (int m = 0; m < K; m++) acc += w[c * K + m] * pad[t + m];
        if (silu) acc = acc / (1 + exp(-acc));
        y[((size_t)b * C + c) * L + t] = acc;
      }
      for (int p = 0; p < K - 1; p++)
        st[((size_t)b * C + c) * (K - 1) + p] = pad[L + p];
      free(pad);
    }
  optest *t = optest_new("CausalConvWithState", 27);
  if (silu) optest_attr_string(t, "activation", "silu");
  int64_t xd[3] = {B, C, L}, wd[3] = {C, 1, K}, bd[1] = {C},
          sd[3] = {B, C, K - 1};
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_FLOAT, 3, wd, w);
  if (bias)
    optest_input(t, EMBER_FLOAT, 1, bd, bs);
  else if (past)
    optest_input_none(t);
  if (past) optest_input(t, EMBER_FLOAT, 3, sd, ps);
  optest_outputs(t, 2);
  must_run(t);
  expect_close(t, 0, EMBER_FLOAT, 3, xd, y, 1e-5, 1e-6);
  expect_close(t, 1, EMBER_FLOAT, 3, sd, st, 0, 0);
  optest_free(t);
  free(x), free(w), free(bs), free(ps), free(y), free(st);
}

static void test_causal_conv_with_state(void **state) {
  (void)state;
  run_causal_conv(2, 3, 6, 4, false, false, false, 80);
  run_causal_conv(1, 2, 2, 5, true, false, true, 81);  /* L < K - 1 */
  run_causal_conv(2, 1, 1, 3, true, true, false, 82);  /* decode step */
  run_causal_conv(1, 3, 4, 1, false, false, true, 83); /* empty state */
  optest *t = optest_new("CausalConvWithState", 27);
  optest_attr_string(t, "activation", "relu");
  float z[8] = {0};
  int64_t xd[3] = {1, 1, 2}, wd[3] = {1, 1, 2};
  optest_input(t, EMBER_FLOAT, 3, xd, z);
  optest_input(t, EMBER_FLOAT, 3, wd, z);
  optest_outputs(t, 2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "activation");
  optest_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_attention_4d_mha_odd_sizes),
      cmocka_unit_test(test_attention_3d_gqa_past_causal_scale),
      cmocka_unit_test(test_attention_bool_mask_short_fully_masked),
      cmocka_unit_test(test_attention_float_mask_softcap_modes),
      cmocka_unit_test(test_attention_nonpad_causal_negative_offset),
      cmocka_unit_test(test_attention_window),
      cmocka_unit_test(test_attention_fp16_single_key),
      cmocka_unit_test(test_attention_errors),
      cmocka_unit_test(test_flexattention_gqa_and_double),
      cmocka_unit_test(test_linear_attention_rules),
      cmocka_unit_test(test_linear_attention_errors),
      cmocka_unit_test(test_rotary_embedding),
      cmocka_unit_test(test_rms_normalization),
      cmocka_unit_test(test_group_normalization),
      cmocka_unit_test(test_swiglu),
      cmocka_unit_test(test_causal_conv_with_state),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
