// Fuzz target: Retry-After values (src/core/retry_after.hpp), the header every 429/503 answer may carry.
//
// Input: the header value. Properties, for every input:
//   - check() is ok exactly when parse() gives a time;
//   - delta-seconds (digits only, after trimming) move with the arrival time and never point before it;
//     an HTTP-date does not depend on the arrival time;
//   - a parsed date is a whole second within years 0000..9999.
#include <string_view>

#include "core/retry_after.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sealpost;
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const auto at_zero = retry_after::parse(value, 0);
  const auto later = retry_after::parse(value, 1000000);
  FUZZ_CHECK((retry_after::check(ByteView(data, size)) == Status::ok) == at_zero.has_value());
  FUZZ_CHECK(at_zero.has_value() == later.has_value());
  if (!at_zero) return 0;
  const auto date = retry_after::parse_http_date(value);
  if (date) {
    FUZZ_CHECK(*at_zero == *date && *later == *date);
    FUZZ_CHECK(*date % 1000 == 0);
    FUZZ_CHECK(*date >= -62167219200000LL && *date < 253402300800000LL);
  } else {
    FUZZ_CHECK(*at_zero >= 0 && *later == *at_zero + 1000000);
    FUZZ_CHECK(*at_zero <= retry_after::kMaxDeltaSeconds * 1000);
  }
  return 0;
}
