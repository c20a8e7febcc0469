/**
 * WasmCore: one instance of sealpost.wasm, its memory and its randomness, with a method per export.
 * Each file of js/wasm/ pairs with one export area of src/wasm/ and names its methods after the exports
 * (`sp_key_generate` ↔ `keyGenerate`):
 *   core.js   ↔ exports.cpp         keys, randomness, sealed records
 *   outbox.js ↔ exports_outbox.cpp  retry engine, group tags, request records, chunk streams
 *   push.js   ↔ exports_push.cpp    sealed push envelopes
 * Every output is copied out of Wasm memory; every buffer that held a key or plaintext is zero-filled
 * before it is freed; views of memory are rebuilt after every call, so growth never leaves one stale.
 * Methods throw SealpostError only; statuses become codes in js/errors.js.
 */
import { SealpostError, check } from '../errors.js';
import { Frame, SCRATCH_BYTES, decoder, requireBytes } from './frame.js';
import { outboxExports } from './outbox.js';
import { pushExports } from './push.js';

/** Key kinds, as src/core/keyring.hpp numbers them. */
export const KeyKind = Object.freeze({ symmetric: 1, box: 2, sign: 3 });

const KEY_ID_BYTES = 8;
const RECORD_OVERHEAD = 49;
const RECORD_HEADER = 33; // version, key id, nonce (src/core/record.hpp)
const RANDOM_CHUNK = 65536; // crypto.getRandomValues' per-call limit
const RANDOM_POOL = 4096;
const RANDOM_POOL_SMALL = 64;

export class WasmCore {
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

  /**
   * The imports the module needs (src/wasm/imports.js declares them): randomness, and an abort that
   * marks this instance broken.
   */
  imports() {
    return {
      env: {
        sealpost_random_fill: (pointer, length) => this.fillRandom(pointer, length),
        // strtod for the module's JSON parser (src/wasm/libc_small.c): the text is a JSON number.
        sealpost_parse_number: (pointer, length) =>
          Number(decoder.decode(new Uint8Array(this.memory.buffer, pointer, length))),
        emscripten_notify_memory_growth: () => {},
      },
      wasi_snapshot_preview1: {
        proc_exit: (code) => {
          this.broken = true;
          throw new SealpostError('crypto-failure', `sealpost.wasm aborted (exit ${code})`);
        },
      },
    };
  }

  attach(instance) {
    this.exports = instance.exports;
    this.memory = instance.exports.memory;
    if (typeof this.exports._initialize === 'function') this.exports._initialize();
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

  /** Runs `fn(frame, exports)` with a fresh Frame, released (secrets zeroed) whatever happens. */
  call(fn) {
    if (this.broken) throw new SealpostError('closed', 'sealpost.wasm aborted earlier; load it again');
    const frame = new Frame(this);
    try {
      return fn(frame, this.exports);
    } finally {
      frame.release();
    }
  }

  // ---------------------------------------------------------------- exports.cpp

  /** sp_status_name: the stable name the module gives a status number (tests compare it with js/errors.js). */
  statusName(status) {
    return this.call((f, x) => {
      const out = f.alloc(64);
      const outLen = f.alloc(4);
      const rc = x.sp_status_name(status, out, 64, outLen);
      if (rc !== 0) return null;
      return decoder.decode(f.read(out, f.u32(outLen)));
    });
  }

  /** sp_random_bytes: `length` bytes from libsodium's randombytes. */
  randomBytes(length) {
    return this.call((f, x) => {
      const out = f.alloc(length, true);
      check(x.sp_random_bytes(out, length), 'randomBytes');
      return f.read(out, length);
    });
  }

  /** sp_key_generate: a handle for a fresh key of `kind` (KeyKind), generated by libsodium inside Wasm. */
  keyGenerate(kind) {
    const handle = this.call((f, x) => x.sp_key_generate(kind));
    if (handle <= 0) check(-handle, 'keyGenerate');
    return handle;
  }

  /** sp_key_import: a handle for a copy of raw key bytes. The Wasm-side copy is zeroed; zero yours too. */
  keyImport(kind, bytes) {
    const key = requireBytes(bytes, 'key');
    const handle = this.call((f, x) => x.sp_key_import(kind, f.put(key, true), key.length));
    if (handle <= 0) check(-handle, 'keyImport');
    return handle;
  }

  /** sp_key_export: raw key bytes, for wrapping at rest only. The caller must zero them when done. */
  keyExport(handle) {
    return this.call((f, x) => {
      const out = f.alloc(64, true);
      const outLen = f.alloc(4);
      check(x.sp_key_export(handle, out, 64, outLen), 'keyExport');
      return f.read(out, f.u32(outLen));
    });
  }

  /** sp_key_id: the 8-byte key id of a loaded key (see src/core/key_id.hpp). */
  keyId(handle) {
    return this.call((f, x) => {
      const out = f.alloc(KEY_ID_BYTES);
      check(x.sp_key_id(handle, out), 'keyId');
      return f.read(out, KEY_ID_BYTES);
    });
  }

  /** sp_key_public: the public half of a box or sign key. */
  keyPublic(handle) {
    return this.call((f, x) => {
      const out = f.alloc(32);
      const outLen = f.alloc(4);
      check(x.sp_key_public(handle, out, 32, outLen), 'keyPublic');
      return f.read(out, f.u32(outLen));
    });
  }

  /** sp_key_release: zeroes and forgets a key. */
  keyRelease(handle) {
    this.call((f, x) => check(x.sp_key_release(handle), 'keyRelease'));
  }

  /** sp_key_count: how many keys this instance holds. */
  keyCount() {
    return this.call((f, x) => x.sp_key_count());
  }

  /** sp_public_key_id: the key id of a 32-byte public key (first 8 bytes of BLAKE2b-256). */
  publicKeyId(publicKey) {
    const pk = requireBytes(publicKey, 'publicKey');
    return this.call((f, x) => {
      const out = f.alloc(KEY_ID_BYTES);
      check(x.sp_public_key_id(f.put(pk), pk.length, out), 'publicKeyId');
      return f.read(out, KEY_ID_BYTES);
    });
  }

  /**
   * sp_record_seal: seals an outbox record to its place with XChaCha20-Poly1305 (src/core/record.hpp).
   * @param {number} handle  a symmetric key
   * @param {{database: string, queue: string, id: string}} place
   * @param {Uint8Array} plaintext
   */
  recordSeal(handle, place, plaintext) {
    const bytes = requireBytes(plaintext, 'plaintext');
    return this.call((f, x) => {
      const capacity = bytes.length + RECORD_OVERHEAD;
      const placeArgs = f.putPlace(place);
      // Sealed in place: the plaintext is copied to where its ciphertext goes (after the header) and the
      // call overwrites it, so there is one buffer, not an input to zero and an output. It counts as
      // secret (zeroed on release) until the seal has succeeded.
      const out = f.alloc(capacity, true);
      const input = out + RECORD_HEADER;
      this.heap().set(bytes, input);
      const outLen = f.alloc(4);
      check(x.sp_record_seal(handle, ...placeArgs, input, bytes.length, out, capacity, outLen), 'recordSeal');
      f.declassify(out);
      return f.read(out, f.u32(outLen));
    });
  }

  /**
   * sp_record_open: opens a sealed record; 'record-tampered' or 'wrong-key' when it cannot.
   * The caller should zero the returned plaintext when done with it.
   */
  recordOpen(handle, place, sealed) {
    const bytes = requireBytes(sealed, 'sealed');
    if (bytes.length < RECORD_OVERHEAD) {
      throw new SealpostError('record-tampered', `sealed record is ${bytes.length} bytes, shorter than its header`);
    }
    return this.call((f, x) => {
      const capacity = bytes.length - RECORD_OVERHEAD;
      const placeArgs = f.putPlace(place);
      const input = f.put(bytes);
      const out = f.alloc(capacity, true);
      const outLen = f.alloc(4);
      check(x.sp_record_open(handle, ...placeArgs, input, bytes.length, out, capacity, outLen), 'recordOpen');
      return f.read(out, f.u32(outLen));
    });
  }

  /** sp_record_key_id: the key id a sealed record names (without opening it). */
  recordKeyId(sealed) {
    const bytes = requireBytes(sealed, 'sealed');
    return this.call((f, x) => {
      const out = f.alloc(KEY_ID_BYTES);
      check(x.sp_record_key_id(f.put(bytes), bytes.length, out), 'recordKeyId');
      return f.read(out, KEY_ID_BYTES);
    });
  }
}

// The other export areas' methods, each defined beside the exports it wraps.
Object.assign(WasmCore.prototype, outboxExports, pushExports);
