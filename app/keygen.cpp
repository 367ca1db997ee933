#include "app/keygen.hpp"

#include <cerrno>
#include <ostream>

#include "app/tool_support.hpp"
#include "codec/encryption_key.hpp"

namespace ember::app {

int keygen_file(const std::string& path, std::ostream& out,
                std::ostream& err) {
  auto key = codec::encryption_key::generate();
  auto st = key.write_key_file(codec::posix_file_system(), path);
  if (!st) {
    fail(err, "keygen", st.err().message);
    return st.err().sys_errno == EEXIST ? exit_damaged : exit_usage;
  }
  out << path
      << ": new 256-bit key written (mode 0600). Keep a copy in a safe "
         "place: files encrypted with it cannot be read without it.\n";
  return exit_ok;
}

} // namespace ember::app
