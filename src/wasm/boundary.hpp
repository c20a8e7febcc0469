// Helpers shared by the flat exports (src/wasm/exports.cpp, exports_<area>.cpp): status numbers,
// pointer/length checks, views of the caller's buffers, and the (out, cap, out_len) output convention.
//
// Output buffers are (out, cap, out_len): a function writes at most cap bytes and stores the length it
// wrote, or the length it needs together with buffer_too_small, in *out_len.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/bytes.hpp"
#include "core/status.hpp"

namespace sealpost::wasm {

inline int status(Status s) { return to_int(s); }

// A (pointer, length) pair from JS is usable: a null pointer only with length 0.
inline bool readable(const void* data, std::size_t len) { return data != nullptr || len == 0; }

inline ByteView view(const std::uint8_t* data, std::size_t len) { return {data, len}; }

inline std::string_view text(const char* data, std::size_t len) { return {data, len}; }

// Writes `bytes` to (out, cap, out_len) and returns `result`, or stores the length needed and returns
// buffer_too_small. out_len must not be null (callers check it with their other arguments).
inline int emit(ByteView bytes, std::uint8_t* out, std::size_t cap, std::size_t* out_len, Status result = Status::ok) {
  *out_len = bytes.size();
  if (cap < bytes.size() || (out == nullptr && !bytes.empty())) return status(Status::buffer_too_small);
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  return status(result);
}

// The same for text output (JSON, names), into a char or byte buffer.
inline int emit(std::string_view chars, std::uint8_t* out, std::size_t cap, std::size_t* out_len,
                Status result = Status::ok) {
  return emit(as_bytes(chars), out, cap, out_len, result);
}

inline int emit(std::string_view chars, char* out, std::size_t cap, std::size_t* out_len, Status result = Status::ok) {
  return emit(as_bytes(chars), reinterpret_cast<std::uint8_t*>(out), cap, out_len, result);
}

}  // namespace sealpost::wasm
