// encryption_key.hpp: the AES-256 key and its key file.
//
// A key file holds either exactly 32 raw bytes, or 64 hex characters
// optionally followed by whitespace (a trailing newline). Key material lives
// only in a Crypto++ SecByteBlock (zeroed when freed) and is never printed:
// error messages describe the file's shape, never its bytes.
//
// Key file permissions: a key file that group or others can access (any of
// the 0077 bits) is a leak waiting to happen. load() with load options
// checks the mode before reading the key and, by policy, either loads the
// key and hands back a warning for the caller to log (warn) or refuses
// with errc::invalid_key (refuse). Both texts name the file, its mode and
// the fix (`chmod 600 FILE`), never key bytes. The daemon maps its option
// persistence.key-file-permissions = warn|refuse onto key_permissions; the
// operator tool uses warn and prints the warning on stderr.
#pragma once

#include <string>
#include <string_view>

#include <cryptopp/secblock.h>

#include "codec/file_system.hpp"
#include "codec/result.hpp"

namespace ember::codec {

/// What to do with a key file that group or others can access.
enum class key_permissions : uint8_t {
  warn,   ///< load it; loaded_key::warning says what is wrong
  refuse, ///< do not read it; errc::invalid_key
};

struct key_load_options {
  key_permissions permissions = key_permissions::warn;
};

struct loaded_key;

class encryption_key {
public:
  /// Parses key file content; `source` names the file in error messages.
  static result<encryption_key> parse(std::string_view content,
                                      const std::string& source);

  /// Loads and parses a key file (no permission check).
  static result<encryption_key> load(file_system& fs, const std::string& path);

  /// Checks the key file's permissions (see above), then loads and parses
  /// it. A file that cannot be stat'ed is refused like an unreadable one.
  static result<loaded_key> load(file_system& fs, const std::string& path,
                                 const key_load_options& opts);

  /// A fresh random key (Crypto++ AutoSeededRandomPool).
  static encryption_key generate();

  /// 64 lowercase hex characters + newline: the text form of a key file,
  /// in memory that is wiped when freed. Never log it.
  CryptoPP::SecByteBlock key_file_bytes() const;

  /// The same text as a std::string (tests compare it with key.hex); the
  /// string's memory is not wiped: only for tests.
  std::string to_key_file_text() const;

  /// Writes the key file form to the new file `path`: created with O_EXCL
  /// (an existing file is never replaced: io_error with sys_errno EEXIST)
  /// and mode 0600, then the file and its directory are fsynced, so the key
  /// is durable before this returns ok. On a failure after creating the
  /// file, the partial file is removed.
  status write_key_file(file_system& fs, const std::string& path) const;

  const CryptoPP::SecByteBlock& bytes() const noexcept {
    return key_;
  }

private:
  encryption_key() : key_(32) {
  }
  CryptoPP::SecByteBlock key_;
};

/// A key and what its file's permissions look like.
struct loaded_key {
  encryption_key key;
  /// Empty, or one line for the log: file, mode, `chmod 600 FILE`.
  std::string warning;
};

/// "" when `mode` (permission bits) gives group and others no access, else
/// the warning text of load() for `path`.
std::string key_permission_problem(const std::string& path, uint32_t mode);

} // namespace ember::codec
