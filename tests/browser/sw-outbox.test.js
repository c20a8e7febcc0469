// installSealpost's outbox wiring in Debian's Chromium: the fetch route, the real `sync` event,
// lastChance, 503/429 with Retry-After, worker kills and a browser restart, and the wake-up bound.
import test from 'node:test';
import assert from 'node:assert/strict';

import * as sealpost from '../../js/index.js';
import { startWorld, until, sleep } from './sw-setup.js';

// These suites drive the real Outbox; a build without it (js/outbox.js) has nothing for them to test.
const needsOutbox = typeof sealpost.Outbox === 'function' ? {} : { skip: 'this build has no Outbox (js/outbox.js)' };

const ORDER = ['first field note', 'second field note', 'third field note'];

test('offline: three notes are queued (202, encrypted records, nothing at the server); online: the real sync sends each once, in order', needsOutbox, async (t) => {
  const world = await startWorld();
  t.after(() => world.close());
  // The page does not ask for a flush when it comes online: only the browser's sync event sends.
  await world.open('/t/harness.html?flushOn=none');

  await world.context.setOffline(true);
  const answers = [];
  for (const text of ORDER) answers.push(await world.page.evaluate((x) => window.postNote(x), text));
  for (const answer of answers) {
    assert.equal(answer.status, 202, JSON.stringify(answer));
    assert.equal(answer.body.queued, true);
    assert.equal(answer.body.queue, 'notes');
    assert.equal(answer.queued, answer.body.id, 'the Sealpost-Queued header names the entry');
  }
  assert.equal(new Set(answers.map((a) => a.body.id)).size, 3);
  const stats = await world.stats();
  assert.equal(stats.queues.notes.pending + stats.queues.notes.inflight, 3);
  assert.deepEqual(await world.notes(), [], 'nothing reached the server');

  // The records in IndexedDB hold no note text: the page reads every object store of every database.
  const dump = await world.page.evaluate(async () => {
    const out = [];
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      for (const store of db.objectStoreNames) {
        const rows = await new Promise((resolve) => {
          const req = db.transaction(store).objectStore(store).getAll();
          req.onsuccess = () => resolve(req.result);
        });
        for (const row of rows) {
          out.push(JSON.stringify(row, (k, v) => (v instanceof Uint8Array || v instanceof ArrayBuffer
            ? new TextDecoder('latin1').decode(v) : v)));
        }
      }
      db.close();
    }
    return out.join('\n');
  });
  assert.ok(dump.length > 0, 'the records are in IndexedDB');
  for (const text of ORDER) assert.ok(!dump.includes(text), `no note text at rest (${text})`);
  assert.ok(!dump.includes('/api/notes'), 'no URL at rest');

  await world.context.setOffline(false);
  const notes = await until(async () => {
    const list = await world.notes();
    return list.length >= 3 ? list : null;
  }, 'the three notes at the server', 20000);
  await sleep(500);
  const final = await world.notes();
  assert.deepEqual(final.map((n) => n.text), ORDER, 'each once, in order');
  const events = await world.events();
  assert.ok(events.some((e) => e.type === 'flushed' && e.source === 'sync' && e.sent > 0),
    `a sync event sent them: ${JSON.stringify(events)}`);
  assert.deepEqual(world.csp, []);
  assert.deepEqual(await world.pageViolations(), []);
});
