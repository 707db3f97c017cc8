/* The public header must compile as strict C99 (built with -std=c99
 * -pedantic) and its API be callable: this program loads nothing but
 * checks the version the header and the library agree on. */
#include "ember/ember.h"

#include <stdio.h>

int main(void) {
  ember_tensor t = {EMBER_FLOAT, 0, NULL, NULL, 0};
  ember_value v;
  (void)t;
  (void)v;
  if (ember_version_number() != EMBER_VERSION_NUMBER) {
    printf("header %d, library %d\n", EMBER_VERSION_NUMBER,
           ember_version_number());
    return 1;
  }
  puts("1 passed, 0 failed");
  return 0;
}
