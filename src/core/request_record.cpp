#include "core/request_record.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_text.hpp"

namespace sealpost::request_record {

using nlohmann::json;

namespace {

bool one_of(const std::string& text, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), text) != allowed.end();
}

bool token(const std::string& text) {
  if (text.empty() || text.size() > 64) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool header_value(const std::string& text) {
  return text.size() <= 65536 && std::none_of(text.begin(), text.end(), [](char c) {
           return c == '\0' || c == '\r' || c == '\n';
         });
}

Status bad(std::string& field, std::string name) {
  field = std::move(name);
  return Status::invalid_request;
}

bool non_negative_integer(const json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Deepest nesting of arrays and objects a request's metadata may have. nlohmann's JSON serializer
// recurses once per level, and the Wasm stack is small (128 KiB), so depth is bounded before it runs.
constexpr std::size_t kMaxNesting = 32;

// Whether `value` nests arrays/objects at most `max_depth` levels deep (an iterative walk).
bool nesting_within(const json& value, std::size_t max_depth) {
  std::vector<std::pair<const json*, std::size_t>> pending{{&value, 0}};
  while (!pending.empty()) {
    const auto [node, depth] = pending.back();
    pending.pop_back();
    if (!node->is_structured()) continue;
    if (depth >= max_depth) return false;
    for (const json& child : *node) pending.emplace_back(&child, depth + 1);
  }
  return true;
}

}  // namespace

Status validate(json& fields, std::string& field) {
  if (!fields.is_object()) return bad(field, "request");
  auto method = fields.find("method");
  if (method == fields.end() || !method->is_string() || !token(method->get_ref<const std::string&>())) {
    return bad(field, "method");
  }
  auto url = fields.find("url");
  if (url == fields.end() || !url->is_string() || url->get_ref<const std::string&>().empty() ||
      url->get_ref<const std::string&>().size() > kMaxUrlBytes) {
    return bad(field, "url");
  }
  if (auto headers = fields.find("headers"); headers != fields.end()) {
    if (!headers->is_array() || headers->size() > kMaxHeaders) return bad(field, "headers");
    for (const json& pair : *headers) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string() ||
          !token(pair[0].get_ref<const std::string&>()) || !header_value(pair[1].get_ref<const std::string&>())) {
        return bad(field, "headers");
      }
    }
  }
  struct Choice {
    const char* name;
    std::initializer_list<std::string_view> allowed;
  };
  const std::array<Choice, 5> choices = {{
      {"credentials", {"omit", "same-origin", "include"}},
      {"mode", {"same-origin", "no-cors", "cors", "navigate"}},
      {"cache", {"default", "no-store", "reload", "no-cache", "force-cache", "only-if-cached"}},
      {"redirect", {"follow", "error", "manual"}},
      {"referrerPolicy",
       {"", "no-referrer", "no-referrer-when-downgrade", "same-origin", "origin", "strict-origin",
        "origin-when-cross-origin", "strict-origin-when-cross-origin", "unsafe-url"}},
  }};
  for (const Choice& choice : choices) {
    auto it = fields.find(choice.name);
    if (it == fields.end()) continue;
    if (!it->is_string() || !one_of(it->get_ref<const std::string&>(), choice.allowed)) return bad(field, choice.name);
  }
  if (auto mode = fields.find("mode"); mode != fields.end() && *mode == "navigate") *mode = "same-origin";
  for (const char* name : {"referrer", "integrity"}) {
    auto it = fields.find(name);
    if (it != fields.end() && (!it->is_string() || it->get_ref<const std::string&>().size() > kMaxUrlBytes)) {
      return bad(field, name);
    }
  }
  if (auto it = fields.find("keepalive"); it != fields.end() && !it->is_boolean()) return bad(field, "keepalive");
  if (auto it = fields.find("metadata"); it != fields.end() && !nesting_within(*it, kMaxNesting)) {
    return bad(field, "metadata");
  }
  if (auto stream = fields.find("stream"); stream != fields.end()) {
    if (!stream->is_object()) return bad(field, "stream");
    auto header = stream->find("header");
    auto size = stream->find("size");
    auto chunks = stream->find("chunks");
    if (header == stream->end() || !header->is_string() || header->get_ref<const std::string&>().size() != 48 ||
        size == stream->end() || !non_negative_integer(*size) || chunks == stream->end() ||
        !non_negative_integer(*chunks)) {
      return bad(field, "stream");
    }
  }
  return Status::ok;
}

Status encode(ByteView fields_json, ByteView body, SecretBytes& plaintext, std::string& field) {
  json fields = parse_json(fields_json);
  if (fields.is_discarded() || !fields.is_object()) return bad(field, "request");
  fields.erase("body");
  fields.erase("v");
  if (const Status status = validate(fields, field); status != Status::ok) return status;
  std::string text = dump(fields);
  const std::size_t n = text.size();
  if (n > 0xffffffffu) return bad(field, "request");
  plaintext = SecretBytes(kHeaderBytes + n + body.size());
  std::uint8_t* out = plaintext.data();
  out[0] = static_cast<std::uint8_t>(kVersion);
  for (std::size_t i = 0; i < 4; ++i) out[1 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  std::copy(text.begin(), text.end(), out + kHeaderBytes);
  if (!body.empty()) std::copy(body.begin(), body.end(), out + kHeaderBytes + n);
  sodium_memzero(text.data(), text.size());
  return Status::ok;
}

namespace {

// Plaintext → the fields (validated) and the inline body. nlohmann's JSON parser does not
// recurse (validate() then bounds the nesting before anything that does, dump(), sees the fields), and it
// refuses text that is not UTF-8.
Status decode_v2(ByteView plaintext, json& fields, SecretBytes& body) {
  if (plaintext.size() < kHeaderBytes || plaintext[0] != kVersion) return Status::malformed;
  std::size_t n = 0;
  for (std::size_t i = 0; i < 4; ++i) n |= static_cast<std::size_t>(plaintext[1 + i]) << (8 * i);
  if (n > plaintext.size() - kHeaderBytes) return Status::malformed;
  fields = parse_json(plaintext.subspan(kHeaderBytes, n));
  // "v" and "body" are never written into the fields (encode() removes them).
  if (fields.is_discarded() || !fields.is_object() || fields.contains("v") || fields.contains("body")) {
    return Status::malformed;
  }
  std::string field;
  if (validate(fields, field) != Status::ok) return Status::malformed;
  body = SecretBytes(plaintext.subspan(kHeaderBytes + n));
  return Status::ok;
}

Status decode_fields(ByteView plaintext, json& fields, SecretBytes& body) {
  if (!plaintext.empty() && plaintext[0] >= kVersion1FirstByte && plaintext[0] <= kVersion1LastByte) {
    return Status::unsupported_version;
  }
  return decode_v2(plaintext, fields, body);
}

}  // namespace

Status decode(ByteView plaintext, SecretBytes& fields_json, SecretBytes& body) {
  json fields;
  if (const Status status = decode_fields(plaintext, fields, body); status != Status::ok) return status;
  std::string text = dump(fields);
  fields_json = SecretBytes(as_bytes(text));
  sodium_memzero(text.data(), text.size());
  return Status::ok;
}

Status seal(ByteView key, const record::Place& place, ByteView fields_json, ByteView body, Bytes& sealed,
            std::string& field) {
  SecretBytes plaintext;
  if (const Status status = encode(fields_json, body, plaintext, field); status != Status::ok) return status;
  sealed.assign(record::sealed_size(plaintext.size()), 0);
  return record::seal_random_nonce(key, place, plaintext.view(), sealed);
}

Status open(ByteView key, const record::Place& place, ByteView sealed, SecretBytes& framed) {
  if (sealed.size() < record::kOverhead) return Status::record_tampered;
  SecretBytes plaintext(sealed.size() - record::kOverhead);
  if (const Status status = record::open(key, place, sealed, plaintext.mutable_view()); status != Status::ok) {
    return status;
  }
  SecretBytes fields, body;
  // A version-1 record is unsupported_version. Any other record that authenticates but does not decode
  // was written by something else: treat it as tampered.
  if (const Status status = decode(plaintext.view(), fields, body); status != Status::ok) {
    return status == Status::unsupported_version ? status : Status::record_tampered;
  }
  framed = SecretBytes(4 + fields.size() + body.size());
  std::uint8_t* out = framed.data();
  const auto n = static_cast<std::uint32_t>(fields.size());
  out[0] = static_cast<std::uint8_t>(n);
  out[1] = static_cast<std::uint8_t>(n >> 8);
  out[2] = static_cast<std::uint8_t>(n >> 16);
  out[3] = static_cast<std::uint8_t>(n >> 24);
  std::copy(fields.data(), fields.data() + fields.size(), out + 4);
  if (!body.empty()) std::copy(body.data(), body.data() + body.size(), out + 4 + fields.size());
  return Status::ok;
}

Status check(ByteView bytes) {
  json fields;
  SecretBytes body;
  return decode_fields(bytes, fields, body);
}

}  // namespace sealpost::request_record
