// The field-notes demo as a user drives it, in Debian's Chromium: a note written offline shows
// "queued (encrypted)", the inspector shows its ciphertext beside what the worker decrypts, the server's
// 503 switch shows "retrying in N s (http-503)", and the note ends "sent", once, at the server. Settings
// reach the worker. Screenshots of both pages go to test-results/; no CSP violation anywhere.
import test from 'node:test';
import assert from 'node:assert/strict';

import { screenshotPath } from './browser.js';
import { startWorld, until } from './sw-setup.js';

const chipOf = (page, text) => page.locator('.note', { hasText: text }).locator('.chip');

test('the field-notes demo: offline note, live states, inspector, switches, settings, screenshots', async (t) => {
  const world = await startWorld({ worker: { retry: { baseDelayMs: 1000, jitter: 'none' } } });
  t.after(() => world.close());
  const { page } = world;
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${world.demo.url}/`);
  await page.locator('#worker-state', { hasText: 'Protected' }).waitFor({ timeout: 15000 });

  // Online: sent at once.
  await page.fill('#note-text', 'Heron by the lock, 7:40');
  await page.click('button[type="submit"]');
  await until(async () => (await chipOf(page, 'Heron by the lock').textContent()) === 'sent', 'the first note sent');

  // The server will refuse with 503 + Retry-After (the demo's switch).
  await page.fill('#retry-after', '5');
  await page.click('#switches label:has(input[value="503"])');
  await until(async () => (await page.textContent('#switch-state')).includes('503'), 'the switch on');

  // Offline: queued, encrypted; the inspector shows the record and what it decrypts to.
  await world.context.setOffline(true);
  await page.fill('#note-text', 'Kingfisher under the footbridge');
  await page.click('button[type="submit"]');
  await until(async () => (await chipOf(page, 'Kingfisher').textContent()) === 'queued (encrypted)', 'the note queued');
  await page.click('#inspect-refresh');
  await until(async () => /0000 {2}01 /.test(await page.textContent('#inspect-cipher')), 'the ciphertext dump');
  const cipher = await page.textContent('#inspect-cipher');
  assert.ok(!cipher.includes('Kingfisher'), 'the stored record holds no note text');
  const plain = await until(async () => {
    const text = await page.textContent('#inspect-plain');
    return text.includes('/api/notes') ? text : null;
  }, 'the decrypted view');
  assert.match(plain, /^POST http:\/\/127\.0\.0\.1:\d+\/api\/notes/);
  assert.match(plain, /"text": "Kingfisher under the footbridge"/, 'the worker decrypted the body for the inspector');

  // Online again: the server answers 503 and the note shows its retry countdown.
  await world.context.setOffline(false);
  await page.click('#flush');
  await until(async () => /^retrying in \d+ s \(http-503\)$/.test(await chipOf(page, 'Kingfisher').textContent()),
    'the retry countdown', 20000);

  // Notifications, in context: the toggle asks (permission is granted in tests); with no push service
  // reachable the page says so, and simulated delivery seals at the server and shows the notification.
  await page.check('#notify-toggle');
  const notifyState = await until(async () => {
    const text = await page.textContent('#notify-state');
    return /^On|No push service/.test(text) ? text : null;
  }, 'the subscription outcome', 20000);
  assert.match(notifyState, /^On: replies arrive|^No push service could be reached .*"Simulate delivery" still works/);
  await page.click('#push-simulate');
  await until(async () => /notification shown/.test(await page.textContent('#push-result')), 'the simulated push');
  const shown = await page.evaluate(async () => (await navigator.serviceWorker.ready).getNotifications({ tag: 'reply' }));
  assert.equal(shown.length, 1);
  const device = (await world.api('GET', '/api/subscriptions')).subscriptions;
  assert.equal(device.length, 1, 'the device key is registered at the server');
  await page.screenshot({ path: screenshotPath('demo-main.png'), fullPage: true });

  // Back to 200: the next flush sends it (a page flush asks now; Retry-After holds it for 5 s).
  await page.click('#switches label:has(input[value="ok"])');
  const notes = await until(async () => {
    await page.evaluate(() => window.navigator.serviceWorker.controller.postMessage({ type: 'sealpost:flush' }));
    const list = await world.notes();
    return list.length === 2 ? list : null;
  }, 'both notes at the server', 60000, 2000);
  assert.deepEqual(notes.map((n) => n.text), ['Heron by the lock, 7:40', 'Kingfisher under the footbridge']);
  await until(async () => (await chipOf(page, 'Kingfisher').textContent()) === 'sent', 'the chip sent');

  // Settings: a muted category and quiet hours reach the worker's preferences.
  await page.goto(`${world.demo.url}/settings.html`);
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 15000 });
  await page.uncheck('input[name="category"][value="digest"]');
  await until(async () => (await page.textContent('#saved')).includes('Saved'), 'the settings saved');
  await page.check('#quiet-on');
  await until(async () => {
    const prefs = await page.evaluate(() => new Promise((resolve) => {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = (e) => resolve(e.data);
      navigator.serviceWorker.controller.postMessage({ type: 'sealpost:preferences' }, [port2]);
    }));
    return prefs.mutedCategories.includes('digest') && prefs.quietHours?.start === '22:00' ? prefs : null;
  }, 'the preferences in the worker');
  await page.screenshot({ path: screenshotPath('demo-settings.png'), fullPage: true });

  // A phone-sized view of the main page.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${world.demo.url}/`);
  await page.locator('#worker-state', { hasText: 'Protected' }).waitFor({ timeout: 15000 });
  await page.screenshot({ path: screenshotPath('demo-phone.png'), fullPage: true });

  assert.deepEqual(violations, []);
  assert.deepEqual(world.csp, []);
});
