// rewrite.hpp: crash-safe AOF rewrite (ARCHITECTURE.md invariant 2).
//
// Recovery loads shard-N.snap and replays ALL of shard-N.aof, so a new
// snapshot is only correct together with a fresh AOF holding exactly the
// records logged after it: the two files must change as one. A marker file,
// shard-N.rewrite, is the single commit point that says which pair is
// current. (The reference snapshots, then truncates the AOF; a crash between
// the two replays the whole old AOF on the new snapshot, applying INCR,
// LPUSH, APPEND... twice.)
//
// A rewrite captures the state at a point P where the old AOF has length L
// (everything logged before P lies in [0, L)):
//  1. write_snapshot_tmp: the snapshot of P goes to shard-N.snap.tmp,
//     fsynced, not renamed. Logging to the old AOF goes on meanwhile.
//  2. switch_aof, run by the AOF's owner between two batches: shard-N.aof.tmp
//     = header + the old AOF's records from L on (a byte copy; re-encoded
//     when the version changes, e.g. v2 -> v3 once a key is configured),
//     fsync, directory fsync.
//  3. Commit, still in switch_aof: shard-N.rewrite ("ember-rewrite 1", L,
//     both expected sizes, CRC32) via shard-N.rewrite.tmp + fsync + rename +
//     directory fsync. From then on the owner logs to shard-N.aof.tmp.
//  4. finish_rewrite: rename snap.tmp -> snap and aof.tmp -> aof, directory
//     fsync, remove the marker, directory fsync.
// complete_interrupted_rewrite runs on every start, before recover_shard:
// with a valid marker it rolls forward (renames the temporaries still
// there); without one it removes the temporaries, because the old snapshot
// and old AOF were not touched before the commit and hold every
// acknowledged record exactly once. A marker that is present but invalid
// cannot come from a crash (it is fsynced before it is renamed into place):
// that is damage, and it is refused with nothing changed.
//
// All I/O goes through file_system. Not thread-safe: one caller per shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codec/aof_writer.hpp"
#include "codec/encryption_key.hpp"
#include "codec/file_system.hpp"
#include "codec/keyspace.hpp"
#include "codec/snapshot_writer.hpp"

namespace ember::codec {

/// The files of one shard's rewrite (FORMATS.md names, plus the marker).
struct rewrite_paths {
  std::string dir; ///< parent_dir of the others: the one to fsync
  std::string snap, snap_tmp;
  std::string aof, aof_tmp;
  std::string marker, marker_tmp;

  static rewrite_paths of(const std::string& dir, uint16_t shard);
};

/// Step 1. Writes every entry of `ks` to shard-N.snap.tmp (v3 with `key`,
/// else v2; TTLs as remaining ms at `now_ms`, expired keys included: expiry
/// is the caller's business) and fsyncs it, without renaming it or syncing
/// the directory. Refuses while a committed rewrite is unfinished (its
/// marker exists: run finish_rewrite first). A failed write leaves no tmp.
result<snapshot_stats> write_snapshot_tmp(file_system& fs,
                                          const std::string& dir,
                                          uint16_t shard, const keyspace& ks,
                                          int64_t now_ms,
                                          const encryption_key* key);

/// What switch_aof carried over, and how a failure left things.
struct switch_report {
  uint64_t tail_records = 0;   ///< records of the old AOF from L on
  uint64_t tail_bytes = 0;     ///< their size in the old AOF
  bool reencoded = false;      ///< the version changed: records re-encoded
  uint64_t snapshot_bytes = 0; ///< size of shard-N.snap.tmp
  uint64_t aof_bytes = 0;      ///< size of shard-N.aof.tmp at the commit
  /// On failure: the marker was renamed into place but neither its directory
  /// fsync nor taking it back succeeded, so a power loss may keep or drop
  /// the commit.
  bool in_doubt = false;
};

/// Steps 2 and 3. The owner calls this between two batches, with every
/// record flushed to `old_aof` (flushed records not yet acknowledged are
/// carried over and become durable here) and appends nothing until it
/// returns. `aof_offset` is L, the old AOF's size at the snapshot point.
///
/// Ok: the commit is durable; the returned writer (v3 with `key`, else v2)
/// sits at the end of shard-N.aof.tmp and takes every later record.
/// Error: normally nothing was committed and the owner keeps logging to the
/// old AOF (the temporaries are removed, best effort). If
/// `report->in_doubt`, neither AOF is safe to log to: stop the shard and
/// restart it; complete_interrupted_rewrite then settles the rewrite.
result<aof_writer> switch_aof(file_system& fs, const std::string& dir,
                              uint16_t shard, const std::string& old_aof,
                              uint64_t aof_offset, const encryption_key* key,
                              switch_report* report = nullptr);

/// Step 4, after a successful switch_aof. Idempotent: after an error the
/// rewrite stays committed and logging to the new writer may go on; call it
/// again (before any new rewrite, which refuses while the marker exists).
/// The writer keeps working across the rename (same open file) but its
/// path() still names the tmp file: reopen it on aof_path() with
/// verified_end = its size() so messages name the right file (and so
/// fault_injection_file_system, which tracks files by name, follows it).
status finish_rewrite(file_system& fs, const std::string& dir,
                      uint16_t shard);

/// What complete_interrupted_rewrite found and did.
struct rewrite_report {
  enum class action : uint8_t {
    none,           ///< no marker, no temporaries
    rolled_forward, ///< a committed rewrite was finished
    discarded,      ///< an uncommitted rewrite's temporaries were removed
  };
  action done = action::none;
  std::string marker_problem;        ///< why a present marker was ignored
  std::vector<std::string> renamed;  ///< targets replaced by temporaries
  std::vector<std::string> removed;  ///< files removed

  /// One line for the log.
  std::string summary() const;
};

/// Settles a rewrite interrupted at any point; run before recover_shard on
/// every start. A valid marker rolls forward (after checking the files have
/// the sizes it names: a mismatch is an error and nothing changes); a
/// missing marker discards the temporaries; a damaged one is an error
/// (corrupt_file) that changes nothing and says how to settle it by hand. The directory is fsynced before it returns ok.
result<rewrite_report> complete_interrupted_rewrite(file_system& fs,
                                                    const std::string& dir,
                                                    uint16_t shard);

} // namespace ember::codec
