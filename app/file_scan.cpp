#include "app/file_scan.hpp"

namespace ember::app {

const char* format_name(file_kind k) {
  return k == file_kind::aof ? "aof" : "snapshot";
}

const char* item_noun(file_kind k) {
  return k == file_kind::aof ? "records" : "entries";
}

codec::result<file_head> detect_kind(codec::file_system& fs,
                                     const std::string& path) {
  using codec::errc;
  auto file = fs.open_readable(path);
  if (!file)
    return std::move(file).err();
  char head[codec::header_size];
  auto n = (*file)->read_at(0, head, sizeof head);
  if (!n)
    return std::move(n).err();
  std::string_view got{head, std::min<size_t>(*n, 4)};
  uint8_t version = *n > 4 ? static_cast<uint8_t>(head[4]) : 0;
  if (got == codec::aof_magic)
    return file_head{file_kind::aof, version};
  if (got == codec::snapshot_magic)
    return file_head{file_kind::snapshot, version};
  if (got.size() < 4)
    return codec::error{errc::unexpected_eof,
                        path + ": file is " + std::to_string(got.size())
                          + " bytes, too short for an ember header; it is "
                            "not an AOF or snapshot file"};
  return codec::error{errc::invalid_magic,
                      path + ": invalid magic 0x" + codec::to_hex(got)
                        + " (expected \"EAOF\" or \"ESNP\"); this is not an "
                          "ember AOF or snapshot file"};
}

bool wrong_key_suspected(const scan_summary& s) {
  return s.version == codec::format_v3
         && s.end.kind == codec::read_end::corrupt
         && s.end.code == codec::errc::decryption_failed && s.end.index == 0;
}

} // namespace ember::app
