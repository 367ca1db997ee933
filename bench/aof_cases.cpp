// aof_cases.cpp: the AOF writer on its own (no actors): add() per record,
// one flush per flush_bytes of records (the raw write loop writes the same
// bytes in the same chunks), under the three fsync policies; under `no`
// both with write_behind (as the bulk writers: a rewrite's re-encoded tail,
// `ember-persist encrypt`) and in line (as the writer actor, whose
// acknowledgements under `no` wait for the write).
#include "bench/harness.hpp"
#include "bench/workload.hpp"
#include "codec/aof_writer.hpp"

namespace ember::bench {

namespace {

enum class policy { no, everysec, always };

enum class mode { in_line, behind };

codec::aof_writer open_fresh(const std::string& path, mode m) {
  codec::aof_writer_options o;
  o.truncate_existing = true;
  o.write_behind = m == mode::behind;
  auto w = codec::aof_writer::open(codec::posix_file_system(), path, o);
  if (!w)
    throw std::runtime_error("cannot open " + path);
  return std::move(*w);
}

void check(const codec::status& st) {
  if (!st)
    throw std::runtime_error("aof_writer failed");
}

sample write_records(const std::string& path, uint64_t n, policy p,
                     mode m = mode::in_line) {
  auto records = set_records(n);
  auto w = open_fresh(path, m);
  auto base = w.size();
  sample s;
  uint64_t syncs = 0;
  auto start = clock_type::now();
  auto last_sync = start;
  for (auto& rec : *records) {
    if (p == policy::always) {
      // Only this policy records latencies; a clock read per record would
      // be measurement overhead in the others.
      auto t0 = clock_type::now();
      check(w.add(rec));
      check(w.commit());
      ++syncs;
      s.latencies_us.push_back(seconds_since(t0) * 1e6);
      continue;
    }
    check(w.add(rec));
    if (w.pending_bytes() >= flush_bytes) {
      check(w.flush());
      if (p == policy::everysec && seconds_since(last_sync) >= 1.0) {
        check(w.sync());
        ++syncs;
        last_sync = clock_type::now();
      }
    }
  }
  check(w.flush());
  check(w.drain()); // every byte written, as the raw loop's
  s.seconds = seconds_since(start);
  s.items = n;
  s.bytes = w.size() - base;
  s.extra["fsyncs"] = double(syncs);
  return s;
}

} // namespace

void add_aof_cases(runner& r) {
  auto dir = r.case_dir("aof");
  auto n = aof_records(r.opts().quick);
  r.add({"aof_writer no", "records", false, {{limit::raw_write, true, 0.5}},
         {}, {}, [=] {
           return write_records(dir + "/no.aof", n, policy::no, mode::behind);
         }});
  r.add({"aof_writer no in line", "records", false,
         {{limit::raw_write, true, {}}}, {}, {}, [=] {
           return write_records(dir + "/no-in-line.aof", n, policy::no);
         }});
  r.add({"aof_writer everysec", "records", false, {{limit::raw_write, true, {}}},
         {}, {}, [=] { return write_records(dir + "/everysec.aof", n, policy::everysec); }});
  auto per_record = r.size(2'000, 50);
  r.add({"aof_writer fsync per record", "records", false,
         {{limit::fsync_per_record, false, {}}}, {}, {}, [=] {
           return write_records(dir + "/always.aof", per_record, policy::always);
         }});
}

} // namespace ember::bench
