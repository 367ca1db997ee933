// Messages: every message type serializes and comes back equal, so it can
// cross CAF's network layer; errors carry our category and context.
#define CAF_SUITE messages
#include "caf/test/unit_test_impl.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"

#include "messages/interfaces.hpp"
#include "messages/persist_error.hpp"
#include "tests/actor_test_config.hpp"
#include "tests/random_records.hpp"

using namespace ember;
using namespace ember::messages;

namespace {

using config = test::actor_config;

struct fixture {
  config cfg;
  caf::actor_system sys{cfg};

  template <class T>
  T round_trip(T x) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    if (auto err = sink(x))
      CAF_FAIL("serialize: " << sys.render(err));
    T y{};
    caf::binary_deserializer source{sys, buf};
    if (auto err = source(y))
      CAF_FAIL("deserialize: " << sys.render(err));
    return y;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(messages_tests, fixture)

CAF_TEST(every record kind travels as a mutation) {
  test::record_randomizer gen{7};
  for (uint8_t tag = 1; tag <= codec::max_tag; ++tag) {
    if (!codec::tag_supported(tag))
      continue;
    mutation m{gen.make(tag), flag_nx | flag_get};
    auto back = round_trip(m);
    CAF_CHECK(back.record == m.record);
    CAF_CHECK_EQUAL(back.flags, m.flags);
  }
  record_batch batch;
  for (int i = 0; i < 100; ++i)
    batch.records.push_back(gen.next());
  CAF_CHECK(round_trip(batch).records == batch.records);
  // Replies waiting for the disk stay in the process: a batch carrying
  // any refuses to serialize instead of arriving without them.
  batch.acks = std::make_shared<std::vector<durable_callback>>();
  CAF_CHECK(round_trip(batch).records == batch.records); // none yet
  batch.acks->push_back([](const caf::error&, caf::execution_unit*) {});
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  CAF_CHECK_EQUAL(sink(batch), caf::sec::state_not_serializable);
  CAF_CHECK(!caf::deep_to_string(batch).empty());
}

CAF_TEST(every query travels) {
  std::vector<query> qs = {q::get{"k"},
                           q::exists{{"a", "b", "a"}},
                           q::ttl{"k", true},
                           q::lrange{"l", -3, 7},
                           q::zrange{"z", 0, -1, true},
                           q::dbsize{},
                           q::scan{42, "user:*", 100},
                           q::hget{"h", "f"}};
  for (auto& x : qs) {
    auto back = round_trip(read_request{x});
    CAF_CHECK_EQUAL(back.q.index(), x.index());
    CAF_CHECK_EQUAL(caf::deep_to_string(read_request{x}),
                    caf::deep_to_string(back));
  }
}

CAF_TEST(replies nest) {
  auto r = reply::of(std::vector<reply>{
    reply::of(std::string{"0"}),
    reply::of(std::vector<reply>{reply::of(std::string{"a\0b", 3}),
                                 reply::none(), reply::of(int64_t{-5})}),
    reply::ok()});
  CAF_CHECK(round_trip(r) == r);
}

CAF_TEST(stats travel) {
  shard_stats s;
  s.shard = 3;
  s.writer.delayed_fsyncs = 9;
  s.last_save_status = "ok";
  auto back = round_trip(s);
  CAF_CHECK_EQUAL(back.shard, 3);
  CAF_CHECK_EQUAL(back.writer.delayed_fsyncs, 9u);
  CAF_CHECK_EQUAL(back.last_save_status, "ok");
}

CAF_TEST(batches and their per-element results travel) {
  shard_batch b;
  b.ops.push_back({mutation{codec::rec::set{"k", "v", -1}, flag_nx}});
  b.ops.push_back({read_request{q::lrange{"l", 0, -1}}});
  auto back = round_trip(b);
  CAF_REQUIRE_EQUAL(back.ops.size(), 2u);
  auto* m = std::get_if<mutation>(&back.ops[0].op);
  CAF_REQUIRE(m != nullptr);
  CAF_CHECK(std::get<mutation>(b.ops[0].op).record == m->record);
  CAF_CHECK_EQUAL(m->flags, flag_nx);
  auto* r = std::get_if<read_request>(&back.ops[1].op);
  CAF_REQUIRE(r != nullptr);
  CAF_CHECK_EQUAL(std::get<q::lrange>(r->q).key, "l");
  batch_replies rs;
  rs.results.push_back({reply::ok(), {}});
  rs.results.push_back({{}, make_error(persist_errc::wrong_type, "key 'l'")});
  auto rs_back = round_trip(rs);
  CAF_REQUIRE_EQUAL(rs_back.results.size(), 2u);
  CAF_CHECK(rs_back.results[0].value == reply::ok());
  CAF_CHECK(!rs_back.results[0].error);
  CAF_CHECK(persist_code(rs_back.results[1].error) == persist_errc::wrong_type);
  CAF_CHECK_EQUAL(persist_context(rs_back.results[1].error), "key 'l'");
}

CAF_TEST(errors carry our category code and context) {
  auto err = make_error(persist_errc::wrong_type,
                        "key 'k' holds a list, not a string");
  CAF_CHECK(persist_code(err) == persist_errc::wrong_type);
  CAF_CHECK_EQUAL(persist_context(err), "key 'k' holds a list, not a string");
  CAF_CHECK_EQUAL(sys.render(err),
                  "ember:wrong_type: key 'k' holds a list, not a string");
  CAF_CHECK(!persist_code(caf::make_error(caf::sec::invalid_argument)));
  auto io = from_codec(codec::io_error("write to /x failed", 5));
  CAF_CHECK(persist_code(io) == persist_errc::io_error);
}

CAF_TEST_FIXTURE_SCOPE_END()
