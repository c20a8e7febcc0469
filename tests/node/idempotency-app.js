// An app server for tests/node/idempotency.test.js: POST /effects behind idempotency() with a Redis
// store, one of several instances sharing one Redis. Prints "listening <port>" when it is ready.
//   REDIS_URL      redis://127.0.0.1:<port>
//   MODE           plain:  the effect is INCR count:<key> + RPUSH ledger <key> (not unique on the key)
//                  recipe: the effect is written once per key (SET NX with the answer, ledger in the same
//                          script run), and the answer is the one stored with it: docs/server.md, "Exactly once"
//   LOCK_SECONDS   the middleware's lockSeconds
//   SLOW_AFTER     recipe: after this many effects, print "slow <key>" and hold that answer for 5 s
//                  (the test kills the process then: an effect written, its answer never sent)
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';

import { idempotency, redisIdempotencyStore } from '../../js/server.js';

const redis = createClient({ url: process.env.REDIS_URL });
redis.on('error', () => {}); // the test stops redis-server at its end, maybe before this process
await redis.connect();
const mode = process.env.MODE ?? 'plain';
const guard = idempotency({
  store: redisIdempotencyStore(redis, { prefix: 'idem:' }),
  lockSeconds: Number(process.env.LOCK_SECONDS ?? 60),
  replayHeaders: ['location'],
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const slowAfter = Number(process.env.SLOW_AFTER ?? 0);
let effects = 0;

// Written once per key: the effect and its ledger line in one script run, like one SQL transaction
// with INSERT … ON CONFLICT DO NOTHING.
const ONCE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  return ARGV[1]
end
return redis.call('GET', KEYS[1])`;

async function effect(req, res) {
  const key = req.idempotencyKey;
  const input = JSON.parse(req.body.toString('utf8'));
  // A fresh nonce per run: a second run of the same key would answer differently.
  const answer = JSON.stringify({ key, n: input.n, pid: process.pid, nonce: randomBytes(8).toString('hex') });
  let body;
  await sleep(Math.random() * 4);
  if (mode === 'recipe') {
    body = await redis.sendCommand(['EVAL', ONCE, '2', `effect:${key}`, 'ledger', answer, key]);
    effects += 1;
    if (effects === slowAfter) {
      console.log(`slow ${key}`);
      await sleep(5000);
    }
    await sleep(Math.random() * 12); // a window between the effect and the answer for SIGKILL to land in
  } else {
    await redis.incr(`count:${key}`);
    await redis.rPush('ledger', key);
    body = answer;
  }
  res.writeHead(201, { 'content-type': 'application/json', location: `/effects/${key}`, 'x-pid': String(process.pid) });
  res.end(body);
}

const server = createServer((req, res) => {
  guard(req, res, () => effect(req, res)).catch((error) => {
    if (!res.headersSent) res.writeHead(500).end(String(error?.message ?? error));
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
