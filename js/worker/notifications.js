/**
 * Push events and notification clicks: an envelope is opened and checked by the PushReceiver, shown
 * under the user's preferences, or answered with the fallback notification; a click focuses or opens a
 * same-origin window, or sends the `not-useful` feedback through an outbox.
 *
 * A declarative Web Push message (js/push/declarative.js) carries its envelope in notification.data.sealpost
 * and a generic notification around it. It arrives as a `push` event's JSON (Chromium, Firefox), as WebKit's
 * `pushnotification` event with the generic notification as `proposedNotification` (WebKit bug 296772: the
 * spec gives `push` a `notification` instead; both are read), or through sealpost:deliver. The envelope is
 * opened with the same checks; a failure shows the generic title and body, never the configured fallback,
 * and opens its navigate URL on click only if that passes the same same-origin check as a message's url.
 */
import { minutes } from './state.js';
import { errorInfo } from './events.js';
import { fromNotification, readDeclarative } from '../push/declarative.js';

/** Whether `date` (local time) falls in the quiet hours {start, end} ('HH:MM'; may wrap midnight). */
export function inQuietHours(quietHours, date = new Date()) {
  if (!quietHours) return false;
  const start = minutes(quietHours.start);
  const end = minutes(quietHours.end);
  if (start === null || end === null || start === end) return false;
  const now = date.getHours() * 60 + date.getMinutes();
  return start < end ? now >= start && now < end : now >= start || now < end;
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
 * What PushReceiver.open is given: text and bytes as they are (the receiver takes raw envelope bytes or
 * base64url text, as a string or as its UTF-8 bytes), a push event's PushMessageData as its bytes, and
 * no data as no bytes.
 */
function envelopeInput(data) {
  if (data === null || data === undefined) return new Uint8Array(0);
  if (typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data;
  return new Uint8Array(data.arrayBuffer()); // PushMessageData
}

const OPEN_BRACE = 0x7b;

/**
 * The declarative push message in `input` (what envelopeInput gave), or null: only text whose first
 * non-blank character is '{' is parsed (an envelope's first byte is 0x01, its base64url text starts 'AQ').
 */
function declarativeInput(input) {
  if (typeof input === 'string') return readDeclarative(input);
  const bytes = input instanceof ArrayBuffer ? new Uint8Array(input)
    : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  let first = 0;
  while (first < bytes.length && (bytes[first] === 0x20 || bytes[first] === 0x0a || bytes[first] === 0x0d
    || bytes[first] === 0x09)) first += 1;
  if (bytes[first] !== OPEN_BRACE) return null;
  return readDeclarative(new TextDecoder('utf-8', { fatal: false }).decode(bytes));
}

export class Notifications {
  /**
   * @param {{self: ServiceWorkerGlobalScope, settings: import('./config.js').Settings,
   *   receiver: () => Promise<any>, outboxes: () => Promise<Map<string, any>>,
   *   state: import('./state.js').WorkerState, flush: (trigger: string, queue: string) => Promise<object>,
   *   broadcast: (event: object) => void}} deps
   */
  constructor({ self, settings, receiver, outboxes, state, flush, broadcast }) {
    this.self = self;
    this.settings = settings;
    this.receiver = receiver;
    this.outboxes = outboxes;
    this.state = state;
    this.flush = flush;
    this.broadcast = broadcast;
  }

  /**
   * Shows the fallback notification (one shared tag); false when this context may not show any. A
   * declarative message's fallback is its own generic title and body, with its navigate URL as the click's
   * target only when it is same-origin (else a click opens nothing, and where a navigate URL is required,
   * WebKit's pushnotification, the worker's scope is given). @private
   */
  async showFallback(code, generic) {
    const { title: fallbackTitle, body: fallbackBody, ...options } = this.settings.push.fallback;
    let title = fallbackTitle;
    let body = fallbackBody;
    let data = { fallback: true, code };
    if (generic) {
      const url = generic.navigate ? this.sameOriginUrl(generic.navigate) : null;
      // The generic text as a whole: its title with its own body (or none), else the configured fallback's.
      if (generic.title) [title, body] = [generic.title, generic.body];
      data = { fallback: true, code, url };
      if (generic.requireNavigate) options.navigate = url ?? this.scopeUrl();
    }
    const shown = { ...options, ...(typeof body === 'string' ? { body } : {}), data };
    try {
      await this.self.registration.showNotification(title, shown);
      return true;
    } catch {
      return false;
    }
  }

  /** The worker's scope (its registration's, else its script's directory). @private */
  scopeUrl() {
    return this.self.registration?.scope ?? new URL('./', this.self.location.href).href;
  }

  /** The verdict on a message that is not shown as itself: broadcast first, then the fallback if it can be. @private */
  async rejected(code, id, generic = null) {
    this.broadcast({ type: 'push-rejected', code, ...(id ? { id } : {}), ...(generic ? { declarative: true } : {}) });
    return (await this.showFallback(code, generic)) ? { shown: 'fallback', code } : { shown: false, code };
  }

  /** Shows a valid message as the user's preferences and onMessage say; throws if it cannot be shown. @private */
  async show(message, { requireNavigate = false } = {}) {
    const prefs = await this.state.preferences();
    let options = notificationFor(message);
    let title = message.title;
    const { onMessage } = this.settings.push;
    if (typeof onMessage === 'function') {
      const custom = await onMessage(message);
      if (custom && typeof custom === 'object') {
        const { title: customTitle, ...rest } = custom;
        if (typeof customTitle === 'string' && customTitle) title = customTitle;
        options = { ...options, ...rest };
      }
    }
    const muted = message.category && prefs.mutedCategories.includes(message.category);
    const quiet = inQuietHours(prefs.quietHours, new Date(this.settings.now()));
    if (muted || quiet) options.silent = true;
    // WebKit refuses a notification shown in a pushnotification event without a navigate URL.
    if (requireNavigate && typeof options.navigate !== 'string') {
      options.navigate = this.sameOriginUrl(options.data?.url) ?? this.scopeUrl();
    }
    await this.self.registration.showNotification(title, options);
    this.broadcast({ type: 'push-shown', id: message.id, tag: options.tag ?? null, silent: options.silent === true,
      reason: muted ? 'muted-category' : quiet ? 'quiet-hours' : null });
    return { shown: true, tag: options.tag ?? null, silent: options.silent === true };
  }

  /**
   * Opens, checks and shows one envelope. The id is recorded as seen when the envelope opens (so two
   * concurrent deliveries show it once) and released again if no notification could be shown for it,
   * so a redelivery is not refused as `replayed`: a message is lost to neither order.
   * A declarative message (JSON text) is opened by openDeclarative.
   * @param {PushMessageData | Uint8Array | ArrayBuffer | string | null} data
   * @param {Notification | null} [proposed]  the spec's PushEvent.notification (a declarative message's)
   */
  async handlePush(data, proposed = null) {
    let input;
    try {
      input = envelopeInput(data);
    } catch (error) {
      return this.rejected(errorInfo(error).code);
    }
    // The spec's push event for a mutable declarative message also carries it as `notification`.
    const empty = typeof input === 'string' ? input.trim() === '' : input.byteLength === 0;
    const generic = declarativeInput(input) ?? (empty && proposed ? fromNotification(proposed) : null);
    if (generic) return this.openDeclarative(generic);
    return this.openAndShow(input, null);
  }

  /**
   * WebKit's `pushnotification` event: the declarative message's notification is `proposedNotification`;
   * what is shown during the event replaces it, and when nothing is (or the event ends first), WebKit shows
   * the proposed one itself.
   * @param {{proposedNotification?: Notification | null}} event
   */
  async handlePushNotification(event) {
    return this.openDeclarative({ ...fromNotification(event?.proposedNotification), requireNavigate: true });
  }

  /** A declarative message: its envelope opened as any other, its generic text the fallback. @private */
  async openDeclarative(generic) {
    if (!generic.envelope) return this.rejected('malformed', null, generic);
    return this.openAndShow(generic.envelope, generic);
  }

  /** @private */
  async openAndShow(input, generic) {
    let rx;
    let message;
    try {
      rx = await this.receiver();
      message = await rx.open(input);
    } catch (error) {
      return this.rejected(errorInfo(error).code, null, generic);
    }
    try {
      return await this.show(message, { requireNavigate: generic?.requireNavigate === true });
    } catch {
      await rx.release(message.id).catch(() => {});
      return this.rejected('display-failed', message.id, generic);
    }
  }

  /** @private */
  sameOriginUrl(url) {
    const { origin } = this.self.location;
    try {
      const target = new URL(typeof url === 'string' ? url : '/', origin);
      // Same origin, and a path that stays a path: '//host' would be an open redirect wherever it is reflected.
      if (target.origin !== origin || target.pathname.startsWith('//')) return null;
      return target.href;
    } catch {
      return null;
    }
  }

  /** @private */
  async focusOrOpen(url) {
    const { clients } = this.self;
    try {
      const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((client) => client.url === url);
      if (open) {
        await open.focus();
        this.broadcast({ type: 'notification-click', outcome: 'focused', url });
      } else {
        await clients.openWindow(url);
        this.broadcast({ type: 'notification-click', outcome: 'opened', url });
      }
    } catch (error) {
      this.broadcast({ type: 'notification-click', outcome: 'failed', url, code: error?.name ?? 'error' });
    }
  }

  /** POSTs {messageId, action, category} to push.feedback.url through its outbox, and flushes it. @private */
  async sendFeedback(data, action) {
    const { url, queue } = this.settings.push.feedback;
    if (!queue) {
      this.broadcast({ type: 'feedback-failed', code: 'closed', message: 'no outbox to send feedback through' });
      return;
    }
    try {
      const outbox = (await this.outboxes()).get(queue);
      const body = JSON.stringify({ messageId: data?.id ?? null, action, category: data?.category ?? null });
      const { id } = await outbox.enqueue(
        { url: new URL(url, this.self.location.origin).href, method: 'POST', headers: { 'Content-Type': 'application/json' }, body },
        { group: 'feedback' },
      );
      this.broadcast({ type: 'feedback-queued', queue, id, action, messageId: data?.id ?? null });
      await this.flush('feedback', queue);
    } catch (error) {
      this.broadcast({ type: 'feedback-failed', ...errorInfo(error) });
    }
  }

  /**
   * The browser replaced (or dropped) this device's push subscription (`pushsubscriptionchange`): subscribe
   * again with the old one's application server key when the event brings no new one, and POST
   * {subscription, publicKey, keyId} to push.subscriptionUrl through the feedback queue's outbox, so the app
   * server learns it even offline. Without a subscriptionUrl the change is only broadcast.
   * @param {{oldSubscription?: PushSubscription | null, newSubscription?: PushSubscription | null}} event
   */
  async subscriptionChanged(event) {
    let subscription = event.newSubscription ?? null;
    try {
      if (!subscription) {
        const applicationServerKey = event.oldSubscription?.options?.applicationServerKey ?? null;
        if (!applicationServerKey) {
          this.broadcast({ type: 'push-subscription-lost', code: 'no-key', message: 'no key to subscribe again with' });
          return;
        }
        subscription = await this.self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
      }
      const json = typeof subscription.toJSON === 'function' ? subscription.toJSON() : subscription;
      this.broadcast({ type: 'push-subscription-changed', pushService: new URL(json.endpoint).host });
      const { subscriptionUrl } = this.settings.push;
      const { queue } = this.settings.push.feedback;
      if (!subscriptionUrl || !queue) return;
      const rx = await this.receiver();
      const outbox = (await this.outboxes()).get(queue);
      const body = JSON.stringify({ subscription: json, publicKey: rx.publicKey, keyId: rx.keyId });
      await outbox.enqueue({ url: new URL(subscriptionUrl, this.self.location.origin).href, method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body }, { group: 'subscription' });
      await this.flush('pushsubscriptionchange', queue);
    } catch (error) {
      this.broadcast({ type: 'push-subscription-lost', ...errorInfo(error) });
    }
  }

  /**
   * A notification click: closes the notification; returns the work to keep the event alive for, or null.
   * @param {NotificationEvent} event
   * @returns {Promise<void> | null}
   */
  click(event) {
    const { notification } = event;
    const data = notification.data ?? {};
    notification.close();
    if (this.settings.push && event.action === 'not-useful') return this.sendFeedback(data, 'not-useful');
    // A declarative fallback whose navigate URL was refused opens nothing.
    const url = data.url === null ? null : this.sameOriginUrl(data.url);
    if (!url) {
      this.broadcast({ type: 'notification-click', outcome: 'refused', url: String(data.url) });
      return null;
    }
    return this.focusOrOpen(url);
  }
}
