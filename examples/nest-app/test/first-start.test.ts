/**
 * What a newcomer's first `npm ci && npm start` costs: the build `npm start`
 * runs covers the demo and the packages it imports, not the test helpers,
 * benchmarks or compatibility apps; and `npm ci` has no install script left
 * for npm to warn about (esbuild's and @swc/core's are allowed in the root
 * package.json).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const rootPackage = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> };

describe("the first npm start's build", () => {
  it('builds the demo and the six packages it runs on, nothing else', () => {
    const build = /^turbo run build (--filter=\S+) && /.exec(rootPackage.scripts.start!);
    expect(build, `npm start is "${rootPackage.scripts.start}"`).not.toBeNull();
    const plan = JSON.parse(
      execFileSync('npx', ['turbo', 'run', 'build', build![1]!, '--dry=json'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
      }),
    ) as { tasks: { taskId: string }[] };
    expect(plan.tasks.map((t) => t.taskId).sort()).toEqual([
      '@wshub/client#build',
      '@wshub/core#build',
      '@wshub/example-nest-app#build',
      '@wshub/nest#build',
      '@wshub/postgres#build',
      '@wshub/prometheus#build',
      '@wshub/redis#build',
    ]);
  });

  it('npm ci has no unreviewed install script to warn about', () => {
    const output = execFileSync('npm', ['install-scripts', 'ls'], { cwd: ROOT, encoding: 'utf8' });
    expect(output.trim()).toBe('No packages with unreviewed install scripts.');
  }, 60_000); // npm reads the whole tree: seconds, more on a busy machine
});
