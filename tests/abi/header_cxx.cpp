// The public header must compile as C++ (extern "C", no C-only syntax) and
// link against the C library.
#include "ember/ember.h"

#include <cstdio>

int main() {
  ember_model *m = nullptr;
  ember_status st = ember_model_load_memory("", 0, nullptr, &m);
  bool ok = st != EMBER_OK && m != nullptr && ember_model_errmsg(m)[0] != '\0';
  ember_model_free(m);
  if (!ok || ember_version_number() != EMBER_VERSION_NUMBER) {
    std::puts("0 passed, 1 failed");
    return 1;
  }
  std::puts("1 passed, 0 failed");
  return 0;
}
