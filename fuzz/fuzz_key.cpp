#include "fuzz/fuzz_key.hpp"

#include <cstdlib>
#include <cstdio>

namespace ember::fuzz {

const codec::encryption_key& test_key() {
  static const codec::encryption_key key = [] {
    auto k = codec::encryption_key::parse(
      "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
      "the fuzzing test key");
    if (!k) {
      std::fprintf(stderr, "fuzz: %s\n", k.err().message.c_str());
      std::abort();
    }
    return std::move(*k);
  }();
  return key;
}

} // namespace ember::fuzz
