// Process kill test: runs tests/crash/crash_writer (the supervisor, shards
// and writers on a real data directory, with concurrent producers and back
// to back snapshots and rewrites), SIGKILLs it at a random moment, restarts
// it, and checks through the restarted process's recovery that every
// acknowledged write is there exactly once, nothing is half-applied and
// nothing appears that was never sent (tests/crash/workload.hpp), and that
// writing goes on.
//
// Rounds per fsync policy: EMBER_KILL_ROUNDS (default 25; thousands for a
// soak, see RELIABILITY.md). Seed: EMBER_KILL_SEED (printed either way).
#define CAF_SUITE kill
#include "caf/test/unit_test_impl.hpp"

#include <cstdlib>
#include <random>
#include <sstream>
#include <sys/wait.h>

#include "tests/crash/child_process.hpp"
#include "tests/crash/workload.hpp"
#include "tests/test_support.hpp"

using namespace ember;
using namespace std::chrono_literals;
namespace crash = ember::test::crash;

namespace {

constexpr uint32_t producers = 8;
constexpr uint16_t shards = 2;
constexpr const char* compact_ms = "3";

uint64_t env_or(const char* name, uint64_t fallback) {
  auto* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

struct totals {
  uint64_t rounds = 0;
  uint64_t acks = 0;
  uint64_t kills_in_compaction = 0;
  uint64_t kills_before_ready = 0;
};

// What the driver knows: per producer, the op counts the recovered state
// may show (the acknowledged count, plus one if an op was in flight).
class kill_rounds {
public:
  kill_rounds(std::string policy, uint64_t seed)
    : policy_(std::move(policy)), rng_(seed), may_(producers, {0}) {
  }

  // One process lifetime. `kill_after` set: SIGKILL that long after start
  // (`from_ready`: after READY instead). Unset: a bounded run of `limit`
  // ops per producer to its clean exit; `limit` 0 with no kill only reads
  // the keys.
  void run(std::optional<std::chrono::milliseconds> kill_after,
           bool from_ready, uint64_t limit) {
    test::child_process proc{{EMBER_CRASH_WRITER, dir_.path(), policy_,
                              std::to_string(shards),
                              std::to_string(producers), compact_ms}};
    auto start = test::child_process::clock::now();
    auto far = start + 120s; // a hung writer fails the test, not CI
    auto deadline = kill_after && !from_ready ? start + *kill_after : far;
    crash::dump keys;
    std::vector<uint64_t> acked(producers, 0);
    bool ready = false;
    bool went = false;
    bool compacting = false;
    bool done = false;
    auto handle = [&](const std::string& line) {
      std::istringstream in{line};
      std::string tag;
      in >> tag;
      if (tag == "K") {
        std::string key;
        in >> key;
        std::string rest;
        std::getline(in, rest);
        keys[key] = rest.empty() ? rest : rest.substr(1);
      } else if (tag == "READY") {
        ready = true;
        check(keys);
        if (kill_after && from_ready)
          deadline = test::child_process::clock::now() + *kill_after;
        if (!kill_after && limit == 0) {
          proc.close_input();
          return;
        }
        std::string go = "GO " + std::to_string(limit);
        for (auto n : applied_)
          go += " " + std::to_string(n);
        went = proc.write_line(go);
      } else if (tag == "A") {
        uint32_t p = 0;
        uint64_t i = 0;
        in >> p >> i;
        CAF_REQUIRE(p < producers);
        // One op in flight per producer: acks come strictly in order.
        CAF_REQUIRE_EQUAL(i, applied_[p] + acked[p]);
        ++acked[p];
        ++totals_.acks;
      } else if (tag == "S") {
        compacting = true;
      } else if (tag == "E") {
        compacting = false;
      } else if (tag == "DONE") {
        done = true;
      } else {
        CAF_FAIL("crash_writer (" << policy_ << "): " << line);
      }
    };
    while (auto line = proc.read_line(deadline))
      handle(*line);
    CAF_REQUIRE(!proc.eof() || !kill_after); // it must not die on its own
    if (kill_after) {
      totals_.kills_in_compaction += compacting ? 1 : 0;
      totals_.kills_before_ready += ready ? 0 : 1;
      proc.kill();
      // Lines written before the kill are still in the pipe: all acked.
      while (auto line = proc.read_line(far))
        handle(*line);
      proc.wait();
    } else {
      auto status = proc.wait();
      CAF_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      CAF_REQUIRE(ready);
      CAF_REQUIRE(limit == 0 || done);
    }
    ++totals_.rounds;
    if (!ready)
      return; // killed in recovery: what may be there is still unresolved
    for (uint32_t p = 0; p < producers; ++p) {
      auto n = applied_[p] + acked[p];
      CAF_REQUIRE(limit == 0 || kill_after || acked[p] == limit);
      // The op after the last ack may have been sent (and applied).
      may_[p] = went && (!limit || acked[p] < limit)
                  ? std::vector<uint64_t>{n, n + 1}
                  : std::vector<uint64_t>{n};
    }
  }

  void kill_round() {
    std::uniform_int_distribution<int> early{0, 99};
    if (early(rng_) < 15) // may land during recovery
      run(std::chrono::milliseconds(std::uniform_int_distribution<int>{
            0, 40}(rng_)),
          false, 0);
    else
      run(std::chrono::milliseconds(std::uniform_int_distribution<int>{
            0, 150}(rng_)),
          true, 0);
  }

  const totals& stats() const {
    return totals_;
  }

private:
  // Every producer's keys must be the state after one of the op counts it
  // may show, and no key may belong to no producer.
  void check(const crash::dump& keys) {
    size_t owned = 0;
    for (uint32_t p = 0; p < producers; ++p) {
      auto mine = crash::keys_of(keys, p);
      owned += mine.size();
      bool matched = false;
      for (auto n : may_[p])
        if (mine == crash::state(p, n)) {
          applied_[p] = n;
          matched = true;
          break;
        }
      if (!matched) {
        std::ostringstream msg;
        msg << "producer " << p << " (" << policy_ << "): recovered keys "
            << "match no allowed op count (";
        for (auto n : may_[p])
          msg << n << " ";
        msg << "); recovered:";
        for (auto& [k, v] : mine)
          msg << "\n  " << k << " = " << v;
        msg << "\nexpected for " << may_[p].front() << ":";
        for (auto& [k, v] : crash::state(p, may_[p].front()))
          msg << "\n  " << k << " = " << v;
        CAF_FAIL(msg.str());
      }
      may_[p] = {applied_[p]};
    }
    CAF_REQUIRE_EQUAL(owned, keys.size());
  }

  std::string policy_;
  std::mt19937_64 rng_;
  test::temp_dir dir_;
  std::vector<std::vector<uint64_t>> may_;
  std::vector<uint64_t> applied_ = std::vector<uint64_t>(producers, 0);
  totals totals_;
};

void kill_test(const std::string& policy) {
  auto seed = env_or("EMBER_KILL_SEED", std::random_device{}());
  auto rounds = env_or("EMBER_KILL_ROUNDS", 50);
  CAF_MESSAGE(policy << ": " << rounds << " rounds, EMBER_KILL_SEED="
                     << seed);
  kill_rounds k{policy, seed};
  for (uint64_t r = 0; r < rounds; ++r)
    k.kill_round();
  // Writing goes on after all those kills, and the last state reads back.
  k.run(std::nullopt, false, 20);
  k.run(std::nullopt, false, 0);
  auto& t = k.stats();
  CAF_CHECK(t.acks > 0);
  std::printf("kill-test %s: rounds=%llu kills-in-snapshot/rewrite=%llu "
              "kills-before-ready=%llu acknowledged=%llu lost=0\n",
              policy.c_str(), static_cast<unsigned long long>(rounds),
              static_cast<unsigned long long>(t.kills_in_compaction),
              static_cast<unsigned long long>(t.kills_before_ready),
              static_cast<unsigned long long>(t.acks));
}

} // namespace

CAF_TEST(a process kill under always loses nothing acknowledged) {
  kill_test("always");
}

CAF_TEST(a process kill under everysec loses nothing acknowledged) {
  kill_test("everysec");
}
