/**
 * One contender's turn in one repetition: the server process(es) it runs
 * in, its clients in the shared load process, and the measured rounds.
 * Everything a session starts is stopped by `close()`.
 */
import { fileURLToPath } from 'node:url';
import { contenderUrl } from './contenders/index.mjs';
import { Child } from './lib/ipc.mjs';

const SERVER_PROCESS = fileURLToPath(new URL('./server-process.mjs', import.meta.url));
const CLUSTER_PROCESS = fileURLToPath(new URL('./cluster-server-process.mjs', import.meta.url));
const HUB_LOAD_PROCESS = fileURLToPath(new URL('./hub-load-process.mjs', import.meta.url));
/** Extra Node flags for server processes, e.g. `BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`. */
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);

export class Session {
  /**
   * @param {{ contender: object, load: Child, redisUrl?: string }} options
   */
  constructor({ contender, load, redisUrl }) {
    this.contender = contender;
    this.load = load;
    this.redisUrl = redisUrl;
    /** @type {Child[]} */
    this.servers = [];
    /** Load processes of this session alone (G, H); the shared one is `load`. @type {Child[]} */
    this.loads = [];
  }

  /**
   * Starts the contender in a fresh server process; `cluster` role for
   * scenario F; `options` reach the contender as `ctx.options`.
   */
  async startServer(role, options) {
    const name = `server ${this.contender.id}${role ? ` (${role})` : ''}`;
    const server = new Child(SERVER_PROCESS, { name, execArgv: ['--expose-gc', ...SERVER_NODE_ARGS] });
    this.servers.push(server);
    const cluster = role ? { redisUrl: this.redisUrl, role } : undefined;
    const { port, path } = await server.call('start', { file: contenderUrl(this.contender.file), cluster, options }, 30_000);
    return { server, port, path };
  }

  /** Starts the contender on `workers` node:cluster workers sharing one port (scenario H). */
  async startCluster(workers, options) {
    const server = new Child(CLUSTER_PROCESS, { name: `cluster ${this.contender.id}`, execArgv: ['--expose-gc', ...SERVER_NODE_ARGS] });
    this.servers.push(server);
    const { port, path } = await server.call('start', { file: contenderUrl(this.contender.file), workers, options }, 60_000);
    return { server, port, path };
  }

  /** `count` load processes of `@wshub/client` clients (G, H), stopped by `close()`. */
  startLoads(count) {
    const loads = Array.from({ length: count }, (_, i) => new Child(HUB_LOAD_PROCESS, { name: `load ${i + 1}` }));
    this.loads.push(...loads);
    return loads;
  }

  /**
   * Connects `users × devices` clients to `node` and waits until the server
   * reports them all ready (and, with `scopes`, each watching its scope).
   * Returns the load-side start and the server-side ready time (µs).
   */
  async connect(node, { users, devices = 1, scopes = 0, window = 256 }) {
    const sockets = users * devices;
    const ready = node.server.call('awaitReady', { sockets, watches: scopes ? sockets : 0 }, 120_000);
    // If connecting fails, the session closes the server and this rejects: not an unhandled rejection.
    ready.catch(() => {});
    const opened = await this.load.call(
      'connect',
      { port: node.port, path: node.path, dialect: this.contender.dialect, users, devices, scopes, window },
      120_000,
    );
    const done = await ready;
    return { t0: opened.t0, tOpen: opened.t1, tReady: done.t, loadCpu: opened.cpu };
  }

  /**
   * Stops everything the session started. Returns the server counters
   * (`deliveryErrors`, and for wshub `dropped` / `slowConsumers`) so the
   * run can flag a session that lost messages.
   */
  async close() {
    const stats = await Promise.all(this.servers.map((s) => s.call('stats', {}, 5000).catch(() => null)));
    try {
      await Promise.all([this.load, ...this.loads].map((l) => l.call('closeAll', {}, 30_000)));
    } finally {
      await Promise.all([...this.loads, ...this.servers].map((s) => s.stop()));
    }
    return stats.filter(Boolean);
  }
}

/**
 * Runs one measured round: arms the load counter, runs `drive` on the
 * server, then waits for the deliveries. `expected(serverResult)` is how
 * many deliveries the load must see (known only after a time-boxed drive).
 *
 * @returns {Promise<Round>}
 *
 * @typedef {object} Round
 * @property {boolean} complete every expected delivery arrived
 * @property {number} expected
 * @property {number} received
 * @property {number} calls delivery calls the server made
 * @property {number} elapsedUs first call → last delivery
 * @property {number} perSecond expected deliveries / elapsed
 * @property {number} loadCpu load process CPU over the round (1 = one core)
 * @property {number} loadSys share of that CPU spent in the kernel
 * @property {number | null} serverUsPerDelivery CPU µs the server process(es) in `servers` spent per
 *   expected delivery, first call → last receipt; unlike rates, this holds
 *   when other processes take CPU from the server
 * @property {number} serverCpu server CPU while driving (1 = one core)
 * @property {number} serverSys share of that CPU spent in the kernel
 * @property {object} [latency] `{ n, p50, p99, max }` in ms
 */
export async function measureRound(load, { drive, expected, servers = [], latency = false, timeoutMs = 30_000, count }) {
  await Promise.all(servers.map((s) => s.call('cpuMark')));
  await load.call('arm', { count, latency });
  const server = await drive();
  const want = expected(server);
  const got = await load.call('wait', { count: want, timeoutMs }, timeoutMs + 10_000);
  const used = await Promise.all(servers.map((s) => s.call('cpuRead')));
  const serverCpuUs = used.reduce((sum, u) => sum + u.totalUs, 0);
  const elapsedUs = Math.max(1, got.tDone - server.t0);
  const driveUs = Math.max(1, server.t1 - server.t0);
  return {
    complete: got.complete,
    expected: want,
    received: got.received,
    calls: server.calls,
    elapsedUs,
    perSecond: (want / elapsedUs) * 1e6,
    loadCpu: got.cpu.totalUs / Math.max(1, got.wallUs),
    loadSys: got.cpu.totalUs ? got.cpu.systemUs / got.cpu.totalUs : 0,
    serverUsPerDelivery: servers.length && want ? serverCpuUs / want : null,
    serverCpu: server.cpu.totalUs / driveUs,
    serverSys: server.cpu.totalUs ? server.cpu.systemUs / server.cpu.totalUs : 0,
    latency: got.latency,
  };
}

/** The sample a metric keeps from a round. */
export function sample(round, value) {
  return {
    value: round.complete ? value : null,
    loadCpu: round.loadCpu,
    loadSys: round.loadSys,
    serverCpu: round.serverCpu,
    serverUsPerDelivery: round.serverUsPerDelivery,
    serverSys: round.serverSys,
    ...(round.complete ? {} : { error: `incomplete: ${round.received} of ${round.expected} deliveries arrived` }),
  };
}
