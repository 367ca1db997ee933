// malloc_info.hpp: which allocator this process runs on, and how many
// bytes it has handed out.
//
// Why at run time: emberd and ember-bench link jemalloc unless built with
// EMBER_JEMALLOC=OFF or under a sanitizer, an application embedding the
// shards brings its own, and anyone may preload another one. INFO, the startup
// log and the bench report the allocator that actually serves malloc, not
// the one the build meant.
#pragma once

#include <cstdint>
#include <string>

namespace ember::app {

/// "jemalloc-5.3.0" when jemalloc's mallctl(3) is in the process (the
/// spelling of Redis's INFO field mem_allocator), else "libc".
std::string mem_allocator();

/// Bytes allocated and not yet freed, as the allocator counts them
/// (jemalloc: stats.allocated; glibc: mallinfo2's uordblks and hblkhd, all
/// arenas and the blocks mapped on their own).
/// Each block counts with its size class or chunk overhead. 0 from a
/// jemalloc built without statistics (Debian's keeps them).
uint64_t heap_bytes_in_use();

/// Hands the memory the allocator holds freed back to the system now
/// (jemalloc: every arena's dirty pages, arena.<all>.purge; glibc:
/// malloc_trim), instead of over the next seconds from inside whatever
/// allocates then. For a measurement that must not pay for an earlier
/// one's garbage. Safe from any thread.
void release_free_memory();

} // namespace ember::app
