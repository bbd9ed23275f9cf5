import type { IncomingMessage } from 'node:http';
import { WsHub } from '@wshub/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker, type RedisBrokerOptions } from '../src/index.js';
import { waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';
import { TcpProxy } from './tcp-proxy.js';

/** One hub in this process, for what is about the broker's own connections. */
const skip = redisSkipReason();

function authenticate(req: IncomingMessage) {
  const id = new URL(req.url ?? '/', 'http://localhost').searchParams.get('user') ?? 'anonymous';
  return { id, deviceFingerprint: 'device-1' };
}

describe.skipIf(skip)(skip ?? 'RedisBroker connections', () => {
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

  const clientNames = async () =>
    ((await r.client('LIST')) as string)
      .split('\n')
      .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined && name !== 'test')
      .sort();

  async function startHub(options: RedisBrokerOptions) {
    const broker = new RedisBroker(options);
    const hub = new WsHub({ authenticate, broker });
    const errors: string[] = [];
    hub.on('error', (error) => errors.push(error.message));
    await waitUntil(() => hub.stats().broker.subscribed! >= 2, 'the broker to subscribe');
    return { hub, broker, errors };
  }

  describe('a client you pass in stays yours', () => {
    it('publishes on it, subscribes on a duplicate, and close() leaves it open', async () => {
      const client = new Redis(redis.url, { connectionName: 'app' });
      const { hub } = await startHub({ client });
      expect(await clientNames()).toEqual(['app', 'wshub-sub']);
      const subscriber = new Redis(redis.url);
      await subscriber.subscribe('wshub:all');
      const got = new Promise<string>((resolve) => subscriber.on('message', (_c, m) => resolve(m)));
      await hub.push('news', 1);
      expect(JSON.parse(await got)).toMatchObject({ o: hub.nodeId, e: { kind: 'push', event: 'news' } });
      subscriber.disconnect();
      await hub.close();
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
      await waitUntil(async () => (await clientNames()).join() === 'app', 'the duplicate to close');
      client.disconnect();
    });
  });

  describe('close() closes what the broker created and removes its presence', () => {
    it('from a url', async () => {
      const { hub } = await startHub({ url: redis.url });
      expect(await clientNames()).toEqual(['wshub-pub', 'wshub-sub']);
      expect(await r.sismember('wshub:nodes', hub.nodeId)).toBe(1);
      await hub.close();
      await hub.close(); // idempotent
      expect(await r.sismember('wshub:nodes', hub.nodeId)).toBe(0);
      expect(await r.exists(`wshub:node:{${hub.nodeId}}`)).toBe(0);
      await waitUntil(async () => (await clientNames()).length === 0, 'both connections to close');
    });
  });

  describe('presence queries never hang', () => {
    it('reject after commandTimeoutMs when Redis stops answering, and the broker replaces that connection', async () => {
      const proxy = await TcpProxy.start(redis.port);
      const { hub, errors } = await startHub({
        url: proxy.url,
        commandTimeoutMs: 300,
        nodeHeartbeatMs: 100,
        nodeTtlMs: 1000,
        reconnectMaxDelayMs: 100,
      });
      try {
        expect(await hub.onlineUsers()).toEqual([]);
        expect(proxy.freezeCommands()).toBe(1);
        await expect(hub.onlineUsers()).rejects.toMatchObject({
          name: 'RedisUnavailableError',
          message: 'wshub: Redis did not answer a presence query within 300 ms',
        });
        // Heartbeats time out too; the broker drops the silent connection and connects again.
        await waitUntil(() => hub.onlineUsers().then(() => true, () => false), 'presence to answer again');
        expect(hub.stats().broker.reconnects).toBeGreaterThanOrEqual(1);
        expect(errors.join('\n')).toContain('did not answer the heartbeat');
      } finally {
        await hub.close();
        await proxy.close();
      }
    });
  });

  describe('publishes are flow-controlled (highWaterMarkBytes, maxQueuedBytes)', () => {
    const text = 'x'.repeat(1024);
    const limits = { highWaterMarkBytes: 16 * 1024, maxQueuedBytes: 64 * 1024 };

    /** A hub whose broker reaches Redis through a proxy that can delay or drop Redis's answers. */
    async function behindProxy(prefix: string, options: RedisBrokerOptions = {}) {
      const proxy = await TcpProxy.start(redis.port);
      const started = await startHub({ url: proxy.url, prefix, ...limits, ...options });
      return {
        ...started,
        proxy,
        async close() {
          await started.hub.close();
          await proxy.close();
        },
      };
    }

    /** What another node would get: the numbers (`#<i>#`) of the messages Redis delivered on `channel`, in order. */
    async function listen(channel: string) {
      const subscriber = new Redis(redis.url);
      const seen: number[] = [];
      subscriber.on('message', (_c: string, message: string) => seen.push(Number(/#(\d+)#/.exec(message)?.[1])));
      await subscriber.subscribe(channel);
      return { seen, close: () => subscriber.disconnect() };
    }

    it('an await loop waits while Redis answers slowly: what is unanswered stays near the mark, and every publish arrives in order', async () => {
      const { hub, errors, proxy, close } = await behindProxy('flow-await');
      const other = await listen('flow-await:user:nobody');
      try {
        proxy.delayResponses(20);
        let most = 0;
        for (let i = 0; i < 300; i++) {
          await hub.sendMessage('nobody', 'n', `#${i}#${text}`);
          most = Math.max(most, hub.stats().broker.publishPendingBytes!);
        }
        expect(hub.stats().broker.publishWaits).toBeGreaterThan(0);
        // At most one message past the mark (the one admitted just below it); 300 KiB without the bound.
        expect(most).toBeLessThan(limits.highWaterMarkBytes + 2048);
        await waitUntil(() => other.seen.length === 300, 'every publish to arrive');
        expect(other.seen).toEqual([...Array(300).keys()]);
        expect(hub.stats().broker.publishRefused).toBe(0);
        expect(errors).toEqual([]);
      } finally {
        other.close();
        await close();
      }
    });

    it('sends that are not awaited are refused at maxQueuedBytes with a RangeError, and a refused message reaches nobody', async () => {
      const { hub, proxy, close } = await behindProxy('flow-refuse');
      const other = await listen('flow-refuse:user:nobody');
      try {
        proxy.delayResponses(200);
        const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => hub.sendMessage('nobody', 'n', `#${i}#${text}`)));
        const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
        const accepted = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(refused.length).toBeGreaterThan(100);
        expect(refused[0]).toBeInstanceOf(RangeError);
        expect(refused[0]!.message).toMatch(/at maxQueuedBytes \(65536\); this message was not sent/);
        expect(hub.stats().broker.publishRefused).toBe(refused.length);
        await waitUntil(() => hub.stats().broker.publishPendingBytes === 0, 'Redis to answer every accepted publish');
        await waitUntil(() => other.seen.length >= accepted.length, 'the accepted publishes to arrive');
        // Exactly the accepted ones, in order: those refused were never published.
        expect(other.seen).toEqual(accepted);
        // Once Redis has answered, sends go again.
        await hub.sendMessage('nobody', 'n', `#${200}#`);
        await waitUntil(() => other.seen.at(-1) === 200, 'a later send to arrive');
      } finally {
        other.close();
        await close();
      }
    });

    it('disconnect and updateUser are admitted as sends are: an await loop waits, calls not awaited are refused', async () => {
      const { hub, proxy, close } = await behindProxy('flow-calls');
      try {
        proxy.delayResponses(20);
        let most = 0;
        for (let i = 0; i < 500; i++) {
          await hub.updateUser({ id: `user-${i}`, deviceFingerprint: text.slice(0, 100) });
          await hub.disconnect(`user-${i}`);
          most = Math.max(most, hub.stats().broker.publishPendingBytes!);
        }
        expect(hub.stats().broker.publishWaits).toBeGreaterThan(0);
        expect(most).toBeLessThan(limits.highWaterMarkBytes + 1024);
        await waitUntil(() => hub.stats().broker.publishPendingBytes === 0, 'Redis to answer');
        proxy.delayResponses(200);
        const results = await Promise.allSettled(Array.from({ length: 1500 }, (_, i) => hub.disconnect(`user-${i}`)));
        const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
        expect(refused.length).toBeGreaterThan(0);
        expect(refused[0]).toBeInstanceOf(RangeError);
        expect(refused[0]!.message).toContain('at maxQueuedBytes (65536)');
        expect(hub.stats().broker.published).toBe(1000 + 1500 - refused.length);
      } finally {
        await close();
      }
    });

    it('a send waiting for Redis settles when the hub closes, not commandTimeoutMs later', async () => {
      const { hub, proxy, close } = await behindProxy('flow-close', { commandTimeoutMs: 3000, nodeHeartbeatMs: 30_000, nodeTtlMs: 60_000 });
      try {
        expect(proxy.freezeCommands()).toBe(1);
        let waiting: Promise<string> | undefined;
        for (let i = 0; i < 40 && !waiting; i++) {
          const sent = hub.sendMessage('nobody', 'n', `#${i}#${text}`);
          if (hub.stats().broker.publishWaits! > 0) waiting = sent;
          else await sent;
        }
        expect(waiting).toBeDefined();
        const started = Date.now();
        // The close itself waits for Redis to remove the node's presence, at most commandTimeoutMs.
        const closing = hub.close();
        await waiting;
        expect(Date.now() - started).toBeLessThan(1000);
        await closing;
      } finally {
        await close();
      }
    });

    it('with recovery, maxQueuedBytes must leave room for what awaited sends record: the hub refuses to start otherwise', async () => {
      const broker = new RedisBroker({ url: redis.url, maxQueuedBytes: 8 * 1024 * 1024 });
      try {
        expect(() => new WsHub({ authenticate, broker, recovery: true })).toThrow(
          'wshub RedisBroker: with recovery, option "maxQueuedBytes" (8388608) must be more than "recordMaxInFlightBytes" (8388608), or sends that are awaited would be refused',
        );
      } finally {
        await broker.close();
      }
    });

    it('a send waiting for Redis that stopped answering settles after commandTimeoutMs, and the app goes on', async () => {
      // A long node heartbeat: nothing else notices the silent connection within this test.
      const { hub, proxy, close } = await behindProxy('flow-silent', { commandTimeoutMs: 300, nodeHeartbeatMs: 30_000, nodeTtlMs: 60_000 });
      try {
        expect(proxy.freezeCommands()).toBe(1);
        const started = Date.now();
        for (let i = 0; i < 20; i++) await hub.sendMessage('nobody', 'n', `#${i}#${text}`);
        const elapsed = Date.now() - started;
        const { publishWaits, publishPendingBytes } = hub.stats().broker;
        expect(publishWaits).toBeGreaterThan(0);
        expect(publishPendingBytes).toBeGreaterThanOrEqual(limits.highWaterMarkBytes);
        expect(elapsed).toBeGreaterThanOrEqual(250);
      } finally {
        await close();
      }
    });
  });

  describe('a password never shows in what the hub reports', () => {
    it('when Redis refuses it, the errors name the failure, not the password', async () => {
      const secret = 'wr0ng-pa55word';
      const locked = await RedisServer.start(undefined, ['--requirepass', 'the-right-one']);
      const hubs: WsHub[] = [];
      const reports: unknown[] = [];
      try {
        for (const url of [`redis://:${secret}@127.0.0.1:${locked.port}`, `redis://default:${secret}@127.0.0.1:${locked.port}/0`]) {
          const hub = new WsHub({ authenticate, broker: new RedisBroker({ url, reconnectMaxDelayMs: 50 }) });
          hubs.push(hub);
          hub.on('error', (error) => reports.push(error));
        }
        // Both connections of both hubs (commands and subscriber) fail to authenticate.
        await waitUntil(() => reports.length >= 4, 'the refused connections to be reported');
        const texts = reports.map((error) => {
          const e = error as Error;
          return [e.message, e.stack, JSON.stringify(e), String(e), String(e.cause)].join('\n');
        });
        expect(texts.join('\n')).toMatch(/WRONGPASS|NOAUTH|invalid password/);
        for (const text of texts) expect(text).not.toContain(secret);
        for (const hub of hubs) expect(JSON.stringify(hub.stats())).not.toContain(secret);
      } finally {
        await Promise.all(hubs.map((hub) => hub.close()));
        await locked.kill();
      }
    });
  });
});
