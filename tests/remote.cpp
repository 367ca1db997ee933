// Remote shards: an actor in a second actor system reaches a shard over
// loopback through CAF's middleman and gets the same replies as a local
// one (messages serialize; errors keep their category).
#define CAF_SUITE remote
#include "caf/test/unit_test_impl.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "caf/scoped_actor.hpp"

#include "actors/supervisor.hpp"
#include "messages/persist_error.hpp"
#include "tests/actor_test_config.hpp"
#include "tests/test_support.hpp"

using namespace ember;
using namespace ember::messages;
namespace rec = ember::codec::rec;

namespace {

struct config : test::actor_config {
  config() {
    load<caf::io::middleman>();
  }
};

template <class Message>
caf::expected<reply> ask(caf::actor_system& sys, const shard_actor& shard,
                         Message msg) {
  caf::scoped_actor self{sys};
  caf::expected<reply> out{caf::error{}};
  self->request(shard, std::chrono::seconds(10), std::move(msg))
    .receive([&](reply& r) { out = std::move(r); },
             [&](caf::error& err) { out = std::move(err); });
  return out;
}

} // namespace

CAF_TEST(a shard answers a remote actor system like a local one) {
  test::temp_dir dir;
  config server_cfg;
  caf::actor_system server{server_cfg};
  actors::shard_options o;
  o.data_dir = dir.path();
  o.fsync = fsync_policy::always;
  auto sup = actors::start_supervisor(server, {o});
  CAF_REQUIRE(sup);
  shard_actor local;
  {
    caf::scoped_actor self{server};
    self->request(*sup, caf::infinite, shard_atom::value, uint16_t{0})
      .receive([&](shard_actor& h) { local = h; },
               [&](caf::error& err) { CAF_FAIL(server.render(err)); });
  }
  auto port = server.middleman().publish(local, 0, "127.0.0.1");
  CAF_REQUIRE(port);
  config client_cfg;
  caf::actor_system client{client_cfg};
  auto remote = client.middleman().remote_actor<shard_actor>("127.0.0.1",
                                                             *port);
  CAF_REQUIRE(remote);
  // The same requests, remotely and locally, give the same replies.
  std::vector<mutation> writes
    = {{rec::set{"k", "v", -1}, 0},       {rec::rpush{"l", {"a", "b"}}, 0},
       {rec::incr{"n"}, 0},               {rec::zadd{"z", {{1.5, "m"}}}, 0},
       {rec::set{"k", "w", -1}, flag_get}};
  for (auto& m : writes) {
    auto r = ask(client, *remote, m);
    CAF_REQUIRE(r);
  }
  std::vector<query> reads = {q::get{"k"}, q::lrange{"l", 0, -1},
                              q::zrange{"z", 0, -1, true}, q::dbsize{},
                              q::ttl{"k", false}};
  for (auto& q : reads) {
    auto there = ask(client, *remote, read_request{q});
    auto here = ask(server, local, read_request{q});
    CAF_REQUIRE(there && here);
    CAF_CHECK(*there == *here);
  }
  CAF_CHECK(*ask(client, *remote, read_request{q::get{"k"}})
            == reply::of(std::string{"w"}));
  // Errors cross with their category and context.
  auto err = ask(client, *remote, mutation{rec::incr{"l"}, 0});
  CAF_REQUIRE(!err);
  CAF_CHECK(persist_code(err.error()) == persist_errc::wrong_type);
  CAF_CHECK(!persist_context(err.error()).empty());
  caf::anon_send_exit(*sup, caf::exit_reason::user_shutdown);
}
