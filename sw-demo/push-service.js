/**
 * A local Web Push service for the demo and the browser tests: not part of the package.
 *
 * Two sides, both on 127.0.0.1:
 *  - WebSocket (ws://, the `ws` package): the protocol Firefox's push client speaks to the server in the pref
 *    `dom.push.serverURL` (Mozilla autopush's): `hello` (a uaid is issued or kept), `register` (channelID,
 *    + `key`: the applicationServerKey) answered with a `pushEndpoint`, `unregister`, `notification` out
 *    (channelID, version, data as base64url, headers {encoding: 'aes128gcm'}), `ack` / `nack` in, and the
 *    `{}` ping.
 *  - HTTPS (RFC 8030, a self-signed certificate made with openssl at start): POST /wpush/<token> is a push
 *    message. It checks, in this order: the endpoint exists (404) and is still subscribed (410); a
 *    throttle a test set (429 + Retry-After); size (413 over 4,096 bytes); `Content-Encoding: aes128gcm`
 *    and a `TTL` (400); the VAPID header `Authorization: vapid t=<JWT>, k=<key>` (RFC 8292), required when
 *    the subscription was made with an applicationServerKey: 401 when it is absent or its ES256 signature,
 *    `aud` (the endpoint's origin) or `exp` (in the future, at most 24 h ahead) fail, 403 when `k` is not
 *    the subscription's key. Then 201 with a Location, and the message goes to the browser at once, or
 *    when it next says hello (while its TTL lasts), until the browser acks it.

 * The service never decrypts anything: the browser does (RFC 8291).
 *
 *   const push = await startPushService();   // {serverURL, origin, agent, firefoxPrefs, throttle(), close()}
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { WebSocketServer } from 'ws';

/** RFC 8030 leaves push services free to refuse more; 4,096 bytes is what every browser's service accepts. */
export const MAX_PUSH_BYTES = 4096;
const MAX_TTL_SECONDS = 4 * 7 * 24 * 3600;
const VAPID_MAX_AHEAD_SECONDS = 24 * 3600;

/** A throwaway certificate for 127.0.0.1 and localhost (P-256, one day). */
export function selfSignedCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-push-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=sealpost local push',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** base64url (padded or not) → bytes, or null. */
function decodeKey(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(text)) return null;
  return Buffer.from(text.replace(/=+$/, ''), 'base64url');
}

/** A P-256 public key (65-byte uncompressed point) as a KeyObject, or null. */
function p256Key(point) {
  if (!point || point.length !== 65 || point[0] !== 4) return null;
  try {
    return createPublicKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') } });
  } catch {
    return null;
  }
}

class PushError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * Checks RFC 8292's `Authorization: vapid t=<JWT>, k=<key>` → the JWT's claims; throws PushError 401 / 403.
 * @param {string | undefined} header
 * @param {{audience: string, key: Buffer | null, now: number}} expected  key: the subscription's, if it has one
 */
export function checkVapid(header, { audience, key, now }) {
  const match = /^vapid\s+(.*)$/i.exec(header ?? '');
  if (!match) throw new PushError(401, 'no VAPID Authorization header (vapid t=..., k=...)');
  const params = Object.fromEntries(match[1].split(',').map((part) => {
    const at = part.indexOf('=');
    return [part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim()];
  }));
  const token = params.t ?? '';
  const point = decodeKey(params.k);
  const publicKey = p256Key(point);
  if (!publicKey) throw new PushError(401, 'k is not a P-256 public key');
  const parts = token.split('.');
  if (parts.length !== 3) throw new PushError(401, 't is not a JWT');
  let head;
  let claims;
  try {
    head = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new PushError(401, 'the JWT is not JSON');
  }
  if (head?.alg !== 'ES256') throw new PushError(401, `the JWT's alg is ${head?.alg}, not ES256`);
  const signature = Buffer.from(parts[2], 'base64url');
  if (signature.length !== 64 || !verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) {
    throw new PushError(401, 'the JWT\'s ES256 signature does not verify with k');
  }
  if (claims?.aud !== audience) throw new PushError(401, `aud is ${claims?.aud}, not ${audience}`);
  const seconds = Math.floor(now / 1000);
  if (!Number.isInteger(claims.exp) || claims.exp <= seconds) throw new PushError(401, 'the JWT has expired (exp)');
  if (claims.exp > seconds + VAPID_MAX_AHEAD_SECONDS) throw new PushError(401, 'exp is more than 24 h ahead');
  if (key && !key.equals(point)) {
    throw new PushError(403, 'k is not the applicationServerKey this subscription was made with');
  }
  return claims;
}

/**
 * Starts the service.
 * @param {{host?: string, wsPort?: number, httpsPort?: number, log?: (line: string) => void,
 *   stateFile?: string, now?: () => number}} [options]
 *   log: called with one line per protocol message in and out and per HTTP answer (the demo prints them)
 *   stateFile: keep uaids and subscriptions there across restarts (use fixed ports too: endpoints name them)
 */
export async function startPushService(options = {}) {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? Date.now;
  const say = options.log ?? (() => {});
  const tls = selfSignedCertificate();

  /** uaid → {socket, channels: Set, pending: Map<version, notification>} */
  const agents = new Map();
  /** channelID → {uaid, channelID, key, token, endpoint, active} */
  const channels = new Map();
  /** endpoint token → channelID */
  const tokens = new Map();
  /** Every protocol message, in and out: {dir: 'in' | 'out', uaid, message}. */
  const messages = [];
  /** Every HTTP push request: {token, status, bytes, error?, claims?}. */
  const requests = [];
  let throttle = null;

  const httpsServer = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    receive(req).then(({ status, headers, body }) => {
      res.writeHead(status, headers).end(body);
    }, (error) => {
      res.writeHead(500).end(String(error?.message ?? error));
    });
  });
  await new Promise((resolve, reject) => {
    httpsServer.once('error', reject);
    httpsServer.listen(options.httpsPort ?? 0, host, resolve);
  });
  const origin = `https://${host}:${httpsServer.address().port}`;

  const wss = new WebSocketServer({ host, port: options.wsPort ?? 0,
    handleProtocols: (protocols) => (protocols.has('push-notification') ? 'push-notification' : false) });
  await new Promise((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', resolve);
  });
  const serverURL = `ws://${host}:${wss.address().port}/`;

  function send(socket, uaid, message) {
    messages.push({ dir: 'out', uaid, message });
    const shown = message.data ? { ...message, data: `<${message.data.length} base64url characters>` } : message;
    say(`push ws → ${JSON.stringify(shown)}`);
    socket.send(JSON.stringify(message));
  }

  function deliverPending(agent, uaid) {
    if (!agent.socket) return;
    for (const [version, item] of agent.pending) {
      if (item.expiresAt <= now()) {
        agent.pending.delete(version);
        continue;
      }
      send(agent.socket, uaid, item.notification);
    }
  }

  /** Keeps who is registered (not the messages in flight) in `stateFile`, so that a restart on the same ports
   * keeps the endpoints the app server stored valid. */
  function save() {
    if (!options.stateFile) return;
    const state = {
      uaids: [...agents.keys()],
      channels: [...channels.values()].map(({ uaid, channelID, key, token, active }) => ({
        uaid, channelID, key: key ? key.toString('base64url') : null, token, active })),
    };
    mkdirSync(dirname(options.stateFile), { recursive: true });
    writeFileSync(`${options.stateFile}.tmp`, JSON.stringify(state));
    renameSync(`${options.stateFile}.tmp`, options.stateFile);
  }

  function load() {
    if (!options.stateFile || !existsSync(options.stateFile)) return;
    const state = JSON.parse(readFileSync(options.stateFile, 'utf8'));
    for (const uaid of state.uaids ?? []) agents.set(uaid, { socket: null, channels: new Set(), pending: new Map() });
    for (const c of state.channels ?? []) {
      const channel = { ...c, key: c.key ? Buffer.from(c.key, 'base64url') : null, endpoint: `${origin}/wpush/${c.token}` };
      channels.set(c.channelID, channel);
      tokens.set(c.token, c.channelID);
      if (c.active) agents.get(c.uaid)?.channels.add(c.channelID);
    }
  }
  load();

  /** One protocol message from the connection `conn` ({socket, uaid}). */
  function handle(conn, message) {
    const { socket } = conn;
    switch (message.messageType) {
      case 'hello': {
        // A uaid this service knows is kept (its subscriptions stay valid); any other gets a new one, and
        // Firefox then drops the subscriptions it had (and fires pushsubscriptionchange for them).
        const known = typeof message.uaid === 'string' && agents.has(message.uaid);
        conn.uaid = known ? message.uaid : randomUUID().replaceAll('-', '');
        if (!known) {
          agents.set(conn.uaid, { socket: null, channels: new Set(), pending: new Map() });
          save();
        }
        const agent = agents.get(conn.uaid);
        if (agent.socket && agent.socket !== socket) agent.socket.close(4000, 'another connection said hello');
        agent.socket = socket;
        send(socket, conn.uaid, { messageType: 'hello', uaid: conn.uaid, status: 200, use_webpush: true, broadcasts: {} });
        deliverPending(agent, conn.uaid);
        return;
      }
      case 'register': {
        const channelID = String(message.channelID ?? '');
        // The applicationServerKey, when the page gave one (Firefox pads its base64url).
        const key = message.key === undefined ? null : decodeKey(message.key);
        if (!conn.uaid || !channelID || (message.key !== undefined && !p256Key(key))) {
          send(socket, conn.uaid, { messageType: 'register', channelID, status: 400 });
          return;
        }
        const token = randomBytes(24).toString('base64url');
        const endpoint = `${origin}/wpush/${token}`;
        channels.set(channelID, { uaid: conn.uaid, channelID, key, token, endpoint, active: true });
        tokens.set(token, channelID);
        agents.get(conn.uaid).channels.add(channelID);
        save();
        send(socket, conn.uaid, { messageType: 'register', channelID, status: 200, pushEndpoint: endpoint, uaid: conn.uaid });
        return;
      }
      case 'unregister': {
        const channel = channels.get(message.channelID);
        if (channel && channel.uaid === conn.uaid) {
          channel.active = false;
          agents.get(conn.uaid).channels.delete(channel.channelID);
          save();
        }
        send(socket, conn.uaid, { messageType: 'unregister', channelID: message.channelID, status: 200 });
        return;
      }
      case 'ack': // {updates: [{channelID, version, code}]}: 100 delivered, 101 decryption failed, 102 not delivered
        for (const update of Array.isArray(message.updates) ? message.updates : []) {
          agents.get(conn.uaid)?.pending.delete(update.version);
        }
        return;
      case 'nack': // {version, code}: the worker's push handler threw or its promise rejected
        agents.get(conn.uaid)?.pending.delete(message.version);
        return;
      default:
        // broadcast_subscribe and anything newer: nothing to answer.
    }
  }

  wss.on('connection', (socket) => {
    const conn = { socket, uaid: null };
    socket.on('message', (raw) => {
      const text = raw.toString('utf8');
      let message;
      try {
        message = JSON.parse(text);
      } catch {
        say(`push ws ← (not JSON) ${text.slice(0, 200)}`);
        return;
      }
      messages.push({ dir: 'in', uaid: conn.uaid, message });
      say(`push ws ← ${text.slice(0, 300)}`);
      if (!message || typeof message !== 'object' || typeof message.messageType !== 'string'
        || message.messageType === 'ping') {
        socket.send('{}'); // a ping ({}), answered with {}
        return;
      }
      handle(conn, message);
    });
    socket.on('close', () => {
      const agent = conn.uaid && agents.get(conn.uaid);
      if (agent && agent.socket === socket) agent.socket = null;
    });
  });

  /** The body, at most MAX_PUSH_BYTES of it: a larger one is read to its end (so the 413 reaches the sender) and refused. */
  function readBody(req) {
    const declared = Number(req.headers['content-length']);
    return new Promise((resolve, reject) => {
      const chunks = [];
      let size = 0;
      req.on('data', (chunk) => {
        size += chunk.length;
        if (size <= MAX_PUSH_BYTES) chunks.push(chunk);
      });
      req.on('end', () => {
        if (size > MAX_PUSH_BYTES || declared > MAX_PUSH_BYTES) {
          reject(new PushError(413, `the payload is ${Math.max(size, declared || 0)} bytes; at most ${MAX_PUSH_BYTES}`));
        } else {
          resolve(Buffer.concat(chunks));
        }
      });
      req.on('error', reject);
    });
  }

  /** One HTTP request → {status, headers, body}. */
  async function receive(req) {
    const { pathname } = new URL(req.url, origin);
    const match = /^\/wpush\/([A-Za-z0-9_-]+)$/.exec(pathname);
    const record = { token: match?.[1] ?? null, status: 0, bytes: 0 };
    requests.push(record);
    try {
      if (!match) throw new PushError(404, 'no such endpoint');
      if (req.method !== 'POST') throw new PushError(405, 'push messages are POSTed', { Allow: 'POST' });
      const channel = channels.get(tokens.get(match[1]));
      if (!channel) throw new PushError(404, 'no such subscription');
      if (!channel.active) throw new PushError(410, 'this subscription was unsubscribed');
      if (throttle && throttle.times > 0) {
        throttle.times -= 1;
        const retryAfter = String(throttle.retryAfter);
        if (throttle.times === 0) throttle = null;
        throw new PushError(429, 'too many messages', { 'Retry-After': retryAfter });
      }
      const body = await readBody(req);
      record.bytes = body.length;
      if (body.length > 0 && req.headers['content-encoding'] !== 'aes128gcm') {
        throw new PushError(400, `Content-Encoding must be aes128gcm, not ${req.headers['content-encoding']}`);
      }
      if (!/^\d+$/.test(req.headers.ttl ?? '')) throw new PushError(400, 'a TTL header (seconds) is required');
      const ttl = Math.min(Number(req.headers.ttl), MAX_TTL_SECONDS);
      // VAPID is required for a subscription made with an applicationServerKey, and checked whenever it is sent.
      if (channel.key || req.headers.authorization) {
        record.claims = checkVapid(req.headers.authorization, { audience: origin, key: channel.key, now: now() });
      }
      const version = randomBytes(16).toString('base64url');
      const notification = { messageType: 'notification', channelID: channel.channelID, version };
      if (body.length > 0) {
        notification.data = body.toString('base64url');
        notification.headers = { encoding: 'aes128gcm' };
      }
      const agent = agents.get(channel.uaid);
      if (ttl > 0) agent.pending.set(version, { notification, expiresAt: now() + ttl * 1000 });
      if (agent.socket) send(agent.socket, channel.uaid, notification);
      record.status = 201;
      say(`push https ${req.method} /wpush/${match[1].slice(0, 8)}… → 201 (${body.length} bytes, TTL ${ttl})`);
      return { status: 201, headers: { Location: `${origin}/m/${version}`, TTL: String(ttl) }, body: '' };
    } catch (error) {
      if (!(error instanceof PushError)) throw error;
      record.status = error.status;
      record.error = error.message;
      say(`push https ${req.method} ${pathname.slice(0, 16)}… → ${error.status} ${error.message}`);
      const text = JSON.stringify({ code: error.status, error: error.message });
      return { status: error.status, headers: { 'Content-Type': 'application/json', ...error.headers }, body: text };
    }
  }

  const trusting = new https.Agent({ ca: tls.cert });
  return {
    serverURL,
    origin,
    /** An https.Agent that trusts this service's certificate: for sendSealedPush's `agent`. */
    agent: trusting,
    certificate: tls.cert,
    messages,
    requests,
    /** The prefs that make Firefox use this service (about:config, or a profile's user.js). */
    firefoxPrefs: {
      'dom.push.serverURL': serverURL,
      'dom.push.testing.allowInsecureServerURL': true,
      'dom.push.connection.enabled': true,
      'dom.push.enabled': true,
    },
    /** The next `times` push requests answer 429 with Retry-After: `retryAfter` (seconds or an HTTP date). */
    throttle({ times = 1, retryAfter = 30 } = {}) {
      throttle = { times, retryAfter };
    },
    /** Whether a browser is connected (said hello) right now. */
    get connected() {
      return [...agents.values()].filter((a) => a.socket).length;
    },
    close() {
      trusting.destroy();
      for (const client of wss.clients) client.terminate();
      httpsServer.closeAllConnections();
      return Promise.all([
        new Promise((resolve) => wss.close(resolve)),
        new Promise((resolve) => httpsServer.close(resolve)),
      ]).then(() => undefined);
    },
  };
}
