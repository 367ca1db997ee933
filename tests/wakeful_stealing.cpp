// wakeful_stealing (actors/wakeful_stealing.hpp) on real worker threads.
// Its idle workers wake only when an enqueue tells them to, or after
// work-stealing.relaxed-sleep-duration, which these tests set to an hour:
// a lost wake-up leaves a job unrun, and the bounded waits below (30 s for
// what takes microseconds) fail instead of passing by the timed wake-up.
// These are liveness checks, not timings.
#define CAF_SUITE wakeful_stealing
#include "caf/test/unit_test_impl.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"

#include "actors/wakeful_stealing.hpp"

using namespace ember;
using namespace std::chrono_literals;

namespace {

using coordinator = caf::scheduler::coordinator<actors::wakeful_stealing>;

constexpr auto bound = std::chrono::seconds{30};

struct config : caf::actor_system_config {
  explicit config(size_t workers) {
    set("scheduler.max-threads", workers);
    set("work-stealing.relaxed-sleep-duration", caf::timespan{1h});
    actors::use_wakeful_stealing(*this);
  }
};

// Every actor here is spawned with at least one argument: CAF 0.17 keeps
// no argument tuple for a function spawned without any and dereferences
// the null pointer (UBSan reports it, in CAF's init_fun_factory).
caf::behavior echo(caf::event_based_actor*, int add) {
  return {[add](int x) { return x + add; }};
}

using counter_ptr = std::shared_ptr<std::atomic<int>>;

// Counts every message it gets.
caf::behavior counter(caf::event_based_actor*, counter_ptr ran) {
  return {[ran](int) { ++*ran; }};
}

// On a message: sends one to each of `targets`, then keeps its worker busy
// until they all ran (at most `bound`) and stores how many did in `seen`.
caf::behavior fan(caf::event_based_actor* self, std::vector<caf::actor> targets,
                  counter_ptr ran, counter_ptr seen) {
  return {[=](int) {
    for (auto& t : targets)
      self->send(t, 1);
    auto jobs = static_cast<int>(targets.size());
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (*ran < jobs && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    *seen = ran->load();
  }};
}

// Asks `peer` `rounds` times, one request at a time; tells `done` after.
caf::behavior pinger(caf::event_based_actor* self, caf::actor peer, int rounds,
                     std::shared_ptr<std::atomic<int>> done) {
  auto n = std::make_shared<int>(0);
  auto next = std::make_shared<std::function<void()>>();
  std::weak_ptr<std::function<void()>> weak = next;
  *next = [=] {
    auto again = weak.lock();
    self->request(peer, caf::infinite, *n).then([=](int reply) {
      if (reply != *n + 1)
        return; // counted as missing below
      if (++*n < rounds) {
        (*again)();
        return;
      }
      ++*done;
      self->send_exit(peer, caf::exit_reason::user_shutdown);
      self->quit();
    });
  };
  (*next)();
  return {[](int) {}};
}

// Runs `pairs` pinger/echo pairs of `rounds` round trips each and waits for
// all of them, at most `bound`; the pairs that finished.
int run_pairs(caf::actor_system& sys, int pairs, int rounds) {
  auto done = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < pairs; ++i)
    sys.spawn(pinger, sys.spawn(echo, 1), rounds, done);
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (*done < pairs && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  return *done;
}

} // namespace

CAF_TEST(the actor system schedules with wakeful_stealing) {
  config cfg{2};
  caf::actor_system sys{cfg};
  CAF_CHECK(dynamic_cast<coordinator*>(&sys.scheduler()) != nullptr);
  CAF_CHECK_EQUAL(sys.scheduler().num_workers(), 2u);
}

CAF_TEST(messages from outside the workers reach sleeping workers) {
  config cfg{2};
  caf::actor_system sys{cfg};
  auto target = sys.spawn(echo, 1);
  caf::scoped_actor self{sys};
  int answered = 0;
  for (int i = 0; i < 100; ++i) {
    // Long enough for both workers to stop polling and wait.
    std::this_thread::sleep_for(2ms);
    self->request(target, bound, i)
      .receive([&](int x) { answered += x == i + 1 ? 1 : 0; },
               [&](caf::error& err) {
                 CAF_FAIL("request " << i << ": " << sys.render(err));
               });
  }
  CAF_CHECK_EQUAL(answered, 100);
  self->send_exit(target, caf::exit_reason::user_shutdown);
}

CAF_TEST(work made ready behind a busy worker reaches an idle one) {
  config cfg{2};
  caf::actor_system sys{cfg};
  constexpr int jobs = 8;
  auto ran = std::make_shared<std::atomic<int>>(0);
  std::vector<caf::actor> workers;
  for (int i = 0; i < jobs; ++i)
    workers.push_back(sys.spawn(counter, ran));
  // The fan makes `jobs` actors ready on its own worker, then keeps that
  // worker busy until they ran: only the other worker, woken, can run them.
  auto seen = std::make_shared<std::atomic<int>>(-1);
  auto busy = sys.spawn(fan, workers, ran, seen);
  std::this_thread::sleep_for(50ms); // both workers asleep
  caf::anon_send(busy, 1);
  auto deadline = std::chrono::steady_clock::now() + 2 * bound;
  while (*seen < 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CAF_CHECK_EQUAL(seen->load(), jobs);
  caf::anon_send_exit(busy, caf::exit_reason::user_shutdown);
  for (auto& w : workers)
    caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
}

CAF_TEST(request chains complete on two workers and on one) {
  for (size_t workers : {2u, 1u}) {
    CAF_MESSAGE(workers << " worker(s)");
    config cfg{workers};
    caf::actor_system sys{cfg};
    CAF_CHECK_EQUAL(run_pairs(sys, 64, 500), 64);
    // Again after the workers fell asleep.
    std::this_thread::sleep_for(20ms);
    CAF_CHECK_EQUAL(run_pairs(sys, 8, 200), 8);
  }
}
