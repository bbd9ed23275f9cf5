import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HubOptions, WsHub, type WsHubSocket } from '@wshub/core';

export interface TestUser {
  id: string;
  deviceFingerprint: string;
}

/** Demo credentials: `<user>-token`. Anything else is refused with 4403. */
export function userFromToken(token: string | undefined, device: string): TestUser {
  const match = token?.match(/^(\w+)-token$/);
  if (!match?.[1]) throw new Error('unknown token');
  return { id: match[1], deviceFingerprint: device };
}

/** The token from `?token=`, or the entry after `wshub` in `Sec-WebSocket-Protocol`. */
export function tokenOf(request: IncomingMessage): string | undefined {
  const fromQuery = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token');
  if (fromQuery) return fromQuery;
  const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  return offered[0] === 'wshub' ? offered[1] : undefined;
}

type Options = Partial<HubOptions<TestUser, WsHubSocket<TestUser>>>;

/** A real `WsHub` on a real HTTP server on 127.0.0.1; `restart()` brings up a new one on the same port. */
export class TestHub {
  hub!: WsHub<TestUser>;
  port = 0;
  #server!: Server;
  #devices = 0;
  readonly #options: Options;

  private constructor(options: Options) {
    this.#options = options;
  }

  static async start(options: Options = {}): Promise<TestHub> {
    const test = new TestHub(options);
    await test.#listen();
    return test;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}${this.hub.path}`;
  }

  /** Closes the hub (every client gets 1001) and the server. */
  async stop(): Promise<void> {
    await this.hub.close();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }

  /** Stops, then serves the same port with a new hub, as a redeploy would. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#listen();
  }

  async #listen(): Promise<void> {
    this.hub = new WsHub<TestUser>({
      authenticate: (request) => userFromToken(tokenOf(request), `device-${++this.#devices}`),
      heartbeatMs: 0,
      ...this.#options,
    });
    this.#server = createServer();
    this.hub.attach(this.#server);
    this.#server.listen(this.port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.port = (this.#server.address() as AddressInfo).port;
  }
}
