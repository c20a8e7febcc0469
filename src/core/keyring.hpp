// Keyring: the keys a running module holds, behind small integer handles.
//
// Raw key bytes live here, in SecretBytes that are zeroed on release; JS holds only handles and sees key
// bytes only when it exports a key to wrap it for storage (and zeroes that copy at once).
#pragma once

#include <vector>

#include "core/bytes.hpp"
#include "core/key_id.hpp"
#include "core/secret_bytes.hpp"
#include "core/status.hpp"

namespace sealpost {

enum class KeyKind : int {
  symmetric = 1,  // 32-byte XChaCha20-Poly1305 / secretstream key (outbox records)
  box = 2,        // X25519 key pair for crypto_box_seal: secret key (32) ‖ public key (32)
  sign = 3,       // Ed25519 secret key as libsodium stores it: seed (32) ‖ public key (32)
};

std::size_t key_size(KeyKind kind);
bool valid_kind(int kind);

class Keyring {
 public:
  // A handle (> 0) for a fresh key from libsodium, or -status.
  int generate(KeyKind kind);
  // A handle (> 0) for a copy of `bytes`, or -status (invalid_argument on a wrong size or a box/sign
  // key whose public half does not match its secret half).
  int import(KeyKind kind, ByteView bytes);
  // The key behind `handle` if it exists and is of `kind`.
  const SecretBytes* find(int handle, KeyKind kind) const;
  KeyKind kind_of(int handle) const;  // valid only if find succeeds for some kind
  bool contains(int handle) const;
  // The public half of a box or sign key; empty for a symmetric key.
  ByteView public_key(int handle) const;
  // Key id: public_key_id of the public half (box, sign) or secret_key_id (symmetric), computed once when
  // the key is added (it names the key and reveals nothing of it, so it is kept as it is).
  Status key_id(int handle, KeyId& id) const;
  // Zeroes and forgets the key. Returns false if the handle was not in use.
  bool release(int handle);
  std::size_t size() const;

 private:
  struct Slot {
    KeyKind kind = KeyKind::symmetric;
    SecretBytes bytes;
    KeyId id{};
    bool used = false;
  };
  int put(KeyKind kind, SecretBytes bytes);
  const Slot* slot(int handle) const;
  std::vector<Slot> slots_;
};

}  // namespace sealpost
