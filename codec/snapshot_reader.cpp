#include "codec/snapshot_reader.hpp"

#include <algorithm>

#include "codec/byte_reader.hpp"
#include "codec/crc32.hpp"
#include "codec/format.hpp"
#include "codec/hex.hpp"

namespace ember::codec {

namespace {

// magic + version + shard_id u16 + entry_count u32
constexpr size_t snapshot_header_size = header_size + 2 + 4;
constexpr size_t footer_size = 4;
constexpr size_t sealed_frame = nonce_size + 4; // nonce + ct_len

// Bytes to have in the window before decoding an entry; entries that need
// more make the window grow.
constexpr size_t lookahead = 4096;

} // namespace

result<snapshot_reader> snapshot_reader::open(file_system& fs,
                                              const std::string& path,
                                              const encryption_key* key) {
  auto file = fs.open_readable(path);
  if (!file)
    return std::move(file).err();
  snapshot_reader r;
  r.path_ = path;
  r.in_ = file_window{std::move(*file)};
  r.file_size_ = r.in_.size();
  auto got = r.in_.ensure(snapshot_header_size);
  if (!got)
    return std::move(got).err();
  auto header = r.in_.available().substr(0, snapshot_header_size);
  if (auto st = check_header(header, snapshot_magic, format_v1,
                             key != nullptr, path);
      !st)
    return std::move(st).err();
  if (header.size() < snapshot_header_size)
    return error{errc::unexpected_eof,
                 path + ": file is " + std::to_string(header.size())
                   + " bytes, shorter than the 11-byte snapshot header; the "
                     "snapshot is unusable: restore it from a backup, or "
                     "start with on-corruption=salvage to set it aside"};
  byte_reader h{header.substr(header_size)};
  h.u16(r.shard_id_);
  h.u32(r.entry_count_);
  r.version_ = static_cast<uint8_t>(header[4]);
  if (r.version_ == format_v3)
    r.gcm_.emplace(*key);
  r.in_.consume(snapshot_header_size);
  return result<snapshot_reader>{std::move(r)};
}

snapshot_reader::snapshot_reader(snapshot_reader&&) noexcept = default;
snapshot_reader&
snapshot_reader::operator=(snapshot_reader&&) noexcept = default;
snapshot_reader::~snapshot_reader() = default;

bool snapshot_reader::next(snapshot_entry& out) {
  if (end_.kind != read_end::reading)
    return false;
  if (entries_read_ == entry_count_)
    return read_footer();
  info_.nonce.clear();
  info_.ciphertext_len = 0;
  info_.plaintext_size = 0;
  return version_ == format_v3 ? read_sealed(out) : read_plain(out);
}

bool snapshot_reader::finish(read_end::kind_t kind, errc code,
                             std::string reason) {
  end_.kind = kind;
  end_.code = code;
  end_.reason = std::move(reason);
  end_.offset = in_.offset();
  end_.index = entries_read_;
  end_.dropped_bytes = in_.size() - in_.offset();
  return false;
}

bool snapshot_reader::cut_short() {
  // The header promised more: for a snapshot this is damage, not a torn
  // tail (a snapshot only replaces the old one once complete).
  auto where = entries_read_ < entry_count_ ? "inside the entry"
                                             : "inside the footer CRC";
  return finish(read_end::corrupt, errc::unexpected_eof,
                std::string{"unexpected end of file "} + where
                  + " (the file has " + std::to_string(in_.size())
                  + " bytes; its header promises "
                  + std::to_string(entry_count_) + " entries)");
}

bool snapshot_reader::accept(size_t size) {
  running_crc_ = crc32(in_.available().data(), size, running_crc_);
  info_.offset = in_.offset();
  info_.size = size;
  in_.consume(size);
  ++entries_read_;
  return true;
}

bool snapshot_reader::read_plain(snapshot_entry& out) {
  auto got = in_.ensure(lookahead);
  for (;;) {
    if (!got)
      return finish(read_end::corrupt, errc::io_error, got.err().message);
    auto avail = in_.available();
    byte_reader r{avail};
    if (decode_entry(r, version_, out))
      return accept(r.position());
    if (r.why() != byte_reader::failure::eof)
      return finish(read_end::corrupt, errc::invalid_data, r.reason());
    if (avail.size() >= in_.remaining())
      return cut_short();
    // Doubling keeps re-decoding a large entry linear overall.
    got = in_.ensure(std::max(avail.size() * 2, lookahead));
  }
}

bool snapshot_reader::read_sealed(snapshot_entry& out) {
  auto got = in_.ensure(sealed_frame);
  if (!got)
    return finish(read_end::corrupt, errc::io_error, got.err().message);
  if (*got < sealed_frame)
    return cut_short();
  uint32_t ct_len = 0;
  byte_reader frame{in_.available().substr(nonce_size, 4)};
  frame.u32(ct_len);
  // Checked before reading on: a damaged length must not make us buffer
  // up to 4 GiB.
  if (ct_len < gcm_tag_size || ct_len > max_bytes_len + gcm_tag_size)
    return finish(read_end::corrupt, errc::invalid_data,
                  "ciphertext length " + std::to_string(ct_len)
                    + " is outside 16 (the authentication tag) .. 512 MiB + "
                      "16");
  auto total = sealed_frame + size_t{ct_len};
  got = in_.ensure(total);
  if (!got)
    return finish(read_end::corrupt, errc::io_error, got.err().message);
  if (*got < total)
    return cut_short();
  auto avail = in_.available();
  auto nonce = avail.substr(0, nonce_size);
  if (!gcm_->open(nonce, avail.substr(sealed_frame, ct_len), plain_))
    return finish(read_end::corrupt, errc::decryption_failed,
                  "decryption failed (wrong key or tampered data)");
  byte_reader r{plain_};
  if (!decode_entry(r, format_v2, out) || r.remaining() != 0) {
    auto why = r.why() == byte_reader::failure::invalid ? r.reason()
               : r.failed() ? std::string{"it is shorter than its fields"}
                            : std::to_string(r.remaining())
                                + " bytes follow the entry";
    return finish(read_end::corrupt, errc::invalid_data,
                  "the decrypted entry is not one valid v2 entry: " + why);
  }
  info_.nonce.assign(nonce.data(), nonce.size());
  info_.ciphertext_len = ct_len;
  info_.plaintext_size = static_cast<uint32_t>(plain_.size());
  return accept(total);
}

bool snapshot_reader::read_footer() {
  auto got = in_.ensure(footer_size);
  if (!got)
    return finish(read_end::corrupt, errc::io_error, got.err().message);
  if (*got < footer_size)
    return cut_short();
  byte_reader{in_.available()}.u32(stored_footer_);
  if (stored_footer_ != running_crc_)
    return finish(read_end::corrupt, errc::checksum_mismatch,
                  "footer CRC32 mismatch (stored " + hex32(stored_footer_)
                    + ", computed " + hex32(running_crc_) + ")");
  // Bytes after the footer are ignored (dropped_bytes counts them).
  in_.consume(footer_size);
  return finish(read_end::clean, errc::invalid_data, {});
}

std::string snapshot_reader::diagnosis() const {
  if (end_.kind != read_end::corrupt)
    return {};
  auto where = end_.index < entry_count_
                 ? "entry #" + std::to_string(end_.index) + " of "
                     + std::to_string(entry_count_)
                 : "the footer (after all " + std::to_string(entry_count_)
                     + " entries)";
  std::string advice;
  switch (end_.code) {
    case errc::io_error:
      advice = "the file could not be read: check the disk and its "
               "permissions, then retry (the snapshot itself may be intact)";
      break;
    case errc::decryption_failed:
      advice = "check that the configured key is the one this snapshot was "
               "written with; if it is, the snapshot is damaged: restore it "
               "from a backup, or start with on-corruption=salvage to set it "
               "aside and rebuild from the AOF";
      break;
    default:
      if (end_.needs_rebuild()) {
        advice = "the file may be intact: read it with a build that has "
                 "that option";
        break;
      }
      advice = "the snapshot cannot be used as it is: restore it from a "
               "backup, or start with on-corruption=salvage to set it aside "
               "and rebuild from the AOF";
  }
  return path_ + ": bad snapshot at byte offset " + std::to_string(end_.offset)
         + ", " + where + ": " + end_.reason + "; " + advice;
}

} // namespace ember::codec
