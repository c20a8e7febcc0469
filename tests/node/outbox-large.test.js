// A 64 MiB body: queued and replayed byte-exact while Wasm memory stays at or under 16 MiB.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';

import { createCore } from '../../js/wasm/loader.js';
import { startServer } from './loopback-server.js';
import { openOutbox } from './outbox-support.js';

const MiB = 2 ** 20;

test('a 64 MiB body is queued and replayed byte-exact with Wasm memory never above 16 MiB', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const core = await createCore();
  const { outbox } = await openOutbox({ core, maxBytes: 128 * MiB });
  t.after(() => outbox.close());

  const body = new Uint8Array(64 * MiB);
  for (let offset = 0; offset < body.length; offset += 65536) randomFillSync(body, offset, 65536);
  const sha256 = createHash('sha256').update(body).digest('hex');
  let peak = core.memory.buffer.byteLength;
  // Sample memory after every call into the module, not only at the end.
  const call = core.call.bind(core);
  core.call = (fn) => {
    const result = call(fn);
    peak = Math.max(peak, core.memory.buffer.byteLength);
    return result;
  };

  const { id } = await outbox.enqueue({ url: `${server.url}/upload`, method: 'PUT', body,
    headers: { 'content-type': 'application/octet-stream' } });
  const [entry] = await outbox.list();
  assert.ok(entry.size > 64 * MiB, 'the sealed size covers the whole body');
  const result = await outbox.flush();
  assert.equal(result.sent, 1);
  const got = server.accepted.get(id);
  assert.equal(got.body.length, 64 * MiB);
  assert.equal(got.sha256, sha256, 'replayed byte-exact');
  assert.ok(peak <= 16 * MiB, `Wasm memory peaked at ${peak} bytes`);
  t.diagnostic(`Wasm memory peak: ${(peak / MiB).toFixed(2)} MiB`);
});
