#include "app/dir_stats.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <ostream>
#include <vector>

#include "app/data_dir.hpp"
#include "app/file_scan.hpp"
#include "app/tool_support.hpp"

namespace ember::app {

namespace {

using codec::read_end;

/// Collects problems and the exit code they imply.
struct findings {
  json problems = json::array();
  int rc = exit_ok;

  void add(const std::string& text, bool io) {
    problems.push_back(text);
    rc = std::max(rc, io ? int{exit_usage} : int{exit_damaged});
  }
};

json unreadable(const codec::error& e) {
  return {{"status", is_io(e) ? "io_error" : "unreadable"},
          {"reason", e.message}};
}

json file_stats(codec::file_system& fs, const std::string& path,
                file_kind kind, const codec::encryption_key* key,
                findings& found) {
  json j{{"file", path}, {"format", format_name(kind)}};
  auto there = fs.exists(path);
  if (!there || !*there) {
    j["present"] = false;
    if (!there)
      found.add(there.err().message, true);
    return j;
  }
  j["present"] = true;
  if (auto stamp = stamp_of(fs, path)) {
    j["bytes"] = stamp->bytes;
    j["modified_ms"] = stamp->modified_ms;
    j["modified"] = utc_text(stamp->modified_ms);
  }
  if (auto head = detect_kind(fs, path)) {
    j["version"] = head->version;
    j["encrypted"] = head->version == codec::format_v3;
  }
  null_sink sink;
  auto s = kind == file_kind::aof ? scan_aof(fs, path, key, sink)
                                  : scan_snapshot(fs, path, key, sink);
  if (!s) {
    j["end"] = unreadable(s.err());
    found.add(s.err().message, is_io(s.err()));
    return j;
  }
  j[item_noun(kind)] = s->items;
  j["end"] = end_json(s->end);
  if (s->end.kind != read_end::clean)
    found.add(s->diagnosis.empty() ? path + ": " + s->end.reason
                                   : s->diagnosis,
              s->end.code == codec::errc::io_error);
  return j;
}

/// Key, TTL and type counts of a recovered keyspace.
json keyspace_stats(const codec::keyspace& ks) {
  std::array<uint64_t, 7> types{};
  uint64_t with_ttl = 0;
  for (auto& key : ks.sorted_keys()) {
    auto* e = ks.find(key);
    ++types.at(e->val.index());
    with_ttl += e->has_deadline() ? 1 : 0;
  }
  json by_type = json::object();
  for (size_t t = 0; t < types.size(); ++t)
    by_type[codec::type_name(static_cast<uint8_t>(t))] = types[t];
  return {{"status", "ok"},
          {"keys", ks.size()},
          {"keys_with_ttl", with_ttl},
          {"types", std::move(by_type)}};
}

json shard_stats(codec::file_system& fs, const std::string& dir,
                 uint16_t shard, const codec::encryption_key* key,
                 findings& found) {
  auto problems_before = found.problems.size();
  json files = json::array();
  files.push_back(file_stats(fs, codec::snapshot_path(dir, shard),
                             file_kind::snapshot, key, found));
  files.push_back(file_stats(fs, codec::aof_path(dir, shard), file_kind::aof,
                             key, found));
  json j{{"shard", shard}, {"files", std::move(files)}};
  auto marker = rewrite_marker_path(dir, shard);
  auto pending = fs.exists(marker);
  j["rewrite_pending"] = pending && *pending;
  if (pending && *pending)
    found.add(marker
                + ": an AOF rewrite is unfinished; emberd completes it on "
                  "its next start, until then the files above are the ones "
                  "before the rewrite",
              false);
  codec::recovery_options opts;
  opts.key = key;
  opts.policy = codec::corruption_policy::refuse;
  auto rec = codec::recover_shard(fs, dir, shard, opts);
  if (rec) {
    j["recovery"] = keyspace_stats(rec->data);
  } else {
    j["recovery"] = unreadable(rec.err());
    if (!is_io(rec.err()))
      j["recovery"]["status"] = "refused";
    // The damage is usually listed already (a file's end): say so rather
    // than repeat its diagnosis.
    bool listed = found.problems.size() > problems_before;
    found.add("shard " + std::to_string(shard) + ": recovery refused"
                + (listed ? std::string{" because of the damage listed above "
                                        "(`ember-persist recover --salvage` "
                                        "loads what is readable)"}
                          : ": " + rec.err().message),
              is_io(rec.err()));
  }
  return j;
}

// -- the table ----------------------------------------------------------------

std::string end_text(const json& end) {
  std::string status = end.value("status", "");
  if (status == "clean")
    return "clean";
  auto num = [&](const char* k) { return std::to_string(end.value(k, 0ull)); };
  if (status == "torn_tail")
    return "torn tail: " + num("dropped_bytes") + " bytes after byte "
           + num("offset");
  if (status == "corrupt")
    return "corrupt: #" + num("index") + " at byte " + num("offset");
  return status; // unreadable, io_error: the reason is listed below
}

std::string file_name(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::vector<std::string> file_row(const json& f) {
  auto name = file_name(f["file"].get<std::string>());
  if (!f["present"].get<bool>())
    return {name, "-", "-", "-", "-", "absent", "-"};
  auto opt = [&](const char* k) {
    return f.contains(k) ? f[k].dump() : std::string{"-"};
  };
  std::string items = "-";
  for (auto noun : {"records", "entries"})
    if (f.contains(noun))
      items = f[noun].dump() + " " + noun;
  std::string enc = "-";
  if (f.contains("encrypted"))
    enc = f["encrypted"].get<bool>() ? "yes" : "no";
  return {name,
          opt("bytes"),
          opt("version"),
          enc,
          items,
          end_text(f["end"]),
          f.value("modified", std::string{"-"})};
}

void print_table(std::ostream& out,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      width.resize(std::max(width.size(), row.size()));
      width[c] = std::max(width[c], row[c].size());
    }
  for (auto& row : rows) {
    std::string line = " ";
    for (size_t c = 0; c < row.size(); ++c)
      line += " " + row[c] + std::string(width[c] - row[c].size(), ' ');
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out << line << '\n';
  }
}

std::string recovery_text(const json& r) {
  if (r["status"] != "ok")
    return "recovery " + r["status"].get<std::string>()
           + " (see problems below)";
  std::string text = "keys after recovery: " + r["keys"].dump() + " ("
                     + r["keys_with_ttl"].dump() + " with TTL)";
  std::string sep = "; ";
  for (auto& [type, count] : r["types"].items())
    if (count.get<uint64_t>() > 0) {
      text += sep + type + " " + count.dump();
      sep = ", ";
    }
  return text;
}

void print_human(std::ostream& out, const json& stats) {
  auto& shards = stats["shards"];
  out << stats["dir"].get<std::string>() << ": " << shards.size()
      << (shards.size() == 1 ? " shard" : " shards") << '\n';
  for (auto& s : shards) {
    out << "shard " << s["shard"].dump()
        << (s["rewrite_pending"].get<bool>() ? " (rewrite pending)" : "")
        << '\n';
    std::vector<std::vector<std::string>> rows{
      {"file", "bytes", "version", "encrypted", "items", "end",
       "modified (UTC)"}};
    for (auto& f : s["files"])
      rows.push_back(file_row(f));
    print_table(out, rows);
    out << "  " << recovery_text(s["recovery"]) << '\n';
  }
  auto& problems = stats["problems"];
  if (problems.empty()) {
    out << "no problems found\n";
    return;
  }
  out << problems.size()
      << (problems.size() == 1 ? " problem:\n" : " problems:\n");
  for (auto& p : problems)
    out << "  " << p.get<std::string>() << '\n';
}

} // namespace

json dir_stats_json(const std::string& dir, const codec::encryption_key* key,
                    int& exit_code) {
  auto& fs = codec::posix_file_system();
  findings found;
  json shards = json::array();
  auto list = list_shards(dir);
  if (!list)
    found.add(list.err().message, true);
  else
    for (auto shard : *list)
      shards.push_back(shard_stats(fs, dir, shard, key, found));
  exit_code = found.rc;
  return {{"dir", dir},
          {"shards", std::move(shards)},
          {"problems", std::move(found.problems)}};
}

int stats_dir(const stats_request& req, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  if (!std::filesystem::is_directory(req.dir, ec))
    return fail(err, "stats",
                req.dir
                  + ": not a directory; pass the data directory that holds "
                    "shard-N.snap and shard-N.aof");
  auto k = load_key(req.key, "stats", err);
  if (!k)
    return fail(err, "stats", k.err().message);
  int rc = exit_ok;
  auto stats = dir_stats_json(req.dir, key_ptr(*k), rc);
  if (req.as_json)
    out << stats.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
  else
    print_human(out, stats);
  out.flush();
  return rc;
}

} // namespace ember::app
