// batch.hpp: many requests to one shard in one message.
//
// The front door sends one batch per shard per network read instead of one
// request per command (ARCHITECTURE.md: a message per command costs about
// half of the throughput). The shard applies the elements in order, hands
// the records of all of them to its writer in one append, and answers with
// one result per element once every write in the batch is durable under the
// fsync policy. A failed element does not stop the others: its result
// carries the error and it changed and logged nothing.
#pragma once

#include <variant>
#include <vector>

#include "caf/error.hpp"
#include "caf/meta/type_name.hpp"

#include "messages/mutation.hpp"
#include "messages/query.hpp"
#include "messages/reply.hpp"
#include "messages/variant_inspect.hpp"

namespace ember::messages {

/// One element of a batch: a write or a read.
struct batch_op {
  std::variant<mutation, read_request> op;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_op& x) {
  return detail::inspect_variant(f, caf::meta::type_name("batch_op"), x.op);
}

struct shard_batch {
  std::vector<batch_op> ops;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shard_batch& x) {
  return f(caf::meta::type_name("shard_batch"), x.ops);
}

/// The outcome of one element: `error` set (category "ember") or `value`.
struct batch_result {
  reply value;
  caf::error error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_result& x) {
  return f(caf::meta::type_name("batch_result"), x.value, x.error);
}

/// One result per element of the batch, in the batch's order.
struct batch_replies {
  std::vector<batch_result> results;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch_replies& x) {
  return f(caf::meta::type_name("batch_replies"), x.results);
}

} // namespace ember::messages
