import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The same source the build bundles (tsconfig.json "paths"); `@wshub/core`
    // itself, used by the integration tests, still resolves to core's build.
    alias: [
      {
        find: /^@wshub\/core\/protocol$/,
        replacement: fileURLToPath(new URL('../core/src/protocol/protocol.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 15_000,
    hookTimeout: 15_000,
    // Two files at a time even on 2 cores, where vitest's default is one: these
    // tests wait on sockets and child processes more than they compute.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    typecheck: {
      enabled: true,
      include: ['test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
  },
});
