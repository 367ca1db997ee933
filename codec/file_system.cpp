#include "codec/file_system.hpp"

#include <cerrno>

namespace ember::codec {

writable_file::~writable_file() = default;
readable_file::~readable_file() = default;
file_system::~file_system() = default;

result<uint32_t> file_system::permission_bits(const std::string& path) {
  return error{errc::io_error,
               "cannot read the permissions of " + path
                 + ": this file system does not keep them",
               ENOTSUP};
}

result<std::string> read_file(file_system& fs, const std::string& path) {
  auto f = fs.open_readable(path);
  if (!f)
    return std::move(f).err();
  std::string buf;
  buf.resize((*f)->size());
  size_t got = 0;
  while (got < buf.size()) {
    auto n = (*f)->read_at(got, buf.data() + got, buf.size() - got);
    if (!n)
      return std::move(n).err();
    if (*n == 0)
      break;
    got += *n;
  }
  buf.resize(got);
  return buf;
}

status copy_file_durably(file_system& fs, const std::string& from,
                         const std::string& to) {
  auto bytes = read_file(fs, from);
  if (!bytes)
    return std::move(bytes).err();
  // O_EXCL: never replace a file that appeared under the same name.
  auto file = fs.open_writable(to, open_mode::create_new);
  if (!file) {
    if (file.err().sys_errno == EEXIST)
      return error{errc::io_error, to + " already exists; retry", EEXIST};
    return std::move(file).err();
  }
  if (auto st = (*file)->append(*bytes); !st)
    return st;
  if (auto st = (*file)->sync(); !st)
    return st;
  return fs.sync_dir(parent_dir(to));
}

std::string parent_dir(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos)
    return ".";
  if (pos == 0)
    return "/";
  return path.substr(0, pos);
}

std::string join_path(const std::string& dir, std::string_view name) {
  std::string out = dir;
  if (!out.empty() && out.back() != '/')
    out.push_back('/');
  out.append(name);
  return out;
}

} // namespace ember::codec
