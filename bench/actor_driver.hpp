// actor_driver.hpp: runs shards under a supervisor on the real scheduler
// and drives them with producer actors (application actors) that keep a
// number of SET requests in flight, timing every acknowledgement.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "actors/supervisor.hpp"
#include "bench/harness.hpp"
#include "messages/commands.hpp"
#include "messages/interfaces.hpp"

namespace ember::bench {

/// Worker threads of the actor cases: EMBER_BENCH_THREADS, else one per CPU
/// core (as emberd's default).
size_t actor_workers();

/// Scheduler of the actor cases: EMBER_BENCH_SCHEDULER, else emberd's
/// default (app::daemon_config::scheduler).
std::string actor_scheduler();

struct bench_actor_config : caf::actor_system_config {
  bench_actor_config();
};

/// An actor system with `shards` recovered shards in `dir`; stops them in
/// the destructor.
class shard_env {
public:
  shard_env(const std::string& dir, uint16_t shards, messages::fsync_policy p);
  ~shard_env();
  shard_env(const shard_env&) = delete;
  shard_env& operator=(const shard_env&) = delete;

  caf::actor_system& system() noexcept {
    return *sys_;
  }
  const std::vector<messages::shard_actor>& shards() const noexcept {
    return handles_;
  }
  std::vector<messages::shard_stats> stats();

private:
  bench_actor_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  actors::supervisor_actor sup_;
  std::vector<messages::shard_actor> handles_;
};

struct load {
  int producers = 1;
  int in_flight = 1;    ///< outstanding requests per producer
  /// SETs per request: 1 sends `mutation`s, more a `shard_batch` (per
  /// shard) whose reply acknowledges each element.
  int batch = 1;
  uint64_t writes = 0;  ///< in total, split evenly over the producers
  uint64_t first_key = 0;
};

/// Sends load.writes SETs (keys first_key ...) through the shards and waits
/// for every acknowledgement. The sample holds acked records, their encoded
/// bytes, every ack latency, and extras: fsyncs (writer_stats delta over all
/// shards), records_per_fsync, records_per_write (acked records per write(2)
/// of the writers, writer_stats::batches), peak_writer_bytes (largest pending_bytes, the
/// writer's buffer, a writer reported while the load ran, polled every 10 ms) and
/// errors (requests answered with an error).
sample drive(shard_env& env, const load& l);

/// The same producers against one actor that answers every request at once
/// as a shard answers SETs (on the same scheduler, in a system of its own):
/// what CAF's request/response costs alone, the floor of the actor path.
/// Extras: errors.
sample drive_echo(const load& l);

} // namespace ember::bench
