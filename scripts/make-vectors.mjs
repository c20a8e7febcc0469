// Produces tests/vectors/*.json with libsodium-wrappers, an implementation independent of sealpost's
// C++ and Wasm. Run once; the outputs are checked in and every test suite checks itself against them.
//   node scripts/make-vectors.mjs
import { writeFileSync } from 'node:fs';
import sodium from 'libsodium-wrappers';

await sodium.ready;
const hex = (b) => Buffer.from(b).toString('hex');
const seq = (n, start) => Uint8Array.from({ length: n }, (_, i) => (start + i * 7) & 0xff);
const utf8 = (s) => new TextEncoder().encode(s);
const u16 = (n) => Uint8Array.of(n >> 8, n & 0xff);
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

// Key ids of public keys: first 8 bytes of BLAKE2b-256 of the key.
const keyIds = [];
for (const seed of [1, 2, 3]) {
  const box = sodium.crypto_box_seed_keypair(seq(32, seed));
  keyIds.push({ kind: 'x25519', public_key: hex(box.publicKey), key_id: hex(sodium.crypto_generichash(32, box.publicKey).slice(0, 8)) });
  const sign = sodium.crypto_sign_seed_keypair(seq(32, seed + 100));
  keyIds.push({ kind: 'ed25519', public_key: hex(sign.publicKey), key_id: hex(sodium.crypto_generichash(32, sign.publicKey).slice(0, 8)) });
}

// Secret key ids and records.
function secretKeyId(key) {
  return sodium.crypto_generichash(32, utf8('sealpost/key-id/v1'), key).slice(0, 8);
}
function sealRecord(key, nonce, place, plaintext) {
  const header = concat(Uint8Array.of(1), secretKeyId(key));
  const name = (s) => concat(u16(utf8(s).length), utf8(s));
  const ad = concat(utf8('sealpost/outbox/v1'), name(place.database), name(place.queue), name(place.entry_id), header);
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
  return { ad, sealed: concat(header, nonce, ct) };
}
const records = [];
const cases = [
  { place: { database: 'sealpost', queue: 'notes', entry_id: '00112233445566778899aabbccddeeff' }, plaintext: utf8('') },
  { place: { database: 'sealpost', queue: 'notes', entry_id: 'a' }, plaintext: utf8('{"title":"first note"}') },
  { place: { database: 'db', queue: 'q', entry_id: 'é-ü-✓' }, plaintext: seq(1000, 3) },
  { place: { database: '', queue: '', entry_id: '' }, plaintext: seq(64, 250) },
];
cases.forEach((c, i) => {
  const key = seq(32, 10 + i);
  const nonce = seq(24, 90 + i);
  const { ad, sealed } = sealRecord(key, nonce, c.place, c.plaintext);
  records.push({
    key: hex(key), key_id: hex(secretKeyId(key)), nonce: hex(nonce), ...c.place,
    plaintext: hex(c.plaintext), associated_data: hex(ad), sealed: hex(sealed),
  });
});

writeFileSync(new URL('../tests/vectors/key-ids.json', import.meta.url), JSON.stringify({
  about: 'Key ids: first 8 bytes of BLAKE2b-256 (crypto_generichash, no key) of a 32-byte public key. Produced by scripts/make-vectors.mjs with libsodium-wrappers.',
  vectors: keyIds }, null, 2) + '\n');
writeFileSync(new URL('../tests/vectors/records.json', import.meta.url), JSON.stringify({
  about: 'Sealed outbox records (src/core/record.hpp): version 0x01, secret key id, nonce, XChaCha20-Poly1305 ciphertext. Produced by scripts/make-vectors.mjs with libsodium-wrappers.',
  vectors: records }, null, 2) + '\n');
console.log(`wrote ${keyIds.length} key ids and ${records.length} records`);
