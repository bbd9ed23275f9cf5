import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', nest: 'src/nest/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // `nest` imports the main entry by name, so both share one Outbox class.
  external: ['@wshub/postgres'],
});
