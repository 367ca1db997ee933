// file_system.hpp: the small file interface every codec component uses.
//
// All file I/O of the codec goes through `file_system` so that tests can
// swap in `fault_injection_file_system`, which fails chosen writes or syncs
// and simulates a crash that loses everything not yet made durable (LevelDB's
// fault_injection_test is the model).
//
// Durability contract (what callers may rely on, and all they may rely on):
// - `append`/`write_at` reach the OS; only `sync` makes a file's bytes durable.
// - A new file, a rename or a remove is durable only after `sync_dir` on the
//   directory that holds it.
// Every file the codec creates or truncates has mode 0600, whatever the
// umask (the mode is set explicitly after open).
//
// Objects are not thread-safe; one owner (actor or thread) at a time, except
// writable_file::sync, which may run concurrently with append.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codec/result.hpp"

namespace ember::codec {

/// A file open for writing. Closing happens in the destructor.
class writable_file {
public:
  virtual ~writable_file();

  /// Writes all of `data` at the end of the file, or fails. After a failure
  /// the file's tail is unknown: the caller must not trust it again.
  virtual status append(std::string_view data) = 0;

  /// Overwrites bytes at `offset` (patching a count in a header).
  virtual status write_at(uint64_t offset, std::string_view data) = 0;

  /// Makes every byte written so far durable (fdatasync). The one call that
  /// may run on another thread while the owner appends (group commit).
  virtual status sync() = 0;

  /// Asks the OS to start writing [offset, offset + n) to disk now, so that
  /// a later sync() finds less left to do (long files written in chunks:
  /// snapshots). Only a hint: it makes nothing durable and reports nothing
  /// (sync() does). The default does nothing.
  virtual void start_writeback(uint64_t offset, uint64_t n) noexcept {
    (void) offset, (void) n;
  }

  /// Cuts the file to `size` bytes; later appends go after that.
  virtual status truncate(uint64_t size) = 0;

  /// Current size, including bytes not yet synced.
  virtual uint64_t size() const = 0;

  virtual const std::string& path() const = 0;
};

/// A file open for reading.
class readable_file {
public:
  virtual ~readable_file();

  /// Reads up to `n` bytes at `offset` into `buf`; fewer only at end of file.
  virtual result<size_t> read_at(uint64_t offset, char* buf, size_t n) = 0;

  virtual uint64_t size() const = 0;

  virtual const std::string& path() const = 0;
};

enum class open_mode : uint8_t {
  create_truncate, ///< create or empty an existing file; mode set to 0600
  append_existing, ///< the file must exist; writes go to its end
  create_new,      ///< create (0600); fails (EEXIST) if the file exists
};

class file_system {
public:
  virtual ~file_system();

  virtual result<std::unique_ptr<writable_file>>
  open_writable(const std::string& path, open_mode mode) = 0;

  virtual result<std::unique_ptr<readable_file>>
  open_readable(const std::string& path) = 0;

  /// Atomically replaces `to` with `from` (rename(2)).
  virtual status rename(const std::string& from, const std::string& to) = 0;

  /// Removes a file; a missing file is not an error.
  virtual status remove(const std::string& path) = 0;

  /// Makes creations, renames and removals in `dir` durable.
  virtual status sync_dir(const std::string& dir) = 0;

  virtual result<bool> exists(const std::string& path) = 0;

  /// Last modification time as unix ms (anchors a snapshot's relative TTLs:
  /// a snapshot is last written just before its rename).
  virtual result<int64_t> modified_ms(const std::string& path) = 0;

  /// The permission bits (st_mode & 07777) of `path`, following symlinks.
  /// Used to check key files; a file system that does not know modes (a
  /// read-only view) answers io_error (ENOTSUP).
  virtual result<uint32_t> permission_bits(const std::string& path);
};

/// The process-wide POSIX file system.
file_system& posix_file_system();

/// Reads a whole file into memory.
result<std::string> read_file(file_system& fs, const std::string& path);

/// Copies `from` to the new file `to` (mode 0600; refused if `to` exists)
/// and makes the copy durable: file and directory fsynced. Used to keep
/// damaged files aside and backups before a repair.
status copy_file_durably(file_system& fs, const std::string& from,
                         const std::string& to);

/// The directory part of a path ("." when there is none).
std::string parent_dir(const std::string& path);

/// `dir` + "/" + `name`.
std::string join_path(const std::string& dir, std::string_view name);

} // namespace ember::codec
