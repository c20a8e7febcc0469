/**
 * The demo's server: serves the demo app (sw-demo/public), the package's JS (/sealpost/js/) and build
 * outputs (/sealpost/dist/) with the strict CSP, and the app's API.
 *
 *   node sw-demo/server.js            http://127.0.0.1:8080 (PORT and HOST override)
 *   createDemoServer({ port: 0 })     for tests
 */
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

import { securityHeaders, serveStatic } from './static.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/**
 * @param {{port?: number, host?: string, mounts?: Array<[string, string]>}} [options]
 *   mounts: extra [url prefix, directory] pairs served before the demo (tests add fixtures this way)
 * @returns {Promise<{server: import('node:http').Server, url: string, close: () => Promise<void>}>}
 */
export async function createDemoServer(options = {}) {
  const mounts = [
    ...(options.mounts ?? []),
    ['/sealpost/js/', here('../js/')],
    ['/sealpost/dist/', here('../dist/')],
    ['/', here('./public/')],
  ];
  const server = createServer(async (req, res) => {
    try {
      const { pathname } = new URL(req.url, 'http://localhost');
      if (await serveStatic(req, res, pathname, mounts)) return;
      res.writeHead(404, { ...securityHeaders(), 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
    } catch (error) {
      res.writeHead(500, { ...securityHeaders(), 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`server error: ${error.message}\n`);
    }
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise((resolve) => server.listen(options.port ?? 8080, host, resolve));
  const { port } = server.address();
  return {
    server,
    url: `http://${host}:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const port = Number(process.env.PORT ?? 8080);
  const { url } = await createDemoServer({ port, host: process.env.HOST ?? '127.0.0.1' });
  console.log(`sealpost demo: ${url}/`);
}
