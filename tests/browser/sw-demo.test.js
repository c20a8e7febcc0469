// The field-notes demo as a user drives it, in Debian's Chromium: a note sent online is "sent" with one
// plain line in "What happened" and nothing left pending under the hood; a note written offline shows
// "queued (encrypted)", the inspector shows its ciphertext beside what the worker decrypts, the server's
// 503 switch shows "retrying in N s (http-503)", and the note ends "sent", once, at the server. The
// notification card shows its state and offers only what works in it. Settings reach the worker.
// Screenshots at desktop (1280×800) and phone (390×844, 2×, mobile) sizes go to test-results/, and with
// SEALPOST_UPDATE_SCREENSHOTS=1 to docs/screenshots/; each size is checked for overflow and layout first.
// No CSP violation anywhere.
import test from 'node:test';
import assert from 'node:assert/strict';

import { saveScreenshot } from './browser.js';
import { startWorld, until } from './sw-setup.js';

const chipOf = (page, text) => page.locator('.note', { hasText: text }).locator('.chip');
const NOTIFY_STATES = ['unsupported', 'denied', 'off', 'no-push-service', 'subscribed'];

/** What a person sees at this size: no sideways scrolling, the key parts on screen, the card's state. */
async function checkLayout(page, what) {
  const layout = await page.evaluate(() => {
    const box = (id) => {
      const r = document.getElementById(id).getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height };
    };
    return {
      viewport: window.innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
      compose: box('compose'), text: box('note-text'), notes: box('notes-title'), notify: box('notify-card'),
      composeCard: document.querySelector('.compose').getBoundingClientRect().toJSON(),
      notesCard: document.getElementById('notes-title').closest('section').getBoundingClientRect().toJSON(),
      inspectCard: document.getElementById('inspect-title').closest('section').getBoundingClientRect().toJSON(),
      notifyState: document.getElementById('notify-card').dataset.state,
      notifyText: document.getElementById('notify-text').textContent,
      wideElements: [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !el.closest('.sprite'))
        .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`).slice(0, 5),
    };
  });
  assert.ok(layout.scrollWidth <= layout.viewport, `${what}: no horizontal overflow (${layout.scrollWidth} > ${layout.viewport}: ${layout.wideElements})`);
  assert.deepEqual(layout.wideElements, [], `${what}: nothing sticks out on the right`);
  for (const part of ['compose', 'text', 'notes', 'notify']) {
    assert.ok(layout[part].width > 0 && layout[part].height > 0, `${what}: #${part} is visible`);
    assert.ok(layout[part].left >= 0 && layout[part].right <= layout.viewport, `${what}: #${part} is within the width`);
  }
  assert.ok(layout.compose.top < 844, `${what}: the compose form is on the first screen`);
  assert.ok(NOTIFY_STATES.includes(layout.notifyState), `${what}: the notification card shows a state (${layout.notifyState})`);
  assert.ok(layout.notifyText.length > 10, `${what}: the card says it in words`);
  await assert.doesNotReject(page.locator('#note-text').waitFor({ state: 'visible', timeout: 1000 }));
  await assert.doesNotReject(page.locator('button[type="submit"]').waitFor({ state: 'visible', timeout: 1000 }));
  return layout;
}

test('the field-notes demo: online and offline notes, plain events, inspector, notification states, settings, screenshots', async (t) => {
  const world = await startWorld({ worker: { retry: { baseDelayMs: 1000, jitter: 'none' } } });
  t.after(() => world.close());
  const { page } = world;
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${world.demo.url}/`);
  await page.locator('#worker-state', { hasText: 'Protected' }).waitFor({ timeout: 15000 });

  // Not subscribed: the card says so; "Send me a notification" waits, and says why.
  await until(async () => (await page.getAttribute('#notify-card', 'data-state')) === 'off', 'the card in its off state');
  assert.equal(await page.isDisabled('#push-send'), true, 'no subscription: nothing to send to');
  assert.equal(await page.isDisabled('#push-simulate'), true, 'no permission asked yet');
  assert.match(await page.textContent('#push-why'), /Turn on .Notify me about replies. first/);

  // Online: sent at once; one plain line says so, and nothing is left pending under the hood.
  await page.fill('#note-text', 'Heron by the lock, 7:40');
  await page.click('button[type="submit"]');
  await until(async () => (await chipOf(page, 'Heron by the lock').textContent()) === 'sent', 'the first note sent');
  await until(async () => (await page.locator('#story li[data-type="sent"]').count()) === 1, 'the sent line');
  assert.match(await page.textContent('#story li[data-type="sent"]'), /reached the server/);
  await page.click('#inspect-refresh');
  await until(async () => (await page.textContent('#inspect-cipher')) === 'Nothing is queued right now.', 'an empty inspector');
  assert.doesNotMatch(await page.textContent('#inspect-plain'), /pending/);
  assert.match(await page.textContent('#queue-summary'), /outbox empty/);

  // The server will refuse with 503 + Retry-After (the demo's switch).
  await page.fill('#retry-after', '5');
  await page.click('#switches label:has(input[value="503"])');
  await until(async () => (await page.textContent('#switch-state')).includes('503'), 'the switch on');

  // Offline: queued, encrypted; the inspector shows the record and what it decrypts to.
  await world.context.setOffline(true);
  await page.fill('#note-text', 'Kingfisher under the footbridge');
  await page.click('button[type="submit"]');
  await until(async () => (await chipOf(page, 'Kingfisher').textContent()) === 'queued (encrypted)', 'the note queued');
  assert.equal(await chipOf(page, 'Kingfisher').locator('use').getAttribute('href'), '#icon-lock', 'an SVG lock, not an emoji');
  await until(async () => /network is down/.test(await page.textContent('#story')), 'the plain queued line');
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
  await until(async () => /could not be sent yet: the server answered 503 \(busy\)/.test(await page.textContent('#story')),
    'the plain retry line');

  // Notifications, in context: the toggle asks (permission is granted in tests), with a spinner while it
  // waits; with no push service reachable the card says so and offers only simulated delivery.
  await page.check('#notify-toggle');
  const state = await until(async () => {
    const value = await page.getAttribute('#notify-card', 'data-state');
    return ['subscribed', 'no-push-service'].includes(value) ? value : null;
  }, 'the subscription outcome', 20000);
  if (state === 'no-push-service') {
    assert.equal(await page.isDisabled('#push-send'), true, 'no push service: the server cannot push here');
    assert.match(await page.textContent('#push-why'), /needs a push service/);
  }
  assert.equal(await page.isDisabled('#push-simulate'), false);
  await page.click('#push-simulate');
  await until(async () => /notification shown/.test(await page.textContent('#push-result')), 'the simulated push');
  const shown = await page.evaluate(async () => (await navigator.serviceWorker.ready).getNotifications({ tag: 'reply' }));
  assert.equal(shown.length, 1);
  const device = (await world.api('GET', '/api/subscriptions')).subscriptions;
  assert.equal(device.length, 1, 'the device key is registered at the server');
  await until(async () => /A notification arrived, sealed and signed/.test(await page.textContent('#story')), 'the push line');

  // Desktop: the left column's cards keep their 1rem gaps however tall the sidebar is.
  const desktop = await checkLayout(page, 'desktop');
  const side = await page.evaluate(() => document.querySelector('.side').getBoundingClientRect().height);
  assert.ok(side > desktop.composeCard.height + desktop.notesCard.height, 'the sidebar is the taller column here');
  assert.ok(Math.abs(desktop.notesCard.top - desktop.composeCard.bottom - 16) < 1, `compose → notes gap ${desktop.notesCard.top - desktop.composeCard.bottom}`);
  assert.ok(Math.abs(desktop.inspectCard.top - desktop.notesCard.bottom - 16) < 1, `notes → inspector gap ${desktop.inspectCard.top - desktop.notesCard.bottom}`);
  await saveScreenshot(page, 'demo-desktop.png', { fullPage: true });

  // Back to 200: the next flush sends it (a page flush asks now; Retry-After holds it for 5 s).
  await page.click('#switches label:has(input[value="ok"])');
  const notes = await until(async () => {
    await page.evaluate(() => window.navigator.serviceWorker.controller.postMessage({ type: 'sealpost:flush' }));
    const list = await world.notes();
    return list.length === 2 ? list : null;
  }, 'both notes at the server', 60000, 2000);
  assert.deepEqual(notes.map((n) => n.text), ['Heron by the lock, 7:40', 'Kingfisher under the footbridge']);
  await until(async () => (await chipOf(page, 'Kingfisher').textContent()) === 'sent', 'the chip sent');
  // One plain line per note sent, however many flushes (joined or not) the page asked for.
  await until(async () => (await page.locator('#story li[data-type="sent"]').count()) === 2, 'a second sent line');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const sentLines = await page.locator('#story li[data-type="sent"]').allTextContents();
  assert.equal(sentLines.length, 2, JSON.stringify(sentLines));
  assert.match(sentLines[0], /^“Kingfisher under the footbridge” reached the server\./);
  assert.ok(await page.locator('#log li[data-type="flushed"]').count() > 0, 'the raw events stay in the advanced view');
  assert.equal(await page.isVisible('#log'), false, 'closed until asked for');

  // Settings: a muted category and quiet hours reach the worker's preferences; the key id is advanced.
  await page.goto(`${world.demo.url}/settings.html`);
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 15000 });
  assert.equal(await page.isVisible('#key-id'), false, 'the device key id stays behind "Advanced"');
  assert.match(await page.textContent('#sub-state'), /^on, without a push service|^on: replies/);
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
  await saveScreenshot(page, 'demo-settings.png', { fullPage: true });

  // A phone (390×844 CSS pixels, 2×, mobile) on its own profile: a note written offline is queued.
  const phone = await startWorld({
    demo: world.demo,
    contextOptions: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  });
  try {
    await phone.page.goto(`${world.demo.url}/`);
    await phone.page.locator('#worker-state', { hasText: 'Protected' }).waitFor({ timeout: 15000 });
    await until(async () => NOTIFY_STATES.includes(await phone.page.getAttribute('#notify-card', 'data-state')), 'the phone card state');
    await phone.context.setOffline(true);
    await phone.page.fill('#note-text', 'Otter tracks on the towpath');
    await phone.page.click('button[type="submit"]');
    await until(async () => (await chipOf(phone.page, 'Otter tracks').textContent()) === 'queued (encrypted)', 'the phone note queued');
    await until(async () => (await phone.page.locator('.note').count()) === 3, 'the server\'s two notes beside it');
    const mobile = await checkLayout(phone.page, 'phone');
    assert.equal(mobile.viewport, 390);
    assert.ok(mobile.notesCard.top > mobile.composeCard.bottom, 'one column: the notes under the form');
    assert.equal(await phone.page.evaluate(() => window.devicePixelRatio), 2);
    await saveScreenshot(phone.page, 'demo-phone.png', { fullPage: true });
    await phone.context.setOffline(false);
  } finally {
    await phone.close({ keepServer: true });
  }

  assert.deepEqual(violations, []);
  assert.deepEqual(world.csp, []);
});
