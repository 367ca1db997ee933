#include "codec/rewrite.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "codec/aof_reader.hpp"
#include "codec/crc32.hpp"
#include "codec/format.hpp"
#include "codec/keyspace_snapshot.hpp"
#include "codec/recovery.hpp"

namespace ember::codec {

namespace {

// Tail bytes are copied, and re-encoded records flushed, in chunks this big.
constexpr size_t copy_chunk = size_t{1} << 20;

error with_context(error e, const std::string& before,
                   const std::string& advice = {}) {
  e.message = before + ": " + e.message;
  if (!advice.empty())
    e.message += "; " + advice;
  return e;
}

// -- the marker ---------------------------------------------------------------

constexpr std::string_view marker_magic = "ember-rewrite 1";

struct marker {
  uint16_t shard = 0;
  uint64_t aof_offset = 0;     // L: the old AOF's size at the snapshot point
  uint64_t snapshot_bytes = 0; // shard-N.snap.tmp, exactly
  uint64_t aof_bytes = 0;      // shard-N.aof.tmp at the commit (it grows)
};

// One "name value" line per field, then the CRC32 of everything before it.
std::string render(const marker& m) {
  auto body = std::string{marker_magic} + "\nshard " + std::to_string(m.shard)
              + "\naof_offset " + std::to_string(m.aof_offset)
              + "\nsnapshot_bytes " + std::to_string(m.snapshot_bytes)
              + "\naof_bytes " + std::to_string(m.aof_bytes) + "\n";
  char crc[9];
  std::snprintf(crc, sizeof(crc), "%08x", crc32(body));
  return body + "crc32 " + crc + "\n";
}

// Reads "<name> <decimal>\n" at `pos`, advancing it.
std::optional<uint64_t> field(std::string_view text, size_t& pos,
                              std::string_view name) {
  auto rest = text.substr(pos);
  if (rest.substr(0, name.size()) != name || rest.size() <= name.size()
      || rest[name.size()] != ' ')
    return std::nullopt;
  auto first = rest.data() + name.size() + 1;
  auto last = rest.data() + rest.size();
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc{} || ptr == last || *ptr != '\n')
    return std::nullopt;
  pos += static_cast<size_t>(ptr + 1 - rest.data());
  return v;
}

// The marker in `text`, or nullopt with `problem` set. Only the exact text
// render() produces is accepted, so a marker cut at any byte, or altered
// anywhere, is rejected (the CRC line makes the check independent of which
// field changed).
std::optional<marker> parse_marker(std::string_view text, uint16_t shard,
                                   std::string& problem) {
  auto magic = std::string{marker_magic} + "\n";
  if (text.substr(0, magic.size()) != magic) {
    problem = "does not start with \"" + std::string{marker_magic} + "\"";
    return std::nullopt;
  }
  size_t pos = magic.size();
  auto s = field(text, pos, "shard");
  auto l = field(text, pos, "aof_offset");
  auto sb = field(text, pos, "snapshot_bytes");
  auto ab = field(text, pos, "aof_bytes");
  if (!s || !l || !sb || !ab || *s > UINT16_MAX) {
    problem = "cut short or malformed";
    return std::nullopt;
  }
  marker m{static_cast<uint16_t>(*s), *l, *sb, *ab};
  if (render(m) != text) {
    problem = "cut short or altered (CRC32 line missing or not matching)";
    return std::nullopt;
  }
  if (m.shard != shard) {
    problem = "names shard " + std::to_string(m.shard) + ", not shard "
              + std::to_string(shard);
    return std::nullopt;
  }
  return m;
}

struct marker_state {
  bool present = false;
  std::optional<marker> valid; // set when present and intact
  std::string problem;         // why a present marker is not valid
};

result<marker_state> read_marker(file_system& fs, const rewrite_paths& p,
                                 uint16_t shard) {
  auto there = fs.exists(p.marker);
  if (!there)
    return std::move(there).err();
  marker_state s;
  if (!*there)
    return s;
  auto text = read_file(fs, p.marker);
  if (!text)
    return std::move(text).err();
  s.present = true;
  s.valid = parse_marker(*text, shard, s.problem);
  return s;
}

// -- small file helpers -------------------------------------------------------

// Up to `n` bytes at `offset` (fewer only at end of file).
result<std::string> read_range(readable_file& f, uint64_t offset, size_t n) {
  std::string buf(n, '\0');
  size_t got = 0;
  while (got < n) {
    auto r = f.read_at(offset + got, buf.data() + got, n - got);
    if (!r)
      return std::move(r).err();
    if (*r == 0)
      break;
    got += *r;
  }
  buf.resize(got);
  return buf;
}

result<uint64_t> file_size(file_system& fs, const std::string& path) {
  auto f = fs.open_readable(path);
  if (!f)
    return std::move(f).err();
  return (*f)->size();
}

status write_synced(file_system& fs, const std::string& path,
                    std::string_view content) {
  auto f = fs.open_writable(path, open_mode::create_truncate);
  if (!f)
    return std::move(f).err();
  if (auto st = (*f)->append(content); !st)
    return st;
  return (*f)->sync();
}

status rename_if_present(file_system& fs, const std::string& from,
                         const std::string& to,
                         std::vector<std::string>& done) {
  auto there = fs.exists(from);
  if (!there)
    return std::move(there).err();
  if (!*there)
    return {};
  if (auto st = fs.rename(from, to); !st)
    return st;
  done.push_back(to);
  return {};
}

status remove_if_present(file_system& fs, const std::string& path,
                         std::vector<std::string>& done) {
  auto there = fs.exists(path);
  if (!there)
    return std::move(there).err();
  if (!*there)
    return {};
  if (auto st = fs.remove(path); !st)
    return st;
  done.push_back(path);
  return {};
}

// A new rewrite must not overwrite the temporaries of a committed one.
status refuse_unfinished(file_system& fs, const rewrite_paths& p) {
  auto there = fs.exists(p.marker);
  if (!there)
    return std::move(there).err();
  if (*there)
    return error{errc::io_error,
                 "cannot start a rewrite: " + p.marker
                   + " exists, so a committed rewrite is not finished; run "
                     "finish_rewrite (a restart of the shard also completes "
                     "it) before starting another",
                 EBUSY};
  return {};
}

// -- the old AOF's tail -------------------------------------------------------

// The old AOF's header followed by its bytes from `from` on: an AOF holding
// just the records logged after the snapshot point, so aof_reader checks
// (and decrypts) only those instead of the whole old log.
class tail_view final : public readable_file {
public:
  tail_view(std::unique_ptr<readable_file> base, std::string header,
            uint64_t from)
    : base_(std::move(base)), header_(std::move(header)), from_(from) {
  }

  result<size_t> read_at(uint64_t offset, char* buf, size_t n) override {
    size_t got = 0;
    if (offset < header_.size()) {
      got = std::min<size_t>(n, header_.size() - offset);
      std::memcpy(buf, header_.data() + offset, got);
    }
    if (got == n)
      return got;
    auto more = base_->read_at(from_ + offset + got - header_.size(),
                               buf + got, n - got);
    if (!more)
      return std::move(more).err();
    return got + *more;
  }

  uint64_t size() const override {
    return header_.size() + base_->size() - std::min(from_, base_->size());
  }

  const std::string& path() const override {
    return base_->path();
  }

private:
  std::unique_ptr<readable_file> base_;
  std::string header_;
  uint64_t from_;
};

// Opens files as tail_views; nothing else (aof_reader only opens).
class tail_file_system final : public file_system {
public:
  tail_file_system(file_system& base, uint64_t from)
    : base_(base), from_(from) {
  }

  result<std::unique_ptr<readable_file>>
  open_readable(const std::string& path) override {
    auto f = base_.open_readable(path);
    if (!f)
      return std::move(f).err();
    if (from_ < header_size || from_ > (*f)->size())
      return error{errc::invalid_data,
                   "the snapshot point's AOF offset " + std::to_string(from_)
                     + " lies outside " + path + " ("
                     + std::to_string((*f)->size())
                     + " bytes); pass the AOF writer's size() taken when the "
                       "snapshot's state was captured"};
    auto header = read_range(**f, 0, header_size);
    if (!header)
      return std::move(header).err();
    return std::unique_ptr<readable_file>{std::make_unique<tail_view>(
      std::move(*f), std::move(*header), from_)};
  }

  result<std::unique_ptr<writable_file>>
  open_writable(const std::string& path, open_mode) override {
    return refuse(path);
  }
  status rename(const std::string& from, const std::string&) override {
    return refuse(from);
  }
  status remove(const std::string& path) override {
    return refuse(path);
  }
  status sync_dir(const std::string& dir) override {
    return refuse(dir);
  }
  result<bool> exists(const std::string& path) override {
    return base_.exists(path);
  }
  result<int64_t> modified_ms(const std::string& path) override {
    return base_.modified_ms(path);
  }

private:
  static error refuse(const std::string& path) {
    return error{errc::io_error,
                 "internal: the AOF tail view is read-only (" + path + ")",
                 EROFS};
  }

  file_system& base_;
  uint64_t from_;
};

result<aof_reader> open_tail(file_system& fs, const std::string& old,
                             uint64_t from, const encryption_key* key) {
  tail_file_system view{fs, from};
  return aof_reader::open(view, old, key); // the reader owns its file
}

// Hands every record of the tail to `each` and fills the tail counts. A
// corrupt record stops the rewrite (never copy damage into the new pair);
// a torn tail is fine: its bytes were never acknowledged.
template <class F>
status read_tail(aof_reader& tail, uint64_t from, switch_report& rep,
                 F&& each) {
  aof_record r;
  while (tail.next(r))
    if (auto st = each(r); !st)
      return st;
  auto& end = tail.end();
  if (end.kind == read_end::corrupt)
    return error{end.code == errc::io_error ? errc::io_error
                                            : errc::corrupt_file,
                 tail.path() + ": record at byte offset "
                   + std::to_string(end.offset - header_size + from)
                   + " (#" + std::to_string(end.index)
                   + " after the snapshot point " + std::to_string(from)
                   + "): " + end.reason
                   + "; run `ember-persist check " + tail.path()
                   + "` (a wrong snapshot point also looks like this)"};
  rep.tail_records = tail.records_read();
  rep.tail_bytes = tail.valid_end() - header_size;
  return {};
}

// Step 2 when the version stays: the old header, then old[from, from+bytes).
status copy_tail(file_system& fs, const std::string& old, uint64_t from,
                 uint64_t bytes, const std::string& to) {
  auto in = fs.open_readable(old);
  if (!in)
    return std::move(in).err();
  auto out = fs.open_writable(to, open_mode::create_truncate);
  if (!out)
    return std::move(out).err();
  auto buf = read_range(**in, 0, header_size);
  if (!buf)
    return std::move(buf).err();
  uint64_t done = 0;
  do {
    auto n = static_cast<size_t>(std::min<uint64_t>(copy_chunk, bytes - done));
    auto chunk = read_range(**in, from + done, n);
    if (!chunk)
      return std::move(chunk).err();
    if (chunk->size() != n)
      return error{errc::unexpected_eof,
                   old + " shrank while its tail was copied"};
    *buf += *chunk;
    if (auto st = (*out)->append(*buf); !st)
      return st;
    buf->clear();
    done += n;
  } while (done < bytes);
  return (*out)->sync();
}

result<aof_writer> copy_and_open(file_system& fs, aof_reader& tail,
                                 const std::string& old, uint64_t from,
                                 const std::string& to,
                                 const encryption_key* key,
                                 switch_report& rep) {
  auto ignore = [](const aof_record&) { return status{}; };
  if (auto st = read_tail(tail, from, rep, ignore); !st)
    return std::move(st).err();
  if (auto st = copy_tail(fs, old, from, rep.tail_bytes, to); !st)
    return std::move(st).err();
  aof_writer_options opts;
  opts.key = key;
  opts.verified_end = header_size + rep.tail_bytes;
  return aof_writer::open(fs, to, opts);
}

// Step 2 when the version changes (v2 -> v3 once a key is configured).
result<aof_writer> reencode(file_system& fs, aof_reader& tail, uint64_t from,
                            const std::string& to, const encryption_key* key,
                            switch_report& rep) {
  aof_writer_options opts;
  opts.key = key;
  opts.truncate_existing = true;
  opts.write_behind = true; // the tail is encoded while its chunks are written
  auto w = aof_writer::open(fs, to, opts);
  if (!w)
    return w;
  auto add = [&](const aof_record& r) -> status {
    if (auto st = w->add(r); !st)
      return st;
    return w->pending_bytes() >= copy_chunk ? w->flush() : status{};
  };
  if (auto st = read_tail(tail, from, rep, add); !st)
    return std::move(st).err();
  if (auto st = w->commit(); !st)
    return std::move(st).err();
  // The owner acknowledges writes once flush() returns.
  if (auto st = w->write_in_line(); !st)
    return std::move(st).err();
  return w;
}

// -- steps 3 and 4 ------------------------------------------------------------

// Step 3: the marker, durably. On failure `in_doubt` says whether it may
// still survive a power loss.
status commit_marker(file_system& fs, const rewrite_paths& p,
                     const marker& m, bool& in_doubt) {
  if (auto st = write_synced(fs, p.marker_tmp, render(m)); !st)
    return std::move(st).err();
  auto done = fs.rename(p.marker_tmp, p.marker);
  if (!done) {
    auto there = fs.exists(p.marker);
    if (there && !*there)
      return std::move(done).err(); // not renamed: nothing committed
  }
  auto durable = done ? fs.sync_dir(p.dir) : done;
  if (done && durable)
    return {};
  // The marker is (or may be) in place but not durable: take it back,
  // durably, so that the owner may keep logging to the old AOF.
  auto cause = done ? std::move(durable).err() : std::move(done).err();
  if (fs.remove(p.marker) && fs.sync_dir(p.dir))
    return with_context(std::move(cause), "committing the rewrite",
                        "the commit was taken back");
  in_doubt = true;
  return with_context(std::move(cause), "committing the rewrite (" + p.marker
                                          + ")",
                      "taking the commit back failed too, so it is in doubt: "
                      "stop logging to this shard and restart it (startup "
                      "completes or discards the rewrite); check the disk");
}

// A committed rewrite's files must have the sizes its marker names: the
// snapshot exactly, the AOF at least (it grows after the commit).
status check_against_marker(file_system& fs, const rewrite_paths& p,
                            const marker& m) {
  struct expect {
    const std::string& tmp;
    const std::string& target;
    uint64_t bytes;
    bool at_least;
  };
  for (auto& e : {expect{p.snap_tmp, p.snap, m.snapshot_bytes, false},
                  expect{p.aof_tmp, p.aof, m.aof_bytes, true}}) {
    auto tmp = fs.exists(e.tmp);
    if (!tmp)
      return std::move(tmp).err();
    auto& path = *tmp ? e.tmp : e.target;
    auto size = file_size(fs, path);
    if (!size)
      return with_context(std::move(size).err(),
                          p.marker + " records a committed rewrite, but "
                            "neither " + e.tmp + " nor " + e.target
                            + " can be read");
    if (*size == e.bytes || (e.at_least && *size > e.bytes))
      continue;
    return error{errc::corrupt_file,
                 p.marker + " records a committed rewrite with "
                   + (e.at_least ? "at least " : "") + std::to_string(e.bytes)
                   + " bytes in " + path + ", which holds "
                   + std::to_string(*size)
                   + "; nothing was renamed or removed. The files changed "
                     "after the commit: check them with `ember-persist "
                     "check` and restore the shard from a backup"};
  }
  return {};
}

status sync_dir(file_system& fs, const rewrite_paths& p) {
  return fs.sync_dir(p.dir);
}

// Finishes a committed rewrite from wherever it stopped (steps 4).
status roll_forward(file_system& fs, const rewrite_paths& p, const marker& m,
                    rewrite_report& rep) {
  if (auto st = check_against_marker(fs, p, m); !st)
    return st;
  if (auto st = rename_if_present(fs, p.snap_tmp, p.snap, rep.renamed); !st)
    return st;
  if (auto st = rename_if_present(fs, p.aof_tmp, p.aof, rep.renamed); !st)
    return st;
  // The new pair must be durable before the marker that vouches for it goes.
  if (auto st = sync_dir(fs, p); !st)
    return st;
  if (auto st = remove_if_present(fs, p.marker_tmp, rep.removed); !st)
    return st;
  if (auto st = remove_if_present(fs, p.marker, rep.removed); !st)
    return st;
  return sync_dir(fs, p);
}

// Removes an uncommitted rewrite's files (and an invalid marker, last).
status discard(file_system& fs, const rewrite_paths& p, bool with_marker,
               rewrite_report& rep) {
  for (auto* path : {&p.snap_tmp, &p.aof_tmp, &p.marker_tmp})
    if (auto st = remove_if_present(fs, *path, rep.removed); !st)
      return st;
  if (with_marker)
    if (auto st = remove_if_present(fs, p.marker, rep.removed); !st)
      return st;
  return rep.removed.empty() ? status{} : sync_dir(fs, p);
}

result<aof_writer> switch_steps(file_system& fs, const rewrite_paths& p,
                                uint16_t shard, const std::string& old,
                                uint64_t from, const encryption_key* key,
                                switch_report& rep) {
  auto snap = file_size(fs, p.snap_tmp);
  if (!snap)
    return with_context(std::move(snap).err(), "no snapshot to switch to",
                        "write_snapshot_tmp must succeed first");
  rep.snapshot_bytes = *snap;
  auto tail = open_tail(fs, old, from, key);
  if (!tail)
    return std::move(tail).err();
  rep.reencoded = tail->version() != (key ? format_v3 : format_v2);
  auto w = rep.reencoded ? reencode(fs, *tail, from, p.aof_tmp, key, rep)
                         : copy_and_open(fs, *tail, old, from, p.aof_tmp,
                                         key, rep);
  if (!w)
    return w;
  // Both temporaries' directory entries must be durable before the marker
  // that names them.
  if (auto st = sync_dir(fs, p); !st)
    return std::move(st).err();
  rep.aof_bytes = w->size();
  marker m{shard, from, rep.snapshot_bytes, rep.aof_bytes};
  if (auto st = commit_marker(fs, p, m, rep.in_doubt); !st)
    return std::move(st).err();
  return w;
}

} // namespace

rewrite_paths rewrite_paths::of(const std::string& dir, uint16_t shard) {
  rewrite_paths p;
  p.snap = snapshot_path(dir, shard);
  p.aof = aof_path(dir, shard);
  p.snap_tmp = p.snap + ".tmp";
  p.aof_tmp = p.aof + ".tmp";
  p.marker = join_path(dir, "shard-" + std::to_string(shard) + ".rewrite");
  p.marker_tmp = p.marker + ".tmp";
  // What fault_injection_file_system (and a reader) compares paths with.
  p.dir = parent_dir(p.aof);
  return p;
}

result<snapshot_stats> write_snapshot_tmp(file_system& fs,
                                          const std::string& dir,
                                          uint16_t shard, const keyspace& ks,
                                          int64_t now_ms,
                                          const encryption_key* key) {
  auto p = rewrite_paths::of(dir, shard);
  if (auto st = refuse_unfinished(fs, p); !st)
    return std::move(st).err();
  auto w = snapshot_writer::begin(fs, p.snap, shard, key);
  if (!w)
    return std::move(w).err();
  if (auto st = add_keyspace(*w, ks, now_ms); !st)
    return std::move(st).err();
  return w->commit_to_tmp();
}

result<aof_writer> switch_aof(file_system& fs, const std::string& dir,
                              uint16_t shard, const std::string& old_aof,
                              uint64_t aof_offset, const encryption_key* key,
                              switch_report* report) {
  auto p = rewrite_paths::of(dir, shard);
  if (auto st = refuse_unfinished(fs, p); !st)
    return std::move(st).err();
  switch_report rep;
  auto w = switch_steps(fs, p, shard, old_aof, aof_offset, key, rep);
  if (!w && !rep.in_doubt) {
    // Nothing committed: the temporaries are garbage (startup removes them
    // too if this fails).
    rewrite_report ignored;
    (void)discard(fs, p, false, ignored);
    w = with_context(std::move(w).err(), "rewrite of " + p.aof + " abandoned",
                     "the old snapshot and AOF stay current: keep logging "
                     "to " + old_aof);
  }
  if (report)
    *report = rep;
  return w;
}

status finish_rewrite(file_system& fs, const std::string& dir,
                      uint16_t shard) {
  auto p = rewrite_paths::of(dir, shard);
  const std::string advice
    = "the rewrite stays committed: keep logging to the new AOF and call "
      "finish_rewrite again (startup also completes it)";
  auto found = read_marker(fs, p, shard);
  if (!found)
    return with_context(std::move(found).err(), "finishing the rewrite of "
                                                  + p.aof, advice);
  if (found->valid) {
    rewrite_report ignored;
    if (auto st = roll_forward(fs, p, *found->valid, ignored); !st)
      return with_context(std::move(st).err(),
                          "finishing the rewrite of " + p.aof, advice);
    return {};
  }
  if (found->present)
    return error{errc::corrupt_file,
                 "cannot finish the rewrite of " + p.aof + ": " + p.marker
                   + " is " + found->problem
                   + "; stop logging to this shard and restart it"};
  // No marker: finished already (a retry after a failed last fsync) unless
  // temporaries are left, which belong to an uncommitted rewrite.
  for (auto* tmp : {&p.snap_tmp, &p.aof_tmp}) {
    auto there = fs.exists(*tmp);
    if (!there)
      return std::move(there).err();
    if (*there)
      return error{errc::corrupt_file,
                   "cannot finish the rewrite of " + p.aof + ": " + p.marker
                     + " is missing, so " + *tmp
                     + " belongs to a rewrite that never committed "
                       "(switch_aof failed?); a restart removes it"};
  }
  return sync_dir(fs, p);
}

result<rewrite_report> complete_interrupted_rewrite(file_system& fs,
                                                    const std::string& dir,
                                                    uint16_t shard) {
  auto p = rewrite_paths::of(dir, shard);
  const std::string context = "completing an interrupted rewrite of " + p.aof;
  const std::string advice = "the shard cannot start before this succeeds; "
                             "check the disk and permissions, then restart";
  rewrite_report rep;
  auto found = read_marker(fs, p, shard);
  if (!found)
    return with_context(std::move(found).err(), context, advice);
  if (found->valid) {
    rep.done = rewrite_report::action::rolled_forward;
    if (auto st = roll_forward(fs, p, *found->valid, rep); !st)
      return with_context(std::move(st).err(), context, advice);
    return rep;
  }
  if (found->present) {
    // The marker is fsynced before it gets its name, so a crash cannot
    // tear it: this is damage. Guessing either way could drop acknowledged
    // writes (those logged to the new AOF after the commit), so refuse.
    return error{errc::corrupt_file,
                 p.marker + " is " + found->problem
                   + ": it commits a rewrite and, damaged, cannot say "
                     "whether " + p.aof_tmp
                   + " holds acknowledged writes. Nothing was changed. If "
                   + p.snap_tmp + " and " + p.aof_tmp
                   + " both exist and pass `ember-persist check`, rename "
                     "them over " + p.snap + " and " + p.aof
                   + " and remove the marker; otherwise remove the marker "
                     "and both temporaries to keep the previous pair"};
  }
  if (auto st = discard(fs, p, found->present, rep); !st)
    return with_context(std::move(st).err(), context, advice);
  if (!rep.removed.empty())
    rep.done = rewrite_report::action::discarded;
  return rep;
}

std::string rewrite_report::summary() const {
  auto list = [](const std::vector<std::string>& xs) {
    std::string out;
    for (auto& x : xs)
      out += (out.empty() ? "" : ", ") + x;
    return out.empty() ? std::string{"nothing"} : out;
  };
  std::string out;
  switch (done) {
    case action::none:
      out = "no interrupted rewrite";
      break;
    case action::rolled_forward:
      out = "finished a committed rewrite: renamed " + list(renamed)
            + " into place; removed " + list(removed);
      break;
    case action::discarded:
      out = "discarded an uncommitted rewrite (the previous snapshot and "
            "AOF stay current): removed "
            + list(removed);
      break;
  }
  if (!marker_problem.empty())
    out += "; " + marker_problem;
  return out;
}

} // namespace ember::codec
