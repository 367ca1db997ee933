// crash_writer: the process the kill test (tests/kill_test.cpp) SIGKILLs.
//
//   crash_writer DIR always|everysec SHARDS PRODUCERS COMPACT_MS
//
// Recovers DIR through start_supervisor (the real recovery path), prints
// every key as "K key state" (tests/crash/workload.hpp) and "READY", then
// waits for "GO LIMIT n0 n1 ..." on stdin: producer p sends its ops from
// n_p on, one at a time, and prints "A p i" once op i is acknowledged.
// LIMIT 0 runs until killed; otherwise each producer stops after LIMIT ops
// and the program prints "DONE" and exits. Meanwhile a compactor asks the
// shards for snapshots and rewrites back to back (every COMPACT_MS), printing
// "S" when one starts and "E" when it ended, so the driver knows whether a
// kill landed inside one.
//
// Every line goes out with one write(2) of less than PIPE_BUF bytes, so a
// line the driver reads is whole, and an "A" line exists only after the
// acknowledgement: whatever the driver read was acknowledged. Any error is
// printed as "X what" (the driver fails on it).
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"

#include "actors/supervisor.hpp"
#include "actors/wakeful_stealing.hpp"
#include "messages/routing.hpp"
#include "messages/types.hpp"
#include "tests/actor_test_config.hpp"
#include "tests/crash/key_dump.hpp"

using namespace ember;
using namespace ember::messages;

namespace {

// One write(2) per line: lines never interleave or tear on the pipe.
void say(std::string line) {
  line += '\n';
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    auto n = ::write(STDOUT_FILENO, p, left);
    if (n < 0)
      std::_Exit(3); // the driver is gone
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// Prints every key of every shard, through the shards' read path.
void print_keys(caf::actor_system& sys, const std::vector<shard_actor>& shards) {
  caf::scoped_actor self{sys};
  test::crash::dump keys;
  for (auto& s : shards)
    test::crash::read_keys(
      [&](query q) {
        reply out;
        self->request(s, caf::infinite, read_request{std::move(q)})
          .receive([&](reply& r) { out = std::move(r); },
                   [&](caf::error& e) { say("X read " + sys.render(e)); });
        return out;
      },
      keys);
  for (auto& [key, state] : keys)
    say("K " + key + " " + state);
}

// Sends producer p's ops from `first` on, each after the previous ack.
caf::behavior producer(caf::event_based_actor* self,
                       std::vector<shard_actor> shards, uint32_t p,
                       uint64_t first, uint64_t limit,
                       std::shared_ptr<std::atomic<uint32_t>> running) {
  self->send(self, first);
  return {
    [=](uint64_t i) {
      if (limit != 0 && i == first + limit) {
        if (--*running == 0)
          say("DONE");
        self->quit();
        return;
      }
      auto r = test::crash::op(p, i);
      auto& shard = shards[shard_of(codec::primary_key(r),
                                    static_cast<uint16_t>(shards.size()))];
      self->request(shard, caf::infinite, mutation{std::move(r), 0})
        .then(
          [=](reply&) {
            say("A " + std::to_string(p) + " " + std::to_string(i));
            self->send(self, i + 1);
          },
          [=](caf::error& e) {
            say("X write " + std::to_string(p) + " " + std::to_string(i)
                + " " + self->system().render(e));
            self->quit();
          });
    },
  };
}

// Snapshots and rewrites, one at a time, round robin over the shards.
caf::behavior compactor(caf::event_based_actor* self,
                        std::vector<shard_actor> shards,
                        std::chrono::milliseconds pause) {
  auto turn = std::make_shared<uint64_t>(0);
  self->send(self, caf::atom("go"));
  return {
    [=](caf::atom_value) {
      auto n = (*turn)++;
      auto& shard = shards[n % shards.size()];
      say("S");
      auto done = [=]() {
        say("E");
        self->delayed_send(self, pause, caf::atom("go"));
      };
      auto failed = [=](caf::error& e) {
        say("X compact " + self->system().render(e));
        done();
      };
      if (n % 2 == 0)
        self->request(shard, caf::infinite, snapshot_atom::value)
          .then([=](uint64_t) { done(); }, failed);
      else
        self->request(shard, caf::infinite, rewrite_atom::value)
          .then([=](uint64_t) { done(); }, failed);
    },
  };
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: crash_writer DIR always|everysec SHARDS PRODUCERS "
                 "COMPACT_MS\n";
    return 2;
  }
  fsync_policy policy;
  if (!from_string(argv[2], policy)) {
    std::cerr << "crash_writer: unknown fsync policy " << argv[2] << "\n";
    return 2;
  }
  auto shard_count = static_cast<uint16_t>(std::stoul(argv[3]));
  auto producers = static_cast<uint32_t>(std::stoul(argv[4]));
  std::chrono::milliseconds compact_pause{std::stoul(argv[5])};

  test::actor_config cfg;
  actors::use_wakeful_stealing(cfg); // emberd's scheduler
  caf::actor_system sys{cfg};
  std::vector<actors::shard_options> opts;
  for (uint16_t id = 0; id < shard_count; ++id) {
    actors::shard_options o;
    o.data_dir = argv[1];
    o.shard_id = id;
    o.fsync = policy;
    o.auto_rewrite_percent = 0; // the compactor rewrites, far more often
    opts.push_back(o);
  }
  auto sup = actors::start_supervisor(sys, opts);
  if (!sup) {
    say("X recovery " + sys.render(sup.error()));
    return 1;
  }
  std::vector<shard_actor> shards;
  {
    caf::scoped_actor self{sys};
    for (uint16_t id = 0; id < shard_count; ++id)
      self->request(*sup, caf::infinite, shard_atom::value, id)
        .receive([&](shard_actor& s) { shards.push_back(s); },
                 [&](caf::error& e) { say("X " + sys.render(e)); });
  }
  print_keys(sys, shards);
  say("READY");

  std::string line;
  if (!std::getline(std::cin, line)) {
    // The driver only wanted the keys.
    caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
    return 0;
  }
  std::istringstream go{line};
  std::string word;
  uint64_t limit = 0;
  go >> word >> limit;
  auto running = std::make_shared<std::atomic<uint32_t>>(producers);
  for (uint32_t p = 0; p < producers; ++p) {
    uint64_t first = 0;
    go >> first;
    sys.spawn(producer, shards, p, first, limit, running);
  }
  auto comp = sys.spawn(compactor, shards, compact_pause);
  if (limit == 0) {
    for (;;)
      ::pause(); // until SIGKILL
  }
  // A bounded run: wait for the producers, then stop in order.
  caf::scoped_actor self{sys};
  while (running->load() != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  self->send_exit(comp, caf::exit_reason::user_shutdown);
  self->send_exit(*sup, caf::exit_reason::user_shutdown);
  return 0;
}
