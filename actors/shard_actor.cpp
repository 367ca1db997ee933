#include "actors/shard_actor.hpp"

#include <utility>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"

#include "actors/durable_callbacks.hpp"
#include "actors/shard_state.hpp"
#include "actors/snapshot_actor.hpp"
#include "actors/writer_actor.hpp"
#include "messages/persist_error.hpp"

namespace ember::actors {

using namespace messages;

namespace {

struct shard_actor_state {
  shard_options opts;
  shard_state logic;
  writer_actor writer; // invalid while the writer is being replaced
  bool failed = false;
  uint64_t inflight_bytes = 0;
  uint64_t changes_since_save = 0;
  shard_stats info; // recovery report, restarts, last save
  caf::actor snapshotter;
  bool rewriting = false;
  // Records applied to memory but not yet handed to the writer, and the
  // replies to send once they are durable (the writer sends them, see
  // messages::record_batch): one writer request per mailbox drain instead
  // of one per write (a flush_atom to ourselves marks the drain's end).
  std::vector<codec::aof_record> log;
  std::vector<durable_callback> log_done;
  uint64_t log_changes = 0;
  uint64_t log_size = 0; // AOF bytes of `log` (counted in inflight_bytes)
  bool flush_scheduled = false;
  // An expiry tick is pending; see arm_expiry.
  bool expiry_armed = false;

  static inline const char* name = "ember.shard";
};

using shard_ptr = caf::stateful_actor<shard_actor_state>*;

std::string shard_name(const shard_options& opts) {
  return "shard " + std::to_string(opts.shard_id);
}

// Bytes st.log[from..] will occupy in the AOF (what the writer buffers):
// tag + payload + CRC per record, counted without encoding.
uint64_t log_bytes(shard_ptr self, size_t from) {
  auto& st = self->state;
  uint64_t n = 0;
  for (auto i = from; i < st.log.size(); ++i)
    n += codec::encoded_payload_size(st.log[i]) + 4;
  return n;
}

// Checks whether a write may start at all; none() if it may.
caf::error refuse_write(shard_ptr self) {
  auto& st = self->state;
  if (st.failed)
    return make_error(persist_errc::shard_failed,
                      shard_name(st.opts)
                        + " was restarted too often and refuses writes "
                          "(reads still work); see the log for the cause, "
                          "fix it and restart the process");
  if (!st.writer)
    return make_error(persist_errc::io_error,
                      shard_name(st.opts)
                        + ": its AOF writer failed and is being restarted; "
                          "retry");
  if (st.inflight_bytes > st.opts.max_inflight_bytes)
    return make_error(persist_errc::overloaded,
                      shard_name(st.opts) + " has "
                        + std::to_string(st.inflight_bytes)
                        + " bytes waiting for the disk; retry later");
  return caf::none;
}

// Fails what was applied but never handed to the writer: it is not durable,
// and the reload from disk replaces the memory it changed.
void drop_log(shard_ptr self, const caf::error& err) {
  auto& st = self->state;
  run_callbacks(st.log_done, err, self->context());
  st.log.clear();
  st.log_changes = 0;
  st.inflight_bytes -= std::exchange(st.log_size, 0);
}

// Hands everything in st.log to the writer in one request; each completion
// runs with the outcome. Called at the end of a mailbox drain (flush_atom)
// and before anything that must see every applied write in the AOF first
// (a snapshot point, a sync).
void send_log(shard_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.log.empty())
    return;
  if (!st.writer) { // it failed after these were applied
    drop_log(self, refuse_write(self));
    return;
  }
  // The writer takes the replies out of `acks` and sends them; what it
  // left there (the batch never reached it) is ours to fail.
  auto acks = std::make_shared<std::vector<durable_callback>>(
    std::exchange(st.log_done, {}));
  st.changes_since_save += std::exchange(st.log_changes, 0);
  auto bytes = std::exchange(st.log_size, 0);
  self
    ->request(st.writer, caf::infinite, append_atom::value,
              record_batch{std::move(st.log), acks})
    .then([self, bytes](uint64_t) { self->state.inflight_bytes -= bytes; },
          [self, bytes, acks](caf::error& err) {
            self->state.inflight_bytes -= bytes;
            // Memory may now hold writes that never became durable: no
            // more writes until the supervisor reloads us from disk.
            self->state.writer = nullptr;
            // Left in `acks`: the batch never reached the writer (it was
            // gone), and CAF's error would not say what became of them.
            if (!persist_code(err))
              err = make_error(persist_errc::io_error,
                               shard_name(self->state.opts)
                                 + ": its AOF writer stopped before these "
                                   "writes reached it ("
                                 + self->system().render(err) + "); retry");
            run_callbacks(acks, err, self->context());
          });
  st.log.clear();
}

// The records st.log[from..] wait for the disk; `done` runs once they are
// durable (or with the error), in the writer or here. `changes` counts the
// requests they carry (for the save rules). Their bytes count against
// max_inflight_bytes at once, so the bound holds within one mailbox drain
// too.
template <class Done>
void log_records(shard_ptr self, size_t from, Done done, uint64_t changes = 1) {
  auto& st = self->state;
  auto bytes = log_bytes(self, from);
  st.inflight_bytes += bytes;
  st.log_size += bytes;
  st.log_done.emplace_back(std::move(done));
  st.log_changes += changes;
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

void record_save(shard_ptr self, const std::string& status,
                 std::chrono::steady_clock::time_point started) {
  auto& info = self->state.info;
  info.last_save_status = status;
  info.last_rewrite_status = status;
  info.last_save_ms = codec::unix_now_ms();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - started)
              .count();
  info.last_save_duration_us = static_cast<uint64_t>(us);
  info.last_rewrite_duration_us = static_cast<uint64_t>(us);
  self->state.rewriting = false;
}

// A snapshot is always a rewrite: recovery replays the whole AOF on top of
// the snapshot, so a new snapshot must come with a fresh AOF holding exactly
// what was logged after it (codec/rewrite.hpp). Steps: freeze the keyspace
// and ask the writer for the snapshot point L in the same handler (so the
// view holds exactly the records before L); the snapshot actor writes the
// view; the writer switches to the fresh AOF and commits both.
caf::result<uint64_t> start_rewrite(shard_ptr self) {
  auto& st = self->state;
  if (auto err = refuse_write(self))
    return err;
  if (st.rewriting)
    return make_error(persist_errc::overloaded,
                      shard_name(st.opts)
                        + ": a snapshot or rewrite is already running; "
                          "retry when it finished");
  // Every write already applied must lie before the snapshot point L (the
  // view holds it), so it goes to the writer before the snapshot request.
  send_log(self);
  auto started = std::chrono::steady_clock::now();
  // O(segments): the shard keeps serving, copying a segment only when it
  // first writes to it while the view is open (codec/keyspace.hpp).
  auto view = std::make_shared<const codec::keyspace>(st.logic.freeze());
  auto now_ms = codec::unix_now_ms();
  st.info.last_save_pause_us = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started)
      .count());
  auto changes = st.changes_since_save;
  st.rewriting = true;
  auto rp = self->make_response_promise<uint64_t>();
  auto fail = [self, rp, started](caf::error& err) mutable {
    record_save(self, "err: " + self->system().render(err), started);
    rp.deliver(err);
  };
  auto writer = st.writer;
  self->request(writer, caf::infinite, snapshot_atom::value)
    .then(
      [=](uint64_t offset) mutable {
        self
          ->request(self->state.snapshotter, caf::infinite,
                    snapshot_atom::value, std::move(view), now_ms)
          .then(
            [=](uint64_t entries, uint64_t bytes, uint64_t) mutable {
              self->request(writer, caf::infinite, rewrite_atom::value, offset)
                .then(
                  [=](uint64_t) mutable {
                    auto& info = self->state.info;
                    info.last_save_entries = entries;
                    info.last_save_bytes = bytes;
                    self->state.changes_since_save -= changes;
                    record_save(self, "ok", started);
                    rp.deliver(entries);
                  },
                  fail);
            },
            fail);
      },
      fail);
  return rp;
}

// Active expiry ticks only while some key has a deadline: a shard without
// TTL keys sets no timer, so an idle process leaves its CAF workers asleep
// (each tick used to wake one every expire_interval, per shard, forever).
// Called wherever keys may have gained a deadline.
void arm_expiry(shard_ptr self) {
  auto& st = self->state;
  if (st.expiry_armed || st.logic.keys_with_deadline() == 0)
    return;
  st.expiry_armed = true;
  self->delayed_send(self, st.opts.expire_interval, expire_atom::value);
}

// A batch: every element in order, all their records in one append, one
// reply once that append is durable (messages/batch.hpp). Reads see the
// writes before them in the batch, as they would in separate messages.
caf::result<batch_replies> handle_batch(shard_ptr self, shard_batch& b) {
  auto& st = self->state;
  batch_replies out;
  out.results.resize(b.ops.size());
  std::vector<size_t> logged; // elements whose reply waits for the disk
  auto logged_before = st.log.size();
  auto now = codec::unix_now_ms();
  // On a large keyspace each write's key costs a cache miss; asked for all
  // at once, the misses overlap instead of queueing one per element.
  for (auto& op : b.ops)
    if (auto* m = std::get_if<mutation>(&op.op))
      st.logic.data().prefetch(codec::primary_key(m->record));
  for (size_t i = 0; i < b.ops.size(); ++i) {
    auto& res = out.results[i];
    if (auto* m = std::get_if<mutation>(&b.ops[i].op)) {
      if (auto err = refuse_write(self)) {
        res.error = std::move(err);
        continue;
      }
      auto before = st.log.size();
      auto r = st.logic.apply(std::move(*m), now, st.log);
      if (!r) {
        res.error = std::move(r.error());
        continue;
      }
      res.value = std::move(*r);
      if (st.log.size() != before)
        logged.push_back(i);
    } else {
      auto& q = std::get<read_request>(b.ops[i].op);
      auto r = st.logic.query(q.q, now);
      if (r)
        res.value = std::move(*r);
      else
        res.error = std::move(r.error());
    }
  }
  arm_expiry(self);
  if (st.log.size() == logged_before)
    return out;
  auto rp = self->make_response_promise();
  auto changes = logged.size();
  log_records(
    self, logged_before,
    [me = self->ctrl(), rp, out = std::move(out), logged = std::move(logged)](
      const caf::error& err, caf::execution_unit* ctx) mutable {
      // Not durable: none of the writes may be acknowledged.
      if (err)
        for (auto i : logged)
          out.results[i].error = err;
      answer_as(me, rp, caf::make_message(std::move(out)), ctx);
    },
    changes);
  return rp;
}

caf::behavior shard_impl(shard_ptr self, shard_options opts,
                         std::shared_ptr<codec::keyspace> data,
                         writer_actor writer, shard_stats info) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.logic.load(std::move(*data));
  st.writer = std::move(writer);
  st.info = std::move(info);
  st.snapshotter = spawn_snapshot_actor(self->system(), st.opts);
  self->link_to(st.snapshotter);
  arm_expiry(self);
  return {
    [self](mutation& m) -> caf::result<reply> {
      if (auto err = refuse_write(self))
        return err;
      auto& st = self->state;
      auto before = st.log.size();
      auto r = st.logic.apply(std::move(m), codec::unix_now_ms(), st.log);
      if (!r)
        return std::move(r.error());
      arm_expiry(self);
      if (st.log.size() == before)
        return std::move(*r);
      auto rp = self->make_response_promise();
      auto done = [me = self->ctrl(), rp, rep = std::move(*r)](
                    const caf::error& err, caf::execution_unit* ctx) mutable {
        answer_as(me, rp,
                  err ? caf::make_message(err)
                      : caf::make_message(std::move(rep)),
                  ctx);
      };
      log_records(self, before, std::move(done));
      return rp;
    },
    [self](shard_batch& b) { return handle_batch(self, b); },
    [self](read_request& q) -> caf::result<reply> {
      auto r = self->state.logic.query(q.q, codec::unix_now_ms());
      if (!r)
        return std::move(r.error());
      return std::move(*r);
    },
    [self](flush_atom) { send_log(self); },
    [self](sync_atom) -> caf::result<uint64_t> {
      send_log(self); // the sync must cover every write applied so far
      if (!self->state.writer)
        return refuse_write(self);
      return self->delegate(self->state.writer, sync_atom::value);
    },
    [self](snapshot_atom) { return start_rewrite(self); },
    [self](rewrite_atom) { return start_rewrite(self); },
    [self](stats_atom) -> caf::result<shard_stats> {
      auto& st = self->state;
      auto out = st.info;
      out.keys = st.logic.dbsize(codec::unix_now_ms());
      out.failed = st.failed;
      out.rewriting = st.rewriting;
      out.changes_since_save = st.changes_since_save;
      if (!st.writer)
        return out;
      auto rp = self->make_response_promise<shard_stats>();
      self->request(st.writer, caf::infinite, stats_atom::value)
        .then([rp, out](writer_stats& w) mutable {
                out.writer = w;
                rp.deliver(std::move(out));
              },
              [rp, out](caf::error&) mutable { rp.deliver(std::move(out)); });
      return rp;
    },
    [self](expire_atom) {
      auto& st = self->state;
      st.expiry_armed = false;
      if (!refuse_write(self)) {
        auto before = st.log.size();
        st.logic.expire_sample(codec::unix_now_ms(), st.opts.expire_sample,
                               st.log);
        if (st.log.size() != before)
          log_records(self, before,
                      [](const caf::error&, caf::execution_unit*) {});
      }
      arm_expiry(self);
    },
    [self](reload_atom, std::shared_ptr<codec::keyspace>& data,
           writer_actor& writer, uint32_t restarts) {
      auto& st = self->state;
      drop_log(self, make_error(persist_errc::io_error,
                                shard_name(st.opts)
                                  + ": its AOF writer failed before this "
                                    "write reached it; retry"));
      st.logic.load(std::move(*data));
      st.writer = std::move(writer);
      st.info.restarts = restarts;
      arm_expiry(self);
    },
    [self](fail_atom, uint32_t restarts) {
      self->state.failed = true;
      drop_log(self, refuse_write(self));
      self->state.writer = nullptr;
      self->state.info.restarts = restarts;
    },
  };
}

} // namespace

messages::writer_actor
spawn_shard_writer(caf::actor_system& sys, const shard_options& opts,
                   std::shared_ptr<codec::aof_writer> aof) {
  writer_config cfg;
  cfg.aof = std::move(aof);
  cfg.policy = opts.fsync;
  cfg.detached_io = opts.detached_io;
  cfg.group_commit_wait = opts.group_commit_wait;
  cfg.fs = opts.fs;
  cfg.data_dir = opts.data_dir;
  cfg.shard_id = opts.shard_id;
  cfg.key = opts.key;
  return spawn_writer(sys, std::move(cfg));
}

shard_stats recovery_stats(const shard_options& opts,
                           const codec::recovery_report& r) {
  shard_stats s;
  s.shard = opts.shard_id;
  s.recovered_snapshot = r.loaded_snapshot;
  s.recovered_records = r.records_replayed;
  s.recovered_bytes = r.aof.bytes + r.snapshot.bytes;
  s.recovery_duration_us = static_cast<uint64_t>(r.duration.count());
  s.recovery_aof_end = r.aof.present ? r.aof.end.name() : "absent";
  return s;
}

messages::shard_actor spawn_shard(caf::actor_system& sys, shard_options opts,
                                  shard_files files,
                                  messages::writer_actor& writer) {
  writer = spawn_shard_writer(sys, opts, files.aof);
  auto info = recovery_stats(opts, files.report);
  auto data = std::make_shared<codec::keyspace>(std::move(files.data));
  auto shard = sys.spawn(shard_impl, std::move(opts), std::move(data), writer,
                         std::move(info));
  return caf::actor_cast<messages::shard_actor>(shard);
}

} // namespace ember::actors
