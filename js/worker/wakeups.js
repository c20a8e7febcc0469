/**
 * When queued requests are sent. Every wake-up (a sync or periodicsync event, the first event of a worker
 * life, a page's flush message, a request behind the queue, the feedback action) is only a chance to
 * send what the retry engine says is due, and all of them share one limiter: at most
 * `maxWakeupsPerMinute` flushes in any 60 s window. Every time here is the worker's clock (`now`).
 */
import { SealpostError } from '../errors.js';
import { queueNames } from './config.js';
import { errorInfo } from './events.js';

const MINUTE = 60000;
const TAG_PREFIX = 'sealpost:';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The Background Sync tag of a queue. */
export function syncTag(queue) {
  return `${TAG_PREFIX}${queue}`;
}

/** The queue a sync tag names, or null when the tag is not sealpost's. */
export function tagQueue(tag) {
  return tag.startsWith(TAG_PREFIX) ? tag.slice(TAG_PREFIX.length) : null;
}

/**
 * Registers the queue's sync tag; false where there is no Background Sync (Firefox, Safari) or no
 * permission: the other wake-ups remain.
 * @param {{registration?: ServiceWorkerRegistration}} self
 */
export async function registerSync(self, queue) {
  const sync = self.registration?.sync;
  if (!sync) return false;
  try {
    await sync.register(syncTag(queue));
    return true;
  } catch {
    return false;
  }
}

/** At most `limit` wake-ups in any sliding window of one minute, on the clock `now`. */
export class WakeupLimiter {
  /** @param {number} limit @param {() => number} now */
  constructor(limit, now) {
    this.limit = limit;
    this.now = now;
    /** @type {number[]} */
    this.times = [];
    this.bySource = {};
    this.throttled = 0;
  }

  /** @private */
  prune(now) {
    while (this.times.length && this.times[0] <= now - MINUTE) this.times.shift();
  }

  /** Takes a slot for `source`; false when the minute's budget is spent. */
  take(source) {
    const now = this.now();
    this.prune(now);
    if (this.times.length >= this.limit) {
      this.throttled += 1;
      return false;
    }
    this.times.push(now);
    this.bySource[source] = (this.bySource[source] ?? 0) + 1;
    return true;
  }

  /** Returns the slot `source` took last (its flush found nothing due and made no request). */
  giveBack(source) {
    if (this.times.length === 0) return;
    this.times.pop(); // slots are alike; the newest goes, which keeps the list in order
    this.bySource[source] = Math.max(0, (this.bySource[source] ?? 1) - 1);
  }

  /** When the next slot frees up (ms, on the limiter's clock). */
  nextSlotAt() {
    const now = this.now();
    this.prune(now);
    return this.times.length < this.limit ? now : this.times[0] + MINUTE;
  }

  snapshot() {
    this.prune(this.now());
    return { lastMinute: this.times.length, limit: this.limit, bySource: { ...this.bySource }, throttled: this.throttled };
  }
}

function emptySummary() {
  return { sent: 0, retrying: 0, dead: 0, remaining: 0, nextAttemptAt: null, queues: {} };
}

/** Adds one queue's flush summary to the total. */
function addSummary(total, name, summary) {
  total.queues[name] = summary;
  total.sent += summary.sent ?? 0;
  total.retrying += summary.retrying ?? 0;
  total.dead += summary.dead ?? 0;
  total.remaining += summary.remaining ?? 0;
  const next = summary.nextAttemptAt ?? null;
  if (next !== null && (total.nextAttemptAt === null || next < total.nextAttemptAt)) total.nextAttemptAt = next;
}

/**
 * The flush drivers: one flush of every (or one) queue, the waiting loop of an event, a sync event's
 * verdict, and the flush at the start of each worker life.
 */
export class Wakeups {
  /**
   * @param {{settings: import('./config.js').Settings, outboxes: () => Promise<Map<string, any>>,
   *   broadcast: (event: object) => void, registerSync: (queue: string) => Promise<boolean>,
   *   state: import('./state.js').WorkerState,
   *   quietUntil?: (horizon: number) => Promise<Map<string, object> | null>}} deps
   *   quietUntil: per queue, the summary a flush would give now, when no queue needs one before
   *   `horizon` (read from IndexedDB without loading the outboxes); else null
   */
  constructor({ settings, outboxes, broadcast, registerSync: register, state, quietUntil = async () => null }) {
    this.settings = settings;
    this.now = settings.now;
    this.outboxes = outboxes;
    this.quietUntil = quietUntil;
    this.broadcast = broadcast;
    this.registerSync = register;
    this.state = state;
    this.limiter = new WakeupLimiter(settings.maxWakeupsPerMinute, settings.now);
    /** @type {Map<string, Promise<object>>} one flush call at a time per queue in this worker */
    this.flushing = new Map();
    /** Whether this worker life's first flush was started (or a sync event made it unnecessary). */
    this.started = false;
  }

  /**
   * One flush of one queue; concurrent callers in this worker share the running call.
   * @returns {{running: Promise<object>, joined: boolean}} `joined`: the call was already running (its
   *   outcome is the caller's that started it, and that caller reports it)
   * @param {object} [known]  the summary this flush would give, known without the outbox (start of life)
   * @private
   */
  flushQueue(name, deadline, known, networkBack = false) {
    let running = this.flushing.get(name);
    if (running) return { running, joined: true };
    if (known) return { running: Promise.resolve(known), joined: false };
    running = (async () => {
      const outbox = (await this.outboxes()).get(name);
      if (!outbox) throw new SealpostError('invalid-argument', `no outbox is named ${name}`);
      return outbox.flush({ deadline, networkBack });
    })().finally(() => this.flushing.delete(name));
    this.flushing.set(name, running);
    return { running, joined: false };
  }

  /**
   * A flush of every (or one) queue, counted as one wake-up of `source` unless `continuing`.
   * @returns {Promise<{sent: number, retrying: number, dead: number, remaining: number,
   *   nextAttemptAt: number|null, throttled?: boolean, nextSlotAt?: number, queues: Record<string, object>}>}
   *   `known`: per queue, the summary its flush would give (see quietUntil), used instead of flushing it;
   *   `networkBack`: a page saw the network come back (Outbox.flush's option of that name)
   */
  async flushAll(source, budgetMs, queue, { continuing = false, known = null, networkBack = false } = {}) {
    const names = queueNames(this.settings, queue);
    const total = emptySummary();
    if (names.length === 0) return total;
    // Joining flushes that are already running sends nothing more, so it takes no slot.
    const joining = names.every((name) => this.flushing.has(name));
    const counted = !continuing && !joining;
    if (counted && !this.limiter.take(source)) {
      this.broadcast({ type: 'throttled', trigger: source, nextSlotAt: this.limiter.nextSlotAt() });
      return { ...total, throttled: true, nextSlotAt: this.limiter.nextSlotAt() };
    }
    const deadline = this.now() + budgetMs;
    // What this call's own flushes did: a queue whose flush was already running is reported by the call
    // that started it, so one run's totals are broadcast once however many wake-ups joined it.
    const own = emptySummary();
    for (const name of names) {
      const { running, joined } = this.flushQueue(name, deadline, known?.get(name), networkBack);
      const summary = await running;
      addSummary(total, name, summary);
      if (!joined) addSummary(own, name, summary);
      if (source !== 'sync' && (summary.remaining ?? 0) > 0) await this.registerSync(name);
    }
    // A flush that found nothing due made no request: it does not count against the limit.
    if (counted && total.sent + total.retrying + total.dead === 0) this.limiter.giveBack(source);
    this.broadcast({ type: 'flushed', trigger: source, ...(joining ? { joined: true } : {}), sent: own.sent,
      retrying: own.retrying, dead: own.dead, remaining: total.remaining, nextAttemptAt: total.nextAttemptAt });
    return total;
  }

  /**
   * Flushes, then waits for what falls due within the budget and flushes again (Outbox.flush never
   * sleeps; an event kept alive by waitUntil may). A round takes a wake-up slot unless the round before it
   * delivered something: a queue that keeps failing cannot spin, and one that is getting through (each
   * free round removes at least one entry) is not held to a dozen rounds a minute.
   */
  async drive(source, budgetMs, queue, known = null) {
    const { minWaitMs } = this.settings;
    const budgetEnd = this.now() + budgetMs;
    let continuing = false;
    for (let round = 0; ; round += 1) {
      // What is known without the outboxes holds for the first round only; a later one flushes for real.
      const summary = await this.flushAll(source, budgetEnd - this.now(), queue,
        { continuing, known: round === 0 ? known : null });
      continuing = !summary.throttled && summary.sent > 0;
      if (!summary.throttled && summary.remaining === 0) return summary;
      const next = summary.throttled ? summary.nextSlotAt : summary.nextAttemptAt;
      if (next === null || next === undefined) return summary;
      const wakeAt = Math.max(next, this.now() + minWaitMs);
      if (wakeAt >= budgetEnd - minWaitMs) return summary;
      await sleep(wakeAt - this.now());
    }
  }

  /** The `sync` event's work: drive the queue within the budget; reject if work is left for later. */
  async syncQueue(name, lastChance) {
    this.started = true;
    const summary = await this.drive('sync', this.settings.syncBudgetMs, name);
    if (!summary.throttled && summary.remaining === 0) return summary;
    this.broadcast({ type: 'sync-incomplete', queue: name, lastChance, remaining: summary?.remaining ?? null,
      nextAttemptAt: summary?.nextAttemptAt ?? null });
    if (lastChance) {
      await this.rearm(name);
      return summary;
    }
    throw new SealpostError('closed', `sealpost:${name} has work left for later; the browser will retry the sync`);
  }

  /**
   * After a lastChance sync the browser gives up on the registration: register the tag afresh so that a
   * later sync still comes, but at most once per rearmIntervalMs (persisted): never a tight loop.
   * @private
   */
  async rearm(name) {
    const last = await this.state.lastRearm(name);
    const now = this.now();
    if (now - last < this.settings.rearmIntervalMs) return;
    await this.state.recordRearm(name, now);
    const registered = await this.registerSync(name);
    this.broadcast({ type: 'sync-rearmed', queue: name, registered });
  }

  /** The `periodicsync` event's work: drive every queue within the sync budget, never rejecting. */
  periodic() {
    this.started = true;
    return this.drive('periodicsync', this.settings.syncBudgetMs).catch((error) => {
      this.broadcast({ type: 'flush-failed', trigger: 'periodicsync', ...errorInfo(error) });
    });
  }

  /**
   * The first event of each worker lifetime flushes every queue (in that event's waitUntil, after
   * `after`), and waits for entries that fall due within startupBudgetMs (e.g. the lease of an attempt a
   * killed worker left). Later events do nothing here.
   *
   * The queues' entry rows are read first, from IndexedDB alone (quietUntil): when nothing is due and
   * nothing falls due within the budget (an empty queue, or retries scheduled later), the flush is done
   * without loading the Wasm module or opening the outboxes and their keys, and it says what a real one
   * would (the same 'flushed' event, the sync tag of a queue with entries left registered again). So a
   * worker started for a navigation or a script it does not route costs one IndexedDB read.
   */
  startOfLife(event, source, after = null) {
    if (this.started) return;
    this.started = true;
    if (this.settings.outboxes.length === 0) return;
    const budgetMs = this.settings.startupBudgetMs;
    event.waitUntil(Promise.resolve(after)
      .then(() => this.quietUntil(this.now() + budgetMs).catch(() => null))
      .then((known) => this.drive(`start:${source}`, budgetMs, undefined, known))
      .catch((error) => {
        this.broadcast({ type: 'flush-failed', trigger: `start:${source}`, ...errorInfo(error) });
      }));
  }

  /** The flush a routed request that waited behind its queue asks for (not while offline). */
  behindQueue(queue, online) {
    if (!online) return null;
    return this.flushAll('route', this.settings.messageBudgetMs, queue).catch((error) => {
      this.broadcast({ type: 'flush-failed', trigger: 'route', ...errorInfo(error) });
    });
  }

  /** For sealpost:stats: the limiter's view of the last minute. */
  snapshot() {
    return this.limiter.snapshot();
  }
}
