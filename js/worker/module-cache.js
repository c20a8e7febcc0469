/**
 * sealpost.wasm in Cache Storage, so that a worker started offline still loads it: put there at install,
 * and read from there first by the loader (through its `fetchModule` option, never by replacing fetch).
 */
export const WASM_CACHE = 'sealpost-wasm';

/**
 * Puts the module in the cache (the install event's work), fresh from the network.
 * @param {CacheStorage} caches
 * @param {string} href  where the loader will look for the module
 */
export async function precacheModule(caches, href) {
  const cache = await caches.open(WASM_CACHE);
  await cache.add(new Request(href, { cache: 'reload', credentials: 'same-origin' }));
}

/**
 * The loader's `fetchModule`: the cached copy when there is one, else the network, whose answer (when
 * ok) also goes into the cache.
 * @param {{caches: () => (CacheStorage | undefined), fetch: (input: string, init: RequestInit) => Promise<Response>}} deps
 *   `caches` is read at each call (it may be missing, as in Node)
 * @returns {(url: URL) => Promise<Response>}
 */
export function moduleFetcher({ caches, fetch }) {
  const fetchModule = async (url) => {
    const href = String(url);
    try {
      const cached = await caches().match(href, { cacheName: WASM_CACHE });
      if (cached) return cached;
    } catch {
      // Cache Storage unavailable: fall through to the network.
    }
    const response = await fetch(href, { credentials: 'same-origin' });
    if (response.ok) {
      // Copied now: the loader starts reading the body as soon as it has the response.
      const copy = response.clone();
      Promise.resolve().then(() => caches().open(WASM_CACHE)).then((cache) => cache.put(href, copy)).catch(() => {});
    }
    return response;
  };
  /**
   * Deletes the cached module: called when the loader refused it (its SHA-256 is not this build's, e.g. a
   * page script swapped it), so the next load goes to the network.
   */
  fetchModule.discard = async () => {
    try {
      await caches()?.delete(WASM_CACHE);
    } catch {
      // Cache Storage unavailable: nothing was cached.
    }
  };
  return fetchModule;
}
