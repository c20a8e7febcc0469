/**
 * Small promise wrappers over IndexedDB, shared by every store: js/outbox/store.js, js/push/store.js,
 * js/storage/keystore.js and the worker's state (js/worker/).
 * The IDBFactory is always passed in (globalThis.indexedDB in browsers, fake-indexeddb in Node tests).
 */
import { SealpostError } from '../errors.js';

/** Resolves with a request's result; rejects with its error. */
export function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Opens (and upgrades) a database.
 * @param {IDBFactory} factory
 * @param {string} name
 * @param {number} version
 * @param {(db: IDBDatabase, oldVersion: number, tx: IDBTransaction) => void} upgrade
 * @returns {Promise<IDBDatabase>}
 */
export function openDatabase(factory, name, version, upgrade) {
  if (!factory || typeof factory.open !== 'function') {
    return Promise.reject(new SealpostError('invalid-argument', 'an IndexedDB factory (indexedDB) is required'));
  }
  return new Promise((resolve, reject) => {
    const req = factory.open(name, version);
    req.onupgradeneeded = (event) => upgrade(req.result, event.oldVersion, req.transaction);
    req.onsuccess = () => {
      const db = req.result;
      // Another tab or worker upgrading the schema: step aside instead of blocking it.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    req.onerror = () => reject(storageError(req.error));
    req.onblocked = () => {};
  });
}

/** Deletes a database. */
export function deleteDatabase(factory, name) {
  return new Promise((resolve, reject) => {
    const req = factory.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(storageError(req.error));
    req.onblocked = () => {};
  });
}

/**
 * Runs `body` in one transaction and resolves with its result once the transaction has committed.
 * `durability: 'strict'` (where supported) for writes that must survive a crash.
 * @template T
 * @param {IDBDatabase} db
 * @param {string | string[]} stores
 * @param {'readonly' | 'readwrite'} mode
 * @param {(tx: IDBTransaction) => T | Promise<T>} body
 * @param {{durability?: 'strict' | 'relaxed' | 'default'}} [options]
 * @returns {Promise<T>}
 */
export function transaction(db, stores, mode, body, options = {}) {
  return new Promise((resolve, reject) => {
    let tx;
    try {
      tx = db.transaction(stores, mode, options.durability ? { durability: options.durability } : undefined);
    } catch (error) {
      reject(storageError(error));
      return;
    }
    let result;
    let failed = null;
    tx.oncomplete = () => (failed ? reject(failed) : resolve(result));
    tx.onerror = () => reject(storageError(tx.error ?? failed));
    tx.onabort = () => reject(storageError(tx.error ?? failed ?? new Error('transaction aborted')));
    Promise.resolve()
      .then(() => body(tx))
      .then((value) => { result = value; }, (error) => {
        failed = error;
        try { tx.abort(); } catch { /* already finished */ }
      });
  });
}

/** Maps IndexedDB's errors to SealpostError: a full disk or quota is 'storage-full'. */
export function storageError(error) {
  if (error instanceof SealpostError) return error;
  if (error && (error.name === 'QuotaExceededError' || error.name === 'NS_ERROR_DOM_QUOTA_REACHED')) {
    return new SealpostError('storage-full', `IndexedDB refused the write: ${error.message}`, { cause: error });
  }
  return error;
}
