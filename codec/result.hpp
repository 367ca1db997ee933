// result.hpp: the codec's own error-or-value type.
//
// The codec does not depend on CAF (so it can be tested and reused alone);
// every fallible codec function returns `result<T>` or `status`, and the actor
// layer converts `codec::error` into a `caf::error` of our own category.
// Errors are values: nothing in codec/ throws.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace ember::codec {

/// What went wrong, in the vocabulary of FORMATS.md (the names of the
/// reference's FormatError variants where one exists).
enum class errc : uint8_t {
  unexpected_eof,      ///< a snapshot (or header) ended before it should
  invalid_magic,       ///< not an EAOF/ESNP file
  unsupported_version, ///< version byte 0 or above what this build reads
  checksum_mismatch,   ///< record CRC or snapshot footer CRC differs
  unknown_tag,         ///< AOF tag or snapshot type this build cannot read
  invalid_data,        ///< a field violates FORMATS.md (limit, UTF-8, range)
  encryption_required, ///< v3 file, no key configured
  decryption_failed,   ///< wrong key or tampered ciphertext
  invalid_key,         ///< key file malformed or unreadable
  shard_mismatch,      ///< snapshot header names another shard
  io_error,            ///< the OS refused (errno in error::sys_errno)
  corrupt_file,        ///< refusing to use a damaged file (recovery policy)
  closed,              ///< a writer that failed earlier is no longer trusted
};

/// Stable lower-case name, e.g. "checksum_mismatch".
const char* to_string(errc code) noexcept;

/// Name of the reference's FormatError variant, e.g. "ChecksumMismatch".
const char* reference_kind(errc code) noexcept;

/// An error: a code plus a message that names the file, the offset or record
/// where it applies and, where there is one, what the user can do.
struct error {
  errc code = errc::io_error;
  std::string message;
  int sys_errno = 0; ///< errno for io_error, else 0

  error() = default;
  error(errc c, std::string msg, int err = 0)
    : code(c), message(std::move(msg)), sys_errno(err) {
  }
};

/// Returns an io_error built from `err` (an errno value): "<what>: <strerror>".
error io_error(const std::string& what, int err);

/// A value of type T or an error.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : data_(std::in_place_index<0>, std::move(value)) {
  }
  result(error err) : data_(std::in_place_index<1>, std::move(err)) {
  }

  explicit operator bool() const noexcept {
    return data_.index() == 0;
  }
  bool ok() const noexcept {
    return data_.index() == 0;
  }

  T& value() & {
    return std::get<0>(data_);
  }
  const T& value() const& {
    return std::get<0>(data_);
  }
  // By value, so a temporary result never hands out a dangling reference.
  T value() && {
    return std::get<0>(std::move(data_));
  }
  T& operator*() & {
    return value();
  }
  const T& operator*() const& {
    return value();
  }
  T* operator->() {
    return &value();
  }
  const T* operator->() const {
    return &value();
  }

  const error& err() const& {
    return std::get<1>(data_);
  }
  error err() && {
    return std::get<1>(std::move(data_));
  }

private:
  std::variant<T, error> data_;
};

/// Success or an error.
class [[nodiscard]] status {
public:
  status() = default;
  status(error err) : err_(std::move(err)), failed_(true) {
  }

  explicit operator bool() const noexcept {
    return !failed_;
  }
  bool ok() const noexcept {
    return !failed_;
  }
  const error& err() const& {
    return err_;
  }
  error err() && {
    return std::move(err_);
  }

private:
  error err_;
  bool failed_ = false;
};

} // namespace ember::codec
