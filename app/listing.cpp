#include "app/listing.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "codec/encryption_key.hpp"
#include "codec/file_system.hpp"
#include "codec/format.hpp"
#include "codec/hex.hpp"

namespace ember::app {

namespace {

using codec::errc;
using codec::read_end;

// -- encodings of the golden listings -----------------------------------------

using codec::hex32;
using codec::to_hex;

/// The bit pattern of a float as fixed-width hex, most significant digit
/// first: 8 digits for f32 (vector_f32_bits), 16 for f64 (score_bits).
std::string bits_hex(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return hex32(bits);
}

std::string bits_hex(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return hex32(static_cast<uint32_t>(bits >> 32))
         + hex32(static_cast<uint32_t>(bits));
}

std::string hex_name(const char* name) {
  return std::string{name} + "_hex";
}

const char* bitop_name(uint8_t op) {
  static constexpr const char* names[] = {"AND", "OR", "XOR", "NOT"};
  return op < 4 ? names[op] : "INVALID";
}

/// Writes named fields into one JSON object. It is the visitor for the
/// records' describe() and is reused for snapshot and keyspace values, so a
/// wire kind has exactly one JSON encoding.
class field_writer {
public:
  explicit field_writer(json& obj) : obj_(obj) {
  }

  void str(const char* n, const std::string& s) {
    obj_[n] = s;
  }
  void bytes(const char* n, std::string_view s) {
    obj_[hex_name(n)] = to_hex(s);
  }
  void i64(const char* n, int64_t v) {
    obj_[n] = v;
  }
  void duration(const char* n, int64_t v) {
    obj_[n] = v;
  }
  void u8(const char* n, uint8_t v) {
    obj_[n] = v;
  }
  void flag(const char* n, bool v) {
    obj_[n] = v;
  }
  void u32(const char* n, uint32_t v) {
    obj_[n] = v;
  }
  void bitop(const char* n, uint8_t v) {
    obj_[n] = v;
    obj_[std::string{n} + "_name"] = bitop_name(v);
  }
  template <class Range>
  void strs(const char* n, const Range& v) {
    auto arr = json::array();
    for (auto& s : v)
      arr.push_back(s);
    obj_[n] = std::move(arr);
  }
  template <class Range>
  void bytes_list(const char* n, const Range& v) {
    auto arr = json::array();
    for (auto& s : v)
      arr.push_back(to_hex(s));
    obj_[hex_name(n)] = std::move(arr);
  }
  void scored(const char* n, const std::vector<codec::scored_member>& v) {
    auto arr = json::array();
    for (auto& m : v)
      arr.push_back({{"score_bits", bits_hex(m.score)}, {"member", m.member}});
    obj_[n] = std::move(arr);
  }
  void pairs(const char* n, const std::vector<codec::field_value>& v) {
    auto arr = json::array();
    for (auto& p : v)
      arr.push_back({{"field", p.field}, {"value_hex", to_hex(p.value)}});
    obj_[n] = std::move(arr);
  }
  void floats(const char* n, const std::vector<float>& v) {
    obj_[n] = float_bits(v);
  }
  void vectors(const char* n,
               const std::vector<codec::snap::vector_element>& v) {
    auto arr = json::array();
    for (auto& e : v)
      arr.push_back(
        {{"name", e.name}, {"vector_f32_bits", float_bits(e.vector)}});
    obj_[n] = std::move(arr);
  }

private:
  static json float_bits(const std::vector<float>& v) {
    auto arr = json::array();
    for (auto x : v)
      arr.push_back(bits_hex(x));
    return arr;
  }

  json& obj_;
};

// Snapshot entries and keyspace values have the same proto/vector shape.
template <class Proto>
void proto_fields(field_writer& w, const Proto& p) {
  w.str("type_name", p.type_name);
  w.bytes("data", p.data);
}

template <class Vector>
void vector_fields(field_writer& w, const Vector& v) {
  w.u8("metric", v.metric);
  w.u8("quantization", v.quantization);
  w.u32("connectivity", v.connectivity);
  w.u32("expansion_add", v.expansion_add);
  w.u32("dim", v.dim);
  w.vectors("elements", v.elements);
}

/// Snapshot values in on-disk order, as the file listings show them.
struct snapshot_value_writer {
  field_writer& w;
  void operator()(const std::string& s) {
    w.bytes("value", s);
  }
  void operator()(const codec::snap::list& l) {
    w.bytes_list("elements", l.elements);
  }
  void operator()(const codec::snap::sorted_set& z) {
    w.scored("members", z.members);
  }
  void operator()(const codec::snap::hash& h) {
    w.pairs("fields", h.fields);
  }
  void operator()(const codec::snap::set& s) {
    w.strs("members", s.members);
  }
  void operator()(const codec::snap::proto& p) {
    proto_fields(w, p);
  }
  void operator()(const codec::snap::vector_set& v) {
    vector_fields(w, v);
  }
};

/// Keyspace values: unordered collections sorted by bytes so that the output
/// is reproducible (the recovery listings' *_sorted keys).
struct keyspace_value_writer {
  field_writer& w;
  void operator()(const std::string& s) {
    w.bytes("value", s);
  }
  void operator()(const codec::list_value& l) {
    w.bytes_list("elements", l);
  }
  void operator()(const codec::sorted_set& z) {
    std::vector<codec::scored_member> members;
    members.reserve(z.size());
    for (auto& [score, member] : z.by_score())
      members.push_back({score, member});
    std::sort(members.begin(), members.end(),
              [](auto& a, auto& b) { return a.member < b.member; });
    w.scored("members_sorted_by_name", members);
  }
  void operator()(const codec::hash_value& h) {
    std::vector<codec::field_value> fields;
    fields.reserve(h.size());
    for (auto& [field, value] : h)
      fields.push_back({field, value});
    std::sort(fields.begin(), fields.end(),
              [](auto& a, auto& b) { return a.field < b.field; });
    w.pairs("fields_sorted", fields);
  }
  void operator()(const codec::set_value& s) {
    std::vector<std::string> members{s.begin(), s.end()};
    std::sort(members.begin(), members.end());
    w.strs("members_sorted", members);
  }
  void operator()(const codec::proto_value& p) {
    proto_fields(w, p);
  }
  void operator()(const codec::vector_value& v) {
    vector_fields(w, v);
  }
};

json position_json(uint64_t index, uint64_t offset, uint64_t size) {
  return {{"index", index}, {"file_offset", offset}, {"byte_size", size}};
}

// The v3 framing of a record or entry.
void sealed_fields(json& j, const std::string& nonce, uint32_t ct_len,
                   uint32_t plain_size) {
  j["nonce_hex"] = to_hex(nonce);
  j["ciphertext_len"] = ct_len;
  j["plaintext_size"] = plain_size;
}

// -- reading a file of either format ------------------------------------------

enum class file_kind { aof, snapshot };

const char* format_name(file_kind k) {
  return k == file_kind::aof ? "aof" : "snapshot";
}

const char* item_noun(file_kind k) {
  return k == file_kind::aof ? "records" : "entries";
}

/// What reading a whole file found, beyond the items themselves.
struct scan_summary {
  file_kind kind = file_kind::aof;
  uint8_t version = 0;
  uint64_t items = 0;
  read_end end;
  std::string path;
  std::string diagnosis; ///< the reader's one line for a non-clean end
  json header;
  json footer = json::object(); ///< snapshot footer CRCs, when known
};

/// Tells an AOF from a snapshot by its magic.
codec::result<file_kind> detect_kind(codec::file_system& fs,
                                     const std::string& path) {
  auto file = fs.open_readable(path);
  if (!file)
    return std::move(file).err();
  char magic[4];
  auto n = (*file)->read_at(0, magic, sizeof magic);
  if (!n)
    return std::move(n).err();
  std::string_view got{magic, *n};
  if (got == codec::aof_magic)
    return file_kind::aof;
  if (got == codec::snapshot_magic)
    return file_kind::snapshot;
  if (got.size() < sizeof magic)
    return codec::error{errc::unexpected_eof,
                        path + ": file is " + std::to_string(got.size())
                          + " bytes, too short for an ember header; it is "
                            "not an AOF or snapshot file"};
  return codec::error{errc::invalid_magic,
                      path + ": invalid magic 0x" + to_hex(got)
                        + " (expected \"EAOF\" or \"ESNP\"); this is not an "
                          "ember AOF or snapshot file"};
}

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
  if (s.end.kind == read_end::clean)
    s.footer["footer_crc32"] = hex32(reader->stored_footer());
  else if (s.end.code == errc::checksum_mismatch
           && s.end.index == reader->entry_count()) {
    s.footer["stored_crc32"] = hex32(reader->stored_footer());
    s.footer["computed_crc32"] = hex32(reader->computed_footer());
  }
  return s;
}

/// Opens `path` as the format its magic names and feeds every record or
/// entry to `sink`. An error means the file could not be opened as either.
template <class Sink>
codec::result<scan_summary> scan(const std::string& path,
                                 const codec::encryption_key* key,
                                 Sink& sink) {
  auto& fs = codec::posix_file_system();
  auto kind = detect_kind(fs, path);
  if (!kind)
    return std::move(kind).err();
  if (*kind == file_kind::aof)
    return scan_aof(fs, path, key, sink);
  return scan_snapshot(fs, path, key, sink);
}

/// Prints each record or entry as one JSON line.
struct line_sink {
  std::ostream& out;
  void record(const codec::aof_record& r, const codec::record_info& info,
              uint64_t index, uint8_t version) {
    out << to_line(record_json(r, info, index, version)) << '\n';
  }
  void entry(const codec::snapshot_entry& e, const codec::entry_info& info,
             uint64_t index, uint8_t version) {
    out << to_line(entry_json(e, info, index, version)) << '\n';
  }
};

/// Only walks the file (check needs the end, not the items).
struct null_sink {
  void record(const codec::aof_record&, const codec::record_info&, uint64_t,
              uint8_t) {
  }
  void entry(const codec::snapshot_entry&, const codec::entry_info&, uint64_t,
             uint8_t) {
  }
};

json status_json(const scan_summary& s) {
  auto j = end_json(s.end);
  j["format"] = format_name(s.kind);
  j["header"] = s.header;
  j[item_noun(s.kind)] = s.items;
  for (auto& [name, value] : s.footer.items())
    j[name] = value;
  return j;
}

json unreadable_json(const codec::error& e) {
  return {{"status", "unreadable"},
          {"reason", e.message},
          {"error", codec::to_string(e.code)},
          {"error_kind", codec::reference_kind(e.code)}};
}

int exit_code_of(const read_end& end) {
  if (end.kind == read_end::clean)
    return exit_ok;
  if (end.kind == read_end::corrupt && end.code == errc::io_error)
    return exit_usage;
  return exit_damaged;
}

/// The OS failing us is an I/O error (exit 2); anything else means the bytes
/// are not a file we can read (exit 1).
bool is_io(const codec::error& e) {
  return e.code == errc::io_error;
}

int fail(std::ostream& err, const char* command, const std::string& message) {
  err << "ember-persist " << command << ": " << message << '\n';
  return exit_usage;
}

/// A loaded --key, or none when the option was not given.
using maybe_key = std::optional<codec::encryption_key>;

codec::result<maybe_key> load_key(const std::optional<std::string>& path) {
  if (!path)
    return maybe_key{};
  auto key = codec::encryption_key::load(codec::posix_file_system(), *path);
  if (!key)
    return std::move(key).err();
  return maybe_key{std::move(*key)};
}

const codec::encryption_key* key_ptr(const maybe_key& key) {
  return key ? &*key : nullptr;
}

// -- check verdicts -----------------------------------------------------------

std::string check_verdict(const std::string& path, const scan_summary& s) {
  if (s.end.kind == read_end::clean)
    return path + ": ok, " + std::to_string(s.items) + " "
           + item_noun(s.kind) + ", version " + std::to_string(s.version);
  if (!s.diagnosis.empty())
    return s.diagnosis;
  return path + ": " + s.end.name() + " at byte offset "
         + std::to_string(s.end.offset) + ": " + s.end.reason;
}

// -- recover ------------------------------------------------------------------

json file_report_json(const codec::file_report& f) {
  json j{{"path", f.path}, {"present", f.present}};
  if (!f.present)
    return j;
  j["loaded"] = f.loaded;
  j["set_aside"] = f.set_aside;
  j["version"] = f.version;
  j["items"] = f.items;
  j["bytes"] = f.bytes;
  j["end"] = end_json(f.end);
  if (!f.diagnosis.empty())
    j["diagnosis"] = f.diagnosis;
  return j;
}

void warn_about(std::ostream& err, const codec::file_report& f) {
  if (f.present && !f.diagnosis.empty())
    err << "ember-persist recover: warning: " << f.diagnosis << '\n';
}

int refused(std::ostream& err, const recover_request& req,
            const codec::error& e) {
  err << "ember-persist recover: " << e.message;
  if (!req.salvage && e.code == errc::corrupt_file
      && e.message.find("--salvage") == std::string::npos)
    err << "; rerun with --salvage to recover what is readable (damaged "
           "files are left untouched)";
  err << '\n';
  return is_io(e) ? exit_usage : exit_damaged;
}

// -- command line -------------------------------------------------------------

constexpr const char* tool_footer = R"(Exit codes (every subcommand):
  0  the file is clean / recovery succeeded
  1  damaged: torn tail, corruption, unreadable file, or recovery refused
  2  usage error, missing or unreadable file or key file, I/O error

Encrypted (v3) files need --key KEYFILE: 32 raw bytes, or 64 hex characters
and an optional newline. Key material is never printed.
Run `ember-persist SUBCOMMAND --help` for each output format.)";

constexpr const char* dump_footer = R"(Output: one JSON object per line.
  Per AOF record: index, file_offset, byte_size, tag, crc32 (v2, 8 hex
  digits), op and the record's fields (bytes as lowercase hex in *_hex keys,
  ZADD members as {score_bits, member} with the f64 bit pattern in 16 hex
  digits, VADD vector_f32_bits as 8 hex digits per f32, 64-bit integers
  exact); v3 records add nonce_hex, ciphertext_len, plaintext_size.
  Per snapshot entry: index, file_offset, byte_size, key, type (string,
  list, sorted_set, hash, set, proto, vector), the value (value_hex,
  elements_hex, members, fields, type_name + data_hex, or metric,
  quantization, connectivity, expansion_add, dim, elements) and expire_ms;
  v3 entries add nonce_hex, ciphertext_len, plaintext_size.
  Last line, the status (with format, header and the item count):
    {"status":"clean"}
    {"status":"torn_tail","offset":N}     N = end of the last whole record
    {"status":"corrupt","index":I,"offset":N,"reason":"..."}
        I, N = the first bad record/entry (I = entry_count: snapshot footer)
    {"status":"unreadable","reason":"..."}  bad magic, unsupported version,
        encrypted without --key
    {"status":"io_error","index":I,"offset":N,"reason":"..."}  the disk
        failed while reading (the file itself may be intact)
Exit codes: 0 clean, 1 torn_tail/corrupt/unreadable, 2 usage or I/O error.)";

constexpr const char* recover_footer
  = R"(Output: the recovered keyspace, one JSON object per key, sorted by key
bytes: key, type (string, list, hash, set, sorted_set, proto, vector), the
value (value_hex; elements_hex; fields_sorted [{field, value_hex}];
members_sorted; members_sorted_by_name [{member, score_bits}]; proto:
type_name, data_hex; vector: metric, quantization, connectivity,
expansion_add, dim, elements), "ttl": "present"|"absent" and deadline_ms
(unix ms) when present. Then one line {"report":{...}}: shard,
loaded_snapshot, replayed_aof, key_count, records_replayed, records_skipped,
expired_dropped, aof_valid_end, snapshot and aof file reports, duration_us.
By default a damaged file (mid-file AOF corruption, a bad snapshot, a
snapshot of another shard) refuses recovery: nothing on stdout, one
diagnosis line on stderr naming the file and offset, exit 1. --salvage loads
what is readable instead: a bad snapshot is set aside whole, a corrupt AOF
contributes the records before the bad one. Files are never modified.
Exit codes: 0 recovered, 1 refused, 2 usage or I/O error.)";

constexpr const char* check_footer
  = R"(Output: one line on stdout.
  clean:   "FILE: ok, N records, version V" (snapshots: "N entries")
  damaged: one diagnosis line naming the file, the offset, the record or
           entry index, the reason and what to do (a torn tail says how many
           bytes follow the last whole record; `ember-persist repair` cuts
           them)
  unreadable (bad magic, version, encrypted without --key): the reason.
Usage and I/O errors go to stderr.
Exit codes: 0 clean, 1 damaged or unreadable, 2 usage or I/O error.)";

constexpr const char* repair_footer
  = R"(Cuts an AOF back to its last whole record: a torn tail, or everything
from the first corrupt record on. Without --yes it only says what it would
cut (exit 1). With --yes it first copies the whole file to
FILE.bak-<unix ms> (mode 0600, fsynced), then truncates FILE and fsyncs it,
and prints what was cut. A clean file is left alone (exit 0). Snapshots are
never cut (a snapshot is whole or unusable): restore one from a backup or
let recovery set it aside with on-corruption=salvage. Records this build
cannot read (optional kinds) are not damage: repair refuses them.
Exit codes: 0 repaired or nothing to do, 1 refused or not confirmed,
2 usage or I/O error.)";

CLI::Option* add_key_option(CLI::App* cmd, std::string& key) {
  return cmd->add_option("--key", key,
                         "AES-256 key file of encrypted (v3) files: 32 raw "
                         "bytes or 64 hex characters")
    ->type_name("KEYFILE");
}

std::optional<std::string> given(const CLI::Option* opt,
                                 const std::string& value) {
  if (opt->count() == 0)
    return std::nullopt;
  return value;
}

} // namespace

// -- JSON of codec values -----------------------------------------------------

json record_json(const codec::aof_record& r, const codec::record_info& info,
                 uint64_t index, uint8_t version) {
  auto j = position_json(index, info.offset, info.size);
  j["tag"] = codec::tag_of(r);
  if (version == codec::format_v2)
    j["crc32"] = hex32(info.crc);
  std::visit(
    [&j](const auto& x) {
      using record = std::decay_t<decltype(x)>;
      j["op"] = std::string{record::op_text};
      field_writer w{j};
      record::describe(w, x);
    },
    r);
  if (version == codec::format_v3)
    sealed_fields(j, info.nonce, info.ciphertext_len, info.plaintext_size);
  return j;
}

json entry_json(const codec::snapshot_entry& e, const codec::entry_info& info,
                uint64_t index, uint8_t version) {
  auto j = position_json(index, info.offset, info.size);
  j["key"] = e.key;
  j["type"] = codec::type_name(static_cast<uint8_t>(e.value.index()));
  field_writer w{j};
  std::visit(snapshot_value_writer{w}, e.value);
  j["expire_ms"] = e.expire_ms;
  if (version == codec::format_v3)
    sealed_fields(j, info.nonce, info.ciphertext_len, info.plaintext_size);
  return j;
}

json keyspace_entry_json(const std::string& key, const codec::entry& e) {
  json j{{"key", key},
         {"type", codec::type_name(static_cast<uint8_t>(e.val.index()))}};
  field_writer w{j};
  std::visit(keyspace_value_writer{w}, e.val);
  j["ttl"] = e.has_deadline() ? "present" : "absent";
  if (e.has_deadline())
    j["deadline_ms"] = e.deadline_ms;
  return j;
}

json end_json(const read_end& end) {
  bool io = end.kind == read_end::corrupt && end.code == errc::io_error;
  json j{{"status", io ? "io_error" : end.name()}};
  if (end.kind == read_end::torn_tail) {
    j["offset"] = end.offset;
    j["dropped_bytes"] = end.dropped_bytes;
    if (!end.reason.empty())
      j["reason"] = end.reason;
  } else if (end.kind == read_end::corrupt) {
    j["index"] = end.index;
    j["offset"] = end.offset;
    j["reason"] = end.reason;
    j["error"] = codec::to_string(end.code);
    j["error_kind"] = codec::reference_kind(end.code);
  }
  return j;
}

json report_json(const codec::recovery_report& r) {
  json j{{"shard", r.shard_id},
         {"loaded_snapshot", r.loaded_snapshot},
         {"replayed_aof", r.replayed_aof},
         {"key_count", r.keys},
         {"records_replayed", r.records_replayed},
         {"records_skipped", r.records_skipped},
         {"expired_dropped", r.expired_dropped},
         {"aof_valid_end", r.aof_valid_end},
         {"snapshot", file_report_json(r.snapshot)},
         {"aof", file_report_json(r.aof)},
         {"duration_us", r.duration.count()}};
  return {{"report", std::move(j)}};
}

std::string to_line(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// -- subcommands --------------------------------------------------------------

int dump_file(const std::string& path, const std::optional<std::string>& key,
              std::ostream& out, std::ostream& err) {
  auto k = load_key(key);
  if (!k)
    return fail(err, "dump", k.err().message);
  line_sink sink{out};
  auto s = scan(path, key_ptr(*k), sink);
  if (!s && is_io(s.err()))
    return fail(err, "dump", s.err().message);
  out << to_line(s ? status_json(*s) : unreadable_json(s.err())) << '\n';
  out.flush();
  return s ? exit_code_of(s->end) : exit_damaged;
}

int check_file(const std::string& path, const std::optional<std::string>& key,
               std::ostream& out, std::ostream& err) {
  auto k = load_key(key);
  if (!k)
    return fail(err, "check", k.err().message);
  null_sink sink;
  auto s = scan(path, key_ptr(*k), sink);
  if (!s) {
    if (is_io(s.err()))
      return fail(err, "check", s.err().message);
    out << s.err().message << '\n';
    return exit_damaged;
  }
  if (exit_code_of(s->end) == exit_usage)
    return fail(err, "check", path + ": " + s->end.reason);
  out << check_verdict(path, *s) << '\n';
  return exit_code_of(s->end);
}

int recover_dir(const recover_request& req, std::ostream& out,
                std::ostream& err) {
  std::error_code ec;
  if (!std::filesystem::is_directory(req.dir, ec))
    return fail(err, "recover",
                req.dir
                  + ": not a directory; pass the data directory that holds "
                    "shard-N.snap and shard-N.aof");
  auto k = load_key(req.key);
  if (!k)
    return fail(err, "recover", k.err().message);
  codec::recovery_options opts;
  opts.key = key_ptr(*k);
  opts.policy = req.salvage ? codec::corruption_policy::salvage
                            : codec::corruption_policy::refuse;
  auto res = codec::recover_shard(codec::posix_file_system(), req.dir,
                                  req.shard, opts);
  if (!res)
    return refused(err, req, res.err());
  auto& report = res->report;
  if (!report.snapshot.present && !report.aof.present)
    err << "ember-persist recover: warning: neither "
        << codec::snapshot_path(req.dir, req.shard) << " nor "
        << codec::aof_path(req.dir, req.shard)
        << " exists; the keyspace is empty (check DIR and --shard)\n";
  warn_about(err, report.snapshot);
  warn_about(err, report.aof);
  for (auto& key : res->data.sorted_keys())
    out << to_line(keyspace_entry_json(key, *res->data.find(key))) << '\n';
  out << to_line(report_json(report)) << '\n';
  out.flush();
  return exit_ok;
}

namespace {

/// Copies `path` to a fresh backup beside it and makes the copy durable.
codec::result<std::string> backup_copy(codec::file_system& fs,
                                       const std::string& path) {
  auto backup = path + ".bak-" + std::to_string(codec::unix_now_ms());
  if (auto st = codec::copy_file_durably(fs, path, backup); !st)
    return std::move(st).err();
  return backup;
}

} // namespace

int repair_file(const std::string& path, const std::optional<std::string>& key,
                bool yes, std::ostream& out, std::ostream& err) {
  auto& fs = codec::posix_file_system();
  auto k = load_key(key);
  if (!k)
    return fail(err, "repair", k.err().message);
  null_sink sink;
  auto s = scan(path, key_ptr(*k), sink);
  if (!s) {
    if (is_io(s.err()))
      return fail(err, "repair", s.err().message);
    out << s.err().message << "; nothing was changed\n";
    return exit_damaged;
  }
  auto& end = s->end;
  if (end.kind == read_end::clean) {
    out << path << ": clean, nothing to repair\n";
    return exit_ok;
  }
  if (end.kind == read_end::corrupt && end.code == errc::io_error)
    return fail(err, "repair", path + ": " + end.reason);
  if (s->kind != file_kind::aof || end.needs_rebuild()) {
    out << s->diagnosis << "; repair refuses to cut this file\n";
    return exit_damaged;
  }
  auto what = std::to_string(end.dropped_bytes) + " bytes from byte offset "
              + std::to_string(end.offset) + " (record #"
              + std::to_string(end.index) + " on; the "
              + std::to_string(end.index) + " records before it stay)";
  if (!yes) {
    out << path << ": would cut " << what
        << "; rerun with --yes to do it (a backup is written first)\n";
    return exit_damaged;
  }
  auto backup = backup_copy(fs, path);
  if (!backup)
    return fail(err, "repair",
                "cannot write a backup, nothing was changed: "
                  + backup.err().message);
  auto file = fs.open_writable(path, codec::open_mode::append_existing);
  if (!file)
    return fail(err, "repair", file.err().message);
  if (auto st = (*file)->truncate(end.offset); !st)
    return fail(err, "repair", st.err().message + " (backup: " + *backup + ")");
  if (auto st = (*file)->sync(); !st)
    return fail(err, "repair", st.err().message + " (backup: " + *backup + ")");
  out << path << ": cut " << what << "; backup at " << *backup << '\n';
  return exit_ok;
}

int run_tool(int argc, const char* const* argv, std::ostream& out,
             std::ostream& err) {
  CLI::App app{"Inspect and recover ember persistence files (AOF and "
               "snapshots).",
               "ember-persist"};
  app.footer(tool_footer);
  app.require_subcommand(1);

  std::string file;
  std::string dir;
  std::string key;
  int shard = 0;
  bool salvage = false;

  auto* dump = app.add_subcommand(
    "dump", "List every record or entry of an AOF or snapshot as JSON lines");
  dump->footer(dump_footer);
  dump->add_option("FILE", file, "AOF (EAOF) or snapshot (ESNP) file")
    ->required();
  auto* dump_key = add_key_option(dump, key);

  auto* recover = app.add_subcommand(
    "recover",
    "Rebuild a shard's keyspace from DIR and print it as JSON lines");
  recover->footer(recover_footer);
  recover->add_option("DIR", dir, "data directory with shard-N.snap/.aof")
    ->required();
  recover->add_option("--shard", shard, "shard number N (0..65535)")
    ->type_name("N")
    ->required()
    ->check(CLI::Range(0, 65535));
  auto* recover_key = add_key_option(recover, key);
  recover->add_flag("--salvage", salvage,
                    "load what is readable instead of refusing damaged files");

  auto* check = app.add_subcommand(
    "check", "Verify an AOF or snapshot and print a one-line verdict");
  check->footer(check_footer);
  check->add_option("FILE", file, "AOF (EAOF) or snapshot (ESNP) file")
    ->required();
  auto* check_key = add_key_option(check, key);

  bool yes = false;
  auto* repair = app.add_subcommand(
    "repair", "Cut a torn or corrupt AOF tail back to the last whole record");
  repair->footer(repair_footer);
  repair->add_option("FILE", file, "AOF file (EAOF)")->required();
  auto* repair_key = add_key_option(repair, key);
  repair->add_flag("--yes", yes, "really cut (after writing a backup)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a "parse error" with exit code 0.
    return app.exit(e, out, err) == 0 ? exit_ok : exit_usage;
  }
  if (dump->parsed())
    return dump_file(file, given(dump_key, key), out, err);
  if (check->parsed())
    return check_file(file, given(check_key, key), out, err);
  if (repair->parsed())
    return repair_file(file, given(repair_key, key), yes, out, err);
  recover_request req{dir, static_cast<uint16_t>(shard),
                      given(recover_key, key), salvage};
  return recover_dir(req, out, err);
}

} // namespace ember::app
