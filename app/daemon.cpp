#include "app/daemon.hpp"

#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "caf/scoped_actor.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "actors/supervisor.hpp"
#include "app/data_dir.hpp"
#include "app/front_door.hpp"
#include "app/malloc_info.hpp"
#include "codec/encryption_key.hpp"
#include "codec/keyspace.hpp"
#include "messages/persist_error.hpp"
#include "messages/types.hpp"

namespace ember::app {

namespace {

using namespace messages;

// Set once by a signal or by SHUTDOWN; the main thread waits for it.
class stop_request {
public:
  void request(std::string why) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (requested_)
      return;
    requested_ = true;
    why_ = std::move(why);
    cv_.notify_all();
  }

  std::string wait() {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait(guard, [this] { return requested_; });
    return why_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool requested_ = false;
  std::string why_;
};

// The scheduler as server.scheduler and server.worker-threads ask
// (configure_scheduler; BENCHMARKS.md has what each choice measured).
struct system_config : caf::actor_system_config {
  explicit system_config(const daemon_config& cfg) {
    // load_config allowed only names configure_scheduler takes.
    (void) configure_scheduler(*this, cfg.scheduler,
                               worker_threads(cfg.worker_threads));
    load<caf::io::middleman>();
    // One read per readiness event, as Redis does: CAF's default of up to
    // 50 reads a connection until the socket is empty, so every request of
    // an unpipelined client cost a second recv(2) that found nothing. What
    // a read leaves behind, epoll reports again in the next turn.
    set("middleman.max-consecutive-reads", 1);
    messages::add_message_types(*this);
  }
};

// "" or why logging cannot start.
std::string start_logging(const daemon_config& cfg) {
  try {
    std::vector<spdlog::sink_ptr> sinks;
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    if (!cfg.log_file.empty())
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(
        cfg.log_file, false));
    auto logger = std::make_shared<spdlog::logger>("emberd", sinks.begin(),
                                                   sinks.end());
    logger->set_level(spdlog::level::from_str(cfg.log_level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
    return {};
  } catch (const spdlog::spdlog_ex& e) {
    return "cannot open log.file '" + cfg.log_file + "': " + e.what();
  }
}

void log_recovery(const daemon_config& cfg, const shard_stats& s) {
  spdlog::info("shard {}: recovered {} keys: {} snapshot, {} AOF records "
               "replayed, {} bytes read, {} ms; AOF end: {}",
               s.shard, s.keys, s.recovered_snapshot ? "from" : "no",
               s.recovered_records, s.recovered_bytes,
               s.recovery_duration_us / 1000, s.recovery_aof_end);
  auto aof = cfg.data_dir + "/shard-" + std::to_string(s.shard) + ".aof";
  if (s.recovery_aof_end == "torn_tail")
    spdlog::warn("shard {}: {} ended in a torn record (a crash during an "
                 "append); it was cut back to the last whole record before "
                 "appending",
                 s.shard, aof);
  else if (s.recovery_aof_end == "corrupt")
    spdlog::warn("shard {}: {} is damaged; on-corruption=salvage loaded the "
                 "valid prefix and kept a copy of the damaged file beside "
                 "it (*.damaged-<unix ms>); check it with ember-persist "
                 "check",
                 s.shard, aof);
}

// Blocks SIGTERM/SIGINT in this thread (and so in every thread started
// later) and waits for them on a thread of its own: the first asks for the
// graceful stop, the second ends the process at once.
void watch_signals(std::shared_ptr<stop_request> stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, stop] {
    int sig = 0;
    sigwait(&set, &sig);
    stop->request(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    sigwait(&set, &sig);
    spdlog::warn("second signal: exiting at once without the graceful stop");
    spdlog::default_logger()->flush();
    std::_Exit(1);
  }).detach();
}

int serve(caf::actor_system& sys, const daemon_config& cfg,
          std::vector<actors::shard_options> opts,
          const std::shared_ptr<stop_request>& stop) {
  auto sup = actors::start_supervisor(sys, std::move(opts));
  if (!sup) {
    spdlog::critical("recovery refused, nothing is served: {}",
                     sys.render(sup.error()));
    return 1;
  }
  caf::scoped_actor self{sys};
  int rc = 0;
  auto shutdown = [&] {
    caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
    return rc;
  };
  self->request(*sup, caf::infinite, stats_atom::value)
    .receive(
      [&](std::vector<shard_stats>& all) {
        for (auto& s : all)
          log_recovery(cfg, s);
      },
      [&](caf::error& err) {
        spdlog::error("cannot read recovery stats: {}", sys.render(err));
      });
  front_door_config door_cfg;
  door_cfg.bind = cfg.bind;
  door_cfg.port = cfg.port;
  door_cfg.max_clients = cfg.max_clients;
  door_cfg.max_request_bytes = cfg.max_request_bytes;
  door_cfg.supervisor = *sup;
  door_cfg.commands.shards = cfg.shards;
  std::string save;
  for (auto& r : cfg.save_rules)
    save += (save.empty() ? "" : " ") + std::to_string(r.seconds) + " "
            + std::to_string(r.changes);
  door_cfg.commands.config = {{"save", save},
                              {"appendonly", "yes"},
                              {"appendfsync", to_string(cfg.fsync)}};
  door_cfg.request_shutdown = [stop] { stop->request("SHUTDOWN"); };
  for (uint16_t i = 0; i < cfg.shards; ++i)
    self->request(*sup, caf::infinite, shard_atom::value, i)
      .receive([&](shard_actor& h) { door_cfg.shards.push_back(h); },
               [&](caf::error& err) {
                 spdlog::critical("shard {} is not running: {}", i,
                                  sys.render(err));
                 rc = 1;
               });
  if (rc != 0)
    return shutdown();
  door_cfg.server_info = {{"ember_version", "0.1.0"},
                          {"redis_mode", "standalone"},
                          {"process_id", std::to_string(::getpid())},
                          {"shards", std::to_string(cfg.shards)},
                          {"fsync", to_string(cfg.fsync)},
                          {"data_dir", cfg.data_dir},
                          {"mem_allocator", mem_allocator()}};
  door_cfg.started_ms = codec::unix_now_ms();
  auto door = spawn_front_door(sys, door_cfg);
  self->request(door, caf::infinite, open_atom::value)
    .receive(
      [&](uint16_t port) {
        spdlog::info("ready: {} shard(s) in {}, fsync {}, allocator {}, "
                     "{} worker thread(s), scheduler {}, listening on {}:{}",
                     cfg.shards, cfg.data_dir, to_string(cfg.fsync),
                     mem_allocator(), worker_threads(cfg.worker_threads),
                     cfg.scheduler, cfg.bind, port);
      },
      [&](caf::error& err) {
        spdlog::critical("{}", persist_context(err));
        rc = 1;
      });
  if (rc != 0) {
    caf::anon_send_exit(door, caf::exit_reason::user_shutdown);
    return shutdown();
  }
  auto why = stop->wait();
  spdlog::info("stopping ({}): no new connections, answering requests in "
               "flight",
               why);
  self->request(door, caf::infinite, stop_atom::value)
    .receive([](bool) {}, [](caf::error&) {});
  caf::anon_send_exit(door, caf::exit_reason::user_shutdown);
  for (auto& shard : door_cfg.shards)
    self->request(shard, caf::infinite, sync_atom::value)
      .receive([](uint64_t) {},
               [&](caf::error& err) {
                 spdlog::error("final fsync failed, the last writes may not "
                               "be durable: {}",
                               sys.render(err));
                 rc = 1;
               });
  if (rc == 0)
    spdlog::info("stopped: every acknowledged write is fsynced");
  return shutdown();
}

} // namespace

int run_daemon(const daemon_config& configured) {
  auto cfg = configured; // with the shard count resolved below
  if (auto err = start_logging(cfg); !err.empty()) {
    spdlog::critical("{}", err);
    return 2;
  }
  ::umask(077); // data files 0600, directories 0700
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) {
    spdlog::critical("cannot create persistence.data-dir '{}': {}",
                     cfg.data_dir, ec.message());
    return 2;
  }
  auto served = shards_to_serve(cfg.data_dir, cfg.shards,
                                daemon_config::max_shards);
  if (!served.refusal.empty()) {
    spdlog::critical("{}", served.refusal);
    return 2;
  }
  cfg.shards = served.shards;
  auto opts = shard_options_of(cfg);
  for (auto& o : opts)
    o.recovery_progress = [](const std::string& path, uint64_t done,
                             uint64_t total) {
      spdlog::info("recovering {}: {} of {} MiB read ({}%)", path,
                   done >> 20, total >> 20, done * 100 / total);
    };
  if (!cfg.key_file.empty()) {
    codec::key_load_options load_opts;
    load_opts.permissions = cfg.key_file_permissions;
    auto key = codec::encryption_key::load(codec::posix_file_system(),
                                           cfg.key_file, load_opts);
    if (!key) {
      spdlog::critical("persistence.key-file '{}': {}", cfg.key_file,
                       key.err().message);
      return 2;
    }
    if (!key->warning.empty())
      spdlog::warn("{} (or set persistence.key-file-permissions=refuse to "
                   "refuse such a file)",
                   key->warning);
    auto shared
      = std::make_shared<const codec::encryption_key>(std::move(key->key));
    for (auto& o : opts)
      o.key = shared;
  }
  auto stop = std::make_shared<stop_request>();
  watch_signals(stop);
  system_config sys_cfg{cfg};
  caf::actor_system sys{sys_cfg};
  return serve(sys, cfg, std::move(opts), stop);
}

} // namespace ember::app
