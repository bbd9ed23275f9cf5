import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `src/nest` imports the main entry by name (see tsup.config.ts): the tests run it from source.
  resolve: { alias: [{ find: /^@wshub\/postgres$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) }] },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two files at a time even on 2 cores, where vitest's default is one: these
    // tests wait on sockets and child processes more than they compute.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
