// list_ops.hpp: list operations shared by replay and the live shard.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace ember::codec {

/// Removes the first `limit` elements equal to `v`, keeping the order of
/// the rest, and adds how many it removed to `removed`; returns the new
/// end. Works on reverse iterators too, which is how LREM with a negative
/// count removes from the tail.
template <class It>
It remove_first_n(It first, It last, const std::string& v, uint64_t limit,
                  uint64_t& removed) {
  It out = first;
  uint64_t n = 0;
  for (; first != last; ++first) {
    if (n < limit && *first == v) {
      ++n;
      continue;
    }
    if (out != first)
      *out = std::move(*first);
    ++out;
  }
  removed += n;
  return out;
}

} // namespace ember::codec
