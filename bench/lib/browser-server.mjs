// What the Chromium benches share: the tail of their loopback servers (sealpost's files, the module
// cacheable as a deployed site serves it, 404 otherwise), listening on loopback, and stopping every worker.
import { securityHeaders, serveStatic } from '../../sw-demo/static.js';

/** Serves `pathname` from `mounts` (a `.wasm` with `Cache-Control: max-age=3600`), or answers 404. */
export async function serveAsset(req, res, pathname, mounts) {
  if (pathname.endsWith('.wasm')) {
    // Cacheable, as a deployed site serves a static asset.
    const writeHead = res.writeHead.bind(res);
    res.writeHead = (status, headers) => writeHead(status, { ...headers, 'Cache-Control': 'max-age=3600' });
  }
  if (await serveStatic(req, res, pathname, mounts)) return;
  res.writeHead(404, securityHeaders());
  res.end();
}

/** Listens on 127.0.0.1 (a free port) → {url, close, ...extra}. */
export async function listenLoopback(server, extra = {}) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    ...extra,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** CDP ServiceWorker.stopAllWorkers, then waits until every version `versions` tracks is stopped. */
export async function stopAllWorkers(cdp, versions) {
  await cdp.send('ServiceWorker.stopAllWorkers');
  for (let i = 0; i < 400; i += 1) {
    if ([...versions.values()].every((status) => status === 'stopped')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('workers did not stop');
}
