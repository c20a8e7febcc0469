/**
 * sealpost/workbox: `SealpostPlugin`, a Workbox strategy plugin (NetworkOnly, NetworkFirst) that puts a
 * request in an encrypted sealpost outbox before it goes out, in place of Workbox's BackgroundSyncPlugin.
 *
 *   requestWillFetch   the request is sealed into the outbox first, and goes out with the entry's
 *                      idempotency key (the app's own when it set one) and the route's network timeout;
 *   fetchDidSucceed    an answer whose status is in `queueOnStatus` becomes the 202 (the entry stays);
 *                      any other answer goes to the page and the entry is discarded;
 *   fetchDidFail,
 *   handlerDidError    a network error or a timeout: the page gets 202 {"queued": true, "id", "queue"}
 *                      with Sealpost-Queued, as from installSealpost's route, and the sync tag is registered;
 *   cacheWillUpdate    a request the plugin queued is never cached (NetworkFirst); others as Workbox would.
 *
 * Replays are the outbox's: an entry is deleted only after the server answered (a 5xx in the retry
 * policy's `retryOn` is tried again; a worker stopped mid-replay leaves a lease that the next flush takes
 * over), unlike BackgroundSyncPlugin, which queues only on network errors and deletes an entry before
 * replaying it. The wake-ups are installSealpost's (js/worker/): the `sync` event of tag
 * `sealpost:<name>`, `periodicsync`, the first event of each worker life, and sealpost/page's messages,
 * under one wake-up limit. Every plugin of a worker shares them: the plugins are gathered when they are
 * constructed (at the top level of the worker script) and their queues assembled at the worker's first event.
 */
import { SealpostError } from './errors.js';
import { normalize } from './worker/config.js';
import { FetchRoute } from './worker/route.js';
import { extend, sealpostWorker } from './worker/handlers.js';

/** Options that belong to the worker (shared by every plugin), not to one queue. */
const WORKER_OPTIONS = ['wasmUrl', 'syncBudgetMs', 'startupBudgetMs', 'messageBudgetMs', 'maxWakeupsPerMinute',
  'minWaitMs', 'rearmIntervalMs', 'networkTimeoutMs', 'inspectBodies', 'indexedDB', 'IDBKeyRange', 'now'];

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

function invalid(message) {
  return new SealpostError('invalid-argument', `SealpostPlugin: ${message}`);
}

/** One per worker global: the plugins' queues, the listeners, and the sealpost worker they share. */
class Hub {
  constructor(self) {
    this.self = self;
    /** @type {object[]} */
    this.specs = [];
    this.options = {};
    this.worker = null;
    /** fetch event → the plugin's work on it (the start-of-life flush waits for it). */
    this.claims = new WeakMap();
    self.addEventListener('fetch', (event) => this.onFetch(event));
    self.addEventListener('sync', (event) => { this.get().handlers.handleSync(event); });
    self.addEventListener('periodicsync', (event) => { this.get().handlers.handlePeriodicSync(event); });
    self.addEventListener('message', (event) => { this.get().handlers.handleMessage(event); });
    self.addEventListener('install', (event) => { this.get().handlers.handleInstall(event); });
  }

  /** Adds a plugin's queue; its options are checked now. */
  add(name, options) {
    if (this.worker) {
      throw invalid('construct every plugin at the top level of the worker script, before its first event');
    }
    if (this.specs.some((spec) => spec.name === name)) throw invalid(`two plugins are named ${name}`);
    const own = {};
    const spec = { name };
    for (const [key, value] of Object.entries(options)) {
      if (key === 'self') continue;
      if (key === 'match') throw invalid('match is the Workbox route\'s; a plugin queues every request its strategy fetches');
      if (WORKER_OPTIONS.includes(key)) own[key] = value;
      else spec[key] = value;
    }
    for (const [key, value] of Object.entries(own)) {
      if (key in this.options && this.options[key] !== value) {
        throw invalid(`${key} is the worker's, shared by every plugin: give it once (or the same everywhere)`);
      }
    }
    normalize({ ...this.options, ...own, outboxes: [spec] }, this.self.location);
    Object.assign(this.options, own);
    this.specs.push(spec);
  }

  /** The sealpost worker of every plugin constructed so far, assembled once. */
  get() {
    this.worker ??= sealpostWorker(this.self, { ...this.options, outboxes: this.specs });
    return this.worker;
  }

  /**
   * The first fetch of a worker life flushes every queue. A Workbox route hands its request to the plugin
   * within this task; when it does, the flush waits for the plugin's network attempt, so it neither delays
   * the response nor sends that request a second time meanwhile.
   */
  onFetch(event) {
    const { wakeups } = this.get().parts;
    if (wakeups.started) return;
    wakeups.startOfLife(event, 'fetch', nextTask().then(() => this.claims.get(event) ?? null));
  }
}

/** @type {WeakMap<object, Hub>} */
const hubs = new WeakMap();

function hubOf(self) {
  let hub = hubs.get(self);
  if (!hub) {
    hub = new Hub(self);
    hubs.set(self, hub);
  }
  return hub;
}

export class SealpostPlugin {
  /**
   * @param {string} name  the outbox's name (its sync tag is `sealpost:<name>`)
   * @param {object} [options]  an installSealpost outbox's options (retry, ordering, group, queueOnStatus,
   *   idempotencyHeader, maxEntries, ...) and the worker's (wasmUrl, networkTimeoutMs, maxWakeupsPerMinute,
   *   ...), and `self`, the worker's global scope (default: globalThis)
   */
  constructor(name, options = {}) {
    if (typeof name !== 'string' || name === '') throw invalid('the first argument is the outbox\'s name');
    if (!options || typeof options !== 'object') throw invalid('options must be an object');
    this.name = name;
    this.hub = hubOf(options.self ?? globalThis);
    this.hub.add(name, options);
  }

  /** @private */
  parts() {
    const worker = this.hub.get();
    return { worker, route: worker.settings.outboxes.find((r) => r.name === this.name), steps: worker.parts.route };
  }

  /**
   * Seals the request into the outbox, then hands Workbox the request to send: with the entry's
   * idempotency key and the network timeout. A request behind queued entries (fifo) is not sent: the
   * error thrown here ends in handlerDidError, which answers 202. Nothing stored (quota, storage, no
   * module): the request goes out as it came, unprotected, and `queue-failed` says so.
   */
  async requestWillFetch({ request, event, state }) {
    state.done = new Promise((resolve) => { state.complete = resolve; });
    if (event) this.hub.claims.set(event, state.done);
    const { worker, route, steps } = this.parts();
    const copy = request.clone();
    // Requests of one fifo group go out one after the other (the route's lane); the turn ends when the
    // strategy is done with this one.
    const { group, turn, error: groupError } = steps.place(route, request);
    state.turn = turn;
    await turn?.ready;
    let sealed;
    try {
      if (groupError) throw groupError;
      sealed = await steps.seal(route, request, group);
    } catch (error) {
      state.failed = steps.sealFailed(route, error);
      return copy;
    }
    state.sealed = sealed;
    state.id = sealed.id;
    if (sealed.behind) {
      state.behind = true;
      throw new Error(`sealpost: entries of ${this.name} in this request's group are ahead of it`);
    }
    const controller = new AbortController();
    state.timer = setTimeout(() => controller.abort(), worker.settings.networkTimeoutMs);
    let outgoing;
    try {
      outgoing = await FetchRoute.materialized(copy);
    } catch (error) {
      // The body could not be read again: the stored entry is what goes out, from the queue (202).
      state.reason = 'network';
      throw error;
    }
    return new Request(steps.keyed(route, outgoing, sealed.id), { signal: controller.signal });
  }

  /** The answer to a queued request: passed on (the entry discarded), or the 202 for a status in queueOnStatus. */
  async fetchDidSucceed({ response, event, state }) {
    clearTimeout(state.timer);
    if (!state.id) return response;
    const { route, steps } = this.parts();
    const answer = await steps.answered(route, state.sealed, response, event ? (work) => extend(event, work) : null);
    state.answered = true;
    state.turn?.done();
    return answer;
  }

  /** A network error or a timeout: the entry stays (handlerDidError answers). */
  async fetchDidFail({ error, state }) {
    clearTimeout(state.timer);
    state.reason = FetchRoute.failure(error);
  }

  /** The strategy had no answer: the 202 for a queued request, the route's 503/507 for an unprotected one. */
  async handlerDidError({ error, event, state }) {
    clearTimeout(state.timer);
    const { worker, route, steps } = this.parts();
    if (state.id && !state.answered) {
      if (state.behind) {
        // The flush a request behind its queue asks for (not while the browser says it is offline).
        if (event) {
          extend(event, worker.parts.wakeups.behindQueue(this.name, this.hub.self.navigator?.onLine !== false));
        }
        state.turn?.done();
        return steps.queued(route, state.id, 'behind-queue');
      }
      const answer = await steps.queue(route, state.sealed, state.reason ?? FetchRoute.failure(error));
      state.turn?.done();
      return answer;
    }
    state.turn?.done();
    if (state.failed) return steps.unprotectedFailed(route, state.failed);
    return undefined;
  }

  /** Never caches a request the plugin queued; others as NetworkFirst's default (200 and opaque answers). */
  async cacheWillUpdate({ response, state }) {
    if (state.id || state.failed) return null;
    return response.status === 200 || response.status === 0 ? response : null;
  }

  /** The strategy is done with the request (the start-of-life flush may go). */
  async handlerDidComplete({ state }) {
    clearTimeout(state.timer);
    state.turn?.done();
    state.complete?.();
  }
}
