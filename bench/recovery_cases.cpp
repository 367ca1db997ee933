// recovery_cases.cpp: recovery of a 1,000,000-record AOF, snapshot write
// and load of 1,000,000 string entries, the memory a shard holding
// 1,000,000 SET keys uses, and a rewrite of 1,000,000 keys through the
// actors with the pause the shard saw.

#include <filesystem>
#include <memory>
#include <stdexcept>

#include "caf/scoped_actor.hpp"

#include "app/malloc_info.hpp"
#include "bench/actor_driver.hpp"
#include "bench/harness.hpp"
#include "bench/workload.hpp"
#include "codec/aof_writer.hpp"
#include "codec/recovery.hpp"
#include "codec/rewrite.hpp"

namespace ember::bench {

namespace {

codec::recovery_result recover(const std::string& dir) {
  auto r = codec::recover_shard(codec::posix_file_system(), dir, 0);
  if (!r)
    throw std::runtime_error("recover_shard " + dir + " failed");
  return std::move(*r);
}

// Bytes the allocator hands out now (jemalloc or glibc, all arenas).
double heap_in_use() {
  return double(app::heap_bytes_in_use());
}

// Issue 6: at most 2x the key and value bytes plus 64 bytes per key.
double memory_budget(uint64_t keys) {
  return double(keys) * (2.0 * double(key_size + value_size) + 64.0);
}

} // namespace

void add_recovery_cases(runner& r) {
  auto n = r.size(1'000'000, 20'000);
  auto aof_dir = r.case_dir("recovery aof");
  {
    auto w = codec::aof_writer::open(codec::posix_file_system(),
                                     codec::aof_path(aof_dir, 0));
    if (!w)
      throw std::runtime_error("cannot create the recovery AOF");
    for (auto& rec : *set_records(n))
      (void) w->add(rec);
    if (!w->commit())
      throw std::runtime_error("cannot write the recovery AOF");
  }
  r.add({"recovery of a 1M-record AOF", "records", false, {}, 3'000'000, {}, [=] {
           auto before = heap_in_use();
           auto start = clock_type::now();
           auto rec = recover(aof_dir);
           sample s{seconds_since(start), rec.report.records_replayed,
                    rec.report.aof.bytes, {}, {}};
           s.extra["keyspace_heap_bytes_per_key"] =
             (heap_in_use() - before) / double(rec.data.size());
           return s;
         }});

  // Snapshot write: the recovered keyspace, written as a rewrite does.
  auto snap_dir = r.case_dir("snapshot");
  auto keys = std::make_shared<std::unique_ptr<codec::recovery_result>>();
  // Writes the snapshot of `keys` (recovered from the AOF if not yet) into
  // snap_dir as shard-0.snap, as a rewrite does; returns what it wrote.
  auto write_snapshot = [=](clock_type::time_point* started) {
    if (!*keys)
      *keys = std::make_unique<codec::recovery_result>(recover(aof_dir));
    if (started)
      *started = clock_type::now();
    auto st = codec::write_snapshot_tmp(codec::posix_file_system(), snap_dir, 0,
                                        (*keys)->data, codec::unix_now_ms(), nullptr);
    if (!st)
      throw std::runtime_error("write_snapshot_tmp failed");
    auto p = codec::rewrite_paths::of(snap_dir, 0);
    std::filesystem::rename(p.snap_tmp, p.snap);
    return *st;
  };
  r.add({"snapshot write 1M string entries", "entries", false,
         {{limit::raw_write, true, {}}}, 6'000'000, {}, [=] {
           clock_type::time_point start;
           auto st = write_snapshot(&start);
           return sample{seconds_since(start), st.entries, st.bytes, {}, {}};
         }});
  r.add({"snapshot load 1M string entries", "entries", false, {}, 2'750'000, {}, [=] {
           if (!std::filesystem::exists(codec::snapshot_path(snap_dir, 0)))
             write_snapshot(nullptr); // --filter skipped the write case
           keys->reset(); // the writer's keyspace is no longer needed
           auto start = clock_type::now();
           auto rec = recover(snap_dir);
           return sample{seconds_since(start), rec.report.snapshot.items,
                         rec.report.snapshot.bytes, {}, {}};
         }});

  // Memory of a live shard filled through the actors (policy no).
  auto mem_keys = r.size(1'000'000, 10'000);
  auto budget = memory_budget(mem_keys);
  r.add({"memory: shard holding 1M SET keys (fill)", "records", false, {}, {},
         std::make_pair(std::string("heap_bytes"), budget), [=, &r] {
           shard_env env(r.case_dir("memory"), 1, messages::fsync_policy::no);
           auto before = heap_in_use();
           load l;
           l.producers = 4;
           l.in_flight = 32;
           l.writes = mem_keys;
           auto s = drive(env, l);
           auto heap = heap_in_use() - before;
           s.latencies_us.clear(); // this case is about memory, not latency
           s.extra = {{"heap_bytes", heap},
                      {"heap_bytes_per_key", heap / double(mem_keys)},
                      {"budget_bytes", budget}};
           return s;
         }});

  // A rewrite of 1M keys through the actors: the shard is filled once, then
  // every run asks it for a rewrite.
  auto env = std::make_shared<std::unique_ptr<shard_env>>();
  auto runs_left = std::make_shared<int>(r.opts().runs);
  r.add({"rewrite 1M keys through the actors", "entries", false, {}, {}, {}, [=, &r] {
           if (!*env) {
             *env = std::make_unique<shard_env>(r.case_dir("rewrite"), 1,
                                                messages::fsync_policy::no);
             load l;
             l.producers = 4;
             l.in_flight = 32;
             l.writes = mem_keys;
             drive(**env, l);
           }
           auto start = clock_type::now();
           uint64_t entries = 0;
           {
             // Gone before env->reset() below: a live scoped_actor counts
             // as a running actor, which ~actor_system waits for.
             caf::scoped_actor self{(*env)->system()};
             self->request((*env)->shards()[0], caf::infinite,
                           messages::rewrite_atom::value)
               .receive([&](uint64_t n) { entries = n; },
                        [&](caf::error& e) {
                          throw std::runtime_error("rewrite: "
                                                   + (*env)->system().render(e));
                        });
           }
           sample s{seconds_since(start), entries, 0, {}, {}};
           auto st = (*env)->stats()[0];
           s.bytes = st.last_save_bytes;
           s.extra["pause_us"] = double(st.last_save_pause_us);
           s.extra["rewrite_duration_us"] = double(st.last_rewrite_duration_us);
           if (--*runs_left == 0)
             env->reset();
           return s;
         }});
}

} // namespace ember::bench
