/*
 * Unit tests for the recurrent layers RNN, GRU and LSTM (lib/ops/rnn.c).
 * The expected values come from a reference written here straight from
 * the ONNX equations, in double, one batch entry and one time step at a
 * time with explicit dot products (nothing shared with the operator's
 * batched products).  The activation parameters each case expects are
 * spelled out by the case itself, so the reference also checks how
 * activation_alpha / activation_beta are consumed and which defaults
 * apply.  Cases cover every direction, both layouts, sequence_lens
 * (including 0 and full length), initial states, biases, peepholes,
 * input_forget, clip, GRU's linear_before_reset, every activation
 * function, sizes around the GEMM tiles, float64 and float16, the older
 * opsets, and the errors (status plus a message naming node 'n0').
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

#include "ops/op.h"
#include "optest.h"

extern const emb_opdef emb_op_rnn, emb_op_gru, emb_op_lstm;

enum { RNN, GRU, LSTM };

static uint32_t rng_state = 777u;

/* Deterministic values in [-1, 1). */
static double rnd(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (double)((rng_state >> 8) & 0xffff) / 32768.0 - 1.0;
}

typedef struct ref_act {
  const char *fn;
  double alpha, beta;
} ref_act;

/* One test case.  Arrays the case does not use stay NULL / zero. */
typedef struct rcase {
  int kind, opset;
  const char *direction; /* NULL: attribute absent (forward) */
  int layout;
  int S, B, I, H;
  bool bias, h0, c0, peep, lens, hidden_attr_absent;
  int lens_v[16];
  int lbr, input_forget;
  float clip; /* 0: none */
  int n_acts;
  const char *acts[6];
  int n_alpha, n_beta;
  float alpha[6], beta[6];
  ref_act expect[6]; /* per direction: RNN 1, GRU 2 (f, g), LSTM 3 */
  int n_out;
  int32_t dtype;
  bool weights_const;
} rcase;

static double act_ref(const ref_act *a, double x) {
  const char *f = a->fn;
  double al = a->alpha, be = a->beta;
  if (!strcmp(f, "Relu")) return x > 0 ? x : 0;
  if (!strcmp(f, "Tanh")) return tanh(x);
  if (!strcmp(f, "Sigmoid")) return 1 / (1 + exp(-x));
  if (!strcmp(f, "Affine")) return al * x + be;
  if (!strcmp(f, "LeakyRelu")) return x >= 0 ? x : al * x;
  if (!strcmp(f, "ThresholdedRelu")) return x >= al ? x : 0;
  if (!strcmp(f, "ScaledTanh")) return al * tanh(be * x);
  if (!strcmp(f, "HardSigmoid")) return fmin(fmax(al * x + be, 0), 1);
  if (!strcmp(f, "Elu")) return x >= 0 ? x : al * (exp(x) - 1);
  if (!strcmp(f, "Softsign")) return x / (1 + fabs(x));
  if (!strcmp(f, "Softplus")) return log(1 + exp(x));
  fail_msg("unknown activation %s", f);
  return 0;
}

static int gates_of(int kind) { return kind == RNN ? 1 : kind == GRU ? 3 : 4; }
static int nact_of(int kind) { return kind == RNN ? 1 : kind == GRU ? 2 : 3; }
static int dirs_of(const rcase *k) {
  return k->direction && !strcmp(k->direction, "bidirectional") ? 2 : 1;
}

/* The data of one case, in double (already rounded to the tested type). */
typedef struct rdata {
  double *X, *W, *R, *B, *h0, *c0, *P;
  size_t nX, nW, nR, nB, nh, nP;
} rdata;

static double round_to(int32_t dtype, double v) {
  if (dtype == EMBER_FLOAT) return (double)(float)v;
  if (dtype == EMBER_FLOAT16) return emb_f16_to_f32(emb_f32_to_f16((float)v));
  return v;
}

static double *rnd_vec(size_t n, int32_t dtype, double scale) {
  double *p = malloc((n ? n : 1) * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = round_to(dtype, rnd() * scale);
  return p;
}

static void make_data(const rcase *k, rdata *d) {
  size_t D = (size_t)dirs_of(k), G = (size_t)gates_of(k->kind);
  size_t S = (size_t)k->S, B = (size_t)k->B, I = (size_t)k->I, H = (size_t)k->H;
  d->nX = S * B * I;
  d->nW = D * G * H * I;
  d->nR = D * G * H * H;
  d->nB = D * 2 * G * H;
  d->nh = D * B * H;
  d->nP = D * 3 * H;
  d->X = rnd_vec(d->nX, k->dtype, 1.5);
  d->W = rnd_vec(d->nW, k->dtype, 0.6);
  d->R = rnd_vec(d->nR, k->dtype, 0.6);
  d->B = k->bias ? rnd_vec(d->nB, k->dtype, 0.5) : NULL;
  d->h0 = k->h0 ? rnd_vec(d->nh, k->dtype, 0.8) : NULL;
  d->c0 = k->c0 && k->kind == LSTM ? rnd_vec(d->nh, k->dtype, 0.8) : NULL;
  d->P = k->peep && k->kind == LSTM ? rnd_vec(d->nP, k->dtype, 0.5) : NULL;
}

static void free_data(rdata *d) {
  free(d->X);
  free(d->W);
  free(d->R);
  free(d->B);
  free(d->h0);
  free(d->c0);
  free(d->P);
}

/* Offsets in the layout of the case. */
static size_t xo(const rcase *k, int t, int b) {
  return (size_t)(k->layout ? b * k->S + t : t * k->B + b) * (size_t)k->I;
}
static size_t yo(const rcase *k, int t, int d, int b) {
  int D = dirs_of(k);
  return (size_t)(k->layout ? (b * k->S + t) * D + d : (t * D + d) * k->B + b) *
         (size_t)k->H;
}
static size_t ho(const rcase *k, int d, int b) {
  int D = dirs_of(k);
  return (size_t)(k->layout ? b * D + d : d * k->B + b) * (size_t)k->H;
}

/* The reference: Y (zeros past each length), Y_h, Y_c. */
static void reference(const rcase *k, const rdata *dt, double *Y, double *Yh,
                      double *Yc) {
  int D = dirs_of(k), G = gates_of(k->kind), H = k->H, I = k->I;
  memset(Y, 0, (size_t)k->S * D * k->B * H * sizeof *Y);
  double h[64], c[64], hn[64], gate[4][64], rh[64];
  assert_true(H <= 64);
  for (int d = 0; d < D; d++) {
    bool rev = (k->direction && !strcmp(k->direction, "reverse")) || d == 1;
    const double *W = dt->W + (size_t)d * G * H * I;
    const double *R = dt->R + (size_t)d * G * H * H;
    const double *Wb = dt->B ? dt->B + (size_t)d * 2 * G * H : NULL;
    const double *Rb = dt->B ? Wb + G * H : NULL;
    const double *P = dt->P ? dt->P + (size_t)d * 3 * H : NULL;
    const ref_act *ac = k->expect + d * nact_of(k->kind);
    for (int b = 0; b < k->B; b++) {
      int len = k->lens ? k->lens_v[b] : k->S;
      for (int j = 0; j < H; j++) {
        h[j] = dt->h0 ? dt->h0[ho(k, d, b) + j] : 0;
        c[j] = dt->c0 ? dt->c0[ho(k, d, b) + j] : 0;
      }
      for (int s = 0; s < len; s++) {
        int t = rev ? len - 1 - s : s;
        const double *x = dt->X + xo(k, t, b);
        /* Wx + Rh + Wb + Rb per gate row (GRU's h gate gets its R part
         * below). */
        for (int g = 0; g < G; g++)
          for (int j = 0; j < H; j++) {
            int row = g * H + j;
            double v = 0;
            for (int i = 0; i < I; i++) v += W[(size_t)row * I + i] * x[i];
            if (Wb) v += Wb[row];
            if (!(k->kind == GRU && g == 2)) {
              for (int q = 0; q < H; q++) v += R[(size_t)row * H + q] * h[q];
              if (Rb) v += Rb[row];
            }
            gate[g][j] = v;
          }
#define CL(v) \
  (k->clip > 0 ? fmin(fmax((v), -(double)k->clip), (double)k->clip) : (v))
        if (k->kind == RNN) {
          for (int j = 0; j < H; j++) hn[j] = act_ref(&ac[0], CL(gate[0][j]));
        } else if (k->kind == GRU) {
          double z[64], r[64];
          for (int j = 0; j < H; j++) {
            z[j] = act_ref(&ac[0], CL(gate[0][j]));
            r[j] = act_ref(&ac[0], CL(gate[1][j]));
          }
          for (int j = 0; j < H; j++) {
            int row = 2 * H + j;
            double rb = Rb ? Rb[row] : 0, v = 0;
            if (k->lbr) {
              for (int q = 0; q < H; q++) v += R[(size_t)row * H + q] * h[q];
              v = gate[2][j] + r[j] * (v + rb);
            } else {
              for (int q = 0; q < H; q++)
                v += R[(size_t)row * H + q] * (r[q] * h[q]);
              v = gate[2][j] + v + rb;
            }
            rh[j] = act_ref(&ac[1], CL(v));
          }
          for (int j = 0; j < H; j++) hn[j] = (1 - z[j]) * rh[j] + z[j] * h[j];
        } else {
          for (int j = 0; j < H; j++) {
            double pi = P ? P[j] : 0, po = P ? P[H + j] : 0,
                   pf = P ? P[2 * H + j] : 0;
            double ig = act_ref(&ac[0], CL(gate[0][j] + pi * c[j]));
            double fg = k->input_forget
                            ? 1 - ig
                            : act_ref(&ac[0], CL(gate[2][j] + pf * c[j]));
            double cg = act_ref(&ac[1], CL(gate[3][j]));
            c[j] = fg * c[j] + ig * cg;
            double og = act_ref(&ac[0], CL(gate[1][j] + po * c[j]));
            hn[j] = og * act_ref(&ac[2], c[j]);
          }
        }
#undef CL
        memcpy(h, hn, (size_t)H * sizeof *h);
        for (int j = 0; j < H; j++) Y[yo(k, t, d, b) + j] = h[j];
      }
      for (int j = 0; j < H; j++) {
        Yh[ho(k, d, b) + j] = h[j];
        Yc[ho(k, d, b) + j] = c[j];
      }
    }
  }
}

/* The case's values in its element type (caller frees). */
static void *as_dtype(int32_t dtype, const double *v, size_t n) {
  size_t es = dtype == EMBER_DOUBLE ? 8 : dtype == EMBER_FLOAT ? 4 : 2;
  char *p = malloc((n ? n : 1) * es);
  for (size_t i = 0; i < n; i++) {
    if (dtype == EMBER_DOUBLE)
      ((double *)p)[i] = v[i];
    else if (dtype == EMBER_FLOAT)
      ((float *)p)[i] = (float)v[i];
    else
      ((uint16_t *)p)[i] = emb_f32_to_f16((float)v[i]);
  }
  return p;
}

static double out_at(const emb_tensor *t, size_t i) {
  return emb_tensor_get_f64(t, i);
}

static void check_out(optest *t, int i, int rank, const int64_t *dims,
                      const double *ref, int32_t dtype, const char *what) {
  const emb_value *v = optest_output(t, i);
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  if (v->t.dtype != dtype)
    fail_msg("%s: type %s, expected %s", what, ember_dtype_name(v->t.dtype),
             ember_dtype_name(dtype));
  if (v->t.rank != rank)
    fail_msg("%s: rank %d, expected %d", what, v->t.rank, rank);
  size_t n = 1;
  for (int r = 0; r < rank; r++) {
    if (v->t.dims[r] != dims[r])
      fail_msg("%s: dimension %d is %lld, expected %lld", what, r,
               (long long)v->t.dims[r], (long long)dims[r]);
    n *= (size_t)dims[r];
  }
  double rtol = dtype == EMBER_DOUBLE    ? 1e-11
                : dtype == EMBER_FLOAT16 ? 2e-2
                                         : 2e-4;
  double atol = dtype == EMBER_DOUBLE    ? 1e-12
                : dtype == EMBER_FLOAT16 ? 2e-2
                                         : 2e-5;
  for (size_t e = 0; e < n; e++) {
    double a = out_at(&v->t, e), x = ref[e];
    if (!(fabs(a - x) <= atol + rtol * fabs(x)))
      fail_msg("%s: element %zu is %.9g, expected %.9g", what, e, a, x);
  }
}

static const char *const op_names[] = {"RNN", "GRU", "LSTM"};

/* Build the node for a case (inputs from dt); the caller runs it. */
static optest *build(const rcase *k, const rdata *dt, void **bufs,
                     int32_t *lens_buf) {
  int D = dirs_of(k), G = gates_of(k->kind);
  optest *t = optest_new(op_names[k->kind], k->opset ? k->opset : 22);
  if (!k->hidden_attr_absent) optest_attr_int(t, "hidden_size", k->H);
  if (k->direction) optest_attr_string(t, "direction", k->direction);
  if (k->layout) optest_attr_int(t, "layout", k->layout);
  if (k->lbr) optest_attr_int(t, "linear_before_reset", k->lbr);
  if (k->input_forget) optest_attr_int(t, "input_forget", 1);
  if (k->clip > 0) optest_attr_float(t, "clip", k->clip);
  if (k->n_acts)
    optest_attr_strings(t, "activations", (size_t)k->n_acts, k->acts);
  if (k->n_alpha)
    optest_attr_floats(t, "activation_alpha", (size_t)k->n_alpha, k->alpha);
  if (k->n_beta)
    optest_attr_floats(t, "activation_beta", (size_t)k->n_beta, k->beta);
  int64_t xd[3] = {k->layout ? k->B : k->S, k->layout ? k->S : k->B, k->I};
  int64_t wd[3] = {D, G * k->H, k->I}, rd[3] = {D, G * k->H, k->H};
  int64_t bd[2] = {D, 2 * G * k->H}, ld[1] = {k->B}, pd[2] = {D, 3 * k->H};
  int64_t hd[3] = {k->layout ? k->B : D, k->layout ? D : k->B, k->H};
  int32_t ty = k->dtype;
  bufs[0] = as_dtype(ty, dt->X, dt->nX);
  bufs[1] = as_dtype(ty, dt->W, dt->nW);
  bufs[2] = as_dtype(ty, dt->R, dt->nR);
  optest_input(t, ty, 3, xd, bufs[0]);
  if (k->weights_const) {
    optest_input_const(t, ty, 3, wd, bufs[1]);
    optest_input_const(t, ty, 3, rd, bufs[2]);
  } else {
    optest_input(t, ty, 3, wd, bufs[1]);
    optest_input(t, ty, 3, rd, bufs[2]);
  }
  /* The optional inputs up to the last one present. */
  bool lstm = k->kind == LSTM;
  bool present[8] = {true,    true,  true,          k->bias,
                     k->lens, k->h0, k->c0 && lstm, k->peep && lstm};
  int last = 2;
  for (int i = 3; i < 8; i++)
    if (present[i]) last = i;
  for (int i = 3; i <= last; i++) {
    if (!present[i]) {
      optest_input_none(t);
      continue;
    }
    switch (i) {
      case 3:
        bufs[3] = as_dtype(ty, dt->B, dt->nB);
        optest_input(t, ty, 2, bd, bufs[3]);
        break;
      case 4:
        for (int b = 0; b < k->B; b++) lens_buf[b] = k->lens_v[b];
        optest_input(t, EMBER_INT32, 1, ld, lens_buf);
        break;
      case 5:
        bufs[4] = as_dtype(ty, dt->h0, dt->nh);
        optest_input(t, ty, 3, hd, bufs[4]);
        break;
      case 6:
        bufs[5] = as_dtype(ty, dt->c0, dt->nh);
        optest_input(t, ty, 3, hd, bufs[5]);
        break;
      default:
        bufs[6] = as_dtype(ty, dt->P, dt->nP);
        optest_input(t, ty, 2, pd, bufs[6]);
        break;
    }
  }
  optest_outputs(t, k->n_out ? k->n_out : (k->kind == LSTM ? 3 : 2));
  return t;
}

/* Run a case against the reference. */
static void run_case(const rcase *k, const char *what) {
  rdata dt;
  make_data(k, &dt);
  int D = dirs_of(k);
  size_t ny = (size_t)k->S * D * k->B * k->H, nh = (size_t)D * k->B * k->H;
  double *Y = malloc((ny ? ny : 1) * sizeof *Y);
  double *Yh = malloc((nh ? nh : 1) * sizeof *Yh);
  double *Yc = malloc((nh ? nh : 1) * sizeof *Yc);
  reference(k, &dt, Y, Yh, Yc);
  void *bufs[7] = {0};
  int32_t lens_buf[16];
  optest *t = build(k, &dt, bufs, lens_buf);
  ember_status st = optest_run(t);
  if (st) fail_msg("%s: run failed (%d): %s", what, (int)st, optest_errmsg(t));
  int n_out = k->n_out ? k->n_out : (k->kind == LSTM ? 3 : 2);
  int64_t ydims[4], hdims[3];
  if (k->layout) {
    int64_t y[4] = {k->B, k->S, D, k->H}, h[3] = {k->B, D, k->H};
    memcpy(ydims, y, sizeof y);
    memcpy(hdims, h, sizeof h);
  } else {
    int64_t y[4] = {k->S, D, k->B, k->H}, h[3] = {D, k->B, k->H};
    memcpy(ydims, y, sizeof y);
    memcpy(hdims, h, sizeof h);
  }
  char buf[160];
  snprintf(buf, sizeof buf, "%s (Y)", what);
  check_out(t, 0, 4, ydims, Y, k->dtype, buf);
  if (n_out > 1) {
    snprintf(buf, sizeof buf, "%s (Y_h)", what);
    check_out(t, 1, 3, hdims, Yh, k->dtype, buf);
  }
  if (n_out > 2) {
    snprintf(buf, sizeof buf, "%s (Y_c)", what);
    check_out(t, 2, 3, hdims, Yc, k->dtype, buf);
  }
  optest_free(t);
  for (int i = 0; i < 7; i++) free(bufs[i]);
  free(Y);
  free(Yh);
  free(Yc);
  free_data(&dt);
}

static const ref_act TANH = {"Tanh", 0, 0}, SIGM = {"Sigmoid", 0, 0};

/* Default activations of a kind, for `dirs` directions. */
static void default_acts(rcase *k) {
  for (int d = 0; d < 2; d++) {
    if (k->kind == RNN) {
      k->expect[d] = TANH;
    } else if (k->kind == GRU) {
      k->expect[2 * d] = SIGM;
      k->expect[2 * d + 1] = TANH;
    } else {
      k->expect[3 * d] = SIGM;
      k->expect[3 * d + 1] = TANH;
      k->expect[3 * d + 2] = TANH;
    }
  }
}

static rcase base(int kind, int S, int B, int I, int H) {
  rcase k;
  memset(&k, 0, sizeof k);
  k.kind = kind;
  k.S = S;
  k.B = B;
  k.I = I;
  k.H = H;
  k.dtype = EMBER_FLOAT;
  default_acts(&k);
  return k;
}

/* ------------------------------------------------------------------ RNN */

static void test_rnn_basic(void **state) {
  (void)state;
  rcase k = base(RNN, 3, 2, 3, 4);
  run_case(&k, "forward, no bias");
  k.bias = k.h0 = true;
  run_case(&k, "forward, bias and initial_h");
  k.direction = "reverse";
  run_case(&k, "reverse");
  k.direction = "bidirectional";
  k.weights_const = true;
  run_case(&k, "bidirectional, constant weights");
  k.n_out = 1;
  run_case(&k, "Y only");
}

static void test_rnn_seq_lens_layout(void **state) {
  (void)state;
  for (int layout = 0; layout < 2; layout++)
    for (int dir = 0; dir < 3; dir++) {
      rcase k = base(RNN, 4, 4, 2, 3);
      static const char *const dirs[] = {"forward", "reverse", "bidirectional"};
      k.direction = dirs[dir];
      k.layout = layout;
      k.bias = k.h0 = k.lens = true;
      int lv[4] = {4, 1, 0, 3};
      memcpy(k.lens_v, lv, sizeof lv);
      char what[80];
      snprintf(what, sizeof what, "sequence_lens, %s, layout %d", dirs[dir],
               layout);
      run_case(&k, what);
    }
}

static void test_rnn_activations(void **state) {
  (void)state;
  /* Every function, with the defaults of its ONNX operator and then with
   * explicit parameters. */
  static const struct {
    const char *fn;
    double a, b; /* defaults */
    int na, nb;  /* parameters it takes */
  } fns[] = {{"Relu", 0, 0, 0, 0},         {"Tanh", 0, 0, 0, 0},
             {"Sigmoid", 0, 0, 0, 0},      {"Affine", 1, 0, 1, 1},
             {"LeakyRelu", 0.01, 0, 1, 0}, {"ThresholdedRelu", 1, 0, 1, 0},
             {"ScaledTanh", 1, 1, 1, 1},   {"HardSigmoid", 0.2, 0.5, 1, 1},
             {"Elu", 1, 0, 1, 0},          {"Softsign", 0, 0, 0, 0},
             {"Softplus", 0, 0, 0, 0}};
  for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++)
    for (int explicit_ab = 0; explicit_ab < 2; explicit_ab++) {
      rcase k = base(RNN, 3, 2, 3, 4);
      k.bias = k.h0 = true;
      k.n_acts = 1;
      k.acts[0] = fns[f].fn;
      k.expect[0] = (ref_act){fns[f].fn, fns[f].a, fns[f].b};
      if (explicit_ab) {
        k.n_alpha = k.n_beta = 1;
        k.alpha[0] = 0.35f;
        k.beta[0] = 0.7f;
        if (fns[f].na) k.expect[0].alpha = 0.35f;
        if (fns[f].nb) k.expect[0].beta = 0.7f;
      }
      char what[80];
      snprintf(what, sizeof what, "activation %s%s", fns[f].fn,
               explicit_ab ? " with alpha/beta" : "");
      run_case(&k, what);
    }
  /* Names are matched without regard to case; a bidirectional layer has
   * its own function per direction. */
  rcase k = base(RNN, 3, 2, 3, 4);
  k.direction = "bidirectional";
  k.n_acts = 2;
  k.acts[0] = "relu";
  k.acts[1] = "LeakyRelu";
  k.n_alpha = 1;
  k.alpha[0] = 0.25f;
  k.expect[0] = (ref_act){"Relu", 0, 0};
  k.expect[1] = (ref_act){"LeakyRelu", 0.25f, 0};
  run_case(&k, "bidirectional Relu / LeakyRelu");
  /* The forward default list ['Tanh', 'Tanh'] is accepted for one
   * direction. */
  k = base(RNN, 2, 1, 2, 2);
  k.n_acts = 2;
  k.acts[0] = "Tanh";
  k.acts[1] = "Tanh";
  run_case(&k, "two activations, forward");
}

static void test_rnn_clip_sizes(void **state) {
  (void)state;
  rcase k = base(RNN, 3, 2, 3, 4);
  k.bias = true;
  k.clip = 0.3f;
  k.n_acts = 1;
  k.acts[0] = "Affine"; /* clipping visible through a linear function */
  k.expect[0] = (ref_act){"Affine", 1, 0};
  run_case(&k, "clip");
  /* Around the GEMM kernel's 4 x 8 register tile. */
  int sizes[][4] = {{1, 1, 1, 1}, {5, 9, 17, 13}, {2, 4, 8, 8}, {3, 5, 9, 16}};
  for (size_t i = 0; i < 4; i++) {
    for (int kind = 0; kind < 3; kind++) {
      rcase q = base(kind, sizes[i][0], sizes[i][1], sizes[i][2], sizes[i][3]);
      q.bias = q.h0 = q.c0 = true;
      q.peep = kind == LSTM;
      q.direction = "bidirectional";
      char what[80];
      snprintf(what, sizeof what, "%s S=%d B=%d I=%d H=%d", op_names[kind], q.S,
               q.B, q.I, q.H);
      run_case(&q, what);
    }
  }
}

/* ------------------------------------------------------------------ GRU */

static void test_gru(void **state) {
  (void)state;
  for (int lbr = 0; lbr < 2; lbr++)
    for (int dir = 0; dir < 3; dir++)
      for (int layout = 0; layout < 2; layout++) {
        static const char *const dirs[] = {"forward", "reverse",
                                           "bidirectional"};
        rcase k = base(GRU, 4, 3, 3, 5);
        k.lbr = lbr;
        k.direction = dirs[dir];
        k.layout = layout;
        k.bias = k.h0 = true;
        char what[96];
        snprintf(what, sizeof what, "GRU lbr=%d %s layout %d", lbr, dirs[dir],
                 layout);
        run_case(&k, what);
        k.lens = true;
        int lv[3] = {2, 4, 0};
        memcpy(k.lens_v, lv, sizeof lv);
        k.clip = 0.7f;
        strcat(what, " lens clip");
        run_case(&k, what);
      }
}

static void test_gru_activation_params(void **state) {
  (void)state;
  /* One direction's list reused for both; alpha and beta consumed in
   * order by the functions that take them. */
  rcase k = base(GRU, 3, 2, 3, 4);
  k.direction = "bidirectional";
  k.bias = true;
  k.n_acts = 2;
  k.acts[0] = "HardSigmoid";
  k.acts[1] = "ScaledTanh";
  k.n_alpha = 2;
  k.alpha[0] = 0.3f;
  k.alpha[1] = 0.8f;
  k.n_beta = 2;
  k.beta[0] = 0.4f;
  k.beta[1] = 1.2f;
  ref_act hs = {"HardSigmoid", 0.3f, 0.4f}, st = {"ScaledTanh", 0.8f, 1.2f};
  k.expect[0] = k.expect[2] = hs;
  k.expect[1] = k.expect[3] = st;
  run_case(&k, "GRU HardSigmoid / ScaledTanh, one list for two directions");
  /* Four functions; Tanh takes nothing, so the alphas go to LeakyRelu
   * and Elu. */
  k.n_acts = 4;
  k.acts[0] = "Sigmoid";
  k.acts[1] = "LeakyRelu";
  k.acts[2] = "Softsign";
  k.acts[3] = "Elu";
  k.n_alpha = 2;
  k.alpha[0] = 0.2f;
  k.alpha[1] = 0.6f;
  k.n_beta = 0;
  k.expect[0] = SIGM;
  k.expect[1] = (ref_act){"LeakyRelu", 0.2f, 0};
  k.expect[2] = (ref_act){"Softsign", 0, 0};
  k.expect[3] = (ref_act){"Elu", 0.6f, 0};
  run_case(&k, "GRU four activations");
}

static void test_gru_old_opsets(void **state) {
  (void)state;
  rcase k = base(GRU, 3, 2, 3, 4);
  k.bias = k.h0 = true;
  k.opset = 7;
  run_case(&k, "GRU-7");
  k.opset = 3;
  k.lbr = 1;
  run_case(&k, "GRU-3 linear_before_reset");
  k.opset = 13;
  k.direction = "bidirectional";
  k.hidden_attr_absent = true;
  run_case(&k, "GRU-13 hidden_size from R");
}

/* ----------------------------------------------------------------- LSTM */

static void test_lstm(void **state) {
  (void)state;
  for (int dir = 0; dir < 3; dir++)
    for (int layout = 0; layout < 2; layout++)
      for (int variant = 0; variant < 3; variant++) {
        static const char *const dirs[] = {"forward", "reverse",
                                           "bidirectional"};
        rcase k = base(LSTM, 4, 3, 3, 5);
        k.direction = dirs[dir];
        k.layout = layout;
        k.bias = k.h0 = k.c0 = true;
        k.peep = variant >= 1;
        k.input_forget = variant == 2;
        if (variant == 2) {
          k.lens = true;
          int lv[3] = {3, 0, 4};
          memcpy(k.lens_v, lv, sizeof lv);
          k.clip = 0.9f;
        }
        char what[96];
        snprintf(what, sizeof what, "LSTM %s layout %d variant %d", dirs[dir],
                 layout, variant);
        run_case(&k, what);
      }
  /* Only X, W, R; only the first one or two outputs. */
  rcase k = base(LSTM, 2, 1, 2, 3);
  k.n_out = 1;
  run_case(&k, "LSTM Y only");
  k.n_out = 2;
  k.peep = true; /* P after three omitted inputs */
  run_case(&k, "LSTM Y, Y_h, peepholes only");
  /* Own functions f, g, h per direction. */
  k = base(LSTM, 3, 2, 3, 4);
  k.direction = "bidirectional";
  k.n_acts = 6;
  const char *acts[6] = {"Sigmoid",     "Tanh",     "Tanh",
                         "HardSigmoid", "Softsign", "ScaledTanh"};
  memcpy(k.acts, acts, sizeof acts);
  k.n_alpha = 2;
  k.alpha[0] = 0.25f;
  k.alpha[1] = 1.5f;
  k.n_beta = 1;
  k.beta[0] = 0.45f;
  k.expect[3] = (ref_act){"HardSigmoid", 0.25f, 0.45f};
  k.expect[4] = (ref_act){"Softsign", 0, 0};
  k.expect[5] = (ref_act){"ScaledTanh", 1.5f, 1.0};
  run_case(&k, "LSTM six activations");
  /* Opset 1 and 7 forms. */
  k = base(LSTM, 3, 2, 3, 4);
  k.bias = k.peep = true;
  k.opset = 1;
  run_case(&k, "LSTM-1");
  k.opset = 7;
  run_case(&k, "LSTM-7");
}

static void test_types(void **state) {
  (void)state;
  for (int kind = 0; kind < 3; kind++) {
    rcase k = base(kind, 3, 2, 3, 4);
    k.direction = "bidirectional";
    k.bias = k.h0 = k.c0 = k.lens = true;
    k.peep = kind == LSTM;
    k.lens_v[0] = 3;
    k.lens_v[1] = 2;
    k.dtype = EMBER_DOUBLE;
    char what[64];
    snprintf(what, sizeof what, "%s float64", op_names[kind]);
    run_case(&k, what);
    k.dtype = EMBER_FLOAT16;
    snprintf(what, sizeof what, "%s float16", op_names[kind]);
    run_case(&k, what);
  }
}

static void test_empty(void **state) {
  (void)state;
  /* No time steps: Y is empty, the states stay the initial ones. */
  for (int kind = 0; kind < 3; kind++) {
    rcase k = base(kind, 0, 2, 3, 4);
    k.h0 = k.c0 = true;
    k.direction = "bidirectional";
    run_case(&k, "S = 0");
    k = base(kind, 3, 0, 3, 4);
    run_case(&k, "B = 0");
    k = base(kind, 2, 2, 0, 3);
    k.bias = true;
    run_case(&k, "I = 0");
  }
}

/* ------------------------------------------------------------------ errors */

static void must_fail(optest *t, ember_status want, const char *part) {
  ember_status st = optest_run(t);
  const char *msg = optest_errmsg(t);
  if (st != want)
    fail_msg("status %d, expected %d (message: %s)", (int)st, (int)want, msg);
  if (!strstr(msg, "'n0'"))
    fail_msg("message '%s' does not name the node", msg);
  if (part && !strstr(msg, part))
    fail_msg("message '%s' lacks '%s'", msg, part);
  optest_free(t);
}

/* X [2, 1, I], W and R of one direction; hidden_size H unless H is 0
 * (then the caller sets it). */
static optest *simple(const char *op, int G, int H, int I) {
  static float x[64], w[256], r[256];
  int h = H ? H : 2;
  int64_t xd[3] = {2, 1, I}, wd[3] = {1, G * h, I}, rd[3] = {1, G * h, h};
  optest *t = optest_new(op, 22);
  if (H) optest_attr_int(t, "hidden_size", H);
  optest_input(t, EMBER_FLOAT, 3, xd, x);
  optest_input(t, EMBER_FLOAT, 3, wd, w);
  optest_input(t, EMBER_FLOAT, 3, rd, r);
  optest_outputs(t, 2);
  return t;
}

static void test_errors(void **state) {
  (void)state;
  optest *t = simple("RNN", 1, 2, 3);
  optest_attr_string(t, "direction", "sideways");
  must_fail(t, EMBER_ERR_INVALID_MODEL, "sideways");

  t = simple("GRU", 3, 2, 3);
  const char *bad[2] = {"Sigmoid", "Swish"};
  optest_attr_strings(t, "activations", 2, bad);
  must_fail(t, EMBER_ERR_UNSUPPORTED, "Swish");

  t = simple("LSTM", 4, 2, 3);
  const char *few[2] = {"Sigmoid", "Tanh"};
  optest_attr_strings(t, "activations", 2, few);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "activations");

  t = simple("RNN", 1, 2, 3);
  optest_attr_int(t, "layout", 2);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "layout");

  t = simple("RNN", 1, 0, 3);
  optest_attr_int(t, "hidden_size", 0);
  must_fail(t, EMBER_ERR_INVALID_MODEL, "hidden_size");

  /* W with the rows of another hidden size. */
  t = simple("GRU", 2, 2, 3);
  must_fail(t, EMBER_ERR_SHAPE, "W");

  /* W's input size disagrees with X. */
  {
    static float x[6], w[8], r[4];
    int64_t xd[3] = {2, 1, 3}, wd[3] = {1, 2, 4}, rd[3] = {1, 2, 2};
    t = optest_new("RNN", 22);
    optest_attr_int(t, "hidden_size", 2);
    optest_input(t, EMBER_FLOAT, 3, xd, x);
    optest_input(t, EMBER_FLOAT, 3, wd, w);
    optest_input(t, EMBER_FLOAT, 3, rd, r);
    must_fail(t, EMBER_ERR_SHAPE, "W");
  }

  /* Bidirectional needs two directions of weights. */
  t = simple("RNN", 1, 2, 3);
  optest_attr_string(t, "direction", "bidirectional");
  must_fail(t, EMBER_ERR_SHAPE, "W");

  /* sequence_lens beyond seq_length. */
  {
    static float x[6], w[6], r[4];
    static int32_t lens[1] = {3};
    int64_t xd[3] = {2, 1, 3}, wd[3] = {1, 2, 3}, rd[3] = {1, 2, 2};
    int64_t ld[1] = {1};
    t = optest_new("RNN", 22);
    optest_attr_int(t, "hidden_size", 2);
    optest_input(t, EMBER_FLOAT, 3, xd, x);
    optest_input(t, EMBER_FLOAT, 3, wd, w);
    optest_input(t, EMBER_FLOAT, 3, rd, r);
    optest_input_none(t);
    optest_input(t, EMBER_INT32, 1, ld, lens);
    must_fail(t, EMBER_ERR_RUNTIME, "sequence_lens");
  }

  /* Mixed element types. */
  {
    static float x[6], r[4];
    static double w[6];
    int64_t xd[3] = {2, 1, 3}, wd[3] = {1, 2, 3}, rd[3] = {1, 2, 2};
    t = optest_new("RNN", 22);
    optest_attr_int(t, "hidden_size", 2);
    optest_input(t, EMBER_FLOAT, 3, xd, x);
    optest_input(t, EMBER_DOUBLE, 3, wd, w);
    optest_input(t, EMBER_FLOAT, 3, rd, r);
    must_fail(t, EMBER_ERR_TYPE, "W");
  }

  /* Integer X is not a recurrent layer's type. */
  {
    static int32_t x[6];
    static float w[6], r[4];
    int64_t xd[3] = {2, 1, 3}, wd[3] = {1, 2, 3}, rd[3] = {1, 2, 2};
    t = optest_new("RNN", 22);
    optest_attr_int(t, "hidden_size", 2);
    optest_input(t, EMBER_INT32, 3, xd, x);
    optest_input(t, EMBER_FLOAT, 3, wd, w);
    optest_input(t, EMBER_FLOAT, 3, rd, r);
    must_fail(t, EMBER_ERR_UNSUPPORTED, "int32");
  }
}

int main(void) {
  /* Name the definitions so that a static link keeps their objects (the
   * registry refers to them weakly). */
  volatile const void *keep[] = {&emb_op_rnn, &emb_op_gru, &emb_op_lstm};
  (void)keep;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rnn_basic),
      cmocka_unit_test(test_rnn_seq_lens_layout),
      cmocka_unit_test(test_rnn_activations),
      cmocka_unit_test(test_rnn_clip_sizes),
      cmocka_unit_test(test_gru),
      cmocka_unit_test(test_gru_activation_params),
      cmocka_unit_test(test_gru_old_opsets),
      cmocka_unit_test(test_lstm),
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
