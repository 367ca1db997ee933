// persist_error.hpp: the error category actors reply with.
//
// At actor boundaries every failure is a caf::error in the category
// `persist_category` ("ember") with a persist_errc code and a context
// message that names the key, file or offset and what the caller can do.
// Register the category's renderer once per actor system config
// (add_persist_error_category) so errors print as text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"
#include "caf/error.hpp"

#include "codec/result.hpp"

namespace ember::messages {

enum class persist_errc : uint8_t {
  wrong_type = 1,   ///< the key holds another kind of value
  not_integer,      ///< value or argument is not an i64 (or would overflow)
  invalid_utf8,     ///< a key, member, field or name is not valid UTF-8
  too_large,        ///< a value, offset or count beyond the limits
  overloaded,       ///< in-flight bytes over the bound: retry later
  io_error,         ///< the disk refused; nothing was acknowledged
  corrupt,          ///< damaged files: the shard refuses to start
  shard_failed,     ///< restarted too often: writes refused, reads work
  out_of_range,     ///< an index outside a list
  syntax_error,     ///< contradictory or invalid options (NX with XX, ...)
  no_such_key,      ///< the command needs an existing key
  not_float,        ///< a score that is not a number
  shutting_down,    ///< the shard is stopping and accepts no new work
};

inline constexpr caf::atom_value persist_category = caf::atom("ember");

/// "wrong_type", "not_integer", ...
std::string to_string(persist_errc code);

/// An error of our category; `context` is the human-readable detail.
caf::error make_error(persist_errc code, std::string context = {});

/// The code of an error of our category, nothing for other errors.
std::optional<persist_errc> persist_code(const caf::error& err);

/// The context text of an error of our category ("" otherwise).
std::string persist_context(const caf::error& err);

/// Maps a codec error onto our category (io_error, corrupt, too_large, ...)
/// keeping its message.
caf::error from_codec(const codec::error& err);

/// Registers the renderer: "ember:wrong_type: <context>".
void add_persist_error_category(caf::actor_system_config& cfg);

} // namespace ember::messages
