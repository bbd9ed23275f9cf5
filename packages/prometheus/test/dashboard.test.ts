/** docs/grafana-dashboard.json queries only metrics this package registers. */
import { readFileSync } from 'node:fs';
import { LocalBroker } from '@wshub/core';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BROKER_METRICS, collectHubMetrics } from '../src/index.js';
import { type Fixture, scrape, startHub } from './support.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
}

const dashboard = JSON.parse(readFileSync(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
  panels: Panel[];
  templating: { list: Array<{ definition?: string }> };
};

describe('the Grafana dashboard', () => {
  it('queries only metric names the package registers (with RedisBroker’s counters)', async () => {
    class RedisLikeBroker extends LocalBroker {
      override stats(): Record<string, number> {
        return Object.fromEntries(BROKER_METRICS.map((m) => [m.key, 0]));
      }
    }
    f = await startHub({ broker: new RedisLikeBroker() });
    const registry = new Registry();
    collectHubMetrics(f.hub, { registry });
    const { families } = await scrape(registry);
    const exprs = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => v.definition ?? ''),
    ];
    const used = new Set(exprs.flatMap((e) => e.match(/\bwshub_\w+/g) ?? []));
    expect(used.size).toBeGreaterThan(20);
    for (const name of used) {
      const family = name.replace(/_(bucket|count|sum)$/, '');
      expect(families.has(name) || families.get(family)?.type === 'HISTOGRAM', name).toBe(true);
    }
    // Every metric of the package is on the dashboard, histograms through their buckets.
    for (const name of families.keys()) {
      expect([...used].some((u) => u === name || u.startsWith(`${name}_`)), name).toBe(true);
    }
  });

  it('every panel but the rows has a query', () => {
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });
});
