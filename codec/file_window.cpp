#include "codec/file_window.hpp"

#include <algorithm>

namespace ember::codec {

file_window::file_window(std::unique_ptr<readable_file> file, size_t chunk)
  : file_(std::move(file)), size_(file_->size()), chunk_(chunk) {
}

result<size_t> file_window::ensure(size_t n) {
  auto have = buf_.size() - pos_;
  if (have >= n || offset() + have >= size_)
    return have;
  // Drop consumed bytes, then read at least a chunk (never past the file).
  buf_.erase(0, pos_);
  buf_off_ += pos_;
  pos_ = 0;
  auto file_left = size_ - (buf_off_ + buf_.size());
  auto want = std::min<uint64_t>(std::max(n - buf_.size(), chunk_), file_left);
  auto old = buf_.size();
  buf_.resize(old + want);
  auto got = file_->read_at(buf_off_ + old, buf_.data() + old, want);
  if (!got) {
    buf_.resize(old);
    return std::move(got).err();
  }
  buf_.resize(old + *got);
  if (*got < want) // the file shrank under us: stop at what is there
    size_ = buf_off_ + buf_.size();
  return buf_.size();
}

} // namespace ember::codec
