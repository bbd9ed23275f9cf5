import { WebSocket } from 'ws';

export interface Received {
  event: string;
  data: any;
}

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A real `ws` client with a message queue: `next()` takes messages in order,
 * `closed` resolves with the close code and reason.
 */
export class TestClient {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<Closed>;
  /** HTTP status when the upgrade was refused. */
  readonly refused: Promise<number>;
  private readonly messages: Received[] = [];
  private readonly waiting: Array<(message: Received) => void> = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => reject(new Error(`${url} closed before it opened`)));
    });
    this.opened.catch(() => {});
    this.refused = new Promise((resolve) => {
      this.ws.once('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        this.ws.terminate();
      });
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Received;
      const waiter = this.waiting.shift();
      if (waiter) waiter(message);
      else this.messages.push(message);
    });
  }

  send(event: string, data?: unknown): void {
    this.ws.send(JSON.stringify(data === undefined ? { event } : { event, data }));
  }

  watch(event: string, payload?: string | number | null): void {
    this.send('watch', payload === undefined ? { event } : { event, payload });
  }

  unwatch(event: string, payload?: string | number | null): void {
    this.send('unwatch', payload === undefined ? { event } : { event, payload });
  }

  /** The next message, waiting up to `timeoutMs`. */
  next(timeoutMs = 5000): Promise<Received> {
    const queued = this.messages.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const done = (message: Received) => {
        clearTimeout(timer);
        resolve(message);
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(done), 1);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.push(done);
    });
  }

  /** Messages received and not taken by `next()`. */
  get unread(): readonly Received[] {
    return this.messages;
  }

  close(): void {
    this.ws.close();
  }
}
