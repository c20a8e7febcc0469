// The engine suites' driver for Debian's Firefox ESR: puppeteer-core over WebDriver BiDi, headless, on a
// fresh profile. See BROWSER-TESTING.md (shared) for what each call does in Firefox.
import puppeteer from 'puppeteer-core';

export const FIREFOX = process.env.SEALPOST_FIREFOX ?? '/usr/bin/firefox-esr';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Notifications work headless with both prefs (the first alone makes showNotification reject). */
const PREFS = {
  'permissions.default.desktop-notification': 1,
  'alerts.useSystemBackend': false,
  'browser.shell.checkDefaultBrowser': false,
};

/**
 * @param {{workerIdleMs?: number}} [options]  workerIdleMs: stop an idle service worker after this long
 *   (dom.serviceWorkers.idle_timeout and idle_extended_timeout); Firefox's own default otherwise (30 s)
 * @returns {Promise<import('./scenarios.js').Driver>}
 */
export async function launchFirefox({ workerIdleMs } = {}) {
  const prefs = { ...PREFS };
  if (workerIdleMs !== undefined) {
    prefs['dom.serviceWorkers.idle_timeout'] = workerIdleMs;
    prefs['dom.serviceWorkers.idle_extended_timeout'] = workerIdleMs;
  }
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true,
    extraPrefsFirefox: prefs, protocolTimeout: 120000 });
  const page = await browser.newPage();
  const errors = [];
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' || /Content[- ]Security[- ]Policy|Refused to/i.test(text)) errors.push(text);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  // Violations the page sees, from the first script on (the demo's own pages do not record them).
  await page.evaluateOnNewDocument(() => {
    window.addEventListener('securitypolicyviolation', (e) => {
      console.error(`securitypolicyviolation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  let other = null;

  return {
    name: 'Firefox',
    version: await browser.version(),
    async open(url) {
      await page.goto(url, { waitUntil: 'load' });
    },
    evaluate(fn, ...args) {
      return page.evaluate(fn, ...args);
    },
    async reload() {
      await page.reload({ waitUntil: 'load' });
    },
    /** Another tab in front hides the page; bringing it back makes it visible (headless too). */
    async setVisible(visible) {
      if (!visible) {
        other ??= await browser.newPage();
        await other.bringToFront();
        return;
      }
      await page.bringToFront();
      if (other) {
        await other.close();
        other = null;
      }
    },
    /** Firefox's offline mode is the page's only (the worker's fetches still go out), with real events. */
    async setOnline(online) {
      await page.setOfflineMode(!online);
    },
    /**
     * The page stays; the worker, left idle, is stopped by the idle-timeout prefs (an event still holding
     * it open gets the extended timeout, set to the same). The page's next message starts a new life.
     */
    async newWorkerLife(whileStopped) {
      if (workerIdleMs === undefined) throw new Error('launchFirefox({workerIdleMs}) stops idle workers; this driver keeps them');
      await sleep(workerIdleMs * 3 + 1000);
      await whileStopped?.();
    },
    consoleErrors() {
      return [...errors];
    },
    async close() {
      await browser.close();
    },
  };
}
