// sealpost/page in Debian's Chromium: subscribe() says clearly when no push service answers, the page
// asks for a flush when it comes back online, and the worker's periodicsync handler sends what is due.
import test from 'node:test';
import assert from 'node:assert/strict';

import { sleep, startWorld, until } from './sw-setup.js';

test('subscribe(): a bad VAPID key is invalid-argument; no reachable push service is push-unavailable, in time', async (t) => {
  const world = await startWorld();
  t.after(() => world.close());
  await world.open('/t/harness.html');
  const vapidPublicKey = world.demo.data.state.vapid.publicKey;
  const bad = await world.page.evaluate(() => window.sp.subscribe({ vapidPublicKey: 'short' })
    .then(() => 'subscribed', (e) => ({ name: e.name, code: e.code })));
  assert.deepEqual(bad, { name: 'SealpostError', code: 'invalid-argument' });
  const started = Date.now();
  const result = await world.page.evaluate((key) => window.sp.subscribe({ vapidPublicKey: key, timeoutMs: 1500 })
    .then((r) => ({ ok: true, keyId: r.keyId }), (e) => ({ code: e.code, message: e.message })), vapidPublicKey);
  const took = Date.now() - started;
  if (result.ok) {
    // A machine with a reachable push service: subscribe() returned what the server needs.
    assert.match(result.keyId, /^[A-Za-z0-9_-]{11}$/);
    return;
  }
  assert.equal(result.code, 'push-unavailable', JSON.stringify(result));
  assert.match(result.message, /no push service answered within 2 s|refused the subscription/);
  assert.ok(took < 6000, `subscribe gave up after ${took} ms`);
});

test('the page asks the worker to flush when it comes back online, and what waited out a network backoff goes at once', async (t) => {
  // Chromium lifts its offline emulation from the page before the worker: a flush the page's real `online`
  // event asks for at once may still fail in the worker. So the page listens only after the network is back
  // for both, and its `online` listener is then driven by the event itself.
  const world = await startWorld({ worker: { retry: { baseDelayMs: 600000, factor: 1, jitter: 'none' }, startupBudgetMs: 1 } });
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  await world.context.setOffline(true);
  assert.equal((await world.page.evaluate(() => window.postNote('from the tunnel'))).status, 202);
  // A flush while offline: the attempt fails at the network, and the entry waits out a 10-minute backoff.
  const offline = await world.page.evaluate(() => window.sp.flush());
  assert.equal(offline.retrying, 1, JSON.stringify(offline));
  await world.context.setOffline(false);
  await sleep(1500);
  const { nextAttemptAt } = (await world.stats()).queues.notes;
  assert.ok(nextAttemptAt > Date.now() + 60000, `backed off: ${nextAttemptAt - Date.now()} ms to go`);
  assert.equal((await world.page.evaluate(() => window.sp.flush())).sent, 0, 'a plain flush waits out the backoff');
  const flushed = await world.page.evaluate(async () => {
    const { connectSealpost } = await import('/sealpost/js/page.js');
    const connection = connectSealpost({ flushOn: ['online'] });
    const seen = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 10000);
      const stop = connection.on((e) => {
        if (e.type === 'page-flush' && e.reason === 'online') { stop(); clearTimeout(timer); resolve(e); }
      });
    });
    window.dispatchEvent(new Event('online'));
    return seen;
  });
  assert.ok(flushed, 'a page-flush event on online');
  assert.equal(flushed.sent, 1, `the online flush sent the backed-off note: ${JSON.stringify(flushed)}`);
  assert.deepEqual((await world.notes()).map((n) => n.text), ['from the tunnel']);
});

test('periodicsync flushes what is due', async (t) => {
  const world = await startWorld({ worker: { retry: { baseDelayMs: 200, jitter: 'none' }, syncBudgetMs: 1000,
    startupBudgetMs: 1 } });
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();
  await world.api('POST', '/api/switches', { mode: '503' });
  assert.equal((await world.page.evaluate(() => window.postNote('weekly summary'))).status, 202);
  // Let the sync events that queueing registered run out their short budgets against the 503s (a tag
  // registered again while its event runs fires once more at once; after that Chrome backs off for minutes).
  await world.page.evaluate(() => window.waitForEvent((e) => e.type === 'sync-incomplete', 10000));
  let syncs = -1;
  await until(async () => {
    const now = (await world.events()).filter((e) => e.type === 'sync-incomplete').length;
    const quiet = now === syncs;
    syncs = now;
    return quiet;
  }, 'the sync events to end', 15000, 1500);
  await world.api('POST', '/api/switches', { mode: 'ok' });
  const { nextAttemptAt } = (await world.stats()).queues.notes;
  await sleep(Math.max(0, nextAttemptAt - Date.now()) + 100); // the entry's next attempt is due
  assert.deepEqual(await world.notes(), [], 'not sent before the periodicsync event');
  await world.cdp.send('ServiceWorker.dispatchPeriodicSyncEvent',
    { origin: world.demo.url, registrationId: world.registrationId, tag: 'sealpost:notes' });
  const flushed = await world.page.evaluate(() => window.waitForEvent(
    (e) => e.type === 'flushed' && e.trigger === 'periodicsync' && e.sent === 1, 10000));
  assert.ok(flushed, `periodicsync sent the note: ${JSON.stringify(await world.events())}`);
  assert.deepEqual((await world.notes()).map((n) => n.text), ['weekly summary']);
});
