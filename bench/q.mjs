import { createCore, KeyKind } from '../js/wasm.js';
const core = await createCore();
const h = core.generateKey(KeyKind.symmetric);
const x = core.exports;
const pt = new Uint8Array(256).fill(7);
const enc = new TextEncoder();
const db = x.malloc(16), q = x.malloc(16), id = x.malloc(32), inp = x.malloc(256), out = x.malloc(400), ol = x.malloc(4);
function bench(name, fn) { let n = 0; const t0 = performance.now(); while (performance.now() - t0 < 700) { fn(); n++; } console.log(name, Math.round(n / ((performance.now() - t0) / 1000))); }
bench('raw export', () => x.sp_record_seal(h, db, 8, q, 5, id, 16, inp, 256, out, 400, ol));
bench('random 24', () => core.fillRandom(out, 24));
bench('getRandomValues', () => crypto.getRandomValues(new Uint8Array(24)));
bench('malloc/free x6', () => { const a = []; for (let i = 0; i < 6; i++) a.push(x.malloc(64)); for (const p of a) x.free(p); });
bench('encode x3', () => { enc.encode('sealpost'); enc.encode('bench'); enc.encode('0123456789abcdef'); });
bench('sealRecord', () => core.sealRecord(h, { database: 'sealpost', queue: 'bench', id: '0123456789abcdef' }, pt));
