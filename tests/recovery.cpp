// Recovery: replay rules for every record kind, the keyspace model, TTL
// anchoring, and the golden recovery scenarios of the reference.
#define CAF_SUITE recovery
#include "caf/test/unit_test_impl.hpp"

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <thread>
#include <tuple>

#include "codec/aof_reader.hpp"
#include "codec/aof_writer.hpp"
#include "codec/arena_mark.hpp"
#include "codec/byte_writer.hpp"
#include "codec/crc32.hpp"
#include "codec/encryption_key.hpp"
#include "codec/fault_injection_file_system.hpp"
#include "codec/keyspace.hpp"
#include "codec/recovery.hpp"
#include "codec/replay.hpp"
#include "codec/replay_window.hpp"
#include "tests/test_support.hpp"

using namespace ember::codec;
using ember::test::from_hex;
using ember::test::golden;
using ember::test::golden_dir;
using ember::test::golden_json;
using ember::test::join;
using ember::test::score_hex;
using ember::test::slurp;
using ember::test::spit;
using ember::test::temp_dir;
using ember::test::to_hex;
using json = nlohmann::json;

namespace {

constexpr int64_t now = 1'700'000'000'000;
constexpr int64_t i64_max = std::numeric_limits<int64_t>::max();
constexpr int64_t i64_min = std::numeric_limits<int64_t>::min();

double from_bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

// The golden listings' JSON form of a value, as test::describe spells it.
using ember::test::describe;
std::string describe(const json& x) {
  auto type = x.at("type").get<std::string>();
  std::vector<std::string> parts;
  if (type == "string")
    return "string " + x.at("value_hex").get<std::string>();
  if (type == "list") {
    parts = x.at("elements_hex").get<std::vector<std::string>>();
  } else if (type == "hash") {
    for (auto& f : x.at("fields_sorted"))
      parts.push_back(f.at("field").get<std::string>() + "="
                      + f.at("value_hex").get<std::string>());
  } else if (type == "set") {
    parts = x.at("members_sorted").get<std::vector<std::string>>();
  } else if (type == "sorted_set") {
    for (auto& m : x.at("members_sorted_by_name"))
      parts.push_back(m.at("member").get<std::string>() + ":"
                      + m.at("score_bits").get<std::string>());
  }
  return type + " " + join(parts);
}

/// Checks a recovered keyspace against a listing of a recovery scenario:
/// the same keys, types, values and TTL present/absent.
void check_listing(const keyspace& ks, const json& expected) {
  auto& entries = expected.at("entries_sorted_by_key");
  std::vector<std::string> keys;
  for (auto& x : entries)
    keys.push_back(x.at("key").get<std::string>());
  CAF_CHECK_EQUAL(ks.size(), expected.at("key_count").get<size_t>());
  CAF_CHECK_EQUAL(join(ks.sorted_keys()), join(keys));
  for (auto& x : entries) {
    auto key = x.at("key").get<std::string>();
    auto e = ks.find(key);
    if (!e)
      continue; // already reported by the key list
    CAF_CHECK_EQUAL(key + ": " + describe(e->val), key + ": " + describe(x));
    std::string ttl = e->has_deadline() ? "present" : "absent";
    CAF_CHECK_EQUAL(key + " ttl " + ttl,
                    key + " ttl " + x.at("ttl").get<std::string>());
  }
}

void check_flags(const recovery_report& rep, const json& expected) {
  CAF_CHECK_EQUAL(rep.loaded_snapshot,
                  expected.at("loaded_snapshot").get<bool>());
  CAF_CHECK_EQUAL(rep.replayed_aof, expected.at("replayed_aof").get<bool>());
  CAF_CHECK_EQUAL(rep.keys, expected.at("key_count").get<uint64_t>());
}

/// Keys, deadlines and values of a keyspace in one string; long strings are
/// reduced to their size and CRC.
std::string fingerprint(const keyspace& ks) {
  std::string out;
  for (auto& key : ks.sorted_keys()) {
    auto e = ks.find(key);
    auto s = get_if<std::string>(&e->val);
    out += key + " " + std::to_string(e->deadline_ms) + " ";
    if (s && s->size() > 4096)
      out += "string of " + std::to_string(s->size()) + " bytes, crc "
             + std::to_string(crc32(*s));
    else
      out += describe(e->val);
    out += "\n";
  }
  return out;
}

result<recovery_result> recover(const std::string& dir, uint16_t shard,
                                corruption_policy policy
                                = corruption_policy::refuse,
                                const encryption_key* key = nullptr) {
  recovery_options opts;
  opts.policy = policy;
  opts.key = key;
  return recover_shard(posix_file_system(), dir, shard, opts);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// -- building files by hand (independent of the writers) ----------------------

using string_entry = std::tuple<std::string, std::string, int64_t>;

std::string snapshot_bytes(uint16_t shard,
                           const std::vector<string_entry>& entries) {
  std::string body;
  for (auto& [key, val, expire_ms] : entries) {
    put_bytes(body, key);
    put_u8(body, 0); // string
    put_bytes(body, val);
    put_i64(body, expire_ms);
  }
  std::string out{snapshot_magic};
  put_u8(out, format_v2);
  put_u16(out, shard);
  put_u32(out, static_cast<uint32_t>(entries.size()));
  out += body;
  put_u32(out, crc32(body));
  return out;
}

std::string aof_bytes(const std::vector<aof_record>& records) {
  std::string out{aof_magic};
  put_u8(out, format_v2);
  for (auto& r : records)
    encode_record(out, r);
  return out;
}

/// Copies golden file `name` into `dir` as `as`.
void place(const temp_dir& dir, std::string_view name, std::string_view as) {
  spit(dir.file(as), slurp(golden(name)));
}

/// Replays the first `n` records of a golden AOF (all when n is npos) the
/// way recovery does, as the expected result of salvage.
keyspace replay_prefix(std::string_view name, size_t n, int64_t at,
                       const encryption_key* key = nullptr) {
  keyspace ks;
  auto reader = aof_reader::open(posix_file_system(), golden(name), key);
  if (!reader)
    CAF_FAIL("cannot open " << name << ": " << reader.err().message);
  aof_record r;
  for (size_t i = 0; i < n && reader->next(r); ++i)
    apply(ks, r, at);
  ks.remove_expired(at);
  return ks;
}

encryption_key golden_key() {
  auto key = encryption_key::load(posix_file_system(), golden("key.hex"));
  if (!key)
    CAF_FAIL("cannot load key.hex: " << key.err().message);
  return std::move(key).value();
}

// -- replay fixture -----------------------------------------------------------

struct fixture {
  keyspace ks;
  replay_stats stats;

  bool run(const aof_record& r) {
    return apply(ks, r, now, &stats);
  }

  template <class T>
  const T* get(const std::string& key) const {
    auto e = ks.find(key);
    return e ? get_if<T>(&e->val) : nullptr;
  }

  std::string str(const std::string& key) const {
    auto s = get<std::string>(key);
    return s ? *s : "<no string>";
  }

  std::string list(const std::string& key) const {
    auto l = get<list_value>(key);
    return l ? join({l->begin(), l->end()}) : "<no list>";
  }

  int64_t deadline(const std::string& key) const {
    auto e = ks.find(key);
    return e ? e->deadline_ms : i64_min;
  }

  bool has(const std::string& key) const {
    return ks.find(key) != nullptr;
  }

  void set_list(const std::string& key, std::vector<std::string> xs) {
    ks.put(key, entry{list_value(xs.begin(), xs.end())});
  }
};

} // namespace

// -- keyspace model -----------------------------------------------------------

CAF_TEST(score order ranks numbers then NaN by bit pattern) {
  score_order less;
  auto nan_a = from_bits(0x7ff8000000000000ull);
  auto nan_b = from_bits(0xfff8000000000000ull);
  auto inf = std::numeric_limits<double>::infinity();
  using p = std::pair<double, std::string>;
  CAF_CHECK(less(p{1.0, "z"}, p{2.0, "a"}));
  CAF_CHECK(!less(p{2.0, "a"}, p{1.0, "z"}));
  CAF_CHECK(less(p{-inf, "z"}, p{-1e308, "a"}));
  // -0.0 and 0.0 are the same value: the member decides.
  CAF_CHECK(less(p{0.0, "a"}, p{-0.0, "b"}));
  CAF_CHECK(less(p{-0.0, "a"}, p{0.0, "b"}));
  CAF_CHECK(!less(p{-0.0, "a"}, p{0.0, "a"}));
  CAF_CHECK(!less(p{0.0, "a"}, p{-0.0, "a"}));
  // NaN after every number, infinity included.
  CAF_CHECK(less(p{inf, "z"}, p{nan_a, "a"}));
  CAF_CHECK(!less(p{nan_a, "a"}, p{inf, "z"}));
  CAF_CHECK(less(p{nan_a, "z"}, p{nan_b, "a"}));
  CAF_CHECK(!less(p{nan_b, "a"}, p{nan_a, "z"}));
  CAF_CHECK(less(p{nan_a, "a"}, p{nan_a, "b"}));
  CAF_CHECK(!less(p{nan_a, "a"}, p{nan_a, "a"}));
}

CAF_TEST(sorted set keeps members and order in step) {
  sorted_set z;
  CAF_CHECK(z.add("a", 1.0));
  CAF_CHECK(!z.add("a", 5.0));
  CAF_CHECK(z.add("b", 2.0));
  CAF_CHECK_EQUAL(z.size(), 2u);
  CAF_CHECK_EQUAL(z.by_score().size(), 2u);
  CAF_CHECK_EQUAL(*z.score("a"), 5.0);
  CAF_CHECK_EQUAL(z.by_score().begin()->second, "b");
  // -0.0 replaces 0.0 (bit-exact scores), keeping one order entry.
  CAF_CHECK(z.add("c", 0.0));
  CAF_CHECK(!z.add("c", -0.0));
  CAF_CHECK_EQUAL(score_hex(*z.score("c")), "8000000000000000");
  CAF_CHECK_EQUAL(z.by_score().size(), 3u);
  CAF_CHECK(z.remove("a"));
  CAF_CHECK(!z.remove("a"));
  CAF_CHECK_EQUAL(z.by_score().size(), 2u);
  CAF_CHECK(z.score("a") == nullptr);
  // Equality is bit-exact.
  sorted_set y;
  y.add("b", 2.0);
  y.add("c", 0.0);
  CAF_CHECK(!(y == z));
  y.add("c", -0.0);
  CAF_CHECK(y == z);
}

CAF_TEST(snapshot entries convert both ways) {
  snapshot_entry e{"k", snap::list{{"a", "b"}}, 5000};
  auto en = to_entry(std::move(e), now);
  CAF_CHECK_EQUAL(en.deadline_ms, now + 5000);
  CAF_CHECK_EQUAL(describe(en.val), "list [61,62]");
  CAF_CHECK_EQUAL(to_snapshot_entry("k", en, now + 1000).expire_ms, 4000);
  CAF_CHECK_EQUAL(to_snapshot_entry("k", en, now + 9000).expire_ms, 0);
  auto back = to_snapshot_entry("k", en, now);
  CAF_CHECK_EQUAL(std::get<snap::list>(back.value).elements.size(), 2u);
  CAF_CHECK_EQUAL(std::get<snap::list>(back.value).elements[1], "b");
  // Negative (not only -1) = no expiry; 0 = deadline now; huge saturates.
  CAF_CHECK(!to_entry({"k", std::string{"v"}, -1000}, now).has_deadline());
  CAF_CHECK_EQUAL(to_entry({"k", std::string{"v"}, 0}, now).deadline_ms, now);
  CAF_CHECK_EQUAL(to_entry({"k", std::string{"v"}, i64_max}, now).deadline_ms,
                  i64_max);
  entry forever{std::string{"v"}};
  CAF_CHECK_EQUAL(to_snapshot_entry("k", forever, now).expire_ms, -1);
  // Sorted sets go out in score order, members and scores intact.
  snapshot_entry z{"z", snap::sorted_set{{{2.0, "b"}, {1.0, "a"}, {3.0, "b"}}},
                   -1};
  auto ze = to_entry(std::move(z), now);
  auto out = std::get<snap::sorted_set>(to_snapshot_entry("z", ze, now).value);
  CAF_REQUIRE_EQUAL(out.members.size(), 2u);
  CAF_CHECK_EQUAL(out.members[0].member, "a");
  CAF_CHECK_EQUAL(out.members[1].member, "b");
  CAF_CHECK_EQUAL(out.members[1].score, 3.0);
}

CAF_TEST(remove_expired drops deadlines at or before now) {
  keyspace ks;
  ks.put("past", entry{std::string{"v"}, now - 1});
  ks.put("now", entry{std::string{"v"}, now});
  ks.put("later", entry{std::string{"v"}, now + 1});
  ks.put("forever", entry{std::string{"v"}});
  CAF_CHECK_EQUAL(ks.remove_expired(now), 2u);
  CAF_CHECK_EQUAL(join(ks.sorted_keys()), "[forever,later]");
}

// -- replay rules -------------------------------------------------------------

CAF_TEST_FIXTURE_SCOPE(replay_rules, fixture)

CAF_TEST(SET replaces any type and anchors its TTL) {
  set_list("k", {"a"});
  CAF_CHECK(run(rec::set{"k", "v", -1}));
  CAF_CHECK_EQUAL(str("k"), "v");
  CAF_CHECK(!ks.find("k")->has_deadline());
  run(rec::set{"neg", "v", -1000});
  CAF_CHECK(!ks.find("neg")->has_deadline());
  run(rec::set{"ttl", "v", 5000});
  CAF_CHECK_EQUAL(deadline("ttl"), now + 5000);
  run(rec::set{"zero", "v", 0});
  CAF_CHECK_EQUAL(deadline("zero"), now);
  run(rec::set{"huge", "v", i64_max});
  CAF_CHECK_EQUAL(deadline("huge"), i64_max);
  CAF_CHECK_EQUAL(ks.remove_expired(now), 1u);
  CAF_CHECK(!has("zero"));
  CAF_CHECK_EQUAL(stats.applied, 5u);
  CAF_CHECK_EQUAL(stats.skipped, 0u);
}

CAF_TEST(DEL removes and ignores missing keys) {
  run(rec::set{"k", "v", -1});
  CAF_CHECK(run(rec::del{"k"}));
  CAF_CHECK(!has("k"));
  CAF_CHECK(run(rec::del{"k"}));
  CAF_CHECK(ks.empty());
}

CAF_TEST(EXPIRE and PEXPIRE set TTLs of existing keys only) {
  run(rec::set{"k", "v", -1});
  CAF_CHECK(run(rec::expire{"k", 100}));
  CAF_CHECK_EQUAL(deadline("k"), now + 100'000);
  run(rec::expire{"k", i64_max}); // seconds * 1000 saturates
  CAF_CHECK_EQUAL(deadline("k"), i64_max);
  run(rec::pexpire{"k", 250});
  CAF_CHECK_EQUAL(deadline("k"), now + 250);
  run(rec::pexpire{"k", i64_max});
  CAF_CHECK_EQUAL(deadline("k"), i64_max);
  run(rec::pexpire{"k", 0});
  CAF_CHECK_EQUAL(deadline("k"), now);
  CAF_CHECK(run(rec::expire{"missing", 10}));
  CAF_CHECK(run(rec::pexpire{"missing", 10}));
  CAF_CHECK(!has("missing"));
  // Negative durations are invalid data; never trusted if hand-made.
  CAF_CHECK(!run(rec::expire{"k", -1}));
  CAF_CHECK(!run(rec::pexpire{"k", -1}));
  CAF_CHECK_EQUAL(deadline("k"), now);
}

CAF_TEST(PEXPIREAT sets an absolute deadline and a past one removes the key) {
  run(rec::set{"future", "v", -1});
  run(rec::set{"past", "v", 1000});
  run(rec::set{"exactly-now", "v", -1});
  CAF_CHECK(run(rec::pexpireat{"future", now + 1000}));
  CAF_CHECK_EQUAL(deadline("future"), now + 1000);
  CAF_CHECK(run(rec::pexpireat{"past", 1'000'000'000'000}));
  CAF_CHECK(!has("past"));
  CAF_CHECK(run(rec::pexpireat{"exactly-now", now}));
  CAF_CHECK(!has("exactly-now"));
  CAF_CHECK(run(rec::pexpireat{"missing", now + 1000}));
  CAF_CHECK(!has("missing"));
  CAF_CHECK(!run(rec::pexpireat{"future", -1}));
  CAF_CHECK_EQUAL(deadline("future"), now + 1000);
}

CAF_TEST(PERSIST clears a TTL) {
  run(rec::set{"k", "v", 5000});
  CAF_CHECK(run(rec::persist{"k"}));
  CAF_CHECK(!ks.find("k")->has_deadline());
  CAF_CHECK(run(rec::persist{"missing"}));
  CAF_CHECK(!has("missing"));
}

CAF_TEST(INCR family starts missing keys at zero and keeps TTLs) {
  CAF_CHECK(run(rec::incr{"a"}));
  CAF_CHECK_EQUAL(str("a"), "1");
  CAF_CHECK(!ks.find("a")->has_deadline());
  run(rec::decr{"b"});
  CAF_CHECK_EQUAL(str("b"), "-1");
  run(rec::incrby{"c", -43});
  CAF_CHECK_EQUAL(str("c"), "-43");
  run(rec::decrby{"d", 10});
  CAF_CHECK_EQUAL(str("d"), "-10");
  run(rec::set{"t", "5", 1000});
  run(rec::incrby{"t", 9});
  CAF_CHECK_EQUAL(str("t"), "14");
  CAF_CHECK_EQUAL(deadline("t"), now + 1000);
  run(rec::set{"z", "0", -1});
  run(rec::incr{"z"});
  CAF_CHECK_EQUAL(str("z"), "1");
  run(rec::set{"n", "-5", -1});
  run(rec::decrby{"n", 10});
  run(rec::decr{"n"});
  CAF_CHECK_EQUAL(str("n"), "-16");
  CAF_CHECK_EQUAL(stats.skipped, 0u);
}

CAF_TEST(INCR on a non-integer leaves the value unchanged) {
  // The reference's Rust parse: one optional sign, digits only, no spaces.
  for (std::string bad : {"abc", "++1", " 1", "1 ", "", "1a", "-", "+",
                          "1.5", "9223372036854775808",
                          "-9223372036854775809", "99999999999999999999",
                          "123456789012345678901"}) {
    fixture f;
    f.run(rec::set{"k", bad, 1000});
    CAF_CHECK(!f.run(rec::incr{"k"}));
    CAF_CHECK(!f.run(rec::decrby{"k", 1}));
    CAF_CHECK_EQUAL(f.str("k"), bad);
    CAF_CHECK_EQUAL(f.deadline("k"), now + 1000);
    CAF_CHECK_EQUAL(f.stats.skipped, 2u);
  }
}

CAF_TEST(INCR parses numbers as the reference does) {
  // Replay agrees with the reference: '+' and leading zeros are accepted.
  for (auto [text, want] : {std::pair<std::string, std::string>{"+1", "2"},
                            {"01", "2"},
                            {"-0", "1"},
                            {"007", "8"},
                            {"00000000000000000000000041", "42"}}) {
    fixture f;
    f.run(rec::set{"k", text, -1});
    CAF_CHECK(f.run(rec::incr{"k"}));
    CAF_CHECK_EQUAL(f.str("k"), want);
  }
}

CAF_TEST(INCR overflow leaves the value unchanged and DECRBY saturates) {
  run(rec::set{"max", "9223372036854775807", -1});
  CAF_CHECK(!run(rec::incr{"max"}));
  CAF_CHECK_EQUAL(str("max"), "9223372036854775807");
  run(rec::set{"min", "-9223372036854775808", -1});
  CAF_CHECK(!run(rec::decr{"min"}));
  CAF_CHECK_EQUAL(str("min"), "-9223372036854775808");
  CAF_CHECK(run(rec::incr{"min"}));
  CAF_CHECK_EQUAL(str("min"), "-9223372036854775807");
  // DECRBY i64::MIN adds i64::MAX (saturating negation).
  run(rec::set{"zero", "0", -1});
  CAF_CHECK(run(rec::decrby{"zero", i64_min}));
  CAF_CHECK_EQUAL(str("zero"), "9223372036854775807");
  run(rec::set{"one", "1", -1});
  CAF_CHECK(!run(rec::decrby{"one", i64_min}));
  CAF_CHECK_EQUAL(str("one"), "1");
  CAF_CHECK(run(rec::decrby{"fresh", i64_min}));
  CAF_CHECK_EQUAL(str("fresh"), "9223372036854775807");
  run(rec::set{"m1", "-1", -1});
  CAF_CHECK(!run(rec::incrby{"m1", i64_min}));
  CAF_CHECK_EQUAL(str("m1"), "-1");
  CAF_CHECK(run(rec::incrby{"m0", i64_min}));
  CAF_CHECK_EQUAL(str("m0"), "-9223372036854775808");
  CAF_CHECK_EQUAL(stats.skipped, 4u);
}

CAF_TEST(APPEND creates and appends) {
  CAF_CHECK(run(rec::append{"k", "ab"}));
  run(rec::append{"k", std::string("\0c", 2)});
  CAF_CHECK_EQUAL(to_hex(str("k")), "61620063");
  run(rec::set{"t", "x", 1000});
  run(rec::append{"t", "y"});
  CAF_CHECK_EQUAL(str("t"), "xy");
  CAF_CHECK_EQUAL(deadline("t"), now + 1000);
  run(rec::append{"e", ""});
  CAF_CHECK_EQUAL(str("e"), "");
}

CAF_TEST(SETRANGE zero pads and refuses absurd offsets) {
  CAF_CHECK(run(rec::setrange{"new", 3, "ab"}));
  CAF_CHECK_EQUAL(to_hex(str("new")), "0000006162");
  run(rec::set{"h", "hello", 1000});
  run(rec::setrange{"h", 1, "EL"});
  CAF_CHECK_EQUAL(str("h"), "hELlo");
  run(rec::setrange{"h", 4, "OWORLD"});
  CAF_CHECK_EQUAL(str("h"), "hELlOWORLD");
  CAF_CHECK_EQUAL(deadline("h"), now + 1000);
  run(rec::set{"p", "ab", -1});
  run(rec::setrange{"p", 4, "x"});
  CAF_CHECK_EQUAL(to_hex(str("p")), "6162000078");
  // An empty value still pads (reference behaviour).
  run(rec::setrange{"q", 2, ""});
  CAF_CHECK_EQUAL(to_hex(str("q")), "0000");
  // Corrupt-but-valid offsets: no-op, no key, no huge allocation.
  CAF_CHECK(!run(rec::setrange{"bad", -1, "x"}));
  CAF_CHECK(!run(rec::setrange{"bad", i64_max, "x"}));
  CAF_CHECK(!run(rec::setrange{"bad", max_bytes_len, "x"}));
  CAF_CHECK(!run(rec::setrange{"bad", i64_min, ""}));
  CAF_CHECK(!has("bad"));
  CAF_CHECK(!run(rec::setrange{"h", max_bytes_len - 1, "xy"}));
  CAF_CHECK_EQUAL(str("h"), "hELlOWORLD");
  CAF_CHECK_EQUAL(stats.skipped, 5u);
}

CAF_TEST(SETBIT addresses bits MSB first and only 1 sets) {
  CAF_CHECK(run(rec::setbit{"b", 0, 1}));
  CAF_CHECK_EQUAL(to_hex(str("b")), "80");
  run(rec::setbit{"b", 9, 1});
  CAF_CHECK_EQUAL(to_hex(str("b")), "8040");
  run(rec::setbit{"b", 9, 2}); // not 1: clears
  CAF_CHECK_EQUAL(to_hex(str("b")), "8000");
  run(rec::setbit{"b", 15, 255}); // not 1: clears (already clear)
  CAF_CHECK_EQUAL(to_hex(str("b")), "8000");
  run(rec::setbit{"b", 0, 0});
  CAF_CHECK_EQUAL(to_hex(str("b")), "0000");
  run(rec::setbit{"b", 31, 1});
  CAF_CHECK_EQUAL(to_hex(str("b")), "00000001");
  run(rec::setbit{"c", 20, 0}); // creates, zero-extended
  CAF_CHECK_EQUAL(to_hex(str("c")), "000000");
  CAF_CHECK(!run(rec::setbit{"bad", -1, 1}));
  CAF_CHECK(!run(rec::setbit{"bad", int64_t{max_bytes_len} * 8, 1}));
  CAF_CHECK(!run(rec::setbit{"bad", i64_max, 1}));
  CAF_CHECK(!has("bad"));
}

CAF_TEST(BITOP pads sources and overwrites the destination without TTL) {
  run(rec::set{"a", std::string("\xff\x0f", 2), -1});
  run(rec::set{"b", std::string("\x0f", 1), -1});
  set_list("l", {"x"});
  auto op = [&](uint8_t o, std::string dest, std::vector<std::string> keys) {
    rec::bitop r;
    r.op = o;
    r.dest = std::move(dest);
    r.keys = std::move(keys);
    return run(r);
  };
  CAF_CHECK(op(0, "and", {"a", "b"}));
  CAF_CHECK_EQUAL(to_hex(str("and")), "0f00");
  op(1, "or", {"a", "b"});
  CAF_CHECK_EQUAL(to_hex(str("or")), "ff0f");
  op(2, "xor", {"a", "b"});
  CAF_CHECK_EQUAL(to_hex(str("xor")), "f00f");
  op(3, "not", {"a"});
  CAF_CHECK_EQUAL(to_hex(str("not")), "00f0");
  // Missing and non-string sources count as empty.
  op(0, "and2", {"a", "missing"});
  CAF_CHECK_EQUAL(to_hex(str("and2")), "0000");
  op(1, "or2", {"l", "b", "missing"});
  CAF_CHECK_EQUAL(to_hex(str("or2")), "0f");
  // Empty results still create an empty string key.
  op(3, "not-missing", {"missing"});
  CAF_CHECK(has("not-missing"));
  CAF_CHECK_EQUAL(str("not-missing"), "");
  op(0, "none", {});
  CAF_CHECK_EQUAL(str("none"), "");
  // The destination may hold any type and any TTL: both are replaced.
  set_list("dest", {"x"});
  ks.find("dest")->deadline_ms = now + 5000;
  op(1, "dest", {"a"});
  CAF_CHECK_EQUAL(to_hex(str("dest")), "ff0f");
  CAF_CHECK(!ks.find("dest")->has_deadline());
  // The destination may be a source.
  op(2, "a", {"a", "a"});
  CAF_CHECK_EQUAL(to_hex(str("a")), "0000");
  CAF_CHECK(!op(4, "bad", {"b"}));
  CAF_CHECK(!has("bad"));
}

CAF_TEST(RENAME moves value and TTL) {
  run(rec::set{"src", "v", 5000});
  CAF_CHECK(run(rec::rename{"src", "dst"}));
  CAF_CHECK(!has("src"));
  CAF_CHECK_EQUAL(str("dst"), "v");
  CAF_CHECK_EQUAL(deadline("dst"), now + 5000);
  // Onto an existing key of another type: replaced.
  set_list("l", {"a", "b"});
  run(rec::set{"target", "old", -1});
  run(rec::rename{"l", "target"});
  CAF_CHECK_EQUAL(list("target"), "[a,b]");
  CAF_CHECK(!ks.find("target")->has_deadline());
  // Missing source: nothing happens to the target.
  CAF_CHECK(run(rec::rename{"missing", "target"}));
  CAF_CHECK_EQUAL(list("target"), "[a,b]");
  CAF_CHECK(run(rec::rename{"target", "target"}));
  CAF_CHECK_EQUAL(list("target"), "[a,b]");
  CAF_CHECK_EQUAL(ks.size(), 2u);
}

CAF_TEST(COPY clones with TTL when replace or destination absent) {
  set_list("src", {"a"});
  ks.find("src")->deadline_ms = now + 7000;
  run(rec::set{"kept", "keep-me", -1});
  CAF_CHECK(run(rec::copy{"src", "kept", false}));
  CAF_CHECK_EQUAL(str("kept"), "keep-me");
  CAF_CHECK(run(rec::copy{"src", "new", false}));
  CAF_CHECK_EQUAL(list("new"), "[a]");
  CAF_CHECK_EQUAL(deadline("new"), now + 7000);
  CAF_CHECK(run(rec::copy{"src", "kept", true}));
  CAF_CHECK_EQUAL(list("kept"), "[a]");
  CAF_CHECK_EQUAL(deadline("kept"), now + 7000);
  // The copy is independent of its source.
  run(rec::rpush{"src", {"b"}});
  CAF_CHECK_EQUAL(list("src"), "[a,b]");
  CAF_CHECK_EQUAL(list("new"), "[a]");
  CAF_CHECK(run(rec::copy{"missing", "new", true}));
  CAF_CHECK_EQUAL(list("new"), "[a]");
  CAF_CHECK(run(rec::copy{"src", "src", true}));
  CAF_CHECK_EQUAL(list("src"), "[a,b]");
}

CAF_TEST(LPUSH and RPUSH create lists and keep order) {
  CAF_CHECK(run(rec::rpush{"l", {"n1", "n2"}}));
  CAF_CHECK(run(rec::lpush{"l", {"n0", "n-1"}}));
  CAF_CHECK_EQUAL(list("l"), "[n-1,n0,n1,n2]");
  // Zero values still create an empty list.
  run(rec::lpush{"e1", {}});
  run(rec::rpush{"e2", {}});
  CAF_CHECK_EQUAL(list("e1"), "[]");
  CAF_CHECK_EQUAL(list("e2"), "[]");
}

CAF_TEST(LPOP and RPOP remove the key when the list empties) {
  set_list("l", {"a", "b", "c"});
  CAF_CHECK(run(rec::lpop{"l"}));
  CAF_CHECK(run(rec::rpop{"l"}));
  CAF_CHECK_EQUAL(list("l"), "[b]");
  run(rec::rpop{"l"});
  CAF_CHECK(!has("l"));
  CAF_CHECK(run(rec::lpop{"missing"}));
  // An empty list from a snapshot goes away on a pop.
  set_list("empty", {});
  run(rec::lpop{"empty"});
  CAF_CHECK(!has("empty"));
}

CAF_TEST(LSET counts negative indexes from the end) {
  set_list("l", {"a", "b", "c"});
  CAF_CHECK(run(rec::lset{"l", 0, "A"}));
  CAF_CHECK(run(rec::lset{"l", -1, "C"}));
  CAF_CHECK(run(rec::lset{"l", -3, "AA"}));
  CAF_CHECK_EQUAL(list("l"), "[AA,b,C]");
  CAF_CHECK(!run(rec::lset{"l", 3, "x"}));
  CAF_CHECK(!run(rec::lset{"l", -4, "x"}));
  CAF_CHECK(!run(rec::lset{"l", i64_min, "x"}));
  CAF_CHECK(!run(rec::lset{"l", i64_max, "x"}));
  CAF_CHECK_EQUAL(list("l"), "[AA,b,C]");
  CAF_CHECK(run(rec::lset{"missing", 0, "x"}));
  CAF_CHECK(!has("missing"));
  // LSET never removes an empty list (it cannot have emptied it).
  set_list("empty", {});
  CAF_CHECK(!run(rec::lset{"empty", 0, "x"}));
  CAF_CHECK(has("empty"));
}

CAF_TEST(LTRIM follows Redis index rules at every extreme) {
  struct trim_case {
    int64_t start;
    int64_t stop;
    const char* expected; // nullptr: the key is removed
  };
  const trim_case cases[] = {
    {1, -2, "[b,c,d]"},
    {0, -1, "[a,b,c,d,e]"},
    {-2, 100, "[d,e]"},
    {0, 0, "[a]"},
    {4, 4, "[e]"},
    {i64_min, i64_max, "[a,b,c,d,e]"},
    {-100, 1, "[a,b]"},
    {0, -6, nullptr}, // stop < -len: the reference panics here
    {0, -7, nullptr},
    {0, i64_min, nullptr},
    {i64_min, i64_min, nullptr},
    {i64_max, i64_max, nullptr},
    {5, 10, nullptr},
    {3, 1, nullptr},
    {-1, -2, nullptr},
  };
  for (auto& c : cases) {
    fixture f;
    f.set_list("l", {"a", "b", "c", "d", "e"});
    CAF_CHECK(f.run(rec::ltrim{"l", c.start, c.stop}));
    std::string got = f.has("l") ? f.list("l") : "<removed>";
    CAF_CHECK_EQUAL(std::to_string(c.start) + ".." + std::to_string(c.stop)
                      + " " + got,
                    std::to_string(c.start) + ".." + std::to_string(c.stop)
                      + " " + (c.expected ? c.expected : "<removed>"));
  }
  set_list("empty", {});
  run(rec::ltrim{"empty", 0, -1});
  CAF_CHECK(!has("empty"));
}

CAF_TEST(LINSERT uses the first pivot) {
  set_list("l", {"a", "p", "b", "p"});
  CAF_CHECK(run(rec::linsert{"l", true, "p", "v"}));
  CAF_CHECK_EQUAL(list("l"), "[a,v,p,b,p]");
  CAF_CHECK(run(rec::linsert{"l", false, "p", "w"}));
  CAF_CHECK_EQUAL(list("l"), "[a,v,p,w,b,p]");
  CAF_CHECK(run(rec::linsert{"l", true, "none", "x"}));
  CAF_CHECK_EQUAL(list("l"), "[a,v,p,w,b,p]");
  CAF_CHECK(run(rec::linsert{"missing", true, "p", "x"}));
  CAF_CHECK(!has("missing"));
}

CAF_TEST(LREM removes from head or tail or everywhere) {
  struct rem_case {
    int64_t count;
    const char* expected;
  };
  const rem_case cases[] = {
    {1, "[a,x,b,x,c,x]"},     {2, "[a,b,x,c,x]"},
    {-1, "[x,a,x,b,x,c]"},    {-2, "[x,a,x,b,c]"},
    {0, "[a,b,c]"},           {i64_min, "[a,b,c]"},
    {i64_max, "[a,b,c]"},     {i64_min + 1, "[a,b,c]"},
  };
  for (auto& c : cases) {
    fixture f;
    f.set_list("l", {"x", "a", "x", "b", "x", "c", "x"});
    CAF_CHECK(f.run(rec::lrem{"l", c.count, "x"}));
    CAF_CHECK_EQUAL(std::to_string(c.count) + " " + f.list("l"),
                    std::to_string(c.count) + " " + c.expected);
  }
  set_list("xs", {"x", "x"});
  CAF_CHECK(run(rec::lrem{"xs", -5, "x"}));
  CAF_CHECK(!has("xs"));
  set_list("l", {"a"});
  CAF_CHECK(run(rec::lrem{"l", 0, "zz"}));
  CAF_CHECK_EQUAL(list("l"), "[a]");
}

CAF_TEST(ZADD and ZREM with NaN and signed zero scores) {
  auto nan = from_bits(0x7ff8000000000000ull);
  auto inf = std::numeric_limits<double>::infinity();
  CAF_CHECK(run(rec::zadd{"z", {{2.0, "b"},
                                {nan, "n"},
                                {-inf, "m"},
                                {inf, "i"},
                                {-0.0, "z0"},
                                {0.0, "a0"}}}));
  auto z = get<sorted_set>("z");
  CAF_REQUIRE(z != nullptr);
  std::vector<std::string> order;
  for (auto& [score, member] : z->by_score())
    order.push_back(member);
  CAF_CHECK_EQUAL(join(order), "[m,a0,z0,b,i,n]");
  // Updating a score moves the member.
  run(rec::zadd{"z", {{-5.0, "n"}}});
  CAF_CHECK_EQUAL(z->by_score().begin()->second, "m");
  CAF_CHECK_EQUAL(std::next(z->by_score().begin())->second, "n");
  CAF_CHECK_EQUAL(z->size(), 6u);
  CAF_CHECK(run(rec::zrem{"z", {"n", "missing"}}));
  CAF_CHECK_EQUAL(z->size(), 5u);
  run(rec::zrem{"z", {"b", "i", "m", "a0", "z0"}});
  CAF_CHECK(!has("z"));
  // Zero members create an empty sorted set.
  run(rec::zadd{"empty", {}});
  CAF_REQUIRE(get<sorted_set>("empty") != nullptr);
  CAF_CHECK(get<sorted_set>("empty")->empty());
  CAF_CHECK(run(rec::zrem{"missing", {"a"}}));
  CAF_CHECK(!has("missing"));
}

CAF_TEST(HSET HDEL and HINCRBY) {
  CAF_CHECK(run(rec::hset{"h", {{"a", "1"}, {"b", "2"}}}));
  run(rec::hset{"h", {{"a", "10"}}});
  CAF_CHECK_EQUAL(describe(ks.find("h")->val), "hash [a=3130,b=32]");
  CAF_CHECK(run(rec::hdel{"h", {"a", "missing"}}));
  CAF_CHECK_EQUAL(describe(ks.find("h")->val), "hash [b=32]");
  run(rec::hdel{"h", {"b"}});
  CAF_CHECK(!has("h"));
  // HINCRBY: missing key and field start at 0.
  CAF_CHECK(run(rec::hincrby{"c", "f", -3}));
  CAF_CHECK_EQUAL(get<hash_value>("c")->at("f"), "-3");
  // A non-integer field counts as 0.
  run(rec::hset{"c", {{"s", "abc"}, {"p", "+5"}}});
  run(rec::hincrby{"c", "s", 5});
  run(rec::hincrby{"c", "p", 1});
  CAF_CHECK_EQUAL(get<hash_value>("c")->at("s"), "5");
  CAF_CHECK_EQUAL(get<hash_value>("c")->at("p"), "6"); // "+5" parses
  // The add saturates.
  run(rec::hset{"c", {{"max", "9223372036854775807"},
                      {"min", "-9223372036854775808"}}});
  run(rec::hincrby{"c", "max", 1});
  run(rec::hincrby{"c", "min", i64_min});
  CAF_CHECK_EQUAL(get<hash_value>("c")->at("max"), "9223372036854775807");
  CAF_CHECK_EQUAL(get<hash_value>("c")->at("min"), "-9223372036854775808");
  run(rec::hset{"e", {}});
  CAF_CHECK(has("e"));
  CAF_CHECK_EQUAL(stats.skipped, 0u);
}

CAF_TEST(SADD and SREM) {
  CAF_CHECK(run(rec::sadd{"s", {"a", "b", "a"}}));
  CAF_CHECK_EQUAL(describe(ks.find("s")->val), "set [a,b]");
  CAF_CHECK(run(rec::srem{"s", {"a", "missing"}}));
  CAF_CHECK_EQUAL(describe(ks.find("s")->val), "set [b]");
  run(rec::srem{"s", {"b"}});
  CAF_CHECK(!has("s"));
  CAF_CHECK(run(rec::srem{"missing", {"a"}}));
  CAF_CHECK(!has("missing"));
}

CAF_TEST(PROTO records) {
  set_list("p", {"x"});
  CAF_CHECK(run(rec::proto_set{"p", "ember.T", "\x0a\x01", 5000}));
  auto p = get<proto_value>("p");
  CAF_REQUIRE(p != nullptr);
  CAF_CHECK_EQUAL(p->type_name, "ember.T");
  CAF_CHECK_EQUAL(p->data, "\x0a\x01");
  CAF_CHECK_EQUAL(deadline("p"), now + 5000);
  run(rec::proto_set{"q", "", "", -1});
  CAF_CHECK(!ks.find("q")->has_deadline());
  auto before = ks;
  CAF_CHECK(run(rec::proto_register{"ember.T", "descriptor"}));
  CAF_CHECK(ks == before);
}

CAF_TEST(VADD and VREM) {
  CAF_CHECK(run(rec::vadd{"v", "e1", {1.0f, 2.0f}, 1, 2, 16, 64}));
  auto v = get<vector_value>("v");
  CAF_REQUIRE(v != nullptr);
  CAF_CHECK_EQUAL(v->metric, 1);
  CAF_CHECK_EQUAL(v->quantization, 2);
  CAF_CHECK_EQUAL(v->connectivity, 16u);
  CAF_CHECK_EQUAL(v->expansion_add, 64u);
  CAF_CHECK_EQUAL(v->dim, 2u);
  CAF_CHECK(run(rec::vadd{"v", "e1", {3.0f, 4.0f}, 0, 0, 0, 0}));
  CAF_REQUIRE_EQUAL(v->elements.size(), 1u);
  CAF_CHECK_EQUAL(v->elements[0].vector[1], 4.0f);
  CAF_CHECK_EQUAL(v->metric, 1); // the set keeps its configuration
  CAF_CHECK(!run(rec::vadd{"v", "e2", {5.0f}, 1, 2, 16, 64}));
  CAF_CHECK(run(rec::vadd{"v", "e2", {5.0f, 6.0f}, 1, 2, 16, 64}));
  CAF_CHECK_EQUAL(v->elements.size(), 2u);
  CAF_CHECK_EQUAL(v->elements[1].name, "e2");
  CAF_CHECK(run(rec::vrem{"v", "e1"}));
  CAF_CHECK(run(rec::vrem{"v", "missing"}));
  CAF_CHECK_EQUAL(v->elements.size(), 1u);
  run(rec::vrem{"v", "e2"});
  CAF_CHECK(!has("v"));
  CAF_CHECK(run(rec::vrem{"missing", "e"}));
  CAF_CHECK(run(rec::vadd{"empty-dim", "", {}, 2, 2, 0, 0}));
  CAF_CHECK_EQUAL(get<vector_value>("empty-dim")->dim, 0u);
  CAF_CHECK_EQUAL(stats.skipped, 1u);
}

CAF_TEST(records against another type are counted no-ops) {
  run(rec::set{"s", "text", 1000});
  set_list("l", {"a"});
  std::vector<aof_record> on_string = {
    rec::lpush{"s", {"x"}},
    rec::rpush{"s", {"x"}},
    rec::lpop{"s"},
    rec::rpop{"s"},
    rec::lset{"s", 0, "x"},
    rec::ltrim{"s", 0, 0},
    rec::linsert{"s", true, "t", "x"},
    rec::lrem{"s", 0, "x"},
    rec::zadd{"s", {{1.0, "m"}}},
    rec::zrem{"s", {"m"}},
    rec::hset{"s", {{"f", "v"}}},
    rec::hdel{"s", {"f"}},
    rec::hincrby{"s", "f", 1},
    rec::sadd{"s", {"m"}},
    rec::srem{"s", {"m"}},
    rec::vadd{"s", "e", {1.0f}, 0, 0, 0, 0},
    rec::vrem{"s", "e"},
  };
  std::vector<aof_record> on_list = {
    rec::incr{"l"},           rec::decr{"l"},
    rec::incrby{"l", 1},      rec::decrby{"l", 1},
    rec::append{"l", "x"},    rec::setrange{"l", 0, "x"},
    rec::setbit{"l", 0, 1},   rec::sadd{"l", {"m"}},
  };
  for (auto& r : on_string)
    CAF_CHECK(!run(r));
  for (auto& r : on_list)
    CAF_CHECK(!run(r));
  CAF_CHECK_EQUAL(str("s"), "text");
  CAF_CHECK_EQUAL(deadline("s"), now + 1000);
  CAF_CHECK_EQUAL(list("l"), "[a]");
  CAF_CHECK_EQUAL(stats.skipped, on_string.size() + on_list.size());
  CAF_CHECK_EQUAL(stats.applied, 1u);
  CAF_CHECK_EQUAL(ks.size(), 2u);
}

CAF_TEST_FIXTURE_SCOPE_END()

// -- recovery from files ------------------------------------------------------

CAF_TEST(an empty directory recovers to an empty keyspace) {
  temp_dir dir;
  auto res = recover(dir.path(), 0);
  CAF_REQUIRE(res);
  CAF_CHECK(res->data.empty());
  CAF_CHECK(!res->report.loaded_snapshot);
  CAF_CHECK(!res->report.replayed_aof);
  CAF_CHECK(!res->report.snapshot.present);
  CAF_CHECK(!res->report.aof.present);
  CAF_CHECK_EQUAL(res->report.snapshot.path, dir.file("shard-0.snap"));
  CAF_CHECK_EQUAL(res->report.aof.path, dir.file("shard-0.aof"));
  CAF_CHECK_EQUAL(snapshot_path("/d", 7), "/d/shard-7.snap");
  CAF_CHECK_EQUAL(aof_path("/d", 65535), "/d/shard-65535.aof");
}

CAF_TEST(snapshot TTLs are anchored at the snapshot time) {
  temp_dir dir;
  spit(dir.file("shard-0.snap"),
       snapshot_bytes(0, {{"k", "v", 5000}, {"forever", "f", -1}}));
  recovery_options opts;
  opts.now_ms = now;
  opts.snapshot_time_ms = now - 10'000;
  auto old = recover_shard(posix_file_system(), dir.path(), 0, opts);
  CAF_REQUIRE(old);
  CAF_CHECK(old->data.find("k") == nullptr);
  CAF_CHECK(old->data.find("forever") != nullptr);
  CAF_CHECK_EQUAL(old->report.expired_dropped, 1u);
  CAF_CHECK_EQUAL(old->report.keys, 1u);
  CAF_CHECK_EQUAL(old->report.snapshot.items, 2u);
  opts.snapshot_time_ms = now - 1000;
  auto recent = recover_shard(posix_file_system(), dir.path(), 0, opts);
  CAF_REQUIRE(recent);
  auto e = recent->data.find("k");
  CAF_REQUIRE(e != nullptr);
  CAF_CHECK_EQUAL(e->deadline_ms, now - 1000 + 5000);
  CAF_CHECK_EQUAL(recent->report.expired_dropped, 0u);
  // Unset: anchored at now (the reference's behaviour).
  opts.snapshot_time_ms.reset();
  auto at_now = recover_shard(posix_file_system(), dir.path(), 0, opts);
  CAF_REQUIRE(at_now);
  CAF_CHECK_EQUAL(at_now->data.find("k")->deadline_ms, now + 5000);
}

CAF_TEST(AOF records replay on top of the snapshot) {
  temp_dir dir;
  spit(dir.file("shard-2.snap"),
       snapshot_bytes(2, {{"a", "1", -1}, {"b", "x", 0}}));
  spit(dir.file("shard-2.aof"),
       aof_bytes({rec::incr{"a"}, rec::incr{"b"}, rec::set{"c", "3", 60'000},
                  rec::rpush{"l", {"x"}}, rec::lpop{"l"}}));
  recovery_options opts;
  opts.now_ms = now;
  auto res = recover_shard(posix_file_system(), dir.path(), 2, opts);
  CAF_REQUIRE(res);
  auto& rep = res->report;
  CAF_CHECK(rep.loaded_snapshot);
  CAF_CHECK(rep.replayed_aof);
  CAF_CHECK_EQUAL(rep.records_replayed, 5u);
  CAF_CHECK_EQUAL(rep.records_skipped, 1u); // INCR on "x"
  CAF_CHECK_EQUAL(rep.expired_dropped, 1u); // b had TTL 0
  CAF_CHECK_EQUAL(rep.keys, 2u);
  CAF_CHECK_EQUAL(rep.aof_valid_end, rep.aof.bytes);
  CAF_CHECK(rep.aof.end.kind == read_end::clean);
  CAF_CHECK_EQUAL(rep.aof.version, 2);
  CAF_CHECK_EQUAL(rep.snapshot.version, 2);
  CAF_CHECK(rep.snapshot.diagnosis.empty());
  CAF_CHECK_EQUAL(*get_if<std::string>(&res->data.find("a")->val), "2");
  CAF_CHECK_EQUAL(res->data.find("c")->deadline_ms, now + 60'000);
}

CAF_TEST(golden shard 3 recovers to the intended result) {
  auto scenario = golden_json("shard-3.recovery.expected.json");
  auto& expected = scenario.at("intended_result_all_tags_readable");
  auto res = recover(golden_dir(), 3);
  if (!res)
    CAF_FAIL(res.err().message);
  check_listing(res->data, expected);
  check_flags(res->report, expected);
  auto& rep = res->report;
  CAF_CHECK_EQUAL(rep.snapshot.items, 21u);
  CAF_CHECK_EQUAL(rep.aof.items, 37u);
  CAF_CHECK_EQUAL(rep.records_replayed, 37u);
  CAF_CHECK_EQUAL(rep.records_skipped, 1u); // INCR not-an-int
  // zero-ttl-in-snapshot, pexpire-zero, set-with-zero-ttl
  CAF_CHECK_EQUAL(rep.expired_dropped, 3u);
  CAF_CHECK_EQUAL(rep.aof_valid_end, 1100u);
  CAF_CHECK_EQUAL(res->data.find("expire-future")->deadline_ms,
                  4'102'444'800'000);
}

CAF_TEST(golden shard 1 ignores the torn tail) {
  auto scenario = golden_json("shard-1.recovery.expected.json");
  auto& expected = scenario.at("reference_recover_shard");
  auto res = recover(golden_dir(), 1);
  if (!res)
    CAF_FAIL(res.err().message);
  check_listing(res->data, expected);
  check_flags(res->report, expected);
  auto& rep = res->report;
  CAF_CHECK(rep.aof.end.kind == read_end::torn_tail);
  CAF_CHECK_EQUAL(rep.aof_valid_end, 94u);
  CAF_CHECK_EQUAL(rep.aof.end.offset, 94u);
  CAF_CHECK_EQUAL(rep.aof.end.dropped_bytes, 7u);
  CAF_CHECK_EQUAL(rep.aof.bytes, 101u);
  CAF_CHECK(!rep.aof.set_aside);
  CAF_CHECK_EQUAL(rep.records_replayed, 5u);
}

CAF_TEST(damaged golden shards are refused by default) {
  struct refusal {
    uint16_t shard;
    const char* file;
    const char* detail;
  };
  const refusal cases[] = {
    {4, "shard-4.aof", "57"},   // record 3 starts at offset 57
    {5, "shard-5.snap", "footer"},
    {6, "shard-6.snap", "60"},  // the header names shard 60
  };
  for (auto& c : cases) {
    auto res = recover(golden_dir(), c.shard);
    CAF_REQUIRE(!res);
    CAF_MESSAGE("shard " << c.shard << ": " << res.err().message);
    CAF_CHECK_EQUAL(to_string(res.err().code), std::string{"corrupt_file"});
    CAF_CHECK(contains(res.err().message, c.file));
    CAF_CHECK(contains(res.err().message, c.detail));
    CAF_CHECK(contains(res.err().message, "ember-persist"));
    CAF_CHECK(res.err().message.find('\n') == std::string::npos);
  }
  auto aof = recover(golden_dir(), 4);
  CAF_REQUIRE(!aof);
  CAF_CHECK(contains(aof.err().message, "ember-persist repair"));
  auto snap = recover(golden_dir(), 5);
  CAF_REQUIRE(!snap);
  CAF_CHECK(contains(snap.err().message, "ember-persist check"));
  CAF_CHECK(contains(snap.err().message, "salvage"));
}

CAF_TEST(damaged golden shards salvage to the reference result) {
  for (uint16_t shard : {4, 5, 6}) {
    CAF_MESSAGE("shard " << shard);
    auto scenario = golden_json("shard-" + std::to_string(shard)
                                + ".recovery.expected.json");
    auto& expected = scenario.at("reference_recover_shard");
    auto res = recover(golden_dir(), shard, corruption_policy::salvage);
    if (!res)
      CAF_FAIL(res.err().message);
    check_listing(res->data, expected);
    check_flags(res->report, expected);
  }
  auto s4 = recover(golden_dir(), 4, corruption_policy::salvage);
  CAF_REQUIRE(s4);
  CAF_CHECK(s4->report.aof.set_aside);
  CAF_CHECK(s4->report.aof.loaded);
  CAF_CHECK_EQUAL(s4->report.aof.items, 3u);
  CAF_CHECK(s4->report.aof.end.kind == read_end::corrupt);
  CAF_CHECK_EQUAL(s4->report.aof.end.index, 3u);
  CAF_CHECK_EQUAL(s4->report.aof_valid_end, 57u);
  CAF_CHECK(contains(s4->report.aof.diagnosis, "shard-4.aof"));
  CAF_CHECK(!s4->report.snapshot.set_aside);
  auto s5 = recover(golden_dir(), 5, corruption_policy::salvage);
  CAF_REQUIRE(s5);
  CAF_CHECK(s5->report.snapshot.set_aside);
  CAF_CHECK(!s5->report.snapshot.loaded);
  CAF_CHECK_EQUAL(s5->report.snapshot.items, 0u);
  CAF_CHECK(contains(s5->report.snapshot.diagnosis, "shard-5.snap"));
  CAF_CHECK(!s5->report.aof.set_aside);
  auto s6 = recover(golden_dir(), 6, corruption_policy::salvage);
  CAF_REQUIRE(s6);
  CAF_CHECK(s6->report.snapshot.set_aside);
  CAF_CHECK(s6->report.snapshot.end.code == errc::shard_mismatch);
}

CAF_TEST(recovery never modifies files) {
  temp_dir dir;
  place(dir, "shard-1.snap", "shard-1.snap");
  place(dir, "shard-1.aof", "shard-1.aof");
  place(dir, "shard-4.aof", "shard-4.aof");
  auto before1 = slurp(dir.file("shard-1.aof"));
  auto before4 = slurp(dir.file("shard-4.aof"));
  CAF_CHECK(recover(dir.path(), 1));
  CAF_CHECK(recover(dir.path(), 4, corruption_policy::salvage));
  CAF_CHECK(!recover(dir.path(), 4));
  CAF_CHECK(slurp(dir.file("shard-1.aof")) == before1);
  CAF_CHECK(slurp(dir.file("shard-4.aof")) == before4);
  CAF_CHECK_EQUAL(slurp(golden("shard-1.aof")).size(), 101u);
}

CAF_TEST(a corrupt AOF salvages exactly the records before the bad one) {
  temp_dir dir;
  place(dir, "aof_bad_crc.aof", "shard-0.aof");
  recovery_options opts;
  opts.now_ms = now;
  auto refused = recover_shard(posix_file_system(), dir.path(), 0, opts);
  CAF_REQUIRE(!refused);
  CAF_CHECK_EQUAL(to_string(refused.err().code), to_string(errc::corrupt_file));
  CAF_CHECK(contains(refused.err().message, dir.file("shard-0.aof")));
  opts.policy = corruption_policy::salvage;
  auto res = recover_shard(posix_file_system(), dir.path(), 0, opts);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->report.records_replayed, 22u);
  CAF_CHECK(!res->report.replayed_aof);
  CAF_CHECK(res->data == replay_prefix("aof_all_records.aof", 22, now));
}

CAF_TEST(the all records AOF replays the same plaintext and encrypted) {
  // Its SETBIT at bit 2^32-1 makes 512 MiB strings (and BITOP four more):
  // legal, so only one keyspace at a time is kept, as a fingerprint.
  auto key = golden_key();
  recovery_options opts;
  opts.now_ms = now; // == PEXPIREAT ttl-key 1700000000000: removed
  opts.key = &key;
  std::string plain_print;
  {
    temp_dir dir;
    place(dir, "aof_all_records.aof", "shard-0.aof");
    auto res = recover_shard(posix_file_system(), dir.path(), 0, opts);
    CAF_REQUIRE(res);
    auto& ks = res->data;
    CAF_CHECK(res->report.replayed_aof);
    CAF_CHECK_EQUAL(res->report.records_replayed, 71u);
    // INCRBY i64::MAX and DECRBY i64::MAX overflow the counter.
    CAF_CHECK_EQUAL(res->report.records_skipped, 2u);
    CAF_CHECK_EQUAL(res->report.keys, 22u);
    CAF_CHECK_EQUAL(*get_if<std::string>(&ks.find("counter")->val),
                    "24");
    CAF_CHECK(ks.find("ttl-key") == nullptr);
    CAF_CHECK_EQUAL(ks.find("binary")->deadline_ms, i64_max);
    CAF_CHECK_EQUAL(ks.find("zero-ttl")->deadline_ms, i64_max);
    CAF_CHECK_EQUAL(ks.find("max-ttl")->deadline_ms, i64_max);
    auto& bits = *get_if<std::string>(&ks.find("bits")->val);
    CAF_CHECK_EQUAL(bits.size(), size_t{max_bytes_len});
    CAF_CHECK_EQUAL(to_hex(bits.substr(0, 2)), "0100");
    auto& inverted = *get_if<std::string>(&ks.find("bitop-not")->val);
    CAF_CHECK_EQUAL(to_hex(inverted.substr(0, 2)), "feff");
    // [b, a, bin] after the pushes and pops; LSET, LINSERT before "a",
    // then LREM i64::MIN drops bin.
    CAF_CHECK_EQUAL(describe(ks.find("list")->val),
                    "list [6c7365742d30,6265666f72652d61,61]");
    plain_print = fingerprint(ks);
  }
  temp_dir dir;
  place(dir, "aof_encrypted_v3.aof", "shard-0.aof");
  auto res = recover_shard(posix_file_system(), dir.path(), 0, opts);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(res->report.aof.version, 3);
  CAF_CHECK_EQUAL(res->report.records_replayed, 71u);
  CAF_CHECK_EQUAL(fingerprint(res->data), plain_print);
}

CAF_TEST(encrypted AOFs need the right key) {
  auto key = golden_key();
  temp_dir dir;
  place(dir, "aof_encrypted_v3.aof", "shard-0.aof");
  for (auto policy : {corruption_policy::refuse, corruption_policy::salvage}) {
    auto res = recover(dir.path(), 0, policy);
    CAF_REQUIRE(!res);
    CAF_CHECK_EQUAL(to_string(res.err().code),
                    to_string(errc::encryption_required));
  }
  // A wrong key fails on the first record: an error even when salvaging.
  auto wrong = encryption_key::generate();
  auto bad = recover(dir.path(), 0, corruption_policy::salvage, &wrong);
  CAF_REQUIRE(!bad);
  CAF_CHECK_EQUAL(to_string(bad.err().code),
                  to_string(errc::decryption_failed));
  CAF_CHECK(contains(bad.err().message, "key"));
  // Tampered at record 30: refused, or its first 30 records salvaged.
  temp_dir tampered;
  place(tampered, "aof_encrypted_v3_tampered.aof", "shard-0.aof");
  recovery_options opts;
  opts.now_ms = now;
  opts.key = &key;
  auto refused = recover_shard(posix_file_system(), tampered.path(), 0, opts);
  CAF_REQUIRE(!refused);
  CAF_CHECK_EQUAL(to_string(refused.err().code),
                  to_string(errc::corrupt_file));
  CAF_CHECK(contains(refused.err().message, "#30"));
  opts.policy = corruption_policy::salvage;
  auto salvaged = recover_shard(posix_file_system(), tampered.path(), 0, opts);
  CAF_REQUIRE(salvaged);
  CAF_CHECK_EQUAL(salvaged->report.records_replayed, 30u);
  CAF_CHECK(salvaged->data == replay_prefix("aof_all_records.aof", 30, now));
}

CAF_TEST(snapshots that fail their checks are refused or set aside) {
  struct case_t {
    const char* golden_name;
    errc refused_with;
  };
  const case_t cases[] = {
    {"snapshot_truncated.snap", errc::corrupt_file},
    {"snapshot_bad_footer.snap", errc::corrupt_file},
    {"snapshot_unsupported_version.snap", errc::unsupported_version},
  };
  for (auto& c : cases) {
    CAF_MESSAGE(c.golden_name);
    temp_dir dir;
    place(dir, c.golden_name, "shard-0.snap");
    spit(dir.file("shard-0.aof"), aof_bytes({rec::set{"after", "x", -1}}));
    auto refused = recover(dir.path(), 0);
    CAF_REQUIRE(!refused);
    CAF_CHECK_EQUAL(to_string(refused.err().code), to_string(c.refused_with));
    CAF_CHECK(contains(refused.err().message, dir.file("shard-0.snap")));
    auto res = recover(dir.path(), 0, corruption_policy::salvage);
    CAF_REQUIRE(res);
    CAF_CHECK(!res->report.loaded_snapshot);
    CAF_CHECK(res->report.snapshot.set_aside);
    CAF_CHECK(res->report.replayed_aof);
    CAF_CHECK_EQUAL(join(res->data.sorted_keys()), "[after]");
  }
}

CAF_TEST(open errors of an AOF are errors in both policies) {
  temp_dir dir;
  place(dir, "aof_bad_magic.aof", "shard-0.aof");
  for (auto policy : {corruption_policy::refuse, corruption_policy::salvage}) {
    auto res = recover(dir.path(), 0, policy);
    CAF_REQUIRE(!res);
    CAF_CHECK_EQUAL(to_string(res.err().code), to_string(errc::invalid_magic));
    CAF_CHECK(contains(res.err().message, dir.file("shard-0.aof")));
  }
}

CAF_TEST(an AOF shorter than its header is an empty log) {
  // What a crash leaves while the writer creates the file.
  for (std::string content : {std::string{}, std::string{"EAO"},
                              std::string{"EAOF"}}) {
    temp_dir dir;
    spit(dir.file("shard-0.snap"), snapshot_bytes(0, {{"k", "v", -1}}));
    spit(dir.file("shard-0.aof"), content);
    auto res = recover(dir.path(), 0);
    CAF_REQUIRE(res);
    CAF_CHECK_EQUAL(join(res->data.sorted_keys()), "[k]");
    CAF_CHECK(res->report.replayed_aof);
    CAF_CHECK(res->report.aof.end.kind == read_end::torn_tail);
    CAF_CHECK_EQUAL(res->report.aof.end.dropped_bytes, content.size());
    CAF_CHECK_EQUAL(res->report.aof_valid_end, 0u);
    CAF_CHECK(contains(res->report.aof.diagnosis, dir.file("shard-0.aof")));
  }
}

CAF_TEST(a snapshot shorter than its header is damage) {
  temp_dir dir;
  spit(dir.file("shard-0.snap"), "ESNP\x02\x00");
  spit(dir.file("shard-0.aof"), aof_bytes({rec::set{"after", "x", -1}}));
  auto refused = recover(dir.path(), 0);
  CAF_REQUIRE(!refused);
  CAF_CHECK(contains(refused.err().message, dir.file("shard-0.snap")));
  CAF_CHECK(contains(refused.err().message, "salvage"));
  auto res = recover(dir.path(), 0, corruption_policy::salvage);
  CAF_REQUIRE(res);
  CAF_CHECK(res->report.snapshot.set_aside);
  CAF_CHECK_EQUAL(join(res->data.sorted_keys()), "[after]");
}

CAF_TEST(an OS error is never mistaken for damage) {
  temp_dir dir;
  spit(dir.file("shard-0.snap"), snapshot_bytes(0, {{"k", "v", -1}}));
  fault_injection_file_system fs;
  fs.fail(fault_op::open, 1, EACCES, true);
  recovery_options opts;
  opts.policy = corruption_policy::salvage;
  auto res = recover_shard(fs, dir.path(), 0, opts);
  CAF_REQUIRE(!res);
  CAF_CHECK_EQUAL(to_string(res.err().code), to_string(errc::io_error));
}

CAF_TEST(encrypted and plaintext snapshots load the same entries) {
  auto key = golden_key();
  recovery_options opts;
  opts.now_ms = now;
  opts.key = &key;
  temp_dir plain;
  place(plain, "snapshot_v2_all_types.snap", "shard-0.snap");
  temp_dir sealed;
  place(sealed, "snapshot_encrypted_v3.snap", "shard-0.snap");
  auto a = recover_shard(posix_file_system(), plain.path(), 0, opts);
  auto b = recover_shard(posix_file_system(), sealed.path(), 0, opts);
  CAF_REQUIRE(a && b);
  CAF_CHECK(a->data == b->data);
  CAF_CHECK_EQUAL(b->report.snapshot.version, 3);
  // Every entry but those stored with expire_ms 0 survives.
  auto listing = golden_json("snapshot_v2_all_types.snap.expected.json");
  uint64_t zero_ttl = 0;
  for (auto& e : listing.at("entries"))
    zero_ttl += e.at("expire_ms").get<int64_t>() == 0;
  CAF_CHECK_EQUAL(a->report.snapshot.items, 20u);
  CAF_CHECK_EQUAL(a->report.expired_dropped, zero_ttl);
  CAF_CHECK_EQUAL(a->report.keys, 20u - zero_ttl);
  // Without the key the snapshot cannot be opened, salvage or not.
  opts.key = nullptr;
  opts.policy = corruption_policy::salvage;
  auto c = recover_shard(posix_file_system(), sealed.path(), 0, opts);
  CAF_REQUIRE(!c);
  CAF_CHECK_EQUAL(to_string(c.err().code),
                  to_string(errc::encryption_required));
  // A wrong key fails on the first entry: an error, not a set-aside.
  auto wrong = encryption_key::generate();
  opts.key = &wrong;
  auto d = recover_shard(posix_file_system(), sealed.path(), 0, opts);
  CAF_REQUIRE(!d);
  CAF_CHECK_EQUAL(to_string(d.err().code), to_string(errc::decryption_failed));
}

CAF_TEST(feature records and entries recover) {
  if (!with_proto || !with_vector) {
    CAF_MESSAGE("skipped: built without EMBER_WITH_PROTO/EMBER_WITH_VECTOR");
    return;
  }
  temp_dir dir;
  place(dir, "aof_feature_records.aof", "shard-0.aof");
  place(dir, "snapshot_v2_feature_types.snap", "shard-0.snap");
  recovery_options opts;
  opts.now_ms = now;
  auto res = recover_shard(posix_file_system(), dir.path(), 0, opts);
  CAF_REQUIRE(res);
  auto& ks = res->data;
  // proto:empty had expire_ms 0 in the snapshot.
  CAF_CHECK_EQUAL(join(ks.sorted_keys()),
                  "[proto:1,proto:msg,proto:ttl,s,vec:empty,vec:set,vecs,"
                  "vecs-ip,vecs-l2,\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87-proto]");
  CAF_CHECK_EQUAL(ks.find("proto:ttl")->deadline_ms, now + 5000);
  auto vecs = get_if<vector_value>(&ks.find("vecs")->val);
  CAF_REQUIRE(vecs != nullptr);
  CAF_REQUIRE_EQUAL(vecs->elements.size(), 1u);
  CAF_CHECK_EQUAL(vecs->elements[0].name, "e2");
  CAF_CHECK_EQUAL(vecs->dim, 6u);
  auto set = get_if<vector_value>(&ks.find("vec:set")->val);
  CAF_REQUIRE(set != nullptr);
  CAF_CHECK_EQUAL(set->dim, 3u);
  CAF_CHECK_EQUAL(set->connectivity, 16u);
  CAF_CHECK_EQUAL(res->report.records_skipped, 0u);
}

CAF_TEST(large files report progress and small ones do not) {
  temp_dir dir;
  place(dir, "shard-3.snap", "shard-3.snap");
  place(dir, "shard-3.aof", "shard-3.aof");
  struct event {
    std::string path;
    uint64_t done;
    uint64_t total;
  };
  std::vector<event> events;
  recovery_options opts;
  opts.now_ms = now;
  opts.on_progress = [&](const std::string& path, uint64_t done,
                         uint64_t total) {
    events.push_back({path, done, total});
  };
  // The default step (64 MiB) is far above these files.
  CAF_REQUIRE(recover_shard(posix_file_system(), dir.path(), 3, opts));
  CAF_CHECK(events.empty());
  // A small step: each file reports, in order, strictly before its end.
  opts.progress_step = 64;
  CAF_REQUIRE(recover_shard(posix_file_system(), dir.path(), 3, opts));
  auto snap_size = slurp(dir.file("shard-3.snap")).size();
  auto aof_size = slurp(dir.file("shard-3.aof")).size();
  size_t snap_events = 0;
  size_t aof_events = 0;
  uint64_t last = 0;
  std::string last_path;
  for (auto& e : events) {
    bool snap = e.path == dir.file("shard-3.snap");
    CAF_CHECK(snap || e.path == dir.file("shard-3.aof"));
    CAF_CHECK_EQUAL(e.total, snap ? snap_size : aof_size);
    CAF_CHECK(e.done <= e.total);
    if (e.path == last_path)
      CAF_CHECK(e.done / 64 > last / 64); // at most one event per step
    last = e.done;
    last_path = e.path;
    (snap ? snap_events : aof_events)++;
  }
  CAF_CHECK(snap_events >= snap_size / 64 / 2);
  CAF_CHECK(aof_events >= aof_size / 64 / 2);
}

// -- replay on two threads (codec/split_replay.hpp) ----------------------------

namespace {

/// A mixed log over `keys` keys of every common kind, with TTLs, no-ops and
/// `cross` multi-key records (RENAME, COPY, BITOP) among `n` records.
std::vector<aof_record> mixed_log(size_t n, size_t keys, size_t cross) {
  std::vector<aof_record> out;
  auto key = [](size_t i) { return "key:" + std::to_string(i); };
  uint64_t x = 88172645463325252ull; // xorshift: the same log every run
  auto rnd = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  size_t every = cross == 0 ? 0 : n / cross;
  for (size_t i = 0; i < n; ++i) {
    auto k = key(rnd() % keys);
    auto other = key(rnd() % keys);
    if (every != 0 && i % every == every - 1) {
      switch (rnd() % 3) {
      case 0: out.push_back(rec::rename{k, other}); break;
      case 1: out.push_back(rec::copy{k, other, rnd() % 2 == 0}); break;
      default: out.push_back(rec::bitop{1, other, {k, key(rnd() % keys)}});
      }
      continue;
    }
    switch (rnd() % 12) {
    case 0: out.push_back(rec::set{k, "v" + std::to_string(i), 60'000}); break;
    case 1: out.push_back(rec::set{k, "short", 0}); break; // expires now
    case 2: out.push_back(rec::incr{k}); break;            // may be a no-op
    case 3: out.push_back(rec::rpush{k, {"a", std::to_string(i)}}); break;
    case 4: out.push_back(rec::lpop{k}); break;
    case 5: out.push_back(rec::hset{k, {{"f", std::to_string(i)}}}); break;
    case 6: out.push_back(rec::sadd{k, {std::to_string(i % 7)}}); break;
    case 7: out.push_back(rec::del{k}); break;
    case 8: out.push_back(rec::append{k, "+"}); break;
    case 9: out.push_back(rec::pexpire{k, 120'000}); break;
    default: out.push_back(rec::set{k, std::string(40, 'x'), -1});
    }
  }
  return out;
}

struct both_ways {
  result<recovery_result> one;
  result<recovery_result> two;
};

both_ways recover_both_ways(file_system& fs, const std::string& dir,
                            uint16_t shard, corruption_policy policy,
                            const encryption_key* key = nullptr) {
  recovery_options opts;
  opts.now_ms = now;
  opts.policy = policy;
  opts.key = key;
  opts.split_replay = false;
  auto one = recover_shard(fs, dir, shard, opts);
  opts.split_replay = true;
  auto two = recover_shard(fs, dir, shard, opts);
  return {std::move(one), std::move(two)};
}

void check_same_recovery(const recovery_result& a, const recovery_result& b) {
  CAF_CHECK(a.data == b.data);
  CAF_CHECK_EQUAL(a.data.size(), b.data.size());
  auto& x = a.report;
  auto& y = b.report;
  CAF_CHECK_EQUAL(x.records_replayed, y.records_replayed);
  CAF_CHECK_EQUAL(x.records_skipped, y.records_skipped);
  CAF_CHECK_EQUAL(x.keys, y.keys);
  CAF_CHECK_EQUAL(x.expired_dropped, y.expired_dropped);
  CAF_CHECK_EQUAL(x.aof_valid_end, y.aof_valid_end);
  CAF_CHECK_EQUAL(x.replayed_aof, y.replayed_aof);
  CAF_CHECK(x.aof.end.kind == y.aof.end.kind);
  CAF_CHECK_EQUAL(x.aof.diagnosis, y.aof.diagnosis);
}

// POSIX, except that the second opening of `path` opens `instead`: what a
// file replaced between the two readers' opens looks like.
class second_open_differs final : public file_system {
public:
  second_open_differs(std::string path, std::string instead)
    : path_(std::move(path)), instead_(std::move(instead)) {
  }
  result<std::unique_ptr<writable_file>>
  open_writable(const std::string& path, open_mode mode) override {
    return base_.open_writable(path, mode);
  }
  result<std::unique_ptr<readable_file>>
  open_readable(const std::string& path) override {
    if (path == path_ && ++opens_ == 2)
      return base_.open_readable(instead_);
    return base_.open_readable(path);
  }
  status rename(const std::string& from, const std::string& to) override {
    return base_.rename(from, to);
  }
  status remove(const std::string& path) override {
    return base_.remove(path);
  }
  status sync_dir(const std::string& dir) override {
    return base_.sync_dir(dir);
  }
  result<bool> exists(const std::string& path) override {
    return base_.exists(path);
  }
  result<int64_t> modified_ms(const std::string& path) override {
    return base_.modified_ms(path);
  }

private:
  file_system& base_ = posix_file_system();
  std::string path_;
  std::string instead_;
  int opens_ = 0;
};

} // namespace

// codec/arena_mark.hpp: a replay readies its thread's arena by allocating
// and freeing; only the one piece it hands back stays allocated. (Under a
// sanitizer, malloc is the sanitizer's: mallinfo2 does not see it, and
// LeakSanitizer checks that nothing is left.)
CAF_TEST(readying an arena keeps one piece and gives the rest back) {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) \
  && !defined(__SANITIZE_THREAD__)
  constexpr bool counted = true;
#else
  constexpr bool counted = false;
#endif
  CAF_CHECK(!raise_arena_mark(0));
  // On a new thread, as split_replay's helper: its own arena.
  std::thread t{[] {
    auto in_use = [] { return counted ? mallinfo2().uordblks : 0; };
    auto before = in_use();
    {
      auto held = raise_arena_mark(8 << 20);
      CAF_CHECK(held);
      if (counted) {
        CAF_CHECK_GREATER_OR_EQUAL(in_use(), before + 64 * 1024);
        CAF_CHECK_LESS(in_use(), before + (1 << 20));
      }
    }
    if (counted)
      CAF_CHECK_LESS(in_use(), before + 4096);
  }};
  t.join();
}

CAF_TEST(a replay window applies what applying each record as read does) {
  // Few keys, so that records in one window touch the same key (a SET, a
  // DEL, a SET again); lengths around the window's size cover a partial
  // last group, and flushes in the middle cover a rendezvous.
  auto d = replay_window::depth;
  for (size_t n : {size_t{0}, size_t{1}, d - 1, d, d + 1, 3 * d + 5, size_t{5000}}) {
    auto log = mixed_log(n, 12, n / 50);
    keyspace direct;
    replay_stats direct_stats;
    for (auto& r : log)
      ember::codec::apply(direct, r, now, &direct_stats);
    keyspace windowed;
    replay_stats windowed_stats;
    replay_window w{now};
    for (size_t i = 0; i < log.size(); ++i) {
      auto r = log[i];
      w.push(windowed, r, windowed_stats);
      CAF_CHECK_LESS(w.size(), d);
      if (i % 37 == 36)
        w.flush(windowed, windowed_stats);
    }
    w.flush(windowed, windowed_stats);
    CAF_CHECK_EQUAL(w.size(), 0u);
    CAF_CHECK(windowed == direct);
    CAF_CHECK_EQUAL(windowed_stats.applied, direct_stats.applied);
    CAF_CHECK_EQUAL(windowed_stats.skipped, direct_stats.skipped);
  }
}

CAF_TEST(replay on two threads recovers what one thread recovers) {
  // 40 multi-key records (rendezvous); then 2,000, beyond the 256 after
  // which the caller finishes alone.
  for (size_t cross : {size_t{0}, size_t{40}, size_t{2'000}}) {
    CAF_MESSAGE("multi-key records: " << cross);
    temp_dir dir;
    spit(dir.file("shard-1.snap"),
         snapshot_bytes(1, {{"key:1", "snap", -1}, {"key:2", "7", 30'000},
                            {"key:3", "gone", 0}, {"key:977", "s", -1}}));
    spit(dir.file("shard-1.aof"), aof_bytes(mixed_log(30'000, 3'000, cross)));
    auto r = recover_both_ways(posix_file_system(), dir.path(), 1,
                               corruption_policy::refuse);
    CAF_REQUIRE(r.one);
    if (!r.two)
      CAF_FAIL(r.two.err().message);
    check_same_recovery(*r.one, *r.two);
    CAF_CHECK_EQUAL(r.two->report.records_replayed, 30'000u);
    CAF_CHECK(r.two->report.keys > 1'000u); // the log is not degenerate
    CAF_CHECK(r.two->report.records_skipped > 0u);
  }
}

CAF_TEST(replay on two threads reads an encrypted AOF as one thread does) {
  temp_dir dir;
  auto key = encryption_key::generate();
  {
    aof_writer_options o;
    o.key = &key;
    auto w = aof_writer::open(posix_file_system(), dir.file("shard-0.aof"), o);
    CAF_REQUIRE(w);
    for (auto& r : mixed_log(5'000, 500, 50))
      CAF_REQUIRE(w->add(r));
    CAF_REQUIRE(w->commit());
    CAF_REQUIRE_EQUAL(w->version(), 3);
  }
  auto r = recover_both_ways(posix_file_system(), dir.path(), 0,
                             corruption_policy::refuse, &key);
  CAF_REQUIRE(r.one);
  CAF_REQUIRE(r.two);
  check_same_recovery(*r.one, *r.two);
  CAF_CHECK_EQUAL(r.two->report.records_replayed, 5'000u);
  CAF_CHECK_EQUAL(r.two->report.aof.version, 3);
}

CAF_TEST(replay on two threads stops where one thread stops) {
  auto log = aof_bytes(mixed_log(20'000, 2'000, 100));
  // A torn tail: the last record cut short.
  {
    temp_dir dir;
    spit(dir.file("shard-0.aof"), log.substr(0, log.size() - 5));
    auto r = recover_both_ways(posix_file_system(), dir.path(), 0,
                               corruption_policy::refuse);
    CAF_REQUIRE(r.one);
    CAF_REQUIRE(r.two);
    check_same_recovery(*r.one, *r.two);
    CAF_CHECK(r.two->report.aof.end.kind == read_end::torn_tail);
    CAF_CHECK_EQUAL(r.two->report.records_replayed, 19'999u);
  }
  // Corruption mid-file: refused both ways; salvaged to the same records.
  auto bad = log;
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x55);
  temp_dir dir;
  spit(dir.file("shard-0.aof"), bad);
  auto refused = recover_both_ways(posix_file_system(), dir.path(), 0,
                                   corruption_policy::refuse);
  CAF_REQUIRE(!refused.one);
  CAF_REQUIRE(!refused.two);
  CAF_CHECK(refused.one.err().code == refused.two.err().code);
  CAF_CHECK_EQUAL(refused.one.err().message, refused.two.err().message);
  auto salvaged = recover_both_ways(posix_file_system(), dir.path(), 0,
                                    corruption_policy::salvage);
  CAF_REQUIRE(salvaged.one);
  CAF_REQUIRE(salvaged.two);
  check_same_recovery(*salvaged.one, *salvaged.two);
  CAF_CHECK(salvaged.two->report.records_replayed > 5'000u);
  CAF_CHECK(salvaged.two->report.records_replayed < 15'000u);
}

CAF_TEST(replay on two threads refuses when its two reads differ) {
  temp_dir dir;
  auto log = mixed_log(20'000, 2'000, 0);
  spit(dir.file("shard-0.aof"), aof_bytes(log));
  // The helper's open finds a file with a record less at the end...
  auto shorter = log;
  shorter.pop_back();
  spit(dir.file("shorter.aof"), aof_bytes(shorter));
  // ...or one with a RENAME across the halves past the end of ours (the
  // helper waits there for a caller that never comes)...
  std::string left = "key:0";
  std::string right;
  for (int i = 1; right.empty(); ++i)
    if (keyspace::segment_index("key:" + std::to_string(i)) % 2
        != keyspace::segment_index(left) % 2)
      right = "key:" + std::to_string(i);
  auto longer = log;
  longer.push_back(rec::set{left, "x", -1});
  longer.push_back(rec::rename{left, right});
  spit(dir.file("longer.aof"), aof_bytes(longer));
  // ...or one as long in records whose values are a byte longer.
  auto other = mixed_log(20'000, 2'000, 0);
  for (auto& r : other)
    if (auto* s = std::get_if<rec::set>(&r))
      s->value += "!";
  spit(dir.file("other.aof"), aof_bytes(other));
  for (auto name : {"shorter.aof", "longer.aof", "other.aof"}) {
    CAF_MESSAGE("the second read sees " << name);
    second_open_differs fs{dir.file("shard-0.aof"), dir.file(name)};
    recovery_options opts;
    opts.now_ms = now;
    opts.split_replay = true;
    auto res = recover_shard(fs, dir.path(), 0, opts);
    CAF_REQUIRE(!res);
    CAF_CHECK(res.err().code == errc::io_error);
    CAF_CHECK(res.err().message.find(dir.file("shard-0.aof"))
              != std::string::npos);
    CAF_CHECK(res.err().message.find("restart") != std::string::npos);
  }
  // The same file on both opens recovers.
  second_open_differs same{dir.file("shard-0.aof"), dir.file("shard-0.aof")};
  recovery_options opts;
  opts.now_ms = now;
  opts.split_replay = true;
  CAF_CHECK(recover_shard(same, dir.path(), 0, opts));
}
