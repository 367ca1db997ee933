#include "codec/recovery.hpp"

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <utility>

#include "codec/arena_mark.hpp"
#include "codec/replay_window.hpp"
#include "codec/snapshot_reader.hpp"
#include "codec/split_replay.hpp"

namespace ember::codec {

namespace {

constexpr uint64_t shard_id_offset = 5; // after magic + version

// Calls recovery_options::on_progress every progress_step bytes of a large
// file; one comparison per record otherwise.
struct progress_meter {
  const recovery_options& opts;
  const std::string& path;
  uint64_t size;
  uint64_t next = opts.progress_step;

  void at(uint64_t offset) {
    auto step = opts.progress_step;
    if (offset < next || size <= step || !opts.on_progress)
      return;
    opts.on_progress(path, offset, size);
    next = (offset / step + 1) * step;
  }
};

// Whether replaying `r` can give a key a deadline. Only these records (and
// snapshot entries with a TTL) can; RENAME and COPY carry existing ones.
bool sets_deadline(const aof_record& r) {
  if (auto* s = std::get_if<rec::set>(&r))
    return s->expire_ms >= 0;
  if (auto* p = std::get_if<rec::proto_set>(&r))
    return p->expire_ms >= 0;
  return std::holds_alternative<rec::expire>(r)
         || std::holds_alternative<rec::pexpire>(r)
         || std::holds_alternative<rec::pexpireat>(r);
}

/// Advice appended to a diagnosis unless it already gives it (the readers'
/// diagnoses carry their own advice; ours must not repeat it).
struct hint {
  std::string_view marker;
  std::string text;
};

std::string with_hints(std::string diagnosis,
                       std::initializer_list<hint> hints) {
  for (auto& h : hints)
    if (diagnosis.find(h.marker) == std::string::npos)
      diagnosis += "; " + h.text;
  return diagnosis;
}

std::string with_snapshot_hints(std::string diagnosis,
                                const std::string& path) {
  return with_hints(
    std::move(diagnosis),
    {{"ember-persist check",
      "run `ember-persist check " + path + "` for details"},
     {"salvage", "restore the file from a backup or start with "
                 "on-corruption=salvage (ember-persist recover --salvage) to "
                 "set it aside"}});
}

std::string with_aof_hints(std::string diagnosis, const std::string& path) {
  return with_hints(
    std::move(diagnosis),
    {{"ember-persist repair",
      "`ember-persist repair " + path
        + " --yes` cuts it back to the last whole record, keeping a backup"},
     {"salvage", "start with on-corruption=salvage (ember-persist recover "
                 "--salvage) to keep the records before it"}});
}

std::string with_key_hint(std::string diagnosis) {
  return with_hints(std::move(diagnosis),
                    {{"configured key",
                      "the very first item does not decrypt, which usually "
                      "means a wrong key: check that the configured key file "
                      "is the one this file was written with"}});
}

/// A reader's own diagnosis, or one built from its end status when the
/// reader has none.
std::string diagnosis_of(const std::string& reader_diagnosis,
                         const std::string& path, const char* item,
                         const read_end& end) {
  if (!reader_diagnosis.empty())
    return reader_diagnosis;
  return path + ": " + end.name() + " at offset " + std::to_string(end.offset)
         + ", " + item + " " + std::to_string(end.index) + ": "
         + (end.reason.empty() ? to_string(end.code) : end.reason);
}

/// A failed decryption of the first item is almost always a wrong key.
bool looks_like_wrong_key(const read_end& end) {
  return end.code == errc::decryption_failed && end.index == 0;
}

using hint_fn = std::string (*)(std::string, const std::string&);

/// Header problems that mean the file itself is damaged (as opposed to a
/// missing key or an OS error), so salvage may set a snapshot aside.
bool is_damaged_header(errc code) {
  return code == errc::invalid_magic || code == errc::unsupported_version
         || code == errc::unexpected_eof;
}

class shard_recovery {
public:
  shard_recovery(file_system& fs, const std::string& dir, uint16_t shard,
                 const recovery_options& opts)
    : fs_(fs), opts_(opts), now_(opts.now_ms.value_or(unix_now_ms())) {
    auto& rep = out_.report;
    rep.shard_id = shard;
    rep.snapshot.path = snapshot_path(dir, shard);
    rep.aof.path = aof_path(dir, shard);
  }

  result<recovery_result> run() {
    auto started = std::chrono::steady_clock::now();
    if (auto st = load_snapshot(); !st)
      return std::move(st).err();
    if (auto st = replay_aof(); !st)
      return std::move(st).err();
    auto& rep = out_.report;
    // A full scan of the keyspace, skipped when no key can have a deadline.
    if (may_expire_)
      rep.expired_dropped = out_.data.remove_expired(now_);
    rep.keys = out_.data.size();
    rep.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
    return std::move(out_);
  }

private:
  bool salvage() const noexcept {
    return opts_.policy == corruption_policy::salvage;
  }

  /// Sets `rep.present`; false (with `err`) when the OS cannot tell.
  status check_present(file_report& rep) {
    auto present = fs_.exists(rep.path);
    if (!present)
      return std::move(present).err();
    rep.present = *present;
    return {};
  }

  // -- snapshot ---------------------------------------------------------------

  status load_snapshot() {
    auto& rep = out_.report.snapshot;
    if (auto st = check_present(rep); !st || !rep.present)
      return st;
    auto reader = snapshot_reader::open(fs_, rep.path, opts_.key);
    if (!reader)
      return snapshot_unopenable(std::move(reader).err());
    rep.version = reader->version();
    rep.bytes = reader->file_size();
    if (reader->shard_id() != out_.report.shard_id)
      return snapshot_of_other_shard(reader->shard_id());
    auto anchor = opts_.snapshot_time_ms.value_or(now_);
    // The header's count, but no more than the file can hold (an entry takes
    // at least 16 bytes), so a damaged header cannot make us over-allocate.
    out_.data.reserve(static_cast<size_t>(
      std::min<uint64_t>(reader->entry_count(), rep.bytes / 16)));
    // About two heap bytes per file byte, as for the AOF below.
    auto held = raise_arena_mark(2 * rep.bytes);
    snapshot_entry e;
    uint64_t entries = 0;
    progress_meter meter{opts_, rep.path, rep.bytes};
    while (reader->next(e)) {
      may_expire_ = may_expire_ || e.expire_ms >= 0;
      // The key is copied (inline for short keys), not moved out, so that
      // the reader decodes the next key into the same buffer.
      out_.data.put(e.key, to_entry(std::move(e), anchor));
      ++entries;
      meter.at(reader->info().offset);
    }
    rep.end = reader->end();
    if (rep.end.kind != read_end::clean)
      return snapshot_damaged(
        diagnosis_of(reader->diagnosis(), rep.path, "entry", rep.end));
    rep.loaded = true;
    rep.items = entries;
    out_.report.loaded_snapshot = true;
    return {};
  }

  /// A file that did not read to a good end. Refuse: an error; salvage: it
  /// is set aside and the caller keeps what it may.
  status damaged(file_report& rep, std::string diagnosis, hint_fn hints) {
    rep.diagnosis = std::move(diagnosis);
    // Not damage: an OS error mid-read, or a first item that does not
    // decrypt (a wrong key). Setting the file aside would lose good data.
    if (rep.end.code == errc::io_error)
      return error{errc::io_error, rep.diagnosis};
    if (looks_like_wrong_key(rep.end))
      return error{errc::decryption_failed, with_key_hint(rep.diagnosis)};
    if (!salvage())
      return error{errc::corrupt_file, hints(rep.diagnosis, rep.path)};
    rep.set_aside = true;
    return {};
  }

  /// Salvage discards the whole snapshot: the AOF replays on an empty
  /// keyspace.
  status snapshot_damaged(std::string diagnosis) {
    out_.data.clear();
    return damaged(out_.report.snapshot, std::move(diagnosis),
                   with_snapshot_hints);
  }

  status snapshot_of_other_shard(uint16_t found) {
    auto& rep = out_.report.snapshot;
    auto expected = std::to_string(out_.report.shard_id);
    rep.end.kind = read_end::corrupt;
    rep.end.code = errc::shard_mismatch;
    rep.end.offset = shard_id_offset;
    rep.end.reason = "names shard " + std::to_string(found)
                     + ", expected shard " + expected;
    return snapshot_damaged(
      rep.path + ": the header (byte offset 5) " + rep.end.reason
      + " (a file from another shard or data directory?)");
  }

  status snapshot_unopenable(error err) {
    auto& rep = out_.report.snapshot;
    rep.diagnosis = err.message;
    // A missing key or an OS error is not damage: never set data aside
    // because of configuration.
    if (!is_damaged_header(err.code))
      return err;
    if (!salvage()) {
      err.message = with_snapshot_hints(std::move(err.message), rep.path);
      return err;
    }
    rep.set_aside = true;
    return {};
  }

  // -- AOF --------------------------------------------------------------------

  status replay_aof() {
    auto& rep = out_.report.aof;
    if (auto st = check_present(rep); !st || !rep.present)
      return st;
    auto reader = aof_reader::open(fs_, rep.path, opts_.key);
    if (!reader && reader.err().code == errc::unexpected_eof)
      return aof_torn_header(std::move(reader).err());
    if (!reader) {
      rep.diagnosis = reader.err().message;
      return std::move(reader).err();
    }
    rep.version = reader->version();
    rep.bytes = reader->file_size();
    // Room for one key per 100 bytes (a SET of a short key and value), so
    // that replay does not rehash; an over-estimate costs 8 bytes a bucket.
    out_.data.reserve(static_cast<size_t>(rep.bytes / 100));
    aof_record r;
    replay_stats stats;
    progress_meter meter{opts_, rep.path, rep.bytes};
    std::unique_ptr<split_replay> split;
    if (wants_split())
      split = split_replay::start(fs_, rep.path, opts_.key, out_.data, now_);
    // A SET of ~100 bytes makes a key of ~200 heap bytes; a split gives
    // half the keys to the helper (which readies its own arena).
    auto held = raise_arena_mark(split ? rep.bytes : 2 * rep.bytes);
    replay_window window{now_};
    while (reader->next(r)) {
      may_expire_ = may_expire_ || sets_deadline(r);
      if (split)
        split->apply(out_.data, r, stats);
      else
        window.push(out_.data, r, stats);
      meter.at(reader->info().offset);
    }
    window.flush(out_.data, stats);
    if (split) {
      if (auto st = split->finish(out_.data, reader->records_read(),
                                  reader->valid_end(), stats);
          !st) {
        rep.diagnosis = st.err().message;
        return std::move(st).err();
      }
    }
    rep.end = reader->end();
    rep.items = reader->records_read();
    rep.loaded = rep.items > 0;
    auto& report = out_.report;
    report.records_replayed = rep.items;
    report.records_skipped = stats.skipped;
    report.aof_valid_end = reader->valid_end();
    auto kind = rep.end.kind;
    if (kind == read_end::clean || kind == read_end::torn_tail) {
      // A torn tail is a crash mid-append, not damage; the writer cuts it.
      rep.diagnosis = reader->diagnosis();
      report.replayed_aof = true;
      return {};
    }
    // Salvage keeps the records before the bad one.
    return damaged(rep,
                   diagnosis_of(reader->diagnosis(), rep.path, "record",
                                rep.end),
                   with_aof_hints);
  }

  bool wants_split() const {
    return opts_.split_replay.value_or(false);
  }

  /// A file shorter than its header is what a crash leaves while the AOF is
  /// being created: an empty log with a torn tail, which the writer
  /// recreates (aof_writer treats it the same way).
  status aof_torn_header(error err) {
    auto& rep = out_.report.aof;
    if (auto file = fs_.open_readable(rep.path))
      rep.bytes = (*file)->size();
    rep.end.kind = read_end::torn_tail;
    rep.end.code = err.code;
    rep.end.dropped_bytes = rep.bytes;
    rep.end.reason = "shorter than the 5-byte header";
    rep.diagnosis = err.message
                    + "; a crash while the file was created leaves this: "
                      "recovery treats it as empty and the writer recreates "
                      "it";
    out_.report.replayed_aof = true;
    return {};
  }

  file_system& fs_;
  const recovery_options& opts_;
  int64_t now_;
  recovery_result out_;
  bool may_expire_ = false; ///< some key may carry a deadline
};

} // namespace

std::string snapshot_path(const std::string& dir, uint16_t shard) {
  return join_path(dir, "shard-" + std::to_string(shard) + ".snap");
}

std::string aof_path(const std::string& dir, uint16_t shard) {
  return join_path(dir, "shard-" + std::to_string(shard) + ".aof");
}

result<recovery_result> recover_shard(file_system& fs, const std::string& dir,
                                      uint16_t shard,
                                      const recovery_options& opts) {
  return shard_recovery{fs, dir, shard, opts}.run();
}

} // namespace ember::codec
