// tests/vectors/push.json (libsodium-wrappers) against the Wasm core and PushReceiver, and the cross-check
// both ways: envelopes sealed by sealpost open in libsodium-wrappers, and libsodium-wrappers' sealed boxes
// and signatures open in sealpost.
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import sodium from 'libsodium-wrappers';

import { createCore, KeyKind } from '../../js/wasm/loader.js';
import { PushReceiver } from '../../js/push/receiver.js';
import { toBase64url } from '../../js/base64url.js';
import { sealPush } from '../../js/server.js';
import { readVectors, unhex, hex } from './helpers.js';

await sodium.ready;
const vectors = readVectors('push.json');
const encoder = new TextEncoder();
const recipientSecret = unhex(vectors.recipient.secret_key);
const recipientPublic = unhex(vectors.recipient.public_key);
const signerPublic = unhex(vectors.signer.public_key);
const signerSecret = unhex(vectors.signer.secret_key);
const input = (v) => (v.envelope_text !== undefined ? v.envelope_text : unhex(v.envelope));
const inputBytes = (v) => (typeof input(v) === 'string' ? encoder.encode(input(v)) : input(v));

async function vectorCore() {
  const core = await createCore();
  const handle = core.keyImport(KeyKind.box, Uint8Array.of(...recipientSecret, ...recipientPublic));
  return { core, handle };
}

test('vector envelopes open in Wasm to their messages', async () => {
  const { core, handle } = await vectorCore();
  assert.equal(hex(core.keyId(handle)), vectors.recipient.key_id);
  assert.equal(hex(core.publicKeyId(signerPublic)), vectors.signer.key_id);
  for (const v of vectors.valid) {
    const opened = core.pushOpen([handle], v.signed ? [signerPublic] : [], inputBytes(v), vectors.now,
      vectors.max_skew_seconds);
    assert.deepEqual(opened.message, v.message, v.name);
    assert.equal(opened.id, v.id);
    assert.equal(opened.expiresAt, v.expires_at);
    assert.equal(opened.keyId, toBase64url(unhex(vectors.recipient.key_id)));
    assert.equal(opened.signer, v.signed ? toBase64url(unhex(vectors.signer.key_id)) : null);
  }
});

test('each error vector fails in Wasm with its code', async () => {
  const { core, handle } = await vectorCore();
  const codes = new Set();
  for (const v of vectors.errors) {
    const open = () => core.pushOpen([handle], v.trusted_signers.map(unhex), inputBytes(v), v.now,
      vectors.max_skew_seconds);
    codes.add(v.code);
    if (v.code === 'replayed') {
      assert.equal(open().id, 'replay-me'); // the core opens it; PushReceiver's seen ids refuse it (next test)
      continue;
    }
    assert.throws(open, (e) => e.code === v.code, v.name);
  }
  assert.equal(codes.size, 13, 'one vector per error code of DESIGN.md');
});

test('the replayed vector opens once in a PushReceiver holding the vector key, then is replayed', async () => {
  // A receiver whose stored key is the vector's: its database says which key is current, and the key
  // store returns the vector key for that purpose.
  const indexedDB = new IDBFactory();
  const keyId = toBase64url(unhex(vectors.recipient.key_id));
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open('sealpost-push', 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore('keys').put({ keyId, createdAt: 0 }, 'current');
      req.result.createObjectStore('seen', { keyPath: 'id' }).createIndex('expiresAt', 'expiresAt');
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  db.close();
  const keyStore = {
    load: async (purpose) => (purpose === `push:sealpost-push:${keyId}`
      ? Uint8Array.of(...recipientSecret, ...recipientPublic) : null),
    store: async () => { throw new Error('no new key expected'); },
    delete: async () => {},
  };
  const v = vectors.errors.find((e) => e.code === 'replayed');
  const rx = await PushReceiver.open({ indexedDB, keyStore, trustedSigners: v.trusted_signers.map(unhex),
    now: () => v.now * 1000 });
  assert.equal(rx.publicKey, toBase64url(recipientPublic));
  assert.equal((await rx.open(input(v))).id, 'replay-me');
  await assert.rejects(rx.open(input(v)), { code: 'replayed' });
  for (const valid of vectors.valid.filter((x) => x.signed)) assert.equal((await rx.open(input(valid))).id, valid.id);
  rx.close();
});

test('envelopes sealed by sealpost open in libsodium-wrappers, byte for byte as specified', () => {
  const signer = { secretKey: toBase64url(signerSecret) };
  for (const [title, size] of [['short', 256], ['x'.repeat(256), 512]]) {
    const envelope = sealPush({ recipientPublicKey: recipientPublic, signer, now: vectors.now * 1000,
      message: { title, url: '/a' } });
    assert.equal(envelope[0], 1);
    assert.equal(hex(envelope.subarray(1, 9)), vectors.recipient.key_id);
    const inner = sodium.crypto_box_seal_open(envelope.subarray(9), recipientPublic, recipientSecret);
    assert.equal(inner[0], 1, 'signed flag');
    assert.equal(hex(inner.subarray(1, 9)), vectors.signer.key_id);
    const signature = inner.subarray(9, 73);
    const body = inner.subarray(73);
    assert.equal(body.length, size, 'padded to its bucket');
    const covered = Uint8Array.of(...encoder.encode('sealpost/push/v1'), ...envelope.subarray(1, 9), ...body);
    assert.ok(sodium.crypto_sign_verify_detached(signature, covered, signerPublic), 'libsodium verifies the signature');
    const text = new TextDecoder().decode(body);
    assert.match(text, /^\{.*\} *$/);
    const message = JSON.parse(text);
    assert.equal(message.title, title);
    assert.equal(message.iat, vectors.now);
    assert.equal(Buffer.from(message.id, 'base64url').length, 16);
  }
  // Unsigned: flags 0, body right after.
  const plain = sealPush({ recipientPublicKey: recipientPublic, now: vectors.now * 1000, message: { title: 'u' } });
  const inner = sodium.crypto_box_seal_open(plain.subarray(9), recipientPublic, recipientSecret);
  assert.equal(inner[0], 0);
  assert.equal(JSON.parse(new TextDecoder().decode(inner.subarray(1))).title, 'u');
});

test('the worker module opens but does not seal', async () => {
  const { core, handle } = await vectorCore();
  assert.throws(() => core.pushSeal(recipientPublic, 0, '{"title":"t"}', vectors.now, 3000),
    { code: 'unsupported' });
  core.keyRelease(handle);
});

test('libsodium-wrappers\' own sealed boxes and signatures open in sealpost', async () => {
  const { core, handle } = await vectorCore();
  for (let i = 0; i < 50; i += 1) {
    const body = encoder.encode(JSON.stringify({ id: `lw-${i}`, iat: vectors.now, title: `n${i}`, body: 'é✓'.repeat(i) }));
    const covered = Uint8Array.of(...encoder.encode('sealpost/push/v1'), ...unhex(vectors.recipient.key_id), ...body);
    const signature = sodium.crypto_sign_detached(covered, signerSecret);
    const inner = Uint8Array.of(1, ...unhex(vectors.signer.key_id), ...signature, ...body);
    const sealed = sodium.crypto_box_seal(inner, recipientPublic); // random ephemeral key each time
    const envelope = Uint8Array.of(1, ...unhex(vectors.recipient.key_id), ...sealed);
    const opened = core.pushOpen([handle], [signerPublic], envelope, vectors.now, 300);
    assert.equal(opened.id, `lw-${i}`);
    assert.equal(opened.message.body, 'é✓'.repeat(i));
  }
});
