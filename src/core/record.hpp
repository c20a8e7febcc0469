// Outbox records sealed at rest with XChaCha20-Poly1305 (libsodium crypto_aead_xchacha20poly1305_ietf).
//
//   record = version (1 byte, 0x01) ‖ key id (8 bytes, secret_key_id of the outbox key)
//          ‖ nonce (24 bytes, random per seal) ‖ ciphertext ‖ tag (16 bytes)
//
// The associated data binds a record to its place and to its own header:
//
//   AD = "sealpost/outbox/v1" ‖ u16be(len db) ‖ db ‖ u16be(len queue) ‖ queue
//        ‖ u16be(len entry id) ‖ entry id ‖ version ‖ key id
//
// Each name is length-prefixed so that ("ab", "c") and ("a", "bc") are different places.
// A record moved to another database, queue or id, or changed in any bit, fails to open.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/bytes.hpp"
#include "core/key_id.hpp"
#include "core/secret_bytes.hpp"
#include "core/status.hpp"

namespace sealpost::record {

inline constexpr std::uint8_t kVersion = 0x01;
inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kNonceBytes = 24;
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::size_t kHeaderBytes = 1 + kKeyIdBytes + kNonceBytes;
inline constexpr std::size_t kOverhead = kHeaderBytes + kTagBytes;
inline constexpr std::size_t kMaxNameBytes = 0xffff;

// Where a record lives; every field is part of the associated data.
struct Place {
  std::string_view database;
  std::string_view queue;
  std::string_view entry_id;
};

inline std::size_t sealed_size(std::size_t plaintext_size) { return plaintext_size + kOverhead; }

// Seals `plaintext` into `out` (exactly sealed_size(plaintext.size()) bytes) with the given nonce.
// Callers outside tests pass a fresh random nonce (seal_random_nonce).
Status seal(ByteView key, ByteView nonce, const Place& place, ByteView plaintext, MutableByteView out);

// Seals with a fresh nonce from libsodium's randombytes.
Status seal_random_nonce(ByteView key, const Place& place, ByteView plaintext, MutableByteView out);

// The same for a key whose id is already known (`key_id` must be secret_key_id(key); the keyring keeps it),
// which saves the BLAKE2b of the key on every call.
Status seal_random_nonce(ByteView key, const KeyId& key_id, const Place& place, ByteView plaintext,
                         MutableByteView out);

// Opens `sealed` into `out` (exactly sealed.size() - kOverhead bytes).
//   record_tampered: too short, unknown version, or authentication failed (any bit, wrong place)
//   wrong_key:       the record names a key other than `key`
// On failure `out` is zeroed.
Status open(ByteView key, const Place& place, ByteView sealed, MutableByteView out);
Status open(ByteView key, const KeyId& key_id, const Place& place, ByteView sealed, MutableByteView out);

// The key id a sealed record names, without opening it.
Status key_id_of(ByteView sealed, KeyId& id);

}  // namespace sealpost::record
