// Every call README.md and docs/ show in a service worker, type-checked against the package's .d.ts files
// (tsconfig.sw.json: the worker's globals only). Never run.
/// <reference lib="webworker" />
import { installSealpost, createSealpost, inQuietHours, mergePreferences } from 'sealpost/sw';
import type { FlushSummary, WorkerStats, DeliverResult, Preferences, PushNotificationEventLike } from 'sealpost/sw';
import { Outbox, PushReceiver, SealpostError, WebCryptoKeyStore, ready, toBase64url, fromBase64url } from 'sealpost';
import type { PushMessage, ListedEntry } from 'sealpost';

declare const self: ServiceWorkerGlobalScope;
declare function render(value: unknown): void;
declare function myOwnSync(tag: string): Promise<void>;
declare function handleAppMessage(event: ExtendableMessageEvent): void;
declare function precacheShell(): Promise<void>;
declare const note: { title: string; text: string };

// "Service worker": installSealpost, and its API.
const api = installSealpost(self, {
  outboxes: [{
    name: 'notes',
    match: { method: 'POST', pathname: '/api/notes' },
    queueOnStatus: [503],
    retry: { maxAttempts: 8 },
  }],
  push: {
    trustedSigners: ['<base64url Ed25519 public key from generateSignerKeyPair()>'],
    fallback: { title: 'New activity', body: 'Open the app to see it.', tag: 'app-fallback' },
  },
});
const flushed: Promise<FlushSummary> = api.flush();
const oneQueue: Promise<FlushSummary> = api.flush('notes');
const stats: Promise<WorkerStats> = api.stats();
stats.then((s) => render([s.queues.notes?.pending, s.wakeups.lastMinute, s.wakeups.bySource]));
const delivered: Promise<DeliverResult> = api.deliver(new Uint8Array(8));
render([flushed, oneQueue, delivered]);

installSealpost(self, { wasmUrl: '/vendor/sealpost.wasm', outboxes: [{ name: 'notes', match: (request) => request.method === 'POST' }] });

// "Composing with an existing worker": createSealpost's handlers.
const sp = createSealpost(self, { outboxes: [{ name: 'notes', match: { method: 'POST', pathname: '/api/notes' } }] });
self.addEventListener('fetch', (event) => {
  if (sp.handleFetch(event)) return;
  event.respondWith(caches.match(event.request).then((hit) => hit ?? fetch(event.request)));
});
self.addEventListener('sync', (event) => sp.handleSync(event) || event.waitUntil(myOwnSync(event.tag)));
self.addEventListener('message', (event) => sp.handleMessage(event) || handleAppMessage(event));
self.addEventListener('install', (event) => { sp.handleInstall(event); event.waitUntil(precacheShell()); });
self.addEventListener('activate', (event) => { sp.handleActivate(event); });
self.addEventListener('push', (event) => { sp.handlePush(event); });
// WebKit's event for a declarative Web Push message (not in TypeScript's lib).
self.addEventListener('pushnotification' as 'push', (event) => {
  sp.handlePushNotification(event as unknown as PushNotificationEventLike);
});
self.addEventListener('notificationclick', (event) => { sp.handleNotificationClick(event); });
self.addEventListener('periodicsync' as 'sync', (event) => { sp.handlePeriodicSync(event); });
render([sp.flush(), sp.stats(), sp.deliver('base64url text')]);

const quiet: boolean = inQuietHours({ start: '22:00', end: '07:00' }, new Date());
const prefs: Preferences = mergePreferences({}, { mutedCategories: ['news'] });
render([quiet, prefs]);

// "Sealed push": the device side.
self.addEventListener('push', (event) => {
  event.waitUntil((async () => {
    const rx = await PushReceiver.open({ trustedSigners: ['<base64url Ed25519 public key>'] });
    render([rx.publicKey, rx.keyId]);
    try {
      const message: PushMessage = await rx.open(event.data!.arrayBuffer());
      render([message.id, message.iat, message.ttl, message.title, message.body, message.url]);
    } catch (error) {
      if (error instanceof SealpostError) render(error.code);
    }
    await rx.open(new Uint8Array(4));
    await rx.open('base64url text');
    const rotated: { publicKey: string; keyId: string } = await rx.rotate();
    render(rotated);
    await rx.release('id');
    await rx.destroy();
    rx.close();
  })());
});

// "The outbox".
async function outboxCalls(): Promise<void> {
  await ready();
  await ready({ wasmUrl: '/sealpost.wasm' });
  render([toBase64url(new Uint8Array([1])), fromBase64url('AQ')]);
  const outbox = await Outbox.open({ name: 'notes', retry: { maxAttempts: 8 } });
  outbox.addEventListener('retry-scheduled', (e) => render([e.detail.id, e.detail.code, e.detail.nextAttemptAt]));
  outbox.addEventListener('dead-lettered', (e) => render([e.detail.id, e.detail.code]));
  outbox.addEventListener('sent', (e) => render([e.detail.id, e.detail.status]));
  const { id } = await outbox.enqueue({ url: '/api/notes', method: 'POST', body: JSON.stringify(note),
    headers: { 'content-type': 'application/json' } }, { group: 'notes', metadata: { title: note.title } });
  await outbox.enqueue(new Request('/api/notes', { method: 'POST', body: 'x' }));
  const { sent, retrying, dead, remaining, nextAttemptAt } = await outbox.flush({ deadline: Date.now() + 60000 });
  render([sent, retrying, dead, remaining, nextAttemptAt]);
  const entry: ListedEntry | null = await outbox.entry(id);
  const request: Request | null = await outbox.request(id);
  const preview = await outbox.preview(id, 4096);
  render([entry, request, preview?.body, preview?.bodySize, await outbox.sealedRecord(id)]);
  const size: number = await outbox.size();
  const counts = await outbox.stats();
  render([size, counts.pending, counts.inflight, counts.dead, counts.nextAttemptAt]);
  render([await outbox.list(), await outbox.deadLetters(), await outbox.requeue(id), await outbox.discard(id)]);
  render(await outbox.rotateKey());
  await outbox.destroy();
  outbox.close();
  const keyStore = await WebCryptoKeyStore.open({ indexedDB });
  await Outbox.open({ name: 'other', ordering: 'independent', idempotencyHeader: null, maxEntries: 100, maxBytes: 1 << 20,
    keyStore, beforeReplay: async (req) => req, retry: { jitter: 'equal', retryOn: [503], honorRetryAfter: true } });
}
render(outboxCalls);
