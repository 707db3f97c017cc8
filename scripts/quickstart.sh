#!/usr/bin/env bash
# Quick start: build Ember and run its main job on the model the repository
# ships (models/tiny_cnn.onnx, made by models/make_models.py): inspect it,
# run it (outputs to out/), and benchmark it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -d build ] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null
./build/tools/ember inspect models/tiny_cnn.onnx
./build/tools/ember run models/tiny_cnn.onnx --output-dir out
./build/tools/ember bench models/tiny_cnn.onnx --runs 50
