/**
 * The Wasm module, the outboxes and the push receiver: loaded lazily, once per worker lifetime, by the
 * first handler that needs them (a failed load is tried again by the next one).
 */
import * as sealpost from '../index.js';
import { SealpostError } from '../errors.js';
import { maxAgeOf, peekEntries, schedule } from '../outbox/peek.js';

const OUTBOX_EVENTS = ['enqueued', 'sent', 'retry-scheduled', 'dead-lettered', 'drained', 'storage-lost'];

/**
 * The Outbox and PushReceiver classes of this build, looked up when first needed (a namespace import, so a
 * build without one of them still loads and reports it clearly when it is used).
 */
function component(name) {
  const value = sealpost[name];
  if (typeof value !== 'function') {
    throw new SealpostError('closed', `this build of sealpost has no ${name}`);
  }
  return value;
}

/** Only ids, states, codes, counts and times from an outbox event's detail: never request content. */
function safeDetail(detail) {
  if (!detail || typeof detail !== 'object') return {};
  const out = {};
  for (const key of ['id', 'state', 'code', 'attempts', 'nextAttemptAt', 'status', 'sent', 'retrying', 'dead',
    'remaining', 'lost', 'database']) {
    const value = detail[key];
    if (value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) out[key] = value;
  }
  return out;
}

/**
 * A promise made once and kept; forgotten when it rejects, so that the next call tries again, or when
 * `reset(value)` is called with the value it resolved with.
 */
function once(make) {
  let promise = null;
  let settled;
  const get = () => {
    promise ??= make().then((value) => {
      settled = value;
      return value;
    }, (error) => {
      promise = null;
      throw error;
    });
    return promise;
  };
  get.reset = (value) => {
    if (settled === value) promise = null;
  };
  /** Whether it was asked for (and has not failed since). */
  get.asked = () => promise !== null;
  return get;
}

/**
 * @param {{settings: import('./config.js').Settings, indexedDB: () => IDBFactory,
 *   fetchModule: (url: URL) => Promise<Response>, broadcast: (event: object) => void}} deps
 * @returns {{outboxes: () => Promise<Map<string, any>>, receiver: () => Promise<any>,
 *   quietUntil: (horizon: number) => Promise<Map<string, object> | null>}}
 */
export function components({ settings, indexedDB, fetchModule, broadcast }) {
  // One instance of the module for everything in this worker, fetched through the module cache.
  // A module the loader refuses (not this build's bytes) is deleted from the cache, and said so.
  const loadModule = () => sealpost.ready({ wasmUrl: settings.wasmUrl, fetchModule }).catch(async (error) => {
    if (error?.integrity) {
      await fetchModule.discard?.();
      broadcast({ type: 'module-refused', code: error.code });
    }
    throw error;
  });
  const storage = () => ({ indexedDB: indexedDB(), ...(settings.IDBKeyRange ? { IDBKeyRange: settings.IDBKeyRange } : {}) });

  const outboxes = once(async () => {
    // The module loads while the first outbox opens its databases (Outbox.open waits for the same instance).
    const module = loadModule();
    module.catch(() => {});
    const map = new Map();
    for (const spec of settings.outboxes) {
      // The worker re-broadcasts the outbox's events itself (with the queue, never content).
      const [, outbox] = await Promise.all([module, component('Outbox').open({
        wasmUrl: settings.wasmUrl, broadcast: false, now: settings.now, ...storage(), ...spec.options, name: spec.name,
      })]);
      for (const type of OUTBOX_EVENTS) {
        outbox.addEventListener(type, (event) => broadcast({ ...safeDetail(event.detail), type, queue: spec.name }));
      }
      map.set(spec.name, outbox);
    }
    return map;
  });

  const openReceiver = once(async () => {
    await loadModule();
    const { fallback, onMessage, feedback, subscriptionUrl, ...options } = settings.push;
    return component('PushReceiver').open({ wasmUrl: settings.wasmUrl, indexedDB: indexedDB(), ...options });
  });

  // A receiver whose keys were destroyed under it (another context's destroy(), or the site's data
  // cleared) is replaced by a new one, with a new key, on its next use.
  const receiver = async () => {
    if (!settings.push) throw new SealpostError('closed', 'push is not configured in installSealpost');
    const rx = await openReceiver();
    await rx.store?.verify?.();
    if (!rx.closed && !rx.store?.destroyed) return rx;
    rx.close();
    openReceiver.reset(rx);
    const fresh = await openReceiver();
    // The app server must learn the new key (as after rotate()); envelopes sealed to the old keys fail
    // with 'unknown-recipient' from now on.
    if (fresh !== rx) broadcast({ type: 'push-key-replaced', reason: rx.store?.destroyedBy ?? 'closed', keyId: fresh.keyId });
    return fresh;
  };

  /**
   * Whether the queues can go without a flush until `horizon` (worker clock), read from IndexedDB alone
   * (js/outbox/peek.js): then, per queue, the summary Outbox.flush would give now (nothing sent, what is
   * left, when the next entry falls due), and neither the module nor the outboxes (nor their keys) were
   * loaded. null when a flush could do something by then, when the outboxes are loaded already (a flush
   * costs little then), or when it cannot be told without them (a retry option the core must check).
   */
  const quietUntil = async (horizon) => {
    if (outboxes.asked()) return null;
    const now = settings.now();
    const read = new Map(); // IDBFactory → database name → its rows by queue (one read per database)
    const quiet = new Map();
    for (const spec of settings.outboxes) {
      const { options } = spec;
      // An outbox on a clock of its own keeps its schedule in a time this horizon is not in.
      if (options.now !== undefined) return null;
      const maxAgeMs = maxAgeOf(options.retry);
      if (maxAgeMs === null) return null;
      const factory = 'indexedDB' in options ? options.indexedDB : indexedDB();
      const database = options.database ?? 'sealpost-outbox';
      if (!factory || typeof factory.open !== 'function' || typeof database !== 'string') return null;
      if (!read.has(factory)) read.set(factory, new Map());
      const databases = read.get(factory);
      if (!databases.has(database)) databases.set(database, peekEntries(factory, database));
      const rows = (await databases.get(database)).get(spec.name) ?? [];
      const plan = schedule(rows, { ordering: spec.fifo ? 'fifo' : 'independent', maxAgeMs, now });
      if (plan.due || (plan.wakeAt !== null && plan.wakeAt <= horizon)) return null;
      quiet.set(spec.name, { sent: 0, retrying: 0, dead: 0, remaining: plan.live,
        nextAttemptAt: plan.live > 0 ? plan.nextAttemptAt : null });
    }
    return quiet;
  };

  return { outboxes, receiver, quietUntil };
}
