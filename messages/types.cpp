#include "messages/types.hpp"

#include "messages/interfaces.hpp"
#include "messages/persist_error.hpp"

namespace ember::messages {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<mutation>("ember::mutation");
  cfg.add_message_type<record_batch>("ember::record_batch");
  cfg.add_message_type<read_request>("ember::read_request");
  cfg.add_message_type<shard_batch>("ember::shard_batch");
  cfg.add_message_type<batch_replies>("ember::batch_replies");
  cfg.add_message_type<reply>("ember::reply");
  cfg.add_message_type<std::vector<reply>>("std::vector<ember::reply>");
  cfg.add_message_type<writer_stats>("ember::writer_stats");
  cfg.add_message_type<shard_stats>("ember::shard_stats");
  add_persist_error_category(cfg);
}

} // namespace ember::messages
