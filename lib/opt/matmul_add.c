/*
 * MatMul + Add -> Gemm: Add(MatMul(A, B), C), with A and B of rank 2 and
 * C a constant that Gemm can broadcast onto the product (rank <= 2, each
 * dimension 1 or the product's own), is one Gemm(A, B, C) with alpha =
 * beta = 1: the bias is applied by the GEMM instead of a second pass over
 * the result.  The MatMul node is replaced in place by the Gemm (named
 * "<matmul>/fused", opset as the MatMul's) and takes over the Add's output;
 * the Add is removed.  float32 and float64 only, where the sum rounds the
 * same way up to the order of additions.
 */
#include <string.h>

#include "ops/op.h"
#include "opt/opt.h"

/* Whether constant c broadcasts onto a [M, N] product y without growing
 * it. */
static bool emb_gemm_bias_fits(const emb_tensor *c, const emb_type *y) {
  if (c->rank > 2) return false;
  for (int d = 0; d < c->rank; d++) {
    int axis = 2 - c->rank + d;
    int64_t want = y->dims[axis].v;
    if (c->dims[d] != 1 && (want < 0 || c->dims[d] != want)) return false;
  }
  return true;
}

ember_status emb_opt_matmul_add(emb_opt *o, int *changes) {
  emb_graph *g = o->g;
  for (int i = 0; i < g->n_nodes; i++) {
    if (o->dead[i]) continue;
    emb_node *n = &g->nodes[i];
    if (!emb_opt_is(n, "MatMul") || n->n_in != 2 || n->n_out != 1 ||
        n->in[0] < 0 || n->in[1] < 0 || n->out[0] < 0)
      continue;
    int a = n->in[0], b = n->in[1], y = n->out[0];
    const emb_type *at = &g->vals[a].type, *bt = &g->vals[b].type,
                   *yt = &g->vals[y].type;
    if (at->kind != EMBER_KIND_TENSOR || bt->kind != EMBER_KIND_TENSOR ||
        yt->kind != EMBER_KIND_TENSOR || at->rank != 2 || bt->rank != 2 ||
        yt->rank != 2 ||
        (at->dtype != EMBER_FLOAT && at->dtype != EMBER_DOUBLE))
      continue;
    int j = emb_opt_sole_reader(o, y);
    if (j < 0) continue;
    const emb_node *add = &g->nodes[j];
    if (!emb_opt_is(add, "Add") || add->n_in != 2 || add->n_out != 1 ||
        add->out[0] < 0 || add->n_implicit)
      continue;
    int c = add->in[0] == y ? add->in[1] : add->in[0];
    const emb_tensor *ct = emb_opt_const(g, c);
    if (!ct || ct->dtype != at->dtype || !emb_gemm_bias_fits(ct, yt)) continue;
    const emb_opreg *reg = emb_op_lookup("", "Gemm", n->opset);
    if (!reg) continue;
    int z = add->out[0];
    int in[3] = {a, b, c}, out[1] = {z};
    emb_node cand = *n;
    cand.op_type = "Gemm";
    cand.def = reg->def;
    cand.n_in = 3;
    cand.in = in;
    cand.out = out;
    cand.n_attr = 0;
    cand.attrs = NULL;
    cand.state = NULL;
    if (cand.def->init) {
      emb_diag scratch;
      emb_diag_clear(&scratch);
      emb_init_ctx ic = {.node = &cand, .ir = o->ir, .diag = &scratch};
      if (cand.def->init(&ic)) continue;
    }
    if (!emb_opt_infer_agrees(o, &cand)) continue;
    const char *name = emb_opt_name(o, n->name, "/fused");
    if (!name) return o->d->status;
    ember_status st = emb_opt_set_inputs(o, i, 3, in);
    if (st) return st;
    emb_opt_kill(o, j);
    n = &g->nodes[i];
    n->name = name;
    n->op_type = cand.op_type;
    n->def = cand.def;
    n->n_attr = 0;
    n->attrs = NULL;
    n->state = cand.state;
    n->out[0] = z;
    g->vals[z].producer = i;
    g->vals[y].producer = -1;
    (*changes)++;
  }
  return EMBER_OK;
}
