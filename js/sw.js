/**
 * sealpost/sw: `installSealpost(self, config)` wires the outbox and the push receiver to the service
 * worker's events. Every listener is added synchronously here, during the worker's first evaluation; the
 * Wasm module, the outboxes and the push receiver are loaded lazily, once per worker lifetime, inside the
 * first handler that needs them.
 *
 * Wake-ups (each one is only a chance to send what the retry engine says is due):
 *   - `sync` with tag `sealpost:<queue>`: flush with a deadline under Chrome's 3-minute limit, wait inside
 *     the event for entries falling due within the remaining budget, reject when work remains so the
 *     browser retries later, and on `lastChance` re-register the tag at most once per `rearmIntervalMs`;
 *   - `periodicsync` (any tag starting with `sealpost`);
 *   - the first fetch, message or push event of each worker lifetime (in its waitUntil,
 *     never in the way of a fetch response);
 *   - `sealpost:flush` messages from pages (sent on `online` and `visibilitychange` by sealpost/page).
 * Messages (MessageChannel replies): sealpost:flush, :stats, :push-key, :deliver, :preferences, and
 * :inspect {queue, id} (one entry as Outbox.list() describes it: method, URL, state; never headers, and the
 *   body only when the config sets inspectBodies: true).
 * Every source goes through one limiter: at most `maxWakeupsPerMinute` flushes in any 60 s window.
 *
 * Events (ids, states, codes and counts, never plaintext) go to BroadcastChannel('sealpost').
 */
import * as sealpost from './index.js';
import { SealpostError } from './errors.js';
import { fromBase64url } from './base64url.js';
import { openDatabase, request, transaction } from './storage/idb.js';

const CHANNEL = 'sealpost';
const WASM_CACHE = 'sealpost-wasm';
const TAG_PREFIX = 'sealpost:';
const MINUTE = 60000;
const STATE_DB = 'sealpost-sw';
const INSPECT_BODY_CHARS = 4096;
const DEFAULT_PREFERENCES = Object.freeze({ mutedCategories: [], quietHours: null });
const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/;

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
 * @typedef {{trustedSigners?: string[], maxSkewSeconds?: number,
 *   fallback?: {title?: string, body?: string, tag?: string, icon?: string},
 *   onMessage?: (message: object) => (object | null | undefined),
 *   feedback?: {url?: string, queue?: string}, [option: string]: unknown}} PushConfig
 * @typedef {{wasmUrl?: string | URL, outboxes?: OutboxConfig[], push?: PushConfig | null,
 *   skipWaiting?: boolean, clientsClaim?: boolean, syncBudgetMs?: number, startupBudgetMs?: number,
 *   messageBudgetMs?: number, maxWakeupsPerMinute?: number, minWaitMs?: number, rearmIntervalMs?: number,
 *   networkTimeoutMs?: number, inspectBodies?: boolean, indexedDB?: IDBFactory,
 *   IDBKeyRange?: typeof IDBKeyRange}} SealpostWorkerConfig
 */

/** Where the loader will look for sealpost.wasm (the same rule as js/wasm.js). */
function moduleUrl(wasmUrl, base) {
  if (wasmUrl !== undefined && wasmUrl !== null) return new URL(String(wasmUrl), base).href;
  const here = import.meta.url;
  return here ? new URL('../dist/sealpost.wasm', here).href : new URL('sealpost.wasm', base).href;
}

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

function normalize(config, scopeOrigin) {
  if (!config || typeof config !== 'object') throw invalid('config must be an object');
  const settings = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (config[key] !== undefined) settings[key] = positive(config[key], key);
  }
  const names = new Set();
  const outboxes = (config.outboxes ?? []).map((spec) => {
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
  const push = config.push ? { ...config.push } : null;
  if (push) {
    push.fallback = { title: 'New activity', body: 'Open the app to see it.', tag: 'sealpost-fallback', ...push.fallback };
    const feedback = push.feedback ?? {};
    push.feedback = { url: feedback.url ?? '/api/feedback', queue: feedback.queue ?? outboxes[0]?.name ?? null };
    if (push.feedback.queue !== null && !names.has(push.feedback.queue)) {
      throw invalid(`push.feedback.queue names no outbox: ${push.feedback.queue}`);
    }
  }
  return {
    ...settings,
    wasmUrl: config.wasmUrl,
    indexedDB: config.indexedDB,
    IDBKeyRange: config.IDBKeyRange,
    skipWaiting: config.skipWaiting === true,
    clientsClaim: config.clientsClaim === true,
    inspectBodies: config.inspectBodies === true,
    outboxes,
    push,
  };
}

/** At most `limit` wake-ups in any sliding window of one minute. */
class WakeupLimiter {
  constructor(limit) {
    this.limit = limit;
    /** @type {number[]} */
    this.times = [];
    this.bySource = {};
    this.throttled = 0;
  }

  prune(now) {
    while (this.times.length && this.times[0] <= now - MINUTE) this.times.shift();
  }

  /** Takes a slot for `source`; false when the minute's budget is spent. */
  take(source) {
    const now = Date.now();
    this.prune(now);
    if (this.times.length >= this.limit) {
      this.throttled += 1;
      return false;
    }
    this.times.push(now);
    this.bySource[source] = (this.bySource[source] ?? 0) + 1;
    return true;
  }

  /** Returns the slot `source` took last (its flush found nothing due and made no request). */
  giveBack(source) {
    if (this.times.length === 0) return;
    this.times.pop(); // slots are alike; the newest goes, which keeps the list in order
    this.bySource[source] = Math.max(0, (this.bySource[source] ?? 1) - 1);
  }

  /** When the next slot frees up (ms, Date.now clock). */
  nextSlotAt() {
    const now = Date.now();
    this.prune(now);
    return this.times.length < this.limit ? now : this.times[0] + MINUTE;
  }

  snapshot() {
    this.prune(Date.now());
    return { lastMinute: this.times.length, limit: this.limit, bySource: { ...this.bySource }, throttled: this.throttled };
  }
}

/**
 * The Outbox and PushReceiver classes of this build, looked up when first needed (a namespace import, so a
 * build without one of them still loads and reports it clearly when it is used).
 */
function component(name) {
  const value = sealpost[name];
  if (typeof value !== 'function') {
    throw new SealpostError('closed', `this build of sealpost has no ${name}`);
  }
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function errorInfo(error) {
  return { code: error?.code ?? 'error', message: String(error?.message ?? error) };
}

function minutes(text) {
  const m = TIME_OF_DAY.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** Whether `date` (local time) falls in the quiet hours {start, end} ('HH:MM'; may wrap midnight). */
export function inQuietHours(quietHours, date = new Date()) {
  if (!quietHours) return false;
  const start = minutes(quietHours.start);
  const end = minutes(quietHours.end);
  if (start === null || end === null || start === end) return false;
  const now = date.getHours() * 60 + date.getMinutes();
  return start < end ? now >= start && now < end : now >= start || now < end;
}

/** Validates a preferences update; returns the merged preferences. */
export function mergePreferences(current, update) {
  if (!update || typeof update !== 'object' || Array.isArray(update)) {
    throw new SealpostError('invalid-argument', 'preferences must be an object');
  }
  const next = { ...DEFAULT_PREFERENCES, ...current };
  if (update.mutedCategories !== undefined) {
    const muted = update.mutedCategories;
    if (!Array.isArray(muted) || !muted.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 64)) {
      throw new SealpostError('invalid-argument', 'mutedCategories must be an array of category names');
    }
    next.mutedCategories = [...new Set(muted)];
  }
  if (update.quietHours !== undefined) {
    const quiet = update.quietHours;
    if (quiet !== null && (typeof quiet !== 'object' || minutes(quiet.start) === null || minutes(quiet.end) === null)) {
      throw new SealpostError('invalid-argument', "quietHours must be null or {start: 'HH:MM', end: 'HH:MM'}");
    }
    next.quietHours = quiet === null ? null : { start: quiet.start, end: quiet.end };
  }
  return next;
}

/** The notification a valid message becomes, before preferences and onMessage are applied. */
function notificationFor(message) {
  const options = {
    body: message.body,
    tag: message.tag,
    icon: message.icon,
    badge: message.badge,
    image: message.image,
    actions: Array.isArray(message.actions) ? message.actions.map(({ action, title }) => ({ action, title })) : undefined,
    silent: message.silent === true,
    requireInteraction: message.requireInteraction === true,
    renotify: message.renotify === true && typeof message.tag === 'string' && message.tag !== '',
    timestamp: typeof message.iat === 'number' ? message.iat * 1000 : undefined,
    data: { id: message.id, url: message.url ?? '/', category: message.category ?? null, data: message.data ?? null },
  };
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  return options;
}

/**
 * Wires sealpost into a service worker. Call it once, synchronously, at the top level of the worker.
 * @param {ServiceWorkerGlobalScope} self
 * @param {SealpostWorkerConfig} config
 * @returns {{flush: (queue?: string) => Promise<object>, stats: () => Promise<object>,
 *   deliver: (envelope: Uint8Array | ArrayBuffer | string) => Promise<object>}}
 */
export function installSealpost(self, config) {
  const settings = normalize(config, self.location.origin);
  const limiter = new WakeupLimiter(settings.maxWakeupsPerMinute);
  const factory = () => settings.indexedDB ?? self.indexedDB;
  const storageOptions = () => (settings.IDBKeyRange ? { IDBKeyRange: settings.IDBKeyRange } : {});
  let channel = null;
  let started = false;
  /** @type {Promise<Map<string, any>> | null} */
  let outboxesLoading = null;
  /** @type {Promise<any> | null} */
  let receiverLoading = null;
  /** @type {Promise<IDBDatabase> | null} */
  let stateLoading = null;
  /** @type {Map<string, Promise<object>>} one flush call at a time per queue in this worker */
  const flushing = new Map();
  const rearmed = new Map();

  function broadcast(event) {
    try {
      if (!channel) {
        channel = new BroadcastChannel(CHANNEL);
        channel.unref?.(); // Node: an open channel must not keep the process alive
      }
      channel.postMessage({ ...event, source: 'sealpost', at: Date.now() });
    } catch {
      // No BroadcastChannel (or it is closing): events are a convenience, never a requirement.
    }
  }

  // The module must load in a worker started offline: it is put in Cache Storage at install, and the
  // worker's own fetches of that one URL are answered from there first (the loader uses fetch()).
  const wasmHref = moduleUrl(settings.wasmUrl, self.location.href);
  const networkFetch = self.fetch;

  async function precacheModule() {
    const cache = await caches.open(WASM_CACHE);
    await cache.add(new Request(wasmHref, { cache: 'reload', credentials: 'same-origin' }));
  }

  async function moduleResponse(input, init) {
    try {
      const cached = await caches.match(wasmHref, { cacheName: WASM_CACHE });
      if (cached) return cached;
    } catch {
      // Cache Storage unavailable: fall through to the network.
    }
    const response = await networkFetch.call(self, input, init);
    if (response.ok) caches.open(WASM_CACHE).then((cache) => cache.put(wasmHref, response.clone())).catch(() => {});
    return response;
  }

  self.fetch = function fetchWithCachedModule(input, init) {
    const url = typeof input === 'string' || input instanceof URL ? String(input) : input?.url;
    let href = null;
    try { href = url ? new URL(url, self.location.href).href : null; } catch { href = null; }
    if (href === wasmHref) return moduleResponse(input, init);
    return networkFetch.call(self, input, init);
  };

  function loadModule() {
    return sealpost.ready({ wasmUrl: settings.wasmUrl });
  }

  function outboxes() {
    outboxesLoading ??= (async () => {
      await loadModule();
      const map = new Map();
      for (const spec of settings.outboxes) {
        // The worker re-broadcasts the outbox's events itself (with the queue, never content).
        const outbox = await component('Outbox').open({
          wasmUrl: settings.wasmUrl, broadcast: false, indexedDB: factory(), ...storageOptions(),
          ...spec.options, name: spec.name,
        });
        for (const type of ['enqueued', 'sent', 'retry-scheduled', 'dead-lettered', 'drained']) {
          outbox.addEventListener(type, (event) => broadcast({ ...safeDetail(event.detail), type, queue: spec.name }));
        }
        map.set(spec.name, outbox);
      }
      return map;
    })().catch((error) => {
      outboxesLoading = null;
      throw error;
    });
    return outboxesLoading;
  }

  function receiver() {
    if (!settings.push) return Promise.reject(new SealpostError('closed', 'push is not configured in installSealpost'));
    receiverLoading ??= (async () => {
      await loadModule();
      const { fallback, onMessage, feedback, ...options } = settings.push;
      return component('PushReceiver').open({ wasmUrl: settings.wasmUrl, indexedDB: factory(), ...options });
    })().catch((error) => {
      receiverLoading = null;
      throw error;
    });
    return receiverLoading;
  }

  function stateDb() {
    stateLoading ??= openDatabase(factory(), STATE_DB, 1, (db) => db.createObjectStore('kv')).catch((error) => {
      stateLoading = null;
      throw error;
    });
    return stateLoading;
  }

  async function readState(key) {
    const db = await stateDb();
    return transaction(db, 'kv', 'readonly', (tx) => request(tx.objectStore('kv').get(key)));
  }

  async function writeState(key, value) {
    const db = await stateDb();
    await transaction(db, 'kv', 'readwrite', (tx) => request(tx.objectStore('kv').put(value, key)), { durability: 'strict' });
  }

  async function preferences() {
    return { ...DEFAULT_PREFERENCES, ...((await readState('preferences')) ?? {}) };
  }

  async function setPreferences(update) {
    const next = mergePreferences(await preferences(), update);
    await writeState('preferences', next);
    broadcast({ type: 'preferences', preferences: next });
    return next;
  }

  async function registerSync(queue) {
    try {
      await self.registration.sync?.register(`${TAG_PREFIX}${queue}`);
      return true;
    } catch {
      return false; // no Background Sync here (Firefox, Safari) or no permission: other wake-ups remain
    }
  }

  /** One flush of one queue; concurrent callers in this worker share the running call. */
  function flushQueue(name, deadline) {
    let running = flushing.get(name);
    if (!running) {
      running = (async () => {
        const outbox = (await outboxes()).get(name);
        if (!outbox) throw new SealpostError('invalid-argument', `no outbox is named ${name}`);
        return outbox.flush({ deadline });
      })().finally(() => flushing.delete(name));
      flushing.set(name, running);
    }
    return running;
  }

  function queueNames(queue) {
    if (queue === undefined || queue === null) return settings.outboxes.map((o) => o.name);
    if (!settings.outboxes.some((o) => o.name === queue)) {
      throw new SealpostError('invalid-argument', `no outbox is named ${queue}`);
    }
    return [queue];
  }

  /**
   * A flush of every (or one) queue, counted as one wake-up of `source`.
   * @returns {Promise<{sent: number, retrying: number, dead: number, remaining: number,
   *   nextAttemptAt: number|null, throttled?: boolean, queues: Record<string, object>}>}
   */
  async function flushAll(source, budgetMs, queue, { continuing = false } = {}) {
    const names = queueNames(queue);
    const total = { sent: 0, retrying: 0, dead: 0, remaining: 0, nextAttemptAt: null, queues: {} };
    if (names.length === 0) return total;
    // Joining flushes that are already running sends nothing more, so it takes no slot.
    const joining = names.every((name) => flushing.has(name));
    const counted = !continuing && !joining;
    if (counted && !limiter.take(source)) {
      broadcast({ type: 'throttled', trigger: source, nextSlotAt: limiter.nextSlotAt() });
      return { ...total, throttled: true, nextSlotAt: limiter.nextSlotAt() };
    }
    const deadline = Date.now() + budgetMs;
    for (const name of names) {
      const summary = await flushQueue(name, deadline);
      total.queues[name] = summary;
      total.sent += summary.sent ?? 0;
      total.retrying += summary.retrying ?? 0;
      total.dead += summary.dead ?? 0;
      total.remaining += summary.remaining ?? 0;
      const next = summary.nextAttemptAt ?? null;
      if (next !== null && (total.nextAttemptAt === null || next < total.nextAttemptAt)) total.nextAttemptAt = next;
      if (source !== 'sync' && (summary.remaining ?? 0) > 0) await registerSync(name);
    }
    // A flush that found nothing due made no request: it does not count against the limit.
    if (counted && total.sent + total.retrying + total.dead === 0) limiter.giveBack(source);
    broadcast({ type: 'flushed', trigger: source, sent: total.sent, retrying: total.retrying, dead: total.dead,
      remaining: total.remaining, nextAttemptAt: total.nextAttemptAt });
    return total;
  }

  /** The `sync` event's work: flush, wait for what falls due within the budget, flush again. */
  /**
   * Flushes, then waits for what falls due within the budget and flushes again (Outbox.flush never
   * sleeps; an event kept alive by waitUntil may). A round takes a wake-up slot unless the round before it
   * delivered something: a queue that keeps failing cannot spin, and one that is getting through (each
   * free round removes at least one entry) is not held to a dozen rounds a minute.
   */
  async function drive(source, budgetMs, queue) {
    const budgetEnd = Date.now() + budgetMs;
    let continuing = false;
    for (;;) {
      const summary = await flushAll(source, budgetEnd - Date.now(), queue, { continuing });
      continuing = !summary.throttled && summary.sent > 0;
      if (!summary.throttled && summary.remaining === 0) return summary;
      const next = summary.throttled ? summary.nextSlotAt : summary.nextAttemptAt;
      if (next === null || next === undefined) return summary;
      const wakeAt = Math.max(next, Date.now() + settings.minWaitMs);
      if (wakeAt >= budgetEnd - settings.minWaitMs) return summary;
      await sleep(wakeAt - Date.now());
    }
  }

  /** The `sync` event's work: drive the queue within the budget; reject if work is left for later. */
  async function syncQueue(name, lastChance) {
    const summary = await drive('sync', settings.syncBudgetMs, name);
    if (!summary.throttled && summary.remaining === 0) return summary;
    broadcast({ type: 'sync-incomplete', queue: name, lastChance, remaining: summary?.remaining ?? null,
      nextAttemptAt: summary?.nextAttemptAt ?? null });
    if (lastChance) {
      // The browser gives up on this registration after this event. Register the tag afresh so that a
      // later sync still comes, but at most once per rearmIntervalMs: never a tight loop.
      const last = rearmed.get(name) ?? (await readState(`rearm:${name}`)) ?? 0;
      if (Date.now() - last >= settings.rearmIntervalMs) {
        rearmed.set(name, Date.now());
        await writeState(`rearm:${name}`, Date.now());
        const ok = await registerSync(name);
        broadcast({ type: 'sync-rearmed', queue: name, registered: ok });
      }
      return summary;
    }
    throw new SealpostError('closed', `sealpost:${name} has work left for later; the browser will retry the sync`);
  }

  /**
   * The first event of each worker lifetime flushes every queue (in that event's waitUntil), and waits for
   * entries that fall due within startupBudgetMs (e.g. the lease of an attempt a killed worker left).
   */
  function onFirstEvent(event, source, after = null) {
    if (started) return;
    started = true;
    if (settings.outboxes.length === 0) return;
    event.waitUntil(Promise.resolve(after).then(() => drive(`start:${source}`, settings.startupBudgetMs)).catch((error) => {
      broadcast({ type: 'flush-failed', trigger: `start:${source}`, ...errorInfo(error) });
    }));
  }

  // ---------------------------------------------------------------- fetch: network first, queue on failure

  function jsonResponse(status, body, headers = {}) {
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
    });
  }

  function queuedResponse(route, id, reason) {
    broadcast({ type: 'queued', queue: route.name, id, reason });
    registerSync(route.name);
    return jsonResponse(202, { queued: true, id, queue: route.name }, { 'Sealpost-Queued': id });
  }

  /**
   * The request as it goes to the network: with the key every replay of it carries (the app's own key when
   * the request has one, else the entry's id).
   */
  function withKey(request, header, id) {
    if (!header || request.headers.has(header)) return request;
    const headers = new Headers(request.headers);
    headers.set(header, id);
    return new Request(request, { headers });
  }

  /**
   * The fetch route. The request is sealed into its outbox before it goes out, so the network attempt
   * carries the entry's own idempotency key: if the answer is lost (a timeout, a killed worker), the replay
   * has the same key and the server applies the write once. An answer the route does not queue on removes
   * the entry and goes to the page as it is. With fifo ordering, a request behind queued entries of its
   * queue waits its turn (202) instead of overtaking them.
   * @returns {{response: Promise<Response>, ahead: Promise<boolean>}}
   */
  function networkFirst(route, original) {
    let markAhead;
    const ahead = new Promise((resolve) => { markAhead = resolve; });
    const response = (async () => {
      const fallback = original.clone();
      let outbox;
      let id;
      let waiting = 0;
      try {
        outbox = (await outboxes()).get(route.name);
        const group = route.group?.(original);
        if (route.fifo) waiting = await outbox.size();
        ({ id } = await outbox.enqueue(original, { group }));
      } catch (error) {
        // Nothing could be stored (quota, storage, module): the request goes out unprotected, and says so.
        const info = errorInfo(error);
        broadcast({ type: 'queue-failed', queue: route.name, code: info.code });
        try {
          return await self.fetch(fallback);
        } catch {
          return jsonResponse(info.code === 'quota' || info.code === 'storage-full' ? 507 : 503,
            { queued: false, queue: route.name, error: info.code, message: info.message }, { 'Sealpost-Error': info.code });
        }
      }
      if (waiting > 0) {
        markAhead(true);
        return queuedResponse(route, id, 'behind-queue');
      }
      markAhead(false);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), settings.networkTimeoutMs);
      let reason;
      try {
        const answer = await self.fetch(withKey(fallback, route.idempotencyHeader, id), { signal: controller.signal });
        if (!route.queueOnStatus.includes(answer.status)) {
          await outbox.discard(id).catch(() => false);
          return answer;
        }
        reason = `http-${answer.status}`;
      } catch (error) {
        reason = error?.name === 'AbortError' ? 'timeout' : 'network';
      } finally {
        clearTimeout(timer);
      }
      return queuedResponse(route, id, reason);
    })();
    return { response, ahead: Promise.race([ahead, response.then(() => false, () => false)]) };
  }

  self.addEventListener('fetch', (event) => {
    const route = settings.outboxes.find((r) => r.matches(event.request));
    if (!route) {
      onFirstEvent(event, 'fetch');
      return;
    }
    const { response, ahead } = networkFirst(route, event.request);
    event.respondWith(response);
    // The start-of-life flush (or the flush a request behind the queue needs) runs after the network
    // attempt, so it neither delays the response nor sends this request a second time meanwhile.
    if (!started) {
      onFirstEvent(event, 'fetch', response.catch(() => null));
    } else {
      // (Not while the browser says it is offline: each failed attempt would only push the entries back.)
      event.waitUntil(ahead.then((behind) => (behind && self.navigator?.onLine !== false
        ? flushAll('route', settings.messageBudgetMs, route.name) : null))
        .catch((error) => broadcast({ type: 'flush-failed', trigger: 'route', ...errorInfo(error) })));
    }
  });

  // ---------------------------------------------------------------- sync, periodicsync

  self.addEventListener('sync', (event) => {
    if (!event.tag.startsWith(TAG_PREFIX)) return;
    const name = event.tag.slice(TAG_PREFIX.length);
    if (!settings.outboxes.some((o) => o.name === name)) return;
    started = true;
    event.waitUntil(syncQueue(name, event.lastChance === true));
  });

  self.addEventListener('periodicsync', (event) => {
    if (!event.tag.startsWith('sealpost')) return;
    started = true;
    event.waitUntil(drive('periodicsync', settings.syncBudgetMs).catch((error) => {
      broadcast({ type: 'flush-failed', trigger: 'periodicsync', ...errorInfo(error) });
    }));
  });

  // ---------------------------------------------------------------- push and notifications

  /** What to open: raw bytes (first byte 0x01) or base64url text of them. */
  function envelopeBytes(data) {
    if (data === null || data === undefined) return new Uint8Array(0);
    if (typeof data === 'string') return fromBase64url(data.trim()) ?? new TextEncoder().encode(data);
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      return new Uint8Array(data instanceof ArrayBuffer ? data : data.buffer, data.byteOffset ?? 0, data.byteLength);
    }
    const bytes = new Uint8Array(data.arrayBuffer()); // PushMessageData
    if (bytes[0] === 0x01) return bytes;
    return fromBase64url(data.text().trim()) ?? bytes;
  }

  /** Shows the fallback notification (one shared tag); false when this context may not show any. */
  async function showFallback(code) {
    const { title, ...options } = settings.push.fallback;
    try {
      await self.registration.showNotification(title, { ...options, data: { fallback: true, code } });
      return true;
    } catch {
      return false;
    }
  }

  /** The verdict on a message that is not shown as itself: broadcast first, then the fallback if it can be. */
  async function rejected(code, id) {
    broadcast({ type: 'push-rejected', code, ...(id ? { id } : {}) });
    return (await showFallback(code)) ? { shown: 'fallback', code } : { shown: false, code };
  }

  /**
   * Opens, checks and shows one envelope. The id is recorded as seen when the envelope opens (so two
   * concurrent deliveries show it once) and released again if no notification could be shown for it,
   * so a redelivery is not refused as `replayed`: a message is lost to neither order.
   */
  async function handlePush(data) {
    let rx;
    let message;
    try {
      rx = await receiver();
      message = await rx.open(envelopeBytes(data));
    } catch (error) {
      return rejected(errorInfo(error).code);
    }
    let options;
    try {
      const prefs = await preferences();
      options = notificationFor(message);
      let title = message.title;
      if (typeof settings.push.onMessage === 'function') {
        const custom = await settings.push.onMessage(message);
        if (custom && typeof custom === 'object') {
          const { title: customTitle, ...rest } = custom;
          if (typeof customTitle === 'string' && customTitle) title = customTitle;
          options = { ...options, ...rest };
        }
      }
      const muted = message.category && prefs.mutedCategories.includes(message.category);
      const quiet = inQuietHours(prefs.quietHours);
      if (muted || quiet) options.silent = true;
      await self.registration.showNotification(title, options);
      broadcast({ type: 'push-shown', id: message.id, tag: options.tag ?? null, silent: options.silent === true,
        reason: muted ? 'muted-category' : quiet ? 'quiet-hours' : null });
      return { shown: true, tag: options.tag ?? null, silent: options.silent === true };
    } catch {
      await rx.release(message.id).catch(() => {});
      return rejected('display-failed', message.id);
    }
  }

  self.addEventListener('push', (event) => {
    if (!settings.push) return;
    onFirstEvent(event, 'push');
    event.waitUntil(handlePush(event.data));
  });

  function sameOriginUrl(url) {
    try {
      const target = new URL(typeof url === 'string' ? url : '/', self.location.origin);
      return target.origin === self.location.origin ? target.href : null;
    } catch {
      return null;
    }
  }

  async function focusOrOpen(url) {
    try {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((client) => client.url === url);
      if (open) {
        await open.focus();
        broadcast({ type: 'notification-click', outcome: 'focused', url });
      } else {
        await self.clients.openWindow(url);
        broadcast({ type: 'notification-click', outcome: 'opened', url });
      }
    } catch (error) {
      broadcast({ type: 'notification-click', outcome: 'failed', url, code: error?.name ?? 'error' });
    }
  }

  async function sendFeedback(data, action) {
    const { url, queue } = settings.push.feedback;
    if (!queue) {
      broadcast({ type: 'feedback-failed', code: 'closed', message: 'no outbox to send feedback through' });
      return;
    }
    try {
      const outbox = (await outboxes()).get(queue);
      const body = JSON.stringify({ messageId: data?.id ?? null, action, category: data?.category ?? null });
      const { id } = await outbox.enqueue(
        { url: new URL(url, self.location.origin).href, method: 'POST', headers: { 'Content-Type': 'application/json' }, body },
        { group: 'feedback' },
      );
      broadcast({ type: 'feedback-queued', queue, id, action, messageId: data?.id ?? null });
      await flushAll('feedback', settings.messageBudgetMs, queue);
    } catch (error) {
      broadcast({ type: 'feedback-failed', ...errorInfo(error) });
    }
  }

  self.addEventListener('notificationclick', (event) => {
    const { notification } = event;
    const data = notification.data ?? {};
    notification.close();
    if (settings.push && event.action === 'not-useful') {
      extend(event, sendFeedback(data, 'not-useful'));
      return;
    }
    const url = sameOriginUrl(data.url);
    if (!url) {
      broadcast({ type: 'notification-click', outcome: 'refused', url: String(data.url) });
      return;
    }
    extend(event, focusOrOpen(url));
  });

  // ---------------------------------------------------------------- messages from pages

  async function stats() {
    const queues = {};
    const map = settings.outboxes.length ? await outboxes() : new Map();
    for (const [name, outbox] of map) {
      const entries = await outbox.list();
      const count = (state) => entries.filter((e) => e.state === state).length;
      const times = entries.filter((e) => e.state === 'pending' && typeof e.nextAttemptAt === 'number').map((e) => e.nextAttemptAt);
      queues[name] = {
        pending: count('pending'), inflight: count('inflight'), dead: count('dead'),
        nextAttemptAt: times.length ? Math.min(...times) : null,
      };
    }
    return { queues, wakeups: limiter.snapshot() };
  }

  /**
   * One entry as Outbox.list() describes it (its record opened in Wasm for method, URL and metadata;
   * never headers; the body as text only with inspectBodies), or null when it is gone.
   */
  async function inspect(queue, id) {
    const [name] = queueNames(queue ?? settings.outboxes[0]?.name);
    if (!name) throw new SealpostError('invalid-argument', 'no outbox is configured');
    if (typeof id !== 'string') throw new SealpostError('invalid-argument', 'inspect needs an entry id');
    const outbox = (await outboxes()).get(name);
    const entry = await outbox.entry(id);
    if (!entry || !settings.inspectBodies || entry.error) return entry;
    // Opt-in (a demo's inspector): the body as text, cut at INSPECT_BODY_CHARS; headers stay sealed.
    const request = await outbox.request(id);
    if (!request) return null;
    const text = await request.text();
    return { ...entry, body: text.slice(0, INSPECT_BODY_CHARS), bodyLength: text.length };
  }

  async function pushKey() {
    const rx = await receiver();
    return { publicKey: rx.publicKey, keyId: rx.keyId };
  }

  async function answer(message) {
    switch (message.type) {
      case 'sealpost:flush':
        return flushAll('message', settings.messageBudgetMs, message.queue);
      case 'sealpost:stats':
        return stats();
      case 'sealpost:push-key':
        return pushKey();
      case 'sealpost:deliver':
        if (!settings.push) throw new SealpostError('closed', 'push is not configured in installSealpost');
        return handlePush(message.envelope ?? null);
      case 'sealpost:inspect':
        return inspect(message.queue, message.id);
      case 'sealpost:preferences':
        return message.set === undefined ? preferences() : setPreferences(message.set);
      default:
        return undefined;
    }
  }

  self.addEventListener('message', (event) => {
    const message = event.data;
    if (!message || typeof message.type !== 'string' || !message.type.startsWith('sealpost:')) return;
    onFirstEvent(event, 'message');
    const port = event.ports?.[0] ?? null;
    event.waitUntil(Promise.resolve().then(() => answer(message)).then(
      (result) => port?.postMessage(result ?? null),
      (error) => port?.postMessage({ error: errorInfo(error) }),
    ));
  });

  // ---------------------------------------------------------------- lifecycle

  self.addEventListener('install', (event) => {
    event.waitUntil(Promise.all([
      precacheModule(),
      settings.skipWaiting ? self.skipWaiting() : null,
    ]));
  });

  // activate is not a flush trigger: work kept in its waitUntil holds the worker in 'activating', and a
  // worker that is not active gets no fetch events (they would wait for the flush).
  self.addEventListener('activate', (event) => {
    if (settings.clientsClaim) event.waitUntil(self.clients.claim());
  });

  return {
    flush: (queue) => flushAll('api', settings.messageBudgetMs, queue),
    stats,
    deliver: handlePush,
  };
}

/**
 * event.waitUntil(promise), for an event the browser dispatched; an event made by a script (tests, other
 * libraries) cannot be extended, and the work still runs.
 */
function extend(event, promise) {
  try {
    event.waitUntil(promise);
  } catch {
    // InvalidStateError: not a trusted event.
  }
}

/** Only ids, states, codes, counts and times from an outbox event's detail: never request content. */
function safeDetail(detail) {
  if (!detail || typeof detail !== 'object') return {};
  const out = {};
  for (const key of ['id', 'state', 'code', 'attempts', 'nextAttemptAt', 'status', 'sent', 'retrying', 'dead',
    'remaining']) {
    const value = detail[key];
    if (value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) out[key] = value;
  }
  return out;
}
