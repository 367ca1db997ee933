#!/usr/bin/env bash
# The test command: install what is missing, configure, build and run every
# test through CTest, in steps that together fit CI (2 cores, 30 min):
#
#   1. every suite under ASan+UBSan with the optional record kinds on
#      (build/asan, scripts/sanitize.sh asan): the unit suites, the e2e
#      tests against the real emberd, the process kill test, the power-loss
#      simulation, the fuzz regressions and the bench smoke run; any memory,
#      leak or undefined-behaviour report fails the run;
#   2. the actor suites under TSan with the default configuration (build/tsan,
#      scripts/sanitize.sh tsan);
#   3. every fuzz target for EMBER_FUZZ_SECONDS (default 60), two at a time
#      (build/fuzz, scripts/fuzz.sh; clang 14 is installed for it);
#   4. emberd as scripts/run.sh builds it (build/release: Release, on
#      jemalloc, which the sanitizer builds leave out): the end-to-end tests
#      and the allocator's suite;
#   5. (not in the default) every suite in a plain RelWithDebInfo build with
#      the optional kinds on (build/test-features-on), as the README builds.
#
# EMBER_TEST_STEPS picks steps (default "1 2 3 4"). Each step prints its wall
# time.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
steps=${EMBER_TEST_STEPS:-1 2 3 4}

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

shipped() {
  local dir=build/release
  echo "== configure ($dir: Release, as scripts/run.sh builds emberd)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  echo "== build emberd and the allocator's suite"
  cmake --build "$dir" -j "$jobs" --target emberd test_malloc_info
  echo "== test"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" \
    -R '^(malloc_info|e2e_.*)$'
}

for step in $steps; do
  case $step in
    1) timed "every suite, ASan+UBSan" ./scripts/sanitize.sh asan ;;
    2) timed "actor suites, TSan" ./scripts/sanitize.sh tsan ;;
    3) timed "fuzz" ./scripts/fuzz.sh "${EMBER_FUZZ_SECONDS:-60}" ;;
    4) timed "emberd as shipped, Release" shipped ;;
    5) timed "every suite, RelWithDebInfo" features_on ;;
    *) echo "unknown step $step (1..5)"; exit 2 ;;
  esac
done
