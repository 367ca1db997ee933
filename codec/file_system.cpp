#include "codec/file_system.hpp"

namespace ember::codec {

writable_file::~writable_file() = default;
readable_file::~readable_file() = default;
file_system::~file_system() = default;

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
