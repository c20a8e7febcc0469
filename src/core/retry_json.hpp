// The retry engine's JSON boundary (src/core/retry.hpp behind it): text in, JSON text out. The Wasm
// exports sp_retry_policy, sp_retry_decide and sp_retry_plan (src/wasm/exports_outbox.cpp) are thin
// wrappers around these functions; js/wasm.js (retryPolicy, retryDecide, retryPlan) is their caller.
//
// Numbers. A time (ms: now, createdAt, nextAttemptAt, leaseUntil) is any JSON number within
// ±(2^53 - 1), a fraction truncated toward zero (a clock may give fractional milliseconds). A count or
// code (attempts, status, seq, maxAgeMs) is a whole number (1e3 and 3.0 are whole) within its range.
// Anything else (a string, a fraction where a whole number is needed, 1e300, 2^64) is malformed.
// "Optional" fields may be missing or null; a present field of the wrong type is malformed. Fields not
// named here are ignored.
//
// policy(in)  in: a retry policy (JSON object or null; retry.hpp lists its options)
//   ok              out = the complete policy, defaults filled in, e.g.
//                   {"baseDelayMs":2000,"factor":2.0,"honorRetryAfter":true,"jitter":"full","maxAgeMs":604800000,
//                    "maxAttempts":12,"maxDelayMs":3600000,"requestTimeoutMs":30000,"retryOn":[408,...]}
//   invalid_policy  field = the offending option ("factor", "retryOn[2]", "retry" for a non-object)
//   invalid_json    field = "retry" (the text is not JSON)
//
// decide(in)  one attempt's outcome. in: a JSON object
//   policy         required  a policy as above (null: the defaults); one policy() refuses is malformed
//   attempts       required  whole, 1 .. 2^31-1: attempts made so far, this one included
//   createdAt      required  time the entry was queued
//   now            required  time the outcome was known
//   id             required  string: the entry id (32 lowercase hex digits); the jitter seed is the value of
//                            its first 13 hex digits (retry::jitter_seed). Shorter than 13 characters, or
//                            any character not a hex digit: malformed. (Replaces the former "seed".)
//   previousError  optional  string: the entry's last error code ("" or null: none)
//   canRefresh     optional  boolean: a beforeReplay hook exists (default false)
//   outcome        required  object:
//     kind         required  "network" | "timeout" | "response"
//     status       response  whole, 0 .. 999 (ignored for network and timeout)
//     retryAfter   optional  string: the Retry-After header ("" or null: none)
//   ok: out = {"action":"sent"|"retry"|"dead","code":string,"nextAttemptAt":n}, nextAttemptAt only for retry.
//   invalid_argument: anything else.
//
// plan(in)  what is due. in: a JSON object
//   ordering       required  "fifo" | "independent"
//   now            required  time
//   maxAgeMs       required  whole, 1 .. 2^53-1
//   entries        required  array of objects, ids unique:
//     id           required  non-empty string
//     seq          required  whole, ±(2^53-1): queue order
//     group        optional  string (default "")
//     state        required  "pending" | "inflight" | "dead"
//     nextAttemptAt optional time (default 0)
//     leaseUntil   optional  time (default 0)
//     createdAt    required  time
//     lastError    optional  string: the entry's last error code ("" or null: none)
//   tried          optional  object {id: count}: attempts already made on each id in the current flush,
//                            count whole, 0 .. 2^53-1; an id not listed: 0; ids not in entries: ignored
//   ok: out = {"due":[id],"expired":[id],"nextAttemptAt":n|null} (retry::plan_due):
//     due            ids to send now, in seq order. An entry already tried in this flush is not due,
//                    except a second time when its first attempt here ended "http-401"/"http-403" (the
//                    immediate retry after beforeReplay); under fifo it holds back the rest of its group.
//     expired        ids to dead-letter ("expired")
//     nextAttemptAt  the earliest time an entry that is not due becomes due, null if none; <= now when an
//                    entry is held back only because it was tried in this flush (due in the next flush).
//   After an attempt that is not sent, plan again (with tried) before sending more of that group.
//   invalid_argument: anything else.
#pragma once

#include <string>

#include "core/bytes.hpp"
#include "core/status.hpp"

namespace sealpost::retry_json {

Status policy(ByteView in, std::string& out, std::string& field);
Status decide(ByteView in, std::string& out);
Status plan(ByteView in, std::string& out);

}  // namespace sealpost::retry_json
