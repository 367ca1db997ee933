// string_ops.hpp: string-value operations shared by replay (codec) and the
// live shard (actors), so that both compute exactly the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ember::codec {

/// Which decimal syntax an i64 must have.
enum class int_syntax : uint8_t {
  /// The reference's replay (Rust `str::parse::<i64>`): one optional '+' or
  /// '-', one or more digits, leading zeros allowed. Replay must agree with
  /// the reference on its files.
  reference,
  /// Redis (string2ll): optional '-', no '+', no leading zeros except "0",
  /// no "-0". What the live server accepts before it logs anything.
  redis,
};

/// A decimal i64 in `syntax`, or nothing (also on overflow or spaces).
std::optional<int64_t> parse_i64(std::string_view s, int_syntax syntax);

/// BITOP `op` (0 AND, 1 OR, 2 XOR, 3 NOT) over at least one source; missing
/// keys are empty strings, shorter sources are padded with zero bytes (NOT
/// takes exactly one source).
std::string bit_operation(uint8_t op, const std::vector<std::string_view>& src);

} // namespace ember::codec
