// Fuzz target: emberd's configuration checks on arbitrary file text
// (app/daemon_config parse_config_text). Properties: never crashes; it
// either accepts the text, with every value inside its documented range,
// or refuses it with a message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "app/daemon_config.hpp"

using namespace ember;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto out = app::parse_config_text(text, "fuzz.ini");
  if (!out) {
    if (out.error.empty())
      std::abort(); // refused without a message
    return 0;
  }
  auto& c = out.config;
  bool in_range = c.shards <= 255 && c.max_restarts <= 1000
                  && c.restart_period_s >= 1 && c.restart_period_s <= 86400
                  && c.max_inflight_bytes >= 1024 && c.max_clients >= 1
                  && c.max_request_bytes >= 1024;
  if (!in_range) {
    std::fprintf(stderr, "config_validation: accepted an out-of-range value\n");
    std::abort();
  }
  return 0;
}
