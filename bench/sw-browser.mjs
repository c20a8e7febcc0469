// Service-worker timings in Debian's Chromium (headless, playwright-core), through the demo server on
// loopback: what a page waits for when its request is queued, how fast a flush drains, a worker's cold
// start to its first queued answer, and a sealed push opened and shown.
//   node bench/sw-browser.mjs [--notes 50] [--cold 10] [--pushes 20]
import { sealPush } from '../js/server.js';
import { startWorld, sleep } from '../tests/browser/sw-setup.js';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean)
  .map((part) => part.trim().split(/\s+/)).map(([k, v]) => [k, Number(v)]));
const NOTES = args.notes ?? 50;
const COLD = args.cold ?? 10;
const PUSHES = args.pushes ?? 20;

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: sorted.length, median: at(0.5), p95: at(0.95), min: sorted[0], max: sorted[sorted.length - 1] };
};
const row = (name, s, unit = 'ms') => console.log(`| ${name} | ${s.n} | ${s.median.toFixed(1)} ${unit} | `
  + `${s.p95.toFixed(1)} ${unit} | ${s.min.toFixed(1)}–${s.max.toFixed(1)} ${unit} |`);

const world = await startWorld({ worker: { startupBudgetMs: 1 } });
try {
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();
  const version = await world.context.browser()?.version() ?? 'Chromium (persistent context)';
  console.log(`sealpost service worker in ${version}; demo server on loopback; ${new Date().toISOString()}\n`);
  console.log('| what | runs | median | p95 | range |');
  console.log('| --- | --- | --- | --- | --- |');

  // Warm up: module compiled, outbox open.
  await world.page.evaluate(() => window.postNote('warm-up'));

  // 1. Offline: the page's POST answered 202 by the worker (network fails at once, then sealed and stored).
  await world.context.setOffline(true);
  const queued = await world.page.evaluate(async (n) => {
    const times = [];
    for (let i = 0; i < n; i += 1) {
      const t0 = performance.now();
      const r = await window.postNote(`bench note ${i}`);
      if (r.status !== 202) throw new Error(`expected 202, got ${r.status}`);
      times.push(performance.now() - t0);
    }
    return times;
  }, NOTES);
  row('offline POST → 202 queued (encrypted)', stats(queued));

  // 2. Online: one page-requested flush sends the whole queue (fifo, one request at a time).
  await world.context.setOffline(false);
  const t0 = Date.now();
  // (The browser's own sync event also fires on reconnecting; whichever drains, the clock stops when the
  // server holds every note.)
  while ((await world.notes()).length < NOTES + 1) {
    const summary = await world.page.evaluate(() => window.sp.flush());
    if (summary.throttled) await sleep(1000);
  }
  const drainMs = Date.now() - t0;
  console.log(`| flush of ${NOTES} queued notes (decrypt, fetch, 201, delete) | 1 | ${drainMs} ms total | `
    + `${(NOTES / (drainMs / 1000)).toFixed(0)} notes/s | |`);

  // 3. Cold start: the worker stopped, then an offline POST (module from Cache Storage, keys unwrapped).
  const cold = [];
  await world.context.setOffline(true);
  for (let i = 0; i < COLD; i += 1) {
    await world.stopAllWorkers();
    await sleep(200);
    cold.push(await world.page.evaluate(async (k) => {
      const start = performance.now();
      const r = await window.postNote(`cold ${k}`);
      if (r.status !== 202) throw new Error(`expected 202, got ${r.status}`);
      return performance.now() - start;
    }, i));
  }
  row('stopped worker → offline POST → 202', stats(cold));
  await world.context.setOffline(false);

  // 4. A sealed, signed push (simulated delivery): open in Wasm, check, showNotification, reply.
  const { publicKey } = await world.page.evaluate(() => window.sp.pushKey());
  const signer = world.demo.data.state.signer;
  const envelopes = Array.from({ length: PUSHES }, (_, i) => Buffer.from(sealPush({ recipientPublicKey: publicKey,
    signer, message: { title: `Bench ${i}`, body: 'x'.repeat(200), tag: `b${i}` } })).toString('base64url'));
  const pushes = await world.page.evaluate(async (list) => {
    const times = [];
    for (const envelope of list) {
      const start = performance.now();
      const r = await window.sp.deliver(envelope);
      if (r.shown !== true) throw new Error(JSON.stringify(r));
      times.push(performance.now() - start);
    }
    return times;
  }, envelopes);
  row('sealpost:deliver → notification shown', stats(pushes));
} finally {
  await world.close();
}
