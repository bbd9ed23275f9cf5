import { basename } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The files longest first, so the two workers end together: the apps'
 * installs and builds (`matrix`), then the four halves of the suites' runs
 * on Node 22 and 24, then the rest. Without a duration cache (a fresh
 * clone) vitest would start with the largest files, and the suites' runs,
 * in small files, would come last, one worker left with most of them.
 */
const ORDER = ['matrix', 'node22-2', 'node22-1', 'node24-2', 'node24-1', 'types', 'package-lint', 'packed-files'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const at = ORDER.indexOf(basename(file.moduleId).replace(/\.test\.ts$/, ''));
      return at < 0 ? ORDER.length : at;
    };
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two files at a time, one per core: the apps' installs and builds (matrix,
    // types) beside the suites' runs on Node 22 and 24, each half of them in
    // its own file. Each of those runs a package's suite with one vitest
    // worker at a time.
    fileParallelism: true,
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
