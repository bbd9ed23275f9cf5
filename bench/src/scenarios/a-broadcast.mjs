/**
 * A. Broadcast fan-out: `push` of plain data to N clients, single pushes
 * (one per event-loop turn) and bursts (several pushes in one turn).
 */
import { measureRound, sample } from '../session.mjs';

export default {
  id: 'A',
  title: 'Broadcast fan-out',
  description:
    'push of plain data (~200-byte message) to N clients for a fixed time; single = one push per event-loop turn, burst = `burst` pushes in one turn. Deliveries/s = messages received by all clients ÷ (first push → last receipt).',
  metrics: [
    { key: 'single', label: 'single pushes', unit: 'deliveries/s', better: 'higher' },
    { key: 'burst', label: 'bursts', unit: 'deliveries/s', better: 'higher' },
  ],
  cases: (p) => p.clients.map((n) => ({ id: `N=${n}`, label: `N=${n.toLocaleString('en-US')}`, params: { clients: n } })),

  async run(session, { clients }, p) {
    const node = await session.startServer();
    await session.connect(node, { users: clients });
    const round = (durationMs, burst) =>
      measureRound(session.load, {
        servers: [node.server],
        drive: () => node.server.call('broadcast', { durationMs, burst }),
        expected: (s) => s.calls * clients,
        timeoutMs: p.timeoutMs,
      });
    await round(p.warmupMs, 1);
    const single = await round(p.roundMs, 1);
    await round(p.warmupMs / 2, p.burst);
    const burst = await round(p.roundMs, p.burst);
    return { single: sample(single, single.perSecond), burst: sample(burst, burst.perSecond) };
  },
};
