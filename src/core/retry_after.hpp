// Retry-After (RFC 9110 §10.2.3): either delta-seconds or an HTTP-date. All three HTTP-date forms a
// recipient must accept are parsed: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete
// RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
// Time is an argument: the result is an absolute time in milliseconds since the Unix epoch.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/bytes.hpp"
#include "core/status.hpp"

namespace sealpost::retry_after {

// Delta-seconds larger than this (about 68 years) are clamped: a server cannot push a retry past it.
inline constexpr std::int64_t kMaxDeltaSeconds = 2147483647;

// The time (ms) the value asks the client to wait until, given the time the answer arrived (`now_ms`);
// nullopt when the value is neither form. A date in the past gives a time <= now_ms.
std::optional<std::int64_t> parse(std::string_view value, std::int64_t now_ms);

// Milliseconds since the epoch for an HTTP-date, or nullopt.
std::optional<std::int64_t> parse_http_date(std::string_view value);

// Fuzz entry point: ok if `bytes` parse as a Retry-After value, malformed otherwise. Never crashes.
Status check(ByteView bytes);

}  // namespace sealpost::retry_after
