// info_report.hpp: the text of INFO, with Redis's field names where the
// meaning is the same (so monitoring that reads Redis's INFO reads ours)
// and ember_* fields per shard for what Redis has no name for.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "messages/commands.hpp"

namespace ember::app {

struct info_facts {
  /// "name:value" lines of the "# Server" section.
  std::vector<std::pair<std::string, std::string>> server;
  size_t connected_clients = 0;
  uint64_t total_commands = 0;
  uint64_t rejected_connections = 0;
  /// Unix ms the daemon started: Redis reports it as the last save time
  /// until a save happened.
  int64_t started_ms = 0;
};

/// The INFO text for `section` ("" / "all" / "default" = every section;
/// otherwise server, clients, stats, persistence, keyspace; case-blind).
std::string info_report(const std::string& section, const info_facts& facts,
                        const std::vector<messages::shard_stats>& shards);

} // namespace ember::app
