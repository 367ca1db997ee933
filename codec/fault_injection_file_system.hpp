// fault_injection_file_system.hpp: a file_system for tests that fails chosen
// operations and simulates a power loss.
//
// It wraps a real file system (normally POSIX in a temporary directory) and
// keeps, per file, how many bytes were durable at the last `sync`, and per
// directory, which creations and renames happened since its last `sync_dir`.
// `crash()` then does what a power cut may do: every file is cut back to its
// synced size, files created since the last directory sync vanish, and
// renames since the last directory sync are undone (the old target comes
// back). Handles opened before a crash fail afterwards.
//
// Faults are counted per operation kind from 1: "the 3rd sync fails with
// EIO", once or from then on. A short write writes half the buffer, then
// fails. Thread-safe (a mutex guards all state), so actor tests may use it.
//
// `crash(seed)` is the partial variant: each file keeps a random part of
// its unsynced tail, and each directory keeps a random prefix of its
// unsynced changes (in order, as a journaling file system commits them),
// the rest is undone; the same seed gives the same outcome.
//
// Simplification: bytes overwritten in place with write_at inside the
// synced region, and truncations, are treated as durable at once.
#pragma once

#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "codec/file_system.hpp"

namespace ember::codec {

enum class fault_op : uint8_t { write, sync, rename, sync_dir, open };

class fault_injection_file_system final : public file_system {
public:
  explicit fault_injection_file_system(file_system& base
                                       = posix_file_system());
  ~fault_injection_file_system() override;

  // -- fault plans -------------------------------------------------------------

  /// The `nth` operation of kind `op` from now (1 = the next one) fails with
  /// `err`; with `persistent`, every later one fails too.
  void fail(fault_op op, uint64_t nth, int err = EIO, bool persistent = false);

  /// The `nth` write from now writes only half of its bytes, then fails.
  void short_write(uint64_t nth, int err = EIO);

  /// Removes every planned fault ("the disk recovered").
  void heal();

  /// Linux semantics of a failed fsync ("fsyncgate"): the pages it failed
  /// to write are marked clean and never written, so the bytes that were
  /// unsynced then stay readable until a crash, which turns them into
  /// zeros, even if a later fsync of the file succeeded. Off by default
  /// (then a later successful sync covers them).
  void failed_sync_loses_data(bool on);

  // -- counters ----------------------------------------------------------------

  /// Operations of a kind attempted since construction (failed ones too).
  uint64_t count(fault_op op) const;

  // -- crash simulation --------------------------------------------------------

  /// Drops every byte and directory change that was not made durable.
  status crash();

  /// A power loss that keeps a random, seeded part of what was not made
  /// durable (see the top of this file).
  status crash(uint64_t seed);

  // -- file_system ---------------------------------------------------------------

  result<std::unique_ptr<writable_file>>
  open_writable(const std::string& path, open_mode mode) override;
  result<std::unique_ptr<readable_file>>
  open_readable(const std::string& path) override;
  status rename(const std::string& from, const std::string& to) override;
  status remove(const std::string& path) override;
  status sync_dir(const std::string& dir) override;
  result<bool> exists(const std::string& path) override;
  result<int64_t> modified_ms(const std::string& path) override;
  result<uint32_t> permission_bits(const std::string& path) override;

private:
  friend class fault_file;

  struct plan {
    fault_op op;
    uint64_t at; // absolute operation number
    int err;
    bool persistent;
    bool short_write;
  };

  struct file_state {
    uint64_t synced_size = 0;
    // [begin, end) ranges a failed sync dropped (failed_sync_loses_data).
    std::vector<std::pair<uint64_t, uint64_t>> lost;
  };

  struct dir_change {
    enum kind_t { created, renamed, removed } kind;
    std::string path;                     // created/removed file, rename target
    std::string from;                     // rename source
    std::optional<std::string> old_bytes; // durable content that was replaced
  };

  // Returns the planned fault for the next op of `kind`, if any (locked).
  std::optional<plan> next_fault(fault_op kind);
  // `keep` says how many bytes of a file's unsynced tail and how many of a
  // directory's unsynced changes survive.
  struct survivor_picker;
  status crash_keeping(survivor_picker& keep);
  std::optional<std::string> durable_bytes(const std::string& path);
  /// The state of `path`, created (durable size `synced`) when missing.
  std::shared_ptr<file_state> state_of(const std::string& path,
                                       uint64_t synced = 0);

  file_system& base_;
  mutable std::mutex mtx_;
  uint64_t counts_[5] = {};
  std::vector<plan> plans_;
  bool failed_sync_loses_data_ = false;
  // Per file, shared with its open handles so that a rename carries the
  // state along (a handle opened before a rename keeps updating it).
  std::map<std::string, std::shared_ptr<file_state>> files_;
  std::vector<dir_change> changes_;
  uint64_t generation_ = 0;
};

} // namespace ember::codec
