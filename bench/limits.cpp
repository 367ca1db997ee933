// limits.cpp: what the machine can do at best, measured in the same run as
// the cases that are bounded by it: raw write(2) and fdatasync loops with
// no codec at all, memcpy, CRC32 and AES-256-GCM.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

#include "bench/harness.hpp"
#include "bench/workload.hpp"
#include "codec/aes_gcm.hpp"
#include "codec/crc32.hpp"
#include "codec/encryption_key.hpp"

namespace ember::bench {

namespace {

// A file written with plain syscalls; closed by the destructor. A failing
// syscall aborts the benchmark (its numbers would be meaningless).
class raw_file {
public:
  explicit raw_file(const std::string& path)
    : fd_(::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC,
                 0600)) {
    if (fd_ < 0)
      throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  }
  ~raw_file() {
    ::close(fd_);
  }
  raw_file(const raw_file&) = delete;
  raw_file& operator=(const raw_file&) = delete;

  void write_all(const char* p, size_t n) {
    while (n > 0) {
      auto w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        throw std::runtime_error(std::string("write: ") + std::strerror(errno));
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  void datasync() {
    if (::fdatasync(fd_) != 0)
      throw std::runtime_error(std::string("fdatasync: ") + std::strerror(errno));
  }

private:
  int fd_;
};

// One write of `batch` 100-byte records, then one fdatasync, `syncs` times.
sample fsync_loop(const std::string& path, int batch, uint64_t syncs) {
  std::string rec(raw_record_size * size_t(batch), 'r');
  raw_file f(path);
  sample s;
  auto start = clock_type::now();
  for (uint64_t i = 0; i < syncs; ++i) {
    f.write_all(rec.data(), rec.size());
    f.datasync();
  }
  s.seconds = seconds_since(start);
  s.items = syncs * uint64_t(batch);
  s.bytes = s.items * raw_record_size;
  return s;
}

std::string random_bytes(size_t n) {
  std::mt19937_64 rng{7};
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

} // namespace

void add_limit_cases(runner& r) {
  auto quick = r.opts().quick;
  auto dir = r.case_dir("limits");

  // The bytes of the AOF writer cases, in the chunks they flush. The page
  // cache's speed drifts too (38-48M records/s in three runs within three
  // minutes), so the cases it bounds measure it again beside each run.
  auto bytes = std::make_shared<std::string>(encoded_sets(aof_records(quick)));
  r.add({limit::raw_write, "records", true, {}, {}, {}, [=] {
           raw_file f(dir + "/raw-write");
           sample s;
           auto start = clock_type::now();
           for (size_t off = 0; off < bytes->size(); off += flush_bytes)
             f.write_all(bytes->data() + off,
                         std::min(flush_bytes, bytes->size() - off));
           s.seconds = seconds_since(start);
           s.items = aof_records(quick);
           s.bytes = bytes->size();
           return s;
         }, true});

  auto per_record_syncs = r.size(2'000, 50);
  // The fsync loops' rates drift with the disk from minute to minute (142
  // to 210 us per write and fdatasync of 64 records within half an hour):
  // the cases they bound measure them again beside each of their runs.
  r.add({limit::fsync_per_record, "records", true, {}, {}, {}, [=] {
           return fsync_loop(dir + "/raw-sync-1", 1, per_record_syncs);
         }, true});
  for (int batch : {8, 64, 256}) {
    auto syncs = r.size(batch == 256 ? 300 : 500, 20);
    r.add({limit::fsync_per_batch(batch), "records", true, {}, {}, {}, [=] {
             return fsync_loop(dir + "/raw-sync-" + std::to_string(batch),
                               batch, syncs);
           }, true});
  }

  auto big = std::make_shared<std::string>(random_bytes(size_t(r.size(64, 4)) << 20));
  auto dst = std::make_shared<std::string>(big->size(), '\0');
  r.add({limit::memcpy_, "100 B records", true, {}, {}, {}, [=] {
           return repeat_for(0.2, big->size() / raw_record_size, big->size(), [=] {
             std::memcpy(dst->data(), big->data(), big->size());
             asm volatile("" ::: "memory");
           });
         }});

  auto mib = std::make_shared<std::string>(big->substr(0, 1 << 20));
  auto sink = std::make_shared<uint32_t>(0);
  r.add({limit::crc_ours, "MiB", true, {}, {}, {}, [=] {
           return repeat_for(0.2, 1, mib->size(),
                             [=] { *sink += codec::crc32(mib->data(), mib->size()); });
         }});
  r.add({"limit crc32 boost 1 MiB", "MiB", true, {{limit::crc_ours, true, {}}}, {}, {}, [=] {
           return repeat_for(0.2, 1, mib->size(), [=] {
             *sink += codec::crc32_boost(mib->data(), mib->size());
           });
         }});
  auto per_100 = [=](auto crc) {
    return [=] {
      return repeat_for(0.2, mib->size() / raw_record_size,
                        mib->size() / raw_record_size * raw_record_size, [=] {
                          for (size_t off = 0; off + raw_record_size <= mib->size();
                               off += raw_record_size)
                            *sink += crc(mib->data() + off, raw_record_size);
                        });
    };
  };
  r.add({"limit crc32 ours 100 B records", "records", true, {}, {}, {},
         per_100([](const char* p, size_t n) { return codec::crc32(p, n); })});
  r.add({"limit crc32 boost 100 B records", "records", true, {}, {}, {},
         per_100([](const char* p, size_t n) { return codec::crc32_boost(p, n); })});

  // AES-256-GCM: key schedule set once, one seal per 100-byte record.
  auto key = std::make_shared<codec::encryption_key>(codec::encryption_key::generate());
  auto gcm = std::make_shared<codec::aes_gcm>(*key);
  auto plain = std::make_shared<std::string>(mib->substr(0, raw_record_size));
  auto sealed = std::make_shared<std::string>();
  r.add({limit::aes_gcm, "records", true, {}, {}, {}, [=] {
           return repeat_for(0.2, 1000, 1000 * raw_record_size, [=] {
             for (int i = 0; i < 1000; ++i) {
               sealed->clear();
               gcm->seal(*sealed, *plain);
             }
           });
         }});
}

} // namespace ember::bench
