// actor_cases.cpp: the actor path (producer actors -> shard actor -> writer
// actor, every write acknowledged) under each fsync policy with 1, 2 and 4
// shards, and group commit: `always` with 1 to 256 concurrent producers of
// one outstanding write each; the actor path also with producers sending
// batches of 64 SETs per request.
#include <initializer_list>

#include "bench/actor_driver.hpp"
#include "bench/harness.hpp"

namespace ember::bench {

using messages::fsync_policy;

namespace {

// The actor path under each policy and shard count: 4 producers with
// `in_flight` requests of `batch` SETs each. Its limit under `no` and
// `everysec` is the same load answered at once by one actor
// (limit::caf_request); under `always` one fdatasync per 64 records (256 in
// batches).
void add_path_cases(runner& r, std::initializer_list<uint16_t> shard_counts,
                    int in_flight, int batch, uint64_t writes) {
  load floor;
  floor.producers = 4;
  floor.in_flight = in_flight;
  floor.batch = batch;
  floor.writes = r.size(writes, 4'000);
  r.add({limit::caf_request(batch), "records", true, {}, {}, {},
         [=] { return drive_echo(floor); }});
  for (auto p : {fsync_policy::no, fsync_policy::everysec, fsync_policy::always})
    for (uint16_t shards : shard_counts) {
      auto l = floor; // the limit's load; `always` writes a tenth of it
      if (p == fsync_policy::always)
        l.writes = r.size(writes / 10, 1'000);
      auto name = "actor " + messages::to_string(p) + " " + std::to_string(shards)
                  + " shard" + (shards > 1 ? "s" : "") + ", 4x"
                  + std::to_string(in_flight) + " in flight"
                  + (batch > 1 ? " x " + std::to_string(batch) + " per batch" : "");
      case_spec c{name, "records", false, {}, {}, {}, {}};
      if (p == fsync_policy::always)
        c.ratios.push_back({limit::fsync_per_batch(batch > 1 ? 256 : 64), false, {}});
      else
        c.ratios.push_back({limit::caf_request(batch), false, {}});
      if (p == fsync_policy::no && shards == 1)
        c.min_items_per_s = 1'000'000;
      c.run = [=, &r] {
        shard_env env(r.case_dir(name), shards, p);
        return drive(env, l);
      };
      r.add(std::move(c));
    }
}

} // namespace

void add_actor_cases(runner& r) {
  add_path_cases(r, {1, 2, 4}, 32, 1, 400'000);
  // The same path with producers sending a shard_batch of 64 SETs per
  // request (what the daemon's front door sends per network read): each
  // element is still acknowledged, by its own result in the reply.
  add_path_cases(r, {1, 4}, 4, 64, 2'000'000);

  for (int producers : {1, 8, 64, 256}) {
    load l;
    l.producers = producers;
    l.in_flight = 1;
    l.writes = producers == 1 ? r.size(1'000, 30)
                              : r.size(std::max(4'000, producers * 40), uint64_t(producers) * 2);
    auto name = "group commit always, " + std::to_string(producers) + " producers";
    case_spec c{name, "records", false, {}, {}, {}, {}};
    if (producers == 1) {
      c.ratios.push_back({limit::fsync_per_record, false, {}});
    } else {
      c.ratios.push_back({limit::fsync_per_batch(producers), false,
                          producers == 64 ? std::optional<double>(0.55) : std::nullopt});
      c.ratios.push_back({limit::fsync_per_record, false,
                          producers == 64 ? std::optional<double>(20) : std::nullopt});
    }
    // The writer's buffers stay bounded whatever the producer count: far
    // below the shard's max_inflight_bytes (64 MiB).
    c.max_extra = std::make_pair(std::string("peak_writer_bytes"), double(64u << 20));
    c.run = [=, &r] {
      shard_env env(r.case_dir(name), 1, fsync_policy::always);
      return drive(env, l);
    };
    r.add(std::move(c));
  }
}

} // namespace ember::bench
