// tool_support.hpp: what every `ember-persist` subcommand shares: exit
// codes, the error line, and loading --key.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "codec/encryption_key.hpp"
#include "codec/result.hpp"

namespace ember::app {

/// Process exit codes shared by every subcommand.
enum exit_code : int {
  exit_ok = 0,      ///< clean file / recovery succeeded
  exit_damaged = 1, ///< torn tail, corruption, unreadable file, refused
  exit_usage = 2,   ///< bad arguments, missing file, unreadable key, I/O
};

/// The OS failing us is an I/O error (exit 2); anything else means the bytes
/// are not a file we can read (exit 1).
bool is_io(const codec::error& e);

/// Prints "ember-persist COMMAND: MESSAGE" on `err`; returns exit_usage.
int fail(std::ostream& err, const char* command, const std::string& message);

/// A loaded --key, or none when the option was not given.
using maybe_key = std::optional<codec::encryption_key>;

/// Loads the key file at `path` (none when unset). A key file that group or
/// others can access is loaded with a warning on `err` naming the file, its
/// mode and the fix; key bytes are never printed.
codec::result<maybe_key> load_key(const std::optional<std::string>& path,
                                  const char* command, std::ostream& err);

inline const codec::encryption_key* key_ptr(const maybe_key& key) {
  return key ? &*key : nullptr;
}

} // namespace ember::app
