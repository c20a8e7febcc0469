// Produces the seed corpora of the libFuzzer targets (tests/fuzz/corpus/<target>/seed-*) from the test
// vectors in tests/vectors/, in each target's input layout (see the comment at the top of
// tests/fuzz/fuzz_<target>.cpp). Deterministic; the outputs are checked in.
//   node scripts/make-corpus.mjs
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import sodium from 'libsodium-wrappers';

await sodium.ready;
const root = new URL('../', import.meta.url);
const vectors = (name) => JSON.parse(readFileSync(new URL(`tests/vectors/${name}`, root), 'utf8')).vectors;
const unhex = (text) => new Uint8Array(Buffer.from(text, 'hex'));
const utf8 = (s) => new TextEncoder().encode(s);
const seq = (n, start) => Uint8Array.from({ length: n }, (_, i) => (start + i * 7) & 0xff);
const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

/** @type {Record<string, Array<[string, Uint8Array]>>} target -> [name, bytes] */
const corpora = {};
const add = (target, name, bytes) => (corpora[target] ??= []).push([name, bytes]);

// record_open: selector byte (vector index) ‖ sealed record.
const records = vectors('records.json');
records.forEach((v, k) => {
  add('record_open', `vector-${k}`, concat(Uint8Array.of(k), unhex(v.sealed)));
  add('record_open', `vector-${k}-truncated`, concat(Uint8Array.of(k), unhex(v.sealed).slice(0, 48)));
});

// record_seal: len db, len queue, len id ‖ names ‖ tamper byte ‖ plaintext.
records.forEach((v, k) => {
  const [db, queue, id] = [utf8(v.database), utf8(v.queue), utf8(v.entry_id)];
  add('record_seal', `vector-${k}`, concat(Uint8Array.of(db.length, queue.length, id.length), db, queue, id,
    Uint8Array.of(k * 37), unhex(v.plaintext)));
});

// base64url_decode: text.
const keyIds = vectors('key-ids.json');
keyIds.forEach((v, k) => {
  add('base64url_decode', `public-key-${k}`, utf8(b64url(unhex(v.public_key))));
  add('base64url_decode', `key-id-${k}`, utf8(b64url(unhex(v.key_id))));
});
records.forEach((v, k) => add('base64url_decode', `record-${k}`, utf8(b64url(unhex(v.sealed)))));
add('base64url_decode', 'padded-1', utf8('QQ=='));
add('base64url_decode', 'padded-2', utf8('QUI='));
add('base64url_decode', 'empty', new Uint8Array(0));

// key_import: kind byte (1 symmetric, 2 box, 3 sign) ‖ key bytes, keys as tests/vectors/key-ids.json makes them.
records.forEach((v, k) => add('key_import', `symmetric-${k}`, concat(Uint8Array.of(1), unhex(v.key))));
for (const seed of [1, 2, 3]) {
  const box = sodium.crypto_box_seed_keypair(seq(32, seed));
  add('key_import', `box-${seed}`, concat(Uint8Array.of(2), box.privateKey, box.publicKey));
  const sign = sodium.crypto_sign_seed_keypair(seq(32, seed + 100));
  add('key_import', `sign-${seed}`, concat(Uint8Array.of(3), sign.privateKey));
}
records.forEach((v, k) => add('key_import', `record-${k}`, concat(Uint8Array.of(0), unhex(v.sealed))));

// push_message: message bodies (JSON text) of tests/vectors/push.json, and a few shapes around the limits.
const push = JSON.parse(readFileSync(new URL('tests/vectors/push.json', root), 'utf8'));
push.valid.forEach((v, k) => add('push_message', `vector-${k}`, utf8(Buffer.from(v.body, 'hex').toString('utf8').trimEnd())));
const message = { id: 'm-1', iat: 1700000000, ttl: 3600, title: 'Hello', body: 'Text', tag: 't', icon: '/i.png',
  badge: '/b.png', image: '/m.png', category: 'chat', url: '/notes/1?x=1#y', silent: false, requireInteraction: true,
  renotify: true, actions: [{ action: 'open', title: 'Open', icon: '/o.png' }, { action: 'no', title: 'Dismiss' }],
  data: { nested: [1, 'two', null, { three: 3.5 }] }, unknown: 'dropped' };
add('push_message', 'full', utf8(JSON.stringify(message)));
add('push_message', 'foreign-url', utf8(JSON.stringify({ ...message, url: '//evil.example/x' })));
add('push_message', 'three-actions', utf8(JSON.stringify({ ...message, actions: [...message.actions, message.actions[0]] })));
add('push_message', 'wrong-types', utf8('{"id":7,"iat":"now","title":["x"],"ttl":0}'));

// request_record: a request record's plaintext, version 2 (src/core/request_record.hpp):
// u8 2 ‖ u32le length ‖ the fields as JSON (keys sorted, as the encoder writes them) ‖ the inline body.
const sortKeys = (value) => (Array.isArray(value) ? value.map(sortKeys)
  : value && typeof value === 'object'
    ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])])) : value);
const requestPlaintext = (fields, body = new Uint8Array(0)) => {
  const json = utf8(JSON.stringify(sortKeys(fields)));
  const header = new Uint8Array(5);
  header[0] = 2;
  new DataView(header.buffer).setUint32(1, json.length, true);
  return concat(header, json, body);
};
const minimal = { method: 'POST', url: 'https://a.test/' };
add('request_record', 'minimal', requestPlaintext(minimal));
add('request_record', 'body', requestPlaintext({ ...minimal, headers: [['content-type', 'application/octet-stream']] },
  seq(300, 1)));
add('request_record', 'every-field', requestPlaintext({ method: 'PUT', url: 'https://a.test/notes/1?x=1#y',
  headers: [['content-type', 'application/json'], ['authorization', 'Bearer s3cret'], ['x-a', '']],
  credentials: 'include', mode: 'cors', cache: 'no-store', redirect: 'manual', referrer: 'about:client',
  referrerPolicy: 'no-referrer', integrity: 'sha256-abc', keepalive: true, metadata: { note: 7, tags: ['a'] } },
utf8('{"title":"x"}')));
add('request_record', 'navigate', requestPlaintext({ ...minimal, mode: 'navigate' }));
add('request_record', 'nested-metadata', requestPlaintext({ ...minimal,
  metadata: JSON.parse('['.repeat(31) + '{"n":1.5e-7,"s":"\\u0001é"}' + ']'.repeat(31)) }));
add('request_record', 'stream', requestPlaintext({ ...minimal,
  stream: { header: '00'.repeat(24), size: 3000000, chunks: 3 } }));
add('request_record', 'numbers', requestPlaintext({ ...minimal,
  metadata: [0, -1, 0.1, 1e300, 5e-324, 18446744073709551615, 18446744073709552000, -9223372036854775808] }));
// A version-1 record (one CBOR map: {"method": "POST", "url": "u", "v": 1}), which decodes to unsupported-version.
add('request_record', 'version-1', concat(Uint8Array.of(0xa3, 0x66), utf8('method'), Uint8Array.of(0x64), utf8('POST'),
  Uint8Array.of(0x63), utf8('url'), Uint8Array.of(0x61), utf8('u'), Uint8Array.of(0x61), utf8('v'), Uint8Array.of(0x01)));

for (const [target, files] of Object.entries(corpora)) {
  const dir = new URL(`tests/fuzz/corpus/${target}/`, root);
  mkdirSync(dir, { recursive: true });
  for (const old of readdirSync(dir).filter((f) => f.startsWith('seed-'))) rmSync(new URL(old, dir));
  for (const [name, bytes] of files) writeFileSync(new URL(`seed-${name}`, dir), bytes);
  console.log(`${target}: ${files.length} seeds`);
}
