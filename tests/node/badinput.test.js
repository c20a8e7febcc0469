// Bad input at the JS surface that has no better home: each case gets a SealpostError with a stable
// code, and what was stored before is still there afterwards. (docs/errors.md, "Bad input", lists every class
// and the test that proves it.)
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';

import { WebCryptoKeyStore } from '../../js/storage/keystore.js';
import { SealpostError } from '../../js/errors.js';

const isCode = (code) => (e) => e instanceof SealpostError && e.code === code;

function idbRequest(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function editRow(store, key, edit) {
  const tx = store.db.transaction('keys', 'readwrite');
  const value = await idbRequest(tx.objectStore('keys').get(key));
  await idbRequest(tx.objectStore('keys').put(edit(value), key));
}

test('a key store used after destroy() or close() is closed, for every method', async () => {
  const indexedDB = new IDBFactory();
  const destroyed = await WebCryptoKeyStore.open({ indexedDB });
  await destroyed.store('a', new Uint8Array(32).fill(3));
  await destroyed.destroy();
  const closed = await WebCryptoKeyStore.open({ indexedDB, name: 'other' });
  await closed.store('b', new Uint8Array(32).fill(4));
  closed.close();
  for (const store of [destroyed, closed]) {
    await assert.rejects(store.load('a'), isCode('closed'));
    await assert.rejects(store.store('a', new Uint8Array(32)), isCode('closed'));
    await assert.rejects(store.delete('a'), isCode('closed'));
    await assert.rejects(store.purposes(), isCode('closed'));
  }
  // Closing loses nothing: the next opening reads the key.
  const again = await WebCryptoKeyStore.open({ indexedDB, name: 'other' });
  assert.deepEqual(await again.load('b'), new Uint8Array(32).fill(4));
  again.close();
});

test('a wrapped key whose bytes were changed at rest is key-lost, and the other keys still load', async () => {
  const indexedDB = new IDBFactory();
  const store = await WebCryptoKeyStore.open({ indexedDB });
  await store.store('good', new Uint8Array(32).fill(1));
  await store.store('bad', new Uint8Array(32).fill(2));
  await editRow(store, 'key:bad', (row) => {
    const wrapped = row.wrapped.slice();
    wrapped[5] ^= 1;
    return { ...row, wrapped };
  });
  await assert.rejects(store.load('bad'), isCode('key-lost'));
  await editRow(store, 'key:bad', (row) => ({ ...row, wrapped: row.wrapped.subarray(0, 10) }));
  await assert.rejects(store.load('bad'), isCode('key-lost'));
  assert.deepEqual(await store.load('good'), new Uint8Array(32).fill(1));
  store.close();
});

test('keys whose wrapping key was deleted (site data partly cleared) are key-lost, not garbage', async () => {
  const indexedDB = new IDBFactory();
  const store = await WebCryptoKeyStore.open({ indexedDB });
  await store.store('k', new Uint8Array(32).fill(9));
  store.close();
  const db = await idbRequest(indexedDB.open('sealpost-keys'));
  await idbRequest(db.transaction('keys', 'readwrite').objectStore('keys').delete('wrapping-key'));
  db.close();
  const reopened = await WebCryptoKeyStore.open({ indexedDB });
  await assert.rejects(reopened.load('k'), isCode('key-lost'));
  reopened.close();
});
