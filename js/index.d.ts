/** A failure with a stable machine-readable code (see docs/errors.md). */
export class SealpostError extends Error {
  constructor(code: string, message?: string, details?: { cause?: unknown; [key: string]: unknown });
  readonly name: 'SealpostError';
  readonly code: string;
  readonly status?: number;
}

export interface LoadOptions {
  /** Where sealpost.wasm is; default: dist/sealpost.wasm beside the package's js/ folder. */
  wasmUrl?: string | URL;
  /** The module's bytes, if you have them already. */
  wasmBinary?: BufferSource;
  /** A compiled module, if you have one already. */
  wasmModule?: WebAssembly.Module;
  /** Fetches `wasmUrl` instead of `fetch` (e.g. from Cache Storage first); the loader compiles the response. */
  fetchModule?: (url: URL) => Promise<Response>;
}

/** Loads and compiles sealpost.wasm once per worker lifetime; rejects with code 'wasm-load-failed'. */
export function ready(options?: LoadOptions): Promise<void>;

/** base64url without padding. */
export function toBase64url(bytes: Uint8Array): string;
/** Decodes base64url (padding optional); null if the text is not base64url. */
export function fromBase64url(text: string): Uint8Array | null;

// ---------------------------------------------------------------- outbox

/** Retry policy (every field optional; validated in C++ at Outbox.open, 'invalid-policy' names the field). */
export interface RetryPolicy {
  baseDelayMs?: number;
  factor?: number;
  maxDelayMs?: number;
  jitter?: 'full' | 'equal' | 'none';
  maxAttempts?: number;
  maxAgeMs?: number;
  retryOn?: number[];
  honorRetryAfter?: boolean;
  requestTimeoutMs?: number;
}

/** Where keys are kept at rest; the default wraps them with a non-extractable WebCrypto AES-GCM key. */
export interface KeyStore {
  load(purpose: string): Promise<Uint8Array | null>;
  store(purpose: string, bytes: Uint8Array): Promise<void>;
  delete(purpose: string): Promise<void>;
  purposes?(prefix?: string): Promise<string[]>;
  destroy?(): Promise<void>;
  close?(): void;
}

export declare class WebCryptoKeyStore implements KeyStore {
  static open(options?: { indexedDB?: IDBFactory; name?: string; crypto?: Crypto }): Promise<WebCryptoKeyStore>;
  load(purpose: string): Promise<Uint8Array | null>;
  store(purpose: string, bytes: Uint8Array): Promise<void>;
  delete(purpose: string): Promise<void>;
  purposes(prefix?: string): Promise<string[]>;
  destroy(): Promise<void>;
  close(): void;
}

export type EntryState = 'pending' | 'inflight' | 'dead';

export interface EntryInfo {
  id: string;
  queue: string;
  state: EntryState;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  /**
   * A coarse code: 'network', 'timeout', 'http-503', 'max-attempts', 'expired', 'record-tampered', 'key-lost',
   * 'unsupported-version', ...
   */
  lastError: string | null;
  /** Sealed bytes at rest. */
  size: number;
}

export interface ListedEntry extends EntryInfo {
  method?: string;
  url?: string;
  metadata?: unknown;
  /**
   * Set when the record cannot be opened: 'record-tampered', 'key-lost', or 'unsupported-version' (a record
   * written by sealpost 0.1.0).
   */
  error?: string;
}

export interface OutboxOptions {
  name: string;
  ordering?: 'fifo' | 'independent';
  retry?: RetryPolicy;
  /** Default 'Idempotency-Key' (a key the queued request already carries is kept); null disables. */
  idempotencyHeader?: string | null;
  maxEntries?: number;
  maxBytes?: number;
  beforeReplay?: (request: Request, entry: EntryInfo) => Request | Promise<Request>;
  indexedDB?: IDBFactory;
  IDBKeyRange?: typeof IDBKeyRange;
  /** The IndexedDB database; default 'sealpost-outbox'. */
  database?: string;
  keyStore?: KeyStore;
  now?: () => number;
  fetch?: typeof fetch;
  /** Web Locks (default navigator.locks); null uses an IndexedDB lease row. */
  locks?: LockManager | null;
  /** Post events to BroadcastChannel('sealpost'); default true where it exists. */
  broadcast?: boolean;
  wasmUrl?: string | URL;
}

export interface FlushOptions {
  /** Absolute time on the outbox clock (ms); no attempt starts after it. Default now() + 150000. */
  deadline?: number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /**
   * The network is known to be back (the browser's `online` event): entries waiting out a backoff after a
   * network failure or timeout are due now; delays the server asked for (Retry-After, 5xx/429) still hold.
   */
  networkBack?: boolean;
}

export interface FlushResult {
  sent: number;
  retrying: number;
  dead: number;
  remaining: number;
  nextAttemptAt: number | null;
  /** Another context was draining the queue; nothing was sent. */
  busy?: boolean;
}

export type RequestLike = Request | ({ url: string | URL } & RequestInit);

/** What each Outbox event carries in `event.detail` (ids, states, codes, counts and times, never content). */
export interface OutboxEventMap {
  enqueued: { queue: string; id: string; state: 'pending' | 'inflight'; seq?: number; requeued?: boolean };
  sent: { queue: string; id: string; attempts: number; status: number };
  'retry-scheduled': { queue: string; id: string; attempts: number; code: string; nextAttemptAt: number };
  'dead-lettered': { queue: string; id: string; attempts: number; code: string };
  drained: { queue: string; sent: number; dead: number };
  /**
   * The database had to be created again while the outbox was open (the site's data was cleared): `lost`
   * entries (dead letters included; as this outbox last saw the queue) went with it; new keys were made.
   */
  'storage-lost': { queue: string; database: string; lost: number };
}

export declare class Outbox extends EventTarget {
  addEventListener<K extends keyof OutboxEventMap>(type: K,
    listener: (event: CustomEvent<OutboxEventMap[K]>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof OutboxEventMap>(type: K,
    listener: (event: CustomEvent<OutboxEventMap[K]>) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions): void;
  static open(options: OutboxOptions): Promise<Outbox>;
  readonly name: string;
  enqueue(request: RequestLike, options?: { group?: string; metadata?: unknown }): Promise<{ id: string }>;
  /**
   * Stores a request its caller sends at once (the fetch route): in flight under a lease of `leaseMs`, or,
   * with fifo ordering and a live entry of its group already queued, pending (and durable) with
   * `behind: true`. An entry in flight may be written with relaxed durability: release() makes it durable
   * before the caller says it is queued.
   */
  admit(request: Request, options: { group?: string; leaseMs: number }): Promise<{ id: string; behind: boolean; leaseUntil: number }>;
  /** Gives back admit()'s lease after a failed attempt: the entry is pending, due at once, and durable. */
  release(id: string, leaseUntil: number, group?: string): Promise<boolean>;
  /** Removes an answered entry admit() stored; until then it does not hold back its group. */
  settle(id: string): Promise<boolean>;
  flush(options?: FlushOptions): Promise<FlushResult>;
  size(): Promise<number>;
  stats(): Promise<{ pending: number; inflight: number; dead: number; nextAttemptAt: number | null }>;
  list(): Promise<ListedEntry[]>;
  deadLetters(): Promise<ListedEntry[]>;
  /** One entry as list() describes it; null when it is not in this queue. */
  entry(id: string): Promise<ListedEntry | null>;
  /** The queued request, decrypted, as a replay would send it; null when the entry is gone. */
  request(id: string): Promise<Request | null>;
  /** The entry with the first maxBytes (default 4096) of its body; only that much is decrypted. */
  preview(id: string, maxBytes?: number): Promise<(ListedEntry & { body: Uint8Array; bodySize: number }) | null>;
  /** The sealed record IndexedDB holds for the entry (ciphertext); null when it is gone. */
  sealedRecord(id: string): Promise<Uint8Array | null>;
  requeue(id: string): Promise<boolean>;
  discard(id: string): Promise<boolean>;
  rotateKey(): Promise<{ keyId: string; resealed: number }>;
  destroy(): Promise<void>;
  close(): void;
}

// ---------------------------------------------------------------- push
/** A validated push message (DESIGN.md "Sealed push"): known fields only, `ttl` filled in. */
export interface PushMessage {
  id: string;
  iat: number;
  ttl: number;
  title: string;
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
}

/** Where wrapped keys are kept (js/storage/keystore.js); any object with these methods works. */
export interface PushKeyStore {
  load(purpose: string): Promise<Uint8Array | null>;
  store(purpose: string, bytes: Uint8Array): Promise<void>;
  delete(purpose: string): Promise<void>;
}

export interface PushReceiverOptions extends LoadOptions {
  /** Ed25519 public keys (base64url) whose signatures are trusted. Required unless allowUnsigned is true. */
  trustedSigners?: Array<string | Uint8Array>;
  /** Accept envelopes no one signed (no trustedSigners): an explicit choice, since anyone holding the device's public key could then show notifications. */
  allowUnsigned?: boolean;
  /** How far in the future `iat` may be, in seconds (default 300). */
  maxSkewSeconds?: number;
  /** How long a previous key keeps opening envelopes after rotate(), in ms (default 7 days). */
  gracePeriodMs?: number;
  /** Default: a WebCrypto-wrapped key store in `indexedDB`. */
  keyStore?: PushKeyStore;
  /** Default: globalThis.indexedDB. */
  indexedDB?: IDBFactory;
  /** IndexedDB database name (default 'sealpost-push'). */
  name?: string;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

/** Opens, verifies and de-duplicates sealed push envelopes for this device. */
export class PushReceiver {
  static open(options?: PushReceiverOptions): Promise<PushReceiver>;
  /** The device's X25519 public key, base64url: send it to the app server with the subscription. */
  readonly publicKey: string;
  /** The current key's id, base64url. */
  readonly keyId: string;
  /** Throws SealpostError with the code of the first failed check. */
  open(envelope: Uint8Array | ArrayBuffer | ArrayBufferView | string): Promise<PushMessage>;
  /** Forgets that a message id was seen, so a redelivery opens again (for a message that could not be shown). */
  release(id: string): Promise<void>;
  /** A new key; the previous one keeps opening envelopes for the grace period. */
  rotate(): Promise<{ publicKey: string; keyId: string }>;
  /** Crypto-shreds the push keys (stored keys first), then the seen ids: for logout. */
  destroy(): Promise<void>;
  /** Zeroes the keys held in memory and closes the database. */
  close(): void;
}
