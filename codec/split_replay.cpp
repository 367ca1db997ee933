#include "codec/split_replay.hpp"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>

#include "codec/aof_reader.hpp"
#include "codec/arena_mark.hpp"

namespace ember::codec {

namespace {

// The caller's thread applies the even segments, the helper the odd ones.
constexpr size_t parts = 2;
constexpr size_t helper_part = 1;
// Rendezvous before the caller finishes alone (see the header).
constexpr unsigned max_rendezvous = 256;
// How often (in records) a helper that is told to stop looks.
constexpr uint64_t stop_check_mask = 1023;

enum class side { caller, helper, both };

side side_of_key(std::string_view key) noexcept {
  return keyspace::segment_index(key) % parts == helper_part ? side::helper
                                                             : side::caller;
}

side join(side a, side b) noexcept {
  return a == b ? a : side::both;
}

// Which thread applies `r`: the one whose half holds every key it names.
side side_of(const aof_record& r) noexcept {
  return std::visit(
    [](const auto& x) -> side {
      using R = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<R, rec::proto_register>) {
        return side::caller; // names no key: only counted
      } else if constexpr (std::is_same_v<R, rec::rename>) {
        return join(side_of_key(x.key), side_of_key(x.newkey));
      } else if constexpr (std::is_same_v<R, rec::copy>) {
        return join(side_of_key(x.source), side_of_key(x.destination));
      } else if constexpr (std::is_same_v<R, rec::bitop>) {
        auto s = side_of_key(x.dest);
        for (auto& k : x.keys)
          s = join(s, side_of_key(k));
        return s;
      } else {
        return side_of_key(x.key);
      }
    },
    r);
}

} // namespace

struct split_replay::shared {
  shared(file_system& f, const std::string& p, const encryption_key* k,
         int64_t now)
    : fs(f), path(p), key(k), now_ms(now), window(now) {
  }

  file_system& fs;
  const std::string path;
  const encryption_key* const key;
  const int64_t now_ms;

  // The helper's half. Only the helper touches it, except while the helper
  // waits at a rendezvous or after it ended (both under mtx).
  keyspace part;
  replay_stats stats; // the helper's, read after it ended

  std::mutex mtx;
  std::condition_variable cv;
  // Helper -> caller (under mtx).
  bool waiting = false;    ///< the helper waits at record `waiting_at`
  uint64_t waiting_at = 0;
  bool ended = false;      ///< the helper's loop is over
  uint64_t records = 0;    ///< what its reader read, once ended normally
  uint64_t valid_end = 0;
  std::optional<std::string> failure; ///< why the helper could not follow
  // Caller -> helper (under mtx).
  bool go = false;   ///< past the rendezvous (`waiting` already cleared,
                     ///< so that the next rendezvous cannot see it stale)
  bool stop = false; ///< leave now
  std::atomic<bool> stop_soon{false}; ///< read without the lock

  // The caller's own (no lock).
  replay_window window;   ///< its half's records not applied yet
  uint64_t index = 0;     ///< of the record being applied
  unsigned rendezvous = 0;
  bool alone = false;     ///< the helper left; the caller applies all
  std::optional<std::string> mismatch;

  std::thread thread;

  void run() noexcept {
    std::optional<std::string> why;
    try {
      why = follow();
    } catch (const std::exception& e) {
      why = e.what(); // out of memory, most likely
    } catch (...) {
      why = "an unknown exception";
    }
    std::lock_guard<std::mutex> guard{mtx};
    failure = std::move(why);
    ended = true;
    cv.notify_all();
  }

  // The helper's loop; a failure's reason, or nothing.
  std::optional<std::string> follow() {
    auto reader = aof_reader::open(fs, path, key);
    if (!reader)
      return reader.err().message;
    // Its half of the keys takes about as many heap bytes as the file has
    // (a SET of ~100 bytes makes a key of ~200).
    auto held = raise_arena_mark(reader->file_size());
    aof_record r;
    replay_window ahead{now_ms};
    uint64_t i = 0;
    for (; reader->next(r); ++i) {
      auto s = side_of(r);
      if (s == side::helper) {
        ahead.push(part, r, stats);
      } else if (s == side::both) {
        ahead.flush(part, stats); // the caller is about to take `part`
        std::unique_lock<std::mutex> lock{mtx};
        waiting = true;
        waiting_at = i;
        cv.notify_all();
        cv.wait(lock, [this] { return go || stop; });
        go = false; // the caller cleared `waiting`
        if (stop)
          return {};
      }
      if ((i & stop_check_mask) == 0 && stop_soon.load(std::memory_order_relaxed))
        return {};
    }
    ahead.flush(part, stats);
    std::lock_guard<std::mutex> guard{mtx};
    records = reader->records_read();
    valid_end = reader->valid_end();
    return {};
  }

  void stop_helper() noexcept {
    stop_soon.store(true, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> guard{mtx};
      stop = true;
    }
    cv.notify_all();
    if (thread.joinable())
      thread.join();
  }

  // A record naming keys of both halves: applied to the whole keyspace
  // while the helper waits at it.
  void meet(keyspace& ks, aof_record&& r, replay_stats& st) {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [this] { return waiting || ended; });
    if (!waiting || waiting_at != index) {
      // The helper read other records than ours.
      mismatch = "at record " + std::to_string(index)
                 + " the second reader was "
                 + (waiting ? "at record " + std::to_string(waiting_at)
                            : std::string{"done"});
      alone = true;
      lock.unlock();
      stop_helper();
      codec::apply(ks, std::move(r), now_ms, &st); // ks is thrown away
      return;
    }
    waiting = false; // before the helper runs again: see `go`
    bool back = part.move_segments_to(ks, helper_part, parts);
    codec::apply(ks, std::move(r), now_ms, &st);
    if (back && ++rendezvous < max_rendezvous
        && ks.move_segments_to(part, helper_part, parts)) {
      go = true;
    } else {
      if (!back)
        mismatch = "the helper's half could not be taken back";
      stop = true;
      alone = true;
    }
    lock.unlock();
    cv.notify_all();
  }
};

split_replay::split_replay(only_start, std::unique_ptr<shared> s)
  : s_(std::move(s)) {
}

split_replay::~split_replay() {
  if (s_)
    s_->stop_helper();
}

std::unique_ptr<split_replay>
split_replay::start(file_system& fs, const std::string& path,
                    const encryption_key* key, keyspace& ks, int64_t now_ms) {
  auto s = std::make_unique<shared>(fs, path, key, now_ms);
  if (!ks.move_segments_to(s->part, helper_part, parts))
    return nullptr;
  try {
    s->thread = std::thread([p = s.get()] { p->run(); });
  } catch (const std::system_error&) {
    s->part.move_segments_to(ks, helper_part, parts);
    return nullptr;
  }
  return std::make_unique<split_replay>(only_start{}, std::move(s));
}

void split_replay::apply(keyspace& ks, aof_record& r, replay_stats& stats) {
  auto& s = *s_;
  auto side = s.alone ? side::caller : side_of(r);
  if (side == side::caller) {
    s.window.push(ks, r, stats);
  } else if (side == side::both) {
    s.window.flush(ks, stats); // before the rendezvous touches ks
    s.meet(ks, std::move(r), stats);
  }
  ++s.index;
}

status split_replay::finish(keyspace& ks, uint64_t records, uint64_t valid_end,
                            replay_stats& stats) {
  auto& s = *s_;
  s.window.flush(ks, stats);
  {
    std::unique_lock<std::mutex> lock{s.mtx};
    s.cv.wait(lock, [&s] { return s.ended || s.waiting; });
    if (!s.ended && !s.mismatch) // waiting at a record past our last one
      s.mismatch = "the second reader waits at record "
                   + std::to_string(s.waiting_at) + " after the first read "
                   + std::to_string(records);
  }
  s.stop_helper(); // joins; at once if it ended
  stats.applied += s.stats.applied;
  stats.skipped += s.stats.skipped;
  std::optional<std::string> why = s.failure ? s.failure : s.mismatch;
  if (!why && !s.alone) {
    if (s.records != records || s.valid_end != valid_end)
      why = "the second reader read " + std::to_string(s.records)
            + " records ending at offset " + std::to_string(s.valid_end)
            + ", the first " + std::to_string(records) + " ending at "
            + std::to_string(valid_end);
    else if (!s.part.move_segments_to(ks, helper_part, parts))
      why = "the helper's half could not be taken back";
  }
  if (!why)
    return {};
  return error{errc::io_error,
               s.path + ": replaying it on two threads failed: " + *why
                 + "; did something write to the file during recovery? "
                   "Nothing was changed on disk: restart the shard to "
                   "recover again"};
}

} // namespace ember::codec
