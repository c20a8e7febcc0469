// Zeroing the stack that secret-handling calls leave behind.
//
// libsodium 1.0.18 leaves pieces of keys and plaintexts in its stack frames: chacha20 copies the last
// partial block of a message into a 64-byte local it never zeroes (in a decryption, that is plaintext).
// A frame is dead memory once its function returns, but in a Wasm module the stack is part of the linear
// memory that JS can read, and it keeps those bytes until a later call happens to overwrite them.
//
// A StackWipe at the top of a function that handles secrets zeroes, when it goes out of scope, the
// kStackWipeBytes of stack below that function's frame: everything its callees used. The deepest export
// (push opening) uses about 3.8 KiB; tests/node/secrets.test.js fails if one goes deeper than this.
#pragma once

#include <cstddef>

namespace sealpost {

inline constexpr std::size_t kStackWipeBytes = 8192;

// Zeroes kStackWipeBytes of stack below the caller's frame. Never inlined.
void wipe_stack();

class StackWipe {
 public:
  StackWipe() = default;
  StackWipe(const StackWipe&) = delete;
  StackWipe& operator=(const StackWipe&) = delete;
  ~StackWipe() { wipe_stack(); }
};

}  // namespace sealpost
