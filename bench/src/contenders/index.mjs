/**
 * The contenders, in table order. `file` is a module exporting
 * `start(ctx)` (see contract.mjs); `file: null` marks a slot whose
 * contender is not written yet (`pending` says why). `baseline: true`
 * contenders get a ratio column. `dialect` is the client protocol the load
 * generator speaks.
 */
export const CONTENDERS = [
  {
    id: 'wshub',
    label: 'wshub (core)',
    file: 'wshub-core.mjs',
    dialect: 'ws',
    scenarios: ['A', 'B', 'C', 'D', 'E', 'G'],
  },
  {
    id: 'wshub-pending',
    label: 'wshub, maxPendingSockets 20,000',
    file: 'wshub-pending.mjs',
    dialect: 'ws',
    scenarios: ['G'],
  },
  {
    id: 'wshub-workers',
    label: 'wshub on workers (WorkerBroker)',
    file: 'wshub-workers.mjs',
    dialect: 'ws',
    scenarios: ['H'],
  },
  // Scenario J: `workers` is the number of node:cluster workers the contender runs on.
  {
    id: 'wshub-workers1',
    label: 'wshub, 1 worker (WorkerBroker)',
    file: 'wshub-workers.mjs',
    dialect: 'ws',
    workers: 1,
    baseline: true,
    scenarios: ['J'],
  },
  {
    id: 'wshub-workers2',
    label: 'wshub, 2 workers (WorkerBroker)',
    file: 'wshub-workers.mjs',
    dialect: 'ws',
    workers: 2,
    scenarios: ['J'],
  },
  {
    id: 'wshub-metrics',
    label: 'wshub (core) + @wshub/prometheus',
    file: 'wshub-metrics.mjs',
    dialect: 'ws',
    scenarios: ['A', 'B'],
  },
  {
    id: 'wshub-traced',
    label: 'wshub (core) + OpenTelemetry SDK, every trace',
    file: 'wshub-traced.mjs',
    dialect: 'ws',
    scenarios: ['A', 'B'],
  },
  {
    id: 'wshub-traced-10',
    label: 'wshub (core) + OpenTelemetry SDK, 1 trace in 10',
    file: 'wshub-traced-10.mjs',
    dialect: 'ws',
    scenarios: ['A', 'B'],
  },
  {
    id: 'wshub-nest',
    label: 'wshub via @wshub/nest SendMessageCommand',
    labels: { A: 'wshub via @wshub/nest PushCommand' },
    file: 'wshub-nest.mjs',
    dialect: 'ws',
    scenarios: ['A', 'B'],
  },
  {
    id: 'wshub-nest-plain',
    label: 'wshub via @wshub/nest SendMessageCommand, plain data',
    labels: { A: 'wshub via @wshub/nest PushCommand, plain data' },
    file: 'wshub-nest-plain.mjs',
    dialect: 'ws',
    scenarios: ['A', 'B'],
  },
  {
    id: 'wshub-redis',
    label: 'wshub + RedisBroker',
    file: 'wshub-redis.mjs',
    dialect: 'ws',
    scenarios: ['F', 'I'],
  },
  // Scenario I: `shards` is the number of masters of the Redis Cluster the contender runs on.
  {
    id: 'wshub-redis-cluster1',
    label: 'wshub + RedisBroker, Redis Cluster of 1 master',
    file: 'wshub-redis-cluster.mjs',
    dialect: 'ws',
    shards: 1,
    scenarios: ['I'],
  },
  {
    id: 'wshub-redis-cluster3',
    label: 'wshub + RedisBroker, Redis Cluster of 3 masters',
    file: 'wshub-redis-cluster.mjs',
    dialect: 'ws',
    shards: 3,
    scenarios: ['I'],
  },
  {
    id: 'naive',
    label: 'per-socket stringify (original)',
    labels: { D: 'sequential loop (original)', E: 'scan all sockets (original)' },
    file: 'naive-stringify.mjs',
    dialect: 'ws',
    baseline: true,
    scenarios: ['A', 'B', 'D', 'E'],
  },
  {
    id: 'naive-ct',
    label: 'per-socket instanceToPlain + stringify',
    file: 'naive-class-transformer.mjs',
    dialect: 'ws',
    baseline: true,
    scenarios: ['A', 'B'],
  },
  {
    id: 'ws-once',
    label: 'ws serialize-once',
    labels: { C: 'raw ws', D: 'ws, 128 callbacks at a time', E: 'ws + scope index' },
    file: 'ws-serialize-once.mjs',
    dialect: 'ws',
    baseline: true,
    scenarios: ['A', 'B', 'C', 'D', 'E'],
  },
  {
    id: 'ws-frame',
    label: 'ws frame-once, one write',
    file: 'ws-frame-once.mjs',
    dialect: 'ws',
    baseline: true,
    scenarios: ['A', 'B'],
  },
  {
    id: 'ws-coalesced',
    label: 'ws frame-once, coalesced writes',
    file: 'ws-coalesced.mjs',
    dialect: 'ws',
    baseline: true,
    scenarios: ['A', 'B'],
  },
  {
    id: 'ws-idle',
    label: 'raw ws, same auth and heartbeat, frame-once broadcast',
    labels: { H: 'raw ws on workers, IPC relay for the broadcast' },
    file: 'ws-idle.mjs',
    dialect: 'ws',
    baseline: true,
    scenarios: ['G', 'H'],
  },
  {
    id: 'socketio',
    label: 'Socket.IO',
    labels: { F: 'Socket.IO + redis-adapter', I: 'Socket.IO + redis-adapter, one Redis' },
    file: 'socketio.mjs',
    dialect: 'socket.io',
    baseline: true,
    scenarios: ['A', 'B', 'C', 'E', 'F', 'I'],
  },
  {
    id: 'socketio-sharded',
    label: 'Socket.IO + sharded redis-adapter, Redis Cluster of 3 masters',
    file: 'socketio-sharded.mjs',
    dialect: 'socket.io',
    baseline: true,
    shards: 3,
    scenarios: ['I'],
  },
  {
    id: 'socketio-workers1',
    label: 'Socket.IO + cluster-adapter, 1 worker',
    file: 'socketio-workers.mjs',
    dialect: 'socket.io',
    workers: 1,
    baseline: true,
    scenarios: ['J'],
  },
  {
    id: 'socketio-workers2',
    label: 'Socket.IO + cluster-adapter, 2 workers',
    file: 'socketio-workers.mjs',
    dialect: 'socket.io',
    workers: 2,
    baseline: true,
    scenarios: ['J'],
  },
  {
    id: 'ws-redis',
    label: 'ws + Redis pub/sub (hand-rolled)',
    file: 'ws-redis-pubsub.mjs',
    dialect: 'ws',
    baseline: true,
    scenarios: ['F'],
  },
];

/** Absolute URL of a contender module. */
export function contenderUrl(file) {
  return new URL(file, import.meta.url).href;
}

/** The label a contender shows in a scenario. */
export function labelIn(contender, scenario) {
  return contender.labels?.[scenario] ?? contender.label;
}

/**
 * Loads each contender module once to learn whether it can run here (a
 * wshub package that is not built, a missing client library). Returns the
 * contenders with `available` and, when not, `reason`.
 */
export async function probeContenders(list = CONTENDERS) {
  return Promise.all(
    list.map(async (c) => {
      if (!c.file) return { ...c, available: false, reason: c.pending };
      try {
        const mod = await import(contenderUrl(c.file));
        if (typeof mod.start !== 'function') throw new Error('does not export start(ctx)');
        return { ...c, available: true };
      } catch (error) {
        return { ...c, available: false, reason: firstLine(error) };
      }
    }),
  );
}

function firstLine(error) {
  return String(error?.message ?? error).split('\n')[0];
}
