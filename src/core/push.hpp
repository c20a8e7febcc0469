// Sealed push envelopes (DESIGN.md "Sealed push"): opened by the device, sealed by the app server.
//
//   envelope = version (1 byte, 0x01) ‖ recipient key id (8 bytes, of the device's X25519 public key)
//            ‖ crypto_box_seal(inner, recipient X25519 public key)          — 48 bytes longer than inner
//   inner    = flags (1 byte: bit 0 = signed; other bits must be 0)
//            ‖ [signed] signer key id (8 bytes, of the server's Ed25519 public key)
//            ‖ [signed] crypto_sign_detached("sealpost/push/v1" ‖ recipient key id ‖ body) (64 bytes)
//            ‖ body
//   body     = UTF-8 JSON object ‖ optional ASCII spaces (padding)
//
// Key ids are public_key_id() (core/key_id.hpp). Time is always an argument (Unix seconds); replay is
// decided by the caller from the id and expiry that open() reports (js/push.js keeps the seen ids in
// IndexedDB), because the seen-id set is state that outlives one call.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "core/key_id.hpp"
#include "core/secret_bytes.hpp"
#include "core/status.hpp"

namespace sealpost::push {

inline constexpr std::uint8_t kVersion = 0x01;
inline constexpr std::uint8_t kFlagSigned = 0x01;
inline constexpr std::string_view kSignatureContext = "sealpost/push/v1";
inline constexpr std::size_t kPublicKeyBytes = 32;
inline constexpr std::size_t kSealBytes = 48;  // crypto_box_SEALBYTES
inline constexpr std::size_t kSignatureBytes = 64;
inline constexpr std::size_t kHeaderBytes = 1 + kKeyIdBytes;
inline constexpr std::size_t kSignedPrefixBytes = kKeyIdBytes + kSignatureBytes;
// The shortest envelope that can hold a flags byte: anything shorter is `malformed`.
inline constexpr std::size_t kMinEnvelopeBytes = kHeaderBytes + kSealBytes + 1;
// The receiver accepts at most this many envelope bytes.
inline constexpr std::size_t kMaxReceivedBytes = 4096;
// The sealer's default limit and its ceiling (what RFC 8291 leaves of a 4,096-byte push message).
inline constexpr std::size_t kDefaultMaxEnvelopeBytes = 3000;
inline constexpr std::size_t kMaxEnvelopeCeiling = 3993;
// base64url text of a kMaxReceivedBytes envelope is at most this long.
inline constexpr std::size_t kMaxReceivedTextBytes = (kMaxReceivedBytes * 4 + 2) / 3;

inline constexpr std::int64_t kDefaultTtlSeconds = 86400;
inline constexpr std::int64_t kMaxTtlSeconds = 2419200;
inline constexpr std::int64_t kDefaultMaxSkewSeconds = 300;
inline constexpr std::size_t kPadBuckets[] = {256, 512, 1024, 2048};

// Limits of the message fields (characters are Unicode code points).
inline constexpr std::size_t kMaxIdChars = 128;
inline constexpr std::size_t kMaxTitleChars = 256;
inline constexpr std::size_t kMaxBodyChars = 4096;
inline constexpr std::size_t kMaxTagChars = 256;
inline constexpr std::size_t kMaxUrlChars = 2048;
inline constexpr std::size_t kMaxCategoryChars = 64;
inline constexpr std::size_t kMaxActions = 2;
inline constexpr std::size_t kMaxActionIdChars = 64;
inline constexpr std::size_t kMaxActionTitleChars = 128;
// Unix seconds are accepted up to 2^53 - 1 so that JS reads them exactly.
inline constexpr std::int64_t kMaxSeconds = (std::int64_t{1} << 53) - 1;

// A device key: X25519 secret key (32) ‖ public key (32), as KeyKind::box stores it.
struct RecipientKey {
  ByteView secret_and_public;
  ByteView public_key() const { return secret_and_public.subspan(32, 32); }
  ByteView secret_key() const { return secret_and_public.subspan(0, 32); }
};

struct OpenOptions {
  // The device's keys that may open an envelope: the current one and any previous one still in its grace
  // period. An envelope for another key id is `unknown-recipient`.
  std::span<const RecipientKey> recipients;
  // Ed25519 public keys (32 bytes each) whose signatures are trusted. Empty: signatures are not required
  // (and cannot be checked; a signed envelope opens and reports its signer key id).
  std::span<const ByteView> trusted_signers;
  std::int64_t now = 0;  // Unix seconds
  std::int64_t max_skew_seconds = kDefaultMaxSkewSeconds;
};

struct Opened {
  nlohmann::json message;  // the validated message: known fields only, `ttl` filled in
  std::string id;
  std::int64_t iat = 0;
  std::int64_t expires_at = 0;  // iat + ttl: the id must be remembered until then
  KeyId recipient{};
  bool is_signed = false;
  KeyId signer{};  // when is_signed
};

// Accepts raw envelope bytes (first byte 0x01) or base64url text of them (padding optional, surrounding
// ASCII whitespace ignored) and runs every check of DESIGN.md in order except `replayed`:
//   too-large, malformed, unsupported-version, unknown-recipient, decrypt-failed, malformed (flags),
//   unsigned, unknown-signer, bad-signature, invalid-json, invalid-message, not-yet-valid, expired.
Status open(ByteView input, const OpenOptions& options, Opened& opened);

// Checks the fields of a message body (types, lengths, at most 2 actions, url a same-origin path) and
// returns the normalised message (known fields only, ttl defaulted) in `normalised`.
Status validate_message(const nlohmann::json& body, nlohmann::json& normalised);

// True for a same-origin path: starts with '/', not '//', no backslash, no control characters.
bool is_same_origin_path(std::string_view url);

// The key id of an envelope's recipient, without opening it (after the size and version checks; no
// base64url text).
Status recipient_of(ByteView envelope, KeyId& id);

struct SealOptions {
  ByteView recipient_public_key;             // X25519, 32 bytes
  const SecretBytes* signer = nullptr;       // Ed25519 secret key (seed ‖ public key, 64 bytes) or none
  std::int64_t now = 0;                      // Unix seconds: `iat` when the message has none
  std::size_t max_envelope_bytes = kDefaultMaxEnvelopeBytes;  // 1 .. kMaxEnvelopeCeiling
  // 16 random bytes for the `id` when the message has none (base64url); empty: from randombytes.
  ByteView id_bytes;
};

// The envelope size that a body of `body_bytes` (before padding) becomes, unpadded.
inline std::size_t envelope_size(std::size_t body_bytes, bool is_signed) {
  return kHeaderBytes + kSealBytes + 1 + (is_signed ? kSignedPrefixBytes : 0) + body_bytes;
}

// Seals a message (a JSON object text) for one device. Fills `id` (16 random bytes, base64url) and `iat`
// (options.now) when the message lacks them, validates it like the receiver, pads the body with spaces to
// the next bucket (256, 512, 1024, 2048 bytes, then the maximum the envelope limit leaves) and seals.
//   invalid-json / invalid-message: the message;   invalid-argument: a key or the limit;
//   not-yet-valid / expired: a given `iat` (and `ttl`) that no receiver would accept at options.now;
//   too-large: the envelope would exceed max_envelope_bytes; `needed` then holds its unpadded size.
Status seal(std::string_view message_json, const SealOptions& options, Bytes& envelope, std::size_t& needed);

}  // namespace sealpost::push
