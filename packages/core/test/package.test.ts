import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
