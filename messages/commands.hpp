// commands.hpp: control messages (atoms), the fsync policy and the stats a
// shard reports.
#pragma once

#include <cstdint>
#include <string>

#include "caf/atom.hpp"
#include "caf/meta/type_name.hpp"

namespace ember::messages {

// -- atoms ----------------------------------------------------------------------

using sync_atom = caf::atom_constant<caf::atom("sync")>;         ///< fsync now
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>; ///< BGSAVE
using rewrite_atom = caf::atom_constant<caf::atom("rewrite")>;   ///< compact
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;     ///< everysec timer
using flush_atom = caf::atom_constant<caf::atom("flush")>;   ///< drain batch
using synced_atom = caf::atom_constant<caf::atom("synced")>; ///< fsync done
using shard_atom = caf::atom_constant<caf::atom("shard")>;   ///< handle lookup
using expire_atom = caf::atom_constant<caf::atom("expire")>; ///< active expiry

// -- fsync policy -------------------------------------------------------------------

/// always: acknowledge after the fsync that covers the write (group commit);
/// everysec: acknowledge once written to the OS, fsync every second;
/// no: acknowledge once written to the OS, never fsync explicitly.
enum class fsync_policy : uint8_t { always, everysec, no };

std::string to_string(fsync_policy p);

/// Parses "always", "everysec", "no".
bool from_string(const std::string& s, fsync_policy& out);

// -- stats --------------------------------------------------------------------------

struct writer_stats {
  uint64_t aof_size = 0;         ///< bytes in the AOF now
  uint64_t aof_base_size = 0;    ///< size right after the last rewrite/open
  uint64_t pending_bytes = 0;    ///< accepted, not yet written
  uint64_t unsynced_bytes = 0;   ///< written, not yet fsynced
  int64_t last_fsync_ms = 0;     ///< unix ms of the last completed fsync
  uint64_t fsyncs = 0;           ///< completed fsyncs
  uint64_t delayed_fsyncs = 0;   ///< everysec ticks that found one running
  uint64_t records_written = 0;
  uint64_t bytes_written = 0;
  uint64_t batches = 0;          ///< write(2) calls
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, writer_stats& x) {
  return f(caf::meta::type_name("writer_stats"), x.aof_size, x.aof_base_size,
           x.pending_bytes, x.unsynced_bytes, x.last_fsync_ms, x.fsyncs,
           x.delayed_fsyncs, x.records_written, x.bytes_written, x.batches);
}

struct shard_stats {
  uint16_t shard = 0;
  uint64_t keys = 0;
  bool failed = false;           ///< restart intensity exceeded
  bool rewriting = false;        ///< a snapshot/rewrite is running now
  uint32_t restarts = 0;
  writer_stats writer;
  // Last snapshot/rewrite: "ok", "err: ...", or "" when none yet.
  std::string last_save_status;
  int64_t last_save_ms = 0;      ///< unix ms when it finished
  uint64_t last_save_duration_us = 0;
  uint64_t last_save_entries = 0;
  uint64_t last_save_bytes = 0;
  uint64_t last_save_pause_us = 0; ///< how long the shard stopped serving
  uint64_t changes_since_save = 0;
  std::string last_rewrite_status;
  uint64_t last_rewrite_duration_us = 0;
  // Recovery at start.
  bool recovered_snapshot = false;
  uint64_t recovered_records = 0;
  uint64_t recovered_bytes = 0;
  uint64_t recovery_duration_us = 0;
  std::string recovery_aof_end; ///< "clean", "torn_tail", "corrupt"
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shard_stats& x) {
  return f(caf::meta::type_name("shard_stats"), x.shard, x.keys, x.failed,
           x.rewriting,
           x.restarts, x.writer, x.last_save_status, x.last_save_ms,
           x.last_save_duration_us, x.last_save_entries, x.last_save_bytes,
           x.last_save_pause_us, x.changes_since_save, x.last_rewrite_status,
           x.last_rewrite_duration_us, x.recovered_snapshot,
           x.recovered_records, x.recovered_bytes, x.recovery_duration_us,
           x.recovery_aof_end);
}

} // namespace ember::messages
