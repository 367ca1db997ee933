#include "app/resp_reply.hpp"

#include "caf/actor_system_config.hpp"

#include "messages/persist_error.hpp"

namespace ember::app {

using messages::persist_errc;
using messages::reply;

void append_bulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out.append(s.data(), s.size());
  out += "\r\n";
}

void append_integer(std::string& out, int64_t n) {
  out += ':';
  out += std::to_string(n);
  out += "\r\n";
}

void append_reply(std::string& out, const reply& r) {
  switch (r.kind) {
    case reply::nil:
      out += "$-1\r\n";
      return;
    case reply::status:
      out += '+';
      out += r.text;
      out += "\r\n";
      return;
    case reply::integer:
      append_integer(out, r.number);
      return;
    case reply::bulk:
      append_bulk(out, r.text);
      return;
    case reply::array:
      out += '*';
      out += std::to_string(r.elements.size());
      out += "\r\n";
      for (auto& x : r.elements)
        append_reply(out, x);
      return;
  }
}

void append_error_line(std::string& out, std::string_view line) {
  out += '-';
  for (char c : line)
    out += (c == '\r' || c == '\n') ? ' ' : c;
  out += "\r\n";
}

void append_error(std::string& out, const caf::error& err) {
  auto code = messages::persist_code(err);
  if (!code) {
    // Not ours: the shard is unreachable (restarting or stopped).
    append_error_line(out, "ERR shard unavailable, write not acknowledged: "
                             + caf::actor_system_config::render(err)
                             + "; retry");
    return;
  }
  auto ctx = messages::persist_context(err);
  switch (*code) {
    case persist_errc::wrong_type:
      append_error_line(out, "WRONGTYPE Operation against a key holding the "
                             "wrong kind of value");
      return;
    case persist_errc::io_error:
      append_error_line(out, "ERR persistence I/O error, write not "
                             "acknowledged: " + ctx);
      return;
    case persist_errc::overloaded:
      append_error_line(out, "ERR overloaded, write not acknowledged: "
                               + ctx);
      return;
    case persist_errc::shard_failed:
      append_error_line(out, "ERR shard failed, write not acknowledged: "
                               + ctx);
      return;
    case persist_errc::corrupt:
      append_error_line(out, "ERR data files damaged: " + ctx);
      return;
    case persist_errc::shutting_down:
      append_error_line(out, "ERR server shutting down: " + ctx);
      return;
    default:
      // The shard's contexts are Redis's own texts ("syntax error",
      // "value is not an integer or out of range", ...).
      append_error_line(out, "ERR " + ctx);
      return;
  }
}

} // namespace ember::app
