#include "core/record.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include "core/key_id.hpp"
#include "core/sodium_init.hpp"
#include "vectors.hpp"

namespace sealpost {
namespace {

using test::from_hex;
using test::load_vectors;
using test::to_hex;

struct Vector {
  Bytes key, nonce, plaintext, sealed, associated_data;
  std::string database, queue, entry_id, key_id;
  record::Place place() const { return {database, queue, entry_id}; }
};

std::vector<Vector> record_vectors() {
  const auto doc = load_vectors("records.json");
  std::vector<Vector> out;
  for (const auto& v : doc["vectors"]) {
    out.push_back({from_hex(v["key"]), from_hex(v["nonce"]), from_hex(v["plaintext"]), from_hex(v["sealed"]),
                   from_hex(v["associated_data"]), v["database"], v["queue"], v["entry_id"], v["key_id"]});
  }
  return out;
}

TEST(Record, VectorsSealToTheKnownBytes) {
  const auto vectors = record_vectors();
  ASSERT_EQ(vectors.size(), 4u);
  for (const auto& v : vectors) {
    Bytes sealed(record::sealed_size(v.plaintext.size()));
    ASSERT_EQ(record::seal(v.key, v.nonce, v.place(), v.plaintext, sealed), Status::ok);
    EXPECT_EQ(to_hex(sealed), to_hex(v.sealed));
    EXPECT_EQ(to_hex(secret_key_id(v.key)), v.key_id);
  }
}

TEST(Record, VectorsAgreeWithLibsodiumDirectly) {
  ASSERT_TRUE(ensure_sodium());
  for (const auto& v : record_vectors()) {
    // The ciphertext after the header is exactly libsodium's AEAD over the documented AD.
    Bytes direct(v.plaintext.size() + record::kTagBytes);
    unsigned long long written = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(direct.data(), &written, v.plaintext.data(), v.plaintext.size(),
                                               v.associated_data.data(), v.associated_data.size(), nullptr,
                                               v.nonce.data(), v.key.data());
    EXPECT_EQ(to_hex(direct), to_hex(ByteView(v.sealed).subspan(record::kHeaderBytes)));
  }
}

TEST(Record, VectorsOpen) {
  for (const auto& v : record_vectors()) {
    Bytes plain(v.sealed.size() - record::kOverhead);
    ASSERT_EQ(record::open(v.key, v.place(), v.sealed, plain), Status::ok);
    EXPECT_EQ(plain, v.plaintext);
  }
}

TEST(Record, EveryFlippedBitIsTampered) {
  const auto v = record_vectors()[1];
  for (std::size_t bit = 0; bit < v.sealed.size() * 8; ++bit) {
    Bytes sealed = v.sealed;
    sealed[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    Bytes plain(sealed.size() - record::kOverhead);
    const Status status = record::open(v.key, v.place(), sealed, plain);
    // A flip inside the key id names another key; anywhere else authentication fails.
    const bool in_key_id = bit / 8 >= 1 && bit / 8 < 1 + kKeyIdBytes;
    EXPECT_EQ(status, in_key_id ? Status::wrong_key : Status::record_tampered) << "bit " << bit;
    EXPECT_EQ(plain, Bytes(plain.size(), 0)) << "plaintext left behind after a failed open, bit " << bit;
  }
}

TEST(Record, TruncationIsTampered) {
  const auto v = record_vectors()[2];
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, record::kHeaderBytes, record::kOverhead - 1,
                          v.sealed.size() - 1}) {
    Bytes sealed(v.sealed.begin(), v.sealed.begin() + static_cast<std::ptrdiff_t>(len));
    Bytes plain(len >= record::kOverhead ? len - record::kOverhead : 0);
    EXPECT_EQ(record::open(v.key, v.place(), sealed, plain), Status::record_tampered) << "length " << len;
  }
}

TEST(Record, AnotherPlaceIsTampered) {
  const auto v = record_vectors()[1];
  Bytes plain(v.plaintext.size());
  const std::vector<record::Place> elsewhere = {
      {"other", v.queue, v.entry_id},
      {v.database, "other", v.entry_id},
      {v.database, v.queue, "b"},
      // Length prefixes keep shifted boundaries apart: ("sealpostn", "otes") is not ("sealpost", "notes").
      {"sealpostn", "otes", v.entry_id},
  };
  for (const auto& place : elsewhere) {
    EXPECT_EQ(record::open(v.key, place, v.sealed, plain), Status::record_tampered)
        << place.database << "/" << place.queue << "/" << place.entry_id;
  }
}

TEST(Record, WrongKeyIsNamed) {
  const auto v = record_vectors()[1];
  Bytes other_key = v.key;
  other_key[0] ^= 1;
  Bytes plain(v.plaintext.size());
  EXPECT_EQ(record::open(other_key, v.place(), v.sealed, plain), Status::wrong_key);
}

TEST(Record, UnknownVersionIsTampered) {
  auto v = record_vectors()[1];
  v.sealed[0] = 2;
  Bytes plain(v.plaintext.size());
  EXPECT_EQ(record::open(v.key, v.place(), v.sealed, plain), Status::record_tampered);
}

TEST(Record, BadArgumentsAreRejected) {
  const auto v = record_vectors()[1];
  Bytes out(record::sealed_size(v.plaintext.size()));
  EXPECT_EQ(record::seal(ByteView(v.key).first(31), v.nonce, v.place(), v.plaintext, out), Status::invalid_argument);
  EXPECT_EQ(record::seal(v.key, ByteView(v.nonce).first(23), v.place(), v.plaintext, out), Status::invalid_argument);
  Bytes small(out.size() - 1);
  EXPECT_EQ(record::seal(v.key, v.nonce, v.place(), v.plaintext, small), Status::buffer_too_small);
  const std::string long_name(record::kMaxNameBytes + 1, 'x');
  EXPECT_EQ(record::seal(v.key, v.nonce, {long_name, "q", "i"}, v.plaintext, out), Status::invalid_argument);
}

TEST(Record, RandomNoncesDiffer) {
  const auto v = record_vectors()[1];
  Bytes a(record::sealed_size(v.plaintext.size())), b(a.size());
  ASSERT_EQ(record::seal_random_nonce(v.key, v.place(), v.plaintext, a), Status::ok);
  ASSERT_EQ(record::seal_random_nonce(v.key, v.place(), v.plaintext, b), Status::ok);
  EXPECT_NE(a, b);
  Bytes plain(v.plaintext.size());
  ASSERT_EQ(record::open(v.key, v.place(), a, plain), Status::ok);
  EXPECT_EQ(plain, v.plaintext);
}

}  // namespace
}  // namespace sealpost
