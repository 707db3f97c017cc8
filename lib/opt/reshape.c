/*
 * Reshape collapsing: a Reshape with a constant shape whose input comes
 * from another pure re-shaping node (Reshape, Flatten, Squeeze, Unsqueeze:
 * all keep the elements in row-major order and only relabel the shape)
 * reads that node's input instead, since the result depends only on the
 * element order and count, which the first node does not change.  Not
 * when the shape holds a 0 that copies an input dimension (allowzero
 * unset): that dimension is the intermediate's, not the original's.  The
 * first node goes away with the final sweep when nothing else reads it;
 * a collapsed Reshape that now maps a shape to itself is removed by
 * identity elimination (identity.c).
 */
#include "ops/op.h"
#include "opt/opt.h"

static bool emb_is_reshaping(const emb_node *n) {
  return emb_opt_is(n, "Reshape") || emb_opt_is(n, "Flatten") ||
         emb_opt_is(n, "Squeeze") || emb_opt_is(n, "Unsqueeze");
}

ember_status emb_opt_reshape(emb_opt *o, int *changes) {
  emb_graph *g = o->g;
  for (int i = 0; i < g->n_nodes; i++) {
    if (o->dead[i]) continue;
    emb_node *n = &g->nodes[i];
    if (!emb_opt_is(n, "Reshape") || n->n_in != 2 || n->in[0] < 0 ||
        n->n_out != 1)
      continue;
    const emb_tensor *shape = emb_opt_const(g, n->in[1]);
    if (!shape || emb_dtype_is_float(shape->dtype)) continue;
    int p = g->vals[n->in[0]].producer;
    if (p < 0 || o->dead[p] || !emb_is_reshaping(&g->nodes[p]) ||
        g->nodes[p].n_in < 1 || g->nodes[p].in[0] < 0)
      continue;
    int x = g->nodes[p].in[0];
    if (g->vals[x].type.kind != EMBER_KIND_TENSOR) continue;
    int64_t allowzero = 0;
    emb_diag scratch;
    emb_diag_clear(&scratch);
    if (n->opset >= 14 && emb_attr_int(n, "allowzero", 0, &allowzero, &scratch))
      continue;
    bool copies = false;
    for (size_t k = 0; k < emb_tensor_numel(shape); k++)
      if (emb_tensor_get_i64(shape, k) == 0 && !allowzero) copies = true;
    if (copies) continue;
    int in[2] = {x, n->in[1]};
    emb_node cand = *n;
    cand.in = in;
    if (!emb_opt_infer_agrees(o, &cand)) continue;
    ember_status st = emb_opt_set_inputs(o, i, 2, in);
    if (st) return st;
    (*changes)++;
  }
  return EMBER_OK;
}
