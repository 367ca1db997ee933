#include "codec/encryption_key.hpp"

#include <cstring>

#include <cryptopp/osrng.h>

#include "codec/format.hpp"

namespace ember::codec {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool is_space(char c) noexcept {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f'
         || c == '\v';
}

} // namespace

result<encryption_key> encryption_key::parse(std::string_view content,
                                             const std::string& source) {
  encryption_key key;
  // Hex form first: a 32-byte file of hex digits cannot be a 64-digit key,
  // and raw keys that happen to be 64+ bytes are not a valid raw form.
  bool hex_prefix = content.size() >= 64;
  for (size_t i = 0; hex_prefix && i < 64; ++i)
    hex_prefix = hex_value(content[i]) >= 0;
  if (hex_prefix) {
    for (size_t i = 64; i < content.size(); ++i)
      if (!is_space(content[i]))
        return error{errc::invalid_key,
                     "key file " + source
                       + ": 64 hex characters are followed by "
                         "non-whitespace at byte "
                       + std::to_string(i)
                       + "; expected exactly 32 raw bytes, or 64 hex "
                         "characters optionally followed by whitespace"};
    for (size_t i = 0; i < key_size; ++i)
      key.key_[i] = static_cast<CryptoPP::byte>(
        hex_value(content[2 * i]) * 16 + hex_value(content[2 * i + 1]));
    return key;
  }
  if (content.size() == key_size) {
    std::memcpy(key.key_.data(), content.data(), key_size);
    return key;
  }
  return error{errc::invalid_key,
               "key file " + source + " has " + std::to_string(content.size())
                 + " bytes that are neither form; expected exactly 32 raw "
                   "bytes, or 64 hex characters optionally followed by "
                   "whitespace (create one with `ember-persist keygen FILE`)"};
}

result<encryption_key> encryption_key::load(file_system& fs,
                                            const std::string& path) {
  auto content = read_file(fs, path);
  if (!content) {
    auto e = std::move(content).err();
    return error{errc::invalid_key,
                 "cannot read key file: " + e.message, e.sys_errno};
  }
  auto key = parse(*content, path);
  // Do not leave a copy of the key material in freed heap memory.
  CryptoPP::SecureWipeBuffer(reinterpret_cast<CryptoPP::byte*>(
                               content->data()),
                             content->size());
  return key;
}

encryption_key encryption_key::generate() {
  encryption_key key;
  CryptoPP::AutoSeededRandomPool rng;
  rng.GenerateBlock(key.key_.data(), key.key_.size());
  return key;
}

std::string encryption_key::to_key_file_text() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(65);
  for (auto b : key_) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xF]);
  }
  out.push_back('\n');
  return out;
}

} // namespace ember::codec
