// sealpost/server's Idempotency-Key middleware: every rule with the memory store, then a real
// redis-server shared by app-server processes (tests/node/idempotency-app.js), one of them killed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  DEFAULT_IDEMPOTENCY_TTL_SECONDS, idempotency, memoryIdempotencyStore, parseIdempotencyKey, redisIdempotencyStore,
  withIdempotency,
} from '../../js/server.js';
import { prng } from './helpers.js';
import { startRedisServer } from './redis-support.js';

/** A Node http server: `guard` then `handler(req, res)`. */
async function serve(t, guard, handler) {
  const server = createServer((req, res) => {
    guard(req, res, () => handler(req, res)).catch((error) => {
      if (!res.headersSent) res.writeHead(500).end(String(error.message));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${server.address().port}`;
}

async function call(url, { method = 'POST', key, body = '{"a":1}', headers = {} } = {}) {
  const res = await fetch(url, {
    method, body: method === 'GET' ? undefined : body,
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }), ...headers },
  });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

const json = (answer) => JSON.parse(answer.bytes.toString('utf8'));

/** A handler that counts its runs and answers something new each run (a counter and random bytes). */
function counting({ status = 201 } = {}) {
  const runs = [];
  const handler = (req, res) => {
    runs.push({ key: req.idempotencyKey, body: req.body.toString('utf8') });
    const body = Buffer.concat([Buffer.from(`run ${runs.length} `), Buffer.from([0, 255, 128, 10])]);
    res.setHeader('location', `/things/${runs.length}`);
    res.setHeader('x-run', String(runs.length));
    res.writeHead(typeof status === 'function' ? status(runs.length) : status, { 'Content-Type': 'application/octet-stream' });
    res.write(body.subarray(0, 3));
    res.end(body.subarray(3));
  };
  return { runs, handler };
}

test('the default answer lifetime outlives the outbox\'s default maxAgeMs (7 days)', () => {
  assert.ok(DEFAULT_IDEMPOTENCY_TTL_SECONDS * 1000 > 7 * 24 * 3600 * 1000);
});

test('a key runs the handler once; a retry gets the stored answer byte for byte, marked Idempotent-Replayed', async (t) => {
  const { runs, handler } = counting();
  const url = await serve(t, idempotency({ replayHeaders: ['Location'] }), handler);
  const first = await call(`${url}/things?x=1`, { key: 'k-1' });
  assert.equal(first.status, 201);
  assert.equal(first.headers.get('idempotent-replayed'), null);
  for (const key of ['k-1', '"k-1"']) { // the draft's sf-string form names the same key
    const again = await call(`${url}/things?x=1`, { key });
    assert.equal(again.status, 201);
    assert.deepEqual(again.bytes, first.bytes);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.headers.get('content-type'), 'application/octet-stream');
    assert.equal(again.headers.get('location'), '/things/1', 'a header the app marked replayable');
    assert.equal(again.headers.get('x-run'), null, 'headers not marked are not replayed');
  }
  assert.deepEqual(runs, [{ key: 'k-1', body: '{"a":1}' }]);
  assert.equal((await call(`${url}/things?x=1`, { key: 'k-2' })).headers.get('x-run'), '2');
});

test('a retry while the first run is under way gets 409 with Retry-After: 1, then the answer', async (t) => {
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  let runs = 0;
  const url = await serve(t, idempotency(), async (req, res) => {
    runs += 1;
    await gate;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`done ${runs}`);
  });
  const first = call(url, { key: 'slow' });
  await sleep(50);
  const during = await call(url, { key: 'slow' });
  assert.equal(during.status, 409);
  assert.equal(during.headers.get('retry-after'), '1');
  assert.equal(during.headers.get('content-type'), 'application/problem+json');
  assert.equal(json(during).status, 409);
  assert.equal((await call(url, { key: 'slow', body: 'other' })).status, 422, 'another request under a running key');
  release();
  assert.equal((await first).bytes.toString(), 'done 1');
  const after = await call(url, { key: 'slow' });
  assert.equal(after.bytes.toString(), 'done 1');
  assert.equal(runs, 1);
});

test('the same key for another request (method, path, query or body) gets 422', async (t) => {
  const { runs, handler } = counting();
  const url = await serve(t, idempotency(), handler);
  assert.equal((await call(`${url}/a?q=1`, { key: 'k' })).status, 201);
  for (const other of [{ url: `${url}/a?q=1`, body: '{"a":2}' }, { url: `${url}/b?q=1` }, { url: `${url}/a?q=2` },
    { url: `${url}/a?q=1`, method: 'PUT' }]) {
    const answer = await call(other.url, { key: 'k', ...other });
    assert.equal(answer.status, 422, JSON.stringify(other));
    assert.match(json(answer).title, /already used/);
  }
  assert.equal(runs.length, 1);
});

test('a missing key passes through unless required (400); keys over 255 characters or with controls get 400', async (t) => {
  const { runs, handler } = counting();
  const open = await serve(t, idempotency(), handler);
  assert.equal((await call(open)).status, 201);
  assert.equal((await call(open)).status, 201);
  assert.equal(runs.length, 2, 'without a key every request runs');

  const strict = await serve(t, idempotency({ required: true }), handler);
  const missing = await call(strict);
  assert.equal(missing.status, 400);
  assert.match(json(missing).title, /missing/);
  assert.equal((await call(strict, { key: 'x'.repeat(255) })).status, 201);
  for (const key of ['x'.repeat(256), 'a\tb', 'a\x85b', '"unterminated', '"bad\\escape"', '""', `"${'y'.repeat(256)}"`]) {
    const answer = await call(strict, { key });
    assert.equal(answer.status, 400, JSON.stringify(key));
    assert.match(json(answer).title, /invalid/);
  }
  // Two Idempotency-Key fields in one request.
  const two = await new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(strict).port), '127.0.0.1', () => {
      socket.end('POST / HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\r\nIdempotency-Key: b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    let text = '';
    socket.on('data', (d) => { text += d; });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  assert.match(two, /^HTTP\/1\.1 400 /);
  assert.equal(runs.length, 3);

  assert.equal(parseIdempotencyKey('"a\\"b\\\\c"'), 'a"b\\c');
  assert.equal(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324'), '8e03978e-40d5-43e8-bc93-6894a57f9324');
  assert.equal(parseIdempotencyKey('a\x7fb'), null);
});

test('5xx answers are not stored (the retry runs again); 4xx answers are', async (t) => {
  const { runs, handler } = counting({ status: (n) => (n === 1 ? 503 : n === 2 ? 201 : 400) });
  const url = await serve(t, idempotency(), handler);
  assert.equal((await call(url, { key: 'k' })).status, 503);
  const second = await call(url, { key: 'k' });
  assert.equal(second.status, 201);
  assert.equal((await call(url, { key: 'k' })).headers.get('idempotent-replayed'), 'true');
  assert.equal((await call(url, { key: 'bad' })).status, 400);
  const badAgain = await call(url, { key: 'bad' });
  assert.equal(badAgain.status, 400);
  assert.equal(badAgain.headers.get('idempotent-replayed'), 'true');
  assert.equal(runs.length, 3);
  // A handler that throws: whoever answers the error (500 here) ends the run; the claim goes with it.
  let calls = 0;
  const throwing = await serve(t, idempotency(), () => {
    calls += 1;
    throw new Error('boom');
  });
  assert.equal((await call(throwing, { key: 't' })).status, 500);
  assert.equal((await call(throwing, { key: 't' })).status, 500);
  assert.equal(calls, 2);
});

test('a run that never answers holds its claim for lockSeconds; the next retry then runs the handler', async (t) => {
  let runs = 0;
  const url = await serve(t, idempotency({ lockSeconds: 0.4 }), (req, res) => {
    runs += 1;
    if (runs === 1) return; // the "crashed" run: never answers
    res.writeHead(201, { 'content-type': 'text/plain' }).end(`run ${runs}`);
  });
  const controller = new AbortController();
  const lost = fetch(url, { method: 'POST', body: 'x', headers: { 'idempotency-key': 'c' }, signal: controller.signal })
    .catch(() => 'aborted');
  await sleep(50);
  controller.abort();
  assert.equal(await lost, 'aborted');
  assert.equal((await call(url, { key: 'c', body: 'x' })).status, 409);
  await sleep(450);
  const retried = await call(url, { key: 'c', body: 'x' });
  assert.equal(retried.status, 201);
  assert.equal(retried.bytes.toString(), 'run 2');
  assert.equal(runs, 2);
});

test('unguarded methods pass through; the handler finds the body in req.body (or a body parser\'s)', async (t) => {
  const seen = [];
  const guard = idempotency({ methods: ['POST'] });
  const url = await serve(t, guard, (req, res) => {
    seen.push([req.method, req.idempotencyKey ?? null, req.body === undefined ? null : String(req.body)]);
    res.writeHead(200).end('ok');
  });
  await call(url, { method: 'GET', key: 'g' });
  await call(url, { method: 'GET', key: 'g' });
  await call(url, { method: 'PUT', key: 'p', body: 'put' });
  await call(url, { body: 'no key' });
  assert.deepEqual(seen, [['GET', null, null], ['GET', null, null], ['PUT', null, null], ['POST', null, 'no key']]);

  // A body parser ran first: the parsed body is fingerprinted, the stream is left alone.
  const parsed = idempotency();
  let runs = 0;
  const withParser = await serve(t, async (req, res, next) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    req.body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    return parsed(req, res, next);
  }, (req, res) => {
    runs += 1;
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ got: req.body, runs }));
  });
  const a = await call(withParser, { key: 'bp', body: '{"n":1}' });
  assert.deepEqual(await call(withParser, { key: 'bp', body: '{"n":1}' }).then((r) => r.bytes), a.bytes);
  assert.equal((await call(withParser, { key: 'bp', body: '{"n":2}' })).status, 422);
  assert.equal(runs, 1);

  const small = await serve(t, idempotency({ maxBodyBytes: 10 }), (req, res) => res.writeHead(201).end());
  assert.equal((await call(small, { key: 'big', body: 'x'.repeat(11) })).status, 413);
  assert.equal((await call(small, { key: 'fits', body: 'x'.repeat(10) })).status, 201);
});

test('the memory store: answers expire after ttlSeconds, at most maxEntries keys, scope keeps clients apart', async (t) => {
  let clock = 1_000_000;
  const store = memoryIdempotencyStore({ maxEntries: 3, now: () => clock });
  const { runs, handler } = counting();
  const url = await serve(t, idempotency({ store, ttlSeconds: 10 }), handler);
  await call(url, { key: 'e' });
  clock += 9_000;
  assert.equal((await call(url, { key: 'e' })).headers.get('idempotent-replayed'), 'true');
  clock += 1_001;
  assert.equal((await call(url, { key: 'e' })).headers.get('idempotent-replayed'), null, 'expired: runs again');
  assert.equal(runs.length, 2);
  for (const key of ['a', 'b', 'c']) await call(url, { key });
  assert.equal(store.size, 3);
  assert.equal((await call(url, { key: 'e' })).headers.get('idempotent-replayed'), null, 'the oldest key went first');
  assert.equal((await call(url, { key: 'c' })).headers.get('idempotent-replayed'), 'true');

  const scoped = counting();
  const perUser = await serve(t, idempotency({ scope: (req) => req.headers['x-user'] }), scoped.handler);
  await call(perUser, { key: 'same', headers: { 'x-user': 'ada' } });
  const other = await call(perUser, { key: 'same', headers: { 'x-user': 'bob' } });
  assert.equal(other.headers.get('idempotent-replayed'), null);
  assert.equal((await call(perUser, { key: 'same', headers: { 'x-user': 'bob' } })).headers.get('x-run'), null);
  assert.equal(scoped.runs.length, 2);
});

test('a store that fails answers 503 (Retry-After: 1) and never runs the handler', async (t) => {
  const errors = [];
  const broken = { claim: async () => { throw new Error('down'); }, complete: async () => true, release: async () => {} };
  let runs = 0;
  const url = await serve(t, idempotency({ store: broken, onError: (e) => errors.push(e.message) }), (req, res) => {
    runs += 1;
    res.end();
  });
  const answer = await call(url, { key: 'k' });
  assert.equal(answer.status, 503);
  assert.equal(answer.headers.get('retry-after'), '1');
  assert.deepEqual(errors, ['down']);
  assert.equal(runs, 0);
  assert.throws(() => idempotency({ store: {} }), { code: 'invalid-argument' });
  assert.throws(() => idempotency({ ttlSeconds: 0 }), { code: 'invalid-argument' });
  assert.throws(() => idempotency({ header: 'bad header' }), { code: 'invalid-argument' });
  assert.throws(() => withIdempotency(null), { code: 'invalid-argument' });
});

test('withIdempotency: the same rules for a Fetch-API handler, which gets the key', async () => {
  let runs = 0;
  let release = () => {};
  const keys = [];
  const handler = withIdempotency(async (request, key) => {
    runs += 1;
    keys.push(key);
    const text = await request.text();
    if (text === 'wait') await new Promise((resolve) => { release = resolve; });
    if (text === 'fail') return new Response('no', { status: 502 });
    if (text === 'throw') throw new Error('boom');
    return new Response(`run ${runs}: ${text}`, { status: 201, headers: { 'content-type': 'text/plain', etag: `"${runs}"` } });
  }, { replayHeaders: ['etag'], required: true });
  const send = (key, body = 'hello', url = 'https://app.example/notes') => handler(new Request(url, {
    method: 'POST', body, headers: key === undefined ? {} : { 'Idempotency-Key': key } }));

  const first = await send('f1');
  assert.equal(first.status, 201);
  const firstText = await first.text();
  const again = await send('f1');
  assert.equal(await again.text(), firstText);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal(again.headers.get('etag'), '"1"');
  assert.equal((await send('f1', 'changed')).status, 422);
  assert.equal((await send('f1', 'hello', 'https://app.example/other')).status, 422);
  assert.equal((await send(undefined)).status, 400);
  assert.equal((await send('x'.repeat(256))).status, 400);

  const waiting = send('w', 'wait');
  await sleep(20);
  const busy = await send('w', 'wait');
  assert.equal(busy.status, 409);
  assert.equal(busy.headers.get('retry-after'), '1');
  release();
  assert.equal((await waiting).status, 201);

  assert.equal((await send('e', 'fail')).status, 502);
  assert.equal((await send('e', 'fail')).status, 502);
  await assert.rejects(send('t', 'throw'), /boom/);
  await assert.rejects(send('t', 'throw'), /boom/, 'a handler that threw leaves no claim');
  assert.deepEqual(keys, ['f1', 'w', 'e', 'e', 't', 't']);
  const get = await handler(new Request('https://app.example/notes'));
  assert.equal(get.status, 201);
  assert.equal(keys.at(-1), null);
});

// ---------------------------------------------------------------------------------------------------
// Redis

/** A redis-server of the test's own, stopped after the test. */
async function startRedis(t) {
  const redis = await startRedisServer();
  t.after(() => redis.stop());
  return redis.url;
}

async function redisClient(t, url) {
  const { createClient } = await import('redis');
  const client = createClient({ url });
  client.on('error', () => {}); // redis-server stops at the end of the test, maybe before this client
  await client.connect();
  t.after(() => client.destroy());
  return client;
}

/** Starts tests/node/idempotency-app.js; resolves with {url, child} once it listens. */
async function startApp(t, env) {
  const child = spawn(process.execPath, [new URL('./idempotency-app.js', import.meta.url).pathname], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const port = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (data) => {
      text += data;
      const match = /listening (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`the app exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, child, alive: true };
}

/**
 * Sends each key's request `copies` times at once, to random live instances, `parallel` keys at a time;
 * a 409 or a connection lost is retried (after 40–100 ms, sooner than Retry-After says, to keep the test
 * short) until an answer comes. Resolves with every answer per key and counts.
 */
async function hammer({ apps, keys, copies = 3, parallel = 40, seed = 1 }) {
  const rng = prng(seed);
  const answers = new Map();
  const figures = { requests: 0, conflicts: 0, connectionErrors: 0 };
  const one = async (key, n) => {
    for (;;) {
      const live = apps.filter((a) => a.alive);
      const app = live[Math.floor(rng() * live.length)];
      figures.requests += 1;
      try {
        const res = await fetch(`${app.url}/effects`, { method: 'POST', body: JSON.stringify({ n }),
          headers: { 'content-type': 'application/json', 'idempotency-key': key } });
        const bytes = Buffer.from(await res.arrayBuffer());
        if (res.status === 409) {
          figures.conflicts += 1;
        } else {
          return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', bytes,
            location: res.headers.get('location'), at: Date.now() };
        }
      } catch {
        figures.connectionErrors += 1;
      }
      await sleep(40 + rng() * 60);
    }
  };
  let next = 0;
  const lane = async () => {
    while (next < keys.length) {
      const n = next;
      next += 1;
      const key = keys[n];
      answers.set(key, await Promise.all(Array.from({ length: copies }, () => one(key, n))));
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return { answers, figures };
}

/**
 * Every answer 201 and byte-identical per key → {rerun: keys with more than one answer from a handler run,
 * replayedOnly: keys whose every answer was a replay (the run's answer was stored, then lost)}.
 */
function checkAnswers(answers) {
  const rerun = [];
  const replayedOnly = [];
  for (const [key, list] of answers) {
    for (const answer of list) {
      assert.equal(answer.status, 201, `${key}: ${answer.bytes}`);
      assert.deepEqual(answer.bytes, list[0].bytes, `${key}: every answer is byte-identical to the first`);
      assert.equal(answer.location, `/effects/${key}`);
    }
    const fresh = list.filter((a) => !a.replayed).length;
    if (fresh > 1) rerun.push(key);
    if (fresh === 0) replayedOnly.push(key);
    assert.equal(JSON.parse(list[0].bytes).key, key);
  }
  return { rerun, replayedOnly };
}

async function ledgerCounts(client) {
  const counts = new Map();
  for (const key of await client.lRange('ledger', 0, -1)) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

test('redisIdempotencyStore: claim with SET NX PX, the answer replaces only its own claim', async (t) => {
  const url = await startRedis(t);
  const client = await redisClient(t, url);
  const clients = [['node-redis', client]];
  // ioredis, when it is installed (it is not among this package's devDependencies).
  const ioredis = await import('ioredis').catch(() => null);
  if (ioredis) {
    const io = new ioredis.default(url);
    io.on('error', () => {});
    t.after(() => io.disconnect());
    clients.push(['ioredis', io]);
  } else {
    t.diagnostic('ioredis is not installed: its client is not tried here');
  }
  for (const [name, c] of clients) {
    const store = redisIdempotencyStore(c, { prefix: `t:${name}:` });
    const response = { status: 201, headers: [['content-type', 'text/plain']], body: Buffer.from([0, 1, 2, 255]) };
    assert.deepEqual(await store.claim('a', { token: 't1', fingerprint: 'F' }, 300), { state: 'claimed' }, name);
    assert.deepEqual(await store.claim('a', { token: 't2', fingerprint: 'G' }, 300), { state: 'running', fingerprint: 'F' });
    assert.equal(await store.complete('a', 't2', { fingerprint: 'F', response }, 60000), false, 'not its claim');
    assert.equal(await store.complete('a', 't1', { fingerprint: 'F', response }, 60000), true);
    const done = await store.claim('a', { token: 't3', fingerprint: 'F' }, 300);
    assert.equal(done.state, 'done');
    assert.deepEqual([done.response.status, done.response.headers, [...done.response.body]],
      [201, [['content-type', 'text/plain']], [0, 1, 2, 255]]);
    const pttl = Number(await client.sendCommand(['PTTL', `t:${name}:a`]));
    assert.ok(pttl > 59000 && pttl <= 60000, `the answer is kept ttlMs: ${pttl}`);
    // A claim is dropped only by its own token, and expires by itself.
    await store.claim('b', { token: 'u1', fingerprint: 'F' }, 200);
    await store.release('b', 'other');
    assert.equal((await store.claim('b', { token: 'u2', fingerprint: 'F' }, 200)).state, 'running');
    await store.release('b', 'u1');
    assert.equal((await store.claim('b', { token: 'u3', fingerprint: 'F' }, 200)).state, 'claimed');
    await sleep(250);
    assert.equal((await store.claim('b', { token: 'u4', fingerprint: 'F' }, 200)).state, 'claimed', 'the claim expired');
    assert.equal(await store.complete('b', 'u3', { fingerprint: 'F', response }, 60000), false, 'a late run keeps out');
  }
});

test('two app processes sharing Redis: 500 keys, each sent 3 times at once to random instances, applied once', async (t) => {
  const url = await startRedis(t);
  const client = await redisClient(t, url);
  const apps = [await startApp(t, { REDIS_URL: url, MODE: 'plain' }), await startApp(t, { REDIS_URL: url, MODE: 'plain' })];
  const keys = Array.from({ length: 500 }, (_, i) => `key-${i}-${Math.random().toString(36).slice(2)}`);
  const started = Date.now();
  const { answers, figures } = await hammer({ apps, keys, seed: 14 });
  assert.deepEqual(checkAnswers(answers), { rerun: [], replayedOnly: [] },
    'each key has exactly one answer from its handler run; the others are replays');
  const counts = await ledgerCounts(client);
  assert.equal(counts.size, 500);
  for (const key of keys) {
    assert.equal(counts.get(key), 1, `${key} applied once`);
    assert.equal(await client.get(`count:${key}`), '1');
  }
  const pids = new Set([...answers.values()].map((list) => JSON.parse(list[0].bytes).pid));
  assert.equal(pids.size, 2, 'both instances ran handlers');
  t.diagnostic(`${figures.requests} requests (${figures.conflicts} answered 409) in ${Date.now() - started} ms`);
});

test('one instance killed with SIGKILL mid-way, a handler unique on the key: no key lost, none doubled', async (t) => {
  const url = await startRedis(t);
  const client = await redisClient(t, url);
  const env = { REDIS_URL: url, MODE: 'recipe', LOCK_SECONDS: '1' };
  const apps = [await startApp(t, { ...env, SLOW_AFTER: '120' }), await startApp(t, env)];
  const keys = Array.from({ length: 500 }, (_, i) => `key-${i}-${Math.random().toString(36).slice(2)}`);
  const started = Date.now();
  // Killed mid-way, when its 120th effect is written and that answer not yet sent; other requests are
  // under way on it too, some before their effect, some after.
  let killedAt = null;
  let slowKey = null;
  apps[0].child.stdout.on('data', (data) => {
    const match = /slow (\S+)/.exec(String(data));
    if (!match || killedAt !== null) return;
    slowKey = match[1];
    killedAt = Date.now();
    apps[0].alive = false;
    apps[0].child.kill('SIGKILL');
  });
  const { answers, figures } = await hammer({ apps, keys, seed: 15 });
  assert.equal(apps[0].child.signalCode, 'SIGKILL');
  // A run that outlives lockSeconds (1 s here, on a loaded machine) lets a retry run the handler again;
  // the handler's write, unique on the key, keeps that to one effect and the same answer. A run whose
  // answer was stored just before the kill, but never sent, is answered by replays only.
  const { rerun, replayedOnly } = checkAnswers(answers);
  const counts = await ledgerCounts(client);
  for (const key of keys) assert.equal(counts.get(key), 1, `${key} applied exactly once`);
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 500);
  // The key whose effect the killed instance wrote but never answered: the other instance ran it again
  // once the claim expired, and answered the effect already stored.
  const killedPid = apps[0].child.pid;
  const slow = answers.get(slowKey);
  assert.equal(JSON.parse(slow[0].bytes).pid, killedPid, 'the answer is the effect the killed instance wrote');
  assert.ok(slow.some((a) => !a.replayed), 'answered by a second run of the handler');
  const after = [...answers.values()].filter((list) => Math.min(...list.map((a) => a.at)) > killedAt).length;
  t.diagnostic(`${figures.requests} requests, ${figures.conflicts} answered 409, ${figures.connectionErrors} lost with `
    + `the killed instance; ${after} keys answered after the kill; ${rerun.length} keys run twice, `
    + `${replayedOnly.length} answered by replays only; `
    + `${Date.now() - started} ms`);
  assert.ok(after > 100, 'the kill came mid-way');
  assert.ok(figures.connectionErrors > 0, 'requests were under way when the instance was killed');
});
