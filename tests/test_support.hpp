// test_support.hpp: helpers shared by the test suites.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "codec/hex.hpp"
#include "codec/keyspace.hpp"

namespace ember::test {

/// ../shared/golden beside the checkout (CMake option EMBER_GOLDEN_DIR).
std::string golden_dir();

/// Path of a golden file.
std::string golden(std::string_view name);

/// Parses a golden JSON file (listings, MANIFEST.json).
nlohmann::json golden_json(std::string_view name);

/// A mode-0600 copy of the golden key file `name` ("key.hex", "key.bin"),
/// made once per process in a temp dir that lives until exit. The golden
/// files themselves are world-readable, which key loading warns about.
std::string private_key(std::string_view name);

/// Whole file content; aborts the test on failure.
std::string slurp(const std::string& path);

/// Writes a file (mode 0600); aborts the test on failure.
void spit(const std::string& path, std::string_view content);

using codec::to_hex;
std::string from_hex(std::string_view hex);

// -- keyspaces as text (readable test failures) ---------------------------------

/// The 16 hex digits of a double's bits (NaN payloads and -0.0 included).
std::string score_hex(double d);

/// "[a,b,c]".
std::string join(const std::vector<std::string>& xs);

/// One canonical text per value, as the golden listings encode it:
/// "string <hex>", "list [<hex>,...]", "hash [f=<hex>,...]" (sorted), ...
std::string describe(const codec::value& v);

/// Every key in byte order with its deadline and describe(value), a line
/// each: two keyspaces are equal iff their fingerprints are.
std::string fingerprint(const codec::keyspace& ks);

/// A fresh directory under $TMPDIR, removed with its content on destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const noexcept {
    return path_;
  }
  std::string file(std::string_view name) const;

private:
  std::string path_;
};

} // namespace ember::test
