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
 * Every time the worker reads (the limiter, budgets, deadlines, re-arm times, the outboxes' schedules,
 * event stamps, quiet hours) comes from one clock: the config's `now` (default Date.now).
 *
 * Events (ids, states, codes and counts, never plaintext) go to BroadcastChannel('sealpost').
 *
 * The parts, in js/worker/: config (settings), events (broadcast), module-cache (sealpost.wasm in Cache
 * Storage), components (the module, outboxes and push receiver, loaded lazily), state (the worker's
 * IndexedDB), wakeups (limiter and flush drivers), route (the fetch route), notifications (push and
 * clicks), messages (the sealpost:* protocol).
 */
import { normalize } from './worker/config.js';
import { broadcaster, errorInfo } from './worker/events.js';
import { moduleFetcher, precacheModule } from './worker/module-cache.js';
import { components } from './worker/components.js';
import { WorkerState } from './worker/state.js';
import { Wakeups, registerSync, tagQueue } from './worker/wakeups.js';
import { FetchRoute } from './worker/route.js';
import { Notifications } from './worker/notifications.js';
import { Messages } from './worker/messages.js';

export { inQuietHours } from './worker/notifications.js';
export { mergePreferences } from './worker/state.js';

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

/** The worker's parts, each given what it depends on. */
function assemble(self, settings) {
  const broadcast = broadcaster(settings.now);
  const indexedDB = () => settings.indexedDB ?? self.indexedDB;
  const fetchModule = moduleFetcher({
    caches: () => self.caches ?? globalThis.caches,
    fetch: (input, init) => self.fetch(input, init),
  });
  const { outboxes, receiver } = components({ settings, indexedDB, fetchModule, broadcast });
  const state = new WorkerState(indexedDB);
  const register = (queue) => registerSync(self, queue);
  const wakeups = new Wakeups({ settings, outboxes, broadcast, registerSync: register, state });
  const route = new FetchRoute({
    settings, outboxes, broadcast, registerSync: register, fetch: (input, init) => self.fetch(input, init),
  });
  const notifications = new Notifications({
    self, settings, receiver, outboxes, state, broadcast,
    flush: (trigger, queue) => wakeups.flushAll(trigger, settings.messageBudgetMs, queue),
  });
  const messages = new Messages({ settings, outboxes, receiver, wakeups, notifications, state, broadcast });
  return { wakeups, route, notifications, messages, broadcast };
}

/**
 * Wires sealpost into a service worker. Call it once, synchronously, at the top level of the worker.
 * @param {ServiceWorkerGlobalScope} self
 * @param {import('./worker/config.js').SealpostWorkerConfig} config
 * @returns {{flush: (queue?: string) => Promise<object>, stats: () => Promise<object>,
 *   deliver: (envelope: Uint8Array | ArrayBuffer | string) => Promise<object>}}
 */
export function installSealpost(self, config) {
  const settings = normalize(config, self.location);
  const { wakeups, route, notifications, messages, broadcast } = assemble(self, settings);

  self.addEventListener('fetch', (event) => {
    const outbox = settings.outboxes.find((r) => r.matches(event.request));
    if (!outbox) {
      wakeups.startOfLife(event, 'fetch');
      return;
    }
    const { response, ahead } = route.networkFirst(outbox, event.request);
    event.respondWith(response);
    // The start-of-life flush (or the flush a request behind the queue needs) runs after the network
    // attempt, so it neither delays the response nor sends this request a second time meanwhile.
    if (!wakeups.started) {
      wakeups.startOfLife(event, 'fetch', response.catch(() => null));
    } else {
      // (Not while the browser says it is offline: each failed attempt would only push the entries back.)
      event.waitUntil(ahead.then((behind) => (behind
        ? wakeups.behindQueue(outbox.name, self.navigator?.onLine !== false) : null)));
    }
  });

  self.addEventListener('sync', (event) => {
    const name = tagQueue(event.tag);
    if (name === null || !settings.outboxes.some((o) => o.name === name)) return;
    event.waitUntil(wakeups.syncQueue(name, event.lastChance === true));
  });

  self.addEventListener('periodicsync', (event) => {
    if (!event.tag.startsWith('sealpost')) return;
    event.waitUntil(wakeups.periodic());
  });

  self.addEventListener('push', (event) => {
    if (!settings.push) return;
    wakeups.startOfLife(event, 'push');
    event.waitUntil(notifications.handlePush(event.data));
  });

  self.addEventListener('notificationclick', (event) => {
    const work = notifications.click(event);
    if (work) extend(event, work);
  });

  self.addEventListener('message', (event) => {
    const message = event.data;
    if (!message || typeof message.type !== 'string' || !message.type.startsWith('sealpost:')) return;
    wakeups.startOfLife(event, 'message');
    const port = event.ports?.[0] ?? null;
    event.waitUntil(Promise.resolve().then(() => messages.answer(message)).then(
      (result) => port?.postMessage(result ?? null),
      (error) => port?.postMessage({ error: errorInfo(error) }),
    ));
  });

  self.addEventListener('install', (event) => {
    // A module that cannot be fetched never fails the install (the worker would end 'redundant' with a bare
    // 404 as the only clue): it is said once, and routed requests go out unprotected, with a
    // 'queue-failed' event, until the module loads.
    const precached = precacheModule(self.caches ?? globalThis.caches, settings.moduleHref).catch((error) => {
      console.error(`sealpost: sealpost.wasm could not be fetched from ${settings.moduleHref} (${error?.message ?? error}); `
        + 'requests are not protected until it loads. Serve it there or pass wasmUrl to installSealpost.');
      broadcast({ type: 'module-missing', url: settings.moduleHref });
    });
    event.waitUntil(Promise.all([precached, settings.skipWaiting ? self.skipWaiting() : null]));
  });

  // activate is not a flush trigger: work kept in its waitUntil holds the worker in 'activating', and a
  // worker that is not active gets no fetch events (they would wait for the flush).
  self.addEventListener('activate', (event) => {
    if (settings.clientsClaim) event.waitUntil(self.clients.claim());
  });

  return {
    flush: (queue) => wakeups.flushAll('api', settings.messageBudgetMs, queue),
    stats: () => messages.stats(),
    deliver: (envelope) => notifications.handlePush(envelope),
  };
}
