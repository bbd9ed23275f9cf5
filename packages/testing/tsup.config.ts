import { defineConfig } from 'tsup';

export default defineConfig({
  // `nest` is its own entry so the plain entry never loads Nest.
  entry: { index: 'src/index.ts', nest: 'src/nest/index.ts' },
  format: ['esm', 'cjs'],
  // Shared code lives in one chunk in both formats, so `FakeHub` from either entry is the same class (a Nest token).
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
