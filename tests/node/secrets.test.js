// Secret hygiene: after a key and a plaintext have been through the Wasm module and the key is released,
// no copy of either is left anywhere in Wasm memory (keyring slots, the buffers js/wasm.js allocates per
// call, libsodium's stack frames).
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';

import { createCore, KeyKind, loadModule } from '../../js/wasm/loader.js';
import { WebCryptoKeyStore } from '../../js/storage/keystore.js';
import { Outbox } from '../../js/outbox/outbox.js';
import { PushReceiver } from '../../js/push/receiver.js';
import { startServer } from './loopback-server.js';

const place = { database: 'sealpost', queue: 'notes', id: 'entry-1' };
// The worker module (dist/sealpost.wasm) opens; the server module (sealpost-server.wasm) also signs and seals.
const serverCore = () => createCore({ wasmUrl: new URL('../../dist/sealpost-server.wasm', import.meta.url) });
const WINDOW = 8; // any 8 bytes of a secret in a row count as a copy of it

/**
 * Offsets in Wasm memory where some WINDOW-byte run of `secret` occurs.
 * @param {import('../../js/wasm/loader.js').WasmCore} core
 * @param {Uint8Array} secret
 */
function findCopies(core, secret) {
  const memory = new Uint8Array(core.memory.buffer);
  // Every WINDOW-byte run of the secret, indexed by its first four bytes, then one pass over memory.
  /** @type {Map<number, Set<string>>} */
  const runs = new Map();
  const u32 = (bytes, at) => (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
  const run = (bytes, at) => Buffer.from(bytes.buffer, bytes.byteOffset + at, WINDOW).toString('latin1');
  for (let start = 0; start + WINDOW <= secret.length; start += 1) {
    const head = u32(secret, start);
    if (!runs.has(head)) runs.set(head, new Set());
    runs.get(head).add(run(secret, start));
  }
  const hits = [];
  for (let at = 0; at + WINDOW <= memory.length; at += 1) {
    const candidates = runs.get(u32(memory, at));
    if (candidates && candidates.has(run(memory, at))) hits.push(at);
  }
  return hits;
}

/** Random secrets (random so that no run of 8 bytes is in memory by chance) that are not all zero. */
function secret(length) {
  return new Uint8Array(randomBytes(length));
}

test('the scan finds a key and a plaintext while they are in use (the check can fail)', async () => {
  const core = await createCore();
  const key = secret(32);
  const handle = core.keyImport(KeyKind.symmetric, key);
  assert.ok(findCopies(core, key).length > 0, 'a loaded key is in the keyring');
  const plaintext = secret(256);
  const sealed = core.recordSeal(handle, place, plaintext);
  // The open's output, read back from a Wasm pointer that is not freed yet.
  core.call((f, x) => {
    const enc = new TextEncoder();
    const parts = [place.database, place.queue, place.id].map((s) => enc.encode(s));
    const ptrs = parts.map((p) => f.put(p));
    const input = f.put(sealed);
    const out = f.alloc(plaintext.length, true);
    const outLen = f.alloc(4);
    assert.equal(x.sp_record_open(handle, ptrs[0], parts[0].length, ptrs[1], parts[1].length, ptrs[2],
      parts[2].length, input, sealed.length, out, plaintext.length, outLen), 0);
    assert.ok(findCopies(core, plaintext).length > 0, 'an opened plaintext is in its output buffer');
  });
  core.keyRelease(handle);
  assert.deepEqual(findCopies(core, key), []);
  assert.deepEqual(findCopies(core, plaintext), []);
});

test('sealing and opening a record leaves neither the key nor the plaintext in Wasm memory', async () => {
  const core = await createCore();
  const key = secret(32);
  const plaintext = secret(1000);
  const handle = core.keyImport(KeyKind.symmetric, key);
  const sealed = core.recordSeal(handle, place, plaintext);
  // A failed open (wrong place) and a tampered record go through the same buffers.
  assert.throws(() => core.recordOpen(handle, { ...place, id: 'entry-2' }, sealed), { code: 'record-tampered' });
  const tampered = sealed.slice();
  tampered[tampered.length - 1] ^= 1;
  assert.throws(() => core.recordOpen(handle, place, tampered), { code: 'record-tampered' });
  // The key id names the key without revealing it.
  core.keyId(handle);
  // The successful open last: nothing after it may overwrite what it left (1000 bytes end in a partial
  // 40-byte ChaCha20 block, which libsodium decrypts in a stack buffer).
  const opened = core.recordOpen(handle, place, sealed);
  assert.deepEqual(opened, plaintext);
  core.keyRelease(handle);
  assert.equal(core.keyCount(), 0);
  assert.deepEqual(findCopies(core, key), [], 'key bytes left in Wasm memory');
  assert.deepEqual(findCopies(core, plaintext), [], 'plaintext left in Wasm memory');
});

test('many keys and records at once (keyring growth, large plaintexts) leave nothing behind', async () => {
  const core = await createCore();
  const keys = Array.from({ length: 20 }, () => secret(32));
  const plaintexts = Array.from({ length: 20 }, (_, i) => secret(i === 0 ? 200_000 : 64 + i * 100));
  const handles = keys.map((k) => core.keyImport(KeyKind.symmetric, k));
  const sealed = handles.map((h, i) => core.recordSeal(h, { ...place, id: `e${i}` }, plaintexts[i]));
  sealed.forEach((s, i) => assert.deepEqual(core.recordOpen(handles[i], { ...place, id: `e${i}` }, s), plaintexts[i]));
  for (const h of handles) core.keyRelease(h);
  for (const k of keys) assert.deepEqual(findCopies(core, k), []);
  for (const p of plaintexts) assert.deepEqual(findCopies(core, p), []);
});

test('generated, exported and imported box and sign keys leave no secret half behind', async () => {
  for (const [core, kinds] of [[await createCore(), [KeyKind.symmetric, KeyKind.box]],
    [await serverCore(), [KeyKind.symmetric, KeyKind.box, KeyKind.sign]]]) {
    const exported = [];
    for (const kind of kinds) {
      const handle = core.keyGenerate(kind);
      const bytes = core.keyExport(handle);
      core.keyRelease(handle);
      // Import the exported bytes again (the path a key takes when it is unwrapped from storage).
      const again = core.keyImport(kind, bytes);
      core.keyId(again);
      if (kind !== KeyKind.symmetric) core.keyPublic(again);
      core.keyRelease(again);
      exported.push(kind === KeyKind.symmetric ? bytes : bytes.subarray(0, 32)); // the secret half
    }
    for (const bytes of exported) assert.deepEqual(findCopies(core, bytes), []);
  }
});

test('random bytes handed to JS are not left in Wasm memory', async () => {
  const core = await createCore();
  const bytes = core.randomBytes(64);
  assert.deepEqual(findCopies(core, bytes), []);
});

// ---------------------------------------------------------------- at rest (IndexedDB)

function idbRequest(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Everything an IDBFactory holds: every database, every object store, every key and value, walked down
 * to its leaves. Byte leaves (typed arrays, ArrayBuffers, DataViews) come back as Uint8Arrays, strings as
 * strings, CryptoKeys as themselves.
 * @param {IDBFactory} factory
 */
async function dumpIndexedDB(factory) {
  const leaves = { bytes: [], strings: [], cryptoKeys: [], databases: [] };
  const seen = new Set();
  const walk = (value) => {
    if (value === null || value === undefined) return;
    if (typeof value === 'string') { leaves.strings.push(value); return; }
    if (typeof value !== 'object') return;
    if (seen.has(value)) return;
    seen.add(value);
    if (value instanceof CryptoKey) { leaves.cryptoKeys.push(value); return; }
    if (value instanceof ArrayBuffer) { leaves.bytes.push(new Uint8Array(value)); return; }
    if (ArrayBuffer.isView(value)) {
      leaves.bytes.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      return;
    }
    if (value instanceof Blob) throw new Error('a Blob in IndexedDB: read it before scanning');
    const entries = value instanceof Map ? [...value.entries()].flat()
      : value instanceof Set ? [...value] : Object.values(value);
    for (const v of entries) walk(v);
  };
  for (const { name } of await factory.databases()) {
    leaves.databases.push(name);
    const db = await idbRequest(factory.open(name));
    for (const storeName of db.objectStoreNames) {
      const store = db.transaction(storeName).objectStore(storeName);
      walk(await idbRequest(store.getAllKeys()));
      walk(await idbRequest(store.getAll()));
    }
    db.close();
  }
  return leaves;
}

/** Where any 8-byte run of `secret`, or its hex or base64/base64url text, appears in a dump. */
function findInDump(dump, secret) {
  const hits = [];
  for (const [i, bytes] of dump.bytes.entries()) {
    const memory = { memory: { buffer: bytes.buffer } };
    // findCopies scans a whole buffer; a view's buffer may hold more than the view, which is fine here.
    if (findCopies(/** @type {any} */ (memory), secret).length) hits.push(`bytes #${i}`);
  }
  const texts = [Buffer.from(secret).toString('hex'), Buffer.from(secret).toString('base64url'),
    Buffer.from(secret).toString('base64')];
  for (const [i, text] of dump.strings.entries()) {
    const lower = text.toLowerCase();
    for (const form of texts) {
      // Any 12-character piece of an encoding (9 bytes of base64, 6 of hex) counts.
      for (let at = 0; at + 12 <= form.length; at += 4) {
        const piece = form.slice(at, at + 12);
        if (text.includes(piece) || lower.includes(piece.toLowerCase()) && /^[0-9a-f]+$/.test(piece)) {
          hits.push(`string #${i}`);
        }
      }
    }
  }
  return hits;
}

test('keys stored through the key store are never in IndexedDB unwrapped; the wrapping key stays inside WebCrypto', async () => {
  const indexedDB = new IDBFactory();
  const core = await serverCore();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const raw = [];
  for (const [name, kind] of Object.entries(KeyKind)) {
    const handle = core.keyGenerate(kind);
    const bytes = core.keyExport(handle);
    raw.push(bytes.slice());
    await keyStore.store(`${name}:${Buffer.from(core.keyId(handle)).toString('hex')}`, bytes);
    bytes.fill(0);
    core.keyRelease(handle);
  }
  const dump = await dumpIndexedDB(indexedDB);
  assert.deepEqual(dump.databases, ['sealpost-keys']);
  assert.ok(dump.bytes.length >= 6, 'the wrapped keys and their ivs are in the dump');
  // The check can fail: a raw key put in a row is found.
  assert.ok(findInDump({ bytes: [raw[1].slice()], strings: [Buffer.from(raw[2]).toString('base64url')] }, raw[1])
    .length > 0);
  assert.ok(findInDump({ bytes: [], strings: [`x${Buffer.from(raw[2]).toString('base64url')}`] }, raw[2]).length > 0);
  for (const bytes of raw) {
    assert.deepEqual(findInDump(dump, bytes), [], 'a raw key in IndexedDB');
    assert.deepEqual(findInDump(dump, bytes.subarray(0, 32)), [], 'a secret key half in IndexedDB');
  }
  assert.equal(dump.cryptoKeys.length, 1);
  for (const wrapping of dump.cryptoKeys) {
    assert.equal(wrapping.extractable, false);
    assert.equal(wrapping.algorithm.name, 'AES-GCM');
    await assert.rejects(globalThis.crypto.subtle.exportKey('raw', wrapping));
    await assert.rejects(globalThis.crypto.subtle.exportKey('jwk', wrapping));
  }
  // What was stored still loads, so the scan looked at real wrapped keys.
  const purposes = await keyStore.purposes();
  assert.equal(purposes.length, 3);
  keyStore.close();
});

// ---------------------------------------------------------------- sealed push

test('sealing and opening a push message leaves neither keys nor message text in Wasm memory', async () => {
  const core = await createCore(); // the device
  const server = await serverCore(); // the app server
  const device = core.keyGenerate(KeyKind.box);
  const signer = server.keyGenerate(KeyKind.sign);
  const deviceKey = core.keyExport(device);
  const signerKey = server.keyExport(signer);
  const signerPublic = server.keyPublic(signer);
  // Random printable text, so that no 8-byte run of it is in memory by chance.
  const text = (n) => Buffer.from(randomBytes(n)).toString('base64url').slice(0, n);
  const title = text(100);
  const body = text(1500);
  const now = 1_700_000_000;
  const envelope = server.pushSeal(core.keyPublic(device), signer, JSON.stringify({ title, body, data: { note: body.slice(0, 40) } }),
    now, 3000);
  const opened = core.pushOpen([device], [signerPublic], envelope, now, 300);
  assert.equal(opened.message.title, title);
  assert.equal(opened.message.body, body);
  core.keyRelease(device);
  server.keyRelease(signer);
  const utf8 = (t) => new TextEncoder().encode(t);
  for (const [name, instance] of [['sealpost.wasm', core], ['sealpost-server.wasm', server]]) {
    assert.deepEqual(findCopies(instance, deviceKey.subarray(0, 32)), [], `device secret key left in ${name}`);
    assert.deepEqual(findCopies(instance, signerKey.subarray(0, 32)), [], `signer seed left in ${name}`);
    assert.deepEqual(findCopies(instance, utf8(title)), [], `message title left in ${name}`);
    assert.deepEqual(findCopies(instance, utf8(body)), [], `message body left in ${name}`);
  }
});

// The exports that handle secrets zero kStackWipeBytes (src/core/stack_wipe.hpp) of stack below their own
// frame when they return. If a call ever used more stack than that, what lies deeper would stay. This test
// fills the free stack with a pattern, makes each call, and then requires every byte below the export's
// own frame (its top FRAME bytes) to be zero or untouched pattern.
const FRAME = 1024;

test('every secret-handling call leaves the stack below its own frame zeroed', async () => {
  const core = await createCore();
  const server = await serverCore();
  const span = 64 * 1024;
  const leftovers = (instance, fn) => {
    const sp = instance.exports.stackSave();
    instance.heap().fill(0xab, sp - span, sp);
    fn();
    const heap = instance.heap();
    const dirty = [];
    let deepest = sp;
    for (let at = sp - FRAME - 1; at >= sp - span; at -= 1) {
      if (heap[at] !== 0xab) deepest = at;
      if (heap[at] !== 0 && heap[at] !== 0xab) dirty.push(sp - at);
    }
    return { dirty, depth: sp - deepest };
  };
  const place = { database: 'd'.repeat(300), queue: 'q', id: 'i' };
  const sym = core.keyGenerate(KeyKind.symmetric);
  const device = core.keyGenerate(KeyKind.box);
  const signer = server.keyGenerate(KeyKind.sign);
  const signerPublic = server.keyPublic(signer);
  const plaintext = secret(100_000);
  let sealed;
  let envelope;
  let stream;
  let chunk;
  let opener;
  const request = { method: 'POST', url: 'https://app.example/api/notes?q=1',
    headers: [['authorization', 'Bearer abc'], ['content-type', 'application/json']], metadata: { a: [1, 2] } };
  const message = JSON.stringify({ title: 't'.repeat(256), body: 'b'.repeat(2000), tag: 'x', renotify: true,
    actions: [{ action: 'a', title: 'A' }, { action: 'b', title: 'B', icon: '/i' }], data: { deep: [[[[{ a: 1 }]]]] } });
  const calls = [
    ['generateKey (box)', core, () => core.keyRelease(core.keyGenerate(KeyKind.box))],
    ['generateKey (sign)', server, () => server.keyRelease(server.keyGenerate(KeyKind.sign))],
    ['importKey (box)', core, () => core.keyRelease(core.keyImport(KeyKind.box, core.keyExport(device)))],
    ['importKey (sign)', server, () => server.keyRelease(server.keyImport(KeyKind.sign, server.keyExport(signer)))],
    ['keyId', core, () => core.keyId(sym)],
    ['sealRecord', core, () => { sealed = core.recordSeal(sym, place, plaintext); }],
    ['openRecord', core, () => core.recordOpen(sym, place, sealed)],
    ['sealPush', server, () => { envelope = server.pushSeal(core.keyPublic(device), signer, message, 1.7e9, 3993); }],
    ['openPush', core, () => core.pushOpen([device], [signerPublic], envelope, 1.7e9, 300)],
    ['openPush (text)', core, () => core.pushOpen([device], [signerPublic],
      new TextEncoder().encode(Buffer.from(envelope).toString('base64url')), 1.7e9, 300)],
    ['groupTag', core, () => core.groupTag(sym, 'a group name')],
    ['sealRequest', core, () => { sealed = core.requestSeal(sym, place, request, plaintext.subarray(0, 5000)); }],
    ['openRequest', core, () => core.requestOpen(sym, place, sealed)],
    ['sealStreamInit', core, () => { stream = core.streamSealInit(sym, place); }],
    ['sealChunk', core, () => { chunk = core.streamSealPush(stream.stream, plaintext.subarray(0, 1000), true); }],
    ['openStreamInit', core, () => { opener = core.streamOpenInit(sym, place, stream.header); }],
    ['openChunk', core, () => core.streamOpenPull(opener, chunk)],
  ];
  let deepest = 0;
  for (const [name, instance, fn] of calls) {
    const { dirty, depth } = leftovers(instance, fn);
    deepest = Math.max(deepest, depth);
    assert.deepEqual(dirty.slice(0, 8), [], `${name} left ${dirty.length} bytes on the stack (at these depths)`);
  }
  assert.ok(deepest > FRAME + 2048, 'the check saw the stack in use');
});

// ---------------------------------------------------------------- the outbox and the push receiver

/** A key store that keeps a copy of every raw key it is given, so a test can look for them elsewhere. */
async function recordingKeyStore(indexedDB) {
  const inner = await WebCryptoKeyStore.open({ indexedDB });
  const raw = [];
  return {
    raw,
    load: (purpose) => inner.load(purpose),
    store: (purpose, bytes) => { raw.push(Uint8Array.from(bytes)); return inner.store(purpose, bytes); },
    delete: (purpose) => inner.delete(purpose),
    purposes: (prefix) => inner.purposes(prefix),
    destroy: () => inner.destroy(),
    close: () => inner.close(),
  };
}

test('the outbox: after enqueue, flush and close, no key, body, URL or header is in Wasm memory, and no key is in IndexedDB unwrapped', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const indexedDB = new IDBFactory();
  const core = await createCore();
  const keyStore = await recordingKeyStore(indexedDB);
  const outbox = await Outbox.open({ name: 'notes', broadcast: false, indexedDB, IDBKeyRange, core, keyStore });
  const small = secret(3000);
  const large = secret(300_000); // a chunked record
  const token = Buffer.from(randomBytes(24)).toString('base64url');
  const pathSecret = Buffer.from(randomBytes(12)).toString('hex');
  await outbox.enqueue({ url: `${server.url}/notes/${pathSecret}`, method: 'POST', body: small,
    headers: { authorization: `Bearer ${token}` } }, { group: 'g', metadata: { note: token } });
  await outbox.enqueue({ url: `${server.url}/files/${pathSecret}`, method: 'PUT', body: large });
  const result = await outbox.flush();
  assert.equal(result.sent, 2);
  assert.equal(server.accepted.size, 2);
  assert.ok(keyStore.raw.length >= 1, 'the outbox stored its key through the key store');

  // At rest first (the database stays after close), then Wasm memory once the keys are released.
  const dump = await dumpIndexedDB(indexedDB);
  assert.ok(dump.databases.includes('sealpost-outbox'));
  for (const key of keyStore.raw) assert.deepEqual(findInDump(dump, key), [], 'an outbox key in IndexedDB');
  for (const wrapping of dump.cryptoKeys) assert.equal(wrapping.extractable, false);
  outbox.close();
  keyStore.close();
  const utf8 = (text) => new TextEncoder().encode(text);
  for (const key of keyStore.raw) assert.deepEqual(findCopies(core, key), [], 'an outbox key in Wasm memory');
  assert.deepEqual(findCopies(core, small), [], 'a request body in Wasm memory');
  assert.deepEqual(findCopies(core, large), [], 'a chunked request body in Wasm memory');
  assert.deepEqual(findCopies(core, utf8(token)), [], 'a header value in Wasm memory');
  assert.deepEqual(findCopies(core, utf8(pathSecret)), [], 'a URL in Wasm memory');
});

test('the push receiver: after opening messages and closing, no device key or message text is in Wasm memory, and no key is in IndexedDB unwrapped', async () => {
  const indexedDB = new IDBFactory();
  const keyStore = await recordingKeyStore(indexedDB);
  const server = await serverCore();
  const signer = server.keyGenerate(KeyKind.sign);
  const now = 1_700_000_000_000;
  const receiver = await PushReceiver.open({ indexedDB, keyStore, wasmModule: await loadModule(),
    trustedSigners: [server.keyPublic(signer)], now: () => now });
  const devicePublic = new Uint8Array(Buffer.from(receiver.publicKey, 'base64url'));
  const text = (n) => Buffer.from(randomBytes(n)).toString('base64url').slice(0, n);
  const titles = [text(80), text(80)];
  const body = text(1200);
  for (const title of titles) {
    const envelope = server.pushSeal(devicePublic, signer, JSON.stringify({ title, body }), now / 1000, 3000);
    const message = await receiver.open(envelope);
    assert.equal(message.title, title);
  }
  await receiver.rotate(); // a second device key, stored and loaded the same way
  assert.ok(keyStore.raw.length >= 2);
  const dump = await dumpIndexedDB(indexedDB);
  for (const key of keyStore.raw) assert.deepEqual(findInDump(dump, key.subarray(0, 32)), [], 'a device key in IndexedDB');
  for (const wrapping of dump.cryptoKeys) assert.equal(wrapping.extractable, false);
  const core = receiver.core;
  receiver.close();
  keyStore.close();
  const utf8 = (t) => new TextEncoder().encode(t);
  for (const key of keyStore.raw) assert.deepEqual(findCopies(core, key.subarray(0, 32)), [], 'a device key in Wasm memory');
  for (const title of titles) assert.deepEqual(findCopies(core, utf8(title)), [], 'a message title in Wasm memory');
  assert.deepEqual(findCopies(core, utf8(body)), [], 'a message body in Wasm memory');
});

test('a group name is not left in Wasm memory after groupTag', async () => {
  const core = await createCore();
  const key = core.keyGenerate(KeyKind.symmetric);
  const name = new TextEncoder().encode(`patient-${Buffer.from(randomBytes(24)).toString('hex')}`);
  const tag = core.groupTag(key, new TextDecoder().decode(name));
  assert.equal(tag.length, 16);
  assert.deepEqual(findCopies(core, name), [], 'the group name stayed in Wasm memory');
  core.keyRelease(key);
});
