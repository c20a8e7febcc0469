// The engine suites' driver for WebKitGTK (the engine of Safari): WebKitWebDriver on a free port, started
// under `xvfb-run -a` (MiniBrowser has no headless mode), and selenium-webdriver's `usingServer` (so it
// never tries to download a driver). See BROWSER-TESTING.md (shared) for what each call does in WebKit.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';

import { Builder } from 'selenium-webdriver';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a worker with no client lives on in WebKitGTK 2.50 (observed: gone after ~15 s). */
const CLIENTLESS_WORKER_MS = 16000;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The installed WebKitGTK version, e.g. '2.50.1' (from the package; the user agent does not say). */
function webkitVersion() {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', 'webkit2gtk-driver'], { encoding: 'utf8' }).split('-')[0];
  } catch {
    return 'unknown';
  }
}

/**
 * Wraps a page function so that WebDriver's executeAsyncScript runs it (async or not) with JSON arguments
 * and returns {value} or {error}. WebDriver scripts are not subject to the page's CSP.
 */
function asyncScript(fn) {
  return `const done = arguments[arguments.length - 1];
    const args = Array.prototype.slice.call(arguments, 0, -1);
    Promise.resolve().then(() => (${fn.toString()})(...args)).then(
      (value) => done({ value: value === undefined ? null : value }),
      (error) => done({ error: String(error && error.stack || error) }));`;
}

/** @returns {Promise<import('./scenarios.js').Driver>} */
export async function launchWebKit() {
  const port = await freePort();
  // Its own process group: close() ends xvfb-run, Xvfb, the driver and MiniBrowser, and nothing else.
  const server = spawn('xvfb-run', ['-a', 'WebKitWebDriver', `--port=${port}`],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  const stopServer = async () => {
    try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ }
    await Promise.race([exited, sleep(3000)]);
    try { process.kill(-server.pid, 'SIGKILL'); } catch { /* already gone */ }
  };
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    try {
      if ((await fetch(`${base}/status`)).ok) break;
    } catch { /* not listening yet */ }
    if (server.exitCode !== null || Date.now() - started > 30000) {
      await stopServer();
      throw new Error(`WebKitWebDriver did not start: ${stderr}`);
    }
    await sleep(100);
  }
  let driver;
  try {
    driver = await new Builder().usingServer(base).withCapabilities({
      browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { args: ['--automation'] },
    }).build();
    await driver.manage().setTimeouts({ script: 120000, pageLoad: 60000 });
  } catch (error) {
    await stopServer();
    throw error;
  }
  let current = null;

  const evaluate = async (fn, ...args) => {
    const result = await driver.executeAsyncScript(asyncScript(fn), ...args);
    if (result && 'error' in result) throw new Error(`in the page: ${result.error}`);
    return result?.value;
  };

  return {
    name: 'WebKit',
    version: `WebKitGTK ${webkitVersion()}`,
    async open(url) {
      await driver.get(url);
      current = url;
    },
    evaluate,
    async reload() {
      await driver.navigate().refresh();
    },
    /** Minimizing the window hides the page, also on bare Xvfb; setRect shows it again. */
    async setVisible(visible) {
      if (!visible) await driver.manage().window().minimize();
      else await driver.manage().window().setRect({ x: 0, y: 0, width: 1024, height: 768 });
    },
    /**
     * WebKit has no offline emulation (and the worker's network is not the page's anyway): the page is
     * sent the event itself, which is what sealpost/page listens for.
     */
    async setOnline(online) {
      await evaluate((type) => { window.dispatchEvent(new Event(type)); }, online ? 'online' : 'offline');
    },
    /**
     * No way to stop a worker: a worker left with no client is gone after ~15 s. The page goes to
     * about:blank and comes back; the navigation is the new life's first event.
     */
    async newWorkerLife(whileStopped) {
      const url = current;
      await driver.get('about:blank');
      await sleep(CLIENTLESS_WORKER_MS);
      await whileStopped?.();
      await driver.get(url);
    },
    /** WebKitWebDriver has no log endpoint: the errors the page recorded itself (fixtures/engines/page.js). */
    async consoleErrors() {
      return (await evaluate(() => window.pageErrors ?? null)) ?? [];
    },
    async close() {
      try {
        await driver.quit();
      } finally {
        await stopServer();
      }
    },
  };
}
