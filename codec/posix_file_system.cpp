// POSIX implementation of file_system.hpp.
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/file_system.hpp"

namespace ember::codec {

namespace {

// Owns a file descriptor.
class fd_handle {
public:
  explicit fd_handle(int fd = -1) noexcept : fd_(fd) {
  }
  fd_handle(const fd_handle&) = delete;
  fd_handle& operator=(const fd_handle&) = delete;
  fd_handle(fd_handle&& other) noexcept : fd_(other.fd_) {
    other.fd_ = -1;
  }
  ~fd_handle() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int get() const noexcept {
    return fd_;
  }

private:
  int fd_;
};

status write_all(int fd, const std::string& path, std::string_view data,
                 const uint64_t* offset) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = offset ? ::pwrite(fd, data.data() + done, data.size() - done,
                               static_cast<off_t>(*offset + done))
                    : ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return io_error("write to " + path + " failed", errno);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

class posix_writable final : public writable_file {
public:
  posix_writable(fd_handle fd, std::string path, uint64_t size)
    : fd_(std::move(fd)), path_(std::move(path)), size_(size) {
  }

  status append(std::string_view data) override {
    auto st = write_all(fd_.get(), path_, data, nullptr);
    if (st)
      size_ += data.size();
    return st;
  }

  status write_at(uint64_t offset, std::string_view data) override {
    auto st = write_all(fd_.get(), path_, data, &offset);
    if (st && offset + data.size() > size_)
      size_ = offset + data.size();
    return st;
  }

  status sync() override {
    if (::fdatasync(fd_.get()) != 0)
      return io_error("fsync of " + path_ + " failed", errno);
    return {};
  }

  void start_writeback(uint64_t offset, uint64_t n) noexcept override {
    // Asynchronous (SYNC_FILE_RANGE_WRITE alone waits for nothing); an
    // error here will show in the next fdatasync.
    (void) ::sync_file_range(fd_.get(), static_cast<off_t>(offset),
                             static_cast<off_t>(n), SYNC_FILE_RANGE_WRITE);
  }

  status truncate(uint64_t size) override {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0)
      return io_error("truncating " + path_ + " failed", errno);
    if (::lseek(fd_.get(), static_cast<off_t>(size), SEEK_SET) < 0)
      return io_error("seeking in " + path_ + " failed", errno);
    size_ = size;
    return {};
  }

  uint64_t size() const override {
    return size_;
  }

  const std::string& path() const override {
    return path_;
  }

private:
  fd_handle fd_;
  std::string path_;
  uint64_t size_;
};

class posix_readable final : public readable_file {
public:
  posix_readable(fd_handle fd, std::string path, uint64_t size)
    : fd_(std::move(fd)), path_(std::move(path)), size_(size) {
  }

  result<size_t> read_at(uint64_t offset, char* buf, size_t n) override {
    size_t done = 0;
    while (done < n) {
      auto got = ::pread(fd_.get(), buf + done, n - done,
                         static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR)
          continue;
        return io_error("read from " + path_ + " failed", errno);
      }
      if (got == 0)
        break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

  uint64_t size() const override {
    return size_;
  }

  const std::string& path() const override {
    return path_;
  }

private:
  fd_handle fd_;
  std::string path_;
  uint64_t size_;
};

class posix_fs final : public file_system {
public:
  result<std::unique_ptr<writable_file>>
  open_writable(const std::string& path, open_mode mode) override {
    int flags = O_WRONLY | O_CLOEXEC;
    if (mode == open_mode::create_truncate)
      flags |= O_CREAT | O_TRUNC;
    else if (mode == open_mode::create_new)
      flags |= O_CREAT | O_EXCL;
    fd_handle fd{::open(path.c_str(), flags, 0600)};
    if (fd.get() < 0)
      return io_error("cannot open " + path + " for writing", errno);
    // The open mode is filtered by the umask and ignored for a file that
    // already existed (a stale tmp file): set 0600 explicitly, so that what
    // we write (possibly secrets) is never readable by group or others.
    if (mode != open_mode::append_existing && ::fchmod(fd.get(), 0600) != 0)
      return io_error("cannot set mode 0600 on " + path, errno);
    auto end = ::lseek(fd.get(), 0, SEEK_END);
    if (end < 0)
      return io_error("cannot seek in " + path, errno);
    return std::unique_ptr<writable_file>{std::make_unique<posix_writable>(
      std::move(fd), path, static_cast<uint64_t>(end))};
  }

  result<std::unique_ptr<readable_file>>
  open_readable(const std::string& path) override {
    fd_handle fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (fd.get() < 0)
      return io_error("cannot open " + path, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0)
      return io_error("cannot stat " + path, errno);
    if (!S_ISREG(st.st_mode))
      return error{errc::io_error, path + " is not a regular file", EISDIR};
    return std::unique_ptr<readable_file>{std::make_unique<posix_readable>(
      std::move(fd), path, static_cast<uint64_t>(st.st_size))};
  }

  status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return io_error("renaming " + from + " to " + to + " failed", errno);
    return {};
  }

  status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return io_error("removing " + path + " failed", errno);
    return {};
  }

  status sync_dir(const std::string& dir) override {
    fd_handle fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (fd.get() < 0)
      return io_error("cannot open directory " + dir, errno);
    if (::fsync(fd.get()) != 0)
      return io_error("fsync of directory " + dir + " failed", errno);
    return {};
  }

  result<bool> exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0)
      return true;
    if (errno == ENOENT || errno == ENOTDIR)
      return false;
    return io_error("cannot stat " + path, errno);
  }

  result<int64_t> modified_ms(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return io_error("cannot stat " + path, errno);
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000
           + st.st_mtim.tv_nsec / 1'000'000;
  }

  result<uint32_t> permission_bits(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return io_error("cannot stat " + path, errno);
    return static_cast<uint32_t>(st.st_mode & 07777);
  }
};

} // namespace

file_system& posix_file_system() {
  static posix_fs fs;
  return fs;
}

} // namespace ember::codec
