#include "codec/keyspace.hpp"

#include "codec/byte_writer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

namespace ember::codec {

namespace {

uint64_t bits_of(double d) noexcept {
  uint64_t u;
  std::memcpy(&u, &d, sizeof(u));
  return u;
}

uint32_t bits_of(float f) noexcept {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

bool same_bits(double a, double b) noexcept {
  return bits_of(a) == bits_of(b);
}

bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](float x, float y) {
              return bits_of(x) == bits_of(y);
            });
}

// now + ms, saturating at i64 max. Clamped at 0 so that a deadline can never
// collide with the no_deadline marker (-1).
int64_t deadline_after(int64_t now_ms, int64_t ms) noexcept {
  int64_t out;
  if (__builtin_add_overflow(now_ms, ms, &out))
    out = ms > 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  return std::max<int64_t>(out, 0);
}

int64_t remaining_ms(const entry& e, int64_t now_ms) noexcept {
  if (!e.has_deadline())
    return -1;
  int64_t out;
  if (__builtin_sub_overflow(e.deadline_ms, now_ms, &out))
    out = std::numeric_limits<int64_t>::max();
  return std::max<int64_t>(out, 0);
}

// -- snapshot value -> keyspace value ----------------------------------------

struct from_snapshot {
  value operator()(std::string&& s) const {
    return value{std::move(s)};
  }
  value operator()(snap::list&& l) const {
    return list_value(std::make_move_iterator(l.elements.begin()),
                      std::make_move_iterator(l.elements.end()));
  }
  value operator()(snap::sorted_set&& z) const {
    sorted_set out;
    for (auto& m : z.members)
      out.add(m.member, m.score);
    return out;
  }
  value operator()(snap::hash&& h) const {
    hash_value out;
    out.reserve(h.fields.size());
    // A duplicate field: the later one wins, as when the reference builds
    // its map.
    for (auto& f : h.fields)
      out.insert_or_assign(std::move(f.field), std::move(f.value));
    return out;
  }
  value operator()(snap::set&& s) const {
    set_value out;
    out.reserve(s.members.size());
    for (auto& m : s.members)
      out.insert(std::move(m));
    return out;
  }
  value operator()(snap::proto&& p) const {
    return proto_value{std::move(p.type_name), std::move(p.data)};
  }
  value operator()(snap::vector_set&& v) const {
    return vector_value{v.metric,        v.quantization, v.connectivity,
                        v.expansion_add, v.dim,          std::move(v.elements)};
  }
};

// -- keyspace value -> snapshot value ----------------------------------------

struct to_snapshot {
  snapshot_value operator()(const std::string& s) const {
    return s;
  }
  snapshot_value operator()(const list_value& l) const {
    return snap::list{std::vector<std::string>(l.begin(), l.end())};
  }
  snapshot_value operator()(const sorted_set& z) const {
    snap::sorted_set out;
    out.members.reserve(z.size());
    for (auto& [score, member] : z.by_score())
      out.members.push_back({score, member});
    return out;
  }
  snapshot_value operator()(const hash_value& h) const {
    snap::hash out;
    out.fields.reserve(h.size());
    for (auto& [field, val] : h)
      out.fields.push_back({field, val});
    return out;
  }
  snapshot_value operator()(const set_value& s) const {
    return snap::set{std::vector<std::string>(s.begin(), s.end())};
  }
  snapshot_value operator()(const proto_value& p) const {
    return snap::proto{p.type_name, p.data};
  }
  snapshot_value operator()(const vector_value& v) const {
    return snap::vector_set{v.metric, v.quantization, v.connectivity,
                            v.expansion_add, v.dim, v.elements};
  }
};

} // namespace

// -- score_order --------------------------------------------------------------

bool score_order::operator()(const std::pair<double, std::string>& a,
                             const std::pair<double, std::string>& b) const
  noexcept {
  bool a_nan = std::isnan(a.first);
  bool b_nan = std::isnan(b.first);
  if (a_nan != b_nan)
    return b_nan; // every number sorts before every NaN
  if (a_nan) {
    // NaNs have no numeric order; their bit patterns give a stable one.
    auto ab = bits_of(a.first);
    auto bb = bits_of(b.first);
    if (ab != bb)
      return ab < bb;
  } else {
    // -0.0 and 0.0 compare equal here and fall through to the member.
    if (a.first < b.first)
      return true;
    if (b.first < a.first)
      return false;
  }
  return a.second < b.second;
}

// -- sorted_set ---------------------------------------------------------------

bool sorted_set::add(const std::string& member, double score) {
  auto [it, inserted] = scores_.try_emplace(member, score);
  if (!inserted) {
    if (same_bits(it->second, score))
      return false;
    order_.erase({it->second, member});
    it->second = score;
  }
  order_.emplace(score, member);
  return inserted;
}

bool sorted_set::remove(const std::string& member) {
  auto it = scores_.find(member);
  if (it == scores_.end())
    return false;
  order_.erase({it->second, member});
  scores_.erase(it);
  return true;
}

const double* sorted_set::score(const std::string& member) const {
  auto it = scores_.find(member);
  return it == scores_.end() ? nullptr : &it->second;
}

bool operator==(const sorted_set& a, const sorted_set& b) {
  if (a.scores_.size() != b.scores_.size())
    return false;
  for (auto& [member, score] : a.scores_) {
    auto other = b.score(member);
    if (!other || !same_bits(score, *other))
      return false;
  }
  return true;
}

// -- value ---------------------------------------------------------------------

bool operator==(const value& a, const value& b) {
  if (a.index() != b.index())
    return false;
  return a.visit([&](const auto& x) {
    using kind = std::decay_t<decltype(x)>;
    return x == *b.get_if<kind>();
  });
}

// -- vector_value -------------------------------------------------------------

bool operator==(const vector_value& a, const vector_value& b) {
  auto same_element = [](const snap::vector_element& x,
                         const snap::vector_element& y) {
    return x.name == y.name && same_floats(x.vector, y.vector);
  };
  return a.metric == b.metric && a.quantization == b.quantization
         && a.connectivity == b.connectivity
         && a.expansion_add == b.expansion_add && a.dim == b.dim
         && a.elements.size() == b.elements.size()
         && std::equal(a.elements.begin(), a.elements.end(),
                       b.elements.begin(), same_element);
}

// -- keyspace -----------------------------------------------------------------

namespace {

// Epochs are unique across all keyspaces, so a segment's epoch says which
// keyspace (and which freeze() generation of it) owns it privately.
uint64_t next_epoch() noexcept {
  static std::atomic<uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

} // namespace

struct keyspace::view_token {
  std::shared_ptr<std::atomic<bool>> open;
  ~view_token() {
    // The holder released its segments before this runs (release()), so
    // this store publishes that the view has stopped reading them.
    if (open)
      open->store(false, std::memory_order_release);
  }
};

keyspace::keyspace() : epoch_(next_epoch()) {
}

keyspace::keyspace(const keyspace& other) : keyspace() {
  *this = other;
}

keyspace& keyspace::operator=(const keyspace& other) {
  if (this == &other)
    return *this;
  release();
  epoch_ = next_epoch();
  is_view_ = false;
  if (!other.segs_.empty()) {
    segs_.resize(segment_count);
    for (size_t i = 0; i < segment_count; ++i)
      if (auto& seg = other.segs_[i]; seg && !seg->map.empty())
        segs_[i] = std::make_shared<segment>(segment{seg->map, epoch_});
  }
  size_ = other.size_;
  return *this;
}

keyspace::keyspace(keyspace&& other) noexcept
  : segs_(std::move(other.segs_)),
    size_(other.size_),
    epoch_(other.epoch_),
    is_view_(other.is_view_),
    views_(std::move(other.views_)),
    token_(std::move(other.token_)) {
  other.segs_.clear();
  other.size_ = 0;
  other.epoch_ = next_epoch();
  other.is_view_ = false;
}

keyspace& keyspace::operator=(keyspace&& other) noexcept {
  if (this == &other)
    return *this;
  release();
  segs_ = std::move(other.segs_);
  size_ = other.size_;
  epoch_ = other.epoch_;
  is_view_ = other.is_view_;
  views_ = std::move(other.views_);
  token_ = std::move(other.token_);
  other.segs_.clear();
  other.size_ = 0;
  other.epoch_ = next_epoch();
  other.is_view_ = false;
  return *this;
}

keyspace::~keyspace() {
  release();
}

void keyspace::release() noexcept {
  // Segments first, then the token: see view_token.
  segs_.clear();
  size_ = 0;
  token_.reset();
}

keyspace keyspace::freeze() {
  keyspace view;
  view.segs_ = segs_;
  view.size_ = size_;
  view.is_view_ = true;
  if (is_view_) {
    view.token_ = token_; // still shares the same live keyspace's segments
  } else {
    auto flag = std::make_shared<std::atomic<bool>>(true);
    view.token_ = std::make_shared<view_token>();
    view.token_->open = flag;
    views_.push_back(std::move(flag));
  }
  // Every segment now belongs to an older epoch: the next write to one
  // clones it while the view is open.
  epoch_ = next_epoch();
  return view;
}

bool keyspace::has_open_views() {
  views_.erase(std::remove_if(views_.begin(), views_.end(),
                              [](const auto& flag) {
                                return !flag->load(std::memory_order_acquire);
                              }),
               views_.end());
  return !views_.empty();
}

size_t keyspace::hash_of(std::string_view key) noexcept {
  return std::hash<std::string_view>{}(key);
}

size_t keyspace::segment_of(size_t hash) noexcept {
  // High bits: the segment's own table indexes by the low bits.
  return (hash >> 20) & (segment_count - 1);
}

void keyspace::prefetch_value(const entry& e) noexcept {
  if (auto* s = e.val.get_if<std::string>())
    __builtin_prefetch(s->data());
}

keyspace::segment* keyspace::seg_at(size_t index) const noexcept {
  return segs_.empty() ? nullptr : segs_[index].get();
}

keyspace::segment& keyspace::writable(size_t index) {
  if (segs_.empty())
    segs_.resize(segment_count); // allocated on first write
  auto& seg = segs_[index];
  if (!seg) {
    seg = std::make_shared<segment>();
    seg->epoch = epoch_;
  } else if (seg->epoch != epoch_) {
    if (is_view_ || has_open_views())
      seg = std::make_shared<segment>(segment{seg->map, epoch_});
    else
      seg->epoch = epoch_; // every view is gone: ours alone again
  }
  return *seg;
}

const entry* keyspace::find(std::string_view key) const {
  auto h = hash_of(key);
  auto* seg = seg_at(segment_of(h));
  return seg ? seg->map.find(key, h) : nullptr;
}

void keyspace::prefetch(std::string_view key) const noexcept {
  auto h = hash_of(key);
  if (auto* seg = seg_at(segment_of(h)))
    seg->map.prefetch(h);
}

entry* keyspace::find(std::string_view key) {
  auto h = hash_of(key);
  auto idx = segment_of(h);
  auto* seg = seg_at(idx);
  if (!seg)
    return nullptr;
  auto* e = seg->map.find(key, h);
  if (!e || seg->epoch == epoch_)
    return e; // a miss must not clone anything
  return writable(idx).map.find(key, h); // the clone's copy
}

std::pair<entry*, bool> keyspace::try_emplace(std::string_view key) {
  auto h = hash_of(key);
  auto [e, inserted] = writable(segment_of(h)).map.try_emplace(key, h);
  size_ += inserted;
  return {e, inserted};
}

entry& keyspace::put(std::string_view key, entry e) {
  auto h = hash_of(key);
  auto [stored, inserted]
    = writable(segment_of(h)).map.insert_or_assign(key, h, std::move(e));
  size_ += inserted;
  return *stored;
}

bool keyspace::erase(std::string_view key) {
  auto h = hash_of(key);
  auto idx = segment_of(h);
  auto* seg = seg_at(idx);
  if (!seg || !seg->map.find(key, h))
    return false;
  writable(idx).map.erase(key, h);
  --size_;
  return true;
}

bool keyspace::rename(std::string_view from, std::string_view to) {
  auto from_hash = hash_of(from);
  auto from_idx = segment_of(from_hash);
  auto* seg = seg_at(from_idx);
  if (!seg || !seg->map.find(from, from_hash))
    return false;
  if (from == to)
    return true;
  // `from` or `to` may point into a key of this keyspace, which erase(to)
  // frees: use only the copy from here on.
  small_key new_key{to};
  auto to_hash = hash_of(new_key.view());
  erase(new_key.view());
  auto node = writable(from_idx).map.extract(from, from_hash);
  node->first = std::move(new_key);
  writable(segment_of(to_hash)).map.insert(std::move(node), to_hash);
  return true;
}

size_t keyspace::remove_expired(int64_t now_ms) {
  auto due = [now_ms](const entry& e) {
    return e.has_deadline() && e.deadline_ms <= now_ms;
  };
  size_t removed = 0;
  for (size_t i = 0; i < segs_.size(); ++i) {
    auto* seg = segs_[i].get();
    if (!seg || !seg->map.any_of(due))
      continue; // untouched segments stay shared
    removed += writable(i).map.erase_if(due);
  }
  size_ -= removed;
  return removed;
}

void keyspace::reserve(size_t n) {
  if (n < segment_count)
    return; // growing on demand is cheap; 1024 empty tables are not
  auto per_segment = n / segment_count + 1;
  for (size_t i = 0; i < segment_count; ++i) {
    auto* seg = seg_at(i);
    if (!seg || seg->epoch == epoch_)
      writable(i).map.reserve(per_segment);
  }
}

size_t keyspace::segment_index(std::string_view key) noexcept {
  return segment_of(hash_of(key));
}

bool keyspace::move_segments_to(keyspace& to, size_t part, size_t parts) {
  if (parts == 0 || part >= parts || &to == this || is_view_ || to.is_view_
      || has_open_views() || to.has_open_views())
    return false;
  if (segs_.empty())
    return true;
  if (to.segs_.empty())
    to.segs_.resize(segment_count);
  for (size_t i = part; i < segment_count; i += parts)
    if (to.segs_[i] && !to.segs_[i]->map.empty())
      return false;
  for (size_t i = part; i < segment_count; i += parts) {
    auto& seg = segs_[i];
    if (!seg)
      continue;
    auto keys = seg->map.size();
    seg->epoch = to.epoch_; // no view shares it (checked above)
    to.segs_[i] = std::move(seg);
    size_ -= keys;
    to.size_ += keys;
  }
  return true;
}

void keyspace::clear() noexcept {
  segs_.clear();
  size_ = 0;
}

std::vector<std::string> keyspace::sorted_keys() const {
  std::vector<std::string> out;
  out.reserve(size_);
  for_each([&](std::string_view key, const entry&) { out.emplace_back(key); });
  std::sort(out.begin(), out.end());
  return out;
}

bool operator==(const keyspace& a, const keyspace& b) {
  if (a.size() != b.size())
    return false;
  bool same = true;
  a.for_each([&](std::string_view key, const entry& e) {
    if (same) {
      auto* other = b.find(key);
      same = other && *other == e;
    }
  });
  return same;
}

// -- conversions --------------------------------------------------------------

int64_t deadline_from_relative(int64_t now_ms, int64_t expire_ms) noexcept {
  return expire_ms < 0 ? no_deadline : deadline_after(now_ms, expire_ms);
}

// -- snapshot entries ---------------------------------------------------------

entry to_entry(snapshot_entry&& e, int64_t now_ms) {
  entry out;
  out.val = std::visit(from_snapshot{}, std::move(e.value));
  out.deadline_ms = deadline_from_relative(now_ms, e.expire_ms);
  return out;
}

snapshot_entry to_snapshot_entry(std::string_view key, const entry& e,
                                 int64_t now_ms) {
  return snapshot_entry{std::string{key}, e.val.visit(to_snapshot{}),
                        remaining_ms(e, now_ms)};
}

void encode_entry(std::string& out, std::string_view key, const entry& e,
                  int64_t now_ms) {
  if (auto* s = e.val.get_if<std::string>()) {
    // The common case, without copying the value into a snapshot_entry:
    // the same bytes as the general path (tests/keyspace.cpp checks).
    // Grown once, then filled through a pointer: one capacity check per
    // entry instead of one per field (the snapshot write's hot loop).
    auto pos = out.size();
    out.resize(pos + 4 + key.size() + 1 + 4 + s->size() + 8);
    unchecked_writer w{out.data() + pos};
    w.put_bytes(key);
    w.put(static_cast<uint8_t>(value_type::string));
    w.put_bytes(*s);
    w.put(remaining_ms(e, now_ms));
    return;
  }
  encode_entry(out, to_snapshot_entry(key, e, now_ms));
}

int64_t unix_now_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

} // namespace ember::codec
