// Shared by the worker suites: a scripted ServiceWorkerGlobalScope and a BroadcastChannel listener.
import { IDBFactory } from 'fake-indexeddb';

export const ORIGIN = 'https://app.example';

/** A service-worker global scope with just what installSealpost touches, recording what it does. */
export function fakeScope({ indexedDB = new IDBFactory() } = {}) {
  const listeners = new Map();
  const scope = {
    location: new URL(`${ORIGIN}/sw.js`),
    indexedDB,
    fetch: async () => new Response('{}', { status: 201 }),
    shown: [],
    opened: [],
    syncTags: [],
    added: [],
    addEventListener(type, fn) {
      scope.added.push(type);
      listeners.set(type, [...(listeners.get(type) ?? []), fn]);
    },
    registration: {
      sync: { register: async (tag) => { scope.syncTags.push(tag); } },
      showNotification: async (title, options) => { scope.shown.push({ title, options }); },
    },
    clients: {
      matchAll: async () => [],
      openWindow: async (url) => { scope.opened.push(url); return null; },
      claim: async () => {},
    },
    skipWaiting: async () => {},
    /** Dispatches a fake event; resolves when everything it passed to waitUntil/respondWith settled. */
    async dispatch(type, fields = {}) {
      const pending = [];
      let response = null;
      const event = {
        type,
        ...fields,
        waitUntil: (p) => pending.push(Promise.resolve(p)),
        respondWith: (p) => { response = Promise.resolve(p); },
      };
      for (const fn of listeners.get(type) ?? []) fn(event);
      const settled = await Promise.allSettled(pending);
      return { event, settled, response: response && await response, responded: response !== null };
    },
    /** Posts a protocol message with a reply port; resolves with the reply. */
    async ask(message) {
      const { port1, port2 } = new MessageChannel();
      const reply = new Promise((resolve) => { port1.onmessage = (e) => { port1.close(); resolve(e.data); }; });
      await scope.dispatch('message', { data: message, ports: [port2] });
      return reply;
    },
  };
  return scope;
}

/** Collects BroadcastChannel('sealpost') messages until closed. */
export function listen() {
  const channel = new BroadcastChannel('sealpost');
  const seen = [];
  channel.onmessage = (e) => seen.push(e.data);
  /** Resolves once `count` events match `predicate` (or after 2 s, with what there is). */
  const until = async (predicate, count = 1) => {
    for (let waited = 0; waited < 2000 && seen.filter(predicate).length < count; waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return seen.filter(predicate);
  };
  return { seen, until, close: () => channel.close() };
}
