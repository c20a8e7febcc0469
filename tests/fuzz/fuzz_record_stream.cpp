// Fuzz target: the chunk streams that seal large outbox bodies (src/core/record_stream.hpp).
//
// Input: one byte choosing the chunk size (1..256 bytes) ‖ one byte choosing a position to damage ‖ the
// body. Properties, for every input:
//   - check() on the raw input (as header ‖ framed chunks) is ok or record-tampered, never a crash;
//   - the body sealed in chunks opens back to itself (the stream ends with its final chunk);
//   - one flipped bit anywhere in the sealed chunks, a dropped final chunk, or another entry id is
//     record-tampered, and the failed chunk's output is zeroed.
#include <vector>

#include "core/record_stream.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace sealpost;

constexpr std::uint8_t kKey[record::kKeyBytes] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
const record::Place kPlace{"sealpost-outbox", "notes", "0123456789abcdef0123456789abcdef"};

// Opens every chunk in order; ok only if all open and the last (only) is final.
Status open_all(ByteView header, const std::vector<Bytes>& chunks, const record::Place& place, Bytes& body) {
  record_stream::Opener opener;
  if (const Status s = opener.init(ByteView(kKey, sizeof kKey), place, header); s != Status::ok) return s;
  body.clear();
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    Bytes out(chunks[i].size() - record_stream::kChunkOverhead, 0xa5);
    bool final = false;
    const Status s = opener.pull(chunks[i], out, final);
    if (s != Status::ok) {
      FUZZ_CHECK(fuzz::all_zero(out));
      return s;
    }
    body.insert(body.end(), out.begin(), out.end());
  }
  return opener.finished() ? Status::ok : Status::record_tampered;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FUZZ_CHECK(fuzz::one_of(record_stream::check(ByteView(data, size)), {Status::ok, Status::record_tampered}));

  fuzz::Input input(data, size);
  const std::size_t chunk_size = 1 + input.byte();
  const std::size_t damage = input.byte();
  const ByteView body = input.rest();

  Bytes header(record_stream::kHeaderBytes);
  record_stream::Sealer sealer;
  FUZZ_CHECK(sealer.init(ByteView(kKey, sizeof kKey), kPlace, header) == Status::ok);
  std::vector<Bytes> chunks;
  std::size_t offset = 0;
  do {
    const std::size_t n = std::min(chunk_size, body.size() - offset);
    Bytes sealed(n + record_stream::kChunkOverhead);
    FUZZ_CHECK(sealer.push(body.subspan(offset, n), offset + n == body.size(), sealed) == Status::ok);
    chunks.push_back(std::move(sealed));
    offset += n;
  } while (offset < body.size());

  Bytes opened;
  FUZZ_CHECK(open_all(header, chunks, kPlace, opened) == Status::ok);
  FUZZ_CHECK(fuzz::equal(opened, body));

  const record::Place elsewhere{kPlace.database, kPlace.queue, "another entry"};
  FUZZ_CHECK(open_all(header, chunks, elsewhere, opened) == Status::record_tampered);
  if (chunks.size() > 1) {
    std::vector<Bytes> truncated(chunks.begin(), chunks.end() - 1);
    FUZZ_CHECK(open_all(header, truncated, kPlace, opened) == Status::record_tampered);
  }
  std::size_t total = 0;
  for (const Bytes& c : chunks) total += c.size();
  std::size_t bit = (damage * 2654435761u) % (total * 8);
  for (Bytes& c : chunks) {
    if (bit < c.size() * 8) {
      c[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      break;
    }
    bit -= c.size() * 8;
  }
  FUZZ_CHECK(open_all(header, chunks, kPlace, opened) == Status::record_tampered);
  return 0;
}
