import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../src/key-slot.js';
import { ShardedSubscriber, StandaloneSubscriber, type Subscriber, type SubscriberContext } from '../src/subscriber.js';
import { waitUntil } from './hub-process.js';
import { RedisCluster, RedisServer, redisCli, redisSkipReason } from './redis-server.js';

/**
 * The subscription watchdog on real Redis servers: channels that Redis
 * never confirms, or stops carrying, are subscribed again where their slot
 * is served now, or their connection is replaced and they are reported
 * down (their users' sockets close for a resume). Nothing else than the
 * subscriber is running: no command of a broker refreshes the slot map.
 */
const skip = redisSkipReason();

/** The owner of a subscriber, recording what it is told. */
function recorder(subscribeTimeoutMs = 10_000) {
  const got = { confirmed: [] as string[], down: [] as string[], reports: [] as string[], failed: [] as string[] };
  const ctx: SubscriberContext = {
    message: () => {},
    confirmed: (channels) => got.confirmed.push(...channels),
    failed: (_kind, error) => got.failed.push(error.message),
    ready: () => {},
    down: (channels) => got.down.push(...channels),
    report: (error) => got.reports.push(error.message),
    publish: async () => 0,
    commandWritable: () => true,
    probeTimeoutMs: 1000,
    commandTimeoutMs: 500,
    subscribeTimeoutMs,
  };
  return { ctx, got };
}

/** The options the broker forces on its subscriber connections. */
const FORCED = { enableOfflineQueue: false, autoResubscribe: false, autoResendUnfulfilledCommands: false, retryStrategy: () => 100 };

describe.skipIf(skip)(skip ?? 'the subscription watchdog', () => {
  const closing: Array<() => unknown> = [];
  /** The broker runs the watchdog at every node heartbeat. */
  function heartbeat(subscriber: Subscriber) {
    const timer = setInterval(() => subscriber.repair(), 100);
    closing.push(() => clearInterval(timer), () => subscriber.close());
  }

  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  describe('on Redis Cluster', () => {
    let cluster: RedisCluster;

    beforeAll(async () => {
      cluster = await RedisCluster.start(3, 1);
    }, 90_000);

    afterAll(async () => {
      await cluster?.close();
    });

    /** A cluster client that reads the slot map once, at start: after that only the subscriber asks for it. */
    async function staleClient(): Promise<Cluster> {
      const client = new Cluster(cluster.nodes, { slotsRefreshInterval: 0 });
      closing.push(() => client.disconnect());
      await new Promise((resolve) => client.once('ready', resolve));
      return client;
    }

    function sharded(client: Cluster, ctx: SubscriberContext): ShardedSubscriber {
      const subscriber = new ShardedSubscriber(client, (host, port) => new Redis({ ...FORCED, host, port }), ctx, `probe:${Math.random()}`);
      heartbeat(subscriber);
      return subscriber;
    }

    async function nodeIds(): Promise<Map<number, { id: string; master: string }>> {
      const out = new Map<number, { id: string; master: string }>();
      for (const line of (await redisCli(cluster.servers[0]!.port, 'CLUSTER', 'NODES')).trim().split('\n')) {
        const [id, address, , master] = line.split(' ');
        out.set(Number(address!.split('@')[0]!.split(':')[1]), { id: id!, master: master! });
      }
      return out;
    }

    async function masterOf(slot: number): Promise<number> {
      for (const [port, ranges] of await cluster.masters()) if (ranges.some(([a, b]) => slot >= a && slot <= b)) return port;
      throw new Error(`no master serves slot ${slot}`);
    }

    /** Gives `slot` (no keys in it) to another master, as a resharding does, and waits until every node agrees. */
    async function moveSlot(slot: number): Promise<{ from: number; to: number }> {
      const ids = await nodeIds();
      const from = await masterOf(slot);
      const to = [...(await cluster.masters()).keys()].find((port) => port !== from)!;
      await redisCli(to, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ids.get(from)!.id);
      await redisCli(from, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', ids.get(to)!.id);
      await redisCli(to, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', ids.get(to)!.id);
      await redisCli(from, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', ids.get(to)!.id);
      await waitUntil(async () => (await masterOf(slot)) === to, `slot ${slot} served by ${to}`);
      await cluster.waitUntilOk();
      return { from, to };
    }

    /** True when the master `port` carries the sharded `channel`. */
    async function carries(port: number, channel: string): Promise<boolean> {
      return (await redisCli(port, 'PUBSUB', 'SHARDCHANNELS', channel)).trim() === channel;
    }

    it("an SSUBSCRIBE answered MOVED (a stale slot map), which ioredis never settles, is subscribed again on its slot's master", async () => {
      const client = await staleClient();
      const { ctx, got } = recorder();
      const subscriber = sharded(client, ctx);
      const channel = 'watchdog:moved';
      const { from, to } = await moveSlot(keySlot(channel));
      expect(client.slots[keySlot(channel)]![0]).toBe(`127.0.0.1:${from}`); // the map is stale
      subscriber.add(channel);
      await waitUntil(() => subscriber.isConfirmed(channel), 'the channel confirmed', 5000);
      expect(await carries(to, channel)).toBe(true);
      expect(got.failed.some((message) => message.includes('MOVED'))).toBe(true);
    });

    it('a channel Redis ends (its slot moved to another master) is reported down and subscribed on the new master', async () => {
      const client = await staleClient();
      const { ctx, got } = recorder();
      const subscriber = sharded(client, ctx);
      const channel = 'watchdog:ended';
      subscriber.add(channel);
      await waitUntil(() => subscriber.isConfirmed(channel), 'the channel confirmed');
      // The old master unsubscribes the channel with a SUNSUBSCRIBE nobody asked for.
      const { from, to } = await moveSlot(keySlot(channel));
      expect(await carries(from, channel)).toBe(false);
      await waitUntil(() => got.down.includes(channel), 'the channel reported down', 5000);
      await waitUntil(() => subscriber.isConfirmed(channel), 'the channel confirmed again', 5000);
      expect(await carries(to, channel)).toBe(true);
    });
  });

  it('a channel Redis refuses for subscribeTimeoutMs replaces its connection, and every channel of it is reported down', async () => {
    const server = await RedisServer.start();
    closing.push(() => server.kill());
    // The subscriber's user may not subscribe `denied:*`: its SUBSCRIBE fails every time it is sent.
    await redisCli(server.port, 'ACL', 'SETUSER', 'sub', 'on', '>secret', '~*', '&allowed:*', '&probe:*', '+@all');
    const { ctx, got } = recorder(1500);
    const subscriber = new StandaloneSubscriber(
      () => new Redis({ ...FORCED, port: server.port, username: 'sub', password: 'secret' }),
      ctx,
      'probe:standalone',
    );
    heartbeat(subscriber);
    subscriber.add('allowed:1');
    await waitUntil(() => subscriber.isConfirmed('allowed:1'), 'allowed:1 confirmed');
    subscriber.add('denied:1');
    const started = Date.now();
    await waitUntil(() => got.down.includes('denied:1'), 'denied:1 reported down', 5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(got.down).toContain('allowed:1'); // the connection that carried it was replaced
    expect(got.reports.join()).toMatch(/did not confirm 1 channels within 1500 ms \(denied:1\)/);
    expect(subscriber.restarts).toBe(1);
    await waitUntil(() => subscriber.isConfirmed('allowed:1'), 'allowed:1 confirmed on the new connection');
  });
});
