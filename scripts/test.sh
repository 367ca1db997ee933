#!/usr/bin/env bash
# The test command: install what is missing, configure, build and run every
# test through CTest, in four steps that together fit CI (2 cores, 30 min):
#
#   1. features ON, RelWithDebInfo (build/test-features-on): every suite,
#      the process kill test and the power-loss simulation included;
#   2. features OFF under ASan+UBSan (build/asan, scripts/sanitize.sh asan):
#      every suite again, so the default build is covered and any memory or
#      undefined-behaviour report fails the run;
#   3. the actor suites under TSan (build/tsan, scripts/sanitize.sh tsan);
#      not in the default steps yet: with Debian's uninstrumented libcaf,
#      TSan reports CAF's own thread handoffs (tests/tsan.supp lists the
#      ones understood so far); it joins the default once that is clean;
#   4. every fuzz target for EMBER_FUZZ_SECONDS (default 60), two at a time
#      (build/fuzz, scripts/fuzz.sh; clang 14 is installed for it).
#
# EMBER_TEST_STEPS picks steps (e.g. "1 2 3 4"; default "1 2 4"). Each step
# prints its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
steps=${EMBER_TEST_STEPS:-1 2 4}

timed() { # name command...
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "== step '$name' took $((SECONDS - start)) s"
}

features_on() {
  local dir=build/test-features-on
  echo "== configure ($dir: EMBER_WITH_PROTO=ON EMBER_WITH_VECTOR=ON)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DEMBER_WITH_PROTO=ON -DEMBER_WITH_VECTOR=ON >/dev/null
  echo "== build"
  cmake --build "$dir" -j "$jobs"
  echo "== test"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
}

for step in $steps; do
  case $step in
    1) timed "features ON" features_on ;;
    2) timed "features OFF, ASan+UBSan" ./scripts/sanitize.sh asan ;;
    3) timed "actor suites, TSan" ./scripts/sanitize.sh tsan ;;
    4) timed "fuzz" ./scripts/fuzz.sh "${EMBER_FUZZ_SECONDS:-60}" ;;
    *) echo "unknown step $step (1..4)"; exit 2 ;;
  esac
done
