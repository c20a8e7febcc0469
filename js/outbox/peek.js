/**
 * What a queue holds and when it next needs a flush, read from IndexedDB alone: no Wasm, no keys, no
 * record opened. The scheduling fields of an entry row (state, seq, group, nextAttemptAt, leaseUntil,
 * createdAt) are stored in the clear (js/outbox/store.js), so a service worker can tell at the start of
 * its life whether its start-of-life flush has anything to send before it loads the module and opens the
 * outbox with its keys.
 *
 * `schedule` follows src/core/retry.hpp plan_due for a flush that has tried nothing yet (tests/node/
 * outbox-peek.test.js checks it against the core on random rows). It only decides whether to load; every
 * real flush still plans in C++.
 */

/** src/core/retry.hpp RetryPolicy's default maxAgeMs (7 days). */
export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/**
 * The maxAgeMs a queue's `retry` option gives, or null when the option is not one the core would take
 * as it is (then the caller should not guess: the core reports it).
 * @param {unknown} retry
 * @returns {number | null}
 */
export function maxAgeOf(retry) {
  if (retry === undefined || retry === null) return DEFAULT_MAX_AGE_MS;
  if (typeof retry !== 'object' || Array.isArray(retry)) return null;
  if (retry.maxAgeMs === undefined) return DEFAULT_MAX_AGE_MS;
  return Number.isSafeInteger(retry.maxAgeMs) && retry.maxAgeMs >= 1 ? retry.maxAgeMs : null;
}

/**
 * A queue's schedule at `now`, from its entry rows.
 * @param {Array<{id: string, seq: number, group?: string, state: string, nextAttemptAt: number,
 *   leaseUntil: number, createdAt: number}>} rows
 * @param {{ordering: 'fifo' | 'independent', maxAgeMs: number, now: number}} options
 * @returns {{live: number, due: boolean, nextAttemptAt: number | null, wakeAt: number | null}}
 *   live: entries not dead; due: a flush at `now` would send or dead-letter (expired) something;
 *   nextAttemptAt: plan_due's next_attempt_at (when something not due now becomes due; what
 *   Outbox.flush reports when nothing is due); wakeAt: the earliest time a flush could do anything
 *   (an entry due, a lease run out, or an entry reaching maxAgeMs), null when nothing is live
 */
export function schedule(rows, { ordering, maxAgeMs, now }) {
  const sorted = [...rows].sort((a, b) => a.seq - b.seq);
  const blocked = new Set();
  let live = 0;
  let due = false;
  let nextAttemptAt = null;
  let wakeAt = null;
  const later = (at, acts) => {
    if (nextAttemptAt === null || at < nextAttemptAt) nextAttemptAt = at;
    if (wakeAt === null || acts < wakeAt) wakeAt = acts;
  };
  for (const row of sorted) {
    if (row.state === 'dead') continue;
    live += 1;
    const key = ordering === 'fifo' ? `g:${String(row.group ?? '')}` : `i:${row.id}`;
    if (blocked.has(key)) continue;
    if (row.state === 'inflight' && row.leaseUntil > now) {
      later(row.leaseUntil, row.leaseUntil);
      blocked.add(key);
    } else if (row.createdAt + maxAgeMs <= now) {
      due = true; // expired: dead-lettered by the next flush
    } else if (row.state !== 'inflight' && row.nextAttemptAt > now) {
      later(row.nextAttemptAt, Math.min(row.nextAttemptAt, row.createdAt + maxAgeMs));
      blocked.add(key);
    } else {
      due = true;
    }
  }
  if (due) wakeAt = now;
  return { live, due, nextAttemptAt, wakeAt };
}

/**
 * Every entry row of database `name`, by queue, read in one read-only transaction. A database that does
 * not exist is not created (its upgrade is aborted): it holds nothing. Rejects when the database is not an
 * outbox database (no 'entries' store) or cannot be read.
 * @param {IDBFactory} factory
 * @param {string} name
 * @returns {Promise<Map<string, object[]>>}
 */
export function peekEntries(factory, name) {
  return new Promise((resolve, reject) => {
    let fresh = false;
    const req = factory.open(name);
    req.onupgradeneeded = () => {
      fresh = true;
      req.transaction.abort();
    };
    req.onerror = (event) => {
      if (fresh) {
        event.preventDefault?.();
        resolve(new Map());
      } else {
        reject(req.error);
      }
    };
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => db.close();
      try {
        const read = db.transaction('entries', 'readonly').objectStore('entries').getAll();
        read.onsuccess = () => {
          db.close();
          const byQueue = new Map();
          for (const row of read.result) {
            if (!byQueue.has(row.queue)) byQueue.set(row.queue, []);
            byQueue.get(row.queue).push(row);
          }
          resolve(byQueue);
        };
        read.onerror = () => {
          db.close();
          reject(read.error);
        };
      } catch (error) {
        db.close();
        reject(error);
      }
    };
  });
}
