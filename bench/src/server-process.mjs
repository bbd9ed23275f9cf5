/**
 * The server under test: one contender behind an http.Server on
 * 127.0.0.1, plus the drivers that call its delivery operations. Runs in
 * its own process (forked by the orchestrator, `--expose-gc`).
 */
import { createServer } from 'node:http';
import { openFiles, openFilesLimit } from './lib/auth-queue.mjs';
import { cpuSince, nextTurn, nowUs, seededRandom, sleep } from './lib/clock.mjs';
import { serve } from './lib/ipc.mjs';
import { EVENT, makeData, SCOPED_EVENT, userFromRequest, userFromToken } from './lib/payload.mjs';

const PATH = '/api/v1/ws';

/**
 * `BENCH_PROFILE_DIR=/tmp/prof npm run bench -- …` writes a CPU profile of
 * every measured round (not the connection setup) as
 * `<dir>/<contender>-<pid>-<n>.cpuprofile`, for finding where the time goes.
 */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const profiler = {
  session: undefined,
  rounds: 0,
  contender: 'server',
  async start() {
    if (!this.session) {
      const { Session } = await import('node:inspector/promises');
      this.session = new Session();
      this.session.connect();
      await this.session.post('Profiler.enable');
      await this.session.post('Profiler.setSamplingInterval', { interval: 100 });
    }
    await this.session.post('Profiler.start');
  },
  async stop() {
    const { profile } = await this.session.post('Profiler.stop');
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(PROFILE_DIR, { recursive: true });
    const file = `${PROFILE_DIR}/${this.contender}-${process.pid}-${++this.rounds}.cpuprofile`;
    await writeFile(file, JSON.stringify(profile));
  },
};

/** @type {import('./contenders/contract.mjs').Instance} */
let instance;
let server;
let ready = 0;
let watches = 0;
/** Pending `awaitReady` calls. */
const waiters = [];
let deliveryErrors = 0;
let cpuMark = process.cpuUsage();

function checkWaiters() {
  for (let i = waiters.length - 1; i >= 0; i--) {
    const w = waiters[i];
    if (ready >= w.sockets && watches >= w.watches) {
      waiters.splice(i, 1);
      w.resolve({ t: nowUs(), ready, watches });
    }
  }
}

/** A delivery may return a promise (wshub); a rejection must not go unhandled. */
function settle(result) {
  if (result && typeof result.then === 'function') {
    result.then(undefined, () => {
      deliveryErrors++;
    });
    return result;
  }
  return undefined;
}

function op(name) {
  const fn = instance?.deliver?.[name];
  if (!fn) throw new Error(`this contender has no "${name}" operation`);
  return fn;
}

/**
 * Calls `step(i)` until `durationMs` has passed, `perTurn` calls per
 * event-loop turn, then lets I/O run. Returns the call count and the
 * server-side timing.
 */
async function timeBoxed(durationMs, perTurn, step, limit = Number.POSITIVE_INFINITY) {
  const cpu0 = process.cpuUsage();
  const t0 = nowUs();
  const end = t0 + durationMs * 1000;
  let calls = 0;
  const promises = [];
  while (nowUs() < end && calls < limit) {
    for (let j = 0; j < perTurn && calls < limit; j++) {
      const p = settle(step(calls++));
      if (p) promises.push(p);
    }
    if (promises.length) await Promise.allSettled(promises.splice(0));
    await nextTurn();
  }
  return { calls, t0, t1: nowUs(), cpu: cpuSince(cpu0) };
}

serve({
  async start({ file, cluster, options }) {
    profiler.contender = file.split('/').pop().replace(/\.mjs$/, '');
    const mod = await import(file);
    server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    instance = await mod.start({
      server,
      path: PATH,
      authenticate: userFromRequest,
      userFromToken,
      onReady() {
        ready++;
        if (waiters.length) checkWaiters();
      },
      onWatch() {
        watches++;
        if (waiters.length) checkWaiters();
      },
      cluster,
      options,
    });
    // A deep accept queue: thousands of clients connect at once in scenario C.
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve);
    });
    return { port: server.address().port, path: PATH, pid: process.pid };
  },

  /** Resolves once `sockets` sockets are ready and `watches` watches registered, with the time it happened. */
  awaitReady({ sockets = 0, watches: wanted = 0 }) {
    return new Promise((resolve) => {
      waiters.push({ sockets, watches: wanted, resolve });
      checkWaiters();
    });
  },

  /** A: `push` to everyone for `durationMs`, `burst` pushes per event-loop turn; I: at most `limit` pushes. */
  broadcast({ durationMs, burst, limit }) {
    const broadcast = op('broadcast');
    return timeBoxed(durationMs, burst, (i) => broadcast(EVENT, makeData(i)), limit);
  },

  /**
   * B, F: sends to random users (same seed → same recipients for every
   * contender). Unthrottled: `perTurn` sends per turn for `durationMs`.
   * Paced (`rate`): `rate` sends/s on a 1 ms timer for `durationMs`, each
   * stamped with its send time for the latency percentiles.
   */
  async targeted({ users, durationMs, perTurn = 16, rate, seed = 1 }) {
    const toUser = op('toUser');
    const random = seededRandom(seed);
    const send = (i) => toUser(`u${Math.floor(random() * users)}`, EVENT, makeData(i, nowUs()));
    if (!rate) return timeBoxed(durationMs, perTurn, send);
    const total = Math.round((rate * durationMs) / 1000);
    const cpu0 = process.cpuUsage();
    const t0 = nowUs();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((nowUs() - t0) * rate) / 1e6));
      while (sent < due) settle(send(sent++));
      if (sent < total) await sleep(1);
    }
    return { calls: sent, t0, t1: nowUs(), cpu: cpuSince(cpu0) };
  },

  /** G, H: one broadcast to every connected socket; the time it was called. */
  broadcastOnce() {
    const cpu0 = process.cpuUsage();
    const t0 = nowUs();
    settle(op('broadcast')(EVENT, makeData(0)));
    return { calls: 1, t0, t1: nowUs(), cpu: cpuSince(cpu0) };
  },

  /** Open descriptors and the open-files limit of this process. */
  async files() {
    return { open: await openFiles(), limit: await openFilesLimit() };
  },

  /** D: one `push` whose `allow` awaits `delayMs` per user; resolves when the push is done. */
  async pushAllow({ delayMs }) {
    const pushAllow = op('pushAllow');
    const allow = () => new Promise((resolve) => setTimeout(resolve, delayMs, true));
    const cpu0 = process.cpuUsage();
    const t0 = nowUs();
    await pushAllow(EVENT, makeData(0), allow);
    return { calls: 1, t0, t1: nowUs(), cpu: cpuSince(cpu0) };
  },

  /** E: scoped sends to random scopes for `durationMs`, `perTurn` per turn. */
  scoped({ scopes, durationMs, perTurn = 16, seed = 2 }) {
    const scoped = op('scoped');
    const random = seededRandom(seed);
    return timeBoxed(durationMs, perTurn, (i) =>
      scoped(SCOPED_EVENT, `s${Math.floor(random() * scopes)}`, makeData(i)),
    );
  },

  /** Starts a CPU measurement (see `cpuRead`); with BENCH_PROFILE_DIR set, also a CPU profile of the round. */
  async cpuMark() {
    if (PROFILE_DIR) await profiler.start();
    cpuMark = process.cpuUsage();
    return {};
  },

  /** CPU used since `cpuMark`: covers a whole round, including writes that complete after the driver returns. */
  async cpuRead() {
    const used = cpuSince(cpuMark);
    if (PROFILE_DIR) await profiler.stop();
    return used;
  },

  /** Heap and RSS after a full GC. */
  async mem() {
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.();
      await sleep(20);
    }
    const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
    return { heapUsed, rss, external, arrayBuffers, gc: typeof globalThis.gc === 'function' };
  },

  stats() {
    return { ready, watches, deliveryErrors, ...(instance?.stats?.() ?? {}) };
  },
});
