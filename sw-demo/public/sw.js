// The field-notes service worker: a module worker that wires sealpost to every event.
// /config.js is served by the demo server: its public keys, and worker options the tests tune.
import { installSealpost } from '/sealpost/js/sw.js';
import { config } from '/config.js';

const { retry, queueOnStatus, ...worker } = config.worker;

installSealpost(self, {
  skipWaiting: true,
  clientsClaim: true,
  inspectBodies: true, // the demo's "Under the hood" panel shows what a queued note decrypts to
  ...worker,
  outboxes: [{
    name: 'notes',
    match: { method: 'POST', pathname: '/api/notes' },
    queueOnStatus: queueOnStatus ?? [429, 503],
    ordering: 'fifo',
    // Notes keep their order within a notebook (?notebook=…); notebooks do not wait for each other.
    group: (request) => new URL(request.url).searchParams.get('notebook'),
    // 409: the server's Idempotency-Key middleware answers it while an earlier attempt still runs.
    retry: { baseDelayMs: 2000, maxDelayMs: 10 * 60 * 1000, ...retry },
  }],
  push: {
    // The demo server signs every push; only a server without sealpost/server's module has no signer.
    ...(config.signerPublicKey ? { trustedSigners: [config.signerPublicKey] } : { allowUnsigned: true }),
    fallback: { title: 'Field notes', body: 'Something new arrived. Open the app to see it.', tag: 'field-notes-fallback' },
    feedback: { url: '/api/feedback', queue: 'notes' },
    // When the browser replaces the subscription, the worker tells the server (through the outbox).
    subscriptionUrl: '/api/subscriptions',
  },
});
