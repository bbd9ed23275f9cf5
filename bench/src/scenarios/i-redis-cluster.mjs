/**
 * I. Scenario F on Redis Cluster: the same two nodes (node 1 sends, node 2
 * holds the clients), over one Redis and over a cluster of 1 and 3 masters
 * with sharded pub/sub, side by side. Targeted sends (one channel per user,
 * spread over the shards) and broadcasts (one channel: one shard). Runs
 * only when named (`npm run bench -- --scenarios I`). The clusters are
 * started by this scenario on first use and stopped by `stop()`.
 */
import { sleep } from '../lib/clock.mjs';
import { startRedisCluster } from '../lib/redis-cluster.mjs';
import { measureRound, sample } from '../session.mjs';

/** masters → started cluster (a promise, so parallel first uses share it). */
const clusters = new Map();

function clusterOf(masters) {
  if (!clusters.has(masters)) clusters.set(masters, startRedisCluster(masters));
  return clusters.get(masters);
}

export default {
  id: 'I',
  title: 'Cross-node on Redis Cluster (F on 1 Redis vs sharded pub/sub)',
  needsRedis: true,
  optIn: true,
  description:
    'as F: node 1 (no clients) sends to users whose sockets are on node 2, every delivery crossing Redis; one Redis, or a Redis Cluster of 1 or 3 masters (no replicas) with sharded pub/sub. Targeted: random users, unthrottled, `perTurn` per turn; paced sends for latency. Broadcast: `broadcasts` pushes to everyone (at most `broadcastMs` of sending), `burst` per turn, through the one broadcast channel (one shard).',
  metrics: (p) => [
    { key: 'throughput', label: 'targeted, unthrottled', unit: 'deliveries/s', better: 'higher' },
    { key: 'broadcast', label: 'broadcast, unthrottled', unit: 'deliveries/s', better: 'higher' },
    { key: 'p50', label: `targeted p50 latency at ${p.rate / 1000}k msg/s`, unit: 'ms', better: 'lower' },
    { key: 'p99', label: `targeted p99 latency at ${p.rate / 1000}k msg/s`, unit: 'ms', better: 'lower' },
  ],
  cases: (p) => [
    {
      id: `${p.users}x${p.devices}`,
      label: `${p.users.toLocaleString('en-US')} users × ${p.devices} devices on node 2`,
      params: { users: p.users, devices: p.devices },
    },
  ],

  async run(session, { users, devices }, p) {
    // `shards` in the contender's entry: on a cluster of that many masters; none: on the one Redis.
    const masters = session.contender.shards;
    const options = masters ? { redisCluster: (await clusterOf(masters)).nodes } : undefined;
    const receiver = await session.startServer('subscriber', options);
    const sender = await session.startServer('publisher', options);
    await session.connect(receiver, { users, devices });
    await sleep(p.settleMs);
    const servers = [sender.server, receiver.server];
    const unthrottled = (durationMs) =>
      measureRound(session.load, {
        servers,
        drive: () => sender.server.call('targeted', { users, durationMs, perTurn: p.perTurn }),
        expected: (s) => s.calls * devices,
        timeoutMs: p.timeoutMs,
      });
    await unthrottled(p.warmupMs);
    const max = await unthrottled(p.roundMs);
    const broadcast = await measureRound(session.load, {
      servers,
      drive: () => sender.server.call('broadcast', { durationMs: p.broadcastMs, burst: p.burst, limit: p.broadcasts }),
      expected: (s) => s.calls * users * devices,
      timeoutMs: p.timeoutMs,
    });
    const count = Math.round((p.rate * p.latencyMs) / 1000) * devices;
    const paced = await measureRound(session.load, {
      servers,
      drive: () => sender.server.call('targeted', { users, durationMs: p.latencyMs, rate: p.rate, seed: 7 }),
      expected: () => count,
      count,
      latency: true,
      timeoutMs: p.timeoutMs,
    });
    return {
      throughput: sample(max, max.perSecond),
      broadcast: sample(broadcast, broadcast.perSecond),
      p50: sample(paced, paced.latency?.p50 ?? null),
      p99: sample(paced, paced.latency?.p99 ?? null),
    };
  },

  /** Stops the clusters this scenario started. */
  async stop() {
    const started = await Promise.allSettled(clusters.values());
    clusters.clear();
    for (const s of started) if (s.status === 'fulfilled') s.value.stop();
  },
};
