/*
 * Shared helpers for operator definitions: errors that name the node,
 * typed attribute access, axis normalisation and the type-inference
 * building blocks (broadcasting, same-type checks).
 */
#include <stdio.h>
#include <string.h>

#include "ops/op.h"

ember_status emb_op_fail(emb_diag *d, const emb_node *n, ember_status st,
                         const char *fmt, ...) {
  char desc[300], msg[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return emb_fail(d, st, "%s: %s", emb_node_desc(n, desc, sizeof desc), msg);
}

void *emb_op_state(emb_init_ctx *c, size_t size) {
  void *p = emb_arena_alloc(&c->ir->arena, size);
  if (!p)
    emb_op_fail(c->diag, c->node, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  return p;
}

static const char *const emb_attr_type_names[] = {
    "undefined", "float", "int", "string", "tensor", "graph", "floats",
    "ints", "strings", "tensors", "graphs", "sparse tensor",
    "sparse tensors", "type", "types"};

static ember_status emb_attr_want(const emb_node *n, const emb_attr *a,
                                  int type, emb_diag *d) {
  if (a->type == type) return EMBER_OK;
  int at = a->type >= 0 && a->type <= 14 ? a->type : 0;
  return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                     "attribute '%s' must be of type %s, not %s", a->name,
                     emb_attr_type_names[type], emb_attr_type_names[at]);
}

ember_status emb_attr_int(const emb_node *n, const char *name, int64_t def,
                          int64_t *out, emb_diag *d) {
  const emb_attr *a = emb_node_attr(n, name);
  *out = def;
  if (!a) return EMBER_OK;
  ember_status st = emb_attr_want(n, a, EMB_ATTR_INT, d);
  if (!st) *out = a->i;
  return st;
}

ember_status emb_attr_float(const emb_node *n, const char *name, float def,
                            float *out, emb_diag *d) {
  const emb_attr *a = emb_node_attr(n, name);
  *out = def;
  if (!a) return EMBER_OK;
  if (a->type == EMB_ATTR_INT) { /* some exporters write 0 for 0.0 */
    *out = (float)a->i;
    return EMBER_OK;
  }
  ember_status st = emb_attr_want(n, a, EMB_ATTR_FLOAT, d);
  if (!st) *out = a->f;
  return st;
}

ember_status emb_attr_string(const emb_node *n, const char *name,
                             const char *def, const char **out,
                             emb_diag *d) {
  const emb_attr *a = emb_node_attr(n, name);
  *out = def;
  if (!a) return EMBER_OK;
  ember_status st = emb_attr_want(n, a, EMB_ATTR_STRING, d);
  if (!st) *out = a->s;
  return st;
}

ember_status emb_attr_ints(const emb_node *n, const char *name,
                           const int64_t **vals, size_t *count,
                           emb_diag *d) {
  const emb_attr *a = emb_node_attr(n, name);
  *vals = NULL;
  *count = 0;
  if (!a) return EMBER_OK;
  ember_status st = emb_attr_want(n, a, EMB_ATTR_INTS, d);
  if (!st) {
    *vals = a->ints;
    *count = a->n;
  }
  return st;
}

ember_status emb_attr_floats(const emb_node *n, const char *name,
                             const float **vals, size_t *count,
                             emb_diag *d) {
  const emb_attr *a = emb_node_attr(n, name);
  *vals = NULL;
  *count = 0;
  if (!a) return EMBER_OK;
  ember_status st = emb_attr_want(n, a, EMB_ATTR_FLOATS, d);
  if (!st) {
    *vals = a->floats;
    *count = a->n;
  }
  return st;
}

ember_status emb_axis(const emb_node *n, int64_t axis, int rank, int *out,
                      emb_diag *d) {
  if (axis < -(int64_t)rank || axis >= (int64_t)rank)
    return emb_op_fail(d, n, EMBER_ERR_INVALID_MODEL,
                       "axis %lld out of range for rank %d", (long long)axis,
                       rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return EMBER_OK;
}

/* ------------------------------------------------------------ inference */

ember_status emb_infer_broadcast(emb_infer_ctx *c, int n,
                                 const emb_type *const *in, emb_type *out) {
  int rank = 0;
  int32_t dtype = 0;
  for (int i = 0; i < n; i++) {
    if (!in[i]) continue;
    if (!dtype) dtype = in[i]->dtype;
    if (in[i]->rank < 0) { /* unknown rank: result rank unknown */
      emb_type_unknown(out);
      out->kind = EMBER_KIND_TENSOR;
      out->dtype = dtype;
      return EMBER_OK;
    }
    if (in[i]->rank > rank) rank = in[i]->rank;
  }
  emb_type_tensor(out, dtype, rank, NULL);
  for (int k = 0; k < rank; k++) {
    emb_dim r = {1, 0};
    bool unknown = false;
    for (int i = 0; i < n; i++) {
      if (!in[i]) continue;
      int off = rank - in[i]->rank;
      if (k < off) continue;
      emb_dim d = in[i]->dims[k - off];
      if (d.v == 1) continue;
      if (d.v >= 0) {
        if (r.v >= 0 && r.v != 1 && r.v != d.v)
          return emb_op_fail(c->diag, c->node, EMBER_ERR_SHAPE,
                             "cannot broadcast dimension %lld with %lld "
                             "(input %d, axis %d of the result)",
                             (long long)r.v, (long long)d.v, i, k);
        r = d;
      } else if (r.v == 1) {
        r = d;
      } else if (r.v < 0 && !(d.sym && d.sym == r.sym)) {
        unknown = true;
      }
    }
    if (unknown && r.v < 0) r.sym = 0;
    out->dims[k] = r;
  }
  return EMBER_OK;
}

ember_status emb_infer_same(emb_infer_ctx *c) {
  if (c->in[0]) c->out[0] = *c->in[0];
  return EMBER_OK;
}

ember_status emb_infer_check_dtype(emb_infer_ctx *c, int i,
                                   const int32_t *allowed) {
  if (i >= c->n_in || !c->in[i] || !c->in[i]->kind || !c->in[i]->dtype ||
      !allowed)
    return EMBER_OK;
  for (const int32_t *a = allowed; *a; a++)
    if (c->in[i]->dtype == *a) return EMBER_OK;
  return emb_op_fail(c->diag, c->node, EMBER_ERR_UNSUPPORTED,
                     "input %d has element type %s, which is not supported",
                     i, ember_dtype_name(c->in[i]->dtype));
}

ember_status emb_infer_same_dtype(emb_infer_ctx *c, int first, int last) {
  if (first >= c->n_in || !c->in[first]) return EMBER_OK;
  int32_t dt = c->in[first]->dtype;
  for (int i = first + 1; i <= last && i < c->n_in; i++) {
    if (!c->in[i] || !c->in[i]->kind || !c->in[i]->dtype || !dt) continue;
    if (c->in[i]->dtype != dt)
      return emb_op_fail(c->diag, c->node, EMBER_ERR_TYPE,
                         "input %d has element type %s but input %d has %s",
                         i, ember_dtype_name(c->in[i]->dtype), first,
                         ember_dtype_name(dt));
  }
  return EMBER_OK;
}

void emb_broadcast_strides(int out_rank, const int64_t *od, int in_rank,
                           const int64_t *id, int64_t *strides) {
  /* Unsigned: an empty tensor with a huge dimension elsewhere may wrap,
   * harmlessly, since nothing of it is ever read. */
  uint64_t s = 1;
  for (int k = out_rank - 1; k >= 0; k--) {
    int j = k - (out_rank - in_rank);
    if (j < 0) {
      strides[k] = 0;
      continue;
    }
    strides[k] = (id[j] == 1 && od[k] != 1) ? 0 : (int64_t)s;
    s *= (uint64_t)id[j];
  }
}
