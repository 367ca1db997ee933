#include "app/data_dir.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>

namespace ember::app {

namespace {

/// N of "shard-N<suffix>" for N in 0..65535 written without leading zeros
/// or signs (so that one shard has exactly one spelling), else -1.
int shard_of(const std::string& name, std::string_view suffix) {
  constexpr std::string_view prefix = "shard-";
  if (name.size() <= prefix.size() + suffix.size()
      || name.compare(0, prefix.size(), prefix) != 0
      || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  auto digits = name.substr(prefix.size(),
                            name.size() - prefix.size() - suffix.size());
  if (digits.size() > 5 || (digits.size() > 1 && digits[0] == '0'))
    return -1;
  int n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return -1;
    n = n * 10 + (c - '0');
  }
  return n <= 65535 ? n : -1;
}

} // namespace

codec::result<std::vector<uint16_t>> list_shards(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it{dir, ec};
  if (ec)
    return codec::io_error("cannot list directory " + dir, ec.value());
  std::vector<uint16_t> shards;
  for (; it != std::filesystem::directory_iterator{}; it.increment(ec)) {
    auto name = it->path().filename().string();
    for (auto suffix : {".snap", ".aof", ".rewrite"})
      if (auto n = shard_of(name, suffix); n >= 0)
        shards.push_back(static_cast<uint16_t>(n));
  }
  if (ec)
    return codec::io_error("cannot list directory " + dir, ec.value());
  std::sort(shards.begin(), shards.end());
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
  return shards;
}

uint32_t shard_count_of(const std::string& dir) {
  auto present = list_shards(dir);
  if (!present || present->empty())
    return 0;
  return uint32_t{present->back()} + 1;
}

shard_count_choice shards_to_serve(const std::string& dir,
                                   uint16_t configured, uint16_t max_shards) {
  auto written = shard_count_of(dir);
  if (configured == 0 && written > max_shards)
    return {0, "persistence.data-dir '" + dir + "' holds shard files up to "
                 "shard-" + std::to_string(written - 1)
                 + ", more shards than emberd serves ("
                 + std::to_string(max_shards)
                 + "); move the files of other programs out of it"};
  // A new directory gets one shard: the one network thread bounds emberd
  // before one shard does, and on 2 cores one shard served 1.4-1.8x the
  // requests/s of four under pipelining (BENCHMARKS.md).
  if (configured == 0)
    return {static_cast<uint16_t>(written == 0 ? 1 : written), {}};
  if (written == 0 || written == configured)
    return {configured, {}};
  return {0, "persistence.data-dir '" + dir
               + "' holds shard files up to shard-"
               + std::to_string(written - 1) + " (written with "
               + std::to_string(written) + " shards) but persistence.shards "
               "is " + std::to_string(configured)
               + ": a key's shard is CRC32(key) % shards, so another count "
                 "would hide keys written before. Set persistence.shards = "
               + std::to_string(written)
               + ", or start with an empty data directory"};
}

std::string rewrite_marker_path(const std::string& dir, uint16_t shard) {
  return codec::join_path(dir, "shard-" + std::to_string(shard) + ".rewrite");
}

codec::result<file_stamp> stamp_of(codec::file_system& fs,
                                   const std::string& path) {
  auto file = fs.open_readable(path);
  if (!file)
    return std::move(file).err();
  auto mtime = fs.modified_ms(path);
  if (!mtime)
    return std::move(mtime).err();
  return file_stamp{(*file)->size(), *mtime};
}

codec::status set_modified_ms(const std::string& path, int64_t ms) {
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT; // access time: leave it
  times[1].tv_sec = static_cast<time_t>(ms / 1000);
  times[1].tv_nsec = static_cast<long>(ms % 1000) * 1'000'000;
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0)
    return codec::io_error("cannot set the modification time of " + path,
                           errno);
  return {};
}

std::string utc_text(int64_t unix_ms) {
  auto secs = static_cast<time_t>(unix_ms / 1000);
  struct tm tm {};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return buf;
}

} // namespace ember::app
