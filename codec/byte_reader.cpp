#include "codec/byte_reader.hpp"

#include "codec/utf8.hpp"

namespace ember::codec {

bool byte_reader::invalid(std::string why) {
  if (!failed()) {
    failure_ = failure::invalid;
    reason_ = std::move(why);
  }
  return false;
}

bool byte_reader::bytes_view(std::string_view& out, const char* what) {
  uint32_t len;
  if (!u32(len))
    return false;
  if (len > max_bytes_len)
    return invalid(std::string{what} + " length " + std::to_string(len)
                   + " exceeds the 512 MiB limit");
  return raw(out, len);
}

bool byte_reader::bytes(std::string& out, const char* what) {
  std::string_view v;
  if (!bytes_view(v, what))
    return false;
  out.assign(v.data(), v.size());
  return true;
}

bool byte_reader::str(std::string& out, const char* what) {
  std::string_view v;
  if (!bytes_view(v, what))
    return false;
  if (!valid_utf8(v))
    return invalid(std::string{what} + " is not valid UTF-8");
  out.assign(v.data(), v.size());
  return true;
}

bool byte_reader::count(uint32_t& out, const char* what) {
  if (!u32(out))
    return false;
  if (out > max_collection_count)
    return invalid(std::string{what} + " count " + std::to_string(out)
                   + " exceeds the limit of 100000000");
  return true;
}

bool byte_reader::raw(std::string_view& out, size_t n) {
  if (failed())
    return false;
  if (remaining() < n) {
    failure_ = failure::eof;
    return false;
  }
  out = std::string_view{pos_, n};
  pos_ += n;
  return true;
}

bool byte_reader::non_negative(int64_t& out, const char* what) {
  if (!i64(out))
    return false;
  if (out < 0)
    return invalid(std::string{"negative "} + what + " "
                   + std::to_string(out));
  return true;
}

} // namespace ember::codec
