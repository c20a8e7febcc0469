#include "core/request_record.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>

#include <string>

#include "core/record_stream.hpp"
#include "core/sodium_init.hpp"

namespace sealpost {
namespace {

using nlohmann::json;

Bytes test_key(std::uint8_t fill = 7) { return Bytes(record::kKeyBytes, fill); }

const record::Place kPlace{"sealpost-outbox", "notes", "00112233445566778899aabbccddeeff"};

std::string fields_text() {
  return R"({"method":"POST","url":"https://example.test/api/notes?x=1","headers":[["content-type","application/octet-stream"],["authorization","Bearer s3cret"]],)"
         R"("credentials":"include","mode":"navigate","cache":"no-store","redirect":"manual","referrer":"about:client",)"
         R"("referrerPolicy":"no-referrer","integrity":"","keepalive":true,"metadata":{"note":7}})";
}

struct Opened {
  json fields;
  Bytes body;
};

Opened unframe(const SecretBytes& framed) {
  const std::uint8_t* p = framed.data();
  const std::size_t n = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::size_t>(p[3]) << 24);
  Opened opened;
  opened.fields = json::parse(p + 4, p + 4 + n, nullptr, false);
  opened.body.assign(p + 4 + n, p + framed.size());
  return opened;
}

TEST(RequestRecord, RoundTripsEveryFieldAndABinaryBody) {
  ASSERT_TRUE(ensure_sodium());
  Bytes body(70000);
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>(i * 31);
  Bytes sealed;
  std::string field;
  ASSERT_EQ(request_record::seal(test_key(), kPlace, as_bytes(fields_text()), body, sealed, field), Status::ok);
  // The body is stored as raw bytes: the record is barely larger than the body plus the fields.
  EXPECT_LT(sealed.size(), body.size() + fields_text().size() + 100);
  SecretBytes framed;
  ASSERT_EQ(request_record::open(test_key(), kPlace, sealed, framed), Status::ok);
  const Opened opened = unframe(framed);
  EXPECT_EQ(opened.body, body);
  EXPECT_EQ(opened.fields["method"], "POST");
  EXPECT_EQ(opened.fields["url"], "https://example.test/api/notes?x=1");
  EXPECT_EQ(opened.fields["headers"][1][1], "Bearer s3cret");
  EXPECT_EQ(opened.fields["mode"], "same-origin");  // navigate cannot be replayed
  EXPECT_EQ(opened.fields["credentials"], "include");
  EXPECT_EQ(opened.fields["keepalive"], true);
  EXPECT_EQ(opened.fields["metadata"]["note"], 7);
  EXPECT_FALSE(opened.fields.contains("body"));
  EXPECT_FALSE(opened.fields.contains("v"));
}

TEST(RequestRecord, NoPlaintextAtRestAndBoundToItsPlace) {
  const std::string secret = "Bearer s3cret";
  Bytes sealed;
  std::string field;
  ASSERT_EQ(request_record::seal(test_key(), kPlace, as_bytes(fields_text()), as_bytes("hello body"), sealed, field),
            Status::ok);
  EXPECT_EQ(as_text(sealed).find(secret), std::string_view::npos);
  EXPECT_EQ(as_text(sealed).find("example.test"), std::string_view::npos);
  SecretBytes framed;
  EXPECT_EQ(request_record::open(test_key(), {"sealpost-outbox", "other", kPlace.entry_id}, sealed, framed),
            Status::record_tampered);
  EXPECT_EQ(request_record::open(test_key(), {"sealpost-outbox", "notes", "ffff"}, sealed, framed),
            Status::record_tampered);
  EXPECT_EQ(request_record::open(test_key(9), kPlace, sealed, framed), Status::wrong_key);
  for (std::size_t bit = 0; bit < sealed.size() * 8; bit += 13) {
    Bytes flipped = sealed;
    flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    const Status s = request_record::open(test_key(), kPlace, flipped, framed);
    EXPECT_TRUE(s == Status::record_tampered || s == Status::wrong_key) << bit;
  }
}

TEST(RequestRecord, RefusesBadFieldsByName) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"url":"https://a.test/"})", "method"},
      {R"({"method":"PO ST","url":"https://a.test/"})", "method"},
      {R"({"method":"POST","url":""})", "url"},
      {R"({"method":"POST","url":"https://a.test/","headers":[["x-a","1\r\nInjected: yes"]]})", "headers"},
      {R"({"method":"POST","url":"https://a.test/","headers":{"a":"b"}})", "headers"},
      {R"({"method":"POST","url":"https://a.test/","credentials":"always"})", "credentials"},
      {R"({"method":"POST","url":"https://a.test/","cache":1})", "cache"},
      {R"({"method":"POST","url":"https://a.test/","redirect":"sometimes"})", "redirect"},
      {R"({"method":"POST","url":"https://a.test/","keepalive":"yes"})", "keepalive"},
      {R"({"method":"POST","url":"https://a.test/","stream":{"header":"00","size":1,"chunks":1}})", "stream"},
      {R"([1,2])", "request"},
      {R"({"method":)", "request"},
  };
  for (const auto& [text, expected] : cases) {
    Bytes sealed;
    std::string field;
    EXPECT_EQ(request_record::seal(test_key(), kPlace, as_bytes(text), {}, sealed, field), Status::invalid_request)
        << text;
    EXPECT_EQ(field, expected) << text;
  }
}

// A version-2 plaintext: u8 2 ‖ u32le length ‖ JSON text ‖ body.
Bytes plaintext_v2(std::string_view json_text, std::string_view body = {}, std::uint8_t version = 2) {
  const auto n = static_cast<std::uint32_t>(json_text.size());
  Bytes out(5 + json_text.size() + body.size());
  out[0] = version;
  for (std::size_t i = 0; i < 4; ++i) out[1 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  std::copy(json_text.begin(), json_text.end(), out.begin() + 5);
  std::copy(body.begin(), body.end(), out.begin() + 5 + static_cast<std::ptrdiff_t>(json_text.size()));
  return out;
}

TEST(RequestRecord, PlaintextIsVersionLengthJsonBody) {
  SecretBytes plaintext;
  std::string field;
  ASSERT_EQ(request_record::encode(as_bytes(R"({"url":"https://a.test/","method":"PUT","v":9,"body":"x"})"),
                                   as_bytes(std::string_view("raw\0body", 8)), plaintext, field),
            Status::ok);
  // Keys sorted, "v" and "body" dropped from the fields, the body's bytes as they are.
  EXPECT_EQ(Bytes(plaintext.view().begin(), plaintext.view().end()),
            plaintext_v2(R"({"method":"PUT","url":"https://a.test/"})", std::string_view("raw\0body", 8)));
  SecretBytes fields, body;
  ASSERT_EQ(request_record::decode(plaintext.view(), fields, body), Status::ok);
  EXPECT_EQ(as_text(fields.view()), R"({"method":"PUT","url":"https://a.test/"})");
  EXPECT_EQ(as_text(body.view()), std::string_view("raw\0body", 8));
}

TEST(RequestRecord, DecoderRejectsForeignPlaintexts) {
  EXPECT_EQ(request_record::check({}), Status::malformed);
  const Bytes good = plaintext_v2(R"({"method":"POST","url":"https://a.test/"})", "body");
  EXPECT_EQ(request_record::check(good), Status::ok);
  EXPECT_EQ(request_record::check(plaintext_v2(R"({"method":"POST","url":"https://a.test/"})", "", 3)),
            Status::malformed);
  EXPECT_EQ(request_record::check(plaintext_v2("[1,2]")), Status::malformed);
  EXPECT_EQ(request_record::check(plaintext_v2(R"({"method":"POST"})")), Status::malformed);
  EXPECT_EQ(request_record::check(plaintext_v2(R"({"method":"POST","url":"https://a.test/",})")), Status::malformed);
  // "v" and "body" are never among the fields the encoder writes.
  EXPECT_EQ(request_record::check(plaintext_v2(R"({"method":"POST","url":"https://a.test/","v":2})")),
            Status::malformed);
  EXPECT_EQ(request_record::check(plaintext_v2(R"({"body":"x","method":"POST","url":"https://a.test/"})")),
            Status::malformed);
  // Invalid UTF-8 in a string is refused (the encoder never writes it).
  EXPECT_EQ(request_record::check(plaintext_v2("{\"method\":\"POST\",\"url\":\"https://a.test/\xff\"}")),
            Status::malformed);
  EXPECT_EQ(request_record::check(plaintext_v2(R"({"method":"POST","url":"https://a.test/\udc00"})")),
            Status::malformed);
  // A JSON length beyond the plaintext, or cut anywhere inside the JSON.
  Bytes too_long = good;
  too_long[1] = 0xff;
  EXPECT_EQ(request_record::check(too_long), Status::malformed);
  too_long[1] = good[1];
  too_long[4] = 0x80;
  EXPECT_EQ(request_record::check(too_long), Status::malformed);
  for (std::size_t cut = 0; cut < good.size() - 4; ++cut) {
    EXPECT_EQ(request_record::check(ByteView(good).first(cut)), Status::malformed) << cut;
  }
}

// Version-1 records (one CBOR map, sealpost 0.1.0) are no longer read: unsupported_version, never fields.
TEST(RequestRecord, Version1RecordsAreUnsupportedVersion) {
  ASSERT_TRUE(ensure_sodium());
  const Bytes v1 = json::to_cbor(json{{"v", 1}, {"method", "POST"}, {"url", "https://a.test/"},
                                      {"body", json::binary({1, 2, 3})}});
  EXPECT_EQ(request_record::check(v1), Status::unsupported_version);
  SecretBytes fields, body;
  EXPECT_EQ(request_record::decode(v1, fields, body), Status::unsupported_version);
  Bytes sealed(record::sealed_size(v1.size()));
  ASSERT_EQ(record::seal_random_nonce(test_key(), kPlace, v1, sealed), Status::ok);
  SecretBytes framed;
  EXPECT_EQ(request_record::open(test_key(), kPlace, sealed, framed), Status::unsupported_version);
  EXPECT_TRUE(framed.empty());
  // Every CBOR map head, definite or not.
  for (unsigned head = 0xa0; head <= 0xbf; ++head) {
    EXPECT_EQ(request_record::check(Bytes{static_cast<std::uint8_t>(head)}), Status::unsupported_version) << head;
  }
  // A plaintext that authenticates but is neither version: record_tampered, as before.
  const Bytes foreign = {0x02, 0x00};
  Bytes foreign_sealed(record::sealed_size(foreign.size()));
  ASSERT_EQ(record::seal_random_nonce(test_key(), kPlace, foreign, foreign_sealed), Status::ok);
  EXPECT_EQ(request_record::open(test_key(), kPlace, foreign_sealed, framed), Status::record_tampered);
}

Bytes seal_stream(const Bytes& body, std::size_t chunk, Bytes& header, std::vector<Bytes>& chunks,
                  const record::Place& place = kPlace) {
  record_stream::Sealer sealer;
  header.assign(record_stream::kHeaderBytes, 0);
  EXPECT_EQ(sealer.init(test_key(), place, header), Status::ok);
  chunks.clear();
  std::size_t offset = 0;
  do {
    const std::size_t n = std::min(chunk, body.size() - offset);
    Bytes out(n + record_stream::kChunkOverhead);
    EXPECT_EQ(sealer.push(ByteView(body).subspan(offset, n), offset + n == body.size(), out), Status::ok);
    chunks.push_back(out);
    offset += n;
  } while (offset < body.size());
  return header;
}

Status open_stream(const Bytes& header, const std::vector<Bytes>& chunks, Bytes& body,
                   const record::Place& place = kPlace) {
  record_stream::Opener opener;
  if (const Status s = opener.init(test_key(), place, header); s != Status::ok) return s;
  body.clear();
  for (const Bytes& chunk : chunks) {
    Bytes out(chunk.size() - record_stream::kChunkOverhead);
    bool final = false;
    if (const Status s = opener.pull(chunk, out, final); s != Status::ok) return s;
    body.insert(body.end(), out.begin(), out.end());
  }
  return opener.finished() ? Status::ok : Status::record_tampered;
}

TEST(RecordStream, RoundTripsAndDetectsEveryKindOfTampering) {
  Bytes body(300000);
  randombytes_buf(body.data(), body.size());
  Bytes header, opened;
  std::vector<Bytes> chunks;
  seal_stream(body, 65536, header, chunks);
  ASSERT_EQ(chunks.size(), 5u);
  ASSERT_EQ(open_stream(header, chunks, opened), Status::ok);
  EXPECT_EQ(opened, body);

  auto dropped = chunks;
  dropped.erase(dropped.begin() + 2);
  EXPECT_EQ(open_stream(header, dropped, opened), Status::record_tampered);
  auto truncated = chunks;
  truncated.pop_back();
  EXPECT_EQ(open_stream(header, truncated, opened), Status::record_tampered);
  auto swapped = chunks;
  std::swap(swapped[0], swapped[1]);
  EXPECT_EQ(open_stream(header, swapped, opened), Status::record_tampered);
  auto flipped = chunks;
  flipped[3][100] ^= 1;
  EXPECT_EQ(open_stream(header, flipped, opened), Status::record_tampered);
  EXPECT_EQ(open_stream(header, chunks, opened, {"sealpost-outbox", "notes", "other"}), Status::record_tampered);
  // A chunk of another stream (same key, same place) does not open in this one.
  Bytes other_header;
  std::vector<Bytes> other_chunks;
  seal_stream(body, 65536, other_header, other_chunks);
  auto mixed = chunks;
  mixed[1] = other_chunks[1];
  EXPECT_EQ(open_stream(header, mixed, opened), Status::record_tampered);
  auto extra = chunks;
  extra.push_back(chunks.back());
  EXPECT_EQ(open_stream(header, extra, opened), Status::record_tampered);
}

TEST(RecordStream, FuzzEntryPointAcceptsOnlyCompleteStreams) {
  const Bytes zero_key(record::kKeyBytes, 0);
  record_stream::Sealer sealer;
  Bytes framed(record_stream::kHeaderBytes);
  ASSERT_EQ(sealer.init(zero_key, {"fuzz", "fuzz", "fuzz"}, framed), Status::ok);
  for (int i = 0; i < 2; ++i) {
    Bytes out(10 + record_stream::kChunkOverhead);
    ASSERT_EQ(sealer.push(Bytes(10, 1), i == 1, out), Status::ok);
    const auto n = static_cast<std::uint32_t>(out.size());
    framed.insert(framed.end(), {static_cast<std::uint8_t>(n), 0, 0, 0});
    framed.insert(framed.end(), out.begin(), out.end());
  }
  EXPECT_EQ(record_stream::check(framed), Status::ok);
  EXPECT_EQ(record_stream::check(ByteView(framed).first(framed.size() - 31)), Status::record_tampered);
  EXPECT_EQ(record_stream::check(ByteView(framed).first(10)), Status::record_tampered);
}

TEST(RequestRecord, NestingIsBoundedBeforeAnythingRecurses) {
  std::string deep = R"({"method":"POST","url":"https://a.test/","metadata":)";
  for (int i = 0; i < 32; ++i) deep += "[";
  for (int i = 0; i < 32; ++i) deep += "]";
  deep += "}";
  Bytes sealed;
  std::string field;
  EXPECT_EQ(request_record::seal(test_key(), kPlace, as_bytes(deep), {}, sealed, field), Status::ok);
  SecretBytes framed;
  EXPECT_EQ(request_record::open(test_key(), kPlace, sealed, framed), Status::ok);

  std::string deeper = R"({"method":"POST","url":"https://a.test/","metadata":)";
  for (int i = 0; i < 100000; ++i) deeper += "[";
  for (int i = 0; i < 100000; ++i) deeper += "]";
  deeper += "}";
  EXPECT_EQ(request_record::seal(test_key(), kPlace, as_bytes(deeper), {}, sealed, field), Status::invalid_request);
  EXPECT_EQ(field, "metadata");

  // A plaintext whose metadata nests far deeper than anything encode() writes is refused, without
  // recursion (the parser does not recurse; validate() walks the nesting iteratively).
  std::string nested = R"({"method":"POST","url":"https://a.test/","metadata":)";
  nested += std::string(200000, '[') + std::string(200000, ']') + "}";
  EXPECT_EQ(request_record::check(plaintext_v2(nested)), Status::malformed);
  EXPECT_EQ(request_record::check(plaintext_v2(std::string(200000, '['))), Status::malformed);
}

}  // namespace
}  // namespace sealpost
