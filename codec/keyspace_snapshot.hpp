// keyspace_snapshot.hpp: adds every entry of a keyspace to a snapshot, in
// segment order, on two threads when the keyspace is big.
//
// Why two threads: the walk over a big keyspace waits on memory, not on the
// CPU. Each entry's hash node and value are cache misses, and in a KVM guest
// often TLB misses with a nested page walk (BENCHMARKS.md), so a second
// thread walking other segments meanwhile adds its own misses in flight.
//
// The file is the same whatever the thread count: entries come in
// keyspace::for_each order. Segments are taken in groups of 8; the helper
// thread encodes the odd groups into blocks of about 256 KiB, and the
// caller's thread encodes the even groups straight into the writer and,
// after each, adds the helper's blocks of the group that follows. At most 8
// blocks wait, so memory stays bounded (about 2 MiB plus one entry per
// block) whatever the keyspace's size.
//
// One thread is used for an encrypted snapshot (v3 seals entry by entry in
// the writer), for a keyspace under 65,536 keys, on a one-CPU machine, or
// when the thread cannot start.
#pragma once

#include <cstdint>

#include "codec/keyspace.hpp"
#include "codec/result.hpp"
#include "codec/snapshot_writer.hpp"

namespace ember::codec {

/// Adds every entry of `ks` to `w` (relative expiries taken at `now_ms`).
/// `ks` must not change until this returns: a view from keyspace::freeze(),
/// or a keyspace its owner leaves alone meanwhile. The helper thread, if
/// one started, has stopped when this returns. Errors: the writer's (the
/// snapshot is then abandoned), or running out of memory while encoding.
status add_keyspace(snapshot_writer& w, const keyspace& ks, int64_t now_ms);

} // namespace ember::codec
