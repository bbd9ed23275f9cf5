import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // A demo's embedded database opens in a few seconds, far longer on a busy machine.
    hookTimeout: 90_000,
  },
});
