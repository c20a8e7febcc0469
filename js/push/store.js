/**
 * The push receiver's IndexedDB schema, and every read and write js/push/receiver.js makes. Nothing here
 * is secret: key ids and times, and the ids of messages already delivered.
 *
 * Database `name` (default 'sealpost-push'), version 1:
 *   keys: 'current' -> {keyId, createdAt}; 'previous:<keyId>' -> {keyId, retiredAt}   (key ids base64url)
 *   seen: {id, expiresAt} keyed by id, indexed by expiresAt (Unix seconds) for pruning
 *
 * Another context's destroy() deletes the database: this store hears it (versionchange to no version) and
 * refuses every later call with 'destroyed' instead of creating the database again. A database that had
 * to be created again on a reopen (the site's data was cleared under it) counts as destroyed too.
 */
import { SealpostError } from '../errors.js';
import { Database, deleteDatabase, request, transaction as run } from '../storage/idb.js';

const CURRENT = 'current';
const PREVIOUS = 'previous:';
const STRICT = { durability: 'strict' };

/** Deletes seen ids that expired before `nowSeconds` (walks the expiresAt index from the oldest). */
function pruneSeen(seen, nowSeconds) {
  return new Promise((resolve, reject) => {
    const cursorRequest = seen.index('expiresAt').openCursor();
    cursorRequest.onerror = () => reject(cursorRequest.error);
    cursorRequest.onsuccess = () => {
      const cursor = cursorRequest.result;
      if (!cursor || cursor.value.expiresAt >= nowSeconds) {
        resolve();
        return;
      }
      cursor.delete();
      cursor.continue();
    };
  });
}

function destroyedError() {
  return new SealpostError('destroyed', 'the push keys were destroyed (destroy() in another context, or the '
    + "site's data was cleared); open a new PushReceiver: it starts with a new key");
}

export class PushStore {
  /** @param {IDBFactory} factory @param {string} name */
  static async open(factory, name) {
    const db = await Database.open(factory, name, 1, (database) => {
      database.createObjectStore('keys');
      const seen = database.createObjectStore('seen', { keyPath: 'id' });
      seen.createIndex('expiresAt', 'expiresAt');
    }, ['keys', 'seen']);
    return new PushStore(factory, name, db);
  }

  constructor(factory, name, db) {
    this.factory = factory;
    this.name = name;
    this.db = db;
    this.destroyed = false;
    /** @type {'destroyed' | 'cleared' | null} why the keys are gone */
    this.destroyedBy = null;
    this.interrupted = false;
    db.onChange((why) => {
      // 'destroyed': another context's destroy(); 'cleared': the database was created again (site data cleared).
      if (why === 'deleted' || why === 'recreated') {
        this.destroyed = true;
        this.destroyedBy ??= why === 'deleted' ? 'destroyed' : 'cleared';
      }
      else if (why === 'closed') this.interrupted = true; // by the browser: the data may be gone (see verify())
    });
  }

  /**
   * After the browser closed the connection (e.g. the site's data was cleared), reopens it to learn
   * whether the keys are still there: `destroyed` is set when the database had to be created again.
   */
  async verify() {
    if (!this.interrupted || this.destroyed) return;
    this.interrupted = false;
    await this.keys().catch(() => {});
  }

  /** Throws 'destroyed' once the database was deleted under this store. */
  ensureLive() {
    if (this.destroyed) throw destroyedError();
  }

  /** A transaction, refused once the database was deleted (it is never created again from here). */
  async transaction(stores, mode, body, options) {
    this.ensureLive();
    try {
      return await run(this.db, stores, mode, body, options);
    } catch (error) {
      if (this.destroyed && !(error instanceof SealpostError)) throw destroyedError();
      throw error;
    }
  }

  /** The key rows: {current: {keyId, createdAt} | null, previous: [{keyId, retiredAt}], all: [keyId]}. */
  async keys() {
    const rows = await this.transaction('keys', 'readonly', async (tx) => {
      const store = tx.objectStore('keys');
      const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
      return keys.map((key, i) => [key, values[i]]);
    });
    const current = rows.find(([key]) => key === CURRENT)?.[1] ?? null;
    const previous = rows.filter(([key, row]) => typeof key === 'string' && key.startsWith(PREVIOUS)
      && row.keyId !== current?.keyId).map(([, row]) => row);
    return { current, previous, all: rows.map(([, row]) => row?.keyId).filter(Boolean) };
  }

  /**
   * Writes the current key's row. `replacing` false: only if there is none yet (the first key), so two
   * contexts creating it at once agree on one — the loser's add() fails with ConstraintError.
   */
  setCurrent(row, replacing) {
    return this.transaction('keys', 'readwrite', (tx) => {
      const store = tx.objectStore('keys');
      return replacing ? request(store.put(row, CURRENT)) : request(store.add(row, CURRENT));
    }, STRICT);
  }

  /**
   * Rotation, in one transaction: the key that is current now becomes a previous key retired at
   * `retiredAt`, and `createdKeyId` current. Resolves with the retired key's id: another context may have
   * rotated since this one read the keys, and then it is that context's new key, not `oldKeyId` (which is
   * a previous key already). Rejects with 'destroyed' when there is no current key (the keys were destroyed).
   */
  rotate(oldKeyId, createdKeyId, retiredAt) {
    return this.transaction('keys', 'readwrite', async (tx) => {
      const store = tx.objectStore('keys');
      const current = await request(store.get(CURRENT));
      if (!current) throw destroyedError();
      store.put({ keyId: current.keyId, retiredAt }, PREVIOUS + current.keyId);
      await request(store.put({ keyId: createdKeyId, createdAt: retiredAt }, CURRENT));
      return current.keyId;
    }, STRICT);
  }

  /**
   * The first step of destroy(): every key row deleted in one transaction (from then on no context's
   * open() can succeed: remember() checks the current row), resolving with the key ids they named.
   */
  clearKeys() {
    return this.transaction(['keys', 'seen'], 'readwrite', async (tx) => {
      const store = tx.objectStore('keys');
      const rows = await request(store.getAll());
      store.clear();
      tx.objectStore('seen').clear();
      return rows.map((row) => row?.keyId).filter(Boolean);
    }, STRICT);
  }

  /** Deletes a previous key's row. */
  forget(keyId) {
    return this.transaction('keys', 'readwrite', (tx) => request(tx.objectStore('keys').delete(PREVIOUS + keyId)),
      STRICT);
  }

  /**
   * Records a message id as seen until it expires, in one transaction with the check, so two concurrent
   * deliveries of one envelope open once: 'replayed' if it is seen already. Prunes expired ids on the way.
   * The same transaction checks that the keys still exist ('destroyed' when another context's destroy()
   * deleted them first), so no envelope is reported opened after the keys were shredded.
   */
  remember(id, expiresAt, nowSeconds) {
    return this.transaction(['keys', 'seen'], 'readwrite', async (tx) => {
      if (!(await request(tx.objectStore('keys').get(CURRENT)))) throw destroyedError();
      const seen = tx.objectStore('seen');
      const existing = await request(seen.get(id));
      if (existing && existing.expiresAt >= nowSeconds) {
        throw new SealpostError('replayed', `message ${JSON.stringify(id)} was already delivered`);
      }
      await request(seen.put({ id, expiresAt }));
      await pruneSeen(seen, nowSeconds);
    }, STRICT);
  }

  /** Forgets a seen id. */
  release(id) {
    return this.transaction('seen', 'readwrite', (tx) => request(tx.objectStore('seen').delete(id)), STRICT);
  }

  close() {
    this.db.close();
  }

  /** Closes and deletes the database. */
  async deleteDatabase() {
    this.close();
    this.destroyed = true;
    await deleteDatabase(this.factory, this.name);
  }
}
