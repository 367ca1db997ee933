#include "app/listing.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string_view>
#include <utility>
#include <vector>

#include "app/file_scan.hpp"
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
  codec::visit(keyspace_value_writer{w}, e.val);
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
  auto k = load_key(key, "dump", err);
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
  auto k = load_key(key, "check", err);
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
  auto k = load_key(req.key, "recover", err);
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
  auto k = load_key(key, "repair", err);
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
  // A wrong key fails at record 0; cutting there would drop every record.
  if (wrong_key_suspected(*s)) {
    out << path << ": the first record (byte offset " << end.offset
        << ") does not decrypt with this key: wrong --key? repair refuses "
           "to cut a file it cannot read; nothing was changed\n";
    return exit_damaged;
  }
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

} // namespace ember::app
