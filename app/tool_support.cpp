#include "app/tool_support.hpp"

#include <ostream>

#include "codec/file_system.hpp"

namespace ember::app {

bool is_io(const codec::error& e) {
  return e.code == codec::errc::io_error;
}

int fail(std::ostream& err, const char* command, const std::string& message) {
  err << "ember-persist " << command << ": " << message << '\n';
  return exit_usage;
}

codec::result<maybe_key> load_key(const std::optional<std::string>& path,
                                  const char* command, std::ostream& err) {
  if (!path)
    return maybe_key{};
  codec::key_load_options opts;
  opts.permissions = codec::key_permissions::warn;
  auto loaded = codec::encryption_key::load(codec::posix_file_system(), *path,
                                            opts);
  if (!loaded)
    return std::move(loaded).err();
  if (!loaded->warning.empty())
    err << "ember-persist " << command << ": warning: " << loaded->warning
        << '\n';
  return maybe_key{std::move(loaded->key)};
}

} // namespace ember::app
