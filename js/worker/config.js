/**
 * installSealpost's configuration: checked once, at install time, into the settings every part of the
 * worker reads (and never writes).
 */
import { SealpostError } from '../errors.js';
import { resolveUrl } from '../wasm/loader.js';

const DEFAULTS = {
  syncBudgetMs: 120000, // Chrome ends a sync event after 3 minutes
  startupBudgetMs: 20000,
  messageBudgetMs: 30000,
  maxWakeupsPerMinute: 12,
  minWaitMs: 1000, // the shortest sleep between two flushes inside one sync event
  rearmIntervalMs: 60000,
  networkTimeoutMs: 10000,
};

/**
 * @typedef {{method?: string, pathname?: string | RegExp, origin?: string}
 *   | ((request: Request) => boolean)} RouteMatch
 * @typedef {{name: string, match?: RouteMatch, queueOnStatus?: number[], ordering?: 'fifo' | 'independent',
 *   group?: (request: Request) => (string | null | undefined), retry?: object, idempotencyHeader?: string | null,
 *   [option: string]: unknown}} OutboxConfig
 * @typedef {{trustedSigners?: string[], allowUnsigned?: boolean, maxSkewSeconds?: number,
 *   fallback?: {title?: string, body?: string, tag?: string, icon?: string},
 *   onMessage?: (message: object) => (object | null | undefined),
 *   feedback?: {url?: string, queue?: string}, subscriptionUrl?: string | null, [option: string]: unknown}} PushConfig
 * @typedef {{wasmUrl?: string | URL, outboxes?: OutboxConfig[], push?: PushConfig | null,
 *   skipWaiting?: boolean, clientsClaim?: boolean, syncBudgetMs?: number, startupBudgetMs?: number,
 *   messageBudgetMs?: number, maxWakeupsPerMinute?: number, minWaitMs?: number, rearmIntervalMs?: number,
 *   networkTimeoutMs?: number, inspectBodies?: boolean, indexedDB?: IDBFactory,
 *   IDBKeyRange?: typeof IDBKeyRange, now?: () => number}} SealpostWorkerConfig
 * @typedef {{name: string, matches: (request: Request) => boolean, queueOnStatus: number[],
 *   group: ((request: Request) => (string | null | undefined)) | null, idempotencyHeader: string | null,
 *   fifo: boolean, options: object}} Route
 * @typedef {typeof DEFAULTS & {wasmUrl: string | URL | undefined, moduleHref: string,
 *   indexedDB: IDBFactory | undefined, IDBKeyRange: typeof IDBKeyRange | undefined, now: () => number,
 *   skipWaiting: boolean, clientsClaim: boolean, inspectBodies: boolean, outboxes: Route[],
 *   push: (PushConfig & {fallback: object, feedback: {url: string, queue: string | null}}) | null}} Settings
 */

function invalid(message) {
  return new SealpostError('invalid-argument', `installSealpost: ${message}`);
}

function positive(value, name) {
  if (typeof value !== 'number' || !(value > 0)) throw invalid(`${name} must be a positive number`);
  return value;
}

/** @param {RouteMatch | undefined} match @returns {(request: Request) => boolean} */
function matcher(match, name, scopeOrigin) {
  if (match === undefined || match === null) return () => false;
  if (typeof match === 'function') return match;
  if (typeof match !== 'object') throw invalid(`outboxes[${name}].match must be an object or a function`);
  const method = match.method ? String(match.method).toUpperCase() : null;
  const { pathname, origin } = match;
  return (request) => {
    if (method && request.method !== method) return false;
    const url = new URL(request.url);
    if (url.origin !== (origin ?? scopeOrigin)) return false;
    if (pathname instanceof RegExp) return pathname.test(url.pathname);
    return pathname === undefined || url.pathname === pathname;
  };
}

/** @returns {Route[]} */
function routes(specs, scopeOrigin) {
  const names = new Set();
  return specs.map((spec) => {
    if (!spec || typeof spec.name !== 'string' || spec.name === '') throw invalid('every outbox needs a name');
    if (names.has(spec.name)) throw invalid(`two outboxes are named ${spec.name}`);
    names.add(spec.name);
    const { name, match, queueOnStatus = [], group = null, ...options } = spec;
    if (!Array.isArray(queueOnStatus) || !queueOnStatus.every(Number.isInteger)) {
      throw invalid(`outboxes[${name}].queueOnStatus must be an array of status codes`);
    }
    if (group !== null && typeof group !== 'function') throw invalid(`outboxes[${name}].group must be a function`);
    return {
      name,
      matches: matcher(match, name, scopeOrigin),
      queueOnStatus,
      group,
      idempotencyHeader: options.idempotencyHeader === undefined ? 'Idempotency-Key' : options.idempotencyHeader,
      fifo: (options.ordering ?? 'fifo') === 'fifo',
      options,
    };
  });
}

function pushSettings(config, outboxes) {
  if (!config) return null;
  const push = { ...config };
  // Fail closed, as PushReceiver does, but at install time: a worker that would refuse every push says so now.
  const signers = push.trustedSigners ?? [];
  if (!Array.isArray(signers)) throw invalid('push.trustedSigners must be an array of Ed25519 public keys');
  if (signers.length === 0 && push.allowUnsigned !== true) {
    throw invalid('push needs trustedSigners (the app server\'s Ed25519 public keys), or allowUnsigned: true');
  }
  push.fallback = { title: 'New activity', body: 'Open the app to see it.', tag: 'sealpost-fallback', ...push.fallback };
  const feedback = push.feedback ?? {};
  push.feedback = { url: feedback.url ?? '/api/feedback', queue: feedback.queue ?? outboxes[0]?.name ?? null };
  if (push.feedback.queue !== null && !outboxes.some((o) => o.name === push.feedback.queue)) {
    throw invalid(`push.feedback.queue names no outbox: ${push.feedback.queue}`);
  }
  const { subscriptionUrl = null } = push;
  if (subscriptionUrl !== null && typeof subscriptionUrl !== 'string') throw invalid('push.subscriptionUrl must be a URL');
  push.subscriptionUrl = subscriptionUrl;
  return push;
}

/**
 * Checks a configuration; throws SealpostError('invalid-argument') naming what is wrong.
 * @param {SealpostWorkerConfig} config
 * @param {URL | Location} location  the worker script's location
 * @returns {Readonly<Settings>}
 */
export function normalize(config, location) {
  if (!config || typeof config !== 'object') throw invalid('config must be an object');
  const settings = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (config[key] !== undefined) settings[key] = positive(config[key], key);
  }
  if (config.now !== undefined && typeof config.now !== 'function') {
    throw invalid('now must be a function returning milliseconds');
  }
  const outboxes = routes(config.outboxes ?? [], location.origin);
  const push = pushSettings(config.push, outboxes);
  return Object.freeze({
    ...settings,
    wasmUrl: config.wasmUrl,
    moduleHref: resolveUrl(config.wasmUrl, location.href).href,
    indexedDB: config.indexedDB,
    IDBKeyRange: config.IDBKeyRange,
    now: config.now ?? (() => Date.now()),
    skipWaiting: config.skipWaiting === true,
    clientsClaim: config.clientsClaim === true,
    inspectBodies: config.inspectBodies === true,
    outboxes,
    push,
  });
}

/** The queues a flush (or an inspect) of `queue` covers: every one when it names none. */
export function queueNames(settings, queue) {
  if (queue === undefined || queue === null) return settings.outboxes.map((o) => o.name);
  if (!settings.outboxes.some((o) => o.name === queue)) {
    throw new SealpostError('invalid-argument', `no outbox is named ${queue}`);
  }
  return [queue];
}
