// The outbox against fake-indexeddb and a real loopback HTTP server: delivery, retries, ordering,
// idempotency, events, limits and the API around them.
import test from 'node:test';
import assert from 'node:assert/strict';

import { SealpostError } from '../../js/errors.js';
import { Outbox as IndexOutbox } from '../../js/index.js';
import { startServer } from './loopback-server.js';
import { prng } from './helpers.js';
import { Outbox, drain, manualClock, openOutbox } from './outbox-support.js';

test('the package entry point exports Outbox', () => {
  assert.equal(IndexOutbox, Outbox);
});

test('a queued request is replayed with its method, headers, binary body and idempotency key', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const { outbox } = await openOutbox();
  t.after(() => outbox.close());
  const body = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff);
  const { id } = await outbox.enqueue({
    url: `${server.url}/api/notes?x=1`, method: 'PATCH', body,
    headers: { 'content-type': 'application/octet-stream', authorization: 'Bearer s3cret', 'x-note': 'a b' },
  });
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(await outbox.size(), 1);
  const drained = [];
  outbox.addEventListener('drained', (event) => drained.push(event.detail));
  const result = await outbox.flush();
  assert.deepEqual(result, { sent: 1, retrying: 0, dead: 0, remaining: 0, nextAttemptAt: null });
  assert.deepEqual(drained, [{ queue: 'notes', sent: 1, dead: 0 }]);
  await outbox.flush();
  assert.equal(drained.length, 1, 'an empty queue does not announce itself again');
  const got = server.accepted.get(id);
  assert.ok(got, 'accepted under its idempotency key');
  assert.equal(got.method, 'PATCH');
  assert.equal(got.url, '/api/notes?x=1');
  assert.equal(got.headers.authorization, 'Bearer s3cret');
  assert.equal(got.headers['x-note'], 'a b');
  assert.equal(got.headers['content-type'], 'application/octet-stream');
  assert.deepEqual(new Uint8Array(got.body), body);
  assert.equal(await outbox.size(), 0);
});

test("a key the app put on the request is the key of every attempt; an entry id otherwise", async (t) => {
  const server = await startServer((req, n) => (n === 0 ? { status: 503 } : 'ok'));
  t.after(() => server.close());
  // A beforeReplay that builds a new request without the header does not lose the key either.
  const beforeReplay = (request) => new Request(request.url, { method: request.method, body: 'x' });
  const { outbox, clock } = await openOutbox({ retry: { baseDelayMs: 1, jitter: 'none' }, beforeReplay });
  t.after(() => outbox.close());
  const { id } = await outbox.enqueue({ url: `${server.url}/own`, method: 'POST', body: 'x',
    headers: { 'Idempotency-Key': 'app-key-7' } });
  const keys = [];
  const fetchAndLog = (request) => { keys.push(request.headers.get('idempotency-key')); return fetch(request); };
  await drain(outbox, clock, { fetch: fetchAndLog });
  assert.deepEqual(keys, ['app-key-7', 'app-key-7'], 'the 503 and the retry carried the app key');
  assert.ok(server.accepted.get('app-key-7'));
  assert.equal(server.accepted.get(id), undefined);
  assert.equal(await outbox.size(), 0);
});

test('request(id) gives the queued request decrypted, as a replay sends it; null once it is gone', async (t) => {
  const { outbox } = await openOutbox();
  t.after(() => outbox.close());
  const { id } = await outbox.enqueue({ url: 'https://app.example/api/notes', method: 'PUT', body: 'kingfisher',
    headers: { 'x-note': '1' } });
  const request = await outbox.request(id);
  assert.equal(request.method, 'PUT');
  assert.equal(request.url, 'https://app.example/api/notes');
  assert.equal(request.headers.get('x-note'), '1');
  assert.equal(request.headers.get('idempotency-key'), id);
  assert.equal(await request.text(), 'kingfisher');
  const entry = await outbox.entry(id);
  assert.deepEqual([entry.id, entry.method, entry.url, entry.state], [id, 'PUT', 'https://app.example/api/notes', 'pending']);
  await outbox.discard(id);
  assert.equal(await outbox.request(id), null);
  assert.equal(await outbox.entry(id), null);
  await assert.rejects(outbox.request(7), (e) => e.code === 'invalid-argument');
});

test('a Request object is queued from a clone and stays usable', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const { outbox } = await openOutbox();
  t.after(() => outbox.close());
  const request = new Request(`${server.url}/r`, { method: 'POST', body: 'hello', headers: { 'x-a': '1' } });
  const { id } = await outbox.enqueue(request);
  assert.equal(request.bodyUsed, false);
  assert.equal(await request.text(), 'hello');
  await outbox.flush();
  assert.equal(server.accepted.get(id).body.toString(), 'hello');
  assert.equal(server.accepted.get(id).headers['content-type'], 'text/plain;charset=UTF-8');
});

test('events: enqueued, retry-scheduled, sent, dead-lettered, drained — ids and codes, never plaintext', async (t) => {
  const server = await startServer((req) => (req.url === '/503' ? { status: 503, retryAfter: 7 }
    : req.url === '/400' ? { status: 400 } : 'ok'));
  t.after(() => server.close());
  const { outbox, clock } = await openOutbox({ ordering: 'independent' });
  t.after(() => outbox.close());
  const events = [];
  for (const type of ['enqueued', 'retry-scheduled', 'sent', 'dead-lettered', 'drained']) {
    outbox.addEventListener(type, (event) => events.push([type, event.detail]));
  }
  const a = await outbox.enqueue({ url: `${server.url}/503`, method: 'POST', body: 'secret-a' });
  const b = await outbox.enqueue({ url: `${server.url}/400`, method: 'POST', body: 'secret-b' });
  const c = await outbox.enqueue({ url: `${server.url}/ok`, method: 'POST', body: 'secret-c' });
  const first = await outbox.flush();
  assert.equal(first.sent, 1);
  assert.equal(first.retrying, 1);
  assert.equal(first.dead, 1);
  assert.equal(first.remaining, 1);
  assert.equal(first.nextAttemptAt, clock.t + 7000, 'Retry-After: 7 is a floor over the 2 s backoff');
  const byType = (type) => events.filter(([t2]) => t2 === type).map(([, d]) => d);
  assert.deepEqual(byType('enqueued').map((d) => d.id), [a.id, b.id, c.id]);
  assert.deepEqual(byType('sent').map((d) => d.id), [c.id]);
  assert.deepEqual(byType('retry-scheduled').map((d) => [d.id, d.code, d.nextAttemptAt]),
    [[a.id, 'http-503', clock.t + 7000]]);
  assert.deepEqual(byType('dead-lettered').map((d) => [d.id, d.code]), [[b.id, 'http-400']]);
  assert.equal(byType('drained').length, 0);
  assert.doesNotMatch(JSON.stringify(events), /secret|127\.0\.0\.1/);

  const dead = await outbox.deadLetters();
  assert.deepEqual(dead.map((d) => [d.id, d.state, d.lastError, d.method]), [[b.id, 'dead', 'http-400', 'POST']]);
  clock.advance(7000);
  server.accepted.clear();
  await outbox.discard(b.id);
  const second = await outbox.flush();
  assert.equal(second.remaining, 1, 'still 503');
  assert.equal(await outbox.size(), 1);
});

test('flush never starts an attempt after its deadline and never sleeps', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const { outbox, clock } = await openOutbox();
  t.after(() => outbox.close());
  for (let i = 0; i < 3; i += 1) await outbox.enqueue({ url: `${server.url}/n${i}`, method: 'POST', body: `${i}` });
  const none = await outbox.flush({ deadline: clock.t });
  assert.deepEqual(none, { sent: 0, retrying: 0, dead: 0, remaining: 3, nextAttemptAt: clock.t });
  assert.equal(server.count, 0);
  // A fetch that moves the clock: the deadline falls after the second attempt.
  const fetchAndTick = async (request, init) => {
    clock.advance(1000);
    return fetch(request, init);
  };
  const partial = await outbox.flush({ deadline: clock.t + 1500, fetch: fetchAndTick });
  assert.equal(partial.sent, 2);
  assert.equal(partial.remaining, 1);
});

test('401 gets one more attempt after beforeReplay refreshes the Authorization header', async (t) => {
  const server = await startServer((req) => (req.headers.authorization === 'Bearer fresh' ? 'ok' : { status: 401 }));
  t.after(() => server.close());
  const seen = [];
  const { outbox } = await openOutbox({
    beforeReplay: async (request, entry) => {
      seen.push([entry.id, entry.attempts, entry.lastError]);
      if (entry.lastError !== 'http-401') return request;
      const headers = new Headers(request.headers);
      headers.set('authorization', 'Bearer fresh');
      return new Request(request, { headers });
    },
  });
  t.after(() => outbox.close());
  const { id } = await outbox.enqueue({ url: `${server.url}/a`, method: 'POST', body: 'x',
    headers: { authorization: 'Bearer stale' } });
  const result = await outbox.flush();
  assert.equal(result.sent, 1);
  assert.deepEqual(seen, [[id, 1, null], [id, 2, 'http-401']]);
  assert.equal(server.accepted.get(id).headers['idempotency-key'], id);
});

test('without beforeReplay a 403 is dead at once; idempotencyHeader: null sends no key', async (t) => {
  const server = await startServer((req) => (req.url === '/forbidden' ? { status: 403 } : 'ok'));
  t.after(() => server.close());
  const { outbox } = await openOutbox({ idempotencyHeader: null, ordering: 'independent' });
  t.after(() => outbox.close());
  await outbox.enqueue({ url: `${server.url}/forbidden`, method: 'DELETE' });
  await outbox.enqueue({ url: `${server.url}/fine`, method: 'DELETE' });
  const result = await outbox.flush();
  assert.equal(result.dead, 1);
  assert.equal(result.sent, 1);
  assert.equal(server.requests.find((r) => r.url === '/fine').key, null);
});

test('500 entries against 503+Retry-After, 429, dropped connections and lost answers: each accepted exactly once, FIFO per group', async (t) => {
  const random = prng(20261125);
  const script = () => {
    const roll = random();
    if (roll < 0.10) return { status: 503, retryAfter: 1 + Math.floor(random() * 3) };
    if (roll < 0.15) return { status: 429 };
    if (roll < 0.20) return 'drop';
    if (roll < 0.25) return 'lose-answer';
    return 'ok';
  };
  const server = await startServer(script);
  t.after(() => server.close());
  const { outbox, clock } = await openOutbox({
    retry: { baseDelayMs: 100, maxDelayMs: 2000, maxAttempts: 100, requestTimeoutMs: 5000 },
  });
  t.after(() => outbox.close());
  const groups = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  const ids = [];
  for (let i = 0; i < 500; i += 1) {
    const group = groups[i % groups.length];
    const { id } = await outbox.enqueue(
      { url: `${server.url}/api/${group}`, method: 'POST', body: JSON.stringify({ group, i }) }, { group });
    ids.push(id);
  }
  const totals = await drain(outbox, clock);
  assert.equal(totals.sent, 500);
  assert.equal(totals.dead, 0);
  assert.equal(server.accepted.size, 500, 'every entry accepted exactly once');
  for (const id of ids) assert.ok(server.accepted.has(id));
  const duplicates = server.requests.filter((r, i, all) => all.findIndex((o) => o.key === r.key) !== i).length;
  assert.ok(totals.retrying > 50, `the server's failures caused retries (${totals.retrying})`);
  assert.ok(duplicates > 0, 'lost answers made the outbox resend some accepted writes');
  const accepted = server.order.map((key) => JSON.parse(server.accepted.get(key).body));
  for (const group of groups) {
    const sequence = accepted.filter((a) => a.group === group).map((a) => a.i);
    assert.deepEqual(sequence, [...sequence].sort((x, y) => x - y), `${group} accepted in order`);
    assert.equal(sequence.length, 100);
  }
});

test("ordering: 'independent' — a poisoned entry does not hold back the rest; with 'fifo' it holds its group", async (t) => {
  const server = await startServer((req) => (req.url === '/poison' ? { status: 503 } : 'ok'));
  t.after(() => server.close());
  for (const ordering of ['independent', 'fifo']) {
    const { outbox } = await openOutbox({ ordering, retry: { maxAttempts: 50 } });
    await outbox.enqueue({ url: `${server.url}/poison`, method: 'POST', body: 'p' });
    for (let i = 0; i < 5; i += 1) await outbox.enqueue({ url: `${server.url}/ok${i}`, method: 'POST', body: `${i}` });
    await outbox.enqueue({ url: `${server.url}/other`, method: 'POST', body: 'o' }, { group: 'other' });
    const result = await outbox.flush();
    if (ordering === 'independent') {
      assert.equal(result.sent, 6);
      assert.equal(result.remaining, 1);
    } else {
      assert.equal(result.sent, 1, 'only the other group moves');
      assert.equal(result.remaining, 6);
    }
    outbox.close();
  }
});

test('maxAttempts and maxAgeMs dead-letter an entry as max-attempts / expired', async (t) => {
  const server = await startServer(() => ({ status: 503 }));
  t.after(() => server.close());
  const { outbox, clock } = await openOutbox({ retry: { maxAttempts: 3, jitter: 'none', baseDelayMs: 1000 } });
  t.after(() => outbox.close());
  const { id } = await outbox.enqueue({ url: `${server.url}/x`, method: 'POST' });
  const times = [];
  outbox.addEventListener('retry-scheduled', (e) => times.push(e.detail.nextAttemptAt - clock.t));
  await drain(outbox, clock);
  assert.deepEqual(times, [1000, 2000], 'the schedule without jitter is exact');
  const [dead] = await outbox.deadLetters();
  assert.deepEqual([dead.id, dead.lastError, dead.attempts], [id, 'max-attempts', 3]);
  assert.equal(await outbox.requeue(id), true);
  assert.equal((await outbox.list())[0].state, 'pending');

  const aged = await openOutbox({ retry: { maxAgeMs: 10000, maxAttempts: 100, jitter: 'none', baseDelayMs: 4000 } });
  t.after(() => aged.outbox.close());
  await aged.outbox.enqueue({ url: `${server.url}/y`, method: 'POST' });
  await drain(aged.outbox, aged.clock);
  const [expired] = await aged.outbox.deadLetters();
  assert.equal(expired.lastError, 'expired');
});

test('a request that exceeds requestTimeoutMs is aborted and retried as timeout', async (t) => {
  const server = await startServer((req, n) => (n === 0 ? 'hang' : 'ok'));
  t.after(() => server.close());
  const { outbox, clock } = await openOutbox({ retry: { requestTimeoutMs: 200 } });
  t.after(() => outbox.close());
  const codes = [];
  outbox.addEventListener('retry-scheduled', (e) => codes.push(e.detail.code));
  const { id } = await outbox.enqueue({ url: `${server.url}/slow`, method: 'POST', body: 'z' });
  await drain(outbox, clock);
  assert.deepEqual(codes, ['timeout']);
  assert.ok(server.accepted.has(id));
});

test('flush({networkBack}): entries backed off after a network failure are due at once; server-set delays still hold', async (t) => {
  // Group a: its first attempt's connection drops. Group b: the server answers 503 with Retry-After: 600.
  const server = await startServer((req, n) => (n === 0 ? 'drop' : n === 1 ? { status: 503, retryAfter: 600 } : 'ok'));
  t.after(() => server.close());
  const { outbox, clock } = await openOutbox({ retry: { jitter: 'none', baseDelayMs: 60000 } });
  t.after(() => outbox.close());
  const a = await outbox.enqueue({ url: `${server.url}/a`, method: 'POST', body: 'a' }, { group: 'a' });
  const b = await outbox.enqueue({ url: `${server.url}/b`, method: 'POST', body: 'b' }, { group: 'b' });
  const first = await outbox.flush();
  assert.deepEqual([first.sent, first.retrying], [0, 2]);
  clock.t += 1000;
  const plain = await outbox.flush();
  assert.deepEqual([plain.sent, plain.retrying, plain.remaining], [0, 0, 2], 'a plain flush waits out both delays');
  const back = await outbox.flush({ networkBack: true });
  assert.deepEqual([back.sent, back.remaining], [1, 1], 'the network failure is due, the server\'s Retry-After is not');
  assert.ok(server.accepted.has(a.id));
  assert.ok(!server.accepted.has(b.id));
  assert.equal((await outbox.list())[0].lastError, 'http-503');
});

test('maxEntries and maxBytes reject only the new entry with quota', async (t) => {
  const { outbox } = await openOutbox({ maxEntries: 2, maxBytes: 100000 });
  t.after(() => outbox.close());
  await outbox.enqueue({ url: 'http://127.0.0.1:9/a', method: 'POST', body: 'a' });
  await outbox.enqueue({ url: 'http://127.0.0.1:9/b', method: 'POST', body: 'b' });
  await assert.rejects(outbox.enqueue({ url: 'http://127.0.0.1:9/c', method: 'POST', body: 'c' }),
    (e) => e instanceof SealpostError && e.code === 'quota');
  assert.equal(await outbox.size(), 2);
  const bytes = await openOutbox({ maxBytes: 2000 });
  t.after(() => bytes.outbox.close());
  await bytes.outbox.enqueue({ url: 'http://127.0.0.1:9/a', method: 'POST', body: 'x'.repeat(1000) });
  await assert.rejects(bytes.outbox.enqueue({ url: 'http://127.0.0.1:9/b', method: 'POST', body: 'y'.repeat(1000) }),
    (e) => e.code === 'quota');
  assert.equal(await bytes.outbox.size(), 1);
  await bytes.outbox.enqueue({ url: 'http://127.0.0.1:9/b', method: 'POST', body: 'y' });
  assert.equal(await bytes.outbox.size(), 2);
});

test("IndexedDB's QuotaExceededError rejects the new entry as storage-full and touches nothing", async (t) => {
  const { outbox, indexedDB } = await openOutbox();
  t.after(() => outbox.close());
  await outbox.enqueue({ url: 'http://127.0.0.1:9/a', method: 'POST', body: 'a' });
  // Make the next write to the records store fail the way a full disk does.
  const proto = Object.getPrototypeOf(outbox.store.db.transaction('records', 'readwrite').objectStore('records'));
  const add = proto.add;
  proto.add = function addFull(...args) {
    if (this.name === 'records') throw new DOMException('the disk is full', 'QuotaExceededError');
    return add.apply(this, args);
  };
  try {
    await assert.rejects(outbox.enqueue({ url: 'http://127.0.0.1:9/b', method: 'POST', body: 'b' }),
      (e) => e instanceof SealpostError && e.code === 'storage-full');
  } finally {
    proto.add = add;
  }
  assert.equal(await outbox.size(), 1);
  void indexedDB;
  await outbox.enqueue({ url: 'http://127.0.0.1:9/c', method: 'POST', body: 'c' });
  assert.equal(await outbox.size(), 2);
});

test('an attempt whose outcome IndexedDB refuses to store (storage-full) is tried again by the next flush, not after its lease', async (t) => {
  const { outbox } = await openOutbox({ retry: { baseDelayMs: 1000, jitter: 'none' } });
  t.after(() => outbox.close());
  const { id } = await outbox.enqueue({ url: 'http://127.0.0.1:9/a', method: 'POST', body: 'a' });
  // The network fails, and so does the write that schedules the retry (a full disk).
  const proto = Object.getPrototypeOf(outbox.store.db.transaction('entries', 'readwrite').objectStore('entries'));
  const put = proto.put;
  let refuse = false;
  proto.put = function putFull(...args) {
    if (refuse && this.name === 'entries') throw new DOMException('the disk is full', 'QuotaExceededError');
    return put.apply(this, args);
  };
  const failing = async () => {
    refuse = true; // the lease was written; what comes after the attempt is refused
    throw new TypeError('Failed to fetch');
  };
  try {
    await assert.rejects(outbox.flush({ fetch: failing }), (e) => e instanceof SealpostError && e.code === 'storage-full');
  } finally {
    proto.put = put;
  }
  const [row] = await outbox.list();
  assert.equal(row.state, 'inflight', 'the lease stays at rest');
  assert.equal((await outbox.stats()).nextAttemptAt, outbox.now(), 'due now for this outbox, not when the lease expires');
  // Room again: the next flush sends it at once, with the same idempotency key.
  const keys = [];
  const result = await outbox.flush({ fetch: async (request) => { keys.push(request.headers.get('Idempotency-Key')); return new Response(null, { status: 201 }); } });
  assert.equal(result.sent, 1);
  assert.deepEqual(keys, [id]);
  assert.equal(await outbox.size(), 0);
});

test('another context upgrading the database: the connection steps aside, reopens at the newer version, and refuses one without its stores', async (t) => {
  const { outbox, indexedDB } = await openOutbox();
  t.after(() => outbox.close());
  await outbox.enqueue({ url: 'http://127.0.0.1:9/a', method: 'POST', body: 'a' });
  const upgrade = (version, change) => new Promise((resolve, reject) => {
    const req = indexedDB.open('sealpost-outbox', version);
    req.onupgradeneeded = () => change(req.result);
    req.onsuccess = () => { req.result.close(); resolve(); };
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error('blocked by the open outbox'));
  });
  // A newer build adds a store: the outbox closes for it, then goes on at version 2.
  await upgrade(2, (db) => db.createObjectStore('added-in-v2'));
  await outbox.enqueue({ url: 'http://127.0.0.1:9/b', method: 'POST', body: 'b' });
  assert.equal(await outbox.size(), 2);
  // A newer build without a store this one needs: a clear error, and nothing is written.
  await upgrade(3, (db) => db.deleteObjectStore('chunks'));
  await assert.rejects(outbox.enqueue({ url: 'http://127.0.0.1:9/c', method: 'POST', body: 'c' }),
    (e) => e instanceof SealpostError && e.code === 'unsupported-version' && /chunks/.test(e.message));
});

test('bad requests are invalid-request and nothing is queued', async (t) => {
  const { outbox } = await openOutbox();
  t.after(() => outbox.close());
  for (const bad of [null, {}, { url: 42 }, { url: 'not a url' }, { url: 'http://a.test/', method: 'GET', body: 'x' },
    { url: 'http://a.test/', method: 'BAD METHOD' }]) {
    await assert.rejects(outbox.enqueue(bad), (e) => e instanceof SealpostError && e.code === 'invalid-request',
      JSON.stringify(bad));
  }
  await assert.rejects(outbox.enqueue({ url: 'http://a.test/', method: 'POST' }, { group: 5 }),
    (e) => e.code === 'invalid-request' && e.field === 'group');
  await assert.rejects(outbox.enqueue({ url: 'http://a.test/', method: 'POST' }, { metadata: { n: 1n } }),
    (e) => e.code === 'invalid-request' && e.field === 'metadata');
  let deep = [];
  for (let i = 0; i < 2000; i += 1) deep = [deep];
  await assert.rejects(outbox.enqueue({ url: 'http://a.test/', method: 'POST' }, { metadata: deep }),
    (e) => e.code === 'invalid-request' && e.field === 'metadata');
  const failing = new ReadableStream({ pull(controller) { controller.error(new Error('disk gone')); } });
  await assert.rejects(outbox.enqueue(new Request('http://a.test/', { method: 'POST', body: failing, duplex: 'half' })),
    (e) => e.code === 'invalid-request' && e.field === 'body');
  assert.equal(await outbox.size(), 0);
});

test('every bad retry option is invalid-policy naming the field; other bad options are invalid-argument', async () => {
  const cases = [
    [{ baseDelayMs: -1 }, 'baseDelayMs'], [{ baseDelayMs: 1.5 }, 'baseDelayMs'], [{ baseDelayMs: '2000' }, 'baseDelayMs'],
    [{ factor: 0.5 }, 'factor'], [{ factor: 'x' }, 'factor'],
    [{ maxDelayMs: -5 }, 'maxDelayMs'], [{ baseDelayMs: 5000, maxDelayMs: 1000 }, 'maxDelayMs'],
    [{ jitter: 'some' }, 'jitter'], [{ jitter: true }, 'jitter'],
    [{ maxAttempts: 0 }, 'maxAttempts'], [{ maxAttempts: 2.5 }, 'maxAttempts'],
    [{ maxAgeMs: 0 }, 'maxAgeMs'], [{ maxAgeMs: null }, 'maxAgeMs'],
    [{ retryOn: 503 }, 'retryOn'], [{ retryOn: [503, 200] }, 'retryOn[1]'], [{ retryOn: ['503'] }, 'retryOn[0]'],
    [{ honorRetryAfter: 'yes' }, 'honorRetryAfter'],
    [{ requestTimeoutMs: 0 }, 'requestTimeoutMs'], [{ requestTimeoutMs: Infinity }, 'requestTimeoutMs'],
    [{ retries: 3 }, 'retries'], ['fast', 'retry'], [[1], 'retry'],
  ];
  for (const [retry, field] of cases) {
    await assert.rejects(openOutbox({ retry }), (e) => {
      assert.ok(e instanceof SealpostError, `${JSON.stringify(retry)} threw ${e}`);
      assert.equal(e.code, 'invalid-policy', JSON.stringify(retry));
      assert.equal(e.field, field, JSON.stringify(retry));
      assert.match(e.message, new RegExp(field.replace(/[[\]]/g, '\\$&')));
      return true;
    });
  }
  for (const [options, field] of [[{ name: '' }, 'name'], [{ ordering: 'lifo' }, 'ordering'],
    [{ maxEntries: 0 }, 'maxEntries'], [{ maxBytes: -1 }, 'maxBytes'], [{ idempotencyHeader: 'a b' }, 'idempotencyHeader'],
    [{ beforeReplay: 'x' }, 'beforeReplay']]) {
    await assert.rejects(openOutbox(options), (e) => e.code === 'invalid-argument' && e.field === field, field);
  }
});

test('list() gives metadata, method and URL, never headers or bodies; requeue and discard', async (t) => {
  const { outbox } = await openOutbox();
  t.after(() => outbox.close());
  const { id } = await outbox.enqueue({ url: 'http://127.0.0.1:9/n', method: 'POST', body: 'body-bytes',
    headers: { authorization: 'Bearer hidden' } }, { metadata: { title: 'Note 1' }, group: 'g' });
  const [item] = await outbox.list();
  assert.equal(item.id, id);
  assert.equal(item.method, 'POST');
  assert.equal(item.url, 'http://127.0.0.1:9/n');
  assert.deepEqual(item.metadata, { title: 'Note 1' });
  assert.doesNotMatch(JSON.stringify(item), /hidden|body-bytes/);
  assert.equal(await outbox.requeue(id), false, 'only dead letters are requeued');
  assert.equal(await outbox.discard(id), true);
  assert.equal(await outbox.discard(id), false);
  assert.deepEqual(await outbox.list(), []);
});

test('a closed outbox refuses calls with closed', async () => {
  const { outbox } = await openOutbox();
  outbox.close();
  await assert.rejects(outbox.size(), (e) => e.code === 'closed');
  await assert.rejects(outbox.flush(), (e) => e.code === 'closed');
});

test('one drainer at a time: a second flush while one runs is busy; Web Locks are used where present', async (t) => {
  const server = await startServer((req, n) => (n === 0 ? 'hang' : 'ok'));
  t.after(() => server.close());
  const indexedDB = (await import('./outbox-support.js')).IDBFactory;
  const shared = new indexedDB();
  const clock = manualClock();
  const a = await openOutbox({ indexedDB: shared, clock, retry: { requestTimeoutMs: 300 } });
  const b = await openOutbox({ indexedDB: shared, clock, keyStore: undefined });
  t.after(() => { a.outbox.close(); b.outbox.close(); });
  await a.outbox.enqueue({ url: `${server.url}/x`, method: 'POST', body: '1' });
  const running = a.outbox.flush();
  while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  const second = await b.outbox.flush();
  assert.equal(second.busy, true);
  assert.equal(second.sent, 0);
  await running;

  // With a LockManager, the lock decides (ifAvailable).
  const requests = [];
  const locks = { request: (name, options, fn) => { requests.push([name, options]); return fn(null); } };
  const c = await openOutbox({ locks });
  t.after(() => c.outbox.close());
  await c.outbox.enqueue({ url: `${server.url}/y`, method: 'POST', body: '2' });
  const busy = await c.outbox.flush();
  assert.equal(busy.busy, true);
  assert.deepEqual(requests, [['sealpost:sealpost-outbox:notes', { ifAvailable: true }]]);
});

test('Outbox.open rejects a missing IndexedDB with invalid-argument', async () => {
  await assert.rejects(Outbox.open({ name: 'x', indexedDB: null, broadcast: false }),
    (e) => e instanceof SealpostError && e.code === 'invalid-argument');
});

test('two flushes of one instance at once: the second is busy and nothing is sent twice', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const { outbox } = await openOutbox();
  t.after(() => outbox.close());
  for (let i = 0; i < 5; i += 1) await outbox.enqueue({ url: `${server.url}/${i}`, method: 'POST', body: `${i}` });
  const [x, y] = await Promise.all([outbox.flush(), outbox.flush()]);
  assert.equal(x.sent + y.sent, 5);
  assert.equal(y.busy, true);
  assert.equal(server.requests.length, 5);
});

test('a key store with only load, store and destroy (the minimal interface) works, destroy included', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const keys = new Map();
  let destroyed = 0;
  const keyStore = {
    async load(purpose) { return keys.has(purpose) ? keys.get(purpose).slice() : null; },
    async store(purpose, bytes) { keys.set(purpose, bytes.slice()); },
    async destroy() { destroyed += 1; keys.clear(); },
  };
  const { outbox } = await openOutbox({ keyStore });
  assert.equal(keys.size, 2, 'a data key and a group-tag key');
  const { id } = await outbox.enqueue({ url: `${server.url}/m`, method: 'POST', body: 'minimal' });
  await outbox.flush();
  assert.equal(server.accepted.get(id).body.toString(), 'minimal');
  await outbox.destroy();
  assert.equal(destroyed, 1);
  assert.equal(keys.size, 0);
  await assert.rejects(openOutbox({ keyStore: { load() {} } }), (e) => e.code === 'invalid-argument' && e.field === 'keyStore');
});

test('fifo: an entry due again within the same flush still holds back the rest of its group', async (t) => {
  // A zero delay makes a failed entry due at once; it waits for the next flush, and so does its group.
  const server = await startServer((req, n) => (n === 0 ? { status: 503 } : 'ok'));
  t.after(() => server.close());
  const { outbox } = await openOutbox({ retry: { baseDelayMs: 0, maxDelayMs: 0 } });
  t.after(() => outbox.close());
  const first = await outbox.enqueue({ url: `${server.url}/first`, method: 'POST', body: '1' });
  const second = await outbox.enqueue({ url: `${server.url}/second`, method: 'POST', body: '2' });
  const once = await outbox.flush();
  assert.deepEqual([once.sent, once.retrying, once.remaining], [0, 1, 2]);
  assert.deepEqual(server.requests.map((r) => r.key), [first.id]);
  const again = await outbox.flush();
  assert.equal(again.sent, 2);
  assert.deepEqual(server.order, [first.id, second.id]);
});

test('stats() counts states; events also reach BroadcastChannel("sealpost") without plaintext', async (t) => {
  const server = await startServer((req) => (req.url === '/bad' ? { status: 400 } : { status: 503 }));
  t.after(() => server.close());
  const listener = new BroadcastChannel('sealpost');
  const messages = [];
  listener.onmessage = (event) => messages.push(event.data);
  t.after(() => listener.close());
  const { outbox, clock } = await openOutbox({ broadcast: true, ordering: 'independent', retry: { jitter: 'none' } });
  t.after(() => outbox.close());
  assert.deepEqual(await outbox.stats(), { pending: 0, inflight: 0, dead: 0, nextAttemptAt: null });
  const bad = await outbox.enqueue({ url: `${server.url}/bad`, method: 'POST', body: 'broadcast-secret' });
  await outbox.enqueue({ url: `${server.url}/later`, method: 'POST', body: 'x' });
  assert.deepEqual(await outbox.stats(), { pending: 2, inflight: 0, dead: 0, nextAttemptAt: clock.t });
  await outbox.flush();
  assert.deepEqual(await outbox.stats(), { pending: 1, inflight: 0, dead: 1, nextAttemptAt: clock.t + 2000 });
  for (let i = 0; i < 20 && messages.length < 4; i += 1) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(messages.map((m) => m.type).sort(),
    ['sealpost:dead-lettered', 'sealpost:enqueued', 'sealpost:enqueued', 'sealpost:retry-scheduled']);
  assert.ok(messages.every((m) => m.queue === 'notes'));
  assert.equal(messages.find((m) => m.type === 'sealpost:dead-lettered').id, bad.id);
  assert.doesNotMatch(JSON.stringify(messages), /broadcast-secret|127\.0\.0\.1/);
});

test('a flush aborted by its signal stops; the attempt in progress counts and is retried later', async (t) => {
  const server = await startServer((req, n) => (n === 0 ? 'hang' : 'ok'));
  t.after(() => server.close());
  const { outbox, clock } = await openOutbox();
  t.after(() => outbox.close());
  const a = await outbox.enqueue({ url: `${server.url}/a`, method: 'POST', body: 'a' });
  await outbox.enqueue({ url: `${server.url}/b`, method: 'POST', body: 'b' });
  const controller = new AbortController();
  const flushing = outbox.flush({ signal: controller.signal });
  while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  const result = await flushing;
  assert.deepEqual([result.sent, result.retrying, result.remaining], [0, 1, 2]);
  const [first] = await outbox.list();
  assert.deepEqual([first.id, first.state, first.attempts, first.lastError], [a.id, 'pending', 1, 'network']);
  const stopped = await outbox.flush({ signal: AbortSignal.abort() });
  assert.equal(stopped.sent, 0, 'an aborted signal starts nothing');
  clock.advance(3600000);
  const later = await outbox.flush();
  assert.equal(later.sent, 2);
});

test('a beforeReplay that throws counts as a failed attempt (network) and nothing is sent', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  let calls = 0;
  const { outbox, clock } = await openOutbox({
    beforeReplay: (request) => {
      calls += 1;
      if (calls === 1) throw new Error('token refresh failed');
      return request;
    },
  });
  t.after(() => outbox.close());
  const { id } = await outbox.enqueue({ url: `${server.url}/x`, method: 'POST', body: 'x' });
  const first = await outbox.flush();
  assert.deepEqual([first.sent, first.retrying], [0, 1]);
  assert.equal(server.requests.length, 0);
  assert.equal((await outbox.list())[0].lastError, 'network');
  clock.advance(3600000);
  await outbox.flush();
  assert.ok(server.accepted.has(id));
});

test('request fidelity: credentials, mode (navigate → same-origin), cache, redirect, referrer policy, integrity, keepalive', async (t) => {
  const seen = [];
  const fetchSpy = async (request) => {
    seen.push(request);
    return new Response(null, { status: 204 });
  };
  const { outbox } = await openOutbox({ fetch: fetchSpy });
  t.after(() => outbox.close());
  const init = {
    url: 'https://app.example.test/api/items/7', method: 'PUT', body: new Uint8Array([0, 255, 1, 254]),
    headers: { 'content-type': 'application/octet-stream', 'x-trace': 't-1' },
    credentials: 'include', mode: 'navigate', cache: 'no-store', redirect: 'manual',
    referrerPolicy: 'no-referrer', integrity: 'sha256-abc', keepalive: true,
  };
  const { id } = await outbox.enqueue(init);
  const result = await outbox.flush();
  assert.equal(result.sent, 1, '204 is success');
  const [request] = seen;
  assert.equal(request.url, init.url);
  assert.equal(request.method, 'PUT');
  assert.equal(request.credentials, 'include');
  assert.equal(request.mode, 'same-origin');
  assert.equal(request.cache, 'no-store');
  assert.equal(request.redirect, 'manual');
  assert.equal(request.referrerPolicy, 'no-referrer');
  assert.equal(request.integrity, 'sha256-abc');
  assert.equal(request.keepalive, true);
  assert.equal(request.headers.get('x-trace'), 't-1');
  assert.equal(request.headers.get('idempotency-key'), id);
  assert.deepEqual(new Uint8Array(await request.arrayBuffer()), init.body);
});

test('preview(id) decrypts only the start of a body; sealedRecord(id) is the ciphertext at rest', async (t) => {
  const { outbox } = await openOutbox();
  t.after(() => outbox.close());
  const big = Uint8Array.from({ length: 300 * 1024 }, (_, i) => (i * 13) & 0xff);
  const { id } = await outbox.enqueue({ url: 'https://api.example/big', method: 'PUT', body: big });
  const { id: small } = await outbox.enqueue({ url: 'https://api.example/s', method: 'POST', body: 'hello there' });
  const opened = [];
  const pull = outbox.core.streamOpenPull;
  outbox.core.streamOpenPull = function (...args) { opened.push(args[1].length); return pull.apply(this, args); };
  const preview = await outbox.preview(id, 100);
  assert.deepEqual([preview.method, preview.url, preview.bodySize], ['PUT', 'https://api.example/big', big.length]);
  assert.deepEqual(preview.body, big.subarray(0, 100));
  assert.equal(opened.length, 1, 'one 64 KiB chunk opened of five');
  assert.equal(new TextDecoder().decode((await outbox.preview(small, 5)).body), 'hello');
  assert.equal((await outbox.preview(small)).bodySize, 11);
  const sealed = await outbox.sealedRecord(small);
  assert.equal(sealed[0], 1, 'a version-1 record');
  assert.equal(Buffer.from(sealed).includes('hello there'), false);
  assert.equal(await outbox.preview('0'.repeat(32)), null);
  assert.equal(await outbox.sealedRecord('0'.repeat(32)), null);
});
