// The fetch route in Debian's Chromium, on its own worker (fixtures/routing/) and a capture server that
// keeps every byte (routing-server.js): concurrent requests from five tabs (each once, FIFO per group, the
// server's answer to every page), 202 behind a group's waiting entry, every body type byte for byte
// through an offline queue and its replay, and an offline flood against maxEntries.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { launch, watchCsp } from './browser.js';
import { startRoutingServer } from './routing-server.js';
import { sleep, until } from './sw-setup.js';
import { workerHeap } from './worker-heap.js';

async function world(t, swQuery = '') {
  const server = await startRoutingServer();
  const browser = await launch();
  t.after(async () => { await browser.close(); await server.close(); });
  await browser.context.grantPermissions(['notifications', 'background-sync'], { origin: server.url });
  const csp = watchCsp(browser.context);
  const open = async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/t/routing/page.html${swQuery ? `?sw=${encodeURIComponent(swQuery)}` : ''}`);
    const ready = await page.evaluate(() => window.ready);
    if (ready !== true) throw new Error(String(ready));
    return page;
  };
  return { server, browser, context: browser.context, csp, open };
}

const sha256 = (buffer) => createHash('sha256').update(buffer).digest('hex');

test('five tabs post 50 requests each at once into 3 groups, online: each reaches the server once, FIFO per group, every page gets the server\'s answer', async (t) => {
  const w = await world(t);
  const tabs = [];
  for (let i = 0; i < 5; i += 1) tabs.push(await w.open());
  const answers = (await Promise.all(tabs.map((page, tab) => page.evaluate((n) => window.burst(n, 50), tab)))).flat();
  assert.equal(answers.length, 250);
  const notServer = answers.filter((a) => a.status !== 201 || a.body?.label !== a.label);
  assert.deepEqual(notServer, [], 'every page got the server\'s own answer (201 for its label), no 202');

  const keys = w.server.requests.map((r) => r.key);
  assert.equal(w.server.requests.length, 250, 'each request once on the wire');
  assert.equal(new Set(keys).size, 250, 'each with its own idempotency key');
  assert.ok(keys.every((k) => /^[0-9a-f]{32}$/.test(k)));
  assert.deepEqual(new Set(w.server.requests.map((r) => r.label)), new Set(answers.map((a) => a.label)));

  // FIFO per group: the server got each group's requests in the order the worker received them.
  const seen = await tabs[0].evaluate(() => window.seen());
  assert.equal(seen.length, 250);
  for (const group of ['g0', 'g1', 'g2']) {
    const arrived = w.server.requests.filter((r) => r.group === group).map((r) => r.label);
    const received = seen.filter((s) => s.group === group).map((s) => s.label);
    assert.ok(arrived.length > 70, `${group}: ${arrived.length} requests`);
    assert.deepEqual(arrived, received, `${group}: in the order the worker received them`);
  }
  // And each tab's requests of a group in the order the tab made them.
  for (let tab = 0; tab < 5; tab += 1) {
    for (const group of ['g0', 'g1', 'g2']) {
      const made = answers.filter((a) => a.label.startsWith(`t${tab}-`)
        && `g${Number(a.label.split('-')[1]) % 3}` === group).map((a) => a.label);
      const arrived = w.server.requests.filter((r) => r.group === group && r.label.startsWith(`t${tab}-`)).map((r) => r.label);
      assert.deepEqual(arrived, made, `tab ${tab}, ${group}`);
    }
  }
  const stats = await tabs[0].evaluate(() => new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = (e) => resolve(e.data);
    navigator.serviceWorker.controller.postMessage({ type: 'sealpost:stats' }, [port2]);
  }));
  assert.deepEqual([stats.queues.writes.pending, stats.queues.writes.inflight], [0, 0], 'nothing left queued');
  assert.deepEqual(w.csp, []);
});

test('202 only behind a waiting entry of the same group: a Retry-After, a failed attempt; other groups get the server\'s answer', async (t) => {
  const w = await world(t);
  w.server.script = (req, url) => (url.searchParams.get('label') === 'a0' ? { status: 503, retryAfter: 3600 } : 'ok');
  const page = await w.open();
  const post = (group, label) => page.evaluate(([g, l]) => fetch(`/t/routing/api/notes?group=${g}&label=${l}`,
    { method: 'POST', body: l }).then((r) => ({ status: r.status, queued: r.headers.get('Sealpost-Queued') })), [group, label]);

  assert.equal((await post('A', 'a0')).status, 202, 'a status in queueOnStatus');
  // The sync registered for it runs at once (online) and meets the 503 again: a0 now waits an hour.
  await until(() => w.server.requests.filter((r) => r.label === 'a0').length >= 2, 'the replay of a0');
  await sleep(300);
  assert.equal((await post('A', 'a1')).status, 202, 'behind a0, which waits on its Retry-After');
  assert.equal((await post('B', 'b0')).status, 201, 'group B does not wait for group A');
  await sleep(500);
  assert.deepEqual(w.server.requests.filter((r) => r.label === 'a1'), [], 'a1 never went out ahead of a0');

  // A failed attempt: c0 fails offline; back online, c1 of the same group is queued behind it, and the
  // flush that 202 asks for sends both, in order.
  await w.context.setOffline(true);
  assert.equal((await post('C', 'c0')).status, 202);
  await w.context.setOffline(false);
  const c1 = await post('C', 'c1');
  assert.equal(c1.status, 202, 'behind c0, whose attempt failed');
  await until(() => w.server.requests.filter((r) => r.group === 'C').length >= 2, 'group C at the server');
  assert.deepEqual(w.server.requests.filter((r) => r.group === 'C').map((r) => r.label), ['c0', 'c1']);
  assert.deepEqual(w.csp, []);
});

test('every body type and method, queued offline and replayed: the server gets the bytes and content-type the worker received', async (t) => {
  const w = await world(t, 'digest=1');
  const page = await w.open();
  await w.context.setOffline(true);
  const answers = await page.evaluate(() => window.bodyCases());
  const byLabel = new Map(answers.map((a) => [a.label, a]));
  for (const a of answers) assert.equal(a.status, 202, `${a.label} queued: ${JSON.stringify(a)}`);
  assert.equal(w.server.requests.length, 0);
  await w.context.setOffline(false);
  await until(() => w.server.applied.size >= answers.length, 'every case at the server', 30000);
  await sleep(500);

  const seen = new Map((await page.evaluate(() => window.seen())).map((s) => [s.label, s]));
  assert.deepEqual(w.server.requests.map((r) => r.label), answers.map((a) => a.label), 'once each, in order');
  for (const r of w.server.requests) {
    const sent = seen.get(r.label);
    assert.equal(r.method, byLabel.get(r.label).method, r.label);
    assert.equal(r.key, byLabel.get(r.label).queued, `${r.label}: the entry's key`);
    assert.equal(r.headers['content-type'], sent.contentType ?? undefined, `${r.label}: content-type`);
    assert.equal(r.body.length, sent.digest.size, `${r.label}: size`);
    assert.equal(sha256(r.body), sent.digest.sha256, `${r.label}: the same bytes`);
  }
  const got = new Map(w.server.requests.map((r) => [r.label, r]));
  // The content types the page's bodies imply, as they reached the server.
  assert.match(got.get('formdata').headers['content-type'], /^multipart\/form-data; boundary=/);
  assert.equal(got.get('blob').headers['content-type'], 'image/png');
  assert.equal(got.get('arraybuffer').headers['content-type'], undefined, 'no content-type was given, none is added');
  assert.equal(got.get('urlsearchparams').headers['content-type'], 'application/x-www-form-urlencoded;charset=UTF-8');
  assert.equal(got.get('urlsearchparams').body.toString(), 'a=1&b=%C3%A9+x%26y%3Dz');
  assert.equal(got.get('put').body.toString(), 'replace with this ✓');
  assert.equal(got.get('patch').headers['content-type'], 'application/merge-patch+json');
  for (const label of ['empty', 'delete']) assert.equal(got.get(label).body.length, 0, label);
  assert.equal(got.get('stream').body.length, 1500);

  // The multipart body agrees with its boundary and holds both parts intact.
  const form = got.get('formdata');
  const boundary = form.headers['content-type'].split('boundary=')[1];
  const text = form.body.toString('latin1');
  assert.ok(text.startsWith(`--${boundary}\r\n`) && text.endsWith(`--${boundary}--\r\n`), 'framed by its boundary');
  assert.match(text, /name="file"; filename="field photo.bin"\r\nContent-Type: application\/octet-stream\r\n\r\n/);
  const start = text.indexOf('\r\n\r\n', text.indexOf('name="file"')) + 4;
  const file = form.body.subarray(start, start + 70000);
  const expected = Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 31 + 7 + (i >> 8)) & 255));
  assert.ok(file.equals(expected), 'the file part byte for byte');
  assert.ok(form.body.includes(Buffer.from('name="note"\r\n\r\nhéllo ✓ "quoted" line\r\nbreak\r\n--')), 'the text part');
  assert.deepEqual(w.csp, []);
});

test('online, every body type and method gets the server\'s answer (a ReadableStream too), with the bytes and content-type the worker received', async (t) => {
  const w = await world(t, 'digest=1');
  const page = await w.open();
  const answers = await page.evaluate(() => window.bodyCases('online'));
  assert.deepEqual(answers.filter((a) => a.status !== 201), [], 'no 202 while the network works');
  const seen = new Map((await page.evaluate(() => window.seen())).map((s) => [s.label, s]));
  assert.deepEqual(w.server.requests.map((r) => r.label), answers.map((a) => a.label), 'once each, in order');
  for (const r of w.server.requests) {
    const sent = seen.get(r.label);
    assert.equal(r.method, answers.find((a) => a.label === r.label).method, r.label);
    assert.match(r.key ?? '', /^[0-9a-f]{32}$/, `${r.label}: the entry's key`);
    assert.equal(r.headers['content-type'], sent.contentType ?? undefined, `${r.label}: content-type`);
    assert.equal(sha256(r.body), sent.digest.sha256, `${r.label}: the same bytes`);
  }
  assert.equal(w.server.requests.find((r) => r.label === 'stream').body.length, 1500);
  assert.deepEqual(w.csp, []);
});

// 1,000 requests by default (npm test's time); SEALPOST_FLOOD=10000 runs the full flood (about two minutes
// here: each request of one group is stored, or refused, after the one before it).
test('an offline flood stops at maxEntries with quota (507, Sealpost-Error: quota), the worker\'s heap stays bounded, the page responsive, and what was queued is sent', async (t) => {
  const FLOOD = Number(process.env.SEALPOST_FLOOD ?? 1000);
  const MAX = 100;
  const w = await world(t, `maxEntries=${MAX}`);
  const page = await w.open();
  // The worker's live JS heap (after a full GC): before, while the flood runs, and after it.
  const heap = await workerHeap(w.context, page);
  const before = await heap.usedAfterGc();
  await w.context.setOffline(true);
  let flooding = true;
  const flood = page.evaluate((n) => window.flood(n), FLOOD).finally(() => { flooding = false; });
  const samples = [];
  const sampling = (async () => {
    while (flooding) {
      samples.push(await heap.usedAfterGc());
      await sleep(1000); // a full GC of the worker each time: not so often that it slows the flood
    }
  })();
  // While the flood runs the page answers, and its timer keeps ticking.
  await until(() => page.evaluate(() => window.floodProgress?.().statuses[507] > 0), 'the first quota answers', 120000);
  const during = await page.evaluate(() => window.floodProgress());
  const result = await flood;
  await sampling;
  const after = await heap.usedAfterGc();
  const peak = Math.max(...samples.map((s) => s.used + s.backing));
  const MiB = (n) => `${(n / 1048576).toFixed(1)} MiB`;
  t.diagnostic(`worker heap (live after GC, JS + array buffers): before ${MiB(before.used + before.backing)}, `
    + `peak of ${samples.length} samples during ${FLOOD} requests ${MiB(peak)}, after ${MiB(after.used + after.backing)}`);
  // Bounded: the requests the page holds open at once are what the worker holds (a few KiB each, their
  // bodies included), and once answered nothing of them stays.
  assert.ok(peak - (before.used + before.backing) < FLOOD * 8192, `peak ${MiB(peak)} for ${FLOOD} requests`);
  assert.ok(after.used + after.backing - (before.used + before.backing) < 4 * 1048576,
    `retained after the flood: ${MiB(after.used + after.backing - before.used - before.backing)}`);
  assert.deepEqual(result.statuses, { 202: MAX, 507: FLOOD - MAX }, JSON.stringify(result));
  assert.deepEqual(result.errors, { quota: FLOOD - MAX }, 'every refused request says quota');
  assert.ok(result.ticks > during.ticks, `the page timer kept ticking (${during.ticks} → ${result.ticks})`);
  const stats = await page.evaluate(() => new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = (e) => resolve(e.data);
    navigator.serviceWorker.controller.postMessage({ type: 'sealpost:stats' }, [port2]);
  }));
  assert.equal(stats.queues.writes.pending, MAX, 'the queue holds maxEntries');
  await w.context.setOffline(false);
  await until(() => w.server.applied.size >= MAX, 'the queued requests at the server', 60000);
  await sleep(500);
  assert.equal(w.server.applied.size, MAX, 'the refused ones were never stored, the stored ones all sent');
  const sent = w.server.requests.map((r) => Number(r.label.slice(1)));
  assert.deepEqual(sent, [...sent].sort((a, b) => a - b), 'in the order they were queued');
  assert.deepEqual(w.csp, []);
});
