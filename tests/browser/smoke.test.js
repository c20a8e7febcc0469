// The module loads and seals/opens in a page, a module service worker and a classic service worker,
// under the demo's strict CSP, with no CSP violation anywhere.
import test from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { createDemoServer } from '../../sw-demo/server.js';
import { CSP } from '../../sw-demo/static.js';
import { launch, watchCsp } from './browser.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

test('sealpost.wasm runs in a page, a module SW and a classic SW under the strict CSP', async (t) => {
  const demo = await createDemoServer({ port: 0, mounts: [['/smoke/', fixtures]] });
  const browser = await launch();
  t.after(async () => { await browser.close(); await demo.close(); });
  const cspConsole = watchCsp(browser.context);

  const page = await browser.context.newPage();
  const response = await page.goto(`${demo.url}/smoke/page.html`);
  assert.equal(response.headers()['content-security-policy'], CSP);
  assert.match(CSP, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  const result = await page.evaluate(() => window.smokeResult);

  const expected = { opened: 'hello from the smoke test', sealedLength: 25 + 49, tampered: 'record-tampered', keysDiffer: true };
  for (const where of ['page', 'module', 'classic']) {
    const { violations, ...rest } = result[where];
    assert.deepEqual(rest, expected, `${where}: ${JSON.stringify(result[where])}`);
    assert.deepEqual(violations ?? [], [], `${where} saw CSP violations`);
  }
  assert.deepEqual(result.violations, [], 'the page saw CSP violations');
  assert.deepEqual(cspConsole, [], 'the console reported CSP violations');
});
