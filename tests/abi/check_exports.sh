#!/usr/bin/env bash
# The shared library exports only ember_* symbols, and every function the
# public header declares.  usage: check_exports.sh LIBEMBER.so HEADER
set -euo pipefail
lib=$1 header=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | sort)
bad=$(echo "$exported" | grep -v '^ember_' || true)
if [ -n "$bad" ]; then
  echo "FAIL: symbols outside the ember_ prefix are exported:"; echo "$bad"; exit 1
fi
declared=$(grep -oE 'EMBER_API [^(]*\(' "$header" | grep -oE 'ember_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then
  echo "FAIL: declared in the header but not exported:"; echo "$missing"; exit 1
fi
echo "exports: $(echo "$exported" | wc -l) ember_* symbols, all declared ones present"
echo "1 passed, 0 failed"
