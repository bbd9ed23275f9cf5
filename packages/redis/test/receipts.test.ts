import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type MessageDelivered, type MessageUndelivered, WsHub } from '@wshub/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RedisBroker } from '../src/index.js';
import { FAST, waitUntil } from './hub-process.js';
import { RedisCluster, RedisServer, redisSkipReason } from './redis-server.js';

const skip = redisSkipReason();

function authenticate(req: IncomingMessage) {
  const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
  return { id: params.get('user') ?? 'anonymous', deviceFingerprint: params.get('device') ?? 'd1' };
}

interface Frame {
  event: string;
  data: any;
  id?: string;
  offset?: number;
}

/** A protocol v2 socket that keeps what arrived, and confirms like a client. */
class Device {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  welcome: any;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)));
      for (const w of this.waiters.splice(0)) w();
    });
  }
  async next(): Promise<Frame> {
    const deadline = Date.now() + 5000;
    while (this.frames.length === 0) {
      if (Date.now() > deadline) throw new Error('no frame within 5 s');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.frames.shift()!;
  }
  confirm(...ids: Array<string | undefined>): void {
    this.ws.send(JSON.stringify({ event: 'wshub:confirm', data: { ids } }));
  }
}

interface Node {
  hub: WsHub;
  server: Server;
  port: number;
  delivered: MessageDelivered[];
  undelivered: MessageUndelivered[];
  errors: string[];
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  await waitUntil(check, what, ms);
}

/**
 * Receipts over Redis: two hub nodes in this process on one real
 * redis-server (and, at the end, on a Redis Cluster), real sockets.
 */
describe.skipIf(skip)(skip ?? 'receipts over Redis', () => {
  let redis: RedisServer;
  let r: Redis;
  const nodes: Node[] = [];
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    r = new Redis(redis.url, { lazyConnect: false });
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.terminate();
    for (const { hub, server } of nodes.splice(0)) {
      await hub.close();
      server.close();
    }
    await r.flushall();
  });

  afterAll(async () => {
    r?.disconnect();
    await redis?.kill();
  });

  async function startNode(options: { recovery?: boolean } = {}): Promise<Node> {
    const broker = new RedisBroker({ ...FAST, url: redis.url });
    const hub = new WsHub({ authenticate, broker, recovery: options.recovery, receipts: { undeliveredAfterMs: 400 } });
    const node: Node = { hub, server: createServer(), port: 0, delivered: [], undelivered: [], errors: [] };
    hub.on('delivered', (e) => node.delivered.push(e));
    hub.on('undelivered', (e) => node.undelivered.push(e));
    hub.on('error', (e) => node.errors.push(e.message));
    hub.attach(node.server);
    await new Promise<void>((resolve) => node.server.listen(0, '127.0.0.1', resolve));
    node.port = (node.server.address() as AddressInfo).port;
    nodes.push(node);
    // The node's own channel, where confirmations for its receipts arrive.
    const own = `wshub:node:${hub.nodeId}`;
    await until(async () => Number(((await r.call('PUBSUB', 'NUMSUB', own)) as unknown[])[1]) === 1, 'the node channel');
    if (options.recovery) await until(() => (hub as any).ctx.cluster.history.position().epoch !== '', 'the epoch');
    return node;
  }

  async function connect(node: Node, user: string, device: string): Promise<Device> {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/api/v1/ws?user=${user}&device=${device}`, ['wshub']);
    sockets.push(ws);
    const socket = new Device(ws);
    const welcome = await socket.next();
    expect(welcome.event).toBe('wshub:welcome');
    socket.welcome = welcome.data;
    await until(
      async () => Number(((await r.call('PUBSUB', 'NUMSUB', `wshub:user:${user}`)) as unknown[])[1]) >= 1,
      `the channel of ${user}`,
    );
    await until(async () => (await node.hub.onlineUsers()).includes(user), `${user} online`);
    return socket;
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("a device on another node confirms: one 'delivered' on the sender's node, no 'undelivered' anywhere", async () => {
    const a = await startNode();
    const b = await startNode();
    const phone = await connect(b, 'u1', 'phone');
    const id = await a.hub.sendMessage('u1', 'order-status', { id: 42 });
    const m = await phone.next();
    expect(m).toEqual({ event: 'order-status', data: { id: 42 }, id });
    phone.confirm(m.id);
    await until(() => a.delivered.length === 1, "'delivered' on A");
    expect(a.delivered[0]).toMatchObject({ id, userId: 'u1', deviceFingerprint: 'phone', event: 'order-status' });
    await sleep(600);
    expect([...a.undelivered, ...b.undelivered, ...b.delivered]).toEqual([]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it("a user with no device online: one 'undelivered' in the cluster, on the sender's node, after the delay", async () => {
    const a = await startNode();
    const b = await startNode();
    await connect(b, 'someone-else', 'd');
    const started = Date.now();
    const id = await b.hub.sendMessage('away', 'order-status', { id: 7 });
    await until(() => b.undelivered.length === 1, "'undelivered' on B");
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(b.undelivered[0]).toEqual({ id, userId: 'away', event: 'order-status', data: { id: 7 }, scope: null });
    await sleep(600);
    expect(b.undelivered).toHaveLength(1);
    expect([...a.undelivered, ...a.delivered, ...b.delivered]).toEqual([]);
  });

  it("a user online on two nodes, one device confirming: no 'undelivered'", async () => {
    const a = await startNode();
    const b = await startNode();
    const laptop = await connect(a, 'u2', 'laptop');
    const phone = await connect(b, 'u2', 'phone');
    const fromA = await a.hub.sendMessage('u2', 'e', 1);
    const fromB = await b.hub.sendMessage('u2', 'e', 2);
    expect((await laptop.next()).id).toBe(fromA);
    expect((await laptop.next()).id).toBe(fromB);
    const got = [await phone.next(), await phone.next()];
    phone.confirm(...got.map((f) => f.id));
    await until(() => a.delivered.length === 1 && b.delivered.length === 1, "'delivered' on both senders");
    expect(a.delivered[0]).toMatchObject({ id: fromA, deviceFingerprint: 'phone' });
    expect(b.delivered[0]).toMatchObject({ id: fromB, deviceFingerprint: 'phone' });
    await sleep(600);
    expect([...a.undelivered, ...b.undelivered]).toEqual([]);
  });

  it("another user's ids are ignored on the node that holds the confirming socket, and never travel", async () => {
    const a = await startNode();
    const b = await startNode();
    const alice = await connect(b, 'alice', 'd');
    const mallory = await connect(b, 'mallory', 'd');
    const id = await a.hub.sendMessage('alice', 'secret', 1);
    expect((await alice.next()).id).toBe(id);
    mallory.confirm(id, 'forged');
    await until(() => b.hub.stats().receiptsIgnored === 2, 'two ignored');
    await until(() => a.undelivered.length === 1, "'undelivered' for alice");
    expect(a.delivered).toEqual([]);
  });

  it('with recovery: messages missed while away are replayed on resume, and confirming them counts', async () => {
    const a = await startNode({ recovery: true });
    const b = await startNode({ recovery: true });
    const first = await connect(b, 'u3', 'phone');
    const position = first.welcome.recovery;
    first.ws.terminate();
    await until(async () => !(await a.hub.isOnline('u3')), 'u3 offline');
    const id = await a.hub.sendMessage('u3', 'missed', { n: 1 });
    const again = await connect(b, 'u3', 'phone');
    again.ws.send(JSON.stringify({ event: 'wshub:resume', id: 1, data: position }));
    const replayed = await again.next();
    expect(replayed).toMatchObject({ event: 'missed', data: { n: 1 }, id });
    expect((await again.next()).data).toMatchObject({ op: 'resume', status: 'recovered', missed: 1 });
    again.confirm(replayed.id);
    await until(() => a.delivered.length === 1, "'delivered' on A");
    expect(a.delivered[0]).toMatchObject({ id, userId: 'u3' });
    expect(a.delivered[0]!.late).toBeUndefined();
    await sleep(500);
    expect(a.undelivered).toEqual([]);
  });
});

describe.skipIf(skip)(skip ?? 'receipts over Redis Cluster (sharded pub/sub)', () => {
  let cluster: RedisCluster;
  const nodes: Array<{ hub: WsHub; server: Server }> = [];
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start(3, 0);
  }, 60_000);

  afterAll(async () => {
    for (const s of sockets) s.terminate();
    for (const { hub, server } of nodes) {
      await hub.close();
      server.close();
    }
    await cluster?.close();
  });

  /** Every channel the broker wants is subscribed on its shard (the probes' included). */
  const subscribed = (hub: WsHub) => () => {
    const subscriber = (hub as any).ctx.cluster.broker.subscriber;
    return subscriber.confirmedCount > subscriber.wantedCount;
  };

  async function startNode() {
    const broker = new RedisBroker({ ...FAST, cluster: cluster.nodes });
    const hub = new WsHub({ authenticate, broker, receipts: { undeliveredAfterMs: 400 } });
    const server = createServer();
    hub.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    nodes.push({ hub, server });
    const seen = { delivered: [] as MessageDelivered[], undelivered: [] as MessageUndelivered[] };
    hub.on('delivered', (e) => seen.delivered.push(e));
    hub.on('undelivered', (e) => seen.undelivered.push(e));
    await waitUntil(subscribed(hub), 'the node channel on its shard');
    return { hub, port: (server.address() as AddressInfo).port, ...seen };
  }

  it("a confirmation reaches the sender's node on its shard; a user nobody holds goes 'undelivered' once", async () => {
    const a = await startNode();
    const b = await startNode();
    const ws = new WebSocket(`ws://127.0.0.1:${b.port}/api/v1/ws?user=c1&device=phone`, ['wshub']);
    sockets.push(ws);
    const phone = new Device(ws);
    expect((await phone.next()).event).toBe('wshub:welcome');
    await waitUntil(subscribed(b.hub), "the user's channel on its shard");
    await waitUntil(async () => (await a.hub.isOnline('c1')) === true, 'c1 online');
    const id = await a.hub.sendMessage('c1', 'e', 1);
    const away = await a.hub.sendMessage('nobody', 'e', 2);
    const m = await phone.next();
    expect(m.id).toBe(id);
    phone.confirm(m.id);
    await waitUntil(() => a.delivered.length === 1 && a.undelivered.length === 1, 'both receipts settled');
    expect(a.delivered[0]).toMatchObject({ id, userId: 'c1', deviceFingerprint: 'phone' });
    expect(a.undelivered[0]).toMatchObject({ id: away, userId: 'nobody' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([...b.delivered, ...b.undelivered, ...a.undelivered.slice(1)]).toEqual([]);
  });
});
