// shard_state.hpp: the pure logic of one shard (no actors, no I/O).
//
// apply() validates a write request, applies it with Redis semantics and
// appends the AOF records whose replay (codec::apply, anchored at recovery
// time) reproduces the new state; query() answers read requests. The shard
// actor owns one shard_state and forwards the records to its writer.
//
// Time: every call takes "now" (unix ms). A key whose deadline <= now is
// absent for every command. Writes remove such a key before they touch it
// and log DEL for it (lazy expiry); reads just skip it; expire_sample()
// removes expired keys in the background (active expiry).
//
// Logging rules (so that TTLs do not restart at recovery and replay agrees
// with the live state whenever recovery runs, see shard_state.cpp):
// - TTLs are logged as absolute PEXPIREAT deadlines, never relative;
//   SET/PROTO.SET carry the remaining TTL and are followed by PEXPIREAT
//   (the record alone, should a crash tear off the PEXPIREAT, still makes
//   the key expire).
// - Replay deletes a key at a PEXPIREAT that is already past, so records
//   that follow it must not resurrect the key: a write that replay would
//   turn into "create" re-logs the key's PEXPIREAT after it; PERSIST or a
//   later deadline re-logs the whole value; RENAME/COPY of a key with a TTL
//   deletes the destination first; BITOP over a source with a TTL logs the
//   result as SET.
// - On error nothing changes and nothing is logged; a write that changes
//   nothing logs nothing.
//
// Not thread-safe; one owner (the shard actor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "caf/expected.hpp"

#include "codec/aof_record.hpp"
#include "codec/keyspace.hpp"
#include "messages/mutation.hpp"
#include "messages/query.hpp"
#include "messages/reply.hpp"

namespace ember::actors {

class shard_state {
public:
  /// Applies one write request at `now_ms`, appending what to log to `log`.
  /// Errors (persist_errc) leave the state and `log` untouched.
  caf::expected<messages::reply> apply(messages::mutation&& m, int64_t now_ms,
                                       std::vector<codec::aof_record>& log);

  /// Same, copying the request (values end up in both the keyspace and the
  /// log, so the rvalue overload saves one copy per value).
  caf::expected<messages::reply> apply(const messages::mutation& m,
                                       int64_t now_ms,
                                       std::vector<codec::aof_record>& log);

  /// Answers a read request from memory; logs nothing, changes nothing.
  caf::expected<messages::reply> query(const messages::query& q,
                                       int64_t now_ms) const;

  /// Active expiry: looks at up to `max_keys` keys that have a deadline
  /// (a random sample, like Redis) and removes the expired ones, logging a
  /// DEL for each. Returns how many it removed; callers repeat while a
  /// large share of the sample was expired.
  size_t expire_sample(int64_t now_ms, size_t max_keys,
                       std::vector<codec::aof_record>& log);

  const codec::keyspace& data() const noexcept {
    return ks_;
  }

  /// A point-in-time, read-only view of the keyspace for a snapshot; costs
  /// O(segments), see codec::keyspace::freeze().
  codec::keyspace freeze() {
    return ks_.freeze();
  }

  /// Replaces the whole state (after recovery).
  void load(codec::keyspace&& ks);

  /// Keys not yet expired at `now_ms`.
  size_t dbsize(int64_t now_ms) const;

  /// Keys that carry a deadline (expired or not).
  size_t keys_with_deadline() const noexcept {
    return ttl_keys_.size();
  }

  /// Whether the index of keys with deadlines matches the keyspace (tests).
  bool consistent() const;

private:
  struct writer;
  struct reader;

  static bool expired(const codec::entry& e, int64_t now_ms) noexcept;

  codec::keyspace ks_;
  /// Keys that carry a deadline, so that active expiry samples only those.
  std::unordered_set<std::string> ttl_keys_;
  std::minstd_rand rng_{0x5eed};
};

} // namespace ember::actors
