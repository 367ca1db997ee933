#include "app/encrypt_dir.hpp"

#include <ostream>
#include <vector>

#include "app/data_dir.hpp"
#include "app/file_scan.hpp"
#include "app/tool_support.hpp"
#include "codec/aof_writer.hpp"
#include "codec/recovery.hpp"
#include "codec/snapshot_writer.hpp"

namespace ember::app {

namespace {

using codec::errc;
using codec::read_end;

/// Writers hand their buffer to the file at this size (bounds memory).
constexpr uint64_t flush_bytes = 1u << 20;

struct file_plan {
  std::string path;
  std::string tmp;
  file_kind kind = file_kind::aof;
  uint8_t version = 0;
  uint64_t items = 0;
  file_stamp stamp;
  bool encrypt = false; ///< false: already v3 with this key
};

/// One reason the directory is refused; every one is reported.
struct refusal {
  std::string message;
  bool io = false;
};

// -- step 1: inspect ------------------------------------------------------------

std::string damaged_text(const scan_summary& s) {
  return s.diagnosis + ". encrypt needs clean files: run `ember-persist "
                       "check "
         + s.path + "` and repair or restore it first";
}

/// Reads one file through with the key and decides what to do with it.
codec::result<file_plan> inspect(codec::file_system& fs,
                                 const std::string& path, file_kind kind,
                                 const codec::encryption_key& key) {
  null_sink sink;
  auto s = kind == file_kind::aof ? scan_aof(fs, path, &key, sink)
                                  : scan_snapshot(fs, path, &key, sink);
  if (!s)
    return std::move(s).err();
  if (wrong_key_suspected(*s))
    return codec::error{errc::decryption_failed,
                        path + " is encrypted (v3) and its first "
                          + std::string{kind == file_kind::aof ? "record"
                                                               : "entry"}
                          + " does not decrypt with this key: it was "
                            "encrypted with another key (or is damaged at "
                            "its start); encrypt never re-keys files"};
  if (s->end.kind != read_end::clean)
    return codec::error{s->end.code == errc::io_error ? errc::io_error
                                                      : errc::corrupt_file,
                        damaged_text(*s)};
  auto stamp = stamp_of(fs, path);
  if (!stamp)
    return std::move(stamp).err();
  file_plan p;
  p.path = path;
  p.tmp = path + ".tmp";
  p.kind = kind;
  p.version = s->version;
  p.items = s->items;
  p.stamp = *stamp;
  p.encrypt = s->version != codec::format_v3;
  return p;
}

/// Plans every file of `dir`, or says every reason to refuse.
std::vector<file_plan> plan_dir(codec::file_system& fs, const std::string& dir,
                                const std::vector<uint16_t>& shards,
                                const codec::encryption_key& key,
                                std::vector<refusal>& refused) {
  std::vector<file_plan> plans;
  for (auto shard : shards) {
    auto marker = rewrite_marker_path(dir, shard);
    if (auto there = fs.exists(marker); !there || *there) {
      refused.push_back(
        {there ? marker
                   + ": a committed AOF rewrite is unfinished; start emberd "
                     "once (it completes the rewrite on start) and stop it, "
                     "then rerun encrypt"
               : there.err().message,
         !there});
      continue;
    }
    for (auto kind : {file_kind::snapshot, file_kind::aof}) {
      auto path = kind == file_kind::aof ? codec::aof_path(dir, shard)
                                         : codec::snapshot_path(dir, shard);
      auto there = fs.exists(path);
      if (!there) {
        refused.push_back({there.err().message, true});
        continue;
      }
      if (!*there)
        continue;
      auto p = inspect(fs, path, kind, key);
      if (!p)
        refused.push_back({p.err().message, is_io(p.err())});
      else
        plans.push_back(std::move(*p));
    }
  }
  return plans;
}

// -- step 2: write ------------------------------------------------------------

codec::error changed_while_reading(const std::string& path,
                                   const std::string& diagnosis) {
  return codec::error{errc::corrupt_file,
                      path + " changed while it was being encrypted ("
                        + diagnosis
                        + "); is emberd running? stop it and rerun encrypt"};
}

codec::status write_aof(codec::file_system& fs, const file_plan& p,
                        const codec::encryption_key& key) {
  auto in = codec::aof_reader::open(fs, p.path, &key);
  if (!in)
    return std::move(in).err();
  codec::aof_writer_options opts;
  opts.key = &key;
  opts.truncate_existing = true; // a stale tmp from an earlier crash
  opts.write_behind = true;      // only commit() below is relied on
  auto out = codec::aof_writer::open(fs, p.tmp, opts);
  if (!out)
    return std::move(out).err();
  codec::aof_record r;
  while (in->next(r)) {
    if (auto st = out->add(r); !st)
      return st;
    if (out->pending_bytes() >= flush_bytes)
      if (auto st = out->flush(); !st)
        return st;
  }
  if (in->end().kind != read_end::clean)
    return changed_while_reading(p.path, in->diagnosis());
  return out->commit();
}

codec::status write_snapshot(codec::file_system& fs, const file_plan& p,
                             const codec::encryption_key& key) {
  auto in = codec::snapshot_reader::open(fs, p.path, &key);
  if (!in)
    return std::move(in).err();
  // begin() writes to p.path + ".tmp" == p.tmp.
  auto out = codec::snapshot_writer::begin(fs, p.path, in->shard_id(), &key);
  if (!out)
    return std::move(out).err();
  codec::snapshot_entry e;
  while (in->next(e))
    if (auto st = out->add(e); !st)
      return st;
  if (in->end().kind != read_end::clean)
    return changed_while_reading(p.path, in->diagnosis());
  auto done = out->commit_to_tmp();
  if (!done)
    return std::move(done).err();
  return {};
}

// -- step 3: verify -----------------------------------------------------------

bool same(const codec::aof_record& a, const codec::aof_record& b) {
  return a == b;
}

bool same(const codec::snapshot_entry& a, const codec::snapshot_entry& b) {
  std::string ea;
  std::string eb;
  codec::encode_entry(ea, a);
  codec::encode_entry(eb, b);
  return ea == eb;
}

bool same_header(const codec::aof_reader&, const codec::aof_reader&) {
  return true;
}

bool same_header(const codec::snapshot_reader& a,
                 const codec::snapshot_reader& b) {
  return a.shard_id() == b.shard_id() && a.entry_count() == b.entry_count();
}

codec::error mismatch(const file_plan& p, const std::string& what) {
  return codec::error{errc::invalid_data,
                      "verification failed: " + p.tmp + " " + what
                        + " compared with " + p.path
                        + "; nothing was replaced"};
}

/// Reads the source and the written tmp in lockstep; every item must be
/// equal, both must end clean, and the tmp must be v3.
template <class Reader, class Item>
codec::status verify(codec::file_system& fs, const file_plan& p,
                     const codec::encryption_key& key) {
  auto src = Reader::open(fs, p.path, &key);
  if (!src)
    return std::move(src).err();
  auto dst = Reader::open(fs, p.tmp, &key);
  if (!dst)
    return std::move(dst).err();
  if (dst->version() != codec::format_v3 || !same_header(*src, *dst))
    return mismatch(p, "has another header");
  Item a;
  Item b;
  for (uint64_t i = 0;; ++i) {
    bool has_a = src->next(a);
    bool has_b = dst->next(b);
    if (has_a != has_b)
      return mismatch(p, "holds a different number of items (" + std::to_string(i)
                           + " match)");
    if (!has_a)
      break;
    if (!same(a, b))
      return mismatch(p, "differs at item #" + std::to_string(i));
  }
  if (dst->end().kind != read_end::clean)
    return mismatch(p, "does not read back cleanly (" + dst->diagnosis() + ")");
  if (src->end().kind != read_end::clean)
    return changed_while_reading(p.path, src->diagnosis());
  return {};
}

codec::status write_and_verify(codec::file_system& fs, const file_plan& p,
                               const codec::encryption_key& key) {
  auto st = p.kind == file_kind::aof ? write_aof(fs, p, key)
                                     : write_snapshot(fs, p, key);
  if (st)
    st = set_modified_ms(p.tmp, p.stamp.modified_ms);
  if (st)
    st = p.kind == file_kind::aof
           ? verify<codec::aof_reader, codec::aof_record>(fs, p, key)
           : verify<codec::snapshot_reader, codec::snapshot_entry>(fs, p,
                                                                   key);
  return st;
}

void remove_tmps(codec::file_system& fs, const std::vector<file_plan>& plans) {
  for (auto& p : plans)
    if (p.encrypt)
      (void) fs.remove(p.tmp); // best effort: emberd discards them too
}

int report_refusals(std::ostream& err, const std::vector<refusal>& refused) {
  bool io = false;
  for (auto& r : refused) {
    fail(err, "encrypt", r.message);
    io = io || r.io;
  }
  err << "ember-persist encrypt: nothing was changed\n";
  return io ? exit_usage : exit_damaged;
}

std::string describe(const file_plan& p) {
  auto items = std::to_string(p.items) + " " + item_noun(p.kind);
  if (!p.encrypt && p.items == 0)
    return p.path + ": already encrypted (v3, no " + item_noun(p.kind)
           + " to check the key against), left alone";
  if (!p.encrypt)
    return p.path + ": already encrypted with this key (v3, " + items
           + "), left alone";
  return p.path + ": encrypted (v" + std::to_string(p.version) + " -> v3), "
         + items + " verified";
}

} // namespace

int encrypt_dir(const std::string& dir, const std::string& key_file,
                std::ostream& out, std::ostream& err) {
  auto& fs = codec::posix_file_system();
  auto shards = list_shards(dir);
  if (!shards)
    return fail(err, "encrypt",
                shards.err().message
                  + "; pass the data directory that holds shard-N.snap and "
                    "shard-N.aof");
  if (shards->empty())
    return fail(err, "encrypt",
                dir + " holds no shard-N.snap or shard-N.aof; nothing to "
                      "encrypt (check DIR)");
  auto k = load_key(key_file, "encrypt", err);
  if (!k)
    return fail(err, "encrypt", k.err().message);
  auto& key = **k;
  std::vector<refusal> refused;
  auto plans = plan_dir(fs, dir, *shards, key, refused);
  if (!refused.empty())
    return report_refusals(err, refused);
  for (auto& p : plans) {
    if (!p.encrypt)
      continue;
    if (auto st = write_and_verify(fs, p, key); !st) {
      remove_tmps(fs, plans);
      return report_refusals(err, {{st.err().message, is_io(st.err())}});
    }
  }
  // Nothing is replaced if any source changed meanwhile (emberd running).
  for (auto& p : plans) {
    auto now = stamp_of(fs, p.path);
    if (!now || !(*now == p.stamp)) {
      remove_tmps(fs, plans);
      return report_refusals(
        err, {{now ? changed_while_reading(p.path, "size or mtime differ")
                       .message
                   : now.err().message,
               !now}});
    }
  }
  size_t encrypted = 0;
  for (auto& p : plans) {
    if (!p.encrypt)
      continue;
    if (auto st = fs.rename(p.tmp, p.path); !st)
      return fail(err, "encrypt",
                  st.err().message + "; " + std::to_string(encrypted)
                    + " files were already replaced by their verified v3 "
                      "versions (each file is whole; rerun encrypt to "
                      "finish)");
    ++encrypted;
  }
  if (auto st = fs.sync_dir(dir); !st)
    return fail(err, "encrypt",
                st.err().message
                  + "; the files were replaced but the directory is not "
                    "yet durable: run `sync` or rerun encrypt");
  for (auto& p : plans)
    out << describe(p) << '\n';
  out << dir << ": " << encrypted << " files encrypted and verified, "
      << plans.size() - encrypted
      << " already encrypted with this key; every data file is now v3\n";
  return exit_ok;
}

} // namespace ember::app
