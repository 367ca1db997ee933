// query.hpp: read requests to a shard. None changes data or touches a file;
// each is answered from memory (keys past their deadline count as absent).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "caf/meta/type_name.hpp"

#include "messages/variant_inspect.hpp"

namespace ember::messages {

namespace q {

#define EMBER_QUERY(type, ...)                                                 \
  template <class Inspector>                                                   \
  friend typename Inspector::result_type inspect(Inspector& f, type& x) {      \
    return f(caf::meta::type_name(#type), __VA_ARGS__);                        \
  }

struct get {
  std::string key;
  EMBER_QUERY(get, x.key)
};
struct strlen {
  std::string key;
  EMBER_QUERY(strlen, x.key)
};
/// GETRANGE: Redis index rules (negative from the end, inclusive).
struct getrange {
  std::string key;
  int64_t start = 0;
  int64_t end = -1;
  EMBER_QUERY(getrange, x.key, x.start, x.end)
};
struct getbit {
  std::string key;
  int64_t offset = 0;
  EMBER_QUERY(getbit, x.key, x.offset)
};
/// Counts how many of the keys exist (a key named twice counts twice).
struct exists {
  std::vector<std::string> keys;
  EMBER_QUERY(exists, x.keys)
};
/// "string", "list", "zset", "hash", "set", "none" (Redis names).
struct type {
  std::string key;
  EMBER_QUERY(type, x.key)
};
/// TTL (seconds) or PTTL (ms): -2 missing key, -1 no TTL.
struct ttl {
  std::string key;
  bool millis = false;
  EMBER_QUERY(ttl, x.key, x.millis)
};
struct lrange {
  std::string key;
  int64_t start = 0;
  int64_t stop = -1;
  EMBER_QUERY(lrange, x.key, x.start, x.stop)
};
struct llen {
  std::string key;
  EMBER_QUERY(llen, x.key)
};
struct lindex {
  std::string key;
  int64_t index = 0;
  EMBER_QUERY(lindex, x.key, x.index)
};
struct hget {
  std::string key;
  std::string field;
  EMBER_QUERY(hget, x.key, x.field)
};
/// Field, value, field, value, ... sorted by field.
struct hgetall {
  std::string key;
  EMBER_QUERY(hgetall, x.key)
};
struct hlen {
  std::string key;
  EMBER_QUERY(hlen, x.key)
};
/// Members sorted bytewise.
struct smembers {
  std::string key;
  EMBER_QUERY(smembers, x.key)
};
struct sismember {
  std::string key;
  std::string member;
  EMBER_QUERY(sismember, x.key, x.member)
};
struct scard {
  std::string key;
  EMBER_QUERY(scard, x.key)
};
/// By rank, ascending score then member; scores as Redis formats them.
struct zrange {
  std::string key;
  int64_t start = 0;
  int64_t stop = -1;
  bool withscores = false;
  EMBER_QUERY(zrange, x.key, x.start, x.stop, x.withscores)
};
struct zscore {
  std::string key;
  std::string member;
  EMBER_QUERY(zscore, x.key, x.member)
};
struct zcard {
  std::string key;
  EMBER_QUERY(zcard, x.key)
};
struct dbsize {
  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, dbsize&) {
    return f(caf::meta::type_name("dbsize"));
  }
};
/// Keys matching a glob pattern (Redis KEYS), sorted.
struct keys {
  std::string pattern = "*";
  EMBER_QUERY(keys, x.pattern)
};
/// SCAN: cursor 0 starts; the reply is [next cursor, [keys]], next cursor
/// 0 when done. Keys present for the whole scan are returned at least once.
struct scan {
  uint64_t cursor = 0;
  std::string match = "*";
  uint64_t count = 10;
  EMBER_QUERY(scan, x.cursor, x.match, x.count)
};

#undef EMBER_QUERY

} // namespace q

using query
  = std::variant<q::get, q::strlen, q::getrange, q::getbit, q::exists,
                 q::type, q::ttl, q::lrange, q::llen, q::lindex, q::hget,
                 q::hgetall, q::hlen, q::smembers, q::sismember, q::scard,
                 q::zrange, q::zscore, q::zcard, q::dbsize, q::keys, q::scan>;

/// A read request (wrapper so it can be a message of its own).
struct read_request {
  query q;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_request& x) {
  return detail::inspect_variant(f, caf::meta::type_name("read_request"),
                                 x.q);
}

} // namespace ember::messages
