// Fuzz target: importing raw key bytes into the keyring and naming keys (src/core/keyring.hpp,
// src/core/key_id.hpp, record::key_id_of): the paths that take key bytes and key ids from storage.
//
// Input: one kind byte ‖ the key bytes. Properties, for every input:
//   - an unknown kind or a wrong size is refused with invalid-argument and leaves the keyring empty;
//   - a box or sign key whose public half does not match its secret half is refused;
//   - an accepted key exports as the same bytes, is named by the id of its public half (box, sign) or by
//     its keyed id (symmetric), and is gone after release;
//   - key ids of arbitrary bytes and record key ids of arbitrary records never read out of bounds.
#include <sodium.h>

#include <cstring>

#include "core/key_id.hpp"
#include "core/keyring.hpp"
#include "core/record.hpp"
#include "core/sodium_init.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sealpost;
  FUZZ_CHECK(ensure_sodium());
  fuzz::Input input(data, size);
  const int kind = input.byte() % 5;  // 0 and 4 are not kinds
  const ByteView bytes = input.rest();

  // Arbitrary bytes as a public key and as a sealed record's header.
  (void)public_key_id(bytes);
  KeyId record_id{};
  const Status record_status = record::key_id_of(bytes, record_id);
  FUZZ_CHECK(fuzz::one_of(record_status, {Status::ok, Status::record_tampered}));

  if (!valid_kind(kind)) {
    FUZZ_CHECK(kind == 0 || kind == 4);
    return 0;
  }
  Keyring ring;
  const KeyKind key_kind = static_cast<KeyKind>(kind);
  const int handle = ring.import(key_kind, bytes);
  if (handle <= 0) {
    FUZZ_CHECK(handle == -to_int(Status::invalid_argument));
    FUZZ_CHECK(ring.size() == 0);
    return 0;
  }
  FUZZ_CHECK(bytes.size() == key_size(key_kind));
  const SecretBytes* key = ring.find(handle, key_kind);
  FUZZ_CHECK(key != nullptr && key->size() == bytes.size());
  FUZZ_CHECK(std::memcmp(key->data(), bytes.data(), bytes.size()) == 0);

  KeyId id{};
  FUZZ_CHECK(ring.key_id(handle, id) == Status::ok);
  if (key_kind == KeyKind::symmetric) {
    FUZZ_CHECK(ring.public_key(handle).empty());
    FUZZ_CHECK(id == secret_key_id(bytes));
  } else {
    const ByteView pk = ring.public_key(handle);
    FUZZ_CHECK(pk.size() == 32 && std::memcmp(pk.data(), bytes.data() + 32, 32) == 0);
    FUZZ_CHECK(id == public_key_id(pk));
    // Accepted only because the public half is the one the secret half derives.
    std::uint8_t derived[32];
    if (key_kind == KeyKind::box) {
      FUZZ_CHECK(crypto_scalarmult_base(derived, bytes.data()) == 0);
    } else {
      std::uint8_t sk[64];
      FUZZ_CHECK(crypto_sign_seed_keypair(derived, sk, bytes.data()) == 0);
      sodium_memzero(sk, sizeof sk);
    }
    FUZZ_CHECK(std::memcmp(derived, pk.data(), 32) == 0);
  }
  FUZZ_CHECK(ring.release(handle));
  FUZZ_CHECK(!ring.release(handle));
  FUZZ_CHECK(ring.size() == 0 && ring.find(handle, key_kind) == nullptr);
  return 0;
}
