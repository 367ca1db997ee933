// harness.hpp: the small benchmark harness of ember-bench.
//
// A case is a function that does its work once and returns a `sample`
// (elapsed seconds, items and bytes processed, optional per-request
// latencies and extra counters). The harness runs each case `runs` times
// and reports medians, so one noisy run on a shared machine does not move
// the figure. Limits (raw write loop, raw fdatasync loops, memcpy, CRC, AES)
// are cases too, measured in the same run (the raw write and fdatasync loops
// again beside each run of the cases they bound: case_spec::beside_each_run);
// a case names the limit that bounds it and the table prints its ratio to
// that limit, and where issue 6 sets a target, whether it holds.
//
// Single-threaded use: cases run one after another from main().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ember::bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Names of the limits cases refer to (defined in limits.cpp).
namespace limit {
inline const std::string raw_write = "limit raw write(2) loop";
inline const std::string fsync_per_record = "limit fdatasync per record";
inline std::string fsync_per_batch(int n) {
  return "limit fdatasync per " + std::to_string(n) + " records";
}
/// CAF's request/response alone, `per_request` SETs per request
/// (actor_driver.hpp, drive_echo).
inline std::string caf_request(int per_request) {
  return "limit CAF request/response, " + std::to_string(per_request)
         + " per request";
}
inline const std::string memcpy_ = "limit memcpy";
inline const std::string crc_ours = "limit crc32 ours 1 MiB";
inline const std::string aes_gcm = "limit aes-256-gcm 100 B records";
} // namespace limit

/// What one run of a case measured.
struct sample {
  double seconds = 0;
  uint64_t items = 0;
  uint64_t bytes = 0;
  std::vector<double> latencies_us; ///< acknowledged writes only
  std::map<std::string, double> extra; ///< e.g. fsyncs, pause_us
};

/// How a case relates to a limit: its rate over the limit's rate, in items
/// (records/s) or bytes (MB/s). Optionally the minimum ratio issue 6 asks.
struct ratio_spec {
  std::string limit;
  bool by_bytes = false;
  std::optional<double> target;
};

struct case_spec {
  std::string name;
  std::string unit = "records"; ///< what an item is: records, entries, ...
  bool is_limit = false;
  std::vector<ratio_spec> ratios;
  /// A target on the case's own rate (items/s), or on an extra counter
  /// (at most this value), when issue 6 states one.
  std::optional<double> min_items_per_s;
  std::optional<std::pair<std::string, double>> max_extra;
  std::function<sample()> run;
  /// A limit whose rate drifts from minute to minute (the disk's fsyncs,
  /// the page cache's writes):
  /// it runs again right before each run of every case that names it, and
  /// that case's ratio to it is the median of the pairs' ratios.
  bool beside_each_run = false;
};

/// A case's medians over its runs, and its ratios.
struct result {
  case_spec spec;
  int runs = 0;
  double items_per_s = 0;
  double mb_per_s = 0;
  std::optional<double> p50_us, p99_us;
  std::map<std::string, double> extra;
  std::vector<std::pair<std::string, double>> ratios; ///< label -> ratio
  /// Limits measured beside each run (case_spec::beside_each_run): per
  /// limit, the case's ratio to it in each run, and the limit's rates.
  std::map<std::string, std::vector<double>> pair_ratios;
  std::map<std::string, std::vector<double>> pair_limit_rates;
  std::vector<std::pair<std::string, bool>> checks;   ///< target -> held
};

struct options {
  int runs = 5;
  bool quick = false;
  std::string json_path;
  std::string filter;
  std::string dir; ///< files go here (a real disk: fsyncs must hit it)
};

/// Calls `fn` (which handles `items` items of `bytes` bytes) until at least
/// `min_seconds` passed; the sample covers all calls (for fast cases).
sample repeat_for(double min_seconds, uint64_t items, uint64_t bytes,
                  const std::function<void()>& fn);

/// Percentile `p` in [0, 100] of `v` (sorted in place); nearest rank.
double percentile(std::vector<double>& v, double p);

/// Median of `v` (copied).
double median(std::vector<double> v);

/// Collects cases, runs them and prints the results.
class runner {
public:
  explicit runner(options opts) : opts_(std::move(opts)) {
  }
  const options& opts() const noexcept {
    return opts_;
  }
  /// Sizes: `full` normally, `quick` under --quick.
  uint64_t size(uint64_t full, uint64_t quick) const noexcept {
    return opts_.quick ? quick : full;
  }
  /// A fresh empty directory under --dir for one case's files.
  std::string case_dir(const std::string& name) const;

  void add(case_spec c);
  /// Runs every limit, then every case matching --filter; prints a table
  /// to stdout and JSON lines to --json (if given). Returns the number of
  /// targets that failed.
  int run_all();

private:
  result run_case(const case_spec& c);
  const case_spec* find_case(const std::string& name) const;
  void add_ratios(result& r) const;
  void print_table() const;
  void write_json() const;

  options opts_;
  std::vector<case_spec> cases_;
  std::vector<result> results_;
};

// One registration function per group of cases (one file each).
void add_limit_cases(runner& r);
void add_codec_cases(runner& r);
void add_aof_cases(runner& r);
void add_actor_cases(runner& r);
void add_recovery_cases(runner& r);

} // namespace ember::bench
