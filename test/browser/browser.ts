import { AxeBuilder } from '@axe-core/playwright';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { describe, expect } from 'vitest';

/**
 * Browser tests drive Debian's Chromium (`apt-get install chromium`; no browser download) with
 * playwright-core. Without it they are skipped with one line saying how to install it, except in
 * CI (`CI=true`), where a missing browser fails them.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
if (!haveChromium && !inCi) {
  console.log(`Browser tests skipped: no Chromium at ${CHROMIUM} (install it with: apt-get update && apt-get install -y chromium)`);
}

export const describeInBrowser = haveChromium || inCi ? describe : describe.skip;

const root = join(__dirname, '..', '..');
export const SCREENSHOTS = join(root, 'test-output', 'browser');

/** Builds the page into dist/web, as `npm run build` does, for the app's `web` function to serve. */
export async function buildWebApp(): Promise<void> {
  await build({ configFile: join(root, 'src', 'web', 'vite.config.mts'), logLevel: 'error' });
  // The page and its hashed assets, nothing else: what App Service Authentication lets through.
  expect(readdirSync(join(root, 'dist', 'web')).sort()).toEqual(['assets', 'index.html']);
}

export async function launchChromium(): Promise<Browser> {
  if (!haveChromium) throw new Error(`No Chromium at ${CHROMIUM}: .ci/run installs it with apt-get install -y chromium`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  // launch() gives every browser a new, empty profile (--user-data-dir in a temporary folder).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Errors the page logged: script errors and refused loads (the content security policy), not HTTP answers it handled. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) errors.push(message.text());
  });
  return errors;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, animations: 'disabled' });
}

/** axe-core on the page as it is now: no serious or critical violation of WCAG 2.1 A/AA. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  // Legacy mode runs axe in the page itself instead of opening another page for each scan (half
  // the time); it only loses cross-origin frames, and the app has no frames.
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
    .setLegacyMode(true)
    .analyze();
  const serious = results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes.map((node) => node.target.join(' ')).join('; ')}`);
  expect(serious, `accessibility of ${what}`).toEqual([]);
}

/**
 * Every value the page's progress bars take from now on, read from their aria-valuenow: what a
 * person (or a screen reader) saw, not just the end.
 */
export async function recordProgress(page: Page): Promise<() => Promise<number[]>> {
  await page.evaluate(() => {
    const seen: number[] = [];
    (window as unknown as { progressSeen: number[] }).progressSeen = seen;
    const read = () => {
      for (const bar of document.querySelectorAll('[role=progressbar]')) {
        const value = Number(bar.getAttribute('aria-valuenow'));
        if (seen.at(-1) !== value) seen.push(value);
      }
    };
    new MutationObserver(read).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });
  return () => page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
}
