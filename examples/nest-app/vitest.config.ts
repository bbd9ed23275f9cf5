import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two files at a time even on 2 cores, where vitest's default is one: these
    // tests wait on sockets and child processes more than they compute.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 60_000,
    // A demo's embedded database opens in a few seconds, far longer on a busy machine.
    hookTimeout: 90_000,
  },
});
