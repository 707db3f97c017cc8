/*
 * Graph construction and lookup for Ember's IR: models, graphs, values,
 * symbols, attributes and static types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

emb_ir *emb_ir_new(void) { return calloc(1, sizeof(emb_ir)); }

void emb_ir_free(emb_ir *ir) {
  if (!ir) return;
  for (int i = 0; i < ir->n_graphs_alloc; i++)
    emb_strmap_free(&ir->graphs[i]->names);
  free(ir->graphs);
  free(ir->symbols);
  emb_arena_free(&ir->arena);
  free(ir);
}

emb_graph *emb_graph_new(emb_ir *ir, emb_graph *parent, const char *name) {
  if (ir->n_graphs_alloc == ir->cap_graphs) {
    int cap = ir->cap_graphs ? ir->cap_graphs * 2 : 8;
    emb_graph **g = realloc(ir->graphs, (size_t)cap * sizeof *g);
    if (!g) return NULL;
    ir->graphs = g;
    ir->cap_graphs = cap;
  }
  emb_graph *g = emb_arena_alloc(&ir->arena, sizeof *g);
  if (!g) return NULL;
  g->name = emb_arena_strdup(&ir->arena, name ? name : "");
  if (!g->name) return NULL;
  g->parent = parent;
  g->ir = ir;
  ir->graphs[ir->n_graphs_alloc++] = g;
  return g;
}

int emb_graph_add_val(emb_graph *g, const char *name, emb_diag *d) {
  if (emb_strmap_get(&g->names, name, NULL)) {
    emb_fail(d, EMBER_ERR_INVALID_MODEL,
             "value '%s' is defined more than once in graph '%s'", name,
             g->name);
    return -1;
  }
  if (g->n_vals == g->cap_vals) {
    int cap = g->cap_vals ? g->cap_vals * 2 : 32;
    emb_val *v = emb_arena_array(&g->ir->arena, (size_t)cap, sizeof *v);
    if (!v) goto oom;
    if (g->n_vals) memcpy(v, g->vals, (size_t)g->n_vals * sizeof *v);
    g->vals = v;
    g->cap_vals = cap;
  }
  emb_val *v = &g->vals[g->n_vals];
  memset(v, 0, sizeof *v);
  v->name = emb_arena_strdup(&g->ir->arena, name);
  if (!v->name) goto oom;
  emb_type_unknown(&v->type);
  v->producer = -1;
  v->input_index = -1;
  v->output_index = -1;
  v->outer = -1;
  if (!emb_strmap_put(&g->names, v->name, g->n_vals)) goto oom;
  return g->n_vals++;
oom:
  emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory building graph");
  return -1;
}

int emb_graph_find(const emb_graph *g, const char *name) {
  int i;
  return emb_strmap_get(&g->names, name, &i) ? i : -1;
}

int32_t emb_ir_symbol(emb_ir *ir, const char *name) {
  for (int i = 0; i < ir->n_symbols; i++)
    if (strcmp(ir->symbols[i], name) == 0) return i + 1;
  if (ir->n_symbols == ir->cap_symbols) {
    int cap = ir->cap_symbols ? ir->cap_symbols * 2 : 16;
    const char **s = realloc(ir->symbols, (size_t)cap * sizeof *s);
    if (!s) return 0;
    ir->symbols = s;
    ir->cap_symbols = cap;
  }
  const char *c = emb_arena_strdup(&ir->arena, name);
  if (!c) return 0;
  ir->symbols[ir->n_symbols++] = c;
  return ir->n_symbols;
}

int64_t emb_ir_opset(const emb_ir *ir, const char *domain) {
  if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
  for (int i = 0; i < ir->n_opsets; i++) {
    const char *d = ir->opsets[i].domain;
    if (strcmp(d, "ai.onnx") == 0) d = "";
    if (strcmp(d, domain) == 0) return ir->opsets[i].version;
  }
  return -1;
}

const emb_attr *emb_node_attr(const emb_node *n, const char *name) {
  for (int i = 0; i < n->n_attr; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

const char *emb_node_desc(const emb_node *n, char *buf, size_t size) {
  if (n->name && n->name[0])
    snprintf(buf, size, "node '%s' (%s)", n->name, n->op_type);
  else
    snprintf(buf, size, "unnamed %s node", n->op_type);
  return buf;
}

/* ---------------------------------------------------------------- types */

void emb_type_unknown(emb_type *t) {
  memset(t, 0, sizeof *t);
  t->rank = -1;
}

void emb_type_tensor(emb_type *t, int32_t dtype, int rank,
                     const int64_t *dims) {
  memset(t, 0, sizeof *t);
  t->kind = EMBER_KIND_TENSOR;
  t->dtype = dtype;
  t->rank = rank;
  for (int i = 0; i < rank && i < EMB_MAX_RANK; i++) {
    t->dims[i].v = dims ? dims[i] : -1;
    t->dims[i].sym = 0;
  }
}

bool emb_type_static(const emb_type *t) {
  if (t->kind != EMBER_KIND_TENSOR || t->rank < 0) return false;
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i].v < 0) return false;
  return true;
}

const char *emb_type_str(const emb_type *t, const char *const *symbols,
                         char *buf, size_t n) {
  size_t k = 0;
  const char *pre = "";
  if (t->kind == EMBER_KIND_SEQUENCE) pre = "seq ";
  if (t->kind == EMBER_KIND_OPTIONAL) pre = "optional ";
  k += (size_t)snprintf(buf, n, "%s%s", pre,
                        t->kind ? ember_dtype_name(t->dtype) : "unknown");
  if (t->rank < 0) {
    if (k < n) snprintf(buf + k, n - k, "[?]");
    return buf;
  }
  if (k < n) k += (size_t)snprintf(buf + k, n - k, "[");
  for (int i = 0; i < t->rank && k < n; i++) {
    const char *sep = i ? "," : "";
    if (t->dims[i].v >= 0)
      k += (size_t)snprintf(buf + k, n - k, "%s%lld", sep,
                            (long long)t->dims[i].v);
    else if (t->dims[i].sym > 0 && symbols)
      k += (size_t)snprintf(buf + k, n - k, "%s%s", sep,
                            symbols[t->dims[i].sym - 1]);
    else
      k += (size_t)snprintf(buf + k, n - k, "%s?", sep);
  }
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}
