// The outbox's flat exports: retry policy, decisions and due plans (JSON in, JSON out; the inputs are
// documented in src/core/retry_json.hpp), group tags, request records (sealed) and chunk streams
// for large bodies. Names in exports_outbox.txt;
// the only caller is js/wasm/outbox.js. Same conventions as exports.cpp: an int
// status back, (out, cap, out_len) outputs with buffer_too_small + the needed length.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/group_tag.hpp"
#include "core/record_stream.hpp"
#include "core/request_record.hpp"
#include "core/retry_after.hpp"
#include "core/retry_json.hpp"
#include "core/stack_wipe.hpp"
#include "core/status.hpp"
#include "wasm/boundary.hpp"
#include "wasm/keyring_instance.hpp"

using sealpost::ByteView;
using sealpost::KeyKind;
using sealpost::MutableByteView;
using sealpost::Status;
using sealpost::wasm::emit;
using sealpost::wasm::keyring;
using sealpost::wasm::readable;
using sealpost::wasm::status;
using sealpost::wasm::text;
using sealpost::wasm::view;

namespace {

struct Stream {
  std::unique_ptr<sealpost::record_stream::Sealer> sealer;
  std::unique_ptr<sealpost::record_stream::Opener> opener;
};

std::vector<std::unique_ptr<Stream>>& streams() {
  static std::vector<std::unique_ptr<Stream>> table;
  return table;
}

int put_stream(std::unique_ptr<Stream> stream) {
  auto& table = streams();
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (!table[i]) {
      table[i] = std::move(stream);
      return static_cast<int>(i + 1);
    }
  }
  table.push_back(std::move(stream));
  return static_cast<int>(table.size());
}

Stream* find_stream(int handle) {
  auto& table = streams();
  if (handle <= 0 || static_cast<std::size_t>(handle) > table.size()) return nullptr;
  return table[static_cast<std::size_t>(handle - 1)].get();
}

sealpost::record::Place place_of(const char* db, std::size_t db_len, const char* queue, std::size_t queue_len,
                                 const char* entry_id, std::size_t entry_id_len) {
  return {text(db, db_len), text(queue, queue_len), text(entry_id, entry_id_len)};
}

bool place_readable(const char* db, std::size_t db_len, const char* queue, std::size_t queue_len,
                    const char* entry_id, std::size_t entry_id_len) {
  return readable(db, db_len) && readable(queue, queue_len) && readable(entry_id, entry_id_len);
}

}  // namespace

extern "C" {

// The retry engine's JSON exports (src/core/retry_json.hpp documents every input and output).
// sp_retry_policy: ok → out = the complete policy; invalid_policy / invalid_json → out = the offending field.
int sp_retry_policy(const std::uint8_t* in, std::size_t len, std::uint8_t* out, std::size_t cap,
                    std::size_t* out_len) {
  if (!readable(in, len) || out_len == nullptr) return status(Status::invalid_argument);
  std::string result;
  std::string field;
  const Status s = sealpost::retry_json::policy(view(in, len), result, field);
  return s == Status::ok ? emit(result, out, cap, out_len) : emit(field, out, cap, out_len, s);
}

// One attempt's outcome → {action: 'sent'|'retry'|'dead', code, nextAttemptAt}.
int sp_retry_decide(const std::uint8_t* in, std::size_t len, std::uint8_t* out, std::size_t cap,
                    std::size_t* out_len) {
  if (!readable(in, len) || out_len == nullptr) return status(Status::invalid_argument);
  std::string result;
  const Status s = sealpost::retry_json::decide(view(in, len), result);
  return s == Status::ok ? emit(result, out, cap, out_len) : status(s);
}

// What is due → {due: [id], expired: [id], nextAttemptAt: ms | null}.
int sp_retry_plan(const std::uint8_t* in, std::size_t len, std::uint8_t* out, std::size_t cap,
                  std::size_t* out_len) {
  if (!readable(in, len) || out_len == nullptr) return status(Status::invalid_argument);
  std::string result;
  const Status s = sealpost::retry_json::plan(view(in, len), result);
  return s == Status::ok ? emit(result, out, cap, out_len) : status(s);
}

// Retry-After → absolute ms in *out_ms; malformed if it is neither delta-seconds nor an HTTP-date.
int sp_retry_after(const char* value, std::size_t len, double now_ms, double* out_ms) {
  if (!readable(value, len) || out_ms == nullptr) return status(Status::invalid_argument);
  const auto at = sealpost::retry_after::parse(text(value, len), static_cast<std::int64_t>(now_ms));
  if (!at) return status(Status::malformed);
  *out_ms = static_cast<double>(*at);
  return status(Status::ok);
}

// The 16-byte keyed BLAKE2b tag of a group name under a symmetric key.
int sp_group_tag(int handle, const char* group, std::size_t len, std::uint8_t* out16) {
  const sealpost::StackWipe wipe;  // libsodium and nlohmann leave key and request bytes in their frames
  if (!readable(group, len) || out16 == nullptr) return status(Status::invalid_argument);
  const sealpost::SecretBytes* key = keyring().find(handle, KeyKind::symmetric);
  if (key == nullptr) return status(Status::unknown_key);
  sealpost::GroupTag tag{};
  if (const Status s = sealpost::group_tag(key->view(), text(group, len), tag); s != Status::ok) return status(s);
  std::memcpy(out16, tag.data(), tag.size());
  return status(Status::ok);
}

// Encodes a request (fields as JSON, body as bytes) to a record plaintext (src/core/request_record.hpp)
// and seals it to its place.
// invalid_request: out = the name of the offending field.
int sp_request_seal(int handle, const char* db, std::size_t db_len, const char* queue, std::size_t queue_len,
                    const char* entry_id, std::size_t entry_id_len, const std::uint8_t* fields,
                    std::size_t fields_len, const std::uint8_t* body, std::size_t body_len, std::uint8_t* out,
                    std::size_t cap, std::size_t* out_len) {
  const sealpost::StackWipe wipe;  // libsodium and nlohmann leave key and request bytes in their frames
  if (!place_readable(db, db_len, queue, queue_len, entry_id, entry_id_len) || !readable(fields, fields_len) ||
      !readable(body, body_len) || out_len == nullptr) {
    return status(Status::invalid_argument);
  }
  const sealpost::SecretBytes* key = keyring().find(handle, KeyKind::symmetric);
  if (key == nullptr) return status(Status::unknown_key);
  sealpost::Bytes sealed;
  std::string field;
  const Status s = sealpost::request_record::seal(key->view(), place_of(db, db_len, queue, queue_len, entry_id,
                                                                        entry_id_len),
                                                  view(fields, fields_len), view(body, body_len), sealed, field);
  if (s == Status::invalid_request) {
    return emit(field, out, cap, out_len, s);
  }
  if (s != Status::ok) return status(s);
  return emit(sealed, out, cap, out_len);
}

// Opens a sealed request record: out = u32le(len fields) ‖ fields JSON ‖ inline body.
int sp_request_open(int handle, const char* db, std::size_t db_len, const char* queue, std::size_t queue_len,
                    const char* entry_id, std::size_t entry_id_len, const std::uint8_t* sealed,
                    std::size_t sealed_len, std::uint8_t* out, std::size_t cap, std::size_t* out_len) {
  const sealpost::StackWipe wipe;  // libsodium and nlohmann leave key and request bytes in their frames
  if (!place_readable(db, db_len, queue, queue_len, entry_id, entry_id_len) || !readable(sealed, sealed_len) ||
      out_len == nullptr) {
    return status(Status::invalid_argument);
  }
  const sealpost::SecretBytes* key = keyring().find(handle, KeyKind::symmetric);
  if (key == nullptr) return status(Status::unknown_key);
  sealpost::SecretBytes framed;
  const Status s = sealpost::request_record::open(
      key->view(), place_of(db, db_len, queue, queue_len, entry_id, entry_id_len), view(sealed, sealed_len), framed);
  if (s != Status::ok) return status(s);
  return emit(framed.view(), out, cap, out_len);
}

// Starts sealing a chunk stream; writes its 24-byte header. Returns a stream handle (> 0) or -status.
int sp_stream_seal_init(int handle, const char* db, std::size_t db_len, const char* queue, std::size_t queue_len,
                        const char* entry_id, std::size_t entry_id_len, std::uint8_t* header_out24) {
  const sealpost::StackWipe wipe;  // libsodium and nlohmann leave key and request bytes in their frames
  if (!place_readable(db, db_len, queue, queue_len, entry_id, entry_id_len) || header_out24 == nullptr) {
    return -status(Status::invalid_argument);
  }
  const sealpost::SecretBytes* key = keyring().find(handle, KeyKind::symmetric);
  if (key == nullptr) return -status(Status::unknown_key);
  auto stream = std::make_unique<Stream>();
  stream->sealer = std::make_unique<sealpost::record_stream::Sealer>();
  const Status s = stream->sealer->init(key->view(), place_of(db, db_len, queue, queue_len, entry_id, entry_id_len),
                                        MutableByteView(header_out24, sealpost::record_stream::kHeaderBytes));
  if (s != Status::ok) return -status(s);
  return put_stream(std::move(stream));
}

int sp_stream_seal_push(int stream_handle, const std::uint8_t* chunk, std::size_t len, int final, std::uint8_t* out,
                        std::size_t cap, std::size_t* out_len) {
  const sealpost::StackWipe wipe;  // libsodium and nlohmann leave key and request bytes in their frames
  Stream* stream = find_stream(stream_handle);
  if (stream == nullptr || !stream->sealer || !readable(chunk, len) || out_len == nullptr) {
    return status(Status::invalid_argument);
  }
  const std::size_t needed = len + sealpost::record_stream::kChunkOverhead;
  *out_len = needed;
  if (cap < needed || out == nullptr) return status(Status::buffer_too_small);
  return status(stream->sealer->push(view(chunk, len), final != 0, MutableByteView(out, needed)));
}

int sp_stream_open_init(int handle, const char* db, std::size_t db_len, const char* queue, std::size_t queue_len,
                        const char* entry_id, std::size_t entry_id_len, const std::uint8_t* header,
                        std::size_t header_len) {
  const sealpost::StackWipe wipe;  // libsodium and nlohmann leave key and request bytes in their frames
  if (!place_readable(db, db_len, queue, queue_len, entry_id, entry_id_len) || !readable(header, header_len)) {
    return -status(Status::invalid_argument);
  }
  const sealpost::SecretBytes* key = keyring().find(handle, KeyKind::symmetric);
  if (key == nullptr) return -status(Status::unknown_key);
  auto stream = std::make_unique<Stream>();
  stream->opener = std::make_unique<sealpost::record_stream::Opener>();
  const Status s = stream->opener->init(key->view(), place_of(db, db_len, queue, queue_len, entry_id, entry_id_len),
                                        view(header, header_len));
  if (s != Status::ok) return -status(s);
  return put_stream(std::move(stream));
}

int sp_stream_open_pull(int stream_handle, const std::uint8_t* sealed, std::size_t len, std::uint8_t* out,
                        std::size_t cap, std::size_t* out_len, int* final_out) {
  const sealpost::StackWipe wipe;  // libsodium and nlohmann leave key and request bytes in their frames
  Stream* stream = find_stream(stream_handle);
  if (stream == nullptr || !stream->opener || !readable(sealed, len) || out_len == nullptr || final_out == nullptr) {
    return status(Status::invalid_argument);
  }
  if (len < sealpost::record_stream::kChunkOverhead) return status(Status::record_tampered);
  const std::size_t needed = len - sealpost::record_stream::kChunkOverhead;
  *out_len = needed;
  if (cap < needed || (out == nullptr && needed > 0)) return status(Status::buffer_too_small);
  bool final = false;
  const Status s = stream->opener->pull(view(sealed, len), MutableByteView(out, needed), final);
  *final_out = final ? 1 : 0;
  return status(s);
}

// Forgets a stream (its state is zeroed).
int sp_stream_release(int stream_handle) {
  if (find_stream(stream_handle) == nullptr) return status(Status::invalid_argument);
  streams()[static_cast<std::size_t>(stream_handle - 1)].reset();
  return status(Status::ok);
}

}  // extern "C"
