// PushReceiver: every error code, replay across restarts, rotation, keys at rest, fuzzing.
// Envelopes with arbitrary insides are built with libsodium-wrappers, an implementation independent of ours.
import test from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import sodium from 'libsodium-wrappers';

import { PushReceiver } from '../../js/push/receiver.js';
import { WebCryptoKeyStore } from '../../js/storage/keystore.js';
import { SealpostError, STATUS_NAMES } from '../../js/errors.js';
import { fromBase64url, toBase64url } from '../../js/base64url.js';
import { generateSignerKeyPair, sealPush } from '../../js/server.js';
import { indexOfBytes, prng } from './helpers.js';

await sodium.ready;

const T0 = 1_700_000_000_000; // ms
const encoder = new TextEncoder();
const keyId = (pk) => sodium.crypto_generichash(32, pk, null).slice(0, 8);

function clock(start = T0) {
  const c = { t: start, now: () => c.t };
  return c;
}

async function receiver(options = {}) {
  const indexedDB = options.indexedDB ?? new IDBFactory();
  const c = options.clock ?? clock();
  const rx = await PushReceiver.open({ allowUnsigned: !options.trustedSigners?.length, indexedDB, now: c.now, ...options });
  return { rx, indexedDB, clock: c };
}

/** An envelope for `recipientPk` around an arbitrary inner plaintext, built with libsodium-wrappers. */
function envelopeOf(recipientPk, inner, version = 1) {
  const sealed = sodium.crypto_box_seal(inner, recipientPk);
  const out = new Uint8Array(9 + sealed.length);
  out[0] = version;
  out.set(keyId(recipientPk), 1);
  out.set(sealed, 9);
  return out;
}

function innerOf(body, signer, recipientPk, { signOver } = {}) {
  const bodyBytes = typeof body === 'string' ? encoder.encode(body) : body;
  if (!signer) return Uint8Array.of(0, ...bodyBytes);
  const covered = signOver ?? Uint8Array.of(...encoder.encode('sealpost/push/v1'), ...keyId(recipientPk), ...bodyBytes);
  const signature = sodium.crypto_sign_detached(covered, signer.privateKey);
  return Uint8Array.of(1, ...keyId(signer.publicKey), ...signature, ...bodyBytes);
}

const message = (fields = {}) => JSON.stringify({ id: 'm1', iat: T0 / 1000, title: 'Hello', ...fields });

async function rejects(promise, code) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof SealpostError, `a SealpostError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

test('a signed envelope opens to its validated message, from bytes, ArrayBuffer or base64url text', async () => {
  const signer = generateSignerKeyPair();
  const { rx } = await receiver({ trustedSigners: [signer.publicKey] });
  assert.equal(fromBase64url(rx.publicKey).length, 32);
  assert.equal(rx.keyId, toBase64url(keyId(fromBase64url(rx.publicKey))));
  const seal = (id) => sealPush({ recipientPublicKey: rx.publicKey, signer, now: T0,
    message: { id, title: 'Hi', body: 'there', url: '/notes/1', actions: [{ action: 'open', title: 'Open' }],
      data: { n: 1 }, extra: 'ignored' } });
  const opened = await rx.open(seal('a'));
  assert.deepEqual(opened, { id: 'a', iat: T0 / 1000, ttl: 86400, title: 'Hi', body: 'there', url: '/notes/1',
    actions: [{ action: 'open', title: 'Open' }], data: { n: 1 } });
  const b = seal('b');
  assert.equal((await rx.open(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))).id, 'b');
  assert.equal((await rx.open(seal('c').toString('base64url'))).id, 'c');
  rx.close();
});

test('every error code, in the order of the checks', async (t) => {
  const server = sodium.crypto_sign_keypair();
  const stranger = sodium.crypto_sign_keypair();
  const { rx, clock: c } = await receiver({ trustedSigners: [toBase64url(server.publicKey)] });
  t.after(() => rx.close());
  const pk = fromBase64url(rx.publicKey);
  const good = (fields) => envelopeOf(pk, innerOf(message(fields), server, pk));
  const seen = new Set();
  const expect = async (input, code) => {
    seen.add(code);
    await rejects(rx.open(input), code);
  };

  await expect(new Uint8Array(4097).fill(1), 'too-large');
  await expect('A'.repeat(5463), 'too-large');
  await expect(new Uint8Array(10_000_000), 'too-large'); // refused before it reaches Wasm memory
  await expect(Uint8Array.of(1, 2, 3), 'malformed');
  await expect(new Uint8Array(0), 'malformed');
  await expect(envelopeOf(pk, innerOf(message(), server, pk), 2), 'unsupported-version');
  const other = sodium.crypto_box_keypair();
  await expect(envelopeOf(other.publicKey, innerOf(message(), server, other.publicKey)), 'unknown-recipient');
  const flipped = good();
  flipped[flipped.length - 1] ^= 1;
  await expect(flipped, 'decrypt-failed');
  const badFlags = innerOf(message(), server, pk);
  badFlags[0] = 0x81;
  await expect(envelopeOf(pk, badFlags), 'malformed');
  await expect(envelopeOf(pk, innerOf(message(), null, pk)), 'unsigned');
  await expect(envelopeOf(pk, innerOf(message(), stranger, pk)), 'unknown-signer');
  await expect(envelopeOf(pk, innerOf(message(), server, pk, { signOver: encoder.encode('something else') })),
    'bad-signature');
  await expect(envelopeOf(pk, innerOf('{"title": "no end"', server, pk)), 'invalid-json');
  await expect(envelopeOf(pk, innerOf(message({ url: 'https://evil.example/' }), server, pk)), 'invalid-message');
  await expect(envelopeOf(pk, innerOf(JSON.stringify({ id: 'x', iat: T0 / 1000 }), server, pk)), 'invalid-message');
  await expect(good({ iat: T0 / 1000 + 301 }), 'not-yet-valid');
  await expect(good({ iat: T0 / 1000 - 100, ttl: 60 }), 'expired');
  const once = good({ id: 'once' });
  assert.equal((await rx.open(once)).id, 'once');
  await expect(once, 'replayed');
  // The same envelope as base64url text is the same message.
  await expect(toBase64url(once), 'replayed');

  // Every push code of DESIGN.md was exercised.
  const pushCodes = Object.entries(STATUS_NAMES).filter(([n]) => n >= 20 && n <= 39).map(([, name]) => name);
  assert.deepEqual([...seen].sort(), pushCodes.sort());
  assert.equal(c.t, T0);
});

test('without trustedSigners, signatures are not required; with them, any listed signer is accepted', async () => {
  const a = generateSignerKeyPair();
  const b = generateSignerKeyPair();
  const { rx } = await receiver();
  assert.equal((await rx.open(sealPush({ recipientPublicKey: rx.publicKey, now: T0, message: { title: 'u' } }))).title, 'u');
  assert.equal((await rx.open(sealPush({ recipientPublicKey: rx.publicKey, now: T0, message: { title: 's' }, signer: a })))
    .title, 's');
  rx.close();
  const { rx: strict } = await receiver({ trustedSigners: [a.publicKey, b.publicKey] });
  assert.equal((await strict.open(sealPush({ recipientPublicKey: strict.publicKey, now: T0, message: { title: 'b' },
    signer: b }))).title, 'b');
  strict.close();
  await assert.rejects(receiver({ trustedSigners: ['not-a-key'] }), { code: 'invalid-argument' });
  await assert.rejects(receiver({ trustedSigners: a.publicKey }), { code: 'invalid-argument' });
  await assert.rejects(receiver({ maxSkewSeconds: -1 }), { code: 'invalid-argument' });
});

test('replay across a restart: a re-opened receiver rejects a seen id; expired ids are pruned', async () => {
  const indexedDB = new IDBFactory();
  const c = clock();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const first = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore, now: c.now });
  const publicKey = first.publicKey;
  const envelope = sealPush({ recipientPublicKey: publicKey, now: T0, message: { id: 'r1', title: 't', ttl: 600 } });
  assert.equal((await first.open(envelope)).id, 'r1');
  first.close();

  const second = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore, now: c.now });
  assert.equal(second.publicKey, publicKey, 'the device key survives the restart');
  await rejects(second.open(envelope), 'replayed');
  second.close();

  // After its expiry the id is pruned from the store (the envelope itself is now `expired`).
  c.t = T0 + 601_000;
  const third = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore, now: c.now });
  const fresh = sealPush({ recipientPublicKey: publicKey, now: c.t, message: { id: 'r2', title: 't' } });
  assert.equal((await third.open(fresh)).id, 'r2');
  const ids = await seenIds(indexedDB);
  assert.deepEqual(ids, ['r2'], 'r1 was pruned once it expired');
  await rejects(third.open(envelope), 'expired');
  third.close();
});

async function seenIds(indexedDB, name = 'sealpost-push') {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(name);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const keys = await new Promise((resolve) => {
    const req = db.transaction('seen').objectStore('seen').getAllKeys();
    req.onsuccess = () => resolve(req.result);
  });
  db.close();
  return keys;
}

test('two deliveries of one envelope at once: exactly one opens', async () => {
  const { rx } = await receiver();
  const envelope = sealPush({ recipientPublicKey: rx.publicKey, now: T0, message: { title: 'dup' } });
  const results = await Promise.allSettled([rx.open(envelope), rx.open(envelope), rx.open(envelope)]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results.filter((x) => x.status === 'rejected')) assert.equal(r.reason.code, 'replayed');
  rx.close();
});

test('rotate(): the previous key opens for the grace period, then is forgotten (also after a restart)', async () => {
  const indexedDB = new IDBFactory();
  const c = clock();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const rx = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore, now: c.now, gracePeriodMs: 3600_000 });
  const oldKey = rx.publicKey;
  const rotated = await rx.rotate();
  assert.notEqual(rotated.publicKey, oldKey);
  assert.equal(rx.publicKey, rotated.publicKey);
  assert.equal(rx.keyId, rotated.keyId);
  const seal = (publicKey, id) => sealPush({ recipientPublicKey: publicKey, now: c.t, message: { id, title: 't' } });
  assert.equal((await rx.open(seal(oldKey, 'old-1'))).id, 'old-1');
  assert.equal((await rx.open(seal(rotated.publicKey, 'new-1'))).id, 'new-1');
  rx.close();

  // Another context (a restarted worker) sees the same keys.
  c.t += 1800_000;
  const again = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore, now: c.now, gracePeriodMs: 3600_000 });
  assert.equal(again.publicKey, rotated.publicKey);
  assert.equal((await again.open(seal(oldKey, 'old-2'))).id, 'old-2');
  c.t += 1800_001;
  await rejects(again.open(seal(oldKey, 'old-3')), 'unknown-recipient');
  again.close();
  const purposes = await keyStore.purposes('push:');
  assert.deepEqual(purposes, [`push:sealpost-push:${rotated.keyId}`], 'the old key is deleted at rest too');
});

test('a key rotated in another context is picked up on the next envelope', async () => {
  const indexedDB = new IDBFactory();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const c = clock();
  const page = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore, now: c.now });
  const worker = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore, now: c.now });
  assert.equal(page.publicKey, worker.publicKey, 'two contexts agree on one key');
  const oldKey = worker.publicKey;
  const { publicKey } = await page.rotate();
  // Several deliveries at once while the worker reloads its keys: each opens with the right key.
  const seal = (key, title) => sealPush({ recipientPublicKey: key, now: c.t, message: { title } });
  const opened = await Promise.all([seal(publicKey, 'n1'), seal(oldKey, 'o1'), seal(publicKey, 'n2'),
    seal(oldKey, 'o2')].map((envelope) => worker.open(envelope)));
  assert.deepEqual(opened.map((m) => m.title), ['n1', 'o1', 'n2', 'o2']);
  assert.equal(worker.publicKey, publicKey);
  page.close();
  worker.close();
});

test('a stored key that no longer unwraps is replaced by a fresh one', async () => {
  const indexedDB = new IDBFactory();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const first = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore });
  const oldKey = first.publicKey;
  first.close();
  const broken = {
    load: async () => { throw new SealpostError('key-lost', 'the wrapping key is gone'); },
    store: (purpose, bytes) => keyStore.store(purpose, bytes),
    delete: (purpose) => keyStore.delete(purpose),
  };
  const second = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore: broken });
  assert.notEqual(second.publicKey, oldKey);
  second.close();
});

test('destroy() crypto-shreds the push keys: old envelopes never open again', async () => {
  const indexedDB = new IDBFactory();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const c = clock();
  const rx = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore, now: c.now });
  const oldKey = rx.publicKey;
  await rx.rotate();
  const envelope = sealPush({ recipientPublicKey: rx.publicKey, now: T0, message: { id: 'before', title: 't' } });
  assert.equal((await rx.open(envelope)).id, 'before');
  assert.equal((await keyStore.purposes('push:')).length, 2);
  const currentKey = rx.publicKey;
  await rx.destroy();
  assert.deepEqual(await keyStore.purposes('push:'), [], 'current and previous keys are deleted at rest');
  await rejects(rx.open(envelope), 'closed');

  const fresh = await PushReceiver.open({ allowUnsigned: true, indexedDB, keyStore, now: c.now });
  assert.notEqual(fresh.publicKey, currentKey);
  assert.notEqual(fresh.publicKey, oldKey);
  await rejects(fresh.open(envelope), 'unknown-recipient');
  assert.deepEqual(await seenIds(indexedDB), [], 'the seen ids went with it');
  fresh.close();
});

/** The key rows in the push database: the current key id and the previous ones (sorted). */
async function keyRows(indexedDB, name = 'sealpost-push') {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open(name);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const rows = await new Promise((resolve) => {
    const store = db.transaction('keys').objectStore('keys');
    const keys = store.getAllKeys();
    const values = store.getAll();
    values.onsuccess = () => resolve(keys.result.map((key, i) => [key, values.result[i]]));
  });
  db.close();
  return {
    current: rows.find(([key]) => key === 'current')?.[1].keyId ?? null,
    previous: rows.filter(([key]) => key.startsWith('previous:')).map(([, row]) => row.keyId).sort(),
  };
}

test('two contexts rotating at once: one current key, both old keys in their grace period', async () => {
  for (let round = 0; round < 5; round += 1) {
    const indexedDB = new IDBFactory();
    const c = clock();
    // Each context has its own key store connection, as a page and its worker do.
    const open = async () => PushReceiver.open({ allowUnsigned: true, indexedDB,
      keyStore: await WebCryptoKeyStore.open({ indexedDB }), now: c.now, gracePeriodMs: 3600_000 });
    const page = await open();
    const worker = await open();
    const original = page.publicKey;
    const [a, b] = await Promise.all([page.rotate(), worker.rotate()]);
    assert.notEqual(a.keyId, b.keyId);
    const rows = await keyRows(indexedDB);
    const winner = rows.current === a.keyId ? a : b;
    const loser = winner === a ? b : a;
    assert.ok(rows.current === a.keyId || rows.current === b.keyId, `current is one of the new keys: ${JSON.stringify(rows)}`);
    assert.deepEqual(rows.previous, [toBase64url(keyId(fromBase64url(original))), loser.keyId].sort(),
      'the original key and the other new key are both previous keys');

    // Both contexts open envelopes sealed to any of the three keys (a new context too), during the grace.
    const seal = (key, id) => sealPush({ recipientPublicKey: key, now: c.t, message: { id, title: 't' } });
    const third = await open();
    assert.equal(third.publicKey, winner.publicKey, 'a new context takes up the current key');
    for (const [rx, who] of [[page, 'page'], [worker, 'worker'], [third, 'third']]) {
      for (const [key, what] of [[original, 'original'], [a.publicKey, 'a'], [b.publicKey, 'b']]) {
        const id = `${who}-${what}-${round}`;
        assert.equal((await rx.open(seal(key, id))).id, id, `${who} opens an envelope sealed to ${what}`);
      }
    }
    // After the grace period only the current key opens, and the old ones are gone at rest.
    c.t += 3600_001;
    await rejects(third.open(seal(loser.publicKey, `late-${round}`)), 'unknown-recipient');
    await rejects(page.open(seal(original, `late-o-${round}`)), 'unknown-recipient');
    assert.equal((await worker.open(seal(winner.publicKey, `late-w-${round}`))).id, `late-w-${round}`);
    assert.deepEqual((await keyRows(indexedDB)).previous, []);
    const purposes = await third.keyStore.purposes('push:');
    assert.deepEqual(purposes, [`push:sealpost-push:${winner.keyId}`]);
    for (const rx of [page, worker, third]) rx.close();
  }
});

test('destroy() in one context: the other fails with destroyed on its next call, never opens with the shredded keys', async () => {
  const indexedDB = new IDBFactory();
  const c = clock();
  const open = async () => PushReceiver.open({ allowUnsigned: true, indexedDB,
    keyStore: await WebCryptoKeyStore.open({ indexedDB }), now: c.now });
  const page = await open();
  const worker = await open();
  const publicKey = worker.publicKey;
  const seal = (id) => sealPush({ recipientPublicKey: publicKey, now: c.t, message: { id, title: 't' } });
  assert.equal((await worker.open(seal('before'))).id, 'before');
  await page.destroy();
  await rejects(worker.open(seal('after')), 'destroyed');
  await rejects(worker.open(seal('after-2')), 'destroyed');
  await rejects(worker.rotate(), 'destroyed');
  await rejects(worker.release('before'), 'destroyed');
  assert.throws(() => worker.publicKey, (error) => error.code === 'destroyed');
  worker.close();
  // A receiver opened afterwards starts over with a new key.
  const fresh = await open();
  assert.notEqual(fresh.publicKey, publicKey);
  await rejects(fresh.open(seal('after-3')), 'unknown-recipient');
  fresh.close();
});

test('destroy() racing another context\'s open(): every envelope either opened before the shredding or fails with destroyed', async () => {
  for (let round = 0; round < 10; round += 1) {
    const indexedDB = new IDBFactory();
    const c = clock();
    const open = async () => PushReceiver.open({ allowUnsigned: true, indexedDB,
      keyStore: await WebCryptoKeyStore.open({ indexedDB }), now: c.now });
    const page = await open();
    const worker = await open();
    const publicKey = worker.publicKey;
    const envelopes = Array.from({ length: 8 }, (_, i) =>
      sealPush({ recipientPublicKey: publicKey, now: c.t, message: { id: `m${i}`, title: 't' } }));
    const destroyed = page.destroy();
    const results = await Promise.allSettled(envelopes.map((envelope, i) =>
      new Promise((resolve) => setTimeout(resolve, i)).then(() => worker.open(envelope))));
    await destroyed;
    for (const r of results) {
      if (r.status === 'rejected') assert.equal(r.reason?.code, 'destroyed', String(r.reason?.stack ?? r.reason));
    }
    await rejects(worker.open(envelopes[0]), 'destroyed');
    worker.close();
    const fresh = await open();
    assert.notEqual(fresh.publicKey, publicKey, 'nothing resurrected the shredded key');
    fresh.close();
  }
});

test('the device secret key is stored only wrapped', async () => {
  const indexedDB = new IDBFactory();
  const { rx } = await receiver({ indexedDB });
  const secret = rx.core.keyExport(rx.current.handle);
  const needle = secret.slice(0, 32);
  secret.fill(0);
  for (const name of ['sealpost-keys', 'sealpost-push']) {
    const db = await new Promise((resolve) => { const r = indexedDB.open(name); r.onsuccess = () => resolve(r.result); });
    for (const store of db.objectStoreNames) {
      const rows = await new Promise((resolve) => {
        const r = db.transaction(store).objectStore(store).getAll();
        r.onsuccess = () => resolve(r.result);
      });
      for (const row of rows) {
        for (const value of Object.values(row ?? {})) {
          if (value instanceof Uint8Array) assert.equal(indexOfBytes(value, needle), -1, `${name}/${store}`);
        }
      }
    }
    db.close();
  }
  const keysBefore = rx.core.keyCount();
  rx.close();
  assert.equal(rx.core.keyCount(), keysBefore - 1, 'close() releases the key from Wasm memory');
  await rejects(rx.open(new Uint8Array(100)), 'closed');
});

test('10,000 random and mutated envelopes never crash and never open', async () => {
  const signer = generateSignerKeyPair();
  const { rx } = await receiver({ trustedSigners: [signer.publicKey] });
  const { rx: lax } = await receiver();
  const valid = sealPush({ recipientPublicKey: rx.publicKey, signer, now: T0, message: { title: 'x', body: 'y' } });
  const validLax = sealPush({ recipientPublicKey: lax.publicKey, now: T0, message: { title: 'x' } });
  // Opened once first: a change that decodes to the same bytes (e.g. base64url padding) is then `replayed`.
  await rx.open(valid);
  await lax.open(validLax);
  const random = prng(0x5ea1);
  const byte = () => Math.floor(random() * 256);
  const codes = new Map();
  for (let i = 0; i < 10_000; i += 1) {
    const base = i % 2 ? valid : validLax;
    const target = i % 2 ? rx : lax;
    let input;
    switch (i % 6) {
      case 0: { // bit flips
        input = Uint8Array.from(base);
        const flips = 1 + Math.floor(random() * 3);
        for (let f = 0; f < flips; f += 1) input[Math.floor(random() * input.length)] ^= 1 << Math.floor(random() * 8);
        break;
      }
      case 1: // truncated or extended
        input = random() < 0.5 ? base.subarray(0, Math.floor(random() * base.length))
          : Uint8Array.of(...base, ...Array.from({ length: 1 + Math.floor(random() * 64) }, byte));
        break;
      case 2: // a random body behind a valid header
        input = Uint8Array.of(...base.subarray(0, 9), ...Array.from({ length: Math.floor(random() * 600) }, byte));
        break;
      case 3: // random bytes of any length
        input = Uint8Array.from({ length: Math.floor(random() * 5000) }, byte);
        break;
      case 4: { // base64url text with a changed character
        const text = Buffer.from(base).toString('base64url').split('');
        text[Math.floor(random() * text.length)] = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=!~ '[
          Math.floor(random() * 68)];
        input = text.join('');
        break;
      }
      default: { // a byte replaced inside the sealed part
        input = Uint8Array.from(base);
        const at = 9 + Math.floor(random() * (input.length - 9));
        const replacement = byte();
        if (replacement === input[at]) input[at] ^= 0xff;
        else input[at] = replacement;
      }
    }
    try {
      await target.open(input);
      assert.fail(`input ${i} opened`);
    } catch (error) {
      assert.ok(error instanceof SealpostError, `input ${i}: ${error}`);
      codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
    }
  }
  const allowed = new Set(['too-large', 'malformed', 'unsupported-version', 'unknown-recipient', 'decrypt-failed',
    'replayed']);
  for (const code of codes.keys()) assert.ok(allowed.has(code), `unexpected code ${code}: ${[...codes]}`);
  rx.close();
  lax.close();
});

test('PushReceiver fails closed: it needs trustedSigners, or allowUnsigned: true said outright', async () => {
  const indexedDB = new IDBFactory();
  await assert.rejects(PushReceiver.open({ indexedDB }), (e) => e.code === 'invalid-argument' && /allowUnsigned/.test(e.message));
  await assert.rejects(PushReceiver.open({ indexedDB, trustedSigners: [] }), { code: 'invalid-argument' });
  const signer = generateSignerKeyPair();
  await assert.rejects(PushReceiver.open({ indexedDB, trustedSigners: [signer.publicKey], allowUnsigned: true }),
    { code: 'invalid-argument' });
  const strict = await PushReceiver.open({ indexedDB, trustedSigners: [signer.publicKey] });
  await assert.rejects(strict.open(sealPush({ recipientPublicKey: strict.publicKey, now: T0, message: { title: 'u' } })),
    { code: 'unsigned' });
  strict.close();
});
