// The boundary: the module exports exactly the checked-in lists, each js/wasm/ file calls only its area's,
// the status tables of C++ and JS agree, and no shipped JS evaluates strings.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';

import { createCore, loadModule, KeyKind } from '../../js/wasm/loader.js';
import { STATUS_NAMES, SealpostError } from '../../js/errors.js';
import { root, hex } from './helpers.js';

const listFiles = readdirSync(new URL('src/wasm/', root)).filter((f) => /^exports.*\.txt$/.test(f));
const namesIn = (files) => files
  .flatMap((f) => readFileSync(new URL(`src/wasm/${f}`, root), 'utf8').split('\n'))
  .map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
// exports*.txt: both modules; exports*.server.txt: dist/sealpost-server.wasm only.
const workerListed = namesIn(listFiles.filter((f) => !f.endsWith('.server.txt')));
const serverListed = namesIn(listFiles);
// What Emscripten adds to every standalone module besides the listed functions.
const RUNTIME = ['memory', '_initialize', '__indirect_function_table', '__errno_location',
  'stackSave', 'stackRestore', 'stackAlloc'];

for (const [file, listed] of [['sealpost.wasm', workerListed], ['sealpost-server.wasm', serverListed]]) {
  test(`${file} exports exactly its lists in src/wasm (plus the runtime)`, async () => {
    const module = await loadModule({ wasmUrl: new URL(`dist/${file}`, root) });
    const names = WebAssembly.Module.exports(module).map((e) => e.name);
    for (const name of listed) assert.ok(names.includes(name), `${name} is listed but not exported`);
    for (const name of names) {
      assert.ok(listed.includes(name) || RUNTIME.includes(name), `${name} is exported but not listed`);
    }
    const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`).sort();
    assert.deepEqual(imports, ['env.emscripten_notify_memory_growth', 'env.sealpost_parse_number',
      'env.sealpost_random_fill', 'wasi_snapshot_preview1.proc_exit']);
  });
}

// Each file of js/wasm/ pairs with one export area of src/wasm/ and calls only that area's exports.
const PAIRS = {
  'core.js': ['exports.txt'],
  'outbox.js': ['exports_outbox.txt'],
  'push.js': ['exports_push.txt', 'exports_push.server.txt'],
};

/** Every .js file under js/, as paths relative to js/. */
function jsFiles(dir = '') {
  return readdirSync(new URL(`js/${dir}`, root), { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return jsFiles(`${dir}${entry.name}/`);
    return entry.name.endsWith('.js') ? [`${dir}${entry.name}`] : [];
  });
}

test('each js/wasm/ file calls only the exports of its area, each named after its export', () => {
  // Callers reach exports as `x.sp_name` inside WasmCore#call((frame, x) => ...).
  const called = new Set();
  for (const file of jsFiles()) {
    const source = readFileSync(new URL(`js/${file}`, root), 'utf8');
    const names = [...source.matchAll(/\bx\.(sp_[a-z0-9_]+)/g)].map((m) => m[1]);
    if (!file.startsWith('wasm/')) {
      assert.deepEqual(names, [], `js/${file} calls exports itself`);
      continue;
    }
    const area = PAIRS[file.slice('wasm/'.length)];
    if (!area) {
      assert.deepEqual(names, [], `js/${file} is not an export area's file`);
      continue;
    }
    const allowed = namesIn(area);
    for (const name of names) {
      assert.ok(allowed.includes(name), `js/${file} calls ${name}, which is not in ${area.join(' or ')}`);
      called.add(name);
      // sp_stream_seal_push ↔ streamSealPush: the method that calls it is named after it.
      const method = methodCalling(file, name);
      const expected = name.slice(3).replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
      assert.equal(method, expected, `js/${file}: ${name} is called from ${method}`);
    }
  }
  for (const name of serverListed.filter((n) => !['malloc', 'free'].includes(n))) {
    assert.ok(called.has(name), `${name} is listed but no js/wasm/ file calls it`);
  }
});

test('only sealpost/server seals push messages', () => {
  const serverOnly = serverListed.filter((n) => !workerListed.includes(n));
  assert.deepEqual(serverOnly, ['sp_push_seal']);
  for (const file of jsFiles().filter((f) => f !== 'server.js' && !f.startsWith('wasm/'))) {
    const source = readFileSync(new URL(`js/${file}`, root), 'utf8');
    assert.doesNotMatch(source, /\.pushSeal\(/, `js/${file} calls pushSeal (sp_push_seal)`);
  }
});

/** The method (of a class or an exports object) whose body calls export `name` in a js/wasm/ file. */
function methodCalling(file, name) {
  const source = readFileSync(new URL(`js/${file}`, root), 'utf8');
  const at = source.indexOf(`x.${name}(`);
  if (at < 0) return null;
  const m = [...source.slice(0, at).matchAll(/^ {2}([a-zA-Z]+)\(/gm)].pop();
  return m ? m[1] : null;
}

test('the worker module refuses Ed25519 signer keys with unsupported; its X25519 key pairs are right', async () => {
  const sodium = (await import('libsodium-wrappers')).default;
  await sodium.ready;
  const core = await createCore();
  assert.throws(() => core.keyGenerate(KeyKind.sign), (e) => e instanceof SealpostError && e.code === 'unsupported');
  assert.throws(() => core.keyImport(KeyKind.sign, new Uint8Array(64)),
    (e) => e instanceof SealpostError && e.code === 'unsupported');
  for (let i = 0; i < 20; i += 1) {
    const handle = core.keyGenerate(KeyKind.box);
    const pair = core.keyExport(handle);
    assert.equal(hex(sodium.crypto_scalarmult_base(pair.subarray(0, 32))), hex(pair.subarray(32)));
    assert.equal(hex(core.keyPublic(handle)), hex(pair.subarray(32)));
    core.keyRelease(core.keyImport(KeyKind.box, pair));
    const wrong = pair.slice();
    wrong[40] ^= 1;
    assert.throws(() => core.keyImport(KeyKind.box, wrong), (e) => e.code === 'invalid-argument');
    core.keyRelease(handle);
  }
});

test('status names agree between src/core/status.hpp and js/errors.js', async () => {
  const core = await createCore();
  for (let status = 0; status < 200; status += 1) {
    assert.equal(core.statusName(status), STATUS_NAMES[status] ?? null, `status ${status}`);
  }
});

test('no shipped JS contains eval( or new Function', () => {
  const files = jsFiles().map((f) => `js/${f}`);
  if (existsSync(new URL('dist/sealpost.classic.js', root))) files.push('dist/sealpost.classic.js');
  assert.ok(files.length >= 4);
  for (const file of files) {
    const source = readFileSync(new URL(file, root), 'utf8');
    assert.doesNotMatch(source, /\beval\s*\(/, `${file} contains eval(`);
    assert.doesNotMatch(source, /new\s+Function\b/, `${file} contains new Function`);
  }
});
