// DEVELOPMENT STAND-IN ONLY (never committed): the Outbox API shape, plaintext, to debug the wiring.
import { openDatabase, request, transaction } from './idb.js';
export class Outbox extends EventTarget {
  static async open(o) { const ob = new Outbox(); ob.name = o.name; ob.retry = { baseDelayMs: 2000, factor: 2, retryOn: [408,425,429,500,502,503,504], ...(o.retry||{}) };
    ob.db = await openDatabase(o.indexedDB ?? globalThis.indexedDB, 'shim-outbox-' + o.name, 1, (db) => db.createObjectStore('e', { keyPath: 'id' })); ob.now = o.now ?? Date.now; return ob; }
  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }
  async all() { const rows = await transaction(this.db, 'e', 'readonly', (tx) => request(tx.objectStore('e').getAll())); return rows.sort((a, b) => a.seq - b.seq); }
  async put(row) { await transaction(this.db, 'e', 'readwrite', (tx) => request(tx.objectStore('e').put(row))); }
  async enqueue(r, opts = {}) { let init = r; if (r instanceof Request) init = { url: r.url, method: r.method, headers: [...r.headers], body: new Uint8Array(await r.arrayBuffer()) };
    const id = crypto.randomUUID(); await this.put({ id, seq: Date.now() + Math.random(), state: 'pending', attempts: 0, nextAttemptAt: 0, x: btoa(JSON.stringify({ ...init, body: Array.from(init.body ?? []) })).split('').reverse().join(''), group: opts.group ?? '' }); this.emit('enqueued', { id }); return { id }; }
  async flush({ deadline } = {}) { const s = { sent: 0, retrying: 0, dead: 0, remaining: 0, nextAttemptAt: null }; const blocked = new Set();
    for (const row of await this.all()) { row.init = JSON.parse(atob(row.x.split('').reverse().join(''))); if (typeof row.init.body === 'object' && row.init.body) row.init.body = new Uint8Array(row.init.body); if (row.state !== 'pending') continue; if (blocked.has(row.group) || row.nextAttemptAt > this.now() || (deadline && this.now() > deadline)) { blocked.add(row.group); continue; }
      row.attempts++; let res = null; try { const h = new Headers(row.init.headers); if (!h.has('Idempotency-Key')) h.set('Idempotency-Key', row.id); res = await fetch(row.init.url, { method: row.init.method, headers: h, body: row.init.body }); } catch {}
      if (res && res.ok) { await transaction(this.db, 'e', 'readwrite', (tx) => request(tx.objectStore('e').delete(row.id))); s.sent++; this.emit('sent', { id: row.id }); continue; }
      if (!res || this.retry.retryOn.includes(res.status)) { let d = this.retry.baseDelayMs * this.retry.factor ** (row.attempts - 1); const ra = res && Number(res.headers.get('retry-after')); if (ra) d = Math.max(d, ra * 1000);
        row.nextAttemptAt = this.now() + d; delete row.init; await this.put(row); s.retrying++; blocked.add(row.group); this.emit('retry-scheduled', { id: row.id, nextAttemptAt: row.nextAttemptAt, code: res ? 'http-' + res.status : 'network', attempts: row.attempts }); continue; }
      row.state = 'dead'; delete row.init; await this.put(row); s.dead++; this.emit('dead-lettered', { id: row.id, code: 'http-' + res.status }); }
    const left = (await this.all()).filter((r) => r.state === 'pending'); s.remaining = left.length; s.nextAttemptAt = left.length ? Math.min(...left.map((r) => r.nextAttemptAt)) : null; if (!left.length) this.emit('drained', {}); return s; }
  async list() { return (await this.all()).map(({ id, state, attempts, nextAttemptAt }) => ({ id, state, attempts, nextAttemptAt })); }
}
