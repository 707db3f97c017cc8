#!/usr/bin/env bash
# Install what building and testing Ember needs on Debian 12, if missing.
# Sourced by quickstart.sh and test.sh; safe to run again (does nothing
# when everything is there).  Needs root (or sudo) only when installing.
set -euo pipefail

need_apt=()
command -v meson >/dev/null || need_apt+=(meson)
command -v ninja >/dev/null || need_apt+=(ninja-build)
command -v protoc-c >/dev/null || need_apt+=(protobuf-c-compiler)
command -v cc >/dev/null || need_apt+=(gcc)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
pkg-config --exists libprotobuf-c 2>/dev/null || need_apt+=(libprotobuf-c-dev)
# Image codecs for ImageDecoder: optional for the build (a missing one makes
# that format unsupported at run time), installed so every format is tested.
pkg-config --exists libjpeg 2>/dev/null || need_apt+=(libjpeg62-turbo-dev)
pkg-config --exists libpng 2>/dev/null || need_apt+=(libpng-dev)
pkg-config --exists libwebp 2>/dev/null || need_apt+=(libwebp-dev)
pkg-config --exists libtiff-4 2>/dev/null || need_apt+=(libtiff-dev)
pkg-config --exists libopenjp2 2>/dev/null || need_apt+=(libopenjp2-7-dev)
# RegexFullMatch (optional at build time, wanted in CI).
pkg-config --exists libpcre2-8 2>/dev/null || need_apt+=(libpcre2-dev)
if [ "${EMBER_NEED_TESTS:-0}" = 1 ]; then
  pkg-config --exists cmocka 2>/dev/null || need_apt+=(libcmocka-dev)
  command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ "${EMBER_NEED_TESTS:-0}" = 1 ]; then
  if ! python3 -c "import numpy" 2>/dev/null; then
    echo "installing numpy (pip)" >&2
    python3 -m pip install -q numpy 2>/dev/null ||
      python3 -m pip install -q --break-system-packages numpy
  fi
fi
