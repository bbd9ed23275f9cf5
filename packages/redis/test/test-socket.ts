import { WebSocket } from 'ws';

export interface Received {
  event: string;
  data: unknown;
}

/** A queue-based client: `next()` takes messages in order, `closed` resolves with the close. */
export class TestSocket {
  readonly ws: WebSocket;
  readonly messages: Received[] = [];
  private readonly waiting: Array<(m: Received) => void> = [];
  private cursor = 0;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => reject(new Error('closed before open')));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
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
    this.ws.send(JSON.stringify(value));
  }

  watch(event: string, payload?: string | number | null): void {
    this.send({ event: 'watch', data: payload === undefined ? { event } : { event, payload } });
  }

  /** The next message not yet taken, waiting up to `timeout` ms. */
  next(timeout = 5000): Promise<Received> {
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

  /** Messages not yet taken by `next()`. */
  get unread(): Received[] {
    return this.messages.slice(this.cursor);
  }
}
