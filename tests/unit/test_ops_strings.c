/*
 * Unit tests for the string operators (lib/ops/strings.c) through the
 * one-node harness: StringNormalizer, StringConcat, StringSplit,
 * RegexFullMatch and TfIdfVectorizer.  Expected results come from
 * references written here (stop-word filter plus ASCII case mapping,
 * broadcasting by index arithmetic, a Python-style split over ASCII, an
 * n-gram count that scans the pool n-gram by n-gram); the few UTF-8
 * expectations are the Unicode simple case mappings and white space
 * classes of the characters used, and the regular-expression cases state
 * what RE2 full-match semantics give.
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


/* ---------------------------------------------------------- StringConcat */

/* Numpy broadcasting of [ra] x [rb] into the result; reference by index
 * arithmetic. */
static void run_concat_case(int ra, const int64_t *da, const char *const *a,
                            int rb, const int64_t *db, const char *const *b,
                            int constant) {
  int r = ra > rb ? ra : rb;
  int64_t dz[8];
  size_t nz = 1;
  for (int k = 0; k < r; k++) {
    int64_t x = k - (r - ra) >= 0 ? da[k - (r - ra)] : 1;
    int64_t y = k - (r - rb) >= 0 ? db[k - (r - rb)] : 1;
    dz[k] = x == 1 ? y : x;
    nz *= (size_t)dz[k];
  }
  char want[64][64];
  const char *wp[64];
  for (size_t i = 0; i < nz; i++) {
    size_t rem = i, ia = 0, ib = 0, sa = 1, sb = 1;
    for (int k = r - 1; k >= 0; k--) {
      size_t c = rem % (size_t)dz[k];
      rem /= (size_t)dz[k];
      int ka = k - (r - ra), kb = k - (r - rb);
      if (ka >= 0) {
        if (da[ka] != 1) ia += c * sa;
        sa *= (size_t)da[ka];
      }
      if (kb >= 0) {
        if (db[kb] != 1) ib += c * sb;
        sb *= (size_t)db[kb];
      }
    }
    snprintf(want[i], sizeof want[i], "%s%s", a[ia], b[ib]);
    wp[i] = want[i];
  }
  optest *t = optest_new("StringConcat", 20);
  if (constant) {
    optest_input_const(t, EMBER_STRING, ra, da, a);
    optest_input_const(t, EMBER_STRING, rb, db, b);
  } else {
    optest_input(t, EMBER_STRING, ra, da, a);
    optest_input(t, EMBER_STRING, rb, db, b);
  }
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  expect_strings(optest_output(t, 0), r, dz, wp);
  optest_free(t);
}

static void test_concat_broadcasting_shapes(void **state) {
  (void)state;
  const char *a6[] = {"a", "", "c\xc3\xa9", "dd", "e", "f"};
  const char *b3[] = {"X", "\xe2\x82\xac", ""};
  const char *one[] = {"!"};
  int64_t d23[] = {2, 3}, d3[] = {3}, d1[] = {1}, d21[] = {2, 1},
          d13[] = {1, 3}, d32[] = {3, 2};
  for (int k = 0; k <= 1; k++) {
    run_concat_case(2, d23, a6, 1, d3, b3, k);  /* [2,3] + [3] */
    run_concat_case(1, d3, b3, 2, d23, a6, k);  /* [3] + [2,3] */
    run_concat_case(2, d21, a6, 2, d13, b3, k); /* [2,1] + [1,3] */
    run_concat_case(0, NULL, one, 2, d32, a6, k); /* scalar + [3,2] */
    run_concat_case(0, NULL, one, 0, NULL, b3, k); /* scalar + scalar */
    run_concat_case(1, d1, one, 1, d3, b3, k);
  }
}

static void test_concat_empty(void **state) {
  (void)state;
  const char *b3[] = {"x", "y", "z"}, *none[] = {""};
  int64_t d03[] = {0, 3}, d3[] = {3};
  optest *t = optest_new("StringConcat", 20);
  optest_input(t, EMBER_STRING, 2, d03, none);
  optest_input(t, EMBER_STRING, 1, d3, b3);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  expect_strings(optest_output(t, 0), 2, d03, none);
  optest_free(t);
}

static void test_concat_errors(void **state) {
  (void)state;
  const char *s2[] = {"a", "b"}, *s3[] = {"a", "b", "c"};
  float f2[] = {1, 2};
  int64_t d2[] = {2}, d3[] = {3};
  optest *t = optest_new("StringConcat", 20);
  optest_input(t, EMBER_STRING, 1, d2, s2);
  optest_input(t, EMBER_STRING, 1, d3, s3);
  assert_int_equal(optest_run(t), EMBER_ERR_SHAPE);
  assert_non_null(strstr(optest_errmsg(t), "StringConcat"));
  optest_free(t);
  t = optest_new("StringConcat", 20);
  optest_input(t, EMBER_STRING, 1, d2, s2);
  optest_input(t, EMBER_FLOAT, 1, d2, f2);
  assert_int_equal(optest_run(t), EMBER_ERR_TYPE);
  assert_non_null(strstr(optest_errmsg(t), "string"));
  assert_non_null(strstr(optest_errmsg(t), "StringConcat"));
  optest_free(t);
}

/* ----------------------------------------------------------- StringSplit */

/* Python's str.split over ASCII: delim NULL splits on white space runs. */
static size_t ref_split(const char *s, const char *delim, int64_t maxsplit,
                        char out[][32]) {
  size_t k = 0;
  int64_t splits = 0;
  if (delim) {
    size_t dl = strlen(delim);
    for (;;) {
      const char *p = maxsplit >= 0 && splits >= maxsplit ? NULL
                                                          : strstr(s, delim);
      size_t len = p ? (size_t)(p - s) : strlen(s);
      memcpy(out[k], s, len);
      out[k++][len] = 0;
      if (!p) return k;
      splits++;
      s = p + dl;
    }
  }
  for (;;) {
    while (*s && isspace((unsigned char)*s)) s++;
    if (!*s) return k;
    size_t len = 0;
    if (maxsplit >= 0 && splits >= maxsplit)
      len = strlen(s);
    else
      while (s[len] && !isspace((unsigned char)s[len])) len++;
    memcpy(out[k], s, len);
    out[k++][len] = 0;
    splits++;
    s += len;
  }
}

static void test_split_matches_reference(void **state) {
  (void)state;
  const char *x[] = {"a-b--c-", "", "  lead and  trail  ", "-",
                     "no_delims", "ab-ab-abab", "x y\tz\n", "a--"};
  const char *delims[] = {NULL, "", "-", "ab", "--"};
  const int64_t maxsplits[] = {-2, 0, 1, 2, 10};
  for (int di = 0; di < 5; di++)
    for (int mi = 0; mi < 5; mi++)
      for (int rank = 1; rank <= 2; rank++) {
        optest *t = optest_new("StringSplit", 20);
        if (delims[di]) optest_attr_string(t, "delimiter", delims[di]);
        if (maxsplits[mi] != -2) optest_attr_int(t, "maxsplit", maxsplits[mi]);
        optest_outputs(t, 2);
        int64_t dx[2] = {2, 4}, d8[1] = {8};
        optest_input(t, EMBER_STRING, rank, rank == 2 ? dx : d8, x);
        if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
        /* Reference: "" delimiter is white space; maxsplit -2 = unset. */
        const char *dl = delims[di] && delims[di][0] ? delims[di] : NULL;
        char parts[8][16][32];
        size_t cnt[8], w = 0;
        for (int i = 0; i < 8; i++) {
          cnt[i] = ref_split(x[i], dl, maxsplits[mi] == -2 ? -1 : maxsplits[mi],
                             parts[i]);
          if (cnt[i] > w) w = cnt[i];
        }
        const char *want[8 * 16];
        int64_t counts[8];
        for (int i = 0; i < 8; i++) {
          counts[i] = (int64_t)cnt[i];
          for (size_t j = 0; j < w; j++)
            want[(size_t)i * w + j] = j < cnt[i] ? parts[i][j] : "";
        }
        int64_t dy[3] = {rank == 2 ? 2 : 8, rank == 2 ? 4 : (int64_t)w,
                         (int64_t)w};
        expect_strings(optest_output(t, 0), rank + 1, dy, want);
        optest_expect_i64(optest_output(t, 1), rank, rank == 2 ? dx : d8,
                          counts);
        optest_free(t);
      }
}

static void test_split_unicode_space_and_utf8(void **state) {
  (void)state;
  /* U+3000 (ideographic space) and U+00A0 split like ASCII space in
   * Python; U+00E9 is a letter. */
  const char *x[] = {"caf\xc3\xa9\xe3\x80\x80na\xc3\xafve\xc2\xa0" "x"};
  const char *want[] = {"caf\xc3\xa9", "na\xc3\xafve", "x"};
  int64_t d1[] = {1}, dy[] = {1, 3}, cnt[] = {3};
  optest *t = optest_new("StringSplit", 20);
  optest_outputs(t, 2);
  optest_input(t, EMBER_STRING, 1, d1, x);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  expect_strings(optest_output(t, 0), 2, dy, want);
  optest_expect_i64(optest_output(t, 1), 1, d1, cnt);
  optest_free(t);
}

static void test_split_empty_and_constant(void **state) {
  (void)state;
  const char *none[] = {""}, *x[] = {"a.b", "c"};
  const char *want[] = {"a", "b", "c", ""};
  int64_t d0[] = {0}, d00[] = {0, 0}, d2[] = {2}, d22[] = {2, 2};
  int64_t cnt[] = {2, 1};
  optest *t = optest_new("StringSplit", 20);
  optest_outputs(t, 2);
  optest_input(t, EMBER_STRING, 1, d0, none);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  expect_strings(optest_output(t, 0), 2, d00, none);
  optest_expect_i64(optest_output(t, 1), 1, d0, cnt);
  optest_free(t);
  /* A constant input folds at load; only the first output is asked. */
  t = optest_new("StringSplit", 20);
  optest_attr_string(t, "delimiter", ".");
  optest_input_const(t, EMBER_STRING, 1, d2, x);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  expect_strings(optest_output(t, 0), 2, d22, want);
  optest_free(t);
}

static void test_split_errors(void **state) {
  (void)state;
  int64_t i2[] = {1, 2}, d2[] = {2};
  optest *t = optest_new("StringSplit", 20);
  optest_outputs(t, 2);
  optest_input(t, EMBER_INT64, 1, d2, i2);
  assert_int_equal(optest_run(t), EMBER_ERR_TYPE);
  assert_non_null(strstr(optest_errmsg(t), "StringSplit"));
  optest_free(t);
  const char *x[] = {"a", "b"};
  t = optest_new("StringSplit", 20);
  optest_attr_int(t, "delimiter", 3);
  optest_input(t, EMBER_STRING, 1, d2, x);
  assert_int_equal(optest_run(t), EMBER_ERR_INVALID_MODEL);
  assert_non_null(strstr(optest_errmsg(t), "delimiter"));
  optest_free(t);
}

/* -------------------------------------------------------- RegexFullMatch */

static void test_regex_full_match_semantics(void **state) {
  (void)state;
  struct {
    const char *pattern, *subject;
    int match;
  } c[] = {
      {"abc", "abc", 1},
      {"abc", "abcd", 0},      /* full match, not a prefix */
      {"abc", "xabc", 0},      /* nor a suffix */
      {"a|ab", "ab", 1},       /* the end anchor backtracks into 'ab' */
      {"(a+)+b", "aaab", 1},
      {"abc$", "abc\n", 0},    /* $ is the very end, as in RE2 */
      {"\\w+", "h\xc3\xa9llo", 0}, /* \w is ASCII, as in RE2 */
      {"h.llo", "h\xc3\xa9llo", 1}, /* . is one UTF-8 character */
      {"h\\pLllo", "h\xc3\xa9llo", 1},
      {"[0-9]{2,3}", "1234", 0},
      {"[0-9]{2,3}", "123", 1},
      {"", "", 1},
      {".*", "any\xff" "bytes", 0}, /* invalid UTF-8 never matches */
      {"(?i)hello", "HeLLo", 1},
      {"www\\.[\\w.-]+\\.\\bcom\\b", "www.bbc.co.uk", 0},
      {"a\\vb", "a\vb", 1},     /* \v is the vertical tab in RE2 ... */
      {"a\\vb", "a\nb", 0},     /* ... not any vertical space */
      {"[\\v]", "\v", 1},
      {"\\Q\\v\\E", "\\v", 1}, /* literal inside \Q...\E */
      {"\\Q\\\\E\\v", "\\\v", 1},  /* \Q\ then \E, then \v */
      {"\\Q\\\\E\\v", "\\\n", 0},
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    const char *x[] = {c[k].subject, "#"}; /* only .* matches "#" */
    int64_t d2[] = {2};
    optest *t = optest_new("RegexFullMatch", 20);
    optest_attr_string(t, "pattern", c[k].pattern);
    optest_input(t, EMBER_STRING, 1, d2, x);
    ember_status st = optest_run(t);
#ifdef EMBER_HAVE_PCRE2
    if (st) fail_msg("case %zu: run failed: %s", k, optest_errmsg(t));
    const emb_value *v = optest_output(t, 0);
    assert_int_equal(v->t.dtype, EMBER_BOOL);
    assert_int_equal(v->t.rank, 1);
    const uint8_t *y = v->t.data;
    if (y[0] != c[k].match)
      fail_msg("case %zu: /%s/ on '%s' gave %d", k, c[k].pattern,
               c[k].subject, y[0]);
    assert_int_equal(y[1], strcmp(c[k].pattern, ".*") == 0);
#else
    assert_int_equal(st, EMBER_ERR_UNSUPPORTED);
    assert_non_null(strstr(optest_errmsg(t), "RegexFullMatch"));
#endif
    optest_free(t);
  }
}

static void test_regex_shapes(void **state) {
  (void)state;
#ifdef EMBER_HAVE_PCRE2
  const char *x[] = {"a1", "b", "c22", "", "d3", "e"};
  const uint8_t want[] = {1, 0, 1, 0, 1, 0};
  int64_t d23[] = {2, 3}, d0[] = {2, 0};
  for (int k = 0; k <= 1; k++) {
    optest *t = optest_new("RegexFullMatch", 20);
    optest_attr_string(t, "pattern", "[a-z][0-9]+");
    if (k)
      optest_input_const(t, EMBER_STRING, 2, d23, x);
    else
      optest_input(t, EMBER_STRING, 2, d23, x);
    if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
    const emb_value *v = optest_output(t, 0);
    assert_int_equal(v->t.rank, 2);
    assert_int_equal(v->t.dims[0], 2);
    assert_int_equal(v->t.dims[1], 3);
    assert_memory_equal(v->t.data, want, 6);
    optest_free(t);
  }
  optest *t = optest_new("RegexFullMatch", 20);
  optest_attr_string(t, "pattern", "x");
  optest_input(t, EMBER_STRING, 2, d0, x);
  if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
  assert_int_equal(optest_output(t, 0)->t.dims[1], 0);
  optest_free(t);
#else
  skip();
#endif
}

/* Catastrophic backtracking stops at PCRE2's match limit with an error
 * naming the node, instead of running for ages. */
static void test_regex_backtracking_limit(void **state) {
  (void)state;
#ifdef EMBER_HAVE_PCRE2
  const char *x[] = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  int64_t d1[] = {1};
  optest *t = optest_new("RegexFullMatch", 20);
  optest_attr_string(t, "pattern", "(a|a)*[bc]");
  optest_input(t, EMBER_STRING, 1, d1, x);
  assert_int_equal(optest_run(t), EMBER_ERR_RUNTIME);
  assert_non_null(strstr(optest_errmsg(t), "RegexFullMatch"));
  assert_non_null(strstr(optest_errmsg(t), "limit"));
  optest_free(t);
#else
  skip();
#endif
}

static void test_regex_errors(void **state) {
  (void)state;
  const char *x[] = {"a"};
  int64_t d1[] = {1};
  float f[] = {1};
  optest *t = optest_new("RegexFullMatch", 20);
  optest_input(t, EMBER_STRING, 1, d1, x);
  assert_int_equal(optest_run(t), EMBER_ERR_INVALID_MODEL);
  assert_non_null(strstr(optest_errmsg(t), "pattern"));
  optest_free(t);
#ifdef EMBER_HAVE_PCRE2
  t = optest_new("RegexFullMatch", 20);
  optest_attr_string(t, "pattern", "(ab");
  optest_input(t, EMBER_STRING, 1, d1, x);
  assert_int_equal(optest_run(t), EMBER_ERR_INVALID_MODEL);
  assert_non_null(strstr(optest_errmsg(t), "RegexFullMatch"));
  assert_non_null(strstr(optest_errmsg(t), "not a valid regular expression"));
  optest_free(t);
  t = optest_new("RegexFullMatch", 20);
  optest_attr_string(t, "pattern", "a");
  optest_input(t, EMBER_FLOAT, 1, d1, f);
  assert_int_equal(optest_run(t), EMBER_ERR_TYPE);
  optest_free(t);
#else
  (void)f;
#endif
}

/* ------------------------------------------------------- TfIdfVectorizer */

typedef struct tfidf_case {
  const char *mode;
  int64_t min_n, max_n, skip;
  size_t n_counts;
  const int64_t *counts;
  size_t n_pool;
  const int64_t *pool;      /* integer tokens (strings: indexes into words) */
  size_t n_grams;
  const int64_t *indexes;
  const float *weights;     /* NULL: none */
} tfidf_case;

/* Reference: for every pool n-gram, count its occurrences with every skip
 * by direct comparison, then weight per the mode. */
static void ref_tfidf(const tfidf_case *c, const int64_t *x, size_t rows,
                      size_t cols, size_t out_len, float *y) {
  memset(y, 0, rows * out_len * sizeof *y);
  for (size_t r = 0; r < rows; r++) {
    const int64_t *row = x + r * cols;
    size_t g = 0;
    for (size_t l = 0; l < c->n_counts; l++) {
      size_t n = l + 1;
      size_t b = (size_t)c->counts[l],
             e = l + 1 < c->n_counts ? (size_t)c->counts[l + 1] : c->n_pool;
      for (size_t p = b; p < e; p += n, g++) {
        if ((int64_t)n < c->min_n || (int64_t)n > c->max_n) continue;
        float cnt = 0;
        int64_t top = n == 1 ? 0 : c->skip;
        for (size_t i = 0; i < cols; i++)
          for (int64_t s = 0; s <= top; s++) {
            size_t k = 0;
            while (k < n && i + k * (size_t)(s + 1) < cols &&
                   row[i + k * (size_t)(s + 1)] == c->pool[p + k])
              k++;
            if (k == n) cnt++;
          }
        float w = c->weights ? c->weights[g] : 1.0f;
        float v = !strcmp(c->mode, "TF")    ? cnt
                  : !strcmp(c->mode, "IDF") ? (cnt > 0 ? w : 0)
                                            : cnt * w;
        y[r * out_len + (size_t)c->indexes[g]] += v;
      }
    }
  }
}

static optest *tfidf_node(const tfidf_case *c, const char *const *words) {
  optest *t = optest_new("TfIdfVectorizer", 9);
  optest_attr_string(t, "mode", c->mode);
  optest_attr_int(t, "min_gram_length", c->min_n);
  optest_attr_int(t, "max_gram_length", c->max_n);
  optest_attr_int(t, "max_skip_count", c->skip);
  optest_attr_ints(t, "ngram_counts", c->n_counts, c->counts);
  optest_attr_ints(t, "ngram_indexes", c->n_grams, c->indexes);
  if (c->weights) optest_attr_floats(t, "weights", c->n_grams, c->weights);
  if (words) {
    const char *ps[32];
    for (size_t i = 0; i < c->n_pool; i++) ps[i] = words[c->pool[i]];
    optest_attr_strings(t, "pool_strings", c->n_pool, ps);
  } else {
    optest_attr_ints(t, "pool_int64s", c->n_pool, c->pool);
  }
  return t;
}

static void test_tfidf_matches_reference(void **state) {
  (void)state;
  /* Unigrams {2,3,5,4}, bigrams {5,6},{7,8},{6,7}, trigram {7,8,6}; output
   * coordinates permuted, one shared by two n-grams. */
  static const int64_t counts[] = {0, 4, 10}, pool[] = {2, 3, 5, 4, 5, 6, 7,
                                                        8, 6, 7, 7, 8, 6};
  static const int64_t idx[] = {7, 1, 0, 3, 4, 2, 6, 5};
  static const float w[] = {0.5f, 2, 3, 0.25f, 1.5f, 4, 0.75f, 8};
  static const char *const words[] = {"w0", "w1", "two", "three", "four",
                                      "five", "six", "seven", "eight", "nine"};
  uint32_t rng = 12345;
  int64_t x[3 * 17];
  for (size_t i = 0; i < 3 * 17; i++) {
    rng = rng * 1103515245u + 12345u;
    x[i] = 2 + (rng >> 16) % 8;
  }
  const char *modes[] = {"TF", "IDF", "TFIDF"};
  for (int m = 0; m < 3; m++)
    for (int64_t mn = 1; mn <= 3; mn++)
      for (int64_t mx = mn; mx <= 4; mx++)
        for (int64_t skip = 0; skip <= 3; skip += 3)
          for (int kind = 0; kind < 3; kind++) { /* int64, int32, strings */
            tfidf_case c = {modes[m], mn, mx, skip, 3, counts, 13, pool, 8,
                            idx, m ? w : NULL};
            optest *t = tfidf_node(&c, kind == 2 ? words : NULL);
            int32_t x32[3 * 17];
            const char *xs[3 * 17];
            for (size_t i = 0; i < 3 * 17; i++) {
              x32[i] = (int32_t)x[i];
              xs[i] = words[x[i]];
            }
            int64_t dx[] = {3, 17};
            const void *data = kind == 0 ? (const void *)x
                               : kind == 1 ? (const void *)x32
                                           : (const void *)xs;
            int32_t dt = kind == 0 ? EMBER_INT64
                         : kind == 1 ? EMBER_INT32 : EMBER_STRING;
            int rank = (mn + mx + skip) % 2 ? 1 : 2; /* also 1-D [C] */
            optest_input(t, dt, rank, rank == 2 ? dx : dx + 1, data);
            if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
            float want[3 * 8];
            ref_tfidf(&c, x, rank == 2 ? 3 : 1, 17, 8, want);
            int64_t dy[] = {3, 8};
            optest_expect_f32(optest_output(t, 0), rank,
                              rank == 2 ? dy : dy + 1, want, 1e-6f, 0);
            optest_free(t);
          }
}

static void test_tfidf_unknown_strings_and_short_rows(void **state) {
  (void)state;
  static const int64_t counts[] = {0, 2}, pool[] = {0, 1, 0, 1};
  static const int64_t idx[] = {0, 1, 2};
  static const char *const words[] = {"a", "b"};
  tfidf_case c = {"TF", 1, 2, 1, 2, counts, 4, pool, 3, idx, NULL};
  const char *x[] = {"a", "zz", "b", "a"};
  int64_t x_ids[] = {0, 99, 1, 0};
  for (size_t cols = 0; cols <= 4; cols++) {
    optest *t = tfidf_node(&c, words);
    int64_t dx[] = {1, (int64_t)cols};
    optest_input(t, EMBER_STRING, 2, dx, x);
    if (optest_run(t)) fail_msg("run failed: %s", optest_errmsg(t));
    float want[3];
    ref_tfidf(&c, x_ids, 1, cols, 3, want);
    int64_t dy[] = {1, 3};
    optest_expect_f32(optest_output(t, 0), 2, dy, want, 0, 0);
    optest_free(t);
  }
}

static void test_tfidf_bad_attributes(void **state) {
  (void)state;
  static const int64_t counts[] = {0, 2}, pool[] = {1, 2, 3, 4};
  static const int64_t idx3[] = {0, 1, 2}, idx2[] = {0, 1};
  int64_t x[] = {1, 2}, d2[] = {2}, d3[] = {1, 1, 2};
  struct {
    tfidf_case c;
    int both_pools;
    int32_t dtype;
    int rank;
    ember_status st;
    const char *part;
  } k[] = {
      {{"BM25", 1, 2, 0, 2, counts, 4, pool, 3, idx3, NULL}, 0, EMBER_INT64,
       1, EMBER_ERR_INVALID_MODEL, "mode"},
      {{"TF", 2, 1, 0, 2, counts, 4, pool, 3, idx3, NULL}, 0, EMBER_INT64, 1,
       EMBER_ERR_INVALID_MODEL, "min_gram_length"},
      {{"TF", 1, 2, 0, 2, counts, 4, pool, 2, idx2, NULL}, 0, EMBER_INT64, 1,
       EMBER_ERR_INVALID_MODEL, "ngram_indexes"},
      {{"TF", 1, 2, 0, 2, counts, 3, pool, 3, idx3, NULL}, 0, EMBER_INT64, 1,
       EMBER_ERR_INVALID_MODEL, "multiple"},
      {{"TF", 1, 2, 0, 2, counts, 4, pool, 3, idx3, NULL}, 1, EMBER_INT64, 1,
       EMBER_ERR_INVALID_MODEL, "pool_strings"},
      {{"TF", 1, 2, 0, 2, counts, 4, pool, 3, idx3, NULL}, 0, EMBER_FLOAT, 1,
       EMBER_ERR_TYPE, "float"},
      {{"TF", 1, 2, 0, 2, counts, 4, pool, 3, idx3, NULL}, 0, EMBER_INT64, 3,
       EMBER_ERR_SHAPE, "[N, C]"},
  };
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    optest *t = tfidf_node(&k[i].c, NULL);
    if (k[i].both_pools) {
      const char *ps[] = {"a", "b", "c", "d"};
      optest_attr_strings(t, "pool_strings", 4, ps);
    }
    optest_input(t, k[i].dtype, k[i].rank, k[i].rank == 3 ? d3 : d2, x);
    ember_status st = optest_run(t);
    if (st != k[i].st)
      fail_msg("case %zu: status %d, expected %d: %s", i, (int)st,
               (int)k[i].st, optest_errmsg(t));
    if (!strstr(optest_errmsg(t), "TfIdfVectorizer") ||
        !strstr(optest_errmsg(t), k[i].part))
      fail_msg("case %zu: unexpected message: %s", i, optest_errmsg(t));
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
      cmocka_unit_test(test_concat_broadcasting_shapes),
      cmocka_unit_test(test_concat_empty),
      cmocka_unit_test(test_concat_errors),
      cmocka_unit_test(test_split_matches_reference),
      cmocka_unit_test(test_split_unicode_space_and_utf8),
      cmocka_unit_test(test_split_empty_and_constant),
      cmocka_unit_test(test_split_errors),
      cmocka_unit_test(test_regex_full_match_semantics),
      cmocka_unit_test(test_regex_shapes),
      cmocka_unit_test(test_regex_backtracking_limit),
      cmocka_unit_test(test_regex_errors),
      cmocka_unit_test(test_tfidf_matches_reference),
      cmocka_unit_test(test_tfidf_unknown_strings_and_short_rows),
      cmocka_unit_test(test_tfidf_bad_attributes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
