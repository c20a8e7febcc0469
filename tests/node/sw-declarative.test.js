// Declarative Web Push in the worker, with synthetic events in Node (fake-indexeddb, a scripted scope): a
// `push` whose JSON is a declarative message (Chromium, Firefox), WebKit's `pushnotification` with the
// message as `proposedNotification` (with and without waitUntil), the spec's `push` with `notification`, and
// sealpost:deliver. The envelope in notification.data.sealpost is opened with the usual checks; every failure
// shows the message's own generic text, with its navigate URL only when it is same-origin.
import test from 'node:test';
import assert from 'node:assert/strict';

import { createSealpost, installSealpost } from '../../js/sw.js';
import { generateSignerKeyPair, sealPush } from '../../js/server.js';
import { ORIGIN, fakeScope, listen } from './worker-support.js';

const FALLBACK = { title: 'New activity', body: 'Open the app to see it.', tag: 'app-fallback' };
const GENERIC = { title: 'New reply', body: 'Open Field notes to read it.', navigate: `${ORIGIN}/notes` };

/** A PushMessageData of `text`. */
const pushData = (text) => {
  const bytes = new TextEncoder().encode(text);
  return { arrayBuffer: () => bytes.slice().buffer, text: () => text };
};

async function world(t) {
  const signer = generateSignerKeyPair();
  const scope = fakeScope();
  const api = installSealpost(scope, { push: { trustedSigners: [signer.publicKey], fallback: FALLBACK } });
  const { publicKey } = await scope.ask({ type: 'sealpost:push-key' });
  const events = listen();
  t.after(() => events.close());
  const seal = (message, { declarative = GENERIC, signed = true, ...options } = {}) => sealPush({ recipientPublicKey: publicKey,
    message, declarative, signer: signed ? signer : undefined, ...options }).toString('utf8');
  return { scope, api, events, seal, publicKey, signer };
}

/** The push verdicts broadcast so far, once there are `count` (BroadcastChannel delivers asynchronously). */
const verdicts = async (events, count) => (await events.until((e) => e.type === 'push-shown' || e.type === 'push-rejected', count))
  .map(({ type, code, id, declarative }) => ({ type, ...(code ? { code } : {}), ...(id ? { id } : {}), ...(declarative ? { declarative } : {}) }));

test('a push whose JSON is a declarative message opens its envelope and shows the message itself', async (t) => {
  const { scope, seal, events } = await world(t);
  const payload = seal({ id: 'r-1', title: 'Anna replied', body: 'See you at the trailhead', tag: 'thread-7', url: '/notes/7' });
  const { settled } = await scope.dispatch('push', { data: pushData(payload) });
  assert.deepEqual(settled.at(-1).value, { shown: true, tag: 'thread-7', silent: false });
  assert.equal(scope.shown.length, 1);
  const [{ title, options }] = scope.shown;
  assert.equal(title, 'Anna replied');
  assert.equal(options.body, 'See you at the trailhead');
  assert.deepEqual(options.data, { id: 'r-1', url: '/notes/7', category: null, data: null });
  assert.equal(options.navigate, undefined, 'a push event\'s notification keeps its click for notificationclick');
  assert.deepEqual(await verdicts(events, 1), [{ type: 'push-shown', id: 'r-1' }]);
});

test('every failure shows the declarative message\'s generic text and broadcasts its code', async (t) => {
  const { scope, seal, events, publicKey } = await world(t);
  const valid = seal({ id: 'r-2', title: 'Once' });
  const tampered = JSON.parse(seal({ id: 'r-3', title: 'Changed' }));
  const bytes = Buffer.from(tampered.notification.data.sealpost, 'base64url');
  bytes[bytes.length - 20] ^= 1;
  tampered.notification.data.sealpost = bytes.toString('base64url');
  const noEnvelope = JSON.parse(valid);
  delete noEnvelope.notification.data;
  const cases = [
    [valid, null],
    [valid, 'replayed'],
    [JSON.stringify(tampered), 'decrypt-failed'],
    [seal({ id: 'r-4', title: 'Who?' }, { signed: false }), 'unsigned'],
    [seal({ id: 'r-5', title: 'Late', ttl: 60 }, { now: Date.now() - 3600e3 }), 'expired'],
    [JSON.stringify(noEnvelope), 'malformed'],
  ];
  for (const [payload, code] of cases) {
    const { settled } = await scope.dispatch('push', { data: pushData(payload) });
    assert.deepEqual(settled.at(-1).value, code ? { shown: 'fallback', code } : { shown: true, tag: null, silent: false });
  }
  assert.deepEqual(scope.shown.map((n) => n.title), ['Once', 'New reply', 'New reply', 'New reply', 'New reply', 'New reply']);
  for (const [i, { options }] of scope.shown.slice(1).entries()) {
    assert.deepEqual(options, { tag: 'app-fallback', body: GENERIC.body,
      data: { fallback: true, code: cases[i + 1][1], url: `${ORIGIN}/notes` } });
  }
  assert.deepEqual(await verdicts(events, cases.length), [{ type: 'push-shown', id: 'r-2' },
    ...cases.slice(1).map(([, code]) => ({ type: 'push-rejected', code, declarative: true }))]);
  // Not a declarative message at all (no web_push 8030): the receiver's verdict and the configured fallback.
  const other = await scope.dispatch('push', { data: pushData(JSON.stringify({ web_push: 9001, notification: GENERIC })) });
  assert.deepEqual(other.settled.at(-1).value, { shown: 'fallback', code: 'unsupported-version' });
  assert.deepEqual({ title: scope.shown.at(-1).title, data: scope.shown.at(-1).options.data },
    { title: FALLBACK.title, data: { fallback: true, code: 'unsupported-version' } });
  assert.ok(publicKey);
});

test('a generic navigate URL that is not same-origin is never a click target', async (t) => {
  const { scope, seal } = await world(t);
  const tamperedFor = (navigate) => {
    const json = JSON.parse(seal({ title: 'x' }, { declarative: { title: 'Generic', navigate: 'https://app.example/' } }));
    json.notification.navigate = navigate;
    json.notification.data.sealpost = 'AQ';
    return JSON.stringify(json);
  };
  for (const navigate of ['https://evil.example/login', '//evil.example/x', 'javascript:alert(1)']) {
    await scope.dispatch('push', { data: pushData(tamperedFor(navigate)) });
    assert.equal(scope.shown.at(-1).options.data.url, null, navigate);
    assert.equal(scope.shown.at(-1).options.navigate, undefined);
  }
  await scope.dispatch('notificationclick', { action: '', notification: { data: scope.shown.at(-1).options.data, close() {} } });
  assert.deepEqual(scope.opened, [], 'a refused navigate opens nothing, not even the start page');
  // A same-origin one is opened on click.
  await scope.dispatch('push', { data: pushData(tamperedFor(`${ORIGIN}/notes/9`)) });
  await scope.dispatch('notificationclick', { action: '', notification: { data: scope.shown.at(-1).options.data, close() {} } });
  assert.deepEqual(scope.opened, [`${ORIGIN}/notes/9`]);
});

test('WebKit\'s pushnotification: proposedNotification\'s envelope opens, shown with a navigate URL; failures keep the generic text', async (t) => {
  const { scope, seal, events } = await world(t);
  const proposed = (payload) => JSON.parse(payload).notification; // what WebKit hands the worker, as a plain object
  const ok = await scope.dispatch('pushnotification', {
    proposedNotification: proposed(seal({ id: 'w-1', title: 'Anna replied', tag: 'w', url: '/notes/7' })) });
  assert.deepEqual(ok.settled.at(-1).value, { shown: true, tag: 'w', silent: false });
  assert.equal(scope.shown[0].title, 'Anna replied');
  assert.equal(scope.shown[0].options.navigate, `${ORIGIN}/notes/7`, 'WebKit requires a navigate URL in this event');

  const noUrl = await scope.dispatch('pushnotification', { proposedNotification: proposed(seal({ id: 'w-2', title: 'No url' })) });
  assert.equal(noUrl.settled.at(-1).value.shown, true);
  assert.equal(scope.shown[1].options.navigate, `${ORIGIN}/`, 'the message opens the app\'s start URL: its url defaults to /');

  const unsigned = await scope.dispatch('pushnotification', {
    proposedNotification: proposed(seal({ id: 'w-3', title: 'Who?' }, { signed: false })) });
  assert.deepEqual(unsigned.settled.at(-1).value, { shown: 'fallback', code: 'unsigned' });
  assert.deepEqual({ title: scope.shown[2].title, navigate: scope.shown[2].options.navigate, body: scope.shown[2].options.body },
    { title: 'New reply', navigate: `${ORIGIN}/notes`, body: GENERIC.body });

  // A foreign navigate is replaced by the worker's scope (WebKit shows nothing in this event without one).
  const foreign = proposed(seal({ id: 'w-4', title: 'x' }, { signed: false }));
  foreign.navigate = 'https://evil.example/';
  await scope.dispatch('pushnotification', { proposedNotification: foreign });
  assert.deepEqual({ navigate: scope.shown[3].options.navigate, url: scope.shown[3].options.data.url },
    { navigate: `${ORIGIN}/`, url: null });
  assert.deepEqual((await verdicts(events, 4)).map((v) => v.code ?? v.id), ['w-1', 'w-2', 'unsigned', 'unsigned']);
});

test('pushnotification without waitUntil (a PushNotificationEvent that is no ExtendableEvent) still runs', async (t) => {
  const signer = generateSignerKeyPair();
  const scope = fakeScope();
  const sp = createSealpost(scope, { outboxes: [{ name: 'notes' }], push: { trustedSigners: [signer.publicKey] } });
  const events = listen();
  t.after(() => events.close());
  const { publicKey } = await new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = (e) => { port1.close(); resolve(e.data); };
    sp.handleMessage({ data: { type: 'sealpost:push-key' }, ports: [port2], waitUntil() {} });
  });
  const payload = sealPush({ recipientPublicKey: publicKey, signer, message: { id: 'n-1', title: 'Hello' },
    declarative: GENERIC }).toString();
  assert.equal(sp.handlePushNotification({ proposedNotification: JSON.parse(payload).notification }), true);
  const [shown] = await events.until((e) => e.type === 'push-shown');
  assert.equal(shown.id, 'n-1');
  assert.equal(scope.shown.at(-1).title, 'Hello');
});

test('the spec\'s push event with `notification` and no data, and sealpost:deliver with the JSON text', async (t) => {
  const { scope, seal, api } = await world(t);
  const spec = await scope.dispatch('push', { data: null, notification: JSON.parse(seal({ id: 's-1', title: 'From notification' })).notification });
  assert.equal(spec.settled.at(-1).value.shown, true);
  assert.equal(scope.shown.at(-1).title, 'From notification');
  assert.deepEqual(await api.deliver(seal({ id: 's-2', title: 'Delivered', tag: 'd' })), { shown: true, tag: 'd', silent: false });
  assert.deepEqual(await scope.ask({ type: 'sealpost:deliver', envelope: seal({ id: 's-3', title: 'Asked' }) }),
    { shown: true, tag: null, silent: false });
  assert.deepEqual(scope.shown.map((n) => n.title), ['From notification', 'Delivered', 'Asked']);
});
