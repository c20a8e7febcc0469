// The README's worker, bundled from the packed package as an app would: `npm pack`, the tarball installed
// into an empty app, its worker bundled by esbuild (file loader, `import wasmUrl from 'sealpost/sealpost.wasm'`),
// Vite, Rollup and webpack 5 (the default `new URL('../../dist/sealpost.wasm', import.meta.url)`, which they copy
// and rewrite), each served under the demo's strict CSP and run in Chromium: offline POST → 202, online →
// the sync event delivers it once. And a worker bundled without the module: it installs, activates and
// passes requests through, with one console error and `module-missing` / `queue-failed` events.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createDemoServer } from '../../sw-demo/server.js';
import { fixtures, startWorld, until, sleep } from './sw-setup.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

const OUTBOX = `outboxes: [{
    name: 'notes',
    match: { method: 'POST', pathname: '/api/notes' },
    retry: { baseDelayMs: 500, maxDelayMs: 5000, jitter: 'none' },
  }],
  skipWaiting: true,
  clientsClaim: true,`;

/** The README's module worker, with the module's URL left to the bundler (or given by esbuild's file loader). */
const SOURCES = {
  'sw.js': `import { installSealpost } from 'sealpost/sw';

installSealpost(self, {
  ${OUTBOX}
});
`,
  'sw-esbuild.js': `import { installSealpost } from 'sealpost/sw';
import wasmUrl from 'sealpost/sealpost.wasm';

installSealpost(self, {
  wasmUrl,
  ${OUTBOX}
});
`,
};

let app;
let world;
const seconds = {};

/** Runs `fn`, recording how long it took under `name`. */
async function timed(name, fn) {
  const start = Date.now();
  try {
    return await fn();
  } finally {
    seconds[name] = (Date.now() - start) / 1000;
  }
}

function page(dir, name) {
  writeFileSync(join(dir, 'index.html'), `<!doctype html>
<html lang="en" data-sw="/b/${name}/sw.js" data-type="module" data-scope="/b/${name}/">
<head><meta charset="utf-8"><title>${name}</title><script type="module" src="/t/harness.js"></script></head>
<body><p>${name}</p></body></html>
`);
}

const BUNDLERS = {
  async esbuild(out) {
    execFileSync(join(root, 'node_modules/.bin/esbuild'), ['src/sw-esbuild.js', '--bundle', '--format=esm',
      '--loader:.wasm=file', '--asset-names=[name]-[hash]', `--outfile=${join(out, 'sw.js')}`, '--log-level=warning'],
    { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  },
  // The README's worker as it is: no wasmUrl, no loader for the module. It installs all the same.
  async 'esbuild-no-wasm'(out) {
    execFileSync(join(root, 'node_modules/.bin/esbuild'), ['src/sw.js', '--bundle', '--format=esm',
      `--outfile=${join(out, 'sw.js')}`, '--log-level=error'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  },
  async vite(out) {
    const { build } = await import('vite');
    await build({
      root: app, configFile: false, logLevel: 'warn', base: './',
      build: {
        outDir: out, emptyOutDir: true, minify: true, assetsInlineLimit: 0,
        rolldownOptions: { input: join(app, 'src/sw.js'), output: { format: 'es', entryFileNames: 'sw.js' } },
      },
    });
  },
  // Rollup copies and rewrites new URL(…, import.meta.url) with @web/rollup-plugin-import-meta-assets.
  async rollup(out) {
    const { rollup } = await import('rollup');
    const { nodeResolve } = await import('@rollup/plugin-node-resolve');
    const { importMetaAssets } = await import('@web/rollup-plugin-import-meta-assets');
    const bundle = await rollup({ input: join(app, 'src/sw.js'), plugins: [nodeResolve(), importMetaAssets()], logLevel: 'warn' });
    try {
      await bundle.write({ dir: out, format: 'es', entryFileNames: 'sw.js', assetFileNames: '[name]-[hash][extname]' });
    } finally {
      await bundle.close();
    }
  },
  async webpack(out) {
    const { default: webpack } = await import('webpack');
    const stats = await new Promise((resolve, reject) => {
      webpack({
        mode: 'production', context: app, entry: './src/sw.js', target: 'webworker', devtool: false,
        output: { path: out, filename: 'sw.js', assetModuleFilename: '[name]-[contenthash][ext]' },
      }, (error, result) => (error ? reject(error) : resolve(result)));
    });
    if (stats.hasErrors()) throw new Error(stats.toString({ all: false, errors: true }));
  },
};

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-bundlers-'));
  app = join(dir, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  await timed('pack and install', () => {
    const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    npm(['pack', '--silent', '--pack-destination', dir], root);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, tarball)], app);
  });
  for (const [file, text] of Object.entries(SOURCES)) writeFileSync(join(app, 'src', file), text);
  const demo = await createDemoServer({
    port: 0, dataFile: join(dir, 'demo.json'), mounts: [['/t/', fixtures], ['/b/', join(app, 'dist')]],
  });
  world = await startWorld({ demo, dataDir: dir });
});

after(async () => {
  await world?.close();
  if (app) rmSync(join(app, '..'), { recursive: true, force: true });
  console.log(`bundlers: ${Object.entries(seconds).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
});

/** Bundles with `name`, opens a page its worker controls, and returns the page and the bundle's files. */
async function bundleAndOpen(name) {
  const out = join(app, 'dist', name);
  mkdirSync(out, { recursive: true });
  await timed(`${name} build`, () => BUNDLERS[name](out));
  page(out, name);
  const files = readdirSync(out, { recursive: true }).map(String);
  const tab = name === 'esbuild' ? world.page : await world.context.newPage();
  await tab.goto(`${world.demo.url}/b/${name}/index.html?flushOn=none`);
  const ready = await tab.evaluate(() => window.harnessReady);
  assert.equal(ready, true, String(ready));
  return { tab, files };
}

async function offlineThenDelivered(name) {
  const { tab, files } = await bundleAndOpen(name);
  assert.ok(files.some((f) => /(^|\/)sealpost[^/]*\.wasm$/.test(f)), `${name} put the module beside the worker: ${files.join(', ')}`);
  const text = `bundled by ${name}`;
  await timed(`${name} in Chromium`, async () => {
    await world.context.setOffline(true);
    const queued = await tab.evaluate((x) => window.postNote(x), text);
    assert.equal(queued.status, 202, JSON.stringify(queued));
    assert.equal(queued.body.queued, true);
    await world.context.setOffline(false);
    await until(async () => (await world.notes()).some((n) => n.text === text), `the note ${name}'s worker queued`, 20000);
    await sleep(300);
    assert.equal((await world.notes()).filter((n) => n.text === text).length, 1, 'delivered once');
  });
}

test('esbuild (--loader:.wasm=file, wasmUrl from sealpost/sealpost.wasm): offline 202, delivered once', () => offlineThenDelivered('esbuild'));

test('Vite (the default new URL(…, import.meta.url)): offline 202, delivered once', () => offlineThenDelivered('vite'));

test('Rollup (the default new URL(…, import.meta.url), with @web/rollup-plugin-import-meta-assets): offline 202, delivered once', () => offlineThenDelivered('rollup'));

test('webpack 5 (the default new URL(…, import.meta.url)): offline 202, delivered once', () => offlineThenDelivered('webpack'));

test('a worker bundled without the module installs, activates and passes requests through, and says so', async () => {
  const errors = [];
  const onConsole = (message) => {
    if (message.type() === 'error' && /sealpost\.wasm could not be fetched/.test(message.text())) errors.push(message.text());
  };
  world.context.on('console', onConsole);
  try {
    const { tab, files } = await bundleAndOpen('esbuild-no-wasm');
    assert.ok(!files.some((f) => f.endsWith('.wasm')), 'no module in the bundle');
    const state = await tab.evaluate(() => navigator.serviceWorker.controller?.state);
    assert.equal(state, 'activated');
    const answer = await tab.evaluate(() => window.postNote('unprotected but delivered'));
    assert.equal(answer.status, 201, JSON.stringify(answer));
    assert.equal(answer.queued, null);
    const events = await tab.evaluate(() => window.events);
    assert.ok(events.some((e) => e.type === 'module-missing' && /\/dist\/sealpost\.wasm$/.test(e.url)), JSON.stringify(events));
    assert.ok(await tab.evaluate(() => window.waitForEvent((e) => e.type === 'queue-failed' && e.code === 'wasm-load-failed', 5000)),
      'queue-failed with wasm-load-failed');
    assert.equal((await world.notes()).filter((n) => n.text === 'unprotected but delivered').length, 1);
    await until(() => errors.length > 0, 'the console error', 5000);
    assert.equal(new Set(errors).size, 1, `one error: ${errors.join(' | ')}`);
  } finally {
    world.context.off('console', onConsole);
  }
});
