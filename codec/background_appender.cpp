#include "codec/background_appender.hpp"

#include <utility>

#include "codec/crc32.hpp"

namespace ember::codec {

background_appender::background_appender(writable_file& file, uint64_t offset,
                                         size_t max_queued)
  : file_(file),
    max_queued_(max_queued == 0 ? 1 : max_queued),
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
  std::string next;
  {
    std::unique_lock<std::mutex> lock{mtx_};
    drained_.wait(lock, [this] {
      return !outcome_ || queue_.size() < max_queued_;
    });
    if (!outcome_)
      return outcome_;
    queue_.push_back(chunk{std::move(buf), checksum_from});
    if (!spare_.empty()) {
      next = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  wake_.notify_one();
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
      if (c.checksum_from < buf.size())
        crc = crc32(buf.data() + c.checksum_from,
                    buf.size() - c.checksum_from, crc);
      st = file_.append(buf);
      if (st) {
        file_.start_writeback(offset_, buf.size());
        offset_ += buf.size();
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
