#include "codec/replay_window.hpp"

#include <utility>

namespace ember::codec {

void replay_window::push(keyspace& ks, aof_record& r, replay_stats& stats) {
  std::swap(group_[size_], r); // r gets a spent record (or an empty one)
  if (++size_ == depth)
    flush(ks, stats);
}

void replay_window::flush(keyspace& ks, replay_stats& stats) {
  // All the loads first, back to back, so that their misses overlap; one
  // per record as it arrives would stall on each miss in turn (the work
  // of decoding the next record fills the CPU's window before it lands).
  for (size_t i = 0; i < size_; ++i)
    ks.prefetch(primary_key(group_[i]));
  for (size_t i = 0; i < size_; ++i)
    apply(ks, std::move(group_[i]), now_ms_, &stats);
  size_ = 0;
}

} // namespace ember::codec
