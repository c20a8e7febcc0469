#include "core/push.hpp"

#include <sodium.h>

#include <algorithm>
#include <vector>

#include "core/base64url.hpp"
#include "core/json_text.hpp"
#include "core/sodium_init.hpp"

namespace sealpost::push {

namespace {

using nlohmann::json;

bool is_space(std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_base64url_char(std::uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '=';
}

// Unicode code points in a UTF-8 string (nlohmann's parser has already rejected ill-formed UTF-8).
std::size_t char_count(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<std::uint8_t>(c) & 0xC0) != 0x80; }));
}

bool string_in(const json& value, std::size_t min_chars, std::size_t max_chars) {
  if (!value.is_string()) return false;
  const std::size_t n = char_count(value.get_ref<const std::string&>());
  return n >= min_chars && n <= max_chars;
}

// An integer in [min, max]; floats ("1.0", "1e3") are not integers here.
bool integer_in(const json& value, std::int64_t min, std::int64_t max, std::int64_t& out) {
  if (value.is_number_unsigned()) {
    const std::uint64_t v = value.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(max)) return false;
    out = static_cast<std::int64_t>(v);
  } else if (value.is_number_integer()) {
    out = value.get<std::int64_t>();
  } else {
    return false;
  }
  return out >= min && out <= max;
}

const RecipientKey* find_recipient(std::span<const RecipientKey> recipients, const KeyId& id) {
  for (const RecipientKey& key : recipients) {
    if (key.secret_and_public.size() != 64) continue;
    if (public_key_id(key.public_key()) == id) return &key;
  }
  return nullptr;
}

// "sealpost/push/v1" ‖ recipient key id ‖ body: what the signature covers.
SecretBytes signed_bytes(const KeyId& recipient, ByteView body) {
  SecretBytes out(kSignatureContext.size() + kKeyIdBytes + body.size());
  std::uint8_t* p = out.data();
  std::copy(kSignatureContext.begin(), kSignatureContext.end(), p);
  p += kSignatureContext.size();
  std::copy(recipient.begin(), recipient.end(), p);
  p += kKeyIdBytes;
  std::copy(body.begin(), body.end(), p);
  return out;
}

// The envelope bytes of `input`: raw bytes as they are, base64url text decoded. Text that is not
// base64url is passed on raw (and then fails the size or version check).
Status envelope_bytes(ByteView input, Bytes& decoded, ByteView& envelope) {
  envelope = input;
  if (input.empty() || input[0] == kVersion) return Status::ok;
  std::size_t first = 0;
  std::size_t last = input.size();
  while (first < last && is_space(input[first])) ++first;
  while (last > first && is_space(input[last - 1])) --last;
  const ByteView text = input.subspan(first, last - first);
  if (text.empty() || !std::all_of(text.begin(), text.end(), is_base64url_char)) return Status::ok;
  if (text.size() > kMaxReceivedTextBytes) return Status::too_large;
  std::optional<Bytes> bytes = base64url_decode(as_text(text));
  if (!bytes) return Status::ok;
  decoded = std::move(*bytes);
  envelope = decoded;
  return Status::ok;
}

// Whether valid JSON text nests arrays and objects at most `max_depth` deep. Iterative: nlohmann parses
// without recursion, but copying and serialising recurse, and the Wasm stack is small.
bool within_depth(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

Status check_header(ByteView envelope) {
  if (envelope.size() > kMaxReceivedBytes) return Status::too_large;
  if (envelope.size() < kMinEnvelopeBytes) return Status::malformed;
  if (envelope[0] != kVersion) return Status::unsupported_version;
  return Status::ok;
}

}  // namespace

namespace {

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Dot segments as the URL parser sees them: '.' and '..', with any dot percent-encoded as %2e.
bool is_single_dot(std::string_view segment) {
  const std::string s = lower_ascii(segment);
  return s == "." || s == "%2e";
}

bool is_double_dot(std::string_view segment) {
  const std::string s = lower_ascii(segment);
  return s == ".." || s == ".%2e" || s == "%2e." || s == "%2e%2e";
}

}  // namespace

bool is_same_origin_path(std::string_view url) {
  if (url.empty() || url[0] != '/') return false;
  if (url.size() > 1 && (url[1] == '/' || url[1] == '\\')) return false;
  for (const char c : url) {
    const auto byte = static_cast<std::uint8_t>(c);
    if (c == '\\' || byte < 0x20 || byte == 0x7F) return false;
  }
  const std::string_view path = url.substr(0, std::min(url.find('?'), url.find('#')));
  // A slash or backslash percent-encoded in the path is one a server or router may decode into '//'.
  const std::string lowered = lower_ascii(path);
  if (lowered.find("%2f") != std::string::npos || lowered.find("%5c") != std::string::npos) return false;
  // Resolve dot segments as the URL parser will: the result must not start with '//' ("/..//evil.example"
  // opens https://app//evil.example, an open redirect wherever the path is reflected).
  std::vector<std::string_view> segments;
  std::size_t start = 1;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view segment = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    const bool last = slash == std::string_view::npos;
    if (is_double_dot(segment)) {
      if (!segments.empty()) segments.pop_back();
      if (last) segments.emplace_back();
    } else if (is_single_dot(segment)) {
      if (last) segments.emplace_back();
    } else {
      segments.push_back(segment);
    }
    if (last) break;
    start = slash + 1;
  }
  return !(segments.size() > 1 && segments.front().empty());
}

Status validate_message(const json& body, json& normalised) {
  if (!body.is_object()) return Status::invalid_message;
  json out = json::object();
  std::int64_t number = 0;

  const auto id = body.find("id");
  if (id == body.end() || !string_in(*id, 1, kMaxIdChars)) return Status::invalid_message;
  out["id"] = *id;

  const auto iat = body.find("iat");
  if (iat == body.end() || !integer_in(*iat, 0, kMaxSeconds, number)) return Status::invalid_message;
  out["iat"] = number;

  number = kDefaultTtlSeconds;
  if (const auto ttl = body.find("ttl"); ttl != body.end() && !integer_in(*ttl, 1, kMaxTtlSeconds, number)) {
    return Status::invalid_message;
  }
  out["ttl"] = number;

  const auto title = body.find("title");
  if (title == body.end() || !string_in(*title, 1, kMaxTitleChars)) return Status::invalid_message;
  out["title"] = *title;

  struct TextField {
    const char* name;
    std::size_t min_chars, max_chars;
  };
  static constexpr TextField kTextFields[] = {
      {"body", 0, kMaxBodyChars},     {"tag", 0, kMaxTagChars},   {"icon", 1, kMaxUrlChars},
      {"badge", 1, kMaxUrlChars},     {"image", 1, kMaxUrlChars}, {"category", 1, kMaxCategoryChars},
  };
  for (const TextField& field : kTextFields) {
    const auto it = body.find(field.name);
    if (it == body.end()) continue;
    if (!string_in(*it, field.min_chars, field.max_chars)) return Status::invalid_message;
    out[field.name] = *it;
  }

  if (const auto url = body.find("url"); url != body.end()) {
    if (!string_in(*url, 1, kMaxUrlChars) || !is_same_origin_path(url->get_ref<const std::string&>())) {
      return Status::invalid_message;
    }
    out["url"] = *url;
  }

  for (const char* flag : {"silent", "requireInteraction", "renotify"}) {
    const auto it = body.find(flag);
    if (it == body.end()) continue;
    if (!it->is_boolean()) return Status::invalid_message;
    out[flag] = *it;
  }
  // Browsers throw on renotify without a tag.
  if (out.value("renotify", false) && out.value("tag", std::string()).empty()) return Status::invalid_message;

  if (const auto actions = body.find("actions"); actions != body.end()) {
    if (!actions->is_array() || actions->size() > kMaxActions) return Status::invalid_message;
    json list = json::array();
    for (const json& action : *actions) {
      if (!action.is_object()) return Status::invalid_message;
      const auto name = action.find("action");
      const auto label = action.find("title");
      if (name == action.end() || !string_in(*name, 1, kMaxActionIdChars)) return Status::invalid_message;
      if (label == action.end() || !string_in(*label, 1, kMaxActionTitleChars)) return Status::invalid_message;
      json entry = {{"action", *name}, {"title", *label}};
      if (const auto icon = action.find("icon"); icon != action.end()) {
        if (!string_in(*icon, 1, kMaxUrlChars)) return Status::invalid_message;
        entry["icon"] = *icon;
      }
      list.push_back(std::move(entry));
    }
    out["actions"] = std::move(list);
  }

  if (const auto data = body.find("data"); data != body.end()) out["data"] = *data;

  normalised = std::move(out);
  return Status::ok;
}

Status recipient_of(ByteView envelope, KeyId& id) {
  if (const Status s = check_header(envelope); s != Status::ok) return s;
  std::copy_n(envelope.begin() + 1, kKeyIdBytes, id.begin());
  return Status::ok;
}

Status open(ByteView input, const OpenOptions& options, Opened& opened) {
  if (!ensure_sodium()) return Status::crypto_failure;
  Bytes decoded;
  ByteView envelope;
  if (const Status s = envelope_bytes(input, decoded, envelope); s != Status::ok) return s;

  // size → version → recipient
  KeyId recipient_id{};
  if (const Status s = recipient_of(envelope, recipient_id); s != Status::ok) return s;
  const RecipientKey* recipient = find_recipient(options.recipients, recipient_id);
  if (recipient == nullptr) return Status::unknown_recipient;

  // decrypt
  const ByteView sealed = envelope.subspan(kHeaderBytes);
  SecretBytes inner(sealed.size() - kSealBytes);
  if (crypto_box_seal_open(inner.data(), sealed.data(), sealed.size(), recipient->public_key().data(),
                           recipient->secret_key().data()) != 0) {
    return Status::decrypt_failed;
  }

  // flags
  const std::uint8_t flags = inner.data()[0];
  if ((flags & ~kFlagSigned) != 0) return Status::malformed;
  const bool is_signed = (flags & kFlagSigned) != 0;
  if (is_signed && inner.size() < 1 + kSignedPrefixBytes) return Status::malformed;
  const std::size_t body_offset = 1 + (is_signed ? kSignedPrefixBytes : 0);
  const ByteView body = inner.view().subspan(body_offset);
  KeyId signer_id{};
  if (is_signed) std::copy_n(inner.data() + 1, kKeyIdBytes, signer_id.begin());

  // signature
  if (!options.trusted_signers.empty()) {
    if (!is_signed) return Status::unsigned_message;
    const ByteView* signer = nullptr;
    for (const ByteView& key : options.trusted_signers) {
      if (key.size() == kPublicKeyBytes && public_key_id(key) == signer_id) {
        signer = &key;
        break;
      }
    }
    if (signer == nullptr) return Status::unknown_signer;
    const SecretBytes covered = signed_bytes(recipient_id, body);
    if (crypto_sign_verify_detached(inner.data() + 1 + kKeyIdBytes, covered.data(), covered.size(),
                                    signer->data()) != 0) {
      return Status::bad_signature;
    }
  }

  // UTF-8 JSON (the padding is ASCII spaces after the object)
  std::size_t body_end = body.size();
  while (body_end > 0 && body[body_end - 1] == ' ') --body_end;
  if (body_end == 0) return Status::invalid_json;
  const char* text = reinterpret_cast<const char*>(body.data());
  const json parsed = parse_json(body.first(body_end));
  if (parsed.is_discarded()) return Status::invalid_json;
  if (!within_depth(std::string_view(text, body_end), kMaxJsonDepth)) return Status::invalid_message;

  // fields
  json message;
  if (const Status s = validate_message(parsed, message); s != Status::ok) return s;

  // time
  const std::int64_t iat = message["iat"].get<std::int64_t>();
  const std::int64_t ttl = message["ttl"].get<std::int64_t>();
  const std::int64_t skew = std::max<std::int64_t>(0, options.max_skew_seconds);
  if (iat > options.now + skew) return Status::not_yet_valid;
  if (iat + ttl < options.now) return Status::expired;

  opened.id = message["id"].get<std::string>();
  opened.iat = iat;
  opened.expires_at = iat + ttl;
  opened.recipient = recipient_id;
  opened.is_signed = is_signed;
  opened.signer = signer_id;
  opened.message = std::move(message);
  return Status::ok;
}

Status seal(std::string_view message_json, const SealOptions& options, Bytes& envelope, std::size_t& needed) {
  needed = 0;
  if (!ensure_sodium()) return Status::crypto_failure;
  if (options.recipient_public_key.size() != kPublicKeyBytes) return Status::invalid_argument;
  if (options.signer != nullptr && options.signer->size() != crypto_sign_SECRETKEYBYTES) {
    return Status::invalid_argument;
  }
  const bool is_signed = options.signer != nullptr;
  if (options.max_envelope_bytes > kMaxEnvelopeCeiling || options.max_envelope_bytes < envelope_size(2, is_signed)) {
    return Status::invalid_argument;
  }
  if (!options.id_bytes.empty() && options.id_bytes.size() != 16) return Status::invalid_argument;
  if (options.now < 0 || options.now > kMaxSeconds) return Status::invalid_argument;

  json message = parse_json(message_json);
  if (message.is_discarded()) return Status::invalid_json;
  if (!within_depth(message_json, kMaxJsonDepth)) return Status::invalid_message;
  if (!message.is_object()) return Status::invalid_message;
  if (!message.contains("id")) {
    std::uint8_t random_id[16];
    if (options.id_bytes.empty()) {
      randombytes_buf(random_id, sizeof random_id);
    } else {
      std::copy(options.id_bytes.begin(), options.id_bytes.end(), random_id);
    }
    message["id"] = base64url_encode(random_id);
  }
  if (!message.contains("iat")) message["iat"] = options.now;
  json normalised;
  if (const Status s = validate_message(message, normalised); s != Status::ok) return s;
  // A message that no receiver would accept now (typically `iat` given in milliseconds) is refused here,
  // where the mistake can be seen, instead of failing on every device.
  const std::int64_t iat = normalised["iat"].get<std::int64_t>();
  if (iat > options.now + kDefaultMaxSkewSeconds) return Status::not_yet_valid;
  if (iat + normalised["ttl"].get<std::int64_t>() < options.now) return Status::expired;

  std::string body_text = message.dump();
  const std::size_t max_body = options.max_envelope_bytes - envelope_size(0, is_signed);
  if (body_text.size() > max_body) {
    needed = envelope_size(body_text.size(), is_signed);
    return Status::too_large;
  }
  std::size_t padded = max_body;
  for (const std::size_t bucket : kPadBuckets) {
    if (body_text.size() <= bucket) {
      padded = std::min(bucket, max_body);
      break;
    }
  }

  const KeyId recipient_id = public_key_id(options.recipient_public_key);
  const std::size_t prefix = 1 + (is_signed ? kSignedPrefixBytes : 0);
  SecretBytes inner(prefix + padded);
  inner.data()[0] = is_signed ? kFlagSigned : 0;
  std::uint8_t* body = inner.data() + prefix;
  std::copy(body_text.begin(), body_text.end(), body);
  std::fill(body + body_text.size(), body + padded, static_cast<std::uint8_t>(' '));
  sodium_memzero(body_text.data(), body_text.size());
  if (is_signed) {
    const KeyId signer_id = public_key_id(options.signer->view().subspan(crypto_sign_SEEDBYTES));
    std::copy(signer_id.begin(), signer_id.end(), inner.data() + 1);
    const SecretBytes covered = signed_bytes(recipient_id, ByteView(body, padded));
    crypto_sign_detached(inner.data() + 1 + kKeyIdBytes, nullptr, covered.data(), covered.size(),
                         options.signer->data());
  }

  Bytes out(kHeaderBytes + kSealBytes + inner.size());
  out[0] = kVersion;
  std::copy(recipient_id.begin(), recipient_id.end(), out.begin() + 1);
  if (crypto_box_seal(out.data() + kHeaderBytes, inner.data(), inner.size(), options.recipient_public_key.data()) !=
      0) {
    return Status::invalid_argument;  // a public key libsodium refuses (e.g. of small order)
  }
  needed = out.size();
  envelope = std::move(out);
  return Status::ok;
}

}  // namespace sealpost::push
