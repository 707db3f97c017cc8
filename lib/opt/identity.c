/*
 * Identity elimination: nodes whose output equals their first input --
 * Identity, Dropout at inference (no training mode, mask unread), a
 * Transpose by the identity permutation, a Reshape, Flatten, Squeeze or
 * Unsqueeze whose input and output have the same static shape (main graph
 * only), a Cast to the input's own type -- are removed and their readers
 * read the input.  When the output is a graph output it must keep its
 * name, so instead the node that produces the input is made to write the
 * output directly (the input's other readers follow); when the input has
 * no producer (a graph input or a constant) the node stays.  Values
 * captured by subgraphs are never renamed.
 */
#include <string.h>

#include "ops/op.h"
#include "opt/opt.h"

/* Whether two static types are the same tensor type. */
static bool emb_same_static(const emb_type *a, const emb_type *b) {
  if (!emb_type_static(a) || !emb_type_static(b)) return false;
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int r = 0; r < a->rank; r++)
    if (a->dims[r].v != b->dims[r].v) return false;
  return true;
}

/* Whether Dropout node n passes its input through: no training mode (or
 * a constant false one) and no reader of the mask. */
static bool emb_dropout_is_noop(const emb_opt *o, const emb_node *n) {
  const emb_graph *g = o->g;
  if (n->opset >= 12 && n->n_in > 2 && n->in[2] >= 0) {
    const emb_tensor *tm = emb_opt_const(g, n->in[2]);
    if (!tm || emb_tensor_numel(tm) != 1 || emb_tensor_get_i64(tm, 0) != 0)
      return false;
  }
  for (int k = 1; k < n->n_out; k++) {
    int v = n->out[k];
    if (v >= 0 && (g->vals[v].n_uses > 0 || g->vals[v].output_index >= 0))
      return false;
  }
  return true;
}

static bool emb_transpose_is_noop(const emb_graph *g, const emb_node *n) {
  const emb_attr *perm = emb_node_attr(n, "perm");
  int x = n->in[0];
  int rank = g->vals[x].type.rank;
  if (!perm) return rank >= 0 && rank <= 1; /* reversal */
  if (perm->type != EMB_ATTR_INTS) return false;
  for (size_t k = 0; k < perm->n; k++)
    if (perm->ints[k] != (int64_t)k) return false;
  return true;
}

/* Whether node n (already known to have one present input 0 and output
 * 0) copies input 0 to output 0 unchanged. */
static bool emb_is_noop(const emb_opt *o, const emb_node *n) {
  const emb_graph *g = o->g;
  if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0)
    return false;
  const emb_type *x = &g->vals[n->in[0]].type, *y = &g->vals[n->out[0]].type;
  if (emb_opt_is(n, "Identity")) return n->n_out == 1;
  if (emb_opt_is(n, "Dropout")) return emb_dropout_is_noop(o, n);
  if (n->n_out != 1) return false;
  if (emb_opt_is(n, "Transpose"))
    return x->kind == EMBER_KIND_TENSOR && emb_transpose_is_noop(g, n);
  /* Static shapes are trusted in the main graph only, where run checks
   * the inputs against them; a loop body's declared shapes may be looser
   * than the values that really flow. */
  if (emb_opt_is(n, "Reshape") || emb_opt_is(n, "Flatten") ||
      emb_opt_is(n, "Squeeze") || emb_opt_is(n, "Unsqueeze"))
    return !g->parent && emb_same_static(x, y);
  if (emb_opt_is(n, "Cast"))
    return x->kind == EMBER_KIND_TENSOR && x->dtype && x->dtype == y->dtype &&
           n->n_in == 1;
  return false;
}

ember_status emb_opt_identity(emb_opt *o, int *changes) {
  emb_graph *g = o->g;
  for (int i = 0; i < g->n_nodes; i++) {
    if (o->dead[i]) continue;
    emb_node *n = &g->nodes[i];
    if (n->n_implicit || !emb_is_noop(o, n)) continue;
    int x = n->in[0], y = n->out[0];
    if (emb_opt_captured(o, y)) continue;
    if (g->vals[y].output_index < 0) {
      emb_opt_kill(o, i);
      emb_opt_rewire(o, y, x);
      (*changes)++;
      continue;
    }
    /* y is a graph output: let x's producer write y instead. */
    const emb_val *xv = &g->vals[x];
    int p = xv->producer;
    if (p < 0 || o->dead[p] || xv->output_index >= 0 || xv->input_index >= 0 ||
        xv->konst || xv->outer >= 0 || emb_opt_captured(o, x))
      continue;
    emb_node *pn = &g->nodes[p];
    int slot = -1;
    for (int k = 0; k < pn->n_out; k++)
      if (pn->out[k] == x) slot = k;
    if (slot < 0) continue;
    emb_opt_kill(o, i);
    pn->out[slot] = y;
    g->vals[y].producer = p;
    g->vals[x].producer = -1;
    emb_opt_rewire(o, x, y);
    (*changes)++;
  }
  return EMBER_OK;
}
