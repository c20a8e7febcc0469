// Shared set-up of the service-worker browser suites: the demo server on a fresh data file, Chromium on a
// fresh (or given) profile with notifications and background sync granted, the test harness page
// controlled by the worker, and CDP for sync events, push messages and worker kills.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createDemoServer } from '../../sw-demo/server.js';
import { launch, watchCsp } from './browser.js';

export const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A fast retry policy so that the suites finish in seconds. */
export const FAST_WORKER = { retry: { baseDelayMs: 500, factor: 2, maxDelayMs: 5000, jitter: 'none' } };

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns a truthy value; throws with `what` after `ms`. */
export async function until(fn, what, ms = 15000, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

/**
 * Starts a demo server (unless `demo` is given) and a browser on the harness page.
 * @param {{worker?: object, page?: string, profile?: string, demo?: object, dataDir?: string,
 *   contextOptions?: object}} [options]  contextOptions: playwright's (viewport, isMobile, ...)
 */
export async function startWorld(options = {}) {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sealpost-sw-data-'));
  const demo = options.demo ?? await createDemoServer({
    port: 0, dataFile: join(dataDir, 'demo.json'), mounts: [['/t/', fixtures]], worker: options.worker ?? FAST_WORKER,
  });
  const browser = await launch({ profile: options.profile, contextOptions: options.contextOptions });
  const { context } = browser;
  await context.grantPermissions(['notifications', 'background-sync'], { origin: demo.url });
  const csp = watchCsp(context);
  const page = await context.newPage();
  const world = {
    demo, browser, context, page, csp, dataDir,
    /** The registration id that CDP's ServiceWorker domain uses for our worker. */
    registrationId: null,
    cdp: null,
  };

  world.open = async (path = options.page ?? '/t/harness.html') => {
    await page.goto(`${demo.url}${path}`);
    const ready = await page.evaluate(() => window.harnessReady);
    if (ready !== true) throw new Error(String(ready));
  };

  world.attachCdp = async () => {
    const cdp = await context.newCDPSession(page);
    const registrations = new Map();
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
      for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
    });
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => { world.versions = versions; });
    await cdp.send('ServiceWorker.enable');
    world.cdp = cdp;
    const scope = await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.scope));
    world.scope = scope;
    world.registrationId = await until(() => registrations.get(scope), `the registration of ${scope}`);
    return cdp;
  };

  world.dispatchSync = (tag, lastChance = false) => world.cdp.send('ServiceWorker.dispatchSyncEvent',
    { origin: demo.url, registrationId: world.registrationId, tag, lastChance });
  world.deliverPush = (data) => world.cdp.send('ServiceWorker.deliverPushMessage',
    { origin: demo.url, registrationId: world.registrationId, data });
  world.stopAllWorkers = () => world.cdp.send('ServiceWorker.stopAllWorkers');
  /**
   * Offline emulation on or off for the page and the worker. Going online while the worker is stopped can
   * leave its next life offline (BROWSER-TESTING.md): the worker is started first (CDP startWorker runs
   * no event handler), then the emulation lifted.
   */
  world.setOffline = async (offline) => {
    if (!offline && world.cdp && world.scope) await world.cdp.send('ServiceWorker.startWorker', { scopeURL: world.scope });
    await context.setOffline(offline);
  };

  world.api = async (method, path, body) => {
    const res = await fetch(`${demo.url}${path}`, {
      method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.json();
  };
  world.notes = async () => (await world.api('GET', '/api/notes')).notes;
  world.events = () => page.evaluate(() => window.events);
  world.stats = () => page.evaluate(() => window.sp.stats());
  world.pageViolations = async () => (await page.evaluate(() => window.cspViolations)) ?? [];

  world.close = async ({ keepProfile = false, keepServer = false } = {}) => {
    // Every suite runs under the demo's strict CSP: any violation, anywhere, fails the test that saw it.
    const pageViolations = await world.pageViolations().catch(() => []);
    await browser.close({ keepProfile });
    if (!keepServer) {
      await demo.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
    if (csp.length || pageViolations.length) {
      throw new Error(`Content-Security-Policy violations: ${JSON.stringify([...csp, ...pageViolations])}`);
    }
  };
  return world;
}
