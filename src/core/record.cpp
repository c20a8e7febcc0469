#include "core/record.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "core/sodium_init.hpp"

namespace sealpost::record {

namespace {

constexpr std::string_view kContext = "sealpost/outbox/v1";

// Copies `bytes` to `at` and returns the end of the copy.
std::uint8_t* put(std::uint8_t* at, const void* bytes, std::size_t size) {
  if (size > 0) std::memcpy(at, bytes, size);
  return at + size;
}

std::uint8_t* put_name(std::uint8_t* at, std::string_view name) {
  const std::uint8_t length[2] = {static_cast<std::uint8_t>(name.size() >> 8),
                                  static_cast<std::uint8_t>(name.size() & 0xff)};
  return put(put(at, length, 2), name.data(), name.size());
}

bool place_fits(const Place& place) {
  return place.database.size() <= kMaxNameBytes && place.queue.size() <= kMaxNameBytes &&
         place.entry_id.size() <= kMaxNameBytes;
}

// Sized once and filled with memcpy. Built with push_back and insert, it cost about an eighth of a 256-byte
// record seal in the -Oz module (profiled): std::vector's per-byte code, not inlined at -Oz.
Bytes associated_data(const Place& place, ByteView header) {
  Bytes ad(kContext.size() + 6 + place.database.size() + place.queue.size() + place.entry_id.size() +
           header.size());
  std::uint8_t* at = put(ad.data(), kContext.data(), kContext.size());
  at = put_name(at, place.database);
  at = put_name(at, place.queue);
  at = put_name(at, place.entry_id);
  put(at, header.data(), header.size());
  return ad;
}

}  // namespace

namespace {

Status seal_with_id(ByteView key, const KeyId& id, ByteView nonce, const Place& place, ByteView plaintext,
                    MutableByteView out) {
  if (!ensure_sodium()) return Status::crypto_failure;
  if (key.size() != kKeyBytes || nonce.size() != kNonceBytes || !place_fits(place)) {
    return Status::invalid_argument;
  }
  if (plaintext.size() > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX - kOverhead) {
    return Status::too_large;
  }
  if (out.size() != sealed_size(plaintext.size())) return Status::buffer_too_small;

  out[0] = kVersion;
  std::copy(id.begin(), id.end(), out.begin() + 1);
  std::copy(nonce.begin(), nonce.end(), out.begin() + 1 + kKeyIdBytes);
  const Bytes ad = associated_data(place, out.first(1 + kKeyIdBytes));

  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kHeaderBytes, &written, plaintext.data(),
                                                 plaintext.size(), ad.data(), ad.size(), nullptr,
                                                 nonce.data(), key.data()) != 0 ||
      written != plaintext.size() + kTagBytes) {
    sodium_memzero(out.data(), out.size());
    return Status::crypto_failure;
  }
  return Status::ok;
}

}  // namespace

Status seal(ByteView key, ByteView nonce, const Place& place, ByteView plaintext, MutableByteView out) {
  if (!ensure_sodium()) return Status::crypto_failure;
  return seal_with_id(key, secret_key_id(key), nonce, place, plaintext, out);
}

Status seal_random_nonce(ByteView key, const KeyId& key_id, const Place& place, ByteView plaintext,
                         MutableByteView out) {
  if (!ensure_sodium()) return Status::crypto_failure;
  std::uint8_t nonce[kNonceBytes];
  randombytes_buf(nonce, sizeof nonce);
  return seal_with_id(key, key_id, ByteView(nonce, sizeof nonce), place, plaintext, out);
}

Status seal_random_nonce(ByteView key, const Place& place, ByteView plaintext, MutableByteView out) {
  if (!ensure_sodium()) return Status::crypto_failure;
  return seal_random_nonce(key, secret_key_id(key), place, plaintext, out);
}

Status key_id_of(ByteView sealed, KeyId& id) {
  if (sealed.size() < kOverhead || sealed[0] != kVersion) return Status::record_tampered;
  std::copy(sealed.begin() + 1, sealed.begin() + 1 + kKeyIdBytes, id.begin());
  return Status::ok;
}

namespace {

// record::open without the zeroing of `out` on failure, which open does for every failure path.
Status open_into(ByteView key, const KeyId& id, const Place& place, ByteView sealed, MutableByteView out) {
  if (!ensure_sodium()) return Status::crypto_failure;
  if (key.size() != kKeyBytes || !place_fits(place)) return Status::invalid_argument;
  KeyId named{};
  if (const Status status = key_id_of(sealed, named); status != Status::ok) return status;
  if (out.size() != sealed.size() - kOverhead) return Status::buffer_too_small;
  if (sodium_memcmp(named.data(), id.data(), kKeyIdBytes) != 0) return Status::wrong_key;

  const Bytes ad = associated_data(place, sealed.first(1 + kKeyIdBytes));
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &written, nullptr, sealed.data() + kHeaderBytes,
                                                 sealed.size() - kHeaderBytes, ad.data(), ad.size(),
                                                 sealed.data() + 1 + kKeyIdBytes, key.data()) != 0) {
    return Status::record_tampered;
  }
  return Status::ok;
}

}  // namespace

Status open(ByteView key, const KeyId& key_id, const Place& place, ByteView sealed, MutableByteView out) {
  const Status status = open_into(key, key_id, place, sealed, out);
  if (status != Status::ok && !out.empty()) sodium_memzero(out.data(), out.size());
  return status;
}

Status open(ByteView key, const Place& place, ByteView sealed, MutableByteView out) {
  if (!ensure_sodium()) {
    if (!out.empty()) sodium_memzero(out.data(), out.size());
    return Status::crypto_failure;
  }
  return open(key, secret_key_id(key), place, sealed, out);
}

}  // namespace sealpost::record
