// app/malloc_info.hpp: the allocator a process runs on, found at run time,
// and the bytes it has handed out. This suite links the allocator emberd
// gets (EMBER_JEMALLOC), so it checks what emberd will report.
#define CAF_SUITE malloc_info
#include "caf/test/unit_test_impl.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include "app/malloc_info.hpp"

using namespace ember::app;

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
  // A sanitizer's malloc is neither jemalloc's nor glibc's: nothing counts.
#if defined(EMBER_WITH_JEMALLOC)                                          \
  || (defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)                \
      && !defined(__SANITIZE_THREAD__))
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
