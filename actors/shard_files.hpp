// shard_files.hpp: bringing a shard's files to a state it can serve from.
//
// open_shard_files() runs before a shard serves (and again after its writer
// failed): recover the keyspace from shard-N.snap + shard-N.aof under the
// corruption policy, then open the AOF for appending exactly where the last
// whole record ends. Snapshot TTLs are anchored at the snapshot's write
// time (its mtime), so time spent down counts against them.
//
// With on-corruption=salvage a damaged file is never overwritten: it is
// first copied aside as <file>.damaged-<unix ms> (fsynced), then the shard
// continues from what was readable.
#pragma once

#include <memory>

#include "actors/shard_options.hpp"
#include "codec/aof_writer.hpp"
#include "codec/recovery.hpp"

namespace ember::actors {

struct shard_files {
  codec::keyspace data;
  codec::recovery_report report;
  std::shared_ptr<codec::aof_writer> aof;
  std::vector<std::string> set_aside; ///< copies of damaged files
};

codec::result<shard_files> open_shard_files(const shard_options& opts);

} // namespace ember::actors
