import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.mjs'],
    testTimeout: 60_000,
    // Each smoke runs the whole harness (server, load and redis-server processes): one at a time on 2 cores.
    fileParallelism: false,
  },
});
