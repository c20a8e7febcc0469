/**
 * The outbox's IndexedDB schema and every read and write the outbox makes. Nothing here sees plaintext:
 * rows hold only the scheduling fields of DESIGN.md and the sealed bytes.
 *
 *   entries  key: id              {id, queue, seq, state, attempts, createdAt, nextAttemptAt, leaseUntil,
 *                                  size, keyId, lastError, group}       index 'order' on [queue, seq]
 *   records  key: id              the sealed request record (Uint8Array)
 *   chunks   key: [id, index]     the sealed chunks of a large body (Uint8Array), in order
 *   meta     key: string          per queue: 'seq:<q>' last sequence number, 'usage:<q>' {entries, bytes},
 *                                  'keys:<q>' {current, all} key ids (hex), 'drainer:<q>' {owner, until}
 *
 * `group` is the hex of a keyed BLAKE2b tag of the group name (see src/core/group_tag.hpp); `keyId` the
 * hex of the 8-byte key id of the key that sealed the record. Writes that must survive a crash use
 * `durability: 'strict'`: a new entry, keys, rotation, a retry's schedule, a dead letter. The two writes of
 * every replay, the lease (claim) and the removal after the server's success, are 'relaxed': if the system
 * goes down before either reaches the disk, the entry is pending again and is sent again under the same
 * idempotency key, which the server has already applied, so nothing is lost or doubled (in Chromium, one
 * pair of bench runs: 50 → 56 entries/s drained).
 */
import { SealpostError } from '../errors.js';
import { Database, deleteDatabase, request, transaction } from '../storage/idb.js';

const VERSION = 1;
const STRICT = { durability: 'strict' };
const RELAXED = { durability: 'relaxed' }; // see above: only for writes whose loss means a resend
const ALL = ['entries', 'records', 'chunks', 'meta'];

/** Lowest and highest keys of IndexedDB's key order, for ranges over compound keys. */
const LOWEST = -Infinity;
const HIGHEST = [];

/** Thrown by add() when the queue's current key is no longer the one the entry was sealed under. */
export class StaleKey extends Error {
  constructor(current) {
    super('the queue key was rotated');
    this.current = current;
  }
}

export class OutboxStore {
  /**
   * @param {IDBFactory} factory
   * @param {string} name  the database name
   * @param {typeof IDBKeyRange} [keyRange]  the IDBKeyRange of the same implementation as `factory`
   * @returns {Promise<OutboxStore>}
   */
  static async open(factory, name, keyRange = globalThis.IDBKeyRange) {
    if (!keyRange) throw new SealpostError('invalid-argument', 'IDBKeyRange is required beside indexedDB');
    // Opened again on its next use if it is closed under it (another tab's upgrade, site data cleared).
    const db = await Database.open(factory, name, VERSION, (database) => {
      const entries = database.createObjectStore('entries', { keyPath: 'id' });
      entries.createIndex('order', ['queue', 'seq'], { unique: true });
      database.createObjectStore('records');
      database.createObjectStore('chunks');
      database.createObjectStore('meta');
    }, ALL);
    return new OutboxStore(factory, name, db, keyRange);
  }

  constructor(factory, name, db, keyRange) {
    this.factory = factory;
    this.name = name;
    this.db = db;
    this.keyRange = keyRange;
    /** @type {Map<string, number>} per queue, how many entries (dead letters included) it held when last seen */
    this.known = new Map();
    /**
     * Set when the database had to be created again on a reopen (the site's data was cleared under it):
     * per queue, the entries that went with it (as last seen here). The outbox reads and clears it.
     * @type {Map<string, number> | null}
     */
    this.lost = null;
    db.onChange((why) => {
      if (why !== 'recreated') return;
      this.lost = new Map(this.known);
      this.known.clear();
    });
  }

  /** Keys [queue, *] of the 'order' index. */
  queueRange(queue) {
    return this.keyRange.bound([queue, LOWEST], [queue, Infinity]);
  }

  /** Keys [id, *] of the chunks store. */
  chunkRange(id) {
    return this.keyRange.bound([id, LOWEST], [id, HIGHEST]);
  }

  close() {
    this.db.close();
  }

  /** Every entry row of `queue`, in sequence order. */
  async entries(queue) {
    const rows = await transaction(this.db, 'entries', 'readonly', (tx) =>
      request(tx.objectStore('entries').index('order').getAll(this.queueRange(queue))));
    this.known.set(queue, rows.length);
    return rows;
  }

  /** One entry row, or undefined. */
  entry(id) {
    return transaction(this.db, 'entries', 'readonly', (tx) => request(tx.objectStore('entries').get(id)));
  }

  /** The sealed record of an entry, or undefined. */
  record(id) {
    return transaction(this.db, 'records', 'readonly', (tx) => request(tx.objectStore('records').get(id)));
  }

  /** Sealed chunks [from, from + count) of an entry's body, in order (missing ones are absent). */
  chunks(id, from, count) {
    return transaction(this.db, 'chunks', 'readonly', (tx) =>
      request(tx.objectStore('chunks').getAll(this.keyRange.bound([id, from], [id, from + count - 1]))));
  }

  /** @param {string} key */
  meta(key) {
    return transaction(this.db, 'meta', 'readonly', (tx) => request(tx.objectStore('meta').get(key)));
  }

  /** @param {string} key @param {unknown} value */
  setMeta(key, value) {
    return transaction(this.db, 'meta', 'readwrite', (tx) => request(tx.objectStore('meta').put(value, key)), STRICT);
  }

  /**
   * Read-modify-write of the queue's key list {current, all} (key ids in hex) in one transaction, so that
   * contexts creating or rotating keys at once merge their changes. Resolves with the new list.
   * @param {string} queue
   * @param {(keys: {current: string | null, all: string[]}) => {current: string | null, all: string[]}} change
   */
  updateKeys(queue, change) {
    return transaction(this.db, 'meta', 'readwrite', async (tx) => {
      const meta = tx.objectStore('meta');
      const keys = (await request(meta.get(`keys:${queue}`))) ?? { current: null, all: [] };
      const next = change(keys);
      meta.put(next, `keys:${queue}`);
      return next;
    }, STRICT);
  }

  /**
   * Adds an entry with its sealed record and chunks in one strict transaction, after checking the queue's
   * limits and that the entry is sealed under the queue's current key (another context may have rotated
   * it: then StaleKey is thrown and nothing is written). Assigns the entry's sequence number. Rejects with
   * 'quota' (limits) or 'storage-full' (IndexedDB's quota) and then writes nothing.
   * @param {object} entry  the row without `seq`
   * @param {Uint8Array} record
   * @param {Uint8Array[]} chunks
   * @param {{maxEntries: number, maxBytes: number}} limits
   * @param {{leaseUntil: number, fifo: boolean} | null} [admission]  for a request its caller sends at once
   *   (the fetch route): the entry is written in flight under a lease until `leaseUntil`, so that no flush
   *   sends it meanwhile, unless (`fifo`) a live entry of its group is already in the queue: then it is
   *   written pending and `behind` is true. Both read in this transaction, so no entry of the group can
   *   slip in between. Entries whose ids are in `admission.settled` (answered, their removal under way) do
   *   not count as live. Written with relaxed durability unless `admission.strict`: the caller makes the
   *   entry durable (persist()) before it tells anyone the request is queued.
   * @returns {Promise<object>} the row written, with `behind` when `admission` was given
   */
  add(entry, record, chunks, limits, admission = null) {
    return transaction(this.db, ALL, 'readwrite', async (tx) => {
      const meta = tx.objectStore('meta');
      const [usage = { entries: 0, bytes: 0 }, seq = 0, keys] = await Promise.all([
        request(meta.get(`usage:${entry.queue}`)), request(meta.get(`seq:${entry.queue}`)),
        request(meta.get(`keys:${entry.queue}`))]);
      // No key list at all: the queue's rows are gone (its data was cleared, or destroy() ran elsewhere).
      if (!keys || keys.current !== entry.keyId) throw new StaleKey(keys?.current ?? null);
      if (usage.entries + 1 > limits.maxEntries) {
        throw new SealpostError('quota', `the queue holds ${usage.entries} entries (maxEntries ${limits.maxEntries})`);
      }
      if (usage.bytes + entry.size > limits.maxBytes) {
        throw new SealpostError('quota',
          `the queue holds ${usage.bytes} bytes; ${entry.size} more exceed maxBytes ${limits.maxBytes}`);
      }
      let row = { ...entry, seq: seq + 1 };
      let behind = false;
      if (admission) {
        behind = admission.fifo && await this.liveInGroup(tx, entry.queue, entry.group, admission.settled);
        if (!behind) row = { ...row, state: 'inflight', leaseUntil: admission.leaseUntil };
      }
      meta.put(seq + 1, `seq:${entry.queue}`);
      meta.put({ entries: usage.entries + 1, bytes: usage.bytes + entry.size }, `usage:${entry.queue}`);
      tx.objectStore('entries').add(row);
      tx.objectStore('records').add(record, entry.id);
      const store = tx.objectStore('chunks');
      chunks.forEach((chunk, index) => store.add(chunk, [entry.id, index]));
      this.known.set(entry.queue, usage.entries + 1);
      return admission ? { ...row, behind } : row;
    }, admission && !admission.strict ? RELAXED : STRICT);
  }

  /**
   * Makes an entry written with relaxed durability durable: a strict commit that writes its row again
   * (a strict commit also makes every earlier write of the database durable). Resolves false when the
   * entry is gone.
   */
  persist(id) {
    return transaction(this.db, 'entries', 'readwrite', async (tx) => {
      const store = tx.objectStore('entries');
      const row = await request(store.get(id));
      if (row) store.put(row);
      return Boolean(row);
    }, STRICT);
  }

  /**
   * Whether `queue` holds a live (pending or inflight) entry of `group` other than those in `settled`,
   * read in transaction `tx`.
   */
  liveInGroup(tx, queue, group, settled = null) {
    return new Promise((resolve, reject) => {
      const req = tx.objectStore('entries').index('order').openCursor(this.queueRange(queue));
      req.onsuccess = () => {
        const cursor = req.result;
        if (!cursor) resolve(false);
        else if (cursor.value.group === group && cursor.value.state !== 'dead' && !settled?.has(cursor.value.id)) resolve(true);
        else cursor.continue();
      };
      req.onerror = () => reject(req.error);
    });
  }

  /**
   * Read-modify-write of one entry: `change(row)` returns the new row, or null to leave it alone (a
   * fencing check failed). Resolves with the new row or null (also when the entry is gone).
   * @param {string} id
   * @param {(row: object) => object | null} change
   */
  update(id, change) {
    return transaction(this.db, 'entries', 'readwrite', async (tx) => {
      const store = tx.objectStore('entries');
      const row = await request(store.get(id));
      if (!row) return null;
      const next = change(row);
      if (!next) return null;
      store.put(next);
      return next;
    }, STRICT);
  }

  /**
   * Leases an entry for an attempt: like update(), and reads its sealed record in the same transaction.
   * `removal` ({id, expect}), when given, is the previous replay's entry, deleted in the same transaction
   * as remove() would (one commit instead of two per replayed entry). Resolves with {row: the new row or
   * null, record, removed, known}: with `known(row)` true for the new row, the record is not read
   * (`record` undefined, `known` true): the caller holds it already.
   * @param {string} id
   * @param {(row: object) => object | null} change
   * @param {{id: string, expect: (row: object) => boolean} | null} [removal]
   * @param {((row: object) => boolean) | null} [known]
   */
  claim(id, change, removal = null, known = null) {
    return transaction(this.db, removal ? ALL : ['entries', 'records'], 'readwrite', async (tx) => {
      const removed = removal ? await this.removeIn(tx, removal.id, removal.expect) : false;
      const store = tx.objectStore('entries');
      const row = await request(store.get(id));
      const next = row ? change(row) : null;
      if (!next) return { row: null, record: undefined, removed, known: false };
      store.put(next);
      // The caller read the record ahead (peek()): still the one stored while the row's keyId is unchanged,
      // since a rotation replaces the record and the keyId together (replaceSealed()).
      if (known && known(next)) return { row: next, record: undefined, removed, known: true };
      return { row: next, record: await request(tx.objectStore('records').get(id)), removed, known: false };
    }, RELAXED);
  }

  /** An entry's row and sealed record, read together (readonly) → {row, record}, both undefined when gone. */
  peek(id) {
    return transaction(this.db, ['entries', 'records'], 'readonly', async (tx) => {
      const [row, record] = await Promise.all([request(tx.objectStore('entries').get(id)),
        request(tx.objectStore('records').get(id))]);
      return { row, record };
    });
  }

  /**
   * Deletes an entry, its record and its chunks, if `expect(row)` holds. Resolves with whether it did.
   * @param {string} id
   * @param {(row: object) => boolean} [expect]
   */
  remove(id, expect = () => true) {
    return transaction(this.db, ALL, 'readwrite', (tx) => this.removeIn(tx, id, expect), RELAXED);
  }

  /** remove() inside a transaction over every store. */
  async removeIn(tx, id, expect) {
    const row = await request(tx.objectStore('entries').get(id));
    if (!row || !expect(row)) return false;
    const meta = tx.objectStore('meta');
    const usage = (await request(meta.get(`usage:${row.queue}`))) ?? { entries: 1, bytes: row.size };
    meta.put({ entries: Math.max(0, usage.entries - 1), bytes: Math.max(0, usage.bytes - row.size) },
      `usage:${row.queue}`);
    this.known.set(row.queue, Math.max(0, usage.entries - 1));
    tx.objectStore('entries').delete(id);
    tx.objectStore('records').delete(id);
    tx.objectStore('chunks').delete(this.chunkRange(id));
    return true;
  }

  /**
   * Replaces an entry's sealed record and chunks (key rotation) if `expect(row)` holds; the entry's keyId
   * and size are updated in the same transaction.
   */
  replaceSealed(id, record, chunks, keyId, expect) {
    return transaction(this.db, ALL, 'readwrite', async (tx) => {
      const entries = tx.objectStore('entries');
      const row = await request(entries.get(id));
      if (!row || !expect(row)) return false;
      const size = record.length + chunks.reduce((sum, c) => sum + c.length, 0);
      const meta = tx.objectStore('meta');
      const usage = (await request(meta.get(`usage:${row.queue}`))) ?? { entries: 1, bytes: row.size };
      meta.put({ entries: usage.entries, bytes: Math.max(0, usage.bytes - row.size + size) }, `usage:${row.queue}`);
      entries.put({ ...row, keyId, size });
      tx.objectStore('records').put(record, id);
      const store = tx.objectStore('chunks');
      store.delete(this.chunkRange(id));
      chunks.forEach((chunk, index) => store.put(chunk, [id, index]));
      return true;
    }, STRICT);
  }

  /**
   * Takes the queue's drainer lease if it is free or expired (or already ours). Resolves with whether
   * `owner` holds it until `until`.
   */
  acquireDrainer(queue, owner, now, until) {
    return transaction(this.db, 'meta', 'readwrite', async (tx) => {
      const meta = tx.objectStore('meta');
      const lease = await request(meta.get(`drainer:${queue}`));
      if (lease && lease.owner !== owner && lease.until > now) return false;
      meta.put({ owner, until }, `drainer:${queue}`);
      return true;
    }, STRICT);
  }

  /** Gives the drainer lease back if `owner` still holds it. */
  releaseDrainer(queue, owner) {
    return transaction(this.db, 'meta', 'readwrite', async (tx) => {
      const meta = tx.objectStore('meta');
      const lease = await request(meta.get(`drainer:${queue}`));
      if (lease && lease.owner === owner) meta.delete(`drainer:${queue}`);
    });
  }

  /** Deletes every row of `queue`: entries, records, chunks and its meta rows. */
  clearQueue(queue) {
    return transaction(this.db, ALL, 'readwrite', async (tx) => {
      const entries = tx.objectStore('entries');
      const ids = await request(entries.index('order').getAllKeys(this.queueRange(queue)));
      for (const id of ids) {
        entries.delete(id);
        tx.objectStore('records').delete(id);
        tx.objectStore('chunks').delete(this.chunkRange(id));
      }
      const meta = tx.objectStore('meta');
      for (const key of ['seq', 'usage', 'keys', 'drainer']) meta.delete(`${key}:${queue}`);
      this.known.set(queue, 0);
    }, STRICT);
  }

  /** Whether the database holds no entry of any queue (then it may be deleted). */
  async empty() {
    const count = await transaction(this.db, 'entries', 'readonly', (tx) => request(tx.objectStore('entries').count()));
    return count === 0;
  }

  /** Closes and deletes the whole database. */
  async deleteDatabase() {
    this.db.close();
    await deleteDatabase(this.factory, this.name);
  }
}
