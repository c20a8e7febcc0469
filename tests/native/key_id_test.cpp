#include "core/key_id.hpp"

#include <gtest/gtest.h>

#include <set>

#include "core/base64url.hpp"
#include "core/keyring.hpp"
#include "core/sodium_init.hpp"
#include "core/status.hpp"
#include "vectors.hpp"

namespace sealpost {
namespace {

TEST(KeyId, Vectors) {
  ASSERT_TRUE(ensure_sodium());
  const auto doc = test::load_vectors("key-ids.json");
  ASSERT_EQ(doc["vectors"].size(), 6u);
  for (const auto& v : doc["vectors"]) {
    const Bytes pk = test::from_hex(v["public_key"]);
    EXPECT_EQ(test::to_hex(public_key_id(pk)), v["key_id"].get<std::string>());
  }
}

TEST(Base64url, RoundTripsAndRejects) {
  ASSERT_TRUE(ensure_sodium());
  for (std::size_t n = 0; n < 70; ++n) {
    Bytes bytes(n);
    for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(i * 37 + 250);
    const std::string text = base64url_encode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
    const auto back = base64url_decode(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_EQ(*base64url_decode("-_8"), (Bytes{0xfb, 0xff}));
  EXPECT_EQ(*base64url_decode("-_8="), (Bytes{0xfb, 0xff}));
  EXPECT_FALSE(base64url_decode("+/8=").has_value());
  EXPECT_FALSE(base64url_decode("a b").has_value());
  EXPECT_FALSE(base64url_decode("abc==").has_value());
  EXPECT_FALSE(base64url_decode("a").has_value());
}

TEST(Status, NamesAreStableAndUnique) {
  EXPECT_EQ(status_name(0), "ok");
  EXPECT_EQ(status_name(10), "record-tampered");
  EXPECT_EQ(status_name(25), "unsigned");
  EXPECT_EQ(status_name(45), "wasm-load-failed");
  EXPECT_TRUE(status_name(9999).empty());
  std::set<std::string_view> names;
  for (int i = 0; i < 100; ++i) {
    if (!status_name(i).empty()) EXPECT_TRUE(names.insert(status_name(i)).second) << status_name(i);
  }
}

TEST(Keyring, GeneratesImportsAndWipes) {
  Keyring ring;
  const int sym = ring.generate(KeyKind::symmetric);
  const int box = ring.generate(KeyKind::box);
  const int sign = ring.generate(KeyKind::sign);
  ASSERT_GT(sym, 0);
  ASSERT_GT(box, 0);
  ASSERT_GT(sign, 0);
  EXPECT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.find(sym, KeyKind::box), nullptr);
  EXPECT_EQ(ring.public_key(box).size(), 32u);
  EXPECT_EQ(ring.public_key(sign).size(), 32u);
  EXPECT_TRUE(ring.public_key(sym).empty());

  KeyId id{};
  ASSERT_EQ(ring.key_id(box, id), Status::ok);
  EXPECT_EQ(id, public_key_id(ring.public_key(box)));

  // A box key imports only when its public half matches its secret half.
  Bytes copy(ring.find(box, KeyKind::box)->view().begin(), ring.find(box, KeyKind::box)->view().end());
  EXPECT_GT(ring.import(KeyKind::box, copy), 0);
  copy[40] ^= 1;
  EXPECT_EQ(ring.import(KeyKind::box, copy), -to_int(Status::invalid_argument));
  EXPECT_EQ(ring.import(KeyKind::symmetric, Bytes(31)), -to_int(Status::invalid_argument));

  EXPECT_TRUE(ring.release(sym));
  EXPECT_FALSE(ring.release(sym));
  EXPECT_EQ(ring.find(sym, KeyKind::symmetric), nullptr);
  EXPECT_EQ(ring.generate(KeyKind::symmetric), sym) << "a released slot is reused";
  EXPECT_EQ(ring.key_id(999, id), Status::unknown_key);
}

TEST(SecretBytes, ZeroesOnWipe) {
  SecretBytes secret(Bytes{1, 2, 3, 4});
  EXPECT_EQ(secret.size(), 4u);
  SecretBytes moved(std::move(secret));
  EXPECT_EQ(secret.size(), 0u);
  EXPECT_EQ(moved.data()[3], 4);
  moved.wipe();
  EXPECT_TRUE(moved.empty());
}

}  // namespace
}  // namespace sealpost
