#!/usr/bin/env bash
# Run Ember's test suite: build (warnings are errors), then every meson
# test: cmocka unit tests, the bad-input corpus, the CLI tests and the ONNX
# conformance gate (needs ../shared/onnx-tests or $EMBER_ONNX_TESTS;
# skipped with a message when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
EMBER_NEED_TESTS=1 bash scripts/deps.sh
BUILD=${EMBER_BUILD_DIR:-build-test}
if [ ! -d "$BUILD" ]; then
  meson setup "$BUILD" --buildtype=release -Dwerror=true >/dev/null
fi
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs "$@"
