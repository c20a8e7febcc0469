// Fuzz target: decoding an opened outbox request record (src/core/request_record.hpp), the plaintext every
// replayed request goes through after its record authenticates.
//
// Input: the plaintext (u8 version 2 ‖ u32le n ‖ n bytes of JSON ‖ body; seeds from scripts/make-corpus.mjs).
// Properties, for every input:
//   - check() and decode() agree, with a status of ok, malformed, or unsupported_version (a version-1 CBOR
//     record, which is no longer read: only for a plaintext starting with a CBOR map head, 0xa0-0xbf);
//   - a decoded request encodes again, and that encoding decodes to the same fields and body (the decoder
//     accepts exactly what the encoder can write, so nothing queued is changed by a round trip).
#include "core/request_record.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sealpost;
  const ByteView plaintext(data, size);
  const Status checked = request_record::check(plaintext);
  FUZZ_CHECK(fuzz::one_of(checked, {Status::ok, Status::malformed, Status::unsupported_version}));
  FUZZ_CHECK((checked == Status::unsupported_version) == (size > 0 && data[0] >= 0xa0 && data[0] <= 0xbf));

  SecretBytes fields, body;
  const Status decoded = request_record::decode(plaintext, fields, body);
  FUZZ_CHECK(decoded == checked);
  if (decoded != Status::ok) return 0;

  SecretBytes encoded;
  std::string field;
  FUZZ_CHECK(request_record::encode(fields.view(), body.view(), encoded, field) == Status::ok);
  SecretBytes fields_again, body_again;
  FUZZ_CHECK(request_record::decode(encoded.view(), fields_again, body_again) == Status::ok);
  FUZZ_CHECK(fuzz::equal(fields.view(), fields_again.view()));
  FUZZ_CHECK(fuzz::equal(body.view(), body_again.view()));
  return 0;
}
