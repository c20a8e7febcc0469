// The default key store: wrapped at rest, non-extractable wrapping key, shredding.
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';

import { WebCryptoKeyStore } from '../../js/storage/keystore.js';
import { SealpostError } from '../../js/errors.js';
import { indexOfBytes } from './helpers.js';

async function dumpDatabase(factory, name) {
  const db = await new Promise((resolve, reject) => {
    const req = factory.open(name);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const rows = [];
  for (const storeName of db.objectStoreNames) {
    const values = await new Promise((resolve) => {
      const req = db.transaction(storeName).objectStore(storeName).getAll();
      req.onsuccess = () => resolve(req.result);
    });
    rows.push(...values);
  }
  db.close();
  return rows;
}

test('keys round-trip, are wrapped at rest, and the wrapping key is non-extractable', async () => {
  const indexedDB = new IDBFactory();
  const store = await WebCryptoKeyStore.open({ indexedDB });
  const key = globalThis.crypto.getRandomValues(new Uint8Array(32));
  await store.store('outbox:db:q:1', key);
  assert.deepEqual(await store.load('outbox:db:q:1'), key);
  assert.equal(await store.load('missing'), null);
  assert.deepEqual(await store.purposes('outbox:'), ['outbox:db:q:1']);

  const rows = await dumpDatabase(indexedDB, 'sealpost-keys');
  const wrapping = rows.find((r) => r instanceof CryptoKey);
  assert.ok(wrapping, 'the wrapping CryptoKey is stored');
  assert.equal(wrapping.extractable, false);
  await assert.rejects(globalThis.crypto.subtle.exportKey('raw', wrapping));
  for (const row of rows.filter((r) => !(r instanceof CryptoKey))) {
    assert.equal(indexOfBytes(row.wrapped, key), -1, 'raw key bytes stored');
  }

  // A second opening (another worker lifetime) reads the same wrapping key.
  const again = await WebCryptoKeyStore.open({ indexedDB });
  assert.deepEqual(await again.load('outbox:db:q:1'), key);
  again.close();
  store.close();
});

test('a wrapped key moved to another purpose does not unwrap', async () => {
  const indexedDB = new IDBFactory();
  const store = await WebCryptoKeyStore.open({ indexedDB });
  await store.store('a', new Uint8Array(32).fill(1));
  const row = await store.db.transaction('keys').objectStore('keys').get('key:a');
  const value = await new Promise((resolve) => { row.onsuccess = () => resolve(row.result); });
  await new Promise((resolve) => {
    const tx = store.db.transaction('keys', 'readwrite');
    tx.objectStore('keys').put(value, 'key:b');
    tx.oncomplete = resolve;
  });
  await assert.rejects(store.load('b'), (e) => e instanceof SealpostError && e.code === 'key-lost');
  store.close();
});

test('destroy() shreds every key and the wrapping key', async () => {
  const indexedDB = new IDBFactory();
  const store = await WebCryptoKeyStore.open({ indexedDB });
  await store.store('push:1', new Uint8Array(64).fill(7));
  await store.destroy();
  await assert.rejects(store.load('push:1'));
  const fresh = await WebCryptoKeyStore.open({ indexedDB });
  assert.equal(await fresh.load('push:1'), null);
  assert.deepEqual(await fresh.purposes(), []);
  fresh.close();
});
