#include "core/keyring.hpp"

#include <sodium.h>

#include "core/sodium_init.hpp"

namespace sealpost {
namespace {
// The X25519 base point u = 9, little-endian.
constexpr std::uint8_t kX25519BasePoint[crypto_scalarmult_BYTES] = {9};
}  // namespace

std::size_t key_size(KeyKind kind) {
  switch (kind) {
    case KeyKind::symmetric:
      return 32;
    case KeyKind::box:
      return crypto_box_SECRETKEYBYTES + crypto_box_PUBLICKEYBYTES;
    case KeyKind::sign:
      return crypto_sign_SECRETKEYBYTES;
  }
  return 0;
}

bool valid_kind(int kind) { return kind >= 1 && kind <= 3; }

int Keyring::put(KeyKind kind, SecretBytes bytes) {
  // The public half of a box or sign key follows its 32-byte secret key or seed.
  const KeyId id = kind == KeyKind::symmetric ? secret_key_id(bytes.view()) : public_key_id(bytes.view().subspan(32, 32));
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].used) {
      slots_[i] = Slot{kind, std::move(bytes), id, true};
      return static_cast<int>(i + 1);
    }
  }
  slots_.push_back(Slot{kind, std::move(bytes), id, true});
  return static_cast<int>(slots_.size());
}

int Keyring::generate(KeyKind kind) {
  if (!ensure_sodium()) return -to_int(Status::crypto_failure);
  SecretBytes bytes(key_size(kind));
  switch (kind) {
    case KeyKind::symmetric:
      randombytes_buf(bytes.data(), bytes.size());
      break;
    case KeyKind::box:
      // X25519(sk, 9) with the Montgomery ladder, the same key pair crypto_box_keypair() makes, without
      // reaching libsodium's Ed25519 base-point table (30 KB of Wasm data a worker never needs).
      randombytes_buf(bytes.data(), crypto_box_SECRETKEYBYTES);
      if (crypto_scalarmult(bytes.data() + crypto_box_SECRETKEYBYTES, bytes.data(), kX25519BasePoint) != 0) {
        return -to_int(Status::crypto_failure);
      }
      break;
    case KeyKind::sign: {
#if SEALPOST_NO_SIGNING
      return -to_int(Status::unsupported);
#else
      std::uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
      crypto_sign_keypair(public_key, bytes.data());
      break;
#endif
    }
  }
  return put(kind, std::move(bytes));
}

int Keyring::import(KeyKind kind, ByteView bytes) {
  if (!ensure_sodium()) return -to_int(Status::crypto_failure);
  if (bytes.size() != key_size(kind)) return -to_int(Status::invalid_argument);
  SecretBytes copy(bytes);
  if (kind == KeyKind::box) {
    std::uint8_t derived[crypto_box_PUBLICKEYBYTES];
    if (crypto_scalarmult(derived, copy.data(), kX25519BasePoint) != 0) return -to_int(Status::invalid_argument);
    if (sodium_memcmp(derived, copy.data() + crypto_box_SECRETKEYBYTES, sizeof derived) != 0) {
      return -to_int(Status::invalid_argument);
    }
  } else if (kind == KeyKind::sign) {
#if SEALPOST_NO_SIGNING
    return -to_int(Status::unsupported);
#else
    std::uint8_t derived_pk[crypto_sign_PUBLICKEYBYTES];
    SecretBytes derived_sk(crypto_sign_SECRETKEYBYTES);
    crypto_sign_seed_keypair(derived_pk, derived_sk.data(), copy.data());
    if (sodium_memcmp(derived_pk, copy.data() + crypto_sign_SEEDBYTES, sizeof derived_pk) != 0) {
      return -to_int(Status::invalid_argument);
    }
#endif
  }
  return put(kind, std::move(copy));
}

const Keyring::Slot* Keyring::slot(int handle) const {
  if (handle <= 0 || static_cast<std::size_t>(handle) > slots_.size()) return nullptr;
  const Slot& s = slots_[static_cast<std::size_t>(handle) - 1];
  return s.used ? &s : nullptr;
}

const SecretBytes* Keyring::find(int handle, KeyKind kind) const {
  const Slot* s = slot(handle);
  return (s != nullptr && s->kind == kind) ? &s->bytes : nullptr;
}

KeyKind Keyring::kind_of(int handle) const {
  const Slot* s = slot(handle);
  return s != nullptr ? s->kind : KeyKind::symmetric;
}

bool Keyring::contains(int handle) const { return slot(handle) != nullptr; }

ByteView Keyring::public_key(int handle) const {
  const Slot* s = slot(handle);
  if (s == nullptr) return {};
  switch (s->kind) {
    case KeyKind::box:
      return s->bytes.view().subspan(crypto_box_SECRETKEYBYTES, crypto_box_PUBLICKEYBYTES);
    case KeyKind::sign:
      return s->bytes.view().subspan(crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES);
    case KeyKind::symmetric:
      break;
  }
  return {};
}

Status Keyring::key_id(int handle, KeyId& id) const {
  const Slot* s = slot(handle);
  if (s == nullptr) return Status::unknown_key;
  id = s->id;
  return Status::ok;
}

bool Keyring::release(int handle) {
  if (slot(handle) == nullptr) return false;
  Slot& s = slots_[static_cast<std::size_t>(handle) - 1];
  s.bytes.wipe();
  s.used = false;
  return true;
}

std::size_t Keyring::size() const {
  std::size_t n = 0;
  for (const Slot& s : slots_) n += s.used ? 1 : 0;
  return n;
}

}  // namespace sealpost
