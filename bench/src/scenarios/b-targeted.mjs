/**
 * B. Targeted: `sendMessage` to random users (every user has `devices`
 * sockets): unthrottled throughput, then latency at fixed offered loads.
 */
import { measureRound, sample } from '../session.mjs';

export default {
  id: 'B',
  title: 'Targeted sends',
  description:
    'sendMessage to random users (same seeded sequence for every contender). Throughput: unthrottled, `perTurn` sends per event-loop turn; deliveries/s counts every socket reached. Latency: sends paced at a fixed rate on a 1 ms timer, each stamped with its send time; p50/p99 of send → receipt.',
  metrics: (p) => [
    { key: 'throughput', label: 'throughput, unthrottled', unit: 'deliveries/s', better: 'higher' },
    ...p.rates.flatMap((rate) => [
      { key: `p50@${rate}`, label: `p50 latency at ${fmtRate(rate)} msg/s`, unit: 'ms', better: 'lower' },
      { key: `p99@${rate}`, label: `p99 latency at ${fmtRate(rate)} msg/s`, unit: 'ms', better: 'lower' },
    ]),
  ],
  cases: (p) => [
    {
      id: `${p.users}x${p.devices}`,
      label: `${p.users.toLocaleString('en-US')} users × ${p.devices} devices`,
      params: { users: p.users, devices: p.devices },
    },
  ],

  async run(session, { users, devices }, p) {
    const node = await session.startServer();
    await session.connect(node, { users, devices });
    const unthrottled = (durationMs) =>
      measureRound(session.load, {
        servers: [node.server],
        drive: () => node.server.call('targeted', { users, durationMs, perTurn: p.perTurn }),
        expected: (s) => s.calls * devices,
        timeoutMs: p.timeoutMs,
      });
    await unthrottled(p.warmupMs);
    const max = await unthrottled(p.roundMs);
    const out = { throughput: sample(max, max.perSecond) };
    for (const rate of p.rates) {
      const count = Math.round((rate * p.latencyMs) / 1000) * devices;
      const paced = await measureRound(session.load, {
        servers: [node.server],
        drive: () => node.server.call('targeted', { users, durationMs: p.latencyMs, rate, seed: rate }),
        expected: () => count,
        count,
        latency: true,
        timeoutMs: p.timeoutMs,
      });
      out[`p50@${rate}`] = sample(paced, paced.latency?.p50 ?? null);
      out[`p99@${rate}`] = sample(paced, paced.latency?.p99 ?? null);
    }
    return out;
  },
};

function fmtRate(rate) {
  return rate >= 1000 ? `${rate / 1000}k` : String(rate);
}
