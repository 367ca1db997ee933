#include "bench/workload.hpp"

#include <cstdio>
#include <map>

namespace ember::bench {

std::string key_of(uint64_t i) {
  char buf[key_size + 1];
  std::snprintf(buf, sizeof buf, "key:%012llu",
                static_cast<unsigned long long>(i % 1'000'000'000'000ull));
  return std::string(buf, key_size);
}

codec::aof_record set_record(uint64_t i) {
  std::string value(value_size, 'v');
  auto k = std::to_string(i);
  value.replace(0, k.size(), k);
  return codec::rec::set{key_of(i), std::move(value), -1};
}

std::shared_ptr<const std::vector<codec::aof_record>> set_records(uint64_t n) {
  static std::map<uint64_t, std::shared_ptr<std::vector<codec::aof_record>>> cache;
  auto& slot = cache[n];
  if (!slot) {
    slot = std::make_shared<std::vector<codec::aof_record>>();
    slot->reserve(n);
    for (uint64_t i = 0; i < n; ++i)
      slot->push_back(set_record(i));
  }
  return slot;
}

std::string encoded_sets(uint64_t n) {
  std::string out;
  out.reserve(n * (key_size + value_size + 24));
  for (uint64_t i = 0; i < n; ++i)
    codec::encode_record(out, set_record(i));
  return out;
}

} // namespace ember::bench
