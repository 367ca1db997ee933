#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/) for SECONDS each (default 60), two at
# a time, under ASan+UBSan, in build/fuzz (clang 14).
#
#   scripts/fuzz.sh [SECONDS]
#
# Seed corpora are made fresh in build/fuzz/corpus: the golden files
# (../shared/golden, or $EMBER_GOLDEN_DIR) and generated records and AOFs
# (fuzz_make_seeds); fuzz/regressions/<target>/ is read too. An input that
# crashes a target is copied into fuzz/regressions/<target>/ (commit it: it
# is replayed by CTest in every build from then on) and the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh --fuzz

secs=${1:-60}
dir=build/fuzz
golden=${EMBER_GOLDEN_DIR:-$PWD/../shared/golden}
targets=(record_decode aof_reader snapshot_reader key_file resp_parser
         config_validation)

echo "== configure and build ($dir, clang++-14, EMBER_FUZZ=ON)"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DEMBER_FUZZ=ON -DEMBER_BUILD_TESTS=OFF \
  -DEMBER_WITH_PROTO=ON -DEMBER_WITH_VECTOR=ON >/dev/null
cmake --build "$dir" -j 2 --target fuzz_make_seeds "${targets[@]/#/fuzz_}"

echo "== seed corpora ($dir/corpus)"
corpus=$dir/corpus
rm -rf "$corpus" "$dir/crashes" "$dir/logs"
mkdir -p "$dir/logs"
for t in "${targets[@]}"; do mkdir -p "$corpus/$t" "$dir/crashes/$t"; done
"$dir/fuzz/fuzz_make_seeds" "$corpus"
cp "$golden"/*.aof "$corpus/aof_reader/"
cp "$golden"/*.snap "$corpus/snapshot_reader/"
cp "$golden"/key.* "$corpus/key_file/"
cp config/*.ini "$corpus/config_validation/"

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

run_target() {
  local t=$1
  # New inputs go to the first corpus directory (the build one), never to
  # the repository.
  "$dir/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$dir/crashes/$t/" \
    "$corpus/$t" "fuzz/regressions/$t" >"$dir/logs/$t.log" 2>&1
}
export -f run_target
export dir secs corpus

echo "== fuzz ${secs}s per target, 2 at a time"
failed=0
printf '%s\n' "${targets[@]}" | xargs -P 2 -I{} bash -c 'run_target {}' \
  || failed=1

total=0
for t in "${targets[@]}"; do
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' \
         "$dir/logs/$t.log" | grep -o '[0-9]*$' || echo 0)
  total=$((total + ${runs:-0}))
  found=$(find "$dir/crashes/$t" -type f | wc -l)
  echo "fuzz $t: runs=${runs:-0} crashes=$found"
  if ((found > 0)); then
    cp "$dir/crashes/$t"/* "fuzz/regressions/$t/"
    echo "  copied into fuzz/regressions/$t/ (commit them); log: $dir/logs/$t.log"
    failed=1
  fi
done
echo "fuzz total: inputs=$total"
if ((failed)); then
  echo "fuzz: FAILED (see $dir/logs)"
  exit 1
fi
