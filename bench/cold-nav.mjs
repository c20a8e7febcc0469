// `cold_nav_ms` of `npm run bench`, in Debian's Chromium (playwright-core, real IndexedDB and Cache
// Storage): a stopped service worker (CDP ServiceWorker.stopAllWorkers) serving a navigation it does not
// route, nothing queued, to the page's DOMContentLoaded (navigation timing, from the navigation's start).
// The page has one parser-blocking script, fetched through the worker.
//   sealpost     installSealpost with one outbox route (POST /nav/sealpost/api/notes); the outbox database
//                and its keys exist (one routed POST went through before the runs), and the module is in
//                Cache Storage (precached at install)
//   passthrough  a worker whose fetch handler is `event.respondWith(fetch(event.request))` for everything
// Not an empty worker: Chromium skips a fetch handler it knows to be empty, and starts navigations on the
// network while the worker starts, so responseStart alone hides the worker's cost; DOMContentLoaded waits
// for the script, which goes through the started worker. Variants are interleaved sample by sample.
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

import { securityHeaders, serveStatic } from '../sw-demo/static.js';
import { launch } from '../tests/browser/browser.js';
import { median } from './lib/measure.mjs';
import { listenLoopback, serveAsset, stopAllWorkers } from './lib/browser-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const buildDir = `${root}build/bench/nav/`;
const VARIANTS = ['sealpost', 'passthrough'];

const WORKERS = {
  // Bundled as a deployed worker would be (one classic script).
  sealpost: `import { installSealpost } from './js/sw.js';
installSealpost(self, {
  wasmUrl: '/sealpost/dist/sealpost.wasm',
  skipWaiting: true,
  clientsClaim: true,
  outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/nav/sealpost/api/notes' } }],
});`,
  passthrough: `self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => event.respondWith(fetch(event.request)));`,
};

async function bundleWorkers() {
  mkdirSync(buildDir, { recursive: true });
  for (const [name, contents] of Object.entries(WORKERS)) {
    await build({
      stdin: { contents, resolveDir: root, loader: 'js' },
      bundle: true, minify: true, format: 'iife', target: 'es2020', platform: 'browser',
      outfile: `${buildDir}${name}-sw.js`, logLevel: 'silent',
    });
  }
}

const page = (variant) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cold navigation ${variant}</title>
<script src="/nav/${variant}/app.js"></script></head><body>cold navigation</body></html>`;
// Enough work to be a script, not so much that it hides the worker.
const APP = 'window.appReady = [1, 2, 3].map((n) => n * 2).length === 3;\n';

async function navServer() {
  const mounts = [['/sealpost/dist/', `${root}dist/`]];
  const server = createServer(async (req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    const nav = /^\/nav\/(sealpost|passthrough)\/(page\.html|app\.js|sw\.js|api\/notes)$/.exec(pathname);
    const noStore = { ...securityHeaders(), 'Cache-Control': 'no-store' };
    if (nav) {
      const [, variant, file] = nav;
      if (file === 'api/notes') {
        for await (const chunk of req) void chunk;
        res.writeHead(201, { ...noStore, 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
      } else if (file === 'page.html') {
        res.writeHead(200, { ...noStore, 'Content-Type': 'text/html; charset=utf-8' });
        res.end(page(variant));
      } else if (file === 'app.js') {
        res.writeHead(200, { ...noStore, 'Content-Type': 'text/javascript' });
        res.end(APP);
      } else {
        return serveStatic(req, res, `/build/${variant}-sw.js`, [['/build/', buildDir]]);
      }
      return undefined;
    }
    await serveAsset(req, res, pathname, mounts);
    return undefined;
  });
  return listenLoopback(server);
}

/**
 * @param {{smoke?: boolean, samples?: number, log?: (line: string) => void}} [options]
 * @returns {Promise<{cold_nav_ms: {sealpost: number, passthrough: number}}>}
 */
export async function coldNavBench({ smoke = false, samples = smoke ? 2 : 25, log = () => {} } = {}) {
  await bundleWorkers();
  const server = await navServer();
  const browser = await launch();
  try {
    const { context } = browser;
    const tab = await context.newPage();
    const cdp = await context.newCDPSession(tab);
    const versions = new Map();
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: list }) => {
      for (const v of list) versions.set(v.versionId, v.runningStatus);
    });
    await cdp.send('ServiceWorker.enable');
    for (const variant of VARIANTS) {
      await tab.goto(`${server.url}/nav/${variant}/page.html`);
      await tab.evaluate(async (v) => {
        const registration = await navigator.serviceWorker.register(`/nav/${v}/sw.js`, { scope: `/nav/${v}/` });
        for (let i = 0; i < 400 && !registration.active; i += 1) await new Promise((r) => setTimeout(r, 25));
        if (!registration.active) throw new Error(`${v} worker did not activate`);
        for (let i = 0; i < 400 && !navigator.serviceWorker.controller; i += 1) await new Promise((r) => setTimeout(r, 25));
        if (!navigator.serviceWorker.controller) throw new Error(`${v} worker does not control the page`);
      }, variant);
      if (variant === 'sealpost') {
        // One routed POST: the outbox database and its keys exist, and nothing stays queued.
        const status = await tab.evaluate(async () => (await fetch('/nav/sealpost/api/notes', {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"warm-up"}' })).status);
        if (status !== 201) throw new Error(`the routed warm-up POST answered ${status}`);
        const cached = await tab.evaluate(async () => (await caches.keys()).includes('sealpost-wasm'));
        if (!cached) throw new Error('sealpost.wasm was not precached at install');
      }
    }

    const times = Object.fromEntries(VARIANTS.map((v) => [v, []]));
    for (let i = 0; i < samples + 1; i += 1) { // the first round warms up and is not counted
      for (const variant of i % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
        await tab.goto('about:blank');
        await stopAllWorkers(cdp, versions);
        await tab.goto(`${server.url}/nav/${variant}/page.html`, { waitUntil: 'load' });
        const sample = await tab.evaluate(() => {
          const [nav] = performance.getEntriesByType('navigation');
          return { dcl: nav.domContentLoadedEventEnd, controlled: navigator.serviceWorker.controller !== null,
            app: window.appReady === true };
        });
        if (!sample.controlled || !sample.app) throw new Error(`${variant}: ${JSON.stringify(sample)}`);
        if (i > 0) times[variant].push(sample.dcl);
      }
    }
    const result = Object.fromEntries(VARIANTS.map((v) => [v, median(times[v])]));
    log(`cold navigation medians (${samples} each): ${JSON.stringify(result)}`);
    return { cold_nav_ms: result };
  } finally {
    await browser.close();
    await server.close();
  }
}
