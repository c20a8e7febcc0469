// The outbox at rest: what IndexedDB holds, tampering, lost keys, key rotation, crypto-shredding, and
// recovery after a crash in the middle of a request.
import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { createCore, KeyKind } from '../../js/wasm/loader.js';
import { startServer } from './loopback-server.js';
import { indexOfBytes } from './helpers.js';
import {
  IDBFactory, WebCryptoKeyStore, bytesOf, drain, dumpDatabase, manualClock, openOutbox, rawGet, rawPut,
} from './outbox-support.js';

const DB = 'sealpost-outbox';

test('a dump of every IndexedDB value holds no URL, header value or body byte of a queued request', async (t) => {
  const { outbox, indexedDB } = await openOutbox();
  t.after(() => outbox.close());
  const url = 'https://api.example.test/v1/notes/very-private-path?token=query-secret';
  const headerValue = 'Bearer eyJhbGciOiJIUzI1NiJ9.private-claims';
  const small = new Uint8Array(randomBytes(3000));
  const large = new Uint8Array(randomBytes(300000));
  await outbox.enqueue({ url, method: 'POST', body: small, headers: { authorization: headerValue, 'x-mood': 'melancholic' } },
    { group: 'private-group-name', metadata: { title: 'secret title' } });
  // PATCH, not PUT: three given bytes turn up by chance in 300 kB of ciphertext about once in sixty runs.
  await outbox.enqueue({ url, method: 'PATCH', body: large, headers: { authorization: headerValue } });
  const rows = [...await dumpDatabase(indexedDB, DB), ...await dumpDatabase(indexedDB, 'sealpost-keys')];
  assert.ok(rows.length >= 6);
  const everything = Buffer.concat(rows.flatMap(([store, key, value]) => bytesOf([store, key, value])));
  for (const needle of [url, 'api.example.test', 'very-private-path', 'query-secret', headerValue, 'private-claims',
    'melancholic', 'authorization', 'private-group-name', 'secret title', 'POST', 'PATCH']) {
    assert.equal(everything.indexOf(Buffer.from(needle)), -1, `${needle} is in IndexedDB`);
  }
  // Any 16-byte window of either body would be found; check several.
  for (const body of [small, large]) {
    for (let offset = 0; offset + 16 <= body.length; offset += Math.floor(body.length / 7)) {
      assert.equal(indexOfBytes(everything, body.subarray(offset, offset + 16)), -1, `body bytes at ${offset}`);
    }
  }
  // The clear fields are exactly the scheduling ones.
  const entry = rows.find(([store]) => store === 'entries')[2];
  assert.deepEqual(Object.keys(entry).sort(), ['attempts', 'createdAt', 'group', 'id', 'keyId', 'lastError',
    'leaseUntil', 'nextAttemptAt', 'queue', 'seq', 'size', 'state']);
  assert.match(entry.group, /^[0-9a-f]{32}$/);
});

test('one flipped bit of a stored record dead-letters it as record-tampered; it is never sent', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const { outbox, indexedDB } = await openOutbox({ ordering: 'independent' });
  t.after(() => outbox.close());
  const victim = await outbox.enqueue({ url: `${server.url}/v`, method: 'POST', body: 'victim' });
  const bystander = await outbox.enqueue({ url: `${server.url}/b`, method: 'POST', body: 'bystander' });
  const record = await rawGet(indexedDB, DB, 'records', victim.id);
  record[record.length - 20] ^= 0x04;
  await rawPut(indexedDB, DB, 'records', victim.id, record);
  const events = [];
  outbox.addEventListener('dead-lettered', (e) => events.push(e.detail));
  const result = await outbox.flush();
  assert.equal(result.sent, 1);
  assert.equal(result.dead, 1);
  assert.deepEqual(events.map((e) => [e.id, e.code]), [[victim.id, 'record-tampered']]);
  assert.ok(!server.accepted.has(victim.id));
  assert.ok(server.accepted.has(bystander.id));
  assert.equal(server.requests.length, 1, 'the tampered entry never reached the wire');
  const [dead] = await outbox.deadLetters();
  assert.deepEqual([dead.id, dead.lastError, dead.error], [victim.id, 'record-tampered', 'record-tampered']);
});

test('a version-1 (CBOR) record is no longer read: its entry is an unsupported-version dead letter, never sent', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const { outbox, indexedDB } = await openOutbox({ ordering: 'independent' });
  t.after(() => outbox.close());
  const old = await outbox.enqueue({ url: `${server.url}/old`, method: 'POST', body: 'old' });
  const current = await outbox.enqueue({ url: `${server.url}/new`, method: 'POST', body: 'new' });
  // What sealpost 0.1.0 stored: the CBOR map {"method": "POST", "url": ..., "v": 1, "body": h'6f6c64'},
  // sealed under the queue's key to the entry's place, so it authenticates.
  const text = (s) => { const b = Buffer.from(s); assert.ok(b.length < 256); return [0x78, b.length, ...b]; };
  const v1 = Uint8Array.from([0xa4, ...text('method'), ...text('POST'), ...text('url'), ...text(`${server.url}/old`),
    ...text('v'), 0x01, ...text('body'), 0x43, ...Buffer.from('old')]);
  const handle = outbox.keys.handles.get(outbox.keys.current);
  await rawPut(indexedDB, DB, 'records', old.id, outbox.core.recordSeal(handle, outbox.codec.place(old.id), v1));
  await assert.rejects(outbox.request(old.id), (e) => e.code === 'unsupported-version');
  assert.equal((await outbox.entry(old.id)).error, 'unsupported-version');
  const events = [];
  outbox.addEventListener('dead-lettered', (e) => events.push(e.detail));
  const result = await outbox.flush();
  assert.deepEqual([result.sent, result.dead, result.remaining], [1, 1, 0]);
  assert.deepEqual(events.map((e) => [e.id, e.code]), [[old.id, 'unsupported-version']]);
  assert.ok(!server.accepted.has(old.id));
  assert.ok(server.accepted.has(current.id));
  assert.equal(server.requests.length, 1, 'the version-1 entry never reached the wire');
  const [dead] = await outbox.deadLetters();
  assert.deepEqual([dead.id, dead.lastError], [old.id, 'unsupported-version']);
});

test('a flipped bit in a body chunk, or a missing chunk, is record-tampered too', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const { outbox, indexedDB } = await openOutbox({ ordering: 'independent' });
  t.after(() => outbox.close());
  const a = await outbox.enqueue({ url: `${server.url}/a`, method: 'POST', body: new Uint8Array(200000) });
  const b = await outbox.enqueue({ url: `${server.url}/b`, method: 'POST', body: new Uint8Array(200000) });
  const chunk = await rawGet(indexedDB, DB, 'chunks', [a.id, 1]);
  chunk[100] ^= 1;
  await rawPut(indexedDB, DB, 'chunks', [a.id, 1], chunk);
  const db = await new Promise((resolve) => { const r = indexedDB.open(DB); r.onsuccess = () => resolve(r.result); });
  await new Promise((resolve) => {
    const tx = db.transaction('chunks', 'readwrite');
    tx.objectStore('chunks').delete([b.id, 3]); // the final chunk: truncation
    tx.oncomplete = resolve;
  });
  db.close();
  const result = await outbox.flush();
  assert.equal(result.dead, 2);
  assert.equal(server.requests.length, 0);
  assert.deepEqual((await outbox.deadLetters()).map((d) => d.lastError), ['record-tampered', 'record-tampered']);
});

test('a record moved to another queue or another entry is record-tampered', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const indexedDB = new IDBFactory();
  const clock = manualClock();
  const inbox = await openOutbox({ indexedDB, clock, name: 'a', ordering: 'independent' });
  const other = await openOutbox({ indexedDB, clock, name: 'b', ordering: 'independent' });
  t.after(() => { inbox.outbox.close(); other.outbox.close(); });
  const fromA = await inbox.outbox.enqueue({ url: `${server.url}/from-a`, method: 'POST', body: 'a' });
  const inB = await other.outbox.enqueue({ url: `${server.url}/in-b`, method: 'POST', body: 'b' });
  const b2 = await other.outbox.enqueue({ url: `${server.url}/b2`, method: 'POST', body: 'b2' });
  const b3 = await other.outbox.enqueue({ url: `${server.url}/b3`, method: 'POST', body: 'b3' });
  // Queue a's record under queue b's entry; b3's record under b2's id (same queue, same key).
  await rawPut(indexedDB, DB, 'records', inB.id, await rawGet(indexedDB, DB, 'records', fromA.id));
  await rawPut(indexedDB, DB, 'records', b2.id, await rawGet(indexedDB, DB, 'records', b3.id));
  // And a's whole entry row moved into queue b (its key is a's: b never had it).
  const row = await rawGet(indexedDB, DB, 'entries', fromA.id);
  await rawPut(indexedDB, DB, 'entries', fromA.id, { ...row, queue: 'b', seq: 99 });
  const result = await other.outbox.flush();
  assert.equal(result.sent, 1, 'only b3 is sent');
  assert.deepEqual(server.requests.map((r) => r.url), ['/b3']);
  const dead = await other.outbox.deadLetters();
  assert.deepEqual(dead.map((d) => [d.id, d.lastError]).sort(),
    [[inB.id, 'record-tampered'], [b2.id, 'record-tampered'], [fromA.id, 'record-tampered']].sort());
});

test('after the key store is cleared, queued records are key-lost dead letters, never sent, and new ones work', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const indexedDB = new IDBFactory();
  const clock = manualClock();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const first = await openOutbox({ indexedDB, clock, keyStore });
  const a = await first.outbox.enqueue({ url: `${server.url}/a`, method: 'POST', body: 'a' });
  const b = await first.outbox.enqueue({ url: `${server.url}/b`, method: 'POST', body: 'b' });
  first.outbox.close();
  await keyStore.destroy();

  const fresh = await WebCryptoKeyStore.open({ indexedDB });
  const { outbox: second } = await openOutbox({ indexedDB, clock, keyStore: fresh });
  t.after(() => second.close());
  // Reported at open: dead letters before anything is sent.
  assert.deepEqual((await second.deadLetters()).map((d) => [d.id, d.lastError]), [[a.id, 'key-lost'], [b.id, 'key-lost']]);
  const c = await second.enqueue({ url: `${server.url}/c`, method: 'POST', body: 'c' });
  const result = await second.flush();
  assert.equal(result.sent, 1);
  assert.deepEqual(server.requests.map((r) => r.key), [c.id]);
  const dead = await second.deadLetters();
  assert.deepEqual(dead.map((d) => [d.id, d.lastError, d.error]),
    [[a.id, 'key-lost', 'key-lost'], [b.id, 'key-lost', 'key-lost']]);
  // Requeueing a key-lost entry sends nothing: it dies again the same way.
  await second.requeue(a.id);
  await second.flush();
  assert.equal(server.requests.length, 1);
  assert.equal((await second.deadLetters()).length, 2);
});

test('rotateKey re-seals every record (bodies too) under a new key and deletes the old one', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const indexedDB = new IDBFactory();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const { outbox } = await openOutbox({ indexedDB, keyStore, ordering: 'independent' });
  t.after(() => outbox.close());
  const big = new Uint8Array(randomBytes(150000));
  const a = await outbox.enqueue({ url: `${server.url}/a`, method: 'POST', body: 'small' });
  const b = await outbox.enqueue({ url: `${server.url}/b`, method: 'POST', body: big });
  const before = await rawGet(indexedDB, DB, 'records', a.id);
  const oldPurposes = await keyStore.purposes('outbox:');
  assert.equal(oldPurposes.length, 1);
  const { keyId, resealed } = await outbox.rotateKey();
  assert.equal(resealed, 2);
  const purposes = await keyStore.purposes('outbox:');
  assert.deepEqual(purposes, [`outbox:sealpost-outbox:notes:${keyId}`]);
  const after = await rawGet(indexedDB, DB, 'records', a.id);
  assert.notDeepEqual(after, before);
  assert.equal((await rawGet(indexedDB, DB, 'entries', b.id)).keyId, keyId);
  await outbox.flush();
  assert.equal(server.accepted.get(a.id).body.toString(), 'small');
  assert.deepEqual(new Uint8Array(server.accepted.get(b.id).body), big);
});

test('destroy() shreds the keys first: what IndexedDB held before cannot be opened with anything that remains', async (t) => {
  const indexedDB = new IDBFactory();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const { outbox } = await openOutbox({ indexedDB, keyStore });
  await outbox.enqueue({ url: 'http://127.0.0.1:9/a', method: 'POST', body: 'kept secret' });
  await outbox.enqueue({ url: 'http://127.0.0.1:9/b', method: 'POST', body: new Uint8Array(100000).fill(1) });
  const snapshot = await dumpDatabase(indexedDB, DB);
  const records = snapshot.filter(([store]) => store === 'records');
  assert.equal(records.length, 2);
  const order = [];
  const { delete: del } = keyStore;
  keyStore.delete = async (purpose) => { order.push(`key ${purpose.split(':')[0]}`); return del.call(keyStore, purpose); };
  const { clearQueue } = outbox.store;
  outbox.store.clearQueue = async (queue) => { order.push('records'); return clearQueue.call(outbox.store, queue); };
  await outbox.destroy();
  assert.deepEqual(order, ['key outbox', 'key outbox-group', 'records']);
  await assert.rejects(outbox.size(), (e) => e.code === 'closed');

  // Everything that remains: the key store's other keys, and the database (deleted when empty).
  assert.deepEqual(await keyStore.purposes(), []);
  const names = (await indexedDB.databases()).map((d) => d.name);
  assert.ok(!names.includes(DB), 'the empty outbox database is deleted');
  // Whatever keys remain (none here, plus any a fresh open creates) cannot open the old records.
  const core = await createCore();
  const again = await openOutbox({ indexedDB, keyStore });
  t.after(() => again.outbox.close());
  for (const purpose of await keyStore.purposes()) {
    const bytes = await keyStore.load(purpose);
    const handle = core.keyImport(KeyKind.symmetric, bytes);
    for (const [, id, sealed] of records) {
      assert.throws(() => core.requestOpen(handle, { database: DB, queue: 'notes', id }, sealed),
        (e) => e.code === 'wrong-key' || e.code === 'record-tampered');
    }
  }
  assert.equal(await again.outbox.size(), 0);
});

test('a flush abandoned mid-request: a second instance takes the entry up after the lease, same key, nothing lost or doubled', async (t) => {
  const server = await startServer((req, n) => (n === 0 ? 'accept-hang' : 'ok'));
  t.after(() => server.close());
  const indexedDB = new IDBFactory();
  const clock = manualClock();
  const retry = { requestTimeoutMs: 60000 };
  const first = await openOutbox({ indexedDB, clock, retry });
  const a = await first.outbox.enqueue({ url: `${server.url}/a`, method: 'POST', body: 'alpha' });
  const b = await first.outbox.enqueue({ url: `${server.url}/b`, method: 'POST', body: 'beta' });
  const crash = new AbortController();
  const abandoned = first.outbox.flush({ signal: crash.signal }).catch((e) => e);
  while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
  // The worker dies: its connection to IndexedDB goes away with it.
  first.outbox.close();

  const second = await openOutbox({ indexedDB, clock, retry });
  t.after(() => second.outbox.close());
  const [inflight] = await second.outbox.list();
  assert.deepEqual([inflight.id, inflight.state, inflight.attempts], [a.id, 'inflight', 1]);
  const early = await second.outbox.flush();
  assert.equal(early.busy, true, 'the dead drainer still holds its lease');
  assert.equal(server.requests.length, 1);
  clock.advance(60000 + 5000 + 1);
  const result = await second.outbox.flush();
  assert.deepEqual([result.sent, result.remaining], [2, 0]);
  assert.deepEqual(server.requests.map((r) => r.key), [a.id, a.id, b.id], 'retried with the same key, then in order');
  assert.equal(server.accepted.size, 2, 'accepted exactly once each');
  assert.equal(server.accepted.get(a.id).body.toString(), 'alpha');

  crash.abort();
  await abandoned;
});

test('contexts sharing a queue: first opens race safely, and a rotation in one is taken up by the other', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const indexedDB = new IDBFactory();
  const clock = manualClock();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  // A service worker and a page open the same queue for the first time at once.
  const [worker, page] = await Promise.all([openOutbox({ indexedDB, clock, keyStore }),
    openOutbox({ indexedDB, clock, keyStore })]);
  t.after(() => { worker.outbox.close(); page.outbox.close(); });
  const a = await worker.outbox.enqueue({ url: `${server.url}/a`, method: 'POST', body: 'from the worker' });
  const b = await page.outbox.enqueue({ url: `${server.url}/b`, method: 'POST', body: 'from the page' });
  // The worker rotates; the page still thinks the old key is current.
  await worker.outbox.rotateKey();
  const c = await page.outbox.enqueue({ url: `${server.url}/c`, method: 'POST', body: 'after the rotation' });
  assert.equal((await keyStore.purposes('outbox:')).length, 1, 'the old key is gone');
  const result = await page.outbox.flush();
  assert.deepEqual([result.sent, result.dead], [3, 0]);
  assert.deepEqual([a.id, b.id, c.id].map((id) => server.accepted.get(id)?.body.toString()),
    ['from the worker', 'from the page', 'after the rotation']);
});

test("destroy() shreds exactly its own keys: not those of 'notes:archive', nor of a database/queue pair with the same joined name", async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const indexedDB = new IDBFactory();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const clock = manualClock();
  const open = (name, database = DB) => openOutbox({ indexedDB, keyStore, clock, name, database });
  const { outbox: notes } = await open('notes');
  const { outbox: archive } = await open('notes:archive');
  // Joined with ':', ('x', 'a:b') and ('x:a', 'b') named the same group key.
  const { outbox: left } = await open('a:b', 'x');
  const { outbox: right } = await open('b', 'x:a');
  t.after(() => [archive, left, right].forEach((o) => o.close()));
  const purposes = await keyStore.purposes();
  assert.equal(new Set(purposes).size, 8, `four queues, a record key and a group key each: ${purposes.join(' ')}`);

  const kept = await archive.enqueue({ url: `${server.url}/archive`, method: 'POST', body: 'archived' });
  const kept2 = await right.enqueue({ url: `${server.url}/right`, method: 'POST', body: 'right' });
  await notes.enqueue({ url: `${server.url}/notes`, method: 'POST', body: 'shredded' });
  await notes.destroy();
  await left.destroy();
  assert.equal((await keyStore.purposes()).length, 4, 'only the destroyed queues lost their keys');

  // The survivors' keys still open their records, in this instance and in a fresh one.
  archive.close();
  const { outbox: reopened } = await open('notes:archive');
  t.after(() => reopened.close());
  assert.deepEqual((await reopened.deadLetters()), []);
  await drain(reopened, clock);
  await drain(right, clock);
  assert.equal(server.accepted.get(kept.id).body.toString(), 'archived');
  assert.equal(server.accepted.get(kept2.id).body.toString(), 'right');
});

test('a key stored under its name from before the parts were encoded is found and moved', async (t) => {
  const indexedDB = new IDBFactory();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  const clock = manualClock();
  const { outbox } = await openOutbox({ indexedDB, keyStore, clock, name: 'inbox:work' });
  const { id } = await outbox.enqueue({ url: 'https://api.example/n', method: 'POST', body: 'old name' });
  const keyId = outbox.keys.current;
  outbox.close();
  // Rename the stored keys to the old form, as a version that joined raw names left them.
  for (const [now, old] of [[`outbox:${DB}:inbox%3Awork:${keyId}`, `outbox:${DB}:inbox:work:${keyId}`],
    [`outbox-group:${DB}:inbox%3Awork`, `outbox-group:${DB}:inbox:work`]]) {
    const bytes = await keyStore.load(now);
    assert.ok(bytes, now);
    await keyStore.store(old, bytes);
    await keyStore.delete(now);
  }
  const { outbox: again } = await openOutbox({ indexedDB, keyStore, clock, name: 'inbox:work' });
  t.after(() => again.close());
  assert.equal(await (await again.request(id)).text(), 'old name');
  assert.deepEqual((await keyStore.purposes()).sort(),
    [`outbox-group:${DB}:inbox%3Awork`, `outbox:${DB}:inbox%3Awork:${keyId}`]);
});
