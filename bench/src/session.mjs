/**
 * One contender's turn in one repetition: the server process(es) it runs
 * in, its clients in the shared load process, and the measured rounds.
 * Everything a session starts is stopped by `close()`.
 */
import { fileURLToPath } from 'node:url';
import { contenderUrl } from './contenders/index.mjs';
import { Child } from './lib/ipc.mjs';

const SERVER_PROCESS = fileURLToPath(new URL('./server-process.mjs', import.meta.url));

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
  }

  /** Starts the contender in a fresh server process; `cluster` role for scenario F. */
  async startServer(role) {
    const name = `server ${this.contender.id}${role ? ` (${role})` : ''}`;
    const server = new Child(SERVER_PROCESS, { name, execArgv: ['--expose-gc'] });
    this.servers.push(server);
    const cluster = role ? { redisUrl: this.redisUrl, role } : undefined;
    const { port, path } = await server.call('start', { file: contenderUrl(this.contender.file), cluster }, 30_000);
    return { server, port, path };
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

  async close() {
    try {
      await this.load.call('closeAll', {}, 30_000);
    } finally {
      await Promise.all(this.servers.map((s) => s.stop()));
    }
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
 * @property {number} serverCpu server CPU while driving (1 = one core)
 * @property {number} serverSys share of that CPU spent in the kernel
 * @property {object} [latency] `{ n, p50, p99, max }` in ms
 */
export async function measureRound(load, { drive, expected, latency = false, timeoutMs = 30_000, count }) {
  await load.call('arm', { count, latency });
  const server = await drive();
  const want = expected(server);
  const got = await load.call('wait', { count: want, timeoutMs }, timeoutMs + 10_000);
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
    serverCpu: round.serverCpu,
    serverSys: round.serverSys,
    ...(round.complete ? {} : { error: `incomplete: ${round.received} of ${round.expected} deliveries arrived` }),
  };
}
