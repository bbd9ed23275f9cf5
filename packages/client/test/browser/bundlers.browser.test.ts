/**
 * `share: true` in an app built by each bundler the README names: a tiny app
 * that imports `HubClient` from '@wshub/client' as a user would, built with
 * the bundler's JS API and exactly the configuration the README says it
 * needs ("What the worker file needs"), served on 127.0.0.1, opened in two
 * tabs of Debian's headless Chromium against a real `WsHub`; and the same
 * app in Vite's dev server, with no configuration. The package is
 * installed into the app's `node_modules` as npm would (package.json and
 * `dist/`: `npx tsup` first).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestHub } from '../support/hub.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = 10_000;
const packageDir = fileURLToPath(new URL('../../', import.meta.url));

const skip =
  existsSync(CHROMIUM) || process.env.CI ? undefined : `${CHROMIUM} is missing (apt-get install chromium): the bundlers' browser test is skipped`;
if (skip) process.stderr.write(`@wshub/client: ${skip}\n`);

/** The app's one module: what a user writes. The hub's URL comes in the page's query. */
const MAIN_JS = `import { HubClient } from '@wshub/client';

const hub = new URLSearchParams(location.search).get('hub');
const client = new HubClient(hub, { share: true, token: () => 'alice-token' });
const log = { notices: [], errors: [], states: [] };
client.on('notice', (data) => log.notices.push(data));
client.on('error', (error) => log.errors.push(error.message));
client.on('state', (state) => log.states.push(state));
globalThis.app = { client, log };
`;

/** The page of an app whose bundler writes none: webpack's output is a classic script, esbuild's (`format: 'esm'`) a module. */
const page = (script: string) => `<!doctype html><meta charset="utf-8"><title>wshub bundled</title>\n${script}\n`;

type Bundler = 'vite' | 'webpack' | 'esbuild';

/**
 * Builds the app in `app` into `app/dist-<bundler>` and returns that directory. Each
 * configuration is the README's for that bundler: where the app is, where the output
 * goes, and what the README says to add (esbuild: `format: 'esm'` and the worker as an entry point).
 */
async function build(bundler: Bundler | 'esbuild-without-worker-entry', app: string): Promise<string> {
  const out = join(app, `dist-${bundler}`);
  if (bundler === 'vite') {
    const { build } = await import('vite');
    // `vite build` with no config file.
    await build({ root: app, configFile: false, logLevel: 'warn', build: { outDir: out } });
  } else if (bundler === 'webpack') {
    const { default: webpack } = await import('webpack');
    const stats = await new Promise<import('webpack').Stats>((resolve, reject) =>
      webpack({ mode: 'production', context: app, entry: './main.js', output: { path: out } }, (error, result) =>
        error || !result ? reject(error ?? new Error('webpack gave no stats')) : resolve(result),
      ),
    );
    if (stats.hasErrors()) throw new Error(stats.toString('errors-only'));
    writeFileSync(join(out, 'index.html'), page('<script src="/main.js"></script>'));
  } else {
    const esbuild = await import('esbuild');
    const entryPoints = [{ in: 'main.js', out: 'main' }];
    if (bundler === 'esbuild') entryPoints.push({ in: 'node_modules/@wshub/client/dist/shared-worker.js', out: 'shared-worker' });
    await esbuild.build({ absWorkingDir: app, entryPoints, bundle: true, format: 'esm', outdir: out, logLevel: 'warning' });
    writeFileSync(join(out, 'index.html'), page('<script type="module" src="/main.js"></script>'));
  }
  return out;
}

interface Served {
  base: string;
  close(): Promise<void>;
  /** Every script a shared worker was started from (`Sec-Fetch-Dest: sharedworker`), with the file served for it, if any. */
  workerScripts: Array<{ path: string; file: string | undefined }>;
}

/** Serves `out`, and nothing else, on 127.0.0.1. */
async function serve(out: string): Promise<Served> {
  const types: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' };
  const workerScripts: Served['workerScripts'] = [];
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const file = join(out, path === '/' ? 'index.html' : path);
    const found = file.startsWith(out + sep) && existsSync(file) ? file : undefined;
    if (request.headers['sec-fetch-dest'] === 'sharedworker') workerScripts.push({ path, file: found && relative(out, found) });
    if (!found) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    response.end(readFileSync(file));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const close = async () => {
    server.closeAllConnections();
    server.close();
  };
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close, workerScripts };
}

/** Vite's dev server on the app, as `vite` with no config file would run it, on 127.0.0.1. */
async function serveDev(app: string): Promise<Served> {
  const { createServer } = await import('vite');
  const server = await createServer({ root: app, configFile: false, logLevel: 'warn', server: { host: '127.0.0.1', port: 0 } });
  const workerScripts: Served['workerScripts'] = [];
  // Ahead of Vite's own handlers: which URL the worker was started from.
  server.httpServer!.prependListener('request', (request: IncomingMessage) => {
    if (request.headers['sec-fetch-dest'] === 'sharedworker') workerScripts.push({ path: request.url ?? '', file: undefined });
  });
  await server.listen();
  return { base: server.resolvedUrls!.local[0]!, close: () => server.close(), workerScripts };
}

interface AppLog {
  notices: unknown[];
  errors: string[];
  states: string[];
}

describe.skipIf(skip)(skip ?? "share: true in an app built by Vite, webpack 5 and esbuild, in Chromium", () => {
  let browser: Browser;
  let hub: TestHub;
  let app: string;
  let context: BrowserContext | undefined;
  let served: Served | undefined;

  beforeAll(async () => {
    if (!existsSync(join(packageDir, 'dist/shared-worker.js'))) throw new Error(`${packageDir}dist/shared-worker.js is missing: build the client first (npx tsup)`);
    // The app, with the package installed in its node_modules as npm would: package.json and dist/.
    app = mkdtempSync(join(tmpdir(), 'wshub-bundlers-'));
    const installed = join(app, 'node_modules/@wshub/client');
    mkdirSync(installed, { recursive: true });
    cpSync(join(packageDir, 'package.json'), join(installed, 'package.json'));
    cpSync(join(packageDir, 'dist'), join(installed, 'dist'), { recursive: true });
    writeFileSync(join(app, 'main.js'), MAIN_JS);
    writeFileSync(join(app, 'index.html'), page('<script type="module" src="/main.js"></script>'));
    [browser, hub] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 }), TestHub.start()]);
  }, 90_000);

  afterEach(async () => {
    await context?.close();
    context = undefined;
    await served?.close();
    served = undefined;
  });

  afterAll(async () => {
    await Promise.all([browser?.close(), hub?.stop()]);
    if (app) rmSync(app, { recursive: true, force: true });
  }, 30_000);

  /** Opens the app in a new tab of `context`; resolves once its client is open. */
  async function openApp(): Promise<Page> {
    const tab = await context!.newPage();
    tab.setDefaultTimeout(WAIT_MS);
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    await tab.goto(`${served!.base}?hub=${encodeURIComponent(hub.url)}`);
    await tab.waitForFunction(() => (globalThis as any).app?.client.state === 'open').catch(async (error: Error) => {
      throw new Error(`the app did not open: ${JSON.stringify(await logOf(tab).catch(() => errors))}`, { cause: error });
    });
    expect(errors).toEqual([]);
    return tab;
  }

  const logOf = (tab: Page): Promise<AppLog> => tab.evaluate(() => (globalThis as any).app.log as AppLog);

  it.each(['vite', 'webpack', 'esbuild'] as const)(
    '%s: two tabs share one socket, both get a message to the user, and the worker comes from the bundle',
    async (bundler) => {
      const out = await build(bundler, app);
      const emitted = readdirSync(out, { recursive: true, encoding: 'utf8' });
      served = await serve(out);
      context = await browser.newContext();
      const tabs = [await openApp(), await openApp()];

      expect(hub.hub.socketsOf('alice')).toHaveLength(1);
      await hub.hub.sendMessage('alice', 'notice', { text: `built by ${bundler}` });
      for (const tab of tabs) {
        await tab.waitForFunction(() => (globalThis as any).app.log.notices.length > 0);
        const log = await logOf(tab);
        expect(log.notices).toEqual([{ text: `built by ${bundler}` }]);
        expect(log.errors).toEqual([]);
      }
      expect(hub.hub.socketsOf('alice')).toHaveLength(1);
      // One worker for both tabs, started from a file the bundler wrote.
      expect(served.workerScripts).toHaveLength(1);
      expect(emitted).toContain(served.workerScripts[0]!.file);
      await context.close();
      context = undefined;
      await expect.poll(() => hub.hub.socketsOf('alice').length, { timeout: WAIT_MS }).toBe(0);
    },
    60_000,
  );

  it("Vite's dev server, with no configuration: two tabs share one socket, both get a message, and the worker is the package's file", async () => {
    served = await serveDev(app);
    context = await browser.newContext();
    const tabs = [await openApp(), await openApp()];
    expect(hub.hub.socketsOf('alice')).toHaveLength(1);
    await hub.hub.sendMessage('alice', 'notice', { text: 'served by vite' });
    for (const tab of tabs) {
      await tab.waitForFunction(() => (globalThis as any).app.log.notices.length > 0);
      expect(await logOf(tab)).toMatchObject({ notices: [{ text: 'served by vite' }], errors: [] });
    }
    // One worker, started from the installed package's file (what it imports, Vite's client env, comes after).
    const paths = served.workerScripts.map((w) => w.path);
    expect(paths[0]).toMatch(/^\/node_modules\/@wshub\/client\/dist\/shared-worker\.js(\?|$)/);
    expect(paths.filter((path) => path.includes('shared-worker'))).toHaveLength(1);
    await context.close();
    context = undefined;
    await expect.poll(() => hub.hub.socketsOf('alice').length, { timeout: WAIT_MS }).toBe(0);
  }, 60_000);

  it('esbuild without the worker as an entry point: the worker is not in the output, and the client ends with an error that says so', async () => {
    const out = await build('esbuild-without-worker-entry', app);
    expect(readdirSync(out)).not.toContain('shared-worker.js');
    served = await serve(out);
    context = await browser.newContext();
    const tab = await context.newPage();
    tab.setDefaultTimeout(WAIT_MS);
    await tab.goto(`${served.base}?hub=${encodeURIComponent(hub.url)}`);
    await tab.waitForFunction(() => (globalThis as any).app?.client.state === 'closed');
    const log = await logOf(tab);
    expect(log.errors).toEqual([
      'wshub client: the shared worker could not be started: is shared-worker.js served beside the bundle that holds the client? (see "One socket for all tabs" in the README)',
    ]);
    // Asked for beside the bundle and not found there. Once, or twice when the browser reports the failed
    // load after the tab's watchdog (WORKER_TIMEOUT_MS without a beat) has started a worker again.
    expect(served.workerScripts.length).toBeGreaterThanOrEqual(1);
    expect(served.workerScripts.length).toBeLessThanOrEqual(2);
    for (const script of served.workerScripts) expect(script).toEqual({ path: '/shared-worker.js', file: undefined });
    expect(hub.hub.socketsOf('alice')).toHaveLength(0);
  }, 30_000);
});
