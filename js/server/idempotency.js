/**
 * The server's half of exactly-once: the Idempotency-Key request header (IETF httpapi draft "The
 * Idempotency-Key HTTP Header Field") as middleware for Connect/Express/Node http, and as a wrapper for
 * Fetch-API handlers.
 *
 * A write with a key runs its handler once; its answer (status, content-type, the headers named in
 * `replayHeaders`, body) is stored under the key and answered again to every retry that carries the same
 * key and the same fingerprint (method, path with query, SHA-256 of the body), with
 * `Idempotent-Replayed: true`. While the first run is under way a retry gets 409 (Retry-After: 1); the key
 * with another fingerprint gets 422; a missing key gets 400 when `required`; a key that is not 1 to 255
 * characters without control characters gets 400. 5xx answers are not stored (the claim is dropped, so
 * the retry runs the handler again).
 *
 * A run that never answers (a crash, a killed process) leaves its claim, which expires after
 * `lockSeconds`; the next retry then runs the handler again. Only a handler whose own write is unique on
 * the key (the key is `req.idempotencyKey`, or the second argument in the Fetch form) is exactly-once
 * across such crashes; without that it is at-least-once there (docs/server.md, "Exactly once").
 *
 * A store keeps one value per key:
 *   claim(key, {token, fingerprint}, lockMs)
 *     → {state: 'claimed'}                                 the caller runs the handler
 *     | {state: 'running', fingerprint}                    a claim is held (and has not expired)
 *     | {state: 'done', fingerprint, response}             the stored answer
 *   complete(key, token, {fingerprint, response}, ttlMs)   → true when the claim was still this token's:
 *                                                            the answer replaces it, atomically
 *   release(key, token)                                    drops the claim if it is still this token's
 * with response = {status, headers: [[name, value], ...], body: Uint8Array}.
 */
import { createHash, randomBytes } from 'node:crypto';

import { SealpostError } from '../errors.js';

/**
 * How long an answer is kept (8 days): longer than the outbox's default maxAgeMs (7 days), so a request
 * the outbox still replays always finds its first answer; the extra day covers clock differences.
 */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 8 * 24 * 3600;
const DEFAULT_LOCK_SECONDS = 60;
const DEFAULT_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_MAX_ENTRIES = 10000;
const MAX_KEY_CHARS = 255;
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

function invalid(message) {
  return new SealpostError('invalid-argument', message);
}

function positiveSeconds(value, name) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid(`${name} must be a positive number of seconds`);
  }
  return Math.max(1, Math.round(value * 1000));
}

/** The checked options, shared by both forms. */
function settings(options = {}) {
  const {
    store = memoryIdempotencyStore(), header = 'Idempotency-Key', ttlSeconds = DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    methods = DEFAULT_METHODS, required = false, lockSeconds = DEFAULT_LOCK_SECONDS, replayHeaders = [],
    maxBodyBytes = DEFAULT_MAX_BODY_BYTES, scope, onError = defaultOnError,
  } = options;
  for (const name of ['claim', 'complete', 'release']) {
    if (typeof store?.[name] !== 'function') throw invalid(`store.${name} must be a function`);
  }
  if (typeof header !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) {
    throw invalid('header must be a header field name');
  }
  if (!Array.isArray(methods) || !methods.every((m) => typeof m === 'string' && m !== '')) {
    throw invalid('methods must be an array of method names');
  }
  if (typeof required !== 'boolean') throw invalid('required must be a boolean');
  if (!Array.isArray(replayHeaders) || !replayHeaders.every((h) => typeof h === 'string' && h !== '')) {
    throw invalid('replayHeaders must be an array of header names');
  }
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) throw invalid('maxBodyBytes must be a whole number of bytes');
  if (scope !== undefined && typeof scope !== 'function') throw invalid('scope must be a function (request) => string');
  if (typeof onError !== 'function') throw invalid('onError must be a function');
  const kept = new Set(['content-type', ...replayHeaders.map((h) => h.toLowerCase())]);
  kept.delete('content-length');
  kept.delete('idempotent-replayed');
  return {
    store, header, headerLower: header.toLowerCase(), ttlMs: positiveSeconds(ttlSeconds, 'ttlSeconds'),
    lockMs: positiveSeconds(lockSeconds, 'lockSeconds'), methods: new Set(methods.map((m) => m.toUpperCase())),
    required, kept, maxBodyBytes, scope, onError,
  };
}

function defaultOnError(error) {
  console.error('sealpost idempotency store:', error);
}

/**
 * The key from the field's value: an sf-string ("…", RFC 8941 §3.3.3) as the draft defines it, or, as
 * many clients (and the outbox's default entry ids) send it, the bare text. Null when it is not a key.
 */
export function parseIdempotencyKey(value) {
  if (typeof value !== 'string') return null;
  let key = value;
  if (value.startsWith('"')) {
    const match = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(value);
    if (!match) return null;
    key = match[1].replace(/\\(["\\])/g, '$1');
  }
  // C0 controls, DEL and C1 controls are refused; so are empty and over-long keys.
  if (key.length === 0 || key.length > MAX_KEY_CHARS || /[\x00-\x1f\x7f-\x9f]/.test(key)) return null;
  return key;
}

function fingerprintOf(method, target, body) {
  return createHash('sha256').update(method).update('\0').update(target).update('\0').update(body).digest('base64url');
}

const PROBLEMS = {
  400: ['Idempotency-Key is missing', 'This operation requires an Idempotency-Key request header.'],
  '400-invalid': ['Idempotency-Key is invalid',
    'An Idempotency-Key must be one field of 1 to 255 characters without control characters.'],
  409: ['A request is outstanding for this Idempotency-Key',
    'A request with the same Idempotency-Key is still being processed; retry later.'],
  413: ['Request body too large', 'The request body is larger than this endpoint accepts.'],
  422: ['Idempotency-Key is already used',
    'This Idempotency-Key was used with another request (method, path or body); a key names one request.'],
  503: ['Idempotency store unavailable', 'The answers of earlier requests cannot be read now; retry later.'],
};

/** {status, headers, body} of an RFC 9457 problem answer. */
function problem(kind, header) {
  const status = typeof kind === 'number' ? kind : Number(kind.slice(0, 3));
  const [title, detail] = PROBLEMS[kind];
  const body = Buffer.from(JSON.stringify({
    type: 'about:blank', title: title.replace('Idempotency-Key', header), status,
    detail: detail.replace('Idempotency-Key', header),
  }));
  const headers = [['content-type', 'application/problem+json'], ['cache-control', 'no-store']];
  if (status === 409 || status === 503) headers.push(['retry-after', '1']);
  return { status, headers, body };
}

/**
 * What to do with one request: {answer} (a problem or a replay), or {run: {key, claimKey, token,
 * fingerprint}} when this request holds the claim and must run the handler.
 */
async function decide(config, { method, target, values, body, scopeValue }) {
  if (values.length === 0) return config.required ? { answer: problem(400, config.header) } : { pass: true };
  const key = values.length === 1 ? parseIdempotencyKey(values[0]) : null;
  if (key === null) return { answer: problem('400-invalid', config.header) };
  const fingerprint = fingerprintOf(method, target, body);
  const token = randomBytes(12).toString('base64url');
  const claimKey = scopeValue ? `${scopeValue}\n${key}` : key;
  let state;
  try {
    state = await config.store.claim(claimKey, { token, fingerprint }, config.lockMs);
  } catch (error) {
    config.onError(error);
    return { answer: problem(503, config.header) };
  }
  if (state?.state === 'claimed') return { run: { key, claimKey, token, fingerprint } };
  if (state?.fingerprint !== fingerprint) return { answer: problem(422, config.header) };
  if (state.state === 'running') return { answer: problem(409, config.header) };
  const { status, headers, body: stored } = state.response;
  return { answer: { status, headers: [...headers, ['idempotent-replayed', 'true']], body: stored, replayed: true } };
}

/** Stores the handler's answer (or drops the claim for a 5xx). Never throws. */
async function settle(config, run, response) {
  try {
    if (response.status >= 500) {
      await config.store.release(run.claimKey, run.token);
    } else {
      await config.store.complete(run.claimKey, run.token, { fingerprint: run.fingerprint, response }, config.ttlMs);
    }
  } catch (error) {
    // The answer still goes out; a retry finds the claim until it expires, then runs the handler again.
    config.onError(error);
  }
}

// ---------------------------------------------------------------------------------------------------
// Connect / Express / Node http

function nodeHeaderValues(req, lower) {
  const distinct = req.headersDistinct?.[lower];
  if (distinct) return distinct;
  const value = req.headers[lower];
  return value === undefined ? [] : [value];
}

/** The request's body bytes: a body parser's (req.rawBody, or req.body) or read here (then left in req.body). */
async function nodeBody(req, maxBodyBytes) {
  if (req.rawBody instanceof Uint8Array) return req.rawBody;
  if (req.body !== undefined) {
    if (req.body instanceof Uint8Array) return req.body;
    if (typeof req.body === 'string') return Buffer.from(req.body);
    return Buffer.from(JSON.stringify(req.body) ?? '');
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > maxBodyBytes) return null;
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  req.body = body;
  req.rawBody = body;
  return body;
}

function sendNode(res, { status, headers, body }) {
  for (const [name, value] of headers) res.setHeader(name, value);
  if (body.length > 0 || !NULL_BODY_STATUS.has(status)) res.setHeader('content-length', body.length);
  res.writeHead(status);
  res.end(body.length > 0 ? Buffer.from(body.buffer, body.byteOffset, body.length) : undefined);
}

/** Header name → value pairs from writeHead's headers argument (an object, a flat array or pairs). */
function writeHeadPairs(headers) {
  if (!headers) return [];
  if (Array.isArray(headers)) {
    if (Array.isArray(headers[0])) return headers.map(([n, v]) => [String(n), v]);
    const pairs = [];
    for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([String(headers[i]), headers[i + 1]]);
    return pairs;
  }
  return Object.entries(headers);
}

function chunkBytes(chunk, encoding) {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8');
  return Buffer.from(chunk); // a copy: the handler may reuse its buffer
}

/**
 * Watches `res` while the handler runs: records what it writes and, when it ends the answer, stores it
 * (or drops the claim for a 5xx) before the last bytes go out, so an answer a client saw is the one
 * every retry gets.
 */
function captureNode(config, res, run) {
  const chunks = [];
  const fromWriteHead = new Map();
  const { writeHead, write, end } = res;
  res.writeHead = function writeHeadCaptured(status, ...rest) {
    const headers = typeof rest[0] === 'string' ? rest[1] : rest[0];
    for (const [name, value] of writeHeadPairs(headers)) fromWriteHead.set(name.toLowerCase(), value);
    return writeHead.call(this, status, ...rest);
  };
  res.write = function writeCaptured(chunk, encoding, callback) {
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') chunks.push(chunkBytes(chunk, encoding));
    return write.call(this, chunk, encoding, callback);
  };
  res.end = function endCaptured(chunk, encoding, callback) {
    if (typeof chunk === 'function') [chunk, encoding, callback] = [undefined, undefined, chunk];
    else if (typeof encoding === 'function') [encoding, callback] = [undefined, encoding];
    if (chunk !== undefined && chunk !== null) chunks.push(chunkBytes(chunk, encoding));
    res.writeHead = writeHead;
    res.write = write;
    res.end = end;
    const headers = [];
    for (const name of config.kept) {
      const value = fromWriteHead.has(name) ? fromWriteHead.get(name) : res.getHeader(name);
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) headers.push([name, String(one)]);
    }
    const response = { status: res.statusCode, headers, body: Buffer.concat(chunks) };
    settle(config, run, response).then(() => end.call(res, chunk, encoding, callback));
    return res;
  };
}

/**
 * Connect/Express/Node-http middleware. Put it after a body parser, or let it read the body of every
 * request it guards (key or not): it then leaves the bytes in `req.body` (a Buffer) and `req.rawBody`,
 * and the handler reads them there, not from the stream.
 * The handler gets the key in `req.idempotencyKey`. Returns what `next()` returns (a plain Node server
 * can await it).
 * @param {IdempotencyOptions} [options]
 * @returns {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse,
 *   next: (error?: unknown) => unknown) => Promise<unknown>}
 */
export function idempotency(options) {
  const config = settings(options);
  return async function idempotencyMiddleware(req, res, next) {
    const method = String(req.method).toUpperCase();
    if (!config.methods.has(method)) return next();
    const values = nodeHeaderValues(req, config.headerLower);
    let decision = { pass: true };
    try {
      // Read for every guarded request, with a key or without, so the handler always finds it in req.body.
      const body = await nodeBody(req, config.maxBodyBytes);
      if (body === null) {
        res.setHeader('connection', 'close');
        return sendNode(res, problem(413, config.header));
      }
      if (values.length > 0 || config.required) {
        const target = req.originalUrl ?? req.url;
        const scopeValue = config.scope ? String(config.scope(req) ?? '') : '';
        decision = await decide(config, { method, target, values, body, scopeValue });
      }
    } catch (error) {
      return next(error);
    }
    if (decision.pass) return next();
    if (decision.answer) return sendNode(res, decision.answer);
    req.idempotencyKey = decision.run.key;
    captureNode(config, res, decision.run);
    return next();
  };
}

// ---------------------------------------------------------------------------------------------------
// Fetch API

async function readLimited(request, maxBodyBytes) {
  if (!request.body) return new Uint8Array(0);
  const reader = request.clone().body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBodyBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function toResponse({ status, headers, body }) {
  return new Response(NULL_BODY_STATUS.has(status) ? null : body, { status, headers });
}

/**
 * Wraps a Fetch-API handler `(request, key, ...rest) => Response` (key: the Idempotency-Key, or null
 * for a method that is not guarded or a request without one) with the same rules as idempotency().
 * @param {(request: Request, key: string | null, ...rest: unknown[]) => Response | Promise<Response>} handler
 * @param {IdempotencyOptions} [options]
 * @returns {(request: Request, ...rest: unknown[]) => Promise<Response>}
 */
export function withIdempotency(handler, options) {
  if (typeof handler !== 'function') throw invalid('handler must be a function (request, key) => Response');
  const config = settings(options);
  return async function idempotentHandler(request, ...rest) {
    const method = request.method.toUpperCase();
    if (!config.methods.has(method)) return handler(request, null, ...rest);
    const field = request.headers.get(config.header);
    if (field === null && !config.required) return handler(request, null, ...rest);
    const body = await readLimited(request, config.maxBodyBytes);
    if (body === null) return toResponse(problem(413, config.header));
    const url = new URL(request.url);
    const scopeValue = config.scope ? String(config.scope(request) ?? '') : '';
    const decision = await decide(config, {
      method, target: url.pathname + url.search, values: field === null ? [] : [field], body, scopeValue,
    });
    if (decision.pass) return handler(request, null, ...rest);
    if (decision.answer) return toResponse(decision.answer);
    const { run } = decision;
    let response;
    try {
      response = await handler(request, run.key, ...rest);
    } catch (error) {
      await settle(config, run, { status: 500, headers: [], body: new Uint8Array(0) });
      throw error;
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const headers = [];
    for (const name of config.kept) {
      const value = response.headers.get(name);
      if (value !== null) headers.push([name, value]);
    }
    await settle(config, run, { status: response.status, headers, body: bytes });
    return new Response(NULL_BODY_STATUS.has(response.status) ? null : bytes,
      { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

// ---------------------------------------------------------------------------------------------------
// Stores

/**
 * Keys in this process's memory: for one process (and tests); lost when it stops. At most `maxEntries`
 * keys: past that the least recently written one goes (expired ones go when they are next looked up).
 * @param {{maxEntries?: number, now?: () => number}} [options]
 */
export function memoryIdempotencyStore({ maxEntries = DEFAULT_MAX_ENTRIES, now = Date.now } = {}) {
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw invalid('maxEntries must be a positive integer');
  /** @type {Map<string, {expiresAt: number, token?: string, fingerprint: string, response?: object}>} */
  const entries = new Map();
  const live = (key) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const put = (key, entry) => {
    entries.delete(key);
    entries.set(key, entry);
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value);
  };
  return {
    get size() {
      return entries.size;
    },
    async claim(key, { token, fingerprint }, lockMs) {
      const entry = live(key);
      if (!entry) {
        put(key, { expiresAt: now() + lockMs, token, fingerprint });
        return { state: 'claimed' };
      }
      if (entry.response) return { state: 'done', fingerprint: entry.fingerprint, response: entry.response };
      return { state: 'running', fingerprint: entry.fingerprint };
    },
    async complete(key, token, { fingerprint, response }, ttlMs) {
      const entry = live(key);
      if (!entry || entry.token !== token) return false;
      const body = Buffer.from(response.body);
      put(key, { expiresAt: now() + ttlMs, fingerprint,
        response: { status: response.status, headers: response.headers.map(([n, v]) => [n, v]), body } });
      return true;
    },
    async release(key, token) {
      if (live(key)?.token === token) entries.delete(key);
    },
  };
}

// A claim's value is `claim:<token>:<fingerprint>`, an answer's is JSON. The answer replaces the claim,
// and a claim is dropped, only while the claim is this run's: one atomic script run each.
const COMPLETE_SCRIPT = `local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;
const RELEASE_SCRIPT = `local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** (args: string[]) => Promise<reply> for a node-redis (v4 and later) or ioredis client. */
function redisCommand(client) {
  if (typeof client?.call === 'function') return (args) => client.call(...args); // ioredis (Redis, Cluster)
  if (typeof client?.sendCommand === 'function') return (args) => client.sendCommand(args); // node-redis v4+
  throw invalid('client must be a connected node-redis (v4 or later) or ioredis client');
}

const text = (reply) => (reply instanceof Uint8Array ? Buffer.from(reply).toString('utf8') : reply);

/**
 * Keys in Redis, shared by every process of the app: a claim is `SET key claim NX PX lockMs`; the answer
 * replaces it in one script run (the claim compared, then SET … PX ttlMs), so a run whose claim expired
 * and was taken over cannot overwrite the newer run's answer.
 * @param {object} client  a connected node-redis (v4+) or ioredis client
 * @param {{prefix?: string}} [options]  key prefix, default 'sealpost:idempotency:'
 */
export function redisIdempotencyStore(client, { prefix = 'sealpost:idempotency:' } = {}) {
  const command = redisCommand(client);
  if (typeof prefix !== 'string') throw invalid('prefix must be a string');
  return {
    async claim(key, { token, fingerprint }, lockMs) {
      const name = prefix + key;
      // A claim that expires between a refused SET NX and the GET is claimed again on the next pass.
      for (let pass = 0; pass < 5; pass += 1) {
        const set = text(await command(['SET', name, `claim:${token}:${fingerprint}`, 'NX', 'PX', String(lockMs)]));
        if (set === 'OK') return { state: 'claimed' };
        const value = text(await command(['GET', name]));
        if (value === null || value === undefined) continue;
        if (value.startsWith('claim:')) return { state: 'running', fingerprint: value.slice(value.indexOf(':', 6) + 1) };
        const stored = JSON.parse(value);
        return { state: 'done', fingerprint: stored.f,
          response: { status: stored.s, headers: stored.h, body: Buffer.from(stored.b, 'base64') } };
      }
      throw new SealpostError('unsupported', `the idempotency key ${name} keeps changing in Redis`);
    },
    async complete(key, token, { fingerprint, response }, ttlMs) {
      const value = JSON.stringify({ f: fingerprint, s: response.status, h: response.headers,
        b: Buffer.from(response.body).toString('base64') });
      const reply = await command(['EVAL', COMPLETE_SCRIPT, '1', prefix + key, `claim:${token}:`, value, String(ttlMs)]);
      return Number(reply) === 1;
    },
    async release(key, token) {
      await command(['EVAL', RELEASE_SCRIPT, '1', prefix + key, `claim:${token}:`]);
    },
  };
}

/**
 * @typedef {{
 *   store?: object, header?: string, ttlSeconds?: number, methods?: string[], required?: boolean,
 *   lockSeconds?: number, replayHeaders?: string[], maxBodyBytes?: number,
 *   scope?: (request: any) => string, onError?: (error: unknown) => void,
 * }} IdempotencyOptions
 */
