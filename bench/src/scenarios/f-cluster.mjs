/**
 * F. Cluster: two server nodes and Redis. Clients sit on node 2; node 1
 * sends to random users, so every delivery crosses Redis.
 */
import { sleep } from '../lib/clock.mjs';
import { measureRound, sample } from '../session.mjs';

export default {
  id: 'F',
  title: 'Cluster (2 nodes + Redis)',
  needsRedis: true,
  description:
    'node 1 (no clients) sends to random users whose sockets are on node 2. Throughput: unthrottled, `perTurn` sends per turn. Latency: paced sends, send on node 1 → receipt by the client of node 2.',
  metrics: (p) => [
    { key: 'throughput', label: 'cross-node throughput, unthrottled', unit: 'deliveries/s', better: 'higher' },
    { key: 'p50', label: `p50 latency at ${p.rate / 1000}k msg/s`, unit: 'ms', better: 'lower' },
    { key: 'p99', label: `p99 latency at ${p.rate / 1000}k msg/s`, unit: 'ms', better: 'lower' },
  ],
  cases: (p) => [
    {
      id: `${p.users}x${p.devices}`,
      label: `${p.users.toLocaleString('en-US')} users × ${p.devices} devices on node 2`,
      params: { users: p.users, devices: p.devices },
    },
  ],

  async run(session, { users, devices }, p) {
    const receiver = await session.startServer('subscriber');
    const sender = await session.startServer('publisher');
    await session.connect(receiver, { users, devices });
    // Let both nodes finish their Redis subscriptions.
    await sleep(p.settleMs);
    const unthrottled = (durationMs) =>
      measureRound(session.load, {
        servers: [sender.server, receiver.server],
        drive: () => sender.server.call('targeted', { users, durationMs, perTurn: p.perTurn }),
        expected: (s) => s.calls * devices,
        timeoutMs: p.timeoutMs,
      });
    await unthrottled(p.warmupMs);
    const max = await unthrottled(p.roundMs);
    const count = Math.round((p.rate * p.latencyMs) / 1000) * devices;
    const paced = await measureRound(session.load, {
        servers: [sender.server, receiver.server],
      drive: () => sender.server.call('targeted', { users, durationMs: p.latencyMs, rate: p.rate, seed: 7 }),
      expected: () => count,
      count,
      latency: true,
      timeoutMs: p.timeoutMs,
    });
    return {
      throughput: sample(max, max.perSecond),
      p50: sample(paced, paced.latency?.p50 ?? null),
      p99: sample(paced, paced.latency?.p99 ?? null),
    };
  },
};
