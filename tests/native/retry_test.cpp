#include "core/retry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

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
  EXPECT_EQ(defaults.retry_on, (std::vector<int>{408, 409, 425, 429, 500, 502, 503, 504}));
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
  for (int status : {400, 404, 410, 422, 501}) {
    d = run(policy, {OutcomeKind::response, status, ""});
    EXPECT_EQ(d.action, Action::dead) << status;
    EXPECT_EQ(d.code, "http-" + std::to_string(status));
  }
  // 409: an earlier attempt with the same idempotency key is still running at the server; try again later.
  d = run(policy, {OutcomeKind::response, 409, ""});
  EXPECT_EQ(d.action, Action::retry);
  EXPECT_EQ(d.code, "http-409");
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

// ---------------------------------------------------------------- once per flush (tried)

retry::EntryState tried_entry(const char* id, std::int64_t seq, const char* group, std::int64_t tried,
                              const char* last_error, std::int64_t next_attempt_at = 50) {
  retry::EntryState e = entry(id, seq, group, retry::EntryState::State::pending, next_attempt_at);
  e.tried = tried;
  e.last_error = last_error;
  return e;
}

TEST(RetryPlanTried, MayTryOncePlusOneRefreshAfter401Or403) {
  EXPECT_TRUE(retry::may_try(0, ""));
  EXPECT_TRUE(retry::may_try(0, "network"));
  EXPECT_TRUE(retry::may_try(1, "http-401"));
  EXPECT_TRUE(retry::may_try(1, "http-403"));
  for (const char* code : {"", "network", "timeout", "http-503", "http-400", "http-402", "http-404", "http-4010",
                           "http-40", "HTTP-401", " http-401", "http-401 "}) {
    EXPECT_FALSE(retry::may_try(1, code)) << code;
  }
  for (const char* code : {"", "network", "http-401", "http-403"}) {
    EXPECT_FALSE(retry::may_try(2, code)) << code;
    EXPECT_FALSE(retry::may_try(3, code)) << code;
  }
}

TEST(RetryPlanTried, TriedEntryIsNotDueAndHoldsItsFifoGroup) {
  const std::vector<retry::EntryState> entries = {
      tried_entry("a1", 1, "a", 1, "network"), tried_entry("a2", 2, "a", 0, ""),  // a1 holds a2
      tried_entry("b1", 3, "b", 0, ""),        tried_entry("b2", 4, "b", 0, "network"),
      tried_entry("c1", 5, "c", 2, "http-401"), tried_entry("c2", 6, "c", 0, ""),  // a third try: never
  };
  const retry::DuePlan fifo = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000);
  EXPECT_EQ(fifo.due, (std::vector<std::string>{"b1", "b2"}));
  EXPECT_TRUE(fifo.expired.empty());
  EXPECT_EQ(fifo.next_attempt_at, 50);  // a1 and c1: due again in the next flush, at once
  const retry::DuePlan independent = retry::plan_due(entries, retry::Ordering::independent, 100, 1000000);
  EXPECT_EQ(independent.due, (std::vector<std::string>{"a2", "b1", "b2", "c2"}));
  EXPECT_EQ(independent.next_attempt_at, 50);
}

TEST(RetryPlanTried, A401Or403GetsItsRefreshedAttemptOnce) {
  for (const char* code : {"http-401", "http-403"}) {
    // After the refusal decide scheduled the immediate retry (nextAttemptAt = now): due again, first in its group.
    std::vector<retry::EntryState> entries = {tried_entry("a1", 1, "a", 1, code, 100), tried_entry("a2", 2, "a", 0, "")};
    EXPECT_EQ(retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000).due,
              (std::vector<std::string>{"a1", "a2"}))
        << code;
    // The refreshed attempt failed otherwise (a retryable error): not a third time, and the group waits.
    entries[0].tried = 2;
    entries[0].last_error = "http-503";
    retry::DuePlan plan = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000);
    EXPECT_TRUE(plan.due.empty()) << code;
    EXPECT_EQ(plan.next_attempt_at, 100) << code;
    // Even if it still says 401/403 (a caller that kept it pending): count 2 is never due.
    entries[0].last_error = code;
    EXPECT_TRUE(retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000).due.empty()) << code;
  }
  // Other errors get no second attempt in the flush, even when due by the clock.
  for (const char* code : {"network", "timeout", "http-429", "http-503", ""}) {
    const std::vector<retry::EntryState> entries = {tried_entry("a1", 1, "a", 1, code, 0)};
    const retry::DuePlan plan = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000);
    EXPECT_TRUE(plan.due.empty()) << code;
    EXPECT_EQ(plan.next_attempt_at, 0) << code;
  }
}

TEST(RetryPlanTried, OtherRulesComeFirst) {
  using S = retry::EntryState::State;
  // Expired: dead-lettered whatever its count, and holds nothing back.
  std::vector<retry::EntryState> entries = {tried_entry("old", 1, "g", 1, "network"), tried_entry("next", 2, "g", 0, "")};
  entries[0].created_at = -2000000;
  retry::DuePlan plan = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000);
  EXPECT_EQ(plan.expired, std::vector<std::string>{"old"});
  EXPECT_EQ(plan.due, std::vector<std::string>{"next"});
  EXPECT_FALSE(plan.next_attempt_at);
  // Not yet due by the clock: its own next_attempt_at, as without a count.
  entries = {tried_entry("later", 1, "g", 1, "network", 5000), tried_entry("next", 2, "g", 0, "")};
  plan = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000);
  EXPECT_TRUE(plan.due.empty());
  EXPECT_EQ(plan.next_attempt_at, 5000);
  // A live lease: its lease_until.
  entries = {entry("leased", 1, "g", S::inflight, 0, 900), tried_entry("next", 2, "g", 0, "")};
  entries[0].tried = 1;
  plan = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000);
  EXPECT_TRUE(plan.due.empty());
  EXPECT_EQ(plan.next_attempt_at, 900);
  // A lease that expired after an attempt in this flush: not due again, its lease_until counts.
  entries[0].lease_until = 80;
  plan = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000);
  EXPECT_TRUE(plan.due.empty());
  EXPECT_EQ(plan.next_attempt_at, 80);
  entries[0].tried = 0;
  EXPECT_EQ(retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000).due,
            (std::vector<std::string>{"leased", "next"}));
  // Dead entries are skipped whatever their count.
  entries = {entry("dead", 1, "g", S::dead), tried_entry("next", 2, "g", 0, "")};
  entries[0].tried = 2;
  EXPECT_EQ(retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000).due, std::vector<std::string>{"next"});
}

// The drain as js/outbox.js ran it before plan_due knew `tried` (plan once per round, then mayTry and a
// blocked-groups set in JS), against the drain the new contract asks for (plan with `tried`; after an
// attempt that is not sent, plan again). Frozen clock, scripted outcomes per (entry, attempt): both
// attempt every entry the same number of times, in the same order within each group, and end with the
// same states.
namespace drain {

enum class Result { sent, retry_now, retry_later, refused, dead };

struct Model {
  std::vector<retry::EntryState> entries;  // sent entries are removed
  std::map<std::string, std::vector<Result>> script;
  std::map<std::string, int> made;  // attempts made on each id
  std::vector<std::string> log;

  retry::EntryState* find(const std::string& id) {
    for (auto& e : entries) {
      if (e.id == id) return &e;
    }
    return nullptr;
  }

  // Returns true when the attempt is not "sent or dead" (the group must wait).
  bool attempt(const std::string& id, std::int64_t now) {
    retry::EntryState* e = find(id);
    log.push_back(id);
    const std::vector<Result>& outcomes = script[id];
    const Result r = outcomes[static_cast<std::size_t>(made[id]++) % outcomes.size()];
    switch (r) {
      case Result::sent:
        entries.erase(entries.begin() + (e - entries.data()));
        return false;
      case Result::dead: e->state = retry::EntryState::State::dead; return false;
      case Result::retry_now:  // a backoff that jitter made 0
        e->next_attempt_at = now;
        e->last_error = made[id] % 2 == 0 ? "network" : "http-503";
        return true;
      case Result::retry_later: e->next_attempt_at = now + 1000; e->last_error = "http-503"; return true;
      case Result::refused:  // decide: one immediate retry, unless the attempt before was refused too
        if (retry::refused(e->last_error)) {
          e->state = retry::EntryState::State::dead;
          return false;
        }
        e->next_attempt_at = now;
        e->last_error = "http-401";
        return true;
    }
    return false;
  }
};

void old_drain(Model& m, retry::Ordering ordering, std::int64_t now) {
  std::map<std::string, std::int64_t> tried;
  for (int round = 0; round < 64; ++round) {
    std::map<std::string, retry::EntryState> by_id;
    for (const auto& e : m.entries) by_id[e.id] = e;
    const retry::DuePlan plan = retry::plan_due(m.entries, ordering, now, 1000000);
    // mayTry as js/outbox.js wrote it: n === 0 || (n === 1 && /^http-40[13]$/.test(lastError)).
    auto may_try = [&](const std::string& id) {
      const std::string& code = by_id[id].last_error;
      return tried[id] == 0 || (tried[id] == 1 && (code == "http-401" || code == "http-403"));
    };
    if (std::none_of(plan.due.begin(), plan.due.end(), may_try)) break;
    std::set<std::string> blocked;
    for (const std::string& id : plan.due) {
      const std::string group = by_id[id].group;
      if (ordering == retry::Ordering::fifo && blocked.count(group)) continue;
      if (!may_try(id)) {
        blocked.insert(group);
        continue;
      }
      ++tried[id];
      if (m.attempt(id, now)) blocked.insert(group);
    }
  }
}

void new_drain(Model& m, retry::Ordering ordering, std::int64_t now) {
  std::map<std::string, std::int64_t> tried;
  for (int plans = 0; plans < 1000; ++plans) {
    std::vector<retry::EntryState> entries = m.entries;
    for (auto& e : entries) e.tried = tried[e.id];
    const retry::DuePlan plan = retry::plan_due(entries, ordering, now, 1000000);
    if (plan.due.empty()) return;
    for (const std::string& id : plan.due) {
      ++tried[id];
      if (m.attempt(id, now)) break;  // not sent: plan again
    }
  }
  ADD_FAILURE() << "the drain did not end";
}

}  // namespace drain

TEST(RetryPlanTried, ReplanningDrainMatchesTheFormerJsDrain) {
  std::uint64_t state = 12345;
  auto next = [&state](std::uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  };
  for (int scenario = 0; scenario < 3000; ++scenario) {
    drain::Model model;
    const std::uint64_t count = 1 + next(8);
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::string id = "e" + std::to_string(i);
      const std::string group(1, static_cast<char>('a' + next(3)));
      retry::EntryState e = entry(id.c_str(), static_cast<std::int64_t>(next(5)), group.c_str(),
                                  next(4) == 0 ? retry::EntryState::State::dead : retry::EntryState::State::pending,
                                  next(3) == 0 ? 500 : 0);
      if (next(3) == 0) e.last_error = next(2) == 0 ? "http-401" : "network";
      model.entries.push_back(e);
      for (std::uint64_t k = 0, n = 1 + next(3); k < n; ++k) {
        model.script[id].push_back(static_cast<drain::Result>(next(5)));
      }
    }
    for (const retry::Ordering ordering : {retry::Ordering::fifo, retry::Ordering::independent}) {
      drain::Model before = model;
      drain::Model after = model;
      drain::old_drain(before, ordering, 100);
      drain::new_drain(after, ordering, 100);
      ASSERT_EQ(before.made, after.made) << "scenario " << scenario;
      ASSERT_EQ(before.entries.size(), after.entries.size()) << "scenario " << scenario;
      for (std::size_t i = 0; i < before.entries.size(); ++i) {
        EXPECT_EQ(before.entries[i].id, after.entries[i].id);
        EXPECT_EQ(before.entries[i].state, after.entries[i].state);
        EXPECT_EQ(before.entries[i].last_error, after.entries[i].last_error);
        EXPECT_EQ(before.entries[i].next_attempt_at, after.entries[i].next_attempt_at);
      }
      std::map<std::string, std::vector<std::string>> old_groups;
      std::map<std::string, std::vector<std::string>> new_groups;
      auto group_of = [&model](const std::string& id) { return model.find(id)->group; };
      for (const auto& id : before.log) old_groups[group_of(id)].push_back(id);
      for (const auto& id : after.log) new_groups[group_of(id)].push_back(id);
      if (ordering == retry::Ordering::fifo) {
        ASSERT_EQ(old_groups, new_groups) << "scenario " << scenario;
      }
    }
  }
}

// The network is back (a page's `online` event): a backoff that followed a network failure no longer holds.
TEST(RetryPlanNetworkBack, NetworkFailuresAreDueAtOnceServerDelaysStillHold) {
  const std::vector<retry::EntryState> entries = {
      tried_entry("a1", 1, "a", 0, "network", 5000), tried_entry("a2", 2, "a", 0, "", 0),
      tried_entry("b1", 3, "b", 0, "timeout", 9000),
      tried_entry("c1", 4, "c", 0, "http-503", 7000),  // the server asked for the delay
      tried_entry("d1", 5, "d", 1, "network", 6000),   // tried in this flush already: not again
  };
  const retry::DuePlan before = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000);
  EXPECT_TRUE(before.due.empty());
  EXPECT_EQ(before.next_attempt_at, 5000);
  const retry::DuePlan back = retry::plan_due(entries, retry::Ordering::fifo, 100, 1000000, true);
  EXPECT_EQ(back.due, (std::vector<std::string>{"a1", "a2", "b1"}));
  EXPECT_EQ(back.next_attempt_at, 6000);
  // Leases and maxAge still come first.
  std::vector<retry::EntryState> leased = {tried_entry("a1", 1, "a", 0, "network", 5000)};
  leased[0].state = retry::EntryState::State::inflight;
  leased[0].lease_until = 200;
  EXPECT_TRUE(retry::plan_due(leased, retry::Ordering::fifo, 100, 1000000, true).due.empty());
  EXPECT_EQ(retry::plan_due({tried_entry("a1", 1, "a", 0, "network", 5000)}, retry::Ordering::fifo, 2000000, 1000, true).expired,
            (std::vector<std::string>{"a1"}));
  EXPECT_TRUE(retry::network_failure("network"));
  EXPECT_TRUE(retry::network_failure("timeout"));
  EXPECT_FALSE(retry::network_failure("http-503"));
  EXPECT_FALSE(retry::network_failure(""));
}

}  // namespace
}  // namespace sealpost
