// keygen.hpp: `ember-persist keygen FILE`, a new AES-256 key file.
#pragma once

#include <iosfwd>
#include <string>

namespace ember::app {

/// Writes a fresh random key (Crypto++ AutoSeededRandomPool) to the new
/// file `path` in the hex key-file form, mode 0600, file and directory
/// fsynced (encryption_key::write_key_file). Never prints the key.
/// Exit: 0 written, 1 `path` exists (never overwritten), 2 I/O error.
int keygen_file(const std::string& path, std::ostream& out, std::ostream& err);

} // namespace ember::app
