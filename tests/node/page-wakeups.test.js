// sealpost/page's calls that wait on the browser end within their time limit, and a worker without Background
// Sync says so when it registers a sync tag.
import test from 'node:test';
import assert from 'node:assert/strict';

import { connectSealpost } from '../../js/page.js';
import { registerSync } from '../../js/worker/wakeups.js';

test('unsubscribe() with no worker ever ready ends with no-service-worker within timeoutMs', async () => {
  const never = new Promise(() => {});
  const sp = connectSealpost({ serviceWorker: { ready: never }, timeoutMs: 50, flushOn: [] });
  try {
    await assert.rejects(sp.unsubscribe(), (error) => error.code === 'no-service-worker');
  } finally {
    sp.close();
  }
});

test('unsubscribe() resolves with whether there was a subscription', async () => {
  let unsubscribed = 0;
  const subscription = { unsubscribe: async () => { unsubscribed += 1; return true; } };
  const make = (sub) => connectSealpost({ flushOn: [], timeoutMs: 1000,
    serviceWorker: { ready: Promise.resolve({ pushManager: { getSubscription: async () => sub } }) } });
  const withSub = make(subscription);
  const without = make(null);
  try {
    assert.equal(await withSub.unsubscribe(), true);
    assert.equal(await without.unsubscribe(), false);
    assert.equal(unsubscribed, 1);
  } finally {
    withSub.close();
    without.close();
  }
});

test('registerSync is false without Background Sync (Firefox, Safari) or when registering fails, true when it registers', async () => {
  assert.equal(await registerSync({ registration: {} }, 'notes'), false);
  assert.equal(await registerSync({}, 'notes'), false);
  const refused = { registration: { sync: { register: async () => { throw new Error('NotAllowedError'); } } } };
  assert.equal(await registerSync(refused, 'notes'), false);
  const tags = [];
  assert.equal(await registerSync({ registration: { sync: { register: async (tag) => { tags.push(tag); } } } }, 'notes'), true);
  assert.equal(tags.length, 1);
});
