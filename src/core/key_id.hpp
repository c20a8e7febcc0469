// Key ids: short, public names for keys, carried in envelopes and records so the right key is chosen.
#pragma once

#include <array>
#include <cstdint>

#include "core/bytes.hpp"

namespace sealpost {

inline constexpr std::size_t kKeyIdBytes = 8;
using KeyId = std::array<std::uint8_t, kKeyIdBytes>;

// Of a public key (X25519 or Ed25519): the first 8 bytes of BLAKE2b-256 (crypto_generichash, no key)
// of the 32 key bytes. This is the format of DESIGN.md's sealed push envelope.
KeyId public_key_id(ByteView public_key);

// Of a secret symmetric key: the first 8 bytes of BLAKE2b-256 keyed with the key itself over the
// label "sealpost/key-id/v1". A MAC of a constant: it names the key and reveals nothing of it.
KeyId secret_key_id(ByteView secret_key);

}  // namespace sealpost
