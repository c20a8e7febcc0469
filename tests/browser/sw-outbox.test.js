// installSealpost's outbox wiring in Debian's Chromium: the fetch route, the real `sync` event,
// lastChance, 503/429 with Retry-After, worker kills and a browser restart, and the wake-up bound.
import test from 'node:test';
import assert from 'node:assert/strict';

import * as sealpost from '../../js/index.js';
import { FAST_WORKER, startWorld, until, sleep } from './sw-setup.js';

// These suites drive the real Outbox; a build without it (js/outbox.js) has nothing for them to test.
const needsOutbox = typeof sealpost.Outbox === 'function' ? {} : { skip: 'this build has no Outbox (js/outbox.js)' };

const ORDER = ['first field note', 'second field note', 'third field note'];

test('offline: three notes are queued (202, encrypted records, nothing at the server); online: the real sync sends each once, in order', needsOutbox, async (t) => {
  // The page does not ask for a flush when it comes online, and the worker's start-of-life flush does not
  // wait for entries to fall due: only the browser's sync event sends.
  const world = await startWorld({ worker: { ...FAST_WORKER, startupBudgetMs: 1 } });
  t.after(() => world.close());
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
  assert.ok(events.some((e) => e.type === 'flushed' && e.trigger === 'sync' && e.sent > 0),
    `a sync event sent them: ${JSON.stringify(events)}`);
  assert.deepEqual(world.csp, []);
  assert.deepEqual(await world.pageViolations(), []);
});

/** The server's log of note writes, oldest first. */
async function noteLog(world) {
  return (await world.api('GET', '/api/log')).log.filter((e) => e.path === '/api/notes' && e.method === 'POST');
}

test('lastChance while the server answers 503: the records stay, the tag is re-armed, the next sync sends', needsOutbox, async (t) => {
  const world = await startWorld({ worker: { retry: { baseDelayMs: 300, jitter: 'none' }, syncBudgetMs: 2500 } });
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();

  await world.context.setOffline(true);
  const queued = await world.page.evaluate(() => window.postNote('written on the train'));
  assert.equal(queued.status, 202);
  await world.api('POST', '/api/switches', { mode: '503' });
  await world.context.setOffline(false);
  // The real sync fires, meets 503s for its whole budget and rejects (the browser would retry in minutes).
  await world.page.evaluate(() => window.waitForEvent((e) => e.type === 'sync-incomplete', 15000));

  await world.dispatchSync('sealpost:notes', true);
  const incomplete = await world.page.evaluate(() => window.waitForEvent(
    (e) => e.type === 'sync-incomplete' && e.lastChance === true, 15000));
  assert.ok(incomplete, 'the lastChance event ran');
  const rearmed = await world.page.evaluate(() => window.waitForEvent((e) => e.type === 'sync-rearmed', 5000));
  assert.ok(rearmed, 'lastChance registers the tag again');
  const stats = await world.stats();
  assert.equal(stats.queues.notes.pending + stats.queues.notes.inflight, 1, 'the record stays');
  assert.equal(stats.queues.notes.dead, 0);
  assert.deepEqual(await world.notes(), []);

  await world.api('POST', '/api/switches', { mode: 'ok' });
  await world.dispatchSync('sealpost:notes', false);
  const notes = await until(async () => { const n = await world.notes(); return n.length ? n : null; }, 'the note at the server');
  assert.deepEqual(notes.map((n) => n.text), ['written on the train']);
  const keys = new Set((await noteLog(world)).map((e) => e.key));
  assert.equal(keys.size, 1, 'every attempt carried the same idempotency key');
});

test('503 + Retry-After and 429 + Retry-After injected by ctx.route: no attempt before Retry-After', needsOutbox, async (t) => {
  const world = await startWorld({ worker: { retry: { baseDelayMs: 200, jitter: 'none' } } });
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  const answers = [
    { status: 503, headers: { 'Retry-After': '3' } }, // the page's own request (network first): queued
    { status: 503, headers: { 'Retry-After': '3' } },
    { status: 429, headers: { 'Retry-After': '2' } },
  ];
  const attempts = [];
  await world.context.route('**/api/notes', async (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    attempts.push(Date.now());
    const answer = answers.shift();
    if (!answer) return route.fallback();
    return route.fulfill({ ...answer, contentType: 'application/json', body: '{"error":"busy"}' });
  });
  const first = await world.page.evaluate(() => window.postNote('mind the gap'));
  assert.equal(first.status, 202, 'a 503 on a routed request is queued');
  const notes = await until(async () => { const n = await world.notes(); return n.length ? n : null; },
    'the note at the server', 20000).catch(async (error) => {
    throw new Error(`${error.message}; attempts at ${attempts.map((a) => a - attempts[0]).join(', ')} ms; `
      + `events ${JSON.stringify(await world.events())}; stats ${JSON.stringify(await world.stats())}`);
  });
  assert.deepEqual(notes.map((n) => n.text), ['mind the gap']);
  assert.equal(attempts.length, 4, `attempts at ${attempts.map((a) => a - attempts[0]).join(', ')} ms`);
  assert.ok(attempts[2] - attempts[1] >= 3000, `after 503 + Retry-After: 3 the next attempt came ${attempts[2] - attempts[1]} ms later`);
  assert.ok(attempts[3] - attempts[2] >= 2000, `after 429 + Retry-After: 2 the next attempt came ${attempts[3] - attempts[2]} ms later`);
  const events = await world.events();
  const scheduled = events.filter((e) => e.type === 'retry-scheduled').map((e) => e.code);
  assert.deepEqual(scheduled, ['http-503', 'http-429']);
});

test('wake-ups are bounded per minute whatever the network does', needsOutbox, async (t) => {
  const limit = 5;
  const world = await startWorld({ worker: { retry: { baseDelayMs: 1, factor: 1, jitter: 'none', maxAttempts: 1000 },
    maxWakeupsPerMinute: limit, syncBudgetMs: 4000, minWaitMs: 50 } });
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();
  await world.api('POST', '/api/switches', { mode: '503' });
  const queued = await world.page.evaluate(() => window.postNote('flaky network'));
  assert.equal(queued.status, 202);
  // Every wake-up source at once: page flush requests, sync events, and the worker's own sync loop.
  const replies = await world.page.evaluate(async () => {
    const out = [];
    for (let i = 0; i < 30; i += 1) out.push(await window.sp.flush().catch((e) => ({ error: e.code })));
    return out;
  });
  for (let i = 0; i < 5; i += 1) await world.dispatchSync('sealpost:notes', false);
  await sleep(5000);
  const throttled = replies.filter((r) => r.throttled === true).length;
  assert.ok(throttled >= 30 - limit, `${throttled} of 30 page flushes were throttled`);
  const stats = await world.stats();
  assert.ok(stats.wakeups.lastMinute <= limit, JSON.stringify(stats.wakeups));
  const attempts = (await noteLog(world)).length;
  // One attempt for the page's own request, then at most one per wake-up.
  assert.ok(attempts <= 1 + limit, `${attempts} requests reached the server in a minute (limit ${limit})`);
  assert.deepEqual(await world.notes(), []);
});

test('the classic service-worker build (importScripts) queues offline and sends on sync', needsOutbox, async (t) => {
  const world = await startWorld();
  t.after(() => world.close());
  await world.open('/t/classic/index.html?flushOn=none');
  const type = await world.page.evaluate(() => navigator.serviceWorker.controller.scriptURL);
  assert.match(type, /\/t\/classic\/sw\.js$/);
  await world.context.setOffline(true);
  const answer = await world.page.evaluate(() => window.postNote('classic note'));
  assert.equal(answer.status, 202);
  await world.context.setOffline(false);
  const notes = await until(async () => { const n = await world.notes(); return n.length ? n : null; }, 'the note at the server');
  assert.deepEqual(notes.map((n) => n.text), ['classic note']);
  assert.deepEqual(world.csp, []);
});

test('the worker stopped in the middle of a flush, the browser closed and relaunched: nothing lost, nothing doubled', needsOutbox, async (t) => {
  const texts = ['one', 'two', 'three', 'four', 'five'].map((w) => `note ${w}`);
  // A short request timeout keeps the lease of the interrupted attempt short (timeout + 5 s).
  const worker = { retry: { ...FAST_WORKER.retry, requestTimeoutMs: 2000 } };
  const world = await startWorld({ worker });
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();
  await world.context.setOffline(true);
  for (const text of texts) assert.equal((await world.page.evaluate((x) => window.postNote(x), text)).status, 202);

  // The third request of the flush reaches the server, which stores it; the worker is stopped before
  // the answer comes back, so its entry is still unsent when the next worker life starts.
  let attempts = 0;
  let stopped = null;
  await world.context.route('**/api/notes', async (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    attempts += 1;
    if (attempts !== 3) return route.fallback();
    const response = await route.fetch(); // reaches the server, with the request's idempotency key
    stopped = world.stopAllWorkers();
    await stopped;
    return route.fulfill({ response }).catch(() => {}); // nobody is left to read it
  });
  await world.context.setOffline(false);
  await until(() => stopped, 'the worker stopped mid-flush');
  await sleep(500);
  const before = (await world.notes()).map((n) => n.text);
  assert.deepEqual(before, texts.slice(0, 3), 'the flush was cut short after the third note');
  await world.close({ keepProfile: true, keepServer: true });

  // The same profile and the same server: the next worker life finishes the job.
  const again = await startWorld({ profile: world.browser.profile, demo: world.demo, dataDir: world.dataDir });
  t.after(async () => {
    await again.close();
    await world.demo.close();
  });
  await again.open('/t/harness.html');
  const notes = await until(async () => {
    const n = await again.notes();
    return n.length >= texts.length ? n : null;
  }, 'every note at the server after the restart', 30000);
  await sleep(500);
  assert.deepEqual((await again.notes()).map((n) => n.text), texts, 'each once, in order');
  assert.equal(notes.length, texts.length);
  const { duplicates } = await again.api('GET', '/api/notes');
  assert.ok(duplicates >= 1, 'the unanswered request was sent again and de-duplicated by its key');
  const stats = await again.stats();
  assert.equal(stats.queues.notes.pending + stats.queues.notes.inflight + stats.queues.notes.dead, 0);
});

test('a worker started while offline loads sealpost.wasm from Cache Storage and still queues', needsOutbox, async (t) => {
  const world = await startWorld();
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();
  const cached = await world.page.evaluate(async () => (await caches.open('sealpost-wasm')).keys().then((k) => k.map((r) => r.url)));
  assert.equal(cached.length, 1);
  assert.match(cached[0], /\/sealpost\.wasm$/);
  await world.context.setOffline(true);
  await world.stopAllWorkers();
  const answer = await world.page.evaluate(() => window.postNote('cold start in a tunnel'));
  assert.equal(answer.status, 202, JSON.stringify(answer));
  await world.context.setOffline(false);
  await world.dispatchSync('sealpost:notes');
  const notes = await until(async () => { const n = await world.notes(); return n.length ? n : null; }, 'the note at the server');
  assert.deepEqual(notes.map((n) => n.text), ['cold start in a tunnel']);
});

test('a stopped worker started by a navigation it does not route loads no Wasm when nothing is queued; a routed POST then does', needsOutbox, async (t) => {
  const world = await startWorld();
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();
  assert.equal((await world.page.evaluate(() => window.postNote('through'))).status, 201);
  assert.equal((await world.stats()).queues.notes.pending, 0, 'nothing queued');
  // Without the precached copy, loading the module fetches it and puts it back in Cache Storage: its
  // presence says whether a worker life loaded it.
  const cached = () => world.page.evaluate(() => caches.has('sealpost-wasm'));
  await world.page.evaluate(() => caches.delete('sealpost-wasm'));
  assert.equal(await cached(), false);
  await world.stopAllWorkers();
  await until(() => world.versions?.every((v) => v.runningStatus === 'stopped'), 'the worker stopped');
  await world.open('/t/harness.html?flushOn=none'); // a navigation, then the page's scripts, through the worker
  await until(() => world.versions?.some((v) => v.runningStatus === 'running'), 'the worker running again');
  await sleep(1500); // the start-of-life flush has long ended (it read one IndexedDB database)
  assert.equal(await cached(), false, 'the worker life did not load sealpost.wasm');
  assert.equal((await world.page.evaluate(() => window.postNote('routed'))).status, 201);
  await until(() => cached(), 'the routed request loaded it (and put it back in Cache Storage)');
  assert.deepEqual((await world.notes()).map((n) => n.text), ['through', 'routed']);
});
