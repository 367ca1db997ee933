// byte_writer.hpp: appends the primitive types of FORMATS.md to a buffer.
//
// Buffers are std::string (contiguous, cheap to grow, SSO for small ones).
// All functions append little-endian bytes; none can fail.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ember::codec {

namespace detail {

template <class T>
inline void put_le(std::string& out, T v) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                "big-endian hosts need byte swapping here");
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

} // namespace detail

inline void put_u8(std::string& out, uint8_t v) {
  out.push_back(static_cast<char>(v));
}
inline void put_u16(std::string& out, uint16_t v) {
  detail::put_le(out, v);
}
inline void put_u32(std::string& out, uint32_t v) {
  detail::put_le(out, v);
}
inline void put_i64(std::string& out, int64_t v) {
  detail::put_le(out, v);
}
/// Bit-exact: NaN payloads, infinities and -0.0 survive.
inline void put_f64(std::string& out, double v) {
  detail::put_le(out, v);
}
inline void put_f32(std::string& out, float v) {
  detail::put_le(out, v);
}

/// `bytes` = [len u32][len bytes]. Callers guarantee len <= max_bytes_len.
inline void put_bytes(std::string& out, std::string_view v) {
  put_u32(out, static_cast<uint32_t>(v.size()));
  out.append(v.data(), v.size());
}

/// Stores the same little-endian bytes through a raw pointer, for callers
/// that know a record's size and grow their buffer once: one capacity check
/// per record instead of one per field.
struct unchecked_writer {
  char* p;
  template <class T>
  void put(T v) noexcept {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                  "big-endian hosts need byte swapping here");
    std::memcpy(p, &v, sizeof(T));
    p += sizeof(T);
  }
  /// `bytes` = [len u32][len bytes]; len <= max_bytes_len as for put_bytes.
  void put_bytes(std::string_view v) noexcept {
    put(static_cast<uint32_t>(v.size()));
    if (!v.empty())
      std::memcpy(p, v.data(), v.size());
    p += v.size();
  }
};

/// Overwrites 4 bytes at `pos` (used to patch counts and lengths).
inline void patch_u32(std::string& out, size_t pos, uint32_t v) {
  std::memcpy(out.data() + pos, &v, sizeof(v));
}

} // namespace ember::codec
