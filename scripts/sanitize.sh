#!/usr/bin/env bash
# Builds and runs the tests under sanitizers; any report fails the run.
#
#   scripts/sanitize.sh asan   every suite (optional record kinds on, so
#                              all the code is in), the e2e tests and the
#                              bench smoke run, -fsanitize=address,undefined,
#                              build/asan
#   scripts/sanitize.sh tsan   the actor suites that TSan can judge, and the
#                              suites that share data between threads
#                              outside CAF (keyspace views, the AOF fsynced
#                              while appended), -fsanitize=thread, optional
#                              record kinds off (the default build's
#                              configuration), build/tsan
#   scripts/sanitize.sh        both
#
# Both build the product code at -O1 -g1 (asserts on; -O1 is what both
# sanitizers recommend) and the test programs' own code at -O0 -g0: the
# tests are most of the compile time under sanitizers.
#
# libcaf itself comes uninstrumented from Debian, so TSan cannot see the
# atomics inside it that hand a message from the sending thread to the
# worker that runs its receiver: in the suites where actors run on CAF's
# worker threads and talk to each other all the time (integration, remote,
# the kill test's writer, wakeful_stealing) it reports those handoffs by the
# thousand, inside our handlers (wakeful_stealing: 7 reports, in handlers
# and message destructors, none in the policy's own code, which is a header
# and so instrumented). Those suites stay out of the TSan step until CAF
# itself can be built with -fsanitize=thread (RELIABILITY.md); the rest run with
# ignore_noninstrumented_modules=1 (CAF's own allocations and frees are not
# ours to judge) and tests/tsan.supp, each entry with its reason. The ASan
# step reads tests/lsan.supp (one entry, with its reason).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

jobs=$(nproc 2>/dev/null || echo 2)
what=${1:-all}

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$PWD/tests/tsan.supp"

# GCC documents that sanitizers make -Wmaybe-uninitialized report false
# positives (here: inside <regex> under ASan); -Werror stays on.
no_false_warnings=""
if ! c++ --version | grep -q clang; then
  no_false_warnings="-Wno-maybe-uninitialized"
fi

configure() { # dir flags features [extra cmake args]
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" \
    "-DEMBER_TEST_COMPILE_OPTIONS=-O0;-g0" \
    -DEMBER_WITH_PROTO="$3" -DEMBER_WITH_VECTOR="$3" \
    "-DCMAKE_CXX_FLAGS=$2 -fno-omit-frame-pointer $no_false_warnings" \
    "-DCMAKE_EXE_LINKER_FLAGS=$2" "${@:4}" >/dev/null
}

if [[ $what == asan || $what == all ]]; then
  echo "== asan+ubsan: configure, build, test (build/asan)"
  configure build/asan "-fsanitize=address,undefined -fno-sanitize-recover=all" ON
  cmake --build build/asan -j "$jobs"
  ctest --test-dir build/asan --output-on-failure -j "$jobs"
fi

if [[ $what == tsan || $what == all ]]; then
  echo "== tsan: configure, build, test the actor suites (build/tsan)"
  configure build/tsan "-fsanitize=thread" OFF -DEMBER_BUILD_BENCH=OFF
  # writer, shard_actor, power_loss: the deterministic coordinator;
  # messages: a real actor system;
  # keyspace, aof: std::threads sharing a view or an AOF being fsynced;
  # snapshot_chunks (of test_snapshot): a snapshot's chunks written on the
  # background appender's thread; split_replay (of test_recovery): an AOF
  # replayed on two threads.
  actor_tests=(writer shard_actor power_loss messages keyspace aof)
  targets=(test_snapshot test_recovery)
  for t in "${actor_tests[@]}"; do targets+=("test_$t"); done
  cmake --build build/tsan -j "$jobs" --target "${targets[@]}"
  regex="^($(IFS='|'; echo "${actor_tests[*]}")|snapshot_chunks|split_replay)\$"
  ctest --test-dir build/tsan --output-on-failure -j "$jobs" -R "$regex"
fi
