// Fuzz target: a whole AOF file (v2 plaintext or v3 with the test key).
// Properties: the reader never crashes or over-allocates; every record it
// returns validates; the end it reports lies within the file.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "codec/aof_reader.hpp"
#include "fuzz/fuzz_key.hpp"
#include "fuzz/memory_file_system.hpp"

using namespace ember;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::memory_file_system fs{
    "fuzz.aof", std::string(reinterpret_cast<const char*>(data), size)};
  auto reader = codec::aof_reader::open(fs, "fuzz.aof", &fuzz::test_key());
  if (!reader)
    return 0;
  codec::aof_record r;
  while (reader->next(r))
    if (auto why = codec::validate(r); !why.empty()) {
      std::fprintf(stderr, "aof_reader returned an invalid record: %s\n",
                   why.c_str());
      std::abort();
    }
  if (reader->valid_end() > size) {
    std::fprintf(stderr, "aof_reader: valid end past the file's end\n");
    std::abort();
  }
  (void) reader->end().name();
  return 0;
}
