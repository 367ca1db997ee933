#include "app/front_door.hpp"

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/io/broker.hpp"
#include "caf/io/middleman.hpp"
#include "caf/io/receive_policy.hpp"
#include "caf/io/system_messages.hpp"

#include <spdlog/spdlog.h>

#include "app/info_report.hpp"
#include "app/read_sizer.hpp"
#include "app/resp_parser.hpp"
#include "app/resp_reply.hpp"
#include "app/socket_sender.hpp"
#include "messages/persist_error.hpp"

namespace ember::app {

using namespace messages;

namespace {

// The reply of one command, in the connection's order. Filled when every
// part answered; shared with the callbacks that fill it, so a connection
// that closes meanwhile leaves nothing dangling.
struct pending_reply {
  std::string text;
  bool ready = false;
  bool close_after = false; // protocol error or SHUTDOWN
  size_t waiting = 0;
  std::vector<batch_result> results;
  command_finisher finish;

  void complete(std::string t) {
    text = std::move(t);
    ready = true;
  }

  void fill(size_t i, batch_result r) {
    results[i] = std::move(r);
    if (--waiting == 0)
      complete(finish(results));
  }
};

using reply_ptr = std::shared_ptr<pending_reply>;

struct connection {
  explicit connection(resp::parser_limits limits) : parser(limits) {}
  resp::parser parser;
  read_sizer reads;
  socket_sender out;
  uint64_t write_turn = 0; // the last turn that queued a write of ours
  std::deque<reply_ptr> queue; // replies not yet written, in request order
  bool closing = false;
};

// What goes to one shard in one request: operations read from one or more
// connections, and the connections to write to once it is answered.
struct outgoing_batch {
  shard_batch batch;
  std::vector<std::pair<reply_ptr, size_t>> targets; // (reply, part index)
  std::vector<caf::io::connection_handle> conns;
};

struct door_state {
  front_door_config cfg;
  std::map<caf::io::connection_handle, connection> conns;
  caf::io::accept_handle acceptor;
  bool stopping = false;
  caf::response_promise stopped; // delivered once every connection closed
  uint64_t total_commands = 0;
  uint64_t rejected_connections = 0;
  std::vector<std::string> args; // scratch for the parser
  // Writes read but not yet sent, per shard (with whatever follows them
  // on their connection). Every read of a turn of the I/O loop adds to
  // them, and a flush_atom to ourselves, handled after that turn's reads,
  // sends them: one shard request per turn instead of one per read, which
  // is what unpipelined clients cost most. A read that no write of its
  // connection precedes in the turn goes out at once, so no read waits for
  // another client's writes to become durable.
  std::vector<outgoing_batch> turn_out;
  uint64_t turn = 1;
  bool flush_scheduled = false;

  static inline const char* name = "ember.front_door";
};

using door_ptr = caf::io::stateful_broker<door_state>*;

resp::parser_limits limits_of(const front_door_config& cfg) {
  resp::parser_limits l;
  l.max_request_bytes = static_cast<size_t>(cfg.max_request_bytes);
  l.max_bulk_bytes = std::min(l.max_bulk_bytes, l.max_request_bytes);
  return l;
}

void finish_stop_if_idle(door_ptr self) {
  auto& st = self->state;
  if (st.stopping && st.conns.empty() && st.stopped.pending())
    st.stopped.deliver(true);
}

void close_connection(door_ptr self, caf::io::connection_handle hdl) {
  self->close(hdl);
  self->state.conns.erase(hdl);
  finish_stop_if_idle(self);
}

// Sends `text` to `hdl`: straight to its socket where it can, the rest
// through CAF's write buffer (see socket_sender). Nothing once CAF let the
// connection go: its descriptor lives as long as CAF's scribe, and a
// reused descriptor number must never get another client's reply.
void send_text(door_ptr self, caf::io::connection_handle hdl, connection& c,
               const std::string& text) {
  if (!self->valid(hdl))
    return;
  auto sent = c.out.send_now(text.data(), text.size());
  if (sent == text.size())
    return;
  auto& buf = self->wr_buf(hdl);
  buf.insert(buf.end(), text.begin() + static_cast<ptrdiff_t>(sent),
             text.end());
  c.out.handed_to_caf(text.size() - sent);
  self->flush(hdl);
}

// Sends every reply at the head of the queue that is complete, together.
void pump(door_ptr self, caf::io::connection_handle hdl) {
  auto i = self->state.conns.find(hdl);
  if (i == self->state.conns.end())
    return;
  auto& c = i->second;
  std::string out;
  while (!c.queue.empty() && c.queue.front()->ready) {
    auto& r = *c.queue.front();
    if (out.empty())
      out = std::move(r.text); // one reply, the usual case: no copy
    else
      out += r.text;
    c.closing = c.closing || r.close_after;
    c.queue.pop_front();
  }
  if (!out.empty())
    send_text(self, hdl, c, out);
  if (c.queue.empty() && (c.closing || self->state.stopping))
    close_connection(self, hdl);
}

// A shard handle stopped answering (the supervisor restarted the shard):
// fetch the current one for the next requests.
void refresh_shard(door_ptr self, uint16_t shard) {
  self
    ->request(self->state.cfg.supervisor, caf::infinite, shard_atom::value,
              shard)
    .then([self, shard](shard_actor& h) { self->state.cfg.shards[shard] = h; },
          [](caf::error&) {});
}

// Sends every shard its batch in `out`, leaving `out` empty.
void send_batches(door_ptr self, std::vector<outgoing_batch>& out) {
  for (uint16_t s = 0; s < out.size(); ++s) {
    auto& ob = out[s];
    if (ob.batch.ops.empty())
      continue;
    auto targets = std::exchange(ob.targets, {});
    auto conns = std::exchange(ob.conns, {});
    self
      ->request(self->state.cfg.shards[s], caf::infinite,
                std::exchange(ob.batch, {}))
      .then(
        [self, targets, conns](batch_replies& r) {
          for (size_t i = 0; i < targets.size(); ++i)
            targets[i].first->fill(targets[i].second,
                                   std::move(r.results.at(i)));
          for (auto hdl : conns)
            pump(self, hdl);
        },
        [self, targets, conns, s](caf::error& err) {
          if (!persist_code(err))
            refresh_shard(self, s);
          for (auto& [reply, index] : targets)
            reply->fill(index, batch_result{{}, err});
          for (auto hdl : conns)
            pump(self, hdl);
        });
  }
}

// Sends what this turn's reads queued (see door_state::turn_out).
void end_turn(door_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  ++st.turn;
  send_batches(self, st.turn_out);
}

// Adds `op` (part `part` of reply `r`, read from `hdl`) to its shard's
// batch in `out`.
void add_part(std::vector<outgoing_batch>& out, caf::io::connection_handle hdl,
              uint16_t shard, batch_op op, const reply_ptr& r, size_t part) {
  if (out.size() <= shard)
    out.resize(shard + 1u);
  auto& ob = out[shard];
  ob.batch.ops.push_back(std::move(op));
  ob.targets.emplace_back(r, part);
  if (ob.conns.empty() || ob.conns.back() != hdl)
    ob.conns.push_back(hdl);
}

// Routes `part` (part `index` of reply `r`, read from `hdl`): into this
// turn's batches if it is a write or follows one of its connection's
// writes in this turn, else into `now` (sent at the end of this read).
void queue_part(door_ptr self, connection& c, caf::io::connection_handle hdl,
                std::vector<outgoing_batch>& now, command_part& part,
                const reply_ptr& r, size_t index) {
  auto& st = self->state;
  if (std::holds_alternative<mutation>(part.op.op))
    c.write_turn = st.turn;
  if (c.write_turn != st.turn) {
    add_part(now, hdl, part.shard, std::move(part.op), r, index);
    return;
  }
  add_part(st.turn_out, hdl, part.shard, std::move(part.op), r, index);
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

// The same command to every shard; `done` gets the first error (or none).
template <class Atom>
void to_every_shard(door_ptr self, Atom atom,
                    std::function<void(caf::error)> done) {
  auto& shards = self->state.cfg.shards;
  auto left = std::make_shared<size_t>(shards.size());
  auto first = std::make_shared<caf::error>();
  for (auto& shard : shards)
    self->request(shard, caf::infinite, atom)
      .then(
        [left, first, done](uint64_t) {
          if (--*left == 0)
            done(std::move(*first));
        },
        [left, first, done](caf::error& err) {
          if (!*first)
            *first = err;
          if (--*left == 0)
            done(std::move(*first));
        });
}

void run_admin(door_ptr self, caf::io::connection_handle hdl,
               command_plan& plan, const reply_ptr& r) {
  auto& st = self->state;
  auto deliver = [self, hdl, r](std::string text) {
    r->complete(std::move(text));
    pump(self, hdl);
  };
  auto render_error = [](const caf::error& err) {
    std::string out;
    append_error(out, err);
    return out;
  };
  switch (plan.admin) {
    case admin_action::none:
      return;
    case admin_action::info: {
      info_facts facts;
      facts.server = st.cfg.server_info;
      facts.connected_clients = st.conns.size();
      facts.total_commands = st.total_commands;
      facts.rejected_connections = st.rejected_connections;
      facts.started_ms = st.cfg.started_ms;
      self->request(st.cfg.supervisor, caf::infinite, stats_atom::value)
        .then(
          [deliver, facts, section = plan.argument](
            std::vector<shard_stats>& stats) {
            std::string out;
            append_bulk(out, info_report(section, facts, stats));
            deliver(std::move(out));
          },
          [deliver, render_error](caf::error& err) {
            deliver(render_error(err));
          });
      return;
    }
    case admin_action::save:
      to_every_shard(self, snapshot_atom::value,
                     [deliver, render_error](caf::error err) {
                       deliver(err ? render_error(err) : "+OK\r\n");
                     });
      return;
    case admin_action::bgsave:
    case admin_action::bgrewriteaof: {
      bool save = plan.admin == admin_action::bgsave;
      auto log = [save](caf::error err) {
        if (err)
          spdlog::warn("{} failed: {}", save ? "BGSAVE" : "BGREWRITEAOF",
                       caf::actor_system_config::render(err));
      };
      if (save)
        to_every_shard(self, snapshot_atom::value, log);
      else
        to_every_shard(self, rewrite_atom::value, log);
      deliver(save ? "+Background saving started\r\n"
                   : "+Background append only file rewriting started\r\n");
      return;
    }
    case admin_action::shutdown:
      // Like Redis: no reply, the connection closes as the server stops.
      spdlog::info("SHUTDOWN requested by a client");
      r->close_after = true;
      r->complete({});
      if (st.cfg.request_shutdown)
        st.cfg.request_shutdown();
      return;
  }
}

void on_data(door_ptr self, caf::io::new_data_msg& msg) {
  auto& st = self->state;
  auto i = st.conns.find(msg.handle);
  if (i == st.conns.end() || i->second.closing || st.stopping)
    return; // stopping: what was read before is answered, nothing new
  auto& c = i->second;
  if (c.reads.on_read(msg.buf.size()))
    self->configure_read(msg.handle,
                         caf::io::receive_policy::at_most(c.reads.size()));
  c.parser.feed(std::string_view{msg.buf.data(), msg.buf.size()});
  std::vector<outgoing_batch> now;
  for (;;) {
    auto status = c.parser.next(st.args);
    if (status == resp::parse_status::incomplete)
      break;
    auto r = std::make_shared<pending_reply>();
    c.queue.push_back(r);
    if (status == resp::parse_status::error) {
      std::string text;
      append_error_line(text, c.parser.error());
      r->close_after = true;
      r->complete(std::move(text));
      break;
    }
    ++st.total_commands;
    auto plan = plan_command(st.args, st.cfg.commands);
    if (plan.admin != admin_action::none) {
      // Everything before it must reach the shards first.
      send_batches(self, now);
      end_turn(self);
      run_admin(self, msg.handle, plan, r);
      if (r->close_after)
        break;
      continue;
    }
    if (plan.parts.empty()) {
      r->complete(std::move(plan.immediate));
      continue;
    }
    r->waiting = plan.parts.size();
    r->results.resize(plan.parts.size());
    r->finish = std::move(plan.finish);
    for (size_t p = 0; p < plan.parts.size(); ++p)
      queue_part(self, c, msg.handle, now, plan.parts[p], r, p);
  }
  send_batches(self, now);
  pump(self, msg.handle);
}

caf::behavior front_door(door_ptr self, front_door_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
    [self](open_atom) -> caf::result<uint16_t> {
      auto& cfg = self->state.cfg;
      auto res = self->add_tcp_doorman(cfg.port, cfg.bind.c_str(), true);
      if (!res)
        return make_error(persist_errc::io_error,
                          "cannot listen on " + cfg.bind + ":"
                            + std::to_string(cfg.port) + ": "
                            + self->system().render(res.error())
                            + "; choose another server.bind/server.port");
      self->state.acceptor = res->first;
      return res->second;
    },
    [self](stop_atom) -> caf::result<bool> {
      auto& st = self->state;
      st.stopping = true;
      st.stopped = self->make_response_promise();
      if (st.acceptor != caf::io::accept_handle{})
        self->close(st.acceptor);
      std::vector<caf::io::connection_handle> idle;
      for (auto& [hdl, c] : st.conns)
        if (c.queue.empty())
          idle.push_back(hdl);
      for (auto hdl : idle)
        close_connection(self, hdl);
      finish_stop_if_idle(self);
      return st.stopped;
    },
    [self](caf::io::new_connection_msg& msg) {
      auto& st = self->state;
      if (st.stopping) {
        self->close(msg.handle);
        return;
      }
      if (st.conns.size() >= st.cfg.max_clients) {
        ++st.rejected_connections;
        static constexpr std::string_view full
          = "-ERR max number of clients reached (server.max-clients)\r\n";
        self->write(msg.handle, full.size(), full.data());
        self->flush(msg.handle);
        self->close(msg.handle);
        return;
      }
      auto& c = st.conns.emplace(msg.handle, connection{limits_of(st.cfg)})
                  .first->second;
      // CAF's default multiplexer names a connection by its descriptor;
      // its local port is the listening one.
      c.out = socket_sender::for_socket(static_cast<int>(msg.handle.id()),
                                        self->local_port(st.acceptor),
                                        self->remote_port(msg.handle));
      if (c.out.direct())
        self->ack_writes(msg.handle, true); // to learn when CAF's buffer
                                            // is empty again
      self->configure_read(msg.handle, caf::io::receive_policy::at_most(
                                         read_sizer::min_size));
    },
    [self](caf::io::new_data_msg& msg) { on_data(self, msg); },
    [self](flush_atom) { end_turn(self); },
    [self](caf::io::data_transferred_msg& msg) {
      auto i = self->state.conns.find(msg.handle);
      if (i != self->state.conns.end())
        i->second.out.caf_wrote(msg.written);
    },
    [self](caf::io::connection_closed_msg& msg) {
      // Replies still owed are dropped; their writes still complete.
      self->state.conns.erase(msg.handle);
      finish_stop_if_idle(self);
    },
    [](caf::io::acceptor_closed_msg&) {},
  };
}

} // namespace

caf::actor spawn_front_door(caf::actor_system& sys, front_door_config cfg) {
  return sys.middleman().spawn_broker(front_door, std::move(cfg));
}

} // namespace ember::app
