/**
 * Message recovery past one Redis (issue 24), two measurements side by side:
 *
 * - replay: `users` clients (protocol v2, raw `ws`) on one hub node lose
 *   their connections at once; while they are away every user gets
 *   `missed` messages; then all of them reconnect at once and resume. The
 *   time from each client's reconnect (its `new WebSocket`) to the resume's
 *   `recovered` answer: p50, p99, max. On one Redis and on a Redis Cluster
 *   of 3 masters.
 * - cost: two hub nodes on the Redis Cluster (the sender and the receiver,
 *   `users` clients on the receiver), recovery off and on interleaved, the
 *   order rotated each round: targeted `sendMessage` and broadcast `push`
 *   throughput (deliveries/s from the first send to the last delivery
 *   counted) and the CPU time of both hub processes (`process.cpuUsage`,
 *   user + system) per delivered message, and Redis's own (`INFO cpu` of
 *   every master). `--cost-on=redis,cluster` measures the same on one Redis
 *   too, the four setups interleaved (default: `cluster`); with
 *   `WSHUB_REDIS_BEFORE=<a dist/index.js>` of `@wshub/redis` (another
 *   commit's, built apart), `redis@before` and `cluster@before` run the hubs
 *   on that build, interleaved with the others.
 *
 *   node bench/src/recovery-cluster.mjs [rounds=3] [users=1000] [targeted=20000] [broadcasts=40] [missed=5] [--json]
 *
 * `RECOVERY_PROFILE_DIR=<dir>` writes a CPU profile of each hub process over
 * each measured cost round (`<redis|cluster>-<on|off>-<targeted|broadcast>-<sender|receiver>-<pid>-<n>.cpuprofile`;
 * `profile-summary.mjs` sums them).
 *
 * The script starts its own redis-server and Redis Cluster (3 masters, no
 * replicas: lib/redis-cluster.mjs) on free ports and stops them at the end.
 * Each hub node runs in its own process (`hub` mode), the clients in one
 * more (`clients` mode). After `npx turbo run build`.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cpuProfiler } from './lib/cpu-profile.mjs';
import { summarize } from './lib/stats.mjs';

const SELF = fileURLToPath(import.meta.url);
const DATA = { id: 42, status: 'shipped', note: 'a message of about a hundred bytes of JSON, as a notification is' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A child process of this script answering `{ id, … }` requests with `{ id, result | error }`. */
class Child {
  constructor(args) {
    this.proc = fork(SELF, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.seq = 0;
    this.pending = new Map();
    this.proc.on('message', (m) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    this.proc.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`child ${args[0]} exited`));
      this.pending.clear();
    });
  }
  call(type, args = {}) {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send({ id, type, ...args });
    });
  }
  async close() {
    if (this.proc.exitCode !== null) return;
    this.proc.kill('SIGKILL');
    await once(this.proc, 'exit').catch(() => {});
  }
}

/** Serves `handlers[type](message)` over IPC in a child process. */
function serve(handlers) {
  process.on('message', async (m) => {
    try {
      process.send({ id: m.id, result: await handlers[m.type](m) });
    } catch (error) {
      process.send({ id: m.id, error: String(error?.stack ?? error) });
    }
  });
}

// -------------------------------------------------------------- hub process

async function hubProcess(config) {
  const { WsHub } = await import('@wshub/core');
  const { RedisBroker } = await import(config.redisDist ?? '@wshub/redis');
  const broker = new RedisBroker(config.cluster ? { cluster: config.cluster } : { url: config.url });
  const hub = new WsHub({
    path: '/ws',
    broker,
    authenticate: (req) => ({ id: new URL(req.url, 'http://x').searchParams.get('user'), deviceFingerprint: 'd' }),
    ...(config.recovery ? { recovery: true } : {}),
  });
  const errors = [];
  hub.on('error', (error) => errors.length < 20 && errors.push(error.message));
  const server = createServer();
  hub.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  let cpu = process.cpuUsage();
  const profiler = cpuProfiler(process.env.RECOVERY_PROFILE_DIR);
  /** Sends in bursts of 500, yielding between bursts, as an app under load does. */
  const sendAll = async (count, send) => {
    for (let i = 0; i < count; i++) {
      send(i);
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
  };
  serve({
    port: () => server.address().port,
    stats: () => ({ ...hub.stats().broker, errors }),
    cpuStart: async ({ profile }) => {
      if (profile) await profiler.start();
      cpu = process.cpuUsage();
    },
    cpu: async ({ profile }) => {
      const d = process.cpuUsage(cpu);
      if (profile) await profiler.stop(profile);
      return d.user + d.system;
    },
    targeted: ({ count, users }) =>
      sendAll(count, (i) => hub.sendMessage(`u${i % users}`, 'order', DATA).catch((e) => errors.length < 20 && errors.push(e.message))),
    broadcast: ({ count }) => sendAll(count, () => hub.push('news', DATA)),
    close: async () => {
      await hub.close();
      server.close();
    },
  });
  process.send({ ready: true });
}

// ---------------------------------------------------------- clients process

async function clientsProcess() {
  const { default: WebSocket } = await import('ws');
  const { nowUs } = await import('./lib/clock.mjs');
  let count = 0;
  /** Per user: the socket, and the position of the last message it got (protocol v2). */
  const clients = [];
  const open = (port, user, onFrame) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?user=u${user}`, ['wshub']);
    ws.on('message', onFrame);
    ws.on('error', () => {});
    return ws;
  };
  serve({
    /** Connects `users` clients; each keeps its epoch and offset when `track`. */
    connect: async ({ port, users, track }) => {
      const opened = [];
      for (let i = 0; i < users; i++) {
        const c = { ws: undefined, welcomed: false, epoch: undefined, offset: 0 };
        c.ws = open(port, i, (data) => {
          if (!c.welcomed) {
            // The welcome: not counted; with `track`, the client's position.
            c.welcomed = true;
            const recovery = JSON.parse(String(data)).data?.recovery;
            c.epoch = recovery?.epoch;
            c.offset = recovery?.offset ?? 0;
            return;
          }
          count++;
          if (!track) return;
          const f = JSON.parse(String(data));
          if (typeof f.offset === 'number') c.offset = f.offset;
        });
        clients[i] = c;
        opened.push(once(c.ws, 'open'));
        if (i % 100 === 99) await Promise.all(opened.splice(0));
      }
      await Promise.all(opened);
      while (clients.slice(0, users).some((c) => !c.welcomed)) await new Promise((r) => setTimeout(r, 10));
    },
    count: () => count,
    /** Drops every connection at once (no close frame: the clients see it as a network drop). */
    drop: () => {
      for (const c of clients) c.ws.terminate();
    },
    /** Every client reconnects at once and resumes from its position; ms from `new WebSocket` to `recovered`. */
    resume: async ({ port, timeoutMs }) => {
      const results = clients.map(
        (c, i) =>
          new Promise((resolve) => {
            const started = nowUs();
            let replayed = 0;
            let welcomeMs;
            const ws = open(port, i, (data) => {
              const f = JSON.parse(String(data));
              if (f.event === 'wshub:welcome') {
                welcomeMs = (nowUs() - started) / 1000;
                ws.send(JSON.stringify({ event: 'wshub:resume', id: 1, data: { epoch: c.epoch, offset: c.offset } }));
              } else if (f.event === 'wshub:ack' && f.data.id === 1) {
                resolve({ status: f.data.status, ms: (nowUs() - started) / 1000, welcomeMs, replayed, message: f.data.message });
                ws.terminate();
              } else if (!f.event.startsWith('wshub:')) replayed++;
            });
            ws.on('unexpected-response', (_req, res) => resolve({ status: `http ${res.statusCode}` }));
            ws.on('close', () => resolve({ status: 'closed' }));
            setTimeout(() => resolve({ status: 'timeout' }), timeoutMs);
          }),
      );
      return Promise.all(results);
    },
    close: () => {
      for (const c of clients) c.ws.terminate();
      setTimeout(() => process.exit(0), 10);
    },
  });
  process.send({ ready: true });
}

// ------------------------------------------------------------------- main

async function startHub(config) {
  const hub = new Child(['hub', JSON.stringify(config)]);
  await new Promise((resolve, reject) => {
    hub.proc.once('message', resolve);
    hub.proc.once('exit', () => reject(new Error('a hub process exited at start')));
  });
  hub.port = await hub.call('port');
  return hub;
}

async function startClients() {
  const clients = new Child(['clients']);
  await once(clients.proc, 'message');
  return clients;
}

/** The broadcast channel and the liveness probes: one on one Redis, one per master (3) on the cluster. */
const channelsBesideUsers = (where) => 1 + (where.cluster ? where.cluster.length : 1);

/** Waits until `hub`'s subscriber confirmed `channels` channels or more. */
async function subscribed(hub, channels) {
  const deadline = Date.now() + 60_000;
  while ((await hub.call('stats')).subscribed < channels) {
    if (Date.now() > deadline) throw new Error(`the hub did not subscribe ${channels} channels within 60 s`);
    await sleep(20);
  }
}

/** Waits until the clients counted `expected` more frames than `before`; the time since `started` (ms). */
async function delivered(clients, before, expected, started) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const got = (await clients.call('count')) - before;
    if (got >= expected) return performance.now() - started;
    if (Date.now() > deadline) throw new Error(`only ${got} of ${expected} deliveries within 120 s`);
    await sleep(5);
  }
}

/** One replay round on `where` ({ url } or { cluster }). */
async function replayRound(where, { users, missed }) {
  const hub = await startHub({ ...where, recovery: true });
  const clients = await startClients();
  try {
    await clients.call('connect', { port: hub.port, users, track: true });
    await subscribed(hub, users + channelsBesideUsers(where));
    // One message each first, so every client's position is an offset of its history.
    let before = await clients.call('count');
    await hub.call('targeted', { count: users, users });
    await delivered(clients, before, users, performance.now());
    await clients.call('drop');
    const stats = await hub.call('stats');
    const recordedBefore = stats.recorded;
    await sleep(200); // the hub sees the sockets go
    await hub.call('targeted', { count: users * missed, users });
    while ((await hub.call('stats')).recorded < recordedBefore + users * missed) await sleep(20);
    before = await clients.call('count');
    const answers = await clients.call('resume', { port: hub.port, timeoutMs: 30_000 });
    const recovered = answers.filter((a) => a.status === 'recovered');
    const statuses = {};
    for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    // Why resumes failed: the answers' own message, else what the hub reported through 'error' (its first 20).
    const said = [...answers.map((a) => a.message), ...(await hub.call('stats')).errors.filter((e) => /resume/.test(e))];
    const reasons = [...new Set(said.filter(Boolean).map((m) => m.replace(/"u\d+"/, '"…"')))];
    return {
      ms: recovered.map((a) => a.ms),
      welcomeMs: answers.filter((a) => a.welcomeMs !== undefined).map((a) => a.welcomeMs),
      reasons,
      statuses,
      replayedPerClient: recovered.length ? recovered.reduce((s, a) => s + a.replayed, 0) / recovered.length : 0,
    };
  } finally {
    await clients.call('close').catch(() => {});
    await clients.close();
    await hub.call('close').catch(() => {});
    await hub.close();
  }
}

/** The CPU time (µs, user + system) every Redis process of `where` used so far (`INFO cpu`). */
async function redisCpuUs(where) {
  const { redisCli } = await import('./lib/redis-cluster.mjs');
  const ports = where.cluster ? where.cluster.map((n) => n.port) : [Number(new URL(where.url).port)];
  let us = 0;
  for (const port of ports) {
    const info = await redisCli(port, 'INFO', 'cpu');
    for (const key of ['used_cpu_sys', 'used_cpu_user']) us += Number(info.match(new RegExp(`${key}:([\\d.]+)`))[1]) * 1e6;
  }
  return us;
}

/** One cost round on `where` ({ url } or { cluster }): two nodes, clients on the receiver. */
async function costRound(where, recovery, { users, targeted, broadcasts }, build = {}) {
  const receiver = await startHub({ ...where, ...build, recovery });
  const sender = await startHub({ ...where, ...build, recovery });
  const clients = await startClients();
  const name = `${where.cluster ? 'cluster' : 'redis'}${build.redisDist ? '@before' : ''}-${recovery ? 'on' : 'off'}`;
  try {
    await clients.call('connect', { port: receiver.port, users, track: false });
    await subscribed(receiver, users + channelsBesideUsers(where));
    // Warm-up: every user's channel carries a message end to end before anything is timed.
    let before = await clients.call('count');
    await sender.call('targeted', { count: users, users });
    await delivered(clients, before, users, performance.now());
    const measure = async (type, count, expected) => {
      before = await clients.call('count');
      const redisBefore = await redisCpuUs(where);
      await Promise.all(['sender', 'receiver'].map((n, i) => [sender, receiver][i].call('cpuStart', { profile: `${name}-${type}-${n}` })));
      const started = performance.now();
      await sender.call(type, { count, users });
      const ms = await delivered(clients, before, expected, started);
      const cpuUs = (await sender.call('cpu', { profile: `${name}-${type}-sender` })) + (await receiver.call('cpu', { profile: `${name}-${type}-receiver` }));
      const redisUs = (await redisCpuUs(where)) - redisBefore;
      return { perSecond: expected / (ms / 1000), cpuUsPerDelivery: cpuUs / expected, redisUsPerDelivery: redisUs / expected };
    };
    const t = await measure('targeted', targeted, targeted);
    const b = await measure('broadcast', broadcasts, broadcasts * users);
    return { targeted: t, broadcast: b };
  } finally {
    await clients.call('close').catch(() => {});
    await clients.close();
    for (const hub of [sender, receiver]) {
      await hub.call('close').catch(() => {});
      await hub.close();
    }
  }
}

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const json = process.argv.includes('--json');
  const [rounds = 3, users = 1000, targeted = 20_000, broadcasts = 40, missed = 5] = args.map(Number);
  const { startRedis } = await import('./lib/redis.mjs');
  const { startRedisCluster } = await import('./lib/redis-cluster.mjs');
  const load = [loadavg()[0]];
  const redis = await startRedis();
  const cluster = await startRedisCluster(3);
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
  const fresh = () => ({ ms: [], welcomeMs: [], reasons: new Set(), statuses: {}, replayed: [] });
  const replay = { 'one Redis': fresh(), 'Redis Cluster': fresh() };
  const costOn = (process.argv.find((a) => a.startsWith('--cost-on='))?.slice(10) ?? 'cluster').split(',');
  const fresh2 = () => ({ off: { targeted: [], broadcast: [] }, on: { targeted: [], broadcast: [] } });
  const costs = Object.fromEntries(costOn.map((place) => [place, fresh2()]));
  const before = process.env.WSHUB_REDIS_BEFORE;
  if (costOn.some((place) => place.endsWith('@before')) && !before) throw new Error('--cost-on=…@before needs WSHUB_REDIS_BEFORE');
  try {
    for (let round = 0; round < rounds; round++) {
      const places = [
        ['one Redis', { url: redis.url }],
        ['Redis Cluster', { cluster: cluster.nodes }],
      ];
      for (const [name, where] of only === 'cost' ? [] : round % 2 ? places.reverse() : places) {
        const r = await replayRound(where, { users, missed });
        replay[name].ms.push(...r.ms);
        replay[name].welcomeMs.push(...r.welcomeMs);
        for (const reason of r.reasons) replay[name].reasons.add(reason);
        replay[name].replayed.push(r.replayedPerClient);
        for (const [status, n] of Object.entries(r.statuses)) replay[name].statuses[status] = (replay[name].statuses[status] ?? 0) + n;
      }
      // Every setup once per round, the order rotated each round.
      const setups = [];
      for (const place of costOn) for (const recovery of [false, true]) setups.push([place, recovery]);
      const rotated = setups.map((_, i) => setups[(i + round) % setups.length]);
      for (const [place, recovery] of only === 'replay' ? [] : rotated) {
        const where = place.startsWith('redis') ? { url: redis.url } : { cluster: cluster.nodes };
        const build = place.endsWith('@before') ? { redisDist: before } : {};
        const r = await costRound(where, recovery, { users, targeted, broadcasts }, build);
        const cost = costs[place];
        cost[recovery ? 'on' : 'off'].targeted.push(r.targeted);
        cost[recovery ? 'on' : 'off'].broadcast.push(r.broadcast);
      }
      load.push(loadavg()[0]);
    }
  } finally {
    cluster.stop();
    redis.stop();
  }
  const { quantile } = await import('./lib/stats.mjs');
  const summary = { rounds, users, targeted, broadcasts, missed, loadavg: load, replay: {}, cost: {}, costOneRedis: {}, costs: {} };
  for (const [name, r] of Object.entries(replay)) {
    summary.replay[name] = {
      p50: quantile(r.ms, 0.5),
      p99: quantile(r.ms, 0.99),
      max: r.ms.length ? Math.max(...r.ms) : null,
      welcomeP50: quantile(r.welcomeMs, 0.5),
      welcomeP99: quantile(r.welcomeMs, 0.99),
      statuses: r.statuses,
      reasons: [...r.reasons],
      replayedPerClient: summarize(r.replayed).median,
    };
  }
  // `costs[place]` for each of `--cost-on`; `cost` is the cluster's (as before), `costOneRedis` one Redis's.
  for (const [place, cost] of Object.entries(costs)) {
    summary.costs[place] = {};
    if (place === 'cluster') summary.cost = summary.costs[place];
    if (place === 'redis') summary.costOneRedis = summary.costs[place];
    for (const kind of only === 'replay' ? [] : ['targeted', 'broadcast']) {
      const of = (side, field) => summarize(cost[side][kind].map((x) => x[field]));
      const side = (s) => ({ perSecond: of(s, 'perSecond'), cpuUsPerDelivery: of(s, 'cpuUsPerDelivery'), redisUsPerDelivery: of(s, 'redisUsPerDelivery') });
      const off = side('off');
      const on = side('on');
      summary.costs[place][kind] = {
        off,
        on,
        throughputRatio: on.perSecond.median / off.perSecond.median,
        cpuRatio: on.cpuUsPerDelivery.median / off.cpuUsPerDelivery.median,
        redisCpuRatio: on.redisUsPerDelivery.median / off.redisUsPerDelivery.median,
      };
    }
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ summary })}\n`);
  } else {
    const f1 = (x) => (x === null || Number.isNaN(x) ? '—' : x.toFixed(1));
    const cell = (s, scale = 1, digits = 1) => `${(s.median * scale).toFixed(digits)} [${(s.min * scale).toFixed(digits)}–${(s.max * scale).toFixed(digits)}]`;
    const out = [];
    out.push(`${users} clients, ${rounds} rounds, load average ${load.map((l) => l.toFixed(1)).join(' → ')}`);
    if (only !== 'cost') {
      out.push('');
      out.push(`Replay: ${users} clients reconnect at once and resume, ${missed} messages missed each`);
      out.push('| where | p50 ms | p99 ms | max ms | welcome p50 / p99 ms | answers | replayed per client |');
      out.push('|---|---|---|---|---|---|---|');
    }
    for (const [name, r] of only === 'cost' ? [] : Object.entries(summary.replay)) {
      const answers = Object.entries(r.statuses).map(([s, n]) => `${n} ${s}`).join(', ');
      out.push(`| ${name} | ${f1(r.p50)} | ${f1(r.p99)} | ${f1(r.max)} | ${f1(r.welcomeP50)} / ${f1(r.welcomeP99)} | ${answers} | ${f1(r.replayedPerClient)} |`);
    }
    for (const [name, r] of Object.entries(summary.replay)) if (r.reasons.length) out.push(`${name}: not recovered because ${r.reasons.join('; ')}`);
    for (const [place, cost] of Object.entries(summary.costs)) {
      if (!Object.keys(cost).length) continue;
      const title = `${place.startsWith('redis') ? 'one Redis (2 hub nodes)' : 'Redis Cluster (3 masters, 2 hub nodes)'}${place.endsWith('@before') ? ', WSHUB_REDIS_BEFORE' : ''}`;
      out.push('', `Cost on ${title}, median [min–max]; CPU: both hub processes, and Redis's (every master)`);
      out.push('| | off: deliveries/s | on: deliveries/s | on ÷ off | off: hub CPU µs/delivery | on: hub CPU µs/delivery | on ÷ off | off: Redis CPU µs/delivery | on: Redis CPU µs/delivery | on ÷ off |');
      out.push('|---|---|---|---|---|---|---|---|---|---|');
      for (const [kind, c] of Object.entries(cost)) {
        out.push(
          `| ${kind} | ${cell(c.off.perSecond, 1 / 1000)}k | ${cell(c.on.perSecond, 1 / 1000)}k | ${c.throughputRatio.toFixed(2)}× | ${cell(c.off.cpuUsPerDelivery)} | ${cell(c.on.cpuUsPerDelivery)} | ${c.cpuRatio.toFixed(2)}× | ${cell(c.off.redisUsPerDelivery, 1, 2)} | ${cell(c.on.redisUsPerDelivery, 1, 2)} | ${c.redisCpuRatio.toFixed(2)}× |`,
        );
      }
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
  process.exit(0);
}

if (process.argv[2] === 'hub') await hubProcess(JSON.parse(process.argv[3]));
else if (process.argv[2] === 'clients') await clientsProcess();
else await main();
