/**
 * Key storage at rest. A KeyStore keeps the raw bytes of libsodium keys (generated in Wasm) for a
 * purpose string, e.g. 'outbox:sealpost:notes:<key id hex>' or 'push:<key id hex>'.
 *
 * Interface (any object with these methods can be passed as `keyStore`):
 *   load(purpose)         -> Promise<Uint8Array | null>   raw key bytes; the caller zeroes them after use
 *   store(purpose, bytes) -> Promise<void>
 *   delete(purpose)       -> Promise<void>
 *   purposes(prefix?)     -> Promise<string[]>
 *   destroy()             -> Promise<void>                 every key and the wrapping key, gone
 *   shredWrappingKeyIfUnused() -> Promise<boolean>          (optional) the wrapping key, gone if it wraps nothing
 *
 * The default, WebCryptoKeyStore, wraps each key with a non-extractable AES-GCM-256 CryptoKey that is
 * itself stored in IndexedDB (structured clone keeps a CryptoKey non-extractable). The raw key bytes are
 * never written: only {iv, wrapped} where wrapped = AES-GCM(iv, key bytes, AD = purpose).
 *
 * The wrapping row is {key: CryptoKey, id} (a bare CryptoKey in stores written before ids). A context that
 * keeps the key in memory checks, in the transaction that writes a wrapped key, that the row still holds
 * the same id: after shredWrappingKeyIfUnused() (crypto-shredding when the last key is deleted) or another
 * context's fresh key, it takes up the current wrapping key instead of writing rows nothing can unwrap.
 * Loading always unwraps with the row read in the same transaction.
 */
import { SealpostError } from '../errors.js';
import { Database, deleteDatabase, request, transaction } from './idb.js';

const WRAPPING_ROW = 'wrapping-key';
const encoder = new TextEncoder();

/** {key, id} of a wrapping row, of either format; null for none. */
function wrappingOf(row) {
  if (!row) return null;
  return row.key ? { key: row.key, id: row.id } : { key: row, id: 'legacy' };
}

/** The wrapping key changed under a context that kept the old one in memory. */
class StaleWrapping extends Error {}

export class WebCryptoKeyStore {
  /**
   * @param {{indexedDB?: IDBFactory, name?: string, crypto?: Crypto}} [options]
   *   name: the IndexedDB database (default 'sealpost-keys'); crypto: WebCrypto (default globalThis.crypto)
   * @returns {Promise<WebCryptoKeyStore>}
   */
  static async open(options = {}) {
    const factory = options.indexedDB ?? globalThis.indexedDB;
    const name = options.name ?? 'sealpost-keys';
    const subtle = (options.crypto ?? globalThis.crypto)?.subtle;
    if (!subtle) throw new SealpostError('invalid-argument', 'WebCrypto (crypto.subtle) is required for the key store');
    // Opened again on its next use if it is closed under it (another tab's upgrade, site data cleared).
    const db = await Database.open(factory, name, 1, (database) => {
      database.createObjectStore('keys');
    }, ['keys']);
    const store = new WebCryptoKeyStore(factory, name, db, subtle);
    await store.wrappingKey();
    return store;
  }

  constructor(factory, name, db, subtle) {
    this.factory = factory;
    this.name = name;
    this.db = db;
    this.subtle = subtle;
    this.wrapping = null;
    this.closed = false;
    // A database created again (its data cleared) has no wrapping key: the one in memory wraps nothing.
    db.onChange((why) => {
      if (why === 'recreated' || why === 'deleted') this.wrapping = null;
    });
  }

  ensureOpen() {
    if (this.closed) throw new SealpostError('closed', 'the key store was destroyed or closed');
  }

  /**
   * The AES-GCM wrapping key {key, id}: loaded from IndexedDB, or generated non-extractable and stored once.
   * @param {boolean} [fresh]  read it again instead of using the one kept in memory
   */
  async wrappingKey(fresh = false) {
    this.ensureOpen();
    if (this.wrapping && !fresh) return this.wrapping;
    const existing = await transaction(this.db, 'keys', 'readonly', (tx) =>
      request(tx.objectStore('keys').get(WRAPPING_ROW)));
    if (existing) {
      this.wrapping = wrappingOf(existing);
      return this.wrapping;
    }
    const key = await this.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const id = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
    // Two contexts may race to create it: add() lets exactly one win; the loser reads the winner's key.
    try {
      await transaction(this.db, 'keys', 'readwrite', (tx) => request(tx.objectStore('keys').add({ key, id }, WRAPPING_ROW)),
        { durability: 'strict' });
      this.wrapping = { key, id };
    } catch (error) {
      if (error?.name !== 'ConstraintError') throw error;
      this.wrapping = wrappingOf(await transaction(this.db, 'keys', 'readonly', (tx) =>
        request(tx.objectStore('keys').get(WRAPPING_ROW))));
    }
    return this.wrapping;
  }

  /** @param {string} purpose */
  async load(purpose) {
    this.ensureOpen();
    const [row, wrappingRow] = await transaction(this.db, 'keys', 'readonly', (tx) => {
      const keys = tx.objectStore('keys');
      return Promise.all([request(keys.get(`key:${purpose}`)), request(keys.get(WRAPPING_ROW))]);
    });
    if (!row) return null;
    const wrapping = wrappingOf(wrappingRow);
    if (!wrapping) throw new SealpostError('key-lost', `the wrapping key for ${purpose} is gone`);
    try {
      const plain = await this.subtle.decrypt({ name: 'AES-GCM', iv: row.iv, additionalData: encoder.encode(purpose) },
        wrapping.key, row.wrapped);
      return new Uint8Array(plain);
    } catch (error) {
      throw new SealpostError('key-lost', `the stored key for ${purpose} cannot be unwrapped`, { cause: error });
    }
  }

  /** @param {string} purpose @param {Uint8Array} bytes */
  async store(purpose, bytes) {
    for (let tries = 0; ; tries += 1) {
      const wrapping = await this.wrappingKey(tries > 0);
      const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
      const wrapped = new Uint8Array(await this.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: encoder.encode(purpose) }, wrapping.key, bytes));
      try {
        await transaction(this.db, 'keys', 'readwrite', async (tx) => {
          const keys = tx.objectStore('keys');
          if (wrappingOf(await request(keys.get(WRAPPING_ROW)))?.id !== wrapping.id) throw new StaleWrapping();
          return request(keys.put({ iv, wrapped }, `key:${purpose}`));
        }, { durability: 'strict' });
        return;
      } catch (error) {
        if (!(error instanceof StaleWrapping) || tries > 0) throw error;
      }
    }
  }

  /** @param {string} purpose */
  async delete(purpose) {
    this.ensureOpen();
    await transaction(this.db, 'keys', 'readwrite', (tx) => request(tx.objectStore('keys').delete(`key:${purpose}`)),
      { durability: 'strict' });
  }

  /** The purposes with a stored key, optionally only those starting with `prefix`. */
  async purposes(prefix = '') {
    this.ensureOpen();
    const keys = await transaction(this.db, 'keys', 'readonly', (tx) => request(tx.objectStore('keys').getAllKeys()));
    return keys.filter((k) => typeof k === 'string' && k.startsWith(`key:${prefix}`)).map((k) => k.slice(4));
  }

  /**
   * Deletes the wrapping key when no wrapped key is left (crypto-shredding: rows a storage engine keeps
   * after deletion cannot be unwrapped with anything that remains). Resolves whether it was deleted.
   */
  async shredWrappingKeyIfUnused() {
    this.ensureOpen();
    const shredded = await transaction(this.db, 'keys', 'readwrite', async (tx) => {
      const keys = tx.objectStore('keys');
      const names = await request(keys.getAllKeys());
      if (names.some((name) => typeof name === 'string' && name.startsWith('key:'))) return false;
      await request(keys.delete(WRAPPING_ROW));
      return true;
    }, { durability: 'strict' });
    if (shredded) this.wrapping = null;
    return shredded;
  }

  /** Deletes every wrapped key and the wrapping key itself: nothing sealed under them can be read again. */
  async destroy() {
    if (this.closed) return;
    await transaction(this.db, 'keys', 'readwrite', (tx) => request(tx.objectStore('keys').clear()),
      { durability: 'strict' });
    this.wrapping = null;
    this.closed = true;
    this.db.close();
    await deleteDatabase(this.factory, this.name);
  }

  close() {
    if (!this.closed) this.db.close();
    this.closed = true;
  }
}
