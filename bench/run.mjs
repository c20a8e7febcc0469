// `npm run bench`: sealpost against its anchors, measured in one run on one machine, printed as a table of
// ratios. `-- --json FILE` writes the figures; `-- --smoke` runs every case once at tiny sizes with its
// correctness checks (the test suite does this), and its figures mean nothing; `-- --only KEY[,KEY]` runs
// only the cases that produce those keys (e.g. `--only fanout_sends_s`).
import { cpus } from 'node:os';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { aead, loadSodium, makeEnvelope, runNative, wrappersPushOpen } from './crypto.mjs';
import { interleavedBatches } from './lib/measure.mjs';
import { IDBFactory } from 'fake-indexeddb';
import { PushReceiver } from '../js/push/receiver.js';
import { generateSignerKeyPair, sealPush } from '../js/server.js';
import { fromBase64url } from '../js/base64url.js';
import { sizes } from './size.mjs';
import { browserBench } from './browser.mjs';
import { fanout } from './fanout.mjs';
import { coldNavBench } from './cold-nav.mjs';
import { onlinePostBench } from './online-post.mjs';

const KEYS = ['size_gz_bytes', 'aead_1mib_mb_s', 'aead_256b_ops_s', 'push_open_ops_s', 'fanout_sends_s',
  'enqueue_1kib_ops_s', 'drain_ops_s', 'cold_start_ms', 'cold_nav_ms', 'wasm_memory_peak_bytes', 'online_post_ms', 'cold_post_ms'];
const { values } = parseArgs({
  options: { json: { type: 'string' }, smoke: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const only = values.only ? values.only.split(',').map((key) => key.trim()) : KEYS;
const unknown = only.filter((key) => !KEYS.includes(key));
if (unknown.length) throw new Error(`--only: no bench key ${unknown.join(', ')} (the keys: ${KEYS.join(', ')})`);
const wanted = (...keys) => keys.some((key) => only.includes(key));
const smoke = values.smoke;
const timing = smoke ? { minMs: 5, runs: 1 } : { minMs: 400, runs: 7 };
const MIB = 1 << 20;

function chromiumVersion() {
  try {
    return execFileSync(process.env.SEALPOST_CHROMIUM ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8' })
      .replace(/[^0-9.]/g, ' ').trim().split(/\s+/)[0];
  } catch {
    return 'unavailable';
  }
}

const log = (line) => process.stderr.write(`bench: ${line}\n`);
const sodium = await loadSodium();
const out = {
  env: { node: process.versions.node, chromium: chromiumVersion(), cpu: `${cpus()[0]?.model ?? 'unknown'} ×${cpus().length}` },
};

if (wanted('size_gz_bytes')) {
  log('size');
  const size = await sizes();
  out.size_gz_bytes = { sealpost: size.sealpost, libsodium_wrappers: size.libsodium_wrappers, workbox_background_sync: size.workbox_background_sync };
}

const native = wanted('aead_1mib_mb_s', 'aead_256b_ops_s', 'push_open_ops_s') ? (log('native anchor'), runNative(timing)) : null;

if (wanted('aead_1mib_mb_s', 'aead_256b_ops_s')) {
  log('aead');
  const aeadRates = await aead({ sizes: smoke ? [256, 4096] : [256, MIB], ...timing, sodium });
  const big = smoke ? 4096 : MIB;
  out.aead_1mib_mb_s = {
    sealpost: (aeadRates[big].sealpost * big) / 1e6,
    libsodium_wrappers: (aeadRates[big].libsodium_wrappers * big) / 1e6,
    native: native.aead_1mib_mb_s,
  };
  out.aead_256b_ops_s = { ...aeadRates[256], native: native.aead_256b_ops_s };
}

if (wanted('push_open_ops_s')) {
  log('push open');
  out.push_open_ops_s = await pushOpen();
}

if (wanted('fanout_sends_s')) {
  log('push fan-out (one process, loopback HTTPS endpoint)');
  // Batches of 250 devices (about a second each here), 11 runs interleaved: a noisy moment on a shared machine
  // hits a batch of each path rather than a whole path.
  out.fanout_sends_s = await fanout({ sodium, count: smoke ? 8 : 250, runs: smoke ? 1 : 11 });
}

if (wanted('enqueue_1kib_ops_s', 'drain_ops_s', 'cold_start_ms', 'wasm_memory_peak_bytes')) {
  log('browser (cold start, enqueue, drain, memory)');
  const browser = await browserBench({ smoke, log });
  out.enqueue_1kib_ops_s = browser.enqueue_1kib_ops_s;
  out.drain_ops_s = browser.drain_ops_s;
  out.cold_start_ms = browser.cold_start_ms;
  out.wasm_memory_peak_bytes = browser.wasm_memory_peak_bytes;
}

if (wanted('cold_nav_ms')) {
  log('browser (cold navigation the worker does not route)');
  Object.assign(out, await coldNavBench({ smoke, log }));
}

if (wanted('online_post_ms', 'cold_post_ms')) {
  log('browser (1 KiB POST through a routing worker: running, and the first one of a stopped worker)');
  Object.assign(out, await onlinePostBench({ smoke, log }));
}

printTable(out);
if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);

async function pushOpen() {
  // Each batch opens `count` signed envelopes with a 512-byte padded body (sealPush's buckets pad the body,
  // so the envelope is 642 bytes). sealpost goes end to end through PushReceiver.open
  // (decrypt, verify, validate, replay check and the seen-id write, here to fake-indexeddb in memory), so
  // every envelope has its own id and is sealed before the timing; libsodium-wrappers does
  // crypto_box_seal_open + crypto_sign_verify_detached + JSON.parse on one envelope (and, as
  // libsodium_wrappers_replay, one seen-id write after it).
  const count = smoke ? 5 : 1500;
  const runs = smoke ? 1 : 5;
  const signerPair = generateSignerKeyPair();
  const signer = { publicKey: fromBase64url(signerPair.publicKey), privateKey: fromBase64url(signerPair.secretKey) };
  const recipient = sodium.crypto_box_keypair();
  const receiver = await PushReceiver.open({ indexedDB: new IDBFactory(), trustedSigners: [signerPair.publicKey] });
  const message = { title: 'Bench', body: 'x'.repeat(300) };
  const seal = () => sealPush({ recipientPublicKey: receiver.publicKey, message, signer: signerPair });
  const first = seal();
  if (first.length !== 642) throw new Error(`sealPush made ${first.length} bytes, not 642`);

  const body = { id: 'bench-1', iat: Math.floor(Date.now() / 1000), ttl: 86400, ...message };
  const made = makeEnvelope(sodium, { size: first.length, recipient, signer, body });
  const wrappersOpen = wrappersPushOpen(sodium, { ...made, recipient, signer });
  if (wrappersOpen().title !== 'Bench') throw new Error('libsodium-wrappers push self-check failed');
  if ((await receiver.open(first)).title !== 'Bench') throw new Error('PushReceiver self-check failed');
  const batches = Array.from({ length: runs + 1 }, () => Array.from({ length: count }, seal));
  // libsodium_wrappers_replay: the same open, plus what a replay check costs: one readwrite transaction on
  // the same kind of IndexedDB (fake-indexeddb) that looks the id up and records it as seen.
  const seenDb = await new Promise((resolve, reject) => {
    const req = new IDBFactory().open('bench-seen', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('seen', { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  let seenCount = 0;
  const recordSeen = (id, expiresAt) => new Promise((resolve, reject) => {
    const tx = seenDb.transaction('seen', 'readwrite');
    const store = tx.objectStore('seen');
    const got = store.get(id);
    got.onsuccess = () => {
      if (got.result) reject(new Error('replayed'));
      else store.put({ id, expiresAt });
    };
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  const cases = {
    sealpost: async () => {
      for (const envelope of batches.pop()) await receiver.open(envelope);
      return count;
    },
    libsodium_wrappers: async () => {
      for (let i = 0; i < count; i += 1) wrappersOpen();
      return count;
    },
    libsodium_wrappers_replay: async () => {
      for (let i = 0; i < count; i += 1) {
        const opened = wrappersOpen();
        seenCount += 1;
        await recordSeen(`${opened.id}-${seenCount}`, opened.iat + opened.ttl);
      }
      return count;
    },
  };
  for (const warm of Object.values(cases)) await warm(); // the spare batch
  const rates = await interleavedBatches(cases, { runs });
  receiver.close();
  seenDb.close();
  return { sealpost: rates.sealpost, libsodium_wrappers: rates.libsodium_wrappers,
    libsodium_wrappers_replay: rates.libsodium_wrappers_replay, native: native.push_open_ops_s };
}

function printTable(r) {
  const fmt = (v) => (v === null || v === undefined ? '—' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));
  const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '—');
  const rows = [
    ['size (gzip bytes)', 'size_gz_bytes', [['libsodium_wrappers', '≤ 0.25', 'lower'], ['workbox_background_sync', '', 'lower']]],
    ['AEAD 1 MiB (MB/s)', 'aead_1mib_mb_s', [['libsodium_wrappers', '≥ 1.1'], ['native', '≥ 0.4']]],
    ['AEAD 256 B (ops/s)', 'aead_256b_ops_s', [['libsodium_wrappers', '≥ 3'], ['native', '≥ 0.4']]],
    ['push open (ops/s)', 'push_open_ops_s', [['libsodium_wrappers_replay', '≥ 1'], ['libsodium_wrappers', ''], ['native', '']]],
    ['push fan-out, one process (sends/s)', 'fanout_sends_s', [['web_push', '≥ 0.8']]],
    ['enqueue 1 KiB (ops/s)', 'enqueue_1kib_ops_s', [['workbox', '≥ 1'], ['raw_idb', '≥ 0.5'], ['raw_idb_strict', '']]],
    ['drain (ops/s)', 'drain_ops_s', [['workbox', '≥ 1'], ['fetch_loop', '≥ 0.9']]],
    ['cold start (ms)', 'cold_start_ms', [['libsodium_wrappers', '≤ 0.5', 'lower']]],
    ['cold navigation, not routed, to DOMContentLoaded (ms)', 'cold_nav_ms', [['passthrough', '≤ 1.1', 'lower']]],
    ['1 KiB POST, online, worker running (ms)', 'online_post_ms', [['workbox_plugin', '≤ 1.2', 'lower'], ['passthrough', '', 'lower']]],
    ['1 KiB POST, first of a stopped worker (ms)', 'cold_post_ms', [['workbox_plugin', '≤ 1.3', 'lower'], ['passthrough', '', 'lower']]],
  ];
  const lines = [`sealpost bench — node ${r.env.node}, chromium ${r.env.chromium}, ${r.env.cpu}`,
    '| case | sealpost | anchor | anchor value | ratio | goal |', '| --- | ---: | --- | ---: | ---: | --- |'];
  for (const [label, key, anchors] of rows) {
    if (!(key in r)) continue;
    for (const [anchor, goal] of anchors) {
      const row = r[key] ?? {};
      lines.push(`| ${label} | ${fmt(row.sealpost)} | ${anchor} | ${fmt(row[anchor])} | ${ratio(row.sealpost, row[anchor])} | ${goal} |`);
    }
  }
  const peak = r.wasm_memory_peak_bytes?.enqueue_64mib_body;
  if (r.wasm_memory_peak_bytes) lines.push(`| Wasm memory peak, 64 MiB body (bytes) | ${fmt(peak)} | limit | ${fmt(16 * MIB)} | ${ratio(peak, 16 * MIB)} | ≤ 1 |`);
  console.log(lines.join('\n'));
}
