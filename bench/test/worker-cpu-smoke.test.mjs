/**
 * bench/src/worker-cpu.mjs (a single process, 2 workers sending to their
 * own users, 2 workers sending across) runs end to end with tiny N. CPU is
 * never compared; what each setup does is: same-worker sends are all
 * delivered without IPC and none relayed, cross-worker ones all relayed.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../src/worker-cpu.mjs', import.meta.url));

describe('node bench/src/worker-cpu.mjs (tiny)', () => {
  it('runs the three setups and reports each', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '1', '400', '40', '20', '--json'], { timeout: 55_000 });
    const { summary } = JSON.parse(stdout.trim().split('\n').pop());
    expect(Object.keys(summary)).toEqual(['single', 'same', 'cross']);
    expect([summary.single.brokerLocal, summary.same.brokerLocal, summary.cross.brokerLocal]).toEqual([0, 400, 0]);
    expect([summary.single.relayed, summary.same.relayed, summary.cross.relayed]).toEqual([0, 0, 400]);
    expect(summary.single.primaryShare.median).toBe(0);
    for (const setup of Object.values(summary)) {
      expect(setup.cpuNsPerDelivery.median).toBeGreaterThan(0);
      expect(setup.deliveriesPerSecond.median).toBeGreaterThan(0);
    }
  }, 60_000);

  it('--recovery adds the three with recovery on, where every message goes through the relay', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '1', '400', '40', '20', '--recovery', '--json'], { timeout: 85_000 });
    const { summary } = JSON.parse(stdout.trim().split('\n').pop());
    expect(Object.keys(summary)).toEqual(['single', 'same', 'cross', 'single+rec', 'same+rec', 'cross+rec']);
    // With recovery the relay's history numbers every message: none is sent without IPC, even to a user held alone.
    expect([summary['same+rec'].brokerLocal, summary['cross+rec'].brokerLocal]).toEqual([0, 0]);
    expect(summary['same+rec'].primaryShare.median).toBeGreaterThan(summary.same.primaryShare.median);
    for (const setup of Object.values(summary)) expect(setup.cpuNsPerDelivery.median).toBeGreaterThan(0);
  }, 90_000);
});
