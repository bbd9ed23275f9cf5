/**
 * C. Connections: how fast clients connect and authenticate, and what an
 * idle authenticated connection costs the server in heap and RSS.
 */
import { sleep } from '../lib/clock.mjs';

export default {
  id: 'C',
  title: 'Connections',
  description:
    'N clients connect with a token in the URL (`window` handshakes in flight). Rate = N ÷ (first connect → server has authenticated all N). Memory: server heap and RSS after full GC, before and after, ÷ N.',
  metrics: [
    { key: 'rate', label: 'connect + auth rate', unit: 'connections/s', better: 'higher' },
    { key: 'heap', label: 'heap per idle connection', unit: 'bytes', better: 'lower' },
    { key: 'rss', label: 'RSS per idle connection', unit: 'bytes', better: 'lower' },
  ],
  cases: (p) => [{ id: `N=${p.clients}`, label: `N=${p.clients.toLocaleString('en-US')}`, params: { clients: p.clients } }],

  async run(session, { clients }, p) {
    const node = await session.startServer();
    const before = await node.server.call('mem');
    const t = await session.connect(node, { users: clients, window: p.window });
    await sleep(p.settleMs);
    const after = await node.server.call('mem');
    const rate = (clients / Math.max(1, t.tReady - t.t0)) * 1e6;
    const loadCpu = t.loadCpu.totalUs / Math.max(1, t.tOpen - t.t0);
    const base = { loadCpu, serverCpu: null, serverSys: null };
    return {
      rate: { ...base, value: rate },
      heap: { ...base, value: (after.heapUsed - before.heapUsed) / clients },
      rss: { ...base, value: (after.rss - before.rss) / clients },
    };
  },
};
