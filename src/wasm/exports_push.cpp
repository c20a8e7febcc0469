// Sealed push at the Wasm boundary (src/core/push.hpp): opening for js/push/receiver.js, sealing for js/server.js.
// Exported names: src/wasm/exports_push.txt. Callers: js/wasm/push.js.
#include <sodium.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base64url.hpp"
#include "core/keyring.hpp"
#include "core/push.hpp"
#include "core/secret_bytes.hpp"
#include "core/stack_wipe.hpp"
#include "core/status.hpp"
#include "wasm/boundary.hpp"
#include "wasm/keyring_instance.hpp"

using sealpost::ByteView;
using sealpost::KeyKind;
using sealpost::Status;
namespace push = sealpost::push;

using sealpost::wasm::emit;
using sealpost::wasm::readable;
using sealpost::wasm::status;

namespace {

// Whole Unix seconds from JS (a double keeps every integer up to 2^53 exact).
bool to_seconds(double value, std::int64_t& out) {
  if (!std::isfinite(value) || value < 0 || value > static_cast<double>(push::kMaxSeconds)) return false;
  out = static_cast<std::int64_t>(std::floor(value));
  return true;
}

}  // namespace

extern "C" {

// Opens an envelope (raw bytes or base64url text) with the device keys behind `recipients` (box key
// handles, current first) and the trusted Ed25519 public keys `signers` (32 bytes each, concatenated;
// none: signatures not required). Every check but `replayed`; on success writes UTF-8 JSON
//   {"message": {...}, "id": "...", "iat": n, "expiresAt": n, "keyId": "<b64url>", "signer": "<b64url>"|null}
// and js/push/receiver.js decides `replayed` from id and expiresAt against its persisted seen-id store.
int sp_push_open(const int* recipients, std::size_t recipient_count, const std::uint8_t* signers,
                 std::size_t signers_len, const std::uint8_t* input, std::size_t input_len, double now_seconds,
                 double max_skew_seconds, std::uint8_t* out, std::size_t cap, std::size_t* out_len) {
  const sealpost::StackWipe wipe;  // libsodium and nlohmann leave key and message bytes in their frames
  if (!readable(recipients, recipient_count) || !readable(signers, signers_len) || !readable(input, input_len) ||
      out_len == nullptr || signers_len % push::kPublicKeyBytes != 0) {
    return status(Status::invalid_argument);
  }
  push::OpenOptions options;
  std::int64_t skew = 0;
  if (!to_seconds(now_seconds, options.now) || !to_seconds(max_skew_seconds, skew)) {
    return status(Status::invalid_argument);
  }
  options.max_skew_seconds = skew;

  std::vector<push::RecipientKey> keys;
  for (std::size_t i = 0; i < recipient_count; ++i) {
    const sealpost::SecretBytes* key = sealpost::wasm::keyring().find(recipients[i], KeyKind::box);
    if (key == nullptr) return status(Status::unknown_key);
    keys.push_back({key->view()});
  }
  std::vector<ByteView> trusted;
  for (std::size_t offset = 0; offset < signers_len; offset += push::kPublicKeyBytes) {
    trusted.emplace_back(signers + offset, push::kPublicKeyBytes);
  }
  options.recipients = keys;
  options.trusted_signers = trusted;

  push::Opened opened;
  if (const Status s = push::open(ByteView(input, input_len), options, opened); s != Status::ok) return status(s);

  nlohmann::json result = {
      {"message", std::move(opened.message)},
      {"id", opened.id},
      {"iat", opened.iat},
      {"expiresAt", opened.expires_at},
      {"keyId", sealpost::base64url_encode(opened.recipient)},
      {"signer", opened.is_signed ? nlohmann::json(sealpost::base64url_encode(opened.signer)) : nlohmann::json()},
  };
  std::string text = result.dump();
  const sealpost::SecretBytes plaintext(sealpost::as_bytes(text));
  sodium_memzero(text.data(), text.size());
  return emit(plaintext.view(), out, cap, out_len);
}

// Seals a message (JSON object text) for the X25519 public key `recipient_pk`, signed with the sign key
// behind `signer` (0: unsigned). Fills id and iat when absent (iat = now_seconds). With too-large,
// *out_len is the size the envelope would have had.
int sp_push_seal(const std::uint8_t* recipient_pk, std::size_t recipient_pk_len, int signer,
                 const char* message, std::size_t message_len, double now_seconds, std::size_t max_envelope_bytes,
                 std::uint8_t* out, std::size_t cap, std::size_t* out_len) {
  const sealpost::StackWipe wipe;  // libsodium and nlohmann leave key and message bytes in their frames
  if (!readable(recipient_pk, recipient_pk_len) || !readable(message, message_len) || out_len == nullptr) {
    return status(Status::invalid_argument);
  }
  push::SealOptions options;
  options.recipient_public_key = ByteView(recipient_pk, recipient_pk_len);
  options.max_envelope_bytes = max_envelope_bytes;
  if (!to_seconds(now_seconds, options.now)) return status(Status::invalid_argument);
  if (signer != 0) {
    options.signer = sealpost::wasm::keyring().find(signer, KeyKind::sign);
    if (options.signer == nullptr) return status(Status::unknown_key);
  }
  sealpost::Bytes envelope;
  std::size_t needed = 0;
  const Status s = push::seal(std::string_view(message, message_len), options, envelope, needed);
  *out_len = needed;
  if (s != Status::ok) return status(s);
  return emit(envelope, out, cap, out_len);
}

}  // extern "C"
