/**
 * What `options.id` costs a hub with recovery on a Redis history: the same
 * awaited `sendMessage` loop (to 1,000 users, a 64-byte body) with no id and
 * with a new id per message, alternating, from the first send until the
 * history has recorded the last. An id is checked and kept by the hub
 * (`RecentIds`) and by the recording script (the stream's ids set, which
 * drops a repeat sent through another node); an outbox relay sends every
 * row with one.
 *
 *   node bench/src/ids-cost.mjs [messages=20000] [rounds=6]    # starts its own redis-server
 *   REDIS_URL=redis://127.0.0.1:6379 node bench/src/ids-cost.mjs
 *   node bench/src/ids-cost.mjs ... --json                    # one JSON line
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { loadavg } from 'node:os';
import { WsHub } from '@wshub/core';
import { RedisBroker } from '@wshub/redis';
import { Redis } from 'ioredis';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const json = process.argv.includes('--json');
const [N = 20_000, ROUNDS = 6] = args.map(Number);

const freePort = () =>
  new Promise((resolve) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

let redisUrl = process.env.REDIS_URL;
let redisChild;
if (!redisUrl) {
  const port = await freePort();
  redisChild = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  redisUrl = `redis://127.0.0.1:${port}`;
  const r = new Redis(redisUrl, { retryStrategy: () => 50 });
  r.on('error', () => {});
  await r.ping();
  await r.flushall();
  r.disconnect();
}
const hub = new WsHub({ authenticate: () => ({ id: 'x', deviceFingerprint: 'd' }), broker: new RedisBroker({ url: redisUrl }), recovery: true });
hub.attach(createServer());
while (hub.stats().broker.connected !== 1) await new Promise((r) => setTimeout(r, 20));

const body = 'x'.repeat(64);
const rates = { 'no id': [], 'an id': [] };
let total = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 ? ['an id', 'no id'] : ['no id', 'an id']) {
    const started = performance.now();
    for (let i = 0; i < N; i++) {
      await hub.sendMessage(`u${i % 1000}`, 'n', { i, body }, undefined, name === 'an id' ? { id: randomUUID() } : undefined);
    }
    total += N;
    while (hub.stats().broker.recorded < total) await new Promise((r) => setTimeout(r, 5));
    rates[name].push(Math.round(N / ((performance.now() - started) / 1000)));
  }
}
await hub.close();
redisChild?.kill();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = loadavg().map((l) => Number(l.toFixed(2)));
const result = { messages: N, rounds: ROUNDS, rates, ratio: Number((median(rates['an id']) / median(rates['no id'])).toFixed(2)), loadavg: load, node: process.version };
if (json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const k = (x) => `${(x / 1000).toFixed(1)}k`;
  const cell = (xs) => `${k(median(xs))} [${k(Math.min(...xs))}–${k(Math.max(...xs))}]`;
  process.stdout.write(`load average ${load.join(', ')} (${process.version}); ${N} sendMessage × ${ROUNDS} rounds each, recorded/s median [min–max]\n`);
  process.stdout.write(`| no id | an id | an id ÷ no id |\n|---|---|---|\n| ${cell(rates['no id'])} | ${cell(rates['an id'])} | ${result.ratio}× |\n`);
}
