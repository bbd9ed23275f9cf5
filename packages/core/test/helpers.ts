import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Received, TestSocket } from '@wshub/test-support';
import { type HubOptions, WsHub, type WsHubSocket } from '../src/index.js';

export interface User {
  id: string;
  deviceFingerprint: string;
  role?: string;
  name?: string;
}

/** Demo auth used across tests: `?user=<id>&device=<fp>&role=<role>`; `user=bad` is refused. */
export function userFromRequest(req: IncomingMessage): User {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const id = url.searchParams.get('user');
  if (!id || id === 'bad') throw new Error(`secret reason for ${id}`);
  return {
    id,
    deviceFingerprint: url.searchParams.get('device') ?? 'device-1',
    role: url.searchParams.get('role') ?? 'user',
  };
}

export interface Fixture {
  hub: WsHub<User>;
  server: Server;
  url: string;
  clients: TestSocket[];
  connect(query?: string, options?: { protocols?: string[]; headers?: Record<string, string>; path?: string }): TestSocket;
  /** Connects and waits until the hub emitted 'ready' for this socket. */
  ready(query: string): Promise<TestSocket>;
  close(): Promise<void>;
}

/** A hub on 127.0.0.1:0 with a test client factory; `close()` tears everything down. */
export async function startHub(options: Partial<HubOptions<User, WsHubSocket<User>>> = {}): Promise<Fixture> {
  const hub = new WsHub<User>({ authenticate: userFromRequest, ...options });
  const server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end('not found');
  });
  hub.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const base = `ws://127.0.0.1:${port}`;
  const clients: TestSocket[] = [];
  const fixture: Fixture = {
    hub,
    server,
    url: `${base}${hub.path}`,
    clients,
    connect(query = '', opts = {}) {
      const client = new TestSocket(`${base}${opts.path ?? hub.path}${query ? `?${query}` : ''}`, {
        protocols: opts.protocols,
        headers: opts.headers,
      });
      clients.push(client);
      return client;
    },
    async ready(query) {
      const readyEvent = new Promise<void>((resolve) => {
        const onReady = ({ socket }: { socket: WsHubSocket<User> }) => {
          if (socket.roomId === new URLSearchParams(query).get('user')) {
            hub.off('ready', onReady);
            resolve();
          }
        };
        hub.on('ready', onReady);
      });
      const client = fixture.connect(query);
      await Promise.all([client.opened, readyEvent]);
      return client;
    },
    async close() {
      for (const c of clients) c.ws.terminate();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fixture;
}

// The shared real-socket test client of the wshub packages' tests.
export { type Received, TestSocket } from '@wshub/test-support';

/**
 * Proves a socket received nothing more: a round trip through the server
 * (an unknown-event frame answered by nothing, then a watch that is refused
 * or a known reply) would be app-specific, so tests use `hub.sendMessage` of a
 * marker and expect it to be the next message.
 */
export async function expectNextIs(client: TestSocket, event: string): Promise<Received> {
  const m = await client.next();
  if (m.event !== event) throw new Error(`expected "${event}" next, got ${JSON.stringify(m)}`);
  return m;
}

/** A round trip: after it, every frame `client` (of `user`) sent before has been handled. */
export async function flush(fx: Fixture, client: TestSocket, user: string): Promise<void> {
  const marker = `marker-${Math.random()}`;
  client.send({ event: marker });
  await waitFor(fx.hub, 'message', (m) => m.event === marker && m.socket.roomId === user);
}

export function waitFor<T>(hub: WsHub<User>, name: 'ready' | 'disconnected' | 'message' | 'connected' | 'error', predicate: (payload: any) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const handler = (payload: any) => {
      if (!predicate(payload)) return;
      hub.off(name, handler);
      resolve(payload);
    };
    hub.on(name, handler);
  });
}
