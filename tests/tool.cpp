// The operator tool (app/listing.hpp): dump against every golden listing,
// recover against the golden recovery scenarios, check verdicts, the CLI.
#define CAF_SUITE tool
#include "caf/test/unit_test_impl.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "app/data_dir.hpp"
#include "app/listing.hpp"
#include "codec/format.hpp"
#include "tests/test_support.hpp"
#include "tests/tool_runner.hpp"

using namespace ember;
using nlohmann::json;
using test::golden;
using test::golden_json;

/// Compares JSON values by their text (CAF cannot print json itself).
#define CHECK_JSON(actual, expected)                                          \
  CAF_CHECK_EQUAL(json(actual).dump(), json(expected).dump())

namespace {

// -- running the tool ---------------------------------------------------------

using test::capture;
using test::cli;
using test::run_output;

run_output dump(const std::string& path,
                std::optional<std::string> key = std::nullopt) {
  return capture([&](std::ostream& out, std::ostream& err) {
    return app::dump_file(path, key, out, err);
  });
}

run_output check(const std::string& path,
                 std::optional<std::string> key = std::nullopt) {
  return capture([&](std::ostream& out, std::ostream& err) {
    return app::check_file(path, key, out, err);
  });
}

run_output recover(uint16_t shard, bool salvage) {
  app::recover_request req{test::golden_dir(), shard, std::nullopt, salvage};
  return capture([&](std::ostream& out, std::ostream& err) {
    return app::recover_dir(req, out, err);
  });
}

// -- comparing with the golden listings ---------------------------------------

bool informational(const std::string& key) {
  static const char* names[] = {"score_text", "vector_text", "value_utf8",
                                "writer_input_was",
                                "reference_ttl_ms_informational"};
  for (auto n : names)
    if (key == n)
      return true;
  return false;
}

/// "" when `actual` has every non-informational key of `expected` with an
/// equal value (recursively for objects and arrays), else what differs.
std::string covers(const json& actual, const json& expected,
                   const std::string& where = "") {
  if (expected.is_object()) {
    if (!actual.is_object())
      return where + ": expected an object, got " + actual.dump();
    for (auto& [key, value] : expected.items()) {
      if (informational(key))
        continue;
      if (!actual.contains(key))
        return where + "." + key + ": missing";
      auto why = covers(actual[key], value, where + "." + key);
      if (!why.empty())
        return why;
    }
    return "";
  }
  if (expected.is_array()) {
    if (!actual.is_array() || actual.size() != expected.size())
      return where + ": expected " + expected.dump() + ", got "
             + actual.dump();
    for (size_t i = 0; i < expected.size(); ++i) {
      auto why = covers(actual[i], expected[i],
                        where + "[" + std::to_string(i) + "]");
      if (!why.empty())
        return why;
    }
    return "";
  }
  if (actual != expected)
    return where + ": expected " + expected.dump() + ", got " + actual.dump();
  return "";
}

bool needs_missing_feature(const json& item) {
  auto what = item.value("op", item.value("type", std::string{}));
  bool proto = what == "PROTO.SET" || what == "PROTO.REGISTER"
               || what == "proto";
  bool vector = what == "VADD" || what == "VREM" || what == "vector";
  return (proto && !codec::with_proto) || (vector && !codec::with_vector);
}

/// The status line the contract demands for a golden file in this build.
struct expectation {
  std::vector<json> items; ///< records/entries that must be listed
  json status;             ///< keys the status line must have
  std::string reason_has;  ///< a substring of the status reason
};

uint64_t item_start(const json& items, size_t i, uint64_t header) {
  if (i == 0)
    return header;
  auto& prev = items[i - 1];
  return prev["file_offset"].get<uint64_t>()
         + prev["byte_size"].get<uint64_t>();
}

expectation expect_for(const json& file, const json& listing) {
  bool aof = file["kind"] == "aof";
  uint64_t header = aof ? codec::header_size : 11;
  json all = listing.value(aof ? "records" : "entries", json::array());
  auto& end = file["expected"]["end"];
  auto damage = file.value("damage", json::object());
  std::string outcome = end["outcome"];
  expectation ex;
  // A build without the optional kinds stops at the first one it meets.
  for (size_t i = 0; i < all.size(); ++i) {
    if (needs_missing_feature(all[i])) {
      ex.status = {{"status", "corrupt"},
                   {"index", i},
                   {"offset", all[i]["file_offset"]}};
      ex.reason_has = "EMBER_WITH_";
      return ex;
    }
    ex.items.push_back(all[i]);
  }
  auto n = ex.items.size();
  auto listed = json(ex.items);
  if (outcome == "clean_end" && damage.value("type", "") == "truncate") {
    // The golden listing calls a cut tail a clean end; the tool's contract
    // reports it with the end of the last whole record.
    ex.status = {{"status", "torn_tail"},
                 {"offset", item_start(listed, n, header)}};
    if (damage.contains("truncated_record_offset"))
      CHECK_JSON(ex.status["offset"], damage["truncated_record_offset"]);
  } else if (outcome == "clean_end" || outcome == "ok_footer_verified") {
    ex.status = {{"status", "clean"}};
    if (end.contains("footer_crc32"))
      ex.status["footer_crc32"] = end["footer_crc32"];
  } else if (outcome == "error_in_footer") {
    ex.status = {{"status", "corrupt"},
                 {"index", n},
                 {"offset", item_start(listed, n, header)},
                 {"error_kind", end["error_kind"]}};
  } else if (end.contains("error_at_record_index")
             || end.contains("error_at_entry_index")) {
    auto index = end.value("error_at_record_index",
                           end.value("error_at_entry_index", size_t{0}));
    CAF_CHECK_EQUAL(index, n);
    ex.status = {{"status", "corrupt"},
                 {"index", index},
                 {"offset", item_start(listed, n, header)},
                 {"error_kind", end["error_kind"]}};
    if (damage.contains("truncated_entry_offset"))
      CHECK_JSON(ex.status["offset"], damage["truncated_entry_offset"]);
  } else {
    ex.status = {{"status", "unreadable"}, {"error_kind", end["error_kind"]}};
  }
  if (listing.contains("header") && ex.status["status"] != "unreadable")
    ex.status["header"] = listing["header"];
  return ex;
}

int expected_rc(const expectation& ex) {
  return ex.status["status"] == "clean" ? app::exit_ok : app::exit_damaged;
}

/// Runs dump on one golden file and checks it against its listing.
void check_dump(const json& file, std::optional<std::string> key) {
  std::string name = file["name"];
  auto listing = golden_json(file["expected"]["listing"].get<std::string>());
  auto ex = expect_for(file, listing);
  auto r = dump(golden(name), key);
  CAF_MESSAGE(name << (key ? " with " + *key : std::string{}) << ": "
                   << ex.items.size() << " items, then " << ex.status.dump());
  CAF_CHECK_EQUAL(r.rc, expected_rc(ex));
  CAF_CHECK_EQUAL(r.err, "");
  CAF_REQUIRE_EQUAL(r.lines.size(), ex.items.size() + 1);
  for (size_t i = 0; i < ex.items.size(); ++i)
    CAF_CHECK_EQUAL(
      covers(r.lines[i], ex.items[i], name + "#" + std::to_string(i)), "");
  auto& status = r.lines.back();
  CAF_CHECK_EQUAL(covers(status, ex.status, name + " status"), "");
  if (!ex.reason_has.empty())
    CAF_CHECK(status.value("reason", "").find(ex.reason_has)
              != std::string::npos);
}

std::string key_hex() {
  auto text = test::slurp(golden("key.hex"));
  return text.substr(0, 64);
}

bool encrypted(const json& file) {
  return file.contains("format_version") && file["format_version"] == 3;
}

/// The tool's JSON as the plain json type, through its printed form.
json printed(const app::json& j) {
  return json::parse(app::to_line(j));
}

std::vector<json> data_files() {
  std::vector<json> result;
  auto manifest = golden_json("MANIFEST.json");
  for (auto& f : manifest["files"])
    if (f["kind"] != "encryption_key")
      result.push_back(f);
  return result;
}

// -- recovery listings --------------------------------------------------------

json recovery_expected(uint16_t shard) {
  auto listing = golden_json("shard-" + std::to_string(shard)
                             + ".recovery.expected.json");
  auto& intended = listing["intended_result_all_tags_readable"];
  return intended.is_object() ? intended : listing["reference_recover_shard"];
}

void check_recovered(const run_output& r, uint16_t shard) {
  auto expected = recovery_expected(shard);
  auto& entries = expected["entries_sorted_by_key"];
  CAF_CHECK_EQUAL(r.rc, app::exit_ok);
  CAF_REQUIRE_EQUAL(r.lines.size(), entries.size() + 1);
  for (size_t i = 0; i < entries.size(); ++i)
    CAF_CHECK_EQUAL(covers(r.lines[i], entries[i],
                           "shard " + std::to_string(shard) + " key#"
                             + std::to_string(i)),
                    "");
  auto& last = r.lines.back();
  CAF_REQUIRE(last.contains("report") && !last.contains("key"));
  auto& report = last["report"];
  CHECK_JSON(report["shard"], shard);
  CHECK_JSON(report["loaded_snapshot"], expected["loaded_snapshot"]);
  CHECK_JSON(report["replayed_aof"], expected["replayed_aof"]);
  CHECK_JSON(report["key_count"], expected["key_count"]);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

} // namespace

// -- dump ---------------------------------------------------------------------

CAF_TEST(dump matches every golden listing) {
  for (auto& file : data_files())
    check_dump(file, encrypted(file)
                       ? std::optional<std::string>{test::private_key("key.hex")}
                       : std::nullopt);
}

CAF_TEST(dump reads encrypted files with the raw key file too) {
  for (auto& file : data_files())
    if (encrypted(file))
      check_dump(file, test::private_key("key.bin"));
}

CAF_TEST(dump of an encrypted file without a key is unreadable) {
  for (auto& file : data_files()) {
    if (!encrypted(file))
      continue;
    auto r = dump(golden(file["name"].get<std::string>()));
    CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
    CAF_REQUIRE_EQUAL(r.lines.size(), 1u);
    CHECK_JSON(r.lines[0]["status"], "unreadable");
    CHECK_JSON(r.lines[0]["error_kind"], "EncryptionRequired");
    CAF_CHECK(contains(r.lines[0].value("reason", ""), "--key"));
  }
}

CAF_TEST(key material is never printed) {
  auto hex = key_hex();
  CAF_REQUIRE_EQUAL(hex.size(), 64u);
  for (auto& file : data_files()) {
    if (!encrypted(file))
      continue;
    for (auto key : {"key.hex", "key.bin"}) {
      auto r = dump(golden(file["name"].get<std::string>()),
                    test::private_key(key));
      CAF_CHECK(!contains(r.out + r.err, hex));
      auto c = check(golden(file["name"].get<std::string>()),
                     test::private_key(key));
      CAF_CHECK(!contains(c.out + c.err, hex));
    }
  }
  // A wrong-shaped key file: the error describes it without echoing it.
  test::temp_dir dir;
  auto bad = dir.file("bad.key");
  test::spit(bad, hex.substr(0, 63) + "\n");
  auto r = dump(golden("aof_encrypted_v3.aof"), bad);
  CAF_CHECK_EQUAL(r.rc, app::exit_usage);
  CAF_CHECK_EQUAL(r.out, "");
  CAF_CHECK(contains(r.err, bad));
  CAF_CHECK(!contains(r.err, hex.substr(0, 63)));
}

CAF_TEST(dump usage and io errors exit 2 without a status line) {
  test::temp_dir dir;
  auto r = dump(dir.file("missing.aof"));
  CAF_CHECK_EQUAL(r.rc, app::exit_usage);
  CAF_CHECK_EQUAL(r.out, "");
  CAF_CHECK(contains(r.err, dir.file("missing.aof")));
  auto k = dump(golden("aof_all_records.aof"), dir.file("missing.key"));
  CAF_CHECK_EQUAL(k.rc, app::exit_usage);
  CAF_CHECK_EQUAL(k.out, "");
  CAF_CHECK(contains(k.err, dir.file("missing.key")));
  auto d = dump(dir.path());
  CAF_CHECK_EQUAL(d.rc, app::exit_usage);
  CAF_CHECK_EQUAL(d.out, "");
}

CAF_TEST(files too short or foreign are unreadable) {
  test::temp_dir dir;
  for (auto content :
       {std::string{}, std::string{"EA"}, std::string{"EAOF"},
        std::string{"ESNP\x02\x00", 6}, std::string{"hello world"}}) {
    auto path = dir.file("f");
    test::spit(path, content);
    auto r = dump(path);
    CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
    CAF_REQUIRE_EQUAL(r.lines.size(), 1u);
    CHECK_JSON(r.lines[0]["status"], "unreadable");
    CAF_CHECK(contains(r.lines[0].value("reason", ""), path));
  }
}

// -- JSON encodings -----------------------------------------------------------

CAF_TEST(records keep control characters unicode and 64-bit extremes) {
  codec::rec::set s;
  s.key = std::string{"a\x01\n\"\\\0z", 8} + "\xd0\xba\xf0\x9f\x8e\x89";
  s.value = std::string{"\x00\xff", 2};
  s.expire_ms = std::numeric_limits<int64_t>::min();
  codec::record_info info;
  info.offset = std::numeric_limits<uint64_t>::max();
  info.size = 3;
  info.crc = 0x0000abcd;
  auto j = printed(app::record_json(s, info, 7, 2));
  CAF_CHECK_EQUAL(j["key"].get<std::string>(), s.key);
  CHECK_JSON(j["value_hex"], "00ff");
  CAF_CHECK_EQUAL(j["expire_ms"].get<int64_t>(),
                  std::numeric_limits<int64_t>::min());
  CAF_CHECK_EQUAL(j["file_offset"].get<uint64_t>(),
                  std::numeric_limits<uint64_t>::max());
  CHECK_JSON(j["crc32"], "0000abcd");
  CHECK_JSON(j["op"], "SET");
  CHECK_JSON(j["tag"], 1);
  CHECK_JSON(j["index"], 7);
  // One record is one line.
  CAF_CHECK_EQUAL(count_lines(app::to_line(app::record_json(s, info, 7, 2))),
                  0u);
}

CAF_TEST(floats are listed by bit pattern) {
  codec::rec::zadd z;
  z.key = "z";
  uint64_t nan_bits = 0x7ff8000000000001ull;
  double nan;
  std::memcpy(&nan, &nan_bits, 8);
  z.members = {{nan, "nan"}, {-0.0, "negzero"}};
  auto j = printed(app::record_json(z, {}, 0, 2));
  CHECK_JSON(j["members"][0]["score_bits"], "7ff8000000000001");
  CHECK_JSON(j["members"][1]["score_bits"], "8000000000000000");
  CHECK_JSON(j["members"][1]["member"], "negzero");
  codec::rec::vadd v;
  v.key = "v";
  v.element = "e";
  v.vector = {1.0f, -0.0f};
  v.connectivity = 16;
  auto jv = printed(app::record_json(v, {}, 0, 2));
  CHECK_JSON(jv["vector_f32_bits"], (json{"3f800000", "80000000"}));
  CHECK_JSON(jv["connectivity"], 16);
}

CAF_TEST(flags are booleans and bitop names its operation) {
  codec::rec::bitop b;
  b.op = 3;
  b.dest = "d";
  b.keys = {"a", "b"};
  auto jb = printed(app::record_json(b, {}, 0, 2));
  CHECK_JSON(jb["bitop"], 3);
  CHECK_JSON(jb["bitop_name"], "NOT");
  CHECK_JSON(jb["keys"], (json{"a", "b"}));
  codec::rec::copy c{"s", "d", true};
  CHECK_JSON(printed(app::record_json(c, {}, 0, 2))["replace"], true);
  codec::rec::linsert l{"k", false, "p", "v"};
  auto jl = printed(app::record_json(l, {}, 0, 2));
  CHECK_JSON(jl["before"], false);
  CHECK_JSON(jl["pivot_hex"], "70");
}

CAF_TEST(v3 records carry their framing instead of a crc) {
  codec::record_info info;
  info.nonce = std::string(12, '\x01');
  info.ciphertext_len = 43;
  info.plaintext_size = 27;
  auto j = printed(app::record_json(codec::rec::del{"k"}, info, 0, 3));
  CAF_CHECK(!j.contains("crc32"));
  CHECK_JSON(j["nonce_hex"], "010101010101010101010101");
  CHECK_JSON(j["ciphertext_len"], 43);
  CHECK_JSON(j["plaintext_size"], 27);
}

CAF_TEST(invalid utf8 never throws) {
  app::json j{{"key", "\xff\xfe"}};
  auto line = app::to_line(j);
  CAF_CHECK(json::accept(line));
}

CAF_TEST(keyspace entries sort unordered collections) {
  codec::entry e;
  e.val = codec::hash_value{{"b", "2"}, {"a", "1"}};
  auto jh = printed(app::keyspace_entry_json("h", e));
  CHECK_JSON(jh["type"], "hash");
  CHECK_JSON(jh["fields_sorted"][0]["field"], "a");
  CHECK_JSON(jh["fields_sorted"][1]["value_hex"], "32");
  CHECK_JSON(jh["ttl"], "absent");
  e.val = codec::set_value{"z", "", "m"};
  e.deadline_ms = 5;
  auto js = printed(app::keyspace_entry_json("s", e));
  CHECK_JSON(js["members_sorted"], (json{"", "m", "z"}));
  CHECK_JSON(js["ttl"], "present");
  codec::sorted_set z;
  z.add("b", 1.0);
  z.add("a", 2.0);
  e.val = z;
  auto jz = printed(app::keyspace_entry_json("z", e));
  CHECK_JSON(jz["type"], "sorted_set");
  CHECK_JSON(jz["members_sorted_by_name"][0]["member"], "a");
  CHECK_JSON(jz["members_sorted_by_name"][0]["score_bits"],
                  "4000000000000000");
}

// -- recover ------------------------------------------------------------------

CAF_TEST(recover reproduces the clean scenarios) {
  for (uint16_t shard : {1, 3}) {
    CAF_MESSAGE("shard " << shard);
    check_recovered(recover(shard, false), shard);
  }
}

CAF_TEST(recover refuses damaged files by default) {
  struct scenario {
    uint16_t shard;
    const char* file;
  };
  for (auto s : {scenario{4, "shard-4.aof"}, scenario{5, "shard-5.snap"},
                 scenario{6, "shard-6.snap"}}) {
    CAF_MESSAGE("shard " << s.shard);
    auto r = recover(s.shard, false);
    CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
    CAF_CHECK_EQUAL(r.out, "");
    CAF_CHECK_EQUAL(count_lines(r.err), 1u);
    CAF_CHECK(contains(r.err, s.file));
    CAF_CHECK(contains(r.err, "--salvage"));
  }
}

CAF_TEST(recover with salvage equals the reference) {
  for (uint16_t shard : {1, 3, 4, 5, 6}) {
    CAF_MESSAGE("shard " << shard);
    check_recovered(recover(shard, true), shard);
  }
}

CAF_TEST(recover usage errors exit 2) {
  app::recover_request req{golden("aof_all_records.aof"), 1, std::nullopt,
                           false};
  auto r = capture([&](std::ostream& out, std::ostream& err) {
    return app::recover_dir(req, out, err);
  });
  CAF_CHECK_EQUAL(r.rc, app::exit_usage);
  CAF_CHECK_EQUAL(r.out, "");
  CAF_CHECK(contains(r.err, "not a directory"));
  req.dir = test::golden_dir();
  req.key = golden("no-such.key");
  auto k = capture([&](std::ostream& out, std::ostream& err) {
    return app::recover_dir(req, out, err);
  });
  CAF_CHECK_EQUAL(k.rc, app::exit_usage);
}

// -- check --------------------------------------------------------------------

CAF_TEST(check says ok on clean files) {
  auto a = check(golden("aof_all_records.aof"));
  CAF_CHECK_EQUAL(a.rc, app::exit_ok);
  CAF_CHECK_EQUAL(a.out, golden("aof_all_records.aof")
                           + ": ok, 71 records, version 2\n");
  auto s = check(golden("snapshot_v2_all_types.snap"));
  CAF_CHECK_EQUAL(s.rc, app::exit_ok);
  CAF_CHECK_EQUAL(s.out, golden("snapshot_v2_all_types.snap")
                           + ": ok, 20 entries, version 2\n");
  auto e = check(golden("snapshot_encrypted_v3.snap"),
                 test::private_key("key.hex"));
  CAF_CHECK_EQUAL(e.rc, app::exit_ok);
  CAF_CHECK(contains(e.out, "version 3"));
}

CAF_TEST(check diagnoses a torn tail) {
  auto r = check(golden("aof_truncated_tail.aof"));
  CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
  CAF_CHECK_EQUAL(count_lines(r.out), 1u);
  CAF_CHECK(contains(r.out, golden("aof_truncated_tail.aof")));
  CAF_CHECK(contains(r.out, "163 bytes"));
  CAF_CHECK(contains(r.out, "104625"));
  CAF_CHECK(contains(r.out, "ember-persist repair"));
}

CAF_TEST(check diagnoses corruption with offset and index) {
  auto r = check(golden("aof_bad_crc.aof"));
  CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
  CAF_CHECK_EQUAL(count_lines(r.out), 1u);
  CAF_CHECK(contains(r.out, golden("aof_bad_crc.aof")));
  CAF_CHECK(contains(r.out, "offset 103014"));
  CAF_CHECK(contains(r.out, "record #22"));
  auto f = check(golden("snapshot_bad_footer.snap"));
  CAF_CHECK_EQUAL(f.rc, app::exit_damaged);
  CAF_CHECK(contains(f.out, "footer"));
  CAF_CHECK(contains(f.out, "offset 109324"));
  auto t = check(golden("snapshot_encrypted_v3_tampered.snap"),
                 test::private_key("key.hex"));
  CAF_CHECK_EQUAL(t.rc, app::exit_damaged);
  CAF_CHECK(contains(t.out, "entry #11"));
  auto m = check(golden("aof_bad_magic.aof"));
  CAF_CHECK_EQUAL(m.rc, app::exit_damaged);
  CAF_CHECK(contains(m.out, "magic"));
}

CAF_TEST(check tells a build without optional kinds from damage) {
  auto r = check(golden("aof_feature_records.aof"));
  if (codec::with_proto && codec::with_vector) {
    CAF_CHECK_EQUAL(r.rc, app::exit_ok);
    return;
  }
  CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
  CAF_CHECK_EQUAL(count_lines(r.out), 1u);
  CAF_CHECK(contains(r.out, "EMBER_WITH_"));
  CAF_CHECK(contains(r.out, "do not repair"));
  auto s = check(golden("snapshot_v2_feature_types.snap"));
  CAF_CHECK_EQUAL(s.rc, app::exit_damaged);
  CAF_CHECK(contains(s.out, "EMBER_WITH_"));
}

CAF_TEST(check usage and io errors exit 2) {
  auto r = check(golden("no-such-file.aof"));
  CAF_CHECK_EQUAL(r.rc, app::exit_usage);
  CAF_CHECK_EQUAL(r.out, "");
  CAF_CHECK(contains(r.err, "no-such-file.aof"));
  auto k = check(golden("aof_all_records.aof"), golden("no-such.key"));
  CAF_CHECK_EQUAL(k.rc, app::exit_usage);
}

// -- command line -------------------------------------------------------------

CAF_TEST(the command line runs the subcommands) {
  auto d = cli({"dump", golden("aof_header_only.aof")});
  CAF_CHECK_EQUAL(d.rc, app::exit_ok);
  CAF_REQUIRE_EQUAL(d.lines.size(), 1u);
  CHECK_JSON(d.lines[0]["status"], "clean");
  auto c = cli({"check", golden("aof_truncated_tail.aof")});
  CAF_CHECK_EQUAL(c.rc, app::exit_damaged);
  auto e = cli({"check", golden("aof_encrypted_v3.aof"), "--key",
                test::private_key("key.bin")});
  CAF_CHECK_EQUAL(e.rc, app::exit_ok);
  auto r = cli({"recover", test::golden_dir(), "--shard", "4", "--salvage"});
  CAF_CHECK_EQUAL(r.rc, app::exit_ok);
  auto refused = cli({"recover", test::golden_dir(), "--shard", "4"});
  CAF_CHECK_EQUAL(refused.rc, app::exit_damaged);
}

CAF_TEST(usage errors exit 2) {
  using args = std::vector<std::string>;
  for (auto& a : {args{}, args{"frobnicate"}, args{"dump"},
                  args{"dump", "a", "b"}, args{"check", "--bogus", "f"},
                  args{"recover", test::golden_dir()},
                  args{"recover", test::golden_dir(), "--shard", "70000"},
                  args{"recover", test::golden_dir(), "--shard", "x"},
                  args{"dump", golden("aof_all_records.aof"), "--key"}}) {
    auto r = cli(a);
    CAF_CHECK_EQUAL(r.rc, app::exit_usage);
    CAF_CHECK_EQUAL(r.out, "");
    CAF_CHECK(!r.err.empty());
  }
}

CAF_TEST(help documents exit codes and output) {
  auto top = cli({"--help"});
  CAF_CHECK_EQUAL(top.rc, app::exit_ok);
  for (auto word : {"dump", "recover", "check", "Exit codes"})
    CAF_CHECK(contains(top.out, word));
  struct page {
    const char* cmd;
    std::vector<const char*> words;
  };
  for (auto& p :
       {page{"dump", {"torn_tail", "corrupt", "unreadable", "Exit codes"}},
        page{"recover", {"--salvage", "--shard", "report", "Exit codes"}},
        page{"check", {"ok", "repair", "Exit codes"}}}) {
    auto r = cli({p.cmd, "--help"});
    CAF_CHECK_EQUAL(r.rc, app::exit_ok);
    for (auto w : p.words)
      CAF_CHECK(contains(r.out, w));
  }
}

CAF_TEST(repair reports without --yes and changes nothing) {
  test::temp_dir dir;
  auto path = dir.file("torn.aof");
  auto original = test::slurp(golden("aof_truncated_tail.aof"));
  test::spit(path, original);
  auto r = cli({"repair", path});
  CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
  CAF_CHECK(contains(r.out, "would cut 163 bytes from byte offset 104625"));
  CAF_CHECK(contains(r.out, "--yes"));
  CAF_CHECK(test::slurp(path) == original);
  CAF_CHECK_EQUAL(std::distance(std::filesystem::directory_iterator{dir.path()},
                                std::filesystem::directory_iterator{}),
                  1);
}

CAF_TEST(repair cuts back to the last whole record after a backup) {
  test::temp_dir dir;
  for (auto name : {"aof_truncated_tail.aof", "aof_bad_crc.aof"}) {
    auto path = dir.file(name);
    auto original = test::slurp(golden(name));
    test::spit(path, original);
    auto r = cli({"repair", path, "--yes"});
    CAF_CHECK_EQUAL(r.rc, app::exit_ok);
    CAF_CHECK(contains(r.out, "backup at "));
    auto backup = r.out.substr(r.out.find("backup at ") + 10);
    backup.pop_back(); // newline
    CAF_CHECK(test::slurp(backup) == original);
    CAF_CHECK_EQUAL(std::filesystem::status(backup).permissions()
                      & std::filesystem::perms::all,
                    std::filesystem::perms::owner_read
                      | std::filesystem::perms::owner_write);
    auto c = check(path);
    CAF_CHECK_EQUAL(c.rc, app::exit_ok);
    auto again = cli({"repair", path, "--yes"});
    CAF_CHECK_EQUAL(again.rc, app::exit_ok);
    CAF_CHECK(contains(again.out, "nothing to repair"));
  }
  CAF_CHECK_EQUAL(check(dir.file("aof_truncated_tail.aof")).out,
                  dir.file("aof_truncated_tail.aof")
                    + ": ok, 70 records, version 2\n");
  CAF_CHECK_EQUAL(check(dir.file("aof_bad_crc.aof")).out,
                  dir.file("aof_bad_crc.aof") + ": ok, 22 records, version 2\n");
}

CAF_TEST(repair never cuts snapshots or files it cannot read) {
  test::temp_dir dir;
  auto snap = dir.file("bad.snap");
  auto original = test::slurp(golden("snapshot_bad_footer.snap"));
  test::spit(snap, original);
  auto r = cli({"repair", snap, "--yes"});
  CAF_CHECK_EQUAL(r.rc, app::exit_damaged);
  CAF_CHECK(contains(r.out, "refuses"));
  CAF_CHECK(test::slurp(snap) == original);
  auto enc = dir.file("enc.aof");
  test::spit(enc, test::slurp(golden("aof_encrypted_v3_tampered.aof")));
  auto no_key = cli({"repair", enc, "--yes"});
  CAF_CHECK_EQUAL(no_key.rc, app::exit_damaged);
  CAF_CHECK(test::slurp(enc) == test::slurp(golden("aof_encrypted_v3_tampered.aof")));
  auto with_key = cli({"repair", enc, "--key", test::private_key("key.hex"), "--yes"});
  CAF_CHECK_EQUAL(with_key.rc, app::exit_ok);
  CAF_CHECK_EQUAL(check(enc, test::private_key("key.hex")).rc, app::exit_ok);
  auto missing = cli({"repair", dir.file("missing.aof"), "--yes"});
  CAF_CHECK_EQUAL(missing.rc, app::exit_usage);
}

CAF_TEST(a data directory is served only with the shard count it was written with) {
  test::temp_dir dir;
  auto refusal = [&](uint16_t configured) {
    return app::shards_to_serve(dir.path(), configured, 255).refusal;
  };
  auto served = [&](uint16_t configured) {
    auto choice = app::shards_to_serve(dir.path(), configured, 255);
    CAF_CHECK_EQUAL(choice.refusal, "");
    return choice.shards;
  };
  // No shard files: any count, and automatic means one.
  CAF_CHECK_EQUAL(served(4), 4u);
  CAF_CHECK_EQUAL(served(0), 1u);
  CAF_CHECK_EQUAL(app::shards_to_serve(dir.path() + "/absent", 4, 255).shards,
                  4u);
  auto touch = [&](const std::string& name) {
    std::ofstream{std::filesystem::path{dir.path()} / name} << "x";
  };
  touch("notes.txt"); // not a shard file
  CAF_CHECK_EQUAL(served(0), 1u);
  for (auto* name : {"shard-0.aof", "shard-1.snap", "shard-3.aof"})
    touch(name);
  CAF_CHECK_EQUAL(served(4), 4u);
  CAF_CHECK_EQUAL(served(0), 4u); // automatic: as written
  for (uint16_t n : {1, 3, 5, 255}) {
    auto why = refusal(n);
    CAF_CHECK(why.find("written with 4 shards") != std::string::npos);
    CAF_CHECK(why.find("persistence.shards is " + std::to_string(n))
              != std::string::npos);
    CAF_CHECK(why.find("Set persistence.shards = 4") != std::string::npos);
  }
  touch("shard-7.rewrite"); // a rewrite marker counts as shard 7's
  CAF_CHECK(refusal(4).find("written with 8") != std::string::npos);
  CAF_CHECK_EQUAL(served(0), 8u);
  // More shards than emberd serves: refused even when automatic.
  touch("shard-300.aof");
  CAF_CHECK(refusal(0).find("holds shard files up to shard-300, more shards "
                            "than emberd serves (255)")
            != std::string::npos);
  CAF_CHECK(refusal(4).find("written with 301") != std::string::npos);
}
