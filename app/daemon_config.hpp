// daemon_config.hpp: emberd's configuration, read with CAF's own config
// parser (the INI format of CAF 0.17) and checked strictly by us.
//
// CAF 0.17 silently ignores unknown keys and values of the wrong type in a
// config file, so every key of the file and of the command line goes
// through one table (daemon_config.cpp): an unknown key, a value of the
// wrong type or one out of range is an error naming the key, where it came
// from and what is allowed. Nothing here starts an actor system or touches
// data files, so the checks are testable (and fuzzable) on their own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/shard_options.hpp"
#include "messages/commands.hpp"
#include "codec/encryption_key.hpp"
#include "codec/recovery.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace ember::app {

/// Every option of emberd, with its default.
struct daemon_config {
  // [persistence]
  std::string data_dir = "data";
  /// 0: as many as the data directory was written with, 1 for a new one
  /// (run_daemon resolves it, app::shards_to_serve).
  uint16_t shards = 0;
  /// The most shards emberd serves.
  static constexpr uint16_t max_shards = 255;
  messages::fsync_policy fsync = messages::fsync_policy::everysec;
  std::string key_file; ///< empty: files are written unencrypted
  /// A key file group or others can access: log a warning, or refuse it.
  codec::key_permissions key_file_permissions = codec::key_permissions::warn;
  codec::corruption_policy on_corruption = codec::corruption_policy::refuse;
  std::vector<actors::save_rule> save_rules;
  uint32_t auto_rewrite_percentage = 100;
  uint64_t auto_rewrite_min_size = 64u << 20;
  uint32_t max_restarts = 3;
  uint32_t restart_period_s = 60;
  uint64_t max_inflight_bytes = 64u << 20;
  // [server]
  std::string bind = "127.0.0.1";
  uint16_t port = 6399;
  uint32_t max_clients = 10000;
  uint64_t max_request_bytes = 512u << 20;
  /// CAF scheduler threads running the actors; 0: one per CPU core.
  uint32_t worker_threads = 0;
  /// How those threads share work and wait for it: "wakeful"
  /// (actors/wakeful_stealing.hpp), or CAF's "stealing" or "sharing".
  std::string scheduler = "wakeful";
  // [log]
  std::string log_level = "info";
  std::string log_file; ///< empty: log to stderr only
};

/// What loading the configuration produced: a config, a request for help,
/// or an error (the message names the key and what is allowed).
struct config_outcome {
  daemon_config config;
  bool help = false;
  std::string error;
  explicit operator bool() const noexcept {
    return error.empty();
  }
};

/// Applies the text of a config file on top of `base`. `origin` names the
/// file in messages.
config_outcome parse_config_text(std::string_view text,
                                 std::string_view origin,
                                 daemon_config base = {});

/// Reads `--config-file=PATH` (if given), then applies every other argument
/// as `--<group>.<name>=value` on top; `--help`/`-h` asks for help.
config_outcome load_config(const std::vector<std::string>& args);

/// The --help text: usage, then every option with type, range and default.
std::string help_text();

/// The shard options the config asks for (one per shard; `key` is left for
/// the caller, which loads the key file).
std::vector<actors::shard_options> shard_options_of(const daemon_config& c);

/// The actor worker threads `server.worker-threads` asks for: the number
/// given, or for 0 one per CPU core (CAF's own default is at least 4, which
/// oversubscribes a 2-core machine: BENCHMARKS.md). ember-bench runs its
/// actor cases on the same count.
size_t worker_threads(uint32_t configured);

/// The values server.scheduler allows, emberd's default first; each one
/// configure_scheduler takes.
const std::vector<std::string>& scheduler_names();

/// Sets up the scheduler of the actor system `cfg` will build as emberd
/// runs it: `scheduler` (a server.scheduler value) on `workers` threads,
/// and CAF's work stealing with idle workers that stop polling after 20
/// slow polls instead of 500. False (and `cfg` unchanged) for a scheduler
/// name server.scheduler does not allow. ember-bench's actor cases run on
/// the same.
[[nodiscard]] bool configure_scheduler(caf::actor_system_config& cfg,
                         const std::string& scheduler, size_t workers);

} // namespace ember::app
