/**
 * A queued request and its sealed form: reading a Request's fields and body once, sealing them to the
 * entry's place (one record, plus a chunk stream for a large body), opening them again, and building the
 * Request a replay sends. Sealing and opening are libsodium's, in Wasm (src/core/request_record.hpp,
 * src/core/record_stream.hpp); nothing here writes plaintext anywhere but to Wasm and the replayed Request.
 */
import { SealpostError } from '../errors.js';
import { hex, unhex } from './hex.js';

/** Bodies larger than this are sealed as a chunk stream, one chunk of this size at a time. */
export const STREAM_THRESHOLD = 64 * 1024;
const CHUNK_BYTES = 64 * 1024;
/** Sealed chunks read from IndexedDB per transaction when a streamed body is opened. */
const CHUNK_BATCH = 16;

/** A Request from a Request or a plain init; 'invalid-request' when fetch would refuse it. */
export function toRequest(input) {
  if (input instanceof Request) return input;
  if (!input || typeof input !== 'object' || (typeof input.url !== 'string' && !(input.url instanceof URL))) {
    throw new SealpostError('invalid-request', 'enqueue needs a Request or {url, method, headers, body}',
      { field: 'url' });
  }
  const { url, ...init } = input;
  if (init.mode === 'navigate') init.mode = 'same-origin';
  try {
    const base = globalThis.location?.href;
    return new Request(base ? new URL(url, base) : url, init);
  } catch (error) {
    throw new SealpostError('invalid-request', `the request cannot be built: ${error.message}`,
      { field: 'request', cause: error });
  }
}

/** What a record keeps of a request besides its body (validated in C++ when sealed). */
export function requestFields(request, metadata) {
  const fields = {
    method: request.method, url: request.url, headers: [...request.headers],
    credentials: request.credentials, mode: request.mode, cache: request.cache, redirect: request.redirect,
    referrer: request.referrer, referrerPolicy: request.referrerPolicy, integrity: request.integrity,
    keepalive: request.keepalive,
  };
  if (metadata !== undefined) {
    let text;
    try {
      text = JSON.stringify(metadata);
    } catch (error) {
      throw new SealpostError('invalid-request', `metadata is not JSON: ${error.message}`, { field: 'metadata', cause: error });
    }
    fields.metadata = JSON.parse(text);
  }
  return fields;
}

/**
 * The body bytes of a request, read once. Whether there is a body is the method's to say, not
 * `request.body`'s: Firefox has no `Request.prototype.body`, so a POST there has `body === undefined`
 * and a body all the same. A caller's Request is read through a clone so it stays usable; one built here
 * (`owned`) is read directly.
 */
export async function readBody(request, owned) {
  if (request.bodyUsed) throw new SealpostError('invalid-request', 'the request body was already read', { field: 'body' });
  if (request.method === 'GET' || request.method === 'HEAD') return new Uint8Array(0);
  try {
    return new Uint8Array(await (owned ? request : request.clone()).arrayBuffer());
  } catch (error) {
    throw new SealpostError('invalid-request', `the request body cannot be read: ${error.message}`,
      { field: 'body', cause: error });
  }
}

/**
 * The idempotency rule, in one place: a request keeps the key the app put in `header`; one without it
 * carries the entry id. Every attempt (the route's first one and every replay) goes out this way.
 * @param {Headers} headers  changed in place
 */
export function setIdempotencyKey(headers, header, id) {
  if (header && !headers.has(header)) headers.set(header, id);
  return headers;
}

/** `request` with its idempotency key (a new Request only when the header has to be added). */
export function withIdempotencyKey(request, header, id) {
  if (!header || request.headers.has(header)) return request;
  return new Request(request, { headers: setIdempotencyKey(new Headers(request.headers), header, id) });
}

/** Seals and opens one queue's requests. */
export class RequestCodec {
  /**
   * @param {{core: import('../wasm/core.js').WasmCore, store: import('./store.js').OutboxStore,
   *   keys: import('./keys.js').OutboxKeys, place: (id: string) => {database: string, queue: string, id: string}}} parts
   */
  constructor({ core, store, keys, place }) {
    this.core = core;
    this.store = store;
    this.keys = keys;
    this.place = place;
  }

  /**
   * Seals a request (fields and body) to entry `id`'s place: one record, plus a chunk stream for a body
   * above STREAM_THRESHOLD. The caller zeroes `body` when done with it.
   * @returns {{record: Uint8Array, chunks: Uint8Array[]}}
   */
  seal(handle, id, fields, body) {
    const place = this.place(id);
    const chunks = [];
    if (body.length <= STREAM_THRESHOLD) return { record: this.core.requestSeal(handle, place, fields, body), chunks };
    const { stream, header } = this.core.streamSealInit(handle, place);
    try {
      for (let offset = 0; offset < body.length; offset += CHUNK_BYTES) {
        const end = Math.min(body.length, offset + CHUNK_BYTES);
        chunks.push(this.core.streamSealPush(stream, body.subarray(offset, end), end === body.length));
      }
    } finally {
      this.core.streamRelease(stream);
    }
    const streamed = { header: hex(header), size: body.length, chunks: chunks.length };
    return { record: this.core.requestSeal(handle, place, { ...fields, stream: streamed }), chunks };
  }

  /**
   * Opens an entry's record (read here unless given) → {fields, body, handle}: `body` is the inline body
   * (empty for a streamed one, whose chunks stay unread). Throws 'record-tampered', 'key-lost' or
   * 'unsupported-version' (a version-1 record).
   */
  async openRecord(row, record) {
    const sealed = record ?? await this.store.record(row.id);
    if (!(sealed instanceof Uint8Array)) {
      throw new SealpostError('record-tampered', `entry ${row.id} has no sealed record`);
    }
    const { tampered, handle } = await this.keys.forRecord(hex(this.core.recordKeyId(sealed)), row.keyId);
    if (tampered) throw new SealpostError('record-tampered', `entry ${row.id} holds a record sealed for another place`);
    if (!handle) throw new SealpostError('key-lost', `the key that sealed entry ${row.id} is gone`);
    try {
      return { ...this.core.requestOpen(handle, this.place(row.id), sealed), handle };
    } catch (error) {
      if (error instanceof SealpostError && error.code === 'wrong-key') {
        throw new SealpostError('record-tampered', error.message, { cause: error });
      }
      throw error;
    }
  }

  /** Opens an entry's record and body → {fields, body: Uint8Array | Blob | null}. */
  async open(row, record) {
    const { fields, body, handle } = await this.openRecord(row, record);
    if (!fields.stream) return { fields, body: body.length ? body : null };
    return { fields, body: await this.openBody(handle, row.id, fields.stream) };
  }

  /**
   * The first `maxBytes` of an entry's body, and its size, opening no more of it than that: the inline
   * body is cut, a streamed one opened chunk by chunk until enough is read. → {fields, head, size}
   */
  async openHead(row, maxBytes) {
    const { fields, body, handle } = await this.openRecord(row);
    if (!fields.stream) {
      const head = body.slice(0, maxBytes);
      body.fill(0);
      return { fields, head, size: body.length };
    }
    const opener = this.core.streamOpenInit(handle, this.place(row.id), unhex(fields.stream.header));
    const head = new Uint8Array(Math.min(maxBytes, fields.stream.size));
    try {
      for (let index = 0, filled = 0; filled < head.length; index += 1) {
        const [sealed] = await this.store.chunks(row.id, index, 1);
        if (!sealed) throw new SealpostError('record-tampered', `entry ${row.id} is missing body chunks`);
        const { plain } = this.core.streamOpenPull(opener, sealed);
        head.set(plain.subarray(0, head.length - filled), filled);
        filled += Math.min(plain.length, head.length - filled);
        plain.fill(0);
      }
    } finally {
      this.core.streamRelease(opener);
    }
    return { fields, head, size: fields.stream.size };
  }

  /** Opens a chunk stream into a Blob, one chunk in Wasm memory at a time. */
  async openBody(handle, id, stream) {
    const opener = this.core.streamOpenInit(handle, this.place(id), unhex(stream.header));
    const parts = [];
    let size = 0;
    try {
      for (let index = 0; index < stream.chunks; index += CHUNK_BATCH) {
        const count = Math.min(CHUNK_BATCH, stream.chunks - index);
        const sealedChunks = await this.store.chunks(id, index, count);
        if (sealedChunks.length !== count) {
          throw new SealpostError('record-tampered', `entry ${id} is missing body chunks`);
        }
        for (let i = 0; i < count; i += 1) {
          const { plain, final } = this.core.streamOpenPull(opener, sealedChunks[i]);
          if (final !== (index + i === stream.chunks - 1)) {
            throw new SealpostError('record-tampered', `entry ${id} has a truncated or extended body`);
          }
          size += plain.length;
          parts.push(plain);
        }
      }
      if (size !== stream.size) throw new SealpostError('record-tampered', `entry ${id} body has the wrong size`);
      return new Blob(parts);
    } finally {
      this.core.streamRelease(opener);
      for (const part of parts) part.fill(0);
    }
  }

  /**
   * The Request a replay of an entry sends: its record and body opened, with the idempotency key.
   * Throws 'record-tampered' or 'key-lost'.
   */
  async replay(row, record, header) {
    const { fields, body } = await this.open(row, record);
    const headers = setIdempotencyKey(new Headers(fields.headers ?? []), header, row.id);
    const init = { method: fields.method, headers };
    for (const name of ['credentials', 'cache', 'redirect', 'referrer', 'referrerPolicy', 'integrity', 'keepalive']) {
      if (fields[name] !== undefined) init[name] = fields[name];
    }
    if (fields.mode !== undefined) init.mode = fields.mode === 'navigate' ? 'same-origin' : fields.mode;
    // fetch refuses keepalive bodies over 64 KiB, and a replay has no page to outlive anyway.
    if (init.keepalive && fields.stream) init.keepalive = false;
    // The Request owns `body` from here and it is never wiped: WebKit's Request keeps a reference to the
    // buffer instead of copying it (the Fetch standard copies), so zeroing it would send zeros. This copy of
    // the plaintext lives until the Request is collected after the attempt (docs/security.md, "Plaintext in the JS heap").
    if (body) init.body = body;
    try {
      return new Request(fields.url, init);
    } catch {
      // A field this runtime refuses (e.g. a mode or referrer it does not allow here): keep the essentials.
      return new Request(fields.url, { method: fields.method, headers, body: init.body });
    }
  }
}
