import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAST, HubProcess, waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';

/**
 * `hub.on('presence')` across three hub processes on one Redis: a user's
 * first socket anywhere makes them online, their last socket anywhere (or
 * their last node's death) makes them offline — each once in the whole
 * cluster, on one node.
 */
const skip = redisSkipReason();

describe.skipIf(skip)(skip ?? 'presence events over Redis', () => {
  let redis: RedisServer;
  let r: Redis;
  let nodes: HubProcess[];
  let a: HubProcess;
  let b: HubProcess;
  let c: HubProcess;
  /** Every node's presence notifications so far, as `<node> <user>:<online|offline>`. */
  const log: string[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    r = new Redis(redis.url);
    nodes = await Promise.all(['A', 'B', 'C'].map((name) => HubProcess.start(name, { url: redis.url, ...FAST })));
    [a, b, c] = nodes as [HubProcess, HubProcess, HubProcess];
  }, 60_000);

  afterEach(() => {
    for (const node of nodes) expect(node.fatal).toBeUndefined();
  });

  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.close()));
    r?.disconnect();
    await redis?.kill();
  });

  async function collect(from = nodes): Promise<void> {
    for (const node of from.filter((n) => n.alive)) {
      for (const change of await node.call<string[]>('presence')) log.push(`${node.name} ${change}`);
    }
  }

  /** The notifications about `user`, once `expected` many arrived and a little more time passed for extra ones. */
  async function changesOf(user: string, expected: number, from = nodes, timeoutMs = 10_000): Promise<string[]> {
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

  describe('online with the first socket anywhere, offline with the last, once each', () => {
    it('sockets on several nodes make one online and one offline', async () => {
      const phone = await a.connect('user=e1&device=phone', r);
      expect(await changesOf('e1', 1)).toEqual(['A e1:online']);
      const laptop = await b.connect('user=e1&device=laptop', r);
      const tablet = await b.connect('user=e1&device=tablet', r);
      await phone.close();
      await laptop.close();
      await waitUntil(async () => (await b.call<unknown[]>('userOf', 'e1')).length === 1, 'one socket left on B');
      expect(await changesOf('e1', 1)).toEqual(['A e1:online']);
      await tablet.close();
      expect(await changesOf('e1', 2)).toEqual(['A e1:online', 'B e1:offline']);
    });

    it.each([1, 2, 3, 4, 5])('first sockets on three nodes at once, then last sockets at once (round %i)', async (round) => {
      const user = `race${round}`;
      const clients = await Promise.all(nodes.map((node) => node.connect(`user=${user}&device=${node.name}`, r)));
      const online = await changesOf(user, 1);
      expect(online).toHaveLength(1);
      expect(online[0]).toMatch(new RegExp(`^[ABC] ${user}:online$`));
      await Promise.all(clients.map((client) => client.close()));
      const all = await changesOf(user, 2);
      expect(all).toHaveLength(2);
      expect(all[1]).toMatch(new RegExp(`^[ABC] ${user}:offline$`));
    });

    it('updateUser and more sockets of an online user change nothing', async () => {
      await a.connect('user=e2', r);
      expect(await changesOf('e2', 1)).toEqual(['A e2:online']);
      await c.call('updateUser', { id: 'e2', deviceFingerprint: 'device-1', name: 'New' });
      await c.connect('user=e2&device=2', r);
      expect(await changesOf('e2', 1)).toEqual(['A e2:online']);
    });
  });

  describe('a node that dies', () => {
    it('its users go offline once, within nodeTtlMs and a heartbeat, decided by one survivor; users it shared stay online', async () => {
      const d = await HubProcess.start('D', { url: redis.url, ...FAST });
      try {
        await d.connect('user=k1', r);
        await d.connect('user=k2&device=d', r);
        await a.connect('user=k2&device=a', r);
        const online = [...(await changesOf('k1', 1, [...nodes, d])), ...(await changesOf('k2', 1, [...nodes, d]))];
        expect(online).toEqual(['D k1:online', 'D k2:online']);
        await d.kill();
        const killedAt = Date.now();
        const k1 = await changesOf('k1', 2, nodes, FAST.nodeTtlMs! + FAST.nodeHeartbeatMs! + 3000);
        const tookMs = Date.now() - killedAt;
        expect(k1).toHaveLength(2);
        expect(k1[1]).toMatch(/^[ABC] k1:offline$/);
        expect(tookMs).toBeLessThan(FAST.nodeTtlMs! + 2 * FAST.nodeHeartbeatMs! + 1000);
        expect(await changesOf('k2', 1)).toEqual(['D k2:online']);
        expect(await a.call('isOnline', 'k2')).toBe(true);
        expect(await a.call('isOnline', 'k1')).toBe(false);
      } finally {
        await d.close();
      }
    });
  });
});
