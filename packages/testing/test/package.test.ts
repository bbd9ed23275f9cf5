import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const dist = new URL('../dist/', import.meta.url);

/** The entry file and every chunk it loads, transitively. */
function filesOf(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(new URL(file, dist), 'utf8');
    for (const [, chunk] of text.matchAll(/(?:from |require\()["']\.\/([^"']+)["']/g)) visit(chunk!);
  };
  visit(entry);
  return [...seen];
}

const loadsNest = (entry: string) =>
  filesOf(entry).some((file) => /@nestjs\/|@wshub\/nest/.test(readFileSync(new URL(file, dist), 'utf8')));

describe('the built package', () => {
  it.each([
    ['index.js', false],
    ['index.cjs', false],
    ['nest.js', true],
    ['nest.cjs', true],
  ])('%s loads Nest code: %s', (entry, expected) => {
    expect(filesOf(entry).length).toBeGreaterThan(1); // the entry and the shared chunk
    expect(loadsNest(entry)).toBe(expected);
  });

  it('FakeHub is one class in both entries, in ESM and in CJS (it is a Nest injection token)', async () => {
    const [plain, nest] = await Promise.all([import('../dist/index.js'), import('../dist/nest.js')]);
    expect(nest.FakeHub).toBe(plain.FakeHub);
    const require = createRequire(import.meta.url);
    expect(require('../dist/nest.cjs').FakeHub).toBe(require('../dist/index.cjs').FakeHub);
  });
});
