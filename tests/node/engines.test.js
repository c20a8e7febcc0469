// What differs between engines, reproduced in Node: Firefox's Request has no `body` property, WebKit's
// Request keeps a reference to a BufferSource body instead of copying it, and WebKit refuses
// showNotification under automation. Each scenario queues (or delivers) and checks nothing is lost.
import test from 'node:test';
import assert from 'node:assert/strict';

import { installSealpost } from '../../js/sw.js';
import { sealPush } from '../../js/server.js';
import { startServer } from './loopback-server.js';
import { prng } from './helpers.js';
import { drain, dumpDatabase, openOutbox } from './outbox-support.js';
import { fakeScope, listen } from './worker-support.js';

const NativeRequest = globalThis.Request;

/** Firefox: `Request.prototype.body` does not exist, so `request.body` is undefined even for a POST. */
class NoBodyPropertyRequest extends NativeRequest {
  get body() { return undefined; }
}

/**
 * WebKit: a BufferSource body is not copied; the bytes are read from the caller's buffer when the request
 * is sent, so a change to the buffer after `new Request` (a wipe) changes what goes out.
 */
class ReferencingRequest extends NativeRequest {
  constructor(input, init = undefined) {
    const body = init?.body;
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
      const view = body instanceof ArrayBuffer ? new Uint8Array(body)
        : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      const lazy = new ReadableStream({
        pull(controller) {
          controller.enqueue(view.slice());
          controller.close();
        },
      }, { highWaterMark: 0 });
      super(input, { ...init, body: lazy, duplex: 'half' });
    } else {
      super(input, init);
    }
  }
}

/** Runs `fn` with globalThis.Request replaced by `Engine`. */
async function withRequest(Engine, fn) {
  globalThis.Request = Engine;
  try {
    return await fn();
  } finally {
    globalThis.Request = NativeRequest;
  }
}

/** Bodies of several shapes and sizes: text, binary, empty, and one over the streaming threshold. */
function bodies() {
  const random = prng(16);
  const big = new Uint8Array(300 * 1024);
  for (let i = 0; i < big.length; i += 1) big[i] = random() & 0xff;
  return [
    { method: 'POST', type: 'application/json', bytes: new TextEncoder().encode(JSON.stringify({ note: 'héllo' })) },
    { method: 'PUT', type: 'application/octet-stream', bytes: Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff) },
    { method: 'PATCH', type: 'text/plain', bytes: new Uint8Array(0) },
    { method: 'POST', type: 'application/octet-stream', bytes: big },
  ];
}

for (const [engine, Engine] of [['Firefox (no Request.prototype.body)', NoBodyPropertyRequest],
  ['WebKit (Request keeps a reference to its body)', ReferencingRequest]]) {
  test(`${engine}: queued bodies are replayed byte-exact with their content-type`, async (t) => {
    const server = await startServer();
    t.after(() => server.close());
    await withRequest(Engine, async () => {
      assert.equal(new Request('https://a.example/', { method: 'POST', body: 'x' }) instanceof Engine, true);
      const { outbox, clock } = await openOutbox();
      t.after(() => outbox.close());
      const cases = bodies();
      const ids = [];
      for (const [i, c] of cases.entries()) {
        const init = { method: c.method, headers: { 'content-type': c.type }, body: c.bytes.slice() };
        // Half as the Request a fetch event would hand over, half as a plain init.
        const input = i % 2 ? new Request(`${server.url}/notes/${i}`, init) : { url: `${server.url}/notes/${i}`, ...init };
        ids.push((await outbox.enqueue(input)).id);
      }
      const sent = await drain(outbox, clock);
      assert.equal(sent.sent, cases.length);
      for (const [i, c] of cases.entries()) {
        const got = server.accepted.get(ids[i]);
        assert.ok(got, `entry ${i} was accepted`);
        assert.equal(got.method, c.method);
        assert.equal(got.headers['content-type'], c.type);
        assert.equal(got.body.length, c.bytes.length, `entry ${i}: body length`);
        assert.ok(Buffer.from(c.bytes).equals(got.body), `entry ${i}: body bytes`);
      }
    });
  });
}

test('Firefox: request(id) shows the body of a Request queued without Request.prototype.body', async (t) => {
  await withRequest(NoBodyPropertyRequest, async () => {
    const { outbox } = await openOutbox();
    t.after(() => outbox.close());
    const { id } = await outbox.enqueue(new Request('https://api.example/n', { method: 'POST', body: 'kept' }));
    assert.equal(await (await outbox.request(id)).text(), 'kept');
  });
});

test('WebKit: nothing stored is a Blob (automation sessions refuse Blob values in IndexedDB)', async (t) => {
  const { outbox, indexedDB } = await openOutbox();
  t.after(() => outbox.close());
  await outbox.enqueue({ url: 'https://api.example/big', method: 'POST', body: new Uint8Array(300 * 1024).fill(7) });
  const rows = [...await dumpDatabase(indexedDB, 'sealpost-outbox'), ...await dumpDatabase(indexedDB, 'sealpost-keys')];
  assert.ok(rows.length > 3);
  const blobs = [];
  const walk = (value) => {
    if (value instanceof Blob) blobs.push(value);
    else if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) Object.values(value).forEach(walk);
  };
  rows.forEach(([, , value]) => walk(value));
  assert.deepEqual(blobs, []);
});

// ---------------------------------------------------------------- push where notifications are refused

/** A worker scope whose showNotification is refused while `refuse.on` (as WebKit under automation). */
function refusingScope(refuse) {
  const scope = fakeScope();
  const show = scope.registration.showNotification;
  scope.registration.showNotification = async (title, options) => {
    if (refuse.on) throw new TypeError('Not allowed to show a notification');
    return show(title, options);
  };
  return scope;
}

test('push: a valid message that cannot be displayed is display-failed, broadcast, and opens again later', async () => {
  const events = listen();
  try {
    const refuse = { on: true };
    const scope = refusingScope(refuse);
    installSealpost(scope, { push: { allowUnsigned: true } });
    const { publicKey } = await scope.ask({ type: 'sealpost:push-key' });
    const envelope = sealPush({ recipientPublicKey: publicKey, now: Date.now(), message: { id: 'm1', title: 'Hello' } });

    assert.deepEqual(await scope.ask({ type: 'sealpost:deliver', envelope }), { shown: false, code: 'display-failed' });
    const rejected = await events.until((e) => e.type === 'push-rejected', 1);
    assert.deepEqual(rejected.map(({ type, code, id }) => ({ type, code, id })),
      [{ type: 'push-rejected', code: 'display-failed', id: 'm1' }]);

    // Displaying works again: the same envelope is shown (it was not recorded as seen), then it is a replay.
    refuse.on = false;
    const shown = await scope.ask({ type: 'sealpost:deliver', envelope });
    assert.equal(shown.shown, true);
    assert.deepEqual(scope.shown.map((n) => n.title), ['Hello']);
    assert.deepEqual(await scope.ask({ type: 'sealpost:deliver', envelope }), { shown: 'fallback', code: 'replayed' });

    // A check that fails while nothing can be shown still reaches the page with its own code.
    refuse.on = true;
    assert.deepEqual(await scope.ask({ type: 'sealpost:deliver', envelope }), { shown: false, code: 'replayed' });
    assert.deepEqual(await scope.ask({ type: 'sealpost:deliver', envelope: 'AQ' }), { shown: false, code: 'malformed' });
    const codes = (await events.until((e) => e.type === 'push-rejected', 4)).map((e) => e.code);
    assert.deepEqual(codes, ['display-failed', 'replayed', 'replayed', 'malformed']);
  } finally {
    events.close();
  }
});

// ---------------------------------------------------------------- loading the module over HTTP

test('the module loads over HTTP with a wrong Content-Type and where compileStreaming is missing; other bytes are refused', async (t) => {
  const { createServer } = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const { loadModule } = await import('../../js/wasm/loader.js');
  const bytes = await readFile(new URL('../../dist/sealpost.wasm', import.meta.url));
  let served = 0;
  const server = createServer((req, res) => {
    served += 1;
    res.writeHead(200, { 'content-type': req.url.includes('plain') ? 'text/plain' : 'application/wasm' });
    if (!req.url.includes('swapped')) {
      res.end(bytes);
      return;
    }
    const swapped = Buffer.from(bytes);
    swapped[swapped.length - 1] ^= 1; // still a valid module's size, not this build's bytes
    res.end(swapped);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;

  // compileStreaming refuses a non-wasm Content-Type with a TypeError: the bytes of the same fetch are compiled.
  assert.ok((await loadModule({ wasmUrl: `${base}/plain/sealpost.wasm` })) instanceof WebAssembly.Module);
  assert.equal(served, 1, 'one fetch');

  // A module whose bytes are not this build's is refused, streamed or not, and from wasmBinary too.
  const integrity = (e) => e.code === 'wasm-load-failed' && e.integrity === true && /SHA-256/.test(e.message);
  await assert.rejects(loadModule({ wasmUrl: `${base}/swapped/sealpost.wasm` }), integrity);
  await assert.rejects(loadModule({ wasmUrl: `${base}/plain/swapped/sealpost.wasm` }), integrity);
  const flipped = Buffer.from(bytes);
  flipped[100] ^= 1;
  await assert.rejects(loadModule({ wasmBinary: flipped }), integrity);
  served = 1;

  const streaming = WebAssembly.compileStreaming;
  delete WebAssembly.compileStreaming;
  try {
    assert.ok((await loadModule({ wasmUrl: `${base}/no-streaming/sealpost.wasm` })) instanceof WebAssembly.Module);
    assert.equal(served, 2);
  } finally {
    WebAssembly.compileStreaming = streaming;
  }
});

test('fetch is called as browsers require it: not as a method of another object', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const { outbox, clock } = await openOutbox();
  t.after(() => outbox.close());
  // Browsers throw "Illegal invocation" when fetch runs with a `this` that is not a global object.
  function strictFetch(request, init) {
    if (this !== undefined && this !== globalThis) throw new TypeError('Illegal invocation');
    return fetch(request, init);
  }
  const { id } = await outbox.enqueue({ url: `${server.url}/n`, method: 'POST', body: 'x' });
  const result = await drain(outbox, clock, { fetch: strictFetch });
  assert.deepEqual([result.sent, result.retrying], [1, 0]);
  assert.ok(server.accepted.get(id));
});
