// resp_commands.hpp: Redis commands -> shard requests (one table).
//
// plan_command() turns one parsed command into a plan: either a reply known
// at once (PING, argument errors, COMMAND), or operations for shards with a
// function that combines their results into the RESP reply, or an
// administrative action the front door runs itself (INFO, SAVE, ...).
// Keys route by messages::shard_of. Multi-key commands that read or delete
// key by key (DEL, EXISTS) fan out and add up; whole-keyspace ones (KEYS,
// DBSIZE, SCAN) visit every shard; commands that must change several keys
// as one (RENAME, COPY, BITOP) need all their keys on one shard and answer
// -CROSSSLOT otherwise.
//
// Pure: no actors, no I/O; the front door owns sending and ordering.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "messages/batch.hpp"

namespace ember::app {

/// One operation of a command, for one shard.
struct command_part {
  uint16_t shard = 0;
  messages::batch_op op;
};

/// Renders the RESP reply from the parts' results (same order as parts).
using command_finisher
  = std::function<std::string(std::vector<messages::batch_result>&)>;

/// What the front door does itself (needs more than a batch).
enum class admin_action {
  none,
  info,         ///< INFO: stats of every shard
  save,         ///< SAVE: snapshot every shard, reply when all finished
  bgsave,       ///< BGSAVE: start snapshots, reply at once
  bgrewriteaof, ///< BGREWRITEAOF: start rewrites, reply at once
  shutdown,     ///< SHUTDOWN: the daemon's graceful stop
};

struct command_plan {
  std::string immediate;            ///< the reply, if known now
  std::vector<command_part> parts;  ///< else operations for shards
  command_finisher finish;          ///< combines the parts' results
  admin_action admin = admin_action::none;
  std::string argument;             ///< INFO's section
};

/// What plans depend on besides the command.
struct command_context {
  uint16_t shards = 1;
  /// Answers to CONFIG GET, which client tools ask for (redis-benchmark
  /// reads "save" and "appendonly"): name -> value.
  std::vector<std::pair<std::string, std::string>> config;
};

/// Plans `args` (args[0] is the command name, any case). Arguments are
/// moved out of `args`.
command_plan plan_command(std::vector<std::string>& args,
                          const command_context& ctx);

} // namespace ember::app
