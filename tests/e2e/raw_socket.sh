#!/usr/bin/env bash
# A raw-socket client (bash's /dev/tcp): pipelining in one write across
# shards, malformed input, oversized requests, a client vanishing in the
# middle of a request, and the client limit; a bad connection never affects
# the others.
source "$(dirname "$0")/lib.sh"

start_emberd "$WORK/log" --persistence.data-dir="$WORK/data" \
  --persistence.shards=4 --server.max-request-bytes=1024 \
  --server.max-clients=4

# reply_lines FD N: N reply lines from FD, CR removed, one per line.
reply_lines() {
  local fd=$1 n=$2 line
  for _ in $(seq 1 "$n"); do
    IFS= read -r -t 5 line <&"$fd" || { echo "<eof>"; return; }
    printf '%s\n' "${line%$'\r'}"
  done
}

# closed FD: whether the server closed FD (read sees end of file).
closed() {
  local line
  ! IFS= read -r -t 5 line <&"$1"
}

# -- pipelining: 100 SET/GET pairs over 4 shards in one write, in order ---------------
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
payload=""
want=""
for i in $(seq 1 100); do
  payload+="*3\r\n\$3\r\nSET\r\n\$$(( ${#i} + 1 ))\r\nk$i\r\n\$${#i}\r\n$i\r\nGET k$i\r\n"
  want+=$'+OK\n'"\$${#i}"$'\n'"$i"$'\n'
done
printf "$payload" >&3
got=$(reply_lines 3 300)
[ "$got"$'\n' == "$want" ] || fail "pipelined replies out of order or wrong"

# -- reads and writes of one turn (the writes of all connections go to a shard
#    together at the end of the I/O loop's turn, reads before them at once):
#    a read before a write sees the old value, one after it the new; two
#    connections writing at once each get their own replies, in order ---------------
printf 'SET rw old\r\nGET rw\r\nSET rw new\r\nGET rw\r\n' >&3
got=$(reply_lines 3 6)
[ "$got" == $'+OK\n$3\nold\n+OK\n$3\nnew' ] || fail "read/write order: [$got]"
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
p3="" p4="" want3="" want4=""
for i in $(seq 1 50); do
  p3+="SET c$i x$i\r\nGET c$i\r\n"
  p4+="SET d$i y$i\r\nGET d$i\r\n"
  want3+=$'+OK\n'"\$$(( ${#i} + 1 ))"$'\n'"x$i"$'\n'
  want4+=$'+OK\n'"\$$(( ${#i} + 1 ))"$'\n'"y$i"$'\n'
done
printf "$p3" >&3
printf "$p4" >&4
[ "$(reply_lines 3 150)"$'\n' == "$want3" ] || fail "first of two connections: replies wrong"
[ "$(reply_lines 4 150)"$'\n' == "$want4" ] || fail "second of two connections: replies wrong"
exec 4<&-

# -- malformed input closes only that connection -----------------------------------------
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf '*1\r\n+PING\r\n' >&4
got=$(reply_lines 4 1)
[ "$got" == "-ERR Protocol error: expected '\$', got '+'" ] || fail "malformed: [$got]"
closed 4 || fail "malformed request did not close its connection"
exec 4<&-
printf 'PING\r\n' >&3
[ "$(reply_lines 3 1)" == "+PONG" ] || fail "other connection broken by a malformed one"

# -- oversized bulk and oversized request ---------------------------------------------------
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n' >&4
got=$(reply_lines 4 1)
[ "$got" == "-ERR Protocol error: invalid bulk length" ] || fail "oversized bulk: [$got]"
closed 4 || fail "oversized bulk did not close its connection"
exec 4<&-
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
big=$(printf '%0600d' 0)
printf "*3\r\n\$3\r\nSET\r\n\$600\r\n$big\r\n\$600\r\n" >&4
got=$(reply_lines 4 1)
[ "$got" == "-ERR request larger than server.max-request-bytes (1024 bytes)" ] \
  || fail "oversized request: [$got]"
exec 4<&-
printf 'GET k1\r\n' >&3
[ "$(reply_lines 3 2)" == $'$1\n1' ] || fail "other connection broken by an oversized request"

# -- a client that disconnects mid-request changes nothing -------------------------------
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf '*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc' >&4
exec 4<&-
sleep 0.1
expect "(nil)" GET half
expect "PONG" PING

# -- inline commands with quotes ---------------------------------------------------------------
printf 'SET "sp ace" "a b"\r\nGET "sp ace"\r\n' >&3
[ "$(reply_lines 3 3)" == $'+OK\n$3\na b' ] || fail "inline quoted arguments"

# -- the client limit: the 5th connection gets an error, the others keep working -----------
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
exec 6<>"/dev/tcp/127.0.0.1/$PORT"
exec 7<>"/dev/tcp/127.0.0.1/$PORT"
printf 'PING\r\n' >&7
[ "$(reply_lines 7 1)" == "+PONG" ] || fail "4th connection refused"
exec 8<>"/dev/tcp/127.0.0.1/$PORT"
got=$(reply_lines 8 1)
[ "$got" == "-ERR max number of clients reached (server.max-clients)" ] || fail "client limit: [$got]"
exec 8<&- 7<&- 6<&- 5<&-
sleep 0.1
printf 'PING\r\n' >&3
[ "$(reply_lines 3 1)" == "+PONG" ] || fail "first connection broken by the client limit"
expect "PONG" PING
exec 3<&-

stop_emberd TERM
[ "$STOP_RC" == 0 ] || fail "SIGTERM did not exit 0"
finish
