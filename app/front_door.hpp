// front_door.hpp: the Redis-protocol server (RESP2 over TCP) in front of
// the shards, on CAF 0.17's I/O layer.
//
// One broker serves every connection (ARCHITECTURE.md: all brokers share
// the one multiplexer thread, so more brokers add no parallelism). It
// parses every complete command of a network read. Writes, and whatever
// follows a write on its connection, from all the reads of one turn of the
// I/O loop go to each shard as one shard_batch once that turn's reads are
// done (fifty unpipelined clients cost one shard request, not fifty); the
// reads before them go out at once, one shard_batch per read and shard, so
// no read waits for another client's write to become durable. The replies
// of a connection are written strictly in request order (pipelining),
// flushing once per read or batch reply, never per reply. A reply to a write is
// written only after its shard said the write is durable under the fsync
// policy. A malformed or oversized request gets a Redis error and closes
// only its own connection.
//
// Protocol of the broker (all from the daemon):
//   (open_atom)  -> uint16_t: listen on the configured address; the port
//                   bound (useful with port 0); an error if it cannot
//   (stop_atom)  -> bool: stop accepting, answer everything already read,
//                   close every connection, then reply
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/fwd.hpp"

#include "actors/supervisor.hpp"
#include "app/resp_commands.hpp"
#include "messages/interfaces.hpp"

namespace ember::app {

using open_atom = caf::atom_constant<caf::atom("open")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

struct front_door_config {
  std::string bind = "127.0.0.1";
  uint16_t port = 6399;
  uint32_t max_clients = 10000;
  uint64_t max_request_bytes = 512u << 20;
  command_context commands;
  std::vector<messages::shard_actor> shards; ///< index = shard id
  actors::supervisor_actor supervisor;
  /// Facts INFO reports besides the shards' stats ("name:value" lines of
  /// its "# Server" section).
  std::vector<std::pair<std::string, std::string>> server_info;
  int64_t started_ms = 0; ///< unix ms the daemon started
  /// SHUTDOWN: asks the daemon for its graceful stop (called on the
  /// broker's thread; must not block).
  std::function<void()> request_shutdown;
};

/// Spawns the broker (not yet listening: send open_atom).
caf::actor spawn_front_door(caf::actor_system& sys, front_door_config cfg);

} // namespace ember::app
