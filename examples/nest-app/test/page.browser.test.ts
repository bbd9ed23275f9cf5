/**
 * The demo page in a real browser: Debian's headless Chromium, driven by
 * playwright-core, on the compiled demo in its own process (as `npm start`
 * runs it), which the test stops and starts again on the same port.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DemoProcess } from './demo-process.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** For one thing to show on the page; generous, as other suites may be loading the machine. */
const WAIT_MS = 30_000;
const screenshots = fileURLToPath(new URL('../test-results/', import.meta.url));

const skip =
  existsSync(CHROMIUM) || process.env.CI
    ? undefined
    : `${CHROMIUM} is missing (apt-get install chromium): the demo page's browser test is skipped`;
if (skip) process.stderr.write(`@wshub/example-nest-app: ${skip}\n`);

describe.skipIf(skip)(skip ?? 'the demo page in Chromium', () => {
  let browser: Browser;
  let demo: DemoProcess;
  let context: BrowserContext | undefined;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing; under CI the browser test must run (.ci/run installs chromium)`);
    }
    [browser, demo] = await Promise.all([
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 }),
      DemoProcess.start(),
    ]);
  }, 90_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && context) {
      mkdirSync(screenshots, { recursive: true });
      const file = `${screenshots}${task.name.replace(/[^\w-]+/g, '-')}.png`;
      await page.screenshot({ path: file, fullPage: true, timeout: 10_000 }).then(
        () => process.stderr.write(`screenshot of the failed page: ${file}\n`),
        (error: Error) => process.stderr.write(`no screenshot of the failed page: ${error.message}\n`),
      );
    }
    await context?.close();
    context = undefined;
  }, 30_000);

  afterAll(async () => {
    await Promise.all([browser?.close(), demo?.stop()]);
  }, 30_000);

  /** Opens the page in a fresh browser context, once its user picker is filled. */
  async function openPage(base = demo.base): Promise<void> {
    context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(base);
    await page.locator('[data-testid="user-picker"] option[value="bob-token"]').waitFor({ state: 'attached' });
  }

  async function signIn(token: string): Promise<void> {
    await page.getByTestId('user-picker').selectOption(token);
    await connectionState('open');
  }

  async function watchOrder(id: number): Promise<void> {
    await page.getByTestId('order-input').fill(String(id));
    await page.getByTestId('watch-button').click();
  }

  const connectionState = (state: string) =>
    page.locator(`[data-testid="connection-state"][data-state="${state}"]`).waitFor();
  /** The watch chip once the server has confirmed the watch (its answer to the watch request). */
  const activeWatch = (id: number) =>
    page.locator(`[data-testid="watch"][data-order-id="${id}"][data-confirmed="true"]`).waitFor();
  const notification = (text: string) => page.getByTestId('notification').filter({ hasText: text }).waitFor();

  async function setStatus(id: number, status: string): Promise<void> {
    const response = await fetch(`${demo.base}/orders/${id}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status }),
    });
    expect(response.status).toBe(202);
  }

  describe('a watched order', () => {
    it('shows its status updates, and keeps them coming across a server restart without a reload', async () => {
      await openPage();
      await page.evaluate(() => {
        (globalThis as { loadedOnce?: boolean }).loadedOnce = true;
      });
      await signIn('bob-token');
      await watchOrder(42);
      await activeWatch(42);
      await setStatus(42, 'shipped');
      await notification('order 42 is now "shipped"');

      const { port } = demo;
      expect(await demo.stop('SIGTERM'), demo.output).toBe(0);
      await connectionState('reconnecting');
      demo = await DemoProcess.start(port);
      await connectionState('open');
      await notification('reconnected; watching again: order 42');
      await activeWatch(42);
      await setStatus(42, 'delivered');
      await notification('order 42 is now "delivered"');

      expect(await page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
      expect(pageErrors).toEqual([]);
    }, 120_000);
  });

  describe('short-lived session tokens', () => {
    it('with 3 s tokens the page stays connected and keeps receiving for 10 s, renewing the session on the open socket', async () => {
      const shortLived = await DemoProcess.start(0, undefined, { TOKEN_TTL_MS: '3000' });
      try {
        await openPage(shortLived.base);
        await signIn('bob-token');
        await watchOrder(42);
        await activeWatch(42);
        const started = Date.now();
        for (let i = 1; Date.now() - started < 10_000; i++) {
          const response = await fetch(`${shortLived.base}/orders/42/status`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ status: `step ${i}` }),
          });
          expect(response.status).toBe(202);
          await notification(`order 42 is now "step ${i}"`);
          // Pacing the status changes over the 10 s, not waiting for an outcome.
          await new Promise((resolve) => setTimeout(resolve, 1500));
        }
        // Three lifetimes went by: the session was renewed, never lost.
        const tokens = Number(await page.getByTestId('session').getAttribute('data-tokens'));
        expect(tokens).toBeGreaterThanOrEqual(4);
        expect(await page.getByTestId('notification').filter({ hasText: 'connection lost' }).count()).toBe(0);
        await connectionState('open');
        expect(pageErrors).toEqual([]);
      } finally {
        await context?.close();
        context = undefined;
        await shortLived.stop();
      }
    }, 90_000);
  });

  describe('the live panel', () => {
    it('draws the hub’s last minute and follows connections and deliveries as they flow', async () => {
      await openPage();
      const panel = page.getByTestId('live-panel');
      await page.locator('[data-testid="live-panel"][data-state="live"]').waitFor();
      await signIn('alice-token');
      // The server samples once a second; the page redraws once a second.
      const figure = (id: string, attribute = 'data-value') => async () =>
        Number(await page.getByTestId(id).getAttribute(attribute));
      await expect.poll(figure('live-connections'), { timeout: WAIT_MS }).toBeGreaterThanOrEqual(1);
      await expect.poll(figure('live-users'), { timeout: WAIT_MS }).toBeGreaterThanOrEqual(1);
      const announcing = setInterval(() => {
        void fetch(`${demo.base}/announcements`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: 'tick' }),
        });
      }, 100);
      try {
        await expect.poll(figure('live-deliveries', 'data-peak'), { timeout: WAIT_MS }).toBeGreaterThan(0);
      } finally {
        clearInterval(announcing);
      }
      expect(Number(await panel.getAttribute('data-samples'))).toBeGreaterThan(1);
      expect(await page.locator('#live-chart rect.deliveries').count()).toBeGreaterThan(1);
      // The outbox: its database, no row left pending, and a status change's time from COMMIT to the hub.
      expect(await page.getByTestId('live-outbox').getAttribute('data-state')).toBe('ready');
      expect(await page.getByTestId('live-outbox').textContent()).toContain('PGlite');
      await setStatus(1, 'packed');
      await expect.poll(() => page.getByTestId('live-relay').getAttribute('data-value'), { timeout: WAIT_MS }).toMatch(/^\d+$/);
      await expect.poll(() => page.getByTestId('live-pending').getAttribute('data-value'), { timeout: WAIT_MS }).toBe('0');
      const connections = await page.getByTestId('live-line-connections').getAttribute('points');
      expect(connections?.split(' ').length).toBeGreaterThan(1);
      expect(pageErrors).toEqual([]);
    }, 60_000);
  });

  describe('a watch the server refuses', () => {
    it('is reported on the page and dropped from the list', async () => {
      await openPage();
      await signIn('carol-token');
      await watchOrder(42);
      await notification('not allowed to watch order 42');
      await watchOrder(7);
      await activeWatch(7);
      expect(await page.getByTestId('watch').allTextContents()).toEqual(['order 7 active']);
      expect(pageErrors).toEqual([]);
    }, 60_000);
  });
});
