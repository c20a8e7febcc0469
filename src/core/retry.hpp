// The retry engine: what a policy may say, what an attempt's outcome means, when the next attempt is,
// and which entries are due. Pure: time and the jitter seed are arguments.
//
// Policy (JSON object, every field optional; unknown fields are refused):
//   baseDelayMs 2000, factor 2, maxDelayMs 3600000, jitter 'full' | 'equal' | 'none',
//   maxAttempts 12, maxAgeMs 604800000, retryOn [408, 409, 425, 429, 500, 502, 503, 504],
//   honorRetryAfter true, requestTimeoutMs 30000
//
// Delay after the n-th failure: d = min(maxDelayMs, baseDelayMs * factor^(n-1)), then
//   full:  floor(u * d)            equal: ceil(d / 2) + floor(u * floor(d / 2))           none: d
// with u in [0, 1) from splitmix64(seed + n * 0x9e3779b97f4a7c15) (top 53 bits). Never earlier than
// a Retry-After the server sent (when honorRetryAfter).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "core/status.hpp"

namespace sealpost::retry {

enum class Jitter { full, equal, none };

struct Policy {
  std::int64_t base_delay_ms = 2000;
  double factor = 2;
  std::int64_t max_delay_ms = 3600000;
  Jitter jitter = Jitter::full;
  int max_attempts = 12;
  std::int64_t max_age_ms = std::int64_t{7} * 24 * 3600 * 1000;
  // 409: the server is still answering an earlier attempt with the same Idempotency-Key (IETF httpapi draft).
  std::vector<int> retry_on = {408, 409, 425, 429, 500, 502, 503, 504};
  bool honor_retry_after = true;
  std::int64_t request_timeout_ms = 30000;
};

// Parses and validates a policy. On invalid_policy, `field` names the offending option ("factor",
// "retryOn[2]", or "retry" when the whole value is not an object).
Status parse_policy(const nlohmann::json& value, Policy& policy, std::string& field);
Status parse_policy(ByteView json_text, Policy& policy, std::string& field);
nlohmann::json to_json(const Policy& policy);

// Fuzz entry point: ok or invalid_policy / invalid_json for any bytes. Never crashes.
Status check_policy(ByteView bytes);

// The base delay of the n-th failure (n >= 1) before jitter, and after jitter.
std::int64_t backoff_ms(const Policy& policy, int failures);
std::int64_t jittered_delay_ms(const Policy& policy, int failures, std::uint64_t seed);
// u in [0, 1) for (seed, n): the generator behind the jitter.
double unit_random(std::uint64_t seed, int n);

// The jitter seed of an entry: the integer value of the first 13 hex digits of its id (entry ids are 32
// lowercase hex digits), the value JS's parseInt(id.slice(0, 13), 16) gave before the seed was derived
// here, so schedules are unchanged. False for an id shorter than 13 characters or with any character
// that is not a hex digit (either case).
bool jitter_seed(std::string_view id, std::uint64_t& seed);

enum class OutcomeKind { network, timeout, response };

struct Outcome {
  OutcomeKind kind = OutcomeKind::network;
  int status = 0;                  // for response
  std::string_view retry_after;    // the Retry-After header, if any
};

struct Attempt {
  int attempts = 1;                 // attempts made so far, including this one
  std::int64_t created_at = 0;      // enqueue time (ms)
  std::int64_t now = 0;             // when the outcome was known (ms)
  std::uint64_t seed = 0;           // jitter seed of the entry
  std::string_view previous_error;  // the entry's last error code ("" if none)
  bool can_refresh = false;         // a beforeReplay hook exists (401/403 get one more attempt)
};

enum class Action { sent, retry, dead };

struct Decision {
  Action action = Action::dead;
  std::string code;                // "" (sent), "network", "timeout", "http-503", "max-attempts", "expired"
  std::int64_t next_attempt_at = 0;  // for retry
};

// What an attempt's outcome means for its entry:
//   2xx/3xx (and status 0: an opaque answer) → sent; fetch rejected / timed out → retry (network,
//   timeout); a status in retryOn → retry (http-<status>); 401/403 → one immediate retry after
//   beforeReplay if there is one and the previous attempt was not already refused, else dead; any
//   other status → dead (http-<status>). A retry past maxAttempts → dead (max-attempts); a retry
//   whose time falls at or past createdAt + maxAgeMs → dead (expired).
Decision decide(const Policy& policy, const Attempt& attempt, const Outcome& outcome);

enum class Ordering { fifo, independent };

// An error code that says the server refused the request's credentials: "http-401" or "http-403".
bool refused(std::string_view code);

// Whether an entry may be attempted in the current flush: once per flush (`tried` attempts already made
// on it in this flush), except the one immediate retry a 401/403 gets after beforeReplay, i.e. a second
// attempt when the first one ended refused (`last_error` "http-401" or "http-403"). Never a third.
// (decide grants that immediate retry only with a beforeReplay hook and not after a refusal already, so
// a second refusal is dead and never comes back here.)
bool may_try(std::int64_t tried, std::string_view last_error);

// The scheduling fields of one stored entry.
struct EntryState {
  std::string id;
  std::int64_t seq = 0;
  std::string group;
  enum class State { pending, inflight, dead } state = State::pending;
  std::int64_t next_attempt_at = 0;
  std::int64_t lease_until = 0;
  std::int64_t created_at = 0;
  std::int64_t tried = 0;   // attempts the caller already made on it in the current flush
  std::string last_error;   // its last error code ("" if none)
};

struct DuePlan {
  std::vector<std::string> due;      // in sequence order; fifo: a group's run of consecutive due entries
  std::vector<std::string> expired;  // pending/lease-expired entries older than maxAgeMs: dead-letter them
  std::optional<std::int64_t> next_attempt_at;  // earliest time something not due now becomes due (<= now
                                                // for an entry held back only by may_try: see plan_due)
};

// What may be sent at `now`, in sequence order (equal seqs keep their input order). Entry by entry:
//   dead                                  skipped: holds nothing back
//   inflight with a live lease            not due; its lease_until counts for next_attempt_at
//   created_at + max_age_ms <= now        expired (a pending or lease-expired entry): holds nothing back
//   pending, next_attempt_at > now        not due; its next_attempt_at counts
//   otherwise due by the clock (pending at or past next_attempt_at, or inflight with its lease expired:
//   that attempt was counted), and then
//     may_try(tried, last_error)          due
//     else                                not due: already tried in this flush. It is due again for the next
//                                         flush, so its next_attempt_at (pending) or lease_until (inflight)
//                                         still counts: a time <= now, meaning "at once, in another flush".
//                                         (Left out, a caller that schedules its next flush at
//                                         next_attempt_at could be told null and strand the entry.)
// fifo: per group (ordering == fifo), the first entry that is not due (leased, not yet, or not to be
// tried again in this flush) holds back every later entry of its group, which neither is due nor counts
// for next_attempt_at. independent: each entry on its own.
//
// network_back: the caller learned that the network is back (a page's `online` event). A pending entry
// whose last attempt failed at the network ("network" or "timeout") is then due by the clock whatever its
// next_attempt_at: its backoff only spaced out attempts while the network was down. Delays the server
// asked for (Retry-After, a 5xx or 429 backoff) still hold.
//
// The caller sends a group's due run in order. After an attempt that is not sent (retry, or another
// drainer changed the entry) it must not send the rest of that group from the same plan: it plans again
// (with `tried` counting the attempt), and the failed entry, now pending with a later next_attempt_at or
// already tried in this flush, holds its group back itself. Dead entries hold nothing back. A sent entry
// whose removal has not been written yet is still inflight with a live lease and holds its group back:
// write the removal (or leave the entry out) before planning again.
DuePlan plan_due(std::vector<EntryState> entries, Ordering ordering, std::int64_t now, std::int64_t max_age_ms,
                 bool network_back = false);

// A last error that says the attempt never got an answer from the network: "network" or "timeout".
bool network_failure(std::string_view code);

}  // namespace sealpost::retry
