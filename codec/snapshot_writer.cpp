#include "codec/snapshot_writer.hpp"

#include <system_error>
#include <utility>

#include "codec/byte_writer.hpp"
#include "codec/crc32.hpp"
#include "codec/format.hpp"
#include "codec/utf8.hpp"

namespace ember::codec {

namespace {

// Entries are buffered and written in chunks of about this size.
constexpr size_t chunk_size = size_t{1} << 20;

// A buffer grown beyond this by one huge entry is released, not kept.
constexpr size_t max_kept_capacity = 4 * chunk_size;

// entry_count sits after magic, version and shard_id.
constexpr uint64_t count_offset = header_size + 2;

void release_if_huge(std::string& buf) {
  if (buf.capacity() > max_kept_capacity)
    std::string{}.swap(buf);
}

// A key for an error message: quoted when printable as text.
std::string key_for_message(const std::string& key) {
  if (key.size() <= 64 && valid_utf8(key))
    return "\"" + key + "\"";
  return "of " + std::to_string(key.size()) + " bytes";
}

} // namespace

result<snapshot_writer> snapshot_writer::begin(file_system& fs,
                                               const std::string& path,
                                               uint16_t shard_id,
                                               const encryption_key* key) {
  auto tmp = path + ".tmp";
  auto file = fs.open_writable(tmp, open_mode::create_truncate);
  if (!file) {
    auto e = std::move(file).err();
    return error{e.code,
                 "cannot start snapshot " + path + ": " + e.message
                   + "; the previous snapshot is unchanged",
                 e.sys_errno};
  }
  snapshot_writer w;
  w.fs_ = &fs;
  w.file_ = std::move(*file);
  w.path_ = path;
  w.tmp_path_ = std::move(tmp);
  w.started_ = std::chrono::steady_clock::now();
  if (key)
    w.gcm_.emplace(*key);
  // The count stays 0 until commit() patches it, so a tmp file left by a
  // crash never claims entries it may not hold.
  w.buf_.append(snapshot_magic);
  put_u8(w.buf_, key ? format_v3 : format_v2);
  put_u16(w.buf_, shard_id);
  put_u32(w.buf_, 0);
  w.crc_from_ = w.buf_.size(); // the footer CRC covers the entries only
  return result<snapshot_writer>{std::move(w)};
}

snapshot_writer::snapshot_writer(snapshot_writer&& other) noexcept {
  *this = std::move(other);
}

snapshot_writer& snapshot_writer::operator=(snapshot_writer&& other) noexcept {
  if (this == &other)
    return *this;
  abort();
  // The moved-from writer must not remove the tmp file it no longer owns.
  fs_ = std::exchange(other.fs_, nullptr);
  file_ = std::move(other.file_);
  appender_ = std::move(other.appender_);
  gcm_ = std::move(other.gcm_);
  path_ = std::move(other.path_);
  tmp_path_ = std::move(other.tmp_path_);
  buf_ = std::move(other.buf_);
  scratch_ = std::move(other.scratch_);
  entries_ = other.entries_;
  bytes_ = other.bytes_;
  crc_ = other.crc_;
  crc_from_ = other.crc_from_;
  started_ = other.started_;
  done_ = std::exchange(other.done_, true);
  return *this;
}

snapshot_writer::~snapshot_writer() {
  abort();
}

status snapshot_writer::usable() const {
  if (!fs_ || done_)
    return error{errc::closed, "snapshot writer for " + path_
                                 + " is closed (committed, aborted or failed "
                                   "earlier); begin a new snapshot"};
  return {};
}

status snapshot_writer::add(const snapshot_entry& e) {
  if (auto st = usable(); !st)
    return st;
  if (auto problem = validate(e); !problem.empty())
    return error{errc::invalid_data,
                 "snapshot " + path_ + ": entry #" + std::to_string(entries_)
                   + " (key " + key_for_message(e.key)
                   + ") not written: " + problem
                   + "; fix or skip that key (readers would reject it)"};
  scratch_.clear();
  encode_entry(scratch_, e);
  auto st = append_entry(scratch_);
  release_if_huge(scratch_);
  return st;
}

status snapshot_writer::add_encoded(std::string_view v2_entry) {
  if (auto st = usable(); !st)
    return st;
  return append_entry(v2_entry);
}

status snapshot_writer::add_encoded_entries(std::string_view v2_entries,
                                            uint64_t count) {
  if (auto st = usable(); !st)
    return st;
  if (gcm_)
    return error{errc::invalid_data,
                 "snapshot " + path_ + ": add_encoded_entries on an "
                   "encrypted snapshot, whose entries are sealed one by one; "
                   "add them with add_encoded_by (a bug in the caller)"};
  if (count > UINT32_MAX - entries_)
    return too_many_entries();
  buf_.append(v2_entries);
  entries_ += count;
  return buf_.size() >= chunk_size ? write_out() : status{};
}

status snapshot_writer::room_for_one() const {
  return entries_ == UINT32_MAX ? status{too_many_entries()} : status{};
}

error snapshot_writer::too_many_entries() const {
  return error{errc::invalid_data,
               "snapshot " + path_
                 + " would hold more than 4294967295 entries, the most its "
                   "header can count; split the data over more shards"};
}

status snapshot_writer::append_entry(std::string_view entry) {
  if (auto st = room_for_one(); !st)
    return st;
  // Readers reject ciphertexts above 512 MiB + tag (FORMATS.md limits).
  if (gcm_ && entry.size() > max_bytes_len)
    return error{errc::invalid_data,
                 "snapshot " + path_ + ": entry #" + std::to_string(entries_)
                   + " is " + std::to_string(entry.size())
                   + " bytes; encrypted entries are limited to 512 MiB, so "
                     "split the value or snapshot without encryption"};
  if (gcm_)
    gcm_->seal(buf_, entry);
  else
    buf_.append(entry);
  return added();
}

status snapshot_writer::added() {
  ++entries_;
  return buf_.size() >= chunk_size ? write_out() : status{};
}

void snapshot_writer::fold_crc() noexcept {
  crc_ = crc32(buf_.data() + crc_from_, buf_.size() - crc_from_, crc_);
  crc_from_ = buf_.size();
}

status snapshot_writer::write_out() {
  if (!appender_) {
    try {
      appender_ = std::make_unique<background_appender>(*file_, bytes_);
    } catch (const std::system_error& e) {
      abort();
      return error{errc::io_error,
                   "cannot start the thread that writes snapshot " + path_
                     + ": " + e.what()
                     + "; the previous snapshot is unchanged; the process "
                       "is out of threads or memory (check ulimit -u and "
                       "free memory), retry later",
                   e.code().value()};
    }
  }
  auto n = buf_.size();
  // The appender's thread folds [crc_from_, n) into the footer CRC and
  // writes; buf_ comes back empty, with the capacity of a chunk already
  // written once one is free.
  if (auto st = appender_->submit(buf_, crc_from_); !st)
    return abandon(st.err());
  bytes_ += n;
  crc_from_ = 0;
  release_if_huge(buf_);
  buf_.reserve(chunk_size + chunk_size / 8); // no regrowth per chunk
  return {};
}

error snapshot_writer::abandon(const error& e) {
  abort();
  return error{e.code,
               "writing snapshot " + path_ + " failed: " + e.message
                 + "; the unfinished " + tmp_path_
                 + " was removed and the previous snapshot is unchanged; "
                   "check the disk (space, permissions, health) and retry",
               e.sys_errno};
}

status snapshot_writer::finish_tmp() {
  if (auto st = usable(); !st)
    return st;
  if (appender_) {
    auto st = appender_->finish();
    crc_ = appender_->checksum();
    appender_.reset(); // the file is ours again
    if (!st)
      return abandon(st.err());
  }
  fold_crc();
  put_u32(buf_, crc_);
  // The last chunk, here: nothing is left to overlap it with.
  if (auto st = file_->append(buf_); !st)
    return abandon(st.err());
  bytes_ += buf_.size();
  buf_.clear();
  release_if_huge(buf_);
  std::string count;
  put_u32(count, static_cast<uint32_t>(entries_));
  if (auto st = file_->write_at(count_offset, count); !st)
    return abandon(st.err());
  if (auto st = file_->sync(); !st)
    return abandon(st.err());
  file_.reset();
  return {};
}

snapshot_stats snapshot_writer::stats() const {
  return snapshot_stats{entries_, bytes_,
                        std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started_)};
}

result<snapshot_stats> snapshot_writer::commit() {
  if (auto st = finish_tmp(); !st)
    return std::move(st).err();
  if (auto st = fs_->rename(tmp_path_, path_); !st)
    return abandon(st.err());
  done_ = true;
  // The rename cannot be taken back: report that it may not be durable.
  if (auto st = fs_->sync_dir(parent_dir(path_)); !st)
    return error{st.err().code,
                 "snapshot " + path_ + " was written and renamed into place, "
                   "but " + st.err().message
                   + ", so a power loss may bring back the previous "
                     "snapshot; retry the snapshot once the disk is healthy",
                 st.err().sys_errno};
  return stats();
}

result<snapshot_stats> snapshot_writer::commit_to_tmp() {
  if (auto st = finish_tmp(); !st)
    return std::move(st).err();
  done_ = true; // the finished tmp file now belongs to the caller
  return stats();
}

void snapshot_writer::abort() {
  if (!fs_ || done_)
    return;
  done_ = true;
  appender_.reset(); // its thread stops before the file closes
  file_.reset(); // close before removing
  buf_.clear();
  release_if_huge(buf_);
  // Best effort: a leftover tmp is harmless (the next begin() replaces it
  // and readers never look at it).
  (void)fs_->remove(tmp_path_);
}

} // namespace ember::codec
