// app/malloc_info.hpp: the allocator a process runs on, found at run time,
// and the bytes it has handed out. This suite links the allocator emberd
// gets (EMBER_JEMALLOC), so it checks what emberd will report.
#define CAF_SUITE malloc_info
#include "caf/test/unit_test_impl.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "app/malloc_info.hpp"

using namespace ember::app;

// A sanitizer's malloc is neither jemalloc's nor glibc's: it has nothing
// to count or to give back.
#if defined(EMBER_WITH_JEMALLOC)                                          \
  || (defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)                \
      && !defined(__SANITIZE_THREAD__))
#define EMBER_COUNTED_MALLOC 1
#endif

CAF_TEST(the allocator named is the one linked) {
  auto name = mem_allocator();
#ifdef EMBER_WITH_JEMALLOC
  CAF_CHECK_EQUAL(name.rfind("jemalloc-", 0), 0u);
  CAF_CHECK_GREATER(name.size(), std::strlen("jemalloc-"));
#else
  CAF_CHECK_EQUAL(name, "libc");
#endif
}

CAF_TEST(heap bytes in use follow an allocation and its release) {
#ifdef EMBER_COUNTED_MALLOC
  constexpr uint64_t size = 4 << 20;
  auto before = heap_bytes_in_use();
  auto* p = static_cast<char*>(std::malloc(size));
  CAF_REQUIRE(p != nullptr);
  std::memset(p, 1, size); // not optimized away
  auto during = heap_bytes_in_use();
  CAF_CHECK_GREATER_OR_EQUAL(during, before + size);
  CAF_CHECK_LESS(during, before + 2 * size);
  std::free(p);
  CAF_CHECK_LESS(heap_bytes_in_use(), before + size / 4);
#else
  CAF_MESSAGE("a sanitizer's malloc: heap_bytes_in_use is not counted here");
#endif
}

#ifdef EMBER_COUNTED_MALLOC

namespace {

// Resident bytes of this process (/proc/self/statm).
uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  unsigned long size = 0, resident = 0;
  auto n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? uint64_t(resident) * uint64_t(sysconf(_SC_PAGESIZE)) : 0;
}

} // namespace

#endif

CAF_TEST(freed memory goes back to the system at once when asked) {
#ifdef EMBER_COUNTED_MALLOC
  // 64 MiB in 1 KiB blocks, touched, then freed below a block that stays:
  // neither allocator returns that memory by itself right away (glibc
  // keeps it in its bins under the live block, jemalloc decays it over
  // seconds).
  constexpr size_t block = 1024;
  constexpr size_t count = 64 * 1024;
  std::vector<void*> blocks;
  blocks.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto* p = std::malloc(block);
    CAF_REQUIRE(p != nullptr);
    std::memset(p, 1, block);
    blocks.push_back(p);
  }
  auto* fence = std::malloc(block);
  CAF_REQUIRE(fence != nullptr);
  std::memset(fence, 1, block);
  for (auto* p : blocks)
    std::free(p);
  auto held = resident_bytes();
  release_free_memory();
  auto after = resident_bytes();
  CAF_MESSAGE("resident " << held / 1024 << " KiB -> " << after / 1024
                          << " KiB");
  CAF_CHECK_LESS(after + (32u << 20), held);
  std::free(fence);
#else
  CAF_MESSAGE("a sanitizer's malloc: release_free_memory has nothing to ask");
#endif
}
