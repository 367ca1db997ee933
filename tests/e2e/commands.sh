#!/usr/bin/env bash
# Every command of the front door through redis-cli, with the replies Redis
# gives. 4 shards: a, c, h, x live on one shard; b, y on another (CRC32 mod
# 4), which the cross-shard checks rely on.
source "$(dirname "$0")/lib.sh"

start_emberd "$WORK/log" --persistence.data-dir="$WORK/data" \
  --persistence.shards=4 --persistence.fsync=always

# -- connection and server ---------------------------------------------------------
expect "PONG" PING
expect '"hi"' PING hi
expect '"hello world"' ECHO "hello world"
expect "(error) ERR wrong number of arguments for 'echo' command" ECHO
expect_prefix "(error) ERR unknown command 'NOPE', with args beginning with: 'x'" NOPE x
expect "(empty array)" COMMAND DOCS
expect "OK" SELECT 0
expect "(error) ERR DB index is out of range" SELECT 1
expect $'1) "appendonly"\n2) "yes"' CONFIG GET appendonly

# -- strings -------------------------------------------------------------------------
expect "OK" SET a 1
expect '"1"' GET a
expect "(nil)" GET missing
expect "(nil)" SET a 2 NX
expect "OK" SET a 2 XX
expect "(nil)" SET newkey v XX
expect '"2"' SET a 3 GET
expect "OK" SET ttlkey v EX 100
expect "(integer) 100" TTL ttlkey
expect "OK" SET ttlkey v PX 100000
expect_prefix "(integer) 9" PTTL ttlkey
expect "OK" SET ttlkey v EXAT 4102444800
expect_prefix "(integer) " TTL ttlkey
expect "OK" SET ttlkey v PXAT 4102444800000
expect "OK" SET ttlkey v2 KEEPTTL
expect '"v2"' GET ttlkey
expect_prefix "(integer) " PTTL ttlkey
expect "(error) ERR syntax error" SET a 1 NX XX
expect "(error) ERR syntax error" SET a 1 EX 10 PX 10
expect "(error) ERR syntax error" SET a 1 FOO
expect "(error) ERR invalid expire time in 'set' command" SET a 1 EX 0
expect "(error) ERR value is not an integer or out of range" SET a 1 EX ten
expect "(integer) 1" STRLEN a
expect "(integer) 0" STRLEN missing
# A value that takes many reads, and a deep pipeline: each connection's
# read size grows with them (app/read_sizer.hpp).
head -c 300000 /dev/zero | tr '\0' 'v' > "$WORK/big"
expect "OK" -x SET bigvalue < "$WORK/big"
expect "(integer) 300000" STRLEN bigvalue
[ "$(redis-cli -p "$PORT" --raw GET bigvalue)" == "$(cat "$WORK/big")" ] \
  || fail "GET bigvalue: the 300000-byte value came back different"
# A reader slower than the server: 40 GETs of the value (12 MB of replies)
# in one write, read only after a pause, fill the socket, so the replies
# go partly straight to the socket and partly through CAF's buffer
# (app/socket_sender.hpp); they must arrive whole and in order, and a PING
# after them last.
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
for _ in $(seq 1 40); do printf 'GET bigvalue\r\n'; done >&5
sleep 1
printf 'PING\r\n' >&5
for _ in $(seq 1 40); do
  printf '$300000\r\n'; cat "$WORK/big"; printf '\r\n'
done > "$WORK/want_slow"
printf '+PONG\r\n' >> "$WORK/want_slow"
timeout 20 head -c "$(stat -c %s "$WORK/want_slow")" <&5 > "$WORK/got_slow"
exec 5<&-
cmp -s "$WORK/want_slow" "$WORK/got_slow" \
  || fail "slow reader: $(stat -c %s "$WORK/got_slow") bytes, not the 40 replies and PONG in order"
pipe() { # CMD: "CMD pipe:1 v1" .. "CMD pipe:2000 v2000" through redis-cli --pipe
  for i in $(seq 1 2000); do printf '%s pipe:%d v%d\r\n' "$1" "$i" "$i"; done |
    redis-cli -p "$PORT" --pipe 2>&1 | tail -1
}
got=$(pipe SET)
[ "$got" == "errors: 0, replies: 2000" ] || fail "--pipe of 2000 SETs -> [$got]"
expect '"v1999"' GET pipe:1999
got=$(pipe DEL)
[ "$got" == "errors: 0, replies: 2000" ] || fail "--pipe of 2000 DELs -> [$got]"
expect "(nil)" GET pipe:1999
expect "(integer) 1" DEL bigvalue
expect "(integer) 4" APPEND a "bcd"
expect '"3bcd"' GET a
expect "(integer) 4" SETRANGE a 1 XY
expect '"3XYd"' GETRANGE a 0 3
expect '"Yd"' GETRANGE a -2 -1
expect "(integer) 4" SETRANGE sr 2 ab
expect '"\x00\x00ab"' GET sr
expect "OK" SET n 10
expect "(integer) 11" INCR n
expect "(integer) 10" DECR n
expect "(integer) 15" INCRBY n 5
expect "(integer) 12" DECRBY n 3
expect "(error) ERR value is not an integer or out of range" INCR a
expect "(error) ERR value is not an integer or out of range" INCRBY n x
expect "(integer) 0" SETBIT bits 7 1
expect "(integer) 1" GETBIT bits 7
expect "(integer) 0" GETBIT bits 100
expect "(integer) 1" SETBIT bits 7 0
expect "(error) ERR bit is not an integer or out of range" SETBIT bits 1 2
expect "(error) ERR bit offset is not an integer or out of range" GETBIT bits -1

# -- keys, TTLs -------------------------------------------------------------------
expect "string" TYPE a
expect "none" TYPE missing
expect "(integer) 1" EXISTS a
expect "(integer) 2" EXISTS a b a
expect "(integer) 1" EXPIRE a 100
expect "(integer) 100" TTL a
expect "(integer) 1" PEXPIRE a 50000
expect_prefix "(integer) 4" PTTL a
expect "(integer) 1" EXPIREAT a 4102444800
expect "(integer) 1" PEXPIREAT a 4102444800000
expect "(integer) 1" PERSIST a
expect "(integer) -1" TTL a
expect "(integer) -2" TTL missing
expect "(integer) -2" PTTL missing
expect "(integer) 0" EXPIRE missing 10
expect "OK" SET gone v
expect "(integer) 1" PEXPIRE gone 1
sleep 0.05
expect "(nil)" GET gone
expect "(integer) 0" EXISTS gone

# -- RENAME, COPY, BITOP (same shard works, different shards refused) ----------
expect "OK" SET c cval
expect "OK" RENAME c h
expect '"cval"' GET h
expect "(integer) 0" EXISTS c
expect "(error) ERR no such key" RENAME c x
expect "(integer) 1" COPY h x
expect "(integer) 0" COPY h x
expect "(integer) 1" COPY h x REPLACE
expect '"cval"' GET x
expect "(error) CROSSSLOT Keys in request don't hash to the same shard" RENAME a b
expect "(error) CROSSSLOT Keys in request don't hash to the same shard" COPY a b
expect "OK" SET x "ab"
expect "OK" SET z "a!"
expect "(integer) 2" BITOP AND c x z
expect '"a "' GET c
expect "(integer) 2" BITOP XOR c x z
expect '"\x00C"' GET c
expect "(integer) 2" BITOP NOT c x
expect "(error) CROSSSLOT Keys in request don't hash to the same shard" BITOP OR a b x
expect "(error) ERR syntax error" BITOP NAND c x

# -- lists ---------------------------------------------------------------------------
expect "(integer) 3" RPUSH l a b c
expect "(integer) 4" LPUSH l z
expect $'1) "z"\n2) "a"\n3) "b"\n4) "c"' LRANGE l 0 -1
expect "(integer) 4" LLEN l
expect '"b"' LINDEX l 2
expect "(nil)" LINDEX l 9
expect "OK" LSET l 0 y
expect "(error) ERR index out of range" LSET l 9 y
expect "(integer) 5" LINSERT l BEFORE b x
expect "(integer) -1" LINSERT l AFTER nothere x
expect "(integer) 1" LREM l 0 x
expect '"y"' LPOP l
expect '"c"' RPOP l
expect "OK" LTRIM l 0 0
expect $'1) "a"' LRANGE l 0 -1
expect "(nil)" LPOP missing
expect "(error) WRONGTYPE Operation against a key holding the wrong kind of value" LPUSH a v
expect "(error) WRONGTYPE Operation against a key holding the wrong kind of value" GET l
expect "list" TYPE l

# -- sorted sets -------------------------------------------------------------------
expect "(integer) 3" ZADD zs 1 one 2 two 3 three
expect "(integer) 0" ZADD zs 1.5 one
expect $'1) "one"\n2) "two"\n3) "three"' ZRANGE zs 0 -1
expect $'1) "one"\n2) "1.5"\n3) "two"\n4) "2"' ZRANGE zs 0 1 WITHSCORES
expect '"1.5"' ZSCORE zs one
expect "(nil)" ZSCORE zs none
expect "(integer) 3" ZCARD zs
expect "(integer) 1" ZREM zs two nope
expect "(error) ERR value is not a valid float" ZADD zs abc m
expect "(error) ERR syntax error" ZADD zs 1 a 2
expect "zset" TYPE zs

# -- hashes --------------------------------------------------------------------------
expect "(integer) 2" HSET hh f1 v1 f2 v2
expect "(integer) 0" HSET hh f1 w1
expect '"w1"' HGET hh f1
expect "(nil)" HGET hh nope
expect $'1) "f1"\n2) "w1"\n3) "f2"\n4) "v2"' HGETALL hh
expect "(integer) 2" HLEN hh
expect "(integer) 5" HINCRBY hh cnt 5
expect "(integer) 2" HDEL hh f1 f2 nope
expect "(integer) 1" HLEN hh
expect "hash" TYPE hh

# -- sets ------------------------------------------------------------------------------
expect "(integer) 3" SADD ss m1 m2 m3
expect "(integer) 0" SADD ss m1
expect $'1) "m1"\n2) "m2"\n3) "m3"' SMEMBERS ss
expect "(integer) 1" SISMEMBER ss m2
expect "(integer) 0" SISMEMBER ss m9
expect "(integer) 3" SCARD ss
expect "(integer) 1" SREM ss m2
expect "set" TYPE ss

# -- whole keyspace: DEL, KEYS, SCAN, DBSIZE across shards ---------------------------
for k in a b c d e f g h x y z; do rcli DEL "$k" >/dev/null; done
expect "(integer) 0" DEL a b
for k in a b d e; do rcli SET "$k" v >/dev/null; done
expect $'1) "a"\n2) "b"\n3) "d"\n4) "e"' KEYS '[a-e]'
expect "(integer) 3" DEL a b d nothere
expect $'1) "e"' KEYS '[a-e]'
before=$(rcli DBSIZE)
rcli SET a v >/dev/null
expect "(integer) $(( ${before#(integer) } + 1 ))" DBSIZE
# SCAN visits every key of every shard exactly as KEYS lists them.
scan_all() { # SCAN with COUNT 2 until the cursor is 0 again
  local cursor=0 reply
  while :; do
    reply=$(redis-cli -p "$PORT" SCAN "$cursor" COUNT 2)
    cursor=$(head -n 1 <<<"$reply")
    tail -n +2 <<<"$reply" | sed '/^$/d'
    [ "$cursor" != 0 ] || break
  done
}
scanned=$(scan_all | sort -u)
listed=$(redis-cli -p "$PORT" KEYS '*' | sort)
[ "$scanned" == "$listed" ] || fail "SCAN gave [$scanned], KEYS [$listed]"
matched=$(redis-cli -p "$PORT" --scan --pattern 'z*' | sort)
[ "$matched" == "zs" ] || fail "SCAN MATCH z* gave [$matched]"
expect "(error) ERR invalid cursor" SCAN 12345

# -- persistence commands and INFO ---------------------------------------------------
expect "OK" SAVE
expect "Background saving started" BGSAVE
sleep 0.3
expect "Background append only file rewriting started" BGREWRITEAOF
sleep 0.3
info=$(redis-cli -p "$PORT" INFO persistence)
for field in aof_enabled:1 aof_rewrite_in_progress: rdb_bgsave_in_progress: aof_last_bgrewrite_status:ok rdb_last_bgsave_status:ok \
             aof_current_size: aof_base_size: aof_delayed_fsync: \
             rdb_changes_since_last_save: rdb_last_save_time: ember_shard_3:keys=; do
  grep -q "^$field" <<<"$info" || fail "INFO persistence lacks $field: $info"
done
grep -q "^connected_clients:" <<<"$(redis-cli -p "$PORT" INFO)" || fail "INFO lacks clients"
# The allocator emberd was built with (EMBER_JEMALLOC) is the one it runs on.
server=$(redis-cli -p "$PORT" INFO server | tr -d '\r')
grep -q "^mem_allocator:${EMBER_ALLOCATOR:?}" <<<"$server" \
  || fail "INFO server does not say mem_allocator:$EMBER_ALLOCATOR: $server"

# -- SHUTDOWN stops the daemon cleanly ------------------------------------------------
rcli SHUTDOWN >/dev/null || true
rc=0
wait "$EMBERD_PID" || rc=$?
EMBERD_PID=""
[ "$rc" == 0 ] || fail "SHUTDOWN: emberd exited with $rc"
grep -q "stopped: every acknowledged write is fsynced" "$WORK/log" || fail "no clean stop in the log"
finish
