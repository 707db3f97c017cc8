/*
 * Unit tests of lib/ir: dtype sizes (packed sub-byte types), tensor
 * allocation, copies and views (strings deep-copied), element access,
 * float16/bfloat16 rounding against a direct definition, sequences, graph
 * values and symbols, and the type printer.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir/ir.h"

static void test_dtypes(void **state) {
  (void)state;
  assert_int_equal(emb_dtype_bits(EMBER_FLOAT), 32);
  assert_int_equal(emb_dtype_bits(EMBER_INT4), 4);
  assert_int_equal(emb_dtype_bits(EMBER_INT2), 2);
  assert_int_equal(emb_dtype_bits(EMBER_COMPLEX128), 128);
  assert_int_equal(emb_dtype_bits(0), 0);
  assert_int_equal(emb_dtype_bits(27), 0);
  assert_int_equal(ember_dtype_bytes(EMBER_UINT4, 0), 0);
  assert_int_equal(ember_dtype_bytes(EMBER_UINT4, 1), 1);
  assert_int_equal(ember_dtype_bytes(EMBER_UINT4, 17), 9);
  assert_int_equal(ember_dtype_bytes(EMBER_UINT2, 5), 2);
  assert_int_equal(ember_dtype_bytes(EMBER_STRING, 2), 2 * sizeof(char *));
  assert_true(emb_dtype_is_float(EMBER_BFLOAT16));
  assert_false(emb_dtype_is_float(EMBER_INT8));
  assert_true(emb_dtype_is_int(EMBER_UINT64));
  assert_false(emb_dtype_is_int(EMBER_BOOL));
  assert_true(emb_dtype_is_signed(EMBER_INT16));
  assert_false(emb_dtype_is_signed(EMBER_UINT16));
  assert_string_equal(ember_dtype_name(EMBER_FLOAT8E5M2), "float8e5m2");
  assert_string_equal(ember_dtype_name(-1), "unknown");
}

static void test_tensor_alloc_copy(void **state) {
  (void)state;
  emb_diag d;
  emb_diag_clear(&d);
  emb_tensor t, c;
  int64_t dims[3] = {2, 0, 3};
  assert_int_equal(emb_tensor_alloc(&t, EMBER_FLOAT, 3, dims, &d), EMBER_OK);
  assert_int_equal(emb_tensor_numel(&t), 0);
  assert_int_equal(t.nbytes, 0);
  emb_tensor_clear(&t);
  int64_t sd[1] = {3};
  assert_int_equal(emb_tensor_alloc(&t, EMBER_STRING, 1, sd, &d), EMBER_OK);
  char **s = t.data;
  assert_string_equal(s[2], "");
  free(s[1]);
  s[1] = strdup("ember");
  assert_int_equal(emb_tensor_copy(&c, &t, &d), EMBER_OK);
  assert_true(((char **)c.data)[1] != s[1]); /* deep */
  assert_string_equal(((char **)c.data)[1], "ember");
  emb_tensor_clear(&t);
  emb_tensor_clear(&c);
  /* Limits: rank, bad dtype, negative and overflowing dims. */
  int64_t big[2] = {INT64_MAX / 2, 4}, neg[1] = {-1};
  assert_int_equal(emb_tensor_alloc(&t, EMBER_FLOAT, EMB_MAX_RANK + 1, big, &d),
                   EMBER_ERR_LIMIT);
  emb_diag_clear(&d);
  assert_int_equal(emb_tensor_alloc(&t, 99, 1, sd, &d), EMBER_ERR_UNSUPPORTED);
  emb_diag_clear(&d);
  assert_int_equal(emb_tensor_alloc(&t, EMBER_FLOAT, 2, big, &d), EMBER_ERR_LIMIT);
  emb_diag_clear(&d);
  assert_int_equal(emb_tensor_alloc(&t, EMBER_FLOAT, 1, neg, &d), EMBER_ERR_LIMIT);
  /* A view does not own. */
  emb_diag_clear(&d);
  assert_int_equal(emb_tensor_alloc(&t, EMBER_INT32, 1, sd, &d), EMBER_OK);
  emb_tensor v;
  emb_tensor_view(&v, &t);
  assert_false(v.owned);
  emb_tensor_clear(&v);
  assert_non_null(t.data);
  emb_tensor_clear(&t);
}

static void test_element_access(void **state) {
  (void)state;
  emb_diag d;
  emb_diag_clear(&d);
  const int32_t types[] = {EMBER_FLOAT,  EMBER_DOUBLE, EMBER_INT8,
                           EMBER_UINT8,  EMBER_INT16,  EMBER_UINT16,
                           EMBER_INT32,  EMBER_UINT32, EMBER_INT64,
                           EMBER_UINT64, EMBER_FLOAT16, EMBER_BFLOAT16};
  int64_t dims[1] = {4};
  for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
    emb_tensor t;
    assert_int_equal(emb_tensor_alloc(&t, types[k], 1, dims, &d), EMBER_OK);
    for (int i = 0; i < 4; i++) emb_tensor_set_i64(&t, (size_t)i, i * 5 + 1);
    for (int i = 0; i < 4; i++) {
      assert_int_equal(emb_tensor_get_i64(&t, (size_t)i), i * 5 + 1);
      assert_float_equal(emb_tensor_get_f64(&t, (size_t)i), i * 5 + 1, 0);
    }
    emb_tensor_clear(&t);
  }
  emb_tensor b;
  assert_int_equal(emb_tensor_alloc(&b, EMBER_BOOL, 1, dims, &d), EMBER_OK);
  emb_tensor_set_f64(&b, 0, 0.5);
  assert_int_equal(emb_tensor_get_i64(&b, 0), 1);
  emb_tensor_clear(&b);
}

/* float16 reference: value of the bit pattern by its definition. */
static double f16_value(uint16_t h) {
  int e = (h >> 10) & 31, m = h & 1023, s = h >> 15;
  double v;
  if (e == 0) v = ldexp(m, -24);
  else if (e == 31) v = m ? NAN : INFINITY;
  else v = ldexp(1024 + m, e - 25);
  return s ? -v : v;
}

static void test_half_conversions(void **state) {
  (void)state;
  /* Every float16 value converts to float exactly, and back. */
  for (uint32_t h = 0; h < 65536; h++) {
    double want = f16_value((uint16_t)h);
    float got = emb_f16_to_f32((uint16_t)h);
    if (isnan(want)) {
      assert_true(isnan(got));
      continue;
    }
    assert_true((double)got == want);
    assert_int_equal(emb_f32_to_f16(got), h);
  }
  /* Rounding: halfway between 1 and 1+2^-10 rounds to even (1). */
  assert_int_equal(emb_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00);
  assert_int_equal(emb_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
  assert_int_equal(emb_f32_to_f16(70000.0f), 0x7c00); /* overflow: inf */
  assert_int_equal(emb_f32_to_f16(ldexpf(1, -26)), 0);  /* underflow */
  assert_int_equal(emb_f32_to_f16(ldexpf(1, -24)), 1);  /* min subnormal */
  /* bfloat16 keeps the top half, rounding to nearest even. */
  assert_int_equal(emb_f32_to_bf16(1.0f), 0x3f80);
  assert_float_equal(emb_bf16_to_f32(0x3f80), 1.0f, 0);
  assert_int_equal(emb_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80);
  assert_int_equal(emb_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3f82);
  assert_true(isnan(emb_bf16_to_f32(emb_f32_to_bf16(NAN))));
}

static void test_sequences(void **state) {
  (void)state;
  emb_diag d;
  emb_diag_clear(&d);
  emb_value v;
  memset(&v, 0, sizeof v);
  int64_t dims[1] = {2};
  float data[2] = {1, 2};
  emb_tensor t = {.dtype = EMBER_FLOAT, .rank = 1, .dims = {2}, .data = data,
                  .nbytes = sizeof data};
  (void)dims;
  for (int i = 0; i < 10; i++) {
    data[0] = (float)i;
    assert_int_equal(emb_seq_insert(&v, 0, &t, &d), EMBER_OK);
  }
  assert_int_equal(v.kind, EMB_VK_SEQUENCE);
  assert_int_equal(v.seq.count, 10);
  assert_float_equal(((float *)v.seq.items[0].data)[0], 9.0f, 0);
  assert_float_equal(((float *)v.seq.items[9].data)[0], 0.0f, 0);
  emb_value c;
  assert_int_equal(emb_value_copy(&c, &v, &d), EMBER_OK);
  assert_int_equal(c.seq.count, 10);
  assert_true(c.seq.items[0].data != v.seq.items[0].data);
  emb_value_clear(&v);
  emb_value_clear(&c);
  assert_int_equal(v.kind, EMB_VK_EMPTY);
}

static void test_graph_and_types(void **state) {
  (void)state;
  emb_diag d;
  emb_diag_clear(&d);
  emb_ir *ir = emb_ir_new();
  emb_graph *g = emb_graph_new(ir, NULL, "main");
  for (int i = 0; i < 100; i++) {
    char name[16];
    snprintf(name, sizeof name, "v%d", i);
    assert_int_equal(emb_graph_add_val(g, name, &d), i);
  }
  assert_int_equal(emb_graph_add_val(g, "v5", &d), -1);
  assert_int_equal(d.status, EMBER_ERR_INVALID_MODEL);
  assert_non_null(strstr(d.msg, "'v5'"));
  assert_int_equal(emb_graph_find(g, "v42"), 42);
  assert_int_equal(emb_graph_find(g, "zz"), -1);
  assert_string_equal(g->vals[42].name, "v42");
  int32_t n = emb_ir_symbol(ir, "N");
  assert_int_equal(emb_ir_symbol(ir, "N"), n);
  assert_int_not_equal(emb_ir_symbol(ir, "T"), n);
  emb_type t;
  int64_t dims[3] = {-1, 3, 224};
  emb_type_tensor(&t, EMBER_FLOAT, 3, dims);
  t.dims[0].sym = n;
  char buf[64];
  assert_string_equal(emb_type_str(&t, ir->symbols, buf, sizeof buf),
                      "float32[N,3,224]");
  assert_false(emb_type_static(&t));
  t.dims[0].v = 1;
  assert_true(emb_type_static(&t));
  emb_type_unknown(&t);
  assert_string_equal(emb_type_str(&t, NULL, buf, sizeof buf), "unknown[?]");
  ir->n_opsets = 1;
  emb_opset os = {"ai.onnx", 17};
  ir->opsets = &os;
  assert_int_equal(emb_ir_opset(ir, ""), 17);
  assert_int_equal(emb_ir_opset(ir, "ai.onnx"), 17);
  assert_int_equal(emb_ir_opset(ir, "com.x"), -1);
  ir->opsets = NULL;
  ir->n_opsets = 0;
  emb_ir_free(ir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dtypes),
      cmocka_unit_test(test_tensor_alloc_copy),
      cmocka_unit_test(test_element_access),
      cmocka_unit_test(test_half_conversions),
      cmocka_unit_test(test_sequences),
      cmocka_unit_test(test_graph_and_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
