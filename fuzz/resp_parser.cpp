// Fuzz target: the RESP request parser (app/resp_parser). Properties:
// parsing never crashes or allocates past its limits; the commands are the
// same whether the bytes arrive at once or split at any point (the first
// input byte picks the split); an error is final.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "app/resp_parser.hpp"

using namespace ember;

namespace {

// Small limits, so that the fuzzer reaches every limit check.
resp::parser_limits small_limits() {
  resp::parser_limits l;
  l.max_bulk_bytes = 512;
  l.max_args = 16;
  l.max_inline_bytes = 256;
  l.max_request_bytes = 1024;
  return l;
}

// Every command the bytes hold, then "!error" if parsing failed.
std::vector<std::string> parse_all(std::string_view bytes, size_t split) {
  resp::parser p{small_limits()};
  std::vector<std::string> out;
  std::vector<std::string> args;
  auto drain = [&] {
    for (;;) {
      auto st = p.next(args);
      if (st == resp::parse_status::incomplete)
        return true;
      if (st == resp::parse_status::error) {
        out.push_back("!" + p.error());
        if (p.next(args) != resp::parse_status::error) {
          std::fprintf(stderr, "resp_parser: an error was not final\n");
          std::abort();
        }
        return false;
      }
      std::string joined;
      for (auto& a : args)
        joined += std::to_string(a.size()) + ":" + a + ",";
      out.push_back(std::move(joined));
    }
  };
  p.feed(bytes.substr(0, split));
  if (drain()) {
    p.feed(bytes.substr(split));
    drain();
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view bytes{reinterpret_cast<const char*>(data) + 1, size - 1};
  auto split = static_cast<size_t>(data[0]) % (bytes.size() + 1);
  auto whole = parse_all(bytes, bytes.size());
  auto parts = parse_all(bytes, split);
  if (whole != parts) {
    std::fprintf(stderr,
                 "resp_parser: %zu commands at once, %zu split at %zu\n",
                 whole.size(), parts.size(), split);
    std::abort();
  }
  return 0;
}
