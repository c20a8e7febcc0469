// The retry engine's JSON boundary (src/core/retry_json.hpp): what sp_retry_policy, sp_retry_decide and
// sp_retry_plan accept and answer, every malformed input included.
#include "core/retry_json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/retry.hpp"

namespace sealpost {
namespace {

using nlohmann::json;

json parse(const std::string& text) {
  json value = json::parse(text, nullptr, false);
  EXPECT_FALSE(value.is_discarded()) << text;
  return value;
}

// `base` with the member at `keys` replaced by raw JSON text (which may be a number json cannot hold,
// such as 1e400 or 2^64), or removed when raw is empty.
std::string with(json base, const std::vector<const char*>& keys, const std::string& raw) {
  json* at = &base;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    at = at->is_array() ? &(*at)[std::stoul(keys[i])] : &(*at)[keys[i]];  // "0": an array index
  }
  if (raw.empty()) {
    at->erase(keys.back());
    return base.dump();
  }
  (*at)[keys.back()] = "\x01raw\x01";
  std::string text = base.dump();
  const std::string marker = "\"\\u0001raw\\u0001\"";
  const auto pos = text.find(marker);
  EXPECT_NE(pos, std::string::npos);
  return text.replace(pos, marker.size(), raw);
}

Status decide(const std::string& in, std::string& out) { return retry_json::decide(as_bytes(in), out); }
Status plan(const std::string& in, std::string& out) { return retry_json::plan(as_bytes(in), out); }

json decide_ok(const std::string& in) {
  std::string out;
  EXPECT_EQ(decide(in, out), Status::ok) << in;
  return json::parse(out, nullptr, false);
}

json plan_ok(const std::string& in) {
  std::string out;
  EXPECT_EQ(plan(in, out), Status::ok) << in;
  return json::parse(out, nullptr, false);
}

void decide_refused(const std::string& in) {
  std::string out = "stale";
  EXPECT_EQ(decide(in, out), Status::invalid_argument) << in;
  EXPECT_TRUE(out.empty()) << in;
}

void plan_refused(const std::string& in) {
  std::string out = "stale";
  EXPECT_EQ(plan(in, out), Status::invalid_argument) << in;
  EXPECT_TRUE(out.empty()) << in;
}

// A network failure on the first attempt, no jitter: the next attempt 2 s later.
json decide_input() {
  return parse(R"({"policy":{"jitter":"none"},"attempts":1,"createdAt":1000000,"now":1000000,
                   "id":"00000000000090000000000000000000",
                   "previousError":"","canRefresh":false,"outcome":{"kind":"network"}})");
}

json plan_input() {
  return parse(R"({"ordering":"fifo","now":100,"maxAgeMs":1000,"entries":[
      {"id":"a1","seq":1,"group":"a","state":"pending","nextAttemptAt":0,"leaseUntil":0,"createdAt":0},
      {"id":"a2","seq":2,"group":"a","state":"pending","nextAttemptAt":0,"leaseUntil":0,"createdAt":0},
      {"id":"b1","seq":3,"group":"b","state":"inflight","nextAttemptAt":0,"leaseUntil":500,"createdAt":0},
      {"id":"b2","seq":4,"group":"b","state":"pending","nextAttemptAt":0,"leaseUntil":0,"createdAt":0},
      {"id":"c1","seq":5,"group":"c","state":"pending","nextAttemptAt":0,"leaseUntil":0,"createdAt":-5000}]})");
}

// ---------------------------------------------------------------- policy

TEST(RetryJsonPolicy, CompleteFormOrTheOffendingField) {
  std::string out;
  std::string field;
  ASSERT_EQ(retry_json::policy(as_bytes(R"({"jitter":"equal"})"), out, field), Status::ok);
  EXPECT_EQ(out,
            R"({"baseDelayMs":2000,"factor":2.0,"honorRetryAfter":true,"jitter":"equal","maxAgeMs":604800000,)"
            R"("maxAttempts":12,"maxDelayMs":3600000,"requestTimeoutMs":30000,"retryOn":[408,409,425,429,500,502,503,504]})");
  EXPECT_TRUE(field.empty());
  ASSERT_EQ(retry_json::policy(as_bytes("null"), out, field), Status::ok);
  EXPECT_EQ(parse(out)["jitter"], "full");

  EXPECT_EQ(retry_json::policy(as_bytes(R"({"retryOn":[503,200]})"), out, field), Status::invalid_policy);
  EXPECT_EQ(field, "retryOn[1]");
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(retry_json::policy(as_bytes("[]"), out, field), Status::invalid_policy);
  EXPECT_EQ(field, "retry");
  EXPECT_EQ(retry_json::policy(as_bytes("{"), out, field), Status::invalid_json);
  EXPECT_EQ(field, "retry");
  EXPECT_EQ(retry_json::policy(as_bytes(""), out, field), Status::invalid_json);
}

// ---------------------------------------------------------------- decide

TEST(RetryJsonDecide, OutputFields) {
  std::string out;
  ASSERT_EQ(decide(decide_input().dump(), out), Status::ok);
  EXPECT_EQ(out, R"({"action":"retry","code":"network","nextAttemptAt":1002000})");

  json in = decide_input();
  in["outcome"] = {{"kind", "response"}, {"status", 204}};
  ASSERT_EQ(decide(in.dump(), out), Status::ok);
  EXPECT_EQ(out, R"({"action":"sent","code":""})");
  in["outcome"] = {{"kind", "response"}, {"status", 404}, {"retryAfter", "10"}};
  ASSERT_EQ(decide(in.dump(), out), Status::ok);
  EXPECT_EQ(out, R"({"action":"dead","code":"http-404"})");
  in["outcome"] = {{"kind", "timeout"}, {"status", "ignored"}};
  EXPECT_EQ(decide_ok(in.dump())["code"], "timeout");
}

TEST(RetryJsonDecide, RetryAfterRefreshAndLimits) {
  json in = decide_input();
  in["outcome"] = {{"kind", "response"}, {"status", 503}, {"retryAfter", "120"}};
  EXPECT_EQ(decide_ok(in.dump())["nextAttemptAt"], 1000000 + 120000);

  in["outcome"] = {{"kind", "response"}, {"status", 401}};
  EXPECT_EQ(decide_ok(in.dump())["action"], "dead");
  in["canRefresh"] = true;
  EXPECT_EQ(decide_ok(in.dump()), parse(R"({"action":"retry","code":"http-401","nextAttemptAt":1000000})"));
  in["previousError"] = "http-403";
  EXPECT_EQ(decide_ok(in.dump())["action"], "dead");

  in = decide_input();
  in["policy"] = {{"maxAttempts", 3}};
  in["attempts"] = 3;
  EXPECT_EQ(decide_ok(in.dump()), parse(R"({"action":"dead","code":"max-attempts"})"));
}

// The schedules tests/node/outbox-core.test.js pins for the Wasm module.
TEST(RetryJsonDecide, PinnedSchedule) {
  const std::int64_t full_seed_1[] = {1491, 3884, 3554, 7108, 24412, 56150, 66952, 73090};
  for (int n = 1; n <= 8; ++n) {
    const json in = parse(R"({"policy":{},"createdAt":0,"now":0,"id":"0000000000001f3e26a9c2b1d0e4f5a6",)"
                          R"("outcome":{"kind":"network"},"attempts":)" + std::to_string(n) + "}");
    EXPECT_EQ(decide_ok(in.dump())["nextAttemptAt"], full_seed_1[n - 1]) << n;
  }
}

TEST(RetryJsonDecide, NumbersAsFloatsAndNulls) {
  // Times may be fractional (truncated); whole numbers may be written as floats.
  EXPECT_EQ(decide_ok(with(decide_input(), {"now"}, "1000000.9"))["nextAttemptAt"], 1002000);
  EXPECT_EQ(decide_ok(with(decide_input(), {"now"}, "1e6"))["nextAttemptAt"], 1002000);
  EXPECT_EQ(decide_ok(with(decide_input(), {"attempts"}, "2.0"))["nextAttemptAt"], 1004000);
  EXPECT_EQ(decide_ok(with(decide_input(), {"attempts"}, "2e0"))["nextAttemptAt"], 1004000);
  EXPECT_EQ(decide_ok(with(decide_input(), {"createdAt"}, "-1000.5"))["action"], "retry");
  json in = decide_input();
  in["outcome"] = {{"kind", "response"}, {"status", 503.0}};
  EXPECT_EQ(decide_ok(in.dump())["code"], "http-503");
  // Optional fields may be null or missing.
  in = decide_input();
  in["previousError"] = nullptr;
  in["canRefresh"] = nullptr;
  in["outcome"]["retryAfter"] = nullptr;
  EXPECT_EQ(decide_ok(in.dump())["action"], "retry");
  in.erase("previousError");
  in.erase("canRefresh");
  EXPECT_EQ(decide_ok(in.dump())["action"], "retry");
  // A null policy is the default policy.
  in["policy"] = nullptr;
  EXPECT_EQ(decide_ok(in.dump())["action"], "retry");
}

TEST(RetryJsonDecide, MalformedInputs) {
  for (const char* text : {"", "{", "[]", "null", "1", "\"x\"", "{\"policy\":{}} x"}) decide_refused(text);
  // Every required field missing or null.
  for (const char* field : {"policy", "attempts", "createdAt", "now", "id", "outcome"}) {
    decide_refused(with(decide_input(), {field}, ""));
    if (std::string(field) != "policy") decide_refused(with(decide_input(), {field}, "null"));
  }
  decide_refused(with(decide_input(), {"outcome", "kind"}, ""));
  json response = decide_input();
  response["outcome"] = {{"kind", "response"}, {"status", 503}};
  decide_refused(with(response, {"outcome", "status"}, ""));
  decide_refused(with(response, {"outcome", "status"}, "null"));

  // Wrong types.
  const std::pair<std::vector<const char*>, const char*> wrong[] = {
      {{"policy"}, "[]"},           {{"policy"}, R"({"factor":0})"}, {{"policy"}, R"({"unknown":1})"},
      {{"attempts"}, "\"1\""},      {{"attempts"}, "true"},          {{"createdAt"}, "\"0\""},
      {{"now"}, "[1]"},             {{"id"}, "{}"},                {{"previousError"}, "5"},
      {{"previousError"}, "false"}, {{"canRefresh"}, "1"},           {{"canRefresh"}, "\"true\""},
      {{"outcome"}, "\"network\""}, {{"outcome"}, "[]"},             {{"outcome", "kind"}, "1"},
      {{"outcome", "kind"}, "\"dns\""}, {{"outcome", "kind"}, "\"Network\""}, {{"outcome", "retryAfter"}, "120"},
  };
  for (const auto& [path, raw] : wrong) decide_refused(with(decide_input(), path, raw));
  for (const char* raw : {"\"503\"", "true", "[503]"}) decide_refused(with(response, {"outcome", "status"}, raw));

  // Numbers out of range, fractional where whole, huge.
  for (const char* raw : {"0", "-1", "1.5", "2147483648", "1e300", "18446744073709551616", "1e400"}) {
    decide_refused(with(decide_input(), {"attempts"}, raw));
  }
  for (const char* raw : {"9007199254740992", "-9007199254740992", "1e16", "-1e300", "1e400", "18446744073709551615"}) {
    decide_refused(with(decide_input(), {"now"}, raw));
    decide_refused(with(decide_input(), {"createdAt"}, raw));
  }
  // An id the seed cannot be read from.
  for (const char* raw : {"\"\"", "\"000000000009\"", "\"0000000000009000000000000000000g\"",
                          "\"x0000000000009000000000000000000\"", "\" 0000000000009\"", "\"0x00000000000009\"",
                          "\"00000000-0009-0000-0000-000000000000\"", "9", "\"\u00e9000000000000\""}) {
    decide_refused(with(decide_input(), {"id"}, raw));
  }
  for (const char* raw : {"-1", "1000", "503.5", "1e300"}) decide_refused(with(response, {"outcome", "status"}, raw));
  // The largest accepted values.
  EXPECT_EQ(decide_ok(with(decide_input(), {"now"}, "9007199254740991"))["action"], "dead");
  EXPECT_EQ(decide_ok(with(decide_input(), {"attempts"}, "2147483647"))["code"], "max-attempts");
}

// The seed is what JS's parseInt(id.slice(0, 13), 16) gave: the first 13 hex digits.
TEST(RetryJsonDecide, JitterSeedFromTheId) {
  std::uint64_t seed = 0;
  ASSERT_TRUE(retry::jitter_seed("0123456789abcdef0123456789abcdef", seed));
  EXPECT_EQ(seed, 0x0123456789abcULL);
  ASSERT_TRUE(retry::jitter_seed("0123456789ABCDEF0123456789ABCDEF", seed));
  EXPECT_EQ(seed, 0x0123456789abcULL);
  ASSERT_TRUE(retry::jitter_seed("ffffffffffffffffffffffffffffffff", seed));
  EXPECT_EQ(seed, 4503599627370495ULL);  // parseInt('fffffffffffff', 16)
  ASSERT_TRUE(retry::jitter_seed("0000000000007", seed));
  EXPECT_EQ(seed, 7U);
  for (const char* bad : {"", "000000000000", "000000000000g", "0000000000000000000000000000000G", "-000000000001",
                          "0000000000001 "}) {
    EXPECT_FALSE(retry::jitter_seed(bad, seed)) << bad;
  }

  // Through decide: the schedule of seed 7 (pinned in retry_test.cpp), whatever follows the 13th digit.
  const std::int64_t full_seed_7[] = {33, 3603, 4663, 7239, 7981, 29948, 41993, 34370};
  for (const char* id : {"00000000000070000000000000000000", "0000000000007fffffffffffffffffff", "0000000000007"}) {
    for (int n = 1; n <= 8; ++n) {
      json in = decide_input();
      in["policy"] = json::object();
      in["now"] = 0;
      in["createdAt"] = 0;
      in["attempts"] = n;
      in["id"] = id;
      EXPECT_EQ(decide_ok(in.dump())["nextAttemptAt"], full_seed_7[n - 1]) << id << " " << n;
    }
  }
}

// ---------------------------------------------------------------- plan

TEST(RetryJsonPlan, OutputFields) {
  std::string out;
  ASSERT_EQ(plan(plan_input().dump(), out), Status::ok);
  EXPECT_EQ(out, R"({"due":["a1","a2"],"expired":["c1"],"nextAttemptAt":500})");
  json in = plan_input();
  in["ordering"] = "independent";
  EXPECT_EQ(plan_ok(in.dump())["due"], parse(R"(["a1","a2","b2"])"));
  in["entries"] = json::array();
  ASSERT_EQ(plan(in.dump(), out), Status::ok);
  EXPECT_EQ(out, R"({"due":[],"expired":[],"nextAttemptAt":null})");
}

TEST(RetryJsonPlan, OptionalFieldsAndFloats) {
  json in = plan_input();
  for (json& row : in["entries"]) {
    row.erase("group");
    row["leaseUntil"] = nullptr;
    row.erase("nextAttemptAt");
  }
  // Without groups every entry is in group ""; without a lease b1 is inflight with its lease expired: due.
  EXPECT_EQ(plan_ok(in.dump()), parse(R"({"due":["a1","a2","b1","b2"],"expired":["c1"],"nextAttemptAt":null})"));
  EXPECT_EQ(plan_ok(with(plan_input(), {"now"}, "100.99")), plan_ok(plan_input().dump()));
  EXPECT_EQ(plan_ok(with(plan_input(), {"maxAgeMs"}, "1e3")), plan_ok(plan_input().dump()));
}

TEST(RetryJsonPlan, NetworkBack) {
  json in = plan_input();
  in["entries"][2]["state"] = "pending";  // b1: backed off after a network failure, until 500
  in["entries"][2]["nextAttemptAt"] = 500;
  in["entries"][2]["lastError"] = "network";
  EXPECT_EQ(plan_ok(in.dump())["due"], parse(R"(["a1","a2"])"));
  in["networkBack"] = true;
  EXPECT_EQ(plan_ok(in.dump())["due"], parse(R"(["a1","a2","b1","b2"])"));
  in["networkBack"] = false;
  EXPECT_EQ(plan_ok(in.dump())["due"], parse(R"(["a1","a2"])"));
  std::string out;
  in["networkBack"] = 1;
  EXPECT_EQ(plan(in.dump(), out), Status::invalid_argument);
}

// tried and lastError: once per flush, plus the refreshed attempt after a 401/403.
TEST(RetryJsonPlan, TriedInThisFlush) {
  json in = plan_input();
  in["entries"][0]["lastError"] = "network";
  in["tried"] = {{"a1", 1}, {"gone", 3}};  // ids no longer queued are ignored
  // a1 was tried: not due, and holds a2 back; its nextAttemptAt (0) counts.
  EXPECT_EQ(plan_ok(in.dump()), parse(R"({"due":[],"expired":["c1"],"nextAttemptAt":0})"));
  in["ordering"] = "independent";
  EXPECT_EQ(plan_ok(in.dump())["due"], parse(R"(["a2","b2"])"));
  in["ordering"] = "fifo";

  for (const char* code : {"http-401", "http-403"}) {
    in["entries"][0]["lastError"] = code;
    EXPECT_EQ(plan_ok(in.dump())["due"], parse(R"(["a1","a2"])")) << code;
    in["tried"]["a1"] = 2;
    EXPECT_EQ(plan_ok(in.dump())["due"], json::array()) << code;
    in["tried"]["a1"] = 1;
  }
  in["entries"][0]["lastError"] = nullptr;
  EXPECT_EQ(plan_ok(in.dump())["due"], json::array());
  in["tried"]["a1"] = 0;
  EXPECT_EQ(plan_ok(in.dump())["due"], parse(R"(["a1","a2"])"));
  in["tried"] = nullptr;
  EXPECT_EQ(plan_ok(in.dump())["due"], parse(R"(["a1","a2"])"));
  in["tried"] = json::object();
  EXPECT_EQ(plan_ok(in.dump())["due"], parse(R"(["a1","a2"])"));
  EXPECT_EQ(plan_ok(with(in, {"tried", "a1"}, "1.0"))["due"], json::array());

  for (const char* raw : {"[]", "[\"a1\"]", "1", "\"a1\"", "true"}) plan_refused(with(in, {"tried"}, raw));
  for (const char* raw : {"-1", "1.5", "\"1\"", "null", "true", "1e300", "9007199254740992", "{}"}) {
    plan_refused(with(in, {"tried", "a1"}, raw));
    plan_refused(with(in, {"tried", "gone"}, raw));  // checked even for ids not queued
  }
  for (const char* raw : {"5", "false", "[]", "{}"}) plan_refused(with(in, {"entries", "0", "lastError"}, raw));
}

TEST(RetryJsonPlan, MalformedInputs) {
  for (const char* text : {"", "{", "[]", "null", "{} {}"}) plan_refused(text);
  for (const char* field : {"ordering", "now", "maxAgeMs", "entries"}) {
    plan_refused(with(plan_input(), {field}, ""));
    plan_refused(with(plan_input(), {field}, "null"));
  }
  for (const char* raw : {"\"lifo\"", "\"FIFO\"", "1", "[\"fifo\"]"}) plan_refused(with(plan_input(), {"ordering"}, raw));
  for (const char* raw : {"\"100\"", "1e300", "9007199254740992", "true"}) plan_refused(with(plan_input(), {"now"}, raw));
  for (const char* raw : {"0", "-1", "1.5", "\"1000\"", "9007199254740992", "1e400"}) {
    plan_refused(with(plan_input(), {"maxAgeMs"}, raw));
  }
  for (const char* raw : {"{}", "\"a1\"", "[1]", "[null]", "[[]]"}) plan_refused(with(plan_input(), {"entries"}, raw));

  const json good = parse(R"({"id":"x","seq":9,"group":"g","state":"pending","nextAttemptAt":0,"leaseUntil":0,"createdAt":0})");
  auto with_row = [](const std::string& row) {
    json in = plan_input();
    std::string text = in.dump();
    return text.insert(text.find("\"entries\":[") + 11, row + ",");
  };
  EXPECT_EQ(plan_ok(with_row(good.dump()))["due"], parse(R"(["a1","a2","x"])"));
  for (const char* field : {"id", "seq", "state", "createdAt"}) {
    plan_refused(with_row(with(good, {field}, "")));
    plan_refused(with_row(with(good, {field}, "null")));
  }
  const std::pair<const char*, const char*> wrong[] = {
      {"id", "\"\""},           {"id", "7"},              {"seq", "\"9\""},         {"seq", "9.5"},
      {"seq", "1e300"},         {"seq", "9007199254740992"}, {"group", "1"},        {"group", "[]"},
      {"state", "\"done\""},    {"state", "\"Pending\""}, {"state", "0"},           {"nextAttemptAt", "\"0\""},
      {"nextAttemptAt", "1e300"}, {"leaseUntil", "false"}, {"leaseUntil", "-9007199254740992"},
      {"createdAt", "\"0\""},   {"createdAt", "18446744073709551616"},
  };
  for (const auto& [field, raw] : wrong) plan_refused(with_row(with(good, {field}, raw)));
  // Two entries with one id.
  plan_refused(with_row(with(good, {"id"}, "\"b2\"")));
}

}  // namespace
}  // namespace sealpost
