/**
 * Receipts and `recover: { store: 'local' }` in a real browser: Debian's
 * headless Chromium, driven by playwright-core, against a real `WsHub` with
 * recovery and receipts. The page loads the built `dist/index.js` (`npx tsup`
 * first) and makes its client as it loads, as an app does on every load.
 */
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessageDelivered, MessageUndelivered } from '@wshub/core';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestHub } from '../support/hub.js';
import { hubEvent } from '../support/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = 10_000;
const dist = fileURLToPath(new URL('../../dist/', import.meta.url));

/** The app's page: on every load, a client that keeps its position in localStorage and logs each `notice`. */
const pageHtml = `<!doctype html><meta charset="utf-8"><title>wshub reload</title>
<script type="module">
  import { HubClient } from '/client/index.js';
  const hub = new URL(location.href).searchParams.get('hub');
  const log = { got: [], recovered: [], errors: [] };
  globalThis.log = log;
  const client = new HubClient(hub, { token: () => 'alice-token', recover: { store: 'local' } });
  globalThis.client = client;
  client.on('notice', (data, message) => log.got.push({ data, id: message.id }));
  client.on('recovered', (data) => log.recovered.push(data));
  client.on('error', (error) => log.errors.push(error.message));
</script>`;

const skip =
  existsSync(CHROMIUM) || process.env.CI ? undefined : `${CHROMIUM} is missing (apt-get install chromium): the reload browser test is skipped`;
if (skip) process.stderr.write(`@wshub/client: ${skip}\n`);

interface PageLog {
  got: Array<{ data: unknown; id: string | undefined }>;
  recovered: unknown[];
  errors: string[];
}

/**
 * Serves the page and `dist/` under `/client/` on 127.0.0.1, never cached.
 * While `hold` is set, the client's module waits for it: a reloaded page is
 * there (the old one gone, its socket closed) but has no client yet.
 */
async function servePage(): Promise<{ server: Server; base: string; hold(): () => void }> {
  let held: Promise<void> | undefined;
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' }).end(pageHtml);
      return;
    }
    const file = join(dist, path.replace(/^\/client\//, ''));
    if (!path.startsWith('/client/') || !file.startsWith(dist) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    if (path === '/client/index.js') await held;
    response.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' }).end(readFileSync(file));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const hold = () => {
    let release!: () => void;
    held = new Promise((resolve) => {
      release = resolve;
    });
    return () => {
      held = undefined;
      release();
    };
  };
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, hold };
}

describe.skipIf(skip)(skip ?? 'recover: { store: local } and receipts in Chromium', () => {
  let browser: Browser;
  let server: Server;
  let base: string;
  let hold: () => () => void;

  beforeAll(async () => {
    if (!existsSync(join(dist, 'index.js'))) throw new Error(`${dist}index.js is missing: build the client first (npx tsup)`);
    [browser, { server, base, hold }] = await Promise.all([
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 }),
      servePage(),
    ]);
  }, 90_000);

  afterAll(async () => {
    server?.closeAllConnections();
    server?.close();
    await browser?.close();
  }, 30_000);

  it('a page reloads: what was sent while it was away is handed to its handlers once, in order, and confirmed', async () => {
    // Confirmations after a reload count within undeliveredAfterMs: long enough for a loaded machine.
    const test = await TestHub.start({ recovery: true, receipts: { undeliveredAfterMs: 20_000 } });
    const delivered: MessageDelivered[] = [];
    const undelivered: MessageUndelivered[] = [];
    test.hub.on('delivered', (e) => delivered.push(e));
    test.hub.on('undelivered', (e) => undelivered.push(e));
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${base}?hub=${encodeURIComponent(test.url)}`);
      await page.waitForFunction(() => (globalThis as any).client?.state === 'open');
      const before = await test.hub.sendMessage('alice', 'notice', { n: 0 });
      await page.waitForFunction(() => (globalThis as any).log.got.length === 1);
      await expect.poll(() => delivered.map((e) => e.id), { timeout: WAIT_MS }).toEqual([before]);
      expect(await page.evaluate(() => localStorage.getItem('wshub:position'))).toMatch(/"offset":\d+/);

      // Reload; the new page's client waits while messages are sent.
      const release = hold();
      const gone = hubEvent(test.hub, 'disconnected', (e) => e.userId === 'alice');
      const reloading = page.reload({ waitUntil: 'commit' });
      await gone;
      expect(test.hub.socketsOf('alice')).toEqual([]);
      const missed: string[] = [];
      for (let n = 1; n <= 5; n++) missed.push(await test.hub.sendMessage('alice', 'notice', { n }));
      release();
      await reloading;
      await page.waitForFunction(() => (globalThis as any).log?.got.length >= 5);
      await expect.poll(() => delivered.map((e) => e.id), { timeout: WAIT_MS }).toEqual([before, ...missed]);
      // A little longer: a message handed out twice would come right behind.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const log: PageLog = await page.evaluate(() => (globalThis as any).log);
      expect(log.got).toEqual(missed.map((id, k) => ({ data: { n: k + 1 }, id })));
      expect(log.recovered).toEqual([{ recovered: true, missed: 5 }]);
      expect(log.errors).toEqual([]);
      expect(pageErrors).toEqual([]);
      expect(delivered.slice(1).every((e) => e.userId === 'alice' && e.late === undefined)).toBe(true);
      expect(delivered).toHaveLength(6);
      expect(undelivered).toEqual([]);
    } finally {
      await context.close();
      await test.stop();
    }
  }, 40_000);
});
