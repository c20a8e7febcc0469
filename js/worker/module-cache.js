/**
 * sealpost.wasm in Cache Storage, so that a worker started offline still loads it: put there at install,
 * and the worker's own fetches of that one URL are answered from there first (the loader uses fetch()).
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

/** Replaces self.fetch so that a fetch of `href` is answered from the cache first, the network else. */
export function serveModuleFromCache(self, href) {
  const networkFetch = self.fetch;

  async function moduleResponse(input, init) {
    try {
      const cached = await caches.match(href, { cacheName: WASM_CACHE });
      if (cached) return cached;
    } catch {
      // Cache Storage unavailable: fall through to the network.
    }
    const response = await networkFetch.call(self, input, init);
    if (response.ok) caches.open(WASM_CACHE).then((cache) => cache.put(href, response.clone())).catch(() => {});
    return response;
  }

  self.fetch = function fetchWithCachedModule(input, init) {
    const url = typeof input === 'string' || input instanceof URL ? String(input) : input?.url;
    let target = null;
    try { target = url ? new URL(url, self.location.href).href : null; } catch { target = null; }
    if (target === href) return moduleResponse(input, init);
    return networkFetch.call(self, input, init);
  };
}
