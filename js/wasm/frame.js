/**
 * Moving bytes across the Wasm boundary: one call's allocations (Frame), argument checks, and the
 * (out, cap, out_len) convention every variable-size export follows.
 */
import { SealpostError, STATUS } from '../errors.js';

/** Bytes of the scratch area an instance keeps for small allocations. */
export const SCRATCH_BYTES = 16384;
export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

export function requireBytes(value, name) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new SealpostError('invalid-argument', `${name} must be a Uint8Array, ArrayBuffer or view`);
}

export function requireText(value, name) {
  if (typeof value !== 'string') throw new SealpostError('invalid-argument', `${name} must be a string`);
  return value;
}

/**
 * One call's allocations in Wasm memory; release() zero-fills the secret ones and frees them all.
 * Small allocations come from a scratch area the instance keeps (a bump pointer, no malloc/free per
 * call); a nested call, or one that needs more than the scratch area, falls back to malloc.
 */
export class Frame {
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

  /** UTF-8 text written straight into Wasm memory: [pointer, byte length]; `secret` text is zeroed on release. */
  putText(text, secret = false) {
    const capacity = text.length * 3; // UTF-8 needs at most 3 bytes per UTF-16 unit
    const pointer = this.alloc(capacity, secret);
    const { written } = encoder.encodeInto(text, this.core.heap().subarray(pointer, pointer + capacity));
    return [pointer, written];
  }

  /** A record's place (database, queue, entry id) as the six (pointer, length) arguments of the exports. */
  putPlace(place) {
    return [
      ...this.putText(requireText(place.database, 'place.database')),
      ...this.putText(requireText(place.queue, 'place.queue')),
      ...this.putText(requireText(place.id, 'place.id')),
    ];
  }

  u32(pointer) {
    return new DataView(this.core.memory.buffer).getUint32(pointer, true);
  }

  /**
   * A copy of `length` bytes at `pointer`. Made with set() into a fresh array rather than slice(): on Node 20
   * slice() of a view of Wasm memory measured several times slower for large outputs (1 MiB).
   */
  read(pointer, length) {
    const bytes = new Uint8Array(length);
    bytes.set(new Uint8Array(this.core.memory.buffer, pointer, length));
    return bytes;
  }

  /** Marks an allocation as holding no secret any more (a plaintext sealed in place): release() only frees it. */
  declassify(pointer) {
    for (const allocation of this.allocations) if (allocation[0] === pointer) allocation[2] = false;
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

/**
 * Runs an export that writes (out, cap, out_len) and answers buffer-too-small with the length it needs:
 * tries `capacity` first, then exactly the needed length. Returns [status, bytes]. `secret` outputs are
 * zero-filled in Wasm memory before they are freed.
 * @param {import('./core.js').WasmCore} core
 * @param {(f: Frame, x: object, out: number, cap: number, outLen: number) => number} invoke
 */
export function withOutput(core, capacity, secret, invoke) {
  let cap = Math.max(capacity, 16);
  for (let round = 0; round < 2; round += 1) {
    const result = core.call((f, x) => {
      const out = f.alloc(cap, secret);
      const outLen = f.alloc(4);
      const rc = invoke(f, x, out, cap, outLen);
      const length = f.u32(outLen);
      if (rc === STATUS['buffer-too-small'] && length > cap) return { retry: length };
      return { rc, bytes: f.read(out, Math.min(length, cap)) };
    });
    if (result.retry === undefined) return [result.rc, result.bytes];
    cap = result.retry;
  }
  throw new SealpostError('buffer-too-small', 'an output did not fit twice');
}
