// Status codes: the numbers that cross the Wasm boundary and the stable strings that
// SealpostError.code carries in JS. js/errors.js holds the same table; tests/node/errors.test.js
// checks that the two agree, code by code. Numbers are never reused.
#pragma once

#include <string_view>

namespace sealpost {

#define SEALPOST_STATUS_LIST(X)                      \
  X(ok, 0, "ok")                                     \
  X(invalid_argument, 1, "invalid-argument")         \
  X(buffer_too_small, 2, "buffer-too-small")         \
  X(out_of_memory, 3, "out-of-memory")               \
  X(crypto_failure, 4, "crypto-failure")             \
  X(unknown_key, 5, "unknown-key")                   \
  X(unsupported, 6, "unsupported")                   \
  X(record_tampered, 10, "record-tampered")          \
  X(key_lost, 11, "key-lost")                        \
  X(wrong_key, 12, "wrong-key")                      \
  X(too_large, 20, "too-large")                      \
  X(malformed, 21, "malformed")                      \
  X(unsupported_version, 22, "unsupported-version")  \
  X(unknown_recipient, 23, "unknown-recipient")      \
  X(decrypt_failed, 24, "decrypt-failed")            \
  X(unsigned_message, 25, "unsigned")                \
  X(unknown_signer, 26, "unknown-signer")            \
  X(bad_signature, 27, "bad-signature")              \
  X(invalid_json, 28, "invalid-json")                \
  X(invalid_message, 29, "invalid-message")          \
  X(not_yet_valid, 30, "not-yet-valid")              \
  X(expired, 31, "expired")                          \
  X(replayed, 32, "replayed")                        \
  X(invalid_policy, 40, "invalid-policy")            \
  X(invalid_request, 41, "invalid-request")          \
  X(quota, 42, "quota")                              \
  X(storage_full, 43, "storage-full")                \
  X(closed, 44, "closed")                            \
  X(wasm_load_failed, 45, "wasm-load-failed")

enum class Status : int {
#define SEALPOST_STATUS_ENUM(name, number, text) name = number,
  SEALPOST_STATUS_LIST(SEALPOST_STATUS_ENUM)
#undef SEALPOST_STATUS_ENUM
};

// The stable string for a status ("record-tampered"), or an empty view for a number that is not one.
std::string_view status_name(int status);

inline int to_int(Status status) { return static_cast<int>(status); }

}  // namespace sealpost
