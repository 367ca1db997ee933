#include "codec/result.hpp"

#include <cstring>

namespace ember::codec {

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::unexpected_eof: return "unexpected_eof";
    case errc::invalid_magic: return "invalid_magic";
    case errc::unsupported_version: return "unsupported_version";
    case errc::checksum_mismatch: return "checksum_mismatch";
    case errc::unknown_tag: return "unknown_tag";
    case errc::invalid_data: return "invalid_data";
    case errc::encryption_required: return "encryption_required";
    case errc::decryption_failed: return "decryption_failed";
    case errc::invalid_key: return "invalid_key";
    case errc::shard_mismatch: return "shard_mismatch";
    case errc::io_error: return "io_error";
    case errc::corrupt_file: return "corrupt_file";
    case errc::closed: return "closed";
  }
  return "unknown";
}

const char* reference_kind(errc code) noexcept {
  switch (code) {
    case errc::unexpected_eof: return "UnexpectedEof";
    case errc::invalid_magic: return "InvalidMagic";
    case errc::unsupported_version: return "UnsupportedVersion";
    case errc::checksum_mismatch: return "ChecksumMismatch";
    case errc::unknown_tag: return "UnknownTag";
    case errc::invalid_data: return "InvalidData";
    case errc::encryption_required: return "EncryptionRequired";
    case errc::decryption_failed: return "DecryptionFailed";
    default: return "Io";
  }
}

error io_error(const std::string& what, int err) {
  return error{errc::io_error, what + ": " + std::strerror(err), err};
}

} // namespace ember::codec
