// box.hpp: a heap-held value with value semantics.
//
// Holds the large alternatives of codec::value out of line, so that a
// keyspace entry (and every hash node holding one) stays small while most
// keys hold strings. Copies are deep (a keyspace segment cloned for
// copy-on-write must not share collections with its original).
#pragma once

#include <memory>
#include <utility>

namespace ember::codec {

template <class T>
class box {
public:
  template <class... Args>
  explicit box(std::in_place_t, Args&&... args)
    : ptr_(std::make_unique<T>(std::forward<Args>(args)...)) {
  }

  box(const box& other) : ptr_(std::make_unique<T>(*other)) {
  }
  box(box&&) noexcept = default;

  box& operator=(const box& other) {
    if (this != &other)
      ptr_ = std::make_unique<T>(*other);
    return *this;
  }
  box& operator=(box&&) noexcept = default;

  /// A moved-from box is empty: only assign to it or destroy it.
  T& operator*() noexcept {
    return *ptr_;
  }
  const T& operator*() const noexcept {
    return *ptr_;
  }
  T* operator->() noexcept {
    return ptr_.get();
  }
  const T* operator->() const noexcept {
    return ptr_.get();
  }

private:
  std::unique_ptr<T> ptr_;
};

} // namespace ember::codec
