// ember-bench: the benchmark suite of issue 6. Every figure is the median
// of --runs runs, and every case prints its ratio to the limit that bounds
// it, measured in the same run (the machines are shared and noisy; compare
// ratios, not absolute rates). It never asserts timings: the exit status is
// 0 even when a target fails (the table says FAIL).
//
//   ember-bench [--runs N] [--quick] [--json FILE] [--filter SUBSTR] [--dir DIR]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>

#include "bench/harness.hpp"

using namespace ember::bench;

namespace {

const char* usage =
  "usage: ember-bench [--runs N] [--quick] [--json FILE] [--filter SUBSTR] [--dir DIR]\n"
  "  --runs N         runs per case, the median is reported (default 5)\n"
  "  --quick          small sizes: a smoke run of every case\n"
  "  --json FILE      also write one JSON object per case to FILE\n"
  "  --filter SUBSTR  only cases whose name contains SUBSTR (limits always run)\n"
  "  --dir DIR        where the files go; must be a real disk, not tmpfs\n"
  "                   (default: ember-bench-files beside the executable)\n";

} // namespace

int main(int argc, char** argv) {
  options opts;
  opts.dir = (std::filesystem::absolute(argv[0]).parent_path() / "ember-bench-files").string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n%s", a.c_str(), usage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--runs")
      opts.runs = std::max(1, std::stoi(value()));
    else if (a == "--quick")
      opts.quick = true;
    else if (a == "--json")
      opts.json_path = value();
    else if (a == "--filter")
      opts.filter = value();
    else if (a == "--dir")
      opts.dir = value();
    else {
      std::fprintf(stderr, "%s", usage);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  try {
    std::filesystem::create_directories(opts.dir);
    runner r(opts);
    add_limit_cases(r);
    add_codec_cases(r);
    add_aof_cases(r);
    add_actor_cases(r);
    add_recovery_cases(r);
    auto failed = r.run_all();
    std::printf("%d target(s) failed\n", failed);
    std::filesystem::remove_all(opts.dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
