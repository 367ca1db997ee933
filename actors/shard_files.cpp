#include "actors/shard_files.hpp"

#include "codec/rewrite.hpp"

#include <algorithm>

namespace ember::actors {

namespace {

// Copies a damaged file aside (never renamed away: recovery may still need
// to read it) and makes the copy durable.
codec::result<std::string> copy_aside(codec::file_system& fs,
                                      const std::string& path) {
  auto aside = path + ".damaged-" + std::to_string(codec::unix_now_ms());
  if (auto st = codec::copy_file_durably(fs, path, aside); !st)
    return std::move(st).err();
  return aside;
}

} // namespace

codec::result<shard_files> open_shard_files(const shard_options& opts) {
  auto& fs = *opts.fs;
  // A rewrite interrupted by a crash is settled first: rolled forward if it
  // was committed, else its temporaries are dropped.
  auto settled = codec::complete_interrupted_rewrite(fs, opts.data_dir,
                                                     opts.shard_id);
  if (!settled)
    return std::move(settled).err();
  auto snap = codec::snapshot_path(opts.data_dir, opts.shard_id);
  auto aof = codec::aof_path(opts.data_dir, opts.shard_id);
  codec::recovery_options ropts;
  ropts.key = opts.key.get();
  ropts.policy = opts.on_corruption;
  ropts.on_progress = opts.recovery_progress;
  ropts.now_ms = codec::unix_now_ms();
  if (auto exists = fs.exists(snap); exists && *exists)
    if (auto mtime = fs.modified_ms(snap))
      ropts.snapshot_time_ms = std::min(*mtime, *ropts.now_ms);
  auto rec = codec::recover_shard(fs, opts.data_dir, opts.shard_id, ropts);
  if (!rec)
    return std::move(rec).err();
  shard_files out;
  out.report = rec->report;
  for (auto* file : {&rec->report.snapshot, &rec->report.aof}) {
    if (!file->set_aside)
      continue;
    auto aside = copy_aside(fs, file->path);
    if (!aside)
      return std::move(aside).err();
    out.set_aside.push_back(*aside);
  }
  // A snapshot that was set aside must not be loaded again after a
  // restart: it is replaced by the AOF alone (the state it held is lost,
  // and its copy is kept aside).
  if (rec->report.snapshot.set_aside) {
    if (auto st = fs.remove(snap); !st)
      return std::move(st).err();
    if (auto st = fs.sync_dir(opts.data_dir); !st)
      return std::move(st).err();
  }
  codec::aof_writer_options wopts;
  wopts.key = opts.key.get();
  if (rec->report.aof.present)
    wopts.verified_end = rec->report.aof_valid_end;
  auto writer = codec::aof_writer::open(fs, aof, wopts);
  if (!writer)
    return std::move(writer).err();
  out.aof = std::make_shared<codec::aof_writer>(std::move(*writer));
  out.data = std::move(rec->data);
  return out;
}

} // namespace ember::actors
