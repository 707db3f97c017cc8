/*
 * Unit tests for the sequence and optional operators (lib/ops/sequence.c).
 * The one-node harness (optest.h) only feeds tensors, so this file builds
 * its own small multi-node models with the same protobuf-c schema: graph
 * inputs may be sequences or optionals (fed through
 * ember_session_run_values), nodes may be chained (SplitToSequence ->
 * ConcatFromSequence, Optional -> OptionalGetElement) and may hold a body
 * graph (SequenceMap).  Every expected result is computed here from the
 * inputs by index arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ember/ember.h"
#include "onnx-schema.pb-c.h"

/* ------------------------------------------------------ model builder */

#define SQ_MAX 16
#define SQ_ATTRS 8

typedef struct sq {
  int opset;
  Emberpb__Node nodes[SQ_MAX];
  Emberpb__Node *node_ptrs[SQ_MAX];
  Emberpb__Attribute attrs[SQ_MAX][SQ_ATTRS];
  Emberpb__Attribute *attr_ptrs[SQ_MAX][SQ_ATTRS];
  int n_nodes;
  Emberpb__ValueInfo gin[SQ_MAX], gout[SQ_MAX];
  Emberpb__ValueInfo *gin_ptrs[SQ_MAX], *gout_ptrs[SQ_MAX];
  int n_gin, n_gout;
  Emberpb__Tensor inits[SQ_MAX];
  Emberpb__Tensor *init_ptrs[SQ_MAX];
  int n_inits;
  ember_value feed[SQ_MAX];
  const char *feed_names[SQ_MAX];
  int n_feed;
  void *pool[512];
  int n_pool;
  ember_model *model;
  ember_session *sess;
  ember_value outs[SQ_MAX];
  char msg[1200];
  struct sq *bodies[4]; /* body graphs built with the same calls */
  int n_bodies;
} sq;

static void *sq_keep(sq *m, void *p) {
  assert_non_null(p);
  assert_true(m->n_pool < (int)(sizeof m->pool / sizeof m->pool[0]));
  m->pool[m->n_pool++] = p;
  return p;
}

static void *sq_alloc(sq *m, size_t n) { return sq_keep(m, calloc(1, n ? n : 1)); }

static char *sq_str(sq *m, const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(sq_alloc(m, n), s, n);
}

static sq *sq_new(int opset) {
  sq *m = calloc(1, sizeof *m);
  assert_non_null(m);
  m->opset = opset;
  return m;
}

static void sq_free(sq *m) {
  if (!m) return;
  for (int i = 0; i < m->n_bodies; i++) sq_free(m->bodies[i]);
  ember_session_free(m->sess);
  ember_model_free(m->model);
  for (int i = 0; i < m->n_pool; i++) free(m->pool[i]);
  free(m);
}

/* Split "a,b,,c" into names; an empty name is an omitted input. */
static size_t sq_names(sq *m, const char *list, char ***out) {
  size_t n = 0;
  char **v = sq_alloc(m, SQ_MAX * sizeof *v);
  if (list[0]) {
    const char *p = list;
    for (;;) {
      const char *e = strchr(p, ',');
      size_t len = e ? (size_t)(e - p) : strlen(p);
      char *s = sq_alloc(m, len + 1);
      memcpy(s, p, len);
      assert_true(n < SQ_MAX);
      v[n++] = s;
      if (!e) break;
      p = e + 1;
    }
  }
  *out = v;
  return n;
}

/* Add a node; later sq_attr_* calls apply to it.  Nodes are named n0, n1.. */
static void sq_node(sq *m, const char *op, const char *ins, const char *outs) {
  assert_true(m->n_nodes < SQ_MAX);
  Emberpb__Node *n = &m->nodes[m->n_nodes];
  emberpb__node__init(n);
  char name[16];
  snprintf(name, sizeof name, "n%d", m->n_nodes);
  n->name = sq_str(m, name);
  n->op_type = sq_str(m, op);
  n->domain = "";
  n->n_input = sq_names(m, ins, &n->input);
  n->n_output = sq_names(m, outs, &n->output);
  n->attribute = m->attr_ptrs[m->n_nodes];
  m->node_ptrs[m->n_nodes] = n;
  m->n_nodes++;
}

static Emberpb__Attribute *sq_attr(sq *m, const char *name, int type) {
  assert_true(m->n_nodes > 0);
  Emberpb__Node *n = &m->nodes[m->n_nodes - 1];
  assert_true(n->n_attribute < SQ_ATTRS);
  Emberpb__Attribute *a = &m->attrs[m->n_nodes - 1][n->n_attribute];
  emberpb__attribute__init(a);
  a->name = sq_str(m, name);
  a->has_type = 1;
  a->type = type;
  m->attr_ptrs[m->n_nodes - 1][n->n_attribute++] = a;
  return a;
}

static void sq_attr_int(sq *m, const char *name, int64_t v) {
  Emberpb__Attribute *a = sq_attr(m, name, 2);
  a->has_i = 1;
  a->i = v;
}

static Emberpb__Type *sq_tensor_type(sq *m, int32_t dtype) {
  Emberpb__Type *ty = sq_alloc(m, sizeof *ty);
  emberpb__type__init(ty);
  Emberpb__Type__TensorT *tt = sq_alloc(m, sizeof *tt);
  emberpb__type__tensor_t__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = dtype;
  ty->value_case = EMBERPB__TYPE__VALUE_TENSOR_TYPE;
  ty->tensor_type = tt;
  return ty;
}

static Emberpb__Type *sq_seq_type(sq *m, int32_t dtype) {
  Emberpb__Type *ty = sq_alloc(m, sizeof *ty);
  emberpb__type__init(ty);
  Emberpb__Type__SequenceT *st = sq_alloc(m, sizeof *st);
  emberpb__type__sequence_t__init(st);
  st->elem_type = sq_tensor_type(m, dtype);
  ty->value_case = EMBERPB__TYPE__VALUE_SEQUENCE_TYPE;
  ty->sequence_type = st;
  return ty;
}

static void sq_gin(sq *m, const char *name, Emberpb__Type *ty) {
  assert_true(m->n_gin < SQ_MAX);
  Emberpb__ValueInfo *v = &m->gin[m->n_gin];
  emberpb__value_info__init(v);
  v->name = sq_str(m, name);
  v->type = ty;
  m->gin_ptrs[m->n_gin++] = v;
}

/* A tensor fed at run; dims and data borrowed until sq_run returns. */
static void sq_tensor_input(sq *m, const char *name, int32_t dtype, int rank,
                            const int64_t *dims, const void *data) {
  sq_gin(m, name, sq_tensor_type(m, dtype));
  ember_value *v = &m->feed[m->n_feed];
  memset(v, 0, sizeof *v);
  v->kind = EMBER_KIND_TENSOR;
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  v->tensor = (ember_tensor){dtype, rank, dims, (void *)data,
                             ember_dtype_bytes(dtype, n)};
  m->feed_names[m->n_feed++] = name;
}

/* A sequence fed at run; items borrowed until sq_run returns. */
static void sq_seq_input(sq *m, const char *name, int32_t elem_dtype,
                         size_t count, const ember_tensor *items) {
  sq_gin(m, name, sq_seq_type(m, elem_dtype));
  ember_value *v = &m->feed[m->n_feed];
  memset(v, 0, sizeof *v);
  v->kind = EMBER_KIND_SEQUENCE;
  v->elem_dtype = elem_dtype;
  v->count = count;
  v->items = items;
  m->feed_names[m->n_feed++] = name;
}

/* An initializer (a constant known at load). */
static void sq_const(sq *m, const char *name, int32_t dtype, int rank,
                     const int64_t *dims, const void *data) {
  assert_true(m->n_inits < SQ_MAX);
  Emberpb__Tensor *tp = &m->inits[m->n_inits];
  emberpb__tensor__init(tp);
  tp->name = sq_str(m, name);
  tp->has_data_type = 1;
  tp->data_type = dtype;
  tp->n_dims = (size_t)rank;
  tp->dims = sq_alloc(m, sizeof(int64_t) * (size_t)(rank ? rank : 1));
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    tp->dims[i] = dims[i];
    n *= (size_t)dims[i];
  }
  size_t bytes = ember_dtype_bytes(dtype, n);
  tp->has_raw_data = 1;
  tp->raw_data.len = bytes;
  tp->raw_data.data = sq_alloc(m, bytes);
  if (bytes) memcpy(tp->raw_data.data, data, bytes);
  m->init_ptrs[m->n_inits++] = tp;
}

static void sq_output(sq *m, const char *name) {
  assert_true(m->n_gout < SQ_MAX);
  Emberpb__ValueInfo *v = &m->gout[m->n_gout];
  emberpb__value_info__init(v);
  v->name = sq_str(m, name);
  m->gout_ptrs[m->n_gout++] = v;
}

/* An optional type holding `inner`. */
static Emberpb__Type *sq_opt_type(sq *m, Emberpb__Type *inner) {
  Emberpb__Type *ty = sq_alloc(m, sizeof *ty);
  emberpb__type__init(ty);
  Emberpb__Type__OptionalT *ot = sq_alloc(m, sizeof *ot);
  emberpb__type__optional_t__init(ot);
  ot->elem_type = inner;
  ty->value_case = EMBERPB__TYPE__VALUE_OPTIONAL_TYPE;
  ty->optional_type = ot;
  return ty;
}

/* An optional input of type optional(inner) fed with v (borrowed until
 * sq_run returns), or fed as absent when v is NULL. */
static void sq_opt_input(sq *m, const char *name, Emberpb__Type *inner,
                         const ember_value *v) {
  sq_gin(m, name, sq_opt_type(m, inner));
  ember_value *f = &m->feed[m->n_feed];
  memset(f, 0, sizeof *f);
  f->kind = EMBER_KIND_OPTIONAL;
  if (v) {
    *f = *v;
    f->elem_kind = v->kind;
    f->kind = EMBER_KIND_OPTIONAL;
    f->has_value = 1;
  }
  m->feed_names[m->n_feed++] = name;
}

/* A graph output with a declared type (for bodies). */
static void sq_typed_output(sq *m, const char *name, Emberpb__Type *ty) {
  sq_output(m, name);
  m->gout[m->n_gout - 1].type = ty;
}

/* A type attribute on the last node. */
static void sq_attr_type(sq *m, const char *name, Emberpb__Type *ty) {
  Emberpb__Attribute *a = sq_attr(m, name, 13);
  a->tp = ty;
}

/* A new body graph: build it with sq_gin / sq_node / sq_typed_output on
 * the result, then attach it with sq_attr_graph.  Freed with m. */
static sq *sq_body(sq *m) {
  assert_true(m->n_bodies < 4);
  sq *b = sq_new(m->opset);
  m->bodies[m->n_bodies++] = b;
  return b;
}

static void sq_attr_graph(sq *m, const char *name, sq *body) {
  Emberpb__Graph *g = sq_alloc(m, sizeof *g);
  emberpb__graph__init(g);
  g->name = sq_str(m, "body");
  g->n_node = (size_t)body->n_nodes;
  g->node = body->node_ptrs;
  g->n_input = (size_t)body->n_gin;
  g->input = body->gin_ptrs;
  g->n_output = (size_t)body->n_gout;
  g->output = body->gout_ptrs;
  g->n_initializer = (size_t)body->n_inits;
  g->initializer = body->init_ptrs;
  Emberpb__Attribute *a = sq_attr(m, name, 5);
  a->g = g;
}

/* Build, load and run; the first failing status (message in m->msg). */
static ember_status sq_run(sq *m) {
  Emberpb__Graph g;
  emberpb__graph__init(&g);
  g.name = "sq";
  g.n_node = (size_t)m->n_nodes;
  g.node = m->node_ptrs;
  g.n_input = (size_t)m->n_gin;
  g.input = m->gin_ptrs;
  g.n_output = (size_t)m->n_gout;
  g.output = m->gout_ptrs;
  g.n_initializer = (size_t)m->n_inits;
  g.initializer = m->init_ptrs;
  Emberpb__OpsetId op, *ops = &op;
  emberpb__opset_id__init(&op);
  op.domain = "";
  op.has_version = 1;
  op.version = m->opset;
  Emberpb__Model model;
  emberpb__model__init(&model);
  model.has_ir_version = 1;
  model.ir_version = 8;
  model.graph = &g;
  model.n_opset_import = 1;
  model.opset_import = &ops;
  size_t len = emberpb__model__get_packed_size(&model);
  uint8_t *buf = malloc(len ? len : 1);
  assert_non_null(buf);
  emberpb__model__pack(&model, buf);
  ember_status st = ember_model_load_memory(buf, len, NULL, &m->model);
  free(buf);
  if (st) {
    snprintf(m->msg, sizeof m->msg, "%s", ember_model_errmsg(m->model));
    return st;
  }
  ember_session_options so;
  ember_session_options_init(&so);
  so.num_threads = 1;
  st = ember_session_create(m->model, &so, &m->sess);
  if (st) {
    snprintf(m->msg, sizeof m->msg, "%s", ember_session_errmsg(m->sess));
    return st;
  }
  st = ember_session_run_values(m->sess, (size_t)m->n_feed, m->feed_names,
                                m->feed, (size_t)m->n_gout, NULL, m->outs);
  if (st) snprintf(m->msg, sizeof m->msg, "%s", ember_session_errmsg(m->sess));
  return st;
}

/* Run and require success. */
static void sq_run_ok(sq *m) {
  ember_status st = sq_run(m);
  if (st) fail_msg("run failed (%d): %s", (int)st, m->msg);
}

/* Run and require status `want` with a message naming node `node` and
 * containing `part`. */
static void sq_run_fails(sq *m, ember_status want, const char *node,
                         const char *part) {
  ember_status st = sq_run(m);
  if (st != want)
    fail_msg("expected status %d, got %d: %s", (int)want, (int)st, m->msg);
  if (node && !strstr(m->msg, node))
    fail_msg("message does not name node '%s': %s", node, m->msg);
  if (part && !strstr(m->msg, part))
    fail_msg("message lacks '%s': %s", part, m->msg);
}

/* ------------------------------------------------------------ checks */

static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  return n;
}

/* Compare a result tensor with an expected one of the same description. */
static void expect_tensor(const ember_tensor *got, int32_t dtype, int rank,
                          const int64_t *dims, const void *data,
                          const char *what) {
  if (got->dtype != dtype)
    fail_msg("%s: dtype %d, expected %d", what, (int)got->dtype, (int)dtype);
  if (got->rank != rank)
    fail_msg("%s: rank %d, expected %d", what, (int)got->rank, rank);
  for (int i = 0; i < rank; i++)
    if (got->dims[i] != dims[i])
      fail_msg("%s: dim %d is %lld, expected %lld", what, i,
               (long long)got->dims[i], (long long)dims[i]);
  size_t n = numel(rank, dims);
  if (dtype == EMBER_STRING) {
    for (size_t i = 0; i < n; i++) {
      const char *g = ((char *const *)got->data)[i];
      const char *e = ((const char *const *)data)[i];
      if (strcmp(g, e))
        fail_msg("%s: element %zu is '%s', expected '%s'", what, i, g, e);
    }
    return;
  }
  size_t es = ember_dtype_bytes(dtype, 1);
  for (size_t i = 0; i < n; i++)
    if (memcmp((const char *)got->data + i * es,
               (const char *)data + i * es, es))
      fail_msg("%s: element %zu differs", what, i);
}

static void expect_same(const ember_tensor *got, const ember_tensor *want,
                        const char *what) {
  expect_tensor(got, want->dtype, want->rank, want->dims, want->data, what);
}

/* The result must be a sequence of `count` tensors equal to want[i]. */
static void expect_seq(const ember_value *v, int32_t elem_dtype, size_t count,
                       const ember_tensor *const *want) {
  assert_int_equal(v->kind, EMBER_KIND_SEQUENCE);
  assert_int_equal(v->elem_dtype, elem_dtype);
  if (v->count != count)
    fail_msg("sequence has %zu tensors, expected %zu", v->count, count);
  for (size_t i = 0; i < count; i++) {
    char what[32];
    snprintf(what, sizeof what, "item %zu", i);
    expect_same(&v->items[i], want[i], what);
  }
}

/* ------------------------------------------------------- test fixtures */

/* Three float tensors of different shapes: [2,3], [4,3], [1,3]. */
static const int64_t d_a[] = {2, 3}, d_b[] = {4, 3}, d_c[] = {1, 3};
static const float v_a[] = {1, 2, 3, 4, 5, 6};
static const float v_b[] = {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
static const float v_c[] = {-1, -2, -3};

static void three(ember_tensor t[3]) {
  t[0] = (ember_tensor){EMBER_FLOAT, 2, d_a, (void *)v_a, sizeof v_a};
  t[1] = (ember_tensor){EMBER_FLOAT, 2, d_b, (void *)v_b, sizeof v_b};
  t[2] = (ember_tensor){EMBER_FLOAT, 2, d_c, (void *)v_c, sizeof v_c};
}

/* --------------------------------------------------- SequenceConstruct */

static void test_construct_keeps_inputs_in_order(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  sq *m = sq_new(13);
  sq_tensor_input(m, "a", EMBER_FLOAT, 2, d_a, v_a);
  sq_tensor_input(m, "b", EMBER_FLOAT, 2, d_b, v_b);
  sq_tensor_input(m, "c", EMBER_FLOAT, 2, d_c, v_c);
  sq_node(m, "SequenceConstruct", "a,b,c", "s");
  sq_output(m, "s");
  sq_run_ok(m);
  const ember_tensor *want[] = {&t[0], &t[1], &t[2]};
  expect_seq(&m->outs[0], EMBER_FLOAT, 3, want);
  sq_free(m);
}

static void test_construct_strings_and_scalars(void **state) {
  (void)state;
  const char *s1[] = {"ab", "", "h\xc3\xa9llo"};
  const char *s2[] = {"x"};
  int64_t d1[] = {3};
  sq *m = sq_new(11);
  sq_tensor_input(m, "a", EMBER_STRING, 1, d1, s1);
  sq_tensor_input(m, "b", EMBER_STRING, 0, NULL, s2);
  sq_node(m, "SequenceConstruct", "a,b", "s");
  sq_output(m, "s");
  sq_run_ok(m);
  ember_tensor w1 = {EMBER_STRING, 1, d1, (void *)s1, 0};
  ember_tensor w2 = {EMBER_STRING, 0, NULL, (void *)s2, 0};
  const ember_tensor *want[] = {&w1, &w2};
  expect_seq(&m->outs[0], EMBER_STRING, 2, want);
  sq_free(m);
}

static void test_construct_mixed_types_fails(void **state) {
  (void)state;
  int64_t one[] = {1};
  int64_t i[] = {5};
  sq *m = sq_new(13);
  sq_tensor_input(m, "a", EMBER_FLOAT, 2, d_a, v_a);
  sq_tensor_input(m, "b", EMBER_INT64, 1, one, i);
  sq_node(m, "SequenceConstruct", "a,b", "s");
  sq_output(m, "s");
  sq_run_fails(m, EMBER_ERR_TYPE, "n0", "int64");
  sq_free(m);
}

/* ------------------------------------------------------- SequenceEmpty */

static void test_empty_default_is_float(void **state) {
  (void)state;
  sq *m = sq_new(13);
  sq_node(m, "SequenceEmpty", "", "s");
  sq_output(m, "s");
  sq_run_ok(m);
  expect_seq(&m->outs[0], EMBER_FLOAT, 0, NULL);
  sq_free(m);
}

static void test_empty_dtype_attribute(void **state) {
  (void)state;
  sq *m = sq_new(13);
  sq_node(m, "SequenceEmpty", "", "s");
  sq_attr_int(m, "dtype", EMBER_INT64);
  sq_node(m, "SequenceLength", "s", "n");
  sq_output(m, "s");
  sq_output(m, "n");
  sq_run_ok(m);
  expect_seq(&m->outs[0], EMBER_INT64, 0, NULL);
  int64_t zero = 0;
  expect_tensor(&m->outs[1].tensor, EMBER_INT64, 0, NULL, &zero, "length");
  sq_free(m);
}

static void test_empty_bad_dtype_fails(void **state) {
  (void)state;
  sq *m = sq_new(13);
  sq_node(m, "SequenceEmpty", "", "s");
  sq_attr_int(m, "dtype", 99);
  sq_output(m, "s");
  sq_run_fails(m, EMBER_ERR_INVALID_MODEL, "n0", "dtype");
  sq_free(m);
}

/* ------------------------------------------- Insert / Erase / At / Len */

static void test_insert_every_position(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  for (int64_t p = -3; p <= 3; p++) {
    sq *m = sq_new(11);
    sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
    sq_tensor_input(m, "x", EMBER_FLOAT, 2, d_c, v_c);
    sq_tensor_input(m, "p", EMBER_INT64, 0, NULL, &p);
    sq_node(m, "SequenceInsert", "s,x,p", "o");
    sq_output(m, "o");
    sq_run_ok(m);
    size_t at = (size_t)(p < 0 ? p + 3 : p);
    const ember_tensor *want[4];
    for (size_t i = 0, k = 0; i < 4; i++)
      want[i] = i == at ? &t[2] : &t[k++];
    expect_seq(&m->outs[0], EMBER_FLOAT, 4, want);
    sq_free(m);
  }
}

static void test_insert_default_appends_int32_position(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  sq *m = sq_new(11);
  sq_seq_input(m, "s", EMBER_FLOAT, 2, t);
  sq_tensor_input(m, "x", EMBER_FLOAT, 2, d_c, v_c);
  sq_node(m, "SequenceInsert", "s,x", "o");
  int32_t p = 0;
  sq_tensor_input(m, "p", EMBER_INT32, 0, NULL, &p);
  sq_node(m, "SequenceInsert", "o,x,p", "o2");
  sq_output(m, "o");
  sq_output(m, "o2");
  sq_run_ok(m);
  const ember_tensor *want[] = {&t[0], &t[1], &t[2]};
  expect_seq(&m->outs[0], EMBER_FLOAT, 3, want);
  const ember_tensor *want2[] = {&t[2], &t[0], &t[1], &t[2]};
  expect_seq(&m->outs[1], EMBER_FLOAT, 4, want2);
  sq_free(m);
}

static void test_insert_into_empty_sequence(void **state) {
  (void)state;
  int64_t d[] = {2}, v[] = {7, 8};
  sq *m = sq_new(11);
  sq_seq_input(m, "s", EMBER_INT64, 0, NULL);
  sq_tensor_input(m, "x", EMBER_INT64, 1, d, v);
  sq_node(m, "SequenceInsert", "s,x", "o");
  sq_output(m, "o");
  sq_run_ok(m);
  ember_tensor w = {EMBER_INT64, 1, d, v, sizeof v};
  const ember_tensor *want[] = {&w};
  expect_seq(&m->outs[0], EMBER_INT64, 1, want);
  sq_free(m);
}

static void test_insert_position_out_of_range_fails(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  int64_t bad[] = {4, -4};
  for (int k = 0; k < 2; k++) {
    sq *m = sq_new(11);
    sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
    sq_tensor_input(m, "x", EMBER_FLOAT, 2, d_c, v_c);
    sq_tensor_input(m, "p", EMBER_INT64, 0, NULL, &bad[k]);
    sq_node(m, "SequenceInsert", "s,x,p", "o");
    sq_output(m, "o");
    sq_run_fails(m, EMBER_ERR_RUNTIME, "n0", "out of range");
    sq_free(m);
  }
}

static void test_insert_wrong_type_fails(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  int64_t d[] = {1}, v[] = {1};
  sq *m = sq_new(11);
  sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
  sq_tensor_input(m, "x", EMBER_INT64, 1, d, v);
  sq_node(m, "SequenceInsert", "s,x", "o");
  sq_output(m, "o");
  sq_run_fails(m, EMBER_ERR_TYPE, "n0", "int64");
  sq_free(m);
}

static void test_insert_position_not_scalar_fails(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  int64_t d[] = {2}, p[] = {0, 1};
  sq *m = sq_new(11);
  sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
  sq_tensor_input(m, "x", EMBER_FLOAT, 2, d_c, v_c);
  sq_tensor_input(m, "p", EMBER_INT64, 1, d, p);
  sq_node(m, "SequenceInsert", "s,x,p", "o");
  sq_output(m, "o");
  sq_run_fails(m, EMBER_ERR_SHAPE, "n0", "scalar");
  sq_free(m);
}

static void test_erase_every_position_and_default(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  for (int64_t p = -3; p <= 3; p++) { /* 3 stands for "omitted" */
    sq *m = sq_new(11);
    sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
    if (p < 3) {
      sq_tensor_input(m, "p", EMBER_INT64, 0, NULL, &p);
      sq_node(m, "SequenceErase", "s,p", "o");
    } else {
      sq_node(m, "SequenceErase", "s", "o");
    }
    sq_output(m, "o");
    sq_run_ok(m);
    size_t gone = p == 3 ? 2 : (size_t)(p < 0 ? p + 3 : p);
    const ember_tensor *want[2];
    for (size_t i = 0, k = 0; i < 3; i++)
      if (i != gone) want[k++] = &t[i];
    expect_seq(&m->outs[0], EMBER_FLOAT, 2, want);
    sq_free(m);
  }
}

static void test_erase_out_of_range_and_empty_fail(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  int64_t p = 3;
  sq *m = sq_new(11);
  sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
  sq_tensor_input(m, "p", EMBER_INT64, 0, NULL, &p);
  sq_node(m, "SequenceErase", "s,p", "o");
  sq_output(m, "o");
  sq_run_fails(m, EMBER_ERR_RUNTIME, "n0", "out of range");
  sq_free(m);

  m = sq_new(11);
  sq_seq_input(m, "s", EMBER_FLOAT, 0, NULL);
  sq_node(m, "SequenceErase", "s", "o");
  sq_output(m, "o");
  sq_run_fails(m, EMBER_ERR_RUNTIME, "n0", "empty");
  sq_free(m);
}

static void test_at_every_position(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  for (int64_t p = -3; p < 3; p++) {
    sq *m = sq_new(11);
    sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
    sq_tensor_input(m, "p", EMBER_INT64, 0, NULL, &p);
    sq_node(m, "SequenceAt", "s,p", "y");
    sq_output(m, "y");
    sq_run_ok(m);
    expect_same(&m->outs[0].tensor, &t[p < 0 ? p + 3 : p], "SequenceAt");
    sq_free(m);
  }
}

static void test_at_strings_empty_tensor_and_errors(void **state) {
  (void)state;
  const char *s[] = {"one", "", "three"};
  int64_t ds[] = {3}, dz[] = {0, 4}, p = 1;
  ember_tensor items[2] = {{EMBER_STRING, 1, ds, (void *)s, 3 * sizeof(char *)},
                           {EMBER_STRING, 2, dz, NULL, 0}};
  sq *m = sq_new(11);
  sq_seq_input(m, "s", EMBER_STRING, 2, items);
  sq_tensor_input(m, "p", EMBER_INT64, 0, NULL, &p);
  sq_node(m, "SequenceAt", "s,p", "y");
  int64_t p0 = -2;
  sq_tensor_input(m, "p0", EMBER_INT64, 0, NULL, &p0);
  sq_node(m, "SequenceAt", "s,p0", "y0");
  sq_output(m, "y");
  sq_output(m, "y0");
  sq_run_ok(m);
  expect_tensor(&m->outs[0].tensor, EMBER_STRING, 2, dz, NULL, "empty item");
  expect_same(&m->outs[1].tensor, &items[0], "string item");
  sq_free(m);

  p = 2;
  m = sq_new(11);
  sq_seq_input(m, "s", EMBER_STRING, 2, items);
  sq_tensor_input(m, "p", EMBER_INT64, 0, NULL, &p);
  sq_node(m, "SequenceAt", "s,p", "y");
  sq_output(m, "y");
  sq_run_fails(m, EMBER_ERR_RUNTIME, "n0", "out of range");
  sq_free(m);
}

static void test_length(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  for (size_t n = 0; n <= 3; n++) {
    sq *m = sq_new(11);
    sq_seq_input(m, "s", EMBER_FLOAT, n, t);
    sq_node(m, "SequenceLength", "s", "n");
    sq_output(m, "n");
    sq_run_ok(m);
    int64_t want = (int64_t)n;
    expect_tensor(&m->outs[0].tensor, EMBER_INT64, 0, NULL, &want, "length");
    sq_free(m);
  }
}

/* ----------------------------------------------------- SplitToSequence */

/* Reference slice of x (float, rank r) along axis: [start, start + len). */
static float *slice_ref(const float *x, int r, const int64_t *dims, int axis,
                        int64_t start, int64_t len) {
  size_t outer = 1, inner = 1;
  for (int k = 0; k < axis; k++) outer *= (size_t)dims[k];
  for (int k = axis + 1; k < r; k++) inner *= (size_t)dims[k];
  float *y = calloc((size_t)(outer * (size_t)len * inner) + 1, sizeof *y);
  for (size_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < len; j++)
      for (size_t i = 0; i < inner; i++)
        y[(o * (size_t)len + (size_t)j) * inner + i] =
            x[(o * (size_t)dims[axis] + (size_t)(start + j)) * inner + i];
  return y;
}

/* Check a split result against part lengths `lens` (count parts). */
static void expect_split(const ember_value *v, const float *x, int r,
                         const int64_t *dims, int axis, size_t count,
                         const int64_t *lens, bool squeeze) {
  assert_int_equal(v->kind, EMBER_KIND_SEQUENCE);
  if (v->count != count)
    fail_msg("split gave %zu parts, expected %zu", v->count, count);
  int64_t start = 0;
  for (size_t k = 0; k < count; k++) {
    int64_t pd[8];
    int pr = 0;
    for (int i = 0; i < r; i++) {
      if (i == axis && squeeze) continue;
      pd[pr++] = i == axis ? lens[k] : dims[i];
    }
    float *want = slice_ref(x, r, dims, axis, start, lens[k]);
    char what[32];
    snprintf(what, sizeof what, "part %zu", k);
    expect_tensor(&v->items[k], EMBER_FLOAT, pr, pd, want, what);
    free(want);
    start += lens[k];
  }
}

static const int64_t d_x[] = {3, 1, 5};
static float v_x[15];

static void fill_x(void) {
  for (int i = 0; i < 15; i++) v_x[i] = (float)(i * 3 % 7) - 2.5f;
}

static void test_split_default_every_axis(void **state) {
  (void)state;
  fill_x();
  for (int axis = -3; axis < 3; axis++) {
    for (int keep = 0; keep <= 1; keep++) {
      sq *m = sq_new(11);
      sq_tensor_input(m, "x", EMBER_FLOAT, 3, d_x, v_x);
      sq_node(m, "SplitToSequence", "x", "s");
      sq_attr_int(m, "axis", axis);
      sq_attr_int(m, "keepdims", keep);
      sq_output(m, "s");
      sq_run_ok(m);
      int a = axis < 0 ? axis + 3 : axis;
      int64_t lens[5] = {1, 1, 1, 1, 1};
      expect_split(&m->outs[0], v_x, 3, d_x, a, (size_t)d_x[a], lens, !keep);
      sq_free(m);
    }
  }
}

static void test_split_scalar_sizes(void **state) {
  (void)state;
  fill_x();
  for (int64_t s = 1; s <= 6; s++) {
    sq *m = sq_new(11);
    sq_tensor_input(m, "x", EMBER_FLOAT, 3, d_x, v_x);
    sq_tensor_input(m, "n", EMBER_INT64, 0, NULL, &s);
    sq_node(m, "SplitToSequence", "x,n", "s");
    sq_attr_int(m, "axis", -1);
    sq_attr_int(m, "keepdims", 0); /* ignored when split is given */
    sq_output(m, "s");
    sq_run_ok(m);
    int64_t lens[5];
    size_t count = 0;
    for (int64_t at = 0; at < 5; at += s) lens[count++] = at + s <= 5 ? s : 5 - at;
    expect_split(&m->outs[0], v_x, 3, d_x, 2, count, lens, false);
    sq_free(m);
  }
}

static void test_split_list_with_zeros_int32(void **state) {
  (void)state;
  fill_x();
  int32_t sp[] = {0, 2, 0, 3, 0};
  int64_t lens[] = {0, 2, 0, 3, 0}, dsp[] = {5};
  sq *m = sq_new(11);
  sq_tensor_input(m, "x", EMBER_FLOAT, 3, d_x, v_x);
  sq_tensor_input(m, "n", EMBER_INT32, 1, dsp, sp);
  sq_node(m, "SplitToSequence", "x,n", "s");
  sq_attr_int(m, "axis", 2);
  sq_output(m, "s");
  sq_run_ok(m);
  expect_split(&m->outs[0], v_x, 3, d_x, 2, 5, lens, false);
  sq_free(m);
}

static void test_split_strings(void **state) {
  (void)state;
  const char *x[] = {"a", "bb", "ccc", "d", "", "f"};
  int64_t dx[] = {2, 3}, two = 2;
  sq *m = sq_new(11);
  sq_tensor_input(m, "x", EMBER_STRING, 2, dx, x);
  sq_tensor_input(m, "n", EMBER_INT64, 0, NULL, &two);
  sq_node(m, "SplitToSequence", "x,n", "s");
  sq_attr_int(m, "axis", 1);
  sq_output(m, "s");
  sq_run_ok(m);
  const char *p0[] = {"a", "bb", "d", ""}, *p1[] = {"ccc", "f"};
  int64_t d0[] = {2, 2}, d1[] = {2, 1};
  ember_tensor w0 = {EMBER_STRING, 2, d0, (void *)p0, 0};
  ember_tensor w1 = {EMBER_STRING, 2, d1, (void *)p1, 0};
  const ember_tensor *want[] = {&w0, &w1};
  expect_seq(&m->outs[0], EMBER_STRING, 2, want);
  sq_free(m);
}

static void test_split_empty_axis_gives_empty_sequence(void **state) {
  (void)state;
  int64_t dz[] = {0, 3};
  sq *m = sq_new(11);
  sq_tensor_input(m, "x", EMBER_FLOAT, 2, dz, NULL);
  sq_node(m, "SplitToSequence", "x", "s");
  sq_output(m, "s");
  sq_run_ok(m);
  expect_seq(&m->outs[0], EMBER_FLOAT, 0, NULL);
  sq_free(m);
}

static void test_split_bad_inputs_fail(void **state) {
  (void)state;
  fill_x();
  int64_t sum_bad[] = {1, 2}, neg[] = {6, -1}, zero = 0, d2[] = {2};
  int64_t d12[] = {1, 2};
  struct {
    const int64_t *data;
    int rank;
    const int64_t *dims;
    ember_status st;
    const char *part;
  } c[] = {{sum_bad, 1, d2, EMBER_ERR_RUNTIME, "add up"},
           {neg, 1, d2, EMBER_ERR_RUNTIME, "negative"},
           {&zero, 0, NULL, EMBER_ERR_RUNTIME, "positive"},
           {sum_bad, 2, d12, EMBER_ERR_SHAPE, "1-D"}};
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    sq *m = sq_new(11);
    sq_tensor_input(m, "x", EMBER_FLOAT, 3, d_x, v_x);
    sq_tensor_input(m, "n", EMBER_INT64, c[k].rank, c[k].dims, c[k].data);
    sq_node(m, "SplitToSequence", "x,n", "s");
    sq_attr_int(m, "axis", 2);
    sq_output(m, "s");
    sq_run_fails(m, c[k].st, "n0", c[k].part);
    sq_free(m);
  }
}

static void test_split_bad_attributes_fail_at_load(void **state) {
  (void)state;
  fill_x();
  sq *m = sq_new(11);
  sq_tensor_input(m, "x", EMBER_FLOAT, 3, d_x, v_x);
  sq_node(m, "SplitToSequence", "x", "s");
  sq_attr_int(m, "keepdims", 2);
  sq_output(m, "s");
  sq_run_fails(m, EMBER_ERR_INVALID_MODEL, "n0", "keepdims");
  sq_free(m);

  /* A constant split that cannot fit is caught at load. */
  int64_t sp[] = {2, 2}, dsp[] = {2};
  m = sq_new(11);
  sq_tensor_input(m, "x", EMBER_FLOAT, 3, d_x, v_x);
  sq_const(m, "n", EMBER_INT64, 1, dsp, sp);
  sq_node(m, "SplitToSequence", "x,n", "s");
  sq_attr_int(m, "axis", 2);
  sq_output(m, "s");
  ember_status st = sq_run(m);
  assert_int_not_equal(st, EMBER_OK);
  if (!strstr(m->msg, "add up")) fail_msg("unexpected message: %s", m->msg);
  sq_free(m);
}

/* -------------------------------------------------- ConcatFromSequence */

/* Reference concatenation (or stacking) of float items along axis of the
 * result. */
static float *concat_ref(size_t count, const ember_tensor *items, int axis,
                         bool stack, int64_t *dims, int *rank) {
  int r = items[0].rank + (stack ? 1 : 0);
  int64_t total = 0;
  for (size_t k = 0; k < count; k++)
    total += stack ? 1 : items[k].dims[axis];
  for (int i = 0, j = 0; i < r; i++) {
    if (i == axis) {
      dims[i] = total;
      if (!stack) j++;
    } else {
      dims[i] = items[0].dims[j++];
    }
  }
  *rank = r;
  size_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= (size_t)dims[i];
  for (int i = axis + 1; i < r; i++) inner *= (size_t)dims[i];
  float *y = calloc(numel(r, dims) + 1, sizeof *y);
  int64_t off = 0;
  for (size_t k = 0; k < count; k++) {
    int64_t len = stack ? 1 : items[k].dims[axis];
    const float *x = items[k].data;
    for (size_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < len; j++)
        for (size_t i = 0; i < inner; i++)
          y[(o * (size_t)total + (size_t)(off + j)) * inner + i] =
              x[(o * (size_t)len + (size_t)j) * inner + i];
    off += len;
  }
  return y;
}

static void run_concat(size_t count, const ember_tensor *items, int64_t axis,
                       int new_axis) {
  sq *m = sq_new(11);
  sq_seq_input(m, "s", EMBER_FLOAT, count, items);
  sq_node(m, "ConcatFromSequence", "s", "y");
  sq_attr_int(m, "axis", axis);
  if (new_axis >= 0) sq_attr_int(m, "new_axis", new_axis);
  sq_output(m, "y");
  sq_run_ok(m);
  int r = items[0].rank + (new_axis == 1 ? 1 : 0), rank;
  int a = (int)(axis < 0 ? axis + r : axis);
  int64_t dims[8];
  float *want = concat_ref(count, items, a, new_axis == 1, dims, &rank);
  expect_tensor(&m->outs[0].tensor, EMBER_FLOAT, rank, dims, want, "concat");
  free(want);
  sq_free(m);
}

static void test_concat_axes(void **state) {
  (void)state;
  /* [2,1,3], [2,4,3], [2,0,3], [2,2,3] joined on axis 1. */
  static float p[6], q[24], r[12];
  for (int i = 0; i < 24; i++) q[i] = (float)i * 0.5f;
  for (int i = 0; i < 6; i++) p[i] = -(float)i;
  for (int i = 0; i < 12; i++) r[i] = 100.0f + (float)i;
  int64_t dp[] = {2, 1, 3}, dq[] = {2, 4, 3}, dz[] = {2, 0, 3},
          dr[] = {2, 2, 3};
  ember_tensor items[] = {{EMBER_FLOAT, 3, dp, p, sizeof p},
                          {EMBER_FLOAT, 3, dq, q, sizeof q},
                          {EMBER_FLOAT, 3, dz, NULL, 0},
                          {EMBER_FLOAT, 3, dr, r, sizeof r}};
  run_concat(4, items, 1, -1);
  run_concat(4, items, -2, 0);
  run_concat(1, &items[1], 0, 0);
  run_concat(1, &items[1], 2, 0);
  /* Same shapes on axis 0 and 2. */
  ember_tensor same[] = {items[1], items[1], items[1]};
  run_concat(3, same, 0, 0);
  run_concat(3, same, -1, 0);
  /* Stacking: every axis of the result, including r and -r-1. */
  for (int64_t a = -4; a <= 3; a++) run_concat(3, same, a, 1);
}

static void test_concat_stacks_scalars(void **state) {
  (void)state;
  static float s[] = {1.5f, -2, 3};
  ember_tensor items[] = {{EMBER_FLOAT, 0, NULL, &s[0], 4},
                          {EMBER_FLOAT, 0, NULL, &s[1], 4},
                          {EMBER_FLOAT, 0, NULL, &s[2], 4}};
  run_concat(3, items, 0, 1);
  run_concat(3, items, -1, 1);
}

static void test_concat_strings(void **state) {
  (void)state;
  const char *a[] = {"a", "b", "c", "d"}, *b[] = {"e", ""};
  int64_t da[] = {2, 2}, db[] = {2, 1};
  ember_tensor items[] = {{EMBER_STRING, 2, da, (void *)a, sizeof a},
                          {EMBER_STRING, 2, db, (void *)b, sizeof b}};
  sq *m = sq_new(11);
  sq_seq_input(m, "s", EMBER_STRING, 2, items);
  sq_node(m, "ConcatFromSequence", "s", "y");
  sq_attr_int(m, "axis", 1);
  sq_output(m, "y");
  sq_run_ok(m);
  const char *want[] = {"a", "b", "e", "c", "d", ""};
  int64_t dw[] = {2, 3};
  expect_tensor(&m->outs[0].tensor, EMBER_STRING, 2, dw, want, "concat");
  sq_free(m);
}

static void test_concat_errors(void **state) {
  (void)state;
  static float p[6], q[8];
  int64_t dp[] = {2, 3}, dq[] = {2, 4}, dr[] = {6};
  ember_tensor items[] = {{EMBER_FLOAT, 2, dp, p, sizeof p},
                          {EMBER_FLOAT, 2, dq, q, sizeof q},
                          {EMBER_FLOAT, 1, dr, p, sizeof p}};
  struct {
    size_t first, count;
    int64_t axis, new_axis;
    ember_status st;
    const char *part;
  } c[] = {
      {0, 0, 0, 0, EMBER_ERR_RUNTIME, "empty"},
      {0, 2, 0, 0, EMBER_ERR_SHAPE, "element 1"},  /* 3 vs 4 on axis 1 */
      {0, 2, 1, 1, EMBER_ERR_SHAPE, "element 1"},  /* stack needs equal */
      {1, 2, 0, 0, EMBER_ERR_SHAPE, "rank"},
      {0, 1, 2, 0, EMBER_ERR_INVALID_MODEL, "axis"},
      {0, 1, -4, 1, EMBER_ERR_INVALID_MODEL, "axis"},
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    sq *m = sq_new(11);
    sq_seq_input(m, "s", EMBER_FLOAT, c[k].count, &items[c[k].first]);
    sq_node(m, "ConcatFromSequence", "s", "y");
    sq_attr_int(m, "axis", c[k].axis);
    sq_attr_int(m, "new_axis", c[k].new_axis);
    sq_output(m, "y");
    sq_run_fails(m, c[k].st, "n0", c[k].part);
    sq_free(m);
  }
  sq *m = sq_new(11);
  sq_seq_input(m, "s", EMBER_FLOAT, 1, items);
  sq_node(m, "ConcatFromSequence", "s", "y");
  sq_output(m, "y");
  sq_run_fails(m, EMBER_ERR_INVALID_MODEL, "n0", "axis");
  sq_free(m);
}

/* ------------------------------------------------------------ chains */

/* Split then concatenate on the same axis gives the input back; split
 * without keepdims then stack does too. */
static void test_split_concat_round_trip(void **state) {
  (void)state;
  fill_x();
  for (int axis = 0; axis < 3; axis++) {
    for (int keep = 0; keep <= 1; keep++) {
      sq *m = sq_new(12);
      sq_tensor_input(m, "x", EMBER_FLOAT, 3, d_x, v_x);
      sq_node(m, "SplitToSequence", "x", "s");
      sq_attr_int(m, "axis", axis);
      sq_attr_int(m, "keepdims", keep);
      sq_node(m, "ConcatFromSequence", "s", "y");
      sq_attr_int(m, "axis", axis);
      sq_attr_int(m, "new_axis", keep ? 0 : 1);
      sq_node(m, "SequenceLength", "s", "n");
      sq_output(m, "y");
      sq_output(m, "n");
      sq_run_ok(m);
      expect_tensor(&m->outs[0].tensor, EMBER_FLOAT, 3, d_x, v_x, "round trip");
      expect_tensor(&m->outs[1].tensor, EMBER_INT64, 0, NULL, &d_x[axis],
                    "length");
      sq_free(m);
    }
  }
}

/* The ONNX simple-model pattern: empty, insert, insert at, then read. */
static void test_empty_insert_at_chain(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  int64_t pos = 1, at = -2;
  sq *m = sq_new(12);
  sq_tensor_input(m, "a", EMBER_FLOAT, 2, d_a, v_a);
  sq_tensor_input(m, "b", EMBER_FLOAT, 2, d_b, v_b);
  sq_tensor_input(m, "c", EMBER_FLOAT, 2, d_c, v_c);
  sq_const(m, "pos", EMBER_INT64, 0, NULL, &pos);
  sq_const(m, "at", EMBER_INT64, 0, NULL, &at);
  sq_node(m, "SequenceEmpty", "", "e");
  sq_node(m, "SequenceInsert", "e,a", "s1");
  sq_node(m, "SequenceInsert", "s1,b", "s2");
  sq_node(m, "SequenceInsert", "s2,c,pos", "s3");
  sq_node(m, "SequenceAt", "s3,at", "y");
  sq_output(m, "y");
  sq_run_ok(m);
  /* s3 = [a, c, b]; position -2 is c. */
  expect_same(&m->outs[0].tensor, &t[2], "SequenceAt");
  sq_free(m);
}

/* ------------------------------------------------------------ optionals */

/* The result must be an optional holding a tensor equal to want (NULL:
 * an absent optional). */
static void expect_opt_tensor(const ember_value *v, const ember_tensor *want) {
  assert_int_equal(v->kind, EMBER_KIND_OPTIONAL);
  if (!want) {
    if (v->has_value) fail_msg("the optional holds a value");
    return;
  }
  if (!v->has_value) fail_msg("the optional is empty");
  assert_int_equal(v->elem_kind, EMBER_KIND_TENSOR);
  expect_same(&v->tensor, want, "optional");
}

static void expect_bool(const ember_value *v, int want, const char *what) {
  assert_int_equal(v->kind, EMBER_KIND_TENSOR);
  assert_int_equal(v->tensor.dtype, EMBER_BOOL);
  assert_int_equal(v->tensor.rank, 0);
  int got = *(const uint8_t *)v->tensor.data;
  if (got != want) fail_msg("%s: got %d, expected %d", what, got, want);
}

static void test_optional_wraps_tensor(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  sq *m = sq_new(18);
  sq_tensor_input(m, "a", EMBER_FLOAT, 2, d_a, v_a);
  sq_node(m, "Optional", "a", "o");
  sq_node(m, "OptionalHasElement", "o", "h");
  sq_node(m, "OptionalGetElement", "o", "g");
  sq_output(m, "o");
  sq_output(m, "h");
  sq_output(m, "g");
  sq_run_ok(m);
  expect_opt_tensor(&m->outs[0], &t[0]);
  expect_bool(&m->outs[1], 1, "OptionalHasElement");
  expect_same(&m->outs[2].tensor, &t[0], "OptionalGetElement");
  assert_int_equal(m->outs[2].kind, EMBER_KIND_TENSOR);
  sq_free(m);
}

static void test_optional_wraps_sequence(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  sq *m = sq_new(15);
  sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
  sq_node(m, "Optional", "s", "o");
  sq_node(m, "OptionalGetElement", "o", "g");
  sq_node(m, "OptionalHasElement", "o", "h");
  sq_output(m, "g");
  sq_output(m, "h");
  sq_run_ok(m);
  const ember_tensor *want[] = {&t[0], &t[1], &t[2]};
  expect_seq(&m->outs[0], EMBER_FLOAT, 3, want);
  expect_bool(&m->outs[1], 1, "OptionalHasElement");
  sq_free(m);
}

static void test_optional_empty_from_type(void **state) {
  (void)state;
  for (int seq = 0; seq <= 1; seq++) {
    sq *m = sq_new(18);
    sq_node(m, "Optional", "", "o");
    sq_attr_type(m, "type", seq ? sq_seq_type(m, EMBER_INT64)
                                : sq_tensor_type(m, EMBER_FLOAT));
    sq_node(m, "OptionalHasElement", "o", "h");
    sq_output(m, "o");
    sq_output(m, "h");
    sq_run_ok(m);
    expect_opt_tensor(&m->outs[0], NULL);
    expect_bool(&m->outs[1], 0, "OptionalHasElement");
    sq_free(m);
  }
}

static void test_optional_get_element_of_empty_fails(void **state) {
  (void)state;
  sq *m = sq_new(18);
  sq_node(m, "Optional", "", "o");
  sq_attr_type(m, "type", sq_tensor_type(m, EMBER_FLOAT));
  sq_node(m, "OptionalGetElement", "o", "g");
  sq_output(m, "g");
  sq_run_fails(m, EMBER_ERR_RUNTIME, "n1", "no element");
  sq_free(m);
}

static void test_optional_bad_models_fail(void **state) {
  (void)state;
  /* No input and no type. */
  sq *m = sq_new(18);
  sq_node(m, "Optional", "", "o");
  sq_output(m, "o");
  sq_run_fails(m, EMBER_ERR_INVALID_MODEL, "n0", "type");
  sq_free(m);
  /* The type attribute contradicts the input. */
  m = sq_new(18);
  sq_tensor_input(m, "a", EMBER_FLOAT, 2, d_a, v_a);
  sq_node(m, "Optional", "a", "o");
  sq_attr_type(m, "type", sq_tensor_type(m, EMBER_INT64));
  sq_output(m, "o");
  sq_run_fails(m, EMBER_ERR_TYPE, "n0", "int64");
  sq_free(m);
  /* OptionalHasElement needs its input before opset 18. */
  m = sq_new(15);
  sq_node(m, "OptionalHasElement", "", "h");
  sq_output(m, "h");
  sq_run_fails(m, EMBER_ERR_INVALID_MODEL, "n0", "required");
  sq_free(m);
}

static void test_optional_graph_inputs(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  ember_value present;
  memset(&present, 0, sizeof present);
  present.kind = EMBER_KIND_TENSOR;
  present.tensor = t[1];
  for (int given = 0; given <= 1; given++) {
    sq *m = sq_new(18);
    sq_opt_input(m, "x", sq_tensor_type(m, EMBER_FLOAT),
                 given ? &present : NULL);
    sq_node(m, "OptionalHasElement", "x", "h");
    sq_output(m, "h");
    if (given) {
      sq_node(m, "OptionalGetElement", "x", "g");
      sq_output(m, "g");
    }
    sq_run_ok(m);
    expect_bool(&m->outs[0], given, "OptionalHasElement");
    if (given) expect_same(&m->outs[1].tensor, &t[1], "OptionalGetElement");
    sq_free(m);
  }
  /* Opset 18: no input at all is an empty optional; a plain tensor or
   * sequence is a present one, returned as it is. */
  sq *m = sq_new(18);
  sq_tensor_input(m, "a", EMBER_FLOAT, 2, d_c, v_c);
  sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
  sq_node(m, "OptionalHasElement", "", "h0");
  sq_node(m, "OptionalHasElement", "a", "h1");
  sq_node(m, "OptionalHasElement", "s", "h2");
  sq_node(m, "OptionalGetElement", "a", "ga");
  sq_node(m, "OptionalGetElement", "s", "gs");
  sq_output(m, "h0");
  sq_output(m, "h1");
  sq_output(m, "h2");
  sq_output(m, "ga");
  sq_output(m, "gs");
  sq_run_ok(m);
  expect_bool(&m->outs[0], 0, "no input");
  expect_bool(&m->outs[1], 1, "tensor input");
  expect_bool(&m->outs[2], 1, "sequence input");
  expect_same(&m->outs[3].tensor, &t[2], "OptionalGetElement(tensor)");
  const ember_tensor *want[] = {&t[0], &t[1], &t[2]};
  expect_seq(&m->outs[4], EMBER_FLOAT, 3, want);
  sq_free(m);
}

/* --------------------------------------------------------- SequenceMap */

static void test_seqmap_sequence_plus_tensor(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  static const float bias[3] = {10, 20, 30};
  int64_t d3[] = {3};
  sq *m = sq_new(17);
  sq_seq_input(m, "s", EMBER_FLOAT, 3, t);
  sq_tensor_input(m, "b", EMBER_FLOAT, 1, d3, bias);
  sq_node(m, "SequenceMap", "s,b", "y");
  sq *body = sq_body(m);
  sq_gin(body, "x", sq_tensor_type(body, EMBER_FLOAT));
  sq_gin(body, "c", sq_tensor_type(body, EMBER_FLOAT));
  sq_node(body, "Add", "x,c", "z");
  sq_typed_output(body, "z", sq_tensor_type(body, EMBER_FLOAT));
  sq_attr_graph(m, "body", body);
  sq_output(m, "y");
  sq_run_ok(m);
  /* Element i is item i with bias added along the last axis. */
  float w[3][12];
  ember_tensor wt[3];
  const ember_tensor *want[3];
  for (int i = 0; i < 3; i++) {
    size_t n = numel(t[i].rank, t[i].dims);
    for (size_t k = 0; k < n; k++)
      w[i][k] = ((const float *)t[i].data)[k] + bias[k % 3];
    wt[i] = t[i];
    wt[i].data = w[i];
    want[i] = &wt[i];
  }
  expect_seq(&m->outs[0], EMBER_FLOAT, 3, want);
  sq_free(m);
}

static void test_seqmap_two_sequences_two_outputs(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  const char *s1[] = {"ab"}, *s2[] = {"", "c"}, *s3[] = {"d", "e", "f"};
  int64_t d1[] = {1}, d2[] = {2}, d3[] = {3};
  ember_tensor st[3] = {
      {EMBER_STRING, 1, d1, (void *)s1, sizeof s1},
      {EMBER_STRING, 1, d2, (void *)s2, sizeof s2},
      {EMBER_STRING, 1, d3, (void *)s3, sizeof s3}};
  sq *m = sq_new(17);
  sq_seq_input(m, "a", EMBER_FLOAT, 3, t);
  sq_seq_input(m, "b", EMBER_STRING, 3, st);
  sq_node(m, "SequenceMap", "a,b", "ya,yb");
  sq *body = sq_body(m);
  sq_gin(body, "x", sq_tensor_type(body, EMBER_FLOAT));
  sq_gin(body, "w", sq_tensor_type(body, EMBER_STRING));
  sq_node(body, "Shape", "x", "shape");
  sq_node(body, "Identity", "w", "same");
  sq_typed_output(body, "shape", sq_tensor_type(body, EMBER_INT64));
  sq_typed_output(body, "same", sq_tensor_type(body, EMBER_STRING));
  sq_attr_graph(m, "body", body);
  sq_output(m, "ya");
  sq_output(m, "yb");
  sq_run_ok(m);
  int64_t shapes[3][2];
  ember_tensor sh[3];
  const ember_tensor *want_a[3], *want_b[3];
  int64_t d2s[] = {2};
  for (int i = 0; i < 3; i++) {
    shapes[i][0] = t[i].dims[0];
    shapes[i][1] = t[i].dims[1];
    sh[i] = (ember_tensor){EMBER_INT64, 1, d2s, shapes[i], 16};
    want_a[i] = &sh[i];
    want_b[i] = &st[i];
  }
  expect_seq(&m->outs[0], EMBER_INT64, 3, want_a);
  expect_seq(&m->outs[1], EMBER_STRING, 3, want_b);
  sq_free(m);
}

static void test_seqmap_empty_sequence_and_capture(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  static const float k = 2;
  for (size_t count = 0; count <= 3; count += 3) {
    sq *m = sq_new(17);
    sq_seq_input(m, "s", EMBER_FLOAT, count, t);
    sq_tensor_input(m, "k", EMBER_FLOAT, 0, NULL, &k);
    sq_node(m, "SequenceMap", "s", "y");
    sq *body = sq_body(m);
    sq_gin(body, "x", sq_tensor_type(body, EMBER_FLOAT));
    sq_node(body, "Mul", "x,k", "z"); /* k comes from the main graph */
    sq_typed_output(body, "z", sq_tensor_type(body, EMBER_FLOAT));
    sq_attr_graph(m, "body", body);
    sq_output(m, "y");
    sq_run_ok(m);
    float w[3][12];
    ember_tensor wt[3];
    const ember_tensor *want[3];
    for (size_t i = 0; i < count; i++) {
      size_t n = numel(t[i].rank, t[i].dims);
      for (size_t j = 0; j < n; j++)
        w[i][j] = ((const float *)t[i].data)[j] * k;
      wt[i] = t[i];
      wt[i].data = w[i];
      want[i] = &wt[i];
    }
    expect_seq(&m->outs[0], EMBER_FLOAT, count, want);
    sq_free(m);
  }
}

static void test_seqmap_errors(void **state) {
  (void)state;
  ember_tensor t[3];
  three(t);
  /* Sequences of different lengths. */
  sq *m = sq_new(17);
  sq_seq_input(m, "a", EMBER_FLOAT, 3, t);
  sq_seq_input(m, "b", EMBER_FLOAT, 2, t);
  sq_node(m, "SequenceMap", "a,b", "y");
  sq *body = sq_body(m);
  sq_gin(body, "x", sq_tensor_type(body, EMBER_FLOAT));
  sq_gin(body, "w", sq_tensor_type(body, EMBER_FLOAT));
  sq_node(body, "Identity", "x", "z");
  sq_typed_output(body, "z", sq_tensor_type(body, EMBER_FLOAT));
  sq_attr_graph(m, "body", body);
  sq_output(m, "y");
  sq_run_fails(m, EMBER_ERR_RUNTIME, "SequenceMap", "input 1");
  sq_free(m);
  /* A body whose input count differs from the node's. */
  m = sq_new(17);
  sq_seq_input(m, "a", EMBER_FLOAT, 3, t);
  sq_node(m, "SequenceMap", "a", "y");
  body = sq_body(m);
  sq_gin(body, "x", sq_tensor_type(body, EMBER_FLOAT));
  sq_gin(body, "w", sq_tensor_type(body, EMBER_FLOAT));
  sq_node(body, "Identity", "x", "z");
  sq_typed_output(body, "z", sq_tensor_type(body, EMBER_FLOAT));
  sq_attr_graph(m, "body", body);
  sq_output(m, "y");
  sq_run_fails(m, EMBER_ERR_INVALID_MODEL, "SequenceMap", "inputs");
  sq_free(m);
  /* The body fails on one element: the error names the SequenceMap. */
  static const float two[2] = {1, 2};
  int64_t d2[] = {2};
  m = sq_new(17);
  sq_seq_input(m, "a", EMBER_FLOAT, 3, t);
  sq_tensor_input(m, "v", EMBER_FLOAT, 1, d2, two);
  sq_node(m, "SequenceMap", "a,v", "y");
  body = sq_body(m);
  sq_gin(body, "x", sq_tensor_type(body, EMBER_FLOAT));
  sq_gin(body, "w", sq_tensor_type(body, EMBER_FLOAT));
  sq_node(body, "Add", "x,w", "z"); /* [2,3] + [2] does not broadcast */
  sq_typed_output(body, "z", sq_tensor_type(body, EMBER_FLOAT));
  sq_attr_graph(m, "body", body);
  sq_output(m, "y");
  ember_status st = sq_run(m);
  assert_int_not_equal(st, EMBER_OK);
  if (!strstr(m->msg, "SequenceMap")) fail_msg("message: %s", m->msg);
  sq_free(m);
  /* Input 0 must be a sequence. */
  m = sq_new(17);
  sq_tensor_input(m, "a", EMBER_FLOAT, 2, d_a, v_a);
  sq_node(m, "SequenceMap", "a", "y");
  body = sq_body(m);
  sq_gin(body, "x", sq_tensor_type(body, EMBER_FLOAT));
  sq_node(body, "Identity", "x", "z");
  sq_typed_output(body, "z", sq_tensor_type(body, EMBER_FLOAT));
  sq_attr_graph(m, "body", body);
  sq_output(m, "y");
  sq_run_fails(m, EMBER_ERR_TYPE, "SequenceMap", "sequence");
  sq_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_construct_keeps_inputs_in_order),
      cmocka_unit_test(test_construct_strings_and_scalars),
      cmocka_unit_test(test_construct_mixed_types_fails),
      cmocka_unit_test(test_empty_default_is_float),
      cmocka_unit_test(test_empty_dtype_attribute),
      cmocka_unit_test(test_empty_bad_dtype_fails),
      cmocka_unit_test(test_insert_every_position),
      cmocka_unit_test(test_insert_default_appends_int32_position),
      cmocka_unit_test(test_insert_into_empty_sequence),
      cmocka_unit_test(test_insert_position_out_of_range_fails),
      cmocka_unit_test(test_insert_wrong_type_fails),
      cmocka_unit_test(test_insert_position_not_scalar_fails),
      cmocka_unit_test(test_erase_every_position_and_default),
      cmocka_unit_test(test_erase_out_of_range_and_empty_fail),
      cmocka_unit_test(test_at_every_position),
      cmocka_unit_test(test_at_strings_empty_tensor_and_errors),
      cmocka_unit_test(test_length),
      cmocka_unit_test(test_split_default_every_axis),
      cmocka_unit_test(test_split_scalar_sizes),
      cmocka_unit_test(test_split_list_with_zeros_int32),
      cmocka_unit_test(test_split_strings),
      cmocka_unit_test(test_split_empty_axis_gives_empty_sequence),
      cmocka_unit_test(test_split_bad_inputs_fail),
      cmocka_unit_test(test_split_bad_attributes_fail_at_load),
      cmocka_unit_test(test_concat_axes),
      cmocka_unit_test(test_concat_stacks_scalars),
      cmocka_unit_test(test_concat_strings),
      cmocka_unit_test(test_concat_errors),
      cmocka_unit_test(test_split_concat_round_trip),
      cmocka_unit_test(test_empty_insert_at_chain),
      cmocka_unit_test(test_optional_wraps_tensor),
      cmocka_unit_test(test_optional_wraps_sequence),
      cmocka_unit_test(test_optional_empty_from_type),
      cmocka_unit_test(test_optional_get_element_of_empty_fails),
      cmocka_unit_test(test_optional_bad_models_fail),
      cmocka_unit_test(test_optional_graph_inputs),
      cmocka_unit_test(test_seqmap_sequence_plus_tensor),
      cmocka_unit_test(test_seqmap_two_sequences_two_outputs),
      cmocka_unit_test(test_seqmap_empty_sequence_and_capture),
      cmocka_unit_test(test_seqmap_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
