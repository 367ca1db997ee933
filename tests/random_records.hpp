// random_records.hpp: random AOF records of every kind, driven by the same
// `describe` field lists the codec uses, so a new field is covered at once.
#pragma once

#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "codec/aof_record.hpp"

namespace ember::test {

class record_randomizer {
public:
  explicit record_randomizer(uint64_t seed) : rng_(seed) {
  }

  /// A random record of a random kind this build supports.
  codec::aof_record next() {
    for (;;) {
      auto tag = static_cast<uint8_t>(1 + rng_() % codec::max_tag);
      if (codec::tag_supported(tag))
        return make(tag);
    }
  }

  /// A random record with the given tag.
  codec::aof_record make(uint8_t tag) {
    codec::aof_record r;
    emplace(r, tag - 1, std::make_index_sequence<codec::max_tag>{});
    std::visit([&](auto& x) { x.describe(*this, x); }, r);
    return r;
  }

  // -- field visitor -------------------------------------------------------

  void str(const char*, std::string& s) {
    static const char* pieces[] = {"a", "key", "\xd0\xba\xd0\xbb", "\xf0\x9f\x94\x91",
                                   "", ":", "z", "\xe3\x82\xad"};
    s.clear();
    auto n = rng_() % 6;
    for (size_t i = 0; i < n; ++i)
      s += pieces[rng_() % 8];
  }
  void bytes(const char*, std::string& s) {
    s.resize(rng_() % 5 == 0 ? rng_() % 2000 : rng_() % 40);
    for (auto& c : s)
      c = static_cast<char>(rng_());
  }
  void i64(const char*, int64_t& v) {
    static const int64_t edges[] = {0, -1, 1, INT64_MAX, INT64_MIN, 1000};
    v = rng_() % 3 == 0 ? edges[rng_() % 6] : static_cast<int64_t>(rng_());
  }
  void duration(const char* n, int64_t& v) {
    i64(n, v);
    if (v < 0)
      v = v == INT64_MIN ? INT64_MAX : -v;
  }
  void u8(const char*, uint8_t& v) {
    v = static_cast<uint8_t>(rng_());
  }
  void bitop(const char*, uint8_t& v) {
    v = static_cast<uint8_t>(rng_() % 4);
  }
  void flag(const char*, bool& v) {
    v = rng_() % 2 == 0;
  }
  void u32(const char*, uint32_t& v) {
    v = static_cast<uint32_t>(rng_());
  }
  void strs(const char* n, std::vector<std::string>& v) {
    v.resize(rng_() % 5);
    for (auto& s : v)
      str(n, s);
  }
  void bytes_list(const char* n, std::vector<std::string>& v) {
    v.resize(rng_() % 5);
    for (auto& s : v)
      bytes(n, s);
  }
  void scored(const char* n, std::vector<codec::scored_member>& v) {
    v.resize(rng_() % 5);
    for (auto& m : v) {
      uint64_t bits = rng_();
      std::memcpy(&m.score, &bits, 8); // any bit pattern, NaNs included
      str(n, m.member);
    }
  }
  void pairs(const char* n, std::vector<codec::field_value>& v) {
    v.resize(rng_() % 5);
    for (auto& p : v) {
      str(n, p.field);
      bytes(n, p.value);
    }
  }
  void floats(const char*, std::vector<float>& v) {
    v.resize(rng_() % 8);
    for (auto& x : v) {
      auto bits = static_cast<uint32_t>(rng_());
      std::memcpy(&x, &bits, 4);
    }
  }

  std::mt19937_64& rng() {
    return rng_;
  }

private:
  template <size_t... Is>
  static void emplace(codec::aof_record& r, size_t index,
                      std::index_sequence<Is...>) {
    ((index == Is ? (void) r.emplace<Is>() : (void) 0), ...);
  }

  std::mt19937_64 rng_;
};

} // namespace ember::test
