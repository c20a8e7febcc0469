// The browser soak: notes posted through the demo's service worker in Debian's Chromium while the network
// goes offline and online at random, a share of the requests is answered 503/429 (with Retry-After) or
// dropped (before or after the server stored the write) through ctx.route, the worker is stopped at random
// moments (and, aimed, while the worker holds a page's own request at the network, so that the page posts
// again with the same key) and the browser is closed and relaunched on the same profile. At the end the
// server must hold every note exactly once, in order within its group, and the outbox's IndexedDB stores
// must be empty. Every step of the harness has a deadline (a note's posts, the run as a whole): a step that
// never settles fails the run with its seed and a dump of what the page, the worker and the server saw.
//
// Used by tests/browser/soak.test.js (the short version in npm test) and scripts/soak.mjs (npm run soak).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';

import { prng } from '../node/helpers.js';
import { OUTPUT_DIR } from './browser.js';
import { FAST_WORKER, sleep, startWorld } from './sw-setup.js';

/** A seed for a run that names none (printed by the callers, so that a failure can be repeated). */
export function drawSeed() {
  return randomInt(2 ** 31);
}

/** A harness step that did not settle in time. */
export class SoakDeadline extends Error {
  constructor(what, ms, scope) {
    super(`${what} did not settle within ${ms} ms (${scope === 'run' ? 'the run\'s deadline' : 'the step\'s deadline'})`);
    this.name = 'SoakDeadline';
    this.step = what;
  }
}

/**
 * The processes of the browser started on `profile` (found by its --user-data-dir): when closing it does
 * not settle, these are stopped by pid. Nothing else is touched.
 */
function browserPids(profile) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (cmdline.includes(`--user-data-dir=${profile}`)) pids.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** `count` distinct integers in [from, to), sorted. */
function pick(rng, count, from, to) {
  const chosen = new Set();
  while (chosen.size < Math.min(count, to - from)) chosen.add(from + Math.floor(rng() * (to - from)));
  return [...chosen].sort((a, b) => a - b);
}

/** Resolves when a version of the world's worker is running again (CDP's version updates). */
function runningAgain(world) {
  return new Promise((resolve) => {
    const seen = ({ versions }) => {
      if (!versions.some((v) => v.runningStatus === 'running')) return;
      world.cdp.off('ServiceWorker.workerVersionUpdated', seen);
      resolve();
    };
    world.cdp.on('ServiceWorker.workerVersionUpdated', seen);
  });
}

/**
 * The outbox database as the page sees it: per store the number of rows (`counts`, the `meta` store left
 * out: it keeps the queue's settings and wrapped-key ids, not requests), the entry rows' scheduling fields
 * (times relative to `now`) and the meta rows other than key ids.
 */
async function outboxState(page) {
  return page.evaluate(async () => {
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open('sealpost-outbox');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const read = (name, what) => new Promise((resolve, reject) => {
      const req = db.transaction(name).objectStore(name)[what]();
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const counts = {};
    for (const name of db.objectStoreNames) if (name !== 'meta') counts[name] = await read(name, 'count');
    const now = Date.now();
    const entries = (await read('entries', 'getAll')).map((r) => ({
      seq: r.seq, state: r.state, attempts: r.attempts, lastError: r.lastError, group: String(r.group).slice(0, 8),
      dueInMs: r.nextAttemptAt - now, leaseInMs: r.leaseUntil ? r.leaseUntil - now : 0,
    }));
    const metaKeys = await read('meta', 'getAllKeys');
    const metaValues = await read('meta', 'getAll');
    const meta = metaKeys.map((k, i) => [k, metaValues[i]]).filter(([k]) => !String(k).startsWith('keys:'));
    db.close();
    return { now, counts, entries, meta };
  });
}

/**
 * Runs one soak and returns its figures; throws when a note is lost, doubled or out of order, when the
 * outbox is not empty at the end, or when a step does not settle within its deadline (the error names the
 * seed, the note and the step, and a JSON dump of what was seen is written to test-results/).
 * @param {{notes?: number, groups?: number, kills?: number, aimedKills?: number, relaunches?: number,
 *   faultRate?: number, offlineWindows?: number, seed?: number, drainMs?: number, noteMs?: number,
 *   fetchMs?: number, stepMs?: number, runMs?: number, log?: (line: string) => void}} [options]
 *   aimedKills: kills aimed at a page's own request (held at the network while the worker is stopped)
 *   noteMs: the deadline of one note (its posts and the page's retries); fetchMs: the page aborts its own
 *   fetch after that long; stepMs: any other harness step; runMs: the whole run
 */
export async function runSoak(options = {}) {
  const {
    notes = 1000, groups = 4, kills = 20, aimedKills = 25, relaunches = 3, faultRate = 0.3, seed = drawSeed(),
    drainMs = 300000, noteMs = 90000, fetchMs = 20000, stepMs = 60000, log = () => {},
  } = options;
  const runMs = options.runMs ?? 120000 + notes * 2000 + drainMs;
  const offlineWindows = options.offlineWindows ?? Math.max(2, Math.round(notes / 50));
  const rng = prng(seed); // seeded, so that a failing run can be repeated
  const started = Date.now();
  const runEnd = started + runMs;
  const run = seed.toString(36);
  const worker = {
    // Fast retries so that the soak ends in minutes; attempts are not capped (nothing may be dropped).
    retry: { ...FAST_WORKER.retry, jitter: 'full', maxDelayMs: 3000, requestTimeoutMs: 3000, maxAttempts: 100000 },
    networkTimeoutMs: 3000,
  };

  // The chaos plan, by note index.
  const killAt = new Set(pick(rng, kills, 1, notes));
  // Aimed kills are planned in the first three quarters: each stays armed until a post reaches the network.
  const aimAt = pick(rng, aimedKills, 1, Math.max(2, Math.floor((notes * 3) / 4)));
  const relaunchAt = new Set(Array.from({ length: relaunches }, (_, k) => Math.round(((k + 1) * notes) / (relaunches + 1))));
  const offlineStart = new Map();
  for (const at of pick(rng, offlineWindows, 0, notes)) offlineStart.set(at, 3 + Math.floor(rng() * 20));

  const figures = {
    notes, groups, requests: 0, faults: { 503: 0, 429: 0, dropped: 0, answerLost: 0 }, duplicates: 0,
    pageRetries: 0, aimedKills: 0, aimedRetries: 0, offlineWindows: 0, kills: 0, relaunches: 0, wallSeconds: 0, seed,
    emulationRepeats: 0,
  };

  /** What the harness is doing now, and the last things the network saw (for the dump of a hang). */
  const current = { note: null, key: null, attempt: null, step: 'start' };
  const recent = [];
  const remember = (entry) => {
    recent.push({ at: Date.now() - started, ...entry });
    if (recent.length > 40) recent.shift();
  };

  /** `promise`, or a SoakDeadline after `ms` (or at the run's deadline, whichever is first). */
  async function within(what, promise, ms = stepMs) {
    const left = runEnd - Date.now();
    const limit = Math.max(0, Math.min(ms, left));
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new SoakDeadline(what, limit, left < ms ? 'run' : 'step')), limit);
    });
    try {
      return await Promise.race([promise, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The aimed kill under way: the try tag of the page's post it waits for, and whether it landed. */
  let aim = null;

  /** Routes every note POST of a context through the fault injector (and the aimed kills). */
  async function inject(context) {
    await context.route('**/api/notes*', async (route) => {
      const request = route.request();
      if (request.method() !== 'POST') return route.fallback();
      figures.requests += 1;
      const headers = request.headers();
      const key = headers['idempotency-key'];
      if (aim && !aim.held && headers['x-soak-try'] === aim.tag) {
        // The worker's network attempt for the page's own post: held here while the worker is stopped, then
        // let through (it may or may not reach the server: the page's retry carries the same key).
        // Chromium dispatches a fetch event again (once) when its worker stops before answering it, so the
        // page sees the failure only when the worker also stops under that second dispatch: the harness
        // stops it again as soon as it runs.
        const target = aim;
        target.held = true;
        remember({ key, action: 'held; stopping the worker' });
        target.done = (async () => {
          try {
            await within('stopping the worker under a held request', world.stopAllWorkers(), 15000);
            const restarted = await within('the worker\'s restart for the fetch dispatched again', runningAgain(world), 10000)
              .then(() => true, () => false);
            if (restarted) await within('stopping the worker under the fetch dispatched again', world.stopAllWorkers(), 15000);
            target.killed = true;
            figures.aimedKills += 1;
          } catch (error) {
            remember({ key, action: `stopping the worker failed: ${error.message}` });
            log(`stopping the worker under note ${target.note}'s request failed: ${error.message}`);
          }
        })();
        await target.done;
        return route.fallback().catch(() => {});
      }
      const r = rng();
      if (r >= faultRate) {
        remember({ key, action: 'through' });
        return route.fallback();
      }
      const kind = Math.floor((r / faultRate) * 4);
      if (kind === 0 || kind === 1) {
        const status = kind === 0 ? 503 : 429;
        figures.faults[status] += 1;
        remember({ key, action: String(status) });
        return route.fulfill({ status, headers: { 'Retry-After': '1' }, contentType: 'application/json', body: '{"error":"busy"}' });
      }
      if (kind === 2) {
        figures.faults.dropped += 1;
        remember({ key, action: 'dropped' });
        return route.abort('connectionreset');
      }
      // The server stores the write; its answer never arrives.
      figures.faults.answerLost += 1;
      remember({ key, action: 'answer lost' });
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
    world.workerErrors = [];
    world.cdp.on('ServiceWorker.workerErrorReported', ({ errorMessage }) => {
      world.workerErrors.push({ at: Date.now() - started, ...errorMessage });
    });
    await inject(world.context);
    return world;
  }

  /** One part of a dump, bounded: its value, or what kept it from coming within 5 s. */
  async function part(what, promise) {
    try {
      return await within(what, promise, 5000);
    } catch (e) {
      return `(${e.message})`;
    }
  }

  /** What the page, the worker and the server saw, each part bounded: for a step that did not settle. */
  async function dump(error) {
    const key = current.key;
    const serverLog = await part('the server log', world.api('GET', '/api/log').then(({ log: entries }) => ({
      forKey: entries.filter((e) => e.key === key), last: entries.slice(-10) })));
    return {
      seed, error: error.message, ...current, runSeconds: (Date.now() - started) / 1000,
      postsInFlight: await part('the page\'s posts in flight', world.page.evaluate(
        () => [...window.postsInFlight].map(([k, at]) => ({ post: k, forMs: Date.now() - at })))),
      pageEvents: await part('the page\'s events', world.page.evaluate(() => window.events.slice(-30))),
      workerVersions: world.versions ?? null,
      workerOnline: await part('the worker\'s navigator.onLine', world.workerOnline()),
      stats: await part('the worker\'s stats', world.stats()),
      serverLog,
      network: recent,
      figures,
    };
  }

  /** For an outbox that does not drain: its rows, the origin's Web Locks, the worker's errors and versions. */
  async function drainDump(stats) {
    const report = {
      seed, stats, figures, runSeconds: (Date.now() - started) / 1000,
      outbox: await part('the outbox\'s rows', outboxState(world.page)),
      locks: await part('the origin\'s locks', world.page.evaluate(() => navigator.locks.query())),
      workerOnline: await part('the worker\'s navigator.onLine', world.workerOnline()),
      workerFetch: await part('a fetch from the worker', world.context.serviceWorkers().at(-1)?.evaluate(
        () => fetch('/api/notes').then((r) => r.status, (e) => `failed: ${e.message}`)) ?? Promise.resolve('no worker')),
      workerErrors: world.workerErrors,
      workerVersions: world.versions ?? null,
      pageEvents: await part('the page\'s events', world.page.evaluate(() => window.events.slice(-60))),
    };
    mkdirSync(OUTPUT_DIR, { recursive: true });
    const file = join(OUTPUT_DIR, `soak-${seed}-drain.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 1)}\n`);
    return file;
  }

  let world = await within('opening the browser', openWorld(null));
  const first = world;
  let offlineUntil = -1;
  const inRun = async (what, promise, ms) => {
    current.step = what;
    return within(what, promise, ms);
  };
  try {
    for (let i = 0; i < notes; i += 1) {
      current.note = i;
      current.attempt = null;
      if (relaunchAt.has(i)) {
        figures.emulationRepeats += world.emulationRepeats;
        await inRun('closing the browser to relaunch it', world.close({ keepProfile: true, keepServer: true }));
        world = await inRun('relaunching the browser', openWorld(first));
        figures.relaunches += 1;
        offlineUntil = -1;
        log(`relaunched the browser on the same profile before note ${i}`);
      }
      if (offlineStart.has(i) && offlineUntil < i) {
        offlineUntil = i + offlineStart.get(i);
        await inRun('going offline', world.setOffline(true));
        figures.offlineWindows += 1;
      }
      if (i === offlineUntil) await inRun('going online', world.setOffline(false));

      const group = i % groups;
      const text = `soak ${run} g${group} #${Math.floor(i / groups)}`;
      const key = `soak-${run}-${i}`;
      current.key = key;
      // An aimed kill waits for a note posted online; its chance is best when nothing is queued (a note
      // behind queued ones is answered 202 without a network attempt), so the harness lets the queue
      // drain (asking for a flush each second) for up to 15 s first. It stays armed until it lands.
      const online = offlineUntil <= i;
      if (!aim && aimAt.length && aimAt[0] <= i && online) {
        aimAt.shift();
        aim = { note: i, tag: null, held: false, killed: false, done: null };
      }
      if (aim && online) {
        const end = Date.now() + 15000;
        for (let round = 0; ; round += 1) {
          const stats = await inRun('the queue\'s stats', world.stats());
          const q = stats.queues.notes;
          if (q.pending + q.inflight === 0) break;
          if (Date.now() > end) {
            log(`note ${i}: aimed, but the queue did not empty in 15 s: ${JSON.stringify(stats)}`);
            break;
          }
          if (round % 4 === 0) await inRun('a flush', world.page.evaluate(() => window.sp.flush('notes').catch(() => null)));
          await sleep(250);
        }
      }
      // A kill at a random moment of this note's request (or of whatever the worker is doing meanwhile).
      const kill = killAt.has(i)
        ? sleep(rng() * 60).then(() => world.stopAllWorkers()).then(() => { figures.kills += 1; })
        : null;
      // The page keeps its own key across its retries, so a request whose fate it could not learn (the
      // worker stopped mid-fetch) is safe to post again.
      const noteEnd = Date.now() + noteMs;
      for (let attempt = 0; ; attempt += 1) {
        current.attempt = attempt;
        const tag = `${i}-${attempt}`;
        const aimed = aim !== null && online;
        if (aimed) aim.tag = tag;
        const answer = await inRun(`note ${i}'s post (attempt ${attempt})`, world.page.evaluate(
          ([t, k, g, h, ms]) => window.postNote(t, k, `/api/notes?notebook=g${g}`, { headers: { 'X-Soak-Try': h }, timeoutMs: ms }),
          [text, key, group, tag, fetchMs]), Math.max(0, noteEnd - Date.now()));
        const landed = aimed && aim.held;
        if (landed) {
          await inRun(`note ${i}'s aimed kill`, aim.done);
          remember({ key, action: `aimed kill ${aim.killed ? 'landed' : 'failed'}; the page got ${answer.status}` });
          log(`note ${i}: worker stopped under the page's request (${aim.killed ? 'stopped' : 'stop failed'}); the page got ${JSON.stringify(answer)}`);
          if (aim.killed && answer.status === 0) figures.aimedRetries += 1;
          aim = null;
        } else if (aimed) {
          log(`note ${i}: aimed, but answered ${answer.status} ${answer.body?.queued ? '(queued)' : ''} without a held request`);
          aim.tag = null; // answered without a network attempt (behind the queue): the next post is aimed at
        }
        if (answer.status === 201 || answer.status === 202) break;
        if (attempt >= 50) throw new Error(`soak (seed ${seed}): note ${i} could not be posted: ${JSON.stringify(answer)}`);
        figures.pageRetries += 1;
        await sleep(200);
      }
      if (kill) await inRun(`note ${i}'s worker kill`, kill);
      if (i % 100 === 99) log(`posted ${i + 1} of ${notes}`);
    }
    current.note = null;
    current.key = null;
    current.attempt = null;

    // Back online for good (the injected faults go on): the worker's own wake-ups must now deliver
    // everything. A sync event that ends with work left is retried by Chrome after minutes; the soak
    // compresses that to a sync event every 10 s (as CDP dispatches it) while entries remain.
    await inRun('going online for the drain', world.setOffline(false));
    const drainStart = Date.now();
    const drainEnd = drainStart + drainMs;
    for (let checks = 0; ; checks += 1) {
      const stats = await inRun('the queue\'s stats during the drain', world.stats());
      const q = stats.queues.notes;
      if (q.pending + q.inflight + q.dead === 0) break;
      if (q.dead > 0) throw new Error(`soak (seed ${seed}): dead letters: ${JSON.stringify(q)}; ${JSON.stringify(figures)}`);
      if (Date.now() > drainEnd || Date.now() > runEnd) {
        const flushes = (await inRun('the page\'s events', world.events())).filter((e) => e.type === 'flushed' || e.type === 'throttled').slice(-12);
        const file = await drainDump(stats);
        throw new Error(`soak (seed ${seed}): the outbox did not drain within ${drainMs} ms; stats ${JSON.stringify(stats)}; `
          + `last flushes ${JSON.stringify(flushes)}; what the outbox, the worker and the locks showed: ${file}; ${JSON.stringify(figures)}`);
      }
      if (checks % 10 === 0) await inRun('a sync event', world.dispatchSync('sealpost:notes')).catch(() => {});
      await sleep(1000);
    }
    log(`drained in ${((Date.now() - drainStart) / 1000).toFixed(1)} s`);
    await sleep(500);

    // What the server holds.
    const { notes: stored, duplicates } = await inRun('reading the server\'s notes', world.api('GET', '/api/notes'));
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
    const { counts: rows } = await inRun('counting the outbox\'s rows', outboxState(world.page));
    if (Object.values(rows).some((n) => n !== 0)) problems.push(`the outbox database is not empty: ${JSON.stringify(rows)}`);
    figures.wallSeconds = Math.round((Date.now() - started) / 100) / 10;
    figures.emulationRepeats += world.emulationRepeats;
    if (problems.length) throw new Error(`soak (seed ${seed}) failed: ${problems.join('; ')}; ${JSON.stringify(figures)}`);
    return figures;
  } catch (error) {
    if (!(error instanceof SoakDeadline)) throw error;
    // A step that never settled: the seed, the note and the step, and what everything saw, then the run ends.
    const report = await dump(error);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    const file = join(OUTPUT_DIR, `soak-${seed}-hang.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 1)}\n`);
    const where = current.note === null ? '' : ` at note ${current.note} (key ${current.key}, attempt ${current.attempt})`;
    throw new Error(`soak (seed ${seed}) hung${where}: ${error.message}; what the page, worker and server saw: ${file}; `
      + `posts in flight ${JSON.stringify(report.postsInFlight)}; worker ${JSON.stringify(report.workerVersions)}; `
      + `server log for the key ${JSON.stringify(report.serverLog?.forKey ?? report.serverLog)}; ${JSON.stringify(figures)}`);
  } finally {
    await closeBounded(world, log);
    rmSync(first.dataDir, { recursive: true, force: true });
  }
}

/**
 * Closes the world; a browser that does not close within 30 s is stopped by pid (the processes started on
 * its profile), and its server closed.
 */
async function closeBounded(world, log) {
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve('late'), 30000); });
  const closing = world.close().catch((error) => log(`closing: ${error.message}`));
  const outcome = await Promise.race([closing, late]);
  clearTimeout(timer);
  if (outcome !== 'late') return;
  log('the browser did not close within 30 s: stopping its processes');
  for (const pid of browserPids(world.browser.profile)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await world.demo.close().catch(() => {});
  rmSync(world.browser.profile, { recursive: true, force: true });
}

/** The one line a soak prints. */
export function soakLine(f) {
  return `soak: ${f.notes} notes in ${f.groups} groups, each stored once and in order; ${f.requests} requests `
    + `(503: ${f.faults[503]}, 429: ${f.faults[429]}, dropped: ${f.faults.dropped}, answer lost: ${f.faults.answerLost}), `
    + `${f.duplicates} duplicates de-duplicated by the server, ${f.pageRetries} page retries (${f.aimedRetries} after `
    + `${f.aimedKills} worker kills aimed at the page's own request), ${f.offlineWindows} offline windows, `
    + `${f.kills} worker kills, ${f.relaunches} relaunches, `
    + `${f.emulationRepeats ? `offline emulation set again ${f.emulationRepeats} times, ` : ''}${f.wallSeconds} s (seed ${f.seed})`;
}
