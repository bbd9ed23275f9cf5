/**
 * The built package from an app compiled the way Nest apps are compiled:
 * `tsc` with `experimentalDecorators` + `emitDecoratorMetadata`, as CommonJS
 * and as ESM (NodeNext), and as CommonJS with the older `node10` resolution,
 * each run in a child process. Covers the
 * `exports` map (`@wshub/nest` and `@wshub/nest/dist/path`), the path object
 * shared with the module in each format, and constructor injection by type.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSocket as TestClient } from '@wshub/test-support';

const here = dirname(fileURLToPath(import.meta.url));
const repoNodeModules = resolve(here, '../../../node_modules');
const tsc = join(repoNodeModules, 'typescript/bin/tsc');

/** Nest 11's starter (NodeNext) as CommonJS and as ESM, and the older starter's CommonJS without `exports` maps. */
const FORMATS = {
  commonjs: {
    type: 'commonjs',
    compiledMarker: 'require("@wshub/nest")',
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', esModuleInterop: true, strict: true },
  },
  esm: {
    type: 'module',
    compiledMarker: "from '@wshub/nest'",
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', esModuleInterop: true, strict: true },
  },
  'commonjs-node10': {
    type: 'commonjs',
    compiledMarker: 'require("@wshub/nest")',
    compilerOptions: { module: 'commonjs', moduleResolution: 'node10', allowSyntheticDefaultImports: true },
  },
} as const;

interface Consumer {
  dir: string;
  child: ChildProcess;
  port: number;
  stderr: string[];
}

/** Writes the consumer project for `format` into a temporary directory and compiles it with tsc. */
async function compile(format: keyof typeof FORMATS): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `wshub-nest-consumer-${format}-`));
  await cp(join(here, 'consumer/src'), join(dir, 'src'), { recursive: true });
  await symlink(repoNodeModules, join(dir, 'node_modules'), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ private: true, type: FORMATS[format].type }));
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        ...FORMATS[format].compilerOptions,
        target: 'ES2022',
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        skipLibCheck: true,
        types: ['node'],
        rootDir: 'src',
        outDir: 'out',
      },
      include: ['src'],
    }),
  );
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc failed for the ${format} consumer:\n${stdout}${stderr}`);
  }
  return dir;
}

/** Starts the compiled app; it prints `{"port":…}` once listening. */
async function run(dir: string): Promise<Consumer> {
  const child = spawn(process.execPath, [join(dir, 'out/main.js')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(() => {
    throw new Error(`the consumer exited before listening:\n${stderr.join('')}`);
  });
  const [line] = (await Promise.race([once(lines, 'line'), exited])) as [string];
  return { dir, child, port: (JSON.parse(line) as { port: number }).port, stderr };
}

describe.each(Object.keys(FORMATS) as Array<keyof typeof FORMATS>)('a tsc-compiled %s consumer', (format) => {
  let consumer: Consumer | undefined;
  let dir: string | undefined;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    dir = await compile(format);
    consumer = await run(dir);
  });

  afterAll(async () => {
    for (const client of clients) client.ws.terminate();
    if (consumer && consumer.child.exitCode === null && consumer.child.signalCode === null) {
      consumer.child.kill('SIGKILL');
      await once(consumer.child, 'exit');
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function connect(path: string, token: string): TestClient {
    const client = new TestClient(`ws://127.0.0.1:${consumer!.port}${path}?token=${token}`);
    clients.push(client);
    return client;
  }

  it(`is compiled to ${format}`, async () => {
    const compiled = await readFile(join(dir!, 'out/client-connected.handler.js'), 'utf8');
    expect(compiled).toContain(FORMATS[format].compiledMarker);
    expect(compiled).toContain('design:paramtypes');
  });

  it('serves the path set through @wshub/nest/dist/path, not the default', async () => {
    expect(await connect('/api/v1/ws', 'alice-token').refused).toBe(400);
  });

  it('runs the README flow: auth by token, a watch rule, a message to the watchers', async () => {
    const alice = connect('/consumer/ws', 'alice-token');
    await alice.opened;
    alice.watch('order-status', '42');
    alice.emit('ping', 1);
    expect(await alice.next()).toEqual({ event: 'pong', data: 1 });
    const response = await fetch(`http://127.0.0.1:${consumer!.port}/orders/42/shipped`, { method: 'POST' });
    expect(response.status).toBe(202);
    expect(await alice.next()).toEqual({ event: 'order-status', data: { id: '42', status: 'shipped' } });

    const bob = connect('/consumer/ws', 'bob-token');
    await bob.opened;
    bob.watch('order-status', '42');
    expect(await bob.next()).toEqual({
      event: 'watch',
      data: { event: 'order-status', payload: '42', forbidden: true },
    });
    expect((await connect('/consumer/ws', 'wrong').waitForClose()).code).toBe(4403);
  });

  it('closes its clients with 1001 on SIGTERM', async () => {
    const alice = connect('/consumer/ws', 'alice-token');
    await alice.opened;
    alice.emit('ping', 2);
    expect(await alice.next()).toEqual({ event: 'pong', data: 2 });
    const exited = once(consumer!.child, 'exit');
    consumer!.child.kill('SIGTERM');
    expect((await alice.waitForClose()).code).toBe(1001);
    // Nest's shutdown hooks re-raise the signal once the app has closed.
    const [code, signal] = await exited;
    expect({ code, signal }, consumer!.stderr.join('')).toEqual({ code: null, signal: 'SIGTERM' });
  });
});
