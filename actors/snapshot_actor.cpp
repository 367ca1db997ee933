#include "actors/snapshot_actor.hpp"

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"

#include "codec/rewrite.hpp"
#include "messages/commands.hpp"
#include "messages/persist_error.hpp"

namespace ember::actors {

namespace {

caf::behavior snapshot_impl(caf::event_based_actor*, shard_options opts) {
  return {
    [opts](messages::snapshot_atom,
           std::shared_ptr<const codec::keyspace>& view,
           int64_t now_ms) -> caf::result<uint64_t, uint64_t, uint64_t> {
      auto st = codec::write_snapshot_tmp(*opts.fs, opts.data_dir,
                                          opts.shard_id, *view, now_ms,
                                          opts.key.get());
      if (!st)
        return messages::from_codec(st.err());
      return {st->entries, st->bytes,
              static_cast<uint64_t>(st->duration.count())};
    },
  };
}

} // namespace

caf::actor spawn_snapshot_actor(caf::actor_system& sys,
                                const shard_options& opts) {
  if (opts.detached_io)
    return sys.spawn<caf::detached>(snapshot_impl, opts);
  return sys.spawn(snapshot_impl, opts);
}

} // namespace ember::actors
