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
    'push_open_ops_s', 'fanout_sends_s', 'enqueue_1kib_ops_s', 'drain_ops_s', 'cold_start_ms', 'wasm_memory_peak_bytes', 'cold_nav_ms',
    'online_post_ms', 'cold_post_ms']);
  // A stopped worker serving a navigation it does not route: sealpost against a pass-through worker.
  assert.deepEqual(Object.keys(result.cold_nav_ms), ['sealpost', 'passthrough']);
  for (const value of Object.values(result.cold_nav_ms)) assert.ok(value > 0, JSON.stringify(result.cold_nav_ms));
  // A 1 KiB POST through a routing worker, running and stopped: sealpost against Workbox's BackgroundSyncPlugin
  // and a pass-through worker (every POST answered 201, nothing left queued: checked by the bench itself).
  for (const key of ['online_post_ms', 'cold_post_ms']) {
    assert.deepEqual(Object.keys(result[key]), ['sealpost', 'workbox_plugin', 'passthrough']);
    for (const value of Object.values(result[key])) assert.ok(value > 0, `${key}: ${JSON.stringify(result[key])}`);
  }
  // One process fanning out to a loopback push endpoint: sealPush + sendSealedPush against web-push's sendNotification.
  assert.deepEqual(Object.keys(result.fanout_sends_s), ['sealpost', 'web_push']);
  for (const value of Object.values(result.fanout_sends_s)) assert.ok(value > 0, JSON.stringify(result.fanout_sends_s));
  assert.deepEqual(Object.keys(result.size_gz_bytes), ['sealpost', 'libsodium_wrappers', 'workbox_background_sync']);
  assert.deepEqual(Object.keys(result.push_open_ops_s), ['sealpost', 'libsodium_wrappers', 'libsodium_wrappers_replay', 'native']);
  for (const value of Object.values(result.push_open_ops_s)) assert.ok(value > 0, JSON.stringify(result.push_open_ops_s));
  for (const key of ['aead_1mib_mb_s', 'aead_256b_ops_s']) {
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

test('npm run bench -- --only KEY runs just that case; an unknown key is refused by name', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'sealpost-bench-')), 'bench.json');
  const run1 = (args) => new Promise((resolve) => {
    execFile(process.execPath, [run, ...args], { timeout: 120000 }, (error, stdout, stderr) => resolve({ error, stdout, stderr }));
  });
  const ok = await run1(['--smoke', '--only', 'fanout_sends_s', '--json', file]);
  assert.equal(ok.error, null, ok.stderr);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, 'utf8'))), ['env', 'fanout_sends_s']);
  assert.match(ok.stdout, /\| push fan-out, one process \(sends\/s\) \| [\d,.]+ \| web_push \| [\d,.]+ \| [\d.]+× \| ≥ 0.8 \|/);
  const bad = await run1(['--smoke', '--only', 'fanout']);
  assert.notEqual(bad.error, null);
  assert.match(bad.stderr, /--only: no bench key fanout \(the keys: size_gz_bytes, .*fanout_sends_s/);
});

test('npm run bench -- --smoke --only online_post_ms runs the POST case alone and prints its goal rows', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'sealpost-bench-')), 'bench.json');
  const ran = await new Promise((resolve) => {
    execFile(process.execPath, [run, '--smoke', '--only', 'online_post_ms', '--json', file], { timeout: 120000 },
      (error, stdout, stderr) => resolve({ error, stdout, stderr }));
  });
  assert.equal(ran.error, null, ran.stderr);
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, 'utf8'))), ['env', 'online_post_ms', 'cold_post_ms']);
  assert.match(ran.stdout, /\| 1 KiB POST, online, worker running \(ms\) \| [\d,.]+ \| workbox_plugin \| [\d,.]+ \| [\d.]+× \| ≤ 1.2 \|/);
  assert.match(ran.stdout, /\| 1 KiB POST, first of a stopped worker \(ms\) \| [\d,.]+ \| workbox_plugin \| [\d,.]+ \| [\d.]+× \| ≤ 1.3 \|/);
});
