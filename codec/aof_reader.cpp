#include "codec/aof_reader.hpp"

#include <algorithm>
#include <cstring>

#include "codec/crc32.hpp"
#include "codec/format.hpp"
#include "codec/hex.hpp"

namespace ember::codec {

const char* read_end::name() const noexcept {
  switch (kind) {
    case reading: return "reading";
    case clean: return "clean";
    case torn_tail: return "torn_tail";
    case corrupt: return "corrupt";
  }
  return "unknown";
}

status check_header(std::string_view header, std::string_view magic,
                    uint8_t min_version, bool have_key,
                    const std::string& path) {
  // A file shorter than its header whose bytes start the magic is a file
  // whose creation was cut short; anything else is not ours.
  if (header.size() < header_size
      && magic.substr(0, std::min(header.size(), magic.size()))
           == header.substr(0, magic.size()))
    return error{errc::unexpected_eof,
                 path + ": file is " + std::to_string(header.size())
                   + " bytes, shorter than its 5-byte header"};
  if (header.substr(0, magic.size()) != magic)
    return error{errc::invalid_magic,
                 path + ": invalid magic (expected \"" + std::string{magic}
                   + "\"); this is not an ember "
                   + (magic == aof_magic ? "AOF" : "snapshot")
                   + " file (check the path; `ember-persist dump` shows what "
                     "it holds)"};
  auto version = static_cast<uint8_t>(header[4]);
  if (version < min_version || version > format_v3)
    return error{errc::unsupported_version,
                 path + ": unsupported format version "
                   + std::to_string(version) + " (this build reads versions "
                   + std::to_string(min_version)
                   + " to 3; a newer ember wrote it, or the header is "
                     "damaged)"};
  if (version == format_v3 && !have_key)
    return error{errc::encryption_required,
                 path + ": file is encrypted but no encryption key was "
                        "provided (pass --key KEYFILE)"};
  return {};
}

} // namespace ember::codec

namespace ember::codec {

namespace {

// Bytes to have in the window before decoding a record; records that need
// more make the window grow.
constexpr size_t lookahead = 4096;

} // namespace

result<aof_reader> aof_reader::open(file_system& fs, const std::string& path,
                                    const encryption_key* key) {
  auto file = fs.open_readable(path);
  if (!file)
    return std::move(file).err();
  aof_reader r;
  r.path_ = path;
  r.in_ = file_window{std::move(*file)};
  r.file_size_ = r.in_.size();
  auto got = r.in_.ensure(header_size);
  if (!got)
    return std::move(got).err();
  auto header = r.in_.available().substr(0, header_size);
  if (auto st = check_header(header, aof_magic, format_v2, key != nullptr,
                             path);
      !st)
    return std::move(st).err();
  r.version_ = static_cast<uint8_t>(header[4]);
  if (r.version_ == format_v3)
    r.gcm_.emplace(*key);
  r.in_.consume(header_size);
  r.valid_end_ = header_size;
  return r;
}

aof_reader::aof_reader(aof_reader&&) noexcept = default;
aof_reader& aof_reader::operator=(aof_reader&&) noexcept = default;
aof_reader::~aof_reader() = default;

bool aof_reader::finish(read_end::kind_t kind, errc code, std::string reason) {
  if (kind != read_end::clean && tail_is_zeros()) {
    // A crash can leave a file extended with zeros (size updated, data not
    // written). Nothing valid follows, so this is a torn tail, not damage.
    kind = read_end::torn_tail;
    reason = "the file ends in " + std::to_string(file_size_ - valid_end_)
             + " zero bytes (left by a crash)";
  }
  end_.kind = kind;
  end_.code = code;
  end_.reason = std::move(reason);
  end_.offset = valid_end_;
  end_.index = records_;
  end_.dropped_bytes = file_size_ - valid_end_;
  return false;
}

bool aof_reader::tail_is_zeros() {
  auto left = in_.remaining();
  if (left == 0 || left > (64u << 20))
    return false;
  auto got = in_.ensure(static_cast<size_t>(left));
  if (!got || *got < left)
    return false;
  auto tail = in_.available();
  return tail.find_first_not_of('\0') == std::string_view::npos;
}

bool aof_reader::next(aof_record& out) {
  if (end_.kind != read_end::reading)
    return false;
  auto got = in_.ensure(lookahead);
  if (!got)
    return finish(read_end::corrupt, errc::io_error, got.err().message);
  if (*got == 0)
    return finish(read_end::clean, errc::invalid_data, {});
  return version_ == format_v3 ? read_v3(out) : read_v2(out);
}

bool aof_reader::read_v2(aof_record& out) {
  for (;;) {
    auto avail = in_.available();
    byte_reader r{avail};
    bool unknown = false;
    uint32_t stored = 0;
    if (decode_payload(r, out, unknown) && r.u32(stored)) {
      auto size = r.position();
      auto computed = crc32(avail.data(), size - 4);
      if (computed != stored)
        return finish(read_end::corrupt, errc::checksum_mismatch,
                      "checksum mismatch (stored " + hex32(stored)
                        + ", computed " + hex32(computed) + ")");
      info_.offset = in_.offset();
      info_.size = size;
      info_.crc = stored;
      in_.consume(size);
      valid_end_ = in_.offset();
      ++records_;
      return true;
    }
    if (r.why() != byte_reader::failure::eof)
      return finish(read_end::corrupt,
                    unknown ? errc::unknown_tag : errc::invalid_data,
                    r.reason());
    if (avail.size() >= in_.remaining())
      return finish(read_end::torn_tail, errc::unexpected_eof,
                    "the last record is cut short by end of file");
    auto more = in_.ensure(avail.size() * 2);
    if (!more)
      return finish(read_end::corrupt, errc::io_error, more.err().message);
  }
}

bool aof_reader::read_v3(aof_record& out) {
  constexpr size_t frame = nonce_size + 4;
  auto avail = in_.available();
  if (avail.size() < frame)
    return finish(read_end::torn_tail, errc::unexpected_eof,
                  "the last record is cut short by end of file");
  uint32_t ct_len;
  std::memcpy(&ct_len, avail.data() + nonce_size, 4);
  if (ct_len < gcm_tag_size)
    return finish(read_end::corrupt, errc::invalid_data,
                  "ciphertext length " + std::to_string(ct_len)
                    + " is shorter than the 16-byte authentication tag");
  auto total = frame + size_t{ct_len};
  auto more = in_.ensure(total);
  if (!more)
    return finish(read_end::corrupt, errc::io_error, more.err().message);
  if (*more < total)
    return finish(read_end::torn_tail, errc::unexpected_eof,
                  "the last record is cut short by end of file");
  avail = in_.available();
  auto nonce = avail.substr(0, nonce_size);
  if (!gcm_->open(nonce, avail.substr(frame, ct_len), plain_))
    return finish(read_end::corrupt, errc::decryption_failed,
                  "decryption failed (wrong key or tampered data)");
  byte_reader r{plain_};
  bool unknown = false;
  if (!decode_payload(r, out, unknown) || r.remaining() != 0) {
    auto why = r.failed() ? r.reason() : "trailing bytes after the record";
    if (r.why() == byte_reader::failure::eof)
      why = "the decrypted record is shorter than its fields";
    return finish(read_end::corrupt,
                  unknown ? errc::unknown_tag : errc::invalid_data,
                  "decrypted record is malformed: " + why);
  }
  info_.offset = in_.offset();
  info_.size = total;
  info_.nonce.assign(nonce.data(), nonce.size());
  info_.ciphertext_len = ct_len;
  info_.plaintext_size = static_cast<uint32_t>(plain_.size());
  in_.consume(total);
  valid_end_ = in_.offset();
  ++records_;
  return true;
}

std::string aof_reader::diagnosis() const {
  auto where = path_ + ": record #" + std::to_string(end_.index)
               + " at byte offset " + std::to_string(end_.offset) + ": ";
  auto intact = "; the " + std::to_string(end_.index)
                + " records before it are intact. ";
  auto repair = "`ember-persist repair " + path_ + " --yes`";
  switch (end_.kind) {
    case read_end::torn_tail:
      return where + end_.reason + " (a torn tail: "
             + std::to_string(end_.dropped_bytes)
             + " bytes after the last whole record). Recovery ignores them "
               "and the writer cuts them before appending; "
             + repair + " cuts them now (keeping a backup)";
    case read_end::corrupt:
      if (end_.code == errc::io_error)
        return where + end_.reason
               + "; check the disk and permissions, then retry (the file "
                 "may be intact)";
      if (end_.needs_rebuild())
        return where + end_.reason
               + "; the file may be intact: read it with a build that has "
                 "that option and do not repair it with this one";
      return where + end_.reason + intact
             + (end_.code == errc::decryption_failed
                  ? "Check that the configured key is the one this AOF was "
                    "written with; if it is, the record is damaged: "
                  : "")
             + "Restore the file from a backup, or run " + repair
             + " to cut it back to them (keeping a backup), or start with "
               "on-corruption=salvage";
    default:
      return {};
  }
}

} // namespace ember::codec
