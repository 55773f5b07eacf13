import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (`.ci/run` installs it); Playwright never downloads a browser of its own. */
export const CHROMIUM = process.env.HYPERPLANE_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  // Playwright gives every launch a fresh, temporary profile (user data dir) of its own.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export async function newPortalContext(browser: Browser, baseURL: string, colorScheme: 'light' | 'dark' = 'light'): Promise<BrowserContext> {
  return browser.newContext({ baseURL, viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1, colorScheme });
}

/** Where the browser suite keeps its screenshots: dist/screenshots (HYPERPLANE_SCREENSHOTS overrides; the README's come from docs/screenshots). */
export const SCREENSHOT_DIR = process.env.HYPERPLANE_SCREENSHOTS ?? join(__dirname, '..', '..', 'dist', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
}

export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-page="overview"]').waitFor();
}
