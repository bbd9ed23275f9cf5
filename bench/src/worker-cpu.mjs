/**
 * CPU time per delivered message, summed over every process of the hub, for
 * targeted sends (`sendMessage` to users with one socket each), in three
 * setups, interleaved, each run in fresh processes:
 *
 * - `single`: one process, `WsHub` with no broker;
 * - `same`:   2 `node:cluster` workers (`WorkerBroker`) and the primary
 *             (`WorkerRelay`); each worker sends to the users it holds;
 * - `cross`:  the same cluster; each worker sends to the users the other
 *             worker holds (every message through the primary).
 *
 * Each worker sends SENDS ÷ 2 (`single`: SENDS), BURST calls per event-loop
 * turn, yielding between bursts, until every delivery is counted by the
 * clients (raw `ws`, in a child process, not counted: their work is the same
 * in every setup). CPU is `process.cpuUsage()` (user + system) of each hub
 * process from the start of the sends to the last delivery; the primary's
 * share is its part of the sum.
 *
 *   node bench/src/worker-cpu.mjs [rounds=5] [sends=40000] [users=1000] [burst=50]
 *   node bench/src/worker-cpu.mjs ... --json      # one JSON line
 *
 * `WSHUB_CORE_BEFORE=<path to a dist/index.js>` adds `same@before` and
 * `cross@before`: the same setups on that build of `@wshub/core` (an older
 * commit's), interleaved with this one's. `--recovery` adds `single+rec`,
 * `same+rec` and `cross+rec`: the same three with the hubs' `recovery` on
 * (in memory for `single`, the relay's history on workers).
 * `WORKER_CPU_PROFILE_DIR=<dir>` writes a CPU profile of every hub process
 * over each measured round (`<setup>-primary|worker|single-<pid>-1.cpuprofile`;
 * `profile-summary.mjs` sums them).
 */
import { execFile, fork } from 'node:child_process';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { cpuProfiler } from './lib/cpu-profile.mjs';

const SELF = fileURLToPath(import.meta.url);
const BEFORE = process.env.WSHUB_CORE_BEFORE;
const MODES = [
  'single',
  'same',
  'cross',
  ...(BEFORE ? ['same@before', 'cross@before'] : []),
  ...(process.argv.includes('--recovery') ? ['single+rec', 'same+rec', 'cross+rec'] : []),
];
/** In a `run` and its workers: the hubs' `recovery` on (a `+rec` setup). */
const RECOVERY = process.env.WORKER_CPU_RECOVERY === '1';
const profiler = cpuProfiler(process.env.WORKER_CPU_PROFILE_DIR);
/** The setup being run, for the profiles' names. */
const SETUP = process.env.WORKER_CPU_SETUP ?? 'run';
const DATA = { id: 42, status: 'shipped', note: 'a message of about a hundred bytes of JSON, as a notification is' };
/** `@wshub/core`, or the build a `…@before` run was given. */
const core = () => import(process.env.WSHUB_CORE_DIST ?? '@wshub/core');

/** A `process.cpuUsage()` difference (µs) in ns. */
const cpuNs = ({ user, system }) => (user + system) * 1000;
const tick = () => new Promise((r) => setImmediate(r));

function newHub(WsHub, broker) {
  return new WsHub({
    path: '/ws',
    broker,
    ...(RECOVERY ? { recovery: true } : {}),
    authenticate: (req) => ({ id: new URL(req.url, 'http://x').searchParams.get('user'), deviceFingerprint: 'd' }),
  });
}

/** `count` sends to `targets` in turn, `burst` per event-loop turn. */
async function sendAll(hub, targets, count, burst) {
  for (let i = 0; i < count; i++) {
    void hub.sendMessage(targets[(i * 7919) % targets.length], 'order', DATA);
    if (i % burst === burst - 1) await tick();
  }
}

function ask(child, message, type) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m?.type !== type) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send(message);
  });
}

// ------------------------------------------------------------------ clients

if (process.argv[2] === 'clients') {
  let count = 0;
  const sockets = [];
  process.on('message', async (m) => {
    if (m.type === 'connect') {
      for (let i = 0; i < m.users; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${m.port}/ws?user=u${i}`);
        ws.on('message', () => count++);
        sockets.push(ws);
        await once(ws, 'open');
      }
      process.send({ type: 'connected' });
    } else if (m.type === 'count') {
      process.send({ type: 'count', count });
    } else if (m.type === 'close') {
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }
  });
}

// ------------------------------------------------------- a cluster worker

if (cluster.isWorker) {
  const { WorkerBroker, WsHub } = await core();
  const hub = newHub(WsHub, new WorkerBroker());
  const mine = new Set();
  hub.on('ready', ({ user }) => mine.add(user.id));
  let started;
  let local = 0;
  process.on('message', async (m) => {
    if (m.type === 'users') process.send({ type: 'users', users: [...mine] });
    else if (m.type === 'send') {
      if (m.profile) await profiler.start();
      started = process.cpuUsage();
      local = hub.stats().broker.local ?? 0;
      await sendAll(hub, m.targets, m.count, m.burst);
      process.send({ type: 'sent' });
    } else if (m.type === 'cpu') {
      const ns = cpuNs(process.cpuUsage(started));
      if (m.profile) await profiler.stop(`${SETUP}-worker`);
      process.send({ type: 'cpu', ns, local: (hub.stats().broker.local ?? 0) - local });
    }
  });
  const server = createServer();
  hub.attach(server);
  server.listen(0, '127.0.0.1');
}

// ------------------------------------------------------- one setup, one run

async function deliver(clients, before, sends) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const got = (await ask(clients, { type: 'count' }, 'count')).count - before;
    if (got >= sends) return;
    if (Date.now() > deadline) throw new Error(`only ${got} of ${sends} deliveries within 120 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function run(mode, sends, users, burst) {
  const { WorkerRelay, WsHub } = await core();
  const clients = fork(SELF, ['clients'], { execArgv: [] });
  /** A round; `profile` (the measured one) profiles every hub process over it. */
  const round = async (send, profile) => {
    const before = (await ask(clients, { type: 'count' }, 'count')).count;
    if (profile) await profiler.start();
    const started = performance.now();
    const cpu = process.cpuUsage();
    const done = await send();
    await deliver(clients, before, sends);
    const ownNs = cpuNs(process.cpuUsage(cpu));
    const ms = performance.now() - started;
    if (profile) await profiler.stop(`${SETUP}-${mode === 'single' ? 'single' : 'primary'}`);
    return { ms, ownNs, ...(await done()) };
  };
  let result;
  if (mode === 'single') {
    const hub = newHub(WsHub);
    const server = createServer();
    hub.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    await ask(clients, { type: 'connect', port: server.address().port, users }, 'connected');
    const targets = Array.from({ length: users }, (_, i) => `u${i}`);
    const measure = (profile) =>
      round(async () => {
        await sendAll(hub, targets, sends, burst);
        return async () => ({ workers: [] });
      }, profile);
    await measure(false); // warm-up
    result = await measure(true);
    await hub.close();
    server.close();
  } else {
    const relay = new WorkerRelay();
    cluster.setupPrimary({ exec: SELF, args: ['worker'], execArgv: [] });
    const workers = [cluster.fork(), cluster.fork()];
    const [[address]] = await Promise.all(workers.map((w) => once(w, 'listening')));
    await ask(clients, { type: 'connect', port: address.port, users }, 'connected');
    let held;
    for (;;) {
      held = await Promise.all(workers.map(async (w) => (await ask(w, { type: 'users' }, 'users')).users));
      if (held[0].length + held[1].length === users) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const measure = (profile) =>
      round(async () => {
        const sent = workers.map((w, i) => {
          const targets = mode === 'same' ? held[i] : held[1 - i];
          return ask(w, { type: 'send', targets, count: sends / 2, burst, profile }, 'sent');
        });
        await Promise.all(sent);
        return async () => ({ workers: await Promise.all(workers.map((w) => ask(w, { type: 'cpu', profile }, 'cpu'))) });
      }, profile);
    await measure(false); // warm-up
    const relayed = relay.stats().relayed;
    result = await measure(true);
    result.relayed = relay.stats().relayed - relayed;
    for (const w of workers) w.process.kill();
  }
  clients.send({ type: 'close' });
  const workerNs = result.workers.reduce((sum, w) => sum + w.ns, 0);
  const totalNs = result.ownNs + workerNs;
  return {
    mode,
    deliveriesPerSecond: sends / (result.ms / 1000),
    cpuNsPerDelivery: totalNs / sends,
    primaryShare: mode === 'single' ? 0 : result.ownNs / totalNs,
    brokerLocal: result.workers.reduce((sum, w) => sum + w.local, 0),
    relayed: result.relayed ?? 0,
  };
}

if (process.argv[2] === 'run') {
  const [mode, sends, users, burst] = [process.argv[3], ...process.argv.slice(4, 7).map(Number)];
  const result = await run(mode, sends, users, burst);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

// ------------------------------------------------------------------ driver

const print = (line) => process.stdout.write(`${line}\n`);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const json = process.argv.includes('--json');
  const [rounds, sends, users, burst] = [args[0] ?? 5, args[1] ?? 40_000, args[2] ?? 1000, args[3] ?? 50].map(Number);
  const samples = Object.fromEntries(MODES.map((m) => [m, []]));
  const load = [];
  for (let round = 0; round < rounds; round++) {
    // Interleaved, the order rotated each round, so a busy moment of the machine falls on each in turn.
    const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]);
    for (const mode of order) {
      const [kind, build] = mode.split('@');
      const [setup, rec] = kind.split('+');
      const env = { ...process.env, WORKER_CPU_SETUP: mode.replace('@', '-'), WORKER_CPU_RECOVERY: rec ? '1' : '0' };
      if (build) env.WSHUB_CORE_DIST = BEFORE;
      const { stdout } = await promisify(execFile)(process.execPath, [SELF, 'run', setup, sends, users, burst].map(String), { env, timeout: 300_000 });
      const result = { ...JSON.parse(stdout.trim().split('\n').pop()), mode };
      samples[mode].push(result);
      load.push(loadavg()[0]);
      if (!json) {
        print(
          `round ${round + 1} ${mode}: ${result.cpuNsPerDelivery.toFixed(0)} CPU ns per delivery (primary ${(result.primaryShare * 100).toFixed(1)}%), ${result.deliveriesPerSecond.toFixed(0)} deliveries/s, ${result.brokerLocal} sent without IPC, ${result.relayed} relayed`,
        );
      }
    }
  }
  const summary = Object.fromEntries(
    MODES.map((m) => [
      m,
      {
        cpuNsPerDelivery: range(samples[m].map((s) => s.cpuNsPerDelivery)),
        primaryShare: range(samples[m].map((s) => s.primaryShare)),
        deliveriesPerSecond: range(samples[m].map((s) => s.deliveriesPerSecond)),
        brokerLocal: median(samples[m].map((s) => s.brokerLocal)),
        relayed: median(samples[m].map((s) => s.relayed)),
      },
    ]),
  );
  const result = { rounds, sends, users, burst, summary, loadavg: range(load) };
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const base = summary.single;
  const l = result.loadavg;
  print(`\n${rounds} rounds, interleaved; median [min–max]; × is the ratio of medians to single; load average (1 min) ${l.median.toFixed(1)} [${l.min.toFixed(1)}–${l.max.toFixed(1)}]`);
  print('| setup | CPU ns per delivery, all hub processes | × | primary share | deliveries/s | × |');
  print('|---|---|---|---|---|---|');
  const cell = (m, key) => {
    const r = summary[m][key];
    return `${r.median.toFixed(0)} [${r.min.toFixed(0)}–${r.max.toFixed(0)}] | ${(r.median / base[key].median).toFixed(2)}`;
  };
  for (const m of MODES) {
    const share = summary[m].primaryShare;
    const pct = (v) => (v * 100).toFixed(1);
    print(`| ${m} | ${cell(m, 'cpuNsPerDelivery')} | ${pct(share.median)}% [${pct(share.min)}–${pct(share.max)}] | ${cell(m, 'deliveriesPerSecond')} |`);
  }
}

if (cluster.isPrimary && process.argv[2] !== 'clients' && process.argv[2] !== 'run') await main();
