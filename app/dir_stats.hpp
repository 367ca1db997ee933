// dir_stats.hpp: `ember-persist stats DIR`, a per-shard overview of a data
// directory. Read only: files are never modified.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "app/listing.hpp"

namespace ember::app {

struct stats_request {
  std::string dir;
  std::optional<std::string> key; ///< needed to read encrypted (v3) files
  bool as_json = false;
};

/// The overview as one JSON document:
///   {"dir":D, "shards":[{"shard":N, "files":[FILE, FILE],
///     "rewrite_pending":bool, "recovery":R}], "problems":[text...]}
/// FILE: {"file":path, "format":"snapshot"|"aof", "present":bool} and, when
/// present, "bytes", "modified_ms", "modified" (UTC text), "version",
/// "encrypted", "entries"|"records" (when readable) and "end" (the dump
/// status: clean, torn_tail with offset and dropped_bytes, corrupt with
/// index, offset and reason, unreadable or io_error with reason).
/// R: {"status":"ok", "keys", "keys_with_ttl", "types":{type: count}} or
/// {"status":"refused"|"io_error", "reason"}.
/// `exit_code` receives 0 (no problem), 1 (problems: a damaged or
/// unreadable file, a refused recovery, a pending rewrite) or 2 (I/O).
json dir_stats_json(const std::string& dir, const codec::encryption_key* key,
                    int& exit_code);

/// Prints the overview as a table (or JSON) on `out`; usage errors on
/// `err`. Exit: 0 no problem, 1 problems found, 2 usage or I/O error.
int stats_dir(const stats_request& req, std::ostream& out, std::ostream& err);

} // namespace ember::app
