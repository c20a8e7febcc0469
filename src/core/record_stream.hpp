// Large bodies as a chunk stream: libsodium crypto_secretstream_xchacha20poly1305 under the outbox key,
// so neither sealing nor opening ever holds more than one chunk in memory.
//
//   stream header (24 bytes, kept inside the entry's sealed request record)
//   chunk i       = crypto_secretstream push(plaintext chunk, AD_i, tag MESSAGE | FINAL on the last)
//   AD_i          = "sealpost/outbox-chunk/v1" ‖ u16be-length-prefixed database, queue, entry id ‖ u32be(i)
//
// A chunk moved to another entry, reordered, dropped, truncated at the end (no FINAL) or changed in any
// bit fails to open (record_tampered).
#pragma once

#include <sodium.h>

#include <cstdint>
#include <string>

#include "core/bytes.hpp"
#include "core/record.hpp"
#include "core/status.hpp"

namespace sealpost::record_stream {

inline constexpr std::size_t kHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;  // 24
inline constexpr std::size_t kChunkOverhead = crypto_secretstream_xchacha20poly1305_ABYTES;     // 17
inline constexpr std::size_t kMaxChunkBytes = 1 << 20;

// A place whose names are owned (the stream outlives the call that started it).
struct OwnedPlace {
  std::string database, queue, entry_id;
  record::Place view() const { return {database, queue, entry_id}; }
};

class Sealer {
 public:
  Sealer() = default;
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;
  ~Sealer();
  // Starts a stream; writes its header (kHeaderBytes) to `header`.
  Status init(ByteView key, const record::Place& place, MutableByteView header);
  // Seals the next chunk into `out` (exactly chunk.size() + kChunkOverhead bytes).
  Status push(ByteView chunk, bool final, MutableByteView out);

 private:
  crypto_secretstream_xchacha20poly1305_state state_{};
  OwnedPlace place_;
  std::uint32_t index_ = 0;
  bool started_ = false;
  bool finished_ = false;
};

class Opener {
 public:
  Opener() = default;
  Opener(const Opener&) = delete;
  Opener& operator=(const Opener&) = delete;
  ~Opener();
  Status init(ByteView key, const record::Place& place, ByteView header);
  // Opens the next chunk into `out` (exactly sealed.size() - kChunkOverhead bytes); `final` tells
  // whether it was the last. A chunk after the final one is record_tampered.
  Status pull(ByteView sealed, MutableByteView out, bool& final);
  bool finished() const { return finished_; }

 private:
  crypto_secretstream_xchacha20poly1305_state state_{};
  OwnedPlace place_;
  std::uint32_t index_ = 0;
  bool started_ = false;
  bool finished_ = false;
};

// Fuzz entry point: bytes = header (24) ‖ repeated (u32le length ‖ sealed chunk), opened under a fixed
// all-zero key at a fixed place. ok only if every chunk opens and the last is final; never crashes.
Status check(ByteView bytes);

}  // namespace sealpost::record_stream
