import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two files at a time, one per core: the apps' installs and builds (matrix,
    // types) beside the suites' runs on Node 22 and 24, each in its own file.
    // Each of those runs a package's suite with one vitest worker at a time.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
