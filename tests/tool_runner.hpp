// tool_runner.hpp: runs `ember-persist` (app::run_tool) in-process and
// captures what it prints, for the tool's test suites.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/listing.hpp"

namespace ember::test {

struct run_output {
  int rc = -1;
  std::string out;
  std::string err;
  std::vector<nlohmann::json> lines; ///< stdout, one parsed value per line
};

inline std::vector<nlohmann::json> parse_lines(const std::string& text) {
  std::vector<nlohmann::json> result;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    result.push_back(nlohmann::json::parse(line, nullptr, false));
  return result;
}

/// Calls `run(out, err)` and keeps the exit code and both texts.
template <class F>
run_output capture(F run) {
  std::ostringstream out;
  std::ostringstream err;
  run_output r;
  r.rc = run(out, err);
  r.out = out.str();
  r.err = err.str();
  r.lines = parse_lines(r.out);
  return r;
}

/// The whole command line, as the binary would run it (argv[0] added).
inline run_output cli(std::vector<std::string> args) {
  args.insert(args.begin(), "ember-persist");
  std::vector<const char*> argv;
  for (auto& a : args)
    argv.push_back(a.c_str());
  return capture([&](std::ostream& out, std::ostream& err) {
    return app::run_tool(static_cast<int>(argv.size()), argv.data(), out,
                         err);
  });
}

} // namespace ember::test
