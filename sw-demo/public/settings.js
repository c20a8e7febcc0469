// Settings: categories and quiet hours go to the worker (sealpost:preferences, kept in IndexedDB);
// unsubscribe removes the push subscription and the device's registration at the server.
import { $, api, controlled, sp, NOTIFY_KEY } from '/shared.js';

const boxes = () => [...document.querySelectorAll('input[name="category"]')];

function saved(text, kind = 'ok') {
  $('saved').textContent = text;
  $('saved').dataset.kind = kind;
}

function show(preferences) {
  for (const box of boxes()) box.checked = !preferences.mutedCategories.includes(box.value);
  $('quiet-on').checked = preferences.quietHours !== null;
  if (preferences.quietHours) {
    $('quiet-start').value = preferences.quietHours.start;
    $('quiet-end').value = preferences.quietHours.end;
  }
  $('quiet-start').disabled = !$('quiet-on').checked;
  $('quiet-end').disabled = !$('quiet-on').checked;
}

async function save() {
  const set = {
    mutedCategories: boxes().filter((b) => !b.checked).map((b) => b.value),
    quietHours: $('quiet-on').checked ? { start: $('quiet-start').value, end: $('quiet-end').value } : null,
  };
  try {
    show(await sp.preferences(set));
    saved('Saved on this device.');
  } catch (error) {
    saved(`Not saved: ${error.message}`, 'error');
  }
}

async function showDevice() {
  const { keyId } = await sp.pushKey();
  $('key-id').textContent = keyId;
  const { body } = await api('GET', '/api/subscriptions');
  const mine = body?.subscriptions?.find((s) => s.keyId === keyId);
  $('sub-state').textContent = !mine ? 'off on this device'
    : mine.pushService ? 'on: replies arrive as sealed, signed pushes' : 'on, without a push service (simulated delivery only)';
  $('push-host').textContent = mine?.pushService ?? 'none';
  $('unsubscribe').disabled = !mine;
}

controlled.then(async () => {
  show(await sp.preferences());
  await showDevice();
  document.body.dataset.ready = 'true';
}, (error) => saved(`No service worker: ${error.message}`, 'error'));

$('settings').addEventListener('change', save);
$('settings').addEventListener('submit', (event) => event.preventDefault());

$('unsubscribe').addEventListener('click', async () => {
  await sp.unsubscribe().catch(() => false);
  const { keyId } = await sp.pushKey();
  const { body } = await api('DELETE', '/api/subscriptions', { keyId });
  localStorage.removeItem(NOTIFY_KEY);
  saved(body?.removed ? 'This device is unsubscribed.' : 'This device had no subscription.');
  await showDevice();
});
