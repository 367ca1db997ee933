// listing.hpp: the operator tool `ember-persist` as a library (codec -> JSON).
//
// The tool is a library so that tests run exactly what the binary runs;
// ember_persist.cpp only forwards argv to run_tool (command_line.cpp). The
// reading subcommands live here; keygen (keygen.hpp), encrypt
// (encrypt_dir.hpp) and stats (dir_stats.hpp) have their own files. Output
// contract of these (also in --help):
//
// dump FILE [--key KEYFILE]
//   One JSON object per line per AOF record or snapshot entry, keys and
//   encodings as in the golden `<file>.expected.json` listings (bytes as
//   lowercase hex in `*_hex`, f64 as `score_bits`, f32 as `vector_f32_bits`,
//   64-bit integers exact). Then one status line:
//     {"status":"clean", ...}
//     {"status":"torn_tail","offset":N,"dropped_bytes":D, ...}
//     {"status":"corrupt","index":I,"offset":N,"reason":"...", ...}
//     {"status":"unreadable","reason":"...", ...}
//   The status line also carries "format", "header" and the item count.
//   Exit 0 clean, 1 damaged (torn tail, corrupt, unreadable), 2 usage/I/O.
//
// recover DIR --shard N [--key KEYFILE] [--salvage]
//   The recovered keyspace, one key per line sorted by key bytes, then
//   {"report":{...}}. A refused recovery prints nothing on stdout, one
//   diagnosis line on stderr and exits 1.
//
// repair FILE [--key KEYFILE] [--yes]
//   Cuts a torn or corrupt AOF tail back to the last whole record, after a
//   backup copy FILE.bak-<ms>; without --yes only says what it would cut.
//   Refuses (exit 1) snapshots, records this build cannot read, and a v3
//   file whose first record fails to decrypt (a wrong key would otherwise
//   cut every record).
//
// check FILE [--key KEYFILE]
//   "FILE: ok, N records|entries, version V" (exit 0) or one diagnosis line
//   (exit 1); usage and I/O errors exit 2.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "app/tool_support.hpp"
#include "codec/aof_reader.hpp"
#include "codec/aof_record.hpp"
#include "codec/keyspace.hpp"
#include "codec/recovery.hpp"
#include "codec/snapshot_entry.hpp"
#include "codec/snapshot_reader.hpp"

namespace ember::app {

/// Insertion-ordered, so lines read in the golden listings' key order.
using json = nlohmann::ordered_json;

/// One AOF record with its position (`version` 2 adds crc32, 3 the nonce).
json record_json(const codec::aof_record& r, const codec::record_info& info,
                 uint64_t index, uint8_t version);

/// One snapshot entry with its position (`version` 3 adds the nonce).
json entry_json(const codec::snapshot_entry& e, const codec::entry_info& info,
                uint64_t index, uint8_t version);

/// One recovered key, encoded like the golden recovery listings: unordered
/// collections sorted (fields_sorted, members_sorted, members_sorted_by_name)
/// and "ttl" as "present"/"absent".
json keyspace_entry_json(const std::string& key, const codec::entry& e);

/// How a file ended: {"status": clean|torn_tail|corrupt|io_error, ...}.
json end_json(const codec::read_end& end);

/// The recovery report (flat fields plus one object per file).
json report_json(const codec::recovery_report& report);

/// One JSON line: never throws; invalid UTF-8 would be replaced by U+FFFD
/// (the codec validates every `str` field, so this does not happen).
std::string to_line(const json& j);

/// `ember-persist dump`: writes the listing to `out`, errors to `err`.
int dump_file(const std::string& path, const std::optional<std::string>& key,
              std::ostream& out, std::ostream& err);

/// `ember-persist check`: one verdict line on `out`, errors on `err`.
int check_file(const std::string& path, const std::optional<std::string>& key,
               std::ostream& out, std::ostream& err);

/// `ember-persist repair`: cuts an AOF back to its last whole record after
/// writing a backup copy beside it; only reports without `yes`.
int repair_file(const std::string& path, const std::optional<std::string>& key,
                bool yes, std::ostream& out, std::ostream& err);

struct recover_request {
  std::string dir;
  uint16_t shard = 0;
  std::optional<std::string> key;
  bool salvage = false;
};

/// `ember-persist recover`: keyspace lines and the report on `out`,
/// diagnoses on `err`.
int recover_dir(const recover_request& req, std::ostream& out,
                std::ostream& err);

/// The whole command line (argv[0] included): parses with CLI11 and runs the
/// chosen subcommand. --help goes to `out`, usage errors to `err` (exit 2).
int run_tool(int argc, const char* const* argv, std::ostream& out,
             std::ostream& err);

} // namespace ember::app
