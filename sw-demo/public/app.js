// Field notes: compose notes that survive being offline, watch each one's state live from sealpost's
// event stream, look at a queued record's ciphertext beside its decrypted form, and try notifications.
import { $, api, config, controlled, sp, registerDevice, NOTIFY_KEY } from '/shared.js';

/** @typedef {{localId: string, text: string, state: string, entryId?: string, code?: string,
 *   nextAttemptAt?: number, seq?: number, at: number}} NoteItem */

/** @type {NoteItem[]} this session's notes, newest first */
const items = [];
/** @type {Array<{seq: number, text: string, clientId: string | null, receivedAt: string}>} */
let serverNotes = [];

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

// ---------------------------------------------------------------- network and worker state

function showNetwork() {
  const online = navigator.onLine;
  $('network').textContent = online ? 'online' : 'offline';
  $('network').dataset.state = online ? 'online' : 'offline';
}
window.addEventListener('online', () => { showNetwork(); refreshServerNotes(); });
window.addEventListener('offline', showNetwork);
showNetwork();

controlled.then(
  () => {
    $('worker-state').textContent = 'Protected: if the network fails, the note is queued encrypted and sent later.';
    refreshStats();
    refreshInspect();
    restoreNotify();
  },
  (error) => { $('worker-state').textContent = `No service worker: ${error.message}`; },
);

// ---------------------------------------------------------------- composing

$('compose').addEventListener('submit', async (event) => {
  event.preventDefault();
  const textarea = $('note-text');
  const text = textarea.value.trim();
  if (!text) return;
  const item = { localId: crypto.randomUUID(), text, state: 'sending', at: Date.now() };
  items.unshift(item);
  textarea.value = '';
  render();
  try {
    const res = await fetch('/api/notes', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text, clientId: item.localId }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status === 202 && body.queued) {
      item.state = 'queued';
      item.entryId = body.id;
    } else if (res.ok) {
      item.state = 'sent';
      item.seq = body.note?.seq;
    } else {
      item.state = 'failed';
      item.code = `http-${res.status}`;
    }
  } catch (error) {
    item.state = 'failed';
    item.code = error.message;
  }
  render();
  refreshStats();
  if (item.state === 'queued') refreshInspect();
  if (item.state === 'sent') refreshServerNotes();
});

// ---------------------------------------------------------------- the notes list

function chipFor(item) {
  switch (item.state) {
    case 'sending': return ['sending…', 'sending'];
    case 'queued': return ['queued (encrypted)', 'queued'];
    case 'retrying': {
      const seconds = Math.max(0, Math.ceil((item.nextAttemptAt - Date.now()) / 1000));
      return [seconds > 0 ? `retrying in ${seconds} s (${item.code})` : `retrying now (${item.code})`, 'retrying'];
    }
    case 'sent': return ['sent', 'sent'];
    case 'dead': return [`dead (${item.code})`, 'dead'];
    default: return [`not saved (${item.code})`, 'dead'];
  }
}

function render() {
  const list = $('notes');
  const template = /** @type {HTMLTemplateElement} */ ($('note-template'));
  const mine = new Set(items.map((i) => i.localId));
  const rows = [
    ...items,
    ...serverNotes.filter((n) => !mine.has(n.clientId)).reverse().map((n) => ({
      localId: `server-${n.seq}`, text: n.text, state: 'sent', seq: n.seq, at: Date.parse(n.receivedAt),
    })),
  ];
  list.replaceChildren(...rows.map((item) => {
    const node = template.content.firstElementChild.cloneNode(true);
    node.dataset.state = item.state;
    if (item.entryId) node.dataset.entry = item.entryId;
    node.querySelector('.note-text').textContent = item.text;
    const [label, kind] = chipFor(item);
    const chip = node.querySelector('.chip');
    chip.textContent = label;
    chip.dataset.kind = kind;
    node.querySelector('.note-time').textContent = timeFormat.format(item.at);
    return node;
  }));
  $('notes-empty').hidden = rows.length > 0;
}

setInterval(() => {
  if (items.some((i) => i.state === 'retrying')) render();
}, 1000);

async function refreshServerNotes() {
  try {
    const { status, body } = await api('GET', '/api/notes');
    if (status !== 200) return;
    serverNotes = body.notes;
    for (const item of items) {
      const stored = serverNotes.find((n) => n.clientId === item.localId);
      if (stored && item.state !== 'sent') { item.state = 'sent'; item.seq = stored.seq; }
    }
    render();
  } catch {
    // Offline: the list shows what this session knows.
  }
}
refreshServerNotes();

async function refreshStats() {
  try {
    const { queues } = await sp.stats();
    const notes = queues.notes ?? { pending: 0, inflight: 0, dead: 0 };
    const waiting = notes.pending + notes.inflight;
    const parts = [];
    if (waiting) parts.push(`${waiting} waiting in the outbox`);
    if (notes.dead) parts.push(`${notes.dead} dead`);
    $('queue-summary').textContent = parts.length ? parts.join(' · ') : 'outbox empty';
  } catch {
    $('queue-summary').textContent = '';
  }
}

// ---------------------------------------------------------------- the event stream

function byEntry(id) {
  return items.find((i) => i.entryId === id);
}

function describe(event) {
  const bits = [];
  if (event.id) bits.push(String(event.id).slice(0, 8));
  if (event.code) bits.push(event.code);
  if (event.trigger) bits.push(`by ${event.trigger}`);
  if (typeof event.sent === 'number' && event.type === 'flushed') bits.push(`sent ${event.sent}, left ${event.remaining}`);
  if (event.type === 'retry-scheduled' && event.nextAttemptAt) {
    bits.push(`next in ${Math.max(0, Math.round((event.nextAttemptAt - Date.now()) / 1000))} s`);
  }
  if (event.outcome) bits.push(event.outcome);
  if (event.type === 'page-flush') bits.push(`on ${event.reason}: sent ${event.sent ?? 0}`);
  return bits.join(' · ');
}

sp.on((event) => {
  const item = event.id ? byEntry(event.id) : null;
  if (item) {
    if (event.type === 'retry-scheduled') Object.assign(item, { state: 'retrying', code: event.code, nextAttemptAt: event.nextAttemptAt });
    if (event.type === 'sent') item.state = 'sent';
    if (event.type === 'dead-lettered') Object.assign(item, { state: 'dead', code: event.code });
    render();
  }
  if (event.type === 'sent' || event.type === 'drained') refreshServerNotes();
  if (['sent', 'retry-scheduled', 'dead-lettered', 'enqueued', 'flushed'].includes(event.type)) {
    refreshStats();
    refreshInspect();
  }
  const log = $('log');
  const li = document.createElement('li');
  const type = document.createElement('b');
  type.textContent = event.type;
  const detail = document.createElement('span');
  detail.textContent = describe(event);
  li.append(type, detail);
  li.dataset.type = event.type;
  log.prepend(li);
  while (log.children.length > 30) log.lastElementChild.remove();
});

$('flush').addEventListener('click', () => { sp.flush().catch(() => {}); });

// ---------------------------------------------------------------- under the hood

/** The first bytes of a sealed record, eight to a line; `size` is the whole record's. */
function hexDump(bytes, size) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 8) {
    const row = Array.from(bytes.subarray(i, i + 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    lines.push(`${i.toString(16).padStart(4, '0')}  ${row}`);
  }
  if (size > bytes.length) lines.push(`…  ${size - bytes.length} more bytes`);
  return lines.join('\n');
}

/** A JSON body indented, anything else as it is. */
function prettyBody(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

let inspecting = false;
/**
 * Shows the newest queued note as IndexedDB holds it (the start of its sealed record) beside what the
 * worker decrypts it to: both through `sealpost:inspect`, never through the outbox's storage schema.
 */
async function refreshInspect() {
  if (inspecting) return;
  inspecting = true;
  try {
    const item = items.find((i) => i.entryId && ['queued', 'retrying'].includes(i.state));
    if (!item) {
      $('inspect-cipher').textContent = 'Nothing is queued right now.';
      $('inspect-plain').textContent = '—';
      return;
    }
    let entry;
    try {
      entry = await sp.inspect('notes', item.entryId);
    } catch (error) {
      $('inspect-cipher').textContent = '—';
      $('inspect-plain').textContent = `The worker would not decrypt it: ${error.code ?? error.message}`;
      return;
    }
    if (entry === null) {
      $('inspect-cipher').textContent = 'Sent meanwhile: nothing left at rest.';
      $('inspect-plain').textContent = 'Sent meanwhile: nothing left to decrypt.';
      return;
    }
    const { id, state, attempts, lastError, size } = entry;
    $('inspect-cipher').textContent = `${JSON.stringify({ id, state, attempts, lastError, size }, null, 1)}\n\n`
      + (entry.sealed ? hexDump(new Uint8Array(entry.sealed), entry.sealedSize) : '(no record)');
    $('inspect-plain').textContent = entry.error ? `The worker would not decrypt it: ${entry.error}`
      : `${entry.method} ${entry.url}\n\n${JSON.stringify({
        state, attempts, lastError,
        nextAttempt: entry.nextAttemptAt ? new Date(entry.nextAttemptAt).toLocaleTimeString() : null,
      }, null, 2)}\n\n${entry.body === undefined ? '(the body stays sealed)' : prettyBody(entry.body)}`;
  } finally {
    inspecting = false;
  }
}
$('inspect-refresh').addEventListener('click', refreshInspect);

// ---------------------------------------------------------------- notifications

function setNotifyState(text, kind = '') {
  $('notify-state').textContent = text;
  $('notify-state').dataset.kind = kind;
}

async function enableNotifications() {
  setNotifyState('Asking for permission…');
  try {
    const { subscription } = await sp.subscribe({ vapidPublicKey: config.vapidPublicKey, timeoutMs: 8000 });
    await registerDevice(subscription);
    localStorage.setItem(NOTIFY_KEY, 'push');
    setNotifyState('On: replies arrive as sealed, signed pushes.', 'ok');
  } catch (error) {
    if (error.code === 'push-unavailable') {
      // No push service reachable (offline, blocked, or none in this browser): keep the device key at the
      // server anyway, so that "Simulate delivery" can seal for it.
      await registerDevice(null).catch(() => {});
      localStorage.setItem(NOTIFY_KEY, 'simulated');
      setNotifyState('No push service could be reached from this browser (offline, blocked, or none), so real pushes '
        + 'cannot arrive here. "Simulate delivery" still works.', 'warn');
      return;
    }
    $('notify-toggle').checked = false;
    localStorage.removeItem(NOTIFY_KEY);
    setNotifyState(error.code === 'permission-denied'
      ? 'Notifications are blocked for this site. Allow them in the browser\'s site settings.'
      : `Could not turn notifications on: ${error.message}`, 'error');
  }
}

function restoreNotify() {
  const mode = localStorage.getItem(NOTIFY_KEY);
  $('notify-toggle').checked = mode !== null && Notification.permission === 'granted';
  if (mode === 'push' && Notification.permission === 'granted') setNotifyState('On: replies arrive as sealed, signed pushes.', 'ok');
  if (mode === 'simulated' && Notification.permission === 'granted') setNotifyState('On, without a push service: use "Simulate delivery".', 'warn');
}

$('notify-toggle').addEventListener('change', async (event) => {
  if (event.target.checked) {
    await enableNotifications();
  } else {
    await sp.unsubscribe().catch(() => false);
    const { keyId } = await sp.pushKey();
    await api('DELETE', '/api/subscriptions', { keyId });
    localStorage.removeItem(NOTIFY_KEY);
    setNotifyState('Off. Turning it on asks for permission.');
  }
});

const sample = () => ({
  title: 'Anna replied to your note',
  body: 'Saw the same heron by the lock this morning!',
  tag: 'reply',
  url: '/',
  category: 'replies',
  actions: [{ action: 'not-useful', title: 'Not useful' }],
});

function pushResult(text, kind = '') {
  $('push-result').textContent = text;
  $('push-result').dataset.kind = kind;
}

$('push-send').addEventListener('click', async () => {
  pushResult('Sealing and sending…');
  const { status, body } = await api('POST', '/api/push/send', { message: sample() });
  if (status !== 200) {
    pushResult(body?.error ?? `The server answered ${status}.`, 'error');
    return;
  }
  const summary = body.results.map((r) => r.status + (r.error ? ` (${r.error})` : '')).join(', ');
  pushResult(`Push service: ${summary}.`, body.results.every((r) => r.status === 'sent') ? 'ok' : 'warn');
});

$('push-simulate').addEventListener('click', async () => {
  if (Notification.permission !== 'granted') {
    pushResult('Turn on "Notify me about replies" first: the browser only shows notifications with permission.', 'warn');
    return;
  }
  pushResult('Sealing…');
  try {
    const { publicKey } = await sp.pushKey();
    const { status, body } = await api('POST', '/api/push/simulate', { publicKey, message: sample() });
    if (status !== 200) throw new Error(body?.error ?? `the server answered ${status}`);
    const outcome = await sp.deliver(body.envelope);
    pushResult(outcome.shown === true
      ? `Delivered a ${body.bytes}-byte sealed envelope: notification shown${outcome.silent ? ' silently' : ''}.`
      : `The worker refused it (${outcome.code}) and showed the fallback.`, outcome.shown === true ? 'ok' : 'warn');
  } catch (error) {
    pushResult(`Could not simulate: ${error.message}`, 'error');
  }
});

// ---------------------------------------------------------------- server switches

async function loadSwitches() {
  const { status, body } = await api('GET', '/api/switches').catch(() => ({ status: 0 }));
  if (status !== 200) return;
  const radio = document.querySelector(`input[name="mode"][value="${body.mode}"]`);
  if (radio) radio.checked = true;
  showSwitch(body);
}

function showSwitch({ mode, retryAfter }) {
  $('switch-state').textContent = mode === 'ok'
    ? 'The server accepts notes.'
    : `The server answers ${mode}${retryAfter !== null && retryAfter !== undefined ? ` with Retry-After: ${retryAfter}` : ''}.`;
  $('switch-state').dataset.kind = mode === 'ok' ? 'ok' : 'warn';
}

async function applySwitch() {
  const mode = document.querySelector('input[name="mode"]:checked').value;
  const seconds = Number($('retry-after').value);
  const retryAfter = Number.isFinite(seconds) && seconds > 0 ? seconds : null;
  const { status, body } = await api('POST', '/api/switches', { mode, retryAfter });
  if (status === 200) showSwitch(body);
}
$('switches').addEventListener('change', applySwitch);
$('retry-after').addEventListener('change', applySwitch);
loadSwitches();
render();
