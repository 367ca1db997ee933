#!/usr/bin/env bash
# Invalid configurations stop emberd with exit code 2 and a message naming
# the key; key file problems stop it before anything is served; --help lists
# every option with its default; the example configs are valid.
source "$(dirname "$0")/lib.sh"

SRC=${SRC:?set SRC to the source directory}

# refused CODE TEXT ARGS...: emberd exits with CODE, its output has TEXT.
refused() {
  local code=$1 text=$2
  shift 2
  local out rc=0
  out=$(timeout 20 "$EMBERD" "$@" 2>&1) || rc=$?
  [ "$rc" == "$code" ] || fail "emberd $* exited $rc, want $code: $out"
  grep -qF -- "$text" <<<"$out" || fail "emberd $*: output lacks [$text]: $out"
}

cat >"$WORK/unknown.ini" <<'INI'
[persistence]
fsyncc = "always"
INI
refused 2 "unknown option 'persistence.fsyncc'" --config-file="$WORK/unknown.ini"
cat >"$WORK/type.ini" <<'INI'
[server]
port = "6399"
INI
refused 2 "server.port: expected an integer in 0..65535" --config-file="$WORK/type.ini"
cat >"$WORK/range.ini" <<'INI'
[persistence]
shards = 256
INI
refused 2 "persistence.shards: expected an integer in 0..255" --config-file="$WORK/range.ini"
refused 2 "line 2" --config-file=<(printf '[persistence]\nfsync = always\n')
refused 2 "command line: unknown option 'server.prot'" --server.prot=1
refused 2 "persistence.fsync: expected one of always, everysec, no" --persistence.fsync=sometimes
refused 2 "server.max-clients: expected an integer in 1..1000000" --server.max-clients=x
refused 2 "cannot read config file" --config-file="$WORK/nonexistent.ini"

# -- key files ------------------------------------------------------------------------------
refused 2 "persistence.key-file '$WORK/nokey'" --persistence.data-dir="$WORK/d0" \
  --persistence.key-file="$WORK/nokey"
printf 'not a key' >"$WORK/badkey"
refused 2 "persistence.key-file '$WORK/badkey'" --persistence.data-dir="$WORK/d0" \
  --persistence.key-file="$WORK/badkey"
hexkey() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
hexkey >"$WORK/key1"
hexkey >"$WORK/key2"
# A key file others can read: a warning by default, refused on request.
chmod 644 "$WORK/key1"
refused 2 "chmod 600" --persistence.data-dir="$WORK/enc" --persistence.key-file="$WORK/key1" \
  --persistence.key-file-permissions=refuse
start_emberd "$WORK/log1" --persistence.data-dir="$WORK/enc" --persistence.key-file="$WORK/key1"
expect "OK" SET secret value
stop_emberd TERM
grep -q "chmod 600" "$WORK/log1" || fail "no warning about a world-readable key file"
chmod 600 "$WORK/key1"
[ "$STOP_RC" == 0 ] || fail "encrypted run did not stop cleanly"
start_emberd "$WORK/log2" --persistence.data-dir="$WORK/enc" --persistence.key-file="$WORK/key1"
expect '"value"' GET secret
stop_emberd TERM
[ "$STOP_RC" == 0 ] || fail "encrypted restart did not stop cleanly"
grep -q "value" "$WORK"/enc/* && fail "plaintext value found in encrypted files"
refused 1 "recovery refused" --server.port=0 --persistence.data-dir="$WORK/enc" \
  --persistence.key-file="$WORK/key2"

# -- help and the example configs ---------------------------------------------------------------
help=$("$EMBERD" --help)
for opt in persistence.data-dir persistence.shards persistence.fsync persistence.key-file \
           persistence.key-file-permissions \
           persistence.on-corruption persistence.save persistence.auto-rewrite-percentage \
           persistence.auto-rewrite-min-size persistence.max-restarts persistence.restart-period \
           persistence.max-inflight-bytes server.bind server.port server.max-clients \
           server.max-request-bytes server.worker-threads server.scheduler log.level \
           log.file; do
  grep -q -- "--$opt=" <<<"$help" || fail "--help lacks $opt"
done
grep -q "\[6399\]" <<<"$help" || fail "--help lacks the default port"
for cfg in default durable; do
  start_emberd "$WORK/log-$cfg" --config-file="$SRC/config/$cfg.ini" \
    --persistence.data-dir="$WORK/$cfg" --log.file="$WORK/$cfg.log"
  expect "PONG" PING
  stop_emberd TERM
[ "$STOP_RC" == 0 ] || fail "$cfg.ini: no clean stop"
done
# worker-threads 0 (default.ini) is one per CPU core; a number is taken as is.
cores=$(getconf _NPROCESSORS_ONLN)
grep -q "ready: .*, $cores worker thread(s), scheduler wakeful," "$WORK/default.log" \
  || fail "default.ini: the ready line does not name $cores worker thread(s) and wakeful"
# CAF's own schedulers remain a choice; each serves.
for sched in stealing sharing; do
  start_emberd "$WORK/log-$sched" --persistence.data-dir="$WORK/$sched" \
    --server.worker-threads=3 --server.scheduler=$sched --log.file="$WORK/$sched.log"
  expect "OK" SET k v
  expect '"v"' GET k
  stop_emberd TERM
  [ "$STOP_RC" == 0 ] || fail "--server.scheduler=$sched: no clean stop"
  grep -q "ready: .*, 3 worker thread(s), scheduler $sched," "$WORK/$sched.log" \
    || fail "--server.worker-threads=3 --server.scheduler=$sched: not in the ready line"
done
start_emberd "$WORK/log-enc" --config-file="$SRC/config/encrypted.ini" \
  --persistence.data-dir="$WORK/enc2" --persistence.key-file="$WORK/key1"
expect "PONG" PING
stop_emberd TERM
[ "$STOP_RC" == 0 ] || fail "encrypted.ini: no clean stop"
# -- the shard count of a data directory ----------------------------------------------------
# A key's shard is CRC32(key) % shards: a directory written with 4 shards is
# refused with another count (its keys would hide), and served with its own.
start_emberd "$WORK/log-count" --persistence.data-dir="$WORK/count" \
  --persistence.shards=4 --persistence.fsync=always
for i in $(seq 1 20); do rcli SET "key:$i" "v$i" >/dev/null; done
stop_emberd TERM
for n in 1 3 5 8; do
  refused 2 "persistence.data-dir '$WORK/count' holds shard files up to shard-3 (written with 4 shards) but persistence.shards is $n" \
    --persistence.data-dir="$WORK/count" --persistence.shards=$n
done
start_emberd "$WORK/log-count2" --persistence.data-dir="$WORK/count" \
  --persistence.shards=4
expect "(integer) 20" DBSIZE
expect '"v17"' GET key:17
stop_emberd TERM
# shards = 0 (default.ini): the directory's own count, 1 for a new one.
start_emberd "$WORK/log-count3" --config-file="$SRC/config/default.ini" \
  --persistence.data-dir="$WORK/count" --log.file="$WORK/count3.log"
expect "(integer) 20" DBSIZE
expect '"v3"' GET key:3
stop_emberd TERM
grep -q "ready: 4 shard(s)" "$WORK/count3.log" \
  || fail "shards = 0 on a directory of 4 shards: not served with 4"
grep -q "ready: 1 shard(s)" "$WORK/default.log" \
  || fail "shards = 0 on a new directory: not served with 1"
mkdir -p "$WORK/many" && : >"$WORK/many/shard-300.aof"
refused 2 "holds shard files up to shard-300, more shards than emberd serves (255)" \
  --persistence.data-dir="$WORK/many"
finish
