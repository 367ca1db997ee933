// utf8.hpp: strict UTF-8 validation (keys, members, fields and names).
#pragma once

#include <cstddef>
#include <string_view>

namespace ember::codec {

/// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing
/// above U+10FFFF). ASCII runs are checked 8 bytes at a time.
bool valid_utf8(std::string_view s) noexcept;

} // namespace ember::codec
