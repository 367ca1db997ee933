// file_window.hpp: sequential buffered reading of a file for the readers.
//
// Keeps a window of the file in memory (1 MiB by default, grown only when a
// single record needs more) so readers can decode from contiguous bytes
// without loading whole files. Not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codec/file_system.hpp"

namespace ember::codec {

class file_window {
public:
  file_window() = default;
  explicit file_window(std::unique_ptr<readable_file> file,
                       size_t chunk = size_t{1} << 20);

  /// Makes at least `n` bytes available at the cursor, or every byte left.
  /// Returns how many are available (< n only at end of file).
  result<size_t> ensure(size_t n);

  /// Bytes available at the cursor without reading more.
  std::string_view available() const noexcept {
    return std::string_view{buf_}.substr(pos_);
  }

  void consume(size_t n) noexcept {
    pos_ += n;
  }

  /// File offset of the cursor.
  uint64_t offset() const noexcept {
    return buf_off_ + pos_;
  }
  uint64_t size() const noexcept {
    return size_;
  }
  uint64_t remaining() const noexcept {
    return size_ - offset();
  }

private:
  std::unique_ptr<readable_file> file_;
  std::string buf_;
  uint64_t buf_off_ = 0;
  size_t pos_ = 0;
  uint64_t size_ = 0;
  size_t chunk_ = 0;
};

} // namespace ember::codec
