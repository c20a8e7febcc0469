// The outbox's Wasm exports agree with the native engine: the same pinned schedules (tests/native/retry_test.cpp,
// checked there against an independent computation), Retry-After forms, due plans, request records and streams.
import test from 'node:test';
import assert from 'node:assert/strict';

import { createCore, KeyKind } from '../../js/wasm/loader.js';

const core = await createCore();
const place = { database: 'db', queue: 'q', id: 'entry-1' };

test('Wasm gives the schedule pinned natively for fixed seeds (full and equal jitter)', () => {
  const policy = core.retryPolicy({});
  const equal = core.retryPolicy({ jitter: 'equal' });
  // The core derives an entry's jitter seed from its id: the value of the first 13 hex digits.
  const idOf = (seed) => seed.toString(16).padStart(13, '0') + '0'.repeat(19);
  const delays = (p, seed) => Array.from({ length: 8 }, (_, i) => core.retryDecide({
    policy: p, attempts: i + 1, createdAt: 0, now: 0, id: idOf(seed), outcome: { kind: 'network' },
  }).nextAttemptAt);
  assert.deepEqual(delays(policy, 1), [1491, 3884, 3554, 7108, 24412, 56150, 66952, 73090]);
  assert.deepEqual(delays(policy, 7), [33, 3603, 4663, 7239, 7981, 29948, 41993, 34370]);
  assert.deepEqual(delays(equal, 1), [1745, 3942, 5777, 11554, 28206, 60075, 97476, 164545]);
});

test('Retry-After as delta-seconds and the three HTTP-date forms', () => {
  assert.equal(core.retryAfter('120', 1000), 121000);
  for (const date of ['Sun, 06 Nov 1994 08:49:37 GMT', 'Sunday, 06-Nov-94 08:49:37 GMT', 'Sun Nov  6 08:49:37 1994']) {
    assert.equal(core.retryAfter(date, 0), 784111777000, date);
  }
  assert.equal(core.retryAfter('soon', 0), null);
  const decision = core.retryDecide({ policy: core.retryPolicy({ jitter: 'none' }), attempts: 1, createdAt: 784111700000,
    now: 784111700000, id: '0'.repeat(32), outcome: { kind: 'response', status: 503, retryAfter: 'Sun, 06 Nov 1994 08:49:37 GMT' } });
  assert.deepEqual(decision, { action: 'retry', code: 'http-503', nextAttemptAt: 784111777000 });
});

test('due plans: fifo per group, leases, expiry', () => {
  const entries = [
    { id: 'a1', seq: 1, group: 'a', state: 'pending', nextAttemptAt: 0, leaseUntil: 0, createdAt: 0 },
    { id: 'a2', seq: 2, group: 'a', state: 'pending', nextAttemptAt: 0, leaseUntil: 0, createdAt: 0 },
    { id: 'b1', seq: 3, group: 'b', state: 'inflight', nextAttemptAt: 0, leaseUntil: 500, createdAt: 0 },
    { id: 'b2', seq: 4, group: 'b', state: 'pending', nextAttemptAt: 0, leaseUntil: 0, createdAt: 0 },
    { id: 'c1', seq: 5, group: 'c', state: 'pending', nextAttemptAt: 0, leaseUntil: 0, createdAt: -5000 },
  ];
  assert.deepEqual(core.retryPlan({ ordering: 'fifo', now: 100, maxAgeMs: 1000, entries }),
    { due: ['a1', 'a2'], expired: ['c1'], nextAttemptAt: 500 });
  assert.deepEqual(core.retryPlan({ ordering: 'independent', now: 100, maxAgeMs: 1000, entries }).due, ['a1', 'a2', 'b2']);
  assert.throws(() => core.retryPlan({ ordering: 'lifo', now: 0, maxAgeMs: 1, entries: [] }), (e) => e.code === 'invalid-argument');
});

test('request records round-trip every field; a bad field is invalid-request naming it', () => {
  const key = core.keyGenerate(KeyKind.symmetric);
  const fields = { method: 'POST', url: 'https://a.test/x', headers: [['a', '1'], ['b', '2']], credentials: 'include',
    mode: 'cors', cache: 'no-store', redirect: 'manual', referrer: 'https://a.test/', referrerPolicy: 'origin',
    integrity: '', keepalive: true, metadata: { n: 1, s: 'x', list: [true, null] } };
  const body = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff);
  const sealed = core.requestSeal(key, place, fields, body);
  const opened = core.requestOpen(key, place, sealed);
  assert.deepEqual(opened.fields, fields);
  assert.deepEqual(opened.body, body);
  assert.throws(() => core.requestOpen(key, { ...place, queue: 'other' }, sealed), (e) => e.code === 'record-tampered');
  for (const [bad, field] of [[{ url: 'x' }, 'method'], [{ method: 'POST', url: '' }, 'url'],
    [{ method: 'POST', url: 'u', redirect: 'x' }, 'redirect']]) {
    assert.throws(() => core.requestSeal(key, place, bad), (e) => e.code === 'invalid-request' && e.field === field);
  }
  core.keyRelease(key);
});

test('request metadata keeps every number and string through the module (its strtod and snprintf)', () => {
  const key = core.keyGenerate(KeyKind.symmetric);
  // Numbers the module's JSON parser converts through strtod (fractions, exponents, integers beyond 64
  // bits) and strings it writes with \u escapes (control characters): they come back as JSON.parse reads them.
  const numbers = [0.1, -0.5, 1.5e300, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 123.456e-7,
    0.30000000000000004, -1e-7, 9007199254740993, 18446744073709551616, -9223372036854775809, 1e21, 3];
  const text = ['\u0000\u0001\u001f\u007f', 'tab\tnew\nline', 'é€𝄞', '"\\'];
  const fields = { method: 'POST', url: 'https://a.test/x', metadata: { numbers, text } };
  const opened = core.requestOpen(key, place, core.requestSeal(key, place, fields));
  assert.deepEqual(opened.fields.metadata, { numbers, text });
  core.keyRelease(key);
});

test('chunk streams open only in order, in place, and to the end', () => {
  const key = core.keyGenerate(KeyKind.symmetric);
  const { stream, header } = core.streamSealInit(key, place);
  const chunks = [0, 1, 2].map((i) => core.streamSealPush(stream, new Uint8Array(1000).fill(i), i === 2));
  core.streamRelease(stream);
  const open = (order, where = place) => {
    const opener = core.streamOpenInit(key, where, header);
    try {
      return order.map((i) => core.streamOpenPull(opener, chunks[i]));
    } finally {
      core.streamRelease(opener);
    }
  };
  const all = open([0, 1, 2]);
  assert.deepEqual(all.map((c) => [c.plain[0], c.final]), [[0, false], [1, false], [2, true]]);
  assert.throws(() => open([1]), (e) => e.code === 'record-tampered');
  assert.throws(() => open([0, 2]), (e) => e.code === 'record-tampered');
  assert.throws(() => open([0], { ...place, id: 'entry-2' }), (e) => e.code === 'record-tampered');
  core.keyRelease(key);
});
