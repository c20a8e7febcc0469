// The boundary: the module exports exactly the checked-in list, js/wasm.js calls nothing else,
// the status tables of C++ and JS agree, and no shipped JS evaluates strings.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';

import { createCore, loadModule, KeyKind } from '../../js/wasm.js';
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
    assert.deepEqual(imports, ['env.emscripten_notify_memory_growth', 'env.sealpost_random_fill',
      'wasi_snapshot_preview1.proc_exit']);
  });
}

test('js/ calls only listed exports; only sealpost/server calls server-only ones', () => {
  // Callers reach exports as `x.sp_name` inside WasmCore#call((frame, x) => ...).
  const called = [];
  for (const file of readdirSync(new URL('js/', root)).filter((f) => f.endsWith('.js'))) {
    const source = readFileSync(new URL(`js/${file}`, root), 'utf8');
    for (const m of source.matchAll(/\bx\.(sp_[a-z0-9_]+)/g)) called.push([m[1], file]);
  }
  assert.ok(called.length >= 10);
  const serverOnly = serverListed.filter((n) => !workerListed.includes(n));
  assert.ok(serverOnly.includes('sp_push_seal'));
  for (const [name, file] of called) {
    assert.ok(serverListed.includes(name), `js/${file} calls ${name}, which no list in src/wasm names`);
    if (serverOnly.includes(name)) {
      // WasmCore methods for server-only exports live in js/wasm.js and are called from js/server.js only.
      for (const other of readdirSync(new URL('js/', root)).filter((f) => f.endsWith('.js') && f !== 'server.js')) {
        const source = readFileSync(new URL(`js/${other}`, root), 'utf8');
        const method = methodCalling(name);
        if (method && other !== 'wasm.js') {
          assert.doesNotMatch(source, new RegExp(`\\.${method}\\(`), `js/${other} calls ${method} (${name})`);
        }
      }
    }
  }
});

/** The WasmCore method whose body calls export `name`, if any. */
function methodCalling(name) {
  const source = readFileSync(new URL('js/wasm.js', root), 'utf8');
  const at = source.indexOf(`x.${name}(`);
  if (at < 0) return null;
  const before = source.slice(0, at);
  const m = [...before.matchAll(/^ {2}([a-zA-Z]+)\(/gm)].pop();
  return m ? m[1] : null;
}

test('the worker module refuses Ed25519 signer keys with unsupported; its X25519 key pairs are right', async () => {
  const sodium = (await import('libsodium-wrappers')).default;
  await sodium.ready;
  const core = await createCore();
  assert.throws(() => core.generateKey(KeyKind.sign), (e) => e instanceof SealpostError && e.code === 'unsupported');
  assert.throws(() => core.importKey(KeyKind.sign, new Uint8Array(64)),
    (e) => e instanceof SealpostError && e.code === 'unsupported');
  for (let i = 0; i < 20; i += 1) {
    const handle = core.generateKey(KeyKind.box);
    const pair = core.exportKey(handle);
    assert.equal(hex(sodium.crypto_scalarmult_base(pair.subarray(0, 32))), hex(pair.subarray(32)));
    assert.equal(hex(core.publicKey(handle)), hex(pair.subarray(32)));
    core.releaseKey(core.importKey(KeyKind.box, pair));
    const wrong = pair.slice();
    wrong[40] ^= 1;
    assert.throws(() => core.importKey(KeyKind.box, wrong), (e) => e.code === 'invalid-argument');
    core.releaseKey(handle);
  }
});

test('status names agree between src/core/status.hpp and js/errors.js', async () => {
  const core = await createCore();
  for (let status = 0; status < 200; status += 1) {
    assert.equal(core.statusName(status), STATUS_NAMES[status] ?? null, `status ${status}`);
  }
});

test('no shipped JS contains eval( or new Function', () => {
  const files = readdirSync(new URL('js/', root)).filter((f) => f.endsWith('.js')).map((f) => `js/${f}`);
  if (existsSync(new URL('dist/sealpost.classic.js', root))) files.push('dist/sealpost.classic.js');
  assert.ok(files.length >= 4);
  for (const file of files) {
    const source = readFileSync(new URL(file, root), 'utf8');
    assert.doesNotMatch(source, /\beval\s*\(/, `${file} contains eval(`);
    assert.doesNotMatch(source, /new\s+Function\b/, `${file} contains new Function`);
  }
});
