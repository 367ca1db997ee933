// actor_test_config.hpp: the actor system config every actor suite uses
// (our message types and error category announced).
#pragma once

#include "caf/actor_system_config.hpp"

#include "messages/types.hpp"

namespace ember::test {

struct actor_config : caf::actor_system_config {
  actor_config() {
    messages::add_message_types(*this);
  }
};

} // namespace ember::test
