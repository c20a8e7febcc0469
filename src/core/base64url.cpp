#include "core/base64url.hpp"

#include <sodium.h>

namespace sealpost {
namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::string base64url_encode(ByteView bytes) {
  const std::size_t encoded_len =
      sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(encoded_len, '\0');  // includes the terminating NUL libsodium writes
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(encoded_len - 1);
  return out;
}

std::optional<Bytes> base64url_decode(std::string_view text) {
  std::size_t padding = 0;
  while (!text.empty() && text.back() == '=' && padding < 2) {
    text.remove_suffix(1);
    ++padding;
  }
  if (padding > 0 && (text.size() + padding) % 4 != 0) return std::nullopt;
  // libsodium 1.0.18 classifies characters with arithmetic on a (signed) char, which takes every byte
  // >= 0x80 for '-' or '_' and decodes it; only the 64 alphabet characters may reach it.
  for (const char c : text) {
    if (!in_alphabet(c)) return std::nullopt;
  }
  Bytes out(text.size() * 3 / 4 + 1);
  std::size_t out_len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &out_len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(out_len);
  return out;
}

}  // namespace sealpost
