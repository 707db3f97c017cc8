/*
 * The optimizer update rules of the ai.onnx.preview.training domain:
 * Adagrad, Adam and Momentum (standard or Nesterov).  Each takes a
 * learning rate R and an update count T (scalars), then runs of n inputs:
 * the tensors X being optimized, their gradients G, and their optimizer
 * state (Adagrad: accumulated squared gradient H; Adam: averaged gradient
 * V, then averaged squared gradient H; Momentum: momentum V).  It gives
 * runs of n outputs: the new X, then the new state in the order of the
 * inputs.  The updates are element-wise formulas from the spec, evaluated
 * in double for every element and stored in each tensor's own type (float
 * or double; the variadic inputs may mix them).  G and the state must
 * have their X's shape: the spec's broadcasting has no shape to give a
 * broadcast state, so it is not taken further.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/op.h"

enum { OPT_ADAGRAD, OPT_ADAM, OPT_MOMENTUM };

typedef struct opt_state {
  int kind;
  int n;       /* tensors optimized                                  */
  int runs;    /* input runs of n after R and T (X, G, state...)     */
  double decay, eps, norm, norm_post, alpha, beta;
  bool nesterov;
} opt_state;

static ember_status opt_float(const emb_node *n, const char *name, float def,
                              bool required, double *out, emb_diag *d) {
  if (required && !emb_node_attr(n, name))
    return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                       "attribute '%s' is required", name);
  float f;
  ember_status st = emb_attr_float(n, name, def, &f, d);
  *out = f;
  return st;
}

static ember_status opt_init(emb_init_ctx *c, int kind) {
  const emb_node *n = c->node;
  opt_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->kind = kind;
  s->runs = kind == OPT_ADAM ? 4 : 3;
  int vars = n->n_in - 2;
  if (vars < s->runs || vars % s->runs)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "expects R, T and %d runs of n >= 1 tensors "
                       "(%s), not %d inputs",
                       s->runs,
                       kind == OPT_ADAM       ? "X, G, V, H"
                       : kind == OPT_ADAGRAD ? "X, G, H"
                                              : "X, G, V",
                       n->n_in);
  s->n = vars / s->runs;
  if (n->n_out > (s->runs - 1) * s->n)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "%d outputs for %d optimized tensors (at most %d)",
                       n->n_out, s->n, (s->runs - 1) * s->n);
  ember_status st = EMBER_OK;
  switch (kind) {
    case OPT_ADAGRAD:
      if ((st = opt_float(n, "decay_factor", 0, false, &s->decay, c->diag)) ||
          (st = opt_float(n, "epsilon", 0, false, &s->eps, c->diag)) ||
          (st = opt_float(n, "norm_coefficient", 0, false, &s->norm,
                          c->diag)))
        return st;
      break;
    case OPT_ADAM:
      if ((st = opt_float(n, "alpha", 0.9f, false, &s->alpha, c->diag)) ||
          (st = opt_float(n, "beta", 0.999f, false, &s->beta, c->diag)) ||
          (st = opt_float(n, "epsilon", 0, false, &s->eps, c->diag)) ||
          (st = opt_float(n, "norm_coefficient", 0, false, &s->norm,
                          c->diag)) ||
          (st = opt_float(n, "norm_coefficient_post", 0, false, &s->norm_post,
                          c->diag)))
        return st;
      break;
    default: {
      const char *mode;
      if ((st = opt_float(n, "alpha", 0, true, &s->alpha, c->diag)) ||
          (st = opt_float(n, "beta", 0, true, &s->beta, c->diag)) ||
          (st = opt_float(n, "norm_coefficient", 0, true, &s->norm,
                          c->diag)))
        return st;
      if (!emb_node_attr(n, "mode"))
        return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                           "attribute 'mode' is required");
      if ((st = emb_attr_string(n, "mode", "", &mode, c->diag))) return st;
      if (strcmp(mode, "nesterov") == 0)
        s->nesterov = true;
      else if (strcmp(mode, "standard") != 0)
        return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                           "mode '%s' is neither 'standard' nor 'nesterov'",
                           mode);
      break;
    }
  }
  c->node->state = s;
  return EMBER_OK;
}

static ember_status adagrad_init(emb_init_ctx *c) {
  return opt_init(c, OPT_ADAGRAD);
}
static ember_status adam_init(emb_init_ctx *c) {
  return opt_init(c, OPT_ADAM);
}
static ember_status momentum_init(emb_init_ctx *c) {
  return opt_init(c, OPT_MOMENTUM);
}

static const char *const run_names[3][4] = {
    {"X", "G", "H", ""}, {"X", "G", "V", "H"}, {"X", "G", "V", ""}};

/* R and T hold one value each. */
static ember_status opt_check_scalar(emb_infer_ctx *c, int i,
                                     const char *name) {
  const emb_type *t = c->in[i];
  if (!t)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "input %s is required", name);
  if (!t->kind || t->rank < 0) return EMBER_OK;
  for (int k = 0; k < t->rank; k++)
    if (t->dims[k].v >= 0 && t->dims[k].v != 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "input %s must be a scalar, not of %lld elements "
                         "along axis %d",
                         name, (long long)t->dims[k].v, k);
  return EMBER_OK;
}

static ember_status opt_infer(emb_infer_ctx *c) {
  const opt_state *s = c->node->state;
  static const int32_t fl[] = {EMBER_FLOAT, EMBER_DOUBLE, 0};
  static const int32_t i64[] = {EMBER_INT64, 0};
  const char *const *names = run_names[s->kind];
  ember_status st;
  if ((st = opt_check_scalar(c, 0, "R")) ||
      (st = opt_check_scalar(c, 1, "T")) ||
      (st = emb_infer_check_dtype(c, 0, fl)) ||
      (st = emb_infer_check_dtype(c, 1, i64)))
    return st;
  for (int i = 0; i < s->n; i++) {
    const emb_type *x = c->in[2 + i];
    for (int r = 0; r < s->runs; r++) {
      int k = 2 + r * s->n + i;
      const emb_type *t = c->in[k];
      if (!t)
        return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                           "input %d (%s of tensor %d) is required", k,
                           names[r], i + 1);
      if ((st = emb_infer_check_dtype(c, k, fl))) return st;
      if (r == 0 || !x->kind || !t->kind || x->rank < 0 || t->rank < 0)
        continue;
      bool same = x->rank == t->rank;
      for (int a = 0; same && a < x->rank; a++)
        if (x->dims[a].v >= 0 && t->dims[a].v >= 0 &&
            x->dims[a].v != t->dims[a].v)
          same = false;
      if (!same) {
        char bx[128], bt[128];
        return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                           "input %d (%s of tensor %d) has the shape %s, "
                           "not X's %s",
                           k, names[r], i + 1,
                           emb_type_str(t, NULL, bt, sizeof bt),
                           emb_type_str(x, NULL, bx, sizeof bx));
      }
    }
  }
  /* Output run g is input run g + 1 (X, then the state after G), each
   * keeping its input's type. */
  for (int j = 0; j < c->n_out; j++) {
    int g = j / s->n, i = j % s->n;
    c->out[j] = *c->in[2 + (g ? g + 1 : 0) * s->n + i];
  }
  return EMBER_OK;
}

/* Element access in a float or double tensor. */
static double opt_ld(const emb_tensor *t, size_t i) {
  return t->dtype == EMBER_DOUBLE ? ((const double *)t->data)[i]
                                  : (double)((const float *)t->data)[i];
}
static void opt_st(emb_tensor *t, size_t i, double v) {
  if (!t) return;
  if (t->dtype == EMBER_DOUBLE)
    ((double *)t->data)[i] = v;
  else
    ((float *)t->data)[i] = (float)v;
}

static ember_status opt_run(emb_run_ctx *c) {
  const opt_state *s = c->node->state;
  const int n = s->n;
  double R = emb_tensor_get_f64(emb_in_t(c, 0), 0);
  int64_t T = emb_tensor_get_i64(emb_in_t(c, 1), 0);
  /* The scalar factors of the three rules. */
  double rate = R;
  if (s->kind == OPT_ADAGRAD) {
    rate = R / (1.0 + (double)T * s->decay);
  } else if (s->kind == OPT_ADAM && T > 0) {
    rate = R * sqrt(1.0 - pow(s->beta, (double)T)) /
           (1.0 - pow(s->alpha, (double)T));
  }
  double beta_adj = T > 0 ? s->beta : 1.0; /* Momentum */
  for (int i = 0; i < n; i++) {
    const emb_tensor *x = emb_in_t(c, 2 + i), *g = emb_in_t(c, 2 + n + i);
    const emb_tensor *s1 = emb_in_t(c, 2 + 2 * n + i);
    const emb_tensor *s2 = s->runs > 3 ? emb_in_t(c, 2 + 3 * n + i) : NULL;
    emb_tensor *xo = emb_out_t(c, i), *s1o = emb_out_t(c, n + i);
    emb_tensor *s2o = emb_out_t(c, 2 * n + i);
    size_t cnt = emb_tensor_numel(x);
    for (size_t e = 0; e < cnt; e++) {
      double xv = opt_ld(x, e);
      double gr = s->norm * xv + opt_ld(g, e); /* G + d(0.5 c |X|^2) */
      switch (s->kind) {
        case OPT_ADAGRAD: {
          double h = opt_ld(s1, e) + gr * gr;
          opt_st(xo, e, xv - rate * gr / (sqrt(h) + s->eps));
          opt_st(s1o, e, h);
          break;
        }
        case OPT_ADAM: {
          double v = s->alpha * opt_ld(s1, e) + (1.0 - s->alpha) * gr;
          double h = s->beta * opt_ld(s2, e) + (1.0 - s->beta) * gr * gr;
          double xn = xv - rate * v / (sqrt(h) + s->eps);
          opt_st(xo, e, (1.0 - s->norm_post) * xn);
          opt_st(s1o, e, v);
          opt_st(s2o, e, h);
          break;
        }
        default: {
          double v = s->alpha * opt_ld(s1, e) + beta_adj * gr;
          opt_st(xo, e,
                 s->nesterov ? xv - R * (gr + s->alpha * v) : xv - R * v);
          opt_st(s1o, e, v);
          break;
        }
      }
    }
  }
  return EMBER_OK;
}

const emb_opdef emb_op_adagrad = {3, -1, 1, -1, EMB_OP_VARIADIC_OUT,
                                  adagrad_init, opt_infer, opt_run};
const emb_opdef emb_op_adam = {3, -1, 1, -1, EMB_OP_VARIADIC_OUT, adam_init,
                               opt_infer, opt_run};
const emb_opdef emb_op_momentum = {3, -1, 1, -1, EMB_OP_VARIADIC_OUT,
                                   momentum_init, opt_infer, opt_run};
