// Shard actor and supervisor, deterministic (CAF's test coordinator):
// replies only after durability, writer failures restart the writer with
// no silent request, the restart intensity fails the shard, and everything
// acknowledged is on disk.
#define CAF_SUITE shard_actor
#include "caf/test/dsl.hpp"
#include "caf/test/unit_test_impl.hpp"

#include "actors/shard_files.hpp"
#include "actors/supervisor.hpp"
#include "codec/fault_injection_file_system.hpp"
#include "codec/recovery.hpp"
#include "codec/snapshot_reader.hpp"

#include <cstdlib>
#include <filesystem>
#include <thread>
#include <map>
#include <set>
#include "messages/persist_error.hpp"
#include "tests/actor_test_config.hpp"
#include "tests/test_support.hpp"

using namespace ember;
using namespace ember::messages;
namespace rec = ember::codec::rec;

namespace {

using config = test::actor_config;

// The shard and supervisor run periodic timers, so the fixture's run()
// (which also fires timeouts) would never end: `drain` only delivers
// messages; tests fire timers explicitly.
struct fixture : test_coordinator_fixture<config> {
  void drain() {
    sched.run();
  }

  test::temp_dir dir;
  codec::fault_injection_file_system fs;
  actors::supervisor_actor sup;
  shard_actor shard;

  ~fixture() override {
    if (sup)
      caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    drain();
  }

  actors::shard_options options(fsync_policy policy) {
    actors::shard_options o;
    o.data_dir = dir.path();
    o.shard_id = 0;
    o.fsync = policy;
    o.fs = &fs;
    o.detached_io = false;
    o.max_restarts = 2;
    // drain() runs messages, not timers: no group-commit hold (its own
    // deterministic test is in tests/writer.cpp; power_loss runs with it).
    o.group_commit_wait = std::chrono::microseconds{0};
    return o;
  }

  void start(actors::shard_options o) {
    auto s = actors::start_supervisor(sys, {o});
    if (!s)
      CAF_FAIL(sys.render(s.error()));
    sup = *s;
    drain();
    shard = ask<shard_actor>(sup, shard_atom::value, uint16_t{0});
  }

  template <class T, class Handle, class... Ts>
  T ask(const Handle& h, Ts... xs) {
    auto pending = self->request(h, caf::infinite, xs...);
    drain();
    T result{};
    pending.receive([&](T& x) { result = std::move(x); },
                    [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    return result;
  }

  // Sends a mutation and returns the reply or the error.
  caf::expected<reply> write(codec::aof_record r, uint8_t flags = 0) {
    auto pending = self->request(shard, caf::infinite, mutation{r, flags});
    drain();
    caf::expected<reply> out{caf::error{}};
    pending.receive([&](reply& x) { out = std::move(x); },
                    [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  reply read(query q) {
    return ask<reply>(shard, read_request{std::move(q)});
  }

  codec::keyspace recovered() {
    auto r = codec::recover_shard(fs, dir.path(), 0, {});
    CAF_REQUIRE(r.ok());
    return std::move(r).value().data;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(shard_actor_tests, fixture)

CAF_TEST(writes are acknowledged once durable and read back) {
  start(options(fsync_policy::always));
  auto r = write(rec::set{"k", "v", -1});
  CAF_REQUIRE(r);
  CAF_CHECK(*r == reply::ok());
  // The writer sends the replies, as the shard: clients never see the
  // writer (which takes records without applying them).
  auto pending = self->request(shard, caf::infinite,
                               mutation{rec::set{"k", "v2", -1}, 0});
  drain();
  caf::strong_actor_ptr from;
  pending.receive([&](reply&) { from = self->current_sender(); },
                  [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK(from == caf::actor_cast<caf::strong_actor_ptr>(shard));
  CAF_CHECK(*write(rec::incr{"n"}) == reply::of(int64_t{1}));
  CAF_CHECK(*write(rec::rpush{"l", {"a", "b"}}) == reply::of(int64_t{2}));
  CAF_CHECK(read(q::get{"k"}) == reply::of(std::string{"v2"}));
  CAF_CHECK(read(q::llen{"l"}) == reply::of(int64_t{2}));
  // A wrong-type write is an error that changes and logs nothing.
  auto bad = write(rec::incr{"l"});
  CAF_REQUIRE(!bad);
  CAF_CHECK(persist_code(bad.error()) == persist_errc::wrong_type);
  // Acknowledged under `always` = survives a power cut.
  CAF_REQUIRE(fs.crash());
  auto ks = recovered();
  CAF_CHECK_EQUAL(ks.size(), 3u);
  CAF_CHECK(codec::get<std::string>(ks.find("n")->val) == "1");
}

CAF_TEST(a failed fsync fails the write and the writer is restarted) {
  start(options(fsync_policy::always));
  CAF_REQUIRE(write(rec::set{"before", "1", -1}));
  fs.fail(codec::fault_op::sync, 1, EIO);
  auto failed = write(rec::set{"during", "2", -1});
  CAF_REQUIRE(!failed);
  CAF_CHECK(persist_code(failed.error()) == persist_errc::io_error);
  drain(); // the supervisor sees the writer go down and replaces it
  auto after = write(rec::set{"after", "3", -1});
  CAF_REQUIRE(after);
  auto stats = ask<shard_stats>(shard, stats_atom::value);
  CAF_CHECK_EQUAL(stats.restarts, 1u);
  CAF_CHECK(!stats.failed);
  CAF_CHECK(read(q::get{"before"}) == reply::of(std::string{"1"}));
  CAF_REQUIRE(fs.crash());
  auto ks = recovered();
  CAF_CHECK(ks.find("before") != nullptr);
  CAF_CHECK(ks.find("after") != nullptr);
}

CAF_TEST(a batch applies in order and logs every write in one append) {
  start(options(fsync_policy::always));
  auto before = ask<shard_stats>(shard, stats_atom::value);
  shard_batch b;
  b.ops.push_back({mutation{rec::set{"k", "v", -1}, 0}});
  b.ops.push_back({read_request{q::get{"k"}}});
  b.ops.push_back({mutation{rec::incr{"k"}, 0}}); // not an integer
  b.ops.push_back({mutation{rec::rpush{"l", {"a", "b"}}, 0}});
  b.ops.push_back({read_request{q::llen{"l"}}});
  auto r = ask<batch_replies>(shard, b);
  CAF_REQUIRE_EQUAL(r.results.size(), 5u);
  CAF_CHECK(!r.results[0].error && r.results[0].value == reply::ok());
  CAF_CHECK(r.results[1].value == reply::of(std::string{"v"}));
  CAF_CHECK(persist_code(r.results[2].error) == persist_errc::not_integer);
  CAF_CHECK(r.results[3].value == reply::of(int64_t{2}));
  CAF_CHECK(r.results[4].value == reply::of(int64_t{2}));
  auto after = ask<shard_stats>(shard, stats_atom::value);
  CAF_CHECK_EQUAL(after.writer.batches - before.writer.batches, 1u);
  CAF_CHECK_EQUAL(after.writer.fsyncs - before.writer.fsyncs, 1u);
  CAF_CHECK_EQUAL(after.changes_since_save - before.changes_since_save, 2u);
  // Replied under `always` = on disk.
  CAF_REQUIRE(fs.crash());
  auto ks = recovered();
  CAF_CHECK(codec::get<std::string>(ks.find("k")->val) == "v");
  CAF_CHECK(ks.find("l") != nullptr);
}

CAF_TEST(a failed append fails every write of the batch but not its reads) {
  start(options(fsync_policy::always));
  CAF_REQUIRE(write(rec::set{"old", "1", -1}));
  fs.fail(codec::fault_op::sync, 1, EIO);
  shard_batch b;
  b.ops.push_back({mutation{rec::set{"a", "1", -1}, 0}});
  b.ops.push_back({read_request{q::get{"old"}}});
  b.ops.push_back({mutation{rec::set{"b", "2", -1}, 0}});
  auto r = ask<batch_replies>(shard, b);
  CAF_REQUIRE_EQUAL(r.results.size(), 3u);
  CAF_CHECK(persist_code(r.results[0].error) == persist_errc::io_error);
  CAF_CHECK(!r.results[1].error);
  CAF_CHECK(r.results[1].value == reply::of(std::string{"1"}));
  CAF_CHECK(persist_code(r.results[2].error) == persist_errc::io_error);
}

CAF_TEST(a writer killed with an error is restarted) {
  start(options(fsync_policy::everysec));
  CAF_REQUIRE(write(rec::set{"a", "1", -1}));
  auto w = ask<writer_actor>(sup, actors::writer_atom::value, uint16_t{0});
  caf::anon_send_exit(w, caf::exit_reason::kill);
  drain();
  auto w2 = ask<writer_actor>(sup, actors::writer_atom::value, uint16_t{0});
  CAF_CHECK(w2 != w);
  CAF_REQUIRE(write(rec::set{"b", "2", -1}));
  CAF_CHECK(read(q::dbsize{}) == reply::of(int64_t{2}));
}

CAF_TEST(writes handed to a writer that was gone fail and are not applied) {
  start(options(fsync_policy::everysec));
  CAF_REQUIRE(write(rec::set{"a", "1", -1}));
  auto w = ask<writer_actor>(sup, actors::writer_atom::value, uint16_t{0});
  // The writer dies; the shard applies a write and hands it over before
  // the supervisor's restart reaches it: only the shard runs meanwhile.
  caf::anon_send_exit(w, caf::exit_reason::kill);
  CAF_REQUIRE(sched.prioritize(w));
  sched.run_once();
  auto pending = self->request(shard, caf::infinite,
                               mutation{rec::set{"b", "2", -1}, 0});
  auto* shard_job = dynamic_cast<caf::resumable*>(
    caf::actor_cast<caf::abstract_actor*>(shard));
  sched.run_jobs_filtered([&](caf::resumable* job) { return job == shard_job; });
  // The shard ran the write's reply itself, with an error of ours: never
  // silence, never an acknowledgement.
  CAF_REQUIRE(!self->mailbox().empty()); // else receive() would wait forever
  bool replied = false;
  pending.receive([&](reply&) { CAF_FAIL("acknowledged a lost write"); },
                  [&](caf::error& err) {
                    replied = true;
                    CAF_CHECK(persist_code(err) == persist_errc::io_error);
                    CAF_MESSAGE(sys.render(err));
                  });
  CAF_CHECK(replied);
  // The restart reloads the shard from disk: "b" was never logged.
  drain();
  CAF_CHECK(read(q::dbsize{}) == reply::of(int64_t{1}));
  CAF_REQUIRE(write(rec::set{"b", "2", -1}));
  CAF_CHECK(read(q::dbsize{}) == reply::of(int64_t{2}));
}

CAF_TEST(exceeding the restart intensity fails the shard but reads work) {
  auto o = options(fsync_policy::always);
  o.max_restarts = 1;
  start(o);
  CAF_REQUIRE(write(rec::set{"k", "v", -1}));
  fs.fail(codec::fault_op::sync, 1, EIO, true); // the disk stays broken
  for (int i = 0; i < 4; ++i) {
    auto r = write(rec::set{"x" + std::to_string(i), "v", -1});
    CAF_CHECK(!r);
    drain();
  }
  auto r = write(rec::set{"y", "v", -1});
  CAF_REQUIRE(!r);
  CAF_CHECK(persist_code(r.error()) == persist_errc::shard_failed);
  CAF_CHECK(read(q::get{"k"}) == reply::of(std::string{"v"}));
  auto stats = ask<shard_stats>(shard, stats_atom::value);
  CAF_CHECK(stats.failed);
}

CAF_TEST(recovery refuses a corrupt AOF before anything serves) {
  test::spit(dir.file("shard-0.aof"),
             test::slurp(test::golden("aof_bad_crc.aof")));
  auto s = actors::start_supervisor(sys, {options(fsync_policy::always)});
  CAF_REQUIRE(!s);
  CAF_CHECK(persist_code(s.error()) == persist_errc::corrupt);
  CAF_CHECK(sys.render(s.error()).find("shard-0.aof") != std::string::npos);
  // Salvage serves the readable prefix and keeps a copy of the damage.
  auto o = options(fsync_policy::always);
  o.on_corruption = codec::corruption_policy::salvage;
  start(o);
  CAF_CHECK(read(q::dbsize{}).number > 0);
  bool kept = false;
  for (auto& e : std::filesystem::directory_iterator{dir.path()})
    kept |= e.path().filename().string().find("shard-0.aof.damaged-") == 0;
  CAF_CHECK(kept);
}

CAF_TEST(shards recover side by side and the first failure names its shard) {
  // Four shards, shard i holding i + 1 keys of its own.
  std::vector<actors::shard_options> shards;
  for (uint16_t i = 0; i < 4; ++i) {
    auto o = options(fsync_policy::always);
    o.shard_id = i;
    codec::aof_writer_options wo;
    wo.truncate_existing = true;
    auto w = codec::aof_writer::open(fs, codec::aof_path(dir.path(), i), wo);
    CAF_REQUIRE(w);
    for (int k = 0; k <= i; ++k)
      CAF_REQUIRE(w->add(rec::set{"s" + std::to_string(i) + "k"
                                    + std::to_string(k),
                                  "v", -1}));
    CAF_REQUIRE(w->commit());
    shards.push_back(o);
  }
  // Shards 2 and 3 damaged: the error names shard 2, the first in order.
  auto good2 = test::slurp(dir.file("shard-2.aof"));
  auto bad = test::slurp(test::golden("aof_bad_crc.aof"));
  test::spit(dir.file("shard-2.aof"), bad);
  auto good3 = test::slurp(dir.file("shard-3.aof"));
  test::spit(dir.file("shard-3.aof"), bad);
  auto refused = actors::start_supervisor(sys, shards, 4);
  CAF_REQUIRE(!refused);
  CAF_CHECK(persist_code(refused.error()) == persist_errc::corrupt);
  auto msg = sys.render(refused.error());
  CAF_CHECK(msg.find("shard-2.aof") != std::string::npos);
  CAF_CHECK(msg.find("shard-3.aof") == std::string::npos);
  // Repaired, all four recover on four threads, each with its own keys.
  test::spit(dir.file("shard-2.aof"), good2);
  test::spit(dir.file("shard-3.aof"), good3);
  auto started = actors::start_supervisor(sys, shards, 4);
  CAF_REQUIRE(started);
  sup = *started;
  drain();
  auto stats = ask<std::vector<shard_stats>>(sup, stats_atom::value);
  CAF_REQUIRE_EQUAL(stats.size(), 4u);
  for (uint16_t i = 0; i < 4; ++i) {
    CAF_CHECK_EQUAL(stats[i].shard, i);
    CAF_CHECK_EQUAL(stats[i].keys, i + 1u);
  }
}

CAF_TEST_FIXTURE_SCOPE_END()

// -- I/O faults: each kind, once and persistent ---------------------------

namespace {

struct io_fault {
  const char* name;
  codec::fault_op op;
  int err;
  bool short_write;
};

const io_fault write_eio{"EIO on write", codec::fault_op::write, EIO, false};
const io_fault write_enospc{"ENOSPC on write", codec::fault_op::write, ENOSPC,
                            false};
const io_fault short_write{"short write", codec::fault_op::write, EIO, true};
const io_fault fsync_eio{"failing fsync", codec::fault_op::sync, EIO, false};

struct fault_fixture : fixture {
  // INCRs of one counter: every reply says the count it acknowledged, so
  // the recovered counter must equal the last acknowledged reply exactly.
  int64_t last_ack = 0;
  uint64_t io_errors = 0;

  // Sends `n` INCRs at once; each gets its reply or io_error, nothing else.
  void incr_burst(int n) {
    std::vector<decltype(self->request(shard, caf::infinite, mutation{}))> rs;
    for (int i = 0; i < n; ++i)
      rs.push_back(
        self->request(shard, caf::infinite, mutation{rec::incr{"n"}, 0}));
    drain();
    for (auto& r : rs)
      r.receive([&](reply& x) { last_ack = std::max(last_ack, x.number); },
                [&](caf::error& err) {
                  CAF_CHECK(persist_code(err) == persist_errc::io_error);
                  ++io_errors;
                });
  }

  // The fault hits while writes are in flight, the supervisor replaces the
  // writer, writes resume once the disk heals, and a power loss afterwards
  // keeps exactly what was acknowledged.
  void run(const io_fault& f, bool persistent) {
    CAF_MESSAGE(f.name << (persistent ? ", persistent" : ", once"));
    auto o = options(fsync_policy::always);
    o.max_restarts = 100; // a persistent fault must not fail the shard here
    fs.failed_sync_loses_data(true); // as Linux does
    start(o);
    incr_burst(3);
    CAF_REQUIRE_EQUAL(last_ack, 3);
    auto first_writer = ask<writer_actor>(sup, actors::writer_atom::value,
                                          uint16_t{0});
    if (f.short_write)
      fs.short_write(1, f.err);
    else
      fs.fail(f.op, 1, f.err, persistent);
    if (f.short_write && persistent)
      fs.fail(codec::fault_op::write, 2, f.err, true);
    for (int round = 0; round < (persistent ? 4 : 1); ++round)
      incr_burst(8);
    CAF_CHECK(io_errors > 0);
    fs.heal();
    drain();
    // A request may still meet the writer being replaced; then it is
    // refused with io_error (nothing applied) and a retry goes through.
    auto before = last_ack;
    for (int tries = 0; tries < 3 && last_ack == before; ++tries)
      incr_burst(1);
    CAF_REQUIRE(last_ack > before);
    auto stats = ask<shard_stats>(shard, stats_atom::value);
    CAF_CHECK(stats.restarts >= 1);
    CAF_CHECK(!stats.failed);
    // Never retried in place: a new writer on the AOF reopened from disk.
    CAF_CHECK(ask<writer_actor>(sup, actors::writer_atom::value, uint16_t{0})
              != first_writer);
    CAF_CHECK(read(q::get{"n"}) == reply::of(std::to_string(last_ack)));
    CAF_REQUIRE(fs.crash());
    auto ks = recovered();
    auto* n = ks.find("n");
    CAF_REQUIRE(n != nullptr);
    CAF_CHECK_EQUAL(codec::get<std::string>(n->val), std::to_string(last_ack));
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(io_fault_tests, fault_fixture)

CAF_TEST(a write failing with eio once) {
  run(write_eio, false);
}

CAF_TEST(a write failing with eio persistently) {
  run(write_eio, true);
}

CAF_TEST(a write failing with enospc once) {
  run(write_enospc, false);
}

CAF_TEST(a write failing with enospc persistently) {
  run(write_enospc, true);
}

CAF_TEST(short write once) {
  run(short_write, false);
}

CAF_TEST(short write persistent) {
  run(short_write, true);
}

CAF_TEST(failing fsync once) {
  run(fsync_eio, false);
}

CAF_TEST(failing fsync persistent) {
  run(fsync_eio, true);
}

// A rename fails in a snapshot/rewrite: the rewrite reports io_error and
// changes nothing acknowledged; writes go on; once healed it succeeds.
CAF_TEST(failing rename in a rewrite once and persistent) {
  auto o = options(fsync_policy::always);
  o.max_restarts = 100;
  start(o);
  incr_burst(5);
  for (bool persistent : {false, true}) {
    fs.fail(codec::fault_op::rename, 1, EIO, persistent);
    for (int i = 0; i < (persistent ? 3 : 1); ++i) {
      auto pending = self->request(shard, caf::infinite, rewrite_atom::value);
      incr_burst(4);
      pending.receive(
        [](uint64_t) { CAF_FAIL("a rewrite succeeded with renames failing"); },
        [](caf::error& err) {
          CAF_CHECK(persist_code(err) == persist_errc::io_error);
        });
      drain();
      incr_burst(2);
    }
    fs.heal();
    drain();
    auto before = last_ack;
    for (int tries = 0; tries < 3 && last_ack == before; ++tries)
      incr_burst(1);
    CAF_REQUIRE(last_ack > before);
    CAF_CHECK(ask<uint64_t>(shard, rewrite_atom::value) > 0);
  }
  CAF_REQUIRE(fs.crash());
  auto ks = recovered();
  CAF_REQUIRE(ks.find("n") != nullptr);
  CAF_CHECK_EQUAL(codec::get<std::string>(ks.find("n")->val),
                  std::to_string(last_ack));
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(shard_snapshot_tests, fixture)

CAF_TEST(a snapshot under concurrent writes is the state at its request) {
  start(options(fsync_policy::always));
  for (int i = 0; i < 20; ++i)
    CAF_REQUIRE(write(rec::incr{"counter"}));
  CAF_REQUIRE(write(rec::rpush{"l", {"a"}}));
  // Request the snapshot and, before it ran, more writes.
  auto snap = self->request(shard, caf::infinite, snapshot_atom::value);
  std::vector<decltype(self->request(shard, caf::infinite, mutation{}))>
    later;
  for (int i = 0; i < 5; ++i)
    later.push_back(
      self->request(shard, caf::infinite, mutation{rec::incr{"counter"}, 0}));
  later.push_back(self->request(shard, caf::infinite,
                                mutation{rec::rpush{"l", {"b"}}, 0}));
  drain();
  uint64_t entries = 0;
  snap.receive([&](uint64_t n) { entries = n; },
               [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(entries, 2u);
  for (auto& h : later)
    h.receive([](reply&) {}, [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  // The snapshot file holds the state at the request: counter 20, [a].
  auto reader = codec::snapshot_reader::open(fs, dir.file("shard-0.snap"));
  CAF_REQUIRE(reader.ok());
  codec::snapshot_entry e;
  std::map<std::string, codec::snapshot_entry> in_snap;
  while (reader->next(e))
    in_snap[e.key] = e;
  CAF_CHECK_EQUAL(reader->end().kind, codec::read_end::clean);
  CAF_CHECK(std::get<std::string>(in_snap["counter"].value) == "20");
  CAF_CHECK(std::get<codec::snap::list>(in_snap["l"].value).elements
            == std::vector<std::string>{"a"});
  // Only the reference formats remain, and recovery sees every write once.
  std::set<std::string> names;
  for (auto& f : std::filesystem::directory_iterator{dir.path()})
    names.insert(f.path().filename().string());
  for (auto& n : names)
    CAF_MESSAGE("file " << n);
  CAF_CHECK(names == (std::set<std::string>{"shard-0.aof", "shard-0.snap"}));
  CAF_REQUIRE(fs.crash());
  auto ks = recovered();
  CAF_CHECK(codec::get<std::string>(ks.find("counter")->val) == "25");
  CAF_CHECK(codec::get<codec::list_value>(ks.find("l")->val)
            == (codec::list_value{"a", "b"}));
  auto stats = ask<shard_stats>(shard, stats_atom::value);
  CAF_CHECK_EQUAL(stats.last_save_status, "ok");
  CAF_CHECK_EQUAL(stats.last_save_entries, 2u);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(supervisor_rules_tests, fixture)

CAF_TEST(save rules and automatic rewrite run on the supervisor tick) {
  auto o = options(fsync_policy::everysec);
  o.save_rules = {actors::save_rule{0, 3}};
  o.auto_rewrite_percent = 0;
  start(o);
  CAF_REQUIRE(write(rec::set{"a", "1", -1}));
  self->send(sup, tick_atom::value);
  drain();
  CAF_CHECK_EQUAL(ask<shard_stats>(shard, stats_atom::value).last_save_status,
                  "");
  CAF_REQUIRE(write(rec::set{"b", "2", -1}));
  CAF_REQUIRE(write(rec::set{"c", "3", -1}));
  self->send(sup, tick_atom::value);
  drain();
  auto st = ask<shard_stats>(shard, stats_atom::value);
  CAF_CHECK_EQUAL(st.last_save_status, "ok");
  CAF_CHECK_EQUAL(st.last_save_entries, 3u);
  CAF_CHECK_EQUAL(st.changes_since_save, 0u);
}

CAF_TEST(the AOF is rewritten when it grew past its threshold) {
  auto o = options(fsync_policy::no);
  o.auto_rewrite_percent = 100;
  o.auto_rewrite_min_bytes = 200;
  start(o);
  for (int i = 0; i < 30; ++i)
    CAF_REQUIRE(write(rec::set{"same", std::to_string(i), -1}));
  auto before = ask<shard_stats>(shard, stats_atom::value);
  CAF_REQUIRE(before.writer.aof_size > 200);
  self->send(sup, tick_atom::value);
  drain();
  auto after = ask<shard_stats>(shard, stats_atom::value);
  CAF_CHECK_EQUAL(after.last_rewrite_status, "ok");
  CAF_CHECK(after.writer.aof_size < before.writer.aof_size);
  CAF_CHECK(read(q::get{"same"}) == reply::of(std::string{"29"}));
  CAF_REQUIRE(fs.crash());
  CAF_CHECK(codec::get<std::string>(recovered().find("same")->val) == "29");
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(ttl_tests, fixture)

CAF_TEST(TTLs keep their deadlines across downtime) {
  start(options(fsync_policy::always));
  auto before = codec::unix_now_ms();
  CAF_REQUIRE(write(rec::set{"long", "v", 100'000}));
  CAF_REQUIRE(write(rec::set{"short", "v", 30}));
  CAF_REQUIRE(write(rec::set{"plain", "v", -1}));
  CAF_REQUIRE(write(rec::pexpire{"plain", 100'000}));
  auto after = codec::unix_now_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  // Recovery from the AOF: absolute deadlines, so "short" is gone and
  // "long" keeps the deadline it got when it was written.
  auto ks = recovered();
  CAF_CHECK(ks.find("short") == nullptr);
  auto* k = ks.find("long");
  CAF_REQUIRE(k != nullptr);
  CAF_CHECK(k->deadline_ms >= before + 100'000);
  CAF_CHECK(k->deadline_ms <= after + 100'000);
  CAF_CHECK(ks.find("plain")->has_deadline());
  // After a rewrite the deadline comes from the snapshot: remaining ms
  // anchored at the snapshot's write time, so downtime still counts.
  auto deadline = k->deadline_ms;
  CAF_REQUIRE(ask<uint64_t>(shard, rewrite_atom::value) > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  actors::shard_options o = options(fsync_policy::always);
  auto files = actors::open_shard_files(o);
  CAF_REQUIRE(files.ok());
  auto* again = files->data.find("long");
  CAF_REQUIRE(again != nullptr);
  CAF_CHECK(std::llabs(again->deadline_ms - deadline) < 1000);
  CAF_CHECK(files->data.find("short") == nullptr);
}

CAF_TEST(active expiry ticks only while some key has a deadline) {
  start(options(fsync_policy::always));
  auto timers = [&] { return sched.clock().schedule().size(); };
  auto written = [&] {
    return ask<shard_stats>(shard, stats_atom::value).writer.records_written;
  };
  // Whatever the supervisor keeps pending; the shard adds nothing to it
  // while no key has a deadline, so an idle shard never wakes its worker.
  auto idle = timers();
  CAF_REQUIRE(write(rec::set{"plain", "v", -1}));
  CAF_CHECK_EQUAL(timers(), idle);
  CAF_REQUIRE(write(rec::set{"short", "v", 1}));
  CAF_CHECK_EQUAL(timers(), idle + 1);
  CAF_REQUIRE(write(rec::pexpire{"plain", 1}));
  CAF_CHECK_EQUAL(timers(), idle + 1); // one tick for the shard, not per key
  auto before = written();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // The tick removes both expired keys, logging a DEL for each, and with no
  // deadline left it sets no next tick.
  sched.trigger_timeouts();
  drain();
  CAF_CHECK_EQUAL(written(), before + 2);
  CAF_CHECK_EQUAL(timers(), idle);
  // A new deadline starts the tick again.
  CAF_REQUIRE(write(rec::set{"later", "v", 100'000}));
  CAF_CHECK_EQUAL(timers(), idle + 1);
  sched.trigger_timeouts();
  drain();
  CAF_CHECK_EQUAL(timers(), idle + 1); // "later" has not expired: it ticks on
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(overload_tests, fixture)

CAF_TEST(writes past the in-flight bound are refused before applying) {
  auto o = options(fsync_policy::always);
  o.max_inflight_bytes = 10;
  start(o);
  // Both requests reach the shard before the writer answered the first.
  auto first = self->request(shard, caf::infinite,
                             mutation{rec::set{"a", std::string(64, 'x'), -1}, 0});
  auto second = self->request(shard, caf::infinite,
                              mutation{rec::set{"b", "y", -1}, 0});
  drain();
  first.receive([](reply& r) { CAF_CHECK(r == reply::ok()); },
                [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  second.receive([](reply&) { CAF_FAIL("the second write was accepted"); },
                 [](caf::error& err) {
                   CAF_CHECK(persist_code(err) == persist_errc::overloaded);
                 });
  // Nothing of the refused write was applied; once the disk caught up,
  // writes are accepted again.
  CAF_CHECK(read(q::exists{{"b"}}) == reply::of(int64_t{0}));
  CAF_REQUIRE(write(rec::set{"b", "y", -1}));
}

CAF_TEST_FIXTURE_SCOPE_END()
