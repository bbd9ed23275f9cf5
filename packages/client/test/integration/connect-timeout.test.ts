/**
 * A server that takes the TCP connection and never answers the WebSocket
 * upgrade (a node:cluster primary that handed the connection to a worker
 * that was just killed holds it that way, unread, for good): the attempt
 * must end after `connectTimeoutMs` and be retried.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloseInfo } from '../../src/index.js';
import { Clients } from '../support/clients.js';
import { TestHub } from '../support/hub.js';
import { inState, nextEvent } from '../support/wait.js';

const clients = new Clients();
const servers: Server[] = [];
const hubs: TestHub[] = [];

afterEach(async () => {
  await clients.closeAll();
  for (const server of servers.splice(0)) {
    server.close();
    // closeAllConnections is only on http servers: end the held sockets by hand.
    for (const socket of (server as Server & { held: Socket[] }).held) socket.destroy();
  }
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

/**
 * Accepts every TCP connection; the first `silent` ones are held and never
 * answered, the later ones are piped to `upstream` (a real hub's port), if
 * given. `accepted` resolves with the nth accepted socket.
 */
async function silentServer(silent: number, upstream?: number) {
  const held: Socket[] = [];
  const closed: boolean[] = [];
  const server = Object.assign(
    createServer((socket) => {
      const i = held.length;
      held.push(socket);
      closed.push(false);
      socket.on('error', () => {});
      socket.on('close', () => {
        closed[i] = true;
      });
      if (i >= silent && upstream !== undefined) {
        const up = tcpConnect(upstream, '127.0.0.1');
        up.on('error', () => socket.destroy());
        socket.pipe(up).pipe(socket);
      } else {
        // Reads (and drops) the upgrade request, so the client's close is seen; answers nothing.
        socket.resume();
      }
    }),
    { held },
  );
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/api/v1/ws`, held, closed };
}

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('connectTimeoutMs', () => {
  it('closes an attempt the server never answers and tries again, with a close event (1006) that says why', async () => {
    const server = await silentServer(Number.POSITIVE_INFINITY);
    const client = clients.create(server.url, { connectTimeoutMs: 200 });
    const closed = nextEvent(client, 'close');
    await until(() => server.held.length === 1, 'the first connection');
    const info: CloseInfo = await closed;
    expect(info.code).toBe(1006);
    expect(info.reason).toBe('the connection did not open within 200 ms (connectTimeoutMs)');
    expect(info.retryInMs).toBeTypeOf('number');
    expect(client.state).toBe('reconnecting');
    // The client closed the attempt it gave up on, and made a new one.
    await until(() => server.closed[0] === true, 'the client to close the first connection');
    await until(() => server.held.length >= 2, 'a second connection');
  });

  it('opens once the server answers: silent first, then a real hub', async () => {
    const hub = await TestHub.start();
    hubs.push(hub);
    const server = await silentServer(2, hub.port);
    const closes: CloseInfo[] = [];
    const client = clients.create(server.url, { connectTimeoutMs: 200 });
    client.on('close', (info) => closes.push(info));
    await inState(client, 'open');
    expect(server.held.length).toBe(3);
    expect(closes.map((c) => c.code)).toEqual([1006, 1006]);
  });

  it('does not close a connection that opened in time', async () => {
    const hub = await TestHub.start();
    hubs.push(hub);
    const closes: CloseInfo[] = [];
    const client = clients.create(hub.url, { connectTimeoutMs: 200 });
    client.on('close', (info) => closes.push(info));
    await inState(client, 'open');
    await new Promise((r) => setTimeout(r, 400));
    expect(client.state).toBe('open');
    expect(closes).toEqual([]);
  });

  it('a token function that never settles fails the attempt after connectTimeoutMs, and the next attempt asks again', async () => {
    const hub = await TestHub.start();
    hubs.push(hub);
    let calls = 0;
    const errors: string[] = [];
    // The first call hangs for good (a refresh endpoint that never answers); the second answers.
    const token = () => (++calls === 1 ? new Promise<string>(() => {}) : Promise.resolve('ann-token'));
    const client = clients.create(hub.url, { token, connectTimeoutMs: 200, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    client.on('error', (error) => errors.push(error.message));
    await inState(client, 'open');
    expect(calls).toBe(2);
    expect(errors).toEqual(['wshub client: the "token" function failed: it did not settle within 200 ms (connectTimeoutMs)']);
  });

  it('with 0, waits for the upgrade as long as the WebSocket does', async () => {
    const server = await silentServer(Number.POSITIVE_INFINITY);
    clients.create(server.url, { connectTimeoutMs: 0 });
    await until(() => server.held.length === 1, 'the first connection');
    await new Promise((r) => setTimeout(r, 400));
    expect(server.held.length).toBe(1);
    expect(server.closed[0]).toBe(false);
  });
});
