import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();

// The built package, consumed the way users consume it: through its "exports" map.
// `npm test` builds first; run `npm run build` before running this file alone.
describe('the built package', () => {
  it('has been built', () => {
    expect(existsSync(`${root}/dist/index.cjs`), 'packages/core/dist is missing: run `npm run build` first').toBe(true);
  });

  it('loads with require() (CommonJS)', () => {
    expect(run(['-e', "const c = require('@wshub/core'); process.stdout.write(typeof c.WsHub + ' ' + c.CloseCode.Forbidden)"])).toBe('function 4403');
  });

  it('loads with import (ESM)', () => {
    expect(
      run(['--input-type=module', '-e', "import { WsHub, CloseCode } from '@wshub/core'; process.stdout.write(typeof WsHub + ' ' + CloseCode.AuthTimeout)"]),
    ).toBe('function 4408');
  });

  it('serves the browser-safe protocol module on its own, without ws or node: imports', () => {
    expect(run(['--input-type=module', '-e', "import { closePolicy } from '@wshub/core/protocol'; process.stdout.write(closePolicy(4403))"])).toBe('stop');
    expect(run(['-e', "process.stdout.write(require('@wshub/core/protocol').closePolicy(1006))"])).toBe('reconnect');
    // The ESM entry and the chunks it imports, and the CJS entry.
    const esm = readFileSync(`${root}/dist/protocol.js`, 'utf8');
    const chunks = [...esm.matchAll(/from "\.\/(chunk-[\w-]+\.js)"/g)].map((m) => readFileSync(`${root}/dist/${m[1]}`, 'utf8'));
    for (const source of [esm, ...chunks, readFileSync(`${root}/dist/protocol.cjs`, 'utf8')]) {
      expect(source).not.toMatch(/from ["'](ws|node:[\w/]+)["']|require\(["'](ws|node:[\w/]+)["']\)/);
    }
  });
});

/** A script that builds a hub and sends through it; prints what it saw. */
const SEND = (load: string) => `${load}
const hub = new WsHub({ authenticate: () => ({ id: 'u', deviceFingerprint: 'd' }) });
await hub.sendMessage('u1', 'e', 1);
await hub.push('p', 2);
await hub.close();
process.stdout.write('sent');`;

// @opentelemetry/api is an optional peer: the built package must work in an app that does not have it.
describe('the built package without @opentelemetry/api', () => {
  it('loads and sends, with import and with require()', () => {
    const app = mkdtempSync(join(tmpdir(), 'wshub-no-otel-'));
    try {
      const installed = join(app, 'node_modules', '@wshub', 'core');
      mkdirSync(installed, { recursive: true });
      cpSync(`${root}/dist`, join(installed, 'dist'), { recursive: true });
      cpSync(`${root}/package.json`, join(installed, 'package.json'));
      symlinkSync(dirname(createRequire(`${root}/package.json`).resolve('ws/package.json')), join(app, 'node_modules', 'ws'));
      const inApp = (args: string[]) =>
        execFileSync(process.execPath, args, { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
      expect(() => inApp(['-e', "require.resolve('@opentelemetry/api')"])).toThrow();
      expect(inApp(['--input-type=module', '-e', SEND("import { WsHub } from '@wshub/core';")])).toBe('sent');
      const cjs = SEND("const { WsHub } = require('@wshub/core');").replace(/^([^\n]*\n)([\s\S]*)$/, '$1(async () => {\n$2\n})();');
      expect(inApp(['-e', cjs])).toBe('sent');
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});

describe('the built package with @opentelemetry/api and a registered provider', () => {
  const provider = `
const { trace } = require('@opentelemetry/api');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));`;
  const names = "process.stdout.write(' ' + exporter.getFinishedSpans().map((s) => s.name + ':' + s.attributes['wshub.operation']).join(','));";

  it.each([
    ['require()', "const { WsHub } = require('@wshub/core');"],
    ['import', "const { WsHub } = await import('@wshub/core');"],
  ])('makes wshub.send spans (%s)', (_, load) => {
    const script = `(async () => {${provider}\n${SEND(load)}\n${names}\n})();`;
    expect(run(['-e', script])).toBe('sent wshub.send:sendMessage,wshub.send:push');
  });
});
