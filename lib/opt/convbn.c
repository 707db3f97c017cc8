/*
 * Per-channel affine folding.  A BatchNormalization at inference is, per
 * channel c, y -> y * s[c] + t[c] with s = scale / sqrt(var + epsilon) and
 * t = B - mean * s; so is a Mul, Add or Sub (y - k) by a constant k that
 * varies at most along the channel axis (shapes [C,1,1], [1,C,1,1], [1],
 * scalars...).  Such a map is folded into the node that produces its
 * input when that node's result is read by the map alone:
 *
 *   Conv with constant weights W (and bias b, if any) absorbs it as
 *     W'[c,...] = W[c,...] * s[c],   b'[c] = b[c] * s[c] + t[c]
 *   (the Conv gains a bias input when it had none);
 *   BatchNormalization with constant scale and B absorbs it as
 *     scale'[c] = scale[c] * s[c],   B'[c] = B[c] * s[c] + t[c].
 *
 * The map's node is removed and its output value is written by the
 * absorbing node instead.  Chains fold one link at a time (Conv -> BN ->
 * Mul -> Add becomes one Conv).  The folded constants are computed in
 * double and stored in the weights' own type (float32 or float64 for
 * Conv); a weight tensor nothing else reads is updated in place, so
 * folding does not double the model's weight memory.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "opt/opt.h"

/* BatchNormalization node n computes with the given statistics
 * (inference mode) and one parameter per channel. */
static bool emb_bn_inference(const emb_node *n) {
  emb_diag scratch;
  int64_t v;
  emb_diag_clear(&scratch);
  if (n->n_in != 5 || n->in[0] < 0) return false;
  for (int k = 1; k < 5; k++)
    if (n->in[k] < 0) return false;
  if (n->opset >= 14 &&
      (emb_attr_int(n, "training_mode", 0, &v, &scratch) || v != 0))
    return false;
  if (n->opset < 9 && (emb_attr_int(n, "spatial", 1, &v, &scratch) || v == 0))
    return false;
  return true;
}

/* The per-channel values of constant k broadcast against a tensor of rank
 * r with C channels on axis 1, without changing that tensor's shape. */
static bool emb_channel_vec(const emb_tensor *k, int r, int64_t C, double *v) {
  if (k->rank > r || !emb_dtype_is_float(k->dtype)) return false;
  bool per = false;
  for (int d = 0; d < k->rank; d++) {
    int axis = r - k->rank + d;
    if (k->dims[d] == 1) continue;
    if (axis != 1 || k->dims[d] != C) return false;
    per = true;
  }
  for (int64_t c = 0; c < C; c++)
    v[c] = emb_tensor_get_f64(k, per ? (size_t)c : 0);
  return true;
}

/* Whether node j, the sole reader of y (rank r, C channels, element type
 * dt), maps y -> y * s[c] + t[c]; fills s and t.  A BatchNormalization
 * qualifies only when `bn` is set and its statistics outputs are unread
 * (the node is about to be removed). */
static bool emb_channel_affine(const emb_opt *o, int j, int y, int r, int64_t C,
                               int32_t dt, bool bn, double *s, double *t) {
  const emb_graph *g = o->g;
  const emb_node *n = &g->nodes[j];
  if (n->n_out < 1 || n->out[0] < 0 || n->n_implicit) return false;
  for (int k = 1; k < n->n_out; k++) {
    int v = n->out[k];
    if (v >= 0 && (g->vals[v].n_uses > 0 || g->vals[v].output_index >= 0))
      return false;
  }
  if (bn && emb_opt_is(n, "BatchNormalization")) {
    if (!emb_bn_inference(n) || n->in[0] != y) return false;
    const emb_tensor *p[4];
    for (int k = 0; k < 4; k++) {
      p[k] = emb_opt_const(g, n->in[k + 1]);
      if (!p[k] || p[k]->rank != 1 || p[k]->dims[0] != C ||
          !emb_dtype_is_float(p[k]->dtype))
        return false;
    }
    float eps;
    emb_diag scratch;
    emb_diag_clear(&scratch);
    if (emb_attr_float(n, "epsilon", 1e-5f, &eps, &scratch)) return false;
    for (int64_t c = 0; c < C; c++) {
      double a = emb_tensor_get_f64(p[0], (size_t)c) /
                 sqrt(emb_tensor_get_f64(p[3], (size_t)c) + (double)eps);
      s[c] = a;
      t[c] = emb_tensor_get_f64(p[1], (size_t)c) -
             emb_tensor_get_f64(p[2], (size_t)c) * a;
    }
    return true;
  }
  bool mul = emb_opt_is(n, "Mul"), add = emb_opt_is(n, "Add"),
       sub = emb_opt_is(n, "Sub");
  if (!(mul || add || sub) || n->n_in != 2 || n->n_out != 1) return false;
  int other;
  if (n->in[0] == y)
    other = n->in[1];
  else if (n->in[1] == y && !sub)
    other = n->in[0];
  else
    return false;
  const emb_tensor *k = emb_opt_const(g, other);
  if (!k || k->dtype != dt || !emb_channel_vec(k, r, C, mul ? s : t))
    return false;
  for (int64_t c = 0; c < C; c++) {
    if (mul)
      t[c] = 0.0;
    else
      s[c] = 1.0;
    if (sub) t[c] = -t[c];
  }
  return true;
}

/* A tensor for node input v that may be written: v's own constant when
 * nothing but that one input reads it, else a copy in a new value named
 * after v.  *nv gets the value to read. */
static ember_status emb_writable(emb_opt *o, int v, emb_tensor **out, int *nv) {
  emb_graph *g = o->g;
  const emb_val *val = &g->vals[v];
  if (val->n_uses == 1 && val->output_index < 0 && val->input_index < 0 &&
      val->outer < 0) {
    *out = val->konst;
    *nv = v;
    return EMBER_OK;
  }
  const emb_tensor *src = val->konst;
  emb_tensor *t = emb_opt_tensor(o, src->dtype, src->rank, src->dims);
  if (!t) return o->d->status;
  memcpy(t->data, src->data, src->nbytes);
  int c = emb_opt_add_const(o, g->vals[v].name, "/folded", t);
  if (c < 0) return o->d->status;
  *out = t;
  *nv = c;
  return EMBER_OK;
}

/* Node j is removed and node i writes j's output in place of its own
 * output 0 (which j alone read). */
static void emb_take_output(emb_opt *o, int i, int j) {
  emb_graph *g = o->g;
  int y = g->nodes[i].out[0], z = g->nodes[j].out[0];
  emb_opt_kill(o, j);
  g->nodes[i].out[0] = z;
  g->vals[z].producer = i;
  g->vals[y].producer = -1;
}

/* Fold y -> y * s + t into Conv node i. */
static ember_status emb_conv_absorb(emb_opt *o, int i, int j, const double *s,
                                    const double *t) {
  emb_graph *g = o->g;
  emb_node *n = &g->nodes[i];
  int x = n->in[0], w = n->in[1], b = n->n_in > 2 ? n->in[2] : -1;
  const emb_tensor *wt = g->vals[w].konst;
  int32_t dt = wt->dtype;
  int64_t M = wt->dims[0];
  size_t per = M ? emb_tensor_numel(wt) / (size_t)M : 0;
  emb_tensor *nw, *nb;
  int wv, bv;
  ember_status st = emb_writable(o, w, &nw, &wv);
  if (st) return st;
  if (b >= 0) {
    st = emb_writable(o, b, &nb, &bv);
  } else {
    int64_t dims[1] = {M};
    nb = emb_opt_tensor(o, dt, 1, dims);
    if (!nb) return o->d->status;
    bv = emb_opt_add_const(o, g->vals[w].name, "/bias", nb);
    st = bv < 0 ? o->d->status : EMBER_OK;
  }
  if (st) return st;
  for (int64_t m = 0; m < M; m++) {
    size_t off = (size_t)m * per;
    if (dt == EMBER_FLOAT) {
      float *d = (float *)nw->data + off;
      for (size_t k = 0; k < per; k++) d[k] = (float)((double)d[k] * s[m]);
    } else {
      double *d = (double *)nw->data + off;
      for (size_t k = 0; k < per; k++) d[k] *= s[m];
    }
    double bias = emb_tensor_get_f64(nb, (size_t)m);
    emb_tensor_set_f64(nb, (size_t)m, bias * s[m] + t[m]);
  }
  int in[3] = {x, wv, bv};
  st = emb_opt_set_inputs(o, i, 3, in);
  if (st) return st;
  emb_take_output(o, i, j);
  return EMBER_OK;
}

/* Fold y -> y * s + t into BatchNormalization node i. */
static ember_status emb_bn_absorb(emb_opt *o, int i, int j, const double *s,
                                  const double *t) {
  emb_graph *g = o->g;
  const emb_node *n = &g->nodes[i];
  int in[5];
  memcpy(in, n->in, sizeof in);
  emb_tensor *sc, *bi;
  ember_status st = emb_writable(o, in[1], &sc, &in[1]);
  if (!st) st = emb_writable(o, in[2], &bi, &in[2]);
  if (st) return st;
  for (size_t c = 0; c < emb_tensor_numel(sc); c++) {
    emb_tensor_set_f64(sc, c, emb_tensor_get_f64(sc, c) * s[c]);
    emb_tensor_set_f64(bi, c, emb_tensor_get_f64(bi, c) * s[c] + t[c]);
  }
  st = emb_opt_set_inputs(o, i, 5, in);
  if (st) return st;
  emb_take_output(o, i, j);
  return EMBER_OK;
}

/* For node i, a Conv or a BatchNormalization that can absorb a map: its
 * rank, channel count and element type; false when it cannot. */
static bool emb_absorber(const emb_opt *o, int i, bool *conv, int *r,
                         int64_t *C, int32_t *dt) {
  const emb_graph *g = o->g;
  const emb_node *n = &g->nodes[i];
  if (n->n_implicit || n->n_out < 1 || n->out[0] < 0) return false;
  if (emb_opt_is(n, "Conv")) {
    if (n->n_out != 1 || n->n_in < 2 || n->in[0] < 0) return false;
    const emb_tensor *w = emb_opt_const(g, n->in[1]);
    const emb_tensor *b =
        n->n_in > 2 && n->in[2] >= 0 ? emb_opt_const(g, n->in[2]) : NULL;
    if (!w || (w->dtype != EMBER_FLOAT && w->dtype != EMBER_DOUBLE) ||
        w->rank < 3)
      return false;
    if (n->n_in > 2 && n->in[2] >= 0 &&
        (!b || b->dtype != w->dtype || b->rank != 1 ||
         b->dims[0] != w->dims[0]))
      return false;
    *conv = true;
    *r = w->rank;
    *C = w->dims[0];
    *dt = w->dtype;
    return true;
  }
  if (emb_opt_is(n, "BatchNormalization")) {
    if (!emb_bn_inference(n)) return false;
    const emb_type *x = &g->vals[n->in[0]].type;
    const emb_tensor *sc = emb_opt_const(g, n->in[1]),
                     *bi = emb_opt_const(g, n->in[2]);
    if (x->kind != EMBER_KIND_TENSOR || x->rank < 2 || x->dims[1].v < 0 ||
        !sc || !bi || sc->rank != 1 || bi->rank != 1 ||
        sc->dims[0] != x->dims[1].v || bi->dims[0] != x->dims[1].v ||
        !emb_dtype_is_float(sc->dtype) || !emb_dtype_is_float(bi->dtype))
      return false;
    *conv = false;
    *r = x->rank;
    *C = x->dims[1].v;
    *dt = x->dtype;
    return true;
  }
  return false;
}

ember_status emb_opt_convbn(emb_opt *o, int *changes) {
  emb_graph *g = o->g;
  ember_status st = EMBER_OK;
  double *s = NULL, *t = NULL;
  int64_t cap = 0;
  for (int i = 0; i < g->n_nodes && !st; i++) {
    if (o->dead[i]) continue;
    bool conv;
    int r;
    int64_t C;
    int32_t dt;
    while (!st && emb_absorber(o, i, &conv, &r, &C, &dt)) {
      int y = g->nodes[i].out[0];
      int j = emb_opt_sole_reader(o, y);
      if (j < 0 || C <= 0) break;
      if (C > cap) {
        double *ns = realloc(s, (size_t)C * sizeof *s);
        if (ns) s = ns;
        double *nt = ns ? realloc(t, (size_t)C * sizeof *t) : NULL;
        if (nt) t = nt;
        if (!ns || !nt) {
          st = emb_fail(o->d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
          break;
        }
        cap = C;
      }
      if (!emb_channel_affine(o, j, y, r, C, dt, conv, s, t)) break;
      st = conv ? emb_conv_absorb(o, i, j, s, t) : emb_bn_absorb(o, i, j, s, t);
      if (!st) (*changes)++;
    }
  }
  free(s);
  free(t);
  return st;
}
