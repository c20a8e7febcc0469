/**
 * The fetch route: a matching request is sealed into its outbox first, then goes to the network; it is
 * queued (202) when the network fails, times out or answers a status the route queues on. Its steps
 * (seal, keyed, answered, queued, sealFailed) are also what SealpostPlugin (js/workbox.js) runs inside
 * a Workbox strategy.
 */
import { withIdempotencyKey } from '../outbox/request.js';
import { errorInfo } from './events.js';

function jsonResponse(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
  });
}

export class FetchRoute {
  /**
   * @param {{settings: import('./config.js').Settings, outboxes: () => Promise<Map<string, any>>,
   *   broadcast: (event: object) => void, registerSync: (queue: string) => Promise<boolean>,
   *   fetch: (input: Request, init?: RequestInit) => Promise<Response>}} deps
   */
  constructor({ settings, outboxes, broadcast, registerSync, fetch }) {
    this.networkTimeoutMs = settings.networkTimeoutMs;
    this.outboxes = outboxes;
    this.broadcast = broadcast;
    this.registerSync = registerSync;
    this.fetch = fetch;
  }

  /** The 202 a queued request gets (and the sync registration that will send it). */
  queued(route, id, reason) {
    this.broadcast({ type: 'queued', queue: route.name, id, reason });
    this.registerSync(route.name);
    return jsonResponse(202, { queued: true, id, queue: route.name }, { 'Sealpost-Queued': id });
  }

  /** Nothing could be stored (quota, storage, module): said once; the request goes out unprotected. */
  sealFailed(route, error) {
    const info = errorInfo(error);
    this.broadcast({ type: 'queue-failed', queue: route.name, code: info.code });
    return info;
  }

  /** The answer of an unprotected request that got no answer from the network either. */
  unprotectedFailed(route, info) {
    return jsonResponse(info.code === 'quota' || info.code === 'storage-full' ? 507 : 503,
      { queued: false, queue: route.name, error: info.code, message: info.message }, { 'Sealpost-Error': info.code });
  }

  /**
   * Seals a request into the route's outbox before it goes out (in the group `route.group` names).
   * `waiting`: with fifo ordering, how many entries of the queue are ahead of it (0 otherwise).
   * Rejects when nothing could be stored.
   * @returns {Promise<{outbox: any, id: string, waiting: number}>}
   */
  async seal(route, request) {
    const outbox = (await this.outboxes()).get(route.name);
    const group = route.group?.(request);
    const waiting = route.fifo ? await outbox.size() : 0;
    const { id } = await outbox.enqueue(request, { group });
    return { outbox, id, waiting };
  }

  /** The request as it goes out: with the entry's idempotency key (unless it carries the app's). */
  keyed(route, request, id) {
    return withIdempotencyKey(request, route.idempotencyHeader, id);
  }

  /**
   * What the network's answer to a stored entry means: passed on as it is (the entry removed), or, for a
   * status the route queues on, the 202 (the entry stays).
   */
  async answered(route, outbox, id, answer) {
    if (route.queueOnStatus.includes(answer.status)) return this.queued(route, id, `http-${answer.status}`);
    const removed = await outbox.discard(id).catch(() => false);
    // Said once, by whoever removed the entry (a flush that sent it meanwhile says `sent` itself): `sent`
    // for a success or a redirect, as a flush would; `answered` for another status, which the page gets.
    if (removed) {
      this.broadcast({ type: answer.status < 400 ? 'sent' : 'answered', queue: route.name, id, attempts: 1,
        status: answer.status, direct: true });
    }
    return answer;
  }

  /** Why an attempt that threw stays queued: 'timeout' (aborted) or 'network'. */
  static failure(error) {
    return error?.name === 'AbortError' ? 'timeout' : 'network';
  }

  /** The network attempt of a stored entry: its answer, or the 202 when the entry stays queued. @private */
  async attempt(route, outbox, request, id) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.networkTimeoutMs);
    let answer;
    try {
      answer = await this.fetch(this.keyed(route, request, id), { signal: controller.signal });
    } catch (error) {
      return this.queued(route, id, FetchRoute.failure(error));
    } finally {
      clearTimeout(timer);
    }
    return this.answered(route, outbox, id, answer);
  }

  /**
   * The fetch route. The request is sealed into its outbox before it goes out, so the network attempt
   * carries the entry's own idempotency key: if the answer is lost (a timeout, a killed worker), the replay
   * has the same key and the server applies the write once. An answer the route does not queue on removes
   * the entry and goes to the page as it is. With fifo ordering, a request behind queued entries of its
   * queue waits its turn (202) instead of overtaking them.
   * @param {import('./config.js').Route} route
   * @param {Request} original
   * @returns {{response: Promise<Response>, ahead: Promise<boolean>}} `ahead`: whether entries of the
   *   queue were ahead of this request (settles once that is known, false if the response fails)
   */
  networkFirst(route, original) {
    let markAhead;
    const ahead = new Promise((resolve) => { markAhead = resolve; });
    const response = (async () => {
      const copy = original.clone();
      let sealed;
      try {
        sealed = await this.seal(route, original);
      } catch (error) {
        const info = this.sealFailed(route, error);
        try {
          return await this.fetch(copy);
        } catch {
          return this.unprotectedFailed(route, info);
        }
      }
      const { outbox, id, waiting } = sealed;
      markAhead(waiting > 0);
      if (waiting > 0) return this.queued(route, id, 'behind-queue');
      return this.attempt(route, outbox, copy, id);
    })();
    return { response, ahead: Promise.race([ahead, response.then(() => false, () => false)]) };
  }
}
