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
  const wrapping = rows.find((r) => r.key instanceof CryptoKey)?.key;
  assert.ok(wrapping, 'the wrapping CryptoKey is stored');
  assert.equal(wrapping.extractable, false);
  await assert.rejects(globalThis.crypto.subtle.exportKey('raw', wrapping));
  for (const row of rows.filter((r) => !(r.key instanceof CryptoKey))) {
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

test('the wrapping key is shredded with the last key; a context holding the old one takes up the new', async () => {
  const indexedDB = new IDBFactory();
  const a = await WebCryptoKeyStore.open({ indexedDB });
  const b = await WebCryptoKeyStore.open({ indexedDB }); // keeps the same wrapping key in memory
  const key = new Uint8Array(32).fill(7);
  await a.store('outbox:db:q:1', key);
  await a.store('push:p:1', key);
  assert.equal(await a.shredWrappingKeyIfUnused(), false, 'keys are still wrapped by it');
  await a.delete('outbox:db:q:1');
  await a.delete('push:p:1');
  assert.equal(await a.shredWrappingKeyIfUnused(), true);
  const rows = await dumpDatabase(indexedDB, 'sealpost-keys');
  assert.deepEqual(rows, [], 'no wrapped key and no wrapping key remain');

  // b still holds the shredded key in memory: its next write makes (and uses) a new wrapping key.
  await b.store('outbox:db:q:2', key);
  const fresh = await WebCryptoKeyStore.open({ indexedDB });
  assert.deepEqual(await fresh.load('outbox:db:q:2'), key);
  assert.deepEqual(await a.load('outbox:db:q:2'), key);
  for (const store of [a, b, fresh]) store.close();
});

test('a store written before wrapping ids (a bare CryptoKey row) still loads and stores', async () => {
  const indexedDB = new IDBFactory();
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open('sealpost-keys', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('keys');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const legacy = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = new Uint8Array(32).fill(3);
  const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv,
    additionalData: new TextEncoder().encode('old:1') }, legacy, key));
  await new Promise((resolve, reject) => {
    const tx = db.transaction('keys', 'readwrite');
    tx.objectStore('keys').put(legacy, 'wrapping-key');
    tx.objectStore('keys').put({ iv, wrapped }, 'key:old:1');
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
  const store = await WebCryptoKeyStore.open({ indexedDB });
  assert.deepEqual(await store.load('old:1'), key);
  await store.store('new:1', key);
  assert.deepEqual(await store.load('new:1'), key);
  store.close();
});
