// PushReceiver in a real Chromium module service worker: envelopes sealed by sealpost/server arrive as
// real `push` events (CDP ServiceWorker.deliverPushMessage, base64url text), open with the key kept in real
// IndexedDB under a WebCrypto wrapping key, and stay de-duplicated across a worker kill and a browser restart.
import test from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { createDemoServer } from '../../sw-demo/server.js';
import { generateSignerKeyPair, sealPush } from '../../js/server.js';
import { launch, watchCsp } from './browser.js';

const fixtures = fileURLToPath(new URL('./fixtures/push/', import.meta.url));

async function session(context, origin, signer) {
  const page = await context.newPage();
  await page.goto(`${origin}/pushfx/page.html?signer=${signer.publicKey}`);
  assert.equal(await page.evaluate(() => window.ready), true);
  const key = await page.evaluate(() => window.ask({ type: 'key' }));
  assert.ok(key.publicKey, JSON.stringify(key));
  const cdp = await context.newCDPSession(page);
  const registrationId = await new Promise((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const found = registrations.find((r) => r.scopeURL === `${origin}/pushfx/` && !r.isDeleted);
      if (found) resolve(found.registrationId);
    });
    cdp.send('ServiceWorker.enable');
  });
  const deliver = async (envelope) => {
    await cdp.send('ServiceWorker.deliverPushMessage',
      { origin, registrationId, data: Buffer.from(envelope).toString('base64url') });
    for (let i = 0; i < 200; i += 1) {
      const results = await page.evaluate(() => window.ask({ type: 'results' }));
      if (results.length) return results[0];
      await sleep(25);
    }
    throw new Error('the push was not handled');
  };
  return { page, cdp, key, deliver };
}

test('PushReceiver opens real push events in a module worker and remembers ids across restarts', async (t) => {
  const demo = await createDemoServer({ port: 0, mounts: [['/pushfx/', fixtures]] });
  t.after(() => demo.close());
  const signer = generateSignerKeyPair();
  let browser = await launch();
  const csp = watchCsp(browser.context);
  let s = await session(browser.context, demo.url, signer);
  const seal = (message, options = {}) => sealPush({ recipientPublicKey: s.key.publicKey, signer, message, ...options });

  const first = seal({ id: 'first', title: 'Hello from the server' });
  assert.deepEqual(await s.deliver(first), { ok: true, id: 'first', title: 'Hello from the server' });
  assert.deepEqual(await s.deliver(first), { ok: false, code: 'replayed' });
  const tampered = Uint8Array.from(first);
  tampered[100] ^= 1;
  assert.deepEqual(await s.deliver(tampered), { ok: false, code: 'decrypt-failed' });
  assert.deepEqual(await s.deliver(sealPush({ recipientPublicKey: s.key.publicKey, message: { title: 'x' } })),
    { ok: false, code: 'unsigned' });

  // Kill the worker: the next push starts a fresh one, which loads the same key and the seen ids.
  await s.cdp.send('ServiceWorker.stopAllWorkers');
  assert.deepEqual(await s.deliver(first), { ok: false, code: 'replayed' });
  assert.deepEqual(await s.deliver(seal({ id: 'second', title: 'After the restart' })),
    { ok: true, id: 'second', title: 'After the restart' });

  // Restart the browser on the same profile: same key (unwrapped from IndexedDB), same seen ids.
  const publicKey = s.key.publicKey;
  await browser.close({ keepProfile: true });
  browser = await launch({ profile: browser.profile });
  t.after(() => browser.close());
  s = await session(browser.context, demo.url, signer);
  assert.equal(s.key.publicKey, publicKey);
  assert.deepEqual(await s.deliver(first), { ok: false, code: 'replayed' });
  assert.deepEqual(await s.deliver(seal({ id: 'third', title: 'After the browser restart' })),
    { ok: true, id: 'third', title: 'After the browser restart' });

  // The key at rest is wrapped: IndexedDB holds no raw key, and the wrapping key cannot be exported.
  const atRest = await s.page.evaluate(async () => {
    const db = await new Promise((resolve) => { const r = indexedDB.open('sealpost-keys'); r.onsuccess = () => resolve(r.result); });
    const rows = await new Promise((resolve) => {
      const r = db.transaction('keys').objectStore('keys').getAll();
      r.onsuccess = () => resolve(r.result);
    });
    const wrapping = rows.find((row) => row?.key instanceof CryptoKey)?.key;
    const wrapped = rows.filter((row) => row && row.wrapped);
    return { extractable: wrapping?.extractable, wrappedCount: wrapped.length,
      sizes: wrapped.map((row) => row.wrapped.byteLength) };
  });
  assert.equal(atRest.extractable, false);
  assert.ok(atRest.wrappedCount >= 1);
  for (const size of atRest.sizes) assert.equal(size, 64 + 16, 'X25519 secret ‖ public, AES-GCM tag');
  assert.deepEqual(csp, []);
});

test('page and worker rotate at once: one current key, both old keys open in grace; destroy() in the page stops the worker opening', async (t) => {
  const demo = await createDemoServer({ port: 0, mounts: [['/pushfx/', fixtures]] });
  t.after(() => demo.close());
  const signer = generateSignerKeyPair();
  const browser = await launch();
  t.after(() => browser.close());
  const s = await session(browser.context, demo.url, signer);
  const original = s.key.publicKey;
  assert.deepEqual(await s.page.evaluate(() => window.pageKey()), s.key, 'page and worker share one key');
  const seal = (publicKey, id) => sealPush({ recipientPublicKey: publicKey, signer, message: { id, title: id } });

  // Both contexts rotate in the same moment, on real IndexedDB.
  const [fromPage, fromWorker] = await s.page.evaluate(() => Promise.all([window.pageRotate(), window.ask({ type: 'rotate' })]));
  assert.ok(fromPage.keyId && fromWorker.keyId, JSON.stringify([fromPage, fromWorker]));
  assert.notEqual(fromPage.keyId, fromWorker.keyId);
  const rows = await s.page.evaluate(() => window.keyRows());
  assert.ok([fromPage.keyId, fromWorker.keyId].includes(rows.current), JSON.stringify(rows));
  const loser = rows.current === fromPage.keyId ? fromWorker : fromPage;
  assert.deepEqual(rows.previous, [s.key.keyId, loser.keyId].sort(), 'the original key and the other new key are in grace');

  // Envelopes sealed to any of the three keys open as real pushes in the worker.
  for (const [key, id] of [[original, 'to-original'], [fromPage.publicKey, 'to-page-key'], [fromWorker.publicKey, 'to-worker-key']]) {
    assert.deepEqual(await s.deliver(seal(key, id)), { ok: true, id, title: id });
  }

  // The page destroys the keys while the worker holds its receiver open: the worker refuses from then on.
  assert.deepEqual(await s.page.evaluate(() => window.pageDestroy()), { destroyed: true });
  for (const [key, id] of [[original, 'late-original'], [fromPage.publicKey, 'late-page'], [fromWorker.publicKey, 'late-worker']]) {
    assert.deepEqual(await s.deliver(seal(key, id)), { ok: false, code: 'destroyed' });
  }
  const key = await s.page.evaluate(() => window.ask({ type: 'key' }));
  assert.match(key.error, /^destroyed /);
});
