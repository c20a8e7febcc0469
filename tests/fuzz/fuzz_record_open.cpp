// Fuzz target: opening a sealed outbox record (src/core/record.hpp), the decoder every stored record
// goes through before replay.
//
// Input: one selector byte (which of the four keys and places of tests/vectors/records.json to open
// with) ‖ the sealed record. Properties, for every input:
//   - the status is ok, record-tampered or wrong-key, and key_id_of agrees with the header;
//   - on failure the output buffer is all zero (no partial plaintext is left behind);
//   - on success, re-sealing the plaintext with the record's own nonce gives back the input bytes.
#include <array>
#include <cstring>
#include <string_view>

#include "core/key_id.hpp"
#include "core/record.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace sealpost;

struct VectorPlace {
  std::string_view database, queue, entry_id;
};

// The places of tests/vectors/records.json; vector k's key is byte i = 0x0a + k + 7 i.
constexpr std::array<VectorPlace, 4> kPlaces{{
    {"sealpost", "notes", "00112233445566778899aabbccddeeff"},
    {"sealpost", "notes", "a"},
    {"db", "q", "\xc3\xa9-\xc3\xbc-\xe2\x9c\x93"},
    {"", "", ""},
}};

std::array<std::uint8_t, record::kKeyBytes> vector_key(std::size_t k) {
  std::array<std::uint8_t, record::kKeyBytes> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0x0a + k + 7 * i);
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input input(data, size);
  const std::size_t k = input.byte() % kPlaces.size();
  const ByteView sealed = input.rest();
  const auto key = vector_key(k);
  const record::Place place{kPlaces[k].database, kPlaces[k].queue, kPlaces[k].entry_id};

  KeyId named{};
  const Status id_status = record::key_id_of(sealed, named);
  FUZZ_CHECK(fuzz::one_of(id_status, {Status::ok, Status::record_tampered}));
  if (id_status == Status::ok) {
    FUZZ_CHECK(sealed.size() >= record::kOverhead && sealed[0] == record::kVersion);
    FUZZ_CHECK(std::memcmp(named.data(), sealed.data() + 1, kKeyIdBytes) == 0);
  }

  // The caller sizes the output from the input, as sp_record_open does; a short input cannot be sized.
  Bytes out(sealed.size() >= record::kOverhead ? sealed.size() - record::kOverhead : 0, 0xa5);
  const Status status = record::open(key, place, sealed, out);
  FUZZ_CHECK(fuzz::one_of(status, {Status::ok, Status::record_tampered, Status::wrong_key}));
  if (id_status != Status::ok) FUZZ_CHECK(status == Status::record_tampered);
  if (status != Status::ok) {
    FUZZ_CHECK(fuzz::all_zero(out));
    return 0;
  }

  const ByteView nonce = sealed.subspan(1 + kKeyIdBytes, record::kNonceBytes);
  Bytes resealed(record::sealed_size(out.size()));
  FUZZ_CHECK(record::seal(key, nonce, place, out, resealed) == Status::ok);
  FUZZ_CHECK(resealed.size() == sealed.size() && std::memcmp(resealed.data(), sealed.data(), sealed.size()) == 0);
  return 0;
}
