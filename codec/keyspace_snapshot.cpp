#include "codec/keyspace_snapshot.hpp"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace ember::codec {

namespace {

constexpr size_t group_segments = 8;
constexpr size_t group_count = keyspace::segment_count / group_segments;
static_assert(group_count % 2 == 0, "the helper takes every odd group");
constexpr size_t block_bytes = size_t{256} << 10;
constexpr size_t max_blocks = 8;
constexpr size_t min_parallel_keys = size_t{1} << 16;

status add_segments(snapshot_writer& w, const keyspace& ks, size_t first,
                    size_t last, int64_t now_ms) {
  status st; // the first failure stops the adding
  ks.for_each_in_segments(first, last, [&](std::string_view name,
                                           const entry& e) {
    if (st)
      st = w.add_encoded_by(
        [&](std::string& out) { encode_entry(out, name, e, now_ms); });
  });
  return st;
}

// Entries of one group encoded back to back by the helper.
struct block {
  std::string bytes;
  uint64_t entries = 0;
  bool ends_group = false; ///< the last block of its group
};

// The helper thread and the blocks it hands over, in order.
class odd_groups {
public:
  /// Starts the thread (std::system_error if it cannot).
  odd_groups(const keyspace& ks, int64_t now_ms)
    : ks_(ks), now_ms_(now_ms), thread_([this] { run(); }) {
  }

  /// Stops the thread after the entry under way and joins it.
  ~odd_groups() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stop_ = true;
    }
    room_.notify_one();
    thread_.join();
  }

  odd_groups(const odd_groups&) = delete;
  odd_groups& operator=(const odd_groups&) = delete;

  /// Replaces `b` with the next block (b's buffer is kept for reuse);
  /// false if the helper failed, with why in `failure`.
  bool next(block& b, std::string& failure) {
    std::unique_lock<std::mutex> lock{mtx_};
    ready_cv_.wait(lock, [this] { return !ready_.empty() || failed_; });
    if (ready_.empty()) {
      failure = failure_;
      return false;
    }
    b.bytes.clear();
    spare_.push_back(std::move(b.bytes));
    b = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    room_.notify_one();
    return true;
  }

private:
  void run() noexcept {
    try {
      block b;
      bool quit = false;
      for (size_t g = 1; g < group_count && !quit; g += 2) {
        ks_.for_each_in_segments(
          g * group_segments, (g + 1) * group_segments,
          [&](std::string_view name, const entry& e) {
            if (quit)
              return;
            encode_entry(b.bytes, name, e, now_ms_);
            ++b.entries;
            if (b.bytes.size() >= block_bytes)
              quit = !push(b);
          });
        b.ends_group = true;
        quit = quit || !push(b);
      }
    } catch (const std::exception& e) {
      fail(e.what());
    } catch (...) {
      fail("unknown exception");
    }
  }

  // Hands `b` over and leaves it empty (with a spare buffer when there is
  // one); false once asked to stop.
  bool push(block& b) {
    std::unique_lock<std::mutex> lock{mtx_};
    room_.wait(lock, [this] { return stop_ || ready_.size() < max_blocks; });
    if (stop_)
      return false;
    ready_.push_back(std::move(b));
    b = block{};
    if (!spare_.empty()) {
      b.bytes = std::move(spare_.back());
      spare_.pop_back();
    }
    lock.unlock();
    ready_cv_.notify_one();
    return true;
  }

  void fail(const char* what) noexcept {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      failed_ = true;
      try {
        failure_ = what;
      } catch (...) { // out of memory for the message too: leave it empty
      }
    }
    ready_cv_.notify_one();
  }

  const keyspace& ks_;
  const int64_t now_ms_;
  std::mutex mtx_;
  std::condition_variable ready_cv_; // the caller: a block or a failure
  std::condition_variable room_;     // the helper: room or stop
  std::deque<block> ready_;
  std::vector<std::string> spare_;
  bool stop_ = false;
  bool failed_ = false;
  std::string failure_;
  std::thread thread_; // last: starts once the rest is set up
};

} // namespace

status add_keyspace(snapshot_writer& w, const keyspace& ks, int64_t now_ms) {
  std::optional<odd_groups> helper;
  if (!w.encrypted() && ks.size() >= min_parallel_keys
      && std::thread::hardware_concurrency() >= 2) {
    try {
      helper.emplace(ks, now_ms);
    } catch (const std::system_error&) {
      // No thread to be had: one thread writes the same file, slower.
    }
  }
  if (!helper)
    return add_segments(w, ks, 0, keyspace::segment_count, now_ms);
  block b;
  std::string failure;
  for (size_t g = 0; g < group_count; g += 2) {
    auto first = g * group_segments;
    if (auto st = add_segments(w, ks, first, first + group_segments, now_ms);
        !st)
      return st;
    do {
      if (!helper->next(b, failure)) {
        w.abort();
        return error{errc::io_error,
                     "snapshot " + w.tmp_path()
                       + " abandoned: encoding its entries failed ("
                       + failure
                       + "); the previous snapshot is unchanged; free "
                         "memory and retry"};
      }
      if (auto st = w.add_encoded_entries(b.bytes, b.entries); !st)
        return st;
    } while (!b.ends_group);
  }
  return {};
}

} // namespace ember::codec
