// snapshot_writer.hpp: writes a snapshot atomically.
//
// begin() creates `<path>.tmp` (mode 0600) with a header whose entry count is
// 0; add() buffers entries and writes them in large chunks while keeping the
// running footer CRC; commit() writes the footer, patches the count at byte
// offset 7, fsyncs the file, renames it over `<path>`, then fsyncs the
// directory. Only after commit() returns ok is the new snapshot durable. A
// writer destroyed or aborted before commit removes its tmp file, so an
// unfinished snapshot never replaces a good one. commit_to_tmp() stops before
// the rename: an AOF rewrite (rewrite.hpp) renames at its own commit point.
//
// Writes v3 when a key is given, else v2. Not thread-safe; one owner (a
// snapshot of more than one chunk writes its chunks from a thread of its
// own, background_appender.hpp, joined before commit or abort returns).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "codec/aes_gcm.hpp"
#include "codec/background_appender.hpp"
#include "codec/file_system.hpp"
#include "codec/snapshot_entry.hpp"

namespace ember::codec {

struct snapshot_stats {
  uint64_t entries = 0;
  uint64_t bytes = 0;
  std::chrono::microseconds duration{0};
};

class snapshot_writer {
public:
  /// Starts `path` + ".tmp" (an older tmp is replaced). `key` may be null
  /// and must outlive the writer.
  static result<snapshot_writer> begin(file_system& fs, const std::string& path,
                                       uint16_t shard_id,
                                       const encryption_key* key = nullptr);

  snapshot_writer(snapshot_writer&&) noexcept;
  snapshot_writer& operator=(snapshot_writer&&) noexcept;
  ~snapshot_writer();

  /// Adds one entry (validated: UTF-8 key/members/fields, limits).
  status add(const snapshot_entry& e);

  /// Adds an entry already encoded in v2 form by encode_entry (or by a
  /// keyspace encoder), avoiding a copy into snapshot_entry.
  status add_encoded(std::string_view v2_entry);

  /// Adds the entry that `encode(std::string& out)` appends to `out` in v2
  /// form (as add_encoded takes it); unencrypted, it encodes straight into
  /// the write buffer, with no copy. `encode` must append exactly one entry.
  template <class Encode>
  status add_encoded_by(Encode&& encode) {
    if (auto st = usable(); !st)
      return st;
    if (gcm_) {
      scratch_.clear();
      encode(scratch_);
      return append_entry(scratch_);
    }
    if (auto st = room_for_one(); !st)
      return st;
    encode(buf_);
    return added();
  }

  /// Adds `count` entries encoded back to back in v2 form (what
  /// add_encoded_by's encoder appends, `count` times), copied in one piece.
  /// Only for a plaintext (v2) snapshot: an encrypted one seals each entry
  /// on its own, so its entries must come one by one.
  status add_encoded_entries(std::string_view v2_entries, uint64_t count);

  /// Whether entries are sealed (v3) rather than written as they are.
  bool encrypted() const noexcept {
    return gcm_.has_value();
  }

  /// Footer, count, fsync, rename, directory fsync.
  result<snapshot_stats> commit();

  /// Footer, count and fsync only: the finished snapshot stays at tmp_path(),
  /// not renamed, its directory entry not yet fsynced; the writer no longer
  /// owns (or removes) it.
  result<snapshot_stats> commit_to_tmp();

  const std::string& tmp_path() const noexcept {
    return tmp_path_;
  }

  /// Removes the tmp file; the previous snapshot stays.
  void abort();

private:
  snapshot_writer() = default;
  // Closed (committed, aborted or moved from) writers refuse further use.
  status usable() const;
  // Seals (v3) or buffers one v2 entry.
  status append_entry(std::string_view v2_entry);
  // Refuses an entry the header could not count.
  status room_for_one() const;
  error too_many_entries() const;
  // Counts the entry just buffered; writes the buffer out once it is full.
  status added();
  // Folds the buffered bytes not yet covered into the footer CRC (the
  // last chunk's; the appender's thread folds the full ones, once per chunk,
  // where the CRC runs at memory speed: per entry it would be
  // latency-bound).
  void fold_crc() noexcept;
  // Hands the full buffer to the appender's thread, which folds it into
  // the footer CRC, writes it to the tmp file and starts its writeback (so
  // that the final fsync has little left) while the next chunk is encoded;
  // the appender starts with the first full chunk, so a small snapshot
  // starts no thread. On failure abandons the snapshot.
  status write_out();
  // Abandons the snapshot and wraps `e` in a message naming it.
  error abandon(const error& e);
  // Footer, count, fsync and close of the tmp file (both commits).
  status finish_tmp();
  snapshot_stats stats() const;

  file_system* fs_ = nullptr;
  std::unique_ptr<writable_file> file_;
  // After file_: it appends to *file_ and must stop first.
  std::unique_ptr<background_appender> appender_;
  std::optional<aes_gcm> gcm_;
  std::string path_;
  std::string tmp_path_;
  std::string buf_;
  std::string scratch_;
  uint64_t entries_ = 0;
  uint64_t bytes_ = 0;
  uint32_t crc_ = 0;
  size_t crc_from_ = 0; ///< buf_ bytes before this are in crc_ (or header)
  std::chrono::steady_clock::time_point started_;
  bool done_ = false;
};

} // namespace ember::codec
