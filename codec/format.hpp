// format.hpp: constants shared by every file format of FORMATS.md.
//
// Every integer on disk is little-endian. A file starts with a 4-byte magic
// and a version byte: 1 = legacy snapshot (strings only), 2 = plaintext,
// 3 = encrypted (AES-256-GCM per record/entry).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ember::codec {

inline constexpr std::string_view aof_magic = "EAOF";
inline constexpr std::string_view snapshot_magic = "ESNP";
inline constexpr size_t header_size = 5; // magic + version

inline constexpr uint8_t format_v1 = 1; ///< legacy snapshot, read only
inline constexpr uint8_t format_v2 = 2; ///< plaintext
inline constexpr uint8_t format_v3 = 3; ///< encrypted

// Limits a reader enforces before allocating anything.
inline constexpr uint32_t max_bytes_len = 512u * 1024 * 1024;
inline constexpr uint32_t max_collection_count = 100'000'000;
inline constexpr uint32_t max_prereserve = 65'536;
inline constexpr uint32_t max_vector_dims = 65'536;
inline constexpr uint32_t max_vector_count = 10'000'000;
inline constexpr uint64_t max_vector_total = 1'000'000'000;

// AES-256-GCM framing of v3 records and entries.
inline constexpr size_t nonce_size = 12;
inline constexpr size_t gcm_tag_size = 16;
inline constexpr size_t key_size = 32;

/// Text every "optional kind not in this build" message contains.
inline constexpr std::string_view unsupported_marker
  = "is not supported by this build";

/// Whether this build reads and writes the optional record kinds.
inline constexpr bool with_proto = EMBER_WITH_PROTO != 0;
inline constexpr bool with_vector = EMBER_WITH_VECTOR != 0;

/// Says that `what` (e.g. "PROTO.SET record (tag 23)") is an optional kind
/// this build leaves out, and which CMake option reads it. Readers report
/// it as damage they cannot interpret, never as proof of corruption.
inline std::string unsupported_by_build(std::string_view what, bool proto) {
  return std::string{what} + " " + std::string{unsupported_marker}
         + " (rebuild with "
         + (proto ? "-DEMBER_WITH_PROTO=ON" : "-DEMBER_WITH_VECTOR=ON") + ")";
}

/// Writers cap u64 durations at i64 max (FORMATS.md).
constexpr int64_t clamp_to_i64(uint64_t v) noexcept {
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                              : static_cast<int64_t>(v);
}

} // namespace ember::codec
