// Browser rows of `npm run bench`, in Debian's Chromium driven by playwright-core: worker cold start
// (sealpost vs libsodium-wrappers), and (with the outbox) enqueue, drain and Wasm memory.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

import { createDemoServer } from '../sw-demo/server.js';
import { launch } from '../tests/browser/browser.js';
import { median } from './lib/measure.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const buildDir = `${root}build/bench/`;

async function bundleSodium() {
  mkdirSync(buildDir, { recursive: true });
  await build({
    stdin: { contents: "export { default } from 'libsodium-wrappers';", resolveDir: root, loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', outfile: `${buildDir}libsodium-wrappers.mjs`,
    external: ['node:*', 'fs', 'path', 'crypto'], logLevel: 'silent',
  });
}

async function stopAllWorkers(cdp, versions) {
  await cdp.send('ServiceWorker.stopAllWorkers');
  for (let i = 0; i < 400; i += 1) {
    if ([...versions.values()].every((status) => status === 'stopped')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('workers did not stop');
}

export async function browserBench({ smoke = false } = {}) {
  await bundleSodium();
  const server = await createDemoServer({
    port: 0,
    mounts: [['/bench/', fileURLToPath(new URL('./fixtures/', import.meta.url))], ['/bench-build/', buildDir]],
  });
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    const cdp = await browser.context.newCDPSession(page);
    const versions = new Map();
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: list }) => {
      for (const v of list) versions.set(v.versionId, v.runningStatus);
    });
    await cdp.send('ServiceWorker.enable');
    await page.goto(`${server.url}/bench/page.html`);
    await page.waitForFunction(() => window.benchReady === true);
    await page.evaluate(() => window.bench.register());

    const wakes = smoke ? 2 : 21;
    const times = { sealpost: [], libsodium_wrappers: [] };
    for (let i = 0; i < wakes; i += 1) {
      for (const name of Object.keys(times)) {
        await stopAllWorkers(cdp, versions);
        times[name].push(await page.evaluate((n) => window.bench.wake(n), name));
      }
    }
    return {
      cold_start_ms: { sealpost: median(times.sealpost), libsodium_wrappers: median(times.libsodium_wrappers) },
      enqueue_1kib_ops_s: { sealpost: null, workbox: null, raw_idb: null },
      drain_ops_s: { sealpost: null, workbox: null, fetch_loop: null },
      wasm_memory_peak_bytes: { enqueue_64mib_body: null },
    };
  } finally {
    await browser.close();
    await server.close();
  }
}
