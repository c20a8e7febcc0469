/**
 * Outbox: an encrypted, crash-safe queue of HTTP requests in IndexedDB, replayed with retries.
 *
 * Decisions are made in C++ (src/core/retry.hpp: policy, classification, backoff, what is due); sealing
 * too (src/core/request_record.hpp, src/core/record_stream.hpp). This file does the I/O: IndexedDB through
 * js/store.js, keys through a KeyStore (js/keystore.js), fetch, the clock, Web Locks, events.
 *
 * States: pending → inflight (with a lease) → deleted when the server answered with success, back to
 * pending with nextAttemptAt on a retryable failure, or dead (kept, inspectable, requeue-able).
 * Every entry carries a random 128-bit id, sent on every attempt in the idempotency header (unless the
 * queued request carries that header itself: then the app's key is sent on every attempt).
 */
import { SealpostError } from '../errors.js';
import { WebCryptoKeyStore } from '../storage/keystore.js';
import { OutboxStore, StaleKey } from './store.js';
import { KeyKind, ready } from '../wasm/loader.js';

/** Bodies larger than this are sealed as a chunk stream, one chunk of this size at a time. */
export const STREAM_THRESHOLD = 64 * 1024;
const CHUNK_BYTES = 64 * 1024;
const CHUNK_BATCH = 16;
/** A lease outlives the attempt's own timeout by this much. */
const LEASE_MARGIN_MS = 5000;
const DEFAULT_FLUSH_BUDGET_MS = 150000;
const MAX_ROUNDS = 64;

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const union = (...lists) => [...new Set(lists.flat())];
const unhex = (text) => Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));

/**
 * @typedef {object} OutboxOptions
 * @property {string} name  the queue name (several queues may share one database)
 * @property {'fifo' | 'independent'} [ordering]  default 'fifo' (per group)
 * @property {object} [retry]  retry policy (see README); validated in C++, 'invalid-policy' names the field
 * @property {string | null} [idempotencyHeader]  default 'Idempotency-Key'; null disables
 * @property {number} [maxEntries]  default 10000
 * @property {number} [maxBytes]  default 50 MiB (sealed bytes)
 * @property {(request: Request, entry: EntryInfo) => Request | Promise<Request>} [beforeReplay]
 * @property {IDBFactory} [indexedDB]  default globalThis.indexedDB
 * @property {typeof IDBKeyRange} [IDBKeyRange]  default globalThis.IDBKeyRange
 * @property {string} [database]  the IndexedDB database, default 'sealpost-outbox'
 * @property {{load: Function, store: Function, delete: Function, purposes: Function}} [keyStore]
 *   default: a WebCryptoKeyStore in the same IndexedDB
 * @property {() => number} [now]  default Date.now
 * @property {typeof fetch} [fetch]  default globalThis.fetch (flush({fetch}) overrides it per flush)
 * @property {{request: Function} | null} [locks]  Web Locks; default navigator.locks; null: IndexedDB lease
 * @property {boolean} [broadcast]  post events to BroadcastChannel('sealpost'); default true where it exists
 * @property {import('../wasm/loader.js').WasmCore} [core]  a Wasm instance (default: the shared one)
 * @property {string | URL} [wasmUrl]
 */

/**
 * @typedef {object} EntryInfo
 * @property {string} id
 * @property {string} queue
 * @property {'pending' | 'inflight' | 'dead'} state
 * @property {number} attempts
 * @property {number} createdAt
 * @property {number} nextAttemptAt
 * @property {string | null} lastError
 * @property {number} size
 */

/**
 * @typedef {object} FlushResult
 * @property {number} sent  entries the server accepted in this flush
 * @property {number} retrying  entries scheduled for a later attempt in this flush
 * @property {number} dead  entries dead-lettered in this flush
 * @property {number} remaining  entries still queued (pending or inflight), dead letters excluded
 * @property {number | null} nextAttemptAt  when the earliest remaining entry falls due (outbox clock)
 * @property {boolean} [busy]  another context was draining this queue; nothing was sent
 */

function info(row) {
  return {
    id: row.id, queue: row.queue, state: row.state, attempts: row.attempts, createdAt: row.createdAt,
    nextAttemptAt: row.nextAttemptAt, lastError: row.lastError ?? null, size: row.size,
  };
}

function isTamperOrLoss(error) {
  return error instanceof SealpostError && (error.code === 'record-tampered' || error.code === 'key-lost');
}

function requireLimit(value, fallback, name) {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new SealpostError('invalid-argument', `${name} must be a positive integer`, { field: name });
  }
  return value;
}

export class Outbox extends EventTarget {
  /**
   * Opens (or creates) a queue. Validates the options (a bad retry policy is 'invalid-policy' with `.field`),
   * loads or creates its keys, and dead-letters records whose key is gone ('key-lost').
   * @param {OutboxOptions} options
   * @returns {Promise<Outbox>}
   */
  static async open(options) {
    if (!options || typeof options.name !== 'string' || options.name === '') {
      throw new SealpostError('invalid-argument', 'Outbox.open needs a queue name', { field: 'name' });
    }
    const ordering = options.ordering ?? 'fifo';
    if (ordering !== 'fifo' && ordering !== 'independent') {
      throw new SealpostError('invalid-argument', "ordering must be 'fifo' or 'independent'", { field: 'ordering' });
    }
    const header = options.idempotencyHeader === undefined ? 'Idempotency-Key' : options.idempotencyHeader;
    if (header !== null && (typeof header !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header))) {
      throw new SealpostError('invalid-argument', 'idempotencyHeader must be a header name or null',
        { field: 'idempotencyHeader' });
    }
    if (options.beforeReplay !== undefined && typeof options.beforeReplay !== 'function') {
      throw new SealpostError('invalid-argument', 'beforeReplay must be a function', { field: 'beforeReplay' });
    }
    const limits = {
      maxEntries: requireLimit(options.maxEntries, 10000, 'maxEntries'),
      maxBytes: requireLimit(options.maxBytes, 50 * 2 ** 20, 'maxBytes'),
    };
    const core = options.core ?? await ready({ wasmUrl: options.wasmUrl });
    const policy = core.retryPolicy(options.retry);
    const factory = 'indexedDB' in options ? options.indexedDB : globalThis.indexedDB;
    const database = options.database ?? 'sealpost-outbox';
    const store = await OutboxStore.open(factory, database, options.IDBKeyRange ?? globalThis.IDBKeyRange);
    let keyStore = options.keyStore;
    if (keyStore !== undefined && (typeof keyStore?.load !== 'function' || typeof keyStore.store !== 'function')) {
      throw new SealpostError('invalid-argument', 'keyStore needs load(purpose) and store(purpose, bytes)',
        { field: 'keyStore' });
    }
    let ownsKeyStore = false;
    if (!keyStore) {
      keyStore = await WebCryptoKeyStore.open({ indexedDB: factory });
      ownsKeyStore = true;
    }
    const outbox = new Outbox({
      name: options.name, database, ordering, policy, header, limits, core, store, keyStore, ownsKeyStore,
      beforeReplay: options.beforeReplay ?? null,
      now: options.now ?? (() => Date.now()),
      fetch: options.fetch ?? null,
      locks: options.locks === undefined ? globalThis.navigator?.locks ?? null : options.locks,
      broadcast: options.broadcast ?? typeof globalThis.BroadcastChannel === 'function',
    });
    try {
      await outbox.loadKeys();
      await outbox.reportLostKeys();
    } catch (error) {
      outbox.close();
      throw error;
    }
    return outbox;
  }

  /** @private Use Outbox.open. */
  constructor(parts) {
    super();
    Object.assign(this, parts);
    this.place = (id) => ({ database: this.database, queue: this.name, id });
    /** @type {Map<string, number>} key id (hex) → key handle in Wasm */
    this.handles = new Map();
    this.keys = { current: null, all: [] };
    this.groupKey = 0;
    this.owner = hex(this.core.randomBytes(16));
    this.closed = false;
    this.channel = null;
    this.drainerUntil = 0;
    this.flushing = false;
  }

  // ---------------------------------------------------------------- keys

  purpose(keyId) {
    return `outbox:${this.database}:${this.name}:${keyId}`;
  }

  groupPurpose() {
    return `outbox-group:${this.database}:${this.name}`;
  }

  /** Imports raw key bytes into Wasm and zeroes the JS copy. */
  importKey(bytes) {
    try {
      return this.core.keyImport(KeyKind.symmetric, bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A fresh libsodium key, stored (wrapped) under `purpose(keyId)`; returns [handle, keyId]. */
  async createKey() {
    const handle = this.core.keyGenerate(KeyKind.symmetric);
    const keyId = hex(this.core.keyId(handle));
    const bytes = this.core.keyExport(handle);
    try {
      await this.keyStore.store(this.purpose(keyId), bytes);
    } finally {
      bytes.fill(0);
    }
    this.handles.set(keyId, handle);
    return [handle, keyId];
  }

  async loadKeys() {
    const known = await this.store.meta(`keys:${this.name}`);
    this.keys = known ? { current: known.current, all: [...known.all] } : { current: null, all: [] };
    if (!this.keys.current || !(await this.keyHandle(this.keys.current))) {
      // No key yet, or it is gone: make one. Another context may be doing the same; the first to write wins
      // and the other's key stays listed, so whatever it sealed still opens.
      const missing = this.keys.current;
      const [, created] = await this.createKey();
      this.keys = await this.store.updateKeys(this.name, (keys) => ({
        current: keys.current === null || keys.current === missing ? created : keys.current,
        all: union(keys.all, [created]),
      }));
      if (!(await this.keyHandle(this.keys.current))) {
        throw new SealpostError('key-lost', 'the outbox key another context created cannot be loaded');
      }
    }
    const groupBytes = await this.keyStore.load(this.groupPurpose());
    if (groupBytes) {
      this.groupKey = this.importKey(groupBytes);
    } else {
      this.groupKey = this.core.keyGenerate(KeyKind.symmetric);
      const bytes = this.core.keyExport(this.groupKey);
      try {
        await this.keyStore.store(this.groupPurpose(), bytes);
      } finally {
        bytes.fill(0);
      }
    }
  }

  /** The Wasm handle of a key this queue has used, loading it from the key store; null if it is gone. */
  async keyHandle(keyId) {
    const loaded = this.handles.get(keyId);
    if (loaded) return loaded;
    let bytes;
    try {
      bytes = await this.keyStore.load(this.purpose(keyId));
    } catch (error) {
      if (error instanceof SealpostError && error.code === 'key-lost') return null;
      throw error;
    }
    if (!bytes) return null;
    const handle = this.importKey(bytes);
    if (hex(this.core.keyId(handle)) !== keyId) {
      this.core.keyRelease(handle);
      return null;
    }
    this.handles.set(keyId, handle);
    return handle;
  }

  /** Takes up keys another context created or rotated to since this one read the list. */
  async refreshKeys() {
    const known = await this.store.meta(`keys:${this.name}`);
    if (known) this.keys = { current: known.current, all: union(this.keys.all, known.all) };
  }

  /**
   * Seals a request (fields and body) to its place: one record, plus a chunk stream for a body above
   * STREAM_THRESHOLD. The caller zeroes `body` when done with it.
   * @returns {{record: Uint8Array, chunks: Uint8Array[]}}
   */
  seal(handle, place, fields, body) {
    const chunks = [];
    if (body.length <= STREAM_THRESHOLD) return { record: this.core.requestSeal(handle, place, fields, body), chunks };
    const { stream, header } = this.core.streamSealInit(handle, place);
    try {
      for (let offset = 0; offset < body.length; offset += CHUNK_BYTES) {
        const end = Math.min(body.length, offset + CHUNK_BYTES);
        chunks.push(this.core.streamSealPush(stream, body.subarray(offset, end), end === body.length));
      }
    } finally {
      this.core.streamRelease(stream);
    }
    const streamed = { header: hex(header), size: body.length, chunks: chunks.length };
    return { record: this.core.requestSeal(handle, place, { ...fields, stream: streamed }), chunks };
  }

  /** Dead-letters, as 'key-lost', every live entry whose key cannot be loaded any more. */
  async reportLostKeys() {
    for (const row of await this.store.entries(this.name)) {
      if (row.state === 'dead' || !this.keys.all.includes(row.keyId)) continue;
      if (!(await this.keyHandle(row.keyId))) await this.deadLetter(row, 'key-lost');
    }
  }

  // ---------------------------------------------------------------- events

  emit(type, detail) {
    const payload = { queue: this.name, ...detail };
    this.dispatchEvent(new CustomEvent(type, { detail: payload }));
    if (!this.broadcast) return;
    try {
      if (!this.channel) {
        this.channel = new BroadcastChannel('sealpost');
        this.channel.unref?.();
      }
      this.channel.postMessage({ type: `sealpost:${type}`, ...payload });
    } catch {
      this.broadcast = false; // a context without a usable BroadcastChannel: the EventTarget still has it
    }
  }

  ensureOpen() {
    if (this.closed) throw new SealpostError('closed', `the outbox '${this.name}' is closed`);
  }

  // ---------------------------------------------------------------- enqueue

  /**
   * Queues a request: a Request, or a plain init {url, method, headers, body, credentials, mode, cache,
   * redirect, referrer, referrerPolicy, integrity, keepalive}. The body is read once (from a clone of a
   * Request, which stays usable) and sealed before anything is written. Rejects with 'invalid-request',
   * 'quota' or 'storage-full'; nothing already queued is touched.
   * @param {Request | {url: string | URL} & RequestInit} requestOrInit
   * @param {{group?: string, metadata?: unknown}} [options]
   * @returns {Promise<{id: string}>}
   */
  async enqueue(requestOrInit, options = {}) {
    this.ensureOpen();
    const group = options.group ?? '';
    if (typeof group !== 'string') throw new SealpostError('invalid-request', 'group must be a string', { field: 'group' });
    const owned = !(requestOrInit instanceof Request);
    const request = toRequest(requestOrInit);
    const fields = {
      method: request.method, url: request.url, headers: [...request.headers],
      credentials: request.credentials, mode: request.mode, cache: request.cache, redirect: request.redirect,
      referrer: request.referrer, referrerPolicy: request.referrerPolicy, integrity: request.integrity,
      keepalive: request.keepalive,
    };
    if (options.metadata !== undefined) {
      let text;
      try {
        text = JSON.stringify(options.metadata);
      } catch (error) {
        throw new SealpostError('invalid-request', `metadata is not JSON: ${error.message}`, { field: 'metadata', cause: error });
      }
      fields.metadata = JSON.parse(text);
    }
    if (request.bodyUsed) throw new SealpostError('invalid-request', 'the request body was already read', { field: 'body' });
    const body = await readBody(request, owned);

    const id = hex(this.core.randomBytes(16));
    const place = this.place(id);
    const groupTag = hex(this.core.groupTag(this.groupKey, group));
    let row;
    try {
      // Sealed under the current key; if another context rotated it meanwhile, sealed again under the new one.
      for (let tries = 0; !row; tries += 1) {
        const keyId = this.keys.current;
        const handle = await this.keyHandle(keyId);
        if (!handle) throw new SealpostError('key-lost', 'the outbox key is gone from the key store');
        const { record, chunks } = this.seal(handle, place, fields, body);
        const now = this.now();
        const entry = {
          id, queue: this.name, state: 'pending', attempts: 0, createdAt: now, nextAttemptAt: now, leaseUntil: 0,
          size: record.length + chunks.reduce((sum, c) => sum + c.length, 0), keyId, lastError: null, group: groupTag,
        };
        try {
          row = await this.store.add(entry, record, chunks, this.limits);
        } catch (error) {
          if (!(error instanceof StaleKey) || tries > 0) throw error;
          await this.refreshKeys();
        }
      }
    } finally {
      body.fill(0);
    }
    this.emit('enqueued', { id, state: 'pending', seq: row.seq });
    return { id };
  }

  // ---------------------------------------------------------------- flush

  /**
   * Sends what is due now, in order, and returns; never sleeps. No attempt starts at or after `deadline`
   * (outbox clock; default now() + 150 s). `fetch` defaults to the one given to open, then globalThis.fetch.
   * `signal` stops the flush (an attempt in progress is aborted and counts).
   * @param {{deadline?: number, fetch?: typeof fetch, signal?: AbortSignal}} [options]
   * @returns {Promise<FlushResult>}
   */
  async flush(options = {}) {
    this.ensureOpen();
    // One flush at a time per instance as well; a second call while one runs is told so.
    if (this.flushing) return this.summary({ sent: 0, retrying: 0, dead: 0 }, true);
    this.flushing = true;
    try {
      return await this.flushOnce(options);
    } finally {
      this.flushing = false;
    }
  }

  async flushOnce(options) {
    const deadline = options.deadline ?? this.now() + DEFAULT_FLUSH_BUDGET_MS;
    const fetchFn = options.fetch ?? this.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== 'function') throw new SealpostError('invalid-argument', 'flush needs a fetch function');
    if (this.locks && typeof this.locks.request === 'function') {
      return this.locks.request(`sealpost:${this.database}:${this.name}`, { ifAvailable: true },
        (lock) => (lock ? this.drain(deadline, fetchFn, options.signal, false)
          : this.summary({ sent: 0, retrying: 0, dead: 0 }, true)));
    }
    const run = () => this.drain(deadline, fetchFn, options.signal, true);
    if (!(await this.holdDrainer())) return this.summary({ sent: 0, retrying: 0, dead: 0 }, true);
    try {
      return await run();
    } finally {
      this.drainerUntil = 0;
      if (!this.closed) await this.store.releaseDrainer(this.name, this.owner);
    }
  }

  /**
   * Takes or extends the IndexedDB drainer lease (used where Web Locks are absent). It lasts one attempt's
   * timeout plus a margin, and is extended before an attempt that could outlive it, so a drainer that dies
   * frees the queue soon after.
   */
  async holdDrainer() {
    const now = this.now();
    const leaseMs = this.policy.requestTimeoutMs + LEASE_MARGIN_MS;
    if (this.drainerUntil && now + leaseMs - LEASE_MARGIN_MS / 2 < this.drainerUntil) return true;
    const held = await this.store.acquireDrainer(this.name, this.owner, now, now + leaseMs);
    this.drainerUntil = held ? now + leaseMs : 0;
    return held;
  }

  async drain(deadline, fetchFn, signal, leased) {
    const counts = { sent: 0, retrying: 0, dead: 0 };
    this.counts = counts;
    try {
      return await this.drainRounds(counts, deadline, fetchFn, signal, leased);
    } finally {
      // After an error as well: the entry the server acknowledged last is still removed.
      await this.settleRemoval().catch(() => {});
      this.counts = null;
    }
  }

  async drainRounds(counts, deadline, fetchFn, signal, leased) {
    /** @type {Map<string, number>} attempts made on each entry in this flush */
    const tried = new Map();
    const stopped = () => this.closed || signal?.aborted || this.now() >= deadline;
    for (let round = 0; round < MAX_ROUNDS && !stopped(); round += 1) {
      await this.settleRemoval();
      const rows = await this.store.entries(this.name);
      const byId = new Map(rows.map((row) => [row.id, row]));
      const plan = this.plan(rows);
      for (const id of plan.expired) {
        if (await this.deadLetter(byId.get(id), 'expired')) counts.dead += 1;
      }
      // An entry is tried once per flush, except the one immediate retry a 401/403 gets after beforeReplay;
      // one that waits for the next flush holds its group back (fifo) like any entry not sent yet.
      const mayTry = (id) => {
        const n = tried.get(id) ?? 0;
        return n === 0 || (n === 1 && /^http-40[13]$/.test(byId.get(id).lastError ?? ''));
      };
      if (!plan.due.some(mayTry)) break;
      const blocked = new Set();
      for (const id of plan.due) {
        if (stopped()) break;
        const row = byId.get(id);
        if (this.ordering === 'fifo' && blocked.has(row.group)) continue;
        if (!mayTry(id)) {
          blocked.add(row.group);
          continue;
        }
        if (leased && !(await this.holdDrainer())) { // another drainer took over
          await this.settleRemoval();
          return this.summary(counts, true);
        }
        tried.set(id, (tried.get(id) ?? 0) + 1);
        const result = await this.attempt(row, fetchFn, signal);
        if (result === 'sent') counts.sent += 1;
        else if (result === 'dead') counts.dead += 1;
        else if (result === 'retry') counts.retrying += 1;
        // fifo: the rest of the group waits for an entry that is not sent or dead yet.
        if (result === 'retry' || result === 'skipped') blocked.add(row.group);
      }
    }
    await this.settleRemoval();
    const result = await this.summary(counts);
    if (result.remaining === 0 && counts.sent + counts.dead > 0) {
      this.emit('drained', { sent: counts.sent, dead: counts.dead });
    }
    return result;
  }

  plan(rows) {
    return this.core.retryPlan({
      ordering: this.ordering, now: this.now(), maxAgeMs: this.policy.maxAgeMs,
      entries: rows.map((row) => ({
        id: row.id, seq: row.seq, group: row.group, state: row.state, nextAttemptAt: row.nextAttemptAt,
        leaseUntil: row.leaseUntil, createdAt: row.createdAt,
      })),
    });
  }

  async summary(counts, busy = false) {
    const rows = this.closed ? [] : await this.store.entries(this.name);
    const live = rows.filter((row) => row.state !== 'dead');
    let nextAttemptAt = null;
    if (live.length > 0) {
      const plan = this.plan(rows);
      nextAttemptAt = plan.due.length > 0 ? this.now() : plan.nextAttemptAt;
    }
    const result = { ...counts, remaining: live.length, nextAttemptAt };
    if (busy) result.busy = true;
    return result;
  }

  /**
   * One attempt: lease the entry (attempts + 1), open its record, send it, and record the decision.
   * Returns 'sent', 'retry', 'dead' or 'skipped' (another drainer changed the entry first).
   */
  async attempt(row, fetchFn, signal) {
    const leaseMs = this.policy.requestTimeoutMs + LEASE_MARGIN_MS;
    // The previous entry's removal, if one is waiting, commits in this claim's transaction.
    const removal = this.removal;
    this.removal = null;
    let claim;
    try {
      claim = await this.store.claim(row.id, (current) => {
        if (current.state !== row.state || current.attempts !== row.attempts) return null;
        const now = this.now();
        return { ...current, state: 'inflight', attempts: current.attempts + 1, leaseUntil: now + leaseMs };
      }, removal);
    } catch (error) {
      this.removal = removal; // nothing was written; the drain settles it on its own
      throw error;
    }
    if (removal) this.removalDone(removal, claim.removed);
    const { row: claimed, record } = claim;
    if (!claimed) return 'skipped';
    const fenced = (current) => current.attempts === claimed.attempts && current.state === 'inflight';

    let request;
    try {
      request = await this.materialize(claimed, record);
    } catch (error) {
      if (!isTamperOrLoss(error)) throw error;
      return (await this.deadLetter(claimed, error.code, fenced)) ? 'dead' : 'skipped';
    }
    // The key this entry goes out with (the app's own, or the entry id); beforeReplay cannot change it.
    const key = this.header ? request.headers.get(this.header) : null;
    if (this.beforeReplay) {
      try {
        const replaced = await this.beforeReplay(request, info(claimed));
        if (replaced instanceof Request) request = replaced;
      } catch {
        return this.record(claimed, { kind: 'network' }, fenced);
      }
      if (this.header && request.headers.get(this.header) !== key) {
        const headers = new Headers(request.headers);
        headers.set(this.header, key);
        request = new Request(request, { headers });
      }
    }

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new SealpostError('timeout', 'the attempt took longer than requestTimeoutMs'));
    }, this.policy.requestTimeoutMs);
    const onAbort = () => controller.abort(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) controller.abort(signal.reason);
    let outcome;
    try {
      const response = await fetchFn(request, { signal: controller.signal });
      outcome = { kind: 'response', status: response.status, retryAfter: response.headers.get('retry-after') ?? '' };
      await discardBody(response);
    } catch {
      outcome = { kind: timedOut ? 'timeout' : 'network' };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    return this.record(claimed, outcome, fenced);
  }

  /** Deletes the entry of the last successful replay, if its removal is still waiting. */
  async settleRemoval() {
    const removal = this.removal;
    if (!removal) return;
    this.removal = null;
    let removed = false;
    try {
      removed = await this.store.remove(removal.id, removal.expect);
    } catch (error) {
      // Closed meanwhile: the entry stays inflight and is sent again, under its key, after its lease.
      if (!this.closed) throw error;
    }
    this.removalDone(removal, removed);
  }

  removalDone(removal, removed) {
    if (removed) {
      this.emit('sent', { id: removal.id, attempts: removal.attempts, status: removal.status });
    } else if (this.counts) {
      this.counts.sent -= 1;
    }
  }

  /** Applies the engine's decision for one outcome. */
  async record(claimed, outcome, fenced) {
    const decision = this.core.retryDecide({
      policy: this.policy, attempts: claimed.attempts, createdAt: claimed.createdAt, now: this.now(),
      seed: parseInt(claimed.id.slice(0, 13), 16), previousError: claimed.lastError ?? '',
      canRefresh: Boolean(this.beforeReplay), outcome,
    });
    if (decision.action === 'sent') {
      // Removed in the next claim's transaction, or by settleRemoval() before the drain reads the queue
      // again: one IndexedDB commit per replayed entry instead of two. Counted as sent now; removalDone
      // takes it back if another drainer changed the entry meanwhile.
      this.removal = { id: claimed.id, expect: fenced, attempts: claimed.attempts, status: outcome.status };
      return 'sent';
    }
    if (decision.action === 'retry') {
      const next = await this.store.update(claimed.id, (current) => (fenced(current)
        ? { ...current, state: 'pending', leaseUntil: 0, nextAttemptAt: decision.nextAttemptAt, lastError: decision.code }
        : null));
      if (!next) return 'skipped';
      this.emit('retry-scheduled', {
        id: claimed.id, attempts: claimed.attempts, code: decision.code, nextAttemptAt: decision.nextAttemptAt,
      });
      return 'retry';
    }
    return (await this.deadLetter(claimed, decision.code, fenced)) ? 'dead' : 'skipped';
  }

  /** Marks an entry dead with `code` (if `expect` holds) and says so. */
  async deadLetter(row, code, expect = (current) => current.state === row.state && current.attempts === row.attempts) {
    const dead = await this.store.update(row.id, (current) => (expect(current)
      ? { ...current, state: 'dead', leaseUntil: 0, lastError: code }
      : null));
    if (!dead) return false;
    this.emit('dead-lettered', { id: row.id, attempts: dead.attempts, code });
    return true;
  }

  /**
   * Opens an entry's record (and body chunks) into a Request with the idempotency header.
   * Throws 'record-tampered' or 'key-lost'.
   */
  async materialize(row, sealed) {
    const { fields, body } = await this.open(row, sealed);
    const headers = new Headers(fields.headers ?? []);
    // The app's own key, when the queued request carried one, is the key of every attempt; else the entry id.
    if (this.header && !headers.has(this.header)) headers.set(this.header, row.id);
    const init = { method: fields.method, headers };
    for (const name of ['credentials', 'cache', 'redirect', 'referrer', 'referrerPolicy', 'integrity', 'keepalive']) {
      if (fields[name] !== undefined) init[name] = fields[name];
    }
    if (fields.mode !== undefined) init.mode = fields.mode === 'navigate' ? 'same-origin' : fields.mode;
    // fetch refuses keepalive bodies over 64 KiB, and a replay has no page to outlive anyway.
    if (init.keepalive && fields.stream) init.keepalive = false;
    // The Request owns `body` from here and it is never wiped: WebKit's Request keeps a reference to the
    // buffer instead of copying it (the Fetch standard copies), so zeroing it would send zeros. This copy of
    // the plaintext lives until the Request is collected after the attempt (README "Plaintext in memory").
    if (body) init.body = body;
    try {
      return new Request(fields.url, init);
    } catch {
      // A field this runtime refuses (e.g. a mode or referrer it does not allow here): keep the essentials.
      return new Request(fields.url, { method: fields.method, headers, body: init.body });
    }
  }

  /** Opens an entry's record (read here unless given) → {fields, body: Uint8Array | Blob | null}. */
  async open(row, record) {
    const sealed = record ?? await this.store.record(row.id);
    if (!(sealed instanceof Uint8Array)) {
      throw new SealpostError('record-tampered', `entry ${row.id} has no sealed record`);
    }
    const keyId = hex(this.core.recordKeyId(sealed));
    if (keyId === row.keyId && !this.keys.all.includes(keyId)) await this.refreshKeys();
    if (keyId !== row.keyId || !this.keys.all.includes(keyId)) {
      throw new SealpostError('record-tampered', `entry ${row.id} holds a record sealed for another place`);
    }
    const handle = await this.keyHandle(keyId);
    if (!handle) throw new SealpostError('key-lost', `the key that sealed entry ${row.id} is gone`);
    let opened;
    try {
      opened = this.core.requestOpen(handle, this.place(row.id), sealed);
    } catch (error) {
      if (error instanceof SealpostError && error.code === 'wrong-key') {
        throw new SealpostError('record-tampered', error.message, { cause: error });
      }
      throw error;
    }
    const { fields } = opened;
    if (!fields.stream) return { fields, body: opened.body.length ? opened.body : null };
    return { fields, body: await this.openBody(handle, row.id, fields.stream) };
  }

  /** Opens a chunk stream into a Blob, one chunk in Wasm memory at a time. */
  async openBody(handle, id, stream) {
    const opener = this.core.streamOpenInit(handle, this.place(id), unhex(stream.header));
    const parts = [];
    let size = 0;
    try {
      for (let index = 0; index < stream.chunks; index += CHUNK_BATCH) {
        const count = Math.min(CHUNK_BATCH, stream.chunks - index);
        const sealedChunks = await this.store.chunks(id, index, count);
        if (sealedChunks.length !== count) {
          throw new SealpostError('record-tampered', `entry ${id} is missing body chunks`);
        }
        for (let i = 0; i < count; i += 1) {
          const { plain, final } = this.core.streamOpenPull(opener, sealedChunks[i]);
          if (final !== (index + i === stream.chunks - 1)) {
            throw new SealpostError('record-tampered', `entry ${id} has a truncated or extended body`);
          }
          size += plain.length;
          parts.push(plain);
        }
      }
      if (size !== stream.size) throw new SealpostError('record-tampered', `entry ${id} body has the wrong size`);
      return new Blob(parts);
    } finally {
      this.core.streamRelease(opener);
      for (const part of parts) part.fill(0);
    }
  }

  // ---------------------------------------------------------------- inspection and management

  /**
   * Counts by state and when the next entry falls due (null when nothing is queued), for status displays
   * and the service worker's 'sealpost:stats' answer.
   * @returns {Promise<{pending: number, inflight: number, dead: number, nextAttemptAt: number | null}>}
   */
  async stats() {
    this.ensureOpen();
    const rows = await this.store.entries(this.name);
    const count = (state) => rows.filter((row) => row.state === state).length;
    const live = rows.some((row) => row.state !== 'dead');
    let nextAttemptAt = null;
    if (live) {
      const plan = this.plan(rows);
      nextAttemptAt = plan.due.length > 0 ? this.now() : plan.nextAttemptAt;
    }
    return { pending: count('pending'), inflight: count('inflight'), dead: count('dead'), nextAttemptAt };
  }

  /** Entries still queued (pending or inflight), dead letters excluded. */
  async size() {
    this.ensureOpen();
    return (await this.store.entries(this.name)).filter((row) => row.state !== 'dead').length;
  }

  /**
   * Every entry (dead letters included) with its scheduling fields, method, URL and metadata; never
   * headers or bodies. An entry whose record cannot be opened has `error` set instead.
   * @returns {Promise<Array<EntryInfo & {method?: string, url?: string, metadata?: unknown, error?: string}>>}
   */
  async list() {
    this.ensureOpen();
    return this.describe(await this.store.entries(this.name));
  }

  /** One entry as list() describes it, or null when it is not in this queue. */
  async entry(id) {
    this.ensureOpen();
    if (typeof id !== 'string') throw new SealpostError('invalid-argument', 'entry(id) needs an entry id');
    const row = await this.store.entry(id);
    return row && row.queue === this.name ? (await this.describe([row]))[0] : null;
  }

  /**
   * An entry's queued request, decrypted, as a replay would send it (idempotency header included), or null
   * when the entry is gone. Rejects with 'record-tampered' or 'key-lost' as a replay would fail.
   * @param {string} id
   * @returns {Promise<Request | null>}
   */
  async request(id) {
    this.ensureOpen();
    if (typeof id !== 'string') throw new SealpostError('invalid-argument', 'request(id) needs an entry id');
    const row = await this.store.entry(id);
    if (!row || row.queue !== this.name) return null;
    return this.materialize(row);
  }

  /** The dead letters, as list() describes them; `lastError` says why each died. */
  async deadLetters() {
    this.ensureOpen();
    return this.describe((await this.store.entries(this.name)).filter((row) => row.state === 'dead'));
  }

  async describe(rows) {
    const out = [];
    for (const row of rows) {
      const item = info(row);
      try {
        const sealed = await this.store.record(row.id);
        const keyId = sealed instanceof Uint8Array ? hex(this.core.recordKeyId(sealed)) : null;
        if (keyId === row.keyId && !this.keys.all.includes(keyId)) await this.refreshKeys();
        const handle = keyId === row.keyId && this.keys.all.includes(keyId) ? await this.keyHandle(keyId) : null;
        if (!handle) throw new SealpostError(keyId === row.keyId ? 'key-lost' : 'record-tampered');
        const { fields, body } = this.core.requestOpen(handle, this.place(row.id), sealed);
        body.fill(0);
        Object.assign(item, { method: fields.method, url: fields.url, metadata: fields.metadata });
      } catch (error) {
        item.error = error instanceof SealpostError ? error.code : 'record-tampered';
      }
      out.push(item);
    }
    return out;
  }

  /** Puts a dead letter back in the queue, due now, with its attempts reset. Resolves false if not dead. */
  async requeue(id) {
    this.ensureOpen();
    const row = await this.store.update(id, (current) => (current.queue === this.name && current.state === 'dead'
      ? { ...current, state: 'pending', attempts: 0, nextAttemptAt: this.now(), leaseUntil: 0, lastError: null }
      : null));
    if (row) this.emit('enqueued', { id, state: 'pending', requeued: true });
    return Boolean(row);
  }

  /** Deletes an entry (any state) with its record and chunks. Resolves false if there was none. */
  async discard(id) {
    this.ensureOpen();
    return this.store.remove(id, (row) => row.queue === this.name);
  }

  /**
   * Seals every record under a fresh key, then deletes the old keys. Entries whose record cannot be
   * opened are dead-lettered ('record-tampered' / 'key-lost').
   * @returns {Promise<{keyId: string, resealed: number}>}
   */
  async rotateKey() {
    this.ensureOpen();
    const [handle, keyId] = await this.createKey();
    this.keys = await this.store.updateKeys(this.name, (keys) => ({ current: keyId, all: union(keys.all, this.keys.all, [keyId]) }));
    let resealed = 0;
    for (const row of await this.store.entries(this.name)) {
      if (row.keyId === keyId) continue;
      let opened;
      try {
        opened = await this.open(row);
      } catch (error) {
        if (!isTamperOrLoss(error)) throw error;
        if (row.state !== 'dead') await this.deadLetter(row, error.code);
        continue;
      }
      const { stream, ...fields } = opened.fields;
      const body = opened.body instanceof Blob ? new Uint8Array(await opened.body.arrayBuffer())
        : opened.body ?? new Uint8Array(0);
      let sealed;
      try {
        sealed = this.seal(handle, this.place(row.id), fields, body);
      } finally {
        body.fill(0);
      }
      if (await this.store.replaceSealed(row.id, sealed.record, sealed.chunks, keyId,
        (current) => current.keyId === row.keyId)) {
        resealed += 1;
      }
    }
    // Old keys that no record needs any more are deleted (and forgotten in Wasm).
    const inUse = new Set((await this.store.entries(this.name)).map((row) => row.keyId));
    const unused = new Set(this.keys.all.filter((k) => k !== keyId && !inUse.has(k)));
    for (const old of unused) {
      if (typeof this.keyStore.delete === 'function') await this.keyStore.delete(this.purpose(old));
      const oldHandle = this.handles.get(old);
      if (oldHandle) this.core.keyRelease(oldHandle);
      this.handles.delete(old);
    }
    this.keys = await this.store.updateKeys(this.name, (keys) => ({
      current: keys.current, all: keys.all.filter((k) => !unused.has(k)),
    }));
    return { keyId, resealed };
  }

  /**
   * Crypto-shred: deletes this queue's keys first (from the key store and from Wasm memory), then its
   * records. After it, nothing that was queued can be opened. Closes the outbox.
   */
  async destroy() {
    this.ensureOpen();
    const prefix = `outbox:${this.database}:${this.name}:`;
    const purposes = typeof this.keyStore.purposes === 'function' ? await this.keyStore.purposes(prefix) : [];
    const all = new Set([...purposes, ...this.keys.all.map((k) => this.purpose(k)), this.groupPurpose()]);
    if (typeof this.keyStore.delete === 'function') {
      for (const purpose of all) await this.keyStore.delete(purpose);
    } else {
      await this.keyStore.destroy(); // a store that can only be destroyed as a whole (DESIGN's minimal interface)
    }
    this.releaseKeys();
    await this.store.clearQueue(this.name);
    this.closed = true;
    if (await this.store.empty()) await this.store.deleteDatabase();
    else this.store.close();
    if (this.ownsKeyStore) this.keyStore.close?.();
    this.channel?.close();
  }

  releaseKeys() {
    for (const handle of this.handles.values()) this.core.keyRelease(handle);
    this.handles.clear();
    if (this.groupKey) this.core.keyRelease(this.groupKey);
    this.groupKey = 0;
  }

  /** Closes the database connection and forgets the keys in Wasm memory. Queued entries stay. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.releaseKeys();
    this.store.close();
    if (this.ownsKeyStore) this.keyStore.close?.();
    this.channel?.close();
  }
}

/**
 * Reads and drops a response body so the connection can be reused; a body longer than 64 KiB is
 * cancelled instead (the status is all the outbox needs).
 */
async function discardBody(response) {
  if (!response.body) return;
  try {
    const reader = response.body.getReader();
    for (let read = 0; read <= 65536;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch { /* the answer is known; its body is not needed */ }
}

/**
 * The body bytes of a request, read once. Whether there is a body is the method's to say, not
 * `request.body`'s: Firefox has no `Request.prototype.body`, so a POST there has `body === undefined`
 * and a body all the same. A caller's Request is read through a clone so it stays usable; one built here
 * is read directly.
 */
async function readBody(request, owned) {
  if (request.method === 'GET' || request.method === 'HEAD') return new Uint8Array(0);
  try {
    return new Uint8Array(await (owned ? request : request.clone()).arrayBuffer());
  } catch (error) {
    throw new SealpostError('invalid-request', `the request body cannot be read: ${error.message}`,
      { field: 'body', cause: error });
  }
}

/** A Request from a Request or a plain init; 'invalid-request' when fetch would refuse it. */
function toRequest(input) {
  if (input instanceof Request) return input;
  if (!input || typeof input !== 'object' || (typeof input.url !== 'string' && !(input.url instanceof URL))) {
    throw new SealpostError('invalid-request', 'enqueue needs a Request or {url, method, headers, body}',
      { field: 'url' });
  }
  const { url, ...init } = input;
  if (init.mode === 'navigate') init.mode = 'same-origin';
  try {
    const base = globalThis.location?.href;
    return new Request(base ? new URL(url, base) : url, init);
  } catch (error) {
    throw new SealpostError('invalid-request', `the request cannot be built: ${error.message}`,
      { field: 'request', cause: error });
  }
}
