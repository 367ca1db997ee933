// encryption_key.hpp: the AES-256 key and its key file.
//
// A key file holds either exactly 32 raw bytes, or 64 hex characters
// optionally followed by whitespace (a trailing newline). Key material lives
// only in a Crypto++ SecByteBlock (zeroed when freed) and is never printed:
// error messages describe the file's shape, never its bytes.
#pragma once

#include <string>
#include <string_view>

#include <cryptopp/secblock.h>

#include "codec/file_system.hpp"
#include "codec/result.hpp"

namespace ember::codec {

class encryption_key {
public:
  /// Parses key file content; `source` names the file in error messages.
  static result<encryption_key> parse(std::string_view content,
                                      const std::string& source);

  /// Loads and parses a key file.
  static result<encryption_key> load(file_system& fs, const std::string& path);

  /// A fresh random key (Crypto++ AutoSeededRandomPool).
  static encryption_key generate();

  /// 64 lowercase hex characters + newline: the text form of a key file.
  /// Only for writing a key file (keygen); never log it.
  std::string to_key_file_text() const;

  const CryptoPP::SecByteBlock& bytes() const noexcept {
    return key_;
  }

private:
  encryption_key() : key_(32) {
  }
  CryptoPP::SecByteBlock key_;
};

} // namespace ember::codec
