// The operator tool's administrative subcommands (keygen, encrypt, stats)
// and repair's safety rules, on golden files and on damaged copies of them
// in temp dirs.
#define CAF_SUITE tool_admin
#include "caf/test/unit_test_impl.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <sys/stat.h>

#include "app/listing.hpp"
#include "codec/encryption_key.hpp"
#include "codec/file_system.hpp"
#include "tests/test_support.hpp"
#include "tests/tool_runner.hpp"

using namespace ember;
using nlohmann::json;
using test::cli;
using test::golden;
using test::golden_json;
using test::run_output;

namespace fs = std::filesystem;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

uint32_t mode_of(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return 0xFFFFFFFF;
  return st.st_mode & 07777;
}

/// Every file of a directory with its bytes (to prove nothing changed).
std::map<std::string, std::string> snapshot_of(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (auto& e : fs::directory_iterator{dir})
    files[e.path().filename().string()] = test::slurp(e.path().string());
  return files;
}

/// Where the last whole record of a golden AOF ends (its listing).
size_t whole_records_end(const std::string& name) {
  auto records = golden_json(name + ".expected.json")["records"];
  if (records.empty())
    return 5;
  auto& last = records.back();
  return last["file_offset"].get<size_t>() + last["byte_size"].get<size_t>();
}

/// Copies golden shard files into `dir`. Shard 1's AOF ends in a torn
/// tail (a crash mid-append); it is copied without it, as the writer
/// leaves it, so that shards 1 and 3 are the clean ones.
void copy_shards(const test::temp_dir& dir, std::initializer_list<int> shards) {
  for (auto n : shards)
    for (auto ext : {".snap", ".aof"}) {
      auto name = "shard-" + std::to_string(n) + ext;
      auto bytes = test::slurp(golden(name));
      if (name == "shard-1.aof")
        bytes.resize(whole_records_end(name));
      test::spit(dir.file(name), bytes);
    }
}

std::string new_key(const test::temp_dir& dir, const std::string& name) {
  auto path = dir.file(name);
  auto r = cli({"keygen", path});
  CAF_REQUIRE_EQUAL(r.rc, app::exit_ok);
  return path;
}

/// The recovered keyspace lines of a shard, without the report and with
/// TTL deadlines removed (recovery anchors them at its own clock).
std::vector<json> keyspace_of(const std::string& dir, int shard,
                              std::optional<std::string> key) {
  std::vector<std::string> args{"recover", dir, "--shard",
                                std::to_string(shard)};
  if (key) {
    args.push_back("--key");
    args.push_back(*key);
  }
  auto r = cli(args);
  CAF_REQUIRE_EQUAL(r.rc, app::exit_ok);
  CAF_REQUIRE(!r.lines.empty());
  r.lines.pop_back(); // the report
  for (auto& line : r.lines)
    line.erase("deadline_ms");
  return r.lines;
}

uint8_t version_byte(const std::string& path) {
  return static_cast<uint8_t>(test::slurp(path).at(4));
}

json stats_json(const std::string& dir, std::optional<std::string> key,
                int expected_rc) {
  std::vector<std::string> args{"stats", dir, "--json"};
  if (key) {
    args.push_back("--key");
    args.push_back(*key);
  }
  auto r = cli(args);
  CAF_CHECK_EQUAL(r.rc, expected_rc);
  return json::parse(r.out);
}

const json& shard_of(const json& stats, int shard) {
  for (auto& s : stats["shards"])
    if (s["shard"] == shard)
      return s;
  CAF_FAIL("shard " << shard << " missing from stats");
}

size_t golden_items(const std::string& name, const char* noun) {
  return golden_json(name + ".expected.json")[noun].size();
}

} // namespace

// -- keygen -------------------------------------------------------------------

CAF_TEST(keygen writes a loadable private key and never overwrites) {
  test::temp_dir dir;
  auto path = dir.file("ember.key");
  auto r = cli({"keygen", path});
  CAF_CHECK_EQUAL(r.rc, app::exit_ok);
  CAF_CHECK(contains(r.out, path));
  CAF_CHECK_EQUAL(r.err, "");
  CAF_CHECK_EQUAL(mode_of(path), 0600u);
  auto text = test::slurp(path);
  CAF_CHECK_EQUAL(text.size(), 65u);
  CAF_CHECK(!contains(r.out, text.substr(0, 64)));
  codec::key_load_options strict;
  strict.permissions = codec::key_permissions::refuse;
  auto key = codec::encryption_key::load(codec::posix_file_system(), path,
                                         strict);
  CAF_REQUIRE(key);
  CAF_CHECK_EQUAL(key->warning, "");
  CAF_CHECK(key->key.to_key_file_text() == text);
  // Refuses an existing file, even an empty one, and leaves it alone.
  auto again = cli({"keygen", path});
  CAF_CHECK_EQUAL(again.rc, app::exit_damaged);
  CAF_CHECK(contains(again.err, "already exists"));
  CAF_CHECK_EQUAL(again.out, "");
  CAF_CHECK(test::slurp(path) == text);
  test::spit(dir.file("empty.key"), "");
  CAF_CHECK_EQUAL(cli({"keygen", dir.file("empty.key")}).rc,
                  app::exit_damaged);
  CAF_CHECK_EQUAL(test::slurp(dir.file("empty.key")), "");
  // Two keys differ; a missing directory is an I/O error.
  CAF_CHECK(test::slurp(new_key(dir, "other.key")) != text);
  auto missing = cli({"keygen", dir.file("no/such/dir.key")});
  CAF_CHECK_EQUAL(missing.rc, app::exit_usage);
  CAF_CHECK(!fs::exists(dir.file("no")));
}

// -- encrypt ------------------------------------------------------------------

CAF_TEST(encrypt round trip keeps every key and refuses the wrong key) {
  test::temp_dir dir;
  copy_shards(dir, {1, 3});
  auto keys = test::temp_dir{};
  auto key = new_key(keys, "right.key");
  auto wrong = new_key(keys, "wrong.key");
  std::map<int, std::vector<json>> before;
  for (int shard : {1, 3})
    before[shard] = keyspace_of(dir.path(), shard, std::nullopt);
  auto mtime_ms = [&](const char* name) {
    auto ms = codec::posix_file_system().modified_ms(dir.file(name));
    CAF_REQUIRE(ms);
    return *ms;
  };
  auto snap_mtime = mtime_ms("shard-3.snap");
  auto r = cli({"encrypt", dir.path(), "--key", key});
  CAF_CHECK_EQUAL(r.rc, app::exit_ok);
  CAF_CHECK_EQUAL(r.err, "");
  CAF_MESSAGE("encrypt output:\n" << r.out);
  CAF_CHECK(contains(r.out, "4 files encrypted and verified"));
  CAF_CHECK(contains(r.out, dir.file("shard-3.aof") + ": encrypted (v2 -> v3), "
                              + std::to_string(golden_items("shard-3.aof",
                                                            "records"))
                              + " records verified"));
  for (auto name : {"shard-1.snap", "shard-1.aof", "shard-3.snap",
                    "shard-3.aof"}) {
    CAF_CHECK_EQUAL(version_byte(dir.file(name)), 3u);
    CAF_CHECK_EQUAL(mode_of(dir.file(name)), 0600u);
  }
  // Only the data files: the temporaries are gone.
  CAF_CHECK_EQUAL(snapshot_of(dir.path()).size(), 4u);
  // Snapshot TTLs are anchored at the mtime: it is kept.
  CAF_CHECK_EQUAL(mtime_ms("shard-3.snap"), snap_mtime);
  for (int shard : {1, 3}) {
    auto after = keyspace_of(dir.path(), shard, key);
    CAF_REQUIRE_EQUAL(after.size(), before[shard].size());
    for (size_t i = 0; i < after.size(); ++i)
      CAF_CHECK_EQUAL(after[i].dump(), before[shard][i].dump());
  }
  // The wrong key: recovery refuses, encrypt refuses and changes nothing.
  auto refused = cli({"recover", dir.path(), "--shard", "3", "--key", wrong});
  CAF_CHECK_EQUAL(refused.rc, app::exit_damaged);
  auto files = snapshot_of(dir.path());
  auto other = cli({"encrypt", dir.path(), "--key", wrong});
  CAF_CHECK_EQUAL(other.rc, app::exit_damaged);
  CAF_CHECK(contains(other.err, "another key"));
  CAF_CHECK(contains(other.err, "nothing was changed"));
  CAF_CHECK(snapshot_of(dir.path()) == files);
  // Again with the right key: everything is left alone.
  auto again = cli({"encrypt", dir.path(), "--key", key});
  CAF_CHECK_EQUAL(again.rc, app::exit_ok);
  CAF_CHECK(contains(again.out, "0 files encrypted and verified, 4 already"));
  CAF_CHECK(snapshot_of(dir.path()) == files);
}

CAF_TEST(encrypt finishes a partly encrypted directory) {
  test::temp_dir dir;
  copy_shards(dir, {1});
  test::temp_dir keys;
  auto key = new_key(keys, "k");
  // Only the AOF is v3 (as after an interrupted encrypt): it is kept.
  test::temp_dir half;
  copy_shards(half, {1});
  CAF_REQUIRE_EQUAL(cli({"encrypt", half.path(), "--key", key}).rc,
                    app::exit_ok);
  auto v3_aof = test::slurp(half.file("shard-1.aof"));
  test::spit(dir.file("shard-1.aof"), v3_aof);
  auto r = cli({"encrypt", dir.path(), "--key", key});
  CAF_CHECK_EQUAL(r.rc, app::exit_ok);
  CAF_CHECK(contains(r.out, dir.file("shard-1.aof")
                              + ": already encrypted with this key"));
  CAF_CHECK(contains(r.out, dir.file("shard-1.snap") + ": encrypted (v2 -> v3)"));
  CAF_CHECK(test::slurp(dir.file("shard-1.aof")) == v3_aof);
  CAF_CHECK_EQUAL(version_byte(dir.file("shard-1.snap")), 3u);
}

CAF_TEST(encrypt refuses damaged input and changes nothing) {
  test::temp_dir keys;
  auto key = new_key(keys, "k");
  struct damage {
    const char* name;
    std::function<std::string(std::string)> apply;
    const char* says;
  };
  std::vector<damage> cases{
    {"truncated AOF",
     [](std::string s) { return s.substr(0, s.size() - 3); }, "torn tail"},
    {"flipped byte in the AOF",
     [](std::string s) {
       s[s.size() / 2] ^= 0x40;
       return s;
     },
     "record #"},
    {"truncated snapshot",
     [](std::string s) { return s.substr(0, s.size() - 10); }, "shard-3.snap"},
    {"flipped byte in the snapshot",
     [](std::string s) {
       s[s.size() / 2] ^= 0x01;
       return s;
     },
     "shard-3.snap"},
  };
  for (auto& c : cases) {
    CAF_MESSAGE(c.name);
    test::temp_dir dir;
    copy_shards(dir, {1, 3}); // shard 1 is clean: it must not change either
    std::string file = contains(c.name, "AOF") ? "shard-3.aof" : "shard-3.snap";
    test::spit(dir.file(file), c.apply(test::slurp(dir.file(file))));
    auto before = snapshot_of(dir.path());
    auto r = cli({"encrypt", dir.path(), "--key", key});
    CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
    CAF_CHECK_EQUAL(r.out, "");
    CAF_CHECK(contains(r.err, c.says));
    CAF_CHECK(contains(r.err, "ember-persist check"));
    CAF_CHECK(contains(r.err, "nothing was changed"));
    CAF_CHECK(snapshot_of(dir.path()) == before);
  }
  // The golden damaged shard (a CRC mismatch mid-AOF) too.
  test::temp_dir dir;
  copy_shards(dir, {4});
  auto before = snapshot_of(dir.path());
  auto r = cli({"encrypt", dir.path(), "--key", key});
  CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
  CAF_CHECK(contains(r.err, "shard-4.aof: record #3"));
  CAF_CHECK(snapshot_of(dir.path()) == before);
}

CAF_TEST(encrypt refuses a pending rewrite and bad arguments) {
  test::temp_dir keys;
  auto key = new_key(keys, "k");
  test::temp_dir dir;
  copy_shards(dir, {1});
  test::spit(dir.file("shard-1.rewrite"), "ember-rewrite 1\n");
  auto before = snapshot_of(dir.path());
  auto r = cli({"encrypt", dir.path(), "--key", key});
  CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
  CAF_CHECK(contains(r.err, "shard-1.rewrite"));
  CAF_CHECK(snapshot_of(dir.path()) == before);
  test::temp_dir empty;
  CAF_CHECK_EQUAL(cli({"encrypt", empty.path(), "--key", key}).rc,
                  app::exit_usage);
  CAF_CHECK_EQUAL(cli({"encrypt", dir.file("nope"), "--key", key}).rc,
                  app::exit_usage);
  CAF_CHECK_EQUAL(cli({"encrypt", dir.path()}).rc, app::exit_usage);
  CAF_CHECK_EQUAL(
    cli({"encrypt", dir.path(), "--key", keys.file("missing")}).rc,
    app::exit_usage);
}

// -- stats --------------------------------------------------------------------

CAF_TEST(stats reports files ends and keys per shard) {
  test::temp_dir dir;
  copy_shards(dir, {1, 3, 4});
  auto stats = stats_json(dir.path(), std::nullopt, app::exit_damaged);
  CAF_REQUIRE_EQUAL(stats["shards"].size(), 3u);
  for (int shard : {1, 3}) {
    auto& s = shard_of(stats, shard);
    auto name = "shard-" + std::to_string(shard);
    auto& snap = s["files"][0];
    auto& aof = s["files"][1];
    CAF_CHECK_EQUAL(snap["file"], dir.file(name + ".snap"));
    CAF_CHECK_EQUAL(snap["present"], true);
    CAF_CHECK_EQUAL(snap["bytes"], fs::file_size(dir.file(name + ".snap")));
    CAF_CHECK_EQUAL(snap["version"], 2);
    CAF_CHECK_EQUAL(snap["encrypted"], false);
    CAF_CHECK_EQUAL(snap["entries"], golden_items(name + ".snap", "entries"));
    CAF_CHECK_EQUAL(snap["end"]["status"], "clean");
    CAF_CHECK_EQUAL(aof["records"], golden_items(name + ".aof", "records"));
    CAF_CHECK_EQUAL(aof["end"]["status"], "clean");
    CAF_CHECK(aof["modified_ms"].get<int64_t>() > 0);
    auto expected = golden_json(name + ".recovery.expected.json");
    auto& intended = expected["intended_result_all_tags_readable"];
    auto& want = intended.is_object() ? intended
                                      : expected["reference_recover_shard"];
    auto& rec = s["recovery"];
    CAF_CHECK_EQUAL(rec["status"], "ok");
    CAF_CHECK_EQUAL(rec["keys"], want["key_count"]);
    size_t ttl = 0;
    std::map<std::string, uint64_t> types;
    for (auto& e : want["entries_sorted_by_key"]) {
      ttl += e["ttl"] == "present" ? 1 : 0;
      ++types[e["type"].get<std::string>()];
    }
    CAF_CHECK_EQUAL(rec["keys_with_ttl"], ttl);
    for (auto& [type, count] : rec["types"].items())
      CAF_CHECK_EQUAL(count.get<uint64_t>(), types[type]);
  }
  // Shard 4's AOF is corrupt at record #3: its end says so, recovery is
  // refused, and both are listed as problems.
  auto& bad = shard_of(stats, 4);
  CAF_CHECK_EQUAL(bad["files"][1]["end"]["status"], "corrupt");
  CAF_CHECK_EQUAL(bad["files"][1]["end"]["index"], 3);
  CAF_CHECK_EQUAL(bad["files"][1]["records"], 3);
  CAF_CHECK_EQUAL(bad["recovery"]["status"], "refused");
  CAF_CHECK_EQUAL(stats["problems"].size(), 2u);
}

CAF_TEST(stats shows a torn tail a missing file and encrypted files) {
  test::temp_dir dir;
  copy_shards(dir, {1});
  auto aof = test::slurp(dir.file("shard-1.aof"));
  test::spit(dir.file("shard-1.aof"), aof.substr(0, aof.size() - 2));
  fs::remove(dir.file("shard-1.snap"));
  auto stats = stats_json(dir.path(), std::nullopt, app::exit_damaged);
  auto& s = shard_of(stats, 1);
  CAF_CHECK_EQUAL(s["files"][0]["present"], false);
  auto& end = s["files"][1]["end"];
  CAF_CHECK_EQUAL(end["status"], "torn_tail");
  CAF_CHECK_EQUAL(end["offset"].get<uint64_t>() + end["dropped_bytes"].get<uint64_t>(),
                  aof.size() - 2);
  CAF_CHECK_EQUAL(s["recovery"]["status"], "ok"); // a torn tail is no damage
  auto human = cli({"stats", dir.path()});
  CAF_CHECK_EQUAL(human.rc, app::exit_damaged);
  CAF_MESSAGE("stats output:\n" << human.out);
  CAF_CHECK(contains(human.out, "shard 1"));
  CAF_CHECK(contains(human.out, "absent"));
  CAF_CHECK(contains(human.out, "torn tail: " + end["dropped_bytes"].dump()
                                  + " bytes after byte "
                                  + end["offset"].dump()));
  CAF_CHECK(contains(human.out, "1 problem:"));
  // Encrypted: unreadable without the key, fine with it.
  test::temp_dir enc;
  copy_shards(enc, {3});
  test::temp_dir keys;
  auto key = new_key(keys, "k");
  CAF_REQUIRE_EQUAL(cli({"encrypt", enc.path(), "--key", key}).rc,
                    app::exit_ok);
  auto locked = stats_json(enc.path(), std::nullopt, app::exit_damaged);
  auto& lf = shard_of(locked, 3)["files"][0];
  CAF_CHECK_EQUAL(lf["encrypted"], true);
  CAF_CHECK_EQUAL(lf["version"], 3);
  CAF_CHECK_EQUAL(lf["end"]["status"], "unreadable");
  auto open = stats_json(enc.path(), key, app::exit_ok);
  auto& of = shard_of(open, 3);
  CAF_CHECK_EQUAL(of["files"][1]["records"], golden_items("shard-3.aof",
                                                         "records"));
  CAF_CHECK_EQUAL(of["recovery"]["keys"], 21);
  auto table = cli({"stats", enc.path(), "--key", key});
  CAF_CHECK_EQUAL(table.rc, app::exit_ok);
  CAF_MESSAGE("stats output:\n" << table.out);
  CAF_CHECK(contains(table.out, "keys after recovery: 21 (7 with TTL)"));
  CAF_CHECK(contains(table.out, "no problems found"));
}

CAF_TEST(stats usage errors exit 2) {
  test::temp_dir dir;
  CAF_CHECK_EQUAL(cli({"stats", dir.file("nope")}).rc, app::exit_usage);
  CAF_CHECK_EQUAL(cli({"stats", dir.path(), "--key", dir.file("k")}).rc,
                  app::exit_usage);
  CAF_CHECK_EQUAL(cli({"stats"}).rc, app::exit_usage);
  auto empty = cli({"stats", dir.path()});
  CAF_CHECK_EQUAL(empty.rc, app::exit_ok);
  CAF_CHECK(contains(empty.out, "0 shards"));
}

// -- repair -------------------------------------------------------------------

CAF_TEST(repair cuts a flipped byte back after a backup and reports it) {
  test::temp_dir dir;
  auto path = dir.file("shard-3.aof");
  auto original = test::slurp(golden("shard-3.aof"));
  auto damaged = original;
  damaged[damaged.size() / 2] ^= 0x10;
  test::spit(path, damaged);
  auto dry = cli({"repair", path});
  CAF_CHECK_EQUAL(dry.rc, app::exit_damaged);
  CAF_CHECK(contains(dry.out, "would cut"));
  CAF_CHECK(test::slurp(path) == damaged);
  auto r = cli({"repair", path, "--yes"});
  CAF_CHECK_EQUAL(r.rc, app::exit_ok);
  CAF_MESSAGE("repair output: " << r.out);
  CAF_CHECK(contains(r.out, path + ": cut "));
  CAF_CHECK(contains(r.out, "bytes from byte offset"));
  CAF_CHECK(contains(r.out, "(record #"));
  auto backup = r.out.substr(r.out.find("backup at ") + 10);
  backup.pop_back();
  CAF_CHECK(test::slurp(backup) == damaged);
  CAF_CHECK_EQUAL(mode_of(backup), 0600u);
  auto repaired = test::slurp(path);
  CAF_CHECK(repaired.size() < damaged.size() / 2 + 64);
  CAF_CHECK(original.compare(0, repaired.size(), repaired) == 0);
  CAF_CHECK_EQUAL(cli({"check", path}).rc, app::exit_ok);
}

CAF_TEST(repair refuses to cut a file the key does not open) {
  test::temp_dir keys;
  auto wrong = new_key(keys, "wrong");
  test::temp_dir dir;
  auto path = dir.file("enc.aof");
  auto original = test::slurp(golden("aof_encrypted_v3.aof"));
  test::spit(path, original);
  auto r = cli({"repair", path, "--key", wrong, "--yes"});
  CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
  CAF_CHECK(contains(r.out, "wrong --key"));
  CAF_CHECK(contains(r.out, "nothing was changed"));
  CAF_CHECK(test::slurp(path) == original);
  CAF_CHECK_EQUAL(snapshot_of(dir.path()).size(), 1u); // no backup either
}

// -- help ---------------------------------------------------------------------

CAF_TEST(every subcommand has help with its exit codes) {
  auto top = cli({"--help"});
  CAF_CHECK_EQUAL(top.rc, app::exit_ok);
  for (auto cmd : {"dump", "check", "recover", "repair", "keygen", "encrypt",
                   "stats"}) {
    CAF_CHECK(contains(top.out, cmd));
    auto r = cli({cmd, "--help"});
    CAF_CHECK_EQUAL(r.rc, app::exit_ok);
    CAF_CHECK(contains(r.out, "Exit codes"));
    CAF_CHECK(r.out.size() > 300);
  }
  CAF_CHECK(contains(cli({"keygen", "--help"}).out, "0600"));
  CAF_CHECK(contains(cli({"encrypt", "--help"}).out, "verif"));
  CAF_CHECK(contains(cli({"stats", "--help"}).out, "--json"));
}
