#include "codec/aof_reader.hpp"

#include "codec/format.hpp"

namespace ember::codec {

const char* read_end::name() const noexcept {
  switch (kind) {
    case reading: return "reading";
    case clean: return "clean";
    case torn_tail: return "torn_tail";
    case corrupt: return "corrupt";
  }
  return "unknown";
}

status check_header(std::string_view header, std::string_view magic,
                    uint8_t min_version, bool have_key,
                    const std::string& path) {
  if (header.size() < header_size) {
    if (header.size() < magic.size() || header.substr(0, magic.size()) == magic)
      return error{errc::unexpected_eof,
                   path + ": file is " + std::to_string(header.size())
                     + " bytes, shorter than its 5-byte header"};
  }
  if (header.substr(0, magic.size()) != magic)
    return error{errc::invalid_magic,
                 path + ": invalid magic (expected \"" + std::string{magic}
                   + "\"); this is not an ember "
                   + (magic == aof_magic ? "AOF" : "snapshot") + " file"};
  auto version = static_cast<uint8_t>(header[4]);
  if (version < min_version || version > format_v3)
    return error{errc::unsupported_version,
                 path + ": unsupported format version "
                   + std::to_string(version)};
  if (version == format_v3 && !have_key)
    return error{errc::encryption_required,
                 path + ": file is encrypted but no encryption key was "
                        "provided (pass --key KEYFILE)"};
  return {};
}

} // namespace ember::codec
