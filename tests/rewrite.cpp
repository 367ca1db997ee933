// AOF rewrite: a rewrite interrupted at every file-system operation (fault,
// then a power loss dropping everything unsynced) recovers exactly the
// acknowledged state; torn markers, encryption, TTLs, misuse.
#define CAF_SUITE rewrite
#include "caf/test/unit_test_impl.hpp"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "codec/aof_reader.hpp"
#include "codec/aof_writer.hpp"
#include "codec/crc32.hpp"
#include "codec/encryption_key.hpp"
#include "codec/fault_injection_file_system.hpp"
#include "codec/format.hpp"
#include "codec/recovery.hpp"
#include "codec/replay.hpp"
#include "codec/rewrite.hpp"
#include "codec/snapshot_reader.hpp"
#include "tests/test_support.hpp"

using namespace ember::codec;
using namespace ember::test;

namespace {

constexpr uint16_t shard = 7;
// Records replay (in the model and in recovery) at t_now; snapshots are
// written at t_snap, and recovery anchors them there, so deadlines must
// come back exactly.
constexpr int64_t t_now = 1'700'000'000'000;
constexpr int64_t t_snap = t_now - 5'000;

const encryption_key& test_key() {
  static const auto key = encryption_key::generate();
  return key;
}

// Non-idempotent records on a few keys of each type, so that one record
// lost or applied twice changes the result; TTL records on the t* keys.
class workload {
public:
  aof_record next() {
    auto n = std::to_string(++n_);
    auto v = "v" + n;
    switch (rng_() % 15) {
      case 0: return rec::incr{pick("c", 3)};
      case 1: return rec::incrby{pick("c", 3), small() - 30};
      case 2: return rec::lpush{pick("l", 3), {v, v + "b"}};
      case 3: return rec::rpush{pick("l", 3), {v}};
      case 4: return rec::lpop{pick("l", 3)};
      case 5: return rec::append{pick("s", 3), v};
      case 6: return rec::hincrby{pick("h", 2), pick("f", 3), small() + 1};
      case 7: return rec::sadd{pick("z", 2), {v}};
      case 8: return rec::set{pick("t", 4), v, ttl()};
      case 9: return rec::pexpire{pick("t", 4), 1'000 + small() * 1'000};
      case 10: return rec::pexpireat{pick("t", 4), t_now - 100 + small() * 997};
      case 11: return rec::persist{pick("t", 4)};
      case 12: return rec::expire{pick("l", 3), 30 + small()};
      case 13: return rec::rename{"t" + n.substr(n.size() - 1), "t9"};
      default: return rec::append{pick("t", 4), v}; // keeps the TTL
    }
  }

private:
  std::string pick(const char* prefix, int count) {
    return prefix + std::to_string(rng_() % count);
  }
  int64_t small() {
    return static_cast<int64_t>(rng_() % 100);
  }
  int64_t ttl() {
    static const int64_t ttls[] = {-1, 0, 1, 60'000, 3'600'000};
    return ttls[rng_() % 5];
  }

  std::mt19937_64 rng_{42};
  uint64_t n_ = 0;
};

struct config {
  const char* name;
  const encryption_key* key_before; // old AOF and snapshot
  const encryption_key* key_after;  // the rewrite under test
};

const config configs[] = {
  {"plaintext", nullptr, nullptr},
  {"encrypted", &test_key(), &test_key()},
  {"key added (v2 re-encoded as v3)", nullptr, &test_key()},
};

// Where a scenario may stop (and crash) without a fault.
enum class stage { snapshot, batch1, switched, batch2, finished, batch3 };

std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(dir))
    out.insert(e.path().filename().string());
  return out;
}

const std::set<std::string> final_files = {"shard-7.snap", "shard-7.aof"};

// What differs between two keyspaces ("" when equal), for messages.
std::string diff(const keyspace& got, const keyspace& want) {
  std::string out;
  auto note = [&](const std::string& key, const char* what) {
    if (out.size() < 400)
      out += key + ": " + what + "; ";
  };
  for (auto& key : want.sorted_keys()) {
    auto g = got.find(key);
    if (!g)
      note(key, "missing");
    else if (g->deadline_ms != want.find(key)->deadline_ms)
      note(key, "other deadline");
    else if (!(g->val == want.find(key)->val))
      note(key, "other value");
  }
  for (auto& key : got.sorted_keys())
    if (!want.find(key))
      note(key, "unexpected");
  return out;
}

// POSIX without fsyncs, calling `on_change` after every change to the
// directory (creation, rename, removal, directory fsync). The fault layer
// above it models durability, so real fsyncs would only cost time; and
// `on_change` sees the state a crash right then leaves if everything done
// so far survives (the opposite extreme of the fault layer's crash).
class test_disk final : public file_system {
public:
  std::function<void()> on_change;

  result<std::unique_ptr<writable_file>>
  open_writable(const std::string& path, open_mode mode) override {
    auto f = base_.open_writable(path, mode);
    changed();
    if (!f)
      return f;
    return std::unique_ptr<writable_file>{
      std::make_unique<unsynced_file>(std::move(*f))};
  }
  result<std::unique_ptr<readable_file>>
  open_readable(const std::string& path) override {
    return base_.open_readable(path);
  }
  status rename(const std::string& from, const std::string& to) override {
    auto st = base_.rename(from, to);
    changed();
    return st;
  }
  status remove(const std::string& path) override {
    auto st = base_.remove(path);
    changed();
    return st;
  }
  status sync_dir(const std::string&) override {
    changed();
    return {};
  }
  result<bool> exists(const std::string& path) override {
    return base_.exists(path);
  }
  result<int64_t> modified_ms(const std::string& path) override {
    return base_.modified_ms(path);
  }

private:
  class unsynced_file final : public writable_file {
  public:
    explicit unsynced_file(std::unique_ptr<writable_file> f)
      : f_(std::move(f)) {
    }
    status append(std::string_view data) override {
      return f_->append(data);
    }
    status write_at(uint64_t offset, std::string_view data) override {
      return f_->write_at(offset, data);
    }
    status sync() override {
      return {};
    }
    status truncate(uint64_t size) override {
      return f_->truncate(size);
    }
    uint64_t size() const override {
      return f_->size();
    }
    const std::string& path() const override {
      return f_->path();
    }

  private:
    std::unique_ptr<writable_file> f_;
  };

  void changed() {
    if (on_change)
      on_change();
  }

  file_system& base_ = posix_file_system();
};

using dir_state = std::map<std::string, std::string>; // name -> bytes

dir_state read_dir(const std::string& dir) {
  dir_state out;
  for (auto& name : files_in(dir))
    out[name] = slurp(join_path(dir, name));
  return out;
}

struct settled {
  rewrite_report report;
  keyspace data;
};

// Startup on a copy of `state`: complete the rewrite, lose power (what
// completion did must be durable by then), recover.
settled settle(const dir_state& state, const encryption_key* key) {
  temp_dir d;
  for (auto& [name, bytes] : state)
    spit(d.file(name), bytes);
  test_disk disk;
  fault_injection_file_system fs{disk}; // a new process: never opened them
  auto done = complete_interrupted_rewrite(fs, d.path(), shard);
  if (!done)
    CAF_FAIL("completion failed: " << done.err().message);
  CAF_REQUIRE(fs.crash());
  recovery_options opts;
  opts.key = key;
  opts.now_ms = t_now;
  opts.snapshot_time_ms = t_snap;
  auto rec = recover_shard(fs, d.path(), shard, opts);
  if (!rec)
    CAF_FAIL("recovery failed: " << rec.err().message);
  CAF_CHECK_EQUAL(files_in(d.path()), final_files);
  return {std::move(*done), std::move(rec->data)};
}

keyspace unexpired(keyspace ks) {
  ks.remove_expired(t_now);
  return ks;
}

// One shard's life: a history with a completed rewrite (prepare), then the
// rewrite under test with acknowledged records logged around its steps.
class scenario {
public:
  explicit scenario(const config& cfg, bool keep_going = false,
                    std::optional<stage> crash_after = std::nullopt)
    : cfg_(cfg), keep_going_(keep_going), crash_after_(crash_after) {
  }

  // -- the life of the shard -------------------------------------------------

  /// An old snapshot plus an old AOF with records after it; no faults.
  void prepare() {
    CAF_REQUIRE(open_writer(cfg_.key_before, std::nullopt));
    CAF_REQUIRE(log_group(30));
    auto offset = writer_->size();
    CAF_REQUIRE(write_snapshot_tmp(fs, dir.path(), shard, model, t_snap,
                                   cfg_.key_before));
    CAF_REQUIRE(log_group(3));
    auto w = switch_aof(fs, dir.path(), shard, aof(), offset,
                        cfg_.key_before);
    if (!w)
      CAF_FAIL("prepare: " << w.err().message);
    writer_.emplace(std::move(*w));
    CAF_REQUIRE(finish_rewrite(fs, dir.path(), shard));
    CAF_REQUIRE(open_writer(cfg_.key_before, writer_->size()));
    CAF_REQUIRE(log_group(10));
    CAF_REQUIRE_EQUAL(files_in(dir.path()), final_files);
  }

  /// The rewrite under test. Stops at the first failure (crash at once),
  /// or, with keep_going, reacts as the AOF's owner does: an abandoned
  /// rewrite keeps the old AOF, a failed finish is retried; a failed append
  /// (or a commit in doubt) stops the shard.
  void run() {
    at_p = model;
    after_p.clear();
    auto offset = writer_->size();
    bool rewriting = static_cast<bool>(write_snapshot_tmp(
      fs, dir.path(), shard, at_p, t_snap, cfg_.key_after));
    if (!rewriting && !owner_goes_on())
      return;
    if (stop(stage::snapshot) || !log_batch(3) || stop(stage::batch1))
      return;
    if (rewriting) {
      auto w = switch_aof(fs, dir.path(), shard, aof(), offset,
                          cfg_.key_after, &report);
      if (w) {
        // The owner acknowledges after flush(): the switched writer writes
        // in line even when the tail was re-encoded behind.
        CAF_CHECK(!w->writes_behind());
        writer_.emplace(std::move(*w));
        switched = true;
      } else if (!owner_goes_on() || report.in_doubt) {
        return;
      }
    }
    if (stop(stage::switched) || !log_batch(3) || stop(stage::batch2))
      return;
    if (switched) {
      if (!finish_rewrite(fs, dir.path(), shard)) {
        if (!owner_goes_on())
          return;
        CAF_REQUIRE(finish_rewrite(fs, dir.path(), shard)); // faults: once
      }
      if (!open_writer(cfg_.key_after, writer_->size()))
        return;
      finished = true;
    }
    if (stop(stage::finished))
      return;
    log_batch(2);
  }

  /// Power loss, then startup: complete the rewrite, recover, compare with
  /// every acknowledged record applied once.
  void crash_and_check(const std::string& label, bool power_loss = true) {
    writer_.reset();
    if (power_loss)
      CAF_REQUIRE(fs.crash());
    else
      fs.heal(); // a restart: the disk works again, nothing is lost
    auto done = complete_interrupted_rewrite(fs, dir.path(), shard);
    if (!done)
      CAF_FAIL(label << ": completion failed: " << done.err().message);
    recovery_options opts;
    opts.key = recovery_key();
    opts.now_ms = t_now;
    opts.snapshot_time_ms = t_snap;
    auto rec = recover_shard(fs, dir.path(), shard, opts);
    if (!rec)
      CAF_FAIL(label << ": recovery failed: " << rec.err().message);
    CAF_CHECK_EQUAL(label + ": " + diff(rec->data, unexpired(model)),
                    label + ": ");
    CAF_CHECK_EQUAL(files_in(dir.path()), final_files);
    CAF_CHECK_EQUAL(rec->report.aof.end.kind, read_end::clean);
    CAF_CHECK(rec->report.loaded_snapshot);
  }

  const encryption_key* recovery_key() const {
    return cfg_.key_after ? cfg_.key_after : cfg_.key_before;
  }

  std::string aof() const {
    return aof_path(dir.path(), shard);
  }

  /// L for a rewrite started now.
  uint64_t aof_size() const {
    return writer_->size();
  }

  test_disk disk;
  fault_injection_file_system fs{disk};
  temp_dir dir;
  keyspace model;               // every acknowledged record, applied once
  keyspace at_p;                // the state the rewrite snapshots
  std::vector<aof_record> after_p; // acknowledged records logged after P
  switch_report report;
  uint64_t failures = 0;        // failed calls seen by run()
  bool switched = false;
  bool finished = false;

private:
  bool owner_goes_on() {
    ++failures;
    return keep_going_;
  }

  bool stop(stage s) const {
    return crash_after_ == s;
  }

  bool open_writer(const encryption_key* key,
                   std::optional<uint64_t> verified_end) {
    aof_writer_options opts;
    opts.key = key;
    opts.verified_end = verified_end;
    auto w = aof_writer::open(fs, aof(), opts);
    if (!w) {
      ++failures;
      writer_.reset();
      return false;
    }
    writer_.emplace(std::move(*w));
    return true;
  }

  // One acknowledged record: it counts once commit() returned ok.
  bool log(const aof_record& r) {
    if (!writer_)
      return false;
    if (auto st = writer_->add(r); !st)
      CAF_FAIL("invalid workload record: " << st.err().message);
    if (!writer_->commit()) {
      ++failures;
      writer_.reset(); // closed for good; the shard would restart
      return false;
    }
    apply(model, r, t_now);
    after_p.push_back(r);
    return true;
  }

  // Records acknowledged together by one commit (group commit; prepare
  // needs no record-by-record crash points).
  bool log_group(int n) {
    std::vector<aof_record> group;
    for (int i = 0; i < n; ++i) {
      group.push_back(gen_.next());
      if (auto st = writer_->add(group.back()); !st)
        CAF_FAIL("invalid workload record: " << st.err().message);
    }
    if (!writer_->commit())
      return false;
    for (auto& r : group) {
      apply(model, r, t_now);
      after_p.push_back(r);
    }
    return true;
  }

  bool log_batch(int n) {
    for (int i = 0; i < n; ++i)
      if (!log(gen_.next()))
        return false;
    return true;
  }

  config cfg_;
  bool keep_going_;
  std::optional<stage> crash_after_;
  std::optional<aof_writer> writer_;
  workload gen_;
};

constexpr fault_op fault_kinds[] = {fault_op::write, fault_op::sync,
                                    fault_op::rename, fault_op::sync_dir,
                                    fault_op::open};

const char* name_of(fault_op op) {
  static const char* names[] = {"write", "sync", "rename", "sync_dir",
                                "open"};
  return names[static_cast<int>(op)];
}

// Operations of each kind that run() performs without faults.
std::map<fault_op, uint64_t> count_ops(const config& cfg) {
  scenario s{cfg};
  s.prepare();
  std::map<fault_op, uint64_t> before;
  for (auto op : fault_kinds)
    before[op] = s.fs.count(op);
  s.run();
  CAF_REQUIRE(s.finished);
  std::map<fault_op, uint64_t> out;
  for (auto op : fault_kinds)
    out[op] = s.fs.count(op) - before[op];
  return out;
}

} // namespace

CAF_TEST(rewrite interrupted at every operation recovers the acknowledged state) {
  uint64_t crash_points = 0;
  for (auto& cfg : configs) {
    auto counts = count_ops(cfg);
    for (bool keep_going : {false, true}) {
      for (auto op : fault_kinds) {
        for (uint64_t n = 1; n <= counts[op]; ++n) {
          for (bool short_write : {false, true}) {
            if (short_write && op != fault_op::write)
              continue;
            scenario s{cfg, keep_going};
            s.prepare();
            if (short_write)
              s.fs.short_write(n);
            else
              s.fs.fail(op, n);
            s.run();
            CAF_CHECK(s.failures > 0); // the fault hit something
            s.crash_and_check(std::string{cfg.name} + ", "
                              + (short_write ? "short " : "") + name_of(op)
                              + " #" + std::to_string(n)
                              + (keep_going ? ", owner goes on" : ""));
            ++crash_points;
          }
        }
      }
    }
  }
  CAF_MESSAGE(crash_points << " faulted crash points");
  CAF_CHECK(crash_points > 100);
}

CAF_TEST(a crash after every step recovers the acknowledged state) {
  for (auto& cfg : configs) {
    for (auto s_after : {stage::snapshot, stage::batch1, stage::switched,
                         stage::batch2, stage::finished, stage::batch3}) {
      scenario s{cfg, false, s_after};
      s.prepare();
      s.run();
      CAF_CHECK_EQUAL(s.failures, 0u);
      s.crash_and_check(std::string{cfg.name} + ", stage "
                        + std::to_string(static_cast<int>(s_after)));
    }
  }
}

CAF_TEST(a completed rewrite leaves exactly the snapshot of P and the records after it) {
  for (auto& cfg : configs) {
    CAF_MESSAGE(cfg.name);
    scenario s{cfg};
    s.prepare();
    s.run();
    CAF_REQUIRE(s.finished);
    CAF_CHECK_EQUAL(files_in(s.dir.path()), final_files);
    CAF_CHECK_EQUAL(s.report.reencoded, cfg.key_before != cfg.key_after);
    CAF_CHECK_EQUAL(s.report.tail_records, 3u); // batch 1
    uint8_t version = cfg.key_after ? format_v3 : format_v2;
    auto snap = snapshot_reader::open(posix_file_system(),
                                      snapshot_path(s.dir.path(), shard),
                                      cfg.key_after);
    CAF_REQUIRE(snap);
    CAF_CHECK_EQUAL(snap->version(), version);
    CAF_CHECK_EQUAL(snap->shard_id(), shard);
    CAF_CHECK_EQUAL(snap->entry_count(), s.at_p.size());
    snapshot_entry e;
    keyspace loaded;
    while (snap->next(e)) {
      auto key = e.key;
      loaded.put(key, to_entry(std::move(e), t_snap));
    }
    CAF_CHECK_EQUAL(snap->end().kind, read_end::clean);
    CAF_CHECK_EQUAL(diff(loaded, s.at_p), "");
    auto aof = aof_reader::open(posix_file_system(), s.aof(), cfg.key_after);
    CAF_REQUIRE(aof);
    CAF_CHECK_EQUAL(aof->version(), version);
    std::vector<aof_record> records;
    aof_record r;
    while (aof->next(r))
      records.push_back(r);
    CAF_CHECK_EQUAL(aof->end().kind, read_end::clean);
    CAF_CHECK(records == s.after_p);
    CAF_CHECK_EQUAL(records.size(), 8u);
    s.crash_and_check(cfg.name);
  }
}

CAF_TEST(a torn or altered marker is refused and nothing changes) {
  scenario s{configs[0], false, stage::switched};
  s.prepare();
  s.run();
  CAF_REQUIRE(s.switched);
  auto files = read_dir(s.dir.path());
  auto text = files.at("shard-7.rewrite");
  CAF_MESSAGE("marker:\n" << text);
  // A crash cannot tear the marker (it is fsynced before its rename), so a
  // bad one is damage: refused with every file left as it was.
  auto refused = [&](const std::string& content) {
    temp_dir d;
    for (auto& [name, bytes] : files)
      spit(d.file(name), name == "shard-7.rewrite" ? content : bytes);
    auto before = read_dir(d.path());
    auto r = complete_interrupted_rewrite(posix_file_system(), d.path(), 7);
    bool ok = !r && r.err().code == errc::corrupt_file
              && r.err().message.find("shard-7.rewrite") != std::string::npos
              && read_dir(d.path()) == before;
    return ok;
  };
  for (size_t cut = 0; cut < text.size(); ++cut)
    CAF_CHECK(refused(text.substr(0, cut)));
  auto altered = text;
  altered[altered.find("aof_offset ") + 11] ^= 1; // another digit
  CAF_CHECK(refused(altered));
  auto body = text.substr(0, text.find("crc32 "));
  body.replace(body.find("shard 7"), 7, "shard 8");
  char crc[9];
  std::snprintf(crc, sizeof(crc), "%08x", crc32(body));
  CAF_CHECK(refused(body + "crc32 " + crc + "\n"));
  auto want = unexpired(s.model);
  auto whole = settle(files, nullptr);
  CAF_CHECK_EQUAL(diff(whole.data, want), "");
  CAF_CHECK(whole.report.done == rewrite_report::action::rolled_forward);
  CAF_CHECK(whole.report.marker_problem.empty());
  CAF_CHECK_EQUAL(whole.report.renamed.size(), 2u);
}

CAF_TEST(a crash that keeps everything done so far recovers the acknowledged state) {
  size_t states = 0;
  for (auto& cfg : configs) {
    scenario s{cfg};
    s.prepare();
    std::vector<std::pair<dir_state, keyspace>> seen;
    s.disk.on_change = [&] {
      seen.emplace_back(read_dir(s.dir.path()), unexpired(s.model));
    };
    s.run();
    s.disk.on_change = nullptr;
    CAF_REQUIRE(s.finished);
    for (auto& [state, want] : seen)
      CAF_CHECK_EQUAL(diff(settle(state, s.recovery_key()).data, want), "");
    states += seen.size();
  }
  CAF_MESSAGE(states << " directory states");
}

CAF_TEST(TTL keys survive a rewrite with their deadlines) {
  scenario s{configs[1]};
  s.prepare();
  s.run();
  CAF_REQUIRE(s.finished);
  auto want = s.model;
  want.remove_expired(t_now);
  size_t with_deadline = 0;
  want.for_each([&](std::string_view, const entry& e) {
    with_deadline += e.has_deadline() ? 1 : 0;
  });
  CAF_MESSAGE(with_deadline << " of " << want.size() << " keys have a TTL");
  CAF_CHECK(with_deadline > 0);
  // The same files read at a later "now": deadlines are absolute, so keys
  // whose deadline passed are gone and the others keep theirs exactly.
  recovery_options opts;
  opts.key = &test_key();
  opts.now_ms = t_now;
  opts.snapshot_time_ms = t_snap;
  auto rec = recover_shard(posix_file_system(), s.dir.path(), shard, opts);
  CAF_REQUIRE(rec);
  want.for_each([&](std::string_view key, const entry& e) {
    auto got = std::as_const(rec->data).find(key);
    CAF_REQUIRE(got);
    CAF_CHECK_EQUAL(got->deadline_ms, e.deadline_ms);
  });
  s.crash_and_check("ttl");
}

CAF_TEST(a commit in doubt stops the shard and startup settles it) {
  for (bool power_loss : {true, false}) {
    scenario s{configs[0]};
    s.prepare();
    auto l = s.aof_size();
    CAF_REQUIRE(write_snapshot_tmp(s.fs, s.dir.path(), shard, s.model,
                                   t_snap, nullptr));
    // The 1st directory fsync covers the new AOF; from the 2nd (the
    // marker's) on, every one fails, so the commit cannot be taken back.
    s.fs.fail(fault_op::sync_dir, 2, EIO, true);
    switch_report rep;
    auto w = switch_aof(s.fs, s.dir.path(), shard, s.aof(), l, nullptr, &rep);
    CAF_REQUIRE(!w);
    CAF_CHECK(rep.in_doubt);
    CAF_CHECK(w.err().message.find("in doubt") != std::string::npos);
    // The commit may survive, so the files it names must stay.
    auto left = files_in(s.dir.path());
    CAF_CHECK_EQUAL(left.count("shard-7.snap.tmp"), 1u);
    CAF_CHECK_EQUAL(left.count("shard-7.aof.tmp"), 1u);
    CAF_MESSAGE(w.err().message);
    s.crash_and_check(power_loss ? "in doubt, power loss"
                                 : "in doubt, restart",
                      power_loss);
  }
}

CAF_TEST(a failed marker fsync takes the commit back) {
  scenario s{configs[0]};
  s.prepare();
  auto l = s.aof_size();
  CAF_REQUIRE(write_snapshot_tmp(s.fs, s.dir.path(), shard, s.model, t_snap,
                                 nullptr));
  s.fs.fail(fault_op::sync_dir, 2);
  switch_report rep;
  auto w = switch_aof(s.fs, s.dir.path(), shard, s.aof(), l, nullptr, &rep);
  CAF_REQUIRE(!w);
  CAF_CHECK(!rep.in_doubt);
  CAF_MESSAGE(w.err().message);
  CAF_CHECK(w.err().message.find("taken back") != std::string::npos);
  CAF_CHECK(w.err().message.find("keep logging to") != std::string::npos);
  CAF_CHECK_EQUAL(files_in(s.dir.path()), final_files);
  s.crash_and_check("taken back");
}

CAF_TEST(misuse is refused with errors that say what to do) {
  scenario s{configs[0], false, stage::switched};
  s.prepare();
  auto l = s.aof_size();
  // No snapshot written yet.
  auto none = switch_aof(s.fs, s.dir.path(), shard, s.aof(), l, nullptr);
  CAF_REQUIRE(!none);
  CAF_CHECK(none.err().message.find("write_snapshot_tmp") != std::string::npos);
  // An offset outside the AOF.
  CAF_REQUIRE(write_snapshot_tmp(s.fs, s.dir.path(), shard, s.model, t_snap,
                                 nullptr));
  auto beyond = switch_aof(s.fs, s.dir.path(), shard, s.aof(), l + 1,
                           nullptr);
  CAF_REQUIRE(!beyond);
  CAF_CHECK_EQUAL(beyond.err().code, errc::invalid_data);
  CAF_CHECK_EQUAL(files_in(s.dir.path()), final_files); // tmp removed
  // An encrypted AOF cannot be rewritten without its key.
  scenario enc{configs[1]};
  enc.prepare();
  CAF_REQUIRE(write_snapshot_tmp(enc.fs, enc.dir.path(), shard, enc.model,
                                 t_snap, nullptr));
  auto no_key = switch_aof(enc.fs, enc.dir.path(), shard, enc.aof(),
                           enc.aof_size(), nullptr);
  CAF_REQUIRE(!no_key);
  CAF_CHECK_EQUAL(no_key.err().code, errc::encryption_required);
  // A committed rewrite refuses a new one until it is finished, and
  // finish_rewrite may be repeated.
  s.run();
  CAF_REQUIRE(s.switched);
  auto again = write_snapshot_tmp(s.fs, s.dir.path(), shard, s.model, t_snap,
                                  nullptr);
  CAF_REQUIRE(!again);
  CAF_CHECK(again.err().message.find("finish_rewrite") != std::string::npos);
  CAF_CHECK(finish_rewrite(s.fs, s.dir.path(), shard));
  CAF_CHECK(finish_rewrite(s.fs, s.dir.path(), shard));
  CAF_CHECK_EQUAL(files_in(s.dir.path()), final_files);
  // Without a marker, leftover temporaries are not finished but discarded.
  spit(s.dir.file("shard-7.aof.tmp"), "EAOF\x02");
  CAF_CHECK(!finish_rewrite(s.fs, s.dir.path(), shard));
  auto done = complete_interrupted_rewrite(s.fs, s.dir.path(), shard);
  CAF_REQUIRE(done);
  CAF_CHECK(done->done == rewrite_report::action::discarded);
  CAF_MESSAGE(done->summary());
  s.crash_and_check("misuse");
}

CAF_TEST(files that do not match a valid marker are refused untouched) {
  scenario s{configs[0], false, stage::switched};
  s.prepare();
  s.run();
  CAF_REQUIRE(s.switched);
  auto snap_tmp = s.dir.file("shard-7.snap.tmp");
  spit(snap_tmp, slurp(snap_tmp) + "x");
  auto before = files_in(s.dir.path());
  auto done = complete_interrupted_rewrite(posix_file_system(), s.dir.path(),
                                           shard);
  CAF_REQUIRE(!done);
  CAF_CHECK_EQUAL(done.err().code, errc::corrupt_file);
  CAF_MESSAGE(done.err().message);
  CAF_CHECK_EQUAL(files_in(s.dir.path()), before);
}
