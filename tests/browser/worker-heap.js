// The JS heap of a page's service worker, read over CDP (Chromium): the worker's target is attached from
// the page's session (Target.attachToTarget without flattening, so the messages go through that session)
// and asked, after a full garbage collection, how much of its heap is in use.

/**
 * @param {import('playwright-core').BrowserContext} context
 * @param {import('playwright-core').Page} page  a page of the worker's origin
 * @returns {Promise<{usedAfterGc: () => Promise<{used: number, total: number, backing: number}>}>}
 *   used: JS heap in use; total: the heap's size; backing: ArrayBuffer backing stores (bytes)
 */
export async function workerHeap(context, page) {
  const cdp = await context.newCDPSession(page);
  const { targetInfos } = await cdp.send('Target.getTargets');
  const worker = targetInfos.find((t) => t.type === 'service_worker' && new URL(t.url).origin === new URL(page.url()).origin);
  if (!worker) throw new Error(`no service worker target for ${page.url()}`);
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: worker.targetId, flatten: false });
  let next = 0;
  const waiting = new Map();
  cdp.on('Target.receivedMessageFromTarget', ({ message }) => {
    const reply = JSON.parse(message);
    const settle = waiting.get(reply.id);
    if (!settle) return;
    waiting.delete(reply.id);
    settle(reply);
  });
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    next += 1;
    const id = next;
    waiting.set(id, (reply) => (reply.error ? reject(new Error(`${method}: ${reply.error.message}`)) : resolve(reply.result)));
    cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
  });
  return {
    async usedAfterGc() {
      await send('HeapProfiler.collectGarbage');
      const usage = await send('Runtime.getHeapUsage');
      return { used: usage.usedSize, total: usage.totalSize, backing: usage.backingStorageSize ?? 0 };
    },
  };
}
