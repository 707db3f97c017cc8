/*
 * The recurrent layers RNN, GRU and LSTM, every opset (1: output_sequence,
 * ignored since an output is computed whenever it is requested; 3: GRU's
 * linear_before_reset; 14: layout).  Each direction is one pass: the input
 * projection X * W^T (+ biases) for all time steps in one matrix product,
 * then per step one product of the batch's hidden states with R^T and
 * the gate equations row by row.  The recurrent product covers every
 * batch row even when sequence_lens has retired some (their results are
 * dropped), which keeps it one product.  sequence_lens: a batch entry of
 * length L runs steps 0..L-1 (reverse: L-1..0), its Y rows at t >= L are
 * zero and Y_h / Y_c hold its state after its last step (the initial state
 * when L is 0).  clip bounds the pre-activations of the gates (not the
 * LSTM cell before h()).  activation_alpha / activation_beta are consumed
 * in order by the listed activations that take them; missing ones take
 * the defaults of the ONNX operator of that name.  float32 uses the GEMM
 * kernel; float64 direct loops; float16 and bfloat16 go through float32
 * scratch.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "f32-gemm/f32-gemm.h"
#include "ops/f32cvt.h"
#include "ops/op.h"

static const int32_t rnn_types[] = {EMBER_FLOAT, EMBER_DOUBLE, EMBER_FLOAT16,
                                    EMBER_BFLOAT16, 0};
static const int32_t len_types[] = {EMBER_INT32, EMBER_INT64, 0};

enum { K_RNN, K_GRU, K_LSTM };
enum { DIR_FORWARD, DIR_REVERSE, DIR_BIDI };

/* ---------------------------------------------------------- activations */

enum {
  ACT_RELU,
  ACT_TANH,
  ACT_SIGMOID,
  ACT_AFFINE,
  ACT_LEAKYRELU,
  ACT_THRESHOLDEDRELU,
  ACT_SCALEDTANH,
  ACT_HARDSIGMOID,
  ACT_ELU,
  ACT_SOFTSIGN,
  ACT_SOFTPLUS
};

/* How many of alpha / beta each function takes, with the defaults of the
 * ONNX operator of the same name. */
static const struct {
  const char *name;
  int n_alpha, n_beta;
  float alpha, beta;
} act_table[] = {
    [ACT_RELU] = {"Relu", 0, 0, 0.0f, 0.0f},
    [ACT_TANH] = {"Tanh", 0, 0, 0.0f, 0.0f},
    [ACT_SIGMOID] = {"Sigmoid", 0, 0, 0.0f, 0.0f},
    [ACT_AFFINE] = {"Affine", 1, 1, 1.0f, 0.0f},
    [ACT_LEAKYRELU] = {"LeakyRelu", 1, 0, 0.01f, 0.0f},
    [ACT_THRESHOLDEDRELU] = {"ThresholdedRelu", 1, 0, 1.0f, 0.0f},
    [ACT_SCALEDTANH] = {"ScaledTanh", 1, 1, 1.0f, 1.0f},
    [ACT_HARDSIGMOID] = {"HardSigmoid", 1, 1, 0.2f, 0.5f},
    [ACT_ELU] = {"Elu", 1, 0, 1.0f, 0.0f},
    [ACT_SOFTSIGN] = {"Softsign", 0, 0, 0.0f, 0.0f},
    [ACT_SOFTPLUS] = {"Softplus", 0, 0, 0.0f, 0.0f},
};

typedef struct rnn_act {
  int fn;
  float alpha, beta;
} rnn_act;

/* v[i] = act(v[i]) over a run; the switch is outside the loops. */
#define EMB_RNN_ACT(NAME, T, EXP, TANH, LOG1P)                              \
  static void NAME(const rnn_act *a, T *v, size_t n) {                      \
    T al = (T)a->alpha, be = (T)a->beta;                                    \
    switch (a->fn) {                                                        \
      case ACT_RELU:                                                        \
        for (size_t i = 0; i < n; i++) v[i] = v[i] > 0 ? v[i] : (T)0;       \
        break;                                                              \
      case ACT_TANH:                                                        \
        for (size_t i = 0; i < n; i++) v[i] = TANH(v[i]);                   \
        break;                                                              \
      case ACT_SIGMOID:                                                     \
        for (size_t i = 0; i < n; i++) v[i] = (T)1 / ((T)1 + EXP(-v[i]));   \
        break;                                                              \
      case ACT_AFFINE:                                                      \
        for (size_t i = 0; i < n; i++) v[i] = al * v[i] + be;               \
        break;                                                              \
      case ACT_LEAKYRELU:                                                   \
        for (size_t i = 0; i < n; i++) v[i] = v[i] >= 0 ? v[i] : al * v[i]; \
        break;                                                              \
      case ACT_THRESHOLDEDRELU:                                             \
        for (size_t i = 0; i < n; i++) v[i] = v[i] >= al ? v[i] : (T)0;     \
        break;                                                              \
      case ACT_SCALEDTANH:                                                  \
        for (size_t i = 0; i < n; i++) v[i] = al * TANH(be * v[i]);         \
        break;                                                              \
      case ACT_HARDSIGMOID:                                                 \
        for (size_t i = 0; i < n; i++) {                                    \
          T y = al * v[i] + be;                                             \
          v[i] = y < 0 ? (T)0 : y > 1 ? (T)1 : y;                           \
        }                                                                   \
        break;                                                              \
      case ACT_ELU:                                                         \
        for (size_t i = 0; i < n; i++)                                      \
          v[i] = v[i] >= 0 ? v[i] : al * (EXP(v[i]) - (T)1);                \
        break;                                                              \
      case ACT_SOFTSIGN:                                                    \
        for (size_t i = 0; i < n; i++)                                      \
          v[i] = v[i] / ((T)1 + (v[i] < 0 ? -v[i] : v[i]));                 \
        break;                                                              \
      case ACT_SOFTPLUS: /* log(1 + e^x) without overflow for large x */    \
        for (size_t i = 0; i < n; i++)                                      \
          v[i] = v[i] > 0 ? v[i] + LOG1P(EXP(-v[i])) : LOG1P(EXP(v[i]));    \
        break;                                                              \
      default:                                                              \
        break;                                                              \
    }                                                                       \
  }
EMB_RNN_ACT(act_f32, float, expf, tanhf, log1pf)
EMB_RNN_ACT(act_f64, double, exp, tanh, log1p)

/* --------------------------------------------------------------- state */

typedef struct rnn_state {
  int kind;
  int gates;      /* 1, 3, 4 blocks of hidden_size rows in W and R      */
  int nact;       /* activations per direction: 1, 2, 3                 */
  int direction;  /* DIR_*                                              */
  int dirs;       /* 1 or 2                                             */
  int64_t hidden; /* hidden_size, or -1 when absent (taken from R)     */
  int layout;
  bool has_clip;
  float clip;
  bool lbr;          /* GRU linear_before_reset                        */
  bool input_forget; /* LSTM: forget gate = 1 - input gate             */
  rnn_act act[6];    /* nact per direction, forward first              */
} rnn_state;

static const char *const kind_names[] = {"RNN", "GRU", "LSTM"};

static ember_status rnn_parse_acts(emb_init_ctx *c, rnn_state *s) {
  const emb_node *n = c->node;
  static const int defaults[3][3] = {{ACT_TANH, 0, 0},
                                     {ACT_SIGMOID, ACT_TANH, 0},
                                     {ACT_SIGMOID, ACT_TANH, ACT_TANH}};
  int want = s->nact * s->dirs;
  const emb_attr *a = emb_node_attr(n, "activations");
  int names[6];
  int given = 0;
  if (a) {
    if (a->type != EMB_ATTR_STRINGS)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "attribute 'activations' must be a list of strings");
    /* A bidirectional layer given one direction's list uses it twice. */
    if ((int)a->n < want && !((int)a->n == s->nact && s->dirs == 2))
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "'activations' has %zu functions; %s %s needs %d",
                         a->n, s->dirs == 2 ? "a bidirectional" : "a",
                         kind_names[s->kind], want);
    given = (int)a->n < want ? (int)a->n : want;
    for (int i = 0; i < given; i++) {
      int f = -1;
      for (int k = 0; k < (int)(sizeof act_table / sizeof act_table[0]); k++)
        if (!strcasecmp(a->strings[i], act_table[k].name)) f = k;
      if (f < 0)
        return emb_op_fail(c->diag, n, EMBER_ERR_UNSUPPORTED,
                           "activation function '%s' is not supported",
                           a->strings[i]);
      names[i] = f;
    }
  } else {
    given = s->nact;
    for (int i = 0; i < s->nact; i++) names[i] = defaults[s->kind][i];
  }
  const float *al, *be;
  size_t nal, nbe, ia = 0, ib = 0;
  ember_status st;
  if ((st = emb_attr_floats(n, "activation_alpha", &al, &nal, c->diag)) ||
      (st = emb_attr_floats(n, "activation_beta", &be, &nbe, c->diag)))
    return st;
  for (int i = 0; i < given; i++) {
    rnn_act *x = &s->act[i];
    x->fn = names[i];
    x->alpha = act_table[x->fn].alpha;
    x->beta = act_table[x->fn].beta;
    if (act_table[x->fn].n_alpha && ia < nal) x->alpha = al[ia++];
    if (act_table[x->fn].n_beta && ib < nbe) x->beta = be[ib++];
  }
  for (int i = given; i < want; i++) s->act[i] = s->act[i - given];
  return EMBER_OK;
}

static ember_status rnn_init_common(emb_init_ctx *c, int kind) {
  const emb_node *n = c->node;
  rnn_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->kind = kind;
  s->gates = kind == K_RNN ? 1 : kind == K_GRU ? 3 : 4;
  s->nact = kind == K_RNN ? 1 : kind == K_GRU ? 2 : 3;
  ember_status st;
  const char *dir;
  if ((st = emb_attr_string(n, "direction", "forward", &dir, c->diag)))
    return st;
  if (!strcmp(dir, "forward"))
    s->direction = DIR_FORWARD;
  else if (!strcmp(dir, "reverse"))
    s->direction = DIR_REVERSE;
  else if (!strcmp(dir, "bidirectional"))
    s->direction = DIR_BIDI;
  else
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "direction '%s' is not forward, reverse or "
                       "bidirectional",
                       dir);
  s->dirs = s->direction == DIR_BIDI ? 2 : 1;
  if ((st = emb_attr_int(n, "hidden_size", -1, &s->hidden, c->diag))) return st;
  if (emb_node_attr(n, "hidden_size") && s->hidden <= 0)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "hidden_size must be positive, not %lld",
                       (long long)s->hidden);
  int64_t v = 0;
  if (n->opset >= 14 && (st = emb_attr_int(n, "layout", 0, &v, c->diag)))
    return st;
  if (v != 0 && v != 1)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "layout must be 0 or 1, not %lld", (long long)v);
  s->layout = (int)v;
  s->has_clip = emb_node_attr(n, "clip") != NULL;
  if ((st = emb_attr_float(n, "clip", 0.0f, &s->clip, c->diag))) return st;
  if (s->has_clip && !(s->clip >= 0.0f))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "clip must not be negative (%g)", (double)s->clip);
  if (kind == K_GRU) {
    if ((st = emb_attr_int(n, "linear_before_reset", 0, &v, c->diag)))
      return st;
    s->lbr = v != 0;
  }
  if (kind == K_LSTM) {
    if ((st = emb_attr_int(n, "input_forget", 0, &v, c->diag))) return st;
    s->input_forget = v != 0;
  }
  if ((st = rnn_parse_acts(c, s))) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status rnn_init(emb_init_ctx *c) {
  return rnn_init_common(c, K_RNN);
}
static ember_status gru_init(emb_init_ctx *c) {
  return rnn_init_common(c, K_GRU);
}
static ember_status lstm_init(emb_init_ctx *c) {
  return rnn_init_common(c, K_LSTM);
}

/* ---------------------------------------------------------------- infer */

/* Input positions. */
enum { IN_X, IN_W, IN_R, IN_B, IN_LENS, IN_H0, IN_C0, IN_P };

static const char *const in_names[] = {
    "X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};

/* The input's type when it is a tensor of known rank, else NULL; fails
 * when the rank is known and wrong. */
static ember_status ranked(emb_infer_ctx *c, int i, int rank,
                           const emb_type **out) {
  *out = NULL;
  const emb_type *t = i < c->n_in ? c->in[i] : NULL;
  if (!t || t->kind != EMBER_KIND_TENSOR || t->rank < 0) return EMBER_OK;
  if (t->rank != rank)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input %s must have rank %d, not %d", in_names[i], rank,
                       t->rank);
  *out = t;
  return EMBER_OK;
}

/* Input i's dimension k must be `want` when both are known. */
static ember_status want_dim(emb_infer_ctx *c, const emb_type *t, int i, int k,
                             int64_t want) {
  if (!t || want < 0 || t->dims[k].v < 0 || t->dims[k].v == want)
    return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                     "input %s dimension %d is %lld, expected %lld",
                     in_names[i], k, (long long)t->dims[k].v, (long long)want);
}

/* Both known and different: fail. */
static ember_status same_dim(emb_infer_ctx *c, const emb_type *t, int i, int k,
                             emb_dim want) {
  return want_dim(c, t, i, k, want.v);
}

static ember_status rnn_infer(emb_infer_ctx *c) {
  const rnn_state *s = c->node->state;
  ember_status st;
  int32_t dtype = c->in[IN_X] ? c->in[IN_X]->dtype : 0;
  for (int i = 0; i < c->n_in && i <= IN_P; i++) {
    if (i == IN_LENS) {
      if ((st = emb_infer_check_dtype(c, i, len_types))) return st;
      continue;
    }
    if ((st = emb_infer_check_dtype(c, i, rnn_types))) return st;
    const emb_type *t = c->in[i];
    if (t && t->kind && t->dtype && dtype && t->dtype != dtype)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %s has element type %s but X has %s",
                         in_names[i], ember_dtype_name(t->dtype),
                         ember_dtype_name(dtype));
  }
  if (s->kind != K_LSTM && c->n_in > IN_C0)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "%s takes at most 6 inputs", kind_names[s->kind]);
  const emb_type *x, *w, *r, *b, *lens, *h0, *c0 = NULL, *p = NULL;
  if ((st = ranked(c, IN_X, 3, &x)) || (st = ranked(c, IN_W, 3, &w)) ||
      (st = ranked(c, IN_R, 3, &r)) || (st = ranked(c, IN_B, 2, &b)) ||
      (st = ranked(c, IN_LENS, 1, &lens)) || (st = ranked(c, IN_H0, 3, &h0)))
    return st;
  if (s->kind == K_LSTM &&
      ((st = ranked(c, IN_C0, 3, &c0)) || (st = ranked(c, IN_P, 2, &p))))
    return st;
  int64_t D = s->dirs, G = s->gates;
  /* hidden_size: the attribute, else R's last dimension. */
  int64_t H = s->hidden;
  if (H < 0 && r) H = r->dims[2].v;
  if (H < 0 && r && r->dims[1].v >= 0) H = r->dims[1].v / G;
  int64_t GH = H >= 0 ? G * H : -1;
  emb_dim unk = {-1, 0};
  emb_dim seq = x ? x->dims[s->layout ? 1 : 0] : unk;
  emb_dim batch = x ? x->dims[s->layout ? 0 : 1] : unk;
  emb_dim in_size = x ? x->dims[2] : unk;
  if ((st = want_dim(c, w, IN_W, 0, D)) || (st = want_dim(c, w, IN_W, 1, GH)) ||
      (st = same_dim(c, w, IN_W, 2, in_size)) ||
      (st = want_dim(c, r, IN_R, 0, D)) || (st = want_dim(c, r, IN_R, 1, GH)) ||
      (st = want_dim(c, r, IN_R, 2, H)) || (st = want_dim(c, b, IN_B, 0, D)) ||
      (st = want_dim(c, b, IN_B, 1, GH >= 0 ? 2 * GH : -1)) ||
      (st = same_dim(c, lens, IN_LENS, 0, batch)) ||
      (st = want_dim(c, p, IN_P, 0, D)) ||
      (st = want_dim(c, p, IN_P, 1, H >= 0 ? 3 * H : -1)))
    return st;
  const emb_type *states[2] = {h0, c0};
  for (int k = 0; k < 2; k++) {
    const emb_type *t = states[k];
    int i = k ? IN_C0 : IN_H0;
    if ((st = want_dim(c, t, i, s->layout ? 1 : 0, D)) ||
        (st = same_dim(c, t, i, s->layout ? 0 : 1, batch)) ||
        (st = want_dim(c, t, i, 2, H)))
      return st;
  }
  emb_dim dd = {D, 0}, hd = {H, 0};
  if (c->n_out > 0) {
    emb_type_tensor(&c->out[0], dtype, 4, NULL);
    emb_dim *y = c->out[0].dims;
    if (s->layout) {
      y[0] = batch, y[1] = seq, y[2] = dd, y[3] = hd;
    } else {
      y[0] = seq, y[1] = dd, y[2] = batch, y[3] = hd;
    }
  }
  for (int o = 1; o < c->n_out && o < 3; o++) {
    emb_type_tensor(&c->out[o], dtype, 3, NULL);
    emb_dim *y = c->out[o].dims;
    if (s->layout) {
      y[0] = batch, y[1] = dd, y[2] = hd;
    } else {
      y[0] = dd, y[1] = batch, y[2] = hd;
    }
  }
  return EMBER_OK;
}

/* ------------------------------------------------------------------ run */

/* Sizes and options of one run, shared by both element types. */
typedef struct rnn_run {
  const rnn_state *s;
  size_t S, B, I, H, G;
  size_t D;
} rnn_run;

/* C[m x n] (ldc) = A(i,p) * B(p,j) over strided operands; k == 0 gives
 * zeros. */
static void gemm_f32(size_t m, size_t n, size_t k, const float *a, size_t a_rs,
                     size_t a_cs, const float *b, size_t b_rs, size_t b_cs,
                     float *c, size_t ldc, float *work) {
  if (!m || !n) return;
  if (!k) {
    for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof *c);
    return;
  }
  ember_f32_gemm(m, n, k, 1.0f, a, a_rs, a_cs, b, b_rs, b_cs, 0.0f, c,
                         ldc, work);
}

static void gemm_f64(size_t m, size_t n, size_t k, const double *a, size_t a_rs,
                     size_t a_cs, const double *b, size_t b_rs, size_t b_cs,
                     double *c, size_t ldc, float *work) {
  (void)work;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double acc = 0.0;
      for (size_t p = 0; p < k; p++)
        acc += a[i * a_rs + p * a_cs] * b[p * b_rs + j * b_cs];
      c[i * ldc + j] = acc;
    }
}

/* Row of X (and of the projection xw) for time t, batch b. */
static size_t x_row(const rnn_run *r, size_t t, size_t b) {
  return r->s->layout ? b * r->S + t : t * r->B + b;
}
/* Offset of Y[t, d, b, :] (layout 0) or Y[b, t, d, :] (layout 1). */
static size_t y_off(const rnn_run *r, size_t t, size_t d, size_t b) {
  return (r->s->layout ? (b * r->S + t) * r->D + d
                       : (t * r->D + d) * r->B + b) *
         r->H;
}
/* Offset of a state row: [d, b, :] (layout 0) or [b, d, :] (layout 1). */
static size_t h_off(const rnn_run *r, size_t d, size_t b) {
  return (r->s->layout ? b * r->D + d : d * r->B + b) * r->H;
}

/* The per-direction work buffers, in the element type of the run. */
typedef struct rnn_bufs {
  void *xw;    /* [S*B, G*H] input projection plus biases */
  void *hs;    /* [B, H] hidden state                     */
  void *cs;    /* [B, H] LSTM cell state                  */
  void *rh;    /* [B, G*H] recurrent product, then gates  */
  void *tmp;   /* [B, H] GRU r (.) H, LSTM h(C)           */
  void *rh2;   /* [B, H] GRU (r (.) H) * Rh^T             */
  float *work; /* GEMM packing (float32 only)             */
} rnn_bufs;

/* One direction d of the layer.  P and Bias, h0, c0, lens may be NULL;
 * Y, Yh, Yc may be NULL (not requested). */
#define EMB_RNN_DIR(NAME, T, GEMM, ACT)                                        \
  static void NAME(const rnn_run *r, size_t d, bool rev, const T *X,           \
                   const T *W, const T *R, const T *Bias, const int64_t *lens, \
                   const T *h0, const T *c0, const T *P, T *Y, T *Yh, T *Yc,   \
                   const rnn_bufs *w) {                                        \
    const rnn_state *s = r->s;                                                 \
    T *xwb = w->xw, *hs = w->hs, *cs = w->cs, *rh = w->rh, *tb = w->tmp;       \
    T *rh2 = w->rh2;                                                           \
    size_t S = r->S, Bn = r->B, I = r->I, H = r->H, GH = r->G * H;             \
    size_t SB = S * Bn;                                                        \
    const T *Wd = W + d * GH * I, *Rd = R + d * GH * H;                        \
    const T *Wb = Bias ? Bias + d * 2 * GH : NULL;                             \
    const T *Rb = Bias ? Wb + GH : NULL;                                       \
    const T *Pd = P ? P + d * 3 * H : NULL;                                    \
    const rnn_act *act = s->act + d * (size_t)s->nact;                         \
    T clip = (T)s->clip;                                                       \
    bool gru = s->kind == K_GRU, lstm = s->kind == K_LSTM;                     \
    /* The input projection for every step; the recurrent bias joins it        \
     * except GRU's hidden-gate Rbh, which sits inside r (.) (...) or          \
     * after the reset product. */                                             \
    GEMM(SB, GH, I, X, I, 1, Wd, 1, I, xwb, GH, w->work);                      \
    if (Bias)                                                                  \
      for (size_t row = 0; row < SB; row++) {                                  \
        T *xr = xwb + row * GH;                                                \
        for (size_t j = 0; j < GH; j++)                                        \
          xr[j] += Wb[j] + (gru && j >= 2 * H ? (T)0 : Rb[j]);                 \
      }                                                                        \
    for (size_t b = 0; b < Bn; b++)                                            \
      for (size_t j = 0; j < H; j++) {                                         \
        hs[b * H + j] = h0 ? h0[h_off(r, d, b) + j] : (T)0;                    \
        if (lstm) cs[b * H + j] = c0 ? c0[h_off(r, d, b) + j] : (T)0;          \
      }                                                                        \
    /* GRU without linear_before_reset multiplies by Rh only after r. */       \
    size_t ng = gru && !s->lbr ? 2 * H : GH;                                   \
    for (size_t st = 0; st < S; st++) {                                        \
      GEMM(Bn, ng, H, hs, H, 1, Rd, 1, H, rh, GH, w->work);                    \
      for (size_t b = 0; b < Bn; b++) {                                        \
        size_t len = lens ? (size_t)lens[b] : S;                               \
        T *h = hs + b * H, *cc = cs + b * H, *g = rh + b * GH;                 \
        T *tmp = tb + b * H;                                                   \
        if (st >= len) {                                                       \
          if (gru) memset(tmp, 0, H * sizeof *tmp);                            \
          continue;                                                            \
        }                                                                      \
        size_t t = rev ? len - 1 - st : st;                                    \
        const T *xw = xwb + x_row(r, t, b) * GH;                               \
        size_t pre = s->kind == K_RNN ? H : 2 * H;                             \
        if (lstm) pre = 4 * H;                                                 \
        for (size_t j = 0; j < pre; j++) g[j] += xw[j];                        \
        if (lstm && Pd)                                                        \
          for (size_t j = 0; j < H; j++) {                                     \
            g[j] += Pd[j] * cc[j];                 /* input  */                \
            g[2 * H + j] += Pd[2 * H + j] * cc[j]; /* forget */                \
          }                                                                    \
        /* LSTM's output gate is clipped once its peephole has the new cell.   \
         */                                                                    \
        if (s->has_clip)                                                       \
          for (size_t j = 0; j < pre; j++)                                     \
            if (!(lstm && j >= H && j < 2 * H))                                \
              g[j] = g[j] < -clip ? -clip : g[j] > clip ? clip : g[j];         \
        if (s->kind == K_RNN) {                                                \
          ACT(&act[0], g, H);                                                  \
          memcpy(h, g, H * sizeof *h);                                         \
        } else if (gru) {                                                      \
          ACT(&act[0], g, 2 * H); /* z, r */                                   \
          if (s->lbr) {                                                        \
            T *hh = g + 2 * H;                                                 \
            for (size_t j = 0; j < H; j++) {                                   \
              T v = xw[2 * H + j] +                                            \
                    g[H + j] * (hh[j] + (Rb ? Rb[2 * H + j] : (T)0));          \
              if (s->has_clip) v = v < -clip ? -clip : v > clip ? clip : v;    \
              hh[j] = v;                                                       \
            }                                                                  \
            ACT(&act[1], hh, H);                                               \
            for (size_t j = 0; j < H; j++)                                     \
              h[j] = ((T)1 - g[j]) * hh[j] + g[j] * h[j];                      \
          } else {                                                             \
            for (size_t j = 0; j < H; j++) tmp[j] = g[H + j] * h[j];           \
          }                                                                    \
        } else {                                                               \
          T *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;            \
          ACT(&act[0], gi, H);                                                 \
          if (s->input_forget)                                                 \
            for (size_t j = 0; j < H; j++) gf[j] = (T)1 - gi[j];               \
          else                                                                 \
            ACT(&act[0], gf, H);                                               \
          ACT(&act[1], gc, H);                                                 \
          for (size_t j = 0; j < H; j++)                                       \
            cc[j] = gf[j] * cc[j] + gi[j] * gc[j];                             \
          /* The output gate peeps at the new cell. */                         \
          for (size_t j = 0; j < H; j++) {                                     \
            T v = go[j] + (Pd ? Pd[H + j] * cc[j] : (T)0);                     \
            if (s->has_clip) v = v < -clip ? -clip : v > clip ? clip : v;      \
            go[j] = v;                                                         \
          }                                                                    \
          ACT(&act[0], go, H);                                                 \
          memcpy(tmp, cc, H * sizeof *tmp);                                    \
          ACT(&act[2], tmp, H);                                                \
          for (size_t j = 0; j < H; j++) h[j] = go[j] * tmp[j];                \
        }                                                                      \
      }                                                                        \
      if (gru && !s->lbr) {                                                    \
        GEMM(Bn, H, H, tb, H, 1, Rd + 2 * H * H, 1, H, rh2, H, w->work);       \
        for (size_t b = 0; b < Bn; b++) {                                      \
          size_t len = lens ? (size_t)lens[b] : S;                             \
          if (st >= len) continue;                                             \
          size_t t = rev ? len - 1 - st : st;                                  \
          const T *xw = xwb + x_row(r, t, b) * GH;                             \
          T *h = hs + b * H, *z = rh + b * GH, *hh = rh2 + b * H;              \
          for (size_t j = 0; j < H; j++) {                                     \
            T v = xw[2 * H + j] + hh[j] + (Rb ? Rb[2 * H + j] : (T)0);         \
            if (s->has_clip) v = v < -clip ? -clip : v > clip ? clip : v;      \
            hh[j] = v;                                                         \
          }                                                                    \
          ACT(&act[1], hh, H);                                                 \
          for (size_t j = 0; j < H; j++)                                       \
            h[j] = ((T)1 - z[j]) * hh[j] + z[j] * h[j];                        \
        }                                                                      \
      }                                                                        \
      if (Y)                                                                   \
        for (size_t b = 0; b < Bn; b++) {                                      \
          size_t len = lens ? (size_t)lens[b] : S;                             \
          if (st >= len) continue;                                             \
          size_t t = rev ? len - 1 - st : st;                                  \
          memcpy(Y + y_off(r, t, d, b), hs + b * H, H * sizeof *Y);            \
        }                                                                      \
    }                                                                          \
    for (size_t b = 0; b < Bn; b++) {                                          \
      if (Yh) memcpy(Yh + h_off(r, d, b), hs + b * H, H * sizeof *Yh);         \
      if (Yc) memcpy(Yc + h_off(r, d, b), cs + b * H, H * sizeof *Yc);         \
    }                                                                          \
  }
EMB_RNN_DIR(rnn_dir_f32, float, gemm_f32, act_f32)
EMB_RNN_DIR(rnn_dir_f64, double, gemm_f64, act_f64)

/* Carves 64-byte aligned regions out of one scratch block; a first pass
 * with base NULL only measures. */
typedef struct carve {
  char *base;
  size_t off;
} carve;

static void *take(carve *cv, size_t bytes) {
  void *p = cv->base ? cv->base + cv->off : NULL;
  cv->off += emb_align64(bytes);
  return p;
}

/* The float32 view of an input: the data itself, or (half types) a
 * widened copy in scratch. */
static const void *in_f32(carve *cv, const emb_tensor *t) {
  if (!t) return NULL;
  size_t n = emb_tensor_numel(t);
  if (!emb_is_half(t->dtype)) return t->data;
  float *p = take(cv, n * sizeof *p);
  if (p) emb_cvt_to_f32(t->dtype, t->data, n, p);
  return p;
}

static void *out_f32(carve *cv, const emb_tensor *t) {
  if (!t) return NULL;
  if (!emb_is_half(t->dtype)) return t->data;
  return take(cv, emb_tensor_numel(t) * sizeof(float));
}

static ember_status rnn_run_op(emb_run_ctx *c) {
  const rnn_state *s = c->node->state;
  const emb_tensor *x = emb_in_t(c, IN_X), *rt = emb_in_t(c, IN_R);
  const emb_tensor *lt = emb_in_t(c, IN_LENS);
  emb_tensor *yt = emb_out_t(c, 0), *yht = emb_out_t(c, 1);
  emb_tensor *yct = s->kind == K_LSTM ? emb_out_t(c, 2) : NULL;
  rnn_run r = {.s = s, .G = (size_t)s->gates, .D = (size_t)s->dirs};
  r.S = (size_t)x->dims[s->layout ? 1 : 0];
  r.B = (size_t)x->dims[s->layout ? 0 : 1];
  r.I = (size_t)x->dims[2];
  r.H = s->hidden >= 0 ? (size_t)s->hidden : (size_t)rt->dims[2];
  if (!yt && !yht && !yct) return EMBER_OK;
  bool dbl = x->dtype == EMBER_DOUBLE;
  size_t es = dbl ? 8 : 4, GH = r.G * r.H;
  const emb_tensor *ins[IN_P + 1];
  for (int i = 0; i <= IN_P; i++)
    ins[i] = i == IN_LENS || (s->kind != K_LSTM && i > IN_H0) ? NULL
                                                              : emb_in_t(c, i);
  size_t work_f = dbl ? 0 : ember_f32_gemm_work_floats(r.S * r.B, GH, r.I);
  if (!dbl) {
    size_t w2 = ember_f32_gemm_work_floats(r.B, GH, r.H);
    if (w2 > work_f) work_f = w2;
  }
  /* Two passes: measure, then carve. */
  carve cv = {NULL, 0};
  char *mem = NULL;
  const void *in[IN_P + 1];
  void *out[3];
  rnn_bufs bufs;
  int64_t *lens = NULL;
  for (int pass = 0; pass < 2; pass++) {
    cv.base = mem;
    cv.off = 0;
    for (int i = 0; i <= IN_P; i++) in[i] = in_f32(&cv, ins[i]);
    out[0] = out_f32(&cv, yt);
    out[1] = out_f32(&cv, yht);
    out[2] = out_f32(&cv, yct);
    bufs.xw = take(&cv, r.S * r.B * GH * es);
    bufs.hs = take(&cv, r.B * r.H * es);
    bufs.cs = take(&cv, r.B * r.H * es);
    bufs.rh = take(&cv, r.B * GH * es);
    bufs.tmp = take(&cv, r.B * r.H * es);
    bufs.rh2 = take(&cv, r.B * r.H * es);
    bufs.work = take(&cv, work_f * sizeof(float));
    lens = lt ? take(&cv, r.B * sizeof *lens) : NULL;
    if (!pass) {
      mem = emb_scratch(c, cv.off ? cv.off : 1);
      if (!mem) return EMBER_ERR_OUT_OF_MEMORY;
    }
  }
  if (lt)
    for (size_t b = 0; b < r.B; b++) {
      lens[b] = emb_tensor_get_i64(lt, b);
      if (lens[b] < 0 || (uint64_t)lens[b] > r.S)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                           "sequence_lens[%zu] = %lld is outside [0, %zu]", b,
                           (long long)lens[b], r.S);
    }
  if (yt) memset(out[0], 0, emb_tensor_numel(yt) * es);
  for (size_t d = 0; d < r.D; d++) {
    bool rev = s->direction == DIR_REVERSE || d == 1;
    if (dbl)
      rnn_dir_f64(&r, d, rev, in[IN_X], in[IN_W], in[IN_R], in[IN_B], lens,
                  in[IN_H0], in[IN_C0], in[IN_P], out[0], out[1], out[2],
                  &bufs);
    else
      rnn_dir_f32(&r, d, rev, in[IN_X], in[IN_W], in[IN_R], in[IN_B], lens,
                  in[IN_H0], in[IN_C0], in[IN_P], out[0], out[1], out[2],
                  &bufs);
  }
  emb_tensor *outs[3] = {yt, yht, yct};
  for (int o = 0; o < 3; o++)
    if (outs[o] && emb_is_half(outs[o]->dtype))
      emb_cvt_from_f32(outs[o]->dtype, out[o], emb_tensor_numel(outs[o]),
                       outs[o]->data);
  return EMBER_OK;
}

const emb_opdef emb_op_rnn = {3, 6, 0, 2, 0, rnn_init, rnn_infer, rnn_run_op};
const emb_opdef emb_op_gru = {3, 6, 0, 2, 0, gru_init, rnn_infer, rnn_run_op};
const emb_opdef emb_op_lstm = {3, 8, 0, 3, 0, lstm_init, rnn_infer, rnn_run_op};
