// aof_reader.hpp: reads an AOF record by record and says how it ended.
//
// File layout (FORMATS.md):
//
//     [EAOF][version u8][record]*
//     v2 record: [tag u8][payload][crc32(tag + payload) u32]
//     v3 record: [nonce 12][ct_len u32][AES-256-GCM(tag + payload) + tag 16]
//
// After the last record the reader reports exactly one end status:
// - clean: end of file exactly at a record boundary;
// - torn_tail: the last record is cut short by end of file (a crash in the
//   middle of an append), or the file ends in zero bytes that a crash can
//   leave behind; `offset` is where the last whole record ends, and
//   `dropped_bytes` how many bytes follow it;
// - corrupt: a record fails its CRC, has an unknown tag, invalid data or
//   fails decryption; `offset` and `index` name that record.
// A reader never allocates more than the file holds plus the limits of
// FORMATS.md, whatever the bytes say.
//
// Not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "codec/aes_gcm.hpp"
#include "codec/aof_record.hpp"
#include "codec/encryption_key.hpp"
#include "codec/file_system.hpp"
#include "codec/file_window.hpp"
#include "codec/format.hpp"
#include "codec/result.hpp"

namespace ember::codec {

/// How a file (AOF or snapshot) ended.
struct read_end {
  enum kind_t : uint8_t { reading, clean, torn_tail, corrupt } kind = reading;
  uint64_t offset = 0;        ///< torn: end of last whole record; corrupt: start of bad one
  uint64_t index = 0;         ///< corrupt: index of the bad record/entry
  uint64_t dropped_bytes = 0; ///< bytes from `offset` to end of file
  errc code = errc::invalid_data; ///< corrupt: why, as a code
  std::string reason;             ///< corrupt/torn: why, one line

  const char* name() const noexcept;

  /// True when reading stopped at an optional record kind or value type
  /// this build leaves out (the file itself may be fine).
  bool needs_rebuild() const noexcept {
    return reason.find(unsupported_marker) != std::string::npos;
  }
};

/// Where the last record returned by next() sits in the file.
struct record_info {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t crc = 0;            ///< v2: stored CRC of tag + payload
  std::string nonce;           ///< v3: 12 bytes
  uint32_t ciphertext_len = 0; ///< v3
  uint32_t plaintext_size = 0; ///< v3: tag + payload bytes
};

class aof_reader {
public:
  /// Opens `path` and checks its header. Fails with invalid_magic,
  /// unsupported_version, unexpected_eof (shorter than the header),
  /// encryption_required (v3 without `key`) or io_error. `key` may be null
  /// and must outlive the reader.
  static result<aof_reader> open(file_system& fs, const std::string& path,
                                 const encryption_key* key = nullptr);

  aof_reader(aof_reader&&) noexcept;
  aof_reader& operator=(aof_reader&&) noexcept;
  ~aof_reader();

  /// Reads the next record into `out` (reusing its storage). Returns false
  /// at the end; then `end()` says how the file ended.
  bool next(aof_record& out);

  /// Valid after next() returned true.
  const record_info& info() const noexcept {
    return info_;
  }

  const read_end& end() const noexcept {
    return end_;
  }

  /// A one-line diagnosis of a non-clean end: file, offset, record index,
  /// the reason and what the operator can do. Empty while reading or clean.
  std::string diagnosis() const;

  uint8_t version() const noexcept {
    return version_;
  }
  uint64_t records_read() const noexcept {
    return records_;
  }
  uint64_t file_size() const noexcept {
    return file_size_;
  }
  /// Offset just past the last whole record returned so far.
  uint64_t valid_end() const noexcept {
    return valid_end_;
  }
  const std::string& path() const noexcept {
    return path_;
  }

private:
  aof_reader() = default;

  bool finish(read_end::kind_t kind, errc code, std::string reason);
  bool read_v2(aof_record& out);
  bool read_v3(aof_record& out);
  bool tail_is_zeros();

  file_window in_;
  std::optional<aes_gcm> gcm_;
  std::string path_;
  std::string plain_;    // v3 scratch
  uint64_t file_size_ = 0;
  uint64_t valid_end_ = 0;
  uint64_t records_ = 0;
  uint8_t version_ = 0;
  record_info info_;
  read_end end_;
};

/// Checks a file header: magic, then version in [min_version, 3] (v3 only
/// with `have_key`). `what` is "AOF" or "snapshot". Error texts follow
/// FORMATS.md ("invalid magic", "unsupported format version N", "file is
/// encrypted but no encryption key was provided"), prefixed by the path.
status check_header(std::string_view header, std::string_view magic,
                    uint8_t min_version, bool have_key,
                    const std::string& path);

} // namespace ember::codec
