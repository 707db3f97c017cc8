/*
 * Implementation of the one-node harness (optest.h): the model is built
 * with the same protobuf-c schema the loader reads, serialised, and loaded
 * from memory through the public API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "onnx-schema.pb-c.h"
#include "optest.h"

#define OPTEST_MAX 16

typedef struct optest_in {
  int kind; /* 0 none, 1 input, 2 const */
  int32_t dtype;
  int rank;
  int64_t dims[EMB_MAX_RANK];
  const void *data;
} optest_in;

struct optest {
  char op_type[64];
  char domain[64];
  int opset, domain_opset;
  Emberpb__Attribute attrs[OPTEST_MAX];
  Emberpb__Attribute *attr_ptrs[OPTEST_MAX];
  Emberpb__Tensor attr_tensors[OPTEST_MAX];
  int n_attr;
  optest_in ins[OPTEST_MAX];
  int n_in, n_out;
  int threads; /* session num_threads (optest_threads), default 1 */
  ember_model *model;
  ember_session *sess;
  emb_value outs[OPTEST_MAX];
  char msg[1200];
};

optest *optest_new(const char *op_type, int opset) {
  optest *t = calloc(1, sizeof *t);
  snprintf(t->op_type, sizeof t->op_type, "%s", op_type);
  t->opset = opset;
  t->n_out = 1;
  t->threads = 1;
  return t;
}

void optest_threads(optest *t, int threads) { t->threads = threads; }

void optest_domain(optest *t, const char *domain, int opset) {
  snprintf(t->domain, sizeof t->domain, "%s", domain);
  t->domain_opset = opset;
}

static Emberpb__Attribute *optest_attr(optest *t, const char *name, int type) {
  assert_true(t->n_attr < OPTEST_MAX);
  Emberpb__Attribute *a = &t->attrs[t->n_attr];
  emberpb__attribute__init(a);
  a->name = strdup(name);
  a->has_type = 1;
  a->type = type;
  t->attr_ptrs[t->n_attr] = a;
  t->n_attr++;
  return a;
}

void optest_attr_int(optest *t, const char *name, int64_t v) {
  Emberpb__Attribute *a = optest_attr(t, name, EMB_ATTR_INT);
  a->has_i = 1;
  a->i = v;
}

void optest_attr_float(optest *t, const char *name, float v) {
  Emberpb__Attribute *a = optest_attr(t, name, EMB_ATTR_FLOAT);
  a->has_f = 1;
  a->f = v;
}

void optest_attr_string(optest *t, const char *name, const char *v) {
  Emberpb__Attribute *a = optest_attr(t, name, EMB_ATTR_STRING);
  a->has_s = 1;
  a->s.data = (uint8_t *)strdup(v);
  a->s.len = strlen(v);
}

void optest_attr_ints(optest *t, const char *name, size_t n, const int64_t *v) {
  Emberpb__Attribute *a = optest_attr(t, name, EMB_ATTR_INTS);
  a->n_ints = n;
  a->ints = malloc((n ? n : 1) * sizeof *v);
  if (n) memcpy(a->ints, v, n * sizeof *v);
}

void optest_attr_floats(optest *t, const char *name, size_t n, const float *v) {
  Emberpb__Attribute *a = optest_attr(t, name, EMB_ATTR_FLOATS);
  a->n_floats = n;
  a->floats = malloc((n ? n : 1) * sizeof *v);
  if (n) memcpy(a->floats, v, n * sizeof *v);
}

void optest_attr_strings(optest *t, const char *name, size_t n,
                         const char *const *v) {
  Emberpb__Attribute *a = optest_attr(t, name, EMB_ATTR_STRINGS);
  a->n_strings = n;
  a->strings = calloc(n ? n : 1, sizeof *a->strings);
  for (size_t i = 0; i < n; i++) {
    a->strings[i].data = (uint8_t *)strdup(v[i]);
    a->strings[i].len = strlen(v[i]);
  }
}

/* Fill a TensorProto (raw_data, or string_data for strings). */
static void optest_tensor(Emberpb__Tensor *tp, const char *name, int32_t dtype,
                          int rank, const int64_t *dims, const void *data) {
  emberpb__tensor__init(tp);
  tp->name = strdup(name);
  tp->has_data_type = 1;
  tp->data_type = dtype;
  tp->n_dims = (size_t)rank;
  tp->dims = malloc(sizeof(int64_t) * (size_t)(rank ? rank : 1));
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    tp->dims[i] = dims[i];
    n *= (size_t)dims[i];
  }
  if (dtype == EMBER_STRING) {
    tp->n_string_data = n;
    tp->string_data = calloc(n ? n : 1, sizeof *tp->string_data);
    for (size_t i = 0; i < n; i++) {
      const char *s = ((const char *const *)data)[i];
      tp->string_data[i].data = (uint8_t *)strdup(s);
      tp->string_data[i].len = strlen(s);
    }
  } else {
    size_t bytes = ember_dtype_bytes(dtype, n);
    tp->has_raw_data = 1;
    tp->raw_data.len = bytes;
    tp->raw_data.data = malloc(bytes ? bytes : 1);
    if (bytes) memcpy(tp->raw_data.data, data, bytes);
  }
}

void optest_attr_tensor(optest *t, const char *name, int32_t dtype, int rank,
                        const int64_t *dims, const void *data) {
  Emberpb__Attribute *a = optest_attr(t, name, EMB_ATTR_TENSOR);
  Emberpb__Tensor *tp = &t->attr_tensors[t->n_attr - 1];
  optest_tensor(tp, "", dtype, rank, dims, data);
  a->t = tp;
}

static void optest_add_in(optest *t, int kind, int32_t dtype, int rank,
                          const int64_t *dims, const void *data) {
  assert_true(t->n_in < OPTEST_MAX);
  optest_in *in = &t->ins[t->n_in++];
  in->kind = kind;
  in->dtype = dtype;
  in->rank = rank;
  for (int i = 0; i < rank; i++) in->dims[i] = dims[i];
  in->data = data;
}

void optest_input(optest *t, int32_t dtype, int rank, const int64_t *dims,
                  const void *data) {
  optest_add_in(t, 1, dtype, rank, dims, data);
}

void optest_input_const(optest *t, int32_t dtype, int rank,
                        const int64_t *dims, const void *data) {
  optest_add_in(t, 2, dtype, rank, dims, data);
}

void optest_input_none(optest *t) { optest_add_in(t, 0, 0, 0, NULL, NULL); }

void optest_outputs(optest *t, int n) { t->n_out = n; }

static void optest_free_tensor(Emberpb__Tensor *tp) {
  free(tp->name);
  free(tp->dims);
  free(tp->raw_data.data);
  for (size_t i = 0; i < tp->n_string_data; i++) free(tp->string_data[i].data);
  free(tp->string_data);
}

ember_status optest_run(optest *t) {
  char names[OPTEST_MAX][16], onames[OPTEST_MAX][16];
  char *in_names[OPTEST_MAX], *out_names[OPTEST_MAX];
  Emberpb__Tensor inits[OPTEST_MAX];
  Emberpb__Tensor *init_ptrs[OPTEST_MAX];
  Emberpb__ValueInfo vis[OPTEST_MAX], *vi_ptrs[OPTEST_MAX];
  Emberpb__ValueInfo ovis[OPTEST_MAX], *ovi_ptrs[OPTEST_MAX];
  int n_init = 0, n_gin = 0;
  for (int i = 0; i < t->n_in; i++) {
    snprintf(names[i], sizeof names[i], "in%d", i);
    in_names[i] = t->ins[i].kind ? names[i] : "";
    if (t->ins[i].kind == 2) {
      optest_tensor(&inits[n_init], names[i], t->ins[i].dtype, t->ins[i].rank,
                    t->ins[i].dims, t->ins[i].data);
      init_ptrs[n_init] = &inits[n_init];
      n_init++;
    } else if (t->ins[i].kind == 1) {
      /* declared type: element type only, so shapes come from the run */
      Emberpb__ValueInfo *v = &vis[n_gin];
      emberpb__value_info__init(v);
      v->name = names[i];
      Emberpb__Type *ty = calloc(1, sizeof *ty);
      emberpb__type__init(ty);
      Emberpb__Type__TensorT *tt = calloc(1, sizeof *tt);
      emberpb__type__tensor_t__init(tt);
      tt->has_elem_type = 1;
      tt->elem_type = t->ins[i].dtype;
      ty->value_case = EMBERPB__TYPE__VALUE_TENSOR_TYPE;
      ty->tensor_type = tt;
      v->type = ty;
      vi_ptrs[n_gin++] = v;
    }
  }
  for (int i = 0; i < t->n_out; i++) {
    snprintf(onames[i], sizeof onames[i], "out%d", i);
    out_names[i] = onames[i];
    emberpb__value_info__init(&ovis[i]);
    ovis[i].name = onames[i];
    ovi_ptrs[i] = &ovis[i];
  }
  Emberpb__Node node;
  emberpb__node__init(&node);
  node.op_type = t->op_type;
  node.name = "n0";
  node.domain = t->domain;
  node.n_input = (size_t)t->n_in;
  node.input = in_names;
  node.n_output = (size_t)t->n_out;
  node.output = out_names;
  node.n_attribute = (size_t)t->n_attr;
  node.attribute = t->attr_ptrs;
  Emberpb__Node *node_ptr = &node;
  Emberpb__Graph graph;
  emberpb__graph__init(&graph);
  graph.name = "optest";
  graph.n_node = 1;
  graph.node = &node_ptr;
  graph.n_initializer = (size_t)n_init;
  graph.initializer = init_ptrs;
  graph.n_input = (size_t)n_gin;
  graph.input = vi_ptrs;
  graph.n_output = (size_t)t->n_out;
  graph.output = ovi_ptrs;
  Emberpb__OpsetId op1, op2, *ops[2] = {&op1, &op2};
  emberpb__opset_id__init(&op1);
  op1.domain = "";
  op1.has_version = 1;
  op1.version = t->opset;
  emberpb__opset_id__init(&op2);
  op2.domain = t->domain;
  op2.has_version = 1;
  op2.version = t->domain_opset;
  Emberpb__Model model;
  emberpb__model__init(&model);
  model.has_ir_version = 1;
  model.ir_version = 8;
  model.graph = &graph;
  model.n_opset_import = t->domain[0] ? 2 : 1;
  model.opset_import = ops;
  size_t len = emberpb__model__get_packed_size(&model);
  uint8_t *buf = malloc(len);
  emberpb__model__pack(&model, buf);
  for (int i = 0; i < n_init; i++) optest_free_tensor(&inits[i]);
  for (int i = 0; i < n_gin; i++) {
    free(vis[i].type->tensor_type);
    free(vis[i].type);
  }

  ember_status st = ember_model_load_memory(buf, len, NULL, &t->model);
  free(buf);
  if (st) {
    snprintf(t->msg, sizeof t->msg, "%s", ember_model_errmsg(t->model));
    return st;
  }
  ember_session_options so;
  ember_session_options_init(&so);
  so.num_threads = t->threads;
  st = ember_session_create(t->model, &so, &t->sess);
  if (st) {
    snprintf(t->msg, sizeof t->msg, "%s", ember_session_errmsg(t->sess));
    return st;
  }
  ember_value vals[OPTEST_MAX];
  const char *vnames[OPTEST_MAX];
  size_t nv = 0;
  for (int i = 0; i < t->n_in; i++) {
    if (t->ins[i].kind != 1) continue;
    size_t n = 1;
    for (int r = 0; r < t->ins[i].rank; r++) n *= (size_t)t->ins[i].dims[r];
    memset(&vals[nv], 0, sizeof vals[nv]);
    vals[nv].kind = EMBER_KIND_TENSOR;
    vals[nv].tensor.dtype = t->ins[i].dtype;
    vals[nv].tensor.rank = t->ins[i].rank;
    vals[nv].tensor.dims = t->ins[i].dims;
    vals[nv].tensor.data = (void *)t->ins[i].data;
    vals[nv].tensor.nbytes = ember_dtype_bytes(t->ins[i].dtype, n);
    vnames[nv++] = names[i];
  }
  ember_value outs[OPTEST_MAX];
  st = ember_session_run_values(t->sess, nv, vnames, vals, (size_t)t->n_out,
                                NULL, outs);
  if (st) {
    snprintf(t->msg, sizeof t->msg, "%s", ember_session_errmsg(t->sess));
    return st;
  }
  for (int i = 0; i < t->n_out; i++) {
    emb_value *v = &t->outs[i];
    memset(v, 0, sizeof *v);
    int kind = outs[i].kind == EMBER_KIND_OPTIONAL
                   ? (outs[i].has_value ? outs[i].elem_kind : 0)
                   : outs[i].kind;
    if (kind == EMBER_KIND_TENSOR) {
      v->kind = EMB_VK_TENSOR;
      v->t.dtype = outs[i].tensor.dtype;
      v->t.rank = outs[i].tensor.rank;
      for (int r = 0; r < v->t.rank; r++) v->t.dims[r] = outs[i].tensor.dims[r];
      v->t.data = outs[i].tensor.data;
      v->t.nbytes = outs[i].tensor.nbytes;
    } else if (kind == EMBER_KIND_SEQUENCE) {
      v->kind = EMB_VK_SEQUENCE;
      v->seq.elem_dtype = outs[i].elem_dtype;
      v->seq.count = outs[i].count;
      v->seq.items = calloc(outs[i].count + 1, sizeof(emb_tensor));
      for (size_t k = 0; k < outs[i].count; k++) {
        const ember_tensor *x = &outs[i].items[k];
        emb_tensor *y = &v->seq.items[k];
        y->dtype = x->dtype;
        y->rank = x->rank;
        for (int r = 0; r < x->rank; r++) y->dims[r] = x->dims[r];
        y->data = x->data;
        y->nbytes = x->nbytes;
      }
    } else {
      v->kind = EMB_VK_NONE;
    }
  }
  return EMBER_OK;
}

const emb_value *optest_output(optest *t, int i) { return &t->outs[i]; }

const char *optest_errmsg(optest *t) { return t->msg; }

void optest_free(optest *t) {
  if (!t) return;
  for (int i = 0; i < OPTEST_MAX; i++)
    if (t->outs[i].kind == EMB_VK_SEQUENCE) free(t->outs[i].seq.items);
  for (int i = 0; i < t->n_attr; i++) {
    Emberpb__Attribute *a = &t->attrs[i];
    free(a->name);
    free(a->s.data);
    free(a->ints);
    free(a->floats);
    for (size_t k = 0; k < a->n_strings; k++) free(a->strings[k].data);
    free(a->strings);
    if (a->t) optest_free_tensor(a->t);
  }
  ember_session_free(t->sess);
  ember_model_free(t->model);
  free(t);
}

void optest_expect_f32(const emb_value *v, int rank, const int64_t *dims,
                       const float *expect, float rtol, float atol) {
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  assert_int_equal(v->t.dtype, EMBER_FLOAT);
  assert_int_equal(v->t.rank, rank);
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (v->t.dims[i] != dims[i])
      fail_msg("dimension %d is %lld, expected %lld", i,
               (long long)v->t.dims[i], (long long)dims[i]);
    n *= (size_t)dims[i];
  }
  const float *got = v->t.data;
  for (size_t i = 0; i < n; i++) {
    float e = expect[i], g = got[i];
    if (e != e && g != g) continue;
    float diff = g > e ? g - e : e - g;
    float tol = atol + rtol * (e < 0 ? -e : e);
    if (!(diff <= tol) && !(e == g))
      fail_msg("element %zu: got %.9g, expected %.9g", i, (double)g, (double)e);
  }
}

void optest_expect_i64(const emb_value *v, int rank, const int64_t *dims,
                       const int64_t *expect) {
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  assert_int_equal(v->t.dtype, EMBER_INT64);
  assert_int_equal(v->t.rank, rank);
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    assert_int_equal(v->t.dims[i], dims[i]);
    n *= (size_t)dims[i];
  }
  const int64_t *got = v->t.data;
  for (size_t i = 0; i < n; i++)
    if (got[i] != expect[i])
      fail_msg("element %zu: got %lld, expected %lld", i, (long long)got[i],
               (long long)expect[i]);
}

void optest_must_run(optest *t) {
  ember_status st = optest_run(t);
  if (st) fail_msg("run failed (%d): %s", (int)st, optest_errmsg(t));
}

void optest_must_fail(optest *t, ember_status want, const char *part) {
  ember_status st = optest_run(t);
  const char *msg = optest_errmsg(t);
  if (st != want)
    fail_msg("status %d, expected %d (message: %s)", (int)st, (int)want, msg);
  if (!strstr(msg, "'n0'"))
    fail_msg("message '%s' does not name the node", msg);
  if (part && !strstr(msg, part))
    fail_msg("message '%s' lacks '%s'", msg, part);
}

const emb_tensor *optest_out(optest *t, int i, int32_t dtype, int rank,
                             const int64_t *dims) {
  const emb_value *v = optest_output(t, i);
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  if (v->t.dtype != dtype)
    fail_msg("output %d has type %s, expected %s", i,
             ember_dtype_name(v->t.dtype), ember_dtype_name(dtype));
  if (v->t.rank != rank)
    fail_msg("output %d has rank %d, expected %d", i, (int)v->t.rank, rank);
  for (int k = 0; k < rank; k++)
    if (v->t.dims[k] != dims[k])
      fail_msg("output %d dimension %d is %lld, expected %lld", i, k,
               (long long)v->t.dims[k], (long long)dims[k]);
  return &v->t;
}

