/*
 * Unit tests for the control-flow operators If, Loop and Scan
 * (lib/ops/control.c).  The one-node harness (optest.h) cannot hold graph
 * attributes, so this file builds its own models with the protobuf-c
 * schema the loader reads: a main graph with one control node whose bodies
 * use simple operators (Add, Mul, Identity, Concat, Less) and capture
 * values of the enclosing graphs.  Expected results are computed here by
 * plain loops over the inputs, following the ONNX definitions.
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

#define TB_POOL 2048
#define TB_MAX 16

typedef struct tb {
  void *pool[TB_POOL];
  int n_pool;
  ember_value feed[TB_MAX];
  const char *feed_names[TB_MAX];
  int64_t feed_dims[TB_MAX][8];
  int n_feed;
  ember_model *model;
  ember_session *sess;
  ember_value outs[TB_MAX];
  char msg[1500];
} tb;

typedef struct tg {
  Emberpb__Graph g;
  Emberpb__Node *nodes[32];
  Emberpb__ValueInfo *ins[TB_MAX], *outs[TB_MAX];
  Emberpb__Tensor *inits[TB_MAX];
} tg;

static void *tb_keep(tb *b, void *p) {
  assert_non_null(p);
  assert_true(b->n_pool < TB_POOL);
  b->pool[b->n_pool++] = p;
  return p;
}

static void *tb_new(tb *b, size_t n) {
  return tb_keep(b, calloc(1, n ? n : 1));
}

static char *tb_s(tb *b, const char *s) {
  char *p = tb_new(b, strlen(s) + 1);
  memcpy(p, s, strlen(s) + 1);
  return p;
}

static tb *tb_make(void) { return calloc(1, sizeof(tb)); }

static void tb_free(tb *b) {
  ember_session_free(b->sess);
  ember_model_free(b->model);
  for (int i = 0; i < b->n_pool; i++) free(b->pool[i]);
  free(b);
}

/* A value info: dtype 0 = no type at all; rank < 0 = no shape; a
 * negative dim = a dimension of unknown size. */
static Emberpb__ValueInfo *tb_vi(tb *b, const char *name, int32_t dtype,
                                 int rank, const int64_t *dims) {
  Emberpb__ValueInfo *v = tb_new(b, sizeof *v);
  emberpb__value_info__init(v);
  v->name = tb_s(b, name);
  if (!dtype) return v;
  Emberpb__Type *ty = tb_new(b, sizeof *ty);
  emberpb__type__init(ty);
  Emberpb__Type__TensorT *tt = tb_new(b, sizeof *tt);
  emberpb__type__tensor_t__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = dtype;
  if (rank >= 0) {
    Emberpb__Shape *sh = tb_new(b, sizeof *sh);
    emberpb__shape__init(sh);
    sh->n_dim = (size_t)rank;
    sh->dim = tb_new(b, sizeof *sh->dim * (size_t)(rank ? rank : 1));
    for (int i = 0; i < rank; i++) {
      Emberpb__Shape__Dim *d = tb_new(b, sizeof *d);
      emberpb__shape__dim__init(d);
      if (dims[i] >= 0) {
        d->value_case = EMBERPB__SHAPE__DIM__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
      }
      sh->dim[i] = d;
    }
    tt->shape = sh;
  }
  ty->value_case = EMBERPB__TYPE__VALUE_TENSOR_TYPE;
  ty->tensor_type = tt;
  v->type = ty;
  return v;
}

static tg *tg_new(tb *b, const char *name) {
  tg *g = tb_new(b, sizeof *g);
  emberpb__graph__init(&g->g);
  g->g.name = tb_s(b, name);
  g->g.node = g->nodes;
  g->g.input = g->ins;
  g->g.output = g->outs;
  g->g.initializer = g->inits;
  return g;
}

static void tg_in(tb *b, tg *g, const char *name, int32_t dtype, int rank,
                  const int64_t *dims) {
  assert_true(g->g.n_input < TB_MAX);
  g->ins[g->g.n_input++] = tb_vi(b, name, dtype, rank, dims);
}

static void tg_out(tb *b, tg *g, const char *name, int32_t dtype, int rank,
                   const int64_t *dims) {
  assert_true(g->g.n_output < TB_MAX);
  g->outs[g->g.n_output++] = tb_vi(b, name, dtype, rank, dims);
}

static void tg_init(tb *b, tg *g, const char *name, int32_t dtype, int rank,
                    const int64_t *dims, const void *data) {
  Emberpb__Tensor *t = tb_new(b, sizeof *t);
  emberpb__tensor__init(t);
  t->name = tb_s(b, name);
  t->has_data_type = 1;
  t->data_type = dtype;
  t->n_dims = (size_t)rank;
  t->dims = tb_new(b, sizeof(int64_t) * (size_t)(rank ? rank : 1));
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    t->dims[i] = dims[i];
    n *= (size_t)dims[i];
  }
  size_t bytes = ember_dtype_bytes(dtype, n);
  t->has_raw_data = 1;
  t->raw_data.len = bytes;
  t->raw_data.data = tb_new(b, bytes);
  if (bytes) memcpy(t->raw_data.data, data, bytes);
  assert_true(g->g.n_initializer < TB_MAX);
  g->inits[g->g.n_initializer++] = t;
}

/* A node; `ins` and `outs` are space-separated names, "-" for an omitted
 * input. */
static Emberpb__Node *tg_node(tb *b, tg *g, const char *op, const char *name,
                              const char *ins, const char *outs) {
  Emberpb__Node *n = tb_new(b, sizeof *n);
  emberpb__node__init(n);
  n->op_type = tb_s(b, op);
  n->name = tb_s(b, name);
  n->domain = tb_s(b, "");
  n->input = tb_new(b, sizeof(char *) * TB_MAX);
  n->output = tb_new(b, sizeof(char *) * TB_MAX);
  n->attribute = tb_new(b, sizeof(Emberpb__Attribute *) * 8);
  const char *lists[2] = {ins, outs};
  for (int l = 0; l < 2; l++) {
    char *copy = tb_s(b, lists[l]);
    for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
      char *nm = strcmp(tok, "-") ? tb_s(b, tok) : tb_s(b, "");
      if (l == 0)
        n->input[n->n_input++] = nm;
      else
        n->output[n->n_output++] = nm;
    }
  }
  assert_true(g->g.n_node < 32);
  g->nodes[g->g.n_node++] = n;
  return n;
}

static Emberpb__Attribute *tn_attr(tb *b, Emberpb__Node *n, const char *name,
                                   int type) {
  assert_true(n->n_attribute < 8);
  Emberpb__Attribute *a = tb_new(b, sizeof *a);
  emberpb__attribute__init(a);
  a->name = tb_s(b, name);
  a->has_type = 1;
  a->type = type;
  n->attribute[n->n_attribute++] = a;
  return a;
}

static void tn_graph(tb *b, Emberpb__Node *n, const char *name, tg *g) {
  tn_attr(b, n, name, 5 /* GRAPH */)->g = &g->g;
}

static void tn_int(tb *b, Emberpb__Node *n, const char *name, int64_t v) {
  Emberpb__Attribute *a = tn_attr(b, n, name, 2 /* INT */);
  a->has_i = 1;
  a->i = v;
}

static void tn_ints(tb *b, Emberpb__Node *n, const char *name, size_t k,
                    const int64_t *v) {
  Emberpb__Attribute *a = tn_attr(b, n, name, 7 /* INTS */);
  a->n_ints = k;
  a->ints = tb_new(b, sizeof(int64_t) * (k ? k : 1));
  memcpy(a->ints, v, sizeof(int64_t) * k);
}

/* Feed a tensor for graph input `name` (data borrowed until the run). */
static void tb_feed(tb *b, const char *name, int32_t dtype, int rank,
                    const int64_t *dims, const void *data) {
  assert_true(b->n_feed < TB_MAX);
  int i = b->n_feed++;
  size_t n = 1;
  for (int r = 0; r < rank; r++) {
    b->feed_dims[i][r] = dims[r];
    n *= (size_t)dims[r];
  }
  memset(&b->feed[i], 0, sizeof b->feed[i]);
  b->feed[i].kind = EMBER_KIND_TENSOR;
  b->feed[i].tensor.dtype = dtype;
  b->feed[i].tensor.rank = rank;
  b->feed[i].tensor.dims = b->feed_dims[i];
  b->feed[i].tensor.data = (void *)data;
  b->feed[i].tensor.nbytes = ember_dtype_bytes(dtype, n);
  b->feed_names[i] = name;
}

/* Load `main` as a model of the given opset and run it; the status of the
 * first failing step, its message in b->msg. */
static ember_status tb_run(tb *b, tg *main, int opset) {
  Emberpb__OpsetId op;
  Emberpb__OpsetId *ops[1] = {&op};
  emberpb__opset_id__init(&op);
  op.domain = "";
  op.has_version = 1;
  op.version = opset;
  Emberpb__Model model;
  emberpb__model__init(&model);
  model.has_ir_version = 1;
  model.ir_version = 8;
  model.graph = &main->g;
  model.n_opset_import = 1;
  model.opset_import = ops;
  size_t len = emberpb__model__get_packed_size(&model);
  uint8_t *buf = malloc(len);
  assert_non_null(buf);
  emberpb__model__pack(&model, buf);
  ember_status st = ember_model_load_memory(buf, len, NULL, &b->model);
  free(buf);
  if (st) {
    snprintf(b->msg, sizeof b->msg, "%s", ember_model_errmsg(b->model));
    return st;
  }
  ember_session_options so;
  ember_session_options_init(&so);
  so.num_threads = 1;
  st = ember_session_create(b->model, &so, &b->sess);
  if (st) {
    snprintf(b->msg, sizeof b->msg, "%s", ember_session_errmsg(b->sess));
    return st;
  }
  st = ember_session_run_values(b->sess, (size_t)b->n_feed, b->feed_names,
                                b->feed, main->g.n_output, NULL, b->outs);
  if (st) snprintf(b->msg, sizeof b->msg, "%s", ember_session_errmsg(b->sess));
  return st;
}

static void tb_expect_ok(tb *b, tg *main, int opset) {
  ember_status st = tb_run(b, main, opset);
  if (st) fail_msg("run failed: %s: %s", ember_status_str(st), b->msg);
}

static void tb_expect_fail(tb *b, tg *main, int opset, ember_status want,
                           const char *needle) {
  ember_status st = tb_run(b, main, opset);
  if (st != want)
    fail_msg("expected status %s, got %s (%s)", ember_status_str(want),
             ember_status_str(st), b->msg);
  if (needle && !strstr(b->msg, needle))
    fail_msg("message '%s' does not mention '%s'", b->msg, needle);
}

static void expect_shape(const ember_value *v, int32_t dtype, int rank,
                         const int64_t *dims) {
  if (v->kind != EMBER_KIND_TENSOR) fail_msg("kind %d, not a tensor", v->kind);
  if (v->tensor.dtype != dtype)
    fail_msg("dtype %d, expected %d", v->tensor.dtype, dtype);
  if (v->tensor.rank != rank)
    fail_msg("rank %d, expected %d", v->tensor.rank, rank);
  for (int i = 0; i < rank; i++)
    if (v->tensor.dims[i] != dims[i])
      fail_msg("dim %d is %lld, expected %lld", i,
               (long long)v->tensor.dims[i], (long long)dims[i]);
}

static void expect_f32(const ember_value *v, int rank, const int64_t *dims,
                       const float *want) {
  expect_shape(v, EMBER_FLOAT, rank, dims);
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  const float *got = v->tensor.data;
  for (size_t i = 0; i < n; i++) {
    float d = got[i] - want[i];
    if (d < 0) d = -d;
    float tol = 1e-6f + 1e-5f * (want[i] < 0 ? -want[i] : want[i]);
    if (d > tol)
      fail_msg("element %zu is %g, expected %g", i, (double)got[i],
               (double)want[i]);
  }
}

static void expect_i64(const ember_value *v, int rank, const int64_t *dims,
                       const int64_t *want) {
  expect_shape(v, EMBER_INT64, rank, dims);
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  const int64_t *got = v->tensor.data;
  for (size_t i = 0; i < n; i++)
    if (got[i] != want[i])
      fail_msg("element %zu is %lld, expected %lld", i, (long long)got[i],
               (long long)want[i]);
}

static void expect_str(const ember_value *v, int rank, const int64_t *dims,
                       const char *const *want) {
  expect_shape(v, EMBER_STRING, rank, dims);
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  char *const *got = v->tensor.data;
  for (size_t i = 0; i < n; i++)
    if (strcmp(got[i], want[i]))
      fail_msg("element %zu is '%s', expected '%s'", i, got[i], want[i]);
}

static const int64_t d1[] = {1}, d2[] = {2}, d3[] = {3};

/* ------------------------------------------------------------------ If */

/* Main (cond, a[3], b[3]) -> y: then Add(a, b), else Mul(a, b) or, with
 * `concat`, Concat(a, b) (a different shape). */
static tg *if_model(tb *b, int32_t cond_dtype, int cond_rank,
                    const int64_t *cond_dims, bool concat) {
  tg *m = tg_new(b, "main");
  tg_in(b, m, "cond", cond_dtype, cond_rank, cond_dims);
  tg_in(b, m, "a", EMBER_FLOAT, 1, d3);
  tg_in(b, m, "b", EMBER_FLOAT, 1, d3);
  tg_out(b, m, "y", 0, -1, NULL);
  tg *th = tg_new(b, "then");
  tg_node(b, th, "Add", "t_add", "a b", "t");
  tg_out(b, th, "t", EMBER_FLOAT, 1, d3);
  tg *el = tg_new(b, "else");
  if (concat) {
    Emberpb__Node *c = tg_node(b, el, "Concat", "e_cat", "a b", "e");
    tn_int(b, c, "axis", 0);
    tg_out(b, el, "e", EMBER_FLOAT, -1, NULL);
  } else {
    tg_node(b, el, "Mul", "e_mul", "a b", "e");
    tg_out(b, el, "e", EMBER_FLOAT, 1, d3);
  }
  Emberpb__Node *n = tg_node(b, m, "If", "if0", "cond", "y");
  tn_graph(b, n, "then_branch", th);
  tn_graph(b, n, "else_branch", el);
  return m;
}

static const float if_a[3] = {1.5f, -2.0f, 3.0f}, if_b[3] = {0.5f, 4.0f, -1.0f};

static void test_if_bool_cond_picks_branch(void **state) {
  (void)state;
  for (int c = 0; c < 2; c++) {
    tb *b = tb_make();
    tg *m = if_model(b, EMBER_BOOL, 0, NULL, false);
    uint8_t cond = (uint8_t)c;
    tb_feed(b, "cond", EMBER_BOOL, 0, NULL, &cond);
    tb_feed(b, "a", EMBER_FLOAT, 1, d3, if_a);
    tb_feed(b, "b", EMBER_FLOAT, 1, d3, if_b);
    tb_expect_ok(b, m, 13);
    float want[3];
    for (int i = 0; i < 3; i++)
      want[i] = c ? if_a[i] + if_b[i] : if_a[i] * if_b[i];
    expect_f32(&b->outs[0], 1, d3, want);
    tb_free(b);
  }
}

static void test_if_numeric_one_element_cond(void **state) {
  (void)state;
  const int64_t d11[] = {1, 1};
  const float fc[2] = {0.0f, -0.25f};
  const int32_t ic[2] = {0, 7};
  for (int c = 0; c < 2; c++) {
    for (int kind = 0; kind < 2; kind++) {
      tb *b = tb_make();
      tg *m = kind ? if_model(b, EMBER_FLOAT, 2, d11, false)
                   : if_model(b, EMBER_INT32, 1, d1, false);
      if (kind)
        tb_feed(b, "cond", EMBER_FLOAT, 2, d11, &fc[c]);
      else
        tb_feed(b, "cond", EMBER_INT32, 1, d1, &ic[c]);
      tb_feed(b, "a", EMBER_FLOAT, 1, d3, if_a);
      tb_feed(b, "b", EMBER_FLOAT, 1, d3, if_b);
      tb_expect_ok(b, m, 13);
      float want[3];
      for (int i = 0; i < 3; i++)
        want[i] = c ? if_a[i] + if_b[i] : if_a[i] * if_b[i];
      expect_f32(&b->outs[0], 1, d3, want);
      tb_free(b);
    }
  }
}

static void test_if_branches_of_different_shapes(void **state) {
  (void)state;
  for (int c = 0; c < 2; c++) {
    tb *b = tb_make();
    tg *m = if_model(b, EMBER_BOOL, 0, NULL, true);
    uint8_t cond = (uint8_t)c;
    tb_feed(b, "cond", EMBER_BOOL, 0, NULL, &cond);
    tb_feed(b, "a", EMBER_FLOAT, 1, d3, if_a);
    tb_feed(b, "b", EMBER_FLOAT, 1, d3, if_b);
    tb_expect_ok(b, m, 13);
    if (c) {
      float want[3];
      for (int i = 0; i < 3; i++) want[i] = if_a[i] + if_b[i];
      expect_f32(&b->outs[0], 1, d3, want);
    } else {
      float want[6];
      const int64_t d6[] = {6};
      for (int i = 0; i < 3; i++) {
        want[i] = if_a[i];
        want[3 + i] = if_b[i];
      }
      expect_f32(&b->outs[0], 1, d6, want);
    }
    tb_free(b);
  }
}

static void test_if_cond_with_two_elements_fails(void **state) {
  (void)state;
  /* Declared [N]: found at run; declared [2]: found at load. */
  const int64_t dn[] = {-1};
  for (int declared = 0; declared < 2; declared++) {
    tb *b = tb_make();
    tg *m = if_model(b, EMBER_BOOL, 1, declared ? d2 : dn, false);
    const uint8_t cond[2] = {1, 0};
    tb_feed(b, "cond", EMBER_BOOL, 1, d2, cond);
    tb_feed(b, "a", EMBER_FLOAT, 1, d3, if_a);
    tb_feed(b, "b", EMBER_FLOAT, 1, d3, if_b);
    tb_expect_fail(b, m, 13, EMBER_ERR_SHAPE, "if0");
    tb_free(b);
  }
}

static void test_if_branch_output_counts_differ_fails_at_load(void **state) {
  (void)state;
  tb *b = tb_make();
  tg *m = if_model(b, EMBER_BOOL, 0, NULL, false);
  /* A second output on the then branch only. */
  tg *th = (tg *)(void *)m->nodes[0]->attribute[0]->g;
  tg_out(b, th, "a", EMBER_FLOAT, 1, d3);
  tb_expect_fail(b, m, 13, EMBER_ERR_INVALID_MODEL, "if0");
  tb_free(b);
}

/* ---------------------------------------------------------------- Loop */

/* Main (M, x0[2], c[2]) -> (xf, ys, its): Loop(M, "", x0) with body
 * x_out = x_in + c (c captured), scan outputs x_out and the iteration
 * number. */
static tg *loop_for_model(tb *b) {
  tg *m = tg_new(b, "main");
  tg_in(b, m, "M", EMBER_INT64, 0, NULL);
  tg_in(b, m, "x0", EMBER_FLOAT, 1, d2);
  tg_in(b, m, "c", EMBER_FLOAT, 1, d2);
  tg_out(b, m, "xf", 0, -1, NULL);
  tg_out(b, m, "ys", 0, -1, NULL);
  tg_out(b, m, "its", 0, -1, NULL);
  tg *body = tg_new(b, "body");
  tg_in(b, body, "iter", EMBER_INT64, 0, NULL);
  tg_in(b, body, "cond_in", EMBER_BOOL, 0, NULL);
  tg_in(b, body, "x_in", EMBER_FLOAT, 1, d2);
  tg_node(b, body, "Identity", "b_cond", "cond_in", "cond_out");
  tg_node(b, body, "Add", "b_add", "x_in c", "x_out");
  tg_node(b, body, "Identity", "b_y", "x_out", "y");
  tg_node(b, body, "Identity", "b_it", "iter", "it");
  tg_out(b, body, "cond_out", EMBER_BOOL, 0, NULL);
  tg_out(b, body, "x_out", EMBER_FLOAT, 1, d2);
  tg_out(b, body, "y", EMBER_FLOAT, 1, d2);
  tg_out(b, body, "it", EMBER_INT64, 0, NULL);
  Emberpb__Node *n = tg_node(b, m, "Loop", "loop0", "M - x0", "xf ys its");
  tn_graph(b, n, "body", body);
  return m;
}

static void test_loop_trip_count_carries_and_stacks(void **state) {
  (void)state;
  const float x0[2] = {1.0f, -3.0f}, c[2] = {0.5f, 2.0f};
  const int64_t trips[] = {1, 5};
  for (int k = 0; k < 2; k++) {
    int64_t M = trips[k];
    tb *b = tb_make();
    tg *m = loop_for_model(b);
    tb_feed(b, "M", EMBER_INT64, 0, NULL, &M);
    tb_feed(b, "x0", EMBER_FLOAT, 1, d2, x0);
    tb_feed(b, "c", EMBER_FLOAT, 1, d2, c);
    tb_expect_ok(b, m, 13);
    float x[2] = {x0[0], x0[1]}, ys[10];
    int64_t its[5];
    for (int64_t it = 0; it < M; it++) {
      for (int i = 0; i < 2; i++) {
        x[i] += c[i];
        ys[it * 2 + i] = x[i];
      }
      its[it] = it;
    }
    const int64_t dy[] = {M, 2}, dit[] = {M};
    expect_f32(&b->outs[0], 1, d2, x);
    expect_f32(&b->outs[1], 2, dy, ys);
    expect_i64(&b->outs[2], 1, dit, its);
    tb_free(b);
  }
}

static void test_loop_zero_trips_gives_initial_and_empty_scans(void **state) {
  (void)state;
  const float x0[2] = {1.0f, -3.0f}, c[2] = {0.5f, 2.0f};
  const int64_t trips[] = {0, -4};
  for (int k = 0; k < 2; k++) {
    tb *b = tb_make();
    tg *m = loop_for_model(b);
    tb_feed(b, "M", EMBER_INT64, 0, NULL, &trips[k]);
    tb_feed(b, "x0", EMBER_FLOAT, 1, d2, x0);
    tb_feed(b, "c", EMBER_FLOAT, 1, d2, c);
    tb_expect_ok(b, m, 13);
    const int64_t dy[] = {0, 2}, dit[] = {0};
    expect_f32(&b->outs[0], 1, d2, x0);
    expect_shape(&b->outs[1], EMBER_FLOAT, 2, dy);
    expect_shape(&b->outs[2], EMBER_INT64, 1, dit);
    tb_free(b);
  }
}

/* Main (M?, cond?, i0, lim) -> i: body i_out = i_in + 1, cond_out =
 * i_out < lim. */
static tg *loop_while_model(tb *b, bool with_m) {
  tg *m = tg_new(b, "main");
  if (with_m) tg_in(b, m, "M", EMBER_INT64, 0, NULL);
  tg_in(b, m, "cond", EMBER_BOOL, 0, NULL);
  tg_in(b, m, "i0", EMBER_INT64, 0, NULL);
  tg_in(b, m, "lim", EMBER_INT64, 0, NULL);
  tg_out(b, m, "i", 0, -1, NULL);
  tg *body = tg_new(b, "body");
  const int64_t one = 1;
  tg_in(b, body, "iter", EMBER_INT64, 0, NULL);
  tg_in(b, body, "cond_in", EMBER_BOOL, 0, NULL);
  tg_in(b, body, "i_in", EMBER_INT64, 0, NULL);
  tg_init(b, body, "one", EMBER_INT64, 0, NULL, &one);
  tg_node(b, body, "Add", "b_add", "i_in one", "i_out");
  tg_node(b, body, "Less", "b_less", "i_out lim", "cond_out");
  tg_out(b, body, "cond_out", EMBER_BOOL, 0, NULL);
  tg_out(b, body, "i_out", EMBER_INT64, 0, NULL);
  Emberpb__Node *n = tg_node(b, m, "Loop", "loop0",
                             with_m ? "M cond i0" : "- cond i0", "i");
  tn_graph(b, n, "body", body);
  return m;
}

static void test_loop_condition_ends_the_loop(void **state) {
  (void)state;
  /* (has M, M, cond, lim) -> reference count of iterations */
  const struct {
    bool with_m;
    int64_t M;
    uint8_t cond;
    int64_t lim;
  } cases[] = {{false, 0, 1, 7}, {false, 0, 0, 7}, {false, 0, 1, -5},
               {true, 3, 1, 7},  {true, 10, 1, 4}, {true, 2, 0, 9}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    tb *b = tb_make();
    tg *m = loop_while_model(b, cases[k].with_m);
    int64_t i0 = 0;
    if (cases[k].with_m) tb_feed(b, "M", EMBER_INT64, 0, NULL, &cases[k].M);
    tb_feed(b, "cond", EMBER_BOOL, 0, NULL, &cases[k].cond);
    tb_feed(b, "i0", EMBER_INT64, 0, NULL, &i0);
    tb_feed(b, "lim", EMBER_INT64, 0, NULL, &cases[k].lim);
    tb_expect_ok(b, m, 13);
    int64_t i = i0;
    bool go = cases[k].cond;
    for (int64_t it = 0; (!cases[k].with_m || it < cases[k].M) && go; it++) {
      i += 1;
      go = i < cases[k].lim;
    }
    expect_i64(&b->outs[0], 0, NULL, &i);
    tb_free(b);
  }
}

/* Main (M, v0[n]) -> (v[, s]): body v_out = Concat(v_in, [1]) grows the
 * carried value; with `scan`, v_out is also a scan output, which must
 * then fail for changing shape. */
static tg *loop_grow_model(tb *b, bool scan) {
  tg *m = tg_new(b, "main");
  const int64_t dn[] = {-1};
  tg_in(b, m, "M", EMBER_INT64, 0, NULL);
  tg_in(b, m, "v0", EMBER_FLOAT, 1, dn);
  tg_out(b, m, "v", 0, -1, NULL);
  if (scan) tg_out(b, m, "s", 0, -1, NULL);
  tg *body = tg_new(b, "body");
  const float one = 1.0f;
  tg_in(b, body, "iter", EMBER_INT64, 0, NULL);
  tg_in(b, body, "cond_in", EMBER_BOOL, 0, NULL);
  tg_in(b, body, "v_in", EMBER_FLOAT, 1, dn);
  tg_init(b, body, "one", EMBER_FLOAT, 1, d1, &one);
  tg_node(b, body, "Identity", "b_cond", "cond_in", "cond_out");
  Emberpb__Node *c = tg_node(b, body, "Concat", "b_cat", "v_in one", "v_out");
  tn_int(b, c, "axis", 0);
  tg_out(b, body, "cond_out", EMBER_BOOL, 0, NULL);
  tg_out(b, body, "v_out", EMBER_FLOAT, 1, dn);
  if (scan) {
    tg_node(b, body, "Identity", "b_s", "v_out", "s_el");
    tg_out(b, body, "s_el", EMBER_FLOAT, 1, dn);
  }
  Emberpb__Node *n = tg_node(b, m, "Loop", "loop0", "M - v0",
                             scan ? "v s" : "v");
  tn_graph(b, n, "body", body);
  return m;
}

static void test_loop_carried_value_may_change_shape(void **state) {
  (void)state;
  tb *b = tb_make();
  tg *m = loop_grow_model(b, false);
  const int64_t M = 3;
  const float v0[2] = {4.0f, 5.0f};
  tb_feed(b, "M", EMBER_INT64, 0, NULL, &M);
  tb_feed(b, "v0", EMBER_FLOAT, 1, d2, v0);
  tb_expect_ok(b, m, 13);
  float want[5];
  for (int i = 0; i < 5; i++) want[i] = i < 2 ? v0[i] : 1.0f;
  const int64_t d5[] = {5};
  expect_f32(&b->outs[0], 1, d5, want);
  tb_free(b);
}

static void test_loop_scan_output_changing_shape_fails(void **state) {
  (void)state;
  tb *b = tb_make();
  tg *m = loop_grow_model(b, true);
  const int64_t M = 3;
  const float v0[2] = {4.0f, 5.0f};
  tb_feed(b, "M", EMBER_INT64, 0, NULL, &M);
  tb_feed(b, "v0", EMBER_FLOAT, 1, d2, v0);
  tb_expect_fail(b, m, 13, EMBER_ERR_RUNTIME, "loop0");
  tb_free(b);
}

/* Loop whose body holds an If: the branches read the body's carried
 * value (captured from the body) and k (captured from the main graph
 * through the body). */
static void test_loop_with_nested_if_captures(void **state) {
  (void)state;
  for (int flag = 0; flag < 2; flag++) {
    tb *b = tb_make();
    tg *m = tg_new(b, "main");
    tg_in(b, m, "M", EMBER_INT64, 0, NULL);
    tg_in(b, m, "flag", EMBER_BOOL, 0, NULL);
    tg_in(b, m, "k", EMBER_FLOAT, 1, d2);
    tg_in(b, m, "x0", EMBER_FLOAT, 1, d2);
    tg_out(b, m, "xf", 0, -1, NULL);
    tg *th = tg_new(b, "then");
    tg_node(b, th, "Add", "t_add", "x_in k", "t");
    tg_out(b, th, "t", EMBER_FLOAT, 1, d2);
    tg *el = tg_new(b, "else");
    tg_node(b, el, "Sub", "e_sub", "x_in k", "e");
    tg_out(b, el, "e", EMBER_FLOAT, 1, d2);
    tg *body = tg_new(b, "body");
    tg_in(b, body, "iter", EMBER_INT64, 0, NULL);
    tg_in(b, body, "cond_in", EMBER_BOOL, 0, NULL);
    tg_in(b, body, "x_in", EMBER_FLOAT, 1, d2);
    tg_node(b, body, "Identity", "b_cond", "cond_in", "cond_out");
    Emberpb__Node *iff = tg_node(b, body, "If", "if_in", "flag", "x_out");
    tn_graph(b, iff, "then_branch", th);
    tn_graph(b, iff, "else_branch", el);
    tg_out(b, body, "cond_out", EMBER_BOOL, 0, NULL);
    tg_out(b, body, "x_out", EMBER_FLOAT, 1, d2);
    Emberpb__Node *n = tg_node(b, m, "Loop", "loop0", "M - x0", "xf");
    tn_graph(b, n, "body", body);
    const int64_t M = 4;
    const uint8_t f = (uint8_t)flag;
    const float k[2] = {0.25f, -1.0f}, x0[2] = {2.0f, 3.0f};
    tb_feed(b, "M", EMBER_INT64, 0, NULL, &M);
    tb_feed(b, "flag", EMBER_BOOL, 0, NULL, &f);
    tb_feed(b, "k", EMBER_FLOAT, 1, d2, k);
    tb_feed(b, "x0", EMBER_FLOAT, 1, d2, x0);
    tb_expect_ok(b, m, 13);
    float x[2] = {x0[0], x0[1]};
    for (int it = 0; it < M; it++)
      for (int i = 0; i < 2; i++) x[i] = flag ? x[i] + k[i] : x[i] - k[i];
    expect_f32(&b->outs[0], 1, d2, x);
    tb_free(b);
  }
}

static void test_loop_body_input_count_mismatch_fails_at_load(void **state) {
  (void)state;
  tb *b = tb_make();
  tg *m = loop_for_model(b);
  tg *body = (tg *)(void *)m->nodes[0]->attribute[0]->g;
  tg_in(b, body, "extra", EMBER_FLOAT, 1, d2);
  tb_expect_fail(b, m, 13, EMBER_ERR_INVALID_MODEL, "loop0");
  tb_free(b);
}

/* ---------------------------------------------------------------- Scan */

/* Scan-9+: main (s0[2], a[3,2], bb[2,L]) -> (s, y1, y2); a is scanned
 * along axis 0, bb along `b_axis` (1 or -1); body s_out = s_in + a_t *
 * b_t, y1 = y2 = s_out. */
static tg *scan9_model(tb *b, int64_t b_axis, int64_t b_dir, int64_t y1_axis,
                       int64_t y1_dir, int64_t bl) {
  tg *m = tg_new(b, "main");
  const int64_t da[] = {3, 2}, db[] = {2, bl};
  tg_in(b, m, "s0", EMBER_FLOAT, 1, d2);
  tg_in(b, m, "a", EMBER_FLOAT, 2, da);
  tg_in(b, m, "bb", EMBER_FLOAT, 2, db);
  tg_out(b, m, "s", 0, -1, NULL);
  tg_out(b, m, "y1", 0, -1, NULL);
  tg_out(b, m, "y2", 0, -1, NULL);
  tg *body = tg_new(b, "body");
  tg_in(b, body, "s_in", EMBER_FLOAT, 1, d2);
  tg_in(b, body, "a_t", EMBER_FLOAT, 1, d2);
  tg_in(b, body, "b_t", EMBER_FLOAT, 1, d2);
  tg_node(b, body, "Mul", "b_mul", "a_t b_t", "p");
  tg_node(b, body, "Add", "b_add", "s_in p", "s_out");
  tg_node(b, body, "Identity", "b_y1", "s_out", "y1_el");
  tg_node(b, body, "Identity", "b_y2", "s_out", "y2_el");
  tg_out(b, body, "s_out", EMBER_FLOAT, 1, d2);
  tg_out(b, body, "y1_el", EMBER_FLOAT, 1, d2);
  tg_out(b, body, "y2_el", EMBER_FLOAT, 1, d2);
  Emberpb__Node *n = tg_node(b, m, "Scan", "scan0", "s0 a bb", "s y1 y2");
  tn_graph(b, n, "body", body);
  tn_int(b, n, "num_scan_inputs", 2);
  const int64_t in_axes[2] = {0, b_axis}, in_dirs[2] = {0, b_dir};
  const int64_t out_axes[2] = {y1_axis, 0}, out_dirs[2] = {y1_dir, 0};
  tn_ints(b, n, "scan_input_axes", 2, in_axes);
  tn_ints(b, n, "scan_input_directions", 2, in_dirs);
  tn_ints(b, n, "scan_output_axes", 2, out_axes);
  tn_ints(b, n, "scan_output_directions", 2, out_dirs);
  return m;
}

static void test_scan9_axes_and_directions(void **state) {
  (void)state;
  const struct {
    int64_t b_axis, b_dir, y1_axis, y1_dir;
  } cases[] = {{1, 0, 0, 0}, {1, 1, 1, 1}, {-1, 1, -1, 0}, {-1, 0, -2, 1}};
  const float s0[2] = {0.5f, -1.0f};
  const float a[6] = {1, 2, 3, 4, 5, 6};          /* [3,2]: a[t][r] */
  const float bb[6] = {0.5f, -1, 2, 3, 0.25f, 4}; /* [2,3]: bb[r][t] */
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    tb *b = tb_make();
    tg *m = scan9_model(b, cases[k].b_axis, cases[k].b_dir, cases[k].y1_axis,
                        cases[k].y1_dir, 3);
    const int64_t da[] = {3, 2}, db[] = {2, 3};
    tb_feed(b, "s0", EMBER_FLOAT, 1, d2, s0);
    tb_feed(b, "a", EMBER_FLOAT, 2, da, a);
    tb_feed(b, "bb", EMBER_FLOAT, 2, db, bb);
    tb_expect_ok(b, m, 11);
    /* Reference: y1 along axis 0 ([3,2]) or 1 ([2,3]). */
    float s[2] = {s0[0], s0[1]}, y1[6], y2[6];
    bool y1_ax1 = cases[k].y1_axis == 1 || cases[k].y1_axis == -1;
    for (int t = 0; t < 3; t++) {
      int pb = cases[k].b_dir ? 2 - t : t;
      int q = cases[k].y1_dir ? 2 - t : t;
      for (int r = 0; r < 2; r++) {
        s[r] += a[t * 2 + r] * bb[r * 3 + pb];
        if (y1_ax1)
          y1[r * 3 + q] = s[r];
        else
          y1[q * 2 + r] = s[r];
        y2[t * 2 + r] = s[r];
      }
    }
    const int64_t d32[] = {3, 2}, d23[] = {2, 3};
    expect_f32(&b->outs[0], 1, d2, s);
    expect_f32(&b->outs[1], 2, y1_ax1 ? d23 : d32, y1);
    expect_f32(&b->outs[2], 2, d32, y2);
    tb_free(b);
  }
}

static void test_scan9_sequence_lengths_differ_fails(void **state) {
  (void)state;
  tb *b = tb_make();
  tg *m = scan9_model(b, 1, 0, 0, 0, 4);
  const float s0[2] = {0}, a[6] = {0}, bb[8] = {0};
  const int64_t da[] = {3, 2}, db[] = {2, 4};
  tb_feed(b, "s0", EMBER_FLOAT, 1, d2, s0);
  tb_feed(b, "a", EMBER_FLOAT, 2, da, a);
  tb_feed(b, "bb", EMBER_FLOAT, 2, db, bb);
  ember_status st = tb_run(b, m, 11);
  assert_int_not_equal(st, EMBER_OK);
  if (!strstr(b->msg, "scan0")) fail_msg("message '%s' lacks scan0", b->msg);
  tb_free(b);
}

static void test_scan9_bad_direction_fails_at_load(void **state) {
  (void)state;
  tb *b = tb_make();
  tg *m = scan9_model(b, 1, 2, 0, 0, 3);
  tb_expect_fail(b, m, 11, EMBER_ERR_INVALID_MODEL, "scan0");
  tb_free(b);
}

/* Main (s0[2], x[L,2]) -> (s, y): the one-input sum scan. */
static tg *scan_sum_model(tb *b) {
  tg *m = tg_new(b, "main");
  const int64_t dx[] = {-1, 2};
  tg_in(b, m, "s0", EMBER_FLOAT, 1, d2);
  tg_in(b, m, "x", EMBER_FLOAT, 2, dx);
  tg_out(b, m, "s", 0, -1, NULL);
  tg_out(b, m, "y", 0, -1, NULL);
  tg *body = tg_new(b, "body");
  tg_in(b, body, "s_in", EMBER_FLOAT, 1, d2);
  tg_in(b, body, "x_t", EMBER_FLOAT, 1, d2);
  tg_node(b, body, "Add", "b_add", "s_in x_t", "s_out");
  tg_node(b, body, "Identity", "b_y", "s_out", "y_el");
  tg_out(b, body, "s_out", EMBER_FLOAT, 1, d2);
  tg_out(b, body, "y_el", EMBER_FLOAT, 1, d2);
  Emberpb__Node *n = tg_node(b, m, "Scan", "scan0", "s0 x", "s y");
  tn_graph(b, n, "body", body);
  tn_int(b, n, "num_scan_inputs", 1);
  return m;
}

static void test_scan9_zero_length_sequence(void **state) {
  (void)state;
  tb *b = tb_make();
  tg *m = scan_sum_model(b);
  const float s0[2] = {1.5f, 2.5f}, x[1] = {0};
  const int64_t dx[] = {0, 2};
  tb_feed(b, "s0", EMBER_FLOAT, 1, d2, s0);
  tb_feed(b, "x", EMBER_FLOAT, 2, dx, x);
  tb_expect_ok(b, m, 16);
  expect_f32(&b->outs[0], 1, d2, s0);
  expect_shape(&b->outs[1], EMBER_FLOAT, 2, dx);
  tb_free(b);
}

/* Scan-8: main (lens?, s0[B,2], x[B,L,2]) -> (s[B,2], y[B,L,2]). */
static tg *scan8_model(tb *b, bool with_lens, int64_t dir) {
  tg *m = tg_new(b, "main");
  const int64_t ds[] = {-1, 2}, dx[] = {-1, -1, 2}, dl[] = {-1};
  if (with_lens) tg_in(b, m, "lens", EMBER_INT64, 1, dl);
  tg_in(b, m, "s0", EMBER_FLOAT, 2, ds);
  tg_in(b, m, "x", EMBER_FLOAT, 3, dx);
  tg_out(b, m, "s", 0, -1, NULL);
  tg_out(b, m, "y", 0, -1, NULL);
  tg *body = tg_new(b, "body");
  tg_in(b, body, "s_in", EMBER_FLOAT, 1, d2);
  tg_in(b, body, "x_t", EMBER_FLOAT, 1, d2);
  tg_node(b, body, "Add", "b_add", "s_in x_t", "s_out");
  tg_node(b, body, "Identity", "b_y", "s_out", "y_el");
  tg_out(b, body, "s_out", EMBER_FLOAT, 1, d2);
  tg_out(b, body, "y_el", EMBER_FLOAT, 1, d2);
  Emberpb__Node *n = tg_node(b, m, "Scan", "scan0",
                             with_lens ? "lens s0 x" : "- s0 x", "s y");
  tn_graph(b, n, "body", body);
  tn_int(b, n, "num_scan_inputs", 1);
  tn_ints(b, n, "directions", 1, &dir);
  return m;
}

static void test_scan8_batches_and_sequence_lens(void **state) {
  (void)state;
  enum { B = 3, L = 3 };
  const float s0[B * 2] = {0, 1, 2, 3, -1, -2};
  float x[B * L * 2];
  for (int i = 0; i < B * L * 2; i++) x[i] = (float)(i % 5) - 1.5f;
  const int64_t lens[B] = {3, 1, 0};
  for (int with_lens = 0; with_lens < 2; with_lens++) {
    for (int64_t dir = 0; dir < 2; dir++) {
      tb *b = tb_make();
      tg *m = scan8_model(b, with_lens, dir);
      const int64_t dl[] = {B}, ds[] = {B, 2}, dx[] = {B, L, 2};
      if (with_lens) tb_feed(b, "lens", EMBER_INT64, 1, dl, lens);
      tb_feed(b, "s0", EMBER_FLOAT, 2, ds, s0);
      tb_feed(b, "x", EMBER_FLOAT, 3, dx, x);
      tb_expect_ok(b, m, 8);
      float s[B * 2], y[B * L * 2];
      memset(y, 0, sizeof y);
      for (int bi = 0; bi < B; bi++) {
        int n = with_lens ? (int)lens[bi] : L;
        float st[2] = {s0[bi * 2], s0[bi * 2 + 1]};
        for (int t = 0; t < n; t++) {
          int p = dir ? n - 1 - t : t;
          for (int r = 0; r < 2; r++) {
            st[r] += x[(bi * L + p) * 2 + r];
            y[(bi * L + t) * 2 + r] = st[r];
          }
        }
        s[bi * 2] = st[0];
        s[bi * 2 + 1] = st[1];
      }
      expect_f32(&b->outs[0], 2, ds, s);
      expect_f32(&b->outs[1], 3, dx, y);
      tb_free(b);
    }
  }
}

static void test_scan8_sequence_len_too_long_fails(void **state) {
  (void)state;
  tb *b = tb_make();
  tg *m = scan8_model(b, true, 0);
  const int64_t lens[1] = {3}, dl[] = {1}, ds[] = {1, 2}, dx[] = {1, 2, 2};
  const float s0[2] = {0}, x[4] = {0};
  tb_feed(b, "lens", EMBER_INT64, 1, dl, lens);
  tb_feed(b, "s0", EMBER_FLOAT, 2, ds, s0);
  tb_feed(b, "x", EMBER_FLOAT, 3, dx, x);
  tb_expect_fail(b, m, 8, EMBER_ERR_RUNTIME, "scan0");
  tb_free(b);
}

/* Strings: Scan gathers string elements along axis 1 (copies of the
 * pointers, borrowed) and stacks the body's (owned) results. */
static void test_scan9_strings_along_axis_1(void **state) {
  (void)state;
  const char *x[6] = {"a0", "a1", "a2", "b0", "b1", "b2"}; /* [2,3] */
  const char *s0[2] = {"s", "t"};
  const int64_t dx[] = {2, 3};
  for (int64_t dir = 0; dir < 2; dir++) {
    tb *b = tb_make();
    tg *m = tg_new(b, "main");
    tg_in(b, m, "s0", EMBER_STRING, 1, d2);
    tg_in(b, m, "x", EMBER_STRING, 2, dx);
    tg_out(b, m, "s", 0, -1, NULL);
    tg_out(b, m, "y", 0, -1, NULL);
    tg *body = tg_new(b, "body");
    tg_in(b, body, "s_in", EMBER_STRING, 1, d2);
    tg_in(b, body, "x_t", EMBER_STRING, 1, d2);
    tg_node(b, body, "Identity", "b_s", "x_t", "s_out");
    tg_node(b, body, "Identity", "b_y", "x_t", "y_el");
    tg_out(b, body, "s_out", EMBER_STRING, 1, d2);
    tg_out(b, body, "y_el", EMBER_STRING, 1, d2);
    Emberpb__Node *n = tg_node(b, m, "Scan", "scan0", "s0 x", "s y");
    tn_graph(b, n, "body", body);
    tn_int(b, n, "num_scan_inputs", 1);
    const int64_t ax = 1;
    tn_ints(b, n, "scan_input_axes", 1, &ax);
    tn_ints(b, n, "scan_input_directions", 1, &dir);
    tn_ints(b, n, "scan_output_axes", 1, &ax);
    tb_feed(b, "s0", EMBER_STRING, 1, d2, s0);
    tb_feed(b, "x", EMBER_STRING, 2, dx, x);
    tb_expect_ok(b, m, 11);
    const char *y[6], *sf[2];
    for (int t = 0; t < 3; t++) {
      int p = dir ? 2 - t : t;
      for (int r = 0; r < 2; r++) {
        y[r * 3 + t] = x[r * 3 + p];
        sf[r] = x[r * 3 + p];
      }
    }
    expect_str(&b->outs[0], 1, d2, sf);
    expect_str(&b->outs[1], 2, dx, y);
    tb_free(b);
  }
}

/* Strings: Loop stacks a string scan output and carries a string. */
static void test_loop_strings(void **state) {
  (void)state;
  const char *w[2] = {"hello", ""};
  const char *v0[1] = {"init"};
  tb *b = tb_make();
  tg *m = tg_new(b, "main");
  tg_in(b, m, "M", EMBER_INT64, 0, NULL);
  tg_in(b, m, "w", EMBER_STRING, 1, d2);
  tg_in(b, m, "v0", EMBER_STRING, 1, d1);
  tg_out(b, m, "v", 0, -1, NULL);
  tg_out(b, m, "ws", 0, -1, NULL);
  tg *body = tg_new(b, "body");
  tg_in(b, body, "iter", EMBER_INT64, 0, NULL);
  tg_in(b, body, "cond_in", EMBER_BOOL, 0, NULL);
  tg_in(b, body, "v_in", EMBER_STRING, 1, d1);
  tg_node(b, body, "Identity", "b_cond", "cond_in", "cond_out");
  tg_node(b, body, "Identity", "b_v", "v_in", "v_out");
  tg_node(b, body, "Identity", "b_w", "w", "w_el");
  tg_out(b, body, "cond_out", EMBER_BOOL, 0, NULL);
  tg_out(b, body, "v_out", EMBER_STRING, 1, d1);
  tg_out(b, body, "w_el", EMBER_STRING, 1, d2);
  Emberpb__Node *n = tg_node(b, m, "Loop", "loop0", "M - v0", "v ws");
  tn_graph(b, n, "body", body);
  const int64_t M = 3;
  tb_feed(b, "M", EMBER_INT64, 0, NULL, &M);
  tb_feed(b, "w", EMBER_STRING, 1, d2, w);
  tb_feed(b, "v0", EMBER_STRING, 1, d1, v0);
  tb_expect_ok(b, m, 13);
  const char *ws[6];
  for (int i = 0; i < 6; i++) ws[i] = w[i % 2];
  const int64_t dws[] = {3, 2};
  expect_str(&b->outs[0], 1, d1, v0);
  expect_str(&b->outs[1], 2, dws, ws);
  tb_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_if_bool_cond_picks_branch),
      cmocka_unit_test(test_if_numeric_one_element_cond),
      cmocka_unit_test(test_if_branches_of_different_shapes),
      cmocka_unit_test(test_if_cond_with_two_elements_fails),
      cmocka_unit_test(test_if_branch_output_counts_differ_fails_at_load),
      cmocka_unit_test(test_loop_trip_count_carries_and_stacks),
      cmocka_unit_test(test_loop_zero_trips_gives_initial_and_empty_scans),
      cmocka_unit_test(test_loop_condition_ends_the_loop),
      cmocka_unit_test(test_loop_carried_value_may_change_shape),
      cmocka_unit_test(test_loop_scan_output_changing_shape_fails),
      cmocka_unit_test(test_loop_with_nested_if_captures),
      cmocka_unit_test(test_loop_body_input_count_mismatch_fails_at_load),
      cmocka_unit_test(test_scan9_axes_and_directions),
      cmocka_unit_test(test_scan9_sequence_lengths_differ_fails),
      cmocka_unit_test(test_scan9_bad_direction_fails_at_load),
      cmocka_unit_test(test_scan9_zero_length_sequence),
      cmocka_unit_test(test_scan8_batches_and_sequence_lens),
      cmocka_unit_test(test_scan8_sequence_len_too_long_fails),
      cmocka_unit_test(test_scan9_strings_along_axis_1),
      cmocka_unit_test(test_loop_strings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
