// Launching Debian's Chromium with playwright-core for the browser suites (see shared BROWSER-TESTING.md).
import { copyFileSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.SEALPOST_CHROMIUM ?? '/usr/bin/chromium';
export const OUTPUT_DIR = fileURLToPath(new URL('../../test-results/', import.meta.url));
/** The screenshots README.md and docs/ show; refreshed only with SEALPOST_UPDATE_SCREENSHOTS=1. */
export const DOCS_SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * A persistent context on a fresh profile directory (reuse `profile` to relaunch on the same one);
 * `contextOptions` are playwright's (viewport, deviceScaleFactor, isMobile, ...).
 * @returns {Promise<{context: import('playwright-core').BrowserContext, profile: string, close: () => Promise<void>}>}
 */
export async function launch({ profile, contextOptions = {} } = {}) {
  const dir = profile ?? mkdtempSync(join(tmpdir(), 'sealpost-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, ...contextOptions,
  });
  return {
    context,
    profile: dir,
    async close({ keepProfile = false } = {}) {
      await context.close();
      if (!keepProfile) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Collects console lines that report a Content-Security-Policy violation. */
export function watchCsp(context) {
  const violations = [];
  context.on('console', (message) => {
    const text = message.text();
    if (/Content Security Policy|Refused to/i.test(text)) violations.push(text);
  });
  return violations;
}

export function screenshotPath(name) {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return join(OUTPUT_DIR, name);
}

/**
 * Takes a screenshot into test-results/ and, with SEALPOST_UPDATE_SCREENSHOTS=1, copies it to
 * docs/screenshots/ (the committed copies: an ordinary test run leaves the git tree as it was).
 * @returns {Promise<string>} the test-results path
 */
export async function saveScreenshot(page, name, options = {}) {
  const path = screenshotPath(name);
  await page.screenshot({ ...options, path });
  if (process.env.SEALPOST_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    copyFileSync(path, join(DOCS_SCREENSHOTS, name));
  }
  return path;
}
