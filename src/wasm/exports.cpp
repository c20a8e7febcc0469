// The flat boundary between sealpost.wasm and js/wasm/core.js: one extern "C" function per operation,
// bytes in and bytes out, an int status back (0 = ok, otherwise a sealpost::Status; functions that
// return a handle return it when > 0 and -status otherwise). No exception crosses (-fno-exceptions).
//
// The exported names are listed in src/wasm/exports.txt (and exports_<area>.txt beside their
// exports_<area>.cpp); js/wasm/ is the only caller.
// Output buffers are (out, cap, out_len): the function writes at most cap bytes and stores the length
// it wrote (or the length it needs, with buffer_too_small) in *out_len.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/keyring.hpp"
#include "core/record.hpp"
#include "core/sodium_init.hpp"
#include "core/stack_wipe.hpp"
#include "core/status.hpp"
#include "wasm/boundary.hpp"
#include "wasm/keyring_instance.hpp"

using sealpost::ByteView;
using sealpost::KeyKind;
using sealpost::MutableByteView;
using sealpost::Status;

namespace sealpost::wasm {

sealpost::Keyring& keyring() {
  static sealpost::Keyring ring;
  return ring;
}

}  // namespace sealpost::wasm

using sealpost::wasm::emit;
using sealpost::wasm::keyring;
using sealpost::wasm::readable;
using sealpost::wasm::status;
using sealpost::wasm::text;
using sealpost::wasm::view;

extern "C" {

// The stable name of a status, as ASCII ("record-tampered").
int sp_status_name(int code, char* out, std::size_t cap, std::size_t* out_len) {
  const std::string_view name = sealpost::status_name(code);
  if (name.empty() || out_len == nullptr) return status(Status::invalid_argument);
  return emit(name, out, cap, out_len);
}

// Fills out with libsodium's randombytes (crypto.getRandomValues underneath).
int sp_random_bytes(std::uint8_t* out, std::size_t len) {
  if (!readable(out, len)) return status(Status::invalid_argument);
  if (!sealpost::ensure_sodium()) return status(Status::crypto_failure);
  randombytes_buf(out, len);
  return status(Status::ok);
}

int sp_key_generate(int kind) {
  const sealpost::StackWipe wipe;  // libsodium leaves key and plaintext bytes in its stack frames
  if (!sealpost::valid_kind(kind)) return -status(Status::invalid_argument);
  return keyring().generate(static_cast<KeyKind>(kind));
}

int sp_key_import(int kind, const std::uint8_t* bytes, std::size_t len) {
  const sealpost::StackWipe wipe;  // libsodium leaves key and plaintext bytes in its stack frames
  if (!sealpost::valid_kind(kind) || !readable(bytes, len)) return -status(Status::invalid_argument);
  return keyring().import(static_cast<KeyKind>(kind), view(bytes, len));
}

// Copies a key's raw bytes out (to be wrapped for storage; the caller zeroes its copy).
int sp_key_export(int handle, std::uint8_t* out, std::size_t cap, std::size_t* out_len) {
  if (!keyring().contains(handle)) return status(Status::unknown_key);
  const sealpost::SecretBytes* key = keyring().find(handle, keyring().kind_of(handle));
  if (out_len == nullptr) return status(Status::invalid_argument);
  return emit(key->view(), out, cap, out_len);
}

int sp_key_id(int handle, std::uint8_t* out8) {
  const sealpost::StackWipe wipe;  // libsodium leaves key and plaintext bytes in its stack frames
  if (out8 == nullptr) return status(Status::invalid_argument);
  sealpost::KeyId id{};
  if (const Status s = keyring().key_id(handle, id); s != Status::ok) return status(s);
  std::memcpy(out8, id.data(), id.size());
  return status(Status::ok);
}

int sp_key_public(int handle, std::uint8_t* out, std::size_t cap, std::size_t* out_len) {
  if (!keyring().contains(handle)) return status(Status::unknown_key);
  const ByteView pk = keyring().public_key(handle);
  if (pk.empty() || out_len == nullptr) return status(Status::invalid_argument);
  return emit(pk, out, cap, out_len);
}

int sp_key_release(int handle) {
  return keyring().release(handle) ? status(Status::ok) : status(Status::unknown_key);
}

int sp_key_count() { return static_cast<int>(keyring().size()); }

int sp_public_key_id(const std::uint8_t* pk, std::size_t len, std::uint8_t* out8) {
  if (pk == nullptr || len != 32 || out8 == nullptr) return status(Status::invalid_argument);
  if (!sealpost::ensure_sodium()) return status(Status::crypto_failure);
  const sealpost::KeyId id = sealpost::public_key_id(view(pk, len));
  std::memcpy(out8, id.data(), id.size());
  return status(Status::ok);
}

int sp_record_seal(int handle, const char* db, std::size_t db_len, const char* queue, std::size_t queue_len,
                   const char* entry_id, std::size_t entry_id_len, const std::uint8_t* plaintext,
                   std::size_t plaintext_len, std::uint8_t* out, std::size_t cap, std::size_t* out_len) {
  const sealpost::StackWipe wipe;  // libsodium leaves key and plaintext bytes in its stack frames
  if (!readable(db, db_len) || !readable(queue, queue_len) || !readable(entry_id, entry_id_len) ||
      !readable(plaintext, plaintext_len) || out_len == nullptr) {
    return status(Status::invalid_argument);
  }
  const sealpost::SecretBytes* key = keyring().find(handle, KeyKind::symmetric);
  if (key == nullptr) return status(Status::unknown_key);
  const std::size_t needed = sealpost::record::sealed_size(plaintext_len);
  *out_len = needed;
  if (cap < needed || out == nullptr) return status(Status::buffer_too_small);
  // The plaintext may be sealed in place, at out + kHeaderBytes exactly (js/wasm/core.js does this: the
  // ciphertext overwrites it); any other overlap of the two would corrupt the record and is refused.
  const auto p = reinterpret_cast<std::uintptr_t>(plaintext), o = reinterpret_cast<std::uintptr_t>(out);
  if (plaintext_len > 0 && p != o + sealpost::record::kHeaderBytes && p < o + needed && o < p + plaintext_len) {
    return status(Status::invalid_argument);
  }
  sealpost::KeyId id{};
  keyring().key_id(handle, id);
  const sealpost::record::Place place{text(db, db_len), text(queue, queue_len), text(entry_id, entry_id_len)};
  return status(sealpost::record::seal_random_nonce(key->view(), id, place, view(plaintext, plaintext_len),
                                                    MutableByteView(out, needed)));
}

int sp_record_open(int handle, const char* db, std::size_t db_len, const char* queue, std::size_t queue_len,
                   const char* entry_id, std::size_t entry_id_len, const std::uint8_t* sealed,
                   std::size_t sealed_len, std::uint8_t* out, std::size_t cap, std::size_t* out_len) {
  const sealpost::StackWipe wipe;  // libsodium leaves key and plaintext bytes in its stack frames
  if (!readable(db, db_len) || !readable(queue, queue_len) || !readable(entry_id, entry_id_len) ||
      !readable(sealed, sealed_len) || out_len == nullptr) {
    return status(Status::invalid_argument);
  }
  const sealpost::SecretBytes* key = keyring().find(handle, KeyKind::symmetric);
  if (key == nullptr) return status(Status::unknown_key);
  if (sealed_len < sealpost::record::kOverhead) return status(Status::record_tampered);
  const std::size_t needed = sealed_len - sealpost::record::kOverhead;
  *out_len = needed;
  if (cap < needed || (out == nullptr && needed > 0)) return status(Status::buffer_too_small);
  sealpost::KeyId id{};
  keyring().key_id(handle, id);
  const sealpost::record::Place place{text(db, db_len), text(queue, queue_len), text(entry_id, entry_id_len)};
  return status(
      sealpost::record::open(key->view(), id, place, view(sealed, sealed_len), MutableByteView(out, needed)));
}

// The key id a sealed record names (8 bytes), so JS can pick the key for a record after a rotation.
int sp_record_key_id(const std::uint8_t* sealed, std::size_t sealed_len, std::uint8_t* out8) {
  if (!readable(sealed, sealed_len) || out8 == nullptr) return status(Status::invalid_argument);
  sealpost::KeyId id{};
  if (const Status s = sealpost::record::key_id_of(view(sealed, sealed_len), id); s != Status::ok) {
    return status(s);
  }
  std::memcpy(out8, id.data(), id.size());
  return status(Status::ok);
}

}  // extern "C"
