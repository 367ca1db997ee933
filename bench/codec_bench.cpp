// codec_bench: throughput of the codec's hot paths, printed as a table and
// as JSON lines. Every figure is measured in this run; compare ratios (the
// machines are shared and noisy), e.g. slicing-by-8 CRC against Boost.CRC.
//
//   codec_bench [--records N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "codec/aof_reader.hpp"
#include "codec/aof_writer.hpp"
#include "codec/crc32.hpp"

using namespace ember::codec;
using clock_type = std::chrono::steady_clock;

namespace {

struct measurement {
  std::string name;
  double items_per_s;
  double mb_per_s;
};

// Runs `fn` (which processes `items` items of `bytes` bytes in total) until
// at least 0.3 s passed, 5 times, and keeps the median rate.
measurement measure(const std::string& name, uint64_t items, uint64_t bytes,
                    const std::function<void()>& fn) {
  std::vector<double> secs;
  for (int run = 0; run < 5; ++run) {
    uint64_t reps = 0;
    auto start = clock_type::now();
    double elapsed = 0;
    do {
      fn();
      ++reps;
      elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    } while (elapsed < 0.3);
    secs.push_back(elapsed / static_cast<double>(reps));
  }
  std::sort(secs.begin(), secs.end());
  auto t = secs[secs.size() / 2];
  return {name, static_cast<double>(items) / t,
          static_cast<double>(bytes) / t / 1e6};
}

void print(const std::vector<measurement>& ms) {
  std::printf("%-44s %16s %12s\n", "case", "items/s", "MB/s");
  for (auto& m : ms)
    std::printf("%-44s %16.0f %12.1f\n", m.name.c_str(), m.items_per_s,
                m.mb_per_s);
  for (auto& m : ms)
    std::printf("{\"case\":\"%s\",\"items_per_s\":%.0f,\"mb_per_s\":%.1f}\n",
                m.name.c_str(), m.items_per_s, m.mb_per_s);
}

} // namespace

int main(int argc, char** argv) {
  uint64_t n = 200'000;
  if (argc == 3 && std::strcmp(argv[1], "--records") == 0)
    n = std::stoull(argv[2]);
  std::mt19937_64 rng{1};
  std::vector<measurement> ms;
  volatile uint32_t sink = 0;

  // CRC on 100-byte records and on 1 MiB buffers.
  std::string big(1 << 20, '\0');
  for (auto& c : big)
    c = static_cast<char>(rng());
  auto per_record = [&](auto fn) {
    return [&, fn] {
      for (size_t off = 0; off + 100 <= big.size(); off += 100)
        sink = sink + fn(big.data() + off, 100);
    };
  };
  uint64_t recs = big.size() / 100;
  ms.push_back(measure("crc32 slicing-by-8, 100-byte records", recs,
                       recs * 100, per_record([](const char* p, size_t s) {
                         return crc32(p, s);
                       })));
  ms.push_back(measure("crc32 boost, 100-byte records", recs, recs * 100,
                       per_record([](const char* p, size_t s) {
                         return crc32_boost(p, s);
                       })));
  ms.push_back(measure("crc32 slicing-by-8, 1 MiB", 1, big.size(),
                       [&] { sink = sink + crc32(big.data(), big.size()); }));
  ms.push_back(measure("crc32 boost, 1 MiB", 1, big.size(), [&] {
    sink = sink + crc32_boost(big.data(), big.size());
  }));

  // Encode / decode SET records: 16-byte keys, 64-byte values.
  std::vector<aof_record> records;
  for (uint64_t i = 0; i < n; ++i) {
    auto digits = std::to_string(i);
    auto key = "key:" + std::string(12 - std::min<size_t>(12, digits.size()), '0')
               + digits; // 16 bytes
    records.push_back(rec::set{key, std::string(64, 'v'), -1});
  }
  std::string encoded;
  ms.push_back(measure("encode SET (16 B key, 64 B value)", n, 0, [&] {
    encoded.clear();
    for (auto& r : records)
      encode_record(encoded, r);
  }));
  ms.back().mb_per_s = static_cast<double>(encoded.size())
                       * ms.back().items_per_s / static_cast<double>(n) / 1e6;

  auto dir = std::filesystem::temp_directory_path() / "ember-codec-bench";
  std::filesystem::create_directories(dir);
  auto path = (dir / "bench.aof").string();
  // AOF writer, policy "no": add + flush per 4096 records, no fsync.
  ms.push_back(measure("aof_writer append, fsync never", n, 0, [&] {
    aof_writer_options opts;
    opts.truncate_existing = true;
    auto w = aof_writer::open(posix_file_system(), path, opts);
    for (uint64_t i = 0; i < n; ++i) {
      (void) w->add(records[i]);
      if (w->pending_bytes() >= (1 << 20))
        (void) w->flush();
    }
    (void) w->flush();
  }));
  ms.back().mb_per_s = static_cast<double>(encoded.size())
                       * ms.back().items_per_s / static_cast<double>(n) / 1e6;
  ms.push_back(measure("aof_reader decode + CRC", n, encoded.size(), [&] {
    auto r = aof_reader::open(posix_file_system(), path);
    aof_record rec;
    uint64_t count = 0;
    while (r->next(rec))
      ++count;
    sink = sink + static_cast<uint32_t>(count);
  }));
  std::filesystem::remove_all(dir);
  print(ms);
  return 0;
}
