import { createCore, KeyKind } from '../../js/wasm.js';
const core = await createCore();
const h = core.generateKey(KeyKind.symmetric);
const place = { database: 'd', queue: 'q', id: '1' };
const pt = new Uint8Array(256);
const s = core.sealRecord(h, place, pt);
for (const [name, f] of [['seal', () => core.sealRecord(h, place, pt)], ['open', () => core.openRecord(h, place, s)]]) {
  for (let i = 0; i < 20000; i++) f();
  const n = 200000; const t = process.hrtime.bigint(); for (let i = 0; i < n; i++) f(); const dt = Number(process.hrtime.bigint() - t) / 1e9;
  console.log(name, Math.round(n / dt), 'ops/s');
}
