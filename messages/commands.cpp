#include "messages/commands.hpp"

namespace ember::messages {

std::string to_string(fsync_policy p) {
  switch (p) {
    case fsync_policy::always: return "always";
    case fsync_policy::everysec: return "everysec";
    case fsync_policy::no: return "no";
  }
  return "unknown";
}

bool from_string(const std::string& s, fsync_policy& out) {
  if (s == "always")
    out = fsync_policy::always;
  else if (s == "everysec")
    out = fsync_policy::everysec;
  else if (s == "no")
    out = fsync_policy::no;
  else
    return false;
  return true;
}

} // namespace ember::messages
