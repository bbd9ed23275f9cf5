import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HubOptions, WsHub } from '@wshub/core';
import parsePrometheusTextFormat, { type Family } from 'parse-prometheus-text-format';
import type { Registry } from 'prom-client';
import { WebSocket } from 'ws';

export interface User {
  id: string;
  deviceFingerprint: string;
}

/** `?user=<id>&device=<fp>`; `user=bad` is refused. */
export function userFromRequest(req: IncomingMessage): User {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const id = url.searchParams.get('user');
  if (!id || id === 'bad') throw new Error('refused');
  return { id, deviceFingerprint: url.searchParams.get('device') ?? 'd1' };
}

export interface Fixture {
  hub: WsHub<User>;
  url: string;
  close(): Promise<void>;
}

/** A hub on 127.0.0.1:0; `close()` closes it and its server. */
export async function startHub(options: Partial<HubOptions<User>> = {}): Promise<Fixture> {
  const hub = new WsHub<User>({ authenticate: userFromRequest, ...options });
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  hub.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    hub,
    url: `ws://127.0.0.1:${port}${hub.path}`,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Opens a socket speaking protocol v2 and resolves once the hub's welcome arrived (it is registered). */
export async function connectReady(url: string, query: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url}?${query}`, ['wshub']);
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve());
    ws.once('close', (code) => reject(new Error(`closed with ${code} before the welcome`)));
  });
  return ws;
}

/** A scrape of `registry`: its text checked by a Prometheus text-format parser, and its values. */
export interface Scrape {
  /** Families by name, as the parser read them. */
  families: Map<string, Family>;
  /** The value of the sample whose labels include `labels` (a histogram's count). */
  value(name: string, labels?: Record<string, string>): number;
  /** A histogram's sum and buckets for one set of labels. */
  histogram(name: string, labels: Record<string, string>): { count: number; sum: number; buckets: Map<number, number> };
}

export async function scrape(registry: Registry): Promise<Scrape> {
  const text = await registry.metrics();
  // Throws on any line that is not valid text format.
  const families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  checkFamilies(text, families);
  const samples = (await registry.getMetricsAsJSON()).flatMap((metric) =>
    metric.values.map((v: { metricName?: string; labels: object; value: number }) => ({ name: v.metricName ?? metric.name, labels: v.labels as Record<string, string>, value: v.value })),
  );
  const find = (name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v));
  return {
    families,
    value(name, labels = {}) {
      if (!families.has(name)) throw new Error(`no metric ${name} in the scrape`);
      const family = families.get(name)!;
      const [sample] = find(family.type === 'HISTOGRAM' ? `${name}_count` : name, labels);
      if (!sample) throw new Error(`no sample of ${name} with ${JSON.stringify(labels)}`);
      return sample.value;
    },
    histogram(name, labels) {
      const buckets = new Map(find(`${name}_bucket`, labels).map((s) => [s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le), s.value]));
      return { count: find(`${name}_count`, labels)[0]!.value, sum: find(`${name}_sum`, labels)[0]!.value, buckets };
    },
  };
}

/**
 * What `promtool check metrics` would object to, beyond syntax: each family
 * announced by HELP and TYPE before its samples, counters named `_total`,
 * each series once, histogram buckets cumulative up to `+Inf` = `_count`.
 */
function checkFamilies(text: string, families: Map<string, Family>): void {
  const seen = new Set<string>();
  let current = '';
  const cumulative = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) /.exec(line);
    if (meta) {
      current = meta[2]!;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const [, name, labels = '', value] = sample;
    if (!name!.startsWith(current)) throw new Error(`${name} appears outside its family (${current})`);
    if (seen.has(name! + labels)) throw new Error(`series ${name}${labels} appears twice`);
    seen.add(name! + labels);
    if (name!.endsWith('_bucket')) {
      const series = name + labels.replace(/,?le="[^"]*"/, '');
      const previous = cumulative.get(series) ?? 0;
      if (Number(value) < previous) throw new Error(`buckets of ${series} are not cumulative`);
      cumulative.set(series, Number(value));
    }
  }
  for (const family of families.values()) {
    if (!family.help) throw new Error(`${family.name} has no HELP`);
    if (family.type === 'UNTYPED') throw new Error(`${family.name} has no TYPE`);
    if ((family.type === 'COUNTER') !== family.name.endsWith('_total')) {
      throw new Error(`${family.name}: counters, and only counters, end in _total`);
    }
  }
}

/** Resolves once `check()` is true; fails with `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
