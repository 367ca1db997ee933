// node_table.hpp: the hash table of one keyspace segment.
//
// Open addressing over an array of slots {hash, owning node pointer}, linear
// probing, at most 3/4 full; each node holds a key and its value and never
// moves, so a V* stays valid until that key is erased (callers keep entry
// pointers across inserts of other keys).
//
// Why not std::unordered_map: a lookup there walks bucket -> previous node
// -> node, three dependent cache misses, and a missing key (every insert)
// pays them all. Here the full hash sits in the slot, so a lookup reads one
// run of adjacent slots and touches a node only when the hash matches: one
// miss for an insert, two for a hit. Iteration walks the slot array in
// order, so it can fetch nodes well ahead of use.
//
// Removal shifts later slots of the run back (no tombstones), so probe runs
// never grow from deletes. Not thread-safe; copies are deep.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/small_key.hpp"

namespace ember::codec {

template <class V>
class node_table {
public:
  struct node {
    small_key first;
    V second;
  };
  using node_ptr = std::unique_ptr<node>;

  node_table() = default;
  node_table(node_table&&) noexcept = default;
  node_table& operator=(node_table&&) noexcept = default;
  ~node_table() = default;

  /// Deep copy: same slots (so the same iteration order), new nodes.
  node_table(const node_table& other)
    : slots_(other.slots_.size()), size_(other.size_) {
    for (size_t i = 0; i < slots_.size(); ++i)
      if (auto& s = other.slots_[i]; s.ptr) {
        slots_[i].hash = s.hash;
        slots_[i].ptr = std::make_unique<node>(*s.ptr);
      }
  }
  node_table& operator=(const node_table& other) {
    if (this != &other)
      *this = node_table{other};
    return *this;
  }

  size_t size() const noexcept {
    return size_;
  }
  bool empty() const noexcept {
    return size_ == 0;
  }

  /// `hash` is always the key's hash (the caller computes it once).
  V* find(std::string_view key, size_t hash) const noexcept {
    if (size_ == 0)
      return nullptr;
    auto i = locate(key, hash);
    return slots_[i].ptr ? &slots_[i].ptr->second : nullptr;
  }

  /// Brings the first slot a lookup of `hash` reads into the cache (see
  /// keyspace::prefetch); changes nothing.
  void prefetch(size_t hash) const noexcept {
    if (slots_.empty())
      return;
    // A plain load the compiler must keep, not __builtin_prefetch: on this
    // KVM guest the prefetch instruction bought nothing (a lookup 330 ns
    // after it still paid the whole miss), while independent loads issued
    // together overlap their misses.
    auto h = slots_[hash & mask()].hash;
    asm volatile("" : : "r"(h));
  }

  /// The value for `key`, value-initialized if missing; second: inserted.
  std::pair<V*, bool> try_emplace(std::string_view key, size_t hash) {
    auto i = locate_for_insert(key, hash);
    if (slots_[i].ptr)
      return {&slots_[i].ptr->second, false};
    auto& n = occupy(i, hash, std::make_unique<node>(node{small_key{key}, V{}}));
    return {&n.second, true};
  }

  /// Inserts or replaces; second: inserted.
  std::pair<V*, bool> insert_or_assign(std::string_view key, size_t hash,
                                       V&& v) {
    auto i = locate_for_insert(key, hash);
    if (slots_[i].ptr) {
      slots_[i].ptr->second = std::move(v);
      return {&slots_[i].ptr->second, false};
    }
    auto& n = occupy(i, hash,
                     std::make_unique<node>(node{small_key{key}, std::move(v)}));
    return {&n.second, true};
  }

  /// Removes `key` and hands its node over (null if missing).
  node_ptr extract(std::string_view key, size_t hash) noexcept {
    if (size_ == 0)
      return nullptr;
    auto i = locate(key, hash);
    if (!slots_[i].ptr)
      return nullptr;
    auto n = std::move(slots_[i].ptr);
    vacate(i);
    return n;
  }

  /// Adds a node whose key is not in the table (from extract()).
  void insert(node_ptr n, size_t hash) {
    auto i = locate_for_insert(n->first.view(), hash);
    occupy(i, hash, std::move(n));
  }

  /// True if the key was there.
  bool erase(std::string_view key, size_t hash) noexcept {
    return extract(key, hash) != nullptr;
  }

  /// Removes every node for which pred(const V&) holds; returns how many.
  template <class Pred>
  size_t erase_if(Pred&& pred) {
    size_t removed = 0;
    for (size_t i = 0; i < slots_.size();) {
      if (slots_[i].ptr && pred(std::as_const(slots_[i].ptr->second))) {
        slots_[i].ptr.reset();
        vacate(i); // may pull a later node into i: look at i again
        ++removed;
      } else {
        ++i;
      }
    }
    return removed;
  }

  /// Whether pred(const V&) holds for some node.
  template <class Pred>
  bool any_of(Pred&& pred) const {
    for (auto& s : slots_)
      if (s.ptr && pred(std::as_const(s.ptr->second)))
        return true;
    return false;
  }

  /// Calls f(const small_key&, const V&) for every node in slot order.
  /// `ahead(const V&)` runs on the node a few steps before f reaches it,
  /// so that it can prefetch what f will read behind the value's pointers.
  template <class F, class Ahead>
  void for_each(F&& f, Ahead&& ahead) const {
    // Nodes are fetched `far` slots ahead, and their values' heap blocks
    // `near` slots ahead, once the node itself has had time to arrive.
    constexpr size_t far = 16;
    constexpr size_t near = 8;
    auto n = slots_.size();
    for (size_t i = 0; i < n; ++i) {
      if (i + far < n && slots_[i + far].ptr)
        __builtin_prefetch(slots_[i + far].ptr.get());
      if (i + near < n && slots_[i + near].ptr)
        ahead(std::as_const(slots_[i + near].ptr->second));
      if (auto& s = slots_[i]; s.ptr)
        f(std::as_const(s.ptr->first), std::as_const(s.ptr->second));
    }
  }

  /// Room for `n` keys without growing.
  void reserve(size_t n) {
    auto want = capacity_for(n);
    if (want > slots_.size())
      rehash(want);
  }

private:
  struct slot {
    size_t hash = 0;
    node_ptr ptr; ///< null: free
  };

  static size_t capacity_for(size_t n) noexcept {
    size_t cap = 8;
    while (cap - cap / 4 < n) // at most 3/4 full
      cap *= 2;
    return cap;
  }

  size_t mask() const noexcept {
    return slots_.size() - 1;
  }

  /// The slot holding `key`, or the free slot ending its probe run. The
  /// table is never full, so the run ends.
  size_t locate(std::string_view key, size_t hash) const noexcept {
    auto m = mask();
    for (auto i = hash & m;; i = (i + 1) & m) {
      auto& s = slots_[i];
      if (!s.ptr || (s.hash == hash && s.ptr->first.view() == key))
        return i;
    }
  }

  node& occupy(size_t i, size_t hash, node_ptr n) noexcept {
    slots_[i].hash = hash;
    slots_[i].ptr = std::move(n);
    ++size_;
    return *slots_[i].ptr;
  }

  /// Slot i was just emptied: shift back every later slot of its run that
  /// may live there (its home is not in the cyclic range (i, j]).
  void vacate(size_t i) noexcept {
    --size_;
    auto m = mask();
    for (auto j = (i + 1) & m; slots_[j].ptr; j = (j + 1) & m) {
      auto home = slots_[j].hash & m;
      bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays)
        continue;
      slots_[i] = std::move(slots_[j]);
      i = j;
    }
  }

  /// Like locate(), but where the key is missing and one more node would
  /// make the table more than 3/4 full, grows it first (so a replacement
  /// never rehashes).
  size_t locate_for_insert(std::string_view key, size_t hash) {
    if (slots_.empty())
      rehash(capacity_for(1));
    auto i = locate(key, hash);
    if (slots_[i].ptr || size_ + 1 <= slots_.size() - slots_.size() / 4)
      return i;
    rehash(capacity_for(size_ + 1));
    return locate(key, hash);
  }

  void rehash(size_t cap) {
    std::vector<slot> old(cap);
    old.swap(slots_);
    auto m = mask();
    for (auto& s : old) {
      if (!s.ptr)
        continue;
      auto i = s.hash & m;
      while (slots_[i].ptr)
        i = (i + 1) & m;
      slots_[i] = std::move(s);
    }
  }

  std::vector<slot> slots_;
  size_t size_ = 0;
};

} // namespace ember::codec
