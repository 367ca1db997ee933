// interfaces.hpp: the typed actor interfaces (the protocol, read as a
// table of "request -> reply").
#pragma once

#include <cstdint>

#include "caf/typed_actor.hpp"
#include "caf/replies_to.hpp"

#include "messages/batch.hpp"
#include "messages/commands.hpp"
#include "messages/mutation.hpp"
#include "messages/query.hpp"
#include "messages/reply.hpp"

namespace ember::messages {

/// What application actors talk to: one per shard.
///   mutation      -> reply  once durable under the fsync policy
///   shard_batch   -> batch_replies, one per element, once every write in
///                    it is durable (messages/batch.hpp)
///   read_request  -> reply  from memory
///   sync          -> durable AOF offset, after an fsync
///   snapshot      -> entries written (a point-in-time snapshot + AOF switch)
///   rewrite       -> entries written (the same compaction, by name)
///   stats         -> shard_stats
using shard_actor = caf::typed_actor<
  caf::replies_to<mutation>::with<reply>,
  caf::replies_to<read_request>::with<reply>,
  caf::replies_to<shard_batch>::with<batch_replies>,
  caf::replies_to<sync_atom>::with<uint64_t>,
  caf::replies_to<snapshot_atom>::with<uint64_t>,
  caf::replies_to<rewrite_atom>::with<uint64_t>,
  caf::replies_to<stats_atom>::with<shard_stats>>;

/// A shard's writer: owns the AOF.
///   append, batch -> durable AOF offset covering the batch (after the fsync
///                    for `always`, after the write for everysec/no)
///   tick          -> (everysec) fsync unless one is running
///   sync          -> durable AOF offset after an fsync
///   stats         -> writer_stats
///   flush         (internal: the writer sends it to itself so that every
///                 append already in its mailbox goes out in one write)
///   snapshot      -> L, the AOF's logical size now: every record sent
///                    before this request lies in [0, L)
///   rewrite, L    -> the new AOF's size, after switching to a fresh AOF
///                    holding the records from L on and committing it with
///                    the snapshot written meanwhile (codec/rewrite.hpp)
using writer_actor = caf::typed_actor<
  caf::replies_to<append_atom, record_batch>::with<uint64_t>,
  caf::replies_to<snapshot_atom>::with<uint64_t>,
  caf::replies_to<rewrite_atom, uint64_t>::with<uint64_t>,
  caf::reacts_to<tick_atom>,
  caf::reacts_to<flush_atom>,
  caf::replies_to<sync_atom>::with<uint64_t>,
  caf::replies_to<stats_atom>::with<writer_stats>>;

} // namespace ember::messages
