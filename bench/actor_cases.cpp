// actor_cases.cpp: the actor path (producer actors -> shard actor -> writer
// actor, every write acknowledged) under each fsync policy with 1, 2 and 4
// shards, and group commit: `always` with 1 to 256 concurrent producers of
// one outstanding write each; the actor path also with producers sending
// batches of 64 SETs per request.
#include "bench/actor_driver.hpp"
#include "bench/harness.hpp"

namespace ember::bench {

using messages::fsync_policy;

void add_actor_cases(runner& r) {
  for (auto p : {fsync_policy::no, fsync_policy::everysec, fsync_policy::always})
    for (uint16_t shards : {1, 2, 4}) {
      load l;
      l.producers = 4;
      l.in_flight = 32;
      l.writes = p == fsync_policy::always ? r.size(40'000, 1'000)
                                           : r.size(400'000, 4'000);
      auto name = "actor " + messages::to_string(p) + " " + std::to_string(shards)
                  + " shard" + (shards > 1 ? "s" : "") + ", 4x32 in flight";
      case_spec c{name, "records", false, {}, {}, {}, {}};
      if (p == fsync_policy::always)
        c.ratios.push_back({limit::fsync_per_batch(64), false, {}});
      else
        c.ratios.push_back({limit::raw_write, true, {}});
      if (p == fsync_policy::no && shards == 1)
        c.min_items_per_s = 1'000'000;
      c.run = [=, &r] {
        shard_env env(r.case_dir(name), shards, p);
        return drive(env, l);
      };
      r.add(std::move(c));
    }

  // The same path with producers sending a shard_batch of 64 SETs per
  // request (what the daemon's front door sends per network read): each
  // element is still acknowledged, by its own result in the reply.
  for (auto p : {fsync_policy::no, fsync_policy::everysec, fsync_policy::always})
    for (uint16_t shards : {1, 4}) {
      load l;
      l.producers = 4;
      l.in_flight = 4;
      l.batch = 64;
      l.writes = p == fsync_policy::always ? r.size(200'000, 2'000)
                                           : r.size(2'000'000, 20'000);
      auto name = "actor " + messages::to_string(p) + " " + std::to_string(shards)
                  + " shard" + (shards > 1 ? "s" : "") + ", 4x4 in flight x 64 per batch";
      case_spec c{name, "records", false, {}, {}, {}, {}};
      if (p == fsync_policy::always)
        c.ratios.push_back({limit::fsync_per_batch(256), false, {}});
      else
        c.ratios.push_back({limit::raw_write, true, {}});
      if (p == fsync_policy::no && shards == 1)
        c.min_items_per_s = 1'000'000;
      c.run = [=, &r] {
        shard_env env(r.case_dir(name), shards, p);
        return drive(env, l);
      };
      r.add(std::move(c));
    }

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
