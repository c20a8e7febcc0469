/** sealpost/sw: wires the outbox and the sealed-push receiver to a service worker's events. */
import type { FlushSummary, QueueStats, DeliverResult, Preferences, WakeupStats, WorkerStats } from './worker/protocol.js';
import type { OutboxOptions, RetryPolicy } from './index.js';

export type { FlushSummary, QueueStats, DeliverResult, Preferences, WakeupStats, WorkerStats };

export type RouteMatch =
  | { method?: string; pathname?: string | RegExp; origin?: string }
  | ((request: Request) => boolean);

/** An outbox's options in the worker: Outbox.open's (all but its name), and the route's own. */
export interface OutboxRouteOptions extends Omit<OutboxOptions, 'name'> {
  /** Also queue when the network answers one of these statuses (e.g. [503]). Default: []. */
  queueOnStatus?: number[];
  ordering?: 'fifo' | 'independent';
  /** The fifo group of a routed request (read its headers or URL, not its body); the default group when omitted. */
  group?: (request: Request) => string | null | undefined;
  retry?: RetryPolicy;
  /** Default 'Idempotency-Key' (a key the request already carries is kept); null disables. */
  idempotencyHeader?: string | null;
}

export interface OutboxRoute extends OutboxRouteOptions {
  /** The queue's name (an IndexedDB-backed Outbox); its sync tag is `sealpost:<name>`. */
  name: string;
  /** Which requests go network-first through this queue; none when omitted. */
  match?: RouteMatch;
}

export interface PushWiring {
  /** base64url Ed25519 public keys; unsigned messages are rejected. Required unless allowUnsigned is true. */
  trustedSigners?: string[];
  /** Accept unsigned envelopes (no trustedSigners): an explicit choice. */
  allowUnsigned?: boolean;
  maxSkewSeconds?: number;
  /** The notification shown when an envelope fails a check (one shared tag, so they collapse). */
  fallback?: { title?: string; body?: string; tag?: string; icon?: string; badge?: string };
  /** May return notification options (and `title`) to merge, or null/undefined for the defaults. */
  onMessage?: (message: Record<string, unknown>) => Record<string, unknown> | null | undefined
    | Promise<Record<string, unknown> | null | undefined>;
  /** Where the `not-useful` action is POSTed, through which outbox. Default: '/api/feedback', the first outbox. */
  feedback?: { url?: string; queue?: string };
  /**
   * Where the worker POSTs `{subscription, publicKey, keyId}` (JSON, through the feedback queue's outbox) when
   * the browser replaces the push subscription (`pushsubscriptionchange`). Default: none (only broadcast).
   */
  subscriptionUrl?: string | null;
  [option: string]: unknown;
}

export interface SealpostWorkerConfig {
  /** Where sealpost.wasm is; default: beside the module (module build) or the worker script (classic build). */
  wasmUrl?: string | URL;
  outboxes?: OutboxRoute[];
  push?: PushWiring | null;
  /** Call skipWaiting() at install / clients.claim() at activate. Default false. */
  skipWaiting?: boolean;
  clientsClaim?: boolean;
  /** A sync event's budget (Chrome ends one after 3 minutes). Default 120000. */
  syncBudgetMs?: number;
  /** The first event of a worker lifetime flushes for at most this long. Default 20000. */
  startupBudgetMs?: number;
  /** Budget of a flush asked for by a page. Default 30000. */
  messageBudgetMs?: number;
  /** Flushes allowed in any 60 s window, all sources together. Default 12. */
  maxWakeupsPerMinute?: number;
  /** The shortest wait between two flushes inside one sync event. Default 1000. */
  minWaitMs?: number;
  /** On lastChance, the sync tag is registered again at most once per this interval. Default 60000. */
  rearmIntervalMs?: number;
  /** A routed request that has no answer after this is queued. Default 10000. */
  networkTimeoutMs?: number;
  /** `sealpost:inspect` also returns an entry's body as text (first 4,096 characters); for demos and debugging. Default false. */
  inspectBodies?: boolean;
  /** Storage for the outboxes, the push receiver and the preferences (default: the worker's own). */
  indexedDB?: IDBFactory;
  /** The IDBKeyRange of the same implementation as `indexedDB`. */
  IDBKeyRange?: typeof IDBKeyRange;
  /**
   * The worker's clock in ms: the wake-up limit, budgets, deadlines, re-arm times, the outboxes' schedules
   * (passed to Outbox.open as `now`), event stamps and quiet hours. Default `() => Date.now()`.
   */
  now?: () => number;
}

export interface SealpostApi {
  /** Flushes every queue (or one), as a page's `sealpost:flush` does. */
  flush(queue?: string): Promise<FlushSummary>;
  stats(): Promise<WorkerStats>;
  /** Opens and shows an envelope as a push event would (raw bytes, base64url text, or a declarative message's JSON). */
  deliver(envelope: Uint8Array | ArrayBuffer | string): Promise<DeliverResult>;
}

/**
 * WebKit's PushNotificationEvent, which TypeScript's lib does not have: `proposedNotification` is the
 * notification the declarative message describes; `waitUntil` is used when present.
 */
export interface PushNotificationEventLike {
  readonly proposedNotification: Notification | { title?: string; body?: string; navigate?: string; data?: unknown } | null;
  waitUntil?(promise: Promise<unknown>): void;
}

/**
 * sealpost's handler of each service-worker event. Each returns whether the event was sealpost's:
 * `handleFetch` whether it called `event.respondWith` (when false the request is the caller's to answer).
 */
export interface SealpostHandlers {
  handleFetch(event: FetchEvent): boolean;
  handleSync(event: ExtendableEvent & { tag: string; lastChance?: boolean }): boolean;
  handlePeriodicSync(event: ExtendableEvent & { tag: string }): boolean;
  handlePush(event: PushEvent): boolean;
  /**
   * WebKit's `pushnotification` event (Safari 18.4+, a mutable declarative Web Push message): opens the
   * envelope in `proposedNotification.data.sealpost` and shows it, else the proposed notification's text.
   */
  handlePushNotification(event: PushNotificationEventLike): boolean;
  handlePushSubscriptionChange(event: ExtendableEvent & { oldSubscription?: PushSubscription | null;
    newSubscription?: PushSubscription | null }): boolean;
  handleNotificationClick(event: NotificationEvent): boolean;
  handleMessage(event: ExtendableMessageEvent): boolean;
  handleInstall(event: ExtendableEvent): boolean;
  handleActivate(event: ExtendableEvent): boolean;
}

/**
 * The handlers, for a worker that adds its own listeners; call once at the top level of the worker script,
 * and add the listeners that call them there too.
 */
export function createSealpost(self: ServiceWorkerGlobalScope | typeof globalThis, config: SealpostWorkerConfig):
  SealpostHandlers & SealpostApi;

/** createSealpost, and a listener for each event; call once at the top level of the worker script. */
export function installSealpost(self: ServiceWorkerGlobalScope | typeof globalThis, config: SealpostWorkerConfig):
  SealpostApi;

/** Whether `date` (local time) is within quiet hours {start, end} ('HH:MM', may wrap midnight). */
export function inQuietHours(quietHours: Preferences['quietHours'], date?: Date): boolean;

/** Validates an update and returns the merged preferences; throws SealpostError('invalid-argument'). */
export function mergePreferences(current: Partial<Preferences>, update: Partial<Preferences>): Preferences;
