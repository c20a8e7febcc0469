// A push worker process for tests/node/push-queue.test.js: pushWorker() on a shared Redis, sending to the
// test's loopback push service. Prints "ready" once it takes jobs; closes its worker on SIGTERM.
//   REDIS_URL, QUEUE, VAPID (JSON), SIGNER_SECRET, CA_FILE (the push service's certificate), CONCURRENCY
// Each send carries x-worker: <pid>; onExpired pushes the device's n onto the Redis list "expired".
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createClient } from 'redis';

import { pushWorker } from '../../js/server.js';

const redis = createClient({ url: process.env.REDIS_URL });
redis.on('error', () => {}); // the test stops redis-server at its end
await redis.connect();
const agent = new https.Agent({ ca: readFileSync(process.env.CA_FILE), keepAlive: true, maxSockets: 64 });
const { worker, close } = await pushWorker({
  connection: redis,
  name: process.env.QUEUE,
  signer: { secretKey: process.env.SIGNER_SECRET },
  vapidDetails: JSON.parse(process.env.VAPID),
  concurrency: Number(process.env.CONCURRENCY ?? 32),
  agent,
  allowPrivateAddresses: true,
  timeout: 10000,
  TTL: 600,
  headers: { 'x-worker': String(process.pid) },
  onExpired: async (device) => {
    await redis.rPush('expired', String(device.n));
  },
  onRejected: async (device, result) => {
    await redis.rPush('rejected', `${device.n} ${result.statusCode}`);
  },
});
worker.on('error', () => {});
await worker.waitUntilReady();
console.log('ready');
process.on('SIGTERM', async () => {
  await close().catch(() => {});
  agent.destroy();
  await redis.quit().catch(() => {});
  process.exit(0);
});
