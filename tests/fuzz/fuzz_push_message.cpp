// Fuzz target: validating a sealed push message's JSON (src/core/push.hpp validate_message), the check
// every opened envelope's body goes through before a notification is shown.
//
// Input: the message body as JSON text. Properties, for every input:
//   - text that is not JSON is refused by the parser; a JSON value is ok or invalid-message;
//   - a validated message holds only known fields, with id, iat, ttl and title, a url (if any) that is a
//     same-origin path, and at most two actions;
//   - validation is idempotent: the normalised message validates to itself.
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/push.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sealpost;
  using nlohmann::json;
  const json body = json::parse(data, data + size, nullptr, false);
  if (body.is_discarded()) return 0;

  json normalised;
  const Status status = push::validate_message(body, normalised);
  FUZZ_CHECK(fuzz::one_of(status, {Status::ok, Status::invalid_message}));
  if (status != Status::ok) return 0;

  FUZZ_CHECK(normalised.is_object());
  static constexpr std::string_view kKnown[] = {"id",    "iat",   "ttl",      "title",  "body",
                                                "tag",   "icon",  "badge",    "image",  "category",
                                                "url",   "silent", "requireInteraction", "renotify",
                                                "actions", "data"};
  for (const auto& [name, value] : normalised.items()) {
    bool known = false;
    for (std::string_view k : kKnown) known = known || name == k;
    FUZZ_CHECK(known);
  }
  FUZZ_CHECK(normalised["id"].is_string() && normalised["title"].is_string());
  FUZZ_CHECK(normalised["iat"].is_number_integer() && normalised["iat"].get<std::int64_t>() >= 0);
  FUZZ_CHECK(normalised["ttl"].is_number_integer() && normalised["ttl"].get<std::int64_t>() >= 1 &&
             normalised["ttl"].get<std::int64_t>() <= push::kMaxTtlSeconds);
  if (normalised.contains("url")) {
    const auto& url = normalised["url"].get_ref<const std::string&>();
    FUZZ_CHECK(push::is_same_origin_path(url));
    FUZZ_CHECK(url[0] == '/' && url.rfind("//", 0) != 0 && url.find('\\') == std::string::npos);
  }
  if (normalised.contains("actions")) FUZZ_CHECK(normalised["actions"].size() <= push::kMaxActions);

  json again;
  FUZZ_CHECK(push::validate_message(normalised, again) == Status::ok);
  FUZZ_CHECK(again == normalised);
  return 0;
}
