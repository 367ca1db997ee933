// shard_state: Redis semantics of every write and read request, errors that
// change nothing, TTL logging as absolute deadlines, lazy and active expiry,
// and the key property: replaying the log (in memory or from an AOF file)
// at any later time gives the live state.
#define CAF_SUITE shard_state
#include "caf/test/unit_test_impl.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "actors/shard_state.hpp"
#include "codec/aof_writer.hpp"
#include "codec/format.hpp"
#include "codec/recovery.hpp"
#include "codec/replay.hpp"
#include "messages/persist_error.hpp"
#include "tests/test_support.hpp"

using namespace ember;
using namespace ember::codec;
using namespace ember::messages;
using actors::shard_state;
using records = std::vector<aof_record>;

namespace {

constexpr int64_t t0 = 1'700'000'000'000;

// -- replies ------------------------------------------------------------------

reply nil() {
  return reply::none();
}
reply ok() {
  return reply::ok();
}
reply num(int64_t n) {
  return reply::of(n);
}
reply bulk(std::string s) {
  return reply::of(std::move(s));
}
reply type_reply(std::string s) {
  return reply::make_status(std::move(s));
}
reply arr(std::vector<std::string> xs) {
  std::vector<reply> out;
  for (auto& x : xs)
    out.push_back(bulk(x));
  return reply::of(std::move(out));
}

// -- logs and keyspaces as text (readable failures) ---------------------------

std::string show(const aof_record& r) {
  std::string payload;
  encode_payload(payload, r);
  return std::string{op_name(tag_of(r))} + " "
         + std::string{primary_key(r)} + " " + to_hex(payload.substr(1));
}

std::string show(const records& log) {
  std::string out;
  for (auto& r : log)
    out += show(r) + "\n";
  return out;
}

using ember::test::fingerprint;

/// The keyspace as recovery at `t` would keep it.
keyspace at(keyspace ks, int64_t t) {
  ks.remove_expired(t);
  return ks;
}

/// Replays `log` on `ks` (empty, or a loaded snapshot) anchored at `t`,
/// then drops what ran out (what recovery does).
keyspace replay(const records& log, int64_t t, keyspace ks = {}) {
  for (auto& r : log)
    codec::apply(ks, r, t);
  ks.remove_expired(t);
  return ks;
}

std::string code_of(const caf::error& err) {
  auto code = persist_code(err);
  return code ? to_string(*code) : "not ours: " + caf::to_string(err);
}

// -- fixture --------------------------------------------------------------------

struct fixture {
  shard_state st;
  records log;  ///< not yet checked by take()
  records all;  ///< everything logged so far
  int64_t now = t0;

  caf::expected<reply> apply(aof_record r, uint8_t flags) {
    return st.apply(mutation{std::move(r), flags}, now, log);
  }

  /// Applies a request that must succeed.
  reply run(aof_record r, uint8_t flags = 0) {
    auto res = apply(std::move(r), flags);
    CAF_CHECK(st.consistent());
    if (!res) {
      CAF_ERROR("unexpected error " << code_of(res.error()) << ": "
                                    << persist_context(res.error()));
      return reply::make_status("<error>");
    }
    return std::move(*res);
  }

  /// Applies a request that must fail without changing or logging
  /// anything; returns the error code's name.
  std::string fails(aof_record r, uint8_t flags = 0) {
    auto before = st.data();
    auto logged = log.size();
    auto res = apply(std::move(r), flags);
    CAF_CHECK(st.data() == before);
    CAF_CHECK_EQUAL(log.size(), logged);
    CAF_CHECK(st.consistent());
    if (res) {
      CAF_ERROR("expected an error, got a reply");
      return "<no error>";
    }
    return code_of(res.error());
  }

  /// The error text of a failing request.
  std::string fail_text(aof_record r, uint8_t flags = 0) {
    auto res = apply(std::move(r), flags);
    return res ? "<no error>" : persist_context(res.error());
  }

  reply ask(query q) {
    auto res = st.query(q, now);
    if (!res) {
      CAF_ERROR("unexpected error " << code_of(res.error()));
      return reply::make_status("<error>");
    }
    return std::move(*res);
  }

  std::string ask_fails(query q) {
    auto res = st.query(q, now);
    return res ? "<no error>" : code_of(res.error());
  }

  /// The records logged since the last call, as text.
  std::string logged() {
    all.insert(all.end(), log.begin(), log.end());
    return show(std::exchange(log, {}));
  }

  /// Replaying everything logged so far at `t` (>= now) gives the state
  /// the shard has at `t`.
  void check_recovery(int64_t t) {
    all.insert(all.end(), log.begin(), log.end());
    log.clear();
    CAF_CHECK_EQUAL(fingerprint(replay(all, t)), fingerprint(at(st.data(), t)));
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(shard_state_tests, fixture)

// -- strings --------------------------------------------------------------------

CAF_TEST(set and get) {
  CAF_CHECK_EQUAL(run(rec::set{"k", "v", -1}), ok());
  CAF_CHECK_EQUAL(logged(), show(records{rec::set{"k", "v", -1}}));
  CAF_CHECK_EQUAL(ask(q::get{"k"}), bulk("v"));
  CAF_CHECK_EQUAL(ask(q::get{"missing"}), nil());
  CAF_CHECK_EQUAL(ask(q::strlen{"k"}), num(1));
  CAF_CHECK_EQUAL(ask(q::ttl{"k", false}), num(-1));
  CAF_CHECK_EQUAL(ask(q::ttl{"missing", true}), num(-2));
  CAF_CHECK_EQUAL(ask(q::type{"k"}), type_reply("string"));
  CAF_CHECK_EQUAL(ask(q::type{"missing"}), type_reply("none"));
  // SET replaces any type.
  run(rec::rpush{"l", {"x"}});
  logged();
  CAF_CHECK_EQUAL(run(rec::set{"l", "s", -1}), ok());
  CAF_CHECK_EQUAL(ask(q::type{"l"}), type_reply("string"));
  check_recovery(now);
}

CAF_TEST(set with a ttl logs an absolute deadline) {
  CAF_CHECK_EQUAL(run(rec::set{"k", "v", 1500}), ok());
  // The remaining TTL in the SET too: a crash that tears off the
  // PEXPIREAT still leaves a key that expires.
  CAF_CHECK_EQUAL(logged(), show(records{rec::set{"k", "v", 1500},
                                         rec::pexpireat{"k", t0 + 1500}}));
  now += 400;
  CAF_CHECK_EQUAL(ask(q::ttl{"k", true}), num(1100));
  CAF_CHECK_EQUAL(ask(q::ttl{"k", false}), num(1)); // (1100 + 500) / 1000
  now += 600;
  CAF_CHECK_EQUAL(ask(q::ttl{"k", false}), num(1)); // 500 ms rounds up
  now += 1;
  CAF_CHECK_EQUAL(ask(q::ttl{"k", false}), num(0));
  check_recovery(now);
  check_recovery(t0 + 1500); // gone exactly at the deadline
  // Absolute deadline (PXAT).
  CAF_CHECK_EQUAL(run(rec::set{"a", "1", t0 + 5000}, flag_absolute_ttl), ok());
  CAF_CHECK_EQUAL(logged(), show(records{rec::set{"a", "1", t0 + 5000 - now},
                                         rec::pexpireat{"a", t0 + 5000}}));
  // A deadline already past removes the key (DEL logged when it existed).
  CAF_CHECK_EQUAL(run(rec::set{"a", "2", t0}, flag_absolute_ttl), ok());
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"a"}}));
  CAF_CHECK_EQUAL(ask(q::exists{{"a"}}), num(0));
  CAF_CHECK_EQUAL(run(rec::set{"a", "2", t0}, flag_absolute_ttl), ok());
  CAF_CHECK_EQUAL(logged(), "");
  check_recovery(now);
}

CAF_TEST(set options) {
  run(rec::set{"k", "old", 10000});
  logged();
  // NX on an existing key: nothing.
  CAF_CHECK_EQUAL(run(rec::set{"k", "new", -1}, flag_nx), nil());
  CAF_CHECK_EQUAL(logged(), "");
  // XX on a missing key: nothing.
  CAF_CHECK_EQUAL(run(rec::set{"m", "new", -1}, flag_xx), nil());
  CAF_CHECK_EQUAL(ask(q::exists{{"m"}}), num(0));
  // GET returns the old value, also when NX blocks the write.
  CAF_CHECK_EQUAL(run(rec::set{"k", "x", -1}, flag_nx | flag_get),
                  bulk("old"));
  CAF_CHECK_EQUAL(run(rec::set{"m", "x", -1}, flag_get), nil());
  CAF_CHECK_EQUAL(run(rec::set{"m", "y", -1}, flag_get | flag_xx), bulk("x"));
  logged();
  // KEEPTTL keeps the deadline, logged again after the SET.
  CAF_CHECK_EQUAL(run(rec::set{"k", "kept", -1}, flag_keepttl), ok());
  CAF_CHECK_EQUAL(logged(),
                  show(records{rec::set{"k", "kept", t0 + 10000 - now},
                               rec::pexpireat{"k", t0 + 10000}}));
  // Without KEEPTTL a SET clears the TTL.
  run(rec::set{"k", "plain", -1});
  CAF_CHECK_EQUAL(ask(q::ttl{"k", true}), num(-1));
  check_recovery(now);
  check_recovery(now + 20000);
}

CAF_TEST(set errors change nothing) {
  run(rec::rpush{"l", {"x"}});
  run(rec::set{"k", "v", -1});
  CAF_CHECK_EQUAL(fails(rec::set{"k", "v", -1}, flag_nx | flag_xx),
                  "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::set{"l", "v", -1}, flag_get), "wrong_type");
  CAF_CHECK_EQUAL(fail_text(rec::set{"l", "v", -1}, flag_get),
                  "WRONGTYPE Operation against a key holding the wrong kind "
                  "of value");
  CAF_CHECK_EQUAL(fails(rec::set{"k", "v", 100}, flag_keepttl),
                  "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::set{"k", "v", 0}), "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::set{"k", "v", 0}, flag_absolute_ttl),
                  "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::set{"k", "v", std::numeric_limits<int64_t>::max()}),
                  "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::set{"\xff", "v", -1}), "invalid_utf8");
  CAF_CHECK_EQUAL(fails(rec::set{"k\xc3\x28", "v", -1}), "invalid_utf8");
  // Values are bytes: any content is fine.
  CAF_CHECK_EQUAL(run(rec::set{"k", "\xff\x00", -1}), ok());
}

CAF_TEST(del) {
  run(rec::set{"k", "v", -1});
  logged();
  CAF_CHECK_EQUAL(run(rec::del{"k"}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"k"}}));
  CAF_CHECK_EQUAL(run(rec::del{"k"}), num(0));
  CAF_CHECK_EQUAL(logged(), "");
}

CAF_TEST(incr family) {
  CAF_CHECK_EQUAL(run(rec::incr{"n"}), num(1));
  CAF_CHECK_EQUAL(run(rec::incrby{"n", 41}), num(42));
  CAF_CHECK_EQUAL(run(rec::decr{"n"}), num(41));
  CAF_CHECK_EQUAL(run(rec::decrby{"n", 50}), num(-9));
  CAF_CHECK_EQUAL(logged(),
                  show(records{rec::incr{"n"}, rec::incrby{"n", 41},
                               rec::decr{"n"}, rec::decrby{"n", 50}}));
  CAF_CHECK_EQUAL(ask(q::get{"n"}), bulk("-9"));
  for (auto bad : {"abc", "+1", "01", " 1", "1 ", "", "-0", "1.5",
                   "99999999999999999999"}) {
    run(rec::set{"s", bad, -1});
    CAF_CHECK_EQUAL(fails(rec::incr{"s"}), "not_integer");
  }
  CAF_CHECK_EQUAL(fail_text(rec::incr{"s"}),
                  "value is not an integer or out of range");
  run(rec::set{"s", "9223372036854775807", -1});
  CAF_CHECK_EQUAL(fails(rec::incr{"s"}), "not_integer");
  run(rec::set{"s", "-9223372036854775808", -1});
  CAF_CHECK_EQUAL(fails(rec::decr{"s"}), "not_integer");
  CAF_CHECK_EQUAL(run(rec::incrby{"s", 8}), num(-9223372036854775800));
  CAF_CHECK_EQUAL(fails(rec::decrby{"s", std::numeric_limits<int64_t>::min()}),
                  "not_integer");
  run(rec::sadd{"set", {"m"}});
  CAF_CHECK_EQUAL(fails(rec::incr{"set"}), "wrong_type");
  logged();
  // INCR keeps the TTL; the deadline is logged again after it.
  run(rec::set{"t", "5", 3000});
  logged();
  CAF_CHECK_EQUAL(run(rec::incr{"t"}), num(6));
  CAF_CHECK_EQUAL(logged(), show(records{rec::incr{"t"},
                                         rec::pexpireat{"t", t0 + 3000}}));
  CAF_CHECK_EQUAL(ask(q::ttl{"t", true}), num(3000));
  check_recovery(now);
  check_recovery(now + 5000);
}

CAF_TEST(append setrange setbit) {
  CAF_CHECK_EQUAL(run(rec::append{"s", "ab"}), num(2));
  CAF_CHECK_EQUAL(run(rec::append{"s", "cd"}), num(4));
  CAF_CHECK_EQUAL(run(rec::append{"e", ""}), num(0)); // creates ""
  CAF_CHECK_EQUAL(ask(q::exists{{"e"}}), num(1));
  CAF_CHECK_EQUAL(run(rec::setrange{"s", 6, "xy"}), num(8));
  CAF_CHECK_EQUAL(ask(q::get{"s"}), bulk(std::string("abcd\0\0xy", 8)));
  CAF_CHECK_EQUAL(run(rec::setrange{"s", 1, "Z"}), num(8));
  CAF_CHECK_EQUAL(ask(q::getrange{"s", 0, 2}), bulk("aZc"));
  logged();
  // SETRANGE with an empty value changes nothing, not even a missing key.
  CAF_CHECK_EQUAL(run(rec::setrange{"none", 5, ""}), num(0));
  CAF_CHECK_EQUAL(run(rec::setrange{"s", 100, ""}), num(8));
  CAF_CHECK_EQUAL(logged(), "");
  CAF_CHECK_EQUAL(ask(q::exists{{"none"}}), num(0));
  CAF_CHECK_EQUAL(fails(rec::setrange{"s", -1, "x"}), "out_of_range");
  CAF_CHECK_EQUAL(fails(rec::setrange{"s", codec::max_bytes_len, "x"}),
                  "too_large");
  CAF_CHECK_EQUAL(run(rec::setrange{"big", codec::max_bytes_len - 1, ""}),
                  num(0));
  // SETBIT: bit 7 - offset % 8 of byte offset / 8; replies the old bit.
  CAF_CHECK_EQUAL(run(rec::setbit{"b", 1, 1}), num(0));
  CAF_CHECK_EQUAL(ask(q::get{"b"}), bulk("\x40"));
  CAF_CHECK_EQUAL(run(rec::setbit{"b", 1, 1}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::setbit{"b", 1, 1}}));
  CAF_CHECK_EQUAL(run(rec::setbit{"b", 17, 0}), num(0)); // zero-extends
  CAF_CHECK_EQUAL(ask(q::strlen{"b"}), num(3));
  CAF_CHECK_EQUAL(ask(q::getbit{"b", 1}), num(1));
  CAF_CHECK_EQUAL(ask(q::getbit{"b", 2}), num(0));
  CAF_CHECK_EQUAL(ask(q::getbit{"b", 1000}), num(0));
  CAF_CHECK_EQUAL(run(rec::setbit{"b", 1, 0}), num(1));
  CAF_CHECK_EQUAL(fails(rec::setbit{"b", -1, 1}), "out_of_range");
  CAF_CHECK_EQUAL(
    fails(rec::setbit{"b", int64_t{codec::max_bytes_len} * 8, 1}),
    "too_large");
  CAF_CHECK_EQUAL(fails(rec::setbit{"b", 0, 2}), "not_integer");
  CAF_CHECK_EQUAL(ask_fails(q::getbit{"b", -1}), "out_of_range");
  run(rec::rpush{"l", {"x"}});
  CAF_CHECK_EQUAL(fails(rec::append{"l", "x"}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::setrange{"l", 0, "x"}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::setbit{"l", 0, 1}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::getbit{"l", 0}), "wrong_type");
  check_recovery(now);
}

CAF_TEST(getrange index rules) {
  run(rec::set{"s", "This is a string", -1});
  CAF_CHECK_EQUAL(ask(q::getrange{"s", 0, 3}), bulk("This"));
  CAF_CHECK_EQUAL(ask(q::getrange{"s", -3, -1}), bulk("ing"));
  CAF_CHECK_EQUAL(ask(q::getrange{"s", 0, -1}), bulk("This is a string"));
  CAF_CHECK_EQUAL(ask(q::getrange{"s", 10, 100}), bulk("string"));
  CAF_CHECK_EQUAL(ask(q::getrange{"s", 5, 3}), bulk(""));
  CAF_CHECK_EQUAL(ask(q::getrange{"s", -1, -5}), bulk(""));
  CAF_CHECK_EQUAL(ask(q::getrange{"s", -100, 2}), bulk("Thi"));
  CAF_CHECK_EQUAL(ask(q::getrange{"missing", 0, -1}), bulk(""));
}

CAF_TEST(bitop) {
  run(rec::set{"a", "\xf0\x0f", -1});
  run(rec::set{"b", "\xff", -1});
  logged();
  CAF_CHECK_EQUAL(run(rec::bitop{0, "and", {"a", "b"}}), num(2));
  CAF_CHECK_EQUAL(ask(q::get{"and"}), bulk(std::string("\xf0\x00", 2)));
  CAF_CHECK_EQUAL(run(rec::bitop{1, "or", {"a", "b", "missing"}}), num(2));
  CAF_CHECK_EQUAL(ask(q::get{"or"}), bulk("\xff\x0f"));
  CAF_CHECK_EQUAL(run(rec::bitop{2, "xor", {"a", "b"}}), num(2));
  CAF_CHECK_EQUAL(ask(q::get{"xor"}), bulk("\x0f\x0f"));
  CAF_CHECK_EQUAL(run(rec::bitop{3, "not", {"a"}}), num(2));
  CAF_CHECK_EQUAL(ask(q::get{"not"}), bulk("\x0f\xf0"));
  CAF_CHECK_EQUAL(logged(), show(records{rec::bitop{0, "and", {"a", "b"}},
                                         rec::bitop{1, "or", {"a", "b", "missing"}},
                                         rec::bitop{2, "xor", {"a", "b"}},
                                         rec::bitop{3, "not", {"a"}}}));
  CAF_CHECK_EQUAL(fails(rec::bitop{3, "not", {"a", "b"}}), "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::bitop{0, "d", {}}), "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::bitop{4, "d", {"a"}}), "syntax_error");
  run(rec::rpush{"l", {"x"}});
  logged();
  CAF_CHECK_EQUAL(fails(rec::bitop{1, "d", {"a", "l"}}), "wrong_type");
  // The destination may hold any type; an empty result deletes it.
  CAF_CHECK_EQUAL(run(rec::bitop{1, "l", {"missing"}}), num(0));
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"l"}}));
  CAF_CHECK_EQUAL(ask(q::exists{{"l"}}), num(0));
  // A source with a TTL: the result is logged as SET.
  run(rec::set{"t", "\x01", 1000});
  logged();
  CAF_CHECK_EQUAL(run(rec::bitop{1, "d", {"t", "b"}}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::set{"d", "\xff", -1}}));
  check_recovery(now);
  check_recovery(now + 5000);
}

// -- expiry -----------------------------------------------------------------------

CAF_TEST(expire pexpire pexpireat persist) {
  run(rec::set{"k", "v", -1});
  logged();
  CAF_CHECK_EQUAL(run(rec::expire{"k", 10}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::pexpireat{"k", t0 + 10000}}));
  // An earlier deadline: only PEXPIREAT.
  CAF_CHECK_EQUAL(run(rec::pexpire{"k", 5000}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::pexpireat{"k", t0 + 5000}}));
  // A later deadline: the value is logged again first.
  CAF_CHECK_EQUAL(run(rec::pexpireat{"k", t0 + 8000}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::set{"k", "v", -1},
                                         rec::pexpireat{"k", t0 + 8000}}));
  // The same deadline changes nothing.
  CAF_CHECK_EQUAL(run(rec::pexpireat{"k", t0 + 8000}), num(1));
  CAF_CHECK_EQUAL(logged(), "");
  CAF_CHECK_EQUAL(ask(q::ttl{"k", false}), num(8));
  // PERSIST clears it and logs the value again.
  CAF_CHECK_EQUAL(run(rec::persist{"k"}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::set{"k", "v", -1}}));
  CAF_CHECK_EQUAL(run(rec::persist{"k"}), num(0));
  CAF_CHECK_EQUAL(ask(q::ttl{"k", false}), num(-1));
  // Missing keys.
  CAF_CHECK_EQUAL(run(rec::expire{"x", 10}), num(0));
  CAF_CHECK_EQUAL(run(rec::pexpire{"x", 10}), num(0));
  CAF_CHECK_EQUAL(run(rec::pexpireat{"x", t0 + 10}), num(0));
  CAF_CHECK_EQUAL(run(rec::persist{"x"}), num(0));
  CAF_CHECK_EQUAL(logged(), "");
  check_recovery(now);
  // Negative or past times delete the key (Redis).
  run(rec::set{"a", "1", -1});
  run(rec::set{"b", "1", -1});
  run(rec::set{"c", "1", -1});
  logged();
  CAF_CHECK_EQUAL(run(rec::expire{"a", -1}), num(1));
  CAF_CHECK_EQUAL(run(rec::pexpire{"b", 0}), num(1));
  CAF_CHECK_EQUAL(run(rec::pexpireat{"c", 5}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"a"}, rec::del{"b"},
                                         rec::del{"c"}}));
  CAF_CHECK_EQUAL(ask(q::dbsize{}), num(1));
  // Overflowing times are refused, as in Redis.
  CAF_CHECK_EQUAL(fails(rec::expire{"k", std::numeric_limits<int64_t>::max()}),
                  "syntax_error");
  CAF_CHECK_EQUAL(
    fails(rec::pexpire{"k", std::numeric_limits<int64_t>::max()}),
    "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::expire{"\xff", 1}), "invalid_utf8");
  check_recovery(now);
}

CAF_TEST(extending a deadline survives a recovery after the old one) {
  // The reason for logging the value again: replay deletes the key at the
  // first PEXPIREAT when recovery runs after it.
  run(rec::rpush{"l", {"a", "b"}});
  run(rec::pexpire{"l", 100});
  now += 50;
  CAF_CHECK_EQUAL(run(rec::pexpire{"l", 1000}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::rpush{"l", {"a", "b"}},
                                         rec::pexpireat{"l", t0 + 100},
                                         rec::del{"l"},
                                         rec::rpush{"l", {"a", "b"}},
                                         rec::pexpireat{"l", t0 + 1050}}));
  check_recovery(t0 + 500);
  CAF_CHECK_EQUAL(replay(all, t0 + 500).size(), 1u);
  now += 10;
  run(rec::persist{"l"});
  check_recovery(t0 + 5000);
  CAF_CHECK_EQUAL(replay(all, t0 + 5000).size(), 1u);
  // Writes to a key with a TTL re-log the deadline, so a doomed key that
  // replay would recreate is deleted again.
  run(rec::sadd{"s", {"m"}});
  run(rec::pexpire{"s", 100});
  now += 50;
  run(rec::sadd{"s", {"n"}});
  run(rec::rename{"s", "s2"});
  run(rec::copy{"s2", "s3", false});
  check_recovery(now);
  check_recovery(now + 1000);
  CAF_CHECK_EQUAL(replay(all, now + 1000).size(), 1u);
}

CAF_TEST(lazy expiry logs a delete before a write) {
  run(rec::rpush{"l", {"old"}});
  run(rec::pexpire{"l", 100});
  logged();
  now += 100;
  CAF_CHECK_EQUAL(ask(q::exists{{"l"}}), num(0));
  CAF_CHECK_EQUAL(ask(q::lrange{"l", 0, -1}), arr({}));
  CAF_CHECK_EQUAL(ask(q::ttl{"l", false}), num(-2));
  CAF_CHECK_EQUAL(ask(q::dbsize{}), num(0));
  CAF_CHECK_EQUAL(st.dbsize(now), 0u);
  CAF_CHECK_EQUAL(st.data().size(), 1u); // reads do not remove
  CAF_CHECK_EQUAL(run(rec::rpush{"l", {"new"}}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"l"},
                                         rec::rpush{"l", {"new"}}}));
  CAF_CHECK_EQUAL(ask(q::lrange{"l", 0, -1}), arr({"new"}));
  // An expired key of another type does not cause WRONGTYPE.
  run(rec::set{"s", "x", 10});
  logged();
  now += 10;
  CAF_CHECK_EQUAL(run(rec::sadd{"s", {"m"}}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"s"},
                                         rec::sadd{"s", {"m"}}}));
  // A no-op on an expired key still removes it.
  run(rec::set{"g", "x", 10});
  logged();
  now += 10;
  CAF_CHECK_EQUAL(run(rec::lpop{"g"}), nil());
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"g"}}));
  CAF_CHECK(st.data().find("g") == nullptr);
  // Errors leave an expired key alone (nothing changes on error).
  run(rec::set{"h", "x", 10});
  logged();
  now += 10;
  CAF_CHECK_EQUAL(fails(rec::lset{"h", 0, "y"}), "no_such_key");
  CAF_CHECK_EQUAL(fails(rec::rename{"h", "z"}), "no_such_key");
  CAF_CHECK(st.data().find("h") != nullptr);
  check_recovery(now);
}

CAF_TEST(active expiry samples keys with deadlines) {
  for (int i = 0; i < 100; ++i)
    run(rec::set{"k" + std::to_string(i), "v", i % 2 ? 50 : 5000});
  for (int i = 0; i < 50; ++i)
    run(rec::set{"p" + std::to_string(i), "v", -1});
  logged();
  CAF_CHECK_EQUAL(st.keys_with_deadline(), 100u);
  now += 100;
  CAF_CHECK_EQUAL(st.dbsize(now), 100u);
  size_t removed = 0;
  size_t rounds = 0;
  while (removed < 50 && rounds++ < 1000) {
    auto n = st.expire_sample(now, 10, log);
    CAF_CHECK_LESS_OR_EQUAL(n, 10u);
    removed += n;
    CAF_CHECK(st.consistent());
  }
  CAF_CHECK_EQUAL(removed, 50u);
  CAF_CHECK_EQUAL(st.data().size(), 100u);
  CAF_CHECK_EQUAL(log.size(), 50u);
  for (auto& r : log)
    CAF_CHECK_EQUAL(tag_of(r), rec::del::tag);
  CAF_CHECK_EQUAL(st.expire_sample(now, 1000, log), 0u);
  CAF_CHECK_EQUAL(st.keys_with_deadline(), 50u);
  check_recovery(now);
}

CAF_TEST(load replaces the state and the deadline index) {
  keyspace ks;
  ks.put("a", entry{std::string{"1"}, t0 + 10});
  ks.put("b", entry{std::string{"2"}});
  run(rec::set{"old", "x", 5});
  logged();
  st.load(std::move(ks));
  CAF_CHECK(st.consistent());
  CAF_CHECK_EQUAL(st.keys_with_deadline(), 1u);
  CAF_CHECK_EQUAL(ask(q::exists{{"a", "b", "old"}}), num(2));
  now += 10;
  CAF_CHECK_EQUAL(st.expire_sample(now, 10, log), 1u);
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"a"}}));
}

// -- keys -------------------------------------------------------------------------

CAF_TEST(rename and copy) {
  run(rec::set{"a", "1", -1});
  logged();
  CAF_CHECK_EQUAL(run(rec::rename{"a", "b"}), ok());
  CAF_CHECK_EQUAL(logged(), show(records{rec::rename{"a", "b"}}));
  CAF_CHECK_EQUAL(ask(q::get{"b"}), bulk("1"));
  CAF_CHECK_EQUAL(ask(q::exists{{"a"}}), num(0));
  CAF_CHECK_EQUAL(fails(rec::rename{"a", "b"}), "no_such_key");
  CAF_CHECK_EQUAL(fail_text(rec::rename{"a", "b"}), "no such key");
  CAF_CHECK_EQUAL(run(rec::rename{"b", "b"}), ok());
  CAF_CHECK_EQUAL(logged(), "");
  // The TTL travels; a destination that exists is deleted in the log first.
  run(rec::set{"t", "2", 1000});
  run(rec::rpush{"dst", {"x"}});
  logged();
  CAF_CHECK_EQUAL(run(rec::rename{"t", "dst"}), ok());
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"dst"},
                                         rec::rename{"t", "dst"}}));
  CAF_CHECK_EQUAL(ask(q::ttl{"dst", true}), num(1000));
  CAF_CHECK_EQUAL(st.keys_with_deadline(), 1u);
  check_recovery(now);
  check_recovery(now + 2000);
  // COPY.
  CAF_CHECK_EQUAL(run(rec::copy{"b", "c", false}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::copy{"b", "c", false}}));
  CAF_CHECK_EQUAL(run(rec::copy{"dst", "c", false}), num(0));
  CAF_CHECK_EQUAL(run(rec::copy{"missing", "c", true}), num(0));
  CAF_CHECK_EQUAL(logged(), "");
  CAF_CHECK_EQUAL(run(rec::copy{"dst", "c", true}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::del{"c"},
                                         rec::copy{"dst", "c", true}}));
  CAF_CHECK_EQUAL(ask(q::ttl{"c", true}), num(1000));
  CAF_CHECK_EQUAL(ask(q::get{"c"}), bulk("2"));
  CAF_CHECK_EQUAL(fails(rec::copy{"c", "c", true}), "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::rename{"c", "\xff"}), "invalid_utf8");
  check_recovery(now);
  check_recovery(now + 2000);
}

CAF_TEST(exists type dbsize) {
  run(rec::set{"s", "v", -1});
  run(rec::rpush{"l", {"x"}});
  run(rec::zadd{"z", {{1, "m"}}});
  run(rec::hset{"h", {{"f", "v"}}});
  run(rec::sadd{"set", {"m"}});
  int64_t keys = 5;
  if (codec::with_proto) {
    run(rec::proto_set{"p", "T", "d", -1});
    CAF_CHECK_EQUAL(ask(q::type{"p"}), type_reply("proto"));
    ++keys;
  }
  if (codec::with_vector) {
    run(rec::vadd{"v", "e", {1, 2}, 0, 0, 16, 200});
    CAF_CHECK_EQUAL(ask(q::type{"v"}), type_reply("vectorset"));
    ++keys;
  }
  CAF_CHECK_EQUAL(ask(q::type{"s"}), type_reply("string"));
  CAF_CHECK_EQUAL(ask(q::type{"l"}), type_reply("list"));
  CAF_CHECK_EQUAL(ask(q::type{"z"}), type_reply("zset"));
  CAF_CHECK_EQUAL(ask(q::type{"h"}), type_reply("hash"));
  CAF_CHECK_EQUAL(ask(q::type{"set"}), type_reply("set"));
  CAF_CHECK_EQUAL(ask(q::exists{{"s", "s", "l", "nope"}}), num(3));
  CAF_CHECK_EQUAL(ask(q::dbsize{}), num(keys));
  CAF_CHECK_EQUAL(st.dbsize(now), static_cast<size_t>(keys));
  CAF_CHECK_EQUAL(ask_fails(q::get{"l"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::strlen{"l"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::getrange{"l", 0, 1}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::lrange{"s", 0, 1}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::llen{"s"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::lindex{"s", 0}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::hget{"s", "f"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::hgetall{"s"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::hlen{"s"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::smembers{"s"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::sismember{"s", "m"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::scard{"s"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::zrange{"s", 0, 1, false}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::zscore{"s", "m"}), "wrong_type");
  CAF_CHECK_EQUAL(ask_fails(q::zcard{"s"}), "wrong_type");
}

CAF_TEST(keys glob patterns) {
  for (auto k : {"hello", "hallo", "hxllo", "hllo", "heeeello", "hillo",
                 "hbllo", "h*llo", "h?llo", "a[b", "\\x", "ab", "b", "a"})
    run(rec::set{k, "v", -1});
  auto keys = [&](std::string pattern) {
    auto r = ask(q::keys{std::move(pattern)});
    std::string out;
    for (auto& e : r.elements)
      out += (out.empty() ? "" : " ") + e.text;
    return out;
  };
  CAF_CHECK_EQUAL(keys("h?llo"), "h*llo h?llo hallo hbllo hello hillo hxllo");
  CAF_CHECK_EQUAL(keys("h*llo"),
                  "h*llo h?llo hallo hbllo heeeello hello hillo hllo hxllo");
  CAF_CHECK_EQUAL(keys("h[ae]llo"), "hallo hello");
  CAF_CHECK_EQUAL(keys("h[^e]llo"), "h*llo h?llo hallo hbllo hillo hxllo");
  CAF_CHECK_EQUAL(keys("h[a-b]llo"), "hallo hbllo");
  CAF_CHECK_EQUAL(keys("h[b-a]llo"), "hallo hbllo"); // reversed range
  CAF_CHECK_EQUAL(keys("h\\*llo"), "h*llo");
  CAF_CHECK_EQUAL(keys("h[\\?]llo"), "h?llo");
  CAF_CHECK_EQUAL(keys("a\\[b"), "a[b");
  CAF_CHECK_EQUAL(keys("\\\\x"), "\\x");
  CAF_CHECK_EQUAL(keys("a[b"), "ab"); // an unterminated class ends the pattern
  CAF_CHECK_EQUAL(keys("*"), "\\x a a[b ab b h*llo h?llo hallo hbllo heeeello "
                             "hello hillo hllo hxllo");
  CAF_CHECK_EQUAL(keys("**o"),
                  "h*llo h?llo hallo hbllo heeeello hello hillo hllo hxllo");
  CAF_CHECK_EQUAL(keys("?"), "a b");
  CAF_CHECK_EQUAL(keys("a*"), "a a[b ab");
  CAF_CHECK_EQUAL(keys("*e*e*"), "heeeello");
  CAF_CHECK_EQUAL(keys("h*l*l*o*"),
                  "h*llo h?llo hallo hbllo heeeello hello hillo hllo hxllo");
  CAF_CHECK_EQUAL(keys("nothing"), "");
  CAF_CHECK_EQUAL(keys("[]"), "");
  CAF_CHECK_EQUAL(keys("[^]"), "a b");
}

CAF_TEST(scan returns every stable key) {
  std::set<std::string> stable;
  for (int i = 0; i < 300; ++i) {
    auto k = "key:" + std::to_string(i);
    run(rec::set{k, "v", -1});
    if (i % 3 != 0)
      stable.insert(k);
  }
  run(rec::set{"other", "v", -1});
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  int added = 0;
  do {
    auto r = ask(q::scan{cursor, "key:*", 7});
    CAF_REQUIRE_EQUAL(r.elements.size(), 2u);
    cursor = std::stoull(r.elements[0].text);
    CAF_CHECK_LESS_OR_EQUAL(r.elements[1].elements.size(), 7u);
    for (auto& k : r.elements[1].elements)
      seen.insert(k.text);
    // Change the keyspace between calls: delete unstable keys, add new ones.
    run(rec::del{"key:" + std::to_string(3 * calls)});
    run(rec::set{"key:new" + std::to_string(added++), "v", -1});
  } while (cursor != 0 && ++calls < 10000);
  CAF_CHECK_EQUAL(cursor, 0u);
  CAF_CHECK_GREATER(calls, 300 / 7 - 1);
  for (auto& k : stable)
    CAF_CHECK_EQUAL(seen.count(k), 1u);
  CAF_CHECK_EQUAL(seen.count("other"), 0u);
  // One call with a large count finishes.
  auto all_keys = ask(q::scan{0, "*", 100000});
  CAF_CHECK_EQUAL(all_keys.elements[0].text, "0");
  CAF_CHECK_EQUAL(all_keys.elements[1].elements.size(), st.dbsize(now));
  CAF_CHECK_EQUAL(ask_fails(q::scan{0, "*", 0}), "syntax_error");
  // Expired keys are not returned.
  run(rec::set{"gone", "v", 10});
  now += 10;
  CAF_CHECK_EQUAL(ask(q::scan{0, "gone", 100000}), reply::of(std::vector<reply>{bulk("0"), arr({})}));
}

// -- lists ------------------------------------------------------------------------

CAF_TEST(push pop and ranges) {
  CAF_CHECK_EQUAL(run(rec::lpush{"l", {"a", "b"}}), num(2));
  CAF_CHECK_EQUAL(run(rec::rpush{"l", {"c"}}), num(3));
  CAF_CHECK_EQUAL(ask(q::lrange{"l", 0, -1}), arr({"b", "a", "c"}));
  CAF_CHECK_EQUAL(logged(), show(records{rec::lpush{"l", {"a", "b"}},
                                         rec::rpush{"l", {"c"}}}));
  CAF_CHECK_EQUAL(ask(q::llen{"l"}), num(3));
  CAF_CHECK_EQUAL(ask(q::lindex{"l", -1}), bulk("c"));
  CAF_CHECK_EQUAL(ask(q::lindex{"l", 3}), nil());
  CAF_CHECK_EQUAL(ask(q::lrange{"l", -2, 100}), arr({"a", "c"}));
  CAF_CHECK_EQUAL(ask(q::lrange{"l", -100, 0}), arr({"b"}));
  CAF_CHECK_EQUAL(ask(q::lrange{"l", 2, 1}), arr({}));
  CAF_CHECK_EQUAL(ask(q::lrange{"l", 5, 10}), arr({}));
  CAF_CHECK_EQUAL(ask(q::lrange{"missing", 0, -1}), arr({}));
  CAF_CHECK_EQUAL(run(rec::lpop{"l"}), bulk("b"));
  CAF_CHECK_EQUAL(run(rec::rpop{"l"}), bulk("c"));
  CAF_CHECK_EQUAL(run(rec::rpop{"l"}), bulk("a"));
  CAF_CHECK_EQUAL(ask(q::exists{{"l"}}), num(0)); // emptied: deleted
  CAF_CHECK_EQUAL(run(rec::lpop{"l"}), nil());
  CAF_CHECK_EQUAL(logged(), show(records{rec::lpop{"l"}, rec::rpop{"l"},
                                         rec::rpop{"l"}}));
  CAF_CHECK_EQUAL(fails(rec::lpush{"l", {}}), "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::rpush{"l", {}}), "syntax_error");
  run(rec::set{"s", "v", -1});
  CAF_CHECK_EQUAL(fails(rec::lpush{"s", {"x"}}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::rpop{"s"}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::lpop{"s"}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::rpush{"\xc0\xaf", {"x"}}), "invalid_utf8");
  // A push to a list with a TTL logs the deadline again.
  run(rec::rpush{"t", {"x"}});
  run(rec::pexpire{"t", 500});
  logged();
  CAF_CHECK_EQUAL(run(rec::lpush{"t", {"y"}}), num(2));
  CAF_CHECK_EQUAL(logged(), show(records{rec::lpush{"t", {"y"}},
                                         rec::pexpireat{"t", t0 + 500}}));
  check_recovery(now);
  check_recovery(now + 1000);
}

CAF_TEST(lset ltrim linsert lrem) {
  run(rec::rpush{"l", {"a", "b", "c", "b", "a", "b"}});
  logged();
  CAF_CHECK_EQUAL(run(rec::lset{"l", -1, "B"}), ok());
  CAF_CHECK_EQUAL(logged(), show(records{rec::lset{"l", -1, "B"}}));
  CAF_CHECK_EQUAL(fails(rec::lset{"l", 6, "x"}), "out_of_range");
  CAF_CHECK_EQUAL(fail_text(rec::lset{"l", -7, "x"}), "index out of range");
  CAF_CHECK_EQUAL(fails(rec::lset{"nope", 0, "x"}), "no_such_key");
  CAF_CHECK_EQUAL(run(rec::linsert{"l", true, "c", "X"}), num(7));
  CAF_CHECK_EQUAL(run(rec::linsert{"l", false, "c", "Y"}), num(8));
  CAF_CHECK_EQUAL(ask(q::lrange{"l", 0, -1}),
                  arr({"a", "b", "X", "c", "Y", "b", "a", "B"}));
  CAF_CHECK_EQUAL(run(rec::linsert{"l", true, "zzz", "X"}), num(-1));
  CAF_CHECK_EQUAL(run(rec::linsert{"nope", true, "a", "X"}), num(0));
  CAF_CHECK_EQUAL(logged(), show(records{rec::linsert{"l", true, "c", "X"},
                                         rec::linsert{"l", false, "c", "Y"}}));
  CAF_CHECK_EQUAL(run(rec::lrem{"l", -1, "b"}), num(1)); // from the tail
  CAF_CHECK_EQUAL(ask(q::lrange{"l", 0, -1}),
                  arr({"a", "b", "X", "c", "Y", "a", "B"}));
  CAF_CHECK_EQUAL(run(rec::lrem{"l", 1, "a"}), num(1)); // from the head
  CAF_CHECK_EQUAL(ask(q::lrange{"l", 0, -1}),
                  arr({"b", "X", "c", "Y", "a", "B"}));
  CAF_CHECK_EQUAL(run(rec::lrem{"l", 0, "zzz"}), num(0));
  CAF_CHECK_EQUAL(run(rec::lrem{"nope", 0, "a"}), num(0));
  CAF_CHECK_EQUAL(logged(), show(records{rec::lrem{"l", -1, "b"},
                                         rec::lrem{"l", 1, "a"}}));
  CAF_CHECK_EQUAL(run(rec::ltrim{"l", 1, -2}), ok());
  CAF_CHECK_EQUAL(ask(q::lrange{"l", 0, -1}), arr({"X", "c", "Y", "a"}));
  CAF_CHECK_EQUAL(run(rec::ltrim{"l", -100, 100}), ok()); // keeps all
  CAF_CHECK_EQUAL(run(rec::ltrim{"nope", 0, 1}), ok());
  CAF_CHECK_EQUAL(logged(), show(records{rec::ltrim{"l", 1, -2}}));
  run(rec::rpush{"r", {"x", "x", "y", "x"}});
  CAF_CHECK_EQUAL(run(rec::lrem{"r", 0, "x"}), num(3));
  CAF_CHECK_EQUAL(run(rec::lrem{"r", std::numeric_limits<int64_t>::min(), "y"}),
                  num(1));
  CAF_CHECK_EQUAL(ask(q::exists{{"r"}}), num(0));
  CAF_CHECK_EQUAL(run(rec::ltrim{"l", 5, 10}), ok()); // empties: deleted
  CAF_CHECK_EQUAL(ask(q::exists{{"l"}}), num(0));
  run(rec::set{"s", "v", -1});
  CAF_CHECK_EQUAL(fails(rec::lset{"s", 0, "x"}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::ltrim{"s", 0, 1}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::linsert{"s", true, "a", "b"}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::lrem{"s", 0, "a"}), "wrong_type");
  check_recovery(now);
}

// -- sorted sets, hashes, sets --------------------------------------------------

CAF_TEST(sorted sets) {
  CAF_CHECK_EQUAL(run(rec::zadd{"z", {{2, "b"}, {1, "a"}, {2, "a"}}}), num(2));
  CAF_CHECK_EQUAL(run(rec::zadd{"z", {{0.1, "c"}, {2, "b"}}}), num(1));
  CAF_CHECK_EQUAL(run(rec::zadd{"z", {{2, "b"}}}), num(0));
  CAF_CHECK_EQUAL(logged(),
                  show(records{rec::zadd{"z", {{2, "b"}, {1, "a"}, {2, "a"}}},
                               rec::zadd{"z", {{0.1, "c"}, {2, "b"}}}}));
  CAF_CHECK_EQUAL(ask(q::zrange{"z", 0, -1, false}), arr({"c", "a", "b"}));
  CAF_CHECK_EQUAL(ask(q::zrange{"z", 0, -1, true}),
                  arr({"c", "0.10000000000000001", "a", "2", "b", "2"}));
  CAF_CHECK_EQUAL(ask(q::zrange{"z", -2, -2, false}), arr({"a"}));
  CAF_CHECK_EQUAL(ask(q::zrange{"z", 3, 5, false}), arr({}));
  CAF_CHECK_EQUAL(ask(q::zrange{"nope", 0, -1, false}), arr({}));
  CAF_CHECK_EQUAL(ask(q::zscore{"z", "a"}), bulk("2"));
  CAF_CHECK_EQUAL(ask(q::zscore{"z", "x"}), nil());
  CAF_CHECK_EQUAL(ask(q::zcard{"z"}), num(3));
  auto inf = std::numeric_limits<double>::infinity();
  run(rec::zadd{"z", {{inf, "top"}, {-inf, "bottom"}, {1.5, "mid"}}});
  CAF_CHECK_EQUAL(ask(q::zrange{"z", 0, 1, true}),
                  arr({"bottom", "-inf", "c", "0.10000000000000001"}));
  CAF_CHECK_EQUAL(ask(q::zscore{"z", "top"}), bulk("inf"));
  CAF_CHECK_EQUAL(ask(q::zscore{"z", "mid"}), bulk("1.5"));
  logged();
  CAF_CHECK_EQUAL(fails(rec::zadd{"z", {{std::nan(""), "n"}}}), "not_float");
  CAF_CHECK_EQUAL(fails(rec::zadd{"z", {}}), "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::zadd{"z", {{1, "\xff"}}}), "invalid_utf8");
  CAF_CHECK_EQUAL(run(rec::zrem{"z", {"a", "nope", "a"}}), num(1));
  CAF_CHECK_EQUAL(run(rec::zrem{"z", {"nope"}}), num(0));
  CAF_CHECK_EQUAL(logged(), show(records{rec::zrem{"z", {"a", "nope", "a"}}}));
  run(rec::zrem{"z", {"b", "c", "top", "bottom", "mid"}});
  CAF_CHECK_EQUAL(ask(q::exists{{"z"}}), num(0));
  CAF_CHECK_EQUAL(fails(rec::zrem{"z", {}}), "syntax_error");
  run(rec::set{"s", "v", -1});
  CAF_CHECK_EQUAL(fails(rec::zadd{"s", {{1, "a"}}}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::zrem{"s", {"a"}}), "wrong_type");
  check_recovery(now);
}

CAF_TEST(hashes) {
  CAF_CHECK_EQUAL(run(rec::hset{"h", {{"b", "1"}, {"a", "2"}}}), num(2));
  CAF_CHECK_EQUAL(run(rec::hset{"h", {{"a", "3"}, {"c", "4"}}}), num(1));
  CAF_CHECK_EQUAL(run(rec::hset{"h", {{"a", "3"}}}), num(0));
  CAF_CHECK_EQUAL(logged(),
                  show(records{rec::hset{"h", {{"b", "1"}, {"a", "2"}}},
                               rec::hset{"h", {{"a", "3"}, {"c", "4"}}}}));
  CAF_CHECK_EQUAL(ask(q::hgetall{"h"}),
                  arr({"a", "3", "b", "1", "c", "4"}));
  CAF_CHECK_EQUAL(ask(q::hgetall{"nope"}), arr({}));
  CAF_CHECK_EQUAL(ask(q::hget{"h", "c"}), bulk("4"));
  CAF_CHECK_EQUAL(ask(q::hget{"h", "x"}), nil());
  CAF_CHECK_EQUAL(ask(q::hget{"nope", "x"}), nil());
  CAF_CHECK_EQUAL(ask(q::hlen{"h"}), num(3));
  CAF_CHECK_EQUAL(run(rec::hincrby{"h", "a", 10}), num(13));
  CAF_CHECK_EQUAL(run(rec::hincrby{"h", "n", -5}), num(-5));
  CAF_CHECK_EQUAL(run(rec::hincrby{"new", "f", 1}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::hincrby{"h", "a", 10},
                                         rec::hincrby{"h", "n", -5},
                                         rec::hincrby{"new", "f", 1}}));
  run(rec::hset{"h", {{"s", "x1"}, {"big", "9223372036854775807"}}});
  CAF_CHECK_EQUAL(fails(rec::hincrby{"h", "s", 1}), "not_integer");
  CAF_CHECK_EQUAL(fails(rec::hincrby{"h", "big", 1}), "not_integer");
  CAF_CHECK_EQUAL(fails(rec::hset{"h", {}}), "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::hset{"h", {{"\xff", "v"}}}), "invalid_utf8");
  CAF_CHECK_EQUAL(fails(rec::hincrby{"h", "\xff", 1}), "invalid_utf8");
  logged();
  CAF_CHECK_EQUAL(run(rec::hdel{"h", {"a", "zz"}}), num(1));
  CAF_CHECK_EQUAL(run(rec::hdel{"h", {"zz"}}), num(0));
  CAF_CHECK_EQUAL(logged(), show(records{rec::hdel{"h", {"a", "zz"}}}));
  run(rec::hdel{"new", {"f"}});
  CAF_CHECK_EQUAL(ask(q::exists{{"new"}}), num(0));
  CAF_CHECK_EQUAL(fails(rec::hdel{"h", {}}), "syntax_error");
  run(rec::set{"s", "v", -1});
  CAF_CHECK_EQUAL(fails(rec::hset{"s", {{"f", "v"}}}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::hdel{"s", {"f"}}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::hincrby{"s", "f", 1}), "wrong_type");
  check_recovery(now);
}

CAF_TEST(sets) {
  CAF_CHECK_EQUAL(run(rec::sadd{"s", {"b", "a", "b"}}), num(2));
  CAF_CHECK_EQUAL(run(rec::sadd{"s", {"a"}}), num(0));
  CAF_CHECK_EQUAL(logged(), show(records{rec::sadd{"s", {"b", "a", "b"}}}));
  CAF_CHECK_EQUAL(ask(q::smembers{"s"}), arr({"a", "b"}));
  CAF_CHECK_EQUAL(ask(q::smembers{"nope"}), arr({}));
  CAF_CHECK_EQUAL(ask(q::sismember{"s", "a"}), num(1));
  CAF_CHECK_EQUAL(ask(q::sismember{"s", "c"}), num(0));
  CAF_CHECK_EQUAL(ask(q::scard{"s"}), num(2));
  CAF_CHECK_EQUAL(run(rec::srem{"s", {"a", "c"}}), num(1));
  CAF_CHECK_EQUAL(run(rec::srem{"s", {"c"}}), num(0));
  CAF_CHECK_EQUAL(logged(), show(records{rec::srem{"s", {"a", "c"}}}));
  run(rec::srem{"s", {"b"}});
  CAF_CHECK_EQUAL(ask(q::exists{{"s"}}), num(0));
  CAF_CHECK_EQUAL(fails(rec::sadd{"s", {}}), "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::srem{"s", {}}), "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::sadd{"s", {"\xed\xa0\x80"}}), "invalid_utf8");
  run(rec::set{"str", "v", -1});
  CAF_CHECK_EQUAL(fails(rec::sadd{"str", {"a"}}), "wrong_type");
  CAF_CHECK_EQUAL(fails(rec::srem{"str", {"a"}}), "wrong_type");
  check_recovery(now);
}

// -- optional kinds ---------------------------------------------------------------

CAF_TEST(proto and vector kinds) {
  if (!codec::with_proto || !codec::with_vector) {
    // Kinds this build cannot log are refused, naming the CMake option.
    if (!codec::with_proto)
      CAF_CHECK_EQUAL(fails(rec::proto_set{"p", "T", "d", -1}),
                      "syntax_error");
    if (!codec::with_vector)
      CAF_CHECK_EQUAL(fails(rec::vadd{"v", "e", {1}, 0, 0, 16, 200}),
                      "syntax_error");
    return;
  }
  CAF_CHECK_EQUAL(run(rec::proto_register{"T", "descriptor"}), ok());
  CAF_CHECK_EQUAL(run(rec::proto_set{"p", "T", "data", 2000}), ok());
  CAF_CHECK_EQUAL(logged(), show(records{rec::proto_register{"T", "descriptor"},
                                         rec::proto_set{"p", "T", "data",
                                                        t0 + 2000 - now},
                                         rec::pexpireat{"p", t0 + 2000}}));
  CAF_CHECK_EQUAL(fails(rec::proto_set{"p", "\xff", "d", -1}),
                  "invalid_utf8");
  CAF_CHECK_EQUAL(ask_fails(q::get{"p"}), "wrong_type");
  CAF_CHECK_EQUAL(run(rec::persist{"p"}), num(1));
  CAF_CHECK_EQUAL(logged(), show(records{rec::proto_set{"p", "T", "data", -1}}));
  CAF_CHECK_EQUAL(run(rec::vadd{"v", "e1", {1, 2}, 1, 0, 16, 200}), num(1));
  CAF_CHECK_EQUAL(run(rec::vadd{"v", "e2", {3, 4}, 1, 0, 16, 200}), num(1));
  CAF_CHECK_EQUAL(run(rec::vadd{"v", "e1", {5, 6}, 1, 0, 16, 200}), num(0));
  CAF_CHECK_EQUAL(fails(rec::vadd{"v", "e3", {1, 2, 3}, 1, 0, 16, 200}),
                  "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::vadd{"w", "e", {}, 1, 0, 16, 200}),
                  "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::vadd{"w", "e", {1}, 3, 0, 16, 200}),
                  "syntax_error");
  CAF_CHECK_EQUAL(fails(rec::vadd{"p", "e", {1}, 0, 0, 16, 200}),
                  "wrong_type");
  CAF_CHECK_EQUAL(run(rec::vrem{"v", "e1"}), num(1));
  CAF_CHECK_EQUAL(run(rec::vrem{"v", "e1"}), num(0));
  CAF_CHECK_EQUAL(run(rec::vrem{"v", "e2"}), num(1));
  CAF_CHECK_EQUAL(ask(q::exists{{"v"}}), num(0));
  CAF_CHECK_EQUAL(fails(rec::vrem{"p", "e"}), "wrong_type");
  run(rec::vadd{"v", "e1", {1, 2}, 1, 0, 16, 200});
  run(rec::pexpire{"v", 100});
  run(rec::pexpire{"v", 1000}); // rebuilds with VADD
  check_recovery(now);
  check_recovery(now + 500);
  check_recovery(now + 5000);
}

// -- the key property -----------------------------------------------------------

namespace {

/// Random requests of every kind on a few keys, with relative TTLs that are
/// often already past, absolute deadlines and occasional invalid input.
struct request_generator {
  std::mt19937_64 rng;

  explicit request_generator(uint64_t seed) : rng(seed) {
  }

  bool one_in(uint64_t n) {
    return rng() % n == 0;
  }
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  }
  /// Mostly one of two keys of the request's family (s string, l list,
  /// z zset, h hash, t set, p proto, v vector), else any key, so that most
  /// requests apply and some hit the wrong type; rarely invalid UTF-8.
  std::string key(char family = 0) {
    static const char families[] = "slzhtpv";
    if (one_in(300))
      return "\xff";
    if (family == 0 || one_in(10))
      family = families[rng() % 7];
    return std::string{family} + std::to_string(rng() % 2);
  }
  /// Two keys, mostly of the same family (RENAME, COPY).
  std::pair<std::string, std::string> key_pair() {
    auto a = key();
    auto b = one_in(4) ? key() : key(a[0]);
    return {a, b};
  }
  std::vector<std::string> keys(size_t min) {
    std::vector<std::string> out(min + rng() % 3);
    for (auto& k : out)
      k = key('s');
    return out;
  }
  std::string value() {
    static const char* values[] = {"",  "0",   "1",   "-7",  "x",
                                   "hello", "42", "01", "9223372036854775806",
                                   "\xff\x00\x80"};
    return values[rng() % 10];
  }
  std::vector<std::string> values() {
    std::vector<std::string> out(one_in(20) ? 0 : 1 + rng() % 3);
    for (auto& v : out)
      v = value();
    return out;
  }
  std::string member() {
    return "m" + std::to_string(rng() % 5);
  }
  std::vector<std::string> members() {
    std::vector<std::string> out(one_in(20) ? 0 : 1 + rng() % 3);
    for (auto& m : out)
      m = member();
    return out;
  }
  double score() {
    static const double scores[] = {0, -0.0, 1, 2.5, -3,
                                    std::numeric_limits<double>::infinity()};
    return one_in(100) ? std::nan("") : scores[rng() % 6];
  }
  int64_t ttl_ms() {
    return one_in(3) ? -1 : between(-50, 400);
  }

  mutation next(int64_t now) {
    mutation m;
    auto kind = static_cast<uint8_t>(1 + rng() % max_tag);
    switch (kind) {
      case rec::set::tag: {
        static const uint8_t flag_sets[]
          = {0, 0, 0, flag_nx, flag_xx, flag_get, flag_keepttl,
             flag_nx | flag_get, flag_absolute_ttl, flag_nx | flag_xx};
        m.flags = flag_sets[rng() % 10];
        int64_t ttl = ttl_ms();
        if (m.flags & flag_absolute_ttl)
          ttl = now + between(-100, 400);
        else if (m.flags & flag_keepttl && !one_in(10))
          ttl = -1;
        else if (ttl == 0)
          ttl = 1;
        m.record = rec::set{key('s'), value(), ttl};
        break;
      }
      case rec::del::tag:
        m.record = rec::del{key()};
        break;
      case rec::expire::tag:
        m.record = rec::expire{key(), between(-1, 1)};
        break;
      case rec::lpush::tag:
        m.record = rec::lpush{key('l'), values()};
        break;
      case rec::rpush::tag:
        m.record = rec::rpush{key('l'), values()};
        break;
      case rec::lpop::tag:
        m.record = rec::lpop{key('l')};
        break;
      case rec::rpop::tag:
        m.record = rec::rpop{key('l')};
        break;
      case rec::zadd::tag: {
        rec::zadd r{key('z'), {}};
        for (auto& x : members())
          r.members.push_back({score(), x});
        m.record = std::move(r);
        break;
      }
      case rec::zrem::tag:
        m.record = rec::zrem{key('z'), members()};
        break;
      case rec::persist::tag:
        m.record = rec::persist{key()};
        break;
      case rec::pexpire::tag:
        m.record = rec::pexpire{key(), between(-50, 400)};
        break;
      case rec::incr::tag:
        m.record = rec::incr{key('s')};
        break;
      case rec::decr::tag:
        m.record = rec::decr{key('s')};
        break;
      case rec::hset::tag: {
        rec::hset r{key('h'), {}};
        for (auto& f : members())
          r.fields.push_back({f, value()});
        m.record = std::move(r);
        break;
      }
      case rec::hdel::tag:
        m.record = rec::hdel{key('h'), members()};
        break;
      case rec::hincrby::tag:
        m.record = rec::hincrby{key('h'), member(), between(-5, 5)};
        break;
      case rec::sadd::tag:
        m.record = rec::sadd{key('t'), members()};
        break;
      case rec::srem::tag:
        m.record = rec::srem{key('t'), members()};
        break;
      case rec::incrby::tag:
        m.record = rec::incrby{key('s'), between(-1000, 1000)};
        break;
      case rec::decrby::tag:
        m.record = rec::decrby{key('s'), between(-1000, 1000)};
        break;
      case rec::append::tag:
        m.record = rec::append{key('s'), value()};
        break;
      case rec::rename::tag: {
        auto [from, to] = key_pair();
        m.record = rec::rename{from, to};
        break;
      }
      case rec::proto_set::tag:
        m.record = rec::proto_set{key('p'), "T", value(), ttl_ms() == -1 ? -1 : 300};
        break;
      case rec::proto_register::tag:
        m.record = rec::proto_register{"T" + member(), value()};
        break;
      case rec::vadd::tag: {
        std::vector<float> v(one_in(20) ? 3 : 2);
        for (auto& x : v)
          x = static_cast<float>(between(-9, 9));
        m.record = rec::vadd{key('v'), member(), std::move(v), 1, 0, 16, 200};
        break;
      }
      case rec::vrem::tag:
        m.record = rec::vrem{key('v'), member()};
        break;
      case rec::copy::tag: {
        auto [from, to] = key_pair();
        m.record = rec::copy{from, to, one_in(2)};
        break;
      }
      case rec::lset::tag:
        m.record = rec::lset{key('l'), between(-4, 4), value()};
        break;
      case rec::ltrim::tag:
        m.record = rec::ltrim{key('l'), between(-4, 4), between(-4, 4)};
        break;
      case rec::linsert::tag:
        m.record = rec::linsert{key('l'), one_in(2), value(), value()};
        break;
      case rec::lrem::tag:
        m.record = rec::lrem{key('l'), between(-2, 2), value()};
        break;
      case rec::setrange::tag:
        m.record = rec::setrange{key('s'), between(-1, 20), value()};
        break;
      case rec::setbit::tag:
        m.record = rec::setbit{key('s'), between(0, 100),
                               static_cast<uint8_t>(one_in(50) ? 2 : rng() % 2)};
        break;
      case rec::bitop::tag: {
        auto op = static_cast<uint8_t>(rng() % 4);
        rec::bitop r{op, key('s'), keys(one_in(20) ? 0 : 1)};
        if (op == 3 && !one_in(10))
          r.keys.resize(1); // NOT with several sources is an error
        m.record = std::move(r);
        break;
      }
      case rec::pexpireat::tag:
        m.record = rec::pexpireat{key(), now + between(-100, 400)};
        break;
    }
    return m;
  }
};

/// A starting state as a snapshot would give it: every key of the
/// generator holds a value of its family, half of them with a deadline in
/// the first 600 ms. Unlike a PEXPIREAT record, a snapshot entry past its
/// deadline is not deleted before the end of recovery.
keyspace random_base(request_generator& gen) {
  keyspace ks;
  for (char family : std::string{"slzhtpv"}) {
    if ((family == 'p' && !codec::with_proto)
        || (family == 'v' && !codec::with_vector))
      continue;
    for (int i = 0; i < 2; ++i) {
      entry e;
      switch (family) {
        case 's': e.val = std::string{"5"}; break;
        case 'l': e.val = list_value{"x", "y"}; break;
        case 'z': {
          sorted_set z;
          z.add("m1", 1);
          e.val = std::move(z);
          break;
        }
        case 'h': e.val = hash_value{{"m1", "1"}}; break;
        case 't': e.val = set_value{"m1", "m2"}; break;
        case 'p': e.val = proto_value{"T", "data"}; break;
        default: e.val = vector_value{1, 0, 16, 200, 2, {{"m1", {1, 2}}}};
      }
      if (gen.one_in(2))
        e.deadline_ms = t0 + gen.between(0, 600);
      ks.put(std::string{family} + std::to_string(i), std::move(e));
    }
  }
  return ks;
}

struct random_run {
  keyspace base; ///< the state before the first request
  keyspace live; ///< the state after the last one
  records log;
  int64_t end = 0;
  std::map<uint8_t, size_t> applied; ///< successful requests per tag
  size_t errors = 0;
  std::map<std::string, size_t> error_codes;
  size_t sampled = 0;
};

/// Applies `steps` random requests (from `base` when asked), checking after
/// each that an error changed nothing, and every `checkpoint` steps that
/// replaying the log so far gives the live state now, at a random later
/// time and much later.
random_run run_random(uint64_t seed, size_t steps, size_t checkpoint,
                      bool with_base) {
  random_run out;
  request_generator gen{seed};
  shard_state st;
  if (with_base) {
    out.base = random_base(gen);
    st.load(keyspace{out.base});
  }
  int64_t now = t0;
  for (size_t i = 1; i <= steps; ++i) {
    now += gen.between(0, 30);
    auto m = gen.next(now);
    if (!codec::tag_supported(tag_of(m.record)))
      continue;
    auto tag = tag_of(m.record);
    auto before_size = out.log.size();
    std::optional<keyspace> before;
    if (i % 4 == 0)
      before = st.data(); // copying every step would dominate the run time
    auto res = st.apply(std::move(m), now, out.log);
    if (res) {
      ++out.applied[tag];
    } else {
      ++out.errors;
      ++out.error_codes[code_of(res.error())];
      CAF_CHECK_EQUAL(out.log.size(), before_size);
      if (before)
        CAF_CHECK(st.data() == *before);
    }
    if (i % 37 == 0)
      out.sampled += st.expire_sample(now, 1 + gen.rng() % 3, out.log);
    if (!st.consistent())
      CAF_FAIL("deadline index out of step after step " << i);
    if (i % checkpoint == 0)
      for (int64_t t : {now, now + gen.between(1, 600), now + 10'000'000}) {
        auto replayed = replay(out.log, t, out.base);
        auto expected = at(st.data(), t);
        // Text (slow) only to show a difference.
        if (replayed == expected)
          CAF_CHECK(true);
        else
          CAF_CHECK_EQUAL(fingerprint(replayed), fingerprint(expected));
      }
  }
  out.live = st.data();
  out.end = now;
  return out;
}

} // namespace

CAF_TEST(replaying the log reproduces the live state) {
  auto res = run_random(20240611, 6000, 20, false);
  CAF_MESSAGE(res.log.size() << " records, " << res.errors << " errors, "
                             << res.sampled << " removed by sampling");
  for (auto& [code, n] : res.error_codes)
    CAF_MESSAGE(code << ": " << n);
  for (uint8_t tag = 1; tag <= max_tag; ++tag)
    if (codec::tag_supported(tag))
      CAF_CHECK_GREATER(res.applied[tag], 0u);
  CAF_CHECK_GREATER(res.errors, 0u);
  CAF_CHECK_GREATER(res.sampled, 0u);
  // Every logged record is one a reader accepts.
  for (auto& r : res.log)
    CAF_CHECK_EQUAL(codec::validate(r), "");
  for (int64_t later : {int64_t{0}, int64_t{1}, int64_t{100}, int64_t{400},
                        int64_t{100'000}})
    CAF_CHECK_EQUAL(fingerprint(replay(res.log, res.end + later)),
                    fingerprint(at(res.live, res.end + later)));
}

CAF_TEST(replaying on top of a snapshot reproduces the live state) {
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
    auto res = run_random(seed, 2000, 10, true);
    for (int64_t later : {int64_t{0}, int64_t{300}, int64_t{1'000'000}}) {
      auto t = res.end + later;
      CAF_CHECK(replay(res.log, t, res.base) == at(res.live, t));
    }
  }
}

CAF_TEST(the log written as an AOF recovers the live state) {
  auto res = run_random(777, 3000, 1000, false);
  test::temp_dir dir;
  {
    auto w = aof_writer::open(posix_file_system(), aof_path(dir.path(), 0));
    if (!w)
      CAF_FAIL("open writer: " << w.err().message);
    for (auto& r : res.log)
      if (auto st = w->add(r); !st)
        CAF_FAIL("add: " << st.err().message);
    if (auto st = w->commit(); !st)
      CAF_FAIL("commit: " << st.err().message);
  }
  for (int64_t later : {int64_t{0}, int64_t{200}, int64_t{50'000}}) {
    recovery_options opts;
    opts.now_ms = res.end + later;
    auto rec = recover_shard(posix_file_system(), dir.path(), 0, opts);
    if (!rec)
      CAF_FAIL("recover: " << rec.err().message);
    CAF_CHECK_EQUAL(rec->report.records_replayed, res.log.size());
    CAF_CHECK_EQUAL(fingerprint(rec->data),
                    fingerprint(at(res.live, res.end + later)));
    CAF_CHECK(rec->data == at(res.live, res.end + later));
  }
}

CAF_TEST(ttls do not restart at recovery) {
  run(rec::set{"k", "v", 1000});
  run(rec::hset{"h", {{"f", "v"}}});
  run(rec::expire{"h", 2});
  now += 600;
  // Recovery 400 ms before the deadline: 400 ms left, not 1000.
  auto ks = replay(log, now);
  CAF_CHECK_EQUAL(ks.find("k")->deadline_ms, t0 + 1000);
  CAF_CHECK_EQUAL(ks.find("h")->deadline_ms, t0 + 2000);
  for (auto& r : log) {
    CAF_CHECK_NOT_EQUAL(tag_of(r), rec::expire::tag);
    CAF_CHECK_NOT_EQUAL(tag_of(r), rec::pexpire::tag);
  }
}

CAF_TEST(a const request is copied) {
  mutation m{rec::rpush{"l", {"a", "b"}}, 0};
  auto res = st.apply(m, now, log);
  CAF_REQUIRE(res);
  CAF_CHECK_EQUAL(*res, num(2));
  CAF_CHECK(m.record == aof_record{rec::rpush{"l", {"a", "b"}}});
  CAF_CHECK_EQUAL(logged(), show(records{rec::rpush{"l", {"a", "b"}}}));
}

CAF_TEST_FIXTURE_SCOPE_END()
