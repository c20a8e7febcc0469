// Shared set-up for the outbox suites: a fresh fake IndexedDB per test, a hand-driven clock, a raw view
// of what IndexedDB holds, and a loop that flushes until a queue is empty.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';

import { Outbox } from '../../js/outbox/outbox.js';
import { WebCryptoKeyStore } from '../../js/storage/keystore.js';

export { Outbox, WebCryptoKeyStore, IDBFactory };

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000) {
  const clock = { t: start, now: () => clock.t, advance: (ms) => { clock.t += ms; } };
  return clock;
}

/** Opens an Outbox on a fresh (or given) fake IndexedDB with a manual clock. */
export async function openOutbox(options = {}) {
  const indexedDB = options.indexedDB ?? new IDBFactory();
  const clock = options.clock ?? manualClock();
  const outbox = await Outbox.open({ name: 'notes', broadcast: false, now: clock.now, ...options, indexedDB });
  return { outbox, indexedDB, clock };
}

function openRaw(factory, name) {
  return new Promise((resolve, reject) => {
    const req = factory.open(name);
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

/** Every [store, key, value] of every object store of a database. */
export async function dumpDatabase(factory, name) {
  const db = await openRaw(factory, name);
  const rows = [];
  for (const storeName of db.objectStoreNames) {
    const store = db.transaction(storeName).objectStore(storeName);
    const [keys, values] = await Promise.all([done(store.getAllKeys()), done(store.getAll())]);
    keys.forEach((key, i) => rows.push([storeName, key, values[i]]));
  }
  db.close();
  return rows;
}

/** Reads or rewrites one value of a database directly (what an attacker with disk access can do). */
export async function rawGet(factory, name, storeName, key) {
  const db = await openRaw(factory, name);
  try {
    return await done(db.transaction(storeName).objectStore(storeName).get(key));
  } finally {
    db.close();
  }
}

export async function rawPut(factory, name, storeName, key, value) {
  const db = await openRaw(factory, name);
  try {
    const store = db.transaction(storeName, 'readwrite').objectStore(storeName);
    await done(store.keyPath ? store.put(value) : store.put(value, key));
  } finally {
    db.close();
  }
}

/** Every byte string reachable in a value (strings as UTF-8, typed arrays as they are), concatenated. */
export function bytesOf(value, out = []) {
  if (value === null || value === undefined) return out;
  if (typeof value === 'string') out.push(Buffer.from(value, 'utf8'));
  else if (typeof value === 'number' || typeof value === 'boolean') out.push(Buffer.from(String(value)));
  else if (ArrayBuffer.isView(value)) out.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  else if (value instanceof ArrayBuffer) out.push(Buffer.from(value));
  else if (Array.isArray(value)) value.forEach((v) => bytesOf(v, out));
  else if (typeof value === 'object' && !(value instanceof CryptoKey)) {
    for (const [k, v] of Object.entries(value)) {
      out.push(Buffer.from(k));
      bytesOf(v, out);
    }
  }
  return out;
}

/** Flushes, moving the clock to each next attempt time, until nothing is queued (or `maxFlushes`). */
export async function drain(outbox, clock, { fetch, maxFlushes = 5000 } = {}) {
  const totals = { sent: 0, retrying: 0, dead: 0, flushes: 0 };
  for (let i = 0; i < maxFlushes; i += 1) {
    const result = await outbox.flush({ fetch });
    totals.flushes += 1;
    totals.sent += result.sent;
    totals.retrying += result.retrying;
    totals.dead += result.dead;
    if (result.remaining === 0) return totals;
    if (result.nextAttemptAt !== null && result.nextAttemptAt > clock.t) clock.t = result.nextAttemptAt;
  }
  throw new Error(`the queue did not drain in ${maxFlushes} flushes`);
}
