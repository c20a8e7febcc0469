// SealpostPlugin's own rules in Node, against a scripted worker scope (tests/browser/workbox.test.js runs it
// inside Workbox's strategies in Chromium): options checked at construction, the lifecycle callbacks as a
// strategy calls them, and one set of listeners for every plugin of a worker.
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBKeyRange } from 'fake-indexeddb';

import { SealpostPlugin } from '../../js/workbox.js';
import { ORIGIN, fakeScope } from './worker-support.js';

const note = () => new Request(`${ORIGIN}/api/notes`, { method: 'POST', body: '{"text":"x"}' });
const fetchEvent = () => ({ waitUntil: () => {}, respondWith: () => {} });

test('options are checked when a plugin is constructed; the worker\'s are shared by every plugin', () => {
  const scope = fakeScope();
  const notes = new SealpostPlugin('notes', { self: scope, IDBKeyRange, wasmUrl: '/sealpost.wasm', retry: { maxAttempts: 3 } });
  assert.equal(notes.name, 'notes');
  assert.deepEqual([...scope.added].sort(), ['fetch', 'install', 'message', 'periodicsync', 'sync']);
  new SealpostPlugin('comments', { self: scope, wasmUrl: '/sealpost.wasm' });
  assert.equal(scope.added.length, 5, 'one set of listeners for every plugin');
  const refused = (options, pattern, name = 'other') => assert.throws(() => new SealpostPlugin(name, { self: scope, ...options }),
    (error) => error.code === 'invalid-argument' && pattern.test(error.message));
  refused({}, /two plugins are named notes/, 'notes');
  refused({ match: { method: 'POST' } }, /match is the Workbox route's/);
  refused({ wasmUrl: '/elsewhere/sealpost.wasm' }, /wasmUrl is the worker's/);
  refused({ queueOnStatus: 'often' }, /queueOnStatus/);
  assert.throws(() => new SealpostPlugin('', { self: scope }), { code: 'invalid-argument' });
});

test('a network error: sealed first, sent with the entry id as its key, answered 202 and left for the sync tag', async () => {
  const scope = fakeScope();
  const plugin = new SealpostPlugin('notes', { self: scope, IDBKeyRange });
  const state = {};
  const event = fetchEvent();
  const sent = await plugin.requestWillFetch({ request: note(), event, state });
  const id = sent.headers.get('Idempotency-Key');
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(await sent.text(), '{"text":"x"}', 'the body goes out as it came');
  await plugin.fetchDidFail({ error: new TypeError('Failed to fetch'), event, state });
  const answer = await plugin.handlerDidError({ error: new TypeError('Failed to fetch'), event, state });
  assert.equal(answer.status, 202);
  assert.equal(answer.headers.get('Sealpost-Queued'), id);
  assert.deepEqual(await answer.json(), { queued: true, id, queue: 'notes' });
  assert.deepEqual(scope.syncTags, ['sealpost:notes']);
  assert.equal(await plugin.cacheWillUpdate({ response: new Response('', { status: 200 }), state }), null, 'never cached');
  await plugin.handlerDidComplete({ state });
  const stats = await scope.ask({ type: 'sealpost:stats' });
  assert.equal(stats.queues.notes.pending, 1);
});

test('an answer discards the entry, unless its status is in queueOnStatus; an app\'s own key is kept', async () => {
  const scope = fakeScope();
  const plugin = new SealpostPlugin('notes', { self: scope, IDBKeyRange, queueOnStatus: [503] });
  const ok = {};
  await plugin.requestWillFetch({ request: note(), event: fetchEvent(), state: ok });
  const created = await plugin.fetchDidSucceed({ response: new Response('{}', { status: 201 }), state: ok });
  assert.equal(created.status, 201);
  const busy = {};
  const keyed = new Request(note(), { headers: { 'Idempotency-Key': 'app-key-1' } });
  const sent = await plugin.requestWillFetch({ request: keyed, event: fetchEvent(), state: busy });
  assert.equal(sent.headers.get('Idempotency-Key'), 'app-key-1');
  const queued = await plugin.fetchDidSucceed({ response: new Response('', { status: 503 }), state: busy });
  assert.equal(queued.status, 202);
  const stats = await scope.ask({ type: 'sealpost:stats' });
  assert.deepEqual({ pending: stats.queues.notes.pending, inflight: stats.queues.notes.inflight }, { pending: 1, inflight: 0 },
    'the 201 removed its entry; the 503 kept its own');
  // Requests the plugin did not queue are cached as NetworkFirst would (200 and opaque answers only).
  const plain = new Response('', { status: 200 });
  assert.equal(await plugin.cacheWillUpdate({ response: plain, state: {} }), plain);
  assert.equal(await plugin.cacheWillUpdate({ response: new Response('', { status: 404 }), state: {} }), null);
  assert.equal(await plugin.handlerDidError({ error: new Error('not ours'), state: {} }), undefined);
  assert.throws(() => new SealpostPlugin('late', { self: scope }), /top level/, 'a plugin made after the first event');
});

test('requests of one group go out one after the other: the second is handed to Workbox only once the first was answered; another group does not wait', async () => {
  const scope = fakeScope();
  const plugin = new SealpostPlugin('notes', { self: scope, IDBKeyRange,
    group: (request) => new URL(request.url).searchParams.get('group') });
  const post = (group) => new Request(`${ORIGIN}/api/notes?group=${group}`, { method: 'POST', body: group });
  const first = {};
  const second = {};
  const other = {};
  await plugin.requestWillFetch({ request: post('a'), event: fetchEvent(), state: first });
  let handedOver = false;
  const next = plugin.requestWillFetch({ request: post('a'), event: fetchEvent(), state: second })
    .then((request) => { handedOver = true; return request; });
  const elsewhere = await plugin.requestWillFetch({ request: post('b'), event: fetchEvent(), state: other });
  assert.equal(await elsewhere.text(), 'b', 'group b went out while group a\'s first request is in flight');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(handedOver, false, 'the second request of group a waits for the first one\'s answer');
  assert.equal((await plugin.fetchDidSucceed({ response: new Response('{}', { status: 201 }), state: first })).status, 201);
  const sent = await next;
  assert.equal(await sent.text(), 'a', 'then it goes out (no 202: the first one was answered)');
  assert.equal((await plugin.fetchDidSucceed({ response: new Response('{}', { status: 201 }), state: second })).status, 201);
  await plugin.fetchDidSucceed({ response: new Response('{}', { status: 201 }), state: other });
  for (const state of [first, second, other]) await plugin.handlerDidComplete({ state });
  const stats = await scope.ask({ type: 'sealpost:stats' });
  assert.deepEqual([stats.queues.notes.pending, stats.queues.notes.inflight], [0, 0]);
});
