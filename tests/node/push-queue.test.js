// Fan-out past one process: createPushQueue + two pushWorker processes (tests/node/push-worker-app.js)
// on a redis-server of the test's own, sending to an HTTPS push service on loopback that answers some
// devices 429 (Retry-After), 5xx, 410 and 413. Every envelope is decrypted (RFC 8291) and opened with
// its device's own key in the core.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { createCore, KeyKind } from '../../js/wasm/loader.js';
import { createPushQueue, generateSignerKeyPair, generateVAPIDKeys, pushWorker } from '../../js/server.js';
import { browserSubscription, decryptRfc8291, selfSignedCertificate } from './push-support.js';
import { startRedisServer } from './redis-support.js';

const DEVICES = Number(process.env.SEALPOST_PUSH_DEVICES ?? 10000);


/** What the push service answers device n on its k-th request (k from 1). */
function scripted(n, k) {
  if (n % 25 === 0) return [410];
  if (n % 100 === 4) return [413];
  if (n % 25 === 1 && k === 1) return [429, { 'retry-after': '1' }];
  if (n % 25 === 2 && k === 1) return [503];
  if (n % 25 === 3 && k <= 2) return [k === 1 ? 500 : 502];
  return [201];
}

test(`createPushQueue + two pushWorker processes: ${DEVICES} devices, each envelope accepted exactly once`, async (t) => {
  const started = Date.now();
  const redis = await startRedisServer();
  const { createClient } = await import('redis');
  const client = createClient({ url: redis.url });
  client.on('error', () => {});
  await client.connect();

  // The devices: a subscription (P-256 key, auth secret) and a sealpost box key each.
  const core = await createCore();
  const tls = selfSignedCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-queue-'));
  writeFileSync(join(dir, 'ca.pem'), tls.cert);
  const signer = generateSignerKeyPair();
  const signerKey = Buffer.from(signer.publicKey, 'base64url');
  const vapid = { subject: 'mailto:ops@example.com', ...generateVAPIDKeys() };

  const requests = Array.from({ length: DEVICES }, () => []);
  const problems = [];
  const openedIds = new Set();
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const n = Number(req.url.slice('/push/'.length));
      const seen = requests[n];
      const [status, headers] = scripted(n, seen.length + 1);
      seen.push({ status, at: Date.now(), worker: req.headers['x-worker'] });
      if (status === 201) {
        try {
          const envelope = decryptRfc8291(Buffer.concat(chunks), devices[n].browser);
          const opened = core.pushOpen([devices[n].handle], [signerKey], envelope, Math.floor(Date.now() / 1000), 300);
          assert.equal(opened.message.title, 'Deploy finished');
          openedIds.add(opened.id);
          assert.equal(typeof opened.signer, 'string', 'signed, by the one trusted signer');
          if (n % 500 === 5) {
            // Sealed to this device's key only.
            assert.throws(() => core.pushOpen([devices[n + 1].handle], [signerKey], envelope, Math.floor(Date.now() / 1000), 300),
              { code: 'unknown-recipient' });
          }
        } catch (error) {
          problems.push(`${n}: ${error.message}`);
        }
      }
      res.writeHead(status, headers ?? {}).end(status === 201 ? '' : `scripted ${status}`);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${server.address().port}`;
  const devices = Array.from({ length: DEVICES }, (_, n) => {
    const handle = core.keyGenerate(KeyKind.box);
    const browser = browserSubscription(origin, String(n));
    return { n, handle, browser, publicKey: Buffer.from(core.keyPublic(handle)).toString('base64url') };
  });
  const setupMs = Date.now() - started;

  const workers = [];
  t.after(async () => {
    for (const child of workers) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
    await client.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = {
    ...process.env, REDIS_URL: redis.url, QUEUE: 'push-test', VAPID: JSON.stringify(vapid),
    SIGNER_SECRET: signer.secretKey, CA_FILE: join(dir, 'ca.pem'),
  };
  for (let i = 0; i < 2; i += 1) {
    const child = spawn(process.execPath, [new URL('./push-worker-app.js', import.meta.url).pathname],
      { env, stdio: ['ignore', 'pipe', 'inherit'] });
    workers.push(child);
    await new Promise((resolve, reject) => {
      child.stdout.on('data', (data) => { if (String(data).includes('ready')) resolve(); });
      child.on('exit', (code) => reject(new Error(`a push worker exited (${code})`)));
    });
  }

  const queue = await createPushQueue({ connection: client, name: 'push-test', backoffMs: 200, attempts: 5 });
  t.after(() => queue.close());
  const sendStarted = Date.now();
  const list = devices.map(({ n, browser, publicKey }) => ({ n, subscription: browser.json, publicKey }));
  const added = await queue.add(list, { title: 'Deploy finished', body: 'main is green', url: '/deploys/1' });
  assert.equal(added.jobs, DEVICES);
  // The same batch again (an app that retried its own call): nothing is added.
  await queue.add(list.slice(0, 1000), { title: 'Deploy finished', id: added.messageId }, { batchId: added.batchId });

  let counts;
  for (;;) {
    counts = await queue.queue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized');
    if (counts.completed + counts.failed >= DEVICES && counts.active + counts.waiting + counts.delayed === 0) break;
    assert.ok(Date.now() - sendStarted < 120000, `the queue drains: ${JSON.stringify(counts)}`);
    await sleep(200);
  }
  const sendMs = Date.now() - sendStarted;

  assert.deepEqual(problems.slice(0, 5), [], `${problems.length} envelopes did not open`);
  assert.deepEqual([...openedIds], [added.messageId], 'every device got the one message id add() fixed');
  const expect = { sent: 0, expired: 0, rejected: 0 };
  const perWorker = new Map();
  for (let n = 0; n < DEVICES; n += 1) {
    const seen = requests[n];
    for (const r of seen) perWorker.set(r.worker, (perWorker.get(r.worker) ?? 0) + 1);
    const accepted = seen.filter((r) => r.status === 201).length;
    if (n % 25 === 0) {
      expect.expired += 1;
      assert.deepEqual(seen.map((r) => r.status), [410], `device ${n}`);
    } else if (n % 100 === 4) {
      expect.rejected += 1;
      assert.deepEqual(seen.map((r) => r.status), [413], `device ${n}`);
    } else {
      expect.sent += 1;
      assert.equal(accepted, 1, `device ${n}: its envelope accepted exactly once (${JSON.stringify(seen)})`);
      assert.equal(seen.at(-1).status, 201);
    }
    if (n % 25 === 1) {
      assert.deepEqual(seen.map((r) => r.status), [429, 201]);
      assert.ok(seen[1].at - seen[0].at >= 990, `device ${n}: Retry-After: 1 honoured (${seen[1].at - seen[0].at} ms)`);
    }
    if (n % 25 === 2) assert.deepEqual(seen.map((r) => r.status), [503, 201]);
    if (n % 25 === 3) assert.deepEqual(seen.map((r) => r.status), [500, 502, 201]);
  }
  assert.equal(counts.completed, expect.sent + expect.expired);
  assert.equal(counts.failed, expect.rejected);
  const failed = await queue.queue.getFailed(0, 5);
  assert.ok(failed.length > 0 && failed.every((job) => /^rejected \(413\)/.test(job.failedReason)), failed[0]?.failedReason);

  // onExpired ran once per expired device, onRejected once per rejected one.
  const expired = (await client.lRange('expired', 0, -1)).map(Number).sort((a, b) => a - b);
  assert.deepEqual(expired, devices.filter(({ n }) => n % 25 === 0).map(({ n }) => n));
  const rejected = await client.lRange('rejected', 0, -1);
  assert.equal(rejected.length, expect.rejected);
  assert.ok(rejected.every((line) => / 413$/.test(line)));
  assert.equal(perWorker.size, 2, 'both worker processes sent');

  const total = requests.reduce((sum, seen) => sum + seen.length, 0);
  t.diagnostic(`${DEVICES} devices: ${expect.sent} accepted once each, ${expect.expired} expired, ${expect.rejected} `
    + `rejected; ${total} requests (${[...perWorker.values()].join(' + ')} per worker); setup ${setupMs} ms, `
    + `queue drained in ${sendMs} ms`);
});

test('sealpost/server works without bullmq; createPushQueue and pushWorker then say what is missing', () => {
  // A resolve hook that makes 'bullmq' unresolvable, as in an app that never installed it.
  const hooks = `export async function resolve(specifier, context, next) {
    if (specifier === 'bullmq') throw Object.assign(new Error('Cannot find package bullmq'), { code: 'ERR_MODULE_NOT_FOUND' });
    return next(specifier, context);
  }`;
  const script = `
    import { register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));
    const server = await import(${JSON.stringify(new URL('../../js/server.js', import.meta.url).href)});
    const rx = server.generateSignerKeyPair();
    const envelope = server.sealPush({ recipientPublicKey: rx.publicKey.replace(/./, 'A'), message: { title: 't' } });
    const errors = [];
    for (const call of [() => server.createPushQueue({ connection: {} }), () => server.pushWorker({ connection: {}, vapidDetails: {} })]) {
      await call().then(() => errors.push('no error'), (e) => errors.push(e.code + ': ' + e.message));
    }
    console.log(JSON.stringify({ sealed: envelope.length, errors }));
  `;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  assert.ok(out.sealed > 0);
  assert.equal(out.errors.length, 2);
  for (const error of out.errors) assert.match(error, /^unsupported: .*need the bullmq package/);
});

test('createPushQueue and pushWorker check their options before connecting', async () => {
  await assert.rejects(createPushQueue({}), { code: 'invalid-argument' });
  await assert.rejects(createPushQueue({ connection: {}, attempts: 0 }), { code: 'invalid-argument' });
  await assert.rejects(pushWorker({ connection: {} }), { code: 'invalid-argument' });
  await assert.rejects(pushWorker({ connection: {}, vapidDetails: {}, onExpired: 'no' }), { code: 'invalid-argument' });
});

test('createPushQueue.add(..., {declarative}) makes each pushWorker job send a declarative Web Push message', async (t) => {
  const redis = await startRedisServer();
  const { createClient } = await import('redis');
  const clients = [createClient({ url: redis.url }), createClient({ url: redis.url })];
  for (const client of clients) {
    client.on('error', () => {});
    await client.connect();
  }
  const core = await createCore();
  const tls = selfSignedCertificate();
  const signer = generateSignerKeyPair();
  const signerKey = Buffer.from(signer.publicKey, 'base64url');
  const vapid = { subject: 'mailto:ops@example.com', ...generateVAPIDKeys() };
  const received = [];
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ n: Number(req.url.slice('/push/'.length)), body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${server.address().port}`;
  const agent = new https.Agent({ ca: tls.cert });
  const devices = Array.from({ length: 3 }, (_, n) => {
    const handle = core.keyGenerate(KeyKind.box);
    return { n, handle, browser: browserSubscription(origin, String(n)), publicKey: Buffer.from(core.keyPublic(handle)).toString('base64url') };
  });
  const worker = await pushWorker({ connection: clients[1], name: 'dwp-test', signer, vapidDetails: vapid, agent,
    allowPrivateAddresses: true });
  const queue = await createPushQueue({ connection: clients[0], name: 'dwp-test' });
  t.after(async () => {
    await worker.close();
    await queue.close();
    for (const client of clients) await client.destroy();
    agent.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await redis.stop();
  });

  const generic = { title: 'New deploy', navigate: 'https://app.example/deploys' };
  await assert.rejects(queue.add([], { title: 't' }, { declarative: { title: 'x', navigate: '/deploys' } }),
    { code: 'invalid-argument' }, 'checked at add(), not in every job');
  const list = devices.map(({ n, browser, publicKey }) => ({ n, subscription: browser.json, publicKey }));
  const added = await queue.add(list, { title: 'Deploy finished', url: '/deploys/1' }, { declarative: generic });
  for (const end = Date.now() + 30000; received.length < devices.length;) {
    assert.ok(Date.now() < end, `3 sends, got ${received.length}`);
    await sleep(50);
  }
  for (const { n, body } of received) {
    const payload = JSON.parse(decryptRfc8291(body, devices[n].browser).toString('utf8'));
    assert.equal(payload.web_push, 8030);
    assert.deepEqual({ title: payload.notification.title, navigate: payload.notification.navigate }, generic);
    const envelope = Buffer.from(payload.notification.data.sealpost, 'base64url');
    const opened = core.pushOpen([devices[n].handle], [signerKey], envelope, Math.floor(Date.now() / 1000), 300);
    assert.deepEqual({ id: opened.id, title: opened.message.title }, { id: added.messageId, title: 'Deploy finished' });
  }
});
