// split_replay.hpp: replays an AOF on two threads, each applying the
// records of half the keyspace's segments.
//
// Opt-in (recovery_options::split_replay): since replay fetches the keys
// of 16 records at a time (replay_window.hpp), one thread was faster than
// two on the 2-CPU machine measured (BENCHMARKS.md).
//
// Why: replaying a big AOF waits on memory (each insert's slot and the
// heap blocks of its key and value are cache misses, with page faults on
// top while the heap grows), not on decoding. A second thread applying
// other keys meanwhile puts its own misses in flight.
//
// How: the caller's thread keeps reading the file as before and applies
// the records whose key lies in an even segment. A helper thread opens the
// same file with a reader of its own, decodes every record too, and
// applies the records of the odd segments to a keyspace object of its own
// (keyspace::move_segments_to hands it the odd segments first and takes
// them back at the end): the two threads share no keyspace state and no
// heap block changes threads. Both apply their records in file order, and
// records of different keys commute, so the result is the one-thread
// result. A record that names keys on both sides (RENAME, COPY, BITOP)
// is a rendezvous: the helper waits at it, the caller takes the odd
// segments back, applies it to the whole keyspace and hands them out
// again. After 256 rendezvous the caller finishes alone, so that a file
// full of such records costs at most ~256 thread hand-offs more than one
// thread would.
//
// The helper must read what the caller reads: both readers stop at the
// same record (a torn tail, corruption) of the same bytes. Should they
// disagree anyway (the file changed during recovery, the helper could not
// open it or ran out of memory), finish() reports an error and the
// keyspace must be thrown away.
//
// Confinement: one object per replay, driven by the thread that reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "codec/aof_record.hpp"
#include "codec/encryption_key.hpp"
#include "codec/file_system.hpp"
#include "codec/keyspace.hpp"
#include "codec/replay.hpp"
#include "codec/replay_window.hpp"
#include "codec/result.hpp"

namespace ember::codec {

class split_replay {
public:
  /// Takes the odd segments of `ks` and starts the helper, which opens
  /// `path` (with `key`, as the caller's reader did) on `fs`. Null when
  /// the split cannot be had: `ks` is or has a view, or no thread starts;
  /// the caller then replays alone. `fs` and `key` must outlive the object.
  static std::unique_ptr<split_replay>
  start(file_system& fs, const std::string& path, const encryption_key* key,
        keyspace& ks, int64_t now_ms);

  /// Stops and joins the helper if finish() was not called; the odd
  /// segments stay with the helper's keyspace and are dropped, so `ks` is
  /// then incomplete: throw it away.
  ~split_replay();
  split_replay(const split_replay&) = delete;
  split_replay& operator=(const split_replay&) = delete;

  /// The next record the caller's reader returned, in file order: applied
  /// to `ks` if it belongs to the caller's half (a few records later, see
  /// replay_window.hpp; `r` comes back holding a spent record), skipped if
  /// to the helper's, applied at a rendezvous if to both. `ks` is the
  /// keyspace given to start(); it is complete only after finish().
  void apply(keyspace& ks, aof_record& r, replay_stats& stats);

  /// After the caller's reader ended, having returned `records` records and
  /// ending its last whole record at `valid_end`: waits for the helper,
  /// checks that it read the same, gives `ks` its segments back and adds
  /// the helper's counts to `stats`. An error means the two reads differed
  /// and `ks` is not to be used.
  status finish(keyspace& ks, uint64_t records, uint64_t valid_end,
                replay_stats& stats);

  struct shared;
  struct only_start {
    explicit only_start() = default;
  };
  /// For start() only (only_start is not to be had elsewhere).
  split_replay(only_start, std::unique_ptr<shared> s);

private:
  std::unique_ptr<shared> s_;
};

} // namespace ember::codec
