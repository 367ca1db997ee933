#!/usr/bin/env bash
# Builds and runs the tests under sanitizers; any report fails the run.
#
#   scripts/sanitize.sh asan   every suite, -fsanitize=address,undefined
#                              (optional record kinds off), build/asan
#   scripts/sanitize.sh tsan   the actor suites (real threads: integration,
#                              remote, the kill test's writer process, and
#                              the deterministic ones), -fsanitize=thread,
#                              build/tsan
#   scripts/sanitize.sh        both
#
# libcaf itself comes uninstrumented from Debian; tests/tsan.supp lists
# what TSan cannot see through there, each entry with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
what=${1:-all}

# detect_leaks=0 for now, deliberately and only until it is fixed: LeakSanitizer
# reports the shard actors of a stopped supervisor as leaked (a reference
# cycle keeps them alive; the same defect ember-bench sees as an actor that
# never stops, see BENCHMARKS.md) and a test-side leak in tests/writer.cpp.
# Open in issue 5; every other ASan/UBSan report still fails the run.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp"

# GCC documents that sanitizers make -Wmaybe-uninitialized report false
# positives (here: inside <regex> under ASan at -O2); -Werror stays on.
no_false_warnings=""
if ! c++ --version | grep -q clang; then
  no_false_warnings="-Wno-maybe-uninitialized"
fi

configure() { # dir flags features build-type [extra cmake args]
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE="$4" \
    -DEMBER_WITH_PROTO="$3" -DEMBER_WITH_VECTOR="$3" \
    "-DCMAKE_CXX_FLAGS=$2 -fno-omit-frame-pointer $no_false_warnings" \
    "-DCMAKE_EXE_LINKER_FLAGS=$2" "${@:5}" >/dev/null
}

if [[ $what == asan || $what == all ]]; then
  echo "== asan+ubsan: configure, build, test (build/asan)"
  configure build/asan "-fsanitize=address,undefined -fno-sanitize-recover=all" OFF RelWithDebInfo \
    -DEMBER_BUILD_BENCH=OFF # timings under ASan say nothing; saves CI time
  cmake --build build/asan -j "$jobs"
  ctest --test-dir build/asan --output-on-failure -j "$jobs"
fi

if [[ $what == tsan || $what == all ]]; then
  echo "== tsan: configure, build, test the actor suites (build/tsan)"
  # -O1: TSan's recommendation, and quicker to build.
  configure build/tsan "-fsanitize=thread -O1" ON Debug
  actor_tests=(writer shard_actor integration remote power_loss kill messages)
  targets=(crash_writer)
  for t in "${actor_tests[@]}"; do targets+=("test_$t"); done
  cmake --build build/tsan -j "$jobs" --target "${targets[@]}"
  regex="^($(IFS='|'; echo "${actor_tests[*]}"))\$"
  ctest --test-dir build/tsan --output-on-failure -j "$jobs" -R "$regex"
fi
