/*
 * Unit tests for StringNormalizer (lib/ops/strings.c) through the one-node
 * harness.  Expected results for ASCII inputs come from a reference
 * written here (stop-word filter plus ASCII case mapping); the few UTF-8
 * expectations are the Unicode simple case mappings of the letters used.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "optest.h"

/* The result must be a string tensor of the given shape and elements. */
static void expect_strings(const emb_value *v, int rank, const int64_t *dims,
                           const char *const *want) {
  assert_int_equal(v->kind, EMB_VK_TENSOR);
  assert_int_equal(v->t.dtype, EMBER_STRING);
  if (v->t.rank != rank)
    fail_msg("rank %d, expected %d", (int)v->t.rank, rank);
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (v->t.dims[i] != dims[i])
      fail_msg("dim %d is %lld, expected %lld", i, (long long)v->t.dims[i],
               (long long)dims[i]);
    n *= (size_t)dims[i];
  }
  for (size_t i = 0; i < n; i++) {
    const char *g = ((char *const *)v->t.data)[i];
    if (strcmp(g, want[i]))
      fail_msg("element %zu is '%s', expected '%s'", i, g, want[i]);
  }
}

static int ascii_eq_nocase(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
  return *a == *b;
}

/* ASCII reference: drop stop words, then change case. */
static size_t reference(const char *const *x, size_t n, const char *action,
                        int case_sensitive, const char *const *stop,
                        size_t n_stop, char out[][32]) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int drop = 0;
    for (size_t j = 0; j < n_stop && !drop; j++)
      drop = case_sensitive ? strcmp(x[i], stop[j]) == 0
                            : ascii_eq_nocase(x[i], stop[j]);
    if (drop) continue;
    size_t l = strlen(x[i]);
    for (size_t c = 0; c <= l; c++) {
      int ch = (unsigned char)x[i][c];
      if (!strcmp(action, "LOWER")) ch = tolower(ch);
      if (!strcmp(action, "UPPER")) ch = toupper(ch);
      out[k][c] = (char)ch;
    }
    k++;
  }
  if (!k) out[k++][0] = 0; /* all dropped: one empty string */
  return k;
}

static void test_strnorm_matches_reference(void **state) {
  (void)state;
  const char *x[] = {"Monday", "tuesday", "MONDAY", "",
                     "Wed-3",  "monday",  "Friday", "wIdE"};
  const char *stop_sets[][2] = {{NULL, NULL}, {"monday", NULL},
                                {"Monday", "wed-3"}};
  const size_t n_stops[] = {0, 1, 2};
  const char *actions[] = {"NONE", "LOWER", "UPPER", NULL};
  for (int a = 0; a < 4; a++)
    for (int cs = 0; cs <= 1; cs++)
      for (int st = 0; st < 3; st++)
        for (int rank = 1; rank <= 2; rank++) {
          optest *t = optest_new("StringNormalizer", 10);
          if (actions[a]) optest_attr_string(t, "case_change_action", actions[a]);
          optest_attr_int(t, "is_case_sensitive", cs);
          if (n_stops[st])
            optest_attr_strings(t, "stopwords", n_stops[st], stop_sets[st]);
          int64_t dims[2] = {1, 8};
          optest_input(t, EMBER_STRING, rank, rank == 2 ? dims : dims + 1, x);
          ember_status s = optest_run(t);
          if (s) fail_msg("run failed: %s", optest_errmsg(t));
          char want[8][32];
          const char *wp[8];
          size_t k = reference(x, 8, actions[a] ? actions[a] : "NONE", cs,
                               stop_sets[st], n_stops[st], want);
          for (size_t i = 0; i < k; i++) wp[i] = want[i];
          int64_t wd[2] = {1, (int64_t)k};
          expect_strings(optest_output(t, 0), rank, rank == 2 ? wd : wd + 1,
                         wp);
          optest_free(t);
        }
}

static void test_strnorm_all_removed_and_empty_input(void **state) {
  (void)state;
  const char *x[] = {"a", "A"}, *stop[] = {"a"}, *empty[] = {""};
  for (int rank = 1; rank <= 2; rank++) {
    for (int c = 0; c <= 1; c++) { /* c: [C] with C = 2, or C = 0 */
      optest *t = optest_new("StringNormalizer", 10);
      optest_attr_strings(t, "stopwords", 1, stop);
      int64_t dims[2] = {1, c ? 0 : 2};
      optest_input(t, EMBER_STRING, rank, rank == 2 ? dims : dims + 1, x);
      if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
      int64_t one[2] = {1, 1};
      expect_strings(optest_output(t, 0), rank, one, empty);
      optest_free(t);
    }
  }
}

static void test_strnorm_constant_input_folds(void **state) {
  (void)state;
  const char *x[] = {"Keep", "drop", "Also"}, *stop[] = {"DROP"};
  const char *want[] = {"keep", "also"};
  int64_t d[] = {3}, wd[] = {2};
  optest *t = optest_new("StringNormalizer", 10);
  optest_attr_string(t, "case_change_action", "LOWER");
  optest_attr_strings(t, "stopwords", 1, stop);
  optest_input_const(t, EMBER_STRING, 1, d, x);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  expect_strings(optest_output(t, 0), 1, wd, want);
  optest_free(t);
}

static void test_strnorm_utf8_latin_greek_cyrillic(void **state) {
  (void)state;
  /* ÀÉÎÕÜ / àéîõü, ŁÓDŹ / łódź, ΣΊΣΥΦΟΣ / σίσυφοσ, ПРИВЕТ / привет;
   * ÿ upper is Ÿ (U+0178); ß has no one-letter upper case and stays. */
  const char *x[] = {"\xc3\x80\xc3\x89\xc3\x8e\xc3\x95\xc3\x9c",
                     "\xc5\x81\xc3\x93" "D\xc5\xb9",
                     "\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3",
                     "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2",
                     "\xc3\xbf" "es", "stra\xc3\x9f" "e"};
  const char *lower[] = {"\xc3\xa0\xc3\xa9\xc3\xae\xc3\xb5\xc3\xbc",
                         "\xc5\x82\xc3\xb3" "d\xc5\xba",
                         "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x83",
                         "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
                         "\xc3\xbf" "es", "stra\xc3\x9f" "e"};
  const char *upper[] = {x[0], x[1], x[2], x[3], "\xc5\xb8" "ES",
                         "STRA\xc3\x9f" "E"};
  int64_t d[] = {6};
  for (int up = 0; up <= 1; up++) {
    optest *t = optest_new("StringNormalizer", 10);
    optest_attr_string(t, "case_change_action", up ? "UPPER" : "LOWER");
    optest_input(t, EMBER_STRING, 1, d, up ? lower : x);
    if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
    expect_strings(optest_output(t, 0), 1, d, up ? upper : lower);
    optest_free(t);
  }
}

static void test_strnorm_case_insensitive_utf8_stopword(void **state) {
  (void)state;
  /* Stop word "ärger" matches "ÄRGER" and "Ärger". */
  const char *x[] = {"\xc3\x84RGER", "\xc3\x84rger", "other"};
  const char *stop[] = {"\xc3\xa4rger"}, *want[] = {"other"};
  int64_t d[] = {3}, wd[] = {1};
  optest *t = optest_new("StringNormalizer", 10);
  optest_attr_strings(t, "stopwords", 1, stop);
  optest_input(t, EMBER_STRING, 1, d, x);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  expect_strings(optest_output(t, 0), 1, wd, want);
  optest_free(t);
}

static void test_strnorm_turkish_locale(void **state) {
  (void)state;
  const char *x[] = {"istanbul", "I\xc4\x9f" "dIr"};
  const char *up[] = {"\xc4\xb0STANBUL", "I\xc4\x9e" "DIR"};
  const char *low[] = {"istanbul", "\xc4\xb1\xc4\x9f" "d\xc4\xb1r"};
  int64_t d[] = {2};
  for (int u = 0; u <= 1; u++) {
    optest *t = optest_new("StringNormalizer", 10);
    optest_attr_string(t, "case_change_action", u ? "UPPER" : "LOWER");
    optest_attr_string(t, "locale", "tr_TR.UTF-8");
    optest_input(t, EMBER_STRING, 1, d, x);
    if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
    expect_strings(optest_output(t, 0), 1, d, u ? up : low);
    optest_free(t);
  }
}

static void test_strnorm_invalid_utf8_passes_through(void **state) {
  (void)state;
  const char *x[] = {"a\xff" "b\xc3", "\xe2\x82"}, *want[] = {"A\xff" "B\xc3",
                                                             "\xe2\x82"};
  int64_t d[] = {2};
  optest *t = optest_new("StringNormalizer", 10);
  optest_attr_string(t, "case_change_action", "UPPER");
  optest_input(t, EMBER_STRING, 1, d, x);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  expect_strings(optest_output(t, 0), 1, d, want);
  optest_free(t);
}

static void test_strnorm_errors(void **state) {
  (void)state;
  const char *x[] = {"a", "b"};
  float f[] = {1, 2};
  int64_t d1[] = {2}, d21[] = {2, 1}, d3[] = {1, 1, 2};
  struct {
    const char *action;
    int32_t dtype;
    int rank;
    const int64_t *dims;
    const void *data;
    ember_status st;
    const char *part;
  } c[] = {
      {"lower", EMBER_STRING, 1, d1, x, EMBER_ERR_INVALID_MODEL,
       "case_change_action"},
      {NULL, EMBER_STRING, 2, d21, x, EMBER_ERR_SHAPE, "[1, C]"},
      {NULL, EMBER_STRING, 3, d3, x, EMBER_ERR_SHAPE, "[1, C]"},
      {NULL, EMBER_FLOAT, 1, d1, f, EMBER_ERR_TYPE, "string"},
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    optest *t = optest_new("StringNormalizer", 10);
    if (c[k].action) optest_attr_string(t, "case_change_action", c[k].action);
    optest_input(t, c[k].dtype, c[k].rank, c[k].dims, c[k].data);
    ember_status st = optest_run(t);
    if (st != c[k].st)
      fail_msg("case %zu: status %d, expected %d: %s", k, (int)st,
               (int)c[k].st, optest_errmsg(t));
    if (!strstr(optest_errmsg(t), "StringNormalizer") ||
        !strstr(optest_errmsg(t), c[k].part))
      fail_msg("case %zu: unexpected message: %s", k, optest_errmsg(t));
    optest_free(t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strnorm_matches_reference),
      cmocka_unit_test(test_strnorm_all_removed_and_empty_input),
      cmocka_unit_test(test_strnorm_constant_input_folds),
      cmocka_unit_test(test_strnorm_utf8_latin_greek_cyrillic),
      cmocka_unit_test(test_strnorm_case_insensitive_utf8_stopword),
      cmocka_unit_test(test_strnorm_turkish_locale),
      cmocka_unit_test(test_strnorm_invalid_utf8_passes_through),
      cmocka_unit_test(test_strnorm_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
