// Browser rows of `npm run bench`, in Debian's Chromium driven by playwright-core on real IndexedDB:
// worker cold start (sealpost vs libsodium-wrappers); enqueue and drain of 1 KiB JSON requests (sealpost's
// Outbox vs Workbox's Queue vs raw IndexedDB puts / a plain fetch loop); peak Wasm memory for a 64 MiB body.
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

import { securityHeaders } from '../sw-demo/static.js';
import { launch } from '../tests/browser/browser.js';
import { median } from './lib/measure.mjs';
import { listenLoopback, serveAsset, stopAllWorkers } from './lib/browser-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const buildDir = `${root}build/bench/`;

async function bundle(contents, file) {
  mkdirSync(buildDir, { recursive: true });
  await build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', outfile: `${buildDir}${file}`,
    define: { 'process.env.NODE_ENV': '"production"' },
    external: ['node:*', 'fs', 'path', 'crypto'], logLevel: 'silent',
  });
}

/** Static files (with the demo's CSP) and a sink that counts what each implementation delivered. */
async function benchServer() {
  const mounts = [
    ['/bench/', fileURLToPath(new URL('./fixtures/', import.meta.url))],
    ['/bench-build/', buildDir],
    ['/sealpost/js/', `${root}js/`],
    ['/sealpost/dist/', `${root}dist/`],
  ];
  const received = new Map();
  const server = createServer(async (req, res) => {
    const { pathname, searchParams } = new URL(req.url, 'http://localhost');
    if (req.method === 'POST' && pathname === '/sink') {
      let bytes = 0;
      for await (const chunk of req) bytes += chunk.length;
      const impl = searchParams.get('impl');
      const entry = received.get(impl) ?? { requests: 0, bytes: 0, keys: new Set() };
      entry.requests += 1;
      entry.bytes += bytes;
      const key = req.headers['idempotency-key'];
      if (key) entry.keys.add(key);
      received.set(impl, entry);
      res.writeHead(201, { ...securityHeaders(), 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
      return;
    }
    // The module is served cacheable; libsodium-wrappers' Wasm sits inside its JS, which the browser keeps
    // in the worker's script cache whatever the headers say.
    await serveAsset(req, res, pathname, mounts);
  });
  return listenLoopback(server, { received });
}

export async function browserBench({ smoke = false, log = () => {} } = {}) {
  await bundle("export { default } from 'libsodium-wrappers';", 'libsodium-wrappers.mjs');
  await bundle("export { Queue } from 'workbox-background-sync';", 'workbox-queue.mjs');
  const server = await benchServer();
  const browser = await launch();
  try {
    const { context } = browser;
    await context.grantPermissions(['notifications', 'background-sync'], { origin: server.url });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    const versions = new Map();
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: list }) => {
      for (const v of list) versions.set(v.versionId, v.runningStatus);
    });
    await cdp.send('ServiceWorker.enable');
    await page.goto(`${server.url}/bench/page.html`);
    await page.waitForFunction(() => window.benchReady === true);
    await page.evaluate(() => window.bench.register());

    log('cold start');
    const wakes = smoke ? 2 : 21;
    const times = { sealpost: [], libsodium_wrappers: [], floor: [] };
    for (let i = 0; i < wakes; i += 1) {
      for (const name of Object.keys(times)) {
        await stopAllWorkers(cdp, versions);
        times[name].push(await page.evaluate((n) => window.bench.wake(n), name));
      }
    }
    const result = {
      cold_start_ms: { sealpost: median(times.sealpost), libsodium_wrappers: median(times.libsodium_wrappers) },
      // Not part of the JSON shape: an empty worker's wake-up, the floor both of the above stand on.
      cold_start_floor_ms: median(times.floor),
    };

    log(`cold start medians: ${JSON.stringify(result.cold_start_ms)}, empty worker ${result.cold_start_floor_ms.toFixed(1)} ms`);
    log('enqueue and drain');
    const count = smoke ? 20 : 1000;
    const runs = smoke ? 1 : 3;
    const rates = { enqueue: { sealpost: [], workbox: [], raw_idb: [], raw_idb_strict: [] }, drain: { sealpost: [], workbox: [], fetch_loop: [] } };
    const ask = (message) => page.evaluate((m) => window.bench.queue(m), message);
    for (let run = 0; run < runs; run += 1) {
      for (const impl of Object.keys(rates.enqueue)) {
        const { ms } = await ask({ type: 'enqueue', impl, count, bytes: 1024, url: `${server.url}/sink?impl=${impl}` });
        rates.enqueue[impl].push(count / (ms / 1000));
      }
      for (const impl of Object.keys(rates.drain)) {
        const before = server.received.get(impl)?.requests ?? 0;
        const { ms, sent } = await ask({ type: 'drain', impl, count, bytes: 1024, deadlineMs: 300000, url: `${server.url}/sink?impl=${impl}` });
        const delivered = (server.received.get(impl)?.requests ?? 0) - before;
        if (sent !== count || delivered !== count) {
          throw new Error(`${impl} drain: reported ${sent}, sink received ${delivered}, expected ${count}`);
        }
        rates.drain[impl].push(count / (ms / 1000));
      }
    }
    const sealpostKeys = server.received.get('sealpost').keys.size;
    if (sealpostKeys !== count * runs) throw new Error(`sealpost sent ${sealpostKeys} distinct idempotency keys, expected ${count * runs}`);
    result.enqueue_1kib_ops_s = Object.fromEntries(Object.entries(rates.enqueue).map(([k, v]) => [k, median(v)]));
    result.drain_ops_s = Object.fromEntries(Object.entries(rates.drain).map(([k, v]) => [k, median(v)]));

    log('memory');
    const bytes = smoke ? 1 << 20 : 64 << 20;
    const memory = await ask({ type: 'memory', bytes, url: `${server.url}/sink?impl=memory` });
    const big = server.received.get('memory');
    if (memory.sent !== 1 || big?.bytes !== bytes) throw new Error(`64 MiB body: sent ${memory.sent}, sink got ${big?.bytes} bytes`);
    result.wasm_memory_peak_bytes = { enqueue_64mib_body: memory.peak };
    return result;
  } finally {
    await browser.close();
    await server.close();
  }
}
