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
    /** How often setOffline found the worker's navigator.onLine unchanged and set the emulation again. */
    emulationRepeats: 0,
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
  /** Starts the worker (CDP startWorker runs no event handler) and resolves once a version runs. */
  world.startWorker = async (ms = 10000) => {
    const running = () => (world.versions ?? []).some((v) => v.runningStatus === 'running');
    await world.cdp.send('ServiceWorker.startWorker', { scopeURL: world.scope });
    await until(running, 'the worker to run', ms, 20);
  };
  /** What the running worker's navigator.onLine says (null when it cannot be asked within `ms`). */
  world.workerOnline = async (ms = 5000) => {
    const worker = context.serviceWorkers().at(-1);
    if (!worker) return null;
    return Promise.race([worker.evaluate(() => navigator.onLine).catch(() => null), sleep(ms).then(() => null)]);
  };
  /**
   * Offline emulation on or off for the page and the worker. Playwright sends the emulation to the
   * worker's DevTools target, and Chromium holds that command while the worker is stopped: going offline
   * then never settles until something starts the worker, and going online can leave its next life
   * offline (BROWSER-TESTING.md). So the worker is started first, the emulation set, and the worker's
   * navigator.onLine checked; a life that missed the change gets it again (up to 3 times).
   */
  world.setOffline = async (offline) => {
    if (!world.cdp || !world.scope) {
      await context.setOffline(offline);
      return;
    }
    for (let round = 0; ; round += 1) {
      await world.startWorker();
      const setting = context.setOffline(offline);
      setting.catch(() => {}); // awaited below; this keeps a late rejection after a throw from going unhandled
      // Held while the worker stopped again meanwhile: start it, and the held command goes through.
      while (await Promise.race([setting.then(() => false), sleep(5000).then(() => true)])) await world.startWorker();
      await world.startWorker();
      const online = await world.workerOnline();
      if (online === !offline) return;
      if (round === 2) throw new Error(`the worker's navigator.onLine is ${online} after setOffline(${offline}), 3 times`);
      // Playwright sends nothing for a state it believes is set: flip it and back.
      world.emulationRepeats += 1;
      await context.setOffline(!offline);
    }
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
