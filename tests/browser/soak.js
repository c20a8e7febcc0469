// The browser soak: notes posted through the demo's service worker in Debian's Chromium while the network
// goes offline and online at random, a share of the requests is answered 503/429 (with Retry-After) or
// dropped (before or after the server stored the write) through ctx.route, the worker is stopped at random
// moments and the browser is closed and relaunched on the same profile. At the end the server must hold
// every note exactly once, in order within its group, and the outbox's IndexedDB stores must be empty.
//
// Used by tests/browser/soak.test.js (the short version in npm test) and scripts/soak.mjs (npm run soak).
import { rmSync } from 'node:fs';

import { prng } from '../node/helpers.js';
import { FAST_WORKER, sleep, startWorld, until } from './sw-setup.js';

/** `count` distinct integers in [from, to), sorted. */
function pick(rng, count, from, to) {
  const chosen = new Set();
  while (chosen.size < Math.min(count, to - from)) chosen.add(from + Math.floor(rng() * (to - from)));
  return [...chosen].sort((a, b) => a - b);
}

/** Every row of every object store of the outbox database, counted per store. */
async function outboxRows(page) {
  return page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open('sealpost-outbox');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const counts = {};
    for (const name of db.objectStoreNames) {
      if (name === 'meta') continue; // the queue's settings and wrapped-key ids, not requests
      counts[name] = await new Promise((resolve, reject) => {
        const req = db.transaction(name).objectStore(name).count();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    db.close();
    return counts;
  });
}

/**
 * Runs one soak and returns its figures; throws when a note is lost, doubled or out of order, or when
 * the outbox is not empty at the end.
 * @param {{notes?: number, groups?: number, kills?: number, relaunches?: number, faultRate?: number,
 *   offlineWindows?: number, seed?: number, drainMs?: number, log?: (line: string) => void}} [options]
 */
export async function runSoak(options = {}) {
  const {
    notes = 1000, groups = 4, kills = 20, relaunches = 3, faultRate = 0.3, seed = Date.now() % 2 ** 31,
    drainMs = 300000, log = () => {},
  } = options;
  const offlineWindows = options.offlineWindows ?? Math.max(2, Math.round(notes / 50));
  const rng = prng(seed); // seeded, so that a failing run can be repeated
  const started = Date.now();
  const run = seed.toString(36);
  const worker = {
    // Fast retries so that the soak ends in minutes; attempts are not capped (nothing may be dropped).
    retry: { ...FAST_WORKER.retry, jitter: 'full', maxDelayMs: 3000, requestTimeoutMs: 3000, maxAttempts: 100000 },
    networkTimeoutMs: 3000,
  };

  // The chaos plan, by note index.
  const killAt = new Set(pick(rng, kills, 1, notes));
  const relaunchAt = new Set(Array.from({ length: relaunches }, (_, k) => Math.round(((k + 1) * notes) / (relaunches + 1))));
  const offlineStart = new Map();
  for (const at of pick(rng, offlineWindows, 0, notes)) offlineStart.set(at, 3 + Math.floor(rng() * 20));

  const figures = {
    notes, groups, requests: 0, faults: { 503: 0, 429: 0, dropped: 0, answerLost: 0 }, duplicates: 0,
    pageRetries: 0, offlineWindows: 0, kills: 0, relaunches: 0, wallSeconds: 0, seed,
  };

  /** Routes every note POST of a context through the fault injector. */
  async function inject(context) {
    await context.route('**/api/notes*', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      figures.requests += 1;
      const r = rng();
      if (r >= faultRate) return route.fallback();
      const kind = Math.floor((r / faultRate) * 4);
      if (kind === 0 || kind === 1) {
        const status = kind === 0 ? 503 : 429;
        figures.faults[status] += 1;
        return route.fulfill({ status, headers: { 'Retry-After': '1' }, contentType: 'application/json', body: '{"error":"busy"}' });
      }
      if (kind === 2) {
        figures.faults.dropped += 1;
        return route.abort('connectionreset');
      }
      // The server stores the write; its answer never arrives.
      figures.faults.answerLost += 1;
      try {
        await route.fetch();
      } catch {
        // the context went away meanwhile: nothing reached the page either way
      }
      return route.abort('connectionreset').catch(() => {});
    });
  }

  async function openWorld(previous) {
    const world = await startWorld(previous
      ? { profile: previous.browser.profile, demo: previous.demo, dataDir: previous.dataDir }
      : { worker });
    await world.open('/t/harness.html');
    await world.attachCdp();
    await inject(world.context);
    return world;
  }

  let world = await openWorld(null);
  const first = world;
  let offlineUntil = -1;
  try {
    for (let i = 0; i < notes; i += 1) {
      if (relaunchAt.has(i)) {
        await world.close({ keepProfile: true, keepServer: true });
        world = await openWorld(first);
        figures.relaunches += 1;
        offlineUntil = -1;
        log(`relaunched the browser on the same profile before note ${i}`);
      }
      if (offlineStart.has(i) && offlineUntil < i) {
        offlineUntil = i + offlineStart.get(i);
        await world.context.setOffline(true);
        figures.offlineWindows += 1;
      }
      if (i === offlineUntil) await world.context.setOffline(false);

      const group = i % groups;
      const text = `soak ${run} g${group} #${Math.floor(i / groups)}`;
      const key = `soak-${run}-${i}`;
      // A kill at a random moment of this note's request (or of whatever the worker is doing meanwhile).
      const kill = killAt.has(i)
        ? sleep(rng() * 60).then(() => world.stopAllWorkers()).then(() => { figures.kills += 1; })
        : null;
      // The page keeps its own key across its retries, so a request whose fate it could not learn (the
      // worker stopped mid-fetch) is safe to post again.
      for (let attempt = 0; ; attempt += 1) {
        const answer = await world.page.evaluate(
          ([t, k, g]) => window.postNote(t, k, `/api/notes?notebook=g${g}`), [text, key, group]);
        if (answer.status === 201 || answer.status === 202) break;
        if (attempt >= 50) throw new Error(`note ${i} could not be posted: ${JSON.stringify(answer)}`);
        figures.pageRetries += 1;
        await sleep(200);
      }
      await kill;
      if (i % 100 === 99) log(`posted ${i + 1} of ${notes}`);
    }

    // Back online for good (the injected faults go on): the worker's own wake-ups must now deliver
    // everything. A sync event that ends with work left is retried by Chrome after minutes; the soak
    // compresses that to a sync event every 10 s (as CDP dispatches it) while entries remain.
    await world.context.setOffline(false);
    const drainStart = Date.now();
    let checks = 0;
    await until(async () => {
      const stats = await world.stats();
      const q = stats.queues.notes;
      if (q.pending + q.inflight + q.dead === 0) return true;
      if (q.dead > 0) throw new Error(`dead letters in the soak: ${JSON.stringify(q)}`);
      if (checks % 10 === 0) await world.dispatchSync('sealpost:notes').catch(() => {});
      checks += 1;
      return false;
    }, 'the outbox to drain', drainMs, 1000).catch(async (error) => {
      const stats = await world.stats().catch((e) => e.message);
      const flushes = (await world.events()).filter((e) => e.type === 'flushed' || e.type === 'throttled').slice(-12);
      throw new Error(`soak (seed ${seed}): ${error.message}; stats ${JSON.stringify(stats)}; `
        + `last flushes ${JSON.stringify(flushes)}; ${JSON.stringify(figures)}`);
    });
    log(`drained in ${((Date.now() - drainStart) / 1000).toFixed(1)} s`);
    await sleep(500);

    // What the server holds.
    const { notes: stored, duplicates } = await world.api('GET', '/api/notes');
    figures.duplicates = duplicates;
    const mine = stored.filter((n) => n.text.startsWith(`soak ${run} `));
    const texts = new Set(mine.map((n) => n.text));
    const problems = [];
    if (mine.length !== notes) problems.push(`${mine.length} notes stored, expected ${notes}`);
    if (texts.size !== mine.length) problems.push(`${mine.length - texts.size} notes stored twice`);
    for (let g = 0; g < groups; g += 1) {
      const order = mine.filter((n) => n.text.includes(` g${g} #`)).map((n) => Number(n.text.split('#')[1]));
      const expected = Array.from({ length: Math.ceil((notes - g) / groups) }, (_, k) => k);
      if (order.join(',') !== expected.join(',')) {
        const at = order.findIndex((n, k) => n !== expected[k]);
        problems.push(`group g${g} out of order or incomplete at position ${at}: ${order.slice(Math.max(0, at - 3), at + 4).join(',')}`);
      }
    }
    const rows = await outboxRows(world.page);
    if (Object.values(rows).some((n) => n !== 0)) problems.push(`the outbox database is not empty: ${JSON.stringify(rows)}`);
    figures.wallSeconds = Math.round((Date.now() - started) / 100) / 10;
    if (problems.length) throw new Error(`soak (seed ${seed}) failed: ${problems.join('; ')}; ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    await world.close().catch((error) => log(`closing: ${error.message}`));
    rmSync(first.dataDir, { recursive: true, force: true });
  }
}

/** The one line a soak prints. */
export function soakLine(f) {
  return `soak: ${f.notes} notes in ${f.groups} groups, each stored once and in order; ${f.requests} requests `
    + `(503: ${f.faults[503]}, 429: ${f.faults[429]}, dropped: ${f.faults.dropped}, answer lost: ${f.faults.answerLost}), `
    + `${f.duplicates} duplicates de-duplicated by the server, ${f.pageRetries} page retries, ${f.offlineWindows} offline windows, `
    + `${f.kills} worker kills, ${f.relaunches} relaunches, ${f.wallSeconds} s (seed ${f.seed})`;
}
