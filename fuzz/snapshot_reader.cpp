// Fuzz target: a whole snapshot file (v1, v2, or v3 with the test key).
// Properties: the reader never crashes or over-allocates, and always ends.
#include <cstdint>
#include <string>

#include "codec/snapshot_reader.hpp"
#include "fuzz/fuzz_key.hpp"
#include "fuzz/memory_file_system.hpp"

using namespace ember;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::memory_file_system fs{
    "fuzz.snap", std::string(reinterpret_cast<const char*>(data), size)};
  auto reader = codec::snapshot_reader::open(fs, "fuzz.snap",
                                             &fuzz::test_key());
  if (!reader)
    return 0;
  codec::snapshot_entry e;
  while (reader->next(e)) {
  }
  (void) reader->end().name();
  return 0;
}
