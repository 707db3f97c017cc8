/*
 * Unit tests of lib/util: diagnostics (first failure wins, prefixing,
 * truncation), the arena (alignment, large blocks, zeroing), checked
 * arithmetic at the overflow edges and the string map under growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void test_diag(void **state) {
  (void)state;
  emb_diag d;
  emb_diag_clear(&d);
  assert_int_equal(d.status, EMBER_OK);
  assert_string_equal(d.msg, "");
  emb_diag_prefix(&d, "ignored: "); /* no failure yet: no prefix */
  assert_string_equal(d.msg, "");
  assert_int_equal(emb_fail(&d, EMBER_ERR_SHAPE, "dim %d is %s", 2, "bad"),
                   EMBER_ERR_SHAPE);
  assert_string_equal(d.msg, "dim 2 is bad");
  /* The first failure wins. */
  assert_int_equal(emb_fail(&d, EMBER_ERR_IO, "later"), EMBER_ERR_IO);
  assert_int_equal(d.status, EMBER_ERR_SHAPE);
  assert_string_equal(d.msg, "dim 2 is bad");
  emb_diag_prefix(&d, "node '%s': ", "n1");
  assert_string_equal(d.msg, "node 'n1': dim 2 is bad");
  /* Prefixing a full message truncates, keeping a terminated string. */
  char big[2000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  emb_diag_clear(&d);
  emb_fail(&d, EMBER_ERR_PARSE, "%s", big);
  assert_int_equal(strlen(d.msg), sizeof d.msg - 1);
  emb_diag_prefix(&d, "p: ");
  assert_int_equal(strlen(d.msg), sizeof d.msg - 1);
  assert_memory_equal(d.msg, "p: xxx", 6);
  assert_null(NULL); /* emb_fail on a NULL diag just returns the status */
  assert_int_equal(emb_fail(NULL, EMBER_ERR_LIMIT, "x"), EMBER_ERR_LIMIT);
}

static void test_arena(void **state) {
  (void)state;
  emb_arena a = {0};
  char *prev = NULL;
  for (int i = 1; i < 2000; i++) {
    char *p = emb_arena_alloc(&a, (size_t)(i % 97) + 1);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
    for (int k = 0; k < i % 97 + 1; k++) assert_int_equal(p[k], 0);
    memset(p, 0xab, (size_t)(i % 97) + 1);
    assert_true(p != prev);
    prev = p;
  }
  /* A large block must not break the small-block chain. */
  char *big = emb_arena_alloc(&a, 1 << 20);
  assert_non_null(big);
  memset(big, 1, 1 << 20);
  char *after = emb_arena_alloc(&a, 16);
  assert_non_null(after);
  assert_int_equal(after[0], 0);
  assert_string_equal(emb_arena_strdup(&a, "hello"), "hello");
  assert_string_equal(emb_arena_strdup(&a, NULL), "");
  assert_string_equal(emb_arena_strndup(&a, "abcdef", 3), "abc");
  assert_null(emb_arena_array(&a, SIZE_MAX / 2, 4)); /* overflow refused */
  assert_true(a.total >= (1 << 20));
  emb_arena_free(&a);
  assert_null(a.head);
  emb_arena_free(&a); /* twice is fine */
}

static void test_checked_math(void **state) {
  (void)state;
  size_t s;
  assert_true(emb_mul_size(0, SIZE_MAX, &s) && s == 0);
  assert_true(emb_mul_size(SIZE_MAX, 1, &s) && s == SIZE_MAX);
  assert_false(emb_mul_size(SIZE_MAX / 2 + 1, 2, &s));
  assert_true(emb_add_size(SIZE_MAX - 1, 1, &s) && s == SIZE_MAX);
  assert_false(emb_add_size(SIZE_MAX, 1, &s));
  int64_t v;
  assert_true(emb_mul_i64(INT64_MAX, 1, &v) && v == INT64_MAX);
  assert_false(emb_mul_i64(INT64_MAX / 2 + 1, 2, &v));
  assert_false(emb_mul_i64(-1, 2, &v));
}

static void test_strmap(void **state) {
  (void)state;
  emb_strmap m = {0};
  static char keys[5000][12];
  for (int i = 0; i < 5000; i++) {
    snprintf(keys[i], sizeof keys[i], "k%d", i);
    assert_true(emb_strmap_put(&m, keys[i], i * 3));
  }
  for (int i = 0; i < 5000; i++) {
    int v = -1;
    assert_true(emb_strmap_get(&m, keys[i], &v));
    assert_int_equal(v, i * 3);
  }
  assert_false(emb_strmap_get(&m, "missing", NULL));
  assert_true(emb_strmap_put(&m, keys[7], 99)); /* overwrite */
  int v;
  assert_true(emb_strmap_get(&m, keys[7], &v));
  assert_int_equal(v, 99);
  assert_int_equal(m.count, 5000);
  emb_strmap_free(&m);
  emb_strmap empty = {0};
  assert_false(emb_strmap_get(&empty, "x", NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_diag),
      cmocka_unit_test(test_arena),
      cmocka_unit_test(test_checked_math),
      cmocka_unit_test(test_strmap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
