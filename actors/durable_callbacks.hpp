// durable_callbacks.hpp: running the replies that wait for the disk
// (messages::durable_callback) in whichever actor learns the outcome
// first: the writer after a write(2), its syncer after an fsync, the shard
// when a batch never reached the writer.
#pragma once

#include <utility>
#include <vector>

#include "caf/actor_control_block.hpp"
#include "caf/error.hpp"
#include "caf/response_promise.hpp"

#include "messages/mutation.hpp"

namespace ember::actors {

/// Runs every callback in `cbs` with `err` as actor `by`, and empties
/// `cbs`. Only from inside one of `by`'s handlers.
inline void run_callbacks(std::vector<messages::durable_callback>& cbs,
                          const caf::error& err,
                          const caf::strong_actor_ptr& by) {
  auto list = std::exchange(cbs, {});
  for (auto& cb : list)
    cb(err, by);
}

/// Same for a shared list; a null list holds none.
inline void run_callbacks(const messages::durable_callbacks& cbs,
                          const caf::error& err,
                          const caf::strong_actor_ptr& by) {
  if (cbs)
    run_callbacks(*cbs, err, by);
}

/// The request `rp` answers, answered by actor `by` instead (`rp` itself
/// may only be used by the actor that made it). Deliver it once, from
/// inside one of `by`'s handlers.
inline caf::response_promise answered_by(const caf::strong_actor_ptr& by,
                                         const caf::response_promise& rp) {
  return {by, rp.source(), rp.stages(), rp.id()};
}

} // namespace ember::actors
