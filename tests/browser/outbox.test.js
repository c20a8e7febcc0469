// The Outbox in Chromium: real IndexedDB, Web Locks and fetch; nothing readable at rest.
import test from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { createDemoServer } from '../../sw-demo/server.js';
import { launch } from './browser.js';

const fixtures = fileURLToPath(new URL('./fixtures/outbox/', import.meta.url));

test('Outbox in a page: sealed at rest, retried after 503 + Retry-After, one drainer, byte-exact bodies', async (t) => {
  const demo = await createDemoServer({ port: 0, mounts: [['/outbox-fixture/', fixtures]] });
  const browser = await launch();
  t.after(async () => { await browser.close(); await demo.close(); });

  const arrived = [];
  await browser.context.route('**/outbox-target/**', async (route) => {
    const request = route.request();
    arrived.push({ url: new URL(request.url()).pathname, method: request.method(), headers: request.headers(),
      body: request.postDataBuffer() });
    if (arrived.length === 1) {
      await route.fulfill({ status: 503, headers: { 'retry-after': '2' }, body: '' });
    } else {
      await route.fulfill({ status: 201, contentType: 'application/json', body: '{"ok":true}' });
    }
  });
  const page = await browser.context.newPage();
  await page.goto(`${demo.url}/outbox-fixture/page.html`);
  const result = await page.evaluate(() => window.outboxResult);
  assert.equal(result.error, undefined, result.error);
  const [a, b] = result.ids;
  assert.deepEqual(result.leaks, [], 'IndexedDB holds no URL, header or body byte');
  assert.deepEqual([result.first.sent, result.first.retrying, result.first.remaining], [0, 1, 2]);
  assert.equal(result.first.nextAttemptAt, 1_700_000_000_000 + 2000, 'Retry-After: 2 over a 1 s backoff');
  assert.equal(result.both.busy, true, 'Web Locks keep a second drainer out');
  assert.deepEqual([result.second.sent, result.second.remaining], [2, 0]);
  assert.equal(result.size, 0);

  assert.deepEqual(arrived.map((r) => [r.url, r.method, r.headers['idempotency-key']]),
    [['/outbox-target/notes', 'POST', a], ['/outbox-target/notes', 'POST', a], ['/outbox-target/upload', 'PUT', b]]);
  assert.equal(arrived[1].headers.authorization, 'Bearer page-bearer');
  assert.equal(arrived[1].body.toString(), 'first note');
  assert.equal(arrived[2].body.length, 300000);
  assert.equal(arrived[2].body.reduce((s, v) => s + v, 0), result.largeSum);
  assert.deepEqual(result.events.map(([type]) => type),
    ['enqueued', 'enqueued', 'retry-scheduled', 'sent', 'sent', 'drained']);
});
