// SecretBytes: an owned buffer for key material and plaintext that is zeroed (sodium_memzero) whenever
// it is destroyed, resized away or overwritten by a move. Not copyable: a secret has one owner.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/bytes.hpp"

namespace sealpost {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : data_(size ? new std::uint8_t[size]() : nullptr), size_(size) {}
  explicit SecretBytes(ByteView bytes) : SecretBytes(bytes.size()) {
    for (std::size_t i = 0; i < size_; ++i) data_[i] = bytes[i];
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      wipe();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ByteView view() const { return {data_, size_}; }
  MutableByteView mutable_view() { return {data_, size_}; }

  // Zeroes and releases the buffer.
  void wipe() {
    if (data_ != nullptr) {
      sodium_memzero(data_, size_);
      delete[] data_;
    }
    data_ = nullptr;
    size_ = 0;
  }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace sealpost
