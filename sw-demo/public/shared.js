// What the demo's pages share: the service worker registration, the sealpost connection, the server's
// public configuration, and small DOM and API helpers.
import { connectSealpost } from '/sealpost/js/page.js';
import { config } from '/config.js';

export { config };

export const sp = connectSealpost();

/** Resolves when a service worker controls this page (registering /sw.js, a module worker, if needed). */
export const controlled = (async () => {
  if (!('serviceWorker' in navigator)) throw new Error('this browser has no service workers');
  await navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' });
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => {
      navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
    });
  }
})();

export const $ = (id) => document.getElementById(id);

/** JSON API call to the demo server; resolves with {status, body}. */
export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    // Every write is JSON (the server refuses anything else, so no form on another site can make one).
    headers: method === 'GET' ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  return { status: res.status, body: json, headers: res.headers };
}

/** The device's push key registered at the server (with a subscription when there is one). */
export async function registerDevice(subscription) {
  const { publicKey, keyId } = await sp.pushKey();
  const categories = ['replies', 'mentions', 'digest'];
  const res = await api('POST', '/api/subscriptions', { subscription: subscription ?? null, publicKey, keyId, categories });
  if (res.status !== 201) throw new Error(res.body?.error ?? `the server answered ${res.status}`);
  return { publicKey, keyId };
}

export const NOTIFY_KEY = 'field-notes:notify';
