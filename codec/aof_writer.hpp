// aof_writer.hpp: appends records to an AOF.
//
// Opening an existing AOF first reads it through (unless the caller already
// verified it, see `verified_end`): a torn tail is cut back to the last whole
// record and the cut is fsynced before anything new is appended (the
// reference appends after the torn bytes, which makes every later record
// unreadable); a corrupt AOF is never appended to. A new AOF gets its header,
// an fsync, and an fsync of its directory before open() returns.
//
// Records are encoded into a pending buffer by add(); flush() writes the
// whole buffer with one append (group commit: callers batch, then flush once
// and sync once). Durability: nothing is durable before sync() returns ok.
//
// Write-behind (aof_writer_options::write_behind), for bulk writers that
// only rely on commit(): flush() hands the bytes to a thread of the
// writer's own (background_appender.hpp) and returns while they are
// written, so encoding the next records overlaps the kernel's copy of the
// last ones. A flushed record is then in the file only once drain(),
// sync(), commit() or the writer's destruction returns, so an owner that
// acknowledges after flush() (the writer actor under `no`) writes in line.
// It holds up to six buffers of one flush's size (the thread's queue and
// the written ones kept back: background_appender.hpp).
//
// After any failed write, truncate or fsync the writer is closed for good:
// the file's tail is unknown and an fsync that failed once cannot be retried
// into success, so every later call fails with errc::closed and the owner
// must reopen (which re-verifies the file from disk).
//
// Format: a new file is v3 when a key is given, else v2. An existing file
// keeps its version (v2 stays v2 with a key configured until a rewrite; v3
// without a key cannot be opened). Not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "codec/aes_gcm.hpp"
#include "codec/aof_record.hpp"
#include "codec/file_system.hpp"
#include "codec/result.hpp"

namespace ember::codec {

class background_appender; // write_behind's thread (background_appender.hpp)

struct aof_writer_options {
  /// Encrypt new files (v3); must outlive the writer. Null: plaintext v2.
  const encryption_key* key = nullptr;
  /// Skip the read-through: the caller (recovery) already verified the file
  /// up to this offset; anything after it is cut.
  std::optional<uint64_t> verified_end;
  /// Start a new empty file even if one exists (rewrite targets).
  bool truncate_existing = false;
  /// flush() queues its bytes for the writer's own thread (see above).
  bool write_behind = false;
};

/// What open() found and did.
struct aof_open_report {
  bool created = false;         ///< the file did not exist (or was replaced)
  uint64_t records = 0;         ///< whole records found (when read through)
  uint64_t cut_bytes = 0;       ///< torn-tail bytes removed
  uint64_t valid_size = 0;      ///< file size after open
  uint8_t version = 0;          ///< format version appended in
};

class aof_writer {
public:
  static result<aof_writer> open(file_system& fs, const std::string& path,
                                 const aof_writer_options& opts = {},
                                 aof_open_report* report = nullptr);

  aof_writer(aof_writer&&) noexcept;
  aof_writer& operator=(aof_writer&&) noexcept;
  ~aof_writer();

  /// Validates and encodes `r` into the pending buffer. Invalid records
  /// (see codec::validate) are refused with invalid_data, nothing buffered.
  status add(const aof_record& r);

  /// Writes all pending bytes with one append; with write_behind, queues
  /// them for it (and reports an earlier queued append's failure).
  status flush();

  /// With write_behind, waits until every flushed byte is in the file (not
  /// durable: see sync()); without, there is nothing to wait for.
  status drain();

  /// Makes every flushed byte durable (fdatasync), after drain().
  status sync();

  /// Ends write_behind: drain(), then flush() writes in line again (before
  /// handing a bulk-written AOF to an owner that acknowledges after
  /// flush()). A no-op for a writer that writes in line.
  status write_in_line();

  /// Whether flush() queues (write_behind, until write_in_line()).
  bool writes_behind() const noexcept {
    return behind_ != nullptr;
  }

  /// flush() then sync().
  status commit();

  /// Bytes in the file, flushed or not yet.
  uint64_t size() const noexcept {
    return file_size_ + pending_used_;
  }
  uint64_t pending_bytes() const noexcept {
    return pending_used_;
  }
  uint64_t synced_size() const noexcept {
    return synced_size_;
  }
  uint64_t records_written() const noexcept {
    return records_;
  }
  uint8_t version() const noexcept {
    return version_;
  }
  bool closed() const noexcept {
    return failed_.has_value();
  }

  /// Shares the open file so that another thread can fsync it while this
  /// writer keeps appending (group commit: writable_file::sync may run
  /// concurrently with append). The owner learns the outcome by message:
  /// on success it calls note_synced() with the size that sync covered (the
  /// size() flushed before the sync started); on failure it calls poison().
  /// Only for writers that write in line (no write_behind).
  std::shared_ptr<writable_file> shared_file() const noexcept {
    return file_;
  }
  void note_synced(uint64_t offset) noexcept {
    if (offset > synced_size_)
      synced_size_ = offset;
  }
  /// Closes the writer for good after a failure seen elsewhere.
  status poison(error e) {
    return fail(std::move(e));
  }
  /// After a failed fsync: cuts the file back to what the last successful
  /// sync covered. Linux marks the pages a failed fsync could not write as
  /// clean while they still read back, so a writer reopened on them would
  /// build on bytes that are not on disk, and a later crash would leave a
  /// hole in the middle of the file. Only for a closed writer (nothing
  /// beyond synced_size() was acknowledged under `always`; under everysec
  /// those writes are lost as a power loss would lose them).
  status discard_unsynced();
  /// Bytes flushed to the OS (what a sync started now would cover); with
  /// write_behind, bytes handed to its thread.
  uint64_t flushed_size() const noexcept {
    return file_size_;
  }
  const std::string& path() const noexcept {
    return path_;
  }

private:
  aof_writer() = default;
  status fail(error e);
  status check_open() const;
  // add() for v3: validates, encodes and seals `r`; its problem or "".
  std::string add_sealed(const aof_record& r);

  // Before file_: a defaulted move assignment stops the old thread (see
  // stop_behind_deleter) before it replaces the file the thread writes to.
  struct stop_behind_deleter {
    void operator()(background_appender* a) const noexcept;
  };
  std::unique_ptr<background_appender, stop_behind_deleter> behind_;
  std::shared_ptr<writable_file> file_;
  std::optional<aes_gcm> gcm_;
  std::string path_;
  // Records not yet written: pending_[0, pending_used_). pending_'s size runs
  // ahead (the rest is scratch, zeroed once when it grew), so that a record
  // is stored without resizing the string each time (append_valid_at).
  std::string pending_;
  size_t pending_used_ = 0;
  std::string scratch_;
  uint64_t file_size_ = 0;
  uint64_t synced_size_ = 0;
  uint64_t records_ = 0;
  uint8_t version_ = 2;
  std::optional<error> failed_;
};

} // namespace ember::codec
