// Fuzz target: parsing a retry policy (src/core/retry.hpp), the options every Outbox.open validates.
//
// Input: JSON text. Properties, for every input:
//   - the status is ok, invalid-policy or invalid-json;
//   - an accepted policy is consistent (maxDelayMs >= baseDelayMs, retryOn within 400..599, factor >= 1)
//     and its complete form (to_json) parses back to the same policy;
//   - every delay it produces, with any jitter, lies in [0, maxDelayMs], and the same seed gives the same
//     delay.
#include <string>

#include "core/retry.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sealpost;
  const ByteView text(data, size);
  FUZZ_CHECK(fuzz::one_of(retry::check_policy(text), {Status::ok, Status::invalid_policy, Status::invalid_json}));

  retry::Policy policy;
  std::string field;
  const Status status = retry::parse_policy(text, policy, field);
  FUZZ_CHECK(fuzz::one_of(status, {Status::ok, Status::invalid_policy, Status::invalid_json}));
  if (status != Status::ok) return 0;
  FUZZ_CHECK(policy.max_delay_ms >= policy.base_delay_ms && policy.base_delay_ms >= 0);
  FUZZ_CHECK(policy.factor >= 1 && policy.max_attempts >= 1 && policy.max_age_ms >= 1);
  for (int status_code : policy.retry_on) FUZZ_CHECK(status_code >= 400 && status_code <= 599);

  retry::Policy again;
  std::string again_field;
  FUZZ_CHECK(retry::parse_policy(retry::to_json(policy), again, again_field) == Status::ok);
  FUZZ_CHECK(retry::to_json(again) == retry::to_json(policy));

  const std::uint64_t seed = size > 0 ? data[0] * 0x9e3779b97f4a7c15ULL : 0;
  for (int failures = 1; failures <= 40; ++failures) {
    const std::int64_t delay = retry::jittered_delay_ms(policy, failures, seed);
    FUZZ_CHECK(delay >= 0 && delay <= policy.max_delay_ms);
    FUZZ_CHECK(delay == retry::jittered_delay_ms(policy, failures, seed));
  }
  return 0;
}
