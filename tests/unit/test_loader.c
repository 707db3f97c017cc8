/*
 * Unit tests of the ONNX loader and load-time preparation (lib/onnx,
 * lib/ir/infer.c, lib/opt/fold.c): model-local function expansion,
 * external data (confined to the model's folder), shape inference with
 * symbolic dimensions, constant folding and dead-node removal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ember/ember.h"
#include "ir/infer.h"
#include "onnx/loader.h"

#define MODEL(name) EMBER_SOURCE_DIR "/tests/models/" name

static void test_function_expansion(void **state) {
  (void)state;
  ember_model *m;
  assert_int_equal(ember_model_load_file(MODEL("function.onnx"), NULL, &m),
                   EMBER_OK);
  /* Two calls of a two-node function: four nodes, none named alike. */
  assert_int_equal(ember_model_node_count(m), 4);
  ember_session *s;
  assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
  float x[6] = {-3, -2, -1, 0, 1, 2}, b[3] = {-1.0f, 0.5f, 2.0f};
  int64_t dims[2] = {2, 3};
  ember_tensor in = {EMBER_FLOAT, 2, dims, x, sizeof x}, out = {0};
  const char *name = "x";
  assert_int_equal(ember_session_run(s, 1, &name, &in, 1, NULL, &out), EMBER_OK);
  for (int i = 0; i < 6; i++) {
    float h = x[i] + b[i % 3];
    h = h >= 0 ? h : 0.1f * h; /* alpha of the first call */
    float y = h + b[i % 3];
    y = y >= 0 ? y : 0.5f * y; /* alpha of the second call */
    assert_float_equal(((float *)out.data)[i], y, 1e-6);
  }
  ember_session_free(s);
  ember_model_free(m);
}

static void test_external_data(void **state) {
  (void)state;
  ember_model *m;
  assert_int_equal(ember_model_load_file(MODEL("external.onnx"), NULL, &m),
                   EMBER_OK);
  assert_int_equal(ember_model_parameter_count(m), 12);
  ember_session *s;
  assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
  float x[6] = {1, 0, 0, 0, 1, 1};
  int64_t dims[2] = {2, 3};
  ember_tensor in = {EMBER_FLOAT, 2, dims, x, sizeof x}, out = {0};
  const char *name = "x";
  assert_int_equal(ember_session_run(s, 1, &name, &in, 1, NULL, &out), EMBER_OK);
  /* w = arange(12).reshape(3, 4) / 10 */
  for (int c = 0; c < 4; c++) {
    assert_float_equal(((float *)out.data)[c], c / 10.0f, 1e-6);
    assert_float_equal(((float *)out.data)[4 + c], (4 + c + 8 + c) / 10.0f, 1e-6);
  }
  ember_session_free(s);
  ember_model_free(m);

  /* From memory: refused without a base folder, fine with one. */
  FILE *f = fopen(MODEL("external.onnx"), "rb");
  assert_non_null(f);
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_int_equal(ember_model_load_memory(buf, n, NULL, &m),
                   EMBER_ERR_INVALID_MODEL);
  assert_non_null(strstr(ember_model_errmsg(m), "without a base folder"));
  ember_model_free(m);
  ember_model_options o;
  ember_model_options_init(&o);
  o.base_dir = EMBER_SOURCE_DIR "/tests/models";
  assert_int_equal(ember_model_load_memory(buf, n, &o, &m), EMBER_OK);
  ember_model_free(m);
  o.base_dir = "/tmp/no-such-dir-for-ember";
  assert_int_equal(ember_model_load_memory(buf, n, &o, &m), EMBER_ERR_IO);
  assert_non_null(strstr(ember_model_errmsg(m), "external.bin"));
  ember_model_free(m);
}

/* Find a value by name in the main graph. */
static const emb_val *val(const emb_ir *ir, const char *name) {
  int i = emb_graph_find(ir->main, name);
  if (i < 0) fail_msg("no value %s", name);
  return &ir->main->vals[i];
}

static void load_ir(const char *path, emb_ir **ir) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  emb_diag d;
  emb_diag_clear(&d);
  if (emb_onnx_load(buf, n, NULL, ir, &d) ||
      emb_graph_prepare(*ir, (*ir)->main, &d))
    fail_msg("load failed: %s", d.msg);
}

static void test_symbolic_inference(void **state) {
  (void)state;
  emb_ir *ir;
  load_ir(EMBER_SOURCE_DIR "/models/tiny_cnn.onnx", &ir);
  /* batch stays symbolic through every layer; spatial sizes are exact. */
  const emb_val *c1 = val(ir, "c1"), *p1 = val(ir, "p1"), *c2 = val(ir, "c2"),
                *f = val(ir, "f"), *probs = val(ir, "probs");
  int32_t batch = emb_ir_symbol(ir, "batch");
  assert_int_equal(c1->type.rank, 4);
  assert_true(c1->type.dims[0].v < 0);
  assert_int_equal(c1->type.dims[0].sym, batch);
  assert_int_equal(c1->type.dims[1].v, 8);
  assert_int_equal(c1->type.dims[2].v, 32);
  assert_int_equal(p1->type.dims[2].v, 16);
  assert_int_equal(c2->type.dims[1].v, 16);
  assert_int_equal(c2->type.dims[3].v, 8);
  assert_int_equal(f->type.rank, 2);
  assert_int_equal(f->type.dims[0].sym, batch);
  assert_int_equal(f->type.dims[1].v, 16);
  assert_int_equal(probs->type.dtype, EMBER_FLOAT);
  assert_int_equal(probs->type.dims[1].v, 10);
  emb_ir_free(ir);
}

static void test_tiny_cnn_runs(void **state) {
  (void)state;
  ember_model *m;
  assert_int_equal(
      ember_model_load_file(EMBER_SOURCE_DIR "/models/tiny_cnn.onnx", NULL, &m),
      EMBER_OK);
  ember_session *s;
  assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
  static float img[3 * 3 * 32 * 32];
  for (size_t i = 0; i < sizeof img / sizeof img[0]; i++)
    img[i] = (float)((i * 7919) % 255) / 255.0f;
  int64_t dims[4] = {3, 3, 32, 32};
  ember_tensor in = {EMBER_FLOAT, 4, dims, img, sizeof img}, out = {0};
  const char *name = "image";
  assert_int_equal(ember_session_run(s, 1, &name, &in, 1, NULL, &out), EMBER_OK);
  assert_int_equal(out.dims[0], 3);
  assert_int_equal(out.dims[1], 10);
  /* Softmax rows sum to one; images differ, so rows differ. */
  const float *p = out.data;
  for (int b = 0; b < 3; b++) {
    float sum = 0;
    for (int k = 0; k < 10; k++) {
      assert_true(p[b * 10 + k] > 0 && p[b * 10 + k] < 1);
      sum += p[b * 10 + k];
    }
    assert_float_equal(sum, 1.0f, 1e-5);
  }
  assert_true(memcmp(p, p + 10, 10 * sizeof(float)) != 0);
  ember_session_free(s);
  ember_model_free(m);
}

static void test_light_models_fold(void **state) {
  (void)state;
  /* light/ models build every weight with ConstantOfShape: after folding
   * no ConstantOfShape node may remain. */
  const char *dir = getenv("EMBER_ONNX_TESTS");
  char path[1024];
  snprintf(path, sizeof path, "%s/light/light_squeezenet.onnx",
           dir ? dir : EMBER_SOURCE_DIR "/../shared/onnx-tests");
  FILE *f = fopen(path, "rb");
  if (!f) {
    print_message("skipped: %s not found\n", path);
    skip();
  }
  fclose(f);
  ember_model *m;
  assert_int_equal(ember_model_load_file(path, NULL, &m), EMBER_OK);
  size_t n = ember_model_node_count(m);
  assert_true(n > 10);
  for (size_t i = 0; i < n; i++)
    assert_string_not_equal(ember_model_node_op(m, i), "ConstantOfShape");
  ember_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_function_expansion),
      cmocka_unit_test(test_external_data),
      cmocka_unit_test(test_symbolic_inference),
      cmocka_unit_test(test_tiny_cnn_runs),
      cmocka_unit_test(test_light_models_fold),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
