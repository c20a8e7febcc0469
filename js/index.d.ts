/** A failure with a stable machine-readable code (see README "Errors"). */
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
}

/** Loads and compiles sealpost.wasm once per worker lifetime; rejects with code 'wasm-load-failed'. */
export function ready(options?: LoadOptions): Promise<void>;

/** base64url without padding. */
export function toBase64url(bytes: Uint8Array): string;
/** Decodes base64url (padding optional); null if the text is not base64url. */
export function fromBase64url(text: string): Uint8Array | null;

// ---------------------------------------------------------------- outbox

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

/** Where wrapped keys are kept (js/keystore.js); any object with these methods works. */
export interface KeyStore {
  load(purpose: string): Promise<Uint8Array | null>;
  store(purpose: string, bytes: Uint8Array): Promise<void>;
  delete(purpose: string): Promise<void>;
}

export interface PushReceiverOptions extends LoadOptions {
  /** Ed25519 public keys (base64url) whose signatures are trusted; empty or absent: signatures not required. */
  trustedSigners?: Array<string | Uint8Array>;
  /** How far in the future `iat` may be, in seconds (default 300). */
  maxSkewSeconds?: number;
  /** How long a previous key keeps opening envelopes after rotate(), in ms (default 7 days). */
  gracePeriodMs?: number;
  /** Default: a WebCrypto-wrapped key store in `indexedDB`. */
  keyStore?: KeyStore;
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
  /** A new key; the previous one keeps opening envelopes for the grace period. */
  rotate(): Promise<{ publicKey: string; keyId: string }>;
  /** Zeroes the keys held in memory and closes the database. */
  close(): void;
}
