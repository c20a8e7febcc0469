/** sealpost/workbox: a Workbox strategy plugin that queues requests in an encrypted sealpost outbox. */
import type { OutboxRouteOptions, SealpostWorkerConfig } from './sw.js';

/** The plugin's per-request state, as Workbox's strategies keep it for each plugin. */
type PluginState = { [key: string]: any };

export interface SealpostPluginOptions extends OutboxRouteOptions,
  Pick<SealpostWorkerConfig, 'wasmUrl' | 'syncBudgetMs' | 'startupBudgetMs' | 'messageBudgetMs'
    | 'maxWakeupsPerMinute' | 'minWaitMs' | 'rearmIntervalMs' | 'networkTimeoutMs' | 'inspectBodies'
    | 'indexedDB' | 'IDBKeyRange' | 'now'> {
  /** The worker's global scope. Default: globalThis. */
  self?: ServiceWorkerGlobalScope | typeof globalThis;
  /** Not an option here: the Workbox route decides which requests reach the strategy. */
  match?: never;
}

/**
 * For NetworkOnly and NetworkFirst: the request is sealed into the outbox named `name` before it goes out
 * (with its idempotency key); a network error, a timeout or a status in `queueOnStatus` answers 202 and
 * leaves it queued for the sync tag `sealpost:<name>` and the other wake-ups; any other answer discards
 * it. Construct every plugin at the top level of the worker script. The worker-wide options (wasmUrl,
 * budgets, maxWakeupsPerMinute, networkTimeoutMs, ...) are shared by every plugin.
 */
export class SealpostPlugin {
  constructor(name: string, options?: SealpostPluginOptions);
  readonly name: string;
  requestWillFetch(param: { request: Request; event: ExtendableEvent; state?: PluginState }): Promise<Request>;
  fetchDidSucceed(param: { request: Request; response: Response; event: ExtendableEvent; state?: PluginState }): Promise<Response>;
  fetchDidFail(param: { error: Error; originalRequest: Request; request: Request; event: ExtendableEvent; state?: PluginState }): Promise<void>;
  handlerDidError(param: { request: Request; event: ExtendableEvent; error: Error; state?: PluginState }): Promise<Response | undefined>;
  cacheWillUpdate(param: { request: Request; response: Response; event: ExtendableEvent; state?: PluginState }): Promise<Response | null>;
  handlerDidComplete(param: { request: Request; event: ExtendableEvent; error?: Error; response?: Response; state?: PluginState }): Promise<void>;
}
