// The Wasm module through js/wasm.js: vectors, round trips, memory, randomness and error codes.
import test from 'node:test';
import assert from 'node:assert/strict';
import sodium from 'libsodium-wrappers';

import { createCore, KeyKind, ready } from '../../js/wasm/loader.js';
import { SealpostError } from '../../js/errors.js';
import { hex, unhex, readVectors, indexOfBytes, prng } from './helpers.js';

const utf8 = (s) => new TextEncoder().encode(s);
const placeOf = (v) => ({ database: v.database, queue: v.queue, id: v.entry_id });

test('public key ids match the vectors', async () => {
  const core = await createCore();
  for (const v of readVectors('key-ids.json').vectors) {
    assert.equal(hex(core.publicKeyId(unhex(v.public_key))), v.key_id);
  }
});

test('record vectors open, and fresh seals open in libsodium-wrappers', async () => {
  await sodium.ready;
  const core = await createCore();
  const vectors = readVectors('records.json').vectors;
  assert.equal(vectors.length, 4);
  for (const v of vectors) {
    const handle = core.keyImport(KeyKind.symmetric, unhex(v.key));
    assert.equal(hex(core.keyId(handle)), v.key_id);
    assert.equal(hex(core.recordOpen(handle, placeOf(v), unhex(v.sealed))), v.plaintext);
    assert.equal(hex(core.recordKeyId(unhex(v.sealed))), v.key_id);

    // Our sealer's output, opened by an independent implementation with the documented AD.
    const sealed = core.recordSeal(handle, placeOf(v), unhex(v.plaintext));
    assert.equal(sealed[0], 1);
    assert.equal(hex(sealed.subarray(1, 9)), v.key_id);
    const nonce = sealed.subarray(9, 33);
    const opened = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null, sealed.subarray(33), unhex(v.associated_data), nonce, unhex(v.key));
    assert.equal(hex(opened), v.plaintext);
    core.keyRelease(handle);
  }
  assert.equal(core.keyCount(), 0);
});

test('records of every block-boundary length match libsodium-wrappers both ways', async () => {
  // ChaCha20 runs through different code for 64-byte blocks and 256-byte four-block chunks (Wasm SIMD):
  // lengths around both boundaries, sealed here and opened by libsodium-wrappers, and the reverse.
  await sodium.ready;
  const core = await createCore();
  const v = readVectors('records.json').vectors[0];
  const key = unhex(v.key);
  const handle = core.keyImport(KeyKind.symmetric, key);
  const ad = unhex(v.associated_data);
  const random = prng(7);
  const lengths = [1, 63, 64, 65, 127, 128, 191, 255, 256, 257, 319, 320, 511, 512, 513, 767, 768, 769, 1000,
    1023, 1024, 1025, 4113, 65539, 1 << 20];
  for (const length of lengths) {
    const plaintext = Uint8Array.from({ length }, () => Math.floor(random() * 256));
    const sealed = core.recordSeal(handle, placeOf(v), plaintext);
    const opened = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null, sealed.subarray(33), ad, sealed.subarray(9, 33), key);
    assert.equal(hex(opened), hex(plaintext), `sealed by sealpost, ${length} bytes`);
    const nonce = sodium.randombytes_buf(24);
    const theirs = new Uint8Array([...sealed.subarray(0, 9), ...nonce,
      ...sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key)]);
    assert.equal(hex(core.recordOpen(handle, placeOf(v), theirs)), hex(plaintext), `sealed by wrappers, ${length} bytes`);
  }
  core.keyRelease(handle);
});

test('two fresh instances generate different keys', async () => {
  const a = await createCore();
  const b = await createCore();
  const ka = a.keyExport(a.keyGenerate(KeyKind.symmetric));
  const kb = b.keyExport(b.keyGenerate(KeyKind.symmetric));
  assert.equal(ka.length, 32);
  assert.notEqual(hex(ka), hex(kb));
  assert.notEqual(hex(a.randomBytes(32)), hex(b.randomBytes(32)));
  assert.notEqual(hex(ka), '00'.repeat(32));
});

test('ready() shares one instance per URL', async () => {
  const first = await ready();
  const second = await ready();
  assert.equal(first, second);
  assert.notEqual(first, await createCore());
});

test('10,000 seal/open round trips of 0 B to 1 MiB keep Wasm memory bounded', async () => {
  const core = await createCore();
  const key = core.keyGenerate(KeyKind.symmetric);
  const random = prng(20261124);
  const place = { database: 'sealpost', queue: 'roundtrip', id: '' };
  // Sizes are log-uniform between 0 and 1 MiB (most small, some large), plus both ends exactly.
  const sizes = Array.from({ length: 10_000 }, (_, i) => {
    if (i === 0) return 0;
    if (i === 1) return 1 << 20;
    return Math.min(1 << 20, Math.floor(2 ** (random() * 20.01)) - 1);
  });
  const pool = new Uint8Array(1 << 20);
  globalThis.crypto.getRandomValues(pool.subarray(0, 65536));
  for (let i = 65536; i < pool.length; i += 65536) pool.copyWithin(i, 0, 65536);
  let maxMemory = 0;
  for (let i = 0; i < sizes.length; i += 1) {
    const plaintext = pool.subarray(i % 97, (i % 97) + Math.min(sizes[i], pool.length - (i % 97)));
    place.id = String(i);
    const sealed = core.recordSeal(key, place, plaintext);
    assert.equal(sealed.length, plaintext.length + 49);
    const opened = core.recordOpen(key, place, sealed);
    if (opened.length !== plaintext.length || Buffer.compare(opened, plaintext) !== 0) {
      assert.fail(`round trip ${i} (${plaintext.length} bytes) differs`);
    }
    maxMemory = Math.max(maxMemory, core.memory.buffer.byteLength);
  }
  // Stated bound: one 1 MiB input, its 1 MiB output and allocator slack fit in 8 MiB of linear memory.
  assert.ok(maxMemory <= 8 * 2 ** 20, `Wasm memory grew to ${maxMemory} bytes`);
});

test('after closing, neither key nor plaintext is left in Wasm memory', async () => {
  const core = await createCore();
  const key = new Uint8Array(32).map((_, i) => 0xa0 ^ i);
  const plaintext = utf8('the secret note about the Tuesday meeting '.repeat(4));
  const handle = core.keyImport(KeyKind.symmetric, key);
  const place = { database: 'd', queue: 'q', id: '1' };
  const sealed = core.recordSeal(handle, place, plaintext);
  assert.equal(hex(core.recordOpen(handle, place, sealed)), hex(plaintext));
  assert.notEqual(indexOfBytes(core.heap(), key), -1, 'the key is held while its handle is open');
  core.keyRelease(handle);
  const heap = core.heap();
  assert.equal(indexOfBytes(heap, key), -1, 'key bytes left in Wasm memory');
  assert.equal(indexOfBytes(heap, plaintext.subarray(0, 24)), -1, 'plaintext left in Wasm memory');
});

test('bad input gets a SealpostError with its code, and nothing else is thrown', async () => {
  const core = await createCore();
  const key = core.keyGenerate(KeyKind.symmetric);
  const place = { database: 'd', queue: 'q', id: '1' };
  const sealed = core.recordSeal(key, place, utf8('hello'));
  const expectCode = (fn, code) => {
    assert.throws(fn, (e) => e instanceof SealpostError && e.code === code, `expected ${code}`);
  };
  expectCode(() => core.recordOpen(key, place, sealed.subarray(0, 10)), 'record-tampered');
  expectCode(() => core.recordOpen(key, { ...place, queue: 'other' }, sealed), 'record-tampered');
  const flipped = sealed.slice();
  flipped[40] ^= 4;
  expectCode(() => core.recordOpen(key, place, flipped), 'record-tampered');
  expectCode(() => core.recordOpen(core.keyGenerate(KeyKind.symmetric), place, sealed), 'wrong-key');
  expectCode(() => core.recordOpen(999, place, sealed), 'unknown-key');
  expectCode(() => core.recordSeal(core.keyGenerate(KeyKind.box), place, utf8('x')), 'unknown-key');
  expectCode(() => core.recordOpen(key, place, 'not bytes'), 'invalid-argument');
  expectCode(() => core.recordSeal(key, { ...place, id: 7 }, utf8('x')), 'invalid-argument');
  expectCode(() => core.keyImport(KeyKind.symmetric, new Uint8Array(31)), 'invalid-argument');
  expectCode(() => core.keyImport(9, new Uint8Array(32)), 'invalid-argument');
  expectCode(() => core.keyGenerate(0), 'invalid-argument');
  expectCode(() => core.keyPublic(key), 'invalid-argument');
  expectCode(() => core.keyRelease(12345), 'unknown-key');
  expectCode(() => core.publicKeyId(new Uint8Array(31)), 'invalid-argument');
  expectCode(() => core.recordKeyId(new Uint8Array(3)), 'record-tampered');

  // Random garbage of every short length never opens and never throws anything but SealpostError.
  const random = prng(7);
  for (let i = 0; i < 2000; i += 1) {
    const junk = new Uint8Array(Math.floor(random() * 200)).map(() => Math.floor(random() * 256));
    if (i % 3 === 0 && junk.length > 9) junk.set(sealed.subarray(0, 9)); // right version and key id
    assert.throws(() => core.recordOpen(key, place, junk), (e) => e instanceof SealpostError
      && ['record-tampered', 'wrong-key'].includes(e.code));
  }
});

test('a module that cannot be found is wasm-load-failed', async () => {
  await assert.rejects(createCore({ wasmUrl: new URL('file:///nonexistent/sealpost.wasm') }),
    (e) => e instanceof SealpostError && e.code === 'wasm-load-failed');
  await assert.rejects(createCore({ wasmBinary: new Uint8Array([0, 97, 115, 109, 9, 9]) }),
    (e) => e instanceof SealpostError && e.code === 'wasm-load-failed');
});
