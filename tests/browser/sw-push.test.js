// installSealpost's push wiring in Debian's Chromium, with the demo's worker: sealed envelopes from
// sealpost/server arrive as real `push` events (CDP deliverPushMessage, base64url text) or through the
// sealpost:deliver message; valid ones become notifications (preferences applied), every failure shows
// the shared fallback and broadcasts its code, and a click never opens a foreign origin.
import test from 'node:test';
import assert from 'node:assert/strict';

import { sealPush } from '../../js/server.js';
import { startWorld, until, sleep } from './sw-setup.js';

const FALLBACK_TAG = 'field-notes-fallback';

/** A world on the harness page with CDP attached and the device's push key. */
async function pushWorld(t) {
  const world = await startWorld();
  t.after(() => world.close());
  await world.open('/t/harness.html?flushOn=none');
  await world.attachCdp();
  const key = await world.page.evaluate(() => window.sp.pushKey());
  assert.match(key.publicKey, /^[A-Za-z0-9_-]{43}$/);
  const signer = world.demo.data.state.signer;
  world.seal = (message, options = {}) => sealPush({ recipientPublicKey: key.publicKey, signer, message, ...options });
  /** Delivers a real push event and resolves with the event the worker broadcast about it. */
  world.push = async (envelope) => {
    const before = (await world.events()).length;
    await world.deliverPush(Buffer.from(envelope).toString('base64url'));
    return until(async () => (await world.events()).slice(before)
      .find((e) => e.type === 'push-shown' || e.type === 'push-rejected'), 'the worker to handle the push', 10000, 25);
  };
  return world;
}

test('push: a sealed, signed message shows its notification; tampered, unsigned, replayed and expired ones show the fallback with their code', async (t) => {
  const world = await pushWorld(t);
  const valid = world.seal({ id: 'reply-1', title: 'Anna replied', body: 'See you at the trailhead', tag: 'thread-7',
    url: '/notes/7', category: 'replies', data: { thread: 7 }, actions: [{ action: 'not-useful', title: 'Not useful' }] });
  const shown = await world.push(valid);
  assert.equal(shown.type, 'push-shown', JSON.stringify(shown));
  assert.equal(shown.id, 'reply-1');
  const [notification] = await world.page.evaluate(() => window.notifications('thread-7'));
  assert.equal(notification.title, 'Anna replied');
  assert.equal(notification.body, 'See you at the trailhead');
  assert.equal(notification.tag, 'thread-7');
  assert.equal(notification.silent, false);
  assert.deepEqual(notification.data, { id: 'reply-1', url: '/notes/7', category: 'replies', data: { thread: 7 } });
  assert.deepEqual(notification.actions, ['not-useful']);

  const tampered = Uint8Array.from(world.seal({ id: 'reply-2', title: 'Changed on the way' }));
  tampered[tampered.length - 20] ^= 0x01;
  const unsigned = sealPush({ recipientPublicKey: (await world.page.evaluate(() => window.sp.pushKey())).publicKey,
    message: { id: 'reply-3', title: 'Who sent this?' } });
  const expired = world.seal({ id: 'reply-4', title: 'Too late', ttl: 60 }, { now: Date.now() - 3600 * 1000 });
  const cases = [[tampered, 'decrypt-failed'], [unsigned, 'unsigned'], [valid, 'replayed'], [expired, 'expired'],
    [new TextEncoder().encode('not an envelope'), 'malformed']];
  for (const [envelope, code] of cases) {
    const rejected = await world.push(envelope);
    assert.deepEqual({ type: rejected.type, code: rejected.code }, { type: 'push-rejected', code }, JSON.stringify(rejected));
  }
  const fallbacks = await world.page.evaluate((tag) => window.notifications(tag), FALLBACK_TAG);
  assert.equal(fallbacks.length, 1, 'fallbacks share one tag, so they collapse');
  assert.equal(fallbacks[0].title, 'Field notes');
  assert.equal(fallbacks[0].data.fallback, true);
  assert.equal(fallbacks[0].data.code, 'malformed', 'the latest fallback names its cause');
  assert.deepEqual(world.csp, []);
  assert.deepEqual(await world.pageViolations(), []);
});

test('push: a muted category and quiet hours make the notification silent', async (t) => {
  const world = await pushWorld(t);
  await world.page.evaluate(() => window.sp.preferences({ mutedCategories: ['digest'] }));
  const muted = await world.push(world.seal({ id: 'd-1', title: 'Weekly digest', tag: 'digest', category: 'digest' }));
  assert.deepEqual({ silent: muted.silent, reason: muted.reason }, { silent: true, reason: 'muted-category' });
  const loud = await world.push(world.seal({ id: 'r-1', title: 'A reply', tag: 'reply', category: 'replies' }));
  assert.equal(loud.silent, false);

  // Quiet hours around the browser's current local time.
  const quietHours = await world.page.evaluate(() => {
    const hhmm = (d) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    return { start: hhmm(new Date(Date.now() - 3600e3)), end: hhmm(new Date(Date.now() + 3600e3)) };
  });
  const prefs = await world.page.evaluate((q) => window.sp.preferences({ quietHours: q }), quietHours);
  assert.deepEqual(prefs, { mutedCategories: ['digest'], quietHours });
  const quiet = await world.push(world.seal({ id: 'r-2', title: 'Another reply', tag: 'reply-2', category: 'replies' }));
  assert.deepEqual({ silent: quiet.silent, reason: quiet.reason }, { silent: true, reason: 'quiet-hours' });
  const shown = await world.page.evaluate(() => window.notifications());
  const byTag = Object.fromEntries(shown.map((n) => [n.tag, n.silent]));
  assert.deepEqual(byTag, { digest: true, reply: false, 'reply-2': true });
});

test('push: simulated delivery (sealpost:deliver) opens what /api/push/simulate sealed', async (t) => {
  const world = await pushWorld(t);
  const { publicKey } = await world.page.evaluate(() => window.sp.pushKey());
  const result = await world.page.evaluate(async (key) => {
    const res = await fetch('/api/push/simulate', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ publicKey: key, message: { title: 'Simulated', tag: 'sim', url: '/' } }) });
    const { envelope } = await res.json();
    return { first: await window.sp.deliver(envelope), again: await window.sp.deliver(envelope) };
  }, publicKey);
  assert.deepEqual(result.first, { shown: true, tag: 'sim', silent: false });
  assert.deepEqual(result.again, { shown: 'fallback', code: 'replayed' });
});

test('notificationclick: a foreign-origin url is refused, nothing is opened', async (t) => {
  const world = await pushWorld(t);
  // The sealer and the receiver both refuse a url that is not a same-origin path, so a foreign url can only
  // come from elsewhere (an onMessage hook, another script's notification): the click handler checks again.
  assert.throws(() => world.seal({ title: 'Click me', url: 'https://evil.example/login' }), { code: 'invalid-message' });
  assert.throws(() => world.seal({ title: 'Click me', url: '//evil.example/login' }), { code: 'invalid-message' });
  const [worker] = world.context.serviceWorkers();
  const pagesBefore = world.context.pages().length;
  for (const url of ['https://evil.example/login', '//evil.example/login']) {
    const before = (await world.events()).length;
    await worker.evaluate(async (target) => {
      await self.registration.showNotification('Click me', { tag: 'phish', data: { url: target } });
      const [notification] = await self.registration.getNotifications({ tag: 'phish' });
      self.dispatchEvent(new NotificationEvent('notificationclick', { notification, action: '' }));
    }, url);
    const click = await until(async () => (await world.events()).slice(before)
      .find((e) => e.type === 'notification-click'), 'the click to be handled');
    assert.equal(click.outcome, 'refused', JSON.stringify(click));
  }
  await sleep(300);
  assert.equal(world.context.pages().length, pagesBefore, 'no window was opened');
});

test('notificationclick: the not-useful action reaches the server as feedback, through the outbox', async (t) => {
  const world = await pushWorld(t);
  const shown = await world.push(world.seal({ id: 'tip-1', title: 'Try the new map', tag: 'tip', category: 'tips',
    actions: [{ action: 'not-useful', title: 'Not useful' }] }));
  assert.equal(shown.type, 'push-shown');
  const [worker] = world.context.serviceWorkers();
  await worker.evaluate(async () => {
    const [notification] = await self.registration.getNotifications({ tag: 'tip' });
    self.dispatchEvent(new NotificationEvent('notificationclick', { notification, action: 'not-useful' }));
  });
  const queued = await world.page.evaluate(() => window.waitForEvent((e) => e.type === 'feedback-queued', 10000));
  assert.ok(queued, 'the feedback was queued');
  const feedback = await until(async () => {
    const { feedback: list } = await world.api('GET', '/api/feedback');
    return list.length ? list : null;
  }, 'the feedback at the server');
  assert.equal(feedback.length, 1);
  assert.deepEqual({ messageId: feedback[0].messageId, action: feedback[0].action, category: feedback[0].category },
    { messageId: 'tip-1', action: 'not-useful', category: 'tips' });
  assert.equal(feedback[0].key, queued.id, 'sent with the outbox entry id as its idempotency key');
});

test('declarative Web Push: a real push of the JSON opens the envelope; a failure shows the generic text, navigate same-origin only', async (t) => {
  const world = await pushWorld(t);
  const origin = world.demo.url;
  const generic = { title: 'New reply', body: 'Open Field notes to read it.', navigate: `${origin}/notes` };
  /** Delivers `payload` (JSON text) as a real push event; resolves with the worker's verdict. */
  const pushJson = async (payload) => {
    const before = (await world.events()).length;
    await world.deliverPush(payload);
    return until(async () => (await world.events()).slice(before)
      .find((e) => e.type === 'push-shown' || e.type === 'push-rejected'), 'the worker to handle the push', 10000, 25);
  };
  const declarative = (message, options = {}) => world.seal(message, { declarative: generic, ...options }).toString('utf8');

  const payload = declarative({ id: 'dwp-1', title: 'Anna replied', body: 'See you at the trailhead', tag: 'dwp', url: '/notes/7' });
  assert.equal(JSON.parse(payload).web_push, 8030);
  const shown = await pushJson(payload);
  assert.deepEqual({ type: shown.type, id: shown.id }, { type: 'push-shown', id: 'dwp-1' }, JSON.stringify(shown));
  const [notification] = await world.page.evaluate(() => window.notifications('dwp'));
  assert.deepEqual({ title: notification.title, body: notification.body, data: notification.data },
    { title: 'Anna replied', body: 'See you at the trailhead', data: { id: 'dwp-1', url: '/notes/7', category: null, data: null } });

  // The same payload again is a replay: the generic text, not the message, and not the configured fallback.
  const replayed = await pushJson(payload);
  assert.deepEqual({ type: replayed.type, code: replayed.code, declarative: replayed.declarative },
    { type: 'push-rejected', code: 'replayed', declarative: true });
  let [fallback] = await world.page.evaluate((tag) => window.notifications(tag), FALLBACK_TAG);
  assert.deepEqual({ title: fallback.title, body: fallback.body, data: fallback.data },
    { title: 'New reply', body: 'Open Field notes to read it.', data: { fallback: true, code: 'replayed', url: `${origin}/notes` } });

  // Signed by no one, with a foreign navigate URL put in on the way: generic text, and no click target.
  const unsigned = JSON.parse(sealPush({ recipientPublicKey: (await world.page.evaluate(() => window.sp.pushKey())).publicKey,
    message: { id: 'dwp-2', title: 'Who sent this?' }, declarative: generic }).toString('utf8'));
  unsigned.notification.navigate = 'https://evil.example/login';
  const refused = await pushJson(JSON.stringify(unsigned));
  assert.deepEqual({ type: refused.type, code: refused.code }, { type: 'push-rejected', code: 'unsigned' });
  [fallback] = await world.page.evaluate((tag) => window.notifications(tag), FALLBACK_TAG);
  assert.deepEqual({ title: fallback.title, data: fallback.data }, { title: 'New reply', data: { fallback: true, code: 'unsigned', url: null } });
  const titles = (await world.page.evaluate(() => window.notifications())).map((n) => n.title);
  assert.ok(!titles.includes('Who sent this?'), titles.join(', '));

  // WebKit's pushnotification event, dispatched in this real worker: installSealpost listens to it and shows
  // the opened message with a navigate URL.
  const proposed = JSON.parse(declarative({ id: 'dwp-3', title: 'From pushnotification', tag: 'dwp-3', url: '/notes/3' })).notification;
  const before = (await world.events()).length;
  const [worker] = world.context.serviceWorkers();
  await worker.evaluate((notification) => {
    const event = new ExtendableEvent('pushnotification');
    Object.defineProperty(event, 'proposedNotification', { value: notification });
    self.dispatchEvent(event);
  }, proposed);
  const verdict = await until(async () => (await world.events()).slice(before)
    .find((e) => e.type === 'push-shown' || e.type === 'push-rejected'), 'the pushnotification verdict');
  assert.deepEqual({ type: verdict.type, id: verdict.id }, { type: 'push-shown', id: 'dwp-3' }, JSON.stringify(verdict));
  const [fromEvent] = await world.page.evaluate(() => window.notifications('dwp-3'));
  assert.equal(fromEvent.title, 'From pushnotification');
  assert.deepEqual(world.csp, []);
});
