// sealpost/workbox in Debian's Chromium, with the real workbox-routing and workbox-strategies: SealpostPlugin
// in NetworkOnly and NetworkFirst queues offline writes (202) and the sync event delivers each once; and
// against Workbox's BackgroundSyncPlugin, a 500 on replay and a worker stopped mid-replay lose a write
// there and not here (BackgroundSyncPlugin queues only on network errors and deletes an entry before
// replaying it: workbox issue #2599).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

import { createDemoServer } from '../../sw-demo/server.js';
import { fixtures, startWorld, until, sleep } from './sw-setup.js';

const here = fileURLToPath(new URL('./fixtures/workbox/', import.meta.url));

/** Bundles each fixture worker into dir/<name>/sw.js beside a harness page controlled by it. */
async function bundleWorkers(dir, names) {
  for (const name of names) {
    mkdirSync(join(dir, name), { recursive: true });
    await build({
      entryPoints: [join(here, `sw-${name}.js`)], bundle: true, format: 'esm', target: 'es2022',
      define: { 'process.env.NODE_ENV': '"production"' }, outfile: join(dir, name, 'sw.js'), logLevel: 'warning',
    });
    writeFileSync(join(dir, name, 'index.html'), `<!doctype html>
<html lang="en" data-sw="/w/${name}/sw.js" data-type="module" data-scope="/w/${name}/">
<head><meta charset="utf-8"><title>${name}</title><script type="module" src="/t/harness.js"></script></head>
<body><p>${name}</p></body></html>
`);
  }
}

/** A demo server that also serves the bundled workers under /w/, and Chromium on it. */
async function workboxWorld(t, names) {
  const dataDir = mkdtempSync(join(tmpdir(), 'sealpost-workbox-'));
  await bundleWorkers(join(dataDir, 'w'), names);
  const demo = await createDemoServer({
    port: 0, dataFile: join(dataDir, 'demo.json'), mounts: [['/t/', fixtures], ['/w/', join(dataDir, 'w')]],
  });
  const world = await startWorld({ demo, dataDir });
  t.after(async () => {
    await world.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return world;
}

/** A page of its own for each worker, and CDP to fire sync events at its registration and stop workers. */
async function openPages(world, names) {
  const cdp = await world.context.newCDPSession(world.page);
  const registrations = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
    for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  const pages = {};
  for (const name of names) {
    const page = name === names[0] ? world.page : await world.context.newPage();
    await page.goto(`${world.demo.url}/w/${name}/index.html?flushOn=none`);
    const ready = await page.evaluate(() => window.harnessReady);
    assert.equal(ready, true, String(ready));
    const scope = `${world.demo.url}/w/${name}/`;
    const registrationId = await until(() => registrations.get(scope), `the registration of ${scope}`);
    pages[name] = {
      page,
      post: (text, path) => page.evaluate(([x, p]) => window.postNote(x, undefined, p), [text, path]),
      sync: (tag) => cdp.send('ServiceWorker.dispatchSyncEvent', { origin: world.demo.url, registrationId, tag, lastChance: false }),
      start: () => cdp.send('ServiceWorker.startWorker', { scopeURL: scope }),
    };
  }
  return { pages, stopAllWorkers: () => cdp.send('ServiceWorker.stopAllWorkers') };
}

const step = (what) => { if (process.env.SEALPOST_TRACE) console.error(`${new Date().toISOString()} ${what}`); };

const texts = async (world) => (await world.notes()).map((n) => n.text);

test('SealpostPlugin in NetworkOnly and NetworkFirst: offline writes get 202, the sync event delivers each once with its entry key', async (t) => {
  const started = Date.now();
  const world = await workboxWorld(t, ['sealpost']);
  const { pages } = await openPages(world, ['sealpost']);
  const { post } = pages.sealpost;

  const online = await post('sent at once');
  assert.equal(online.status, 201, JSON.stringify(online));
  assert.equal(online.queued, null);

  await world.context.setOffline(true);
  const only = await post('queued by NetworkOnly');
  const first = await post('queued by NetworkFirst', '/api/notes?via=network-first');
  for (const [answer, queue] of [[only, 'notes'], [first, 'notes-first']]) {
    assert.equal(answer.status, 202, JSON.stringify(answer));
    assert.deepEqual({ queued: answer.body.queued, queue: answer.body.queue }, { queued: true, queue });
    assert.equal(answer.queued, answer.body.id, 'Sealpost-Queued names the entry');
  }
  const stats = await world.stats();
  assert.equal(stats.queues.notes.pending + stats.queues.notes.inflight, 1, JSON.stringify(stats));
  assert.equal(stats.queues['notes-first'].pending + stats.queues['notes-first'].inflight, 1);

  await world.context.setOffline(false);
  await until(async () => (await texts(world)).length >= 3, 'the queued notes at the server', 20000);
  await sleep(500);
  assert.deepEqual((await texts(world)).sort(), ['queued by NetworkFirst', 'queued by NetworkOnly', 'sent at once'],
    'each note once');
  const log = (await world.api('GET', '/api/log')).log.filter((e) => e.path === '/api/notes' && e.status === 201);
  assert.ok(log.some((e) => e.key === only.body.id), 'the replay carried the entry id as its Idempotency-Key');
  assert.ok(log.some((e) => e.key === first.body.id));
  const events = await world.events();
  assert.ok(events.some((e) => e.type === 'flushed' && e.trigger === 'sync' && e.sent > 0), JSON.stringify(events));
  const after = await world.stats();
  assert.equal(after.queues.notes.pending + after.queues['notes-first'].pending, 0);
  t.diagnostic(`${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('a 500 on replay and a worker stopped mid-replay: BackgroundSyncPlugin loses both writes, SealpostPlugin delivers both', async (t) => {
  const started = Date.now();
  const world = await workboxWorld(t, ['bgsync', 'sealpost']);
  const { pages, stopAllWorkers } = await openPages(world, ['bgsync', 'sealpost']);
  const bgsyncCount = () => pages.bgsync.page.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open('workbox-background-sync');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const count = db.transaction('requests').objectStore('requests').count();
      count.onsuccess = () => { db.close(); resolve(count.result); };
    };
  }));

  for (const name of ['bgsync', 'sealpost']) {
    const { post, sync, start } = pages[name];
    const tag = name === 'bgsync' ? 'workbox-background-sync:notes' : 'sealpost:notes';

    // 1. Queued offline; the first replay is answered 500.
    step(`${name}: 500`);
    await world.context.setOffline(true);
    const queued = await post(`${name}: 500 on replay`);
    assert.equal(queued.status, name === 'bgsync' ? 0 : 202, JSON.stringify(queued));
    if (name === 'bgsync') assert.equal(await bgsyncCount(), 1, 'BackgroundSyncPlugin queued it');
    const replays = [];
    await world.context.route('**/api/notes', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      replays.push(Date.now());
      return replays.length === 1
        ? route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":"server error"}' })
        : route.fallback();
    });
    await world.context.setOffline(false);
    step(`${name}: online`);
    await until(() => replays.length >= 1, `${name}: the replay`, 15000);
    if (name === 'sealpost') {
      await until(async () => (await texts(world)).includes('sealpost: 500 on replay'), 'the retry after the 500', 15000);
    } else {
      await sleep(1500);
      await sync(tag); // another chance: there is nothing left to replay
      await sleep(1500);
      assert.equal(replays.length, 1, 'BackgroundSyncPlugin never sent it again');
      assert.equal(await bgsyncCount(), 0, 'BackgroundSyncPlugin deleted the entry after the 500');
    }
    await world.context.unrouteAll({ behavior: 'ignoreErrors' });

    // 2. Queued offline; the worker is stopped while the replay is on the wire (it never reaches the server).
    await world.context.setOffline(true);
    const second = await post(`${name}: stopped mid-replay`);
    assert.equal(second.status, name === 'bgsync' ? 0 : 202, JSON.stringify(second));
    let held = null;
    let arrived;
    const onWire = new Promise((resolve) => { arrived = resolve; });
    await world.context.route('**/api/notes', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      if (held) return route.fallback();
      held = route;
      arrived();
      return undefined;
    });
    await world.context.setOffline(false);
    step(`${name}: online, waiting for the replay`);
    await onWire;
    step(`${name}: stopping`);
    await stopAllWorkers();
    step(`${name}: stopped`);
    await held.abort('failed').catch(() => {});
    step(`${name}: aborted`);
    // (Started again before the context's network changes: CDP's setOffline waits on a stopped worker.)
    for (const other of Object.values(pages)) await other.start();
    if (name === 'sealpost') {
      // A new worker life (the page's flush message): it takes over the lease once it expires (2 s + 5 s).
      await pages.sealpost.page.evaluate(() => window.sp.flush());
      step(`${name}: flush asked`);
      await until(async () => (await texts(world)).includes('sealpost: stopped mid-replay'),
        'the write after the stopped replay', 25000);
    } else {
      assert.equal(await bgsyncCount(), 0, 'BackgroundSyncPlugin deleted the entry before the replay it lost');
    }
  }
  await sleep(500);
  const atServer = await texts(world);
  assert.deepEqual(atServer.filter((x) => x.startsWith('bgsync')), [], 'BackgroundSyncPlugin lost both writes');
  assert.deepEqual(atServer.filter((x) => x.startsWith('sealpost')).sort(),
    ['sealpost: 500 on replay', 'sealpost: stopped mid-replay'], 'SealpostPlugin delivered each once');
  t.diagnostic(`${((Date.now() - started) / 1000).toFixed(1)} s`);
});
