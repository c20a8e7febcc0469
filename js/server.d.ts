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

export interface SealPushOptions {
  recipientPublicKey: string | Uint8Array;
  message: PushMessageInput | string;
  signer?: { secretKey: string | Uint8Array };
  maxEnvelopeBytes?: number;
  now?: number | (() => number);
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
export function sealPush(options: SealPushOptions): Buffer;
export function classifyPushStatus(statusCode: number): SendResult['status'];
export function sendSealedPush(subscription: PushSubscriptionJSON, envelope: Uint8Array, options?: SendOptions): Promise<SendResult>;
export function sendToMany<D extends Device>(devices: D[], message: PushMessageInput, options: SendOptions & {
  signer?: { secretKey: string | Uint8Array };
  concurrency?: number;
  maxEnvelopeBytes?: number;
  now?: number | (() => number);
}): Promise<Array<SendResult & { device: D; code?: string }>>;
export function generateVAPIDKeys(): { publicKey: string; privateKey: string };
