/**
 * Finds, compiles and instantiates sealpost.wasm. The module's exported names are listed in
 * src/wasm/exports*.txt; its methods are in js/wasm/core.js and the files beside it.
 *
 * - Finds and compiles the module itself: fetch (or the caller's `fetchModule`) + WebAssembly.
 *   compileStreaming in browsers and workers (falling back to compile() when the server sends the wrong
 *   MIME type or the engine has no compileStreaming), the file system in Node. Emscripten's own
 *   file-locating JS is not used (nor shipped).
 * - Checks the module's SHA-256 against the digests the build embedded (dist/sealpost-digest.js) before it
 *   is instantiated, whatever it came from (network, Cache Storage, file, `wasmBinary`): a module swapped
 *   in a cache is 'wasm-load-failed' with `integrity: true`, and is never run.
 * - Compiles once per worker lifetime (cached per URL); `ready()` shares one instance, `createCore()`
 *   makes a fresh one.
 * - No top-level await, no import(), no eval: this file runs in module and classic service workers.
 */
import { MODULE_SHA256 } from '../../dist/sealpost-digest.js';
import { SealpostError } from '../errors.js';
import { WasmCore, KeyKind } from './core.js';

export { WasmCore, KeyKind };

/** @type {Map<string, Promise<WebAssembly.Module>>} */
const compiled = new Map();
/** @type {Map<string, Promise<WasmCore>>} */
const shared = new Map();

/**
 * Where sealpost.wasm is when no `wasmUrl` is given. The module build names it with
 * `new URL('<literal>', import.meta.url)`, the pattern Vite, webpack 5 and Rollup follow to copy the file
 * into a bundle and rewrite the URL (esbuild does not: import 'sealpost/sealpost.wasm' with its file loader
 * and pass the result as `wasmUrl`). A classic build (importScripts) has no import.meta: there the module
 * is looked for beside the worker script, `base`.
 * @param {string} [base]
 */
function defaultWasmUrl(base = globalThis.location?.href) {
  if (typeof import.meta.url === 'string') return new URL('../../dist/sealpost.wasm', import.meta.url);
  return new URL('sealpost.wasm', base);
}

/**
 * The URL the loader fetches for `wasmUrl` (relative to `base`, the page or worker script), or its default.
 * @param {string | URL | null | undefined} wasmUrl
 * @param {string} [base]
 */
export function resolveUrl(wasmUrl, base = globalThis.location?.href ?? import.meta.url) {
  if (wasmUrl === undefined || wasmUrl === null) return defaultWasmUrl(base);
  if (wasmUrl instanceof URL) return wasmUrl;
  return new URL(String(wasmUrl), base);
}

// The smallest module using a Wasm SIMD instruction (v128.const): sealpost.wasm needs SIMD for ChaCha20.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8,
  0, 65, 0, 253, 15, 253, 98, 11]);

function loadFailed(message, cause) {
  if (cause instanceof WebAssembly.CompileError && !WebAssembly.validate(SIMD_PROBE)) {
    message += ' (this engine lacks WebAssembly SIMD, which sealpost needs: Chrome/Edge 91+, Firefox 89+, ' +
      'Safari 16.4+, Node 16.4+)';
  }
  const details = { cause };
  if (cause instanceof IntegrityError) details.integrity = true;
  return new SealpostError('wasm-load-failed', message, details);
}

/** Thrown when a module's bytes are not one of the modules this build made. */
class IntegrityError extends Error {}

const hexOf = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

/** Resolves when `bytes` are one of the built modules (by SHA-256); rejects with IntegrityError otherwise. */
async function verify(bytes) {
  const digest = hexOf(await globalThis.crypto.subtle.digest('SHA-256', bytes));
  if (!Object.values(MODULE_SHA256).includes(digest)) {
    throw new IntegrityError(`its SHA-256 is ${digest}, not that of a module this build made `
      + `(${Object.values(MODULE_SHA256).map((d) => d.slice(0, 16)).join(', ')}…)`);
  }
}

async function verifiedCompile(bytes) {
  await verify(bytes);
  return WebAssembly.compile(bytes);
}

async function fetchAndCompile(url, fetchModule) {
  const response = await (fetchModule ? fetchModule(url) : fetch(url, { credentials: 'same-origin' }));
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
  if (typeof WebAssembly.compileStreaming === 'function') {
    // Compiled while it downloads; the bytes are hashed from a copy of the stream, and the module is only
    // handed out once they match (compiling runs none of its code).
    const bytes = response.clone().arrayBuffer();
    try {
      const [module] = await Promise.all([WebAssembly.compileStreaming(response), bytes.then(verify)]);
      return module;
    } catch (error) {
      // A wrong Content-Type (not application/wasm) makes streaming refuse; compile from bytes instead.
      if (!(error instanceof TypeError)) throw error;
      return verifiedCompile(await bytes);
    }
  }
  return verifiedCompile(await response.arrayBuffer());
}

async function readAndCompile(url) {
  const fs = globalThis.process?.getBuiltinModule?.('node:fs');
  if (!fs) throw new Error('file: URLs need Node >= 20.16 (process.getBuiltinModule)');
  return verifiedCompile(await fs.promises.readFile(url));
}

/**
 * The compiled module, compiled once per URL (or taken from `wasmModule` / `wasmBinary`). `fetchModule`
 * fetches the URL instead of `fetch` (the service worker answers from Cache Storage first with it).
 * @param {{wasmUrl?: string|URL, wasmBinary?: BufferSource, wasmModule?: WebAssembly.Module,
 *   fetchModule?: (url: URL) => Promise<Response>}} [options]
 * @returns {Promise<WebAssembly.Module>}
 */
export function loadModule(options = {}) {
  if (options.wasmModule) return Promise.resolve(options.wasmModule);
  if (options.wasmBinary) {
    return verifiedCompile(options.wasmBinary).catch((e) => {
      throw loadFailed(`sealpost.wasm could not be compiled: ${e.message}`, e);
    });
  }
  const url = resolveUrl(options.wasmUrl);
  const key = url.href;
  let promise = compiled.get(key);
  if (!promise) {
    promise = (url.protocol === 'file:' ? readAndCompile(url) : fetchAndCompile(url, options.fetchModule)).catch((e) => {
      compiled.delete(key);
      throw loadFailed(`sealpost.wasm could not be loaded from ${key}: ${e.message}`, e);
    });
    compiled.set(key, promise);
  }
  return promise;
}

/** A WasmCore around the instance `make(imports)` gives (a promise or the instance itself). */
function attached(make) {
  const core = new WasmCore();
  const fail = (e) => { throw loadFailed(`sealpost.wasm could not be instantiated: ${e.message}`, e); };
  const done = (instance) => {
    core.attach(instance.instance ?? instance);
    return core;
  };
  let made;
  try {
    made = make(core.imports());
  } catch (e) {
    fail(e);
  }
  return made instanceof Promise ? made.then(done, fail) : done(made);
}

/**
 * An instance of a compiled module (its own memory and keyring).
 * @param {WebAssembly.Module} module
 * @returns {Promise<WasmCore>}
 */
export function instantiate(module) {
  return attached((imports) => WebAssembly.instantiate(module, imports));
}

/**
 * An instance made synchronously, for sealpost/server in Node (where sealing is a plain call).
 * @param {WebAssembly.Module} module
 * @returns {WasmCore}
 */
export function instantiateSync(module) {
  return attached((imports) => new WebAssembly.Instance(module, imports));
}

/**
 * A fresh instance of the module (its own memory and keyring).
 * @param {Parameters<typeof loadModule>[0]} [options]
 * @returns {Promise<WasmCore>}
 */
export async function createCore(options = {}) {
  return instantiate(await loadModule(options));
}

/**
 * The instance shared by everything in this worker (or page, or Node process) for a given module URL.
 * @param {Parameters<typeof loadModule>[0]} [options]
 * @returns {Promise<WasmCore>}
 */
export function ready(options = {}) {
  if (options.wasmModule || options.wasmBinary) return createCore(options);
  const key = resolveUrl(options.wasmUrl).href;
  let promise = shared.get(key);
  if (!promise) {
    promise = createCore(options).catch((e) => {
      shared.delete(key);
      throw e;
    });
    shared.set(key, promise);
  }
  return promise;
}
