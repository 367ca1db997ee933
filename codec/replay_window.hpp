// replay_window.hpp: replay that applies records in small groups, with the
// keys of a group loaded into the cache together first.
//
// Why: replaying a big AOF waits on memory, and the first miss of every
// insert is the slot its key hashes to. Applied as read, each record pays
// that miss alone. Here records are gathered `depth` at a time; then the
// slots of all their keys are loaded back to back (keyspace::prefetch), so
// that the misses are in flight together, and the records are applied.
//
// Order: records are applied in the order pushed (the window only delays
// them), so the result is the one of applying each as read. What is still
// in the window is not in the keyspace yet: flush() before anything else
// reads or changes that keyspace (a rendezvous, the end of the file).
//
// Confinement: one thread, applying to one keyspace between flushes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "codec/aof_record.hpp"
#include "codec/keyspace.hpp"
#include "codec/replay.hpp"

namespace ember::codec {

class replay_window {
public:
  /// Records per group: enough misses in flight at once, few enough that
  /// the decoded records stay in the cache.
  static constexpr size_t depth = 16;

  /// TTLs anchored at `now_ms`, as codec::apply.
  explicit replay_window(int64_t now_ms) noexcept : now_ms_(now_ms) {
  }

  /// Takes `r` into the window, applying the whole window to `ks` when it
  /// is full. `r` is given back holding a spent record (its buffers keep
  /// their capacity for the next decode into it).
  void push(keyspace& ks, aof_record& r, replay_stats& stats);

  /// Applies every record in the window to `ks`, oldest first.
  void flush(keyspace& ks, replay_stats& stats);

  size_t size() const noexcept {
    return size_;
  }

private:
  int64_t now_ms_;
  std::array<aof_record, depth> group_; ///< [0, size_) wait, oldest first
  size_t size_ = 0;
};

} // namespace ember::codec
