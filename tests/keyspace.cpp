// Keyspace: copy-on-write views (freeze) keep a point-in-time state while the
// live keyspace changes, on one thread and across threads.
#define CAF_SUITE keyspace
#include "caf/test/unit_test_impl.hpp"

#include <random>
#include <string>
#include <thread>

#include "codec/keyspace.hpp"

using namespace ember::codec;

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
    auto* s = e ? std::get_if<std::string>(&e->val) : nullptr;
    if (!s || *s != std::to_string(i))
      return false;
  }
  size_t seen = 0;
  ks.for_each([&](const std::string&, const entry&) { ++seen; });
  return seen == ks.size();
}

} // namespace

CAF_TEST(a view keeps the state at freeze while the keyspace changes) {
  auto live = numbered(5000);
  auto view = live.freeze();
  CAF_CHECK(live.has_open_views());
  // Every kind of change on the live side.
  for (int i = 0; i < 5000; i += 3)
    *std::get_if<std::string>(&live.find(key_of(i))->val) = "changed";
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
  *std::get_if<std::string>(&view.find(key_of(3))->val) = "mine too";
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
