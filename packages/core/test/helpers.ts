import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
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
      const client = new TestSocket(`${base}${opts.path ?? hub.path}${query ? `?${query}` : ''}`, opts.protocols, {
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

export interface Received {
  event: string;
  data: unknown;
}

/** A queue-based client: `next()` takes messages in order, `waitForClose()` resolves with the close. */
export class TestSocket {
  readonly ws: WebSocket;
  readonly messages: Received[] = [];
  private readonly waiting: Array<(m: Received) => void> = [];
  private cursor = 0;
  readonly opened: Promise<void>;
  readonly closedPromise: Promise<{ code: number; reason: string }>;
  closed: { code: number; reason: string } | undefined;
  unexpectedResponse: number | undefined;

  constructor(url: string, protocols?: string[], options: { headers?: Record<string, string> } = {}) {
    this.ws = new WebSocket(url, protocols, { headers: options.headers });
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => {
        this.unexpectedResponse = res.statusCode;
        reject(new Error(`unexpected response ${res.statusCode}`));
      });
      this.ws.once('close', () => reject(new Error('closed before open')));
    });
    this.opened.catch(() => {});
    this.closedPromise = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        resolve(this.closed);
      });
    });
    this.ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Received;
      this.messages.push(message);
      const w = this.waiting.shift();
      if (w) {
        this.cursor++;
        w(message);
      }
    });
  }

  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  watch(event: string, payload?: string | number | null): void {
    this.send({ event: 'watch', data: payload === undefined ? { event } : { event, payload } });
  }

  unwatch(event: string, payload?: string | number | null): void {
    this.send({ event: 'unwatch', data: payload === undefined ? { event } : { event, payload } });
  }

  /** The next message not yet taken, waiting up to `timeout` ms. */
  next(timeout = 2000): Promise<Received> {
    if (this.cursor < this.messages.length) return Promise.resolve(this.messages[this.cursor++]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(done);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error(`no message within ${timeout} ms (received so far: ${JSON.stringify(this.messages)})`));
      }, timeout);
      const done = (m: Received) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiting.push(done);
    });
  }

  waitForClose(): Promise<{ code: number; reason: string }> {
    return this.closedPromise;
  }

  /** Messages not yet taken by `next()`. */
  get unread(): Received[] {
    return this.messages.slice(this.cursor);
  }
}

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
