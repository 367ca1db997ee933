#include "codec/fault_injection_file_system.hpp"

#include <algorithm>
#include <random>

namespace ember::codec {

namespace {

error injected(const std::string& what, const std::string& path, int err) {
  return io_error(what + " " + path + " failed (injected fault)", err);
}

} // namespace

// A writable file whose writes and syncs pass through the fault plan.
class fault_file final : public writable_file {
public:
  fault_file(fault_injection_file_system& fs,
             std::unique_ptr<writable_file> inner, uint64_t generation,
             std::shared_ptr<fault_injection_file_system::file_state> state)
    : fs_(fs),
      inner_(std::move(inner)),
      generation_(generation),
      state_(std::move(state)) {
  }

  status append(std::string_view data) override {
    return write(data, nullptr);
  }

  status write_at(uint64_t offset, std::string_view data) override {
    return write(data, &offset);
  }

  status sync() override {
    std::unique_lock<std::mutex> guard{fs_.mtx_};
    if (auto st = alive(); !st)
      return st;
    if (auto f = fs_.next_fault(fault_op::sync)) {
      if (fs_.failed_sync_loses_data_ && inner_->size() > state_->synced_size)
        state_->lost.emplace_back(state_->synced_size, inner_->size());
      return injected("fsync of", path(), f->err);
    }
    auto st = inner_->sync();
    if (st)
      state_->synced_size = inner_->size();
    return st;
  }

  status truncate(uint64_t size) override {
    std::unique_lock<std::mutex> guard{fs_.mtx_};
    if (auto st = alive(); !st)
      return st;
    auto st = inner_->truncate(size);
    state_->synced_size = std::min(state_->synced_size, size);
    // Cut-off pages are gone; what is appended later is new.
    auto& lost = state_->lost;
    for (auto& range : lost)
      range.second = std::min(range.second, size);
    lost.erase(std::remove_if(lost.begin(), lost.end(),
                              [](auto& r) { return r.first >= r.second; }),
               lost.end());
    return st;
  }

  uint64_t size() const override {
    return inner_->size();
  }

  const std::string& path() const override {
    return inner_->path();
  }

private:
  status alive() const {
    if (generation_ != fs_.generation_)
      return error{errc::io_error,
                   "file " + path() + " was open across a simulated crash",
                   EIO};
    return {};
  }

  status write(std::string_view data, const uint64_t* offset) {
    std::unique_lock<std::mutex> guard{fs_.mtx_};
    if (auto st = alive(); !st)
      return st;
    if (auto f = fs_.next_fault(fault_op::write)) {
      if (f->short_write && data.size() > 1) {
        auto half = data.substr(0, data.size() / 2);
        auto st = offset ? inner_->write_at(*offset, half)
                         : inner_->append(half);
        if (!st)
          return st;
      }
      return injected("write to", path(), f->err);
    }
    return offset ? inner_->write_at(*offset, data) : inner_->append(data);
  }

  fault_injection_file_system& fs_;
  std::unique_ptr<writable_file> inner_;
  uint64_t generation_;
  std::shared_ptr<fault_injection_file_system::file_state> state_;
};

fault_injection_file_system::fault_injection_file_system(file_system& base)
  : base_(base) {
}

fault_injection_file_system::~fault_injection_file_system() = default;

void fault_injection_file_system::fail(fault_op op, uint64_t nth, int err,
                                       bool persistent) {
  std::unique_lock<std::mutex> guard{mtx_};
  plans_.push_back(plan{op, counts_[static_cast<int>(op)] + nth, err,
                        persistent, false});
}

void fault_injection_file_system::short_write(uint64_t nth, int err) {
  std::unique_lock<std::mutex> guard{mtx_};
  plans_.push_back(plan{fault_op::write,
                        counts_[static_cast<int>(fault_op::write)] + nth, err,
                        false, true});
}

void fault_injection_file_system::heal() {
  std::unique_lock<std::mutex> guard{mtx_};
  plans_.clear();
}

void fault_injection_file_system::failed_sync_loses_data(bool on) {
  std::unique_lock<std::mutex> guard{mtx_};
  failed_sync_loses_data_ = on;
}

uint64_t fault_injection_file_system::count(fault_op op) const {
  std::unique_lock<std::mutex> guard{mtx_};
  return counts_[static_cast<int>(op)];
}

std::optional<fault_injection_file_system::plan>
fault_injection_file_system::next_fault(fault_op kind) {
  auto n = ++counts_[static_cast<int>(kind)];
  for (auto& p : plans_)
    if (p.op == kind && (p.at == n || (p.persistent && n > p.at)))
      return p;
  return std::nullopt;
}

std::optional<std::string>
fault_injection_file_system::durable_bytes(const std::string& path) {
  auto bytes = read_file(base_, path);
  if (!bytes)
    return std::nullopt;
  auto i = files_.find(path);
  auto synced = i == files_.end() ? bytes->size() : i->second->synced_size;
  bytes->resize(std::min<size_t>(synced, bytes->size()));
  return std::move(*bytes);
}

result<std::unique_ptr<writable_file>>
fault_injection_file_system::open_writable(const std::string& path,
                                           open_mode mode) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (auto f = next_fault(fault_op::open))
    return injected("opening", path, f->err);
  auto existed = base_.exists(path);
  if (!existed)
    return std::move(existed).err();
  // Replacing an existing file's content is not durable either: remember it.
  std::optional<std::string> old;
  if (*existed && mode == open_mode::create_truncate)
    old = durable_bytes(path);
  auto inner = base_.open_writable(path, mode);
  if (!inner)
    return std::move(inner).err();
  std::shared_ptr<file_state> state;
  if (!*existed) {
    state = files_[path] = std::make_shared<file_state>();
    changes_.push_back(dir_change{dir_change::created, path, {}, {}});
  } else if (mode == open_mode::create_truncate) {
    state = state_of(path);
    state->synced_size = 0;
    // Model the truncation as a replacement whose old content may come back.
    changes_.push_back(
      dir_change{dir_change::removed, path, {}, std::move(old)});
  } else {
    state = state_of(path, (*inner)->size()); // pre-existing: durable
  }
  return std::unique_ptr<writable_file>{std::make_unique<fault_file>(
    *this, std::move(*inner), generation_, std::move(state))};
}

result<std::unique_ptr<readable_file>>
fault_injection_file_system::open_readable(const std::string& path) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (auto f = next_fault(fault_op::open))
    return injected("opening", path, f->err);
  return base_.open_readable(path);
}

status fault_injection_file_system::rename(const std::string& from,
                                           const std::string& to) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (auto f = next_fault(fault_op::rename))
    return injected("renaming " + from + " to", to, f->err);
  dir_change ch{dir_change::renamed, to, from, {}};
  auto to_exists = base_.exists(to);
  if (to_exists && *to_exists)
    ch.old_bytes = durable_bytes(to);
  // A file this layer never opened is durable as it is (as in
  // durable_bytes), not empty.
  std::shared_ptr<file_state> moved;
  if (auto i = files_.find(from); i != files_.end())
    moved = i->second;
  else if (auto f = base_.open_readable(from))
    moved = std::make_shared<file_state>(file_state{(*f)->size(), {}});
  auto st = base_.rename(from, to);
  if (!st)
    return st;
  if (moved)
    files_[to] = std::move(moved);
  files_.erase(from);
  changes_.push_back(std::move(ch));
  return {};
}

std::shared_ptr<fault_injection_file_system::file_state>
fault_injection_file_system::state_of(const std::string& path,
                                      uint64_t synced) {
  auto& slot = files_[path];
  if (!slot)
    slot = std::make_shared<file_state>(file_state{synced, {}});
  return slot;
}

status fault_injection_file_system::remove(const std::string& path) {
  std::unique_lock<std::mutex> guard{mtx_};
  dir_change ch{dir_change::removed, path, {}, durable_bytes(path)};
  auto st = base_.remove(path);
  if (!st)
    return st;
  files_.erase(path);
  if (ch.old_bytes)
    changes_.push_back(std::move(ch));
  return {};
}

status fault_injection_file_system::sync_dir(const std::string& dir) {
  std::unique_lock<std::mutex> guard{mtx_};
  if (auto f = next_fault(fault_op::sync_dir))
    return injected("fsync of directory", dir, f->err);
  auto st = base_.sync_dir(dir);
  if (!st)
    return st;
  // Changes in this directory are durable now.
  changes_.erase(std::remove_if(changes_.begin(), changes_.end(),
                                [&](const dir_change& c) {
                                  return parent_dir(c.path) == dir;
                                }),
                 changes_.end());
  return {};
}

result<bool> fault_injection_file_system::exists(const std::string& path) {
  std::unique_lock<std::mutex> guard{mtx_};
  return base_.exists(path);
}

result<int64_t>
fault_injection_file_system::modified_ms(const std::string& path) {
  std::unique_lock<std::mutex> guard{mtx_};
  return base_.modified_ms(path);
}

result<uint32_t>
fault_injection_file_system::permission_bits(const std::string& path) {
  std::unique_lock<std::mutex> guard{mtx_};
  return base_.permission_bits(path);
}

// How much of what was not durable survives: nothing (a full crash), or a
// seeded random part.
struct fault_injection_file_system::survivor_picker {
  std::optional<std::mt19937_64> rng;

  /// Bytes kept of an unsynced tail of `n` bytes.
  uint64_t bytes(uint64_t n) {
    return rng && n > 0 ? (*rng)() % (n + 1) : 0;
  }
  /// Changes kept (a prefix) of `n` unsynced changes in one directory.
  size_t changes(size_t n) {
    return rng && n > 0 ? (*rng)() % (n + 1) : 0;
  }
};

status fault_injection_file_system::crash() {
  survivor_picker none;
  return crash_keeping(none);
}

status fault_injection_file_system::crash(uint64_t seed) {
  survivor_picker some{std::mt19937_64{seed}};
  return crash_keeping(some);
}

status fault_injection_file_system::crash_keeping(survivor_picker& keep) {
  std::unique_lock<std::mutex> guard{mtx_};
  ++generation_;
  plans_.clear();
  // 1. Every tracked file loses its unsynced bytes (or some of them).
  for (auto& [path, state] : files_) {
    auto& st = *state;
    auto e = base_.exists(path);
    if (!e || !*e)
      continue;
    auto f = base_.open_writable(path, open_mode::append_existing);
    if (!f)
      return std::move(f).err();
    auto size = (*f)->size();
    if (size > st.synced_size) {
      auto kept = st.synced_size + keep.bytes(size - st.synced_size);
      if (auto s = (*f)->truncate(kept); !s)
        return s;
      st.synced_size = kept;
      size = kept;
    }
    // Bytes a failed sync dropped never reached the disk.
    for (auto [begin, end] : st.lost) {
      end = std::min(end, size);
      if (begin < end)
        if (auto s = (*f)->write_at(begin, std::string(end - begin, '\0'));
            !s)
          return s;
    }
    st.lost.clear();
  }
  // Per directory, the first `kept` unsynced changes survive.
  std::map<std::string, size_t> kept_changes;
  {
    std::map<std::string, size_t> per_dir;
    for (auto& c : changes_)
      ++per_dir[parent_dir(c.path)];
    for (auto& [dir, n] : per_dir)
      kept_changes[dir] = keep.changes(n);
  }
  std::vector<bool> survives(changes_.size());
  for (size_t i = 0; i < changes_.size(); ++i) {
    auto& left = kept_changes[parent_dir(changes_[i].path)];
    survives[i] = left > 0;
    if (left > 0)
      --left;
  }
  // 2. Directory changes that were never synced are undone, newest first.
  auto restore = [&](const std::string& path,
                     const std::optional<std::string>& bytes) -> status {
    if (!bytes)
      return {};
    auto f = base_.open_writable(path, open_mode::create_truncate);
    if (!f)
      return std::move(f).err();
    if (auto s = (*f)->append(*bytes); !s)
      return s;
    files_[path] = std::make_shared<file_state>(file_state{bytes->size(), {}});
    return {};
  };
  for (auto n = changes_.size(); n-- > 0;) {
    auto* i = &changes_[n];
    if (survives[n])
      continue;
    switch (i->kind) {
      case dir_change::created:
        if (auto s = base_.remove(i->path); !s)
          return s;
        files_.erase(i->path);
        break;
      case dir_change::renamed: {
        if (auto s = base_.rename(i->path, i->from); !s)
          return s;
        files_[i->from] = files_[i->path];
        files_.erase(i->path);
        if (auto s = restore(i->path, i->old_bytes); !s)
          return s;
        break;
      }
      case dir_change::removed:
        if (auto s = restore(i->path, i->old_bytes); !s)
          return s;
        break;
    }
  }
  changes_.clear();
  return {};
}

} // namespace ember::codec
