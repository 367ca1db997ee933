#include "actors/writer_actor.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include <spdlog/spdlog.h>

#include "actors/durable_callbacks.hpp"
#include "codec/keyspace.hpp"
#include "codec/recovery.hpp"
#include "codec/rewrite.hpp"
#include "messages/persist_error.hpp"

namespace ember::actors {

using namespace messages;

namespace {

// Runs fsyncs for one AOF, so the writer's own thread keeps writing. The
// clients' replies stay with the writer: sent from here, outside the CAF
// workers, each would be an external enqueue, and the 64-producer group
// commit got slower (BENCHMARKS.md).
caf::behavior syncer(caf::event_based_actor*,
                     std::shared_ptr<codec::writable_file> file) {
  return {
    [file](sync_atom, uint64_t upto) -> caf::result<uint64_t> {
      if (auto st = file->sync(); !st)
        return from_codec(st.err());
      return upto;
    },
  };
}

struct waiter {
  caf::typed_response_promise<uint64_t> rp;
  uint64_t offset;      // reply once this much is durable (or written)
  uint64_t records = 0; // how many records the reply acknowledges
  std::vector<durable_callback> acks; // the clients' replies (record_batch)
};

struct writer_state {
  writer_config cfg;
  caf::actor syncer;
  std::deque<waiter> unsynced;  // replies waiting for an fsync
  std::deque<waiter> unwritten; // replies waiting for the next write
  bool flush_scheduled = false;
  bool sync_running = false;
  // Group commit (writer_config::group_commit_wait): records waiting in
  // `unsynced`, the size the next batch is expected to reach, whether a
  // hold is armed, and the average fsync time that bounds a hold.
  uint64_t unsynced_records = 0;
  uint64_t expected_batch = 0;
  bool holding = false;
  std::chrono::steady_clock::time_point sync_started;
  std::chrono::microseconds fsync_avg{0};
  uint64_t generation = 0; // bumped when the AOF file changes
  writer_stats stats;

  static inline const char* name = "ember.writer";
};

using writer_ptr = writer_actor::stateful_pointer<writer_state>;

codec::aof_writer& aof(writer_ptr self) {
  return *self->state.cfg.aof;
}

// Fails every waiting request and stops: the AOF's tail is unknown now.
void fail_all(writer_ptr self, const caf::error& err) {
  auto& st = self->state;
  for (auto* q : {&st.unwritten, &st.unsynced})
    for (auto& w : *q) {
      run_callbacks(w.acks, err, self->context());
      w.rp.deliver(err);
    }
  st.unwritten.clear();
  st.unsynced.clear();
  st.unsynced_records = 0;
  self->quit(err);
}

// Replies to everything in `q` covered by `offset` (the clients first,
// then the shard); returns the records those replies acknowledged.
uint64_t release(writer_ptr self, std::deque<waiter>& q, uint64_t offset) {
  uint64_t records = 0;
  while (!q.empty() && q.front().offset <= offset) {
    records += q.front().records;
    run_callbacks(q.front().acks, caf::none, self->context());
    q.front().rp.deliver(q.front().offset);
    q.pop_front();
  }
  return records;
}

// release() for `unsynced`, keeping unsynced_records; returns the records.
uint64_t release_synced(writer_ptr self, uint64_t offset) {
  auto& st = self->state;
  auto records = release(self, st.unsynced, offset);
  st.unsynced_records -= records;
  return records;
}

// Writes the pending buffer with one append. False when that failed: every
// waiting request has its error then and the writer is quitting.
bool write_pending(writer_ptr self) {
  auto& st = self->state;
  auto pending = aof(self).pending_bytes();
  if (pending == 0)
    return true;
  if (auto s = aof(self).flush(); !s) {
    fail_all(self, from_codec(s.err()));
    return false;
  }
  st.stats.batches++;
  st.stats.bytes_written += pending;
  return true;
}

void start_sync(writer_ptr self, bool may_hold = true);

void on_synced(writer_ptr self, uint64_t upto) {
  using namespace std::chrono;
  auto& st = self->state;
  st.sync_running = false;
  aof(self).note_synced(upto);
  st.stats.fsyncs++;
  st.stats.last_fsync_ms = codec::unix_now_ms();
  auto took = duration_cast<microseconds>(steady_clock::now() - st.sync_started);
  st.fsync_avg = st.fsync_avg.count() == 0 ? took : (st.fsync_avg * 7 + took) / 8;
  auto released = release_synced(self, upto);
  // The writers just released will be back; those that came meanwhile
  // already are: together they are the next batch.
  st.expected_batch = released + st.unsynced_records;
  if (!st.unsynced.empty())
    start_sync(self);
}

// Whether to hold the next fsync back for the rest of its batch (see
// writer_config::group_commit_wait); arms the timer that ends the hold.
bool hold_sync(writer_ptr self) {
  using namespace std::chrono;
  auto& st = self->state;
  if (st.cfg.policy != fsync_policy::always
      || st.cfg.group_commit_wait.count() <= 0
      || st.unsynced_records >= st.expected_batch)
    return false;
  if (st.holding)
    return true;
  auto wait = std::clamp<microseconds>(st.fsync_avg / 2, microseconds{1},
                                       st.cfg.group_commit_wait);
  // The timer is a tick (under `always` a tick only ends a hold). A stale
  // one, from a hold that ended early, may end a later hold early: that
  // costs an fsync a few records short, never correctness.
  st.holding = true;
  self->delayed_send(self, wait, tick_atom::value);
  return true;
}

// Writes what is pending and starts an fsync covering everything appended
// so far, unless one runs (or a group-commit hold waits for more, when
// `may_hold`).
void start_sync(writer_ptr self, bool may_hold) {
  auto& st = self->state;
  if (st.sync_running)
    return;
  if (aof(self).size() <= aof(self).synced_size()) {
    release_synced(self, aof(self).synced_size());
    return;
  }
  if (may_hold && hold_sync(self))
    return;
  st.holding = false;
  if (!write_pending(self))
    return;
  auto upto = aof(self).flushed_size();
  st.sync_running = true;
  st.sync_started = std::chrono::steady_clock::now();
  auto gen = st.generation;
  // A reply about an AOF we switched away from is stale: ignore it.
  self->request(st.syncer, caf::infinite, sync_atom::value, upto)
    .then(
      [self, gen](uint64_t done) {
        if (gen == self->state.generation)
          on_synced(self, done);
      },
      [self, gen](caf::error& err) {
        if (gen != self->state.generation)
          return;
        (void) aof(self).poison(
          codec::error{codec::errc::io_error, self->system().render(err)});
        // The bytes this fsync failed to write may never reach the disk
        // while still reading back: the restarted writer must not build
        // on them (codec::aof_writer::discard_unsynced).
        if (auto cut = aof(self).discard_unsynced(); !cut)
          spdlog::warn("could not cut the unsynced tail after a failed "
                       "fsync ({}); the restarted writer re-verifies {} "
                       "from disk",
                       cut.err().message, aof(self).path());
        fail_all(self, err);
      });
}

// The end of a mailbox drain. `everysec` and `no`: write everything the
// drain appended with one append, then reply. `always`: nothing is
// acknowledged before an fsync, and none can start while one runs or a
// group-commit hold waits, so the bytes are written when the fsync that
// covers them starts (start_sync): one write(2) per fsync. (Written per
// drain instead, 64 producers took one write(2) per record.)
void flush(writer_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.cfg.policy == fsync_policy::always) {
    while (!st.unwritten.empty()) {
      st.unsynced_records += st.unwritten.front().records;
      st.unsynced.push_back(std::move(st.unwritten.front()));
      st.unwritten.pop_front();
    }
    start_sync(self);
    return;
  }
  if (write_pending(self))
    release(self, st.unwritten, aof(self).flushed_size());
}

void schedule_flush(writer_ptr self) {
  if (!self->state.flush_scheduled) {
    self->state.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

// A syncer for the current AOF file (the old one, if any, is stopped).
void start_syncer(writer_ptr self) {
  auto& st = self->state;
  if (st.syncer) {
    self->unlink_from(st.syncer);
    self->send_exit(st.syncer, caf::exit_reason::user_shutdown);
  }
  auto file = st.cfg.aof->shared_file();
  st.syncer = st.cfg.detached_io
                ? self->spawn<caf::detached + caf::linked>(syncer, file)
                : self->spawn<caf::linked>(syncer, file);
}

// Switches to a fresh AOF holding the records from `offset` on, committed
// together with the snapshot already in shard-N.snap.tmp.
caf::result<uint64_t> switch_to_fresh_aof(writer_ptr self, uint64_t offset) {
  auto& st = self->state;
  auto& cfg = st.cfg;
  // Every appended record must be in the old file before its tail (from
  // `offset`) is copied over.
  flush(self);
  if (!aof(self).closed())
    write_pending(self);
  if (aof(self).closed())
    return make_error(persist_errc::io_error,
                      "the AOF writer failed before the rewrite could switch");
  codec::switch_report report;
  auto next = codec::switch_aof(*cfg.fs, cfg.data_dir, cfg.shard_id,
                                aof(self).path(), offset, cfg.key.get(),
                                &report);
  if (!next) {
    auto err = from_codec(next.err());
    if (report.in_doubt) // neither AOF is safe: restart settles it
      fail_all(self, err);
    return err;
  }
  // Committed: every flushed record is durable in the new AOF.
  ++st.generation;
  st.sync_running = false;
  st.holding = false;
  release_synced(self, std::numeric_limits<uint64_t>::max());
  auto fail_after_commit = [&](const codec::error& e) -> caf::error {
    // The rewrite is committed; a restart finishes it from the marker.
    auto err = from_codec(e);
    fail_all(self, err);
    return err;
  };
  if (auto s = codec::finish_rewrite(*cfg.fs, cfg.data_dir, cfg.shard_id); !s)
    return fail_after_commit(s.err());
  codec::aof_writer_options opts;
  opts.key = cfg.key.get();
  opts.verified_end = next->size();
  auto path = codec::aof_path(cfg.data_dir, cfg.shard_id);
  auto reopened = codec::aof_writer::open(*cfg.fs, path, opts);
  if (!reopened)
    return fail_after_commit(reopened.err());
  cfg.aof = std::make_shared<codec::aof_writer>(std::move(*reopened));
  start_syncer(self);
  st.stats.aof_base_size = cfg.aof->size();
  return cfg.aof->size();
}

writer_actor::behavior_type writer_impl(writer_ptr self, writer_config cfg) {
  self->state.cfg = std::move(cfg);
  start_syncer(self);
  self->state.stats.aof_base_size = self->state.cfg.aof->size();
  return {
    [self](append_atom, record_batch& batch) -> caf::result<uint64_t> {
      // The shard validated these records; one the AOF refuses means the
      // shard's memory no longer matches its log, so stop: the supervisor
      // restarts us and the shard reloads from disk.
      for (auto& r : batch.records)
        if (auto s = aof(self).add(r); !s) {
          auto err = from_codec(s.err());
          fail_all(self, err);
          return err;
        }
      self->state.stats.records_written += batch.records.size();
      auto rp = self->make_response_promise<uint64_t>();
      self->state.unwritten.push_back(
        waiter{rp, aof(self).size(), batch.records.size(),
               batch.acks ? std::exchange(*batch.acks, {})
                          : std::vector<durable_callback>{}});
      schedule_flush(self);
      return rp;
    },
    [self](flush_atom) { flush(self); },
    [self](snapshot_atom) { return aof(self).size(); },
    [self](rewrite_atom, uint64_t offset) {
      return switch_to_fresh_aof(self, offset);
    },
    [self](tick_atom) {
      auto& st = self->state;
      if (st.cfg.policy == fsync_policy::always && st.holding)
        start_sync(self, false); // a group-commit hold ran out
      if (st.cfg.policy != fsync_policy::everysec)
        return;
      if (st.sync_running) {
        st.stats.delayed_fsyncs++;
        return;
      }
      start_sync(self);
    },
    [self](sync_atom) -> caf::result<uint64_t> {
      // Wait for an fsync that covers everything appended so far (written
      // when that fsync starts).
      flush(self);
      auto rp = self->make_response_promise<uint64_t>();
      self->state.unsynced.push_back(waiter{rp, aof(self).size(), 0, {}});
      start_sync(self, false); // asked for explicitly: no hold
      return rp;
    },
    [self](stats_atom) {
      auto s = self->state.stats;
      s.aof_size = aof(self).size();
      s.pending_bytes = aof(self).pending_bytes();
      s.unsynced_bytes = aof(self).flushed_size() - aof(self).synced_size();
      return s;
    },
  };
}

} // namespace

writer_actor spawn_writer(caf::actor_system& sys, writer_config cfg) {
  return sys.spawn(writer_impl, std::move(cfg));
}

} // namespace ember::actors
