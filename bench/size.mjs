// Size row of `npm run bench`: gzipped bytes a worker loads for each library, every JS entry bundled and
// minified by esbuild the same way, gzip level 9.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

async function bundledGzip(contents) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    bundle: true, minify: true, format: 'esm', write: false, platform: 'browser',
    define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'silent',
    external: ['node:*', 'fs', 'path', 'crypto'],
  });
  const js = result.outputFiles[0].contents;
  return { js: js.length, gz: gzipSync(js, { level: 9 }).length };
}

export async function sizes() {
  const sealpostJs = await bundledGzip("export * from './js/index.js';");
  const wasm = readFileSync(`${root}dist/sealpost.wasm`);
  const wasmGz = gzipSync(wasm, { level: 9 }).length;
  // libsodium-wrappers' JS plus the libsodium module it loads (its Wasm is inlined there as base64).
  const sodium = await bundledGzip("export { default } from 'libsodium-wrappers';");
  const workbox = await bundledGzip("export { Queue } from 'workbox-background-sync';");
  return {
    sealpost: sealpostJs.gz + wasmGz,
    libsodium_wrappers: sodium.gz,
    workbox_background_sync: workbox.gz,
    detail: { sealpost_js_gz: sealpostJs.gz, sealpost_wasm_gz: wasmGz, sealpost_wasm_raw: wasm.length },
  };
}
