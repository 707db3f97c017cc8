/*
 * Transpose merging: Transpose(Transpose(x, p1), p2) is one Transpose of x
 * by the composed permutation p[k] = p1[p2[k]] (output axis k of the
 * second reads axis p2[k] of the first, which reads axis p1[p2[k]] of x).
 * The second node is rewritten in place to read x; the first goes away
 * with the final sweep when nothing else reads it.  A composition that is
 * the identity leaves a no-op Transpose for identity elimination
 * (identity.c) to remove, so a cancelling pair disappears entirely.
 */
#include <string.h>

#include "ops/op.h"
#include "opt/opt.h"

/* The permutation of Transpose node n for an input of rank `rank` (the
 * reversal when 'perm' is absent); false when it cannot be told. */
static bool emb_perm(const emb_node *n, int rank, int64_t *perm) {
  const emb_attr *a = emb_node_attr(n, "perm");
  if (rank < 0 || rank > EMB_MAX_RANK) return false;
  if (!a) {
    for (int k = 0; k < rank; k++) perm[k] = rank - 1 - k;
    return true;
  }
  if (a->type != EMB_ATTR_INTS || a->n != (size_t)rank) return false;
  for (int k = 0; k < rank; k++) {
    if (a->ints[k] < 0 || a->ints[k] >= rank) return false;
    perm[k] = a->ints[k];
  }
  return true;
}

/* Rewrite Transpose node i (whose input is the output of Transpose node
 * t1) to read t1's input with the composed permutation.  Commits only
 * when the rewritten node infers the type its output already has. */
static ember_status emb_merge(emb_opt *o, int i, int t1, bool *done) {
  emb_graph *g = o->g;
  emb_node *n = &g->nodes[i];
  const emb_node *first = &g->nodes[t1];
  int x = first->in[0];
  int rank = g->vals[x].type.rank;
  int64_t p1[EMB_MAX_RANK], p2[EMB_MAX_RANK];
  *done = false;
  if (g->vals[x].type.kind != EMBER_KIND_TENSOR ||
      g->vals[n->in[0]].type.rank != rank || !emb_perm(first, rank, p1) ||
      !emb_perm(n, rank, p2))
    return EMBER_OK;
  emb_arena *ar = &o->ir->arena;
  int64_t *perm = emb_arena_array(ar, (size_t)(rank ? rank : 1), sizeof *perm);
  emb_attr *attrs = emb_arena_array(ar, (size_t)n->n_attr + 1, sizeof *attrs);
  if (!perm || !attrs)
    return emb_fail(o->d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  for (int k = 0; k < rank; k++) perm[k] = p1[p2[k]];
  /* The same attributes with 'perm' replaced (or added). */
  int na = 0;
  for (int k = 0; k < n->n_attr; k++)
    if (strcmp(n->attrs[k].name, "perm") != 0) attrs[na++] = n->attrs[k];
  attrs[na] = (emb_attr){
      .name = "perm", .type = EMB_ATTR_INTS, .n = (size_t)rank, .ints = perm};
  na++;
  emb_node cand = *n;
  int in0 = x;
  cand.attrs = attrs;
  cand.n_attr = na;
  cand.in = &in0;
  cand.state = NULL;
  if (cand.def->init) {
    emb_diag scratch;
    emb_diag_clear(&scratch);
    emb_init_ctx ic = {.node = &cand, .ir = o->ir, .diag = &scratch};
    if (cand.def->init(&ic)) return EMBER_OK;
  }
  if (!emb_opt_infer_agrees(o, &cand)) return EMBER_OK;
  ember_status st = emb_opt_set_inputs(o, i, 1, &in0);
  if (st) return st;
  n = &g->nodes[i];
  n->attrs = cand.attrs;
  n->n_attr = cand.n_attr;
  n->state = cand.state;
  *done = true;
  return EMBER_OK;
}

ember_status emb_opt_transpose(emb_opt *o, int *changes) {
  emb_graph *g = o->g;
  for (int i = 0; i < g->n_nodes; i++) {
    if (o->dead[i]) continue;
    const emb_node *n = &g->nodes[i];
    if (!emb_opt_is(n, "Transpose") || n->n_in != 1 || n->in[0] < 0) continue;
    int t1 = g->vals[n->in[0]].producer;
    if (t1 < 0 || o->dead[t1] || !emb_opt_is(&g->nodes[t1], "Transpose") ||
        g->nodes[t1].n_in != 1 || g->nodes[t1].in[0] < 0)
      continue;
    bool done;
    ember_status st = emb_merge(o, i, t1, &done);
    if (st) return st;
    if (done) (*changes)++;
  }
  return EMBER_OK;
}
