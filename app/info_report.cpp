#include "app/info_report.hpp"

#include <algorithm>
#include <cctype>

namespace ember::app {

namespace {

using messages::shard_stats;

void line(std::string& out, const std::string& name, const std::string& v) {
  out += name;
  out += ':';
  out += v;
  out += "\r\n";
}

void line(std::string& out, const std::string& name, uint64_t v) {
  line(out, name, std::to_string(v));
}

// Redis's "ok"/"err" from our "ok" / "err: ..." / "" (none yet = ok).
std::string status_of(const std::vector<shard_stats>& shards,
                      std::string shard_stats::*field) {
  for (auto& s : shards)
    if ((s.*field).rfind("err", 0) == 0)
      return "err";
  return "ok";
}

void persistence(std::string& out, const info_facts& facts,
                 const std::vector<shard_stats>& shards) {
  uint64_t changes = 0, size = 0, base = 0, delayed = 0, buffered = 0;
  int64_t last_save_ms = facts.started_ms;
  uint64_t last_save_us = 0;
  bool any_save = false, failed = false, rewriting = false;
  for (auto& s : shards) {
    changes += s.changes_since_save;
    size += s.writer.aof_size;
    base += s.writer.aof_base_size;
    delayed += s.writer.delayed_fsyncs;
    buffered += s.writer.pending_bytes;
    last_save_ms = std::max(last_save_ms, s.last_save_ms);
    last_save_us = std::max(last_save_us, s.last_save_duration_us);
    any_save = any_save || !s.last_save_status.empty();
    failed = failed || s.failed;
    rewriting = rewriting || s.rewriting;
  }
  out += "# Persistence\r\n";
  line(out, "loading", uint64_t{0}); // recovery finishes before serving
  // Every snapshot is a rewrite here (README "Crash-safe rewrite"), so the
  // two "in progress" flags are the same.
  line(out, "rdb_bgsave_in_progress", uint64_t{rewriting});
  line(out, "rdb_changes_since_last_save", changes);
  line(out, "rdb_last_save_time",
       std::to_string(std::max<int64_t>(last_save_ms, 0) / 1000));
  line(out, "rdb_last_bgsave_status",
       status_of(shards, &shard_stats::last_save_status));
  line(out, "rdb_last_bgsave_time_sec",
       any_save ? std::to_string(last_save_us / 1000000) : "-1");
  line(out, "aof_enabled", uint64_t{1});
  line(out, "aof_rewrite_in_progress", uint64_t{rewriting});
  line(out, "aof_last_bgrewrite_status",
       status_of(shards, &shard_stats::last_rewrite_status));
  line(out, "aof_last_write_status", failed ? "err" : "ok");
  line(out, "aof_current_size", size);
  line(out, "aof_base_size", base);
  line(out, "aof_buffer_length", buffered);
  line(out, "aof_delayed_fsync", delayed);
  for (auto& s : shards) {
    auto& w = s.writer;
    line(out, "ember_shard_" + std::to_string(s.shard),
         "keys=" + std::to_string(s.keys)
           + ",failed=" + std::to_string(s.failed ? 1 : 0)
           + ",restarts=" + std::to_string(s.restarts)
           + ",rewriting=" + std::to_string(s.rewriting ? 1 : 0)
           + ",aof_size=" + std::to_string(w.aof_size)
           + ",aof_base_size=" + std::to_string(w.aof_base_size)
           + ",pending_bytes=" + std::to_string(w.pending_bytes)
           + ",unsynced_bytes=" + std::to_string(w.unsynced_bytes)
           + ",fsyncs=" + std::to_string(w.fsyncs)
           + ",last_fsync_ms=" + std::to_string(w.last_fsync_ms)
           + ",records_written=" + std::to_string(w.records_written)
           + ",write_batches=" + std::to_string(w.batches)
           + ",changes_since_save=" + std::to_string(s.changes_since_save)
           + ",last_save_status="
           + (s.last_save_status.empty() ? "none"
                                         : s.last_save_status.substr(0, 3))
           + ",last_save_pause_us=" + std::to_string(s.last_save_pause_us)
           + ",last_save_entries=" + std::to_string(s.last_save_entries)
           + ",recovered_snapshot="
           + std::to_string(s.recovered_snapshot ? 1 : 0)
           + ",recovered_records=" + std::to_string(s.recovered_records)
           + ",recovered_bytes=" + std::to_string(s.recovered_bytes)
           + ",recovery_ms=" + std::to_string(s.recovery_duration_us / 1000)
           + ",recovery_aof_end=" + s.recovery_aof_end);
  }
}

} // namespace

std::string info_report(const std::string& section, const info_facts& facts,
                        const std::vector<shard_stats>& shards) {
  std::string want = section;
  for (auto& c : want)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool all = want.empty() || want == "all" || want == "default"
             || want == "everything";
  auto wants = [&](const char* name) { return all || want == name; };
  std::string out;
  auto separate = [&] {
    if (!out.empty())
      out += "\r\n";
  };
  if (wants("server")) {
    out += "# Server\r\n";
    for (auto& [k, v] : facts.server)
      line(out, k, v);
  }
  if (wants("clients")) {
    separate();
    out += "# Clients\r\n";
    line(out, "connected_clients", facts.connected_clients);
  }
  if (wants("stats")) {
    separate();
    out += "# Stats\r\n";
    line(out, "total_commands_processed", facts.total_commands);
    line(out, "rejected_connections", facts.rejected_connections);
  }
  if (wants("persistence")) {
    separate();
    persistence(out, facts, shards);
  }
  if (wants("keyspace")) {
    separate();
    out += "# Keyspace\r\n";
    uint64_t keys = 0;
    for (auto& s : shards)
      keys += s.keys;
    if (keys > 0)
      line(out, "db0", "keys=" + std::to_string(keys));
  }
  return out;
}

} // namespace ember::app
