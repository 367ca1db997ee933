#!/usr/bin/env bash
# The test command: install what is missing, configure, build and run every
# test through CTest. Builds twice: with the optional record kinds on (what
# CI must cover) and with the defaults (off), since both must work.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
for features in ON OFF; do
  dir="build/test-features-${features,,}"
  echo "== configure ($dir: EMBER_WITH_PROTO=$features EMBER_WITH_VECTOR=$features)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DEMBER_WITH_PROTO="$features" -DEMBER_WITH_VECTOR="$features" >/dev/null
  echo "== build"
  cmake --build "$dir" -j "$jobs"
  echo "== test"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
done
