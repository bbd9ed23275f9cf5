import type { TestClient } from '@wshub/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAST, HubProcess, waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * Faults against a real redis-server that the tests kill and restart on the
 * same port. Three hub processes; A reaches Redis through a TCP proxy that
 * can silence its subscriber connection. The tests run in order and share
 * the processes; each uses its own users.
 */
const skip = redisSkipReason();

describe.skipIf(skip)(skip ?? 'Redis faults', () => {
  let redis: RedisServer;
  let proxy: TcpProxy;
  let r: Redis;
  let a: HubProcess;
  let b: HubProcess;
  let c: HubProcess;
  let nodes: HubProcess[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    proxy = await TcpProxy.start(redis.port);
    r = new Redis(redis.url, { retryStrategy: () => 50, enableOfflineQueue: false });
    r.on('error', () => {});
    nodes = await Promise.all([
      HubProcess.start('A', { url: proxy.url, ...FAST }),
      HubProcess.start('B', { url: redis.url, ...FAST }),
      HubProcess.start('C', { url: redis.url, ...FAST }),
    ]);
    [a, b, c] = nodes as [HubProcess, HubProcess, HubProcess];
  }, 60_000);

  afterEach(async () => {
    for (const node of nodes) {
      expect(node.fatal).toBeUndefined(); // no crash, no unhandled rejection
      node.dropClients();
    }
    if (!redis.running) await redis.start();
    await waitUntil(async () => r.status === 'ready', 'the test client to reconnect');
  });

  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.close()));
    r?.disconnect();
    await proxy?.close();
    await redis?.kill();
  });

  const connect = (node: HubProcess, query: string) => node.connect(query, r);
  const live = () => nodes.filter((n) => n.alive);
  const allConnected = (value: 0 | 1) =>
    waitUntil(
      async () => (await Promise.all(live().map((n) => n.stats()))).every((s) => s.broker.connected === value),
      `every node to see Redis ${value ? 'up' : 'down'}`,
    );

  /** What `presenceStorm` answers: queries answered, and each rejection ("name: message") with its count. */
  type Storm = { answered: number; rejected: Record<string, number> };

  /** Collects what `client` receives until a marker from each node in `origins` (nodes whose publishes reached Redis). */
  async function drain(client: TestClient, user: string, origins: HubProcess[]): Promise<string[]> {
    for (const origin of origins) await origin.call('sendMessage', user, '__marker__', origin.name);
    const got: string[] = [];
    let markers = 0;
    while (markers < origins.length) {
      const m = await client.next(undefined, { timeout: 10_000 });
      if (m.event === '__marker__') markers++;
      else got.push(`${m.event}:${JSON.stringify(m.data)}`);
    }
    return got.sort();
  }

  /** Sends from `from` until one arrives: messages sent while a subscriber reconnects may be lost (at most once). */
  async function deliveredAgain(from: HubProcess, user: string, client: TestClient): Promise<void> {
    let n = 0;
    await waitUntil(
      async () => {
        await from.call('sendMessage', user, 'again', n++);
        await new Promise((resolve) => setTimeout(resolve, 100));
        return client.messages.some((m) => m.event === 'again');
      },
      `delivery from ${from.name} to ${user}`,
      15_000,
    );
  }

  describe('Redis stops, then comes back empty on the same port', () => {
    it('keeps local delivery, holds cross-node publishes and sends them once, rejects presence at once, re-announces', async () => {
      const phone = await connect(a, 'user=f1&device=phone');
      const laptop = await connect(b, 'user=f1&device=laptop');
      const onC = await connect(c, 'user=f2');
      await Promise.all(nodes.map((n) => n.call('errors')));

      await redis.kill();
      await allConnected(0);

      // Local delivery keeps working on every node.
      await a.call('sendMessage', 'f1', 'from-a', 1);
      expect(await phone.next()).toEqual({ event: 'from-a', data: 1 });
      await b.call('sendMessage', 'f1', 'from-b', 2);
      expect(await laptop.next()).toEqual({ event: 'from-b', data: 2 });
      await c.call('push', 'news', { n: 3 });
      expect(await onC.next()).toEqual({ event: 'news', data: { n: 3 } });
      // Push callbacks fall back to this node's users (reported), never hang.
      await c.call('push', 'hello', undefined, { data: 'greeting' });
      expect((await onC.next()).event).toBe('hello');
      await c.call('sendMessage', 'f1', 'from-c', 4);

      // Presence queries reject at once with a clear error instead of waiting.
      for (const node of nodes) {
        await expect(node.call('onlineUsers')).rejects.toMatchObject({
          name: 'RedisUnavailableError',
          message: expect.stringContaining('Redis is unreachable'),
        });
        await expect(node.call('isOnline', 'f1')).rejects.toMatchObject({ name: 'RedisUnavailableError' });
      }
      const rejected = await a.call('onlineUsers').catch((error: { ms: number }) => error);
      expect(rejected.ms).toBeLessThan(FAST.commandTimeoutMs!); // did not wait for a timeout

      // A user who connects during the outage.
      const late = await b.open('user=f3');
      expect((await c.stats()).broker.held).toBeGreaterThanOrEqual(2);
      expect((await c.call<string[]>('errors')).join('\n')).toContain('lost the Redis connection');

      await redis.start();
      await allConnected(1);
      await waitUntil(
        async () => (await Promise.all(nodes.map((n) => n.stats()))).every((s) => s.broker.held === 0),
        'every node to send what it held',
      );

      // Held publishes arrive after the reconnect, once each.
      expect(await drain(phone, 'f1', nodes)).toEqual(['from-b:2', 'from-c:4', 'news:{"n":3}']);
      expect(await drain(laptop, 'f1', nodes)).toEqual(['from-a:1', 'from-c:4', 'news:{"n":3}']);
      expect(await drain(onC, 'f2', nodes)).toEqual([]);
      for (const node of nodes) {
        const broker = (await node.stats()).broker;
        expect(broker.reconnects).toBeGreaterThanOrEqual(1);
        expect(broker.bufferDropped).toBe(0);
      }
      expect((await c.stats()).broker.flushed).toBeGreaterThanOrEqual(3);

      // Presence written again, including the user who came during the outage; channels re-subscribed.
      await waitUntil(async () => (await c.call('onlineUsers')).join() === 'f1,f2,f3', 'presence to be rewritten');
      expect(await r.pubsub('NUMSUB', 'wshub:all', 'wshub:user:f1', 'wshub:user:f3')).toEqual([
        'wshub:all',
        3,
        'wshub:user:f1',
        2,
        'wshub:user:f3',
        1,
      ]);
      await c.call('sendMessage', 'f3', 'welcome', 1);
      // f3 was on B when C's held broadcast went out.
      expect(await drain(late, 'f3', [c])).toEqual(['news:{"n":3}', 'welcome:1']);
    });

    it('presence queries in flight when Redis dies, and those made while it is away, reject only with RedisUnavailableError', async () => {
      await connect(a, 'user=g1');
      await connect(b, 'user=g2');
      // Queries without pause on two nodes, across the kill: some are in flight when the connection breaks.
      const storms = [a, b].map((node) => node.call<Storm>('presenceStorm', 3000));
      await new Promise((resolve) => setTimeout(resolve, 500));
      await redis.kill();
      for (const storm of await Promise.all(storms)) {
        expect(storm.answered).toBeGreaterThan(0);
        expect(Object.values(storm.rejected).reduce((sum, n) => sum + n, 0)).toBeGreaterThan(0);
        for (const rejection of Object.keys(storm.rejected)) expect(rejection).toMatch(/^RedisUnavailableError: wshub: /);
      }
    });

    it('drops held publishes beyond the bound or the age, counts and reports them; memory stays bounded', async () => {
      const d = await HubProcess.start('D', { url: redis.url, ...FAST, bufferMaxMessages: 5, bufferMaxAgeMs: 1500 });
      try {
        const target = await connect(a, 'user=h1');
        await redis.kill();
        await waitUntil(async () => (await d.stats()).broker.connected === 0, 'D to see Redis down');
        await d.call('errors');
        await d.call('sendMany', 'h1', 'old', 1000);
        let broker = (await d.stats()).broker;
        expect(broker.held).toBe(5);
        expect(broker.bufferDropped).toBe(995);
        expect((await d.call<string[]>('errors')).join('\n')).toContain('outage buffer is full');
        // Held publishes older than bufferMaxAgeMs are dropped even before Redis is back.
        await waitUntil(async () => (await d.stats()).broker.held === 0, 'the held publishes to expire');
        await d.call('sendMessage', 'h1', 'fresh', 1);
        await d.call('sendMessage', 'h1', 'fresh', 2);

        await redis.start();
        await waitUntil(async () => (await d.stats()).broker.flushed === 2, 'D to send what it held');
        expect(await drain(target, 'h1', [d])).toEqual(['fresh:1', 'fresh:2']);
        broker = (await d.stats()).broker;
        expect(broker.bufferExpired).toBe(5);
        expect(broker.bufferDropped).toBe(995);
        expect((await d.call<string[]>('errors')).join('\n')).toContain(
          '995 cross-node publishes were dropped because the outage buffer was full and 5 because they were older than 1500 ms',
        );
        expect(d.fatal).toBeUndefined();
      } finally {
        await d.close();
      }
    });
  });

  describe('a subscriber connection killed by Redis is re-subscribed', () => {
    it('CLIENT KILL TYPE pubsub: delivery and presence work again within seconds', async () => {
      const onA = await connect(a, 'user=k1');
      const onB = await connect(b, 'user=k2');
      expect(await r.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(3);
      await deliveredAgain(c, 'k1', onA);
      await deliveredAgain(c, 'k2', onB);
      await deliveredAgain(a, 'k2', onB);
      expect(await c.call('onlineUsers')).toEqual(['k1', 'k2']);
      await waitUntil(async () => (await r.pubsub('NUMSUB', 'wshub:all'))[1] === 3, 'every node to re-subscribe');
    });
  });

  describe('a subscriber that silently stops receiving is detected by the liveness probe and replaced', () => {
    it('re-subscribes within probeIntervalMs + probeTimeoutMs', async () => {
      const onA = await connect(a, 'user=q1');
      await a.call('errors');
      const before = (await a.stats()).broker.subscriberRestarts!;
      expect(proxy.freezeSubscribers()).toBe(1);
      await waitUntil(
        async () => (await a.stats()).broker.subscriberRestarts! > before,
        'the probe to fail',
        FAST.probeIntervalMs! + FAST.probeTimeoutMs! + 5000,
      );
      expect((await a.call<string[]>('errors')).join('\n')).toContain('liveness check');
      await deliveredAgain(c, 'q1', onA);
      expect(await r.pubsub('NUMSUB', 'wshub:user:q1')).toEqual(['wshub:user:q1', 1]);
    });
  });

  describe('a node process that is killed', () => {
    it('leaves presence within nodeTtlMs while the other nodes keep serving', async () => {
      const onA = await connect(a, 'user=n1');
      await connect(c, 'user=n2');
      expect(await a.call('onlineUsers')).toEqual(['n1', 'n2']);
      await c.kill();
      await waitUntil(
        async () => (await a.call('onlineUsers')).join() === 'n1',
        'n2 to leave presence',
        FAST.nodeTtlMs! + 3000,
      );
      await b.call('sendMessage', 'n1', 'still', 1);
      expect(await onA.next()).toEqual({ event: 'still', data: 1 });
      // The sweep forgets the dead node.
      await waitUntil(async () => (await r.sismember('wshub:nodes', c.nodeId)) === 0, 'the sweep', FAST.nodeTtlMs! * 3);
      expect(await r.exists(`wshub:presence:{${c.nodeId}}`)).toBe(0);
    });
  });
});
