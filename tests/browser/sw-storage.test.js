// Real storage faults in Debian's Chromium, made with CDP: the origin's quota exhausted
// (Storage.overrideQuotaForOrigin), its IndexedDB cleared while entries are queued
// (Storage.clearDataForOrigin), and another tab opening sealpost's databases at a newer version.
import test from 'node:test';
import assert from 'node:assert/strict';

import { FAST_WORKER, startWorld, until, sleep } from './sw-setup.js';

const DATABASES = ['sealpost-outbox', 'sealpost-keys', 'sealpost-push', 'sealpost-sw'];

/** The notes at the server once `count` have arrived (and half a second more, to see any duplicate). */
async function notesAtServer(world, count, what) {
  await until(async () => (await world.notes()).length >= count, what, 20000).catch(async (error) => {
    // The latest events, where the story of a stuck queue is.
    throw new Error(`${error.message}; notes ${JSON.stringify((await world.notes()).map((n) => n.text.slice(0, 12)))}; `
      + `stats ${JSON.stringify(await world.stats())}; last events ${JSON.stringify((await world.events()).slice(-12))}`);
  });
  await sleep(500);
  return (await world.notes()).map((n) => n.text);
}

test('quota exhausted: a new request gets 507 storage-full when the network fails too, or goes out unprotected (queue-failed); nothing queued before is lost', async (t) => {
  const world = await startWorld({ worker: { ...FAST_WORKER, startupBudgetMs: 1 } });
  t.after(() => world.close());
  // Chromium reads an origin's quota when its IndexedDB is first opened: the small quota is set before.
  const cdp = await world.context.newCDPSession(world.page);
  const origin = world.demo.url;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 2_000_000 });
  t.after(() => cdp.send('Storage.overrideQuotaForOrigin', { origin }).catch(() => {}));
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();

  // The network fails (the requests are aborted: no online transition wakes the sync meanwhile). Notes
  // of 40 KB (a short text and a field the server ignores) are queued until IndexedDB refuses one.
  await world.context.route('**/api/notes', (route) => (route.request().method() === 'POST' ? route.abort() : route.fallback()));
  const queued = [];
  let refused = null;
  for (let i = 0; i < 60 && !refused; i += 1) {
    const text = `queued ${String(i).padStart(2, '0')}`;
    const answer = await world.page.evaluate(async (body) => {
      const res = await fetch('/api/notes', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      return { status: res.status, error: res.headers.get('Sealpost-Error'), body: await res.json() };
    }, JSON.stringify({ text, padding: '.'.repeat(40_000) }));
    if (answer.status === 202) queued.push(text);
    else refused = answer;
  }
  assert.ok(refused, 'the quota ran out within 60 notes');
  assert.ok(queued.length >= 3, `${queued.length} notes were queued before`);
  assert.equal(refused.status, 507, JSON.stringify(refused));
  assert.equal(refused.error, 'storage-full');
  assert.equal(refused.body.queued, false);
  assert.equal(refused.body.error, 'storage-full');
  const failed = await world.page.evaluate(() => window.waitForEvent((e) => e.type === 'queue-failed', 5000));
  assert.equal(failed?.code, 'storage-full', JSON.stringify(failed));
  let stats = await world.stats();
  assert.equal(stats.queues.notes.pending + stats.queues.notes.inflight, queued.length, 'every queued note is still there');

  // The network back, still no room: the request goes out unprotected and the page gets the server's answer.
  await world.context.unroute('**/api/notes');
  const before = (await world.events()).filter((e) => e.type === 'queue-failed').length;
  const unprotected = await world.page.evaluate(() => window.postNote('sent without a net'));
  assert.equal(unprotected.status, 201, JSON.stringify(unprotected));
  const after = (await world.events()).filter((e) => e.type === 'queue-failed');
  assert.equal(after.length, before + 1, 'queue-failed said so again');
  assert.equal(after.at(-1).code, 'storage-full');
  assert.deepEqual((await world.notes()).map((n) => n.text), ['sent without a net']);

  // The quota back: every note queued before is sent, each once, in order.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  await world.dispatchSync('sealpost:notes');
  const texts = await notesAtServer(world, queued.length + 1, 'the queued notes at the server');
  assert.deepEqual(texts.slice(1), queued);
  stats = await world.stats();
  assert.equal(stats.queues.notes.pending + stats.queues.notes.inflight + stats.queues.notes.dead, 0);
});

test('IndexedDB cleared mid-queue: the worker reports the lost entries, makes new keys and queues again', async (t) => {
  const world = await startWorld({ worker: { ...FAST_WORKER, startupBudgetMs: 1 } });
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  const cdp = await world.attachCdp();
  const origin = world.demo.url;
  const errors = [];
  world.context.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  const pushKey = await world.page.evaluate(() => window.sp.pushKey());
  await world.context.setOffline(true);
  for (const text of ['lost one', 'lost two']) {
    assert.equal((await world.page.evaluate((x) => window.postNote(x), text)).status, 202);
  }
  // The worker is running and holds its connections open.
  await cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'indexeddb' });

  const queued = await world.page.evaluate(() => window.postNote('after the clearing'));
  assert.equal(queued.status, 202, JSON.stringify(queued));
  const lost = await world.page.evaluate(() => window.waitForEvent((e) => e.type === 'storage-lost', 5000));
  assert.ok(lost, `a storage-lost event: ${JSON.stringify(await world.events())}`);
  assert.equal(lost.queue, 'notes');
  assert.equal(lost.lost, 2, 'the two entries that went with the data are counted');
  const stats = await world.stats();
  assert.equal(stats.queues.notes.pending + stats.queues.notes.inflight, 1, JSON.stringify(stats));

  // Push: the keys went with the data; the worker makes a new one instead of failing on every push.
  const newKey = await world.page.evaluate(() => window.sp.pushKey());
  assert.notEqual(newKey.publicKey, pushKey.publicKey);
  const replaced = await world.page.evaluate(() => window.waitForEvent((e) => e.type === 'push-key-replaced', 5000));
  assert.deepEqual([replaced?.reason, replaced?.keyId], ['cleared', newKey.keyId], JSON.stringify(replaced));

  await world.context.setOffline(false);
  await world.dispatchSync('sealpost:notes');
  assert.deepEqual(await notesAtServer(world, 1, 'the note queued after the clearing'), ['after the clearing']);
  // The next routed request works as before, answered by the server.
  const next = await world.page.evaluate(() => window.postNote('and the next one'));
  assert.equal(next.status, 201, JSON.stringify(next));
  assert.deepEqual(await notesAtServer(world, 2, 'the next note'), ['after the clearing', 'and the next one']);
  // No crash loop: one storage-lost per queue, no storage errors since.
  const events = await world.events();
  assert.equal(events.filter((e) => e.type === 'storage-lost' && e.queue === 'notes').length, 1, JSON.stringify(events));
  assert.deepEqual(events.filter((e) => e.type === 'queue-failed'), []);
});

test('another tab opens every sealpost database at a newer version: it is not blocked, and the worker reopens them', async (t) => {
  const world = await startWorld({ worker: { ...FAST_WORKER, startupBudgetMs: 1 } });
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();
  const tab = await world.context.newPage();
  await tab.goto(`${world.demo.url}/t/harness.html?flushOn=none`);
  // The worker opens each of its databases: the outbox and key store (a request), push, and its own state.
  await world.context.setOffline(true);
  assert.equal((await world.page.evaluate(() => window.postNote('before the upgrade'))).status, 202);
  const pushKey = await world.page.evaluate(() => window.sp.pushKey());
  await world.page.evaluate(() => window.sp.preferences({ mutedCategories: ['news'] }));

  const upgraded = await tab.evaluate((names) => Promise.all(names.map((name) => new Promise((resolve) => {
    const probe = indexedDB.open(name);
    probe.onsuccess = () => {
      const version = probe.result.version;
      probe.result.close();
      let blocked = false;
      const req = indexedDB.open(name, version + 1);
      req.onblocked = () => { blocked = true; };
      req.onupgradeneeded = () => req.result.createObjectStore(`added-in-v${version + 1}`);
      req.onsuccess = () => {
        req.result.close();
        resolve({ name, version: version + 1, blocked });
      };
      req.onerror = () => resolve({ name, error: req.error.name });
      setTimeout(() => resolve({ name, error: 'still blocked after 10 s' }), 10000);
    };
  }))), DATABASES);
  for (const result of upgraded) assert.equal(result.error, undefined, JSON.stringify(upgraded));

  // The worker (the same life) uses every database again.
  assert.equal((await world.page.evaluate(() => window.postNote('after the upgrade'))).status, 202);
  assert.deepEqual(await world.page.evaluate(() => window.sp.pushKey()), pushKey);
  assert.deepEqual((await world.page.evaluate(() => window.sp.preferences())).mutedCategories, ['news']);
  const stats = await world.stats();
  assert.equal(stats.queues.notes.pending + stats.queues.notes.inflight, 2);
  await world.context.setOffline(false);
  await world.dispatchSync('sealpost:notes');
  assert.deepEqual(await notesAtServer(world, 2, 'both notes'), ['before the upgrade', 'after the upgrade']);
  await tab.close();
});
