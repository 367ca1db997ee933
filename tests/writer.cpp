// Writer actor: group commit, acknowledgements only after the covering
// fsync, everysec and no policies, and failure replies (never silence).
// Deterministic: CAF's test coordinator runs every actor, the syncer too.
#define CAF_SUITE writer
#include "caf/test/dsl.hpp"
#include "caf/test/unit_test_impl.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "actors/writer_actor.hpp"
#include "codec/aof_reader.hpp"
#include "codec/fault_injection_file_system.hpp"
#include "messages/persist_error.hpp"
#include "tests/actor_test_config.hpp"
#include "tests/test_support.hpp"

using namespace ember;
using namespace ember::messages;

namespace {

using config = test::actor_config;

struct ack_log {
  std::vector<std::pair<std::string, uint64_t>> acked; // key, offset
  std::vector<caf::error> errors;
  // fsyncs the file system had seen when each ack arrived
  std::vector<uint64_t> syncs_at_ack;
  // Each batch's durable callback (messages::record_batch::acks): the
  // outcome it ran with and the fsyncs seen then.
  std::vector<caf::error> callback_errors;
  std::vector<uint64_t> syncs_at_callback;
};

// Sends `n` SETs one after the other, each after the previous one's ack.
caf::behavior producer(caf::event_based_actor* self, writer_actor w, int id,
                       int n, std::shared_ptr<ack_log> log,
                       codec::fault_injection_file_system* fs) {
  auto send_next = std::make_shared<std::function<void(int)>>();
  // The function must not own itself (a leak); pending replies own it.
  std::weak_ptr<std::function<void(int)>> weak_next = send_next;
  *send_next = [=](int i) {
    auto again = weak_next.lock();
    if (i == n) {
      self->quit();
      return;
    }
    auto key = "p" + std::to_string(id) + ":" + std::to_string(i);
    auto acks = std::make_shared<std::vector<durable_callback>>();
    acks->push_back(
      [=](const caf::error& err, caf::execution_unit* ctx) {
        CAF_CHECK(ctx != nullptr);
        log->callback_errors.push_back(err);
        log->syncs_at_callback.push_back(fs->count(codec::fault_op::sync));
      });
    record_batch b{{codec::rec::set{key, "v", -1}}, acks};
    self->request(w, caf::infinite, append_atom::value, std::move(b))
      .then(
        [=](uint64_t offset) {
          log->acked.emplace_back(key, offset);
          log->syncs_at_ack.push_back(fs->count(codec::fault_op::sync));
          (*again)(i + 1);
        },
        [=](caf::error& err) {
          log->errors.push_back(err);
          self->quit();
        });
  };
  (*send_next)(0);
  return {[](int) {}};
}

struct fixture : test_coordinator_fixture<config> {
  test::temp_dir dir;
  codec::fault_injection_file_system fs;
  std::string path = dir.file("shard-0.aof");

  std::vector<writer_actor> writers;

  ~fixture() override {
    for (auto& w : writers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    run();
  }

  /// Sends a request from the test's scoped actor and returns the reply
  /// (run(): timers fire too).
  template <class T, class Handle, class... Ts>
  T ask(const Handle& h, Ts... xs) {
    return ask_with<T>([this] { run(); }, h, xs...);
  }

  /// ask(), delivering messages only: no timer fires, so a group-commit
  /// hold stays armed.
  template <class T, class Handle, class... Ts>
  T ask_messages_only(const Handle& h, Ts... xs) {
    return ask_with<T>([this] { sched.run(); }, h, xs...);
  }

  template <class T, class Run, class Handle, class... Ts>
  T ask_with(Run run_it, const Handle& h, Ts... xs) {
    auto pending = self->request(h, caf::infinite, xs...);
    run_it();
    T result{};
    pending.receive([&](T& x) { result = std::move(x); },
                    [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    return result;
  }

  // Appends sent by the test, one SET each, not yet acknowledged.
  using pending_append = decltype(std::declval<caf::scoped_actor&>()->request(
    std::declval<writer_actor&>(), caf::infinite, append_atom::value,
    record_batch{}));
  std::vector<pending_append> appends;
  std::vector<std::string> appended_keys;

  /// Sends `n` single-SET appends to `w`, then delivers messages only.
  void append(const writer_actor& w, int n) {
    for (int i = 0; i < n; ++i) {
      appended_keys.push_back("k" + std::to_string(appended_keys.size()));
      appends.push_back(self->request(
        w, caf::infinite, append_atom::value,
        record_batch{{codec::rec::set{appended_keys.back(), "v", -1}}, {}}));
    }
    sched.run();
  }

  /// The offsets the appends sent so far were acknowledged with (any
  /// error fails the test); forgets them.
  std::vector<uint64_t> take_acks() {
    std::vector<uint64_t> offsets;
    for (auto& p : appends)
      p.receive([&](uint64_t offset) { offsets.push_back(offset); },
                [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    appends.clear();
    return offsets;
  }

  writer_actor start(fsync_policy policy,
                     std::chrono::microseconds group_commit_wait = {}) {
    auto w = codec::aof_writer::open(fs, path);
    if (!w)
      CAF_FAIL(w.err().message);
    actors::writer_config cfg;
    cfg.aof = std::make_shared<codec::aof_writer>(std::move(*w));
    cfg.policy = policy;
    cfg.detached_io = false;
    cfg.group_commit_wait = group_commit_wait;
    auto h = actors::spawn_writer(sys, std::move(cfg));
    writers.push_back(h);
    run();
    return h;
  }

  std::set<std::string> keys_on_disk() {
    std::set<std::string> keys;
    auto r = codec::aof_reader::open(fs, path);
    if (!r)
      CAF_FAIL(r.err().message);
    codec::aof_record rec;
    while (r->next(rec))
      keys.emplace(codec::primary_key(rec));
    return keys;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(writer_tests, fixture)

CAF_TEST(always is group commit with no ack before its fsync) {
  auto w = start(fsync_policy::always);
  auto log = std::make_shared<ack_log>();
  auto syncs_before = fs.count(codec::fault_op::sync);
  auto writes_before = fs.count(codec::fault_op::write);
  constexpr int producers = 64;
  constexpr int each = 10;
  for (int p = 0; p < producers; ++p)
    sys.spawn(producer, w, p, each, log, &fs);
  run();
  CAF_REQUIRE_EQUAL(log->acked.size(), size_t{producers * each});
  CAF_CHECK(log->errors.empty());
  auto syncs = fs.count(codec::fault_op::sync) - syncs_before;
  auto writes = fs.count(codec::fault_op::write) - writes_before;
  CAF_MESSAGE(producers * each << " records, " << writes << " writes, "
                               << syncs << " fsyncs");
  CAF_CHECK(syncs <= 2 * each);         // one per round of 64, not per record
  CAF_CHECK(syncs * 20 < producers * each);
  // A batch is written when its fsync starts: one write(2) per fsync.
  CAF_CHECK_EQUAL(writes, syncs);
  CAF_CHECK_EQUAL(ask<writer_stats>(w, stats_atom::value).batches, writes);
  for (auto n : log->syncs_at_ack)
    CAF_CHECK(n > syncs_before);
  // The writer ran each batch's callback once, after the fsync.
  CAF_REQUIRE_EQUAL(log->syncs_at_callback.size(), log->acked.size());
  for (size_t i = 0; i < log->acked.size(); ++i) {
    CAF_CHECK(!log->callback_errors[i]);
    CAF_CHECK(log->syncs_at_callback[i] > syncs_before);
  }
  // Acknowledged means durable: a power cut now loses none of them.
  CAF_REQUIRE(fs.crash());
  auto on_disk = keys_on_disk();
  for (auto& [key, offset] : log->acked)
    CAF_CHECK(on_disk.count(key) == 1);
}

CAF_TEST(always holds an fsync back until its batch is whole again) {
  auto w = start(fsync_policy::always, std::chrono::seconds(1));
  // append() delivers messages only: the fixture's run() also fires timers.
  auto append = [&](int n) { this->append(w, n); };
  auto acked = [&] { return take_acks().size(); };
  auto syncs = [&] { return fs.count(codec::fault_op::sync); };
  auto before = syncs();
  append(8); // the first batch: nothing to wait for
  CAF_CHECK_EQUAL(syncs(), before + 1);
  CAF_CHECK_EQUAL(acked(), 8u);
  // Three of the eight come back: held for the other five.
  append(3);
  CAF_CHECK_EQUAL(syncs(), before + 1);
  append(5); // whole again: one fsync for all eight
  CAF_CHECK_EQUAL(syncs(), before + 2);
  CAF_CHECK_EQUAL(acked(), 8u);
  // Only two come back: the hold runs out and they go alone.
  append(2);
  CAF_CHECK_EQUAL(syncs(), before + 2);
  sched.trigger_timeouts();
  sched.run();
  CAF_CHECK_EQUAL(syncs(), before + 3);
  CAF_CHECK_EQUAL(acked(), 2u);
  // The batch is two now: two arrive, no hold.
  append(2);
  CAF_CHECK_EQUAL(syncs(), before + 4);
  CAF_CHECK_EQUAL(acked(), 2u);
}

CAF_TEST(always writes what waits for an fsync when that fsync starts) {
  // A long hold keeps the second batch waiting: sched.run() delivers
  // messages only, it fires no timer.
  auto w = start(fsync_policy::always, std::chrono::seconds(1));
  auto append = [&](int n) { this->append(w, n); };
  auto last_ack = [&] {
    auto offsets = take_acks();
    return offsets.empty() ? 0 : *std::max_element(offsets.begin(),
                                                     offsets.end());
  };
  auto stats = [&] {
    return ask_messages_only<writer_stats>(w, stats_atom::value);
  };
  auto writes = [&] { return fs.count(codec::fault_op::write); };
  auto syncs = [&] { return fs.count(codec::fault_op::sync); };
  append(4); // the first batch: written and fsynced at once
  auto w0 = writes();
  auto s0 = syncs();
  last_ack();
  // One of the four comes back: held for the others, and not written
  // (nothing could acknowledge it before its fsync anyway).
  append(1);
  CAF_CHECK_EQUAL(writes(), w0);
  CAF_CHECK_EQUAL(syncs(), s0);
  CAF_CHECK(stats().pending_bytes > 0);
  // An explicit sync ends the hold and covers it, with one write(2).
  append(1);
  auto covered = self->request(w, caf::infinite, sync_atom::value);
  sched.run();
  CAF_CHECK_EQUAL(writes(), w0 + 1);
  CAF_CHECK_EQUAL(syncs(), s0 + 1);
  auto last = last_ack();
  covered.receive([&](uint64_t offset) { CAF_CHECK_EQUAL(offset, last); },
                  [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  auto after = stats();
  CAF_CHECK_EQUAL(after.pending_bytes, 0u);
  CAF_CHECK_EQUAL(after.unsynced_bytes, 0u);
  CAF_REQUIRE(fs.crash());
  CAF_CHECK_EQUAL(keys_on_disk(), (std::set<std::string>{
                                    appended_keys.begin(), appended_keys.end()}));
}

CAF_TEST(everysec and no acknowledge once written and count delayed fsyncs) {
  auto w = start(fsync_policy::everysec);
  auto log = std::make_shared<ack_log>();
  auto syncs_before = fs.count(codec::fault_op::sync);
  sys.spawn(producer, w, 0, 5, log, &fs);
  run();
  CAF_CHECK_EQUAL(log->acked.size(), 5u);
  CAF_CHECK_EQUAL(fs.count(codec::fault_op::sync), syncs_before);
  // Each callback ran once written, with no fsync.
  CAF_CHECK_EQUAL(log->callback_errors.size(), 5u);
  for (size_t i = 0; i < log->callback_errors.size(); ++i) {
    CAF_CHECK(!log->callback_errors[i]);
    CAF_CHECK_EQUAL(log->syncs_at_callback[i], syncs_before);
  }
  // A tick fsyncs; a tick while that fsync is still running is delayed.
  self->send(w, tick_atom::value);
  self->send(w, tick_atom::value);
  sched.run_once(); // first tick: the fsync request goes to the syncer
  sched.run_once(); // the second tick, while the fsync runs
  run();
  CAF_CHECK_EQUAL(fs.count(codec::fault_op::sync), syncs_before + 1);
  auto stats = ask<writer_stats>(w, stats_atom::value);
  CAF_CHECK_EQUAL(stats.delayed_fsyncs, 1u);
  CAF_CHECK_EQUAL(stats.records_written, 5u);
  CAF_CHECK_EQUAL(stats.unsynced_bytes, 0u);
}

CAF_TEST(no never fsyncs unless asked) {
  auto w = start(fsync_policy::no);
  auto log = std::make_shared<ack_log>();
  auto syncs_before = fs.count(codec::fault_op::sync);
  sys.spawn(producer, w, 0, 5, log, &fs);
  self->send(w, tick_atom::value);
  run();
  CAF_CHECK_EQUAL(log->acked.size(), 5u);
  CAF_CHECK_EQUAL(fs.count(codec::fault_op::sync), syncs_before);
  auto durable = ask<uint64_t>(w, sync_atom::value);
  CAF_CHECK_EQUAL(fs.count(codec::fault_op::sync), syncs_before + 1);
  CAF_CHECK_EQUAL(durable, log->acked.back().second);
}

CAF_TEST(a failed fsync fails every waiting request and stops the writer) {
  auto w = start(fsync_policy::always);
  auto log = std::make_shared<ack_log>();
  fs.fail(codec::fault_op::sync, 1, EIO);
  for (int p = 0; p < 8; ++p)
    sys.spawn(producer, w, p, 3, log, &fs);
  run();
  CAF_CHECK(log->acked.empty());
  CAF_REQUIRE_EQUAL(log->errors.size(), 8u);
  for (auto& err : log->errors)
    CAF_CHECK(persist_code(err) == persist_errc::io_error);
  // The callbacks, too, ran once each, with the error.
  CAF_REQUIRE_EQUAL(log->callback_errors.size(), 8u);
  for (auto& err : log->callback_errors)
    CAF_CHECK(persist_code(err) == persist_errc::io_error);
  // The writer is gone: later requests fail too, never hang.
  auto late = std::make_shared<ack_log>();
  sys.spawn(producer, w, 99, 1, late, &fs);
  run();
  CAF_CHECK_EQUAL(late->errors.size(), 1u);
  // A batch that never reached a writer keeps its callbacks: its sender
  // runs them (the shard does, see tests/shard_actor.cpp).
  CAF_CHECK(late->callback_errors.empty());
}

CAF_TEST(a failed write fails every waiting request) {
  auto w = start(fsync_policy::everysec);
  auto log = std::make_shared<ack_log>();
  fs.fail(codec::fault_op::write, 1, ENOSPC);
  for (int p = 0; p < 4; ++p)
    sys.spawn(producer, w, p, 2, log, &fs);
  run();
  CAF_CHECK(log->acked.empty());
  CAF_CHECK_EQUAL(log->errors.size(), 4u);
  CAF_REQUIRE_EQUAL(log->callback_errors.size(), 4u);
  for (auto& err : log->callback_errors)
    CAF_CHECK(persist_code(err) == persist_errc::io_error);
}

CAF_TEST_FIXTURE_SCOPE_END()
