#include "codec/encryption_key.hpp"

#include <cerrno>
#include <cstdio>
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

std::string key_permission_problem(const std::string& path, uint32_t mode) {
  if ((mode & 077) == 0)
    return {};
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", mode & 07777);
  const char* who = (mode & 070) && (mode & 07) ? "group and others"
                    : (mode & 070)              ? "group"
                                                : "others";
  return "key file " + path + " has mode " + octal + ": " + who
         + " can access it; run `chmod 600 " + path + "`";
}

result<loaded_key> encryption_key::load(file_system& fs,
                                        const std::string& path,
                                        const key_load_options& opts) {
  auto mode = fs.permission_bits(path);
  if (!mode) {
    auto e = std::move(mode).err();
    return error{errc::invalid_key, "cannot read key file: " + e.message,
                 e.sys_errno};
  }
  auto problem = key_permission_problem(path, *mode);
  // Refused before reading: the key is not even loaded into memory.
  if (!problem.empty() && opts.permissions == key_permissions::refuse)
    return error{errc::invalid_key,
                 problem
                   + " (refused: key-file permissions are set to refuse)"};
  auto key = load(fs, path);
  if (!key)
    return std::move(key).err();
  return loaded_key{std::move(*key), std::move(problem)};
}

encryption_key encryption_key::generate() {
  encryption_key key;
  CryptoPP::AutoSeededRandomPool rng;
  rng.GenerateBlock(key.key_.data(), key.key_.size());
  return key;
}

CryptoPP::SecByteBlock encryption_key::key_file_bytes() const {
  static constexpr char digits[] = "0123456789abcdef";
  CryptoPP::SecByteBlock out(2 * key_size + 1);
  for (size_t i = 0; i < key_size; ++i) {
    out[2 * i] = static_cast<CryptoPP::byte>(digits[key_[i] >> 4]);
    out[2 * i + 1] = static_cast<CryptoPP::byte>(digits[key_[i] & 0xF]);
  }
  out[2 * key_size] = '\n';
  return out;
}

std::string encryption_key::to_key_file_text() const {
  auto text = key_file_bytes();
  return std::string{reinterpret_cast<const char*>(text.data()), text.size()};
}

status encryption_key::write_key_file(file_system& fs,
                                      const std::string& path) const {
  auto file = fs.open_writable(path, open_mode::create_new);
  if (!file) {
    auto e = std::move(file).err();
    if (e.sys_errno == EEXIST)
      return error{errc::io_error,
                   path + " already exists; a key file is never "
                          "overwritten (data encrypted with it would become "
                          "unreadable): choose another name",
                   EEXIST};
    return e;
  }
  auto text = key_file_bytes();
  auto st = (*file)->append(
    {reinterpret_cast<const char*>(text.data()), text.size()});
  if (st)
    st = (*file)->sync();
  file->reset(); // closed before removing or syncing the directory
  if (st)
    st = fs.sync_dir(parent_dir(path));
  if (!st) {
    // A partial key file must not be mistaken for a key later.
    (void) fs.remove(path);
    return error{st.err().code,
                 st.err().message + "; no key file was written to " + path,
                 st.err().sys_errno};
  }
  return {};
}

} // namespace ember::codec
