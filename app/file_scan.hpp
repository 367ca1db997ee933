// file_scan.hpp: reads a whole AOF or snapshot, whichever its magic says,
// feeding each record or entry to a sink and summing up how it ended.
// Used by dump, check, repair, stats and encrypt so that every subcommand
// judges a file the same way.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "codec/aof_reader.hpp"
#include "codec/encryption_key.hpp"
#include "codec/file_system.hpp"
#include "codec/format.hpp"
#include "codec/hex.hpp"
#include "codec/snapshot_reader.hpp"

namespace ember::app {

enum class file_kind { aof, snapshot };

/// "aof" or "snapshot".
const char* format_name(file_kind k);

/// "records" or "entries".
const char* item_noun(file_kind k);

/// A file's first bytes: which format and which version byte.
struct file_head {
  file_kind kind = file_kind::aof;
  uint8_t version = 0; ///< 0 when the file ends right after the magic
};

/// Tells an AOF from a snapshot by its magic. An error means neither
/// (unexpected_eof, invalid_magic) or the OS failed (io_error).
codec::result<file_head> detect_kind(codec::file_system& fs,
                                     const std::string& path);

/// What reading a whole file found, beyond the items themselves.
struct scan_summary {
  file_kind kind = file_kind::aof;
  uint8_t version = 0;
  uint64_t items = 0;
  codec::read_end end;
  std::string path;
  std::string diagnosis; ///< the reader's one line for a non-clean end
  nlohmann::ordered_json header;
  nlohmann::ordered_json footer = nlohmann::ordered_json::object();
  uint16_t shard_id = 0; ///< snapshots: the header's shard
};

/// Only walks the file (when only the end matters).
struct null_sink {
  void record(const codec::aof_record&, const codec::record_info&, uint64_t,
              uint8_t) {
  }
  void entry(const codec::snapshot_entry&, const codec::entry_info&, uint64_t,
             uint8_t) {
  }
};

template <class Sink>
codec::result<scan_summary> scan_aof(codec::file_system& fs,
                                     const std::string& path,
                                     const codec::encryption_key* key,
                                     Sink& sink) {
  auto reader = codec::aof_reader::open(fs, path, key);
  if (!reader)
    return std::move(reader).err();
  scan_summary s;
  s.path = path;
  s.kind = file_kind::aof;
  s.version = reader->version();
  s.header = {{"magic", std::string{codec::aof_magic}}, {"version", s.version}};
  codec::aof_record rec;
  while (reader->next(rec))
    sink.record(rec, reader->info(), s.items++, s.version);
  s.end = reader->end();
  s.diagnosis = reader->diagnosis();
  return s;
}

template <class Sink>
codec::result<scan_summary> scan_snapshot(codec::file_system& fs,
                                          const std::string& path,
                                          const codec::encryption_key* key,
                                          Sink& sink) {
  auto reader = codec::snapshot_reader::open(fs, path, key);
  if (!reader)
    return std::move(reader).err();
  scan_summary s;
  s.path = path;
  s.kind = file_kind::snapshot;
  s.version = reader->version();
  s.shard_id = reader->shard_id();
  s.header = {{"magic", std::string{codec::snapshot_magic}},
              {"version", s.version},
              {"shard_id", reader->shard_id()},
              {"entry_count", reader->entry_count()}};
  codec::snapshot_entry entry;
  while (reader->next(entry))
    sink.entry(entry, reader->info(), s.items++, s.version);
  s.end = reader->end();
  s.diagnosis = reader->diagnosis();
  // The footer CRCs are known once every entry was read.
  if (s.end.kind == codec::read_end::clean)
    s.footer["footer_crc32"] = codec::hex32(reader->stored_footer());
  else if (s.end.code == codec::errc::checksum_mismatch
           && s.end.index == reader->entry_count()) {
    s.footer["stored_crc32"] = codec::hex32(reader->stored_footer());
    s.footer["computed_crc32"] = codec::hex32(reader->computed_footer());
  }
  return s;
}

/// Opens `path` as the format its magic names and feeds every record or
/// entry to `sink`. An error means the file could not be opened as either.
template <class Sink>
codec::result<scan_summary> scan(codec::file_system& fs,
                                 const std::string& path,
                                 const codec::encryption_key* key,
                                 Sink& sink) {
  auto head = detect_kind(fs, path);
  if (!head)
    return std::move(head).err();
  if (head->kind == file_kind::aof)
    return scan_aof(fs, path, key, sink);
  return scan_snapshot(fs, path, key, sink);
}

/// scan() on the POSIX file system.
template <class Sink>
codec::result<scan_summary> scan(const std::string& path,
                                 const codec::encryption_key* key,
                                 Sink& sink) {
  return scan(codec::posix_file_system(), path, key, sink);
}

/// True when a v3 file's very first record or entry fails authentication:
/// with a key that opened the header, that is almost surely another key
/// (damage at record 0 looks the same, and is reported as such).
bool wrong_key_suspected(const scan_summary& s);

} // namespace ember::app
