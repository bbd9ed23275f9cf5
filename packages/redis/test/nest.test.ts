import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST, HubProcess } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';

/** Three NestJS apps with `WsModule.forRoot({ broker: new RedisBroker(...) })`, each in its own process. */
const skip = redisSkipReason();

describe.skipIf(skip)(skip ?? 'the Nest module over Redis', () => {
  let redis: RedisServer;
  let r: Redis;
  let nodes: HubProcess[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    r = new Redis(redis.url);
    nodes = await Promise.all(['A', 'B', 'C'].map((name) => HubProcess.start(name, { url: redis.url, ...FAST }, 'nest')));
  }, 60_000);

  afterAll(async () => {
    await Promise.all((nodes ?? []).map((n) => n.close()));
    r?.disconnect();
    await redis?.kill();
  });

  describe('ClientDisconnectedEvent published on one node closes the sockets on the others', () => {
    it('one device, then every device, with 4000', async () => {
      const [a, b, c] = nodes as [HubProcess, HubProcess, HubProcess];
      const phone = await b.connect('user=n1&device=phone', r);
      const laptop = await c.connect('user=n1&device=laptop', r);
      const tablet = await c.connect('user=n1&device=tablet', r);
      await a.call('publishDisconnected', 'n1', 'laptop');
      expect((await laptop.waitForClose()).code).toBe(4000);
      // SendMessageCommand crosses nodes too; the phone and the tablet are still there.
      await a.call('sendMessage', 'n1', 'still-here', 1);
      expect(await phone.next()).toEqual({ event: 'still-here', data: 1 });
      expect(await tablet.next()).toEqual({ event: 'still-here', data: 1 });
      await a.call('publishDisconnected', 'n1');
      expect((await phone.waitForClose()).code).toBe(4000);
      expect((await tablet.waitForClose()).code).toBe(4000);
      for (const node of nodes) expect(node.fatal).toBeUndefined();
    });
  });
});
