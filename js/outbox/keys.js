/**
 * A queue's keys: the record keys (current and every one a stored record may still name) and the
 * group-tag key, loaded from the KeyStore into Wasm on demand. Raw key bytes exist in JS only between
 * the KeyStore and Wasm, and are zeroed at once. Key ids are hex; the list {current, all} lives in the
 * outbox store's meta (`keys:<queue>`), so every context sees rotations.
 */
import { SealpostError } from '../errors.js';
import { KeyKind } from '../wasm/loader.js';
import { hex } from './hex.js';

const union = (...lists) => [...new Set(lists.flat())];
/**
 * One part of a key-store purpose: percent-encoded, so no database or queue name can contain the ':'
 * that joins the parts and two different (database, queue) pairs never name the same key.
 */
const part = (name) => encodeURIComponent(name);
const KEY_ID = /^[0-9a-f]{16}$/;

export class OutboxKeys {
  /**
   * @param {{core: import('../wasm/core.js').WasmCore, store: import('./store.js').OutboxStore,
   *   keyStore: object, database: string, queue: string}} parts
   */
  constructor({ core, store, keyStore, database, queue }) {
    this.core = core;
    this.store = store;
    this.keyStore = keyStore;
    this.database = database;
    this.queue = queue;
    /** @type {Map<string, number>} key id (hex) → key handle in Wasm */
    this.handles = new Map();
    /** The key new records are sealed under, and every key a record may name. */
    this.list = { current: null, all: [] };
    /** The handle of the group-tag key. */
    this.groupKey = 0;
  }

  get current() {
    return this.list.current;
  }

  /** Whether a key id is one of this queue's. */
  has(keyId) {
    return this.list.all.includes(keyId);
  }

  /** The key-store purpose of a record key: prefix() and the key id (16 hex digits), nothing else. */
  purpose(keyId) {
    return `${this.prefix()}${keyId}`;
  }

  prefix() {
    return `outbox:${part(this.database)}:${part(this.queue)}:`;
  }

  groupPurpose() {
    return `outbox-group:${part(this.database)}:${part(this.queue)}`;
  }

  /**
   * The names used before the parts were encoded. They differ from today's only for a database or queue
   * name with ':', '%' or another character encodeURIComponent changes; a key found under one is moved.
   */
  legacyPurpose(keyId) {
    return `outbox:${this.database}:${this.queue}:${keyId}`;
  }

  legacyGroupPurpose() {
    return `outbox-group:${this.database}:${this.queue}`;
  }

  /** A key's bytes from the key store under `purpose`, or under `legacy` (then moved to `purpose`). */
  async loadStored(purpose, legacy) {
    const bytes = await this.keyStore.load(purpose);
    if (bytes || legacy === purpose) return bytes;
    const old = await this.keyStore.load(legacy);
    if (!old) return null;
    await this.keyStore.store(purpose, old);
    if (typeof this.keyStore.delete === 'function') await this.keyStore.delete(legacy);
    return old;
  }

  /** Imports raw key bytes into Wasm and zeroes the JS copy. */
  importBytes(bytes) {
    try {
      return this.core.keyImport(KeyKind.symmetric, bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A fresh libsodium key, stored (wrapped) under its purpose; returns [handle, keyId]. */
  async create() {
    const handle = this.core.keyGenerate(KeyKind.symmetric);
    const keyId = hex(this.core.keyId(handle));
    const bytes = this.core.keyExport(handle);
    try {
      await this.keyStore.store(this.purpose(keyId), bytes);
    } finally {
      bytes.fill(0);
    }
    this.handles.set(keyId, handle);
    return [handle, keyId];
  }

  /** Reads the key list, makes the first key if there is none (or it is gone), and loads the group key. */
  async load() {
    const known = await this.store.meta(`keys:${this.queue}`);
    this.list = known ? { current: known.current, all: [...known.all] } : { current: null, all: [] };
    if (!this.list.current || !(await this.handle(this.list.current))) {
      // No key yet, or it is gone: make one. Another context may be doing the same; the first to write wins
      // and the other's key stays listed, so whatever it sealed still opens.
      const missing = this.list.current;
      const [, created] = await this.create();
      this.list = await this.store.updateKeys(this.queue, (keys) => ({
        current: keys.current === null || keys.current === missing ? created : keys.current,
        all: union(keys.all, [created]),
      }));
      if (!(await this.handle(this.list.current))) {
        throw new SealpostError('key-lost', 'the outbox key another context created cannot be loaded');
      }
    }
    const groupBytes = await this.loadStored(this.groupPurpose(), this.legacyGroupPurpose());
    if (groupBytes) {
      this.groupKey = this.importBytes(groupBytes);
    } else {
      this.groupKey = this.core.keyGenerate(KeyKind.symmetric);
      const bytes = this.core.keyExport(this.groupKey);
      try {
        await this.keyStore.store(this.groupPurpose(), bytes);
      } finally {
        bytes.fill(0);
      }
    }
  }

  /** The Wasm handle of a key this queue has used, loading it from the key store; null if it is gone. */
  async handle(keyId) {
    const loaded = this.handles.get(keyId);
    if (loaded) return loaded;
    let bytes;
    try {
      bytes = await this.loadStored(this.purpose(keyId), this.legacyPurpose(keyId));
    } catch (error) {
      if (error instanceof SealpostError && error.code === 'key-lost') return null;
      throw error;
    }
    if (!bytes) return null;
    const handle = this.importBytes(bytes);
    if (hex(this.core.keyId(handle)) !== keyId) {
      this.core.keyRelease(handle);
      return null;
    }
    this.handles.set(keyId, handle);
    return handle;
  }

  /** Takes up keys another context created or rotated to since this one read the list. */
  async refresh() {
    const known = await this.store.meta(`keys:${this.queue}`);
    if (known) this.list = { current: known.current, all: union(this.list.all, known.all) };
  }

  /**
   * The key that opens an entry's record: `{handle}` (null when the key is gone from the key store), or
   * `{tampered: true}` when the record names another key than its entry, or one this queue never had.
   */
  async forRecord(recordKeyId, entryKeyId) {
    if (recordKeyId === entryKeyId && !this.has(recordKeyId)) await this.refresh();
    if (recordKeyId !== entryKeyId || !this.has(recordKeyId)) return { tampered: true, handle: null };
    return { tampered: false, handle: await this.handle(recordKeyId) };
  }

  /** Makes a fresh key the current one (rotation); returns [handle, keyId]. */
  async rotate() {
    const [handle, keyId] = await this.create();
    this.list = await this.store.updateKeys(this.queue, (keys) => ({
      current: keyId, all: union(keys.all, this.list.all, [keyId]),
    }));
    return [handle, keyId];
  }

  /** Deletes the keys no record names any more (after a rotation to `keep`), at rest and in Wasm. */
  async retireUnused(inUse, keep) {
    const unused = new Set(this.list.all.filter((k) => k !== keep && !inUse.has(k)));
    for (const old of unused) {
      if (typeof this.keyStore.delete === 'function') await this.keyStore.delete(this.purpose(old));
      const handle = this.handles.get(old);
      if (handle) this.core.keyRelease(handle);
      this.handles.delete(old);
    }
    this.list = await this.store.updateKeys(this.queue, (keys) => ({
      current: keys.current, all: keys.all.filter((k) => !unused.has(k)),
    }));
  }

  /**
   * Crypto-shred: deletes every key of this queue from the key store, then forgets them in Wasm. Exactly
   * this queue's: a stored purpose counts only if it is prefix() and a key id, so destroying 'notes' never
   * touches the keys of 'notes:archive'.
   */
  async shred() {
    const prefix = this.prefix();
    const stored = typeof this.keyStore.purposes === 'function'
      ? (await this.keyStore.purposes(prefix)).filter((p) => KEY_ID.test(p.slice(prefix.length)))
      : [];
    const all = new Set([...stored, this.groupPurpose(), this.legacyGroupPurpose(),
      ...this.list.all.flatMap((k) => [this.purpose(k), this.legacyPurpose(k)])]);
    if (typeof this.keyStore.delete === 'function') {
      for (const purpose of all) await this.keyStore.delete(purpose);
    } else {
      await this.keyStore.destroy(); // a store that can only be destroyed as a whole (DESIGN's minimal interface)
    }
    // The last key gone: the wrapping key goes too, so nothing left on disk can be unwrapped.
    if (typeof this.keyStore.shredWrappingKeyIfUnused === 'function') await this.keyStore.shredWrappingKeyIfUnused();
    this.release();
  }

  /** Zeroes and forgets every key held in Wasm memory. */
  release() {
    for (const handle of this.handles.values()) this.core.keyRelease(handle);
    this.handles.clear();
    if (this.groupKey) this.core.keyRelease(this.groupKey);
    this.groupKey = 0;
  }
}
