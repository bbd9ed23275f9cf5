/**
 * The declarations of the packed packages in one fresh TypeScript project,
 * under every module resolution an app may use (node10, the default of
 * `"module": "commonjs"`; node16/nodenext from CommonJS and from ESM;
 * bundler), with TypeScript 5 and 6. One file imports every entry point:
 * a type two entries both export must be one type (a `FakeHub` from
 * `@wshub/testing/nest` is a `FakeHub` of `@wshub/testing`); once, with
 * `skipLibCheck` off, nothing in the declarations (both flavours, `.d.ts`
 * and `.d.cts`) may fail to compile. Then, without
 * the optional `@types/ws`, TypeScript 6 (which loads no `@types` unless
 * told) must still read the Node.js types core and testing name.
 * No Nest app: npm brings the packages' peers, whose types the check reads.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, it } from 'vitest';
import { freshDir, packPackages, publishedPackages, WORK_ROOT } from '../src/apps.js';
import { registryOffline } from '../src/registry.js';
import { runOk } from '../src/run.js';

const offline = await registryOffline('the type check');

const TYPESCRIPTS = [
  { major: 5, alias: 'ts5' },
  { major: 6, alias: 'ts6' },
] as const;

type Mode = { name: string; module: string; moduleResolution: string; files: string[] };
const MODES: Mode[] = [
  { name: 'node10', module: 'commonjs', moduleResolution: 'node10', files: ['check.ts'] },
  { name: 'nodenext', module: 'nodenext', moduleResolution: 'nodenext', files: ['check.cts', 'check.mts'] },
  { name: 'bundler', module: 'esnext', moduleResolution: 'bundler', files: ['check.ts'] },
];
const CASES = TYPESCRIPTS.flatMap((ts) => MODES.map((mode) => ({ ...ts, mode, label: `${mode.name}, TypeScript ${ts.major}` })));

/** Every entry point, and each type two of them export taken from one and given to the other. */
const EVERY_ENTRY = `import * as client from '@wshub/client';
import * as core from '@wshub/core';
import * as protocol from '@wshub/core/protocol';
import * as nest from '@wshub/nest';
import path from '@wshub/nest/dist/path';
import * as prometheus from '@wshub/prometheus';
import * as redis from '@wshub/redis';
import * as testing from '@wshub/testing';
import * as testingNest from '@wshub/testing/nest';

const fake: testing.FakeHub = new testingNest.FakeHub();
const nestFake: testingNest.FakeHub = new testing.FakeHub();
const hub: core.Hub = fake;
const nestHub: nest.Hub = nestFake;
const socket: testing.FakeSocket | undefined = undefined as testingNest.FakeSocket | undefined;
const nestSocket: testingNest.FakeSocket | undefined = undefined as testing.FakeSocket | undefined;
const refused: testing.ConnectionRefusedError = new testingNest.ConnectionRefusedError(4403, 'unauthorized');
const closed: testingNest.SocketClosedError = new testing.SocketClosedError('closed', 1001, 'server shutting down');
const code: core.CloseCode = protocol.CloseCode.Forbidden;
const protocolCode: protocol.CloseCode = core.CloseCode.Forbidden;
const ws = new core.WsHub({ authenticate: () => ({ id: 'u', deviceFingerprint: 'd' }) });
// @ts-expect-error attach() takes an HTTP server (node:http's type, read through the declarations).
ws.attach(42);

export const used = [fake, nestFake, hub, nestHub, socket, nestSocket, refused, closed, code, protocolCode, path.path,
  client.HubClient, nest.WsModule, prometheus.collectHubMetrics, redis.RedisBroker, testingNest.WsTestingModule];
`;

/** What needs neither Nest nor Redis: core's two entries and the fake, as a unit test uses them. */
const CORE_ONLY = `import { WsHub } from '@wshub/core';
import { CloseCode } from '@wshub/core/protocol';
import { FakeHub } from '@wshub/testing';

export async function unitTest(): Promise<CloseCode> {
  const hub = new WsHub({ authenticate: () => ({ id: 'u', deviceFingerprint: 'd' }) });
  // @ts-expect-error attach() takes an HTTP server (node:http's type, read through the declarations).
  hub.attach(42);
  await using fake = new FakeHub();
  return fake.isClosing ? CloseCode.GoingAway : CloseCode.Forbidden;
}
`;

function writeConfig(dir: string, ts: (typeof TYPESCRIPTS)[number], mode: Mode, files: string[], skipLibCheck: boolean): string {
  const name = `tsconfig.${ts.alias}.${mode.name}.${skipLibCheck ? 'skip' : 'full'}.json`;
  const compilerOptions = {
    module: mode.module,
    moduleResolution: mode.moduleResolution,
    // TypeScript 6 deprecates node10 and stops with an error unless told; a CommonJS app moving to 6 writes the same.
    ...(ts.major >= 6 && mode.moduleResolution === 'node10' ? { ignoreDeprecations: '6.0' } : {}),
    target: 'es2022',
    strict: true,
    esModuleInterop: true,
    noEmit: true,
    skipLibCheck,
  };
  writeFileSync(join(dir, name), JSON.stringify({ compilerOptions, files }, null, 2));
  return name;
}

describe.skipIf(offline)('the declarations in a fresh TypeScript project', () => {
  let dir: string;
  const tsc = (ts: (typeof TYPESCRIPTS)[number], config: string) => runOk(join(dir, 'node_modules', ts.alias, 'bin', 'tsc'), ['-p', config], dir);

  beforeAll(async () => {
    const tarballs = await packPackages(publishedPackages(), join(WORK_ROOT, 'types-tarballs'));
    dir = freshDir('types');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'types-app', private: true }));
    for (const file of ['check.ts', 'check.cts', 'check.mts']) writeFileSync(join(dir, file), EVERY_ENTRY);
    writeFileSync(join(dir, 'core-only.ts'), CORE_ONLY);
    await runOk(
      'npm',
      ['install', ...tarballs.values(), ...TYPESCRIPTS.map((ts) => `${ts.alias}@npm:typescript@${ts.major}`), '@types/node@20', '@types/ws@8'],
      dir,
    );
  }, 600_000);

  // skipLibCheck as `nest new` and `tsc --init` set it; checking every library's declarations takes 30–50 s a run here.
  it.each(CASES)('every entry point, one type per name: $label', async (c) => {
    await tsc(c, writeConfig(dir, c, c.mode, c.mode.files, true));
  }, 120_000);

  it('every declaration compiles, skipLibCheck off: nodenext (.d.ts and .d.cts), TypeScript 6', async () => {
    const c = CASES.find((one) => one.major === 6 && one.mode.name === 'nodenext')!;
    await tsc(c, writeConfig(dir, c, c.mode, c.mode.files, false));
  }, 180_000);

  describe('without @types/ws', () => {
    beforeAll(async () => {
      await runOk('npm', ['uninstall', '@types/ws'], dir);
    }, 120_000);

    // Only the optional @types/ws brought Node's types in before; TypeScript 5 loads every @types by itself.
    it.each(CASES)('core and the fake read node:http, Buffer and Symbol.asyncDispose: $label', async (c) => {
      const files = c.mode.name === 'nodenext' ? ['core-only.mts'] : ['core-only.ts'];
      if (c.mode.name === 'nodenext') writeFileSync(join(dir, 'core-only.mts'), CORE_ONLY);
      // skipLibCheck on: the untyped `ws` import is then no error.
      await tsc(c, writeConfig(dir, c, c.mode, files, true));
    }, 120_000);
  });
});
