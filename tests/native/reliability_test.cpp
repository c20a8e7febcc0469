// Bad input found by the fuzz targets (tests/fuzz/), pinned as unit tests.
#include <gtest/gtest.h>

#include <string>

#include "core/base64url.hpp"
#include "core/key_id.hpp"
#include "core/keyring.hpp"
#include "core/record.hpp"
#include "core/request_record.hpp"
#include "core/sodium_init.hpp"

namespace sealpost {
namespace {

// libsodium 1.0.18's sodium_base642bin takes every byte >= 0x80 for an alphabet character.
TEST(BadInput, Base64urlRejectsBytesOutsideTheAlphabet) {
  EXPECT_FALSE(base64url_decode(std::string("\x80\x80\x80\x80", 4)).has_value());
  EXPECT_FALSE(base64url_decode("QUJD\xc3\xa9").has_value());
  EXPECT_FALSE(base64url_decode(std::string("QU\0J", 4)).has_value());
  for (int c = 0; c < 256; ++c) {
    const std::string text = std::string("QU") + static_cast<char>(c) + "D";
    const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                          c == '-' || c == '_';
    EXPECT_EQ(base64url_decode(text).has_value(), alphabet) << "byte " << c;
  }
}

struct Sealed {
  Bytes key = Bytes(record::kKeyBytes, 7);
  Bytes plaintext = Bytes(40, 0x5a);
  record::Place place{"db", "q", "id"};
  Bytes sealed = Bytes(record::sealed_size(40));
  Sealed() { EXPECT_EQ(record::seal_random_nonce(key, place, plaintext, sealed), Status::ok); }
  Status open_with(ByteView k, ByteView s, Bytes& out) const { return record::open(k, place, s, out); }
};

bool all_zero(const Bytes& bytes) {
  for (std::uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

// record::open promises a zeroed output on every failure, not only when authentication fails.
TEST(BadInput, RecordOpenZeroesTheOutputOnEveryFailure) {
  Sealed s;
  Bytes out(s.plaintext.size(), 0xa5);

  Bytes wrong_version = s.sealed;
  wrong_version[0] = 0x02;
  EXPECT_EQ(s.open_with(s.key, wrong_version, out), Status::record_tampered);
  EXPECT_TRUE(all_zero(out));

  out.assign(out.size(), 0xa5);
  const Bytes other_key(record::kKeyBytes, 8);
  EXPECT_EQ(s.open_with(other_key, s.sealed, out), Status::wrong_key);
  EXPECT_TRUE(all_zero(out));

  out.assign(out.size(), 0xa5);
  Bytes flipped = s.sealed;
  flipped.back() ^= 1;
  EXPECT_EQ(s.open_with(s.key, flipped, out), Status::record_tampered);
  EXPECT_TRUE(all_zero(out));

  Bytes wrong_size(out.size() + 1, 0xa5);
  EXPECT_EQ(s.open_with(s.key, s.sealed, wrong_size), Status::buffer_too_small);
  EXPECT_TRUE(all_zero(wrong_size));

  out.assign(out.size(), 0xa5);
  EXPECT_EQ(s.open_with(s.key, s.sealed, out), Status::ok);
  EXPECT_EQ(out, s.plaintext);
}

// A stored sign key (seed ‖ public key) whose public half was changed would verify nothing it signs.
TEST(BadInput, SignKeyWithAForeignPublicHalfIsRefused) {
  ASSERT_TRUE(ensure_sodium());
  Keyring ring;
  const int handle = ring.generate(KeyKind::sign);
  ASSERT_GT(handle, 0);
  const ByteView key = ring.find(handle, KeyKind::sign)->view();
  Bytes copy(key.begin(), key.end());
  EXPECT_GT(ring.import(KeyKind::sign, copy), 0);
  copy[63] ^= 0x80;
  EXPECT_EQ(ring.import(KeyKind::sign, copy), -to_int(Status::invalid_argument));
  copy[63] ^= 0x80;
  copy[0] ^= 1;  // another seed, same public half
  EXPECT_EQ(ring.import(KeyKind::sign, copy), -to_int(Status::invalid_argument));
  EXPECT_EQ(ring.size(), 2u);
}

// A request record's plaintext declares its JSON's length in four bytes: a length beyond the input, or
// input that only looks like the start of something large, is malformed, never an abort or an over-read.
TEST(BadInput, RequestPlaintextWithAnImpossibleLengthIsMalformedNotAbort) {
  const Bytes length_max = {0x02, 0xff, 0xff, 0xff, 0xff, '{', '}'};
  const Bytes one_short = {0x02, 0x03, 0x00, 0x00, 0x00, '{', '}'};
  const Bytes header_only = {0x02, 0x00, 0x00, 0x00};
  const Bytes array_2_64 = {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};  // a CBOR array head
  const Bytes empty_json = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02};
  for (const Bytes* input : {&length_max, &one_short, &header_only, &array_2_64, &empty_json}) {
    EXPECT_EQ(request_record::check(*input), Status::malformed);
  }
}

}  // namespace
}  // namespace sealpost
