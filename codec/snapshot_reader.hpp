// snapshot_reader.hpp: reads a snapshot entry by entry.
//
//     [ESNP][version u8][shard_id u16][entry_count u32][entry]*[footer u32]
//
// Versions 1 (legacy strings), 2 (plaintext) and 3 (each entry sealed as
// [nonce 12][ct_len u32][AES-256-GCM(v2 entry)]). The footer is one running
// CRC32 over the entry bytes as stored (for v3: nonce + ct_len + ciphertext)
// and is checked after entry_count entries. Unlike an AOF, a short snapshot
// is an error (the header promised more entries).
//
// End status (read_end from aof_reader.hpp): clean once the footer matched;
// corrupt with `index` = the bad entry's index (entry_count for a footer
// mismatch) and `offset` = its start; a snapshot never has a torn tail.
// Not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "codec/aes_gcm.hpp"
#include "codec/aof_reader.hpp"
#include "codec/file_window.hpp"
#include "codec/snapshot_entry.hpp"

namespace ember::codec {

/// Where the last entry returned by next() sits in the file.
struct entry_info {
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string nonce;           ///< v3
  uint32_t ciphertext_len = 0; ///< v3
  uint32_t plaintext_size = 0; ///< v3
};

class snapshot_reader {
public:
  /// Opens and checks the header (magic, version 1..3, key for v3, the
  /// 11 header bytes present). `key` may be null; it must outlive the reader.
  static result<snapshot_reader> open(file_system& fs, const std::string& path,
                                      const encryption_key* key = nullptr);

  snapshot_reader(snapshot_reader&&) noexcept;
  snapshot_reader& operator=(snapshot_reader&&) noexcept;
  ~snapshot_reader();

  /// Next entry, or false at the end (then end() says how it ended).
  bool next(snapshot_entry& out);

  const entry_info& info() const noexcept {
    return info_;
  }
  const read_end& end() const noexcept {
    return end_;
  }
  /// One-line diagnosis of a corrupt end (file, offset, entry, what to do).
  std::string diagnosis() const;

  uint8_t version() const noexcept {
    return version_;
  }
  uint16_t shard_id() const noexcept {
    return shard_id_;
  }
  uint32_t entry_count() const noexcept {
    return entry_count_;
  }
  uint32_t stored_footer() const noexcept {
    return stored_footer_;
  }
  uint32_t computed_footer() const noexcept {
    return running_crc_;
  }
  uint64_t file_size() const noexcept {
    return file_size_;
  }
  const std::string& path() const noexcept {
    return path_;
  }

private:
  snapshot_reader() = default;
  // Ends reading at the cursor (the start of the current entry or footer).
  bool finish(read_end::kind_t kind, errc code, std::string reason);
  bool cut_short();
  bool read_plain(snapshot_entry& out);
  bool read_sealed(snapshot_entry& out);
  bool read_footer();
  // Takes `size` stored bytes at the cursor as the entry just decoded.
  bool accept(size_t size);

  std::string path_;
  file_window in_;
  std::optional<aes_gcm> gcm_;
  std::string plain_;
  uint64_t file_size_ = 0;
  uint32_t entry_count_ = 0;
  uint32_t entries_read_ = 0;
  uint32_t running_crc_ = 0;
  uint32_t stored_footer_ = 0;
  uint16_t shard_id_ = 0;
  uint8_t version_ = 0;
  entry_info info_;
  read_end end_;
};

} // namespace ember::codec
