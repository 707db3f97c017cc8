/*
 * Unit tests of the public API (lib/api): versions, status strings, NULL
 * and bad arguments, introspection, runs with symbolic dimensions, output
 * ownership modes, every input validation error, sharing one model across
 * threads, and ember_value_parse.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ember/ember.h"
#include "onnx-schema.pb-c.h"

#define MODEL(name) EMBER_SOURCE_DIR "/tests/models/" name

static void assert_contains(const char *msg, const char *part) {
  if (!strstr(msg, part)) fail_msg("message '%s' lacks '%s'", msg, part);
}

static void test_version(void **state) {
  (void)state;
  assert_int_equal(ember_version_number(), EMBER_VERSION_NUMBER);
  assert_string_equal(ember_version_string(), EMBER_VERSION_STRING);
  char buf[32];
  snprintf(buf, sizeof buf, "%d.%d.%d", EMBER_VERSION_MAJOR,
           EMBER_VERSION_MINOR, EMBER_VERSION_PATCH);
  assert_string_equal(buf, EMBER_VERSION_STRING);
}

static void test_status_strings(void **state) {
  (void)state;
  /* Fixed values: renumbering would break every compiled caller. */
  assert_int_equal(EMBER_OK, 0);
  assert_int_equal(EMBER_ERR_PARSE, 4);
  assert_int_equal(EMBER_ERR_LIMIT, 13);
  for (int a = 0; a <= EMBER_ERR_LIMIT; a++) {
    const char *sa = ember_status_str((ember_status)a);
    assert_non_null(sa);
    assert_string_not_equal(sa, "unknown status");
    for (int b = 0; b < a; b++)
      assert_string_not_equal(sa, ember_status_str((ember_status)b));
  }
  assert_string_equal(ember_status_str((ember_status)999), "unknown status");
  assert_string_equal(ember_dtype_name(EMBER_FLOAT), "float32");
  assert_int_equal(ember_dtype_bytes(EMBER_INT64, 3), 24);
  assert_int_equal(ember_dtype_bytes(EMBER_INT4, 3), 2);
  assert_int_equal(ember_dtype_bytes(9999, 3), 0);
}

static void test_null_arguments(void **state) {
  (void)state;
  ember_model *m = (ember_model *)1;
  assert_int_equal(ember_model_load_file("x.onnx", NULL, NULL),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_int_equal(ember_model_load_file(NULL, NULL, &m),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_non_null(m);
  assert_int_equal(ember_model_status(m), EMBER_ERR_INVALID_ARGUMENT);
  assert_contains(ember_model_errmsg(m), "path is NULL");
  /* A failed handle answers nothing but its error. */
  assert_int_equal(ember_model_input_count(m), 0);
  ember_value_info info;
  assert_int_equal(ember_model_input_info(m, 0, &info),
                   EMBER_ERR_INVALID_ARGUMENT);
  ember_session *s = NULL;
  assert_int_equal(ember_session_create(m, NULL, &s),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_contains(ember_session_errmsg(s), "failed to load");
  assert_int_equal(ember_session_run(s, 0, NULL, NULL, 0, NULL, NULL),
                   EMBER_ERR_INVALID_ARGUMENT);
  ember_session_free(s);
  ember_model_free(m);
  assert_int_equal(ember_model_load_memory(NULL, 10, NULL, &m),
                   EMBER_ERR_INVALID_ARGUMENT);
  ember_model_free(m);
  assert_int_equal(ember_session_create(NULL, NULL, &s),
                   EMBER_ERR_INVALID_ARGUMENT);
  ember_session_free(s);
  ember_model_free(NULL);
  ember_session_free(NULL);
  ember_value_free(NULL);
  assert_non_null(ember_model_errmsg(NULL));
  assert_non_null(ember_session_errmsg(NULL));
  assert_int_equal(ember_model_input_count(NULL), 0);
  assert_null(ember_model_string(NULL, "producer_name"));
  ember_model_options_init(NULL);
  ember_session_options_init(NULL);
}

static void test_missing_file(void **state) {
  (void)state;
  ember_model *m;
  assert_int_equal(ember_model_load_file("/nonexistent/model.onnx", NULL, &m),
                   EMBER_ERR_IO);
  assert_contains(ember_model_errmsg(m), "/nonexistent/model.onnx");
  ember_model_free(m);
}

static void test_bad_options(void **state) {
  (void)state;
  ember_model_options mo;
  memset(&mo, 0, sizeof mo); /* struct_size not set */
  ember_model *m;
  assert_int_equal(ember_model_load_file(MODEL("symbolic.onnx"), &mo, &m),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_contains(ember_model_errmsg(m), "struct_size");
  ember_model_free(m);
  assert_int_equal(ember_model_load_file(MODEL("symbolic.onnx"), NULL, &m),
                   EMBER_OK);
  ember_session_options so;
  ember_session_options_init(&so);
  so.num_threads = -3;
  ember_session *s;
  assert_int_equal(ember_session_create(m, &so, &s),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_contains(ember_session_errmsg(s), "num_threads");
  ember_session_free(s);
  ember_model_free(m);
}

static void test_introspection(void **state) {
  (void)state;
  ember_model *m;
  assert_int_equal(ember_model_load_file(MODEL("symbolic.onnx"), NULL, &m),
                   EMBER_OK);
  assert_string_equal(ember_model_errmsg(m), "");
  assert_int_equal(ember_model_input_count(m), 2);
  assert_int_equal(ember_model_output_count(m), 1);
  const char *want[] = {"x", "y"};
  for (size_t i = 0; i < 2; i++) {
    ember_value_info in;
    assert_int_equal(ember_model_input_info(m, i, &in), EMBER_OK);
    assert_string_equal(in.name, want[i]);
    assert_int_equal(in.kind, EMBER_KIND_TENSOR);
    assert_int_equal(in.dtype, EMBER_FLOAT);
    assert_int_equal(in.rank, 2);
    assert_int_equal(in.dims[0], -1);
    assert_string_equal(in.dim_names[0], "batch");
    assert_int_equal(in.dims[1], 3);
    assert_null(in.dim_names[1]);
  }
  ember_value_info out;
  assert_int_equal(ember_model_input_info(m, 2, &out),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_int_equal(ember_model_output_info(m, 0, &out), EMBER_OK);
  assert_string_equal(out.name, "z");
  assert_string_equal(out.dim_names[0], "batch");
  assert_int_equal(ember_model_opset_count(m), 1);
  const char *dom;
  int64_t ver;
  assert_int_equal(ember_model_opset(m, 0, &dom, &ver), EMBER_OK);
  assert_string_equal(dom, "");
  assert_int_equal(ver, 14);
  assert_int_equal(ember_model_opset(m, 1, &dom, &ver),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_string_equal(ember_model_string(m, "producer_name"), "ember-tests");
  assert_string_equal(ember_model_string(m, "producer_version"), "2.5");
  assert_string_equal(ember_model_string(m, "doc_string"), "z = x + y");
  assert_string_equal(ember_model_string(m, "graph_name"), "sym");
  assert_null(ember_model_string(m, "no such key"));
  assert_int_equal(ember_model_ir_version(m), 8);
  assert_int_equal(ember_model_version(m), 7);
  assert_int_equal(ember_model_metadata_count(m), 2);
  const char *k, *v;
  assert_int_equal(ember_model_metadata(m, 0, &k, &v), EMBER_OK);
  assert_string_equal(k, "author");
  assert_string_equal(v, "ember");
  assert_int_equal(ember_model_metadata(m, 2, &k, &v),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_int_equal(ember_model_node_count(m), 1);
  assert_string_equal(ember_model_node_op(m, 0), "Add");
  assert_null(ember_model_node_op(m, 1));
  ember_model_free(m);
}

typedef struct fixture {
  ember_model *m;
  ember_session *s;
} fixture;

static int setup_sym(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (ember_model_load_file(MODEL("symbolic.onnx"), NULL, &f->m)) return -1;
  if (ember_session_create(f->m, NULL, &f->s)) return -1;
  *state = f;
  return 0;
}

static int teardown_sym(void **state) {
  fixture *f = *state;
  ember_session_free(f->s);
  ember_model_free(f->m);
  free(f);
  return 0;
}

static const char *xy[] = {"x", "y"};

static void test_run_dynamic_batch(void **state) {
  fixture *f = *state;
  for (int64_t batch = 1; batch <= 5; batch += 2) {
    float x[15], y[15];
    for (int i = 0; i < 15; i++) {
      x[i] = (float)i * 0.5f;
      y[i] = 10.0f - (float)i;
    }
    int64_t dims[2] = {batch, 3};
    ember_tensor in[2] = {
        {EMBER_FLOAT, 2, dims, x, sizeof(float) * (size_t)batch * 3},
        {EMBER_FLOAT, 2, dims, y, sizeof(float) * (size_t)batch * 3}};
    ember_tensor out = {0};
    assert_int_equal(ember_session_run(f->s, 2, xy, in, 1, NULL, &out),
                     EMBER_OK);
    assert_int_equal(out.dtype, EMBER_FLOAT);
    assert_int_equal(out.rank, 2);
    assert_int_equal(out.dims[0], batch);
    assert_int_equal(out.dims[1], 3);
    assert_int_equal(out.nbytes, sizeof(float) * (size_t)batch * 3);
    for (int i = 0; i < batch * 3; i++)
      assert_float_equal(((float *)out.data)[i], x[i] + y[i], 0);
    /* The same into a caller buffer, selected by name. */
    float buf[15];
    ember_tensor cb = {.data = buf, .nbytes = sizeof buf};
    const char *z = "z";
    assert_int_equal(ember_session_run(f->s, 2, xy, in, 1, &z, &cb), EMBER_OK);
    assert_int_equal(cb.nbytes, sizeof(float) * (size_t)batch * 3);
    assert_int_equal(cb.dims[0], batch);
    for (int i = 0; i < batch * 3; i++) assert_float_equal(buf[i], x[i] + y[i], 0);
  }
}

static void test_run_errors(void **state) {
  fixture *f = *state;
  float x[6] = {0}, y[9] = {0};
  int64_t d23[2] = {2, 3}, d33[2] = {3, 3}, d24[2] = {2, 4}, d6[1] = {6};
  int64_t xi[6] = {0};
  ember_tensor out = {0};
  ember_tensor ok[2] = {{EMBER_FLOAT, 2, d23, x, sizeof x},
                        {EMBER_FLOAT, 2, d23, y, sizeof x}};
  const char *bad_names[] = {"x", "nope"};
  assert_int_equal(ember_session_run(f->s, 2, bad_names, ok, 1, NULL, &out),
                   EMBER_ERR_NOT_FOUND);
  assert_contains(ember_session_errmsg(f->s), "'nope'");
  assert_contains(ember_session_errmsg(f->s), "'x', 'y'");

  ember_tensor wrong_type[2] = {{EMBER_INT64, 2, d23, xi, sizeof xi}, ok[1]};
  assert_int_equal(ember_session_run(f->s, 2, xy, wrong_type, 1, NULL, &out),
                   EMBER_ERR_TYPE);
  assert_contains(ember_session_errmsg(f->s), "input 'x' has element type int64");

  ember_tensor wrong_rank[2] = {{EMBER_FLOAT, 1, d6, x, sizeof x}, ok[1]};
  assert_int_equal(ember_session_run(f->s, 2, xy, wrong_rank, 1, NULL, &out),
                   EMBER_ERR_SHAPE);
  assert_contains(ember_session_errmsg(f->s), "input 'x' has rank 1");

  ember_tensor wrong_dim[2] = {{EMBER_FLOAT, 2, d24, y, 8 * 4}, ok[1]};
  assert_int_equal(ember_session_run(f->s, 2, xy, wrong_dim, 1, NULL, &out),
                   EMBER_ERR_SHAPE);
  assert_contains(ember_session_errmsg(f->s), "dimension 1 is 4");

  ember_tensor batch_clash[2] = {ok[0], {EMBER_FLOAT, 2, d33, y, sizeof y}};
  assert_int_equal(ember_session_run(f->s, 2, xy, batch_clash, 1, NULL, &out),
                   EMBER_ERR_SHAPE);
  assert_contains(ember_session_errmsg(f->s), "'batch'");
  assert_contains(ember_session_errmsg(f->s), "input 'y'");

  assert_int_equal(ember_session_run(f->s, 1, xy, ok, 1, NULL, &out),
                   EMBER_ERR_MISSING_INPUT);
  assert_contains(ember_session_errmsg(f->s), "input 'y' was not given");

  ember_tensor short_buf[2] = {{EMBER_FLOAT, 2, d23, x, 5}, ok[1]};
  assert_int_equal(ember_session_run(f->s, 2, xy, short_buf, 1, NULL, &out),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_contains(ember_session_errmsg(f->s), "5 bytes given");

  const char *twice[] = {"x", "x"};
  assert_int_equal(ember_session_run(f->s, 2, twice, ok, 1, NULL, &out),
                   EMBER_ERR_INVALID_ARGUMENT);

  float small[2];
  ember_tensor cb = {.data = small, .nbytes = sizeof small};
  assert_int_equal(ember_session_run(f->s, 2, xy, ok, 1, NULL, &cb),
                   EMBER_ERR_BUFFER_TOO_SMALL);
  assert_contains(ember_session_errmsg(f->s), "output 'z' needs 24 bytes");

  ember_tensor outs[2] = {{0}};
  assert_int_equal(ember_session_run(f->s, 2, xy, ok, 2, NULL, outs),
                   EMBER_ERR_INVALID_ARGUMENT);
  const char *noname = "w";
  assert_int_equal(ember_session_run(f->s, 2, xy, ok, 1, &noname, outs),
                   EMBER_ERR_NOT_FOUND);

  /* After all these failures the session still works. */
  assert_int_equal(ember_session_run(f->s, 2, xy, ok, 1, NULL, &out), EMBER_OK);
  assert_string_equal(ember_session_errmsg(f->s), "");
}

typedef struct prof_log {
  int calls;
  size_t index;
  char op[32];
  uint64_t start, end;
} prof_log;

static void prof_cb(void *user, size_t index, const char *op, const char *name,
                    uint64_t start, uint64_t end) {
  prof_log *l = user;
  (void)name;
  l->calls++;
  l->index = index;
  snprintf(l->op, sizeof l->op, "%s", op);
  l->start = start;
  l->end = end;
}

static void test_profiler(void **state) {
  fixture *f = *state;
  float x[3] = {1, 2, 3};
  int64_t dims[2] = {1, 3};
  ember_tensor in[2] = {{EMBER_FLOAT, 2, dims, x, sizeof x},
                        {EMBER_FLOAT, 2, dims, x, sizeof x}};
  ember_tensor out = {0};
  prof_log log = {0};
  assert_int_equal(ember_session_set_profiler(NULL, prof_cb, &log),
                   EMBER_ERR_INVALID_ARGUMENT);
  assert_int_equal(ember_session_set_profiler(f->s, prof_cb, &log), EMBER_OK);
  assert_int_equal(ember_session_run(f->s, 2, xy, in, 1, NULL, &out), EMBER_OK);
  assert_int_equal(log.calls, 1); /* one node: Add */
  assert_int_equal(log.index, 0);
  assert_string_equal(log.op, "Add");
  assert_true(log.start > 0 && log.end >= log.start);
  assert_int_equal(ember_session_set_profiler(f->s, NULL, NULL), EMBER_OK);
  assert_int_equal(ember_session_run(f->s, 2, xy, in, 1, NULL, &out), EMBER_OK);
  assert_int_equal(log.calls, 1); /* stopped */
}

typedef struct thread_arg {
  const ember_model *m;
  int seed;
  int failures;
} thread_arg;

static void *run_thread(void *p) {
  thread_arg *a = p;
  ember_session *s;
  if (ember_session_create(a->m, NULL, &s)) {
    a->failures++;
    ember_session_free(s);
    return NULL;
  }
  for (int it = 0; it < 200; it++) {
    float x[12], y[12];
    for (int i = 0; i < 12; i++) {
      x[i] = (float)(a->seed * 100 + it + i);
      y[i] = (float)i;
    }
    int64_t dims[2] = {4, 3};
    ember_tensor in[2] = {{EMBER_FLOAT, 2, dims, x, sizeof x},
                          {EMBER_FLOAT, 2, dims, y, sizeof y}};
    ember_tensor out = {0};
    if (ember_session_run(s, 2, xy, in, 1, NULL, &out)) {
      a->failures++;
      continue;
    }
    for (int i = 0; i < 12; i++)
      if (((float *)out.data)[i] != x[i] + y[i]) a->failures++;
  }
  ember_session_free(s);
  return NULL;
}

static void test_shared_model_threads(void **state) {
  fixture *f = *state;
  pthread_t th[4];
  thread_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (thread_arg){f->m, i + 1, 0};
    assert_int_equal(pthread_create(&th[i], NULL, run_thread, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failures, 0);
  }
}

static void test_load_memory(void **state) {
  (void)state;
  FILE *fp = fopen(MODEL("symbolic.onnx"), "rb");
  assert_non_null(fp);
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf, fp);
  fclose(fp);
  ember_model *m;
  assert_int_equal(ember_model_load_memory(buf, n, NULL, &m), EMBER_OK);
  assert_int_equal(ember_model_input_count(m), 2);
  ember_model_free(m);
  /* Every truncation is an error, never a crash. */
  for (size_t cut = 0; cut < n; cut += 7) {
    ember_status st = ember_model_load_memory(buf, cut, NULL, &m);
    assert_int_not_equal(st, EMBER_OK);
    assert_true(strlen(ember_model_errmsg(m)) > 0);
    ember_model_free(m);
  }
}

static void test_value_parse(void **state) {
  (void)state;
  Emberpb__Tensor tp = EMBERPB__TENSOR__INIT;
  int64_t dims[2] = {2, 2};
  int64_t data[4] = {1, -2, 3, 1LL << 40};
  tp.n_dims = 2;
  tp.dims = dims;
  tp.has_data_type = 1;
  tp.data_type = EMBER_INT64;
  tp.n_int64_data = 4;
  tp.int64_data = data;
  uint8_t buf[256];
  size_t n = emberpb__tensor__pack(&tp, buf);
  ember_value *v;
  char err[200];
  assert_int_equal(ember_value_parse(buf, n, EMBER_PB_TENSOR, &v, err, sizeof err),
                   EMBER_OK);
  assert_int_equal(v->kind, EMBER_KIND_TENSOR);
  assert_int_equal(v->tensor.dtype, EMBER_INT64);
  assert_int_equal(v->tensor.rank, 2);
  assert_int_equal(v->tensor.nbytes, 32);
  assert_memory_equal(v->tensor.data, data, 32);
  ember_value_free(v);
  /* Fewer values than the shape needs. */
  tp.n_int64_data = 3;
  n = emberpb__tensor__pack(&tp, buf);
  assert_int_equal(ember_value_parse(buf, n, EMBER_PB_TENSOR, &v, err, sizeof err),
                   EMBER_ERR_INVALID_MODEL);
  assert_null(v);
  assert_contains(err, "the file holds 3");
  assert_int_equal(ember_value_parse("\xff\xff\xff", 3, EMBER_PB_TENSOR, &v, err,
                                     sizeof err),
                   EMBER_ERR_PARSE);
  assert_int_equal(ember_value_parse(buf, n, 42, &v, err, sizeof err),
                   EMBER_ERR_INVALID_ARGUMENT);
  /* A sequence of two tensors. */
  Emberpb__Tensor t1 = EMBERPB__TENSOR__INIT, t2 = EMBERPB__TENSOR__INIT;
  float f1[2] = {1, 2}, f2[1] = {3};
  int64_t d1 = 2, d2 = 1;
  t1.n_dims = 1; t1.dims = &d1; t1.has_data_type = 1; t1.data_type = EMBER_FLOAT;
  t1.n_float_data = 2; t1.float_data = f1;
  t2.n_dims = 1; t2.dims = &d2; t2.has_data_type = 1; t2.data_type = EMBER_FLOAT;
  t2.n_float_data = 1; t2.float_data = f2;
  Emberpb__Tensor *items[2] = {&t1, &t2};
  Emberpb__Sequence sp = EMBERPB__SEQUENCE__INIT;
  sp.has_elem_type = 1;
  sp.elem_type = 1;
  sp.n_tensor_values = 2;
  sp.tensor_values = items;
  n = emberpb__sequence__pack(&sp, buf);
  assert_int_equal(ember_value_parse(buf, n, EMBER_PB_SEQUENCE, &v, err, sizeof err),
                   EMBER_OK);
  assert_int_equal(v->kind, EMBER_KIND_SEQUENCE);
  assert_int_equal(v->count, 2);
  assert_int_equal(v->items[1].dims[0], 1);
  assert_float_equal(((float *)v->items[1].data)[0], 3.0f, 0);
  ember_value_free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_status_strings),
      cmocka_unit_test(test_null_arguments),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_introspection),
      cmocka_unit_test_setup_teardown(test_run_dynamic_batch, setup_sym,
                                      teardown_sym),
      cmocka_unit_test_setup_teardown(test_run_errors, setup_sym, teardown_sym),
      cmocka_unit_test_setup_teardown(test_profiler, setup_sym, teardown_sym),
      cmocka_unit_test_setup_teardown(test_shared_model_threads, setup_sym,
                                      teardown_sym),
      cmocka_unit_test(test_load_memory),
      cmocka_unit_test(test_value_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
