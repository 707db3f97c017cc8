/*
 * Unit tests of the graph optimizer (lib/opt): identity elimination,
 * Transpose merging, Reshape collapsing, per-channel affine folding into
 * Conv and BatchNormalization, MatMul + Add -> Gemm.  Each test builds a
 * small multi-node model with the protobuf-c schema, loads it twice: at
 * IR level (to see which nodes are left and to check the graph's
 * invariants: use counts, producers, execution order, graph outputs
 * produced) and through the public API (to run it).  Expected results are
 * computed here from the inputs, independently of the optimizer, and
 * the cases where a rewrite must not happen check that it did not.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ember/ember.h"
#include "ir/infer.h"
#include "onnx-schema.pb-c.h"
#include "onnx/loader.h"

/* ------------------------------------------------------ model builder */

#define OM_MAX 16
#define OM_ATTRS 4

typedef struct om {
  int opset;
  Emberpb__Node nodes[OM_MAX];
  Emberpb__Node *node_ptrs[OM_MAX];
  Emberpb__Attribute attrs[OM_MAX][OM_ATTRS];
  Emberpb__Attribute *attr_ptrs[OM_MAX][OM_ATTRS];
  int n_nodes;
  Emberpb__ValueInfo gin[OM_MAX], gout[OM_MAX];
  Emberpb__ValueInfo *gin_ptrs[OM_MAX], *gout_ptrs[OM_MAX];
  int n_gin, n_gout;
  Emberpb__Tensor inits[OM_MAX];
  Emberpb__Tensor *init_ptrs[OM_MAX];
  int n_inits;
  void *pool[512];
  int n_pool;
} om;

static void *om_alloc(om *m, size_t n) {
  void *p = calloc(1, n ? n : 1);
  assert_non_null(p);
  assert_true(m->n_pool < (int)(sizeof m->pool / sizeof m->pool[0]));
  m->pool[m->n_pool++] = p;
  return p;
}

static char *om_str(om *m, const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(om_alloc(m, n), s, n);
}

static om *om_new(int opset) {
  om *m = calloc(1, sizeof *m);
  assert_non_null(m);
  m->opset = opset;
  return m;
}

static void om_free(om *m) {
  for (int i = 0; i < m->n_pool; i++) free(m->pool[i]);
  free(m);
}

/* "a,b,,c" -> names; an empty name is an omitted input. */
static size_t om_names(om *m, const char *list, char ***out) {
  size_t n = 0;
  char **v = om_alloc(m, OM_MAX * sizeof *v);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char *s = om_alloc(m, len + 1);
    memcpy(s, p, len);
    assert_true(n < OM_MAX);
    v[n++] = s;
    if (!e) break;
    p = e + 1;
  }
  *out = v;
  return n;
}

/* A node named n0, n1, ...; om_attr_* apply to the last one. */
static void om_node(om *m, const char *op, const char *ins, const char *outs) {
  assert_true(m->n_nodes < OM_MAX);
  Emberpb__Node *n = &m->nodes[m->n_nodes];
  emberpb__node__init(n);
  char name[16];
  snprintf(name, sizeof name, "n%d", m->n_nodes);
  n->name = om_str(m, name);
  n->op_type = om_str(m, op);
  n->domain = "";
  n->n_input = om_names(m, ins, &n->input);
  n->n_output = om_names(m, outs, &n->output);
  n->attribute = m->attr_ptrs[m->n_nodes];
  m->node_ptrs[m->n_nodes++] = n;
}

static Emberpb__Attribute *om_attr(om *m, const char *name, int type) {
  Emberpb__Node *n = &m->nodes[m->n_nodes - 1];
  assert_true(n->n_attribute < OM_ATTRS);
  Emberpb__Attribute *a = &m->attrs[m->n_nodes - 1][n->n_attribute];
  emberpb__attribute__init(a);
  a->name = om_str(m, name);
  a->has_type = 1;
  a->type = type;
  m->attr_ptrs[m->n_nodes - 1][n->n_attribute++] = a;
  return a;
}

static void om_attr_int(om *m, const char *name, int64_t v) {
  Emberpb__Attribute *a = om_attr(m, name, 2);
  a->has_i = 1;
  a->i = v;
}

static void om_attr_float(om *m, const char *name, float v) {
  Emberpb__Attribute *a = om_attr(m, name, 1);
  a->has_f = 1;
  a->f = v;
}

static void om_attr_ints(om *m, const char *name, size_t n, const int64_t *v) {
  Emberpb__Attribute *a = om_attr(m, name, 7);
  a->n_ints = n;
  a->ints = om_alloc(m, n * sizeof *v);
  memcpy(a->ints, v, n * sizeof *v);
}

/* A graph input of a tensor type with a shape; a dim < 0 is symbolic
 * ("N"). */
static void om_input(om *m, const char *name, int32_t dtype, int rank,
                     const int64_t *dims) {
  Emberpb__ValueInfo *v = &m->gin[m->n_gin];
  emberpb__value_info__init(v);
  v->name = om_str(m, name);
  Emberpb__Type *ty = om_alloc(m, sizeof *ty);
  emberpb__type__init(ty);
  Emberpb__Type__TensorT *tt = om_alloc(m, sizeof *tt);
  emberpb__type__tensor_t__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = dtype;
  Emberpb__Shape *sh = om_alloc(m, sizeof *sh);
  emberpb__shape__init(sh);
  sh->n_dim = (size_t)rank;
  sh->dim = om_alloc(m, (size_t)(rank ? rank : 1) * sizeof *sh->dim);
  for (int i = 0; i < rank; i++) {
    Emberpb__Shape__Dim *d = om_alloc(m, sizeof *d);
    emberpb__shape__dim__init(d);
    if (dims[i] >= 0) {
      d->value_case = EMBERPB__SHAPE__DIM__VALUE_DIM_VALUE;
      d->dim_value = dims[i];
    } else {
      d->value_case = EMBERPB__SHAPE__DIM__VALUE_DIM_PARAM;
      d->dim_param = om_str(m, "N");
    }
    sh->dim[i] = d;
  }
  tt->shape = sh;
  ty->value_case = EMBERPB__TYPE__VALUE_TENSOR_TYPE;
  ty->tensor_type = tt;
  v->type = ty;
  m->gin_ptrs[m->n_gin++] = v;
}

/* An initializer. */
static void om_const(om *m, const char *name, int32_t dtype, int rank,
                     const int64_t *dims, const void *data) {
  Emberpb__Tensor *tp = &m->inits[m->n_inits];
  emberpb__tensor__init(tp);
  tp->name = om_str(m, name);
  tp->has_data_type = 1;
  tp->data_type = dtype;
  tp->n_dims = (size_t)rank;
  tp->dims = om_alloc(m, sizeof(int64_t) * (size_t)(rank ? rank : 1));
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)(tp->dims[i] = dims[i]);
  size_t bytes = ember_dtype_bytes(dtype, n);
  tp->has_raw_data = 1;
  tp->raw_data.len = bytes;
  tp->raw_data.data = om_alloc(m, bytes);
  memcpy(tp->raw_data.data, data, bytes);
  m->init_ptrs[m->n_inits++] = tp;
}

static void om_output(om *m, const char *name) {
  Emberpb__ValueInfo *v = &m->gout[m->n_gout];
  emberpb__value_info__init(v);
  v->name = om_str(m, name);
  m->gout_ptrs[m->n_gout++] = v;
}

/* The graph of m (for the model or a body attribute). */
static Emberpb__Graph *om_graph(om *m, om *owner, const char *name) {
  Emberpb__Graph *g = om_alloc(owner, sizeof *g);
  emberpb__graph__init(g);
  g->name = om_str(owner, name);
  g->n_node = (size_t)m->n_nodes;
  g->node = m->node_ptrs;
  g->n_input = (size_t)m->n_gin;
  g->input = m->gin_ptrs;
  g->n_output = (size_t)m->n_gout;
  g->output = m->gout_ptrs;
  g->n_initializer = (size_t)m->n_inits;
  g->initializer = m->init_ptrs;
  return g;
}

static void om_attr_graph(om *m, const char *name, om *body) {
  Emberpb__Attribute *a = om_attr(m, name, 5);
  a->g = om_graph(body, m, "body");
}

/* The serialized model (malloc'ed). */
static uint8_t *om_pack(om *m, size_t *len) {
  Emberpb__OpsetId op, *ops = &op;
  emberpb__opset_id__init(&op);
  op.domain = "";
  op.has_version = 1;
  op.version = m->opset;
  Emberpb__Model model;
  emberpb__model__init(&model);
  model.has_ir_version = 1;
  model.ir_version = 8;
  model.graph = om_graph(m, m, "opt");
  model.n_opset_import = 1;
  model.opset_import = &ops;
  *len = emberpb__model__get_packed_size(&model);
  uint8_t *buf = malloc(*len ? *len : 1);
  assert_non_null(buf);
  emberpb__model__pack(&model, buf);
  return buf;
}

/* ------------------------------------------------------------ checks */

/* Every invariant the optimizer promises, over g and its subgraphs. */
static void check_graph(const emb_graph *g) {
  int *uses = calloc((size_t)g->n_vals + 1, sizeof *uses);
  assert_non_null(uses);
  for (int i = 0; i < g->n_nodes; i++) {
    const emb_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v < 0) continue;
      uses[v]++;
      int p = g->vals[v].producer;
      if (p >= i)
        fail_msg("node %d (%s) reads '%s', produced later by node %d", i,
                 n->op_type, g->vals[v].name, p);
      if (p < 0 && !g->vals[v].konst && g->vals[v].input_index < 0 &&
          g->vals[v].outer < 0)
        fail_msg("node %d (%s) reads '%s', which nothing produces", i,
                 n->op_type, g->vals[v].name);
    }
    for (int k = 0; k < n->n_implicit; k++) uses[n->implicit[k]]++;
    for (int k = 0; k < n->n_out; k++)
      if (n->out[k] >= 0 && g->vals[n->out[k]].producer != i)
        fail_msg("node %d (%s) writes '%s' whose producer is %d", i, n->op_type,
                 g->vals[n->out[k]].name, g->vals[n->out[k]].producer);
    for (int k = 0; k < n->n_attr; k++)
      if (n->attrs[k].type == 5) check_graph(n->attrs[k].g);
  }
  for (int v = 0; v < g->n_vals; v++) {
    if (uses[v] != g->vals[v].n_uses)
      fail_msg("'%s' has n_uses %d but %d readers", g->vals[v].name,
               g->vals[v].n_uses, uses[v]);
    int p = g->vals[v].producer;
    if (p >= 0) {
      bool found = false;
      assert_true(p < g->n_nodes);
      for (int k = 0; k < g->nodes[p].n_out; k++)
        found |= g->nodes[p].out[k] == v;
      if (!found)
        fail_msg("'%s' names producer %d, which does not write it",
                 g->vals[v].name, p);
    }
  }
  for (int o = 0; o < g->n_outputs; o++) {
    const emb_val *v = &g->vals[g->outputs[o]];
    if (v->producer < 0 && !v->konst && v->input_index < 0 && v->outer < 0)
      fail_msg("graph output '%s' is not produced", v->name);
  }
  free(uses);
}

/* Load at IR level, check invariants and return the op types in order,
 * comma-separated, e.g. "Conv,Relu". */
static void ops_of(om *m, char *ops, size_t size) {
  size_t len;
  uint8_t *buf = om_pack(m, &len);
  emb_ir *ir = NULL;
  emb_diag d;
  emb_diag_clear(&d);
  if (emb_onnx_load(buf, len, NULL, &ir, &d) ||
      emb_graph_prepare(ir, ir->main, &d))
    fail_msg("load failed: %s", d.msg);
  free(buf);
  check_graph(ir->main);
  ops[0] = '\0';
  size_t k = 0;
  for (int i = 0; i < ir->main->n_nodes; i++)
    k += (size_t)snprintf(ops + k, size - k, "%s%s", i ? "," : "",
                          ir->main->nodes[i].op_type);
  emb_ir_free(ir);
}

static void expect_ops(om *m, const char *want) {
  char got[512];
  ops_of(m, got, sizeof got);
  if (strcmp(got, want) != 0)
    fail_msg("nodes after optimizing: [%s], expected [%s]", got, want);
}

/* Load through the API, run with one float input "x" and compare the
 * first output with `want` (rank, dims and values). */
static void expect_run(om *m, int x_rank, const int64_t *x_dims, const float *x,
                       int rank, const int64_t *dims, const float *want,
                       float tol) {
  size_t len;
  uint8_t *buf = om_pack(m, &len);
  ember_model *model;
  ember_session *s;
  ember_status st = ember_model_load_memory(buf, len, NULL, &model);
  free(buf);
  if (st) fail_msg("load: %s", ember_model_errmsg(model));
  assert_int_equal(ember_session_create(model, NULL, &s), EMBER_OK);
  size_t xn = 1;
  for (int i = 0; i < x_rank; i++) xn *= (size_t)x_dims[i];
  ember_tensor in = {EMBER_FLOAT, x_rank, x_dims, (void *)x, xn * sizeof *x};
  ember_tensor out = {0};
  const char *name = "x";
  st = ember_session_run(s, 1, &name, &in, 1, NULL, &out);
  if (st) fail_msg("run: %s", ember_session_errmsg(s));
  assert_int_equal(out.rank, rank);
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (out.dims[i] != dims[i])
      fail_msg("output dim %d is %lld, expected %lld", i,
               (long long)out.dims[i], (long long)dims[i]);
    n *= (size_t)dims[i];
  }
  const float *got = out.data;
  for (size_t i = 0; i < n; i++)
    if (!(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i]))))
      fail_msg("output[%zu] = %.9g, expected %.9g", i, got[i], want[i]);
  ember_session_free(s);
  ember_model_free(model);
}

/* Deterministic test data in [-1, 1). */
static void fill(float *v, size_t n, unsigned seed) {
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    v[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

static float relu(float v) { return v > 0 ? v : 0; }

/* ------------------------------------------------ identity elimination */

static const int64_t d23[] = {2, 3};
static const float x6[] = {-1.5f, 2, -3, 4, 0.5f, -0.25f};

static void test_identity_between_nodes_is_removed(void **state) {
  (void)state;
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 2, d23);
  om_node(m, "Neg", "x", "a");
  om_node(m, "Identity", "a", "b");
  om_node(m, "Relu", "b", "y");
  om_output(m, "y");
  expect_ops(m, "Neg,Relu");
  float want[6];
  for (int i = 0; i < 6; i++) want[i] = relu(-x6[i]);
  expect_run(m, 2, d23, x6, 2, d23, want, 0);
  om_free(m);
}

static void test_identity_to_graph_output_renames_producer(void **state) {
  (void)state;
  /* a is read by the Identity (whose output y is a graph output) and by
   * Abs: Neg comes to write y, Abs reads y. */
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 2, d23);
  om_node(m, "Neg", "x", "a");
  om_node(m, "Abs", "a", "z");
  om_node(m, "Identity", "a", "y");
  om_output(m, "y");
  om_output(m, "z");
  expect_ops(m, "Neg,Abs");
  float want[6];
  for (int i = 0; i < 6; i++) want[i] = -x6[i];
  expect_run(m, 2, d23, x6, 2, d23, want, 0);
  om_free(m);
}

static void test_identity_of_graph_input_is_kept(void **state) {
  (void)state;
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 2, d23);
  om_node(m, "Identity", "x", "y");
  om_output(m, "y");
  expect_ops(m, "Identity");
  expect_run(m, 2, d23, x6, 2, d23, x6, 0);
  om_free(m);
}

static void test_identity_captured_by_subgraph_is_kept(void **state) {
  (void)state;
  /* The If branches read t from the enclosing graph by name: t must
   * keep its producer. */
  om *m = om_new(17);
  bool cond = true;
  int64_t none[1] = {0};
  om_input(m, "x", EMBER_FLOAT, 2, d23);
  om_const(m, "c", EMBER_BOOL, 0, none, &cond);
  om_node(m, "Identity", "x", "t");
  om *then_b = om_new(17), *else_b = om_new(17);
  om_node(then_b, "Relu", "t", "r");
  om_output(then_b, "r");
  om_node(else_b, "Neg", "t", "r2");
  om_output(else_b, "r2");
  om_node(m, "If", "c", "y");
  om_attr_graph(m, "then_branch", then_b);
  om_attr_graph(m, "else_branch", else_b);
  om_output(m, "y");
  char ops[256];
  ops_of(m, ops, sizeof ops);
  assert_non_null(strstr(ops, "Identity"));
  float want[6];
  for (int i = 0; i < 6; i++) want[i] = relu(x6[i]);
  expect_run(m, 2, d23, x6, 2, d23, want, 0);
  om_free(then_b);
  om_free(else_b);
  om_free(m);
}

static void test_dropout_without_mask_is_removed(void **state) {
  (void)state;
  om *m = om_new(13);
  float ratio = 0.5f;
  int64_t none[1] = {0};
  om_input(m, "x", EMBER_FLOAT, 2, d23);
  om_const(m, "ratio", EMBER_FLOAT, 0, none, &ratio);
  om_node(m, "Neg", "x", "a");
  om_node(m, "Dropout", "a,ratio", "b");
  om_node(m, "Relu", "b", "y");
  om_output(m, "y");
  expect_ops(m, "Neg,Relu");
  float want[6];
  for (int i = 0; i < 6; i++) want[i] = relu(-x6[i]);
  expect_run(m, 2, d23, x6, 2, d23, want, 0);
  om_free(m);
}

static void test_dropout_with_mask_read_is_kept(void **state) {
  (void)state;
  om *m = om_new(13);
  om_input(m, "x", EMBER_FLOAT, 2, d23);
  om_node(m, "Neg", "x", "a");
  om_node(m, "Dropout", "a", "b,mask");
  om_node(m, "Relu", "b", "y");
  om_output(m, "y");
  om_output(m, "mask");
  expect_ops(m, "Neg,Dropout,Relu");
  om_free(m);
}

static void test_noop_cast_and_reshape_are_removed(void **state) {
  (void)state;
  int64_t shape[2] = {2, 3}, two = 2;
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 2, d23);
  om_const(m, "s", EMBER_INT64, 1, &two, shape);
  om_node(m, "Neg", "x", "a");
  om_node(m, "Cast", "a", "b");
  om_attr_int(m, "to", EMBER_FLOAT);
  om_node(m, "Reshape", "b,s", "c");
  om_node(m, "Relu", "c", "y");
  om_output(m, "y");
  expect_ops(m, "Neg,Relu");
  float want[6];
  for (int i = 0; i < 6; i++) want[i] = relu(-x6[i]);
  expect_run(m, 2, d23, x6, 2, d23, want, 0);
  om_free(m);
}

/* ------------------------------------------------- Transpose, Reshape */

static const int64_t d234[] = {2, 3, 4};

static void test_transpose_pair_cancels(void **state) {
  (void)state;
  float x[24];
  fill(x, 24, 1);
  int64_t p1[3] = {1, 2, 0}, p2[3] = {2, 0, 1};
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 3, d234);
  om_node(m, "Transpose", "x", "a");
  om_attr_ints(m, "perm", 3, p1);
  om_node(m, "Transpose", "a", "b");
  om_attr_ints(m, "perm", 3, p2);
  om_node(m, "Relu", "b", "y");
  om_output(m, "y");
  expect_ops(m, "Relu");
  float want[24];
  for (int i = 0; i < 24; i++) want[i] = relu(x[i]);
  expect_run(m, 3, d234, x, 3, d234, want, 0);
  om_free(m);
}

static void test_transpose_pair_merges(void **state) {
  (void)state;
  /* perm (1,0,2) then (0,2,1): y[i][j][k] = a[i][k][j] = x[k][i][j], so
   * y has shape [3,4,2] and the composed perm is (1,2,0). */
  float x[24];
  fill(x, 24, 2);
  int64_t p1[3] = {1, 0, 2}, p2[3] = {0, 2, 1};
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 3, d234);
  om_node(m, "Transpose", "x", "a");
  om_attr_ints(m, "perm", 3, p1);
  om_node(m, "Transpose", "a", "y");
  om_attr_ints(m, "perm", 3, p2);
  om_output(m, "y");
  expect_ops(m, "Transpose");
  int64_t yd[3] = {3, 4, 2};
  float want[24];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      for (int k = 0; k < 2; k++)
        want[(i * 4 + j) * 2 + k] = x[(k * 3 + i) * 4 + j];
  expect_run(m, 3, d234, x, 3, yd, want, 0);
  om_free(m);
}

static void test_transpose_read_elsewhere_still_merges(void **state) {
  (void)state;
  /* The first Transpose has another reader, so it stays; the second
   * reads x directly. */
  float x[24];
  fill(x, 24, 3);
  int64_t p[3] = {2, 1, 0};
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 3, d234);
  om_node(m, "Transpose", "x", "a");
  om_attr_ints(m, "perm", 3, p);
  om_node(m, "Transpose", "a", "b");
  om_attr_ints(m, "perm", 3, p);
  om_node(m, "Add", "b,b", "y");
  om_node(m, "Neg", "a", "z");
  om_output(m, "y");
  om_output(m, "z");
  /* Execution order between Add and Neg is the loader's choice. */
  char ops[256];
  ops_of(m, ops, sizeof ops);
  if (strcmp(ops, "Transpose,Add,Neg") != 0 &&
      strcmp(ops, "Transpose,Neg,Add") != 0)
    fail_msg("nodes after optimizing: [%s]", ops);
  float want[24];
  for (int i = 0; i < 24; i++) want[i] = x[i] + x[i];
  expect_run(m, 3, d234, x, 3, d234, want, 0);
  om_free(m);
}

static void test_reshape_chain_collapses(void **state) {
  (void)state;
  float x[24];
  fill(x, 24, 4);
  int64_t two = 2, three = 3, s1[2] = {6, 4}, s2[3] = {4, -1, 2};
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 3, d234);
  om_const(m, "s1", EMBER_INT64, 1, &two, s1);
  om_const(m, "s2", EMBER_INT64, 1, &three, s2);
  om_node(m, "Reshape", "x,s1", "a");
  om_node(m, "Reshape", "a,s2", "b");
  om_node(m, "Relu", "b", "y");
  om_output(m, "y");
  expect_ops(m, "Reshape,Relu");
  int64_t yd[3] = {4, 3, 2};
  float want[24];
  for (int i = 0; i < 24; i++) want[i] = relu(x[i]);
  expect_run(m, 3, d234, x, 3, yd, want, 0);
  om_free(m);
}

static void test_reshape_back_to_input_shape_vanishes(void **state) {
  (void)state;
  float x[24];
  fill(x, 24, 5);
  int64_t two = 2, three = 3, s1[2] = {6, 4}, s2[3] = {2, 3, 4};
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 3, d234);
  om_const(m, "s1", EMBER_INT64, 1, &two, s1);
  om_const(m, "s2", EMBER_INT64, 1, &three, s2);
  om_node(m, "Flatten", "x", "f");
  om_node(m, "Reshape", "f,s1", "a");
  om_node(m, "Reshape", "a,s2", "b");
  om_node(m, "Relu", "b", "y");
  om_output(m, "y");
  expect_ops(m, "Relu");
  float want[24];
  for (int i = 0; i < 24; i++) want[i] = relu(x[i]);
  expect_run(m, 3, d234, x, 3, d234, want, 0);
  om_free(m);
}

static void test_reshape_copying_a_dim_is_not_collapsed(void **state) {
  (void)state;
  /* [0, 2, -1] copies dim 0 of the intermediate [6, 4], not of x. */
  float x[24];
  fill(x, 24, 6);
  int64_t two = 2, three = 3, s1[2] = {6, 4}, s2[3] = {0, 2, -1};
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 3, d234);
  om_const(m, "s1", EMBER_INT64, 1, &two, s1);
  om_const(m, "s2", EMBER_INT64, 1, &three, s2);
  om_node(m, "Reshape", "x,s1", "a");
  om_node(m, "Reshape", "a,s2", "b");
  om_node(m, "Relu", "b", "y");
  om_output(m, "y");
  expect_ops(m, "Reshape,Reshape,Relu");
  int64_t yd[3] = {6, 2, 2};
  float want[24];
  for (int i = 0; i < 24; i++) want[i] = relu(x[i]);
  expect_run(m, 3, d234, x, 3, yd, want, 0);
  om_free(m);
}

/* ---------------------------------------------- per-channel affine folds */

/* A 2-D convolution, stride 1, symmetric padding p, one group, in
 * double: x [1,C,H,W], w [M,C,K,K], b [M] or NULL -> y [1,M,H',W']. */
static void ref_conv(const float *x, int C, int H, int W, const float *w,
                     const float *b, int M, int K, int p, double *y) {
  int OH = H + 2 * p - K + 1, OW = W + 2 * p - K + 1;
  for (int m = 0; m < M; m++)
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        double s = b ? b[m] : 0.0;
        for (int c = 0; c < C; c++)
          for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
              int ih = oh + kh - p, iw = ow + kw - p;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              s += (double)x[(c * H + ih) * W + iw] *
                   w[((m * C + c) * K + kh) * K + kw];
            }
        y[(m * OH + oh) * OW + ow] = s;
      }
}

/* Conv [1,2,5,5] * [3,2,3,3] pad 1 -> [1,3,5,5], weights and BN
 * parameters shared by the tests below. */
static const int64_t dx[] = {1, 2, 5, 5}, dw[] = {3, 2, 3, 3}, d3[] = {3};
static float cx[50], cw[54], cb[3], bn_s[3], bn_b[3], bn_m[3], bn_v[3];

static void conv_data(void) {
  fill(cx, 50, 10);
  fill(cw, 54, 11);
  fill(cb, 3, 12);
  fill(bn_s, 3, 13);
  fill(bn_b, 3, 14);
  fill(bn_m, 3, 15);
  fill(bn_v, 3, 16);
  for (int c = 0; c < 3; c++) bn_v[c] = bn_v[c] * bn_v[c] + 0.1f;
}

static void add_conv(om *m, const char *in, const char *w, const char *b,
                     const char *out) {
  char ins[64];
  snprintf(ins, sizeof ins, "%s,%s%s%s", in, w, b ? "," : "", b ? b : "");
  om_node(m, "Conv", ins, out);
  int64_t pads[4] = {1, 1, 1, 1};
  om_attr_ints(m, "pads", 4, pads);
}

static void add_bn(om *m, const char *in, const char *out, float eps) {
  char ins[64];
  snprintf(ins, sizeof ins, "%s,s,bb,mean,var", in);
  om_node(m, "BatchNormalization", ins, out);
  om_attr_float(m, "epsilon", eps);
}

static void bn_consts(om *m) {
  om_const(m, "s", EMBER_FLOAT, 1, d3, bn_s);
  om_const(m, "bb", EMBER_FLOAT, 1, d3, bn_b);
  om_const(m, "mean", EMBER_FLOAT, 1, d3, bn_m);
  om_const(m, "var", EMBER_FLOAT, 1, d3, bn_v);
}

static double ref_bn(double v, int c, float eps) {
  return (v - bn_m[c]) / sqrt((double)bn_v[c] + (double)eps) * bn_s[c] +
         bn_b[c];
}

static void test_conv_bn_folds(void **state) {
  (void)state;
  conv_data();
  om *m = om_new(15);
  om_input(m, "x", EMBER_FLOAT, 4, dx);
  om_const(m, "w", EMBER_FLOAT, 4, dw, cw);
  bn_consts(m);
  add_conv(m, "x", "w", NULL, "c");
  add_bn(m, "c", "n", 1e-3f);
  om_node(m, "Relu", "n", "y");
  om_output(m, "y");
  expect_ops(m, "Conv,Relu");
  double r[75];
  float want[75];
  ref_conv(cx, 2, 5, 5, cw, NULL, 3, 3, 1, r);
  for (int i = 0; i < 75; i++)
    want[i] = relu((float)ref_bn(r[i], i / 25, 1e-3f));
  int64_t dy[4] = {1, 3, 5, 5};
  expect_run(m, 4, dx, cx, 4, dy, want, 1e-5f);
  om_free(m);
}

static void test_conv_bias_bn_mul_add_sub_fold_into_one_conv(void **state) {
  (void)state;
  /* Conv(+b) -> BN -> Mul [3,1,1] -> Add [1,3,1,1] -> Sub scalar: one
   * Conv, which is the graph output. */
  conv_data();
  float k_mul[3] = {2.0f, -0.5f, 1.5f}, k_add[3] = {0.25f, -1.0f, 3.0f},
        k_sub = 0.75f;
  int64_t d311[3] = {3, 1, 1}, d1311[4] = {1, 3, 1, 1}, none[1] = {0};
  om *m = om_new(17);
  om_input(m, "x", EMBER_FLOAT, 4, dx);
  om_const(m, "w", EMBER_FLOAT, 4, dw, cw);
  om_const(m, "b", EMBER_FLOAT, 1, d3, cb);
  om_const(m, "km", EMBER_FLOAT, 3, d311, k_mul);
  om_const(m, "ka", EMBER_FLOAT, 4, d1311, k_add);
  om_const(m, "ks", EMBER_FLOAT, 0, none, &k_sub);
  bn_consts(m);
  add_conv(m, "x", "w", "b", "c");
  add_bn(m, "c", "n", 1e-5f);
  om_node(m, "Mul", "km,n", "p");
  om_node(m, "Add", "p,ka", "q");
  om_node(m, "Sub", "q,ks", "y");
  om_output(m, "y");
  expect_ops(m, "Conv");
  double r[75];
  float want[75];
  ref_conv(cx, 2, 5, 5, cw, cb, 3, 3, 1, r);
  for (int i = 0; i < 75; i++) {
    int c = i / 25;
    want[i] = (float)(ref_bn(r[i], c, 1e-5f) * k_mul[c] + k_add[c] - k_sub);
  }
  int64_t dy[4] = {1, 3, 5, 5};
  expect_run(m, 4, dx, cx, 4, dy, want, 1e-5f);
  om_free(m);
}

static void test_conv_shared_weights_fold_separately(void **state) {
  (void)state;
  /* Two Convs read the same weights; one folds a BN, the other a Mul, so
   * the first fold must copy the weights and only the second may scale
   * them in place. */
  conv_data();
  float k_mul[3] = {3.0f, 2.0f, -1.0f};
  om *m = om_new(15);
  om_input(m, "x", EMBER_FLOAT, 4, dx);
  om_const(m, "w", EMBER_FLOAT, 4, dw, cw);
  om_const(m, "km", EMBER_FLOAT, 3, (int64_t[]){3, 1, 1}, k_mul);
  bn_consts(m);
  add_conv(m, "x", "w", NULL, "c1");
  add_bn(m, "c1", "y1", 1e-5f);
  add_conv(m, "x", "w", NULL, "c2");
  om_node(m, "Mul", "c2,km", "t");
  om_node(m, "Add", "y1,t", "y");
  om_output(m, "y");
  expect_ops(m, "Conv,Conv,Add");
  double r[75];
  float want[75];
  ref_conv(cx, 2, 5, 5, cw, NULL, 3, 3, 1, r);
  for (int i = 0; i < 75; i++)
    want[i] = (float)(ref_bn(r[i], i / 25, 1e-5f) + r[i] * k_mul[i / 25]);
  int64_t dy[4] = {1, 3, 5, 5};
  expect_run(m, 4, dx, cx, 4, dy, want, 1e-5f);
  om_free(m);
}

static void test_conv_read_twice_keeps_bn(void **state) {
  (void)state;
  conv_data();
  om *m = om_new(15);
  om_input(m, "x", EMBER_FLOAT, 4, dx);
  om_const(m, "w", EMBER_FLOAT, 4, dw, cw);
  bn_consts(m);
  add_conv(m, "x", "w", NULL, "c");
  add_bn(m, "c", "n", 1e-5f);
  om_node(m, "Add", "n,c", "y");
  om_output(m, "y");
  expect_ops(m, "Conv,BatchNormalization,Add");
  double r[75];
  float want[75];
  ref_conv(cx, 2, 5, 5, cw, NULL, 3, 3, 1, r);
  for (int i = 0; i < 75; i++)
    want[i] = (float)(ref_bn(r[i], i / 25, 1e-5f) + r[i]);
  int64_t dy[4] = {1, 3, 5, 5};
  expect_run(m, 4, dx, cx, 4, dy, want, 1e-5f);
  om_free(m);
}

static void test_mul_along_width_is_not_folded(void **state) {
  (void)state;
  conv_data();
  float k[5] = {1, 2, 3, 4, 5};
  om *m = om_new(15);
  om_input(m, "x", EMBER_FLOAT, 4, dx);
  om_const(m, "w", EMBER_FLOAT, 4, dw, cw);
  om_const(m, "k", EMBER_FLOAT, 1, (int64_t[]){5}, k);
  add_conv(m, "x", "w", NULL, "c");
  om_node(m, "Mul", "c,k", "y");
  om_output(m, "y");
  expect_ops(m, "Conv,Mul");
  double r[75];
  float want[75];
  ref_conv(cx, 2, 5, 5, cw, NULL, 3, 3, 1, r);
  for (int i = 0; i < 75; i++) want[i] = (float)(r[i] * k[i % 5]);
  int64_t dy[4] = {1, 3, 5, 5};
  expect_run(m, 4, dx, cx, 4, dy, want, 1e-5f);
  om_free(m);
}

static void test_bn_training_mode_is_not_folded(void **state) {
  (void)state;
  conv_data();
  om *m = om_new(15);
  om_input(m, "x", EMBER_FLOAT, 4, dx);
  om_const(m, "w", EMBER_FLOAT, 4, dw, cw);
  bn_consts(m);
  add_conv(m, "x", "w", NULL, "c");
  add_bn(m, "c", "y", 1e-5f);
  om_attr_int(m, "training_mode", 1);
  om_output(m, "y");
  expect_ops(m, "Conv,BatchNormalization");
  om_free(m);
}

static void test_overridable_bn_parameters_are_not_folded(void **state) {
  (void)state;
  /* An initializer also listed as a graph input may be replaced at run,
   * so it is no constant to fold. */
  conv_data();
  om *m = om_new(15);
  om_input(m, "x", EMBER_FLOAT, 4, dx);
  om_input(m, "s", EMBER_FLOAT, 1, d3);
  om_const(m, "w", EMBER_FLOAT, 4, dw, cw);
  bn_consts(m);
  add_conv(m, "x", "w", NULL, "c");
  add_bn(m, "c", "y", 1e-5f);
  om_output(m, "y");
  expect_ops(m, "Conv,BatchNormalization");
  om_free(m);
}

static void test_bn_absorbs_mul_and_add(void **state) {
  (void)state;
  /* Pre-activation BN -> Mul -> Add -> Relu on a graph input: the Mul
   * and Add fold into the BN's scale and bias. */
  conv_data();
  float k_mul[3] = {2.0f, -0.5f, 1.5f}, k_add[3] = {0.25f, -1.0f, 3.0f};
  int64_t d311[3] = {3, 1, 1};
  static const int64_t dxb[] = {1, 3, 2, 2};
  float x[12];
  fill(x, 12, 20);
  om *m = om_new(15);
  om_input(m, "x", EMBER_FLOAT, 4, dxb);
  om_const(m, "km", EMBER_FLOAT, 3, d311, k_mul);
  om_const(m, "ka", EMBER_FLOAT, 3, d311, k_add);
  bn_consts(m);
  add_bn(m, "x", "n", 1e-5f);
  om_node(m, "Mul", "n,km", "p");
  om_node(m, "Add", "ka,p", "q");
  om_node(m, "Relu", "q", "y");
  om_output(m, "y");
  expect_ops(m, "BatchNormalization,Relu");
  float want[12];
  for (int i = 0; i < 12; i++) {
    int c = i / 4;
    want[i] = relu((float)(ref_bn(x[i], c, 1e-5f) * k_mul[c] + k_add[c]));
  }
  expect_run(m, 4, dxb, x, 4, dxb, want, 1e-5f);
  om_free(m);
}

/* ------------------------------------------------ MatMul + Add -> Gemm */

static const int64_t da[] = {4, 3}, db[] = {3, 5};
static float ma[12], mb[15], mc[20];

static void mm_ref(const float *bias, int bias_rows, int bias_cols,
                   float *want) {
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 5; j++) {
      double s = 0;
      for (int k = 0; k < 3; k++) s += (double)ma[i * 3 + k] * mb[k * 5 + j];
      s +=
          bias[(bias_rows == 1 ? 0 : i) * bias_cols + (bias_cols == 1 ? 0 : j)];
      want[i * 5 + j] = (float)s;
    }
}

static void test_matmul_add_becomes_gemm(void **state) {
  (void)state;
  fill(ma, 12, 30);
  fill(mb, 15, 31);
  fill(mc, 20, 32);
  int64_t d5[1] = {5};
  om *m = om_new(13);
  om_input(m, "x", EMBER_FLOAT, 2, da);
  om_const(m, "b", EMBER_FLOAT, 2, db, mb);
  om_const(m, "c", EMBER_FLOAT, 1, d5, mc);
  om_node(m, "MatMul", "x,b", "p");
  om_node(m, "Add", "c,p", "y");
  om_output(m, "y");
  expect_ops(m, "Gemm");
  float want[20];
  mm_ref(mc, 1, 5, want);
  int64_t dy[2] = {4, 5};
  expect_run(m, 2, da, ma, 2, dy, want, 1e-5f);
  om_free(m);
}

static void test_matmul_add_full_bias_becomes_gemm(void **state) {
  (void)state;
  fill(ma, 12, 33);
  fill(mb, 15, 34);
  fill(mc, 20, 35);
  int64_t d45[2] = {4, 5};
  om *m = om_new(13);
  om_input(m, "x", EMBER_FLOAT, 2, da);
  om_const(m, "b", EMBER_FLOAT, 2, db, mb);
  om_const(m, "c", EMBER_FLOAT, 2, d45, mc);
  om_node(m, "MatMul", "x,b", "p");
  om_node(m, "Add", "p,c", "q");
  om_node(m, "Relu", "q", "y");
  om_output(m, "y");
  expect_ops(m, "Gemm,Relu");
  float want[20];
  mm_ref(mc, 4, 5, want);
  for (int i = 0; i < 20; i++) want[i] = relu(want[i]);
  expect_run(m, 2, da, ma, 2, d45, want, 1e-5f);
  om_free(m);
}

static void test_matmul_add_that_broadcasts_rows_is_kept(void **state) {
  (void)state;
  /* A has a symbolic row count: a [4,5] bias could grow a 1-row product,
   * which Gemm cannot do. */
  int64_t dn3[2] = {-1, 3}, d45[2] = {4, 5};
  om *m = om_new(13);
  om_input(m, "x", EMBER_FLOAT, 2, dn3);
  om_const(m, "b", EMBER_FLOAT, 2, db, mb);
  om_const(m, "c", EMBER_FLOAT, 2, d45, mc);
  om_node(m, "MatMul", "x,b", "p");
  om_node(m, "Add", "p,c", "y");
  om_output(m, "y");
  expect_ops(m, "MatMul,Add");
  om_free(m);
}

static void test_batched_matmul_add_is_kept(void **state) {
  (void)state;
  int64_t d243[3] = {2, 4, 3}, d5[1] = {5};
  om *m = om_new(13);
  om_input(m, "x", EMBER_FLOAT, 3, d243);
  om_const(m, "b", EMBER_FLOAT, 2, db, mb);
  om_const(m, "c", EMBER_FLOAT, 1, d5, mc);
  om_node(m, "MatMul", "x,b", "p");
  om_node(m, "Add", "p,c", "y");
  om_output(m, "y");
  expect_ops(m, "MatMul,Add");
  om_free(m);
}

/* ------------------------------------------- whole models, invariants */

static void test_shipped_model_stays_consistent(void **state) {
  (void)state;
  FILE *f = fopen(EMBER_SOURCE_DIR "/models/tiny_cnn.onnx", "rb");
  assert_non_null(f);
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  emb_ir *ir = NULL;
  emb_diag d;
  emb_diag_clear(&d);
  if (emb_onnx_load(buf, n, NULL, &ir, &d) ||
      emb_graph_prepare(ir, ir->main, &d))
    fail_msg("load failed: %s", d.msg);
  check_graph(ir->main);
  emb_ir_free(ir);
}

/* Load one model file at IR level and check the invariants; models the
 * loader refuses (unsupported operators) are skipped.  Returns 1 when
 * checked. */
static int check_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(n > 0 ? (size_t)n : 1);
  assert_non_null(buf);
  size_t got = fread(buf, 1, (size_t)n, f);
  fclose(f);
  emb_ir *ir = NULL;
  emb_diag d;
  emb_diag_clear(&d);
  int ok = !emb_onnx_load(buf, got, NULL, &ir, &d) &&
           !emb_graph_prepare(ir, ir->main, &d);
  free(buf);
  if (ok) check_graph(ir->main);
  emb_ir_free(ir);
  return ok;
}

/* Every .onnx file under dir, recursively. */
static int check_tree(const char *dir) {
  DIR *dp = opendir(dir);
  if (!dp) return 0;
  int count = 0;
  struct dirent *e;
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st)) continue;
    size_t len = strlen(e->d_name);
    if (S_ISDIR(st.st_mode))
      count += check_tree(path);
    else if (len > 5 && strcmp(e->d_name + len - 5, ".onnx") == 0)
      count += check_file(path);
  }
  closedir(dp);
  return count;
}

static void test_conformance_models_stay_consistent(void **state) {
  (void)state;
  const char *root = EMBER_SOURCE_DIR "/../shared/onnx-tests";
  DIR *dp = opendir(root);
  if (!dp) skip();
  closedir(dp);
  int n = check_tree(root);
  print_message("checked %d models\n", n);
  assert_true(n > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identity_between_nodes_is_removed),
      cmocka_unit_test(test_identity_to_graph_output_renames_producer),
      cmocka_unit_test(test_identity_of_graph_input_is_kept),
      cmocka_unit_test(test_identity_captured_by_subgraph_is_kept),
      cmocka_unit_test(test_dropout_without_mask_is_removed),
      cmocka_unit_test(test_dropout_with_mask_read_is_kept),
      cmocka_unit_test(test_noop_cast_and_reshape_are_removed),
      cmocka_unit_test(test_transpose_pair_cancels),
      cmocka_unit_test(test_transpose_pair_merges),
      cmocka_unit_test(test_transpose_read_elsewhere_still_merges),
      cmocka_unit_test(test_reshape_chain_collapses),
      cmocka_unit_test(test_reshape_back_to_input_shape_vanishes),
      cmocka_unit_test(test_reshape_copying_a_dim_is_not_collapsed),
      cmocka_unit_test(test_conv_bn_folds),
      cmocka_unit_test(test_conv_bias_bn_mul_add_sub_fold_into_one_conv),
      cmocka_unit_test(test_conv_shared_weights_fold_separately),
      cmocka_unit_test(test_conv_read_twice_keeps_bn),
      cmocka_unit_test(test_mul_along_width_is_not_folded),
      cmocka_unit_test(test_bn_training_mode_is_not_folded),
      cmocka_unit_test(test_overridable_bn_parameters_are_not_folded),
      cmocka_unit_test(test_bn_absorbs_mul_and_add),
      cmocka_unit_test(test_matmul_add_becomes_gemm),
      cmocka_unit_test(test_matmul_add_full_bias_becomes_gemm),
      cmocka_unit_test(test_matmul_add_that_broadcasts_rows_is_kept),
      cmocka_unit_test(test_batched_matmul_add_is_kept),
      cmocka_unit_test(test_shipped_model_stays_consistent),
      cmocka_unit_test(test_conformance_models_stay_consistent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
