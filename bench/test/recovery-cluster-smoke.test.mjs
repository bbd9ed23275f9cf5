/**
 * bench/src/recovery-cluster.mjs (replay after a drop of every client, on
 * one Redis and on a Redis Cluster; recovery on vs off on one Redis and on the cluster) runs
 * end to end with tiny N. Timings are never asserted; that every client
 * resumed and was answered `recovered`, with what it missed, is.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../src/recovery-cluster.mjs', import.meta.url));

describe('node bench/src/recovery-cluster.mjs (tiny)', () => {
  it('replays on one Redis and on the cluster, and measures recovery on and off', async () => {
    // 1 round, 20 clients, 200 targeted sends, 2 broadcasts, 3 messages missed each.
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '1', '20', '200', '2', '3', '--cost-on=redis,cluster', '--json'], { timeout: 110_000 });
    const { summary } = JSON.parse(stdout.trim().split('\n').pop());
    for (const where of ['one Redis', 'Redis Cluster']) {
      const replay = summary.replay[where];
      expect(replay.statuses).toEqual({ recovered: 20 });
      expect(replay.replayedPerClient).toBe(3);
      expect(replay.p99).toBeGreaterThan(0);
    }
    // On the cluster and on one Redis: the hubs' CPU and Redis's own (INFO cpu), recovery off and on.
    expect(Object.keys(summary.costs)).toEqual(['redis', 'cluster']);
    for (const cost of [summary.cost, summary.costOneRedis]) {
      for (const kind of ['targeted', 'broadcast']) {
        for (const side of [cost[kind].off, cost[kind].on]) {
          expect(side.perSecond.median).toBeGreaterThan(0);
          expect(side.cpuUsPerDelivery.median).toBeGreaterThan(0);
        }
        expect(cost[kind].throughputRatio).toBeGreaterThan(0);
      }
      for (const side of [cost.targeted.off, cost.targeted.on]) expect(side.redisUsPerDelivery.median).toBeGreaterThan(0);
    }
  }, 120_000);
});
