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
  (error) => {
    $('worker-state').textContent = `No service worker: ${error.message}`;
    showNotify('unsupported', 'Notifications need a service worker, and none could start here.');
  },
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

/** → [label, kind, icon] of a note's chip. */
function chipFor(item) {
  switch (item.state) {
    case 'sending': return ['sending…', 'sending', 'clock'];
    case 'queued': return ['queued (encrypted)', 'queued', 'lock'];
    case 'retrying': {
      const seconds = Math.max(0, Math.ceil((item.nextAttemptAt - Date.now()) / 1000));
      return [seconds > 0 ? `retrying in ${seconds} s (${item.code})` : `retrying now (${item.code})`, 'retrying', 'retry'];
    }
    case 'sent': return ['sent', 'sent', 'check'];
    case 'dead': return [`dead (${item.code})`, 'dead', 'cross'];
    default: return [`not saved (${item.code})`, 'dead', 'cross'];
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
    const [label, kind, icon] = chipFor(item);
    const chip = node.querySelector('.chip');
    chip.querySelector('.chip-text').textContent = label;
    chip.querySelector('use').setAttribute('href', `#icon-${icon}`);
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

// ---------------------------------------------------------------- what happened (the event stream)

function byEntry(id) {
  return items.find((i) => i.entryId === id);
}

/** A note named by its first words, or "A note" when this page did not write it (or does not know it yet). */
function noteName(id, capital = true) {
  const text = id ? byEntry(id)?.text : null;
  if (!text) return capital ? 'A note' : 'a note';
  return `“${text.length > 32 ? `${text.slice(0, 30)}…` : text}”`;
}

/** Why a request was queued or retried, in plain words. */
function because(code) {
  if (code === 'network') return 'the network is down';
  if (code === 'timeout') return 'the server took too long to answer';
  if (code === 'behind-queue') return 'earlier notes are still waiting';
  const status = /^http-(\d+)$/.exec(code ?? '');
  if (status) {
    const words = { 429: 'too many requests', 500: 'a server error', 502: 'a bad gateway', 503: 'busy', 504: 'a gateway timeout' };
    return `the server answered ${status[1]}${words[status[1]] ? ` (${words[status[1]]})` : ''}`;
  }
  return code ?? 'an unknown reason';
}

/**
 * One plain line for the events a person cares about: each note's way to the server (one line per note
 * sent), pushes and clicks. Bookkeeping (enqueued, flushed, drained, page-flush) stays in the raw view.
 * @returns {[string, string, string] | null} [text, kind, icon]
 */
function plain(event) {
  switch (event.type) {
    case 'queued':
      return [`${noteName(event.id)} is kept on this device, encrypted: ${because(event.reason)}. It will be sent later.`, 'lock', 'lock'];
    case 'sent':
      return [`${noteName(event.id)} reached the server.`, 'ok', 'check'];
    case 'answered':
      return [`The server refused ${noteName(event.id, false)} (HTTP ${event.status}); it was not kept.`, 'bad', 'cross'];
    case 'retry-scheduled': {
      const seconds = Math.max(0, Math.round((event.nextAttemptAt - Date.now()) / 1000));
      return [`${noteName(event.id)} could not be sent yet: ${because(event.code)}. Next try in ${seconds} s.`, 'warn', 'retry'];
    }
    case 'dead-lettered':
      return [`${noteName(event.id)} was given up (${event.code}). It stays on this device.`, 'bad', 'cross'];
    case 'queue-failed':
      return [`A note could not be stored on this device (${event.code}), so it went out unprotected.`, 'bad', 'cross'];
    case 'throttled':
      return ['The worker woke up often this minute; waiting notes go out in a moment.', 'warn', 'clock'];
    case 'push-shown':
      return [event.silent ? `A notification arrived and was shown silently (${event.reason === 'quiet-hours' ? 'quiet hours' : 'muted in settings'}).`
        : 'A notification arrived, sealed and signed, and was shown.', 'ok', 'bell'];
    case 'push-rejected':
      return [`A push was refused (${event.code}); a generic notice was shown instead.`, 'bad', 'bell-off'];
    case 'notification-click':
      return [event.outcome === 'refused' ? 'A notification click pointed off this site and was ignored.' : 'You opened a notification.', 'ok', 'bell'];
    case 'preferences':
      return ['Notification settings saved on this device.', 'ok', 'check'];
    default:
      return null;
  }
}

/** The raw event's details: ids, codes, triggers (the "Advanced" view). */
function describe(event) {
  const bits = [];
  if (event.id) bits.push(String(event.id).slice(0, 8));
  if (event.code) bits.push(event.code);
  if (event.reason) bits.push(event.reason);
  if (event.status) bits.push(`HTTP ${event.status}`);
  if (event.trigger) bits.push(`by ${event.trigger}`);
  if (event.joined) bits.push('joined the running flush');
  if (typeof event.sent === 'number' && event.type === 'flushed' && !event.joined) bits.push(`sent ${event.sent}, left ${event.remaining}`);
  if (event.type === 'retry-scheduled' && event.nextAttemptAt) {
    bits.push(`next in ${Math.max(0, Math.round((event.nextAttemptAt - Date.now()) / 1000))} s`);
  }
  if (event.outcome) bits.push(event.outcome);
  if (event.type === 'page-flush') bits.push(`on ${event.reason}: sent ${event.sent ?? 0}`);
  return bits.join(' · ');
}

function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
  use.setAttribute('href', `#icon-${name}`);
  svg.append(use);
  return svg;
}

function addLine(list, node, max) {
  list.prepend(node);
  while (list.children.length > max) list.lastElementChild.remove();
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
  if (['sent', 'answered', 'retry-scheduled', 'dead-lettered', 'enqueued', 'queued', 'flushed'].includes(event.type)) {
    refreshStats();
    refreshInspect();
  }

  const line = plain(event);
  if (line) {
    const [text, kind, iconName] = line;
    const li = document.createElement('li');
    li.dataset.type = event.type;
    li.dataset.kind = kind;
    const words = document.createElement('span');
    words.textContent = text;
    const time = document.createElement('time');
    time.textContent = new Date(event.at ?? Date.now()).toLocaleTimeString();
    li.append(icon(iconName), words, time);
    addLine($('story'), li, 30);
    $('story-empty').hidden = true;
  }

  const li = document.createElement('li');
  const type = document.createElement('b');
  type.textContent = event.type;
  const detail = document.createElement('span');
  detail.textContent = describe(event);
  li.append(type, detail);
  li.dataset.type = event.type;
  addLine($('log'), li, 60);
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
let inspectAgain = false;
/**
 * Shows the newest queued note as IndexedDB holds it (the start of its sealed record) beside what the
 * worker decrypts it to: both through `sealpost:inspect`, never through the outbox's storage schema.
 */
async function refreshInspect() {
  // One refresh at a time; one asked for meanwhile runs after it, so the view never keeps a state (such
  // as `pending`) that an event has since changed.
  if (inspecting) {
    inspectAgain = true;
    return;
  }
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
    if (inspectAgain) {
      inspectAgain = false;
      refreshInspect();
    }
  }
}
$('inspect-refresh').addEventListener('click', refreshInspect);

// ---------------------------------------------------------------- notifications

/**
 * The notification card shows one state and offers only what works in it:
 *   checking        — finding out (spinner)
 *   unsupported     — no service worker or no notifications in this browser: nothing to offer
 *   denied          — blocked in the browser's site settings: only the way to unblock
 *   off             — not subscribed: the toggle (the buttons say why they wait)
 *   asking          — permission asked, then the push service (spinner)
 *   no-push-service — permission granted, the device key at the server, but no push service reachable:
 *                     "Simulate delivery" works, "Send me a notification" cannot
 *   subscribed      — a real subscription at the server: both buttons
 */
const NOTIFY = {
  checking: { text: 'Checking what this browser supports…' },
  unsupported: { text: 'This browser cannot show notifications from web pages, so replies cannot reach you here.', buttons: false },
  denied: { text: 'Notifications are blocked for this site. To get replies, allow them in the browser\'s site settings and reload the page.', buttons: false },
  off: { text: 'Off. Turning it on asks for permission.', toggle: true, why: 'Turn on “Notify me about replies” first.' },
  asking: { text: 'Asking for permission…', why: 'Waiting for the browser.' },
  'no-push-service': {
    text: 'On, but this browser could not reach a push service (offline, blocked, or none), so the server cannot push here.',
    toggle: true, checked: true, simulate: true,
    why: '“Send me a notification” needs a push service. “Simulate delivery” seals a notification at the server and hands it to the worker directly.',
  },
  subscribed: { text: 'On: replies arrive as sealed, signed pushes.', toggle: true, checked: true, send: true, simulate: true },
};

function showNotify(state, text) {
  const view = NOTIFY[state];
  $('notify-card').dataset.state = state;
  $('notify-text').textContent = text ?? view.text;
  $('notify-toggle').disabled = !view.toggle;
  if (state !== 'asking') $('notify-toggle').checked = view.checked === true; // asking: as the person set it
  $('push-buttons').hidden = view.buttons === false;
  $('push-send').disabled = !view.send;
  $('push-simulate').disabled = !view.simulate;
  $('push-why').textContent = view.buttons === false ? '' : view.why ?? '';
}

/** What this browser and the server say about notifications now. */
async function notifyState() {
  if (!('Notification' in window) || !('serviceWorker' in navigator)) return 'unsupported';
  if (Notification.permission === 'denied') return 'denied';
  if (Notification.permission !== 'granted') return 'off';
  const { keyId } = await sp.pushKey();
  const { status, body } = await api('GET', '/api/subscriptions');
  const mine = status === 200 ? body.subscriptions.find((s) => s.keyId === keyId) : null;
  if (!mine) return 'off';
  if (!mine.pushService) return 'no-push-service';
  const registration = await navigator.serviceWorker.ready;
  return (await registration.pushManager?.getSubscription()) ? 'subscribed' : 'off';
}

async function restoreNotify() {
  try {
    showNotify(await notifyState());
  } catch {
    showNotify('off', 'Off. The server could not be asked about this device just now; turning it on asks for permission.');
  }
}

async function enableNotifications() {
  showNotify('asking');
  try {
    // Asked here, in context (the toggle), never on load.
    const permission = await Notification.requestPermission();
    if (permission === 'denied') {
      showNotify('denied');
      return;
    }
    if (permission !== 'granted') {
      showNotify('off', 'Off: the browser did not grant permission. Turning it on asks again.');
      return;
    }
    showNotify('asking', 'Connecting to this browser\'s push service…');
    try {
      const { subscription } = await sp.subscribe({ vapidPublicKey: config.vapidPublicKey, timeoutMs: 8000 });
      await registerDevice(subscription);
      localStorage.setItem(NOTIFY_KEY, 'push');
      showNotify('subscribed');
    } catch (error) {
      if (error.code !== 'push-unavailable' && error.code !== 'push-unsupported') throw error;
      // No push service reachable (offline, blocked, or none in this browser): keep the device key at the
      // server anyway, so that "Simulate delivery" can seal for it.
      await registerDevice(null);
      localStorage.setItem(NOTIFY_KEY, 'simulated');
      showNotify('no-push-service');
    }
  } catch (error) {
    localStorage.removeItem(NOTIFY_KEY);
    showNotify('off', error.code === 'permission-denied' ? NOTIFY.denied.text
      : 'Could not turn notifications on: the server did not take this device\'s key. Try again in a moment.');
  }
}

async function disableNotifications() {
  showNotify('asking', 'Turning notifications off…');
  await sp.unsubscribe().catch(() => false);
  try {
    const { keyId } = await sp.pushKey();
    await api('DELETE', '/api/subscriptions', { keyId });
  } catch {
    // Offline: the server keeps the key until the next change; nothing can be pushed without a subscription.
  }
  localStorage.removeItem(NOTIFY_KEY);
  showNotify('off');
}

$('notify-toggle').addEventListener('change', (event) => {
  pushResult('');
  if (event.target.checked) enableNotifications();
  else disableNotifications();
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

/** What the push service said about one device, in plain words. */
function pushOutcome(result) {
  switch (result.status) {
    case 'sent': return 'the push service took it; the notification should appear in a moment';
    case 'expired': return 'the push service says this subscription has expired: turn notifications off and on again';
    case 'retry': return 'the push service is busy; try again in a moment';
    default: return 'the push service refused it';
  }
}

$('push-send').addEventListener('click', async () => {
  pushResult('Sealing and sending…');
  $('push-send').disabled = true;
  try {
    const { status, body } = await api('POST', '/api/push/send', { message: sample() });
    if (status === 409) {
      pushResult('The server has no push subscription for this device. Turn notifications off and on again.', 'warn');
      return;
    }
    if (status !== 200) {
      pushResult(`The server could not send it just now (HTTP ${status}). Try again in a moment.`, 'error');
      return;
    }
    const ok = body.results.every((r) => r.status === 'sent');
    const words = [...new Set(body.results.map(pushOutcome))].join('; ');
    pushResult(`${words.charAt(0).toUpperCase()}${words.slice(1)}.`, ok ? 'ok' : 'warn');
    if (body.results.some((r) => r.status === 'expired')) restoreNotify();
  } catch {
    pushResult('The server could not be reached: are you offline?', 'error');
  } finally {
    $('push-send').disabled = $('notify-card').dataset.state !== 'subscribed';
  }
});

$('push-simulate').addEventListener('click', async () => {
  pushResult('Sealing…');
  try {
    const { publicKey } = await sp.pushKey();
    const { status, body } = await api('POST', '/api/push/simulate', { publicKey, message: sample() });
    if (status !== 200) {
      pushResult(`The server could not seal it just now (HTTP ${status}). Try again in a moment.`, 'error');
      return;
    }
    const outcome = await sp.deliver(body.envelope);
    pushResult(outcome.shown === true
      ? `Delivered a ${body.bytes}-byte sealed envelope: notification shown${outcome.silent ? ' silently' : ''}.`
      : `The worker refused it (${outcome.code}) and showed a generic notice instead.`, outcome.shown === true ? 'ok' : 'warn');
  } catch {
    pushResult('The server could not be reached: are you offline?', 'error');
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

/**
 * Sends the switches as the form shows them when the send starts. One at a time, in order: editing
 * Retry-After and then picking a status fires two changes at once, and the server must end with the last.
 */
let switching = Promise.resolve();
function applySwitch() {
  switching = switching.then(async () => {
    const mode = document.querySelector('input[name="mode"]:checked').value;
    const seconds = Number($('retry-after').value);
    const retryAfter = Number.isFinite(seconds) && seconds > 0 ? seconds : null;
    const { status, body } = await api('POST', '/api/switches', { mode, retryAfter });
    if (status === 200) showSwitch(body);
  }).catch(() => {
    $('switch-state').textContent = 'The server could not be reached: are you offline?';
    $('switch-state').dataset.kind = 'error';
  });
  return switching;
}
$('switches').addEventListener('change', applySwitch);
$('retry-after').addEventListener('change', applySwitch);
loadSwitches();
render();
