/**
 * The demo's server: serves the demo app (sw-demo/public), the package's JS (/sealpost/js/) and build
 * outputs (/sealpost/dist/) with the strict CSP, and the app's API.
 *
 *   node sw-demo/server.js            http://127.0.0.1:8080 (PORT, HOST and DATA_FILE override)
 *   node sw-demo/server.js --push-service local
 *                                     also a local push service (sw-demo/push-service.js) for Firefox's
 *                                     push client; prints the Firefox prefs that point Firefox at it
 *   createDemoServer({ port: 0 })     for tests
 *
 * API (JSON in and out):
 *   POST /api/notes            {text}; exactly once per Idempotency-Key (sealpost/server's idempotency(): a
 *                              retry answers the first result; 409 while it runs, 422 for another body)
 *   GET  /api/notes            {notes, duplicates}
 *   POST /api/switches         {mode: 'ok'|'503'|'429', retryAfter?, times?}: answer writes with that status
 *   GET  /api/switches
 *   POST /api/subscriptions    {subscription?, publicKey, keyId, categories?}; DELETE with {keyId | endpoint}
 *   GET  /api/subscriptions    {keyId, publicKey, categories, pushService (host)}: never endpoints or their keys
 * Writes must be application/json, and from this origin when a browser sends them.
 *   POST /api/push/send        {message, keyId?}: sealPush + sendSealedPush (web-push, VAPID) per subscription
 *   POST /api/push/simulate    {publicKey, message}: the sealed envelope (base64url), for sealpost:deliver
 *   POST /api/feedback         {messageId, action, category?}; exactly once like notes
 *   GET  /api/log              every write request seen: {at, path, key, status}
 *   GET  /config.js            an ES module with the VAPID and signer public keys and worker options
 *   GET  /config.classic.js    the same for classic workers (sets self.sealpostDemoConfig)
 *
 * Notes, subscriptions, feedback, the VAPID keys and the signer key are persisted in one JSON file,
 * written atomically (temporary file, fsync, rename) before any write is acknowledged.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import webpush from 'web-push';

import { idempotency, memoryIdempotencyStore } from '../js/server/idempotency.js';
import { securityHeaders, serveStatic } from './static.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const MAX_BODY = 64 * 1024;
const NOTE_MAX_CHARS = 10000;
/** Answers the Idempotency-Key middleware keeps (the oldest are dropped first). */
const MAX_RESULTS = 10000;

/** Loads sealpost/server once (null when this build of the package has no server helper). */
let serverHelper;
async function loadServerHelper() {
  if (serverHelper === undefined) {
    serverHelper = await import('../js/server.js').catch(() => null);
  }
  return serverHelper;
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function emptyState() {
  return {
    version: 1, vapid: null, signer: null, nextSeq: 1, notes: [], feedback: [], duplicates: 0, subscriptions: [],
  };
}

/** The demo's data: an in-memory copy of the JSON file, saved atomically after every change. */
class DataFile {
  constructor(path) {
    this.path = path;
    this.state = emptyState();
    this.saving = Promise.resolve();
    this.writes = 0;
  }

  async load() {
    try {
      const text = await readFile(this.path, 'utf8');
      this.state = { ...emptyState(), ...JSON.parse(text) };
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
  }

  /** Writes the current state: temp file + fsync + rename, one write at a time, each of the latest state. */
  save() {
    const run = async () => {
      await mkdir(dirname(this.path), { recursive: true });
      this.writes += 1;
      const temp = `${this.path}.tmp-${process.pid}-${this.writes}`;
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(this.state, null, 1));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    };
    this.saving = this.saving.then(run, run);
    return this.saving;
  }
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A write must be JSON and, from a browser, from this origin: a form on another site cannot send
 * application/json without a CORS preflight (which this server never answers), and a browser names the
 * page's origin in `Origin` on every write. Clients that are not browsers send no Origin.
 */
function checkWrite(req) {
  if (!WRITES.has(req.method)) return;
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'writes must be application/json');
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) {
    throw new HttpError(403, 'cross-origin writes are refused');
  }
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  return parseJson(Buffer.concat(chunks));
}

/** A body's bytes as a JSON object ({} when empty). */
function parseJson(bytes) {
  if (bytes.length === 0) return {};
  try {
    const value = JSON.parse(bytes.toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw new HttpError(400, 'the body must be a JSON object');
  }
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...securityHeaders(),
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function validMode(mode) {
  return mode === 'ok' || mode === '503' || mode === '429';
}

/**
 * @param {{port?: number, host?: string, mounts?: Array<[string, string]>, dataFile?: string,
 *   pushFetchTimeoutMs?: number, pushAgent?: import('node:https').Agent, pushAllowPrivateAddresses?: boolean, worker?: object}} [options]
 *   mounts: extra [url prefix, directory] pairs served before the demo (tests add fixtures this way)
 *   dataFile: where notes, subscriptions and keys are kept (default sw-demo/data/demo.json)
 *   worker: options the demo's service worker passes to installSealpost (e.g. a faster retry policy)
 *   pushAgent: the https.Agent for push services (tests trust a loopback service's certificate with it)
 *   pushAllowPrivateAddresses: send to loopback and private addresses (tests' loopback push service only)
 *   maxResults: answers the Idempotency-Key middleware keeps (default MAX_RESULTS)
 * @returns {Promise<{server: import('node:http').Server, url: string, data: DataFile,
 *   idempotencyStore: ReturnType<typeof memoryIdempotencyStore>, close: () => Promise<void>}>}
 */
export async function createDemoServer(options = {}) {
  const mounts = [
    ...(options.mounts ?? []),
    ['/sealpost/js/', here('../js/')],
    ['/sealpost/dist/', here('../dist/')],
    ['/', here('./public/')],
  ];
  const data = new DataFile(options.dataFile ?? here('./data/demo.json'));
  await data.load();
  const helper = await loadServerHelper();
  let dirty = false;
  if (!data.state.vapid) {
    data.state.vapid = webpush.generateVAPIDKeys();
    dirty = true;
  }
  if (!data.state.signer && helper) {
    data.state.signer = helper.generateSignerKeyPair();
    dirty = true;
  }
  if (dirty) await data.save();

  /** @type {{mode: string, retryAfter: number|string|null, times: number|null}} */
  let switches = { mode: 'ok', retryAfter: null, times: null };
  const log = [];

  /** The status a write answers while a switch is on, or null to process it. */
  function switchedStatus() {
    if (switches.mode === 'ok') return null;
    const status = Number(switches.mode);
    if (switches.times !== null) {
      switches.times -= 1;
      if (switches.times <= 0) switches = { mode: 'ok', retryAfter: null, times: null };
    }
    return status;
  }

  // Writes go through sealpost/server's Idempotency-Key middleware, with answers kept in memory. A key
  // can outlive them (a restart, or more than maxResults newer keys), so each write is also unique on its
  // key (notesByKey, feedbackByKey): a retry then finds the write it made and answers it again.
  const idempotencyStore = memoryIdempotencyStore({ maxEntries: options.maxResults ?? MAX_RESULTS });
  const guard = idempotency({ store: idempotencyStore, maxBodyBytes: MAX_BODY });
  const notesByKey = new Map(data.state.notes.filter((n) => n.key !== null).map((n) => [n.key, n]));
  const feedbackByKey = new Map(data.state.feedback.filter((f) => f.key !== null).map((f) => [f.key, f]));

  /**
   * A write with exactly-once effect per Idempotency-Key; every request is logged with the status it got,
   * and a replayed answer is counted in `duplicates`.
   * @param {(body: object, key: string | null) => {status: number, body: object, replayed?: boolean}} apply
   *   validates and stores
   */
  async function idempotentWrite(req, res, pathname, apply) {
    const key = req.headers['idempotency-key'] ?? null;
    const entry = { at: Date.now(), method: req.method, path: pathname, key, status: 0 };
    log.push(entry);
    res.once('finish', () => {
      entry.status = res.statusCode;
      if (res.getHeader('idempotent-replayed') === 'true') {
        data.state.duplicates += 1;
        data.save().catch(() => {});
      }
    });
    const retryAfter = switches.retryAfter;
    const switched = switchedStatus();
    if (switched !== null) {
      await readJson(req).catch(() => ({}));
      const headers = retryAfter === null || retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) };
      return sendJson(res, switched, { error: switched === 429 ? 'too many requests' : 'service unavailable' }, headers);
    }
    // Replays and the middleware's own answers carry the same security headers as every answer.
    for (const [name, value] of Object.entries(securityHeaders())) res.setHeader(name, value);
    return guard(req, res, async () => {
      const result = apply(parseJson(req.body), req.idempotencyKey ?? null);
      await data.save();
      return sendJson(res, result.status, result.body, result.replayed ? { 'Idempotent-Replayed': 'true' } : {});
    });
  }

  function addNote(body, key) {
    const earlier = key === null ? undefined : notesByKey.get(key);
    if (earlier) return { status: 201, body: { note: earlier }, replayed: true };
    const text = body.text;
    if (typeof text !== 'string' || text.trim() === '' || text.length > NOTE_MAX_CHARS) {
      return { status: 400, body: { error: `text must be 1 to ${NOTE_MAX_CHARS} characters` } };
    }
    const note = {
      seq: data.state.nextSeq,
      text,
      key,
      clientId: typeof body.clientId === 'string' ? body.clientId.slice(0, 100) : null,
      receivedAt: new Date().toISOString(),
    };
    data.state.nextSeq += 1;
    data.state.notes.push(note);
    if (key !== null) notesByKey.set(key, note);
    return { status: 201, body: { note } };
  }

  function addFeedback(body, key) {
    const earlier = key === null ? undefined : feedbackByKey.get(key);
    if (earlier) return { status: 201, body: { feedback: earlier }, replayed: true };
    if (typeof body.action !== 'string' || body.action.length > 64) {
      return { status: 400, body: { error: 'action must be a string' } };
    }
    const item = {
      messageId: typeof body.messageId === 'string' ? body.messageId.slice(0, 128) : null,
      action: body.action,
      category: typeof body.category === 'string' ? body.category.slice(0, 64) : null,
      key,
      receivedAt: new Date().toISOString(),
    };
    data.state.feedback.push(item);
    if (key !== null) feedbackByKey.set(key, item);
    return { status: 201, body: { feedback: item } };
  }

  function subscriptionRecord(body) {
    const { publicKey, keyId } = body;
    if (typeof publicKey !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(publicKey)) {
      throw new HttpError(400, 'publicKey must be the base64url X25519 public key (43 characters)');
    }
    if (typeof keyId !== 'string' || !/^[A-Za-z0-9_-]{11}$/.test(keyId)) {
      throw new HttpError(400, 'keyId must be the base64url 8-byte key id (11 characters)');
    }
    const subscription = body.subscription ?? null;
    if (subscription !== null && (typeof subscription.endpoint !== 'string' || !subscription.keys)) {
      throw new HttpError(400, 'subscription must be a PushSubscription in JSON form');
    }
    const categories = Array.isArray(body.categories) ? body.categories.filter((c) => typeof c === 'string') : [];
    return { subscription, publicKey, keyId, categories, createdAt: new Date().toISOString() };
  }

  function requireHelper() {
    if (!helper) throw new HttpError(501, 'sealpost/server is not available in this build');
    return helper;
  }

  function pushMessage(body) {
    const message = body.message ?? {};
    if (typeof message !== 'object' || Array.isArray(message)) throw new HttpError(400, 'message must be an object');
    return { title: 'Field notes', ...message };
  }

  function seal(recipientPublicKey, message) {
    const { sealPush } = requireHelper();
    try {
      return sealPush({ recipientPublicKey, message, signer: data.state.signer });
    } catch (error) {
      throw new HttpError(400, `${error.code ?? 'error'}: ${error.message}`);
    }
  }

  const vapidDetails = () => ({
    subject: 'mailto:demo@sealpost.invalid',
    publicKey: data.state.vapid.publicKey,
    privateKey: data.state.vapid.privateKey,
  });

  async function api(req, res, pathname) {
    const route = `${req.method} ${pathname}`;
    switch (route) {
      case 'POST /api/notes':
        return idempotentWrite(req, res, pathname, addNote);
      case 'GET /api/notes':
        return sendJson(res, 200, { notes: data.state.notes, duplicates: data.state.duplicates });
      case 'POST /api/feedback':
        return idempotentWrite(req, res, pathname, addFeedback);
      case 'GET /api/feedback':
        return sendJson(res, 200, { feedback: data.state.feedback });
      case 'GET /api/switches':
        return sendJson(res, 200, switches);
      case 'POST /api/switches': {
        const body = await readJson(req);
        if (!validMode(body.mode)) throw new HttpError(400, "mode must be 'ok', '503' or '429'");
        const retryAfter = body.retryAfter ?? null;
        if (retryAfter !== null && typeof retryAfter !== 'number' && typeof retryAfter !== 'string') {
          throw new HttpError(400, 'retryAfter must be seconds or an HTTP date');
        }
        const times = Number.isInteger(body.times) && body.times > 0 ? body.times : null;
        switches = body.mode === 'ok' ? { mode: 'ok', retryAfter: null, times: null } : { mode: body.mode, retryAfter, times };
        return sendJson(res, 200, switches);
      }
      case 'GET /api/log':
        return sendJson(res, 200, { log });
      case 'GET /api/subscriptions':
        // Never the subscriptions themselves: an endpoint and its keys let anyone push to the device.
        return sendJson(res, 200, { subscriptions: data.state.subscriptions.map((s) => ({
          keyId: s.keyId, publicKey: s.publicKey, categories: s.categories,
          pushService: s.subscription ? new URL(s.subscription.endpoint).host : null,
        })) });
      case 'POST /api/subscriptions': {
        const record = subscriptionRecord(await readJson(req));
        const list = data.state.subscriptions.filter((s) => s.keyId !== record.keyId
          && (!record.subscription || s.subscription?.endpoint !== record.subscription.endpoint));
        list.push(record);
        data.state.subscriptions = list;
        await data.save();
        return sendJson(res, 201, { subscription: record });
      }
      case 'DELETE /api/subscriptions': {
        const body = await readJson(req);
        const before = data.state.subscriptions.length;
        data.state.subscriptions = data.state.subscriptions.filter((s) => !(
          (body.keyId && s.keyId === body.keyId) || (body.endpoint && s.subscription?.endpoint === body.endpoint)));
        await data.save();
        return sendJson(res, 200, { removed: before - data.state.subscriptions.length });
      }
      case 'POST /api/push/simulate': {
        const body = await readJson(req);
        if (typeof body.publicKey !== 'string') throw new HttpError(400, 'publicKey is required');
        const envelope = seal(body.publicKey, pushMessage(body));
        return sendJson(res, 200, { envelope: Buffer.from(envelope).toString('base64url'), bytes: envelope.length });
      }
      case 'POST /api/push/send': {
        const body = await readJson(req);
        const { sendSealedPush } = requireHelper();
        const targets = data.state.subscriptions.filter((s) => s.subscription && (!body.keyId || s.keyId === body.keyId));
        if (targets.length === 0) {
          throw new HttpError(409, 'no push subscription is stored: subscribe first, or use simulated delivery');
        }
        const message = pushMessage(body);
        const results = [];
        for (const target of targets) {
          const envelope = seal(target.publicKey, message);
          try {
            const result = await sendSealedPush(target.subscription, envelope, {
              vapidDetails: vapidDetails(), TTL: 3600, urgency: 'normal', timeout: options.pushFetchTimeoutMs ?? 10000,
              ...(options.pushAgent ? { agent: options.pushAgent } : {}),
              allowPrivateAddresses: options.pushAllowPrivateAddresses === true,
            });
            results.push({ keyId: target.keyId, ...result });
            if (result.status === 'expired') {
              data.state.subscriptions = data.state.subscriptions.filter((s) => s !== target);
              await data.save();
            }
          } catch (error) {
            results.push({ keyId: target.keyId, status: 'failed', error: error.message });
          }
        }
        return sendJson(res, 200, { results });
      }
      default:
        throw new HttpError(404, `no API route ${route}`);
    }
  }

  /** The public configuration of the page and the worker: keys, and worker options (tests tune retries). */
  function publicConfig() {
    return {
      vapidPublicKey: data.state.vapid.publicKey,
      signerPublicKey: data.state.signer?.publicKey ?? null,
      worker: options.worker ?? {},
    };
  }

  const server = createServer(async (req, res) => {
    try {
      const { pathname } = new URL(req.url, 'http://localhost');
      if (pathname.startsWith('/api/')) {
        checkWrite(req);
        await api(req, res, pathname);
        return;
      }
      if ((pathname === '/config.js' || pathname === '/config.classic.js') && (req.method === 'GET' || req.method === 'HEAD')) {
        const json = JSON.stringify(publicConfig());
        const text = pathname === '/config.js'
          ? `// Generated by sw-demo/server.js: the demo's public keys and worker options.\nexport const config = Object.freeze(${json});\n`
          : `// Generated by sw-demo/server.js, for classic workers (importScripts).\nself.sealpostDemoConfig = Object.freeze(${json});\n`;
        res.writeHead(200, { ...securityHeaders(), 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : text);
        return;
      }
      if (await serveStatic(req, res, pathname, mounts)) return;
      res.writeHead(404, { ...securityHeaders(), 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, status, { error: status === 500 ? `server error: ${error.message}` : error.message });
    }
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise((resolve) => server.listen(options.port ?? 8080, host, resolve));
  const { port } = server.address();
  return {
    server,
    url: `http://${host}:${port}`,
    data,
    idempotencyStore,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => data.saving.then(resolve, resolve));
    }),
  };
}

/**
 * `--push-service local`: starts sw-demo/push-service.js beside the demo (WebSocket on PORT+1, HTTPS on
 * PORT+2, or PUSH_WS_PORT / PUSH_HTTPS_PORT; subscriptions kept in push-service.json beside the data file),
 * and writes a Firefox profile (firefox-profile/user.js, same place) whose prefs point Firefox's push
 * client at it. Only Firefox can be pointed elsewhere: Chrome always uses Google's service.
 */
async function startLocalPush(port, dataDir) {
  const { startPushService } = await import('./push-service.js');
  const verbose = process.argv.includes('--push-log');
  const push = await startPushService({
    host: '127.0.0.1',
    wsPort: Number(process.env.PUSH_WS_PORT ?? port + 1),
    httpsPort: Number(process.env.PUSH_HTTPS_PORT ?? port + 2),
    stateFile: join(dataDir, 'push-service.json'),
    log: verbose ? (line) => console.log(line) : undefined,
  });
  const profile = join(dataDir, 'firefox-profile');
  mkdirSync(profile, { recursive: true });
  writeFileSync(join(profile, 'user.js'), Object.entries(push.firefoxPrefs)
    .map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});\n`).join(''));
  return { push, profile };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--push-service');
  if (at >= 0 && args[at + 1] !== 'local') {
    console.error('sw-demo: --push-service takes one value, "local" (sw-demo/push-service.js on 127.0.0.1)');
    process.exit(2);
  }
  const port = Number(process.env.PORT ?? 8080);
  const dataFile = process.env.DATA_FILE ?? here('./data/demo.json');
  const local = at >= 0 ? await startLocalPush(port, dirname(dataFile)) : null;
  const { url } = await createDemoServer({ port, host: process.env.HOST ?? '127.0.0.1', dataFile,
    ...(local ? { pushAgent: local.push.agent, pushAllowPrivateAddresses: true } : {}) });
  if (local) {
    const { push, profile } = local;
    console.log([
      `local push service: ${push.serverURL} (Firefox's push client), ${push.origin}/wpush/… (push endpoints)`,
      'Point Firefox at it in about:config (best in a separate profile: a new push server drops the profile\'s',
      'other push subscriptions):',
      ...Object.entries(push.firefoxPrefs).map(([name, value]) => `  ${name.padEnd(42)} ${value}`),
      `or start a profile that has them:  firefox-esr --no-remote --profile ${profile} ${url}/`,
      '"Notify me about replies" then subscribes through this service, and "Send me a notification" arrives',
      'through it. Chrome and Chromium always use Google\'s service. --push-log prints the protocol messages.',
    ].join('\n'));
  }
  console.log(`sealpost demo: ${url}/`);
}
