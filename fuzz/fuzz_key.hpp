// fuzz_key.hpp: the fixed key the fuzz targets read encrypted (v3) files
// with, and the seed generator encrypts with. A test key: it protects
// nothing.
#pragma once

#include "codec/encryption_key.hpp"

namespace ember::fuzz {

const codec::encryption_key& test_key();

} // namespace ember::fuzz
