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
 * Opens (and upgrades) a database. When another context has upgraded it past `version` (a newer build
 * in another tab), it is opened at that version if it still has every store in `stores`; otherwise the
 * open fails with 'unsupported-version'.
 * @param {IDBFactory} factory
 * @param {string} name
 * @param {number} version
 * @param {(db: IDBDatabase, oldVersion: number, tx: IDBTransaction) => void} upgrade
 * @param {string[]} [stores]  the object stores this code needs (for the newer-version case)
 * @returns {Promise<IDBDatabase>}
 */
export function openDatabase(factory, name, version, upgrade, stores = []) {
  if (!factory || typeof factory.open !== 'function') {
    return Promise.reject(new SealpostError('invalid-argument', 'an IndexedDB factory (indexedDB) is required'));
  }
  return openRequest(factory.open(name, version), upgrade).catch((error) => {
    if (error?.name !== 'VersionError') throw error;
    // Newer than this code: usable as long as the stores it reads and writes are still there.
    return openRequest(factory.open(name), upgrade).then((db) => {
      const missing = stores.filter((store) => !db.objectStoreNames.contains(store));
      if (missing.length === 0) return db;
      db.close();
      throw new SealpostError('unsupported-version', `the database '${name}' is at version ${db.version}, `
        + `newer than this build's ${version}, and has no object store ${missing.join(', ')}`);
    });
  });
}

function openRequest(req, upgrade) {
  return new Promise((resolve, reject) => {
    req.onupgradeneeded = (event) => upgrade(req.result, event.oldVersion, req.transaction);
    req.onsuccess = () => {
      const db = req.result;
      // Another tab or worker upgrading or deleting the database: step aside instead of blocking it.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    req.onerror = () => reject(storageError(req.error));
    // Another connection has not closed yet: the open waits for it (every sealpost connection closes on
    // versionchange, so only a foreign connection can hold it up).
    req.onblocked = () => {};
  });
}

/**
 * A database connection that is opened again on its next use after it was closed under it: another tab
 * upgrading or deleting the database (versionchange), or the browser closing it (site data cleared,
 * the 'close' event). Listeners hear why: 'deleted' (versionchange to no version: deleteDatabase, e.g.
 * another context's destroy()), 'upgraded' (versionchange to a newer version), 'closed' (closed by the
 * browser), and 'recreated' (a reopen found the database gone and created it empty: its data was lost).
 */
export class Database {
  /**
   * @param {IDBFactory} factory
   * @param {string} name
   * @param {number} version
   * @param {(db: IDBDatabase, oldVersion: number, tx: IDBTransaction) => void} upgrade
   * @param {string[]} stores  every object store the code uses
   * @returns {Promise<Database>}  once the first connection is open
   */
  static async open(factory, name, version, upgrade, stores) {
    const database = new Database(factory, name, version, upgrade, stores);
    await database.connection();
    return database;
  }

  constructor(factory, name, version, upgrade, stores) {
    this.factory = factory;
    this.name = name;
    this.version = version;
    this.upgrade = upgrade;
    this.stores = stores;
    /** @type {IDBDatabase | null} */
    this.db = null;
    /** @type {Promise<IDBDatabase> | null} */
    this.opening = null;
    this.opened = 0;
    this.closed = false;
    /** @type {Set<(why: 'deleted' | 'upgraded' | 'closed' | 'recreated') => void>} */
    this.listeners = new Set();
  }

  /** @param {(why: 'deleted' | 'upgraded' | 'closed' | 'recreated') => void} listener */
  onChange(listener) {
    this.listeners.add(listener);
  }

  notify(why) {
    for (const listener of this.listeners) {
      try {
        listener(why);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** The open connection, opened (again) if it was closed under this object. */
  connection() {
    if (this.closed) return Promise.reject(new SealpostError('closed', `the database '${this.name}' is closed`));
    if (this.db) return Promise.resolve(this.db);
    if (this.opening) return this.opening;
    let created = false;
    const upgrade = (db, oldVersion, tx) => {
      created = oldVersion === 0;
      this.upgrade(db, oldVersion, tx);
    };
    this.opening = openDatabase(this.factory, this.name, this.version, upgrade, this.stores).then((db) => {
      this.opening = null;
      if (this.closed) {
        db.close();
        throw new SealpostError('closed', `the database '${this.name}' is closed`);
      }
      const reopened = this.opened > 0;
      this.opened += 1;
      this.db = db;
      db.onversionchange = (event) => {
        this.drop(db);
        this.notify(event.newVersion === null ? 'deleted' : 'upgraded');
      };
      db.onclose = () => {
        this.drop(db);
        this.notify('closed');
      };
      if (reopened && created) this.notify('recreated');
      return db;
    }, (error) => {
      this.opening = null;
      throw error;
    });
    return this.opening;
  }

  /**
   * IDBDatabase.transaction() on the connection open now (synchronous: for code that needs a raw
   * transaction and knows the connection is open; everything else uses transaction() below).
   */
  transaction(stores, mode, options) {
    if (!this.db) throw new SealpostError('closed', `the database '${this.name}' has no open connection`);
    return this.db.transaction(stores, mode, options);
  }

  /** @private */
  drop(db) {
    db.close();
    if (this.db === db) this.db = null;
  }

  /** Closes the connection for good: every later use fails with 'closed'. */
  close() {
    this.closed = true;
    if (this.db) this.db.close();
    this.db = null;
  }
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
 * @param {IDBDatabase | Database} db  a Database is opened again first if it was closed under it
 * @param {string | string[]} stores
 * @param {'readonly' | 'readwrite'} mode
 * @param {(tx: IDBTransaction) => T | Promise<T>} body
 * @param {{durability?: 'strict' | 'relaxed' | 'default'}} [options]
 * @returns {Promise<T>}
 */
export async function transaction(db, stores, mode, body, options = {}) {
  if (!(db instanceof Database)) {
    return run(db, stores, mode, body, options).catch((error) => {
      throw error instanceof NotStarted ? storageError(error.cause) : error;
    });
  }
  // A connection that closed between the check and the use (InvalidStateError from db.transaction())
  // is opened again once.
  for (let tries = 0; ; tries += 1) {
    const connection = await db.connection();
    try {
      return await run(connection, stores, mode, body, options);
    } catch (error) {
      if (!(error instanceof NotStarted) || tries > 0) throw storageError(error.cause ?? error);
      db.drop(connection);
    }
  }
}

/** db.transaction() refused to start one (the connection is closing). */
class NotStarted extends Error {
  constructor(cause) {
    super('the transaction could not start', { cause });
  }
}

function run(db, stores, mode, body, options) {
  return new Promise((resolve, reject) => {
    let tx;
    try {
      tx = db.transaction(stores, mode, options.durability ? { durability: options.durability } : undefined);
    } catch (error) {
      reject(error?.name === 'InvalidStateError' ? new NotStarted(error) : storageError(error));
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
