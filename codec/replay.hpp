// replay.hpp: applies AOF records to a keyspace with the reference's replay
// rules (FORMATS.md, "Replay semantics").
//
// TTLs in records are anchored at `now_ms` (relative expire_ms, EXPIRE
// seconds saturating to ms, PEXPIREAT absolute). Nothing expires during
// replay; recovery removes keys whose deadline <= now_ms once at the end.
// A record that does not apply (wrong type, non-integer INCR, ...) is a
// no-op and counted.
#pragma once

#include <cstdint>

#include "codec/aof_record.hpp"
#include "codec/keyspace.hpp"

namespace ember::codec {

struct replay_stats {
  uint64_t applied = 0;
  uint64_t skipped = 0; ///< no-ops: wrong type, not an integer, overflow
};

/// Applies one record. Returns false when it was a no-op for a reason worth
/// logging (wrong type, not an integer, overflow).
bool apply(keyspace& ks, const aof_record& r, int64_t now_ms,
           replay_stats* stats = nullptr);

/// The same, moving the value out of a SET (recovery's hot path: the
/// decoded bytes go into the keyspace without a copy). `r` is left valid
/// but unspecified, fit to decode the next record into.
bool apply(keyspace& ks, aof_record&& r, int64_t now_ms,
           replay_stats* stats = nullptr);

} // namespace ember::codec
