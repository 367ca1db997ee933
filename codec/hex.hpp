// hex.hpp: lowercase hexadecimal for messages and listings (never for keys).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ember::codec {

/// Two lowercase digits per byte.
inline std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xF]);
  }
  return out;
}

/// A u32 as 8 lowercase digits, most significant first (CRC32 values).
inline std::string hex32(uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(8, '0');
  for (int i = 7; i >= 0; --i, v >>= 4)
    out[static_cast<size_t>(i)] = digits[v & 0xF];
  return out;
}

} // namespace ember::codec
