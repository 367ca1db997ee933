// data_dir.hpp: what the operator tool needs to know about a data directory
// (FORMATS.md layout: shard-N.snap, shard-N.aof, temporaries, the rewrite
// marker shard-N.rewrite).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codec/file_system.hpp"
#include "codec/result.hpp"

namespace ember::app {

/// Shard numbers that have a snapshot, an AOF or a rewrite marker in `dir`,
/// ascending. Other names are ignored. Fails (io_error) when `dir` is not a
/// readable directory.
codec::result<std::vector<uint16_t>> list_shards(const std::string& dir);

/// The shard count `dir`'s files were written with: one more than the
/// highest shard number of a file in it (up to 65536; emberd serves at
/// most 255), or 0 when it holds none (or cannot be read: recovery
/// reports that).
uint32_t shard_count_of(const std::string& dir);

/// How many shards to serve `dir` with, or why it cannot be served.
struct shard_count_choice {
  uint16_t shards = 0;
  std::string refusal; ///< empty when `shards` is the answer
};

/// The shard count for `dir` under persistence.shards = `configured`, for
/// a server of at most `max_shards` shards.
///  - 0 (automatic) serves the count `dir`'s files were written with,
///    and 1 when it holds no shard files; more than `max_shards` written
///    is refused.
///  - Any other count is served only if `dir` holds no shard files or
///    was written with that count: a key's shard is CRC32(key) % shards,
///    so another count would hide keys written before.
/// A refusal names the count the files were written with and what to do.
shard_count_choice shards_to_serve(const std::string& dir, uint16_t configured,
                                   uint16_t max_shards);

/// "shard-N.rewrite": present while a committed rewrite is unfinished.
std::string rewrite_marker_path(const std::string& dir, uint16_t shard);

/// A file's size and modification time, to tell whether it changed.
struct file_stamp {
  uint64_t bytes = 0;
  int64_t modified_ms = 0;
  friend bool operator==(const file_stamp& a, const file_stamp& b) {
    return a.bytes == b.bytes && a.modified_ms == b.modified_ms;
  }
};

codec::result<file_stamp> stamp_of(codec::file_system& fs,
                                   const std::string& path);

/// Sets a file's modification time (POSIX utimensat). A rewritten file
/// keeps its original's time: shards anchor a snapshot's relative TTLs at
/// its mtime, so a fresh mtime would lengthen every TTL in it.
codec::status set_modified_ms(const std::string& path, int64_t ms);

/// "2026-11-25 16:31:02.123Z" (UTC).
std::string utc_text(int64_t unix_ms);

} // namespace ember::app
