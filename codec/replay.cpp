#include "codec/replay.hpp"

#include "codec/list_ops.hpp"
#include "codec/string_ops.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>

#include "codec/format.hpp"

namespace ember::codec {

namespace {

constexpr int64_t i64_max = std::numeric_limits<int64_t>::max();
constexpr int64_t i64_min = std::numeric_limits<int64_t>::min();

/// Largest string SETRANGE/SETBIT may produce (Redis' 512 MiB limit). A
/// record asking for more can only come from a damaged-but-valid file, and
/// honouring it would mean a huge allocation.
constexpr uint64_t max_string_size = max_bytes_len;

// -- integers -----------------------------------------------------------------

int64_t saturating_add(int64_t a, int64_t b) noexcept {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out))
    return b > 0 ? i64_max : i64_min;
  return out;
}

int64_t saturating_neg(int64_t a) noexcept {
  return a == i64_min ? i64_max : -a;
}

/// |count| as an unsigned number; correct for i64::MIN.
uint64_t magnitude(int64_t count) noexcept {
  return count < 0 ? static_cast<uint64_t>(-(count + 1)) + 1
                   : static_cast<uint64_t>(count);
}

/// A list index with negative values counting from the end; nullopt when
/// out of range.
std::optional<size_t> resolve_index(int64_t index, size_t size) noexcept {
  auto len = static_cast<int64_t>(size);
  if (index < 0)
    index += len; // cannot overflow: len >= 0
  if (index < 0 || index >= len)
    return std::nullopt;
  return static_cast<size_t>(index);
}

// -- lookups ------------------------------------------------------------------

entry* lookup(keyspace& ks, const std::string& key) {
  return ks.find(key);
}

void drop_key(keyspace& ks, const std::string& key) {
  ks.erase(key);
}

// -- generic update helpers ---------------------------------------------------

template <class T>
bool is_empty(const T& v) {
  return v.empty();
}

bool is_empty(const vector_value& v) {
  return v.elements.empty();
}

/// Runs `f` on the value; `f` may return void (always applies) or bool
/// (false = a no-op worth counting).
template <class T, class F>
bool run(T& v, F& f) {
  if constexpr (std::is_void_v<decltype(f(v))>) {
    f(v);
    return true;
  } else {
    return f(v);
  }
}

/// Mutates the T at `key`, creating an empty one if the key is missing
/// (so LPUSH with zero values still creates the key, like the reference).
/// Another type at `key`: no-op, false.
template <class T, class F>
bool upsert(keyspace& ks, const std::string& key, F&& f) {
  T* v = ks.get_or_create<T>(key);
  return v && run(*v, f);
}

/// Mutates the T at `key` if present. A missing key is a plain no-op (true);
/// another type is a counted no-op (false).
template <class T, class F>
bool modify(keyspace& ks, const std::string& key, F&& f) {
  entry* e = lookup(ks, key);
  if (!e)
    return true;
  T* v = get_if<T>(&e->val);
  return v && run(*v, f);
}

/// Like modify, and removes the key when the value ends up empty (even an
/// empty collection loaded from a snapshot, as the reference does).
template <class T, class F>
bool shrink(keyspace& ks, const std::string& key, F&& f) {
  entry* e = lookup(ks, key);
  if (!e)
    return true;
  T* v = get_if<T>(&e->val);
  if (!v)
    return false;
  bool ok = run(*v, f);
  if (is_empty(*v))
    drop_key(ks, key);
  return ok;
}

/// Changes the deadline of an existing key of any type.
template <class F>
bool with_entry(keyspace& ks, const std::string& key, F&& f) {
  if (entry* e = lookup(ks, key))
    f(*e);
  return true;
}

/// INCR/DECR/INCRBY/DECRBY: a missing key starts at "0" without TTL; a
/// non-integer value or an overflow leaves the value unchanged. The TTL is
/// kept.
bool add_to_integer(keyspace& ks, const std::string& key, int64_t delta) {
  entry* e = lookup(ks, key);
  if (!e)
    e = &ks.put(key, entry{std::string{"0"}});
  auto* s = get_if<std::string>(&e->val);
  if (!s)
    return false;
  auto current = parse_i64(*s, int_syntax::reference);
  int64_t sum;
  if (!current || __builtin_add_overflow(*current, delta, &sum))
    return false;
  *s = std::to_string(sum);
  return true;
}

bool push(keyspace& ks, const std::string& key,
          const std::vector<std::string>& values, bool front) {
  return upsert<list_value>(ks, key, [&](list_value& l) {
    for (auto& v : values)
      front ? l.push_front(v) : l.push_back(v);
  });
}

bool pop(keyspace& ks, const std::string& key, bool front) {
  return shrink<list_value>(ks, key, [front](list_value& l) {
    if (!l.empty())
      front ? l.pop_front() : l.pop_back();
  });
}



// -- the records --------------------------------------------------------------

struct replayer {
  keyspace& ks;
  int64_t now;

  bool operator()(const rec::set& r) {
    return put_string(r.key, r.value, r.expire_ms);
  }
  bool operator()(rec::set&& r) {
    return put_string(r.key, std::move(r.value), r.expire_ms);
  }

  bool operator()(const rec::del& r) {
    drop_key(ks, r.key);
    return true;
  }

  bool operator()(const rec::expire& r) {
    if (r.seconds < 0) // readers reject it; never trust a hand-made record
      return false;
    int64_t ms;
    if (__builtin_mul_overflow(r.seconds, int64_t{1000}, &ms))
      ms = i64_max;
    return set_ttl(r.key, ms);
  }

  bool operator()(const rec::pexpire& r) {
    return r.milliseconds >= 0 && set_ttl(r.key, r.milliseconds);
  }

  bool operator()(const rec::pexpireat& r) {
    if (r.timestamp_ms < 0)
      return false;
    entry* e = lookup(ks, r.key);
    if (!e)
      return true;
    if (r.timestamp_ms <= now)
      drop_key(ks, r.key); // a deadline already past removes the key now
    else
      e->deadline_ms = r.timestamp_ms;
    return true;
  }

  bool operator()(const rec::persist& r) {
    return with_entry(ks, r.key,
                      [](entry& e) { e.deadline_ms = no_deadline; });
  }

  bool operator()(const rec::incr& r) {
    return add_to_integer(ks, r.key, 1);
  }
  bool operator()(const rec::decr& r) {
    return add_to_integer(ks, r.key, -1);
  }
  bool operator()(const rec::incrby& r) {
    return add_to_integer(ks, r.key, r.delta);
  }
  bool operator()(const rec::decrby& r) {
    return add_to_integer(ks, r.key, saturating_neg(r.delta));
  }

  bool operator()(const rec::append& r) {
    return upsert<std::string>(ks, r.key,
                               [&](std::string& s) { s += r.value; });
  }

  bool operator()(const rec::setrange& r) {
    if (r.offset < 0
        || static_cast<uint64_t>(r.offset) + r.value.size() > max_string_size)
      return false;
    auto offset = static_cast<size_t>(r.offset);
    return upsert<std::string>(ks, r.key, [&](std::string& s) {
      // Zero-pads up to offset even for an empty value, like the reference.
      if (s.size() < offset + r.value.size())
        s.resize(offset + r.value.size(), '\0');
      s.replace(offset, r.value.size(), r.value);
    });
  }

  bool operator()(const rec::setbit& r) {
    if (r.offset < 0 || static_cast<uint64_t>(r.offset) / 8 >= max_string_size)
      return false;
    auto byte = static_cast<size_t>(r.offset / 8);
    auto mask = static_cast<char>(1u << (7 - r.offset % 8));
    return upsert<std::string>(ks, r.key, [&](std::string& s) {
      if (s.size() <= byte)
        s.resize(byte + 1, '\0');
      // Only exactly 1 sets the bit; any other byte clears it (reference).
      if (r.value == 1)
        s[byte] = static_cast<char>(s[byte] | mask);
      else
        s[byte] = static_cast<char>(s[byte] & ~mask);
    });
  }

  bool operator()(const rec::bitop& r) {
    if (r.op > 3)
      return false;
    std::vector<std::string_view> sources;
    // NOT reads only its first source.
    size_t n = r.op == 3 ? std::min<size_t>(r.keys.size(), 1) : r.keys.size();
    sources.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const entry* e = lookup(ks, r.keys[i]);
      auto* s = e ? get_if<std::string>(&e->val) : nullptr;
      sources.emplace_back(s ? std::string_view{*s} : std::string_view{});
    }
    auto result = sources.empty() ? std::string{}
                                  : bit_operation(r.op, sources);
    // Overwrites any type; the destination never keeps a TTL.
    ks.put(r.dest, entry{std::move(result)});
    return true;
  }

  bool operator()(const rec::rename& r) {
    ks.rename(r.key, r.newkey); // a missing source changes nothing
    return true;
  }

  bool operator()(const rec::copy& r) {
    const entry* src = lookup(ks, r.source);
    if (!src || r.source == r.destination)
      return true;
    if (!r.replace && lookup(ks, r.destination))
      return true;
    ks.put(r.destination, *src); // the copy is made before the insert
    return true;
  }

  bool operator()(const rec::lpush& r) {
    return push(ks, r.key, r.values, true);
  }
  bool operator()(const rec::rpush& r) {
    return push(ks, r.key, r.values, false);
  }
  bool operator()(const rec::lpop& r) {
    return pop(ks, r.key, true);
  }
  bool operator()(const rec::rpop& r) {
    return pop(ks, r.key, false);
  }

  bool operator()(const rec::lset& r) {
    return modify<list_value>(ks, r.key, [&](list_value& l) {
      auto i = resolve_index(r.index, l.size());
      if (i)
        l[*i] = r.value;
      return i.has_value();
    });
  }

  bool operator()(const rec::ltrim& r) {
    // Redis index rules, computed in i64 so that a stop before the first
    // element stays negative (the reference panics there).
    return shrink<list_value>(ks, r.key, [&](list_value& l) {
      auto len = static_cast<int64_t>(l.size());
      int64_t start = r.start < 0 ? std::max<int64_t>(r.start + len, 0)
                                  : r.start;
      int64_t stop = r.stop < 0 ? r.stop + len : std::min(r.stop, len - 1);
      if (start > stop || start >= len) {
        l.clear();
        return;
      }
      l.erase(l.begin() + (stop + 1), l.end());
      l.erase(l.begin(), l.begin() + start);
    });
  }

  bool operator()(const rec::linsert& r) {
    return modify<list_value>(ks, r.key, [&](list_value& l) {
      auto pos = std::find(l.begin(), l.end(), r.pivot);
      if (pos != l.end())
        l.insert(r.before ? pos : pos + 1, r.value);
    });
  }

  bool operator()(const rec::lrem& r) {
    uint64_t limit = r.count == 0 ? std::numeric_limits<uint64_t>::max()
                                  : magnitude(r.count);
    return shrink<list_value>(ks, r.key, [&](list_value& l) {
      uint64_t removed = 0;
      if (r.count >= 0) {
        l.erase(remove_first_n(l.begin(), l.end(), r.value, limit, removed),
                l.end());
      } else {
        auto kept
          = remove_first_n(l.rbegin(), l.rend(), r.value, limit, removed);
        l.erase(l.begin(), kept.base());
      }
    });
  }

  bool operator()(const rec::zadd& r) {
    return upsert<sorted_set>(ks, r.key, [&](sorted_set& z) {
      for (auto& m : r.members)
        z.add(m.member, m.score);
    });
  }

  bool operator()(const rec::zrem& r) {
    return shrink<sorted_set>(ks, r.key, [&](sorted_set& z) {
      for (auto& m : r.members)
        z.remove(m);
    });
  }

  bool operator()(const rec::hset& r) {
    return upsert<hash_value>(ks, r.key, [&](hash_value& h) {
      for (auto& f : r.fields)
        h.insert_or_assign(f.field, f.value);
    });
  }

  bool operator()(const rec::hdel& r) {
    return shrink<hash_value>(ks, r.key, [&](hash_value& h) {
      for (auto& f : r.fields)
        h.erase(f);
    });
  }

  bool operator()(const rec::hincrby& r) {
    return upsert<hash_value>(ks, r.key, [&](hash_value& h) {
      // Unlike INCR: a missing or non-integer field counts as 0 and the
      // add saturates (reference behaviour).
      auto it = h.find(r.field);
      int64_t current = it == h.end() ? 0 : parse_i64(it->second, int_syntax::reference).value_or(0);
      h.insert_or_assign(r.field,
                         std::to_string(saturating_add(current, r.delta)));
    });
  }

  bool operator()(const rec::sadd& r) {
    return upsert<set_value>(ks, r.key, [&](set_value& s) {
      s.insert(r.members.begin(), r.members.end());
    });
  }

  bool operator()(const rec::srem& r) {
    return shrink<set_value>(ks, r.key, [&](set_value& s) {
      for (auto& m : r.members)
        s.erase(m);
    });
  }

  bool operator()(const rec::proto_set& r) {
    ks.put(r.key, entry{proto_value{r.type_name, r.data},
                        deadline_from_relative(now, r.expire_ms)});
    return true;
  }

  bool operator()(const rec::proto_register&) {
    return true; // schemas are not part of the keyspace
  }

  bool operator()(const rec::vadd& r) {
    entry* e = lookup(ks, r.key);
    if (!e) {
      vector_value v{r.metric,        r.quantization,
                     r.connectivity,  r.expansion_add,
                     static_cast<uint32_t>(r.vector.size()), {}};
      e = &ks.put(r.key, entry{std::move(v)});
    }
    auto* v = get_if<vector_value>(&e->val);
    // Another dimension cannot be stored in the set (one dim per set).
    if (!v || r.vector.size() != v->dim)
      return false;
    auto same_name = [&](const snap::vector_element& x) {
      return x.name == r.element;
    };
    auto it = std::find_if(v->elements.begin(), v->elements.end(), same_name);
    if (it != v->elements.end())
      it->vector = r.vector;
    else
      v->elements.push_back({r.element, r.vector});
    return true;
  }

  bool operator()(const rec::vrem& r) {
    return shrink<vector_value>(ks, r.key, [&](vector_value& v) {
      auto& els = v.elements;
      els.erase(std::remove_if(els.begin(), els.end(),
                               [&](const snap::vector_element& x) {
                                 return x.name == r.element;
                               }),
                els.end());
    });
  }

private:
  bool put_string(const std::string& key, std::string v, int64_t expire_ms) {
    ks.put(key, entry{std::move(v), deadline_from_relative(now, expire_ms)});
    return true;
  }

  bool set_ttl(const std::string& key, int64_t ms) {
    return with_entry(ks, key, [&](entry& e) {
      e.deadline_ms = deadline_from_relative(now, ms);
    });
  }
};

} // namespace

namespace {

bool count(bool ok, replay_stats* stats) {
  if (stats)
    ++(ok ? stats->applied : stats->skipped);
  return ok;
}

} // namespace

bool apply(keyspace& ks, const aof_record& r, int64_t now_ms,
           replay_stats* stats) {
  return count(std::visit(replayer{ks, now_ms}, r), stats);
}

bool apply(keyspace& ks, aof_record&& r, int64_t now_ms,
           replay_stats* stats) {
  return count(std::visit(replayer{ks, now_ms}, std::move(r)), stats);
}

} // namespace ember::codec
