// Shared by the libFuzzer targets in tests/fuzz/fuzz_*.cpp.
//
// Each target is one `LLVMFuzzerTestOneInput(bytes, size)` that feeds a decoder and checks properties
// that must hold for every input (a status from the documented set, outputs zeroed on failure, round
// trips). A broken property aborts, which libFuzzer reports as a crash and tests/fuzz/replay turns into a
// failing ctest. The same file builds two ways: with clang's -fsanitize=fuzzer (build/fuzz) and with a
// plain main() that replays the checked-in corpus and regressions (build/native, build/native-asan).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "core/bytes.hpp"
#include "core/status.hpp"

#define FUZZ_CHECK(condition)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition);   \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

namespace sealpost::fuzz {

// Consumes bytes from the front of the input; past the end it yields zeros / empty views, so targets
// never read out of bounds whatever the input.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  ByteView take(std::size_t n) {
    if (n > size_ - pos_) n = size_ - pos_;
    const ByteView out(data_ + pos_, n);
    pos_ += n;
    return out;
  }

  ByteView rest() { return take(size_ - pos_); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

inline bool one_of(Status status, std::initializer_list<Status> allowed) {
  for (Status s : allowed) {
    if (s == status) return true;
  }
  return false;
}

// Byte equality that is defined for empty views too (memcmp's pointers must not be null, and an empty
// vector's data() may be).
inline bool equal(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

inline bool all_zero(ByteView bytes) {
  std::uint8_t acc = 0;
  for (std::uint8_t b : bytes) acc = static_cast<std::uint8_t>(acc | b);
  return acc == 0;
}

}  // namespace sealpost::fuzz
