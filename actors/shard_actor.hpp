// shard_actor.hpp: the actor application actors talk to, one per shard.
//
// Protocol: messages/interfaces.hpp (shard_actor). A mutation is validated
// and applied to the shard's keyspace (shard_state), its records go to the
// writer, and the reply is sent only once the writer says they are durable
// under the fsync policy. A failed validation replies an error and changes
// and logs nothing. Reads are answered from memory at once.
//
// Internal messages (from the supervisor and the shard itself):
//   (reload_atom, writer_actor)  the writer failed and was replaced: reload
//                                the keyspace from disk (memory may hold
//                                writes that never became durable) and go on
//   (fail_atom)                  restart intensity exceeded: refuse writes
//                                with shard_failed, keep serving reads
//   (expire_atom)                active expiry tick, sent to itself only
//                                while some key has a deadline
//
// While its writer is down the shard refuses writes with io_error; it never
// leaves a request without a reply.
#pragma once

#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/fwd.hpp"

#include "actors/shard_files.hpp"
#include "actors/shard_options.hpp"
#include "messages/interfaces.hpp"

// The recovered keyspace moves from the supervisor to its shard in-process
// only; it never crosses the network.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<ember::codec::keyspace>)

namespace ember::actors {

using reload_atom = caf::atom_constant<caf::atom("reload")>;
using fail_atom = caf::atom_constant<caf::atom("fail")>;

/// Spawns a shard serving `files` (recovered state and open AOF) with a
/// writer of its own (returned through `writer`).
messages::shard_actor spawn_shard(caf::actor_system& sys, shard_options opts,
                                  shard_files files,
                                  messages::writer_actor& writer);

/// Spawns a writer for an open AOF under `opts`.
messages::writer_actor spawn_shard_writer(caf::actor_system& sys,
                                          const shard_options& opts,
                                          std::shared_ptr<codec::aof_writer>);

} // namespace ember::actors
