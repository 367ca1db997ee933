#include "app/malloc_info.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <cstddef>

namespace ember::app {

namespace {

using mallctl_fn = int (*)(const char*, void*, size_t*, void*, size_t);

// jemalloc's control interface, if jemalloc is the process's allocator.
mallctl_fn find_mallctl() {
  static const auto fn =
    reinterpret_cast<mallctl_fn>(::dlsym(RTLD_DEFAULT, "mallctl"));
  return fn;
}

} // namespace

std::string mem_allocator() {
  auto* mallctl = find_mallctl();
  if (!mallctl)
    return "libc";
  const char* version = nullptr;
  size_t len = sizeof version;
  if (mallctl("version", &version, &len, nullptr, 0) != 0 || !version)
    return "jemalloc";
  std::string v = version; // "5.3.0-0-g54eaed1d..."
  return "jemalloc-" + v.substr(0, v.find('-'));
}

uint64_t heap_bytes_in_use() {
  if (auto* mallctl = find_mallctl()) {
    // Its statistics are refreshed when the epoch advances.
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    mallctl("epoch", &epoch, &len, &epoch, len);
    size_t allocated = 0;
    len = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) == 0)
      return allocated;
    return 0;
  }
  auto m = mallinfo2();
  return m.uordblks + m.hblkhd; // the arenas' blocks, and the mmap(2)ed ones
}

void release_free_memory() {
  if (auto* mallctl = find_mallctl()) {
    // 4096 is MALLCTL_ARENAS_ALL (jemalloc/jemalloc_macros.h).
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    return;
  }
  malloc_trim(0);
}

} // namespace ember::app
