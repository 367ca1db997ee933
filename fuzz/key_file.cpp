// Fuzz target: key file content. Properties: parsing never crashes; a key
// is 32 bytes; a refusal never quotes the content (key material is never
// printed, not even a malformed key).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "codec/encryption_key.hpp"

using namespace ember;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string content(reinterpret_cast<const char*>(data), size);
  auto key = codec::encryption_key::parse(content, "fuzz.key");
  if (key) {
    if (key->bytes().size() != 32) {
      std::fprintf(stderr, "key_file: a key of %zu bytes\n",
                   key->bytes().size());
      std::abort();
    }
    return 0;
  }
  if (content.size() >= 8
      && key.err().message.find(content) != std::string::npos) {
    std::fprintf(stderr, "key_file: the refusal quotes the key file\n");
    std::abort();
  }
  return 0;
}
