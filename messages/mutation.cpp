#include "messages/mutation.hpp"

#include "codec/byte_reader.hpp"

namespace ember::messages {

std::string encode_records(const std::vector<codec::aof_record>& records) {
  std::string out;
  for (auto& r : records)
    codec::encode_payload(out, r);
  return out;
}

bool decode_records(const std::string& bytes,
                    std::vector<codec::aof_record>& out) {
  std::vector<codec::aof_record> result;
  codec::byte_reader in{bytes};
  while (in.remaining() > 0) {
    bool unknown = false;
    if (!codec::decode_payload(in, result.emplace_back(), unknown))
      return false;
  }
  out = std::move(result);
  return true;
}

} // namespace ember::messages
