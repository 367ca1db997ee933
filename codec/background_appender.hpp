// background_appender.hpp: appends large buffers to a writable_file on a
// thread of its own.
//
// A snapshot is produced by one thread that walks the keyspace, encodes and
// checksums; the kernel then needs about as long again to copy each chunk
// into the page cache (write(2)) and to queue its writeback. Done in turn,
// the two add up; with this appender the producer encodes chunk n+1 while
// chunk n is checksummed and written, and the snapshot takes about the
// longer of the two.
//
// Ownership and confinement: one producer thread calls submit() and
// finish(). Between the first submit() and finish() returning, only the
// appender's thread touches the file; afterwards the file is the caller's
// again. At most `max_queued` buffers wait (submit() blocks beyond that), so
// memory stays bounded whatever the disk's speed.
//
// Durability: nothing. Chunks are appended in order (and, by default, their
// writeback is started: writable_file::start_writeback); the caller's sync()
// after finish() is what makes them durable.
//
// Buffers go back to the producer oldest first. With `cold_spares` the
// producer only reuses a buffer once that many more have been written since
// (it starts fresh ones until then): a buffer the appender's core has just
// read would otherwise come back while its lines are still in that core's
// cache, and every store into it would first pull them across.
//
// Errors: the first failed append stops every later one; submit() and
// finish() report it (the file's own error) from then on.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "codec/file_system.hpp"
#include "codec/result.hpp"

namespace ember::codec {

struct appender_options {
  /// Buffers waiting to be written before submit() blocks (at least 1).
  size_t max_queued = 2;
  /// Written buffers kept back before one is reused (see above); memory is
  /// at most max_queued + cold_spares + 2 buffers.
  size_t cold_spares = 0;
  /// Start each chunk's writeback as soon as it is written, so that the
  /// final sync() has less to do (a snapshot); off where the kernel's own
  /// writeback should decide (an AOF written in bulk).
  bool start_writeback = true;
};

class background_appender {
public:
  /// Appends to `file` (which must outlive this object), whose size is
  /// `offset` now. Starts the thread (std::system_error if it cannot).
  background_appender(writable_file& file, uint64_t offset,
                      appender_options opts = {});
  /// Stops the thread after the append under way; chunks still queued are
  /// dropped (finish() first writes them).
  ~background_appender();
  background_appender(const background_appender&) = delete;
  background_appender& operator=(const background_appender&) = delete;

  /// Queues `buf`'s bytes and leaves `buf` empty (reusing the capacity of
  /// a buffer already written when one is free). Bytes from `checksum_from`
  /// on count towards checksum(). Blocks while `max_queued` buffers wait.
  /// Fails once an earlier append failed.
  status submit(std::string& buf, size_t checksum_from = 0);

  /// Queues `buf`'s first `used` bytes (none checksummed) and leaves in
  /// `buf` a buffer to fill in place: a written one, its size kept and its
  /// contents stale, or a fresh empty one. Blocks and fails as submit().
  status submit_in_place(std::string& buf, size_t used);

  /// Waits until everything queued is in the file (or one append failed);
  /// the first error, if any.
  status finish();

  /// The running crc32 (codec/crc32.hpp) of the bytes counted so far, in
  /// order; complete once finish() returned ok.
  uint32_t checksum();

private:
  void run();

  status enqueue(std::string& buf, size_t used, size_t checksum_from,
                 bool keep_size);

  writable_file& file_;
  const appender_options opts_;
  std::mutex mtx_;
  std::condition_variable wake_;  // the thread: work or stop
  std::condition_variable drained_; // the producer: room or all written
  struct chunk {
    std::string bytes;
    size_t used;
    size_t checksum_from;
  };
  std::deque<chunk> queue_;       // to append, in order
  std::deque<std::string> spare_; // written buffers, oldest first
  bool writing_ = false;          // the thread holds a buffer outside queue_
  bool stop_ = false;
  status outcome_;                // ok until an append fails
  uint64_t offset_;               // the thread's: where the next chunk goes
  uint32_t crc_ = 0;
  std::thread thread_;            // last: starts once the rest is set up
};

} // namespace ember::codec
