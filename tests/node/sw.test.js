// installSealpost in Node against a scripted ServiceWorkerGlobalScope: listeners added synchronously,
// configuration checked, the message protocol, preferences persisted in IndexedDB (fake-indexeddb),
// quiet hours, the fetch route's scope, notification clicks, the wake-up bound on the worker's clock, and
// sealpost.wasm from Cache Storage without replacing fetch.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';

import * as sealpost from '../../js/index.js';
import { createSealpost, installSealpost, inQuietHours, mergePreferences } from '../../js/sw.js';
import { moduleFetcher, WASM_CACHE } from '../../js/worker/module-cache.js';
import { sealPush } from '../../js/server.js';
import { startServer } from './loopback-server.js';
import { ORIGIN, fakeScope, listen } from './worker-support.js';

const EVENTS = ['install', 'activate', 'fetch', 'sync', 'periodicsync', 'push', 'pushnotification', 'pushsubscriptionchange', 'notificationclick',
  'message'];


test('every listener is added synchronously, during the call', () => {
  const scope = fakeScope();
  const api = installSealpost(scope, {
    outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/api/notes' } }],
    push: { allowUnsigned: true },
  });
  assert.deepEqual([...scope.added].sort(), [...EVENTS].sort());
  assert.equal(typeof api.flush, 'function');
  assert.equal(typeof api.stats, 'function');
  assert.equal(typeof api.deliver, 'function');
});

test('createSealpost adds no listener; its handlers answer whether an event was sealpost\'s, beside the app\'s own', async () => {
  const scope = fakeScope();
  const sp = createSealpost(scope, {
    IDBKeyRange, outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/api/notes' } }],
  });
  assert.deepEqual(scope.added, [], 'no listener is added');
  const HANDLERS = ['handleFetch', 'handleSync', 'handlePeriodicSync', 'handlePush', 'handlePushNotification', 'handleNotificationClick',
    'handleMessage', 'handleInstall', 'handleActivate', 'flush', 'stats', 'deliver'];
  for (const name of HANDLERS) assert.equal(typeof sp[name], 'function', name);

  // The app's own worker: sealpost first, then its own answer for what sealpost did not take.
  const own = [];
  scope.addEventListener('fetch', (event) => {
    if (sp.handleFetch(event)) return;
    own.push(new URL(event.request.url).pathname);
    event.respondWith(new Response('from the app', { status: 200 }));
  });
  scope.addEventListener('message', (event) => {
    if (!sp.handleMessage(event)) event.ports?.[0]?.postMessage({ app: event.data });
  });
  const page = await scope.dispatch('fetch', { request: new Request(`${ORIGIN}/index.html`) });
  assert.equal(await page.response.text(), 'from the app');
  const routed = await scope.dispatch('fetch', {
    request: new Request(`${ORIGIN}/api/notes`, { method: 'POST', body: '{"text":"x"}' }),
  });
  assert.equal(routed.response.status, 201, 'the route answered with the network\'s response');
  assert.deepEqual(own, ['/index.html']);
  assert.deepEqual(await scope.ask({ type: 'ping' }), { app: { type: 'ping' } });
  assert.deepEqual((await scope.ask({ type: 'sealpost:stats' })).queues.notes.pending, 0);

  // Events that are not sealpost's say so and are left alone.
  const waited = [];
  const event = (fields) => ({ ...fields, waitUntil: (p) => waited.push(p) });
  assert.equal(sp.handleSync(event({ tag: 'other-tag' })), false);
  assert.equal(sp.handlePeriodicSync(event({ tag: 'app-refresh' })), false);
  assert.equal(sp.handlePush(event({ data: null })), false, 'no push config: not sealpost\'s');
  assert.equal(sp.handleActivate(event({})), false, 'clientsClaim is off');
  assert.equal(waited.length, 0);
  assert.equal(sp.handleSync(event({ tag: 'sealpost:notes' })), true);
  scope.caches = fakeCaches();
  assert.equal(sp.handleInstall(event({})), true);
  await Promise.allSettled(waited);
});

test('a bad configuration is a clear invalid-argument error at install time', () => {
  const cases = [
    [null, /config must be an object/],
    [{ outboxes: [{}] }, /every outbox needs a name/],
    [{ outboxes: [{ name: 'a' }, { name: 'a' }] }, /two outboxes are named a/],
    [{ outboxes: [{ name: 'a', queueOnStatus: ['503'] }] }, /queueOnStatus/],
    [{ outboxes: [{ name: 'a', match: 'POST /x' }] }, /match must be an object or a function/],
    [{ maxWakeupsPerMinute: 0 }, /maxWakeupsPerMinute must be a positive number/],
    [{ syncBudgetMs: 'soon' }, /syncBudgetMs/],
    [{ outboxes: [{ name: 'a' }], push: { allowUnsigned: true, feedback: { queue: 'b' } } }, /push.feedback.queue names no outbox: b/],
    [{ push: {} }, /push needs trustedSigners.*or allowUnsigned: true/],
    [{ push: { trustedSigners: [] } }, /allowUnsigned/],
  ];
  for (const [config, message] of cases) {
    const scope = fakeScope();
    assert.throws(() => installSealpost(scope, config), (error) => {
      assert.equal(error.name, 'SealpostError');
      assert.equal(error.code, 'invalid-argument');
      assert.match(error.message, message);
      return true;
    }, JSON.stringify(config));
    assert.deepEqual(scope.added, [], 'nothing is wired when the configuration is refused');
  }
});

test('quiet hours: inside, outside, and wrapping midnight', () => {
  const at = (h, m) => new Date(2026, 0, 5, h, m);
  const night = { start: '22:00', end: '07:30' };
  assert.equal(inQuietHours(night, at(23, 0)), true);
  assert.equal(inQuietHours(night, at(3, 0)), true);
  assert.equal(inQuietHours(night, at(7, 29)), true);
  assert.equal(inQuietHours(night, at(7, 30)), false);
  assert.equal(inQuietHours(night, at(12, 0)), false);
  const lunch = { start: '12:00', end: '13:00' };
  assert.equal(inQuietHours(lunch, at(12, 30)), true);
  assert.equal(inQuietHours(lunch, at(13, 0)), false);
  assert.equal(inQuietHours(lunch, at(11, 59)), false);
  assert.equal(inQuietHours(null, at(12, 30)), false);
});

test('preferences are validated, merged and kept in IndexedDB across worker lives', async () => {
  assert.throws(() => mergePreferences({}, { quietHours: { start: '25:00', end: '07:00' } }), { code: 'invalid-argument' });
  assert.throws(() => mergePreferences({}, { mutedCategories: 'news' }), { code: 'invalid-argument' });
  assert.deepEqual(mergePreferences({}, { mutedCategories: ['a', 'a', 'b'] }),
    { mutedCategories: ['a', 'b'], quietHours: null });

  const indexedDB = new IDBFactory();
  const events = listen();
  try {
    const first = fakeScope({ indexedDB });
    installSealpost(first, { push: { allowUnsigned: true } });
    assert.deepEqual(await first.ask({ type: 'sealpost:preferences' }), { mutedCategories: [], quietHours: null });
    const set = { mutedCategories: ['promotions'], quietHours: { start: '22:00', end: '07:00' } };
    assert.deepEqual(await first.ask({ type: 'sealpost:preferences', set }), set);
    const refused = await first.ask({ type: 'sealpost:preferences', set: { quietHours: 'night' } });
    assert.equal(refused.error.code, 'invalid-argument');
    assert.match(refused.error.message, /quietHours/);

    // A new worker life (new scope, same storage) reads what the last one stored.
    const second = fakeScope({ indexedDB });
    installSealpost(second, { push: { allowUnsigned: true } });
    assert.deepEqual(await second.ask({ type: 'sealpost:preferences' }), set);
    const changed = await events.until((e) => e.type === 'preferences' && e.preferences.mutedCategories[0] === 'promotions');
    assert.equal(changed.length, 1);
  } finally {
    events.close();
  }
});

test('messages: unknown queues and missing push configuration answer errors with codes; others are ignored', async () => {
  const scope = fakeScope();
  installSealpost(scope, { outboxes: [{ name: 'notes' }] });
  const flush = await scope.ask({ type: 'sealpost:flush', queue: 'nope' });
  assert.equal(flush.error.code, 'invalid-argument');
  assert.match(flush.error.message, /no outbox is named nope/);
  const deliver = await scope.ask({ type: 'sealpost:deliver', envelope: 'AQ' });
  assert.equal(deliver.error.code, 'closed');
  const { settled } = await scope.dispatch('message', { data: { type: 'app:hello' }, ports: [] });
  assert.deepEqual(settled, [], 'a message that is not sealpost\'s is left alone');
});

test('the fetch route takes only matching requests; others reach the network untouched', async () => {
  const scope = fakeScope();
  installSealpost(scope, { IDBKeyRange, outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/api/notes' } }] });
  const get = await scope.dispatch('fetch', { request: new Request(`${ORIGIN}/api/notes`) });
  assert.equal(get.responded, false);
  const foreign = await scope.dispatch('fetch', { request: new Request('https://other.example/api/notes', { method: 'POST' }) });
  assert.equal(foreign.responded, false);
  const other = await scope.dispatch('fetch', { request: new Request(`${ORIGIN}/api/other`, { method: 'POST' }) });
  assert.equal(other.responded, false);
  // A matching request goes to the network first; a success is the network's own response.
  const routed = await scope.dispatch('fetch', {
    request: new Request(`${ORIGIN}/api/notes`, { method: 'POST', body: '{"text":"x"}' }),
  });
  assert.equal(routed.responded, true);
  assert.equal(routed.response.status, 201);
  const stats = await scope.ask({ type: 'sealpost:stats' });
  assert.deepEqual(stats.queues.notes, { pending: 0, inflight: 0, dead: 0, nextAttemptAt: null }, 'nothing stays queued');
});

test('sealpost:inspect opens method and URL, and the body only with inspectBodies; headers never', async () => {
  for (const inspectBodies of [false, true]) {
    const scope = fakeScope();
    scope.fetch = async () => { throw new TypeError('offline'); };
    installSealpost(scope, { IDBKeyRange, inspectBodies,
      outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/api/notes' } }] });
    const queued = await scope.dispatch('fetch', { request: new Request(`${ORIGIN}/api/notes`, {
      method: 'POST', body: '{"text":"heron by the lock"}', headers: { authorization: 'Bearer s3cret' } }) });
    assert.equal(queued.response.status, 202);
    const { id } = await queued.response.json();
    const entry = await scope.ask({ type: 'sealpost:inspect', queue: 'notes', id });
    assert.equal(entry.method, 'POST');
    assert.equal(entry.url, `${ORIGIN}/api/notes`);
    assert.ok(!JSON.stringify(entry).includes('s3cret'), 'no header value');
    if (inspectBodies) assert.equal(entry.body, '{"text":"heron by the lock"}');
    else assert.equal(entry.body, undefined);
    assert.equal(await scope.ask({ type: 'sealpost:inspect', queue: 'notes', id: 'f'.repeat(32) }), null);
  }
});

test('the network attempt carries the key every replay of the entry will carry: the app\'s own, else the entry id', async () => {
  const scope = fakeScope();
  const seen = [];
  scope.fetch = async (request) => { seen.push(request.headers.get('idempotency-key')); return new Response('{}', { status: 201 }); };
  installSealpost(scope, { IDBKeyRange, outboxes: [{ name: 'notes', match: (r) => r.method === 'POST' }] });
  await scope.dispatch('fetch', { request: new Request(`${ORIGIN}/a`, { method: 'POST', body: 'x' }) });
  await scope.dispatch('fetch', {
    request: new Request(`${ORIGIN}/a`, { method: 'POST', body: 'x', headers: { 'Idempotency-Key': 'mine' } }),
  });
  assert.equal(seen.length, 2);
  assert.match(seen[0], /^[0-9a-f]{32}$/, 'the outbox entry id');
  assert.equal(seen[1], 'mine', "the app's own key is kept");
});

test('an answer lost on the way back: the page gets 202, the replay has the same key, the server applies it once', async (t) => {
  const server = await startServer((req, n) => (n === 0 ? 'lose-answer' : 'ok'));
  t.after(() => server.close());
  const indexedDB = new IDBFactory();
  const scope = fakeScope({ indexedDB });
  scope.location = new URL(`${server.url}/sw.js`);
  scope.fetch = (input, init) => fetch(input, init);
  installSealpost(scope, { IDBKeyRange, outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/notes' },
    retry: { baseDelayMs: 1, jitter: 'none' } }] });
  const answer = await scope.dispatch('fetch', {
    request: new Request(`${server.url}/notes`, { method: 'POST', body: '{"text":"lost answer"}' }),
  });
  assert.equal(answer.response.status, 202);
  const body = await answer.response.json();
  assert.deepEqual(Object.keys(body).sort(), ['id', 'queue', 'queued']);
  assert.equal(answer.response.headers.get('sealpost-queued'), body.id);
  assert.deepEqual(scope.syncTags, ['sealpost:notes']);
  assert.equal(server.accepted.size, 1, 'the server applied the first request');

  const sync = await scope.dispatch('sync', { tag: 'sealpost:notes', lastChance: false });
  assert.equal(sync.settled[0].status, 'fulfilled', String(sync.settled[0].reason));
  assert.equal(server.requests.length, 2);
  assert.deepEqual(server.requests.map((r) => r.key), [body.id, body.id], 'both attempts carry the entry id');
  assert.equal(server.accepted.size, 1, 'the replay was recognised, not applied again');
});

test('sync: work left for later rejects the event; lastChance re-arms the tag once instead', async (t) => {
  const server = await startServer(() => ({ status: 503, retryAfter: 3600 }));
  t.after(() => server.close());
  const scope = fakeScope();
  scope.location = new URL(`${server.url}/sw.js`);
  scope.fetch = (input, init) => fetch(input, init);
  installSealpost(scope, { IDBKeyRange, rearmIntervalMs: 60000,
    outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/notes' }, queueOnStatus: [503] }] });
  const queued = await scope.dispatch('fetch', { request: new Request(`${server.url}/notes`, { method: 'POST', body: 'x' }) });
  assert.equal(queued.response.status, 202);
  scope.syncTags.length = 0;

  const normal = await scope.dispatch('sync', { tag: 'sealpost:notes', lastChance: false });
  assert.equal(normal.settled[0].status, 'rejected', 'the browser is told to retry later');
  assert.deepEqual(scope.syncTags, []);
  const last = await scope.dispatch('sync', { tag: 'sealpost:notes', lastChance: true });
  assert.equal(last.settled[0].status, 'fulfilled');
  assert.deepEqual(scope.syncTags, ['sealpost:notes'], 're-armed');
  const again = await scope.dispatch('sync', { tag: 'sealpost:notes', lastChance: true });
  assert.equal(again.settled[0].status, 'fulfilled');
  assert.deepEqual(scope.syncTags, ['sealpost:notes'], 'not re-armed twice within rearmIntervalMs');
  const stats = await scope.ask({ type: 'sealpost:stats' });
  assert.equal(stats.queues.notes.pending, 1, 'the entry stays');
  assert.ok(server.requests.length <= 4, `${server.requests.length} requests: Retry-After holds the entry`);
});

test('fifo: a request behind queued entries of its queue waits its turn instead of overtaking them', async (t) => {
  let down = true;
  const server = await startServer(() => (down ? 'drop' : 'ok'));
  t.after(() => server.close());
  const scope = fakeScope();
  scope.location = new URL(`${server.url}/sw.js`);
  scope.fetch = (input, init) => fetch(input, init);
  installSealpost(scope, { IDBKeyRange, startupBudgetMs: 1,
    outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/notes' },
      retry: { baseDelayMs: 1, jitter: 'none', maxAttempts: 100 } }] });
  const post = (text) => scope.dispatch('fetch', { request: new Request(`${server.url}/notes`, { method: 'POST', body: text }) });
  assert.equal((await post('first')).response.status, 202);
  down = false;
  const second = await post('second');
  assert.equal(second.response.status, 202, 'queued behind the first, not sent ahead of it');
  await until(() => server.accepted.size === 2);
  const bodies = server.order.map((key) => server.accepted.get(key).body.toString());
  assert.deepEqual(bodies, ['first', 'second']);
});

async function until(fn, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('notificationclick opens same-origin urls only, and refuses others with an event', async () => {
  const events = listen();
  try {
    const scope = fakeScope();
    installSealpost(scope, { push: { allowUnsigned: true } });
    const click = (url) => scope.dispatch('notificationclick', {
      action: '', notification: { data: { url }, close() {} },
    });
    await click('/notes/7');
    await click('https://evil.example/phish');
    await click('//evil.example/x');
    await click('javascript:alert(1)');
    await click('/..//evil.example/x'); // same origin, but its path is '//evil.example/x'
    await click('/%2e%2e//evil.example/x');
    assert.deepEqual(scope.opened, [`${ORIGIN}/notes/7`]);
    const refused = await events.until((e) => e.type === 'notification-click' && e.outcome === 'refused', 5);
    assert.equal(refused.length, 5, JSON.stringify(events.seen));
  } finally {
    events.close();
  }
});

test('push with no PushReceiver in this build still shows the fallback notification and says why', async (t) => {
  if (typeof sealpost.PushReceiver === 'function') {
    t.skip('this build has a PushReceiver: the browser suite covers real envelopes');
    return;
  }
  const scope = fakeScope();
  installSealpost(scope, { push: { allowUnsigned: true, fallback: { title: 'New activity', tag: 'fb' } } });
  await scope.dispatch('push', { data: { arrayBuffer: () => new ArrayBuffer(1), text: () => '' } });
  assert.equal(scope.shown.length, 1);
  assert.equal(scope.shown[0].title, 'New activity');
  assert.equal(scope.shown[0].options.tag, 'fb');
  assert.equal(scope.shown[0].options.data.fallback, true);
});

test('the wake-up limit runs on the config clock: 12 flushes in a minute, the 13th throttled until a slot frees', async () => {
  let clock = 1_000_000_000_000; // 2001: a limiter, deadline or outbox on Date.now would disagree with it
  const now = () => clock;
  const indexedDB = new IDBFactory();
  const retry = { baseDelayMs: 1, maxDelayMs: 100, jitter: 'none', maxAttempts: 100 };
  const offline = async () => { throw new TypeError('offline'); };
  const scope = fakeScope({ indexedDB });
  const api = installSealpost(scope, { IDBKeyRange, now, outboxes: [{ name: 'notes', retry, fetch: offline }] });
  // One entry that never gets through: every flush tries it once (a request), so every flush keeps its slot.
  const outbox = await sealpost.Outbox.open({ name: 'notes', indexedDB, IDBKeyRange, now, broadcast: false, retry });
  await outbox.enqueue({ url: `${ORIGIN}/api/notes`, method: 'POST', body: 'x' });
  outbox.close();

  const start = clock;
  for (let i = 1; i <= 12; i += 1) {
    const summary = await api.flush();
    assert.equal(summary.throttled, undefined, `flush ${i}`);
    assert.equal(summary.retrying, 1, `flush ${i} made its attempt`);
    clock += 1000; // the entry is due again (backoff at most 100 ms); the window still holds every slot
  }
  const throttled = await api.flush();
  assert.equal(throttled.throttled, true, 'the 13th flush in the minute');
  assert.equal(throttled.nextSlotAt, start + 60000, 'the first slot frees a minute after it was taken');
  assert.equal(throttled.retrying, 0, 'no request');
  const { wakeups } = await api.stats();
  assert.deepEqual(wakeups, { lastMinute: 12, limit: 12, bySource: { api: 12 }, throttled: 1 });

  clock = start + 59999;
  assert.equal((await api.flush()).throttled, true, 'not a millisecond early');
  clock = start + 60000;
  const freed = await api.flush();
  assert.equal(freed.throttled, undefined, 'a slot freed when the clock moved on');
  assert.equal(freed.retrying, 1);
  assert.equal((await api.flush()).throttled, true, 'and only one');
});

test('a routed request the network answers is said once: sent (a success) or answered (another status), the entry gone', async () => {
  const scope = fakeScope();
  const statuses = [201, 400];
  scope.fetch = async () => new Response('{}', { status: statuses.shift() });
  installSealpost(scope, { IDBKeyRange, outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/api/notes' } }] });
  const events = listen();
  try {
    const post = () => scope.dispatch('fetch', { request: new Request(`${ORIGIN}/api/notes`, { method: 'POST', body: '{}' }) });
    assert.equal((await post()).response.status, 201);
    assert.equal((await post()).response.status, 400, 'the page gets the answer as it is');
    const enqueued = await events.until((e) => e.type === 'enqueued', 2);
    const [sent] = await events.until((e) => e.type === 'sent');
    const [answered] = await events.until((e) => e.type === 'answered');
    assert.deepEqual([sent.id, sent.status, sent.direct, sent.queue], [enqueued[0].id, 201, true, 'notes']);
    assert.deepEqual([answered.id, answered.status, answered.direct], [enqueued[1].id, 400, true]);
    assert.equal(events.seen.filter((e) => e.type === 'sent' || e.type === 'answered').length, 2, JSON.stringify(events.seen));
    assert.equal((await scope.ask({ type: 'sealpost:stats' })).queues.notes.pending, 0);
  } finally {
    events.close();
  }
});

test('a flush that joins a running one broadcasts joined and no totals: each run\'s sends are counted once', async () => {
  const indexedDB = new IDBFactory();
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const slow = async () => { await gate; return new Response('{}', { status: 201 }); };
  const scope = fakeScope({ indexedDB });
  const api = installSealpost(scope, { IDBKeyRange, outboxes: [{ name: 'notes', fetch: slow }] });
  const outbox = await sealpost.Outbox.open({ name: 'notes', indexedDB, IDBKeyRange, broadcast: false });
  await outbox.enqueue({ url: `${ORIGIN}/api/notes`, method: 'POST', body: 'a' });
  await outbox.enqueue({ url: `${ORIGIN}/api/notes`, method: 'POST', body: 'b' });
  outbox.close();
  const events = listen();
  try {
    const first = api.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const joiners = [api.flush(), api.flush()];
    release();
    const results = await Promise.all([first, ...joiners]);
    assert.deepEqual(results.map((r) => r.sent), [2, 2, 2], 'each caller learns what the run it shared did');
    const flushed = await events.until((e) => e.type === 'flushed', 3);
    assert.equal(flushed.length, 3, JSON.stringify(events.seen));
    assert.deepEqual(flushed.map((e) => [e.sent, e.joined ?? false]).sort(), [[0, true], [0, true], [2, false]]);
    assert.equal((await events.until((e) => e.type === 'sent', 2)).length, 2, 'one sent per entry');
  } finally {
    events.close();
  }
});

test('a clock that is not a function is refused', () => {
  assert.throws(() => installSealpost(fakeScope(), { now: 5 }), { code: 'invalid-argument', message: /now must be a function/ });
});

/** Cache Storage with what the worker uses of it; `added` lists the URLs cache.add was given. */
function fakeCaches() {
  const stores = new Map();
  const added = [];
  const open = async (name) => {
    if (!stores.has(name)) stores.set(name, new Map());
    const entries = stores.get(name);
    return {
      add: async (request) => { added.push(request.url); },
      put: async (key, response) => { entries.set(String(key), response); },
      match: async (key) => entries.get(String(key))?.clone(),
    };
  };
  return { stores, added, open, match: async (key, { cacheName }) => (await open(cacheName)).match(key),
    delete: async (name) => stores.delete(name) };
}

test('a cached module that is not this build\'s is refused, deleted from the cache and reported', async () => {
  const bytes = await readFile(new URL('../../dist/sealpost.wasm', import.meta.url));
  const wasmUrl = `${ORIGIN}/swapped-${process.pid}-${Date.now()}/sealpost.wasm`;
  const swapped = Buffer.from(bytes);
  swapped[swapped.length - 1] ^= 1;
  const scope = fakeScope();
  scope.caches = fakeCaches();
  (await scope.caches.open(WASM_CACHE)).put(wasmUrl, new Response(swapped, { headers: { 'Content-Type': 'application/wasm' } }));
  let fetched = 0;
  scope.fetch = async () => { fetched += 1; return new Response(bytes, { headers: { 'Content-Type': 'application/wasm' } }); };
  const events = listen();
  try {
    installSealpost(scope, { wasmUrl, push: { allowUnsigned: true } });
    const refused = await scope.ask({ type: 'sealpost:push-key' });
    assert.equal(refused.error.code, 'wasm-load-failed');
    assert.match(refused.error.message, /SHA-256/);
    assert.equal(scope.caches.stores.has(WASM_CACHE), false, 'the swapped module is gone from the cache');
    assert.equal((await events.until((e) => e.type === 'module-refused')).length, 1);
    // The next load goes to the network and gets the real module.
    const { publicKey } = await scope.ask({ type: 'sealpost:push-key' });
    assert.equal(typeof publicKey, 'string');
    assert.equal(fetched, 1);
  } finally {
    events.close();
  }
});

test('installSealpost never replaces fetch: the loader gets sealpost.wasm through fetchModule, and it is kept in Cache Storage', async () => {
  const bytes = await readFile(new URL('../../dist/sealpost.wasm', import.meta.url));
  const wasmUrl = `${ORIGIN}/assets-${process.pid}-${Date.now()}/sealpost.wasm`; // compiled once per URL and process
  const scope = fakeScope();
  const requested = [];
  const fetch = async (input) => {
    requested.push(String(input instanceof Request ? input.url : input));
    return new Response(bytes, { headers: { 'Content-Type': 'application/wasm' } });
  };
  const assigned = [];
  Object.defineProperty(scope, 'fetch', { get: () => fetch, set: (value) => assigned.push(value), configurable: true });
  scope.caches = fakeCaches();
  const globalFetch = globalThis.fetch;

  installSealpost(scope, { wasmUrl, push: { allowUnsigned: true } });
  const install = await scope.dispatch('install');
  assert.equal(install.settled[0].status, 'fulfilled', String(install.settled[0].reason));
  assert.deepEqual(scope.caches.added, [wasmUrl], 'precached at install');

  const { publicKey } = await scope.ask({ type: 'sealpost:push-key' });
  assert.equal(typeof publicKey, 'string');
  assert.deepEqual(requested, [wasmUrl], 'the module came from the worker\'s fetch (the cache was empty), once');
  await until(() => scope.caches.stores.get(WASM_CACHE)?.has(wasmUrl));
  assert.deepEqual(assigned, [], 'scope.fetch was never assigned');
  assert.equal(scope.fetch, fetch);
  assert.equal(globalThis.fetch, globalFetch);
});

test('fetchModule answers from Cache Storage first; the network fills it; no cache means the network', async () => {
  const url = new URL(`${ORIGIN}/sealpost.wasm`);
  const caches = fakeCaches();
  const calls = [];
  let status = 200;
  const fetch = async (href, init) => {
    calls.push({ href, init });
    return new Response(`module ${calls.length}`, { status });
  };
  const fetchModule = moduleFetcher({ caches: () => caches, fetch });

  status = 503;
  assert.equal((await fetchModule(url)).status, 503);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(caches.stores.get(WASM_CACHE)?.size ?? 0, 0, 'an error answer is not cached');
  status = 200;
  assert.equal(await (await fetchModule(url)).text(), 'module 2', 'the network when nothing is cached');
  assert.deepEqual(calls.map((c) => [c.href, c.init.credentials]), [[url.href, 'same-origin'], [url.href, 'same-origin']]);
  await until(() => caches.stores.get(WASM_CACHE)?.has(url.href));
  assert.equal(await (await fetchModule(url)).text(), 'module 2', 'then the cached copy');
  assert.equal(calls.length, 2, 'without the network');

  const noCaches = moduleFetcher({ caches: () => undefined, fetch });
  assert.equal(await (await noCaches(url)).text(), 'module 3');
});

test('sealpost:stats counts without opening a record (Outbox.stats, not list)', async (t) => {
  const scope = fakeScope();
  const offline = async () => { throw new TypeError('offline'); };
  scope.fetch = offline;
  installSealpost(scope, { IDBKeyRange, startupBudgetMs: 1,
    outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/api/notes' }, fetch: offline }] });
  const queued = await scope.dispatch('fetch', { request: new Request(`${ORIGIN}/api/notes`, { method: 'POST', body: 'x' }) });
  assert.equal(queued.response.status, 202);
  const { list } = sealpost.Outbox.prototype;
  sealpost.Outbox.prototype.list = () => { throw new Error('stats must not decrypt every record'); };
  t.after(() => { sealpost.Outbox.prototype.list = list; });
  const stats = await scope.ask({ type: 'sealpost:stats' });
  assert.deepEqual(Object.keys(stats).sort(), ['queues', 'wakeups']);
  const { pending, inflight, dead, nextAttemptAt } = stats.queues.notes;
  assert.deepEqual({ pending: pending + inflight, dead }, { pending: 1, dead: 0 });
  assert.equal(typeof nextAttemptAt, 'number');
  assert.deepEqual(Object.keys(stats.queues.notes).sort(), ['dead', 'inflight', 'nextAttemptAt', 'pending']);
});

test('push data reaches the receiver as it came: PushMessageData of bytes or of base64url text, a string, bytes', async () => {
  const scope = fakeScope();
  const api = installSealpost(scope, { push: { allowUnsigned: true } });
  const { publicKey } = await scope.ask({ type: 'sealpost:push-key' });
  const seal = (id) => new Uint8Array(sealPush({ recipientPublicKey: publicKey, now: Date.now(), message: { id, title: id } }));
  const text = (bytes) => Buffer.from(bytes).toString('base64url');
  /** What a push event's `data` (PushMessageData) gives. */
  const pushData = (bytes) => ({ arrayBuffer: () => bytes.slice().buffer, text: () => new TextDecoder().decode(bytes) });

  await scope.dispatch('push', { data: pushData(seal('raw')) });
  await scope.dispatch('push', { data: pushData(new TextEncoder().encode(text(seal('text')))) });
  assert.equal((await api.deliver(` ${text(seal('string'))}\n`)).shown, true);
  assert.equal((await api.deliver(seal('bytes'))).shown, true);
  assert.equal((await api.deliver(seal('buffer').buffer)).shown, true);
  assert.deepEqual(scope.shown.map((n) => n.title), ['raw', 'text', 'string', 'bytes', 'buffer']);
  const empty = await scope.dispatch('push', { data: null });
  assert.equal(empty.settled[0].value.shown, 'fallback', 'a push without data shows the fallback');
});

test('a module that cannot be fetched never fails the install: one clear error, and requests go out unprotected', async () => {
  const wasmUrl = `${ORIGIN}/missing-${process.pid}-${Date.now()}/sealpost.wasm`;
  const scope = fakeScope();
  scope.caches = fakeCaches();
  const open = scope.caches.open;
  scope.caches.open = async (name) => ({ ...await open(name), add: async () => { throw new TypeError('Request failed (404)'); } });
  const sent = [];
  scope.fetch = async (input) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === wasmUrl) return new Response('not found', { status: 404 });
    sent.push(url);
    return new Response('{"ok":true}', { status: 201 });
  };
  const errors = [];
  const consoleError = console.error;
  console.error = (...args) => errors.push(args.join(' '));
  const events = listen();
  try {
    installSealpost(scope, { wasmUrl, outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/api/notes' } }] });
    const install = await scope.dispatch('install');
    assert.equal(install.settled[0].status, 'fulfilled', String(install.settled[0].reason?.stack));
    assert.equal(errors.length, 1);
    assert.match(errors[0], new RegExp(`sealpost\\.wasm could not be fetched from ${wasmUrl.replace(/[.]/g, '\\.')}`));
    const routed = await scope.dispatch('fetch', { request: new Request(`${ORIGIN}/api/notes`, { method: 'POST', body: '{}' }) });
    assert.equal(routed.response.status, 201, 'the request went out as it was');
    assert.deepEqual(sent, [`${ORIGIN}/api/notes`]);
    const failed = await events.until((e) => e.type === 'queue-failed');
    assert.equal(failed[0]?.code, 'wasm-load-failed');
    assert.equal((await events.until((e) => e.type === 'module-missing')).length, 1);
  } finally {
    console.error = consoleError;
    events.close();
  }
});

test('pushsubscriptionchange: subscribes again with the old key and tells the app server through the outbox', async () => {
  const scope = fakeScope();
  const posted = [];
  scope.fetch = async (request) => {
    posted.push({ url: request.url, type: request.headers.get('content-type'), body: await request.json() });
    return new Response('{}', { status: 201 });
  };
  const key = new Uint8Array(65).fill(4);
  const subscribedWith = [];
  scope.registration.pushManager = {
    subscribe: async (options) => {
      subscribedWith.push(options);
      return { toJSON: () => ({ endpoint: 'https://push.example/new', keys: { p256dh: 'p', auth: 'a' } }) };
    },
  };
  const events = listen();
  try {
    installSealpost(scope, { IDBKeyRange, outboxes: [{ name: 'notes', fetch: (request) => scope.fetch(request) }],
      push: { allowUnsigned: true, subscriptionUrl: '/api/subscriptions' } });
    assert.ok(scope.added.includes('pushsubscriptionchange'));
    const { publicKey, keyId } = await scope.ask({ type: 'sealpost:push-key' });
    await scope.dispatch('pushsubscriptionchange', { oldSubscription: { options: { applicationServerKey: key.buffer } },
      newSubscription: null });
    assert.deepEqual(subscribedWith, [{ userVisibleOnly: true, applicationServerKey: key.buffer }]);
    const sent = posted.filter((p) => p.url === `${ORIGIN}/api/subscriptions`);
    assert.equal(sent.length, 1, JSON.stringify([posted, events.seen]));
    assert.equal(sent[0].type, 'application/json');
    assert.deepEqual(sent[0].body, { subscription: { endpoint: 'https://push.example/new', keys: { p256dh: 'p', auth: 'a' } },
      publicKey, keyId });
    assert.equal((await events.until((e) => e.type === 'push-subscription-changed')).length, 1);

    // No key to subscribe again with: said, nothing posted.
    await scope.dispatch('pushsubscriptionchange', { oldSubscription: null, newSubscription: null });
    assert.equal((await events.until((e) => e.type === 'push-subscription-lost')).length, 1);
    assert.equal(posted.filter((p) => p.url === `${ORIGIN}/api/subscriptions`).length, 1);
  } finally {
    events.close();
  }
});

/**
 * A worker life started by a navigation it does not route, on `idb` (the queues' storage from earlier
 * lives), its origin the loopback `server`: the module fetches it made, the replays the server received and
 * the start-of-life 'flushed' event.
 */
async function coldNavigation(server, idb, bytes, config) {
  const wasmUrl = `${server.url}/cold-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}/sealpost.wasm`;
  const scope = fakeScope({ indexedDB: idb });
  scope.location = new URL(`${server.url}/sw.js`);
  scope.caches = fakeCaches();
  const modules = [];
  scope.fetch = async (input) => {
    modules.push(String(input));
    return new Response(bytes, { headers: { 'Content-Type': 'application/wasm' } });
  };
  const replays = () => [...server.accepted.values()].map((r) => r.body.toString());
  const events = listen();
  try {
    installSealpost(scope, { IDBKeyRange, wasmUrl, ...config,
      outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/api/notes' } }] });
    const nav = await scope.dispatch('fetch', { request: new Request(`${server.url}/inbox`) });
    assert.equal(nav.responded, false, 'the navigation is the browser\'s');
    assert.equal(nav.settled.length, 1, 'the start-of-life flush ran in the event');
    assert.equal(nav.settled[0].status, 'fulfilled');
    const [flushed] = await events.until((e) => e.type === 'flushed' && e.trigger === 'start:fetch');
    return { scope, modules, replays, flushed, events };
  } catch (error) {
    events.close();
    throw error;
  }
}

/** Queues one request in `idb` as an earlier worker life would have; resolves with the queue's stats. */
async function queueEarlier(server, idb, body, { failWith = null } = {}) {
  const outbox = await sealpost.Outbox.open({ name: 'notes', indexedDB: idb, IDBKeyRange, broadcast: false,
    retry: { baseDelayMs: 600000, jitter: 'none' } });
  await outbox.enqueue(new Request(`${server.url}/api/notes`, { method: 'POST', body }));
  if (failWith) {
    const summary = await outbox.flush({ fetch: async () => new Response('', { status: failWith }) });
    assert.equal(summary.retrying, 1);
  }
  const stats = await outbox.stats();
  outbox.close();
  return stats;
}

test('a worker started by a navigation it does not route loads no Wasm when nothing is due: empty queue, or retries due later', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const bytes = await readFile(new URL('../../dist/sealpost.wasm', import.meta.url));

  // No outbox database at all (a site that never queued): nothing loaded, and no database created.
  const none = new IDBFactory();
  const fresh = await coldNavigation(server, none, bytes, {});
  try {
    assert.deepEqual(fresh.modules, [], 'the module was not fetched');
    assert.deepEqual([fresh.flushed.sent, fresh.flushed.remaining, fresh.flushed.nextAttemptAt], [0, 0, null]);
    assert.deepEqual((await none.databases()).map((d) => d.name), [], 'the start-of-life flush created no database');
  } finally {
    fresh.events.close();
  }

  // A database whose queue is empty (everything went through).
  const emptied = new IDBFactory();
  const outbox = await sealpost.Outbox.open({ name: 'notes', indexedDB: emptied, IDBKeyRange, broadcast: false });
  await outbox.enqueue(new Request(`${server.url}/api/notes`, { method: 'POST', body: 'sent' }));
  assert.equal((await outbox.flush({ fetch: async () => new Response('{}', { status: 201 }) })).sent, 1);
  outbox.close();
  const empty = await coldNavigation(server, emptied, bytes, {});
  try {
    assert.deepEqual(empty.modules, []);
    assert.deepEqual([empty.flushed.sent, empty.flushed.remaining, empty.flushed.nextAttemptAt], [0, 0, null]);
    assert.deepEqual(empty.scope.syncTags, []);
  } finally {
    empty.events.close();
  }

  // One entry whose retry is due in ten minutes, past the start-of-life budget: the same 'flushed' event as
  // a real flush gives, and the queue's sync tag registered again, all without the module.
  const later = new IDBFactory();
  const queued = await queueEarlier(server, later, 'later', { failWith: 503 });
  assert.ok(queued.nextAttemptAt > Date.now() + 60000);
  const waiting = await coldNavigation(server, later, bytes, {});
  try {
    assert.deepEqual(waiting.modules, [], 'the module was not fetched');
    assert.deepEqual([waiting.flushed.sent, waiting.flushed.retrying, waiting.flushed.dead, waiting.flushed.remaining,
      waiting.flushed.nextAttemptAt], [0, 0, 0, 1, queued.nextAttemptAt]);
    assert.deepEqual(waiting.scope.syncTags, ['sealpost:notes']);
    // A real flush in the same worker life (the module loaded now) reports the same.
    const real = await waiting.scope.ask({ type: 'sealpost:flush' });
    assert.deepEqual([real.sent, real.remaining, real.nextAttemptAt], [0, 1, queued.nextAttemptAt]);
    assert.equal(waiting.modules.length, 1, 'loaded when a flush needed it');
    const stats = await waiting.scope.ask({ type: 'sealpost:stats' });
    assert.equal(stats.wakeups.lastMinute, 0, 'neither flush took a wake-up slot: nothing was sent');
    assert.equal(stats.wakeups.bySource['start:fetch'], 0);
  } finally {
    waiting.events.close();
  }
  assert.deepEqual(server.requests, [], 'nothing was sent');
});

test('a worker started by a navigation it does not route still flushes a due entry at the start of its life', async (t) => {
  const bytes = await readFile(new URL('../../dist/sealpost.wasm', import.meta.url));
  const server = await startServer();
  t.after(() => server.close());
  const idb = new IDBFactory();
  await queueEarlier(server, idb, 'due now');
  const cold = await coldNavigation(server, idb, bytes, {});
  try {
    assert.equal(cold.modules.length, 1, 'the module was loaded for it');
    assert.deepEqual(cold.replays(), ['due now']);
    assert.deepEqual([cold.flushed.sent, cold.flushed.remaining], [1, 0]);
  } finally {
    cold.events.close();
  }

  // A lease a killed worker left, running out within the start-of-life budget: loaded, waited for, sent.
  const other = await startServer();
  t.after(() => other.close());
  const leased = new IDBFactory();
  const outbox = await sealpost.Outbox.open({ name: 'notes', indexedDB: leased, IDBKeyRange, broadcast: false });
  await outbox.admit(new Request(`${other.url}/api/notes`, { method: 'POST', body: 'leased' }), { leaseMs: 1500 });
  outbox.close();
  const resumed = await coldNavigation(other, leased, bytes, { minWaitMs: 100 });
  try {
    assert.equal(resumed.modules.length, 1);
    assert.deepEqual(resumed.replays(), ['leased'], 'sent once its lease ran out, within the start-of-life flush');
  } finally {
    resumed.events.close();
  }
});
