#include "core/group_tag.hpp"

#include <sodium.h>

#include "core/sodium_init.hpp"

namespace sealpost {

Status group_tag(ByteView key, std::string_view group, GroupTag& tag) {
  if (!ensure_sodium()) return Status::crypto_failure;
  if (key.size() < crypto_generichash_KEYBYTES_MIN || key.size() > crypto_generichash_KEYBYTES_MAX) {
    return Status::invalid_argument;
  }
  constexpr std::string_view kContext = "sealpost/outbox-group/v1";
  crypto_generichash_state state;
  crypto_generichash_init(&state, key.data(), key.size(), tag.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(kContext.data()), kContext.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(group.data()), group.size());
  crypto_generichash_final(&state, tag.data(), tag.size());
  sodium_memzero(&state, sizeof state);
  return Status::ok;
}

}  // namespace sealpost
