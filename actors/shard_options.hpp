// shard_options.hpp: how a shard persists (one set per shard, from config).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "codec/encryption_key.hpp"
#include "codec/file_system.hpp"
#include "codec/recovery.hpp"
#include "messages/commands.hpp"

namespace ember::actors {

/// Snapshot after `seconds` if at least `changes` writes happened (Redis
/// "save" rules).
struct save_rule {
  uint64_t seconds = 0;
  uint64_t changes = 0;
};

struct shard_options {
  std::string data_dir = "data";
  uint16_t shard_id = 0;
  /// Encrypts new files when set; must stay alive as long as the shard.
  std::shared_ptr<const codec::encryption_key> key;
  messages::fsync_policy fsync = messages::fsync_policy::everysec;
  codec::corruption_policy on_corruption = codec::corruption_policy::refuse;
  /// Bytes sent to the writer and not yet acknowledged; past this, writes
  /// are refused with `overloaded` before anything is applied.
  uint64_t max_inflight_bytes = 64u << 20;
  std::vector<save_rule> save_rules;
  /// Automatic rewrite when the AOF grew by this many percent over its size
  /// after the last rewrite (0 = off) and is at least min bytes.
  uint32_t auto_rewrite_percent = 100;
  uint64_t auto_rewrite_min_bytes = 64u << 20;
  /// Restart intensity: more than `max_restarts` within `restart_period`
  /// marks the shard failed (writes refused, reads keep working).
  uint32_t max_restarts = 3;
  std::chrono::seconds restart_period{60};
  /// Active expiry: keys sampled per tick, and the tick (which runs only
  /// while some key of the shard has a deadline).
  size_t expire_sample = 20;
  std::chrono::milliseconds expire_interval{100};
  /// File layer (tests inject faults); must outlive the shard.
  codec::file_system* fs = &codec::posix_file_system();
  /// Run fsyncs on their own thread (false in deterministic tests).
  bool detached_io = true;
  /// `always`: how long the writer may hold an fsync back for the writers
  /// of the last batch to come back (writer_config::group_commit_wait).
  std::chrono::microseconds group_commit_wait{2000};
  /// Recovery progress for files over 64 MiB (codec::recovery_options).
  /// At startup it runs on a recovery thread, several shards' at once
  /// (start_supervisor), so it must be thread-safe.
  std::function<void(const std::string&, uint64_t, uint64_t)>
    recovery_progress;
};

} // namespace ember::actors
