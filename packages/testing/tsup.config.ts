import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative } from 'node:path';
import { defineConfig } from 'tsup';

const OUT_DIR = 'dist';

/**
 * tsup turns split ESM chunks into CommonJS with sucrase, whose source map
 * names the chunk by its absolute path (`file`, and a source for the lines
 * sucrase added); the merged `.cjs.map` kept it, so the published package
 * carried the build machine's folder. Make those paths relative to the map.
 */
function relativeSourceMaps(): void {
  const dir = join(process.cwd(), OUT_DIR);
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.map')) continue;
    const path = join(dir, name);
    const map = JSON.parse(readFileSync(path, 'utf8')) as { file?: string; sources?: string[] };
    if (map.file && isAbsolute(map.file)) map.file = basename(map.file);
    map.sources = map.sources?.map((source) => (isAbsolute(source) ? relative(dir, source) : source));
    writeFileSync(path, JSON.stringify(map));
  }
}

export default defineConfig({
  // `nest` is its own entry so the plain entry never loads Nest.
  entry: { index: 'src/index.ts', nest: 'src/nest/index.ts' },
  format: ['esm', 'cjs'],
  // Shared code lives in one chunk in both formats, so `FakeHub` from either entry is the same class (a Nest token).
  splitting: true,
  // The declarations name `Symbol.asyncDispose` and `ws`'s types; an app whose tsconfig loads no `@types` (TypeScript 6's default)
  // reads them only through this reference, which tsup's declaration bundler drops from the source.
  dts: { banner: '/// <reference types="node" />' },
  sourcemap: true,
  clean: true,
  outDir: OUT_DIR,
  target: 'node20',
  onSuccess: async () => relativeSourceMaps(),
});
