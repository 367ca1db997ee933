#include "bench/harness.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "app/malloc_info.hpp"
#include "bench/actor_driver.hpp"

namespace ember::bench {

double percentile(std::vector<double>& v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * double(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

sample repeat_for(double min_seconds, uint64_t items, uint64_t bytes,
                  const std::function<void()>& fn) {
  sample s;
  auto start = clock_type::now();
  do {
    fn();
    s.items += items;
    s.bytes += bytes;
    s.seconds = seconds_since(start);
  } while (s.seconds < min_seconds);
  return s;
}

double median(std::vector<double> v) {
  return percentile(v, 50);
}

std::string runner::case_dir(const std::string& name) const {
  std::string safe;
  for (char c : name)
    safe += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  auto dir = std::filesystem::path(opts_.dir) / safe;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void runner::add(case_spec c) {
  cases_.push_back(std::move(c));
}

const case_spec* runner::find_case(const std::string& name) const {
  auto it = std::find_if(cases_.begin(), cases_.end(),
                         [&](const case_spec& x) { return x.name == name; });
  return it == cases_.end() ? nullptr : &*it;
}

namespace {

// A run's rate: items/s, or MB/s when `by_bytes`.
double rate_of(const sample& s, bool by_bytes) {
  auto secs = std::max(s.seconds, 1e-9);
  return by_bytes ? double(s.bytes) / secs / 1e6 : double(s.items) / secs;
}

// What earlier runs and cases freed goes back to the system first:
// jemalloc otherwise returns it over the next ten seconds from inside the
// allocations of whatever runs then, which took the actor path after the
// AOF writer cases from 1.08M to 0.80M writes/s.
sample run_once(const case_spec& c) {
  app::release_free_memory();
  return c.run();
}

} // namespace

result runner::run_case(const case_spec& c) {
  std::vector<double> items, mbs, p50s, p99s;
  std::map<std::string, std::vector<double>> extras;
  // The limits to measure again beside each run (case_spec::beside_each_run).
  std::vector<std::pair<const ratio_spec*, const case_spec*>> beside;
  if (!c.is_limit)
    for (auto& rs : c.ratios)
      if (auto* lim = find_case(rs.limit); lim && lim->beside_each_run)
        beside.emplace_back(&rs, lim);
  result r;
  for (int i = 0; i < opts_.runs; ++i) {
    std::vector<double> limit_rates;
    for (auto& [rs, lim] : beside) {
      limit_rates.push_back(rate_of(run_once(*lim), rs->by_bytes));
      r.pair_limit_rates[rs->limit].push_back(limit_rates.back());
    }
    auto s = run_once(c);
    for (size_t k = 0; k < beside.size(); ++k)
      if (limit_rates[k] > 0)
        r.pair_ratios[beside[k].first->limit].push_back(
          rate_of(s, beside[k].first->by_bytes) / limit_rates[k]);
    items.push_back(rate_of(s, false));
    mbs.push_back(rate_of(s, true));
    if (!s.latencies_us.empty()) {
      p50s.push_back(percentile(s.latencies_us, 50));
      p99s.push_back(percentile(s.latencies_us, 99));
    }
    for (auto& [k, v] : s.extra)
      extras[k].push_back(v);
  }
  r.spec = c;
  r.runs = opts_.runs;
  r.items_per_s = median(items);
  r.mb_per_s = median(mbs);
  if (!p50s.empty()) {
    r.p50_us = median(p50s);
    r.p99_us = median(p99s);
  }
  for (auto& [k, v] : extras)
    r.extra[k] = median(v);
  return r;
}

void runner::add_ratios(result& r) const {
  for (auto& rs : r.spec.ratios) {
    auto lim = std::find_if(results_.begin(), results_.end(),
                            [&](const result& x) { return x.spec.name == rs.limit; });
    if (lim == results_.end())
      continue;
    auto denom = rs.by_bytes ? lim->mb_per_s : lim->items_per_s;
    auto paired = r.pair_ratios.find(rs.limit);
    if (paired == r.pair_ratios.end() && denom <= 0)
      continue;
    auto ratio = paired != r.pair_ratios.end()
                   ? median(paired->second)
                   : (rs.by_bytes ? r.mb_per_s : r.items_per_s) / denom;
    r.ratios.emplace_back(rs.limit, ratio);
    if (rs.target) {
      char label[160];
      std::snprintf(label, sizeof label, ">= %.2fx %s", *rs.target,
                    rs.limit.c_str());
      r.checks.emplace_back(label, ratio >= *rs.target);
    }
  }
  if (r.spec.min_items_per_s) {
    char label[96];
    std::snprintf(label, sizeof label, ">= %.0f %s/s", *r.spec.min_items_per_s,
                  r.spec.unit.c_str());
    r.checks.emplace_back(label, r.items_per_s >= *r.spec.min_items_per_s);
  }
  if (r.spec.max_extra) {
    auto& [key, bound] = *r.spec.max_extra;
    char label[96];
    std::snprintf(label, sizeof label, "%s <= %.0f", key.c_str(), bound);
    auto it = r.extra.find(key);
    r.checks.emplace_back(label, it != r.extra.end() && it->second <= bound);
  }
}

int runner::run_all() {
  for (int pass = 0; pass < 2; ++pass)
    for (auto& c : cases_) {
      bool limits_pass = pass == 0;
      if (c.is_limit != limits_pass)
        continue;
      // Limits always run: the other cases' ratios need them.
      if (!c.is_limit && !opts_.filter.empty()
          && c.name.find(opts_.filter) == std::string::npos)
        continue;
      std::fprintf(stderr, "running %s\n", c.name.c_str());
      auto r = run_case(c);
      add_ratios(r);
      results_.push_back(std::move(r));
    }
  print_table();
  if (!opts_.json_path.empty())
    write_json();
  int failed = 0;
  for (auto& r : results_)
    for (auto& [label, ok] : r.checks)
      failed += ok ? 0 : 1;
  return failed;
}

namespace {

std::string opt_num(const std::optional<double>& v) {
  if (!v)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", *v);
  return buf;
}

} // namespace

void runner::print_table() const {
  // The allocator moves the actor cases by up to 2x and the 1M-key loads
  // by 2x the other way (BENCHMARKS.md): say which one ran.
  std::printf("allocator: %s\n", app::mem_allocator().c_str());
  std::printf("actor workers: %zu, scheduler %s\n", actor_workers(),
              actor_scheduler().c_str());
  std::printf("%-52s %14s %9s %9s %9s  %s\n", "case", "items/s", "MB/s",
              "p50 us", "p99 us", "ratios, targets, counters");
  for (auto& r : results_) {
    std::string notes;
    for (auto& [lim, ratio] : r.ratios) {
      char buf[200];
      auto rates = r.pair_limit_rates.find(lim);
      if (rates != r.pair_limit_rates.end())
        std::snprintf(buf, sizeof buf, "%.3fx %s (beside each run: %.0f); ",
                      ratio, lim.c_str(), median(rates->second));
      else
        std::snprintf(buf, sizeof buf, "%.3fx %s; ", ratio, lim.c_str());
      notes += buf;
    }
    for (auto& [label, ok] : r.checks)
      notes += std::string(ok ? "PASS " : "FAIL ") + label + "; ";
    for (auto& [k, v] : r.extra) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s=%.0f; ", k.c_str(), v);
      notes += buf;
    }
    std::printf("%-52s %14.0f %9.1f %9s %9s  %s\n", r.spec.name.c_str(),
                r.items_per_s, r.mb_per_s, opt_num(r.p50_us).c_str(),
                opt_num(r.p99_us).c_str(), notes.c_str());
  }
  std::fflush(stdout);
}

void runner::write_json() const {
  std::ofstream out(opts_.json_path);
  for (auto& r : results_) {
    nlohmann::json j;
    j["case"] = r.spec.name;
    j["unit"] = r.spec.unit;
    j["limit"] = r.spec.is_limit;
    j["runs"] = r.runs;
    j["allocator"] = app::mem_allocator();
    j["actor_workers"] = actor_workers();
    j["actor_scheduler"] = actor_scheduler();
    j["items_per_s"] = r.items_per_s;
    j["mb_per_s"] = r.mb_per_s;
    if (r.p50_us) {
      j["p50_us"] = *r.p50_us;
      j["p99_us"] = *r.p99_us;
    }
    for (auto& [lim, ratio] : r.ratios)
      j["ratios"][lim] = ratio;
    // The limit's median rate over the runs it was measured beside.
    for (auto& [lim, rates] : r.pair_limit_rates)
      j["limits_beside_each_run"][lim] = median(rates);
    for (auto& [label, ok] : r.checks)
      j["targets"][label] = ok;
    for (auto& [k, v] : r.extra)
      j["extra"][k] = v;
    out << j.dump() << '\n';
  }
}

} // namespace ember::bench
