// routing.hpp: which shard owns a key. Stable across processes and
// versions (CRC32 of the key bytes), because the files are per shard.
#pragma once

#include <cstdint>
#include <string_view>

#include "codec/crc32.hpp"

namespace ember::messages {

inline uint16_t shard_of(std::string_view key, uint16_t shards) noexcept {
  return shards <= 1 ? 0
                     : static_cast<uint16_t>(codec::crc32(key) % shards);
}

} // namespace ember::messages
