import { WebSocket } from 'ws';

/** A frame as the client parsed it; v2 deliveries may carry `scope` and `offset`. */
export interface Received {
  event: string;
  data: any;
  scope?: true | string;
  offset?: number;
  /** With receipts on: the message's id, to confirm with `wshub:confirm`. */
  id?: string;
}

export interface Closed {
  code: number;
  reason: string;
}

export interface TestSocketOptions {
  /** Offered in `Sec-WebSocket-Protocol` (`['wshub']` for protocol v2). */
  protocols?: string[];
  headers?: Record<string, string>;
}

/**
 * The real `ws` client the wshub packages' own tests share: frames queue up
 * as they arrive and `next()` takes them in order; `waitForClose()` resolves
 * with the close; `request()` sends a v2 request and waits for the hub's
 * answer to it. (Apps test with `@wshub/testing`'s `TestClient`; this one
 * stays close to the wire, for tests of the protocol itself.)
 */
export class TestSocket {
  readonly ws: WebSocket;
  /** Every frame received, in order, taken or not. */
  readonly messages: Received[] = [];
  /** Resolves once open; rejects when the upgrade is refused or the socket closes first. */
  readonly opened: Promise<void>;
  /** Resolves with the HTTP status when the server refused the upgrade. */
  readonly refused: Promise<number>;
  /** How the socket closed, once it did. */
  closed: Closed | undefined;
  /** The HTTP status of a refused upgrade, once known. */
  unexpectedResponse: number | undefined;
  private readonly closedPromise: Promise<Closed>;
  private readonly waiting: Array<(message: Received) => void> = [];
  private cursor = 0;
  private nextId = 0;

  constructor(url: string, options: TestSocketOptions = {}) {
    this.ws = new WebSocket(url, options.protocols, { headers: options.headers });
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_request, response) => {
        this.unexpectedResponse = response.statusCode;
        reject(new Error(`unexpected response ${response.statusCode}`));
      });
      this.ws.once('close', () => reject(new Error(`${url} closed before it opened`)));
    });
    this.opened.catch(() => {});
    this.refused = new Promise((resolve) => {
      this.ws.once('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        this.ws.terminate();
      });
    });
    this.closedPromise = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        resolve(this.closed);
      });
    });
    this.ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Received;
      this.messages.push(message);
      const waiter = this.waiting.shift();
      if (waiter) {
        this.cursor++;
        waiter(message);
      }
    });
  }

  /** Sends a raw frame (a string as is, anything else as JSON). */
  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  /** Sends `{ event, data }`. */
  emit(event: string, data?: unknown): void {
    this.send(data === undefined ? { event } : { event, data });
  }

  watch(event: string, payload?: string | number | null): void {
    this.emit('watch', payload === undefined ? { event } : { event, payload });
  }

  unwatch(event: string, payload?: string | number | null): void {
    this.emit('unwatch', payload === undefined ? { event } : { event, payload });
  }

  /**
   * Protocol v2: sends `{ event, id, data }` and resolves with the `data` of
   * the hub's `wshub:ack` for that id. Frames that arrive before it stay
   * queued for `next()`.
   */
  async request(event: string, data: unknown, timeout = 5000): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    const before = this.messages.length;
    this.send({ event, id, data });
    const deadline = Date.now() + timeout;
    for (;;) {
      const index = this.messages.findIndex(
        (m, i) => i >= before && m.event === 'wshub:ack' && (m.data as { id?: unknown } | null)?.id === id,
      );
      if (index >= 0) {
        const [ack] = this.messages.splice(index, 1);
        if (index < this.cursor) this.cursor--;
        return ack!.data as Record<string, unknown>;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer to ${event} #${id} within ${timeout} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.ws.once('message', () => {
          clearTimeout(timer);
          // Let the queueing listener run first.
          setImmediate(resolve);
        });
      });
    }
  }

  /** The next frame not yet taken, waiting up to `timeout` ms. */
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

  /** Frames not yet taken by `next()`. */
  get unread(): Received[] {
    return this.messages.slice(this.cursor);
  }

  waitForClose(): Promise<Closed> {
    return this.closedPromise;
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}
