/**
 * The packed packages in fresh apps shaped like each NestJS major's
 * `nest new` output, installed with the README's own commands (no npm
 * flags), built with the app's own TypeScript, run over a real socket, and
 * tested with the app's own test runner.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectTestClient, ConnectionRefusedError, type TestClient } from '@wshub/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPS, type AppSpec, createApp, packPackages, WORK_ROOT, withTarballs } from '../src/apps.js';
import { installCommands, packageInstallCommands, pathOverride } from '../src/readme.js';
import { registryOffline } from '../src/registry.js';
import { appEnv, runOk } from '../src/run.js';

const WS_PATH = /p\.path = '([^']+)'/.exec(pathOverride().file)![1]!;

const offline = await registryOffline('the matrix');

let tarballs: Map<string, string>;
beforeAll(async () => {
  if (offline) return;
  tarballs = await packPackages(['core', 'nest', 'testing'], join(WORK_ROOT, 'tarballs'));
}, 120_000);

// The cached base installs stay; this run's copies of them go.
afterAll(() => rmSync(WORK_ROOT, { recursive: true, force: true }));

describe.skipIf(offline).each(APPS)('a fresh NestJS $major app ($scaffold, $runner)', (spec: AppSpec) => {
  let dir: string;

  it("installs with the README's commands, without npm flags", async () => {
    dir = await createApp(spec);
    for (const command of installCommands(spec.major)) {
      const [npm, ...args] = withTarballs(command, tarballs);
      expect(npm).toBe('npm');
      await runOk(npm!, args, dir);
    }
    // One copy of core, at the top, shared by nest and testing: one WsHub class, one DI token.
    const copies = await runOk('find', ['node_modules', '-path', '*/@wshub/core/package.json'], dir);
    expect(copies.trim().split('\n')).toEqual(['node_modules/@wshub/core/package.json']);
    await runOk('npm', ['ls', '@wshub/core', '@wshub/nest', '@wshub/testing', '@nestjs/cqrs', 'class-transformer'], dir);
  }, 600_000);

  it("builds with the app's own TypeScript, specs type-checked too", async () => {
    await runOk('npm', ['run', 'build'], dir);
    await runOk(join(dir, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', 'tsconfig.json'], dir);
  }, 180_000);

  describe('end to end over a real socket', () => {
    let server: ChildProcess;
    let logs = '';
    let base: string;
    const clients: TestClient[] = [];

    beforeAll(async () => {
      server = spawn(process.execPath, ['dist/main.js'], { cwd: dir, env: appEnv({ PORT: '0' }), stdio: ['ignore', 'pipe', 'pipe'] });
      server.stdout!.on('data', (chunk) => (logs += chunk));
      server.stderr!.on('data', (chunk) => (logs += chunk));
      base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the app did not start within 30 s:\n${logs}`)), 30_000);
        const check = () => {
          const url = /listening on (http:\/\/\S+)/.exec(logs)?.[1];
          if (url) {
            clearTimeout(timer);
            resolve(url.replace('[::1]', '127.0.0.1'));
          }
        };
        server.stdout!.on('data', check);
        server.once('exit', (code) => reject(new Error(`the app exited with ${code}:\n${logs}`)));
      });
    }, 60_000);

    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close()));
      server?.kill();
    });

    async function connect(query: Record<string, string>): Promise<TestClient> {
      const client = await connectTestClient(`${base.replace('http', 'ws')}${WS_PATH}`, { query });
      clients.push(client);
      return client;
    }

    it("logs once, through Nest's Logger, the README's override path it serves", () => {
      const said = logs.split('\n').filter((line) => line.includes('Serving WebSocket clients'));
      expect(said).toHaveLength(1);
      expect(said[0]).toContain(`[WsModule] Serving WebSocket clients on ${WS_PATH}`);
    });

    it('authorizes with ClientConnectedEvent, watches, and delivers SendMessageCommand and PushCommand', async () => {
      const bob = await connect({ token: 'bob-token' });
      const alice = await connect({ token: 'alice-token', device: 'laptop' });
      expect(await bob.watch('order-status', 42)).toBe('allowed');
      expect(await bob.watch('order-status', 7)).toBe('forbidden');

      expect((await fetch(`${base}/orders/42/ship`, { method: 'POST' })).status).toBe(202);
      // class-transformer applied @Exclude() in this build: no warehouseNote.
      expect(await bob.next('order-status')).toEqual({ event: 'order-status', data: { orderId: 42, status: 'shipped' } });

      expect((await fetch(`${base}/announcements?text=hello`, { method: 'POST' })).status).toBe(202);
      expect(await bob.next('announcement')).toEqual({ event: 'announcement', data: { text: 'hello', to: 'bob' } });
      await alice.sync();
      expect(alice.messages).toEqual([]); // the push filter left the admin out
    });

    it('refuses an unknown token with 4403', async () => {
      const stranger = await connect({ token: 'stolen' });
      await expect(stranger.sync()).rejects.toBeInstanceOf(ConnectionRefusedError);
      expect(stranger.closed?.code).toBe(4403);
    });
  });

  it(`runs the app's own unit test with @wshub/testing (${spec.runner})`, async () => {
    const out = await runOk('npm', ['test'], dir);
    expect(out).toMatch(spec.runner === 'jest' ? /Tests:\s+2 passed/ : /Tests\s+2 passed/);
  }, 180_000);

  it('type-checks without the optional @types/ws too (the scaffold skips library checks)', async () => {
    await runOk('npm', ['uninstall', '@types/ws'], dir);
    await runOk(join(dir, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', 'tsconfig.json'], dir);
  }, 120_000);
});

describe.skipIf(offline)('a plain Node.js app', () => {
  it("installs @wshub/core, then @wshub/testing with its README's command, without any @types package, in ESM and CommonJS", async () => {
    const dir = join(WORK_ROOT, 'plain');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'plain-app', private: true, type: 'module' }));
    await runOk('npm', ['install', tarballs.get('@wshub/core')!], dir);
    for (const command of packageInstallCommands('testing')) {
      const [npm, ...args] = withTarballs(command, tarballs);
      await runOk(npm!, args, dir);
    }
    expect(existsSync(join(dir, 'node_modules', '@types'))).toBe(false);
    writeFileSync(
      join(dir, 'server.mjs'),
      "import { createServer } from 'node:http';\nimport { WsHub } from '@wshub/core';\n" +
        "const hub = new WsHub({ authenticate: () => ({ id: 'u', deviceFingerprint: 'd' }) });\n" +
        'const server = createServer();\nhub.attach(server);\n' +
        "server.listen(0, '127.0.0.1', async () => { await hub.close(); server.close(); console.log('ok', hub.path); });\n",
    );
    expect((await runOk(process.execPath, ['server.mjs'], dir)).trim()).toBe('ok /api/v1/ws');
    writeFileSync(
      join(dir, 'fake.cjs'),
      "const { FakeHub } = require('@wshub/testing');\n" +
        "const hub = new FakeHub({ authenticate: () => ({ id: 'u', deviceFingerprint: 'd' }) });\n" +
        "hub.connect({ query: { token: 't' } }).then(async () => { await hub.sendMessage('u', 'e', 1); console.log(hub.deliveries.length); await hub.close(); });\n",
    );
    expect((await runOk(process.execPath, ['fake.cjs'], dir)).trim()).toBe('1');
  }, 300_000);
});
