// Fuzz target: base64url decoding (src/core/base64url.hpp), used for every key, key id and envelope that
// arrives as text.
//
// Properties, for every input text:
//   - decoding either fails or succeeds with exactly floor(6 n / 8) bytes for the n alphabet characters;
//   - a decoded text is canonical: encoding the bytes gives the text back without its '=' padding;
//   - encoding the raw input bytes and decoding that gives the input back.
#include <cstring>
#include <string>

#include "core/base64url.hpp"
#include "core/sodium_init.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sealpost;
  FUZZ_CHECK(ensure_sodium());
  const ByteView bytes(data, size);
  const std::string_view text = as_text(bytes);

  if (const auto decoded = base64url_decode(text)) {
    std::string_view unpadded = text;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.remove_suffix(1);
    FUZZ_CHECK(text.size() - unpadded.size() <= 2);
    FUZZ_CHECK(decoded->size() == unpadded.size() * 6 / 8);
    FUZZ_CHECK(base64url_encode(*decoded) == unpadded);
  }

  const std::string encoded = base64url_encode(bytes);
  FUZZ_CHECK(encoded.find('=') == std::string::npos);
  const auto round_trip = base64url_decode(encoded);
  FUZZ_CHECK(round_trip.has_value() && round_trip->size() == size);
  FUZZ_CHECK(size == 0 || std::memcmp(round_trip->data(), data, size) == 0);
  return 0;
}
