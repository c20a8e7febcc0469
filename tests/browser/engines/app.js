// The engine suites' app server: the demo server (sw-demo/server.js: the package's files, the fixtures under
// /t/, /config.js with the suites' worker options, /api/push/simulate) behind a small front that owns
// /api/records, the endpoint the suites' worker routes. /api/records keeps every body as it arrived (bytes,
// content type, headers), de-duplicates on Idempotency-Key and fails on command: 'drop' destroys the socket
// before any answer (the network is down: neither engine can take a worker offline), '503' answers 503.
// Each app listens on its own port, so each is its own origin with its own worker and IndexedDB.
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createDemoServer } from '../../../sw-demo/server.js';
import { fixtures } from '../sw-setup.js';

const MAX_BODY = 1024 * 1024;

/**
 * @param {{worker?: object}} [options]  worker: the options the fixture workers pass to installSealpost
 */
export async function startApp(options = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'sealpost-engines-'));
  const demo = await createDemoServer({
    port: 0, dataFile: join(dataDir, 'demo.json'), mounts: [['/t/', fixtures]], worker: options.worker ?? {},
  });
  /** Accepted writes, in arrival order: {seq, key, group, run, contentType, canary, bytes, method, label}. */
  const records = [];
  /** Every write (POST, PUT, PATCH, DELETE) to /api/records seen: {at, key, group, run, outcome: 'dropped' | '503' | 'accepted' | 'duplicate'}. */
  const log = [];
  const byKey = new Map();
  let fault = 'none';

  async function handleRecords(req, res, url) {
    const key = req.headers['idempotency-key'] ?? null;
    const entry = { at: Date.now(), key, group: url.searchParams.get('group'), run: url.searchParams.get('run'), outcome: '' };
    log.push(entry);
    if (fault === 'drop') {
      entry.outcome = 'dropped';
      req.socket.destroy();
      return;
    }
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > MAX_BODY) { res.writeHead(413).end(); entry.outcome = '413'; return; }
      chunks.push(chunk);
    }
    if (fault === '503') {
      entry.outcome = '503';
      res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":"service unavailable"}');
      return;
    }
    const answer = (status, body, headers = {}) => res.writeHead(status, { 'Content-Type': 'application/json', ...headers })
      .end(JSON.stringify(body));
    if (key !== null && byKey.has(key)) {
      entry.outcome = 'duplicate';
      return answer(201, byKey.get(key), { 'Idempotent-Replayed': 'true' });
    }
    const record = {
      seq: records.length + 1, key, group: entry.group, run: entry.run, contentType: req.headers['content-type'] ?? null,
      method: req.method, label: url.searchParams.get('label'),
      canary: req.headers['x-canary'] ?? null, bytes: Buffer.concat(chunks),
    };
    records.push(record);
    entry.outcome = 'accepted';
    const body = { seq: record.seq, size: record.bytes.length };
    if (key !== null) byKey.set(key, body);
    return answer(201, body);
  }

  const front = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/api/records' && req.method !== 'GET' && req.method !== 'HEAD') {
      handleRecords(req, res, url).catch(() => res.destroy());
      return;
    }
    demo.server.emit('request', req, res);
  });
  await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${front.address().port}`;

  return {
    url,
    demo,
    records,
    log,
    /** 'none', 'drop' or '503', for every later POST /api/records. */
    setFault(mode) { fault = mode; },
    /** What the server accepted from one run of a scenario, in arrival order. */
    accepted(run) { return records.filter((r) => r.run === run); },
    async close() {
      front.closeAllConnections?.();
      await new Promise((resolve) => front.close(resolve));
      await demo.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
