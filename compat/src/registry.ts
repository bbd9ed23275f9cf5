import { tmpdir } from 'node:os';
import { run } from './run.js';

/**
 * Whether the npm registry, the one network the install suites need, is out
 * of reach: then they skip, saying so, except under CI, where nothing skips.
 */
export async function registryOffline(suite: string): Promise<boolean> {
  const registry = await run('npm', ['ping'], tmpdir());
  if (registry.code === 0) return false;
  if (process.env.CI) throw new Error(`compat: the npm registry is unreachable, and under CI nothing skips:\n${registry.output}`);
  process.stderr.write(`compat: ${suite} skipped, the npm registry is unreachable (npm ping failed); it installs from it\n`);
  return true;
}
