// child_process.hpp: a program run with pipes on its stdin and stdout, read
// line by line with a deadline, and killable (the process kill test).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ember::test {

class child_process {
public:
  using clock = std::chrono::steady_clock;

  /// Starts `argv[0]` with `argv`; stderr stays the caller's. Aborts the
  /// test run when fork/exec plumbing fails.
  explicit child_process(const std::vector<std::string>& argv);

  /// Kills (SIGKILL) and reaps the child if it still runs.
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The next whole line of the child's stdout, or nullopt at `deadline`
  /// or at end of output (then eof() is true).
  std::optional<std::string> read_line(clock::time_point deadline);

  bool eof() const noexcept {
    return eof_;
  }

  /// Writes a line to the child's stdin; false if the child is gone.
  bool write_line(const std::string& line);

  /// Closes the child's stdin (it sees end of input).
  void close_input();

  /// SIGKILL now.
  void kill();

  /// Waits for the child; its exit status as from waitpid.
  int wait();

private:
  pid_t pid_ = -1;
  int in_ = -1;  // child's stdin (we write)
  int out_ = -1; // child's stdout (we read)
  bool eof_ = false;
  std::string buf_;
};

} // namespace ember::test
