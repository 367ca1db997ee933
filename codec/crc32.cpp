#include "codec/crc32.hpp"

#include <array>
#include <cstring>

#include <boost/crc.hpp>

namespace ember::codec {

namespace {

using tables = std::array<std::array<uint32_t, 256>, 8>;

tables make_tables() {
  tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (size_t s = 1; s < 8; ++s)
      t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}

const tables& crc_tables() {
  static const tables t = make_tables();
  return t;
}

} // namespace

uint32_t crc32(const void* data, size_t size, uint32_t running) noexcept {
  const auto& t = crc_tables();
  auto p = static_cast<const unsigned char*>(data);
  uint32_t c = ~running;
  while (size >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF]
        ^ t[4][lo >> 24] ^ t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF]
        ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size--)
    c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return ~c;
}

uint32_t crc32_boost(const void* data, size_t size,
                     uint32_t running) noexcept {
  // Boost takes the initial remainder unreflected; the running value is the
  // reflected register after xorout, so undo both.
  uint32_t reg = ~running;
  uint32_t init = 0;
  for (int i = 0; i < 32; ++i)
    init |= ((reg >> i) & 1u) << (31 - i);
  boost::crc_optimal<32, 0x04C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc(
    init);
  crc.process_bytes(data, size);
  return crc.checksum();
}

} // namespace ember::codec
