// `online_post_ms` and `cold_post_ms` of `npm run bench`, in Debian's Chromium (playwright-core, real
// IndexedDB): a 1 KiB JSON POST from a page to the loopback server, online, through a routing worker, timed
// in the page with performance.now() around fetch() and reading the answer's body. The server reads the
// body and answers 201 with a small JSON body.
//   online_post_ms  the worker is running (warm-up posts of every variant went first)
//   cold_post_ms    the worker was stopped (CDP ServiceWorker.stopAllWorkers): the first routed POST starts it
// Variants, each a worker of its own scope on one origin (/post/<variant>/), bundled as deployed:
//   sealpost        installSealpost with one outbox route (POST /post/sealpost/api/notes): sealed into
//                   IndexedDB, sent, removed on the answer
//   workbox_plugin  Workbox's NetworkOnly with its BackgroundSyncPlugin on the same kind of route (queues
//                   only when the network fails)
//   passthrough     `event.respondWith(fetch(event.request))` for every request
// The pages are same-origin iframes of one uncontrolled host page, one per variant (a fetch goes through
// the worker controlling the page that makes it), so no variant runs in a background tab. Variants are
// interleaved sample by sample, round-robin, the order reversed every other round. Checked in every mode:
// every POST answered 201 and reached the server with its 1 KiB body; sealpost's requests carried
// distinct idempotency keys and nothing stays in its outbox (sealpost:stats); Workbox queued nothing.
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

import { securityHeaders, serveStatic } from '../sw-demo/static.js';
import { launch } from '../tests/browser/browser.js';
import { median } from './lib/measure.mjs';
import { listenLoopback, serveAsset, stopAllWorkers } from './lib/browser-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const buildDir = `${root}build/bench/post/`;
export const POST_VARIANTS = ['sealpost', 'workbox_plugin', 'passthrough'];
const BODY_BYTES = 1024;

const api = (variant) => `/post/${variant}/api/notes`;

export const POST_WORKERS = {
  sealpost: `import { installSealpost } from './js/sw.js';
installSealpost(self, {
  wasmUrl: '/sealpost/dist/sealpost.wasm',
  skipWaiting: true,
  clientsClaim: true,
  outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '${api('sealpost')}' } }],
});`,
  workbox_plugin: `import { registerRoute } from 'workbox-routing';
import { NetworkOnly } from 'workbox-strategies';
import { BackgroundSyncPlugin } from 'workbox-background-sync';
registerRoute(({ url }) => url.pathname === '${api('workbox_plugin')}',
  new NetworkOnly({ plugins: [new BackgroundSyncPlugin('notes', { maxRetentionTime: 60 })] }), 'POST');
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));`,
  passthrough: `self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => event.respondWith(fetch(event.request)));`,
};

/** Bundles each worker as one classic script (Workbox in its production build) into `dir`. */
export async function bundlePostWorkers(workers = POST_WORKERS, dir = buildDir, resolveDir = root) {
  mkdirSync(dir, { recursive: true });
  for (const [name, contents] of Object.entries(workers)) {
    await build({
      stdin: { contents, resolveDir, loader: 'js' },
      bundle: true, minify: true, format: 'iife', target: 'es2020', platform: 'browser',
      define: { 'process.env.NODE_ENV': '"production"' },
      outfile: `${dir}${name}-sw.js`, logLevel: 'silent',
    });
  }
}

const HOST = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>online POST</title></head><body>online POST</body></html>`;
const frame = (variant) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>online POST ${variant}</title></head><body>${variant}</body></html>`;

/** The loopback server: pages, workers, the Wasm module, and the notes API of each variant. */
export async function postServer(dir = buildDir) {
  const mounts = [['/sealpost/dist/', `${root}dist/`]];
  const received = new Map(POST_VARIANTS.map((v) => [v, { requests: 0, badBodies: 0, keys: new Set() }]));
  const pattern = new RegExp(`^/post/(${POST_VARIANTS.join('|')})/(frame\\.html|sw\\.js|api/notes)$`);
  const server = createServer(async (req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    const noStore = { ...securityHeaders(), 'Cache-Control': 'no-store' };
    if (pathname === '/post/host.html') {
      res.writeHead(200, { ...noStore, 'Content-Type': 'text/html; charset=utf-8' });
      res.end(HOST);
      return undefined;
    }
    const match = pattern.exec(pathname);
    if (match) {
      const [, variant, file] = match;
      if (file === 'api/notes') {
        if (req.method !== 'POST') {
          res.writeHead(405, noStore);
          res.end();
          return undefined;
        }
        let bytes = 0;
        for await (const chunk of req) bytes += chunk.length;
        const entry = received.get(variant);
        entry.requests += 1;
        if (bytes !== BODY_BYTES) entry.badBodies += 1;
        const key = req.headers['idempotency-key'];
        if (key) entry.keys.add(key);
        res.writeHead(201, { ...noStore, 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
      } else if (file === 'frame.html') {
        // The demo's policy, framed by its own origin only.
        const csp = noStore['Content-Security-Policy'].replace("frame-ancestors 'none'", "frame-ancestors 'self'");
        res.writeHead(200, { ...noStore, 'Content-Security-Policy': csp, 'Content-Type': 'text/html; charset=utf-8' });
        res.end(frame(variant));
      } else {
        return serveStatic(req, res, `/build/${variant}-sw.js`, [['/build/', dir]]);
      }
      return undefined;
    }
    await serveAsset(req, res, pathname, mounts);
    return undefined;
  });
  return listenLoopback(server, { received });
}

/**
 * Opens the host page, registers every variant's worker and loads one controlled iframe per variant.
 * @returns {Promise<{tab: any, cdp: any, versions: Map<string, string>, frames: Record<string, any>}>}
 */
export async function openPostFrames(context, url) {
  const tab = await context.newPage();
  const cdp = await context.newCDPSession(tab);
  const versions = new Map();
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: list }) => {
    for (const v of list) versions.set(v.versionId, v.runningStatus);
  });
  await cdp.send('ServiceWorker.enable');
  await tab.goto(`${url}/post/host.html`);
  await tab.evaluate(async (variants) => {
    for (const v of variants) {
      const registration = await navigator.serviceWorker.register(`/post/${v}/sw.js`, { scope: `/post/${v}/` });
      for (let i = 0; i < 400 && !registration.active; i += 1) await new Promise((r) => setTimeout(r, 25));
      if (!registration.active) throw new Error(`${v} worker did not activate`);
    }
    await Promise.all(variants.map((v) => new Promise((resolve, reject) => {
      const iframe = document.createElement('iframe');
      iframe.name = v;
      iframe.onload = resolve;
      iframe.onerror = reject;
      iframe.src = `/post/${v}/frame.html`;
      document.body.append(iframe);
    })));
  }, POST_VARIANTS);
  const frames = {};
  for (const v of POST_VARIANTS) {
    frames[v] = tab.frame({ name: v });
    const controlled = await frames[v].evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? null);
    if (!controlled?.endsWith(`/post/${v}/sw.js`)) throw new Error(`${v} frame is controlled by ${controlled}`);
  }
  return { tab, cdp, versions, frames };
}

/** One 1 KiB POST from `frame`, timed in the page: {ms, status, text}. */
export function postOnce(frame, variant) {
  return frame.evaluate(async ({ path, bytes }) => {
    const body = JSON.stringify({ text: 'x'.repeat(bytes - 11) });
    const start = performance.now();
    const answer = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    const text = await answer.text();
    return { ms: performance.now() - start, status: answer.status, text };
  }, { path: api(variant), bytes: BODY_BYTES });
}

/** Every variant's leftovers: sealpost's outbox counts (sealpost:stats), Workbox's queued requests. */
async function leftovers(tab) {
  return tab.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration('/post/sealpost/');
    const stats = await new Promise((resolve, reject) => {
      const channel = new MessageChannel();
      const timer = setTimeout(() => reject(new Error('sealpost:stats got no answer')), 30000);
      channel.port1.onmessage = (event) => { clearTimeout(timer); resolve(event.data); };
      registration.active.postMessage({ type: 'sealpost:stats' }, [channel.port2]);
    });
    let workbox = 0;
    if ((await indexedDB.databases()).some((d) => d.name === 'workbox-background-sync')) {
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open('workbox-background-sync');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      if (db.objectStoreNames.contains('requests')) {
        workbox = await new Promise((resolve, reject) => {
          const req = db.transaction('requests').objectStore('requests').count();
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
      }
      db.close();
    }
    return { stats, workbox };
  });
}

/**
 * @param {{smoke?: boolean, samples?: number, coldSamples?: number, warmup?: number,
 *   log?: (line: string) => void}} [options]
 * @returns {Promise<{online_post_ms: Record<string, number>, cold_post_ms: Record<string, number>}>}
 */
export async function onlinePostBench({ smoke = false, samples = smoke ? 3 : 200, coldSamples = smoke ? 3 : 31,
  warmup = smoke ? 2 : 10, log = () => {} } = {}) {
  await bundlePostWorkers();
  const server = await postServer();
  const browser = await launch();
  let posts = 0;
  const check = (variant, answer) => {
    posts += 1;
    if (answer.status !== 201 || answer.text !== '{"ok":true}') {
      throw new Error(`${variant}: a POST answered ${answer.status} ${answer.text.slice(0, 200)}`);
    }
    return answer.ms;
  };
  const sent = Object.fromEntries(POST_VARIANTS.map((v) => [v, 0]));
  try {
    const { tab, cdp, versions, frames } = await openPostFrames(browser.context, server.url);
    const post = async (variant) => {
      sent[variant] += 1;
      return check(variant, await postOnce(frames[variant], variant));
    };

    // Warm: every worker running, its first-fetch work (sealpost: module, database, keys) done.
    for (let i = 0; i < warmup; i += 1) for (const v of POST_VARIANTS) await post(v);
    const online = Object.fromEntries(POST_VARIANTS.map((v) => [v, []]));
    for (let i = 0; i < samples; i += 1) {
      for (const v of i % 2 === 0 ? POST_VARIANTS : [...POST_VARIANTS].reverse()) online[v].push(await post(v));
    }

    const cold = Object.fromEntries(POST_VARIANTS.map((v) => [v, []]));
    for (let i = 0; i < coldSamples; i += 1) {
      for (const v of i % 2 === 0 ? POST_VARIANTS : [...POST_VARIANTS].reverse()) {
        // A moment of idle first, as between two user actions: a worker's work after its answer (sealpost
        // removes the answered entry under waitUntil) ends before it is stopped.
        await new Promise((resolve) => setTimeout(resolve, 100));
        await stopAllWorkers(cdp, versions);
        cold[v].push(await post(v));
      }
    }

    for (const v of POST_VARIANTS) {
      const got = server.received.get(v);
      if (got.requests !== sent[v] || got.badBodies) {
        throw new Error(`${v}: ${sent[v]} POSTs sent, the server received ${got.requests} (${got.badBodies} not of ${BODY_BYTES} bytes)`);
      }
    }
    const keys = server.received.get('sealpost').keys.size;
    if (keys !== sent.sealpost) throw new Error(`sealpost sent ${keys} distinct idempotency keys for ${sent.sealpost} POSTs`);
    const left = await leftovers(tab);
    const notes = left.stats?.queues?.notes;
    if (!notes || notes.pending + notes.inflight + notes.dead !== 0) {
      throw new Error(`sealpost left entries in its outbox: ${JSON.stringify(left.stats)}`);
    }
    if (left.workbox !== 0) throw new Error(`workbox queued ${left.workbox} requests`);

    const result = {
      online_post_ms: Object.fromEntries(POST_VARIANTS.map((v) => [v, median(online[v])])),
      cold_post_ms: Object.fromEntries(POST_VARIANTS.map((v) => [v, median(cold[v])])),
    };
    log(`online POST medians (${samples} each, ${posts} POSTs in all answered 201): ${JSON.stringify(result.online_post_ms)}`);
    log(`cold first POST medians (${coldSamples} each): ${JSON.stringify(result.cold_post_ms)}`);
    return result;
  } finally {
    await browser.close();
    await server.close();
  }
}
