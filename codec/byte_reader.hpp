// byte_reader.hpp: a bounds-checked cursor over bytes already in memory.
//
// Reads the primitive types of FORMATS.md. Every read either succeeds or
// records why it failed and returns false; after a failure the reader stays
// failed. Limits are enforced before any allocation: a `bytes` length above
// 512 MiB or a count above 100,000,000 is invalid data, and a length that
// runs past the end is `eof` (for an AOF that is a torn tail).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "codec/format.hpp"

namespace ember::codec {

class byte_reader {
public:
  enum class failure : uint8_t { none, eof, invalid };

  byte_reader(const char* data, size_t size) noexcept
    : begin_(data), pos_(data), end_(data + size) {
  }
  explicit byte_reader(std::string_view s) noexcept
    : byte_reader(s.data(), s.size()) {
  }

  size_t position() const noexcept {
    return static_cast<size_t>(pos_ - begin_);
  }
  size_t remaining() const noexcept {
    return static_cast<size_t>(end_ - pos_);
  }
  const char* cursor() const noexcept {
    return pos_;
  }
  bool failed() const noexcept {
    return failure_ != failure::none;
  }
  failure why() const noexcept {
    return failure_;
  }
  /// Static text describing an `invalid` failure ("" otherwise).
  const std::string& reason() const noexcept {
    return reason_;
  }

  bool u8(uint8_t& out) noexcept {
    return fixed(out);
  }
  bool u16(uint16_t& out) noexcept {
    return fixed(out);
  }
  bool u32(uint32_t& out) noexcept {
    return fixed(out);
  }
  bool i64(int64_t& out) noexcept {
    return fixed(out);
  }
  bool f32(float& out) noexcept {
    return fixed(out);
  }
  bool f64(double& out) noexcept {
    return fixed(out);
  }

  /// A `bytes` field, viewed in place (valid while the buffer lives).
  bool bytes_view(std::string_view& out, const char* what = "bytes");
  /// A `bytes` field, copied.
  bool bytes(std::string& out, const char* what = "bytes");
  /// A `str` field: `bytes` that must be valid UTF-8.
  bool str(std::string& out, const char* what = "string");
  /// A collection count, at most 100,000,000.
  bool count(uint32_t& out, const char* what = "collection");
  /// Raw bytes without a length prefix.
  bool raw(std::string_view& out, size_t n);
  /// A u64 duration/timestamp stored as i64 that must not be negative.
  bool non_negative(int64_t& out, const char* what);

  /// Marks the reader failed with invalid data.
  bool invalid(std::string why);

  /// How many elements to reserve for a count read off disk.
  static size_t reserve_hint(uint32_t n) noexcept {
    return n < max_prereserve ? n : max_prereserve;
  }

private:
  template <class T>
  bool fixed(T& out) noexcept {
    if (failed())
      return false;
    if (remaining() < sizeof(T)) {
      failure_ = failure::eof;
      return false;
    }
    std::memcpy(&out, pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  const char* begin_;
  const char* pos_;
  const char* end_;
  failure failure_ = failure::none;
  std::string reason_;
};

} // namespace ember::codec
