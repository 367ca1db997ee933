#include "actors/shard_state.hpp"

#include "codec/list_ops.hpp"
#include "codec/string_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "codec/format.hpp"
#include "messages/persist_error.hpp"

// Why the logging rules of shard_state.hpp are enough for recovery to agree.
//
// Let T be the recovery time (>= every "now" the shard saw). Replay deletes a
// key at a PEXPIREAT whose deadline is <= T, so during replay a key k can be
// gone while the live shard still holds it with a deadline D <= T ("doomed":
// recovery drops it at the end anyway). The invariant after every logged
// prefix, for every key: replay holds the same entry as the live shard, or
// the live entry is doomed and replay holds nothing (or the same entry).
// A live entry without a deadline is never doomed, so only writes to keys
// with a deadline need care, and each keeps the invariant:
// - in-place writes that replay performs as "create if missing" (APPEND,
//   INCR, SETRANGE, SETBIT, pushes, ZADD, HSET, HINCRBY, SADD, VADD) are
//   followed by PEXPIREAT with the unchanged deadline: a doomed key that
//   replay recreates is deleted again;
// - in-place writes replay skips on a missing key (pops, LSET, LTRIM,
//   LINSERT, LREM, ZREM, HDEL, SREM, VREM) need nothing;
// - a deadline moved earlier needs only PEXPIREAT; PERSIST or a later
//   deadline may revive a doomed key, so the whole value is logged again;
// - RENAME/COPY of a doomed source are no-ops in replay, so the destination
//   is deleted first; BITOP over a doomed source would read it as empty, so
//   the result is logged as SET.
// Lazy expiry logs DEL before a write touches an expired key, so replay
// never builds on an entry the live shard already dropped.

namespace ember::actors {

namespace rec = codec::rec;
using codec::aof_record;
using codec::entry;
using codec::hash_value;
using codec::list_value;
using codec::no_deadline;
using codec::proto_value;
using codec::set_value;
using codec::sorted_set;
using codec::vector_value;
using messages::persist_errc;
using messages::reply;

namespace {

constexpr int64_t i64_max = std::numeric_limits<int64_t>::max();
constexpr int64_t i64_min = std::numeric_limits<int64_t>::min();

/// Elements per record when a whole collection is logged again.
constexpr size_t rebuild_chunk = 1024;

// -- errors (Redis's texts) ---------------------------------------------------

caf::error fail(persist_errc code, std::string text) {
  return messages::make_error(code, std::move(text));
}

caf::error wrong_type() {
  return fail(persist_errc::wrong_type,
              "WRONGTYPE Operation against a key holding the wrong kind of "
              "value");
}

caf::error not_integer() {
  return fail(persist_errc::not_integer,
              "value is not an integer or out of range");
}

caf::error overflow() {
  return fail(persist_errc::not_integer,
              "increment or decrement would overflow");
}

caf::error wrong_args(const char* command) {
  return fail(persist_errc::syntax_error,
              std::string{"wrong number of arguments for '"} + command
                + "' command");
}

caf::error invalid_expire(const char* command) {
  return fail(persist_errc::syntax_error,
              std::string{"invalid expire time in '"} + command
                + "' command");
}

caf::error string_too_long() {
  return fail(persist_errc::too_large,
              "string exceeds maximum allowed size (proto-max-bulk-len)");
}

// -- request checks -----------------------------------------------------------

/// Checks the fields of a request through the record's own `describe`, so
/// every kind (and any new field) is covered: UTF-8 where the format wants
/// it, the 512 MiB and count limits, the BITOP op. Durations are not checked
/// here: negative EXPIRE times are valid requests (they delete the key).
caf::error check_request(const messages::mutation& m) {
  auto tag = codec::tag_of(m.record);
  if (!codec::tag_supported(tag))
    return fail(persist_errc::syntax_error,
                codec::unsupported_by_build(codec::op_name(tag),
                                            tag == rec::proto_set::tag
                                              || tag
                                                   == rec::proto_register::tag));
  if ((m.flags & messages::flag_nx) && (m.flags & messages::flag_xx))
    return fail(persist_errc::syntax_error, "NX and XX options at the same "
                                            "time are not compatible");
  auto problem = codec::check_fields(m.record, true);
  switch (problem.kind) {
    case codec::field_problem::none:
      return {};
    case codec::field_problem::too_large:
      return fail(persist_errc::too_large, problem.text);
    case codec::field_problem::invalid_utf8:
      return fail(persist_errc::invalid_utf8, problem.text);
    case codec::field_problem::bad_value:
      break;
  }
  return fail(persist_errc::syntax_error, problem.text);
}

// -- numbers ------------------------------------------------------------------

/// Redis's range rules (LRANGE, LTRIM, ZRANGE): negative indexes count from
/// the end, the result is clamped. Inclusive [first, last], or nothing.
std::optional<std::pair<size_t, size_t>> redis_range(int64_t start,
                                                     int64_t stop,
                                                     size_t size) {
  auto len = static_cast<int64_t>(size);
  if (start < 0)
    start += len; // cannot overflow: len >= 0
  if (stop < 0)
    stop += len;
  if (start < 0)
    start = 0;
  if (start > stop || start >= len)
    return std::nullopt;
  if (stop >= len)
    stop = len - 1;
  return std::make_pair(static_cast<size_t>(start), static_cast<size_t>(stop));
}

/// A list index (negative from the end), or nothing when out of range.
std::optional<size_t> list_index(int64_t index, size_t size) {
  auto len = static_cast<int64_t>(size);
  if (index < 0)
    index += len;
  if (index < 0 || index >= len)
    return std::nullopt;
  return static_cast<size_t>(index);
}

/// |count| as unsigned, correct for i64 min.
uint64_t magnitude(int64_t count) {
  return count < 0 ? static_cast<uint64_t>(-(count + 1)) + 1
                   : static_cast<uint64_t>(count);
}


/// Redis's score text: %.17g, "inf"/"-inf".
std::string format_score(double d) {
  if (std::isinf(d))
    return d > 0 ? "inf" : "-inf";
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%.17g", d);
  return std::string(buf, static_cast<size_t>(n));
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof(double)) == 0;
}

// -- values -------------------------------------------------------------------

template <class T>
bool is_empty(const T& v) {
  return v.empty();
}

bool is_empty(const vector_value& v) {
  return v.elements.empty();
}

// -- glob matching (Redis's stringmatchlen, without nocase) -------------------

/// Matches the pattern element at p[i] (anything but '*') against byte c and
/// moves i past the element.
bool match_element(std::string_view p, size_t& i, unsigned char c) {
  auto at = [&](size_t j) { return static_cast<unsigned char>(p[j]); };
  if (p[i] == '?') {
    ++i;
    return true;
  }
  if (p[i] == '\\' && i + 1 < p.size()) {
    i += 2; // an escaped character is literal; a trailing '\' is itself
    return at(i - 1) == c;
  }
  if (p[i] != '[')
    return at(i++) == c;
  // A class: [abc], [^abc], [a-z], \x escapes; an unterminated class ends
  // with the pattern (as in Redis).
  size_t j = i + 1;
  bool negate = j < p.size() && p[j] == '^';
  if (negate)
    ++j;
  bool matched = false;
  while (j < p.size() && p[j] != ']') {
    if (p[j] == '\\' && j + 1 < p.size()) {
      matched |= at(j + 1) == c;
      j += 2;
    } else if (j + 2 < p.size() && p[j + 1] == '-') {
      auto lo = std::min(at(j), at(j + 2));
      auto hi = std::max(at(j), at(j + 2));
      matched |= c >= lo && c <= hi;
      j += 3;
    } else {
      matched |= at(j) == c;
      ++j;
    }
  }
  i = j < p.size() ? j + 1 : j;
  return matched != negate;
}

/// Glob match with '*' backtracking to the last star only (linear in
/// practice, no recursion).
bool glob_match(std::string_view p, std::string_view s) {
  size_t pi = 0;
  size_t si = 0;
  size_t star = std::string_view::npos; // pattern index after the last '*'
  size_t star_si = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = ++pi;
      star_si = si;
      continue;
    }
    size_t next = pi;
    if (pi < p.size()
        && match_element(p, next, static_cast<unsigned char>(s[si]))) {
      pi = next;
      ++si;
      continue;
    }
    if (star == std::string_view::npos)
      return false;
    pi = star;
    si = ++star_si;
  }
  while (pi < p.size() && p[pi] == '*')
    ++pi;
  return pi == p.size();
}

/// SCAN's key order: FNV-1a 64 of the key bytes (stable across runs).
uint64_t scan_hash(std::string_view key) {
  uint64_t h = 14695981039346656037ull;
  for (char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

const char* type_name(const codec::value& v) {
  static constexpr const char* names[]
    = {"string", "list", "zset", "hash", "set", "proto", "vectorset"};
  return names[v.index()];
}

} // namespace

// -- writes -------------------------------------------------------------------

struct shard_state::writer {
  shard_state& self;
  int64_t now;
  uint8_t flags;
  std::vector<aof_record>& log;

  /// A key as a command sees it: `e` when present and not expired;
  /// `expired` when present but past its deadline (to purge).
  struct slot {
    entry* e = nullptr;
    bool expired = false;
  };

  // -- keyspace primitives (keep the deadline index in step) -----------------

  /// For writing: the entry (if any) is private to the live keyspace.
  slot find(const std::string& key) {
    auto* e = self.ks_.find(key);
    if (!e)
      return {};
    if (expired(*e, now))
      return {nullptr, true};
    return {e, false};
  }

  entry& put(const std::string& key, entry e) {
    if (e.has_deadline())
      self.ttl_keys_.insert(key);
    else if (!self.ttl_keys_.empty())
      self.ttl_keys_.erase(key);
    return self.ks_.put(key, std::move(e));
  }

  bool remove(const std::string& key) {
    if (!self.ttl_keys_.empty())
      self.ttl_keys_.erase(key);
    return self.ks_.erase(key);
  }

  void set_deadline(const std::string& key, entry& e, int64_t deadline) {
    if (e.has_deadline() != (deadline != no_deadline)) {
      if (deadline == no_deadline)
        self.ttl_keys_.erase(key);
      else
        self.ttl_keys_.insert(key);
    }
    e.deadline_ms = deadline;
  }

  /// Lazy expiry: drops a key the command found expired and logs DEL so
  /// that replay drops it too before the command's own records.
  void purge(const std::string& key, const slot& s) {
    if (s.expired && remove(key))
      log_del(key);
  }

  /// The value as T: nullptr when the key is absent; false for another type.
  template <class T>
  static bool as(const slot& s, T*& out) {
    out = s.e ? codec::get_if<T>(&s.e->val) : nullptr;
    return !s.e || out;
  }

  template <class T>
  struct opened {
    slot s;
    T* value; ///< nullptr when the key is absent (or was expired)
    bool ok;  ///< false: the key holds another type (nothing changed)
  };

  /// find + type check + lazy expiry, for handlers with no other check
  /// between them: an expired key is purged (and its DEL logged) only once
  /// the type fits.
  template <class T>
  opened<T> open(const std::string& key) {
    opened<T> o{find(key), nullptr, false};
    o.ok = as(o.s, o.value);
    if (o.ok)
      purge(key, o.s);
    return o;
  }

  /// The existing value, or a new empty T at `key` (the caller purged).
  template <class T>
  T& obtain(const std::string& key, T* existing) {
    return existing ? *existing : codec::get<T>(put(key, entry{T{}}).val);
  }

  /// Removes the key when a removal left its collection empty (Redis);
  /// replay does the same for the logged removal.
  template <class T>
  void drop_if_empty(const std::string& key, const T& v) {
    if (is_empty(v))
      remove(key);
  }

  // -- logging ---------------------------------------------------------------

  void log_del(const std::string& key) {
    log.emplace_back(rec::del{key});
  }

  void log_pexpireat(const std::string& key, int64_t deadline) {
    log.emplace_back(rec::pexpireat{key, deadline});
  }

  /// Logs an in-place write that replay treats as "create if missing",
  /// then the key's deadline again (see the invariant at the top).
  void log_keeping(aof_record&& r, int64_t deadline) {
    log.push_back(std::move(r));
    if (deadline != no_deadline) {
      rec::pexpireat again{std::string{codec::primary_key(log.back())},
                           deadline};
      log.emplace_back(std::move(again));
    }
  }

  static int64_t deadline_of(const slot& s) {
    return s.e ? s.e->deadline_ms : no_deadline;
  }

  /// Logs records that rebuild `e`'s value at `key` from nothing (no TTL).
  void log_value(const std::string& key, const entry& e) {
    codec::visit([&](const auto& v) { log_rebuild(key, v); }, e.val);
  }

  void log_rebuild(const std::string& key, const std::string& v) {
    log.emplace_back(rec::set{key, v, -1});
  }
  void log_rebuild(const std::string& key, const proto_value& v) {
    log.emplace_back(rec::proto_set{key, v.type_name, v.data, -1});
  }
  void log_rebuild(const std::string& key, const list_value& v) {
    log_chunks(key, &rec::rpush::values, v,
               [](const std::string& x) { return x; });
  }
  void log_rebuild(const std::string& key, const sorted_set& v) {
    log_chunks(key, &rec::zadd::members, v.by_score(), [](const auto& x) {
      return codec::scored_member{x.first, x.second};
    });
  }
  void log_rebuild(const std::string& key, const hash_value& v) {
    log_chunks(key, &rec::hset::fields, v, [](const auto& x) {
      return codec::field_value{x.first, x.second};
    });
  }
  void log_rebuild(const std::string& key, const set_value& v) {
    log_chunks(key, &rec::sadd::members, v,
               [](const std::string& x) { return x; });
  }
  void log_rebuild(const std::string& key, const vector_value& v) {
    // An empty vector set (only from a snapshot) cannot be rebuilt by VADD;
    // it is logged as deleted.
    log_del(key);
    for (auto& el : v.elements)
      log.emplace_back(rec::vadd{key, el.name, el.vector, v.metric,
                                 v.quantization, v.connectivity,
                                 v.expansion_add});
  }

  /// DEL, then the items in records of at most rebuild_chunk elements (one
  /// empty record for an empty collection, which replay recreates as such).
  template <class Rec, class Elem, class Range, class Convert>
  void log_chunks(const std::string& key, std::vector<Elem> Rec::*field,
                  const Range& items, Convert convert) {
    log_del(key);
    Rec r;
    r.key = key;
    for (auto& x : items) {
      (r.*field).push_back(convert(x));
      if ((r.*field).size() == rebuild_chunk) {
        log.emplace_back(r);
        (r.*field).clear();
      }
    }
    if (!(r.*field).empty() || items.empty())
      log.emplace_back(std::move(r));
  }

  // -- TTL helpers -----------------------------------------------------------

  /// now + ms, or an error on overflow (Redis refuses those).
  caf::expected<int64_t> after(int64_t ms, const char* command) const {
    int64_t out;
    if (__builtin_add_overflow(now, ms, &out))
      return invalid_expire(command);
    return out;
  }

  /// Sets the deadline of an existing key and logs it so that replay ends
  /// in the same state whenever it runs (EXPIRE, PEXPIRE, PEXPIREAT).
  reply expire_at(const std::string& key, int64_t deadline) {
    auto s = find(key);
    if (!s.e) {
      purge(key, s);
      return reply::of(int64_t{0});
    }
    if (deadline <= now) {
      remove(key);
      log_del(key);
      return reply::of(int64_t{1});
    }
    int64_t old = s.e->deadline_ms;
    if (old != deadline) {
      set_deadline(key, *s.e, deadline);
      // A later deadline may revive a key replay already deleted.
      if (old != no_deadline && deadline > old)
        log_value(key, *s.e);
      log_pexpireat(key, deadline);
    }
    return reply::of(int64_t{1});
  }

  /// The deadline SET/PROTO.SET give the key, from the request's TTL and
  /// flags: no_deadline, a kept one (KEEPTTL) or an absolute one.
  caf::expected<int64_t> set_deadline_for(int64_t expire_ms,
                                          const slot& s) const {
    bool absolute = flags & messages::flag_absolute_ttl;
    bool keep = flags & messages::flag_keepttl;
    bool has_ttl = absolute || expire_ms >= 0;
    if (has_ttl && keep)
      return fail(persist_errc::syntax_error,
                  "KEEPTTL cannot be combined with a TTL");
    if (absolute)
      return expire_ms > 0 ? caf::expected<int64_t>{expire_ms}
                           : invalid_expire("set");
    if (expire_ms == 0)
      return invalid_expire("set");
    if (expire_ms < 0)
      return keep ? deadline_of(s) : no_deadline;
    return after(expire_ms, "set");
  }

  /// SET and PROTO.SET: replace the value (NX/XX/GET/KEEPTTL), log the
  /// record with its remaining TTL and then PEXPIREAT.
  template <class Rec, class Make>
  caf::expected<reply> replace(Rec&& r, Make make_value) {
    auto s = find(r.key);
    auto deadline = set_deadline_for(r.expire_ms, s);
    if (!deadline)
      return std::move(deadline.error());
    bool get = flags & messages::flag_get;
    std::string* old = nullptr;
    if (get && !as(s, old))
      return wrong_type();
    bool blocked = ((flags & messages::flag_nx) && s.e)
                   || ((flags & messages::flag_xx) && !s.e);
    if (blocked) {
      purge(r.key, s);
      return get && old ? reply::of(*old) : reply::none();
    }
    reply out = !get ? reply::ok() : old ? reply::of(std::move(*old))
                                         : reply::none();
    if (*deadline != no_deadline && *deadline <= now) {
      // A deadline already past (PXAT): the key ends up absent.
      if ((s.e || s.expired) && remove(r.key))
        log_del(r.key);
      return out;
    }
    if (s.e) { // in place: no second lookup, no node allocation
      s.e->val = make_value(r);
      set_deadline(r.key, *s.e, *deadline);
    } else {
      put(r.key, entry{make_value(r), *deadline});
    }
    // The remaining TTL in the record itself, then the absolute deadline:
    // should a crash keep the SET but tear off the PEXPIREAT behind it
    // (both go out in one write, which need not reach the disk whole), the
    // key still expires, only later by the downtime, instead of living on
    // without a TTL. With both present the PEXPIREAT wins.
    r.expire_ms = *deadline == no_deadline ? -1 : *deadline - now;
    log_keeping(std::move(r), *deadline);
    return out;
  }

  // -- the requests ----------------------------------------------------------

  caf::expected<reply> operator()(rec::set&& r) {
    return replace(std::move(r), [](const rec::set& x) {
      return codec::value{x.value};
    });
  }

  caf::expected<reply> operator()(rec::proto_set&& r) {
    return replace(std::move(r), [](const rec::proto_set& x) {
      return codec::value{proto_value{x.type_name, x.data}};
    });
  }

  caf::expected<reply> operator()(rec::proto_register&& r) {
    log.push_back(std::move(r)); // schemas are not keyspace data
    return reply::ok();
  }

  caf::expected<reply> operator()(rec::del&& r) {
    auto s = find(r.key);
    if (!s.e) {
      purge(r.key, s);
      return reply::of(int64_t{0});
    }
    remove(r.key);
    log.push_back(std::move(r));
    return reply::of(int64_t{1});
  }

  caf::expected<reply> operator()(rec::expire&& r) {
    int64_t ms;
    if (__builtin_mul_overflow(r.seconds, int64_t{1000}, &ms))
      return invalid_expire("expire");
    auto deadline = after(ms, "expire");
    if (!deadline)
      return std::move(deadline.error());
    return expire_at(r.key, *deadline);
  }

  caf::expected<reply> operator()(rec::pexpire&& r) {
    auto deadline = after(r.milliseconds, "pexpire");
    if (!deadline)
      return std::move(deadline.error());
    return expire_at(r.key, *deadline);
  }

  caf::expected<reply> operator()(rec::pexpireat&& r) {
    return expire_at(r.key, r.timestamp_ms);
  }

  caf::expected<reply> operator()(rec::persist&& r) {
    auto s = find(r.key);
    if (!s.e || !s.e->has_deadline()) {
      purge(r.key, s);
      return reply::of(int64_t{0});
    }
    set_deadline(r.key, *s.e, no_deadline);
    log_value(r.key, *s.e); // replay may have deleted it already
    return reply::of(int64_t{1});
  }

  /// INCR, DECR, INCRBY, DECRBY (the record is logged as is).
  template <class Rec>
  caf::expected<reply> add(Rec&& r, int64_t delta) {
    auto s = find(r.key);
    std::string* str;
    if (!as(s, str))
      return wrong_type();
    int64_t current = 0;
    if (str) {
      auto parsed = codec::parse_i64(*str, codec::int_syntax::redis);
      if (!parsed)
        return not_integer();
      current = *parsed;
    }
    int64_t sum;
    if (__builtin_add_overflow(current, delta, &sum))
      return overflow();
    purge(r.key, s);
    obtain(r.key, str) = std::to_string(sum);
    log_keeping(std::move(r), deadline_of(s));
    return reply::of(sum);
  }

  caf::expected<reply> operator()(rec::incr&& r) {
    return add(std::move(r), 1);
  }
  caf::expected<reply> operator()(rec::decr&& r) {
    return add(std::move(r), -1);
  }
  caf::expected<reply> operator()(rec::incrby&& r) {
    return add(std::move(r), r.delta);
  }
  caf::expected<reply> operator()(rec::decrby&& r) {
    if (r.delta == i64_min)
      return fail(persist_errc::not_integer, "decrement would overflow");
    return add(std::move(r), -r.delta);
  }

  caf::expected<reply> operator()(rec::append&& r) {
    auto s = find(r.key);
    std::string* str;
    if (!as(s, str))
      return wrong_type();
    size_t len = (str ? str->size() : 0) + r.value.size();
    if (len > codec::max_bytes_len)
      return string_too_long();
    purge(r.key, s);
    obtain(r.key, str) += r.value;
    log_keeping(std::move(r), deadline_of(s));
    return reply::of(static_cast<int64_t>(len));
  }

  caf::expected<reply> operator()(rec::setrange&& r) {
    if (r.offset < 0)
      return fail(persist_errc::out_of_range, "offset is out of range");
    auto s = find(r.key);
    std::string* str;
    if (!as(s, str))
      return wrong_type();
    if (r.value.empty()) { // Redis: no change, not even a new key
      purge(r.key, s);
      return reply::of(static_cast<int64_t>(str ? str->size() : 0));
    }
    if (static_cast<uint64_t>(r.offset) + r.value.size() > codec::max_bytes_len)
      return string_too_long();
    purge(r.key, s);
    auto& target = obtain(r.key, str);
    auto offset = static_cast<size_t>(r.offset);
    if (target.size() < offset + r.value.size())
      target.resize(offset + r.value.size(), '\0');
    target.replace(offset, r.value.size(), r.value);
    auto len = static_cast<int64_t>(target.size());
    log_keeping(std::move(r), deadline_of(s));
    return reply::of(len);
  }

  caf::expected<reply> operator()(rec::setbit&& r) {
    if (r.offset < 0)
      return fail(persist_errc::out_of_range,
                  "bit offset is not an integer or out of range");
    if (static_cast<uint64_t>(r.offset) / 8 >= codec::max_bytes_len)
      return fail(persist_errc::too_large,
                  "bit offset is not an integer or out of range");
    if (r.value > 1)
      return fail(persist_errc::not_integer,
                  "bit is not an integer or out of range");
    auto s = find(r.key);
    std::string* str;
    if (!as(s, str))
      return wrong_type();
    auto byte = static_cast<size_t>(r.offset / 8);
    auto mask = static_cast<unsigned char>(1u << (7 - r.offset % 8));
    int64_t old_bit = str && byte < str->size()
                          && (static_cast<unsigned char>((*str)[byte]) & mask);
    purge(r.key, s);
    if (str && byte < str->size() && old_bit == r.value)
      return reply::of(old_bit); // nothing changes
    auto& target = obtain(r.key, str);
    if (target.size() <= byte)
      target.resize(byte + 1, '\0');
    auto b = static_cast<unsigned char>(target[byte]);
    target[byte] = static_cast<char>(r.value ? b | mask : b & ~mask);
    log_keeping(std::move(r), deadline_of(s));
    return reply::of(old_bit);
  }

  caf::expected<reply> operator()(rec::bitop&& r) {
    if (r.keys.empty())
      return wrong_args("bitop");
    if (r.op == 3 && r.keys.size() != 1)
      return fail(persist_errc::syntax_error,
                  "BITOP NOT must be called with a single source key.");
    std::vector<slot> slots;
    std::vector<std::string_view> sources;
    slots.reserve(r.keys.size());
    sources.reserve(r.keys.size());
    bool source_ttl = false;
    for (auto& key : r.keys) {
      auto& s = slots.emplace_back(find(key));
      std::string* str;
      if (!as(s, str))
        return wrong_type();
      sources.emplace_back(str ? std::string_view{*str} : std::string_view{});
      source_ttl |= s.e && s.e->has_deadline();
    }
    auto result = codec::bit_operation(r.op, sources);
    sources.clear(); // the views may dangle once keys are purged
    for (size_t i = 0; i < r.keys.size(); ++i)
      purge(r.keys[i], slots[i]);
    auto len = static_cast<int64_t>(result.size());
    if (result.empty()) { // Redis deletes the destination
      if (remove(r.dest))
        log_del(r.dest);
      return reply::of(len);
    }
    if (source_ttl) {
      // Replay could read a source it already deleted: log the result.
      put(r.dest, entry{result});
      log.emplace_back(rec::set{std::move(r.dest), std::move(result), -1});
    } else {
      put(r.dest, entry{std::move(result)});
      log.push_back(std::move(r));
    }
    return reply::of(len);
  }

  caf::expected<reply> operator()(rec::rename&& r) {
    auto src = find(r.key);
    if (!src.e)
      return fail(persist_errc::no_such_key, "no such key");
    if (r.key == r.newkey)
      return reply::ok();
    auto dst = find(r.newkey);
    if (src.e->has_deadline() && (dst.e || dst.expired))
      log_del(r.newkey); // replay may have deleted the source already
    // Move the node: value and deadline travel without a copy.
    bool ttl = src.e->has_deadline();
    remove(r.newkey);
    if (ttl)
      self.ttl_keys_.erase(r.key);
    self.ks_.rename(r.key, r.newkey);
    if (ttl)
      self.ttl_keys_.insert(r.newkey);
    log.push_back(std::move(r));
    return reply::ok();
  }

  caf::expected<reply> operator()(rec::copy&& r) {
    if (r.source == r.destination)
      return fail(persist_errc::syntax_error,
                  "source and destination objects are the same");
    auto src = find(r.source);
    auto dst = find(r.destination);
    purge(r.source, src);
    purge(r.destination, dst);
    if (!src.e || (dst.e && !r.replace))
      return reply::of(int64_t{0});
    if (src.e->has_deadline() && dst.e)
      log_del(r.destination); // replay may have deleted the source already
    put(r.destination, *src.e);
    log.push_back(std::move(r));
    return reply::of(int64_t{1});
  }

  // -- lists -----------------------------------------------------------------

  template <class Rec>
  caf::expected<reply> push(Rec&& r, bool front, const char* command) {
    if (r.values.empty())
      return wrong_args(command);
    auto [s, l, ok] = open<list_value>(r.key);
    if (!ok)
      return wrong_type();
    auto& target = obtain(r.key, l);
    for (auto& v : r.values)
      front ? target.push_front(v) : target.push_back(v);
    auto len = static_cast<int64_t>(target.size());
    log_keeping(std::move(r), deadline_of(s));
    return reply::of(len);
  }

  caf::expected<reply> operator()(rec::lpush&& r) {
    return push(std::move(r), true, "lpush");
  }
  caf::expected<reply> operator()(rec::rpush&& r) {
    return push(std::move(r), false, "rpush");
  }

  template <class Rec>
  caf::expected<reply> pop(Rec&& r, bool front) {
    auto [s, l, ok] = open<list_value>(r.key);
    if (!ok)
      return wrong_type();
    if (!l || l->empty())
      return reply::none();
    std::string v = std::move(front ? l->front() : l->back());
    front ? l->pop_front() : l->pop_back();
    drop_if_empty(r.key, *l);
    log.push_back(std::move(r));
    return reply::of(std::move(v));
  }

  caf::expected<reply> operator()(rec::lpop&& r) {
    return pop(std::move(r), true);
  }
  caf::expected<reply> operator()(rec::rpop&& r) {
    return pop(std::move(r), false);
  }

  caf::expected<reply> operator()(rec::lset&& r) {
    auto s = find(r.key);
    list_value* l;
    if (!as(s, l))
      return wrong_type();
    if (!l)
      return fail(persist_errc::no_such_key, "no such key");
    auto i = list_index(r.index, l->size());
    if (!i)
      return fail(persist_errc::out_of_range, "index out of range");
    (*l)[*i] = r.value;
    log.push_back(std::move(r));
    return reply::ok();
  }

  caf::expected<reply> operator()(rec::ltrim&& r) {
    auto [s, l, ok] = open<list_value>(r.key);
    if (!ok)
      return wrong_type();
    if (!l)
      return reply::ok();
    auto range = redis_range(r.start, r.stop, l->size());
    if (range && range->first == 0 && range->second + 1 == l->size())
      return reply::ok(); // keeps everything
    if (range) {
      l->erase(l->begin() + static_cast<ptrdiff_t>(range->second + 1),
               l->end());
      l->erase(l->begin(), l->begin() + static_cast<ptrdiff_t>(range->first));
    } else {
      l->clear();
    }
    drop_if_empty(r.key, *l);
    log.push_back(std::move(r));
    return reply::ok();
  }

  caf::expected<reply> operator()(rec::linsert&& r) {
    auto [s, l, ok] = open<list_value>(r.key);
    if (!ok)
      return wrong_type();
    if (!l)
      return reply::of(int64_t{0});
    auto pos = std::find(l->begin(), l->end(), r.pivot);
    if (pos == l->end())
      return reply::of(int64_t{-1});
    l->insert(r.before ? pos : pos + 1, r.value);
    auto len = static_cast<int64_t>(l->size());
    log.push_back(std::move(r));
    return reply::of(len);
  }

  caf::expected<reply> operator()(rec::lrem&& r) {
    auto [s, l, ok] = open<list_value>(r.key);
    if (!ok)
      return wrong_type();
    if (!l)
      return reply::of(int64_t{0});
    uint64_t limit = r.count == 0 ? std::numeric_limits<uint64_t>::max()
                                  : magnitude(r.count);
    uint64_t removed = 0;
    if (r.count >= 0) {
      l->erase(codec::remove_first_n(l->begin(), l->end(), r.value, limit, removed),
               l->end());
    } else {
      auto kept = codec::remove_first_n(l->rbegin(), l->rend(), r.value, limit,
                                 removed);
      l->erase(l->begin(), kept.base());
    }
    if (removed == 0)
      return reply::of(int64_t{0});
    drop_if_empty(r.key, *l);
    log.push_back(std::move(r));
    return reply::of(static_cast<int64_t>(removed));
  }

  // -- sorted sets, hashes, sets ---------------------------------------------

  caf::expected<reply> operator()(rec::zadd&& r) {
    if (r.members.empty())
      return wrong_args("zadd");
    for (auto& m : r.members)
      if (std::isnan(m.score))
        return fail(persist_errc::not_float, "value is not a valid float");
    auto [s, z, ok] = open<sorted_set>(r.key);
    if (!ok)
      return wrong_type();
    auto& target = obtain(r.key, z);
    int64_t added = 0;
    bool changed = false;
    for (auto& m : r.members) {
      auto* old = target.score(m.member);
      changed |= !old || !same_bits(*old, m.score);
      added += target.add(m.member, m.score);
    }
    if (changed)
      log_keeping(std::move(r), deadline_of(s));
    return reply::of(added);
  }

  caf::expected<reply> operator()(rec::hset&& r) {
    if (r.fields.empty())
      return wrong_args("hset");
    auto [s, h, ok] = open<hash_value>(r.key);
    if (!ok)
      return wrong_type();
    auto& target = obtain(r.key, h);
    int64_t added = 0;
    bool changed = false;
    for (auto& f : r.fields) {
      auto [it, inserted] = target.try_emplace(f.field, f.value);
      if (!inserted && it->second != f.value) {
        it->second = f.value;
        changed = true;
      }
      added += inserted;
    }
    if (changed || added > 0)
      log_keeping(std::move(r), deadline_of(s));
    return reply::of(added);
  }

  caf::expected<reply> operator()(rec::hincrby&& r) {
    auto s = find(r.key);
    hash_value* h;
    if (!as(s, h))
      return wrong_type();
    int64_t current = 0;
    if (h) {
      auto it = h->find(r.field);
      if (it != h->end()) {
        auto parsed = codec::parse_i64(it->second, codec::int_syntax::redis);
        if (!parsed)
          return fail(persist_errc::not_integer,
                      "hash value is not an integer");
        current = *parsed;
      }
    }
    int64_t sum;
    if (__builtin_add_overflow(current, r.delta, &sum))
      return overflow();
    purge(r.key, s);
    obtain(r.key, h).insert_or_assign(r.field, std::to_string(sum));
    log_keeping(std::move(r), deadline_of(s));
    return reply::of(sum);
  }

  caf::expected<reply> operator()(rec::sadd&& r) {
    if (r.members.empty())
      return wrong_args("sadd");
    auto [s, set, ok] = open<set_value>(r.key);
    if (!ok)
      return wrong_type();
    auto& target = obtain(r.key, set);
    int64_t added = 0;
    for (auto& m : r.members)
      added += target.insert(m).second;
    if (added > 0)
      log_keeping(std::move(r), deadline_of(s));
    return reply::of(added);
  }

  /// ZREM, HDEL, SREM: removes items, drops an emptied key, logs the record
  /// when something went.
  template <class T, class Rec, class Items, class Erase>
  caf::expected<reply> remove_items(Rec&& r, const Items& items,
                                    const char* command, Erase erase) {
    if (items.empty())
      return wrong_args(command);
    auto [s, v, ok] = open<T>(r.key);
    if (!ok)
      return wrong_type();
    if (!v)
      return reply::of(int64_t{0});
    int64_t removed = 0;
    for (auto& x : items)
      removed += erase(*v, x);
    if (removed == 0)
      return reply::of(int64_t{0});
    drop_if_empty(r.key, *v);
    log.push_back(std::move(r));
    return reply::of(removed);
  }

  caf::expected<reply> operator()(rec::zrem&& r) {
    auto& items = r.members;
    return remove_items<sorted_set>(std::move(r), items, "zrem",
                                    [](sorted_set& z, const std::string& m) {
                                      return z.remove(m);
                                    });
  }
  caf::expected<reply> operator()(rec::hdel&& r) {
    auto& items = r.fields;
    return remove_items<hash_value>(std::move(r), items, "hdel",
                                    [](hash_value& h, const std::string& f) {
                                      return h.erase(f) > 0;
                                    });
  }
  caf::expected<reply> operator()(rec::srem&& r) {
    auto& items = r.members;
    return remove_items<set_value>(std::move(r), items, "srem",
                                   [](set_value& set, const std::string& m) {
                                     return set.erase(m) > 0;
                                   });
  }

  // -- vector sets -----------------------------------------------------------

  caf::expected<reply> operator()(rec::vadd&& r) {
    auto dim = r.vector.size();
    if (dim == 0)
      return fail(persist_errc::syntax_error,
                  "a vector needs at least one dimension");
    if (r.metric > 2 || r.quantization > 2)
      return fail(persist_errc::syntax_error,
                  "metric and quantization must be 0, 1 or 2");
    auto s = find(r.key);
    vector_value* v;
    if (!as(s, v))
      return wrong_type();
    auto same_name = [&](const codec::snap::vector_element& x) {
      return x.name == r.element;
    };
    auto* existing = v ? &v->elements : nullptr;
    auto it = existing ? std::find_if(existing->begin(), existing->end(),
                                      same_name)
                       : decltype(existing->begin()){};
    bool is_new = !existing || it == existing->end();
    if (v && v->dim != dim)
      return fail(persist_errc::syntax_error,
                  "vector dimension mismatch: the set has "
                    + std::to_string(v->dim) + ", the request "
                    + std::to_string(dim));
    size_t count = (existing ? existing->size() : 0) + is_new;
    if (count > codec::max_vector_count
        || static_cast<uint64_t>(count) * dim > codec::max_vector_total)
      return fail(persist_errc::too_large, "vector set is full");
    purge(r.key, s);
    if (!v)
      v = &codec::get<vector_value>(
        put(r.key, entry{vector_value{r.metric, r.quantization,
                                      r.connectivity, r.expansion_add,
                                      static_cast<uint32_t>(dim), {}}})
          .val);
    if (is_new)
      v->elements.push_back({r.element, r.vector});
    else
      it->vector = r.vector;
    log_keeping(std::move(r), deadline_of(s));
    return reply::of(int64_t{is_new});
  }

  caf::expected<reply> operator()(rec::vrem&& r) {
    auto [s, v, ok] = open<vector_value>(r.key);
    if (!ok)
      return wrong_type();
    if (!v)
      return reply::of(int64_t{0});
    auto& els = v->elements;
    auto it = std::find_if(els.begin(), els.end(),
                           [&](const codec::snap::vector_element& x) {
                             return x.name == r.element;
                           });
    if (it == els.end())
      return reply::of(int64_t{0});
    els.erase(it);
    drop_if_empty(r.key, *v);
    log.push_back(std::move(r));
    return reply::of(int64_t{1});
  }
};

caf::expected<reply> shard_state::apply(messages::mutation&& m, int64_t now_ms,
                                        std::vector<aof_record>& log) {
  if (auto err = check_request(m))
    return err;
  writer w{*this, now_ms, m.flags, log};
  return std::visit(w, std::move(m.record));
}

caf::expected<reply> shard_state::apply(const messages::mutation& m,
                                        int64_t now_ms,
                                        std::vector<aof_record>& log) {
  return apply(messages::mutation{m}, now_ms, log);
}

// -- reads --------------------------------------------------------------------

struct shard_state::reader {
  const shard_state& self;
  int64_t now;

  const entry* find(const std::string& key) const {
    auto* e = self.ks_.find(key);
    return e && !self.expired(*e, now) ? e : nullptr;
  }

  /// Like writer::as: nullptr for a missing key, false for another type.
  template <class T>
  bool as(const std::string& key, const T*& out) const {
    auto* e = find(key);
    out = e ? codec::get_if<T>(&e->val) : nullptr;
    return !e || out;
  }

  static reply integer(size_t n) {
    return reply::of(static_cast<int64_t>(n));
  }

  static reply strings(std::vector<std::string>&& xs) {
    std::vector<reply> out;
    out.reserve(xs.size());
    for (auto& x : xs)
      out.push_back(reply::of(std::move(x)));
    return reply::of(std::move(out));
  }

  caf::expected<reply> operator()(const messages::q::get& x) const {
    const std::string* s;
    if (!as(x.key, s))
      return wrong_type();
    return s ? reply::of(*s) : reply::none();
  }

  caf::expected<reply> operator()(const messages::q::strlen& x) const {
    const std::string* s;
    if (!as(x.key, s))
      return wrong_type();
    return integer(s ? s->size() : 0);
  }

  caf::expected<reply> operator()(const messages::q::getrange& x) const {
    const std::string* s;
    if (!as(x.key, s))
      return wrong_type();
    if (!s || (x.start < 0 && x.end < 0 && x.start > x.end))
      return reply::of(std::string{});
    auto len = static_cast<int64_t>(s->size());
    int64_t start = x.start < 0 ? std::max<int64_t>(x.start + len, 0)
                                : x.start;
    int64_t end = x.end < 0 ? std::max<int64_t>(x.end + len, 0) : x.end;
    end = std::min(end, len - 1);
    if (start > end || len == 0)
      return reply::of(std::string{});
    return reply::of(s->substr(static_cast<size_t>(start),
                               static_cast<size_t>(end - start + 1)));
  }

  caf::expected<reply> operator()(const messages::q::getbit& x) const {
    if (x.offset < 0)
      return fail(persist_errc::out_of_range,
                  "bit offset is not an integer or out of range");
    if (static_cast<uint64_t>(x.offset) / 8 >= codec::max_bytes_len)
      return fail(persist_errc::too_large,
                  "bit offset is not an integer or out of range");
    const std::string* s;
    if (!as(x.key, s))
      return wrong_type();
    auto byte = static_cast<size_t>(x.offset / 8);
    if (!s || byte >= s->size())
      return reply::of(int64_t{0});
    auto mask = 1u << (7 - x.offset % 8);
    return reply::of(
      int64_t{(static_cast<unsigned char>((*s)[byte]) & mask) != 0});
  }

  caf::expected<reply> operator()(const messages::q::exists& x) const {
    size_t n = 0;
    for (auto& key : x.keys)
      n += find(key) != nullptr;
    return integer(n);
  }

  caf::expected<reply> operator()(const messages::q::type& x) const {
    auto* e = find(x.key);
    return reply::make_status(e ? type_name(e->val) : "none");
  }

  caf::expected<reply> operator()(const messages::q::ttl& x) const {
    auto* e = find(x.key);
    if (!e)
      return reply::of(int64_t{-2});
    if (!e->has_deadline())
      return reply::of(int64_t{-1});
    int64_t ms = e->deadline_ms - now; // > 0: the key is live
    return reply::of(x.millis ? ms : (ms + 500) / 1000);
  }

  caf::expected<reply> operator()(const messages::q::lrange& x) const {
    const list_value* l;
    if (!as(x.key, l))
      return wrong_type();
    std::vector<reply> out;
    if (auto range = l ? redis_range(x.start, x.stop, l->size()) : std::nullopt)
      for (size_t i = range->first; i <= range->second; ++i)
        out.push_back(reply::of((*l)[i]));
    return reply::of(std::move(out));
  }

  caf::expected<reply> operator()(const messages::q::llen& x) const {
    const list_value* l;
    if (!as(x.key, l))
      return wrong_type();
    return integer(l ? l->size() : 0);
  }

  caf::expected<reply> operator()(const messages::q::lindex& x) const {
    const list_value* l;
    if (!as(x.key, l))
      return wrong_type();
    auto i = l ? list_index(x.index, l->size()) : std::nullopt;
    return i ? reply::of((*l)[*i]) : reply::none();
  }

  caf::expected<reply> operator()(const messages::q::hget& x) const {
    const hash_value* h;
    if (!as(x.key, h))
      return wrong_type();
    if (!h)
      return reply::none();
    auto it = h->find(x.field);
    return it == h->end() ? reply::none() : reply::of(it->second);
  }

  caf::expected<reply> operator()(const messages::q::hgetall& x) const {
    const hash_value* h;
    if (!as(x.key, h))
      return wrong_type();
    std::vector<const hash_value::value_type*> fields;
    if (h)
      for (auto& kv : *h)
        fields.push_back(&kv);
    std::sort(fields.begin(), fields.end(),
              [](auto* a, auto* b) { return a->first < b->first; });
    std::vector<reply> out;
    out.reserve(fields.size() * 2);
    for (auto* kv : fields) {
      out.push_back(reply::of(kv->first));
      out.push_back(reply::of(kv->second));
    }
    return reply::of(std::move(out));
  }

  caf::expected<reply> operator()(const messages::q::hlen& x) const {
    const hash_value* h;
    if (!as(x.key, h))
      return wrong_type();
    return integer(h ? h->size() : 0);
  }

  caf::expected<reply> operator()(const messages::q::smembers& x) const {
    const set_value* s;
    if (!as(x.key, s))
      return wrong_type();
    std::vector<std::string> members;
    if (s)
      members.assign(s->begin(), s->end());
    std::sort(members.begin(), members.end());
    return strings(std::move(members));
  }

  caf::expected<reply> operator()(const messages::q::sismember& x) const {
    const set_value* s;
    if (!as(x.key, s))
      return wrong_type();
    return reply::of(int64_t{s && s->count(x.member) > 0});
  }

  caf::expected<reply> operator()(const messages::q::scard& x) const {
    const set_value* s;
    if (!as(x.key, s))
      return wrong_type();
    return integer(s ? s->size() : 0);
  }

  caf::expected<reply> operator()(const messages::q::zrange& x) const {
    const sorted_set* z;
    if (!as(x.key, z))
      return wrong_type();
    std::vector<reply> out;
    auto range = z ? redis_range(x.start, x.stop, z->size()) : std::nullopt;
    if (range) {
      auto it = std::next(z->by_score().begin(),
                          static_cast<ptrdiff_t>(range->first));
      for (size_t i = range->first; i <= range->second; ++i, ++it) {
        out.push_back(reply::of(it->second));
        if (x.withscores)
          out.push_back(reply::of(format_score(it->first)));
      }
    }
    return reply::of(std::move(out));
  }

  caf::expected<reply> operator()(const messages::q::zscore& x) const {
    const sorted_set* z;
    if (!as(x.key, z))
      return wrong_type();
    auto* score = z ? z->score(x.member) : nullptr;
    return score ? reply::of(format_score(*score)) : reply::none();
  }

  caf::expected<reply> operator()(const messages::q::zcard& x) const {
    const sorted_set* z;
    if (!as(x.key, z))
      return wrong_type();
    return integer(z ? z->size() : 0);
  }

  caf::expected<reply> operator()(const messages::q::dbsize&) const {
    return integer(self.dbsize(now));
  }

  caf::expected<reply> operator()(const messages::q::keys& x) const {
    std::vector<std::string> out;
    self.ks_.for_each([&](std::string_view key, const entry& e) {
      if (!self.expired(e, now) && glob_match(x.pattern, key))
        out.emplace_back(key);
    });
    std::sort(out.begin(), out.end());
    return strings(std::move(out));
  }

  /// SCAN without server-side state: keys are visited in the order of
  /// (scan_hash(key), key) and the cursor is the hash to continue from.
  /// A call takes the `count` keys with the smallest hashes >= cursor (plus
  /// every other key sharing the last hash, so a hash is never split across
  /// calls) and answers last hash + 1. Keys present for the whole scan have
  /// a fixed hash and the cursor only grows, so each is returned exactly
  /// once; keys added or removed meanwhile may or may not be. MATCH filters
  /// after the selection, so a call may return fewer keys than `count`
  /// (even none) with a non-zero cursor, as in Redis. Each call costs
  /// O(keys); the order looks random, like Redis's cursors.
  caf::expected<reply> operator()(const messages::q::scan& x) const {
    if (x.count == 0)
      return fail(persist_errc::syntax_error, "syntax error");
    std::vector<std::pair<uint64_t, std::string_view>> candidates;
    self.ks_.for_each([&](std::string_view key, const entry& e) {
      if (self.expired(e, now))
        return;
      auto h = scan_hash(key);
      if (h >= x.cursor)
        candidates.emplace_back(h, key);
    });
    uint64_t next = 0;
    if (candidates.size() > x.count) {
      auto nth = candidates.begin() + static_cast<ptrdiff_t>(x.count - 1);
      std::nth_element(candidates.begin(), nth, candidates.end());
      uint64_t last = nth->first;
      auto end = std::partition(candidates.begin(), candidates.end(),
                                [&](const auto& c) { return c.first <= last; });
      bool more = end != candidates.end();
      candidates.erase(end, candidates.end());
      // last + 1 cannot wrap: some candidate has a larger hash.
      next = more ? last + 1 : 0;
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) {
                return a.first != b.first ? a.first < b.first
                                          : a.second < b.second;
              });
    std::vector<std::string> keys;
    for (auto& c : candidates)
      if (glob_match(x.match, c.second))
        keys.emplace_back(c.second);
    std::vector<reply> out;
    out.push_back(reply::of(std::to_string(next)));
    out.push_back(strings(std::move(keys)));
    return reply::of(std::move(out));
  }
};

caf::expected<reply> shard_state::query(const messages::query& q,
                                        int64_t now_ms) const {
  return std::visit(reader{*this, now_ms}, q);
}

// -- expiry and state ---------------------------------------------------------

bool shard_state::expired(const entry& e, int64_t now_ms) noexcept {
  return e.has_deadline() && e.deadline_ms <= now_ms;
}

size_t shard_state::expire_sample(int64_t now_ms, size_t max_keys,
                                  std::vector<aof_record>& log) {
  if (ttl_keys_.empty() || max_keys == 0)
    return 0;
  // Like Redis's dictGetSomeKeys: walk the buckets of the deadline index
  // from a random one, at most 10 buckets per wanted key.
  std::vector<std::string> victims;
  const auto& ks = ks_; // looking must not unshare segments
  auto inspect = [&](const std::string& key) {
    auto* e = ks.find(key);
    if (e && expired(*e, now_ms))
      victims.push_back(key);
  };
  if (ttl_keys_.size() <= max_keys) {
    for (auto& key : ttl_keys_)
      inspect(key);
  } else {
    size_t buckets = ttl_keys_.bucket_count();
    size_t b = rng_() % buckets;
    size_t seen = 0;
    size_t max_steps = std::max<size_t>(max_keys * 10, 16);
    for (size_t step = 0; step < buckets && step < max_steps && seen < max_keys;
         ++step, b = (b + 1) % buckets)
      for (auto it = ttl_keys_.begin(b);
           it != ttl_keys_.end(b) && seen < max_keys; ++it, ++seen)
        inspect(*it);
  }
  writer w{*this, now_ms, 0, log};
  for (auto& key : victims) {
    w.remove(key);
    w.log_del(key);
  }
  return victims.size();
}

void shard_state::load(codec::keyspace&& ks) {
  ks_ = std::move(ks);
  ttl_keys_.clear();
  ks_.for_each([this](std::string_view key, const entry& e) {
    if (e.has_deadline())
      ttl_keys_.emplace(key);
  });
}

size_t shard_state::dbsize(int64_t now_ms) const {
  size_t expired_keys = 0;
  for (auto& key : ttl_keys_) {
    auto* e = ks_.find(key);
    expired_keys += e && expired(*e, now_ms);
  }
  return ks_.size() - expired_keys;
}

bool shard_state::consistent() const {
  size_t with_deadline = 0;
  bool ok = true;
  ks_.for_each([&](std::string_view key, const entry& e) {
    ok = ok && e.has_deadline() == (ttl_keys_.count(std::string{key}) > 0);
    with_deadline += e.has_deadline();
  });
  return ok && with_deadline == ttl_keys_.size();
}

} // namespace ember::actors
