import { InMemoryBroker, InMemoryBus, LocalBroker } from '@wshub/core';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BROKER_METRICS, collectHubMetrics } from '../src/index.js';
import { connectReady, type Fixture, scrape, startHub, until } from './support.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

describe('collectHubMetrics(hub, { registry, prefix })', () => {
  it('registers every metric with help and a type, following Prometheus naming', async () => {
    f = await startHub();
    const registry = new Registry();
    collectHubMetrics(f.hub, { registry });
    const scraped = await scrape(registry);
    const { families } = scraped;
    expect([...families.keys()].sort()).toEqual(
      [
        'wshub_auth_duration_seconds',
        'wshub_auth_rejections_total',
        'wshub_auth_timeouts_total',
        'wshub_closing',
        'wshub_cluster_users',
        'wshub_delivery_duration_seconds',
        'wshub_dropped_deliveries_total',
        'wshub_errors_total',
        'wshub_messages_received_total',
        'wshub_messages_sent_total',
        'wshub_receipts_confirmed_total',
        'wshub_receipts_delivered_total',
        'wshub_receipts_ignored_total',
        'wshub_receipts_pending',
        'wshub_receipts_undelivered_total',
        'wshub_sent_bytes_total',
        'wshub_slow_consumers_total',
        'wshub_sockets',
        'wshub_sockets_pending_auth',
        'wshub_users',
        'wshub_watch_check_duration_seconds',
        'wshub_watch_refusals_total',
      ].sort(),
    );
    for (const family of families.values()) {
      expect(family.name).toMatch(NAME);
      expect(family.help.length).toBeGreaterThan(10);
      if (family.type === 'COUNTER') expect(family.name).toMatch(/_total$/);
      else expect(family.name).not.toMatch(/_total$/);
      if (family.type === 'HISTOGRAM') expect(family.name).toMatch(/_seconds$/);
    }
    // Histogram series exist from the start, at zero.
    expect(scraped.value('wshub_delivery_duration_seconds', { kind: 'push' })).toBe(0);
    expect(scraped.value('wshub_auth_duration_seconds', { outcome: 'timeout' })).toBe(0);
  });

  it('reports what the hub counts, and times auth, canWatch and delivery', async () => {
    f = await startHub({
      canWatch: ({ payload }) => {
        if (payload === 'boom') throw new Error('broken rule');
        return payload !== 'secret';
      },
    });
    f.hub.on('error', () => {});
    const registry = new Registry();
    collectHubMetrics(f.hub, { registry });
    const bob = await connectReady(f.url, 'user=bob&device=phone');
    const bobLaptop = await connectReady(f.url, 'user=bob&device=laptop');
    const alice = await connectReady(f.url, 'user=alice');
    await expect(connectReady(f.url, 'user=bad')).rejects.toThrow(/4403/);
    const answers: string[] = [];
    bob.on('message', (data) => answers.push(String(data)));
    for (const [id, payload] of [
      [1, '42'],
      [2, 'secret'],
      [3, 'boom'],
    ] as const) {
      bob.send(JSON.stringify({ event: 'watch', id, data: { event: 'order-status', payload } }));
    }
    await until('three watch answers', () => answers.length === 3);
    await f.hub.sendMessage('bob', 'order-status', { id: 42 }, '42');
    await f.hub.push('news', { text: 'hello' });
    await until('the deliveries', () => f!.hub.stats().messagesOut >= 1 + 3);

    const scraped = await scrape(registry);
    const stats = f.hub.stats();
    expect(scraped.value('wshub_sockets')).toBe(3);
    expect(scraped.value('wshub_sockets_pending_auth')).toBe(0);
    expect(scraped.value('wshub_users')).toBe(2);
    expect(scraped.value('wshub_cluster_users')).toBe(2);
    expect(scraped.value('wshub_closing')).toBe(0);
    expect(scraped.value('wshub_messages_received_total')).toBe(3);
    expect(scraped.value('wshub_messages_sent_total')).toBe(stats.messagesOut);
    expect(scraped.value('wshub_sent_bytes_total')).toBe(stats.bytesOut);
    expect(scraped.value('wshub_auth_rejections_total')).toBe(1);
    expect(scraped.value('wshub_watch_refusals_total')).toBe(2);
    expect(scraped.value('wshub_errors_total', { source: 'canWatch' })).toBe(1);
    expect(scraped.value('wshub_auth_duration_seconds', { outcome: 'accepted' })).toBe(3);
    expect(scraped.value('wshub_auth_duration_seconds', { outcome: 'refused' })).toBe(1);
    for (const outcome of ['allowed', 'forbidden', 'error']) {
      expect(scraped.value('wshub_watch_check_duration_seconds', { outcome })).toBe(1);
    }
    expect(scraped.value('wshub_delivery_duration_seconds', { kind: 'send' })).toBe(1);
    expect(scraped.value('wshub_delivery_duration_seconds', { kind: 'push' })).toBe(1);
    const send = scraped.histogram('wshub_delivery_duration_seconds', { kind: 'send' });
    expect(send.sum).toBeGreaterThan(0);
    expect(send.buckets.get(10)).toBe(1);
    expect(send.buckets.get(Number.POSITIVE_INFINITY)).toBe(1);
    for (const ws of [bob, bobLaptop, alice]) ws.terminate();
  });

  it('uses the prefix, and the remover takes every metric off and stops observing', async () => {
    f = await startHub();
    const registry = new Registry();
    const remove = collectHubMetrics(f.hub, { registry, prefix: 'chat_', clusterUsers: false });
    const scraped = await scrape(registry);
    const { families } = scraped;
    expect([...families.keys()].every((name) => name.startsWith('chat_'))).toBe(true);
    expect(families.has('chat_cluster_users')).toBe(false);
    remove();
    remove();
    expect(await registry.metrics()).toBe('\n');
    expect(() => collectHubMetrics(f!.hub, { registry, prefix: 'bad prefix' })).toThrow(/"prefix" must match/);
  });

  it('a second registration of the same names throws and leaves the first in place', async () => {
    f = await startHub();
    const registry = new Registry();
    collectHubMetrics(f.hub, { registry });
    const before = await registry.metrics();
    expect(() => collectHubMetrics(f!.hub, { registry })).toThrow(/already been registered/);
    expect(await registry.metrics()).toBe(before);
  });

  it('uses prom-client’s global registry when none is given', async () => {
    f = await startHub();
    const { register } = await import('prom-client');
    const remove = collectHubMetrics(f.hub);
    try {
      expect(await register.getSingleMetricAsString('wshub_sockets')).toContain('wshub_sockets 0');
    } finally {
      remove();
    }
  });

  it('refuses what is not a hub', () => {
    expect(() => collectHubMetrics(null as never)).toThrow(TypeError);
  });
});

describe('broker metrics', () => {
  it('a single node (LocalBroker) exposes none', async () => {
    f = await startHub({ broker: new LocalBroker() });
    const registry = new Registry();
    collectHubMetrics(f.hub, { registry });
    expect([...(await scrape(registry)).families.keys()].filter((n) => n.includes('broker'))).toEqual([]);
  });

  it('a cluster broker’s counters follow the envelopes', async () => {
    const bus = new InMemoryBus();
    f = await startHub({ broker: new InMemoryBroker(bus) });
    const other = await startHub({ broker: new InMemoryBroker(bus) });
    try {
      const registry = new Registry();
      collectHubMetrics(f.hub, { registry });
      const bob = await connectReady(f.url, 'user=bob');
      const got = new Promise((resolve) => bob.once('message', resolve));
      await other.hub.sendMessage('bob', 'hello', 1);
      await got;
      const scraped = await scrape(registry);
    const { families } = scraped;
      expect(scraped.value('wshub_broker_received_total')).toBe(1);
      expect(scraped.value('wshub_broker_malformed_total')).toBe(0);
      expect(families.has('wshub_broker_up')).toBe(false);
      bob.terminate();
    } finally {
      await other.close();
    }
  });

  it('RedisBroker’s stats become gauges and counters, each under its own name', async () => {
    // The keys of RedisBrokerStats (packages/redis), during an outage.
    const redisStats: Record<string, number> = {
      published: 10,
      received: 7,
      ignored: 1,
      held: 3,
      heldBytes: 600,
      flushed: 2,
      bufferDropped: 4,
      bufferExpired: 5,
      publishFailed: 6,
      publishPendingBytes: 2048,
      publishWaits: 8,
      publishRefused: 9,
      subscriberRestarts: 1,
      reconnects: 2,
      connected: 0,
      subscribed: 12,
    };
    class OutageBroker extends LocalBroker {
      override stats(): Record<string, number> {
        return redisStats;
      }
    }
    f = await startHub({ broker: new OutageBroker() });
    const registry = new Registry();
    collectHubMetrics(f.hub, { registry });
    const scraped = await scrape(registry);
    const { families } = scraped;
    for (const metric of BROKER_METRICS) {
      const family = families.get(`wshub_${metric.name}`);
      expect(family?.type, metric.name).toBe(metric.type.toUpperCase());
      expect(scraped.value(`wshub_${metric.name}`), metric.name).toBe(redisStats[metric.key]);
    }
  });
});

describe('histograms', () => {
  it('count each observation in the first bucket it fits (le: less or equal), cumulatively, with sum and count', async () => {
    f = await startHub();
    const registry = new Registry();
    collectHubMetrics(f.hub, { registry, buckets: { auth: [0.01, 0.1, 1] } });
    const seen: number[] = [];
    f.hub.observe({ authSettled: (s) => seen.push(s) });
    const bob = await connectReady(f.url, 'user=bob');
    bob.terminate();
    const scraped = await scrape(registry);
    const accepted = scraped.histogram('wshub_auth_duration_seconds', { outcome: 'accepted' });
    expect(accepted.count).toBe(1);
    expect(accepted.sum).toBeCloseTo(seen[0]!, 9);
    expect([...accepted.buckets.keys()]).toEqual([0.01, 0.1, 1, Number.POSITIVE_INFINITY]);
    expect(accepted.buckets.get(Number.POSITIVE_INFINITY)).toBe(1);
    registry.resetMetrics();
    expect((await scrape(registry)).value('wshub_auth_duration_seconds', { outcome: 'accepted' })).toBe(0);
  });

  it.each([[[]], [[1, 0.5]], [[0.1, 0.1]]])('refuse buckets %j', async (buckets) => {
    f = await startHub();
    const registry = new Registry();
    expect(() => collectHubMetrics(f!.hub, { registry, buckets: { delivery: buckets } })).toThrow(/must be increasing numbers/);
    expect(await registry.metrics()).toBe('\n'); // nothing half-registered
  });
});

describe('receipts metrics', () => {
  it('count what receipts do: pending, then undelivered', async () => {
    f = await startHub({ receipts: { undeliveredAfterMs: 100 } });
    const registry = new Registry();
    collectHubMetrics(f.hub, { registry });
    await f.hub.sendMessage('away', 'note', 1);
    expect((await scrape(registry)).value('wshub_receipts_pending')).toBe(1);
    await until('undelivered', () => f!.hub.stats().receiptsUndelivered === 1);
    const scraped = await scrape(registry);
    expect(scraped.value('wshub_receipts_pending')).toBe(0);
    expect(scraped.value('wshub_receipts_undelivered_total')).toBe(1);
    expect(scraped.value('wshub_receipts_delivered_total')).toBe(0);
  });
});
