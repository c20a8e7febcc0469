// js/outbox/peek.js: a queue's schedule read without Wasm agrees with the core's plan_due (random rows,
// both orderings), and peekEntries reads an outbox database's rows without creating a missing one.
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';

import { Outbox } from '../../js/index.js';
import { ready } from '../../js/wasm/loader.js';
import { DEFAULT_MAX_AGE_MS, maxAgeOf, peekEntries, schedule } from '../../js/outbox/peek.js';
import { prng } from './helpers.js';

test('schedule agrees with the core\'s plan for a flush that has tried nothing: due, and the next attempt time', async () => {
  const core = await ready();
  const now = 1_800_000_000_000;
  const maxAgeMs = 100_000;
  const around = (rnd) => now + Math.round((rnd() - 0.5) * 4 * maxAgeMs);
  let dueCases = 0;
  for (let seed = 1; seed <= 3000; seed += 1) {
    const rnd = prng(seed);
    const count = Math.floor(rnd() * 6);
    const rows = Array.from({ length: count }, (_, i) => ({
      id: `e${i}`, queue: 'q', seq: Math.floor(rnd() * 8), group: `g${Math.floor(rnd() * 2)}`,
      state: ['pending', 'pending', 'inflight', 'dead'][Math.floor(rnd() * 4)],
      nextAttemptAt: around(rnd), leaseUntil: around(rnd), createdAt: now - Math.round(rnd() * 2 * maxAgeMs),
      lastError: rnd() < 0.2 ? 'http-401' : null,
    }));
    for (const ordering of ['fifo', 'independent']) {
      const plan = core.retryPlan({ ordering, now, maxAgeMs, tried: {},
        entries: rows.map(({ queue, ...row }) => row) });
      const mine = schedule(rows, { ordering, maxAgeMs, now });
      const what = `seed ${seed} ${ordering}: ${JSON.stringify(rows)} plan ${JSON.stringify(plan)}`;
      assert.equal(mine.due, plan.due.length + plan.expired.length > 0, what);
      assert.equal(mine.nextAttemptAt, plan.nextAttemptAt, what);
      assert.equal(mine.live, rows.filter((r) => r.state !== 'dead').length, what);
      if (mine.due) {
        dueCases += 1;
        assert.equal(mine.wakeAt, now, what);
      } else if (mine.wakeAt !== null) {
        // Nothing happens before wakeAt: at any earlier time the core plans nothing either.
        const before = core.retryPlan({ ordering, now: mine.wakeAt - 1, maxAgeMs, tried: {},
          entries: rows.map(({ queue, ...row }) => row) });
        assert.equal(before.due.length + before.expired.length, 0, what);
        const at = core.retryPlan({ ordering, now: mine.wakeAt, maxAgeMs, tried: {},
          entries: rows.map(({ queue, ...row }) => row) });
        assert.ok(at.due.length + at.expired.length > 0, `something happens at wakeAt: ${what}`);
      }
    }
  }
  assert.ok(dueCases > 500 && dueCases < 5500, `both outcomes were drawn (${dueCases} due of 6000)`);
});

test('maxAgeOf: the default, a valid maxAgeMs, and null for what only the core can judge', () => {
  assert.equal(maxAgeOf(undefined), DEFAULT_MAX_AGE_MS);
  assert.equal(maxAgeOf({ baseDelayMs: 10 }), DEFAULT_MAX_AGE_MS);
  assert.equal(maxAgeOf({ maxAgeMs: 5000 }), 5000);
  for (const bad of [{ maxAgeMs: 0 }, { maxAgeMs: 1.5 }, { maxAgeMs: '5' }, 'x', []]) assert.equal(maxAgeOf(bad), null);
});

test('peekEntries reads an outbox database\'s rows by queue, and creates no database that is not there', async () => {
  const idb = new IDBFactory();
  assert.deepEqual(await peekEntries(idb, 'sealpost-outbox'), new Map());
  assert.deepEqual(await idb.databases(), [], 'nothing created');

  const a = await Outbox.open({ name: 'a', indexedDB: idb, IDBKeyRange, broadcast: false });
  const b = await Outbox.open({ name: 'b', indexedDB: idb, IDBKeyRange, broadcast: false });
  await a.enqueue(new Request('https://app.example/a', { method: 'POST', body: '1' }));
  await a.enqueue(new Request('https://app.example/a', { method: 'POST', body: '2' }));
  await b.enqueue(new Request('https://app.example/b', { method: 'POST', body: '3' }));
  const rows = await peekEntries(idb, 'sealpost-outbox');
  assert.deepEqual([...rows.keys()].sort(), ['a', 'b']);
  assert.deepEqual(rows.get('a').map((r) => [r.state, r.seq]).sort(), [['pending', 1], ['pending', 2]]);
  assert.equal(rows.get('b').length, 1);
  // The outboxes' connections stay usable beside the peek's (which it closed).
  assert.equal((await a.stats()).pending, 2);
  a.close();
  b.close();

  await new Promise((resolve, reject) => {
    const req = idb.open('not-an-outbox', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('other');
    req.onsuccess = () => { req.result.close(); resolve(); };
    req.onerror = () => reject(req.error);
  });
  await assert.rejects(peekEntries(idb, 'not-an-outbox'), { name: 'NotFoundError' });
});
