/*
 * Control flow: If, Loop and Scan.  Each runs a body graph held in a graph
 * attribute through emb_run_subgraph (which binds the body's inputs to the
 * values passed, borrowed; resolves the values the body captures from
 * enclosing graphs; and hands back owned outputs) and assembles its own
 * outputs (EMB_OP_OWN_OUTPUTS): If forwards one branch's results, Loop and
 * Scan thread loop-carried state through the iterations and stack the
 * per-iteration scan outputs into one tensor.  Types at load come from the
 * body graphs' output types; at run the outputs are whatever the bodies
 * produced, so run-time inference has nothing to do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

/* ------------------------------------------------------------- helpers */

static const emb_graph *ctl_graph(const emb_node *n, const char *name) {
  const emb_attr *a = emb_node_attr(n, name);
  return a && a->type == EMB_ATTR_GRAPH ? a->g : NULL;
}

static ember_status ctl_need_graph(emb_init_ctx *c, const char *name,
                                   const emb_graph **out) {
  const emb_attr *a = emb_node_attr(c->node, name);
  if (!a)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "required attribute '%s' is missing", name);
  if (a->type != EMB_ATTR_GRAPH || !a->g)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute '%s' must be a graph", name);
  *out = a->g;
  return EMBER_OK;
}

/* The static type of body output i: what inference found, completed from
 * the declaration where inference knows less. */
static void ctl_body_type(const emb_graph *g, int i, emb_type *t) {
  const emb_val *v = &g->vals[g->outputs[i]];
  const emb_type *d = &v->decl;
  *t = v->type;
  if (!v->has_decl) return;
  if (!t->kind) {
    *t = *d;
    return;
  }
  if (t->kind != d->kind) return;
  if (!t->dtype) t->dtype = d->dtype;
  if (t->rank < 0) {
    if (d->rank >= 0) {
      t->rank = d->rank;
      memcpy(t->dims, d->dims, sizeof t->dims);
    }
    return;
  }
  if (d->rank != t->rank) return;
  for (int k = 0; k < t->rank; k++)
    if (t->dims[k].v < 0 && !t->dims[k].sym &&
        (d->dims[k].v >= 0 || d->dims[k].sym))
      t->dims[k] = d->dims[k];
}

static bool ctl_same_dim(emb_dim a, emb_dim b) {
  if (a.v >= 0) return a.v == b.v;
  return b.v < 0 && a.sym && a.sym == b.sym;
}

/* A type that holds for values of either type a or type b: what they
 * share, unknown where they differ. */
static void ctl_type_union(emb_type *r, const emb_type *a, const emb_type *b) {
  if (!a->kind || a->kind != b->kind ||
      (a->kind == EMBER_KIND_OPTIONAL && a->elem_kind != b->elem_kind)) {
    emb_type_unknown(r);
    return;
  }
  if (a->dtype != b->dtype) {
    emb_type_unknown(r);
    return;
  }
  *r = *a;
  if (a->rank != b->rank) {
    r->rank = -1;
    return;
  }
  for (int k = 0; k < r->rank; k++)
    if (!ctl_same_dim(a->dims[k], b->dims[k])) {
      r->dims[k].v = -1;
      r->dims[k].sym = 0;
    }
}

/* A tensor type with one more dimension, `d`, inserted at `axis`. */
static void ctl_type_insert(emb_type *r, const emb_type *elem, int axis,
                            emb_dim d) {
  *r = *elem;
  for (int k = elem->rank; k > axis; k--) r->dims[k] = elem->dims[k - 1];
  r->dims[axis] = d;
  r->rank = elem->rank + 1;
}

/* Output types at load: a tensor type whose element type is unknown is
 * left wholly unknown, so that later nodes' dtype checks take it for
 * "not known yet" rather than for a wrong type. */
static void ctl_tidy_outputs(emb_infer_ctx *c) {
  for (int i = 0; i < c->n_out; i++)
    if (c->out[i].kind == EMBER_KIND_TENSOR && !c->out[i].dtype)
      emb_type_unknown(&c->out[i]);
}

static const char *ctl_dims_str(int rank, const int64_t *dims, char *buf,
                                size_t n) {
  size_t k = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < rank && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "",
                          (long long)dims[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

static void ctl_move(emb_value *dst, emb_value *src) {
  emb_value_clear(dst);
  *dst = *src;
  memset(src, 0, sizeof *src);
}

/* Hand v to output k (or drop it when that output is omitted).  A slot
 * nobody wrote (a body passing through an absent optional) becomes an
 * absent optional. */
static void ctl_set_out(emb_run_ctx *c, int k, emb_value *v) {
  if (v->kind == EMB_VK_EMPTY) v->kind = EMB_VK_NONE;
  if (k < c->n_out && c->out[k])
    ctl_move(c->out[k], v);
  else
    emb_value_clear(v);
}

/* Output k as a copy of v (an input of the op, borrowed). */
static ember_status ctl_copy_out(emb_run_ctx *c, int k, const emb_value *v) {
  emb_value tmp;
  memset(&tmp, 0, sizeof tmp);
  if (!(k < c->n_out && c->out[k])) return EMBER_OK;
  if (v && v->kind != EMB_VK_EMPTY && v->kind != EMB_VK_NONE) {
    ember_status st = emb_value_copy(&tmp, v, c->diag);
    if (st) return st;
  }
  ctl_set_out(c, k, &tmp);
  return EMBER_OK;
}

/* The truth of a one-element tensor (bool, or numeric: non-zero). */
static ember_status ctl_truth(emb_run_ctx *c, const emb_value *v,
                              const char *what, bool *out) {
  if (!v || v->kind != EMB_VK_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "%s must be a tensor", what);
  const emb_tensor *t = &v->t;
  int32_t dt = t->dtype;
  if (dt != EMBER_BOOL && !emb_dtype_is_int(dt) && !emb_dtype_is_float(dt))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "%s must be bool, not %s", what, ember_dtype_name(dt));
  size_t n = emb_tensor_numel(t);
  if (n != 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "%s must hold exactly one element, it holds %zu", what,
                       n);
  *out = emb_tensor_get_f64(t, 0) != 0.0;
  return EMBER_OK;
}

static const int32_t ctl_cond_types[] = {
    EMBER_BOOL,   EMBER_FLOAT,  EMBER_DOUBLE, EMBER_FLOAT16, EMBER_BFLOAT16,
    EMBER_INT8,   EMBER_UINT8,  EMBER_INT16,  EMBER_UINT16,  EMBER_INT32,
    EMBER_UINT32, EMBER_INT64,  EMBER_UINT64, 0};

/* At load: a condition input, when its type is known, must be a numeric
 * or bool tensor that can hold one element. */
static ember_status ctl_check_cond(emb_infer_ctx *c, int i, const char *what) {
  const emb_type *t = i < c->n_in ? c->in[i] : NULL;
  if (!t || !t->kind) return EMBER_OK;
  if (t->kind != EMBER_KIND_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                       "%s must be a tensor", what);
  ember_status st = emb_infer_check_dtype(c, i, ctl_cond_types);
  if (st) return st;
  for (int k = 0; k < t->rank; k++)
    if (t->dims[k].v >= 0 && t->dims[k].v != 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "%s must hold exactly one element, its dimension %d "
                         "is %lld",
                         what, k, (long long)t->dims[k].v);
  return EMBER_OK;
}

static char *ctl_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* Copy n bytes of elements of type dt.  Strings are pointers: dst's are
 * freed and replaced; with `steal` src's pointers move (src is owned by
 * the caller and cleared later), otherwise they are duplicated. */
static bool ctl_copy(int32_t dt, void *dst, void *src, size_t n, bool steal) {
  if (dt != EMBER_STRING) {
    if (n) memcpy(dst, src, n);
    return true;
  }
  char **d = dst, **s = src;
  for (size_t k = 0; k < n / sizeof(char *); k++) {
    char *p = steal ? s[k] : ctl_strdup(s[k] ? s[k] : "");
    if (!p) return false;
    if (steal) s[k] = NULL;
    free(d[k]);
    d[k] = p;
  }
  return true;
}

/* Bytes per element for the stacking ops; sub-byte types are refused
 * since their elements do not start on byte boundaries. */
static ember_status ctl_elem_size(emb_run_ctx *c, int32_t dt, const char *what,
                                  int idx, size_t *es) {
  int bits = emb_dtype_bits(dt);
  if (bits <= 0 || bits % 8)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                       "%s %d has element type %s, which is not supported "
                       "here",
                       what, idx, ember_dtype_name(dt));
  *es = (size_t)bits / 8;
  return EMBER_OK;
}

static bool ctl_same_shape(const emb_tensor *t, int32_t dt, int rank,
                           const int64_t *dims) {
  if (t->dtype != dt || t->rank != rank) return false;
  for (int k = 0; k < rank; k++)
    if (t->dims[k] != dims[k]) return false;
  return true;
}

/* The element type and shape of body output oi when no iteration ran:
 * from its static type; dimensions it leaves unknown become 0 (the result
 * is empty either way). */
static ember_status ctl_decl_elem(emb_run_ctx *c, const emb_graph *body,
                                  int oi, int32_t *dt, int *rank,
                                  int64_t *dims) {
  emb_type t;
  ctl_body_type(body, oi, &t);
  if ((t.kind != EMBER_KIND_TENSOR && t.kind != 0) || !t.dtype)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "ran no iterations, and body output %d does not "
                       "declare a tensor element type to make an empty "
                       "scan output of",
                       oi);
  *dt = t.dtype;
  *rank = t.rank < 0 ? 0 : t.rank;
  for (int k = 0; k < *rank; k++) dims[k] = t.dims[k].v < 0 ? 0 : t.dims[k].v;
  return EMBER_OK;
}

/* ------------------------------------------------------------------ If */

static ember_status if_init(emb_init_ctx *c) {
  const emb_graph *tg = NULL, *eg = NULL;
  ember_status st = ctl_need_graph(c, "then_branch", &tg);
  if (!st) st = ctl_need_graph(c, "else_branch", &eg);
  if (st) return st;
  if (tg->n_inputs || eg->n_inputs)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "branches take no inputs; %s_branch declares %d",
                       tg->n_inputs ? "then" : "else",
                       tg->n_inputs ? tg->n_inputs : eg->n_inputs);
  if (tg->n_outputs != eg->n_outputs)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "then_branch has %d outputs but else_branch has %d",
                       tg->n_outputs, eg->n_outputs);
  if (c->node->n_out > tg->n_outputs)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "the node has %d outputs but its branches only %d",
                       c->node->n_out, tg->n_outputs);
  return EMBER_OK;
}

static ember_status if_infer(emb_infer_ctx *c) {
  ember_status st = ctl_check_cond(c, 0, "input 'cond'");
  if (st || c->at_run) return st;
  const emb_graph *tg = ctl_graph(c->node, "then_branch");
  const emb_graph *eg = ctl_graph(c->node, "else_branch");
  if (!tg || !eg) return EMBER_OK;
  const emb_tensor *k = c->n_in > 0 ? c->values[0] : NULL;
  int pick = -1; /* a constant condition decides at load */
  if (k && emb_tensor_numel(k) == 1 &&
      (k->dtype == EMBER_BOOL || emb_dtype_is_int(k->dtype) ||
       emb_dtype_is_float(k->dtype)))
    pick = emb_tensor_get_f64(k, 0) != 0.0;
  for (int i = 0; i < c->n_out; i++) {
    emb_type tt, et;
    ctl_body_type(tg, i, &tt);
    ctl_body_type(eg, i, &et);
    if (pick >= 0) {
      c->out[i] = pick ? tt : et;
      continue;
    }
    if (tt.kind && tt.kind == et.kind && tt.dtype && et.dtype &&
        tt.dtype != et.dtype)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "output %d is %s in then_branch but %s in "
                         "else_branch",
                         i, ember_dtype_name(tt.dtype),
                         ember_dtype_name(et.dtype));
    ctl_type_union(&c->out[i], &tt, &et);
  }
  ctl_tidy_outputs(c);
  return EMBER_OK;
}

static ember_status if_run(emb_run_ctx *c) {
  bool cond = false;
  ember_status st = ctl_truth(c, c->n_in ? c->in[0] : NULL, "input 'cond'",
                              &cond);
  if (st) return st;
  const emb_graph *g = ctl_graph(c->node, cond ? "then_branch" : "else_branch");
  if (!g)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "branch graph missing");
  int n = c->n_out;
  emb_value *res = calloc((size_t)(n ? n : 1), sizeof *res);
  if (!res)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  st = emb_run_subgraph(c, g, 0, NULL, n, res);
  for (int i = 0; i < n; i++) {
    if (!st) ctl_set_out(c, i, &res[i]);
    emb_value_clear(&res[i]);
  }
  free(res);
  return st;
}

const emb_opdef emb_op_if = {1, 1, 1, -1,
                             EMB_OP_OWN_OUTPUTS | EMB_OP_VARIADIC_OUT,
                             if_init, if_infer, if_run};

/* ---------------------------------------------------------------- Loop */

/* Loop: inputs (M, cond, v_initial...); body inputs (iteration_num, cond,
 * carried...) and outputs (cond, carried..., scan outputs...).  The node's
 * outputs are the N final carried values then the scan outputs. */

static ember_status loop_init(emb_init_ctx *c) {
  const emb_graph *b = NULL;
  ember_status st = ctl_need_graph(c, "body", &b);
  if (st) return st;
  int n_carried = c->node->n_in - 2;
  if (b->n_inputs != 2 + n_carried)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "the body takes %d inputs; with %d loop-carried "
                       "values it must take %d (iteration number, "
                       "condition, carried values)",
                       b->n_inputs, n_carried, 2 + n_carried);
  if (b->n_outputs < 1 + n_carried)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "the body has %d outputs; with %d loop-carried values "
                       "it needs at least %d (condition, carried values)",
                       b->n_outputs, n_carried, 1 + n_carried);
  if (c->node->n_out > b->n_outputs - 1)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "the node has %d outputs but the body gives only %d "
                       "(after the condition)",
                       c->node->n_out, b->n_outputs - 1);
  return EMBER_OK;
}

static const int32_t loop_trip_types[] = {
    EMBER_INT64, EMBER_INT32, EMBER_INT16, EMBER_INT8, EMBER_UINT64,
    EMBER_UINT32, EMBER_UINT16, EMBER_UINT8, 0};

static ember_status loop_infer(emb_infer_ctx *c) {
  ember_status st = EMBER_OK;
  if (c->n_in > 0 && c->in[0] && c->in[0]->kind) {
    st = emb_infer_check_dtype(c, 0, loop_trip_types);
    for (int k = 0; !st && k < c->in[0]->rank; k++)
      if (c->in[0]->dims[k].v >= 0 && c->in[0]->dims[k].v != 1)
        st = emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                         "input 'M' must hold one element");
  }
  if (!st) st = ctl_check_cond(c, 1, "input 'cond'");
  if (st || c->at_run) return st;
  const emb_graph *b = ctl_graph(c->node, "body");
  if (!b) return EMBER_OK;
  int n_carried = c->n_in - 2;
  for (int i = 0; i < c->n_out; i++) {
    emb_type bt;
    ctl_body_type(b, 1 + i, &bt);
    if (i < n_carried) {
      /* The final value is the initial one after zero iterations. */
      const emb_type *it = c->in[2 + i];
      if (it) ctl_type_union(&c->out[i], it, &bt);
      continue;
    }
    if (bt.kind && bt.kind != EMBER_KIND_TENSOR)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "body output %d is a scan output and must be a "
                         "tensor",
                         1 + i);
    if (bt.kind != EMBER_KIND_TENSOR) continue;
    if (bt.rank < 0) {
      c->out[i] = bt; /* a tensor of unknown rank */
      continue;
    }
    if (bt.rank + 1 > EMB_MAX_RANK)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                         "scan output %d would have rank %d (limit %d)",
                         i - n_carried, bt.rank + 1, EMB_MAX_RANK);
    ctl_type_insert(&c->out[i], &bt, 0, (emb_dim){-1, 0});
  }
  ctl_tidy_outputs(c);
  return EMBER_OK;
}

/* A scan output of Loop, grown by one element per iteration. */
typedef struct loop_acc {
  char *buf;
  size_t used, cap; /* bytes */
  size_t count;     /* elements stacked */
  int32_t dtype;
  int rank;
  int64_t dims[EMB_MAX_RANK];
} loop_acc;

static void loop_acc_free(loop_acc *a) {
  if (a->dtype == EMBER_STRING && a->buf) {
    char **s = (char **)(void *)a->buf;
    for (size_t k = 0; k < a->used / sizeof(char *); k++) free(s[k]);
  }
  free(a->buf);
  memset(a, 0, sizeof *a);
}

static ember_status loop_acc_push(emb_run_ctx *c, loop_acc *a, int j,
                                  int64_t it, emb_value *v) {
  char s1[200], s2[200];
  if (v->kind != EMB_VK_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "scan output %d is not a tensor (iteration %lld)", j,
                       (long long)it);
  emb_tensor *t = &v->t;
  size_t es = 1, need;
  ember_status st = ctl_elem_size(c, t->dtype, "scan output", j, &es);
  if (st) return st;
  if (a->count == 0) {
    a->dtype = t->dtype;
    a->rank = t->rank;
    memcpy(a->dims, t->dims, sizeof a->dims);
    if (t->rank + 1 > EMB_MAX_RANK)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                         "scan output %d would have rank %d (limit %d)", j,
                         t->rank + 1, EMB_MAX_RANK);
  } else if (!ctl_same_shape(t, a->dtype, a->rank, a->dims)) {
    return emb_op_fail(
        c->diag, c->node, EMBER_ERR_RUNTIME,
        "scan output %d is %s%s at iteration %lld but %s%s at iteration 0; "
        "every iteration must give the same type and shape",
        j, ember_dtype_name(t->dtype),
        ctl_dims_str(t->rank, t->dims, s1, sizeof s1), (long long)it,
        ember_dtype_name(a->dtype),
        ctl_dims_str(a->rank, a->dims, s2, sizeof s2));
  }
  size_t n = emb_tensor_numel(t) * es;
  if (!emb_add_size(a->used, n, &need))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "scan output %d grows too large", j);
  if (need > a->cap) {
    size_t cap = a->cap ? a->cap : 64;
    while (cap < need)
      if (!emb_mul_size(cap, 2, &cap))
        return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                           "scan output %d grows too large", j);
    char *p = realloc(a->buf, cap);
    if (!p)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory growing scan output %d to %zu bytes",
                         j, cap);
    if (a->dtype == EMBER_STRING) memset(p + a->cap, 0, cap - a->cap);
    a->buf = p;
    a->cap = cap;
  }
  (void)ctl_copy(t->dtype, a->buf + a->used, t->data, n, true);
  a->used = need;
  a->count++;
  return EMBER_OK;
}

/* Turn the stacked elements into output k: [count, element dims...]. */
static ember_status loop_acc_finish(emb_run_ctx *c, loop_acc *a, int k) {
  emb_value v;
  int64_t dims[EMB_MAX_RANK];
  size_t numel;
  memset(&v, 0, sizeof v);
  dims[0] = (int64_t)a->count;
  memcpy(dims + 1, a->dims, (size_t)a->rank * sizeof *dims);
  if (!emb_shape_numel(a->rank + 1, dims, &numel))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "output %d is too large", k);
  if (!a->buf || !a->used) {
    ember_status st = emb_tensor_alloc(&v.t, a->dtype, a->rank + 1, dims,
                                       c->diag);
    if (st) return st;
  } else {
    v.t.dtype = a->dtype;
    v.t.rank = a->rank + 1;
    memcpy(v.t.dims, dims, sizeof dims);
    v.t.data = a->buf;
    v.t.nbytes = a->used;
    v.t.owned = true;
    a->buf = NULL; /* the output owns it now */
    a->used = a->cap = 0;
  }
  v.kind = EMB_VK_TENSOR;
  ctl_set_out(c, k, &v);
  return EMBER_OK;
}

/* An empty scan output ([0, element dims...]) after zero iterations. */
static ember_status ctl_empty_stack(emb_run_ctx *c, const emb_graph *body,
                                    int oi, int k, int64_t lead,
                                    int64_t len) {
  emb_value v;
  int32_t dt = 0;
  int rank = 0;
  int64_t ed[EMB_MAX_RANK], dims[EMB_MAX_RANK];
  memset(&v, 0, sizeof v);
  ember_status st = ctl_decl_elem(c, body, oi, &dt, &rank, ed);
  if (st) return st;
  int extra = lead >= 0 ? 2 : 1;
  if (rank + extra > EMB_MAX_RANK)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "output %d would have rank %d (limit %d)", k,
                       rank + extra, EMB_MAX_RANK);
  int r = 0;
  if (lead >= 0) dims[r++] = lead;
  dims[r++] = len;
  memcpy(dims + r, ed, (size_t)rank * sizeof *dims);
  st = emb_tensor_alloc(&v.t, dt, rank + extra, dims, c->diag);
  if (st) return st;
  v.kind = EMB_VK_TENSOR;
  ctl_set_out(c, k, &v);
  return EMBER_OK;
}

static ember_status loop_run(emb_run_ctx *c) {
  const emb_node *n = c->node;
  const emb_graph *body = ctl_graph(n, "body");
  if (!body)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL, "no body graph");
  int n_carried = c->n_in - 2;
  int n_scan = c->n_out > n_carried ? c->n_out - n_carried : 0;
  int n_req = 1 + n_carried + n_scan; /* body outputs fetched */
  int64_t trips = INT64_MAX;
  bool cond = true;
  ember_status st = EMBER_OK;

  if (c->in[0]) {
    const emb_value *m = c->in[0];
    if (m->kind != EMB_VK_TENSOR || !emb_dtype_is_int(m->t.dtype))
      return emb_op_fail(c->diag, n, EMBER_ERR_TYPE,
                         "input 'M' must be an int64 tensor");
    if (emb_tensor_numel(&m->t) != 1)
      return emb_op_fail(c->diag, n, EMBER_ERR_RUNTIME,
                         "input 'M' must hold exactly one element, it holds "
                         "%zu",
                         emb_tensor_numel(&m->t));
    if (m->t.dtype == EMBER_UINT64 && *(const uint64_t *)m->t.data > INT64_MAX)
      trips = INT64_MAX;
    else
      trips = emb_tensor_get_i64(&m->t, 0);
  }
  if (c->in[1] && (st = ctl_truth(c, c->in[1], "input 'cond'", &cond)))
    return st;

  emb_value iter, cond_in, none;
  memset(&iter, 0, sizeof iter);
  memset(&cond_in, 0, sizeof cond_in);
  memset(&none, 0, sizeof none);
  none.kind = EMB_VK_NONE;
  emb_value *own = calloc((size_t)n_carried + 1, sizeof *own);
  emb_value *bout = calloc((size_t)n_req, sizeof *bout);
  const emb_value **bin = calloc((size_t)n_carried + 2, sizeof *bin);
  loop_acc *acc = calloc((size_t)n_scan + 1, sizeof *acc);
  if (!own || !bout || !bin || !acc) {
    st = emb_op_fail(c->diag, n, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    goto done;
  }
  if ((st = emb_tensor_alloc(&iter.t, EMBER_INT64, 0, NULL, c->diag)) ||
      (st = emb_tensor_alloc(&cond_in.t, EMBER_BOOL, 0, NULL, c->diag)))
    goto done;
  iter.kind = cond_in.kind = EMB_VK_TENSOR;
  bin[0] = &iter;
  bin[1] = &cond_in;
  for (int i = 0; i < n_carried; i++) {
    const emb_value *v = c->in[2 + i];
    bin[2 + i] = v && v->kind != EMB_VK_EMPTY ? v : &none;
  }

  int64_t it = 0;
  for (; it < trips && cond; it++) {
    *(int64_t *)iter.t.data = it;
    *(uint8_t *)cond_in.t.data = 1;
    st = emb_run_subgraph(c, body, 2 + n_carried, bin, n_req, bout);
    if (st) goto done;
    /* The body's condition decides whether to go on, also when the node
     * has no 'cond' input (as the ONNX reference and onnxruntime do). */
    st = ctl_truth(c, &bout[0], "body output 0 (the condition)", &cond);
    if (st) goto done;
    emb_value_clear(&bout[0]);
    for (int i = 0; i < n_carried; i++) {
      ctl_move(&own[i], &bout[1 + i]);
      if (own[i].kind == EMB_VK_EMPTY) own[i].kind = EMB_VK_NONE;
      bin[2 + i] = &own[i];
    }
    for (int j = 0; j < n_scan; j++) {
      emb_value *v = &bout[1 + n_carried + j];
      if (c->out[n_carried + j]) st = loop_acc_push(c, &acc[j], j, it, v);
      emb_value_clear(v);
      if (st) goto done;
    }
  }

  for (int i = 0; i < n_carried && i < c->n_out; i++) {
    if (it > 0)
      ctl_set_out(c, i, &own[i]);
    else if ((st = ctl_copy_out(c, i, c->in[2 + i])))
      goto done;
  }
  for (int j = 0; j < n_scan; j++) {
    int k = n_carried + j;
    if (!c->out[k]) continue;
    st = acc[j].count ? loop_acc_finish(c, &acc[j], k)
                      : ctl_empty_stack(c, body, 1 + k, k, -1, 0);
    if (st) goto done;
  }

done:
  emb_value_clear(&iter);
  emb_value_clear(&cond_in);
  if (own)
    for (int i = 0; i < n_carried; i++) emb_value_clear(&own[i]);
  if (bout)
    for (int i = 0; i < n_req; i++) emb_value_clear(&bout[i]);
  if (acc)
    for (int j = 0; j < n_scan; j++) loop_acc_free(&acc[j]);
  free(own);
  free(bout);
  free(bin);
  free(acc);
  return st;
}

const emb_opdef emb_op_loop = {2, -1, 1, -1,
                               EMB_OP_OWN_OUTPUTS | EMB_OP_VARIADIC_OUT,
                               loop_init, loop_infer, loop_run};

/* ---------------------------------------------------------------- Scan */

/* Scan-8: inputs (sequence_lens?, states..., scan inputs...) with a batch
 * axis 0 on every input and output and the sequence axis 1 on scan
 * inputs and outputs; attribute `directions`.  Scan-9 and later: no batch
 * axis, inputs (states..., scan inputs...), attributes scan_input_axes /
 * _directions and scan_output_axes / _directions. */
typedef struct scan_state {
  bool v8;
  int n_state, n_in_scan, n_out_scan; /* N, M, K (K counted on the body) */
  const int64_t *in_axes, *in_dirs, *out_axes, *out_dirs; /* NULL: all 0 */
} scan_state;

static ember_status scan_list(emb_init_ctx *c, const char *name, int want,
                              bool dirs, const int64_t **out) {
  size_t n;
  ember_status st = emb_attr_ints(c->node, name, out, &n, c->diag);
  if (st) return st;
  if (!*out) return EMBER_OK;
  if (n != (size_t)want)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "attribute '%s' has %zu values; it needs %d", name, n,
                       want);
  for (size_t k = 0; dirs && k < n; k++)
    if ((*out)[k] != 0 && (*out)[k] != 1)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                         "attribute '%s' value %lld is neither 0 (forward) "
                         "nor 1 (reverse)",
                         name, (long long)(*out)[k]);
  return EMBER_OK;
}

static ember_status scan_init(emb_init_ctx *c) {
  const emb_node *n = c->node;
  const emb_graph *b = NULL;
  int64_t m;
  ember_status st = ctl_need_graph(c, "body", &b);
  if (st) return st;
  if (!emb_node_attr(n, "num_scan_inputs"))
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "required attribute 'num_scan_inputs' is missing");
  if ((st = emb_attr_int(n, "num_scan_inputs", 0, &m, c->diag))) return st;
  scan_state *s = emb_op_state(c, sizeof *s);
  if (!s) return EMBER_ERR_OUT_OF_MEMORY;
  s->v8 = n->opset < 9;
  int first = s->v8 ? 1 : 0;
  if (m < 1 || m > n->n_in - first)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "num_scan_inputs is %lld; it must be between 1 and "
                       "the %d state and scan inputs",
                       (long long)m, n->n_in - first);
  s->n_in_scan = (int)m;
  s->n_state = n->n_in - first - s->n_in_scan;
  if (b->n_inputs != s->n_state + s->n_in_scan)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "the body takes %d inputs; it must take %d (%d states "
                       "and %d scan inputs)",
                       b->n_inputs, s->n_state + s->n_in_scan, s->n_state,
                       s->n_in_scan);
  if (b->n_outputs < s->n_state)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "the body has %d outputs; it must give at least the "
                       "%d states",
                       b->n_outputs, s->n_state);
  s->n_out_scan = b->n_outputs - s->n_state;
  if (n->n_out > b->n_outputs)
    return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                       "the node has %d outputs but the body gives only %d",
                       n->n_out, b->n_outputs);
  if (s->v8) {
    st = scan_list(c, "directions", s->n_in_scan, true, &s->in_dirs);
  } else {
    st = scan_list(c, "scan_input_axes", s->n_in_scan, false, &s->in_axes);
    if (!st)
      st = scan_list(c, "scan_input_directions", s->n_in_scan, true,
                     &s->in_dirs);
    if (!st)
      st = scan_list(c, "scan_output_axes", s->n_out_scan, false,
                     &s->out_axes);
    if (!st)
      st = scan_list(c, "scan_output_directions", s->n_out_scan, true,
                     &s->out_dirs);
  }
  if (st) return st;
  c->node->state = s;
  return EMBER_OK;
}

static ember_status scan_infer(emb_infer_ctx *c) {
  const scan_state *s = c->node->state;
  const emb_node *n = c->node;
  ember_status st;
  if (!s) return EMBER_OK;
  int first = s->v8 ? 1 : 0;
  if (s->v8 && c->in[0] && c->in[0]->kind) {
    static const int32_t i64[] = {EMBER_INT64, EMBER_INT32, 0};
    if ((st = emb_infer_check_dtype(c, 0, i64))) return st;
  }
  /* Sequence length (and batch size for Scan-8) from the scan inputs. */
  emb_dim len = {-1, 0}, batch = {-1, 0};
  for (int j = 0; j < s->n_in_scan; j++) {
    const emb_type *t = c->in[first + s->n_state + j];
    if (!t)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "scan input %d is missing", j);
    if (t->kind && t->kind != EMBER_KIND_TENSOR)
      return emb_op_fail(c->diag, n, EMBER_ERR_TYPE,
                         "scan input %d must be a tensor", j);
    if (!t->kind || t->rank < 0) continue;
    int axis = 1;
    if (s->v8) {
      if (t->rank < 2)
        return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                           "scan input %d has rank %d; it needs a batch and "
                           "a sequence axis",
                           j, t->rank);
      if (batch.v < 0 && !batch.sym) batch = t->dims[0];
    } else {
      if (t->rank < 1)
        return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                           "scan input %d is a scalar; it needs a sequence "
                           "axis",
                           j);
      if ((st = emb_axis(n, s->in_axes ? s->in_axes[j] : 0, t->rank, &axis,
                         c->diag)))
        return st;
    }
    emb_dim d = t->dims[axis];
    if (len.v >= 0 && d.v >= 0 && d.v != len.v)
      return emb_op_fail(c->diag, n, EMBER_ERR_SHAPE,
                         "scan input %d has sequence length %lld but an "
                         "earlier one has %lld",
                         j, (long long)d.v, (long long)len.v);
    if (len.v < 0 && !len.sym) len = d;
  }
  if (c->at_run) return EMBER_OK;
  const emb_graph *b = ctl_graph(n, "body");
  if (!b) return EMBER_OK;
  for (int i = 0; i < c->n_out; i++) {
    emb_type bt;
    ctl_body_type(b, i, &bt);
    if (bt.kind && bt.kind != EMBER_KIND_TENSOR)
      return emb_op_fail(c->diag, n, EMBER_ERR_INVALID_MODEL,
                         "body output %d must be a tensor", i);
    if (bt.kind != EMBER_KIND_TENSOR) continue;
    if (bt.rank < 0) {
      if (i >= s->n_state) c->out[i] = bt; /* a tensor of unknown rank */
      continue;
    }
    if (i < s->n_state) {
      const emb_type *it = c->in[first + i];
      emb_type ft = bt;
      if (s->v8) {
        if (bt.rank + 1 > EMB_MAX_RANK) continue;
        ctl_type_insert(&ft, &bt, 0, batch);
      }
      if (it) ctl_type_union(&c->out[i], it, &ft);
      continue;
    }
    int j = i - s->n_state;
    int extra = s->v8 ? 2 : 1;
    if (bt.rank + extra > EMB_MAX_RANK)
      return emb_op_fail(c->diag, n, EMBER_ERR_LIMIT,
                         "scan output %d would have rank %d (limit %d)", j,
                         bt.rank + extra, EMB_MAX_RANK);
    if (s->v8) {
      emb_type t1;
      ctl_type_insert(&t1, &bt, 0, len);
      ctl_type_insert(&c->out[i], &t1, 0, batch);
    } else {
      int axis;
      if ((st = emb_axis(n, s->out_axes ? s->out_axes[j] : 0, bt.rank + 1,
                         &axis, c->diag)))
        return st;
      ctl_type_insert(&c->out[i], &bt, axis, len);
    }
  }
  ctl_tidy_outputs(c);
  return EMBER_OK;
}

/* Where element p of a sequence lies in a tensor: `outer` blocks of
 * `inner` bytes, block o of element p at base + (o * len + p) * inner. */
typedef struct scan_slot {
  char *base;
  size_t outer, inner, len;
} scan_slot;

/* A scan input: the element passed to the body is a view of the input
 * when its blocks are contiguous (outer == 1), else gathered into buf. */
typedef struct scan_in {
  emb_value v;
  scan_slot at;
  char *buf;
  bool reverse;
} scan_in;

/* A scan output: the element shape is fixed by the first iteration. */
typedef struct scan_out {
  bool ready;
  int32_t dtype;
  int rank;
  int64_t dims[EMB_MAX_RANK];
  int axis; /* the sequence axis in the output (Scan-9+) */
  bool reverse;
  size_t es;
} scan_out;

static void scan_take(scan_in *si, size_t p) {
  const scan_slot *a = &si->at;
  if (!si->buf) {
    si->v.t.data = a->base + p * a->inner;
    return;
  }
  for (size_t o = 0; o < a->outer; o++)
    memcpy(si->buf + o * a->inner, a->base + (o * a->len + p) * a->inner,
           a->inner);
}

static bool scan_put(int32_t dt, const scan_slot *a, size_t p, void *src) {
  for (size_t o = 0; o < a->outer; o++)
    if (!ctl_copy(dt, a->base + (o * a->len + p) * a->inner,
                  (char *)src + o * a->inner, a->inner, true))
      return false;
  return true;
}

/* Check element e of scan output j against the first one (or make it the
 * first); fails naming the node when the shapes differ. */
static ember_status scan_check_elem(emb_run_ctx *c, scan_out *so, int j,
                                    const emb_value *e, int64_t step) {
  char s1[200], s2[200];
  if (e->kind != EMB_VK_TENSOR)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "scan output %d is not a tensor", j);
  const emb_tensor *t = &e->t;
  if (!so->ready) {
    ember_status st = ctl_elem_size(c, t->dtype, "scan output", j, &so->es);
    if (st) return st;
    so->dtype = t->dtype;
    so->rank = t->rank;
    memcpy(so->dims, t->dims, sizeof so->dims);
    return EMBER_OK;
  }
  if (!ctl_same_shape(t, so->dtype, so->rank, so->dims))
    return emb_op_fail(
        c->diag, c->node, EMBER_ERR_RUNTIME,
        "scan output %d is %s%s at iteration %lld but %s%s at the first; "
        "every iteration must give the same type and shape",
        j, ember_dtype_name(t->dtype),
        ctl_dims_str(t->rank, t->dims, s1, sizeof s1), (long long)step,
        ember_dtype_name(so->dtype),
        ctl_dims_str(so->rank, so->dims, s2, sizeof s2));
  return EMBER_OK;
}

/* The buffers one Scan run uses. */
typedef struct scan_run_bufs {
  emb_value *own;          /* states after the latest iteration */
  emb_value *bout;         /* body outputs of one iteration */
  const emb_value **bin;   /* body inputs */
  emb_value *init;         /* Scan-8: the batch's initial states (views) */
  scan_in *sin;
  scan_out *sout;
} scan_run_bufs;

static ember_status scan_bufs_new(emb_run_ctx *c, scan_run_bufs *r, int N,
                                  int M, int K) {
  memset(r, 0, sizeof *r);
  r->own = calloc((size_t)N + 1, sizeof *r->own);
  r->bout = calloc((size_t)(N + K) + 1, sizeof *r->bout);
  r->bin = calloc((size_t)(N + M) + 1, sizeof *r->bin);
  r->init = calloc((size_t)N + 1, sizeof *r->init);
  r->sin = calloc((size_t)M + 1, sizeof *r->sin);
  r->sout = calloc((size_t)K + 1, sizeof *r->sout);
  if (!r->own || !r->bout || !r->bin || !r->init || !r->sin || !r->sout)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  return EMBER_OK;
}

static void scan_bufs_free(scan_run_bufs *r, int N, int M, int K) {
  for (int i = 0; r->own && i < N; i++) emb_value_clear(&r->own[i]);
  for (int i = 0; r->bout && i < N + K; i++) emb_value_clear(&r->bout[i]);
  for (int j = 0; r->sin && j < M; j++) free(r->sin[j].buf);
  free(r->own);
  free(r->bout);
  free(r->bin);
  free(r->init);
  free(r->sin);
  free(r->sout);
}

/* Set up scan input j (tensor t) with its sequence along `axis`, starting
 * at byte `base_off`; the element has t's shape without the axes in
 * [drop_from, axis]. */
static ember_status scan_in_setup(emb_run_ctx *c, scan_in *si, int j,
                                  const emb_tensor *t, int drop_from, int axis,
                                  size_t base_off) {
  size_t es = 1, outer = 1, inner;
  ember_status st = ctl_elem_size(c, t->dtype, "scan input", j, &es);
  if (st) return st;
  for (int k = drop_from; k < axis; k++) outer *= (size_t)t->dims[k];
  if (!emb_shape_numel(t->rank - axis - 1, t->dims + axis + 1, &inner) ||
      !emb_mul_size(inner, es, &inner))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "scan input %d is too large", j);
  si->at.base = (char *)t->data + base_off;
  si->at.outer = outer;
  si->at.inner = inner;
  si->at.len = (size_t)t->dims[axis];
  si->v.kind = EMB_VK_TENSOR;
  emb_tensor *e = &si->v.t;
  e->dtype = t->dtype;
  e->rank = 0;
  for (int k = drop_from; k < t->rank; k++)
    if (k != axis) e->dims[e->rank++] = t->dims[k];
  e->nbytes = outer * inner;
  e->owned = false;
  if (outer > 1) {
    free(si->buf);
    si->buf = malloc(e->nbytes ? e->nbytes : 1);
    if (!si->buf)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory for scan input %d", j);
    e->data = si->buf;
  }
  return EMBER_OK;
}

/* Run the body n_iter times over the scan inputs as set up, from the
 * states bound in r->bin[0..N).  Each scan output element goes to
 * `place` (NULL entries: output omitted).  Afterwards r->own holds the
 * final states when n_iter > 0. */
typedef ember_status (*scan_place_fn)(emb_run_ctx *c, scan_out *so, int j,
                                      size_t step, size_t n_iter,
                                      emb_value *e, const void *arg);

static ember_status scan_steps(emb_run_ctx *c, const emb_graph *body,
                               const scan_state *s, scan_run_bufs *r,
                               int n_scan_out, size_t n_iter,
                               scan_place_fn place, const void *arg) {
  int N = s->n_state, M = s->n_in_scan;
  for (size_t t = 0; t < n_iter; t++) {
    for (int j = 0; j < M; j++) {
      scan_in *si = &r->sin[j];
      scan_take(si, si->reverse ? n_iter - 1 - t : t);
      r->bin[N + j] = &si->v;
    }
    ember_status st = emb_run_subgraph(c, body, N + M, r->bin, N + n_scan_out,
                                       r->bout);
    if (st) return st;
    for (int i = 0; i < N; i++) {
      ctl_move(&r->own[i], &r->bout[i]);
      r->bin[i] = &r->own[i];
    }
    for (int j = 0; j < n_scan_out; j++) {
      emb_value *e = &r->bout[N + j];
      int k = N + j;
      if (k < c->n_out && c->out[k]) {
        st = scan_check_elem(c, &r->sout[j], j, e, (int64_t)t);
        if (!st) st = place(c, &r->sout[j], j, t, n_iter, e, arg);
      }
      emb_value_clear(e);
      if (st) return st;
    }
  }
  return EMBER_OK;
}

/* Scan-9+: the output is allocated at the first element; the element goes
 * in at its step along the output axis. */
static ember_status scan9_place(emb_run_ctx *c, scan_out *so, int j,
                                size_t step, size_t n_iter, emb_value *e,
                                const void *arg) {
  const scan_state *s = arg;
  int k = s->n_state + j;
  emb_tensor *out = &c->out[k]->t;
  scan_slot a;
  if (!so->ready) {
    int64_t dims[EMB_MAX_RANK];
    int axis;
    if (so->rank + 1 > EMB_MAX_RANK)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                         "scan output %d would have rank %d (limit %d)", j,
                         so->rank + 1, EMB_MAX_RANK);
    ember_status st = emb_axis(c->node, s->out_axes ? s->out_axes[j] : 0,
                               so->rank + 1, &axis, c->diag);
    if (st) return st;
    for (int d = 0, q = 0; d <= so->rank; d++)
      dims[d] = d == axis ? (int64_t)n_iter : so->dims[q++];
    emb_value_clear(c->out[k]);
    st = emb_tensor_alloc(out, so->dtype, so->rank + 1, dims, c->diag);
    if (st) return st;
    c->out[k]->kind = EMB_VK_TENSOR;
    so->axis = axis;
    so->reverse = s->out_dirs && s->out_dirs[j];
    so->ready = true;
  }
  a.base = out->data;
  a.len = n_iter;
  a.outer = 1;
  for (int d = 0; d < so->axis; d++) a.outer *= (size_t)so->dims[d];
  a.inner = so->es;
  for (int d = so->axis; d < so->rank; d++) a.inner *= (size_t)so->dims[d];
  if (!scan_put(so->dtype, &a, so->reverse ? n_iter - 1 - step : step,
                e->t.data))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  return EMBER_OK;
}

static ember_status scan9_run(emb_run_ctx *c, const emb_graph *body,
                              const scan_state *s) {
  int N = s->n_state, M = s->n_in_scan;
  int K = c->n_out > N ? c->n_out - N : 0;
  scan_run_bufs r;
  emb_value none;
  memset(&none, 0, sizeof none);
  none.kind = EMB_VK_NONE;
  ember_status st = scan_bufs_new(c, &r, N, M, K);
  size_t len = 0;
  for (int j = 0; !st && j < M; j++) {
    const emb_value *v = c->in[N + j];
    int axis;
    if (!v || v->kind != EMB_VK_TENSOR) {
      st = emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                       "scan input %d must be a tensor", j);
      break;
    }
    if (v->t.rank < 1) {
      st = emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "scan input %d is a scalar; it needs a sequence axis",
                       j);
      break;
    }
    st = emb_axis(c->node, s->in_axes ? s->in_axes[j] : 0, v->t.rank, &axis,
                  c->diag);
    if (!st) st = scan_in_setup(c, &r.sin[j], j, &v->t, 0, axis, 0);
    if (st) break;
    r.sin[j].reverse = s->in_dirs && s->in_dirs[j];
    if (j == 0) {
      len = r.sin[j].at.len;
    } else if (r.sin[j].at.len != len) {
      st = emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "scan input %d has sequence length %zu but scan input "
                       "0 has %zu",
                       j, r.sin[j].at.len, len);
    }
  }
  for (int i = 0; !st && i < N; i++) {
    const emb_value *v = c->in[i];
    r.bin[i] = v && v->kind != EMB_VK_EMPTY ? v : &none;
  }
  if (!st)
    st = scan_steps(c, body, s, &r, K, len, scan9_place, s);
  for (int i = 0; !st && i < N && i < c->n_out; i++) {
    if (len > 0)
      ctl_set_out(c, i, &r.own[i]);
    else
      st = ctl_copy_out(c, i, c->in[i]);
  }
  for (int j = 0; !st && j < K; j++) {
    int k = N + j;
    if (!c->out[k] || r.sout[j].ready) continue;
    /* No iterations: the empty output from the body's declared type. */
    int32_t dt;
    int rank, axis;
    int64_t ed[EMB_MAX_RANK], dims[EMB_MAX_RANK];
    st = ctl_decl_elem(c, body, k, &dt, &rank, ed);
    if (st) break;
    if (rank + 1 > EMB_MAX_RANK) {
      st = emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                       "scan output %d would have rank %d (limit %d)", j,
                       rank + 1, EMB_MAX_RANK);
      break;
    }
    st = emb_axis(c->node, s->out_axes ? s->out_axes[j] : 0, rank + 1, &axis,
                  c->diag);
    if (st) break;
    for (int d = 0, q = 0; d <= rank; d++) dims[d] = d == axis ? 0 : ed[q++];
    emb_value v;
    memset(&v, 0, sizeof v);
    st = emb_tensor_alloc(&v.t, dt, rank + 1, dims, c->diag);
    if (st) break;
    v.kind = EMB_VK_TENSOR;
    ctl_set_out(c, k, &v);
  }
  scan_bufs_free(&r, N, M, K);
  return st;
}

/* Scan-8: outputs [batch, max_len, element...], allocated at the first
 * element; rows past a batch entry's sequence length stay zero. */
typedef struct scan8_arg {
  const scan_state *s;
  size_t batch, n_batch, max_len;
} scan8_arg;

static ember_status scan8_place(emb_run_ctx *c, scan_out *so, int j,
                                size_t step, size_t n_iter, emb_value *e,
                                const void *arg) {
  const scan8_arg *g = arg;
  int k = g->s->n_state + j;
  emb_tensor *out = &c->out[k]->t;
  (void)n_iter;
  if (!so->ready) {
    int64_t dims[EMB_MAX_RANK];
    if (so->rank + 2 > EMB_MAX_RANK)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                         "scan output %d would have rank %d (limit %d)", j,
                         so->rank + 2, EMB_MAX_RANK);
    dims[0] = (int64_t)g->n_batch;
    dims[1] = (int64_t)g->max_len;
    memcpy(dims + 2, so->dims, (size_t)so->rank * sizeof *dims);
    emb_value_clear(c->out[k]);
    ember_status st = emb_tensor_alloc(out, so->dtype, so->rank + 2, dims,
                                       c->diag);
    if (st) return st;
    c->out[k]->kind = EMB_VK_TENSOR;
    so->ready = true;
  }
  scan_slot a;
  a.inner = e->t.nbytes;
  a.outer = 1;
  a.len = g->max_len;
  a.base = (char *)out->data + g->batch * g->max_len * a.inner;
  if (!scan_put(so->dtype, &a, step, e->t.data))
    return emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                       "out of memory");
  return EMBER_OK;
}

static ember_status scan8_run(emb_run_ctx *c, const emb_graph *body,
                              const scan_state *s) {
  int N = s->n_state, M = s->n_in_scan;
  int K = c->n_out > N ? c->n_out - N : 0;
  char s1[200], s2[200];
  scan_run_bufs r;
  ember_status st = scan_bufs_new(c, &r, N, M, K);
  size_t n_batch = 0, max_len = 0;
  bool *state_ready = calloc((size_t)N + 1, sizeof *state_ready);
  if (!st && !state_ready)
    st = emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                     "out of memory");
  /* Shapes: every scan input [batch, max_len, ...], every state
   * [batch, ...]. */
  for (int j = 0; !st && j < M; j++) {
    const emb_value *v = c->in[1 + N + j];
    if (!v || v->kind != EMB_VK_TENSOR || v->t.rank < 2) {
      st = emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "scan input %d must be a tensor with a batch and a "
                       "sequence axis",
                       j);
      break;
    }
    if (j == 0) {
      n_batch = (size_t)v->t.dims[0];
      max_len = (size_t)v->t.dims[1];
    } else if ((size_t)v->t.dims[0] != n_batch ||
               (size_t)v->t.dims[1] != max_len) {
      st = emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "scan input %d has batch size %lld and sequence "
                       "length %lld; scan input 0 has %zu and %zu",
                       j, (long long)v->t.dims[0], (long long)v->t.dims[1],
                       n_batch, max_len);
    }
  }
  for (int i = 0; !st && i < N; i++) {
    const emb_value *v = c->in[1 + i];
    if (!v || v->kind != EMB_VK_TENSOR || v->t.rank < 1 ||
        (size_t)v->t.dims[0] != n_batch) {
      st = emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "state %d must be a tensor whose first axis is the "
                       "batch size %zu",
                       i, n_batch);
      break;
    }
    size_t es;
    st = ctl_elem_size(c, v->t.dtype, "state", i, &es);
  }
  const emb_tensor *lens = c->in[0] ? &c->in[0]->t : NULL;
  if (!st && lens) {
    if (c->in[0]->kind != EMB_VK_TENSOR || !emb_dtype_is_int(lens->dtype) ||
        lens->rank != 1 || (size_t)lens->dims[0] != n_batch)
      st = emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                       "input 'sequence_lens' must be an int64 tensor of "
                       "shape [%zu]",
                       n_batch);
  }
  scan8_arg arg = {.s = s, .n_batch = n_batch, .max_len = max_len};
  for (size_t b = 0; !st && b < n_batch; b++) {
    size_t n_iter = max_len;
    if (lens) {
      int64_t l = emb_tensor_get_i64(lens, b);
      if (l < 0 || (uint64_t)l > max_len) {
        st = emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "sequence_lens[%zu] is %lld, outside [0, %zu]", b,
                         (long long)l, max_len);
        break;
      }
      n_iter = (size_t)l;
    }
    /* The batch entry's initial states and scan inputs are contiguous
     * views: [b] of [batch, ...] and [b][t] of [batch, max_len, ...]. */
    for (int i = 0; i < N; i++) {
      const emb_tensor *t = &c->in[1 + i]->t;
      emb_tensor *e = &r.init[i].t;
      size_t bytes = n_batch ? t->nbytes / n_batch : 0;
      r.init[i].kind = EMB_VK_TENSOR;
      e->dtype = t->dtype;
      e->rank = t->rank - 1;
      memcpy(e->dims, t->dims + 1, (size_t)e->rank * sizeof *e->dims);
      e->data = (char *)t->data + b * bytes;
      e->nbytes = bytes;
      e->owned = false;
      r.bin[i] = &r.init[i];
    }
    for (int j = 0; !st && j < M; j++) {
      const emb_tensor *t = &c->in[1 + N + j]->t;
      size_t row = n_batch ? t->nbytes / n_batch : 0;
      st = scan_in_setup(c, &r.sin[j], j, t, 2, 1, b * row);
      r.sin[j].reverse = s->in_dirs && s->in_dirs[j];
    }
    if (st) break;
    arg.batch = b;
    st = scan_steps(c, body, s, &r, K, n_iter, scan8_place, &arg);
    if (st) break;
    /* Final states of this batch entry go to row b of the outputs. */
    for (int i = 0; i < N && i < c->n_out; i++) {
      if (!c->out[i]) continue;
      emb_value *fv = n_iter ? &r.own[i] : &r.init[i];
      if (fv->kind != EMB_VK_TENSOR) {
        st = emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "state %d is not a tensor", i);
        break;
      }
      emb_tensor *ft = &fv->t, *out = &c->out[i]->t;
      if (!state_ready[i]) {
        int64_t dims[EMB_MAX_RANK];
        if (ft->rank + 1 > EMB_MAX_RANK) {
          st = emb_op_fail(c->diag, c->node, EMBER_ERR_LIMIT,
                           "state %d has too high a rank", i);
          break;
        }
        dims[0] = (int64_t)n_batch;
        memcpy(dims + 1, ft->dims, (size_t)ft->rank * sizeof *dims);
        emb_value_clear(c->out[i]);
        st = emb_tensor_alloc(out, ft->dtype, ft->rank + 1, dims, c->diag);
        if (st) break;
        c->out[i]->kind = EMB_VK_TENSOR;
        state_ready[i] = true;
      } else if (!ctl_same_shape(ft, out->dtype, out->rank - 1,
                                 out->dims + 1)) {
        st = emb_op_fail(c->diag, c->node, EMBER_ERR_RUNTIME,
                         "state %d is %s%s for batch entry %zu but %s%s for "
                         "entry 0",
                         i, ember_dtype_name(ft->dtype),
                         ctl_dims_str(ft->rank, ft->dims, s1, sizeof s1), b,
                         ember_dtype_name(out->dtype),
                         ctl_dims_str(out->rank - 1, out->dims + 1, s2,
                                      sizeof s2));
        break;
      }
      if (!ctl_copy(ft->dtype, (char *)out->data + b * ft->nbytes, ft->data,
                    ft->nbytes, n_iter > 0)) {
        st = emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY,
                         "out of memory");
        break;
      }
    }
    for (int i = 0; i < N; i++) emb_value_clear(&r.own[i]);
  }
  /* Outputs no batch entry reached (batch size 0, or no iterations). */
  for (int i = 0; !st && i < N && i < c->n_out; i++) {
    if (!c->out[i] || state_ready[i]) continue;
    const emb_tensor *t = &c->in[1 + i]->t;
    emb_value v;
    memset(&v, 0, sizeof v);
    st = emb_tensor_alloc(&v.t, t->dtype, t->rank, t->dims, c->diag);
    if (st) break;
    v.kind = EMB_VK_TENSOR;
    ctl_set_out(c, i, &v);
  }
  for (int j = 0; !st && j < K; j++) {
    int k = N + j;
    if (!c->out[k] || r.sout[j].ready) continue;
    st = ctl_empty_stack(c, body, k, k, (int64_t)n_batch,
                         (int64_t)max_len);
  }
  free(state_ready);
  scan_bufs_free(&r, N, M, K);
  return st;
}

static ember_status scan_run(emb_run_ctx *c) {
  const scan_state *s = c->node->state;
  const emb_graph *body = ctl_graph(c->node, "body");
  if (!s || !body)
    return emb_op_fail(c->diag, c->node, EMBER_ERR_INVALID_MODEL,
                       "no body graph");
  return s->v8 ? scan8_run(c, body, s) : scan9_run(c, body, s);
}

const emb_opdef emb_op_scan = {1, -1, 1, -1,
                               EMB_OP_OWN_OUTPUTS | EMB_OP_VARIADIC_OUT,
                               scan_init, scan_infer, scan_run};
