/**
 * The server side of scenario H: the primary of a `node:cluster` whose
 * workers each run `server-process.mjs` with the contender, all sharing
 * one port (cluster hands connections out round-robin). The contender's
 * `primary()` export runs here (wshub: the `WorkerRelay`). Answers the
 * same commands as a single server process, summed over the workers (and
 * this process, for memory and CPU). Scenario J drives deliveries on every
 * worker at once (`targeted`, `broadcast`), as an application whose every
 * worker sends would.
 */
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { cpuSince, nowUs, sleep } from './lib/clock.mjs';
import { serve } from './lib/ipc.mjs';

const WORKER = fileURLToPath(new URL('./server-process.mjs', import.meta.url));

let nextId = 1;
const waiting = new Map();
/** @type {import('node:cluster').Worker[]} */
let workers = [];
let cpuMark = process.cpuUsage();

cluster.on('message', (_worker, message) => {
  if (typeof message?.id !== 'number' || typeof message.ok !== 'boolean') return;
  const entry = waiting.get(message.id);
  if (!entry) return;
  waiting.delete(message.id);
  if (message.ok) entry.resolve(message.result);
  else entry.reject(new Error(`worker: ${entry.cmd} failed: ${message.error}`));
});
cluster.on('exit', (worker, code, signal) => {
  if (!workers.includes(worker)) return;
  for (const [id, entry] of waiting) {
    if (entry.worker !== worker) continue;
    waiting.delete(id);
    entry.reject(new Error(`worker ${worker.id} exited (${signal ?? code}) during ${entry.cmd}`));
  }
});

function call(worker, cmd, args = {}, timeoutMs = 120_000) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error(`worker ${worker.id}: ${cmd} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    waiting.set(id, {
      cmd,
      worker,
      resolve: (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    worker.send({ id, cmd, args });
  });
}

const all = (cmd, args) => Promise.all(workers.map((w) => call(w, cmd, args)));
const sum = (list, key) => list.reduce((s, x) => s + (x?.[key] ?? 0), 0);

/**
 * One drive result from the workers' own (see `timeBoxed` in
 * server-process.mjs): calls summed, first start → last end, CPU summed
 * over the workers.
 */
function combined(each) {
  return {
    calls: sum(each, 'calls'),
    t0: Math.min(...each.map((r) => r.t0)),
    t1: Math.max(...each.map((r) => r.t1)),
    cpu: { totalUs: each.reduce((s, r) => s + r.cpu.totalUs, 0), systemUs: each.reduce((s, r) => s + r.cpu.systemUs, 0) },
  };
}

serve({
  async start({ file, workers: count, options }) {
    const mod = await import(file);
    mod.primary?.();
    cluster.setupPrimary({ exec: WORKER, execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    workers = Array.from({ length: count }, () => cluster.fork());
    // A worker hears commands only once its module runs (see serve()).
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve, reject) => {
            const onMessage = (m) => {
              if (m?.serving !== true) return;
              w.off('message', onMessage);
              resolve();
            };
            w.on('message', onMessage);
            w.once('exit', (code) => reject(new Error(`worker ${w.id} exited (${code}) while starting`)));
          }),
      ),
    );
    const started = await Promise.all(workers.map((w) => call(w, 'start', { file, options }, 30_000)));
    return { port: started[0].port, path: started[0].path, pid: process.pid, workers: count };
  },

  /** Resolves once the workers have `sockets` ready sockets between them (polled every 50 ms). */
  async awaitReady({ sockets = 0 }) {
    for (;;) {
      const stats = await all('stats');
      if (sum(stats, 'ready') >= sockets) return { t: nowUs(), ready: sum(stats, 'ready'), perWorker: stats.map((s) => s.ready) };
      await sleep(50);
    }
  },

  /** Memory after GC, summed over the workers, plus this process's own. */
  async mem() {
    const each = await all('mem');
    globalThis.gc?.();
    const own = process.memoryUsage();
    const total = (key) => sum(each, key) + own[key];
    return {
      heapUsed: total('heapUsed'),
      external: total('external'),
      arrayBuffers: total('arrayBuffers'),
      rss: total('rss'),
      primaryRss: own.rss,
      gc: each.every((m) => m.gc),
    };
  },

  async cpuMark() {
    cpuMark = process.cpuUsage();
    await all('cpuMark');
    return {};
  },

  async cpuRead() {
    const each = await all('cpuRead');
    const own = cpuSince(cpuMark);
    return { totalUs: sum(each, 'totalUs') + own.totalUs, systemUs: sum(each, 'systemUs') + own.systemUs, primaryUs: own.totalUs };
  },

  /**
   * J: every worker sends to random users for `durationMs` (unthrottled;
   * worker i uses seed `seed + i`, so the workers pick different users).
   */
  async targeted({ users, durationMs, perTurn, seed = 1 }) {
    const each = await Promise.all(
      workers.map((w, i) => call(w, 'targeted', { users, durationMs, perTurn, seed: seed + i })),
    );
    return combined(each);
  },

  /** J: every worker pushes to everyone for `durationMs`, `burst` per turn, `limit` pushes in all. */
  async broadcast({ durationMs, burst, limit }) {
    const share = (i) => Math.floor(limit / workers.length) + (i < limit % workers.length ? 1 : 0);
    const each = await Promise.all(
      workers.map((w, i) => call(w, 'broadcast', { durationMs, burst, limit: limit == null ? undefined : share(i) })),
    );
    return combined(each);
  },

  /** One broadcast, called on the first worker; the others get it through the primary. */
  broadcastOnce() {
    return call(workers[0], 'broadcastOnce');
  },

  async files() {
    const each = await all('files');
    return { open: sum(each, 'open'), perWorker: each.map((f) => f.open), limit: each[0]?.limit ?? null };
  },

  async stats() {
    const each = await all('stats').catch(() => []);
    const out = {};
    for (const s of each) for (const [k, v] of Object.entries(s)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
    return out;
  },
});

// serve() exits when the orchestrator goes away; no worker outlives this process.
process.on('exit', () => {
  for (const worker of workers) worker.process.kill('SIGKILL');
});
