// A real HTTP server on 127.0.0.1 for the outbox suites, with scripted failures. It de-duplicates writes
// on the Idempotency-Key header the way the demo server does: the first request with a key is accepted
// (201), later ones with the same key are answered 200 and not accepted again.
//
// script(request, n) picks what happens to the n-th request (0-based) — one of:
//   'ok'                        accept (or de-duplicate) and answer
//   {status, retryAfter?}       answer with that status without accepting
//   'drop'                      destroy the connection before reading the request
//   'lose-answer'               accept the write, then destroy the connection without answering
//   'hang'                      never answer (the client's timeout or a crash ends it)
//   'accept-hang'               accept the write, then never answer
import http from 'node:http';
import { createHash } from 'node:crypto';

export async function startServer(script = () => 'ok', { keyHeader = 'idempotency-key' } = {}) {
  /** @type {Map<string, {method: string, url: string, headers: object, body: Buffer, sha256: string, at: number}>} */
  const accepted = new Map();
  /** keys in the order they were first accepted */
  const order = [];
  const requests = [];
  const hanging = new Set();
  let count = 0;

  const server = http.createServer((req, res) => {
    const n = count;
    count += 1;
    const action = script(req, n);
    if (action === 'drop') {
      req.socket.destroy();
      return;
    }
    const parts = [];
    req.on('data', (part) => parts.push(part));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const key = req.headers[keyHeader] ?? null;
      requests.push({ n, method: req.method, url: req.url, key, size: body.length, headers: req.headers });
      if (action === 'hang') {
        hanging.add(res);
        return;
      }
      const accepting = action === 'ok' || action === 'lose-answer' || action === 'accept-hang';
      if (typeof action === 'object' && action !== null) {
        const headers = action.retryAfter !== undefined ? { 'retry-after': String(action.retryAfter) } : {};
        res.writeHead(action.status, headers);
        res.end();
        return;
      }
      let status = 200;
      if (accepting && (key === null || !accepted.has(key))) {
        status = 201;
        const record = {
          method: req.method, url: req.url, headers: req.headers, body,
          sha256: createHash('sha256').update(body).digest('hex'), at: Date.now(),
        };
        if (key !== null) accepted.set(key, record);
        order.push(key ?? `anonymous-${n}`);
        if (key === null) accepted.set(`anonymous-${n}`, record);
      }
      if (action === 'accept-hang') {
        hanging.add(res);
        return;
      }
      if (action === 'lose-answer') {
        req.socket.destroy();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    accepted,
    order,
    requests,
    get count() { return count; },
    async close() {
      for (const res of hanging) res.socket?.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
