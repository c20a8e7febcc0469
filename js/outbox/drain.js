/**
 * One flush of a queue: what is due (decided in C++, src/core/retry.hpp plan_due), one attempt per entry
 * (lease, open, send, then the decision of src/core/retry.hpp decide), until nothing is due, the deadline
 * passes or the flush is aborted. Every rule of when an entry is tried lives in the core; this file does
 * the I/O and keeps the flush's own state (counts, the ids tried, the removal not yet written) in the
 * Drain object of that one flush.
 */
import { SealpostError } from '../errors.js';
import { entryInfo } from './entry.js';

/** A lease outlives the attempt's own timeout by this much. */
export const LEASE_MARGIN_MS = 5000;
/**
 * Rounds of one flush at most: each round tries at least one entry the core still allows in this flush
 * (once, or twice for a 401/403 refresh), so the loop ends on its own; this only bounds a broken store.
 */
const MAX_ROUNDS = 4096;
/**
 * Entries up to this size (record and body chunks, sealed) are read and opened ahead, while the attempt
 * before them is in flight; a larger one is opened after its lease, as its plaintext may be large.
 */
const AHEAD_MAX_BYTES = 65536;
/** Response bytes read to let the connection be reused; a longer body is cancelled instead. */
const DISCARD_LIMIT = 65536;

/** A record that cannot be opened: changed, its key gone, or a version-1 record ('unsupported-version'). */
function isTamperOrLoss(error) {
  return error instanceof SealpostError
    && (error.code === 'record-tampered' || error.code === 'key-lost' || error.code === 'unsupported-version');
}

/**
 * The core's plan for a queue's rows: {due: [id], expired: [id], nextAttemptAt}. `tried` holds the
 * attempts this flush made on each id (absent outside a flush); `networkBack`: the caller learned that the
 * network is back, so entries backed off after a network failure are due (src/core/retry.hpp plan_due).
 * @param {import('./outbox.js').Outbox} outbox
 * @param {Array<object>} rows
 * @param {Map<string, number>} [tried]
 * @param {boolean} [networkBack]
 */
export function planDue(outbox, rows, tried = new Map(), networkBack = false) {
  return outbox.core.retryPlan({
    ordering: outbox.ordering, now: outbox.now(), maxAgeMs: outbox.policy.maxAgeMs, networkBack,
    tried: Object.fromEntries(tried),
    entries: rows.map((row) => ({
      id: row.id, seq: row.seq, group: row.group, state: row.state, nextAttemptAt: row.nextAttemptAt,
      leaseUntil: row.leaseUntil, createdAt: row.createdAt, lastError: row.lastError ?? null,
    })),
  });
}

/**
 * Reads and drops a response body so the connection can be reused; a body longer than 64 KiB is
 * cancelled instead (the status is all the outbox needs).
 */
async function discardBody(response) {
  if (!response.body) return;
  try {
    const reader = response.body.getReader();
    for (let read = 0; read <= DISCARD_LIMIT;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch { /* the answer is known; its body is not needed */ }
}

export class Drain {
  /**
   * @param {import('./outbox.js').Outbox} outbox
   * @param {{deadline: number, fetch: typeof fetch, signal?: AbortSignal, leased: boolean,
   *   networkBack?: boolean}} options
   *   leased: the drainer holds the IndexedDB lease (no Web Locks) and must keep extending it;
   *   networkBack: see planDue (each entry is still tried once per flush)
   */
  constructor(outbox, { deadline, fetch, signal, leased, networkBack = false }) {
    this.outbox = outbox;
    this.networkBack = networkBack;
    this.deadline = deadline;
    this.fetch = fetch;
    this.signal = signal;
    this.leased = leased;
  }

  stopped() {
    return this.outbox.closed || this.signal?.aborted || this.outbox.now() >= this.deadline;
  }

  /** Sends what is due, round after round, and returns the flush's summary. */
  async run() {
    const { outbox } = this;
    const tally = { sent: 0, retrying: 0, dead: 0 };
    const tried = new Map();
    let removal = null;
    try {
      for (let round = 0; round < MAX_ROUNDS && !this.stopped(); round += 1) {
        removal = await this.settle(removal, tally);
        const rows = outbox.withVoidLeases(await outbox.store.entries(outbox.name));
        const byId = new Map(rows.map((row) => [row.id, row]));
        const plan = planDue(outbox, rows, tried, this.networkBack);
        for (const id of plan.expired) {
          if (await outbox.markDead(byId.get(id), 'expired')) tally.dead += 1;
        }
        if (plan.due.length === 0) break;
        for (const [index, id] of plan.due.entries()) {
          if (this.stopped()) break;
          if (this.leased && !(await outbox.holdDrainer())) { // another drainer took over
            removal = await this.settle(removal, tally);
            return outbox.summary(tally, true);
          }
          tried.set(id, (tried.get(id) ?? 0) + 1);
          const claim = await this.claim(byId.get(id), removal, tally);
          removal = null;
          // Read (readonly) and opened while this attempt is in flight: the entry this round tries next.
          this.upcoming = byId.get(plan.due[index + 1]) ?? null;
          let result;
          ({ result, removal } = claim.row ? await this.send(claim.row, claim.record, claim.request)
            : { result: 'skipped', removal });
          if (result === 'sent') tally.sent += 1;
          else if (result === 'dead') tally.dead += 1;
          else if (result === 'retry') tally.retrying += 1;
          // fifo: an entry that is not sent or dead holds the rest of its group back; the core sees that in
          // the next round's plan (the entry is no longer due), so plan again.
          if (outbox.ordering === 'fifo' && (result === 'retry' || result === 'skipped')) break;
        }
      }
      removal = await this.settle(removal, tally);
    } finally {
      this.upcoming = null;
      this.ahead = null;
      // After an error as well: the entry the server acknowledged last is still removed.
      await this.settle(removal, tally).catch(() => {});
    }
    const summary = await outbox.summary(tally);
    if (summary.remaining === 0 && tally.sent + tally.dead > 0) {
      outbox.emit('drained', { sent: tally.sent, dead: tally.dead });
    }
    return summary;
  }

  /**
   * Leases an entry (attempts + 1) and reads its record; the previous entry's removal, if one is waiting,
   * commits in the same transaction. → {row, record, request}, row null when another drainer changed it
   * first. `request` is the entry opened ahead (readAhead()) when its record is still the one stored; the
   * record is then not read again.
   */
  async claim(row, removal, tally) {
    const { outbox } = this;
    const ahead = this.ahead?.id === row.id ? await this.ahead.opened : null;
    this.ahead = null;
    const leaseMs = outbox.policy.requestTimeoutMs + LEASE_MARGIN_MS;
    // A lease of this outbox's whose attempt ended without its outcome written (see withVoidLeases) is
    // taken again while it is unchanged: still inflight, with the attempts of that lease.
    const state = row.voidLease ? 'inflight' : row.state;
    const claim = await outbox.store.claim(row.id, (current) => {
      if (current.state !== state || current.attempts !== row.attempts) return null;
      return { ...current, state: 'inflight', attempts: current.attempts + 1, leaseUntil: outbox.now() + leaseMs };
    }, removal, ahead ? (next) => next.keyId === ahead.keyId : null);
    if (removal) this.removalDone(removal, claim.removed, tally);
    if (claim.row) outbox.voidLeases.delete(row.id);
    return claim.known ? { ...claim, request: ahead.request } : claim;
  }

  /**
   * Reads the entry planned next (its row and record, readonly: no lease, no attempt counted) and opens it,
   * while the attempt before it is in flight; claim() uses it if the entry is leased next and its record has
   * not been replaced meanwhile (key rotation). Any failure here leaves it to the usual path after the lease.
   */
  readAhead() {
    const row = this.upcoming;
    this.upcoming = null;
    if (!row || row.size > AHEAD_MAX_BYTES) return;
    const { outbox } = this;
    const opened = outbox.store.peek(row.id).then(async ({ row: current, record }) => {
      if (!current || !(record instanceof Uint8Array)) return null;
      return { keyId: current.keyId, request: await outbox.codec.replay(current, record, outbox.header) };
    }).catch(() => null);
    this.ahead = { id: row.id, opened };
  }

  /** Deletes the entry of the last successful replay, if its removal is still waiting. Returns null. */
  async settle(removal, tally) {
    if (!removal) return null;
    let removed = false;
    try {
      removed = await this.outbox.store.remove(removal.id, removal.expect);
    } catch (error) {
      // Closed meanwhile: the entry stays inflight and is sent again, under its key, after its lease.
      if (!this.outbox.closed) throw error;
    }
    this.removalDone(removal, removed, tally);
    return null;
  }

  /** A sent entry's deletion was written (say so), or another drainer changed it first (uncount it). */
  removalDone(removal, removed, tally) {
    if (removed) {
      this.outbox.emit('sent', { id: removal.id, attempts: removal.attempts, status: removal.status });
    } else {
      tally.sent -= 1;
    }
  }

  /**
   * One attempt on a leased entry: open it, let beforeReplay see it, send it, and apply the decision.
   * → {result: 'sent' | 'retry' | 'dead' | 'skipped', removal}: `removal` is the deletion a sent entry
   * still needs (written with the next claim, or by settle()).
   */
  async send(claimed, record, opened) {
    try {
      return await this.attempt(claimed, record, opened);
    } catch (error) {
      // The outcome could not be written (IndexedDB full): the entry stays inflight under this lease, which
      // this outbox may take again at once instead of waiting for it to expire.
      if (error?.code === 'storage-full') this.outbox.voidLeases.set(claimed.id, claimed.attempts);
      throw error;
    }
  }

  /** send() without its handling of a write IndexedDB refused. */
  async attempt(claimed, record, opened) {
    const { outbox } = this;
    const fenced = (current) => current.attempts === claimed.attempts && current.state === 'inflight';
    let request = opened; // opened ahead (readAhead()), or now
    if (!request) {
      try {
        request = await outbox.codec.replay(claimed, record, outbox.header);
      } catch (error) {
        if (!isTamperOrLoss(error)) throw error;
        return { result: (await outbox.markDead(claimed, error.code, fenced)) ? 'dead' : 'skipped', removal: null };
      }
    }
    if (outbox.beforeReplay) {
      try {
        request = await this.beforeReplay(request, claimed);
      } catch {
        return this.decide(claimed, { kind: 'network' }, fenced);
      }
    }
    return this.decide(claimed, await this.fetchOutcome(request), fenced);
  }

  /** The app's beforeReplay hook; the idempotency key the entry goes out with cannot be changed by it. */
  async beforeReplay(request, claimed) {
    const { header } = this.outbox;
    const key = header ? request.headers.get(header) : null;
    const replaced = await this.outbox.beforeReplay(request, entryInfo(claimed));
    const next = replaced instanceof Request ? replaced : request;
    if (!header || next.headers.get(header) === key) return next;
    const headers = new Headers(next.headers);
    headers.set(header, key);
    return new Request(next, { headers });
  }

  /**
   * Sends the request within requestTimeoutMs → the outcome the core decides on. The next entry is read
   * and opened meanwhile (readAhead()).
   */
  async fetchOutcome(request) {
    const { signal } = this;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new SealpostError('timeout', 'the attempt took longer than requestTimeoutMs'));
    }, this.outbox.policy.requestTimeoutMs);
    const onAbort = () => controller.abort(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) controller.abort(signal.reason);
    try {
      const send = this.fetch; // called unbound: browsers refuse fetch with a `this` that is not a global
      const answer = send(request, { signal: controller.signal });
      this.readAhead(); // storage and Wasm work for the next entry, while this request is on the wire
      const response = await answer;
      const outcome = { kind: 'response', status: response.status, retryAfter: response.headers.get('retry-after') ?? '' };
      await discardBody(response);
      return outcome;
    } catch {
      return { kind: timedOut ? 'timeout' : 'network' };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Applies the core's decision for one outcome → {result, removal}. */
  async decide(claimed, outcome, fenced) {
    const { outbox } = this;
    const decision = outbox.core.retryDecide({
      policy: outbox.policy, attempts: claimed.attempts, createdAt: claimed.createdAt, now: outbox.now(),
      id: claimed.id, previousError: claimed.lastError ?? '', canRefresh: Boolean(outbox.beforeReplay), outcome,
    });
    if (decision.action === 'sent') {
      // Removed in the next claim's transaction, or by settle() before the drain reads the queue again: one
      // IndexedDB commit per replayed entry instead of two. Counted as sent now; removalDone takes it back
      // if the entry is gone already (another drainer's attempt succeeded too).
      // Not fenced: the server applied the entry, and that holds whatever another drainer wrote while this
      // attempt was in flight (it took the entry over after the lease ran out, and its own attempt was
      // refused, or ran out of attempts, and dead-lettered it; or it scheduled a retry). Fenced, the success
      // was dropped and a write the server applied stayed a dead letter.
      const removal = { id: claimed.id, expect: () => true, attempts: claimed.attempts, status: outcome.status };
      return { result: 'sent', removal };
    }
    if (decision.action === 'retry') {
      const next = await outbox.store.update(claimed.id, (current) => (fenced(current)
        ? { ...current, state: 'pending', leaseUntil: 0, nextAttemptAt: decision.nextAttemptAt, lastError: decision.code }
        : null));
      if (!next) return { result: 'skipped', removal: null };
      outbox.emit('retry-scheduled', {
        id: claimed.id, attempts: claimed.attempts, code: decision.code, nextAttemptAt: decision.nextAttemptAt,
      });
      return { result: 'retry', removal: null };
    }
    return { result: (await outbox.markDead(claimed, decision.code, fenced)) ? 'dead' : 'skipped', removal: null };
  }
}
