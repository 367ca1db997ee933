// recovery.hpp: rebuilds a shard's keyspace from its files.
//
// recover_shard(dir, N) = load shard-N.snap (if present), replay shard-N.aof
// (if present) on top, then drop keys whose TTL ran out.
//
// Damage policy (ARCHITECTURE.md invariant 3):
// - A torn AOF tail is not corruption: the records before it are applied and
//   the report says where the last whole record ends (the writer cuts there
//   before appending).
// - refuse (default): mid-file AOF corruption, a snapshot that fails its
//   checks (truncated, bad entry, footer CRC, decryption) or names another
//   shard stops recovery with errc::corrupt_file and a one-line diagnosis
//   naming the file, the offset, the record/entry index and what to do.
// - salvage: a bad snapshot is set aside whole (not loaded) and the AOF is
//   replayed on an empty keyspace; a corrupt AOF contributes the records
//   before the bad one. The report says what was set aside. Recovery itself
//   never renames or modifies files; the caller keeps damaged files aside.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "codec/aof_reader.hpp"
#include "codec/encryption_key.hpp"
#include "codec/file_system.hpp"
#include "codec/keyspace.hpp"
#include "codec/replay.hpp"

namespace ember::codec {

enum class corruption_policy : uint8_t { refuse, salvage };

struct recovery_options {
  const encryption_key* key = nullptr;
  corruption_policy policy = corruption_policy::refuse;
  /// Clock for TTL anchoring; unset = unix_now_ms().
  std::optional<int64_t> now_ms;
  /// Anchor for snapshot entries' remaining-ms TTLs; unset = now (the
  /// reference's behaviour). The shard passes the snapshot's write time so
  /// downtime counts against TTLs.
  std::optional<int64_t> snapshot_time_ms;
  /// Progress for operators: called on the recovering thread each time
  /// another progress_step bytes of a file larger than progress_step were
  /// read, with (path, bytes read, file size). Smaller files report none.
  std::function<void(const std::string&, uint64_t, uint64_t)> on_progress;
  uint64_t progress_step = uint64_t{64} << 20;
  /// Replay the AOF on two threads (split_replay.hpp): true = whenever a
  /// second thread starts; unset or false = on the calling thread. One
  /// thread is the default because, since it replays in groups with their
  /// keys fetched together (replay_window.hpp), it beat two threads on
  /// this 2-CPU machine (BENCHMARKS.md: each of the two decodes the whole
  /// file, which the faster inserts no longer hide). The keyspace is the
  /// same either way.
  std::optional<bool> split_replay;
};

/// What happened to one file.
struct file_report {
  std::string path;
  bool present = false;
  bool loaded = false;     ///< contributed to the keyspace
  bool set_aside = false;  ///< damaged and not (or only partly) used
  uint8_t version = 0;
  uint64_t items = 0;      ///< entries (snapshot) / records (AOF) used
  uint64_t bytes = 0;      ///< file size
  read_end end;            ///< how reading ended
  std::string diagnosis;   ///< one line, empty when clean
};

struct recovery_report {
  uint16_t shard_id = 0;
  file_report snapshot;
  file_report aof;
  bool loaded_snapshot = false;
  bool replayed_aof = false;    ///< every whole AOF record was applied
  uint64_t records_replayed = 0;
  uint64_t records_skipped = 0; ///< no-op records (wrong type, ...)
  uint64_t keys = 0;
  uint64_t expired_dropped = 0;
  /// Offset just past the last whole AOF record (to open the writer at).
  uint64_t aof_valid_end = 0;
  std::chrono::microseconds duration{0};
};

struct recovery_result {
  keyspace data;
  recovery_report report;
};

std::string snapshot_path(const std::string& dir, uint16_t shard);
std::string aof_path(const std::string& dir, uint16_t shard);

result<recovery_result> recover_shard(file_system& fs, const std::string& dir,
                                      uint16_t shard,
                                      const recovery_options& opts = {});

} // namespace ember::codec
