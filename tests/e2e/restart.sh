#!/usr/bin/env bash
# Durability across restarts: state after SIGTERM + restart and after
# kill -9 + restart (fsync always) equals the state before; SIGTERM while
# clients write loses no acknowledged write; data files are mode 0600.
source "$(dirname "$0")/lib.sh"

DATA="$WORK/data"
ARGS=(--persistence.data-dir="$DATA" --persistence.shards=3 --persistence.fsync=always)

# dump: every key with its type and content, sorted, as redis-cli prints it.
dump() {
  local k
  for k in $(redis-cli -p "$PORT" KEYS '*' | sort); do
    echo "== $k $(redis-cli -p "$PORT" TYPE "$k")"
    case $(redis-cli -p "$PORT" TYPE "$k") in
      string) rcli GET "$k" ;;
      list) rcli LRANGE "$k" 0 -1 ;;
      hash) rcli HGETALL "$k" ;;
      set) rcli SMEMBERS "$k" ;;
      zset) rcli ZRANGE "$k" 0 -1 WITHSCORES ;;
    esac
    [ "$(rcli TTL "$k")" == "(integer) -1" ] || echo "has ttl"
  done
}

fill() {
  local p=$1
  rcli SET "${p}str" "hello world" >/dev/null
  rcli INCRBY "${p}num" 41 >/dev/null
  rcli INCR "${p}num" >/dev/null
  rcli APPEND "${p}str" "!" >/dev/null
  rcli SET "${p}ttl" v EX 1000 >/dev/null
  rcli RPUSH "${p}list" a b c d >/dev/null
  rcli LPOP "${p}list" >/dev/null
  rcli LSET "${p}list" 0 B >/dev/null
  rcli HSET "${p}hash" f1 v1 f2 v2 >/dev/null
  rcli HINCRBY "${p}hash" n 7 >/dev/null
  rcli SADD "${p}set" x y z >/dev/null
  rcli SREM "${p}set" y >/dev/null
  rcli ZADD "${p}zset" 1 a 2.5 b -3 c >/dev/null
  rcli SETBIT "${p}bits" 9 1 >/dev/null
  rcli SET "${p}del" v >/dev/null
  rcli DEL "${p}del" >/dev/null
}

# -- SIGTERM, restart, same state ---------------------------------------------------
start_emberd "$WORK/log1" "${ARGS[@]}"
fill one
rcli SAVE >/dev/null # a snapshot plus a fresh AOF, then more writes
fill two
before=$(dump)
[ -n "$before" ] || fail "nothing written"
stop_emberd TERM
[ "$STOP_RC" == 0 ] || fail "SIGTERM did not exit 0"
grep -q "stopped: every acknowledged write is fsynced" "$WORK/log1" || fail "no clean stop logged"
start_emberd "$WORK/log2" "${ARGS[@]}"
after=$(dump)
[ "$before" == "$after" ] || fail "state changed across SIGTERM + restart:
--- before
$before
--- after
$after"
grep -q "shard 0: recovered" "$WORK/log2" || fail "no recovery line per shard"

# -- files are private -------------------------------------------------------------------
for f in "$DATA"/*; do
  mode=$(stat -c %a "$f")
  [ "$mode" == 600 ] || fail "$f has mode $mode, want 600"
done

# -- kill -9 with fsync always: every acknowledged write is there ---------------------------
fill three
before=$(dump)
stop_emberd KILL
start_emberd "$WORK/log3" "${ARGS[@]}"
after=$(dump)
[ "$before" == "$after" ] || fail "state changed across kill -9 + restart"

# -- SIGTERM under load loses no acknowledged write --------------------------------------------
writer() {
  local w=$1 i out
  for i in $(seq 1 100000); do
    out=$(redis-cli -p "$PORT" RPUSH "load$w" "$i" 2>/dev/null) || break
    [[ $out =~ ^[0-9]+$ ]] || break # an integer reply is the acknowledgement
    echo "$i" >>"$WORK/acked$w"
  done
}
for w in 1 2 3 4; do : >"$WORK/acked$w"; writer "$w" & done
sleep 1
stop_emberd TERM
rc=$STOP_RC
wait # the writers stop once the server is gone
[ "$rc" == 0 ] || fail "SIGTERM under load exited $rc"
start_emberd "$WORK/log4" "${ARGS[@]}"
total=0
for w in 1 2 3 4; do
  acked=$(wc -l <"$WORK/acked$w")
  total=$((total + acked))
  stored=$(redis-cli -p "$PORT" LRANGE "load$w" 0 -1)
  # The list holds every acknowledged value in order (and at most the one
  # write whose reply was lost with the connection).
  head -n "$acked" <<<"$stored" | diff -q - "$WORK/acked$w" >/dev/null \
    || fail "writer $w: acknowledged writes missing after SIGTERM"
done
[ "$total" -gt 0 ] || fail "no write was acknowledged under load"
echo "acknowledged under load: $total"
stop_emberd TERM
[ "$STOP_RC" == 0 ] || fail "final SIGTERM did not exit 0"
finish
