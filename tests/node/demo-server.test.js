// The demo server's API: idempotent notes, switches, subscriptions, persistence across a restart.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { createDemoServer } from '../../sw-demo/server.js';
import { CSP } from '../../sw-demo/static.js';
import { tempFolders } from './helpers.js';

const hasServerHelper = existsSync(new URL('../../js/server.js', import.meta.url));

const folder = tempFolders();

async function start(t, dataFile, options = {}) {
  const file = dataFile ?? join(folder('sealpost-demo-'), 'demo.json');
  const demo = await createDemoServer({ port: 0, dataFile: file, ...options });
  return { demo, file };
}

function call(demo, method, path, body, headers = {}) {
  return fetch(`${demo.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (res) => ({ status: res.status, headers: res.headers, body: await res.json() }));
}

test('notes are stored once per Idempotency-Key; a replay answers the first result and is counted', async (t) => {
  const { demo } = await start(t);
  t.after(() => demo.close());

  const first = await call(demo, 'POST', '/api/notes', { text: 'first' }, { 'Idempotency-Key': 'k1' });
  assert.equal(first.status, 201);
  assert.equal(first.body.note.text, 'first');
  assert.equal(first.body.note.seq, 1);
  assert.equal(first.headers.get('content-security-policy'), CSP);

  const replay = await call(demo, 'POST', '/api/notes', { text: 'first' }, { 'Idempotency-Key': 'k1' });
  assert.equal(replay.status, 201);
  assert.deepEqual(replay.body, first.body, 'a replay answers exactly the first result');
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal(replay.headers.get('content-security-policy'), CSP);
  // The key with another body is another request: refused (the draft's 422), nothing stored.
  const reused = await call(demo, 'POST', '/api/notes', { text: 'changed on replay' }, { 'Idempotency-Key': 'k1' });
  assert.equal(reused.status, 422);
  assert.equal(reused.headers.get('content-type'), 'application/problem+json');

  const second = await call(demo, 'POST', '/api/notes', { text: 'second' }, { 'Idempotency-Key': 'k2' });
  assert.equal(second.body.note.seq, 2);
  const noKey = await call(demo, 'POST', '/api/notes', { text: 'no key' });
  assert.equal(noKey.status, 201);

  const list = await call(demo, 'GET', '/api/notes');
  assert.deepEqual(list.body.notes.map((n) => n.text), ['first', 'second', 'no key']);
  assert.equal(list.body.duplicates, 1);

  // A bad note is refused (a permanent 400) and, keyed, is replayed as the same 400.
  const bad = await call(demo, 'POST', '/api/notes', { text: '' }, { 'Idempotency-Key': 'k3' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /text must be/);
  const notJson = await fetch(`${demo.url}/api/notes`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: '{oops' });
  assert.equal(notJson.status, 400);
  assert.equal((await call(demo, 'GET', '/api/notes')).body.notes.length, 3);
});

test('switches answer 503 and 429 with Retry-After, for a number of requests or until reset', async (t) => {
  const { demo } = await start(t);
  t.after(() => demo.close());

  const on = await call(demo, 'POST', '/api/switches', { mode: '503', retryAfter: 7 });
  assert.deepEqual(on.body, { mode: '503', retryAfter: 7, times: null });
  for (let i = 0; i < 2; i += 1) {
    const r = await call(demo, 'POST', '/api/notes', { text: 'x' }, { 'Idempotency-Key': 'a' });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '7');
  }
  await call(demo, 'POST', '/api/switches', { mode: '429', retryAfter: 'Wed, 21 Oct 2037 07:28:00 GMT', times: 1 });
  const limited = await call(demo, 'POST', '/api/notes', { text: 'x' }, { 'Idempotency-Key': 'a' });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), 'Wed, 21 Oct 2037 07:28:00 GMT');
  // times: 1 -> the switch turned itself off; the same key is now stored (refused answers are not remembered).
  const ok = await call(demo, 'POST', '/api/notes', { text: 'x' }, { 'Idempotency-Key': 'a' });
  assert.equal(ok.status, 201);
  assert.deepEqual((await call(demo, 'GET', '/api/switches')).body, { mode: 'ok', retryAfter: null, times: null });
  assert.equal((await call(demo, 'POST', '/api/switches', { mode: '500' })).status, 400);

  const log = (await call(demo, 'GET', '/api/log')).body.log;
  assert.deepEqual(log.map((e) => e.status), [503, 503, 429, 201]);
  assert.ok(log.every((e) => e.key === 'a' && e.path === '/api/notes' && typeof e.at === 'number'));
});

test('a restart loses nothing: notes, de-duplication, subscriptions and keys come back from the file', async (t) => {
  const { demo, file } = await start(t);
  const key = 'x'.repeat(43);
  await call(demo, 'POST', '/api/notes', { text: 'kept' }, { 'Idempotency-Key': 'r1' });
  const sub = await call(demo, 'POST', '/api/subscriptions', {
    publicKey: key, keyId: 'AAAAAAAAAAA', categories: ['replies'],
    subscription: { endpoint: 'https://push.invalid/1', keys: { p256dh: 'p', auth: 'a' } },
  });
  assert.equal(sub.status, 201);
  const configBefore = await (await fetch(`${demo.url}/config.js`)).text();
  await demo.close();

  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(saved.notes[0].text, 'kept');
  assert.deepEqual(readdirSync(join(file, '..')).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');

  const again = await createDemoServer({ port: 0, dataFile: file });
  t.after(() => again.close());
  const replay = await call(again, 'POST', '/api/notes', { text: 'kept' }, { 'Idempotency-Key': 'r1' });
  assert.equal(replay.body.note.seq, 1);
  const list = await call(again, 'GET', '/api/notes');
  assert.deepEqual(list.body.notes.map((n) => n.text), ['kept']);
  assert.equal(list.body.duplicates, 1);
  const subs = await call(again, 'GET', '/api/subscriptions');
  assert.equal(subs.body.subscriptions.length, 1);
  assert.deepEqual(subs.body.subscriptions[0].categories, ['replies']);
  const configAfter = await (await fetch(`${again.url}/config.js`)).text();
  assert.equal(configAfter, configBefore, 'the VAPID and signer keys are generated once');

  const removed = await call(again, 'DELETE', '/api/subscriptions', { keyId: 'AAAAAAAAAAA' });
  assert.equal(removed.body.removed, 1);
  const badKey = await call(again, 'POST', '/api/subscriptions', { publicKey: 'short', keyId: 'AAAAAAAAAAA' });
  assert.equal(badKey.status, 400);
});

test('/config.js is a module with the public keys, served under the strict CSP', async (t) => {
  const { demo } = await start(t);
  t.after(() => demo.close());
  const res = await fetch(`${demo.url}/config.js`);
  assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(res.headers.get('content-security-policy'), CSP);
  const text = await res.text();
  const config = JSON.parse(text.match(/Object\.freeze\((.*)\);/)[1]);
  assert.match(config.vapidPublicKey, /^[A-Za-z0-9_-]{87}$/);
  if (hasServerHelper) assert.match(config.signerPublicKey, /^[A-Za-z0-9_-]{43}$/);
  assert.doesNotMatch(text, /privateKey|secretKey/);
});

test('push: sending with no subscription says so; simulated delivery seals for a public key', async (t) => {
  const { demo } = await start(t);
  t.after(() => demo.close());
  const send = await call(demo, 'POST', '/api/push/send', { message: { title: 'Hi' } });
  if (!hasServerHelper) {
    assert.equal(send.status, 501);
    return;
  }
  assert.equal(send.status, 409);
  assert.match(send.body.error, /simulated delivery/);
  const { PushReceiver } = await import('../../js/index.js');
  const { IDBFactory } = await import('fake-indexeddb');
  const rx = await PushReceiver.open({ allowUnsigned: true, indexedDB: new IDBFactory() });
  const sim = await call(demo, 'POST', '/api/push/simulate', { publicKey: rx.publicKey, message: { title: 'Hello', url: '/' } });
  assert.equal(sim.status, 200);
  const message = await rx.open(sim.body.envelope);
  assert.equal(message.title, 'Hello');
});

test('push/send seals for each stored device and sends with web-push and the stored VAPID key; 410 prunes', { skip: !hasServerHelper }, async (t) => {
  const { createECDH, randomBytes } = await import('node:crypto');
  const https = await import('node:https');
  const { execFileSync } = await import('node:child_process');
  // A loopback push service with a throwaway certificate: it records what arrives and answers per path.
  const certDir = folder('sealpost-demo-cert-');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const tls = { key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) };
  const received = [];
  const service = https.createServer(tls, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url, headers: req.headers, bytes: Buffer.concat(chunks).length });
      res.writeHead(req.url === '/push/gone' ? 410 : 201).end();
    });
  });
  await new Promise((resolve) => service.listen(0, '127.0.0.1', resolve));
  const agent = new https.Agent({ ca: tls.cert });
  t.after(() => { agent.destroy(); service.closeAllConnections(); return new Promise((r) => service.close(r)); });
  const origin = `https://127.0.0.1:${service.address().port}`;

  const dir = folder('sealpost-demo-');
  const demo = await createDemoServer({ port: 0, dataFile: join(dir, 'demo.json'), pushAgent: agent,
    pushAllowPrivateAddresses: true });
  t.after(() => demo.close());
  const { PushReceiver } = await import('../../js/index.js');
  const { IDBFactory } = await import('fake-indexeddb');
  const device = async (name) => {
    const rx = await PushReceiver.open({ allowUnsigned: true, indexedDB: new IDBFactory() });
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const subscription = { endpoint: `${origin}/push/${name}`, expirationTime: null,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
    const added = await call(demo, 'POST', '/api/subscriptions', { subscription, publicKey: rx.publicKey, keyId: rx.keyId });
    assert.equal(added.status, 201);
    return rx;
  };
  const live = await device('live');
  const gone = await device('gone');

  const send = await call(demo, 'POST', '/api/push/send', { message: { title: 'A reply', url: '/notes/1' } });
  assert.equal(send.status, 200, JSON.stringify(send.body));
  const byKey = Object.fromEntries(send.body.results.map((r) => [r.keyId, r.status]));
  assert.deepEqual(byKey, { [live.keyId]: 'sent', [gone.keyId]: 'expired' });
  assert.equal(received.length, 2);
  for (const request of received) {
    assert.equal(request.headers['content-encoding'], 'aes128gcm');
    assert.equal(request.headers.ttl, '3600');
    assert.equal(request.headers.urgency, 'normal');
    assert.match(request.headers.authorization, new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${demo.data.state.vapid.publicKey}$`));
    // RFC 8291 adds a 86-byte header, a padding delimiter and a 16-byte tag to the sealed envelope (<= 3000 bytes).
    assert.ok(request.bytes > 86 + 16 + 49 && request.bytes < 3200, `${request.bytes} bytes on the wire`);
  }
  const { subscriptions } = (await call(demo, 'GET', '/api/subscriptions')).body;
  assert.deepEqual(subscriptions.map((s) => s.keyId), [live.keyId], 'the expired subscription is pruned, and stays pruned');
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'demo.json'), 'utf8')).subscriptions.map((s) => s.keyId), [live.keyId]);
});

test('the demo server refuses writes that are not JSON or come from another origin, never lists push secrets, and bounds its de-duplication state', async (t) => {
  const { demo } = await start(t, undefined, { maxResults: 3 });
  t.after(() => demo.close());
  const form = await fetch(`${demo.url}/api/push/send`, { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
  assert.equal(form.status, 415);
  const plain = await fetch(`${demo.url}/api/notes`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"text":"x"}' });
  assert.equal(plain.status, 415);
  const foreign = await call(demo, 'POST', '/api/notes', { text: 'csrf' }, { origin: 'https://evil.example' });
  assert.equal(foreign.status, 403);
  const same = await call(demo, 'POST', '/api/notes', { text: 'mine' }, { origin: demo.url });
  assert.equal(same.status, 201);
  assert.deepEqual((await call(demo, 'GET', '/api/notes')).body.notes.map((n) => n.text), ['mine']);

  const subscription = { endpoint: 'https://push.example/secret-path', keys: { p256dh: 'p'.repeat(87), auth: 'a'.repeat(22) } };
  await call(demo, 'POST', '/api/subscriptions', { subscription, publicKey: 'A'.repeat(43), keyId: 'AAAAAAAAAAA' });
  const listed = await call(demo, 'GET', '/api/subscriptions');
  assert.deepEqual(listed.body.subscriptions.map((s) => s.pushService), ['push.example']);
  assert.doesNotMatch(JSON.stringify(listed.body), /secret-path|aaaa|pppp/);

  const notes = {};
  for (const key of ['k1', 'k2', 'k3', 'k4']) {
    notes[key] = (await call(demo, 'POST', '/api/notes', { text: key }, { 'Idempotency-Key': key })).body;
  }
  assert.equal(demo.idempotencyStore.size, 3, 'at most maxResults answers are kept');
  const again = await call(demo, 'POST', '/api/notes', { text: 'k4' }, { 'Idempotency-Key': 'k4' });
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  // k1's answer was dropped: the write, unique on its key, finds its note and answers it again.
  const dropped = await call(demo, 'POST', '/api/notes', { text: 'k1' }, { 'Idempotency-Key': 'k1' });
  assert.deepEqual(dropped.body, notes.k1);
  assert.equal(dropped.headers.get('idempotent-replayed'), 'true');
  assert.equal((await call(demo, 'GET', '/api/notes')).body.notes.length, 5, 'mine and k1 to k4, each once');
});
