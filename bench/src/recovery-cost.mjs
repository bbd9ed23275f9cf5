/**
 * The cost of message recovery (issue 14): targeted and broadcast
 * throughput with `recovery` off and on, on one node (memory history) and
 * across two nodes on Redis (Redis streams), and the memory the history
 * holds per user. Contenders run side by side, alternating, several rounds.
 *
 *   node bench/src/recovery-cost.mjs            # starts its own redis-server
 *   REDIS_URL=redis://127.0.0.1:6379 node bench/src/recovery-cost.mjs
 *
 * Clients are raw `ws` sockets (protocol v2, so they get offsets) in a child
 * process that counts what arrives; the server side runs here. Throughput is
 * deliveries per second from the first send to the last delivery counted.
 */
import { spawn } from 'node:child_process';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WsHub } from '@wshub/core';
import { RedisBroker } from '@wshub/redis';
import { Redis } from 'ioredis';
import WebSocket from 'ws';

const USERS = Number(process.env.USERS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TARGETED = Number(process.env.TARGETED ?? 40_000);
const BROADCASTS = Number(process.env.BROADCASTS ?? 60);
const DATA = { id: 42, status: 'shipped', note: 'a message of about a hundred bytes of JSON, as a notification is' };

// ------------------------------------------------------------------ clients

if (process.argv[2] === 'clients') {
  let count = 0;
  const sockets = [];
  process.on('message', async (m) => {
    if (m.type === 'connect') {
      for (let i = 0; i < m.users; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${m.port}/ws?user=u${i}`, ['wshub']);
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
  close() {
    this.child.send({ type: 'close' });
  }
}

/** A hub on a port; `redisUrl` makes it a node of a cluster. */
async function startHub({ recovery, redisUrl, prefix }) {
  const broker = redisUrl ? new RedisBroker({ url: redisUrl, prefix }) : undefined;
  const hub = new WsHub({ path: '/ws', authenticate, ...(broker ? { broker } : {}), ...(recovery ? { recovery: true } : {}) });
  const server = createServer();
  hub.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  if (broker) while (hub.stats().broker.subscribed < 2) await new Promise((r) => setTimeout(r, 10));
  return {
    hub,
    port: server.address().port,
    async close() {
      await hub.close();
      server.close();
    },
  };
}

/** Sends `total` messages in bursts of 500, yielding between bursts, and waits until `expected` deliveries are counted. */
async function measure(clients, send, total, expected) {
  const before = await clients.count();
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    send(i);
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = (await clients.count()) - before;
    if (got >= expected) break;
    if (Date.now() > deadline) throw new Error(`only ${got} of ${expected} deliveries within 60 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return expected / ((performance.now() - started) / 1000);
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

/** One contender: a sender hub and a receiver hub (the same one in memory), clients on the receiver. */
async function contender({ recovery, redisUrl }, round) {
  const prefix = `bench${round}${recovery ? 'r' : 'p'}`;
  const receiver = await startHub({ recovery, redisUrl, prefix });
  const sender = redisUrl ? await startHub({ recovery, redisUrl, prefix }) : receiver;
  const clients = new Clients();
  await clients.ask({ type: 'connect', port: receiver.port, users: USERS }, 'connected');
  let redis;
  if (redisUrl) {
    redis = new Redis(redisUrl);
    await waitSubscribed(redis, prefix);
  }
  await new Promise((r) => setTimeout(r, 200));
  const hub = sender.hub;
  await measure(clients, (i) => hub.sendMessage(`u${i % USERS}`, 'order', DATA), 2000, 2000);
  const targeted = await measure(clients, (i) => hub.sendMessage(`u${i % USERS}`, 'order', DATA), TARGETED, TARGETED);
  const broadcast = await measure(clients, () => hub.push('news', DATA), BROADCASTS, BROADCASTS * USERS);
  clients.close();
  if (redis) {
    await redis.flushall();
    redis.disconnect();
  }
  if (sender !== receiver) await sender.close();
  await receiver.close();
  return { targeted, broadcast };
}

/** Bytes the history holds per user once each user has `maxMessages` (100) messages. */
async function memoryPerUser(redisUrl) {
  const users = 2000;
  global.gc?.();
  const base = process.memoryUsage().heapUsed;
  const hub = new WsHub({ path: '/ws', authenticate, recovery: true });
  for (let k = 0; k < 100; k++) for (let i = 0; i < users; i++) await hub.sendMessage(`u${i}`, 'order', DATA);
  global.gc?.();
  const memory = (process.memoryUsage().heapUsed - base) / users;
  await hub.close();
  const node = await startHub({ recovery: true, redisUrl, prefix: 'mem' });
  for (let k = 0; k < 100; k++) {
    for (let i = 0; i < 200; i++) node.hub.sendMessage(`u${i}`, 'order', DATA);
    await new Promise((r) => setTimeout(r, 5));
  }
  const redis = new Redis(redisUrl);
  await new Promise((r) => setTimeout(r, 500));
  const bytes = [];
  for (let i = 0; i < 200; i++) bytes.push(Number(await redis.memory('USAGE', `mem:h:user:u${i}`)));
  const streamLength = await redis.xlen('mem:h:user:u0');
  await redis.flushall();
  redis.disconnect();
  await node.close();
  return { memory, redis: bytes.reduce((a, b) => a + b, 0) / bytes.length, streamLength, frame: JSON.stringify({ event: 'order', data: DATA }).length };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const k = (x) => `${(x / 1000).toFixed(1)}k`;

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
  const contenders = [
    { name: 'memory, recovery off', recovery: false },
    { name: 'memory, recovery on', recovery: true },
    { name: 'Redis 2 nodes, recovery off', recovery: false, redisUrl },
    { name: 'Redis 2 nodes, recovery on', recovery: true, redisUrl },
  ];
  const results = new Map(contenders.map((c) => [c.name, { targeted: [], broadcast: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of round % 2 ? [...contenders].reverse() : contenders) {
      const r = await contender(c, round);
      results.get(c.name).targeted.push(r.targeted);
      results.get(c.name).broadcast.push(r.broadcast);
    }
  }
  const out = [];
  out.push(`${USERS} users × 1 device (protocol v2), ${ROUNDS} rounds, median [min–max] deliveries/s`);
  out.push('| contender | targeted `sendMessage` | broadcast `push` |');
  out.push('|---|---|---|');
  for (const c of contenders) {
    const r = results.get(c.name);
    const cell = (xs) => `${k(median(xs))} [${k(Math.min(...xs))}–${k(Math.max(...xs))}]`;
    out.push(`| ${c.name} | ${cell(r.targeted)} | ${cell(r.broadcast)} |`);
  }
  const ratio = (a, b, key) => (median(results.get(a)[key]) / median(results.get(b)[key])).toFixed(2);
  out.push('');
  out.push(`memory: on/off targeted ${ratio('memory, recovery on', 'memory, recovery off', 'targeted')}, broadcast ${ratio('memory, recovery on', 'memory, recovery off', 'broadcast')}`);
  out.push(`Redis: on/off targeted ${ratio('Redis 2 nodes, recovery on', 'Redis 2 nodes, recovery off', 'targeted')}, broadcast ${ratio('Redis 2 nodes, recovery on', 'Redis 2 nodes, recovery off', 'broadcast')}`);
  const mem = await memoryPerUser(redisUrl);
  out.push(
    `history per user at 100 messages of a ${mem.frame}-byte frame: ${(mem.memory / 1024).toFixed(1)} KiB of heap in memory, ${(mem.redis / 1024).toFixed(1)} KiB in Redis (MEMORY USAGE of a stream of ${mem.streamLength})`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
  redisChild?.kill();
  process.exit(0);
}

if (process.argv[2] !== 'clients') await main();
