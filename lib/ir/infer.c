/*
 * Load-time preparation (see infer.h).  Nodes are visited in execution
 * order, so every node sees its inputs' inferred types and any constant
 * values already folded upstream.
 */
#include <stdlib.h>
#include <string.h>

#include "ir/infer.h"
#include "opt/fold.h"
#include "opt/opt.h"
#include "ops/op.h"

/* Where inference knows less than the model declares, take the
 * declaration (ValueInfoProto); inference wins where both know. */
static void emb_merge_decl(emb_type *t, const emb_type *decl) {
  if (!t->kind) {
    *t = *decl;
    return;
  }
  if (t->kind != decl->kind || (t->dtype && decl->dtype && t->dtype != decl->dtype))
    return;
  if (!t->dtype) t->dtype = decl->dtype;
  if (t->rank < 0) {
    if (decl->rank >= 0) {
      t->rank = decl->rank;
      memcpy(t->dims, decl->dims, sizeof t->dims);
    }
    return;
  }
  if (decl->rank != t->rank) return;
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i].v < 0 && (decl->dims[i].v >= 0 || decl->dims[i].sym))
      t->dims[i] = decl->dims[i];
}

static ember_status emb_prepare_subgraphs(emb_ir *ir, emb_graph *g,
                                          emb_node *n, emb_diag *d) {
  for (int k = 0; k < n->n_attr; k++) {
    emb_attr *a = &n->attrs[k];
    size_t ng = a->type == EMB_ATTR_GRAPH ? 1
                : a->type == EMB_ATTR_GRAPHS ? a->n : 0;
    for (size_t j = 0; j < ng; j++) {
      emb_graph *sg = a->type == EMB_ATTR_GRAPH ? a->g : a->graphs[j];
      for (int v = 0; v < sg->n_vals; v++) {
        if (sg->vals[v].outer < 0) continue;
        sg->vals[v].type = g->vals[sg->vals[v].outer].type;
        /* A captured constant is a constant in the body too. */
        sg->vals[v].konst = g->vals[sg->vals[v].outer].konst;
      }
      ember_status st = emb_graph_prepare(ir, sg, d);
      if (st) {
        char desc[300];
        emb_diag_prefix(d, "in subgraph '%s' of %s: ", sg->name,
                        emb_node_desc(n, desc, sizeof desc));
        return st;
      }
    }
  }
  return EMBER_OK;
}

static ember_status emb_infer_node(emb_ir *ir, emb_graph *g, emb_node *n,
                                   emb_diag *d) {
  const emb_type *in[n->n_in ? n->n_in : 1];
  const emb_tensor *vals[n->n_in ? n->n_in : 1];
  emb_type out[n->n_out ? n->n_out : 1];
  (void)ir;
  for (int k = 0; k < n->n_in; k++) {
    int v = n->in[k];
    in[k] = v >= 0 ? &g->vals[v].type : NULL;
    vals[k] = v >= 0 ? g->vals[v].konst : NULL;
  }
  for (int k = 0; k < n->n_out; k++) emb_type_unknown(&out[k]);
  emb_infer_ctx c = {.node = n, .n_in = n->n_in, .in = in, .values = vals,
                     .rvalues = NULL, .n_out = n->n_out, .out = out,
                     .at_run = false, .diag = d};
  if (n->def->infer) {
    ember_status st = n->def->infer(&c);
    if (st) return st;
  }
  for (int k = 0; k < n->n_out; k++) {
    int v = n->out[k];
    if (v < 0) continue;
    emb_val *val = &g->vals[v];
    if (out[k].rank > EMB_MAX_RANK)
      return emb_op_fail(d, n, EMBER_ERR_LIMIT, "output rank too large");
    val->type = out[k];
    if (val->has_decl) emb_merge_decl(&val->type, &val->decl);
  }
  return EMBER_OK;
}

ember_status emb_graph_prepare(emb_ir *ir, emb_graph *g, emb_diag *d) {
  ember_status st = EMBER_OK;
  bool *dead = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof *dead);
  if (!dead) return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  for (int i = 0; i < g->n_nodes && !st; i++) {
    emb_node *n = &g->nodes[i];
    st = emb_prepare_subgraphs(ir, g, n, d);
    if (st) break;
    if (n->def->init) {
      emb_init_ctx ic = {.node = n, .ir = ir, .diag = d};
      st = n->def->init(&ic);
      if (st) break;
    }
    st = emb_infer_node(ir, g, n, d);
    if (st) break;
    st = emb_fold_node(ir, g, i, &dead[i], d);
    if (!st && dead[i]) { /* a folded node no longer reads its inputs */
      for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0) g->vals[n->in[k]].n_uses--;
      for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) g->vals[n->out[k]].producer = -1;
    }
  }
  if (!st) {
    /* Drop folded nodes, then nodes nobody reads (outputs unused). */
    bool changed = true;
    while (changed) {
      changed = false;
      for (int i = g->n_nodes - 1; i >= 0; i--) {
        emb_node *n = &g->nodes[i];
        if (dead[i]) continue;
        bool used = false;
        for (int k = 0; k < n->n_out; k++) {
          int v = n->out[k];
          if (v >= 0 && (g->vals[v].n_uses > 0 || g->vals[v].output_index >= 0))
            used = true;
        }
        if (!used && n->n_out > 0) {
          dead[i] = true;
          changed = true;
          for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) g->vals[n->in[k]].n_uses--;
          for (int k = 0; k < n->n_implicit; k++)
            g->vals[n->implicit[k]].n_uses--;
        }
      }
    }
    int m = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      if (dead[i]) continue;
      g->nodes[m] = g->nodes[i];
      for (int k = 0; k < g->nodes[m].n_out; k++)
        if (g->nodes[m].out[k] >= 0) g->vals[g->nodes[m].out[k]].producer = m;
      m++;
    }
    g->n_nodes = m;
  }
  free(dead);
  /* Graph rewrites (lib/opt), which sweep dead nodes again themselves. */
  if (!st) st = emb_optimize(ir, g, d);
  return st;
}
