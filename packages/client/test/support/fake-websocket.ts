import type { WebSocketConstructor, WebSocketLike } from '../../src/websocket.js';

/**
 * A scripted stand-in for the transport (not for the client under test), for
 * unit tests that need exact control of when sockets open and drop, under
 * fake timers. Behaviour over real sockets is in test/integration.
 */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  /** Frames sent, parsed, without their request `id` (see {@link ids}). */
  readonly sent: unknown[] = [];
  /** The request `id` of each frame in {@link sent} (`undefined` for frames without one). */
  readonly ids: unknown[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  onopen: ((event: any) => void) | null = null;
  onmessage: ((event: any) => void) | null = null;
  onclose: ((event: any) => void) | null = null;
  onerror: ((event: any) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error(`send() on a socket in readyState ${this.readyState}`);
    const { id, ...frame } = JSON.parse(data) as { id?: unknown };
    this.sent.push(frame);
    this.ids.push(id);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 2;
    queueMicrotask(() => this.serverClose(1000, reason ?? ''));
  }

  // Test controls: what the network or the server does.
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(frame: unknown): void {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }

  serverClose(code: number, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** A connection that fails or drops without a close frame. */
  drop(): void {
    if (this.readyState === 3) return;
    this.onerror?.({});
    this.serverClose(1006);
  }
}

export interface FakeTransport {
  WebSocket: WebSocketConstructor;
  sockets: FakeSocket[];
  /** The most recent socket; fails the test if none was created. */
  last(): FakeSocket;
  /** Each call resolves with the next socket the client creates, in order (the first call: the first socket). */
  next(): Promise<FakeSocket>;
}

export function fakeTransport(): FakeTransport {
  const sockets: FakeSocket[] = [];
  const waiting: ((socket: FakeSocket) => void)[] = [];
  let claimed = 0;
  const WebSocket = class extends FakeSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols]);
      sockets.push(this);
      waiting.shift()?.(this);
    }
  };
  return {
    WebSocket,
    sockets,
    last() {
      const socket = sockets.at(-1);
      if (!socket) throw new Error('no socket was created');
      return socket;
    },
    next() {
      const index = claimed++;
      const socket = sockets[index];
      if (socket) return Promise.resolve(socket);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}
