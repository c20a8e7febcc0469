// The service-worker and page entry points as a user gets them: the exports map (with types), the
// tarball's file list, and the classic service-worker build evaluated as a classic script would be.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('package.json', `file://${root}`), 'utf8'));

test('sealpost/sw, sealpost/page and sealpost/workbox resolve through the exports map, with types', async () => {
  for (const [entry, name] of [['./sw', 'installSealpost'], ['./sw', 'createSealpost'], ['./page', 'connectSealpost'], ['./workbox', 'SealpostPlugin']]) {
    const target = pkg.exports[entry];
    assert.ok(target, `exports has ${entry}`);
    assert.ok(existsSync(`${root}${target.types}`), `${target.types} exists`);
    assert.ok(existsSync(`${root}${target.default}`), `${target.default} exists`);
    assert.match(readFileSync(`${root}${target.types}`, 'utf8'), new RegExp(`\\b${name}\\b`));
  }
  // Self-reference: the package imports itself by name, through its own exports map.
  const sw = await import('sealpost/sw');
  const page = await import('sealpost/page');
  const workbox = await import('sealpost/workbox');
  assert.equal(typeof workbox.SealpostPlugin, 'function');
  assert.equal(typeof sw.installSealpost, 'function');
  assert.equal(typeof page.connectSealpost, 'function');
  assert.ok(existsSync(`${root}${pkg.exports['./sw-classic']}`), 'the classic service-worker build exists');
});

test('the tarball ships the worker and page entries and the classic service-worker build', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = JSON.parse(out)[0].files.map((f) => f.path);
  for (const file of ['js/sw.js', 'js/sw.d.ts', 'js/page.js', 'js/page.d.ts', 'dist/sealpost-sw.classic.js']) {
    assert.ok(files.includes(file), `${file} is in the tarball`);
  }
});

test('the classic service-worker build defines self.sealpost.installSealpost and wires a worker', () => {
  const source = readFileSync(`${root}dist/sealpost-sw.classic.js`, 'utf8');
  assert.doesNotMatch(source, /\beval\s*\(/);
  assert.doesNotMatch(source, /new\s+Function\b/);
  assert.doesNotMatch(source, /^\s*(import|export)\s/m, 'no module syntax in a classic script');
  const added = [];
  const self = {
    location: new URL('https://app.example/sw.js'),
    addEventListener: (type) => added.push(type),
    fetch: async () => new Response(''),
  };
  const context = vm.createContext({
    self, URL, Request, Response, Headers, TextEncoder, TextDecoder, crypto, EventTarget, CustomEvent, console,
  });
  context.globalThis = context;
  vm.runInContext(source, context, { filename: 'sealpost-sw.classic.js' });
  const api = context.sealpost;
  assert.equal(typeof api.installSealpost, 'function');
  assert.equal(typeof api.createSealpost, 'function');
  assert.equal(typeof api.ready, 'function');
  assert.equal(typeof api.SealpostError, 'function');
  api.installSealpost(self, { wasmUrl: '/sealpost.wasm', outboxes: [{ name: 'notes' }], push: { allowUnsigned: true } });
  assert.deepEqual(added.sort(),
    ['activate', 'fetch', 'install', 'message', 'notificationclick', 'periodicsync', 'push', 'pushnotification',
      'pushsubscriptionchange', 'sync']);
});
