/**
 * E. Scoped delivery: every socket watches one of `sockets / perScope`
 * scopes; each send goes to one random scope. With an index the cost per
 * send depends on the matching sockets, not on how many are connected:
 * compare the rate across the N cases.
 */
import { measureRound, sample } from '../session.mjs';

export default {
  id: 'E',
  title: 'Scoped delivery',
  description:
    'N sockets, each watching (scoped, s<i mod scopes>) with `perScope` sockets per scope; push with a payload to a random scope, `perTurn` per event-loop turn. Sends/s, each reaching `perScope` sockets.',
  metrics: [{ key: 'rate', label: 'scoped sends', unit: 'sends/s', better: 'higher' }],
  cases: (p) =>
    p.sockets.map((n) => ({
      id: `N=${n}`,
      label: `N=${n.toLocaleString('en-US')}, ${Math.max(1, Math.floor(n / p.perScope)).toLocaleString('en-US')} scopes`,
      params: { sockets: n, scopes: Math.max(1, Math.floor(n / p.perScope)) },
    })),

  async run(session, { sockets, scopes }, p) {
    const node = await session.startServer();
    await session.connect(node, { users: sockets, scopes });
    const perScope = sockets / scopes;
    const round = (durationMs) =>
      measureRound(session.load, {
        servers: [node.server],
        drive: () => node.server.call('scoped', { scopes, durationMs, perTurn: p.perTurn }),
        expected: (s) => s.calls * perScope,
        timeoutMs: p.timeoutMs,
      });
    await round(p.warmupMs);
    const r = await round(p.roundMs);
    return { rate: sample(r, r.perSecond / perScope) };
  },
};
