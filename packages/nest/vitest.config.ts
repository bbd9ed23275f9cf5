import { availableParallelism } from 'node:os';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Test fixtures are Nest apps written as users write them (constructor
  // injection without @Inject); esbuild emits no decorator metadata, SWC does.
  // The package itself is always imported from its built dist.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Two files at a time even on 2 cores, where vitest's default is one: these
    // tests wait on sockets and child processes more than they compute.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
