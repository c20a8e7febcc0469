// The scenarios the Firefox and WebKit suites share, written against a small driver (firefox.js,
// webkit.js). Neither engine has Background Sync, so every queued request here is delivered by one rung of
// the fallback ladder, each on its own: the page's `online`, its `visibilitychange`, the next routed
// request, a page-asked flush (sealpost:flush), and a new worker life. Each replay must arrive once, in
// order within its group, byte-exact with its content type (a JSON body, and a ~200 KB binary one that
// is sealed as a chunk stream).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { sealPush } from '../../../js/server.js';
import { makeRequest, BINARY_BYTES, FORM_FILE, FORM_TEXT, STREAM_CHUNKS, pattern } from '../fixtures/engines/bodies.js';
import { startApp } from './app.js';
import { sleep, until } from '../sw-setup.js';

/**
 * @typedef {object} Driver  one browser, one page (tab) that the scenarios drive
 * @property {string} name
 * @property {string} version
 * @property {(url: string) => Promise<void>} open            navigate the page and wait for its load event
 * @property {(fn: Function, ...args: any[]) => Promise<any>} evaluate  run fn (may be async) in the page; JSON in and out
 * @property {() => Promise<void>} reload
 * @property {(visible: boolean) => Promise<void>} setVisible  make the page hidden or visible (visibilitychange)
 * @property {(online: boolean) => Promise<void>} setOnline   fire the page's offline/online
 * @property {(whileStopped?: () => unknown) => Promise<void>} newWorkerLife  end the worker's life, run
 *   `whileStopped`, and leave the page at its URL; the worker's next event starts a new life
 * @property {() => (string[] | Promise<string[]>)} consoleErrors  errors and CSP violations seen so far
 * @property {() => Promise<void>} close
 */

/**
 * The worker options of the suites: quick retries, and no wake-up limit in the way of six rungs a minute.
 * A start-of-life flush is one round (the wait before a second round, minWaitMs, is past its budget): a life
 * that began while the server failed cannot deliver later, so only a new life can.
 */
export const WORKER = {
  retry: { baseDelayMs: 200, factor: 1.5, maxDelayMs: 1000, jitter: 'none' },
  startupBudgetMs: 5000,
  minWaitMs: 3000,
  maxWakeupsPerMinute: 120,
  networkTimeoutMs: 8000,
};

/** How long nothing may happen before a rung is pulled. */
const QUIET_MS = 1500;

/** No single scenario takes this long (a stuck driver call fails its test, not the whole run). */
const ONE_TEST = { timeout: 120000 };

/** What one ladder run queues: JSON and binary in group a (in this order), JSON in group b. */
const QUEUED = [
  { group: 'a', n: 1, kind: 'json' },
  { group: 'a', n: 2, kind: 'binary' },
  { group: 'b', n: 1, kind: 'json' },
  { group: 'a', n: 3, kind: 'json' },
];

/** Opens a fixture page of `build` and waits until the worker controls it. */
async function openApp(driver, app, build, query = '') {
  await driver.open(`${app.url}/t/engines/${build}.html${query}`);
  await harnessReady(driver);
}

/** Waits until the page's harness has run and the worker controls the page. */
async function harnessReady(driver) {
  const ready = await until(() => driver.evaluate(() => (window.harnessReady && window.engine
    ? window.harnessReady : null)), 'the harness page', 30000, 100);
  assert.equal(ready, true, `the worker controls the page: ${ready}`);
}

const events = (driver) => driver.evaluate(() => window.events);
/** The `queued` event the worker broadcast for entry `id` (null if none came within 5 s). */
const queuedEvent = (driver, id) => driver.evaluate((x) => window.waitForEvent((e) => e.type === 'queued' && e.id === x, 5000), id);
const stats = (driver) => driver.evaluate(() => window.sp.stats());
const live = (s) => s.queues.records.pending + s.queues.records.inflight;

/**
 * Waits until the worker is quiet and every queued entry is due: no attempt reached the server and no flush
 * ended for QUIET_MS, nothing is in flight, and the earliest entry's time has come (the worker's clock is
 * this machine's). A flush that is still between two attempts would otherwise deliver once the server is
 * back, before the rung is pulled.
 */
async function untilQuiet(driver, app, run) {
  let last = null;
  let since = Date.now();
  return until(async () => {
    const s = await stats(driver);
    const flushed = (await events(driver)).filter((e) => e.type === 'flushed').length;
    const now = `${app.log.filter((e) => e.run === run).length}/${flushed}`;
    if (now !== last) {
      last = now;
      since = Date.now();
    }
    const { inflight, nextAttemptAt } = s.queues.records;
    return Date.now() - since >= QUIET_MS && inflight === 0 && nextAttemptAt !== null && nextAttemptAt <= Date.now() ? s : null;
  }, 'the worker to be quiet with the queued entries due', 30000, 250);
}

/**
 * POSTs `specs` while the server fails with `fault`: each answers 202 + Sealpost-Queued naming its entry,
 * and the server applies none. → the queued requests, each with its entry id.
 */
async function queueWhileFailing(driver, app, run, specs, fault) {
  app.setFault(fault);
  const queued = [];
  for (const spec of specs) {
    const full = { run, ...spec };
    const answer = await driver.evaluate((s) => window.engine.post(s), full);
    assert.equal(answer.status, 202, `${run} ${spec.group}${spec.n}: ${JSON.stringify(answer)}`);
    assert.equal(answer.body.queued, true);
    assert.equal(answer.body.queue, 'records');
    assert.match(answer.queued ?? '', /^[0-9a-f]{32}$/, 'Sealpost-Queued names the entry');
    assert.equal(answer.queued, answer.body.id);
    queued.push({ ...full, id: answer.queued });
  }
  assert.equal(new Set(queued.map((q) => q.id)).size, queued.length);
  const seen = app.log.filter((e) => e.run === run);
  assert.ok(seen.length >= 1, 'the first request reached the failing server');
  assert.ok(seen.every((e) => e.outcome === (fault === 'drop' ? 'dropped' : '503')), JSON.stringify(seen));
  const reason = fault === 'drop' ? 'network' : 'http-503';
  const first = await queuedEvent(driver, queued[0].id);
  assert.equal(first?.reason, reason, `the first request was queued for its ${reason}: ${JSON.stringify(first)}`);
  assert.equal(live(await stats(driver)), specs.length, 'every request is queued');
  return queued;
}

/**
 * What the server accepted from `run` is exactly `queued`: each once (its entry id as Idempotency-Key),
 * in order within its group, byte-exact, with its content type and its headers.
 */
async function assertDelivered(driver, app, run, queued) {
  await until(() => app.accepted(run).length >= queued.length, `${queued.length} requests of ${run} at the server`, 30000, 100);
  await sleep(500); // nothing more arrives
  const accepted = app.accepted(run);
  assert.equal(accepted.length, queued.length, 'each request applied once');
  const duplicates = app.log.filter((e) => e.run === run && e.outcome === 'duplicate');
  assert.deepEqual(duplicates, [], 'no request was sent twice');
  assert.deepEqual(new Set(accepted.map((r) => r.key)), new Set(queued.map((q) => q.id)),
    'each carried its entry id as Idempotency-Key');
  for (const group of new Set(queued.map((q) => q.group))) {
    assert.deepEqual(accepted.filter((r) => r.group === group).map((r) => r.key),
      queued.filter((q) => q.group === group).map((q) => q.id), `in order within group ${group}`);
  }
  for (const q of queued) {
    const got = accepted.find((r) => r.key === q.id);
    const want = makeRequest(q);
    assert.equal(got.contentType, want.contentType, `${q.group}${q.n}: content-type`);
    assert.equal(got.canary, want.headerCanary, `${q.group}${q.n}: the app's header`);
    assert.equal(got.bytes.length, want.bytes.length, `${q.group}${q.n}: body length`);
    assert.ok(Buffer.from(want.bytes).equals(got.bytes), `${q.group}${q.n}: body bytes (${q.kind})`);
  }
  const s = await stats(driver);
  assert.equal(live(s) + s.queues.records.dead, 0, 'nothing left in the outbox');
}

/** The server's log of one run, counted by outcome. */
function attempts(app, run) {
  const counts = {};
  for (const e of app.log.filter((x) => x.run === run)) counts[e.outcome] = (counts[e.outcome] ?? 0) + 1;
  return `server saw ${JSON.stringify(counts)}`;
}

/** The `flushed` events since `mark` that sent something. */
async function deliveringFlushes(driver, mark) {
  return (await events(driver)).slice(mark).filter((e) => e.type === 'flushed' && e.sent > 0);
}

/** Every byte value and every string of an IndexedDB dump (fixtures/engines/page.js). */
function atRest(dumpJson) {
  const buffers = [];
  const strings = [];
  const walk = (value) => {
    if (typeof value === 'string') strings.push(value);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      if (typeof value.$bytes === 'string') buffers.push(Buffer.from(value.$bytes, 'base64'));
      else Object.values(value).forEach(walk);
    }
  };
  walk(JSON.parse(dumpJson));
  return { buffers: [...buffers, Buffer.from(strings.join('\n'), 'utf8')], rows: JSON.parse(dumpJson).length };
}

const found = (rest, needle) => rest.buffers.some((b) => b.indexOf(Buffer.from(needle)) !== -1);

/**
 * No URL, header or body plaintext of `queued` in any IndexedDB database of the origin; a control row
 * written in plaintext is found, so the search would see it.
 */
async function assertNothingPlainAtRest(driver, queued) {
  await driver.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open('engine-suite-control');
    req.onupgradeneeded = () => req.result.createObjectStore('rows');
    req.onsuccess = () => {
      const tx = req.result.transaction('rows', 'readwrite');
      tx.objectStore('rows').put({ text: 'control-canary-text', bytes: new TextEncoder().encode('control-canary-bytes') }, 1);
      tx.oncomplete = () => { req.result.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
    req.onerror = () => reject(req.error);
  }));
  const rest = atRest(await driver.evaluate(() => window.engine.dumpIndexedDB()));
  assert.ok(found(rest, 'control-canary-text') && found(rest, 'control-canary-bytes'), 'the search sees plaintext where there is some');
  const total = rest.buffers.reduce((sum, b) => sum + b.length, 0);
  assert.ok(total > BINARY_BYTES, `the sealed records are in the dump (${total} bytes in ${rest.rows} rows)`);
  assert.ok(!found(rest, '/api/records'), 'no URL at rest');
  assert.ok(!found(rest, 'group=a&run='), 'no query string at rest');
  for (const q of queued) {
    const { headerCanary, canaries } = makeRequest(q);
    assert.ok(!found(rest, headerCanary), `no header value at rest (${headerCanary})`);
    for (const canary of canaries) assert.ok(!found(rest, canary), `no body plaintext at rest (${q.group}${q.n} ${q.kind})`);
  }
}

/**
 * A multipart/form-data body as the server got it agrees with the boundary of its content type and holds
 * the FormData case's two parts intact.
 */
function assertFormData(got) {
  const boundary = /^multipart\/form-data; ?boundary=(.+)$/.exec(got.contentType ?? '')?.[1];
  assert.ok(boundary, `a multipart content type with its boundary: ${got.contentType}`);
  const text = got.bytes.toString('latin1');
  assert.ok(text.startsWith(`--${boundary}\r\n`) && text.endsWith(`--${boundary}--\r\n`), 'framed by its boundary');
  assert.ok(got.bytes.includes(Buffer.from(`name="note"\r\n\r\n${FORM_TEXT}\r\n--${boundary}`)), 'the text part');
  const head = `name="file"; filename="${FORM_FILE.name}"\r\nContent-Type: ${FORM_FILE.type}\r\n\r\n`;
  const at = text.indexOf(head);
  assert.ok(at > 0, 'the file part\'s headers');
  const file = got.bytes.subarray(at + head.length, at + head.length + FORM_FILE.length);
  assert.ok(Buffer.from(pattern(FORM_FILE.length, FORM_FILE.seed)).equals(file), 'the file part byte for byte');
  assert.equal(got.bytes.subarray(at + head.length + FORM_FILE.length).toString('latin1'), `\r\n--${boundary}--\r\n`);
}

/**
 * Every body type and method, queued while the server drops connections and sent by a page-asked flush:
 * each arrives once, in order, with the bytes and content type the browser makes of the same init. A
 * ReadableStream body the engine refuses must fail clearly in the page and leave nothing stored.
 * → a line saying what the engine did with the stream.
 */
async function bodyTypesRun(driver, app, build) {
  const run = `bodies-${build}`;
  await openApp(driver, app, build, '?flushOn=none');
  assert.equal(live(await stats(driver)), 0, 'the outbox starts empty');
  app.setFault('drop');
  const answers = await driver.evaluate((r) => window.engine.bodyCases(r), run);
  const queued = answers.filter((a) => a.status === 202);
  const refused = answers.filter((a) => a.status !== 202);
  assert.deepEqual(refused.filter((a) => a.label !== 'stream'), [], 'every body but a stream is queued');
  for (const a of refused) {
    assert.ok(a.status === 0 && /^(TypeError|NotSupportedError): /.test(a.error), `a refused stream fails clearly: ${a.error}`);
  }
  for (const a of queued) assert.match(a.queued ?? '', /^[0-9a-f]{32}$/, a.label);
  assert.equal(live(await stats(driver)), queued.length, 'what was answered 202 is queued, nothing else');
  await untilQuiet(driver, app, run);
  app.setFault('none');
  await driver.evaluate(() => window.sp.flush());
  await until(() => app.accepted(run).length >= queued.length, `${queued.length} requests of ${run} at the server`, 30000, 100);
  await sleep(500);
  const accepted = app.accepted(run);
  assert.deepEqual(accepted.map((r) => r.label), queued.map((a) => a.label), 'each once, in the order they were made');
  for (const [i, got] of accepted.entries()) {
    const sent = queued[i];
    assert.equal(got.key, sent.queued, `${sent.label}: the entry id as Idempotency-Key`);
    assert.equal(got.method, sent.method, `${sent.label}: method`);
    if (sent.label === 'formdata') {
      assertFormData(got);
    } else {
      assert.equal(got.contentType, sent.expected.contentType, `${sent.label}: content-type`);
      assert.ok(Buffer.from(sent.expected.bytes, 'base64').equals(got.bytes), `${sent.label}: body bytes`);
    }
  }
  assert.equal(live(await stats(driver)), 0, 'nothing left in the outbox');
  // What the engine makes of a ReadableStream body: its bytes, or (no stream bodies) something else.
  const stream = answers.find((a) => a.label === 'stream');
  if (stream.status !== 202) return `a ReadableStream body (duplex: 'half') is refused in the page (${stream.error}); nothing was stored`;
  const streamBytes = Buffer.concat(STREAM_CHUNKS.map(([n, seed]) => pattern(n, seed)));
  const made = Buffer.from(stream.expected.bytes, 'base64');
  if (made.equals(streamBytes)) {
    assert.equal(stream.expected.contentType, null, 'no content type was given for the stream, none is added');
    return "a ReadableStream body (duplex: 'half') was queued and replayed byte for byte";
  }
  return `this engine has no stream request bodies: a ReadableStream body (duplex: 'half') is sent as ${
    JSON.stringify(made.toString('latin1').slice(0, 40))} (${stream.expected.contentType}) with or without sealpost, and sealpost keeps exactly that`;
}

/** The rungs of the ladder: how each is pulled, and the flush trigger that must have delivered. */
const RUNGS = {
  online: {
    title: "the page's `online` (sealpost/page flushOn)",
    query: '', // connectSealpost's default flushOn: online and visibilitychange
    async pull({ driver }) {
      await driver.setOnline(false);
      await sleep(200);
      await driver.setOnline(true);
      const asked = await driver.evaluate(() => window.waitForEvent((e) => e.type === 'page-flush' && e.reason === 'online', 20000));
      assert.ok(asked, 'the page asked for a flush on online');
    },
    trigger: 'message',
  },
  visible: {
    title: "the page's `visibilitychange` to visible (sealpost/page flushOn)",
    query: '',
    async pull({ driver }) {
      await driver.setVisible(false);
      await until(() => driver.evaluate(() => document.visibilityState === 'hidden'), 'the page hidden', 10000);
      await driver.setVisible(true);
      const asked = await driver.evaluate(() => window.waitForEvent((e) => e.type === 'page-flush' && e.reason === 'visible', 20000));
      assert.ok(asked, 'the page asked for a flush when visible again');
    },
    trigger: 'message',
  },
  route: {
    title: 'the next routed request (fifo: it waits behind the queue, which is flushed)',
    query: '?flushOn=none',
    async pull({ driver, run, queued }) {
      const next = { run, group: 'a', n: 4, kind: 'json' };
      const answer = await driver.evaluate((s) => window.engine.post(s), next);
      assert.equal(answer.status, 202, `the next request waits its turn: ${JSON.stringify(answer)}`);
      assert.equal((await queuedEvent(driver, answer.queued))?.reason, 'behind-queue');
      queued.push({ ...next, id: answer.queued });
    },
    trigger: 'route',
  },
  flush: {
    title: 'a page-asked flush (sealpost:flush)',
    query: '?flushOn=none',
    async pull({ driver, queued }) {
      const summary = await driver.evaluate(() => window.sp.flush());
      assert.equal(summary.sent, queued.length, JSON.stringify(summary));
      assert.equal(summary.remaining, 0);
    },
    trigger: 'message',
  },
  life: {
    title: 'a new worker life (its first event flushes)',
    query: '?flushOn=none',
    // The server comes back only once the worker is gone: no flush of the old life can deliver.
    restoresServer: true,
    async pull({ driver, app }) {
      // WebKit comes back by navigating (that fetch is the new life's first event); Firefox never left, and
      // this message is the new life's first event.
      await driver.newWorkerLife(() => app.setFault('none'));
      await harnessReady(driver);
      await driver.evaluate(() => window.sp.stats());
    },
    trigger: 'start:',
  },
};

/**
 * One rung: queue while the server fails, let the entries fall due, bring the server back, pull the rung,
 * and check the delivery and what delivered it.
 */
async function ladderRun(driver, app, build, rungName, fault, { dump = false } = {}) {
  const rung = RUNGS[rungName];
  const run = `${rungName}-${build}`;
  await openApp(driver, app, build, rung.query);
  assert.equal(live(await stats(driver)), 0, 'the outbox starts empty');
  const queued = await queueWhileFailing(driver, app, run, QUEUED, fault);
  if (dump) await assertNothingPlainAtRest(driver, queued);
  await untilQuiet(driver, app, run);
  if (!rung.restoresServer) app.setFault('none');
  const mark = (await events(driver)).length;
  await rung.pull({ driver, app, build, run, queued });
  await assertDelivered(driver, app, run, queued);

  // What delivered them: only this rung's flush (no sync event exists in these engines).
  const flushes = await deliveringFlushes(driver, mark);
  const all = await events(driver);
  assert.ok(!all.some((e) => e.trigger === 'sync' || e.type === 'sync-incomplete'), 'no sync event');
  if (rung.trigger === 'start:') {
    // The new life's first flush. Firefox: its broadcast reaches the open page. WebKit: the navigation
    // back is that first event and may come before the page listens; the new life's limiter counts it (a
    // worker that lived on would count the route flushes of the failing phase too: bySource is per life).
    const { wakeups } = await stats(driver);
    const sources = Object.entries(wakeups.bySource).filter(([, n]) => n > 0).map(([s]) => s);
    const byEvent = flushes.filter((e) => e.trigger.startsWith('start:'));
    assert.ok(flushes.every((e) => e.trigger.startsWith('start:')), `only start-of-life flushes sent: ${JSON.stringify(flushes)}`);
    assert.ok(byEvent.length > 0 || (sources.length > 0 && sources.every((s) => s.startsWith('start:'))),
      `a start-of-life flush sent them: events ${JSON.stringify(flushes)}, wake-ups ${JSON.stringify(wakeups)}`);
    return { evidence: `${attempts(app, run)}; delivered by ${byEvent.length
      ? `the broadcast flushed ${JSON.stringify(byEvent.map((e) => [e.trigger, e.sent]))}`
      : `the new life's wake-ups ${JSON.stringify(wakeups.bySource)} (its broadcast came before the page)`}` };
  }
  assert.ok(flushes.length > 0, `a flush sent them: ${JSON.stringify(all.slice(mark))}`);
  assert.deepEqual([...new Set(flushes.map((e) => e.trigger))], [rung.trigger],
    `only the ${rung.trigger} flush sent: ${JSON.stringify(flushes)}`);
  assert.equal(flushes.reduce((sum, e) => sum + e.sent, 0), queued.length);
  return { evidence: `${attempts(app, run)}; delivered by flushed ${JSON.stringify(flushes.map((e) => [e.trigger, e.sent]))}` };
}

/**
 * The suite of one engine.
 * @param {{engine: string, launch: () => Promise<Driver>, launchForWorkerLife?: () => Promise<Driver>,
 *   builds: Array<'module' | 'classic'>, csp: boolean, notifications: boolean}} options
 *   launchForWorkerLife: a second browser for the new-worker-life rung (Firefox: idle-timeout prefs);
 *   csp: whether the engine enforces CSP on Wasm (so the demo's CSP is checked);
 *   notifications: whether showNotification works here (WebKit under automation refuses it)
 */
export function engineSuite({ engine, launch, launchForWorkerLife, builds, csp, notifications }) {
  describe(engine, { timeout: 15 * 60 * 1000 }, () => {
    /** @type {Driver} */
    let driver;
    /** @type {Driver | null} */
    let lifeDriver = null;
    const apps = {};
    let demoApp;
    const started = Date.now();

    before(async () => {
      driver = await launch();
      for (const build of builds) apps[build] = await startApp({ worker: WORKER });
      demoApp = await startApp();
    });

    after(async () => {
      const closing = [driver?.close(), lifeDriver?.close()];
      await Promise.allSettled(closing);
      await Promise.allSettled([demoApp?.close(), ...Object.values(apps).map((a) => a.close())]);
      process.stdout.write(`# ${engine} (${driver?.version}): ${Math.round((Date.now() - started) / 1000)} s\n`);
    });

    test(`the demo loads, its worker runs sealpost.wasm, and an online note is sent${csp ? ', with no CSP violation' : ''}`, ONE_TEST, async () => {
      await driver.open(`${demoApp.url}/`);
      await until(() => driver.evaluate(() => document.getElementById('worker-state')?.textContent.startsWith('Protected')),
        'the demo worker', 30000, 200);
      // The worker's Wasm (under the demo's script-src 'self' 'wasm-unsafe-eval') answers with the push key.
      const key = await driver.evaluate(() => new Promise((resolve) => {
        const { port1, port2 } = new MessageChannel();
        port1.onmessage = (e) => resolve(e.data);
        navigator.serviceWorker.controller.postMessage({ type: 'sealpost:push-key' }, [port2]);
      }));
      assert.match(key.publicKey ?? JSON.stringify(key), /^[A-Za-z0-9_-]{43}$/);
      await driver.evaluate(() => {
        document.getElementById('note-text').value = 'Heron by the lock, 7:40';
        document.querySelector('button[type="submit"]').click();
      });
      const notes = await until(async () => {
        const list = (await (await fetch(`${demoApp.url}/api/notes`)).json()).notes;
        return list.length ? list : null;
      }, 'the note at the server');
      assert.deepEqual(notes.map((n) => n.text), ['Heron by the lock, 7:40']);
      assert.ok(typeof notes[0].key === 'string' && notes[0].key.length > 0, 'sent through the route, with its key');
      // The page has its answer too: leaving while the worker still answers would cancel that fetch, which
      // Firefox logs as an error of the page.
      await until(() => driver.evaluate(() => document.querySelector('#notes [data-state="sent"]') !== null),
        'the note shown as sent', 10000, 100);
      if (csp) assert.deepEqual(await driver.consoleErrors(), [], 'no console error, no CSP violation');
    });

    for (const build of builds) {
      describe(`${build} worker`, () => {
        test('no Background Sync (nor periodic) here; an online POST through the route goes through (201), its body intact', ONE_TEST, async () => {
          const app = apps[build];
          await openApp(driver, app, build, '?flushOn=none');
          assert.deepEqual(await driver.evaluate(() => ['sync', 'periodicSync'].filter((api) => api in ServiceWorkerRegistration.prototype)),
            [], 'neither registration.sync nor registration.periodicSync exists');
          const run = `online-post-${build}`;
          for (const spec of [{ group: 'a', n: 1, kind: 'json' }, { group: 'a', n: 2, kind: 'binary' }]) {
            const answer = await driver.evaluate((s) => window.engine.post(s), { run, ...spec });
            assert.equal(answer.status, 201, JSON.stringify(answer));
            assert.equal(answer.queued, null);
          }
          const accepted = app.accepted(run);
          assert.equal(accepted.length, 2);
          for (const [i, got] of accepted.entries()) {
            const want = makeRequest({ run, group: 'a', n: i + 1, kind: i ? 'binary' : 'json' });
            assert.equal(got.contentType, want.contentType);
            assert.ok(Buffer.from(want.bytes).equals(got.bytes), `body ${i + 1}`);
            assert.match(got.key ?? '', /^[0-9a-f]{32}$/, 'the entry id as Idempotency-Key');
          }
          assert.equal(live(await stats(driver)), 0, 'the entries are gone once answered');
        });

        test('every body type and method (FormData with a file, Blob, ArrayBuffer, URLSearchParams, ReadableStream, empty POST, PUT, PATCH, DELETE), queued and replayed byte for byte with its content type', ONE_TEST, async (t) => {
          t.diagnostic(await bodyTypesRun(driver, apps[build], build));
        });

        test(`rung: ${RUNGS.online.title}, after the server dropped the connections`, ONE_TEST, async (t) => {
          t.diagnostic((await ladderRun(driver, apps[build], build, 'online', 'drop')).evidence);
        });

        test(`rung: ${RUNGS.visible.title}, after the server answered 503`, ONE_TEST, async (t) => {
          t.diagnostic((await ladderRun(driver, apps[build], build, 'visible', '503')).evidence);
        });

        test(`rung: ${RUNGS.route.title}, after the server dropped the connections`, ONE_TEST, async (t) => {
          t.diagnostic((await ladderRun(driver, apps[build], build, 'route', 'drop')).evidence);
        });

        test(`rung: ${RUNGS.flush.title}, after the server answered 503; while queued, IndexedDB holds no URL, header or body plaintext`, ONE_TEST, async (t) => {
          t.diagnostic((await ladderRun(driver, apps[build], build, 'flush', '503', { dump: true })).evidence);
        });

        test(`sealpost:deliver opens, verifies and de-duplicates sealed envelopes${notifications ? '' : '; a valid one that cannot be shown is display-failed and opens again'}`, ONE_TEST, async () => {
          const app = apps[build];
          await openApp(driver, app, build, '?flushOn=none');
          const { publicKey } = await driver.evaluate(() => window.sp.pushKey());
          const signer = app.demo.data.state.signer;
          const seal = (message, options = {}) => Buffer.from(sealPush({ recipientPublicKey: publicKey, signer, message,
            ...options })).toString('base64url');
          const deliver = (envelope) => driver.evaluate((e) => window.sp.deliver(e), envelope);
          const tag = `engine-${build}`;
          const valid = seal({ id: `m-${build}`, title: 'Anna replied', body: 'See you at the trailhead', tag, url: '/' });
          const tampered = Buffer.from(valid, 'base64url');
          tampered[tampered.length - 20] ^= 1;
          const unsigned = Buffer.from(sealPush({ recipientPublicKey: publicKey, message: { id: 'u-1', title: 'Who?' } }))
            .toString('base64url');
          const mark = (await events(driver)).length;

          const first = await deliver(valid);
          const second = await deliver(valid);
          const bad = [await deliver(tampered.toString('base64url')), await deliver(unsigned)];
          // The demo server's simulated delivery: it seals with the same signer.
          const simulated = await driver.evaluate(async (key, t) => {
            const res = await fetch('/api/push/simulate', { method: 'POST', headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ publicKey: key, message: { id: `sim-${t}`, title: 'Simulated', tag: `${t}-sim` } }) });
            return window.sp.deliver((await res.json()).envelope);
          }, publicKey, tag);

          if (notifications) {
            assert.deepEqual(first, { shown: true, tag, silent: false });
            assert.deepEqual(second, { shown: 'fallback', code: 'replayed' }, 'a second delivery is a replay');
            assert.deepEqual(bad, [{ shown: 'fallback', code: 'decrypt-failed' }, { shown: 'fallback', code: 'unsigned' }]);
            assert.deepEqual(simulated, { shown: true, tag: `${tag}-sim`, silent: false });
            const shown = await driver.evaluate((t) => window.notifications(t), tag);
            assert.deepEqual(shown.map((n) => [n.title, n.body, n.data.id]), [['Anna replied', 'See you at the trailhead', `m-${build}`]]);
          } else {
            // showNotification is refused: the valid message is display-failed, and its id is released so that
            // the next delivery opens it again instead of refusing it as a replay.
            // (Notification.permission reads 'default'; requestPermission() answers 'denied'.)
            assert.notEqual(await driver.evaluate(() => Notification.permission), 'granted');
            assert.deepEqual(first, { shown: false, code: 'display-failed' });
            assert.deepEqual(second, { shown: false, code: 'display-failed' }, 'opened again, not replayed');
            assert.deepEqual(bad, [{ shown: false, code: 'decrypt-failed' }, { shown: false, code: 'unsigned' }]);
            assert.deepEqual(simulated, { shown: false, code: 'display-failed' });
            const rejected = (await events(driver)).slice(mark).filter((e) => e.type === 'push-rejected');
            assert.deepEqual(rejected.map((e) => [e.code, e.id ?? null]), [
              ['display-failed', `m-${build}`], ['display-failed', `m-${build}`], ['decrypt-failed', null],
              ['unsigned', null], ['display-failed', `sim-${tag}`]]);
          }
        });

        test(`rung: ${RUNGS.life.title}, after the server dropped the connections`, ONE_TEST, async (t) => {
          let lifeDriverHere = driver;
          if (launchForWorkerLife) {
            lifeDriver ??= await launchForWorkerLife();
            lifeDriverHere = lifeDriver;
          }
          t.diagnostic((await ladderRun(lifeDriverHere, apps[build], build, 'life', 'drop')).evidence);
        });

        if (csp) {
          test('no console error and no CSP violation in any page so far (the fixtures are served under the demo\'s CSP)', ONE_TEST, async () => {
            assert.deepEqual(await driver.consoleErrors(), []);
            if (lifeDriver) assert.deepEqual(await lifeDriver.consoleErrors(), []);
          });
        }
      });
    }
  });
}
