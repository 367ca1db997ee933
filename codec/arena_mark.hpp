// arena_mark.hpp: readies the calling thread's malloc arena for a replay
// that is about to allocate a known amount.
//
// Why: glibc gives each new thread an arena of its own and grows that
// arena's heap one page at a time past the highest point it reached so
// far, with an mprotect(2) per step. Replaying 1M SETs on such a thread
// (split_replay's helper, recover_all's threads, a shard restarted on an
// actor's thread) made ~19,000 of them (strace), tens of milliseconds of
// system time. Allocating the bytes once, 64 KiB at a time, and freeing
// them again raises the mark in every heap they fill: the pages are not
// touched, but they stay writable, so the replay's own growth below the
// mark makes no system call. The main arena grows by brk(2) with a 128 KiB
// pad and does not need this; there it costs a few brk calls.
//
// With another allocator (or another libc) this is a few thousand mallocs
// and frees and nothing else.
#pragma once

#include <cstdint>
#include <memory>

namespace ember::codec {

struct free_deleter {
  void operator()(void* p) const noexcept;
};

/// One allocation the caller holds until its replay is over: while it is
/// held, the newest heap is not empty, and glibc does not unmap it (with its
/// mark). Empty when nothing was allocated.
using held_piece = std::unique_ptr<void, free_deleter>;

/// Raises the calling thread's arena mark by about `bytes` (at most 1 GiB).
/// Never fails: out of memory, it stops early.
held_piece raise_arena_mark(uint64_t bytes);

} // namespace ember::codec
