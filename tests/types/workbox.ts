// "Coming from Workbox": SealpostPlugin in Workbox's strategies, type-checked with Workbox's own types.
/// <reference lib="webworker" />
import { registerRoute } from 'workbox-routing';
import { NetworkFirst, NetworkOnly } from 'workbox-strategies';
import { BackgroundSyncPlugin } from 'workbox-background-sync';
import { SealpostPlugin } from 'sealpost/workbox';

// The swap, side by side.
new NetworkOnly({ plugins: [new BackgroundSyncPlugin('notes', { maxRetentionTime: 24 * 60 })] });
new NetworkOnly({ plugins: [new SealpostPlugin('notes', { retry: { maxAgeMs: 24 * 3600000 } })] });

registerRoute(({ url }) => url.pathname === '/api/notes',
  new NetworkOnly({ plugins: [new SealpostPlugin('notes', { retry: { maxAttempts: 8 }, queueOnStatus: [503] })] }),
  'POST');

registerRoute(({ url }) => url.pathname === '/api/comments',
  new NetworkFirst({ networkTimeoutSeconds: 5, plugins: [new SealpostPlugin('comments', {
    wasmUrl: '/sealpost.wasm', ordering: 'independent', group: (request) => request.headers.get('x-thread'),
    idempotencyHeader: 'Idempotency-Key', networkTimeoutMs: 8000, maxWakeupsPerMinute: 6, maxEntries: 500,
  })] }),
  'POST');
