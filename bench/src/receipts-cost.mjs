/**
 * The cost of receipts: targeted `sendMessage` throughput with `receipts`
 * off and on, across two nodes on Redis (the sender holds no sockets; the
 * receiver holds every client), and the memory one pending receipt holds.
 * Contenders alternate over several rounds.
 *
 *   node --expose-gc bench/src/receipts-cost.mjs        # starts its own redis-server
 *   REDIS_URL=redis://127.0.0.1:6379 node --expose-gc bench/src/receipts-cost.mjs
 *
 * Clients are raw `ws` sockets (protocol v2) in a child process; each
 * parses every message and, with receipts on, confirms as `@wshub/client`
 * does by default: at most one `wshub:confirm` frame per 250 ms, the first
 * after a quiet 250 ms at the end of its turn, or one as soon as 64 ids
 * wait (`CONFIRM_MS`, `CONFIRM_IDS`; `CONFIRM_MS=0`: once per turn).
 * Throughput is deliveries per second from the first send to the last
 * delivery counted; "confirmed" runs to the last `'delivered'` on the
 * sender. CPU time per message (user + system) of the hub process (both
 * nodes) and of the load process is measured over the same span (to the
 * last `'delivered'` with receipts on): on a busy machine it holds up
 * better than the rates.
 *
 * A third contender, "ids only", has receipts off and gives every message
 * an `options.id`: the id travels in the envelope and in the v2 frame, as
 * with receipts, but nothing is tracked or confirmed. It splits what
 * receipts cost into what carrying an id costs and the rest.
 *
 *   ONLY=on|off|ids ...   one contender (for a CPU profile)
 *   ... --json            one JSON line at the end
 */
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { WsHub } from '@wshub/core';
import { RedisBroker } from '@wshub/redis';
import { Redis } from 'ioredis';
import WebSocket from 'ws';

const USERS = Number(process.env.USERS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TARGETED = Number(process.env.TARGETED ?? 40_000);
const CONFIRM_MS = Number(process.env.CONFIRM_MS ?? 250);
const CONFIRM_IDS = Number(process.env.CONFIRM_IDS ?? 64);
const DATA = { id: 42, status: 'shipped', note: 'a message of about a hundred bytes of JSON, as a notification is' };

if (process.argv[2] === 'clients') {
  let count = 0;
  let frames = 0;
  const sockets = [];
  process.on('message', async (m) => {
    if (m.type === 'connect') {
      for (let i = 0; i < m.users; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${m.port}/ws?user=u${i}`, ['wshub']);
        let ids = [];
        let timer;
        let sentAt = -Infinity;
        const flush = () => {
          clearTimeout(timer);
          timer = undefined;
          ws.send(JSON.stringify({ event: 'wshub:confirm', data: { ids } }));
          frames++;
          sentAt = performance.now();
          ids = [];
        };
        ws.on('message', (raw) => {
          const frame = JSON.parse(String(raw));
          if (frame.event === 'wshub:welcome') return;
          count++;
          // A client confirms when the hub's welcome says receipts are on (here: told so), not for an id alone.
          if (!m.confirm || typeof frame.id !== 'string') return;
          ids.push(frame.id);
          if (ids.length >= CONFIRM_IDS) flush();
          else if (ids.length === 1) timer = setTimeout(flush, Math.max(0, sentAt + CONFIRM_MS - performance.now()));
        });
        sockets.push(ws);
        await once(ws, 'open');
      }
      process.send({ type: 'connected' });
    } else if (m.type === 'count') {
      const cpu = process.cpuUsage();
      process.send({ type: 'count', count, frames, cpu: cpu.user + cpu.system });
    } else if (m.type === 'close') {
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }
  });
}

function authenticate(req) {
  return { id: new URL(req.url, 'http://x').searchParams.get('user'), deviceFingerprint: 'd' };
}

async function freePort() {
  const s = netServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

class Clients {
  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), ['clients']);
  }
  ask(message, type) {
    return new Promise((resolve) => {
      const on = (m) => {
        if (m.type !== type) return;
        this.child.off('message', on);
        resolve(m);
      };
      this.child.on('message', on);
      this.child.send(message);
    });
  }
  async count() {
    return (await this.ask({ type: 'count' }, 'count')).count;
  }
  /** The load process's CPU time so far (µs) and the confirm frames it sent. */
  async cpu() {
    return this.ask({ type: 'count' }, 'count');
  }
  close() {
    this.child.send({ type: 'close' });
  }
}

async function startHub({ receipts, redisUrl, prefix }) {
  const broker = new RedisBroker({ url: redisUrl, prefix });
  // A limit large enough that the run measures the path, not the rate limit of confirm frames.
  const hub = new WsHub({ path: '/ws', authenticate, broker, limits: { messageRate: 0 }, ...(receipts ? { receipts: true } : {}) });
  const server = createServer();
  hub.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  while (hub.stats().broker.subscribed < (receipts ? 3 : 2)) await new Promise((r) => setTimeout(r, 10));
  return {
    hub,
    port: server.address().port,
    async close() {
      await hub.close();
      server.close();
    },
  };
}

async function waitSubscribed(redis, prefix) {
  for (;;) {
    const reply = await redis.pubsub('NUMSUB', ...Array.from({ length: USERS }, (_, i) => `${prefix}:user:u${i}`));
    let ok = true;
    for (let i = 1; i < reply.length; i += 2) if (Number(reply[i]) === 0) ok = false;
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function until(check, what) {
  const deadline = Date.now() + 90_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not within 90 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function contender({ receipts, ids }, round, redisUrl) {
  const prefix = `rc${round}${receipts ? 'on' : ids ? 'ids' : 'off'}`;
  const receiver = await startHub({ receipts, redisUrl, prefix });
  const sender = await startHub({ receipts, redisUrl, prefix });
  const clients = new Clients();
  await clients.ask({ type: 'connect', port: receiver.port, users: USERS, confirm: receipts }, 'connected');
  const redis = new Redis(redisUrl);
  await waitSubscribed(redis, prefix);
  await new Promise((r) => setTimeout(r, 200));
  const hub = sender.hub;
  const run = async (total) => {
    const before = await clients.count();
    const confirmedBefore = hub.stats().receiptsDelivered;
    const loadBefore = await clients.cpu();
    const framesBefore = loadBefore.frames;
    // The receiving node publishes nothing but its sockets' confirmations.
    const envelopesBefore = receiver.hub.stats().broker.published;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const tag = `${prefix}.${total}.`;
    for (let i = 0; i < total; i++) {
      if (ids) hub.sendMessage(`u${i % USERS}`, 'order', DATA, undefined, { id: tag + i });
      else hub.sendMessage(`u${i % USERS}`, 'order', DATA);
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    await until(async () => (await clients.count()) - before >= total, 'deliveries');
    const delivered = total / ((performance.now() - started) / 1000);
    if (receipts) await until(() => hub.stats().receiptsDelivered - confirmedBefore >= total, "'delivered' events");
    // CPU time (user + system) per message, to the last delivery (off) or the last 'delivered' (on):
    // on a busy machine steadier than the rates, which wait for the CPU too.
    const spent = process.cpuUsage(cpuBefore);
    const hubCpu = (spent.user + spent.system) / total;
    const loadAfter = await clients.cpu();
    const loadCpu = (loadAfter.cpu - loadBefore.cpu) / total;
    if (!receipts) return { delivered, hubCpu, loadCpu };
    const framesPerMessage = (loadAfter.frames - framesBefore) / total;
    const envelopesPerMessage = (receiver.hub.stats().broker.published - envelopesBefore) / total;
    return { delivered, confirmed: total / ((performance.now() - started) / 1000), hubCpu, loadCpu, framesPerMessage, envelopesPerMessage };
  };
  await run(2000);
  const result = await run(TARGETED);
  clients.close();
  await redis.flushall();
  redis.disconnect();
  await sender.close();
  await receiver.close();
  return result;
}

/** Heap per pending receipt: a hub (no broker) sends to `n` users who are away. */
async function memoryPerReceipt() {
  const n = 20_000;
  global.gc?.();
  global.gc?.();
  const hub = new WsHub({ authenticate, receipts: { undeliveredAfterMs: 600_000 } });
  global.gc?.();
  const base = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) await hub.sendMessage(`away-${i}`, 'order', DATA);
  global.gc?.();
  global.gc?.();
  const perUser = (process.memoryUsage().heapUsed - base) / n;
  // The same user many times: one per-user set for all.
  const one = new WsHub({ authenticate, receipts: { undeliveredAfterMs: 600_000, maxPendingPerUser: n } });
  global.gc?.();
  const base2 = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) await one.sendMessage('bob', 'order', DATA);
  global.gc?.();
  global.gc?.();
  const perMessage = (process.memoryUsage().heapUsed - base2) / n;
  await hub.close();
  await one.close();
  return { perUser, perMessage };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const k = (x) => `${(x / 1000).toFixed(1)}k`;
const us = (xs) => `${median(xs).toFixed(1)} [${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}]`;
const cell = (xs) => `${k(median(xs))} [${k(Math.min(...xs))}–${k(Math.max(...xs))}]`;

async function main() {
  let redisUrl = process.env.REDIS_URL;
  let redisChild;
  if (!redisUrl) {
    const port = await freePort();
    redisChild = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    redisUrl = `redis://127.0.0.1:${port}`;
    const r = new Redis(redisUrl, { retryStrategy: () => 50 });
    r.on('error', () => {});
    await r.ping();
    r.disconnect();
  }
  // ONLY=on, off or ids runs one contender (for a CPU profile of it).
  const contenders = [
    { name: 'receipts off', only: 'off', receipts: false },
    { name: 'receipts on', only: 'on', receipts: true },
    { name: 'ids only', only: 'ids', receipts: false, ids: true },
  ].filter((c) => !process.env.ONLY || c.only === process.env.ONLY);
  const loadBefore = loadavg();
  const results = new Map(contenders.map((c) => [c.name, { delivered: [], confirmed: [], hubCpu: [], loadCpu: [], frames: [], envelopes: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of round % 2 ? [...contenders].reverse() : contenders) {
      const r = await contender(c, round, redisUrl);
      results.get(c.name).delivered.push(r.delivered);
      if (r.confirmed) results.get(c.name).confirmed.push(r.confirmed);
      if (r.framesPerMessage !== undefined) results.get(c.name).frames.push(r.framesPerMessage);
      if (r.envelopesPerMessage !== undefined) results.get(c.name).envelopes.push(r.envelopesPerMessage);
      results.get(c.name).hubCpu.push(r.hubCpu);
      results.get(c.name).loadCpu.push(r.loadCpu);
    }
  }
  const out = [];
  const window = CONFIRM_MS > 0 ? `at most one frame per ${CONFIRM_MS} ms or ${CONFIRM_IDS} ids` : 'once per turn';
  out.push(`${USERS} users × 1 device (protocol v2), 2 nodes on Redis, ${TARGETED} targeted sendMessage, ${ROUNDS} rounds, confirmations ${window}, median [min–max]`);
  out.push(
    '| contender | deliveries/s | confirmed (`\'delivered\'` on the sender)/s | hub process CPU µs/message | load process CPU µs/message | confirm frames/message | receipt envelopes/message |',
  );
  out.push('|---|---|---|---|---|---|---|');
  for (const c of contenders) {
    const r = results.get(c.name);
    out.push(`| ${c.name} | ${cell(r.delivered)} | ${r.confirmed.length ? cell(r.confirmed) : '—'} | ${us(r.hubCpu)} | ${us(r.loadCpu)} | ${r.frames.length ? median(r.frames).toFixed(2) : '—'} | ${r.envelopes.length ? median(r.envelopes).toFixed(3) : '—'} |`);
  }
  const ratio = (name, metric) => median(results.get(name)[metric]) / median(results.get('receipts off')[metric]);
  const ratios = {};
  for (const name of ['receipts on', 'ids only']) {
    if (!results.has(name) || !results.has('receipts off')) continue;
    ratios[name] = { delivered: ratio(name, 'delivered'), hubCpu: ratio(name, 'hubCpu'), loadCpu: ratio(name, 'loadCpu') };
    const r = ratios[name];
    out.push(
      '',
      `${name === 'receipts on' ? 'on' : 'ids only'}/off deliveries/s: ${r.delivered.toFixed(2)}×; hub CPU per message: ${r.hubCpu.toFixed(2)}×; load CPU per message: ${r.loadCpu.toFixed(2)}×`,
    );
  }
  const load = (l) => l.map((x) => x.toFixed(1)).join(' ');
  out.push(`load average (1, 5, 15 min): ${load(loadBefore)} at the start, ${load(loadavg())} at the end, ${availableParallelism()} cores`);
  const mem = await memoryPerReceipt();
  out.push(`heap per pending receipt: ${mem.perUser.toFixed(0)} B (one per user), ${mem.perMessage.toFixed(0)} B (many for one user)`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (process.argv.includes('--json')) {
    const summary = Object.fromEntries(results);
    process.stdout.write(`${JSON.stringify({ users: USERS, targeted: TARGETED, rounds: ROUNDS, summary, ratios, memory: mem, loadavg: loadavg() })}\n`);
  }
  redisChild?.kill();
  process.exit(0);
}

if (process.argv[2] !== 'clients') await main();
