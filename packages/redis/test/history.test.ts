import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WsHub } from '@wshub/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RedisBroker } from '../src/index.js';
import { FAST, waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';
import { TcpProxy } from './tcp-proxy.js';
import { authenticate, V2Socket } from './v2-socket.js';

const skip = redisSkipReason();

describe.skipIf(skip)(skip ?? 'message recovery on Redis', () => {
  let redis: RedisServer;
  let r: Redis;
  const open: Array<{ hub: WsHub; server: Server }> = [];
  const sockets: V2Socket[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    r = new Redis(redis.url, { connectionName: 'test', lazyConnect: false });
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    for (const { hub, server } of open.splice(0)) {
      await hub.close();
      server.close();
    }
    if (!redis.running) await redis.start();
    await r.flushall();
  });

  afterAll(async () => {
    r?.disconnect();
    await redis?.kill();
  });

  async function startHub(recovery: true | { maxMessages?: number; ttlMs?: number } = true, url = redis.url) {
    const broker = new RedisBroker({ ...FAST, url });
    const hub = new WsHub({ authenticate, broker, recovery });
    const errors: string[] = [];
    hub.on('error', (error) => errors.push(error.message));
    const server = createServer();
    hub.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ hub, server });
    await waitUntil(() => hub.stats().broker.subscribed! >= 2 && hub.stats().broker.connected === 1, 'the broker to subscribe');
    await waitUntil(() => hub.stats().broker !== undefined && (hub as any).ctx.cluster.history.position().epoch !== '', 'the epoch');
    return { hub, broker, errors, port: (server.address() as AddressInfo).port };
  }

  async function connect(port: number, query: string, hub: WsHub): Promise<V2Socket> {
    const socket = await V2Socket.open(port, query);
    sockets.push(socket);
    const user = new URLSearchParams(query).get('user')!;
    await waitUntil(
      () => (hub as any).broker?.subscriber?.isConfirmed?.(`wshub:user:${user}`) ?? true,
      `the channel of ${user} on this node`,
    );
    await waitUntil(async () => (await hub.onlineUsers()).includes(user), `${user} online`);
    return socket;
  }

  let devices = 0;
  /** A resume on a new socket of bob's (a connection resumes once). */
  async function resumeAgain(port: number, hub: WsHub, position: unknown) {
    return (await connect(port, `user=bob&device=again${++devices}`, hub)).resume(position);
  }

  describe('offsets are one order for every node', () => {
    it('two nodes sending to one user: every socket, on either node, sees the same offsets in the same order', async () => {
      const a = await startHub();
      const b = await startHub();
      const onA = await connect(a.port, 'user=bob&device=a', a.hub);
      const onB = await connect(b.port, 'user=bob&device=b', b.hub);
      expect(onA.welcome!.epoch).toBe(onB.welcome!.epoch);
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        sends.push((i % 2 ? a.hub : b.hub).sendMessage('bob', 'n', i));
        if (i % 10 === 0) sends.push((i % 3 ? a.hub : b.hub).push('all', i));
      }
      await Promise.all(sends);
      const gotA = await onA.take(44);
      const gotB = await onB.take(44);
      const offsets = gotA.map((f) => f.offset!);
      expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
      expect(new Set(offsets).size).toBe(44);
      expect(gotB).toEqual(gotA);
      // Counted when a node reads Redis's answer to its recording, which may come after the message itself.
      const recorded = () => a.hub.stats().broker.recorded! + b.hub.stats().broker.recorded!;
      await waitUntil(() => recorded() >= 44, 'both nodes to read the answers to their recordings');
      expect(recorded()).toBe(44);
      expect([...a.errors, ...b.errors]).toEqual([]);
    });
  });

  describe('a message sent again with its id through another node', () => {
    it('is recorded and delivered once (a send and a broadcast), live and in a replay; the ids expire with the history', async () => {
      const a = await startHub({ ttlMs: 60_000 });
      const b = await startHub({ ttlMs: 60_000 });
      const onB = await connect(b.port, 'user=bob&device=b', b.hub);
      // Each hub drops only the ids it sent itself: the repeat goes through the other node, as an outbox relay's after a takeover.
      await a.hub.sendMessage('bob', 'n', 1, undefined, { id: 'row-1' });
      await b.hub.sendMessage('bob', 'n', 1, undefined, { id: 'row-1' });
      await a.hub.push('all', 2, null, undefined, { id: 'row-2' });
      await b.hub.push('all', 2, null, undefined, { id: 'row-2' });
      // An id is per history: the same one for another user is another message.
      await a.hub.sendMessage('ann', 'n', 3, undefined, { id: 'row-3' });
      await b.hub.sendMessage('bob', 'n', 4, undefined, { id: 'row-3' });
      await b.hub.sendMessage('bob', 'n', 'end');
      const got = await onB.take(4);
      expect(got.map((f) => f.data)).toEqual([1, 2, 4, 'end']);
      await expect(onB.next(300)).rejects.toThrow();
      const { replay } = await resumeAgain(b.port, b.hub, onB.welcome);
      expect(replay.map((f) => f.data)).toEqual([1, 2, 4, 'end']);
      expect(a.hub.stats().broker.recorded! + b.hub.stats().broker.recorded!).toBe(7);
      const ttl = await r.pttl('wshub:h:user:bob:ids');
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(await r.zrange('wshub:h:user:bob:ids', 0, -1)).toEqual(['row-1', 'row-3']);
      expect([...a.errors, ...b.errors]).toEqual([]);
    });

    it('an id older than ttlMs, or past the last maxMessages ids of its history, is recorded again', async () => {
      const a = await startHub({ ttlMs: 400, maxMessages: 2 });
      const b = await startHub({ ttlMs: 400, maxMessages: 2 });
      const onB = await connect(b.port, 'user=bob&device=b', b.hub);
      await a.hub.sendMessage('bob', 'n', 1, undefined, { id: 'x' });
      await a.hub.sendMessage('bob', 'n', 2, undefined, { id: 'y' });
      await a.hub.sendMessage('bob', 'n', 3, undefined, { id: 'z' });
      expect((await onB.take(3)).map((f) => f.data)).toEqual([1, 2, 3]);
      // `x` is past the last two ids; `z` is held.
      await b.hub.sendMessage('bob', 'n', 'x again', undefined, { id: 'x' });
      await b.hub.sendMessage('bob', 'n', 'z again', undefined, { id: 'z' });
      expect((await onB.take(1)).map((f) => f.data)).toEqual(['x again']);
      await new Promise((resolve) => setTimeout(resolve, 600));
      // Through a third node (the other two dropped `z` themselves, having sent it).
      const c = await startHub({ ttlMs: 400, maxMessages: 2 });
      await c.hub.sendMessage('bob', 'n', 'z later', undefined, { id: 'z' });
      expect((await onB.take(1)).map((f) => f.data)).toEqual(['z later']);
    });
  });

  describe('user ids that are not well-formed UTF-16', () => {
    it('are refused with 4403, so they never share a stream and a channel with the user Redis takes them for', async () => {
      const a = await startHub();
      const b = await startHub();
      // Redis keeps names as UTF-8, where a lone surrogate becomes U+FFFD: both ids below would name twin's stream and channel.
      const twin = 'a\uFFFD';
      const query = (id: string) => `json=${encodeURIComponent(JSON.stringify(id))}`;
      const onB = await V2Socket.open(b.port, query(twin));
      sockets.push(onB);
      await waitUntil(async () => (await a.hub.onlineUsers()).includes(twin), 'twin online');
      for (const id of ['a\uD800', 'a\uDC00']) {
        const ws = new WebSocket(`ws://127.0.0.1:${a.port}/api/v1/ws?${query(id)}`, ['wshub']);
        const [code] = (await once(ws, 'close')) as [number];
        expect(code).toBe(4403);
        await expect(a.hub.sendMessage(id, 'n', 'for someone else')).rejects.toThrow('"userId" must be well-formed UTF-16');
        expect(await a.hub.isOnline(id)).toBe(false);
      }
      expect(a.errors.filter((m) => m.includes('"id" is not well-formed UTF-16'))).toHaveLength(2);
      await a.hub.sendMessage(twin, 'n', 'for twin');
      expect((await onB.take(1)).map((f) => f.data)).toEqual(['for twin']);
      expect(await r.keys('wshub:h:user:*')).toEqual([`wshub:h:user:${twin}`]);
      expect(await a.hub.onlineUsers()).toEqual([twin]);
    });
  });

  describe('batched recording', () => {
    it('the records of one turn go in batches (by count and by size): each message once, in send order, offsets growing', async () => {
      const a = await startHub();
      const b = await startHub();
      const onB = await connect(b.port, 'user=bob', b.hub);
      const big = 'x'.repeat(100_000); // three of these exceed a batch's bytes
      const sent: unknown[] = [];
      for (let i = 0; i < 600; i++) {
        const data = i % 200 === 7 ? { i, big } : i;
        sent.push(data);
        void a.hub.sendMessage('bob', 'n', data);
        if (i % 100 === 0) void a.hub.sendMessage('alice', 'n', i); // another user's stream in the same batch
      }
      const got = await onB.take(600);
      expect(got.map((f) => f.data)).toEqual(sent);
      const offsets = got.map((f) => f.offset!);
      for (let i = 1; i < offsets.length; i++) expect(offsets[i]).toBeGreaterThan(offsets[i - 1]!);
      await waitUntil(() => a.hub.stats().broker.recorded === 606, 'every batch answered');
      expect(await r.xlen('wshub:h:user:bob')).toBe(Math.min(600, (a.hub as any).ctx.cluster.history.limits.maxMessages));
      // the replay from the first offset returns the same messages
      const again = await connect(b.port, 'user=bob&device=d2', b.hub);
      const { replay } = await again.resume({ epoch: onB.welcome!.epoch, offset: offsets[offsets.length - 11]! });
      expect(replay.map((f) => f.offset)).toEqual(offsets.slice(-10));
    });
  });

  describe('a node that loses only its subscriber connection', () => {
    it('closes with 1012 the v2 sockets of the users whose messages it missed (every user for a broadcast); they resume without a gap', async () => {
      const proxy = await TcpProxy.start(redis.port);
      try {
        const a = await startHub(true, proxy.url);
        const b = await startHub();
        const bob = await connect(a.port, 'user=bob', a.hub);
        const carol = await connect(a.port, 'user=carol', a.hub);
        const closed = (s: V2Socket) => new Promise<number>((resolve) => s.ws.once('close', (code) => resolve(code)));
        await b.hub.sendMessage('bob', 'n', 0);
        const [seen] = await bob.take(1);
        const stats = () => a.hub.stats().broker;
        const restarts = stats().subscriberRestarts;
        const bobClosed = closed(bob);
        expect(proxy.freezeSubscribers()).toBe(1); // A's subscriber hears nothing; its command connection works
        await b.hub.sendMessage('bob', 'n', 1);
        await b.hub.sendMessage('bob', 'n', 2);
        await waitUntil(() => stats().subscriberRestarts! > restarts!, 'the probe to replace the subscriber', 10_000);
        expect(await bobClosed).toBe(1012);
        expect(stats().resumeForced).toBe(1);
        // carol missed nothing: still connected, and live messages reach her
        await waitUntil(() => (a.broker as any).subscriber.isConfirmed('wshub:user:carol'), 'carol subscribed again');
        await b.hub.sendMessage('carol', 'n', 'hi');
        expect((await carol.take(1))[0]!.data).toBe('hi');
        // bob resumes (here on A) and gets exactly what the subscriber missed
        const back = await connect(a.port, 'user=bob', a.hub);
        const { replay, ack } = await back.resume({ epoch: bob.welcome!.epoch, offset: seen!.offset });
        expect(replay.map((f) => f.data)).toEqual([1, 2]);
        expect(ack).toMatchObject({ status: 'recovered', missed: 2 });
        // a broadcast recorded while the subscriber is gone closes every v2 socket of the node
        const restarts2 = stats().subscriberRestarts;
        const carolClosed = closed(carol);
        const backClosed = closed(back);
        expect(proxy.freezeSubscribers()).toBe(1);
        await b.hub.push('news', 3);
        await waitUntil(() => stats().subscriberRestarts! > restarts2!, 'the probe to replace the subscriber', 10_000);
        expect(await carolClosed).toBe(1012);
        expect(await backClosed).toBe(1012);
        expect(a.errors.filter((e) => !/liveness/.test(e))).toEqual([]);
      } finally {
        for (const { hub, server } of open.splice(0)) {
          await hub.close();
          server.close();
        }
        await proxy.close();
      }
    });
  });

  describe('resume on another node', () => {
    it('replays what the user missed, in order, merged with broadcasts, and only under the watches held now', async () => {
      const a = await startHub();
      const b = await startHub();
      const first = await connect(a.port, 'user=bob', a.hub);
      await a.hub.sendMessage('bob', 'n', 0);
      const [seen] = await first.take(1);
      first.close();
      await waitUntil(async () => !(await b.hub.isOnline('bob')), 'bob offline');
      // Two nodes' messages are in the order Redis ran their batches: waiting until each is recorded fixes it.
      const count = () => a.hub.stats().broker.recorded! + b.hub.stats().broker.recorded!;
      const base = count();
      const recorded = (n: number) => waitUntil(() => count() === base + n, `${n} more recorded`);
      await a.hub.sendMessage('bob', 'n', 1);
      await recorded(1);
      await b.hub.push('news', 2);
      await recorded(2);
      await a.hub.sendMessage('bob', 'order', 3, '42'); // only to watchers of order 42
      await b.hub.sendMessage('alice', 'n', 4); // someone else's
      await recorded(4);
      await a.hub.sendMessage('bob', 'n', 5);
      const back = await connect(b.port, 'user=bob', b.hub);
      const { replay, ack } = await back.resume({ epoch: first.welcome!.epoch, offset: seen!.offset });
      expect(replay.map((f) => f.data)).toEqual([1, 2, 5]);
      expect(ack).toMatchObject({ status: 'recovered', missed: 3, epoch: first.welcome!.epoch });
      expect(ack.offset).toBeGreaterThanOrEqual(replay[2]!.offset!);
      await a.hub.sendMessage('bob', 'n', 6);
      const [live] = await back.take(1);
      expect(live).toMatchObject({ data: 6 });
      expect(live!.offset).toBeGreaterThan(ack.offset);
    });

    it('a v2 frame carries the scope it was sent for, then its offset, on the node that did not send it', async () => {
      const a = await startHub();
      const b = await startHub();
      const onB = await connect(b.port, 'user=bob', b.hub);
      onB.ws.send(JSON.stringify({ event: 'watch', id: 1, data: { event: 'order', payload: '42' } }));
      expect(await onB.next()).toMatchObject({ event: 'wshub:ack', data: { id: 1, status: 'allowed' } });
      await a.hub.sendMessage('bob', 'order', 1, '42');
      await a.hub.push('order', 2, undefined, true);
      await a.hub.sendMessage('bob', 'order', 3);
      const got = await onB.take(3);
      expect(got).toEqual([
        { event: 'order', data: 1, scope: '42', offset: expect.any(Number) },
        { event: 'order', data: 2, scope: true, offset: expect.any(Number) },
        { event: 'order', data: 3, offset: expect.any(Number) },
      ]);
    });

    it('an offset the history never gave, or another epoch, is answered failed', async () => {
      const a = await startHub();
      const s = await connect(a.port, 'user=bob', a.hub);
      expect((await s.resume({ epoch: s.welcome!.epoch, offset: s.welcome!.offset + 1000 })).ack.status).toBe('failed');
      expect((await resumeAgain(a.port, a.hub, { epoch: 'another', offset: 0 })).ack).toMatchObject({ status: 'failed', epoch: s.welcome!.epoch });
    });
  });

  describe('bounds: never a partial replay', () => {
    it('more than maxMessages missed: failed (the stream was trimmed past the position)', async () => {
      const a = await startHub({ maxMessages: 3 });
      const s = await connect(a.port, 'user=bob', a.hub);
      const from = s.welcome!;
      for (let i = 0; i < 3; i++) await a.hub.sendMessage('bob', 'n', i);
      await s.take(3);
      expect((await s.resume(from)).ack).toMatchObject({ status: 'recovered', missed: 3 });
      await a.hub.sendMessage('bob', 'n', 3);
      await s.take(1);
      expect((await resumeAgain(a.port, a.hub, from)).ack).toMatchObject({ status: 'failed', missed: 0 });
      expect(await r.xlen('wshub:h:user:bob')).toBe(3);
    });

    it('older than ttlMs: failed; a user whose stream expired whole: failed from before its last message, recovered from it', async () => {
      const a = await startHub({ ttlMs: 1000 });
      const s = await connect(a.port, 'user=bob', a.hub);
      const from = s.welcome!;
      await a.hub.sendMessage('bob', 'n', 1);
      const [m] = await s.take(1);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(await r.exists('wshub:h:user:bob')).toBe(0); // expired whole
      await a.hub.push('tick', 0); // a newer offset exists
      const [tick] = await s.take(1);
      expect((await s.resume(from)).ack.status).toBe('failed');
      // Nothing for bob after m was lost: the stream's expiry took only m and older; the broadcast is replayed.
      const { replay, ack } = await resumeAgain(a.port, a.hub, { epoch: from.epoch, offset: m!.offset });
      expect(ack).toMatchObject({ status: 'recovered', missed: 1 });
      expect(replay).toEqual([tick]);
      expect((await resumeAgain(a.port, a.hub, { epoch: from.epoch, offset: tick!.offset })).ack).toMatchObject({ status: 'recovered', missed: 0 });
    });
  });

  describe('Redis faults', () => {
    it('Redis restarted empty: messages flow without offsets meanwhile, the epoch changes, offsets keep growing, the old position fails', async () => {
      const a = await startHub();
      const s = await connect(a.port, 'user=bob', a.hub);
      await a.hub.sendMessage('bob', 'n', 1);
      const [before] = await s.take(1);
      await redis.kill();
      await waitUntil(() => a.hub.stats().broker.connected === 0, 'the broker to see the outage');
      await a.hub.sendMessage('bob', 'n', 2);
      const [during] = await s.take(1);
      expect(during).toEqual({ event: 'n', data: 2 }); // delivered, without an offset
      expect(a.hub.stats().broker.unrecorded).toBe(1);
      // Redis comes back empty: what the node's subscriber missed went with the history, so its v2 sockets are closed and resume.
      const closed = new Promise<number>((resolve) => s.ws.once('close', (code) => resolve(code)));
      await redis.start();
      expect(await closed).toBe(1012);
      await waitUntil(() => a.hub.stats().broker.connected === 1 && a.hub.stats().broker.subscribed! >= 2, 'the broker back');
      await waitUntil(async () => (await r.exists('wshub:h:lost')) === 1, 'the lost mark', 5000);
      const again = await connect(a.port, 'user=bob&device=d2', a.hub);
      await a.hub.sendMessage('bob', 'n', 3);
      const [after] = await again.take(1);
      expect(after!.offset).toBeGreaterThan(before!.offset!);
      const position = (a.hub as any).ctx.cluster.history.position();
      expect(position.epoch).not.toBe(s.welcome!.epoch);
      expect((await resumeAgain(a.port, a.hub, { epoch: s.welcome!.epoch, offset: before!.offset })).ack.status).toBe('failed');
      expect((await resumeAgain(a.port, a.hub, { epoch: position.epoch, offset: after!.offset })).ack.status).toBe('recovered');
    });

    it('a gap in the middle of one epoch: a position from before the lost message fails, one from after recovers', async () => {
      const a = await startHub();
      const s = await connect(a.port, 'user=bob', a.hub);
      await a.hub.sendMessage('bob', 'n', 1);
      const [before] = await s.take(1);
      // The command connection drops while Redis keeps its data.
      await r.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await a.hub.sendMessage('bob', 'n', 2).catch(() => {});
      await waitUntil(() => a.hub.stats().broker.connected === 1, 'the broker back');
      await waitUntil(async () => (await r.exists('wshub:h:lost')) === 1, 'the lost mark', 5000);
      await a.hub.sendMessage('bob', 'n', 3);
      const got = await s.take(2);
      expect(got.map((f) => f.data)).toEqual([2, 3]);
      const epoch = s.welcome!.epoch;
      expect((await s.resume({ epoch, offset: before!.offset })).ack.status).toBe('failed');
      expect((await resumeAgain(a.port, a.hub, { epoch, offset: got[1]!.offset })).ack.status).toBe('recovered');
    });
  });
});
