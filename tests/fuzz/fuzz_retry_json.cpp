// Fuzz target: the retry engine's JSON boundary (src/core/retry_json.hpp), what sp_retry_policy,
// sp_retry_decide and sp_retry_plan run on the JSON js/outbox.js builds.
//
// Input: JSON text, given to policy(), decide() and plan() alike (tests/fuzz/retry_json.dict holds their
// field names). Properties, for every input:
//   - policy: ok, invalid-policy or invalid-json, the same as retry::parse_policy; ok: the output is the
//     complete policy (retry::to_json) and no field is named; otherwise no output and parse_policy's field.
//   - decide: ok or invalid-argument, no output on failure. ok only for an object whose id gives a jitter
//     seed; the output is an object with exactly action and code, plus nextAttemptAt for retry:
//     sent → code "", retry → code network / timeout / http-<status>, now <= nextAttemptAt <
//     createdAt + maxAgeMs; dead → a non-empty code. The same input gives the same output, and so does
//     the input with every digit of its id after the 13th replaced (only those 13 make the seed).
//   - plan: ok or invalid-argument, no output on failure. ok: the output is an object with exactly due
//     (ids), expired (ids) and nextAttemptAt (integer or null); due and expired hold input ids, no id
//     twice, none in both, no dead entry; and the whole output equals the one a reference model of
//     plan_due's rules (below, written group by group) gives for the same entries.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/retry.hpp"
#include "core/retry_json.hpp"
#include "fuzz_check.hpp"

namespace {

using nlohmann::json;
using sealpost::ByteView;
using sealpost::Status;

const json* member(const json& object, const char* name) {
  const auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// A number the boundary accepted, read as it documents (a fraction truncated toward zero).
std::int64_t number(const json& value) {
  if (value.is_number_unsigned()) return static_cast<std::int64_t>(value.get<std::uint64_t>());
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return static_cast<std::int64_t>(std::trunc(value.get<double>()));
}

std::int64_t number_or(const json& object, const char* name, std::int64_t fallback) {
  const json* value = member(object, name);
  return value == nullptr ? fallback : number(*value);
}

std::string string_or_empty(const json& object, const char* name) {
  const json* value = member(object, name);
  return value == nullptr ? std::string() : value->get<std::string>();
}

bool is_id_list(const json& value) {
  if (!value.is_array()) return false;
  return std::all_of(value.begin(), value.end(), [](const json& id) { return id.is_string(); });
}

void check_policy(ByteView in) {
  std::string out = "stale";
  std::string field = "stale";
  const Status status = sealpost::retry_json::policy(in, out, field);
  FUZZ_CHECK(sealpost::fuzz::one_of(status, {Status::ok, Status::invalid_policy, Status::invalid_json}));
  sealpost::retry::Policy parsed;
  std::string parsed_field;
  FUZZ_CHECK(sealpost::retry::parse_policy(in, parsed, parsed_field) == status);
  if (status != Status::ok) {
    FUZZ_CHECK(out.empty() && field == parsed_field);  // the field may be "": {"": 1}
    return;
  }
  FUZZ_CHECK(field.empty());
  const json complete = json::parse(out, nullptr, false);
  FUZZ_CHECK(!complete.is_discarded() && complete == sealpost::retry::to_json(parsed));
}

void check_decide(ByteView in) {
  std::string out = "stale";
  const Status status = sealpost::retry_json::decide(in, out);
  FUZZ_CHECK(sealpost::fuzz::one_of(status, {Status::ok, Status::invalid_argument}));
  if (status != Status::ok) {
    FUZZ_CHECK(out.empty());
    return;
  }
  const json input = json::parse(in.begin(), in.end(), nullptr, false);
  FUZZ_CHECK(input.is_object());
  const json* id = member(input, "id");
  FUZZ_CHECK(id != nullptr && id->is_string());
  std::uint64_t seed = 0;
  FUZZ_CHECK(sealpost::retry::jitter_seed(id->get<std::string>(), seed));

  const json result = json::parse(out, nullptr, false);
  FUZZ_CHECK(result.is_object());
  const json* action = member(result, "action");
  const json* code = member(result, "code");
  FUZZ_CHECK(action != nullptr && action->is_string() && code != nullptr && code->is_string());
  const std::string& action_name = action->get_ref<const std::string&>();
  const std::string& code_text = code->get_ref<const std::string&>();
  if (action_name == "retry") {
    FUZZ_CHECK(result.size() == 3);
    const json* next = member(result, "nextAttemptAt");
    FUZZ_CHECK(next != nullptr && next->is_number_integer());
    const bool http = code_text.size() == 8 && code_text.compare(0, 5, "http-") == 0 &&
                      std::all_of(code_text.begin() + 5, code_text.end(), [](char c) { return c >= '0' && c <= '9'; });
    FUZZ_CHECK(code_text == "network" || code_text == "timeout" || http);
    sealpost::retry::Policy policy;
    std::string field;
    FUZZ_CHECK(sealpost::retry::parse_policy(input.find("policy").value(), policy, field) == Status::ok);
    const std::int64_t at = next->get<std::int64_t>();
    FUZZ_CHECK(at >= number_or(input, "now", 0));
    FUZZ_CHECK(at < number_or(input, "createdAt", 0) + policy.max_age_ms);
  } else {
    FUZZ_CHECK(result.size() == 2);
    FUZZ_CHECK(action_name == "sent" ? code_text.empty() : action_name == "dead" && !code_text.empty());
  }

  std::string again;
  FUZZ_CHECK(sealpost::retry_json::decide(in, again) == Status::ok && again == out);
  json rewritten = input;
  std::string other_id = id->get<std::string>();
  std::fill(other_id.begin() + 13, other_id.end(), '0');
  rewritten["id"] = other_id;
  FUZZ_CHECK(sealpost::retry_json::decide(sealpost::as_bytes(rewritten.dump()), again) == Status::ok && again == out);
}

// plan_due's rules, stated group by group: in seq order (ties in input order), skip dead entries; once
// an entry is not due (a live lease, not due by the clock, or already tried in this flush) the rest of its
// group (fifo) is neither due, expired nor counted; an expired entry holds nothing back.
json reference_plan(const json& input) {
  const bool fifo = input.find("ordering").value() == "fifo";
  const std::int64_t now = number(input.find("now").value());
  const std::int64_t max_age = number(input.find("maxAgeMs").value());
  const json* tried = member(input, "tried");
  struct Row {
    std::size_t index;
    std::int64_t seq;
    const json* entry;
  };
  std::vector<Row> rows;
  const json& entries = input.find("entries").value();
  for (std::size_t i = 0; i < entries.size(); ++i) rows.push_back({i, number(entries[i].find("seq").value()), &entries[i]});
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.seq < b.seq; });

  json due = json::array();
  json expired = json::array();
  std::optional<std::int64_t> next;
  std::set<std::string> closed;
  for (const Row& row : rows) {
    const json& e = *row.entry;
    const std::string id = e.find("id").value().get<std::string>();
    const std::string state = e.find("state").value().get<std::string>();
    if (state == "dead") continue;
    const std::string key = fifo ? string_or_empty(e, "group") : id;
    if (closed.count(key) != 0) continue;
    const std::int64_t lease = number_or(e, "leaseUntil", 0);
    const std::int64_t next_at = number_or(e, "nextAttemptAt", 0);
    const bool inflight = state == "inflight";
    std::int64_t count = 0;
    if (tried != nullptr && tried->contains(id)) count = number(tried->find(id).value());
    const std::string last_error = string_or_empty(e, "lastError");
    std::optional<std::int64_t> blocked_until;
    if (inflight && lease > now) {
      blocked_until = lease;
    } else if (number(e.find("createdAt").value()) + max_age <= now) {
      expired.push_back(id);
      continue;
    } else if (!inflight && next_at > now) {
      blocked_until = next_at;
    } else if (!(count == 0 || (count == 1 && (last_error == "http-401" || last_error == "http-403")))) {
      blocked_until = inflight ? lease : next_at;
      FUZZ_CHECK(*blocked_until <= now);
    }
    if (blocked_until) {
      if (!next || *blocked_until < *next) next = blocked_until;
      closed.insert(key);
      continue;
    }
    due.push_back(id);
  }
  return json{{"due", due}, {"expired", expired}, {"nextAttemptAt", next ? json(*next) : json()}};
}

void check_plan(ByteView in) {
  std::string out = "stale";
  const Status status = sealpost::retry_json::plan(in, out);
  FUZZ_CHECK(sealpost::fuzz::one_of(status, {Status::ok, Status::invalid_argument}));
  if (status != Status::ok) {
    FUZZ_CHECK(out.empty());
    return;
  }
  const json input = json::parse(in.begin(), in.end(), nullptr, false);
  FUZZ_CHECK(input.is_object() && member(input, "entries") != nullptr && input.find("entries")->is_array());
  std::map<std::string, std::string> state_of;  // id -> state
  for (const json& e : *input.find("entries")) {
    FUZZ_CHECK(e.is_object() && member(e, "id") != nullptr && member(e, "state") != nullptr);
    FUZZ_CHECK(state_of.emplace(e.find("id")->get<std::string>(), e.find("state")->get<std::string>()).second);
  }

  const json result = json::parse(out, nullptr, false);
  FUZZ_CHECK(result.is_object() && result.size() == 3);
  const auto due = result.find("due");
  const auto expired = result.find("expired");
  const auto next = result.find("nextAttemptAt");
  FUZZ_CHECK(due != result.end() && expired != result.end() && next != result.end());
  FUZZ_CHECK(is_id_list(*due) && is_id_list(*expired));
  FUZZ_CHECK(next->is_null() || next->is_number_integer());
  std::set<std::string> seen;
  for (const json* list : {&*due, &*expired}) {
    for (const json& id : *list) {
      const auto it = state_of.find(id.get<std::string>());
      FUZZ_CHECK(it != state_of.end() && it->second != "dead");
      FUZZ_CHECK(seen.insert(it->first).second);  // no id twice, none in both lists
    }
  }
  FUZZ_CHECK(result == reference_plan(input));

  std::string again;
  FUZZ_CHECK(sealpost::retry_json::plan(in, again) == Status::ok && again == out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  check_policy(in);
  check_decide(in);
  check_plan(in);
  return 0;
}
