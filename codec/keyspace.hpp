// keyspace.hpp: the in-memory model of one shard's data.
//
// Values: string, list, sorted set, hash, set, and the optional proto and
// vector kinds. Each key may carry a deadline (absolute unix ms). The model
// knows nothing of Redis commands or files; replay.hpp applies AOF records to
// it, and snapshot conversion lives next to the snapshot codec.
//
// Expiry is never applied implicitly: callers decide when "now" is
// (recovery drops expired keys once, at the end, like the reference; the
// shard actor expires lazily on access and by sampling).
//
// Not thread-safe; one owner (the shard actor).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "codec/snapshot_entry.hpp"

namespace ember::codec {

/// Strict weak order over doubles that also ranks NaN (by bit pattern after
/// all numbers), so NaN scores from old files cannot break the ordering.
struct score_order {
  bool operator()(const std::pair<double, std::string>& a,
                  const std::pair<double, std::string>& b) const noexcept;
};

/// A sorted set: member -> score, plus (score, member) order for ranges.
class sorted_set {
public:
  /// Adds or updates; true if the member is new.
  bool add(const std::string& member, double score);
  /// True if it was there.
  bool remove(const std::string& member);
  /// Score of a member, or nullptr.
  const double* score(const std::string& member) const;
  size_t size() const noexcept {
    return scores_.size();
  }
  bool empty() const noexcept {
    return scores_.empty();
  }
  /// (score, member) pairs in ascending order.
  const std::set<std::pair<double, std::string>, score_order>&
  by_score() const noexcept {
    return order_;
  }

  friend bool operator==(const sorted_set& a, const sorted_set& b);

private:
  std::unordered_map<std::string, double> scores_;
  std::set<std::pair<double, std::string>, score_order> order_;
};

struct proto_value {
  std::string type_name;
  std::string data;
  friend bool operator==(const proto_value& a, const proto_value& b) {
    return a.type_name == b.type_name && a.data == b.data;
  }
};

struct vector_value {
  uint8_t metric = 0;
  uint8_t quantization = 0;
  uint32_t connectivity = 0;
  uint32_t expansion_add = 0;
  uint32_t dim = 0;
  /// element name -> vector, in insertion order.
  std::vector<snap::vector_element> elements;
  friend bool operator==(const vector_value& a, const vector_value& b);
};

using list_value = std::deque<std::string>;
using hash_value = std::unordered_map<std::string, std::string>;
using set_value = std::unordered_set<std::string>;

/// Alternative index == snapshot type byte.
using value = std::variant<std::string, list_value, sorted_set, hash_value,
                           set_value, proto_value, vector_value>;

enum class value_type : uint8_t {
  string = 0,
  list = 1,
  sorted_set = 2,
  hash = 3,
  set = 4,
  proto = 5,
  vector = 6,
};

inline value_type type_of(const value& v) noexcept {
  return static_cast<value_type>(v.index());
}

inline constexpr int64_t no_deadline = -1;

struct entry {
  value val;
  int64_t deadline_ms = no_deadline; ///< absolute unix ms, or no_deadline

  bool has_deadline() const noexcept {
    return deadline_ms != no_deadline;
  }
  friend bool operator==(const entry& a, const entry& b) {
    return a.deadline_ms == b.deadline_ms && a.val == b.val;
  }
};

class keyspace {
public:
  using map_type = std::unordered_map<std::string, entry>;

  entry* find(std::string_view key);
  const entry* find(std::string_view key) const;

  /// Inserts or replaces.
  entry& put(std::string key, entry e);

  /// The entry for `key`, default-constructing a value of type T if the key
  /// is missing. Returns nullptr if the key holds another type.
  template <class T>
  T* get_or_create(const std::string& key) {
    auto [it, inserted] = map_.try_emplace(key);
    if (inserted)
      it->second.val.emplace<T>();
    return std::get_if<T>(&it->second.val);
  }

  /// True if the key existed.
  bool erase(std::string_view key);

  /// Removes every key whose deadline is <= now_ms; returns how many.
  size_t remove_expired(int64_t now_ms);

  size_t size() const noexcept {
    return map_.size();
  }
  bool empty() const noexcept {
    return map_.empty();
  }
  void clear() noexcept {
    map_.clear();
  }
  void reserve(size_t n) {
    map_.reserve(n);
  }

  const map_type& entries() const noexcept {
    return map_;
  }
  map_type& entries() noexcept {
    return map_;
  }

  /// Keys in byte order (for listings and tests).
  std::vector<std::string> sorted_keys() const;

  friend bool operator==(const keyspace& a, const keyspace& b) {
    return a.map_ == b.map_;
  }

private:
  map_type map_;
};

/// The deadline for a relative TTL captured at `now_ms`: no_deadline for a
/// negative `expire_ms`, else now_ms + expire_ms saturating at i64 max (0 =
/// already expired: deadline now_ms).
int64_t deadline_from_relative(int64_t now_ms, int64_t expire_ms) noexcept;

/// Converts a snapshot entry into a value; `now_ms` anchors its relative
/// expire_ms (negative = none, 0 = already expired => deadline now_ms).
entry to_entry(snapshot_entry&& e, int64_t now_ms);

/// Converts a keyspace entry into snapshot form with remaining ms at now_ms
/// (a deadline already reached gives 0).
snapshot_entry to_snapshot_entry(const std::string& key, const entry& e,
                                 int64_t now_ms);

/// Appends the v2 snapshot entry bytes for a keyspace entry directly (no
/// intermediate snapshot_entry; used by the snapshot hot path).
void encode_entry(std::string& out, const std::string& key, const entry& e,
                  int64_t now_ms);

/// Current unix time in ms (system clock).
int64_t unix_now_ms() noexcept;

} // namespace ember::codec
