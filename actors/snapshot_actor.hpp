// snapshot_actor.hpp: writes point-in-time snapshots off the shard's thread.
//
//   (snapshot_atom, view, now_ms) -> (entries, bytes, duration_us)
//
// `view` is a frozen view of the keyspace (keyspace::freeze()) taken at the
// moment the snapshot was requested, so the shard keeps serving while the
// snapshot is written. The snapshot goes to shard-N.snap.tmp, fsynced; the
// shard then asks its writer to switch AOFs, which commits the pair (see
// codec/rewrite.hpp). Runs on a thread of its own by default: it blocks on
// file I/O.
#pragma once

#include <memory>

#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/fwd.hpp"

#include "actors/shard_options.hpp"
#include "codec/keyspace.hpp"

// In-process only: the keyspace view never crosses the network.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const ember::codec::keyspace>)

namespace ember::actors {

caf::actor spawn_snapshot_actor(caf::actor_system& sys,
                                const shard_options& opts);

} // namespace ember::actors
