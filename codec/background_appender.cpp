#include "codec/background_appender.hpp"

#include <utility>

#include "codec/crc32.hpp"

namespace ember::codec {

namespace {

appender_options checked(appender_options o) {
  if (o.max_queued == 0)
    o.max_queued = 1;
  return o;
}

} // namespace

background_appender::background_appender(writable_file& file, uint64_t offset,
                                         appender_options opts)
  : file_(file),
    opts_(checked(opts)),
    offset_(offset),
    thread_([this] { run(); }) {
}

background_appender::~background_appender() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

status background_appender::submit(std::string& buf, size_t checksum_from) {
  return enqueue(buf, buf.size(), checksum_from, false);
}

status background_appender::submit_in_place(std::string& buf, size_t used) {
  return enqueue(buf, used, used, true);
}

status background_appender::enqueue(std::string& buf, size_t used,
                                    size_t checksum_from, bool keep_size) {
  std::string next;
  {
    std::unique_lock<std::mutex> lock{mtx_};
    drained_.wait(lock, [this] {
      return !outcome_ || queue_.size() < opts_.max_queued;
    });
    if (!outcome_)
      return outcome_;
    queue_.push_back(chunk{std::move(buf), used, checksum_from});
    if (spare_.size() > opts_.cold_spares) {
      next = std::move(spare_.front());
      spare_.pop_front();
    }
  }
  wake_.notify_one();
  if (!keep_size)
    next.clear();
  buf = std::move(next);
  return {};
}

status background_appender::finish() {
  std::unique_lock<std::mutex> lock{mtx_};
  drained_.wait(lock, [this] { return queue_.empty() && !writing_; });
  return outcome_;
}

uint32_t background_appender::checksum() {
  std::lock_guard<std::mutex> guard{mtx_};
  return crc_;
}

void background_appender::run() {
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_)
      return;
    auto c = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    bool failed_before = !outcome_; // then queued chunks are dropped
    auto crc = crc_;
    lock.unlock();
    status st;
    auto& buf = c.bytes;
    if (!failed_before) {
      if (c.checksum_from < c.used)
        crc = crc32(buf.data() + c.checksum_from, c.used - c.checksum_from,
                    crc);
      st = file_.append(std::string_view{buf.data(), c.used});
      if (st) {
        if (opts_.start_writeback)
          file_.start_writeback(offset_, c.used);
        offset_ += c.used;
      }
    }
    lock.lock();
    writing_ = false;
    crc_ = crc;
    if (!st && outcome_)
      outcome_ = std::move(st);
    spare_.push_back(std::move(buf));
    lock.unlock();
    drained_.notify_one();
    lock.lock();
  }
}

} // namespace ember::codec
