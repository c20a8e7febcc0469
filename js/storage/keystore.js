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
 *
 * The default, WebCryptoKeyStore, wraps each key with a non-extractable AES-GCM-256 CryptoKey that is
 * itself stored in IndexedDB (structured clone keeps a CryptoKey non-extractable). The raw key bytes are
 * never written: only {iv, wrapped} where wrapped = AES-GCM(iv, key bytes, AD = purpose).
 */
import { SealpostError } from '../errors.js';
import { deleteDatabase, openDatabase, request, transaction } from './idb.js';

const WRAPPING_ROW = 'wrapping-key';
const encoder = new TextEncoder();

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
    const db = await openDatabase(factory, name, 1, (database) => {
      database.createObjectStore('keys');
    });
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
  }

  ensureOpen() {
    if (this.closed) throw new SealpostError('closed', 'the key store was destroyed or closed');
  }

  /** The AES-GCM wrapping key: loaded from IndexedDB, or generated non-extractable and stored once. */
  async wrappingKey() {
    this.ensureOpen();
    if (this.wrapping) return this.wrapping;
    const existing = await transaction(this.db, 'keys', 'readonly', (tx) =>
      request(tx.objectStore('keys').get(WRAPPING_ROW)));
    if (existing) {
      this.wrapping = existing;
      return existing;
    }
    const fresh = await this.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    // Two contexts may race to create it: add() lets exactly one win; the loser reads the winner's key.
    try {
      await transaction(this.db, 'keys', 'readwrite', (tx) => request(tx.objectStore('keys').add(fresh, WRAPPING_ROW)),
        { durability: 'strict' });
      this.wrapping = fresh;
    } catch (error) {
      if (error?.name !== 'ConstraintError') throw error;
      this.wrapping = await transaction(this.db, 'keys', 'readonly', (tx) =>
        request(tx.objectStore('keys').get(WRAPPING_ROW)));
    }
    return this.wrapping;
  }

  /** @param {string} purpose */
  async load(purpose) {
    this.ensureOpen();
    const row = await transaction(this.db, 'keys', 'readonly', (tx) =>
      request(tx.objectStore('keys').get(`key:${purpose}`)));
    if (!row) return null;
    const key = await this.wrappingKey();
    try {
      const plain = await this.subtle.decrypt({ name: 'AES-GCM', iv: row.iv, additionalData: encoder.encode(purpose) },
        key, row.wrapped);
      return new Uint8Array(plain);
    } catch (error) {
      throw new SealpostError('key-lost', `the stored key for ${purpose} cannot be unwrapped`, { cause: error });
    }
  }

  /** @param {string} purpose @param {Uint8Array} bytes */
  async store(purpose, bytes) {
    const key = await this.wrappingKey();
    const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const wrapped = new Uint8Array(await this.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(purpose) }, key, bytes));
    await transaction(this.db, 'keys', 'readwrite', (tx) =>
      request(tx.objectStore('keys').put({ iv, wrapped }, `key:${purpose}`)), { durability: 'strict' });
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
