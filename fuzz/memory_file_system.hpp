// memory_file_system.hpp: a read-only file system holding one file in
// memory, so fuzz targets run the real readers without touching the disk.
#pragma once

#include <string>

#include "codec/file_system.hpp"

namespace ember::fuzz {

class memory_file_system final : public codec::file_system {
public:
  /// The single file `path` holds `content` (copied).
  memory_file_system(std::string path, std::string content);

  codec::result<std::unique_ptr<codec::writable_file>>
  open_writable(const std::string& path, codec::open_mode mode) override;
  codec::result<std::unique_ptr<codec::readable_file>>
  open_readable(const std::string& path) override;
  codec::status rename(const std::string& from,
                       const std::string& to) override;
  codec::status remove(const std::string& path) override;
  codec::status sync_dir(const std::string& dir) override;
  codec::result<bool> exists(const std::string& path) override;
  codec::result<int64_t> modified_ms(const std::string& path) override;

private:
  std::string path_;
  std::string content_;
};

} // namespace ember::fuzz
