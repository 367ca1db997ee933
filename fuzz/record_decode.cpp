// Fuzz target: one record's tag + payload (what a v2 record carries before
// its CRC, and what a v3 record decrypts to). Properties: decoding never
// crashes or over-allocates; a decoded record that validates re-encodes to
// bytes that decode again and re-encode identically.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "codec/aof_record.hpp"
#include "codec/byte_reader.hpp"

using namespace ember::codec;

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "record_decode: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_reader in(reinterpret_cast<const char*>(data), size);
  aof_record r;
  bool unknown = false;
  if (!decode_payload(in, r, unknown))
    return 0;
  if (!validate(r).empty())
    return 0;
  std::string once;
  encode_payload(once, r);
  byte_reader again(once);
  aof_record r2;
  if (!decode_payload(again, r2, unknown))
    broken("a valid decoded record does not decode after re-encoding");
  if (again.position() != once.size())
    broken("re-decoding left bytes of the re-encoded record");
  std::string twice;
  encode_payload(twice, r2);
  if (once != twice)
    broken("re-encoding is not stable");
  (void) primary_key(r2);
  return 0;
}
