/**
 * The sealpost:* message protocol: what a page asks the worker (through sealpost/page or postMessage
 * with a MessageChannel port) and what it answers. Errors are answered by the caller as {error: {code, message}}.
 */
import { SealpostError } from '../errors.js';
import { queueNames } from './config.js';

const INSPECT_SEALED_BYTES = 256;
const INSPECT_BODY_CHARS = 4096;

export class Messages {
  /**
   * @param {{settings: import('./config.js').Settings, outboxes: () => Promise<Map<string, any>>,
   *   receiver: () => Promise<any>, wakeups: import('./wakeups.js').Wakeups,
   *   notifications: import('./notifications.js').Notifications, state: import('./state.js').WorkerState,
   *   broadcast: (event: object) => void}} deps
   */
  constructor({ settings, outboxes, receiver, wakeups, notifications, state, broadcast }) {
    this.settings = settings;
    this.outboxes = outboxes;
    this.receiver = receiver;
    this.wakeups = wakeups;
    this.notifications = notifications;
    this.state = state;
    this.broadcast = broadcast;
  }

  /**
   * Every queue's counts (Outbox.stats: no record is opened) and the wake-up limiter's last minute.
   * @returns {Promise<{queues: Record<string, {pending: number, inflight: number, dead: number,
   *   nextAttemptAt: number | null}>, wakeups: object}>}
   */
  async stats() {
    const queues = {};
    const map = this.settings.outboxes.length ? await this.outboxes() : new Map();
    for (const [name, outbox] of map) {
      const { pending, inflight, dead, nextAttemptAt } = await outbox.stats();
      queues[name] = { pending, inflight, dead, nextAttemptAt };
    }
    return { queues, wakeups: this.wakeups.snapshot() };
  }

  /**
   * One entry as Outbox.list() describes it (its record opened in Wasm for method, URL and metadata;
   * never headers; the body as text only with inspectBodies), or null when it is gone.
   * @private
   */
  async inspect(queue, id) {
    const [name] = queueNames(this.settings, queue ?? this.settings.outboxes[0]?.name);
    if (!name) throw new SealpostError('invalid-argument', 'no outbox is configured');
    if (typeof id !== 'string') throw new SealpostError('invalid-argument', 'inspect needs an entry id');
    const outbox = (await this.outboxes()).get(name);
    const entry = await outbox.entry(id);
    if (!entry) return null;
    // What is at rest: the first bytes of the sealed record (ciphertext), and its size.
    const sealed = await outbox.sealedRecord(id);
    const atRest = sealed ? { sealed: sealed.slice(0, INSPECT_SEALED_BYTES), sealedSize: sealed.length } : {};
    if (!this.settings.inspectBodies || entry.error) return { ...entry, ...atRest };
    // Opt-in (a demo's inspector): the start of the body as text; only that much of it is decrypted, and
    // headers stay sealed.
    const preview = await outbox.preview(id, INSPECT_BODY_CHARS * 4);
    if (!preview) return null;
    const text = new TextDecoder().decode(preview.body).slice(0, INSPECT_BODY_CHARS);
    preview.body.fill(0);
    return { ...entry, ...atRest, body: text, bodySize: preview.bodySize };
  }

  /** @private */
  async pushKey() {
    const rx = await this.receiver();
    return { publicKey: rx.publicKey, keyId: rx.keyId };
  }

  /** @private */
  async preferences(update) {
    if (update === undefined) return this.state.preferences();
    const next = await this.state.updatePreferences(update);
    this.broadcast({ type: 'preferences', preferences: next });
    return next;
  }

  /**
   * The reply to one sealpost:* message; undefined for a type this version does not know.
   * @param {{type: string, [field: string]: unknown}} message
   */
  async answer(message) {
    switch (message.type) {
      case 'sealpost:flush':
        return this.wakeups.flushAll('message', this.settings.messageBudgetMs, message.queue,
          { networkBack: message.networkBack === true });
      case 'sealpost:stats':
        return this.stats();
      case 'sealpost:push-key':
        return this.pushKey();
      case 'sealpost:deliver':
        if (!this.settings.push) throw new SealpostError('closed', 'push is not configured in installSealpost');
        return this.notifications.handlePush(message.envelope ?? null);
      case 'sealpost:inspect':
        return this.inspect(message.queue, message.id);
      case 'sealpost:preferences':
        return this.preferences(message.set);
      default:
        return undefined;
    }
  }
}
