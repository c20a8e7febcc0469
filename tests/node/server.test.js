// sealpost/server against a push service on loopback: HTTPS with a throwaway self-signed certificate, a
// VAPID JWT check (ES256 over aud/exp/sub) and RFC 8291 aes128gcm decryption written with Node's crypto.
// What the service receives must be exactly the sealed envelope, and it must open in PushReceiver.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { IDBFactory } from 'fake-indexeddb';

import { PushReceiver } from '../../js/push/receiver.js';
import * as serverModule from '../../js/server.js';
import {
  classifyPushStatus, generateSignerKeyPair, generateVAPIDKeys, sealPush, sendSealedPush, sendToMany,
} from '../../js/server.js';
import { SealpostError } from '../../js/errors.js';
import { root } from './helpers.js';
import { browserSubscription, decryptRfc8291, selfSignedCertificate } from './push-support.js';

const b64u = (buffer) => Buffer.from(buffer).toString('base64url');

/** Checks `Authorization: vapid t=<JWT>, k=<public key>`; returns the JWT claims. */
function checkVapid(header, { audience, vapid }) {
  const match = /^vapid t=([^,]+),\s*k=(.+)$/.exec(header ?? '');
  assert.ok(match, `a vapid Authorization header: ${header}`);
  const [, token, key] = match;
  assert.equal(key, vapid.publicKey);
  const [headerPart, payloadPart, signaturePart] = token.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(headerPart, 'base64url')), { typ: 'JWT', alg: 'ES256' });
  const point = Buffer.from(key, 'base64url');
  const publicKey = createPublicKey({ format: 'jwk',
    key: { kty: 'EC', crv: 'P-256', x: b64u(point.subarray(1, 33)), y: b64u(point.subarray(33, 65)) } });
  assert.ok(verify('sha256', Buffer.from(`${headerPart}.${payloadPart}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signaturePart, 'base64url')), 'ES256 signature');
  const claims = JSON.parse(Buffer.from(payloadPart, 'base64url'));
  assert.equal(claims.aud, audience);
  assert.equal(claims.sub, vapid.subject);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(claims.exp > now && claims.exp <= now + 24 * 3600, `exp within 24 h: ${claims.exp}`);
  return claims;
}

/**
 * The push service: /push/<name>. `ok*` endpoints check everything and answer 201; the others answer
 * with a scripted status. Records what each endpoint received and the peak of concurrent requests.
 */
async function pushService(vapid) {
  const tls = selfSignedCertificate();
  const subscriptions = new Map();
  const received = [];
  const problems = [];
  let inflight = 0;
  let peak = 0;
  const scripted = {
    gone: [410], missing: [404], busy: [429, { 'retry-after': '120' }], big: [413], bad: [400],
    unauthorized: [401], forbidden: [403],
    down: [503, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }], broken: [500],
  };
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      inflight += 1;
      peak = Math.max(peak, inflight);
      setTimeout(() => {
        inflight -= 1;
        const name = req.url.replace('/push/', '');
        if (name === 'silent') return; // never answers
        const [status, headers] = scripted[name] ?? [201, {}];
        if (status === 201) {
          try {
            assert.equal(req.method, 'POST');
            assert.equal(req.headers['content-encoding'], 'aes128gcm');
            assert.match(req.headers.ttl, /^\d+$/);
            const claims = checkVapid(req.headers.authorization, { audience: service.origin, vapid });
            const plaintext = decryptRfc8291(Buffer.concat(chunks), subscriptions.get(name));
            received.push({ name, plaintext, headers: req.headers, claims });
          } catch (error) {
            problems.push(error);
            res.writeHead(400).end(String(error.message));
            return;
          }
        }
        res.writeHead(status, headers).end(status === 201 ? '' : `scripted ${status}`);
      }, 15);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const service = {
    origin: `https://127.0.0.1:${server.address().port}`,
    agent: new https.Agent({ ca: tls.cert }),
    received, problems, subscriptions,
    get peak() { return peak; },
    subscribe(name) {
      const sub = browserSubscription(service.origin, name);
      subscriptions.set(name, sub);
      return sub.json;
    },
    close() {
      service.agent.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
  return service;
}

const vapidKeys = generateVAPIDKeys();
const vapid = { subject: 'mailto:ops@example.com', ...vapidKeys };

test('an envelope goes through web-push, arrives byte for byte and opens in PushReceiver', async (t) => {
  const service = await pushService(vapid);
  t.after(() => service.close());
  const signer = generateSignerKeyPair();
  const rx = await PushReceiver.open({ indexedDB: new IDBFactory(), trustedSigners: [signer.publicKey] });
  t.after(() => rx.close());

  const envelope = sealPush({ recipientPublicKey: rx.publicKey, signer,
    message: { title: 'Reply from Ada', body: 'See you at 6', url: '/notes/42', tag: 'note-42' } });
  const result = await sendSealedPush(service.subscribe('ok'), envelope,
    { vapidDetails: vapid, TTL: 3600, urgency: 'high', topic: 'note-42', agent: service.agent, timeout: 5000,
      allowPrivateAddresses: true });
  assert.deepEqual(result, { status: 'sent', statusCode: 201 });
  assert.deepEqual(service.problems, []);
  assert.equal(service.received.length, 1);
  const { plaintext, headers } = service.received[0];
  assert.deepEqual(new Uint8Array(plaintext), new Uint8Array(envelope), 'the push service got exactly the envelope');
  assert.equal(headers.ttl, '3600');
  assert.equal(headers.urgency, 'high');
  assert.equal(headers.topic, 'note-42');

  const message = await rx.open(plaintext);
  assert.equal(message.title, 'Reply from Ada');
  assert.equal(message.url, '/notes/42');
});

test('push service answers map to sent / expired / retry / rejected', async (t) => {
  const service = await pushService(vapid);
  t.after(() => service.close());
  const rx = await PushReceiver.open({ allowUnsigned: true, indexedDB: new IDBFactory() });
  t.after(() => rx.close());
  const envelope = sealPush({ recipientPublicKey: rx.publicKey, message: { title: 't' } });
  // The loopback service stands in for a push service: named in pushServiceHosts, so its answers' text is kept.
  const send = (name) => sendSealedPush(service.subscribe(name), envelope,
    { vapidDetails: vapid, agent: service.agent, allowPrivateAddresses: true, pushServiceHosts: ['127.0.0.1'] });

  assert.deepEqual(await send('gone'), { status: 'expired', statusCode: 410, error: 'scripted 410' });
  assert.equal((await send('missing')).status, 'expired');
  assert.deepEqual(await send('busy'), { status: 'retry', statusCode: 429, retryAfter: 120, error: 'scripted 429' });
  const down = await send('down');
  assert.equal(down.status, 'retry');
  assert.ok(down.retryAfter >= 58 && down.retryAfter <= 61, `Retry-After as an HTTP date: ${down.retryAfter}`);
  assert.deepEqual(await send('broken'), { status: 'retry', statusCode: 500, error: 'scripted 500' });
  for (const [name, code] of [['big', 413], ['bad', 400], ['unauthorized', 401], ['forbidden', 403]]) {
    assert.deepEqual(await send(name), { status: 'rejected', statusCode: code, error: `scripted ${code}` });
  }
  // No answer within the timeout, or nobody listening: retry later.
  const silent = await sendSealedPush(service.subscribe('silent'), envelope,
    { vapidDetails: vapid, agent: service.agent, timeout: 300, allowPrivateAddresses: true });
  assert.equal(silent.status, 'retry');
  assert.equal(silent.statusCode, 0);
  const closed = await sendSealedPush({ ...service.subscribe('ok'), endpoint: 'https://127.0.0.1:1/push/x' }, envelope,
    { vapidDetails: vapid, allowPrivateAddresses: true });
  assert.equal(closed.status, 'retry');
  // A subscription or VAPID details that web-push refuses are the caller's error.
  await assert.rejects(sendSealedPush({ endpoint: service.origin }, envelope, { vapidDetails: vapid }),
    (e) => e instanceof SealpostError && e.code === 'invalid-argument');
  await assert.rejects(sendSealedPush(service.subscribe('ok'), envelope,
    { vapidDetails: { ...vapid, subject: 'not a url' } }), { code: 'invalid-argument' });
  assert.deepEqual(service.problems, []);

  assert.equal(classifyPushStatus(201), 'sent');
  assert.equal(classifyPushStatus(302), 'rejected');
  assert.equal(classifyPushStatus(502), 'retry');
});

test('sendToMany seals per device with bounded concurrency and reports per device', async (t) => {
  const service = await pushService(vapid);
  t.after(() => service.close());
  const signer = generateSignerKeyPair();
  const receivers = [];
  const devices = [];
  for (let i = 0; i < 6; i += 1) {
    const rx = await PushReceiver.open({ indexedDB: new IDBFactory(), trustedSigners: [signer.publicKey] });
    t.after(() => rx.close());
    receivers.push(rx);
    devices.push({ user: i, publicKey: rx.publicKey, subscription: service.subscribe(`ok-${i}`) });
  }
  devices.push({ user: 6, publicKey: receivers[0].publicKey, subscription: service.subscribe('gone') });
  devices.push({ user: 7, publicKey: 'too-short', subscription: service.subscribe('ok-7') });
  devices.push({ user: 8, publicKey: receivers[1].publicKey, subscription: service.subscribe('busy') });

  const results = await sendToMany(devices, { title: 'Team update', category: 'news' },
    { signer, vapidDetails: vapid, concurrency: 2, agent: service.agent, TTL: 60, allowPrivateAddresses: true });
  assert.deepEqual(results.map((r) => [r.device.user, r.status]),
    [[0, 'sent'], [1, 'sent'], [2, 'sent'], [3, 'sent'], [4, 'sent'], [5, 'sent'], [6, 'expired'],
      [7, 'rejected'], [8, 'retry']]);
  assert.equal(results[7].code, 'invalid-argument');
  assert.equal(results[8].retryAfter, 120);
  assert.ok(service.peak <= 2, `at most 2 requests at once, saw ${service.peak}`);
  assert.equal(service.peak, 2, 'and the bound is used');
  assert.deepEqual(service.problems, []);

  // Each device's envelope opens only on that device.
  for (const { name, plaintext } of service.received) {
    const i = Number(name.slice(3));
    assert.equal((await receivers[i].open(plaintext)).title, 'Team update');
    await assert.rejects(receivers[(i + 1) % 6].open(plaintext), { code: 'unknown-recipient' });
  }
  assert.equal(service.received.length, 6);
});

test('sealPush validates before sealing and names the size when an envelope is too large', async () => {
  const rx = await PushReceiver.open({ allowUnsigned: true, indexedDB: new IDBFactory() });
  const recipientPublicKey = rx.publicKey;
  assert.throws(() => sealPush({ recipientPublicKey, message: { title: 't', body: 'x'.repeat(3000) } }),
    (e) => e.code === 'too-large' && e.size > 3000 && /\d+ bytes, over the maximum of 3000/.test(e.message));
  const fits = sealPush({ recipientPublicKey, message: { title: 't', body: 'x'.repeat(3000) }, maxEnvelopeBytes: 3993 });
  assert.equal(fits.length, 3993);
  assert.throws(() => sealPush({ recipientPublicKey, message: { title: 't' }, maxEnvelopeBytes: 3994 }),
    { code: 'invalid-argument' });
  assert.throws(() => sealPush({ recipientPublicKey, message: { body: 'no title' } }), { code: 'invalid-message' });
  assert.throws(() => sealPush({ recipientPublicKey, message: { title: 't', url: '//evil.example' } }),
    { code: 'invalid-message' });
  assert.throws(() => sealPush({ recipientPublicKey, message: '{"title":' }), { code: 'invalid-json' });
  assert.throws(() => sealPush({ recipientPublicKey, message: { title: 't', body: 'x'.repeat(1e6) } }),
    (e) => e.code === 'too-large' && /1000\d+ characters/.test(e.message));
  assert.throws(() => sealPush({ recipientPublicKey: 'AAAA', message: { title: 't' } }), { code: 'invalid-argument' });
  assert.throws(() => sealPush({ recipientPublicKey, message: { title: 't', iat: Date.now() } }),
    (e) => e.code === 'not-yet-valid' && /not milliseconds/.test(e.message));
  assert.throws(() => sealPush({ recipientPublicKey, message: { title: 't', iat: 1_000_000, ttl: 60 } }),
    { code: 'expired' });
  assert.throws(() => sealPush({ recipientPublicKey, message: { title: 't' }, signer: { secretKey: 'AAAA' } }),
    { code: 'invalid-argument' });
  // Deeply nested data is refused before anything recursive runs on it, and sealing goes on working.
  const deep = `{"title":"t","data":${'['.repeat(30000)}${']'.repeat(30000)}}`;
  assert.throws(() => sealPush({ recipientPublicKey, message: deep }), { code: 'invalid-message' });
  assert.equal(sealPush({ recipientPublicKey, message: { title: 't', data: [[[1]]] } }).length, 314);
  // Padding buckets: the envelope size reveals only the bucket.
  const sizes = ['a', 'a'.repeat(100), 'a'.repeat(180)].map((body) =>
    sealPush({ recipientPublicKey, message: { title: 't', body } }).length);
  assert.deepEqual(sizes, [314, 314, 314]);
  rx.close();
});

test('js/server.d.ts declares exactly what js/server.js exports', () => {
  const declarations = readFileSync(new URL('js/server.d.ts', root), 'utf8');
  const declared = [...declarations.matchAll(/^export (?:declare )?(?:function|const) (\w+)/gm)].map((m) => m[1]);
  assert.deepEqual([...new Set(declared)].sort(), Object.keys(serverModule).sort());
});

test('sending refuses endpoints an app server must not reach, and passes on text only from push services', async (t) => {
  const service = await pushService(vapid);
  t.after(() => service.close());
  const rx = await PushReceiver.open({ allowUnsigned: true, indexedDB: new IDBFactory() });
  t.after(() => rx.close());
  const envelope = sealPush({ recipientPublicKey: rx.publicKey, message: { title: 't' } });
  const port = new URL(service.origin).port;
  const at = (endpoint, options = {}) => sendSealedPush({ ...service.subscribe('ok'), endpoint }, envelope,
    { vapidDetails: vapid, agent: service.agent, timeout: 2000, ...options });
  const refusedCode = (e) => e instanceof SealpostError && e.code === 'endpoint-refused';
  for (const endpoint of [`http://127.0.0.1:${port}/push/ok`, `https://127.0.0.1:${port}/push/ok`,
    `https://0x7f.1:${port}/push/ok`, `https://2130706433:${port}/push/ok`, `https://[::1]:${port}/push/ok`,
    `https://[::ffff:127.0.0.1]:${port}/push/ok`, `https://10.0.0.1/push/ok`, `https://169.254.169.254/latest`,
    `https://user:pw@fcm.googleapis.com/x`]) {
    await assert.rejects(at(endpoint), refusedCode, endpoint);
  }
  // A name is resolved in the connection's own lookup: one that leads to loopback is refused there.
  await assert.rejects(at(`https://localhost:${port}/push/ok`), refusedCode);
  // An allowlist refuses every other host before any lookup.
  await assert.rejects(at('https://updates.push.services.mozilla.com/wpush/v2/x', { pushServiceHosts: ['fcm.googleapis.com'] }),
    refusedCode);
  assert.equal(service.received.length, 0, 'nothing reached the loopback service');

  // With the escape hatch the loopback service is reached; not being a push service, its answers' text is withheld.
  assert.deepEqual(await at(`${service.origin}/push/bad`, { allowPrivateAddresses: true }),
    { status: 'rejected', statusCode: 400, error: 'HTTP 400' });
  const closed = await at('https://127.0.0.1:1/push/x', { allowPrivateAddresses: true });
  assert.deepEqual(closed, { status: 'retry', statusCode: 0, error: 'no answer (ECONNREFUSED)' });

  // sendToMany reports a refused device and still sends to the others.
  const devices = [{ subscription: { ...service.subscribe('ok'), endpoint: 'https://127.0.0.1/x' }, publicKey: rx.publicKey }];
  const [result] = await sendToMany(devices, { title: 't' }, { vapidDetails: vapid });
  assert.equal(result.status, 'rejected');
  assert.equal(result.code, 'endpoint-refused');
});

test('declarative: sealPush wraps the envelope in a web_push 8030 message that goes out as it is and opens', async (t) => {
  const service = await pushService(vapid);
  t.after(() => service.close());
  const signer = generateSignerKeyPair();
  const rx = await PushReceiver.open({ indexedDB: new IDBFactory(), trustedSigners: [signer.publicKey] });
  t.after(() => rx.close());

  const payload = sealPush({ recipientPublicKey: rx.publicKey, signer,
    message: { id: 'm-1', title: 'Reply from Ada', body: 'See you at 6', url: '/notes/42' },
    declarative: { title: 'New reply', body: 'Open Field notes to read it.', navigate: 'https://app.example/notes' } });
  const json = JSON.parse(payload.toString('utf8'));
  // mutable twice: at the top level (the spec) and in notification (WebKit bug 296770).
  assert.deepEqual(Object.keys(json), ['web_push', 'notification', 'mutable']);
  assert.equal(json.web_push, 8030);
  assert.equal(json.mutable, true);
  const { data, ...generic } = json.notification;
  assert.deepEqual(generic, { title: 'New reply', navigate: 'https://app.example/notes', body: 'Open Field notes to read it.',
    mutable: true });
  assert.deepEqual(Object.keys(data), ['sealpost']);
  assert.match(data.sealpost, /^[A-Za-z0-9_-]+$/, 'base64url, no padding');

  const result = await sendToMany([{ publicKey: rx.publicKey, subscription: service.subscribe('ok') }],
    { id: 'm-2', title: 'Second' }, { signer, vapidDetails: vapid, agent: service.agent, allowPrivateAddresses: true,
      declarative: { title: 'New reply', navigate: '/notes', origin: 'https://app.example' } });
  assert.deepEqual(result.map((r) => r.status), ['sent']);
  assert.deepEqual(service.problems, []);
  const sent = JSON.parse(service.received[0].plaintext.toString('utf8'));
  assert.deepEqual(Object.keys(sent.notification), ['title', 'navigate', 'mutable', 'data'], 'no body when none is given');
  assert.equal(sent.notification.navigate, 'https://app.example/notes', 'a path is resolved against origin');

  assert.equal((await rx.open(data.sealpost)).title, 'Reply from Ada', 'the receiver opens the base64url envelope');
  assert.equal((await rx.open(sent.notification.data.sealpost)).id, 'm-2');
});

test('declarative: the generic text and navigate are checked, with invalid-argument naming what is wrong', async () => {
  const rx = await PushReceiver.open({ allowUnsigned: true, indexedDB: new IDBFactory() });
  const seal = (declarative) => sealPush({ recipientPublicKey: rx.publicKey, message: { title: 't' }, declarative });
  const refused = [
    [{ navigate: 'https://app.example/' }, /title must be text of 1 to 256/],
    [{ title: ' ', navigate: 'https://app.example/' }, /title/],
    [{ title: 'x'.repeat(257), navigate: 'https://app.example/' }, /title/],
    [{ title: 't' }, /navigate is required/],
    [{ title: 't', navigate: '/inbox' }, /navigate \/inbox is a path: Safari parses navigate without a base URL/],
    [{ title: 't', navigate: '//evil.example/x', origin: 'https://app.example' }, /names another host/],
    [{ title: 't', navigate: 'http://app.example/' }, /must be an https URL \(http only on localhost\), not http:/],
    [{ title: 't', navigate: 'javascript:alert(1)' }, /https URL/],
    [{ title: 't', navigate: 'not a url' }, /navigate is not a URL/],
    [{ title: 't', navigate: 'https://user:pw@app.example/' }, /credentials/],
    [{ title: 't', navigate: '/inbox', origin: 'https://app.example/inbox' }, /origin must be an origin only/],
    [{ title: 't', navigate: '/inbox', origin: 'http://app.example' }, /https URL/],
    [{ title: 't', navigate: 'https://app.example/', body: 7 }, /body must be text/],
    ['Title', /must be an object/],
  ];
  for (const [declarative, message] of refused) {
    assert.throws(() => seal(declarative), (e) => e instanceof SealpostError && e.code === 'invalid-argument'
      && message.test(e.message), `${JSON.stringify(declarative)} → ${message}`);
  }
  // Loopback http is a secure context: allowed, for development.
  for (const navigate of ['http://localhost:8080/n', 'http://127.0.0.1:9/n', 'http://[::1]/n']) {
    assert.equal(JSON.parse(seal({ title: 't', navigate })).notification.navigate, new URL(navigate).href);
  }
  rx.close();
});

test('declarative: maxEnvelopeBytes bounds the whole payload, the JSON wrapper and base64url counted', async () => {
  const rx = await PushReceiver.open({ allowUnsigned: true, indexedDB: new IDBFactory() });
  const declarative = { title: 'New message', body: 'Open the app to read it.', navigate: 'https://app.example/inbox' };
  const seal = (body, maxEnvelopeBytes) => sealPush({ recipientPublicKey: rx.publicKey, maxEnvelopeBytes, declarative,
    message: { id: `big-${maxEnvelopeBytes}`, iat: Math.floor(Date.now() / 1000), title: 't', body: 'x'.repeat(body) } });
  // A bare envelope of this message fits 3,993 bytes; wrapped, its base64url no longer does.
  assert.equal(sealPush({ recipientPublicKey: rx.publicKey, message: { title: 't', body: 'x'.repeat(2900) },
    maxEnvelopeBytes: 3993 }).length, 3993);
  assert.throws(() => seal(2900, 3993), (e) => e.code === 'too-large' && e.size > 3993 && e.maxEnvelopeBytes === 3993
    && /declarative payload would be \d+ bytes \(\d+ of them the JSON around the envelope\), over the maximum of 3993/.test(e.message));
  // The largest message that fits: above the last padding bucket the envelope takes all the room there is.
  for (const limit of [3000, 3993]) {
    let low = 0;
    let high = 3000;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      try { seal(mid, limit); low = mid; } catch (error) { assert.equal(error.code, 'too-large'); high = mid - 1; }
    }
    const payload = seal(low, limit);
    assert.ok(payload.length <= limit && payload.length >= limit - 2, `${payload.length} bytes for a limit of ${limit}`);
    const json = JSON.parse(payload);
    const opened = await rx.open(json.notification.data.sealpost);
    assert.equal(opened.body.length, low);
    assert.throws(() => seal(low + 1, limit), { code: 'too-large' });
  }
  // A wrapper that leaves no room for any envelope.
  assert.throws(() => seal(1, 200), (e) => e.code === 'too-large' && e.size > 200);
  rx.close();
});
