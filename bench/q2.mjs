import { createCore, KeyKind } from '../js/wasm.js';
const core = await createCore();
const h = core.generateKey(KeyKind.symmetric);
const pt = new Uint8Array(256).fill(7);
const place = { database: 'sealpost', queue: 'bench', id: '0123456789abcdef' };
let n = 0; const t0 = performance.now(); while (performance.now() - t0 < 3000) { core.sealRecord(h, place, pt); n++; }
console.log(n/3);
