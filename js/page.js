/**
 * sealpost/page: `connectSealpost()` connects a page to the service worker that runs installSealpost.
 *
 * - Asks the worker to flush on `online` and when the page becomes visible (`visibilitychange`).
 * - The event stream: BroadcastChannel('sealpost') messages, re-dispatched as events of their `type`
 *   (and as 'event' for all of them), plus `on(fn)` for a plain callback.
 * - The message protocol (flush, stats, push-key, deliver, preferences) with MessageChannel replies.
 * - `subscribe()`: asks for notification permission only when called, subscribes with the VAPID key
 *   (raced with a timeout: where no push service is reachable, the browser's promise never settles) and
 *   returns what the app server needs: {subscription, publicKey, keyId}.
 *
 * Errors are SealpostError with a stable code; the page-only codes are 'no-service-worker', 'timeout',
 * 'push-unsupported', 'permission-denied' and 'push-unavailable'.
 */
import { SealpostError } from './errors.js';
import { fromBase64url } from './base64url.js';

/**
 * @typedef {{sent: number, retrying: number, dead: number, remaining: number, nextAttemptAt: number | null,
 *   throttled?: boolean, queues: Record<string, object>}} FlushSummary
 * @typedef {{mutedCategories: string[], quietHours: {start: string, end: string} | null}} Preferences
 */

const CHANNEL = 'sealpost';

function withTimeout(promise, ms, onTimeout) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class SealpostConnection extends EventTarget {
  /**
   * @param {{serviceWorker?: ServiceWorkerContainer, flushOn?: string[], timeoutMs?: number,
   *   window?: Window, document?: Document}} [options]
   */
  constructor(options = {}) {
    super();
    this.container = options.serviceWorker ?? globalThis.navigator?.serviceWorker ?? null;
    this.timeoutMs = options.timeoutMs ?? 15000;
    this.window = options.window ?? globalThis.window;
    this.document = options.document ?? globalThis.document;
    /** @type {Set<(event: object) => void>} */
    this.listeners = new Set();
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null;
    if (this.channel) {
      this.channel.onmessage = (event) => this.deliverEvent(event.data);
    }
    const flushOn = options.flushOn ?? ['online', 'visibilitychange'];
    this.onOnline = () => this.flushQuietly('online');
    this.onVisibility = () => {
      if (this.document?.visibilityState === 'visible') this.flushQuietly('visible');
    };
    if (flushOn.includes('online')) this.window?.addEventListener('online', this.onOnline);
    if (flushOn.includes('visibilitychange')) this.document?.addEventListener('visibilitychange', this.onVisibility);
  }

  deliverEvent(message) {
    if (!message || typeof message.type !== 'string') return;
    let data = message;
    if (data.source !== 'sealpost') {
      // An Outbox used directly in a page or worker broadcasts {type: 'sealpost:<event>', ...}.
      if (!data.type.startsWith('sealpost:') || 'source' in data) return;
      data = { ...data, source: 'sealpost', type: data.type.slice('sealpost:'.length) };
    }
    for (const fn of this.listeners) {
      try { fn(data); } catch (error) { setTimeout(() => { throw error; }); }
    }
    this.dispatchEvent(new CustomEvent(data.type, { detail: data }));
    this.dispatchEvent(new CustomEvent('event', { detail: data }));
  }

  /**
   * Calls `fn` with every sealpost event (from the worker and from other pages).
   * @param {(event: {type: string, [field: string]: unknown}) => void} fn
   * @returns {() => void} stops the calls
   */
  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The worker to talk to: the page's controller, else the active worker of the ready registration. */
  async worker() {
    if (!this.container) throw new SealpostError('no-service-worker', 'this page has no service worker support');
    if (this.container.controller) return this.container.controller;
    const registration = await withTimeout(this.container.ready, this.timeoutMs,
      () => new SealpostError('no-service-worker', 'no service worker is registered for this page'));
    if (!registration.active) throw new SealpostError('no-service-worker', 'the service worker is not active');
    return registration.active;
  }

  /**
   * Sends a protocol message and resolves with the worker's reply.
   * @param {{type: string, [field: string]: unknown}} message
   * @param {Transferable[]} [transfer]
   */
  async request(message, transfer = []) {
    const worker = await this.worker();
    const { port1, port2 } = new MessageChannel();
    const reply = new Promise((resolve, reject) => {
      port1.onmessage = (event) => {
        port1.close();
        const data = event.data;
        if (data && typeof data === 'object' && data.error && typeof data.error.code === 'string') {
          reject(new SealpostError(data.error.code, data.error.message));
        } else {
          resolve(data);
        }
      };
    });
    worker.postMessage(message, [port2, ...transfer]);
    return withTimeout(reply, this.timeoutMs,
      () => new SealpostError('timeout', `the service worker did not answer ${message.type} in ${this.timeoutMs} ms`));
  }

  /**
   * Asks the worker to send what is due now (every queue, or one). `networkBack`: the page saw the network
   * come back, so entries waiting out a backoff after a network failure are due too (the `online` listener
   * says so). @returns {Promise<FlushSummary>}
   */
  flush(queue, { networkBack = false } = {}) {
    const message = { type: 'sealpost:flush' };
    if (queue !== undefined) message.queue = queue;
    if (networkBack) message.networkBack = true;
    return this.request(message);
  }

  flushQuietly(reason) {
    this.flush(undefined, { networkBack: reason === 'online' }).then(
      (summary) => this.deliverEvent({ ...summary, source: 'sealpost', type: 'page-flush', reason }),
      () => {},
    );
  }

  /** @returns {Promise<{queues: Record<string, {pending: number, inflight: number, dead: number, nextAttemptAt: number | null}>}>} */
  stats() {
    return this.request({ type: 'sealpost:stats' });
  }

  /** The current preferences, after applying `set` if given. @returns {Promise<Preferences>} */
  preferences(set) {
    return this.request(set === undefined ? { type: 'sealpost:preferences' } : { type: 'sealpost:preferences', set });
  }

  /** This device's push key, to send to the app server. @returns {Promise<{publicKey: string, keyId: string}>} */
  pushKey() {
    return this.request({ type: 'sealpost:push-key' });
  }

  /**
   * One queued entry as Outbox.list() describes it (method, URL, state, attempts; never headers or body).
   * @param {string} queue
   * @param {string} id
   * @returns {Promise<Record<string, unknown> | null>}
   */
  inspect(queue, id) {
    return this.request({ type: 'sealpost:inspect', queue, id });
  }

  /**
   * Hands a sealed envelope to the worker as if a push had carried it (for simulated delivery).
   * @param {Uint8Array | ArrayBuffer | string} envelope  raw bytes or base64url text
   * @returns {Promise<{shown: true, tag: string | null, silent: boolean} | {shown: 'fallback' | false, code: string}>}
   */
  deliver(envelope) {
    return this.request({ type: 'sealpost:deliver', envelope });
  }

  /**
   * Subscribes this device to push. Asks for notification permission (call it from a user action), then
   * subscribes with the VAPID key, at most `timeoutMs` long.
   * @param {{vapidPublicKey: string, timeoutMs?: number}} options
   * @returns {Promise<{subscription: PushSubscriptionJSON, publicKey: string, keyId: string}>}
   */
  async subscribe(options) {
    const vapid = fromBase64url(options?.vapidPublicKey ?? '');
    if (!vapid || vapid.length !== 65) {
      throw new SealpostError('invalid-argument', 'vapidPublicKey must be the base64url P-256 public key (65 bytes)');
    }
    const timeoutMs = options.timeoutMs ?? 10000;
    const NotificationApi = globalThis.Notification;
    if (!this.container || typeof NotificationApi === 'undefined') {
      throw new SealpostError('push-unsupported', 'this browser has no service worker notifications');
    }
    const registration = await withTimeout(this.container.ready, this.timeoutMs,
      () => new SealpostError('no-service-worker', 'no service worker is registered for this page'));
    if (!registration.pushManager) throw new SealpostError('push-unsupported', 'this browser has no Push API');
    const permission = NotificationApi.permission === 'granted' ? 'granted' : await NotificationApi.requestPermission();
    if (permission !== 'granted') {
      throw new SealpostError('permission-denied', `notification permission is ${permission}`);
    }
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription.options?.applicationServerKey, vapid)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    if (!subscription) {
      subscription = await withTimeout(
        registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: vapid }),
        timeoutMs,
        () => new SealpostError('push-unavailable',
          `no push service answered within ${Math.round(timeoutMs / 1000)} s (offline, blocked, or none in this browser)`),
      ).catch((error) => {
        if (error instanceof SealpostError) throw error;
        throw new SealpostError('push-unavailable', `the push service refused the subscription: ${error.message}`,
          { cause: error });
      });
    }
    const { publicKey, keyId } = await this.pushKey();
    return { subscription: subscription.toJSON(), publicKey, keyId };
  }

  /** Removes this device's push subscription; resolves with whether there was one. */
  async unsubscribe() {
    if (!this.container) return false;
    const registration = await withTimeout(this.container.ready, this.timeoutMs,
      () => new SealpostError('no-service-worker', 'no service worker is registered for this page'));
    const subscription = await registration.pushManager?.getSubscription();
    if (!subscription) return false;
    return subscription.unsubscribe();
  }

  /** Stops listening (events, online, visibilitychange). */
  close() {
    this.window?.removeEventListener('online', this.onOnline);
    this.document?.removeEventListener('visibilitychange', this.onVisibility);
    this.channel?.close();
    this.listeners.clear();
  }
}

function sameKey(buffer, bytes) {
  if (!buffer) return false;
  const a = new Uint8Array(buffer);
  return a.length === bytes.length && a.every((b, i) => b === bytes[i]);
}

/**
 * Connects this page to sealpost's service worker.
 * @param {ConstructorParameters<typeof SealpostConnection>[0]} [options]
 * @returns {SealpostConnection}
 */
export function connectSealpost(options) {
  return new SealpostConnection(options);
}
