#include "core/key_id.hpp"

#include <sodium.h>

#include <string_view>

namespace sealpost {

namespace {
constexpr std::string_view kSecretKeyIdLabel = "sealpost/key-id/v1";
}

KeyId public_key_id(ByteView public_key) {
  std::array<std::uint8_t, crypto_generichash_BYTES> digest{};
  crypto_generichash(digest.data(), digest.size(), public_key.data(), public_key.size(), nullptr, 0);
  KeyId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = digest[i];
  return id;
}

KeyId secret_key_id(ByteView secret_key) {
  std::array<std::uint8_t, crypto_generichash_BYTES> digest{};
  const ByteView label = as_bytes(kSecretKeyIdLabel);
  crypto_generichash(digest.data(), digest.size(), label.data(), label.size(), secret_key.data(),
                     secret_key.size());
  KeyId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = digest[i];
  return id;
}

}  // namespace sealpost
