// crc32.hpp: CRC-32 (IEEE / zlib: reflected 0xEDB88320, init and xorout
// 0xFFFFFFFF; crc32("123456789") == 0xCBF43926).
//
// `crc32` folds with PCLMULQDQ from 32 bytes on where the CPU has it (checked
// once at run time; buffers under 256 bytes in one parallel fold), else and
// for the rest slicing-by-16 (tables built once); `crc32_boost` is Boost.CRC,
// the reference implementation the tests compare every implementation
// against on every length 0..4096. All are pure functions, safe from any
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ember::codec {

/// Continues a running CRC: crc32(b, crc32(a)) == crc32(a + b).
uint32_t crc32(const void* data, size_t size, uint32_t running = 0) noexcept;

inline uint32_t crc32(std::string_view s, uint32_t running = 0) noexcept {
  return crc32(s.data(), s.size(), running);
}

/// The implementations crc32 chooses from, fastest first: it takes the first
/// this CPU supports. Named so that tests can run each one the machine has.
enum class crc32_impl { clmul, tables };

bool crc32_supported(crc32_impl impl) noexcept;

/// crc32 with `impl`, which must be supported.
uint32_t crc32_using(crc32_impl impl, const void* data, size_t size,
                     uint32_t running = 0) noexcept;

/// Boost.CRC's crc_32_type, same contract as crc32.
uint32_t crc32_boost(const void* data, size_t size,
                     uint32_t running = 0) noexcept;

} // namespace ember::codec
