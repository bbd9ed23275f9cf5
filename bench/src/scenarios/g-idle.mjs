/**
 * G. One process, up to its descriptor limit: what an idle authenticated
 * connection costs as N grows, against raw `ws` with the same auth and
 * heartbeat. Clients are `@wshub/client` HubClients in several load
 * processes, spread over loopback source addresses.
 */
import { IDLE_METRICS, measureIdle, openFilesLimitSync } from '../lib/idle.mjs';

export default {
  id: 'G',
  title: 'Idle connections in one process, up to its descriptor limit',
  description:
    'N idle authenticated `@wshub/client` clients in load processes of at most `perLoad` clients, from 127.0.x.y source addresses; the server is one process with the open-files limit shown (the largest N is that limit less `fdReserve`). Auth: the bench token behind a lookup serving `authRate` requests/s (the same for both). Memory: heap + external and RSS after full GC, before and after, ÷ N. Idle CPU: server CPU over `hbWindowMs` with only the heartbeat running. Broadcast: one push to all → the last client has it. Storm: every TCP connection cut at once, the clients reconnect with their default jittered backoff → the server has authorized all N again; refused = HTTP 503 + close 4408 + close 4429 on the way.',
  metrics: IDLE_METRICS,
  cases(p) {
    // `maxOnly` (quick and smoke runs) stops short of the limit.
    const limit = p.maxOnly ? null : openFilesLimitSync();
    const max = p.maxOnly ?? (limit ? limit - p.fdReserve : p.maxClients);
    const sizes = [...new Set([...p.clients.filter((n) => n < max), max])];
    const label = (n, hb) =>
      `N=${n.toLocaleString('en-US')}${n === max && limit ? ` (open-files limit ${limit.toLocaleString('en-US')})` : ''}, heartbeat ${hb / 1000} s`;
    const cases = sizes.map((n) => ({ id: `N=${n} hb=${p.heartbeatMs}`, label: label(n, p.heartbeatMs), params: { clients: n, heartbeatMs: p.heartbeatMs, hbWindowMs: p.hbWindowMs } }));
    if (p.heartbeatSlowMs) {
      cases.push({
        id: `N=${max} hb=${p.heartbeatSlowMs}`,
        label: label(max, p.heartbeatSlowMs),
        params: { clients: max, heartbeatMs: p.heartbeatSlowMs, hbWindowMs: p.heartbeatSlowMs },
      });
    }
    return cases;
  },

  async run(session, { clients, heartbeatMs, hbWindowMs }, p) {
    const node = await session.startServer(undefined, { heartbeatMs, authRate: p.authRate });
    const loads = session.startLoads(Math.ceil(clients / p.perLoad));
    return measureIdle(node, loads, { ...p, clients, heartbeatMs, hbWindowMs });
  },
};
