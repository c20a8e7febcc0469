// Every call README.md and docs/ show in a page (sealpost/page), type-checked with the DOM's globals only.
import { connectSealpost, SealpostConnection } from 'sealpost/page';
import type { SealpostEvent, SubscribeResult, WorkerStats, FlushSummary, Preferences, DeliverResult } from 'sealpost/page';
import { Outbox } from 'sealpost';

declare function render(value: unknown): void;
declare const notifyToggle: HTMLInputElement;
declare const vapidPublicKey: string;
declare const body: string;

async function pageCalls(): Promise<void> {
  const sp = connectSealpost();
  connectSealpost({ flushOn: ['online'], timeoutMs: 5000 });
  const stop: () => void = sp.on((event: SealpostEvent) => render(event));
  stop();
  const res = await fetch('/api/notes', { method: 'POST', body });
  render([res.status, res.headers.get('Sealpost-Queued')]);
  notifyToggle.onchange = async () => {
    const { subscription, publicKey, keyId }: SubscribeResult = await sp.subscribe({ vapidPublicKey });
    await fetch('/api/subscriptions', { method: 'POST', body: JSON.stringify({ subscription, publicKey, keyId }) });
  };
  const flushed: FlushSummary = await sp.flush();
  await sp.flush('notes');
  const stats: WorkerStats = await sp.stats();
  render([stats.queues.notes?.pending, stats.wakeups.limit, flushed.throttled]);
  const prefs: Preferences = await sp.preferences();
  await sp.preferences({ mutedCategories: ['news'], quietHours: { start: '22:00', end: '07:00' } });
  const key: { publicKey: string; keyId: string } = await sp.pushKey();
  const shown: DeliverResult = await sp.deliver('base64url envelope');
  render([prefs, key, shown, await sp.inspect('notes', 'id')]);
  await sp.subscribe({ vapidPublicKey, timeoutMs: 10000 });
  const gone: boolean = await sp.unsubscribe();
  sp.addEventListener('sealpost', () => render(gone));
  sp.close();
  render(new SealpostConnection());
  render(await Outbox.open({ name: 'page-queue' }));
}
render(pageCalls);
