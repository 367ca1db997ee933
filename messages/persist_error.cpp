#include "messages/persist_error.hpp"

#include "caf/message.hpp"

namespace ember::messages {

std::string to_string(persist_errc code) {
  switch (code) {
    case persist_errc::wrong_type: return "wrong_type";
    case persist_errc::not_integer: return "not_integer";
    case persist_errc::invalid_utf8: return "invalid_utf8";
    case persist_errc::too_large: return "too_large";
    case persist_errc::overloaded: return "overloaded";
    case persist_errc::io_error: return "io_error";
    case persist_errc::corrupt: return "corrupt";
    case persist_errc::shard_failed: return "shard_failed";
    case persist_errc::out_of_range: return "out_of_range";
    case persist_errc::syntax_error: return "syntax_error";
    case persist_errc::no_such_key: return "no_such_key";
    case persist_errc::not_float: return "not_float";
    case persist_errc::shutting_down: return "shutting_down";
  }
  return "unknown";
}

caf::error make_error(persist_errc code, std::string context) {
  return caf::error{static_cast<uint8_t>(code), persist_category,
                    caf::make_message(std::move(context))};
}

std::optional<persist_errc> persist_code(const caf::error& err) {
  if (!err || err.category() != persist_category)
    return std::nullopt;
  return static_cast<persist_errc>(err.code());
}

std::string persist_context(const caf::error& err) {
  if (!persist_code(err) || err.context().empty()
      || !err.context().match_element<std::string>(0))
    return {};
  return err.context().get_as<std::string>(0);
}

caf::error from_codec(const codec::error& err) {
  using codec::errc;
  switch (err.code) {
    case errc::io_error:
    case errc::closed:
      return make_error(persist_errc::io_error, err.message);
    case errc::invalid_data:
      return make_error(persist_errc::too_large, err.message);
    default:
      return make_error(persist_errc::corrupt, err.message);
  }
}

void add_persist_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(persist_category, [](uint8_t code, caf::atom_value,
                                              const caf::message& ctx) {
    std::string out = "ember:" + to_string(static_cast<persist_errc>(code));
    if (!ctx.empty() && ctx.match_element<std::string>(0)) {
      out += ": ";
      out += ctx.get_as<std::string>(0);
    }
    return out;
  });
}

} // namespace ember::messages
