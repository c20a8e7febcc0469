/**
 * The fetch route: a matching request is sealed into its outbox first, then goes to the network; it is
 * queued (202) when the network fails, times out or answers a status the route queues on. Its steps
 * (seal, keyed, answered, queued, sealFailed) are also what SealpostPlugin (js/workbox.js) runs inside
 * a Workbox strategy.
 */
import { LEASE_MARGIN_MS } from '../outbox/drain.js';
import { withIdempotencyKey } from '../outbox/request.js';
import { SealpostError } from '../errors.js';
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
    /** The tail of each fifo group's lane ('<queue>\n<group>' → promise), while a request of it is routed. */
    this.lanes = new Map();
  }

  /**
   * A place in the lane of a fifo group: `ready` settles when every request of the group routed before in
   * this context has its answer (or its 202); `done()` ends this request's turn. Requests of other groups
   * and queues have other lanes and never wait for this one.
   */
  lane(key) {
    const previous = this.lanes.get(key);
    let end;
    const turn = new Promise((resolve) => { end = resolve; });
    const tail = previous ? previous.then(() => turn) : turn;
    this.lanes.set(key, tail);
    let ended = false;
    return {
      ready: previous ?? Promise.resolve(),
      done: () => {
        if (ended) return;
        ended = true;
        end();
        if (this.lanes.get(key) === tail) this.lanes.delete(key);
      },
    };
  }

  /**
   * The group a request goes into (the route's `group(request)`, '' when none) and its lane (fifo only).
   * Taken when the request arrives, so that the lane keeps the order in which requests came.
   * @returns {{group: string, turn: {ready: Promise<void>, done: () => void} | null, error?: unknown}}
   */
  place(route, request) {
    let group;
    try {
      group = route.group?.(request) ?? '';
    } catch (error) {
      return { group: '', turn: null, error };
    }
    return { group, turn: route.fifo ? this.lane(`${route.name}\n${String(group)}`) : null };
  }

  /**
   * The 202 of a stored request that was not answered: its lease (if any) is given back first, so that
   * the entry is pending, due at once, before the next request of its group looks at the queue.
   * @param {{outbox: any, id: string, leaseUntil: number}} sealed
   */
  async queue(route, sealed, reason) {
    // release() makes the entry durable (admit() wrote it with relaxed durability) before the page hears 202.
    if (sealed.leaseUntil) await sealed.outbox.release(sealed.id, sealed.leaseUntil, sealed.group).catch(() => false);
    return this.queued(route, sealed.id, reason);
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
   * Seals a request into the route's outbox before it goes out, in `group` (Outbox.admit): in flight under
   * a lease that outlives the network attempt, so no flush sends it meanwhile. `behind`: with fifo ordering,
   * a live entry of its group was already queued (waiting on a retry, failed, or held by another context),
   * so the request must not go out ahead of it. Rejects when nothing could be stored. `body`: the request's
   * body bytes when the caller read them already (see outgoing()).
   * @returns {Promise<{outbox: any, id: string, behind: boolean, leaseUntil: number, group: string}>}
   */
  async seal(route, request, group, body) {
    const outbox = (await this.outboxes()).get(route.name);
    const { id, behind, leaseUntil } = await outbox.admit(request,
      { group, leaseMs: this.networkTimeoutMs + LEASE_MARGIN_MS, body });
    return { outbox, id, behind, leaseUntil, group };
  }

  /**
   * The request as the route sends it, with its body read into a Blob: a body the page gave as a
   * ReadableStream (`duplex: 'half'`) would otherwise go out as a streaming upload, which Chromium refuses
   * over HTTP/1.1 (the attempt would fail and the page get a 202 while the network works). The bytes and
   * the content type (with a multipart boundary) are the ones the entry holds.
   */
  static async materialized(request) {
    if (request.method === 'GET' || request.method === 'HEAD') return request;
    const body = await request.blob();
    return new Request(request, { body });
  }

  /**
   * The fetch route reads a request's body once: the bytes are sealed into the entry, and the request goes
   * out (or, when nothing could be stored, unprotected) with the same bytes, its content type (a multipart
   * boundary included) in its headers. A ReadableStream body (`duplex: 'half'`) is read to its end too, so
   * it never goes out as a streaming upload, which Chromium refuses over HTTP/1.1. The buffer is not zeroed
   * afterwards: a Request may keep the buffer it was given instead of copying it (WebKit does).
   * @returns {Promise<{bytes: Uint8Array | undefined, outgoing: () => Request}>}
   */
  static async readOnce(request) {
    if (request.method === 'GET' || request.method === 'HEAD') return { bytes: undefined, outgoing: () => request.clone() };
    const bytes = new Uint8Array(await request.arrayBuffer());
    return { bytes, outgoing: () => new Request(request, { body: bytes }) };
  }

  /** The request as it goes out: with the entry's idempotency key (unless it carries the app's). */
  keyed(route, request, id) {
    return withIdempotencyKey(request, route.idempotencyHeader, id);
  }

  /**
   * What the network's answer to a stored entry means: passed on as it is (the entry removed), or, for a
   * status the route queues on, the 202 (the entry stays). With `later` (the event's waitUntil), the answer
   * is passed on at once and the removal given to `later`: a request of the same group that comes meanwhile
   * does not count the answered entry (Outbox.settle), and a removal lost with the worker only means the
   * entry is sent again under its key.
   * @param {((work: Promise<unknown>) => void) | null} [later]
   */
  async answered(route, sealed, answer, later = null) {
    if (route.queueOnStatus.includes(answer.status)) return this.queue(route, sealed, `http-${answer.status}`);
    const removal = sealed.outbox.settle(sealed.id).catch(() => false).then((removed) => {
      // Said once, by whoever removed the entry (a flush that sent it meanwhile says `sent` itself): `sent`
      // for a success or a redirect, as a flush would; `answered` for another status, which the page gets.
      if (removed) {
        this.broadcast({ type: answer.status < 400 ? 'sent' : 'answered', queue: route.name, id: sealed.id,
          attempts: 1, status: answer.status, direct: true });
      }
    });
    if (later) later(removal);
    else await removal;
    return answer;
  }

  /** Why an attempt that threw stays queued: 'timeout' (aborted) or 'network'. */
  static failure(error) {
    return error?.name === 'AbortError' ? 'timeout' : 'network';
  }

  /**
   * The network attempt of a stored entry (`request` as readOnce() gives it): its answer, or the 202 when
   * the entry stays queued. @private
   */
  async attempt(route, sealed, request, later) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.networkTimeoutMs);
    let answer;
    try {
      const outgoing = this.keyed(route, request, sealed.id);
      answer = await this.fetch(outgoing, { signal: controller.signal });
    } catch (error) {
      return this.queue(route, sealed, FetchRoute.failure(error));
    } finally {
      clearTimeout(timer);
    }
    return this.answered(route, sealed, answer, later);
  }

  /**
   * The fetch route. The request is sealed into its outbox before it goes out, so the network attempt
   * carries the entry's own idempotency key: if the answer is lost (a timeout, a killed worker), the replay
   * has the same key and the server applies the write once. An answer the route does not queue on removes
   * the entry and goes to the page as it is. With fifo ordering, requests of one group go out one after
   * the other, in the order they came (a lane per group in this context): a request waits for the answer
   * to the one before it, and goes out when that one was answered; it gets the 202 at once ('behind-queue')
   * when an entry of its group is left in the queue (the one before it failed or was queued on its status,
   * or entries wait on a retry, or another context holds one in flight). Groups never wait for each other.
   * @param {import('./config.js').Route} route
   * @param {Request} original
   * @returns {{response: Promise<Response>, ahead: Promise<boolean>, settled: Promise<void>}} `ahead`:
   *   whether entries of the group were ahead of this request (settles once that is known, false if the
   *   response fails); `settled`: the work after the response (the answered entry's removal), for the
   *   event's waitUntil
   */
  networkFirst(route, original) {
    let markAhead;
    const ahead = new Promise((resolve) => { markAhead = resolve; });
    const { group, turn, error: groupError } = this.place(route, original);
    const after = [];
    const later = (work) => { after.push(work); };
    // The body is read at once (the page's request may not outlive a wait in the lane).
    const body = FetchRoute.readOnce(original);
    body.catch(() => {}); // handled where it is awaited, after the lane
    const response = (async () => {
      await turn?.ready;
      let sealed;
      let read = null;
      try {
        read = await body.catch((error) => {
          throw new SealpostError('invalid-request', `the request body cannot be read: ${error.message}`,
            { field: 'body', cause: error });
        });
        if (groupError) throw groupError;
        sealed = await this.seal(route, original, group, read.bytes);
      } catch (error) {
        const info = this.sealFailed(route, error);
        // Not stored, so nothing of its group can wait for it: the lane goes on at once.
        turn?.done();
        try {
          if (!read) throw error;
          return await this.fetch(read.outgoing());
        } catch {
          return this.unprotectedFailed(route, info);
        }
      }
      markAhead(sealed.behind);
      if (sealed.behind) return this.queued(route, sealed.id, 'behind-queue');
      return this.attempt(route, sealed, read.outgoing(), later);
    })().finally(() => turn?.done());
    const settled = response.then(() => Promise.all(after), () => Promise.all(after)).then(() => {});
    return { response, ahead: Promise.race([ahead, response.then(() => false, () => false)]), settled };
  }
}
