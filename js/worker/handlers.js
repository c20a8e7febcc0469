/**
 * The worker's parts put together, and one handler per service-worker event: what `createSealpost`
 * returns and `installSealpost` adds as listeners (js/sw.js), and what `SealpostPlugin` (js/workbox.js)
 * drives from Workbox's strategies.
 */
import { normalize } from './config.js';
import { broadcaster, errorInfo } from './events.js';
import { moduleFetcher, precacheModule } from './module-cache.js';
import { components } from './components.js';
import { WorkerState } from './state.js';
import { Wakeups, registerSync, tagQueue } from './wakeups.js';
import { FetchRoute } from './route.js';
import { Notifications } from './notifications.js';
import { Messages } from './messages.js';

/**
 * event.waitUntil(promise), for an event the browser dispatched; an event made by a script (tests, other
 * libraries) cannot be extended, and the work still runs.
 */
export function extend(event, promise) {
  try {
    event.waitUntil(promise);
  } catch {
    // InvalidStateError: not a trusted event (or one whose lifetime has ended).
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
  const { outboxes, receiver, quietUntil } = components({ settings, indexedDB, fetchModule, broadcast });
  const state = new WorkerState(indexedDB);
  const register = (queue) => registerSync(self, queue);
  const wakeups = new Wakeups({ settings, outboxes, broadcast, registerSync: register, state, quietUntil });
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
 * Checks `config`, assembles the parts and makes the event handlers. Each handler returns whether the
 * event was sealpost's (a fetch: whether it called respondWith).
 * @param {ServiceWorkerGlobalScope} self
 * @param {import('./config.js').SealpostWorkerConfig} config
 */
export function sealpostWorker(self, config) {
  const settings = normalize(config, self.location);
  const parts = assemble(self, settings);
  const { wakeups, route, notifications, messages, broadcast } = parts;

  const handlers = {
    handleFetch(event) {
      const outbox = settings.outboxes.find((r) => r.matches(event.request));
      if (!outbox) {
        wakeups.startOfLife(event, 'fetch');
        return false;
      }
      const { response, ahead, settled } = route.networkFirst(outbox, event.request);
      event.respondWith(response);
      event.waitUntil(settled);
      // The start-of-life flush (or the flush a request behind the queue needs) runs after the network
      // attempt, so it neither delays the response nor sends this request a second time meanwhile.
      if (!wakeups.started) {
        wakeups.startOfLife(event, 'fetch', response.catch(() => null));
      } else {
        // (Not while the browser says it is offline: each failed attempt would only push the entries back.)
        event.waitUntil(ahead.then((behind) => (behind
          ? wakeups.behindQueue(outbox.name, self.navigator?.onLine !== false) : null)));
      }
      return true;
    },

    handleSync(event) {
      const name = tagQueue(event.tag);
      if (name === null || !settings.outboxes.some((o) => o.name === name)) return false;
      event.waitUntil(wakeups.syncQueue(name, event.lastChance === true));
      return true;
    },

    handlePeriodicSync(event) {
      if (!event.tag.startsWith('sealpost')) return false;
      event.waitUntil(wakeups.periodic());
      return true;
    },

    handlePush(event) {
      if (!settings.push) return false;
      wakeups.startOfLife(event, 'push');
      event.waitUntil(notifications.handlePush(event.data, event.notification ?? null));
      return true;
    },

    // WebKit's event for a mutable declarative push message (Safari 18.4+). Its waitUntil is used where it
    // exists; without it the work still runs, and WebKit shows the proposed notification if the event ends first.
    handlePushNotification(event) {
      if (!settings.push) return false;
      const extendable = { waitUntil: (promise) => extend(event, promise) };
      wakeups.startOfLife(extendable, 'push');
      extend(event, notifications.handlePushNotification(event));
      return true;
    },

    handlePushSubscriptionChange(event) {
      if (!settings.push) return false;
      event.waitUntil(notifications.subscriptionChanged(event));
      return true;
    },

    handleNotificationClick(event) {
      const work = notifications.click(event);
      if (work) extend(event, work);
      return true;
    },

    handleMessage(event) {
      const message = event.data;
      if (!message || typeof message.type !== 'string' || !message.type.startsWith('sealpost:')) return false;
      wakeups.startOfLife(event, 'message');
      const port = event.ports?.[0] ?? null;
      event.waitUntil(Promise.resolve().then(() => messages.answer(message)).then(
        (result) => port?.postMessage(result ?? null),
        (error) => port?.postMessage({ error: errorInfo(error) }),
      ));
      return true;
    },

    handleInstall(event) {
      // A module that cannot be fetched never fails the install (the worker would end 'redundant' with a
      // bare 404 as the only clue): it is said once, and routed requests go out unprotected, with a
      // 'queue-failed' event, until the module loads.
      const precached = precacheModule(self.caches ?? globalThis.caches, settings.moduleHref).catch((error) => {
        console.error(`sealpost: sealpost.wasm could not be fetched from ${settings.moduleHref} (${error?.message ?? error}); `
          + 'requests are not protected until it loads. Serve it there or pass wasmUrl to installSealpost.');
        broadcast({ type: 'module-missing', url: settings.moduleHref });
      });
      event.waitUntil(Promise.all([precached, settings.skipWaiting ? self.skipWaiting() : null]));
      return true;
    },

    // activate is not a flush trigger: work kept in its waitUntil holds the worker in 'activating', and a
    // worker that is not active gets no fetch events (they would wait for the flush).
    handleActivate(event) {
      if (!settings.clientsClaim) return false;
      event.waitUntil(self.clients.claim());
      return true;
    },
  };

  const api = {
    flush: (queue) => wakeups.flushAll('api', settings.messageBudgetMs, queue),
    stats: () => messages.stats(),
    deliver: (envelope) => notifications.handlePush(envelope),
  };
  return { settings, parts, handlers, api };
}
