#include "app/resp_commands.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "app/resp_reply.hpp"
#include "codec/string_ops.hpp"
#include "messages/routing.hpp"

namespace ember::app {

namespace {

namespace rec = codec::rec;
namespace q = messages::q;
using messages::batch_op;
using messages::batch_result;
using messages::mutation;
using messages::read_request;
using messages::reply;

constexpr const char* not_integer = "ERR value is not an integer or out of "
                                    "range";
constexpr const char* syntax_error = "ERR syntax error";
constexpr const char* crossslot = "CROSSSLOT Keys in request don't hash to "
                                  "the same shard";

// -- finishers ------------------------------------------------------------------

std::string finish_single(std::vector<batch_result>& rs) {
  std::string out;
  if (rs[0].error)
    append_error(out, rs[0].error);
  else
    append_reply(out, rs[0].value);
  return out;
}

// The first error, if any part failed.
const caf::error* first_error(const std::vector<batch_result>& rs) {
  for (auto& r : rs)
    if (r.error)
      return &r.error;
  return nullptr;
}

// DEL, EXISTS, DBSIZE: the parts' integers add up.
std::string finish_sum(std::vector<batch_result>& rs) {
  std::string out;
  if (auto* err = first_error(rs)) {
    append_error(out, *err);
    return out;
  }
  int64_t sum = 0;
  for (auto& r : rs)
    sum += r.value.number;
  append_integer(out, sum);
  return out;
}

// KEYS: every shard's keys, sorted as one shard sorts them.
std::string finish_keys(std::vector<batch_result>& rs) {
  std::string out;
  if (auto* err = first_error(rs)) {
    append_error(out, *err);
    return out;
  }
  std::vector<reply> all;
  for (auto& r : rs)
    for (auto& k : r.value.elements)
      all.push_back(std::move(k));
  std::sort(all.begin(), all.end(),
            [](const reply& a, const reply& b) { return a.text < b.text; });
  append_reply(out, reply::of(std::move(all)));
  return out;
}

// -- SCAN cursors across shards ---------------------------------------------------
//
// A shard's cursor is a 64-bit hash position (shard_state.cpp); the client
// gets one number for all shards: the hash position with its low 8 bits
// replaced by shard index + 1 (0 stays "start" and "done"). Resuming from
// the rounded-down position may return a few keys twice, which SCAN allows
// (Redis: every key present for the whole scan at least once).

struct scan_cursor {
  uint16_t shard = 0;
  uint64_t position = 0;
};

std::optional<scan_cursor> decode_cursor(uint64_t c, uint16_t shards) {
  if (c == 0)
    return scan_cursor{};
  auto tag = c & 0xFF;
  if (tag == 0 || tag > shards)
    return std::nullopt;
  return scan_cursor{static_cast<uint16_t>(tag - 1), c & ~uint64_t{0xFF}};
}

uint64_t encode_cursor(uint16_t shard, uint64_t shard_next, uint16_t shards) {
  if (shard_next != 0)
    return (shard_next & ~uint64_t{0xFF}) | (shard + 1u);
  auto next_shard = shard + 1u;
  return next_shard >= shards ? 0 : next_shard + 1u; // position 0 there
}

// -- argument parsing -------------------------------------------------------------

std::optional<int64_t> int_arg(const std::string& s) {
  return codec::parse_i64(s, codec::int_syntax::redis);
}

// A score as Redis reads it: strtod syntax, inf allowed, NaN refused.
std::optional<double> float_arg(const std::string& s) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0])))
    return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || std::isnan(d))
    return std::nullopt;
  return d;
}

std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// -- the planner ----------------------------------------------------------------

struct planner {
  std::vector<std::string>& a;
  const command_context& ctx;
  command_plan plan;

  uint16_t shard_of(const std::string& key) const {
    return messages::shard_of(key, ctx.shards);
  }

  void error(std::string_view line) {
    plan.parts.clear();
    plan.immediate.clear();
    append_error_line(plan.immediate, line);
  }

  void immediate(const reply& r) {
    append_reply(plan.immediate, r);
  }

  void part(uint16_t shard, batch_op op) {
    plan.parts.push_back(command_part{shard, std::move(op)});
  }

  // One write routed by `key`, replied as the shard replies. `key` must
  // not live in `r` (arguments are initialized in no fixed order).
  void write(const std::string& key, codec::aof_record r, uint8_t flags = 0) {
    part(shard_of(key), batch_op{mutation{std::move(r), flags}});
    plan.finish = finish_single;
  }

  void read(const std::string& key, messages::query qy) {
    part(shard_of(key), batch_op{read_request{std::move(qy)}});
    plan.finish = finish_single;
  }

  // The same read on every shard, combined by `f`.
  void read_all(const messages::query& qy, command_finisher f) {
    for (uint16_t s = 0; s < ctx.shards; ++s)
      part(s, batch_op{read_request{qy}});
    plan.finish = std::move(f);
  }

  // Integer argument i, or an error reply (false).
  bool integer(size_t i, int64_t& out, const char* err = not_integer) {
    auto v = int_arg(a[i]);
    if (!v) {
      error(err);
      return false;
    }
    out = *v;
    return true;
  }

  // Whether every key lives on one shard; answers CROSSSLOT otherwise.
  bool same_shard(const std::vector<const std::string*>& keys) {
    for (auto* k : keys)
      if (shard_of(*k) != shard_of(*keys.front())) {
        error(crossslot);
        return false;
      }
    return true;
  }

  std::vector<std::string> rest(size_t from) {
    return {std::make_move_iterator(a.begin() + static_cast<ptrdiff_t>(from)),
            std::make_move_iterator(a.end())};
  }
};

using builder = void (*)(planner&);

// -- commands --------------------------------------------------------------------

void ping(planner& p) {
  if (p.a.size() > 2)
    return p.error("ERR wrong number of arguments for 'ping' command");
  p.immediate(p.a.size() == 2 ? reply::of(std::move(p.a[1]))
                              : reply::make_status("PONG"));
}

void echo(planner& p) {
  p.immediate(reply::of(std::move(p.a[1])));
}

void set(planner& p) {
  rec::set r{p.a[1], std::move(p.a[2]), -1};
  uint8_t flags = 0;
  bool has_ttl = false;
  for (size_t i = 3; i < p.a.size(); ++i) {
    auto opt = upper(p.a[i]);
    if (opt == "NX" || opt == "XX" || opt == "GET" || opt == "KEEPTTL") {
      flags |= opt == "NX"    ? messages::flag_nx
               : opt == "XX"  ? messages::flag_xx
               : opt == "GET" ? messages::flag_get
                              : messages::flag_keepttl;
      continue;
    }
    int64_t scale = opt == "EX" || opt == "EXAT" ? 1000 : 1;
    if ((opt != "EX" && opt != "PX" && opt != "EXAT" && opt != "PXAT")
        || has_ttl || i + 1 == p.a.size())
      return p.error(syntax_error);
    int64_t n = 0;
    if (!p.integer(++i, n))
      return;
    if (n <= 0 || __builtin_mul_overflow(n, scale, &r.expire_ms))
      return p.error("ERR invalid expire time in 'set' command");
    if (opt == "EXAT" || opt == "PXAT")
      flags |= messages::flag_absolute_ttl;
    has_ttl = true;
  }
  bool nx_xx = (flags & messages::flag_nx) && (flags & messages::flag_xx);
  if (nx_xx || (has_ttl && (flags & messages::flag_keepttl)))
    return p.error(syntax_error);
  p.write(p.a[1], std::move(r), flags);
}

void get(planner& p) {
  p.read(p.a[1], q::get{p.a[1]});
}

void del(planner& p) {
  for (size_t i = 1; i < p.a.size(); ++i)
    p.part(p.shard_of(p.a[i]), batch_op{mutation{rec::del{p.a[i]}, 0}});
  p.plan.finish = finish_sum;
}

void exists(planner& p) {
  for (size_t i = 1; i < p.a.size(); ++i)
    p.part(p.shard_of(p.a[i]), batch_op{read_request{q::exists{{p.a[i]}}}});
  p.plan.finish = finish_sum;
}

void type(planner& p) {
  p.read(p.a[1], q::type{p.a[1]});
}

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: `unit_ms` scales the argument;
// `absolute` says it is a unix time.
template <int64_t UnitMs, bool Absolute>
void expire(planner& p) {
  int64_t n = 0;
  if (!p.integer(2, n))
    return;
  auto& key = p.a[1];
  if constexpr (Absolute) {
    int64_t ms = 0;
    if (__builtin_mul_overflow(n, UnitMs, &ms))
      return p.error("ERR invalid expire time in '" + lower(p.a[0])
                     + "' command");
    p.write(key, rec::pexpireat{key, ms});
  } else if constexpr (UnitMs == 1000) {
    p.write(key, rec::expire{key, n});
  } else {
    p.write(key, rec::pexpire{key, n});
  }
}

void persist(planner& p) {
  p.write(p.a[1], rec::persist{p.a[1]});
}

template <bool Millis>
void ttl(planner& p) {
  p.read(p.a[1], q::ttl{p.a[1], Millis});
}

void incr(planner& p) {
  p.write(p.a[1], rec::incr{p.a[1]});
}

void decr(planner& p) {
  p.write(p.a[1], rec::decr{p.a[1]});
}

template <bool Up>
void incrby(planner& p) {
  int64_t n = 0;
  if (!p.integer(2, n))
    return;
  if constexpr (Up)
    p.write(p.a[1], rec::incrby{p.a[1], n});
  else
    p.write(p.a[1], rec::decrby{p.a[1], n});
}

void append(planner& p) {
  p.write(p.a[1], rec::append{p.a[1], std::move(p.a[2])});
}

void strlen(planner& p) {
  p.read(p.a[1], q::strlen{p.a[1]});
}

void setrange(planner& p) {
  int64_t off = 0;
  if (!p.integer(2, off))
    return;
  if (off < 0)
    return p.error("ERR offset is out of range");
  p.write(p.a[1], rec::setrange{p.a[1], off, std::move(p.a[3])});
}

void getrange(planner& p) {
  int64_t start = 0;
  int64_t end = 0;
  if (!p.integer(2, start) || !p.integer(3, end))
    return;
  p.read(p.a[1], q::getrange{p.a[1], start, end});
}

constexpr const char* bad_bit_offset = "ERR bit offset is not an integer or "
                                       "out of range";

void setbit(planner& p) {
  int64_t off = 0;
  int64_t bit = 0;
  if (!p.integer(2, off, bad_bit_offset))
    return;
  if (off < 0)
    return p.error(bad_bit_offset);
  if (!p.integer(3, bit, "ERR bit is not an integer or out of range"))
    return;
  if (bit != 0 && bit != 1)
    return p.error("ERR bit is not an integer or out of range");
  p.write(p.a[1], rec::setbit{p.a[1], off, static_cast<uint8_t>(bit)});
}

void getbit(planner& p) {
  int64_t off = 0;
  if (!p.integer(2, off, bad_bit_offset))
    return;
  if (off < 0)
    return p.error(bad_bit_offset);
  p.read(p.a[1], q::getbit{p.a[1], off});
}

void bitop(planner& p) {
  auto op = upper(p.a[1]);
  uint8_t code = op == "AND" ? 0 : op == "OR" ? 1 : op == "XOR" ? 2 : 3;
  if (op != "AND" && op != "OR" && op != "XOR" && op != "NOT")
    return p.error(syntax_error);
  if (code == 3 && p.a.size() != 4)
    return p.error("ERR BITOP NOT must be called with a single source key.");
  std::vector<const std::string*> keys;
  for (size_t i = 2; i < p.a.size(); ++i)
    keys.push_back(&p.a[i]);
  if (!p.same_shard(keys))
    return;
  auto dest = p.a[2];
  p.write(dest, rec::bitop{code, dest, p.rest(3)});
}

void rename(planner& p) {
  if (!p.same_shard({&p.a[1], &p.a[2]}))
    return;
  p.write(p.a[1], rec::rename{p.a[1], p.a[2]});
}

void copy(planner& p) {
  bool replace = false;
  for (size_t i = 3; i < p.a.size(); ++i) {
    if (upper(p.a[i]) != "REPLACE")
      return p.error(syntax_error);
    replace = true;
  }
  if (!p.same_shard({&p.a[1], &p.a[2]}))
    return;
  p.write(p.a[1], rec::copy{p.a[1], p.a[2], replace});
}

template <bool Left>
void push(planner& p) {
  auto key = p.a[1];
  if constexpr (Left)
    p.write(key, rec::lpush{key, p.rest(2)});
  else
    p.write(key, rec::rpush{key, p.rest(2)});
}

template <bool Left>
void pop(planner& p) {
  if constexpr (Left)
    p.write(p.a[1], rec::lpop{p.a[1]});
  else
    p.write(p.a[1], rec::rpop{p.a[1]});
}

void lset(planner& p) {
  int64_t i = 0;
  if (!p.integer(2, i))
    return;
  p.write(p.a[1], rec::lset{p.a[1], i, std::move(p.a[3])});
}

void ltrim(planner& p) {
  int64_t start = 0;
  int64_t stop = 0;
  if (!p.integer(2, start) || !p.integer(3, stop))
    return;
  p.write(p.a[1], rec::ltrim{p.a[1], start, stop});
}

void linsert(planner& p) {
  auto where = upper(p.a[2]);
  if (where != "BEFORE" && where != "AFTER")
    return p.error(syntax_error);
  p.write(p.a[1], rec::linsert{p.a[1], where == "BEFORE", std::move(p.a[3]),
                               std::move(p.a[4])});
}

void lrem(planner& p) {
  int64_t n = 0;
  if (!p.integer(2, n))
    return;
  p.write(p.a[1], rec::lrem{p.a[1], n, std::move(p.a[3])});
}

void lrange(planner& p) {
  int64_t start = 0;
  int64_t stop = 0;
  if (!p.integer(2, start) || !p.integer(3, stop))
    return;
  p.read(p.a[1], q::lrange{p.a[1], start, stop});
}

void llen(planner& p) {
  p.read(p.a[1], q::llen{p.a[1]});
}

void lindex(planner& p) {
  int64_t i = 0;
  if (!p.integer(2, i))
    return;
  p.read(p.a[1], q::lindex{p.a[1], i});
}

void zadd(planner& p) {
  if (p.a.size() % 2 != 0)
    return p.error(syntax_error);
  rec::zadd r{p.a[1], {}};
  for (size_t i = 2; i < p.a.size(); i += 2) {
    auto score = float_arg(p.a[i]);
    if (!score)
      return p.error("ERR value is not a valid float");
    r.members.push_back({*score, std::move(p.a[i + 1])});
  }
  p.write(p.a[1], std::move(r));
}

void zrem(planner& p) {
  auto key = p.a[1];
  p.write(key, rec::zrem{key, p.rest(2)});
}

void zrange(planner& p) {
  int64_t start = 0;
  int64_t stop = 0;
  if (!p.integer(2, start) || !p.integer(3, stop))
    return;
  bool withscores = false;
  for (size_t i = 4; i < p.a.size(); ++i) {
    if (upper(p.a[i]) != "WITHSCORES")
      return p.error(syntax_error);
    withscores = true;
  }
  p.read(p.a[1], q::zrange{p.a[1], start, stop, withscores});
}

void zscore(planner& p) {
  p.read(p.a[1], q::zscore{p.a[1], p.a[2]});
}

void zcard(planner& p) {
  p.read(p.a[1], q::zcard{p.a[1]});
}

void hset(planner& p) {
  if (p.a.size() % 2 != 0)
    return p.error("ERR wrong number of arguments for 'hset' command");
  rec::hset r{p.a[1], {}};
  for (size_t i = 2; i < p.a.size(); i += 2)
    r.fields.push_back({std::move(p.a[i]), std::move(p.a[i + 1])});
  p.write(p.a[1], std::move(r));
}

void hdel(planner& p) {
  auto key = p.a[1];
  p.write(key, rec::hdel{key, p.rest(2)});
}

void hincrby(planner& p) {
  int64_t n = 0;
  if (!p.integer(3, n))
    return;
  p.write(p.a[1], rec::hincrby{p.a[1], std::move(p.a[2]), n});
}

void hget(planner& p) {
  p.read(p.a[1], q::hget{p.a[1], p.a[2]});
}

void hgetall(planner& p) {
  p.read(p.a[1], q::hgetall{p.a[1]});
}

void hlen(planner& p) {
  p.read(p.a[1], q::hlen{p.a[1]});
}

void sadd(planner& p) {
  auto key = p.a[1];
  p.write(key, rec::sadd{key, p.rest(2)});
}

void srem(planner& p) {
  auto key = p.a[1];
  p.write(key, rec::srem{key, p.rest(2)});
}

void smembers(planner& p) {
  p.read(p.a[1], q::smembers{p.a[1]});
}

void sismember(planner& p) {
  p.read(p.a[1], q::sismember{p.a[1], p.a[2]});
}

void scard(planner& p) {
  p.read(p.a[1], q::scard{p.a[1]});
}

void dbsize(planner& p) {
  p.read_all(q::dbsize{}, finish_sum);
}

void keys(planner& p) {
  p.read_all(q::keys{p.a[1]}, finish_keys);
}

void scan(planner& p) {
  uint64_t raw = 0;
  auto& c = p.a[1];
  auto [end, ec] = std::from_chars(c.data(), c.data() + c.size(), raw);
  auto cursor = ec == std::errc{} && end == c.data() + c.size()
                  ? decode_cursor(raw, p.ctx.shards)
                  : std::nullopt;
  if (!cursor)
    return p.error("ERR invalid cursor");
  q::scan s{cursor->position, "*", 10};
  for (size_t i = 2; i < p.a.size(); i += 2) {
    auto opt = upper(p.a[i]);
    if (i + 1 == p.a.size() || (opt != "MATCH" && opt != "COUNT"))
      return p.error(syntax_error);
    if (opt == "MATCH") {
      s.match = p.a[i + 1];
      continue;
    }
    int64_t n = 0;
    if (!p.integer(i + 1, n))
      return;
    if (n < 1)
      return p.error(syntax_error);
    s.count = static_cast<uint64_t>(n);
  }
  auto shard = cursor->shard;
  auto shards = p.ctx.shards;
  p.part(shard, batch_op{read_request{std::move(s)}});
  p.plan.finish = [shard, shards](std::vector<batch_result>& rs) {
    if (rs[0].error)
      return finish_single(rs);
    auto& r = rs[0].value;
    uint64_t next = std::stoull(r.elements.at(0).text);
    r.elements[0].text = std::to_string(encode_cursor(shard, next, shards));
    return finish_single(rs);
  };
}

template <admin_action A>
void admin(planner& p) {
  p.plan.admin = A;
  if (p.a.size() > 1)
    p.plan.argument = lower(p.a[1]);
}

void command(planner& p) {
  // redis-cli asks for COMMAND DOCS at start; an empty answer is valid and
  // makes it fall back to no hints.
  if (p.a.size() > 1 && upper(p.a[1]) == "COUNT")
    return p.immediate(reply::of(int64_t{0}));
  p.immediate(reply::of(std::vector<reply>{}));
}

void config(planner& p) {
  if (upper(p.a[1]) != "GET" || p.a.size() != 3)
    return p.error("ERR CONFIG " + p.a[1]
                   + " is not supported; emberd is configured by its config "
                     "file and command line (emberd --help)");
  std::vector<reply> out;
  auto wanted = lower(p.a[2]);
  for (auto& [name, value] : p.ctx.config)
    if (wanted == name || wanted == "*") {
      out.push_back(reply::of(name));
      out.push_back(reply::of(value));
    }
  p.immediate(reply::of(std::move(out)));
}

void select(planner& p) {
  if (p.a[1] != "0")
    return p.error("ERR DB index is out of range");
  p.immediate(reply::ok());
}

struct command_spec {
  std::string_view name;
  int arity; // Redis's convention: n = exactly n, -n = at least n
  builder build;
};

const command_spec commands[] = {
  {"PING", -1, ping},
  {"ECHO", 2, echo},
  {"SET", -3, set},
  {"GET", 2, get},
  {"DEL", -2, del},
  {"EXISTS", -2, exists},
  {"TYPE", 2, type},
  {"EXPIRE", 3, expire<1000, false>},
  {"PEXPIRE", 3, expire<1, false>},
  {"EXPIREAT", 3, expire<1000, true>},
  {"PEXPIREAT", 3, expire<1, true>},
  {"PERSIST", 2, persist},
  {"TTL", 2, ttl<false>},
  {"PTTL", 2, ttl<true>},
  {"INCR", 2, incr},
  {"DECR", 2, decr},
  {"INCRBY", 3, incrby<true>},
  {"DECRBY", 3, incrby<false>},
  {"APPEND", 3, append},
  {"STRLEN", 2, strlen},
  {"SETRANGE", 4, setrange},
  {"GETRANGE", 4, getrange},
  {"SETBIT", 4, setbit},
  {"GETBIT", 3, getbit},
  {"BITOP", -4, bitop},
  {"RENAME", 3, rename},
  {"COPY", -3, copy},
  {"LPUSH", -3, push<true>},
  {"RPUSH", -3, push<false>},
  {"LPOP", 2, pop<true>},
  {"RPOP", 2, pop<false>},
  {"LSET", 4, lset},
  {"LTRIM", 4, ltrim},
  {"LINSERT", 5, linsert},
  {"LREM", 4, lrem},
  {"LRANGE", 4, lrange},
  {"LLEN", 2, llen},
  {"LINDEX", 3, lindex},
  {"ZADD", -4, zadd},
  {"ZREM", -3, zrem},
  {"ZRANGE", -4, zrange},
  {"ZSCORE", 3, zscore},
  {"ZCARD", 2, zcard},
  {"HSET", -4, hset},
  {"HDEL", -3, hdel},
  {"HINCRBY", 4, hincrby},
  {"HGET", 3, hget},
  {"HGETALL", 2, hgetall},
  {"HLEN", 2, hlen},
  {"SADD", -3, sadd},
  {"SREM", -3, srem},
  {"SMEMBERS", 2, smembers},
  {"SISMEMBER", 3, sismember},
  {"SCARD", 2, scard},
  {"DBSIZE", 1, dbsize},
  {"KEYS", 2, keys},
  {"SCAN", -2, scan},
  {"SAVE", 1, admin<admin_action::save>},
  {"BGSAVE", -1, admin<admin_action::bgsave>},
  {"BGREWRITEAOF", 1, admin<admin_action::bgrewriteaof>},
  {"INFO", -1, admin<admin_action::info>},
  {"SHUTDOWN", -1, admin<admin_action::shutdown>},
  {"COMMAND", -1, command},
  {"CONFIG", -2, config},
  {"SELECT", 2, select},
};

} // namespace

command_plan plan_command(std::vector<std::string>& args,
                          const command_context& ctx) {
  planner p{args, ctx, {}};
  auto name = upper(args.at(0));
  for (auto& c : commands) {
    if (c.name != name)
      continue;
    auto n = static_cast<int>(std::min<size_t>(args.size(), 1u << 30));
    if ((c.arity > 0 && n != c.arity) || (c.arity < 0 && n < -c.arity)) {
      p.error("ERR wrong number of arguments for '" + lower(name)
              + "' command");
      return std::move(p.plan);
    }
    c.build(p);
    return std::move(p.plan);
  }
  std::string msg = "ERR unknown command '" + args[0]
                    + "', with args beginning with: ";
  for (size_t i = 1; i < args.size() && i < 4; ++i)
    msg += "'" + args[i].substr(0, 64) + "' ";
  p.error(msg);
  return std::move(p.plan);
}

} // namespace ember::app
