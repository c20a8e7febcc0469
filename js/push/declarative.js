/**
 * Declarative Web Push (W3C push-api PR #385; Safari 18.4+): a push message that is itself a notification,
 *
 *   {"web_push": 8030,
 *    "notification": {"title", "navigate", "body"?, "mutable": true, "data": {"sealpost": "<base64url envelope>"}},
 *    "mutable": true}
 *
 * so a browser that understands it shows the generic title/body even when no service worker runs, and a
 * worker that does run (a `pushnotification` event in WebKit, a `push` event elsewhere) opens the sealed
 * envelope in `data.sealpost` and shows the real message instead. `mutable` is written twice: the spec has it
 * at the top level, WebKit reads it inside `notification` (WebKit bug 296770); each ignores the other.
 *
 * The server builds the payload (declarativePayload, used by sealPush); the worker reads it back
 * (readDeclarative). This file owns the format on both sides.
 */
import { SealpostError } from '../errors.js';

/** The `web_push` member's value that marks a declarative push message. */
export const WEB_PUSH_MAGIC = 8030;
/** As for a sealed message's title. */
const MAX_TITLE_CHARS = 256;
/** A declarative payload fits in one 4,096-byte push message; longer text is not one. */
const MAX_PAYLOAD_CHARS = 8192;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function invalid(message) {
  return new SealpostError('invalid-argument', `declarative: ${message}`);
}

/**
 * The navigate URL a declarative message may carry: absolute, because WebKit parses `navigate` without a
 * base URL (a bare path makes Safari drop the whole message), https: (http: only on localhost and loopback
 * addresses, which browsers treat as secure), and without credentials. A path ('/inbox', never '//host') is
 * accepted when `origin` says where it lives.
 * @param {unknown} navigate
 * @param {unknown} origin
 * @returns {string} the absolute URL
 */
function navigateUrl(navigate, origin) {
  if (typeof navigate !== 'string' || navigate === '') throw invalid('navigate is required: the URL a click opens');
  let url;
  if (navigate.startsWith('/')) {
    if (navigate.startsWith('//')) throw invalid(`navigate ${navigate} names another host; give an absolute URL`);
    if (origin === undefined) {
      throw invalid(`navigate ${navigate} is a path: Safari parses navigate without a base URL, so give an `
        + 'absolute https URL, or declarative.origin (the app\'s origin) to resolve the path against');
    }
    url = new URL(navigate, secureOrigin(origin, 'origin'));
  } else {
    url = secureUrl(navigate, 'navigate');
  }
  if (url.username || url.password) throw invalid('navigate carries no credentials');
  return url.href;
}

function secureUrl(text, name) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`${name} is not a URL: ${text}`);
  }
  const loopback = url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !loopback) {
    throw invalid(`${name} must be an https URL (http only on localhost), not ${url.protocol}`);
  }
  return url;
}

function secureOrigin(origin, name) {
  if (typeof origin !== 'string') throw invalid(`${name} must be the app's origin, e.g. https://app.example`);
  const url = secureUrl(origin, name);
  if (url.origin !== origin.replace(/\/$/, '')) throw invalid(`${name} must be an origin only (${url.origin}), not ${origin}`);
  return url.origin;
}

/**
 * Checks `declarative` (sealPush's option) → {title, navigate, body?}; throws SealpostError
 * 'invalid-argument' naming what is wrong.
 * @param {{title: string, navigate: string, body?: string, origin?: string}} declarative
 */
export function checkDeclarative(declarative) {
  if (!declarative || typeof declarative !== 'object' || Array.isArray(declarative)) {
    throw invalid('must be an object {title, navigate, body?}');
  }
  const { title, navigate, body, origin } = declarative;
  if (typeof title !== 'string' || title.trim() === '' || title.length > MAX_TITLE_CHARS) {
    throw invalid(`title must be text of 1 to ${MAX_TITLE_CHARS} characters: what every device shows when the `
      + 'sealed message cannot be opened');
  }
  if (body !== undefined && typeof body !== 'string') throw invalid('body must be text when given');
  const checked = { title, navigate: navigateUrl(navigate, origin) };
  if (body !== undefined) checked.body = body;
  return checked;
}

/**
 * The declarative push message (JSON text) around `envelopeText` (base64url). Its length in UTF-8 is
 * `wrapperBytes(declarative) + envelopeText.length`.
 * @param {{title: string, navigate: string, body?: string}} declarative  from checkDeclarative
 * @param {string} envelopeText
 */
export function declarativePayload(declarative, envelopeText) {
  const notification = { title: declarative.title, navigate: declarative.navigate };
  if (declarative.body !== undefined) notification.body = declarative.body;
  notification.mutable = true;
  notification.data = { sealpost: envelopeText };
  return JSON.stringify({ web_push: WEB_PUSH_MAGIC, notification, mutable: true });
}

/** UTF-8 bytes of the payload without its envelope text. */
export function wrapperBytes(declarative) {
  return new TextEncoder().encode(declarativePayload(declarative, '')).length;
}

/**
 * A declarative push message as the worker reads it, or null when `text` is not one (then it is an
 * envelope, raw or base64url, for the PushReceiver). `envelope` is null when the message carries no
 * sealpost envelope; title, body and navigate are null when absent or not text.
 * @param {string} text
 * @returns {{title: string | null, body: string | null, navigate: string | null, envelope: string | null} | null}
 */
export function readDeclarative(text) {
  if (typeof text !== 'string' || text.length > MAX_PAYLOAD_CHARS) return null;
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return null;
  let message;
  try {
    message = JSON.parse(trimmed);
  } catch {
    return null;
  }
  if (!message || typeof message !== 'object' || message.web_push !== WEB_PUSH_MAGIC) return null;
  return fromNotification(message.notification);
}

/**
 * The same from a Notification object (WebKit's `pushnotification` event's proposedNotification, the spec's
 * PushEvent.notification) or the `notification` member of the JSON.
 * @param {unknown} notification
 */
export function fromNotification(notification) {
  const source = notification && typeof notification === 'object' ? notification : {};
  const text = (value) => (typeof value === 'string' && value !== '' ? value : null);
  const data = source.data && typeof source.data === 'object' ? source.data : {};
  return { title: text(source.title), body: text(source.body), navigate: text(source.navigate), envelope: text(data.sealpost) };
}
