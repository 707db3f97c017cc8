/*
 * The bad-input corpus (tests/bad-input): every malformed model must fail
 * to load with the status and a message naming what is wrong, listed in
 * expected.tsv.  Under the sanitizers this also proves no crash and no
 * leak on each error path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ember/ember.h"

#define DIR EMBER_SOURCE_DIR "/tests/bad-input/"

static ember_status status_from_name(const char *s) {
  static const char *const names[] = {
      "EMBER_OK", "EMBER_ERR_INVALID_ARGUMENT", "EMBER_ERR_OUT_OF_MEMORY",
      "EMBER_ERR_IO", "EMBER_ERR_PARSE", "EMBER_ERR_INVALID_MODEL",
      "EMBER_ERR_UNSUPPORTED", "EMBER_ERR_TYPE", "EMBER_ERR_SHAPE",
      "EMBER_ERR_NOT_FOUND", "EMBER_ERR_MISSING_INPUT",
      "EMBER_ERR_BUFFER_TOO_SMALL", "EMBER_ERR_RUNTIME", "EMBER_ERR_LIMIT"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(names[i], s) == 0) return (ember_status)i;
  fail_msg("unknown status name %s in expected.tsv", s);
  return EMBER_OK;
}

static void test_corpus(void **state) {
  (void)state;
  FILE *f = fopen(DIR "expected.tsv", "r");
  assert_non_null(f);
  char line[1024];
  int cases = 0, failures = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    line[strcspn(line, "\n")] = '\0';
    char *file = strtok(line, "\t"), *status = strtok(NULL, "\t"),
         *text = strtok(NULL, "\t");
    assert_non_null(text);
    char path[2048];
    snprintf(path, sizeof path, DIR "%s", file);
    ember_model *m;
    ember_status want = status_from_name(status);
    ember_status got = ember_model_load_file(path, NULL, &m);
    const char *msg = ember_model_errmsg(m);
    if (got != want || !strstr(msg, text)) {
      print_error("%s: got %s '%s', want %s containing '%s'\n", file,
                  ember_status_str(got), msg, status, text);
      failures++;
    }
    ember_model_free(m);
    cases++;
  }
  fclose(f);
  assert_true(cases >= 20);
  assert_int_equal(failures, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
