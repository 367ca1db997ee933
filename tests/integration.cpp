// Integration on the real scheduler: 8 shards, 16 producer actors, 10,000
// mixed writes each (every one acknowledged), then a restart from the
// files; the recovered state equals an in-memory model of the
// acknowledged writes.
#define CAF_SUITE integration
#include "caf/test/unit_test_impl.hpp"

#include <atomic>
#include <future>
#include <memory>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"

#include "actors/shard_state.hpp"
#include "actors/supervisor.hpp"
#include "actors/wakeful_stealing.hpp"
#include "codec/recovery.hpp"
#include "messages/routing.hpp"
#include "tests/actor_test_config.hpp"
#include "tests/test_support.hpp"

using namespace ember;
using namespace ember::messages;
namespace rec = ember::codec::rec;

namespace {

constexpr uint16_t shards = 8;
constexpr int producers = 16;
constexpr int writes_each = 10'000;

// On emberd's scheduler (actors/wakeful_stealing.hpp): 160,000
// acknowledged writes through shards and writers on real threads.
struct config : test::actor_config {
  config() {
    actors::use_wakeful_stealing(*this);
  }
};

// The i-th write of producer p: mixed kinds on the producer's own keys, so
// the model does not depend on how producers interleave.
codec::aof_record make_write(int p, int i) {
  auto key = "p" + std::to_string(p) + ":" + std::to_string(i % 97);
  switch (i % 8) {
    case 0: return rec::set{key + ":s", "v" + std::to_string(i), -1};
    case 1: return rec::incr{key + ":n"};
    case 2: return rec::rpush{key + ":l", {std::to_string(i)}};
    case 3: return rec::hset{key + ":h", {{"f" + std::to_string(i % 5), "x"}}};
    case 4: return rec::sadd{key + ":set", {std::to_string(i % 7)}};
    case 5: return rec::append{key + ":s", "+"};
    case 6: return rec::zadd{key + ":z", {{double(i), "m" + std::to_string(i % 3)}}};
    default: return rec::lpop{key + ":l"};
  }
}

struct outcome {
  std::atomic<int> acked{0};
  std::atomic<int> failed{0};
  std::promise<void> done;
  std::atomic<int> finished{0};
};

// Keeps 8 writes in flight; each goes to the shard that owns its key.
caf::behavior producer(caf::event_based_actor* self, int p,
                       std::vector<shard_actor> handles,
                       std::shared_ptr<outcome> out) {
  auto next = std::make_shared<int>(0);
  auto in_flight = std::make_shared<int>(0);
  auto pump = std::make_shared<std::function<void()>>();
  // The pump must not own itself (that cycle leaked the producer and, through
  // its handles, the shard actors); the pending replies own it instead.
  std::weak_ptr<std::function<void()>> weak_pump = pump;
  *pump = [=] {
    auto again = weak_pump.lock();
    while (*in_flight < 8 && *next < writes_each) {
      auto r = make_write(p, (*next)++);
      auto& target = handles[shard_of(codec::primary_key(r), shards)];
      ++*in_flight;
      self->request(target, caf::infinite, mutation{std::move(r), 0})
        .then([=](reply&) { ++out->acked; --*in_flight; (*again)(); },
              [=](caf::error&) { ++out->failed; --*in_flight; (*again)(); });
    }
    if (*in_flight == 0 && *next == writes_each) {
      if (++out->finished == producers)
        out->done.set_value();
      self->quit();
    }
  };
  (*pump)();
  return {[](int) {}};
}

} // namespace

CAF_TEST(eight shards and sixteen producers restart to the acknowledged state) {
  test::temp_dir dir;
  std::vector<actors::shard_options> opts;
  for (uint16_t s = 0; s < shards; ++s) {
    actors::shard_options o;
    o.data_dir = dir.path();
    o.shard_id = s;
    o.fsync = fsync_policy::always;
    opts.push_back(o);
  }
  {
    config cfg;
    caf::actor_system sys{cfg};
    auto sup = actors::start_supervisor(sys, opts);
    CAF_REQUIRE(sup);
    caf::scoped_actor self{sys};
    std::vector<shard_actor> handles;
    for (uint16_t s = 0; s < shards; ++s)
      self->request(*sup, caf::infinite, shard_atom::value, s)
        .receive([&](shard_actor& h) { handles.push_back(h); },
                 [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
    auto out = std::make_shared<outcome>();
    auto finished = out->done.get_future();
    for (int p = 0; p < producers; ++p)
      sys.spawn(producer, p, handles, out);
    finished.wait();
    CAF_CHECK_EQUAL(out->failed.load(), 0);
    CAF_CHECK_EQUAL(out->acked.load(), producers * writes_each);
    self->send_exit(*sup, caf::exit_reason::user_shutdown);
  }
  // The model: every write applied in each producer's order.
  actors::shard_state model;
  std::vector<codec::aof_record> ignored;
  for (int p = 0; p < producers; ++p)
    for (int i = 0; i < writes_each; ++i) {
      ignored.clear();
      CAF_REQUIRE(model.apply(mutation{make_write(p, i), 0}, 0, ignored));
    }
  // Restart from the files: each shard holds exactly its keys.
  size_t keys = 0;
  for (uint16_t s = 0; s < shards; ++s) {
    auto r = codec::recover_shard(codec::posix_file_system(), dir.path(), s);
    CAF_REQUIRE(r.ok());
    CAF_CHECK(r->report.replayed_aof);
    r->data.for_each([&](std::string_view key, const codec::entry& e) {
      CAF_CHECK_EQUAL(shard_of(key, shards), s);
      auto* want = model.data().find(key);
      CAF_REQUIRE(want != nullptr);
      CAF_CHECK(want->val == e.val);
    });
    keys += r->data.size();
  }
  CAF_CHECK_EQUAL(keys, model.data().size());
}

// Stopping the supervisor stops every actor it started, also after a
// snapshot (found by ember-bench: the actor system's destructor used to wait
// forever for one actor after a rewrite).
namespace {

void stop_after_compaction(fsync_policy policy, bool rewrite) {
  CAF_MESSAGE("fsync " << to_string(policy) << (rewrite ? ", rewrite" : ", snapshot"));
  test::temp_dir dir;
  config cfg;
  auto sys = std::make_unique<caf::actor_system>(cfg);
  actors::shard_options opts;
  opts.data_dir = dir.path();
  opts.fsync = policy;
  auto sup = actors::start_supervisor(*sys, {opts});
  CAF_REQUIRE(sup);
  {
    caf::scoped_actor self{*sys};
    messages::shard_actor shard;
    self->request(*sup, caf::infinite, messages::shard_atom::value, uint16_t{0})
      .receive([&](messages::shard_actor& h) { shard = h; },
               [&](caf::error& e) { CAF_FAIL(sys->render(e)); });
    for (int i = 0; i < 10; ++i)
      self
        ->request(shard, caf::infinite,
                  messages::mutation{codec::rec::set{"k" + std::to_string(i), "v"},
                                     0})
        .receive([](messages::reply&) {},
                 [&](caf::error& e) { CAF_FAIL(sys->render(e)); });
    auto done = rewrite ? self->request(shard, caf::infinite,
                                        messages::rewrite_atom::value)
                        : self->request(shard, caf::infinite,
                                        messages::snapshot_atom::value);
    done.receive([](uint64_t entries) { CAF_CHECK_EQUAL(entries, 10u); },
               [&](caf::error& e) { CAF_FAIL(sys->render(e)); });
  }
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
  size_t left = 0;
  for (int i = 0; i < 1000; ++i) {
    left = sys->registry().running();
    if (left == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CAF_CHECK_EQUAL(left, 0u);
  if (left != 0)
    static_cast<void>(sys.release()); // its destructor would block for good
}

} // namespace

CAF_TEST(stopping the supervisor after a snapshot stops every actor) {
  for (auto policy : {fsync_policy::always, fsync_policy::no})
    for (bool rewrite : {false, true})
      stop_after_compaction(policy, rewrite);
}
