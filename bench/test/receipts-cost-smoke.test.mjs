/**
 * bench/src/receipts-cost.mjs (targeted sends across two nodes on Redis with
 * receipts off, on, and with ids only) runs end to end with tiny N. Timings
 * are never asserted; what each contender does is: only receipts on sends
 * confirmations, and each of its messages is confirmed. Needs redis-server;
 * skipped without it, except under CI.
 */
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../src/receipts-cost.mjs', import.meta.url));
const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

const skip = hasRedis || process.env.CI ? undefined : 'redis-server not found on PATH: the receipts-cost smoke is skipped';
if (skip) process.stderr.write(`@wshub/bench: ${skip}\n`);

describe.skipIf(skip)(skip ?? 'node bench/src/receipts-cost.mjs (tiny)', () => {
  it('runs the three contenders; only receipts on confirms, every message', async () => {
    const env = { ...process.env, USERS: '20', TARGETED: '300', ROUNDS: '1' };
    delete env.REDIS_URL;
    delete env.ONLY;
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', SCRIPT, '--json'], { env, timeout: 110_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop());
    expect(Object.keys(result.summary)).toEqual(['receipts off', 'receipts on', 'ids only']);
    for (const contender of Object.values(result.summary)) {
      expect(contender.delivered).toHaveLength(1);
      expect(contender.delivered[0]).toBeGreaterThan(0);
      expect(contender.hubCpu[0]).toBeGreaterThan(0);
    }
    const on = result.summary['receipts on'];
    // The run waits for a 'delivered' per message; the sockets batch their confirmations.
    expect(on.confirmed[0]).toBeGreaterThan(0);
    expect(on.frames[0]).toBeGreaterThan(0);
    expect(on.frames[0]).toBeLessThanOrEqual(1);
    expect(on.envelopes[0]).toBeGreaterThan(0);
    for (const name of ['receipts off', 'ids only']) expect(result.summary[name].frames).toEqual([]);
    expect(Object.keys(result.ratios)).toEqual(['receipts on', 'ids only']);
    // A pending receipt holds some heap, and not kilobytes.
    expect(result.memory.perUser).toBeGreaterThan(50);
    expect(result.memory.perUser).toBeLessThan(2000);
  }, 120_000);
});
