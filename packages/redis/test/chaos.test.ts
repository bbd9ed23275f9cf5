import { HubClient } from '@wshub/client';
import { WsHub } from '@wshub/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RedisBroker } from '../src/index.js';
import { FAST, HubProcess, waitUntil } from './hub-process.js';
import { freePort, RedisServer, redisSkipReason } from './redis-server.js';
import { SwitchProxy } from './switch-proxy.js';
import { judge, type Outcome, report, type Sent, sleep, type Watched } from './chaos-check.js';

/**
 * Message recovery under chaos, over real sockets and a real Redis: two hub
 * nodes on one redis-server, each behind a proxy the test controls; 120
 * clients (60 users, one device behind each proxy); a publisher (a third hub
 * in this process) sends numbered messages — to one user, to the watchers of
 * a scoped event, to everyone — at a steady rate while the proxies drop every
 * connection for 2 s every 6 s, node A is deployed (drained, restarted) and
 * node B is killed with SIGKILL (restarted). Then, for every client: each of
 * its messages arrived exactly once, in order, or a `recovered: false`
 * covers the gap. The same run without recovery shows what it would lose.
 * A shorter run stops the redis-server for 1.5 s and starts it again, empty:
 * every gap is covered by a `recovered: false`.
 */
const skip = redisSkipReason();

const USERS = 60;
const SYMBOLS = 6;
const RUN_MS = 30_000;
const TICK_MS = 25;
const OUTAGE_MS = 2000;
const RECOVERY = { maxMessages: 2000, ttlMs: 120_000 };

describe.skipIf(skip)(skip ?? 'message recovery under chaos (two nodes, one Redis, proxies that drop, a deploy, a kill)', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis?.kill();
  });

  /**
   * `redisOutage`: a shorter run with no proxy drops, deploy or kill; the
   * redis-server is stopped for 1.5 s and started again (empty) instead.
   */
  async function run(recover: boolean, redisOutage = false) {
    const runMs = redisOutage ? 10_000 : RUN_MS;
    const url = redis.url;
    const prefix = redisOutage ? 'outage' : recover ? 'chaos' : 'plain';
    const brokerOptions = { ...FAST, url, prefix };
    const hubOptions = recover ? { recovery: RECOVERY } : {};
    const ports = { a: await freePort(), b: await freePort() };
    const nodes = {
      a: await HubProcess.start('node A', brokerOptions, 'hub', { options: hubOptions, port: ports.a }),
      b: await HubProcess.start('node B', brokerOptions, 'hub', { options: hubOptions, port: ports.b }),
    };
    const proxies = { a: await SwitchProxy.start(ports.a), b: await SwitchProxy.start(ports.b) };
    const publisher = new WsHub({
      authenticate: () => ({ id: 'publisher', deviceFingerprint: 'p' }),
      broker: new RedisBroker(brokerOptions),
      ...(recover ? { recovery: RECOVERY } : {}),
    });
    const publisherErrors: string[] = [];
    publisher.on('error', (error) => publisherErrors.push(error.message));
    const nodeErrors: string[] = [];
    const watched: Watched[] = [];
    try {
      await waitUntil(() => publisher.stats().broker.subscribed! >= 2, 'the publisher to subscribe');
      for (let i = 0; i < USERS; i++) {
        for (const side of ['a', 'b'] as const) {
          const user = `u${i}`;
          const client = new HubClient(`ws://127.0.0.1:${proxies[side].port}/api/v1/ws?user=${user}&device=${side}`, {
            WebSocket: WebSocket as never,
            recover,
            reconnect: { initialDelayMs: 100, maxDelayMs: 400, factor: 1.5, jitter: 0.5 },
          });
          const w: Watched = {
            client,
            user,
            symbol: `s${i % SYMBOLS}`,
            log: [],
            at: [],
            push(entry) {
              this.log.push(entry);
              this.at.push(Date.now());
            },
          };
          for (const event of ['direct', 'price', 'news'])
            client.on(event as never, ((data: { n: number }) => w.push(data.n)) as never);
          client.on('recovered', (r) => w.push(r));
          watched.push(w);
        }
      }
      // Every watch confirmed, and every user's channel subscribed on both nodes, before the first message.
      await Promise.all(watched.map((w) => w.client.watch('price' as never, w.symbol).whenConfirmed()));
      await waitUntil(async () => (await publisher.onlineUsers()).length === USERS, 'every user online', 20_000);
      await waitUntil(
        async () => (await nodes.a.stats()).users === USERS && (await nodes.b.stats()).users === USERS,
        'every user on both nodes',
        20_000,
      );
      await sleep(300);

      const sent: Sent[] = [];
      const started = Date.now();
      const publishing = (async () => {
        let n = 0;
        for (let tick = 0; Date.now() - started < runMs; tick++) {
          const user = `u${tick % USERS}`;
          await publisher.sendMessage(user, 'direct', { n: ++n });
          sent.push({ n, kind: 'direct', to: user });
          if (tick % 2 === 0) {
            const symbol = `s${(tick / 2) % SYMBOLS}`;
            await publisher.push('price', { n: ++n }, undefined, symbol);
            sent.push({ n, kind: 'price', to: symbol });
          }
          if (tick % 20 === 0) {
            await publisher.push('news', { n: ++n });
            sent.push({ n, kind: 'news', to: '' });
          }
          const wait = started + (tick + 1) * TICK_MS - Date.now();
          if (wait > 0) await sleep(wait);
        }
      })();

      const at = (ms: number) => sleep(Math.max(0, started + ms - Date.now()));
      const chaos = (async () => {
        if (redisOutage) {
          await at(3000);
          await redis.kill();
          await sleep(1500);
          await redis.start();
          return;
        }
        const outages = (async () => {
          for (const t of [2500, 8500, 14_500, 20_500, 26_000]) {
            await at(t);
            proxies.a.outage(OUTAGE_MS);
            proxies.b.outage(OUTAGE_MS);
          }
        })();
        // A deploy of node A: new connections go to B while A drains and restarts.
        await at(5000);
        nodeErrors.push(...(await nodes.a.call<string[]>('errors')));
        proxies.a.target = ports.b;
        await nodes.a.drain(1500);
        nodes.a = await HubProcess.start('node A', brokerOptions, 'hub', { options: hubOptions, port: ports.a });
        proxies.a.target = ports.a;
        // Node B dies without a word; the balancer notices after 300 ms.
        await at(17_000);
        nodeErrors.push(...(await nodes.b.call<string[]>('errors')));
        await nodes.b.kill();
        await sleep(300);
        proxies.b.target = ports.a;
        await sleep(1500);
        nodes.b = await HubProcess.start('node B', brokerOptions, 'hub', { options: hubOptions, port: ports.b });
        proxies.b.target = ports.b;
        await outages;
      })();
      await Promise.all([publishing, chaos]);

      // Settle: every client back and past the last message meant for it.
      const lastFor = (w: Watched) => {
        for (let i = sent.length - 1; i >= 0; i--) {
          const m = sent[i]!;
          if (m.kind === 'news' || (m.kind === 'direct' && m.to === w.user) || (m.kind === 'price' && m.to === w.symbol)) return m.n;
        }
        return 0;
      };
      await waitUntil(
        () => watched.every((w) => w.client.state === 'open' && w.log.includes(lastFor(w))),
        'every client to get its last message',
        recover ? 10_000 : 3000,
      ).catch((error) => {
        if (recover) throw error;
      });
      await sleep(300);

      const outcome: Outcome = {
        expected: 0,
        delivered: 0,
        duplicates: 0,
        outOfOrder: 0,
        silent: 0,
        covered: 0,
        recovered: 0,
        failed: 0,
        clientsWithSilentGaps: 0,
        silentGaps: [],
      };
      for (const w of watched) judge(w, sent, outcome, started);
      for (const node of [nodes.a, nodes.b]) nodeErrors.push(...(await node.call<string[]>('errors')));
      const brokerStats = publisher.stats().broker;
      return { outcome, sent: sent.length, nodeErrors, publisherErrors, brokerStats, dropped: proxies.a.dropped + proxies.b.dropped };
    } finally {
      for (const w of watched) await w.client.close();
      await publisher.close();
      await Promise.all([nodes.a.close(), nodes.b.close(), proxies.a.close(), proxies.b.close()]);
    }
  }

  it('with recovery: every message once and in order, or a recovered: false that covers the gap', { timeout: 75_000 }, async () => {
    const { outcome: o, sent, nodeErrors, publisherErrors, brokerStats, dropped } = await run(true);
    report(
      `chaos with recovery: ${sent} messages sent, ${o.expected} meant for the ${USERS * 2} clients, ${o.delivered} delivered once (${o.duplicates} duplicates, ${o.outOfOrder} out of order); ${dropped} connections dropped by the proxies; ${o.recovered} recoveries answered recovered, ${o.failed} failed, covering ${o.covered} messages; ${o.silent} silent gaps. Node errors: ${nodeErrors.length ? [...new Set(nodeErrors)].join(' | ') : 'none'}`,
    );
    expect(publisherErrors).toEqual([]);
    expect(brokerStats).toMatchObject({ unrecorded: 0, recordFailed: 0 });
    expect(o.silentGaps.slice(0, 30)).toEqual([]);
    expect(o.silent).toBe(0);
    expect(o.duplicates).toBe(0);
    expect(o.outOfOrder).toBe(0);
    // The disruptions happened: every client reconnected and resumed more than once.
    expect(o.recovered).toBeGreaterThan(USERS * 2 * 3);
    // Redis kept everything (no outage, limits far above what 2 s hold): a failure here would be a false alarm.
    expect(o.failed).toBe(0);
    expect(o.delivered).toBe(o.expected);
  });

  it('a Redis outage (stopped, started again empty): every gap is covered by a recovered: false', { timeout: 60_000 }, async () => {
    const { outcome: o, sent, nodeErrors, brokerStats } = await run(true, true);
    report(
      `chaos with a Redis outage: ${sent} messages sent, ${o.expected} meant for the ${USERS * 2} clients, ${o.delivered} delivered once (${o.duplicates} duplicates, ${o.outOfOrder} out of order); publisher: ${brokerStats.unrecorded} unrecorded, ${brokerStats.recordFailed} failed in flight, ${brokerStats.bufferDropped} dropped from the outage buffer; ${o.recovered} recoveries answered recovered, ${o.failed} failed, covering ${o.covered} messages; ${o.silent} silent gaps. Node errors: ${[...new Set(nodeErrors)].join(" | ") || "none"}`,
    );
    expect(o.silentGaps.slice(0, 30)).toEqual([]);
    expect(o.silent).toBe(0);
    expect(o.duplicates).toBe(0);
    expect(o.outOfOrder).toBe(0);
    expect(o.delivered + o.covered).toBe(o.expected);
    // Redis restarted empty: the nodes' subscribers missed what went with it, so every client resumed, and was told.
    expect(o.failed).toBeGreaterThan(0);
  });

  it('without recovery, the same run loses messages', { timeout: 75_000 }, async () => {
    const { outcome: o, sent } = await run(false);
    const lost = o.expected - o.delivered;
    report(
      `chaos without recovery: ${sent} messages sent, ${o.expected} meant for the clients, ${o.delivered} delivered, ${lost} lost (${((100 * lost) / o.expected).toFixed(2)}%), in ${o.clientsWithSilentGaps} of ${USERS * 2} clients, none reported`,
    );
    expect(lost).toBeGreaterThan(0);
    expect(o.silent).toBe(lost);
  });
});
