#include "core/push.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

#include "core/base64url.hpp"
#include "core/key_id.hpp"
#include "core/sodium_init.hpp"

namespace sealpost {
namespace {

using nlohmann::json;

constexpr std::int64_t kNow = 1700000000;

struct BoxKey {
  SecretBytes bytes{64};  // secret ‖ public
  BoxKey() { crypto_box_keypair(bytes.data() + 32, bytes.data()); }
  ByteView public_key() const { return bytes.view().subspan(32); }
  push::RecipientKey recipient() const { return {bytes.view()}; }
};

struct SignKey {
  SecretBytes secret{64};
  Bytes public_key = Bytes(32);
  SignKey() { crypto_sign_keypair(public_key.data(), secret.data()); }
};

class Push : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ensure_sodium()); }

  Bytes seal(const std::string& message, const SignKey* signer = nullptr, const BoxKey* to = nullptr,
             std::size_t max = push::kDefaultMaxEnvelopeBytes) {
    push::SealOptions options;
    options.recipient_public_key = (to ? to : &device)->public_key();
    options.signer = signer ? &signer->secret : nullptr;
    options.now = kNow;
    options.max_envelope_bytes = max;
    Bytes envelope;
    std::size_t needed = 0;
    const Status s = push::seal(message, options, envelope, needed);
    EXPECT_EQ(s, Status::ok) << status_name(to_int(s));
    return envelope;
  }

  Status open(ByteView envelope, push::Opened& opened, std::vector<ByteView> signers = {},
              std::int64_t now = kNow) {
    const push::RecipientKey keys[] = {device.recipient()};
    push::OpenOptions options;
    options.recipients = keys;
    options.trusted_signers = signers;
    options.now = now;
    return push::open(envelope, options, opened);
  }

  Status open(ByteView envelope, std::vector<ByteView> signers = {}, std::int64_t now = kNow) {
    push::Opened opened;
    return open(envelope, opened, std::move(signers), now);
  }

  // An envelope with an arbitrary inner plaintext, sealed for the device.
  Bytes raw_envelope(ByteView inner) {
    Bytes out(push::kHeaderBytes + push::kSealBytes + inner.size());
    out[0] = push::kVersion;
    const KeyId id = public_key_id(device.public_key());
    std::copy(id.begin(), id.end(), out.begin() + 1);
    crypto_box_seal(out.data() + push::kHeaderBytes, inner.data(), inner.size(), device.public_key().data());
    return out;
  }

  Bytes unsigned_inner(const std::string& body) {
    Bytes inner(1 + body.size(), 0x00);
    std::copy(body.begin(), body.end(), inner.begin() + 1);
    return inner;
  }

  BoxKey device;
  SignKey server;
};

TEST_F(Push, SealsAndOpensUnsigned) {
  const Bytes envelope = seal(R"({"title":"Hello","body":"World","url":"/notes/1"})");
  push::Opened opened;
  ASSERT_EQ(open(envelope, opened), Status::ok);
  EXPECT_EQ(opened.message["title"], "Hello");
  EXPECT_EQ(opened.message["body"], "World");
  EXPECT_EQ(opened.message["url"], "/notes/1");
  EXPECT_EQ(opened.message["iat"], kNow);
  EXPECT_EQ(opened.message["ttl"], push::kDefaultTtlSeconds);
  EXPECT_EQ(opened.iat, kNow);
  EXPECT_EQ(opened.expires_at, kNow + push::kDefaultTtlSeconds);
  EXPECT_FALSE(opened.is_signed);
  // A filled-in id is 16 random bytes, base64url.
  const auto id = base64url_decode(opened.id);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->size(), 16u);
  EXPECT_EQ(opened.recipient, public_key_id(device.public_key()));
}

TEST_F(Push, SealsAndOpensSigned) {
  const Bytes envelope = seal(R"({"title":"Signed","id":"abc","iat":1700000001})", &server);
  push::Opened opened;
  ASSERT_EQ(open(envelope, opened, {server.public_key}), Status::ok);
  EXPECT_EQ(opened.id, "abc");
  EXPECT_EQ(opened.iat, 1700000001);
  EXPECT_TRUE(opened.is_signed);
  EXPECT_EQ(opened.signer, public_key_id(server.public_key));
  // Without trusted signers a signed envelope still opens (signatures not required).
  EXPECT_EQ(open(envelope), Status::ok);
}

TEST_F(Push, PadsToBucketsThenTheMaximum) {
  const std::size_t overhead = push::envelope_size(0, false);
  EXPECT_EQ(seal(R"({"title":"x"})").size(), overhead + 256);
  EXPECT_EQ(seal(R"({"title":"x","body":")" + std::string(300, 'a') + "\"}").size(), overhead + 512);
  EXPECT_EQ(seal(R"({"title":"x","body":")" + std::string(900, 'a') + "\"}").size(), overhead + 1024);
  EXPECT_EQ(seal(R"({"title":"x","body":")" + std::string(1500, 'a') + "\"}").size(), overhead + 2048);
  EXPECT_EQ(seal(R"({"title":"x","body":")" + std::string(2500, 'a') + "\"}").size(), 3000u);
  // Signed: the same buckets for the body, 72 bytes more of envelope.
  EXPECT_EQ(seal(R"({"title":"x"})", &server).size(), push::envelope_size(256, true));
  // A smaller limit caps the bucket.
  EXPECT_EQ(seal(R"({"title":"x"})", nullptr, nullptr, 200).size(), 200u);
}

TEST_F(Push, RefusesTooLargeNamingTheSize) {
  push::SealOptions options;
  options.recipient_public_key = device.public_key();
  options.now = kNow;
  Bytes envelope;
  std::size_t needed = 0;
  const std::string message = R"({"title":"x","body":")" + std::string(3000, 'a') + "\"}";
  EXPECT_EQ(push::seal(message, options, envelope, needed), Status::too_large);
  EXPECT_GT(needed, 3000u);
  EXPECT_TRUE(envelope.empty());
  // Up to the ceiling it fits; the ceiling itself cannot be raised.
  options.max_envelope_bytes = push::kMaxEnvelopeCeiling;
  EXPECT_EQ(push::seal(message, options, envelope, needed), Status::ok);
  EXPECT_EQ(envelope.size(), push::kMaxEnvelopeCeiling);
  options.max_envelope_bytes = push::kMaxEnvelopeCeiling + 1;
  EXPECT_EQ(push::seal(message, options, envelope, needed), Status::invalid_argument);
}

TEST_F(Push, SealRejectsBadInput) {
  push::SealOptions options;
  options.recipient_public_key = device.public_key();
  options.now = kNow;
  Bytes envelope;
  std::size_t needed = 0;
  EXPECT_EQ(push::seal("{", options, envelope, needed), Status::invalid_json);
  EXPECT_EQ(push::seal("[]", options, envelope, needed), Status::invalid_message);
  EXPECT_EQ(push::seal(R"({"body":"no title"})", options, envelope, needed), Status::invalid_message);
  EXPECT_EQ(push::seal(R"({"title":"t","url":"https://evil.example/"})", options, envelope, needed),
            Status::invalid_message);
  // iat in milliseconds, or a message already expired: no device would accept it.
  EXPECT_EQ(push::seal(R"({"title":"t","iat":1700000000000})", options, envelope, needed), Status::not_yet_valid);
  EXPECT_EQ(push::seal(R"({"title":"t","iat":1699990000,"ttl":60})", options, envelope, needed), Status::expired);
  // Deep nesting is refused before anything recursive runs on it.
  const std::string deep = R"({"title":"t","data":)" + std::string(30000, '[') + std::string(30000, ']') + "}";
  EXPECT_EQ(push::seal(deep, options, envelope, needed), Status::invalid_message);
  const Bytes short_key(31);
  options.recipient_public_key = short_key;
  EXPECT_EQ(push::seal(R"({"title":"t"})", options, envelope, needed), Status::invalid_argument);
}

TEST_F(Push, AcceptsBase64urlText) {
  const Bytes envelope = seal(R"({"title":"Text"})");
  const std::string text = base64url_encode(envelope);
  EXPECT_EQ(open(as_bytes(text)), Status::ok);
  EXPECT_EQ(open(as_bytes("  " + text + "\n")), Status::ok);
  std::string padded = text;
  while (padded.size() % 4 != 0) padded += '=';
  EXPECT_EQ(open(as_bytes(padded)), Status::ok);
}

// ---------------------------------------------------------------- one test per error code, in check order

TEST_F(Push, TooLarge) {
  Bytes big = seal(R"({"title":"x"})");
  big.resize(push::kMaxReceivedBytes + 1);
  EXPECT_EQ(open(big), Status::too_large);
  const std::string text(push::kMaxReceivedTextBytes + 1, 'A');
  EXPECT_EQ(open(as_bytes(text)), Status::too_large);
}

TEST_F(Push, Malformed) {
  EXPECT_EQ(open(ByteView()), Status::malformed);
  const Bytes envelope = seal(R"({"title":"x"})");
  EXPECT_EQ(open(ByteView(envelope).first(push::kMinEnvelopeBytes - 1)), Status::malformed);
  // Unknown flag bits, and a signed flag with no room for the signature.
  Bytes inner = unsigned_inner(R"({"title":"x","id":"a","iat":1700000000})");
  inner[0] = 0x02;
  EXPECT_EQ(open(raw_envelope(inner)), Status::malformed);
  const Bytes signed_short{0x01, 1, 2, 3};
  EXPECT_EQ(open(raw_envelope(signed_short)), Status::malformed);
}

TEST_F(Push, UnsupportedVersion) {
  Bytes envelope = seal(R"({"title":"x"})");
  envelope[0] = 0x02;
  EXPECT_EQ(open(envelope), Status::unsupported_version);
}

TEST_F(Push, UnknownRecipient) {
  BoxKey other;
  const Bytes envelope = seal(R"({"title":"x"})", nullptr, &other);
  EXPECT_EQ(open(envelope), Status::unknown_recipient);
}

TEST_F(Push, DecryptFailed) {
  Bytes envelope = seal(R"({"title":"x"})");
  envelope[envelope.size() - 1] ^= 0x01;
  EXPECT_EQ(open(envelope), Status::decrypt_failed);
}

TEST_F(Push, Unsigned) {
  const Bytes envelope = seal(R"({"title":"x"})");
  EXPECT_EQ(open(envelope, {server.public_key}), Status::unsigned_message);
}

TEST_F(Push, UnknownSigner) {
  SignKey stranger;
  const Bytes envelope = seal(R"({"title":"x"})", &stranger);
  EXPECT_EQ(open(envelope, {server.public_key}), Status::unknown_signer);
  // Any trusted key among several is enough.
  EXPECT_EQ(open(envelope, {server.public_key, stranger.public_key}), Status::ok);
}

TEST_F(Push, BadSignature) {
  // A signature by the trusted key over another recipient's id (the envelope was re-sealed for us).
  const std::string body = R"({"title":"x","id":"a","iat":1700000000})";
  const KeyId wrong_recipient{1, 2, 3, 4, 5, 6, 7, 8};
  Bytes covered(push::kSignatureContext.begin(), push::kSignatureContext.end());
  covered.insert(covered.end(), wrong_recipient.begin(), wrong_recipient.end());
  covered.insert(covered.end(), body.begin(), body.end());
  Bytes inner{0x01};
  const KeyId signer_id = public_key_id(server.public_key);
  inner.insert(inner.end(), signer_id.begin(), signer_id.end());
  inner.resize(inner.size() + 64);
  crypto_sign_detached(inner.data() + 9, nullptr, covered.data(), covered.size(), server.secret.data());
  inner.insert(inner.end(), body.begin(), body.end());
  EXPECT_EQ(open(raw_envelope(inner), {server.public_key}), Status::bad_signature);

  // A body changed after signing (padding included in what is signed).
  Bytes envelope_inner = inner;
  covered.assign(push::kSignatureContext.begin(), push::kSignatureContext.end());
  const KeyId device_id = public_key_id(device.public_key());
  covered.insert(covered.end(), device_id.begin(), device_id.end());
  covered.insert(covered.end(), body.begin(), body.end());
  crypto_sign_detached(envelope_inner.data() + 9, nullptr, covered.data(), covered.size(), server.secret.data());
  EXPECT_EQ(open(raw_envelope(envelope_inner), {server.public_key}), Status::ok);
  envelope_inner.push_back(' ');
  EXPECT_EQ(open(raw_envelope(envelope_inner), {server.public_key}), Status::bad_signature);
}

TEST_F(Push, InvalidJson) {
  EXPECT_EQ(open(raw_envelope(unsigned_inner("{\"title\":"))), Status::invalid_json);
  EXPECT_EQ(open(raw_envelope(unsigned_inner("   "))), Status::invalid_json);
  EXPECT_EQ(open(raw_envelope(unsigned_inner(""))), Status::invalid_json);
  // Ill-formed UTF-8 inside a string.
  EXPECT_EQ(open(raw_envelope(unsigned_inner("{\"title\":\"\xC3\x28\",\"id\":\"a\",\"iat\":1700000000}"))),
            Status::invalid_json);
  // Padding is spaces only: anything after them is not JSON.
  EXPECT_EQ(open(raw_envelope(unsigned_inner(R"({"title":"x","id":"a","iat":1700000000}  x)"))),
            Status::invalid_json);
}

TEST_F(Push, InvalidMessage) {
  const std::vector<std::string> bad = {
      R"([1,2])",
      R"({"id":"a","iat":1700000000})",                                   // no title
      R"({"title":"t","iat":1700000000})",                                // no id
      R"({"title":"t","id":"a"})",                                        // no iat
      R"({"title":"","id":"a","iat":1700000000})",                        // empty title
      R"({"title":"t","id":"","iat":1700000000})",                        // empty id
      R"({"title":"t","id":5,"iat":1700000000})",                         // id not a string
      R"({"title":"t","id":"a","iat":1700000000.5})",                     // iat not an integer
      R"({"title":"t","id":"a","iat":-1})",                               // iat negative
      R"({"title":"t","id":"a","iat":1700000000,"ttl":0})",               // ttl too small
      R"({"title":"t","id":"a","iat":1700000000,"ttl":2419201})",         // ttl too large
      R"({"title":"t","id":"a","iat":1700000000,"url":"//evil.example"})",
      R"({"title":"t","id":"a","iat":1700000000,"url":"https://evil.example/"})",
      R"({"title":"t","id":"a","iat":1700000000,"url":"/a\\b"})",
      R"({"title":"t","id":"a","iat":1700000000,"url":"/a\nb"})",
      R"j({"title":"t","id":"a","iat":1700000000,"url":"javascript:alert(1)"})j",
      R"({"title":"t","id":"a","iat":1700000000,"url":"/..//evil.example"})",      // dot segments to '//'
      R"({"title":"t","id":"a","iat":1700000000,"url":"/.//evil.example"})",
      R"({"title":"t","id":"a","iat":1700000000,"url":"/a/../..//evil.example/x"})",
      R"({"title":"t","id":"a","iat":1700000000,"url":"/%2e%2e//evil.example"})",  // encoded dots
      R"({"title":"t","id":"a","iat":1700000000,"url":"/.%2E//evil.example"})",
      R"({"title":"t","id":"a","iat":1700000000,"url":"/%2F%2Fevil.example"})",    // encoded slashes
      R"({"title":"t","id":"a","iat":1700000000,"url":"/x/%5cevil.example"})",
      R"({"title":"t","id":"a","iat":1700000000,"silent":"yes"})",
      R"({"title":"t","id":"a","iat":1700000000,"renotify":true})",       // renotify needs a tag
      R"({"title":"t","id":"a","iat":1700000000,"actions":{}})",
      R"({"title":"t","id":"a","iat":1700000000,"actions":[{"action":"a","title":"A"},{"action":"b","title":"B"},{"action":"c","title":"C"}]})",
      R"({"title":"t","id":"a","iat":1700000000,"actions":[{"action":"a"}]})",
      R"({"title":"t","id":"a","iat":1700000000,"category":""})",
      R"({"title":"t","id":"a","iat":1700000000,"body":7})",
  };
  for (const std::string& body : bad) {
    EXPECT_EQ(open(raw_envelope(unsigned_inner(body))), Status::invalid_message) << body;
  }
  // Nesting: 32 levels (the message object included) are fine, 33 are not; brackets in strings do not count.
  const auto nested = [](int levels) {
    return R"({"title":"t","id":"a","iat":1700000000,"tag":"[[{{","data":)" + std::string(levels - 1, '[') +
           std::string(levels - 1, ']') + "}";
  };
  EXPECT_EQ(open(raw_envelope(unsigned_inner(nested(32)))), Status::ok);
  EXPECT_EQ(open(raw_envelope(unsigned_inner(nested(33)))), Status::invalid_message);
  // Lengths are counted in characters: 256 two-byte characters are a valid title, 257 are not.
  std::string title;
  for (int i = 0; i < 256; ++i) title += "\xC3\xA9";
  const std::string prefix = R"({"id":"a","iat":1700000000,"title":")";
  EXPECT_EQ(open(raw_envelope(unsigned_inner(prefix + title + "\"}"))), Status::ok);
  EXPECT_EQ(open(raw_envelope(unsigned_inner(prefix + title + "\xC3\xA9\"}"))), Status::invalid_message);
  EXPECT_EQ(open(raw_envelope(unsigned_inner(R"({"id":")" + std::string(129, 'i') +
                                             R"(","iat":1700000000,"title":"t"})"))),
            Status::invalid_message);
}

TEST_F(Push, KeepsKnownFieldsAndIgnoresUnknownOnes) {
  const Bytes envelope = seal(
      R"({"title":"t","tag":"x","renotify":true,"actions":[{"action":"a","title":"A","extra":1}],)"
      R"("data":{"n":[1,2]},"unknown":"dropped","category":"news","silent":false})");
  push::Opened opened;
  ASSERT_EQ(open(envelope, opened), Status::ok);
  EXPECT_FALSE(opened.message.contains("unknown"));
  EXPECT_EQ(opened.message["actions"], json::parse(R"([{"action":"a","title":"A"}])"));
  EXPECT_EQ(opened.message["data"], json::parse(R"({"n":[1,2]})"));
  EXPECT_EQ(opened.message["category"], "news");
  EXPECT_EQ(opened.message["renotify"], true);
}

TEST_F(Push, NotYetValid) {
  const Bytes envelope = raw_envelope(unsigned_inner(R"({"title":"x","id":"a","iat":1700000301})"));
  EXPECT_EQ(open(envelope), Status::not_yet_valid);
  EXPECT_EQ(open(envelope, {}, kNow + 1), Status::ok);
  const Bytes at_skew = seal(R"({"title":"x","iat":1700000300})");
  EXPECT_EQ(open(at_skew), Status::ok);
}

TEST_F(Push, Expired) {
  const Bytes envelope = seal(R"({"title":"x","ttl":60})");
  EXPECT_EQ(open(envelope, {}, kNow + 60), Status::ok);
  EXPECT_EQ(open(envelope, {}, kNow + 61), Status::expired);
}

TEST_F(Push, PreviousKeyStillOpens) {
  BoxKey previous;
  const Bytes envelope = seal(R"({"title":"x"})", nullptr, &previous);
  const push::RecipientKey keys[] = {device.recipient(), previous.recipient()};
  push::OpenOptions options;
  options.recipients = keys;
  options.now = kNow;
  push::Opened opened;
  EXPECT_EQ(push::open(envelope, options, opened), Status::ok);
  EXPECT_EQ(opened.recipient, public_key_id(previous.public_key()));
}

TEST_F(Push, SameOriginPaths) {
  EXPECT_TRUE(push::is_same_origin_path("/"));
  EXPECT_TRUE(push::is_same_origin_path("/notes/1?x=1#y"));
  EXPECT_FALSE(push::is_same_origin_path(""));
  EXPECT_FALSE(push::is_same_origin_path("notes"));
  EXPECT_FALSE(push::is_same_origin_path("//evil.example/"));
  EXPECT_FALSE(push::is_same_origin_path("/\\evil.example/"));
  EXPECT_FALSE(push::is_same_origin_path("/a\tb"));
  EXPECT_FALSE(push::is_same_origin_path(std::string_view("/a\0b", 4)));
}

TEST_F(Push, MutatedEnvelopesNeverOpen) {
  const Bytes envelope = seal(R"({"title":"x","body":"y"})", &server);
  const std::vector<ByteView> signers = {server.public_key};
  for (std::size_t i = 0; i < envelope.size(); ++i) {
    Bytes mutated = envelope;
    mutated[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    EXPECT_NE(open(mutated, signers), Status::ok) << "byte " << i;
  }
}

}  // namespace
}  // namespace sealpost

TEST(PushUrl, SameOriginPathsResolveDotSegmentsAsTheUrlParserDoes) {
  for (const char* good : {"/", "/notes/1", "/a//b", "/a/./b", "/a/../b", "/..", "/x/..", "/x/../", "/a/%2e%2e/b",
                           "/?next=//elsewhere", "/n#//frag", "/%2e/b", "/./", "/../"}) {
    EXPECT_TRUE(sealpost::push::is_same_origin_path(good)) << good;
  }
  for (const char* bad : {"", "notes", "//evil.example", "/\\evil.example", "/..//evil.example", "/.//evil.example",
                          "/a/../..//evil.example", "/%2e%2e//evil.example", "/%2E.//evil.example", "/.%2e//e",
                          "/%2f/evil.example", "/%2F%2Fevil.example", "/x/%5Cevil"}) {
    EXPECT_FALSE(sealpost::push::is_same_origin_path(bad)) << bad;
  }
}
