#include "core/record_stream.hpp"

#include "core/sodium_init.hpp"

namespace sealpost::record_stream {

namespace {

constexpr std::string_view kContext = "sealpost/outbox-chunk/v1";

void append_name(Bytes& ad, std::string_view name) {
  ad.push_back(static_cast<std::uint8_t>(name.size() >> 8));
  ad.push_back(static_cast<std::uint8_t>(name.size() & 0xff));
  ad.insert(ad.end(), name.begin(), name.end());
}

Bytes chunk_ad(const OwnedPlace& place, std::uint32_t index) {
  Bytes ad;
  ad.reserve(kContext.size() + 10 + place.database.size() + place.queue.size() + place.entry_id.size());
  ad.insert(ad.end(), kContext.begin(), kContext.end());
  append_name(ad, place.database);
  append_name(ad, place.queue);
  append_name(ad, place.entry_id);
  for (int shift = 24; shift >= 0; shift -= 8) ad.push_back(static_cast<std::uint8_t>(index >> shift));
  return ad;
}

bool place_fits(const record::Place& place) {
  return place.database.size() <= record::kMaxNameBytes && place.queue.size() <= record::kMaxNameBytes &&
         place.entry_id.size() <= record::kMaxNameBytes;
}

OwnedPlace own(const record::Place& place) {
  return {std::string(place.database), std::string(place.queue), std::string(place.entry_id)};
}

}  // namespace

Sealer::~Sealer() { sodium_memzero(&state_, sizeof state_); }

Status Sealer::init(ByteView key, const record::Place& place, MutableByteView header) {
  if (!ensure_sodium()) return Status::crypto_failure;
  if (key.size() != record::kKeyBytes || header.size() != kHeaderBytes || !place_fits(place) || started_) {
    return Status::invalid_argument;
  }
  if (crypto_secretstream_xchacha20poly1305_init_push(&state_, header.data(), key.data()) != 0) {
    return Status::crypto_failure;
  }
  place_ = own(place);
  started_ = true;
  return Status::ok;
}

Status Sealer::push(ByteView chunk, bool final, MutableByteView out) {
  if (!started_ || finished_ || chunk.size() > kMaxChunkBytes) return Status::invalid_argument;
  if (out.size() != chunk.size() + kChunkOverhead) return Status::buffer_too_small;
  const Bytes ad = chunk_ad(place_, index_);
  const unsigned char tag =
      final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  if (crypto_secretstream_xchacha20poly1305_push(&state_, out.data(), nullptr, chunk.data(), chunk.size(), ad.data(),
                                                 ad.size(), tag) != 0) {
    return Status::crypto_failure;
  }
  ++index_;
  finished_ = final;
  return Status::ok;
}

Opener::~Opener() { sodium_memzero(&state_, sizeof state_); }

Status Opener::init(ByteView key, const record::Place& place, ByteView header) {
  if (!ensure_sodium()) return Status::crypto_failure;
  if (key.size() != record::kKeyBytes || !place_fits(place) || started_) return Status::invalid_argument;
  if (header.size() != kHeaderBytes) return Status::record_tampered;
  if (crypto_secretstream_xchacha20poly1305_init_pull(&state_, header.data(), key.data()) != 0) {
    return Status::record_tampered;
  }
  place_ = own(place);
  started_ = true;
  return Status::ok;
}

Status Opener::pull(ByteView sealed, MutableByteView out, bool& final) {
  final = false;
  if (!started_) return Status::invalid_argument;
  if (finished_ || sealed.size() < kChunkOverhead || sealed.size() > kMaxChunkBytes + kChunkOverhead) {
    return Status::record_tampered;
  }
  if (out.size() != sealed.size() - kChunkOverhead) return Status::buffer_too_small;
  const Bytes ad = chunk_ad(place_, index_);
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&state_, out.data(), nullptr, &tag, sealed.data(), sealed.size(),
                                                 ad.data(), ad.size()) != 0 ||
      (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE &&
       tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)) {
    if (!out.empty()) sodium_memzero(out.data(), out.size());
    return Status::record_tampered;
  }
  ++index_;
  finished_ = final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  return Status::ok;
}

Status check(ByteView bytes) {
  if (bytes.size() < kHeaderBytes) return Status::record_tampered;
  const std::uint8_t key[record::kKeyBytes] = {};
  Opener opener;
  const record::Place place{"fuzz", "fuzz", "fuzz"};
  if (const Status s = opener.init(ByteView(key, sizeof key), place, bytes.first(kHeaderBytes)); s != Status::ok) {
    return s;
  }
  ByteView rest = bytes.subspan(kHeaderBytes);
  while (!rest.empty()) {
    if (rest.size() < 4) return Status::record_tampered;
    const std::size_t length = rest[0] | (rest[1] << 8) | (rest[2] << 16) | (static_cast<std::size_t>(rest[3]) << 24);
    rest = rest.subspan(4);
    if (length > rest.size() || length < kChunkOverhead) return Status::record_tampered;
    Bytes out(length - kChunkOverhead);
    bool final = false;
    if (const Status s = opener.pull(rest.first(length), out, final); s != Status::ok) return s;
    rest = rest.subspan(length);
  }
  return opener.finished() ? Status::ok : Status::record_tampered;
}

}  // namespace sealpost::record_stream
