/**
 * Loads sealpost.wasm and owns its memory. Paired with src/wasm/exports.cpp; the exported names are listed
 * in src/wasm/exports.txt.
 *
 * - Finds and compiles the module itself: fetch + WebAssembly.compileStreaming in browsers and workers
 *   (falling back to compile() when the server sends the wrong MIME type), the file system in Node.
 *   Emscripten's own file-locating JS is not used (nor shipped).
 * - Compiles once per worker lifetime (cached per URL); `ready()` shares one instance, `createCore()`
 *   makes a fresh one.
 * - Randomness comes from crypto.getRandomValues through the module's only real import.
 * - Every output is copied out of Wasm memory; every buffer that held a key or plaintext is zero-filled
 *   before it is freed; views of memory are rebuilt after every call, so growth never leaves one stale.
 * - No top-level await, no import(), no eval: this file runs in module and classic service workers.
 */
import { SealpostError, check } from './errors.js';

/** Key kinds, as src/core/keyring.hpp numbers them. */
export const KeyKind = Object.freeze({ symmetric: 1, box: 2, sign: 3 });

const KEY_ID_BYTES = 8;
const RECORD_OVERHEAD = 49;
const RANDOM_CHUNK = 65536; // crypto.getRandomValues' per-call limit
const RANDOM_POOL = 4096;
const SCRATCH_BYTES = 16384;
const RANDOM_POOL_SMALL = 64;
const encoder = new TextEncoder();

/** @type {Map<string, Promise<WebAssembly.Module>>} */
const compiled = new Map();
/** @type {Map<string, Promise<WasmCore>>} */
const shared = new Map();

function defaultWasmUrl() {
  // The module build sits in js/ with the .wasm in dist/; the classic (importScripts) build has no
  // import.meta and looks beside the worker script unless told otherwise.
  const base = import.meta.url;
  if (base) return new URL('../dist/sealpost.wasm', base);
  return new URL('sealpost.wasm', globalThis.location?.href);
}

function resolveUrl(wasmUrl) {
  if (wasmUrl === undefined || wasmUrl === null) return defaultWasmUrl();
  if (wasmUrl instanceof URL) return wasmUrl;
  return new URL(String(wasmUrl), globalThis.location?.href ?? import.meta.url);
}

// The smallest module using a Wasm SIMD instruction (v128.const): sealpost.wasm needs SIMD for ChaCha20.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8,
  0, 65, 0, 253, 15, 253, 98, 11]);

function loadFailed(message, cause) {
  if (cause instanceof WebAssembly.CompileError && !WebAssembly.validate(SIMD_PROBE)) {
    message += ' (this engine lacks WebAssembly SIMD, which sealpost needs: Chrome/Edge 91+, Firefox 89+, ' +
      'Safari 16.4+, Node 16.4+)';
  }
  return new SealpostError('wasm-load-failed', message, { cause });
}

async function fetchAndCompile(url, fetchModule) {
  const request = () => (fetchModule ? fetchModule(url) : fetch(url, { credentials: 'same-origin' }));
  if (typeof WebAssembly.compileStreaming === 'function') {
    try {
      return await WebAssembly.compileStreaming(request());
    } catch (error) {
      // A wrong Content-Type (not application/wasm) makes streaming refuse; compile from bytes instead.
      if (!(error instanceof TypeError)) throw error;
    }
  }
  const response = await request();
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
  return WebAssembly.compile(await response.arrayBuffer());
}

async function readAndCompile(url) {
  const fs = globalThis.process?.getBuiltinModule?.('node:fs');
  if (!fs) throw new Error('file: URLs need Node >= 20.16 (process.getBuiltinModule)');
  return WebAssembly.compile(await fs.promises.readFile(url));
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
    return WebAssembly.compile(options.wasmBinary).catch((e) => {
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

/**
 * A fresh instance of the module (its own memory and keyring).
 * @param {Parameters<typeof loadModule>[0]} [options]
 * @returns {Promise<WasmCore>}
 */
export async function createCore(options = {}) {
  const module = await loadModule(options);
  return WasmCore.instantiate(module);
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

function requireBytes(value, name) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new SealpostError('invalid-argument', `${name} must be a Uint8Array, ArrayBuffer or view`);
}

function requireText(value, name) {
  if (typeof value !== 'string') throw new SealpostError('invalid-argument', `${name} must be a string`);
  return value;
}

/**
 * One call's allocations in Wasm memory; release() zero-fills the secret ones and frees them all.
 * Small allocations come from a scratch area the instance keeps (a bump pointer, no malloc/free per
 * call); a nested call, or one that needs more than the scratch area, falls back to malloc.
 */
class Frame {
  constructor(core) {
    this.core = core;
    /** @type {Array<[number, number, boolean, boolean]>} pointer, size, secret, from malloc */
    this.allocations = [];
    this.scratch = core.claimScratch();
    this.top = 0;
  }

  alloc(size, secret = false) {
    const bytes = Math.max(size, 1);
    if (this.scratch && this.top + bytes <= SCRATCH_BYTES) {
      const pointer = this.scratch + this.top;
      this.top = (this.top + bytes + 7) & ~7;
      this.allocations.push([pointer, size, secret, false]);
      return pointer;
    }
    const pointer = this.core.malloc(bytes);
    if (!pointer) throw new SealpostError('out-of-memory', `could not allocate ${size} bytes in Wasm memory`);
    this.allocations.push([pointer, size, secret, true]);
    return pointer;
  }

  put(bytes, secret = false) {
    const pointer = this.alloc(bytes.length, secret);
    this.core.heap().set(bytes, pointer);
    return pointer;
  }

  /** UTF-8 text written straight into Wasm memory: [pointer, byte length]. */
  putText(text) {
    const capacity = text.length * 3; // UTF-8 needs at most 3 bytes per UTF-16 unit
    const pointer = this.alloc(capacity);
    const { written } = encoder.encodeInto(text, this.core.heap().subarray(pointer, pointer + capacity));
    return [pointer, written];
  }

  u32(pointer) {
    return new DataView(this.core.memory.buffer).getUint32(pointer, true);
  }

  read(pointer, length) {
    return this.core.heap().slice(pointer, pointer + length);
  }

  release() {
    const heap = this.core.heap();
    for (const [pointer, size, secret, malloced] of this.allocations.reverse()) {
      if (secret) heap.fill(0, pointer, pointer + size);
      if (malloced) this.core.free(pointer);
    }
    this.allocations = [];
    if (this.scratch) this.core.releaseScratch();
    this.scratch = 0;
  }
}

/** One instance of sealpost.wasm. Methods throw SealpostError only. */
export class WasmCore {
  /**
   * @param {WebAssembly.Module} module
   * @returns {Promise<WasmCore>}
   */
  static async instantiate(module) {
    const core = new WasmCore();
    const imports = {
      env: {
        sealpost_random_fill: (pointer, length) => core.fillRandom(pointer, length),
        emscripten_notify_memory_growth: () => {},
      },
      wasi_snapshot_preview1: {
        proc_exit: (code) => {
          core.broken = true;
          throw new SealpostError('crypto-failure', `sealpost.wasm aborted (exit ${code})`);
        },
      },
    };
    let instance;
    try {
      instance = await WebAssembly.instantiate(module, imports);
    } catch (e) {
      throw loadFailed(`sealpost.wasm could not be instantiated: ${e.message}`, e);
    }
    core.attach(instance);
    return core;
  }

  constructor() {
    /** @type {Record<string, Function> & {memory: WebAssembly.Memory}} */
    this.exports = null;
    this.memory = null;
    this.broken = false;
    this.randomPool = new Uint8Array(RANDOM_POOL);
    this.randomOffset = RANDOM_POOL; // empty: the first request fills it
    this.scratch = 0;
    this.scratchBusy = false;
  }

  /** The scratch area for one Frame at a time, or 0 when it is taken (a nested call) or unavailable. */
  claimScratch() {
    if (this.scratchBusy) return 0;
    if (!this.scratch) {
      this.scratch = this.exports.malloc(SCRATCH_BYTES);
      if (!this.scratch) return 0;
    }
    this.scratchBusy = true;
    return this.scratch;
  }

  releaseScratch() {
    this.scratchBusy = false;
  }

  attach(instance) {
    this.exports = instance.exports;
    this.memory = instance.exports.memory;
    if (typeof this.exports._initialize === 'function') this.exports._initialize();
  }

  /** A fresh view of all of Wasm memory (views go stale when memory grows). */
  heap() {
    return new Uint8Array(this.memory.buffer);
  }

  malloc(size) {
    return this.exports.malloc(size);
  }

  free(pointer) {
    this.exports.free(pointer);
  }

  /**
   * Fills Wasm memory with random bytes for libsodium's randombytes. Small requests (nonces, keys) are
   * served from a pool refilled by one getRandomValues call per RANDOM_POOL bytes, because each
   * getRandomValues call costs microseconds; every byte handed out is zeroed in the pool at once, so a
   * byte is never used twice. Large requests go to getRandomValues directly.
   */
  fillRandom(pointer, length) {
    if (length <= RANDOM_POOL_SMALL) {
      if (this.randomOffset + length > RANDOM_POOL) {
        globalThis.crypto.getRandomValues(this.randomPool);
        this.randomOffset = 0;
      }
      const bytes = this.randomPool.subarray(this.randomOffset, this.randomOffset + length);
      new Uint8Array(this.memory.buffer, pointer, length).set(bytes);
      bytes.fill(0);
      this.randomOffset += length;
      return;
    }
    for (let offset = 0; offset < length; offset += RANDOM_CHUNK) {
      const chunk = Math.min(RANDOM_CHUNK, length - offset);
      globalThis.crypto.getRandomValues(new Uint8Array(this.memory.buffer, pointer + offset, chunk));
    }
  }

  call(fn) {
    if (this.broken) throw new SealpostError('closed', 'sealpost.wasm aborted earlier; load it again');
    const frame = new Frame(this);
    try {
      return fn(frame, this.exports);
    } finally {
      frame.release();
    }
  }

  /** The stable name the module gives a status number (tests compare it with js/errors.js). */
  statusName(status) {
    return this.call((f, x) => {
      const out = f.alloc(64);
      const outLen = f.alloc(4);
      const rc = x.sp_status_name(status, out, 64, outLen);
      if (rc !== 0) return null;
      return new TextDecoder().decode(f.read(out, f.u32(outLen)));
    });
  }

  /** `length` bytes from libsodium's randombytes. */
  randomBytes(length) {
    return this.call((f, x) => {
      const out = f.alloc(length, true);
      check(x.sp_random_bytes(out, length), 'randomBytes');
      return f.read(out, length);
    });
  }

  /** A handle for a fresh key of `kind` (KeyKind), generated by libsodium inside Wasm. */
  generateKey(kind) {
    const handle = this.call((f, x) => x.sp_key_generate(kind));
    if (handle <= 0) check(-handle, 'generateKey');
    return handle;
  }

  /** A handle for a copy of raw key bytes. The Wasm-side copy of the input is zeroed; zero yours too. */
  importKey(kind, bytes) {
    const key = requireBytes(bytes, 'key');
    const handle = this.call((f, x) => x.sp_key_import(kind, f.put(key, true), key.length));
    if (handle <= 0) check(-handle, 'importKey');
    return handle;
  }

  /** Raw key bytes, for wrapping at rest only. The caller must zero the returned array when done. */
  exportKey(handle) {
    return this.call((f, x) => {
      const out = f.alloc(64, true);
      const outLen = f.alloc(4);
      check(x.sp_key_export(handle, out, 64, outLen), 'exportKey');
      return f.read(out, f.u32(outLen));
    });
  }

  /** The 8-byte key id of a loaded key (see src/core/key_id.hpp). */
  keyId(handle) {
    return this.call((f, x) => {
      const out = f.alloc(KEY_ID_BYTES);
      check(x.sp_key_id(handle, out), 'keyId');
      return f.read(out, KEY_ID_BYTES);
    });
  }

  /** The public half of a box or sign key. */
  publicKey(handle) {
    return this.call((f, x) => {
      const out = f.alloc(32);
      const outLen = f.alloc(4);
      check(x.sp_key_public(handle, out, 32, outLen), 'publicKey');
      return f.read(out, f.u32(outLen));
    });
  }

  /** Zeroes and forgets a key. */
  releaseKey(handle) {
    this.call((f, x) => check(x.sp_key_release(handle), 'releaseKey'));
  }

  /** How many keys this instance holds. */
  keyCount() {
    return this.call((f, x) => x.sp_key_count());
  }

  /** The key id of a 32-byte public key: first 8 bytes of BLAKE2b-256. */
  publicKeyId(publicKey) {
    const pk = requireBytes(publicKey, 'publicKey');
    return this.call((f, x) => {
      const out = f.alloc(KEY_ID_BYTES);
      check(x.sp_public_key_id(f.put(pk), pk.length, out), 'publicKeyId');
      return f.read(out, KEY_ID_BYTES);
    });
  }

  /**
   * Seals an outbox record to its place with XChaCha20-Poly1305 (src/core/record.hpp).
   * @param {number} handle  a symmetric key
   * @param {{database: string, queue: string, id: string}} place
   * @param {Uint8Array} plaintext
   */
  sealRecord(handle, place, plaintext) {
    const bytes = requireBytes(plaintext, 'plaintext');
    return this.call((f, x) => {
      const [db, dbLen] = f.putText(requireText(place.database, 'place.database'));
      const [queue, queueLen] = f.putText(requireText(place.queue, 'place.queue'));
      const [id, idLen] = f.putText(requireText(place.id, 'place.id'));
      const capacity = bytes.length + RECORD_OVERHEAD;
      const input = f.put(bytes, true);
      const out = f.alloc(capacity);
      const outLen = f.alloc(4);
      check(x.sp_record_seal(handle, db, dbLen, queue, queueLen, id, idLen, input, bytes.length,
        out, capacity, outLen), 'sealRecord');
      return f.read(out, f.u32(outLen));
    });
  }

  /**
   * Opens a sealed record; throws SealpostError 'record-tampered' or 'wrong-key' when it cannot.
   * The caller should zero the returned plaintext when done with it.
   */
  openRecord(handle, place, sealed) {
    const bytes = requireBytes(sealed, 'sealed');
    if (bytes.length < RECORD_OVERHEAD) {
      throw new SealpostError('record-tampered', `sealed record is ${bytes.length} bytes, shorter than its header`);
    }
    return this.call((f, x) => {
      const [db, dbLen] = f.putText(requireText(place.database, 'place.database'));
      const [queue, queueLen] = f.putText(requireText(place.queue, 'place.queue'));
      const [id, idLen] = f.putText(requireText(place.id, 'place.id'));
      const capacity = bytes.length - RECORD_OVERHEAD;
      const input = f.put(bytes);
      const out = f.alloc(capacity, true);
      const outLen = f.alloc(4);
      check(x.sp_record_open(handle, db, dbLen, queue, queueLen, id, idLen, input, bytes.length,
        out, capacity, outLen), 'openRecord');
      return f.read(out, f.u32(outLen));
    });
  }

  /** The key id a sealed record names (without opening it). */
  recordKeyId(sealed) {
    const bytes = requireBytes(sealed, 'sealed');
    return this.call((f, x) => {
      const out = f.alloc(KEY_ID_BYTES);
      check(x.sp_record_key_id(f.put(bytes), bytes.length, out), 'recordKeyId');
      return f.read(out, KEY_ID_BYTES);
    });
  }

  // ---------------------------------------------------------------- outbox (request records, retry engine)
  // Methods for js/outbox.js and js/store.js go here. Paired with src/wasm/exports_outbox.cpp.

  static outboxText = new TextDecoder();
  static STREAM_CHUNK_OVERHEAD = 17; // crypto_secretstream_xchacha20poly1305_ABYTES

  /**
   * Runs an export that writes (out, cap, out_len) and answers buffer-too-small with the length it needs:
   * tries `capacity` first, then exactly the needed length. Returns [status, bytes]. `secret` outputs are
   * zero-filled in Wasm memory before they are freed.
   */
  outboxOutput(capacity, secret, invoke) {
    let cap = Math.max(capacity, 16);
    for (let round = 0; round < 2; round += 1) {
      const result = this.call((f, x) => {
        const out = f.alloc(cap, secret);
        const outLen = f.alloc(4);
        const rc = invoke(f, x, out, cap, outLen);
        const length = f.u32(outLen);
        if (rc === 2 && length > cap) return { retry: length };
        return { rc, bytes: f.read(out, Math.min(length, cap)) };
      });
      if (result.retry === undefined) return [result.rc, result.bytes];
      cap = result.retry;
    }
    throw new SealpostError('buffer-too-small', 'an outbox output did not fit twice');
  }

  /** A JSON-in, JSON-out outbox export. */
  outboxJson(name, input, invoke) {
    const text = encoder.encode(JSON.stringify(input));
    const [rc, bytes] = this.outboxOutput(4096, false, (f, x, out, cap, outLen) =>
      invoke(x, f.put(text), text.length, out, cap, outLen));
    check(rc, name);
    return JSON.parse(WasmCore.outboxText.decode(bytes));
  }

  /**
   * Validates a retry policy in C++ and returns it complete (defaults filled in). A bad option throws
   * SealpostError 'invalid-policy' whose `.field` names it (e.g. 'factor', 'retryOn[2]').
   * @param {object | undefined} policy
   */
  retryPolicy(policy) {
    let text;
    try {
      text = encoder.encode(JSON.stringify(policy ?? null));
    } catch (error) {
      throw new SealpostError('invalid-policy', `retry policy is not JSON: ${error.message}`, { field: 'retry' });
    }
    const [rc, bytes] = this.outboxOutput(1024, false, (f, x, out, cap, outLen) =>
      x.sp_retry_policy(f.put(text), text.length, out, cap, outLen));
    if (rc === 40 || rc === 28) {
      const field = WasmCore.outboxText.decode(bytes);
      throw new SealpostError('invalid-policy', `retry policy: invalid option '${field}'`, { field, status: rc });
    }
    check(rc, 'retryPolicy');
    return JSON.parse(WasmCore.outboxText.decode(bytes));
  }

  /**
   * What an attempt's outcome means (src/core/retry.hpp decide):
   * input {policy, attempts, createdAt, now, seed, previousError, canRefresh, outcome: {kind, status, retryAfter}}
   * → {action: 'sent' | 'retry' | 'dead', code, nextAttemptAt?}
   */
  retryDecide(input) {
    return this.outboxJson('retryDecide', input, (x, ...args) => x.sp_retry_decide(...args));
  }

  /**
   * What is due (src/core/retry.hpp plan_due): input {ordering, now, maxAgeMs, entries: [{id, seq, group,
   * state, nextAttemptAt, leaseUntil, createdAt}]} → {due: [id], expired: [id], nextAttemptAt}
   */
  retryPlan(input) {
    return this.outboxJson('retryPlan', input, (x, ...args) => x.sp_retry_plan(...args));
  }

  /** The absolute time (ms) a Retry-After value asks for, or null when it is neither form. */
  retryAfter(value, nowMs) {
    return this.call((f, x) => {
      const [text, length] = f.putText(requireText(value, 'value'));
      const out = f.alloc(8);
      const rc = x.sp_retry_after(text, length, nowMs, out);
      if (rc !== 0) return null;
      return new DataView(this.memory.buffer).getFloat64(out, true);
    });
  }

  /** The 16-byte keyed BLAKE2b tag of a group name under a symmetric key. */
  groupTag(handle, group) {
    return this.call((f, x) => {
      const [text, length] = f.putText(requireText(group, 'group'));
      const out = f.alloc(16);
      check(x.sp_group_tag(handle, text, length, out), 'groupTag');
      return f.read(out, 16);
    });
  }

  /**
   * Encodes a request (fields as an object, body as bytes) to CBOR and seals it to its place. A bad field
   * throws 'invalid-request' with `.field`.
   * @param {number} handle
   * @param {{database: string, queue: string, id: string}} place
   * @param {object} fields
   * @param {Uint8Array} [body]
   */
  sealRequest(handle, place, fields, body = new Uint8Array(0)) {
    const json = encoder.encode(JSON.stringify(fields));
    const bytes = requireBytes(body, 'body');
    try {
      const [rc, out] = this.outboxOutput(json.length + bytes.length + 256, false, (f, x, o, cap, outLen) => {
        const [db, dbLen] = f.putText(requireText(place.database, 'place.database'));
        const [queue, queueLen] = f.putText(requireText(place.queue, 'place.queue'));
        const [id, idLen] = f.putText(requireText(place.id, 'place.id'));
        return x.sp_request_seal(handle, db, dbLen, queue, queueLen, id, idLen, f.put(json, true), json.length,
          f.put(bytes, true), bytes.length, o, cap, outLen);
      });
      if (rc === 41) {
        const field = WasmCore.outboxText.decode(out);
        throw new SealpostError('invalid-request', `request: invalid ${field}`, { field, status: rc });
      }
      check(rc, 'sealRequest');
      return out;
    } finally {
      json.fill(0);
    }
  }

  /**
   * Opens a sealed request record → {fields, body}. Throws 'record-tampered' or 'wrong-key'.
   * The caller should zero `body` when done with it.
   */
  openRequest(handle, place, sealed) {
    const bytes = requireBytes(sealed, 'sealed');
    const [rc, framed] = this.outboxOutput(bytes.length, true, (f, x, out, cap, outLen) => {
      const [db, dbLen] = f.putText(requireText(place.database, 'place.database'));
      const [queue, queueLen] = f.putText(requireText(place.queue, 'place.queue'));
      const [id, idLen] = f.putText(requireText(place.id, 'place.id'));
      return x.sp_request_open(handle, db, dbLen, queue, queueLen, id, idLen, f.put(bytes), bytes.length,
        out, cap, outLen);
    });
    try {
      check(rc, 'openRequest');
      const length = new DataView(framed.buffer, framed.byteOffset).getUint32(0, true);
      const fields = JSON.parse(WasmCore.outboxText.decode(framed.subarray(4, 4 + length)));
      const body = framed.slice(4 + length);
      return { fields, body };
    } finally {
      framed.fill(0);
    }
  }

  /** Starts sealing a chunk stream → {stream, header} (stream: a handle for sealChunk; header: 24 bytes). */
  sealStreamInit(handle, place) {
    return this.call((f, x) => {
      const [db, dbLen] = f.putText(requireText(place.database, 'place.database'));
      const [queue, queueLen] = f.putText(requireText(place.queue, 'place.queue'));
      const [id, idLen] = f.putText(requireText(place.id, 'place.id'));
      const header = f.alloc(24);
      const stream = x.sp_stream_seal_init(handle, db, dbLen, queue, queueLen, id, idLen, header);
      if (stream <= 0) check(-stream, 'sealStreamInit');
      return { stream, header: f.read(header, 24) };
    });
  }

  /** Seals the next chunk of a stream (at most 1 MiB); `final` on the last one. */
  sealChunk(stream, chunk, final) {
    const bytes = requireBytes(chunk, 'chunk');
    return this.call((f, x) => {
      const capacity = bytes.length + WasmCore.STREAM_CHUNK_OVERHEAD;
      const out = f.alloc(capacity);
      const outLen = f.alloc(4);
      check(x.sp_stream_seal_push(stream, f.put(bytes, true), bytes.length, final ? 1 : 0, out, capacity, outLen),
        'sealChunk');
      return f.read(out, capacity);
    });
  }

  /** Starts opening a chunk stream from its 24-byte header → a stream handle for openChunk. */
  openStreamInit(handle, place, header) {
    const bytes = requireBytes(header, 'header');
    return this.call((f, x) => {
      const [db, dbLen] = f.putText(requireText(place.database, 'place.database'));
      const [queue, queueLen] = f.putText(requireText(place.queue, 'place.queue'));
      const [id, idLen] = f.putText(requireText(place.id, 'place.id'));
      const stream = x.sp_stream_open_init(handle, db, dbLen, queue, queueLen, id, idLen, f.put(bytes), bytes.length);
      if (stream <= 0) check(-stream, 'openStreamInit');
      return stream;
    });
  }

  /** Opens the next chunk → {plain, final}; 'record-tampered' when it does not authenticate in place. */
  openChunk(stream, sealed) {
    const bytes = requireBytes(sealed, 'sealed');
    if (bytes.length < WasmCore.STREAM_CHUNK_OVERHEAD) throw new SealpostError('record-tampered', 'chunk too short');
    return this.call((f, x) => {
      const capacity = bytes.length - WasmCore.STREAM_CHUNK_OVERHEAD;
      const out = f.alloc(capacity, true);
      const outLen = f.alloc(4);
      const final = f.alloc(4);
      check(x.sp_stream_open_pull(stream, f.put(bytes), bytes.length, out, capacity, outLen, final), 'openChunk');
      return { plain: f.read(out, capacity), final: f.u32(final) === 1 };
    });
  }

  /** Forgets a chunk stream (its state is zeroed). */
  releaseStream(stream) {
    this.call((f, x) => check(x.sp_stream_release(stream), 'releaseStream'));
  }

  // ---------------------------------------------------------------- push (envelopes, message validation)
  // Methods for js/push.js and js/server.js go here.

  /**
   * A WasmCore instantiated synchronously, for sealpost/server in Node (where sealing is a plain call).
   * Same imports as instantiate().
   * @param {WebAssembly.Module} module
   * @returns {WasmCore}
   */
  static instantiateSync(module) {
    const core = new WasmCore();
    const imports = {
      env: {
        sealpost_random_fill: (pointer, length) => core.fillRandom(pointer, length),
        emscripten_notify_memory_growth: () => {},
      },
      wasi_snapshot_preview1: {
        proc_exit: (code) => {
          core.broken = true;
          throw new SealpostError('crypto-failure', `sealpost.wasm aborted (exit ${code})`);
        },
      },
    };
    let instance;
    try {
      instance = new WebAssembly.Instance(module, imports);
    } catch (e) {
      throw loadFailed(`sealpost.wasm could not be instantiated: ${e.message}`, e);
    }
    core.attach(instance);
    return core;
  }

  /**
   * Opens a sealed push envelope (src/core/push.hpp): every check of DESIGN.md except `replayed`, which
   * the caller decides from `id` and `expiresAt` against its seen-id store.
   * @param {number[]} recipients  box key handles that may open it (current key first)
   * @param {Uint8Array[]} trustedSigners  Ed25519 public keys (32 bytes); empty: signatures not required
   * @param {Uint8Array} input  the envelope's bytes, or the UTF-8 bytes of its base64url text
   * @param {number} nowSeconds  Unix seconds
   * @param {number} maxSkewSeconds  how far in the future `iat` may be
   * @returns {{message: Record<string, unknown>, id: string, iat: number, expiresAt: number,
   *   keyId: string, signer: string | null}}
   */
  openPush(recipients, trustedSigners, input, nowSeconds, maxSkewSeconds) {
    const bytes = requireBytes(input, 'envelope');
    const signers = new Uint8Array(trustedSigners.length * 32);
    trustedSigners.forEach((key, i) => {
      const pk = requireBytes(key, 'trusted signer');
      if (pk.length !== 32) throw new SealpostError('invalid-argument', 'a trusted signer key must be 32 bytes');
      signers.set(pk, i * 32);
    });
    let capacity = bytes.length + 1024;
    for (;;) {
      const result = this.call((f, x) => {
        const handles = f.alloc(recipients.length * 4);
        const view = new DataView(this.memory.buffer);
        recipients.forEach((handle, i) => view.setInt32(handles + i * 4, handle, true));
        const signersPointer = f.put(signers);
        const inputPointer = f.put(bytes);
        const out = f.alloc(capacity, true);
        const outLen = f.alloc(4);
        const rc = x.sp_push_open(handles, recipients.length, signersPointer, signers.length, inputPointer,
          bytes.length, nowSeconds, maxSkewSeconds, out, capacity, outLen);
        if (rc === 2) return { retry: f.u32(outLen) };
        check(rc, 'openPush');
        const text = f.read(out, f.u32(outLen));
        try {
          return { value: JSON.parse(new TextDecoder().decode(text)) };
        } finally {
          text.fill(0);
        }
      });
      if (result.retry === undefined) return result.value;
      if (result.retry <= capacity) check(2, 'openPush');
      capacity = result.retry;
    }
  }

  /**
   * Seals a message for one device (src/core/push.hpp): fills `id` and `iat` when absent, pads, signs with
   * `signer` (a sign key handle, or 0 for none) and refuses envelopes over `maxEnvelopeBytes` with
   * SealpostError 'too-large' carrying `size` and `maxEnvelopeBytes`.
   * @param {Uint8Array} recipientPublicKey  X25519, 32 bytes
   * @param {number} signer
   * @param {string} messageJson  a JSON object
   * @param {number} nowSeconds  Unix seconds
   * @param {number} maxEnvelopeBytes
   * @returns {Uint8Array}
   */
  sealPush(recipientPublicKey, signer, messageJson, nowSeconds, maxEnvelopeBytes) {
    const pk = requireBytes(recipientPublicKey, 'recipientPublicKey');
    const message = requireText(messageJson, 'message');
    return this.call((f, x) => {
      if (typeof x.sp_push_seal !== 'function') {
        throw new SealpostError('unsupported', 'sealing is in dist/sealpost-server.wasm (sealpost/server), '
          + 'not in the worker module');
      }
      const pkPointer = f.put(pk);
      const [text, textLen] = f.putText(message);
      const capacity = 4096;
      const out = f.alloc(capacity);
      const outLen = f.alloc(4);
      const rc = x.sp_push_seal(pkPointer, pk.length, signer, text, textLen, nowSeconds, maxEnvelopeBytes,
        out, capacity, outLen);
      // The message text is plaintext: wipe it from the frame before it is reused.
      this.heap().fill(0, text, text + textLen);
      if (rc === 20) {
        const size = f.u32(outLen);
        throw new SealpostError('too-large',
          `the sealed envelope would be ${size} bytes, over the maximum of ${maxEnvelopeBytes}`,
          { status: rc, size, maxEnvelopeBytes });
      }
      if (rc === 30) {
        throw new SealpostError('not-yet-valid', 'the message\'s iat is more than 300 s after now: '
          + 'no device would accept it (iat is in Unix seconds, not milliseconds)', { status: rc });
      }
      if (rc === 31) {
        throw new SealpostError('expired', 'the message\'s iat + ttl has already passed', { status: rc });
      }
      check(rc, 'sealPush');
      return f.read(out, f.u32(outLen));
    });
  }
}
