// Snapshots: golden files, byte-exact rewrites, round trips, encryption,
// damage detection and atomic replacement under I/O faults and crashes.
#define CAF_SUITE snapshot
#include "caf/test/unit_test_impl.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <thread>

#include "codec/background_appender.hpp"
#include "codec/byte_writer.hpp"
#include "codec/crc32.hpp"
#include "codec/encryption_key.hpp"
#include "codec/fault_injection_file_system.hpp"
#include "codec/file_system.hpp"
#include "codec/format.hpp"
#include "codec/snapshot_entry.hpp"
#include "codec/snapshot_reader.hpp"
#include "codec/snapshot_writer.hpp"
#include "tests/test_support.hpp"

using namespace ember::codec;
using namespace ember::test;
using nlohmann::json;

// -- allocation probe ---------------------------------------------------------
//
// Replaces the global allocator for this test binary so tests can assert
// that hostile lengths and counts never lead to a large allocation.

namespace {

std::atomic<bool> probing{false};
std::atomic<size_t> largest_alloc{0};

void* checked_alloc(size_t n) {
  if (probing.load(std::memory_order_relaxed)) {
    auto cur = largest_alloc.load(std::memory_order_relaxed);
    while (n > cur && !largest_alloc.compare_exchange_weak(cur, n)) {
    }
  }
  if (auto p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc{};
}

// Largest single allocation made while `fn` runs.
template <class Fn>
size_t largest_allocation_during(Fn fn) {
  largest_alloc = 0;
  probing = true;
  fn();
  probing = false;
  return largest_alloc;
}

} // namespace

void* operator new(size_t n) {
  return checked_alloc(n);
}
void* operator new[](size_t n) {
  return checked_alloc(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}

// -- helpers --------------------------------------------------------------------

namespace {

file_system& posix() {
  return posix_file_system();
}

std::string kind(const read_end& e) {
  return e.name();
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string hex_digits(uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%0*llx", digits,
                static_cast<unsigned long long>(v));
  return buf;
}

double f64_bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

float f32_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

template <class T>
uint64_t bits_of(T x) {
  std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t> b;
  std::memcpy(&b, &x, sizeof(b));
  return b;
}

std::string encoded(const snapshot_entry& e) {
  std::string out;
  encode_entry(out, e);
  return out;
}

std::vector<std::string> encoded(const std::vector<snapshot_entry>& es) {
  std::vector<std::string> out;
  for (auto& e : es)
    out.push_back(encoded(e));
  return out;
}

snapshot_entry entry(std::string key, snapshot_value v, int64_t ttl = -1) {
  snapshot_entry e;
  e.key = std::move(key);
  e.value = std::move(v);
  e.expire_ms = ttl;
  return e;
}

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i)
    s.push_back(static_cast<char>(i));
  return s;
}

// Writes `entries` as a committed snapshot.
status write_snapshot(file_system& fs, const std::string& path,
                      const std::vector<snapshot_entry>& entries,
                      uint16_t shard = 0, const encryption_key* key = nullptr) {
  auto w = snapshot_writer::begin(fs, path, shard, key);
  if (!w)
    return std::move(w).err();
  for (auto& e : entries)
    if (auto st = w->add(e); !st)
      return st;
  auto stats = w->commit();
  if (!stats)
    return std::move(stats).err();
  return {};
}

struct read_back {
  std::optional<error> open_error;
  std::vector<snapshot_entry> entries;
  std::vector<entry_info> infos;
  read_end end;
  uint16_t shard = 0;
  std::string diagnosis;
};

read_back read_snapshot(file_system& fs, const std::string& path,
                        const encryption_key* key = nullptr) {
  read_back out;
  auto r = snapshot_reader::open(fs, path, key);
  if (!r) {
    out.open_error = r.err();
    return out;
  }
  out.shard = r->shard_id();
  snapshot_entry e;
  while (r->next(e)) {
    out.entries.push_back(e);
    out.infos.push_back(r->info());
  }
  out.end = r->end();
  out.diagnosis = r->diagnosis();
  return out;
}

// True when `path` reads cleanly and holds exactly `want`.
bool loads_as(const std::string& path,
              const std::vector<snapshot_entry>& want,
              const encryption_key* key = nullptr) {
  auto got = read_snapshot(posix(), path, key);
  return !got.open_error && got.end.kind == read_end::clean
         && encoded(got.entries) == encoded(want);
}

bool exists(const std::string& path) {
  return std::filesystem::exists(path);
}

// Whether a reader (plus recovery's shard check: the header's shard id is
// outside the footer CRC) reports damage in `path`.
bool damage_reported(const std::string& path, const encryption_key* key,
                     uint16_t shard) {
  auto got = read_snapshot(posix(), path, key);
  return got.open_error || got.end.kind != read_end::clean
         || got.shard != shard;
}

// -- golden listings ------------------------------------------------------------

// Drops the listing fields that are informational only.
json strip_informational(json j) {
  if (j.is_object()) {
    for (auto name : {"index", "score_text", "vector_text"})
      j.erase(name);
    for (auto& [k, v] : j.items())
      v = strip_informational(v);
  } else if (j.is_array()) {
    for (auto& v : j)
      v = strip_informational(v);
  }
  return j;
}

json hex_list(const std::vector<std::string>& v) {
  auto out = json::array();
  for (auto& s : v)
    out.push_back(to_hex(s));
  return out;
}

// The value fields of an entry the way the golden listings spell them.
void describe_value(json& j, const snapshot_value& value) {
  std::visit(
    [&j](const auto& v) {
      using T = std::decay_t<decltype(v)>;
      if constexpr (std::is_same_v<T, std::string>) {
        j["value_hex"] = to_hex(v);
      } else if constexpr (std::is_same_v<T, snap::list>) {
        j["elements_hex"] = hex_list(v.elements);
      } else if constexpr (std::is_same_v<T, snap::sorted_set>) {
        auto& a = j["members"] = json::array();
        for (auto& m : v.members)
          a.push_back({{"score_bits", hex_digits(bits_of(m.score), 16)},
                       {"member", m.member}});
      } else if constexpr (std::is_same_v<T, snap::hash>) {
        auto& a = j["fields"] = json::array();
        for (auto& f : v.fields)
          a.push_back({{"field", f.field}, {"value_hex", to_hex(f.value)}});
      } else if constexpr (std::is_same_v<T, snap::set>) {
        j["members"] = v.members;
      } else if constexpr (std::is_same_v<T, snap::proto>) {
        j["type_name"] = v.type_name;
        j["data_hex"] = to_hex(v.data);
      } else {
        j["metric"] = v.metric;
        j["quantization"] = v.quantization;
        j["connectivity"] = v.connectivity;
        j["expansion_add"] = v.expansion_add;
        j["dim"] = v.dim;
        auto& a = j["elements"] = json::array();
        for (auto& el : v.elements) {
          auto floats = json::array();
          for (auto x : el.vector)
            floats.push_back(hex_digits(bits_of(x), 8));
          a.push_back({{"name", el.name}, {"vector_f32_bits", floats}});
        }
      }
    },
    value);
}

json listing_of(const snapshot_entry& e, const entry_info& info,
                uint8_t version) {
  json j;
  j["key"] = e.key;
  j["type"] = type_name(static_cast<uint8_t>(e.value.index()));
  j["expire_ms"] = e.expire_ms;
  j["file_offset"] = info.offset;
  j["byte_size"] = info.size;
  if (version == format_v3) {
    j["nonce_hex"] = to_hex(info.nonce);
    j["ciphertext_len"] = info.ciphertext_len;
    j["plaintext_size"] = info.plaintext_size;
  }
  describe_value(j, e.value);
  return j;
}

bool build_supports(const json& manifest_file) {
  if (!manifest_file.contains("requires_features"))
    return true;
  for (auto& f : manifest_file["requires_features"])
    if ((f == "vector" && !with_vector) || (f == "protobuf" && !with_proto))
      return false;
  return true;
}

std::vector<json> golden_snapshots() {
  std::vector<json> out;
  auto manifest = golden_json("MANIFEST.json");
  for (auto& f : manifest["files"])
    if (f["kind"] == "snapshot")
      out.push_back(f);
  return out;
}

// A build without the optional kinds must refuse them clearly at entry 0.
void check_feature_rejected(snapshot_reader& r, const std::string& name) {
  snapshot_entry e;
  CAF_CHECK(!r.next(e));
  CAF_CHECK_EQUAL(kind(r.end()), "corrupt");
  CAF_CHECK(r.end().code == errc::invalid_data);
  CAF_CHECK_EQUAL(r.end().index, 0u);
  CAF_CHECK(contains(r.end().reason, "-DEMBER_WITH_VECTOR=ON"));
  CAF_CHECK(contains(r.diagnosis(), name));
}

void check_golden_end(snapshot_reader& r, const json& listing,
                      const json& manifest_file) {
  auto& end = listing["end"];
  auto outcome = end["outcome"].get<std::string>();
  const auto& got = r.end();
  auto path = golden(manifest_file["name"].get<std::string>());
  if (outcome == "ok_footer_verified") {
    CAF_CHECK_EQUAL(kind(got), "clean");
    CAF_CHECK(r.diagnosis().empty());
    for (auto* src : {&manifest_file, &end})
      if (src->contains("footer_crc32"))
        CAF_CHECK_EQUAL(hex_digits(r.stored_footer(), 8),
                        (*src)["footer_crc32"].get<std::string>());
    return;
  }
  CAF_MESSAGE(r.diagnosis());
  CAF_CHECK_EQUAL(kind(got), "corrupt");
  CAF_CHECK_EQUAL(std::string{reference_kind(got.code)},
                  end["error_kind"].get<std::string>());
  CAF_CHECK(contains(r.diagnosis(), path));
  CAF_CHECK(contains(r.diagnosis(), "on-corruption=salvage"));
  if (outcome == "error_in_footer") {
    CAF_CHECK(got.code == errc::checksum_mismatch);
    CAF_CHECK_EQUAL(got.index, uint64_t{r.entry_count()});
    CAF_CHECK_EQUAL(got.offset, r.file_size() - 4);
    if (end.contains("stored_crc32")) {
      auto stored = end["stored_crc32"].get<std::string>();
      auto computed = end["computed_crc32"].get<std::string>();
      CAF_CHECK_EQUAL(hex_digits(r.stored_footer(), 8), stored);
      CAF_CHECK_EQUAL(hex_digits(r.computed_footer(), 8), computed);
      CAF_CHECK(contains(got.reason, stored));
      CAF_CHECK(contains(got.reason, computed));
    }
    return;
  }
  CAF_CHECK_EQUAL(outcome, "error");
  auto& entries = listing["entries"];
  CAF_CHECK_EQUAL(got.index, end["error_at_entry_index"].get<uint64_t>());
  // The failing entry starts where the last listed one ends.
  uint64_t expect_offset = 11;
  if (!entries.empty())
    expect_offset = entries.back()["file_offset"].get<uint64_t>()
                    + entries.back()["byte_size"].get<uint64_t>();
  CAF_CHECK_EQUAL(got.offset, expect_offset);
}

void check_golden_snapshot(const json& manifest_file) {
  auto name = manifest_file["name"].get<std::string>();
  CAF_MESSAGE("golden " << name);
  auto listing = golden_json(name + ".expected.json");
  std::optional<encryption_key> key;
  if (listing.contains("encryption_key_file")) {
    auto k = encryption_key::load(
      posix(), golden(listing["encryption_key_file"].get<std::string>()));
    CAF_REQUIRE(k);
    key.emplace(std::move(*k));
  }
  auto r = snapshot_reader::open(posix(), golden(name), key ? &*key : nullptr);
  auto& end = listing["end"];
  if (!r) {
    // Rejected when opening: no entries, no index.
    CAF_CHECK_EQUAL(end["outcome"].get<std::string>(), "error");
    CAF_CHECK(!end.contains("error_at_entry_index"));
    CAF_CHECK_EQUAL(std::string{reference_kind(r.err().code)},
                    end["error_kind"].get<std::string>());
    CAF_CHECK(listing["entries"].empty());
    CAF_CHECK(contains(r.err().message, golden(name)));
    return;
  }
  auto& header = listing["header"];
  CAF_CHECK_EQUAL(int{r->version()}, header["version"].get<int>());
  CAF_CHECK_EQUAL(int{r->shard_id()}, header["shard_id"].get<int>());
  CAF_CHECK_EQUAL(r->entry_count(), header["entry_count"].get<uint32_t>());
  if (!build_supports(manifest_file)) {
    check_feature_rejected(*r, golden(name));
    return;
  }
  snapshot_entry e;
  for (auto& want : listing["entries"]) {
    CAF_REQUIRE(r->next(e));
    CAF_CHECK_EQUAL(listing_of(e, r->info(), r->version()).dump(),
                    strip_informational(want).dump());
  }
  CAF_CHECK(!r->next(e));
  CAF_CHECK(!r->next(e)); // the end is sticky
  check_golden_end(*r, listing, manifest_file);
}

// Reads a golden snapshot and writes its entries back with our writer.
void check_rewrite_is_byte_exact(const std::string& name, bool encoded_form) {
  CAF_MESSAGE("rewrite " << name << (encoded_form ? " (add_encoded)" : ""));
  auto r = snapshot_reader::open(posix(), golden(name));
  CAF_REQUIRE(r);
  temp_dir dir;
  auto path = dir.file("shard-0.snap");
  auto w = snapshot_writer::begin(posix(), path, r->shard_id());
  CAF_REQUIRE(w);
  snapshot_entry e;
  while (r->next(e)) {
    auto st = encoded_form ? w->add_encoded(encoded(e)) : w->add(e);
    CAF_REQUIRE(st);
  }
  CAF_REQUIRE(r->end().kind == read_end::clean);
  auto stats = w->commit();
  CAF_REQUIRE(stats);
  auto want = slurp(golden(name));
  auto got = slurp(path);
  CAF_CHECK_EQUAL(stats->entries, uint64_t{r->entry_count()});
  CAF_CHECK_EQUAL(stats->bytes, uint64_t{want.size()});
  CAF_CHECK_EQUAL(got.size(), want.size());
  auto diff = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
  if (diff.first != got.end())
    CAF_FAIL(name << " differs first at byte " << (diff.first - got.begin()));
  CAF_CHECK(got == want);
  CAF_CHECK(!exists(path + ".tmp"));
}

// -- test data ----------------------------------------------------------------

// Every value type with its edge cases.
std::vector<snapshot_entry> edge_entries() {
  auto bin = all_bytes();
  std::string big(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 31 + 7);
  std::vector<snapshot_entry> es;
  es.push_back(entry("", std::string{}));
  es.push_back(entry("bin", bin, 0));
  es.push_back(entry("big", big, 1)); // crosses the 1 MiB write chunk
  es.push_back(entry("ttl:max", std::string{"v"}, INT64_MAX));
  es.push_back(entry("ttl:min", std::string{"v"}, INT64_MIN));
  es.push_back(entry("ttl:neg", std::string{"v"}, -1000));
  es.push_back(entry("l:empty", snap::list{}));
  es.push_back(entry("l", snap::list{{"", "a", bin}}, 5000));
  es.push_back(entry("z:empty", snap::sorted_set{}));
  snap::sorted_set z;
  for (uint64_t b : {0x7ff8000000000001ull, 0xfff8000000000000ull,
                     0x8000000000000000ull, 0x0000000000000000ull,
                     0x7ff0000000000000ull, 0xfff0000000000000ull,
                     0x0000000000000001ull, 0x7fefffffffffffffull})
    z.members.push_back({f64_bits(b), "m" + std::to_string(z.members.size())});
  z.members.push_back({1.5, ""});
  es.push_back(entry("z", z));
  es.push_back(entry("h:empty", snap::hash{}));
  es.push_back(entry(
    "h", snap::hash{{{"", ""}, {"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", bin}}}));
  es.push_back(entry("s:empty", snap::set{}));
  es.push_back(entry("s", snap::set{{"", "\xf0\x9f\x8e\x89", "red"}}, 99999));
  if (with_proto) {
    es.push_back(entry("p:empty", snap::proto{}, 0));
    es.push_back(entry("p", snap::proto{"ember.test.v1.Person", "\x0a\x03" "Ada"}));
  }
  if (with_vector) {
    snap::vector_set v;
    v.metric = 2;
    v.quantization = 1;
    v.connectivity = 16;
    v.expansion_add = 64;
    v.dim = 3;
    v.elements.push_back({"a", {1.0f, 2.0f, 3.0f}});
    v.elements.push_back(
      {"odd", {f32_bits(0x7fc00001), f32_bits(0x80000000), f32_bits(0xff800000)}});
    es.push_back(entry("v", v, 1000));
    es.push_back(entry("v:empty", snap::vector_set{}));
    snap::vector_set zero_dim;
    zero_dim.elements.push_back({"x", {}});
    es.push_back(entry("v:zero-dim", zero_dim));
  }
  return es;
}

// A few small entries for the byte-by-byte damage tests.
std::vector<snapshot_entry> small_entries() {
  std::vector<snapshot_entry> es;
  es.push_back(entry("a", std::string{"1"}));
  es.push_back(entry("l", snap::list{{"x", ""}}, 1000));
  es.push_back(entry("z", snap::sorted_set{{{-0.0, "m"}}}));
  es.push_back(entry("h", snap::hash{{{"f", "v"}}}));
  es.push_back(entry("s", snap::set{{"m"}}, 0));
  return es;
}

// Random entries of every type this build supports (fixed seed).
class entry_generator {
public:
  explicit entry_generator(uint64_t seed) : rng_(seed) {
  }

  snapshot_entry next() {
    auto types = with_vector ? 7u : with_proto ? 6u : 5u;
    auto type = pick(types);
    if (type == 6 && !with_proto)
      type = pick(5);
    snapshot_entry e;
    e.key = text(24);
    e.expire_ms = ttl();
    switch (type) {
      case 0: e.value = binary(64); break;
      case 1: e.value = snap::list{many([&] { return binary(16); })}; break;
      case 2:
        e.value = snap::sorted_set{many([&] {
          return scored_member{f64_bits(rng_()), text(12)};
        })};
        break;
      case 3:
        e.value = snap::hash{
          many([&] { return field_value{text(12), binary(16)}; })};
        break;
      case 4: e.value = snap::set{many([&] { return text(12); })}; break;
      case 5: e.value = snap::proto{text(20), binary(32)}; break;
      default: e.value = vector_set(); break;
    }
    if (type == 5 && !with_proto)
      e.value = binary(8);
    return e;
  }

private:
  uint32_t pick(uint32_t n) {
    return static_cast<uint32_t>(rng_() % n);
  }

  int64_t ttl() {
    switch (pick(5)) {
      case 0: return -1;
      case 1: return 0;
      case 2: return INT64_MAX;
      case 3: return -static_cast<int64_t>(pick(1u << 30));
      default: return static_cast<int64_t>(rng_() >> 1);
    }
  }

  std::string binary(size_t max) {
    std::string s(pick(static_cast<uint32_t>(max + 1)), '\0');
    for (auto& c : s)
      c = static_cast<char>(rng_());
    return s;
  }

  // Valid UTF-8 of one- to four-byte characters.
  std::string text(size_t max_chars) {
    static const char* pieces[] = {"a", "Z", "0", " ", ":", "\x01",
                                   "\xc3\xa9", "\xd0\xba", "\xe2\x82\xac",
                                   "\xf0\x9f\x8e\x89"};
    std::string s;
    auto n = pick(static_cast<uint32_t>(max_chars + 1));
    for (uint32_t i = 0; i < n; ++i)
      s += pieces[pick(std::size(pieces))];
    return s;
  }

  template <class Make>
  std::vector<std::invoke_result_t<Make&>> many(Make make) {
    std::vector<std::invoke_result_t<Make&>> v;
    for (auto n = pick(9); n > 0; --n)
      v.push_back(make());
    return v;
  }

  snap::vector_set vector_set() {
    snap::vector_set v;
    v.metric = static_cast<uint8_t>(pick(3));
    v.quantization = static_cast<uint8_t>(pick(3));
    v.connectivity = static_cast<uint32_t>(rng_());
    v.expansion_add = static_cast<uint32_t>(rng_());
    v.dim = pick(9);
    v.elements = many([&] {
      snap::vector_element el{text(8), {}};
      for (uint32_t i = 0; i < v.dim; ++i)
        el.vector.push_back(f32_bits(static_cast<uint32_t>(rng_())));
      return el;
    });
    return v;
  }

  std::mt19937_64 rng_;
};

void check_round_trip(const std::vector<snapshot_entry>& es,
                      const encryption_key* key) {
  temp_dir dir;
  auto path = dir.file("shard-9.snap");
  auto w = snapshot_writer::begin(posix(), path, 9, key);
  CAF_REQUIRE(w);
  for (auto& e : es)
    CAF_REQUIRE(w->add(e));
  auto stats = w->commit();
  CAF_REQUIRE(stats);
  CAF_CHECK_EQUAL(stats->entries, uint64_t{es.size()});
  CAF_CHECK_EQUAL(stats->bytes, uint64_t{std::filesystem::file_size(path)});
  auto got = read_snapshot(posix(), path, key);
  CAF_REQUIRE(!got.open_error);
  CAF_CHECK_EQUAL(kind(got.end), "clean");
  CAF_CHECK_EQUAL(got.shard, 9u);
  CAF_CHECK_EQUAL(got.entries.size(), es.size());
  CAF_CHECK(encoded(got.entries) == encoded(es));
  // Entries tile the file from the header to the footer.
  uint64_t at = 11;
  bool tiled = true;
  for (size_t i = 0; i < got.infos.size(); ++i) {
    auto& info = got.infos[i];
    tiled = tiled && info.offset == at;
    if (key) {
      tiled = tiled && info.nonce.size() == nonce_size
              && info.ciphertext_len == info.plaintext_size + gcm_tag_size
              && info.size == 16u + info.ciphertext_len
              && info.plaintext_size == encoded(got.entries[i]).size();
    }
    at += info.size;
  }
  CAF_CHECK(tiled);
  CAF_CHECK_EQUAL(at + 4, stats->bytes);
}

// A hand-made snapshot: header with `count`, then `body` (no footer unless
// the caller puts one in `body`).
std::string raw_snapshot(uint8_t version, uint32_t count,
                         const std::string& body) {
  std::string s{snapshot_magic};
  put_u8(s, version);
  put_u16(s, 0);
  put_u32(s, count);
  return s + body;
}

// Reads a hand-made snapshot and returns how it ended.
read_end end_of(const std::string& content,
                const encryption_key* key = nullptr) {
  temp_dir dir;
  auto path = dir.file("hand.snap");
  spit(path, content);
  auto got = read_snapshot(posix(), path, key);
  if (got.open_error)
    CAF_FAIL("unexpected open error: " << got.open_error->message);
  return got.end;
}

} // namespace

// -- golden files ------------------------------------------------------------------

CAF_TEST(type names) {
  const char* want[] = {"string", "list",  "sorted_set", "hash",
                        "set",    "proto", "vector"};
  for (uint8_t t = 0; t < 7; ++t)
    CAF_CHECK_EQUAL(std::string{type_name(t)}, want[t]);
  CAF_CHECK_EQUAL(std::string{type_name(7)}, "unknown");
}

CAF_TEST(every golden snapshot reads as its listing says) {
  auto files = golden_snapshots();
  CAF_REQUIRE(files.size() >= 14u);
  for (auto& f : files)
    check_golden_snapshot(f);
}

CAF_TEST(golden snapshots rewritten by our writer are byte identical) {
  for (bool encoded_form : {false, true}) {
    check_rewrite_is_byte_exact("snapshot_v2_all_types.snap", encoded_form);
    check_rewrite_is_byte_exact("shard-3.snap", encoded_form);
    check_rewrite_is_byte_exact("snapshot_v2_empty.snap", encoded_form);
    if (with_proto && with_vector)
      check_rewrite_is_byte_exact("snapshot_v2_feature_types.snap",
                                  encoded_form);
  }
}

CAF_TEST(the encrypted golden snapshot carries the plaintext entries) {
  auto key = encryption_key::load(posix(), golden("key.bin"));
  CAF_REQUIRE(key);
  auto plain = read_snapshot(posix(), golden("snapshot_v2_all_types.snap"));
  auto sealed
    = read_snapshot(posix(), golden("snapshot_encrypted_v3.snap"), &*key);
  CAF_CHECK_EQUAL(kind(sealed.end), "clean");
  CAF_CHECK(encoded(sealed.entries) == encoded(plain.entries));
}

CAF_TEST(without the optional kinds the feature snapshot is refused) {
  if (with_proto && with_vector) {
    CAF_MESSAGE("built with proto and vector: nothing to refuse");
    return;
  }
  auto r = snapshot_reader::open(posix(),
                                 golden("snapshot_v2_feature_types.snap"));
  CAF_REQUIRE(r);
  check_feature_rejected(*r, golden("snapshot_v2_feature_types.snap"));
  // And the writer refuses to produce what this build cannot read.
  temp_dir dir;
  auto w = snapshot_writer::begin(posix(), dir.file("s.snap"), 0);
  CAF_REQUIRE(w);
  if (!with_vector) {
    auto st = w->add(entry("v", snap::vector_set{}));
    CAF_CHECK(!st && st.err().code == errc::invalid_data);
    CAF_CHECK(!st && contains(st.err().message, "-DEMBER_WITH_VECTOR=ON"));
  }
  if (!with_proto) {
    auto st = w->add(entry("p", snap::proto{}));
    CAF_CHECK(!st && st.err().code == errc::invalid_data);
    CAF_CHECK(!st && contains(st.err().message, "-DEMBER_WITH_PROTO=ON"));
  }
}

// -- round trips -----------------------------------------------------------------

CAF_TEST(every value type round trips through encode and decode) {
  for (auto& e : edge_entries()) {
    auto bytes = encoded(e);
    byte_reader in{bytes};
    snapshot_entry back;
    CAF_REQUIRE(decode_entry(in, format_v2, back));
    CAF_CHECK_EQUAL(in.remaining(), 0u);
    CAF_CHECK(encoded(back) == bytes);
    CAF_CHECK_EQUAL(validate(e), "");
  }
}

CAF_TEST(edge values round trip through files plain and encrypted) {
  auto key = encryption_key::generate();
  check_round_trip(edge_entries(), nullptr);
  check_round_trip(edge_entries(), &key);
}

CAF_TEST(thousands of random entries round trip plain and encrypted) {
  entry_generator gen{20240611};
  std::vector<snapshot_entry> es;
  for (int i = 0; i < 3000; ++i)
    es.push_back(gen.next());
  for (auto& e : es)
    CAF_REQUIRE_EQUAL(validate(e), "");
  auto key = encryption_key::generate();
  check_round_trip(es, nullptr);
  check_round_trip(es, &key);
  check_round_trip({}, &key);
}

CAF_TEST(a v1 entry decodes as a string) {
  std::string v1;
  put_bytes(v1, "k");
  put_bytes(v1, "value");
  put_i64(v1, 42);
  byte_reader in{v1};
  snapshot_entry e;
  CAF_REQUIRE(decode_entry(in, format_v1, e));
  CAF_CHECK_EQUAL(e.key, "k");
  CAF_CHECK_EQUAL(std::get<std::string>(e.value), "value");
  CAF_CHECK_EQUAL(e.expire_ms, 42);
  byte_reader in3{v1};
  CAF_CHECK(!decode_entry(in3, format_v3, e)); // v3 entries are sealed
}

// -- encryption ------------------------------------------------------------------

CAF_TEST(a v2 file reads with a key and a v3 file needs the right key) {
  temp_dir dir;
  auto key = encryption_key::generate();
  auto other = encryption_key::generate();
  auto plain = dir.file("plain.snap");
  auto sealed = dir.file("sealed.snap");
  CAF_REQUIRE(write_snapshot(posix(), plain, small_entries()));
  CAF_REQUIRE(write_snapshot(posix(), sealed, small_entries(), 0, &key));
  CAF_CHECK_EQUAL(int{slurp(plain)[4]}, 2);
  CAF_CHECK_EQUAL(int{slurp(sealed)[4]}, 3);
  CAF_CHECK(loads_as(plain, small_entries(), &key));
  CAF_CHECK(loads_as(sealed, small_entries(), &key));
  // No key: refused when opening.
  auto r = snapshot_reader::open(posix(), sealed);
  CAF_REQUIRE(!r);
  CAF_CHECK(r.err().code == errc::encryption_required);
  CAF_CHECK(contains(r.err().message, sealed));
  CAF_CHECK(contains(r.err().message, "no encryption key was provided"));
  // Wrong key: the first entry fails to decrypt.
  auto wrong = read_snapshot(posix(), sealed, &other);
  CAF_CHECK(wrong.entries.empty());
  CAF_CHECK_EQUAL(kind(wrong.end), "corrupt");
  CAF_CHECK(wrong.end.code == errc::decryption_failed);
  CAF_CHECK_EQUAL(wrong.end.index, 0u);
  CAF_CHECK_EQUAL(wrong.end.offset, 11u);
  CAF_CHECK_EQUAL(wrong.end.reason,
                  "decryption failed (wrong key or tampered data)");
  CAF_CHECK(contains(wrong.diagnosis, "key"));
}

CAF_TEST(one tampered ciphertext byte fails decryption at that entry) {
  temp_dir dir;
  auto key = encryption_key::generate();
  auto path = dir.file("sealed.snap");
  CAF_REQUIRE(write_snapshot(posix(), path, small_entries(), 0, &key));
  auto good = read_snapshot(posix(), path, &key);
  CAF_REQUIRE_EQUAL(good.infos.size(), small_entries().size());
  auto target = good.infos[2];
  auto bytes = slurp(path);
  bytes[target.offset + 16 + 1] ^= 0x20; // inside the ciphertext
  spit(path, bytes);
  auto bad = read_snapshot(posix(), path, &key);
  CAF_CHECK_EQUAL(bad.entries.size(), 2u);
  CAF_CHECK_EQUAL(kind(bad.end), "corrupt");
  CAF_CHECK(bad.end.code == errc::decryption_failed);
  CAF_CHECK_EQUAL(bad.end.index, 2u);
  CAF_CHECK_EQUAL(bad.end.offset, target.offset);
}

// -- damage -------------------------------------------------------------------------

CAF_TEST(every single bit flip is reported as damage) {
  auto key = encryption_key::generate();
  const encryption_key* keys[] = {nullptr, &key};
  for (auto k : keys) {
    temp_dir dir;
    auto path = dir.file("shard-7.snap");
    CAF_REQUIRE(write_snapshot(posix(), path, small_entries(), 7, k));
    auto good = slurp(path);
    CAF_REQUIRE(!damage_reported(path, k, 7));
    auto flipped = dir.file("flipped.snap");
    size_t missed = 0;
    for (size_t i = 0; i < good.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        auto bad = good;
        bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
        spit(flipped, bad);
        if (!damage_reported(flipped, k, 7)) {
          ++missed;
          CAF_MESSAGE("undetected flip of bit " << bit << " at byte " << i);
        }
      }
    }
    CAF_CHECK_EQUAL(missed, 0u);
    CAF_MESSAGE((k ? "v3: " : "v2: ") << good.size() * 8 << " flips");
  }
}

CAF_TEST(a snapshot cut at any offset is never clean) {
  auto key = encryption_key::generate();
  const encryption_key* keys[] = {nullptr, &key};
  for (auto k : keys) {
    temp_dir dir;
    auto path = dir.file("shard-1.snap");
    CAF_REQUIRE(write_snapshot(posix(), path, small_entries(), 1, k));
    auto good = slurp(path);
    auto cut = dir.file("cut.snap");
    size_t missed = 0;
    for (size_t len = 0; len < good.size(); ++len) {
      spit(cut, std::string_view{good}.substr(0, len));
      auto got = read_snapshot(posix(), cut, k);
      bool reported = got.open_error || got.end.kind == read_end::corrupt;
      // Inside the entries or the footer the code is unexpected_eof.
      if (!got.open_error && got.end.code != errc::unexpected_eof)
        reported = false;
      if (got.open_error && len >= 5
          && got.open_error->code != errc::unexpected_eof)
        reported = false;
      if (!reported) {
        ++missed;
        CAF_MESSAGE("cut at " << len << " not reported as unexpected_eof");
      }
    }
    CAF_CHECK_EQUAL(missed, 0u);
    spit(cut, good);
    CAF_CHECK(!damage_reported(cut, k, 1));
    // Bytes after the footer are ignored.
    spit(cut, good + "trailing");
    CAF_CHECK(!damage_reported(cut, k, 1));
  }
}

CAF_TEST(a truncated snapshot names the entry and its offset) {
  temp_dir dir;
  auto path = dir.file("shard-1.snap");
  CAF_REQUIRE(write_snapshot(posix(), path, small_entries(), 1));
  auto good = read_snapshot(posix(), path);
  auto bytes = slurp(path);
  auto third = good.infos[2];
  spit(path, bytes.substr(0, third.offset + 3));
  auto got = read_snapshot(posix(), path);
  CAF_CHECK_EQUAL(got.entries.size(), 2u);
  CAF_CHECK(got.end.code == errc::unexpected_eof);
  CAF_CHECK_EQUAL(got.end.index, 2u);
  CAF_CHECK_EQUAL(got.end.offset, third.offset);
  CAF_CHECK(contains(got.diagnosis, path));
  CAF_CHECK(contains(got.diagnosis, "byte offset " + std::to_string(third.offset)));
  CAF_CHECK(contains(got.diagnosis, "entry #2"));
  // Cut inside the footer: index = entry_count, offset = footer start.
  spit(path, bytes.substr(0, bytes.size() - 2));
  got = read_snapshot(posix(), path);
  CAF_CHECK_EQUAL(got.entries.size(), small_entries().size());
  CAF_CHECK(got.end.code == errc::unexpected_eof);
  CAF_CHECK_EQUAL(got.end.index, small_entries().size());
  CAF_CHECK_EQUAL(got.end.offset, bytes.size() - 4);
  // Shorter than the 11-byte header.
  spit(path, bytes.substr(0, 9));
  auto r = snapshot_reader::open(posix(), path);
  CAF_REQUIRE(!r);
  CAF_CHECK(r.err().code == errc::unexpected_eof);
  CAF_CHECK(contains(r.err().message, path));
}

CAF_TEST(bad headers are refused when opening) {
  temp_dir dir;
  auto path = dir.file("h.snap");
  auto body = std::string(4, '\0'); // footer CRC of no entries
  spit(path, "EAOF" + raw_snapshot(2, 0, body).substr(4));
  auto r = snapshot_reader::open(posix(), path);
  CAF_CHECK(!r && r.err().code == errc::invalid_magic);
  for (uint8_t v : {0, 4, 9}) {
    spit(path, raw_snapshot(v, 0, body));
    r = snapshot_reader::open(posix(), path);
    CAF_CHECK(!r && r.err().code == errc::unsupported_version);
  }
  spit(path, raw_snapshot(1, 0, body));
  CAF_CHECK(!damage_reported(path, nullptr, 0));
}

CAF_TEST(a huge entry count with nothing behind it allocates little) {
  auto content = raw_snapshot(2, 100'000'001, {});
  read_end end;
  auto largest = largest_allocation_during([&] { end = end_of(content); });
  CAF_CHECK_EQUAL(kind(end), "corrupt");
  CAF_CHECK(end.code == errc::unexpected_eof);
  CAF_CHECK_EQUAL(end.index, 0u);
  CAF_CHECK_EQUAL(end.offset, 11u);
  CAF_CHECK_LESS(largest, size_t{256 * 1024});
}

CAF_TEST(hostile lengths and counts are rejected before allocating) {
  auto key_entry = [](uint32_t key_len) {
    std::string b;
    put_u32(b, key_len);
    return b + "kkkk";
  };
  auto list_entry = [](uint32_t count) {
    std::string b;
    put_bytes(b, "k");
    put_u8(b, 1);
    put_u32(b, count);
    return b;
  };
  struct hostile {
    const char* what;
    std::string body;
    errc code;
  };
  std::vector<hostile> cases = {
    {"key length 512 MiB + 1", key_entry(max_bytes_len + 1),
     errc::invalid_data},
    {"key length 512 MiB", key_entry(max_bytes_len), errc::unexpected_eof},
    {"list count 100000001", list_entry(max_collection_count + 1),
     errc::invalid_data},
    {"list count 100000000", list_entry(max_collection_count),
     errc::unexpected_eof},
  };
  {
    std::string b;
    put_bytes(b, "k");
    put_u8(b, 0);
    put_u32(b, max_bytes_len + 1);
    cases.push_back({"value length 512 MiB + 1", b, errc::invalid_data});
  }
  {
    std::string b;
    put_bytes(b, "k");
    put_u8(b, 9);
    cases.push_back({"unknown type 9", b, errc::invalid_data});
  }
  {
    std::string b;
    put_bytes(b, "\xff");
    put_u8(b, 0);
    put_bytes(b, "v");
    put_i64(b, -1);
    cases.push_back({"key not UTF-8", b, errc::invalid_data});
  }
  for (auto& c : cases) {
    CAF_MESSAGE(c.what);
    read_end end;
    auto largest = largest_allocation_during(
      [&] { end = end_of(raw_snapshot(2, 1, c.body)); });
    CAF_CHECK_EQUAL(kind(end), "corrupt");
    CAF_CHECK_EQUAL(to_string(end.code), to_string(c.code));
    CAF_CHECK_EQUAL(end.index, 0u);
    CAF_CHECK_EQUAL(end.offset, 11u);
    CAF_CHECK_LESS(largest, size_t{4 * 1024 * 1024});
  }
  // A sealed entry whose ciphertext length is out of range.
  auto key = encryption_key::generate();
  for (uint32_t ct_len : {uint32_t{15}, max_bytes_len + 17}) {
    std::string b(nonce_size, '\x01');
    put_u32(b, ct_len);
    read_end end;
    auto largest = largest_allocation_during(
      [&] { end = end_of(raw_snapshot(3, 1, b + "data"), &key); });
    CAF_CHECK(end.code == errc::invalid_data);
    CAF_CHECK_LESS(largest, size_t{4 * 1024 * 1024});
  }
}

CAF_TEST(vector limits are enforced by reader and writer) {
  if (!with_vector) {
    std::string b;
    put_bytes(b, "k");
    put_u8(b, 6);
    auto end = end_of(raw_snapshot(2, 1, b));
    CAF_CHECK(end.code == errc::invalid_data);
    CAF_CHECK(contains(end.reason, "-DEMBER_WITH_VECTOR=ON"));
    return;
  }
  auto vec = [](uint8_t metric, uint8_t quant, uint32_t dim, uint32_t count) {
    std::string b;
    put_bytes(b, "k");
    put_u8(b, 6);
    put_u8(b, metric);
    put_u8(b, quant);
    put_u32(b, 16);
    put_u32(b, 64);
    put_u32(b, dim);
    put_u32(b, count);
    return b;
  };
  struct bad_shape {
    const char* what;
    std::string body;
  };
  bad_shape cases[] = {
    {"metric 3", vec(3, 0, 1, 0)},
    {"quantization 3", vec(0, 3, 1, 0)},
    {"dims 65537", vec(0, 0, 65537, 1)},
    {"count 10000001", vec(0, 0, 1, 10'000'001)},
    {"dims x count above 1e9", vec(0, 0, 65536, 15259)},
  };
  for (auto& c : cases) {
    CAF_MESSAGE(c.what);
    read_end end;
    auto largest = largest_allocation_during(
      [&] { end = end_of(raw_snapshot(2, 1, c.body)); });
    CAF_CHECK(end.code == errc::invalid_data);
    CAF_CHECK_LESS(largest, size_t{4 * 1024 * 1024});
  }
  // At the limits with nothing behind: a cut, not invalid data.
  auto end = end_of(raw_snapshot(2, 1, vec(2, 2, 65536, 15258)));
  CAF_CHECK(end.code == errc::unexpected_eof);
  // The writer refuses what the reader would reject.
  snap::vector_set v;
  v.dim = 2;
  v.elements.push_back({"a", {1.0f}});
  CAF_CHECK_NOT_EQUAL(validate(entry("k", v)), "");
  v.elements[0].vector.push_back(2.0f);
  CAF_CHECK_EQUAL(validate(entry("k", v)), "");
  v.metric = 3;
  CAF_CHECK_NOT_EQUAL(validate(entry("k", v)), "");
  v.metric = 0;
  v.quantization = 3;
  CAF_CHECK_NOT_EQUAL(validate(entry("k", v)), "");
  v.quantization = 0;
  v.dim = 65537;
  v.elements.clear();
  CAF_CHECK_NOT_EQUAL(validate(entry("k", v)), "");
}

CAF_TEST(the writer refuses invalid entries and writes nothing for them) {
  temp_dir dir;
  auto path = dir.file("shard-0.snap");
  auto w = snapshot_writer::begin(posix(), path, 0);
  CAF_REQUIRE(w);
  const std::string bad = "\xc3\x28";
  std::vector<snapshot_entry> invalid = {
    entry(bad, std::string{"v"}),
    entry("z", snap::sorted_set{{{1.0, bad}}}),
    entry("h", snap::hash{{{bad, "v"}}}),
    entry("s", snap::set{{"ok", bad}}),
  };
  if (with_proto)
    invalid.push_back(entry("p", snap::proto{bad, "data"}));
  if (with_vector) {
    snap::vector_set v;
    v.elements.push_back({bad, {}});
    invalid.push_back(entry("v", v));
  }
  for (auto& e : invalid) {
    auto st = w->add(e);
    CAF_CHECK(!st);
    if (!st) {
      CAF_CHECK(st.err().code == errc::invalid_data);
      CAF_CHECK(contains(st.err().message, path));
      CAF_CHECK(contains(st.err().message, "UTF-8"));
    }
  }
  // Binary data is fine where the format says bytes.
  auto good = entry("ok", snap::hash{{{"f", bad}}});
  CAF_REQUIRE(w->add(good));
  auto stats = w->commit();
  CAF_REQUIRE(stats);
  CAF_CHECK_EQUAL(stats->entries, 1u);
  CAF_CHECK(loads_as(path, {good}));
  // A committed writer is closed.
  auto st = w->add(good);
  CAF_CHECK(!st && st.err().code == errc::closed);
}

// -- atomic replacement ------------------------------------------------------

namespace {

std::vector<snapshot_entry> generation(const std::string& name) {
  std::vector<snapshot_entry> es{entry("generation", name)};
  // Enough data that the writer has flushed to the tmp file before commit.
  es.push_back(entry("bulk", std::string(3 * 1024 * 1024, name[0])));
  return es;
}

// About 6 MiB in ~200-byte entries: six chunks and more.
std::vector<snapshot_entry> many_chunks(char fill) {
  std::vector<snapshot_entry> es;
  for (int i = 0; i < 30'000; ++i)
    es.push_back(entry("chunked:" + std::to_string(i),
                       std::string(180, fill) + std::to_string(i)));
  return es;
}

// Plans a fault, writes `next` over a committed "old" generation and checks
// that the write fails naming the file, and that the old snapshot stays,
// also through a crash.
template <class Plan>
void check_fault_keeps_old(Plan plan, const std::vector<snapshot_entry>& next) {
  temp_dir dir;
  fault_injection_file_system ffs;
  auto path = dir.file("shard-2.snap");
  auto old_gen = generation("old");
  CAF_REQUIRE(write_snapshot(ffs, path, old_gen, 2));
  plan(ffs);
  auto st = write_snapshot(ffs, path, next, 2);
  CAF_REQUIRE(!st);
  CAF_CHECK(st.err().code == errc::io_error);
  CAF_CHECK(contains(st.err().message, path));
  CAF_CHECK(contains(st.err().message, "previous snapshot is unchanged"));
  CAF_CHECK(loads_as(path, old_gen));
  CAF_CHECK(!exists(path + ".tmp"));
  CAF_REQUIRE(ffs.crash());
  CAF_CHECK(loads_as(path, old_gen));
  CAF_CHECK(!exists(path + ".tmp"));
}

} // namespace

CAF_TEST(an unfinished writer of one chunk or many leaves the previous snapshot and no tmp) {
  temp_dir dir;
  auto path = dir.file("shard-2.snap");
  auto old_gen = generation("old");
  CAF_REQUIRE(write_snapshot(posix(), path, old_gen, 2));
  // One huge entry; then half of a snapshot of many chunks, some still
  // queued for the appender's thread when the writer goes.
  auto chunked = many_chunks('d');
  chunked.resize(chunked.size() / 2);
  for (auto& unfinished : {generation("new"), chunked}) {
    {
      auto w = snapshot_writer::begin(posix(), path, 2);
      CAF_REQUIRE(w);
      for (auto& e : unfinished)
        CAF_REQUIRE(w->add(e));
      CAF_CHECK(exists(path + ".tmp"));
    } // destroyed without commit
    CAF_CHECK(!exists(path + ".tmp"));
    CAF_CHECK(loads_as(path, old_gen));
  }
  auto w = snapshot_writer::begin(posix(), path, 2);
  CAF_REQUIRE(w);
  for (auto& e : generation("new"))
    CAF_REQUIRE(w->add(e));
  w->abort();
  CAF_CHECK(!exists(path + ".tmp"));
  CAF_CHECK(loads_as(path, old_gen));
  auto st = w->add(entry("k", std::string{"v"}));
  CAF_CHECK(!st && st.err().code == errc::closed);
  CAF_CHECK(!w->commit());
  CAF_CHECK(loads_as(path, old_gen));
  // A moved writer's tmp belongs to the new owner only, also while its
  // appender's thread writes chunks.
  auto a = snapshot_writer::begin(posix(), path, 2);
  CAF_REQUIRE(a);
  {
    for (auto& e : chunked)
      CAF_REQUIRE(a->add(e));
    auto b = std::move(*a);
    CAF_REQUIRE(b.add(entry("k", std::string{"v"})));
    CAF_REQUIRE(b.commit());
  }
  auto moved = chunked;
  moved.push_back(entry("k", std::string{"v"}));
  CAF_CHECK(loads_as(path, moved));
}

CAF_TEST(failed fsync rename or write during commit keeps the old snapshot) {
  struct fault_case {
    const char* what;
    void (*plan)(fault_injection_file_system&);
  };
  fault_case cases[] = {
    {"fsync", [](fault_injection_file_system& f) { f.fail(fault_op::sync, 1); }},
    {"rename",
     [](fault_injection_file_system& f) { f.fail(fault_op::rename, 1); }},
    {"short write", [](fault_injection_file_system& f) { f.short_write(2); }},
    {"open", [](fault_injection_file_system& f) { f.fail(fault_op::open, 1); }},
  };
  for (auto& c : cases) {
    CAF_MESSAGE(c.what);
    check_fault_keeps_old(c.plan, generation("new"));
  }
}

CAF_TEST(a completed commit survives a crash) {
  temp_dir dir;
  fault_injection_file_system ffs;
  auto path = dir.file("shard-2.snap");
  CAF_REQUIRE(write_snapshot(ffs, path, generation("old"), 2));
  auto new_gen = generation("new");
  CAF_REQUIRE(write_snapshot(ffs, path, new_gen, 2));
  CAF_REQUIRE(ffs.crash());
  CAF_CHECK(loads_as(path, new_gen));
  // Also the very first snapshot of a shard.
  auto first = dir.file("shard-3.snap");
  CAF_REQUIRE(write_snapshot(ffs, first, new_gen, 3));
  CAF_REQUIRE(ffs.crash());
  CAF_CHECK(loads_as(first, new_gen));
}

CAF_TEST(a crash before the directory fsync leaves the old or the new snapshot) {
  temp_dir dir;
  fault_injection_file_system ffs;
  auto path = dir.file("shard-2.snap");
  auto old_gen = generation("old");
  auto new_gen = generation("new");
  CAF_REQUIRE(write_snapshot(ffs, path, old_gen, 2));
  ffs.fail(fault_op::sync_dir, 1);
  auto st = write_snapshot(ffs, path, new_gen, 2);
  CAF_REQUIRE(!st);
  CAF_CHECK(st.err().code == errc::io_error);
  CAF_CHECK(contains(st.err().message, "renamed into place"));
  CAF_CHECK(loads_as(path, new_gen)); // in place, just not durable yet
  CAF_REQUIRE(ffs.crash());
  CAF_CHECK(loads_as(path, old_gen) || loads_as(path, new_gen));
}

CAF_TEST(a crash while writing leaves the previous snapshot) {
  temp_dir dir;
  fault_injection_file_system ffs;
  auto path = dir.file("shard-2.snap");
  auto old_gen = generation("old");
  CAF_REQUIRE(write_snapshot(ffs, path, old_gen, 2));
  auto w = snapshot_writer::begin(ffs, path, 2);
  CAF_REQUIRE(w);
  for (auto& e : generation("new"))
    CAF_REQUIRE(w->add(e));
  CAF_REQUIRE(ffs.crash());
  CAF_CHECK(!w->commit()); // its file handle died with the "power"
  CAF_CHECK(loads_as(path, old_gen));
  CAF_CHECK(!exists(path + ".tmp"));
}

// -- chunks written on the appender's thread ----------------------------------
//
// A snapshot of more than one 1 MiB chunk hands its chunks to a
// background_appender, which writes them while the next one is encoded.

namespace {

// A file whose appends wait until open() is called, recording their order.
class gated_file final : public writable_file {
public:
  status append(std::string_view data) override {
    std::unique_lock<std::mutex> lock{mtx_};
    entered_ = true;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    chunks_.emplace_back(data);
    return {};
  }
  status write_at(uint64_t, std::string_view) override {
    return {};
  }
  status sync() override {
    return {};
  }
  status truncate(uint64_t) override {
    return {};
  }
  uint64_t size() const override {
    return 0;
  }
  const std::string& path() const override {
    return path_;
  }
  void open() {
    std::lock_guard<std::mutex> guard{mtx_};
    open_ = true;
    changed_.notify_all();
  }
  void wait_for_first_append() {
    std::unique_lock<std::mutex> lock{mtx_};
    changed_.wait(lock, [this] { return entered_; });
  }
  std::vector<std::string> chunks() {
    std::lock_guard<std::mutex> guard{mtx_};
    return chunks_;
  }

private:
  std::mutex mtx_;
  std::condition_variable changed_;
  bool open_ = false;
  bool entered_ = false;
  std::vector<std::string> chunks_;
  std::string path_ = "gated";
};

} // namespace

CAF_TEST(the appender writes and checksums every chunk in order and bounds its queue) {
  gated_file file;
  background_appender app{file, 0, {1}};
  // The first chunk's "h" stands for a header outside the checksum.
  std::string a = "ha", b = "b", c = "c";
  CAF_REQUIRE(app.submit(a, 1));
  CAF_CHECK(a.empty());
  file.wait_for_first_append(); // "a" is out of the queue, stuck in append
  CAF_REQUIRE(app.submit(b));   // the one queued buffer allowed
  std::atomic<bool> c_queued{false};
  std::thread producer([&] {
    CAF_CHECK(app.submit(c));
    c_queued = true;
  });
  // "c" cannot enter the queue while "a" is stuck and "b" waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CAF_CHECK(!c_queued);
  file.open();
  producer.join();
  CAF_CHECK(app.finish());
  CAF_CHECK_EQUAL(file.chunks(), (std::vector<std::string>{"ha", "b", "c"}));
  CAF_CHECK_EQUAL(app.checksum(), crc32("abc"));
}

CAF_TEST(the appender hands written chunk buffers back oldest first after its cold spares) {
  gated_file file;
  file.open();
  appender_options opts;
  opts.cold_spares = 1;
  background_appender app{file, 0, opts};
  auto submit = [&](std::string bytes, size_t used) {
    std::string buf = std::move(bytes);
    CAF_REQUIRE(app.submit_in_place(buf, used));
    CAF_REQUIRE(app.finish()); // written: back among the spares
    return buf;
  };
  // Fresh buffers until more than one written buffer waits.
  CAF_CHECK_EQUAL(submit("aaaa", 4), "");
  CAF_CHECK_EQUAL(submit("bbbbXX", 4), "");
  // Then the oldest, its size and stale bytes kept for in-place reuse.
  CAF_CHECK_EQUAL(submit("cccc", 4), "aaaa");
  CAF_CHECK_EQUAL(submit("dd", 2), "bbbbXX");
  // submit() still hands back an empty buffer.
  std::string e = "ee";
  CAF_REQUIRE(app.submit(e));
  CAF_CHECK(e.empty());
  CAF_REQUIRE(app.finish());
  CAF_CHECK_EQUAL(file.chunks(), (std::vector<std::string>{"aaaa", "bbbb",
                                                            "cccc", "dd",
                                                            "ee"}));
}

CAF_TEST(a snapshot of many chunks round trips plain and encrypted) {
  auto key = encryption_key::generate();
  auto es = many_chunks('m');
  check_round_trip(es, nullptr);
  check_round_trip(es, &key);
  // Committed means durable: the chunks the thread wrote were synced.
  temp_dir dir;
  fault_injection_file_system ffs;
  auto path = dir.file("shard-2.snap");
  CAF_REQUIRE(write_snapshot(ffs, path, es, 2));
  CAF_REQUIRE(ffs.crash());
  CAF_CHECK(loads_as(path, es));
}

CAF_TEST(a write failing in any chunk abandons the snapshot) {
  auto new_gen = many_chunks('n');
  for (uint64_t nth = 1; nth <= 8; ++nth) {
    for (bool short_write : {false, true}) {
      CAF_MESSAGE("write " << nth << (short_write ? " short" : " fails"));
      // The failure shows at a later add() or at the commit, never not at
      // all.
      check_fault_keeps_old(
        [&](fault_injection_file_system& f) {
          if (short_write)
            f.short_write(nth);
          else
            f.fail(fault_op::write, nth);
        },
        new_gen);
    }
  }
}
