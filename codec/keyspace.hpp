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
// One owner at a time (the shard actor); views from keyspace::freeze() may
// be read on another thread (see keyspace).
#pragma once

#include <cstdint>
#include <deque>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "codec/box.hpp"
#include "codec/node_table.hpp"
#include "codec/small_key.hpp"
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

/// One key's value: a string, held in place (most keys hold one), or one of
/// the collection kinds, each held in a box so that they do not make every
/// entry as large as the largest of them. Reads like a std::variant of the
/// unboxed kinds: index() (== snapshot type byte), codec::get_if, get, visit.
class value {
  template <class T>
  static constexpr bool is_kind
    = std::is_same_v<T, std::string> || std::is_same_v<T, list_value>
      || std::is_same_v<T, sorted_set> || std::is_same_v<T, hash_value>
      || std::is_same_v<T, set_value> || std::is_same_v<T, proto_value>
      || std::is_same_v<T, vector_value>;

public:
  value() noexcept = default;

  /// From any of the kinds (implicit, as a std::variant's is).
  template <class T, class = std::enable_if_t<is_kind<std::decay_t<T>>>>
  value(T&& v) : v_(make(std::forward<T>(v))) {
  }

  value(const value&) = default;
  value& operator=(const value&) = default;
  /// The moved-from value is an empty string, never an empty box.
  value(value&& other) noexcept : v_(std::move(other.v_)) {
    other.v_.template emplace<0>();
  }
  value& operator=(value&& other) noexcept {
    if (this != &other) {
      v_ = std::move(other.v_);
      other.v_.template emplace<0>();
    }
    return *this;
  }

  size_t index() const noexcept {
    return v_.index();
  }

  template <class T>
  T* get_if() noexcept {
    return const_cast<T*>(std::as_const(*this).get_if<T>());
  }
  template <class T>
  const T* get_if() const noexcept {
    if constexpr (std::is_same_v<T, std::string>) {
      return std::get_if<std::string>(&v_);
    } else {
      auto* b = std::get_if<box<T>>(&v_);
      return b ? &**b : nullptr;
    }
  }

  /// Replaces the value with a T made from `args`.
  template <class T, class... Args>
  T& emplace(Args&&... args) {
    if constexpr (std::is_same_v<T, std::string>)
      return v_.template emplace<std::string>(std::forward<Args>(args)...);
    else
      return *v_.template emplace<box<T>>(std::in_place,
                                          std::forward<Args>(args)...);
  }

  /// f(kind&) with the unboxed kind, like std::visit.
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(
      [&](auto& alt) -> decltype(auto) { return f(unbox(alt)); }, v_);
  }
  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit(
      [&](const auto& alt) -> decltype(auto) { return f(unbox(alt)); }, v_);
  }

  friend bool operator==(const value& a, const value& b);
  friend bool operator!=(const value& a, const value& b) {
    return !(a == b);
  }

private:
  using storage
    = std::variant<std::string, box<list_value>, box<sorted_set>,
                   box<hash_value>, box<set_value>, box<proto_value>,
                   box<vector_value>>;

  template <class T>
  static storage make(T&& v) {
    using kind = std::decay_t<T>;
    if constexpr (std::is_same_v<kind, std::string>)
      return storage{std::in_place_type<std::string>, std::forward<T>(v)};
    else
      return storage{std::in_place_type<box<kind>>, std::in_place,
                     std::forward<T>(v)};
  }

  static std::string& unbox(std::string& s) noexcept {
    return s;
  }
  static const std::string& unbox(const std::string& s) noexcept {
    return s;
  }
  template <class T>
  static T& unbox(box<T>& b) noexcept {
    return *b;
  }
  template <class T>
  static const T& unbox(const box<T>& b) noexcept {
    return *b;
  }

  storage v_;
};

/// std::get_if, std::get and std::visit for a value.
template <class T>
T* get_if(value* v) noexcept {
  return v ? v->get_if<T>() : nullptr;
}
template <class T>
const T* get_if(const value* v) noexcept {
  return v ? v->get_if<T>() : nullptr;
}
template <class T>
T& get(value& v) {
  if (auto* p = v.get_if<T>())
    return *p;
  throw std::bad_variant_access{};
}
template <class T>
const T& get(const value& v) {
  if (auto* p = v.get_if<T>())
    return *p;
  throw std::bad_variant_access{};
}
template <class F>
decltype(auto) visit(F&& f, value& v) {
  return v.visit(std::forward<F>(f));
}
template <class F>
decltype(auto) visit(F&& f, const value& v) {
  return v.visit(std::forward<F>(f));
}

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

// What keeps a 1M-key shard in its memory budget (issue 6): a string-valued
// key's hash node (next, hash, key, entry) fits a 96-byte malloc chunk.
static_assert(sizeof(entry) <= 48, "keep the big kinds boxed");

/// The keys of one shard, with copy-on-write point-in-time views.
///
/// Storage is split into `segment_count` hash segments, each held by a
/// shared pointer. freeze() hands out a view that shares every segment and
/// costs O(segment_count), not O(keys): that is what lets a shard keep
/// serving while a snapshot of it is written. A segment shared with an open
/// view is never modified: the first write to it clones the segment (keys
/// and values, ~1/segment_count of the data) and works on the clone. Once
/// every view is gone, writes work in place again.
///
/// Confinement: a keyspace and each view are owned by one thread at a time
/// (the shard actor; the snapshot actor for a view). Views may be read and
/// destroyed on another thread than the keyspace they came from: shared
/// segments are only ever read, and a view's destruction is published with
/// release/acquire ordering before its segments count as private again.
class keyspace {
public:
  /// Keys inline up to 23 bytes; entries never move (see node_table).
  using map_type = node_table<entry>;

  /// Power of two. 1024 segments: freeze() copies 1024 pointers; the first
  /// write to a frozen segment copies about 1/1024 of the keys.
  static constexpr size_t segment_count = 1024;

  keyspace();
  /// A deep, independent copy (O(keys)); freeze() is the cheap way.
  keyspace(const keyspace& other);
  keyspace& operator=(const keyspace& other);
  keyspace(keyspace&& other) noexcept;
  keyspace& operator=(keyspace&& other) noexcept;
  ~keyspace();

  /// A read-only point-in-time view sharing this keyspace's storage:
  /// later writes to either side do not show in the other. O(segments).
  keyspace freeze();

  /// Whether some view taken by freeze() is still alive (tests, stats).
  bool has_open_views();

  const entry* find(std::string_view key) const;
  /// Loads into the cache the slot where a lookup of `key` starts. A
  /// caller about to touch many keys (a batch) calls this for all of them
  /// first, so that their cache misses overlap instead of coming one after
  /// the other (on 1M keys a SET of a new key spent ~40% of its time in
  /// that one miss). Changes nothing; callable wherever find() const is.
  void prefetch(std::string_view key) const noexcept;
  /// For writing: the entry is private to this keyspace (its segment is
  /// cloned first if a view shares it).
  entry* find(std::string_view key);

  /// The entry for `key`, value-initialized if missing; second: inserted.
  std::pair<entry*, bool> try_emplace(std::string_view key);

  /// Inserts or replaces.
  entry& put(std::string_view key, entry e);

  /// The entry for `key`, default-constructing a value of type T if the key
  /// is missing. Returns nullptr if the key holds another type.
  template <class T>
  T* get_or_create(std::string_view key) {
    auto [e, inserted] = try_emplace(key);
    if (inserted)
      e->val.emplace<T>();
    return e->val.get_if<T>();
  }

  /// True if the key existed.
  bool erase(std::string_view key);

  /// Moves `from`'s value and deadline to `to` (replacing what `to` held)
  /// without copying the value; false (and no change) if `from` is missing.
  bool rename(std::string_view from, std::string_view to);

  /// Removes every key whose deadline is <= now_ms; returns how many.
  size_t remove_expired(int64_t now_ms);

  size_t size() const noexcept {
    return size_;
  }
  bool empty() const noexcept {
    return size_ == 0;
  }
  /// Makes room for about `n` keys, so that loading them does not rehash
  /// (segments shared with a view are left alone).
  void reserve(size_t n);

  /// Drops every key (views keep theirs).
  void clear() noexcept;

  /// The segment that holds `key` (0 <= index < segment_count).
  static size_t segment_index(std::string_view key) noexcept;

  /// Moves to `to` the segments whose index i has i % parts == part, with
  /// their keys: O(segment_count), nothing is copied. This is how two
  /// threads fill one keyspace, each in a keyspace object of its own,
  /// with no shared state (split_replay.hpp). `to` must hold none of
  /// those segments, and neither side may be a view or have open views
  /// (a moved segment must be private to its new owner). Returns false,
  /// and moves nothing, when a condition does not hold.
  bool move_segments_to(keyspace& to, size_t part, size_t parts);

  /// Calls f(std::string_view key, const entry& e) for every key, in
  /// segment order (unspecified but stable while nothing changes). The key
  /// stays valid until the keyspace changes.
  template <class F>
  void for_each(F&& f) const {
    for_each_in_segments(0, segment_count, std::forward<F>(f));
  }

  /// for_each() restricted to the segments [first, last) (last <=
  /// segment_count): the walks of consecutive ranges, one after the other,
  /// visit what for_each() visits in the same order. Several threads may
  /// walk a keyspace that nothing modifies meanwhile (a view from freeze()).
  template <class F>
  void for_each_in_segments(size_t first, size_t last, F&& f) const {
    for (size_t i = first; i < last && i < segs_.size(); ++i)
      if (auto& seg = segs_[i])
        seg->map.for_each(
          [&](const small_key& k, const entry& e) { f(k.view(), e); },
          prefetch_value);
  }

  /// Keys in byte order (for listings and tests).
  std::vector<std::string> sorted_keys() const;

  friend bool operator==(const keyspace& a, const keyspace& b);

private:
  struct segment {
    map_type map;
    uint64_t epoch = 0; ///< the keyspace epoch that owns it privately
  };
  struct view_token; // closes a view's flag when its last holder goes

  static size_t hash_of(std::string_view key) noexcept;
  static size_t segment_of(size_t hash) noexcept;
  /// Asks for the heap block behind a value before for_each reads it.
  static void prefetch_value(const entry& e) noexcept;
  segment* seg_at(size_t index) const noexcept; ///< nullptr if none yet
  segment& writable(size_t index);
  void release() noexcept;

  std::vector<std::shared_ptr<segment>> segs_;
  size_t size_ = 0;
  uint64_t epoch_;      ///< unique per keyspace and per freeze()
  bool is_view_ = false; ///< all shared segments belong to someone else
  /// Live side: one flag per view handed out (true while it is alive).
  std::vector<std::shared_ptr<std::atomic<bool>>> views_;
  /// View side: held by this view (and views of it).
  std::shared_ptr<view_token> token_;
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
snapshot_entry to_snapshot_entry(std::string_view key, const entry& e,
                                 int64_t now_ms);

/// Appends the v2 snapshot entry bytes for a keyspace entry directly (no
/// intermediate snapshot_entry; used by the snapshot hot path).
void encode_entry(std::string& out, std::string_view key, const entry& e,
                  int64_t now_ms);

/// Current unix time in ms (system clock).
int64_t unix_now_ms() noexcept;

} // namespace ember::codec
