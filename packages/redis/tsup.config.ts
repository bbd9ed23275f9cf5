import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  // The declarations name `Buffer`; an app whose tsconfig loads no `@types` (TypeScript 6's default)
  // reads them only through this reference, which tsup's declaration bundler drops from the source.
  dts: { banner: '/// <reference types="node" />' },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
