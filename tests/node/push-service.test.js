// The local push service the Firefox suite and the demo use (sw-demo/push-service.js), driven from Node: a
// `ws` client speaks Firefox's side of the WebSocket protocol (hello, register, unregister, ack, ping) and
// hand-made HTTPS requests check every refusal of the RFC 8030 side, VAPID (RFC 8292) included; and the demo's
// --push-service local flag.
import test from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import WebSocket from 'ws';

import { startPushService } from '../../sw-demo/push-service.js';
import { generateVAPIDKeys, sendSealedPush } from '../../js/server.js';
import { tempFolders } from './helpers.js';

const folder = tempFolders();

const b64u = (bytes) => Buffer.from(bytes).toString('base64url');

/** A VAPID key pair: the 65-byte public point (base64url) and a KeyObject to sign with. */
function vapidKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  return { publicKey: b64u(point), privateKey };
}

/** `vapid t=<JWT>, k=<key>` with the claims given (ES256). */
function vapidHeader(keys, claims, { signWith = keys.privateKey } = {}) {
  const head = b64u(JSON.stringify({ typ: 'JWT', alg: 'ES256' }));
  const body = b64u(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${head}.${body}`), { key: signWith, dsaEncoding: 'ieee-p1363' });
  return `vapid t=${head}.${body}.${b64u(signature)}, k=${keys.publicKey}`;
}

/** Firefox's side of the WebSocket protocol: one connection, replies matched by messageType. */
async function pushClient(push) {
  const socket = new WebSocket(push.serverURL, 'push-notification');
  const inbox = [];
  const waiters = [];
  socket.on('message', (raw) => {
    const message = JSON.parse(raw.toString());
    const at = waiters.findIndex((w) => w.match(message));
    if (at >= 0) waiters.splice(at, 1)[0].resolve(message);
    else inbox.push(message);
  });
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  assert.equal(socket.protocol, 'push-notification');
  const client = {
    socket,
    next(match, ms = 3000) {
      const at = inbox.findIndex(match);
      if (at >= 0) return Promise.resolve(inbox.splice(at, 1)[0]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no such message')), ms);
        waiters.push({ match, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      });
    },
    async request(message) {
      socket.send(JSON.stringify(message));
      return client.next((m) => m.messageType === message.messageType);
    },
    close: () => new Promise((resolve) => {
      if (socket.readyState === WebSocket.CLOSED) return resolve();
      socket.once('close', resolve);
      return socket.close();
    }),
  };
  return client;
}

/** A POST to `endpoint` through the service's trusting agent → {status, headers, body}. */
function post(push, endpoint, { body = Buffer.alloc(0), headers = {} } = {}) {
  const sent = Object.fromEntries(Object.entries({ 'Content-Length': body.length, ...headers })
    .filter(([, value]) => value !== undefined));
  return new Promise((resolve, reject) => {
    const req = https.request(endpoint, { method: 'POST', agent: push.agent, headers: sent },
      (res) => {
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      });
    req.on('error', reject);
    req.end(body);
  });
}

test('push service: hello, register (a padded key), notification out, ack, ping, unregister', async (t) => {
  const push = await startPushService();
  t.after(() => push.close());
  const client = await pushClient(push);
  t.after(() => client.close());

  const hello = await client.request({ messageType: 'hello', broadcasts: {}, use_webpush: true });
  assert.match(hello.uaid, /^[0-9a-f]{32}$/);
  assert.deepEqual({ ...hello, uaid: 0 }, { messageType: 'hello', uaid: 0, status: 200, use_webpush: true, broadcasts: {} });

  const keys = vapidKeys();
  const channelID = randomUUID();
  // Firefox sends the applicationServerKey as padded base64url.
  const padded = Buffer.from(keys.publicKey, 'base64url').toString('base64').replaceAll('+', '-').replaceAll('/', '_');
  assert.ok(padded.endsWith('='));
  const registered = await client.request({ messageType: 'register', channelID, key: padded });
  assert.equal(registered.status, 200);
  assert.equal(registered.channelID, channelID);
  assert.equal(registered.uaid, hello.uaid);
  assert.ok(registered.pushEndpoint.startsWith(`${push.origin}/wpush/`), registered.pushEndpoint);

  const body = randomBytes(300);
  const audience = push.origin;
  const answer = await post(push, registered.pushEndpoint, { body, headers: { 'Content-Encoding': 'aes128gcm', TTL: '60',
    Authorization: vapidHeader(keys, { aud: audience, exp: Math.floor(Date.now() / 1000) + 600, sub: 'mailto:a@b.invalid' }) } });
  assert.equal(answer.status, 201, answer.body);
  assert.match(answer.headers.location, /\/m\/[A-Za-z0-9_-]+$/);
  const notification = await client.next((m) => m.messageType === 'notification');
  assert.deepEqual(notification, { messageType: 'notification', channelID, version: notification.version,
    data: b64u(body), headers: { encoding: 'aes128gcm' } });

  client.socket.send('{}');
  assert.deepEqual(await client.next((m) => m.messageType === undefined), {}, 'a ping is answered with {}');

  // Unacked messages come again on the next hello; acked ones do not.
  client.socket.send(JSON.stringify({ messageType: 'ack', updates: [{ channelID, version: notification.version, code: 100 }] }));
  const second = await post(push, registered.pushEndpoint, { body, headers: { 'Content-Encoding': 'aes128gcm', TTL: '60',
    Authorization: vapidHeader(keys, { aud: audience, exp: Math.floor(Date.now() / 1000) + 600 }) } });
  assert.equal(second.status, 201);
  const unacked = await client.next((m) => m.messageType === 'notification');
  await client.close();
  const again = await pushClient(push);
  t.after(() => again.close());
  const rehello = await again.request({ messageType: 'hello', uaid: hello.uaid, broadcasts: {}, use_webpush: true });
  assert.equal(rehello.uaid, hello.uaid, 'a known uaid is kept');
  const redelivered = await again.next((m) => m.messageType === 'notification');
  assert.equal(redelivered.version, unacked.version);
  again.socket.send(JSON.stringify({ messageType: 'ack', updates: [{ channelID, version: unacked.version, code: 100 }] }));

  const gone = await again.request({ messageType: 'unregister', channelID, code: 200 });
  assert.deepEqual(gone, { messageType: 'unregister', channelID, status: 200 });
  assert.equal((await post(push, registered.pushEndpoint, { body, headers: { 'Content-Encoding': 'aes128gcm', TTL: '60',
    Authorization: vapidHeader(keys, { aud: audience, exp: Math.floor(Date.now() / 1000) + 600 }) } })).status, 410);

  const stranger = await pushClient(push);
  t.after(() => stranger.close());
  const fresh = await stranger.request({ messageType: 'hello', uaid: 'not-one-it-knows', use_webpush: true });
  assert.notEqual(fresh.uaid, 'not-one-it-knows', 'an unknown uaid is replaced');
});

test('push service: 404, 429 + Retry-After, 413, 400, and VAPID refusals (401, 403)', async (t) => {
  const push = await startPushService();
  t.after(() => push.close());
  const client = await pushClient(push);
  t.after(() => client.close());
  await client.request({ messageType: 'hello', use_webpush: true });
  const keys = vapidKeys();
  const { pushEndpoint } = await client.request({ messageType: 'register', channelID: randomUUID(), key: keys.publicKey });
  const now = Math.floor(Date.now() / 1000);
  const good = { aud: push.origin, exp: now + 600 };
  const send = (headers, body = randomBytes(100), endpoint = pushEndpoint) => post(push, endpoint,
    { body, headers: { 'Content-Encoding': 'aes128gcm', TTL: '60', Authorization: vapidHeader(keys, good), ...headers } });

  assert.equal((await send({})).status, 201);
  assert.equal((await send({}, undefined, `${push.origin}/wpush/nothing-here`)).status, 404);

  push.throttle({ times: 2, retryAfter: 45 });
  for (let i = 0; i < 2; i += 1) {
    const busy = await send({});
    assert.equal(busy.status, 429);
    assert.equal(busy.headers['retry-after'], '45');
  }
  assert.equal((await send({})).status, 201, 'the throttle ends after `times`');

  assert.equal((await send({}, randomBytes(4096))).status, 201);
  assert.equal((await send({}, randomBytes(4097))).status, 413);
  assert.equal((await send({ 'Content-Encoding': 'aesgcm' })).status, 400);
  assert.equal((await send({ TTL: undefined })).status, 400, 'TTL is required');

  const refusals = [
    [{ Authorization: undefined }, 401, 'no Authorization'],
    [{ Authorization: vapidHeader(keys, { ...good, aud: 'https://push.example.com' }) }, 401, 'another aud'],
    [{ Authorization: vapidHeader(keys, { ...good, exp: now - 1 }) }, 401, 'expired'],
    [{ Authorization: vapidHeader(keys, { ...good, exp: now + 25 * 3600 }) }, 401, 'exp over 24 h ahead'],
    [{ Authorization: vapidHeader(keys, good, { signWith: vapidKeys().privateKey }) }, 401, 'signed by another key'],
    [{ Authorization: vapidHeader(vapidKeys(), good) }, 403, 'a valid JWT, but not the subscription\'s key'],
  ];
  for (const [headers, status, what] of refusals) {
    const answer = await send(headers);
    assert.equal(answer.status, status, `${what}: ${answer.body}`);
  }
  // Everything refused reached no browser: only the 201s were delivered.
  assert.equal(push.messages.filter((m) => m.dir === 'out' && m.message.messageType === 'notification').length, 3);
});

test('push service: sealpost/server\'s sendSealedPush (web-push) is accepted; stateFile keeps endpoints across a restart', async (t) => {
  const dir = folder('sealpost-push-state-');
  const stateFile = join(dir, 'push.json');
  const first = await startPushService({ stateFile });
  const vapid = { subject: 'mailto:ops@example.com', ...generateVAPIDKeys() };
  const client = await pushClient(first);
  const { uaid } = await client.request({ messageType: 'hello', use_webpush: true });
  const channelID = randomUUID();
  const { pushEndpoint } = await client.request({ messageType: 'register', channelID, key: vapid.publicKey });
  await client.close();
  const wsPort = Number(new URL(first.serverURL).port);
  const httpsPort = Number(new URL(first.origin).port);
  await first.close();

  const push = await startPushService({ stateFile, wsPort, httpsPort });
  t.after(() => push.close());
  const again = await pushClient(push);
  t.after(() => again.close());
  assert.equal((await again.request({ messageType: 'hello', uaid, use_webpush: true })).uaid, uaid);
  const subscription = { endpoint: pushEndpoint, keys: { p256dh: b64u(generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ format: 'der', type: 'spki' }).subarray(-65)), auth: b64u(randomBytes(16)) } };
  const result = await sendSealedPush(subscription, new Uint8Array(200),
    { vapidDetails: vapid, agent: push.agent, allowPrivateAddresses: true, TTL: 30 });
  assert.deepEqual(result, { status: 'sent', statusCode: 201 });
  const notification = await again.next((m) => m.messageType === 'notification');
  assert.equal(notification.channelID, channelID);
  assert.equal(push.requests.at(-1).claims.aud, push.origin);
});

/** Starts `node sw-demo/server.js ...args` and resolves once it printed its URL: {child, output, url}. */
function startDemo(args, env) {
  const child = spawn(process.execPath, [new URL('../../sw-demo/server.js', import.meta.url).pathname, ...args],
    { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo printed no URL: ${output}`)), 15000);
    const read = (chunk) => {
      output += chunk;
      const url = /sealpost demo: (http:\/\/\S+)\//.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ child, output, url });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => reject(new Error(`the demo exited (${code}): ${output}`)));
  });
}

test('demo: --push-service local sends through the local push service; without it nothing changes', async (t) => {
  const dir = folder('sealpost-demo-push-');
  const demo = await startDemo(['--push-service', 'local'],
    { DATA_FILE: join(dir, 'demo.json'), PUSH_WS_PORT: '0', PUSH_HTTPS_PORT: '0' });
  t.after(() => demo.child.kill());
  const serverURL = /local push service: (ws:\/\/\S+)/.exec(demo.output)?.[1];
  assert.ok(serverURL, demo.output);
  assert.match(demo.output, /dom\.push\.testing\.allowInsecureServerURL\s+true/);
  assert.match(readFileSync(join(dir, 'firefox-profile', 'user.js'), 'utf8'),
    new RegExp(`user_pref\\("dom.push.serverURL", "${serverURL}"\\);`));

  const { vapidPublicKey } = JSON.parse(/Object\.freeze\((.*)\);/.exec(await (await fetch(`${demo.url}/config.js`)).text())[1]);
  const client = await pushClient({ serverURL });
  t.after(() => client.close());
  await client.request({ messageType: 'hello', use_webpush: true });
  const { pushEndpoint } = await client.request({ messageType: 'register', channelID: randomUUID(), key: vapidPublicKey });
  const p256dh = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }).subarray(-65);
  const device = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x;
  const json = { 'content-type': 'application/json' };
  const stored = await fetch(`${demo.url}/api/subscriptions`, { method: 'POST', headers: json, body: JSON.stringify({
    subscription: { endpoint: pushEndpoint, keys: { p256dh: b64u(p256dh), auth: b64u(randomBytes(16)) } },
    publicKey: device, keyId: 'AAAAAAAAAAA' }) });
  assert.equal(stored.status, 201);
  const sent = await (await fetch(`${demo.url}/api/push/send`, { method: 'POST', headers: json,
    body: JSON.stringify({ message: { title: 'Through the local service' } }) })).json();
  assert.deepEqual(sent.results.map((r) => [r.status, r.statusCode]), [['sent', 201]]);
  const notification = await client.next((m) => m.messageType === 'notification');
  assert.equal(notification.headers.encoding, 'aes128gcm');

  const plain = await startDemo([], { DATA_FILE: join(dir, 'plain.json') });
  t.after(() => plain.child.kill());
  assert.doesNotMatch(plain.output, /push service/);
});
