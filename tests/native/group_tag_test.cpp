#include "core/group_tag.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "core/sodium_init.hpp"

namespace sealpost {
namespace {

Bytes key_of(std::uint8_t fill) { return Bytes(32, fill); }

TEST(GroupTag, IsKeyedBlake2b128OverContextAndName) {
  ASSERT_TRUE(ensure_sodium());
  const Bytes key = key_of(7);
  GroupTag tag{};
  ASSERT_EQ(group_tag(key, "notes", tag), Status::ok);
  // The same computation straight through libsodium's one-shot API.
  const std::string input = std::string("sealpost/outbox-group/v1") + "notes";
  std::uint8_t expected[16];
  crypto_generichash(expected, sizeof expected, reinterpret_cast<const std::uint8_t*>(input.data()), input.size(),
                     key.data(), key.size());
  EXPECT_EQ(Bytes(tag.begin(), tag.end()), Bytes(expected, expected + 16));
}

TEST(GroupTag, DependsOnKeyAndName) {
  GroupTag a{}, b{}, c{}, d{};
  ASSERT_EQ(group_tag(key_of(1), "g", a), Status::ok);
  ASSERT_EQ(group_tag(key_of(1), "g", b), Status::ok);
  ASSERT_EQ(group_tag(key_of(2), "g", c), Status::ok);
  ASSERT_EQ(group_tag(key_of(1), "h", d), Status::ok);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  GroupTag empty{};
  EXPECT_EQ(group_tag(key_of(1), "", empty), Status::ok);
  EXPECT_NE(empty, a);
}

TEST(GroupTag, RefusesKeysOfTheWrongSize) {
  GroupTag tag{};
  EXPECT_EQ(group_tag(Bytes(8, 1), "g", tag), Status::invalid_argument);
  EXPECT_EQ(group_tag(Bytes(65, 1), "g", tag), Status::invalid_argument);
}

}  // namespace
}  // namespace sealpost
