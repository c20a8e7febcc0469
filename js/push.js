// DEVELOPMENT STAND-IN ONLY (never committed): accepts base64url JSON "envelopes".
import { SealpostError } from './errors.js';
export class PushReceiver { static async open() { const r = new PushReceiver(); r.publicKey = 'x'.repeat(43); r.keyId = 'AAAAAAAAAAA'; r.seen = new Set(); return r; }
  async open(bytes) { if (!(bytes instanceof Uint8Array) || bytes[0] !== 0x7b) throw new SealpostError('malformed'); const m = JSON.parse(new TextDecoder().decode(bytes)); if (m.bad) throw new SealpostError(m.bad); if (this.seen.has(m.id)) throw new SealpostError('replayed'); this.seen.add(m.id); return m; } }
