#include "core/retry_json.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_text.hpp"
#include "core/retry.hpp"

namespace sealpost::retry_json {

using nlohmann::json;

namespace {

constexpr std::int64_t kMaxSafeInteger = 9007199254740991;  // 2^53 - 1, what a JS number holds exactly

json parse(ByteView in) { return parse_json(in); }

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// The member `name` of an object, or nullptr when it is missing or null.
const json* member(const json& object, const char* name) {
  const auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// A number within ±(2^53 - 1), a fraction truncated toward zero.
bool time_value(const json& value, std::int64_t& out) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(kMaxSafeInteger)) return false;
    out = static_cast<std::int64_t>(u);
    return true;
  }
  if (value.is_number_integer()) {
    const auto i = value.get<std::int64_t>();
    if (i < -kMaxSafeInteger || i > kMaxSafeInteger) return false;
    out = i;
    return true;
  }
  if (value.is_number_float()) {
    const double d = value.get<double>();
    constexpr auto limit = static_cast<double>(kMaxSafeInteger);  // exact in a double
    if (!std::isfinite(d) || d < -limit || d > limit) return false;
    out = static_cast<std::int64_t>(std::trunc(d));
    return true;
  }
  return false;
}

// A whole number (1e3 and 3.0 are) within [low, high], where high <= 2^53 - 1.
bool whole_value(const json& value, std::int64_t low, std::int64_t high, std::int64_t& out) {
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (!std::isfinite(d) || d != std::trunc(d)) return false;
  }
  std::int64_t n = 0;
  if (!time_value(value, n) || n < low || n > high) return false;
  out = n;
  return true;
}

bool required_time(const json& object, const char* name, std::int64_t& out) {
  const json* value = member(object, name);
  return value != nullptr && time_value(*value, out);
}

// Leaves `out` (its default) alone when the field is missing or null.
bool optional_time(const json& object, const char* name, std::int64_t& out) {
  const json* value = member(object, name);
  return value == nullptr || time_value(*value, out);
}

bool required_whole(const json& object, const char* name, std::int64_t low, std::int64_t high, std::int64_t& out) {
  const json* value = member(object, name);
  return value != nullptr && whole_value(*value, low, high, out);
}

bool required_string(const json& object, const char* name, std::string& out) {
  const json* value = member(object, name);
  if (value == nullptr || !value->is_string()) return false;
  out = value->get_ref<const std::string&>();
  return true;
}

bool optional_string(const json& object, const char* name, std::string& out) {
  const json* value = member(object, name);
  if (value == nullptr) return true;
  if (!value->is_string()) return false;
  out = value->get_ref<const std::string&>();
  return true;
}

bool optional_bool(const json& object, const char* name, bool& out) {
  const json* value = member(object, name);
  if (value == nullptr) return true;
  if (!value->is_boolean()) return false;
  out = value->get<bool>();
  return true;
}

const char* action_name(retry::Action action) {
  switch (action) {
    case retry::Action::sent: return "sent";
    case retry::Action::retry: return "retry";
    case retry::Action::dead: return "dead";
  }
  return "dead";
}

}  // namespace

Status policy(ByteView in, std::string& out, std::string& field) {
  out.clear();
  field.clear();
  retry::Policy parsed;
  const Status s = retry::parse_policy(in, parsed, field);
  if (s != Status::ok) return s;
  out = dump(retry::to_json(parsed));
  return Status::ok;
}

Status decide(ByteView in, std::string& out) {
  out.clear();
  const json input = parse(in);
  if (input.is_discarded() || !input.is_object()) return Status::invalid_argument;

  retry::Policy policy;
  const auto policy_value = input.find("policy");
  std::string field;
  if (policy_value == input.end() || retry::parse_policy(*policy_value, policy, field) != Status::ok) {
    return Status::invalid_argument;
  }

  retry::Attempt attempt;
  std::int64_t attempts = 0;
  std::string id;
  std::string previous_error;
  if (!required_whole(input, "attempts", 1, INT_MAX, attempts) ||
      !required_time(input, "createdAt", attempt.created_at) || !required_time(input, "now", attempt.now) ||
      !required_string(input, "id", id) || !retry::jitter_seed(id, attempt.seed) ||
      !optional_string(input, "previousError", previous_error) ||
      !optional_bool(input, "canRefresh", attempt.can_refresh)) {
    return Status::invalid_argument;
  }
  attempt.attempts = static_cast<int>(attempts);
  attempt.previous_error = previous_error;

  const json* outcome_value = member(input, "outcome");
  std::string kind;
  std::string retry_after;
  if (outcome_value == nullptr || !outcome_value->is_object() || !required_string(*outcome_value, "kind", kind) ||
      !optional_string(*outcome_value, "retryAfter", retry_after)) {
    return Status::invalid_argument;
  }
  retry::Outcome outcome;
  if (kind == "network") {
    outcome.kind = retry::OutcomeKind::network;
  } else if (kind == "timeout") {
    outcome.kind = retry::OutcomeKind::timeout;
  } else if (kind == "response") {
    std::int64_t code = 0;
    if (!required_whole(*outcome_value, "status", 0, 999, code)) return Status::invalid_argument;
    outcome.kind = retry::OutcomeKind::response;
    outcome.status = static_cast<int>(code);
    outcome.retry_after = retry_after;
  } else {
    return Status::invalid_argument;
  }

  const retry::Decision decision = retry::decide(policy, attempt, outcome);
  json result{{"action", action_name(decision.action)}, {"code", decision.code}};
  if (decision.action == retry::Action::retry) result["nextAttemptAt"] = decision.next_attempt_at;
  out = dump(result);
  return Status::ok;
}

Status plan(ByteView in, std::string& out) {
  out.clear();
  const json input = parse(in);
  if (input.is_discarded() || !input.is_object()) return Status::invalid_argument;
  std::int64_t now = 0;
  std::int64_t max_age_ms = 0;
  std::string ordering_name;
  bool network_back = false;
  if (!required_time(input, "now", now) || !required_whole(input, "maxAgeMs", 1, kMaxSafeInteger, max_age_ms) ||
      !required_string(input, "ordering", ordering_name) || !optional_bool(input, "networkBack", network_back)) {
    return Status::invalid_argument;
  }
  retry::Ordering ordering = retry::Ordering::fifo;
  if (ordering_name == "independent") ordering = retry::Ordering::independent;
  else if (ordering_name != "fifo") return Status::invalid_argument;

  const json* list = member(input, "entries");
  const json* tried = member(input, "tried");
  if (list == nullptr || !list->is_array() || (tried != nullptr && !tried->is_object())) {
    return Status::invalid_argument;
  }
  // Counts for ids that are not (or no longer) queued are checked and otherwise ignored.
  if (tried != nullptr) {
    for (const json& count : *tried) {
      std::int64_t n = 0;
      if (!whole_value(count, 0, kMaxSafeInteger, n)) return Status::invalid_argument;
    }
  }
  std::vector<retry::EntryState> entries;
  entries.reserve(list->size());
  for (const json& row : *list) {
    if (!row.is_object()) return Status::invalid_argument;
    retry::EntryState entry;
    std::string state;
    if (!required_string(row, "id", entry.id) || entry.id.empty() ||
        !required_whole(row, "seq", -kMaxSafeInteger, kMaxSafeInteger, entry.seq) ||
        !optional_string(row, "group", entry.group) || !required_string(row, "state", state) ||
        !optional_time(row, "nextAttemptAt", entry.next_attempt_at) ||
        !optional_time(row, "leaseUntil", entry.lease_until) || !required_time(row, "createdAt", entry.created_at) ||
        !optional_string(row, "lastError", entry.last_error)) {
      return Status::invalid_argument;
    }
    if (tried != nullptr) {
      if (const auto count = tried->find(entry.id); count != tried->end()) {
        whole_value(*count, 0, kMaxSafeInteger, entry.tried);  // checked above
      }
    }
    if (state == "pending") entry.state = retry::EntryState::State::pending;
    else if (state == "inflight") entry.state = retry::EntryState::State::inflight;
    else if (state == "dead") entry.state = retry::EntryState::State::dead;
    else return Status::invalid_argument;
    entries.push_back(std::move(entry));
  }
  // Ids name entries (and, in the output, what to send): two entries with one id are malformed.
  std::vector<std::string_view> ids;
  ids.reserve(entries.size());
  for (const retry::EntryState& entry : entries) ids.push_back(entry.id);
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) return Status::invalid_argument;

  const retry::DuePlan due = retry::plan_due(std::move(entries), ordering, now, max_age_ms, network_back);
  json result{{"due", due.due}, {"expired", due.expired}, {"nextAttemptAt", nullptr}};
  if (due.next_attempt_at) result["nextAttemptAt"] = *due.next_attempt_at;
  out = dump(result);
  return Status::ok;
}

}  // namespace sealpost::retry_json
