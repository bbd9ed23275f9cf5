import type { TestClient } from '@wshub/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAST, HubProcess, waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';

/**
 * Three hubs, each in its own process, one real redis-server: they must
 * behave as one hub. The processes are shared by the tests of this file;
 * each test uses its own user ids and closes its clients.
 */
const skip = redisSkipReason();

describe.skipIf(skip)(skip ?? 'three nodes over Redis', () => {
  let redis: RedisServer;
  let r: Redis;
  let a: HubProcess;
  let b: HubProcess;
  let c: HubProcess;
  let nodes: HubProcess[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    r = new Redis(redis.url);
    nodes = await Promise.all(['A', 'B', 'C'].map((name) => HubProcess.start(name, { url: redis.url, ...FAST })));
    [a, b, c] = nodes as [HubProcess, HubProcess, HubProcess];
  }, 60_000);

  afterEach(async () => {
    for (const node of nodes) {
      expect(node.fatal).toBeUndefined();
      node.dropClients();
    }
    // The next test starts with no users anywhere.
    await waitUntil(async () => (await r.pubsub('CHANNELS', 'wshub:user:*')).length === 0, 'users to leave');
  });

  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.close()));
    r?.disconnect();
    await redis?.kill();
  });

  const connect = (node: HubProcess, query: string) => node.connect(query, r);

  /**
   * Everything `client` receives before a marker that is sent through Redis
   * after `origin`'s publishes reached Redis: a duplicate (such as a node's
   * own publish coming back) would show up in the list.
   */
  async function receivedBefore(client: TestClient, user: string, origin: HubProcess, via: HubProcess) {
    await origin.call('onlineUsers'); // a round trip on origin's command connection, after its publishes
    await via.call('sendMessage', user, '__marker__', null);
    const got: string[] = [];
    for (;;) {
      const m = await client.next();
      if (m.event === '__marker__') return got;
      got.push(`${m.event}:${JSON.stringify(m.data)}`);
    }
  }

  describe('sendMessage reaches every socket of the user on every node, exactly once', () => {
    it('from a node that holds none of the user\'s sockets', async () => {
      const phone = await connect(a, 'user=s1&device=phone');
      const laptop = await connect(b, 'user=s1&device=laptop');
      await c.call('sendMessage', 's1', 'notification', { text: 'hi' });
      expect(await phone.next()).toEqual({ event: 'notification', data: { text: 'hi' } });
      expect(await laptop.next()).toEqual({ event: 'notification', data: { text: 'hi' } });
      expect(await receivedBefore(phone, 's1', c, b)).toEqual([]);
      expect(await receivedBefore(laptop, 's1', c, a)).toEqual([]);
    });

    it('from a node that holds one of them: its own publish is not delivered a second time', async () => {
      const phone = await connect(a, 'user=s2&device=phone');
      const laptop = await connect(b, 'user=s2&device=laptop');
      await a.call('sendMessage', 's2', 'e', 1);
      expect(await receivedBefore(phone, 's2', a, c)).toEqual(['e:1']);
      expect(await receivedBefore(laptop, 's2', a, c)).toEqual(['e:1']);
    });

    it('keeps the order of messages from one origin node', async () => {
      const phone = await connect(a, 'user=s3');
      for (let i = 0; i < 50; i++) void c.call('sendMessage', 's3', 'n', i);
      const got: unknown[] = [];
      for (let i = 0; i < 50; i++) got.push((await phone.next()).data);
      expect(got).toEqual([...Array(50).keys()]);
    });
  });

  describe('routing: a node receives only what concerns its users', () => {
    it('a node holding none of the user\'s sockets receives nothing for them', async () => {
      const phone = await connect(a, 'user=r1');
      const before = (await c.stats()).broker;
      await b.call('sendMessage', 'r1', 'e', 1);
      await b.call('updateUser', { id: 'r1', deviceFingerprint: 'device-1', name: 'R' });
      await b.call('disconnect', 'r1', 'no-such-device');
      expect(await phone.next()).toEqual({ event: 'e', data: 1 });
      await waitUntil(async () => (await a.call('userOf', 'r1'))[0]?.name === 'R', 'the update on A');
      expect(await receivedBefore(phone, 'r1', b, b)).toEqual([]); // everything from B has passed Redis
      const after = (await c.stats()).broker;
      expect(after.received).toBe(before.received);
      expect((await a.stats()).broker.received).toBeGreaterThanOrEqual(3);
    });

    it('subscribes a user channel with the first socket and unsubscribes after the last', async () => {
      const numsub = async () => (await r.pubsub('NUMSUB', 'wshub:user:r2'))[1];
      const first = await connect(a, 'user=r2&device=1');
      const second = await connect(a, 'user=r2&device=2');
      expect(await numsub()).toBe(1);
      await second.close();
      await waitUntil(async () => (await a.call<unknown[]>('userOf', 'r2')).length === 1, 'one socket left');
      expect(await numsub()).toBe(1);
      await first.close();
      await waitUntil(async () => (await numsub()) === 0, 'the channel to be unsubscribed');
    });
  });

  describe('push with plain data: one broadcast publish, applied by each node to its users', () => {
    it('reaches everyone once, filters by watch on the node that holds the socket', async () => {
      const onA = await connect(a, 'user=p1');
      const onB = await connect(b, 'user=p2');
      const onC = await connect(c, 'user=p3');
      expect(await onB.watch('order', '42')).toBe('allowed');
      expect(await onC.watch('order')).toBe('allowed');
      const published = (await a.stats()).broker.published!;
      await a.call('push', 'news', { v: 1 });
      expect((await a.stats()).broker.published).toBe(published + 1);
      await a.call('push', 'order', { id: 42 }, { filter: '42' });
      await a.call('push', 'order', { id: 7 }, { filter: '7' });
      await a.call('push', 'order', { any: true }, { filter: true });
      expect(await receivedBefore(onA, 'p1', a, c)).toEqual(['news:{"v":1}']);
      expect(await receivedBefore(onB, 'p2', a, c)).toEqual(['news:{"v":1}', 'order:{"id":42}', 'order:{"any":true}']);
      expect(await receivedBefore(onC, 'p3', a, b)).toEqual([
        'news:{"v":1}',
        'order:{"id":42}',
        'order:{"id":7}',
        'order:{"any":true}',
      ]);
    });
  });

  describe('push with callbacks: run once per user on the pushing node, for users on every node', () => {
    it('allow and data callbacks see the same plain user for local and remote users', async () => {
      const adminA = await connect(a, 'user=c1&role=admin&name=Ann&device=phone');
      const adminB = await connect(b, 'user=c1&role=admin&name=Ann&device=laptop');
      const adminC = await connect(c, 'user=c2&role=admin&name=Cid');
      const plain = await connect(b, 'user=c3&role=user');
      await c.call('callbackCalls');
      await c.call('push', 'hello', undefined, { allow: 'admins', data: 'greeting' });
      const greeting = (name: string) => `hello:${JSON.stringify({ hello: name, role: 'admin', plain: true })}`;
      expect(await receivedBefore(adminA, 'c1', c, b)).toEqual([greeting('Ann')]);
      expect(await receivedBefore(adminB, 'c1', c, a)).toEqual([greeting('Ann')]);
      expect(await receivedBefore(adminC, 'c2', c, a)).toEqual([greeting('Cid')]);
      expect(await receivedBefore(plain, 'c3', c, a)).toEqual([]);
      // Once per user (c1 has sockets on two nodes), only for allowed users.
      expect(await c.call('callbackCalls')).toEqual({ c1: 1, c2: 1 });
      expect(await a.call('callbackCalls')).toEqual({});
    });

    it('applies the watch filter to callback pushes on the node that holds the socket', async () => {
      const watching = await connect(a, 'user=c4&role=admin&device=w');
      const notWatching = await connect(b, 'user=c4&role=admin&device=n');
      expect(await watching.watch('report')).toBe('allowed');
      await c.call('push', 'report', { n: 1 }, { allow: 'asyncAdmins', filter: true });
      expect(await receivedBefore(watching, 'c4', c, b)).toEqual(['report:{"n":1}']);
      expect(await receivedBefore(notWatching, 'c4', c, a)).toEqual([]);
    });

    it('a callback that throws skips that user only and is reported', async () => {
      const one = await connect(a, 'user=c5');
      const two = await connect(b, 'user=c6');
      await c.call('errors');
      await c.call('push', 'x', 1, { allow: 'throwsFor', allowArg: 'c5' });
      expect(await receivedBefore(two, 'c6', c, a)).toEqual(['x:1']);
      expect(await receivedBefore(one, 'c5', c, b)).toEqual([]);
      expect((await c.call<string[]>('errors')).join('\n')).toContain('allow refused c5');
    });
  });

  describe('disconnect closes the sockets on every node', () => {
    it('one device, then all devices, with 4000', async () => {
      const phone = await connect(a, 'user=d1&device=phone');
      const laptop = await connect(b, 'user=d1&device=laptop');
      const tablet = await connect(b, 'user=d1&device=tablet');
      await c.call('disconnect', 'd1', 'laptop');
      expect((await laptop.waitForClose()).code).toBe(4000);
      expect(await receivedBefore(phone, 'd1', c, c)).toEqual([]);
      await c.call('disconnect', 'd1');
      expect((await phone.waitForClose()).code).toBe(4000);
      expect((await tablet.waitForClose()).code).toBe(4000);
      await waitUntil(async () => !(await c.call('isOnline', 'd1')), 'd1 to leave presence');
    });
  });

  describe('updateUser replaces the user on every node and in presence', () => {
    it('remote sockets get the new object; cluster push callbacks see it', async () => {
      await connect(a, 'user=u1&device=phone&name=Old');
      const laptop = await connect(b, 'user=u1&device=laptop&name=Old');
      await c.call('updateUser', { id: 'u1', deviceFingerprint: 'phone', role: 'admin', name: 'New' });
      const isNew = (users: Array<{ name: string }>) => users.length === 1 && users[0]!.name === 'New';
      await waitUntil(async () => isNew(await a.call('userOf', 'u1')), 'the update on A');
      await waitUntil(async () => isNew(await b.call('userOf', 'u1')), 'the update on B');
      await waitUntil(async () => (await c.call('users')).u1?.name === 'New', 'the update in presence');
      await c.call('push', 'hello', undefined, { allow: 'admins', data: 'greeting' });
      expect(await receivedBefore(laptop, 'u1', c, a)).toEqual([
        `hello:${JSON.stringify({ hello: 'New', role: 'admin', plain: true })}`,
      ]);
    });
  });

  describe('presence is cluster-wide', () => {
    it('onlineUsers, isOnline and users() list users on every node', async () => {
      await connect(a, 'user=o1');
      await connect(b, 'user=o2&name=Bo');
      await connect(b, 'user=o1&device=2');
      for (const node of nodes) {
        expect(await node.call('onlineUsers')).toEqual(['o1', 'o2']);
        expect(await node.call('isOnline', 'o2')).toBe(true);
        expect(await node.call('isOnline', 'nobody')).toBe(false);
      }
      expect((await c.call('users')).o2).toEqual({ id: 'o2', deviceFingerprint: 'device-1', role: 'user', name: 'Bo' });
      await Promise.all(b.clients.map((client) => client.close()));
      await waitUntil(async () => (await c.call('onlineUsers')).join() === 'o1', 'o2 to leave presence');
      expect(await c.call('isOnline', 'o1')).toBe(true);
    });

    it('keeps its records under the documented keys', async () => {
      await connect(a, 'user=k1&name=Kay');
      expect(await r.sismember('wshub:nodes', a.nodeId)).toBe(1);
      expect(await r.pttl(`wshub:node:{${a.nodeId}}`)).toBeGreaterThan(0);
      expect(await r.pttl(`wshub:presence:{${a.nodeId}}`)).toBe(-1); // removed by the node or by the sweep that settles it
      expect(JSON.parse((await r.hget(`wshub:presence:{${a.nodeId}}`, 'k1'))!)).toMatchObject({ id: 'k1', name: 'Kay' });
      expect(await r.hgetall('wshub:online:k1')).toEqual({ [a.nodeId]: '1' });
    });
  });

  describe('garbage on a wshub channel is ignored and counted, never a crash', () => {
    it.each([
      ['malformed JSON', '{"o":'],
      ['a JSON value of the wrong shape', JSON.stringify({ o: 'someone', e: { kind: 'send', userId: 'g1' } })],
      ['an unknown kind', JSON.stringify({ o: 'someone', e: { kind: 'rm -rf', userId: 'g1' } })],
      ['a prototype-polluting key', '{"o":"x","e":{"__proto__":{"kind":"push"}}}'],
      ['an oversized message', `{"o":"x","e":"${'x'.repeat(8 * 1024 * 1024 + 1)}"}`],
    ])('%s', async (_name, garbage) => {
      const client = await connect(a, 'user=g1');
      const before = await Promise.all(nodes.map(async (n) => (await n.stats()).broker.ignored));
      await r.publish('wshub:all', garbage);
      await r.publish('wshub:user:g1', garbage);
      await waitUntil(async () => (await a.stats()).broker.ignored === before[0]! + 2, 'A to count both');
      await waitUntil(async () => (await b.stats()).broker.ignored === before[1]! + 1, 'B to count one');
      for (const node of nodes) expect(await node.call('prototypeTouched')).toBe(false);
      // Still serving.
      await c.call('sendMessage', 'g1', 'after', 1);
      expect(await client.next()).toEqual({ event: 'after', data: 1 });
      for (const node of nodes) expect(node.alive).toBe(true);
    });
  });
});
