#include "tests/crash/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ember::test {

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "child_process: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

} // namespace

child_process::child_process(const std::vector<std::string>& argv) {
  // Writing to a child that was just killed must be an error, not a signal.
  ::signal(SIGPIPE, SIG_IGN);
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
    die("pipe2");
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0)
    die("fork");
  if (pid_ == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (::dup2(to_child[0], STDIN_FILENO) < 0
        || ::dup2(from_child[1], STDOUT_FILENO) < 0)
      ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  in_ = to_child[1];
  out_ = from_child[0];
}

child_process::~child_process() {
  if (pid_ > 0) {
    kill();
    wait();
  }
  close_fd(in_);
  close_fd(out_);
}

std::optional<std::string>
child_process::read_line(clock::time_point deadline) {
  for (;;) {
    if (auto nl = buf_.find('\n'); nl != std::string::npos) {
      auto line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    if (eof_)
      return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - clock::now())
                  .count();
    if (left < 0)
      return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    auto ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR)
      die("poll");
    if (ready <= 0)
      continue;
    char chunk[4096];
    auto n = ::read(out_, chunk, sizeof chunk);
    if (n < 0 && errno != EINTR)
      die("read");
    if (n == 0)
      eof_ = true;
    if (n > 0)
      buf_.append(chunk, static_cast<size_t>(n));
  }
}

bool child_process::write_line(const std::string& line) {
  auto data = line + "\n";
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    auto n = ::write(in_, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return false;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

void child_process::close_input() {
  close_fd(in_);
}

void child_process::kill() {
  if (pid_ > 0)
    ::kill(pid_, SIGKILL);
}

int child_process::wait() {
  int status = 0;
  if (pid_ <= 0)
    return status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

} // namespace ember::test
