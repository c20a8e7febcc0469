// The boundary: the module exports exactly the checked-in list, js/wasm.js calls nothing else,
// the status tables of C++ and JS agree, and no shipped JS evaluates strings.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';

import { createCore, loadModule } from '../../js/wasm.js';
import { STATUS_NAMES } from '../../js/errors.js';
import { root } from './helpers.js';

const listed = readdirSync(new URL('src/wasm/', root))
  .filter((f) => /^exports.*\.txt$/.test(f))
  .flatMap((f) => readFileSync(new URL(`src/wasm/${f}`, root), 'utf8').split('\n'))
  .map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
// What Emscripten adds to every standalone module besides the listed functions.
const RUNTIME = ['memory', '_initialize', '__indirect_function_table', '__errno_location',
  'stackSave', 'stackRestore', 'stackAlloc'];

test('sealpost.wasm exports exactly src/wasm/exports.txt (plus the runtime)', async () => {
  const module = await loadModule();
  const names = WebAssembly.Module.exports(module).map((e) => e.name);
  for (const name of listed) assert.ok(names.includes(name), `${name} is listed but not exported`);
  for (const name of names) {
    assert.ok(listed.includes(name) || RUNTIME.includes(name), `${name} is exported but not listed`);
  }
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`).sort();
  assert.deepEqual(imports, ['env.emscripten_notify_memory_growth', 'env.sealpost_random_fill',
    'wasi_snapshot_preview1.proc_exit']);
});

test('js/ calls only listed exports', () => {
  // Callers reach exports as `x.sp_name` inside WasmCore#call((frame, x) => ...).
  const called = new Map();
  for (const file of readdirSync(new URL('js/', root)).filter((f) => f.endsWith('.js'))) {
    const source = readFileSync(new URL(`js/${file}`, root), 'utf8');
    for (const m of source.matchAll(/\bx\.(sp_[a-z0-9_]+)/g)) called.set(m[1], file);
  }
  assert.ok(called.size >= 10);
  for (const [name, file] of called) assert.ok(listed.includes(name), `js/${file} calls ${name}, not in exports.txt`);
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
