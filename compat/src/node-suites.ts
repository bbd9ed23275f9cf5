/**
 * The packages' own suites on one Node users run: the same vitest, the same
 * test files, started by that Node (vitest's workers and every process a
 * test forks run on the Node that started it). Two test files per Node, one
 * for each half of the suites (`test/node22-1.test.ts`, `test/node22-2.test.ts`,
 * and the same for 24), so the compatibility run's two workers share the work
 * evenly (see `vitest.config.ts`). Each suite runs one file at a time, since
 * two of these run side by side.
 */
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODES, nodeBinary, REPO_ROOT, SUITES } from './nodes.js';
import { run } from './run.js';

const VITEST = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');

/** Declares the runs of one `half` of the suites on the Node of `major` (its exact version is in `NODES`). */
export async function suitesOn(major: number, half: 1 | 2): Promise<void> {
  const version = NODES.find((v) => v.startsWith(`${major}.`));
  if (!version) throw new Error(`compat: NODES has no Node ${major}`);
  const registry = await run('npm', ['ping'], tmpdir());
  const offline = registry.code !== 0;
  if (offline && process.env.CI) throw new Error(`compat: the npm registry is unreachable, and under CI nothing skips:\n${registry.output}`);
  if (offline) process.stderr.write(`compat: the Node ${major} run is skipped, the npm registry is unreachable (npm ping failed)\n`);
  describe.skipIf(offline)(`on Node ${version}`, () => suites(version, half));
}

function suites(version: string, half: 1 | 2): void {
  let node: string;

  it('is the Node the suites run on', async () => {
    node = await nodeBinary(version);
    const printed = await run(node, ['-p', 'process.version'], tmpdir());
    expect(printed.output.trim()).toBe(`v${version}`);
  }, 300_000);

  it.each(SUITES.filter((s) => s.half === half))('$workspace passes', async ({ workspace, exclude }) => {
    expect(node, 'the Node binary was not installed').toBeDefined();
    // No results cache: the runs on Node 22 and Node 24 go side by side and would share the workspace's file.
    const args = [VITEST, 'run', '--no-cache', '--maxWorkers=1', ...exclude.flatMap((glob) => ['--exclude', glob])];
    // `node` on the PATH too, for the tests that spawn it by name.
    const result = await run(node, args, join(REPO_ROOT, workspace), {
      PATH: `${dirname(node)}:${process.env.PATH ?? ''}`,
    });
    if (result.code !== 0) throw new Error(`${workspace} on Node ${version} exited with ${result.code}:\n${result.output.slice(-8000)}`);
    expect(result.output).toMatch(/Tests\s+\d+ passed/);
    expect(result.output).not.toMatch(/Tests\s+.*\d+ failed/);
  }, 900_000);
}
