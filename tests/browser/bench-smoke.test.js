// A smoke run of every benchmark case (tiny sizes, each implementation's correctness self-check), so
// `npm run bench` cannot rot unnoticed. Its figures are not looked at: timings belong to the bench.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const run = fileURLToPath(new URL('../../bench/run.mjs', import.meta.url));

test('npm run bench -- --smoke runs every case and writes the JSON shape of the benchmark issue', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'sealpost-bench-')), 'bench.json');
  await new Promise((resolve, reject) => {
    execFile(process.execPath, [run, '--smoke', '--json', file], { timeout: 240000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`)); else resolve(stdout);
    });
  });
  const result = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(Object.keys(result), ['env', 'size_gz_bytes', 'aead_1mib_mb_s', 'aead_256b_ops_s',
    'push_open_ops_s', 'enqueue_1kib_ops_s', 'drain_ops_s', 'cold_start_ms', 'wasm_memory_peak_bytes']);
  assert.deepEqual(Object.keys(result.size_gz_bytes), ['sealpost', 'libsodium_wrappers', 'workbox_background_sync']);
  for (const key of ['aead_1mib_mb_s', 'aead_256b_ops_s', 'push_open_ops_s']) {
    assert.deepEqual(Object.keys(result[key]), ['sealpost', 'libsodium_wrappers', 'native']);
    for (const value of Object.values(result[key])) assert.ok(value > 0, `${key}: ${JSON.stringify(result[key])}`);
  }
  for (const value of Object.values(result.size_gz_bytes)) assert.ok(Number.isInteger(value) && value > 1000);
  for (const value of Object.values(result.cold_start_ms)) assert.ok(value > 0);
  assert.deepEqual(Object.keys(result.enqueue_1kib_ops_s), ['sealpost', 'workbox', 'raw_idb', 'raw_idb_strict']);
  assert.deepEqual(Object.keys(result.drain_ops_s), ['sealpost', 'workbox', 'fetch_loop']);
  for (const key of ['enqueue_1kib_ops_s', 'drain_ops_s']) {
    for (const value of Object.values(result[key])) assert.ok(value > 0, `${key}: ${JSON.stringify(result[key])}`);
  }
  // The smoke run enqueues and flushes a 1 MiB body; Wasm memory stays within the 16 MiB bound.
  assert.ok(result.wasm_memory_peak_bytes.enqueue_64mib_body > 0);
  assert.ok(result.wasm_memory_peak_bytes.enqueue_64mib_body <= 16 * 1024 * 1024);
});
