// A model-based test of the outbox drain (fast-check). Random command sequences (enqueue into groups,
// flush, worker kills at any write or inside a fetch, restarts, offline flushes, clock jumps forward and
// back, server latency, key rotation, rotation racing a flush, a page enqueueing during a flush, a page
// taking the queue over from a worker whose attempt outlived its lease) run against the real Outbox
// (fake-indexeddb, the real Wasm core from dist/) and against a reference model in plain JS. A fake
// server, passed to the Outbox as its `fetch`, answers each entry's attempts from a script drawn with the
// entry: success, lost answer (the server applied the write, the client saw a network error), dropped
// connection, 5xx / 429 with Retry-After (seconds, an HTTP-date or garbage), 4xx. It de-duplicates on the
// Idempotency-Key header and replays the stored success to a key it has applied, as an idempotent API does.
//
// The model reimplements, from their documented rules (src/core/retry.hpp), the due plan, the retry
// decision (jitter included, bit for bit) and the flush's rounds; after every flush that was not killed or
// taken over, the stored rows and the flush's result must equal the model's. After a kill or a takeover the
// model checks each entry's stored row against the states the attempts made allow, and adopts it.
// Invariants checked throughout:
//   - an attempt never starts before the entry's due time (its stored nextAttemptAt, or its lease), always
//     under a fresh lease, and never on an entry that is dead or already removed;
//   - every attempt of an entry carries the same idempotency key, the entry's id;
//   - the server applies each entry at most once (it de-duplicates on the key);
//   - fifo queues: the server's first applications of a group come in enqueue order;
//   - at the end (after a healthy drain), every entry was applied and removed, or is a dead letter: never
//     lost, never both, except where no context could know: a success answer that was lost (or not
//     written before a kill) and then the entry ran out of attempts or age, or a request that reached
//     the server after its lease had ended, when another context had already settled the entry. A success
//     answer that reached a context that lived on always removes the entry.
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { IDBFactory, Outbox, manualClock } from './outbox-support.js';

export { fc };

/** What the runs exercised (printed by the test and the long run, so a quiet generator shows). */
export const stats = { runs: 0, commands: 0, entries: 0, attempts: 0, flushes: 0, busy: 0, kills: 0, takeovers: 0,
  lateApplications: 0, rotations: 0, sent: 0, dead: 0, appliedAndDead: 0, lostAnswers: 0 };

const QUEUE = 'notes';
const DB = 'sealpost-outbox';
const LEASE_MARGIN_MS = 5000; // js/outbox/drain.js
const FLUSH_BUDGET_MS = 150000; // js/outbox/outbox.js: flush's default deadline
const GROUPS = ['', 'a', 'b', 'c'];
const RETRY_ON = [408, 409, 425, 429, 500, 502, 503, 504]; // the default retryOn

// ------------------------------------------------------------------------------------------ arbitraries

const faultKindArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ type: 'ok' }) },
  { weight: 2, arbitrary: fc.constant({ type: 'lost' }) },
  { weight: 2, arbitrary: fc.constant({ type: 'drop' }) },
  { weight: 3, arbitrary: fc.record({
    type: fc.constant('status'),
    status: fc.constantFrom(500, 502, 503, 429),
    retryAfter: fc.oneof(fc.constant(null), fc.constant('garbage'),
      fc.record({ seconds: fc.integer({ min: 0, max: 7200 }), date: fc.boolean() })),
  }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('status'), status: fc.constantFrom(400, 401, 404, 422),
    retryAfter: fc.constant(null) }) },
);
/**
 * What the server does with one attempt of an entry, and how long it takes on the outbox clock: mostly no
 * time; sometimes long enough to outlive the attempt's lease, or the flush's 150 s deadline.
 */
const faultArb = fc.record({
  fault: faultKindArb,
  latency: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.constantFrom(700, 40000, 200000) }),
}).map(({ fault, latency }) => ({ ...fault, latency }));

/** One run's outbox configuration. */
export const configArb = fc.record({
  ordering: fc.constantFrom('fifo', 'independent'),
  jitter: fc.constantFrom('none', 'full', 'equal'),
  baseDelayMs: fc.constantFrom(0, 1, 1000, 2000, 30000),
  factor: fc.constantFrom(1, 1.5, 2, 3),
  maxDelayMs: fc.constantFrom(60000, 600000, 3600000),
  maxAttempts: fc.integer({ min: 1, max: 8 }),
  maxAgeMs: fc.constantFrom(120000, 3600000, 86400000, 604800000),
  requestTimeoutMs: fc.constantFrom(1000, 30000),
  locks: fc.constantFrom('web-locks', 'idb-lease'),
});

const killArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: fc.record({ step: fc.integer({ min: 1, max: 30 }), inFetch: fc.constantFrom('before-send', 'after-apply') }) },
);

// ------------------------------------------------------------------------------------------ reference model

const MASK64 = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;

function splitmix64(x) {
  x = (x + GOLDEN) & MASK64;
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return x ^ (x >> 31n);
}

/** The n-th failure's delay (retry.hpp: backoff, then jitter with u from splitmix64 over the id's seed). */
export function delayFor(policy, failures, id) {
  const exact = policy.baseDelayMs * policy.factor ** (failures - 1);
  const d = exact < policy.maxDelayMs ? Math.trunc(exact) : policy.maxDelayMs;
  const seed = BigInt(parseInt(id.slice(0, 13), 16));
  const x = splitmix64((seed + BigInt(failures) * GOLDEN) & MASK64);
  const u = Number(x >> 11n) * 2 ** -53;
  if (policy.jitter === 'none') return d;
  if (policy.jitter === 'full') return Math.trunc(u * d);
  const half = Math.floor(d / 2);
  return d - half + Math.trunc(u * half);
}

/** Retry-After as the fake server writes it, and the time it asks for (null: none or unparsable). */
function retryAfterHeader(spec, now) {
  if (spec === null) return null;
  if (spec === 'garbage') return 'soon';
  return spec.date ? new Date(now + spec.seconds * 1000).toUTCString() : String(spec.seconds);
}
function retryAfterTime(spec, now) {
  if (spec === null || spec === 'garbage') return null;
  return spec.date ? Math.floor((now + spec.seconds * 1000) / 1000) * 1000 : now + spec.seconds * 1000;
}

/** The retry decision (retry.hpp decide) for an outcome {kind: 'network'} or {kind: 'response', status, retryAfter}. */
export function decide(policy, entry, now, outcome) {
  let notBefore = null;
  let code = 'network';
  if (outcome.kind === 'response') {
    const { status } = outcome;
    if (status === 0 || (status >= 200 && status < 400)) return { action: 'sent' };
    code = `http-${status}`;
    if (status === 401 || status === 403 || !RETRY_ON.includes(status)) return { action: 'dead', code };
    notBefore = retryAfterTime(outcome.retryAfter, now);
  }
  if (entry.attempts >= policy.maxAttempts) return { action: 'dead', code: 'max-attempts' };
  let next = now + delayFor(policy, entry.attempts, entry.id);
  if (notBefore !== null && notBefore > next) next = notBefore;
  if (next >= entry.createdAt + policy.maxAgeMs) return { action: 'dead', code: 'expired' };
  return { action: 'retry', code, nextAttemptAt: next };
}

/** The due plan (retry.hpp plan_due) over the model's live entries, with `tried` attempts per entry in this flush. */
function plan(model, now, tried = new Map()) {
  const out = { due: [], expired: [], nextAttemptAt: null };
  const later = (at) => { if (out.nextAttemptAt === null || at < out.nextAttemptAt) out.nextAttemptAt = at; };
  const blocked = new Set();
  for (const e of model.entries) {
    if (e.state === 'gone' || e.state === 'dead') continue;
    const key = model.policy.ordering === 'fifo' ? `g:${e.group}` : `e:${e.n}`;
    if (blocked.has(key)) continue;
    if (e.state === 'inflight' && e.leaseUntil > now) { later(e.leaseUntil); blocked.add(key); continue; }
    if (e.createdAt + model.policy.maxAgeMs <= now) { out.expired.push(e); continue; }
    if (e.state === 'pending' && e.nextAttemptAt > now) { later(e.nextAttemptAt); blocked.add(key); continue; }
    if ((tried.get(e.n) ?? 0) > 0) { // no 401/403 refresh here (no beforeReplay): once per flush
      later(e.state === 'inflight' ? e.leaseUntil : e.nextAttemptAt);
      blocked.add(key);
      continue;
    }
    out.due.push(e);
  }
  return out;
}

/** What the server does with an attempt of entry `e` (shared by the fake server and the model's copy of it). */
function serve(server, e, key) {
  const fault = e.faults[server.receipts.get(e.n) ?? 0] ?? { type: 'ok', latency: 0 };
  const latency = fault.latency ?? 0;
  server.receipts.set(e.n, (server.receipts.get(e.n) ?? 0) + 1);
  const apply = () => {
    if (server.keys.has(key)) return; // de-duplicated: the stored answer is replayed
    server.keys.add(key);
    server.applied.set(e.n, (server.applied.get(e.n) ?? 0) + 1);
    server.order.push(e.n);
  };
  switch (fault.type) {
    case 'ok': apply(); return { kind: 'response', status: 201, retryAfter: null, latency };
    case 'lost': apply(); return { kind: 'network', latency };
    case 'drop': return { kind: 'network', latency };
    default:
      // An applied key gets its stored success (the de-duplication layer answers before validation);
      // 5xx/429 come from in front of it (a proxy, a rate limiter) and are answered anyway.
      if (fault.status < 500 && fault.status !== 429 && server.keys.has(key)) {
        return { kind: 'response', status: 201, retryAfter: null, latency };
      }
      return { kind: 'response', status: fault.status, retryAfter: fault.retryAfter, latency };
  }
}

function newServer() {
  return { receipts: new Map(), keys: new Set(), applied: new Map(), order: [] };
}

class Model {
  constructor(policy) {
    this.policy = policy;
    /** In enqueue (= sequence) order: {n, id, group, faults, createdAt, state, attempts, lastError, nextAttemptAt, leaseUntil} */
    this.entries = [];
    /** The model's own copy of what the server holds. */
    this.server = newServer();
    /** The IndexedDB drainer lease a killed instance left behind (locks: null only). */
    this.deadDrainerUntil = 0;
    /** Entries the server applied while the client never recorded the success. */
    this.unconfirmed = new Set();
    /** Entries whose success answer reached a context that lived on (it knew the server applied them). */
    this.confirmed = new Set();
  }

  live() {
    return this.entries.filter((e) => e.state === 'pending' || e.state === 'inflight');
  }

  /** When an entry may be attempted next: its nextAttemptAt (pending) or its lease (inflight). */
  dueAt(e) {
    return e.state === 'inflight' ? e.leaseUntil : e.nextAttemptAt;
  }

  /**
   * One flush starting at `start` that nobody interrupts: the drain's rounds (plan, dead-letter the
   * expired, attempt the due in order; fifo stops a round at the first entry that is not sent or dead),
   * no attempt started at or after start + 150 s (flush's default deadline). The server's latency moves
   * the clock. → {result, end}: the flush result and the clock when it returned.
   */
  flush(start, offline, page = null, ids = new Map()) {
    let now = start;
    let attempts = 0;
    const deadline = start + FLUSH_BUDGET_MS;
    if (this.policy.locks === 'idb-lease' && now < this.deadDrainerUntil) {
      return { result: this.result(now, { sent: 0, retrying: 0, dead: 0 }, true), end: now };
    }
    this.deadDrainerUntil = 0;
    const tally = { sent: 0, retrying: 0, dead: 0 };
    const tried = new Map();
    for (let round = 0; round < 4096 && now < deadline; round += 1) {
      const p = plan(this, now, tried);
      for (const e of p.expired) {
        Object.assign(e, { state: 'dead', leaseUntil: 0, lastError: 'expired' });
        tally.dead += 1;
      }
      if (p.due.length === 0) break;
      for (const e of p.due) {
        if (now >= deadline) break;
        tried.set(e.n, 1);
        let result;
        attempts += 1;
        if (page && attempts === page.at) { // the page enqueues while this attempt is in flight
          const added = this.add(page, now);
          added.id = ids.get(added.n) ?? null;
        }
        ({ result, now } = this.attempt(e, now, offline));
        tally[result] += 1;
        if (this.policy.ordering === 'fifo' && result === 'retrying') break;
      }
    }
    return { result: this.result(now, tally, false), end: now };
  }

  /** A new entry, queued at `now`. */
  add({ group, faults }, now) {
    const n = this.entries.length;
    this.entries.push({ n, id: null, group, faults, createdAt: now, state: 'pending', attempts: 0, lastError: null,
      nextAttemptAt: now, leaseUntil: 0 });
    return this.entries[n];
  }

  /** One attempt on `e` started at `now` → {result: 'sent' | 'retrying' | 'dead', now: when the answer came}. */
  attempt(e, now, offline) {
    e.attempts += 1;
    const outcome = offline ? { kind: 'network', latency: 0 } : serve(this.server, e, e.id);
    now += outcome.latency;
    const decision = decide(this.policy, e, now, outcome);
    if (decision.action === 'sent') {
      e.state = 'gone';
      this.unconfirmed.delete(e.n);
      return { result: 'sent', now };
    }
    if (this.server.keys.has(e.id)) this.unconfirmed.add(e.n);
    if (decision.action === 'dead') {
      Object.assign(e, { state: 'dead', leaseUntil: 0, lastError: decision.code });
      return { result: 'dead', now };
    }
    Object.assign(e, { state: 'pending', leaseUntil: 0, nextAttemptAt: decision.nextAttemptAt, lastError: decision.code });
    return { result: 'retrying', now };
  }

  result(now, tally, busy) {
    const live = this.live();
    const p = plan(this, now);
    const out = { ...tally, remaining: live.length,
      nextAttemptAt: live.length === 0 ? null : p.due.length > 0 ? now : p.nextAttemptAt };
    if (busy) out.busy = true;
    return out;
  }
}

// ------------------------------------------------------------------------------------------ the real side

/** A Web Locks stand-in for one browser: `ifAvailable` requests, held until the callback settles. */
function lockManager() {
  const held = new Set();
  return {
    async request(name, options, callback) {
      if (held.has(name)) return callback(null);
      held.add(name);
      try {
        return await callback({ name });
      } finally {
        held.delete(name);
      }
    },
  };
}

const WRITES = ['add', 'update', 'claim', 'remove', 'replaceSealed', 'updateKeys', 'setMeta', 'acquireDrainer',
  'releaseDrainer', 'clearQueue'];

class Killed extends Error {
  constructor() { super('the worker was killed'); }
}

/** One run: the fake IndexedDB, clock, server and the current Outbox instance ("worker"). */
export class Env {
  constructor(config) {
    this.config = config;
    this.policy = config;
    this.factory = new IDBFactory();
    this.clock = manualClock();
    this.locks = config.locks === 'web-locks' ? lockManager() : null;
    this.model = new Model(config);
    this.server = newServer();
    this.ids = new Map(); // n → id
    this.attemptLog = []; // {n, key, at} for every fetch call (offline included)
    this.outbox = null;
    this.steps = 0;
    this.killAt = null; // {step, inFetch}
    this.killed = false;
    this.flushLog = null; // fetch calls of the current flush
    this.offline = false;
    this.rotateAtFetch = 0;
    this.pendingRotation = null;
    this.violations = [];
    this.page = null; // a page's Outbox instance, opened on first use
    this.raw = null; // the test's own IndexedDB connection
    this.pageAt = null;
    this.takeoverAt = null;
    this.takeoverActive = false;
    this.lateFirst = new Set();
    this.takeoverResult = null;
    this.served = 0;
    this.nextN = 0;
    this.queuedMidFlush = new Map();
  }

  options() {
    const { ordering, jitter, baseDelayMs, factor, maxDelayMs, maxAttempts, maxAgeMs, requestTimeoutMs } = this.config;
    return { name: QUEUE, indexedDB: this.factory, now: this.clock.now, broadcast: false, ordering,
      retry: { jitter, baseDelayMs, factor, maxDelayMs, maxAttempts, maxAgeMs, requestTimeoutMs }, locks: this.locks };
  }

  async open() {
    this.outbox = await Outbox.open({ ...this.options(), fetch: (request, init) => this.fetch(request, init) });
    this.steps = 0;
    this.killed = false;
    const outbox = this.outbox;
    // A kill at the k-th write: the instance dies just before it, so that write and everything after it
    // never happens (IndexedDB transactions are atomic: the same as dying anywhere between two commits).
    for (const target of [outbox.store, outbox.keyStore]) {
      for (const name of [...WRITES, 'store', 'delete']) {
        if (typeof target[name] !== 'function' || (target === outbox.keyStore && !['store', 'delete'].includes(name))) continue;
        const original = target[name].bind(target);
        target[name] = (...args) => {
          if (outbox !== this.outbox || this.killed) return Promise.reject(new Killed());
          if (this.step()) return Promise.reject(new Killed());
          return original(...args);
        };
      }
    }
  }

  /** Counts a step of the current worker; true when the kill lands on it (the worker is then gone). */
  step() {
    this.steps += 1;
    if (!this.killAt || this.steps !== this.killAt.step) return false;
    this.kill();
    return true;
  }

  kill() {
    stats.kills += 1;
    this.killed = true;
    this.killAt = null;
    this.outbox.close();
  }

  /** The fake server, as the worker's fetch. */
  fetch(request) {
    if (this.killed) return Promise.reject(new TypeError('the worker is gone'));
    return this.attempt(request, 'worker');
  }

  /**
   * One attempt reaching the fake server from `context` ('worker' or 'page'). Checks the invariants of an
   * attempt, runs the hooks of the current flush (page, takeover, rotation, kill), then answers per the
   * entry's script.
   */
  async attempt(request, context) {
    const owner = context === 'page' ? this.page : this.outbox;
    const key = request.headers.get('idempotency-key');
    const { n } = JSON.parse(await request.text());
    const e = this.model.entries[n] ?? this.queuedMidFlush.get(n);
    const now = this.clock.now();
    const row = e?.id ? await owner.store.entry(e.id) : undefined;
    // Invariants of every attempt. A failed check is kept (the drain takes a throw from fetch for a network
    // error) and raised after the flush.
    try {
      assert.ok(e, `an attempt for an entry never queued (${n})`);
      assert.equal(key, this.ids.get(n), `entry ${n}: every attempt carries the entry's idempotency key`);
      assert.ok(e.state === 'pending' || e.state === 'inflight', `entry ${n} attempted while ${e.state}`);
      if (!this.takeoverActive && context === 'worker') {
        // The model's due time (from before this flush); during a takeover the page's view is newer.
        assert.ok(now >= this.model.dueAt(e), `entry ${n} attempted at ${now}, before it was due at ${this.model.dueAt(e)}`);
      }
      // The stored row: leased for this attempt just now, and its stored due time has come.
      assert.ok(row && row.state === 'inflight', `entry ${n} attempted without a lease (${row?.state})`);
      assert.ok(row.nextAttemptAt <= now, `entry ${n} attempted at ${now}, before its stored due time ${row.nextAttemptAt}`);
      assert.equal(row.leaseUntil, now + this.policy.requestTimeoutMs + LEASE_MARGIN_MS, `entry ${n}: its lease`);
    } catch (error) {
      this.violations.push(error);
      throw error;
    }
    this.attemptLog.push({ n, key, at: now, context });
    stats.attempts += 1;
    const call = { n, at: now, context, reached: false, outcome: null, killed: false, served: 0, answeredAt: now };
    this.flushLog?.push(call);
    if (context === 'worker') {
      const index = this.flushLog?.filter((c) => c.context === 'worker').length;
      if (this.pageAt && index === this.pageAt.at) await this.pageActs(this.pageAt);
      if (this.takeoverAt?.late && index === this.takeoverAt.at) await this.takeover();
      if (this.rotateAtFetch && index === this.rotateAtFetch) {
        // Another part of the worker rotates the key while this attempt is in flight.
        this.pendingRotation = this.outbox.rotateKey();
        await this.pendingRotation;
      }
    }
    const mode = this.killAt?.inFetch;
    call.killed = context === 'worker' && this.step();
    if (this.offline || (call.killed && mode === 'before-send')) throw new TypeError('network down');
    call.reached = true;
    this.served += 1;
    call.served = this.served;
    const applications = this.server.order.length;
    const outcome = serve(this.server, e, key);
    call.outcome = outcome;
    if (this.server.order.length > applications && now + this.policy.requestTimeoutMs + LEASE_MARGIN_MS < this.clock.now()) {
      this.lateFirst.add(n); // first applied by a request that reached the server after its lease had ended
      stats.lateApplications += 1;
    }
    this.clock.advance(outcome.latency); // the server's time to answer
    // A takeover with the request on time: the server has taken it, the answer is what is late.
    if (context === 'worker' && this.takeoverAt && !this.takeoverAt.late
      && this.flushLog?.filter((c) => c.context === 'worker').length === this.takeoverAt.at) await this.takeover();
    call.answeredAt = this.clock.now();
    // after-apply: the server did its part; the worker died before the answer arrived.
    if (call.killed || outcome.kind === 'network') throw new TypeError('connection lost');
    const headers = {};
    const ra = retryAfterHeader(outcome.retryAfter, this.clock.now()); // written when the server answers
    if (ra !== null) headers['retry-after'] = ra;
    return new Response(outcome.status === 201 ? '{"ok":true}' : 'error', { status: outcome.status, headers });
  }

  /** The page's Outbox instance: another context on the same IndexedDB, open for the rest of the run. */
  async openPage() {
    if (this.page) return this.page;
    this.page = await Outbox.open({ ...this.options(), fetch: (request) => {
      if (this.takeoverActive) return this.attempt(request, 'page');
      this.violations.push(new Error('the page sent a request while the worker was draining'));
      return Promise.reject(new TypeError('no'));
    } });
    return this.page;
  }

  /**
   * The worker's attempt hangs past its lease (the device slept, the clock moved on) and the page flushes
   * meanwhile. With Web Locks the worker still holds the lock: busy. With the IndexedDB lease the page
   * takes the queue over; the worker, when its answer comes, must not write over what the page did.
   */
  async takeover() {
    await this.openPage();
    this.clock.advance(this.policy.requestTimeoutMs + LEASE_MARGIN_MS + 1);
    this.takeoverActive = true;
    try {
      this.takeoverResult = await this.page.flush();
    } finally {
      this.takeoverActive = false;
    }
  }

  /**
   * A page (a second Outbox instance on the same IndexedDB, open for the rest of the run) queues an entry
   * while the worker's attempt is in flight, and tries to flush: it must be told the queue is busy.
   */
  async pageActs({ group, faults, flush }) {
    await this.openPage();
    const n = this.nextN;
    const now = this.clock.now();
    const { id } = await this.page.enqueue(this.request(n), { group });
    this.nextN += 1;
    this.ids.set(n, id);
    this.queuedMidFlush.set(n, { n, id, group, faults, createdAt: now, state: 'pending', nextAttemptAt: now });
    if (flush) {
      const result = await this.page.flush();
      if (!result.busy) this.violations.push(new Error(`a second context flushed while the worker drained: ${JSON.stringify(result)}`));
    }
  }

  request(n) {
    return { url: `https://api.example/notes/${n}`, method: 'POST', body: JSON.stringify({ n }),
      headers: { 'content-type': 'application/json' } };
  }

  /** Raises the first invariant an attempt broke. */
  raise() {
    if (this.violations.length > 0) throw this.violations[0];
  }

  async close() {
    await this.pendingRotation?.catch(() => {});
    this.outbox?.close();
    this.page?.close();
    this.raw?.close();
  }

  // ---------------------------------------------------------------- checks

  /** What IndexedDB holds, read through the test's own connection (open for the whole run). */
  async rows() {
    this.raw ??= await openRaw(this.factory);
    const tx = this.raw.transaction(['entries', 'meta']);
    const [rows, drainer] = await Promise.all([done(tx.objectStore('entries').getAll()),
      done(tx.objectStore('meta').get(`drainer:${QUEUE}`))]);
    return { rows: new Map(rows.filter((r) => r.queue === QUEUE).map((r) => [r.id, r])), drainer };
  }

  /** The stored rows equal the model's entries (scheduling fields), and the server matches the model's copy. */
  async compare(label) {
    const { rows } = await this.rows();
    for (const e of this.model.entries) {
      const row = rows.get(e.id);
      if (e.state === 'gone') {
        assert.equal(row, undefined, `${label}: entry ${e.n} should have been removed (sent), is ${row?.state}`);
        continue;
      }
      assert.ok(row, `${label}: entry ${e.n} (${e.state}) is missing from IndexedDB`);
      const got = { state: row.state, attempts: row.attempts, lastError: row.lastError ?? null };
      const want = { state: e.state, attempts: e.attempts, lastError: e.lastError };
      if (e.state === 'pending') { got.nextAttemptAt = row.nextAttemptAt; want.nextAttemptAt = e.nextAttemptAt; }
      if (e.state === 'inflight') { got.leaseUntil = row.leaseUntil; want.leaseUntil = e.leaseUntil; }
      assert.deepEqual(got, want, `${label}: entry ${e.n}`);
    }
    assert.equal(rows.size, this.model.entries.filter((e) => e.state !== 'gone').length, `${label}: row count`);
    assert.deepEqual(this.server.receipts, this.model.server.receipts, `${label}: attempts the server received`);
    assert.deepEqual(this.server.applied, this.model.server.applied, `${label}: applications`);
  }

  /**
   * After a flush the model cannot replay step by step (a kill, or a takeover by the page): each entry's
   * stored row must be one that the attempts made allow, and the model adopts it. `calls` are the fetch
   * calls of the flush, in the order their leases were taken; the last lease of an entry is the one whose
   * result counts (an earlier attempt's writes are fenced out), except that any attempt's success answer
   * removes the entry. A killed worker may have died before writing any result: then the entry is still
   * inflight under its lease.
   */
  async reconcile(calls, now, label, { killed }) {
    const { rows, drainer } = await this.rows();
    const lease = this.policy.requestTimeoutMs + LEASE_MARGIN_MS;
    // The model's copy of the server takes the attempts in the order the server took them.
    for (const call of [...calls].filter((c) => c.reached).sort((x, y) => x.served - y.served)) {
      const e = this.model.entries[call.n];
      assert.ok(e, `${label}: unknown entry ${call.n}`);
      assert.deepEqual(serve(this.model.server, e, e.id), call.outcome, `${label}: entry ${e.n}: the server's answer`);
    }
    for (const e of this.model.entries) {
      if (e.state === 'gone') {
        assert.equal(rows.get(e.id), undefined, `${label}: a removed entry ${e.n} came back`);
        continue;
      }
      const row = rows.get(e.id);
      const mine = calls.filter((c) => c.n === e.n);
      const last = mine.at(-1);
      const allowed = [];
      if (!last) {
        allowed.push({ ...e });
      } else {
        e.attempts += mine.length;
        if (killed) allowed.push({ ...e, state: 'inflight', leaseUntil: last.at + lease });
        const success = (c) => c.reached && !c.killed && c.outcome.kind === 'response' && c.outcome.status < 400;
        if (!killed && mine.some(success)) {
          // A success answer removes the entry, whatever a later lease's attempt wrote (drain.js decide).
          allowed.push({ ...e, state: 'gone' });
        } else if (!last.killed) {
          const outcome = last.reached ? last.outcome : { kind: 'network', latency: 0 };
          const decision = decide(this.policy, e, last.answeredAt, outcome);
          if (decision.action === 'sent') allowed.push({ ...e, state: 'gone' });
          else if (decision.action === 'dead') allowed.push({ ...e, state: 'dead', leaseUntil: 0, lastError: decision.code });
          else allowed.push({ ...e, state: 'pending', leaseUntil: 0, nextAttemptAt: decision.nextAttemptAt, lastError: decision.code });
        }
      }
      // Any later plan of this flush (the worker's next round, or the page's flush) may have found a
      // waiting entry past maxAgeMs and dead-lettered it: one whose retry was written, or one whose lease ran
      // out while its attempt was in flight (the attempt's own result is then fenced out).
      if (e.createdAt + this.policy.maxAgeMs <= now) {
        const leased = last ? [{ ...e, state: 'inflight', leaseUntil: last.at + lease }] : [];
        for (const a of [...allowed, ...leased]) {
          if (a.state === 'pending' || (a.state === 'inflight' && a.leaseUntil <= now)) {
            allowed.push({ ...a, state: 'dead', leaseUntil: 0, lastError: 'expired' });
          }
        }
      }
      const got = row ? { state: row.state, attempts: row.attempts, lastError: row.lastError ?? null,
        nextAttemptAt: row.nextAttemptAt, leaseUntil: row.leaseUntil } : { state: 'gone' };
      const match = allowed.find((a) => (a.state === 'gone' ? got.state === 'gone'
        : a.state === got.state && a.attempts === got.attempts && a.lastError === got.lastError
          && (a.state !== 'pending' || a.nextAttemptAt === got.nextAttemptAt)
          && (a.state !== 'inflight' || a.leaseUntil === got.leaseUntil)));
      assert.ok(match, `${label}: entry ${e.n} is ${JSON.stringify(got)}; allowed: ${JSON.stringify(allowed.map(
        ({ state, attempts, lastError, nextAttemptAt, leaseUntil }) => ({ state, attempts, lastError, nextAttemptAt, leaseUntil })))}`);
      Object.assign(e, { state: match.state, attempts: match.attempts, lastError: match.lastError,
        nextAttemptAt: match.nextAttemptAt, leaseUntil: match.leaseUntil });
      if (e.state === 'gone') this.model.unconfirmed.delete(e.n);
      else if (this.model.server.keys.has(e.id)) this.model.unconfirmed.add(e.n);
    }
    assert.deepEqual(this.server.applied, this.model.server.applied, `${label}: applications`);
    // A dead drainer's IndexedDB lease stays until it expires (Web Locks free at once).
    this.model.deadDrainerUntil = killed && this.policy.locks === 'idb-lease' && drainer ? drainer.until : 0;
  }

  /** The invariants of a finished run (every entry settled). */
  checkFinal() {
    const { model, server } = this;
    for (const [n, count] of server.applied) assert.ok(count <= 1, `entry ${n} applied ${count} times`);
    for (const e of model.entries) {
      const applied = server.applied.get(e.n) ?? 0;
      assert.ok(e.state === 'gone' || e.state === 'dead', `entry ${e.n} is still ${e.state}`);
      if (e.state === 'gone') {
        assert.equal(applied, 1, `entry ${e.n} was removed as sent but the server never applied it`);
      } else if (applied > 0) {
        // Both applied and dead: only when the client never learnt of the success and then ran out.
        assert.ok(!model.confirmed.has(e.n), `entry ${e.n}: the server's success reached the outbox, and it was dead-lettered (${e.lastError})`);
        // ... and its success answer was lost (or a kill kept it from being written) and it then ran out of
        // attempts or age; or the request that applied it reached the server after its lease had ended,
        // when another context had already settled the entry (a 4xx to its own attempt).
        assert.ok(model.unconfirmed.has(e.n)
          && (['max-attempts', 'expired'].includes(e.lastError) || this.lateFirst.has(e.n)),
          `entry ${e.n} was applied and dead-lettered (${e.lastError})`);
      }
    }
    if (this.policy.ordering === 'fifo') {
      for (const group of GROUPS) {
        // A request the network delivered after its lease had ended is out of the outbox's hands: another
        // context may have dead-lettered the entry meanwhile and sent the next ones (README, "The outbox", on fifo ordering).
        const order = server.order.filter((n) => model.entries[n].group === group && !this.lateFirst.has(n));
        assert.deepEqual(order, [...order].sort((x, y) => x - y), `group '${group}': first applications out of order`);
      }
    }
  }
}

function openRaw(factory) {
  return new Promise((resolve, reject) => {
    const req = factory.open(DB);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
function done(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

// ------------------------------------------------------------------------------------------ commands

class Enqueue {
  constructor({ group, faults }) { this.group = group; this.faults = faults; }
  check() { return true; }
  async run(model, env) {
    const n = env.nextN;
    const { id } = await env.outbox.enqueue(env.request(n), { group: this.group });
    env.nextN += 1;
    env.ids.set(n, id);
    model.add(this, env.clock.now()).id = id;
  }
  toString() { return `enqueue(${JSON.stringify(this.group)}, ${JSON.stringify(this.faults)})`; }
}

class Flush {
  /**
   * @param {{offline: boolean, kill: null | {step: number, inFetch: string}, rotateAt: number,
   *   page?: null | {at: number, group: string, faults: object[], flush: boolean},
   *   takeover?: null | {at: number, late: boolean}}} options
   *   kill: the worker dies at its step-th write or fetch; rotateAt: the worker rotates the key during its
   *   rotateAt-th fetch; page: a page queues an entry (and tries to flush) during the worker's at-th fetch;
   *   takeover: the worker's at-th attempt outlives its lease and the page flushes meanwhile, with the
   *   worker's request reaching the server before (late: false) or after (late: true) the page's flush
   */
  constructor({ offline, kill, rotateAt, page = null, takeover = null }) {
    Object.assign(this, { offline, kill, rotateAt, page, takeover });
  }
  check() { return true; }
  async run(model, env) {
    const now = env.clock.now();
    const calls = [];
    env.flushLog = calls;
    env.offline = this.offline;
    env.killAt = this.kill ? { ...this.kill } : null;
    env.steps = 0;
    env.rotateAtFetch = this.rotateAt;
    env.pageAt = this.page;
    env.takeoverAt = this.takeover;
    env.takeoverResult = null;
    env.queuedMidFlush.clear();
    let result;
    let error = null;
    try {
      result = await env.outbox.flush();
    } catch (e) {
      error = e;
    } finally {
      env.flushLog = null;
      env.offline = false;
      env.killAt = null;
      env.rotateAtFetch = 0;
      env.pageAt = null;
      env.takeoverAt = null;
      await env.pendingRotation;
      env.pendingRotation = null;
    }
    env.raise();
    if (env.killed) {
      await env.reconcile(calls, env.clock.now(), `${this} (killed)`, { killed: true });
      await env.open();
      await env.compare(`${this}: after the restart`);
      return;
    }
    if (error) throw error;
    for (const call of calls) {
      if (call.outcome?.kind === 'response' && call.outcome.status < 400) model.confirmed.add(call.n);
    }
    if (env.takeoverResult) {
      const page = env.takeoverResult;
      stats.takeovers += 1;
      if (model.policy.locks === 'web-locks') {
        assert.equal(page.busy, true, `${this}: the page flushed while the worker held the lock`);
        assert.ok(calls.every((c) => c.context === 'worker'), `${this}: the page sent while the worker held the lock`);
      } else {
        assert.equal(page.busy, undefined, `${this}: the page could not take over an expired drainer lease`);
      }
      const live = new Set(model.entries.filter((e) => e.state !== 'gone').map((e) => e.n));
      await env.reconcile(calls, env.clock.now(), `${this} (takeover)`, { killed: false });
      const removed = model.entries.filter((e) => live.has(e.n) && e.state === 'gone').length;
      assert.equal(result.sent + (page.sent ?? 0), removed, `${this}: sent counts of the worker and the page`);
      assert.equal(result.remaining, model.live().length, `${this}: remaining`);
      await env.compare(String(this));
      return;
    }
    const { result: expected, end } = model.flush(now, this.offline, this.page, env.ids);
    for (const [n, queued] of env.queuedMidFlush) {
      assert.equal(model.entries[n]?.id, queued.id, `${this}: the page's entry ${n} was queued during another attempt than the model's`);
    }
    assert.equal(model.entries.length, env.nextN, `${this}: entries queued`);
    stats.flushes += 1;
    if (expected.busy) stats.busy += 1;
    assert.deepEqual(result, expected, `${this}: flush result`);
    assert.equal(env.clock.now(), end, `${this}: the server's latency the flush waited through`);
    await env.compare(String(this));
  }
  toString() {
    return `flush(${[this.offline && 'offline', this.kill && `kill@${this.kill.step}/${this.kill.inFetch}`,
      this.rotateAt && `rotate@fetch${this.rotateAt}`,
      this.takeover && `takeover@fetch${this.takeover.at}${this.takeover.late ? '(request late)' : '(answer late)'}`,
      this.page && `page@fetch${this.page.at}(${JSON.stringify(this.page.group)}, ${JSON.stringify(this.page.faults)}${this.page.flush ? ', flush' : ''})`,
    ].filter(Boolean).join(', ')})`;
  }
}

class Advance {
  constructor(how) { this.how = how; }
  check() { return true; }
  async run(model, env) {
    const now = env.clock.now();
    if (this.how === 'next') {
      const times = model.live().map((e) => model.dueAt(e));
      if (model.deadDrainerUntil > now) times.push(model.deadDrainerUntil);
      const next = Math.min(...times.filter((t) => t > now));
      if (Number.isFinite(next)) env.clock.t = next;
    } else {
      env.clock.advance(this.how);
    }
  }
  toString() { return `advance(${this.how})`; }
}

class Rotate {
  constructor(kill) { this.kill = kill; }
  check() { return true; }
  async run(model, env) {
    env.killAt = this.kill ? { step: this.kill, inFetch: 'before-send' } : null;
    env.steps = 0;
    let result;
    stats.rotations += 1;
    try {
      result = await env.outbox.rotateKey();
    } catch (error) {
      if (!env.killed) throw error;
    } finally {
      env.killAt = null;
    }
    if (env.killed) await env.open();
    else assert.equal(result.resealed, model.entries.filter((e) => e.state !== 'gone').length, `${this}: resealed`);
    // Every record still opens (under whichever key the rotation left it) and scheduling is untouched.
    const listed = await env.outbox.list();
    for (const item of listed) assert.equal(item.error, undefined, `${this}: entry ${item.id} does not open: ${item.error}`);
    await env.compare(String(this));
  }
  toString() { return `rotate(${this.kill ? `kill@${this.kill}` : ''})`; }
}

class Restart {
  check() { return true; }
  async run(model, env) {
    env.outbox.close();
    await env.open();
    await env.compare('restart');
  }
  toString() { return 'restart()'; }
}

const enqueueArb = fc.record({ group: fc.constantFrom(...GROUPS), faults: fc.array(faultArb, { maxLength: 4 }) })
  .map((a) => new Enqueue(a));

// Enqueue is listed three times: fast-check picks each listed arbitrary alike, and a queue needs entries.
export const commandsArb = fc.commands([
  enqueueArb, enqueueArb, enqueueArb,
  fc.record({ offline: fc.boolean({ probability: 0.15 }), kill: fc.constant(null), rotateAt: fc.constant(0) }).map((a) => new Flush(a)),
  fc.record({ offline: fc.constant(false), kill: killArb, rotateAt: fc.constant(0) }).map((a) => new Flush(a)),
  fc.record({ offline: fc.constant(false), kill: fc.constant(null), rotateAt: fc.integer({ min: 1, max: 4 }) }).map((a) => new Flush(a)),
  fc.record({ offline: fc.boolean({ probability: 0.15 }), kill: fc.constant(null), rotateAt: fc.constant(0),
    page: fc.record({ at: fc.integer({ min: 1, max: 4 }), group: fc.constantFrom(...GROUPS),
      faults: fc.array(faultArb, { maxLength: 3 }), flush: fc.boolean() }) }).map((a) => new Flush(a)),
  fc.record({ offline: fc.constant(false), kill: fc.constant(null), rotateAt: fc.constant(0),
    takeover: fc.record({ at: fc.integer({ min: 1, max: 4 }), late: fc.boolean() }) }).map((a) => new Flush(a)),
  fc.oneof(fc.constant('next'), fc.constantFrom(1, 999, 5000, 60000, 3600000, 86400000, 8 * 86400000, -1000, -60000))
    .map((how) => new Advance(how)),
  fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 12 })).map((k) => new Rotate(k || null)),
  fc.constant(new Restart()),
], { maxCommands: 40, size: 'large' });

// ------------------------------------------------------------------------------------------ a run

/** Flushes with a healthy network until nothing is queued, each flush checked against the model. */
async function settle(env) {
  for (let i = 0; i < 500; i += 1) {
    if (env.model.live().length === 0) return;
    await new Advance('next').run(env.model, env);
    await new Flush({ offline: false, kill: null, rotateAt: 0 }).run(env.model, env);
  }
  throw new Error(`the queue did not settle: ${JSON.stringify(env.model.live())}`);
}

/** Runs one command sequence (fast-check's, or a fixed regression case), then settles and checks the end. */
export async function runCase(config, commands) {
  const env = new Env(config);
  stats.runs += 1;
  stats.commands += [...commands].length;
  await env.open();
  try {
    await fc.asyncModelRun(() => ({ model: env.model, real: env }), commands);
    await settle(env);
    env.checkFinal();
    for (const e of env.model.entries) {
      stats.entries += 1;
      if (e.state === 'gone') stats.sent += 1;
      else stats.dead += 1;
      if (e.state === 'dead' && env.server.applied.get(e.n)) stats.appliedAndDead += 1;
      if (e.faults.some((f) => f.type === 'lost')) stats.lostAnswers += 1;
    }
  } finally {
    await env.close();
  }
}

export const property = () => fc.asyncProperty(configArb, commandsArb, runCase);

/** The commands, for fixed regression sequences. */
export const commands = {
  enqueue: (group, faults = []) => new Enqueue({ group, faults: faults.map((f) => ({ latency: 0, ...f })) }),
  flush: (options = {}) => new Flush({ offline: false, kill: null, rotateAt: 0, ...options }),
  advance: (how) => new Advance(how),
  rotate: (kill = null) => new Rotate(kill),
  restart: () => new Restart(),
};
