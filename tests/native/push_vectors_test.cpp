// tests/vectors/push.json (made by scripts/make-push-vectors.mjs with libsodium-wrappers) against the core.
#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

#include "core/push.hpp"
#include "core/sodium_init.hpp"
#include "vectors.hpp"

namespace sealpost {
namespace {

using nlohmann::json;
using test::from_hex;
using test::load_vectors;
using test::to_hex;

class PushVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ensure_sodium());
    doc = load_vectors("push.json");
    ASSERT_FALSE(doc.is_discarded());
    const Bytes secret = from_hex(doc["recipient"]["secret_key"]);
    const Bytes public_key = from_hex(doc["recipient"]["public_key"]);
    device.assign(secret.begin(), secret.end());
    device.insert(device.end(), public_key.begin(), public_key.end());
    signer = from_hex(doc["signer"]["public_key"]);
  }

  static Bytes envelope_of(const json& v) {
    if (v.contains("envelope_text")) {
      const std::string text = v["envelope_text"];
      return Bytes(text.begin(), text.end());
    }
    return from_hex(v["envelope"]);
  }

  Status open(const Bytes& input, const std::vector<ByteView>& signers, std::int64_t now, push::Opened& opened) {
    const push::RecipientKey keys[] = {{device}};
    push::OpenOptions options;
    options.recipients = keys;
    options.trusted_signers = signers;
    options.now = now;
    options.max_skew_seconds = doc["max_skew_seconds"];
    return push::open(input, options, opened);
  }

  json doc;
  Bytes device;
  Bytes signer;
};

TEST_F(PushVectors, KeyIdsMatch) {
  EXPECT_EQ(to_hex(public_key_id(ByteView(device).subspan(32))), doc["recipient"]["key_id"]);
  EXPECT_EQ(to_hex(public_key_id(signer)), doc["signer"]["key_id"]);
}

TEST_F(PushVectors, EnvelopesOpenToTheirMessages) {
  ASSERT_GE(doc["valid"].size(), 5u);
  for (const json& v : doc["valid"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    push::Opened opened;
    const std::vector<ByteView> signers =
        v["signed"].get<bool>() ? std::vector<ByteView>{signer} : std::vector<ByteView>{};
    ASSERT_EQ(open(envelope_of(v), signers, doc["now"], opened), Status::ok);
    EXPECT_EQ(opened.message, v["message"]);
    EXPECT_EQ(opened.id, v["id"]);
    EXPECT_EQ(opened.expires_at, v["expires_at"]);
    EXPECT_EQ(opened.is_signed, v["signed"].get<bool>());

    // The layout, byte for byte: 0x01 ‖ key id ‖ crypto_box_seal(flags ‖ [signer id ‖ signature] ‖ body).
    if (!v.contains("envelope")) continue;
    const Bytes envelope = from_hex(v["envelope"]);
    EXPECT_EQ(envelope[0], 0x01);
    EXPECT_EQ(to_hex(ByteView(envelope).subspan(1, 8)), doc["recipient"]["key_id"]);
    Bytes inner(envelope.size() - 9 - crypto_box_SEALBYTES);
    ASSERT_EQ(crypto_box_seal_open(inner.data(), envelope.data() + 9, envelope.size() - 9, device.data() + 32,
                                   device.data()),
              0);
    const std::size_t prefix = v["signed"].get<bool>() ? 73 : 1;
    EXPECT_EQ(inner[0], v["signed"].get<bool>() ? 1 : 0);
    EXPECT_EQ(to_hex(ByteView(inner).subspan(prefix)), v["body"]);
  }
}

TEST_F(PushVectors, EachErrorEnvelopeFailsWithItsCode) {
  ASSERT_GE(doc["errors"].size(), 13u);
  for (const json& v : doc["errors"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    std::vector<Bytes> keys;
    std::vector<ByteView> signers;
    for (const json& key : v["trusted_signers"]) keys.push_back(from_hex(key));
    for (const Bytes& key : keys) signers.emplace_back(key);
    push::Opened opened;
    const Status s = open(envelope_of(v), signers, v["now"], opened);
    if (v["code"] == "replayed") {
      // The core opens it; the seen-id store (js/push.js) refuses it the second time.
      EXPECT_EQ(s, Status::ok);
    } else {
      EXPECT_EQ(status_name(to_int(s)), v["code"].get<std::string>());
    }
  }
}

TEST_F(PushVectors, OurSealOpensWithTheVectorKeys) {
  push::SealOptions options;
  options.recipient_public_key = ByteView(device).subspan(32);
  options.now = doc["now"];
  const Bytes id_bytes(16, 0x42);
  options.id_bytes = id_bytes;
  Bytes envelope;
  std::size_t needed = 0;
  ASSERT_EQ(push::seal(R"({"title":"Hello"})", options, envelope, needed), Status::ok);
  EXPECT_EQ(to_hex(ByteView(envelope).subspan(1, 8)), doc["recipient"]["key_id"]);
  push::Opened opened;
  ASSERT_EQ(open(envelope, {}, doc["now"], opened), Status::ok);
  EXPECT_EQ(opened.id, "QkJCQkJCQkJCQkJCQkJCQg");
}

}  // namespace
}  // namespace sealpost
