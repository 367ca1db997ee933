// aes_gcm.hpp: AES-256-GCM sealing of v3 records and snapshot entries.
//
// Sealed form (FORMATS.md): [nonce 12][ct_len u32][ciphertext + 16-byte tag],
// no associated data. The key schedule is set once per object; only the IV
// changes per record (about twice as fast as re-keying each time).
//
// Nonces: the reference draws 12 random bytes per record, which runs into
// the birthday bound on very long logs. We use a random 64-bit prefix per
// sealer followed by a 32-bit counter, and draw a new prefix before the
// counter wraps, so nonces never repeat within a sealer and collide across
// sealers only if two 64-bit random prefixes do. The files stay exactly the
// reference format (a nonce is just 12 bytes to a reader).
//
// Not thread-safe: one per writer or reader.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codec/encryption_key.hpp"

namespace ember::codec {

class aes_gcm {
public:
  explicit aes_gcm(const encryption_key& key);
  ~aes_gcm();
  aes_gcm(aes_gcm&&) noexcept;
  aes_gcm& operator=(aes_gcm&&) noexcept;

  /// Appends nonce + ct_len + ciphertext for `plaintext`.
  void seal(std::string& out, std::string_view plaintext);

  /// Same with a caller-chosen nonce (tests that rebuild known files).
  void seal_with_nonce(std::string& out, std::string_view nonce12,
                       std::string_view plaintext);

  /// Decrypts `ciphertext` (which ends with the tag) into `out`. Returns
  /// false when authentication fails (wrong key or tampered bytes).
  bool open(std::string_view nonce12, std::string_view ciphertext,
            std::string& out);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace ember::codec
