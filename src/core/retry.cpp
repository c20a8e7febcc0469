#include "core/retry.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/json_text.hpp"
#include "core/retry_after.hpp"

namespace sealpost::retry {

using nlohmann::json;

namespace {

constexpr std::int64_t kMaxSafeInteger = 9007199254740991;  // 2^53 - 1, what a JS number holds exactly

bool integer_in(const json& value, std::int64_t low, std::int64_t high, std::int64_t& out) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned()) {
      const auto u = value.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(high)) return false;
      out = static_cast<std::int64_t>(u);
    } else {
      out = value.get<std::int64_t>();
    }
  } else if (value.is_number_float()) {
    const double d = value.get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(low) || d > static_cast<double>(high)) {
      return false;
    }
    out = static_cast<std::int64_t>(d);
  } else {
    return false;
  }
  return out >= low && out <= high;
}

Status bad(std::string& field, std::string name) {
  field = std::move(name);
  return Status::invalid_policy;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

const char* jitter_name(Jitter jitter) {
  switch (jitter) {
    case Jitter::full: return "full";
    case Jitter::equal: return "equal";
    case Jitter::none: return "none";
  }
  return "full";
}

}  // namespace

Status parse_policy(const json& value, Policy& policy, std::string& field) {
  policy = Policy{};
  if (value.is_null()) return Status::ok;
  if (!value.is_object()) return bad(field, "retry");
  for (auto it = value.begin(); it != value.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    std::int64_t n = 0;
    if (name == "baseDelayMs") {
      if (!integer_in(v, 0, kMaxSafeInteger, n)) return bad(field, name);
      policy.base_delay_ms = n;
    } else if (name == "factor") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 1 || v.get<double>() > 1000) {
        return bad(field, name);
      }
      policy.factor = v.get<double>();
    } else if (name == "maxDelayMs") {
      if (!integer_in(v, 0, kMaxSafeInteger, n)) return bad(field, name);
      policy.max_delay_ms = n;
    } else if (name == "jitter") {
      if (!v.is_string()) return bad(field, name);
      const auto& text = v.get_ref<const std::string&>();
      if (text == "full") policy.jitter = Jitter::full;
      else if (text == "equal") policy.jitter = Jitter::equal;
      else if (text == "none") policy.jitter = Jitter::none;
      else return bad(field, name);
    } else if (name == "maxAttempts") {
      if (!integer_in(v, 1, 1000000, n)) return bad(field, name);
      policy.max_attempts = static_cast<int>(n);
    } else if (name == "maxAgeMs") {
      if (!integer_in(v, 1, kMaxSafeInteger, n)) return bad(field, name);
      policy.max_age_ms = n;
    } else if (name == "retryOn") {
      if (!v.is_array()) return bad(field, name);
      policy.retry_on.clear();
      for (std::size_t i = 0; i < v.size(); ++i) {
        // Only failures can be retried: a 1xx/2xx/3xx status is never in retryOn.
        if (!integer_in(v[i], 400, 599, n)) return bad(field, name + "[" + std::to_string(i) + "]");
        policy.retry_on.push_back(static_cast<int>(n));
      }
    } else if (name == "honorRetryAfter") {
      if (!v.is_boolean()) return bad(field, name);
      policy.honor_retry_after = v.get<bool>();
    } else if (name == "requestTimeoutMs") {
      if (!integer_in(v, 1, 24 * 3600 * 1000, n)) return bad(field, name);
      policy.request_timeout_ms = n;
    } else {
      return bad(field, name);
    }
  }
  if (policy.max_delay_ms < policy.base_delay_ms) {
    return bad(field, value.contains("maxDelayMs") ? "maxDelayMs" : "baseDelayMs");
  }
  return Status::ok;
}

Status parse_policy(ByteView json_text, Policy& policy, std::string& field) {
  const json value = parse_json(json_text);
  if (value.is_discarded()) {
    field = "retry";
    return Status::invalid_json;
  }
  return parse_policy(value, policy, field);
}

json to_json(const Policy& policy) {
  return json{{"baseDelayMs", policy.base_delay_ms},   {"factor", policy.factor},
              {"maxDelayMs", policy.max_delay_ms},     {"jitter", jitter_name(policy.jitter)},
              {"maxAttempts", policy.max_attempts},    {"maxAgeMs", policy.max_age_ms},
              {"retryOn", policy.retry_on},            {"honorRetryAfter", policy.honor_retry_after},
              {"requestTimeoutMs", policy.request_timeout_ms}};
}

Status check_policy(ByteView bytes) {
  Policy policy;
  std::string field;
  return parse_policy(bytes, policy, field);
}

std::int64_t backoff_ms(const Policy& policy, int failures) {
  if (failures < 1) failures = 1;
  const double exact = static_cast<double>(policy.base_delay_ms) * std::pow(policy.factor, failures - 1);
  if (!(exact < static_cast<double>(policy.max_delay_ms))) return policy.max_delay_ms;
  return static_cast<std::int64_t>(exact);
}

double unit_random(std::uint64_t seed, int n) {
  const std::uint64_t x = splitmix64(seed + static_cast<std::uint64_t>(n) * 0x9e3779b97f4a7c15ULL);
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

bool jitter_seed(std::string_view id, std::uint64_t& seed) {
  constexpr std::size_t kSeedDigits = 13;  // 52 bits: exact in a JS number
  if (id.size() < kSeedDigits) return false;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    unsigned digit = 0;
    if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
    else return false;
    if (i < kSeedDigits) value = value * 16 + digit;
  }
  seed = value;
  return true;
}

std::int64_t jittered_delay_ms(const Policy& policy, int failures, std::uint64_t seed) {
  const std::int64_t d = backoff_ms(policy, failures);
  const double u = unit_random(seed, failures);
  switch (policy.jitter) {
    case Jitter::none: return d;
    case Jitter::full: return static_cast<std::int64_t>(u * static_cast<double>(d));
    case Jitter::equal: {
      const std::int64_t half = d / 2;
      return (d - half) + static_cast<std::int64_t>(u * static_cast<double>(half));
    }
  }
  return d;
}

Decision decide(const Policy& policy, const Attempt& attempt, const Outcome& outcome) {
  Decision decision;
  std::optional<std::int64_t> not_before;
  bool immediate = false;
  switch (outcome.kind) {
    case OutcomeKind::network: decision.code = "network"; break;
    case OutcomeKind::timeout: decision.code = "timeout"; break;
    case OutcomeKind::response: {
      const int status = outcome.status;
      if (status == 0 || (status >= 200 && status < 400)) {
        decision.action = Action::sent;
        return decision;
      }
      decision.code = "http-" + std::to_string(status);
      if (status == 401 || status == 403) {
        if (!attempt.can_refresh || refused(attempt.previous_error)) return decision;  // dead
        immediate = true;
      } else if (std::find(policy.retry_on.begin(), policy.retry_on.end(), status) == policy.retry_on.end()) {
        return decision;  // dead
      }
      if (policy.honor_retry_after && !outcome.retry_after.empty()) {
        not_before = retry_after::parse(outcome.retry_after, attempt.now);
      }
      break;
    }
  }
  if (attempt.attempts >= policy.max_attempts) {
    decision.code = "max-attempts";
    return decision;
  }
  std::int64_t next = immediate ? attempt.now : attempt.now + jittered_delay_ms(policy, attempt.attempts, attempt.seed);
  if (not_before && *not_before > next) next = *not_before;
  if (next >= attempt.created_at + policy.max_age_ms) {
    decision.code = "expired";
    return decision;
  }
  decision.action = Action::retry;
  decision.next_attempt_at = next;
  return decision;
}

bool refused(std::string_view code) { return code == "http-401" || code == "http-403"; }

bool may_try(std::int64_t tried, std::string_view last_error) {
  return tried <= 0 || (tried == 1 && refused(last_error));
}

bool network_failure(std::string_view code) { return code == "network" || code == "timeout"; }

DuePlan plan_due(std::vector<EntryState> entries, Ordering ordering, std::int64_t now, std::int64_t max_age_ms,
                 bool network_back) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const EntryState& a, const EntryState& b) { return a.seq < b.seq; });
  DuePlan plan;
  auto later = [&plan](std::int64_t at) {
    if (!plan.next_attempt_at || at < *plan.next_attempt_at) plan.next_attempt_at = at;
  };
  std::map<std::string, bool> blocked;  // fifo: group -> an earlier entry holds the rest back
  for (const EntryState& entry : entries) {
    if (entry.state == EntryState::State::dead) continue;
    bool& group_blocked = blocked[ordering == Ordering::fifo ? entry.group : entry.id];
    if (group_blocked) continue;
    const bool leased = entry.state == EntryState::State::inflight && entry.lease_until > now;
    if (leased) {
      later(entry.lease_until);
      group_blocked = true;
      continue;
    }
    if (entry.created_at + max_age_ms <= now) {
      plan.expired.push_back(entry.id);
      continue;
    }
    const bool inflight = entry.state == EntryState::State::inflight;  // and its lease has expired
    const bool backed_off = entry.next_attempt_at > now && !(network_back && network_failure(entry.last_error));
    if (!inflight && backed_off) {
      later(entry.next_attempt_at);
      group_blocked = true;
      continue;
    }
    if (!may_try(entry.tried, entry.last_error)) {  // tried in this flush: due again in the next one
      later(inflight ? entry.lease_until : entry.next_attempt_at);
      group_blocked = true;
      continue;
    }
    plan.due.push_back(entry.id);
  }
  return plan;
}

}  // namespace sealpost::retry
