// daemon.hpp: emberd's lifecycle.
//
// run_daemon(): logging, key file, recovery of every shard (logged per
// shard), the front door, then serve until SIGTERM/SIGINT or SHUTDOWN. The
// stop is graceful: stop accepting, answer every request already read,
// fsync every shard's AOF, exit 0. A second signal during the stop exits at
// once with code 1 (what was acknowledged under `always` is on disk; under
// everysec up to a second may be lost on power loss, none on this exit).
#pragma once

#include "app/daemon_config.hpp"

namespace ember::app {

/// Exit codes: 0 clean stop, 1 runtime failure (recovery refused, port
/// taken, fsync failed at stop), 2 configuration (log file, key file).
/// Call from the main thread before any other thread exists: it blocks
/// SIGTERM and SIGINT for the whole process and waits for them itself.
int run_daemon(const daemon_config& cfg);

} // namespace ember::app
