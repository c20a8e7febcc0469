/** sealpost/page: talks to the service worker that runs installSealpost. */
import type { FlushSummary, QueueStats, DeliverResult, Preferences, WorkerStats, WakeupStats } from './worker/protocol.js';

export type { FlushSummary, QueueStats, DeliverResult, Preferences, WorkerStats, WakeupStats };

export interface SealpostEvent {
  source: 'sealpost';
  type: string;
  at?: number;
  [field: string]: unknown;
}

export interface ConnectOptions {
  serviceWorker?: ServiceWorkerContainer;
  /** Which page events ask the worker to flush. Default ['online', 'visibilitychange']. */
  flushOn?: Array<'online' | 'visibilitychange'>;
  /** How long to wait for the worker's reply. Default 15000. */
  timeoutMs?: number;
  window?: Window;
  document?: Document;
}

export interface SubscribeResult {
  subscription: PushSubscriptionJSON;
  /** This device's sealpost X25519 public key and its key id (base64url), for sealPush on the server. */
  publicKey: string;
  keyId: string;
}

export class SealpostConnection extends EventTarget {
  constructor(options?: ConnectOptions);
  /** Calls fn with every sealpost event; returns a function that stops the calls. */
  on(fn: (event: SealpostEvent) => void): () => void;
  request(message: { type: string; [field: string]: unknown }, transfer?: Transferable[]): Promise<unknown>;
  /**
   * Asks the worker to send what is due. `networkBack`: the page saw the network come back (its `online`
   * listener passes it), so entries waiting out a backoff after a network failure are due too.
   */
  flush(queue?: string, options?: { networkBack?: boolean }): Promise<FlushSummary>;
  stats(): Promise<WorkerStats>;
  preferences(set?: Partial<Preferences>): Promise<Preferences>;
  pushKey(): Promise<{ publicKey: string; keyId: string }>;
  /** One queued entry as Outbox.list() describes it (method, URL, state; never headers or body), or null. */
  inspect(queue: string, id: string): Promise<Record<string, unknown> | null>;
  deliver(envelope: Uint8Array | ArrayBuffer | string): Promise<DeliverResult>;
  /** Asks for notification permission (call it from a user action), then subscribes with the VAPID key. */
  subscribe(options: { vapidPublicKey: string; timeoutMs?: number }): Promise<SubscribeResult>;
  unsubscribe(): Promise<boolean>;
  close(): void;
}

export function connectSealpost(options?: ConnectOptions): SealpostConnection;
