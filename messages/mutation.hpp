// mutation.hpp: a write request to a shard, one AOF record kind each.
//
// The record says what to change, in the record's own terms (FORMATS.md),
// with two differences in meaning for requests:
// - TTLs are relative to the moment the shard handles the request
//   (rec::set::expire_ms, EXPIRE seconds, PEXPIRE ms; -1 = none), unless
//   `absolute_ttl` is set, when rec::set::expire_ms is a unix-ms deadline
//   (SET ... PXAT). PEXPIREAT is always absolute.
// - `flags` carry Redis options that change what applies (SET NX/XX/GET/
//   KEEPTTL).
// The shard validates, applies with Redis semantics and logs what it
// applied; the reply comes once that is durable under the fsync policy.
//
// Serializes as the record's own wire bytes (tag + payload), so a record
// travels exactly as it is logged and is validated when it arrives.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "caf/fwd.hpp"
#include "caf/error.hpp"
#include "caf/sec.hpp"
#include "caf/meta/load_callback.hpp"
#include "caf/meta/save_callback.hpp"
#include "caf/meta/type_name.hpp"

#include "codec/aof_record.hpp"

namespace ember::messages {

enum mutation_flag : uint8_t {
  flag_nx = 1,           ///< SET only if the key does not exist
  flag_xx = 2,           ///< SET only if the key exists
  flag_get = 4,          ///< SET replies with the old value
  flag_keepttl = 8,      ///< SET keeps the key's TTL
  flag_absolute_ttl = 16 ///< rec::set::expire_ms is a unix-ms deadline
};

struct mutation {
  codec::aof_record record;
  uint8_t flags = 0;
};

/// Encodes a record list as wire bytes; decodes them back (false on bad
/// bytes, with nothing partially applied to `out`).
std::string encode_records(const std::vector<codec::aof_record>& records);
bool decode_records(const std::string& bytes,
                    std::vector<codec::aof_record>& out);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mutation& x) {
  std::vector<codec::aof_record> one;
  std::string bytes;
  if constexpr (Inspector::reads_state) {
    one.push_back(x.record);
    bytes = encode_records(one);
  }
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (!decode_records(bytes, one) || one.size() != 1)
      return caf::sec::invalid_argument;
    x.record = std::move(one.front());
    return caf::none;
  });
  return f(caf::meta::type_name("mutation"), bytes, x.flags, load);
}

/// What runs once the records it came with are durable (`err` is none) or
/// never will be (`err` says why): it sends a client its reply. `ctx` is
/// the execution context of the actor running it, from inside one of its
/// handlers: the reply is enqueued through it (a caf::response_promise
/// would use its own actor's context, which another actor may not touch).
using durable_callback =
  std::function<void(const caf::error& err, caf::execution_unit* ctx)>;

/// Durable callbacks shared by two actors; whichever runs them empties the
/// list (see record_batch).
using durable_callbacks = std::shared_ptr<std::vector<durable_callback>>;

/// A batch of records handed from a shard to its writer, with the replies
/// to send once they are durable. The writer sends them itself instead of
/// replying to the shard for it to send them: one hop less between the
/// disk and each client. The shard keeps a share of `acks` so that it can
/// still fail them if the batch never reached the writer.
/// Only records cross a network: serializing a batch that carries acks
/// fails.
struct record_batch {
  std::vector<codec::aof_record> records;
  durable_callbacks acks;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record_batch& x) {
  std::string bytes;
  if constexpr (Inspector::reads_state)
    bytes = encode_records(x.records);
  auto local_only = caf::meta::save_callback([&]() -> caf::error {
    if (x.acks && !x.acks->empty())
      return caf::sec::state_not_serializable;
    return caf::none;
  });
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (!decode_records(bytes, x.records))
      return caf::sec::invalid_argument;
    return caf::none;
  });
  return f(caf::meta::type_name("record_batch"), local_only, bytes, load);
}

} // namespace ember::messages
