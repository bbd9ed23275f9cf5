/**
 * Prometheus' own linter on what this package registers: `promtool check
 * metrics` exits 0 with nothing to say on a scrape with every metric and
 * label (every broker metric too), after real traffic. promtool is Debian's
 * `prometheus` package; without it the suite skips, saying so, except under
 * CI, where it must run.
 */
import { spawnSync } from 'node:child_process';
import { LocalBroker } from '@wshub/core';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BROKER_METRICS, collectHubMetrics } from '../src/index.js';
import { connectReady, type Fixture, startHub, until } from './support.js';

const promtoolMissing = (() => {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return probe.error || probe.status !== 0 ? 'promtool not found on PATH' : undefined;
})();
if (promtoolMissing && process.env.CI) throw new Error(`${promtoolMissing}: the promtool check must run under CI (install Debian's prometheus)`);
if (promtoolMissing) process.stderr.write(`@wshub/prometheus: ${promtoolMissing}; the promtool check is skipped (install Debian's prometheus to run it)\n`);

/** What `promtool check metrics` says of a scrape: its exit code and every line it printed. */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/** prom-client's default metrics that are gauges named `*_total`, which promtool rejects. */
const DEFAULT_GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe.skipIf(promtoolMissing !== undefined)('promtool check metrics', () => {
  it("passes wshub's metrics, every label and broker metric included, after traffic", async () => {
    // Every broker metric a broker may report (a RedisBroker reports them all), so each name is checked.
    const everyKey = Object.fromEntries(BROKER_METRICS.map((metric) => [metric.key, 1]));
    class EveryStatBroker extends LocalBroker {
      override stats(): Record<string, number> {
        return everyKey;
      }
    }
    f = await startHub({
      broker: new EveryStatBroker(),
      canWatch: ({ payload }) => {
        if (payload === 'boom') throw new Error('broken rule');
        return payload !== 'secret';
      },
    });
    f.hub.on('error', () => {});
    const registry = new Registry();
    collectHubMetrics(f.hub, { registry });
    const bob = await connectReady(f.url, 'user=bob&device=phone');
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

    const text = await registry.metrics();
    for (const metric of BROKER_METRICS) expect(text).toContain(`# TYPE wshub_${metric.name} ${metric.type}`);
    expect(text).toContain('wshub_errors_total{source="canWatch"} 1');
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    bob.terminate();
  });

  it("fails prom-client's default metrics on three gauges named *_total, and passes them without those", async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const before = promtoolCheck(await registry.metrics());
    expect(before.status).toBe(3);
    expect(before.output.split('\n').map((line) => line.split(' ')[0]).sort()).toEqual(DEFAULT_GAUGES_NAMED_TOTAL);
    // The README's way to a clean /metrics beside them.
    for (const name of DEFAULT_GAUGES_NAMED_TOTAL) registry.removeSingleMetric(name);
    expect(promtoolCheck(await registry.metrics())).toEqual({ status: 0, output: '' });
  });
});
