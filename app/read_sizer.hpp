// read_sizer.hpp: how many bytes one connection asks for per network read.
//
// Why not a fixed size: CAF 0.17's stream hands a read's bytes to the
// broker by shrinking its read buffer to them, and before the next read
// resizes it back to the size asked for, zero-filling the difference. A
// fixed 64 KiB re-zeroed ~64 KiB per request for an unpipelined client,
// 8% of the I/O thread's time (BENCHMARKS.md). So a connection starts at
// min_size, doubles while its reads fill the buffer (a deep pipeline, a
// large value) up to max_size, and halves again after a run of reads that
// used a quarter of it or less.
//
// Plain value type: one per connection, used on the broker's thread.
#pragma once

#include <cstddef>

namespace ember::app {

class read_sizer {
public:
  static constexpr size_t min_size = 4u << 10;
  static constexpr size_t max_size = 64u << 10;
  /// Reads in a row at a quarter of size() or less before it halves.
  static constexpr unsigned shrink_after = 16;

  /// Bytes to ask for in the next read.
  size_t size() const {
    return size_;
  }

  /// Notes a read of `n` bytes; true when size() changed (the caller
  /// reconfigures the connection's reads).
  bool on_read(size_t n) {
    if (n >= size_) {
      small_reads_ = 0;
      if (size_ >= max_size)
        return false;
      size_ *= 2;
      return true;
    }
    if (n > size_ / 4 || size_ <= min_size) {
      small_reads_ = 0;
      return false;
    }
    if (++small_reads_ < shrink_after)
      return false;
    small_reads_ = 0;
    size_ /= 2;
    return true;
  }

private:
  size_t size_ = min_size;
  unsigned small_reads_ = 0;
};

} // namespace ember::app
