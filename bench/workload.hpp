// workload.hpp: the records every ember-bench case writes, so that a case
// and the limit it is compared against handle the same bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/aof_record.hpp"

namespace ember::bench {

/// Key and value sizes of issue 6: 16-byte keys, 64-byte values.
constexpr size_t key_size = 16;
constexpr size_t value_size = 64;

/// The record of the raw fdatasync limits (about one encoded SET).
constexpr size_t raw_record_size = 100;

/// Bytes the AOF writer cases gather before one flush (one write(2)); the
/// raw write loop writes the same bytes in chunks of this size.
constexpr size_t flush_bytes = 256 * 1024;

/// Records of the AOF writer cases and of the raw write loop.
inline uint64_t aof_records(bool quick) {
  return quick ? 20'000 : 1'000'000;
}

/// "key:" + i zero-padded to 16 bytes (distinct for i < 10^12).
std::string key_of(uint64_t i);

/// SET key_of(i) to a 64-byte value derived from i, no TTL.
codec::aof_record set_record(uint64_t i);

/// set_record(0) .. set_record(n - 1), built once per n and shared by the
/// cases (so that timing covers the codec, not building records).
std::shared_ptr<const std::vector<codec::aof_record>> set_records(uint64_t n);

/// The v2 encoding of set_record(0) .. set_record(n - 1).
std::string encoded_sets(uint64_t n);

} // namespace ember::bench
