/*
 * The optimizer's pipeline and the graph-editing helpers its passes share
 * (see opt.h).  Passes mark removed nodes in a per-node `dead` array
 * instead of deleting them, so node indices and producer links stay valid
 * while they run; the sweep at the end removes those nodes and every node
 * whose outputs nobody reads, then renumbers the producers.
 */
#include "opt/opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

/* Rounds of all passes at most; each round that changes nothing ends it.
 * One rewrite can enable another (a Transpose pair merged into an
 * identity, then removed), two rounds are usually enough. */
#define EMB_OPT_ROUNDS 8

bool emb_opt_is(const emb_node *n, const char *op_type) {
  return strcmp(n->op_type, op_type) == 0 &&
         (!n->domain[0] || strcmp(n->domain, "ai.onnx") == 0);
}

const emb_tensor *emb_opt_const(const emb_graph *g, int v) {
  if (v < 0 || g->vals[v].has_default) return NULL;
  return g->vals[v].konst;
}

bool emb_opt_captured(const emb_opt *o, int v) {
  const emb_graph *g = o->g;
  for (int i = 0; i < g->n_nodes; i++) {
    if (o->dead[i]) continue;
    for (int k = 0; k < g->nodes[i].n_implicit; k++)
      if (g->nodes[i].implicit[k] == v) return true;
  }
  return false;
}

int emb_opt_sole_reader(const emb_opt *o, int v) {
  const emb_graph *g = o->g;
  if (v < 0 || g->vals[v].n_uses != 1 || g->vals[v].output_index >= 0)
    return -1;
  int first = g->vals[v].producer >= 0 ? g->vals[v].producer + 1 : 0;
  for (int i = first; i < g->n_nodes; i++) {
    if (o->dead[i]) continue;
    const emb_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_implicit; k++)
      if (n->implicit[k] == v) return -1;
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] == v) return i;
  }
  return -1;
}

void emb_opt_rewire(emb_opt *o, int from, int to) {
  emb_graph *g = o->g;
  for (int i = 0; i < g->n_nodes; i++) {
    if (o->dead[i]) continue;
    emb_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] == from) {
        n->in[k] = to;
        g->vals[from].n_uses--;
        g->vals[to].n_uses++;
      }
  }
}

void emb_opt_kill(emb_opt *o, int i) {
  emb_graph *g = o->g;
  emb_node *n = &g->nodes[i];
  o->dead[i] = true;
  for (int k = 0; k < n->n_in; k++)
    if (n->in[k] >= 0) g->vals[n->in[k]].n_uses--;
  for (int k = 0; k < n->n_implicit; k++) g->vals[n->implicit[k]].n_uses--;
  for (int k = 0; k < n->n_out; k++)
    if (n->out[k] >= 0 && g->vals[n->out[k]].producer == i)
      g->vals[n->out[k]].producer = -1;
}

ember_status emb_opt_set_inputs(emb_opt *o, int i, int n, const int *in) {
  emb_graph *g = o->g;
  emb_node *node = &g->nodes[i];
  int *a = emb_arena_array(&o->ir->arena, (size_t)(n ? n : 1), sizeof *a);
  if (!a) return emb_fail(o->d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  for (int k = 0; k < n; k++) {
    a[k] = in[k];
    if (in[k] >= 0) g->vals[in[k]].n_uses++;
  }
  for (int k = 0; k < node->n_in; k++)
    if (node->in[k] >= 0) g->vals[node->in[k]].n_uses--;
  node->in = a;
  node->n_in = n;
  return EMBER_OK;
}

emb_tensor *emb_opt_tensor(emb_opt *o, int32_t dtype, int rank,
                           const int64_t *dims) {
  emb_tensor *t = emb_arena_alloc(&o->ir->arena, sizeof *t);
  size_t n, bytes;
  if (!t || !emb_shape_numel(rank, dims, &n) ||
      !emb_mul_size(n, (size_t)emb_dtype_bits(dtype), &bytes)) {
    emb_fail(o->d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    return NULL;
  }
  bytes = (bytes + 7) / 8;
  t->dtype = dtype;
  t->rank = rank;
  for (int r = 0; r < rank; r++) t->dims[r] = dims[r];
  t->nbytes = bytes;
  t->owned = false;
  t->data = emb_arena_alloc(&o->ir->arena, bytes ? bytes : 1);
  if (!t->data) {
    emb_fail(o->d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    return NULL;
  }
  return t;
}

const char *emb_opt_name(emb_opt *o, const char *name, const char *suffix) {
  size_t a = strlen(name), b = strlen(suffix);
  char *s = emb_arena_alloc(&o->ir->arena, a + b + 1);
  if (!s) {
    emb_fail(o->d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    return NULL;
  }
  memcpy(s, name, a);
  memcpy(s + a, suffix, b + 1);
  return s;
}

int emb_opt_add_const(emb_opt *o, const char *base, const char *suffix,
                      emb_tensor *t) {
  emb_graph *g = o->g;
  size_t n = strlen(base) + strlen(suffix) + 24;
  char *name = malloc(n);
  if (!name) {
    emb_fail(o->d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    return -1;
  }
  snprintf(name, n, "%s%s", base, suffix);
  for (int k = 1; emb_graph_find(g, name) >= 0; k++)
    snprintf(name, n, "%s%s_%d", base, suffix, k);
  int v = emb_graph_add_val(g, name, o->d);
  free(name);
  if (v < 0) return -1;
  g->vals[v].konst = t;
  emb_type_tensor(&g->vals[v].type, t->dtype, t->rank, t->dims);
  return v;
}

/* Whether an inferred type says nothing that contradicts a known one. */
static bool emb_type_agrees(const emb_type *inf, const emb_type *have) {
  if (!inf->kind || !have->kind) return true;
  if (inf->kind != have->kind) return false;
  if (inf->dtype && have->dtype && inf->dtype != have->dtype) return false;
  if (inf->rank < 0 || have->rank < 0) return true;
  if (inf->rank != have->rank) return false;
  for (int r = 0; r < inf->rank; r++)
    if (inf->dims[r].v >= 0 && have->dims[r].v >= 0 &&
        inf->dims[r].v != have->dims[r].v)
      return false;
  return true;
}

bool emb_opt_infer_agrees(const emb_opt *o, const emb_node *n) {
  const emb_graph *g = o->g;
  if (!n->def->infer) return true;
  const emb_type *in[n->n_in ? n->n_in : 1];
  const emb_tensor *vals[n->n_in ? n->n_in : 1];
  emb_type out[n->n_out ? n->n_out : 1];
  for (int k = 0; k < n->n_in; k++) {
    in[k] = n->in[k] >= 0 ? &g->vals[n->in[k]].type : NULL;
    vals[k] = n->in[k] >= 0 ? g->vals[n->in[k]].konst : NULL;
  }
  for (int k = 0; k < n->n_out; k++) emb_type_unknown(&out[k]);
  emb_diag scratch;
  emb_diag_clear(&scratch);
  emb_infer_ctx c = {.node = n,
                     .n_in = n->n_in,
                     .in = in,
                     .values = vals,
                     .rvalues = NULL,
                     .n_out = n->n_out,
                     .out = out,
                     .at_run = false,
                     .diag = &scratch};
  if (n->def->infer(&c)) return false;
  for (int k = 0; k < n->n_out; k++)
    if (n->out[k] >= 0 && !emb_type_agrees(&out[k], &g->vals[n->out[k]].type))
      return false;
  return true;
}

/* Drop removed nodes and, repeatedly, nodes none of whose outputs is read
 * or is a graph output; renumber producers. */
static void emb_opt_sweep(emb_opt *o) {
  emb_graph *g = o->g;
  bool changed = true;
  while (changed) {
    changed = false;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
      if (o->dead[i]) continue;
      const emb_node *n = &g->nodes[i];
      bool used = false;
      for (int k = 0; k < n->n_out; k++) {
        int v = n->out[k];
        if (v >= 0 && (g->vals[v].n_uses > 0 || g->vals[v].output_index >= 0))
          used = true;
      }
      if (!used && n->n_out > 0) {
        emb_opt_kill(o, i);
        changed = true;
      }
    }
  }
  int m = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (o->dead[i]) continue;
    g->nodes[m] = g->nodes[i];
    for (int k = 0; k < g->nodes[m].n_out; k++)
      if (g->nodes[m].out[k] >= 0) g->vals[g->nodes[m].out[k]].producer = m;
    m++;
  }
  g->n_nodes = m;
}

ember_status emb_optimize(emb_ir *ir, emb_graph *g, emb_diag *d) {
  static ember_status (*const passes[])(emb_opt *, int *) = {
      emb_opt_transpose, emb_opt_reshape, emb_opt_identity, emb_opt_convbn,
      emb_opt_matmul_add};
  if (!g->n_nodes) return EMBER_OK;
  emb_opt o = {.ir = ir,
               .g = g,
               .d = d,
               .dead = calloc((size_t)g->n_nodes, sizeof(bool))};
  if (!o.dead) return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  ember_status st = EMBER_OK;
  for (int round = 0; round < EMB_OPT_ROUNDS && !st; round++) {
    int changes = 0;
    for (size_t p = 0; p < EMB_ARRAY_LEN(passes) && !st; p++)
      st = passes[p](&o, &changes);
    if (!changes) break;
  }
  if (!st) emb_opt_sweep(&o);
  free(o.dead);
  return st;
}
