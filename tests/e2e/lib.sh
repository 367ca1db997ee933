# Shared helpers of the end-to-end tests: start the real emberd on a free
# loopback port (server.port=0, the bound port is read from its log), talk
# to it with redis-cli, stop it with a signal. Sourced, not run.
# Needs: EMBERD (the binary), redis-cli on PATH.
set -euo pipefail

: "${EMBERD:?set EMBERD to the emberd binary}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/emberd-e2e.XXXXXX")
EMBERD_PID=""
PORT=""
FAILURES=0

cleanup() {
  if [ -n "$EMBERD_PID" ] && kill -0 "$EMBERD_PID" 2>/dev/null; then
    kill -9 "$EMBERD_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

# start_emberd LOG [ARGS...]: starts emberd in the background on a free
# port and waits until it serves; PORT and EMBERD_PID are set.
start_emberd() {
  local log=$1
  shift
  "$EMBERD" --server.port=0 "$@" >"$log" 2>&1 &
  EMBERD_PID=$!
  for _ in $(seq 1 200); do
    if grep -q "ready:" "$log"; then
      PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$log" | tail -1)
      return 0
    fi
    if ! kill -0 "$EMBERD_PID" 2>/dev/null; then
      echo "emberd exited during start:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "emberd did not become ready:" >&2
  cat "$log" >&2
  return 1
}

# stop_emberd [SIGNAL]: signals emberd and waits; its exit code is left in
# STOP_RC (not printed: a $(...) subshell cannot wait for it).
STOP_RC=""
stop_emberd() {
  local sig=${1:-TERM}
  kill -"$sig" "$EMBERD_PID"
  STOP_RC=0
  wait "$EMBERD_PID" || STOP_RC=$?
  EMBERD_PID=""
}

rcli() {
  redis-cli -p "$PORT" --no-raw "$@" 2>&1
}

# expect WANT CMD...: the redis-cli --no-raw output of CMD must be WANT.
expect() {
  local want=$1
  shift
  local got
  got=$(rcli "$@")
  if [ "$got" != "$want" ]; then
    fail "$* -> got [$got], want [$want]"
  fi
}

# expect_prefix WANT CMD...: the output must start with WANT.
expect_prefix() {
  local want=$1
  shift
  local got
  got=$(rcli "$@")
  case "$got" in
    "$want"*) ;;
    *) fail "$* -> got [$got], want a reply starting with [$want]" ;;
  esac
}

finish() {
  if [ "$FAILURES" -ne 0 ]; then
    echo "$FAILURES check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed"
}
