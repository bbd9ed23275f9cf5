import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 15_000,
    hookTimeout: 15_000,
    // Two files at a time even on 2 cores, where vitest's default is one: these
    // tests wait on sockets and child processes more than they compute.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
