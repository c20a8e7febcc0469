// Fuzz target: sealing and opening outbox records with arbitrary places and plaintexts
// (src/core/record.hpp).
//
// Input: three length bytes (database, queue, entry id) ‖ those names ‖ one tamper byte ‖ the plaintext.
// Properties, for every input:
//   - a record sealed to a place opens there to the same plaintext;
//   - it does not open at a neighbouring place (entry id with one more byte), nor after one bit of it is
//     flipped (the tamper byte picks which: wrong-key in the key id, record-tampered elsewhere), and every
//     failed open leaves the output all zero;
//   - a wrong output size is refused (buffer-too-small) rather than written past.
#include <cstring>
#include <string>

#include "core/key_id.hpp"
#include "core/record.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sealpost;
  fuzz::Input input(data, size);
  const std::size_t db_len = input.byte();
  const std::size_t queue_len = input.byte();
  const std::size_t id_len = input.byte();
  const std::string database(as_text(input.take(db_len)));
  const std::string queue(as_text(input.take(queue_len)));
  const std::string entry_id(as_text(input.take(id_len)));
  const std::size_t tamper = input.byte();
  const ByteView plaintext = input.rest();

  std::uint8_t key[record::kKeyBytes];
  for (std::size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<std::uint8_t>(i * 13 + 1);
  const record::Place place{database, queue, entry_id};

  Bytes sealed(record::sealed_size(plaintext.size()));
  Bytes too_small(sealed.size() - 1);
  FUZZ_CHECK(record::seal_random_nonce(key, place, plaintext, too_small) == Status::buffer_too_small);
  FUZZ_CHECK(record::seal_random_nonce(key, place, plaintext, sealed) == Status::ok);
  FUZZ_CHECK(sealed[0] == record::kVersion);
  const KeyId id = secret_key_id(ByteView(key, sizeof key));
  FUZZ_CHECK(std::memcmp(sealed.data() + 1, id.data(), id.size()) == 0);

  Bytes opened(plaintext.size());
  FUZZ_CHECK(record::open(key, place, sealed, opened) == Status::ok);
  FUZZ_CHECK(fuzz::equal(opened, plaintext));

  const std::string moved_id = entry_id + "x";
  Bytes moved(plaintext.size(), 0xa5);
  FUZZ_CHECK(record::open(key, {database, queue, moved_id}, sealed, moved) == Status::record_tampered);
  FUZZ_CHECK(fuzz::all_zero(moved));

  const std::size_t bit = (tamper * 131) % (sealed.size() * 8);
  sealed[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  Bytes tampered(plaintext.size(), 0xa5);
  const Status status = record::open(key, place, sealed, tampered);
  const bool in_key_id = bit / 8 >= 1 && bit / 8 < 1 + kKeyIdBytes;
  FUZZ_CHECK(status == (in_key_id ? Status::wrong_key : Status::record_tampered));
  FUZZ_CHECK(fuzz::all_zero(tampered));
  return 0;
}
