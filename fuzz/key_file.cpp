// Fuzz target: key file content. Properties: parsing never crashes; a key
// is 32 bytes; a refusal never quotes key material (a run of 16 or more
// hex digits of the content).
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "codec/encryption_key.hpp"

using namespace ember;

namespace {

// The first 16 digits of every run of at least 16 hex digits.
bool quotes_hex_run(const std::string& content, const std::string& message) {
  size_t run = 0;
  for (size_t i = 0; i <= content.size(); ++i) {
    if (i < content.size()
        && std::isxdigit(static_cast<unsigned char>(content[i]))) {
      ++run;
      continue;
    }
    if (run >= 16
        && message.find(content.substr(i - run, 16)) != std::string::npos)
      return true;
    run = 0;
  }
  return false;
}

} // namespace

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
  if (quotes_hex_run(content, key.err().message)) {
    std::fprintf(stderr, "key_file: the refusal quotes key material\n");
    std::abort();
  }
  return 0;
}
