import { WsHub } from '@wshub/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../src/index.js';
import { FAST, waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';

/**
 * What the history costs in Redis per user: one message of about 100 bytes
 * to each of 2,000 users, Redis's `used_memory` before and after. (The
 * README's sizing quotes this test's output.)
 */
const skip = redisSkipReason();
const USERS = 2000;

const report = (line: string) => process.stdout.write(`${line}\n`);

describe.skipIf(skip)(skip ?? 'the size of the Redis history', () => {
  let redis: RedisServer;
  let r: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    r = new Redis(redis.url, { connectionName: 'test' });
  });

  afterAll(async () => {
    r?.disconnect();
    await redis?.kill();
  });

  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1]);

  it(`one ~100-byte message to each of ${USERS} users costs less than 1.5 KB per user`, async () => {
    const hub = new WsHub({
      authenticate: () => ({ id: 'nobody', deviceFingerprint: 'd' }),
      broker: new RedisBroker({ ...FAST, url: redis.url }),
      recovery: true,
    });
    try {
      await waitUntil(() => hub.stats().broker.connected === 1 && hub.stats().broker.subscribed! >= 2, 'the broker to connect');
      await hub.sendMessage('warm-up', 'n', 1); // the sequence, the epoch and the clock exist before the measure
      await waitUntil(() => hub.stats().broker.recorded === 1, 'the warm-up recorded');
      const before = await usedMemory();
      const data = 'x'.repeat(78); // the frame: {"event":"n","data":"xx…"} is 100 bytes
      for (let i = 0; i < USERS; i++) await hub.sendMessage(`user-${String(i).padStart(6, '0')}`, 'n', data);
      await waitUntil(() => hub.stats().broker.recorded === USERS + 1, 'every message recorded');
      const perUser = (await usedMemory()) - before;
      const stream = Number(await r.memory('USAGE', 'wshub:h:user:user-000000'));
      report(
        `history size: ${USERS} users with one 100-byte message each: ${Math.round(perUser / USERS)} B per user in used_memory (${((perUser / USERS) * 50_000 / 2 ** 20).toFixed(0)} MiB for 50k users); MEMORY USAGE of one stream ${stream} B`,
      );
      expect(await r.xlen('wshub:h:user:user-000000')).toBe(1);
      expect(perUser / USERS).toBeLessThan(1500);
    } finally {
      await hub.close();
    }
  });
});
