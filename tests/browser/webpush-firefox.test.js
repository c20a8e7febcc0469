// Real Web Push through Firefox's own push client. Firefox ESR (puppeteer-core over WebDriver BiDi, headless)
// talks Mozilla's WebSocket push protocol to sw-demo/push-service.js on 127.0.0.1; sealpost/page's
// subscribe() gets a real subscription from it, sealpost/server seals and sends through web-push (VAPID,
// RFC 8291) to that service's HTTPS endpoint, Firefox decrypts, and the demo's worker opens, verifies and
// shows the message. Nothing here is simulated: no CDP push, no sealpost:deliver.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

import { sealPush, sendSealedPush, generateVAPIDKeys } from '../../js/server.js';
import { createDemoServer } from '../../sw-demo/server.js';
import { startPushService } from '../../sw-demo/push-service.js';
import { FAST_WORKER, fixtures, sleep, until } from './sw-setup.js';

const FIREFOX = process.env.SEALPOST_FIREFOX ?? '/usr/bin/firefox-esr';
const FALLBACK_TAG = 'field-notes-fallback';
const IDLE_MS = 1000;

describe('Web Push through Firefox\'s push client and a local push service', () => {
  let push;
  let demo;
  let dataDir;
  let browser;
  let page;
  let device;     // {subscription, publicKey, keyId} from sealpost/page's subscribe()
  let vapidDetails;
  let signer;

  before(async () => {
    push = await startPushService();
    dataDir = mkdtempSync(join(tmpdir(), 'sealpost-webpush-'));
    demo = await createDemoServer({ port: 0, dataFile: join(dataDir, 'demo.json'), mounts: [['/t/', fixtures]],
      worker: FAST_WORKER, pushAgent: push.agent, pushAllowPrivateAddresses: true });
    const { vapid } = demo.data.state;
    vapidDetails = { subject: 'mailto:demo@sealpost.invalid', publicKey: vapid.publicKey, privateKey: vapid.privateKey };
    signer = demo.data.state.signer;
    browser = await puppeteer.launch({
      browser: 'firefox', executablePath: FIREFOX, headless: true,
      extraPrefsFirefox: {
        ...push.firefoxPrefs,                           // dom.push.serverURL = ws://127.0.0.1:<port>/, ...
        'permissions.default.desktop-notification': 1,  // granted, so showNotification works headless
        'alerts.useSystemBackend': false,               // ... with both prefs (BROWSER-TESTING.md)
        'dom.serviceWorkers.idle_timeout': IDLE_MS,     // an idle worker stops: a push must wake it
        'dom.serviceWorkers.idle_extended_timeout': IDLE_MS,
      },
    });
    page = await browser.newPage();
    await page.goto(`${demo.url}/t/harness.html?flushOn=none`);
    assert.equal(await page.evaluate(() => window.harnessReady), true);
  });

  after(async () => {
    const violations = page ? await page.evaluate(() => window.cspViolations).catch(() => []) : [];
    await browser?.close();
    await demo?.close();
    await push?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(violations, [], 'no Content-Security-Policy violation');
  });

  const events = () => page.evaluate(() => window.events);
  const notifications = (tag) => page.evaluate((t) => window.notifications(t), tag);
  /** Runs `send`, then waits for the worker's verdict on the push it caused (push-shown / push-rejected). */
  async function pushed(send) {
    const before = (await events()).length;
    const result = await send();
    const verdict = await until(async () => (await events()).slice(before)
      .find((e) => e.type === 'push-shown' || e.type === 'push-rejected'), 'the worker\'s push verdict', 15000, 50);
    return { result, verdict, events: (await events()).slice(before) };
  }
  const send = (envelope, options = {}) => sendSealedPush(device.subscription, envelope,
    { vapidDetails, agent: push.agent, allowPrivateAddresses: true, timeout: 5000, TTL: 60, ...options });
  const seal = (message) => sealPush({ recipientPublicKey: device.publicKey, signer, message });
  const acks = () => push.messages.filter((m) => m.dir === 'in' && m.message.messageType === 'ack')
    .flatMap((m) => m.message.updates);

  it('sealpost/page subscribe() resolves with a subscription from Firefox\'s push client', async () => {
    device = await page.evaluate((key) => window.sp.subscribe({ vapidPublicKey: key, timeoutMs: 15000 })
      .catch((error) => ({ error: `${error.code}: ${error.message}` })), vapidDetails.publicKey);
    assert.equal(device.error, undefined, device.error);
    const { endpoint, keys } = device.subscription;
    assert.ok(endpoint.startsWith(`${push.origin}/wpush/`), endpoint);
    assert.equal(Buffer.from(keys.p256dh, 'base64url').length, 65);
    assert.equal(Buffer.from(keys.auth, 'base64url').length, 16);
    // Firefox registered with the demo's VAPID key (padded base64url on the wire).
    const register = push.messages.find((m) => m.dir === 'in' && m.message.messageType === 'register');
    assert.equal(Buffer.from(register.message.key.replace(/=+$/, ''), 'base64url').toString('base64url'),
      vapidDetails.publicKey);
    // A second subscribe() keeps the subscription (same key): no second register.
    const again = await page.evaluate((key) => window.sp.subscribe({ vapidPublicKey: key }), vapidDetails.publicKey);
    assert.equal(again.subscription.endpoint, endpoint);
    assert.equal(push.messages.filter((m) => m.dir === 'in' && m.message.messageType === 'register').length, 1);
    const stored = await fetch(`${demo.url}/api/subscriptions`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify(device) });
    assert.equal(stored.status, 201);
  });

  it('the demo\'s "send" goes VAPID + RFC 8291 through Firefox, wakes the stopped worker and shows the message', async () => {
    await sleep(IDLE_MS * 3); // the worker has stopped by now
    const { result, verdict, events: seen } = await pushed(async () => (await fetch(`${demo.url}/api/push/send`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: { id: 'reply-1', title: 'Anna replied', body: 'See you at the trailhead',
        tag: 'thread-7', url: '/notes/7' } }),
    })).json());
    assert.deepEqual(result.results, [{ keyId: device.keyId, status: 'sent', statusCode: 201 }]);
    assert.equal(verdict.type, 'push-shown', JSON.stringify(verdict));
    assert.equal(verdict.id, 'reply-1');
    assert.ok(seen.some((e) => e.type === 'flushed' && e.trigger === 'start:push'),
      `the push started a new worker life: ${JSON.stringify(seen.map((e) => `${e.type} ${e.trigger ?? ''}`))}`);
    const [shown] = await notifications('thread-7');
    assert.equal(shown.title, 'Anna replied');
    assert.equal(shown.body, 'See you at the trailhead');
    assert.deepEqual(shown.data, { id: 'reply-1', url: '/notes/7', category: null, data: null });
    // Firefox decrypted the RFC 8291 layer and acknowledged delivery (code 100).
    const notification = push.messages.find((m) => m.dir === 'out' && m.message.messageType === 'notification');
    await until(() => acks().some((a) => a.version === notification.message.version && a.code === 100), 'the ack');
  });

  it('the same envelope sent again is replayed: nothing new, only the fallback', async () => {
    const envelope = seal({ id: 'reply-2', title: 'Once only', tag: 'once' });
    const first = await pushed(() => send(envelope));
    assert.deepEqual(first.result, { status: 'sent', statusCode: 201 });
    assert.equal(first.verdict.type, 'push-shown');
    const second = await pushed(() => send(envelope));
    assert.deepEqual(second.result, { status: 'sent', statusCode: 201 }, 'the push service took it: a new RFC 8291 message');
    assert.deepEqual({ type: second.verdict.type, code: second.verdict.code }, { type: 'push-rejected', code: 'replayed' });
    const once = await notifications('once');
    assert.equal(once.length, 1);
    assert.equal(once[0].title, 'Once only');
    const [fallback] = await notifications(FALLBACK_TAG);
    assert.deepEqual({ title: fallback.title, data: fallback.data }, { title: 'Field notes', data: { fallback: true, code: 'replayed' } });
  });

  it('a tampered or an unsigned envelope shows the fallback with its code', async () => {
    const tampered = Uint8Array.from(seal({ id: 'reply-3', title: 'Changed on the way' }));
    tampered[tampered.length - 20] ^= 0x01;
    const unsigned = sealPush({ recipientPublicKey: device.publicKey, message: { id: 'reply-4', title: 'Who sent this?' } });
    for (const [envelope, code] of [[tampered, 'decrypt-failed'], [unsigned, 'unsigned']]) {
      const { result, verdict } = await pushed(() => send(envelope));
      assert.equal(result.status, 'sent');
      assert.deepEqual({ type: verdict.type, code: verdict.code }, { type: 'push-rejected', code });
      const fallbacks = await notifications(FALLBACK_TAG);
      assert.equal(fallbacks.length, 1, 'fallbacks share one tag');
      assert.equal(fallbacks[0].data.code, code);
    }
    const titles = (await notifications()).map((n) => n.title);
    assert.ok(!titles.includes('Changed on the way') && !titles.includes('Who sent this?'), titles.join(', '));
  });

  it('the push service\'s refusals: 429 → retry with retryAfter, 413 and a foreign VAPID key → rejected', async () => {
    const envelope = seal({ id: 'reply-5', title: 'Later' });
    push.throttle({ times: 1, retryAfter: 90 });
    assert.deepEqual(await send(envelope), { status: 'retry', statusCode: 429, retryAfter: 90, error: 'HTTP 429' });
    // 4,000 bytes are under no envelope limit of sealpost's receiver, but over the push message's 4,096 once encrypted.
    assert.deepEqual(await send(new Uint8Array(4000)), { status: 'rejected', statusCode: 413, error: 'HTTP 413' });
    const stranger = { subject: 'mailto:x@example.com', ...generateVAPIDKeys() };
    assert.deepEqual(await send(envelope, { vapidDetails: stranger }), { status: 'rejected', statusCode: 403, error: 'HTTP 403' });
    assert.deepEqual(await send(envelope), { status: 'sent', statusCode: 201 }, 'the throttle was for one message');
    await until(async () => (await events()).some((e) => e.type === 'push-shown' && e.id === 'reply-5'), 'reply-5');
  });

  it('an envelope at sealPush\'s ceiling (3,993 bytes) fills a 4,096-byte push message and opens', async () => {
    const message = (n) => ({ id: 'big-1', iat: Math.floor(Date.now() / 1000), title: 'The long one', tag: 'big',
      body: 'x'.repeat(n) });
    const sizeWith = (n) => sealPush({ recipientPublicKey: device.publicKey, signer, message: message(n), maxEnvelopeBytes: 3993 }).length;
    const n = 3000 + 3993 - sizeWith(3000); // above the largest padding bucket the size grows byte for byte
    const envelope = sealPush({ recipientPublicKey: device.publicKey, signer, message: message(n), maxEnvelopeBytes: 3993 });
    assert.equal(envelope.length, 3993);
    const { result, verdict } = await pushed(() => send(envelope));
    assert.deepEqual(result, { status: 'sent', statusCode: 201 });
    assert.equal(push.requests.at(-1).bytes, 4096, 'RFC 8291 adds 103 bytes: exactly the push message limit');
    assert.equal(verdict.type, 'push-shown', JSON.stringify(verdict));
    const [shown] = await notifications('big');
    assert.equal(shown.body.length, n);
  });

  it('a declarative Web Push message (web_push 8030) through Firefox: the worker opens its envelope; a replay shows its generic text', async () => {
    const generic = { title: 'New reply', body: 'Open Field notes to read it.', navigate: `${demo.url}/notes` };
    const payload = sealPush({ recipientPublicKey: device.publicKey, signer, declarative: generic,
      message: { id: 'dwp-1', title: 'Declarative', body: 'Opened in the worker', tag: 'dwp', url: '/notes/1' } });
    assert.equal(JSON.parse(payload).web_push, 8030);
    const first = await pushed(() => send(payload));
    assert.deepEqual(first.result, { status: 'sent', statusCode: 201 });
    assert.deepEqual({ type: first.verdict.type, id: first.verdict.id }, { type: 'push-shown', id: 'dwp-1' },
      JSON.stringify(first.verdict));
    const [shown] = await notifications('dwp');
    assert.deepEqual({ title: shown.title, body: shown.body, url: shown.data.url },
      { title: 'Declarative', body: 'Opened in the worker', url: '/notes/1' });
    const replay = await pushed(() => send(payload));
    assert.deepEqual({ type: replay.verdict.type, code: replay.verdict.code, declarative: replay.verdict.declarative },
      { type: 'push-rejected', code: 'replayed', declarative: true });
    const [fallback] = await notifications(FALLBACK_TAG);
    assert.deepEqual({ title: fallback.title, body: fallback.body, data: fallback.data },
      { title: 'New reply', body: 'Open Field notes to read it.', data: { fallback: true, code: 'replayed', url: `${demo.url}/notes` } });
    // Nothing but the worker showed a notification for either push (no second copy of the generic one).
    const titles = (await notifications()).map((n) => n.title);
    assert.equal(titles.filter((title) => title === 'New reply').length, 1, titles.join(', '));
    assert.equal(titles.filter((title) => title === 'Declarative').length, 1, titles.join(', '));
  });

  it('subscribe() with another VAPID key replaces the subscription; after unsubscribe() it is expired', async () => {
    const old = device;
    const other = { subject: 'mailto:ops@sealpost.invalid', ...generateVAPIDKeys() };
    device = await page.evaluate((key) => window.sp.subscribe({ vapidPublicKey: key }), other.publicKey);
    assert.notEqual(device.subscription.endpoint, old.subscription.endpoint);
    assert.equal(device.publicKey, old.publicKey, 'the sealpost device key is the push receiver\'s, not the subscription\'s');
    assert.deepEqual(await sendSealedPush(old.subscription, seal({ title: 'To the old one' }),
      { vapidDetails, agent: push.agent, allowPrivateAddresses: true }), { status: 'expired', statusCode: 410, error: 'HTTP 410' });
    const { result, verdict } = await pushed(() => send(seal({ id: 'reply-6', title: 'New key' }), { vapidDetails: other }));
    assert.deepEqual(result, { status: 'sent', statusCode: 201 });
    assert.equal(verdict.id, 'reply-6');

    assert.equal(await page.evaluate(() => window.sp.unsubscribe()), true);
    await until(() => push.messages.filter((m) => m.dir === 'out' && m.message.messageType === 'unregister'
      && m.message.status === 200).length === 2, 'the second unregister');
    assert.deepEqual(await send(seal({ title: 'Too late' }), { vapidDetails: other }),
      { status: 'expired', statusCode: 410, error: 'HTTP 410' });
    // The demo still holds the first subscription: its send finds it expired and forgets it.
    const demoSend = await (await fetch(`${demo.url}/api/push/send`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: { title: 'Nobody home' } }) })).json();
    assert.deepEqual(demoSend.results.map((r) => r.status), ['expired']);
    assert.equal(demo.data.state.subscriptions.length, 0);

    // Firefox acked every message it was sent as delivered (100): it decrypted each one, and the worker's
    // push handler settled every time, refused envelopes included (a rejected one would be a nack).
    const sent = push.messages.filter((m) => m.dir === 'out' && m.message.messageType === 'notification');
    await until(() => acks().length === sent.length, 'an ack for every message');
    assert.deepEqual(acks().map((a) => a.code), sent.map(() => 100));
    assert.deepEqual(push.messages.filter((m) => m.dir === 'in' && m.message.messageType === 'nack'), []);
  });
});
