/**
 * bench/src/ids-cost.mjs (sendMessage with recovery on a Redis history,
 * without and with `options.id`) runs end to end with tiny N. Timings are
 * never asserted. Needs redis-server; skipped without it, except under CI.
 */
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../src/ids-cost.mjs', import.meta.url));
const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

const skip = hasRedis || process.env.CI ? undefined : 'redis-server not found on PATH: the ids-cost smoke is skipped';
if (skip) process.stderr.write(`@wshub/bench: ${skip}\n`);

describe.skipIf(skip)(skip ?? 'node bench/src/ids-cost.mjs (tiny)', () => {
  it('measures both contenders every round, each message recorded', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '300', '2', '--json'], { timeout: 55_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop());
    expect(result.rates['no id']).toHaveLength(2);
    expect(result.rates['an id']).toHaveLength(2);
    for (const rate of [...result.rates['no id'], ...result.rates['an id']]) expect(rate).toBeGreaterThan(0);
    expect(result.ratio).toBeGreaterThan(0);
    expect(result.loadavg).toHaveLength(3);
  }, 60_000);
});
