// small_key.hpp: a key string that keeps up to 23 bytes inline.
//
// std::string keeps only 15 bytes inline, so the common 16-byte keys each
// cost a separate heap block; a small_key is as large as a std::string minus
// 8 bytes and holds them in place. Longer keys live on the heap.
//
// small_key::borrow() makes a non-owning key for lookups, so that a map
// keyed by small_key can be searched with any string without allocating.
// Copying a borrowed key makes an owning one; a borrowed key must not outlive
// the bytes it points to (use it only as a lookup argument).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ember::codec {

class small_key {
public:
  /// Keys this long or shorter need no allocation.
  static constexpr size_t inline_capacity = 23;

  small_key() noexcept {
    tag_() = 0;
  }

  explicit small_key(std::string_view s) {
    if (s.size() <= inline_capacity)
      set_inline(s);
    else
      set_external(copy_out(s), s.size(), owned);
  }

  /// A key that refers to `s` without copying it (see the file comment).
  static small_key borrow(std::string_view s) noexcept {
    small_key k;
    if (s.size() <= inline_capacity)
      k.set_inline(s); // as cheap as a pointer for short keys
    else
      k.set_external(s.data(), s.size(), borrowed);
    return k;
  }

  small_key(const small_key& other) : small_key(other.view()) {
  }

  small_key(small_key&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof(bytes_));
    other.tag_() = 0; // the heap block, if any, moved with the bytes
  }

  small_key& operator=(const small_key& other) {
    if (this != &other)
      *this = small_key{other.view()};
    return *this;
  }

  small_key& operator=(small_key&& other) noexcept {
    if (this != &other) {
      free_owned();
      std::memcpy(bytes_, other.bytes_, sizeof(bytes_));
      other.tag_() = 0;
    }
    return *this;
  }

  ~small_key() {
    free_owned();
  }

  std::string_view view() const noexcept {
    auto tag = tag_();
    if (tag <= inline_capacity)
      return {bytes_, tag};
    return {ext_ptr(), ext_size()};
  }

  operator std::string_view() const noexcept {
    return view();
  }

  std::string str() const {
    return std::string{view()};
  }

  size_t size() const noexcept {
    return view().size();
  }

  friend bool operator==(const small_key& a, const small_key& b) noexcept {
    return a.view() == b.view();
  }
  friend bool operator!=(const small_key& a, const small_key& b) noexcept {
    return !(a == b);
  }

  /// The same value as std::hash<std::string> of the same bytes.
  ///
  /// Not noexcept on purpose: libstdc++ then caches the hash in each
  /// unordered_map node, which makes rehashing and misses cheaper and costs
  /// nothing (the node stays in the same allocator size class).
  struct hash {
    size_t operator()(const small_key& k) const {
      return std::hash<std::string_view>{}(k.view());
    }
  };

private:
  // Tag (last byte): the length for inline keys, else one of these.
  static constexpr uint8_t owned = 0x80;
  static constexpr uint8_t borrowed = 0x81;

  uint8_t& tag_() noexcept {
    return reinterpret_cast<uint8_t&>(bytes_[inline_capacity]);
  }
  uint8_t tag_() const noexcept {
    return static_cast<uint8_t>(bytes_[inline_capacity]);
  }

  void set_inline(std::string_view s) noexcept {
    std::memcpy(bytes_, s.data(), s.size());
    tag_() = static_cast<uint8_t>(s.size());
  }

  // External keys keep pointer and size in the first 16 bytes.
  void set_external(const char* p, size_t n, uint8_t tag) noexcept {
    std::memcpy(bytes_, &p, sizeof(p));
    std::memcpy(bytes_ + sizeof(p), &n, sizeof(n));
    tag_() = tag;
  }
  const char* ext_ptr() const noexcept {
    const char* p;
    std::memcpy(&p, bytes_, sizeof(p));
    return p;
  }
  size_t ext_size() const noexcept {
    size_t n;
    std::memcpy(&n, bytes_ + sizeof(const char*), sizeof(n));
    return n;
  }

  static const char* copy_out(std::string_view s) {
    char* p = std::allocator<char>{}.allocate(s.size());
    std::memcpy(p, s.data(), s.size());
    return p;
  }

  void free_owned() noexcept {
    if (tag_() == owned)
      std::allocator<char>{}.deallocate(const_cast<char*>(ext_ptr()),
                                        ext_size());
  }

  alignas(8) char bytes_[inline_capacity + 1] = {};
};

static_assert(sizeof(small_key) == 24, "a small_key is three words");

} // namespace ember::codec
