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
  // CBOR keeps the body binary: the record is barely larger than the body plus the fields.
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

TEST(RequestRecord, DecoderRejectsForeignCbor) {
  EXPECT_EQ(request_record::check({}), Status::malformed);
  const Bytes not_a_map = json::to_cbor(json::array({1, 2}));
  EXPECT_EQ(request_record::check(not_a_map), Status::malformed);
  const Bytes no_version = json::to_cbor(json{{"method", "POST"}, {"url", "https://a.test/"}});
  EXPECT_EQ(request_record::check(no_version), Status::malformed);
  const Bytes text_body = json::to_cbor(json{{"v", 1}, {"method", "POST"}, {"url", "https://a.test/"}, {"body", "x"}});
  EXPECT_EQ(request_record::check(text_body), Status::malformed);
  const Bytes good = json::to_cbor(json{{"v", 1}, {"method", "POST"}, {"url", "https://a.test/"}});
  EXPECT_EQ(request_record::check(good), Status::ok);
  // Invalid UTF-8 in a string is refused (the encoder never writes it), without aborting the decoder.
  Bytes bad_utf8 = json::to_cbor(json{{"v", 1}, {"method", "POST"}, {"url", "https://a.test/x"}, {"referrer", "ab"}});
  // The map's keys are sorted (method, referrer, url, v): find the referrer's value and break its UTF-8.
  const auto at = std::search(bad_utf8.begin(), bad_utf8.end(), std::begin("ab"), std::begin("ab") + 2);
  ASSERT_NE(at, bad_utf8.end());
  *(at + 1) = 0xff;
  EXPECT_EQ(request_record::check(bad_utf8), Status::malformed);
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_EQ(request_record::check(ByteView(good).first(cut)), Status::malformed) << cut;
  }
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

  // CBOR nested far deeper than anything encode() writes is refused before nlohmann's reader recurses.
  Bytes cbor = {0xa1, 0x61, 'x'};  // {"x": [[[[...]]]]}
  cbor.insert(cbor.end(), 200000, 0x81);
  cbor.push_back(0x00);
  EXPECT_EQ(request_record::check(cbor), Status::malformed);
  Bytes indefinite(200000, 0x9f);  // [_ [_ [_ ...
  EXPECT_EQ(request_record::check(indefinite), Status::malformed);
  // Lengths that promise more items or bytes than there are.
  EXPECT_EQ(request_record::check(Bytes{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), Status::malformed);
  EXPECT_EQ(request_record::check(Bytes{0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), Status::malformed);
  EXPECT_EQ(request_record::check(Bytes{0xc1, 0x00}), Status::malformed);  // a tag
}

}  // namespace
}  // namespace sealpost
