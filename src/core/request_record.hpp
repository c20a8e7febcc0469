// Request records: the plaintext of an outbox entry, encoded with nlohmann/json's CBOR so the body
// stays binary, then sealed with record.hpp (XChaCha20-Poly1305, AD binding database, queue and id).
//
//   CBOR map { "v": 1, "method": text, "url": text, "headers": [[name, value], ...],
//              "credentials", "mode", "cache", "redirect", "referrer", "referrerPolicy", "integrity": text,
//              "keepalive": bool, "metadata": any, "body": bytes (inline bodies)
//              | "stream": { "header": text (hex of the secretstream header), "size": uint, "chunks": uint } }
//
// Across the boundary the fields travel as JSON text (everything but the body) and the body as bytes.
// Metadata nests at most 32 arrays/objects deep, and the decoder checks the CBOR's nesting before parsing
// it: nlohmann's CBOR reader and writer recurse once per level, and the Wasm stack is 128 KiB.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "core/record.hpp"
#include "core/secret_bytes.hpp"
#include "core/status.hpp"

namespace sealpost::request_record {

inline constexpr std::uint64_t kVersion = 1;
inline constexpr std::size_t kMaxUrlBytes = 65536;
inline constexpr std::size_t kMaxHeaders = 1000;

// Checks the fields of a request (the JSON object without "body"); invalid_request if one is wrong,
// with its name in `field`. A mode of "navigate" is rewritten to "same-origin" (fetch cannot replay it).
Status validate(nlohmann::json& fields, std::string& field);

// fields (JSON text) + body → CBOR plaintext (SecretBytes: it holds the request).
Status encode(ByteView fields_json, ByteView body, SecretBytes& plaintext, std::string& field);

// CBOR plaintext → fields as JSON text (body removed) and the inline body (empty if none or streamed).
Status decode(ByteView plaintext, SecretBytes& fields_json, SecretBytes& body);

// encode + record::seal_random_nonce.
Status seal(ByteView key, const record::Place& place, ByteView fields_json, ByteView body, Bytes& sealed,
            std::string& field);

// record::open + decode. Output framing, for the boundary: u32le(len fields) ‖ fields JSON ‖ body.
Status open(ByteView key, const record::Place& place, ByteView sealed, SecretBytes& framed);

// Fuzz entry point: decodes `bytes` as a CBOR request record; ok or malformed. Never crashes.
Status check(ByteView bytes);

}  // namespace sealpost::request_record
