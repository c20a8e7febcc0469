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
 *   - the first fetch, message, push or pushnotification event of each worker lifetime (in its waitUntil,
 *     never in the way of a fetch response); it reads the queues' entry rows from IndexedDB first and loads
 *     the module and the outboxes only when something is due within startupBudgetMs;
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
 * `createSealpost(self, config)` makes the same handlers without adding listeners, for a worker that has
 * its own (`handleFetch(event)` answers whether it called respondWith).
 *
 * The parts, in js/worker/: handlers (the parts put together, one handler per event), config
 * (settings), events (broadcast), module-cache (sealpost.wasm in Cache Storage), components (the module, outboxes and push receiver, loaded lazily), state (the worker's
 * IndexedDB), wakeups (limiter and flush drivers), route (the fetch route), notifications (push and
 * clicks), messages (the sealpost:* protocol).
 */
import { sealpostWorker } from './worker/handlers.js';

export { inQuietHours } from './worker/notifications.js';
export { mergePreferences } from './worker/state.js';

/**
 * sealpost's handler of each service-worker event, for a worker that adds its own listeners. Each returns
 * whether the event was sealpost's: `handleFetch` whether it called `event.respondWith` (when false, the
 * request is the caller's to answer). Call once, synchronously, at the top level of the worker, and call
 * the handlers from listeners added there too.
 * @param {ServiceWorkerGlobalScope} self
 * @param {import('./worker/config.js').SealpostWorkerConfig} config
 */
export function createSealpost(self, config) {
  const { handlers, api } = sealpostWorker(self, config);
  return { ...handlers, ...api };
}

/** Which handler each event goes to. */
const LISTENERS = [
  ['fetch', 'handleFetch'],
  ['sync', 'handleSync'],
  ['periodicsync', 'handlePeriodicSync'],
  ['push', 'handlePush'],
  ['pushnotification', 'handlePushNotification'],
  ['pushsubscriptionchange', 'handlePushSubscriptionChange'],
  ['notificationclick', 'handleNotificationClick'],
  ['message', 'handleMessage'],
  ['install', 'handleInstall'],
  ['activate', 'handleActivate'],
];

/**
 * Wires sealpost into a service worker: createSealpost, and a listener for each event. Call it once,
 * synchronously, at the top level of the worker.
 * @param {ServiceWorkerGlobalScope} self
 * @param {import('./worker/config.js').SealpostWorkerConfig} config
 * @returns {{flush: (queue?: string) => Promise<object>, stats: () => Promise<object>,
 *   deliver: (envelope: Uint8Array | ArrayBuffer | string) => Promise<object>}}
 */
export function installSealpost(self, config) {
  const sealpost = createSealpost(self, config);
  for (const [type, handler] of LISTENERS) self.addEventListener(type, (event) => { sealpost[handler](event); });
  return { flush: sealpost.flush, stats: sealpost.stats, deliver: sealpost.deliver };
}
