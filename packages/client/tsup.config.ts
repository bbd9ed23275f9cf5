import { defineConfig } from 'tsup';

export default defineConfig({
  // The shared worker of `share` ships beside index.js, which loads it as
  // `new URL('./shared-worker.js', import.meta.url)`.
  entry: { index: 'src/index.ts', 'shared-worker': 'src/shared-worker.ts' },
  // Each file whole: the worker is loaded alone (a CDN path, Vite's worker build), not with chunks.
  splitting: false,
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // Runs in browsers and in Node: no platform built-ins.
  platform: 'neutral',
  target: 'es2022',
  // `@wshub/core/protocol` is browser-safe and small; bundling it keeps the
  // client free of runtime dependencies, so `ws` and core's server code never
  // reach a browser bundle. test/dist.test.ts checks the output.
  noExternal: ['@wshub/core'],
});
