/**
 * Outbox: an encrypted, crash-safe queue of HTTP requests in IndexedDB, replayed with retries. This file
 * is the API and its events; the parts beside it:
 *   request.js  a request ↔ its sealed record (src/core/request_record.hpp, src/core/record_stream.hpp)
 *   drain.js    one flush: what is due and what an outcome means are decided in C++ (src/core/retry.hpp)
 *   keys.js     the queue's keys, wrapped at rest in a KeyStore (js/storage/keystore.js)
 *   store.js    the IndexedDB schema, and every read and write
 *   inspect.js  reading entries for inspectors (list, entry, request, preview, sealedRecord)
 *
 * States: pending → inflight (with a lease) → deleted when the server answered with success, back to
 * pending with nextAttemptAt on a retryable failure, or dead (kept, inspectable, requeue-able).
 * Every entry carries a random 128-bit id, sent on every attempt in the idempotency header (unless the
 * queued request carries that header itself: then the app's key is sent on every attempt).
 */
import { SealpostError } from '../errors.js';
import { WebCryptoKeyStore } from '../storage/keystore.js';
import { ready } from '../wasm/loader.js';
import { Drain, LEASE_MARGIN_MS, planDue } from './drain.js';
import { hex } from './hex.js';
import { EntryReader } from './inspect.js';
import { OutboxKeys } from './keys.js';
import { RequestCodec, readBody, requestFields, toRequest } from './request.js';
import { checkOptions } from './options.js';
import { OutboxStore, StaleKey } from './store.js';

export { STREAM_THRESHOLD } from './request.js';

const DEFAULT_FLUSH_BUDGET_MS = 150000;

/**
 * @typedef {object} OutboxOptions
 * @property {string} name  the queue name (several queues may share one database)
 * @property {'fifo' | 'independent'} [ordering]  default 'fifo' (per group)
 * @property {object} [retry]  retry policy (see docs/outbox.md, "Retry policy"); validated in C++, 'invalid-policy' names the field
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
 * @property {import('../wasm/core.js').WasmCore} [core]  a Wasm instance (default: the shared one)
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
 * @property {number} remaining  entries still queued (pending or inflight), dead letters excluded, and so
 *   are entries this instance's caller is sending itself (admit(): the fetch route's requests in flight)
 * @property {number | null} nextAttemptAt  when the earliest remaining entry falls due (outbox clock)
 * @property {boolean} [busy]  another context was draining this queue; nothing was sent
 */

/** A record that cannot be opened: changed, its key gone, or a version-1 record ('unsupported-version'). */
function isTamperOrLoss(error) {
  return error instanceof SealpostError
    && (error.code === 'record-tampered' || error.code === 'key-lost' || error.code === 'unsupported-version');
}

export class Outbox extends EventTarget {
  /**
   * Opens (or creates) a queue. Validates the options (a bad retry policy is 'invalid-policy' with `.field`),
   * loads or creates its keys, and dead-letters records whose key is gone ('key-lost').
   * @param {OutboxOptions} options
   * @returns {Promise<Outbox>}
   */
  static async open(options) {
    const { ordering, header, limits } = checkOptions(options);
    const factory = 'indexedDB' in options ? options.indexedDB : globalThis.indexedDB;
    const database = options.database ?? 'sealpost-outbox';
    const ownsKeyStore = !options.keyStore;
    // The module, the queue's database and the key store load side by side (a worker's first request waits
    // for all three).
    const opening = [
      options.core ?? ready({ wasmUrl: options.wasmUrl }),
      OutboxStore.open(factory, database, options.IDBKeyRange ?? globalThis.IDBKeyRange),
      options.keyStore ?? WebCryptoKeyStore.open({ indexedDB: factory }),
    ];
    const settled = await Promise.allSettled(opening);
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) {
      if (settled[1].status === 'fulfilled') settled[1].value.close();
      if (ownsKeyStore && settled[2].status === 'fulfilled') settled[2].value.close?.();
      throw failed.reason;
    }
    const [core, store, keyStore] = settled.map((result) => result.value);
    let policy;
    try {
      policy = core.retryPolicy(options.retry);
    } catch (error) {
      store.close();
      if (ownsKeyStore) keyStore.close?.();
      throw error;
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
      await outbox.keys.load();
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
    this.keys = new OutboxKeys({ core: this.core, store: this.store, keyStore: this.keyStore,
      database: this.database, queue: this.name });
    this.codec = new RequestCodec({ core: this.core, store: this.store, keys: this.keys, place: this.place });
    this.reader = new EntryReader({ name: this.name, header: this.header, store: this.store, codec: this.codec });
    this.owner = hex(this.core.randomBytes(16));
    this.closed = false;
    this.channel = null;
    this.drainerUntil = 0;
    this.flushing = false;
    /** Entries admit() stored in flight for this instance's caller to send: id → leaseUntil. */
    this.held = new Map();
    /** Entries admit() stored whose answer came, and their removal under way (settle()): id → promise. */
    this.settled = new Map();
    /** Groups whose last request admitted in this context was queued (behind, or released): see admit(). */
    this.queuedGroups = new Set();
    /** @type {Map<string, number>} id → attempts of leases this outbox holds whose attempt has ended */
    this.voidLeases = new Map();
  }

  /** Whether `row` is in flight under a lease admit() took for this instance's caller. */
  holds(row) {
    return row.state === 'inflight' && this.held.get(row.id) === row.leaseUntil;
  }

  /**
   * The rows as the retry plan should see them: an entry leased by this outbox whose attempt ended without
   * its outcome written (IndexedDB refused the write: storage-full) is pending and due now, not inflight
   * until the lease expires. Only while the row is unchanged (same attempts, still inflight).
   */
  withVoidLeases(rows) {
    if (this.voidLeases.size === 0) return rows;
    return rows.map((row) => {
      const attempts = this.voidLeases.get(row.id);
      if (attempts === undefined) return row;
      if (row.state !== 'inflight' || row.attempts !== attempts) {
        this.voidLeases.delete(row.id);
        return row;
      }
      return { ...row, state: 'pending', leaseUntil: 0, nextAttemptAt: Math.min(row.nextAttemptAt, this.now()), voidLease: true };
    });
  }

  /** Dead-letters, as 'key-lost', every live entry whose key cannot be loaded any more. */
  async reportLostKeys() {
    for (const row of await this.store.entries(this.name)) {
      if (row.state === 'dead' || !this.keys.has(row.keyId)) continue;
      if (!(await this.keys.handle(row.keyId))) await this.markDead(row, 'key-lost');
    }
  }

  /**
   * After the database had to be created again (the site's data was cleared while this outbox was open):
   * says how many entries went with it ('storage-lost', {lost, database}: the entries, dead letters
   * included, this outbox last saw in the queue; writes another context made since are not counted) and
   * makes new keys (the old ones went with the key store), once. Nothing to do otherwise.
   */
  async recover() {
    const lost = this.store.lost;
    if (!lost) return;
    this.store.lost = null;
    this.keys.release();
    this.keys.list = { current: null, all: [] };
    this.voidLeases.clear();
    await this.keys.load();
    this.emit('storage-lost', { database: this.database, lost: lost.get(this.name) ?? 0 });
  }

  /** The queue's rows; a database found created again is recovered first (see recover()). */
  async rows() {
    await this.recover();
    const rows = await this.store.entries(this.name);
    await this.recover();
    return rows;
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
    const { id } = await this.write(requestOrInit, options, null);
    return { id };
  }

  /**
   * Queues a request its caller sends at once (the fetch route): stored, as enqueue() does, but in flight
   * under a lease of `leaseMs` so that no flush (of this context or another) sends it meanwhile; with fifo
   * ordering, a request whose group already has a live entry in the queue is stored pending instead and
   * `behind` is true (the caller must not send it ahead of them). After a failed attempt the caller gives
   * the lease back with release(). Rejects as enqueue() does. `body`: the request's body bytes, when the
   * caller has read them already (the request's own body is then not read); they stay the caller's.
   * @param {Request} request
   * @param {{group?: string, leaseMs: number, body?: Uint8Array}} options
   * @returns {Promise<{id: string, behind: boolean, leaseUntil: number}>}
   */
  async admit(request, { group = '', leaseMs, body }) {
    const leaseUntil = this.now() + leaseMs;
    // Written with relaxed durability when the request goes out at once (a crash before its answer loses
    // nothing the page was told about); one behind the queue is answered 202 now, so it must be durable.
    // Which of the two it is shows only in the write, so the last outcome of the group in this context
    // decides: after a request of the group was queued, the next is written strictly (one commit, not two).
    const strict = this.queuedGroups.has(group);
    const row = await this.write(request, { group, body },
      { leaseUntil, fifo: this.ordering === 'fifo', settled: this.settled, strict });
    if (row.behind && !strict) await this.store.persist(row.id);
    if (row.behind) this.queuedGroups.add(group);
    else this.queuedGroups.delete(group);
    return { id: row.id, behind: row.behind, leaseUntil: row.behind ? 0 : leaseUntil };
  }

  /**
   * Removes an entry admit() stored whose request the server answered (success, or a status the caller
   * passes on). Until the removal commits the entry is not counted as live in its group, so a request of
   * the group admitted meanwhile is not put behind it. Resolves with whether it removed the entry.
   */
  settle(id) {
    const removal = this.discard(id).finally(() => this.settled.delete(id));
    this.settled.set(id, removal.catch(() => false));
    return removal;
  }

  /** Waits for the removals settle() has under way, so that what is read next no longer shows them. */
  async settledAll() {
    while (this.settled.size > 0) await Promise.all(this.settled.values());
  }

  /**
   * Gives back the lease admit() took, after an attempt that did not succeed: the entry (of `group`) is
   * pending and due at once, and durable. Resolves false when the entry is gone or is no longer under that lease (it ran out and a
   * flush took the entry up).
   */
  async release(id, leaseUntil, group = '') {
    this.ensureOpen();
    this.queuedGroups.add(group);
    try {
      const row = await this.store.update(id, (current) => (current.queue === this.name && current.state === 'inflight'
        && current.attempts === 0 && current.leaseUntil === leaseUntil
        ? { ...current, state: 'pending', leaseUntil: 0 }
        : null));
      // The update is a strict commit, which makes admit()'s relaxed write durable; when it changed nothing
      // (a flush took the entry up), the entry is made durable on its own.
      if (!row) await this.store.persist(id);
      return Boolean(row);
    } finally {
      this.held.delete(id); // after the write: a flush reading the queue meanwhile still sees it held
    }
  }

  /** enqueue() and admit(): reads, seals and stores the request → the stored row. */
  async write(requestOrInit, options, admission) {
    this.ensureOpen();
    const group = options.group ?? '';
    if (typeof group !== 'string') throw new SealpostError('invalid-request', 'group must be a string', { field: 'group' });
    const owned = !(requestOrInit instanceof Request);
    const request = toRequest(requestOrInit);
    const fields = requestFields(request, options.metadata);
    // A body its caller read already (admit({body}) from the fetch route) stays the caller's: not zeroed here.
    const given = options.body instanceof Uint8Array;
    const body = given ? options.body : await readBody(request, owned);
    const id = hex(this.core.randomBytes(16));
    const groupTag = hex(this.core.groupTag(this.keys.groupKey, group));
    // Held from before the write commits, so that a flush reading the queue at that moment already knows.
    if (admission) this.held.set(id, admission.leaseUntil);
    let row;
    try {
      // Sealed under the current key; if another context rotated it meanwhile, sealed again under the new one.
      for (let tries = 0; !row; tries += 1) {
        await this.recover();
        const keyId = this.keys.current;
        const handle = await this.keys.handle(keyId);
        if (!handle) throw new SealpostError('key-lost', 'the outbox key is gone from the key store');
        const { record, chunks } = this.codec.seal(handle, id, fields, body);
        const now = this.now();
        const entry = {
          id, queue: this.name, state: 'pending', attempts: 0, createdAt: now, nextAttemptAt: now, leaseUntil: 0,
          size: record.length + chunks.reduce((sum, c) => sum + c.length, 0), keyId, lastError: null, group: groupTag,
        };
        try {
          row = await this.store.add(entry, record, chunks, this.limits, admission);
        } catch (error) {
          if (!(error instanceof StaleKey) || tries > 1) throw error;
          // No key list at all: the queue's data is gone; new keys are made (recover()) and the loss said.
          if (error.current === null) this.store.lost ??= new Map([[this.name, this.store.known.get(this.name) ?? 0]]);
          else await this.keys.refresh();
        }
      }
    } catch (error) {
      this.held.delete(id);
      throw error;
    } finally {
      if (!given) body.fill(0);
    }
    if (row.behind) this.held.delete(id);
    this.emit('enqueued', { id, state: row.state, seq: row.seq });
    return row;
  }

  // ---------------------------------------------------------------- flush

  /**
   * Sends what is due now, in order, and returns; never sleeps. No attempt starts at or after `deadline`
   * (outbox clock; default now() + 150 s). `fetch` defaults to the one given to open, then globalThis.fetch.
   * `signal` stops the flush (an attempt in progress is aborted and counts). `networkBack`: the caller
   * knows the network is back (the browser's `online` event): entries waiting out a backoff after a network
   * failure or timeout are due now; delays the server asked for still hold.
   * @param {{deadline?: number, fetch?: typeof fetch, signal?: AbortSignal, networkBack?: boolean}} [options]
   * @returns {Promise<FlushResult>}
   */
  async flush(options = {}) {
    this.ensureOpen();
    // One flush at a time per instance as well; a second call while one runs is told so.
    if (this.flushing) return this.summary({ sent: 0, retrying: 0, dead: 0 }, true);
    this.flushing = true;
    try {
      await this.recover();
      return await this.flushOnce(options);
    } finally {
      this.flushing = false;
    }
  }

  async flushOnce(options) {
    const deadline = options.deadline ?? this.now() + DEFAULT_FLUSH_BUDGET_MS;
    const fetchFn = options.fetch ?? this.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== 'function') throw new SealpostError('invalid-argument', 'flush needs a fetch function');
    const drain = (leased) => new Drain(this, { deadline, fetch: fetchFn, signal: options.signal, leased,
      networkBack: options.networkBack === true }).run();
    if (this.locks && typeof this.locks.request === 'function') {
      return this.locks.request(`sealpost:${this.database}:${this.name}`, { ifAvailable: true },
        (lock) => (lock ? drain(false) : this.summary({ sent: 0, retrying: 0, dead: 0 }, true)));
    }
    if (!(await this.holdDrainer())) return this.summary({ sent: 0, retrying: 0, dead: 0 }, true);
    try {
      return await drain(true);
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

  /**
   * A flush's result: its counts, what is left and when the next of it falls due. Entries this instance's
   * caller is sending itself (admit(), the fetch route) are not left for a flush: they are not counted, and
   * with nothing else left nextAttemptAt is null, so no one waits for their leases.
   */
  async summary(counts, busy = false) {
    const rows = this.closed ? [] : await this.rows();
    const remaining = rows.filter((row) => row.state !== 'dead' && !this.holds(row)).length;
    const result = { ...counts, remaining, nextAttemptAt: remaining > 0 ? this.nextAttemptAt(rows) : null };
    if (busy) result.busy = true;
    return result;
  }

  /** When the earliest live entry falls due (now, if one is due), or null when none is queued. */
  nextAttemptAt(rows) {
    if (!rows.some((row) => row.state !== 'dead')) return null;
    const plan = planDue(this, this.withVoidLeases(rows));
    return plan.due.length > 0 ? this.now() : plan.nextAttemptAt;
  }

  /** Marks an entry dead with `code` (if `expect` holds) and says so. */
  async markDead(row, code, expect = (current) => current.state === row.state && current.attempts === row.attempts) {
    const dead = await this.store.update(row.id, (current) => (expect(current)
      ? { ...current, state: 'dead', leaseUntil: 0, lastError: code }
      : null));
    if (!dead) return false;
    this.emit('dead-lettered', { id: row.id, attempts: dead.attempts, code });
    return true;
  }

  // ---------------------------------------------------------------- inspection and management

  /**
   * Counts by state and when the next entry falls due (null when nothing is queued), for status displays
   * and wake-up scheduling; opens no record.
   * @returns {Promise<{pending: number, inflight: number, dead: number, nextAttemptAt: number | null}>}
   */
  async stats() {
    this.ensureOpen();
    await this.settledAll();
    const rows = await this.rows();
    const count = (state) => rows.filter((row) => row.state === state).length;
    return { pending: count('pending'), inflight: count('inflight'), dead: count('dead'),
      nextAttemptAt: this.nextAttemptAt(rows) };
  }

  /** Entries still queued (pending or inflight), dead letters excluded. */
  async size() {
    this.ensureOpen();
    await this.settledAll();
    return (await this.rows()).filter((row) => row.state !== 'dead').length;
  }

  /**
   * Every entry (dead letters included) with its scheduling fields, method, URL and metadata; never
   * headers or bodies. An entry whose record cannot be opened has `error` set instead.
   * @returns {Promise<Array<EntryInfo & {method?: string, url?: string, metadata?: unknown, error?: string}>>}
   */
  async list() {
    this.ensureOpen();
    await this.settledAll();
    return this.reader.describe(await this.rows());
  }

  /** One entry as list() describes it, or null when it is not in this queue. */
  async entry(id) {
    this.ensureOpen();
    return this.reader.entry(id);
  }

  /**
   * An entry's queued request, decrypted, as a replay would send it (idempotency header included), or null
   * when the entry is gone. Rejects with 'record-tampered' or 'key-lost' as a replay would fail.
   * @param {string} id
   * @returns {Promise<Request | null>}
   */
  async request(id) {
    this.ensureOpen();
    return this.reader.request(id);
  }

  /**
   * One entry as entry() describes it, with the first `maxBytes` of its body (`body`, a Uint8Array) and the
   * body's size (`bodySize`); only that much is decrypted, however large the body. For inspectors. Null when
   * the entry is gone; rejects with 'record-tampered' or 'key-lost'.
   * @param {string} id
   * @param {number} [maxBytes]  default 4096
   */
  async preview(id, maxBytes = 4096) {
    this.ensureOpen();
    return this.reader.preview(id, maxBytes);
  }

  /**
   * What IndexedDB holds for an entry's request: its sealed record (ciphertext), or null. Shows what is at
   * rest (the demo's inspector); never plaintext.
   * @param {string} id
   * @returns {Promise<Uint8Array | null>}
   */
  async sealedRecord(id) {
    this.ensureOpen();
    return this.reader.sealedRecord(id);
  }

  /** The dead letters, as list() describes them; `lastError` says why each died. */
  async deadLetters() {
    this.ensureOpen();
    return this.reader.describe((await this.store.entries(this.name)).filter((row) => row.state === 'dead'));
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
    try {
      return await this.store.remove(id, (row) => row.queue === this.name);
    } finally {
      this.held.delete(id);
    }
  }

  /**
   * Seals every record under a fresh key, then deletes the old keys. Entries whose record cannot be
   * opened are dead-lettered ('record-tampered' / 'key-lost' / 'unsupported-version').
   * @returns {Promise<{keyId: string, resealed: number}>}
   */
  async rotateKey() {
    this.ensureOpen();
    const [handle, keyId] = await this.keys.rotate();
    let resealed = 0;
    for (const row of await this.store.entries(this.name)) {
      if (row.keyId === keyId) continue;
      let opened;
      try {
        opened = await this.codec.open(row);
      } catch (error) {
        if (!isTamperOrLoss(error)) throw error;
        if (row.state !== 'dead') await this.markDead(row, error.code);
        continue;
      }
      const { stream, ...fields } = opened.fields;
      const body = opened.body instanceof Blob ? new Uint8Array(await opened.body.arrayBuffer())
        : opened.body ?? new Uint8Array(0);
      let sealed;
      try {
        sealed = this.codec.seal(handle, row.id, fields, body);
      } finally {
        body.fill(0);
      }
      if (await this.store.replaceSealed(row.id, sealed.record, sealed.chunks, keyId,
        (current) => current.keyId === row.keyId)) {
        resealed += 1;
      }
    }
    // Old keys that no record needs any more are deleted (and forgotten in Wasm).
    await this.keys.retireUnused(new Set((await this.store.entries(this.name)).map((row) => row.keyId)), keyId);
    return { keyId, resealed };
  }

  /**
   * Crypto-shred: deletes this queue's keys first (from the key store and from Wasm memory), then its
   * records. After it, nothing that was queued can be opened. Closes the outbox.
   */
  async destroy() {
    this.ensureOpen();
    await this.keys.shred();
    await this.store.clearQueue(this.name);
    this.closed = true;
    if (await this.store.empty()) await this.store.deleteDatabase();
    else this.store.close();
    if (this.ownsKeyStore) this.keyStore.close?.();
    this.channel?.close();
  }

  /** Closes the database connection and forgets the keys in Wasm memory. Queued entries stay. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.keys.release();
    this.store.close();
    if (this.ownsKeyStore) this.keyStore.close?.();
    this.channel?.close();
  }
}
