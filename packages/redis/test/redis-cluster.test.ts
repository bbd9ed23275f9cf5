import type { TestClient } from '@wshub/testing';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../src/key-slot.js';
import type { RedisBrokerOptions } from '../src/index.js';
import { FAST, HubProcess, waitUntil } from './hub-process.js';
import { RedisCluster, redisCli, redisSkipReason } from './redis-server.js';

/**
 * Three hubs, each in its own process, on a real Redis Cluster of 3 masters
 * and 3 replicas started by the test: sharded pub/sub, presence and
 * failover. The processes are shared by the tests of this file; each test
 * uses its own user ids.
 */
const skip = redisSkipReason();

/**
 * Presence must outlive a failover (cluster-node-timeout 1 s plus the
 * election); a new master settles longer than the slot map is re-read (1 s).
 */
const OPTIONS: RedisBrokerOptions = { ...FAST, nodeTtlMs: 4000, bufferFlushDelayMs: 1500 };

describe.skipIf(skip)(skip ?? 'three nodes over Redis Cluster (sharded pub/sub)', () => {
  let cluster: RedisCluster;
  let r: Cluster;
  let a: HubProcess;
  let b: HubProcess;
  let c: HubProcess;
  let nodes: HubProcess[];
  const log: string[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start(3, 1);
    r = new Cluster(cluster.nodes, { slotsRefreshInterval: 500 });
    nodes = await Promise.all(['A', 'B', 'C'].map((name) => HubProcess.start(name, { cluster: cluster.nodes, ...OPTIONS })));
    [a, b, c] = nodes as [HubProcess, HubProcess, HubProcess];
  }, 90_000);

  afterEach(() => {
    for (const node of nodes) {
      expect(node.fatal).toBeUndefined();
      node.dropClients();
    }
  });

  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.close()));
    r?.disconnect();
    await cluster?.close();
  });

  const connect = (node: HubProcess, query: string) => node.connect(query, r);

  /** Sharded channels matching `pattern` on every master: port → channels. */
  async function shardChannels(pattern: string): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>();
    for (const port of (await cluster.masters()).keys()) {
      const text = (await redisCli(port, 'PUBSUB', 'SHARDCHANNELS', pattern)).trim();
      out.set(port, text === '' ? [] : text.split('\n'));
    }
    return out;
  }

  /**
   * What `client` received from message `from` on, once `expected` arrived
   * and 300 ms more passed (a duplicate or a stray message would show). No
   * markers: on a cluster, messages on different channels travel through
   * different shards and have no order between them.
   */
  async function exactly(client: TestClient, from: number, expected: string[]): Promise<string[]> {
    const got = () => client.messages.slice(from).map((m) => `${m.event}:${JSON.stringify(m.data)}`);
    await waitUntil(() => expected.every((e) => got().includes(e)), `${expected.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    return got().sort();
  }

  async function collect(from = nodes): Promise<void> {
    for (const node of from.filter((n) => n.alive)) {
      for (const change of await node.call<string[]>('presence')) log.push(`${node.name} ${change}`);
    }
  }

  async function changesOf(user: string, expected: number, timeoutMs = 10_000, from = nodes): Promise<string[]> {
    const of = () => log.filter((line) => line.split(' ')[1]!.startsWith(`${user}:`));
    const arrived = async () => {
      await collect(from);
      return of().length >= expected;
    };
    await waitUntil(arrived, `${expected} notifications about ${user}`, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await collect(from);
    return of();
  }

  describe('channels and keys are spread evenly over the masters', () => {
    it('user channels and online keys of 30 000 users: each master gets a third (±3 %)', async () => {
      const masters = await cluster.masters();
      const masterOf = (slot: number) => [...masters].find(([, ranges]) => ranges.some(([f, t]) => slot >= f && slot <= t))![0];
      const channels = new Map<number, number>();
      const keys = new Map<number, number>();
      const n = 30_000;
      for (let i = 0; i < n; i++) {
        const channel = masterOf(keySlot(`wshub:user:user-${i}`));
        const key = masterOf(keySlot(`wshub:online:user-${i}`));
        channels.set(channel, (channels.get(channel) ?? 0) + 1);
        keys.set(key, (keys.get(key) ?? 0) + 1);
      }
      for (const counts of [channels, keys]) {
        expect(counts.size).toBe(3);
        for (const count of counts.values()) expect(Math.abs(count - n / 3) / (n / 3)).toBeLessThan(0.03);
      }
      // Our slot function is Redis's.
      for (const name of ['wshub:user:alice', 'wshub:presence:{abc}', 'wshub:all']) {
        expect(keySlot(name)).toBe(Number(await redisCli(cluster.servers[0]!.port, 'CLUSTER', 'KEYSLOT', name)));
      }
    });

    it('a node subscribes user channels with SSUBSCRIBE on the master of their slot, nothing with SUBSCRIBE', async () => {
      const users = Array.from({ length: 30 }, (_, i) => `spread${i}`);
      await Promise.all(users.map((user) => connect(a, `user=${user}`)));
      const perMaster = await shardChannels('wshub:user:spread*');
      expect([...perMaster.values()].flat().sort()).toEqual(users.map((u) => `wshub:user:${u}`).sort());
      for (const [port, channels] of perMaster) {
        expect(channels.length).toBeGreaterThan(0);
        const ranges = (await cluster.masters()).get(port)!;
        for (const channel of channels) expect(ranges.some(([f, t]) => keySlot(channel) >= f && keySlot(channel) <= t)).toBe(true);
      }
      for (const server of cluster.servers) expect((await redisCli(server.port, 'PUBSUB', 'CHANNELS')).trim()).toBe('');
    });
  });

  describe('everything that works on one Redis works on the cluster', () => {
    it('sendMessage reaches every socket once; a node holding none of the user receives nothing for them', async () => {
      const phone = await connect(a, 'user=s1&device=phone');
      const laptop = await connect(b, 'user=s1&device=laptop');
      const before = (await c.stats()).broker.received;
      await c.call('sendMessage', 's1', 'notification', { text: 'hi' });
      await b.call('sendMessage', 's1', 'from-b', 1);
      await b.call('updateUser', { id: 's1', deviceFingerprint: 'phone', name: 'S' });
      const both = ['from-b:1', 'notification:{"text":"hi"}'];
      expect(await exactly(phone, 0, both)).toEqual(both);
      expect(await exactly(laptop, 0, both)).toEqual(both);
      await waitUntil(async () => (await a.call('userOf', 's1'))[0]?.name === 'S', 'the update on A');
      // C published but holds no socket of s1: nothing for s1 reached it.
      expect((await c.stats()).broker.received).toBe(before);
    });

    it('push with plain data reaches every node; push callbacks run once per user on the pushing node', async () => {
      const one = await connect(a, 'user=p1&role=admin&name=Ann&device=phone');
      const two = await connect(b, 'user=p1&role=admin&name=Ann&device=laptop');
      const three = await connect(c, 'user=p2&role=user');
      await c.call('callbackCalls');
      await a.call('push', 'news', { v: 1 });
      await c.call('push', 'hello', undefined, { allow: 'admins', data: 'greeting' });
      const greeting = `hello:${JSON.stringify({ hello: 'Ann', role: 'admin', plain: true })}`;
      expect(await exactly(one, 0, ['news:{"v":1}', greeting])).toEqual([greeting, 'news:{"v":1}']);
      expect(await exactly(two, 0, ['news:{"v":1}', greeting])).toEqual([greeting, 'news:{"v":1}']);
      expect(await exactly(three, 0, ['news:{"v":1}'])).toEqual(['news:{"v":1}']);
      expect(await c.call('callbackCalls')).toEqual({ p1: 1 });
    });

    it("a node that just started publishes to every master at once, and reports nothing while its connections open", async () => {
      // Twelve users: their channels fall on all three masters.
      const users = Array.from({ length: 12 }, (_, i) => `f${i}`);
      const clients = await Promise.all(users.map((user) => connect(a, `user=${user}`)));
      const fresh = await HubProcess.start('D', { cluster: cluster.nodes, ...OPTIONS });
      try {
        // Rounds 20 ms apart: a slot's first publishes wait while its master's connection opens, and
        // later ones wait behind them once it is open, until the next retry sends them all.
        await fresh.call('sendBurst', users, 10, 20);
        const all = Array.from({ length: 10 }, (_, n) => `burst:${n + 1}`);
        for (const client of clients) expect(await exactly(client, 0, all)).toEqual([...all].sort());
        // Before, the first publish to each master (its pool connection still opening) was reported as a shard that failed over.
        expect(await fresh.call('errors')).toEqual([]);
      } finally {
        await fresh.close();
      }
    });

    it("an app's await loop of sends waits for the masters' answers: what is unanswered stays near highWaterMarkBytes, every message arrives in order", async () => {
      const users = Array.from({ length: 12 }, (_, i) => `loop${i}`);
      const clients = await Promise.all(users.map((user) => connect(a, `user=${user}`)));
      const limits = { highWaterMarkBytes: 16 * 1024, maxQueuedBytes: 64 * 1024 };
      const sender = await HubProcess.start('E', { cluster: cluster.nodes, ...OPTIONS, ...limits });
      try {
        // A first round, so every master's connection is open before the loop.
        await sender.call('sendBurst', users, 1);
        const most = await sender.call<number>('awaitLoop', users, 1200, 1024);
        const { broker } = await sender.call<{ broker: Record<string, number> }>('stats');
        expect(broker.publishWaits).toBeGreaterThan(0);
        expect(most).toBeLessThan(limits.highWaterMarkBytes + 2048);
        expect(broker.publishRefused).toBe(0);
        for (const [i, client] of clients.entries()) {
          await waitUntil(() => client.messages.filter((m) => m.event === 'loop').length >= 100, `100 messages for ${users[i]}`);
          const got = client.messages.filter((m) => m.event === 'loop').map((m) => (m.data as { n: number }).n);
          // Each user's messages come through its own slot's master, in the order they were sent.
          expect(got).toEqual(Array.from({ length: 100 }, (_, k) => i + 12 * k));
        }
        expect(await sender.call('errors')).toEqual([]);
      } finally {
        await sender.close();
      }
    });

    it('onlineUsers, isOnline and disconnect across nodes', async () => {
      await connect(a, 'user=o1');
      const laptop = await connect(b, 'user=o2&device=laptop');
      const tablet = await connect(c, 'user=o2&device=tablet');
      for (const node of nodes) {
        const online = await node.call<string[]>('onlineUsers');
        expect(online).toContain('o1');
        expect(online).toContain('o2');
        expect(await node.call('isOnline', 'o2')).toBe(true);
        expect(await node.call('isOnline', 'nobody')).toBe(false);
      }
      await a.call('disconnect', 'o2');
      expect((await laptop.waitForClose()).code).toBe(4000);
      expect((await tablet.waitForClose()).code).toBe(4000);
      await waitUntil(async () => !(await a.call('isOnline', 'o2')), 'o2 to leave presence');
    });

    it("'presence': online and offline once in the cluster, also when sockets come and go on three nodes at once", async () => {
      const clients = await Promise.all(nodes.map((node) => connect(node, `user=e1&device=${node.name}`)));
      expect(await changesOf('e1', 1)).toEqual([expect.stringMatching(/^[ABC] e1:online$/)]);
      await Promise.all(clients.map((client) => client.close()));
      const all = await changesOf('e1', 2);
      expect(all).toHaveLength(2);
      expect(all[1]).toMatch(/^[ABC] e1:offline$/);
    });
  });

  describe('a hub node that dies', () => {
    it('its users go offline once, within nodeTtlMs and a heartbeat, announced by one survivor', async () => {
      const d = await HubProcess.start('D', { cluster: cluster.nodes, ...OPTIONS });
      try {
        await d.connect('user=k1', r);
        await a.connect('user=k2', r);
        await d.connect('user=k2&device=d', r);
        await changesOf('k1', 1, 10_000, [...nodes, d]);
        await d.kill();
        const killedAt = Date.now();
        const k1 = await changesOf('k1', 2, OPTIONS.nodeTtlMs! + 5000);
        expect(Date.now() - killedAt).toBeLessThan(OPTIONS.nodeTtlMs! + 2 * OPTIONS.nodeHeartbeatMs! + 1000);
        expect(k1).toEqual(['D k1:online', expect.stringMatching(/^[ABC] k1:offline$/)]);
        expect(log.filter((line) => line.endsWith('k2:offline'))).toEqual([]);
      } finally {
        await d.close();
      }
    });
  });

  describe('failover: a master is killed and its replica takes over', () => {
    it('per-origin order holds, every message not delivered is counted, and delivery resumes without a restart', async () => {
      // A user whose channel lives on the master we kill.
      const masters = await cluster.masters();
      const [victim, ranges] = [...masters][0]!;
      let user = '';
      for (let i = 0; !user; i++) {
        const slot = keySlot(`wshub:user:fo${i}`);
        if (ranges.some(([f, t]) => slot >= f && slot <= t)) user = `fo${i}`;
      }
      const phone = await connect(a, `user=${user}`);
      await c.call('sendMessage', user, 'before', 1);
      expect(await phone.next()).toEqual({ event: 'before', data: 1 });
      await c.call('errors');
      const before = (await c.stats()).broker;

      // C sends a numbered series through the failover, one every 20 ms for 6 s.
      const COUNT = 300;
      const series = c.call('sendSeries', user, 'n', COUNT, 20);
      // Presence queries on the node holding the user, without pause through the failover.
      const storm = a.call<{ answered: number; rejected: Record<string, number> }>('presenceStorm', 4000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await cluster.server(victim).kill();
      const killedAt = Date.now();
      // C holds what it sends to the user until the new master has settled, then sends it.
      let holding = false;
      await waitUntil(
        async () => {
          const { held } = (await c.stats()).broker;
          holding ||= held! > 0;
          return holding && held === 0;
        },
        'C to hold, then send what it held',
        20_000,
      );
      const resumedMs = Date.now() - killedAt;
      await series;
      await waitUntil(() => phone.messages.some((m) => m.event === 'n' && m.data === COUNT - 1), 'the last of the series');
      await new Promise((resolve) => setTimeout(resolve, 300)); // a late or repeated message would show
      expect((await cluster.masters()).has(victim)).toBe(false);

      const got = phone.messages.filter((m) => m.event === 'n').map((m) => m.data as number);
      const after = (await c.stats()).broker;
      const counted =
        after.publishFailed! - before.publishFailed! + after.bufferDropped! - before.bufferDropped! + after.bufferExpired! - before.bufferExpired!;
      const missing = COUNT - new Set(got).size;
      process.stderr.write(
        `@wshub/redis: failover: ${got.length} of ${COUNT} delivered, ${missing} missing, ${counted} counted (${after.publishFailed! - before.publishFailed!} failed, ${after.flushed! - before.flushed!} held and sent); out of order: ${got.filter((n, i) => i > 0 && n <= got[i - 1]!).length}\n`,
      );
      // Order per origin node and channel: nothing arrives after a newer message.
      expect(got).toEqual([...got].sort((x, y) => x - y));
      expect(new Set(got).size).toBe(got.length);
      // Nothing lost silently: each message that did not arrive is counted (a failed one may still have arrived).
      expect(missing).toBeLessThanOrEqual(counted);
      // Delivery resumed on the new master: the last of the series arrived, the hubs were not restarted.
      expect(got.at(-1)).toBe(COUNT - 1);
      const perMaster = await shardChannels(`wshub:user:${user}`);
      expect([...perMaster.values()].flat()).toEqual([`wshub:user:${user}`]);
      expect(await a.call('isOnline', user)).toBe(true);
      const { answered, rejected } = await storm;
      expect(answered).toBeGreaterThan(0);
      for (const rejection of Object.keys(rejected)) expect(rejection).toMatch(/^RedisUnavailableError: wshub: /);
      process.stderr.write(`@wshub/redis: failover: held publishes sent ${resumedMs} ms after the master was killed\n`);
      // The old master comes back as a replica; nothing changes for the hubs.
      await cluster.server(victim).start();
      await cluster.waitUntilOk();
      await c.call('sendMessage', user, 'after', 2);
      await waitUntil(() => phone.messages.some((m) => m.event === 'after'), 'delivery after the old master returned');
    }, 60_000);
  });
});
