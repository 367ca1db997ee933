// Keyspace: copy-on-write views (freeze) keep a point-in-time state while the
// live keyspace changes, on one thread and across threads.
#define CAF_SUITE keyspace
#include "caf/test/unit_test_impl.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "codec/byte_writer.hpp"
#include "codec/crc32.hpp"
#include "codec/fault_injection_file_system.hpp"
#include "codec/format.hpp"
#include "codec/keyspace.hpp"
#include "codec/recovery.hpp"
#include "codec/rewrite.hpp"
#include "tests/test_support.hpp"

using namespace ember::codec;
using ember::test::slurp;
using ember::test::temp_dir;

namespace {

std::string key_of(int i) {
  return "key:" + std::to_string(i);
}

keyspace numbered(int n) {
  keyspace ks;
  for (int i = 0; i < n; ++i)
    ks.put(key_of(i), entry{std::to_string(i)});
  return ks;
}

// Every key of `ks` holds its own number, and there are exactly n keys.
bool holds_numbers(const keyspace& ks, int n) {
  if (ks.size() != static_cast<size_t>(n))
    return false;
  for (int i = 0; i < n; ++i) {
    auto* e = ks.find(key_of(i));
    auto* s = e ? get_if<std::string>(&e->val) : nullptr;
    if (!s || *s != std::to_string(i))
      return false;
  }
  size_t seen = 0;
  ks.for_each([&](std::string_view, const entry&) { ++seen; });
  return seen == ks.size();
}

} // namespace

CAF_TEST(a view keeps the state at freeze while the keyspace changes) {
  auto live = numbered(5000);
  auto view = live.freeze();
  CAF_CHECK(live.has_open_views());
  // Every kind of change on the live side.
  for (int i = 0; i < 5000; i += 3)
    *get_if<std::string>(&live.find(key_of(i))->val) = "changed";
  for (int i = 1; i < 5000; i += 7)
    live.erase(key_of(i));
  live.rename(key_of(2), "renamed");
  live.put("new", entry{std::string{"value"}});
  live.get_or_create<list_value>("list")->push_back("x");
  live.put(key_of(5), entry{std::string{"ttl"}, 10});
  live.remove_expired(100);
  CAF_CHECK(holds_numbers(view, 5000));
  CAF_CHECK(live.find("renamed") != nullptr);
  CAF_CHECK(view.find("renamed") == nullptr);
  CAF_CHECK(live.find(key_of(5)) == nullptr);
}

CAF_TEST(changes to a view never reach the keyspace) {
  auto live = numbered(100);
  auto view = live.freeze();
  view.erase(key_of(1));
  view.put(key_of(2), entry{std::string{"mine"}});
  *get_if<std::string>(&view.find(key_of(3))->val) = "mine too";
  CAF_CHECK(holds_numbers(live, 100));
  // A view of a view shares the original storage: still copy-on-write.
  auto inner = view.freeze();
  view.erase(key_of(4));
  CAF_CHECK(inner.find(key_of(4)) != nullptr);
  CAF_CHECK(holds_numbers(live, 100));
}

CAF_TEST(writes work in place again once every view is gone) {
  auto live = numbered(100);
  {
    auto view = live.freeze();
    auto inner = view.freeze();
    CAF_CHECK(live.has_open_views());
    view = keyspace{}; // the inner view still holds the storage
    CAF_CHECK(live.has_open_views());
  }
  CAF_CHECK(!live.has_open_views());
  auto* before = live.find(key_of(7));
  auto* again = live.find(key_of(7));
  CAF_CHECK_EQUAL(before, again); // no clone: the same entry
}

CAF_TEST(prefetching keys changes nothing and clones nothing) {
  keyspace empty; // no segments yet
  empty.prefetch("anything");
  CAF_CHECK(empty.empty());
  CAF_CHECK(empty.find("anything") == nullptr);
  auto live = numbered(1000);
  auto* before = live.find(key_of(7));
  auto view = live.freeze();
  for (int i = 0; i < 2000; ++i) { // half present, half missing
    live.prefetch(key_of(i));
    view.prefetch(key_of(i));
  }
  CAF_CHECK(holds_numbers(live, 1000));
  CAF_CHECK(holds_numbers(view, 1000));
  CAF_CHECK(live.find(key_of(1500)) == nullptr);
  // A write after the prefetch still clones the shared segment (the
  // prefetch took nothing private): the view keeps its value.
  *get_if<std::string>(&live.find(key_of(7))->val) = "changed";
  CAF_CHECK(live.find(key_of(7)) != before);
  CAF_CHECK_EQUAL(*get_if<std::string>(&view.find(key_of(7))->val), "7");
}

CAF_TEST(segments move between keyspaces without copying) {
  auto ks = numbered(5'000);
  keyspace odd;
  CAF_REQUIRE(ks.move_segments_to(odd, 1, 2));
  CAF_CHECK_EQUAL(ks.size() + odd.size(), 5'000u);
  CAF_CHECK(ks.size() > 0u && odd.size() > 0u);
  for (int i = 0; i < 5'000; ++i) {
    auto k = key_of(i);
    bool in_odd = keyspace::segment_index(k) % 2 == 1;
    CAF_CHECK_EQUAL(ks.find(k) == nullptr, in_odd);
    CAF_CHECK_EQUAL(odd.find(k) != nullptr, in_odd);
  }
  // The moved segments are the new owner's: a write works in place.
  auto k = key_of(0);
  auto& owner = keyspace::segment_index(k) % 2 == 1 ? odd : ks;
  auto* before = owner.find(k);
  owner.put(k, entry{std::string{"0"}});
  CAF_CHECK_EQUAL(owner.find(k), before);
  // Back again: the whole keyspace as it was.
  CAF_REQUIRE(odd.move_segments_to(ks, 1, 2));
  CAF_CHECK(odd.empty());
  CAF_CHECK(holds_numbers(ks, 5'000));
  CAF_CHECK(ks == numbered(5'000));
  // Refused, with nothing moved: a target that holds keys in those
  // segments, an open view on either side, a view itself, a bad split.
  auto full = numbered(5'000);
  CAF_CHECK(!ks.move_segments_to(full, 1, 2));
  CAF_CHECK_EQUAL(ks.size(), 5'000u);
  CAF_CHECK_EQUAL(full.size(), 5'000u);
  keyspace empty;
  {
    auto view = ks.freeze();
    CAF_CHECK(!ks.move_segments_to(empty, 1, 2));
    CAF_CHECK(!view.move_segments_to(empty, 1, 2));
    auto other_view = empty.freeze();
    CAF_CHECK(!full.move_segments_to(empty, 1, 2));
  }
  CAF_CHECK(!ks.move_segments_to(empty, 2, 2));
  CAF_CHECK(!ks.move_segments_to(ks, 1, 2));
  CAF_CHECK(holds_numbers(ks, 5'000));
  CAF_CHECK(empty.empty());
  // Once the views are gone it moves again.
  CAF_CHECK(ks.move_segments_to(empty, 0, 2));
  CAF_CHECK_EQUAL(ks.size() + empty.size(), 5'000u);
}

CAF_TEST(a deep copy is independent and equal) {
  auto live = numbered(1000);
  keyspace copy = live;
  CAF_CHECK(copy == live);
  CAF_CHECK(!live.has_open_views());
  copy.erase(key_of(1));
  CAF_CHECK(holds_numbers(live, 1000));
  CAF_CHECK(!(copy == live));
  keyspace moved = std::move(copy);
  CAF_CHECK_EQUAL(moved.size(), 999u);
  CAF_CHECK(copy.empty());
}

// A snapshot thread reads its view while the owner keeps writing; under
// TSan this also proves the segments are never written while shared.
CAF_TEST(a view is read on another thread while the keyspace changes) {
  constexpr int n = 20000;
  auto live = numbered(n);
  for (int round = 0; round < 5; ++round) {
    auto view = live.freeze();
    bool view_ok = false;
    std::thread reader([&view_ok, v = std::move(view)]() mutable {
      view_ok = holds_numbers(v, n);
      v = keyspace{}; // released on this thread
    });
    std::minstd_rand rng(static_cast<unsigned>(round));
    for (int i = 0; i < 50000; ++i) {
      auto k = key_of(static_cast<int>(rng() % n));
      if (auto* e = live.find(k))
        e->deadline_ms = i; // a change that keeps the value
      live.put("extra:" + std::to_string(rng() % 1000), entry{std::string{}});
    }
    reader.join();
    CAF_CHECK(view_ok);
    for (int i = 0; i < 1000; ++i)
      live.erase("extra:" + std::to_string(i));
    for (int i = 0; i < n; ++i)
      live.find(key_of(i))->deadline_ms = no_deadline;
    CAF_CHECK(holds_numbers(live, n));
  }
}

CAF_TEST(strings encode as snapshot entries without the general path) {
  const int64_t now = 1'700'000'000'000;
  for (int64_t deadline : {no_deadline, now - 5, now, now + 12345}) {
    for (std::string value : {std::string{}, std::string{"v"},
                              std::string(300, '\xff')}) {
      entry e{value, deadline};
      std::string fast;
      encode_entry(fast, "some key", e, now);
      std::string general;
      encode_entry(general, to_snapshot_entry("some key", e, now));
      CAF_CHECK_EQUAL(fast, general);
    }
  }
}

CAF_TEST(keys of every length round-trip inline or on the heap) {
  keyspace ks;
  std::vector<std::string> keys;
  for (size_t len = 0; len <= 70; ++len)
    keys.push_back(std::string(len, static_cast<char>('a' + len % 26)));
  for (auto& k : keys)
    ks.put(k, entry{k + "!"});
  CAF_CHECK_EQUAL(ks.size(), keys.size());
  for (auto& k : keys) {
    auto* e = ks.find(k);
    CAF_REQUIRE(e != nullptr);
    CAF_CHECK_EQUAL(get<std::string>(e->val), k + "!");
  }
  // Renaming onto itself, and to a name taken from the keyspace's own key.
  std::string_view long_key;
  ks.for_each([&](std::string_view k, const entry&) {
    if (k.size() == 40)
      long_key = k;
  });
  CAF_CHECK(ks.rename(long_key, long_key));
  CAF_CHECK(ks.rename(keys[30], long_key));
  CAF_CHECK(ks.find(keys[30]) == nullptr);
  CAF_CHECK_EQUAL(get<std::string>(ks.find(keys[40])->val), keys[30] + "!");
  CAF_CHECK(ks.erase(keys[50]));
  CAF_CHECK(!ks.erase(keys[50]));
  CAF_CHECK_EQUAL(ks.size(), keys.size() - 2);
  auto sorted = ks.sorted_keys();
  CAF_CHECK(std::is_sorted(sorted.begin(), sorted.end()));
}

CAF_TEST(a small key copies deep and borrows without owning) {
  std::string text(40, 'x');
  auto borrowed = small_key::borrow(text);
  small_key owned = borrowed; // a copy owns its bytes
  text[0] = 'y';
  CAF_CHECK_EQUAL(borrowed.view()[0], 'y');
  CAF_CHECK_EQUAL(owned.view(), std::string(40, 'x'));
  small_key moved = std::move(owned);
  CAF_CHECK_EQUAL(moved.size(), 40u);
  CAF_CHECK(owned.view().empty());
  CAF_CHECK_EQUAL(small_key::hash{}(moved),
                  std::hash<std::string>{}(std::string(40, 'x')));
  moved = small_key{"short"};
  CAF_CHECK_EQUAL(moved.str(), "short");
}

CAF_TEST(boxed collections are copied when a frozen segment is cloned) {
  keyspace live;
  live.get_or_create<list_value>("list")->push_back("a");
  live.get_or_create<hash_value>("hash")->insert_or_assign("f", "1");
  live.get_or_create<sorted_set>("zset")->add("m", 1.0);
  auto view = live.freeze();
  get_if<list_value>(&live.find("list")->val)->push_back("b");
  get_if<hash_value>(&live.find("hash")->val)->insert_or_assign("f", "2");
  get_if<sorted_set>(&live.find("zset")->val)->add("m", 2.0);
  CAF_CHECK_EQUAL(get<list_value>(view.find("list")->val).size(), 1u);
  CAF_CHECK_EQUAL(get<hash_value>(view.find("hash")->val).at("f"), "1");
  CAF_CHECK_EQUAL(*get<sorted_set>(view.find("zset")->val).score("m"), 1.0);
  CAF_CHECK_EQUAL(get<list_value>(live.find("list")->val).size(), 2u);
  CAF_CHECK(!(view == live));
  // Another kind replaces the value; a moved-from value is an empty string.
  auto& e = *live.find("list");
  e.val = std::string{"now a string"};
  value taken = std::move(e.val);
  CAF_CHECK_EQUAL(get<std::string>(taken), "now a string");
  CAF_CHECK(get_if<std::string>(&e.val) && get<std::string>(e.val).empty());
}

// -- a keyspace written to a snapshot on two threads -------------------------

namespace {

// Big enough for add_keyspace's second thread (keyspace_snapshot.hpp), with
// the kinds that take the general encoder and with deadlines.
keyspace mixed(int n, int64_t now) {
  keyspace ks;
  for (int i = 0; i < n; ++i) {
    auto k = key_of(i);
    auto v = std::to_string(i);
    switch (i % 16) {
      case 0:
        ks.get_or_create<list_value>(k)->push_back(v);
        break;
      case 1:
        ks.get_or_create<hash_value>(k)->insert_or_assign("f", v);
        break;
      case 2:
        ks.get_or_create<sorted_set>(k)->add(v, i);
        break;
      case 3:
        ks.put(k, entry{std::string(static_cast<size_t>(i % 300), 'x'),
                        now + i});
        break;
      default:
        ks.put(k, entry{v});
    }
  }
  return ks;
}

// What one thread writes between a snapshot's header and its footer.
std::string entries_in_order(const keyspace& ks, int64_t now) {
  std::string out;
  ks.for_each([&](std::string_view k, const entry& e) {
    encode_entry(out, k, e, now);
  });
  return out;
}

} // namespace

CAF_TEST(a big keyspace is written by two threads as one thread writes it) {
  const int64_t now = 1'700'000'000'000;
  constexpr int n = 100'000;
  auto live = mixed(n, now);
  auto view = live.freeze();
  temp_dir dir;
  // The owner keeps writing meanwhile (under TSan: the walkers only read).
  std::thread owner([&live] {
    for (int i = 0; i < 20'000; ++i)
      live.put(key_of(i * 5), entry{std::string{"changed"}});
  });
  auto st = write_snapshot_tmp(posix_file_system(), dir.path(), 7, view, now,
                               nullptr);
  owner.join();
  CAF_REQUIRE(st);
  CAF_CHECK_EQUAL(st->entries, static_cast<uint64_t>(n));
  auto file = slurp(rewrite_paths::of(dir.path(), 7).snap_tmp);
  auto body_from = header_size + 2 + 4; // shard id, entry count
  CAF_REQUIRE(file.size() > body_from + 4);
  auto body = file.substr(body_from, file.size() - body_from - 4);
  auto expected = entries_in_order(view, now);
  CAF_CHECK(body == expected); // same bytes, same order
  CAF_CHECK_EQUAL(file.substr(file.size() - 4),
                  [&] {
                    std::string crc;
                    put_u32(crc, crc32(expected));
                    return crc;
                  }());
  std::string count;
  put_u32(count, static_cast<uint32_t>(n));
  CAF_CHECK_EQUAL(file.substr(header_size + 2, 4), count);
}

CAF_TEST(a write failing under the two-thread walk abandons the snapshot) {
  const int64_t now = 1'700'000'000'000;
  auto ks = mixed(100'000, now);
  for (uint64_t nth : {1, 2, 3}) {
    temp_dir dir;
    fault_injection_file_system ffs;
    ffs.fail(fault_op::write, nth);
    auto st = write_snapshot_tmp(ffs, dir.path(), 3, ks, now, nullptr);
    CAF_REQUIRE(!st);
    auto tmp = rewrite_paths::of(dir.path(), 3).snap_tmp;
    CAF_CHECK(st.err().message.find(tmp) != std::string::npos);
    CAF_CHECK(!*posix_file_system().exists(tmp));
  }
}

// -- node_table: the segment's hash table ------------------------------------

namespace {

// Hashes with few distinct values make long probe runs that wrap around the
// end of the slot array, the hard cases for removal by backward shift.
size_t crowded_hash(const std::string& key, size_t spread) {
  auto h = std::hash<std::string>{}(key);
  return spread == 0 ? h : (h % spread) * 0x9E3779B97F4A7C15ull % 64;
}

// Runs random inserts, replacements, removals, moves (extract + insert) and
// bulk removals on a node_table and a std::map side by side, checking after
// each step that lookups agree and that every value pointer handed out
// earlier still points at its key's value (nodes never move).
void model_check(size_t spread, uint32_t seed) {
  node_table<std::string> t;
  std::map<std::string, std::string> model;
  std::map<std::string, std::string*> pointers;
  std::mt19937 rng(seed);
  auto key = [&] { return "k" + std::to_string(rng() % 300); };
  for (int step = 0; step < 20000; ++step) {
    auto k = key();
    auto h = crowded_hash(k, spread);
    switch (rng() % 6) {
      case 0:
      case 1: {
        auto v = std::to_string(step);
        auto [p, inserted] = t.insert_or_assign(k, h, std::string{v});
        CAF_REQUIRE_EQUAL(inserted, model.count(k) == 0);
        model[k] = v;
        pointers[k] = p;
        break;
      }
      case 2: {
        auto [p, inserted] = t.try_emplace(k, h);
        CAF_REQUIRE_EQUAL(inserted, model.count(k) == 0);
        model[k]; // value-initialized, as the table's
        CAF_REQUIRE_EQUAL(*p, model[k]);
        pointers[k] = p;
        break;
      }
      case 3:
        CAF_REQUIRE_EQUAL(t.erase(k, h), model.erase(k) == 1);
        pointers.erase(k);
        break;
      case 4: { // rename k -> k2 as keyspace::rename does
        auto k2 = key();
        if (k2 == k || !model.count(k))
          break;
        auto h2 = crowded_hash(k2, spread);
        t.erase(k2, h2);
        model.erase(k2);
        pointers.erase(k2);
        auto n = t.extract(k, h);
        CAF_REQUIRE(n != nullptr);
        auto* p = &n->second;
        n->first = small_key{k2};
        t.insert(std::move(n), h2);
        model[k2] = model[k];
        model.erase(k);
        pointers.erase(k);
        pointers[k2] = p; // the node moved between keys, not in memory
        break;
      }
      default:
        if (rng() % 50 == 0) { // now and then drop a third of the keys
          auto due = [](const std::string& v) {
            return !v.empty() && v.back() % 3 == 0;
          };
          size_t expected = 0;
          for (auto it = model.begin(); it != model.end();) {
            if (due(it->second)) {
              pointers.erase(it->first);
              it = model.erase(it);
              ++expected;
            } else {
              ++it;
            }
          }
          CAF_REQUIRE_EQUAL(t.erase_if(due), expected);
        }
    }
    CAF_REQUIRE_EQUAL(t.size(), model.size());
    if (step % 97 == 0) {
      for (auto& [k2, v] : model) {
        auto* found = t.find(k2, crowded_hash(k2, spread));
        CAF_REQUIRE(found != nullptr);
        CAF_REQUIRE_EQUAL(*found, v);
        CAF_REQUIRE_EQUAL(found, pointers[k2]);
      }
      size_t seen = 0;
      t.for_each(
        [&](const small_key& k2, const std::string& v) {
          ++seen;
          CAF_REQUIRE_EQUAL(model.at(k2.str()), v);
        },
        [](const std::string&) {});
      CAF_REQUIRE_EQUAL(seen, model.size());
      auto copy = t; // deep: equal now, independent after
      for (auto& [k2, v] : model) {
        auto* c = copy.find(k2, crowded_hash(k2, spread));
        CAF_REQUIRE(c != nullptr && *c == v && c != pointers[k2]);
      }
    }
  }
}

} // namespace

CAF_TEST(node_table agrees with a map and never moves a node) {
  model_check(0, 1);      // real hashes
  model_check(40, 2);     // 40 distinct hashes: long runs
  model_check(3, 3);      // almost everything collides
}

CAF_TEST(node_table reserve keeps every key and pointer) {
  node_table<std::string> t;
  std::vector<std::string*> ptrs;
  for (int i = 0; i < 1000; ++i)
    ptrs.push_back(t.insert_or_assign(key_of(i), std::hash<std::string>{}(key_of(i)),
                                      std::to_string(i)).first);
  t.reserve(100000);
  for (int i = 0; i < 1000; ++i) {
    auto* v = t.find(key_of(i), std::hash<std::string>{}(key_of(i)));
    CAF_REQUIRE_EQUAL(v, ptrs[i]);
    CAF_CHECK_EQUAL(*v, std::to_string(i));
  }
  CAF_CHECK(t.find("missing", 12345) == nullptr);
}
