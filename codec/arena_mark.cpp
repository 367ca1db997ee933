#include "codec/arena_mark.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <vector>

namespace ember::codec {

void free_deleter::operator()(void* p) const noexcept {
  std::free(p);
}

held_piece raise_arena_mark(uint64_t bytes) {
  // Under the mmap threshold (128 KiB at least), so it comes from the arena.
  constexpr uint64_t piece = 64 * 1024;
  constexpr uint64_t max_bytes = uint64_t{1} << 30;
  bytes = std::min(bytes, max_bytes);
  std::vector<void*> pieces;
  try {
    pieces.reserve(bytes / piece + 1);
  } catch (const std::bad_alloc&) {
    return {};
  }
  for (uint64_t done = 0; done < bytes; done += piece) {
    auto* p = std::malloc(piece);
    if (!p)
      break;
    pieces.push_back(p);
  }
  if (pieces.empty())
    return {};
  held_piece last{pieces.back()};
  pieces.pop_back();
  // In order: each piece merges with the next, so the arena sees one big
  // free chunk rather than thousands.
  for (auto* p : pieces)
    std::free(p);
  return last;
}

} // namespace ember::codec
