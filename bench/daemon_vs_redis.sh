#!/usr/bin/env bash
# daemon_vs_redis.sh: emberd against redis-server 7 under the same
# redis-benchmark run (issue 6): SET, 64-byte values, 50 clients, random
# keys out of 1,000,000, pipeline 1 and 16, with appendfsync always and
# everysec. Both servers run side by side on loopback ports with their own
# temporary data directories on the same disk; runs alternate between them
# so that noise hits both alike. Prints requests/s (median of --runs runs),
# p50/p99 latency, emberd's ratio to Redis, and the share of one core each
# server used while idle for 3 s after the runs (what it costs to keep a
# quiet server up).
#
#   bench/daemon_vs_redis.sh [--emberd PATH] [--config FILE] [--requests N]
#                            [--runs R] [--policies "always everysec"]
#                            [--pipelines "1 16"] [--dir DIR]
#
# Without --emberd (or when it is not executable) only the Redis half runs.
# Needs redis-server and redis-benchmark (Debian: redis-server, redis-tools;
# scripts/setup.sh --bench installs them).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
emberd=""
config=""
requests=100000
runs=5
policies="always everysec"
pipelines="1 16"
workdir="$repo/build/daemon-vs-redis"
redis_port=6390
ember_port=6391

while (($#)); do
  case "$1" in
    --emberd) emberd=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --policies) policies=$2; shift 2 ;;
    --pipelines) pipelines=$2; shift 2 ;;
    --dir) workdir=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "daemon_vs_redis: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || {
    echo "daemon_vs_redis: $tool not found; run scripts/setup.sh --bench" >&2
    exit 2
  }
done
if [[ -n "$emberd" && ! -x "$emberd" ]]; then
  echo "daemon_vs_redis: $emberd is not executable; running the Redis half only" >&2
  emberd=""
fi
if [[ -z "$config" && -f "$repo/config/default.ini" ]]; then
  config="$repo/config/default.ini"
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap cleanup EXIT

wait_for_port() { # port name
  for _ in $(seq 1 100); do
    if redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; then return 0; fi
    sleep 0.1
  done
  echo "daemon_vs_redis: $2 did not answer PING on port $1" >&2
  return 1
}

start_redis() { # policy dir
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$2" \
    --appendonly yes --appendfsync "$1" --save "" --daemonize no \
    --logfile "$2/redis.log" &
  pids+=($!)
  wait_for_port "$redis_port" redis-server
}

start_ember() { # policy dir
  local args=(--server.port="$ember_port" --persistence.data-dir="$2"
              --persistence.fsync="$1")
  [[ -n "$config" ]] && args=(--config-file="$config" "${args[@]}")
  "$emberd" "${args[@]}" >"$2/emberd.log" 2>&1 &
  pids+=($!)
  wait_for_port "$ember_port" emberd
}

# One redis-benchmark run; prints "rps p50_ms p99_ms".
bench_once() { # port pipeline
  redis-benchmark -p "$1" -t set -n "$requests" -c 50 -P "$2" -r 1000000 \
    -d 64 --csv -q 2>/dev/null |
    awk -F'"' '$2 == "SET" { print $4, $10, $14 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "nan") }'; }

# CPU time a process used so far, in clock ticks (user + system).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Prints, per pid, the percent of one core it used over the next 3 s.
idle_cpu() { # pid...
  local before=() p i=0 hz
  hz=$(getconf CLK_TCK)
  for p in "$@"; do before+=("$(cpu_ticks "$p")"); done
  sleep 3
  for p in "$@"; do
    awk -v a="${before[$i]}" -v b="$(cpu_ticks "$p")" -v hz="$hz" \
      'BEGIN { printf "%.1f ", (b - a) * 100 / hz / 3 }'
    i=$((i + 1))
  done
}

printf '%-9s %3s %14s %9s %9s %14s %9s %9s %7s %7s %7s\n' policy P redis_rps \
  r_p50ms r_p99ms emberd_rps e_p50ms e_p99ms ratio r_idle% e_idle%
for policy in $policies; do
  for pipeline in $pipelines; do
    rm -rf "$workdir"
    mkdir -p "$workdir/redis" "$workdir/ember"
    start_redis "$policy" "$workdir/redis"
    [[ -n "$emberd" ]] && start_ember "$policy" "$workdir/ember"
    : >"$workdir/redis.runs"
    : >"$workdir/ember.runs"
    for _ in $(seq 1 "$runs"); do
      bench_once "$redis_port" "$pipeline" >>"$workdir/redis.runs"
      [[ -n "$emberd" ]] && bench_once "$ember_port" "$pipeline" >>"$workdir/ember.runs"
    done
    read -r r_idle e_idle <<<"$(idle_cpu "${pids[@]}") n/a n/a"
    cleanup
    r_rps=$(cut -d' ' -f1 "$workdir/redis.runs" | median)
    r_p50=$(cut -d' ' -f2 "$workdir/redis.runs" | median)
    r_p99=$(cut -d' ' -f3 "$workdir/redis.runs" | median)
    if [[ -n "$emberd" ]]; then
      e_rps=$(cut -d' ' -f1 "$workdir/ember.runs" | median)
      e_p50=$(cut -d' ' -f2 "$workdir/ember.runs" | median)
      e_p99=$(cut -d' ' -f3 "$workdir/ember.runs" | median)
      ratio=$(awk -v e="$e_rps" -v r="$r_rps" 'BEGIN { printf "%.2f", (r > 0 && e == e + 0) ? e / r : 0 }')
    else
      e_rps=n/a e_p50=n/a e_p99=n/a ratio=n/a
    fi
    printf '%-9s %3s %14s %9s %9s %14s %9s %9s %7s %7s %7s\n' "$policy" \
      "$pipeline" "$r_rps" "$r_p50" "$r_p99" "$e_rps" "$e_p50" "$e_p99" \
      "$ratio" "$r_idle" "$e_idle"
  done
done
rm -rf "$workdir"
