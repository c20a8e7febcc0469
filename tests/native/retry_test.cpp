#include "core/retry.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/retry_after.hpp"

namespace sealpost {
namespace {

using retry::Action;
using retry::Attempt;
using retry::Decision;
using retry::Outcome;
using retry::OutcomeKind;
using retry::Policy;

Policy policy_from(const std::string& text, Status expected = Status::ok, const std::string& expected_field = "") {
  Policy policy;
  std::string field;
  EXPECT_EQ(retry::parse_policy(as_bytes(text), policy, field), expected) << text;
  EXPECT_EQ(field, expected_field) << text;
  return policy;
}

TEST(RetryAfter, DeltaSeconds) {
  EXPECT_EQ(retry_after::parse("120", 1000), 121000);
  EXPECT_EQ(retry_after::parse("  0 ", 5), 5);
  EXPECT_EQ(retry_after::parse("99999999999999999999", 0), retry_after::kMaxDeltaSeconds * 1000);
  EXPECT_FALSE(retry_after::parse("-1", 0));
  EXPECT_FALSE(retry_after::parse("1.5", 0));
  EXPECT_FALSE(retry_after::parse("12a", 0));
  EXPECT_FALSE(retry_after::parse("", 0));
}

TEST(RetryAfter, AllThreeHttpDateForms) {
  const std::int64_t expected = 784111777000;  // 1994-11-06T08:49:37Z
  EXPECT_EQ(retry_after::parse("Sun, 06 Nov 1994 08:49:37 GMT", 0), expected);
  EXPECT_EQ(retry_after::parse("Sunday, 06-Nov-94 08:49:37 GMT", 0), expected);
  EXPECT_EQ(retry_after::parse("Sun Nov  6 08:49:37 1994", 0), expected);
  EXPECT_EQ(retry_after::parse("Thu, 01 Jan 1970 00:00:00 GMT", 99), 0);
  EXPECT_EQ(retry_after::parse("Tue, 29 Feb 2028 23:59:59 GMT", 0), 1835481599000);
  EXPECT_EQ(retry_after::parse("Wed, 25 Nov 2026 10:00:00 GMT", 0), 1795600800000);
}

TEST(RetryAfter, RejectsNearMisses) {
  for (const char* bad : {"Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 2027 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                          "Sun, 06 Nov 1994 08:49:37 GMTx", "Sun, 06 Nov 1994", "soon"}) {
    EXPECT_FALSE(retry_after::parse(bad, 0)) << bad;
    EXPECT_EQ(retry_after::check(as_bytes(bad)), Status::malformed) << bad;
  }
}

TEST(RetryPolicy, DefaultsAndOverrides) {
  const Policy defaults = policy_from("{}");
  EXPECT_EQ(defaults.base_delay_ms, 2000);
  EXPECT_EQ(defaults.factor, 2);
  EXPECT_EQ(defaults.max_delay_ms, 3600000);
  EXPECT_EQ(defaults.jitter, retry::Jitter::full);
  EXPECT_EQ(defaults.max_attempts, 12);
  EXPECT_EQ(defaults.max_age_ms, 604800000);
  EXPECT_EQ(defaults.retry_on, (std::vector<int>{408, 425, 429, 500, 502, 503, 504}));
  EXPECT_TRUE(defaults.honor_retry_after);
  EXPECT_EQ(defaults.request_timeout_ms, 30000);
  const Policy custom = policy_from(
      R"({"baseDelayMs":100,"factor":1.5,"maxDelayMs":1000,"jitter":"equal","maxAttempts":3,"maxAgeMs":5000,)"
      R"("retryOn":[503],"honorRetryAfter":false,"requestTimeoutMs":250})");
  EXPECT_EQ(custom.base_delay_ms, 100);
  EXPECT_EQ(custom.factor, 1.5);
  EXPECT_EQ(custom.jitter, retry::Jitter::equal);
  EXPECT_EQ(custom.retry_on, std::vector<int>{503});
  EXPECT_FALSE(custom.honor_retry_after);
  EXPECT_EQ(to_json(custom)["jitter"], "equal");
  policy_from("null");
}

TEST(RetryPolicy, EveryBadOptionNamesItsField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"baseDelayMs":-1})", "baseDelayMs"},     {R"({"baseDelayMs":"2s"})", "baseDelayMs"},
      {R"({"baseDelayMs":1.5})", "baseDelayMs"},    {R"({"factor":0.5})", "factor"},
      {R"({"factor":"x"})", "factor"},              {R"({"maxDelayMs":-5})", "maxDelayMs"},
      {R"({"maxDelayMs":10,"baseDelayMs":20})", "maxDelayMs"}, {R"({"baseDelayMs":7200000})", "baseDelayMs"},
      {R"({"jitter":"half"})", "jitter"},           {R"({"jitter":true})", "jitter"},
      {R"({"maxAttempts":0})", "maxAttempts"},      {R"({"maxAttempts":2.5})", "maxAttempts"},
      {R"({"maxAgeMs":0})", "maxAgeMs"},            {R"({"retryOn":503})", "retryOn"},
      {R"({"retryOn":[503,200]})", "retryOn[1]"},   {R"({"retryOn":["503"]})", "retryOn[0]"},
      {R"({"honorRetryAfter":1})", "honorRetryAfter"}, {R"({"requestTimeoutMs":0})", "requestTimeoutMs"},
      {R"({"maxDelay":1})", "maxDelay"},            {R"([1])", "retry"},
      {R"("fast")", "retry"},
  };
  for (const auto& [text, field] : cases) policy_from(text, Status::invalid_policy, field);
  policy_from("{", Status::invalid_json, "retry");
  EXPECT_EQ(retry::check_policy(as_bytes("{\"factor\":1e999}")), Status::invalid_json);
}

TEST(RetrySchedule, BackoffWithoutJitterIsExact) {
  const Policy policy = policy_from(R"({"jitter":"none","maxDelayMs":20000})");
  const std::int64_t expected[] = {2000, 4000, 8000, 16000, 20000, 20000};
  for (int n = 1; n <= 6; ++n) EXPECT_EQ(retry::jittered_delay_ms(policy, n, 42), expected[n - 1]) << n;
  EXPECT_EQ(retry::backoff_ms(policy_from("{}"), 200), 3600000);
}

// Expected values computed independently (Python) from the formula in retry.hpp.
TEST(RetrySchedule, PinnedForFixedSeeds) {
  const Policy full = policy_from("{}");
  const Policy equal = policy_from(R"({"jitter":"equal"})");
  const std::int64_t full_seed_1[] = {1491, 3884, 3554, 7108, 24412, 56150, 66952, 73090};
  const std::int64_t full_seed_7[] = {33, 3603, 4663, 7239, 7981, 29948, 41993, 34370};
  const std::int64_t equal_seed_1[] = {1745, 3942, 5777, 11554, 28206, 60075, 97476, 164545};
  for (int n = 1; n <= 8; ++n) {
    EXPECT_EQ(retry::jittered_delay_ms(full, n, 1), full_seed_1[n - 1]) << n;
    EXPECT_EQ(retry::jittered_delay_ms(full, n, 7), full_seed_7[n - 1]) << n;
    EXPECT_EQ(retry::jittered_delay_ms(equal, n, 1), equal_seed_1[n - 1]) << n;
  }
}

TEST(RetrySchedule, JitterStaysInItsBand) {
  const Policy full = policy_from("{}");
  const Policy equal = policy_from(R"({"jitter":"equal"})");
  for (std::uint64_t seed = 0; seed < 500; ++seed) {
    for (int n = 1; n <= 14; ++n) {
      const std::int64_t d = retry::backoff_ms(full, n);
      const std::int64_t f = retry::jittered_delay_ms(full, n, seed);
      const std::int64_t e = retry::jittered_delay_ms(equal, n, seed);
      EXPECT_GE(f, 0);
      EXPECT_LT(f, d);
      EXPECT_GE(e, d - d / 2);
      EXPECT_LE(e, d);
      EXPECT_EQ(f, retry::jittered_delay_ms(full, n, seed));
    }
  }
  EXPECT_NE(retry::jittered_delay_ms(full, 5, 1), retry::jittered_delay_ms(full, 5, 2));
}

Decision run(const Policy& policy, Outcome outcome, int attempts = 1, std::int64_t now = 1000000,
             std::string_view previous = "", bool refresh = false) {
  Attempt attempt;
  attempt.attempts = attempts;
  attempt.created_at = 1000000;
  attempt.now = now;
  attempt.seed = 9;
  attempt.previous_error = previous;
  attempt.can_refresh = refresh;
  return retry::decide(policy, attempt, outcome);
}

TEST(RetryDecide, Classification) {
  const Policy policy = policy_from(R"({"jitter":"none"})");
  for (int status : {200, 201, 204, 301, 304, 0}) {
    EXPECT_EQ(run(policy, {OutcomeKind::response, status, ""}).action, Action::sent) << status;
  }
  Decision d = run(policy, {OutcomeKind::network, 0, ""});
  EXPECT_EQ(d.action, Action::retry);
  EXPECT_EQ(d.code, "network");
  EXPECT_EQ(d.next_attempt_at, 1002000);
  d = run(policy, {OutcomeKind::timeout, 0, ""}, 3);
  EXPECT_EQ(d.code, "timeout");
  EXPECT_EQ(d.next_attempt_at, 1008000);
  d = run(policy, {OutcomeKind::response, 503, ""});
  EXPECT_EQ(d.action, Action::retry);
  EXPECT_EQ(d.code, "http-503");
  for (int status : {400, 404, 409, 410, 422, 501}) {
    d = run(policy, {OutcomeKind::response, status, ""});
    EXPECT_EQ(d.action, Action::dead) << status;
    EXPECT_EQ(d.code, "http-" + std::to_string(status));
  }
}

TEST(RetryDecide, UnauthorizedGetsOneRefreshedAttempt) {
  const Policy policy = policy_from("{}");
  EXPECT_EQ(run(policy, {OutcomeKind::response, 401, ""}).action, Action::dead);
  Decision d = run(policy, {OutcomeKind::response, 403, ""}, 1, 1000000, "", true);
  EXPECT_EQ(d.action, Action::retry);
  EXPECT_EQ(d.next_attempt_at, 1000000);
  d = run(policy, {OutcomeKind::response, 401, ""}, 2, 1000000, "http-401", true);
  EXPECT_EQ(d.action, Action::dead);
  EXPECT_EQ(d.code, "http-401");
}

TEST(RetryDecide, RetryAfterIsAFloor) {
  const Policy policy = policy_from(R"({"jitter":"none"})");
  Decision d = run(policy, {OutcomeKind::response, 503, "120"});
  EXPECT_EQ(d.next_attempt_at, 1000000 + 120000);
  d = run(policy, {OutcomeKind::response, 429, "1"});  // shorter than the backoff: backoff wins
  EXPECT_EQ(d.next_attempt_at, 1002000);
  d = run(policy, {OutcomeKind::response, 503, "Thu, 01 Jan 1970 00:20:00 GMT"});
  EXPECT_EQ(d.next_attempt_at, 1200000);
  d = run(policy, {OutcomeKind::response, 503, "garbage"});
  EXPECT_EQ(d.next_attempt_at, 1002000);
  const Policy ignoring = policy_from(R"({"jitter":"none","honorRetryAfter":false})");
  EXPECT_EQ(run(ignoring, {OutcomeKind::response, 503, "120"}).next_attempt_at, 1002000);
}

TEST(RetryDecide, MaxAttemptsAndMaxAge) {
  const Policy policy = policy_from(R"({"jitter":"none","maxAttempts":3,"maxAgeMs":60000})");
  EXPECT_EQ(run(policy, {OutcomeKind::network, 0, ""}, 2).action, Action::retry);
  Decision d = run(policy, {OutcomeKind::network, 0, ""}, 3);
  EXPECT_EQ(d.action, Action::dead);
  EXPECT_EQ(d.code, "max-attempts");
  d = run(policy, {OutcomeKind::response, 503, "3600"});
  EXPECT_EQ(d.action, Action::dead);
  EXPECT_EQ(d.code, "expired");
  d = run(policy, {OutcomeKind::network, 0, ""}, 1, 1059000);
  EXPECT_EQ(d.code, "expired");
}

retry::EntryState entry(const char* id, std::int64_t seq, const char* group,
                        retry::EntryState::State state = retry::EntryState::State::pending,
                        std::int64_t next_attempt_at = 0, std::int64_t lease_until = 0, std::int64_t created_at = 0) {
  return {id, seq, group, state, next_attempt_at, lease_until, created_at};
}

TEST(RetryPlan, FifoPerGroup) {
  using S = retry::EntryState::State;
  const std::vector<retry::EntryState> entries = {
      entry("a1", 1, "a"), entry("b1", 2, "b", S::dead), entry("a2", 3, "a"), entry("b2", 4, "b", S::pending, 500),
      entry("b3", 5, "b"), entry("c1", 6, "c", S::inflight, 0, 200), entry("c2", 7, "c"), entry("a3", 8, "a"),
      entry("d1", 9, "d", S::inflight, 0, 50)};
  const retry::DuePlan plan = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000);
  EXPECT_EQ(plan.due, (std::vector<std::string>{"a1", "a2", "a3", "d1"}));
  EXPECT_TRUE(plan.expired.empty());
  EXPECT_EQ(plan.next_attempt_at, 200);
  const retry::DuePlan independent = retry::plan_due(entries, retry::Ordering::independent, 100, 1000000);
  EXPECT_EQ(independent.due, (std::vector<std::string>{"a1", "a2", "b3", "c2", "a3", "d1"}));
}

TEST(RetryPlan, ExpiredEntriesAreReported) {
  const std::vector<retry::EntryState> entries = {entry("old", 1, "g", retry::EntryState::State::pending, 0, 0, 0),
                                                  entry("new", 2, "g", retry::EntryState::State::pending, 0, 0, 950)};
  const retry::DuePlan plan = retry::plan_due(entries, retry::Ordering::fifo, 1000, 1000);
  EXPECT_EQ(plan.expired, std::vector<std::string>{"old"});
  EXPECT_EQ(plan.due, std::vector<std::string>{"new"});
  EXPECT_FALSE(plan.next_attempt_at);
}

TEST(RetryPlan, EqualSeqsKeepTheirInputOrder) {
  std::vector<retry::EntryState> entries;
  for (const char* id : {"e", "b", "d", "a", "c", "f", "h", "g", "j", "i", "k", "m", "l", "o", "n", "p", "r", "q"}) {
    entries.push_back(entry(id, 1, id));
  }
  entries.push_back(entry("first", 0, "z"));
  const retry::DuePlan plan = retry::plan_due(entries, retry::Ordering::independent, 100, 1000);
  ASSERT_EQ(plan.due.size(), entries.size());
  EXPECT_EQ(plan.due.front(), "first");
  for (std::size_t i = 0; i + 1 < entries.size(); ++i) EXPECT_EQ(plan.due[i + 1], entries[i].id) << i;
}

}  // namespace
}  // namespace sealpost
