import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The build is what browsers get: it must carry the protocol module inside
// and import nothing, so `ws` and Node built-ins never reach a bundle.
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const files = ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts', 'shared-worker.js'];

function read(file: string): string {
  const path = `${dist}${file}`;
  if (!existsSync(path)) throw new Error(`${path} is missing: run "npm run build" in packages/client first`);
  return readFileSync(path, 'utf8');
}

describe('the built package', () => {
  it.each(files)('%s imports no module at all', (file) => {
    const code = read(file);
    // No `from "…"`, `import "…"`, `import(…)` or `require(…)`: so neither
    // `ws`, `node:*` nor `@wshub/core` can be among them.
    expect(code).not.toMatch(/\bfrom\s*["']/);
    expect(code).not.toMatch(/^\s*import\s*["']/m);
    expect(code).not.toMatch(/\bimport\s*\(/);
    expect(code).not.toMatch(/\brequire\s*\(/);
  });

  it('has the protocol constants compiled in', () => {
    expect(read('index.js')).toContain('"wshub"');
    expect(read('index.js')).toContain('4403');
  });

  it('index.js loads the shared worker from beside itself, in the form bundlers look for', () => {
    expect(read('index.js')).toContain(
      'new SharedWorker(new URL("./shared-worker.js", import.meta.url), { type: "module", name: "wshub" })',
    );
  });

  it('loads from require() and from import, with the same exports', async () => {
    const require = createRequire(import.meta.url);
    const cjs = require('@wshub/client');
    const esm = await import('@wshub/client');
    expect(Object.keys(cjs).sort()).toEqual(Object.keys(esm).sort());
    expect(Object.keys(esm).sort()).toEqual([
      'ClientBugError',
      'DEFAULT_CONFIRM_BATCH',
      'DEFAULT_MAX_QUEUED_MESSAGES',
      'DEFAULT_RECONNECT',
      'HubClient',
      'Subscription',
    ]);
  });
});
