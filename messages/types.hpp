// types.hpp: announces every message type to an actor system config, so
// they can cross CAF's network layer and print in logs.
#pragma once

#include "caf/actor_system_config.hpp"

namespace ember::messages {

/// Adds our message types and the error category to `cfg`.
void add_message_types(caf::actor_system_config& cfg);

} // namespace ember::messages
