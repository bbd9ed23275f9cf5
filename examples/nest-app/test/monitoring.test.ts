/**
 * The demo's monitoring, as `npm start` runs it: `GET /metrics` in the
 * Prometheus text format (read by a text-format parser, checked for what
 * `promtool check metrics` objects to), the readiness probe, which fails
 * while SIGTERM drains the hub, and the activity the live panel draws.
 */
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectTestClient, type TestClient } from '@wshub/testing';
import parsePrometheusTextFormat, { type Family } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoProcess } from './demo-process.js';

const promtoolMissing = (() => {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return probe.error || probe.status !== 0 ? 'promtool not found on PATH' : undefined;
})();
if (promtoolMissing && process.env.CI) throw new Error(`${promtoolMissing}: the promtool check must run under CI (install Debian's prometheus)`);
if (promtoolMissing) process.stderr.write(`demo: ${promtoolMissing}; the promtool check of /metrics is skipped (install Debian's prometheus to run it)\n`);

let demo: DemoProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  demo = await DemoProcess.start();
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await demo?.stop();
});

async function scrape(): Promise<{ text: string; families: Map<string, Family> }> {
  const response = await fetch(`${demo.base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
  const text = await response.text();
  // The parser throws on a line that is not valid text format.
  return { text, families: new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f])) };
}

/** A sample's value read off the text: `name{labels} value`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  it('is valid text format, with the hub’s metrics beside Node’s own on one registry', async () => {
    const { text, families } = await scrape();
    const hub = [...families.values()].filter((f) => f.name.startsWith('wshub_'));
    expect(hub.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'wshub_sockets',
        'wshub_sockets_pending_auth',
        'wshub_users',
        'wshub_cluster_users',
        'wshub_messages_sent_total',
        'wshub_dropped_deliveries_total',
        'wshub_slow_consumers_total',
        'wshub_auth_rejections_total',
        'wshub_auth_timeouts_total',
        'wshub_errors_total',
        'wshub_auth_duration_seconds',
        'wshub_watch_check_duration_seconds',
        'wshub_delivery_duration_seconds',
      ]),
    );
    // What promtool's lint wants: help and type on every family, counters (and only they) named _total.
    for (const family of families.values()) {
      expect(family.help, family.name).not.toBe('');
      expect(family.type, family.name).not.toBe('UNTYPED');
      if (family.name.startsWith('wshub_')) expect(family.type === 'COUNTER', family.name).toBe(family.name.endsWith('_total'));
    }
    expect(families.has('process_cpu_user_seconds_total')).toBe(true); // PrometheusModule's default metrics
    const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(new Set(lines.map((l) => l.slice(0, l.lastIndexOf(' ')))).size).toBe(lines.length); // no series twice
  });

  it.skipIf(promtoolMissing !== undefined)('passes `promtool check metrics` as it is served', async () => {
    const { text } = await scrape();
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({ status: 0, output: '' });
  });

  it('counts sockets, users and deliveries, and times them', async () => {
    const bob = await connectTestClient(`${demo.base.replace('http', 'ws')}/api/v1/ws`, {
      query: { token: 'bob-token', device: 'metrics' },
    });
    clients.push(bob);
    expect(await bob.watch('order-status', '43')).toBe('allowed');
    const before = sample((await scrape()).text, 'wshub_messages_sent_total');
    const response = await fetch(`${demo.base}/orders/43/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'packed' }),
    });
    expect(response.status).toBe(202);
    await bob.next();
    const { text } = await scrape();
    expect(sample(text, 'wshub_sockets')).toBe(1);
    expect(sample(text, 'wshub_users')).toBe(1);
    expect(sample(text, 'wshub_messages_sent_total')).toBeGreaterThan(before);
    expect(sample(text, 'wshub_watch_check_duration_seconds_count{outcome="allowed"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'wshub_delivery_duration_seconds_count{kind="send"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'wshub_auth_duration_seconds_count{outcome="accepted"}')).toBeGreaterThanOrEqual(1);
    await bob.close();
    clients.splice(clients.indexOf(bob), 1);
  });
});

describe('GET /demo/activity', () => {
  it('holds a sample a second: connections, users and deliveries in that second', async () => {
    const alice = await connectTestClient(`${demo.base.replace('http', 'ws')}/api/v1/ws`, {
      query: { token: 'alice-token', device: 'activity' },
    });
    clients.push(alice);
    const announce = () =>
      fetch(`${demo.base}/announcements`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'tick' }),
      });
    const deadline = Date.now() + 10_000;
    let samples: Array<{ at: number; connections: number; users: number; deliveries: number }> = [];
    while (Date.now() < deadline) {
      await announce();
      await sleep(200);
      ({ samples } = (await (await fetch(`${demo.base}/demo/activity`)).json()) as { samples: typeof samples });
      if (samples.some((s) => s.deliveries > 0 && s.connections >= 1 && s.users >= 1)) break;
    }
    expect(samples.some((s) => s.deliveries > 0 && s.connections >= 1 && s.users >= 1)).toBe(true);
    expect(samples.length).toBeLessThanOrEqual(60);
    for (let i = 1; i < samples.length; i++) expect(samples[i]!.at).toBeGreaterThan(samples[i - 1]!.at);
  });
});

describe('health probes', () => {
  it('live and ready answer 200 while the demo serves', async () => {
    expect((await fetch(`${demo.base}/health/live`)).status).toBe(200);
    const ready = await fetch(`${demo.base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', info: { wshub: { status: 'up', accepting: true } } });
  });

  it('ready answers 503 once SIGTERM starts draining the hub, until the process ends', async () => {
    // A socket that never answers the close frame keeps the hub draining for closeTimeoutMs (2 s).
    const mute: Socket = connect(demo.port, '127.0.0.1');
    mute.on('error', () => {});
    mute.write(
      'GET /api/v1/ws?token=carol-token HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((resolve) => mute.once('data', resolve));
    try {
      demo.child.kill('SIGTERM');
      await sleep(150);
      const ready = await fetch(`${demo.base}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'error', error: { wshub: { status: 'down', closing: true } } });
      expect(await demo.exited).toBe(0);
    } finally {
      mute.destroy();
    }
  });
});
