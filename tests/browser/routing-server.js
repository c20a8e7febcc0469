// The browser suites' server for the fetch route's own tests: the fixtures, sealpost's js/ and dist/, and
// a capture endpoint under /t/routing/api/ that records every request byte for byte (method, path, query,
// headers, body) and applies a write once per Idempotency-Key (201; 200 for a key seen before).
// `server.script(request)` decides each request: 'ok', 'drop' (connection destroyed before an answer),
// or {status, retryAfter?} (answered without applying it).
import http from 'node:http';
import { fileURLToPath } from 'node:url';

import { securityHeaders, serveStatic } from '../../sw-demo/static.js';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

export async function startRoutingServer() {
  const mounts = [['/t/', here('./fixtures/')], ['/sealpost/js/', here('../../js/')], ['/sealpost/dist/', here('../../dist/')]];
  const state = {
    script: () => 'ok',
    /** every request that reached the endpoint, in arrival order */
    requests: [],
    /** key → the request that applied it, in the order they were applied */
    applied: new Map(),
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (!url.pathname.startsWith('/t/routing/api/')) {
      serveStatic(req, res, url.pathname, mounts).then((served) => {
        if (served) return;
        res.writeHead(404, securityHeaders());
        res.end('not found\n');
      }, (error) => { res.writeHead(500); res.end(String(error)); });
      return;
    }
    const action = state.script(req, url);
    if (action === 'drop') {
      req.socket.destroy();
      return;
    }
    const parts = [];
    req.on('data', (part) => parts.push(part));
    req.on('end', () => {
      const key = req.headers['idempotency-key'] ?? null;
      const record = {
        method: req.method, path: url.pathname, group: url.searchParams.get('group'), label: url.searchParams.get('label'),
        key, headers: req.headers, body: Buffer.concat(parts),
      };
      state.requests.push(record);
      if (typeof action === 'object' && action !== null) {
        res.writeHead(action.status, action.retryAfter === undefined ? {} : { 'retry-after': String(action.retryAfter) });
        res.end();
        return;
      }
      const fresh = key === null || !state.applied.has(key);
      if (fresh) state.applied.set(key ?? `anonymous-${state.requests.length}`, record);
      res.writeHead(fresh ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ applied: fresh, label: record.label }));
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(resolve);
    }),
  });
}
