/**
 * H. Every core of one machine: the hub on `node:cluster` workers sharing
 * one port (wshub: `WorkerBroker` + the primary's `WorkerRelay`), each
 * worker under its descriptor limit, with more connections than one
 * process may hold. The baseline is raw `ws` on the same workers with a
 * hand-rolled IPC relay for the broadcast.
 */
import { IDLE_METRICS, measureIdle } from '../lib/idle.mjs';

export default {
  id: 'H',
  title: 'Idle connections across node:cluster workers on one machine',
  description:
    '`workers` workers share one port (round-robin); N idle `@wshub/client` clients in load processes of at most `perLoad` clients, from 127.0.x.y source addresses. Same auth (a lookup of `authRate` requests/s per worker), measurements and storm as G; memory and CPU are summed over the workers and the primary. The broadcast is one push on the first worker, relayed to the others by the primary.',
  metrics: IDLE_METRICS,
  cases: (p) => [
    {
      id: `N=${p.clients} workers=${p.workers}`,
      label: `N=${p.clients.toLocaleString('en-US')} on ${p.workers} workers, heartbeat ${p.heartbeatMs / 1000} s`,
      params: { clients: p.clients, workers: p.workers },
    },
  ],

  async run(session, { clients, workers }, p) {
    const node = await session.startCluster(workers, { heartbeatMs: p.heartbeatMs, authRate: p.authRate });
    const loads = session.startLoads(Math.ceil(clients / p.perLoad));
    return measureIdle(node, loads, { ...p, clients });
  },
};
