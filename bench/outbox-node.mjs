// Outbox throughput in Node: enqueue and flush entries/s against fake-indexeddb and a loopback HTTP server,
// beside the floors measured in the same run (raw IndexedDB puts, a plain fetch loop), and the Wasm memory
// of a 64 MiB body. Every replayed body is checked against what was queued before the figures are printed.
//
//   node bench/outbox-node.mjs [entries=1000] [bodyBytes=256] [runs=3]   (best and median of the runs)
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { createHash, randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { Outbox } from '../js/outbox/outbox.js';
import { createCore } from '../js/wasm/loader.js';
import { startServer } from '../tests/node/loopback-server.js';

const entries = Number(process.argv[2] ?? 1000);
const bodyBytes = Number(process.argv[3] ?? 256);
const RUNS = Number(process.argv[4] ?? 3);
const MiB = 2 ** 20;

function body(i, size) {
  const bytes = new Uint8Array(size);
  randomFillSync(bytes);
  new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
}

const rate = (count, ms) => Math.round((count / ms) * 1000);

async function rawPuts(count, size) {
  const factory = new IDBFactory();
  const db = await new Promise((resolve) => {
    const req = factory.open('floor', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('rows');
    req.onsuccess = () => resolve(req.result);
  });
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    await new Promise((resolve, reject) => {
      const tx = db.transaction('rows', 'readwrite', { durability: 'strict' });
      tx.objectStore('rows').put({ id: i, value: body(i, size) }, i);
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
  }
  const ms = performance.now() - start;
  db.close();
  return ms;
}

async function plainFetches(url, count, size) {
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    const response = await fetch(`${url}/floor/${i}`, { method: 'POST', body: body(i, size),
      headers: { 'idempotency-key': `floor-${i}` } });
    await response.body?.cancel();
  }
  return performance.now() - start;
}

async function outboxRun(server, ordering, run) {
  let t = Date.now();
  const outbox = await Outbox.open({ name: `bench-${ordering}-${run}`, ordering, indexedDB: new IDBFactory(),
    now: () => t, broadcast: false });
  const sent = new Map();
  const enqueueStart = performance.now();
  for (let i = 0; i < entries; i += 1) {
    const bytes = body(i, bodyBytes);
    const { id } = await outbox.enqueue({ url: `${server.url}/api/${ordering}`, method: 'POST', body: bytes,
      headers: { 'content-type': 'application/octet-stream' } }, { group: `g${i % 4}` });
    sent.set(id, createHash('sha256').update(bytes).digest('hex'));
  }
  const enqueueMs = performance.now() - enqueueStart;
  const flushStart = performance.now();
  const result = await outbox.flush();
  const flushMs = performance.now() - flushStart;
  t += 1;
  if (result.sent !== entries) throw new Error(`flush sent ${result.sent} of ${entries}`);
  for (const [id, sha] of sent) {
    if (server.accepted.get(id)?.sha256 !== sha) throw new Error(`entry ${id} was not replayed byte-exact`);
  }
  outbox.close();
  return { enqueueMs, flushMs };
}

/** [best, median] of the runs' times. */
function spread(times) {
  const sorted = [...times].sort((a, b) => a - b);
  return [sorted[0], sorted[Math.floor(sorted.length / 2)]];
}

async function main() {
  const server = await startServer();
  const rows = [];
  const add = (name, times) => {
    const [best, median] = spread(times);
    rows.push([name, entries, best, median]);
  };
  try {
    for (const ordering of ['fifo', 'independent']) {
      const runs = [];
      for (let run = 0; run < RUNS; run += 1) runs.push(await outboxRun(server, ordering, run));
      add(`Outbox.enqueue (${ordering})`, runs.map((r) => r.enqueueMs));
      add(`Outbox.flush (${ordering})`, runs.map((r) => r.flushMs));
    }
    const puts = [];
    const fetches = [];
    for (let run = 0; run < RUNS; run += 1) {
      puts.push(await rawPuts(entries, bodyBytes));
      fetches.push(await plainFetches(server.url, entries, bodyBytes));
    }
    add('floor: raw IndexedDB put (strict)', puts);
    add('floor: plain fetch loop', fetches);

    // 64 MiB body: time and the Wasm memory it needed.
    const core = await createCore();
    let t = Date.now();
    const large = await Outbox.open({ name: 'bench-large', indexedDB: new IDBFactory(), now: () => t, core,
      maxBytes: 128 * MiB, broadcast: false });
    const big = new Uint8Array(64 * MiB);
    for (let offset = 0; offset < big.length; offset += 65536) randomFillSync(big, offset, 65536);
    const sha = createHash('sha256').update(big).digest('hex');
    const memoryBefore = core.memory.buffer.byteLength;
    const bigStart = performance.now();
    const { id } = await large.enqueue({ url: `${server.url}/upload`, method: 'PUT', body: big });
    const bigEnqueueMs = performance.now() - bigStart;
    const bigFlushStart = performance.now();
    await large.flush();
    const bigFlushMs = performance.now() - bigFlushStart;
    if (server.accepted.get(id)?.sha256 !== sha) throw new Error('the 64 MiB body was not replayed byte-exact');
    large.close();

    console.log(`sealpost outbox, Node ${process.version}, fake-indexeddb, loopback HTTP; ${entries} entries of ${bodyBytes} B`);
    console.log(`best and median of ${RUNS} runs`);
    console.log('| operation | entries | best ms | entries/s (best) | entries/s (median) |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const [name, count, best, median] of rows) {
      console.log(`| ${name} | ${count} | ${best.toFixed(0)} | ${rate(count, best)} | ${rate(count, median)} |`);
    }
    console.log('');
    console.log('| 64 MiB body | value |');
    console.log('| --- | ---: |');
    console.log(`| enqueue (seal in 64 KiB chunks + IndexedDB) | ${bigEnqueueMs.toFixed(0)} ms (${(64 / (bigEnqueueMs / 1000)).toFixed(0)} MiB/s) |`);
    console.log(`| flush (open chunks + upload) | ${bigFlushMs.toFixed(0)} ms (${(64 / (bigFlushMs / 1000)).toFixed(0)} MiB/s) |`);
    console.log(`| Wasm memory before / after | ${(memoryBefore / MiB).toFixed(2)} MiB / ${(core.memory.buffer.byteLength / MiB).toFixed(2)} MiB |`);
  } finally {
    await server.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
