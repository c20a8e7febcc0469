/**
 * Reading a queue's entries for inspectors and tooling (Outbox.list, entry, request, preview, sealedRecord,
 * deadLetters): what is stored and, decrypted, what was queued. Nothing here writes.
 */
import { SealpostError } from '../errors.js';
import { entryInfo } from './entry.js';

export class EntryReader {
  /**
   * @param {{name: string, header: string | null, store: import('./store.js').OutboxStore,
   *   codec: import('./request.js').RequestCodec}} parts
   */
  constructor({ name, header, store, codec }) {
    this.name = name;
    this.header = header;
    this.store = store;
    this.codec = codec;
  }

  /** The stored row of entry `id` of this queue, or null; `what` names the call in the error for a bad id. */
  async row(id, what) {
    if (typeof id !== 'string') throw new SealpostError('invalid-argument', `${what}(id) needs an entry id`);
    const row = await this.store.entry(id);
    return row && row.queue === this.name ? row : null;
  }

  /** Rows as list() describes them: scheduling fields, method, URL and metadata, or `error`. */
  async describe(rows) {
    const out = [];
    for (const row of rows) {
      const item = entryInfo(row);
      try {
        const { fields, body } = await this.codec.openRecord(row);
        body.fill(0);
        Object.assign(item, { method: fields.method, url: fields.url, metadata: fields.metadata });
      } catch (error) {
        item.error = error instanceof SealpostError ? error.code : 'record-tampered';
      }
      out.push(item);
    }
    return out;
  }

  async entry(id) {
    const row = await this.row(id, 'entry');
    return row ? (await this.describe([row]))[0] : null;
  }

  async request(id) {
    const row = await this.row(id, 'request');
    return row ? this.codec.replay(row, undefined, this.header) : null;
  }

  async preview(id, maxBytes) {
    if (typeof id === 'string' && (!Number.isSafeInteger(maxBytes) || maxBytes < 0)) {
      throw new SealpostError('invalid-argument', 'maxBytes must be a whole number of bytes');
    }
    const row = await this.row(id, 'preview');
    if (!row) return null;
    const { fields, head, size } = await this.codec.openHead(row, maxBytes);
    return { ...entryInfo(row), method: fields.method, url: fields.url, metadata: fields.metadata, body: head,
      bodySize: size };
  }

  async sealedRecord(id) {
    const row = await this.row(id, 'sealedRecord');
    if (!row) return null;
    const record = await this.store.record(id);
    return record instanceof Uint8Array ? record : null;
  }
}
