// resp_reply.hpp: what the front door writes back, in RESP2.
//
// Shard replies (messages::reply) render as they are shaped; errors of the
// "ember" category render in Redis's forms (-WRONGTYPE ..., -ERR ...), with
// the persistence failures that mean "this write was not acknowledged"
// (io_error, overloaded, shard_failed) saying so.
#pragma once

#include <string>
#include <string_view>

#include "caf/error.hpp"

#include "messages/reply.hpp"

namespace ember::app {

/// Appends `r` as RESP2 to `out`.
void append_reply(std::string& out, const messages::reply& r);

/// Appends "-<line>\r\n"; CR/LF inside `line` become blanks (a RESP error
/// is one line).
void append_error_line(std::string& out, std::string_view line);

/// Appends the Redis form of a shard's error.
void append_error(std::string& out, const caf::error& err);

void append_bulk(std::string& out, std::string_view s);
void append_integer(std::string& out, int64_t n);

} // namespace ember::app
