/*
 * Constant folding (see fold.h).  The node runs through the executor's
 * own per-node path, so folding computes exactly what a run would.
 */
#include <string.h>

#include "exec/exec.h"
#include "opt/fold.h"

/* Copy a run-time tensor into the model arena. */
static emb_tensor *emb_to_arena(emb_ir *ir, const emb_tensor *t) {
  emb_tensor *c = emb_arena_alloc(&ir->arena, sizeof *c);
  if (!c) return NULL;
  *c = *t;
  c->owned = false;
  c->data = emb_arena_alloc(&ir->arena, t->nbytes ? t->nbytes : 1);
  if (!c->data) return NULL;
  if (t->dtype == EMBER_STRING) {
    char **dst = c->data;
    char *const *src = t->data;
    for (size_t i = 0; i < t->nbytes / sizeof(char *); i++)
      if (!(dst[i] = emb_arena_strdup(&ir->arena, src[i]))) return NULL;
  } else if (t->nbytes) {
    memcpy(c->data, t->data, t->nbytes);
  }
  return c;
}

ember_status emb_fold_node(emb_ir *ir, emb_graph *g, int i, bool *folded,
                           emb_diag *d) {
  emb_node *n = &g->nodes[i];
  *folded = false;
  if (n->def->flags & EMB_OP_NO_FOLD || n->n_implicit) return EMBER_OK;
  for (int k = 0; k < n->n_attr; k++)
    if (n->attrs[k].type == EMB_ATTR_GRAPH ||
        n->attrs[k].type == EMB_ATTR_GRAPHS)
      return EMBER_OK;
  bool shape_only = n->def->flags & EMB_OP_SHAPE_ONLY;
  for (int k = 0; k < n->n_in; k++) {
    const emb_val *v = n->in[k] >= 0 ? &g->vals[n->in[k]] : NULL;
    if (v && !v->konst && !(shape_only && emb_type_static(&v->type)))
      return EMBER_OK;
  }
  for (int k = 0; k < n->n_out; k++) /* only tensor results become consts */
    if (n->out[k] >= 0 && g->vals[n->out[k]].type.kind != EMBER_KIND_TENSOR)
      return EMBER_OK;

  emb_session s;
  emb_session_env_init(&s, d, 1);
  emb_value inv[n->n_in ? n->n_in : 1], outv[n->n_out ? n->n_out : 1];
  emb_value *in[n->n_in ? n->n_in : 1], *out[n->n_out ? n->n_out : 1];
  memset(inv, 0, sizeof inv);
  memset(outv, 0, sizeof outv);
  for (int k = 0; k < n->n_in; k++) {
    in[k] = NULL;
    if (n->in[k] < 0) continue;
    const emb_val *v = &g->vals[n->in[k]];
    inv[k].kind = EMB_VK_TENSOR;
    if (v->konst) {
      emb_tensor_view(&inv[k].t, v->konst);
    } else { /* shape only: a tensor without data */
      inv[k].t.dtype = v->type.dtype;
      inv[k].t.rank = v->type.rank;
      for (int r = 0; r < v->type.rank; r++) inv[k].t.dims[r] = v->type.dims[r].v;
    }
    in[k] = &inv[k];
  }
  for (int k = 0; k < n->n_out; k++) out[k] = n->out[k] >= 0 ? &outv[k] : NULL;
  ember_status st = emb_exec_node(&s, NULL, n, in, out);
  for (int k = 0; k < n->n_out && !st; k++) {
    if (!out[k]) continue;
    if (outv[k].kind != EMB_VK_TENSOR) {
      st = emb_op_fail(d, n, EMBER_ERR_RUNTIME, "folding gave a non-tensor");
      break;
    }
    emb_tensor *c = emb_to_arena(ir, &outv[k].t);
    if (!c) {
      st = emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory folding");
      break;
    }
    emb_val *v = &g->vals[n->out[k]];
    v->konst = c;
    emb_type_tensor(&v->type, c->dtype, c->rank, c->dims);
  }
  for (int k = 0; k < n->n_out; k++) emb_value_clear(&outv[k]);
  emb_session_env_free(&s);
  if (!st) *folded = true;
  return st;
}
