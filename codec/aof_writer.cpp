#include "codec/aof_writer.hpp"

#include <memory>
#include <system_error>

#include "codec/aof_reader.hpp"
#include "codec/background_appender.hpp"
#include "codec/format.hpp"

namespace ember::codec {

namespace {

std::string header_bytes(uint8_t version) {
  std::string h{aof_magic};
  h.push_back(static_cast<char>(version));
  return h;
}

// What is in an existing AOF: its version and where its valid part ends.
struct existing_aof {
  uint8_t version = 0;
  uint64_t valid_end = 0;
  uint64_t records = 0;
  bool unusable_header = false; // shorter than a header: a crash at creation
};

result<existing_aof> inspect(file_system& fs, const std::string& path,
                             const aof_writer_options& opts) {
  auto reader = aof_reader::open(fs, path, opts.key);
  if (!reader) {
    if (reader.err().code == errc::unexpected_eof)
      return existing_aof{0, 0, 0, true};
    return std::move(reader).err();
  }
  existing_aof info;
  info.version = reader->version();
  if (opts.verified_end) {
    info.valid_end = *opts.verified_end;
    return info;
  }
  aof_record rec;
  while (reader->next(rec)) {
  }
  if (reader->end().kind == read_end::corrupt)
    return error{errc::corrupt_file,
                 reader->diagnosis()
                   + ". The writer never appends to a corrupt AOF."};
  info.valid_end = reader->valid_end();
  info.records = reader->records_read();
  return info;
}

} // namespace

result<aof_writer> aof_writer::open(file_system& fs, const std::string& path,
                                    const aof_writer_options& opts,
                                    aof_open_report* report) {
  aof_open_report rep;
  aof_writer w;
  w.path_ = path;
  auto exists = fs.exists(path);
  if (!exists)
    return std::move(exists).err();
  existing_aof found;
  if (*exists && !opts.truncate_existing) {
    auto info = inspect(fs, path, opts);
    if (!info)
      return std::move(info).err();
    found = *info;
  }
  if (!*exists || opts.truncate_existing || found.unusable_header) {
    // New file: header, fsync, directory fsync, before anyone relies on it.
    w.version_ = opts.key ? format_v3 : format_v2;
    auto file = fs.open_writable(path, open_mode::create_truncate);
    if (!file)
      return std::move(file).err();
    w.file_ = std::move(*file);
    if (auto st = w.file_->append(header_bytes(w.version_)); !st)
      return std::move(st).err();
    if (auto st = w.file_->sync(); !st)
      return std::move(st).err();
    if (auto st = fs.sync_dir(parent_dir(path)); !st)
      return std::move(st).err();
    rep.created = true;
  } else {
    w.version_ = found.version;
    auto file = fs.open_writable(path, open_mode::append_existing);
    if (!file)
      return std::move(file).err();
    w.file_ = std::move(*file);
    rep.records = found.records;
    if (w.file_->size() > found.valid_end) {
      // Cut the torn tail before appending, and make the cut durable.
      rep.cut_bytes = w.file_->size() - found.valid_end;
      if (auto st = w.file_->truncate(found.valid_end); !st)
        return std::move(st).err();
      if (auto st = w.file_->sync(); !st)
        return std::move(st).err();
    }
  }
  if (w.version_ == format_v3)
    w.gcm_.emplace(*opts.key);
  if (opts.write_behind) {
    try {
      appender_options behind;
      // A buffer is reused three chunks after it was written, once the
      // appender's core has let go of its lines (background_appender.hpp):
      // 37-39 ns per SET of the bench against ~41 with none held back.
      behind.cold_spares = 2;
      behind.start_writeback = false;
      w.behind_.reset(
        std::make_unique<background_appender>(*w.file_, w.file_->size(), behind)
          .release());
    } catch (const std::system_error& e) {
      return error{errc::io_error,
                   "cannot start the thread that writes " + path + ": "
                     + e.what()
                     + "; the process is out of threads or memory (check "
                       "ulimit -u and free memory), or open it without "
                       "write_behind",
                   e.code().value()};
    }
  }
  w.file_size_ = w.file_->size();
  w.synced_size_ = w.file_size_;
  rep.valid_size = w.file_size_;
  rep.version = w.version_;
  if (report)
    *report = rep;
  return w;
}

void aof_writer::stop_behind_deleter::operator()(
  background_appender* a) const noexcept {
  // Whatever flush() queued reaches the file before the thread stops. A
  // failure here goes with the writer, as an unflushed tail would: callers
  // that need to know call drain() or sync() first.
  (void)a->finish();
  std::default_delete<background_appender>{}(a);
}

aof_writer::aof_writer(aof_writer&&) noexcept = default;
aof_writer& aof_writer::operator=(aof_writer&&) noexcept = default;
aof_writer::~aof_writer() {
  behind_.reset(); // before file_, which its thread writes to
}

status aof_writer::write_in_line() {
  if (auto st = drain(); !st)
    return st;
  behind_.reset();
  return {};
}

status aof_writer::check_open() const {
  if (failed_)
    return error{errc::closed, "the AOF writer for " + path_
                                 + " failed earlier (" + failed_->message
                                 + "); reopen it to verify the file from disk"};
  return {};
}

status aof_writer::discard_unsynced() {
  if (!closed())
    return error{errc::invalid_data,
                 "discard_unsynced on the open AOF writer for " + path_
                   + ": only a failed writer may cut its unsynced tail"};
  behind_.reset(); // writes what it holds, or drops it after its failure
  if (auto st = file_->truncate(synced_size_); !st)
    return st;
  file_size_ = synced_size_;
  return {};
}

status aof_writer::fail(error e) {
  e.message += "; the AOF writer for " + path_
               + " is closed and must be reopened";
  failed_ = e;
  return e;
}

status aof_writer::add(const aof_record& r) {
  if (failed_)
    return check_open();
  // v2 stores the whole record in place; v3 seals tag + payload.
  auto problem = gcm_ ? add_sealed(r)
                      : append_valid_at(pending_, pending_used_, r, true);
  if (!problem.empty())
    return error{errc::invalid_data, "refusing to log an invalid record to "
                                       + path_ + ": " + problem};
  ++records_;
  return {};
}

std::string aof_writer::add_sealed(const aof_record& r) {
  scratch_.clear();
  auto problem = append_valid(scratch_, r, false);
  if (problem.empty()) {
    pending_.resize(pending_used_); // seal appends
    gcm_->seal(pending_, scratch_);
    pending_used_ = pending_.size();
  }
  return problem;
}

status aof_writer::flush() {
  if (auto st = check_open(); !st)
    return st;
  if (pending_used_ == 0)
    return {};
  // With write_behind, pending_ comes back as an earlier chunk's buffer,
  // its size kept so that the next records are stored without zeroing it
  // (or as a fresh one, while the first chunks are still in circulation).
  auto st = behind_
              ? behind_->submit_in_place(pending_, pending_used_)
              : file_->append(std::string_view{pending_.data(), pending_used_});
  if (!st)
    return fail(std::move(st).err());
  file_size_ += pending_used_;
  pending_used_ = 0; // the buffer keeps its size: see pending_
  return {};
}

status aof_writer::drain() {
  if (auto st = check_open(); !st)
    return st;
  if (behind_)
    if (auto st = behind_->finish(); !st)
      return fail(std::move(st).err());
  return {};
}

status aof_writer::sync() {
  if (auto st = drain(); !st)
    return st;
  if (auto st = file_->sync(); !st)
    return fail(std::move(st).err());
  synced_size_ = file_size_;
  return {};
}

status aof_writer::commit() {
  if (auto st = flush(); !st)
    return st;
  return sync();
}

} // namespace ember::codec
