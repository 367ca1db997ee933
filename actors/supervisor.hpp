// supervisor.hpp: starts, times and restarts the shards of one process.
//
// start_supervisor() first recovers every shard (synchronously, so a
// refused recovery is an error the caller sees before anything serves;
// several shards at once on a machine with several CPUs),
// then spawns per shard a writer and a shard actor, and a supervisor that
//   - sends the everysec tick to every writer once a second;
//   - monitors writers and shards: a writer that stops with an error is
//     replaced by a new one on the re-verified AOF and its shard reloads
//     from disk; a shard that crashes is recovered and respawned;
//   - counts restarts per shard: more than max_restarts within
//     restart_period marks the shard failed (writes get shard_failed,
//     reads keep working) instead of flapping;
//   - answers (shard_atom, N) with shard N's current handle and (stats_atom)
//     with every shard's stats.
#pragma once

#include <cstdint>
#include <vector>

#include "caf/expected.hpp"
#include "caf/fwd.hpp"
#include "caf/typed_actor.hpp"

#include "actors/shard_options.hpp"
#include "messages/interfaces.hpp"

namespace ember::actors {

/// Asks for a shard's current writer (operators and tests).
using writer_atom = caf::atom_constant<caf::atom("writer")>;

using supervisor_actor = caf::typed_actor<
  caf::reacts_to<messages::tick_atom>, // internal: once a second
  caf::replies_to<messages::shard_atom, uint16_t>::with<messages::shard_actor>,
  caf::replies_to<writer_atom, uint16_t>::with<messages::writer_actor>,
  caf::replies_to<messages::stats_atom>::with<std::vector<messages::shard_stats>>>;

/// Recovers every shard, then spawns them under a supervisor. Fails with
/// the first shard's recovery error in shard order (corrupt files under the
/// refuse policy, a wrong key, I/O errors; the other shards were recovered
/// too, which changes nothing a later start would not). Shards recover side
/// by side on up to `recovery_threads` threads of their own, all joined
/// before this returns (0: one per CPU).
caf::expected<supervisor_actor>
start_supervisor(caf::actor_system& sys, std::vector<shard_options> shards,
                 size_t recovery_threads = 0);

} // namespace ember::actors
