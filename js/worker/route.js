/**
 * The fetch route: a matching request is sealed into its outbox first, then goes to the network; it is
 * queued (202) when the network fails, times out or answers a status the route queues on.
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

  /** The 202 a queued request gets (and the sync registration that will send it). @private */
  queued(route, id, reason) {
    this.broadcast({ type: 'queued', queue: route.name, id, reason });
    this.registerSync(route.name);
    return jsonResponse(202, { queued: true, id, queue: route.name }, { 'Sealpost-Queued': id });
  }

  /** Nothing could be stored (quota, storage, module): the request goes out unprotected, and says so. @private */
  async unprotected(route, request, error) {
    const info = errorInfo(error);
    this.broadcast({ type: 'queue-failed', queue: route.name, code: info.code });
    try {
      return await this.fetch(request);
    } catch {
      return jsonResponse(info.code === 'quota' || info.code === 'storage-full' ? 507 : 503,
        { queued: false, queue: route.name, error: info.code, message: info.message }, { 'Sealpost-Error': info.code });
    }
  }

  /** The network attempt of a stored entry: its answer, or the 202 when the entry stays queued. @private */
  async attempt(route, outbox, request, id) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.networkTimeoutMs);
    let reason;
    try {
      const answer = await this.fetch(withIdempotencyKey(request, route.idempotencyHeader, id), { signal: controller.signal });
      if (!route.queueOnStatus.includes(answer.status)) {
        await outbox.discard(id).catch(() => false);
        return answer;
      }
      reason = `http-${answer.status}`;
    } catch (error) {
      reason = error?.name === 'AbortError' ? 'timeout' : 'network';
    } finally {
      clearTimeout(timer);
    }
    return this.queued(route, id, reason);
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
      let outbox;
      let id;
      let waiting = 0;
      try {
        outbox = (await this.outboxes()).get(route.name);
        const group = route.group?.(original);
        if (route.fifo) waiting = await outbox.size();
        ({ id } = await outbox.enqueue(original, { group }));
      } catch (error) {
        return this.unprotected(route, copy, error);
      }
      markAhead(waiting > 0);
      if (waiting > 0) return this.queued(route, id, 'behind-queue');
      return this.attempt(route, outbox, copy, id);
    })();
    return { response, ahead: Promise.race([ahead, response.then(() => false, () => false)]) };
  }
}
