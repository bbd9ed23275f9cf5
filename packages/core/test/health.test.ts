import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBroker } from '../src/index.js';
import { hubHealth } from '../src/util/health.js';
import { type Fixture, startHub } from './helpers.js';

let f: Fixture | undefined;
const raw: Socket[] = [];
afterEach(async () => {
  for (const socket of raw.splice(0)) socket.destroy();
  await f?.close();
  f = undefined;
});

/** A broker that reports its connection as RedisBroker does (`stats().connected`). */
class ReportingBroker extends LocalBroker {
  connected = 1;
  override stats(): Record<string, number> {
    return { connected: this.connected };
  }
}

/** A WebSocket upgrade over a bare TCP socket that never answers a close frame: the hub must wait for it. */
async function silentClient(port: number, path: string): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  raw.push(socket);
  socket.write(
    `GET ${path}?user=mute HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
}

describe('hubHealth(hub): accepting, broker, event loop', () => {
  it('a running hub on a single node is ready', async () => {
    f = await startHub();
    expect(hubHealth(f.hub)).toEqual({
      ready: true,
      accepting: true,
      closing: false,
      broker: 'local',
      eventLoopDelayMs: expect.any(Number),
      problems: [],
    });
  });

  it('is not ready from the moment close() is called, while the hub drains', async () => {
    f = await startHub({ closeTimeoutMs: 600 });
    const { port } = f.server.address() as { port: number };
    await silentClient(port, f.hub.path);
    await sleep(50);
    expect(f.hub.stats().connections).toBe(1);
    const closed = f.hub.close();
    let drained = false;
    void closed.then(() => {
      drained = true;
    });
    await sleep(100);
    expect(drained).toBe(false); // the silent socket holds the drain open
    const health = hubHealth(f.hub);
    expect(health).toMatchObject({ ready: false, accepting: false, closing: true });
    expect(health.problems).toEqual(['the hub is closing: it drains its sockets and accepts no connection']);
    await closed;
    expect(hubHealth(f.hub).ready).toBe(false);
  });

  it('is not ready while a broker that reports its connection is down', async () => {
    const broker = new ReportingBroker();
    f = await startHub({ broker });
    expect(hubHealth(f.hub)).toMatchObject({ ready: true, broker: 'up' });
    broker.connected = 0;
    const health = hubHealth(f.hub);
    expect(health).toMatchObject({ ready: false, accepting: true, broker: 'down' });
    expect(health.problems).toEqual(['the broker is unreachable: messages to other nodes are held until it is back']);
  });

  it('options.checks: their problems make the hub not ready; a check that throws is a problem; a bad option is a TypeError', async () => {
    f = await startHub();
    let problems: string[] = [];
    const part = { healthProblems: () => problems };
    expect(hubHealth(f.hub, { checks: [part] })).toMatchObject({ ready: true, problems: [] });
    problems = ['the part is away'];
    expect(hubHealth(f.hub, { checks: [part] })).toMatchObject({ ready: false, accepting: true, problems: ['the part is away'] });
    const broken = {
      healthProblems: (): string[] => {
        throw new Error('boom');
      },
    };
    expect(hubHealth(f.hub, { checks: [broken] }).problems).toEqual(['a health check threw: boom']);
    expect(() => hubHealth(f!.hub, { checks: [{}] as never })).toThrow(/"checks" must be an array of objects with a healthProblems\(\) method/);
  });

  it('is not ready while the event loop runs late', async () => {
    f = await startHub();
    hubHealth(f.hub); // starts the monitor
    await sleep(50);
    for (let i = 0; i < 4; i++) {
      const until = performance.now() + 200;
      while (performance.now() < until) {
        // Blocks the event loop, as a synchronous hot spot in an app would.
      }
      await sleep(15);
    }
    const health = hubHealth(f.hub, { maxEventLoopDelayMs: 100 });
    expect(health.eventLoopDelayMs).toBeGreaterThan(100);
    expect(health.ready).toBe(false);
    expect(health.problems[0]).toMatch(/^the event loop runs \d+ ms late \(p99\), more than maxEventLoopDelayMs 100$/);
    expect(hubHealth(f.hub, { maxEventLoopDelayMs: 60_000 }).ready).toBe(true);
  });

  it.each([0, -1, Number.NaN, '100'])('refuses maxEventLoopDelayMs %j', async (value) => {
    f = await startHub();
    expect(() => hubHealth(f!.hub, { maxEventLoopDelayMs: value as number })).toThrow(/"maxEventLoopDelayMs" must be a positive number/);
  });
});
