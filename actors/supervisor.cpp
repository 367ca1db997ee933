#include "actors/supervisor.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include <spdlog/spdlog.h>

#include "actors/shard_actor.hpp"
#include "actors/shard_files.hpp"
#include "codec/keyspace.hpp"
#include "messages/persist_error.hpp"

namespace ember::actors {

using namespace messages;

namespace {

using clock_type = std::chrono::steady_clock;

struct supervised_shard {
  shard_options opts;
  shard_actor shard;
  writer_actor writer;
  std::deque<clock_type::time_point> restarts; // within restart_period
  uint32_t total_restarts = 0;
  bool failed = false;
  int64_t started_ms = codec::unix_now_ms(); // "last save" before any save
};

struct supervisor_state {
  std::vector<supervised_shard> shards;
  static inline const char* name = "ember.supervisor";
};

using supervisor_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

// Counts a restart; false when the shard exceeded its restart intensity.
bool allow_restart(supervised_shard& s) {
  auto now = clock_type::now();
  s.restarts.push_back(now);
  ++s.total_restarts;
  while (!s.restarts.empty()
         && now - s.restarts.front() > s.opts.restart_period)
    s.restarts.pop_front();
  return s.restarts.size() <= s.opts.max_restarts;
}

void mark_failed(supervised_shard& s,
                 const std::string& why) {
  s.failed = true;
  s.writer = nullptr;
  spdlog::error("shard {} failed and refuses writes (reads still work): {}",
                s.opts.shard_id, why);
  caf::anon_send(caf::actor_cast<caf::actor>(s.shard), fail_atom::value,
             s.total_restarts);
}

// The writer stopped with an error: reopen the AOF, reload the shard.
void restart_writer(supervisor_ptr self, supervised_shard& s,
                    const caf::error& reason) {
  auto why = self->system().render(reason);
  if (!allow_restart(s)) {
    mark_failed(s, "restart intensity exceeded; last error: " + why);
    return;
  }
  auto files = open_shard_files(s.opts);
  if (!files) {
    mark_failed(s, files.err().message);
    return;
  }
  s.writer = spawn_shard_writer(self->system(), s.opts, files->aof);
  self->monitor(s.writer);
  auto data = std::make_shared<codec::keyspace>(std::move(files->data));
  caf::anon_send(caf::actor_cast<caf::actor>(s.shard), reload_atom::value,
             std::move(data), s.writer, s.total_restarts);
}

// The shard actor itself died: recover and respawn it with a new writer.
void restart_shard(supervisor_ptr self, supervised_shard& s,
                   const caf::error& reason) {
  if (s.writer)
    caf::anon_send_exit(s.writer, caf::exit_reason::user_shutdown);
  if (!allow_restart(s)) {
    s.failed = true;
    spdlog::error("shard {} crashed too often: {}", s.opts.shard_id,
                  self->system().render(reason));
    return;
  }
  auto files = open_shard_files(s.opts);
  if (!files) {
    s.failed = true;
    spdlog::error("shard {} cannot recover: {}", s.opts.shard_id,
                  files.err().message);
    return;
  }
  s.shard = spawn_shard(self->system(), s.opts, std::move(*files), s.writer);
  self->monitor(s.shard);
  self->monitor(s.writer);
}

// Whether a shard's save rules or automatic rewrite ask for a rewrite now.
bool rewrite_due(const supervised_shard& s, const shard_stats& st,
                 int64_t now_ms) {
  auto last = st.last_save_ms != 0 ? st.last_save_ms : s.started_ms;
  for (auto& rule : s.opts.save_rules)
    if (st.changes_since_save >= rule.changes && rule.changes > 0
        && now_ms - last >= static_cast<int64_t>(rule.seconds) * 1000)
      return true;
  auto pct = s.opts.auto_rewrite_percent;
  auto size = st.writer.aof_size;
  auto base = st.writer.aof_base_size;
  return pct > 0 && size >= s.opts.auto_rewrite_min_bytes
         && size - std::min(size, base) >= base / 100 * pct;
}

// Once a second: the everysec fsync, save rules, automatic rewrite.
void on_tick(supervisor_ptr self) {
  for (auto& s : self->state.shards) {
    if (s.failed)
      continue;
    if (s.writer)
      self->send(s.writer, tick_atom::value);
    auto* sp = &s;
    self->request(s.shard, caf::infinite, stats_atom::value)
      .then(
        [self, sp](shard_stats& st) {
          if (!st.failed && rewrite_due(*sp, st, codec::unix_now_ms()))
            self->request(sp->shard, caf::infinite, rewrite_atom::value)
              .then([](uint64_t) {},
                    [self, sp](caf::error& err) {
                      spdlog::warn("shard {}: automatic rewrite failed: {}",
                                   sp->opts.shard_id,
                                   self->system().render(err));
                    });
        },
        [](caf::error&) {});
  }
}

void on_down(supervisor_ptr self, caf::down_msg& msg) {
  if (msg.reason == caf::exit_reason::user_shutdown
      || msg.reason == caf::exit_reason::normal)
    return; // an orderly stop, not a failure
  for (auto& s : self->state.shards) {
    if (s.writer && msg.source == s.writer.address())
      return restart_writer(self, s, msg.reason);
    if (s.shard && msg.source == s.shard.address())
      return restart_shard(self, s, msg.reason);
  }
}

supervisor_actor::behavior_type
supervisor_impl(supervisor_ptr self,
                std::shared_ptr<std::vector<supervised_shard>> shards) {
  self->state.shards = std::move(*shards);
  for (auto& s : self->state.shards) {
    self->monitor(s.shard);
    self->monitor(s.writer);
  }
  self->set_down_handler(
    [self](caf::down_msg& msg) { on_down(self, msg); });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& s : self->state.shards) {
      if (s.writer)
        self->send_exit(s.writer, msg.reason);
      self->send_exit(s.shard, msg.reason);
    }
    self->quit(msg.reason);
  });
  self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
  return {
    [self](tick_atom) {
      self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
      on_tick(self);
    },
    [self](shard_atom, uint16_t id) -> caf::result<shard_actor> {
      for (auto& s : self->state.shards)
        if (s.opts.shard_id == id)
          return s.shard;
      return make_error(persist_errc::no_such_key,
                        "no shard " + std::to_string(id) + " here");
    },
    [self](writer_atom, uint16_t id) -> caf::result<writer_actor> {
      for (auto& s : self->state.shards)
        if (s.opts.shard_id == id && s.writer)
          return s.writer;
      return make_error(persist_errc::no_such_key,
                        "no running writer for shard " + std::to_string(id));
    },
    [self](stats_atom) -> caf::result<std::vector<shard_stats>> {
      auto rp = self->make_response_promise<std::vector<shard_stats>>();
      auto n = self->state.shards.size();
      auto out = std::make_shared<std::vector<shard_stats>>(n);
      auto left = std::make_shared<size_t>(n);
      for (size_t i = 0; i < n; ++i) {
        auto done = [rp, out, left]() mutable {
          if (--*left == 0)
            rp.deliver(std::move(*out));
        };
        (*out)[i].shard = self->state.shards[i].opts.shard_id;
        self
          ->request(self->state.shards[i].shard, caf::infinite,
                    stats_atom::value)
          .then(
            [out, i, done](shard_stats& st) mutable {
              (*out)[i] = std::move(st);
              done();
            },
            [done](caf::error&) mutable { done(); });
      }
      if (n == 0)
        rp.deliver(std::vector<shard_stats>{});
      return rp;
    },
  };
}

} // namespace

namespace {

// open_shard_files() for every shard, on up to `threads` threads: shards
// share no file and no memory, and one recovery waits on memory more than on
// the CPU, so two side by side take little longer than one. An exception
// (out of memory) is turned into that shard's error, never let through a
// thread.
std::vector<codec::result<shard_files>>
recover_all(const std::vector<shard_options>& shards, size_t threads) {
  std::vector<std::optional<codec::result<shard_files>>> found(shards.size());
  std::atomic<size_t> next{0};
  auto work = [&]() noexcept {
    for (size_t i; (i = next++) < shards.size();) {
      try {
        found[i] = open_shard_files(shards[i]);
      } catch (const std::exception& e) {
        found[i] = codec::error{
          codec::errc::io_error,
          "recovering shard " + std::to_string(shards[i].shard_id) + " in "
            + shards[i].data_dir + " failed: " + e.what()
            + "; free memory and start again"};
      }
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < std::min(threads, shards.size()); ++t) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break; // fewer threads, same result
    }
  }
  work();
  for (auto& h : helpers)
    h.join();
  std::vector<codec::result<shard_files>> out;
  out.reserve(found.size());
  for (auto& f : found)
    out.push_back(std::move(*f));
  return out;
}

} // namespace

caf::expected<supervisor_actor>
start_supervisor(caf::actor_system& sys, std::vector<shard_options> shards,
                 size_t recovery_threads) {
  // Recover everything before anything serves.
  if (recovery_threads == 0)
    recovery_threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<shard_files> files;
  for (auto& f : recover_all(shards, recovery_threads)) {
    if (!f) // the first failed shard in shard order
      return from_codec(f.err());
    files.push_back(std::move(*f));
  }
  auto supervised = std::make_shared<std::vector<supervised_shard>>();
  for (size_t i = 0; i < shards.size(); ++i) {
    supervised_shard s;
    s.opts = shards[i];
    s.shard = spawn_shard(sys, shards[i], std::move(files[i]), s.writer);
    supervised->push_back(std::move(s));
  }
  return sys.spawn(supervisor_impl, supervised);
}

} // namespace ember::actors
