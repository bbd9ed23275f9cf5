import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WsHub } from '@wshub/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RedisBroker } from '../src/index.js';
import { MAX_COMMANDS_PER_WRITE } from '../src/turn-writes.js';
import { waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';

const skip = redisSkipReason();

function authenticate(req: IncomingMessage) {
  return { id: new URL(req.url ?? '/', 'http://localhost').searchParams.get('user') ?? 'anonymous', deviceFingerprint: 'd1' };
}

/**
 * The first publish of a turn goes at once, the rest of the turn together
 * (one socket write per MAX_COMMANDS_PER_WRITE): two hubs on a real
 * redis-server, real sockets.
 * The sender's command connection is the test's own ioredis client, whose
 * socket is watched (each call of its write, passed through).
 */
describe.skipIf(skip)(skip ?? "RedisBroker: a turn's publishes leave together", () => {
  let redis: RedisServer;
  const closers: Array<() => Promise<unknown> | unknown> = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  afterAll(async () => {
    await redis?.kill();
  });

  async function startHub(broker: RedisBroker): Promise<{ hub: WsHub; port: number }> {
    const hub = new WsHub({ path: '/ws', authenticate, broker, limits: { messageRate: 0 } });
    const server: Server = createServer();
    hub.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(async () => {
      await hub.close();
      server.close();
    });
    await waitUntil(() => (hub.stats().broker?.subscribed ?? 0) >= 2, 'the broker to subscribe');
    return { hub, port: (server.address() as AddressInfo).port };
  }

  /** A socket of `user` on `port` that keeps the data of every message, once its node subscribed the user's channel. */
  async function connect(port: number, user: string): Promise<unknown[]> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?user=${user}`);
    const got: unknown[] = [];
    ws.on('message', (raw) => got.push(JSON.parse(String(raw)).data));
    await once(ws, 'open');
    closers.push(() => ws.terminate());
    const r = new Redis(redis.url);
    await waitUntil(async () => Number(((await r.pubsub('NUMSUB', `tw:user:${user}`)) as [string, number])[1]) > 0, `${user}'s channel`);
    r.disconnect();
    return got;
  }

  /** The sender: a hub whose broker publishes on `client`; counts the writes of that client's socket. */
  async function sender(): Promise<{ hub: WsHub; writes: () => number }> {
    const client = new Redis(redis.url);
    await once(client, 'ready');
    closers.push(() => client.disconnect());
    // No heartbeat or liveness probe on this connection while a test counts its writes.
    const quiet = { nodeHeartbeatMs: 60_000, nodeTtlMs: 120_000, probeIntervalMs: 60_000 };
    const { hub } = await startHub(new RedisBroker({ client, prefix: 'tw', ...quiet }));
    const socket = (client as unknown as { stream: Socket & { _write: Function; _writev: Function } }).stream;
    let writes = 0;
    const { _write, _writev } = socket;
    socket._write = function (this: Socket, ...args: unknown[]) {
      writes++;
      return _write.apply(this, args);
    };
    socket._writev = function (this: Socket, ...args: unknown[]) {
      writes++;
      return _writev.apply(this, args);
    };
    return { hub, writes: () => writes };
  }

  it('a burst of sends in one turn: the first goes at once, the rest in one write per MAX_COMMANDS_PER_WRITE, all delivered in order', async () => {
    const receiver = await startHub(new RedisBroker({ url: redis.url, prefix: 'tw' }));
    const a = await connect(receiver.port, 'a');
    const b = await connect(receiver.port, 'b');
    const { hub, writes } = await sender();
    const total = 2 * MAX_COMMANDS_PER_WRITE + 88;
    const before = writes();
    for (let i = 0; i < total; i++) void hub.sendMessage(i % 2 ? 'b' : 'a', 'n', i);
    // The first at once, then each full group of held publishes; the last group waits for the end of the turn.
    expect(writes() - before).toBe(1 + Math.floor((total - 1) / MAX_COMMANDS_PER_WRITE));
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes() - before).toBe(1 + Math.ceil((total - 1) / MAX_COMMANDS_PER_WRITE));
    await waitUntil(() => a.length + b.length === total, 'every message to arrive', 10_000);
    expect(a).toEqual([...Array(total).keys()].filter((i) => i % 2 === 0));
    expect(b).toEqual([...Array(total).keys()].filter((i) => i % 2 === 1));
  });

  it('a send now and then goes out at once, also right after a turn of several', async () => {
    const receiver = await startHub(new RedisBroker({ url: redis.url, prefix: 'tw' }));
    const got = await connect(receiver.port, 'c');
    const { hub, writes } = await sender();
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 3; i++) {
      const before = writes();
      void hub.sendMessage('c', 'n', i);
      expect(writes() - before).toBe(1);
      await turn();
    }
    // A turn of ten: the first at once, nine in one write at its end.
    let before = writes();
    for (let i = 3; i < 13; i++) void hub.sendMessage('c', 'n', i);
    expect(writes() - before).toBe(1);
    await turn();
    expect(writes() - before).toBe(2);
    for (let i = 13; i < 15; i++) {
      before = writes();
      void hub.sendMessage('c', 'n', i);
      expect(writes() - before).toBe(1);
      await turn();
    }
    await waitUntil(() => got.length === 15, 'every message to arrive');
    expect(got).toEqual([...Array(15).keys()]);
  });
});
