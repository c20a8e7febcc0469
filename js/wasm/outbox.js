/**
 * WasmCore methods for the outbox's export area, src/wasm/exports_outbox.cpp (names in
 * exports_outbox.txt): the retry engine (JSON in, JSON out), group tags, request records and chunk
 * streams. Each method is named after its export (`sp_stream_seal_push` ↔ `streamSealPush`) and is
 * mixed into WasmCore (js/wasm/core.js).
 */
import { SealpostError, STATUS, check, statusCode } from '../errors.js';
import { decoder, encoder, requireBytes, requireText, withOutput } from './frame.js';

/** crypto_secretstream_xchacha20poly1305_ABYTES: what sealing adds to each chunk. */
export const STREAM_CHUNK_OVERHEAD = 17;
const STREAM_HEADER_BYTES = 24;

/** A JSON-in, JSON-out export of `core`. */
function jsonCall(core, name, input, invoke) {
  const text = encoder.encode(JSON.stringify(input));
  const [rc, bytes] = withOutput(core, 4096, false, (f, x, out, cap, outLen) =>
    invoke(x, f.put(text), text.length, out, cap, outLen));
  check(rc, name);
  return JSON.parse(decoder.decode(bytes));
}

export const outboxExports = {
  /**
   * sp_retry_policy: validates a retry policy in C++ and returns it complete (defaults filled in). A bad
   * option throws 'invalid-policy' whose `.field` names it (e.g. 'factor', 'retryOn[2]').
   * @param {object | undefined} policy
   */
  retryPolicy(policy) {
    let text;
    try {
      text = encoder.encode(JSON.stringify(policy ?? null));
    } catch (error) {
      throw new SealpostError('invalid-policy', `retry policy is not JSON: ${error.message}`, { field: 'retry' });
    }
    const [rc, bytes] = withOutput(this, 1024, false, (f, x, out, cap, outLen) =>
      x.sp_retry_policy(f.put(text), text.length, out, cap, outLen));
    if (statusCode(rc) === 'invalid-policy' || statusCode(rc) === 'invalid-json') {
      const field = decoder.decode(bytes);
      throw new SealpostError('invalid-policy', `retry policy: invalid option '${field}'`, { field, status: rc });
    }
    check(rc, 'retryPolicy');
    return JSON.parse(decoder.decode(bytes));
  },

  /**
   * sp_retry_decide: what an attempt's outcome means (src/core/retry.hpp decide). Input and output as
   * src/core/retry_json.hpp documents them.
   */
  retryDecide(input) {
    return jsonCall(this, 'retryDecide', input, (x, ...args) => x.sp_retry_decide(...args));
  },

  /** sp_retry_plan: what is due (src/core/retry.hpp plan_due), as src/core/retry_json.hpp documents it. */
  retryPlan(input) {
    return jsonCall(this, 'retryPlan', input, (x, ...args) => x.sp_retry_plan(...args));
  },

  /** sp_retry_after: the absolute time (ms) a Retry-After value asks for, or null when it is neither form. */
  retryAfter(value, nowMs) {
    return this.call((f, x) => {
      const [text, length] = f.putText(requireText(value, 'value'));
      const out = f.alloc(8);
      const rc = x.sp_retry_after(text, length, nowMs, out);
      if (rc !== 0) return null;
      return new DataView(this.memory.buffer).getFloat64(out, true);
    });
  },

  /** sp_group_tag: the 16-byte keyed BLAKE2b tag of a group name under a symmetric key. */
  groupTag(handle, group) {
    return this.call((f, x) => {
      // A group name can say who or what a request is about: zeroed in Wasm memory when the call returns.
      const [text, length] = f.putText(requireText(group, 'group'), true);
      const out = f.alloc(16);
      check(x.sp_group_tag(handle, text, length, out), 'groupTag');
      return f.read(out, 16);
    });
  },

  /**
   * sp_request_seal: encodes a request (fields as an object, body as bytes) to a record plaintext
   * (src/core/request_record.hpp) and seals it to its place. A bad field throws 'invalid-request' with `.field`.
   * @param {number} handle
   * @param {{database: string, queue: string, id: string}} place
   * @param {object} fields
   * @param {Uint8Array} [body]
   */
  requestSeal(handle, place, fields, body = new Uint8Array(0)) {
    const json = encoder.encode(JSON.stringify(fields));
    const bytes = requireBytes(body, 'body');
    try {
      const [rc, out] = withOutput(this, json.length + bytes.length + 256, false, (f, x, o, cap, outLen) =>
        x.sp_request_seal(handle, ...f.putPlace(place), f.put(json, true), json.length,
          f.put(bytes, true), bytes.length, o, cap, outLen));
      if (rc === STATUS['invalid-request']) {
        const field = decoder.decode(out);
        check(rc, null, { message: `request: invalid ${field}`, field });
      }
      check(rc, 'requestSeal');
      return out;
    } finally {
      json.fill(0);
    }
  },

  /**
   * sp_request_open: opens a sealed request record → {fields, body}. Throws 'record-tampered',
   * 'wrong-key', or 'unsupported-version' for a version-1 record (sealpost 0.1.0), which is no longer read.
   * The caller should zero `body` when done with it.
   */
  requestOpen(handle, place, sealed) {
    const bytes = requireBytes(sealed, 'sealed');
    const [rc, framed] = withOutput(this, bytes.length, true, (f, x, out, cap, outLen) =>
      x.sp_request_open(handle, ...f.putPlace(place), f.put(bytes), bytes.length, out, cap, outLen));
    try {
      check(rc, 'requestOpen');
      const length = new DataView(framed.buffer, framed.byteOffset).getUint32(0, true);
      const fields = JSON.parse(decoder.decode(framed.subarray(4, 4 + length)));
      const body = framed.slice(4 + length);
      return { fields, body };
    } finally {
      framed.fill(0);
    }
  },

  /** sp_stream_seal_init: starts sealing a chunk stream → {stream, header} (header: 24 bytes). */
  streamSealInit(handle, place) {
    return this.call((f, x) => {
      const placeArgs = f.putPlace(place);
      const header = f.alloc(STREAM_HEADER_BYTES);
      const stream = x.sp_stream_seal_init(handle, ...placeArgs, header);
      if (stream <= 0) check(-stream, 'streamSealInit');
      return { stream, header: f.read(header, STREAM_HEADER_BYTES) };
    });
  },

  /** sp_stream_seal_push: seals the next chunk of a stream (at most 1 MiB); `final` on the last one. */
  streamSealPush(stream, chunk, final) {
    const bytes = requireBytes(chunk, 'chunk');
    return this.call((f, x) => {
      const capacity = bytes.length + STREAM_CHUNK_OVERHEAD;
      const out = f.alloc(capacity);
      const outLen = f.alloc(4);
      check(x.sp_stream_seal_push(stream, f.put(bytes, true), bytes.length, final ? 1 : 0, out, capacity, outLen),
        'streamSealPush');
      return f.read(out, capacity);
    });
  },

  /** sp_stream_open_init: starts opening a chunk stream from its 24-byte header → a stream handle. */
  streamOpenInit(handle, place, header) {
    const bytes = requireBytes(header, 'header');
    return this.call((f, x) => {
      const stream = x.sp_stream_open_init(handle, ...f.putPlace(place), f.put(bytes), bytes.length);
      if (stream <= 0) check(-stream, 'streamOpenInit');
      return stream;
    });
  },

  /** sp_stream_open_pull: opens the next chunk → {plain, final}; 'record-tampered' when it does not authenticate. */
  streamOpenPull(stream, sealed) {
    const bytes = requireBytes(sealed, 'sealed');
    if (bytes.length < STREAM_CHUNK_OVERHEAD) throw new SealpostError('record-tampered', 'chunk too short');
    return this.call((f, x) => {
      const capacity = bytes.length - STREAM_CHUNK_OVERHEAD;
      const out = f.alloc(capacity, true);
      const outLen = f.alloc(4);
      const final = f.alloc(4);
      check(x.sp_stream_open_pull(stream, f.put(bytes), bytes.length, out, capacity, outLen, final), 'streamOpenPull');
      return { plain: f.read(out, capacity), final: f.u32(final) === 1 };
    });
  },

  /** sp_stream_release: forgets a chunk stream (its state is zeroed). */
  streamRelease(stream) {
    this.call((f, x) => check(x.sp_stream_release(stream), 'streamRelease'));
  },
};
