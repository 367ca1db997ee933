// emberd: the daemon. Configuration (app/daemon_config.hpp), then the
// lifecycle (app/daemon.hpp).
#include <iostream>
#include <string>
#include <vector>

#include "app/daemon.hpp"
#include "app/daemon_config.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto cfg = ember::app::load_config(args);
  if (cfg.help) {
    std::cout << ember::app::help_text();
    return 0;
  }
  if (!cfg) {
    std::cerr << "emberd: " << cfg.error << "\n";
    return 2;
  }
  return ember::app::run_daemon(cfg.config);
}
