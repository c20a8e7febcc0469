#include "core/request_record.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>
#include <vector>

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

// Deepest nesting of arrays and objects a request's metadata may have. nlohmann's CBOR writer and JSON
// serializer recurse once per level, and the Wasm stack is small (128 KiB), so depth is bounded before
// either runs.
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

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t low = 0;
    std::uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2, low = 0x80, code = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, low = 0x800, code = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4, low = 0x10000, code = lead & 0x07;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < low || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

// Whether every string and object key in `value` is UTF-8 (an iterative walk). The encoder only ever
// writes UTF-8 (its input is parsed JSON); anything else did not come from it.
bool all_text_utf8(const json& value) {
  std::vector<const json*> pending{&value};
  while (!pending.empty()) {
    const json* node = pending.back();
    pending.pop_back();
    if (node->is_string() && !valid_utf8(node->get_ref<const std::string&>())) return false;
    if (node->is_object()) {
      for (auto it = node->begin(); it != node->end(); ++it) {
        if (!valid_utf8(it.key())) return false;
        pending.push_back(&it.value());
      }
    } else if (node->is_array()) {
      for (const json& child : *node) pending.push_back(&child);
    }
  }
  return true;
}

// Whether CBOR `bytes` is one data item whose arrays and maps (and indefinite-length strings) nest at most
// `max_depth` levels, checked without recursion before nlohmann's recursive reader sees it. Tags and
// malformed heads are refused here; the reader checks everything else.
bool cbor_nesting_within(ByteView bytes, std::size_t max_depth) {
  struct Open {
    std::uint64_t remaining;  // items still to come (definite length)
    bool indefinite;          // ends at a 0xff break instead
  };
  std::vector<Open> open{{1, false}};
  std::size_t pos = 0;
  while (!open.empty()) {
    if (!open.back().indefinite && open.back().remaining == 0) {
      open.pop_back();
      continue;
    }
    if (pos >= bytes.size()) return false;
    const std::uint8_t initial = bytes[pos++];
    if (open.back().indefinite && initial == 0xff) {
      open.pop_back();
      continue;
    }
    if (!open.back().indefinite) --open.back().remaining;
    const unsigned major = initial >> 5;
    const unsigned info = initial & 0x1f;
    if (info == 31) {  // indefinite length: arrays, maps and chunked strings only
      if (major < 2 || major > 5 || open.size() > max_depth) return false;
      open.push_back({0, true});
      continue;
    }
    std::uint64_t argument = info;
    if (info >= 24) {
      const std::size_t width = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 0;
      if (width == 0 || bytes.size() - pos < width) return false;
      argument = 0;
      for (std::size_t i = 0; i < width; ++i) argument = (argument << 8) | bytes[pos++];
    }
    const std::uint64_t left = bytes.size() - pos;
    switch (major) {
      case 2:
      case 3:  // byte and text strings: skip their content
        if (argument > left) return false;
        pos += static_cast<std::size_t>(argument);
        break;
      case 4:
      case 5: {  // arrays and maps: every item takes at least one byte
        if (argument > left || (major == 5 && argument > left / 2)) return false;
        if (open.size() > max_depth) return false;
        open.push_back({major == 5 ? argument * 2 : argument, false});
        break;
      }
      case 6:
        return false;  // tags: never written by encode()
      default:
        break;  // integers and simple values: their argument was all there is
    }
  }
  return pos == bytes.size();
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
  json fields = json::parse(fields_json.begin(), fields_json.end(), nullptr, false);
  if (fields.is_discarded() || !fields.is_object()) return bad(field, "request");
  fields.erase("body");
  fields.erase("v");
  if (const Status status = validate(fields, field); status != Status::ok) return status;
  fields["v"] = kVersion;
  if (!body.empty()) fields["body"] = json::binary(std::vector<std::uint8_t>(body.begin(), body.end()));
  std::vector<std::uint8_t> cbor = json::to_cbor(fields);
  plaintext = SecretBytes(ByteView(cbor));
  sodium_memzero(cbor.data(), cbor.size());
  if (auto it = fields.find("body"); it != fields.end()) {
    auto& bytes = it->get_binary();
    sodium_memzero(bytes.data(), bytes.size());
  }
  return Status::ok;
}

namespace {

// nlohmann's DOM builder throws on an array or map whose declared length exceeds what a vector can hold,
// even when asked not to throw; with JSON_NOEXCEPTION that is abort(), and a CBOR header declares up to
// 2^64 - 1 elements in nine bytes. Every element takes at least one byte of input, so a declared length
// beyond the input's size is refused here, before the builder sees it.
class BoundedCborBuilder : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  BoundedCborBuilder(json& result, std::size_t input_size)
      : json_sax_dom_parser(result, false), limit_(input_size) {}
  bool start_array(std::size_t len) { return fits(len) && json_sax_dom_parser::start_array(len); }
  bool start_object(std::size_t len) { return fits(len) && json_sax_dom_parser::start_object(len); }

 private:
  bool fits(std::size_t len) const { return len == static_cast<std::size_t>(-1) || len <= limit_; }
  std::size_t limit_;
};

// json::from_cbor(bytes, strict, no exceptions) for any input: a discarded value when it does not parse.
json from_cbor(ByteView bytes) {
  json result;
  BoundedCborBuilder builder(result, bytes.size());
  if (!json::sax_parse(bytes.begin(), bytes.end(), &builder, json::input_format_t::cbor, true) ||
      builder.is_errored()) {
    return json(json::value_t::discarded);
  }
  return result;
}

// CBOR plaintext → the fields (validated, "v" and "body" removed) and the inline body.
Status decode_fields(ByteView plaintext, json& fields, SecretBytes& body) {
  // The request map, its headers ([[name, value]]) and the metadata inside it.
  if (!cbor_nesting_within(plaintext, kMaxNesting + 3)) return Status::malformed;
  fields = from_cbor(plaintext);
  if (fields.is_discarded() || !fields.is_object() || !all_text_utf8(fields)) return Status::malformed;
  auto version = fields.find("v");
  if (version == fields.end() || !version->is_number_unsigned() || version->get<std::uint64_t>() != kVersion) {
    return Status::malformed;
  }
  body = SecretBytes();
  if (auto it = fields.find("body"); it != fields.end()) {
    if (!it->is_binary()) return Status::malformed;
    auto& bytes = it->get_binary();
    body = SecretBytes(ByteView(bytes.data(), bytes.size()));
    sodium_memzero(bytes.data(), bytes.size());
    fields.erase(it);
  }
  fields.erase("v");
  std::string field;
  if (validate(fields, field) != Status::ok) return Status::malformed;
  return Status::ok;
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
  // A record that authenticates but does not decode was written by something else: treat it as tampered.
  if (decode(plaintext.view(), fields, body) != Status::ok) return Status::record_tampered;
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
