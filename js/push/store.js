/**
 * The push receiver's IndexedDB schema, and every read and write js/push/receiver.js makes. Nothing here
 * is secret: key ids and times, and the ids of messages already delivered.
 *
 * Database `name` (default 'sealpost-push'), version 1:
 *   keys: 'current' -> {keyId, createdAt}; 'previous:<keyId>' -> {keyId, retiredAt}   (key ids base64url)
 *   seen: {id, expiresAt} keyed by id, indexed by expiresAt (Unix seconds) for pruning
 */
import { SealpostError } from '../errors.js';
import { deleteDatabase, openDatabase, request, transaction } from '../storage/idb.js';

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

export class PushStore {
  /** @param {IDBFactory} factory @param {string} name */
  static async open(factory, name) {
    const db = await openDatabase(factory, name, 1, (database) => {
      database.createObjectStore('keys');
      const seen = database.createObjectStore('seen', { keyPath: 'id' });
      seen.createIndex('expiresAt', 'expiresAt');
    });
    return new PushStore(factory, name, db);
  }

  constructor(factory, name, db) {
    this.factory = factory;
    this.name = name;
    this.db = db;
  }

  /** The key rows: {current: {keyId, createdAt} | null, previous: [{keyId, retiredAt}], all: [keyId]}. */
  async keys() {
    const rows = await transaction(this.db, 'keys', 'readonly', async (tx) => {
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
    return transaction(this.db, 'keys', 'readwrite', (tx) => {
      const store = tx.objectStore('keys');
      return replacing ? request(store.put(row, CURRENT)) : request(store.add(row, CURRENT));
    }, STRICT);
  }

  /** Rotation, in one transaction: `old` becomes a previous key retired at `retiredAt`, `created` current. */
  rotate(oldKeyId, createdKeyId, retiredAt) {
    return transaction(this.db, 'keys', 'readwrite', (tx) => {
      const store = tx.objectStore('keys');
      store.put({ keyId: oldKeyId, retiredAt }, PREVIOUS + oldKeyId);
      return request(store.put({ keyId: createdKeyId, createdAt: retiredAt }, CURRENT));
    }, STRICT);
  }

  /** Deletes a previous key's row. */
  forget(keyId) {
    return transaction(this.db, 'keys', 'readwrite', (tx) => request(tx.objectStore('keys').delete(PREVIOUS + keyId)),
      STRICT);
  }

  /**
   * Records a message id as seen until it expires, in one transaction with the check, so two concurrent
   * deliveries of one envelope open once: 'replayed' if it is seen already. Prunes expired ids on the way.
   */
  remember(id, expiresAt, nowSeconds) {
    return transaction(this.db, 'seen', 'readwrite', async (tx) => {
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
    return transaction(this.db, 'seen', 'readwrite', (tx) => request(tx.objectStore('seen').delete(id)), STRICT);
  }

  close() {
    this.db.close();
  }

  /** Closes and deletes the database. */
  async deleteDatabase() {
    this.close();
    await deleteDatabase(this.factory, this.name);
  }
}
