/*
 * ModelProto -> IR.  Parses the bytes with protobuf-c (our own schema,
 * onnx-schema.proto), checks the model (IR version, opset imports, value
 * definitions, node arity), expands model-local functions (FunctionProto)
 * inline, converts attributes (subgraphs recursively, with captured outer
 * values recorded), resolves every node against the operator registry and
 * sorts the nodes topologically.  Type inference and constant folding come
 * after (ir/infer.c).  Every error names the node, value or field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/loader.h"
#include "onnx-schema.pb-c.h"
#include "ops/op.h"

#define EMB_MAX_IR_VERSION 14
#define EMB_MAX_GRAPH_DEPTH 32
#define EMB_MAX_FUNCTION_DEPTH 16

typedef struct emb_flat_attr {
  const char *name;
  const Emberpb__Attribute *ap;
} emb_flat_attr;

/* A node after function expansion: names already renamed. */
typedef struct emb_flat_node {
  const char *name, *op_type, *domain;
  int64_t opset;
  int n_in, n_out, n_attr;
  const char **in, **out;
  emb_flat_attr *attrs;
} emb_flat_node;

typedef struct emb_flat_list {
  emb_flat_node *v;
  int n, cap;
} emb_flat_list;

typedef struct emb_loader {
  emb_ir *ir;
  emb_diag *d;
  const char *base_dir;
  const Emberpb__Model *mp;
  int depth;
  int expansions;
} emb_loader;

static ember_status emb_oom(emb_loader *L) {
  return emb_fail(L->d, EMBER_ERR_OUT_OF_MEMORY, "out of memory loading model");
}

static const char *emb_norm_dom(const char *d) {
  return (!d || strcmp(d, "ai.onnx") == 0) ? "" : d;
}

/* ---------------------------------------------------------------- types */

static ember_status emb_type_from_pb(emb_loader *L, const Emberpb__Type *tp,
                                     emb_type *t, const char *what) {
  emb_type_unknown(t);
  if (!tp) return EMBER_OK;
  const Emberpb__Type__TensorT *tt = NULL;
  switch (tp->value_case) {
    case EMBERPB__TYPE__VALUE_TENSOR_TYPE:
      t->kind = EMBER_KIND_TENSOR;
      tt = tp->tensor_type;
      break;
    case EMBERPB__TYPE__VALUE_SPARSE_TENSOR_TYPE:
      t->kind = EMBER_KIND_SPARSE_TENSOR;
      t->dtype = tp->sparse_tensor_type->elem_type;
      return EMBER_OK;
    case EMBERPB__TYPE__VALUE_SEQUENCE_TYPE: {
      emb_type inner;
      ember_status st = emb_type_from_pb(
          L, tp->sequence_type->elem_type, &inner, what);
      if (st) return st;
      *t = inner;
      t->kind = EMBER_KIND_SEQUENCE;
      t->elem_kind = inner.kind;
      return EMBER_OK;
    }
    case EMBERPB__TYPE__VALUE_OPTIONAL_TYPE: {
      emb_type inner;
      ember_status st = emb_type_from_pb(
          L, tp->optional_type->elem_type, &inner, what);
      if (st) return st;
      *t = inner;
      t->kind = EMBER_KIND_OPTIONAL;
      t->elem_kind = inner.kind;
      return EMBER_OK;
    }
    case EMBERPB__TYPE__VALUE_MAP_TYPE:
      t->kind = EMBER_KIND_MAP;
      return EMBER_OK;
    default:
      return EMBER_OK;
  }
  t->dtype = tt->has_elem_type ? tt->elem_type : 0;
  if (t->dtype && !emb_dtype_valid(t->dtype))
    return emb_fail(L->d, EMBER_ERR_UNSUPPORTED,
                    "%s: unknown element type %d", what, (int)t->dtype);
  if (!tt->shape) return EMBER_OK;
  if (tt->shape->n_dim > EMB_MAX_RANK)
    return emb_fail(L->d, EMBER_ERR_LIMIT, "%s: rank %zu exceeds %d", what,
                    tt->shape->n_dim, EMB_MAX_RANK);
  t->rank = (int32_t)tt->shape->n_dim;
  for (size_t i = 0; i < tt->shape->n_dim; i++) {
    const Emberpb__Shape__Dim *dm = tt->shape->dim[i];
    t->dims[i].v = -1;
    t->dims[i].sym = 0;
    if (dm->value_case == EMBERPB__SHAPE__DIM__VALUE_DIM_VALUE) {
      if (dm->dim_value < 0)
        return emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                        "%s: dimension %zu is negative", what, i);
      t->dims[i].v = dm->dim_value;
    } else if (dm->value_case == EMBERPB__SHAPE__DIM__VALUE_DIM_PARAM &&
               dm->dim_param && dm->dim_param[0]) {
      t->dims[i].sym = emb_ir_symbol(L->ir, dm->dim_param);
      if (!t->dims[i].sym) return emb_oom(L);
    }
  }
  return EMBER_OK;
}

/* ----------------------------------------------------- function inlining */

static const Emberpb__Function *emb_find_function(emb_loader *L,
                                                  const char *domain,
                                                  const char *name) {
  for (size_t i = 0; i < L->mp->n_functions; i++) {
    const Emberpb__Function *f = L->mp->functions[i];
    if (f->name && strcmp(f->name, name) == 0 &&
        strcmp(emb_norm_dom(f->domain), emb_norm_dom(domain)) == 0)
      return f;
  }
  return NULL;
}

static int64_t emb_model_opset(emb_loader *L, const char *domain) {
  return emb_ir_opset(L->ir, domain);
}

static emb_flat_node *emb_flat_push(emb_loader *L, emb_flat_list *fl) {
  if (fl->n == fl->cap) {
    int cap = fl->cap ? fl->cap * 2 : 64;
    emb_flat_node *v = realloc(fl->v, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    fl->v = v;
    fl->cap = cap;
  }
  (void)L;
  emb_flat_node *n = &fl->v[fl->n++];
  memset(n, 0, sizeof *n);
  return n;
}

static ember_status emb_flatten_node(emb_loader *L, emb_flat_list *fl,
                                     const emb_flat_node *call, int depth);

/* Expand a call of a model-local function into fl. */
static ember_status emb_expand_function(emb_loader *L, emb_flat_list *fl,
                                        const Emberpb__Function *fn,
                                        const emb_flat_node *call,
                                        int depth) {
  emb_arena *a = &L->ir->arena;
  if (depth > EMB_MAX_FUNCTION_DEPTH)
    return emb_fail(L->d, EMBER_ERR_LIMIT,
                    "function '%s' nests deeper than %d calls (recursion?)",
                    fn->name, EMB_MAX_FUNCTION_DEPTH);
  emb_strmap map = {0};
  const char **targets =
      emb_arena_array(a, fn->n_input + fn->n_output + 1, sizeof *targets);
  char prefix[256];
  ember_status st = EMBER_OK;
  if (!targets) return emb_oom(L);
  snprintf(prefix, sizeof prefix, "%s/%s#%d/",
           call->name[0] ? call->name : call->op_type, fn->name,
           L->expansions++);
  size_t k = 0;
  for (size_t i = 0; i < fn->n_input; i++, k++) {
    targets[k] = (int)i < call->n_in ? call->in[i] : "";
    if (!emb_strmap_put(&map, fn->input[i], (int)k)) goto oom;
  }
  for (size_t i = 0; i < fn->n_output; i++, k++) {
    if ((int)i < call->n_out && call->out[i][0]) {
      targets[k] = call->out[i];
    } else {
      char buf[512];
      snprintf(buf, sizeof buf, "%s%s", prefix, fn->output[i]);
      targets[k] = emb_arena_strdup(a, buf);
      if (!targets[k]) goto oom;
    }
    if (!emb_strmap_put(&map, fn->output[i], (int)k)) goto oom;
  }
  for (size_t ni = 0; ni < fn->n_node; ni++) {
    const Emberpb__Node *bn = fn->node[ni];
    emb_flat_node fnode;
    memset(&fnode, 0, sizeof fnode);
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", prefix, bn->name ? bn->name : "");
    fnode.name = emb_arena_strdup(a, buf);
    fnode.op_type = bn->op_type ? bn->op_type : "";
    fnode.domain = emb_norm_dom(bn->domain);
    fnode.opset = -1;
    for (size_t o = 0; o < fn->n_opset_import; o++)
      if (strcmp(emb_norm_dom(fn->opset_import[o]->domain), fnode.domain) == 0)
        fnode.opset = fn->opset_import[o]->version;
    if (fnode.opset < 0) fnode.opset = emb_model_opset(L, fnode.domain);
    fnode.n_in = (int)bn->n_input;
    fnode.n_out = (int)bn->n_output;
    fnode.in = emb_arena_array(a, bn->n_input + 1, sizeof(char *));
    fnode.out = emb_arena_array(a, bn->n_output + 1, sizeof(char *));
    fnode.attrs = emb_arena_array(a, bn->n_attribute + 1, sizeof(emb_flat_attr));
    if (!fnode.name || !fnode.in || !fnode.out || !fnode.attrs) goto oom;
    for (int pass = 0; pass < 2; pass++) {
      size_t cnt = pass ? bn->n_output : bn->n_input;
      char **names = pass ? bn->output : bn->input;
      const char **dst = pass ? fnode.out : fnode.in;
      for (size_t i = 0; i < cnt; i++) {
        int idx;
        if (!names[i][0]) {
          dst[i] = "";
        } else if (emb_strmap_get(&map, names[i], &idx)) {
          dst[i] = targets[idx];
        } else {
          snprintf(buf, sizeof buf, "%s%s", prefix, names[i]);
          dst[i] = emb_arena_strdup(a, buf);
          if (!dst[i]) goto oom;
        }
      }
    }
    for (size_t i = 0; i < bn->n_attribute; i++) {
      const Emberpb__Attribute *ap = bn->attribute[i];
      const Emberpb__Attribute *src = ap;
      if (ap->ref_attr_name && ap->ref_attr_name[0]) {
        src = NULL;
        for (int c = 0; c < call->n_attr; c++)
          if (strcmp(call->attrs[c].name, ap->ref_attr_name) == 0)
            src = call->attrs[c].ap;
        for (size_t c = 0; !src && c < fn->n_attribute_proto; c++)
          if (fn->attribute_proto[c]->name &&
              strcmp(fn->attribute_proto[c]->name, ap->ref_attr_name) == 0)
            src = fn->attribute_proto[c];
        if (!src) continue; /* not given and no default: absent */
      }
      fnode.attrs[fnode.n_attr].name = ap->name ? ap->name : "";
      fnode.attrs[fnode.n_attr].ap = src;
      fnode.n_attr++;
    }
    st = emb_flatten_node(L, fl, &fnode, depth + 1);
    if (st) break;
  }
  emb_strmap_free(&map);
  return st;
oom:
  emb_strmap_free(&map);
  return emb_oom(L);
}

static ember_status emb_flatten_node(emb_loader *L, emb_flat_list *fl,
                                     const emb_flat_node *node, int depth) {
  const Emberpb__Function *fn =
      emb_find_function(L, node->domain, node->op_type);
  if (fn) return emb_expand_function(L, fl, fn, node, depth);
  emb_flat_node *n = emb_flat_push(L, fl);
  if (!n) return emb_oom(L);
  *n = *node;
  return EMBER_OK;
}

/* ----------------------------------------------------------- attributes */

static ember_status emb_conv_graph(emb_loader *L, const Emberpb__Graph *gp,
                                   emb_graph *parent, emb_graph **out);

static int emb_guess_attr_type(const Emberpb__Attribute *ap) {
  if (ap->n_floats) return EMB_ATTR_FLOATS;
  if (ap->n_ints) return EMB_ATTR_INTS;
  if (ap->n_strings) return EMB_ATTR_STRINGS;
  if (ap->n_tensors) return EMB_ATTR_TENSORS;
  if (ap->n_graphs) return EMB_ATTR_GRAPHS;
  if (ap->t) return EMB_ATTR_TENSOR;
  if (ap->g) return EMB_ATTR_GRAPH;
  if (ap->has_s) return EMB_ATTR_STRING;
  if (ap->has_f) return EMB_ATTR_FLOAT;
  if (ap->has_i) return EMB_ATTR_INT;
  return 0;
}

static ember_status emb_conv_attr(emb_loader *L, emb_graph *g,
                                  const emb_flat_node *fn,
                                  const emb_flat_attr *fa, emb_attr *a) {
  emb_arena *ar = &L->ir->arena;
  const Emberpb__Attribute *ap = fa->ap;
  ember_status st = EMBER_OK;
  a->name = emb_arena_strdup(ar, fa->name);
  if (!a->name) return emb_oom(L);
  a->type = ap->has_type && ap->type ? ap->type : emb_guess_attr_type(ap);
  switch (a->type) {
    case EMB_ATTR_FLOAT: a->f = ap->f; break;
    case EMB_ATTR_INT: a->i = ap->i; break;
    case EMB_ATTR_STRING:
      a->s = emb_arena_strndup(ar, (const char *)ap->s.data, ap->s.len);
      a->slen = ap->s.len;
      if (!a->s) return emb_oom(L);
      break;
    case EMB_ATTR_TENSOR:
      if (!ap->t) goto missing;
      a->t = emb_arena_alloc(ar, sizeof *a->t);
      if (!a->t) return emb_oom(L);
      st = emb_tensor_from_pb(ap->t, ar, L->base_dir, a->t, L->d);
      break;
    case EMB_ATTR_SPARSE_TENSOR:
      if (!ap->sparse_tensor) goto missing;
      a->t = emb_arena_alloc(ar, sizeof *a->t);
      if (!a->t) return emb_oom(L);
      st = emb_sparse_from_pb(ap->sparse_tensor, ar, L->base_dir, a->t, L->d);
      break;
    case EMB_ATTR_GRAPH:
      if (!ap->g) goto missing;
      st = emb_conv_graph(L, ap->g, g, &a->g);
      break;
    case EMB_ATTR_FLOATS:
      a->n = ap->n_floats;
      a->floats = emb_arena_memdup(ar, ap->floats, a->n * sizeof(float));
      if (!a->floats) return emb_oom(L);
      break;
    case EMB_ATTR_INTS:
      a->n = ap->n_ints;
      a->ints = emb_arena_memdup(ar, ap->ints, a->n * sizeof(int64_t));
      if (!a->ints) return emb_oom(L);
      break;
    case EMB_ATTR_STRINGS:
      a->n = ap->n_strings;
      a->strings = emb_arena_array(ar, a->n + 1, sizeof(char *));
      a->strlens = emb_arena_array(ar, a->n + 1, sizeof(size_t));
      if (!a->strings || !a->strlens) return emb_oom(L);
      for (size_t i = 0; i < a->n; i++) {
        a->strings[i] = emb_arena_strndup(ar, (const char *)ap->strings[i].data,
                                          ap->strings[i].len);
        a->strlens[i] = ap->strings[i].len;
        if (!a->strings[i]) return emb_oom(L);
      }
      break;
    case EMB_ATTR_TENSORS:
      a->n = ap->n_tensors;
      a->tensors = emb_arena_array(ar, a->n + 1, sizeof(emb_tensor));
      if (!a->tensors) return emb_oom(L);
      for (size_t i = 0; i < a->n && !st; i++)
        st = emb_tensor_from_pb(ap->tensors[i], ar, L->base_dir,
                                &a->tensors[i], L->d);
      break;
    case EMB_ATTR_GRAPHS:
      a->n = ap->n_graphs;
      a->graphs = emb_arena_array(ar, a->n + 1, sizeof(emb_graph *));
      if (!a->graphs) return emb_oom(L);
      for (size_t i = 0; i < a->n && !st; i++)
        st = emb_conv_graph(L, ap->graphs[i], g, &a->graphs[i]);
      break;
    case EMB_ATTR_TYPE_PROTO:
      a->tp = emb_arena_alloc(ar, sizeof *a->tp);
      if (!a->tp) return emb_oom(L);
      st = emb_type_from_pb(L, ap->tp, a->tp, a->name);
      break;
    case EMB_ATTR_SPARSE_TENSORS:
    case EMB_ATTR_TYPE_PROTOS:
      break; /* kept by name only; no operator here reads them */
    default:
      return emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                      "node '%s' (%s): attribute '%s' has no value or an "
                      "unknown type %d",
                      fn->name, fn->op_type, a->name, (int)a->type);
  }
  if (st)
    emb_diag_prefix(L->d, "node '%s' (%s), attribute '%s': ", fn->name,
                    fn->op_type, a->name);
  return st;
missing:
  return emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                  "node '%s' (%s): attribute '%s' declares a value it does "
                  "not hold",
                  fn->name, fn->op_type, a->name);
}

/* ------------------------------------------------------------- graphs */

/* Find `name` in an enclosing graph and capture it into g; returns the
 * index in g or -1. */
static int emb_capture(emb_loader *L, emb_graph *g, const char *name) {
  if (!g->parent) return -1;
  int pi = emb_graph_find(g->parent, name);
  if (pi < 0) pi = emb_capture(L, g->parent, name);
  if (pi < 0) return -1;
  int i = emb_graph_add_val(g, name, L->d);
  if (i < 0) return -1;
  g->vals[i].outer = pi;
  g->vals[i].type = g->parent->vals[pi].type;
  g->n_outer++;
  return i;
}

static int emb_resolve(emb_loader *L, emb_graph *g, const char *name) {
  int i = emb_graph_find(g, name);
  return i >= 0 ? i : emb_capture(L, g, name);
}

static ember_status emb_toposort(emb_loader *L, emb_graph *g) {
  int n = g->n_nodes;
  if (n == 0) return EMBER_OK;
  int *indeg = calloc((size_t)n, sizeof *indeg);
  int *order = malloc((size_t)n * sizeof *order);
  int *users_start = calloc((size_t)n + 1, sizeof *users_start);
  int total = 0;
  ember_status st = EMBER_OK;
  if (!indeg || !order || !users_start) goto oom;
  /* Count edges producer -> consumer (duplicates fine). */
  for (int i = 0; i < n; i++) {
    emb_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->n_in + nd->n_implicit; k++) {
      int v = k < nd->n_in ? nd->in[k] : nd->implicit[k - nd->n_in];
      if (v < 0 || g->vals[v].producer < 0) continue;
      users_start[g->vals[v].producer + 1]++;
      indeg[i]++;
      total++;
    }
  }
  for (int i = 0; i < n; i++) users_start[i + 1] += users_start[i];
  int *users = malloc((size_t)(total ? total : 1) * sizeof *users);
  int *fill = calloc((size_t)n, sizeof *fill);
  if (!users || !fill) {
    free(users);
    free(fill);
    goto oom;
  }
  for (int i = 0; i < n; i++) {
    emb_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->n_in + nd->n_implicit; k++) {
      int v = k < nd->n_in ? nd->in[k] : nd->implicit[k - nd->n_in];
      if (v < 0 || g->vals[v].producer < 0) continue;
      int p = g->vals[v].producer;
      users[users_start[p] + fill[p]++] = i;
    }
  }
  /* Kahn's algorithm; the queue keeps file order among ready nodes. */
  int head = 0, tail = 0;
  for (int i = 0; i < n; i++)
    if (!indeg[i]) order[tail++] = i;
  while (head < tail) {
    int u = order[head++];
    for (int e = users_start[u]; e < users_start[u + 1]; e++)
      if (--indeg[users[e]] == 0) order[tail++] = users[e];
  }
  free(users);
  free(fill);
  if (tail < n) {
    int bad = 0;
    while (bad < n && indeg[bad] == 0) bad++;
    char desc[300];
    st = emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                  "graph '%s' has a cycle: %s is part of it or depends on it",
                  g->name, emb_node_desc(&g->nodes[bad], desc, sizeof desc));
    goto done;
  }
  emb_node *sorted = emb_arena_array(&L->ir->arena, (size_t)n, sizeof *sorted);
  if (!sorted) goto oom;
  for (int i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
  g->nodes = sorted;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < sorted[i].n_out; k++)
      if (sorted[i].out[k] >= 0) g->vals[sorted[i].out[k]].producer = i;
  goto done;
oom:
  st = emb_oom(L);
done:
  free(indeg);
  free(order);
  free(users_start);
  return st;
}

static ember_status emb_conv_nodes(emb_loader *L, const Emberpb__Graph *gp,
                                   emb_graph *g) {
  emb_arena *ar = &L->ir->arena;
  emb_flat_list fl = {0};
  ember_status st = EMBER_OK;
  /* 1. Flatten (inline model-local functions). */
  for (size_t i = 0; i < gp->n_node && !st; i++) {
    const Emberpb__Node *np = gp->node[i];
    emb_flat_node f;
    memset(&f, 0, sizeof f);
    f.name = np->name ? np->name : "";
    f.op_type = np->op_type ? np->op_type : "";
    f.domain = emb_norm_dom(np->domain);
    f.opset = emb_model_opset(L, f.domain);
    f.n_in = (int)np->n_input;
    f.n_out = (int)np->n_output;
    f.in = (const char **)np->input;
    f.out = (const char **)np->output;
    f.n_attr = (int)np->n_attribute;
    f.attrs = emb_arena_array(ar, np->n_attribute + 1, sizeof *f.attrs);
    if (!f.attrs) {
      st = emb_oom(L);
      break;
    }
    for (size_t k = 0; k < np->n_attribute; k++) {
      f.attrs[k].name = np->attribute[k]->name ? np->attribute[k]->name : "";
      f.attrs[k].ap = np->attribute[k];
    }
    if (!f.op_type[0]) {
      st = emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                    "node %zu ('%s') of graph '%s' has no op_type", i, f.name,
                    g->name);
      break;
    }
    st = emb_flatten_node(L, &fl, &f, 0);
  }
  if (st) goto done;
  g->n_nodes = fl.n;
  g->nodes = emb_arena_array(ar, (size_t)fl.n + 1, sizeof *g->nodes);
  if (!g->nodes) {
    st = emb_oom(L);
    goto done;
  }
  /* 2. Define every node output first, so inputs may refer forward. */
  for (int i = 0; i < fl.n && !st; i++) {
    emb_flat_node *f = &fl.v[i];
    emb_node *n = &g->nodes[i];
    n->name = emb_arena_strdup(ar, f->name);
    n->op_type = emb_arena_strdup(ar, f->op_type);
    n->domain = emb_arena_strdup(ar, f->domain);
    n->n_out = f->n_out;
    n->out = emb_arena_array(ar, (size_t)f->n_out + 1, sizeof(int));
    if (!n->name || !n->op_type || !n->domain || !n->out) {
      st = emb_oom(L);
      break;
    }
    for (int k = 0; k < f->n_out; k++) {
      n->out[k] = -1;
      if (!f->out[k][0]) continue;
      int v = emb_graph_add_val(g, f->out[k], L->d);
      if (v < 0) {
        char desc[300];
        emb_diag_prefix(L->d, "%s: ", emb_node_desc(n, desc, sizeof desc));
        st = L->d->status;
        break;
      }
      g->vals[v].producer = i;
      n->out[k] = v;
    }
  }
  /* 3. Resolve operators, attributes and inputs. */
  for (int i = 0; i < fl.n && !st; i++) {
    emb_flat_node *f = &fl.v[i];
    emb_node *n = &g->nodes[i];
    char desc[300];
    emb_node_desc(n, desc, sizeof desc);
    if (f->opset < 0) {
      st = emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                    "%s uses domain '%s', which the model does not import",
                    desc, f->domain[0] ? f->domain : "ai.onnx");
      break;
    }
    n->opset = (int)(f->opset > INT32_MAX ? INT32_MAX : f->opset);
    const emb_opreg *reg = emb_op_lookup(f->domain, f->op_type, f->opset);
    if (!reg) {
      const emb_opreg *any = emb_op_lookup_any(f->domain, f->op_type);
      if (any)
        st = emb_fail(L->d, EMBER_ERR_UNSUPPORTED,
                      "%s: operator %s (domain '%s') at opset %lld is not "
                      "supported (Ember runs opsets %d to %d of it)",
                      desc, f->op_type, f->domain[0] ? f->domain : "ai.onnx",
                      (long long)f->opset, any->since, any->until);
      else
        st = emb_fail(L->d, EMBER_ERR_UNSUPPORTED,
                      "%s: unsupported operator %s (domain '%s', opset %lld)",
                      desc, f->op_type, f->domain[0] ? f->domain : "ai.onnx",
                      (long long)f->opset);
      break;
    }
    n->def = reg->def;
    const emb_opdef *def = reg->def;
    if (f->n_in < def->min_in || (def->max_in >= 0 && f->n_in > def->max_in)) {
      st = emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                    "%s has %d inputs; %s takes %d to %d", desc, f->n_in,
                    f->op_type, def->min_in, def->max_in);
      break;
    }
    if (f->n_out < def->min_out ||
        (def->max_out >= 0 && f->n_out > def->max_out)) {
      st = emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                    "%s has %d outputs; %s gives %d to %d", desc, f->n_out,
                    f->op_type, def->min_out, def->max_out);
      break;
    }
    n->n_attr = f->n_attr;
    n->attrs = emb_arena_array(ar, (size_t)f->n_attr + 1, sizeof *n->attrs);
    if (!n->attrs) {
      st = emb_oom(L);
      break;
    }
    for (int k = 0; k < f->n_attr && !st; k++)
      st = emb_conv_attr(L, g, f, &f->attrs[k], &n->attrs[k]);
    if (st) break;
    n->n_in = f->n_in;
    n->in = emb_arena_array(ar, (size_t)f->n_in + 1, sizeof(int));
    if (!n->in) {
      st = emb_oom(L);
      break;
    }
    for (int k = 0; k < f->n_in; k++) {
      n->in[k] = -1;
      /* "" leaves an optional input out.  Whether a slot may be empty is
       * the operator's to check (Loop's first two may, Tile's may not). */
      if (!f->in[k][0]) continue;
      int v = emb_resolve(L, g, f->in[k]);
      if (v < 0) {
        if (!L->d->status)
          emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                   "%s: input %d '%s' is not defined by any node, input or "
                   "initializer",
                   desc, k, f->in[k]);
        st = L->d->status;
        break;
      }
      n->in[k] = v;
    }
    if (st) break;
    /* Values captured by subgraphs are implicit inputs of this node. */
    int cap = 0;
    for (int k = 0; k < n->n_attr; k++) {
      emb_attr *a = &n->attrs[k];
      if (a->type == EMB_ATTR_GRAPH) cap += a->g->n_outer;
      for (size_t j = 0; a->type == EMB_ATTR_GRAPHS && j < a->n; j++)
        cap += a->graphs[j]->n_outer;
    }
    if (cap) {
      n->implicit = emb_arena_array(ar, (size_t)cap, sizeof(int));
      if (!n->implicit) {
        st = emb_oom(L);
        break;
      }
      for (int k = 0; k < n->n_attr; k++) {
        emb_attr *a = &n->attrs[k];
        size_t ng = a->type == EMB_ATTR_GRAPH ? 1
                    : a->type == EMB_ATTR_GRAPHS ? a->n : 0;
        for (size_t j = 0; j < ng; j++) {
          emb_graph *sg = a->type == EMB_ATTR_GRAPH ? a->g : a->graphs[j];
          for (int v = 0; v < sg->n_vals; v++) {
            if (sg->vals[v].outer < 0) continue;
            int pv = sg->vals[v].outer, dup = 0;
            for (int q = 0; q < n->n_implicit; q++)
              dup |= n->implicit[q] == pv;
            if (!dup) n->implicit[n->n_implicit++] = pv;
          }
        }
      }
    }
  }
done:
  free(fl.v);
  return st;
}

static ember_status emb_conv_graph(emb_loader *L, const Emberpb__Graph *gp,
                                   emb_graph *parent, emb_graph **out) {
  emb_arena *ar = &L->ir->arena;
  ember_status st = EMBER_OK;
  if (L->depth >= EMB_MAX_GRAPH_DEPTH)
    return emb_fail(L->d, EMBER_ERR_LIMIT,
                    "subgraphs nest deeper than %d levels", EMB_MAX_GRAPH_DEPTH);
  L->depth++;
  emb_graph *g = emb_graph_new(L->ir, parent, gp->name);
  if (!g) {
    st = emb_oom(L);
    goto done;
  }
  bool is_main = parent == NULL;
  /* Initializers. */
  for (size_t i = 0; i < gp->n_initializer + gp->n_sparse_initializer && !st;
       i++) {
    bool sparse = i >= gp->n_initializer;
    const char *name =
        sparse ? (gp->sparse_initializer[i - gp->n_initializer]->values
                      ? gp->sparse_initializer[i - gp->n_initializer]->values->name
                      : NULL)
               : gp->initializer[i]->name;
    if (!name || !name[0]) {
      st = emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                    "initializer %zu of graph '%s' has no name", i, g->name);
      break;
    }
    int v = emb_graph_add_val(g, name, L->d);
    if (v < 0) {
      st = L->d->status;
      break;
    }
    emb_tensor *t = emb_arena_alloc(ar, sizeof *t);
    if (!t) {
      st = emb_oom(L);
      break;
    }
    st = sparse ? emb_sparse_from_pb(gp->sparse_initializer[i - gp->n_initializer],
                                     ar, L->base_dir, t, L->d)
                : emb_tensor_from_pb(gp->initializer[i], ar, L->base_dir, t,
                                     L->d);
    if (st) {
      emb_diag_prefix(L->d, "initializer '%s': ", name);
      break;
    }
    g->vals[v].konst = t;
    emb_type_tensor(&g->vals[v].type, t->dtype, t->rank, t->dims);
    if (is_main) L->ir->n_params += emb_tensor_numel(t);
  }
  if (st) goto done;
  /* Inputs. */
  g->inputs = emb_arena_array(ar, gp->n_input + 1, sizeof(int));
  if (!g->inputs) {
    st = emb_oom(L);
    goto done;
  }
  for (size_t i = 0; i < gp->n_input; i++) {
    const Emberpb__ValueInfo *vi = gp->input[i];
    if (!vi->name || !vi->name[0]) {
      st = emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                    "input %zu of graph '%s' has no name", i, g->name);
      goto done;
    }
    emb_type decl;
    st = emb_type_from_pb(L, vi->type, &decl, vi->name);
    if (st) goto done;
    int v = emb_graph_find(g, vi->name);
    if (v >= 0 && g->vals[v].konst) { /* initializer with a default */
      g->vals[v].has_default = true;
      if (is_main) continue;
      /* A subgraph binds inputs by position: keep it in the list. */
      g->vals[v].input_index = g->n_inputs;
      g->inputs[g->n_inputs++] = v;
      continue;
    }
    v = emb_graph_add_val(g, vi->name, L->d);
    if (v < 0) {
      st = L->d->status;
      goto done;
    }
    g->vals[v].type = decl;
    g->vals[v].decl = decl;
    g->vals[v].has_decl = vi->type != NULL;
    g->vals[v].input_index = g->n_inputs;
    g->inputs[g->n_inputs++] = v;
  }
  /* Nodes. */
  st = emb_conv_nodes(L, gp, g);
  if (st) goto done;
  /* Declared types of intermediate values. */
  for (size_t i = 0; i < gp->n_value_info; i++) {
    const Emberpb__ValueInfo *vi = gp->value_info[i];
    int v = vi->name ? emb_graph_find(g, vi->name) : -1;
    if (v < 0 || !vi->type) continue;
    st = emb_type_from_pb(L, vi->type, &g->vals[v].decl, vi->name);
    if (st) goto done;
    g->vals[v].has_decl = true;
  }
  /* Outputs. */
  g->outputs = emb_arena_array(ar, gp->n_output + 1, sizeof(int));
  if (!g->outputs) {
    st = emb_oom(L);
    goto done;
  }
  for (size_t i = 0; i < gp->n_output; i++) {
    const Emberpb__ValueInfo *vi = gp->output[i];
    int v = vi->name && vi->name[0] ? emb_resolve(L, g, vi->name) : -1;
    if (v < 0) {
      if (!L->d->status)
        emb_fail(L->d, EMBER_ERR_INVALID_MODEL,
                 "output %zu '%s' of graph '%s' is not produced by any node, "
                 "input or initializer",
                 i, vi->name ? vi->name : "", g->name);
      st = L->d->status;
      goto done;
    }
    if (g->vals[v].output_index < 0) g->vals[v].output_index = (int)i;
    if (vi->type) {
      st = emb_type_from_pb(L, vi->type, &g->vals[v].decl, vi->name);
      if (st) goto done;
      g->vals[v].has_decl = true;
    }
    g->outputs[g->n_outputs++] = v;
  }
  st = emb_toposort(L, g);
  if (st) goto done;
  for (int i = 0; i < g->n_nodes; i++) {
    emb_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0) g->vals[n->in[k]].n_uses++;
    for (int k = 0; k < n->n_implicit; k++) g->vals[n->implicit[k]].n_uses++;
  }
  *out = g;
done:
  L->depth--;
  return st;
}

/* ---------------------------------------------------------------- model */

static void *emb_pb_alloc(void *arena, size_t size) {
  return emb_arena_alloc(arena, size);
}

static void emb_pb_free(void *arena, void *p) {
  (void)arena; /* the arena frees everything with the model */
  (void)p;
}

ember_status emb_onnx_load(const void *data, size_t size,
                           const char *base_dir, emb_ir **out, emb_diag *d) {
  *out = NULL;
  char scan[200];
  emb_ir *ir = emb_ir_new();
  if (!ir) return emb_fail(d, EMBER_ERR_OUT_OF_MEMORY, "out of memory");
  /* The parsed message lives in the model's arena, so initializer bytes
   * (raw_data) become the tensors' data without another copy: one copy of
   * the weights, not two.  Nothing of it is freed before the model. */
  ProtobufCAllocator pa = {emb_pb_alloc, emb_pb_free, &ir->arena};
  Emberpb__Model *mp = emberpb__model__unpack(&pa, size, data);
  if (!mp) {
    emb_ir_free(ir);
    return emb_fail(d, EMBER_ERR_PARSE,
                    "not a valid ONNX model (protobuf parse of %zu bytes "
                    "failed%s)",
                    size, emb_pb_scan_error(data, size, scan, sizeof scan));
  }
  emb_loader L = {.ir = ir, .d = d, .base_dir = base_dir, .mp = mp};
  emb_arena *ar = &ir->arena;
  ember_status st = EMBER_OK;
  if (!mp->graph) {
    st = emb_fail(d, EMBER_ERR_PARSE,
                  "not an ONNX model: no graph (field 7 of ModelProto) in "
                  "%zu bytes",
                  size);
    goto done;
  }
  ir->ir_version = mp->has_ir_version ? mp->ir_version : 0;
  if (ir->ir_version < 3 || ir->ir_version > EMB_MAX_IR_VERSION) {
    st = emb_fail(d, EMBER_ERR_UNSUPPORTED,
                  "ONNX IR version %lld is not supported (Ember reads 3 to "
                  "%d)",
                  (long long)ir->ir_version, EMB_MAX_IR_VERSION);
    goto done;
  }
  ir->model_version = mp->has_model_version ? mp->model_version : 0;
  ir->producer_name = emb_arena_strdup(ar, mp->producer_name);
  ir->producer_version = emb_arena_strdup(ar, mp->producer_version);
  ir->domain = emb_arena_strdup(ar, mp->domain);
  ir->doc_string = emb_arena_strdup(ar, mp->doc_string);
  ir->n_opsets = (int)mp->n_opset_import;
  ir->opsets = emb_arena_array(ar, mp->n_opset_import + 1, sizeof *ir->opsets);
  ir->n_meta = (int)mp->n_metadata_props;
  ir->meta_keys = emb_arena_array(ar, mp->n_metadata_props + 1, sizeof(char *));
  ir->meta_values =
      emb_arena_array(ar, mp->n_metadata_props + 1, sizeof(char *));
  if (!ir->producer_name || !ir->producer_version || !ir->domain ||
      !ir->doc_string || !ir->opsets || !ir->meta_keys || !ir->meta_values) {
    st = emb_oom(&L);
    goto done;
  }
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const Emberpb__OpsetId *o = mp->opset_import[i];
    ir->opsets[i].domain = emb_arena_strdup(ar, o->domain);
    ir->opsets[i].version = o->has_version ? o->version : 1;
    if (!ir->opsets[i].domain) {
      st = emb_oom(&L);
      goto done;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(emb_norm_dom(ir->opsets[j].domain),
                 emb_norm_dom(ir->opsets[i].domain)) == 0) {
        st = emb_fail(d, EMBER_ERR_INVALID_MODEL,
                      "opset_import lists domain '%s' twice",
                      ir->opsets[i].domain);
        goto done;
      }
  }
  if (mp->n_opset_import == 0) {
    st = emb_fail(d, EMBER_ERR_INVALID_MODEL,
                  "the model imports no opset (opset_import is empty)");
    goto done;
  }
  for (size_t i = 0; i < mp->n_metadata_props; i++) {
    ir->meta_keys[i] = emb_arena_strdup(ar, mp->metadata_props[i]->key);
    ir->meta_values[i] = emb_arena_strdup(ar, mp->metadata_props[i]->value);
    if (!ir->meta_keys[i] || !ir->meta_values[i]) {
      st = emb_oom(&L);
      goto done;
    }
  }
  st = emb_conv_graph(&L, mp->graph, NULL, &ir->main);
done:
  if (st) {
    emb_ir_free(ir);
    return st;
  }
  *out = ir;
  return EMBER_OK;
}
