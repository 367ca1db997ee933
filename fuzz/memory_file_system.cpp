#include "fuzz/memory_file_system.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ember::fuzz {

namespace {

codec::error read_only(const std::string& what, const std::string& path) {
  return codec::io_error(what + " " + path
                           + ": the fuzzing file system is read-only",
                         EROFS);
}

class memory_file final : public codec::readable_file {
public:
  memory_file(const std::string& path, const std::string& content)
    : path_(path), content_(content) {
  }

  codec::result<size_t> read_at(uint64_t offset, char* buf,
                                size_t n) override {
    if (offset >= content_.size())
      return size_t{0};
    auto len = std::min<uint64_t>(n, content_.size() - offset);
    std::memcpy(buf, content_.data() + offset, len);
    return static_cast<size_t>(len);
  }

  uint64_t size() const override {
    return content_.size();
  }

  const std::string& path() const override {
    return path_;
  }

private:
  const std::string& path_;
  const std::string& content_;
};

} // namespace

memory_file_system::memory_file_system(std::string path, std::string content)
  : path_(std::move(path)), content_(std::move(content)) {
}

codec::result<std::unique_ptr<codec::writable_file>>
memory_file_system::open_writable(const std::string& path, codec::open_mode) {
  return read_only("opening for writing", path);
}

codec::result<std::unique_ptr<codec::readable_file>>
memory_file_system::open_readable(const std::string& path) {
  if (path != path_)
    return codec::io_error("opening " + path + ": no such file", ENOENT);
  return std::unique_ptr<codec::readable_file>{
    std::make_unique<memory_file>(path_, content_)};
}

codec::status memory_file_system::rename(const std::string& from,
                                         const std::string&) {
  return read_only("renaming", from);
}

codec::status memory_file_system::remove(const std::string& path) {
  return read_only("removing", path);
}

codec::status memory_file_system::sync_dir(const std::string&) {
  return {};
}

codec::result<bool> memory_file_system::exists(const std::string& path) {
  return path == path_;
}

codec::result<int64_t>
memory_file_system::modified_ms(const std::string&) {
  return int64_t{0};
}

} // namespace ember::fuzz
