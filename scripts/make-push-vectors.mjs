// Produces tests/vectors/push.json with libsodium-wrappers, independently of sealpost's C++ and Wasm:
// sealed push envelopes (DESIGN.md "Sealed push") with fixed keys, signed and unsigned, padded and not,
// plus one envelope per error code. Run once; the output is checked in.
//   node scripts/make-push-vectors.mjs
//
// crypto_box_seal draws a random ephemeral key; to make the envelopes reproducible this script builds
// the sealed box from its definition with a fixed ephemeral key pair:
//   ephemeral_pk ‖ crypto_box_easy(m, nonce = BLAKE2b-192(ephemeral_pk ‖ recipient_pk), recipient_pk, ephemeral_sk)
// and checks that libsodium's crypto_box_seal_open opens it.
import { writeFileSync } from 'node:fs';
import sodium from 'libsodium-wrappers';

await sodium.ready;
const hex = (b) => Buffer.from(b).toString('hex');
const seq = (n, start) => Uint8Array.from({ length: n }, (_, i) => (start + i * 7) & 0xff);
const utf8 = (s) => new TextEncoder().encode(s);
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const keyId = (pk) => sodium.crypto_generichash(32, pk).slice(0, 8);

const NOW = 1700000000;
const recipient = sodium.crypto_box_seed_keypair(seq(32, 1));
const otherRecipient = sodium.crypto_box_seed_keypair(seq(32, 2));
const signer = sodium.crypto_sign_seed_keypair(seq(32, 101));
const otherSigner = sodium.crypto_sign_seed_keypair(seq(32, 102));
let ephemeralSeed = 200;

function sealedBox(message, recipientPk) {
  const ephemeral = sodium.crypto_box_seed_keypair(seq(32, ephemeralSeed++));
  const nonce = sodium.crypto_generichash(24, concat(ephemeral.publicKey, recipientPk));
  const box = concat(ephemeral.publicKey, sodium.crypto_box_easy(message, nonce, recipientPk, ephemeral.privateKey));
  return box;
}

function pad(body, size) {
  const bytes = utf8(body);
  return size ? concat(bytes, new Uint8Array(size - bytes.length).fill(0x20)) : bytes;
}

function inner(bodyBytes, { sign = null, recipientPk = recipient.publicKey, flags, signOver } = {}) {
  if (!sign) return concat(Uint8Array.of(flags ?? 0), bodyBytes);
  const covered = signOver ?? concat(utf8('sealpost/push/v1'), keyId(recipientPk), bodyBytes);
  const signature = sodium.crypto_sign_detached(covered, sign.privateKey);
  return concat(Uint8Array.of(flags ?? 1), keyId(sign.publicKey), signature, bodyBytes);
}

function envelope(innerBytes, { recipientPk = recipient.publicKey, version = 1 } = {}) {
  const sealed = sealedBox(innerBytes, recipientPk);
  const out = concat(Uint8Array.of(version), keyId(recipientPk), sealed);
  if (recipientPk === recipient.publicKey) {
    const opened = sodium.crypto_box_seal_open(sealed, recipient.publicKey, recipient.privateKey);
    if (hex(opened) !== hex(innerBytes)) throw new Error('the fixed-ephemeral sealed box does not open');
  }
  return out;
}

const body = (fields) => JSON.stringify({ id: 'vector-1', iat: NOW, title: 'Hello', ...fields });

// ---------------------------------------------------------------- envelopes that open
const valid = [];
function addValid(name, message, { sign = null, padTo = 0, text = false, expected }) {
  const bodyBytes = pad(message, padTo);
  const env = envelope(inner(bodyBytes, { sign }));
  const parsed = JSON.parse(message);
  valid.push({
    name,
    signed: Boolean(sign),
    body: hex(bodyBytes),
    envelope: text ? undefined : hex(env),
    envelope_text: text ? Buffer.from(env).toString('base64url') : undefined,
    message: expected ?? { ttl: 86400, ...parsed },
    id: parsed.id,
    expires_at: parsed.iat + (parsed.ttl ?? 86400),
  });
}
addValid('unsigned, unpadded', body({}), {});
addValid('signed, padded to 256', body({ body: 'World', url: '/notes/1' }), { sign: signer, padTo: 256 });
addValid('signed, padded to 1024, every field', body({
  id: 'vector-3', ttl: 3600, title: 'Réponse ✓', body: 'x'.repeat(300), tag: 't', icon: '/i.png', badge: '/b.png',
  image: '/img.png', url: '/notes/3?x=1#y', category: 'replies', silent: false, requireInteraction: true,
  renotify: true, actions: [{ action: 'open', title: 'Open' }, { action: 'not-useful', title: 'Not useful' }],
  data: { nested: [1, 'two', null] },
}), { sign: signer, padTo: 1024 });
addValid('unknown fields are dropped', body({ id: 'vector-4', future: { a: 1 } }), {
  padTo: 256,
  expected: { id: 'vector-4', iat: NOW, title: 'Hello', ttl: 86400 },
});
addValid('base64url text of a signed envelope', body({ id: 'vector-5' }), { sign: signer, padTo: 256, text: true });

// ---------------------------------------------------------------- one envelope per error code
const errors = [];
const trusted = [hex(signer.publicKey)];
function addError(name, code, bytes, { signers = trusted, now = NOW } = {}) {
  errors.push({ name, code, envelope: typeof bytes === 'string' ? undefined : hex(bytes),
    envelope_text: typeof bytes === 'string' ? bytes : undefined, trusted_signers: signers, now });
}
const signedGood = (fields) => envelope(inner(pad(body(fields), 256), { sign: signer }));
addError('over 4,096 bytes', 'too-large', concat(Uint8Array.of(1), new Uint8Array(4096)));
addError('shorter than a header and a sealed flags byte', 'malformed', seq(57, 1).map((b, i) => (i ? b : 1)));
addError('unknown flag bits', 'malformed', envelope(inner(pad(body({}), 256), { sign: signer, flags: 0x81 })));
addError('version 2', 'unsupported-version', envelope(inner(utf8(body({})), { sign: signer }), { version: 2 }));
addError('for another device key', 'unknown-recipient',
  envelope(inner(utf8(body({})), { sign: signer, recipientPk: otherRecipient.publicKey }),
    { recipientPk: otherRecipient.publicKey }));
{
  const env = signedGood({});
  env[env.length - 1] ^= 0x01;
  addError('one bit changed in the ciphertext', 'decrypt-failed', env);
}
addError('unsigned while signers are trusted', 'unsigned', envelope(inner(pad(body({}), 256))));
addError('signed by an untrusted key', 'unknown-signer', envelope(inner(pad(body({}), 256), { sign: otherSigner })));
addError('signature over another recipient key id', 'bad-signature', envelope(inner(pad(body({}), 256), {
  sign: signer, signOver: concat(utf8('sealpost/push/v1'), keyId(otherRecipient.publicKey), pad(body({}), 256)) })));
addError('body is not JSON', 'invalid-json', envelope(inner(pad('{"title": "Hello"', 256), { sign: signer })));
addError('ill-formed UTF-8', 'invalid-json', envelope(inner(concat(utf8('{"id":"a","iat":1700000000,"title":"'),
  Uint8Array.of(0xc3, 0x28), utf8('"}')), { sign: signer })));
addError('url is not a same-origin path', 'invalid-message', signedGood({ url: '//evil.example/' }));
addError('three actions', 'invalid-message', signedGood({ actions: [1, 2, 3].map((n) => ({ action: `a${n}`, title: 'A' })) }));
addError('issued 301 s in the future', 'not-yet-valid', signedGood({ iat: NOW + 301 }));
addError('iat + ttl has passed', 'expired', signedGood({ iat: NOW - 120, ttl: 60 }));
addError('opened twice (the second time)', 'replayed', signedGood({ id: 'replay-me' }));

writeFileSync(new URL('../tests/vectors/push.json', import.meta.url), JSON.stringify({
  about: 'Sealed push envelopes (DESIGN.md "Sealed push"), produced by scripts/make-push-vectors.mjs with libsodium-wrappers. '
    + 'Sealed boxes use a fixed ephemeral key (seeds 200, 201, ... in order) so the bytes are reproducible. '
    + 'Key seeds: byte i = (start + 7 i) mod 256. "replayed" opens the first time and fails the second.',
  now: NOW,
  max_skew_seconds: 300,
  recipient: { seed: hex(seq(32, 1)), secret_key: hex(recipient.privateKey), public_key: hex(recipient.publicKey),
    key_id: hex(keyId(recipient.publicKey)) },
  signer: { seed: hex(seq(32, 101)), secret_key: hex(signer.privateKey), public_key: hex(signer.publicKey),
    key_id: hex(keyId(signer.publicKey)) },
  valid,
  errors,
}, null, 2) + '\n');
console.log(`tests/vectors/push.json: ${valid.length} envelopes that open, ${errors.length} that fail`);
