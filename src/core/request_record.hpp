// Request records: the plaintext of an outbox entry, then sealed with record.hpp (XChaCha20-Poly1305, AD
// binding database, queue and id). Version 2 (this one):
//
//   u8 2 ‖ u32le n ‖ n bytes of JSON text (UTF-8) ‖ the inline body's bytes (all that follow; none if the
//   request has no body or a streamed one)
//
// The JSON is one object, the request's fields as validate() accepts them, written by nlohmann/json:
//   { "method": text, "url": text, "headers": [[name, value], ...],
//     "credentials", "mode", "cache", "redirect", "referrer", "referrerPolicy", "integrity": text,
//     "keepalive": bool, "metadata": any,
//     "stream": { "header": text (hex of the secretstream header), "size": uint, "chunks": uint } }
//
// Version 1 records (sealpost 0.1.0) were one CBOR map of the same fields plus "v": 1 and "body" (bytes).
// They are no longer read (CBOR's reader and writer were about 5 KB of the module gzipped): a record whose
// plaintext starts with a CBOR map head (0xa0-0xbf) decodes to unsupported_version, and the outbox
// dead-letters its entry with that code.
//
// Across the boundary the fields travel as JSON text (everything but the body) and the body as bytes.
// Metadata nests at most 32 arrays/objects deep (validate() checks it without recursion): nlohmann's JSON
// writer recurses once per level, and the Wasm stack is 128 KiB; its parser does not recurse.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "core/record.hpp"
#include "core/secret_bytes.hpp"
#include "core/status.hpp"

namespace sealpost::request_record {

inline constexpr std::uint8_t kVersion = 2;
inline constexpr std::size_t kHeaderBytes = 5;  // version byte and the JSON's length
// The first bytes a version-1 (CBOR map) plaintext can start with.
inline constexpr std::uint8_t kVersion1FirstByte = 0xa0;
inline constexpr std::uint8_t kVersion1LastByte = 0xbf;
inline constexpr std::size_t kMaxUrlBytes = 65536;
inline constexpr std::size_t kMaxHeaders = 1000;

// Checks the fields of a request (the JSON object without "body"); invalid_request if one is wrong,
// with its name in `field`. A mode of "navigate" is rewritten to "same-origin" (fetch cannot replay it).
Status validate(nlohmann::json& fields, std::string& field);

// fields (JSON text) + body → version-2 plaintext (SecretBytes: it holds the request).
Status encode(ByteView fields_json, ByteView body, SecretBytes& plaintext, std::string& field);

// Plaintext → fields as JSON text and the inline body (empty if none or streamed). malformed, or
// unsupported_version for a version-1 record.
Status decode(ByteView plaintext, SecretBytes& fields_json, SecretBytes& body);

// encode + record::seal_random_nonce.
Status seal(ByteView key, const record::Place& place, ByteView fields_json, ByteView body, Bytes& sealed,
            std::string& field);

// record::open + decode. Output framing, for the boundary: u32le(len fields) ‖ fields JSON ‖ body.
// unsupported_version for a version-1 record; record_tampered for one that authenticates but does not decode.
Status open(ByteView key, const record::Place& place, ByteView sealed, SecretBytes& framed);

// Fuzz entry point: decodes `bytes` as a request record's plaintext; ok, malformed or unsupported_version.
// Never crashes.
Status check(ByteView bytes);

}  // namespace sealpost::request_record
