/**
 * J. Throughput on every core: targeted sends and broadcasts with the hub
 * on 1 and on 2 `node:cluster` workers sharing one port (wshub:
 * `WorkerBroker` + the primary's `WorkerRelay`; Socket.IO:
 * `@socket.io/cluster-adapter`). The worker count is part of the contender
 * (`workers` in its entry), so all four run interleaved in one case. Every
 * worker drives deliveries at once; a user's devices may sit on different
 * workers, so deliveries cross the primary as an application's would. Runs
 * only when named (`npm run bench -- --scenarios J`).
 */
import { sleep } from '../lib/clock.mjs';
import { measureRound, sample } from '../session.mjs';

export default {
  id: 'J',
  title: 'Throughput on 1 vs 2 node:cluster workers',
  optIn: true,
  description:
    'the server on 1 or 2 `node:cluster` workers sharing one port (round-robin) and a primary relaying between them (wshub: `WorkerRelay`; Socket.IO: the cluster adapter\'s `setupPrimary()`); clients in the one load process, spread over the workers by the accept order. Every worker drives at once. Targeted: each worker sends to random users (its own seed), unthrottled, `perTurn` per turn. Broadcast: pushes to everyone, `burst` per turn per worker, `broadcasts` in all (at most `broadcastMs` of sending). Deliveries/s counts every socket reached, on any worker; server CPU sums the workers and the primary.',
  metrics: () => [
    { key: 'throughput', label: 'targeted, unthrottled', unit: 'deliveries/s', better: 'higher' },
    { key: 'broadcast', label: 'broadcast, unthrottled', unit: 'deliveries/s', better: 'higher' },
  ],
  cases: (p) => [
    {
      id: `${p.users}x${p.devices}`,
      label: `${p.users.toLocaleString('en-US')} users × ${p.devices} devices`,
      params: { users: p.users, devices: p.devices },
    },
  ],

  async run(session, { users, devices }, p) {
    const node = await session.startCluster(session.contender.workers);
    await session.connect(node, { users, devices });
    await sleep(p.settleMs);
    const servers = [node.server];
    const unthrottled = (durationMs) =>
      measureRound(session.load, {
        servers,
        drive: () => node.server.call('targeted', { users, durationMs, perTurn: p.perTurn }),
        expected: (s) => s.calls * devices,
        timeoutMs: p.timeoutMs,
      });
    await unthrottled(p.warmupMs);
    const max = await unthrottled(p.roundMs);
    const broadcast = await measureRound(session.load, {
      servers,
      drive: () => node.server.call('broadcast', { durationMs: p.broadcastMs, burst: p.burst, limit: p.broadcasts }),
      expected: (s) => s.calls * users * devices,
      timeoutMs: p.timeoutMs,
    });
    return {
      throughput: sample(max, max.perSecond),
      broadcast: sample(broadcast, broadcast.perSecond),
    };
  },
};
