// Seal and open rates of sealed push envelopes in Node, with libsodium-wrappers doing the same primitives
// (crypto_box_seal + crypto_sign_detached) as the anchor.
//   node bench/push.mjs [--seconds 1]
// Every path is checked against the others before it is timed; each runs for at least --seconds after a
// warm-up and reports operations per second.
import { readFileSync } from 'node:fs';
import { IDBFactory } from 'fake-indexeddb';
import sodium from 'libsodium-wrappers';

import { createCore, KeyKind, instantiateSync } from '../js/wasm/loader.js';
import { PushReceiver } from '../js/push/receiver.js';
import { generateSignerKeyPair, sealPush } from '../js/server.js';
import { fromBase64url } from '../js/base64url.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 1;
await sodium.ready;
const encoder = new TextEncoder();
const NOW = 1_700_000_000;

async function measure(name, fn) {
  for (let i = 0; i < 200; i += 1) await fn(i); // warm-up
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i += 1) await fn(ops + i);
    ops += 50;
    now = process.hrtime.bigint();
  }
  const elapsed = Number(now - start) / 1e9;
  return { name, ops, rate: ops / elapsed };
}

const core = await createCore();
const device = core.keyGenerate(KeyKind.box);
const devicePublic = core.keyPublic(device);
const deviceSecret = core.keyExport(device).slice(0, 32);
const signer = generateSignerKeyPair();
const signerPublic = fromBase64url(signer.publicKey);
const signerSecret = fromBase64url(signer.secretKey);
const message = { title: 'Reply from Ada', body: 'See you at 6 by the station.', url: '/notes/42', tag: 'note-42' };
const messageJson = JSON.stringify(message);

// libsodium-wrappers: the same envelope built from the same primitives.
function lwSeal(id) {
  const body = encoder.encode(JSON.stringify({ ...message, id: `lw-${id}`, iat: NOW }).padEnd(256, ' '));
  const keyId = sodium.crypto_generichash(32, devicePublic).slice(0, 8);
  const covered = Uint8Array.of(...encoder.encode('sealpost/push/v1'), ...keyId, ...body);
  const signature = sodium.crypto_sign_detached(covered, signerSecret);
  const inner = Uint8Array.of(1, ...sodium.crypto_generichash(32, signerPublic).slice(0, 8), ...signature, ...body);
  return Uint8Array.of(1, ...keyId, ...sodium.crypto_box_seal(inner, devicePublic));
}
function lwOpen(envelope) {
  const inner = sodium.crypto_box_seal_open(envelope.subarray(9), devicePublic, deviceSecret);
  const body = inner.subarray(73);
  const covered = Uint8Array.of(...encoder.encode('sealpost/push/v1'), ...envelope.subarray(1, 9), ...body);
  if (!sodium.crypto_sign_verify_detached(inner.subarray(9, 73), covered, signerPublic)) throw new Error('bad');
  return JSON.parse(new TextDecoder().decode(body));
}

// Check every path against the others first.
const ours = sealPush({ recipientPublicKey: devicePublic, message, signer, now: NOW * 1000 });
if (lwOpen(ours).title !== message.title) throw new Error('libsodium-wrappers cannot open our envelope');
const theirs = lwSeal(0);
if (core.pushOpen([device], [signerPublic], theirs, NOW, 300).message.title !== message.title) {
  throw new Error('we cannot open libsodium-wrappers\' envelope');
}

const envelopes = Array.from({ length: 4096 }, (_, i) =>
  sealPush({ recipientPublicKey: devicePublic, message: { ...message, id: `e-${i}` }, signer, now: NOW * 1000 }));
const lwEnvelopes = Array.from({ length: 256 }, (_, i) => lwSeal(i));

const rx = await PushReceiver.open({ indexedDB: new IDBFactory(), trustedSigners: [signer.publicKey],
  now: () => NOW * 1000 });
// PushReceiver.open includes the IndexedDB seen-id write, so each envelope needs a fresh id.
let fresh = 0;
const rxEnvelope = () => sealPush({ recipientPublicKey: rx.publicKey, message: { ...message, id: `rx-${fresh++}` },
  signer, now: NOW * 1000 });
// Sealed ahead of time (enough for the warm-up and the timed run at up to ~1,500 opens/s); sealed on
// demand, inside the timing, only if that runs out.
const rxQueue = Array.from({ length: 200 + Math.ceil(1500 * seconds) }, rxEnvelope);

const rows = [
  await measure('seal, unsigned (sealPush, Wasm)', () => sealPush({ recipientPublicKey: devicePublic, message, now: NOW * 1000 })),
  await measure('seal, signed (sealPush, Wasm)', () => sealPush({ recipientPublicKey: devicePublic, message, signer, now: NOW * 1000 })),
  await measure('seal, signed (WasmCore.sealPush, key handle kept)', (() => {
    // Sealing and signing live in the server module (dist/sealpost-server.wasm), as sealpost/server uses it.
    const server = instantiateSync(new WebAssembly.Module(
      readFileSync(new URL('../dist/sealpost-server.wasm', import.meta.url))));
    const handle = server.keyImport(KeyKind.sign, signerSecret);
    return () => server.pushSeal(devicePublic, handle, messageJson, NOW, 3000);
  })()),
  await measure('seal, signed (libsodium-wrappers 0.8.4, same primitives)', (i) => lwSeal(i)),
  await measure('open, signed (WasmCore.openPush: every check but replay)', (i) =>
    core.pushOpen([device], [signerPublic], envelopes[i % envelopes.length], NOW, 300)),
  await measure('open, signed (libsodium-wrappers 0.8.4: box + signature + JSON.parse)', (i) =>
    lwOpen(lwEnvelopes[i % lwEnvelopes.length])),
  await measure('open, signed (PushReceiver.open: + seen id in fake-indexeddb)', async () => {
    if (rxQueue.length === 0) rxQueue.push(rxEnvelope());
    await rx.open(rxQueue.pop());
  }),
];
rx.close();

console.log(`sealed push, Node ${process.version}, ${ours.length}-byte signed envelope (256-byte body bucket), `
  + `>= ${seconds} s per row`);
console.log('| operation | ops/s | vs libsodium-wrappers |');
console.log('| --- | ---: | ---: |');
const anchorSeal = rows[3].rate;
const anchorOpen = rows[5].rate;
for (const row of rows) {
  const anchor = row.name.startsWith('seal') ? anchorSeal : anchorOpen;
  console.log(`| ${row.name} | ${Math.round(row.rate).toLocaleString('en-US')} | ${(row.rate / anchor).toFixed(2)}x |`);
}
