// The fetch route under concurrent requests (installSealpost against a scripted worker scope, a real
// loopback server, fake-indexeddb): groups never wait for each other; one group goes out in the order
// its requests came and each page gets the server's answer; 202 only on a network failure, a status in
// queueOnStatus, or an entry of the group left in the queue. And Outbox.admit across two contexts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';

import { installSealpost } from '../../js/sw.js';
import { startServer } from './loopback-server.js';
import { openOutbox } from './outbox-support.js';
import { fakeScope } from './worker-support.js';

async function until(fn, what, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A worker on a loopback server; `gate(request)` may hold or fail a request before it goes out. */
async function world(t, { script, queueOnStatus = [], gate = async () => {}, ordering = 'fifo' } = {}) {
  const server = await startServer(script);
  t.after(() => server.close());
  const scope = fakeScope({ indexedDB: new IDBFactory() });
  scope.location = new URL(`${server.url}/sw.js`);
  const wire = [];
  scope.fetch = async (input, init) => {
    await gate(input);
    wire.push(new URL(input.url).searchParams.get('label'));
    return fetch(input, init);
  };
  const api = installSealpost(scope, {
    IDBKeyRange,
    outboxes: [{
      name: 'notes', match: { method: 'POST', pathname: '/notes' }, queueOnStatus, ordering,
      group: (request) => new URL(request.url).searchParams.get('group'),
      retry: { baseDelayMs: 60000, jitter: 'none' },
    }],
  });
  const post = (group, label) => scope.dispatch('fetch', {
    request: new Request(`${server.url}/notes?group=${group}&label=${label}`, { method: 'POST', body: label }),
  });
  /** Labels the server accepted, in the order it accepted them, per group. */
  const arrived = (group) => server.order.map((key) => server.accepted.get(key))
    .filter((r) => r.url.includes(`group=${group}&`)).map((r) => r.body.toString());
  return { server, scope, api, post, wire, arrived };
}

function gateOn(label) {
  let open;
  const opened = new Promise((resolve) => { open = resolve; });
  let reached;
  const arrived = new Promise((resolve) => { reached = resolve; });
  return {
    open, arrived,
    gate: async (request) => {
      if (new URL(request.url).searchParams.get('label') === label) {
        reached();
        await opened;
      }
    },
  };
}

test('concurrent requests: a group goes out in the order they came, each gets the server\'s answer; groups do not wait', async (t) => {
  const held = gateOn('a0');
  const w = await world(t, { gate: held.gate });
  const a = ['a0', 'a1', 'a2', 'a3', 'a4'].map((label) => w.post('a', label));
  await held.arrived; // a0 is on its way out and held there
  // Group b is not behind a0: it is answered while a0 is still in flight.
  const b = await Promise.all(['b0', 'b1'].map((label) => w.post('b', label)));
  assert.deepEqual(b.map((r) => r.response.status), [201, 201], 'group b answered by the server');
  assert.deepEqual(w.arrived('a'), [], 'group a is still held at a0');
  held.open();
  const answers = await Promise.all(a);
  assert.deepEqual(answers.map((r) => r.response.status), [201, 201, 201, 201, 201],
    'each request of group a gets the server\'s answer, none a 202');
  assert.deepEqual(w.arrived('a'), ['a0', 'a1', 'a2', 'a3', 'a4'], 'in the order they came');
  assert.deepEqual(w.arrived('b'), ['b0', 'b1']);
  assert.equal(w.server.requests.length, 7, 'each once on the wire');
  const stats = await w.scope.ask({ type: 'sealpost:stats' });
  assert.deepEqual([stats.queues.notes.pending, stats.queues.notes.inflight], [0, 0], 'nothing left queued');
  assert.deepEqual(w.scope.syncTags, [], 'nothing was queued');
});

test('a request whose predecessor in its group fails is queued (202) behind it; other groups are answered; the flush keeps the order', async (t) => {
  let down = true;
  const held = gateOn('a0');
  const w = await world(t, {
    gate: async (request) => {
      await held.gate(request);
      if (down && new URL(request.url).searchParams.get('group') === 'a') throw new TypeError('Failed to fetch');
    },
  });
  const a = ['a0', 'a1', 'a2'].map((label) => w.post('a', label));
  await held.arrived;
  const b = await w.post('b', 'b0');
  assert.equal(b.response.status, 201);
  held.open();
  const answers = await Promise.all(a);
  assert.deepEqual(answers.map((r) => r.response.status), [202, 202, 202]);
  const reasons = await Promise.all(answers.map((r) => r.response.json()));
  assert.equal(new Set(reasons.map((r) => r.id)).size, 3);
  assert.deepEqual(w.wire, ['b0'], 'a0 failed before reaching the wire; a1 and a2 never went out ahead of it');
  down = false;
  const sync = await w.scope.dispatch('sync', { tag: 'sealpost:notes', lastChance: false });
  assert.equal(sync.settled[0].status, 'fulfilled', String(sync.settled[0].reason));
  assert.deepEqual(w.arrived('a'), ['a0', 'a1', 'a2'], 'the flush sends them in order');
  assert.equal(w.server.requests.length, 4);
});

test('202 when an earlier entry of the group waits on a retry (503 + Retry-After); another group is answered', async (t) => {
  const w = await world(t, {
    script: (req) => (req.url.includes('label=a0') ? { status: 503, retryAfter: 3600 } : 'ok'),
    queueOnStatus: [503],
  });
  const first = await w.post('a', 'a0');
  assert.equal(first.response.status, 202, 'a status in queueOnStatus queues');
  await w.scope.dispatch('sync', { tag: 'sealpost:notes', lastChance: false });
  const entries = await w.scope.ask({ type: 'sealpost:stats' });
  assert.ok(entries.queues.notes.nextAttemptAt > Date.now() + 60000, 'a0 waits on its Retry-After');
  const before = w.server.requests.length;
  const second = await w.post('a', 'a1');
  assert.equal(second.response.status, 202, 'behind the waiting a0');
  assert.equal(w.server.requests.length, before, 'a1 did not go out ahead of a0');
  const other = await w.post('b', 'b0');
  assert.equal(other.response.status, 201, 'group b does not wait for group a');
});

test('a request in flight on the route is leased: a flush at the same moment does not send it a second time', async (t) => {
  const held = gateOn('a0');
  const w = await world(t, { gate: held.gate });
  const a0 = w.post('a', 'a0');
  await held.arrived;
  const stats = await w.scope.ask({ type: 'sealpost:stats' });
  assert.deepEqual([stats.queues.notes.pending, stats.queues.notes.inflight], [0, 1], 'in flight under the route\'s lease');
  const flushed = await w.api.flush();
  assert.equal(flushed.queues?.notes?.sent ?? flushed.sent ?? 0, 0, `the flush sent nothing: ${JSON.stringify(flushed)}`);
  held.open();
  assert.equal((await a0).response.status, 201);
  assert.deepEqual(w.wire, ['a0'], 'once on the wire');
  assert.equal(w.server.requests.length, 1);
});

test('ordering independent: requests of one group do not wait for each other', async (t) => {
  const held = gateOn('a0');
  const w = await world(t, { gate: held.gate, ordering: 'independent' });
  const a0 = w.post('a', 'a0');
  await held.arrived;
  const a1 = await w.post('a', 'a1');
  assert.equal(a1.response.status, 201, 'a1 went out while a0 was held');
  held.open();
  assert.equal((await a0).response.status, 201);
  assert.deepEqual(w.arrived('a'), ['a1', 'a0']);
});

test('Outbox.admit across two contexts: behind a live entry of its group (leased or pending), never behind another group\'s; release makes it due', async () => {
  const indexedDB = new IDBFactory();
  const one = await openOutbox({ indexedDB });
  const two = await openOutbox({ indexedDB, clock: one.clock });
  const request = (text) => new Request('https://app.example/notes', { method: 'POST', body: text });
  const first = await one.outbox.admit(request('first'), { group: 'g', leaseMs: 15000 });
  assert.equal(first.behind, false);
  assert.equal(first.leaseUntil, one.clock.now() + 15000);
  const behind = await two.outbox.admit(request('second'), { group: 'g', leaseMs: 15000 });
  assert.equal(behind.behind, true, 'the other context\'s entry in flight is ahead of it');
  assert.equal(behind.leaseUntil, 0, 'stored pending, for a flush to send');
  const other = await two.outbox.admit(request('other'), { group: 'h', leaseMs: 15000 });
  assert.equal(other.behind, false, 'another group is not behind it');
  const rows = new Map((await one.outbox.list()).map((e) => [e.id, e.state]));
  assert.deepEqual([rows.get(first.id), rows.get(behind.id), rows.get(other.id)], ['inflight', 'pending', 'inflight']);

  // The leased entry holds its group back: a flush sends nothing of g while the lease runs.
  const sent = [];
  const fetchFn = async (r) => { sent.push(await r.text()); return new Response(null, { status: 201 }); };
  await two.outbox.flush({ fetch: fetchFn });
  assert.deepEqual(sent, []);
  assert.equal(await one.outbox.release(first.id, first.leaseUntil + 1), false, 'another lease is not released');
  assert.equal(await one.outbox.release(first.id, first.leaseUntil), true);
  await two.outbox.flush({ fetch: fetchFn });
  assert.deepEqual(sent, ['first', 'second'], 'in order once released');

  // A dead entry holds nothing back; with ordering independent nothing is ever behind.
  await one.outbox.discard(other.id);
  const indie = await openOutbox({ indexedDB, name: 'indie', ordering: 'independent', clock: one.clock });
  const x = await indie.outbox.admit(request('x'), { group: 'g', leaseMs: 1000 });
  const y = await indie.outbox.admit(request('y'), { group: 'g', leaseMs: 1000 });
  assert.deepEqual([x.behind, y.behind], [false, false]);
  for (const o of [one, two, indie]) o.outbox.close();
});

test('a request that could not be stored (quota) goes out unprotected without holding up the rest of its group', async (t) => {
  let down = true;
  const held = gateOn('a1');
  const w = await world(t, {
    gate: async (request) => {
      await held.gate(request);
      if (down) throw new TypeError('Failed to fetch');
    },
    // The server refuses a0 for an hour, so a flush the worker starts meanwhile (its replays do not pass the
    // gate) cannot send it and empty the queue while a1 and a2 arrive.
    script: (req) => (req.url.includes('label=a0') ? { status: 503, retryAfter: 3600 } : 'ok'),
  });
  // A worker whose queue holds one entry (no start-of-life wait: a0 stays queued).
  const small = fakeScope({ indexedDB: new IDBFactory() });
  small.location = w.scope.location;
  small.fetch = w.scope.fetch;
  installSealpost(small, { IDBKeyRange, startupBudgetMs: 1, outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/notes' },
    group: (request) => new URL(request.url).searchParams.get('group'), maxEntries: 1 }] });
  const post = (label) => small.dispatch('fetch', {
    request: new Request(`${w.server.url}/notes?group=a&label=${label}`, { method: 'POST', body: label }),
  });
  assert.equal((await post('a0')).response.status, 202, 'stored: the queue is full now');
  down = false;
  const a1 = post('a1');
  await held.arrived; // a1 was refused (quota) and is on its way out unprotected, held there
  const stats = (await small.ask({ type: 'sealpost:stats' })).queues.notes;
  // a0 may be pending or, inside a flush's attempt, in flight; either way it is the one entry.
  assert.equal(stats.pending + stats.inflight, 1, 'a0 fills the queue; a1 is not stored');
  const a2 = await post('a2');
  assert.equal(a2.response.status, 201, 'a2 (refused too) was not held up behind a1');
  held.open();
  assert.equal((await a1).response.status, 201);
});
