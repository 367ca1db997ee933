#include "bench/actor_driver.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>

#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"

#include "app/daemon_config.hpp"
#include "bench/workload.hpp"
#include "messages/routing.hpp"
#include "messages/types.hpp"

namespace ember::bench {

using namespace messages;

size_t actor_workers() {
  if (auto threads = std::getenv("EMBER_BENCH_THREADS"))
    if (auto n = std::atoi(threads); n > 0)
      return static_cast<size_t>(n);
  return app::worker_threads(0);
}

std::string actor_scheduler() {
  if (auto policy = std::getenv("EMBER_BENCH_SCHEDULER"))
    return policy;
  return app::daemon_config{}.scheduler;
}

bench_actor_config::bench_actor_config() {
  messages::add_message_types(*this);
  // The scheduler emberd runs on by default: wakeful_stealing with one
  // worker per CPU core. An embedding application picks its own:
  // EMBER_BENCH_SCHEDULER=stealing or sharing measures CAF's policies,
  // EMBER_BENCH_THREADS=N another count.
  if (!app::configure_scheduler(*this, actor_scheduler(), actor_workers())) {
    std::string allowed;
    for (auto& n : app::scheduler_names())
      allowed += (allowed.empty() ? "" : ", ") + n;
    throw std::runtime_error("EMBER_BENCH_SCHEDULER: " + actor_scheduler()
                             + " is none of " + allowed);
  }
}

shard_env::shard_env(const std::string& dir, uint16_t shards, fsync_policy p)
  : sys_(std::make_unique<caf::actor_system>(cfg_)) {
  std::vector<actors::shard_options> opts;
  for (uint16_t s = 0; s < shards; ++s) {
    actors::shard_options o;
    o.data_dir = dir;
    o.shard_id = s;
    o.fsync = p;
    o.auto_rewrite_percent = 0; // a rewrite mid-run would skew the figures
    opts.push_back(o);
  }
  auto sup = actors::start_supervisor(*sys_, opts);
  if (!sup)
    throw std::runtime_error("start_supervisor: " + sys_->render(sup.error()));
  sup_ = *sup;
  caf::scoped_actor self{*sys_};
  for (uint16_t s = 0; s < shards; ++s)
    self->request(sup_, caf::infinite, shard_atom::value, s)
      .receive([&](shard_actor& h) { handles_.push_back(h); },
               [&](caf::error& e) {
                 throw std::runtime_error("shard handle: " + sys_->render(e));
               });
}

shard_env::~shard_env() {
  // The supervisor takes its shards down with it; ~actor_system (after the
  // handles are released) waits for them. Any scoped_actor of a case must
  // be gone by now, or that wait never ends (a live scoped_actor counts as
  // a running actor).
  caf::anon_send_exit(sup_, caf::exit_reason::user_shutdown);
}

std::vector<shard_stats> shard_env::stats() {
  std::vector<shard_stats> out;
  caf::scoped_actor self{*sys_};
  self->request(sup_, caf::infinite, stats_atom::value)
    .receive([&](std::vector<shard_stats>& s) { out = std::move(s); },
             [&](caf::error& e) {
               throw std::runtime_error("stats: " + sys_->render(e));
             });
  return out;
}

namespace {

struct progress {
  std::atomic<int> finished{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> bytes{0};
  std::promise<void> done;
  std::vector<std::vector<double>> latencies; // one per producer
};

// Keeps `in_flight` writes outstanding until its share is acknowledged.
// `Handle`: a shard, or the untyped stand-in of echo().
template <class Handle>
caf::behavior producer(caf::event_based_actor* self, int p, load l,
                       std::vector<Handle> handles,
                       std::shared_ptr<progress> out) {
  auto per = l.writes / uint64_t(l.producers);
  auto first = l.first_key + per * uint64_t(p);
  auto next = std::make_shared<uint64_t>(0);
  auto outstanding = std::make_shared<int>(0);
  auto pump = std::make_shared<std::function<void()>>();
  // The pump must not own itself (that cycle leaked the producer and, through
  // its handles, the shard actors); the pending replies own it instead.
  std::weak_ptr<std::function<void()>> weak_pump = pump;
  auto shards = static_cast<uint16_t>(handles.size());
  *pump = [=] {
    auto again = weak_pump.lock();
    while (*outstanding < l.in_flight && *next < per) {
      // The next `batch` keys, grouped by shard: one request per shard, a
      // plain mutation when it holds one record, else a shard_batch whose
      // reply acknowledges each element.
      std::vector<std::vector<codec::aof_record>> by_shard(shards);
      for (int i = 0; i < l.batch && *next < per; ++i) {
        auto rec = set_record(first + (*next)++);
        by_shard[shard_of(codec::primary_key(rec), shards)].push_back(std::move(rec));
      }
      for (uint16_t s = 0; s < shards; ++s) {
        auto& recs = by_shard[s];
        if (recs.empty())
          continue;
        ++*outstanding;
        auto t0 = clock_type::now();
        auto n = recs.size();
        auto size = n * (std::get<codec::rec::set>(recs[0]).key.size() + value_size);
        auto acked = [=](uint64_t ok) {
          auto us = seconds_since(t0) * 1e6;
          auto& lat = out->latencies[size_t(p)];
          lat.insert(lat.end(), ok, us);
          out->bytes += size / n * ok;
          out->errors += n - ok;
          --*outstanding;
          (*again)();
        };
        auto failed = [=](caf::error&) {
          out->errors += n;
          --*outstanding;
          (*again)();
        };
        if (n == 1) {
          self->request(handles[s], caf::infinite, mutation{std::move(recs[0]), 0})
            .then([=](reply&) { acked(1); }, failed);
          continue;
        }
        shard_batch b;
        b.ops.reserve(n);
        for (auto& r : recs)
          b.ops.push_back(batch_op{mutation{std::move(r), 0}});
        self->request(handles[s], caf::infinite, std::move(b))
          .then(
            [=](batch_replies& r) {
              uint64_t ok = 0;
              for (auto& x : r.results)
                ok += x.error ? 0 : 1;
              acked(ok);
            },
            failed);
      }
    }
    if (*outstanding == 0 && *next == per) {
      if (++out->finished == l.producers)
        out->done.set_value();
      self->quit();
    }
  };
  (*pump)();
  return {[](int) {}};
}

// Answers every SET with `answer` (a shard's is OK), at once: no keyspace,
// no log, no writer. (It takes an argument because CAF 0.17 binds a
// reference to a null pointer when it spawns a function of none, which
// UBSan reports.)
caf::behavior echo(caf::event_based_actor*, reply answer) {
  return {
    [answer](mutation&) { return answer; },
    [answer](shard_batch& b) {
      batch_replies r;
      r.results.resize(b.ops.size(), batch_result{answer, caf::none});
      return r;
    },
  };
}

// Spawns the producers of `l` against `targets` and waits until every write
// is answered: the sample's time, items (answered writes), bytes and
// latencies; `out` keeps the errors.
template <class Handle>
sample run_producers(caf::actor_system& sys, const load& l,
                     const std::vector<Handle>& targets,
                     const std::shared_ptr<progress>& out) {
  out->latencies.resize(size_t(l.producers));
  auto finished = out->done.get_future();
  auto start = clock_type::now();
  for (int p = 0; p < l.producers; ++p)
    sys.spawn(producer<Handle>, p, l, targets, out);
  finished.wait();
  sample s;
  s.seconds = seconds_since(start);
  for (auto& v : out->latencies)
    s.latencies_us.insert(s.latencies_us.end(), v.begin(), v.end());
  s.items = s.latencies_us.size();
  s.bytes = out->bytes;
  return s;
}

// Fsyncs and appends (write(2) calls) the shards' writers issued so far.
std::pair<uint64_t, uint64_t> writer_calls(const std::vector<shard_stats>& s) {
  uint64_t fsyncs = 0, writes = 0;
  for (auto& x : s) {
    fsyncs += x.writer.fsyncs;
    writes += x.writer.batches;
  }
  return {fsyncs, writes};
}

} // namespace

sample drive(shard_env& env, const load& l) {
  auto out = std::make_shared<progress>();
  auto before = writer_calls(env.stats());
  std::atomic<bool> running{true};
  std::atomic<uint64_t> peak{0};
  std::thread poller([&] {
    while (running) {
      for (auto& s : env.stats())
        peak = std::max<uint64_t>(peak, s.writer.pending_bytes);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto s = run_producers(env.system(), l, env.shards(), out);
  running = false;
  poller.join();
  auto after = writer_calls(env.stats());
  auto fsyncs = double(after.first - before.first);
  auto writes = double(after.second - before.second);
  s.extra["fsyncs"] = fsyncs;
  if (fsyncs > 0)
    s.extra["records_per_fsync"] = double(s.items) / fsyncs;
  if (writes > 0)
    s.extra["records_per_write"] = double(s.items) / writes;
  s.extra["peak_writer_bytes"] = double(peak);
  s.extra["errors"] = double(out->errors);
  return s;
}

sample drive_echo(const load& l) {
  bench_actor_config cfg;
  caf::actor_system sys{cfg};
  auto out = std::make_shared<progress>();
  auto target = sys.spawn(echo, reply::ok());
  auto s = run_producers(sys, l, std::vector<caf::actor>{target}, out);
  caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  s.extra["errors"] = double(out->errors);
  return s;
}

} // namespace ember::bench
