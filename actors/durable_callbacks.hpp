// durable_callbacks.hpp: running the replies that wait for the disk
// (messages::durable_callback) in whichever actor learns the outcome
// first: the writer after a write(2) or an fsync, the shard when a batch
// never reached the writer.
#pragma once

#include <utility>
#include <vector>

#include "caf/actor_control_block.hpp"
#include "caf/error.hpp"
#include "caf/execution_unit.hpp"
#include "caf/mailbox_element.hpp"
#include "caf/message.hpp"
#include "caf/response_promise.hpp"

#include "messages/mutation.hpp"

namespace ember::actors {

/// Runs every callback in `cbs` with `err`, and empties `cbs`. `ctx` is
/// the running actor's own execution context: call only from inside one
/// of its handlers.
inline void run_callbacks(std::vector<messages::durable_callback>& cbs,
                          const caf::error& err, caf::execution_unit* ctx) {
  auto list = std::exchange(cbs, {});
  for (auto& cb : list)
    cb(err, ctx);
}

/// Same for a shared list; a null list holds none.
inline void run_callbacks(const messages::durable_callbacks& cbs,
                          const caf::error& err, caf::execution_unit* ctx) {
  if (cbs)
    run_callbacks(*cbs, err, ctx);
}

/// Answers the request `rp` stands for with `msg`, as `responder` (the
/// actor that made `rp`) would by delivering it, but from another actor:
/// `ctx` is that actor's own execution context (a response_promise may
/// only be delivered by its own actor, whose context it uses). The
/// clients keep seeing the shard as the one who answers; the writer that
/// sends the reply stays an internal actor. Deliver once.
inline void answer_as(const caf::strong_actor_ptr& responder,
                      const caf::response_promise& rp, caf::message msg,
                      caf::execution_unit* ctx) {
  auto stages = rp.stages();
  if (!stages.empty()) { // the same path response_promise::deliver takes
    auto next = std::move(stages.back());
    stages.pop_back();
    next->enqueue(caf::make_mailbox_element(rp.source(), rp.id(),
                                            std::move(stages), std::move(msg)),
                  ctx);
    return;
  }
  if (rp.source())
    rp.source()->enqueue(caf::make_mailbox_element(responder,
                                                   rp.id().response_id(), {},
                                                   std::move(msg)),
                         ctx);
}

} // namespace ember::actors
