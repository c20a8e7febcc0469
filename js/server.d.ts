// sealpost/server: sealing and sending push notifications from a Node (>= 20) app server.
import type { Agent } from 'node:https';

export declare const DEFAULT_MAX_ENVELOPE_BYTES: 3000;
export declare const MAX_ENVELOPE_CEILING: 3993;

export interface SignerKeyPair {
  /** Ed25519 public key, base64url: goes into the service worker's trustedSigners. */
  publicKey: string;
  /** Ed25519 secret key (libsodium's 64-byte seed ‖ public key), base64url: keep it on the server. */
  secretKey: string;
}

export interface PushMessageInput {
  title: string;
  id?: string;
  iat?: number;
  ttl?: number;
  body?: string;
  tag?: string;
  icon?: string;
  badge?: string;
  image?: string;
  url?: string;
  category?: string;
  actions?: Array<{ action: string; title: string; icon?: string }>;
  silent?: boolean;
  requireInteraction?: boolean;
  renotify?: boolean;
  data?: unknown;
  [field: string]: unknown;
}

/**
 * The generic notification of a declarative Web Push message (Safari 18.4+ shows it with no service worker
 * running; the worker replaces it with the opened message).
 */
export interface DeclarativeOptions {
  /** Shown when the sealed message cannot be opened (or no worker runs): 1 to 256 characters. */
  title: string;
  /** Opened on click: an absolute https URL (http only on localhost), or a path ('/inbox') with `origin`. */
  navigate: string;
  body?: string;
  /** The app's origin (https://app.example), to resolve a path in `navigate` against. */
  origin?: string;
}

export interface SealPushOptions {
  recipientPublicKey: string | Uint8Array;
  message: PushMessageInput | string;
  signer?: { secretKey: string | Uint8Array };
  /** The envelope's limit (default 3000, at most 3993); with `declarative`, the whole JSON payload's. */
  maxEnvelopeBytes?: number;
  now?: number | (() => number);
  /**
   * Return a declarative Web Push message (its JSON text as UTF-8 bytes) with the envelope in
   * `notification.data.sealpost` (base64url), instead of the bare envelope.
   */
  declarative?: DeclarativeOptions;
}

export interface PushSubscriptionJSON {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface SendOptions {
  vapidDetails: { subject: string; publicKey: string; privateKey: string };
  TTL?: number;
  urgency?: 'very-low' | 'low' | 'normal' | 'high';
  topic?: string;
  /** ms; default DEFAULT_SEND_TIMEOUT_MS (15 s). */
  timeout?: number;
  /** Send only to these hosts ('*.example.com' matches subdomains); default: any public host. */
  pushServiceHosts?: string[];
  /** Let endpoints reach loopback and private addresses: for tests and private push services only. */
  allowPrivateAddresses?: boolean;
  agent?: Agent;
  headers?: Record<string, string>;
}

export interface SendResult {
  status: 'sent' | 'expired' | 'retry' | 'rejected';
  /** 0 when the push service never answered. */
  statusCode: number;
  /** Seconds, from Retry-After (status 'retry' only). */
  retryAfter?: number;
  error?: string;
}

export interface Device {
  subscription: PushSubscriptionJSON;
  /** The device's PushReceiver.publicKey. */
  publicKey: string | Uint8Array;
  [field: string]: unknown;
}

export const DEFAULT_SEND_TIMEOUT_MS: number;
/** Push services whose error answers are passed on in `error` (with `pushServiceHosts`). */
export const KNOWN_PUSH_SERVICES: readonly string[];

export function generateSignerKeyPair(): SignerKeyPair;
/** The envelope, or with `declarative` the declarative push message's UTF-8 JSON: either goes to sendSealedPush as it is. */
export function sealPush(options: SealPushOptions): Buffer;
export function classifyPushStatus(statusCode: number): SendResult['status'];
export function sendSealedPush(subscription: PushSubscriptionJSON, envelope: Uint8Array, options?: SendOptions): Promise<SendResult>;
export function sendToMany<D extends Device>(devices: D[], message: PushMessageInput, options: SendOptions & {
  signer?: { secretKey: string | Uint8Array };
  concurrency?: number;
  maxEnvelopeBytes?: number;
  now?: number | (() => number);
  /** Send each device a declarative Web Push message around its envelope. */
  declarative?: DeclarativeOptions;
}): Promise<Array<SendResult & { device: D; code?: string }>>;
export function generateVAPIDKeys(): { publicKey: string; privateKey: string };

// Idempotency-Key (js/server/idempotency.js)

/** 8 days: longer than the outbox's default maxAgeMs (7 days). */
export declare const DEFAULT_IDEMPOTENCY_TTL_SECONDS: number;

export interface StoredResponse {
  status: number;
  /** content-type and the replayHeaders the handler set, lower-case names. */
  headers: Array<[string, string]>;
  body: Uint8Array;
}

export type ClaimState =
  | { state: 'claimed' }
  | { state: 'running'; fingerprint: string }
  | { state: 'done'; fingerprint: string; response: StoredResponse };

/** Where keys, claims and answers are kept; memoryIdempotencyStore and redisIdempotencyStore are two. */
export interface IdempotencyStore {
  /** Claims `key` for `lockMs` unless it is claimed or answered already. */
  claim(key: string, claim: { token: string; fingerprint: string }, lockMs: number): Promise<ClaimState>;
  /** Replaces this token's claim with the answer, kept `ttlMs`; false when the claim is no longer this token's. */
  complete(key: string, token: string, result: { fingerprint: string; response: StoredResponse }, ttlMs: number): Promise<boolean>;
  /** Drops this token's claim (after a 5xx). */
  release(key: string, token: string): Promise<void>;
}

export interface IdempotencyOptions {
  /** Default: a memoryIdempotencyStore() of this middleware's own. */
  store?: IdempotencyStore;
  /** Default 'Idempotency-Key'. */
  header?: string;
  /** How long an answer is replayed; default DEFAULT_IDEMPOTENCY_TTL_SECONDS (8 days). */
  ttlSeconds?: number;
  /** Default ['POST', 'PUT', 'PATCH', 'DELETE']; other methods pass through. */
  methods?: string[];
  /** Answer 400 to a guarded method without the header; default false (such requests pass through). */
  required?: boolean;
  /** How long a run's claim holds before a retry may run the handler again; default 60. */
  lockSeconds?: number;
  /** Response headers stored and replayed besides content-type (e.g. ['location']). */
  replayHeaders?: string[];
  /** Larger request bodies are answered 413; default 1 MiB. */
  maxBodyBytes?: number;
  /** Keys are looked up per scope (e.g. the authenticated user), so one client cannot meet another's. */
  scope?: (request: any) => string;
  /** Store failures (the request is answered 503); default console.error. */
  onError?: (error: unknown) => void;
}

/** Connect / Express / Node http middleware; the handler finds the key in req.idempotencyKey. */
export function idempotency(options?: IdempotencyOptions): (req: any, res: any, next: (error?: unknown) => unknown) => Promise<unknown>;
/** A Fetch-API handler with the same rules; it gets the key (or null) as its second argument. */
export function withIdempotency<R extends unknown[]>(
  handler: (request: Request, key: string | null, ...rest: R) => Response | Promise<Response>,
  options?: IdempotencyOptions,
): (request: Request, ...rest: R) => Promise<Response>;
/** The key in a field value (an sf-string or bare text), or null when it is not 1 to 255 characters without controls. */
export function parseIdempotencyKey(value: string): string | null;
export function memoryIdempotencyStore(options?: { maxEntries?: number; now?: () => number }): IdempotencyStore & { readonly size: number };
/** A connected node-redis (v4+) or ioredis client. */
export function redisIdempotencyStore(client: unknown, options?: { prefix?: string }): IdempotencyStore;

// Fan-out over BullMQ (js/server/push-queue.js; bullmq is imported on first use)

/** 'sealpost-push'. */
export declare const DEFAULT_PUSH_QUEUE: string;

export interface PushQueueOptions {
  /** What BullMQ takes: an ioredis client or its options, or a connected node-redis client. */
  connection: unknown;
  /** Default DEFAULT_PUSH_QUEUE. */
  name?: string;
  /** Sends per device before a `retry` outcome fails the job; default 8. */
  attempts?: number;
  /** The first retry's delay (ms) when the push service gave no Retry-After; doubles each time; default 2000. */
  backoffMs?: number;
  /** BullMQ job options over the defaults (completed jobs kept a day, failed ones a week). */
  jobOptions?: Record<string, unknown>;
  queueOptions?: Record<string, unknown>;
}

export interface PushQueue {
  /** BullMQ's Queue. */
  queue: any;
  /** One job per device, ids `<batchId>.<deviceId>` (adding a batch again adds nothing); the message's id and iat are fixed here. */
  add<D extends Device>(devices: D[], message: PushMessageInput, options?: {
    batchId?: string;
    deviceId?: (device: D, index: number) => string;
    now?: number;
    /** Each job sends a declarative Web Push message around its envelope (checked here). */
    declarative?: DeclarativeOptions;
  }): Promise<{ batchId: string; messageId: string; jobs: number }>;
  close(): Promise<void>;
}

export type PushWorkerOptions = SendOptions & {
  connection: unknown;
  name?: string;
  signer?: { secretKey: string | Uint8Array };
  /** The subscription is gone (404, 410): delete it here; the job completes. */
  onExpired?: (device: Device, result: SendResult) => unknown;
  /** The job fails for good after this (a 4xx, or a device that cannot be sealed to or sent to). */
  onRejected?: (device: Device, result: SendResult & { code?: string }) => unknown;
  /** Jobs at once in this worker; default 16. */
  concurrency?: number;
  /** The longest backoff between retries (ms); default one hour. */
  maxBackoffMs?: number;
  maxEnvelopeBytes?: number;
  /** BullMQ Worker options over these. */
  workerOptions?: Record<string, unknown>;
};

export function createPushQueue(options: PushQueueOptions): Promise<PushQueue>;
export function pushWorker(options: PushWorkerOptions): Promise<{ worker: any; close(): Promise<void> }>;
