#include "bench/workload.hpp"

#include <map>

namespace ember::bench {

// Both by hand: the actor cases' producers build a record per write on the
// same two CPUs as the shard, and snprintf there took about a tenth of all
// the CPU time of those cases.
std::string key_of(uint64_t i) {
  std::string k(key_size, '0'); // "key:" + 12 digits
  k.replace(0, 4, "key:");
  i %= 1'000'000'000'000ull;
  for (size_t p = key_size; i != 0; i /= 10)
    k[--p] = static_cast<char>('0' + i % 10);
  return k;
}

codec::aof_record set_record(uint64_t i) {
  // i in decimal over the first bytes of the value.
  char digits[20];
  size_t n = 0;
  for (uint64_t v = i; n == 0 || v != 0; v /= 10)
    digits[n++] = static_cast<char>('0' + v % 10);
  std::string value(value_size, 'v');
  for (size_t j = 0; j < n; ++j)
    value[j] = digits[n - 1 - j];
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
