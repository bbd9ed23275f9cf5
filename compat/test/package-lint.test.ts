/**
 * `npm run lint` checks each package as published (publint, and
 * @arethetypeswrong/cli on its `npm pack` output, in every TypeScript
 * resolution mode). This shows the check fails on the mistakes it is there
 * for, on a copy of @wshub/testing: an `exports` entry pointing at a file
 * that is not shipped, and a subpath without types under node10.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../src/run.js';

const PACKAGE = fileURLToPath(new URL('../../packages/testing/', import.meta.url));
const BIN = fileURLToPath(new URL('../../node_modules/.bin/', import.meta.url));

type Manifest = Record<string, any>;

function copyWith(edit: (manifest: Manifest) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'wshub-package-lint-'));
  for (const entry of ['dist', 'LICENSE', 'README.md']) cpSync(join(PACKAGE, entry), join(dir, entry), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as Manifest;
  edit(manifest);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/** The commands of the packages' `lint:package` script. */
const publint = (dir: string) => run(join(BIN, 'publint'), ['--strict'], dir);
const attw = (dir: string) => run(join(BIN, 'attw'), ['--pack', '.', '--format', 'ascii'], dir);

describe('the package lint', () => {
  it('passes the package as it is', async () => {
    const dir = copyWith(() => {});
    expect((await publint(dir)).code).toBe(0);
    expect((await attw(dir)).code).toBe(0);
  }, 60_000);

  it('fails an exports entry whose file is not in the package', async () => {
    const dir = copyWith((m) => {
      m.exports['./nest'].require.default = './dist/nest.missing.cjs';
    });
    const result = await publint(dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('nest.missing.cjs');
  }, 60_000);

  it('fails types that do not match the format they describe', async () => {
    const dir = copyWith((m) => {
      m.exports['./nest'].require.types = './dist/nest.d.ts'; // ESM declarations for the CommonJS file
    });
    const result = await attw(dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('@wshub/testing/nest');
  }, 60_000);

  it('fails a subpath without types under node10 (no typesVersions)', async () => {
    const dir = copyWith((m) => {
      delete m.typesVersions;
    });
    const result = await attw(dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/node10[^\n]*Resolution failed|node10: 💀 Resolution failed/);
  }, 60_000);
});
